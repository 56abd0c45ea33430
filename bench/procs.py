"""The processes of one benchmark run: servers under test and wsgitrace
daemons, each in its own process group, all stopped when the run ends."""
import os
import signal
import time

from wtlib.client import request
from wtlib.exposition import metric_sum, parse_exposition
from wtlib.net import free_port, wait_for
from wtlib.paths import GUNICORN, HIST, PY, ROOT, UWSGI
from wtlib.procs import Proc
from wtlib.servers import Server
from wtlib.tracer import Tracer

from .config import APPS, NOTES
from .errors import BenchError, log
from .sysstat import children_pids, proc_cpu_ns, proc_cpu_ticks, proc_status_kib, wait_still

READY_S = 60.0  # a server or daemon starting on a loaded 2-core machine


class Procs:
    """Registry of what this run started; stop_all() in a finally block."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.live = []
        self.groups = set()  # every process group this run started, stopped or not

    def add(self, p):
        self.live.append(p)
        self.groups.add(p.pid)  # each starts a session of its own: its pid is its group
        return p

    def start(self, name, argv, env=None, stdout=None):
        return self.add(Proc(argv, name, cwd=ROOT, env=env, stdout=stdout, workdir=self.workdir))

    def stop(self, p, sig=signal.SIGINT, timeout=15.0):
        """Signal the whole group, wait (bounded), then kill what is left of it."""
        if p not in self.live:
            return p.p.returncode
        rc = p.stop(sig, timeout)
        p.kill_group()
        self.live.remove(p)
        return rc

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p, timeout=5)


def other_wsgitraces(procs):
    """wsgitrace daemons on the machine that this run did not start (another
    user's tests, say): in discovery mode they trace our servers too. A
    daemon's helper processes, and a daemon of ours still exiting, are in
    a process group this run started."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() != "wsgitrace":
                    continue
            if os.getpgid(int(d)) not in procs.groups:
                out.append(int(d))
        except OSError:
            pass
    return out


def wait_quiet(procs, timeout=NOTES["quiet_wait_s"]):
    """Wait (bounded) for foreign wsgitrace daemons to go away; -> those left."""
    deadline = time.monotonic() + timeout
    others = other_wsgitraces(procs)
    if others:
        log("  waiting up to %.0fs for other wsgitrace daemons %s to exit" % (timeout, others))
    while others and time.monotonic() < deadline:
        time.sleep(0.5)
        others = other_wsgitraces(procs)
    return others


def server_argv(kind, app, port, workers, extra):
    if kind in ("sync", "gthread"):
        argv = [GUNICORN, "-w", str(workers), "-b", "127.0.0.1:%d" % port,
                "--chdir", APPS, "--timeout", "120", "--graceful-timeout", "5", "-k", kind]
        if kind == "gthread":
            argv += ["--threads", "4", "--keep-alive", "5"]
        return argv + list(extra) + ["%s:application" % app]
    if kind == "uwsgi":
        return [UWSGI, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port,
                "--master", "--processes", str(workers), "--chdir", APPS,
                "--pythonpath", APPS, "--module", "%s:application" % app,
                "--disable-logging", "--die-on-term", "--need-app"] + list(extra)
    if kind == "uvicorn":
        return [PY, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--app-dir", APPS, "--log-level", "warning",
                "--no-access-log"] + list(extra) + ["%s:application" % app]
    raise ValueError(kind)


def answers(port, path="/test/"):
    try:
        return request(port, path, timeout=5)[0] == 200
    except OSError:
        return False


def start_server(procs, kind, app, env=None, extra=(), workers=2):
    """A server of kind serving bench/apps/APP.py, answering and fully booted."""
    port = free_port()
    srv = procs.add(Server(server_argv(kind, app, port, workers, extra), "%s-%s" % (kind, app),
                           port=port, workers=workers, env=env, workdir=procs.workdir, timeout=READY_S))
    wait_for(lambda: answers(port) or not srv.alive(), timeout=READY_S, what="%s: GET /test/ 200" % srv.name)
    if not srv.alive():
        raise BenchError("%s exited:\n%s" % (srv.name, srv.output()))
    # Every worker done booting (app imported) before anything is measured or
    # attached: a gthread worker still importing the app when the load starts
    # never gets a keep-alive connection, and the other worker serves all of
    # them. Booted = every worker's CPU time stands still for 5 polls in a row
    # with no load (bounded).
    wait_still(lambda: [proc_cpu_ns(k) for k in children_pids(srv.pid)], timeout=30)
    return srv


class Wsgitrace(Tracer):
    """The daemon attached by --pid to the given processes, one of the run's processes."""

    def __init__(self, procs, pids, binary, extra=(), trace_out=None):
        args = [a for p in pids for a in ("--pid", str(p))] + list(extra)
        super().__init__(*args, trace=bool(trace_out), binary=binary, stdout=trace_out,
                         workdir=procs.workdir, timeout=READY_S)
        procs.add(self)
        self.procs = procs

    def metrics_text(self, timeout=30.0):
        return self.raw(timeout=timeout)[1]

    def metrics(self):
        return parse_exposition(self.metrics_text())

    def request_count(self, samples=None):
        return metric_sum(samples if samples is not None else self.metrics(), HIST + "_count")

    def wait_settled(self, expect=None, timeout=5.0):
        """Poll /metrics until the request count reaches `expect` (or stops
        moving for 3 polls after the ring buffer's drain period)."""
        deadline = time.monotonic() + timeout
        last, same = None, 0
        while time.monotonic() < deadline:
            c = self.request_count()
            if expect is not None and c >= expect:
                return c
            same = same + 1 if c == last else 0
            if same >= 3 and expect is None:
                return c
            last = c
            time.sleep(0.1)
        return last

    def cpu(self):
        """(clock ticks, schedstat ns) of CPU used so far"""
        return proc_cpu_ticks(self.pid), proc_cpu_ns(self.pid)

    def hwm_kib(self):
        return proc_status_kib(self.pid, "VmHWM")

    def rss_kib(self):
        return proc_status_kib(self.pid, "VmRSS")

    def detach(self):
        """Stop the daemon (SIGINT, as a user would); -> its exit status."""
        return self.procs.stop(self, signal.SIGINT, timeout=15)
