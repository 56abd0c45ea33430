"""What wsgitrace's BPF programs cost per request, from the kernel's own accounting.

A `make bench` section (`--only progcost`) and a command-line A/B of builds.

The section starts one server of each kind (gunicorn sync and uWSGI with a new
connection per request, gunicorn gthread over keep-alive) and, in each round,
runs `ab -c 8` against it once with no tracer and once with wsgitrace attached
by --pid with --bpf-stats, in a shuffled order. With the tracer it reads the
run_time_ns and run_cnt the kernel keeps for each of the daemon's programs
(bpftool) and the daemon's own CPU; without it, what the request costs the
server's processes and the whole machine. run_time_ns is the CPU time of the
program itself, so other load on the machine moves it less than it moves
throughput; medians over rounds are reported with their range.

The command line compares builds on one server (gunicorn sync by default):

    make OUT=/tmp/wt-x BPF_CFLAGS=-DMY_KNOB /tmp/wt-x/wsgitrace
    /usr/bin/python3 -m bench.progcost build/wsgitrace /tmp/wt-x/wsgitrace --rounds 5 --idle 3

Each round runs every build once, in a shuffled order, on the same server:
per build, each program's cost and the daemon's own CPU per request; then
each build less the first, round by round. --idle also measures the daemon's
CPU with no load for that many seconds before each round's requests: its own
wakeups, a fixed cost a second that each request shares the more of the fewer
requests a second the server makes.
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .config import PROGCOST, STAGE_ARGS
from .errors import BenchError, log
from .procs import Procs, Wsgitrace, start_server
from .sysstat import BPF_STATS_SYSCTL, bpf_prog_ids, bpf_prog_stats, children_pids, proc_cpu_ns, stat_cpu_ns

# (kind, description, ab keeps connections alive)
KINDS = [("sync", "gunicorn sync, 2 workers, a new connection per request", False),
         ("gthread", "gunicorn gthread, 2 workers x 4 threads, keep-alive", True),
         ("uwsgi", "uWSGI --http-socket, 2 processes, a new connection per request", False)]


def machine_busy_ns():
    """All CPUs' time not idle (user, nice, system, irq, softirq) from /proc/stat:
    loopback traffic's softirq work is part of what a request costs the machine."""
    return stat_cpu_ns(("user", "nice", "system", "irq", "softirq"))


def run_ab(port, path, conc, n, keepalive=False):
    argv = ["ab", "-q", "-c", str(conc), "-n", str(n)] + (["-k"] if keepalive else [])
    out = subprocess.run(argv + ["http://127.0.0.1:%d%s" % (port, path)],
                         check=True, capture_output=True, text=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    if failed or re.search(r"Non-2xx responses:\s+(\d+)", out):
        raise BenchError("ab: failed requests\n" + out)


def server_cpu_ns(srv):
    return sum(proc_cpu_ns(p) or 0 for p in [srv.pid] + children_pids(srv.pid))


def caught_up_cpu_ns(pid, timeout=10.0, idle_share=0.02, interval=0.1):
    """The daemon's CPU once it has drained what the load left in the ring (it
    drains on a timer): when it uses less than idle_share of a CPU, only its
    own polling is left, whose cost is not the requests'."""
    deadline = time.monotonic() + timeout
    prev = proc_cpu_ns(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        cur = proc_cpu_ns(pid)
        if cur - prev < idle_share * interval * 1e9:
            return cur
        prev = cur
    return prev


def measured(srv, ab, wt=None):
    """One measured ab run: {server_ns, machine_ns[, progs, daemon_ns]}."""
    ids = bpf_prog_ids(wt.pid) if wt else set()
    ps0 = bpf_prog_stats(ids)
    d0 = proc_cpu_ns(wt.pid) if wt else 0
    s0, m0 = server_cpu_ns(srv), machine_busy_ns()
    ab()
    s1, m1 = server_cpu_ns(srv), machine_busy_ns()
    res = {"server_ns": s1 - s0, "machine_ns": m1 - m0}
    if wt:
        ps1 = bpf_prog_stats(ids)
        res["daemon_ns"] = caught_up_cpu_ns(wt.pid) - d0
        res["progs"] = {n: (ps1[n][0] - ps0[n][0], ps1[n][1] - ps0[n][1]) for n in ps1 if n in ps0}
    return res


def kind_rounds(run, kind, keepalive, rounds, n):
    procs, conc, path = run.procs, PROGCOST["conc"], PROGCOST["path"]
    srv = start_server(procs, kind, "plain_app")
    ab = lambda k=n: run_ab(srv.port, path, conc, k, keepalive)  # noqa: E731
    # filter: the programs attached, returning after the traced-process
    # check (a bench stage): what running them at all costs, counting nothing.
    out = {"none": [], "wsgitrace": [], "filter": []}
    try:
        ab(2000)
        for _ in range(rounds):
            order = list(out)
            random.shuffle(order)
            for c in order:
                if c == "none":
                    out[c].append(measured(srv, ab))
                    continue
                extra = ["--bpf-stats"] + (STAGE_ARGS[c] if c != "wsgitrace" else [])
                wt = Wsgitrace(procs, [srv.pid], run.wt, extra=extra)
                try:
                    ab(200)  # the daemon has seen the workers
                    c0 = wt.wait_settled(timeout=10)
                    r = measured(srv, ab, wt)
                    if c == "wsgitrace":
                        r["counted"] = wt.wait_settled(expect=c0 + n, timeout=20) - c0
                    out[c].append(r)
                finally:
                    wt.detach()
                if c == "wsgitrace" and r["counted"] != n:
                    raise BenchError("%s: wsgitrace counted %d of %d requests" % (kind, r["counted"], n))
    finally:
        procs.stop(srv)
    return out


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def summarize(rs, n):
    """Per request, over the rounds: each program's runs and us, the daemon, the untraced request."""
    wt, none = rs["wsgitrace"], rs["none"]
    progs = {}
    for name in sorted({k for r in wt for k in r["progs"]}):
        rows = [r["progs"].get(name, (0, 0)) for r in wt]
        if not any(c for c, _ in rows):
            continue
        progs[name] = {"runs_per_req": statistics.median(c / n for c, _ in rows),
                       "ns_per_run": spread([t / c if c else 0 for c, t in rows]),
                       "us_per_req": spread([t / n / 1e3 for _, t in rows])}
    kernel = [sum(t for _, t in r["progs"].values()) / n / 1e3 for r in wt]
    floor = [sum(t for _, t in r["progs"].values()) / n / 1e3 for r in rs["filter"]]
    return {"requests": n, "rounds": len(wt), "progs": progs,
            "filter_us_per_req": spread(floor) if floor else None,
            "kernel_us_per_req": spread(kernel),
            "daemon_us_per_req": spread([r["daemon_ns"] / n / 1e3 for r in wt]),
            "total_us_per_req": spread([k + r["daemon_ns"] / n / 1e3 for k, r in zip(kernel, wt)]),
            "untraced_server_us_per_req": spread([r["server_ns"] / n / 1e3 for r in none]),
            "untraced_machine_us_per_req": spread([r["machine_ns"] / n / 1e3 for r in none]),
            "traced_server_us_per_req": spread([r["server_ns"] / n / 1e3 for r in wt]),
            "traced_machine_us_per_req": spread([r["machine_ns"] / n / 1e3 for r in wt])}


def section_progcost(run):
    """`make bench --only progcost`: the per-program table for each server kind."""
    if not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    prof = PROGCOST["quick" if run.args.quick else "full"]
    rounds, n = prof["rounds"], prof["requests"]
    res = {"rounds": rounds, "requests": n, "conc": PROGCOST["conc"], "path": PROGCOST["path"], "kinds": {}}
    for kind, _, keepalive in KINDS:
        log("  progcost %s: %d rounds of %d requests" % (kind, rounds, n))
        res["kinds"][kind] = summarize(kind_rounds(run, kind, keepalive, rounds, n), n)
    return res


def cell(s, f="%.2f"):
    return (f + " [" + f + "-" + f + "]") % (s["median"], s["min"], s["max"]) if s else "-"


def progcost_section(R):
    """BENCHMARKS.md's per-program table (report.py's part)."""
    pc = R.get("progcost")
    if not pc:
        return []
    if "kinds" not in pc:
        return ["## What each program costs per request\n\nNot run: %s\n" % (pc.get("skipped") or pc.get("error"))]
    L = ["## What each program costs per request\n",
         "The kernel's own accounting of wsgitrace's BPF programs (`run_time_ns` and `run_cnt`, on while "
         "wsgitrace runs with `--bpf-stats`, as `bpftool prog show` prints them), over `ab -c %d -n %d` "
         "`GET %s` against one server of each kind, %d rounds; in each round the same server also runs "
         "the same load with no tracer, in a shuffled order. Medians over the rounds, [min-max]. Runs "
         "count every process on the machine: ab's own sockets pass the same hooks and return at "
         "the first check. The daemon's CPU is its on-CPU time (schedstat) from the load's start "
         "until it has drained the ring (its idle polling afterwards left out). "
         "The untraced request's CPU is what the same request costs with no tracer: the server's "
         "processes (schedstat), and the whole machine (/proc/stat, ab and softirq included). The "
         "filter stage's row is the same load with every program attached but returning at once: what "
         "the kernel's running them costs before any work (the tracepoint's dispatch, and the "
         "statistics' own clock reads, which the kernel counts in the run time).\n" % (
             pc["conc"], pc["requests"], pc["path"], pc["rounds"]),
         "| server | program | runs per request | ns per run | us per request |", "|---|---|---|---|---|"]
    for kind, desc, _ in KINDS:
        k = pc["kinds"].get(kind)
        if not k:
            continue
        for name, v in k["progs"].items():
            L.append("| %s | %s | %.2f | %s | %s |" % (desc, name, v["runs_per_req"], cell(v["ns_per_run"], "%.0f"),
                                                      cell(v["us_per_req"])))
        L.append("| %s | **all programs** | | | **%s** |" % (desc, cell(k["kernel_us_per_req"])))
        if k.get("filter_us_per_req"):
            L.append("| %s | all programs, returning after the traced-process check (`--bench-stage=filter`) "
                     "| | | %s |" % (desc, cell(k["filter_us_per_req"])))
        L.append("| %s | the daemon | | | %s |" % (desc, cell(k["daemon_us_per_req"])))
        L.append("| %s | **wsgitrace in all** | | | **%s** |" % (desc, cell(k["total_us_per_req"])))
        L.append("| %s | untraced request: server processes / whole machine | | | %s / %s |" % (
            desc, cell(k["untraced_server_us_per_req"], "%.0f"), cell(k["untraced_machine_us_per_req"], "%.0f")))
    return L + [""]


# The daemon's own CPU in a round's results: (ns, no runs).
DAEMON = "(daemon)"
# Its CPU with no load, ns a second (--idle).
IDLE = "(daemon idle)"


def one_round(procs, srv, binary, args, check=True):
    wt = Wsgitrace(procs, [srv.pid], binary)
    try:
        ids = bpf_prog_ids(wt.pid)
        run_ab(srv.port, args.path, args.conc, 200, args.keepalive)  # the daemon has seen the workers
        base_count = wt.wait_settled(timeout=10) if check else 0
        idle = None
        if args.idle:
            # The daemon's CPU with nothing to trace: its own wakeups, whose
            # share of a request's cost is the larger the fewer requests a second.
            i0 = caught_up_cpu_ns(wt.pid)
            time.sleep(args.idle)
            idle = (proc_cpu_ns(wt.pid) - i0) / args.idle
        before = bpf_prog_stats(ids)
        d0 = proc_cpu_ns(wt.pid)
        run_ab(srv.port, args.path, args.conc, args.requests, args.keepalive)
        after = bpf_prog_stats(ids)
        daemon_ns = caught_up_cpu_ns(wt.pid) - d0
        if check:
            count = wt.wait_settled(expect=base_count + args.requests, timeout=20) - base_count
    finally:
        wt.detach()
    if check and count != args.requests:
        raise RuntimeError("%s counted %d of %d requests" % (binary, count, args.requests))
    res = {name: (after[name][1] - before.get(name, (0, 0))[1], after[name][0] - before.get(name, (0, 0))[0])
           for name in after}
    res[DAEMON] = (daemon_ns, 0)
    if idle is not None:
        res[IDLE] = (idle, 0)
    return res


def main():
    ap = argparse.ArgumentParser(prog="python3 -m bench.progcost", description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+", help="wsgitrace binaries (or scripts that exec one)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conc", type=int, default=8)
    ap.add_argument("--path", default="/test/")
    ap.add_argument("--kind", default="sync", choices=("sync", "gthread", "uwsgi"))
    ap.add_argument("--keepalive", action="store_true", help="ab -k")
    ap.add_argument("--idle", type=float, default=0,
                    help="also measure the daemon's CPU over this many seconds with no load, before each round")
    ap.add_argument("--uncounted", action="append", default=[],
                    help="a binary that counts nothing on purpose (--bench-stage=no-records): no count check")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.progcost: run as root (wsgitrace loads BPF programs)")
    binaries = [os.path.abspath(b) for b in args.binaries]
    uncounted = {os.path.abspath(b) for b in args.uncounted}
    res = {b: [] for b in binaries}
    workdir = tempfile.mkdtemp(prefix="wt-progcost-")
    procs = Procs(workdir)
    with open(BPF_STATS_SYSCTL) as f:
        stats_was = f.read().strip()
    try:
        with open(BPF_STATS_SYSCTL, "w") as f:
            f.write("1")
        srv = start_server(procs, args.kind, "plain_app")
        run_ab(srv.port, args.path, args.conc, 2000, args.keepalive)
        for r in range(args.rounds):
            order = list(binaries)
            random.shuffle(order)
            for b in order:
                res[b].append(one_round(procs, srv, b, args, check=b not in uncounted))
                print("round %d %s %s" % (r + 1, b, res[b][-1]), flush=True)
    finally:
        procs.stop_all()
        with open(BPF_STATS_SYSCTL, "w") as f:
            f.write(stats_was)
        shutil.rmtree(workdir, ignore_errors=True)
    n = args.requests
    for b in binaries:
        print("\n%s (%d rounds of %d requests; median [min-max])" % (b, args.rounds, n))
        print("| program | runs per request | ns per run | us per request |")
        print("|---|---|---|---|")
        names = sorted({k for r in res[b] for k in r} - {DAEMON, IDLE})
        total = [0.0] * len(res[b])
        for name in names:
            rows = [r.get(name, (0, 0)) for r in res[b]]
            rpr = [c / n for t, c in rows]
            npr = [t / c if c else 0 for t, c in rows]
            upr = [t / n / 1000 for t, c in rows]
            for i, u in enumerate(upr):
                total[i] += u
            if max(rpr) == 0:
                continue
            print("| %s | %.2f | %.0f [%.0f-%.0f] | %.3f [%.3f-%.3f] |" % (
                name, statistics.median(rpr), statistics.median(npr), min(npr), max(npr),
                statistics.median(upr), min(upr), max(upr)))
        print("| all | | | %.3f [%.3f-%.3f] |" % (statistics.median(total), min(total), max(total)))
        daemon = [r[DAEMON][0] / n / 1000 for r in res[b]]
        print("| the daemon | | | %.3f [%.3f-%.3f] |" % (statistics.median(daemon), min(daemon), max(daemon)))
        if args.idle:
            idle = [r[IDLE][0] / 1000 for r in res[b]]
            print("| the daemon with no load, us a second | | | %.0f [%.0f-%.0f] |" % (
                statistics.median(idle), min(idle), max(idle)))
    if len(binaries) > 1:
        paired(binaries, res, n)


def per_round_us(rounds, n, names):
    """Per round: each program's, all programs' and the daemon's us per
    request, and the idle daemon's us a second."""
    out = []
    for r in rounds:
        progs = [r.get(k, (0, 0))[0] / n / 1000 for k in names]
        out.append(progs + [sum(t for k, (t, c) in r.items() if k not in (DAEMON, IDLE)) / n / 1000,
                            r[DAEMON][0] / n / 1000, r.get(IDLE, (0, 0))[0] / 1000])
    return out


def paired(binaries, res, n):
    """Each build less the first, round by round: the rounds share the
    machine's state, so their differences vary less than either build's own
    figures do."""
    names = ["sock_recv", "sock_send", "tcp_state"]
    cols = names + ["all programs", "the daemon", "the daemon with no load, us a second"]
    base = per_round_us(res[binaries[0]], n, names)
    print("\nless %s, per round (median [min-max] of the paired differences; rounds lower), us per request"
          % binaries[0])
    print("| build | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for b in binaries[1:]:
        d = [[p - q for p, q in zip(x, y)] for x, y in zip(per_round_us(res[b], n, names), base)]
        cells = []
        for i in range(len(cols)):
            v = [x[i] for x in d]
            cells.append("%+.3f [%+.3f..%+.3f]; %d" % (statistics.median(v), min(v), max(v),
                                                       sum(1 for x in v if x < 0)))
        print("| %s | %s |" % (b, " | ".join(cells)))


if __name__ == "__main__":
    main()
