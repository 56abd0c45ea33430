"""HTTPS served by the server: what the SSL probes cost a process that is not
traced (nothing, by design: they are attached per traced process, never to
the library for the node), and a TLS gunicorn with wsgitrace attached and
detached in turn, same server."""
import json
import os
import random
import ssl
import subprocess
import urllib.request

from wtlib.net import free_port, wait_for
from wtlib.paths import PY
from wtlib.servers import Server

from .config import PAIRED_LOAD_S, TLS_CONFIGS, TLS_SERVER
from .errors import FAILURES, BenchError, log
from .paired import summarize_paired
from .procs import READY_S, Wsgitrace, other_wsgitraces, server_argv, wait_quiet
from .sysstat import children_pids, proc_cpu_ns, wait_still
from .stats import g, median
from .wrk import run_wrk

# A process's SSL calls, alone: a client and a server SSL object in
# one Python process, joined by memory BIOs (no socket, no syscall), trading
# 64 B each way. Each round trip is four SSL calls (SSL_write_ex, SSL_read_ex
# on each side), each of which would take a breakpoint trap if the probes
# were on the library for the whole node. Run traced too (wsgitrace --pid
# naming it), it shows what the probes cost a traced server per SSL call.
SSL_LOOP = r"""
import json, ssl, sys, time
cert, key, n, best = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
ci, co, si, so = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
c, s = cctx.wrap_bio(ci, co), sctx.wrap_bio(si, so, server_side=True)
for _ in range(20):
    done = 0
    for x in (c, s):
        try:
            x.do_handshake()
            done += 1
        except ssl.SSLWantReadError:
            pass
    si.write(co.read())
    ci.write(so.read())
    if done == 2:
        break
msg = b"x" * 64

def loop():
    t = time.perf_counter_ns()
    for _ in range(n):
        c.write(msg)
        si.write(co.read())
        s.read(64)
        s.write(msg)
        ci.write(so.read())
        c.read(64)
    return (time.perf_counter_ns() - t) / n

if sys.argv[5:] == ["wait"]:
    sys.stdin.readline()  # its probes attached
loop()
rt = min(loop() for _ in range(best))
print(json.dumps({"roundtrip_ns": rt, "ssl_call_ns": rt / 4}))
"""


def fmt(v, f):
    return "-" if v is None else f % v


def make_cert(workdir):
    """A throwaway EC certificate (cheap handshakes: the server's work, not RSA's, is measured)."""
    cert, key = os.path.join(workdir, "tls-cert.pem"), os.path.join(workdir, "tls-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def answers_tls(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen("https://127.0.0.1:%d/test/" % port, timeout=5, context=ctx) as r:
            return r.status == 200
    except OSError:
        return False


def start_tls_server(procs, cert, key, workers=2):
    """start_server's TLS twin: the bench app over HTTPS, answering, workers booted."""
    port = free_port()
    argv = server_argv(TLS_SERVER, "plain_app", port, workers, ["--certfile", cert, "--keyfile", key])
    srv = procs.add(Server(argv, "%s-tls" % TLS_SERVER, port=port, workers=workers, workdir=procs.workdir,
                           timeout=READY_S))
    wait_for(lambda: answers_tls(port) or not srv.alive(), timeout=READY_S, what="%s: GET /test/ 200" % srv.name)
    if not srv.alive():
        raise BenchError("%s exited:\n%s" % (srv.name, srv.output()))
    wait_still(lambda: [proc_cpu_ns(k) for k in children_pids(srv.pid)], timeout=30)
    return srv


def wait_probes(wt, n):
    """The SSL probes on n processes of the traced server: only then is their cost in the run."""
    wait_for(lambda: wt.self_metric("wsgitrace_tls_processes_attached") >= n, timeout=60,
             what="the SSL probes on %d processes" % n)


def traced_loop(run, cpu, cert, key, n, best):
    """The SSL loop as a traced process: wsgitrace --pid names it; it loops once its probes are on."""
    p = subprocess.Popen(["taskset", "-c", cpu, PY, "-c", SSL_LOOP, cert, key, str(n), str(best), "wait"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wt = None
    try:
        wt = Wsgitrace(run.procs, [p.pid], run.wt)
        wait_probes(wt, 1)
        out, _ = p.communicate("go\n", timeout=600)
        if p.returncode:
            raise BenchError("the traced SSL loop failed (%d)" % p.returncode)
        return out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if wt:
            wt.detach()


def untraced_client(run, cert, key):
    """ns per SSL call of an untraced process, nothing attached vs wsgitrace attached to a
    traced TLS gunicorn whose probes are live on the same libssl; and of the same loop traced."""
    args, procs = run.args, run.procs
    n, best = args.tls_calls, args.syscall_best_of
    configs = ["nothing"] + (["wsgitrace", "traced"] if run.wt else [])
    srv = start_tls_server(procs, cert, key)
    per = {c: [] for c in configs}
    cpu = "1" if os.cpu_count() > 1 else "0"
    try:
        for r in range(args.rounds):
            for name in configs:
                log("tls untraced client round %d/%d: %s" % (r + 1, args.rounds, name))
                wt = None
                try:
                    wait_quiet(procs)
                    if name == "wsgitrace":
                        wt = Wsgitrace(procs, [srv.pid], run.wt)
                        wait_probes(wt, 3)
                    if name == "traced":
                        out = traced_loop(run, cpu, cert, key, n, best)
                    else:
                        out = subprocess.run(["taskset", "-c", cpu, PY, "-c", SSL_LOOP, cert, key, str(n), str(best)],
                                             capture_output=True, text=True, check=True, timeout=600).stdout
                    per[name].append(json.loads(out))
                    per[name][-1]["foreign_wsgitrace"] = len(other_wsgitraces(procs))
                    log("  " + out.strip())
                except FAILURES + (subprocess.SubprocessError, ValueError) as e:
                    log("  FAILED: %s" % e)
                    per[name].append({"error": str(e)[:2000]})
                finally:
                    if wt:
                        wt.detach()
    finally:
        procs.stop(srv)
    summary = {}
    base = median([x.get("ssl_call_ns") for x in per["nothing"]])
    for name in configs:
        v = median([x.get("ssl_call_ns") for x in per[name]])
        summary[name] = {"ssl_call_ns": v, "added_ns": (v - base) if v is not None and base is not None else None}
    return {"calls_per_round": n, "best_of": best, "rounds": args.rounds, "pinned_cpu": cpu,
            "per_round": per, "summary": summary}


def tls_paired_round(run, cert, key, seed):
    """One TLS gunicorn; wsgitrace attached (its probes on every worker) and detached in
    turn, shuffled in each segment, as the plain same-server rows. -> {config: [rps]}"""
    args, procs = run.args, run.procs
    rnd = random.Random(seed)
    wait_quiet(procs)
    srv = start_tls_server(procs, cert, key)
    out = {c: [] for c in TLS_CONFIGS}
    try:
        run_wrk(srv.port, "/test/", args.warmup, scheme="https")
        for _ in range(args.paired_segments):
            order = list(TLS_CONFIGS)
            rnd.shuffle(order)
            for c in order:
                wt = Wsgitrace(procs, [srv.pid], run.wt) if c != "none" else None
                try:
                    if wt:
                        wait_probes(wt, 3)
                    run_wrk(srv.port, "/test/", PAIRED_LOAD_S, scheme="https")
                    res = run_wrk(srv.port, "/test/", args.paired_seconds, scheme="https")
                    if res["socket_errors"] or res["non2xx"]:
                        raise BenchError("wrk over TLS: %d socket errors, %d non-2xx"
                                         % (res["socket_errors"], res["non2xx"]))
                    out[c].append(res["rps"])
                finally:
                    if wt:
                        wt.detach()
    finally:
        procs.stop(srv)
    return out


def section_tls(run):
    cert, key = make_cert(run.workdir)
    res = {"untraced": untraced_client(run, cert, key)}
    rounds = []
    if run.wt:
        for r in range(run.args.rounds):
            log("tls same server round %d/%d" % (r + 1, run.args.rounds))
            try:
                rounds.append(tls_paired_round(run, cert, key, r))
            except FAILURES as e:
                log("  FAILED: %s" % e)
                rounds.append({"error": str(e)[:2000]})
    res["paired"] = {"segments_per_round": run.args.paired_segments, "seconds": run.args.paired_seconds,
                     "per_round": rounds, "summary": summarize_paired({"tls_sync": rounds}).get("tls_sync")}
    return res


def tls_report(R):
    """Two tables: an untraced process's SSL calls, and the TLS gunicorn same-server ratio."""
    t = R.get("tls")
    if not t or "untraced" not in t:
        return []
    u = t["untraced"]
    L = ["## HTTPS served by the server\n",
         "**An untraced process's SSL calls.** A Python process (not traced) trades 64 B each way "
         "between a client and a server SSL object joined by memory BIOs: four SSL calls per round "
         "trip (`SSL_write_ex`, `SSL_read_ex` on each side), no syscall. With wsgitrace attached, a "
         "TLS gunicorn is traced meanwhile and the SSL probes are live on its processes, on the same "
         "`libssl.so.3`; the looping process must not take their breakpoint. Pinned to CPU %s, best of "
         "%d loops of %d round trips, %d interleaved rounds (medians of the bests). The last row is "
         "what the probes cost a traced server per SSL call (an entry and a return probe).\n"
         % (u["pinned_cpu"], u["best_of"], u["calls_per_round"], u["rounds"]),
         "| configuration | ns per SSL call | added |", "|---|---|---|"]
    for name, desc in (("nothing", "nothing attached"), ("wsgitrace", "wsgitrace attached, TLS gunicorn traced"),
                       ("traced", "the looping process itself traced (`--pid`): its SSL probes hit")):
        s = g(u, "summary", name)
        if s:
            L.append("| %s | %s | %s |" % (desc, fmt(s.get("ssl_call_ns"), "%.0f"),
                                           fmt(s.get("added_ns"), "%+.0f") if name != "nothing" else "-"))
    p = g(t, "paired", "summary")
    if p and "wsgitrace" in p:
        w = p["wsgitrace"]
        ci = w.get("ci95")
        L += ["", "**TLS gunicorn, same server.** gunicorn sync, 2 workers, `--certfile/--keyfile` "
              "(P-256 certificate), `wrk` over HTTPS on `GET /test/` (a new TLS connection per request: "
              "sync closes each); wsgitrace attached by `--pid` (its SSL probes on every worker) and "
              "detached in turn, %d s per run, %d segments in %d rounds.\n"
              % (t["paired"]["seconds"], p["segments"], p["rounds"]),
              "| server | wsgitrace / none (median) | 95% CI | per round |", "|---|---|---|---|",
              "| gunicorn sync TLS | %s | %s | %s |"
              % (fmt(w["ratio"], "%.3f"), "%.3f-%.3f" % tuple(ci) if ci else "-",
                 ", ".join("%.3f" % x for x in w.get("round_ratios", [])))]
    return L + [""]
