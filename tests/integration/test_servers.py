"""uvicorn, hypercorn, daphne, waitress, fastapi run and script-started servers,
traced by a real wsgitrace: exact counts per label set against what the client got."""
import base64
import http.client
import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import unittest

import harness as h
from workload import BODY, expect_100_continue, fragmented, merge, workload

FASTAPI = "fastapi_app"


class _Reader(io.BufferedReader):
    def close(self):
        pass  # http.client closes its file after each response; the next one is in it


class _Bytes:
    """What a socket received, for http.client to read responses from one after another."""

    def __init__(self, data):
        self.f = _Reader(io.BytesIO(data))

    def makefile(self, *args, **kw):
        return self.f


def responses(data):
    """The statuses of the HTTP/1.1 responses in data (interim 1xx skipped)."""
    src, out = _Bytes(data), []
    while src.f.peek(1):
        r = http.client.HTTPResponse(src, method="GET")
        r.begin()
        r.read()
        out.append(r.status)
    return out


def pipelined(port, paths):
    """paths in one write, the last asking to close; the statuses of the responses the
    server wrote before it closed (hypercorn 0.13 answers one and closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    reqs = [b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths[:-1]]
    reqs.append(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % paths[-1].encode())
    s.sendall(b"".join(reqs))
    data = h.read_all(s)
    s.close()
    return responses(data)


def kept_alive(port, calls, strict=False):
    """calls [(method, path, body)] on kept-alive connections, reconnecting when the server
    closes one (as clients do); returns [(method, path, status)] of the responses got."""
    out, c = [], h.KeepAlive(port)
    for method, path, body in calls:
        for _ in range(5):
            try:
                st, _ = c.get(path, method=method, body=body)
                out.append((method, path, st))
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                assert not strict, "the server closed a kept-alive connection"
                c.close()
                c = h.KeepAlive(port)
    c.close()
    return out


def asgi_workload(port, keepalive=True, pipeline=True, sse=True, strict=True):
    """The FastAPI app's requests (also fine for the Flask app with sse=False); returns
    the counts the client saw."""
    exp = {}

    def got(method, route, status):
        exp[(method, route, str(status))] = exp.get((method, route, str(status)), 0) + 1

    def r(path, method="GET", route=None, **kw):
        st, body = h.request(port, path, method=method, **kw)
        got(method if method in ("GET", "HEAD", "POST") else "_OTHER", route or path.split("?")[0], st)
        return st, body

    for _ in range(4):
        assert r("/test/")[0] == 200
    assert r("/test/?q=1&x=2")[0] == 200
    for _ in range(2):
        assert r("/test1/") == (500, b"division by zero")
    assert r("/does-not-exist")[0] == 404
    for _ in range(2):
        assert r("/echo", method="POST", body=BODY) == (200, b"got 100000")
    assert r("/sleep/50", route="/sleep/{id}")[0] == 200
    st, body = r("/big")
    assert st == 200 and len(body) == 1 << 20
    st, body = r("/stream")
    assert st == 200 and b"chunk-4" in body
    st, body = r("/stream", version="1.0")
    assert st == 200 and b"chunk-4" in body
    if sse:
        st, body = r("/sse?n=5", route="/sse")
        assert st == 200 and b"data: 4" in body
        # Events until the client leaves: the 200 the server wrote counts once.
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"data: ") < 3:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 200"), data
        s.close()
        got("GET", "/sse", 200)
    fragmented(port)
    got("GET", "/test/", 200)
    r("/test/", method="HEAD")
    assert r("/nocontent")[0] == 204
    r("/test/", method="BREW")
    expect_100_continue(port)
    got("POST", "/echo", 200)
    return merge(exp, connection_reuse(port, keepalive, pipeline, strict))


def connection_reuse(port, keepalive=True, pipeline=True, strict=True):
    """Requests on kept-alive connections and pipelined in one write; the counts the client saw.
    strict: the server keeps connections open and answers every pipelined request."""
    exp = {}

    def got(method, route, status):
        exp[(method, route, str(status))] = exp.get((method, route, str(status)), 0) + 1
    if keepalive:
        calls = [("GET", "/test/", None)] * 5 + [("POST", "/echo", BODY), ("GET", "/stream", None)]
        answered = kept_alive(port, calls, strict)
        assert len(answered) == len(calls), answered
        for method, path, st in answered:
            got(method, path, st)
    if pipeline:
        paths = ["/test/", "/test1/", "/nocontent"]
        statuses = pipelined(port, paths)
        assert not strict or statuses == [200, 500, 204], statuses
        for path, st in zip(paths, statuses):
            got("GET", path, st)
    return exp


def websocket(port, messages=5):
    """A WebSocket upgrade to /ws and `messages` echoed text frames, then a close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        assert d, head
        head += d
    assert head.startswith(b"HTTP/1.1 101"), head
    for i in range(messages):
        # Frames that look like requests: they must never be read as HTTP.
        payload = b"GET /ws-frame-%d HTTP/1.1\r\n\r\n" % i
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
                  bytes(b ^ mask[j % 4] for j, b in enumerate(payload)))
        hdr = s.recv(2)
        n = hdr[1] & 0x7f
        got = b""
        while len(got) < n:
            got += s.recv(n - len(got))
        assert got == payload, got
    mask = os.urandom(4)
    s.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[j] for j, b in enumerate(b"\x03\xe8")))
    h.read_all(s)
    s.close()
    return {("GET", "/ws", "101"): 1}


def served(tracer, service):
    """wsgi_server_workers of service, 0 while it is not traced."""
    for (name, labels), v in tracer.metrics().items():
        if name == "wsgi_server_workers" and dict(labels).get("service_name") == service:
            return int(v)
    return 0


def script(folder, name, body):
    """An executable Python script `name` in folder, as pip installs entry points."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("#!/usr/bin/python3\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class ServerCase:
    """One server started after wsgitrace; argv(port) gives its command line."""
    service = FASTAPI
    workers = None  # processes below the server it must have before it is ready
    traced_workers = 1  # wsgi_server_workers once it runs
    keepalive = True
    pipeline = True
    ws = True
    sse = True
    flask = False
    strict = True  # keeps connections alive, answers pipelined requests

    @classmethod
    def argv(cls, port):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wt-servers-")
        cls.tracer = h.Tracer(trace=True)
        try:
            port = h.free_port()
            cls.server = h.Server(cls.argv(port), cls.__name__, port=port, workers=cls.workers)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.server.kill_group()
        cls.tracer.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_counts(self):
        port = self.server.port
        if self.flask:
            exp = merge(workload(port), connection_reuse(port))
        else:
            exp = asgi_workload(port, keepalive=self.keepalive, pipeline=self.pipeline, sse=self.sse,
                                strict=self.strict)
            if self.ws:
                exp = merge(exp, websocket(port))
        self.tracer.wait_counts(exp, service=self.service)
        self.assertEqual(self.tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)
        self.assertEqual(self.tracer.self_metric("wsgitrace_events_lost_total"), 0)
        self.assertEqual(served(self.tracer, self.service), self.traced_workers)
        self.assertEqual(self.tracer.self_metric("wsgitrace_upgraded_connections_total"),
                         1 if self.ws and not self.flask else 0)
        if self.workers:
            pids = {t["pid"] for t in self.tracer.traces(under=self.server.pid)}
            self.assertNotIn(self.server.pid, pids)


class TestUvicornH11(ServerCase, unittest.TestCase):
    @classmethod
    def argv(cls, port):
        return [h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--http", "h11",
                "--log-level", "warning"]


class TestUvicornHttptools(ServerCase, unittest.TestCase):
    @classmethod
    def argv(cls, port):
        return [h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--http", "httptools",
                "--ws", "wsproto", "--log-level", "warning"]


class TestUvicornWorkers(ServerCase, unittest.TestCase):
    """--workers 2: spawned workers (python3 -c from multiprocessing.spawn ...) and a
    resource tracker, which is no worker."""
    workers = 3
    traced_workers = 2

    @classmethod
    def argv(cls, port):
        return [h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--workers", "2",
                "--log-level", "warning"]


class TestUvicornScriptFlask(ServerCase, unittest.TestCase):
    """pip's `uvicorn` entry point (a script of that name) serving the Flask app over WSGI
    (uvicorn 0.17 chunks its HTTP/1.0 responses, which workload() refuses)."""
    service = "flask_app"
    sse = False
    ws = False

    @classmethod
    def argv(cls, port):
        uv = script(cls.tmp, "uvicorn", "import sys\nfrom uvicorn.main import main\nsys.exit(main())\n")
        return [h.PY, uv, "--interface", "wsgi", "flask_app:app", "--port", str(port), "--log-level", "warning"]


class TestUvicornReload(ServerCase, unittest.TestCase):
    """--reload: the server is the reloader's spawned child."""
    workers = 2

    @classmethod
    def argv(cls, port):
        return [h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--reload",
                "--reload-dir", cls.tmp, "--log-level", "warning"]


class TestFastapiRun(ServerCase, unittest.TestCase):
    """`fastapi run fastapi_app.py`: the command line fastapi-cli gives, from a stand-in
    (tests/apps/fastapi_cli.py) because Debian's fastapi has no CLI."""

    @classmethod
    def argv(cls, port):
        with open(os.path.join(h.APPS, "fastapi_cli.py")) as f:
            fa = script(cls.tmp, "fastapi", f.read())
        return [h.PY, fa, "run", os.path.join(h.APPS, "fastapi_app.py"), "--port", str(port)]


class TestFastapiDev(ServerCase, unittest.TestCase):
    """`fastapi dev fastapi_app.py` (the stand-in again): uvicorn with reload on, the
    server being the reloader's spawned child, named by the fastapi command line."""
    workers = 2

    @classmethod
    def argv(cls, port):
        with open(os.path.join(h.APPS, "fastapi_cli.py")) as f:
            fa = script(cls.tmp, "fastapi", f.read())
        return [h.PY, fa, "dev", os.path.join(h.APPS, "fastapi_app.py"), "--port", str(port)]


class TestHypercorn(ServerCase, unittest.TestCase):
    strict = False  # 0.13 closes a kept-alive connection after its first response
    workers = 2
    traced_workers = 2

    @classmethod
    def argv(cls, port):
        return ["/usr/bin/hypercorn", "-w", "2", "-b", "127.0.0.1:%d" % port, "fastapi_app:app"]


class TestHypercornUvloop(ServerCase, unittest.TestCase):
    strict = False

    @classmethod
    def argv(cls, port):
        return [h.PY, "/usr/bin/hypercorn", "-k", "uvloop", "-b", "127.0.0.1:%d" % port, "fastapi_app:app"]


class TestDaphne(ServerCase, unittest.TestCase):
    @classmethod
    def argv(cls, port):
        return ["/usr/bin/daphne", "-b", "127.0.0.1", "-p", str(port), "fastapi_app:app"]


class TestWaitress(ServerCase, unittest.TestCase):
    service = "flask_app"
    flask = True

    @classmethod
    def argv(cls, port):
        return ["/usr/bin/waitress-serve", "--listen=127.0.0.1:%d" % port, "--threads=4", "flask_app:app"]


class TestHttp2(unittest.TestCase):
    """HTTP/2 is not HTTP/1.x: hypercorn's h2c with prior knowledge is counted in
    wsgitrace_http2_connections_total, never as requests; an h2c upgrade counts its 101."""

    def test_h2c(self):
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        port = h.free_port()
        server = h.Server(["/usr/bin/hypercorn", "-b", "127.0.0.1:%d" % port, "fastapi_app:app"], "h2c", port=port)
        self.addCleanup(server.cleanup)
        url = "http://127.0.0.1:%d/test/" % port
        # nghttp (nghttp2-client): -n discards the bodies, -u upgrades from HTTP/1.1.
        subprocess.run(["nghttp", "-n", url, url, url], check=True, timeout=30)
        h.wait_for(lambda: tracer.self_metric("wsgitrace_http2_connections_total") == 1, what="one h2c connection")
        subprocess.run(["nghttp", "-nu", url, url], check=True, timeout=30)
        self.assertEqual(h.request(port, "/test/")[0], 200)
        tracer.wait_counts({("GET", "/test/", "101"): 1, ("GET", "/test/", "200"): 1}, service=FASTAPI)
        self.assertEqual(tracer.self_metric("wsgitrace_upgraded_connections_total"), 1)
        self.assertEqual(tracer.self_metric("wsgitrace_http2_connections_total"), 1)
        self.assertEqual(tracer.self_metric("wsgitrace_not_http_connections_total"), 1)
        self.assertEqual(tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)


class TestScriptStarted(unittest.TestCase):
    """`python3 serve_script.py` calls uvicorn.run(app) or waitress.serve(app): no command
    line names a server; it is found when it listens, started before or after wsgitrace."""

    def start(self, kind):
        port = h.free_port()
        server = h.Server([h.PY, os.path.join(h.APPS, "serve_script.py"), kind, str(port)], "script-" + kind,
                          port=port)
        self.addCleanup(server.cleanup)
        return server

    def check(self, tracer, server, kind):
        h.wait_for(lambda: served(tracer, "serve_script") == 1, what="the script's server traced")
        if kind == "uvicorn":
            exp = merge(asgi_workload(server.port), websocket(server.port))
        else:
            exp = workload(server.port)
        tracer.wait_counts(exp, service="serve_script")
        self.assertEqual(tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)

    def test_started_after(self):
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        for kind in ("uvicorn", "waitress"):
            before = dict(tracer.counts("serve_script"))
            server = self.start(kind)
            h.wait_for(lambda: served(tracer, "serve_script") == 1, what="the script's server traced")
            exp = merge(asgi_workload(server.port), websocket(server.port)) if kind == "uvicorn" \
                else merge(workload(server.port), connection_reuse(server.port))
            tracer.wait_counts(merge(before, exp), service="serve_script")
            server.cleanup()
            h.wait_for(lambda: served(tracer, "serve_script") == 0, what="the script's server gone")

    def test_started_before(self):
        server = self.start("uvicorn")
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        self.check(tracer, server, "uvicorn")


class TestDiscovery(unittest.TestCase):
    def test_started_before_wsgitrace(self):
        port = h.free_port()
        server = h.Server([h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--workers", "2",
                           "--log-level", "warning"], "uv-before", port=port, workers=3)
        self.addCleanup(server.kill_group)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        self.assertEqual(served(tracer, FASTAPI), 2)
        tracer.wait_counts(asgi_workload(port), service=FASTAPI)

    def test_worker_killed_under_load(self):
        """uvicorn --workers 2, one worker SIGKILLed while 4 clients send: every response a
        client got counts once, nothing else."""
        tracer = h.Tracer()
        self.addCleanup(tracer.cleanup)
        port = h.free_port()
        server = h.Server([h.PY, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--workers", "2",
                           "--log-level", "warning"], "uv-kill", port=port, workers=3)
        self.addCleanup(server.kill_group)
        self.addCleanup(server.cleanup)
        ok = [0] * 4
        done = threading.Event()
        started = threading.Semaphore(0)

        def client(k):
            n = 0
            while not done.is_set():
                try:
                    st, _ = h.request(port, "/sleep/5")
                    if st == 200:
                        ok[k] += 1
                except (OSError, IndexError, ValueError):
                    pass  # the killed worker's connection: no response, nothing counted
                n += 1
                if n == 20:
                    started.release()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for _ in range(4):
            started.acquire()
        workers = [p for p in h.children(server.pid) if b"spawn_main" in open("/proc/%d/cmdline" % p, "rb").read()]
        os.kill(workers[0], signal.SIGKILL)
        h.wait_for(lambda: sum(ok) > 200, what="requests after the kill")
        done.set()
        for t in threads:
            t.join()
        tracer.wait_counts({("GET", "/sleep/{id}", "200"): sum(ok)}, service=FASTAPI)

    def test_server_cmdline_flag(self):
        """--server-cmdline names a server wsgitrace does not know: here nginx answering itself."""
        tracer = h.Tracer("--server-cmdline", "^/usr/sbin/nginx -c .*wt-nginx")
        self.addCleanup(tracer.cleanup)
        nginx = h.Nginx(['location / { return 200 "ok"; }'])
        self.addCleanup(nginx.cleanup)
        for _ in range(3):
            self.assertEqual(h.request(nginx.port, "/a")[0], 200)
        c = h.KeepAlive(nginx.port)
        for _ in range(4):
            self.assertEqual(c.get("/b")[0], 200)
        c.close()
        tracer.wait_counts({("GET", "/a", "200"): 3, ("GET", "/b", "200"): 4}, service="nginx")


if __name__ == "__main__":
    unittest.main()
