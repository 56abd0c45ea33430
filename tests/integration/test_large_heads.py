"""Request heads longer than the bytes wsgitrace captures of a read (big cookies, JWTs).

Every such request is counted exactly, with its route, on keep-alive connections too,
and no loss counter moves: wsgitrace_framing_recovered_total says how many heads went
past the capture; wsgitrace_framing_lost_total stays 0.
"""
import unittest

import harness as h

LOSS_COUNTERS = ("wsgitrace_framing_lost_total", "wsgitrace_events_lost_total",
                 "wsgitrace_unanswered_requests_total", "wsgitrace_client_resets_total",
                 "wsgitrace_missed_requests_total", "wsgitrace_orphan_responses_total",
                 "wsgitrace_http_parse_errors_total", "wsgitrace_pending_overflow_total",
                 "wsgitrace_kernel_read_failures_total", "wsgitrace_connections_dropped_total",
                 "wsgitrace_series_dropped_total")
SIZES = (3000, 8000)
PER_CONN = 10
CONNS = 3


class LargeHeads:
    def test_large_heads_counted_exactly(self):
        want = {}
        for size in SIZES:
            pad = "a" * size
            for c in range(CONNS):
                ka = h.KeepAlive(self.port)
                try:
                    for i in range(PER_CONN):
                        # A POST with a body behind a long head, and GETs.
                        if i % 2:
                            st, _ = ka.get("/echo", method="POST", body=b"x" * 100, headers={"X-Pad": pad})
                            self.assertEqual(st, 200)
                            want[("POST", "/echo", "200")] = want.get(("POST", "/echo", "200"), 0) + 1
                        else:
                            st, _ = ka.get("/test/", headers={"X-Pad": pad})
                            self.assertEqual(st, 200)
                            want[("GET", "/test/", "200")] = want.get(("GET", "/test/", "200"), 0) + 1
                finally:
                    ka.close()
            # One on a connection of its own, closed by the server.
            self.assertEqual(h.request(self.port, "/test1/", headers={"X-Pad": pad})[0], 500)
            want[("GET", "/test1/", "500")] = want.get(("GET", "/test1/", "500"), 0) + 1
        self.tracer.wait_counts(want)
        m = self.tracer.metrics()
        losses = {n: h.metric_sum(m, n) for n in LOSS_COUNTERS}
        self.assertEqual(losses, {n: 0 for n in LOSS_COUNTERS})
        total = sum(want.values())
        recovered = h.metric_sum(m, "wsgitrace_framing_recovered_total")
        print("%s: %d requests with %s-byte heads, counted exactly; framing_recovered %d, every loss "
              "counter 0" % (self.name, total, "/".join(map(str, SIZES)), recovered))
        self.assertEqual(recovered, total)


class TestGunicorn(LargeHeads, unittest.TestCase):
    name = "gunicorn"

    def setUp(self):
        self.server = h.gunicorn("heads-gunicorn", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        self.port = self.server.port
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)


class TestUwsgi(LargeHeads, unittest.TestCase):
    name = "uWSGI"

    def setUp(self):
        self.port = h.free_port()
        # Keep-alive (--http11-socket); uWSGI's default buffer (4 KB) refuses an 8 KB head.
        self.server = h.uwsgi("heads-uwsgi", "--http11-socket", "127.0.0.1:%d" % self.port, "--processes", "2",
                              "--buffer-size", "32768", port=self.port, workers=2)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)


if __name__ == "__main__":
    unittest.main()
