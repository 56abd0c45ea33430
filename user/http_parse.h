/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x message heads and chunked bodies, for the connection tracker.
 *
 * picohttpparser style: stateless (except the chunked decoder, whose state the
 * caller owns), never allocates, returns pointers into the caller's buffer.
 * Head parsers return the bytes the head took (through the blank line), -1 if
 * the bytes cannot be HTTP/1.x, or -2 if they are a valid prefix and more are
 * needed. Only the facts that label a request or frame a message are
 * extracted, as the bytes say them: the method and the request-target are
 * slices of buf, not judged (labels.c and route.c make labels of them);
 * other headers are validated and skipped.
 */
#ifndef WT_HTTP_PARSE_H
#define WT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Connection header: what the peer asked for. */
enum http_conn {
	HTTP_CONN_DEFAULT = 0, /* absent: the version's default */
	HTTP_CONN_CLOSE = 1,
	HTTP_CONN_KEEPALIVE = 2,
};

struct http_request {
	const char *method; /* the method token, into buf; NULL when none was read */
	size_t method_len;
	const char *target; /* the request-target as sent (query included), into buf */
	size_t target_len;  /* 0: none was read */
	int target_cut;     /* buf ended inside the target (http_recover_request) */
	int minor_version;      /* HTTP/1.<minor>; 9 for HTTP/0.9 */
	int64_t content_length; /* -1 when absent or unknown */
	int chunked;            /* Transfer-Encoding ends in chunked */
	int expect_continue;    /* Expect: 100-continue */
	/*
	 * 0 when the body's length cannot be told from the head (Content-Length
	 * values that disagree or do not parse, a transfer coding other than
	 * chunked, HTTP/0.9 or a version other than 1.x): the head is still a
	 * request, but where the next one starts is for the responses to say.
	 */
	int framing_known;
	enum http_conn conn;
	/*
	 * The traceparent field's value (blanks around it trimmed), into buf;
	 * NULL when there is none; the last one when there are several. Also
	 * set when the parse returns -2: from the header lines wholly in buf.
	 */
	const char *traceparent;
	size_t traceparent_len;
	unsigned traceparent_n; /* traceparent fields seen (counted up to 255) */
};

struct http_response {
	int status;
	int minor_version;
	int64_t content_length; /* -1 when absent */
	int chunked;
	enum http_conn conn;
};

/*
 * Largest Content-Length or chunk size accepted: far above any real body,
 * far below overflow when the tracker adds lengths up.
 */
#define HTTP_MAX_LENGTH (1ULL << 56)

/* A decimal length (Content-Length, uwsgi CONTENT_LENGTH): 0, or -1 if not digits or too big. */
int http_parse_length(const char *v, size_t n, int64_t *out);
/* A Transfer-Encoding value (uwsgi HTTP_TRANSFER_ENCODING) whose last coding is chunked. */
int http_te_chunked(const char *v, size_t n);
/* An Expect value (uwsgi HTTP_EXPECT) of 100-continue, in any case. */
int http_expect_continue(const char *v, size_t n);

int http_parse_request(const char *buf, size_t len, struct http_request *req);
int http_parse_response(const char *buf, size_t len, struct http_response *resp);

/*
 * Only the request line (method, target, version) of a head whose rest was not
 * captured: returns the line's length, -1 or -2. The framing fields of *req
 * are set to "unknown" (content_length -1, chunked 0).
 */
int http_parse_request_line(const char *buf, size_t len, struct http_request *req);
/*
 * What can be read of bytes that are no parseable head (garbage, a head cut
 * by the capture, a line no parser takes): the first word as the method when
 * it is a token, or any word before an origin-form target; the second word
 * as the target. Returns 1 when a method word ended in buf (the target may
 * still be missing), else 0 with neither. target_cut is set when buf ended
 * inside the target.
 */
int http_recover_request(const char *buf, size_t len, struct http_request *req);
/*
 * A PROXY protocol header (v1 line or v2 binary) at the start of buf: its
 * length, 0 if there is none, -2 if buf may be the start of one, -1 if it is
 * a broken one.
 */
int http_proxy_header_len(const char *buf, size_t len);
/* Only the status line of a response head. */
int http_parse_status_line(const char *buf, size_t len, struct http_response *resp);

/*
 * Chunked body decoder. It keeps its state between calls, so the body may be
 * fed in any pieces, and it can be told that bytes went by uncaptured.
 */
struct http_chunked {
	uint64_t remaining; /* data bytes left in the current chunk */
	uint8_t state;
	uint8_t digits;
};

void http_chunked_init(struct http_chunked *c);
/*
 * Feed body bytes. Returns the bytes consumed when the body ended in buf (the
 * last CRLF of the trailer included; what follows belongs to the next
 * message), -2 when all of buf was consumed and the body goes on, -1 on a
 * framing error.
 */
ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len);
/*
 * n body bytes passed that were not captured. Chunk data and the CRLF after it
 * can be skipped blind, since their length is known. Returns 0, or -1 when the
 * gap reaches a chunk-size line or the trailer: framing is lost.
 */
int http_chunked_skip(struct http_chunked *c, uint64_t n);
int http_chunked_done(const struct http_chunked *c);

#endif /* WT_HTTP_PARSE_H */
