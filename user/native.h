/* SPDX-License-Identifier: MIT */
/*
 * A Prometheus native (sparse, exponential) histogram of one series: the
 * counts of buckets whose bounds are powers of base = 2^(2^-schema), bucket
 * i holding base^(i-1) < v <= base^i, plus a zero bucket for
 * v <= zero_threshold. Its buckets are kept as one dense window of counts
 * from the lowest to the highest bucket seen, grown as observations land
 * outside it. A window that would pass max_buckets halves the resolution
 * (schema - 1, pairs of buckets merged), as Prometheus' own clients do, so a
 * series never holds more than max_buckets counts (8 bytes each).
 *
 * Error: a value is known to lie within its bucket, whose upper bound is
 * base times its lower bound; an estimate inside the bucket (Prometheus
 * interpolates within it) is off by at most base - 1 relative to the true
 * value: 9.05% at schema 3, 4.43% at schema 4, 2.19% at schema 5. The
 * bucket's midpoint would be off by at most (base - 1) / (base + 1).
 *
 * A leaf: knows nothing of series, labels or formats.
 */
#ifndef WT_NATIVE_H
#define WT_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define NATIVE_SCHEMA_MIN (-4)
#define NATIVE_SCHEMA_MAX 8
#define NATIVE_DEFAULT_SCHEMA 3
/* 1 ns: the observations are whole nanoseconds, so only 0 lands in it. */
#define NATIVE_DEFAULT_ZERO_THRESHOLD 1e-9
/* 1 us .. 100 s at schema 3 is 213 buckets: reduced once to schema 2. */
#define NATIVE_DEFAULT_MAX_BUCKETS 160
#define NATIVE_MAX_BUCKETS_LIMIT 4096

struct native_opts {
	int schema;            /* NATIVE_SCHEMA_MIN..NATIVE_SCHEMA_MAX */
	double zero_threshold; /* >= 0 */
	unsigned max_buckets;  /* 2..NATIVE_MAX_BUCKETS_LIMIT; 0 means native buckets off */
};

extern const struct native_opts native_default_opts;

struct native_hist {
	uint64_t *counts; /* counts[k] is bucket first + k */
	int32_t first;
	uint32_t len;
	int8_t schema;    /* starts at the option's; only goes down */
	uint8_t started;
	uint64_t zero_count;
};

/* 0, or -1 with err set when o is out of range. */
int native_validate(const struct native_opts *o, char *err, size_t errlen);

/* The bucket index of v > 0 at schema. */
int32_t native_bucket(double v, int schema);
/* Upper bound of bucket i at schema: base^i. */
double native_upper(int32_t i, int schema);

/*
 * Counts v (seconds, >= 0). 0, or -1 if the window could not grow (out of
 * memory): the observation is then not in the native buckets (counted by
 * the caller); the classic buckets still have it.
 */
int native_observe(struct native_hist *h, const struct native_opts *o, double v);
void native_free(struct native_hist *h);

/* Bytes a series' native buckets use beyond struct native_hist. */
size_t native_bytes(const struct native_hist *h);

#endif /* WT_NATIVE_H */
