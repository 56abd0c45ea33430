#!/usr/bin/python3
"""The alerting rules and the dashboard pass check.py, and check.py fails on broken copies."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from check import DEFAULT_DASHBOARD as DASHBOARD, DEFAULT_RULE_TESTS as RULE_TESTS, DEFAULT_RULES as RULES

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check.py")


def check(*args):
    r = subprocess.run(["/usr/bin/python3", CHECK, *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


class TestDeploy(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wt-deploy-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def assertFails(self, args, *needles):
        rc, out = check(*args)
        self.assertEqual(rc, 1, out)
        for n in needles:
            self.assertIn(n, out)

    def dashboard_with(self, edit):
        """A copy of the dashboard after edit(dashboard); returns the --dashboard args."""
        with open(DASHBOARD) as f:
            d = json.load(f)
        edit(d)
        path = os.path.join(self.tmp, "dashboard.json")
        with open(path, "w") as f:
            json.dump(d, f)
        return ["--dashboard", path]

    def rules_with(self, old, new):
        """Copies of the rules and their tests, the rules with old replaced by new once."""
        with open(RULES) as f:
            text = f.read()
        self.assertEqual(text.count(old), 1, old)
        with open(os.path.join(self.tmp, os.path.basename(RULES)), "w") as f:
            f.write(text.replace(old, new))
        tests = shutil.copy(RULE_TESTS, self.tmp)
        return ["--rules", os.path.join(self.tmp, os.path.basename(RULES)), "--rule-tests", tests]

    @staticmethod
    def target(d, title):
        return next(p for p in d["panels"] if p.get("title") == title)["targets"][0]

    def test_deploy_files_pass(self):
        rc, out = check()
        self.assertEqual(rc, 0, out)

    def test_unparsable_panel_expression_fails(self):
        def edit(d):
            t = self.target(d, "Worker saturation (busy / workers)")
            t["expr"] = t["expr"].replace("sum by", "sum by (", 1)
        self.assertFails(self.dashboard_with(edit), "promtool rejects",
                         "'Worker saturation (busy / workers)' query A")

    def test_wrong_type_in_panel_expression_fails(self):
        # Parses as text, but rate() of an instant vector is a type error.
        def edit(d):
            t = self.target(d, "Request rate")
            t["expr"] = t["expr"].replace("[$__rate_interval]", "")
        self.assertFails(self.dashboard_with(edit), "'Request rate' query A", "range vector")

    def test_unparsable_variable_query_fails(self):
        def edit(d):
            v = next(v for v in d["templating"]["list"] if v["name"] == "service_name")
            v["query"] = v["query"].replace("=~", "=~=")
        self.assertFails(self.dashboard_with(edit), "variable service_name")

    def test_undefined_variable_fails(self):
        def edit(d):
            t = self.target(d, "Active requests")
            t["expr"] = t["expr"].replace("$service_name", "$service")
        self.assertFails(self.dashboard_with(edit), "$service, which the dashboard does not define")

    def test_misspelt_metric_fails(self):
        def edit(d):
            t = self.target(d, "Active requests")
            t["expr"] = t["expr"].replace("http_server_active_requests", "http_server_requests_active")
        self.assertFails(self.dashboard_with(edit),
                         "http_server_requests_active, which wsgitrace does not serve")

    def test_fixed_datasource_fails(self):
        def edit(d):
            t = self.target(d, "Active requests")
            t["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
        self.assertFails(self.dashboard_with(edit), "uses datasource 'P1809F7CD0C75ACF3'")

    def test_unparsable_rule_fails(self):
        self.assertFails(self.rules_with("increase(wsgitrace_events_lost_total[5m])",
                                         "increase(wsgitrace_events_lost_total[5m]"),
                         "promtool check rules", "parse error")

    def test_moved_threshold_fails_rule_tests(self):
        # The 9-of-10 case sits on the saturation threshold: the tests pin it.
        self.assertFails(self.rules_with(">= 0.9", ">= 0.95"), "promtool test rules", "edge")

    def test_alert_without_severity_fails(self):
        labels = "for: 10m\n        labels:\n          severity: critical\n"
        self.assertFails(self.rules_with(labels, "for: 10m\n"),
                         "alert WsgitraceHighErrorRatio has no severity")


if __name__ == "__main__":
    unittest.main(verbosity=2)
