"""Child processes in their own process group, and the process tree."""
import os
import shutil
import signal
import subprocess
import tempfile

from .paths import APPS


class Proc:
    """A child process in its own group, with its output in a log file.

    workdir: where the log folder goes (a fresh folder under /tmp if None)."""

    def __init__(self, argv, name, cwd=APPS, env=None, stdout=None, workdir=None):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="wt-%s-" % name, dir=workdir)
        self.log = os.path.join(self.tmp, "stderr.log")
        self.out = stdout or os.path.join(self.tmp, "stdout.log")
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        e.pop("PYTHONHOME", None)
        e.update(env or {})
        with open(self.out, "wb") as out, open(self.log, "wb") as err:
            self.p = subprocess.Popen(argv, cwd=cwd, env=e, stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=err, start_new_session=True)

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

    def kill_group(self):
        """SIGKILL whatever is left in the group (workers that outlived their master)."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

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
