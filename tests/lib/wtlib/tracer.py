"""The wsgitrace daemon on a free port, and what its /metrics and --trace say."""
import json
import re
import urllib.request

from .exposition import metric_sum, parse_exposition
from .net import free_port, port_open, wait_for
from .paths import HIST, ROOT, SERVICE, WSGITRACE
from .procs import Proc, descendants

# What the daemon prints on stderr once it is attached, listening and has dropped its
# privileges (user/main.c). It listens before it prints this line, so a port that answers
# does not mean the line is there yet.
STARTED = re.compile(r"^wsgitrace: tracing \d+ process(es)? \(\w+ hooks\), metrics on \S+", re.M)


class Tracer(Proc):
    """build/wsgitrace (or binary) on a free port; ready when /metrics answers and the
    start-up line has been printed."""

    def __init__(self, *args, trace=False, name="wsgitrace", wrap=(), binary=None, stdout=None,
                 workdir=None, timeout=60.0):
        """wrap: a command that runs wsgitrace with its argv appended (setpriv, unshare ...).
        timeout: attaching the syscall hooks (a tracepoint per syscall) on a loaded 2-core
        machine has taken over 20 s."""
        self.mport = free_port()
        argv = list(wrap) + [binary or WSGITRACE, "--listen", "127.0.0.1:%d" % self.mport] + list(args)
        if trace:
            argv.append("--trace")
        super().__init__(argv, name, cwd=ROOT, stdout=stdout, workdir=workdir)
        self.wait_started(timeout, "wsgitrace")

    def started(self):
        """True once /metrics answers and the start-up line is on stderr."""
        return bool(STARTED.search(self.output_all())) and port_open(self.mport)

    def wait_started(self, timeout, what):
        """Waits for started(); cleans up and raises if the process exits first."""
        try:
            wait_for(lambda: self.started() or not self.alive(), timeout=timeout,
                     what="%s: /metrics and its start-up line" % what)
            if not self.alive():
                raise AssertionError("%s exited: %s" % (what, self.output()))
        except Exception:
            self.cleanup()
            raise

    def output_all(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def raw(self, path="/metrics", timeout=10):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.mport, path), timeout=timeout) as r:
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
        return metric_sum(self.metrics(), name)

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
