/* SPDX-License-Identifier: MIT */
/*
 * What wsgitrace's own BPF programs cost the node, from the kernel's BPF
 * statistics (kernel.bpf_stats_enabled, or --bpf-stats), as Prometheus
 * counters per program. Pure: the daemon reads the figures (capture.c) and
 * this module only writes them out.
 */
#ifndef WT_PROGSTATS_H
#define WT_PROGSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

/* One BPF program's figures, as bpf_prog_info reports them. */
struct progstat {
	const char *name;     /* its name in the object: sock_send, tcp_state ... */
	uint64_t run_time_ns; /* CPU time spent running it while the statistics were on */
	uint64_t run_cnt;     /* runs while the statistics were on */
};

/*
 * Appends wsgitrace_bpf_stats_enabled (1 while the kernel counts) and, when
 * it does, wsgitrace_bpf_program_run_seconds_total{program} and
 * wsgitrace_bpf_program_runs_total{program} for the n programs. With the
 * statistics off the kernel counts nothing, so the two families are left
 * out rather than shown standing still.
 */
void progstats_render(struct strbuf *sb, const struct progstat *p, size_t n, bool on);

#endif /* WT_PROGSTATS_H */
