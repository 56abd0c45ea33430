/* SPDX-License-Identifier: MIT */
/*
 * --trace output: one completed request as one line of JSON, e.g.
 * {"pid":812,"tid":812,"service":"app","proto":"http","method":"GET",
 *  "route":"/users/{id}","path":"/users/42","status":200,"duration_seconds":0.001234567,
 *  "start_ns":..,"end_ns":..,"req_bytes":78,"resp_bytes":1532,
 *  "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",
 *  "conn":"ffff8f0b2c4d1200","flags":[]}
 * Keys are always present and in this order. start_ns/end_ns are
 * CLOCK_MONOTONIC. "method" and "route" are the metric's labels (labels.c);
 * "path" is the raw request-target up to its query; strings are escaped per RFC 8259 with control
 * characters as \u00XX and bytes that are not UTF-8 as \ufffd, so every line
 * is valid JSON. "conn" is the connection id in hex (a string: it does not fit
 * a JSON parser's doubles). "trace_id"/"span_id" are the ids of the
 * request's valid W3C traceparent (those its exemplar carries), null without
 * one. "flags" lists "close_delimited", "framing_lost", "path_truncated",
 * "target_truncated", "no_request", "unparsed" when set.
 */
#ifndef WT_TRACE_JSON_H
#define WT_TRACE_JSON_H

#include "request.h"
#include "strbuf.h"

/* Appends the line, '\n' included. NULL service is rendered as null.
 * fold_ids as for the route label. 0, or -1 if the buffer could not grow. */
int trace_json_format(struct strbuf *sb, const struct wt_request *rq, const char *service, int fold_ids);

/* Appends s[0..n) as a JSON string, quotes included. */
void trace_json_string(struct strbuf *sb, const char *s, size_t n);

#endif /* WT_TRACE_JSON_H */
