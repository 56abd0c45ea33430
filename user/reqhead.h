/* SPDX-License-Identifier: MIT */
/*
 * Request heads for the connection tracker: what a head (HTTP/1.x, with an
 * optional PROXY protocol header, or a uwsgi packet) tells about its request,
 * its labels and how its body is framed, from bytes that parse or, when they
 * do not, from what can be recovered of them. Stateless: the tracker owns
 * the bytes and where the head starts.
 */
#ifndef WT_REQHEAD_H
#define WT_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "traceparent.h"

/* What a request head told about itself: its labels and how its body is framed. */
struct reqhead {
	enum wt_proto proto;
	const char *method; /* label_method()'s; NULL: none was read */
	const char *path;   /* the target up to its query (route_path_len()), into buf; */
	size_t path_len;    /* NULL and 0: none */
	uint32_t flags; /* WT_RQ_* */
	int64_t content_length;
	int chunked;
	int framing_known;
	/* Its traceparent (enum wt_trace_state), from the header lines at hand;
	 * trace holds the ids when WT_TRACE_OK. */
	uint8_t trace_state;
	struct wt_trace trace;
};

/* Which protocol a head starting with buf[0..n) (n >= 1) speaks. */
enum wt_proto reqhead_proto(const char *buf, size_t n);
/*
 * Parse the head in buf: the bytes it took, -1 (not a head) or -2 (more
 * bytes needed). after_http: the connection already carried an HTTP
 * request, so this head is HTTP however its bytes begin.
 */
int reqhead_parse(const char *buf, size_t n, bool after_http, struct reqhead *h);
/* Labels from a head that did not parse or was not all captured; framing unknown. */
void reqhead_recover(const char *buf, size_t n, bool after_http, struct reqhead *h);
/* Is buf[0..n) one whole HTTP/1.0 or 1.1 request line, its line end included? */
int reqhead_is_request_line(const char *buf, size_t n);

#endif /* WT_REQHEAD_H */
