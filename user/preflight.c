// SPDX-License-Identifier: MIT
/*
 * Preflight checks of the host: tracefs for the syscall tracepoints, BTF for
 * CO-RE, and what an EPERM at load time means. wsgitrace pins nothing, so it
 * needs no bpffs.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "preflight.h"

/*
 * libbpf reads tracepoint ids from debugfs's tracing directory when that
 * exists, else from /sys/kernel/tracing (libbpf 1.1, tracefs_path()).
 */
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define TRACEFS "/sys/kernel/tracing"

static const char *libbpf_tracing_dir(void)
{
	return access(DEBUGFS_TRACING, F_OK) == 0 ? DEBUGFS_TRACING : TRACEFS;
}

static bool has_syscall_events(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_read/id", dir);
	return access(path, R_OK) == 0;
}

enum tracefs_state preflight_tracefs(char *note, size_t notelen)
{
	const char *dir = libbpf_tracing_dir();
	int e;

	note[0] = 0;
	if (has_syscall_events(dir))
		return TRACEFS_MOUNTED;
	/*
	 * A namespace of our own: the mount goes away with the process and no
	 * other process on the node sees it.
	 */
	if (unshare(CLONE_NEWNS) != 0) {
		e = errno;
		goto none;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tracefs", dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		e = errno;
		goto none;
	}
	if (!has_syscall_events(dir)) {
		e = ENOENT;
		goto none;
	}
	snprintf(note, notelen, "tracefs was not mounted: mounted it at %s in wsgitrace's own "
		 "mount namespace (the host's mounts are unchanged)", dir);
	return TRACEFS_PRIVATE;
none:
	snprintf(note, notelen, "tracefs is not mounted and could not be (%s): attaching the "
		 "syscall hooks as the raw tracepoints sys_enter/sys_exit instead, which run for "
		 "every system call on the node; mount it (mount -t tracefs nodev %s) or grant "
		 "CAP_SYS_ADMIN for the cheaper per-syscall tracepoints", strerror(e), TRACEFS);
	return TRACEFS_NONE;
}

int preflight_btf(char *err, size_t errlen)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	snprintf(err, errlen, "this kernel has no BTF at /sys/kernel/btf/vmlinux: wsgitrace "
		 "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's and most "
		 "distributions' kernels are); in a container, mount the host's /sys");
	return -ENOENT;
}

void preflight_explain_eperm(char *buf, size_t len)
{
	struct rlimit rl;

	/*
	 * Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK. libbpf raises
	 * the limit itself when it can, which takes CAP_SYS_RESOURCE.
	 */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		snprintf(buf, len, "the locked-memory limit is %llu KiB, and kernels before 5.11 "
			 "charge BPF maps to it: run with `ulimit -l unlimited` (LimitMEMLOCK=infinity "
			 "in a systemd unit) or with CAP_SYS_RESOURCE; otherwise wsgitrace lacks "
			 "CAP_BPF and CAP_PERFMON, or lockdown=confidentiality forbids BPF",
			 (unsigned long long)rl.rlim_cur / 1024);
		return;
	}
	snprintf(buf, len, "wsgitrace lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN before "
		 "5.8), or lockdown=confidentiality forbids BPF");
}
