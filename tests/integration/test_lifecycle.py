"""Which processes are traced, and how the daemon starts, fails and stops."""
import os
import signal
import socket
import subprocess
import unittest

import harness as h


def run_tracer(*args, timeout=30):
    return subprocess.run([h.WSGITRACE] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class TestProcesses(unittest.TestCase):
    def test_already_running_server_is_found(self):
        server = h.gunicorn("running-first", "-w", "2", workers=2)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        for _ in range(7):
            self.assertEqual(h.request(server.port, "/test/")[0], 200)
        tracer.wait_counts({("GET", "/test/", "200"): 7})
        # master + 2 workers
        self.assertGreaterEqual(tracer.self_metric("wsgitrace_processes_traced"), 3)

    def test_pid_mode_traces_only_that_server(self):
        a = h.gunicorn("pid-a", "-w", "2", workers=2)
        self.addCleanup(a.cleanup)
        b = h.gunicorn("pid-b", "-w", "2", workers=2)
        self.addCleanup(b.cleanup)
        tracer = h.Tracer("--pid", str(a.pid), "--service-name", "shop")
        self.addCleanup(tracer.cleanup)
        for _ in range(3):
            h.request(a.port, "/test/")
            h.request(b.port, "/test/")
            h.request(b.port, "/test1/")
        tracer.wait_counts({("GET", "/test/", "200"): 3}, service="shop")
        self.assertEqual(tracer.counts("flask_app"), {})

    def test_connection_open_before_tracer_is_picked_up(self):
        server = h.gunicorn("preexisting", "-w", "1", "-k", "gthread", "--threads", "2", "--keep-alive", "30",
                            workers=1)
        self.addCleanup(server.cleanup)
        c = h.KeepAlive(server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/test/")[0], 200)
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        for _ in range(3):
            self.assertEqual(c.get("/test1/")[0], 500)
        tracer.wait_counts({("GET", "/test1/", "500"): 3})

    def test_recycled_workers_under_load(self):
        """--max-requests replaces workers while 4 clients keep sending."""
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        server = h.gunicorn("recycle", "-w", "2", "--max-requests", "15", workers=2)
        self.addCleanup(server.cleanup)
        first = set(h.children(server.pid))
        per_client = 60
        self.assertEqual(h.hammer(server.port, clients=4, each=per_client), [])
        self.assertTrue(first - set(h.children(server.pid)), "no worker was recycled")
        tracer.wait_counts({("GET", "/test/", "200"): 4 * per_client})

    def test_new_server_and_restart(self):
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        s1 = h.gunicorn("restart-1", "-w", "2", workers=2)
        for _ in range(4):
            h.request(s1.port, "/test/")
        tracer.wait_counts({("GET", "/test/", "200"): 4})
        s1.cleanup()
        # Counts never go back when processes exit; a new server adds to them.
        s2 = h.gunicorn("restart-2", "-w", "3", workers=3)
        self.addCleanup(s2.cleanup)
        for _ in range(5):
            h.request(s2.port, "/test/")
        tracer.wait_counts({("GET", "/test/", "200"): 9})


class TestLimits(unittest.TestCase):
    def test_full_connection_table_is_counted(self):
        """--max-conns 1024 and 1100 keep-alive connections: the kernel's table
        takes the first 1024, the other 76 are refused and counted."""
        server = h.gunicorn("limits", "-w", "1", "-k", "gthread", "--threads", "4", "--keep-alive", "60",
                            "--worker-connections", "2000", workers=1)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), "--max-conns", "1024")
        self.addCleanup(tracer.cleanup)
        socks = []

        def close_all():
            for s in socks:
                s.close()
        self.addCleanup(close_all)
        req = b"GET /test/ HTTP/1.1\r\nHost: x\r\n\r\n"
        for i in range(1100):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            socks.append(s)
            s.sendall(req)
            got = b""
            while b"\r\n\r\n" not in got or not got.endswith(b"rest"):
                d = s.recv(4096)
                self.assertTrue(d, "server closed connection %d" % i)
                got += d
            self.assertNotIn(b"connection: close", got.lower())
        tracer.wait_counts({("GET", "/test/", "200"): 1024})
        h.wait_for(lambda: tracer.self_metric("wsgitrace_connections_dropped_total") == 76,
                   what="76 connections counted as dropped (%r)" % (
                       [l for l in tracer.raw()[1].splitlines() if l.startswith("wsgitrace_conn")],))
        self.assertEqual(tracer.self_metric("wsgitrace_connections_active"), 1024)


class TestBuckets(unittest.TestCase):
    def test_custom_buckets(self):
        server = h.gunicorn("buckets", "-w", "1", workers=1)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), "--buckets", "0.05,0.3,2")
        self.addCleanup(tracer.cleanup)
        h.request(server.port, "/sleep/100")
        h.request(server.port, "/test/")
        tracer.wait_counts({("GET", "/sleep/{id}", "200"): 1, ("GET", "/test/", "200"): 1})
        got = {}
        for (name, labels), v in tracer.metrics().items():
            d = dict(labels)
            if name == h.HIST + "_bucket" and d["http_route"] == "/sleep/{id}":
                got[d["le"]] = v
        self.assertEqual(got, {"0.05": 0, "0.3": 1, "2": 1, "+Inf": 1})


class TestDaemon(unittest.TestCase):
    def test_sigterm_and_sigint_detach_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            tracer = h.Tracer()
            self.addCleanup(tracer.cleanup)
            tracer.p.send_signal(sig)
            self.assertEqual(tracer.p.wait(10), 0)
            self.assertIn("detached", tracer.output())

    def test_healthz(self):
        """Probes attached and the ring drained lately: what a liveness probe asks."""
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        ctype, body = tracer.raw("/healthz")
        self.assertEqual(body, "ok\n")
        self.assertTrue(ctype.startswith("text/plain"), ctype)

    def test_help_and_version(self):
        r = run_tracer("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--listen", r.stdout)
        self.assertIn("EXAMPLES", r.stdout)
        r = run_tracer("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^wsgitrace \d+\.\d+\.\d+")

    def test_bad_flags_are_refused_clearly(self):
        cases = [
            (["--bogus"], "unrecognized option"),
            (["--pid", "abc"], "--pid must be a whole number"),
            (["--pid", "0"], "--pid must be a whole number"),
            (["--buckets", "0.1,0.01"], "--buckets"),
            (["--buckets", "x"], "--buckets"),
            (["--hooks", "kprobes"], "--hooks must be auto, sockets or syscalls"),
            (["--listen", "127.0.0.1:99999"], "port"),
            (["--listen", "nonsense"], "listen"),
            (["--ringbuf-mb", "3"], "power of two"),
            (["--bench-stage", "half"], "--bench-stage must be full, filter, no-records or no-queue"),
            (["extra"], "unexpected argument"),
        ]
        for args, msg in cases:
            r = run_tracer(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(msg, r.stderr, (args, r.stderr))

    def test_bench_stages_count_nothing(self):
        """make bench's --bench-stage stops part-way: attached, but never counts (no-queue: counts, no queue time)."""
        server = h.gunicorn("stages", "-w", "1", workers=1)
        self.addCleanup(server.cleanup)
        staged = {}
        for stage in ("filter", "no-records"):
            staged[stage] = h.Tracer("--pid", str(server.pid), "--bench-stage", stage, name="wsgitrace-" + stage)
            self.addCleanup(staged[stage].cleanup)
        full = h.Tracer("--pid", str(server.pid))
        self.addCleanup(full.cleanup)
        # Counts like the full tracer, without the handshake notes: no queue time.
        no_queue = h.Tracer("--pid", str(server.pid), "--bench-stage", "no-queue", name="wsgitrace-no-queue")
        self.addCleanup(no_queue.cleanup)
        for _ in range(5):
            self.assertEqual(h.request(server.port, "/test/")[0], 200)
        full.wait_counts({("GET", "/test/", "200"): 5})
        no_queue.wait_counts({("GET", "/test/", "200"): 5})
        for stage, t in staged.items():
            # a scrape drains the ring first: what the full tracer saw, these had too
            self.assertEqual(t.counts(), {}, stage)
            self.assertGreaterEqual(t.self_metric("wsgitrace_processes_traced"), 2)

        def queued(t):
            return sum(v for (n, _), v in t.metrics().items()
                       if n == "http_server_request_queue_duration_seconds_count")
        self.assertEqual(queued(full), 5)
        self.assertEqual(queued(no_queue), 0)
        self.assertNotIn("bench-stage", run_tracer("--help").stdout)

    def test_missing_pid(self):
        r = run_tracer("--pid", "999999999", "--listen", "127.0.0.1:%d" % h.free_port())
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such process", r.stderr)

    def test_port_taken(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        r = run_tracer("--listen", "127.0.0.1:%d" % s.getsockname()[1])
        self.assertEqual(r.returncode, 1)
        self.assertIn("in use", r.stderr)

    def test_not_root(self):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", h.WSGITRACE,
                            "--listen", "127.0.0.1:%d" % h.free_port()], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs root", r.stderr)


if __name__ == "__main__":
    unittest.main()
