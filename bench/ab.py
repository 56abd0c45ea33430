"""Paired A/B of wsgitrace builds on one running server (not part of `make bench`).

One gunicorn (or uWSGI) server stays up; each round runs wrk once with no
tracer and once with each given wsgitrace binary attached by --pid, in a
shuffled order, and reports the median of the per-round ratios to the
untraced run. Attaching to the same worker processes takes away the
variance between server starts; what is left, about 3.5% per round of 2 s
on a 2-core machine, still needs ~30 rounds to resolve 1.5%. For
kernel-side changes:

    make OUT=/tmp/wt-x BPF_CFLAGS=-DMY_KNOB /tmp/wt-x/wsgitrace
    /usr/bin/python3 -m bench.ab build/wsgitrace /tmp/wt-x/wsgitrace --rounds 30 --duration 2

A "binary" may be a script that execs one with flags, e.g. a bench stage:
`exec /path/to/wsgitrace --bench-stage=no-records "$@"`.
"""
import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile

from .procs import Procs, Wsgitrace, start_server
from .wrk import run_wrk


def main():
    ap = argparse.ArgumentParser(prog="python3 -m bench.ab", description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+", help="wsgitrace binaries to compare with no tracer")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--kind", default="sync", choices=("sync", "gthread", "uwsgi"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.ab: run as root (wsgitrace loads BPF programs)")
    configs = ["none"] + [os.path.abspath(b) for b in args.binaries]
    rps = {c: [] for c in configs}
    workdir = tempfile.mkdtemp(prefix="wt-ab-")
    procs = Procs(workdir)
    try:
        srv = start_server(procs, args.kind, "plain_app")
        run_wrk(srv.port, "/test/", 3)
        for r in range(args.rounds):
            order = list(configs)
            random.shuffle(order)
            for c in order:
                wt = Wsgitrace(procs, [srv.pid], c) if c != "none" else None
                # every configuration gets the same warm-up after its start
                run_wrk(srv.port, "/test/", args.warmup)
                rps[c].append(run_wrk(srv.port, "/test/", args.duration)["rps"])
                if wt:
                    wt.detach()
            print("round %d: %s" % (r + 1, "  ".join("%s %.0f" % (c, rps[c][-1]) for c in configs)),
                  flush=True)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    base = rps["none"]
    for c in configs[1:]:
        ratios = [x / b for x, b in zip(rps[c], base)]
        print("%s: median ratio %.4f, mean %.4f, ratio of medians %.4f (%s)" % (
            c, statistics.median(ratios), statistics.mean(ratios),
            statistics.median(rps[c]) / statistics.median(base), " ".join("%.3f" % x for x in ratios)))


if __name__ == "__main__":
    main()
