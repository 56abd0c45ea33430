/* SPDX-License-Identifier: MIT */
/*
 * Capabilities: which of those loading the probes needs are missing, to name
 * them when the kernel refuses; and, once the probes are attached and
 * /metrics listens, everything running does not need dropped for good
 * (permitted, effective, inheritable, ambient and, with CAP_SETPCAP, the
 * bounding set; no_new_privs set), so that a flaw in the daemon that parses
 * network input cannot be used to load programs, trace other processes or
 * act as root beyond file ownership.
 *
 * Load time: CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN covers both).
 * Run time: nothing on kernels where BPF map access through an open map fd
 * is not checked (6.5+), else CAP_BPF; privs_drop() finds out by trying.
 */
#ifndef WT_PRIVS_H
#define WT_PRIVS_H

#include <stddef.h>

/* The capabilities loading needs that this process lacks ("CAP_BPF and CAP_PERFMON", ...), or NULL. */
const char *privs_missing_for_load(void);

/*
 * Drops every capability running does not need. kept receives their names
 * ("none", or e.g. "CAP_BPF"). 0, or -1 with err set (the process should
 * stop: it holds more than it should).
 */
int privs_drop(char *kept, size_t keptlen, char *err, size_t errlen);

#endif /* WT_PRIVS_H */
