"""`make bench`: runs the sections, writes results.json, the chart and BENCHMARKS.md."""
import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from wtlib.paths import GUNICORN, ROOT, UWSGI, WSGITRACE

from . import __doc__ as DOC
from .accuracy import section_accuracy
from .budget import budget
from .chart import render_chart
from .config import CHART, PAIRED_SECONDS, PROFILES, REPORT, RESULTS, SCALE, SECTIONS
from .errors import FAILURES, log
from .notes import collect_notes
from .helpercost import section_helpercost
from .paired import summarize_paired
from .procs import Procs
from .progcost import section_progcost
from .report import render_report
from .scale import conns_client, section_conns, section_series
from .stats import g
from .sysstat import machine_info
from .syscalls import section_syscalls
from .throughput import section_throughput, summarize_throughput
from .tls import section_tls
from .wrk import WRK

RUN = {"throughput": section_throughput, "syscalls": section_syscalls, "accuracy": section_accuracy,
       "series": section_series, "conns": section_conns, "progcost": section_progcost,
       "helpercost": section_helpercost, "tls": section_tls}


class Run:
    """What every section gets: the options, the process registry, a scratch
    folder, and the wsgitrace binary (None if it is not built)."""

    def __init__(self, args, procs, workdir, wt):
        self.args, self.procs, self.workdir, self.wt = args, procs, workdir, wt


def parse_args():
    ap = argparse.ArgumentParser(prog="make bench BENCH_ARGS=...", description=DOC,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    full, quick = PROFILES["full"], PROFILES["quick"]
    ap.add_argument("--quick", action="store_true", help="short rounds, for a smoke run")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default %d, quick %d)"
                    % (full["rounds"], quick["rounds"]))
    ap.add_argument("--duration", type=int, help="seconds per wrk run (default %d, quick %d)"
                    % (full["duration"], quick["duration"]))
    ap.add_argument("--paired-segments", type=int,
                    help="runs of each configuration per round on the shared server (default %d, quick %d)"
                    % (full["paired_segments"], quick["paired_segments"]))
    ap.add_argument("--paired-seconds", type=int, default=PAIRED_SECONDS, help="seconds per run on the shared server")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS) +
                    " (others keep their figures from the previous results.json)")
    ap.add_argument("--series", type=int, default=SCALE["series"], help="live series for the scrape test")
    ap.add_argument("--conns", type=int, default=SCALE["conns"], help="keep-alive connections to open")
    ap.add_argument("--conns-timeout", type=int, default=SCALE["conns_timeout"], help="seconds allowed to open them")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, traces)")
    ap.add_argument("--render-only", action="store_true",
                    help="only re-render BENCHMARKS.md and the chart from bench/results.json")
    ap.add_argument("--conns-client", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    profile = PROFILES["quick" if args.quick else "full"]
    for k, v in profile.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    args.sections = SECTIONS if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        ap.error("unknown section(s) %s; choose from %s" % (",".join(bad), ",".join(SECTIONS)))
    return args


def save(R):
    with open(RESULTS, "w") as f:
        json.dump(R, f, indent=1, sort_keys=True)


def finish(R):
    """Notes, budget, chart and report from the results."""
    R["notes"] = collect_notes(R)
    R["budget"] = [{"line": line, "verdict": v, "measured": d} for _, line, v, d in budget(R)]
    save(R)
    render_chart(R)
    render_report(R)


def render_only():
    with open(RESULTS) as f:
        R = json.load(f)
    if g(R, "throughput", "per_round"):
        R["throughput"]["summary"] = summarize_throughput(R["throughput"]["per_round"])
    if g(R, "throughput", "paired", "per_round"):
        R["throughput"]["paired"]["summary"] = summarize_paired(R["throughput"]["paired"]["per_round"])
    finish(R)


def previous_results(args):
    if not (args.only and os.path.exists(RESULTS)):
        return {}
    try:
        with open(RESULTS) as f:
            return json.load(f)
    except ValueError:
        return {}


def run_sections(R, run):
    for sec in run.args.sections:
        log("== %s" % sec)
        t0 = time.monotonic()
        try:
            R[sec] = RUN[sec](run)
        except FAILURES as e:
            log("%s FAILED: %s" % (sec, e))
            R[sec] = {"error": str(e)[:4000]}
        finally:
            run.procs.stop_all()
        R[sec].update(date=R["date"], command=R["command"], wsgitrace=R["machine"].get("wsgitrace_version"),
                      elapsed_s=round(time.monotonic() - t0, 1))
        save(R)


def main():
    args = parse_args()
    if args.render_only:
        return render_only()
    if args.conns_client:
        n, port, src, tmo = args.conns_client
        return conns_client(int(n), int(port), src, int(tmo))
    if os.geteuid() != 0:
        sys.exit("bench: run as root (wsgitrace loads BPF programs)")
    for exe in (GUNICORN, UWSGI, WRK):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s missing (make deps)" % exe)
    have_wt = os.access(WSGITRACE, os.X_OK)
    if not have_wt:
        log("WARNING: %s not built; wsgitrace configurations are skipped (run make)" % WSGITRACE)
    R = previous_results(args)
    R["machine"] = machine_info(WSGITRACE)
    R["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    R["command"] = "make bench" + (" BENCH_ARGS='%s'" % " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    R["quick"] = args.quick
    R["notes"] = []
    workdir = tempfile.mkdtemp(prefix="wsgitrace-bench-")
    wt = None
    if have_wt:
        # One binary for the whole run, even if build/ is rebuilt meanwhile.
        wt = os.path.join(workdir, "wsgitrace")
        shutil.copy2(WSGITRACE, wt)
    procs = Procs(workdir)

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        run_sections(R, Run(args, procs, workdir, wt))
    finally:
        procs.stop_all()
        if args.keep:
            log("scratch kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    finish(R)
    log("wrote %s, %s, %s" % tuple(os.path.relpath(p, ROOT) for p in (RESULTS, REPORT, CHART)))
    for _, line, v, d in budget(R):
        log("budget %-4s %s: %s" % (v, line, d))


if __name__ == "__main__":
    main()
