"""HTTPS served by the app server itself (gunicorn --certfile/--keyfile, uWSGI
--https-socket and the --https router): the TLS plaintext is read by the SSL
probes and counted exactly as plain HTTP, against the client's own tallies
(and gunicorn's access log); workers recycled under TLS are read from their
first request; a server whose TLS cannot be read is counted with the reason."""
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

import harness as h
import wtlib.tls as wtls
from wtlib.tls import certs, wait_attached
from workload import BODY, merge

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apps")
PODMAN = ["podman", "--runtime=runc", "--cgroup-manager=cgroupfs"]

def cert():
    return certs().cert


def key():
    return certs().key


def context():
    return certs().context()


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
    @classmethod
    def start(cls, make_server, *tracer_args):
        """wsgitrace first, then the server make_server() starts; the tracer goes if the server fails."""
        cls.tracer = h.Tracer(*tracer_args, trace=True)
        try:
            cls.server = make_server()
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def check_clean(self):
        for m in ("wsgitrace_events_lost_total", "wsgitrace_http_parse_errors_total",
                  "wsgitrace_not_http_connections_total", "wsgitrace_tls_untied_calls_total",
                  "wsgitrace_tls_unreadable_processes_total", "wsgitrace_tls_unread_connections_total",
                  "wsgitrace_missed_requests_total",
                  "wsgitrace_orphan_responses_total"):
            self.assertEqual(self.tracer.self_metric(m), 0, m)


class TestGunicornSyncStartedAfter(TLSChecks, unittest.TestCase):
    """wsgitrace first, then a TLS gunicorn: the new master and its forked workers are probed."""
    tracer_args = ()

    @classmethod
    def setUpClass(cls):
        cls.start(lambda: tls_gunicorn(cls.__name__, "-w", "2", workers=2), *cls.tracer_args)

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

    def test_counts(self):
        wait_attached(self.tracer, 3)
        exp = merge(tls_workload(self.server.port), keepalive_workload(self.server.port))
        self.tracer.wait_counts(exp)
        self.check_clean()


class TestGunicornGevent(TLSChecks, unittest.TestCase):
    """A TLS gunicorn gevent worker: non-blocking sockets under the SSL calls."""

    @classmethod
    def setUpClass(cls):
        cls.start(lambda: tls_gunicorn(cls.__name__, "-w", "1", "-k", "gevent", workers=1))

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
        # Only the TLS server's processes inherit their probes: the plain one's forks and
        # threads copy none.
        self.assertEqual(self.tracer.self_metric("wsgitrace_tls_processes_inheriting"), 2)
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
        cls.plain, cls.tls = h.free_port(), h.free_port()
        cls.start(lambda: h.uwsgi(cls.__name__, "--processes", "2", "--threads", "2",
                                  "--http-socket", "127.0.0.1:%d" % cls.plain,
                                  "--https-socket", "127.0.0.1:%d,%s,%s" % (cls.tls, cert(), key()),
                                  port=cls.tls, workers=2))

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


def by_reason(tracer, name):
    """{reason: value} of a wsgitrace_tls_* family with a reason label."""
    return {dict(labels)["reason"]: v for (n, labels), v in tracer.metrics().items() if n == name}


ACCESS = re.compile(r'"(\S+) (\S+) HTTP/[\d.]+" (\d{3}) ')


def access_counts(path):
    """{(method, path, status): n} from gunicorn's access log (its default format)."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = ACCESS.search(line)
            if m:
                k = (m.group(1), m.group(2), m.group(3))
                out[k] = out.get(k, 0) + 1
    return out


class TestGunicornRecycledWorkers(TLSChecks, unittest.TestCase):
    """Workers recycled under TLS load (--max-requests 3): every new worker carries its
    master's probes from the fork on (tracefs probes, inherited), so the request it serves
    within milliseconds of its fork is read too. Every request counted, against the client's
    tallies and gunicorn's own access log."""

    @classmethod
    def setUpClass(cls):
        cls.logdir = tempfile.mkdtemp(prefix="wt-tls-access-")
        cls.access = os.path.join(cls.logdir, "access.log")
        cls.start(lambda: tls_gunicorn(cls.__name__, "-w", "2", "--max-requests", "3",
                                       "--access-logfile", cls.access, workers=2))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.logdir, ignore_errors=True)

    def test_counts(self):
        # The master and both workers carry probes their forks inherit (other traced
        # servers on the node carry probes on themselves alone, not counted here).
        h.wait_for(lambda: self.tracer.self_metric("wsgitrace_tls_processes_inheriting") >= 3,
                   timeout=60, what="inherited SSL probes on the master and both workers")
        first = set(h.children(self.server.pid))
        routes = [("/test/", 200), ("/test1/", 500), ("/does-not-exist", 404)]
        exp = {}
        for i in range(45):
            path, status = routes[i % len(routes)]
            self.assertEqual(tls_request(self.server.port, path)[0], status)
            k = ("GET", path, str(status))
            exp[k] = exp.get(k, 0) + 1
        self.tracer.wait_counts(exp)
        h.wait_for(lambda: access_counts(self.access) == exp, timeout=20, what="gunicorn's access log")
        # Served by a dozen workers forked while the load ran, each read from its first request.
        recycled = {t["pid"] for t in self.tracer.traces()} - first
        self.assertGreaterEqual(len(recycled), 10, recycled)
        self.check_clean()


class TestUwsgiHttpsRouter(TLSChecks, unittest.TestCase):
    """uWSGI's --https router: the router process terminates TLS and relays each request
    to a worker over uwsgi; counted once, at the router, from its plaintext, as the plain
    --http router is."""

    @classmethod
    def setUpClass(cls):
        cls.port = h.free_port()
        cls.start(lambda: h.Server([h.UWSGI, "--plugin", "python3,http", "--module", "flask_app:app",
                                    "--master", "--disable-logging", "--die-on-term", "--https",
                                    "127.0.0.1:%d,%s,%s" % (cls.port, cert(), key()), "--processes", "2"],
                                   cls.__name__, port=cls.port, workers=3))

    def test_counts(self):
        wait_attached(self.tracer, 4)  # the master, the router and two workers map libssl
        # The router closes each connection after its response (no --http-keepalive).
        exp = tls_workload(self.port, expect100=False)
        self.tracer.wait_counts(exp)
        traces = self.tracer.traces(under=self.server.pid)
        self.assertEqual({t["proto"] for t in traces}, {"http"})
        # One process (the router) saw every request; the workers' uwsgi legs are withdrawn.
        self.assertEqual(len({t["pid"] for t in traces}), 1)
        self.assertGreater(self.tracer.self_metric("wsgitrace_relayed_connections_total"), 0)
        self.check_clean()


class TestStaticOpenSSL(unittest.TestCase):
    """A server with OpenSSL linked in statically, its symbols hidden and stripped (as
    standalone Python builds ship it): no libssl to probe. Its TLS connections are counted
    unread with the reason no_libssl, the process once, and it is named once in the log."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wt-static-tls-")
        cls.binary = os.path.join(cls.tmp, "static-tls-server")
        subprocess.run(["cc", "-O2", os.path.join(APPS, "static_tls_server.c"), "-o", cls.binary,
                        "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic", "-Wl,--exclude-libs,ALL", "-s"],
                       check=True)
        cls.port = h.free_port()
        # Found at wsgitrace's start, by its command line: traced before any connection.
        cls.server = h.Proc([cls.binary, str(cls.port), cert(), key()], cls.__name__)
        try:
            h.wait_for(lambda: h.port_open(cls.port) or not cls.server.alive(), what="static-tls-server")
            ere = re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", cls.binary)  # POSIX ERE, as the flag takes
            cls.tracer = h.Tracer("--server-cmdline", "(^| )%s( |$)" % ere, trace=True)
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tracer.cleanup()
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_counted_unread(self):
        for _ in range(3):
            self.assertEqual(tls_request(self.port, "/test/"), (200, b"ok"))
        h.wait_for(lambda: by_reason(self.tracer, "wsgitrace_tls_unread_connections_total").get("no_libssl") == 3,
                   timeout=20, what="3 connections counted unread (no_libssl)")
        self.assertEqual(by_reason(self.tracer, "wsgitrace_tls_unreadable_processes_total"),
                         {"no_symbols": 0, "no_libssl": 1})
        self.assertEqual(self.tracer.self_metric("wsgitrace_tls_unread_connections_total"), 3)
        self.assertEqual(self.tracer.self_metric("wsgitrace_not_http_connections_total"), 3)
        self.assertEqual(self.tracer.counts(), {})
        self.assertEqual(self.tracer.output_all().count("serves TLS but maps no libssl"), 1)


class TestContainerOwnLibssl(TLSChecks, unittest.TestCase):
    """A TLS gunicorn in a podman container whose Python loads the container's own libssl: a
    copy of the library mounted over its path inside the container, so the file at that path
    on the host is another one. The probes must go on the file the process maps, reached
    through /proc/PID/root."""
    LIB = "/usr/lib/x86_64-linux-gnu/libssl.so.3"

    @classmethod
    def setUpClass(cls):
        from test_image import limit_args  # podman's settings on this host
        cls.tmp = tempfile.mkdtemp(prefix="wt-tls-ctr-")
        cls.copy = os.path.join(cls.tmp, "libssl.so.3")
        shutil.copy2(os.path.realpath(cls.LIB), cls.copy)
        cls.port = h.free_port()
        cls.name = "wt-tls-%d-%d" % (os.getpid(), cls.port)
        cls.tracer = h.Tracer(trace=True)
        try:
            subprocess.run(PODMAN + ["run", "--detach", "--name", cls.name] + limit_args() +
                           ["--network=host", "-v", "%s:/app:ro" % APPS, "-v", "%s:/certs:ro" % certs().dir,
                            "-v", "%s:%s:ro" % (cls.copy, cls.LIB), "--workdir", "/app", "--rootfs", "/:O",
                            h.PY, h.GUNICORN, "-b", "127.0.0.1:%d" % cls.port, "-w", "2", "--log-level", "warning",
                            "--certfile", "/certs/cert.pem", "--keyfile", "/certs/key.pem", "flask_app:app"],
                           check=True, capture_output=True, text=True)
            h.wait_for(lambda: h.port_open(cls.port), timeout=60, what="gunicorn in a container")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        subprocess.run(PODMAN + ["rm", "--force", "--time", "5", cls.name], capture_output=True)
        cls.tracer.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_counts(self):
        wait_attached(self.tracer, 3)
        exp = tls_workload(self.port)
        self.tracer.wait_counts(exp)
        master = int(subprocess.run(PODMAN + ["inspect", "--format", "{{.State.Pid}}", self.name],
                                    check=True, capture_output=True, text=True).stdout)
        # The container's gunicorn (another traced server on the node is not this test's).
        pids = {t["pid"] for t in self.tracer.traces()} & ({master} | set(h.children(master)))
        self.assertTrue(pids)
        for pid in pids:
            # The worker maps the container's copy, not the host's file at the same path.
            mapped = os.stat("/proc/%d/root%s" % (pid, self.LIB))
            self.assertEqual((mapped.st_dev, mapped.st_ino), (os.stat(self.copy).st_dev, os.stat(self.copy).st_ino))
            self.assertNotEqual(mapped.st_ino, os.stat(self.LIB).st_ino)
        self.check_clean()


if __name__ == "__main__":
    unittest.main()
