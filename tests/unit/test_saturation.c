// SPDX-License-Identifier: MIT
/* saturation: workers, busy workers and requests in flight per service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "saturation.h"

static void test_prefork(void **state)
{
	struct saturation *s = sat_new();
	const struct sat_row *r;

	/* gunicorn: a master and three workers; uWSGI alone in its own process */
	sat_process(s, 100, "shop", true);
	sat_process(s, 101, "shop", false);
	sat_process(s, 102, "shop", false);
	sat_process(s, 103, "shop", false);
	sat_process(s, 200, "solo", true);
	sat_request(s, 101);
	sat_request(s, 101); /* a threaded worker: two in flight, one busy worker */
	sat_request(s, 103);
	sat_request(s, 200);
	sat_request(s, 999); /* a process gone since: nobody's */
	assert_int_equal(sat_rows(s, &r), 2);
	assert_string_equal(r[0].service, "shop");
	assert_int_equal(r[0].workers, 3);
	assert_int_equal(r[0].busy, 2);
	assert_int_equal(r[0].active, 3);
	assert_string_equal(r[1].service, "solo");
	assert_int_equal(r[1].workers, 1);
	assert_int_equal(r[1].busy, 1);
	assert_int_equal(r[1].active, 1);

	/* A new tally starts from nothing. */
	sat_reset(s);
	sat_process(s, 101, "shop", false);
	assert_int_equal(sat_rows(s, &r), 1);
	assert_int_equal(r[0].workers, 1);
	assert_int_equal(r[0].busy, 0);
	assert_int_equal(r[0].active, 0);
	sat_reset(s);
	assert_int_equal(sat_rows(s, &r), 0);
	sat_free(s);
}

static void test_many(void **state)
{
	struct saturation *s = sat_new();
	const struct sat_row *r;

	for (uint32_t pid = 1; pid <= 5000; pid++)
		sat_process(s, pid, pid % 2 ? "odd" : "even", pid <= 2);
	for (uint32_t pid = 1; pid <= 5000; pid += 10)
		sat_request(s, pid);
	assert_int_equal(sat_rows(s, &r), 2);
	assert_string_equal(r[0].service, "even");
	assert_int_equal(r[0].workers, 2499);
	assert_string_equal(r[1].service, "odd");
	assert_int_equal(r[1].workers, 2499);
	assert_int_equal(r[1].busy, 499); /* pid 1, a master, had one */
	assert_int_equal(r[1].active, 500);
	sat_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefork),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests_name("saturation", tests, NULL, NULL);
}
