/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns a completed request into its label values:
 * http_request_method and http_route (the status is the response's own,
 * the service comes from the process). The metrics (agg.c) and --trace
 * (trace_json.c) both take their labels from here.
 *
 * The parsers report what the bytes say; each rule that makes a label of
 * them is applied once. When a head is read (reqhead.c), its method token
 * becomes label_method()'s and its target is cut before the query
 * (route_path_len()): that is what a request keeps until its response.
 * When the request completes, labels_build() gives the placeholders, tells
 * the target forms apart and hands the path to route_normalize().
 *
 * Placeholders, documented in README.md (Metrics):
 *   method  "_OTHER"      anything but the nine standard tokens, exactly spelt
 *   route   "_unknown"    no usable target: garbage, none, relative without
 *                         '/', head not captured, or the request was missed
 *           "_truncated"  the path went on past the bytes captured
 *           "_authority"  authority-form target (CONNECT host:port)
 *           "*"           asterisk-form (OPTIONS *)
 */
#ifndef WT_LABELS_H
#define WT_LABELS_H

#include <stddef.h>

#include "request.h"
#include "route.h"

#define LABEL_METHOD_OTHER "_OTHER"
#define LABEL_ROUTE_UNKNOWN "_unknown"
#define LABEL_ROUTE_TRUNCATED "_truncated"
#define LABEL_ROUTE_AUTHORITY "_authority"

struct wt_labels {
	const char *method; /* static storage */
	char route[ROUTE_MAX + 1];
};

/*
 * A method token (NULL: none) -> one of GET HEAD POST PUT DELETE CONNECT
 * OPTIONS TRACE PATCH, or "_OTHER": a bounded label set. Case-sensitive, as
 * methods are. Static storage, so callers may compare the pointer.
 */
const char *label_method(const char *tok, size_t len);

/*
 * The route for a request-target cut by route_path_len() (see the
 * placeholders above).
 */
size_t label_route(const char *target, size_t len, uint32_t rq_flags, int fold_ids, char *out,
		   size_t outsz);

/* rq->method is label_method()'s already (NULL: "_OTHER"); rq->path is cut. */
void labels_build(const struct wt_request *rq, int fold_ids, struct wt_labels *l);

#endif /* WT_LABELS_H */
