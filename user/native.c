// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"
#include "strbuf.h"

const struct native_opts native_default_opts = {
	.schema = NATIVE_DEFAULT_SCHEMA,
	.zero_threshold = NATIVE_DEFAULT_ZERO_THRESHOLD,
	.max_buckets = NATIVE_DEFAULT_MAX_BUCKETS,
};

int native_validate(const struct native_opts *o, char *err, size_t errlen)
{
	if (o->schema < NATIVE_SCHEMA_MIN || o->schema > NATIVE_SCHEMA_MAX) {
		err_printf(err, errlen, "native histogram schema %d out of range %d..%d", o->schema,
			   NATIVE_SCHEMA_MIN, NATIVE_SCHEMA_MAX);
		return -1;
	}
	if (!(o->zero_threshold >= 0) || !isfinite(o->zero_threshold)) {
		err_printf(err, errlen, "native histogram zero threshold must be a finite number >= 0");
		return -1;
	}
	if (o->max_buckets && (o->max_buckets < 2 || o->max_buckets > NATIVE_MAX_BUCKETS_LIMIT)) {
		err_printf(err, errlen, "native histogram bucket limit %u out of range 2..%d (0: off)", o->max_buckets,
			   NATIVE_MAX_BUCKETS_LIMIT);
		return -1;
	}
	return 0;
}

/*
 * As Prometheus' clients compute it: v = frac * 2^exp with frac in
 * [0.5, 1); at schema > 0 the bucket within the power of two is the first
 * of the 2^schema bounds 0.5 * 2^(j / 2^schema) that is >= frac.
 */
/* The 2^schema bounds within a power of two, computed once per schema
 * (the daemon is single-threaded): an observation is a frexp and a
 * binary search, not a pow per step. */
static const double *frac_bounds(int schema)
{
	static double b[NATIVE_SCHEMA_MAX + 1][1 << NATIVE_SCHEMA_MAX];
	static unsigned char done[NATIVE_SCHEMA_MAX + 1];
	int n = 1 << schema, j;

	if (!done[schema]) {
		for (j = 0; j < n; j++)
			b[schema][j] = ldexp(exp2((double)j / n), -1);
		done[schema] = 1;
	}
	return b[schema];
}

int32_t native_bucket(double v, int schema)
{
	int exp;
	double frac = frexp(v, &exp);

	if (schema > 0) {
		const double *b = frac_bounds(schema);
		int n = 1 << schema, lo = 0, hi = n;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			if (b[mid] >= frac)
				hi = mid;
			else
				lo = mid + 1;
		}
		return (int32_t)lo + (int32_t)(exp - 1) * n;
	}
	if (frac == 0.5)
		exp--;
	return (int32_t)((exp + (1 << -schema) - 1) >> -schema);
}

double native_upper(int32_t i, int schema)
{
	return exp2(ldexp((double)i, -schema));
}

/* Index of bucket i at schema - 1: buckets 2k-1 and 2k merge into k. */
static int32_t halve(int32_t i)
{
	return (int32_t)(((int64_t)i + 1) >> 1); /* ceil(i / 2), arithmetic shift */
}

/* schema - 1, in place: the window shrinks to about half. */
static void reduce(struct native_hist *h)
{
	int32_t nfirst = halve(h->first), nlast = halve(h->first + (int32_t)h->len - 1);
	uint32_t k;

	for (k = 0; k < h->len; k++) {
		int32_t j = halve(h->first + (int32_t)k) - nfirst;

		if ((uint32_t)j != k) {
			h->counts[j] += h->counts[k];
			h->counts[k] = 0;
		}
	}
	h->first = nfirst;
	h->len = (uint32_t)(nlast - nfirst + 1);
	h->schema--;
}

int native_observe(struct native_hist *h, const struct native_opts *o, double v)
{
	int32_t i, lo, hi;
	uint32_t nlen;
	uint64_t *nc;

	if (!h->started) {
		h->schema = (int8_t)o->schema;
		h->started = 1;
	}
	if (v <= o->zero_threshold) {
		h->zero_count++;
		return 0;
	}
	for (;;) {
		i = native_bucket(v, h->schema);
		if (h->len && i >= h->first && i < h->first + (int32_t)h->len) {
			h->counts[i - h->first]++;
			return 0;
		}
		lo = h->len && h->first < i ? h->first : i;
		hi = h->len && h->first + (int32_t)h->len - 1 > i ? h->first + (int32_t)h->len - 1 : i;
		if ((int64_t)hi - lo + 1 <= o->max_buckets || h->schema <= NATIVE_SCHEMA_MIN)
			break;
		if (h->len)
			reduce(h);
		else
			h->schema--;
	}
	nlen = (uint32_t)(hi - lo + 1);
	nc = calloc(nlen, sizeof(*nc));
	if (!nc)
		return -1;
	if (h->len)
		memcpy(nc + (h->first - lo), h->counts, h->len * sizeof(*nc));
	free(h->counts);
	h->counts = nc;
	h->first = lo;
	h->len = nlen;
	h->counts[i - lo]++;
	return 0;
}

void native_free(struct native_hist *h)
{
	free(h->counts);
	memset(h, 0, sizeof(*h));
}

size_t native_bytes(const struct native_hist *h)
{
	return h->len * sizeof(*h->counts);
}
