/* SPDX-License-Identifier: MIT */
/* Discovery: the server processes already running, found through /proc. */
#ifndef WT_DISCOVER_H
#define WT_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

/* One process to trace; root is the server process (the master) it belongs to. */
typedef void (*discover_fn)(uint32_t pid, uint32_t root, void *ctx);

/*
 * Every process whose command line is a server (service.h), and all of
 * their descendants (roots = nonzero). With pids given, those processes and
 * their descendants instead; a pid that does not exist is an error.
 * Returns the number of processes reported, or -errno with err set.
 */
int discover(const uint32_t *pids, size_t npids, discover_fn fn, void *ctx, char *err, size_t errlen);

/* Every process whose argv[0] is a Python interpreter (service.h), to fn with root 0. */
int discover_python(discover_fn fn, void *ctx);

/* pid's parent, or 0. */
uint32_t proc_ppid(uint32_t pid);

/* /proc/PID/cmdline into buf; returns its length, or -errno. */
int proc_cmdline(uint32_t pid, char *buf, size_t size);

#endif /* WT_DISCOVER_H */
