// SPDX-License-Identifier: MIT
/*
 * http_parse under libFuzzer: every entry point on the same bytes, plus the
 * invariants a caller relies on (consumed <= len, method, target and
 * traceparent inside the buffer, -2 for every prefix of a head that
 * parses), and what reqhead and traceparent make of a head's slices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include <linux/types.h>

#include "looks_like.h"
#include "reqhead.h"
#include "traceparent.h"

/* A slice the parser returned lies inside buf. */
static int inside(const char *p, size_t n, const char *buf, size_t len)
{
	return !n || (p >= buf && p + n <= buf + len);
}

static void check_req(const char *buf, size_t len)
{
	struct http_request r;
	struct reqhead h;
	struct wt_trace t;
	int n = http_parse_request(buf, len, &r);

	/* The traceparent of whole lines, on -2 too; a valid one is its lower-case hex. */
	if ((n > 0 || n == -2) && r.traceparent_n) {
		char hex[TRACE_ID_HEX + 1];

		if (!inside(r.traceparent, r.traceparent_len, buf, len))
			abort();
		if (traceparent_parse(r.traceparent, r.traceparent_len, &t) == 0) {
			traceparent_hex(t.trace_id, sizeof(t.trace_id), hex);
			if (r.traceparent_len < 55 || memcmp(hex, r.traceparent + 3, TRACE_ID_HEX) != 0)
				abort();
		}
	}
	(void)traceparent_parse(buf, len, &t);
	if (reqhead_parse(buf, len, false, &h) > 0 && h.trace_state == WT_TRACE_UNSEEN)
		abort();
	reqhead_recover(buf, len, false, &h);
	if (n > 0) {
		if ((size_t)n > len || !r.method || !r.method_len || !r.target_len)
			abort();
		if (!inside(r.method, r.method_len, buf, len) ||
		    !inside(r.target, r.target_len, buf, len))
			abort();
		/* A head is complete exactly at its end: one byte less is -2. */
		if (http_parse_request(buf, (size_t)n - 1, &r) != -2)
			abort();
	}
	(void)http_parse_request_line(buf, len, &r);
	(void)wt_looks_like_request((const __u8 *)buf, (__u32)len);
	/* What is recovered points into the buffer, whatever it holds. */
	n = http_recover_request(buf, len, &r);
	if (n != !!r.method || !inside(r.method, r.method_len, buf, len) ||
	    !inside(r.target, r.target_len, buf, len))
		abort();
	n = http_proxy_header_len(buf, len);
	if (n < -2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copy so that ASan sees the exact end of the input. */
	char *buf = malloc(size ? size : 1);
	struct http_response resp;
	struct http_chunked c;
	size_t off = 0, step;
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check_req(buf, size);
	n = http_parse_response(buf, size, &resp);
	if (n > 0 && ((size_t)n > size || resp.status < 100 || resp.status > 999 ||
		      http_parse_response(buf, (size_t)n - 1, &resp) != -2))
		abort();
	(void)http_parse_status_line(buf, size, &resp);

	/* Chunked: the same verdict whole and in pieces. */
	{
		ssize_t whole;

		http_chunked_init(&c);
		whole = http_chunked_feed(&c, buf, size);
		step = size ? (unsigned char)buf[0] % 7 + 1 : 1;
		http_chunked_init(&c);
		for (off = 0; off < size;) {
			size_t k = size - off < step ? size - off : step;
			ssize_t r = http_chunked_feed(&c, buf + off, k);

			if (r == -1) {
				if (whole != -1)
					abort();
				break;
			}
			if (r >= 0) {
				if (whole != (ssize_t)(off + (size_t)r))
					abort();
				break;
			}
			off += k;
			if (off == size && whole != -2)
				abort();
		}
		http_chunked_init(&c);
		(void)http_chunked_feed(&c, buf, size / 2);
		(void)http_chunked_skip(&c, size);
	}
	free(buf);
	return 0;
}
