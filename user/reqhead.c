// SPDX-License-Identifier: MIT
#include "reqhead.h"

#include <linux/types.h>
#include <string.h>

#include "http_parse.h"
#include "labels.h"
#include "looks_like.h"
#include "uwsgi_parse.h"
#include "wsgitrace.h"

/*
 * uwsgi packets start with modifier1 (0 for WSGI, nginx may set others) and
 * never with a method's letters, a line end or the PROXY v2 signature. TLS
 * records (content types 20-23) are garbage to an HTTP port, not packets.
 * The modifier1 values a WSGI server answers (wt_wsgi_modifier1()) are
 * packets whatever their modifier2; other bytes only with the modifier2
 * of 0 that nearly every client sends. Only a
 * connection's first head is judged so: a uWSGI server answers one packet
 * per connection, and bytes after an HTTP request (HTTP/2 frames behind
 * the "PRI *" preface start with a zero length byte) are HTTP garbage.
 */
enum wt_proto reqhead_proto(const char *buf, size_t n)
{
	unsigned char b = (unsigned char)buf[0];

	if (wt_is_tchar(b) || b == '\r' || b == '\n' || (b >= 20 && b <= 23))
		return WT_PROTO_HTTP;
	return wt_wsgi_modifier1(b) || n < 4 || buf[3] == 0 ? WT_PROTO_UWSGI : WT_PROTO_HTTP;
}

/*
 * What a request keeps of the method and target its parser read, until its
 * response: label_method()'s method and the target cut before its query
 * (route_path_len()). Here, and nowhere else, are they made so.
 */
static void facts_labels(struct reqhead *h, const char *method, size_t method_len,
			 const char *target, size_t target_len)
{
	h->method = method ? label_method(method, method_len) : NULL;
	h->path_len = target ? route_path_len(target, target_len) : 0;
	h->path = h->path_len ? target : NULL;
}

/*
 * A path of which only the first avail bytes are at hand (the rest was not
 * captured, or not read) has a route nobody can know: _truncated. Unless a
 * ';' among them starts the parameters, which the route drops anyway.
 */
static void path_cut_at(struct reqhead *h, size_t avail)
{
	if (h->path_len < avail || (avail && memchr(h->path, ';', avail)))
		return;
	h->flags |= WT_RQ_TARGET_TRUNCATED;
}

/*
 * A uwsgi packet's labels come from the vars in its first WT_CAP bytes, the
 * bytes one read captures, however the reads fell: a path that ends past
 * them, or none found in them when the packet goes on, is _truncated (HTTP
 * heads follow the same rule, facts_cap_path()).
 */
static void uwsgi_labels(const char *buf, size_t n, struct reqhead *h)
{
	struct uwsgi_request ur;
	size_t cap = n < WT_CAP ? n : WT_CAP;
	int r = uwsgi_parse_request(buf, cap, &ur);

	facts_labels(h, ur.method, ur.method_len, ur.path, ur.path_len);
	if ((ur.path_cut && h->path_len == ur.path_len) ||
	    (r == -2 && !h->path_len && cap >= UWSGI_HDR_LEN &&
	     UWSGI_HDR_LEN + (size_t)ur.datasize > cap)) {
		h->path = NULL;
		h->path_len = 0;
		h->flags |= WT_RQ_TARGET_TRUNCATED;
	}
}

/*
 * The traceparent a head carried: n fields seen, the last one's value v.
 * More than one is no valid trace (the spec's test suite): the request has
 * two parents, or a proxy added one to the client's.
 */
static void facts_trace(struct reqhead *h, const char *v, size_t vlen, unsigned n)
{
	if (n == 0)
		h->trace_state = WT_TRACE_NONE;
	else if (n == 1 && traceparent_parse(v, vlen, &h->trace) == 0)
		h->trace_state = WT_TRACE_OK;
	else
		h->trace_state = WT_TRACE_MALFORMED;
}

static void facts_framing(struct reqhead *h, int64_t content_length, int chunked,
			  int framing_known)
{
	h->content_length = content_length;
	h->chunked = chunked;
	h->framing_known = framing_known;
}

/*
 * A path that ends at or past the bytes one read captures (WT_CAP from the
 * head's start) is labelled _truncated even when a slow client's small
 * reads let the whole of it be gathered: the route must not depend on how
 * the bytes arrived.
 */
static void facts_cap_path(struct reqhead *h, const char *buf)
{
	size_t off;

	if (!h->path_len)
		return;
	off = (size_t)(h->path - buf);
	path_cut_at(h, off < WT_CAP ? WT_CAP - off : 0);
}

/*
 * Parse the head in buf: the bytes it took (from buf), -1 or -2, with what
 * it told in *h. A PROXY protocol header before an HTTP request is part of
 * its head, and gives it placeholder labels: a server that does not speak
 * the PROXY protocol reads that header as its request line and answers it,
 * often before the request behind it has arrived; only the framing of the
 * request behind it is worth knowing.
 */
int reqhead_parse(const char *buf, size_t n, bool after_http, struct reqhead *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->proto = after_http ? WT_PROTO_HTTP : reqhead_proto(buf, n);
	h->content_length = -1;
	if (h->proto == WT_PROTO_HTTP) {
		struct http_request hr;
		int pl = http_proxy_header_len(buf, n);

		if (pl < 0)
			return pl;
		if ((size_t)pl >= n)
			return -2;
		r = http_parse_request(buf + pl, n - (size_t)pl, &hr);
		if (r < 0)
			return r;
		facts_framing(h, hr.content_length, hr.chunked, hr.framing_known);
		if (pl == 0) {
			facts_labels(h, hr.method, hr.method_len, hr.target, hr.target_len);
			facts_trace(h, hr.traceparent, hr.traceparent_len, hr.traceparent_n);
		}
		facts_cap_path(h, buf);
		return r + pl;
	} else {
		struct uwsgi_request ur;

		r = uwsgi_parse_request(buf, n, &ur);
		if (r < 0)
			return r;
		facts_framing(h, ur.content_length, ur.chunked, ur.framing_known);
		facts_trace(h, ur.traceparent, ur.traceparent_len, ur.traceparent_n);
		uwsgi_labels(buf, n, h);
		return r;
	}
}
/* Labels from a head that did not parse or was not all captured. */
void reqhead_recover(const char *buf, size_t n, bool after_http, struct reqhead *h)
{
	memset(h, 0, sizeof(*h));
	h->proto = n && !after_http ? reqhead_proto(buf, n) : WT_PROTO_HTTP;
	h->content_length = -1;
	if (n == 0)
		return;
	if (h->proto == WT_PROTO_HTTP) {
		struct http_request hr;

		/* Placeholders behind a PROXY header, as reqhead_parse() gives them. */
		if (http_proxy_header_len(buf, n) > 0)
			return;
		if (http_recover_request(buf, n, &hr)) {
			facts_labels(h, hr.method, hr.method_len, hr.target, hr.target_len);
			/* The bytes read ended inside the target. */
			if (hr.target_cut)
				path_cut_at(h, hr.target_len);
			facts_cap_path(h, buf);
		}
		/* A head cut short: its whole header lines still tell the trace. */
		if (http_parse_request(buf, n, &hr) == -2)
			facts_trace(h, hr.traceparent, hr.traceparent_len, hr.traceparent_n);
	} else {
		struct uwsgi_request ur;

		uwsgi_labels(buf, n, h);
		if (uwsgi_parse_request(buf, n, &ur) == -2)
			facts_trace(h, ur.traceparent, ur.traceparent_len, ur.traceparent_n);
	}
}

/*
 * A whole request line of HTTP/1.0 or 1.1 (its line end included) in buf,
 * with a method as wt_looks_like_request() wants it: body bytes that run
 * into a request line ("xGET / HTTP/1.1") are no request start.
 */
int reqhead_is_request_line(const char *buf, size_t n)
{
	struct http_request hr;

	return wt_looks_like_request((const __u8 *)buf, (__u32)n) &&
	       http_parse_request_line(buf, n, &hr) == (int)n && hr.framing_known &&
	       hr.minor_version <= 1;
}
