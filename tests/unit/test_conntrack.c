// SPDX-License-Identifier: MIT
/*
 * conntrack: event sequences as the servers produce them (the socket calls
 * each gunicorn and uWSGI mode makes), with the exact records expected: each
 * response paired with its request, framed whole or in pieces, captured or
 * not. A connection's life is in test_conntrack_life.c, the requests' framing
 * in test_reqframe*.c.
 */
#include "conntrack_harness.h"

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
	assert_int_equal(st()->framing_lost, 0);
	assert_int_equal(st()->framing_recovered, 2);
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
		T(test_response_framing_lost),
		T(test_chunk_line_in_gap),
		T(test_upgrade_101),
		T(test_long_response_head_then_next),
		T(test_short_record),
		T(test_response_echoes_version),
	};

	return cmocka_run_group_tests_name("conntrack", tests, NULL, NULL);
}
