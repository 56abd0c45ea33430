// SPDX-License-Identifier: MIT
/*
 * reqframe, through the tracker: every kind of request clients and scanners
 * send, and the uwsgi packets nginx makes, whole and byte by byte, each with
 * the labels it must get and its response counted exactly once.
 */
#include "conntrack_harness.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_kinds_whole_and_split),
		T(test_kinds_then_request),
		T(test_uwsgi_lenient),
		T(test_uwsgi_labels_any_reads),
		T(test_uwsgi_nginx_params),
	};

	return cmocka_run_group_tests_name("reqframe_kinds", tests, NULL, NULL);
}
