"""The container image, run as the DaemonSet runs it.

The image is built from the working tree by scripts/image.sh (what `make
image` runs) and started with podman with the DaemonSet container's settings:
privileged, the host's PID namespace and network, the kubelet's log folders
mounted read-only. It must trace a gunicorn running on the host exactly as
build/wsgitrace does.
"""
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import unittest

import harness as h
from workload import workload

PODMAN = ["podman", "--runtime=runc", "--cgroup-manager=cgroupfs"]
VERSION = open(os.path.join(h.ROOT, "VERSION")).read().strip()
IMAGE = "localhost/wsgitrace:%s" % VERSION
STAGED = os.path.join(h.ROOT, "build", "image", "root")


def daemonset_args(logroot):
    """The DaemonSet's container settings; logroot stands for the node's /var/log."""
    return ["--privileged", "--pid=host", "--network=host",
            "-v", "%s/pods:/var/log/pods:ro" % logroot,
            "-v", "%s/containers:/var/log/containers:ro" % logroot]


def limit_args():
    """podman asks for RLIMIT_NOFILE 1048576 unless told, which a host with a lower hard
    limit refuses (setrlimit: Operation not permitted): ask for what wsgitrace needs, within
    the host's limits."""
    out = []
    for name, res, want in (("nofile", resource.RLIMIT_NOFILE, 20000),
                            ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(res)[1]
        v = want if hard == resource.RLIM_INFINITY else min(want, hard)
        out += ["--ulimit", "%s=%d:%d" % (name, v, v)]
    return out


def podman(*args, check=True):
    return subprocess.run(PODMAN + list(args), capture_output=True, text=True, check=check)


build_seconds = None
logroot = None


def setUpModule():
    global build_seconds, logroot
    logroot = tempfile.mkdtemp(prefix="wt-logroot-")
    for d in ("pods", "containers"):
        os.mkdir(os.path.join(logroot, d))
    t0 = time.monotonic()
    r = subprocess.run(["bash", os.path.join(h.ROOT, "scripts", "image.sh"), h.WSGITRACE],
                       capture_output=True, text=True)
    build_seconds = time.monotonic() - t0
    if r.returncode:
        raise AssertionError("scripts/image.sh failed:\n%s%s" % (r.stdout, r.stderr))
    print("\nimage: %s in %.1f s" % (r.stdout.strip(), build_seconds))


def tearDownModule():
    shutil.rmtree(logroot, ignore_errors=True)


class Container(h.Tracer):
    """The image under podman, as a Tracer: /metrics on a free host port (host network)."""

    def __init__(self, run_args, *args, trace=False, name="wsgitrace-image"):
        self.mport = h.free_port()
        self.cname = "wt-test-%d-%d" % (os.getpid(), self.mport)
        argv = PODMAN + ["run", "--rm", "--name", self.cname] + limit_args() + list(run_args) + \
            [IMAGE, "--listen", "127.0.0.1:%d" % self.mport] + list(args)
        if trace:
            argv.append("--trace")
        h.Proc.__init__(self, argv, name, cwd=h.ROOT)
        try:
            h.wait_for(lambda: h.port_open(self.mport) or not self.alive(), timeout=60,
                       what="the container's /metrics")
            if not self.alive():
                raise AssertionError("the container exited: %s" % self.output())
        except Exception:
            self.cleanup()
            raise

    def host_pid(self):
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.cname).stdout)

    def cleanup(self):
        # SIGTERM reaches podman run, which passes it on to wsgitrace.
        super().cleanup()
        podman("rm", "--force", "--time", "5", self.cname, check=False)


class TestImage(unittest.TestCase):
    def test_version_and_revision(self):
        want = subprocess.run([h.WSGITRACE, "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
        self.assertRegex(want, r"^wsgitrace %s \((?:[0-9a-f]{7,}|unknown)\)$" % re.escape(VERSION))
        got = podman("run", "--rm", *limit_args(), IMAGE, "--version").stdout.strip()
        self.assertEqual(got, want)
        labels = podman("image", "inspect", "--format",
                        "{{index .Labels \"org.opencontainers.image.version\"}} "
                        "{{index .Labels \"org.opencontainers.image.revision\"}}", IMAGE).stdout.split()
        self.assertEqual(labels, [VERSION, want.split("(")[1].rstrip(")")])

    def test_small(self):
        size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
        self.assertLess(size, 20 * 1024 * 1024, "the image is %d bytes" % size)


class TestDaemonSetContainer(unittest.TestCase):
    """The image with the DaemonSet's settings, next to a gunicorn on the host."""

    @classmethod
    def setUpClass(cls):
        cls.tracer = Container(daemonset_args(logroot), trace=True)
        try:
            cls.server = h.gunicorn(cls.__name__, "-w", "2", workers=2)
        except Exception:
            cls.tracer.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tracer.cleanup()

    def test_exact_counts(self):
        h.wait_for(lambda: self.tracer.self_metric("wsgitrace_processes_traced") >= 3,
                   what="the gunicorn master and its 2 workers traced")
        exp = workload(self.server.port)
        self.tracer.wait_counts(exp)
        self.assertEqual(self.tracer.self_metric("wsgitrace_events_lost_total"), 0)

    def test_loads_exactly_the_image(self):
        """Every shared object the running daemon mapped is one the image holds, and every
        one the image holds is mapped: nothing missing, nothing carried for nothing."""
        pid = self.tracer.host_pid()
        with open("/proc/%d/maps" % pid) as f:
            mapped = {l.split()[-1] for l in f if ".so" in l.split()[-1]}
        staged = set()
        for d, _, files in os.walk(STAGED):
            staged |= {os.path.join(d, f)[len(STAGED):] for f in files if ".so" in f}
        self.assertEqual(mapped, staged)
