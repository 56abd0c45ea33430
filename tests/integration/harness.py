"""Real processes for the integration tests: servers, wsgitrace, Prometheus.

Everything waits for a condition (a port answers, a count settles) with a
deadline, never for a fixed time. Every process is started in its own
process group and killed with it.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APPS = os.path.join(ROOT, "tests", "apps")
WSGITRACE = os.path.join(ROOT, "build", "wsgitrace")
PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
UWSGI = "/usr/bin/uwsgi"
HIST = "http_server_request_duration_seconds"
SERVICE = "flask_app"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout=20.0, what="condition", interval=0.02):
    """Polls cond() until it returns a truthy value; raises after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_open(path):
    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Proc:
    """A child process in its own group, with its output in a log file."""

    def __init__(self, argv, name, cwd=APPS, env=None, stdout=None):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="wt-%s-" % name)
        self.log = os.path.join(self.tmp, "stderr.log")
        self.out = stdout or os.path.join(self.tmp, "stdout.log")
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        e.pop("PYTHONHOME", None)
        e.update(env or {})
        self.p = subprocess.Popen(argv, cwd=cwd, env=e, stdin=subprocess.DEVNULL,
                                  stdout=open(self.out, "wb"), stderr=open(self.log, "wb"),
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        with open(self.log, errors="replace") as f:
            err = f.read()
        return err[-4000:]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        return self.p.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def descendants(pid):
    """pid and all processes below it."""
    out, todo = {pid}, [pid]
    while todo:
        for c in children(todo.pop()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append(int(d))
    return out


class Server(Proc):
    """A WSGI server serving tests/apps/flask_app.py, ready once it answers."""

    def __init__(self, argv, name, port=None, unix=None, workers=None, env=None):
        super().__init__(argv, name, env=env)
        self.port = port
        self.unix = unix
        try:
            if unix:
                wait_for(lambda: unix_open(unix) or not self.alive(), what="%s on %s" % (name, unix))
            else:
                wait_for(lambda: port_open(port) or not self.alive(), what="%s on :%d" % (name, port))
            if not self.alive():
                raise AssertionError("%s exited: %s" % (name, self.output()))
            if workers:
                wait_for(lambda: len(children(self.pid)) >= workers, what="%d workers" % workers)
        except Exception:
            self.cleanup()
            raise


def gunicorn(name, *args, workers=None, unix=None, env=None):
    port = None if unix else free_port()
    bind = "unix:%s" % unix if unix else "127.0.0.1:%d" % port
    argv = [PY, GUNICORN, "-b", bind, "--log-level", "warning"] + list(args) + ["flask_app:app"]
    return Server(argv, name, port=port, unix=unix, workers=workers, env=env)


def uwsgi(name, *args, workers=None, env=None, port=None):
    argv = [UWSGI, "--plugin", "python3", "--module", "flask_app:app", "--master",
            "--disable-logging", "--die-on-term"] + list(args)
    return Server(argv, name, port=port, workers=workers, env=env)


class Tracer(Proc):
    """build/wsgitrace on a free port; ready when /metrics answers."""

    def __init__(self, *args, trace=False, name="wsgitrace", wrap=()):
        """wrap: a command that runs wsgitrace with its argv appended (setpriv, unshare ...)."""
        self.mport = free_port()
        argv = list(wrap) + [WSGITRACE, "--listen", "127.0.0.1:%d" % self.mport] + list(args)
        if trace:
            argv.append("--trace")
        super().__init__(argv, name, cwd=ROOT)
        try:
            wait_for(lambda: port_open(self.mport) or not self.alive(), what="wsgitrace /metrics")
            if not self.alive():
                raise AssertionError("wsgitrace exited: %s" % self.output())
        except Exception:
            self.cleanup()
            raise

    def raw(self, path="/metrics"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.mport, path), timeout=10) as r:
            return r.headers.get("Content-Type"), r.read().decode()

    def metrics(self):
        return parse_exposition(self.raw()[1])

    def counts(self, service=SERVICE):
        """{(method, route, status): count} of the request histogram for service."""
        out = {}
        for (name, labels), v in self.metrics().items():
            d = dict(labels)
            if name == HIST + "_count" and d.get("service_name") == service:
                out[(d["http_request_method"], d["http_route"], d["http_response_status_code"])] = int(v)
        return out

    def self_metric(self, name):
        total = 0.0
        for (n, _), v in self.metrics().items():
            if n == name:
                total += v
        return total

    def wait_counts(self, expected, service=SERVICE, timeout=20):
        """Waits until the counts equal expected exactly, then checks they stay."""
        try:
            wait_for(lambda: self.counts(service) == expected, timeout=timeout,
                     what="counts %r" % (expected,))
        except AssertionError:
            selfm = "\n".join(l for l in self.raw()[1].splitlines() if l.startswith("wsgitrace_"))
            seen = {}
            for t in self.traces():
                k = (t["method"], t["path"], t["status"], t["pid"], t["proto"])
                seen[k] = seen.get(k, 0) + 1
            if seen:
                selfm += "\ntraced (method, path, status, pid, proto): %r" % sorted(seen.items())
            raise AssertionError("counts never matched\nexpected %r\ngot      %r\n%s\nwsgitrace: %s"
                                 % (sorted(expected.items()), sorted(self.counts(service).items()),
                                    selfm, self.output()))
        return self.counts(service)

    def traces(self, under=None):
        """--trace lines; with under=PID only those of that process tree."""
        with open(self.out, errors="replace") as f:
            out = [json.loads(line) for line in f if line.startswith("{")]
        if under is not None:
            pids = descendants(under)
            out = [t for t in out if t["pid"] in pids]
        return out


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise AssertionError("bad exposition line: %r" % line)
        labels = tuple(sorted((k, v.encode().decode("unicode_escape")) for k, v in LABEL.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def hammer(port, path="/test/", clients=4, each=25):
    """clients threads send each requests apiece; returns the failures (statuses or errors)."""
    import threading
    errors = []

    def client():
        for _ in range(each):
            try:
                st = request(port, path)[0]
                if st != 200:
                    errors.append(st)
            except Exception as e:  # noqa: BLE001 - the caller asserts the list is empty
                errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def read_all(sock):
    """Everything the peer sends until it closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def request(port=None, path="/", method="GET", body=None, headers=None, unix=None, version="1.1",
            timeout=30, rcvbuf=None, read_delay=0.0):
    """One HTTP request on a new connection; returns (status, body bytes)."""
    if unix:
        s = socket.socket(socket.AF_UNIX)
        addr = unix
    else:
        s = socket.socket()
        addr = ("127.0.0.1", port)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(addr)
    h = {"Host": "localhost", "Connection": "close"}
    if body is not None:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s HTTP/%s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(head.encode() + (body or b""))
    if read_delay:
        time.sleep(read_delay)  # the scenario under test: a client that reads late
    data = read_all(s)
    s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def read_responses(sock, n):
    """Reads n HTTP/1.1 responses from sock, framed by Content-Length or chunked."""
    buf = b""
    out = []

    def need(k):
        nonlocal buf
        while len(buf) < k:
            c = sock.recv(65536)
            if not c:
                raise AssertionError("connection closed after %d responses" % len(out))
            buf += c

    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            need(len(buf) + 1)
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(b":", 1) for l in lines[1:])}
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif b"content-length" in hdrs:
            k = int(hdrs[b"content-length"])
            need(k)
            body, buf = buf[:k], buf[k:]
        elif hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    need(len(buf) + 1)
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                need(size + 2)
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            raise AssertionError("response without framing on a kept-alive connection")
        if 100 <= status < 200:
            continue
        out.append((status, body))
    return out


class KeepAlive:
    """A persistent HTTP/1.1 connection that reads responses by their framing."""

    def __init__(self, port=None, unix=None):
        import http.client
        if unix:
            raise NotImplementedError
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path, method="GET", body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        data = r.read()
        return r.status, data

    def close(self):
        self.c.close()
