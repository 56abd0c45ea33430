"""What a fresh host may lack, and what wsgitrace does about it.

Each case builds the lack on purpose around one wsgitrace process (a private
mount namespace without tracefs, capabilities dropped, a memlock limit, BTF
hidden), so the host running the tests is never changed.
"""
import subprocess
import unittest

import harness as h

# Runs its arguments in a private mount namespace where tracefs is not
# mounted anywhere libbpf looks, failing (not skipping) if that cannot be made.
NO_TRACEFS = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
              "umount -l /sys/kernel/debug 2>/dev/null; umount -l /sys/kernel/tracing 2>/dev/null; "
              "if [ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing ]; then "
              "echo 'test setup: tracefs still mounted' >&2; exit 3; fi; exec \"$@\"", "sh"]
# No CAP_SYS_ADMIN: tracefs cannot be mounted, not even privately.
NO_SYS_ADMIN = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--"]


def tracefs_mounts():
    with open("/proc/self/mountinfo") as f:
        return sorted(l for l in f if " - tracefs " in l)


class HostCase(unittest.TestCase):
    def traced_requests(self, tracer_args, wrap, n=12):
        """A gunicorn sync server traced through wrap: n requests, counted exactly."""
        server = h.gunicorn("host", "-w", "2", workers=2)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), *tracer_args, wrap=wrap)
        self.addCleanup(tracer.cleanup)
        for i in range(n):
            self.assertEqual(h.request(server.port, "/test/" if i % 2 else "/test1/")[0],
                             200 if i % 2 else 500)
        tracer.wait_counts({("GET", "/test/", "200"): n // 2, ("GET", "/test1/", "500"): n // 2})
        return tracer

    def hook_label(self, tracer):
        for (name, labels), _ in tracer.metrics().items():
            if name == "wsgitrace_build_info":
                return dict(labels)["hook"]
        raise AssertionError("no wsgitrace_build_info")


class TestWithoutTracefs(HostCase):
    def test_syscall_hooks_mount_tracefs_privately(self):
        before = tracefs_mounts()
        tracer = self.traced_requests(["--hooks", "syscalls"], NO_TRACEFS)
        self.assertEqual(self.hook_label(tracer), "syscalls")
        self.assertIn("mounted it at /sys/kernel/tracing in wsgitrace's own mount namespace",
                      tracer.output())
        # the mount lives and dies with wsgitrace's namespace: the host never sees it
        self.assertEqual(tracefs_mounts(), before)

    def test_syscall_hooks_without_cap_sys_admin_use_raw_tracepoints(self):
        tracer = self.traced_requests(["--hooks", "syscalls"], NO_TRACEFS + NO_SYS_ADMIN)
        self.assertEqual(self.hook_label(tracer), "raw_syscalls")
        out = tracer.output()
        self.assertIn("tracefs is not mounted and could not be", out)
        self.assertIn("mount -t tracefs nodev /sys/kernel/tracing", out)

    def test_socket_hooks_need_no_tracefs(self):
        tracer = self.traced_requests(["--hooks", "sockets"], NO_TRACEFS + NO_SYS_ADMIN)
        self.assertEqual(self.hook_label(tracer), "sockets")
        self.assertNotIn("tracefs", tracer.output())


class TestOtherNeeds(HostCase):
    def test_memlock_limit_does_not_matter_on_this_kernel(self):
        """Kernels from 5.11 charge BPF memory to the cgroup, not to RLIMIT_MEMLOCK."""
        wrap = ["prlimit", "--memlock=0:0", "--"] + ["setpriv", "--bounding-set", "-sys_resource",
                                                       "--inh-caps", "-sys_resource", "--"]
        self.traced_requests([], wrap)

    def test_without_bpf_capabilities_the_error_names_them(self):
        r = subprocess.run(["setpriv", "--bounding-set", "-bpf,-perfmon,-sys_admin", "--inh-caps",
                            "-bpf,-perfmon,-sys_admin", "--", h.WSGITRACE,
                            "--listen", "127.0.0.1:%d" % h.free_port()],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("refused to load", r.stderr)
        self.assertIn("CAP_BPF and CAP_PERFMON", r.stderr)

    def test_without_btf_the_error_names_the_kernel_option(self):
        hide_btf = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                    "mount -t tmpfs none /sys/kernel/btf && exec \"$@\"", "sh"]
        r = subprocess.run(hide_btf + [h.WSGITRACE, "--listen", "127.0.0.1:%d" % h.free_port()],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no BTF at /sys/kernel/btf/vmlinux", r.stderr)
        self.assertIn("CONFIG_DEBUG_INFO_BTF=y", r.stderr)


if __name__ == "__main__":
    unittest.main()
