"""Queue time, requests in flight, busy workers and the listen backlog.

Eight clients at once on a route that sleeps 100 ms, against servers with
fewer workers than clients: requests wait in the listen backlog, every
worker is busy, and the gauges must say so while it lasts and read zero
after. An async server (uvicorn) holds all eight at once in one process:
there the gauges and queue time must say what the README's table for async
servers says.
"""
import collections
import os
import re
import socket
import threading
import time
import unittest

import harness as h

CLIENTS = 8
SLEEP_MS = 100
# The median request's queue time and the clients' wait minus the app's agree within this:
# what is left is the worker's own time from its read to the app, under a millisecond
# mostly, but on a shared 2-core machine a uWSGI worker was seen taking 3-9 ms for five
# of eight requests. A queue time measured from the wrong moment would be off by a sleep
# (100 ms), which this and the check against half a sleep still catch.
AGREE_MS = 10


def timed_request(port, ms, route="sleep"):
    """One request; the client's connect start and end, and the app's start, in CLOCK_MONOTONIC ns."""
    t0 = time.monotonic_ns()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t1 = time.monotonic_ns()
    path = "/%s/%d" % (route, ms)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    data = h.read_all(s)
    s.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    hdr = dict((k.lower(), v) for k, v in (l.split(": ", 1) for l in head.split("\r\n")[1:]))
    return {"connect_start": t0, "connect_end": t1, "app_start": int(hdr["x-app-start-ns"]),
            "status": int(head.split()[1]), "path": path}


def gauges(tracer, name):
    return {dict(l).get("service_name"): v for (n, l), v in tracer.metrics().items() if n == name}


class SaturationCase:
    server_args = ()
    kind = "gunicorn"
    workers = 2        # processes that serve
    concurrency = 2    # requests served at once
    backlog = True     # waiting requests wait in the kernel's accept queue
    service = h.SERVICE
    route = "sleep"
    loop_blocked = False  # the route blocks an event loop: the wait for it is not queue time

    def start_server(self):
        if self.kind == "uvicorn":
            port = h.free_port()
            argv = [h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port),
                    "--log-level", "warning"] + list(self.server_args)
            return h.Server(argv, "sat", port=port)
        if self.kind == "gunicorn":
            return h.gunicorn("sat", *self.server_args, workers=self.workers)
        port = h.free_port()
        return h.uwsgi("sat", "--http-socket", "127.0.0.1:%d" % port, *self.server_args,
                       port=port, workers=self.workers)

    def test_queue_time_busy_workers_backlog(self):
        server = self.start_server()
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), trace=True)
        self.addCleanup(tracer.cleanup)
        svc = self.service
        h.wait_for(lambda: gauges(tracer, "wsgi_server_workers").get(svc) == self.workers,
                   what="%d workers" % self.workers)
        results = {}

        def client(i):
            # A sleep of its own, a millisecond apart, tells the requests apart in --trace.
            r = timed_request(server.port, SLEEP_MS + i, self.route)
            results[r["path"]] = r
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        # While loaded: every worker busy, requests in flight, connections in the backlog.
        seen = {}

        def loaded():
            m = tracer.metrics()
            g = {n: v for (n, l), v in m.items() if dict(l).get("service_name") == svc}
            seen.update(g)
            return (g.get("wsgi_server_workers_busy") == self.workers
                    and g.get("http_server_active_requests", 0) >= self.concurrency
                    and (g.get("wsgi_server_listen_queue_length", 0) >= 1 or not self.backlog))
        h.wait_for(loaded, timeout=30, interval=0.01, what="all workers busy with a backlog")
        for t in threads:
            t.join()
        self.assertEqual([r["status"] for r in results.values()], [200] * CLIENTS)
        label = "/%s/{id}" % self.route
        tracer.wait_counts({("GET", label, "200"): CLIENTS}, service=svc)
        # After: nothing in flight, nobody busy, an empty backlog with its limit known.
        h.wait_for(lambda: gauges(tracer, "wsgi_server_workers_busy").get(svc) == 0
                   and gauges(tracer, "http_server_active_requests").get(svc) == 0
                   and gauges(tracer, "wsgi_server_listen_queue_length").get(svc) == 0,
                   what="idle gauges")
        self.assertGreater(gauges(tracer, "wsgi_server_listen_queue_limit").get(svc, 0), 0)
        self.assertEqual(gauges(tracer, "wsgi_server_workers").get(svc), self.workers)

        # Queue time per request against the clients' and the app's clocks.
        traces = sorted((t for t in tracer.traces() if t["route"] == label),
                        key=lambda t: t["start_ns"])
        self.assertEqual(len(traces), CLIENTS)
        self.assertTrue(all(t["queue_seconds"] is not None for t in traces), traces)
        waits = []
        for t in traces:
            r = results[t["path"]]
            q = int(round(t["queue_seconds"] * 1e9))
            # Causal: the handshake came after the client's connect began, the
            # read before the app ran; so the wait cannot exceed that span.
            self.assertLessEqual(q, r["app_start"] - r["connect_start"], (t, r))
            waits.append((r["app_start"] - r["connect_end"]) - q)
            if self.loop_blocked:
                # The rest of the client's wait before the app ran is inside the
                # request's duration, after its read.
                d = int(round(t["duration_seconds"] * 1e9))
                self.assertGreaterEqual(q + d, r["app_start"] - r["connect_end"] + SLEEP_MS * 1e6 * 0.9
                                        - AGREE_MS * 1e6, (t, r))
        if self.loop_blocked:
            # One request at a time: the last began after the other seven had
            # slept, yet no queue time holds that wait, which is in the duration.
            rounds = CLIENTS - 1
            last = max(r["app_start"] - r["connect_end"] for r in results.values())
            self.assertGreaterEqual(last / 1e9, rounds * SLEEP_MS / 1000.0 * 0.9)
            self.assertLess(max(t["queue_seconds"] for t in traces), rounds * SLEEP_MS / 1000.0 * 0.9, traces)
            print("%s: queue time ms: %s; client wait for the app ms: %s" % (
                type(self).__name__, " ".join("%.1f" % (t["queue_seconds"] * 1e3) for t in traces),
                " ".join("%.1f" % ((results[t["path"]]["app_start"] - results[t["path"]]["connect_end"]) / 1e6)
                         for t in traces)))
            return
        # What is left is the worker's own time from its read to the app's
        # handler (parsing, routing): under a millisecond typically. The first
        # request a worker serves also runs the framework's first-dispatch
        # setup (tens of ms under uWSGI), and a worker preempted in between
        # shows more: the median agrees within a few ms, none by half a sleep.
        waits.sort()
        print("%s: queue time vs clients minus app, ms: %s" % (
            type(self).__name__, " ".join("%.2f" % (w / 1e6) for w in waits)))
        self.assertLess(abs(waits[len(waits) // 2]) / 1e6, AGREE_MS, waits)
        self.assertLess(max(waits) / 1e9, SLEEP_MS / 1000.0 / 2, waits)
        # CLIENTS requests through `concurrency` slots of SLEEP_MS each: the
        # last ones waited for the others to be served.
        rounds = (CLIENTS - 1) // self.concurrency
        self.assertGreaterEqual(max(t["queue_seconds"] for t in traces), rounds * SLEEP_MS / 1000.0 * 0.9)
        if rounds == 0:
            # Nobody waited for a free slot: queue time is only how late the
            # server got to the connection, far less than one request's sleep.
            self.assertLess(max(t["queue_seconds"] for t in traces), SLEEP_MS / 1000.0 / 2, traces)
        count = [v for (n, l), v in tracer.metrics().items()
                 if n == "http_server_request_queue_duration_seconds_count" and dict(l)["service_name"] == svc]
        self.assertEqual(count, [CLIENTS])


class TestGunicornSync(SaturationCase, unittest.TestCase):
    server_args = ("-w", "2")


class TestGunicornGthread(SaturationCase, unittest.TestCase):
    """gthread accepts every connection at once and queues it itself: the
    wait is still from the handshake to the read, but not in the backlog. One
    worker, since one of two may accept all eight connections."""
    server_args = ("-w", "1", "-k", "gthread", "--threads", "1")
    workers = 1
    concurrency = 1
    backlog = False


class TestUvicornAsync(SaturationCase, unittest.TestCase):
    """One uvicorn process, an async route that sleeps: it accepts all eight
    connections at once and holds them in flight together, so the one worker
    is busy, eight requests are active, nothing waits in the backlog for a
    worker, and each queue time is how late the event loop got to its
    connection (README: async servers)."""
    kind = "uvicorn"
    server_args = ("--workers", "1", "--http", "h11")
    service = "fastapi_app"
    workers = 1
    concurrency = CLIENTS
    backlog = False


class TestUvicornBlockedLoop(SaturationCase, unittest.TestCase):
    """One uvicorn process, an async route that blocks its event loop: the
    requests run one at a time, connections wait in the backlog until the
    loop accepts and reads them, and from that read on their wait for the
    loop is in the request's duration, not its queue time (README: async
    servers). Whether a connection is read before or after the first block
    is the scheduler's choice, so the backlog is not required."""
    kind = "uvicorn"
    server_args = ("--workers", "1", "--http", "h11")
    service = "fastapi_app"
    route = "block"
    loop_blocked = True
    workers = 1
    concurrency = 1
    backlog = False


class TestUwsgiProcesses(SaturationCase, unittest.TestCase):
    kind = "uwsgi"
    server_args = ("--processes", "2")


class TestUwsgiThreads(SaturationCase, unittest.TestCase):
    kind = "uwsgi"
    server_args = ("--processes", "1", "--threads", "2")
    workers = 1
    concurrency = 2


# uvicorn's access log: `INFO:     127.0.0.1:40000 - "GET /block/5 HTTP/1.1" 200 OK`.
ACCESS = re.compile(r' - "(\S+) (\S+) HTTP/[0-9.]+" (\d{3})')


class TestUvicornWorkersSaturated(unittest.TestCase):
    """uvicorn --workers 2 with more clients than it serves at once: clients that send,
    one request per connection, to routes that block a worker's event loop, sleep
    without blocking it, fail and miss. Both workers are busy at once while the
    clients run; every response counts once, exactly as the clients tallied it and
    as uvicorn's own access log lists it, from the two workers and not the supervisor."""
    clients = 8
    each = 20  # requests per client at least; they go on until both workers were seen busy
    paths = [("/block/20", "/block/{id}"), ("/sleep/20", "/sleep/{id}"), ("/test/", "/test/"),
             ("/block/5", "/block/{id}"), ("/test1/", "/test1/"), ("/does-not-exist", "/does-not-exist")]

    def test_counts_against_clients_and_access_log(self):
        port = h.free_port()
        # The access log goes to stdout, written by both workers: unbuffered, a line per write.
        server = h.Server([h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--workers", "2",
                           "--log-level", "info"], "sat-workers", port=port, workers=3,
                          env={"PYTHONUNBUFFERED": "1"})
        self.addCleanup(server.kill_group)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), trace=True)
        self.addCleanup(tracer.cleanup)
        svc = "fastapi_app"
        h.wait_for(lambda: gauges(tracer, "wsgi_server_workers").get(svc) == 2, what="2 workers")
        route = dict(self.paths)
        tallies = [collections.Counter() for _ in range(self.clients)]
        errors = []
        done = threading.Event()

        def client(k):
            i = k
            while not done.is_set() or sum(tallies[k].values()) < self.each:
                path = self.paths[i % len(self.paths)][0]
                i += 1
                try:
                    st, _ = h.request(port, path)
                except (OSError, IndexError, ValueError) as e:
                    errors.append("%s: %r" % (path, e))
                    return
                tallies[k][("GET", path, str(st))] += 1
        threads = [threading.Thread(target=client, args=(k,)) for k in range(self.clients)]
        for t in threads:
            t.start()
        seen = {"busy": 0, "active": 0, "backlog": 0}

        def both_busy():
            g = {n: v for (n, l), v in tracer.metrics().items() if dict(l).get("service_name") == svc}
            for key, name in (("busy", "wsgi_server_workers_busy"), ("active", "http_server_active_requests"),
                              ("backlog", "wsgi_server_listen_queue_length")):
                seen[key] = max(seen[key], g.get(name, 0))
            return g.get("wsgi_server_workers_busy") == 2 or errors
        try:
            h.wait_for(both_busy, timeout=60, interval=0.005, what="both workers busy at once")
        finally:
            done.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        sent = collections.Counter()
        for t in tallies:
            sent.update(t)
        total = sum(sent.values())
        by_route = collections.Counter()
        for (m, path, st), v in sent.items():
            by_route[(m, route[path], st)] += v
        self.assertEqual({st for (_, _, st) in sent}, {"200", "404", "500"})
        tracer.wait_counts(dict(by_route), service=svc, timeout=60)

        # uvicorn's own record: a line per response, written before its body went out.
        def logged():
            with open(server.out, errors="replace") as f:
                return collections.Counter(ACCESS.search(line).groups() for line in f if ACCESS.search(line))
        h.wait_for(lambda: logged() == sent, what="the access log to list every response")

        # Served by the two workers, both of them; nothing by the supervisor; nothing left in flight.
        per_pid = collections.Counter(t["pid"] for t in tracer.traces())
        self.assertEqual(sum(per_pid.values()), total)
        self.assertEqual(len(per_pid), 2, per_pid)
        self.assertNotIn(server.pid, per_pid)
        h.wait_for(lambda: gauges(tracer, "wsgi_server_workers_busy").get(svc) == 0
                   and gauges(tracer, "http_server_active_requests").get(svc) == 0
                   and gauges(tracer, "wsgi_server_listen_queue_length").get(svc) == 0,
                   what="idle gauges")
        self.assertEqual(gauges(tracer, "wsgi_server_workers").get(svc), 2)
        # One connection per request: each has its queue time.
        count = [v for (n, l), v in tracer.metrics().items()
                 if n == "http_server_request_queue_duration_seconds_count" and dict(l)["service_name"] == svc]
        self.assertEqual(count, [total])
        self.assertEqual(tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)
        self.assertEqual(tracer.self_metric("wsgitrace_events_lost_total"), 0)
        print("%s: %d responses (%s) from pids %s; seen at most %d busy, %d in flight, %d in the backlog" % (
            type(self).__name__, total, " ".join("%s:%d" % kv for kv in sorted(by_route.items())),
            dict(per_pid), seen["busy"], seen["active"], seen["backlog"]))


if __name__ == "__main__":
    unittest.main()


class TestUnanswered(unittest.TestCase):
    """Requests a server read and never answered, per service with the reason."""

    def unanswered(self, tracer):
        return {dict(l)["reason"]: v for (n, l), v in tracer.metrics().items()
                if n == "wsgi_server_requests_unanswered_total" and dict(l)["service_name"] == h.SERVICE}

    def test_client_gone_and_worker_exited(self):
        import signal
        import struct
        server = h.gunicorn("unanswered", "-w", "1", "--timeout", "60", workers=1)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid))
        self.addCleanup(tracer.cleanup)
        active = lambda: gauges(tracer, "http_server_active_requests").get(h.SERVICE)  # noqa: E731

        # A client that resets while the worker is busy with its request.
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /sleep/1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        h.wait_for(lambda: active() == 1, what="the request in flight")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        h.wait_for(lambda: self.unanswered(tracer).get("client_gone") == 1, timeout=30,
                   what="one client_gone (got %r)" % self.unanswered(tracer))
        h.wait_for(lambda: active() == 0, what="nothing in flight")

        # A client that gives up while its request waits in the backlog behind a busy worker.
        busy = threading.Thread(target=lambda: h.request(server.port, "/sleep/1000"))
        busy.start()
        h.wait_for(lambda: active() == 1, what="the worker busy")
        q = socket.create_connection(("127.0.0.1", server.port))
        q.sendall(b"GET /test/ HTTP/1.1\r\nHost: x\r\n\r\n")
        q.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        q.close()
        busy.join()
        h.wait_for(lambda: self.unanswered(tracer).get("client_gone_queued") == 1, timeout=30,
                   what="one client_gone_queued (got %r)" % self.unanswered(tracer))

        # A worker killed in the middle of a request.
        t = threading.Thread(target=lambda: self.assertRaises(Exception, h.request, server.port, "/sleep/5000"))
        t.start()
        h.wait_for(lambda: active() == 1, what="the request in flight")
        worker = h.children(server.pid)[0]
        os.kill(worker, signal.SIGKILL)
        t.join()
        h.wait_for(lambda: self.unanswered(tracer).get("worker_exited") == 1, timeout=30,
                   what="one worker_exited (got %r)" % self.unanswered(tracer))
        self.assertEqual(self.unanswered(tracer).get("client_gone"), 1)
