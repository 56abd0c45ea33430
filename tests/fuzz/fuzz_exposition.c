// SPDX-License-Identifier: MIT
/*
 * The exposition formats under libFuzzer: the scraper's Accept header (from
 * the network), the text-to-protobuf and text-to-OpenMetrics rewriting (our
 * own text, but any bytes must be safe), and native buckets fed any
 * durations: the window stays within its bound and loses no observation.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt.h"
#include "native.h"
#include "promproto.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *str = malloc(size + 1);
	struct strbuf sb = STRBUF_INIT;
	struct native_opts o = { .schema = 8, .zero_threshold = 1e-6, .max_buckets = 16 };
	struct native_hist h = {};
	uint64_t n = 0, t;
	size_t i;
	uint32_t k;

	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = 0;
	if ((unsigned)expfmt_negotiate(str) > EXPFMT_PROTOBUF)
		abort();
	expfmt_openmetrics(&sb, (const char *)data, size);
	sb_reset(&sb);
	promproto_from_text(&sb, (const char *)data, size);
	sb_free(&sb);
	for (i = 0; i + 8 <= size; i += 8) {
		double v;

		memcpy(&v, data + i, 8);
		v = fabs(v);
		if (!isfinite(v) || v > 1e6)
			continue;
		if (native_observe(&h, &o, v) == 0)
			n++;
		if (h.len > o.max_buckets && h.schema > NATIVE_SCHEMA_MIN)
			abort();
	}
	for (t = h.zero_count, k = 0; k < h.len; k++)
		t += h.counts[k];
	if (t != n)
		abort();
	native_free(&h);
	free(str);
	return 0;
}
