/* SPDX-License-Identifier: MIT */
/*
 * What the conntrack tests (test_conntrack*.c, test_reqframe*.c) share: a
 * tracker per test whose requests are kept for checks, records built the
 * way the kernel side reports them, and clients that send whole or a few
 * bytes at a time. Functions are static inline: each test uses a few.
 */
#ifndef WT_TEST_CONNTRACK_HARNESS_H
#define WT_TEST_CONNTRACK_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conntrack.h"
#include "labels.h"
#include "uwsgi_pkt.h"

#define MS 1000000ULL

struct rec {
	struct wt_request rq;
	char method[16];
	char path[WT_PATH_MAX + 1];
};

static struct rec recs[64];
static int nrec;
static struct conntrack *ct;

static inline void on_request(const struct wt_request *rq, void *ctx)
{
	struct rec *r;

	/* Bulk tests only count: the first 64 are kept for expect(). */
	if (nrec >= 64) {
		nrec++;
		return;
	}
	r = &recs[nrec++];
	r->rq = *rq;
	snprintf(r->method, sizeof(r->method), "%s", rq->method);
	assert_true(rq->path_len <= WT_PATH_MAX);
	memcpy(r->path, rq->path, rq->path_len);
	r->path[rq->path_len] = 0;
	r->rq.path = r->path;
	r->rq.method = r->method;
}

static struct conntrack_opts opts = {
	.max_conns = 1024,
	.max_pending = 8,
	.unix_grace_ns = 100 * MS,
	.idle_timeout_ns = 60000 * MS,
};

static inline int setup(void **state)
{
	nrec = 0;
	memset(recs, 0, sizeof(recs));
	ct = conntrack_new(&opts, on_request, NULL);
	return ct ? 0 : -1;
}

static inline int teardown(void **state)
{
	conntrack_free(ct);
	ct = NULL;
	return 0;
}

/*
 * Records are built explicitly: a connection's identity as the kernel side
 * reports it (sk, ino, process, the flags on each of its records), and per
 * record what the call did. No hidden state between tests.
 */
struct conn_id {
	uint64_t sk, ino;
	uint32_t tgid;
	uint8_t flags;   /* WT_F_* on every record of this connection */
	uint64_t est_ns; /* handshake seen (the kernel side sets it on the first record only) */
};

#define TGID 5582
#define INO 1000

static inline struct conn_id C(uint64_t sk)
{
	return (struct conn_id){.sk = sk, .ino = INO, .tgid = TGID};
}

struct rec_args {
	uint8_t type, dir, flags;
	uint64_t ts;
	uint32_t tid;
	uint32_t unacked;
	const void *data;
	size_t dlen;  /* bytes captured */
	int32_t len;  /* bytes the call moved */
};

static inline void submit(const struct conn_id *c, const struct rec_args *a)
{
	struct wt_conn_event *e = calloc(1, sizeof(*e));
	size_t dlen = a->dlen;

	assert_non_null(e);
	e->unacked = a->unacked;
	e->ts_ns = a->ts;
	e->sk = c->sk;
	e->ino = c->ino;
	e->tgid = c->tgid;
	e->tid = a->tid;
	e->len = a->len;
	e->type = a->type;
	e->dir = a->dir;
	e->flags = a->flags | c->flags;
	e->est_ns = c->est_ns;
	if (dlen > WT_CAP)
		dlen = WT_CAP;
	if (a->len >= 0 && dlen > (size_t)a->len)
		dlen = (size_t)a->len;
	if (!(e->flags & WT_F_NODATA) && a->data) {
		e->cap_len = (uint16_t)dlen;
		memcpy(e->data, a->data, dlen);
	}
	conntrack_event(ct, e);
	free(e);
}

/* A data record: `data` holds the first `dlen` bytes of a call that moved `len`. */
static inline void data_on(const struct conn_id *c, uint8_t dir, uint64_t ts, uint32_t tid, const void *data,
		    size_t dlen, int32_t len)
{
	submit(c, &(struct rec_args){.type = WT_EV_DATA, .dir = dir, .ts = ts, .tid = tid, .data = data,
				     .dlen = dlen, .len = len});
}

static inline void rx_on(const struct conn_id *c, uint64_t ts, uint32_t tid, const char *s)
{
	data_on(c, WT_DIR_RECV, ts, tid, s, strlen(s), (int32_t)strlen(s));
}

static inline void tx_on(const struct conn_id *c, uint64_t ts, uint32_t tid, const char *s)
{
	data_on(c, WT_DIR_SEND, ts, tid, s, strlen(s), (int32_t)strlen(s));
}

/* A send that left `unacked` bytes in the socket's send buffer. */
static inline void tx_unacked(uint64_t sk, uint64_t ts, const char *s, int32_t len, uint32_t unacked)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_SEND, .ts = ts, .tid = 1,
				      .unacked = unacked, .data = s, .dlen = strlen(s), .len = len});
}

static inline void close_on(const struct conn_id *c, uint64_t ts, uint8_t flags, uint32_t unacked)
{
	submit(c, &(struct rec_args){.type = WT_EV_CLOSE, .ts = ts, .tid = 1, .flags = flags,
				     .unacked = unacked});
}

static inline void header_only(uint64_t sk, uint8_t type, uint64_t ts)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = type, .dir = WT_DIR_SEND, .ts = ts, .tid = 1});
}

static inline void raw(uint64_t sk, uint64_t ts, const void *data, size_t dlen, int32_t len)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_RECV, ts, 1, data, dlen, len);
}

static inline void rx(uint64_t sk, uint64_t ts, uint32_t tid, const char *s)
{
	struct conn_id c = C(sk);

	rx_on(&c, ts, tid, s);
}

static inline void rxn(uint64_t sk, uint64_t ts, uint32_t tid, const void *s, size_t n)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_RECV, ts, tid, s, n, (int32_t)n);
}

static inline void tx(uint64_t sk, uint64_t ts, uint32_t tid, const char *s)
{
	struct conn_id c = C(sk);

	tx_on(&c, ts, tid, s);
}

/* A call of `len` bytes whose bytes past `s` were not captured. */
static inline void tx_part(uint64_t sk, uint64_t ts, const char *s, int32_t len)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_SEND, ts, 1, s, strlen(s), len);
}

static inline void rx_part(uint64_t sk, uint64_t ts, const char *s, int32_t len)
{
	raw(sk, ts, s, strlen(s), len);
}

static inline void tx_body(uint64_t sk, uint64_t ts, int32_t len)
{
	static char junk[WT_CAP];
	struct conn_id c = C(sk);

	memset(junk, 'x', sizeof(junk));
	data_on(&c, WT_DIR_SEND, ts, 1, junk, sizeof(junk), len);
}

static inline void tx_sendfile(uint64_t sk, uint64_t ts, int32_t len)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_SEND, .ts = ts, .tid = 1,
				      .flags = WT_F_NODATA, .len = len});
}

static inline void close_ev(uint64_t sk, uint64_t ts)
{
	struct conn_id c = C(sk);

	close_on(&c, ts, 0, 0);
}

static inline void expect(int i, const char *method, const char *path, int status, uint64_t start,
		   uint64_t end, uint32_t flags)
{
	assert_true(i < nrec);
	assert_string_equal(recs[i].method, method);
	assert_string_equal(recs[i].path, path);
	assert_int_equal(recs[i].rq.status, status);
	assert_int_equal(recs[i].rq.start_ns, start);
	assert_int_equal(recs[i].rq.end_ns, end);
	assert_int_equal(recs[i].rq.flags, flags);
}

static inline const struct conntrack_stats *st(void)
{
	return conntrack_stats(ct);
}

#define GET_TEST "GET /test/ HTTP/1.1\r\nHost: localhost:18001\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
#define HDR_GUNICORN_4 \
	"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Thu, 05 Nov 2026 14:18:02 GMT\r\n" \
	"Connection: close\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 4\r\n\r\n"

/* The first bytes of a TLS ClientHello. */
static const char tls_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5a\x1b\x00\x00\x20";

/* Segment sizes of a slow client: 1-7 bytes, a fixed pseudo-random walk. */
static inline size_t seg_len(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 7;
}

static inline void send_split(const struct conn_id *c, uint64_t *ts, const char *p, size_t n, uint32_t *seed)
{
	size_t off = 0;

	while (off < n) {
		size_t k = seg_len(seed);

		if (k > n - off)
			k = n - off;
		data_on(c, WT_DIR_RECV, (*ts)++, 1, p + off, k, (int32_t)k);
		off += k;
	}
}

static inline void check_labels(int i, const char *method, const char *route, int status)
{
	struct wt_labels l;

	assert_true(i < nrec);
	labels_build(&recs[i].rq, 1, &l);
	if (strcmp(l.method, method) || strcmp(l.route, route) || recs[i].rq.status != status)
		fail_msg("request %d: %s %s %d, want %s %s %d", i, l.method, l.route, recs[i].rq.status,
			 method, route, status);
}

/* Client bytes p[0..n) on c: one record, or a slow client's 1-7 byte records. */
static inline void send_client(const struct conn_id *c, uint64_t *ts, const char *p, size_t n, int split,
			uint32_t *seed)
{
	if (split)
		send_split(c, ts, p, n, seed);
	else
		data_on(c, WT_DIR_RECV, (*ts)++, 1, p, n, (int32_t)n);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

#endif /* WT_TEST_CONNTRACK_HARNESS_H */
