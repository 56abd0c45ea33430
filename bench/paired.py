"""Same server, wsgitrace attached and detached in turn (and its bench
stages): the ratio without the spread between server starts."""
import random
import statistics

from .config import PAIRED_LOAD_S, SERVER_APP, STAGE_ARGS
from .procs import Wsgitrace, start_server, wait_quiet
from .stats import median, median_ci
from .sysstat import proc_cpu_ns, worker_balance, worker_pids
from .wrk import run_wrk


def paired_round(run, kind, configs, seed, path="/test/", headers=()):
    """One server start; every configuration measured run.args.paired_segments
    times, in a shuffled order in each segment, wsgitrace started by --pid
    before its runs and stopped after. -> {config: [rps per segment]}."""
    if not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    args, procs = run.args, run.procs
    rnd = random.Random(seed)
    wait_quiet(procs)
    srv = start_server(procs, kind, SERVER_APP.get(kind, "plain_app"))
    out = {c: [] for c in configs}
    # per run: the workers' balance and wsgitrace's own CPU, to explain outliers
    detail = {c: [] for c in configs}
    try:
        run_wrk(srv.port, path, args.warmup, headers=headers)
        kids = worker_pids(srv.pid)
        for _ in range(args.paired_segments):
            order = list(configs)
            rnd.shuffle(order)
            for c in order:
                wt = Wsgitrace(procs, [srv.pid], run.wt, extra=STAGE_ARGS[c]) if c != "none" else None
                try:
                    run_wrk(srv.port, path, PAIRED_LOAD_S, headers=headers)
                    k0 = [proc_cpu_ns(p) or 0 for p in kids]
                    w0 = proc_cpu_ns(wt.pid) if wt else 0
                    res = run_wrk(srv.port, path, args.paired_seconds, headers=headers)
                    out[c].append(res["rps"])
                    b = worker_balance(kids, k0)
                    wt_ns = (proc_cpu_ns(wt.pid) or 0) - w0 if wt else 0
                    detail[c].append({"balance": round(b, 2) if b is not None else None,
                                      "wt_cpu_ms": round(wt_ns / 1e6, 1),
                                      "wt_us_per_req": round(wt_ns / 1e3 / res["requests"], 3) if wt else None})
                finally:
                    if wt:
                        wt.detach()
    finally:
        procs.stop(srv)
    out["detail"] = detail
    return out


def summarize_paired(rounds):
    """rounds: {kind: [{config: [rps...]}, ...]} -> per kind and config the
    ratios of each segment's run to the same segment's untraced run."""
    out = {}
    for kind, rs in rounds.items():
        ok = [r for r in rs if isinstance(r, dict) and r.get("none")]
        if not ok:
            continue
        k = out[kind] = {"segments": sum(len(r["none"]) for r in ok), "rounds": len(ok)}
        for c in ok[0]:
            if c in ("none", "detail"):
                continue
            per_round = [[x / b for x, b in zip(r.get(c, []), r["none"])] for r in ok]
            ratios = [x for rr in per_round for x in rr]
            if not ratios:
                continue
            ci = median_ci(ratios)
            k[c] = {"ratio": median(ratios), "mean": statistics.mean(ratios), "n": len(ratios),
                    "ci95": list(ci) if ci else None,
                    "round_ratios": [median(rr) for rr in per_round if rr]}
            wt_us = [d["wt_us_per_req"] for r in ok for d in r.get("detail", {}).get(c, [])
                     if d.get("wt_us_per_req") is not None]
            if wt_us:
                k[c]["wt_cpu_us_per_req"] = median(wt_us)
    return out
