"""What each operation of wsgitrace's BPF programs costs on this kernel, and
where a traced request's kernel time goes.

A `make bench` section (`--only helpercost`). bench/helpercost.c attaches the
programs of bench/helpercost.bpf.c one at a time to sock_send_length (each is
wsgitrace's traced-process check plus one operation: a helper, a map
operation, a CO-RE read, a ring record), sends on a loopback TCP connection
and reads the kernel's run_time_ns/run_cnt for it; rounds are interleaved in
a shuffled order. An operation's cost is its program's ns per run less the
check-only program's, in the same round; the median over rounds is reported.

The attribution then multiplies those costs by what wsgitrace's programs do
for one gunicorn sync request (a new connection, a request read in one call,
the response sent in two, OPS below, read from bpf/wsgitrace.bpf.c) and by
the runs per request that the progcost section measured, if it ran; beside
it, the same programs measured on bench/reqloop.c, a C server making the
same calls, and behind gunicorn. What the operations do not explain is the
programs' own instructions and what the micro-benchmark's loop hides
(caches, other CPUs writing the same lines).

    /usr/bin/python3 -m bench.helpercost [--sends N] [--rounds R] [--requests N] [--progcost results.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from wtlib.paths import ROOT, WSGITRACE

from .config import BENCH, HELPERCOST
from .errors import BenchError, log
from .procs import Procs, Wsgitrace
from .sysstat import bpf_prog_ids, bpf_prog_stats

# (variant, what it measures, the variant it is the difference to)
VARIANTS = [
    ("empty", "a run: an empty program's counted run time (the statistics' own clock read, the call)", None),
    ("check", "the traced-process check (bpf_get_current_pid_tgid, a bitmap load)", "empty"),
    ("pid_tgid", "bpf_get_current_pid_tgid", "check"),
    ("ktime", "bpf_ktime_get_ns", "check"),
    ("percpu_lookup", "a per-CPU array lookup (scratch record)", "check"),
    ("kstat_inc", "kstat_inc(): a per-CPU array lookup and an increment", "check"),
    ("atomic_add", "an atomic add on a global (lock xadd)", "check"),
    ("slot_load", "maybe_tracked(): the slot count's hash and load", "check"),
    ("hash_hit", "conns lookup, hit (a hot bucket)", "check"),
    ("hash_miss_hot", "conns lookup, miss on a hot bucket", "check"),
    ("hash_miss_spread", "conns lookup, miss on a new bucket each run (262,144 entries)", "check"),
    ("hash_insert_delete", "conns_insert() + conns_delete() of one entry, slot counts kept", "check"),
    ("task_regs", "user_regs() and one bpf_probe_read_kernel of 32 bytes of pt_regs", "check"),
    ("core_read_1", "one CO-RE read of a sock field (bpf_probe_read_kernel)", "check"),
    ("core_read_tcp_4", "four CO-RE reads of tcp_sock fields", "check"),
    ("core_read_128", "one bpf_probe_read_kernel of 128 bytes of tcp_sock", "check"),
    ("sock_ino", "sock_ino(): two chained CO-RE reads", "check"),
    ("read_user_64", "bpf_probe_read_user of 64 bytes (+ a per-CPU lookup)", "check"),
    ("read_user_512", "bpf_probe_read_user of 512 bytes (+ a per-CPU lookup)", "check"),
    ("looks_like", "wt_looks_like_request() over 64 bytes", "read_user_64"),
    ("ringbuf_query", "bpf_ringbuf_query(BPF_RB_AVAIL_DATA)", "check"),
    ("ringbuf_output_64", "bpf_ringbuf_output of 64 bytes (+ a per-CPU lookup)", "check"),
    ("ringbuf_output_568", "bpf_ringbuf_output of a full 568-byte data record (+ a per-CPU lookup)", "check"),
    ("ringbuf_reserve_568", "bpf_ringbuf_reserve + submit of 568 bytes, nothing copied", "check"),
    ("record_via_scratch", "a data record as emit_data() sends it: 512 bytes read into the per-CPU "
     "scratch, then bpf_ringbuf_output", "check"),
    ("record_in_ring", "the same record read straight into a bpf_ringbuf_reserve'd one", "check"),
]

# What wsgitrace's programs do for one gunicorn sync request (a new
# connection per request; the request read in one call, the response sent
# in two short calls: gunicorn writes its headers, then the body), path by
# path, in the operations above: (program, path, runs per request,
# [(operation, count)]). The read_user and ringbuf_output variants include
# a per-CPU lookup each: the scratch record's, and submit()'s fill check.
# Runs not listed (the client's own socket calls, TCP transitions that
# return at the state switch) cost `empty` + `check`, as every run does.
OPS = [
    ("sock_recv", "the server's first read: conn_start, the data record", 1,
     [("task_regs", 1), ("pid_tgid", 2), ("slot_load", 1), ("hash_hit", 1), ("core_read_1", 5),
      ("sock_ino", 1), ("read_user_64", 1), ("looks_like", 1), ("ktime", 1), ("ringbuf_output_64", 1)]),
    ("sock_send", "a send on the tracked connection: the data record", 2,
     [("task_regs", 1), ("pid_tgid", 2), ("slot_load", 1), ("hash_hit", 1), ("read_user_64", 1),
      ("ktime", 1), ("core_read_1", 2), ("ringbuf_output_64", 1)]),
    ("tcp_state", "SYN_RECV -> ESTABLISHED: handshake_done, the entry inserted", 1,
     [("core_read_1", 1), ("ktime", 1), ("hash_insert_delete", 0.5)]),
    ("tcp_state", "ESTABLISHED -> FIN_WAIT1: the close record, the entry deleted", 1,
     [("slot_load", 1), ("hash_hit", 1), ("percpu_lookup", 1), ("ktime", 1), ("pid_tgid", 1),
      ("core_read_1", 2), ("ringbuf_output_64", 1), ("hash_insert_delete", 0.5)]),
    ("tcp_state", "FIN_WAIT1 -> FIN_WAIT2 -> CLOSE, CLOSE_WAIT -> LAST_ACK -> CLOSE: untracked at the slot count", 4,
     [("slot_load", 1)]),
]


def build():
    out = os.path.join(ROOT, "build", "bench")
    os.makedirs(out, exist_ok=True)
    obj, skel, exe = (os.path.join(out, n) for n in ("helpercost.bpf.o", "helpercost.skel.h", "helpercost"))
    arch = "-D__TARGET_ARCH_x86"
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-mcpu=v3", arch, "-I" + os.path.join(ROOT, "include"),
                    "-I" + os.path.join(ROOT, "bpf"), "-I" + os.path.join(ROOT, "vmlinux"), "-Wall", "-Werror",
                    "-c", os.path.join(BENCH, "helpercost.bpf.c"), "-o", obj], check=True)
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    with open(skel, "w") as f:
        subprocess.run([bpftool, "gen", "skeleton", obj, "name", "helpercost_bpf"], check=True, stdout=f)
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-I" + out, "-o", exe,
                    os.path.join(BENCH, "helpercost.c"), "-lbpf", "-lelf", "-lz"], check=True)
    return exe


def build_reqloop():
    exe = os.path.join(ROOT, "build", "bench", "reqloop")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, os.path.join(BENCH, "reqloop.c")],
                   check=True)
    return exe


def hot_programs(procs, wt_binary, requests, rounds, extra=(), counts=True):
    """wsgitrace's own programs on bench/reqloop.c's C server (the same calls
    as a gunicorn sync request, nothing between them): per program, runs and
    us per request, median over rounds. `extra` goes to wsgitrace (a bench
    stage); counts=False for one that counts nothing."""
    loop = subprocess.Popen([build_reqloop()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(n):
        loop.stdin.write("%d\n" % n)
        loop.stdin.flush()
        if loop.stdout.readline().strip() != "done":
            raise BenchError("reqloop stopped")
    try:
        pid = int(loop.stdout.readline().split()[1])
        wt = Wsgitrace(procs, [pid], wt_binary, extra=["--bpf-stats"] + list(extra))
        try:
            ids = bpf_prog_ids(wt.pid)
            run(500)
            c0 = wt.wait_settled(expect=500, timeout=10) if counts else 0
            per = []
            for _ in range(rounds):
                s0 = bpf_prog_stats(ids)
                run(requests)
                s1 = bpf_prog_stats(ids)
                per.append({k: (s1[k][0] - s0[k][0], s1[k][1] - s0[k][1]) for k in s1 if k in s0})
            counted = wt.wait_settled(expect=c0 + 500 + requests * rounds, timeout=20) if counts else None
        finally:
            wt.detach()
    finally:
        loop.stdin.close()
        loop.wait(timeout=10)
    if counts and counted != 500 + requests * rounds:
        raise BenchError("reqloop: wsgitrace counted %s of %d requests" % (counted, 500 + requests * rounds))
    progs = {}
    for name in ("sock_recv", "sock_send", "tcp_state"):
        rows = [r.get(name, (0, 0)) for r in per]
        progs[name] = {"runs_per_req": statistics.median(c / requests for c, _ in rows),
                       "us_per_req": statistics.median(t / requests / 1e3 for _, t in rows)}
    return {"requests": requests, "rounds": rounds, "progs": progs}


def measure(sends, rounds):
    exe = build()
    out = subprocess.run([exe, str(sends), str(rounds)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def summarize(raw):
    """ns per run of each variant, and each operation's cost: the median over
    rounds of its program's ns per run less its reference's, same round."""
    v = raw["variants"]
    ops = {}
    for name, desc, ref in VARIANTS:
        if name not in v:
            continue
        runs = v[name]["ns_per_run"]
        diffs = [a - b for a, b in zip(runs, v[ref]["ns_per_run"])] if ref else runs
        ops[name] = {"desc": desc, "ref": ref, "ns_per_run": statistics.median(runs),
                     "ns": statistics.median(diffs), "min": min(diffs), "max": max(diffs)}
    return {"sends": raw["sends"], "rounds": raw["rounds"], "ops": ops}


def attribute(ops, progcost=None, hot=None):
    """us per gunicorn sync request, per program: the runs' fixed part, each
    operation of OPS, the same programs on reqloop's C server (if measured),
    and what is left of the time measured behind gunicorn (if progcost ran)."""
    base = ops["empty"]["ns"] + ops["check"]["ns"]
    measured = (progcost or {}).get("kinds", {}).get("sync", {}).get("progs", {})
    res = {}
    for prog in ("sock_recv", "sock_send", "tcp_state"):
        paths = [p for p in OPS if p[0] == prog]
        listed = sum(runs for _, _, runs, _ in paths)
        m = measured.get(prog)
        runs = m["runs_per_req"] if m else listed
        parts = {"runs (their counted clock read, the check)": runs * base / 1e3}
        for _, _, n, oplist in paths:
            for op, k in oplist:
                parts[op] = parts.get(op, 0.0) + n * k * ops[op]["ns"] / 1e3
        row = {"runs_per_req": runs, "parts_us": parts, "modelled_us": sum(parts.values())}
        if hot:
            row["hot_us"] = hot["progs"][prog]["us_per_req"]
            row["hot_runs_per_req"] = hot["progs"][prog]["runs_per_req"]
        if m:
            row["measured_us"] = m["us_per_req"]["median"]
            row["rest_us"] = row["measured_us"] - row["modelled_us"]
        res[prog] = row
    return res


def section_helpercost(run):
    """`make bench --only helpercost`."""
    prof = HELPERCOST["quick" if run.args.quick else "full"]
    try:
        res = summarize(measure(prof["sends"], prof["rounds"]))
    except subprocess.CalledProcessError as e:
        raise BenchError("helpercost: %s\n%s" % (e, getattr(e, "stderr", "") or ""))
    if run.wt:
        log("  helpercost: wsgitrace's programs on a C server loop")
        res["hot"] = hot_programs(run.procs, run.wt, prof["requests"], prof["rounds"])
    return res


def helpercost_section(R):
    """BENCHMARKS.md's table (report.py's part)."""
    hc = R.get("helpercost")
    if not hc or "ops" not in hc:
        return ["## What each BPF operation costs\n\nNot run: %s\n" % hc.get("error")] if hc else []
    ops = hc["ops"]
    L = ["## What each BPF operation costs\n",
         "`bench/helpercost.bpf.c`: programs that each do wsgitrace's traced-process check plus one "
         "operation, attached in turn to `sock_send_length` while one process sends %d messages of 600 "
         "bytes on a loopback TCP connection, %d interleaved rounds; ns per run from the kernel's "
         "`run_time_ns`/`run_cnt`, less the check-only program's in the same round (median [min-max] "
         "over rounds). Caches stay hot in this loop, so map operations cost less here than on a busy "
         "server, except the spread miss.\n" % (hc["sends"], hc["rounds"]),
         "| operation | ns |", "|---|---|"]
    for name, desc, ref in VARIANTS:
        o = ops.get(name)
        if o:
            L.append("| %s%s | %.0f [%.0f-%.0f] |" % (desc, "" if ref in (None, "check") else " (less `%s`)" % ref,
                                                     o["ns"], o["min"], o["max"]))
    attr = attribute(ops, R.get("progcost"), hc.get("hot"))
    L += ["\nWhere a gunicorn sync request's kernel time goes (a new connection per request), us: the "
          "operations each program does for it (`OPS` in bench/helpercost.py) times the costs above%s.\n"
          % (", beside the per-program table's measured time" if any("measured_us" in r for r in attr.values())
             else ""),
          "| program | runs per request | part | us per request |", "|---|---|---|---|"]
    if hc.get("hot"):
        L.insert(-2, "`bench/reqloop.c` is a C server making a gunicorn sync request's calls (accept, read, "
                 "write the head, write the body, close) for a C client, %d requests a round, %d rounds, "
                 "traced by wsgitrace: the same programs on the same path with no Python between the calls "
                 "(median over rounds).\n" % (hc["hot"]["requests"], hc["hot"]["rounds"]))
    for prog, r in attr.items():
        for part, us in sorted(r["parts_us"].items(), key=lambda kv: -kv[1]):
            L.append("| %s | %.2f | %s | %.2f |" % (prog, r["runs_per_req"], part, us))
        L.append("| %s | | **modelled** | **%.2f** |" % (prog, r["modelled_us"]))
        if "hot_us" in r:
            L.append("| %s | %.2f | measured on reqloop's C server (the same calls, nothing between them) | %.2f |"
                     % (prog, r["hot_runs_per_req"], r["hot_us"]))
        if "measured_us" in r:
            L.append("| %s | | measured behind gunicorn (the per-program table); less the modelled part | %.2f; %.2f |"
                     % (prog, r["measured_us"], r["rest_us"]))
    return L + [""]


def main():
    ap = argparse.ArgumentParser(prog="python3 -m bench.helpercost", description=__doc__.split("\n")[0])
    ap.add_argument("--sends", type=int, default=HELPERCOST["full"]["sends"])
    ap.add_argument("--rounds", type=int, default=HELPERCOST["full"]["rounds"])
    ap.add_argument("--requests", type=int, default=HELPERCOST["full"]["requests"],
                    help="requests per round on the C server loop (0: not run)")
    ap.add_argument("--wsgitrace", default=WSGITRACE, help="the binary traced the C server loop with")
    ap.add_argument("--progcost", help="a results.json whose progcost section to attribute")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.helpercost: run as root (it loads BPF programs)")
    hc = summarize(measure(args.sends, args.rounds))
    if args.requests:
        workdir = tempfile.mkdtemp(prefix="wt-helpercost-")
        procs = Procs(workdir)
        try:
            hc["hot"] = hot_programs(procs, os.path.abspath(args.wsgitrace), args.requests, args.rounds)
        finally:
            procs.stop_all()
            shutil.rmtree(workdir, ignore_errors=True)
    R = {"helpercost": hc}
    if args.progcost:
        with open(args.progcost) as f:
            R["progcost"] = json.load(f).get("progcost")
    print("\n".join(helpercost_section(R)))

if __name__ == "__main__":
    main()
