// SPDX-License-Identifier: MIT
/*
 * conntrack: a connection's life. Where it starts (accepted, met mid-stream,
 * a socket reused), how it ends (close, reset, idle expiry, a slow reader's
 * ACK, AF_UNIX without a close), the table's limits, and the connections it
 * stops following (a traced relay, a server that does not speak HTTP).
 */
#include "conntrack_harness.h"

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

/*
 * A response whose body the connection's end cuts (server-sent events the
 * client left; a server that closes without the last chunk) was written
 * with its status: it counts once, ended at its last write; so does one
 * whose head was cut after its status line. One cut inside its status line
 * has no status to count.
 */
static void test_cut_response(void **state)
{
	struct conn_id c = {.sk = 33, .ino = 3, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};

	rx_on(&c, 100, 1, "GET /sse HTTP/1.1\r\n\r\n");
	tx_on(&c, 110, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	tx_on(&c, 120, 1, "9\r\ndata: 0\n\n\r\n");
	tx_on(&c, 130, 1, "9\r\ndata: 1\n\n\r\n");
	close_on(&c, 150, WT_F_RESET, 0);
	assert_int_equal(nrec, 1);
	check_labels(0, "GET", "/sse", 200);
	assert_int_equal(recs[0].rq.end_ns, 130);
	assert_true(recs[0].rq.flags & WT_RQ_CUT);
	assert_int_equal(st()->client_reset, 0);
	/* Content-Length not reached, the server closes; the request behind it was never answered. */
	c.sk = 34;
	rx_on(&c, 200, 1, "GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
	tx_on(&c, 210, 1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	close_on(&c, 220, 0, 0);
	assert_int_equal(nrec, 2);
	check_labels(1, "GET", "/big", 200);
	assert_int_equal(recs[1].rq.end_ns, 210);
	assert_int_equal(st()->unanswered, 1);
	/* A head cut after its status line: the server wrote that status, it counts. */
	c.sk = 35;
	rx_on(&c, 300, 1, "GET /h HTTP/1.1\r\n\r\n");
	tx_on(&c, 310, 1, "HTTP/1.1 503 Service Unavailable\r\nContent-Le");
	close_on(&c, 320, WT_F_RESET, 0);
	assert_int_equal(nrec, 3);
	check_labels(2, "GET", "/h", 503);
	assert_int_equal(recs[2].rq.end_ns, 310);
	assert_int_equal(st()->client_reset, 0);
	/* Cut inside the status line: no status, nothing counted. */
	c.sk = 37;
	rx_on(&c, 400, 1, "GET /s HTTP/1.1\r\n\r\n");
	tx_on(&c, 410, 1, "HTTP/1.1 2");
	close_on(&c, 420, WT_F_RESET, 0);
	assert_int_equal(nrec, 3);
	assert_int_equal(st()->client_reset, 1);
	assert_int_equal(st()->conns_active, 0);
}

/* A 101 is counted once and the connection leaves HTTP/1.x; an HTTP/2 server's SETTINGS is not HTTP. */
static void test_upgraded_and_http2(void **state)
{
	struct conn_id c = {.sk = 36, .ino = 3, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	static const char settings[] = "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64";
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	rx_on(&c, 100, 1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	tx_on(&c, 110, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
	rx_on(&c, 120, 1, "GET /not-a-request HTTP/1.1\r\n\r\n");
	tx_on(&c, 130, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	close_on(&c, 140, 0, 0);
	assert_int_equal(nrec, 1);
	check_labels(0, "GET", "/ws", 101);
	assert_int_equal(st()->upgraded, 1);
	assert_int_equal(st()->parse_errors_http, 0);
	c.sk = 37;
	data_on(&c, WT_DIR_RECV, 200, 1, preface, sizeof(preface) - 1, sizeof(preface) - 1);
	data_on(&c, WT_DIR_SEND, 210, 1, settings, sizeof(settings) - 1, sizeof(settings) - 1);
	close_on(&c, 220, 0, 0);
	assert_int_equal(nrec, 1);
	assert_int_equal(st()->http2, 1);
	assert_int_equal(st()->not_http, 1);
	assert_int_equal(st()->conns_active, 0);
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

static uint32_t tls_tgid;
static int tls_calls;

static void on_tls_unread(uint32_t tgid, void *ctx)
{
	tls_tgid = tgid;
	tls_calls++;
	assert_ptr_equal(ctx, &tls_calls);
}

/*
 * TLS on a TLS port whose plaintext is not read: the server answers with TLS;
 * the kernel is told to stop, and the TLS is reported as unread (once).
 */
static void test_not_http_ignored(void **state)
{
	struct conntrack_opts o = opts;
	struct conn_id c = {.sk = 40, .ino = 4, .tgid = TGID, .flags = WT_F_ACCEPTED, .est_ns = 1};
	static const char server_hello[] = "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03";

	o.ignore = on_ignore;
	o.ignore_ctx = &ignored_calls;
	o.tls_unread = on_tls_unread;
	o.tls_ctx = &tls_calls;
	conntrack_free(ct);
	ct = conntrack_new(&o, on_request, NULL);
	ignored_calls = 0;
	tls_calls = 0;
	data_on(&c, WT_DIR_RECV, 100, 1, tls_hello, sizeof(tls_hello) - 1, 517);
	data_on(&c, WT_DIR_SEND, 110, 1, server_hello, sizeof(server_hello) - 1, 1400);
	assert_int_equal(ignored_calls, 1);
	assert_int_equal(tls_calls, 1);
	assert_int_equal(tls_tgid, TGID);
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
	assert_int_equal(tls_calls, 1); /* not TLS */
	/* A TLS alert first (a handshake the server refused): TLS too. */
	c.sk = 44;
	data_on(&c, WT_DIR_SEND, 250, 1, "\x15\x03\x03\x00\x02\x02\x28", 7, 7);
	assert_int_equal(tls_calls, 2);
	assert_int_equal(st()->not_http, 3);
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
	assert_int_equal(ignored_calls, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sk_reuse_new_ino),
		T(test_unix_grace),
		T(test_close_unanswered_and_orphans),
		T(test_idle_expiry_and_table_full),
		T(test_many_connections),
		T(test_slow_reader_acked),
		T(test_relayed),
		T(test_accepted_first_bytes),
		T(test_reset),
		T(test_cut_response),
		T(test_upgraded_and_http2),
		T(test_not_http_ignored),
	};

	return cmocka_run_group_tests_name("conntrack_life", tests, NULL, NULL);
}
