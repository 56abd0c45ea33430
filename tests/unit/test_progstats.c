// SPDX-License-Identifier: MIT
/* progstats: the BPF programs' cost as Prometheus counters, present only while the kernel counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "progstats.h"
#include "promtool.h"

static const struct progstat progs[] = {
	{ "sock_send", 2500000000ull, 3000000 },
	{ "tcp_state", 320, 1 },
};

static void test_on(void **state)
{
	struct strbuf sb;

	sb_init(&sb);
	progstats_render(&sb, progs, 2, true);
	sb_putc(&sb, '\0');
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_stats_enabled 1\n"));
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_program_run_seconds_total{program=\"sock_send\"} 2.5\n"));
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_program_run_seconds_total{program=\"tcp_state\"} 3.2e-07\n"));
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_program_runs_total{program=\"sock_send\"} 3000000\n"));
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_program_runs_total{program=\"tcp_state\"} 1\n"));
	promtool_check(sb.buf, sb.len - 1);
	sb_free(&sb);
}

static void test_off(void **state)
{
	struct strbuf sb;

	sb_init(&sb);
	progstats_render(&sb, progs, 2, false);
	sb_putc(&sb, '\0');
	assert_non_null(strstr(sb.buf, "\nwsgitrace_bpf_stats_enabled 0\n"));
	assert_null(strstr(sb.buf, "\nwsgitrace_bpf_program_runs_total"));
	assert_null(strstr(sb.buf, "\nwsgitrace_bpf_program_run_seconds_total"));
	promtool_check(sb.buf, sb.len - 1);
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_on),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests_name("progstats", tests, NULL, NULL);
}
