/* SPDX-License-Identifier: MIT */
/*
 * The W3C Trace Context traceparent value (www.w3.org/TR/trace-context/):
 *   version "-" trace-id "-" parent-id "-" trace-flags
 * 2, 32, 16 and 2 lower-case hex digits. Version ff is invalid; a later
 * version than 00 is read by the layout of 00 and may carry more fields
 * after a "-"; version 00 has none. An all-zero trace-id or parent-id is
 * invalid. A request carrying more than one traceparent has none that is
 * valid (the spec's test suite). A leaf: knows nothing of heads or metrics.
 */
#ifndef WT_TRACEPARENT_H
#define WT_TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_HEX 32
#define SPAN_ID_HEX 16

/* The ids of a valid traceparent, as bytes (the hex decoded). */
struct wt_trace {
	uint8_t trace_id[TRACE_ID_HEX / 2];
	uint8_t span_id[SPAN_ID_HEX / 2]; /* the parent-id: the caller's span */
};

/* What a request head said of its trace. */
enum wt_trace_state {
	WT_TRACE_NONE = 0,  /* no traceparent */
	WT_TRACE_OK,        /* one, valid: the ids are known */
	WT_TRACE_MALFORMED, /* one or more that are not a valid traceparent */
	WT_TRACE_UNSEEN,    /* none in the bytes captured of a head that went on past them */
};

/* v[0..n), the header's value with its surrounding blanks removed: 0 and *t set, or -1. */
int traceparent_parse(const char *v, size_t n, struct wt_trace *t);

/* Lower-case hex of n bytes into out (2n characters and a NUL). */
void traceparent_hex(const uint8_t *b, size_t n, char *out);

#endif /* WT_TRACEPARENT_H */
