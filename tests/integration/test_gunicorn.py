"""gunicorn in each worker mode, traced by a real wsgitrace, exact counts."""
import os
import socket
import tempfile
import unittest

import harness as h
from workload import BODY, check_sleep_latency, merge, slow_reader, workload

class GunicornBase:
    """Each subclass starts one gunicorn mode; the same checks run on all."""
    args = ()
    workers = 1
    unix = False
    tracer_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tracer = h.Tracer(*cls.tracer_args, trace=True)
        cls.sock = os.path.join(tempfile.mkdtemp(prefix="wt-sock-"), "g.sock") if cls.unix else None
        try:
            cls.server = h.gunicorn(cls.__name__, *cls.args, workers=cls.workers, unix=cls.sock)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_counts_and_latency(self):
        windows = []
        exp = merge(workload(self.server.port, unix=self.sock, sleep_windows=windows),
                    self.extra_workload())
        if not self.unix:
            slow_reader(self, self.tracer, self.server.port, under=self.server.pid)
            slow_reader(self, self.tracer, self.server.port, under=self.server.pid, path="/file",
                        size=256 * 1024)
            exp = merge(exp, {("GET", "/big", "200"): 1, ("GET", "/file", "200"): 1})
        self.tracer.wait_counts(exp)
        check_sleep_latency(self, self.tracer, windows)
        # Every request came from a worker, never from the master.
        pids = {t["pid"] for t in self.tracer.traces()}
        self.assertNotIn(self.server.pid, pids)
        self.assertEqual(self.tracer.self_metric("wsgitrace_events_lost_total"), 0)
        self.assertEqual(self.tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)

    def extra_workload(self):
        return {}


class TestSync(GunicornBase, unittest.TestCase):
    args = ("-w", "3")
    workers = 3


class TestUnixSocket(GunicornBase, unittest.TestCase):
    args = ("-w", "2")
    workers = 2
    unix = True


class TestGthreadKeepAlive(GunicornBase, unittest.TestCase):
    args = ("-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "5")
    workers = 2

    def extra_workload(self):
        c = h.KeepAlive(self.server.port)
        for i in range(6):
            st, _ = c.get("/test/")
            self.assertEqual(st, 200)
        st, body = c.get("/echo", method="POST", body=BODY)
        self.assertEqual((st, body), (200, b"got 100000"))
        st, body = c.get("/stream")
        self.assertEqual(st, 200)
        st, body = c.get("/file")
        self.assertEqual((st, len(body)), (200, 256 * 1024))
        c.close()
        return {("GET", "/test/", "200"): 6, ("POST", "/echo", "200"): 1,
                ("GET", "/stream", "200"): 1, ("GET", "/file", "200"): 1}


class TestGevent(GunicornBase, unittest.TestCase):
    args = ("-w", "2", "-k", "gevent", "--keep-alive", "5")
    workers = 2

    def extra_workload(self):
        # Pipelining: three requests in one write, three responses in order.
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        req = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req % b"/test/" + req % b"/test1/" + req % b"/nocontent")
        self.assertEqual([st for st, _ in h.read_responses(s, 3)], [200, 500, 204])
        s.close()
        c = h.KeepAlive(self.server.port)
        for _ in range(4):
            self.assertEqual(c.get("/test/")[0], 200)
        self.assertEqual(c.get("/big")[0], 200)
        c.close()
        return {("GET", "/test/", "200"): 5, ("GET", "/test1/", "500"): 1, ("GET", "/nocontent", "204"): 1,
                ("GET", "/big", "200"): 1}


class TestSyncSyscallHooks(TestSync):
    """The fallback capture path for kernels without the socket tracepoints."""
    tracer_args = ("--hooks", "syscalls")


class TestGthreadSyscallHooks(TestGthreadKeepAlive):
    tracer_args = ("--hooks", "syscalls")


class TestUnixSyscallHooks(TestUnixSocket):
    tracer_args = ("--hooks", "syscalls")


if __name__ == "__main__":
    unittest.main()
