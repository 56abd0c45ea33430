// SPDX-License-Identifier: MIT
#include "progstats.h"

#include "promtext.h"

void progstats_render(struct strbuf *sb, const struct progstat *p, size_t n, bool on)
{
	promtext_family(sb, "wsgitrace_bpf_stats_enabled", "gauge",
			"1 while the kernel counts the run time of BPF programs (wsgitrace --bpf-stats, or "
			"kernel.bpf_stats_enabled=1); the wsgitrace_bpf_program_* families are there only then.");
	sb_puts(sb, on ? "wsgitrace_bpf_stats_enabled 1\n" : "wsgitrace_bpf_stats_enabled 0\n");
	if (!on)
		return;
	promtext_family(sb, "wsgitrace_bpf_program_run_seconds_total", "counter",
			"CPU time spent in each of wsgitrace's BPF programs while the kernel's BPF statistics were on.");
	for (size_t i = 0; i < n; i++) {
		sb_puts(sb, "wsgitrace_bpf_program_run_seconds_total{");
		promtext_label(sb, "program", p[i].name);
		sb_puts(sb, "} ");
		promtext_double(sb, p[i].run_time_ns / 1e9);
		sb_putc(sb, '\n');
	}
	promtext_family(sb, "wsgitrace_bpf_program_runs_total", "counter",
			"Runs of each of wsgitrace's BPF programs while the kernel's BPF statistics were on.");
	for (size_t i = 0; i < n; i++) {
		sb_puts(sb, "wsgitrace_bpf_program_runs_total{");
		promtext_label(sb, "program", p[i].name);
		promtext_sample_end(sb, p[i].run_cnt);
	}
}
