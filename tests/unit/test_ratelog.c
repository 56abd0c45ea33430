// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelog.h"

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/* A burst per window, the rest counted and reported when the next opens. */
static void test_burst_then_summary(void **state)
{
	struct ratelog rl;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int i;

	assert_non_null(f);
	ratelog_init(&rl);
	rl.out = f;
	for (i = 0; i < 100; i++)
		ratelog_printf(&rl, 1000 + (uint64_t)i, "http: ", "reset by peer %d", i);
	fflush(f);
	assert_int_equal(count(buf, "wsgitrace: http: reset by peer"), RATELOG_BURST);
	assert_non_null(strstr(buf, "reset by peer 4\n"));
	assert_null(strstr(buf, "suppressed"));
	assert_int_equal(rl.suppressed_total, 100 - RATELOG_BURST);

	/* Next window: the summary first, then lines again. */
	ratelog_printf(&rl, 1000 + RATELOG_WINDOW_MS, "http: ", "bad request\n");
	fflush(f);
	assert_non_null(strstr(buf, "wsgitrace: 95 similar messages suppressed in the last 60 s\n"
				    "wsgitrace: http: bad request\n"));
	assert_int_equal(count(buf, "\n\n"), 0);
	/* Nothing suppressed since: flushing says nothing. */
	ratelog_flush(&rl, 2000 + RATELOG_WINDOW_MS);
	fflush(f);
	assert_int_equal(count(buf, "suppressed"), 1);
	fclose(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_summary),
	};

	return cmocka_run_group_tests_name("ratelog", tests, NULL, NULL);
}
