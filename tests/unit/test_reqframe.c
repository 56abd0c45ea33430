// SPDX-License-Identifier: MIT
/*
 * reqframe: where requests start and end over the reads that carry them,
 * captured or not. First the framer's own events over a read (as
 * test_respframe.c steps responses), then through the tracker: heads across
 * reads and past the capture, bodies by length and by chunks, the resync
 * after a head that does not parse or a body that cannot be framed, read
 * tails, empty lines; each response still counts once.
 */
#include "conntrack_harness.h"
#include "reqframe.h"

/* What the framer reported over the records fed to it. */
struct seen {
	int heads, lost, bad, syncs; /* RQ_EV_HEAD, RQ_EV_HEAD_LOST and _BAD, RQ_EV_SYNC (reqframe_read's too) */
	int body_lost, body_bad;
	uint64_t head_bytes, body;
	char path[64]; /* the last head's */
};

/* One read of len bytes, the first cap of s captured, every head queued. */
static void feed(struct reqframe *rf, const char *s, uint64_t cap, uint64_t len, struct seen *sn)
{
	static struct wt_conn_event e = {.ts_ns = 100, .tid = 7, .tgid = 5};
	uint64_t pos = 0;

	if (reqframe_read(rf, (const uint8_t *)s, cap, 0, 0) == RQ_EV_SYNC)
		sn->syncs++;
	while (pos < len) {
		struct reqframe_out o;
		enum reqframe_ev ev = reqframe_step(rf, &e, (const uint8_t *)s, &pos, cap, len, &o);

		sn->body += o.body;
		switch (ev) {
		case RQ_EV_HEAD:
		case RQ_EV_HEAD_LOST:
		case RQ_EV_HEAD_BAD:
			sn->heads += ev == RQ_EV_HEAD;
			sn->lost += ev == RQ_EV_HEAD_LOST;
			sn->bad += ev == RQ_EV_HEAD_BAD;
			sn->head_bytes += o.bytes;
			snprintf(sn->path, sizeof(sn->path), "%.*s", o.head.path ? (int)o.head.path_len : 0,
				 o.head.path ? o.head.path : "");
			assert_int_equal(o.start_ns, 100);
			assert_int_equal(o.tid, 7);
			reqframe_queued(rf, 1, &pos, len);
			break;
		case RQ_EV_SYNC:
			sn->syncs++;
			break;
		case RQ_EV_BODY_LOST:
			sn->body_lost++;
			break;
		case RQ_EV_BODY_BAD:
			sn->body_bad++;
			break;
		default:
			break;
		}
	}
}

/*
 * The framer on its own: a request whole and in records of every size from
 * 1 to 7 is one head, its bytes and its body's add up to what was sent, and
 * the next bytes start a head again.
 */
static void test_frame_every_split(void **state)
{
	static const struct {
		const char *req;
		const char *path;
		uint64_t body;
	} cases[] = {
		{"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "/a", 0},
		{"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "/b", 5},
		{"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "/c", 13},
	};
	size_t i, seg;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].req);

		for (seg = 1; seg <= 8; seg++) {
			struct reqframe rf = {0};
			struct seen sn = {0};
			size_t off;

			for (off = 0; off < n;) {
				size_t k = seg == 8 || seg > n - off ? n - off : seg;

				feed(&rf, cases[i].req + off, k, k, &sn);
				off += k;
			}
			if (sn.heads != 1 || sn.head_bytes + sn.body != n || sn.body != cases[i].body ||
			    strcmp(sn.path, cases[i].path) || rf.state != RQ_HEAD)
				fail_msg("case %zu in %zu-byte records: %d heads, %" PRIu64 " + %" PRIu64 " bytes",
					 i, seg, sn.heads, sn.head_bytes, sn.body);
			reqframe_free(&rf);
		}
	}
}

/*
 * Bytes not captured and bytes no parser takes: a body runs through a gap;
 * a chunk-size line in one, or a head that goes on in one, loses the
 * framing; a head that does not parse is reported, and the resync finds the
 * request line behind it (announced when it follows a send).
 */
static void test_frame_lost_and_resync(void **state)
{
	struct reqframe rf = {0};
	struct seen sn = {0};

	feed(&rf, "POST /big HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", 44, 1044, &sn);
	assert_int_equal(sn.heads, 1);
	assert_int_equal(sn.body, 1000);
	assert_int_equal(rf.state, RQ_HEAD);

	feed(&rf, "POST /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 49, 49, &sn);
	feed(&rf, "5", 1, 3000, &sn);
	assert_int_equal(sn.body_lost, 1);
	assert_int_equal(rf.state, RQ_SYNC);

	memset(&sn, 0, sizeof(sn));
	reqframe_free(&rf);
	rf = (struct reqframe){0};
	feed(&rf, "GET /long HTTP/1.1\r\nX-A: aaaa", 29, 9000, &sn);
	assert_int_equal(sn.lost, 1);
	assert_string_equal(sn.path, "/long");
	assert_int_equal(sn.head_bytes, 9000);
	assert_int_equal(rf.state, RQ_SYNC);

	memset(&sn, 0, sizeof(sn));
	rf = (struct reqframe){0};
	feed(&rf, "<bad>\r\nGET /next HTTP/1.1\r\n\r\n", 29, 29, &sn);
	assert_int_equal(sn.bad, 1);
	assert_int_equal(sn.heads, 1);
	assert_string_equal(sn.path, "/next");
	assert_int_equal(sn.syncs, 0);
	feed(&rf, "<bad>\r\n", 7, 7, &sn);
	assert_int_equal(sn.bad, 2);
	reqframe_sent(&rf);
	feed(&rf, "GET /after HTTP/1.1\r\n\r\n", 23, 23, &sn);
	assert_int_equal(sn.syncs, 1);
	assert_int_equal(sn.heads, 2);
	assert_string_equal(sn.path, "/after");
	reqframe_free(&rf);
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
	/* Counted, and exactly: not a loss. */
	assert_int_equal(st()->framing_lost, 0);
	assert_int_equal(st()->framing_recovered, 1);
	rx(9, 300, 1, "GET /after HTTP/1.1\r\n\r\n");
	tx(9, 400, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(nrec, 2);
	expect(1, "GET", "/after", 200, 300, 400, 0);
	assert_int_equal(st()->parse_errors_http, 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_every_split),
		cmocka_unit_test(test_frame_lost_and_resync),
		T(test_post_13_recvs),
		T(test_chunked_request_body),
		T(test_uwsgi_post_body),
		T(test_head_truncated),
		T(test_parse_error_resync),
		T(test_head_every_split),
		T(test_long_path_truncated),
		T(test_long_path_any_reads),
		T(test_pipelined_after_unframed),
		T(test_long_head_pipelined_tail),
		T(test_empty_lines_any_records),
		T(test_tail_cut_line_and_lost),
		T(test_http2_frames_after_preface),
		T(test_pipelined_mix),
		T(test_long_request_line),
		T(test_answered_mid_head),
		T(test_request_not_captured),
	};

	return cmocka_run_group_tests_name("reqframe", tests, NULL, NULL);
}
