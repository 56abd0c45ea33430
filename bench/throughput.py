"""Throughput at saturation: a fresh server for every run of every
approach, rounds interleaved; each round also runs the same-server pairs."""
import os
import signal
import tempfile
import time

from wtlib.client import request
from wtlib.exposition import metric_sum, parse_exposition
from wtlib.net import free_port
from wtlib.paths import PY

from .config import APPS, NOTES, PAIRED, PAIRED_HEADERS, SERVERS, WRK
from .errors import FAILURES, log
from .paired import paired_round, summarize_paired
from .procs import Wsgitrace, other_wsgitraces, start_server, wait_quiet
from .stats import median
from .sysstat import (CLK_TCK, bpf_prog_ids, bpf_prog_stats, bpf_stats_enabled, children_cpu_ns,
                      children_pids, proc_cpu_ns, system_busy_ns, worker_balance)
from .wrk import run_wrk

BALANCED = NOTES["unbalanced"]


def approach_setup(approach, workdir, sink_port):
    """-> (app, env, extra server args) of an instrumentation approach."""
    if approach == "prometheus_mp":
        return "prom_app", {"PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="prom-mp-", dir=workdir)}, []
    if approach == "statsd_mw":
        return "statsd_app", {"STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(sink_port)}, []
    if approach == "gunicorn_statsd":
        return "plain_app", {}, ["--statsd-host", "127.0.0.1:%d" % sink_port]
    return "plain_app", {}, []


def bpf_per_request(ps0, ps1, requests):
    return {n: {"runs_per_req": (ps1[n][0] - ps0[n][0]) / requests,
                "ns_per_run": (ps1[n][1] - ps0[n][1]) / max(1, ps1[n][0] - ps0[n][0]),
                "ns_per_req": (ps1[n][1] - ps0[n][1]) / requests}
            for n in ps1 if n in ps0}


def throughput_round(run, kind, approach, sink_port):
    args, procs = run.args, run.procs
    if approach == "wsgitrace" and not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    app, env, extra = approach_setup(approach, run.workdir, sink_port)
    others = wait_quiet(procs)
    srv = start_server(procs, kind, app, env=env, extra=extra)
    wt = None
    res = {"foreign_wsgitrace": len(others)}
    try:
        if approach == "wsgitrace":
            wt = Wsgitrace(procs, [srv.pid], run.wt)
        run_wrk(srv.port, WRK["path"], args.warmup)
        res["bpf_stats_enabled"] = bpf_stats_enabled()
        if wt:
            before = wt.metrics()
            c0 = wt.request_count(before)
            cpu0 = wt.cpu()
            prog_ids = bpf_prog_ids(wt.pid)
            ps0 = bpf_prog_stats(prog_ids) if res["bpf_stats_enabled"] else {}
        kids = children_pids(srv.pid)
        srv_pids = [srv.pid] + kids
        k0 = [proc_cpu_ns(p) or 0 for p in kids]
        s0 = sum(proc_cpu_ns(p) or 0 for p in srv_pids)
        wt0 = proc_cpu_ns(wt.pid) if wt else 0
        busy0, kids0, t0 = system_busy_ns(), children_cpu_ns(), time.monotonic()
        w = run_wrk(srv.port, WRK["path"], args.duration)
        busy1, kids1, t1 = system_busy_ns(), children_cpu_ns(), time.monotonic()
        srv_ns = sum(proc_cpu_ns(p) or 0 for p in srv_pids) - s0
        wt_ns = (proc_cpu_ns(wt.pid) - wt0) if wt else 0
        res["server_cpu_us_per_req"] = srv_ns / 1e3 / w["requests"]
        b = worker_balance(kids, k0)
        if b is not None:
            res["worker_balance"] = b
        # CPU used on the machine by anything other than this server, wsgitrace
        # and wrk during the run, as a share of all CPUs: other work that
        # skews the figure.
        foreign = (busy1 - busy0) - srv_ns - wt_ns - (kids1 - kids0)
        res["foreign_cpu_pct"] = max(0.0, 100.0 * foreign / ((t1 - t0) * 1e9 * os.cpu_count()))
        res["foreign_wsgitrace"] = max(res["foreign_wsgitrace"], len(other_wsgitraces(procs)))
        res.update({k: w[k] for k in ("rps", "requests", "p50_ms", "p99_ms", "p90_ms",
                                       "socket_errors", "read_errors", "non2xx")})
        res["loadavg1"] = os.getloadavg()[0]
        if wt:
            wt.wait_settled(expect=c0 + w["requests"], timeout=3.0)
            cpu1 = wt.cpu()
            after = wt.metrics()
            res["wt_counted"] = int(wt.request_count(after) - c0)
            res["wt_cpu_us_per_req"] = (cpu1[0] - cpu0[0]) / CLK_TCK * 1e6 / w["requests"]
            if cpu0[1] is not None and cpu1[1] is not None:
                res["wt_cpu_us_per_req_schedstat"] = (cpu1[1] - cpu0[1]) / 1e3 / w["requests"]
            res["wt_hwm_kib"] = wt.hwm_kib()
            if ps0 and bpf_stats_enabled():
                res["bpf_progs"] = bpf_per_request(ps0, bpf_prog_stats(prog_ids), w["requests"])
            res["wt_procs_traced"] = metric_sum(after, "wsgitrace_processes_traced")
            res["server_procs"] = 1 + len(children_pids(srv.pid))
            res["wt_events_lost"] = metric_sum(after, "wsgitrace_events_lost_total")
            res["wt_events_lost_during_run"] = res["wt_events_lost"] - metric_sum(
                before, "wsgitrace_events_lost_total")
        if approach == "prometheus_mp":
            body = request(srv.port, "/metrics")[1]
            res["app_metrics_count"] = metric_sum(parse_exposition(body.decode()), "request_count_total",
                                                  endpoint=WRK["path"])
    finally:
        if wt:
            res["wt_exit"] = wt.detach()
        procs.stop(srv)
    return res


def balanced(x):
    return x.get("worker_balance", 1.0) >= BALANCED


def summarize_approach(a, rs, base):
    """Medians over the rounds of one server kind and approach; ratios against
    the same round's uninstrumented run (base)."""
    ok = [x for x in rs if "rps" in x]
    s = {"rounds_ok": len(ok), "rounds": len(rs)}
    if not ok:
        s["errors_text"] = [x.get("error") or x.get("skipped") for x in rs]
        return s
    for k in ("rps", "p50_ms", "p99_ms", "requests"):
        s[k] = median([x[k] for x in ok])
    s["errors"] = sum(x["socket_errors"] + x["non2xx"] for x in ok)
    s["server_cpu_us_per_req"] = median([x.get("server_cpu_us_per_req") for x in ok])
    s["loadavg1_max"] = max(x.get("loadavg1", 0) for x in ok)
    s["foreign_cpu_pct"] = median([x.get("foreign_cpu_pct") for x in ok])
    s["rounds_with_bpf_stats"] = sum(1 for x in ok if x.get("bpf_stats_enabled"))
    bp = [x["bpf_progs"] for x in ok if x.get("bpf_progs")]
    if bp:
        s["bpf_progs"] = {n: {k: median([b[n][k] for b in bp if n in b])
                              for k in ("runs_per_req", "ns_per_run", "ns_per_req")}
                          for n in bp[-1]}
    s["worker_balance"] = [round(x.get("worker_balance", 1.0), 2) for x in ok]
    base_ok = [x for x in base if "rps" in x]
    some_unbalanced = not all(balanced(x) for x in ok) or not all(balanced(b) for b in base_ok)
    pairs_bal = [x["rps"] / b["rps"] for x, b in zip(rs, base) if "rps" in x and "rps" in b
                 and balanced(x) and balanced(b)]
    if some_unbalanced and pairs_bal:
        s["ratio_balanced"] = median(pairs_bal)
        s["balanced_rounds"] = len(pairs_bal)
    s["rounds_with_foreign_wsgitrace"] = sum(1 for x in ok if x.get("foreign_wsgitrace"))
    brps = median([x.get("rps") for x in base])
    if brps:
        # ratio = median of the per-round ratios, each against the same
        # round's baseline (the pairing the interleaving buys); the ratio of
        # the medians is kept alongside
        s["ratio_of_medians"] = s["rps"] / brps
        s["ratio_rounds"] = [x["rps"] / b["rps"] for x, b in zip(rs, base) if "rps" in x and "rps" in b]
        s["ratio"] = median(s["ratio_rounds"]) if s["ratio_rounds"] else s["ratio_of_medians"]
    if a == "wsgitrace":
        s["wt_cpu_us_per_req"] = median([x["wt_cpu_us_per_req"] for x in ok])
        s["wt_cpu_us_per_req_schedstat"] = median([x.get("wt_cpu_us_per_req_schedstat") for x in ok])
        s["wt_hwm_kib"] = max(x["wt_hwm_kib"] for x in ok)
        s["wt_events_lost"] = sum(x["wt_events_lost"] for x in ok)
        s["wt_count_minus_wrk"] = [x["wt_counted"] - x["requests"] for x in ok]
        s["wt_procs_traced"] = [x.get("wt_procs_traced") for x in ok]
        s["server_procs"] = [x.get("server_procs") for x in ok]
    return s


def summarize_throughput(rounds):
    return {"%s/%s" % (kind, a): summarize_approach(a, rounds["%s/%s" % (kind, a)], rounds["%s/none" % kind])
            for kind, _, appr in SERVERS for a in appr}


def log_result(res):
    if "rps" not in res:
        return
    extra = ""
    if "wt_cpu_us_per_req" in res:
        extra = " wt cpu %.2f us/req, counted %d, lost %d" % (
            res["wt_cpu_us_per_req"], res["wt_counted"], res["wt_events_lost"])
    log("  %.0f req/s p50 %.2f ms p99 %.2f ms, other load %.0f%%%s" % (
        res["rps"], res["p50_ms"], res["p99_ms"], res.get("foreign_cpu_pct", -1), extra))


def attempt(fn, *a):
    """fn(*a), or {"error": why} if the run failed."""
    try:
        return fn(*a)
    except FAILURES as e:
        log("  FAILED: %s" % e)
        return {"error": str(e)[:2000]}


def section_throughput(run):
    args, procs = run.args, run.procs
    configs = [(k, a) for k, _, appr in SERVERS for a in appr]
    sink_out = os.path.join(run.workdir, "sink.out")
    sink_port = free_port()
    sink = procs.start("udp-sink", [PY, os.path.join(APPS, "udp_sink.py"), str(sink_port), sink_out])
    rounds = {"%s/%s" % c: [] for c in configs}
    paired = {key: [] for key, _, _, _ in PAIRED}
    try:
        for r in range(args.rounds):
            for kind, appr in configs:
                key = "%s/%s" % (kind, appr)
                log("throughput round %d/%d: %s" % (r + 1, args.rounds, key))
                res = attempt(throughput_round, run, kind, appr, sink_port)
                log_result(res)
                rounds[key].append(res)
            for key, kind, path, cfgs in PAIRED:
                log("throughput round %d/%d: %s %s, one server, %s attached in turn" % (
                    r + 1, args.rounds, kind, path, "/".join(cfgs[1:])))
                res = attempt(paired_round, run, kind, cfgs, r, path, PAIRED_HEADERS.get(key, ()))
                if res.get("none"):
                    log("  " + "  ".join("%s %s" % (c, " ".join("%.0f" % x for x in v))
                                         for c, v in res.items() if c != "detail"))
                paired[key].append(res)
    finally:
        procs.stop(sink, signal.SIGTERM)
    try:
        with open(sink_out) as f:
            sink_datagrams = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        sink_datagrams = None
    return {"duration_s": args.duration, "rounds": args.rounds,
            "wrk": "-c%d -t%d --latency, GET %s" % (WRK["conns"], WRK["threads"], WRK["path"]),
            "per_round": rounds, "summary": summarize_throughput(rounds), "udp_sink_datagrams": sink_datagrams,
            "paired": {"segments_per_round": args.paired_segments, "seconds": args.paired_seconds,
                       "per_round": paired, "summary": summarize_paired(paired)}}
