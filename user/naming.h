/* SPDX-License-Identifier: MIT */
/*
 * The service a traced process is counted under: its series key (svckey.h),
 * made once per server from --service-name, the pod it runs in (podmeta.h)
 * or the app on its command line (service.h), and kept per process in the
 * process table.
 */
#ifndef WT_NAMING_H
#define WT_NAMING_H

#include <stddef.h>
#include <stdint.h>

#include "proctab.h"

struct naming {
	struct proctab *procs;
	const char *override; /* --service-name, or NULL */
};

/*
 * The series key of a server's processes: the override, else in a
 * Kubernetes pod its workload's name, else the app on the command line
 * (args: NUL-separated argv, n bytes; n == 0 when unknown); with the pod's
 * labels when there is a pod.
 */
void naming_key(const struct naming *nm, uint32_t pid, const char *args, size_t n, char *key, size_t keysz);

/* The key of a traced process; a process not in the table is named from its own command line and added. */
const char *naming_of(const struct naming *nm, uint32_t pid);

#endif /* WT_NAMING_H */
