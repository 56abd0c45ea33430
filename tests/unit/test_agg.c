// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"

static void test_parse_ok(void **state)
{
	double b[AGG_MAX_BUCKETS];
	char err[256];
	size_t n = 0;

	assert_int_equal(agg_parse_buckets("0.001,0.01,0.1", b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(err, ""); /* no note */
	assert_true(b[0] == 0.001 && b[1] == 0.01 && b[2] == 0.1);
	assert_int_equal(agg_parse_buckets(" 0.5 , 1,\t2.5 ", b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_true(b[2] == 2.5);
	assert_int_equal(agg_parse_buckets("1e-3,10,+Inf", b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_true(b[0] == 0.001);
	assert_string_equal(err, "the last value \"+Inf\" is left out: +Inf is always the last bucket");
	/* Spelled as C or Go print it: the same, and said. */
	assert_int_equal(agg_parse_buckets("0.1, inf", b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(err, "the last value \"inf\" is left out: +Inf is always the last bucket");
	assert_int_equal(agg_parse_buckets("5", b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
}

static void parse_err(const char *spec, const char *want)
{
	double b[AGG_MAX_BUCKETS];
	char err[256] = "";
	size_t n = 99;

	assert_int_equal(agg_parse_buckets(spec, b, AGG_MAX_BUCKETS, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 99);
	if (!strstr(err, want))
		fail_msg("spec \"%s\": error \"%s\" does not contain \"%s\"", spec, err, want);
}

static void test_parse_errors(void **state)
{
	char many[1024] = "";
	int i;

	parse_err("", "empty bucket specification");
	parse_err("   ", "empty bucket specification");
	parse_err("0.1,,1", "empty value at position 2");
	parse_err("0.1,1,", "empty value at position 3");
	parse_err("0.1,abc", "bucket bound 2 (\"abc\") is not a number");
	parse_err("0.1,1s", "(\"1s\") is not a number");
	parse_err("0.1,0.05", "bound 2 (0.05) is not greater than bound 1 (0.1)");
	parse_err("0.1,0.1", "strictly increasing");
	parse_err("-1,1", "out of range");
	parse_err("0,1", "out of range");
	parse_err("nan", "not a finite number");
	parse_err("0.1,nan", "bucket bound 2 is not a finite number");
	parse_err("0.1,inf,1", "bucket bound 2 is not a finite number (+Inf is always added, leave it out)");
	parse_err("+Inf", "not a finite number");
	parse_err("1,+Inf,2", "not a finite number");
	parse_err("1e-12", "out of range");
	parse_err("1e-400", "too small");
	parse_err("1e300", "out of range");
	parse_err("0.0000000011,0.0000000012", "less than 1 ns apart");
	for (i = 1; i <= AGG_MAX_BUCKETS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d", i > 1 ? "," : "", i);
	parse_err(many, "too many bucket bounds");
	{
		double b[4];
		char err[128];
		size_t n;

		assert_int_equal(agg_parse_buckets("1,2,3,4,5", b, 4, &n, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "at most 4"));
	}
}

static void test_defaults(void **state)
{
	char err[256];
	struct agg *a = agg_new(NULL, 0, 10, err, sizeof(err));
	const double *b;
	size_t n;

	assert_non_null(a);
	b = agg_bounds(a, &n);
	assert_int_equal(n, agg_default_nbuckets);
	assert_true(b[0] <= 0.0001);        /* resolves sub-millisecond */
	assert_true(b[n - 1] >= 10);        /* and multi-second */
	assert_int_equal(agg_validate_buckets(agg_default_buckets, agg_default_nbuckets, err, sizeof(err)), 0);
	agg_free(a);
	assert_null(agg_new((double[]){1, 0.5}, 2, 10, err, sizeof(err)));
	assert_non_null(strstr(err, "strictly increasing"));
	assert_null(agg_new(NULL, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "at least 1"));
}

static struct agg_series *find(struct agg *a, const char *route, int status)
{
	struct agg_series *const *l;
	size_t n = agg_list(a, &l), i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i]->route, route) == 0 && l[i]->status == status)
			return l[i];
	return NULL;
}

static void test_buckets_le(void **state)
{
	char err[128];
	struct agg *a = agg_new((double[]){0.001, 0.01, 0.1}, 3, 10, err, sizeof(err));
	struct agg_series *s;

	assert_non_null(a);
	agg_observe(a, "app", "GET", "/", 200, 0);          /* <= 1 ms */
	agg_observe(a, "app", "GET", "/", 200, 1000000);    /* exactly 1 ms: le="0.001" */
	agg_observe(a, "app", "GET", "/", 200, 1000001);    /* just above */
	agg_observe(a, "app", "GET", "/", 200, 100000000);  /* exactly 0.1 */
	agg_observe(a, "app", "GET", "/", 200, 5000000000); /* 5 s: +Inf */
	s = find(a, "/", 200);
	assert_non_null(s);
	assert_int_equal(s->buckets[0], 2);
	assert_int_equal(s->buckets[1], 1);
	assert_int_equal(s->buckets[2], 1);
	assert_int_equal(s->buckets[3], 1);
	assert_int_equal(s->count, 5);
	assert_true(agg_series_sum(s) == 5.102000001);
	assert_int_equal(agg_series_active(a), 1);
	assert_int_equal(agg_series_dropped(a), 0);
	agg_free(a);
}

static void test_keys_and_order(void **state)
{
	char err[128];
	struct agg *a = agg_new(NULL, 0, 100, err, sizeof(err));
	struct agg_series *const *l;
	size_t n;

	agg_observe(a, "web", "POST", "/b", 201, 10);
	agg_observe(a, "api", "GET", "/b", 200, 10);
	agg_observe(a, "api", "GET", "/a", 500, 10);
	agg_observe(a, "api", "GET", "/a", 200, 10);
	agg_observe(a, "api", "DELETE", "/a", 200, 10);
	agg_observe(a, "api", "GET", "/a", 200, 10);
	agg_observe(a, NULL, NULL, NULL, 404, 10);
	n = agg_list(a, &l);
	assert_int_equal(n, 6);
	assert_int_equal(agg_series_active(a), 6);
	assert_string_equal(l[0]->service, "");
	assert_string_equal(l[0]->method, "_OTHER");
	assert_string_equal(l[0]->route, "/");
	assert_string_equal(l[1]->method, "DELETE");
	assert_string_equal(l[2]->method, "GET");
	assert_int_equal(l[2]->status, 200);
	assert_int_equal(l[2]->count, 2);
	assert_int_equal(l[3]->status, 500);
	assert_string_equal(l[4]->route, "/b");
	assert_string_equal(l[5]->service, "web");
	agg_free(a);
}

static void test_overflow(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new((double[]){1}, 1, 3, err, sizeof(err));
	struct agg_series *const *l;
	size_t n;
	int i;

	agg_set_service_limit(a, 3);
	for (i = 0; i < 3; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		assert_int_equal(agg_observe(a, "app", "GET", route, 200, 1000), 0);
	}
	assert_int_equal(agg_series_active(a), 3);
	/* New series beyond the limit: into _overflow, counted. */
	assert_int_equal(agg_observe(a, "app", "GET", "/r3", 200, 2000000000), 1);
	assert_int_equal(agg_observe(a, "other", "PUT", "/r4", 503, 1000), 1);
	/* Existing series still get their own observations. */
	assert_int_equal(agg_observe(a, "app", "GET", "/r1", 200, 1000), 0);
	assert_int_equal(agg_series_dropped(a), 2);
	assert_int_equal(agg_series_active(a), 4);
	n = agg_list(a, &l);
	assert_int_equal(n, 4);
	assert_string_equal(l[3]->route, AGG_OVERFLOW_ROUTE);
	assert_string_equal(l[3]->service, AGG_OVERFLOW_SERVICE);
	assert_string_equal(l[3]->method, "_OTHER");
	assert_int_equal(l[3]->status, 0);
	assert_int_equal(l[3]->count, 2);
	assert_int_equal(l[3]->buckets[0], 1);
	assert_int_equal(l[3]->buckets[1], 1);
	assert_int_equal(l[1]->count, 2);
	agg_free(a);
}

static struct agg_series *find_svc(struct agg *a, const char *svc, const char *method, const char *route, int status)
{
	struct agg_series *const *l;
	size_t n = agg_list(a, &l), i;

	for (i = 0; i < n; i++)
		if (!strcmp(l[i]->service, svc) && !strcmp(l[i]->method, method) && !strcmp(l[i]->route, route) &&
		    l[i]->status == status)
			return l[i];
	return NULL;
}

/*
 * A service past its own limit keeps method and status in its overflow
 * series, and another service still gets series of its own.
 */
static void test_service_limit(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new((double[]){1}, 1, 100, err, sizeof(err));
	int i;

	agg_set_service_limit(a, 10);
	for (i = 0; i < 1000; i++) {
		snprintf(route, sizeof(route), "/scan/%d", i);
		agg_observe(a, "bombed", i % 2 ? "GET" : "HEAD", route, 404, 1000);
	}
	agg_observe(a, "bombed", "POST", "/login", 500, 1000);
	assert_int_equal(find_svc(a, "bombed", "GET", AGG_OVERFLOW_ROUTE, 404)->count, 495);
	assert_int_equal(find_svc(a, "bombed", "HEAD", AGG_OVERFLOW_ROUTE, 404)->count, 495);
	assert_int_equal(find_svc(a, "bombed", "POST", AGG_OVERFLOW_ROUTE, 500)->count, 1);
	assert_int_equal(agg_series_dropped(a), 991);
	assert_int_equal(agg_series_active(a), 13); /* 10 routes, 3 overflow series */
	/* The other service gets its own 10, new statuses of a route included. */
	for (i = 0; i < 5; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		assert_int_equal(agg_observe(a, "other", "GET", route, 200, 1000), 0);
		assert_int_equal(agg_observe(a, "other", "GET", route, 503, 1000), 0);
	}
	assert_int_equal(agg_observe(a, "other", "GET", "/r0", 200, 1000), 0);
	assert_int_equal(agg_observe(a, "other", "GET", "/r9", 200, 1000), 1);
	assert_int_equal(find_svc(a, "other", "GET", "/r0", 200)->count, 2);
	assert_int_equal(find_svc(a, "other", "GET", AGG_OVERFLOW_ROUTE, 200)->count, 1);
	agg_free(a);
}

/*
 * Series not observed for ttl are retired and their service's room comes
 * back; not while a reader holds the agg; the last overflow series stays.
 */
static void test_retire(void **state)
{
	char err[128];
	struct agg *a = agg_new((double[]){1}, 1, 3, err, sizeof(err));
	const uint64_t s = 1000000000ull;

	agg_set_service_limit(a, 2);
	agg_retire(a, 10 * s, 0);
	agg_observe(a, "app", "GET", "/old", 200, 1);
	agg_retire(a, 20 * s, 0);
	agg_observe(a, "app", "GET", "/new", 200, 1);
	assert_int_equal(agg_observe(a, "app", "GET", "/third", 200, 1), 1); /* service full: its overflow */
	assert_int_equal(agg_observe(a, "web", "GET", "/x", 200, 1), 1);     /* all full: the last series */
	assert_int_equal(agg_series_active(a), 4);

	agg_hold(a);
	assert_int_equal(agg_retire(a, 25 * s, 10 * s), 0);
	agg_release(a);
	/* /old is 15 s old, the others 5 s. */
	assert_int_equal(agg_retire(a, 25 * s, 10 * s), 1);
	assert_int_equal(agg_series_retired(a), 1);
	assert_null(find_svc(a, "app", "GET", "/old", 200));
	assert_int_equal(agg_observe(a, "app", "GET", "/third", 200, 1), 0);
	assert_int_equal(agg_retire(a, 100 * s, 10 * s), 3);
	assert_int_equal(agg_series_active(a), 1);
	assert_int_equal(agg_observe(a, "app", "GET", "/old", 200, 1), 0);
	assert_int_equal(find_svc(a, "app", "GET", "/old", 200)->count, 1);
	agg_free(a);
}

/* Lowering --max-series alone lowers the per-service limit with it. */
static void test_service_share(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new((double[]){1}, 1, 200, err, sizeof(err));
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(route, sizeof(route), "/scan/%d", i);
		agg_observe(a, "bombed", "GET", route, 404, 1000);
	}
	/* 200 / AGG_SERVICE_SHARE of its own and one overflow series. */
	assert_int_equal(agg_series_active(a), 200 / AGG_SERVICE_SHARE + 1);
	for (i = 0; i < 200 / AGG_SERVICE_SHARE; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		assert_int_equal(agg_observe(a, "other", "GET", route, 200, 1000), 0);
	}
	agg_set_service_limit(a, 150);
	assert_int_equal(agg_observe(a, "other", "GET", "/more", 200, 1000), 0);
	agg_free(a);
	/* Never 0, and an explicit limit above the pool stands. */
	a = agg_new((double[]){1}, 1, 3, err, sizeof(err));
	assert_int_equal(agg_observe(a, "x", "GET", "/a", 200, 1), 0);
	assert_int_equal(agg_observe(a, "x", "GET", "/b", 200, 1), 1);
	agg_free(a);
}

/*
 * After a scan fills a service's limit, a route met twice takes the place of
 * the oldest series observed once, once a listing has served it; a route
 * observed twice is never replaced; the scan's own paths stay in overflow.
 */
static void test_room_after_scan(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new((double[]){1}, 1, 100, err, sizeof(err));
	struct agg_series *const *l;
	int i;

	agg_set_service_limit(a, 10);
	agg_observe(a, "app", "GET", "/home", 200, 1);
	agg_observe(a, "app", "GET", "/home", 200, 1);
	for (i = 0; i < 100; i++) {
		snprintf(route, sizeof(route), "/scan/%d", i);
		agg_observe(a, "app", "GET", route, 404, 1);
	}
	/* A route met again before any listing: nothing has been served yet. */
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 1);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 1);
	agg_list(a, &l);
	/* Met again while a reader holds the agg: nothing is freed under it. */
	agg_hold(a);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 1);
	agg_release(a);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 0);
	assert_int_equal(agg_series_retired(a), 1);
	assert_null(find_svc(a, "app", "GET", "/scan/0", 404)); /* the oldest seen once */
	assert_non_null(find_svc(a, "app", "GET", "/scan/1", 404));
	assert_int_equal(find_svc(a, "app", "GET", "/home", 200)->count, 2);
	assert_int_equal(find_svc(a, "app", "GET", "/new", 200)->count, 1);
	assert_int_equal(find_svc(a, "app", "GET", AGG_OVERFLOW_ROUTE, 200)->count, 3);
	/* A scan path asked once more than the ring holds keys does not churn. */
	for (i = 100; i < 1000; i++) {
		snprintf(route, sizeof(route), "/scan/%d", i);
		assert_int_equal(agg_observe(a, "app", "GET", route, 404, 1), 1);
	}
	assert_int_equal(agg_series_retired(a), 1);
	/* Every series observed twice stays: /home and /new (now twice) survive
	 * room being made for eight more routes. */
	agg_observe(a, "app", "GET", "/new", 200, 1);
	agg_list(a, &l);
	for (i = 0; i < 8; i++) {
		snprintf(route, sizeof(route), "/real/%d", i);
		agg_observe(a, "app", "GET", route, 200, 1);
		assert_int_equal(agg_observe(a, "app", "GET", route, 200, 1), 0);
	}
	assert_int_equal(agg_series_retired(a), 9);
	/* No series observed once is left that a listing served: overflow. */
	agg_observe(a, "app", "GET", "/late", 200, 1);
	assert_int_equal(agg_observe(a, "app", "GET", "/late", 200, 1), 1);
	assert_non_null(find_svc(a, "app", "GET", "/home", 200));
	assert_non_null(find_svc(a, "app", "GET", "/new", 200));
	/* Retiring by TTL keeps the once-observed list whole. */
	agg_retire(a, 1000000000000ull, 1);
	assert_int_equal(agg_series_active(a), 0);
	assert_int_equal(agg_observe(a, "app", "GET", "/again", 200, 1), 0);
	agg_free(a);
}

/*
 * With no series observed once left, the least recently observed route
 * makes room, only after AGG_IDLE_REPLACE_NS without observations.
 */
static void test_room_lru(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new((double[]){1}, 1, 100, err, sizeof(err));
	struct agg_series *const *l;
	const uint64_t t0 = 1000000000ull;
	int i;

	agg_set_service_limit(a, 4);
	agg_retire(a, t0, 0);
	for (i = 0; i < 4; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		agg_observe(a, "app", "GET", route, 200, 1);
		agg_observe(a, "app", "GET", route, 200, 1);
	}
	agg_retire(a, t0 + 60 * 1000000000ull, 0);
	agg_observe(a, "app", "GET", "/r0", 200, 1); /* /r1 is now the least recently observed */
	agg_list(a, &l);
	agg_retire(a, t0 + AGG_IDLE_REPLACE_NS - 1, 0);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 1);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 1);
	agg_retire(a, t0 + AGG_IDLE_REPLACE_NS, 0);
	assert_int_equal(agg_observe(a, "app", "GET", "/new", 200, 1), 0);
	assert_int_equal(agg_series_retired(a), 1);
	assert_null(find_svc(a, "app", "GET", "/r1", 200));
	assert_int_equal(find_svc(a, "app", "GET", "/r0", 200)->count, 3);
	assert_int_equal(find_svc(a, "app", "GET", "/new", 200)->count, 1);
	agg_free(a);
}

static void test_request(void **state)
{
	char err[128];
	struct agg *a = agg_new(NULL, 0, 100, err, sizeof(err));
	struct wt_request rq = {.start_ns = 1000, .end_ns = 2000, .status = 200, .method = "GET",
				.path = "/users/42", .path_len = 9};
	struct agg_series *s;

	agg_observe_request(a, "app", &rq, 1);
	rq.path = "/users/43";
	rq.path_len = 9;
	agg_observe_request(a, "app", &rq, 1);
	rq.start_ns = 5000; /* clock went backwards: 0, not 2^64 */
	agg_observe_request(a, "app", &rq, 1);
	s = find(a, "/users/{id}", 200);
	assert_non_null(s);
	assert_int_equal(s->count, 3);
	assert_int_equal(s->sum_ns, 2000);
	rq.path = NULL;
	rq.path_len = 0;
	agg_observe_request(a, "app", &rq, 0);
	assert_non_null(find(a, "_unknown", 200)); /* labels.c's placeholder */
	agg_free(a);
}

static void test_many_series_and_sum(void **state)
{
	char err[128], route[32];
	struct agg *a = agg_new(NULL, 0, 20000, err, sizeof(err));
	struct agg_series *s;
	int i, r;

	agg_set_service_limit(a, 20000);
	for (r = 0; r < 3; r++)
		for (i = 0; i < 15000; i++) {
			snprintf(route, sizeof(route), "/r/%d", i);
			agg_observe(a, "app", "GET", route, 200, 1000);
		}
	assert_int_equal(agg_series_active(a), 15000);
	s = find(a, "/r/14999", 200);
	assert_non_null(s);
	assert_int_equal(s->count, 3);
	/* The exact ns sum survives wrapping past 2^64 ns. */
	agg_observe(a, "app", "GET", "/big", 200, UINT64_MAX - 10);
	agg_observe(a, "app", "GET", "/big", 200, 1000000000);
	s = find(a, "/big", 200);
	assert_true(agg_series_sum(s) > 1.8e10 && agg_series_sum(s) < 1.9e10);
	assert_int_equal(s->buckets[agg_default_nbuckets], 1);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),      cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_defaults),      cmocka_unit_test(test_buckets_le),
		cmocka_unit_test(test_keys_and_order), cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_request),       cmocka_unit_test(test_many_series_and_sum),
		cmocka_unit_test(test_service_limit),
		cmocka_unit_test(test_service_share),
		cmocka_unit_test(test_room_after_scan),
		cmocka_unit_test(test_room_lru), cmocka_unit_test(test_retire),
	};

	return cmocka_run_group_tests_name("agg", tests, NULL, NULL);
}
