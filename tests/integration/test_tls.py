"""HTTPS served by the app server itself (gunicorn --certfile/--keyfile, uWSGI
--https-socket): the TLS plaintext is read by the SSL probes and counted
exactly as plain HTTP, against the client's own tallies."""
import http.client
import socket
import ssl
import unittest

import harness as h
import wtlib.tls as wtls
from wtlib.tls import Certs, wait_attached
from workload import BODY, merge

CERTS = None


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    CERTS.cleanup()


def cert():
    return CERTS.cert


def key():
    return CERTS.key


def context():
    return CERTS.context()


def tls_request(port, path, **kw):
    """One HTTPS request on a new connection, read to its close; (status, body)."""
    return wtls.tls_request(context(), port, path, **kw)


def expect_100_continue(port):
    s = context().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(BODY))
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100"), first
    s.sendall(BODY)
    data = first.split(b"\r\n\r\n", 1)[1]
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:100]


def tls_workload(port, expect100=True):
    """The requests every TLS deployment gets; returns the exact counts expected."""
    exp = {}

    def want(method, route, status, n=1):
        exp[(method, route, str(status))] = exp.get((method, route, str(status)), 0) + n

    for _ in range(4):
        assert tls_request(port, "/test/")[0] == 200
    assert tls_request(port, "/test/?q=1")[0] == 200
    want("GET", "/test/", 200, 5)
    for _ in range(2):
        assert tls_request(port, "/test1/")[0] == 500
    want("GET", "/test1/", 500, 2)
    assert tls_request(port, "/does-not-exist")[0] == 404
    want("GET", "/does-not-exist", 404)
    st, body = tls_request(port, "/echo", method="POST", body=BODY)
    assert (st, body) == (200, b"got 100000"), (st, body)
    want("POST", "/echo", 200)
    st, body = tls_request(port, "/big")
    assert st == 200 and len(body) == 1 << 20
    want("GET", "/big", 200)
    st, body = tls_request(port, "/stream")
    assert st == 200 and b"chunk-4" in body
    want("GET", "/stream", 200)
    assert tls_request(port, "/test/", method="HEAD")[0] == 200
    want("HEAD", "/test/", 200)
    assert tls_request(port, "/test/", method="BREW")[0] == 405
    want("_OTHER", "/test/", 405)
    if expect100:
        expect_100_continue(port)
        want("POST", "/echo", 200)
    return exp


def keepalive_workload(port):
    """Several requests on one kept-alive TLS connection, bodies both ways."""
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context())
    for _ in range(6):
        c.request("GET", "/test/")
        r = c.getresponse()
        assert r.status == 200
        r.read()
    c.request("POST", "/echo", body=BODY)
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"got 100000")
    c.request("GET", "/file")
    r = c.getresponse()
    assert r.status == 200 and len(r.read()) == 256 * 1024
    c.close()
    return {("GET", "/test/", "200"): 6, ("POST", "/echo", "200"): 1, ("GET", "/file", "200"): 1}


def tls_gunicorn(name, *args, workers):
    return h.gunicorn(name, "--certfile", cert(), "--keyfile", key(), *args, workers=workers)


class TLSChecks:
    def check_clean(self):
        for m in ("wsgitrace_events_lost_total", "wsgitrace_http_parse_errors_total",
                  "wsgitrace_not_http_connections_total", "wsgitrace_tls_untied_calls_total",
                  "wsgitrace_tls_unreadable_processes_total", "wsgitrace_missed_requests_total",
                  "wsgitrace_orphan_responses_total"):
            self.assertEqual(self.tracer.self_metric(m), 0, m)


class TestGunicornSyncStartedAfter(TLSChecks, unittest.TestCase):
    """wsgitrace first, then a TLS gunicorn: the new master and its forked workers are probed."""
    tracer_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tracer = h.Tracer(*cls.tracer_args, trace=True)
        try:
            cls.server = tls_gunicorn(cls.__name__, "-w", "2", workers=2)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_counts(self):
        wait_attached(self.tracer, 3)  # the master maps libssl too
        self.tracer.wait_counts(tls_workload(self.server.port))
        pids = {t["pid"] for t in self.tracer.traces()}
        self.assertNotIn(self.server.pid, pids)
        # The first request of a connection waited for a worker: its queue time is known.
        self.assertTrue(any(t.get("queue_seconds") for t in self.tracer.traces()))
        self.check_clean()


class TestGunicornSyncSyscallHooks(TestGunicornSyncStartedAfter):
    """The same on the syscall tracepoints: the socket call inside SSL_read is a read() there."""
    tracer_args = ("--hooks", "syscalls")


class TestGunicornGthreadStartedBefore(TLSChecks, unittest.TestCase):
    """A TLS gunicorn gthread already running when wsgitrace starts; kept-alive connections."""

    @classmethod
    def setUpClass(cls):
        cls.server = tls_gunicorn(cls.__name__, "-w", "2", "-k", "gthread", "--threads", "4",
                                  "--keep-alive", "5", workers=2)
        try:
            cls.tracer = h.Tracer(trace=True)
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_counts(self):
        wait_attached(self.tracer, 3)
        exp = merge(tls_workload(self.server.port), keepalive_workload(self.server.port))
        self.tracer.wait_counts(exp)
        self.check_clean()


class TestGunicornGevent(TLSChecks, unittest.TestCase):
    """A TLS gunicorn gevent worker: non-blocking sockets under the SSL calls."""

    @classmethod
    def setUpClass(cls):
        cls.tracer = h.Tracer(trace=True)
        try:
            cls.server = tls_gunicorn(cls.__name__, "-w", "1", "-k", "gevent", workers=1)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_counts(self):
        wait_attached(self.tracer, 2)
        exp = merge(tls_workload(self.server.port), keepalive_workload(self.server.port))
        self.tracer.wait_counts(exp)
        self.check_clean()


class TestPlainAndTLSSideBySide(TLSChecks, unittest.TestCase):
    """A plain and a TLS gunicorn of the same app: both counted, in one service."""

    @classmethod
    def setUpClass(cls):
        cls.tracer = h.Tracer(trace=True)
        cls.servers = []
        try:
            cls.servers.append(h.gunicorn(cls.__name__ + "-plain", "-w", "1", workers=1))
            cls.servers.append(tls_gunicorn(cls.__name__ + "-tls", "-w", "1", workers=1))
        except Exception:
            for s in cls.servers:
                s.cleanup()
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.cleanup()
        cls.tracer.cleanup()

    def test_counts(self):
        plain, tls = self.servers
        wait_attached(self.tracer, 4)  # both masters and both workers map libssl
        exp = {}
        for _ in range(7):
            self.assertEqual(h.request(plain.port, "/test/")[0], 200)
        exp[("GET", "/test/", "200")] = 7
        self.assertEqual(h.request(plain.port, "/test1/")[0], 500)
        exp[("GET", "/test1/", "500")] = 1
        exp = merge(exp, tls_workload(tls.port))
        self.tracer.wait_counts(exp)
        self.check_clean()


class TestUwsgiPlainAndHttpsSocket(TLSChecks, unittest.TestCase):
    """One uWSGI with an --http-socket and an --https-socket (processes and threads): one service."""

    @classmethod
    def setUpClass(cls):
        cls.tracer = h.Tracer(trace=True)
        cls.plain, cls.tls = h.free_port(), h.free_port()
        try:
            cls.server = h.uwsgi(cls.__name__, "--processes", "2", "--threads", "2",
                                 "--http-socket", "127.0.0.1:%d" % cls.plain,
                                 "--https-socket", "127.0.0.1:%d,%s,%s" % (cls.tls, cert(), key()),
                                 port=cls.tls, workers=2)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_counts(self):
        wait_attached(self.tracer, 3)
        exp = {("GET", "/test/", "200"): 3}
        for _ in range(3):
            self.assertEqual(h.request(self.plain, "/test/")[0], 200)
        # uWSGI's http-socket does not answer Expect: 100-continue itself.
        exp = merge(exp, tls_workload(self.tls, expect100=False))
        self.tracer.wait_counts(exp)
        self.assertEqual(len({t["service"] for t in self.tracer.traces()}), 1)
        self.check_clean()


if __name__ == "__main__":
    unittest.main()
