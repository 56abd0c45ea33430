// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proctab.h"
#include "svckey.h"

static void test_set_get_del_grow(void **state)
{
	struct proctab *t = proctab_new();
	char name[32];

	assert_non_null(t);
	assert_null(proctab_get(t, 1));
	for (uint32_t pid = 1; pid <= 5000; pid++) {
		snprintf(name, sizeof(name), "svc%u", pid);
		assert_int_equal(proctab_set(t, pid, name), 0);
	}
	assert_int_equal(proctab_count(t), 5000);
	assert_string_equal(proctab_get(t, 4321), "svc4321");
	proctab_set(t, 4321, "renamed");
	assert_string_equal(proctab_get(t, 4321), "renamed");
	assert_int_equal(proctab_count(t), 5000);
	for (uint32_t pid = 1; pid <= 5000; pid += 2)
		proctab_del(t, pid);
	assert_int_equal(proctab_count(t), 2500);
	assert_null(proctab_get(t, 4321));
	assert_string_equal(proctab_get(t, 4322), "svc4322");
	proctab_del(t, 999999); /* unknown: no effect */
	assert_int_equal(proctab_count(t), 2500);
	proctab_free(t);
}

static void test_long_name_truncated(void **state)
{
	struct proctab *t = proctab_new();
	char longname[SVCKEY_MAX + 100];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	proctab_set(t, 7, longname);
	/* A service key (name and pod labels) is kept up to its own limit. */
	assert_int_equal(strlen(proctab_get(t, 7)), SVCKEY_MAX - 1);
	proctab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_del_grow),
		cmocka_unit_test(test_long_name_truncated),
	};

	return cmocka_run_group_tests_name("proctab", tests, NULL, NULL);
}
