"""Prometheus native histograms: a real Prometheus with them on scrapes protobuf
and gets a native histogram whose quantiles agree with the client's latencies
within the schema's error; one without them still gets the classic buckets."""
import json
import os
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import harness as h

PROMETHEUS = "/usr/bin/prometheus"
SCHEMA = 3  # wsgitrace's default --native-schema
BASE = 2 ** (2 ** -SCHEMA)  # bucket bounds grow by this factor
# Distinct sleeps over 2 ms .. 120 ms: six doublings, one native bucket per 9%.
SLEEPS_MS = [2 + int(i * 1.9) for i in range(60)]
ROUTE = 'http_route="/sleep/{id}",job="wsgitrace"'


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)["data"]["result"]
    except OSError:
        return None


class TestNativeHistograms(unittest.TestCase):
    def setUp(self):
        self.server = h.gunicorn("native-gunicorn", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)

    def prometheus(self, *flags):
        tmp = tempfile.mkdtemp(prefix="wt-prom-native-")
        port = h.free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: wsgitrace\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.tracer.mport)
        prom = h.Proc([PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path", os.path.join(tmp, "data"),
                       "--web.listen-address", "127.0.0.1:%d" % port] + list(flags), "prometheus", cwd=tmp)
        self.addCleanup(prom.cleanup)
        h.wait_for(lambda: h.port_open(port) or not prom.alive(), timeout=60, what="prometheus")
        self.assertTrue(prom.alive(), prom.output())
        return port

    def test_quantiles_within_schema_error(self):
        native = self.prometheus("--enable-feature=native-histograms")
        classic = self.prometheus()
        client = []
        for ms in SLEEPS_MS:
            t0 = time.monotonic()
            self.assertEqual(h.request(self.server.port, "/sleep/%d" % ms)[0], 200)
            client.append(time.monotonic() - t0)
        n = len(SLEEPS_MS)
        self.tracer.wait_counts({("GET", "/sleep/{id}", "200"): n})

        def native_count():
            r = query(native, "histogram_count(http_server_request_duration_seconds{%s})" % ROUTE)
            return bool(r) and float(r[0]["value"][1]) == n

        h.wait_for(native_count, timeout=60, interval=0.25, what="the native histogram to count %d" % n)
        # The rank-th fastest request took at least its sleep and at most what its client
        # measured; Prometheus' estimate lies in the bucket of the server's duration of that
        # rank, which is at most a factor BASE wide.
        sleeps = sorted(ms / 1000.0 for ms in SLEEPS_MS)
        client.sort()
        for phi in (0.5, 0.9, 0.99):
            r = query(native, "histogram_quantile(%g, http_server_request_duration_seconds{%s})" % (phi, ROUTE))
            self.assertTrue(r, "no quantile %g" % phi)
            est = float(r[0]["value"][1])
            k = max(1, -(-int(phi * n * 1000) // 1000))  # ceil(phi * n)
            lo, hi = sleeps[k - 1] / BASE, client[k - 1] * BASE
            self.assertTrue(lo <= est <= hi, "p%g: %.6f not in [%.6f, %.6f]" % (phi * 100, est, lo, hi))
        # The self metrics came along in the same protobuf scrape.
        r = query(native, 'wsgitrace_scrapes_total{job="wsgitrace"}')
        self.assertTrue(r and float(r[0]["value"][1]) >= 1)

        # A Prometheus without native histograms scrapes OpenMetrics: the classic buckets.
        def classic_count():
            r = query(classic, 'http_server_request_duration_seconds_bucket{%s,le="+Inf"}' % ROUTE)
            return bool(r) and float(r[0]["value"][1]) == n

        h.wait_for(classic_count, timeout=60, interval=0.25, what="the classic histogram to count %d" % n)
        # Requests that slept more than 25 ms are not in le="0.025".
        r = query(classic, 'http_server_request_duration_seconds_bucket{%s,le="0.025"}' % ROUTE)
        self.assertLessEqual(float(r[0]["value"][1]), sum(1 for ms in SLEEPS_MS if ms <= 25))


if __name__ == "__main__":
    unittest.main()
