// SPDX-License-Identifier: MIT
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_bounded_window),
		cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
