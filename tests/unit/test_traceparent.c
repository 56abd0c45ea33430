// SPDX-License-Identifier: MIT
/*
 * traceparent: the W3C value's rules (each input at the end of a page
 * followed by a PROT_NONE page, so any over-read faults); the header as the
 * HTTP and uwsgi parsers hand it over, whole lines only; what a head tells
 * of its trace (reqhead), a cut one included (reqframe).
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
#include "reqframe.h"
#include "reqhead.h"
#include "traceparent.h"
#include "uwsgi_parse.h"
#include "uwsgi_pkt.h"

static char *guard_page;

/* Copy s so that its last byte is the last readable byte. */
static const char *guarded(const char *s, size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	if (!guard_page) {
		guard_page = mmap(NULL, ps * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(guard_page != MAP_FAILED);
		assert_int_equal(mprotect(guard_page + ps * 2, ps, PROT_NONE), 0);
	}
	assert_true(n <= ps * 2);
	return memcpy(guard_page + ps * 2 - n, s, n);
}

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"
#define GOOD "00-" TID "-" SID "-01"

static int parse(const char *s, struct wt_trace *t)
{
	return traceparent_parse(guarded(s, strlen(s)), strlen(s), t);
}

static void assert_ids(const struct wt_trace *t, const char *tid, const char *sid)
{
	char a[TRACE_ID_HEX + 1], b[SPAN_ID_HEX + 1];

	traceparent_hex(t->trace_id, sizeof(t->trace_id), a);
	traceparent_hex(t->span_id, sizeof(t->span_id), b);
	assert_string_equal(a, tid);
	assert_string_equal(b, sid);
}

static void test_value(void **state)
{
	static const char *const bad[] = {
		"",
		"00",
		"00-" TID "-" SID,                    /* no flags */
		"00-" TID "-" SID "-1",               /* one flag digit */
		"00-" TID "-" SID "-01-",             /* version 00 has four fields */
		"00-" TID "-" SID "-01x",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", /* upper case */
		"00-" TID "-00F067AA0BA902B7-01",
		"0G-" TID "-" SID "-01",
		"00-" TID "-" SID "-0g",
		"ff-" TID "-" SID "-01",              /* version ff is invalid */
		"00-00000000000000000000000000000000-" SID "-01",
		"00-" TID "-0000000000000000-01",
		"00_" TID "-" SID "-01",
		"00-" TID "_" SID "-01",
		"00-" TID "-" SID "_01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", /* 31 digits */
		"00-" TID "6-" SID "-01",                          /* 33 digits */
		"00-" TID "-00f067aa0ba902b-01",
		"cc-" TID "-" SID "-01x",             /* a later version: more only after '-' */
		" 00-" TID "-" SID "-01",             /* the parser trims; the value has no blanks */
	};
	struct wt_trace t;
	size_t i;

	assert_int_equal(parse(GOOD, &t), 0);
	assert_ids(&t, TID, SID);
	/* Flags are not judged; a later version is read by the layout of 00, more fields may follow. */
	assert_int_equal(parse("00-" TID "-" SID "-ff", &t), 0);
	assert_int_equal(parse("cc-" TID "-" SID "-01", &t), 0);
	assert_int_equal(parse("cc-" TID "-" SID "-01-what-the-future-holds", &t), 0);
	assert_ids(&t, TID, SID);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&t, 0xab, sizeof(t));
		if (parse(bad[i], &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		/* A value refused leaves nothing behind. */
		assert_int_equal(t.trace_id[0], 0xab);
	}
	/* Every prefix of a good value is refused, and read within its bytes. */
	for (i = 0; i < strlen(GOOD); i++)
		assert_int_equal(traceparent_parse(guarded(GOOD, i), i, &t), -1);
}

static void test_http_header(void **state)
{
	static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\nTraceParent:  " GOOD " \r\nAccept: */*\r\n\r\n";
	static const char two[] = "GET /a HTTP/1.1\r\ntraceparent: " GOOD "\r\ntraceparent: " GOOD "\r\n\r\n";
	struct http_request hr;
	const char *v = strstr(req, "00-");
	size_t n = strlen(req), i;
	const char *g;

	g = guarded(req, n);
	assert_int_equal(http_parse_request(g, n, &hr), (int)n);
	assert_int_equal(hr.traceparent_n, 1);
	assert_int_equal(hr.traceparent_len, strlen(GOOD));
	assert_memory_equal(hr.traceparent, GOOD, strlen(GOOD));
	assert_ptr_equal(hr.traceparent, g + (v - req));
	/* Cut anywhere: the value is there only once its line is whole. */
	for (i = 0; i < n; i++) {
		g = guarded(req, i);
		assert_int_equal(http_parse_request(g, i, &hr), -2);
		if (i < (size_t)(strstr(req, "\r\nAccept") - req) + 2)
			assert_null(hr.traceparent);
		else
			assert_memory_equal(hr.traceparent, GOOD, strlen(GOOD));
	}
	g = guarded(two, strlen(two));
	assert_int_equal(http_parse_request(g, strlen(two), &hr), (int)strlen(two));
	assert_int_equal(hr.traceparent_n, 2);
	/* None at all, and HTTP/0.9 (no headers). */
	g = guarded("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 28);
	assert_int_equal(http_parse_request(g, 28, &hr), 28);
	assert_null(hr.traceparent);
	assert_int_equal(hr.traceparent_n, 0);
	g = guarded("GET /a\r\n", 8);
	assert_int_equal(http_parse_request(g, 8, &hr), 8);
	assert_null(hr.traceparent);
}

static void test_uwsgi_var(void **state)
{
	char buf[512];
	size_t n = uwsgi_pkt(buf, (const char *const[]){"REQUEST_METHOD", "GET", "HTTP_TRACEPARENT", GOOD, "REQUEST_URI",
							  "/u", NULL});
	struct uwsgi_request ur;
	struct reqhead h;
	size_t i;

	assert_int_equal(uwsgi_parse_request(guarded(buf, n), n, &ur), (int)n);
	assert_int_equal(ur.traceparent_n, 1);
	assert_memory_equal(ur.traceparent, GOOD, strlen(GOOD));
	assert_int_equal(reqhead_parse(guarded(buf, n), n, false, &h), (int)n);
	assert_int_equal(h.trace_state, WT_TRACE_OK);
	assert_ids(&h.trace, TID, SID);
	/* Cut: known once the var is whole. */
	for (i = 0; i < n; i++) {
		reqhead_recover(guarded(buf, i), i, false, &h);
		assert_int_equal(h.trace_state, i >= 4 + 2 + 14 + 2 + 3 + 2 + 16 + 2 + strlen(GOOD) ? WT_TRACE_OK
												       : WT_TRACE_NONE);
	}
	n = uwsgi_pkt(buf, (const char *const[]){"HTTP_TRACEPARENT", "00-xyz", "REQUEST_URI", "/u", NULL});
	assert_int_equal(reqhead_parse(guarded(buf, n), n, false, &h), (int)n);
	assert_int_equal(h.trace_state, WT_TRACE_MALFORMED);
}

static void test_head_states(void **state)
{
	static const struct {
		const char *head;
		int want;
	} cases[] = {
		{"GET / HTTP/1.1\r\n\r\n", WT_TRACE_NONE},
		{"GET / HTTP/1.1\r\ntraceparent: " GOOD "\r\n\r\n", WT_TRACE_OK},
		{"GET / HTTP/1.1\r\ntraceparent: 00-nope\r\n\r\n", WT_TRACE_MALFORMED},
		{"GET / HTTP/1.1\r\ntraceparent: " GOOD "\r\nTRACEPARENT: " GOOD "\r\n\r\n", WT_TRACE_MALFORMED},
		{"GET / HTTP/1.1\r\ntraceparent:\r\n\r\n", WT_TRACE_MALFORMED},
		/* Behind a PROXY header the server answers that header: placeholders, no trace. */
		{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\ntraceparent: " GOOD "\r\n\r\n", WT_TRACE_NONE},
	};
	struct reqhead h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].head);

		assert_int_equal(reqhead_parse(guarded(cases[i].head, n), n, false, &h), (int)n);
		if (h.trace_state != cases[i].want)
			fail_msg("case %zu: state %d, not %d", i, h.trace_state, cases[i].want);
	}
	/* A head cut short (recovered): its whole lines tell the trace. */
	{
		static const char cut[] = "GET /x HTTP/1.1\r\ntraceparent: " GOOD "\r\nCookie: aaaa";

		reqhead_recover(guarded(cut, strlen(cut)), strlen(cut), false, &h);
		assert_int_equal(h.trace_state, WT_TRACE_OK);
		assert_ids(&h.trace, TID, SID);
		reqhead_recover(guarded(cut, 40), 40, false, &h);
		assert_int_equal(h.trace_state, WT_TRACE_NONE);
	}
}

/* The heads a read reports, the first cap of its len bytes captured. */
static int frame(const char *s, uint64_t cap, uint64_t len, struct reqhead *last)
{
	struct wt_conn_event e = {.ts_ns = 1};
	struct reqframe rf = {};
	uint64_t pos = 0;
	int heads = 0;

	reqframe_read(&rf, (const uint8_t *)s, cap, 0, 0);
	while (pos < len) {
		struct reqframe_out o;
		enum reqframe_ev ev = reqframe_step(&rf, &e, (const uint8_t *)s, &pos, cap, len, &o);

		if (ev == RQ_EV_HEAD || ev == RQ_EV_HEAD_LOST || ev == RQ_EV_HEAD_BAD) {
			*last = o.head;
			heads++;
			reqframe_queued(&rf, 1, &pos, len);
		}
	}
	reqframe_free(&rf);
	return heads;
}

static void test_head_past_capture(void **state)
{
	char big[4096];
	struct reqhead h;
	int n;

	/* Its traceparent within the bytes captured: seen. */
	n = snprintf(big, sizeof(big), "GET /c HTTP/1.1\r\ntraceparent: %s\r\nCookie: %0*d\r\n\r\n", GOOD, 2000, 0);
	assert_int_equal(frame(big, WT_CAP, (uint64_t)n, &h), 1);
	assert_int_equal(h.trace_state, WT_TRACE_OK);
	/* Past them: not seen, and said so. */
	n = snprintf(big, sizeof(big), "GET /c HTTP/1.1\r\nCookie: %0*d\r\ntraceparent: %s\r\n\r\n", 2000, 0, GOOD);
	assert_int_equal(frame(big, WT_CAP, (uint64_t)n, &h), 1);
	assert_int_equal(h.trace_state, WT_TRACE_UNSEEN);
	/* All captured: seen wherever it is. */
	assert_int_equal(frame(big, (uint64_t)n, (uint64_t)n, &h), 1);
	assert_int_equal(h.trace_state, WT_TRACE_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value),       cmocka_unit_test(test_http_header),
		cmocka_unit_test(test_uwsgi_var),   cmocka_unit_test(test_head_states),
		cmocka_unit_test(test_head_past_capture),
	};

	return cmocka_run_group_tests_name("traceparent", tests, NULL, NULL);
}
