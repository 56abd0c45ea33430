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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
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
