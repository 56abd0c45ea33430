"""Scale: scrape time and memory with many live series, and memory with
many idle keep-alive connections tracked."""
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

from wtlib.client import KeepAlive, in_threads
from wtlib.exposition import metric_sum, parse_exposition
from wtlib.paths import HIST, PY, ROOT

from .config import SCALE
from .errors import log
from .procs import Wsgitrace, start_server
from .stats import median
from .sysstat import children_pids, proc_cpu_ns, proc_status_kib, wait_still

IP_BIND_ADDRESS_NO_PORT = 24
REQ = b"GET /test/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECT_BATCH = 500


def request_each_path(port, nseries, nthreads):
    """GET /s/<i> for every i < nseries over keep-alive, nthreads at once; -> failures."""
    errors = []

    def client(k):
        c = KeepAlive(port, timeout=10)
        for i in range(k, nseries, nthreads):
            for attempt in range(3):
                try:
                    c.get("/s/%d" % i)
                    break
                except (OSError, http.client.HTTPException) as e:
                    c.close()
                    c = KeepAlive(port, timeout=10)
                    if attempt == 2:
                        errors.append(str(e))
        c.close()
    in_threads(client, nthreads)
    return errors


def scrape_ms(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t = time.perf_counter()
    c.request("GET", "/metrics")
    c.getresponse().read()
    ms = (time.perf_counter() - t) * 1e3
    c.close()
    return ms


def section_series(run):
    if not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    args, procs = run.args, run.procs
    nseries = args.series
    srv = start_server(procs, "gthread", "plain_app")
    wt = None
    res = {"target_series": nseries}
    try:
        wt = Wsgitrace(procs, [srv.pid], run.wt, extra=["--no-fold-ids", "--max-series", str(nseries * 2),
                                                          "--max-series-per-service", str(nseries * 2)])
        rss0 = wt.rss_kib()
        t0 = time.monotonic()
        errors = request_each_path(srv.port, nseries, SCALE["series_threads"])
        res["load_s"] = time.monotonic() - t0
        res["client_errors"] = len(errors)
        # The daemon drained (its CPU stands still over several drain
        # periods), then RSS before any full scrape.
        wait_still(lambda: proc_cpu_ns(wt.pid), timeout=10, interval=0.1)
        res["wt_rss_kib_before_scrape"] = wt.rss_kib()
        wt.wait_settled(expect=nseries, timeout=10)
        text = wt.metrics_text()
        samples = parse_exposition(text)
        routes = [dict(l).get("http_route", "") for (n, l) in samples if n == HIST + "_count"]
        res["series_in_metrics"] = len(routes)
        res["series_s_routes"] = sum(1 for r in routes if r.startswith("/s/"))
        res["metrics_lines"] = len(text.splitlines())
        res["metrics_bytes"] = len(text.encode())
        res["series_dropped"] = metric_sum(samples, "wsgitrace_series_dropped_total")
        times = [scrape_ms(wt.mport) for _ in range(args.scrapes)]
        res["scrapes"] = args.scrapes
        res["scrape_ms_median"] = median(times)
        res["scrape_ms_max"] = max(times)
        res["scrape_ms_all"] = times
        res["wt_rss_kib_start"] = rss0
        res["wt_rss_kib"] = wt.rss_kib()
        res["wt_hwm_kib"] = wt.hwm_kib()
    finally:
        if wt:
            wt.detach()
        procs.stop(srv)
    return res


def conns_client(n, port, src, timeout):
    """Child mode: open n keep-alive connections from `src`, one request each,
    print one JSON line, then hold them until stdin closes."""
    socks = []
    closed = 0
    reason = None
    t0 = time.monotonic()
    while len(socks) < n and reason is None:
        if time.monotonic() - t0 > timeout:
            reason = "time limit %ds" % timeout
            break
        cur = []
        for _ in range(min(CONNECT_BATCH, n - len(socks))):
            s = socket.socket()
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((src, 0))
                s.settimeout(15)
                s.connect(("127.0.0.1", port))
                s.sendall(REQ)
            except OSError as e:
                s.close()
                reason = "connect #%d: %s" % (len(socks) + len(cur), e)
                break
            cur.append(s)
        for s in cur:
            got = b""
            try:
                while b"rest" not in got and len(got) < 65536:
                    d = s.recv(4096)
                    if not d:
                        raise OSError("closed by server")
                    got += d
            except OSError as e:
                reason = reason or "response #%d: %s" % (len(socks), e)
                s.close()
                continue
            # gthread closes a connection after its response once the worker
            # keeps max_keepalived (worker_connections - threads) idle ones:
            # that connection is not open, and wsgitrace rightly forgets it
            if b"\r\nconnection: close\r\n" in got.split(b"\r\n\r\n", 1)[0].lower() + b"\r\n":
                closed += 1
                s.close()
                continue
            socks.append(s)
    print(json.dumps({"open": len(socks), "closed_by_server": closed, "reason": reason,
                      "seconds": time.monotonic() - t0}), flush=True)
    sys.stdin.read()  # hold until the parent closes our stdin
    for s in socks:
        s.close()


def start_clients(nproc, per_client, target, port, timeout):
    """nproc client processes, each from its own loopback source address."""
    clients = []
    for k in range(nproc):
        n = min(per_client, target - k * per_client)
        clients.append(subprocess.Popen(
            [PY, "-m", "bench", "--conns-client", str(n), str(port), "127.0.%d.1" % (k + 1), str(timeout)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True))
    return clients


def stop_clients(clients):
    for c in clients:
        try:
            c.stdin.close()
        except OSError:
            pass
    for c in clients:
        try:
            c.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(c.pid, signal.SIGKILL)
            c.wait()


def section_conns(run):
    if not run.wt:
        return {"skipped": "build/wsgitrace not built"}
    args, procs = run.args, run.procs
    target = args.conns
    # RLIMIT_NOFILE cannot be raised past the hard limit without
    # CAP_SYS_RESOURCE, so spread the connections over several server workers
    # and several client processes, each under the per-process limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    per = max(1000, min(hard, 1 << 20) - 2000)
    nproc = (target + per - 1) // per
    per_client = (target + nproc - 1) // nproc
    # the workers do not share the connections out evenly: allow each one
    # all it can hold, and count the ones the server closes anyway
    wconn = per
    res = {"target": target, "nofile_limit": hard, "clients": nproc,
           "server": "gunicorn gthread, %d workers, --worker-connections %d, --keep-alive 3600"
           % (nproc, wconn)}
    srv = start_server(procs, "gthread", "plain_app", workers=nproc,
                       extra=["--worker-connections", str(wconn), "--keep-alive", "3600",
                              "--backlog", "4096"])
    wt = None
    clients = []
    try:
        wt = Wsgitrace(procs, [srv.pid], run.wt)
        rss0 = wt.rss_kib()
        res["wt_conns_active_start"] = metric_sum(wt.metrics(), "wsgitrace_connections_active")
        t0 = time.monotonic()
        clients = start_clients(nproc, per_client, target, srv.port, args.conns_timeout)
        reached, server_closed, reasons = 0, 0, []
        for c in clients:
            line = c.stdout.readline()  # bounded: the child gives up after conns_timeout
            try:
                r = json.loads(line)
            except ValueError:
                reasons.append("client died: %r" % line)
                continue
            reached += r["open"]
            server_closed += r["closed_by_server"]
            if r["reason"]:
                reasons.append(r["reason"])
        res["open_s"] = time.monotonic() - t0
        res["reached"] = reached
        res["closed_by_server"] = server_closed
        res["source_ips"] = nproc
        res["stop_reason"] = "; ".join(reasons) or None
        log("conns: %d open in %.0fs" % (reached, res["open_s"]))
        deadline = time.monotonic() + 15
        active = None
        while time.monotonic() < deadline:
            m = wt.metrics()
            active = metric_sum(m, "wsgitrace_connections_active")
            if active >= reached:
                break
            time.sleep(0.2)
        res["wt_conns_active"] = active
        res["wt_conns_dropped"] = metric_sum(m, "wsgitrace_connections_dropped_total")
        res["wt_conns_expired"] = metric_sum(m, "wsgitrace_connections_expired_total")
        res["wt_procs_traced"] = metric_sum(m, "wsgitrace_processes_traced")
        res["server_procs"] = 1 + len(children_pids(srv.pid))
        res["wt_events_lost"] = metric_sum(m, "wsgitrace_events_lost_total")
        res["wt_requests"] = wt.request_count(m)
        res["scrape_ms"] = scrape_ms(wt.mport)
        res["wt_rss_kib_start"] = rss0
        res["wt_rss_kib"] = wt.rss_kib()
        res["wt_hwm_kib"] = wt.hwm_kib()
        res["server_worker_rss_kib"] = sum(proc_status_kib(k, "VmRSS") or 0 for k in children_pids(srv.pid))
    finally:
        stop_clients(clients)
        if wt:
            wt.detach()
        procs.stop(srv)
    return res
