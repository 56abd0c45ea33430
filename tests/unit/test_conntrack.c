// SPDX-License-Identifier: MIT
/*
 * conntrack: event sequences as the servers produce them (the socket calls
 * each gunicorn and uWSGI mode makes), with the exact records expected; and
 * every kind of request clients and scanners send, whole and byte by byte.
 */
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

#define MS 1000000ULL

struct rec {
	struct wt_request rq;
	char method[16];
	char path[WT_PATH_MAX + 1];
};

static struct rec recs[64];
static int nrec;
static struct conntrack *ct;

static void on_request(const struct wt_request *rq, void *ctx)
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

static int setup(void **state)
{
	nrec = 0;
	memset(recs, 0, sizeof(recs));
	ct = conntrack_new(&opts, on_request, NULL);
	return ct ? 0 : -1;
}

static int teardown(void **state)
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

static struct conn_id C(uint64_t sk)
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

static void submit(const struct conn_id *c, const struct rec_args *a)
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
static void data_on(const struct conn_id *c, uint8_t dir, uint64_t ts, uint32_t tid, const void *data,
		    size_t dlen, int32_t len)
{
	submit(c, &(struct rec_args){.type = WT_EV_DATA, .dir = dir, .ts = ts, .tid = tid, .data = data,
				     .dlen = dlen, .len = len});
}

static void rx_on(const struct conn_id *c, uint64_t ts, uint32_t tid, const char *s)
{
	data_on(c, WT_DIR_RECV, ts, tid, s, strlen(s), (int32_t)strlen(s));
}

static void tx_on(const struct conn_id *c, uint64_t ts, uint32_t tid, const char *s)
{
	data_on(c, WT_DIR_SEND, ts, tid, s, strlen(s), (int32_t)strlen(s));
}

/* A send that left `unacked` bytes in the socket's send buffer. */
static void tx_unacked(uint64_t sk, uint64_t ts, const char *s, int32_t len, uint32_t unacked)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_SEND, .ts = ts, .tid = 1,
				      .unacked = unacked, .data = s, .dlen = strlen(s), .len = len});
}

static void close_on(const struct conn_id *c, uint64_t ts, uint8_t flags, uint32_t unacked)
{
	submit(c, &(struct rec_args){.type = WT_EV_CLOSE, .ts = ts, .tid = 1, .flags = flags,
				     .unacked = unacked});
}

static void header_only(uint64_t sk, uint8_t type, uint64_t ts)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = type, .dir = WT_DIR_SEND, .ts = ts, .tid = 1});
}

static void raw(uint64_t sk, uint64_t ts, const void *data, size_t dlen, int32_t len)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_RECV, ts, 1, data, dlen, len);
}

static void rx(uint64_t sk, uint64_t ts, uint32_t tid, const char *s)
{
	struct conn_id c = C(sk);

	rx_on(&c, ts, tid, s);
}

static void rxn(uint64_t sk, uint64_t ts, uint32_t tid, const void *s, size_t n)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_RECV, ts, tid, s, n, (int32_t)n);
}

static void tx(uint64_t sk, uint64_t ts, uint32_t tid, const char *s)
{
	struct conn_id c = C(sk);

	tx_on(&c, ts, tid, s);
}

/* A call of `len` bytes whose bytes past `s` were not captured. */
static void tx_part(uint64_t sk, uint64_t ts, const char *s, int32_t len)
{
	struct conn_id c = C(sk);

	data_on(&c, WT_DIR_SEND, ts, 1, s, strlen(s), len);
}

static void rx_part(uint64_t sk, uint64_t ts, const char *s, int32_t len)
{
	raw(sk, ts, s, strlen(s), len);
}

static void tx_body(uint64_t sk, uint64_t ts, int32_t len)
{
	static char junk[WT_CAP];
	struct conn_id c = C(sk);

	memset(junk, 'x', sizeof(junk));
	data_on(&c, WT_DIR_SEND, ts, 1, junk, sizeof(junk), len);
}

static void tx_sendfile(uint64_t sk, uint64_t ts, int32_t len)
{
	struct conn_id c = C(sk);

	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_SEND, .ts = ts, .tid = 1,
				      .flags = WT_F_NODATA, .len = len});
}

static void close_ev(uint64_t sk, uint64_t ts)
{
	struct conn_id c = C(sk);

	close_on(&c, ts, 0, 0);
}

static void expect(int i, const char *method, const char *path, int status, uint64_t start,
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

static const struct conntrack_stats *st(void)
{
	return conntrack_stats(ct);
}

#define GET_TEST "GET /test/ HTTP/1.1\r\nHost: localhost:18001\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
#define HDR_GUNICORN_4 \
	"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Thu, 05 Nov 2026 14:18:02 GMT\r\n" \
	"Connection: close\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 4\r\n\r\n"

/* (a) gunicorn sync: recvfrom; sendto hdr; sendto body; close. */
static void test_gunicorn_sync(void **state)
{
	rx(9, 100, 5582, GET_TEST);
	tx(9, 200, 5582, HDR_GUNICORN_4);
	assert_int_equal(nrec, 0);
	tx(9, 300, 5582, "rest");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/test/", 200, 100, 300, 0);
	assert_int_equal(recs[0].rq.req_bytes, strlen(GET_TEST));
	assert_int_equal(recs[0].rq.resp_bytes, strlen(HDR_GUNICORN_4) + 4);
	assert_int_equal(recs[0].rq.tid, 5582);
	assert_int_equal(recs[0].rq.tgid, 5582);
	assert_int_equal(recs[0].rq.sk, 9);
	assert_int_equal(recs[0].rq.proto, WT_PROTO_HTTP);
	assert_int_equal(st()->conns_active, 1);
	close_ev(9, 400);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->conns_active, 0);
	assert_int_equal(st()->conns_total, 1);
	assert_int_equal(st()->requests, 1);
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->events, 4);
}

/* (b) gthread keep-alive: two requests on one connection, pool threads differ,
 * the main thread closes. */
static void test_gthread_keepalive(void **state)
{
	rx(11, 100, 10641, GET_TEST);
	tx(11, 110, 10641, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
	tx(11, 120, 10641, "rest");
	rx(11, 3000, 10642, "GET /test1/ HTTP/1.1\r\nHost: x\r\n\r\n");
	tx(11, 3100, 10642, "HTTP/1.1 500 INTERNAL SERVER ERROR\r\nContent-Length: 16\r\n\r\n");
	tx(11, 3110, 10642, "division by zero");
	close_ev(11, 8000);
	assert_int_equal(nrec, 2);
	expect(0, "GET", "/test/", 200, 100, 120, 0);
	expect(1, "GET", "/test1/", 500, 3000, 3110, 0);
	assert_int_equal(recs[0].rq.tid, 10641);
	assert_int_equal(recs[1].rq.tid, 10642);
	assert_int_equal(st()->conns_total, 1);
}

/* (h) gevent: one read with three requests, responses in order, partial sends. */
static void test_gevent_pipelining(void **state)
{
	rx(12, 100, 7, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b?x=1 HTTP/1.1\r\n\r\n"
		       "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
	/* resp 1 whole; resp 2 cut inside its head; resp 3 in one send with a
	 * partial body continued later. */
	tx(12, 200, 7, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(nrec, 1);
	tx(12, 300, 7, "HTTP/1.1 404 NOT FOUND\r\nContent-Le");
	tx(12, 310, 7, "ngth: 9999\r\n\r\nHTTP/1.1 201 CREATED\r\nContent-Length: 6\r\n\r\nabc");
	assert_int_equal(nrec, 2);
	tx(12, 400, 7, "def");
	assert_int_equal(nrec, 3);
	expect(0, "GET", "/a", 200, 100, 200, 0);
	expect(1, "HEAD", "/b", 404, 100, 310, 0);
	expect(2, "GET", "/c", 201, 100, 400, 0);
	assert_int_equal(st()->orphan_responses, 0);
}

/* Several connections interleaved on one tid (gevent). */
static void test_gevent_interleaved(void **state)
{
	rx(12, 100, 7, "GET /12 HTTP/1.1\r\n\r\n");
	rx(13, 101, 7, "GET /13 HTTP/1.1\r\n\r\n");
	rx(14, 102, 7, "GET /14 HTTP/1.1\r\n\r\n");
	tx(14, 200, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	tx(12, 201, 7, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	tx(13, 202, 7, "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 3);
	expect(0, "GET", "/14", 200, 102, 200, 0);
	expect(1, "GET", "/12", 201, 100, 201, 0);
	expect(2, "GET", "/13", 202, 101, 202, 0);
}

/* Expect: 100-continue: the interim response neither ends nor labels it. */
static void test_100_continue(void **state)
{
	const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
			   "Expect: 100-continue\r\n\r\n";

	rx(9, 100, 1, head);
	tx(9, 110, 1, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(nrec, 0);
	rx(9, 120, 1, "0123456789");
	tx(9, 130, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
	tx(9, 140, 1, "ok");
	assert_int_equal(nrec, 1);
	expect(0, "POST", "/echo", 200, 100, 140, 0);
	assert_int_equal(recs[0].rq.req_bytes, strlen(head) + 10);
	assert_int_equal(recs[0].rq.resp_bytes, 25 + 38 + 2);
}

/* No body for HEAD, 204, 304, whatever Content-Length says. */
static void test_no_body(void **state)
{
	rx(9, 100, 1, "HEAD /h HTTP/1.1\r\n\r\n");
	tx(9, 110, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
	rx(9, 200, 1, "DELETE /d HTTP/1.1\r\n\r\n");
	tx(9, 210, 1, "HTTP/1.1 204 No Content\r\n\r\n");
	rx(9, 300, 1, "GET /c HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n");
	tx(9, 310, 1, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
	rx(9, 400, 1, "GET /next HTTP/1.1\r\n\r\n");
	tx(9, 410, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 4);
	expect(0, "HEAD", "/h", 200, 100, 110, 0);
	expect(1, "DELETE", "/d", 204, 200, 210, 0);
	expect(2, "GET", "/c", 304, 300, 310, 0);
	expect(3, "GET", "/next", 200, 400, 410, 0);
}

/* gunicorn streamed: one sendto per chunk, already chunked, "0\r\n\r\n" last. */
static void test_chunked_streamed(void **state)
{
	rx(9, 100, 1, "GET /stream HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	tx(9, 300, 1, "8\r\nchunk-0\n\r\n");
	tx(9, 400, 1, "8\r\nchunk-1\n\r\n");
	tx(9, 500, 1, "8\r\nchunk-2\n\r\n");
	assert_int_equal(nrec, 0);
	tx(9, 600, 1, "0\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/stream", 200, 100, 600, 0);
	assert_int_equal(recs[0].rq.resp_bytes, 47 + 13 * 3 + 5);
}

/* Chunks bigger than the capture: data skipped blind, size lines captured. */
static void test_chunked_large_chunks(void **state)
{
	rx(9, 100, 1, "GET /big-chunks HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	tx_part(9, 300, "2710\r\nxxxxxxxx", 6 + 10000 + 2);
	tx_part(9, 400, "2710\r\nxxxxxxxx", 6 + 10000 + 2);
	tx(9, 500, 1, "0\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/big-chunks", 200, 100, 500, 0);
	assert_int_equal(st()->framing_lost, 0);
}

/* uWSGI: headers and body in one writev. */
static void test_uwsgi_writev(void **state)
{
	rx(5, 100, 1, GET_TEST);
	tx(5, 200, 1, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
		      "Content-Length: 4\r\n\r\nrest");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/test/", 200, 100, 200, 0);
}

static size_t uwsgi_pkt(char *out, const char *const *kv)
{
	size_t n = 4, i;

	for (i = 0; kv[i]; i += 2) {
		size_t kl = strlen(kv[i]), vl = strlen(kv[i + 1]);

		out[n] = (char)(kl & 0xff);
		out[n + 1] = (char)(kl >> 8);
		memcpy(out + n + 2, kv[i], kl);
		n += 2 + kl;
		out[n] = (char)(vl & 0xff);
		out[n + 1] = (char)(vl >> 8);
		memcpy(out + n + 2, kv[i + 1], vl);
		n += 2 + vl;
	}
	out[0] = 0;
	out[1] = (char)((n - 4) & 0xff);
	out[2] = (char)((n - 4) >> 8);
	out[3] = 0;
	return n;
}

/* uwsgi --socket: packet in, close-delimited HTTP stream out, then the close. */
static void test_uwsgi_close_delimited(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/stream?n=3",
				   "PATH_INFO", "/stream", "CONTENT_LENGTH", "", NULL };
	char pkt[256];
	size_t n = uwsgi_pkt(pkt, kv);

	rxn(6, 100, 7548, pkt, n);
	tx(6, 200, 7548, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nchunk-0\n");
	tx(6, 300, 7548, "chunk-1\n");
	tx(6, 400, 7548, "chunk-2\n");
	assert_int_equal(nrec, 0);
	close_ev(6, 500);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/stream", 200, 100, 500, WT_RQ_CLOSE_DELIMITED);
	assert_int_equal(recs[0].rq.proto, WT_PROTO_UWSGI);
	assert_int_equal(recs[0].rq.tid, 7548);
	assert_int_equal(recs[0].rq.req_bytes, n);
}

/*
 * uWSGI --http: the worker read the router's packet before the kernel side
 * saw the router send it; RELAYED then withdraws the connection, and nothing
 * on it counts until it closes (the router's own connection carries the
 * request), its accepted records included.
 */
static void test_relayed(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/test/", NULL };
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nrest";
	struct conn_id w = {.sk = 8, .ino = 1, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	char pkt[256];
	size_t n = uwsgi_pkt(pkt, kv);

	data_on(&w, WT_DIR_RECV, 100, 1, pkt, n, (int32_t)n);
	submit(&w, &(struct rec_args){.type = WT_EV_RELAYED, .ts = 110, .tid = 1});
	assert_int_equal(st()->relayed, 1);
	tx_on(&w, 200, 1, resp);
	data_on(&w, WT_DIR_RECV, 210, 1, pkt, n, (int32_t)n); /* the router keeps the connection */
	tx_on(&w, 220, 1, resp);
	close_on(&w, 300, 0, 0);
	assert_int_equal(nrec, 0);
	assert_int_equal(st()->relayed, 1);
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->missed_requests, 0);
	assert_int_equal(st()->conns_active, 0);
	/*
	 * The router's CPU reported the match before the worker's record came:
	 * the connection is withdrawn when it shows up.
	 */
	w.sk = 99;
	submit(&w, &(struct rec_args){.type = WT_EV_RELAYED, .ts = 400, .tid = 1});
	assert_int_equal(st()->conns_active, 0);
	data_on(&w, WT_DIR_RECV, 410, 1, pkt, n, (int32_t)n);
	assert_int_equal(st()->relayed, 2);
	tx_on(&w, 500, 1, resp);
	assert_int_equal(nrec, 0);
	close_on(&w, 510, 0, 0);
	assert_int_equal(st()->conns_active, 0);
	/* Only that connection: the socket's next one is tracked. */
	w.ino = 2;
	data_on(&w, WT_DIR_RECV, 600, 1, pkt, n, (int32_t)n);
	tx_on(&w, 610, 1, resp);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->relayed, 2);
}

/* gunicorn /file: sendto(hdr) then sendfile, which carries no data. */
static void test_sendfile(void **state)
{
	rx(9, 100, 1, "GET /file HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 269335\r\n\r\n");
	tx_sendfile(9, 900, 269335);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/file", 200, 100, 900, 0);
	assert_int_equal(recs[0].rq.resp_bytes, 43 + 269335);
}

/* 1 MB body in partial sends (gevent, uWSGI slow reader). */
static void test_1mb_partial_sends(void **state)
{
	rx(9, 100, 1, "GET /big HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
	tx_body(9, 300, 400000);
	tx_body(9, 400, 400000);
	assert_int_equal(nrec, 0);
	tx_body(9, 500, 248576);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/big", 200, 100, 500, 0);
	assert_int_equal(recs[0].rq.resp_bytes, 44 + 1048576);
	/* uWSGI: headers and the start of the body in one partial writev. */
	rx(9, 1000, 1, "GET /big2 HTTP/1.1\r\n\r\n");
	tx_part(9, 1100, "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\nxxxx", 2807808);
	tx_body(9, 1200, 8388608 + 44 - 2807808);
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/big2", 200, 1000, 1200, 0);
}

/* POST of a 100 KB body over 13 reads (12 x 8192 + 4253). */
static void test_post_13_recvs(void **state)
{
	const int total = 12 * 8192 + 4253;
	char head[128], first[8192];
	int hl, i;

	hl = snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
		      0);
	hl = snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
		      total - hl);
	memset(first, 'b', sizeof(first));
	memcpy(first, head, (size_t)hl);
	raw(9, 100, first, sizeof(first), 8192);
	for (i = 1; i < 12; i++)
		raw(9, 100 + (uint64_t)i, first + 4096, 512, 8192);
	raw(9, 112, first + 4096, 512, 4253);
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "POST", "/echo", 200, 100, 200, 0);
	assert_int_equal(recs[0].rq.req_bytes, total);
	assert_int_equal(st()->parse_errors_http, 0);
}

/* Chunked request body over several reads. */
static void test_chunked_request_body(void **state)
{
	rx(9, 100, 1, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
	rx(9, 110, 1, "lo\r\n3\r\nGET\r\n");
	rx(9, 120, 1, "0\r\n\r\nGET /second HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	tx(9, 300, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	expect(0, "POST", "/up", 200, 100, 200, 0);
	expect(1, "GET", "/second", 200, 120, 300, 0);
}

/* uwsgi --socket POST: packet, then the raw body in a second read, which must
 * not be taken for a request even when it looks like one. */
static void test_uwsgi_post_body(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "POST", "REQUEST_URI", "/echo",
				   "CONTENT_LENGTH", "98502", NULL };
	char pkt[256];
	size_t n = uwsgi_pkt(pkt, kv);

	rxn(5, 100, 1, pkt, n);
	rx_part(5, 110, "GET / HTTP/1.1\r\n\r\n", 98502);
	tx(5, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(nrec, 1);
	expect(0, "POST", "/echo", 200, 100, 200, 0);
	assert_int_equal(recs[0].rq.proto, WT_PROTO_UWSGI);
	assert_int_equal(recs[0].rq.req_bytes, n + 98502);
	/* Router style: packet and the start of the body in one write. */
	{
		char buf[512];

		memcpy(buf, pkt, n);
		memset(buf + n, 'z', sizeof(buf) - n);
		close_ev(5, 250);
		raw(5, 300, buf, sizeof(buf), 4310);
		rx_part(5, 310, "zzzz", 98502 - (4310 - (int32_t)n));
		tx(5, 400, 1, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
		assert_int_equal(nrec, 2);
		expect(1, "POST", "/echo", 201, 300, 400, 0);
	}
	assert_int_equal(st()->parse_errors_uwsgi, 0);
}

/* The same sk with a new ino: the old connection ended at its last activity. */
static void test_sk_reuse_new_ino(void **state)
{
	struct conn_id old = {.sk = 1, .ino = 10, .tgid = TGID}, new = {.sk = 1, .ino = 11, .tgid = TGID};

	rx_on(&old, 100, 1, "GET /a HTTP/1.1\r\n\r\n");
	tx_on(&old, 200, 1, "HTTP/1.0 200 OK\r\n\r\n");
	tx_on(&old, 210, 1, "body");
	rx_on(&old, 220, 1, "GET /a2 HTTP/1.1\r\n\r\n"); /* pipelined, never answered */
	assert_int_equal(nrec, 0);
	rx_on(&new, 1000, 2, "GET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/a", 200, 100, 220, WT_RQ_CLOSE_DELIMITED);
	assert_int_equal(st()->unanswered, 1);
	tx_on(&new, 1100, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/b", 200, 1000, 1100, 0);
	assert_int_equal(st()->conns_total, 2);
	assert_int_equal(st()->conns_active, 1);
	/* A late close of the old socket does not end the new one. */
	close_on(&old, 1200, 0, 0);
	assert_int_equal(st()->conns_active, 1);
}

/* AF_UNIX: no close comes; an unframed response ends at its last send once
 * the connection was idle for the grace time. */
static void test_unix_grace(void **state)
{
	struct conn_id u3 = C(3), u4 = C(4), u5 = C(5), u6 = C(6);

	u3.flags = u4.flags = u5.flags = u6.flags = WT_F_UNIX;
	rx_on(&u3, 100 * MS, 1, "GET /stream HTTP/1.1\r\n\r\n");
	tx_on(&u3, 200 * MS, 1, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
	tx_on(&u3, 300 * MS, 1, "def");
	conntrack_tick(ct, 399 * MS);
	assert_int_equal(nrec, 0);
	conntrack_tick(ct, 400 * MS);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/stream", 200, 100 * MS, 300 * MS, WT_RQ_CLOSE_DELIMITED);
	/* Framed responses on AF_UNIX end at once. */
	rx_on(&u4, 500 * MS, 1, "GET /framed HTTP/1.1\r\n\r\n");
	tx_on(&u4, 510 * MS, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_int_equal(nrec, 2);
	/* Framing lost on AF_UNIX: also the grace. */
	rx_on(&u5, 600 * MS, 1, "GET /lost HTTP/1.1\r\n\r\n");
	data_on(&u5, WT_DIR_SEND, 610 * MS, 1, "HTTP/1.1 200 OK\r\nSet-Cookie: a=b", 32, 3000);
	data_on(&u5, WT_DIR_SEND, 620 * MS, 1, "xxxxxxxxxx", 10, 100);
	conntrack_tick(ct, 700 * MS);
	assert_int_equal(nrec, 2);
	conntrack_tick(ct, 720 * MS);
	assert_int_equal(nrec, 3);
	expect(2, "GET", "/lost", 200, 600 * MS, 620 * MS, WT_RQ_FRAMING_LOST);
	/* Proc exit finalizes a close-delimited one too. */
	rx_on(&u6, 800 * MS, 1, "GET /exit HTTP/1.1\r\n\r\n");
	tx_on(&u6, 810 * MS, 1, "HTTP/1.0 200 OK\r\n\r\nabc");
	conntrack_proc_exit(ct, 4242, 900 * MS);
	assert_int_equal(nrec, 3);
	conntrack_proc_exit(ct, TGID, 900 * MS);
	assert_int_equal(nrec, 4);
	expect(3, "GET", "/exit", 200, 800 * MS, 810 * MS, WT_RQ_CLOSE_DELIMITED);
	assert_int_equal(st()->conns_active, 0);
}

/* A request head longer than the capture: labeled from its request line,
 * flagged, and the connection resyncs at the next request. */
static void test_head_truncated(void **state)
{
	char big[3000];
	int n = snprintf(big, sizeof(big), "GET /cookie?x=1 HTTP/1.1\r\nCookie: ");

	memset(big + n, 'c', sizeof(big) - (size_t)n);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	raw(9, 100, big, sizeof(big), (int32_t)sizeof(big));
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/cookie", 200, 100, 200, WT_RQ_FRAMING_LOST);
	assert_int_equal(recs[0].rq.req_bytes, sizeof(big));
	assert_int_equal(st()->framing_lost, 1);
	rx(9, 300, 1, "GET /after HTTP/1.1\r\n\r\n");
	tx(9, 400, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/after", 200, 300, 400, 0);
	assert_int_equal(st()->parse_errors_http, 0);
}

/* Response head past the capture: alternation until the next request-looking
 * read, or the close. */
static void test_response_framing_lost(void **state)
{
	rx(9, 100, 1, "GET /one HTTP/1.1\r\n\r\n");
	tx_part(9, 200, "HTTP/1.1 302 FOUND\r\nSet-Cookie: aaaaaaaaaaa", 1500);
	tx_body(9, 210, 700);
	assert_int_equal(nrec, 0);
	rx(9, 300, 1, "GET /two HTTP/1.1\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/one", 302, 100, 210, WT_RQ_FRAMING_LOST);
	assert_int_equal(recs[0].rq.resp_bytes, 2200);
	tx_part(9, 400, "HTTP/1.1 200 OK\r\nSet-Cookie: aaaaaaaaaaa", 1500);
	close_ev(9, 500);
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/two", 200, 300, 400, WT_RQ_FRAMING_LOST);
	assert_int_equal(st()->framing_lost, 2);
}

/* A chunk-size line that fell in a gap: lost, ended at the last send. */
static void test_chunk_line_in_gap(void **state)
{
	rx(9, 100, 1, "GET /s HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* Two chunks in one call: the second size line is past the capture. */
	tx_part(9, 300, "600\r\nxxxx", 6 + 0x600 + 2 + 5 + 100 + 2);
	tx(9, 400, 1, "0\r\n\r\n");
	assert_int_equal(nrec, 0);
	close_ev(9, 500);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/s", 200, 100, 400, WT_RQ_FRAMING_LOST);
}

/*
 * A head that does not parse still queues, with the labels recovered from
 * it, so that its response counts; the request side resyncs at the next
 * request-looking read after a send.
 */
static void test_parse_error_resync(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/u", NULL };
	struct conn_id u = {.sk = 10, .ino = 1, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	char pkt[128];
	size_t n = uwsgi_pkt(pkt, kv);

	rx(9, 100, 1, "GET /x HTTP/1.1\nHost: x\n\n");
	assert_int_equal(st()->parse_errors_http, 1);
	rx(9, 110, 1, "X-More: of it\r\n\r\n"); /* no send yet, no request line: the request's bytes */
	tx(9, 120, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/x", 400, 100, 120, WT_RQ_UNPARSED);
	assert_int_equal(st()->orphan_responses, 0);
	rx(9, 200, 1, "GET /ok HTTP/1.1\r\n\r\n");
	tx(9, 210, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/ok", 200, 200, 210, 0);
	assert_int_equal(st()->parse_errors_http, 1);

	/* uwsgi (nginx accepted it, we followed it): the key length lies; only the count. */
	pkt[4] = 100;
	data_on(&u, WT_DIR_RECV, 300, 1, pkt, n, (int32_t)n);
	assert_int_equal(st()->parse_errors_uwsgi, 1);
	assert_int_equal(st()->parse_errors_http, 1);
	tx_on(&u, 310, 1, "HTTP/1.1 500 Error\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 3);
	expect(2, "_OTHER", "", 500, 300, 310, WT_RQ_UNPARSED);
	assert_int_equal(recs[2].rq.proto, WT_PROTO_UWSGI);
	pkt[4] = 14;
	data_on(&u, WT_DIR_RECV, 400, 1, pkt, n, (int32_t)n);
	tx_on(&u, 410, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 4);
	expect(3, "GET", "/u", 200, 400, 410, 0);
	assert_int_equal(recs[3].rq.proto, WT_PROTO_UWSGI);
}

/* A head split at every byte boundary across two reads. */
static void test_head_every_split(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "PUT", "REQUEST_URI", "/uw?q",
				   "CONTENT_LENGTH", "3", NULL };
	const char *h = "POST /split?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
	char pkt[128];
	size_t hn = strlen(h), pn = uwsgi_pkt(pkt, kv), k;
	uint64_t sk = 100;
	int want = 0;

	memcpy(pkt + pn, "abc", 3);
	for (k = 1; k < hn; k++, sk++) {
		rxn(sk, 100, 1, h, k);
		rxn(sk, 200, 2, h + k, hn - k);
		tx(sk, 300, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		if (nrec != want + 1 || strcmp(recs[want].method, "POST")) fail_msg("k=%zu nrec=%d m=%s", k, nrec, recs[want].method);
		assert_int_equal(nrec, ++want);
		expect(want - 1, "POST", "/split", 200, 100, 300, 0);
		assert_int_equal(recs[want - 1].rq.req_bytes, hn);
		assert_int_equal(recs[want - 1].rq.tid, 1);
		nrec = want = 0;
	}
	for (k = 1; k < pn + 3; k++, sk++) {
		rxn(sk, 100, 1, pkt, k);
		rxn(sk, 200, 2, pkt + k, pn + 3 - k);
		tx(sk, 300, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		assert_int_equal(nrec, 1);
		expect(0, "PUT", "/uw", 200, 100, 300, 0);
		assert_int_equal(recs[0].rq.req_bytes, pn + 3);
		nrec = 0;
	}
	assert_int_equal(st()->parse_errors_http + st()->parse_errors_uwsgi, 0);
}

static void test_close_unanswered_and_orphans(void **state)
{
	rx(9, 100, 1, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	tx(9, 110, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	close_ev(9, 120);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->unanswered, 1);
	/* A send on a connection never seen. */
	tx(77, 130, 1, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(st()->orphan_responses, 1);
	/* Close of an unknown connection: nothing. */
	close_ev(78, 140);
	/* A response with nothing pending: its request was missed, it counts. */
	rx(10, 200, 1, "GET /x HTTP/1.1\r\n\r\n");
	tx(10, 210, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	tx(10, 220, 1, "HTTP/1.1 204 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 3);
	expect(2, "_OTHER", "", 204, 200, 220, WT_RQ_NO_REQUEST);
	assert_int_equal(st()->missed_requests, 1);
	/* Bytes that start no response, with nothing pending: orphans. */
	tx(10, 230, 1, "trailing junk");
	assert_int_equal(st()->orphan_responses, 2);
	/* Mid-stream bytes of an unknown connection start nothing. */
	rx(11, 300, 1, "xxxx body bytes");
	assert_int_equal(st()->conns_active, 1);
}

static void test_upgrade_101(void **state)
{
	rx(9, 100, 1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/ws", 101, 100, 200, 0);
	rx(9, 300, 1, "GET /not-http HTTP/1.1\r\n\r\n");
	tx(9, 310, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	close_ev(9, 400);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->orphan_responses, 0);
	assert_int_equal(st()->parse_errors_http, 0);
}

static void test_idle_expiry_and_table_full(void **state)
{
	struct conntrack_opts small = { .max_conns = 2, .max_pending = 2,
					.idle_timeout_ns = 1000 * MS };

	conntrack_free(ct);
	ct = conntrack_new(&small, on_request, NULL);
	rx(1, 100 * MS, 1, "GET /1 HTTP/1.1\r\n\r\n");
	rx(2, 200 * MS, 1, "GET /2 HTTP/1.1\r\n\r\n");
	rx(3, 300 * MS, 1, "GET /3 HTTP/1.1\r\n\r\n");
	assert_int_equal(st()->conns_dropped, 1);
	assert_int_equal(st()->conns_active, 2);
	tx(3, 310 * MS, 1, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(st()->orphan_responses, 1);
	conntrack_tick(ct, 1150 * MS);
	assert_int_equal(st()->conns_expired, 1);
	assert_int_equal(st()->unanswered, 1);
	assert_int_equal(st()->conns_active, 1);
	rx(4, 1200 * MS, 1, "GET /4 HTTP/1.1\r\n\r\n");
	assert_int_equal(st()->conns_active, 2);
	/* Queue of 2: the third pipelined request overflows, the queue resyncs. */
	rx(4, 1300 * MS, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(st()->pending_overflow, 3);
	conntrack_tick(ct, 10000 * MS);
	assert_int_equal(st()->conns_active, 0);
	assert_int_equal(st()->conns_expired, 3);
	assert_int_equal(nrec, 0);
}

/* 100,000 idle keep-alive connections: O(1) each, and all expire. */
static void test_many_connections(void **state)
{
	struct conntrack_opts big = { .max_conns = 100000, .idle_timeout_ns = 1000 * MS };
	uint64_t sk;

	conntrack_free(ct);
	ct = conntrack_new(&big, on_request, NULL);
	for (sk = 1; sk <= 100000; sk++) {
		uint64_t k = sk * 0x1000 + 0xffff880000000000ULL; /* kernel-pointer-like */

		rx(k, sk, 1, "GET /k HTTP/1.1\r\n\r\n");
		tx(k, sk + 1, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		nrec = 0;
	}
	assert_int_equal(st()->conns_active, 100000);
	assert_int_equal(st()->requests, 100000);
	rx(1, 5000, 1, "GET /k HTTP/1.1\r\n\r\n");
	assert_int_equal(st()->conns_dropped, 1);
	/* Remove every other one by close: the table must still find the rest. */
	for (sk = 1; sk <= 100000; sk += 2)
		close_ev(sk * 0x1000 + 0xffff880000000000ULL, 200000);
	assert_int_equal(st()->conns_active, 50000);
	for (sk = 2; sk <= 100000; sk += 2) {
		uint64_t k = sk * 0x1000 + 0xffff880000000000ULL;

		tx(k, 200001, 1, "HTTP/1.1 200 OK\r\n\r\n");
	}
	assert_int_equal(st()->missed_requests, 50000);
	assert_int_equal(st()->orphan_responses, 0);
	assert_int_equal(st()->conns_active, 50000);
	conntrack_tick(ct, 5000 * MS);
	assert_int_equal(st()->conns_active, 0);
	/* Their close-delimited responses ended with the connections. */
	assert_int_equal(st()->requests, 150000);
}

static void test_long_path_truncated(void **state)
{
	char req[2200];
	int n = snprintf(req, sizeof(req), "GET /");

	memset(req + n, 'p', 1500);
	n += 1500;
	n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\n\r\n");
	/* Spans several reads of 500 bytes, all captured. */
	rxn(9, 100, 1, req, 500);
	rxn(9, 101, 1, req + 500, 500);
	rxn(9, 102, 1, req + 1000, 500);
	rxn(9, 103, 1, req + 1500, (size_t)n - 1500);
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	assert_int_equal(recs[0].rq.path_len, WT_PATH_MAX);
	/* Gathered whole from small reads, still past what one read captures. */
	assert_int_equal(recs[0].rq.flags, WT_RQ_PATH_TRUNCATED | WT_RQ_TARGET_TRUNCATED);
	assert_int_equal(recs[0].rq.start_ns, 100);
}


/* Records are variable length: header plus cap_len bytes, nothing after. */
static void short_record(uint64_t ts, uint8_t dir, const char *s)
{
	size_t n = strlen(s);
	struct wt_conn_event *e = malloc(offsetof(struct wt_conn_event, data) + n);

	assert_non_null(e);
	memset(e, 0, offsetof(struct wt_conn_event, data));
	e->ts_ns = ts;
	e->sk = 42;
	e->ino = 1;
	e->tgid = 1;
	e->tid = 1;
	e->len = (int32_t)n;
	e->cap_len = (uint16_t)n;
	e->type = WT_EV_DATA;
	e->dir = dir;
	memcpy(e->data, s, n);
	conntrack_event(ct, e);
	free(e);
}

static void test_short_record(void **state)
{
	short_record(100, WT_DIR_RECV, "GET /small HTTP/1.1\r\n\r\n");
	short_record(200, WT_DIR_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/small", 200, 100, 200, 0);
}

/* Slow reader: bytes still unacknowledged at the close; the ACK ends it. */
static void test_slow_reader_acked(void **state)
{
	struct conn_id c12 = C(12), c13 = C(13);

	rx(9, 100, 1, "GET /big HTTP/1.1\r\n\r\n");
	tx(9, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n");
	tx_unacked(9, 300, "xxxx", 1048576, 500000);
	assert_int_equal(nrec, 0);
	{
		struct conn_id c9 = C(9);

		close_on(&c9, 310, 0, 500000);
	}
	assert_int_equal(nrec, 0);
	header_only(9, WT_EV_ACKED, 2000);
	assert_int_equal(nrec, 1);
	expect(0, "GET", "/big", 200, 100, 2000, 0);
	assert_int_equal(st()->conns_active, 0);

	/* All acknowledged by the close: the last send stays the end. */
	rx(10, 100, 1, "GET /b HTTP/1.1\r\n\r\n");
	tx_unacked(10, 200, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 39, 1000);
	close_ev(10, 5000);
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/b", 200, 100, 200, 0);

	/* Keep-alive: the next request shows the server moved on. */
	rx(11, 100, 1, "GET /k1 HTTP/1.1\r\n\r\n");
	tx_unacked(11, 200, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 39, 1000);
	assert_int_equal(nrec, 2);
	rx(11, 300, 1, "GET /k2 HTTP/1.1\r\n\r\n");
	assert_int_equal(nrec, 3);
	expect(2, "GET", "/k1", 200, 100, 200, 0);

	/* Close-delimited to a slow reader. */
	rx(12, 100, 1, "GET /s HTTP/1.1\r\n\r\n");
	tx(12, 200, 1, "HTTP/1.1 200 OK\r\n\r\nabc");
	close_on(&c12, 300, 0, 3);
	assert_int_equal(nrec, 3);
	header_only(12, WT_EV_ACKED, 900);
	assert_int_equal(nrec, 4);
	expect(3, "GET", "/s", 200, 100, 900, WT_RQ_CLOSE_DELIMITED);

	/* No ACK ever: idle expiry ends it at the close. */
	rx(13, 100, 1, "GET /n HTTP/1.1\r\n\r\n");
	tx(13, 200, 1, "HTTP/1.1 200 OK\r\n\r\nabc");
	close_on(&c13, 300, 0, 3);
	conntrack_tick(ct, 300 + opts.idle_timeout_ns);
	assert_int_equal(nrec, 5);
	expect(4, "GET", "/n", 200, 100, 300, WT_RQ_CLOSE_DELIMITED);

	/*
	 * Kept alive and idle: no close follows, so after the hold the last
	 * write is the end; the request is not held until the next one.
	 */
	rx(14, 1000, 1, "GET /idle HTTP/1.1\r\n\r\n");
	tx_unacked(14, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 39, 1000);
	conntrack_tick(ct, 2000 + 1000);
	assert_int_equal(nrec, 5);
	conntrack_tick(ct, 2000 + 50000000ULL);
	assert_int_equal(nrec, 6);
	expect(5, "GET", "/idle", 200, 1000, 2000, 0);
	assert_int_equal(st()->conns_active, 1);
}

/*
 * The kinds of request real clients and scanners send, each with the labels
 * it must get. The server's answer is the truth for counting: each is sent
 * on its own accepted connection, whole and split into 1-7 byte records, and
 * the response the server would write must count exactly once.
 */
struct kind {
	const char *name;
	const char *req;  /* NULL: bytes strlen cannot measure, from kind_bytes() */
	size_t req_len;   /* 0: strlen */
	const char *method;
	const char *route;
	int status;
};

static const struct kind kinds[] = {
	{"plain", "GET /test/ HTTP/1.1\r\nHost: x\r\n\r\n", 0, "GET", "/test/", 200},
	{"lower-case method", "get /test/ HTTP/1.1\r\nHost: x\r\n\r\n", 0, "_OTHER", "/test/", 200},
	{"token method", "-blargh /test/ HTTP/1.1\r\n\r\n", 0, "_OTHER", "/test/", 400},
	{"WebDAV method", "PROPFIND /dav HTTP/1.1\r\n\r\n", 0, "_OTHER", "/dav", 405},
	{"CONNECT authority", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0,
	 "CONNECT", "_authority", 400},
	{"CONNECT v6 authority", "CONNECT [::1]:443 HTTP/1.1\r\n\r\n", 0, "CONNECT", "_authority", 405},
	{"GET authority-form", "GET example.com:80 HTTP/1.1\r\n\r\n", 0, "GET", "_authority", 400},
	{"relative target", "GET test HTTP/1.1\r\n\r\n", 0, "GET", "_unknown", 400},
	{"absolute-form", "GET http://example.com:80/p/q?x=1 HTTP/1.1\r\n\r\n", 0, "GET", "/p/q", 200},
	{"absolute-form no path", "GET https://example.com HTTP/1.1\r\n\r\n", 0, "GET", "/", 200},
	{"asterisk", "OPTIONS * HTTP/1.1\r\n\r\n", 0, "OPTIONS", "*", 200},
	{"path parameters", "GET /a;jsessionid=0123/b;v=1?x HTTP/1.1\r\n\r\n", 0, "GET", "/a/b", 200},
	{"obs-fold", "GET /fold HTTP/1.1\r\nX-Long: a\r\n  b\r\n\r\n", 0, "GET", "/fold", 200},
	{"BEL DEL in a value", "GET /ctl HTTP/1.1\r\nX: a\x07\x7f b\r\n\r\n", 0, "GET", "/ctl", 400},
	{"NUL in a value", NULL, 0, "GET", "/nul", 400},
	{"non-ASCII name", "GET /na HTTP/1.1\r\nX-\xc3\xa9\xff: v\r\n\r\n", 0, "GET", "/na", 400},
	{"control in the path", "GET /a\x01\x7f" "b HTTP/1.1\r\n\r\n", 0, "GET", "/a\xef\xbf\xbd\xef\xbf\xbd" "b", 400},
	{"bad UTF-8 in the path", "GET /caf\xe9/\xc3\xa9 HTTP/1.1\r\n\r\n", 0, "GET", "/caf\xef\xbf\xbd/\xc3\xa9", 404},
	{"Content-Length +1", "POST /cl HTTP/1.1\r\nContent-Length: +1\r\n\r\na", 0, "POST", "/cl", 400},
	{"Content-Length -0", "POST /cl HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 0, "POST", "/cl", 400},
	{"Content-Length 0_1", "POST /cl HTTP/1.1\r\nContent-Length: 0_1\r\n\r\na", 0, "POST", "/cl", 400},
	{"Content-Length list", "POST /cl HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", 0, "POST", "/cl", 200},
	{"Content-Length duplicates", "POST /cl HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0,
	 "POST", "/cl", 400},
	{"lying Content-Length", "POST /cl HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", 0, "POST", "/cl", 200},
	{"bad chunk size", "POST /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 0,
	 "POST", "/ch", 400},
	{"chunk size lies", "POST /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 0,
	 "POST", "/ch", 400},
	{"gzip coding", "POST /te HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxx", 0, "POST", "/te", 501},
	/* A server without PROXY support answers the header as its request line. */
	{"PROXY v1", "PROXY TCP4 10.0.0.1 10.0.0.2 5000 80\r\nGET /px HTTP/1.1\r\n\r\n", 0, "_OTHER", "_unknown", 400},
	{"PROXY v2", NULL, 0, "_OTHER", "_unknown", 400},
	{"HTTP/0.9", "GET /old\r\n", 0, "GET", "/old", 400},
	{"HTTP/2.0 line", "GET /h2 HTTP/2.0\r\n\r\n", 0, "GET", "/h2", 404},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, "_OTHER", "*", 400},
	{"TLS ClientHello", NULL, 0, "_OTHER", "_unknown", 400},
	{"garbage", "\x01\x02garbage\xff\r\n\r\n", 0, "_OTHER", "_unknown", 400},
	{"no target", "GET\r\n\r\n", 0, "GET", "_unknown", 400},
	{"method only", "GET\r\nHost: x\r\n\r\n", 0, "GET", "_unknown", 400},
	{"target as version", "GET HTTP/1.1\r\nHost: x\r\n\r\n", 0, "GET", "_unknown", 400},
	{"BEL in the method", "GE\x07T /m HTTP/1.1\r\nHost: x\r\n\r\n", 0, "_OTHER", "/m", 400},
	{"quote in the method", "G\"T /m HTTP/1.1\r\n\r\n", 0, "_OTHER", "/m", 400},
	{"slash in the method", "GET/ /m HTTP/1.1\r\n\r\n", 0, "_OTHER", "/m", 400},
	{"UTF-8 method", "\xd0\x93\xd0\x95\xd0\xa2 /m HTTP/1.1\r\n\r\n", 0, "_OTHER", "/m", 400},
	{"RTSP OPTIONS", "OPTIONS rtsp://example.com/media RTSP/1.0\r\nCSeq: 1\r\n\r\n", 0, "OPTIONS",
	 "_unknown", 400},
	{"two-digit version", "GET /v HTTP/11.01\r\nHost: x\r\n\r\n", 0, "GET", "/v", 200},
	{"CONNECT answered 200", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 0, "CONNECT", "_authority", 200},
	{"empty lines first", "\r\n\r\nGET /e HTTP/1.1\r\n\r\n", 0, "GET", "/e", 200},
	{"Expect on a GET", "GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 0, "GET", "/x", 200},
};

/* The kinds' raw-byte entries, whose bytes strlen cannot measure. */
static const char nul_value[] = "GET /nul HTTP/1.1\r\nX: a\0b\r\n\r\n";
static const char proxy_v2[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
			       "\x0a\x00\x00\x01\x0a\x00\x00\x02\x13\x88\x00\x50"
			       "GET /p2 HTTP/1.1\r\n\r\n";
static const char tls_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5a\x1b\x00\x00\x20";

static void kind_bytes(const struct kind *k, const char **p, size_t *n)
{
	if (strcmp(k->name, "NUL in a value") == 0) {
		*p = nul_value;
		*n = sizeof(nul_value) - 1;
	} else if (strcmp(k->name, "PROXY v2") == 0) {
		*p = proxy_v2;
		*n = sizeof(proxy_v2) - 1;
	} else if (strcmp(k->name, "TLS ClientHello") == 0) {
		*p = tls_hello;
		*n = sizeof(tls_hello) - 1;
	} else {
		*p = k->req;
		*n = k->req_len ? k->req_len : strlen(k->req);
	}
}

/* Segment sizes of a slow client: 1-7 bytes, a fixed pseudo-random walk. */
static size_t seg_len(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 7;
}

static void send_split(const struct conn_id *c, uint64_t *ts, const char *p, size_t n, uint32_t *seed)
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

static void check_labels(int i, const char *method, const char *route, int status)
{
	struct wt_labels l;

	assert_true(i < nrec);
	labels_build(&recs[i].rq, 1, &l);
	if (strcmp(l.method, method) || strcmp(l.route, route) || recs[i].rq.status != status)
		fail_msg("request %d: %s %s %d, want %s %s %d", i, l.method, l.route, recs[i].rq.status,
			 method, route, status);
}

/* Client bytes p[0..n) on c: one record, or a slow client's 1-7 byte records. */
static void send_client(const struct conn_id *c, uint64_t *ts, const char *p, size_t n, int split,
			uint32_t *seed)
{
	if (split)
		send_split(c, ts, p, n, seed);
	else
		data_on(c, WT_DIR_RECV, (*ts)++, 1, p, n, (int32_t)n);
}

/*
 * Every kind on its own accepted connection (sk from base), whole then
 * split; `after` runs the rest of each exchange and checks it.
 */
static void for_each_kind(uint64_t base, void (*after)(const struct kind *k, const struct conn_id *c,
						       uint64_t ts, int split, uint32_t *seed))
{
	uint32_t seed = 7;
	size_t i;
	int split;

	for (split = 0; split < 2; split++) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			struct conn_id c = {.sk = base + i + 100 * (size_t)split, .ino = 7, .tgid = TGID,
					    .flags = WT_F_ACCEPTED, .est_ns = 1};
			uint64_t ts = 1000;
			const char *p;
			size_t n;

			kind_bytes(&kinds[i], &p, &n);
			nrec = 0;
			send_client(&c, &ts, p, n, split, &seed);
			after(&kinds[i], &c, ts, split, &seed);
		}
	}
}

/* The server answers and closes. */
static void answer_and_close(const struct kind *k, const struct conn_id *c, uint64_t ts, int split,
			     uint32_t *seed)
{
	const char *p;
	char resp[128];
	size_t n;

	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		 k->status);
	tx_on(c, ts + 10, 1, resp);
	close_on(c, ts + 20, 0, 0);
	if (nrec != 1)
		fail_msg("%s (%s): %d requests", k->name, split ? "split" : "whole", nrec);
	check_labels(0, k->method, k->route, k->status);
	kind_bytes(k, &p, &n);
	/* Empty lines before a request are none of its bytes (RFC 9112 2.2). */
	if ((recs[0].rq.start_ns != 1000 && p[0] != '\r') || recs[0].rq.end_ns != ts + 10)
		fail_msg("%s (%s): %" PRIu64 "-%" PRIu64, k->name, split ? "split" : "whole",
			 recs[0].rq.start_ns, recs[0].rq.end_ns);
}

static void test_kinds_whole_and_split(void **state)
{
	for_each_kind(1000, answer_and_close);
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->missed_requests, 0);
	assert_int_equal(st()->conns_active, 0);
}

/* The server answers, keeps the connection open, and a plain request follows. */
static void answer_then_request(const struct kind *k, const struct conn_id *c, uint64_t ts, int split,
				uint32_t *seed)
{
	static const char next[] = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
	char resp[128];

	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok", k->status);
	tx_on(c, ts + 10, 1, resp);
	ts += 20;
	send_client(c, &ts, next, sizeof(next) - 1, split, seed);
	tx_on(c, ts + 10, 2, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	close_on(c, ts + 20, 0, 0);
	if (nrec != 2 || strcmp(recs[1].method, "GET") || strcmp(recs[1].path, "/next"))
		fail_msg("%s (%s): %d requests, next is %s %s", k->name, split ? "split" : "whole", nrec,
			 recs[1].method, recs[1].path);
	check_labels(0, k->method, k->route, k->status);
}

/*
 * Keep-alive: every kind followed by a plain request on the same connection,
 * whole and split. The plain one always counts with its own labels when the
 * server answers both (uWSGI does).
 */
static void test_kinds_then_request(void **state)
{
	for_each_kind(3000, answer_then_request);
	assert_int_equal(st()->unanswered, 0);
}

/*
 * The HTTP/2 preface and its SETTINGS frame on a plain port: the frame
 * starts with a zero length byte, like a uwsgi packet, but bytes behind an
 * HTTP request are HTTP garbage. Whole and split.
 */
static void test_http2_frames_after_preface(void **state)
{
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				 "\x00\x00\x0c\x04\x00\x00\x00\x00\x00"
				 "\x00\x03\x00\x00\x00\x64\x00\x04\x00\x10\x00\x00";
	uint32_t seed = 11;
	int split;

	for (split = 0; split < 2; split++) {
		struct conn_id c = {.sk = 9000 + (uint64_t)split, .ino = 9, .tgid = TGID, .flags = WT_F_ACCEPTED,
				    .est_ns = 1};
		uint64_t ts = 1000;

		nrec = 0;
		send_client(&c, &ts, h2, sizeof(h2) - 1, split, &seed);
		tx_on(&c, ts + 10, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		tx_on(&c, ts + 20, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		close_on(&c, ts + 30, 0, 0);
		assert_int_equal(nrec, 2);
		check_labels(0, "_OTHER", "*", 200);
		check_labels(1, "_OTHER", "_unknown", 400);
		assert_int_equal(recs[1].rq.proto, WT_PROTO_HTTP);
	}
}

/*
 * Pipelined mixes: when a request cannot be read, the ones behind it in the
 * same read lose their labels, never their count.
 */
static void test_pipelined_mix(void **state)
{
	struct conn_id c = {.sk = 5, .ino = 5, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	rx_on(&c, 100, 1, "GET /a HTTP/1.1\r\n\r\nget /b HTTP/1.1\r\n\r\n\x01junk\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
	tx_on(&c, 200, 1, ok);
	tx_on(&c, 210, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	tx_on(&c, 220, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	tx_on(&c, 230, 1, ok);
	assert_int_equal(nrec, 4);
	check_labels(0, "GET", "/a", 200);
	check_labels(1, "_OTHER", "/b", 404);
	check_labels(2, "_OTHER", "_unknown", 400);
	check_labels(3, "GET", "/c", 200); /* read with the junk: the resync scan found its line */
	assert_int_equal(st()->missed_requests, 0);
	/* The connection goes on: the next request has its labels again. */
	rx_on(&c, 300, 1, "POST /d HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	tx_on(&c, 310, 1, ok);
	assert_int_equal(nrec, 5);
	check_labels(4, "POST", "/d", 200);
	/* Duplicate lengths pipelined: the responses, not the lengths, count. */
	rx_on(&c, 400, 1, "POST /e HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 20\r\n\r\nx"
			  "GET /f HTTP/1.1\r\n\r\n");
	tx_on(&c, 410, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	close_on(&c, 420, 0, 0);
	assert_int_equal(nrec, 6);
	check_labels(5, "POST", "/e", 400);
	assert_int_equal(st()->unanswered, 0);
}

/* prefix, nfill times fill, suffix: a request line of any length. */
static int long_request(char *req, size_t sz, const char *prefix, size_t nfill, const char *suffix)
{
	int n = snprintf(req, sz, "%s", prefix);

	assert_true((size_t)n + nfill + strlen(suffix) < sz);
	memset(req + n, 'a', nfill);
	n += (int)nfill;
	return n + snprintf(req + n, sz - (size_t)n, "%s", suffix);
}

/* A request line longer than the capture: counted, route from the bytes captured. */
static void test_long_request_line(void **state)
{
	struct conn_id c = {.sk = 6, .ino = 6, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char req[6000];
	int n;

	n = long_request(req, sizeof(req), "GET /test/?", 600, " HTTP/1.1\r\nHost: x\r\n\r\n");
	data_on(&c, WT_DIR_RECV, 100, 1, req, (size_t)n, n);
	tx_on(&c, 200, 1, ok);
	assert_int_equal(nrec, 1);
	check_labels(0, "GET", "/test/", 200);
	assert_true(recs[0].rq.flags & WT_RQ_FRAMING_LOST);
	/* The next request on the connection is read normally. */
	rx_on(&c, 300, 1, "GET /after HTTP/1.1\r\n\r\n");
	tx_on(&c, 310, 1, ok);
	assert_int_equal(nrec, 2);
	check_labels(1, "GET", "/after", 200);

	/* A path longer than the capture: its route cannot be known. */
	n = long_request(req, sizeof(req), "GET /", 5000, " HTTP/1.1\r\n\r\n");
	c.sk = 7;
	data_on(&c, WT_DIR_RECV, 400, 1, req, (size_t)n, n);
	tx_on(&c, 410, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 3);
	check_labels(2, "GET", "_truncated", 400);
	/* ... unless the capture reached its query or parameters. */
	n = long_request(req, sizeof(req), "GET /short;jsessionid=", 1000, " HTTP/1.1\r\n\r\n");
	c.sk = 8;
	data_on(&c, WT_DIR_RECV, 500, 1, req, (size_t)n, n);
	tx_on(&c, 510, 1, ok);
	assert_int_equal(nrec, 4);
	check_labels(3, "GET", "/short", 200);
}

/*
 * A slow client's head the server answers before it is all in (gunicorn
 * rejects a NUL in a header as soon as it reads it): the head is the
 * request, with what its bytes so far tell; the rest of it, read byte by
 * byte after the answer, starts nothing.
 */
static void test_answered_mid_head(void **state)
{
	static const char req[] = "GET /test/ HTTP/1.1\r\nHost: x\r\nX: a\x07\x7f\0b\r\n\r\n";
	static const struct {
		size_t before; /* bytes read when the server answers */
		const char *route;
	} at[] = { {4, "_truncated"}, {10, "_truncated"}, {11, "/test/"}, {36, "/test/"} };
	size_t i, k;

	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct conn_id c = {.sk = 70 + i, .ino = 7, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};

		nrec = 0;
		for (k = 0; k < at[i].before; k++)
			data_on(&c, WT_DIR_RECV, 100 + k, 1, req + k, 1, 1);
		tx_on(&c, 200, 1, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
		for (; k < sizeof(req) - 1; k++)
			data_on(&c, WT_DIR_RECV, 300 + k, 1, req + k, 1, 1);
		close_on(&c, 400, 0, 0);
		assert_int_equal(nrec, 1);
		check_labels(0, "GET", at[i].route, 400);
		assert_int_equal(recs[0].rq.start_ns, 100);
		assert_int_equal(recs[0].rq.end_ns, 200);
	}
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->parse_errors_http, 0);
}

/* gunicorn answers an HTTP/2.0 request line in the version it was asked in. */
static void test_response_echoes_version(void **state)
{
	struct conn_id c = {.sk = 60, .ino = 6, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};

	rx_on(&c, 100, 1, "GET /test/ HTTP/2.0\r\n\r\n");
	tx_on(&c, 110, 1, "HTTP/2.0 200 OK\r\nContent-Length: 4\r\n\r\n");
	tx_on(&c, 120, 1, "rest");
	assert_int_equal(nrec, 1);
	check_labels(0, "GET", "/test/", 200);
	assert_int_equal(recs[0].rq.end_ns, 120);
	assert_int_equal(st()->parse_errors_http, 0);
}

/* A request whose start was never captured: its response still counts. */
static void test_request_not_captured(void **state)
{
	struct conn_id c = {.sk = 9, .ino = 9, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};

	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_RECV, .ts = 100, .tid = 1,
				      .flags = WT_F_NODATA, .len = 80});
	tx_on(&c, 200, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	check_labels(0, "_OTHER", "_unknown", 200);
	assert_int_equal(recs[0].rq.start_ns, 100);
	/* A response whose request record was lost (ring full): counted from the last read. */
	tx_on(&c, 300, 1, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	check_labels(1, "_OTHER", "_unknown", 503);
	assert_int_equal(recs[1].rq.start_ns, 100);
	assert_int_equal(st()->missed_requests, 1);
	/*
	 * A response on a connection never seen, accepted or not: nothing to
	 * count it against (a relayed worker connection the kernel side
	 * withdrew answers like this).
	 */
	c.sk = 10;
	tx_on(&c, 400, 1, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
	tx(11, 500, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	assert_int_equal(st()->orphan_responses, 2);
	assert_int_equal(st()->conns_active, 1);
}

/* Accepted connections are followed whatever their first bytes; others as before. */
static void test_accepted_first_bytes(void **state)
{
	struct conn_id a = {.sk = 20, .ino = 1, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	struct conn_id b = C(21);

	rx_on(&a, 100, 1, "g");
	rx_on(&a, 101, 1, "et / HTTP/1.1\r\n\r\n");
	tx_on(&a, 110, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	check_labels(0, "_OTHER", "/", 404);
	/*
	 * Accepted and met from its first byte without a handshake time (the
	 * kernel side saw the stream's counts, not the handshake): followed too.
	 */
	a.sk = 23;
	a.est_ns = 0;
	rx_on(&a, 150, 1, "\x16\x03\x01");
	tx_on(&a, 160, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	check_labels(1, "_OTHER", "_unknown", 400);
	assert_int_equal(st()->conns_active, 2);
	/* Met mid-stream (no accepted flag): bytes that start no request start nothing. */
	b.sk = 24;
	rx_on(&b, 170, 1, "body of a POST the router relayed");
	tx_on(&b, 180, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	b.sk = 21;
	/* Not seen accepted: a read that starts no request starts nothing. */
	rx_on(&b, 200, 1, "get / HTTP/1.1\r\n\r\n");
	tx_on(&b, 210, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	assert_int_equal(st()->conns_active, 2);
	/* ... but one that does is followed, one byte at a time too. */
	b.sk = 22;
	rx_on(&b, 300, 1, "G");
	rx_on(&b, 301, 1, "ET /g HTTP/1.1\r\n\r\n");
	tx_on(&b, 310, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 3);
	check_labels(2, "GET", "/g", 200);
}

/* A client reset: what was pending was not owed, and the connection is gone. */
static void test_reset(void **state)
{
	struct conn_id c = {.sk = 30, .ino = 3, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};

	rx_on(&c, 100, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	tx_on(&c, 110, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	close_on(&c, 120, WT_F_RESET, 0);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->client_reset, 1);
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->conns_active, 0);
	/* Reset around the worker's read: nothing was read, nothing counts. */
	c.sk = 31;
	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_RECV, .ts = 200, .tid = 1,
				      .data = "GET /c HTTP/1.1\r\n\r\n", .dlen = 19, .len = 19});
	close_on(&c, 201, WT_F_RESET, 0);
	assert_int_equal(st()->client_reset, 2);
	assert_int_equal(st()->conns_active, 0);
	/* Reset with bytes unacked: no ACK will come, the response ends at the close. */
	c.sk = 32;
	rx_on(&c, 300, 1, "GET /s HTTP/1.1\r\n\r\n");
	tx_on(&c, 310, 1, "HTTP/1.1 200 OK\r\n\r\nabc");
	close_on(&c, 320, WT_F_RESET, 3);
	assert_int_equal(nrec, 2);
	check_labels(1, "GET", "/s", 200);
	assert_int_equal(recs[1].rq.end_ns, 320);
	assert_int_equal(st()->conns_active, 0);
	assert_int_equal(st()->unanswered, 0);
}

static uint64_t ignored_sk, ignored_ino;
static int ignored_calls;

static void on_ignore(uint64_t sk, uint64_t ino, void *ctx)
{
	ignored_sk = sk;
	ignored_ino = ino;
	ignored_calls++;
	assert_ptr_equal(ctx, &ignored_calls);
}

/* TLS on a TLS port: the server answers with TLS; the kernel is told to stop. */
static void test_not_http_ignored(void **state)
{
	struct conntrack_opts o = opts;
	struct conn_id c = {.sk = 40, .ino = 4, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	static const char server_hello[] = "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03";

	o.ignore = on_ignore;
	o.ignore_ctx = &ignored_calls;
	conntrack_free(ct);
	ct = conntrack_new(&o, on_request, NULL);
	ignored_calls = 0;
	data_on(&c, WT_DIR_RECV, 100, 1, tls_hello, sizeof(tls_hello) - 1, 517);
	data_on(&c, WT_DIR_SEND, 110, 1, server_hello, sizeof(server_hello) - 1, 1400);
	assert_int_equal(ignored_calls, 1);
	assert_int_equal(ignored_sk, 40);
	assert_int_equal(ignored_ino, 4);
	assert_int_equal(st()->not_http, 1);
	/* Records already in flight are dropped, once. */
	data_on(&c, WT_DIR_RECV, 120, 1, "GET / HTTP/1.1\r\n\r\n", 18, 18);
	data_on(&c, WT_DIR_SEND, 130, 1, "HTTP/1.1 200 OK\r\n\r\n", 19, 19);
	close_on(&c, 140, 0, 0);
	assert_int_equal(nrec, 0);
	assert_int_equal(ignored_calls, 1);
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->parse_errors_http, 1);
	assert_int_equal(st()->conns_active, 0);
	/* A server that speaks first (SMTP-like greeting): the same. */
	c.sk = 41;
	tx_on(&c, 200, 1, "220 mail ready\r\n");
	assert_int_equal(ignored_calls, 2);
	assert_int_equal(st()->not_http, 2);
	/* The same bytes on a plain HTTP port get a 400: counted. */
	c.sk = 42;
	data_on(&c, WT_DIR_RECV, 300, 1, tls_hello, sizeof(tls_hello) - 1, 517);
	tx_on(&c, 310, 1, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 1);
	check_labels(0, "_OTHER", "_unknown", 400);
	/* No callback given: still counted, nothing called. */
	conntrack_free(ct);
	ct = conntrack_new(&opts, on_request, NULL);
	c.sk = 43;
	data_on(&c, WT_DIR_SEND, 400, 1, server_hello, sizeof(server_hello) - 1, 90);
	assert_int_equal(st()->not_http, 1);
	assert_int_equal(ignored_calls, 2);
}

/* uwsgi behind nginx: odd keys, empty and huge values, modifier1 other than 0. */
static void test_uwsgi_lenient(void **state)
{
	static char big_value[2000];
	const char *const odd[] = { "", "x", "REQUEST_METHOD", "get", "REQUEST_URI", "/odd?x", NULL };
	const char *const nomethod[] = { "REQUEST_URI", "/nm", "CONTENT_LENGTH", "", NULL };
	const char *const huge[] = { "REQUEST_METHOD", "GET", "HTTP_COOKIE", big_value,
				     "REQUEST_URI", "/huge", NULL };
	struct conn_id c = {.sk = 50, .ino = 5, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char pkt[4096];
	size_t n;

	memset(big_value, 'c', sizeof(big_value) - 1);
	n = uwsgi_pkt(pkt, odd);
	data_on(&c, WT_DIR_RECV, 100, 1, pkt, n, (int32_t)n);
	tx_on(&c, 110, 1, ok);
	n = uwsgi_pkt(pkt, nomethod);
	pkt[0] = 30; /* nginx uwsgi_modifier1 30 */
	data_on(&c, WT_DIR_RECV, 200, 1, pkt, n, (int32_t)n);
	tx_on(&c, 210, 1, ok);
	assert_int_equal(nrec, 2);
	check_labels(0, "_OTHER", "/odd", 200);
	check_labels(1, "_OTHER", "/nm", 200);
	assert_int_equal(recs[1].rq.proto, WT_PROTO_UWSGI);
	/*
	 * A packet larger than the capture: counted, labelled from its first
	 * vars; its path lies past them.
	 */
	c.sk = 51;
	n = uwsgi_pkt(pkt, huge);
	data_on(&c, WT_DIR_RECV, 300, 1, pkt, n, (int32_t)n);
	tx_on(&c, 310, 1, ok);
	assert_int_equal(nrec, 3);
	check_labels(2, "GET", "_truncated", 200);
}

/*
 * uwsgi packets get the same labels whether they come in one read or in
 * 1-7 byte reads: from the vars in their first 512 bytes. nginx sends
 * QUERY_STRING first, so a long query pushes the method and the path past
 * them.
 */
static void test_uwsgi_labels_any_reads(void **state)
{
	static char fill[700], edge[600], past[600], query[620];
	const char *const at_edge[] = { "REQUEST_METHOD", "GET", "PATH_INFO", edge, "HTTP_X", "1", NULL };
	const char *const past_edge[] = { "REQUEST_METHOD", "GET", "PATH_INFO", past, "HTTP_X", "1", NULL };
	const char *const var_first[] = { "HTTP_X_FILL", fill, "REQUEST_METHOD", "PUT", "PATH_INFO", "/late", NULL };
	const char *const long_query[] = { "QUERY_STRING", query + 6, "REQUEST_METHOD", "GET",
					   "REQUEST_URI", query, "PATH_INFO", "/q", NULL };
	const char *const query_cut[] = { "REQUEST_METHOD", "DELETE", "REQUEST_URI", query, NULL };
	const struct {
		const char *const *kv;
		const char *method, *route;
	} cases[] = {
		{ at_edge, "GET", NULL }, /* the path's last byte is the capture's last: whole */
		{ past_edge, "GET", "_truncated" },
		{ var_first, "_OTHER", "_truncated" },
		{ long_query, "_OTHER", "_truncated" }, /* REQUEST_METHOD comes after QUERY_STRING */
		{ query_cut, "DELETE", "/q" }, /* cut inside the query: the path is whole */
	};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint32_t seed = 5;
	uint64_t ts = 100;
	char pkt[2048];
	size_t i, n;
	int split;

	memset(fill, 'f', sizeof(fill) - 1);
	/* GET's PATH_INFO value starts at byte 38 of the packet. */
	edge[0] = '/';
	memset(edge + 1, 'e', 512 - 38 - 1);
	past[0] = '/';
	memset(past + 1, 'e', 512 - 38);
	memcpy(query, "/q?q=x", 6);
	memset(query + 6, 'x', sizeof(query) - 7);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (split = 0; split < 2; split++) {
			struct conn_id c = {.sk = 60 + i + 10 * (size_t)split, .ino = 6, .tgid = TGID,
					    .flags = WT_F_ACCEPTED, .est_ns = 1};
			char want[300];

			n = uwsgi_pkt(pkt, cases[i].kv);
			nrec = 0;
			send_client(&c, &ts, pkt, n, split, &seed);
			tx_on(&c, ts++, 1, ok);
			assert_int_equal(nrec, 1);
			/* Routes stop at 256 bytes. */
			snprintf(want, sizeof(want), "%.256s", cases[i].route ? cases[i].route : edge);
			check_labels(0, cases[i].method, want, 200);
		}
	}
}

/*
 * What nginx can make of a packet that uWSGI still runs: any modifier2
 * (uwsgi_modifier2) with modifier1 0 or 30, a lower-case first key, an
 * empty REQUEST_URI or PATH_INFO after the real one.
 */
static void test_uwsgi_nginx_params(void **state)
{
	const char *const lower_first[] = { "aaa_first", "1", "REQUEST_METHOD", "POST", "REQUEST_URI", "/m2", NULL };
	const char *const empty_uri[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/real?x", "PATH_INFO", "/real",
					  "REQUEST_URI", "", "PATH_INFO", "", NULL };
	const char *const empty_uri_only[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "", "PATH_INFO", "/pi", NULL };
	const char *ok = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct conn_id c = {.sk = 80, .ino = 8, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	char pkt[512];
	size_t n;

	n = uwsgi_pkt(pkt, lower_first);
	pkt[0] = 30;
	pkt[3] = 9;
	data_on(&c, WT_DIR_RECV, 100, 1, pkt, n, (int32_t)n);
	tx_on(&c, 110, 1, ok);
	c.sk++;
	pkt[0] = 0;
	pkt[3] = (char)255;
	data_on(&c, WT_DIR_RECV, 200, 1, pkt, n, (int32_t)n);
	tx_on(&c, 210, 1, ok);
	c.sk++;
	n = uwsgi_pkt(pkt, empty_uri);
	data_on(&c, WT_DIR_RECV, 300, 1, pkt, n, (int32_t)n);
	tx_on(&c, 310, 1, ok);
	c.sk++;
	n = uwsgi_pkt(pkt, empty_uri_only);
	data_on(&c, WT_DIR_RECV, 400, 1, pkt, n, (int32_t)n);
	tx_on(&c, 410, 1, ok);
	assert_int_equal(nrec, 4);
	check_labels(0, "POST", "/m2", 200);
	assert_int_equal(recs[0].rq.proto, WT_PROTO_UWSGI);
	check_labels(1, "POST", "/m2", 200);
	check_labels(2, "GET", "/real", 200);
	check_labels(3, "GET", "/pi", 200);
	assert_int_equal(st()->parse_errors_uwsgi + st()->parse_errors_http, 0);
}

/*
 * A path gets the same route whether it arrives in one read or in 1-7 byte
 * reads: _truncated when it does not end within the first 512 bytes.
 */
static void test_long_path_any_reads(void **state)
{
	static const struct {
		int fill;
		int truncated;
	} paths[] = {{600, 1}, {400, 0}};
	struct conn_id c = {.sk = 20, .ino = 6, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	uint32_t seed = 3;
	uint64_t ts = 100;
	char req[1200];
	int i, n, split;

	for (i = 0; i < 2; i++) {
		n = long_request(req, sizeof(req), "GET /", paths[i].fill, "?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
		for (split = 0; split < 2; split++) {
			c.sk++;
			nrec = 0;
			send_client(&c, &ts, req, (size_t)n, split, &seed);
			tx_on(&c, ts + 10, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			assert_int_equal(nrec, 1);
			assert_int_equal(!!(recs[0].rq.flags & WT_RQ_TARGET_TRUNCATED), paths[i].truncated);
			if (!paths[i].truncated)
				assert_int_equal(recs[0].rq.path_len, paths[i].fill + 1);
		}
	}
}

/*
 * A request pipelined behind one that did not parse, or whose body cannot
 * be framed (a chunk size that lies), is queued when its request line comes:
 * the server answers it next. Whole and in 1-7 byte reads.
 */
static void test_pipelined_after_unframed(void **state)
{
	static const char *const reqs[] = {
		"GE\0T /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: +1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n",
		"GET /a HTTP/1.1\r\nContent-Length: -0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
	};
	static const size_t lens[] = {sizeof("GE\0T /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n") - 1, 0, 0, 0};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint32_t seed = 11;
	size_t i;
	int split;

	for (split = 0; split < 2; split++) {
		for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			struct conn_id c = {.sk = 40 + i + 10 * (size_t)split, .ino = 4, .tgid = TGID,
					    .flags = WT_F_ACCEPTED, .est_ns = 1};
			uint64_t ts = 100;

			nrec = 0;
			send_client(&c, &ts, reqs[i], lens[i] ? lens[i] : strlen(reqs[i]), split, &seed);
			tx_on(&c, ts + 10, 1, ok);
			tx_on(&c, ts + 20, 1, ok);
			close_on(&c, ts + 30, 0, 0);
			if (nrec != 2 || strcmp(recs[1].method, "GET") || strcmp(recs[1].path, "/b"))
				fail_msg("case %zu (%s): %d requests, second %s %s", i, split ? "split" : "whole",
					 nrec, recs[1].method, recs[1].path);
		}
	}
	assert_int_equal(st()->unanswered, 0);
	assert_int_equal(st()->missed_requests, 0);
}

/*
 * A response head longer than the capture (an app echoing a long URI in its
 * headers) loses its framing; the next response on the connection, pipelined,
 * still counts once with its own request.
 */
static void test_long_response_head_then_next(void **state)
{
	struct conn_id c = {.sk = 60, .ino = 6, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	char resp[1400];
	int n;

	rx_on(&c, 100, 1, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Echo: ");
	memset(resp + n, 'q', 1000);
	n += 1000;
	n += snprintf(resp + n, sizeof(resp) - (size_t)n, "\r\n\r\nok\n");
	data_on(&c, WT_DIR_SEND, 200, 1, resp, (size_t)n, n);
	tx_on(&c, 300, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	close_on(&c, 400, 0, 0);
	assert_int_equal(nrec, 2);
	check_labels(0, "GET", "/a", 200);
	assert_int_equal(recs[0].rq.end_ns, 200);
	check_labels(1, "GET", "/b", 404);
	assert_int_equal(st()->unanswered, 0);
}

/*
 * One read of n bytes as the kernel side reports it: its first WT_CAP bytes,
 * and when it is longer and starts like a request, its last bytes in a tail
 * record (lost: the tail never came).
 */
static void read_tailed(const struct conn_id *c, uint64_t ts, const char *p, size_t n, int lost)
{
	uint32_t t = wt_tail_len((uint32_t)n);

	submit(c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_RECV, .ts = ts, .tid = 1, .data = p,
				     .dlen = n, .len = (int32_t)n, .flags = t ? WT_F_TAILED : 0});
	if (t && !lost)
		submit(c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_RECV, .ts = ts, .tid = 1,
					     .data = p + n - t, .dlen = t, .len = (int32_t)t,
					     .flags = WT_F_TAIL});
}

/*
 * A request pipelined behind a head longer than the capture, in the same
 * read: the read's tail holds it, and it counts with its own labels. Heads
 * up to two captures long are read whole (framing and all).
 */
static void test_long_head_pipelined_tail(void **state)
{
	static const struct {
		size_t fill;
		uint32_t lost; /* WT_RQ_FRAMING_LOST on the long one */
	} heads[] = {{700, 0}, {3000, WT_RQ_FRAMING_LOST}};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	char req[4200];
	size_t i;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct conn_id c = {.sk = 80 + i, .ino = 8, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
		int n = long_request(req, sizeof(req), "GET /a?q=", heads[i].fill,
				     " HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");

		nrec = 0;
		read_tailed(&c, 100, req, (size_t)n, 0);
		tx_on(&c, 200, 1, ok);
		tx_on(&c, 300, 1, ok);
		close_on(&c, 400, 0, 0);
		assert_int_equal(nrec, 2);
		check_labels(0, "GET", "/a", 200);
		assert_int_equal(recs[0].rq.flags & WT_RQ_FRAMING_LOST, heads[i].lost);
		check_labels(1, "GET", "/b", 200);
		assert_int_equal(recs[1].rq.start_ns, 100);
	}
	assert_int_equal(st()->missed_requests, 0);
	assert_int_equal(st()->unanswered, 0);
}

/*
 * The tail of a read begins anywhere: a line cut by the bytes not captured
 * is no request line, even when what is left of it looks like one. A tail
 * that never comes leaves a gap; every response still counts once.
 */
static void test_tail_cut_line_and_lost(void **state)
{
	struct conn_id c = {.sk = 90, .ino = 9, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	const char *tail = "GET /cut HTTP/1.1\r\n";
	char req[2400];
	size_t n;

	/* A header value that goes on like a request line, right where the tail begins. */
	n = (size_t)long_request(req, sizeof(req), "GET /a HTTP/1.1\r\nX-Pad: ", 1500, " ");
	n += (size_t)snprintf(req + n, sizeof(req) - n, "%sX-More: ", tail);
	memset(req + n, 'm', WT_CAP - strlen(tail) - strlen("X-More: \r\n\r\n"));
	n += WT_CAP - strlen(tail) - strlen("X-More: \r\n\r\n");
	n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n\r\n");
	assert_int_equal(wt_tail_len((uint32_t)n), WT_CAP);
	assert_memory_equal(req + n - WT_CAP, tail, strlen(tail));
	read_tailed(&c, 100, req, n, 0);
	tx_on(&c, 200, 1, ok);
	close_on(&c, 300, 0, 0);
	assert_int_equal(nrec, 1);
	check_labels(0, "GET", "/a", 200);
	assert_int_equal(st()->unanswered, 0);

	/* Lost: the next record starts after the gap; both responses count. */
	c.sk = 91;
	n = (size_t)long_request(req, sizeof(req), "GET /l?q=", 1500,
				 " HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n");
	read_tailed(&c, 400, req, n, 1);
	tx_on(&c, 500, 1, ok);
	tx_on(&c, 510, 1, ok);
	rx_on(&c, 600, 1, "GET /n HTTP/1.1\r\n\r\n");
	tx_on(&c, 610, 1, ok);
	close_on(&c, 700, 0, 0);
	assert_int_equal(nrec, 4);
	check_labels(1, "GET", "/l", 200);
	check_labels(2, "_OTHER", "_unknown", 200);
	check_labels(3, "GET", "/n", 200);

	/* Empty lines past the capture and no tail: the response counts once all the same. */
	c.sk = 93;
	memset(req, '\n', 1500);
	n = 1500 + (size_t)snprintf(req + 1500, sizeof(req) - 1500, "GET /f HTTP/1.1\r\n\r\n");
	read_tailed(&c, 700, req, n, 1);
	tx_on(&c, 710, 1, ok);
	close_on(&c, 720, 0, 0);
	assert_int_equal(nrec, 5);
	check_labels(4, "_OTHER", "_unknown", 200);
	assert_int_equal(st()->unanswered, 0);

	/* A tail whose read was never followed is dropped. */
	c.sk = 92;
	submit(&c, &(struct rec_args){.type = WT_EV_DATA, .dir = WT_DIR_RECV, .ts = 800, .tid = 1,
				      .data = tail, .dlen = strlen(tail), .len = (int32_t)strlen(tail),
				      .flags = WT_F_TAIL});
	assert_int_equal(st()->conns_active, 0);
}

/*
 * Empty lines before a request (RFC 9112 2.2), CRLF or bare LF, a flood of
 * them too (past the capture), in records of every size from 1 to 7
 * bytes and whole: the request keeps its labels.
 */
static void test_empty_lines_any_records(void **state)
{
	static const char *const leads[] = {"\r\n", "\n", "\r\n\r\n"};
	static const size_t floods[] = {300, 1000}; /* CRLFs: past the capture, past two */
	const char *req = "GET /e HTTP/1.1\r\nHost: x\r\n\r\n";
	const size_t nleads = sizeof(leads) / sizeof(leads[0]);
	char buf[2100];
	size_t i, seg, off, n;

	for (i = 0; i < nleads + 2; i++) {
		size_t times = i < nleads ? 1 : floods[i - nleads];
		const char *lead = i < nleads ? leads[i] : "\r\n";

		for (n = 0; times--;)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", lead);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", req);
		for (seg = 1; seg <= 8; seg++) {
			struct conn_id c = {.sk = 700 + i * 10 + seg, .ino = 7, .tgid = TGID, .flags = WT_F_ACCEPTED,
					    .est_ns = 1};
			uint64_t ts = 100;

			nrec = 0;
			/* A read past the capture as the kernel side reports it. */
			if (seg == 8)
				read_tailed(&c, ts++, buf, n, 0);
			for (off = seg == 8 ? n : 0; off < n; ts++) {
				size_t k = seg == 8 || seg > n - off ? n - off : seg;

				data_on(&c, WT_DIR_RECV, ts, 1, buf + off, k, (int32_t)k);
				off += k;
			}
			tx_on(&c, ts + 10, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			close_on(&c, ts + 20, 0, 0);
			if (nrec != 1 || strcmp(recs[0].method, "GET") || strcmp(recs[0].path, "/e"))
				fail_msg("lead %zu in %zu-byte records: %d requests, %s %s", i, seg, nrec,
					 recs[0].method, recs[0].path);
		}
	}
	assert_int_equal(st()->missed_requests, 0);
	assert_int_equal(st()->parse_errors_http, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_gunicorn_sync),
		T(test_gthread_keepalive),
		T(test_gevent_pipelining),
		T(test_gevent_interleaved),
		T(test_100_continue),
		T(test_no_body),
		T(test_chunked_streamed),
		T(test_chunked_large_chunks),
		T(test_uwsgi_writev),
		T(test_uwsgi_close_delimited),
		T(test_sendfile),
		T(test_1mb_partial_sends),
		T(test_post_13_recvs),
		T(test_chunked_request_body),
		T(test_uwsgi_post_body),
		T(test_sk_reuse_new_ino),
		T(test_unix_grace),
		T(test_head_truncated),
		T(test_response_framing_lost),
		T(test_chunk_line_in_gap),
		T(test_parse_error_resync),
		T(test_head_every_split),
		T(test_close_unanswered_and_orphans),
		T(test_upgrade_101),
		T(test_idle_expiry_and_table_full),
		T(test_many_connections),
		T(test_long_path_truncated),
		T(test_long_path_any_reads),
		T(test_pipelined_after_unframed),
		T(test_long_response_head_then_next),
		T(test_long_head_pipelined_tail),
		T(test_empty_lines_any_records),
		T(test_tail_cut_line_and_lost),
		T(test_short_record),
		T(test_slow_reader_acked),
		T(test_relayed),
		T(test_kinds_whole_and_split),
		T(test_kinds_then_request),
		T(test_http2_frames_after_preface),
		T(test_pipelined_mix),
		T(test_long_request_line),
		T(test_response_echoes_version),
		T(test_answered_mid_head),
		T(test_request_not_captured),
		T(test_accepted_first_bytes),
		T(test_reset),
		T(test_not_http_ignored),
		T(test_uwsgi_lenient),
		T(test_uwsgi_labels_any_reads),
		T(test_uwsgi_nginx_params),
	};

	return cmocka_run_group_tests_name("conntrack", tests, NULL, NULL);
}
