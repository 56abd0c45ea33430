// SPDX-License-Identifier: MIT
/*
 * Listening sockets of a process: its socket inodes from /proc/PID/fd,
 * matched against an inet_diag dump of the LISTEN sockets in its network
 * namespace. For a listener, inet_diag's rqueue is the accept queue's
 * length and wqueue its limit; SK_MEMINFO_DROPS counts what the listener
 * dropped (tcp_listendrop: a full accept queue among the reasons).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "listeners.h"

#define MAX_INODES 4096

struct inodes {
	uint64_t v[MAX_INODES];
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The process's socket inodes, sorted. */
static int socket_inodes(uint32_t pid, struct inodes *in)
{
	char path[64], link[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	in->n = 0;
	while ((d = readdir(dir)) && in->n < MAX_INODES) {
		char fdpath[64 + sizeof(d->d_name)];
		ssize_t k;
		unsigned long long ino;

		if (d->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		k = readlink(fdpath, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			in->v[in->n++] = ino;
	}
	closedir(dir);
	qsort(in->v, in->n, sizeof(in->v[0]), cmp_u64);
	return 0;
}

static bool has_inode(const struct inodes *in, uint64_t ino)
{
	return bsearch(&ino, in->v, in->n, sizeof(in->v[0]), cmp_u64) != NULL;
}

/* A NETLINK_SOCK_DIAG socket in pid's network namespace. */
static int diag_socket(uint32_t pid)
{
	char path[64];
	struct stat mine, theirs;
	int self = -1, target = -1, fd = -1, e = 0;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0 &&
	    mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
		return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	/* A socket keeps the namespace it was made in: enter, make it, come back. */
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
		e = errno;
		goto out;
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		e = errno;
	if (setns(self, CLONE_NEWNET) != 0) {
		/* Stuck in another namespace: nothing created later would be ours. */
		fprintf(stderr, "wsgitrace: cannot return to its network namespace: %s\n", strerror(errno));
		abort();
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	if (fd < 0)
		return -(e ? e : EIO);
	return fd;
}

static void format_address(const struct inet_diag_msg *m, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = ntohs(m->id.idiag_sport);

	inet_ntop(m->idiag_family, m->id.idiag_src, ip, sizeof(ip));
	if (m->idiag_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
}

static int dump_family(int fd, int family, const struct inodes *in, listener_fn fn, void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1u << TCP_LISTEN,
		       .idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1) },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[32768];
	int found = 0;

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0)
			return errno == EINTR ? found : -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct listener l = { 0 };
			struct rtattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || !has_inode(in, m->idiag_inode))
				continue;
			l.ino = m->idiag_inode;
			l.port = ntohs(m->id.idiag_sport);
			l.queued = m->idiag_rqueue;
			l.limit = m->idiag_wqueue;
			format_address(m, l.address, sizeof(l.address));
			alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == INET_DIAG_SKMEMINFO &&
				    RTA_PAYLOAD(a) >= sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
					l.drops = ((uint32_t *)RTA_DATA(a))[SK_MEMINFO_DROPS];
			}
			fn(&l, ctx);
			found++;
		}
	}
}

int listeners_of(uint32_t pid, listener_fn fn, void *ctx)
{
	static struct inodes in;
	int fd, n4, n6, e;

	e = socket_inodes(pid, &in);
	if (e)
		return e;
	if (in.n == 0)
		return 0;
	fd = diag_socket(pid);
	if (fd < 0)
		return fd;
	n4 = dump_family(fd, AF_INET, &in, fn, ctx);
	n6 = n4 < 0 ? n4 : dump_family(fd, AF_INET6, &in, fn, ctx);
	close(fd);
	if (n4 < 0)
		return n4;
	if (n6 < 0)
		return n6;
	return n4 + n6;
}

/* ---- the privileged reader ----------------------------------------------- */

#define READER_MAX 64 /* listeners of one process answered; more are not shown */

struct listener_reader {
	int fd;
	pid_t pid;
};

struct reply {
	int32_t n; /* listeners that follow, or -errno */
	struct listener l[READER_MAX];
};

static void collect(const struct listener *l, void *ctx)
{
	struct reply *r = ctx;

	if (r->n < READER_MAX)
		r->l[r->n++] = *l;
}

static void reader_loop(int fd)
{
	static struct reply r;
	uint32_t pid;

	while (read(fd, &pid, sizeof(pid)) == sizeof(pid)) {
		int n;

		r.n = 0;
		n = listeners_of(pid, collect, &r);
		if (n < 0)
			r.n = n;
		if (write(fd, &r, offsetof(struct reply, l) + (r.n > 0 ? (size_t)r.n : 0) * sizeof(r.l[0])) < 0)
			break;
	}
	_exit(0);
}

struct listener_reader *listeners_reader_start(void)
{
	struct listener_reader *r = calloc(1, sizeof(*r));
	int sv[2];

	if (!r)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(r);
		return NULL;
	}
	r->pid = fork();
	if (r->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		free(r);
		return NULL;
	}
	if (r->pid == 0) {
		/* None of the daemon's probes, maps or sockets: only the query socket. */
		if (sv[1] > 3)
			close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The daemon's signals (SIGINT from a terminal) are its to handle. */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		reader_loop(sv[1]);
	}
	close(sv[1]);
	r->fd = sv[0];
	return r;
}

int listeners_read(struct listener_reader *r, uint32_t pid, listener_fn fn, void *ctx)
{
	static struct reply rep;
	ssize_t k;

	if (!r)
		return listeners_of(pid, fn, ctx);
	if (write(r->fd, &pid, sizeof(pid)) != sizeof(pid))
		return -EPIPE;
	k = read(r->fd, &rep, sizeof(rep));
	if (k < (ssize_t)offsetof(struct reply, l))
		return -EPIPE;
	if (rep.n < 0)
		return rep.n;
	for (int i = 0; i < rep.n && (size_t)k >= offsetof(struct reply, l) + (size_t)(i + 1) * sizeof(rep.l[0]); i++)
		fn(&rep.l[i], ctx);
	return rep.n;
}

void listeners_reader_stop(struct listener_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	waitpid(r->pid, NULL, 0);
	free(r);
}
