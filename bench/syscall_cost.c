// SPDX-License-Identifier: MIT
/*
 * syscall_cost: ns per call of a few syscalls, for measuring what an attached
 * tracer costs processes it does NOT trace. Best of ROUNDS rounds of N calls.
 *
 *   syscall_cost [N [ROUNDS]]   -> one JSON object on stdout
 *
 * getpid       syscall(SYS_getpid)
 * write_null   write(1 byte) to /dev/null
 * write_pipe   write(1 byte) to a pipe (drained, untimed, every 32768 writes)
 * tcp_sendrecv send(64 bytes) on one end of a loopback TCP pair + recv(64) on the other
 * unix_sendrecv the same on an AF_UNIX SOCK_STREAM socketpair
 * (the socket figures are per send+recv pair, i.e. two socket syscalls)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "syscall_cost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double run_getpid(long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	return (double)(now_ns() - t0) / (double)n;
}

static double run_write_null(long n)
{
	static int fd = -1;
	char c = 'x';
	uint64_t t0;

	if (fd < 0 && (fd = open("/dev/null", O_WRONLY)) < 0)
		die("open /dev/null");
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(fd, &c, 1) != 1)
			die("write /dev/null");
	return (double)(now_ns() - t0) / (double)n;
}

static double run_write_pipe(long n)
{
	static int p[2] = {-1, -1};
	static char drain[65536];
	const long chunk = 32768;
	char c = 'x';
	uint64_t total = 0;

	if (p[0] < 0) {
		if (pipe(p))
			die("pipe");
		if (fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0)
			fcntl(p[1], F_SETPIPE_SZ, 65536);
	}
	for (long done = 0; done < n;) {
		long k = n - done < chunk ? n - done : chunk;
		uint64_t t0 = now_ns();

		for (long i = 0; i < k; i++)
			if (write(p[1], &c, 1) != 1)
				die("write pipe");
		total += now_ns() - t0;
		done += k;
		for (long left = k; left > 0;) {
			ssize_t r = read(p[0], drain, (size_t)left < sizeof(drain) ? (size_t)left : sizeof(drain));

			if (r <= 0)
				die("read pipe");
			left -= r;
		}
	}
	return (double)total / (double)n;
}

static double sendrecv(int a, int b, long n)
{
	char buf[64];
	uint64_t t0;

	memset(buf, 'y', sizeof(buf));
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (send(a, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			die("send");
		for (size_t got = 0; got < sizeof(buf);) {
			ssize_t r = recv(b, buf + got, sizeof(buf) - got, 0);

			if (r <= 0)
				die("recv");
			got += (size_t)r;
		}
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double run_tcp(long n)
{
	static int a = -1, b = -1;

	if (a < 0) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t sl = sizeof(sa);
		int one = 1;
		int l = socket(AF_INET, SOCK_STREAM, 0);

		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
		    getsockname(l, (struct sockaddr *)&sa, &sl))
			die("tcp listen");
		a = socket(AF_INET, SOCK_STREAM, 0);
		if (a < 0 || connect(a, (struct sockaddr *)&sa, sizeof(sa)))
			die("tcp connect");
		b = accept(l, NULL, NULL);
		if (b < 0)
			die("accept");
		close(l);
		setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return sendrecv(a, b, n);
}

static double run_unix(long n)
{
	static int sv[2] = {-1, -1};

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	return sendrecv(sv[0], sv[1], n);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	static const struct {
		const char *name;
		double (*fn)(long);
	} tests[] = {
		{"getpid", run_getpid},
		{"write_null", run_write_null},
		{"write_pipe", run_write_pipe},
		{"tcp_sendrecv", run_tcp},
		{"unix_sendrecv", run_unix},
	};
	const int nt = (int)(sizeof(tests) / sizeof(tests[0]));
	double best[8];

	if (n < 1000 || rounds < 1) {
		fprintf(stderr, "usage: syscall_cost [N>=1000 [ROUNDS>=1]]\n");
		return 2;
	}
	for (int t = 0; t < nt; t++) {
		tests[t].fn(n / 10); /* warm up, set up fds */
		best[t] = 1e18;
	}
	/* Rounds interleave the tests so a noisy moment hits all of them. */
	for (int r = 0; r < rounds; r++)
		for (int t = 0; t < nt; t++) {
			double v = tests[t].fn(n);

			if (v < best[t])
				best[t] = v;
		}
	printf("{\"n\":%ld,\"rounds\":%d", n, rounds);
	for (int t = 0; t < nt; t++)
		printf(",\"%s\":%.1f", tests[t].name, best[t]);
	printf("}\n");
	return 0;
}
