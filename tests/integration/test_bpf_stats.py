"""What wsgitrace's BPF programs cost, as metrics: with --bpf-stats the kernel
counts their run time while wsgitrace runs, and the counters move with traffic;
without it (and the kernel's statistics off) they are not shown."""
import unittest

import harness as h

STATS = "/proc/sys/kernel/bpf_stats_enabled"
N = 20


def stats_sysctl():
    with open(STATS) as f:
        return f.read().strip()


def set_stats_sysctl(v):
    with open(STATS, "w") as f:
        f.write(v)


def program_figures(tracer):
    """{program: (runs, seconds)} and the enabled gauge, from /metrics."""
    runs, secs, enabled = {}, {}, None
    for (name, labels), v in tracer.metrics().items():
        d = dict(labels)
        if name == "wsgitrace_bpf_program_runs_total":
            runs[d["program"]] = v
        elif name == "wsgitrace_bpf_program_run_seconds_total":
            secs[d["program"]] = v
        elif name == "wsgitrace_bpf_stats_enabled":
            enabled = v
    return {p: (runs[p], secs.get(p)) for p in runs}, enabled


class BpfStatsCase(unittest.TestCase):
    def setUp(self):
        # The kernel's default, so that only wsgitrace's flag turns the statistics on.
        if stats_sysctl() != "0":
            was = stats_sysctl()
            set_stats_sysctl("0")
            self.addCleanup(set_stats_sysctl, was)
        self.server = h.gunicorn("bpfstats", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)

    def traffic(self, tracer, total):
        for _ in range(N):
            self.assertEqual(h.request(self.server.port, "/test/")[0], 200)
        tracer.wait_counts({("GET", "/test/", "200"): total})


class TestBpfStats(BpfStatsCase):
    def test_flag_counts_the_programs_while_running(self):
        tracer = h.Tracer("--pid", str(self.server.pid), "--bpf-stats")
        self.addCleanup(tracer.cleanup)
        self.traffic(tracer, N)
        before, enabled = program_figures(tracer)
        self.assertEqual(enabled, 1)
        self.traffic(tracer, 2 * N)
        after, _ = program_figures(tracer)
        # Every request is read and answered by a traced worker, on a TCP
        # connection that changes state: each of these ran for each request.
        for prog in ("sock_recv", "sock_send", "tcp_state"):
            self.assertGreaterEqual(before[prog][0], N, prog)
            self.assertGreaterEqual(after[prog][0] - before[prog][0], N, prog)
            self.assertGreater(after[prog][1], before[prog][1], prog)

    def test_without_flag_the_program_families_are_absent(self):
        tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(tracer.cleanup)
        self.traffic(tracer, N)
        figures, enabled = program_figures(tracer)
        self.assertEqual(enabled, 0)
        self.assertEqual(figures, {})


if __name__ == "__main__":
    unittest.main()
