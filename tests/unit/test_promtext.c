// SPDX-License-Identifier: MIT
/* promtext: the pieces of the text format, and the walk over the modules' tables. */
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

/* Two modules' stats and tables, as a daemon's would be. */
struct one_stats {
	uint64_t a, b, shared;
	uint32_t not_a_counter;
};
struct two_stats {
	uint64_t c, shared;
	const char *label;
};

static void write_labelled(struct strbuf *sb, const char *name, const void *stats)
{
	const struct two_stats *t = stats;

	for (int i = 0; i < 2; i++) {
		sb_puts(sb, name);
		sb_putc(sb, '{');
		promtext_label(sb, "program", i ? t->label : "first");
		promtext_sample_end(sb, t->c + (uint64_t)i);
	}
}

static const struct promtext_metric one_rows[] = {
	PROMTEXT_U64("t_a_total", PROMTEXT_COUNTER, struct one_stats, a, "A."),
	/* Its family is described by the other table: written there, summed. */
	PROMTEXT_ADD("t_shared_total", struct one_stats, shared),
	PROMTEXT_U64("t_b", PROMTEXT_GAUGE, struct one_stats, b, "B."),
};
static const struct promtext_table one_table = PROMTEXT_TABLE(one_rows);

static const struct promtext_metric two_rows[] = {
	PROMTEXT_U64("t_shared_total", PROMTEXT_COUNTER, struct two_stats, shared, "Seen by both."),
	PROMTEXT_WRITE("t_program_runs_total", PROMTEXT_COUNTER, write_labelled, "Per program."),
	PROMTEXT_ADD("t_a_total", struct two_stats, c),
};
static const struct promtext_table two_table = PROMTEXT_TABLE(two_rows);

/*
 * Families in the order of the sources and their rows; rows without help
 * add to the family of their name wherever it is written; a row with its
 * own writer writes labelled samples.
 */
static void test_tables(void **state)
{
	struct one_stats one = { .a = 1, .b = 2, .shared = 30, .not_a_counter = 7 };
	struct two_stats two = { .c = 100, .shared = 400, .label = "sec\"ond" };
	const struct promtext_source src[] = { { &one_table, &one }, { &two_table, &two } };
	struct strbuf sb = STRBUF_INIT;

	promtext_tables(&sb, src, 2);
	assert_string_equal(sb.buf, "# HELP t_a_total A.\n"
				    "# TYPE t_a_total counter\n"
				    "t_a_total 101\n"
				    "# HELP t_b B.\n"
				    "# TYPE t_b gauge\n"
				    "t_b 2\n"
				    "# HELP t_shared_total Seen by both.\n"
				    "# TYPE t_shared_total counter\n"
				    "t_shared_total 430\n"
				    "# HELP t_program_runs_total Per program.\n"
				    "# TYPE t_program_runs_total counter\n"
				    "t_program_runs_total{program=\"first\"} 100\n"
				    "t_program_runs_total{program=\"sec\\\"ond\"} 101\n");
	/* Without the second module: its families and its additions are gone. */
	sb_reset(&sb);
	promtext_tables(&sb, src, 1);
	assert_string_equal(sb.buf, "# HELP t_a_total A.\n"
				    "# TYPE t_a_total counter\n"
				    "t_a_total 1\n"
				    "# HELP t_b B.\n"
				    "# TYPE t_b gauge\n"
				    "t_b 2\n");
	sb_reset(&sb);
	promtext_tables(&sb, src, 0);
	assert_int_equal(sb.len, 0);
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests_name("promtext", tests, NULL, NULL);
}
