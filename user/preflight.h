/* SPDX-License-Identifier: MIT */
/*
 * Preflight: what the host must offer before the probes can load, checked
 * up front so that a missing piece is named with its fix instead of
 * surfacing as a libbpf errno.
 */
#ifndef WT_PREFLIGHT_H
#define WT_PREFLIGHT_H

#include <stddef.h>

/* Where the syscall tracepoints' ids can be read, if anywhere. */
enum tracefs_state {
	TRACEFS_MOUNTED = 0, /* the host has it mounted */
	TRACEFS_PRIVATE,     /* mounted in wsgitrace's own mount namespace */
	TRACEFS_NONE,        /* absent and not mountable: use raw tracepoints */
};

/*
 * Makes the tracepoint ids readable where libbpf looks for them. When
 * tracefs is not mounted, mounts it in a mount namespace of wsgitrace's own
 * (the host's mounts stay as they are). note says what was done, or why
 * nothing could be, for stderr; empty when tracefs was there already.
 * Call before any thread is started.
 */
enum tracefs_state preflight_tracefs(char *note, size_t notelen);

/* 0, or -errno with a message naming the kernel option that is missing. */
int preflight_btf(char *err, size_t errlen);

/*
 * After the kernel refused to load the programs with EPERM: the likely
 * cause and its fix (memlock limit on kernels that charge BPF memory to it,
 * missing capabilities, lockdown), in buf.
 */
void preflight_explain_eperm(char *buf, size_t len);

#endif /* WT_PREFLIGHT_H */
