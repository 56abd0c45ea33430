// SPDX-License-Identifier: MIT
#include "reqhead.h"

#include <linux/types.h>
#include <string.h>

#include "http_parse.h"
#include "looks_like.h"
#include "uwsgi_parse.h"
#include "wsgitrace.h"

/*
 * uwsgi packets start with modifier1 (0 for WSGI, nginx may set others) and
 * never with a method's letters, a line end or the PROXY v2 signature. TLS
 * records (content types 20-23) are garbage to an HTTP port, not packets.
 * The modifier1 values a WSGI server answers (0, and 30 for nginx's
 * PATH_INFO fix) are packets whatever their modifier2; other bytes only
 * with the modifier2 of 0 that nearly every client sends. Only a
 * connection's first head is judged so: a uWSGI server answers one packet
 * per connection, and bytes after an HTTP request (HTTP/2 frames behind
 * the "PRI *" preface start with a zero length byte) are HTTP garbage.
 */
enum wt_proto reqhead_proto(const char *buf, size_t n)
{
	unsigned char b = (unsigned char)buf[0];

	if (wt_is_tchar(b) || b == '\r' || b == '\n' || (b >= 20 && b <= 23))
		return WT_PROTO_HTTP;
	return b == 0 || b == 30 || n < 4 || buf[3] == 0 ? WT_PROTO_UWSGI : WT_PROTO_HTTP;
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

	h->method = ur.method;
	h->path = ur.path_len ? ur.path : NULL;
	h->path_len = ur.path_len;
	if (ur.path_cut || (r == -2 && !ur.path_len && cap >= UWSGI_HDR_LEN &&
			    UWSGI_HDR_LEN + (size_t)ur.datasize > cap)) {
		h->path = NULL;
		h->path_len = 0;
		h->flags |= WT_RQ_TARGET_TRUNCATED;
	}
}

static void facts_set(struct reqhead *h, const char *method, const char *path, size_t path_len,
		      int64_t content_length, int chunked, int framing_known)
{
	h->method = method;
	h->path = path;
	h->path_len = path_len;
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
	size_t off = h->path_len ? (size_t)(h->path - buf) : 0;

	if (!h->path_len || off + h->path_len < WT_CAP)
		return;
	/* Parameters start inside the capture: the route drops them anyway (http_recover_request). */
	if (off < WT_CAP && memchr(h->path, ';', WT_CAP - off))
		return;
	h->flags |= WT_RQ_TARGET_TRUNCATED;
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
		if (pl > 0)
			facts_set(h, NULL, NULL, 0, hr.content_length, hr.chunked, hr.framing_known);
		else
			facts_set(h, hr.method, hr.path, hr.path_len, hr.content_length, hr.chunked,
				  hr.framing_known);
		facts_cap_path(h, buf);
		return r + pl;
	} else {
		struct uwsgi_request ur;

		r = uwsgi_parse_request(buf, n, &ur);
		if (r < 0)
			return r;
		facts_set(h, NULL, NULL, 0, ur.content_length, ur.chunked, ur.framing_known);
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
			h->method = hr.method;
			h->path = hr.path;
			h->path_len = hr.path_len;
			if (hr.target_truncated)
				h->flags |= WT_RQ_TARGET_TRUNCATED;
			facts_cap_path(h, buf);
		}
	} else {
		uwsgi_labels(buf, n, h);
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
