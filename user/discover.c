// SPDX-License-Identifier: MIT
/*
 * Discovery of running servers. The kernel side already follows forks and
 * reports execs, so this runs once at start: after the probes are attached,
 * so that a worker forked while we scan is caught by one or the other.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discover.h"
#include "service.h"

struct pinfo {
	uint32_t pid;
	uint32_t ppid;
	bool match;
};

int proc_cmdline(uint32_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	if (n < 0)
		n = -errno;
	close(fd);
	return (int)n;
}

static int read_ppid(uint32_t pid, uint32_t *ppid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: the state follows the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %u", ppid) != 1)
		return -EIO;
	return 0;
}

uint32_t proc_ppid(uint32_t pid)
{
	uint32_t ppid;

	return read_ppid(pid, &ppid) ? 0 : ppid;
}

int discover_python(discover_fn fn, void *ctx)
{
	struct dirent *de;
	char args[256];
	int found = 0, len;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint32_t pid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || pid == (uint32_t)getpid())
			continue;
		len = proc_cmdline(pid, args, sizeof(args));
		if (len > 0 && service_is_python(args, len)) {
			fn(pid, 0, ctx);
			found++;
		}
	}
	closedir(d);
	return found;
}

static int by_pid(const void *a, const void *b)
{
	const struct pinfo *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static struct pinfo *find(struct pinfo *ps, size_t n, uint32_t pid)
{
	struct pinfo key = { .pid = pid };

	return bsearch(&key, ps, n, sizeof(*ps), by_pid);
}

int discover(const uint32_t *pids, size_t npids, discover_fn fn, void *ctx, char *err, size_t errlen)
{
	struct pinfo *ps = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	char args[4096];
	int found = 0;
	DIR *d;

	for (size_t i = 0; i < npids; i++) {
		if (kill((pid_t)pids[i], 0) != 0 && errno == ESRCH) {
			snprintf(err, errlen, "--pid %u: no such process", pids[i]);
			return -ESRCH;
		}
	}
	d = opendir("/proc");
	if (!d) {
		snprintf(err, errlen, "cannot read /proc (%s): wsgitrace needs the host's /proc "
			 "(on Kubernetes: hostPID: true)", strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		uint32_t pid, ppid;
		char *end;
		int len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || read_ppid(pid, &ppid))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			struct pinfo *np = realloc(ps, nc * sizeof(*ps));

			if (!np) {
				closedir(d);
				free(ps);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			ps = np;
			cap = nc;
		}
		ps[n].pid = pid;
		ps[n].ppid = ppid;
		ps[n].match = false;
		if (npids) {
			for (size_t i = 0; i < npids; i++)
				if (pids[i] == pid)
					ps[n].match = true;
		} else if (pid != (uint32_t)getpid()) {
			len = proc_cmdline(pid, args, sizeof(args));
			ps[n].match = len > 0 && service_is_server(args, len);
		}
		n++;
	}
	closedir(d);
	qsort(ps, n, sizeof(*ps), by_pid);

	/* A process belongs to its topmost matching ancestor (itself included). */
	for (size_t i = 0; i < n; i++) {
		uint32_t root = 0, cur = ps[i].pid;

		for (int depth = 0; depth < 64 && cur > 1; depth++) {
			struct pinfo *p = find(ps, n, cur);

			if (!p)
				break;
			if (p->match)
				root = p->pid;
			cur = p->ppid;
		}
		if (root) {
			fn(ps[i].pid, root, ctx);
			found++;
		}
	}
	free(ps);
	return found;
}
