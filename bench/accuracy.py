"""Accuracy: wsgitrace's per-request durations against the app's own timer,
and its counts against the requests served."""
import json
import os
import tempfile
import time

from wtlib.client import in_threads, request
from wtlib.exposition import metric_sum

from .config import ACCURACY_THREADS, ACCURACY_WRK
from .procs import Wsgitrace, start_server, wait_quiet
from .stats import quantile
from .wrk import run_wrk

NEGATIVE_SHARE = 0.01  # more negative differences than this: the pairing is off


def bounded_client(port, path, nthreads, per_thread):
    """Exactly nthreads*per_thread requests, each completed (no deadline cut):
    -> number answered 200, number failed."""
    ok, bad = [0] * nthreads, [0] * nthreads

    def run(k):
        for _ in range(per_thread):
            try:
                if request(port, path, timeout=10)[0] == 200:
                    ok[k] += 1
                else:
                    bad[k] += 1
            except (OSError, ValueError, IndexError):
                bad[k] += 1
    in_threads(run, nthreads)
    return sum(ok), sum(bad)


def read_app_times(tdir):
    """{worker pid: [(path, duration ns) lines]} the app wrote, one file per worker."""
    out = {}
    for fn in os.listdir(tdir):
        pid = int(fn.rsplit(".", 1)[1])
        with open(os.path.join(tdir, fn)) as f:
            out[pid] = [ln.split() for ln in f if ln.strip()]
    return out


def read_trace(path):
    out = []
    with open(path) as f:
        for ln in f:
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
    return out


def compare_route(path, phases):
    """wsgitrace's durations against the app's for one route; phases: [(app lines, trace lines)]."""
    diffs, app_all, wt_all, unpaired = [], [], [], 0
    for app_ph, tr_ph in phases:
        a_by = {pid: [int(x[1]) for x in v if x[0] == path] for pid, v in app_ph.items()}
        t_by = {}
        for t in tr_ph:
            if t.get("path") == path:
                t_by.setdefault(t["pid"], []).append(t)
        for pid in set(a_by) | set(t_by):
            a = a_by.get(pid, [])
            t = sorted(t_by.get(pid, []), key=lambda x: x["start_ns"])
            td = [int(round(float(x["duration_seconds"]) * 1e9)) for x in t]
            app_all += a
            wt_all += td
            unpaired += abs(len(a) - len(td))
            diffs += [w - ad for w, ad in zip(td, a)]
    r = {"app_n": len(app_all), "wt_n": len(wt_all), "paired_n": len(diffs), "unpaired": unpaired}
    if diffs:
        neg = sum(1 for d in diffs if d < 0)
        r["method"] = ("paired: per worker pid, in request order (one app file per worker, trace "
                       "lines sorted by start_ns), per phase; %d unpaired" % unpaired)
        r["diff_median_us"] = quantile(diffs, 0.5) / 1e3
        r["diff_p99_us"] = quantile(diffs, 0.99) / 1e3
        r["diff_min_us"] = min(diffs) / 1e3
        r["diff_negative"] = neg
        if neg > NEGATIVE_SHARE * len(diffs):
            r["method"] = "distributions (pairing unreliable: %d negative differences)" % neg
            r["diff_median_us"] = (quantile(wt_all, 0.5) - quantile(app_all, 0.5)) / 1e3
            r["diff_p99_us"] = (quantile(wt_all, 0.99) - quantile(app_all, 0.99)) / 1e3
    if app_all:
        r["app_median_us"] = quantile(app_all, 0.5) / 1e3
        r["app_p99_us"] = quantile(app_all, 0.99) / 1e3
    if wt_all:
        r["wt_median_us"] = quantile(wt_all, 0.5) / 1e3
        r["wt_p99_us"] = quantile(wt_all, 0.99) / 1e3
    return r


def section_accuracy(run):
    if not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    args, procs = run.args, run.procs
    tdir = tempfile.mkdtemp(prefix="apptimes-", dir=run.workdir)
    trace = os.path.join(run.workdir, "trace.jsonl")
    wait_quiet(procs)
    srv = start_server(procs, "sync", "plain_app", env={"WT_APP_TIMES_DIR": tdir})
    wt = None
    res = {}
    try:
        # The readiness GET was not traced: compare only what follows.
        wt = Wsgitrace(procs, [srv.pid], run.wt, trace_out=trace)
        mark0 = {pid: len(v) for pid, v in read_app_times(tdir).items()}
        c0 = wt.request_count()
        # Phase A: saturation with wrk (which stops with requests in flight).
        runs = []
        dur = max(2, args.duration // 2)
        for path, conns in ACCURACY_WRK:
            w = run_wrk(srv.port, path, dur, conns=conns, threads=min(2, conns))
            runs.append({"path": path, "conns": conns, "requests": w["requests"],
                         "non2xx": w["non2xx"], "socket_errors": w["socket_errors"]})
        wrk_total = sum(r["requests"] for r in runs)
        wt.wait_settled(expect=c0 + wrk_total, timeout=5.0)
        c_mid = wt.wait_settled(timeout=3.0)
        t_mid = time.monotonic_ns()
        mark1 = {pid: len(v) for pid, v in read_app_times(tdir).items()}
        # Phase B: a bounded client, every request completed: counts must be exact.
        per_thread = args.accuracy_per_thread
        b_ok, b_bad = bounded_client(srv.port, "/test/", ACCURACY_THREADS, per_thread)
        wt.wait_settled(expect=c_mid + b_ok, timeout=5.0)
        c_end = wt.wait_settled(timeout=2.0)
        m = wt.metrics()
        lost = metric_sum(m, "wsgitrace_events_lost_total")
        unanswered = metric_sum(m, "wsgitrace_unanswered_requests_total")
        wt.detach()
        wt = None
        lines = read_app_times(tdir)
        app_a = {pid: v[mark0.get(pid, 0):mark1.get(pid, 0)] for pid, v in lines.items()}
        app_b = {pid: v[mark1.get(pid, 0):] for pid, v in lines.items()}
        tr = read_trace(trace)
        tr_a = [t for t in tr if t["start_ns"] < t_mid]
        tr_b = [t for t in tr if t["start_ns"] >= t_mid]
        n_app_a = sum(len(v) for v in app_a.values())
        n_app_b = sum(len(v) for v in app_b.values())
        res.update({
            "runs": runs, "wrk_requests": wrk_total,
            "phase_a": {"app": n_app_a, "wt_metric": int(c_mid - c0), "wt_trace": len(tr_a),
                        "wrk": wrk_total},
            "phase_b": {"client_ok": b_ok, "client_failed": b_bad, "app": n_app_b,
                        "wt_metric": int(c_end - c_mid), "wt_trace": len(tr_b),
                        "threads": ACCURACY_THREADS, "per_thread": per_thread},
            "app_requests": n_app_a + n_app_b, "wt_metric_requests": int(c_end - c0),
            "wt_trace_lines": len(tr), "wt_events_lost": lost, "wt_unanswered": unanswered})
        res["exact"] = (b_ok == n_app_b == int(c_end - c_mid) == len(tr_b) and b_bad == 0)
        res["routes"] = {path: compare_route(path, ((app_a, tr_a), (app_b, tr_b)))
                         for path, _ in ACCURACY_WRK}
    finally:
        if wt:
            wt.detach()
        procs.stop(srv)
    return res
