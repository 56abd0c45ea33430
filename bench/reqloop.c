// SPDX-License-Identifier: MIT
/*
 * reqloop: a one-process HTTP/1.1 server in C and its client, so that
 * wsgitrace's programs can be measured on a request's path (accept, read the
 * request, write the head, write the body, close: what gunicorn's sync worker
 * does) with no Python between the calls to take their caches.
 *
 *   reqloop   -> prints "ready PID" (the server's pid, to trace); then each
 *                line "N" on stdin runs N requests, a new connection each,
 *                and prints "done"
 *
 * The client is forked before anything traces the server, so it is not
 * traced (wsgitrace follows the children of traced processes from their fork).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char REQ[] = "GET /reqloop HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: reqloop\r\n\r\n";
static const char HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
			   "Connection: close\r\n\r\n";
static const char BODY[] = "ok\n";

static void die(const char *what)
{
	fprintf(stderr, "reqloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void client(struct sockaddr_in *sa, int cmd)
{
	char buf[4096];
	long n;

	for (;;) {
		if (read(cmd, &n, sizeof(n)) != sizeof(n))
			exit(0);
		for (long i = 0; i < n; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);

			if (s < 0 || connect(s, (void *)sa, sizeof(*sa)))
				die("connect");
			if (send(s, REQ, sizeof(REQ) - 1, 0) != sizeof(REQ) - 1)
				die("send");
			while (recv(s, buf, sizeof(buf), 0) > 0)
				;
			close(s);
		}
	}
}

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, cmd[2];
	char line[64], buf[4096];

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (void *)&sa, sizeof(sa)) || listen(l, 128) || getsockname(l, (void *)&sa, &sl))
		die("listen");
	if (pipe(cmd))
		die("pipe");
	if (fork() == 0) {
		close(cmd[1]);
		close(l);
		client(&sa, cmd[0]);
	}
	close(cmd[0]);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		long n = atol(line);

		if (write(cmd[1], &n, sizeof(n)) != sizeof(n))
			die("write");
		for (long i = 0; i < n; i++) {
			int c = accept(l, NULL, NULL);

			if (c < 0)
				die("accept");
			if (recv(c, buf, sizeof(buf), 0) <= 0)
				die("recv");
			if (send(c, HEAD, sizeof(HEAD) - 1, 0) != sizeof(HEAD) - 1 ||
			    send(c, BODY, sizeof(BODY) - 1, 0) != sizeof(BODY) - 1)
				die("send");
			close(c);
		}
		printf("done\n");
		fflush(stdout);
	}
	return 0;
}
