/* SPDX-License-Identifier: MIT */
/*
 * A uwsgi packet as a front server sends it (header: modifier1 0, 16-bit
 * little-endian size, modifier2 0; then each var as 16-bit LE length and
 * bytes), built from NULL-terminated key, value pairs. Shared by the parser
 * and connection-tracking tests so both feed the same wire format.
 */
#ifndef WT_TEST_UWSGI_PKT_H
#define WT_TEST_UWSGI_PKT_H

#include <stddef.h>
#include <string.h>

static inline size_t uwsgi_pkt(char *out, const char *const *kv)
{
	size_t n = 4, i;

	for (i = 0; kv[i]; i += 2) {
		size_t kl = strlen(kv[i]), vl = strlen(kv[i + 1]);

		out[n] = (char)(kl & 0xff);
		out[n + 1] = (char)(kl >> 8);
		memcpy(out + n + 2, kv[i], kl);
		n += 2 + kl;
		out[n] = (char)(vl & 0xff);
		out[n + 1] = (char)(vl >> 8);
		memcpy(out + n + 2, kv[i + 1], vl);
		n += 2 + vl;
	}
	out[0] = 0;
	out[1] = (char)((n - 4) & 0xff);
	out[2] = (char)((n - 4) >> 8);
	out[3] = 0;
	return n;
}

#endif
