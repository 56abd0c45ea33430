// SPDX-License-Identifier: MIT
/*
 * labels: the method and route of every target form, the placeholders, the
 * labels of heads as the parsers read them, and the exposition of hostile
 * requests (through the tracker and the histogram) checked by promtool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "promtool.h"

#include "agg.h"
#include "conntrack.h"
#include "expose.h"
#include "labels.h"
#include "reqhead.h"
#include "strbuf.h"

/* As the daemon makes a route: the target cut at its query (when the head is read), labelled. */
static const char *route(const char *t, uint32_t flags, int fold)
{
	static char out[ROUTE_MAX + 1];

	label_route(t, t ? route_path_len(t, strlen(t)) : 0, flags, fold, out, sizeof(out));
	return out;
}

static void test_method(void **state)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
					     "OPTIONS", "TRACE", "PATCH" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		/* Static storage, one pointer per method: callers may compare it. */
		assert_ptr_equal(label_method(known[i], strlen(known[i])), label_method(known[i], strlen(known[i])));
		assert_string_equal(label_method(known[i], strlen(known[i])), known[i]);
	}
	assert_string_equal(label_method("GETX", 4), "_OTHER");
	assert_string_equal(label_method("GE", 2), "_OTHER");
	assert_string_equal(label_method("", 0), "_OTHER");
	assert_string_equal(label_method(NULL, 0), "_OTHER");
	assert_string_equal(label_method("get", 3), "_OTHER");
	assert_string_equal(label_method("post", 4), "_OTHER");
	assert_string_equal(label_method("MKCOL", 5), "_OTHER");
	assert_string_equal(label_method("-blargh", 7), "_OTHER");
}

static void test_route_forms(void **state)
{
	/* origin-form */
	assert_string_equal(route("/test/", 0, 1), "/test/");
	assert_string_equal(route("/a;jsessionid=X/b", 0, 1), "/a/b");
	assert_string_equal(route("/users/42?x", 0, 1), "/users/{id}");
	assert_string_equal(route("/users/42?x", 0, 0), "/users/42");
	/* absolute-form */
	assert_string_equal(route("http://host:80/p?q", 0, 1), "/p");
	assert_string_equal(route("HTTPS://example.com", 0, 1), "/");
	assert_string_equal(route("http://example.com:8000/a/b;s=1", 0, 1), "/a/b");
	assert_string_equal(route("ws://h/sock", 0, 1), "/sock");
	assert_string_equal(route("http://", 0, 1), "/");
	/* other protocols' absolute targets (RTSP, SIP) name no route */
	assert_string_equal(route("rtsp://example.com/media", 0, 1), "_unknown");
	assert_string_equal(route("sip:user@example.com", 0, 1), "_unknown");
	/* authority-form */
	assert_string_equal(route("example.com:443", 0, 1), "_authority");
	assert_string_equal(route("[::1]:443", 0, 1), "_authority");
	assert_string_equal(route("[::1]", 0, 1), "_unknown");
	assert_string_equal(route("a@b:1", 0, 1), "_unknown");
	assert_string_equal(route("host:", 0, 1), "_authority");
	/* asterisk-form */
	assert_string_equal(route("*", 0, 1), "*");
	assert_string_equal(route("**", 0, 1), "_unknown");
	/* nothing recoverable */
	assert_string_equal(route("test", 0, 1), "_unknown");
	assert_string_equal(route("", 0, 1), "_unknown");
	assert_string_equal(route(NULL, 0, 1), "_unknown");
	assert_string_equal(route("?q", 0, 1), "_unknown");
	assert_string_equal(route("\x16\x03\x01", 0, 1), "_unknown");
	/* the capture ended inside the path */
	assert_string_equal(route("/long/pa", WT_RQ_TARGET_TRUNCATED, 1), "_truncated");
	assert_string_equal(route("http://host/pa", WT_RQ_TARGET_TRUNCATED, 1), "_truncated");
	assert_string_equal(route("exam", WT_RQ_TARGET_TRUNCATED, 1), "_truncated");
	/* a response whose request was missed */
	assert_string_equal(route("/x", WT_RQ_NO_REQUEST, 1), "_unknown");
	/* bad bytes */
	assert_string_equal(route("/caf\xe9\x01", 0, 1), "/caf\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_build(void **state)
{
	struct wt_request rq = {.method = "GET", .path = "/a;s=1/42", .path_len = 9};
	struct wt_labels l;

	labels_build(&rq, 1, &l);
	assert_string_equal(l.method, "GET");
	assert_string_equal(l.route, "/a/{id}");
	rq.method = NULL;
	labels_build(&rq, 0, &l);
	assert_string_equal(l.method, "_OTHER");
	assert_string_equal(l.route, "/a/42");
	rq.method = "GET";
	rq.flags = WT_RQ_NO_REQUEST;
	labels_build(&rq, 0, &l);
	assert_string_equal(l.method, "_OTHER");
	assert_string_equal(l.route, "_unknown");
}

/* A uwsgi packet of NULL-terminated key, value pairs; returns its length. */
static size_t uwsgi_packet(char *out, const char *const *kv)
{
	size_t n = 4, i;

	for (i = 0; kv[i]; i += 2) {
		size_t kl = strlen(kv[i]), vl = strlen(kv[i + 1]);

		out[n] = (char)kl;
		out[n + 1] = 0;
		memcpy(out + n + 2, kv[i], kl);
		n += 2 + kl;
		out[n] = (char)vl;
		out[n + 1] = 0;
		memcpy(out + n + 2, kv[i + 1], vl);
		n += 2 + vl;
	}
	out[0] = 0;
	out[1] = (char)(n - 4);
	out[2] = 0;
	out[3] = 0;
	return n;
}

/*
 * The labels of a head as the tracker gets them: reqhead reads it (parse: a
 * whole head, else what can be recovered), labels_build labels it.
 */
static void head_labels(const char *buf, size_t n, int parse, const char *method, const char *route)
{
	struct reqhead h;
	struct wt_request rq;
	struct wt_labels l;

	if (parse)
		assert_int_equal(reqhead_parse(buf, n, false, &h), (int)n);
	else
		reqhead_recover(buf, n, false, &h);
	memset(&rq, 0, sizeof(rq));
	rq.method = h.method;
	rq.path = h.path;
	rq.path_len = h.path_len;
	rq.flags = h.flags;
	labels_build(&rq, 1, &l);
	if (strcmp(l.method, method) || strcmp(l.route, route))
		fail_msg("%.*s: %s %s, want %s %s", (int)n, buf, l.method, l.route, method, route);
}

#define HEAD(s, m, r) head_labels((s), sizeof(s) - 1, 1, (m), (r))
#define RECOVER(s, m, r) head_labels((s), sizeof(s) - 1, 0, (m), (r))

/* What the parsers read as sent (test_http_parse, test_uwsgi_parse), labelled. */
static void test_head(void **state)
{
	static const char *const nginx_get[] = {
		"QUERY_STRING", "a=1", "REQUEST_METHOD", "GET", "REQUEST_URI", "/test/?a=1",
		"PATH_INFO", "/test/", NULL,
	};
	static const char *const pathinfo_only[] = {
		"PATH_INFO", "/p", "REQUEST_METHOD", "PROPFIND", NULL,
	};
	static const char *const uri_after_pathinfo[] = {
		"PATH_INFO", "/script/p", "REQUEST_URI", "/p#f", "REQUEST_METHOD", "DELETE", NULL,
	};
	static const char *const no_method[] = { "REQUEST_URI", "/x", NULL };
	static const char *const empty_method[] = { "REQUEST_METHOD", "", "REQUEST_URI", "/x", NULL };
	static const char *const cut[] = {
		"REQUEST_METHOD", "GET", "REQUEST_URI", "/long/path?query", NULL,
	};
	char pkt[256];
	size_t n, k;

	/* Heads that parse: the method set, the query and fragment cut, the forms. */
	HEAD("GET /a/b?x=1&y=2 HTTP/1.0\r\n\r\n", "GET", "/a/b");
	HEAD("HEAD /h#frag HTTP/1.1\r\n\r\n", "HEAD", "/h");
	HEAD("PROPFIND /dav HTTP/1.1\r\n\r\n", "_OTHER", "/dav");
	HEAD("get /lower HTTP/1.1\r\n\r\n", "_OTHER", "/lower");
	HEAD("-blargh /x HTTP/1.1\r\n\r\n", "_OTHER", "/x");
	HEAD("GET http://example.com:8080/abs/p?q HTTP/1.1\r\n\r\n", "GET", "/abs/p");
	HEAD("PRI * HTTP/2.0\r\n\r\n", "_OTHER", "*");
	HEAD("GET /a;jsessionid=X/b?q HTTP/1.1\r\n\r\n", "GET", "/a/b");
	HEAD("GET ?q HTTP/1.1\r\n\r\n", "GET", "_unknown");
	/* What no parser takes: a path cut by the end of the bytes is _truncated. */
	RECOVER("GET /x\x01y HTTP/1.1\r\n\r\n", "GET", "/x\xef\xbf\xbdy");
	RECOVER("get /a/b?q HTTP/1.1\r\n", "_OTHER", "/a/b");
	RECOVER("GET /long/path/cut", "GET", "_truncated");
	RECOVER("GET /long/path?cut", "GET", "/long/path");
	RECOVER("GET /long;jsessionid=cut", "GET", "/long");
	RECOVER("\r\nPOST   /p HTTP/9.9\r\n", "POST", "/p");
	RECOVER("\x16\x03\x01\x02\x00\x01", "_OTHER", "_unknown");
	RECOVER("NOSPACEATALL", "_OTHER", "_unknown");
	RECOVER("\x16\x03\x01 /x", "_OTHER", "_unknown");
	RECOVER("GET ", "GET", "_truncated");
	RECOVER("GET\r\n", "GET", "_unknown");
	/* uwsgi packets: REQUEST_METHOD absent or empty is _OTHER. */
	n = uwsgi_packet(pkt, nginx_get);
	head_labels(pkt, n, 1, "GET", "/test/");
	n = uwsgi_packet(pkt, pathinfo_only);
	head_labels(pkt, n, 1, "_OTHER", "/p");
	n = uwsgi_packet(pkt, uri_after_pathinfo);
	head_labels(pkt, n, 1, "DELETE", "/p");
	n = uwsgi_packet(pkt, no_method);
	head_labels(pkt, n, 1, "_OTHER", "/x");
	n = uwsgi_packet(pkt, empty_method);
	head_labels(pkt, n, 1, "_OTHER", "/x");
	/* Cut inside REQUEST_URI (its value starts at byte 40): whole once its '?' is in. */
	n = uwsgi_packet(pkt, cut);
	for (k = 40; k < n; k++)
		head_labels(pkt, k, 0, "GET", k - 40 <= 10 ? "_truncated" : "/long/path");
}

static void observe(const struct wt_request *rq, void *ctx)
{
	assert_int_equal(agg_observe_request(ctx, "app", rq, 1), 0);
}

/* Hostile requests answered by a server, all the way to promtool. */
static void test_promtool(void **state)
{
	static const char *const reqs[] = {
		"GET /caf\xe9/\xff\xfe HTTP/1.1\r\n\r\n",
		"GET /a\x01\x1b[31m\x7f HTTP/1.1\r\n\r\n",
		"get /\"quoted\"\\back\nslash HTTP/1.1\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET /\xed\xa0\x80/\xc0\xaf;jsessionid=\xff HTTP/1.1\r\n\r\n",
		"\xf0\x9f\x92\xa9 /\xf0\x9f\x92\xa9 HTTP/1.1\r\n\r\n",
	};
	char err[128];
	struct agg *a = agg_new(NULL, 0, 100, err, sizeof(err));
	struct conntrack *ct = conntrack_new(NULL, observe, a);
	struct expose_self st = {.version = "0", .revision = "r", .hook = "sockets"};
	struct promtext_source src[2];
	struct wt_conn_event *e = calloc(1, sizeof(*e));
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	assert_non_null(a);
	assert_non_null(ct);
	assert_non_null(e);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

		memset(e, 0, sizeof(*e));
		e->sk = 100 + i;
		e->ino = 1;
		e->tgid = 1;
		e->type = WT_EV_DATA;
		e->flags = WT_F_ACCEPTED;
		e->est_ns = 900; /* the handshake was seen: followed from its first byte */
		e->ts_ns = 1000;
		e->dir = WT_DIR_RECV;
		e->len = e->cap_len = (uint16_t)strlen(reqs[i]);
		memcpy(e->data, reqs[i], strlen(reqs[i]));
		conntrack_event(ct, e);
		e->dir = WT_DIR_SEND;
		e->ts_ns = 2000;
		e->len = e->cap_len = sizeof(resp) - 1;
		memcpy(e->data, resp, sizeof(resp) - 1);
		conntrack_event(ct, e);
	}
	assert_int_equal(conntrack_stats(ct)->requests, sizeof(reqs) / sizeof(reqs[0]));
	/* The tracker's and the aggregation's self metrics through promtool too. */
	src[0] = (struct promtext_source){ &conntrack_metrics, conntrack_stats(ct) };
	src[1] = (struct promtext_source){ &agg_metrics, agg_stats(a) };
	st.src = src;
	st.nsrc = 2;
	assert_int_equal(expose_render(&sb, a, &st), 0);
	assert_non_null(strstr(sb.buf, "http_route=\"_authority\""));
	assert_non_null(strstr(sb.buf, "http_route=\"_unknown\""));
	assert_non_null(strstr(sb.buf, "http_route=\"*\""));
	promtool_check(sb.buf, sb.len);
	sb_free(&sb);
	free(e);
	conntrack_free(ct);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_route_forms),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests_name("labels", tests, NULL, NULL);
}
