"""What wsgitrace's BPF programs cost per request, from the kernel's own accounting.

One server stays up (gunicorn sync, 2 workers, by default); each round attaches
every given wsgitrace binary by --pid in a shuffled order, runs
`ab -c CONC -n N` (a new connection per request) and reads the run_time_ns and
run_cnt that the kernel keeps for each of that daemon's programs while
kernel.bpf_stats_enabled is 1. run_time_ns is the CPU time of the program
itself, so other load on the machine moves it less than it moves throughput;
the medians over rounds are reported with their range.

    /usr/bin/python3 -m bench.progcost build/wsgitrace /tmp/wt-x/wsgitrace --rounds 5
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

from .procs import Procs, Wsgitrace, start_server

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def prog_ids(pid):
    """ids of the BPF programs a process holds (program and link fds)."""
    ids = set()
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def prog_stats(ids):
    """{name: (run_time_ns, run_cnt)} of the given program ids, from bpftool."""
    import json
    out = subprocess.run(["bpftool", "-j", "prog", "show"], check=True, capture_output=True, text=True).stdout
    res = {}
    for p in json.loads(out):
        if p["id"] in ids:
            t, c = res.get(p["name"], (0, 0))
            res[p["name"]] = (t + p.get("run_time_ns", 0), c + p.get("run_cnt", 0))
    return res


def run_ab(port, path, conc, n):
    out = subprocess.run(["ab", "-q", "-c", str(conc), "-n", str(n), "http://127.0.0.1:%d%s" % (port, path)],
                         check=True, capture_output=True, text=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        raise RuntimeError("ab: failed requests\n" + out)


def one_round(procs, srv, binary, args, check=True):
    wt = Wsgitrace(procs, [srv.pid], binary)
    try:
        ids = prog_ids(wt.pid)
        run_ab(srv.port, args.path, args.conc, 200)  # the daemon has seen the workers
        base_count = wt.wait_settled(timeout=10) if check else 0
        before = prog_stats(ids)
        run_ab(srv.port, args.path, args.conc, args.requests)
        after = prog_stats(ids)
        if check:
            count = wt.wait_settled(expect=base_count + args.requests, timeout=20) - base_count
    finally:
        wt.detach()
    if check and count != args.requests:
        raise RuntimeError("%s counted %d of %d requests" % (binary, count, args.requests))
    return {name: (after[name][0] - before.get(name, (0, 0))[0], after[name][1] - before.get(name, (0, 0))[1])
            for name in after}


def main():
    ap = argparse.ArgumentParser(prog="python3 -m bench.progcost", description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+", help="wsgitrace binaries (or scripts that exec one)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conc", type=int, default=8)
    ap.add_argument("--path", default="/test/")
    ap.add_argument("--kind", default="sync", choices=("sync", "gthread", "uwsgi"))
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
    with open(STATS_SYSCTL) as f:
        stats_was = f.read().strip()
    try:
        with open(STATS_SYSCTL, "w") as f:
            f.write("1")
        srv = start_server(procs, args.kind, "plain_app")
        run_ab(srv.port, args.path, args.conc, 2000)
        for r in range(args.rounds):
            order = list(binaries)
            random.shuffle(order)
            for b in order:
                res[b].append(one_round(procs, srv, b, args, check=b not in uncounted))
                print("round %d %s %s" % (r + 1, b, res[b][-1]), flush=True)
    finally:
        procs.stop_all()
        with open(STATS_SYSCTL, "w") as f:
            f.write(stats_was)
        shutil.rmtree(workdir, ignore_errors=True)
    n = args.requests
    for b in binaries:
        print("\n%s (%d rounds of %d requests; median [min-max])" % (b, args.rounds, n))
        print("| program | runs per request | ns per run | us per request |")
        print("|---|---|---|---|")
        names = sorted({k for r in res[b] for k in r})
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


if __name__ == "__main__":
    main()
