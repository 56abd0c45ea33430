"""Prometheus native histograms: a real Prometheus with them on scrapes protobuf
and gets a native histogram whose quantiles agree with the client's latencies
within the schema's error; one without them still gets the classic buckets.
Trace exemplars: the traceparent a client sends comes back on the bucket of
its request in OpenMetrics, never in the classic text, and a real Prometheus
with exemplar storage returns its trace id (OpenMetrics and protobuf)."""
import json
import os
import re
import socket
import struct
import subprocess
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


OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# An OpenMetrics bucket line of the /sleep/{id} route and its exemplar.
EXEMPLAR = re.compile(r'^http_server_request_duration_seconds_bucket\{[^}]*http_route="/sleep/\{id\}"[^}]*'
                      r'le="([^"]+)"\} (\d+) # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} '
                      r'(\S+) (\S+)$', re.M)


def traceparent(trace_id, span_id="00f067aa0ba902b7"):
    return {"traceparent": "00-%s-%s-01" % (trace_id, span_id)}


def scrape(port, accept=None):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def query_exemplars(port, q):
    """The exemplars Prometheus stored for q over the last hour: [(labels, value)]."""
    now = time.time()
    url = "http://127.0.0.1:%d/api/v1/query_exemplars?%s" % (
        port, urllib.parse.urlencode({"query": q, "start": now - 3600, "end": now + 60}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            data = json.load(r)["data"]
    except OSError:
        return []
    return [(e["labels"], float(e["value"])) for s in data or [] for e in s["exemplars"]]


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)["data"]["result"]
    except OSError:
        return None


class PrometheusCase(unittest.TestCase):
    trace = False

    def setUp(self):
        self.server = h.gunicorn("native-gunicorn", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid), trace=self.trace)
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


class TestNativeHistograms(PrometheusCase):
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
        # The queue time is a native histogram too: each request came on a new connection.
        def queue_count():
            r = query(native, 'histogram_count(http_server_request_queue_duration_seconds{job="wsgitrace"})')
            return bool(r) and float(r[0]["value"][1]) == n

        h.wait_for(queue_count, timeout=60, interval=0.25, what="the native queue time histogram to count %d" % n)
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


class TestExemplars(PrometheusCase):
    trace = True

    def test_openmetrics_exemplars(self):
        slow, fast = "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"
        t0 = time.time()
        self.assertEqual(h.request(self.server.port, "/sleep/300", headers=traceparent(slow, "b7ad6b7169203331"))[0],
                         200)
        self.assertEqual(h.request(self.server.port, "/sleep/20", headers=traceparent(fast))[0], 200)
        self.assertEqual(h.request(self.server.port, "/sleep/1")[0], 200)
        # Malformed: upper-case hex, and two of them.
        self.assertEqual(h.request(self.server.port, "/sleep/1",
                                   headers={"traceparent": "00-%s-00F067AA0BA902B7-01" % fast})[0], 200)
        dup = "GET /sleep/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\ntraceparent: 00-%s-00f067aa0ba902b7-01\r\n" \
              "traceparent: 00-%s-00f067aa0ba902b7-01\r\n\r\n" % (fast, slow)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as c:
            c.sendall(dup.encode())
            self.assertIn(b" 200 ", h.read_all(c).split(b"\r\n", 1)[0])
        # Past the bytes captured of its head: not seen, and counted as such.
        self.assertEqual(h.request(self.server.port, "/sleep/1", headers=dict(
            [("Cookie", "c=" + "x" * 3000)] + list(traceparent(fast).items())))[0], 200)
        t1 = time.time()
        self.tracer.wait_counts({("GET", "/sleep/{id}", "200"): 6})

        om = scrape(self.tracer.mport, OPENMETRICS)
        found = {m.group(3): m.groups() for m in EXEMPLAR.finditer(om)}
        self.assertEqual(sorted(found), sorted([slow, fast]), om)
        for tid, sleep_s, span in ((slow, 0.3, "b7ad6b7169203331"), (fast, 0.02, "00f067aa0ba902b7")):
            le, _, _, sid, value, ts = found[tid]
            self.assertEqual(sid, span)
            # Its own latency, in the bucket it counts in, stamped when it ended.
            self.assertTrue(sleep_s <= float(value) <= float(le), found[tid])
            self.assertTrue(t0 - 1 <= float(ts) <= t1 + 1, (t0, ts, t1))
        # Each only once: the untraced, malformed and unseen requests left none.
        self.assertEqual(len(EXEMPLAR.findall(om)), 2)
        self.assertEqual(self.tracer.self_metric("wsgitrace_traceparent_malformed_total"), 2)
        self.assertEqual(self.tracer.self_metric("wsgitrace_traceparent_unseen_total"), 1)
        # Prometheus' own Python parser reads them as exemplars.
        out = subprocess.run(["/usr/bin/python3", "-c",
                              "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n"
                              "print(sorted(s.exemplar.labels['trace_id'] for f in p(sys.stdin.read()) "
                              "for s in f.samples if s.exemplar))"], input=om, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.stdout.strip(), repr(sorted([slow, fast])), out.stderr)
        # The classic text format has none.
        self.assertNotIn(" # {", scrape(self.tracer.mport))
        # --trace shows each request's own ids, and none where its traceparent was not valid.
        h.wait_for(lambda: len(self.tracer.traces()) >= 6, timeout=30, what="six --trace lines")
        ids = sorted((t["trace_id"] or "", t["span_id"] or "") for t in self.tracer.traces())
        self.assertEqual(ids, sorted([("", "")] * 4 + [(slow, "b7ad6b7169203331"), (fast, "00f067aa0ba902b7")]))

    def test_prometheus_stores_exemplars(self):
        """Exemplar storage on: the trace id of a slow request comes back from
        /api/v1/query_exemplars, scraped in OpenMetrics (classic buckets) and
        in protobuf (the native histogram)."""
        classic = self.prometheus("--enable-feature=exemplar-storage")
        native = self.prometheus("--enable-feature=exemplar-storage,native-histograms")
        slow = "5f8a1c2e3d4b4a6f9e0d1c2b3a495867"
        self.assertEqual(h.request(self.server.port, "/sleep/1")[0], 200)
        self.assertEqual(h.request(self.server.port, "/sleep/250", headers=traceparent(slow))[0], 200)
        self.tracer.wait_counts({("GET", "/sleep/{id}", "200"): 2})

        def stored(port, q):
            def check():
                return any(l.get("trace_id") == slow and v >= 0.25 for l, v in query_exemplars(port, q))
            return check

        h.wait_for(stored(classic, 'http_server_request_duration_seconds_bucket{%s}' % ROUTE), timeout=60,
                   interval=0.25, what="the classic bucket's exemplar in Prometheus")
        h.wait_for(stored(native, 'http_server_request_duration_seconds{%s}' % ROUTE), timeout=60,
                   interval=0.25, what="the native histogram's exemplar in Prometheus")


def uwsgi_packet(*pairs):
    """A uwsgi request packet (modifier1 0) of the vars given, as nginx's uwsgi_pass sends them."""
    body = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)
    return struct.pack("<BHB", 0, len(body), 0) + body


class TestExemplarsUwsgiProtocol(unittest.TestCase):
    """A uwsgi packet carries the header as the HTTP_TRACEPARENT variable."""

    def setUp(self):
        self.port = h.free_port()
        self.server = h.uwsgi("exemplar-uwsgi", "--socket", "127.0.0.1:%d" % self.port, "--processes", "2",
                              port=self.port, workers=2)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)

    def send(self, *pairs):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as c:
            c.sendall(uwsgi_packet((b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/sleep/30"),
                                   (b"SERVER_PROTOCOL", b"HTTP/1.1"), *pairs))
            self.assertIn(b" 200 ", h.read_all(c).split(b"\r\n", 1)[0])

    def test_http_traceparent_var(self):
        tid = "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"
        self.send((b"HTTP_TRACEPARENT", ("00-%s-1122334455667788-01" % tid).encode()))
        self.send((b"HTTP_TRACEPARENT", b"00-not-a-trace"))
        self.send()
        self.tracer.wait_counts({("GET", "/sleep/{id}", "200"): 3})
        om = scrape(self.tracer.mport, OPENMETRICS)
        found = [m.groups() for m in EXEMPLAR.finditer(om)]
        self.assertEqual([(g[2], g[3]) for g in found], [(tid, "1122334455667788")], om)
        self.assertTrue(0.03 <= float(found[0][4]) <= float(found[0][0]))
        self.assertEqual(self.tracer.self_metric("wsgitrace_traceparent_malformed_total"), 1)


if __name__ == "__main__":
    unittest.main()
