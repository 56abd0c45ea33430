"""Readings from /proc and the kernel's BPF statistics, and the machine's description."""
import json
import os
import platform
import resource
import subprocess
import sys
import time

from wtlib.paths import ROOT

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)


def proc_cpu_ns(pid):
    """Sum of on-CPU ns of all threads (schedstat): finer than clock ticks."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


# /proc/stat's "cpu" line: the fields, in their order.
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def stat_cpu_ns(fields):
    """All CPUs' time so far in these /proc/stat fields (ns)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]] + [0] * len(STAT_FIELDS)
    return sum(v[STAT_FIELDS.index(k)] for k in fields) * 1e9 / CLK_TCK


def system_busy_ns():
    """All CPUs' user+nice+system+steal time so far, from /proc/stat (ns).
    irq/softirq are left out: loopback traffic's softirq time belongs to
    the benchmark itself but is not in any task's own CPU time."""
    return stat_cpu_ns(("user", "nice", "system", "steal"))


def children_cpu_ns():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e9


def children_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def worker_pids(pid):
    """The server's children that serve: not multiprocessing's resource
    tracker, which uvicorn --workers N starts beside its workers and which
    would make any balance look like one idle worker."""
    out = []
    for k in children_pids(pid):
        try:
            with open("/proc/%d/cmdline" % k, "rb") as f:
                if b"multiprocessing.resource_tracker" in f.read():
                    continue
        except OSError:
            continue
        out.append(k)
    return out


BPF_STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def bpf_stats_enabled():
    try:
        with open(BPF_STATS_SYSCTL) as f:
            return f.read().strip() == "1"
    except OSError:
        return None


def bpf_prog_ids(pid):
    """IDs of the BPF programs a process holds (from /proc/PID/fdinfo)."""
    ids = set()
    try:
        fds = os.listdir("/proc/%d/fdinfo" % pid)
    except OSError:
        return ids
    for fd in fds:
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def bpf_prog_stats(ids):
    """{name: (run_cnt, run_time_ns)} for these programs; needs
    kernel.bpf_stats_enabled=1 (which this benchmark never sets itself)."""
    if not ids:
        return {}
    try:
        r = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True, timeout=20)
        progs = json.loads(r.stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    out = {}
    for p in progs:
        if p.get("id") in ids and "run_cnt" in p:
            out[p.get("name", str(p["id"]))] = (p["run_cnt"], p.get("run_time_ns", 0))
    return out


def meminfo_mib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None


def machine_info(wsgitrace):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ver = subprocess.run([wsgitrace, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        ver = None
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "mem_mib": meminfo_mib(),
            "python": sys.version.split()[0], "wsgitrace_version": ver, "git": rev,
            "loadavg_at_start": os.getloadavg()}


def worker_balance(kids, cpu0):
    """min/max of the workers' CPU since cpu0 (1 = even; with keep-alive,
    wrk's connections can all land on one worker), or None."""
    kd = [(proc_cpu_ns(p) or 0) - a for p, a in zip(kids, cpu0)]
    return min(kd) / max(kd) if len(kd) > 1 and max(kd) > 0 else None


def wait_still(read, timeout, polls=5, interval=0.05):
    """Until read() returns the same value `polls` times in a row (bounded):
    a process that stops using CPU is done with its work."""
    deadline = time.monotonic() + timeout
    last, still = None, 0
    while still < polls and time.monotonic() < deadline:
        cur = read()
        still = still + 1 if cur == last else 0
        last = cur
        time.sleep(interval)
