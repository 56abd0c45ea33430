// SPDX-License-Identifier: MIT
/* promtext: the pieces of the text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "promtext.h"
#include "strbuf.h"

static void test_double(void **state)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{0.005, "0.005"}, {0.0001, "0.0001"}, {0.00025, "0.00025"}, {1, "1"},       {2.5, "2.5"},
		{30, "30"},       {0, "0"},           {1e-9, "1e-09"},     {0.1 + 0.2, "0.30000000000000004"},
		{1e20, "1e+20"},  {-3, "-3"},         {1.0 / 3, "0.3333333333333333"},
	};
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sb_reset(&sb);
		promtext_double(&sb, cases[i].v);
		assert_string_equal(sb.buf, cases[i].s);
		assert_true(strtod(sb.buf, NULL) == cases[i].v);
	}
	sb_reset(&sb);
	promtext_double(&sb, 1.0 / 0.0);
	promtext_double(&sb, -1.0 / 0.0);
	assert_string_equal(sb.buf, "+Inf-Inf");
	sb_free(&sb);
}

static void test_label_escape(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	promtext_label_value(&sb, "plain /path");
	assert_string_equal(sb.buf, "plain /path");
	sb_reset(&sb);
	promtext_label_value(&sb, "a\\b\"c\nd\te");
	assert_string_equal(sb.buf, "a\\\\b\\\"c\\nd\te");
	sb_reset(&sb);
	promtext_label_value(&sb, "caf\xc3\xa9 \xff\xc3");
	assert_string_equal(sb.buf, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
	sb_reset(&sb);
	promtext_label_value(&sb, NULL);
	assert_string_equal(sb.buf, "");
	sb_free(&sb);
}

/* A family, and samples with and without labels, as the format spells them. */
static void test_lines(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	promtext_family(&sb, "x_total", "counter", "Things \"counted\".");
	promtext_sample(&sb, "x_total", 18446744073709551615ull);
	sb_puts(&sb, "y{");
	promtext_label(&sb, "a", "q\"\n");
	sb_putc(&sb, ',');
	promtext_label_n(&sb, "b", "bcd", 1);
	sb_putc(&sb, ',');
	promtext_label(&sb, "c", NULL);
	promtext_sample_end(&sb, 0);
	assert_string_equal(sb.buf, "# HELP x_total Things \"counted\".\n"
				    "# TYPE x_total counter\n"
				    "x_total 18446744073709551615\n"
				    "y{a=\"q\\\"\\n\",b=\"b\",c=\"\"} 0\n");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests_name("promtext", tests, NULL, NULL);
}
