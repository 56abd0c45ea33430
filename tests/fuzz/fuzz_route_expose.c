// SPDX-License-Identifier: MIT
/*
 * Untrusted strings on their way to the exposition: paths from the traced
 * traffic (route labels, --trace JSON) and the user's flags (--buckets,
 * --listen). Whatever the input, labels come out escaped and valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agg.h"
#include "httpd.h"
#include "promtext.h"
#include "route.h"
#include "strbuf.h"
#include "trace_json.h"

static void check_utf8_no_ctl(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);

		if (!k)
			abort();
		if (k == 1 && (unsigned char)s[i] < 0x20)
			abort();
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char route[ROUTE_MAX], err[256], *str;
	double b[AGG_MAX_BUCKETS];
	struct sockaddr_storage ss;
	struct strbuf sb = STRBUF_INIT;
	socklen_t sl;
	size_t n, nb;

	for (int fold = 0; fold < 2; fold++) {
		n = route_normalize((const char *)data, size, route, sizeof(route), fold);
		if (n >= sizeof(route) || route[n] != 0)
			abort();
		check_utf8_no_ctl(route, n);
	}
	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = 0;
	if (agg_parse_buckets(str, b, AGG_MAX_BUCKETS, &nb, err, sizeof(err)) == 0) {
		if (agg_validate_buckets(b, nb, err, sizeof(err)) != 0)
			abort();
	}
	httpd_parse_listen(str, &ss, &sl, err, sizeof(err));
	promtext_label_value(&sb, str);
	/* An escaped label value never holds a raw newline or an unescaped quote. */
	for (size_t i = 0; i < sb.len; i++) {
		if (sb.buf[i] == '\n')
			abort();
		if (sb.buf[i] == '\\')
			i++;
		else if (sb.buf[i] == '"')
			abort();
	}
	sb_reset(&sb);
	trace_json_string(&sb, (const char *)data, size);
	sb_free(&sb);
	free(str);
	return 0;
}
