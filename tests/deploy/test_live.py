#!/usr/bin/python3
"""A real Prometheus scrapes a real wsgitrace tracing a real gunicorn, loads the alerting
rules and evaluates every dashboard expression: promtool parses expressions, this shows
they also run (no matching errors) and return data wherever wsgitrace serves their metrics,
and that the 5xx alert fires on the labels wsgitrace really writes.

Needs root and build/wsgitrace, like the integration tests; run it under their lock.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import check  # noqa: E402
import harness as h  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
JOB = "wsgitrace"
# Over 300 requests: the 5xx alert wants more than 1 request/s over its 5 minutes.
OK, FAILED = 400, 400


class TestLive(unittest.TestCase):
    def setUp(self):
        self.assertEqual(os.geteuid(), 0, "wsgitrace loads BPF probes: run as root")
        self.server = h.gunicorn("deploy-gunicorn", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        # Only this server: other tests' servers on the host stay out of the sums.
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)
        tmp = tempfile.mkdtemp(prefix="wt-deploy-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # The rules as shipped but for their waits (`for:`), which a test cannot sit out.
        with open(check.DEFAULT_RULES) as f:
            rules = re.sub(r"(?m)^(\s+for:) \w+$", r"\1 0s", f.read())
        self.alerts = set(re.findall(r"- alert: (\w+)", rules))
        with open(os.path.join(tmp, "rules.yaml"), "w") as f:
            f.write(rules)
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            json.dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                       "rule_files": ["rules.yaml"],
                       "scrape_configs": [{"job_name": JOB, "static_configs": [
                           {"targets": ["127.0.0.1:%d" % self.tracer.mport]}]}]}, f)
        self.port = h.free_port()
        self.prom = h.Proc([PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path",
                            os.path.join(tmp, "data"), "--web.listen-address", "127.0.0.1:%d" % self.port],
                           "prometheus", cwd=tmp)
        self.addCleanup(self.prom.cleanup)
        h.wait_for(lambda: h.port_open(self.port) or not self.prom.alive(), timeout=60, what="prometheus")
        self.assertTrue(self.prom.alive(), self.prom.output())

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # a bad query answers 400 with the error in JSON
            try:
                return json.load(e)
            except ValueError:  # 503 in plain text while Prometheus starts its storage
                return {}

    def prom_count(self, status):
        q = 'sum(%s_count{job="%s",http_response_status_code="%s"})' % (h.HIST, JOB, status)
        res = self.api("query", query=q).get("data", {}).get("result", [])
        return int(float(res[0]["value"][1])) if res else None

    def send(self, ok, failed):
        for _ in range(ok):
            self.assertEqual(h.request(self.server.port, "/test/")[0], 200)
        for _ in range(failed):
            self.assertEqual(h.request(self.server.port, "/test1/")[0], 500)

    def wait_prom(self, ok, failed):
        h.wait_for(lambda: (self.prom_count("200"), self.prom_count("500")) == (ok, failed), timeout=60,
                   interval=0.25, what="prometheus to see %d 200s and %d 500s" % (ok, failed))

    def test_rules_fire_and_dashboard_queries_run(self):
        # rate() counts increases after a series' first sample: let Prometheus see the
        # series first, then send the traffic the panels show.
        self.send(1, 1)
        self.wait_prom(1, 1)
        self.send(OK, FAILED)
        self.wait_prom(1 + OK, 1 + FAILED)

        def rules_evaluated():
            groups = self.api("rules").get("data", {}).get("groups", [])
            rules = [r for g in groups for r in g["rules"]]
            if any(r["health"] == "unknown" for r in rules):
                return None
            return {r["name"]: r["health"] for r in rules}
        health = h.wait_for(rules_evaluated, timeout=60, interval=0.25, what="the rules to be evaluated")
        self.assertEqual(health, {a: "ok" for a in self.alerts})

        # Half the requests failed: the 5xx alert fires for the service, and nothing else.
        def firing():
            return [a["labels"] for a in self.api("alerts").get("data", {}).get("alerts", [])
                    if a["state"] == "firing"]
        h.wait_for(firing, timeout=60, interval=0.25, what="an alert to fire")
        self.assertEqual(firing(), [{"alertname": "WsgitraceHighErrorRatio", "service_name": h.SERVICE,
                                     "severity": "critical"}])

        with open(check.DEFAULT_DASHBOARD) as f:
            dashboard = json.load(f)
        served = {name for name, _ in self.tracer.metrics()}
        # The variables as a user picks them; windows long enough to hold the traffic above.
        values = dict(check.MACROS, __rate_interval="10m", __range="10m",
                      service_name=h.SERVICE, k8s_namespace_name=".*", job=JOB)
        results = {}
        for where, expr in check.dashboard_exprs(dashboard):
            concrete, unknown = check.substitute(expr, values)
            self.assertEqual(unknown, [], where)
            with self.subTest(where=where):
                r = self.api("query", query=concrete)
                self.assertEqual(r.get("status"), "success", "%s: %s\n%s" % (where, r.get("error"), concrete))
                results[where] = r["data"]["result"]
                if set(check.OURS.findall(concrete)) <= served:
                    self.assertTrue(results[where], "%s returns nothing:\n%s" % (where, concrete))

        def panel(title, ref="A"):
            return next(v for k, v in results.items() if k.endswith("%r query %s" % (title, ref)))
        ratio = float(panel("5xx ratio")[0]["value"][1])
        self.assertTrue(0 < ratio < 1, ratio)
        routes = {r["metric"]["http_route"] for r in panel("Top 20 routes by request rate")}
        self.assertEqual(routes, {"/test/", "/test1/"})
        self.assertEqual({r["metric"]["http_route"] for r in panel("5xx by route")}, {"/test1/"})

    def test_saturation_alert_fires_under_load_and_resolves(self):
        """Both workers kept busy: the saturation alert fires; the load stops: it resolves."""
        import threading
        stop = threading.Event()

        def client():
            while not stop.is_set():
                h.request(self.server.port, "/sleep/300")
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            h.wait_for(lambda: "WsgitraceWorkersSaturated" in self.firing_names(), timeout=90, interval=0.25,
                       what="the saturation alert to fire")
        finally:
            stop.set()
            for t in threads:
                t.join()
        h.wait_for(lambda: "WsgitraceWorkersSaturated" not in self.firing_names(), timeout=90, interval=0.25,
                   what="the saturation alert to resolve")

    def firing_names(self):
        return {a["labels"]["alertname"] for a in self.api("alerts").get("data", {}).get("alerts", [])
                if a["state"] == "firing"}


if __name__ == "__main__":
    unittest.main(verbosity=2)
