"""The uwsgi protocol against a real uWSGI, sent directly and through a real nginx.

tests/corpus/uwsgi holds uwsgi packets as a client sends them on one
connection (ordinary, odd keys, empty and huge values, modifiers, bodies,
several packets, invalid ones) and MANIFEST.json the labels of each packet
(tests/corpus/make_uwsgi_corpus.py writes both). Each file is sent on its own
connection to a uWSGI `--socket`, once whole and once in random 1-7 byte
segments; what uWSGI sends back is the truth: it answers at most one packet
per connection, and the k-th response answers the k-th packet. The histogram
must hold exactly those responses with the manifest's labels, nothing for a
packet uWSGI closed on without answering.

Behind nginx (`uwsgi_pass`), locations make nginx send what it can send
oddly: empty and repeated params, extra and lower-case keys, an empty key,
a 30 KB param, `uwsgi_modifier1 30`, `uwsgi_modifier2`, a modifier uWSGI does
not serve, long URIs and queries. Clients speak HTTP to nginx; a response
that carries the app's echo headers is one uWSGI answered, and only those
count at uWSGI (nginx answers the rest itself: 400, 403, 414, 502, ...).
"""
import collections
import concurrent.futures
import fcntl
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import harness as h
import test_corpus as corpus

sys.path.insert(0, os.path.join(h.ROOT, "tests", "corpus"))
import make_uwsgi_corpus  # noqa: E402

CORPUS = os.path.join(h.ROOT, "tests", "corpus", "uwsgi")
APP = "corpus_app:app"
SERVICE = "corpus_app"
UNKNOWN = ("_OTHER", "_unknown")
SEED = 20261201
CONCURRENCY = 8
READ_TIMEOUT = 30.0
SELF_METRICS = ("wsgitrace_uwsgi_parse_errors_total", "wsgitrace_http_parse_errors_total",
                "wsgitrace_framing_lost_total", "wsgitrace_unanswered_requests_total",
                "wsgitrace_orphan_responses_total", "wsgitrace_missed_requests_total",
                "wsgitrace_events_lost_total")


class Case:
    def __init__(self, name, data, entry):
        self.name = name
        self.data = data
        self.kind = entry["kind"]
        self.requests = entry["requests"]
        self.later = entry.get("later")
        self.echo_path = entry.get("echo_path")

    def expected(self, k):
        """The labels of the k-th response on this case's connection."""
        if k < len(self.requests):
            return self.requests[k]["method"], self.requests[k]["route"]
        return UNKNOWN

    def is_head(self, k):
        return k < len(self.requests) and self.requests[k]["method"] == "HEAD"


def load_corpus():
    with open(os.path.join(CORPUS, "MANIFEST.json")) as f:
        entries = json.load(f)["cases"]
    out = []
    for name in sorted(entries):
        with open(os.path.join(CORPUS, name), "rb") as f:
            out.append(Case(name, f.read(), entries[name]))
    return out


def uwsgi_packet(method, path):
    return make_uwsgi_corpus.packet([(b"REQUEST_METHOD", method.encode()), (b"PATH_INFO", path.encode())])


# ---------------------------------------------------------------- client

def connect(addr):
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX)
    else:
        s = socket.socket()
    s.settimeout(READ_TIMEOUT)
    s.connect(addr)
    if not isinstance(addr, str):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


SIOCOUTQ = 0x5411


def unread_by_server(s, addr):
    """Bytes sent on s that the server has not read yet."""
    outq = struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCOUTQ, b"\0" * 4))[0]
    if isinstance(addr, str):
        return outq  # AF_UNIX: queued until the reader takes them
    # TCP: SIOCOUTQ is what the peer's kernel has not acknowledged; the server's
    # receive queue is what uWSGI has not read.
    me = s.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == addr[1] and int(remote.split(":")[1], 16) == me:
                return outq + int(fields[4].split(":")[1], 16)
    return outq


def send_bytes(s, data, rng):
    """data whole (rng None) or in 1-7 byte segments 1 ms apart (a slow client)."""
    if rng is None:
        s.sendall(data)
        return
    for i, seg in enumerate(corpus.split_segments(data, rng)):
        if i:
            time.sleep(0.001)  # the scenario: uWSGI reads what has arrived so far
        s.sendall(seg)


def exchange(addr, case, split):
    """Sends the case (its `later` part once uWSGI has read the first), half-closes, reads to the close."""
    rng = random.Random("%d:%s" % (SEED, case.name)) if split else None
    s = connect(addr)
    err = None
    got = b""
    try:
        try:
            if case.later:
                send_bytes(s, case.data[:case.later], rng)
                # The body (or packet) that follows must come in a read of its own.
                try:
                    h.wait_for(lambda: unread_by_server(s, addr) == 0, timeout=READ_TIMEOUT,
                               what="uWSGI to read the first part of %s" % case.name)
                except AssertionError:
                    pass  # it closed on us: what it said is read below
                send_bytes(s, case.data[case.later:], rng)
            else:
                send_bytes(s, case.data, rng)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:  # uWSGI closed early (it rejected the packet)
            err = "send: %s" % (e.strerror or e)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                err = "no close from the server within %.0fs" % READ_TIMEOUT
                break
            except OSError as e:
                err = err or "recv: %s" % (e.strerror or e)
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    r = corpus.parse_replies(got, case)
    r.error = err
    return r


def replay(addr, cases, split):
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        return dict(pool.map(lambda c: (c.name, exchange(addr, c, split)), cases))


def counts_of(tracer):
    return corpus.histogram_counts(tracer.raw()[1], service=SERVICE)


def promtool(tracer):
    r = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=tracer.raw()[1],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip()[:2000]


def settle(tracer, send_settle, tag, want):
    """Counts once everything sent so far was processed: after a settle request sent last is counted."""
    send_settle("/_settle/%s" % tag)
    mark = ("GET", "/_settle/%s" % tag, "200")
    h.wait_for(lambda: counts_of(tracer).get(mark), timeout=60, what="the settle request %s" % tag)
    try:
        h.wait_for(lambda: counts_of(tracer) == want, timeout=10)
    except AssertionError:
        pass  # compared and reported by the caller
    return counts_of(tracer)


def fmt(c):
    return " ".join("%s:%d" % kv for kv in sorted(c.items())) or "none"


def by_status(counts):
    """Responses per status, the settle requests left out."""
    out = collections.Counter()
    for (_, route, st), v in counts.items():
        if not route.startswith("/_settle/"):
            out[st] += v
    return out


# ---------------------------------------------------------------- servers

# Responses uWSGI writes itself, without the app (close-delimited, no Content-Length).
ROUTES = ("--route", "^/routed/deny break:403 Forbidden", "--route", "^/routed/gone break:410")


def uwsgi_server(name, sock_args, port=None, unix=None, extra=()):
    argv = [h.UWSGI, "--plugin", "python3", "--module", APP, "--master", "--disable-logging",
            "--die-on-term", "--processes", "2"] + list(ROUTES) + list(extra) + list(sock_args)
    return h.Server(argv, name, port=port, unix=unix, workers=2)


class DirectReplay:
    """A uWSGI with --socket; the corpus sent to it directly."""
    extra = ()
    unix = False

    @classmethod
    def setUpClass(cls):
        cls.cases = load_corpus()
        cls.tmp = tempfile.mkdtemp(prefix="wt-uwsgiproto-")
        if cls.unix:
            cls.addr = os.path.join(cls.tmp, "u.sock")
            cls.proc = uwsgi_server(cls.__name__, ["--socket", cls.addr, "--chmod-socket=666"], unix=cls.addr,
                                    extra=cls.extra)
        else:
            port = h.free_port()
            cls.addr = ("127.0.0.1", port)
            cls.proc = uwsgi_server(cls.__name__, ["--socket", "127.0.0.1:%d" % port], port=port, extra=cls.extra)
        try:
            cls.tracer = h.Tracer("--pid", str(cls.proc.pid), trace=True)
        except Exception:
            cls.proc.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tracer.cleanup()
        cls.proc.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def send_settle(self, path):
        s = connect(self.addr)
        try:
            s.sendall(uwsgi_packet("GET", path))
            self.assertTrue(h.read_all(s).startswith(b"HTTP/1.0 200"))
        finally:
            s.close()

    def phase(self, split, before):
        tag = "split" if split else "whole"
        replies = replay(self.addr, self.cases, split)
        exp = collections.Counter()
        for c in self.cases:
            for k, st in enumerate(replies[c.name].statuses):
                exp[c.expected(k) + (str(st),)] += 1
        exp[("GET", "/_settle/%s" % tag, "200")] += 1
        want = collections.Counter(before)
        want.update(exp)
        after = settle(self.tracer, self.send_settle, tag, {k: v for k, v in want.items() if v})
        return tag, replies, dict(exp), corpus.delta(after, before), after

    def test_replay(self):
        selfm = {m: self.tracer.self_metric(m) for m in SELF_METRICS}
        problems, lines = [], ["uwsgi protocol replay on %s: %d cases" % (self.__class__.__name__, len(self.cases))]
        before = {}
        for split in (False, True):
            tag, replies, exp, got, before = self.phase(split, before)
            answered = sorted(n for n, r in replies.items() if r.statuses)
            silent = sorted(n for n, r in replies.items() if not r.statuses)
            # Ordinary requests are answered by any uWSGI: else the replay tested nothing.
            problems.extend("%s %s: no answer to an ordinary request (%s)" % (tag, n, replies[n].error)
                            for n in silent if n.startswith("valid-"))
            lines.append("  %s: %d connections, responses %s, counted %s; not answered: %s" % (
                tag, len(replies), fmt(by_status(exp)), fmt(by_status(got)), ", ".join(silent) or "none"))
            for name in answered:
                r = replies[name]
                case = next(c for c in self.cases if c.name == name)
                if len(r.statuses) > 1:
                    problems.append("%s %s: uWSGI answered %d packets on one connection" % (tag, name, len(r.statuses)))
                if case.echo_path is not None and (r.echoes[0] or {}).get("path") != case.echo_path:
                    problems.append("%s %s: the app ran %r, not %r" % (tag, name, r.echoes[0], case.echo_path))
                if r.error and "no close" in r.error:
                    problems.append("%s %s: %s" % (tag, name, r.error))
            if got != exp:
                missing = {k: v for k, v in corpus.delta(exp, got).items() if v > 0}
                extra = {k: -v for k, v in corpus.delta(exp, got).items() if v < 0}
                problems.append("%s: responses %s, counted %s; not counted as expected: %s; counted, not expected: %s"
                                % (tag, fmt(by_status(exp)), fmt(by_status(got)), sorted(missing.items()),
                                   sorted(extra.items())))
        moved = {m[len("wsgitrace_"):]: self.tracer.self_metric(m) - v for m, v in selfm.items()}
        lines.append("  self metrics moved: " + ", ".join("%s %+g" % kv for kv in sorted(moved.items()) if kv[1]))
        print("\n" + "\n".join(lines))
        if moved["events_lost_total"]:
            problems.append("events lost")
        # Every answered packet was read as one, whatever its modifiers and vars.
        protos = collections.Counter(t["proto"] for t in self.tracer.traces())
        if set(protos) != {"uwsgi"}:
            problems.append("requests traced per protocol: %s" % fmt(protos))
        verdict = promtool(self.tracer)
        if verdict:
            problems.append("promtool check metrics: " + verdict)
        self.assertFalse(problems, "\n".join(problems))


class TestCorpusFiles(unittest.TestCase):
    def test_files_match_their_table(self):
        """The committed files are what tests/corpus/make_uwsgi_corpus.py writes."""
        built = make_uwsgi_corpus.build()
        with open(os.path.join(CORPUS, "MANIFEST.json")) as f:
            manifest = json.load(f)["cases"]
        self.assertEqual(sorted(set(os.listdir(CORPUS)) - {"MANIFEST.json"}), sorted(built))
        for name, (data, entry) in built.items():
            with open(os.path.join(CORPUS, name), "rb") as f:
                self.assertEqual(f.read(), data, name)
            self.assertEqual(manifest[name], entry, name)
            for r in entry["requests"]:
                self.assertIn(r["method"], corpus.METHODS, name)
                self.assertTrue(r["route"].startswith("/") or r["route"] in corpus.PLACEHOLDERS, name)


class TestDirectTcp(DirectReplay, unittest.TestCase):
    """Default buffer (4 KB): packets larger than it are refused without an answer."""


class TestDirectTcpThreadsBigBuffer(DirectReplay, unittest.TestCase):
    extra = ("--threads", "4", "--buffer-size", "65535")


class TestDirectUnix(DirectReplay, unittest.TestCase):
    unix = True
    extra = ("--buffer-size", "65535")


# ---------------------------------------------------------------- nginx

# nginx's configuration takes no 30 KB token: huge values come from the client's headers.
HUGE = "h" * 30000
TOO_BIG = "t" * 70000
LONG_SEGMENT = "l" * 3000
LONG_QUERY = "q=" + "x" * 600

# location -> directives before `include uwsgi_params`, after it.
LOCATIONS = {
    "/n/plain": ("", ""),
    "/n/empty/": ("", 'uwsgi_param REQUEST_METHOD ""; uwsgi_param PATH_INFO "";'),
    "/n/emptyuri/": ("", 'uwsgi_param REQUEST_URI "";'),
    "/n/extra/": ("uwsgi_param aaa_lower_first 1;",
                  'uwsgi_param x-weird "a b"; uwsgi_param UWSGI_APPID /nope; uwsgi_param HTTP_X_EMPTY "";'),
    "/n/emptykey/": ("", 'uwsgi_param "" "x";'),
    "/n/hugefirst/": ("uwsgi_param HTTP_X_FIRST $http_x_huge;", ""),
    "/n/mod30/": ("", "uwsgi_modifier1 30; uwsgi_param SCRIPT_NAME /n/mod30;"),
    "/n/mod2/": ("uwsgi_param aaa_lower_first 1;", "uwsgi_modifier2 9;"),
    "/n/mod5/": ("", "uwsgi_modifier1 5;"),
}

# (request line, extra header lines, the labels a response from uWSGI gets)
NGINX_REQUESTS = [
    ("GET /n/plain HTTP/1.1", "", ("GET", "/n/plain")),
    ("HEAD /n/plain HTTP/1.1", "", ("HEAD", "/n/plain")),
    ("GET /n/plain/user/77?x=1 HTTP/1.1", "", ("GET", "/n/plain/user/{id}")),
    ("PROPFIND /n/plain/dav HTTP/1.1", "", ("_OTHER", "/n/plain/dav")),
    ("GET /n/empty/x?y=1 HTTP/1.1", "", ("_OTHER", "/n/empty/x")),
    ("GET /n/emptyuri/x HTTP/1.1", "", ("GET", "/n/emptyuri/x")),
    ("GET /n/extra/x HTTP/1.1", "", ("GET", "/n/extra/x")),
    ("GET /n/emptykey/x HTTP/1.1", "", ("GET", "/n/emptykey/x")),
    ("GET /n/plain/huge HTTP/1.1", "X-Huge: %s\r\n" % HUGE, ("GET", "/n/plain/huge")),
    ("GET /n/hugefirst/x HTTP/1.1", "X-Huge: %s\r\n" % HUGE, ("_OTHER", "_truncated")),
    ("GET /n/plain/toobig HTTP/1.1", "X-Huge: %s\r\n" % TOO_BIG, ("GET", "/n/plain/toobig")),
    ("GET /n/mod30/x HTTP/1.1", "", ("GET", "/n/mod30/x")),
    ("DELETE /n/mod2/x HTTP/1.1", "", ("DELETE", "/n/mod2/x")),
    ("GET /n/mod5/x HTTP/1.1", "", ("GET", "/n/mod5/x")),
    ("GET /n/plain/%s HTTP/1.1" % LONG_SEGMENT, "", ("GET", "_truncated")),
    ("GET /n/plain/%s HTTP/1.1" % ("l" * 9000), "", ("GET", "_truncated")),
    ("GET /n/plain/%s HTTP/1.1" % ("l" * 140000), "", ("GET", "_truncated")),
    # QUERY_STRING comes first: REQUEST_METHOD and the path land past the capture.
    ("GET /n/plain/q?%s HTTP/1.1" % LONG_QUERY, "", ("_OTHER", "_truncated")),
    ("GET /n/denied HTTP/1.1", "", ("GET", "/n/denied")),
    ("GET /n/plain/s500 HTTP/1.1", "X-Want-Status: 500\r\n", ("GET", "/n/plain/s500")),
    ("GET /n/plain/s204 HTTP/1.1", "X-Want-Status: 204\r\n", ("GET", "/n/plain/s204")),
    ("GET /n/plain/s304 HTTP/1.1", "X-Want-Status: 304\r\n", ("GET", "/n/plain/s304")),
    ("GET /n/mod2/s404 HTTP/1.1", "X-Want-Status: 404\r\n", ("GET", "/n/mod2/s404")),
    ("GET /routed/deny HTTP/1.1", "", ("GET", "/routed/deny")),
    ("GET /n/mod30/routed HTTP/1.1", "", ("GET", "/n/mod30/routed")),
    ("POST /routed/gone HTTP/1.1", "", ("POST", "/routed/gone")),
    ("get /n/plain HTTP/1.1", "", ("_OTHER", "/n/plain")),
]
POST_BODY = bytes(range(256)) * 80


def nginx_front(upstream, tmp):
    """nginx passing every location of LOCATIONS to `upstream`, each with its own params."""
    locs = ["location = /n/denied { return 403; }",
            "location / { include /etc/nginx/uwsgi_params; uwsgi_pass %s; }" % upstream]
    for loc, (pre, post) in LOCATIONS.items():
        locs.append("location %s { %s include /etc/nginx/uwsgi_params; %s uwsgi_pass %s; }"
                    % (loc, pre, post, upstream))
    return h.Nginx(locs, http="large_client_header_buffers 4 128k;", tmp=tmp)


def http_exchange(port, line, headers="", body=None):
    """One request through nginx on its own connection: (status, whether uWSGI answered it).

    The app's responses carry its echo headers; uWSGI's own (its --route
    rules) do not, but are no nginx error page either.
    """
    s = connect(("127.0.0.1", port))
    try:
        head = line + "\r\nHost: localhost\r\nConnection: close\r\n" + headers
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        s.sendall((head + "\r\n").encode() + (body or b""))
        data = h.read_all(s)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    echo = any(line.lower().startswith(b"x-echo-") for line in lines[1:])
    return int(lines[0].split()[1]), echo or b"<center>nginx" not in body


class BehindNginx:
    unix = False

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wt-uwsgiproto-nginx-")
        extra = ("--buffer-size", "65535")
        if cls.unix:
            sock = os.path.join(cls.tmp, "u.sock")
            cls.proc = uwsgi_server(cls.__name__, ["--socket", sock, "--chmod-socket=666"], unix=sock, extra=extra)
            upstream = "unix:" + sock
        else:
            port = h.free_port()
            cls.proc = uwsgi_server(cls.__name__, ["--socket", "127.0.0.1:%d" % port], port=port, extra=extra)
            upstream = "127.0.0.1:%d" % port
        try:
            cls.tracer = h.Tracer("--pid", str(cls.proc.pid), trace=True)
            try:
                cls.nginx = nginx_front(upstream, cls.tmp)
            except Exception:
                cls.tracer.cleanup()
                raise
        except Exception:
            cls.proc.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.nginx.cleanup()
        cls.tracer.cleanup()
        cls.proc.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def send_settle(self, path):
        self.assertEqual(http_exchange(self.nginx.port, "GET %s HTTP/1.1" % path)[0], 200)

    def test_through_nginx(self):
        selfm = {m: self.tracer.self_metric(m) for m in SELF_METRICS}
        sent = [(line, hdrs, labels, None) for line, hdrs, labels in NGINX_REQUESTS]
        sent.append(("POST /n/plain/post HTTP/1.1", "", ("POST", "/n/plain/post"), POST_BODY))
        sent.append(("PUT /n/extra/put HTTP/1.1", "X-Huge: %s\r\n" % HUGE, ("PUT", "/n/extra/put"), POST_BODY))
        exp, nginx_only = collections.Counter(), []
        for line, hdrs, labels, body in sent:
            st, by_uwsgi = http_exchange(self.nginx.port, line, hdrs, body)
            if by_uwsgi:
                exp[labels + (str(st),)] += 1
            else:
                nginx_only.append("%s -> %d" % (line[:40], st))
        exp[("GET", "/_settle/nginx", "200")] += 1
        got = settle(self.tracer, self.send_settle, "nginx", dict(exp))
        moved = {m[len("wsgitrace_"):]: self.tracer.self_metric(m) - v for m, v in selfm.items()}
        print("\nnginx uwsgi_pass (%s): %d requests, answered by uWSGI %s, counted %s; "
              "answered by nginx: %s\n  self metrics moved: %s" % (
                  "unix" if self.unix else "tcp", len(sent), fmt(by_status(exp)), fmt(by_status(got)),
                  "; ".join(nginx_only),
                  ", ".join("%s %+g" % kv for kv in sorted(moved.items()) if kv[1])))
        self.assertEqual(got, dict(exp))
        self.assertIn(("GET", "/n/plain", "200"), got, "nginx reached uWSGI for no plain request")
        self.assertIn(("GET", "/routed/deny", "403"), got, "uWSGI's own answer did not come through nginx")
        self.assertEqual(moved["events_lost_total"], 0)
        self.assertEqual({t["proto"] for t in self.tracer.traces()}, {"uwsgi"})
        self.assertIsNone(promtool(self.tracer))


class TestBehindNginxTcp(BehindNginx, unittest.TestCase):
    pass


class TestBehindNginxUnix(BehindNginx, unittest.TestCase):
    unix = True


if __name__ == "__main__":
    unittest.main()
