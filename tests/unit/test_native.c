// SPDX-License-Identifier: MIT
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "native.h"
#include "promproto.h"

static void test_bucket_bounds(void **state)
{
	int schema;

	for (schema = NATIVE_SCHEMA_MIN; schema <= NATIVE_SCHEMA_MAX; schema++) {
		int32_t i;

		assert_int_equal(native_bucket(1.0, schema), 0);
		/* Each bucket's upper bound is in it, the next double above it in the next. */
		for (i = -40; i <= 40; i++) {
			double u = native_upper(i, schema);

			if (u == 0 || isinf(u))
				continue;
			assert_int_equal(native_bucket(u, schema), i);
			assert_int_equal(native_bucket(nextafter(u, INFINITY), schema), i + 1);
		}
	}
	assert_int_equal(native_bucket(1.5, 0), 1);
	assert_int_equal(native_bucket(2.0, 3), 8);
	assert_int_equal(native_bucket(0.001, 3), -79); /* 2^(-80/8) = 0.000977 < 0.001 <= 2^(-79/8) */
}

static uint64_t total(const struct native_hist *h)
{
	uint64_t t = h->zero_count;
	uint32_t k;

	for (k = 0; k < h->len; k++)
		t += h->counts[k];
	return t;
}

static void test_bounded_window(void **state)
{
	struct native_opts o = { .schema = 8, .zero_threshold = 1e-9, .max_buckets = 20 };
	struct native_hist h = {};
	double v;
	uint64_t n = 0;

	for (v = 1e-6; v < 100; v *= 1.01, n++)
		assert_int_equal(native_observe(&h, &o, v), 0);
	assert_int_equal(native_observe(&h, &o, 0), 0);
	n++;
	assert_true(h.len <= 20);
	assert_true(h.schema < 8);
	assert_int_equal(total(&h), n);
	assert_int_equal(h.zero_count, 1);
	/* After the reductions, every value still lies in its bucket at the final schema. */
	{
		struct native_hist g = {};
		struct native_opts og = o;

		og.schema = h.schema;
		og.max_buckets = NATIVE_MAX_BUCKETS_LIMIT;
		for (v = 1e-6; v < 100; v *= 1.01)
			native_observe(&g, &og, v);
		native_observe(&g, &og, 0);
		assert_int_equal(g.first, h.first);
		assert_int_equal(g.len, h.len);
		for (uint32_t k = 0; k < h.len; k++)
			assert_int_equal(g.counts[k], h.counts[k]);
		native_free(&g);
	}
	native_free(&h);
}

static void test_validate(void **state)
{
	char err[128];
	struct native_opts o = native_default_opts;

	assert_int_equal(native_validate(&o, err, sizeof(err)), 0);
	o.schema = 9;
	assert_int_equal(native_validate(&o, err, sizeof(err)), -1);
	o = native_default_opts;
	o.zero_threshold = -1;
	assert_int_equal(native_validate(&o, err, sizeof(err)), -1);
	o = native_default_opts;
	o.max_buckets = 1;
	assert_int_equal(native_validate(&o, err, sizeof(err)), -1);
}

/* Spans and deltas as Prometheus reads them: gaps of more than two empty buckets start a span. */
static void test_spans(void **state)
{
	struct native_opts o = { .schema = 3, .zero_threshold = 1e-9, .max_buckets = 160 };
	struct native_hist h = {};
	struct promproto_native *sc = malloc(sizeof(*sc));
	pp_histogram hist = IO__PROMETHEUS__CLIENT__HISTOGRAM__INIT;

	assert_non_null(sc);
	native_observe(&h, &o, 1.0);                  /* bucket 0 */
	native_observe(&h, &o, native_upper(2, 3));   /* bucket 2: a gap of one, same span */
	native_observe(&h, &o, native_upper(2, 3));
	native_observe(&h, &o, 2.0);                  /* bucket 8: a gap of five, a new span */
	native_observe(&h, &o, 0);                    /* zero bucket */
	promproto_native(&hist, &h, o.zero_threshold, sc);
	assert_int_equal(hist.schema, 3);
	assert_int_equal(hist.zero_count, 1);
	assert_int_equal(hist.n_positive_span, 2);
	assert_int_equal(hist.positive_span[0]->offset, 0);
	assert_int_equal(hist.positive_span[0]->length, 3);
	assert_int_equal(hist.positive_span[1]->offset, 5);
	assert_int_equal(hist.positive_span[1]->length, 1);
	assert_int_equal(hist.n_positive_delta, 4);
	assert_int_equal(hist.positive_delta[0], 1);  /* 1 */
	assert_int_equal(hist.positive_delta[1], -1); /* 0 */
	assert_int_equal(hist.positive_delta[2], 2);  /* 2 */
	assert_int_equal(hist.positive_delta[3], -1); /* 1 */
	native_free(&h);
	/* No observation above the zero bucket: one empty span keeps it native. */
	native_observe(&h, &o, 0);
	promproto_native(&hist, &h, o.zero_threshold, sc);
	assert_int_equal(hist.n_positive_span, 1);
	assert_int_equal(hist.positive_span[0]->length, 0);
	assert_int_equal(hist.n_positive_delta, 0);
	native_free(&h);
	free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_bounded_window),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_spans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
