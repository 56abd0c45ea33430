"""Every response a traced server writes is counted once, whatever the request looked like.

tests/corpus/http holds real-world, lenient, invalid and hostile HTTP/1.x
requests, one file each, raw bytes as sent; MANIFEST.json gives, for each
request of a file, the labels wsgitrace must give it when the server answers
it. Each file is replayed against real servers on its own connection, once
whole and once in random 1-7 byte segments (a slow client), then the client
half-closes and reads until the server closes. Servers that drop a
connection on the client's half-close, even with a response under way
(uvicorn, hypercorn, daphne), get it only once they wait for the client:
they have read every byte sent, written every byte the client has not yet
read, and none of their threads can run (see ServerIdle). What the server sent back is
the truth: the k-th final response on a connection answers the manifest's
k-th request of that file (a response beyond them is `_OTHER`/`_unknown`),
and when the app ran the request, the echo of what it saw must name the
same request. The histogram must hold exactly those responses. A case the
server answered before the client had sent all of it (a slow client's
segments, a server that rejects early) is checked by status only: the server
answered what it had read by then, which the client cannot tell.
"""
import collections
import concurrent.futures
import json
import os
import random
import re
import select
import socket
import subprocess
import time
import unittest
import urllib.parse

import harness as h

CORPUS = os.path.join(h.ROOT, "tests", "corpus", "http")
MANIFEST = os.path.join(CORPUS, "MANIFEST.json")
REPORTS = os.path.join(h.ROOT, "build", "corpus-replay")
PROMTOOL = "/usr/bin/promtool"
APP = "corpus_app:app"
ASGI_APP = "corpus_app:asgi"  # the same app for ASGI-only servers
SERVICE = "corpus_app"
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"}
PLACEHOLDERS = {"_authority", "_unknown", "_truncated", "*"}
UNKNOWN = ("_OTHER", "_unknown")
SEED = 20261201
# Servers whose WSGI environ has no raw request-target (RAW_URI, REQUEST_URI): the echo names the method only.
NO_RAW_URI = {"uvicorn", "hypercorn", "daphne"}
CONCURRENCY = 8
READ_TIMEOUT = 30.0
# How often a client that holds its half-close looks whether the server waits for it.
IDLE_POLL = 0.005
SELF_METRICS = ("wsgitrace_http_parse_errors_total", "wsgitrace_framing_lost_total",
                "wsgitrace_unanswered_requests_total", "wsgitrace_orphan_responses_total",
                "wsgitrace_pending_overflow_total", "wsgitrace_connections_active",
                "wsgitrace_connections_expired_total", "wsgitrace_events_lost_total")


class Case:
    def __init__(self, name, kind, data, requests, app_differs):
        self.name = name
        self.kind = kind
        self.data = data
        self.requests = requests
        self.app_differs = app_differs

    def expected(self, k):
        """The labels of the k-th response on this case's connection."""
        if k < len(self.requests):
            return self.requests[k]["method"], self.requests[k]["route"]
        return UNKNOWN

    def is_head(self, k):
        return k < len(self.requests) and self.requests[k]["head"]


def load_corpus(only=None):
    """The cases whose names match the regular expression only (all by default)."""
    with open(MANIFEST) as f:
        entries = json.load(f)["cases"]
    cases = []
    for name in sorted(entries):
        if only and not re.search(only, name):
            continue
        with open(os.path.join(CORPUS, name), "rb") as f:
            e = entries[name]
            cases.append(Case(name, e["kind"], f.read(), e["requests"], e.get("app_differs", {})))
    return cases


# ---------------------------------------------------------------- client

class Reply:
    """What came back on one connection, parsed leniently."""

    def __init__(self):
        self.statuses = []      # final responses, in order
        self.echoes = []        # per final response: the app's echo headers or None
        self.interim = 0        # 1xx responses skipped
        self.leftover = b""     # bytes that did not parse as a response
        self.error = None       # "timeout", "reset while sending", ...
        self.early = False      # the server answered before the client had sent everything


def split_segments(data, rng):
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 7)
        out.append(data[i:i + n])
        i += n
    return out


def tcp_connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def has_data(s):
    """Whether the server has sent something the client has not read yet."""
    f = getattr(s, "has_data", None)
    return f() if f else bool(select.select([s], [], [], 0)[0])


def exchange(port, data, split, seed, idle=None, connect=tcp_connect):
    """Sends data (whole or in 1-7 byte segments, 1 ms apart), half-closes, reads until the server closes.

    connect(port) gives the client's socket, or an object that acts as one
    (sendall, shutdown(SHUT_WR), recv giving b"" at the server's close,
    fileno, getsockname, close; has_data() where select() on its fileno
    would not tell).

    idle: None to half-close once everything is sent; else idle(client_port)
    says whether the server waits for this client, and the half-close waits
    for that (the server's answers arrive meanwhile).
    Returns (bytes received, error, early): early when the server's answer
    was there before the last segment went out.
    """
    s = connect(port)
    cport = s.getsockname()[1]
    err, early, shut = None, False, False
    try:
        segments = split_segments(data, random.Random(seed)) if split else ([data] if data else [])
        try:
            for i, seg in enumerate(segments):
                if i:
                    time.sleep(0.001)  # a slow client: the server reads what has arrived so far
                    early = early or has_data(s)
                s.sendall(seg)
            if idle is None:
                s.shutdown(socket.SHUT_WR)
                shut = True
        except OSError as e:  # the server closed early (it rejected the request): read what it said
            err = "send: %s" % (e.strerror or e)
            shut = True
        got = b""
        deadline = time.monotonic() + READ_TIMEOUT
        while True:
            if not shut and not select.select([s], [], [], IDLE_POLL)[0]:
                if time.monotonic() > deadline:
                    err = "no close from the server and no wait for the client within %.0fs" % READ_TIMEOUT
                    break
                if idle(cport):
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass  # the server has closed meanwhile: its close is read below
                    shut = True
                continue
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                err = "no close from the server within %.0fs" % READ_TIMEOUT
                break
            except OSError as e:  # a reset after the response: the data before it was read
                err = err or "recv: %s" % (e.strerror or e)
                break
            if not chunk:
                break
            got += chunk
        return got, err, early
    finally:
        s.close()


class ServerIdle:
    """Whether a server waits for its client on one connection: it has read every
    byte the client sent (its socket's receive queue is empty), the client holds
    every byte it wrote (its send queue is empty), and none of its threads is
    runnable (each sleeps in the kernel, in epoll or on a lock). A thread that
    hands work to another wakes it before it sleeps itself, so no request can be
    under way then: only a new byte or a timer (a keep-alive timeout, which
    closes) moves such a server, and a half-close from here cuts no answer."""

    def __init__(self, pid, port):
        self.port = port
        self.pids = sorted(h.descendants(pid))

    def asleep(self):
        for pid in self.pids:
            try:
                tids = os.listdir("/proc/%d/task" % pid)
            except OSError:
                continue  # gone: it runs nothing
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                        st = f.read()
                except OSError:
                    continue
                if st[st.rindex(")") + 2] not in "SZX":
                    return False
        return True

    def queues_empty(self, cport):
        """The server side of the connection from cport holds nothing unread or unsent."""
        out = subprocess.run(["ss", "-tnH", "state", "established",
                              "( sport = :%d and dport = :%d )" % (self.port, cport)],
                             capture_output=True, text=True, check=True).stdout.split()
        # Recv-Q Send-Q Local Peer; none: the server closed it, which the client reads.
        return len(out) >= 2 and out[0] == "0" and out[1] == "0"

    def __call__(self, cport):
        # Asleep on both sides of the look at the queues: a byte read between
        # them would have woken a thread that is still runnable or done.
        return self.asleep() and self.queues_empty(cport) and self.asleep()


def parse_replies(data, case):
    """Final responses in data: 1xx skipped, bodies framed by HEAD / Content-Length / chunked / close."""
    r = Reply()
    pos = 0
    while pos < len(data):
        if not data.startswith(b"HTTP/", pos):
            # Bytes that frame nothing (a body the framing did not announce): resynchronise on a status line.
            nxt = data.find(b"\nHTTP/1.", pos)
            if nxt < 0:
                break
            r.leftover += data[pos:nxt + 1]
            pos = nxt + 1
            continue
        end = data.find(b"\r\n\r\n", pos)
        sep = 4
        lf = data.find(b"\n\n", pos)
        if lf >= 0 and (end < 0 or lf < end):
            end, sep = lf, 2
        if end < 0:
            break
        lines = data[pos:end].replace(b"\r\n", b"\n").split(b"\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            break
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        pos = end + sep
        if 100 <= status < 200 and status != 101:
            r.interim += 1
            continue
        k = len(r.statuses)
        r.statuses.append(status)
        r.echoes.append({n[len("x-echo-"):]: v for n, v in hdrs.items() if n.startswith("x-echo-")} or None)
        if case.is_head(k) or status in (204, 304):
            continue
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            pos = skip_chunked(data, pos)
        elif hdrs.get("content-length", "").isdigit():
            pos += int(hdrs["content-length"])
        else:
            pos = len(data)  # delimited by the close
    r.leftover += data[pos:]
    return r


def skip_chunked(data, pos):
    """Where a chunked body starting at pos ends (its trailers included), or len(data)."""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return len(data)
        try:
            size = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return len(data)
        pos = eol + 2
        if size == 0:
            break
        pos += size + 2
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return len(data)
        line, pos = data[pos:eol], eol + 2
        if not line:
            return pos


def replay(port, cases, split, idle=None, connect=tcp_connect):
    """{case name: Reply}, CONCURRENCY connections at a time; idle and connect as for exchange()."""
    def one(case):
        got, err, early = exchange(port, case.data, split, "%d:%s" % (SEED, case.name), idle, connect)
        r = parse_replies(got, case)
        r.error = err
        r.early = early
        return case.name, r

    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        return dict(pool.map(one, cases))


def echo_mismatch(case, k, echo, family):
    """Why the app's echo does not name the manifest's k-th request, or None.

    Only requests the manifest names are checked: a lenient server may make a
    request out of bytes labelled `_unknown` (garbage, a body it did not
    frame), and the manifest's app_differs lists the servers known to see a
    named request differently (the labels stay the tracer's view of the bytes).
    """
    if echo is None or k >= len(case.requests) or case.requests[k].get("sent_target") is None:
        return None
    if family in case.app_differs:
        return None
    want = case.requests[k]
    if family in NO_RAW_URI:
        method = urllib.parse.unquote_to_bytes(echo.get("method", "")).decode("latin-1")
        if method.upper() != want["sent_method"].upper():
            return "the app saw %r, the manifest's request %d is %r" % (method, k + 1, want["sent_method"])
        return None
    uri = urllib.parse.unquote_to_bytes(echo.get("uri", "")).decode("latin-1")
    seen_len = int(echo.get("uri-len", "-1"))
    sent = want["sent_target"]
    sent_len = want.get("sent_target_len", len(sent.encode("latin-1")))
    method = urllib.parse.unquote_to_bytes(echo.get("method", "")).decode("latin-1")
    if method.upper() != want["sent_method"].upper() or not uri.startswith(sent) or seen_len != sent_len:
        return "the app saw %r %r (%d bytes), the manifest's request %d is %r %r" % (
            method, uri[:80], seen_len, k + 1, want["sent_method"], sent[:80])
    return None


# ---------------------------------------------------------------- oracle

def expected_counts(cases, replies):
    """{(method, route, status): n} and per case its labelled responses, from what the servers sent."""
    total = collections.Counter()
    per_case = {}
    for c in cases:
        labels = []
        for k, st in enumerate(replies[c.name].statuses):
            labels.append(c.expected(k) + (str(st),))
        total.update(labels)
        per_case[c.name] = labels
    return total, per_case


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
UNESCAPE = re.compile(r'\\(.)')


def histogram_counts(text, service=SERVICE):
    """{(method, route, status): count} from the exposition, label values unescaped as the format defines."""
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != h.HIST + "_count":
            continue
        labels = {k: UNESCAPE.sub(lambda e: "\n" if e.group(1) == "n" else e.group(1), v)
                  for k, v in LABEL.findall(m.group(2) or "")}
        if labels.get("service_name") == service:
            key = (labels["http_request_method"], labels["http_route"], labels["http_response_status_code"])
            out[key] = int(float(m.group(3)))
    return out


def delta(after, before):
    out = collections.Counter(after)
    out.subtract(before)
    return {k: v for k, v in out.items() if v}


def case_of_path(path, names):
    """The corpus case whose name starts a traced path (absolute-form too), or None."""
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    path = path.lstrip("/")
    end = 0
    while end < len(path) and (path[end].isalnum() or path[end] == "-"):
        end += 1
    return path[:end] if path[:end] in names else None


class CorpusReplay:
    """Each subclass starts one server with the corpus app; the same replay runs on all."""
    server = ()  # ("gunicorn", "uwsgi", "waitress", "uvicorn", "hypercorn" or "daphne", options...): the first word is the key of a case's app_differs
    workers = 2  # processes below the server once it is ready
    hold_half_close = False  # the server drops a connection on the client's half-close: wait until it waits
    connect = staticmethod(tcp_connect)  # the client's transport, as for exchange()
    request = staticmethod(h.request)  # one request on a new connection: (status, body)

    @staticmethod
    def server_argv(server, port):
        return server_argv(server, port)

    @classmethod
    def setUpClass(cls):
        # WT_CORPUS=REGEX replays only the matching cases, for working on one kind of request.
        cls.cases = load_corpus(os.environ.get("WT_CORPUS"))
        cls.name = cls.__name__
        cls.family = cls.server[0]
        cls.port = h.free_port()
        cls.proc = h.Server(cls.server_argv(cls.server, cls.port), cls.name, port=cls.port, workers=cls.workers)
        cls.idle = ServerIdle(cls.proc.pid, cls.port) if cls.hold_half_close else None
        try:
            cls.tracer = h.Tracer("--pid", str(cls.proc.pid), "--no-fold-ids", trace=True)
        except Exception:
            cls.proc.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tracer.cleanup()
        cls.proc.cleanup()

    def counts(self):
        return histogram_counts(self.tracer.raw()[1])

    def settle(self, tag, expected):
        """Counts after everything sent so far was processed; expected includes the settle request."""
        st, _ = self.request(self.port, "/_settle/%s" % tag)
        self.assertEqual(st, 200)
        mark = ("GET", "/_settle/%s" % tag, "200")
        # The tracer reads its ring buffer in order: once the settle request,
        # sent after every case connection was closed, is counted, so is everything before it.
        h.wait_for(lambda: self.counts().get(mark), timeout=60,
                   what="the settle request /_settle/%s to be counted" % tag)
        # Responses the tracer closes on a later event (the client's ACK) may still come.
        try:
            h.wait_for(lambda: self.counts() == expected
                       or self.tracer.self_metric("wsgitrace_connections_active") == 0, timeout=10)
        except AssertionError:
            pass
        return self.counts()

    def run_phase(self, split, before, traces_before):
        tag = "split" if split else "whole"
        t0 = time.monotonic()
        replies = replay(self.port, self.cases, split, self.idle, self.connect)
        exp, per_case = expected_counts(self.cases, replies)
        exp[("GET", "/_settle/%s" % tag, "200")] += 1
        want = collections.Counter(before)
        want.update(exp)
        after = self.settle(tag, {k: v for k, v in want.items() if v})
        got = delta(after, before)
        traces = self.tracer.traces()[traces_before:]
        return {"tag": tag, "replies": replies, "expected": dict(exp), "per_case": per_case, "got": got,
                "after": after, "traces": traces, "seconds": time.monotonic() - t0}

    def test_replay(self):
        t0 = time.monotonic()
        self_before = {m: self.tracer.self_metric(m) for m in SELF_METRICS}
        whole = self.run_phase(False, {}, 0)
        split = self.run_phase(True, whole["after"], len(whole["traces"]))
        self_after = {m: self.tracer.self_metric(m) for m in SELF_METRICS}
        promtool = self.promtool()
        report = self.report([whole, split], self_before, self_after, promtool, time.monotonic() - t0)
        print("\n" + report["text"])
        os.makedirs(REPORTS, exist_ok=True)
        with open(os.path.join(REPORTS, "%s.json" % self.name), "w") as f:
            json.dump(report["data"], f, indent=1, sort_keys=True)
        problems = report["problems"]
        self.assertFalse(problems, "%s: %d problem(s); full report in %s/%s.json\n%s"
                         % (self.name, len(problems), REPORTS, self.name, "\n".join(problems)))

    def promtool(self):
        """promtool's verdict on the exposition: None when accepted."""
        _, text = self.tracer.raw()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
        return None if r.returncode == 0 else (r.stdout + r.stderr).strip()[:2000]

    def report(self, phases, self_before, self_after, promtool, seconds):
        """Figures, per-case misses grouped by kind, label diffs; problems is what fails the test."""
        names = {c.name for c in self.cases}
        by_name = {c.name: c for c in self.cases}
        problems, lines, data = [], [], {"server": self.name, "seconds": round(seconds, 1), "phases": {}}
        lines.append("corpus replay on %s: %d cases, %.1fs" % (self.name, len(self.cases), seconds))
        uncounted_before = None
        for ph in phases:
            tag, replies = ph["tag"], ph["replies"]
            sent_resp = sum(len(r.statuses) for r in replies.values())
            exp = {k: v for k, v in ph["expected"].items() if not k[1].startswith("/_settle/")}
            got = {k: v for k, v in ph["got"].items() if not k[1].startswith("/_settle/")}
            counted = sum(got.values())
            by_status_exp = collections.Counter()
            by_status_got = collections.Counter()
            for (m, r, st), v in exp.items():
                by_status_exp[st] += v
            for (m, r, st), v in got.items():
                by_status_got[st] += v
            # Attribution: traced requests whose path names a case.
            traced = collections.Counter()
            for t in ph["traces"]:
                c = case_of_path(t.get("path") or "", names)
                if c:
                    traced[c] += 1
            missed, pairing, errors, uncounted = collections.defaultdict(list), [], [], set()
            for c in self.cases:
                r = replies[c.name]
                for k, echo in enumerate(r.echoes):
                    why = echo_mismatch(c, k, echo, self.family)
                    if why:
                        pairing.append("%s #%d: %s" % (c.name, k + 1, why))
                if r.error and "no close" in r.error:
                    errors.append("%s: %s" % (c.name, r.error))
                nameable = sum(1 for lab in ph["per_case"][c.name] if lab[1].startswith("/") and lab[1] != "/")
                if traced[c.name] < nameable:
                    sts = ",".join(str(s) for s in r.statuses)
                    app = "app" if any(r.echoes) else "server"
                    uncounted.add(c.name)
                    missed[c.kind].append("%s (%d of %d; %s %s)" % (c.name, nameable - traced[c.name], nameable,
                                                                   app, sts))
            # A server that answered before the client had sent everything
            # answered what it had read, which the client cannot tell: such
            # a case's responses count by status, whatever their labels.
            early = sorted(n for n, r in replies.items() if r.early and r.statuses)
            wild = collections.Counter(lab[2] for n in early for lab in ph["per_case"][n])
            exact = collections.Counter(exp)
            exact.subtract(lab for n in early for lab in ph["per_case"][n])
            missing = {k: v for k, v in delta(exact, got).items() if v > 0}
            extra = {k: -v for k, v in delta(exact, got).items() if v < 0}
            # Labels of cases listed below as not counted add nothing; the rest were counted under other labels.
            mislabelled = {k: v for k, v in missing.items()
                           if any(k in labs and n not in uncounted for n, labs in ph["per_case"].items())}
            # A case not counted under its name whose server answered what it had read by then (its
            # first read's empty line, say) is counted as _OTHER _unknown with the status it sent.
            for k in sorted(extra):
                if tuple(k[:2]) != UNKNOWN:
                    continue
                for m in sorted(missing):
                    if m in mislabelled or m[2] != k[2]:
                        continue
                    take = min(extra[k], missing[m])
                    extra[k] -= take
                    missing[m] -= take
            missing = {k: v for k, v in missing.items() if v}
            for k in sorted(extra):
                take = min(extra[k], wild[k[2]])
                wild[k[2]] -= take
                extra[k] -= take
            extra = {k: v for k, v in extra.items() if v}
            lines.append("  %s: %d connections, %d final responses (%s), counted %d (%s)%s" % (
                tag, len(self.cases), sent_resp, fmt_counter(by_status_exp), counted, fmt_counter(by_status_got),
                ", %.1fs" % ph["seconds"]))
            if missed:
                lines.append("    cases not (fully) counted, by kind:")
                for kind in sorted(missed):
                    lines.append("      %s: %s" % (kind, "; ".join(missed[kind])))
            if early:
                lines.append("    answered before all was sent (labels not checked): %s" % ", ".join(early))
            if uncounted_before is not None and uncounted - uncounted_before:
                # Same bytes, other segments: what the tracer does depends on how the reads fell.
                lines.append("    counted when sent whole, not in segments: %s"
                             % ", ".join(sorted(uncounted - uncounted_before)))
            uncounted_before = uncounted
            if mislabelled:
                lines.append("    labels missing (not only from the cases above): %s"
                             % fmt_labels(mislabelled, ph["per_case"]))
            if extra:
                lines.append("    labels extra: %s" % fmt_labels(extra, None))
            for p in pairing:
                lines.append("    pairing: " + p)
            for e in errors:
                lines.append("    client: " + e)
            # Every response counted once per status, and with its labels where they are known.
            if by_status_got != by_status_exp:
                problems.append("%s: per status, responses %s but counted %s" % (
                    tag, fmt_counter(by_status_exp), fmt_counter(by_status_got)))
            if missing or extra:
                problems.append("%s: %d label sets differ (%d responses not counted as expected, %d counted "
                                "that were not expected)" % (tag, len(missing) + len(extra),
                                                             sum(missing.values()), sum(extra.values())))
            problems.extend("%s: pairing: %s" % (tag, p) for p in pairing)
            data["phases"][tag] = {
                "responses": sent_resp, "counted": counted, "seconds": round(ph["seconds"], 1),
                "by_status_expected": dict(by_status_exp), "by_status_counted": dict(by_status_got),
                "missing": [[list(k), v] for k, v in sorted(missing.items())],
                "extra": [[list(k), v] for k, v in sorted(extra.items())],
                "missed_by_kind": {k: v for k, v in missed.items()}, "pairing": pairing, "client_errors": errors,
                "answered_early": early,
                "cases": {n: {"statuses": r.statuses, "app": [bool(e) for e in r.echoes], "interim": r.interim,
                              "error": r.error, "leftover": len(r.leftover), "kind": by_name[n].kind,
                              "traced": traced[n]}
                          for n, r in sorted(replies.items())}}
        moved = {m: self_after[m] - self_before[m] for m in SELF_METRICS if self_after[m] != self_before[m]}
        if moved:
            lines.append("  self metrics moved: " + ", ".join("%s %+g" % (m[len("wsgitrace_"):], v)
                                                             for m, v in sorted(moved.items())))
        data["self_metrics_moved"] = moved
        if promtool:
            lines.append("  promtool: " + promtool)
            problems.append("promtool check metrics rejected the exposition: " + promtool)
        data["promtool"] = promtool or "ok"
        return {"text": "\n".join(lines), "problems": problems, "data": data}


def fmt_counter(c):
    return " ".join("%s:%d" % kv for kv in sorted(c.items())) or "none"


def fmt_labels(labels, per_case):
    """Label sets with their counts, and which cases expected them (when per_case is given)."""
    out = []
    for k, v in sorted(labels.items()):
        s = "%s %s %s x%d" % (k[0], k[1][:60], k[2], v)
        if per_case is not None and not k[1].startswith("/"):
            who = sorted(n for n, labs in per_case.items() if k in labs)
            s += " [%s]" % ", ".join(who[:12] + (["..."] if len(who) > 12 else []))
        out.append(s)
    return "; ".join(out)


def server_argv(server, port):
    """The command line of (SERVER, ARGS...) or ("uwsgi", SOCKET-OPTION) serving the corpus app on port."""
    family, args = server[0], list(server[1:])
    if family == "gunicorn":
        return [h.PY, h.GUNICORN, "-b", "127.0.0.1:%d" % port, "--log-level", "warning"] + args + [APP]
    if family == "waitress":
        return ["/usr/bin/waitress-serve", "--listen=127.0.0.1:%d" % port] + args + [APP]
    if family == "uvicorn":
        return [h.PY, "-m", "uvicorn", "--interface", "wsgi", "--port", str(port), "--log-level", "warning"] + args + [APP]
    if family == "hypercorn":
        return ["/usr/bin/hypercorn", "-b", "127.0.0.1:%d" % port] + args + [ASGI_APP]
    if family == "daphne":
        return ["/usr/bin/daphne", "-b", "127.0.0.1", "-p", str(port)] + args + [ASGI_APP]
    return [h.UWSGI, "--plugin", "python3", "--module", APP, "--master", "--disable-logging", "--die-on-term",
            "--processes", "2"] + args + ["127.0.0.1:%d" % port]


class TestCorpusFiles(unittest.TestCase):
    """The manifest and the files agree, and every expected label is one the tracer may produce."""

    def test_manifest_names_every_file(self):
        with open(MANIFEST) as f:
            entries = json.load(f)["cases"]
        files = set(os.listdir(CORPUS)) - {"MANIFEST.json"}
        self.assertEqual(sorted(files - set(entries)), [], "files without a manifest entry")
        self.assertEqual(sorted(set(entries) - files), [], "manifest entries without a file")
        self.assertGreaterEqual(len(files), 150)
        for name, e in entries.items():
            self.assertIn(name.split("-")[0], ("valid", "lenient", "invalid", "hostile"), name)
            self.assertLessEqual(set(e.get("app_differs", {})), {"gunicorn", "uwsgi", "waitress", "uvicorn", "hypercorn", "daphne"}, name)
            for r in e["requests"]:
                self.assertIn(r["method"], METHODS, name)
                self.assertTrue(r["route"].startswith("/") or r["route"] in PLACEHOLDERS, name)
                self.assertNotIn("?", r["route"], name)
                for ch in r["route"]:
                    self.assertFalse(ord(ch) < 0x20 or ord(ch) == 0x7f, "%s: control character in route" % name)


class TestGunicornSync(CorpusReplay, unittest.TestCase):
    server = ("gunicorn", "-w", "2")


class TestGunicornGthread(CorpusReplay, unittest.TestCase):
    server = ("gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "5")


class TestGunicornGevent(CorpusReplay, unittest.TestCase):
    server = ("gunicorn", "-w", "2", "-k", "gevent", "--keep-alive", "5")


class TestUwsgiHttpSocket(CorpusReplay, unittest.TestCase):
    server = ("uwsgi", "--http-socket")


class TestUwsgiHttp11Socket(CorpusReplay, unittest.TestCase):
    server = ("uwsgi", "--http11-socket")


class TestWaitress(CorpusReplay, unittest.TestCase):
    server = ("waitress", "--threads=4")
    workers = 0


# uvicorn serves the WSGI corpus app through its WSGI interface, hypercorn and daphne
# through asgiref's adapter. All three drop a connection whose client half-closed, even
# with its response under way: the client half-closes once the server waits for it.
class TestUvicornH11(CorpusReplay, unittest.TestCase):
    server = ("uvicorn", "--workers", "2", "--http", "h11")
    workers = 3  # and multiprocessing's resource tracker
    hold_half_close = True


class TestUvicornHttptools(CorpusReplay, unittest.TestCase):
    server = ("uvicorn", "--http", "httptools")
    workers = 0
    hold_half_close = True


class TestHypercorn(CorpusReplay, unittest.TestCase):
    server = ("hypercorn", "-w", "2")
    hold_half_close = True


class TestDaphne(CorpusReplay, unittest.TestCase):
    server = ("daphne",)
    workers = 0
    hold_half_close = True


if __name__ == "__main__":
    unittest.main()
