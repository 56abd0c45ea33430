/* SPDX-License-Identifier: MIT */
/*
 * One completed request, as the connection tracker (conntrack.c) hands it to
 * the aggregation (agg.c) and to --trace output. Shared by several modules,
 * owned by none.
 */
#ifndef WT_REQUEST_H
#define WT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "traceparent.h"

enum wt_proto {
	WT_PROTO_HTTP = 0,  /* HTTP/1.x request on the connection */
	WT_PROTO_UWSGI = 1, /* uwsgi binary packet (nginx uwsgi_pass, uWSGI router) */
};

/* wt_request.flags */
#define WT_RQ_CLOSE_DELIMITED 0x01 /* response body ended by the close */
#define WT_RQ_FRAMING_LOST 0x02    /* framing bytes were not captured: end is the last write */
#define WT_RQ_PATH_TRUNCATED 0x04  /* path longer than WT_PATH_MAX */
#define WT_RQ_TARGET_TRUNCATED 0x08 /* the capture ended inside the path: route "_truncated" */
#define WT_RQ_NO_REQUEST 0x10      /* a response whose request was missed: placeholder labels */
#define WT_RQ_UNPARSED 0x20        /* the request head did not parse: labels are what was recovered */
#define WT_RQ_CUT 0x40             /* the connection ended inside the response body: end is the last write */

#define WT_PATH_MAX 1024

struct wt_request {
	uint64_t start_ns; /* first bytes of the request read by the worker */
	uint64_t end_ns;   /* last byte of the response written (or the close) */
	uint64_t queue_ns; /* listen backlog wait: handshake to first read (0: not measured) */
	uint64_t req_bytes;
	uint64_t resp_bytes;
	uint64_t sk; /* connection id, for --trace */
	uint32_t tgid;
	uint32_t tid; /* thread that read the request */
	int status;   /* final status code (1xx interim responses skipped) */
	enum wt_proto proto;
	uint32_t flags;       /* WT_RQ_* */
	const char *method;   /* normalized (label_method): "GET" ... or "_OTHER"; static storage */
	const char *path;     /* the request-target as sent, cut by route_path_len() (labels.c */
	size_t path_len;      /* makes the route); valid during the callback only, not NUL terminated */
	uint8_t trace_state;  /* enum wt_trace_state: what its head said of its traceparent */
	struct wt_trace trace; /* its ids when WT_TRACE_OK */
};

typedef void (*wt_request_cb)(const struct wt_request *rq, void *ctx);

#endif /* WT_REQUEST_H */
