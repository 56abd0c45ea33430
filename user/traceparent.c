// SPDX-License-Identifier: MIT
#include "traceparent.h"

#include <string.h>

/* Lower-case hex only: upper case is invalid (two spellings of one id). */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from 2n hex digits at p; -1 if one is not a digit or all are zero. */
static int hex_bytes(const char *p, uint8_t *out, size_t n)
{
	uint8_t any = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	return any ? 0 : -1;
}

/* "vv-" 32 "-" 16 "-" "ff": the layout of version 00. */
#define TP_LEN (2 + 1 + TRACE_ID_HEX + 1 + SPAN_ID_HEX + 1 + 2)

int traceparent_parse(const char *v, size_t n, struct wt_trace *t)
{
	struct wt_trace r;
	int ver;

	if (n < TP_LEN || v[2] != '-' || v[3 + TRACE_ID_HEX] != '-' || v[4 + TRACE_ID_HEX + SPAN_ID_HEX] != '-')
		return -1;
	/* The version and the flags are hex too; their values do not matter here. */
	if (hexval(v[0]) < 0 || hexval(v[1]) < 0 || hexval(v[TP_LEN - 2]) < 0 || hexval(v[TP_LEN - 1]) < 0)
		return -1;
	ver = hexval(v[0]) << 4 | hexval(v[1]);
	if (ver == 0xff)
		return -1;
	/* Version 00 is exactly its four fields; a later one may go on after a '-'. */
	if (n > TP_LEN && (ver == 0 || v[TP_LEN] != '-'))
		return -1;
	if (hex_bytes(v + 3, r.trace_id, sizeof(r.trace_id)) ||
	    hex_bytes(v + 4 + TRACE_ID_HEX, r.span_id, sizeof(r.span_id)))
		return -1;
	*t = r;
	return 0;
}

void traceparent_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}
