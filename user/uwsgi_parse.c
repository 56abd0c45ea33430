// SPDX-License-Identifier: MIT
/*
 * uwsgi request packets. Every size in a packet is checked twice: against
 * datasize (a pair that overruns its packet is a lie: error) and against the
 * bytes at hand (a pair that overruns them is incomplete: -2). Nothing is read
 * before both checks pass.
 */
#include <string.h>

#include "http_parse.h"
#include "uwsgi_parse.h"

static uint16_t le16(const char *p)
{
	return (uint16_t)((unsigned char)p[0] | (unsigned char)p[1] << 8);
}

static int key_is(const char *k, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

/*
 * REQUEST_URI, else PATH_INFO, whichever order they come in; the last of
 * repeated ones, as uWSGI takes them. Only got of the value's vn bytes are
 * at hand when the packet was cut inside it. An empty value names no path
 * and replaces none (a front end's `uwsgi_param REQUEST_URI ""` after the
 * real one).
 */
static void set_path(struct uwsgi_request *r, const char *k, size_t kn, const char *v, size_t vn,
		     size_t got, int *have_uri)
{
	int uri = key_is(k, kn, "REQUEST_URI");

	if (vn == 0 || got == 0 || (!uri && *have_uri))
		return;
	r->path = v;
	r->path_len = got;
	r->path_cut = got < vn;
	if (uri)
		*have_uri = 1;
}

static void set_var(struct uwsgi_request *r, const char *k, size_t kn, const char *v, size_t vn,
		   int *have_uri)
{
	if (key_is(k, kn, "REQUEST_METHOD")) {
		r->method = v;
		r->method_len = vn;
	} else if (key_is(k, kn, "REQUEST_URI") || key_is(k, kn, "PATH_INFO")) {
		set_path(r, k, kn, v, vn, vn, have_uri);
	} else if (key_is(k, kn, "CONTENT_LENGTH")) {
		/* nginx's uwsgi_params send an empty CONTENT_LENGTH for a GET. */
		/* A length nobody can read: the responses delimit the requests. */
		if (vn > 0 && http_parse_length(v, vn, &r->content_length) != 0) {
			r->content_length = -1;
			r->framing_known = 0;
		}
	} else if (key_is(k, kn, "HTTP_EXPECT")) {
		r->expect_continue = http_expect_continue(v, vn);
	} else if (key_is(k, kn, "HTTP_TRANSFER_ENCODING")) {
		r->chunked = http_te_chunked(v, vn);
	} else if (key_is(k, kn, "HTTP_TRACEPARENT")) {
		r->traceparent = v;
		r->traceparent_len = vn;
		if (r->traceparent_n < 255)
			r->traceparent_n++;
	}
}

int uwsgi_parse_request(const char *buf, size_t len, struct uwsgi_request *r)
{
	size_t end, avail, p;
	int have_uri = 0;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->framing_known = 1;
	if (len < UWSGI_HDR_LEN)
		return -2;
	r->modifier1 = (uint8_t)buf[0];
	r->datasize = le16(buf + 1);
	r->modifier2 = (uint8_t)buf[3];
	/*
	 * uWSGI hands a packet with any modifier2 to the plugin of its
	 * modifier1 (nginx's uwsgi_modifier2 sets it); the Python plugin runs
	 * them all as requests. An empty packet it closes on.
	 */
	if (r->datasize == 0)
		return -1;
	end = UWSGI_HDR_LEN + (size_t)r->datasize;
	avail = len < end ? len : end;
	p = UWSGI_HDR_LEN;
	while (p < end) {
		size_t kn, vn, k, v;

		if (end - p < 2)
			return -1;
		if (avail - p < 2)
			return -2;
		kn = le16(buf + p);
		p += 2;
		if (kn > end - p)
			return -1;
		if (kn > avail - p)
			return -2;
		k = p;
		p += kn;
		if (end - p < 2)
			return -1;
		if (avail - p < 2)
			return -2;
		vn = le16(buf + p);
		p += 2;
		if (vn > end - p)
			return -1;
		if (vn > avail - p) {
			if (key_is(buf + k, kn, "REQUEST_URI") || key_is(buf + k, kn, "PATH_INFO"))
				set_path(r, buf + k, kn, buf + p, vn, avail - p, &have_uri);
			return -2;
		}
		v = p;
		p += vn;
		set_var(r, buf + k, kn, buf + v, vn, &have_uri);
	}
	/* Chunked framing only when no length was given (nginx dechunks). */
	if (r->content_length >= 0)
		r->chunked = 0;
	return (int)end;
}
