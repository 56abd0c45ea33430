#!/usr/bin/python3
"""Checks the alerting rules and the Grafana dashboard under deploy/ with promtool.

    tests/deploy/check.py [--rules FILE] [--rule-tests FILE] [--dashboard FILE]

Rules: `promtool check rules`, `promtool test rules`, and each alert has a severity, a
summary, a description, and a test case where it fires and one where it does not.
Dashboard: its shape (schema version, the datasource variable, the filter variables), and
every PromQL expression, panel queries and variable queries alike, with the variables
replaced by concrete values, parsed by `promtool check rules` as recording rules. Both:
every metric name of wsgitrace they use is one wsgitrace serves, since a misspelt name
parses fine and shows an empty panel. Exits 1 with one line per problem.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROMTOOL = "/usr/bin/promtool"
MIN_SCHEMA = 36
DEFAULT_RULES = os.path.join(ROOT, "deploy/prometheus/wsgitrace-alerts.yaml")
DEFAULT_RULE_TESTS = os.path.join(ROOT, "deploy/prometheus/wsgitrace-alerts.test.yaml")
DEFAULT_DASHBOARD = os.path.join(ROOT, "deploy/grafana/wsgitrace-dashboard.json")

# The metrics wsgitrace serves that the rules and the dashboard may name; histograms
# stand for their _bucket, _count and _sum series.
HISTOGRAMS = {"http_server_request_duration_seconds", "http_server_request_queue_duration_seconds"}
METRICS = {
    "http_server_active_requests", "wsgi_server_workers", "wsgi_server_workers_busy",
    "wsgi_server_listen_queue_length", "wsgi_server_listen_queue_limit",
    "wsgi_server_listen_drops_total", "wsgi_server_requests_unanswered_total",
    "wsgitrace_build_info", "wsgitrace_events_total", "wsgitrace_events_lost_total",
    "wsgitrace_kernel_read_failures_total", "wsgitrace_http_parse_errors_total",
    "wsgitrace_uwsgi_parse_errors_total", "wsgitrace_framing_lost_total",
    "wsgitrace_framing_recovered_total",
    "wsgitrace_unanswered_requests_total", "wsgitrace_orphan_responses_total",
    "wsgitrace_pending_overflow_total", "wsgitrace_connections_active",
    "wsgitrace_connections_dropped_total", "wsgitrace_connections_expired_total",
    "wsgitrace_processes_traced", "wsgitrace_series_active", "wsgitrace_series_dropped_total",
    "wsgitrace_scrapes_total", "wsgitrace_relayed_connections_total",
} | {h + s for h in HISTOGRAMS for s in ("_bucket", "_count", "_sum")}
OURS = re.compile(r"\b(?:http_server_|wsgi_server_|wsgitrace_)\w*")

# Grafana's built-in interval variables, and what they stand for here.
MACROS = {"__rate_interval": "1m", "__interval": "30s", "__range": "1h", "__range_s": "3600",
          "__interval_ms": "30000", "__range_ms": "3600000"}
# $name, ${name}, ${name:format}, [[name]]
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)


def promtool(*args):
    if not os.access(PROMTOOL, os.X_OK):
        sys.exit("%s is missing: run `make deps` (Debian's prometheus package)" % PROMTOOL)
    r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def unknown_metrics(expr):
    return sorted(set(OURS.findall(expr)) - METRICS)


def check_rules(rules, rule_tests):
    problems = []
    rc, out = promtool("check", "rules", rules)
    if rc:
        problems.append("promtool check rules %s:\n%s" % (rules, out))
    # promtool resolves rule_files relative to the test file.
    rc, out = promtool("test", "rules", rule_tests)
    if rc:
        problems.append("promtool test rules %s:\n%s" % (rule_tests, out))
    with open(rules) as f:
        text = f.read()
    with open(rule_tests) as f:
        tests = f.read()
    for block in re.split(r"\n\s*- alert: ", text)[1:]:
        name = block.split()[0]
        for what in ("severity:", "summary:", "description:"):
            if what not in block:
                problems.append("%s: alert %s has no %s" % (rules, name, what.rstrip(":")))
        for metric in unknown_metrics(block):
            problems.append("%s: alert %s uses %s, which wsgitrace does not serve" % (rules, name, metric))
        # exp_alerts follows alertname in each case: [] is a case where nothing fires.
        cases = re.findall(r"alertname: %s\s*\n\s*exp_alerts:(.*)" % re.escape(name), tests)
        if not any(c.strip() == "[]" for c in cases):
            problems.append("%s: no case where %s does not fire" % (rule_tests, name))
        if not any(c.strip() != "[]" for c in cases):
            problems.append("%s: no case where %s fires" % (rule_tests, name))
    return problems


def panels(dashboard):
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def substitute(expr, values):
    """Replaces variables as Grafana would, from values {name: text}; returns (expr, unknown)."""
    unknown = []

    def value(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in values:
            return values[name]
        unknown.append(name)
        return m.group(0)
    return VARIABLE.sub(value, expr), unknown


def dashboard_exprs(dashboard):
    """(where, expr) for every PromQL expression of panels and variable queries."""
    for v in dashboard.get("templating", {}).get("list", []):
        query = v.get("query")
        if v.get("type") == "query":
            query = query.get("query", "") if isinstance(query, dict) else query
            m = LABEL_VALUES.match(query)
            yield "variable %s" % v["name"], m.group(1) if m else query
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield "panel %d %r query %s" % (p["id"], p.get("title", ""), t.get("refId")), t.get("expr", "")


def check_shape(path, dashboard):
    problems = []
    if dashboard.get("schemaVersion", 0) < MIN_SCHEMA:
        problems.append("%s: schemaVersion %s, want %d or later"
                        % (path, dashboard.get("schemaVersion"), MIN_SCHEMA))
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("%s: no `datasource` variable of Prometheus data sources" % path)
    for name in ("service_name", "k8s_namespace_name"):
        if variables.get(name, {}).get("type") != "query":
            problems.append("%s: no `%s` query variable" % (path, name))
    want = "${datasource}"
    users = [("variable " + v["name"], v) for v in variables.values() if v.get("type") == "query"]
    for p in panels(dashboard):
        if p.get("type") != "row":
            users.append(("panel %d %r" % (p["id"], p.get("title", "")), p))
        users += [("panel %d query %s" % (p["id"], t.get("refId")), t) for t in p.get("targets", [])]
    for where, obj in users:
        uid = (obj.get("datasource") or {}).get("uid")
        if uid != want:
            problems.append("%s: %s uses datasource %r, not %s" % (path, where, uid, want))
    ids = [p.get("id") for p in panels(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append("%s: panel ids are not unique" % path)
    return problems


def check_dashboard(path):
    with open(path) as f:
        try:
            dashboard = json.load(f)
        except ValueError as e:
            return ["%s: not JSON: %s" % (path, e)]
    problems = check_shape(path, dashboard)
    # A multi-value selection becomes a regex alternation.
    names = [v.get("name") for v in dashboard.get("templating", {}).get("list", [])]
    values = dict(MACROS, **{name: "value_a|value_b" for name in names})
    rules = []
    for i, (where, expr) in enumerate(dashboard_exprs(dashboard)):
        if not expr.strip():
            problems.append("%s: %s has no expression" % (path, where))
            continue
        concrete, unknown = substitute(expr, values)
        for name in unknown:
            problems.append("%s: %s uses $%s, which the dashboard does not define" % (path, where, name))
        for metric in unknown_metrics(concrete):
            problems.append("%s: %s uses %s, which wsgitrace does not serve" % (path, where, metric))
        rules.append((i, where, concrete))
    # A recording rule per expression: promtool parses each and names the failing one.
    with tempfile.NamedTemporaryFile("w", prefix="wt-dashboard-", suffix=".rules.json") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": [
            {"record": "dashboard:expr_%d" % i, "expr": e} for i, _, e in rules]}]}, f)
        f.flush()
        rc, out = promtool("check", "rules", f.name)
    if rc:
        where_of = {"dashboard:expr_%d" % i: where for i, where, _ in rules}
        out = re.sub(r"dashboard:expr_\d+", lambda m: where_of[m.group(0)], out)
        problems.append("%s: promtool rejects an expression:\n%s" % (path, out))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", default=DEFAULT_RULES)
    ap.add_argument("--rule-tests", default=DEFAULT_RULE_TESTS)
    ap.add_argument("--dashboard", default=DEFAULT_DASHBOARD)
    args = ap.parse_args()
    problems = check_rules(args.rules, args.rule_tests) + check_dashboard(args.dashboard)
    for p in problems:
        print("FAIL", p)
    if problems:
        return 1
    print("ok: rules, rule tests and dashboard expressions pass promtool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
