// SPDX-License-Identifier: MIT
/*
 * http_parse: every message at every truncation point, each input placed at
 * the end of a page followed by a PROT_NONE page so that any over-read faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "http_parse.h"
#include <linux/types.h>

#include "looks_like.h"

static char *guard_page;
static size_t page_size;

/* Copy s so that its last byte is the last readable byte. */
static const char *guarded(const char *s, size_t n)
{
	char *p;

	if (!guard_page) {
		page_size = (size_t)sysconf(_SC_PAGESIZE);
		guard_page = mmap(NULL, page_size * 3, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(guard_page != MAP_FAILED);
		assert_int_equal(mprotect(guard_page + page_size * 2, page_size, PROT_NONE), 0);
	}
	assert_true(n <= page_size * 2);
	p = guard_page + page_size * 2 - n;
	memcpy(p, s, n);
	return p;
}

/* A slice the parser returned, against the bytes wanted (NULL: none). */
static void assert_slice(const char *p, size_t n, const char *want)
{
	if (!want) {
		assert_null(p);
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

/* Method and target as sent: labels.c and route.c make labels of them (test_labels). */
struct req_case {
	const char *msg;
	const char *method;
	const char *target;
	int minor;
	int64_t cl;
	int chunked;
	int expect;
	enum http_conn conn;
	int head_len; /* 0: whole message */
};

static const struct req_case req_cases[] = {
	{ "GET /test/ HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	  "GET", "/test/", 1, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "GET /a/b?x=1&y=2 HTTP/1.0\r\n\r\n", "GET", "/a/b?x=1&y=2", 0, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n"
	  "Expect: 100-continue\r\n\r\n",
	  "POST", "/echo", 1, 102400, 0, 1, HTTP_CONN_DEFAULT, 0 },
	{ "PUT /u HTTP/1.1\r\ntransfer-encoding: gzip, Chunked\r\nConnection: Keep-Alive\r\n\r\n",
	  "PUT", "/u", 1, -1, 1, 0, HTTP_CONN_KEEPALIVE, 0 },
	{ "HEAD /h#frag HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", "HEAD", "/h#frag", 1, -1, 0, 0,
	  HTTP_CONN_CLOSE, 0 },
	{ "PROPFIND /dav HTTP/1.1\r\n\r\n", "PROPFIND", "/dav", 1, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "get /lower HTTP/1.1\r\n\r\n", "get", "/lower", 1, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	/* The target as sent, whatever its form. */
	{ "GET http://example.com:8080/abs/p?q HTTP/1.1\r\n\r\n", "GET", "http://example.com:8080/abs/p?q",
	  1, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "GET http://example.com HTTP/1.1\r\n\r\n", "GET", "http://example.com", 1, -1, 0, 0,
	  HTTP_CONN_DEFAULT, 0 },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1, -1, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "\r\nDELETE /d HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "DELETE", "/d",
	  1, 0, 0, 0, HTTP_CONN_DEFAULT, 0 },
	{ "PATCH /p HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\t\r\nContent-Length:  7 \r\n\r\n", "PATCH",
	  "/p", 1, 7, 0, 0, HTTP_CONN_DEFAULT, 0 },
	/* Chunked wins over a Content-Length sent with it. */
	{ "POST /c HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "POST",
	  "/c", 1, -1, 1, 0, HTTP_CONN_DEFAULT, 0 },
	/* Pipelined: only the first head is taken. */
	{ "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", "GET", "/1", 1, -1, 0, 0,
	  HTTP_CONN_DEFAULT, 19 },
	{ "TRACE /t HTTP/1.1\r\nX-Obs: caf\xc3\xa9\r\n\r\n", "TRACE", "/t", 1, -1, 0, 0,
	  HTTP_CONN_DEFAULT, 0 },
	{ "CONNECT host:443 HTTP/1.1\r\n\r\n", "CONNECT", "host:443", 1, -1, 0, 0,
	  HTTP_CONN_DEFAULT, 0 },
};

static void test_request_every_prefix(void **state)
{
	size_t i, n, k;

	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		size_t head = c->head_len ? (size_t)c->head_len : strlen(c->msg);
		struct http_request r;

		n = strlen(c->msg);
		for (k = 0; k < head; k++)
			assert_int_equal(http_parse_request(guarded(c->msg, k), k, &r), -2);
		for (k = head; k <= n; k++) {
			memset(&r, 0xa5, sizeof(r));
			assert_int_equal(http_parse_request(guarded(c->msg, k), k, &r), (int)head);
			assert_slice(r.method, r.method_len, c->method);
			assert_slice(r.target, r.target_len, c->target);
			assert_int_equal(r.minor_version, c->minor);
			assert_int_equal(r.content_length, c->cl);
			assert_int_equal(r.chunked, c->chunked);
			assert_int_equal(r.expect_continue, c->expect);
			assert_int_equal(r.conn, c->conn);
		}
	}
}

static const char *const bad_requests[] = {
	"GET /x HTTP/1.1\nHost: x\n\n",                          /* bare LF */
	"GET /x HTTP/1.1\r\nHost: x\n\r\n",                      /* bare LF in headers */
	"GET /x HTTP/1.1\r\nHo st: x\r\n\r\n",                   /* space in a name */
	"GET /x HTTP/1.1\r\nHost : x\r\n\r\n",                   /* space before colon */
	"GET /x HTTP/1.1\r\n: x\r\n\r\n",                        /* empty name */
	"GET /x HTTP/1.1\r\nX: a\rb\r\n\r\n",                    /* CR in a value */
	"GET /x HTTP/1.1\r\n b\r\n\r\n",                         /* the first line cannot fold */
	"GET /x HTTP/1.x\r\n\r\n",
	"GET /x http/1.1\r\n\r\n",
	" GET /x HTTP/1.1\r\n\r\n",
	"G(T /x HTTP/1.1\r\n\r\n",
	"GET /x HTTP/1.1\r\r\n\r\n",
	"\n\nGET /x HTTP/1.1\r\n\r\n",
	"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	"\0\0\0\0",
};

/*
 * What lenient servers take (gunicorn, uWSGI): the head parses, with the
 * labels it carries; where its body's framing is ambiguous framing_known is 0
 * and the tracker lets the responses delimit the requests.
 */
struct lenient_case {
	const char *msg;
	const char *method;
	const char *target;
	int64_t cl;
	int framing_known;
};

static const struct lenient_case lenient_cases[] = {
	{ "-blargh /x HTTP/1.1\r\n\r\n", "-blargh", "/x", -1, 1 },
	{ "get /test/ HTTP/1.1\r\n\r\n", "get", "/test/", -1, 1 },
	{ "GET /x HTTP/1.1\r\nX: a\r\n b\r\n\tc\r\n\r\n", "GET", "/x", -1, 1 }, /* obs-fold */
	{ "GET /x HTTP/1.1\r\nX: a\x01\x07\x7f\x1b\r\n\r\n", "GET", "/x", -1, 1 },
	{ "GET /x HTTP/1.1\r\nH\x01st\x7f: x\r\n\r\n", "GET", "/x", -1, 1 },
	{ "GET /x HTTP/1.1\r\nX-\xc3\xa9\xff: caf\xe9\r\n\r\n", "GET", "/x", -1, 1 },
	/* Signed lengths frame the body as the lenient servers that take them do. */
	{ "POST /x HTTP/1.1\r\nContent-Length: +1\r\n\r\n", "POST", "/x", 1, 1 },
	{ "POST /x HTTP/1.1\r\nContent-Length: -0\r\n\r\n", "POST", "/x", 0, 1 },
	{ "POST /x HTTP/1.1\r\nContent-Length: +\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 0_1\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "POST", "/x", -1, 0 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", "POST", "/x", 5, 1 },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1,1\r\nContent-Length: 1\r\n\r\n", "POST", "/x", 1, 1 },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "POST", "/x", -1, 0 },
	{ "GET /x HTTP/2.0\r\n\r\n", "GET", "/x", -1, 0 },
	{ "PRI * HTTP/2.0\r\n\r\n", "PRI", "*", -1, 0 },
	{ "GET /x\r\n", "GET", "/x", -1, 0 },                      /* HTTP/0.9 */
	{ "GET /x\n", "GET", "/x", -1, 0 },
	{ "GET  /x  HTTP/1.1 \r\n\r\n", "GET", "/x", -1, 1 },
	{ "CONNECT [::1]:443 HTTP/1.1\r\n\r\n", "CONNECT", "[::1]:443", -1, 1 },
	{ "GET /a;jsessionid=X/b?q HTTP/1.1\r\n\r\n", "GET", "/a;jsessionid=X/b?q", -1, 1 },
};

static void test_request_lenient(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(lenient_cases) / sizeof(lenient_cases[0]); i++) {
		const struct lenient_case *c = &lenient_cases[i];
		size_t n = strlen(c->msg);
		struct http_request r;
		int rc;

		for (k = 0; k < n; k++) {
			rc = http_parse_request(guarded(c->msg, k), k, &r);
			if (rc != -2)
				fail_msg("case %zu at %zu: %d", i, k, rc);
		}
		memset(&r, 0xa5, sizeof(r));
		rc = http_parse_request(guarded(c->msg, n), n, &r);
		if (rc != (int)n)
			fail_msg("case %zu: %d", i, rc);
		assert_slice(r.method, r.method_len, c->method);
		assert_slice(r.target, r.target_len, c->target);
		assert_int_equal(r.content_length, c->cl);
		assert_int_equal(r.framing_known, c->framing_known);
	}
}

static void test_request_malformed(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const char *m = bad_requests[i];
		size_t n = strlen(m) ? strlen(m) : 4;
		struct http_request r;
		int rc;

		/* Prefixes may still be valid (-2) or already wrong (-1): never more. */
		for (k = 0; k < n; k++) {
			rc = http_parse_request(guarded(m, k), k, &r);
			assert_true(rc == -1 || rc == -2);
		}
		rc = http_parse_request(guarded(m, n), n, &r);
		if (rc != -1)
			fail_msg("case %zu: %d", i, rc);
	}
}

static void test_request_huge_header_block(void **state)
{
	static char buf[6000];
	struct http_request r;
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "GET /big HTTP/1.1\r\n");
	while (n < sizeof(buf) - 100)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Filler: %0100d\r\n", 0);
	memcpy(buf + n, "\r\n", 2);
	n += 2;
	assert_int_equal(http_parse_request(guarded(buf, n), n, &r), (int)n);
	assert_int_equal(http_parse_request(guarded(buf, n - 1), n - 1, &r), -2);
}

struct resp_case {
	const char *msg;
	int status;
	int minor;
	int64_t cl;
	int chunked;
	enum http_conn conn;
};

static const struct resp_case resp_cases[] = {
	/* gunicorn answers "GET / HTTP/2.0" in the request's version. */
	{ "HTTP/2.0 404 NOT FOUND\r\nContent-Length: 9\r\n\r\n", 404, 0, 9, 0, HTTP_CONN_DEFAULT },
	/* ... and "GET / HTTP/11.01" in that one. */
	{ "HTTP/11.01 200 OK\r\nContent-Length: 2\r\n\r\n", 200, 0, 2, 0, HTTP_CONN_DEFAULT },
	/* uWSGI echoes versions it could not read, and a trailing space. */
	{ "HTTP/1.x 200 OK\r\nContent-Length: 3\r\n\r\n", 200, 0, 3, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1.1 200 OK\r\nContent-Length: 3\r\n\r\n", 200, 0, 3, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1  200 OK\r\nContent-Length: 3\r\n\r\n", 200, 1, 3, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
	  "Connection: close\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 4\r\n\r\n",
	  200, 1, 4, 0, HTTP_CONN_CLOSE },
	{ "HTTP/1.1 100 Continue\r\n\r\n", 100, 1, -1, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, 1, -1, 1, HTTP_CONN_DEFAULT },
	{ "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", 200, 0, -1, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1 204\r\n\r\n", 204, 1, -1, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1 304 \r\nETag: \"x\"\r\n\r\n", 304, 1, -1, 0, HTTP_CONN_DEFAULT },
	{ "HTTP/1.1 500 INTERNAL SERVER ERROR\r\nContent-Length: 265\r\nConnection: keep-alive\r\n\r\n",
	  500, 1, 265, 0, HTTP_CONN_KEEPALIVE },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 101,
	  1, -1, 0, HTTP_CONN_DEFAULT },
	/* Encoded but not chunked: runs to the close, the length is ignored. */
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 9\r\n\r\n", 200, 1, -1, 0,
	  HTTP_CONN_DEFAULT },
};

static void test_response_every_prefix(void **state)
{
	size_t i, n, k;

	for (i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
		const struct resp_case *c = &resp_cases[i];
		struct http_response r;
		char buf[512];

		n = strlen(c->msg);
		for (k = 0; k < n; k++)
			assert_int_equal(http_parse_response(guarded(c->msg, k), k, &r), -2);
		assert_int_equal(http_parse_response(guarded(c->msg, n), n, &r), (int)n);
		assert_int_equal(r.status, c->status);
		assert_int_equal(r.minor_version, c->minor);
		assert_int_equal(r.content_length, c->cl);
		assert_int_equal(r.chunked, c->chunked);
		assert_int_equal(r.conn, c->conn);
		/* Body bytes after the head are not the parser's business. */
		snprintf(buf, sizeof(buf), "%srest", c->msg);
		assert_int_equal(http_parse_response(guarded(buf, n + 4), n + 4, &r), (int)n);
		/* The status line alone. */
		assert_true(http_parse_status_line(guarded(c->msg, n), n, &r) > 0);
		assert_int_equal(r.status, c->status);
	}
}

static const char *const bad_responses[] = {
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
	"HTTP/1.1 099 X\r\n\r\n",
	"HTTP/1.1 abc OK\r\n\r\n",
	"HTTP/ 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 1\n\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 184467440737095516160\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	"HTTP/1.1 200 OK\r\nBad Name: 3\r\n\r\n",
	"HTTP/1.1 200 O\x01K\r\n\r\n",
	"ICY 200 OK\r\n\r\n",
};

static void test_response_malformed(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++) {
		const char *m = bad_responses[i];
		size_t n = strlen(m);
		struct http_response r;
		int rc;

		for (k = 0; k < n; k++) {
			rc = http_parse_response(guarded(m, k), k, &r);
			assert_true(rc == -1 || rc == -2);
		}
		rc = http_parse_response(guarded(m, n), n, &r);
		if (rc != -1)
			fail_msg("case %zu: %d", i, rc);
	}
}

static void test_request_line_only(void **state)
{
	const char *m = "GET /only/line?q=1 HTTP/1.1\r\nCookie: aaaaaaaa";
	struct http_request r;

	assert_int_equal(http_parse_request(guarded(m, strlen(m)), strlen(m), &r), -2);
	assert_int_equal(http_parse_request_line(guarded(m, strlen(m)), strlen(m), &r), 29);
	assert_slice(r.method, r.method_len, "GET");
	assert_slice(r.target, r.target_len, "/only/line?q=1");
	assert_int_equal(r.content_length, -1);
	assert_int_equal(http_parse_request_line(guarded(m, 20), 20, &r), -2);
	/* Another major version is still a request line, with framing unknown. */
	assert_int_equal(http_parse_request_line(guarded("GET /x HTTP/3.0\r\n", 17), 17, &r), 17);
	assert_int_equal(r.framing_known, 0);
	assert_int_equal(http_parse_request_line(guarded("GET /x HTTP/1.x\r\n", 17), 17, &r), -1);
}

static void test_looks_like_request(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		int want;
	} cases[] = {
		{"GET /", 5, 1},
		{"M-SEARCH *", 10, 1},
		{"GET", 3, 1},       /* a head cut early */
		{"G", 1, 1},
		{"_X-Y /", 6, 1},
		{"g", 1, 0},
		{"get /", 5, 0},     /* accepted connections need no guess; elsewhere it is body text */
		{"-blargh /", 9, 0},
		{"PROXY TCP4 ", 11, 1},
		{"\r\n\r\n\0\r\nQUIT\n\x21", 13, 1}, /* PROXY v2 */
		{"\r\n\r", 3, 1},
		{"\0", 1, 1},
		{"\0\xc1\0\0", 4, 1},
		{"GET/", 4, 0},
		{" GET", 4, 0},
		{"HTTP/1.1 200", 12, 0},
		{"", 0, 0},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ /", 28, 0},
		{"\x16\x03\x01", 3, 0},
		{"\r\nGET", 5, 0},
		{"\0\x02\0\0", 4, 0},
		{"\0\x10\0\x01", 4, 0},
		{"\x1e\x10\0\0", 4, 1},              /* uwsgi_modifier1 30 */
		{"\0\x10\0\0\x0e\0R", 7, 1},
		{"\0\x10\0\0\x0e\0REQ", 9, 1},
		{"\0\x10\0\0\x0e\0req", 9, 0},      /* keys are upper-case */
		{"\0\x10\0\0\x41\0REQ", 9, 0},      /* a key longer than 64 */
		{"\0\x10\0\0\x0f\0REQ", 9, 0},      /* a key past the packet */
		{"\0\x10\0\0\0\0REQ", 9, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const __u8 *d = (const __u8 *)guarded(cases[i].s, cases[i].n);

		if (wt_looks_like_request(d, (__u32)cases[i].n) != cases[i].want)
			fail_msg("case %zu (%s)", i, cases[i].s);
	}
}

/*
 * What can be read of what no parser takes, at every truncation point (the
 * labels of the same bytes: test_labels).
 */
static void test_recover(void **state)
{
	static const struct {
		const char *msg;
		const char *method; /* NULL: nothing recovered */
		const char *target;
		int cut; /* of the whole message */
	} cases[] = {
		{"GET /x\x01y HTTP/1.1\r\n\r\n", "GET", "/x\x01y", 0},
		{"get /a/b?q HTTP/1.1\r\n", "get", "/a/b?q", 0},
		{"GET /long/path/cut", "GET", "/long/path/cut", 1},
		{"GET /long/path?cut", "GET", "/long/path?cut", 1},
		{"GET /long;jsessionid=cut", "GET", "/long;jsessionid=cut", 1},
		{"\r\nPOST   /p HTTP/9.9\r\n", "POST", "/p", 0},
		{"\x16\x03\x01\x02\x00\x01", NULL, NULL, 0},
		{"NOSPACEATALL", NULL, NULL, 0},
		{"\x16\x03\x01 /x", NULL, NULL, 0}, /* no token: garbage, no target */
		{"GET ", "GET", "", 1},
	};
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].msg);
		struct http_request r;

		for (k = 0; k <= n; k++)
			(void)http_recover_request(guarded(cases[i].msg, k), k, &r);
		memset(&r, 0xa5, sizeof(r));
		assert_int_equal(http_recover_request(guarded(cases[i].msg, n), n, &r),
				 cases[i].method != NULL);
		assert_slice(r.method, r.method_len, cases[i].method);
		assert_slice(r.target, r.target_len, cases[i].target);
		assert_int_equal(r.target_cut, cases[i].cut);
	}
}

static void test_proxy_header(void **state)
{
	static const char v1[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n\r\n";
	static const char v2[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
				 "\x7f\x00\x00\x01\x7f\x00\x00\x01\x12\x34\x01\xbb"
				 "GET / HTTP/1.1\r\n\r\n";
	size_t v1_len = 47, v2_len = 28, k;

	for (k = 0; k < v1_len; k++)
		assert_int_equal(http_proxy_header_len(guarded(v1, k), k), -2);
	assert_int_equal(http_proxy_header_len(guarded(v1, v1_len), v1_len), (int)v1_len);
	assert_int_equal(http_proxy_header_len(guarded(v1, sizeof(v1) - 1), sizeof(v1) - 1), (int)v1_len);
	for (k = 0; k < 16; k++)
		assert_int_equal(http_proxy_header_len(guarded(v2, k), k), -2);
	assert_int_equal(http_proxy_header_len(guarded(v2, sizeof(v2) - 1), sizeof(v2) - 1), (int)v2_len);
	assert_int_equal(http_proxy_header_len(guarded("GET / HTTP/1.1", 14), 14), 0);
	assert_int_equal(http_proxy_header_len(guarded("PROXY x\n", 8), 8), -1);
	assert_int_equal(http_proxy_header_len(guarded("\r\nGET", 5), 5), 0);
}

/* Decode a whole body fed in pieces of `step` bytes; returns consumed total. */
static ssize_t feed_steps(const char *body, size_t n, size_t step)
{
	struct http_chunked c;
	size_t off = 0;

	http_chunked_init(&c);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		ssize_t r = http_chunked_feed(&c, guarded(body + off, k), k);

		if (r == -1)
			return -1;
		if (r >= 0) {
			assert_true(http_chunked_done(&c));
			return (ssize_t)(off + (size_t)r);
		}
		off += k;
	}
	assert_false(http_chunked_done(&c));
	return -2;
}

static void test_chunked_every_split(void **state)
{
	static const char *const bodies[] = {
		"8\r\nchunk-0\n\r\n8\r\nchunk-1\n\r\n0\r\n\r\n",
		"1a;name=val\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
		"A \r\n0123456789\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
		"0\r\n\r\n",
		"000000000000005\r\nhello\r\n0;x\r\n\r\n",
	};
	size_t i, step, k;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t n = strlen(bodies[i]);
		char buf[256];

		for (step = 1; step <= n; step++)
			assert_int_equal(feed_steps(bodies[i], n, step), (ssize_t)n);
		for (k = 0; k < n; k++)
			assert_int_equal(feed_steps(bodies[i], k, n), -2);
		/* The next response after the body is left alone. */
		snprintf(buf, sizeof(buf), "%sHTTP/1.1 200 OK\r\n", bodies[i]);
		assert_int_equal(feed_steps(buf, strlen(buf), strlen(buf)), (ssize_t)n);
	}
}

static void test_chunked_malformed(void **state)
{
	static const char *const bad[] = {
		"x\r\n",
		"\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n",
		"5\r\nhello\rX",
		"1234567890abcdef0\r\n",   /* 17 digits */
		"fffffffffffffff\r\n",     /* > HTTP_MAX_LENGTH */
		"0\r\nBad Trailer\x01\r\n\r\n",
		"0\r\n\r\r",
		"5;\x01\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		if (feed_steps(bad[i], n, n) != -1)
			fail_msg("case %zu", i);
		if (feed_steps(bad[i], n, 1) != -1)
			fail_msg("case %zu by bytes", i);
	}
}

static void test_chunked_skip(void **state)
{
	struct http_chunked c;
	const char *hdr = "400\r\n"; /* 1024-byte chunk */

	/* Chunk data and its CRLF can go by uncaptured. */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, hdr, 5), -2);
	assert_int_equal(http_chunked_feed(&c, "abc", 3), -2);
	assert_int_equal(http_chunked_skip(&c, 1021 + 2), 0);
	assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5), 5);

	/* Only the CR captured, the LF skipped. */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, "2\r\nab\r", 6), -2);
	assert_int_equal(http_chunked_skip(&c, 1), 0);
	assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5), 5);

	/* The gap reaches the next size line: lost. */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, hdr, 5), -2);
	assert_int_equal(http_chunked_skip(&c, 1024 + 3), -1);

	/* A gap inside a size line or the trailer: lost. */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, "4", 1), -2);
	assert_int_equal(http_chunked_skip(&c, 1), -1);
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, "0\r\n", 3), -2);
	assert_int_equal(http_chunked_skip(&c, 2), -1);

	/* Skipping nothing is always fine. */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_skip(&c, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_every_prefix),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_request_huge_header_block),
		cmocka_unit_test(test_response_every_prefix),
		cmocka_unit_test(test_response_malformed),
		cmocka_unit_test(test_request_line_only),
		cmocka_unit_test(test_request_lenient),
		cmocka_unit_test(test_looks_like_request),
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_proxy_header),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_chunked_malformed),
		cmocka_unit_test(test_chunked_skip),
	};

	return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
