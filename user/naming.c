// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdio.h>

#include "discover.h"
#include "naming.h"
#include "podmeta.h"
#include "service.h"
#include "svckey.h"

void naming_key(const struct naming *nm, uint32_t pid, const char *args, size_t n, char *key, size_t keysz)
{
	static struct podmeta m;
	char cmd[WT_SERVICE_MAX];
	const char *name;
	bool pod = podmeta_of_pid(pid, "/proc", "/var/log", &m) == 0;

	if (n > 0)
		service_from_args(args, n, cmd, sizeof(cmd));
	else
		snprintf(cmd, sizeof(cmd), "unknown");
	name = nm->override ? nm->override : pod && podmeta_service_name(&m) ? podmeta_service_name(&m) : cmd;
	svckey_make(key, keysz, name, pod ? &m : NULL);
}

const char *naming_of(const struct naming *nm, uint32_t pid)
{
	static char key[SVCKEY_MAX];
	const char *s;
	char args[4096];
	int n;

	s = proctab_get(nm->procs, pid);
	if (s)
		return s;
	/* A fork whose record was lost: its command line is its master's. */
	n = proc_cmdline(pid, args, sizeof(args));
	naming_key(nm, pid, args, n > 0 ? (size_t)n : 0, key, sizeof(key));
	proctab_set(nm->procs, pid, key);
	return key;
}
