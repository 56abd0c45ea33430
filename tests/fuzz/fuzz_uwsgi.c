// SPDX-License-Identifier: MIT
/* uwsgi_parse under libFuzzer: no over-read, and consistent verdicts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "looks_like.h"
#include "uwsgi_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct uwsgi_request r;
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	n = uwsgi_parse_request(buf, size, &r);
	if (n > 0) {
		if ((size_t)n > size || (size_t)n != 4 + (size_t)r.datasize)
			abort();
		if (r.path_len && (r.path < buf || r.path + r.path_len > buf + size))
			abort();
		if (r.method && (r.method < buf || r.method + r.method_len > buf + size))
			abort();
		if (r.traceparent && (r.traceparent < buf || r.traceparent + r.traceparent_len > buf + size))
			abort();
		/* A whole packet cuts no path. */
		if (r.path_cut)
			abort();
		/* Every prefix of a valid packet is incomplete. */
		if (uwsgi_parse_request(buf, (size_t)n - 1, &r) != -2)
			abort();
	}
	if (n == -2 && r.path_len && (r.path < buf || r.path + r.path_len > buf + size))
		abort();
	if (n == -2 && r.traceparent && (r.traceparent < buf || r.traceparent + r.traceparent_len > buf + size))
		abort();
	(void)wt_looks_like_request((const __u8 *)buf, (__u32)size);
	free(buf);
	return 0;
}
