"""gunicorn in each worker mode, traced by a real wsgitrace, exact counts."""
import os
import socket
import tempfile
import time
import unittest

import harness as h

SLEEP_MS = 150
BODY = b"b" * 100_000


def expect_100_continue(port=None, unix=None):
    """POST with Expect: 100-continue: the body goes only after the interim 100."""
    s = socket.socket(socket.AF_UNIX) if unix else socket.socket()
    s.settimeout(30)
    s.connect(unix or ("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(BODY))
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100"), first
    s.sendall(BODY)
    data = first.split(b"\r\n\r\n", 1)[1]
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:100]


def workload(port=None, unix=None):
    """The seed article's requests and more; returns the exact counts expected."""
    r = lambda path, **kw: h.request(port, path, unix=unix, **kw)
    exp = {}

    def want(method, route, status, n=1):
        exp[(method, route, str(status))] = exp.get((method, route, str(status)), 0) + n

    for _ in range(4):
        assert r("/test/")[0] == 200
    assert r("/test/?q=1&x=2")[0] == 200
    want("GET", "/test/", 200, 5)
    for _ in range(2):
        st, body = r("/test1/")
        assert st == 500 and body == b"division by zero", (st, body)
    want("GET", "/test1/", 500, 2)
    for _ in range(2):
        assert r("/does-not-exist")[0] == 404
    want("GET", "/does-not-exist", 404, 2)
    for _ in range(2):
        assert r("/test")[0] == 308
    want("GET", "/test", 308, 2)
    for _ in range(2):
        st, body = r("/echo", method="POST", body=BODY)
        assert st == 200 and body == b"got 100000", (st, body)
    want("POST", "/echo", 200, 2)
    for _ in range(2):
        assert r("/sleep/%d" % SLEEP_MS)[0] == 200
    want("GET", "/sleep/{id}", 200, 2)
    st, body = r("/big")
    assert st == 200 and len(body) == 1 << 20
    want("GET", "/big", 200)
    for _ in range(2):
        st, body = r("/stream")
        assert st == 200 and b"chunk-4" in body
    want("GET", "/stream", 200, 2)
    st, body = r("/file")
    assert st == 200 and len(body) == 256 * 1024
    want("GET", "/file", 200)
    assert r("/test/", method="HEAD")[0] == 200
    want("HEAD", "/test/", 200)
    assert r("/nocontent")[0] == 204
    want("GET", "/nocontent", 204)
    assert r("/test/", method="BREW")[0] == 405
    want("_OTHER", "/test/", 405)
    expect_100_continue(port, unix)
    want("POST", "/echo", 200)
    return exp


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
        exp = workload(self.server.port, unix=self.sock)
        extra = self.extra_workload()
        for k, v in extra.items():
            exp[k] = exp.get(k, 0) + v
        self.tracer.wait_counts(exp)
        # Sleeping route: wsgitrace's latency is the sleep plus the app's own time.
        sleeps = [t for t in self.tracer.traces() if t["path"] == "/sleep/%d" % SLEEP_MS]
        self.assertEqual(len(sleeps), 2, sleeps)
        for t in sleeps:
            self.assertGreaterEqual(t["duration_seconds"], SLEEP_MS / 1000.0)
            self.assertLess(t["duration_seconds"], SLEEP_MS / 1000.0 + 0.025, t)
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
