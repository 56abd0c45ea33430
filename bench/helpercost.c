// SPDX-License-Identifier: MIT
/*
 * helpercost: ns per run of each program of bench/helpercost.bpf.c, from the
 * kernel's BPF statistics (run_time_ns, run_cnt), on sock_send_length.
 *
 *   helpercost [SENDS [ROUNDS]]   -> one JSON object on stdout
 *
 * In each round every program in turn (shuffled) is attached alone and this
 * process sends SENDS 600-byte messages on a loopback TCP connection, the
 * other end drained after each; the ring is drained every RING_BATCH sends so
 * records never fail for want of room.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "helpercost.skel.h"

#define MSG 600
#define RING_BATCH 512
#define MAX_PROGS 64

static char buf[MSG] = "GET /helpercost HTTP/1.1\r\nHost: x\r\n\r\n";

static void die(const char *what)
{
	fprintf(stderr, "helpercost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int on_record(void *ctx, void *data, size_t size)
{
	return 0;
}

static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (void *)&sa, sizeof(sa)) || listen(l, 1) || getsockname(l, (void *)&sa, &sl))
		die("listen");
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (void *)&sa, sizeof(sa)))
		die("connect");
	*b = accept(l, NULL, NULL);
	if (*b < 0)
		die("accept");
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

static void loop(int a, int b, long n, struct ring_buffer *rb)
{
	char in[MSG];

	for (long i = 0; i < n; i++) {
		if (send(a, buf, MSG, 0) != MSG)
			die("send");
		for (size_t got = 0; got < MSG;) {
			ssize_t r = recv(b, in, MSG - got, 0);

			if (r <= 0)
				die("recv");
			got += r;
		}
		if (rb && i % RING_BATCH == RING_BATCH - 1)
			ring_buffer__consume(rb);
	}
	if (rb)
		ring_buffer__consume(rb);
}

static int prog_stats(int fd, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

int main(int argc, char **argv)
{
	long sends = argc > 1 ? atol(argv[1]) : 50000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct bpf_program *progs[MAX_PROGS], *p;
	struct bpf_object *obj;
	struct ring_buffer *rb;
	struct helpercost_bpf *skel;
	int nprogs = 0, a, b, stats_fd;
	__u32 tgid = getpid();
	__u64 hit_key = 0x1000;
	struct { __u64 ino, est_ns; __u32 tgid, flags; } conn = { .ino = 1 };

	if (sends < 20 || rounds < 1) {
		fprintf(stderr, "usage: helpercost [SENDS [ROUNDS]]\n");
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		die("bpf_enable_stats");
	skel = helpercost_bpf__open();
	if (!skel)
		die("open");
	skel->rodata->user_buf = (__u64)(uintptr_t)buf;
	skel->rodata->hit_key = hit_key;
	if (helpercost_bpf__load(skel))
		die("load");
	skel->bss->traced_bits[tgid >> 6] |= 1ULL << (tgid & 63);
	obj = skel->obj;
	if (bpf_map__update_elem(bpf_object__find_map_by_name(obj, "conns"), &hit_key, 8, &conn, sizeof(conn), 0))
		die("conns");
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "events")), on_record, NULL, NULL);
	if (!rb)
		die("ring_buffer__new");
	bpf_object__for_each_program(p, obj) {
		if (nprogs < MAX_PROGS)
			progs[nprogs++] = p;
	}
	tcp_pair(&a, &b);
	srand(getpid());
	loop(a, b, sends / 10, NULL);

	double (*ns_run)[MAX_PROGS] = calloc(rounds, sizeof(*ns_run));
	double (*runs)[MAX_PROGS] = calloc(rounds, sizeof(*runs));
	int order[MAX_PROGS];

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < nprogs; i++)
			order[i] = i;
		for (int i = nprogs - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < nprogs; k++) {
			int i = order[k], fd = bpf_program__fd(progs[i]);
			struct bpf_link *link = bpf_program__attach_raw_tracepoint(progs[i], "sock_send_length");
			uint64_t ns0 = 0, c0 = 0, ns1 = 0, c1 = 0;

			if (!link)
				die(bpf_program__name(progs[i]));
			loop(a, b, sends / 20, rb);
			prog_stats(fd, &ns0, &c0);
			loop(a, b, sends, rb);
			prog_stats(fd, &ns1, &c1);
			bpf_link__destroy(link);
			ns_run[r][i] = c1 > c0 ? (double)(ns1 - ns0) / (double)(c1 - c0) : 0;
			runs[r][i] = (double)(c1 - c0);
		}
	}
	printf("{\"sends\": %ld, \"rounds\": %d, \"variants\": {", sends, rounds);
	for (int i = 0; i < nprogs; i++) {
		printf("%s\"%s\": {\"ns_per_run\": [", i ? ", " : "", bpf_program__name(progs[i]));
		for (int r = 0; r < rounds; r++)
			printf("%s%.1f", r ? ", " : "", ns_run[r][i]);
		printf("], \"runs\": [");
		for (int r = 0; r < rounds; r++)
			printf("%s%.0f", r ? ", " : "", runs[r][i]);
		printf("]}");
	}
	printf("}}\n");
	ring_buffer__free(rb);
	helpercost_bpf__destroy(skel);
	close(stats_fd);
	return 0;
}
