"""Finds the capabilities wsgitrace needs by running its image without them.

Runs the image as the least-privilege DaemonSet does (not privileged; host PID
and network; all capabilities dropped, then some added back) next to a
gunicorn on the host, and for each set of capabilities records whether
wsgitrace starts, which hooks it attaches, and whether it counts a known
workload exactly. Prints a Markdown table. Needs root, podman and the image
(`make image`); run it under the integration lock:

  flock /tmp/wt-integration.lock /usr/bin/python3 deploy/kubernetes/least-privilege/measure-caps.py

Sets measured, without a seccomp profile (Kubernetes' default) unless said:
every capability; every capability but one, for each one (what is needed on
its own); every capability but CAP_SYS_ADMIN and one more (what CAP_SYS_ADMIN
was standing in for: it implies CAP_BPF and CAP_PERFMON); the chosen set; the
chosen set but one, for each one; the chosen set with the syscall hooks; and
the container runtime's default seccomp profile.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "integration"))

import harness as h  # noqa: E402
import test_image as ti  # noqa: E402

# capability(7), in number order; the kernel knows cap_last_cap + 1 of them.
ALL = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
       "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
       "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
       "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
       "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
       "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
ALL = ALL[:int(open("/proc/sys/kernel/cap_last_cap").read()) + 1]
CHOSEN = ["BPF", "PERFMON"]


UNCONFINED = ("--security-opt", "seccomp=unconfined")


def run(caps, server, extra=UNCONFINED, cargs=()):
    args = ["--pid=host", "--network=host", "--cap-drop=ALL"] + \
        ["--cap-add=CAP_%s" % c for c in caps] + list(extra)
    try:
        t = ti.Container(args, cargs)
    except AssertionError as e:
        lines = [l for l in str(e).splitlines() if l.strip()]
        return "exits: " + (lines[-1] if lines else str(e))[:160]
    try:
        hook = [dict(k)["hook"] for (n, k), _ in t.metrics().items() if n == "wsgitrace_build_info"][0]
        try:
            h.wait_for(lambda: t.self_metric("wsgitrace_processes_traced") >= 3, timeout=10,
                       what="3 processes")
            for _ in range(5):
                h.request(server.port, "/test/")
            t.wait_counts({("GET", "/test/", "200"): 5}, timeout=10)
            return "counts exactly (%s hooks)" % hook
        except AssertionError:
            return "starts (%s hooks), traces %d processes, counts %r" % (
                hook, t.self_metric("wsgitrace_processes_traced"), t.counts())
    finally:
        t.cleanup()


def main():
    server = h.gunicorn("caps", "-w", "2", workers=2)
    rows = []
    try:
        rows.append(("all capabilities", run(ALL, server)))
        rows.append((" + ".join(CHOSEN), run(CHOSEN, server)))
        for c in CHOSEN:
            rows.append(("%s without %s" % (" + ".join(CHOSEN), c), run([x for x in CHOSEN if x != c], server)))
        for c in ALL:
            rows.append(("all but %s" % c, run([x for x in ALL if x != c], server)))
        for c in ALL:
            if c != "SYS_ADMIN":
                rows.append(("all but SYS_ADMIN and %s" % c,
                             run([x for x in ALL if x not in (c, "SYS_ADMIN")], server)))
        rows.append(("%s, --hooks=syscalls" % " + ".join(CHOSEN), run(CHOSEN, server, cargs=["--hooks=syscalls"])))
        rows.append(("%s + SYS_ADMIN, --hooks=syscalls" % " + ".join(CHOSEN),
                     run(CHOSEN + ["SYS_ADMIN"], server, cargs=["--hooks=syscalls"])))
        rows.append(("all capabilities, runtime default seccomp", run(ALL, server, extra=())))
        rows.append(("%s, runtime default seccomp" % " + ".join(CHOSEN), run(CHOSEN, server, extra=())))
        rows.append(("%s + SYS_ADMIN, runtime default seccomp" % " + ".join(CHOSEN),
                     run(CHOSEN + ["SYS_ADMIN"], server, extra=())))
        rows.append(("none", run([], server)))
    finally:
        server.cleanup()
    print("| capabilities | result |\n|---|---|")
    for k, v in rows:
        print("| %s | %s |" % (k, v.replace("|", "/")))


if __name__ == "__main__":
    main()
