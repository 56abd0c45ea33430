"""A real Prometheus scrapes wsgitrace and agrees on the number of requests."""
import os
import subprocess
import tempfile
import unittest

import harness as h

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
N = 37


class TestPrometheus(unittest.TestCase):
    def setUp(self):
        self.server = h.gunicorn("prom-gunicorn", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        # Only this server: the sums below must not see other servers on the host.
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)

    def test_promtool_accepts_exposition(self):
        h.request(self.server.port, "/test/")
        h.request(self.server.port, "/test1/")
        self.tracer.wait_counts({("GET", "/test/", "200"): 1, ("GET", "/test1/", "500"): 1})
        ctype, text = self.tracer.raw()
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        with tempfile.NamedTemporaryFile("w", suffix=".prom") as f:
            f.write(text)
            f.flush()
            r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=open(f.name), capture_output=True,
                               text=True)
        # Lint-clean too: promtool exits 1 for lint problems as well as parse errors.
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_prometheus_counts_exactly(self):
        tmp = tempfile.mkdtemp(prefix="wt-prom-")
        port = h.free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: wsgitrace\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.tracer.mport)
        prom = h.Proc([PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path", os.path.join(tmp, "data"),
                       "--web.listen-address", "127.0.0.1:%d" % port], "prometheus", cwd=tmp)
        self.addCleanup(prom.cleanup)
        h.wait_for(lambda: h.port_open(port) or not prom.alive(), timeout=60, what="prometheus")
        self.assertTrue(prom.alive(), prom.output())
        for _ in range(N):
            self.assertEqual(h.request(self.server.port, "/test/")[0], 200)
        self.tracer.wait_counts({("GET", "/test/", "200"): N})
        q = 'sum(http_server_request_duration_seconds_count{http_route="/test/",job="wsgitrace"})'

        def query():
            return h.query_value(port, q) == N

        h.wait_for(query, timeout=60, interval=0.25, what="prometheus to report %d requests" % N)


if __name__ == "__main__":
    unittest.main()
