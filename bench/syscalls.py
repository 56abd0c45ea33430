"""What wsgitrace costs the processes it does not trace: ns added per
syscall, measured by bench/syscall_cost.c beside a traced, idle server."""
import json
import os
import subprocess

from wtlib.paths import ROOT

from .config import BENCH, SC_CONFIGS, SC_TESTS
from .errors import FAILURES, log
from .procs import Wsgitrace, other_wsgitraces, start_server, wait_quiet
from .stats import median


def build_syscall_cost():
    out = os.path.join(ROOT, "build", "bench")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "syscall_cost")
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-o", exe, os.path.join(BENCH, "syscall_cost.c")],
                   check=True)
    return exe


def hook_set(wt):
    """The hook set wsgitrace reports in wsgitrace_build_info."""
    for (name, labels), _ in wt.metrics().items():
        if name == "wsgitrace_build_info":
            return dict(labels).get("hook")
    return None


def summarize(per):
    summary = {}
    base = per["nothing"]
    for name in per:
        s = {}
        for t, _, _ in SC_TESTS:
            vals = [x[t] for x in per[name] if t in x]
            bvals = [x[t] for x in base if t in x]
            if not vals or not bvals:
                continue
            s[t] = {"ns": median(vals), "added_ns": median(vals) - median(bvals),
                    "rounds": vals, "noise_ns": (max(bvals) - min(bvals)) if len(bvals) > 1 else None}
        summary[name] = s
    return summary


def section_syscalls(run):
    args, procs = run.args, run.procs
    exe = build_syscall_cost()
    n, inner = args.syscall_calls, args.syscall_best_of
    configs = [(c, extra) for c, extra in SC_CONFIGS if extra is None or run.wt]
    # A traced, idle server, so wsgitrace has something to attach to; the
    # looping C program is not part of it.
    srv = start_server(procs, "sync", "plain_app")
    per = {c: [] for c, _ in configs}
    hooks = {}
    cpu = "1" if os.cpu_count() > 1 else "0"
    try:
        for r in range(args.rounds):
            for name, extra in configs:
                log("syscalls round %d/%d: %s" % (r + 1, args.rounds, name))
                wt = None
                try:
                    left = wait_quiet(procs)
                    if left:
                        log("  other wsgitrace daemons still running: %s" % left)
                    if extra is not None:
                        wt = Wsgitrace(procs, [srv.pid], run.wt, extra=extra)
                        hooks[name] = hook_set(wt)
                    out = subprocess.run(["taskset", "-c", cpu, exe, str(n), str(inner)],
                                         capture_output=True, text=True, check=True, timeout=600)
                    per[name].append(json.loads(out.stdout))
                    per[name][-1]["foreign_wsgitrace"] = len(left) or len(other_wsgitraces(procs))
                    log("  " + out.stdout.strip())
                except FAILURES + (subprocess.SubprocessError, ValueError) as e:
                    log("  FAILED: %s" % e)
                    per[name].append({"error": str(e)[:2000]})
                finally:
                    if wt:
                        wt.detach()
    finally:
        procs.stop(srv)
    return {"calls_per_round": n, "best_of": inner, "rounds": args.rounds, "pinned_cpu": cpu,
            "hooks": hooks, "per_round": per, "summary": summarize(per)}
