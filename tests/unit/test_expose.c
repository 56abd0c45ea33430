// SPDX-License-Identifier: MIT
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
#include "httpd.h"
#include "proctab.h"
#include "promtext.h"
#include "route.h"
#include "strbuf.h"

static const char expected_hist[] =
	"# HELP http_server_request_duration_seconds Duration of HTTP server requests, from the first request "
	"byte read to the last response byte written, as seen on the server's sockets.\n"
	"# TYPE http_server_request_duration_seconds histogram\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\",le=\"0.005\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\",le=\"0.1\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\",le=\"1\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\",le=\"+Inf\"} 3\n"
	"http_server_request_duration_seconds_sum{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\"} 2.051\n"
	"http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"200\","
	"http_route=\"/\",service_name=\"app\"} 3\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\",le=\"0.005\"} 0\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\",le=\"0.1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\",le=\"1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\",le=\"+Inf\"} 1\n"
	"http_server_request_duration_seconds_sum{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\"} 0.1\n"
	"http_server_request_duration_seconds_count{http_request_method=\"POST\",http_response_status_code=\"201\","
	"http_route=\"/q\\\"x\\\"\\\\y\",service_name=\"app\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\",le=\"0.005\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\",le=\"0.1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\",le=\"1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\",le=\"+Inf\"} 1\n"
	"http_server_request_duration_seconds_sum{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\"} 0.00025\n"
	"http_server_request_duration_seconds_count{http_request_method=\"_OTHER\",http_response_status_code=\"500\","
	"http_route=\"/\",service_name=\"we\\nb\xef\xbf\xbd\"} 1\n";

static const char expected_self[] =
	"# HELP wsgitrace_events_total Events read from the kernel ring buffer.\n"
	"# TYPE wsgitrace_events_total counter\n"
	"wsgitrace_events_total 1\n"
	"# HELP wsgitrace_scrapes_total Requests for /metrics served.\n"
	"# TYPE wsgitrace_scrapes_total counter\n"
	"wsgitrace_scrapes_total 16\n"
	"# HELP wsgitrace_events_lost_total Events the kernel side could not submit because the ring buffer was "
	"full; requests they belonged to are missing or counted as framing lost.\n"
	"# TYPE wsgitrace_events_lost_total counter\n"
	"wsgitrace_events_lost_total 2\n"
	"# HELP wsgitrace_kernel_read_failures_total Reads of socket data from the traced process' memory that "
	"failed in the kernel.\n"
	"# TYPE wsgitrace_kernel_read_failures_total counter\n"
	"wsgitrace_kernel_read_failures_total 3\n"
	"# HELP wsgitrace_relayed_connections_total Connections a traced relay (uWSGI's --http router) opened to a "
	"worker; their requests are counted once, where they entered.\n"
	"# TYPE wsgitrace_relayed_connections_total counter\n"
	"wsgitrace_relayed_connections_total 17\n"
	"# HELP wsgitrace_connections_reset_unread_total Connections the client reset before the server read them: "
	"the server could not answer, nothing is owed, they are not followed.\n"
	"# TYPE wsgitrace_connections_reset_unread_total counter\n"
	"wsgitrace_connections_reset_unread_total 26\n"
	"# HELP wsgitrace_http_parse_errors_total HTTP/1.x requests or responses that could not be parsed.\n"
	"# TYPE wsgitrace_http_parse_errors_total counter\n"
	"wsgitrace_http_parse_errors_total 4\n"
	"# HELP wsgitrace_uwsgi_parse_errors_total uwsgi packets that could not be parsed.\n"
	"# TYPE wsgitrace_uwsgi_parse_errors_total counter\n"
	"wsgitrace_uwsgi_parse_errors_total 5\n"
	"# HELP wsgitrace_framing_lost_total Requests not counted in the histogram because bytes that frame them "
	"were not captured.\n"
	"# TYPE wsgitrace_framing_lost_total counter\n"
	"wsgitrace_framing_lost_total 6\n"
	"# HELP wsgitrace_framing_recovered_total Requests counted although bytes that frame them were not "
	"captured (a head longer than the capture): labelled from the bytes captured, ended by the responses. "
	"Nothing lost.\n"
	"# TYPE wsgitrace_framing_recovered_total counter\n"
	"wsgitrace_framing_recovered_total 29\n"
	"# HELP wsgitrace_unanswered_requests_total Requests whose connection ended before a response was seen.\n"
	"# TYPE wsgitrace_unanswered_requests_total counter\n"
	"wsgitrace_unanswered_requests_total 7\n"
	"# HELP wsgitrace_orphan_responses_total Sends with no request pending that start no response (the rest of "
	"a response not followed).\n"
	"# TYPE wsgitrace_orphan_responses_total counter\n"
	"wsgitrace_orphan_responses_total 8\n"
	"# HELP wsgitrace_pending_overflow_total Pipelined requests dropped because too many were pending on one "
	"connection.\n"
	"# TYPE wsgitrace_pending_overflow_total counter\n"
	"wsgitrace_pending_overflow_total 9\n"
	"# HELP wsgitrace_connections_active Connections being tracked.\n"
	"# TYPE wsgitrace_connections_active gauge\n"
	"wsgitrace_connections_active 10\n"
	"# HELP wsgitrace_connections_dropped_total Connections not tracked because a connection table (the kernel's or the daemon's, --max-conns) was full.\n"
	"# TYPE wsgitrace_connections_dropped_total counter\n"
	"wsgitrace_connections_dropped_total 11\n"
	"# HELP wsgitrace_connections_expired_total Tracked connections forgotten after being idle too long.\n"
	"# TYPE wsgitrace_connections_expired_total counter\n"
	"wsgitrace_connections_expired_total 12\n"
	"# HELP wsgitrace_client_resets_total Requests pending when the client reset the connection before the "
	"server wrote any of their response: no response was owed.\n"
	"# TYPE wsgitrace_client_resets_total counter\n"
	"wsgitrace_client_resets_total 18\n"
	"# HELP wsgitrace_missed_requests_total Responses whose request was not seen; they are counted with method "
	"\"_OTHER\" and route \"_unknown\".\n"
	"# TYPE wsgitrace_missed_requests_total counter\n"
	"wsgitrace_missed_requests_total 19\n"
	"# HELP wsgitrace_not_http_connections_total Accepted connections on which the server spoke another protocol "
	"than HTTP (TLS, ...); no longer followed.\n"
	"# TYPE wsgitrace_not_http_connections_total counter\n"
	"wsgitrace_not_http_connections_total 20\n"
	"# HELP wsgitrace_http2_connections_total Of the connections on which the server spoke another protocol, those "
	"the client opened with the HTTP/2 preface (h2c with prior knowledge): their requests are not counted.\n"
	"# TYPE wsgitrace_http2_connections_total counter\n"
	"wsgitrace_http2_connections_total 27\n"
	"# HELP wsgitrace_upgraded_connections_total Connections that left HTTP/1.x after a 101 Switching Protocols "
	"(WebSocket, h2c upgrade): the 101 is counted once, nothing after it is parsed.\n"
	"# TYPE wsgitrace_upgraded_connections_total counter\n"
	"wsgitrace_upgraded_connections_total 28\n"
	"# HELP wsgitrace_processes_traced Server processes being traced.\n"
	"# TYPE wsgitrace_processes_traced gauge\n"
	"wsgitrace_processes_traced 13\n"
	"# HELP wsgitrace_series_active Series of http_server_request_duration_seconds, the overflow series "
	"included.\n"
	"# TYPE wsgitrace_series_active gauge\n"
	"wsgitrace_series_active 3\n"
	"# HELP wsgitrace_series_dropped_total Observations that did not get their own series because of the series "
	"limit; they are in the series with http_route=\"_overflow\".\n"
	"# TYPE wsgitrace_series_dropped_total counter\n"
	"wsgitrace_series_dropped_total 0\n"
	"# HELP wsgitrace_series_retired_total Series removed: not updated for --series-ttl, or making room for a "
	"route in use of a service at its limit.\n"
	"# TYPE wsgitrace_series_retired_total counter\n"
	"wsgitrace_series_retired_total 0\n"
	"# HELP wsgitrace_metrics_connections_evicted_total Connections to /metrics closed to admit a newer one "
	"(per-address or overall limit).\n"
	"# TYPE wsgitrace_metrics_connections_evicted_total counter\n"
	"wsgitrace_metrics_connections_evicted_total 22\n"
	"# HELP wsgitrace_metrics_connections_refused_total Connections to /metrics refused because every slot was "
	"answering a request.\n"
	"# TYPE wsgitrace_metrics_connections_refused_total counter\n"
	"wsgitrace_metrics_connections_refused_total 23\n"
	"# HELP wsgitrace_metrics_connections_timed_out_total Connections to /metrics closed for not sending a whole "
	"request in time.\n"
	"# TYPE wsgitrace_metrics_connections_timed_out_total counter\n"
	"wsgitrace_metrics_connections_timed_out_total 24\n"
	"# HELP wsgitrace_log_lines_suppressed_total Log lines caused by remote peers that were not written because "
	"of the log rate limit.\n"
	"# TYPE wsgitrace_log_lines_suppressed_total counter\n"
	"wsgitrace_log_lines_suppressed_total 25\n"
	"# HELP wsgitrace_build_info Version, git revision and capture hook of the running wsgitrace; always 1.\n"
	"# TYPE wsgitrace_build_info gauge\n"
	"wsgitrace_build_info{hook=\"sockets\",revision=\"abc\\\"1\",version=\"0.1.0\"} 1\n";

/*
 * A daemon's self metrics, numbered: the pure modules' own tables, and
 * stand-ins with the same rows for the two modules that need the kernel
 * (main.c's loop, capture.c's kernel-side counters).
 */
struct loop_stats {
	uint64_t events, malformed, scrapes;
};
struct kernel_stats {
	uint64_t lost, read_fail, regs_fail, relayed, conn_full, reset_unread;
};

static const struct promtext_metric loop_rows[] = {
	PROMTEXT_U64("wsgitrace_events_total", PROMTEXT_COUNTER, struct loop_stats, events,
		     "Events read from the kernel ring buffer."),
	PROMTEXT_ADD("wsgitrace_kernel_read_failures_total", struct loop_stats, malformed),
	PROMTEXT_U64("wsgitrace_scrapes_total", PROMTEXT_COUNTER, struct loop_stats, scrapes,
		     "Requests for /metrics served."),
};
static const struct promtext_table loop_metrics = PROMTEXT_TABLE(loop_rows);

static const struct promtext_metric kernel_rows[] = {
	PROMTEXT_U64("wsgitrace_events_lost_total", PROMTEXT_COUNTER, struct kernel_stats, lost,
		     "Events the kernel side could not submit because the ring buffer was full; requests they "
		     "belonged to are missing or counted as framing lost."),
	PROMTEXT_U64("wsgitrace_kernel_read_failures_total", PROMTEXT_COUNTER, struct kernel_stats, read_fail,
		     "Reads of socket data from the traced process' memory that failed in the kernel."),
	PROMTEXT_ADD("wsgitrace_kernel_read_failures_total", struct kernel_stats, regs_fail),
	PROMTEXT_U64("wsgitrace_relayed_connections_total", PROMTEXT_COUNTER, struct kernel_stats, relayed,
		     "Connections a traced relay (uWSGI's --http router) opened to a worker; their requests are "
		     "counted once, where they entered."),
	PROMTEXT_ADD("wsgitrace_connections_dropped_total", struct kernel_stats, conn_full),
	PROMTEXT_U64("wsgitrace_connections_reset_unread_total", PROMTEXT_COUNTER, struct kernel_stats,
		     reset_unread,
		     "Connections the client reset before the server read them: the server could not answer, "
		     "nothing is owed, they are not followed."),
};
static const struct promtext_table kernel_metrics = PROMTEXT_TABLE(kernel_rows);

struct self_fixture {
	struct loop_stats loop;
	struct kernel_stats kernel;
	struct conntrack_stats ct;
	struct proctab_stats procs;
	struct httpd_stats httpd;
	struct agg *agg; /* its own table's figures, when given */
	struct promtext_source src[6];
	struct expose_self self;
};

/* Fills f (in place: self points into it); the numbers are expected_self's. */
static void numbered(struct self_fixture *f, struct agg *agg)
{
	size_t n = 0;

	*f = (struct self_fixture){
		.loop = { .events = 1, .malformed = 1, .scrapes = 16 },
		/* kernel_read_failures 3 = 1 + 1 + 1 (loop); connections_dropped 11 = 10 (conntrack) + 1 */
		.kernel = { .lost = 2, .read_fail = 1, .regs_fail = 1, .relayed = 17, .conn_full = 1,
			    .reset_unread = 26 },
		.ct = { .parse_errors_http = 4, .parse_errors_uwsgi = 5, .framing_lost = 6, .framing_recovered = 29, .unanswered = 7,
			.orphan_responses = 8, .pending_overflow = 9, .conns_active = 10, .conns_dropped = 10,
			.conns_expired = 12, .client_reset = 18, .missed_requests = 19, .not_http = 20,
			.http2 = 27, .upgraded = 28,
			.conns_total = 99, .requests = 99, .events = 99, .relayed = 99 },
		.procs = { .processes = 13 },
		.httpd = { .accepted = 99, .evicted = 22, .refused = 23, .timed_out = 24, .log_suppressed = 25 },
		.agg = agg,
	};
	f->src[n++] = (struct promtext_source){ &loop_metrics, &f->loop };
	f->src[n++] = (struct promtext_source){ &kernel_metrics, &f->kernel };
	f->src[n++] = (struct promtext_source){ &conntrack_metrics, &f->ct };
	f->src[n++] = (struct promtext_source){ &proctab_metrics, &f->procs };
	if (agg)
		f->src[n++] = (struct promtext_source){ &agg_metrics, agg_stats(agg) };
	f->src[n++] = (struct promtext_source){ &httpd_metrics, &f->httpd };
	f->self = (struct expose_self){ .src = f->src, .nsrc = n, .version = "0.1.0", .revision = "abc\"1",
					.hook = "sockets" };
}

/* The self metrics as of now, as the daemon takes them when a scrape starts. */
static const struct expose_self *self_now(struct self_fixture *f)
{
	if (f->agg)
		agg_stats(f->agg);
	return &f->self;
}

static void test_exact_text(void **state)
{
	char err[128];
	struct agg *a = agg_new((double[]){0.005, 0.1, 1}, 3, 10, err, sizeof(err));
	struct self_fixture st;
	struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;

	assert_non_null(a);
	numbered(&st, a);
	agg_observe(a, "app", "GET", "/", 200, 1000000);
	agg_observe(a, "app", "GET", "/", 200, 50000000);
	agg_observe(a, "app", "GET", "/", 200, 2000000000);
	agg_observe(a, "app", "POST", "/q\"x\"\\y", 201, 100000000);
	agg_observe(a, "we\nb\xff", NULL, "/", 500, 250000);
	assert_int_equal(expose_render(&sb, a, self_now(&st)), 0);
	sb_puts(&want, expected_hist);
	sb_puts(&want, expected_self);
	assert_string_equal(sb.buf, want.buf);
	/* Same input, same bytes. */
	sb_reset(&want);
	assert_int_equal(expose_render(&want, a, self_now(&st)), 0);
	assert_string_equal(sb.buf, want.buf);
	sb_free(&sb);
	sb_free(&want);
	agg_free(a);
}

static void test_empty(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char err[128];
	struct agg *a = agg_new(NULL, 0, 10, err, sizeof(err));

	assert_int_equal(expose_render(&sb, a, NULL), 0);
	assert_string_equal(sb.buf, "# HELP http_server_request_duration_seconds Duration of HTTP server requests, "
				    "from the first request byte read to the last response byte written, as seen "
				    "on the server's sockets.\n"
				    "# TYPE http_server_request_duration_seconds histogram\n");
	sb_reset(&sb);
	assert_int_equal(expose_render(&sb, NULL, NULL), 0);
	assert_int_equal(sb.len, strlen(expected_hist) - strlen(strstr(expected_hist, "http_server_request_duration_seconds_bucket")));
	sb_free(&sb);
	agg_free(a);
}

/* A realistic exposition: several services, folded and escaped routes, an
 * overflow series, default buckets, all self metrics. */
static struct agg *realistic(size_t max_series)
{
	static const char *paths[] = {
		"/", "/health", "/users/42", "/users/43/orders", "/api/v1/items?page=2",
		"/say\"hi\"", "/back\\slash", "/caf\xc3\xa9", "/bad\xff\xfe", "/u/123e4567-e89b-12d3-a456-426614174000",
	};
	static const char *methods[] = {"GET", "POST", "_OTHER"};
	static const int codes[] = {200, 201, 404, 500};
	char err[128], route[ROUTE_MAX + 1];
	struct agg *a = agg_new(NULL, 0, max_series, err, sizeof(err));
	uint64_t d = 12345;
	size_t i;

	assert_non_null(a);
	for (i = 0; i < 2000; i++) {
		const char *p = paths[i % 10];

		route_normalize(p, route_path_len(p, strlen(p)), route, sizeof(route), 1);
		d = d * 6364136223846793005ull + 1442695040888963407ull;
		agg_observe(a, i % 7 ? "flask-app" : "svc \"quoted\"\nname", methods[i % 3], route, codes[i % 4],
			    (d >> 33) % 3000000000ull);
	}
	return a;
}

static void test_promtool(void **state)
{
	struct self_fixture st;
	struct strbuf sb = STRBUF_INIT;
	struct agg *a = realistic(40);

	numbered(&st, a);
	st.self.hook = "syscalls";
	assert_int_equal(expose_render(&sb, a, self_now(&st)), 0);
	assert_non_null(strstr(sb.buf, "http_route=\"_overflow\""));
	assert_non_null(strstr(sb.buf, "http_route=\"/users/{id}\""));
	promtool_check(sb.buf, sb.len);
	sb_free(&sb);
	agg_free(a);
}

/* Reads the whole stream in reads of at most step bytes. */
static void drain(struct expose_stream *x, size_t step, struct strbuf *out)
{
	char *buf = malloc(step);
	ssize_t n;

	assert_non_null(buf);
	sb_reset(out);
	while ((n = expose_stream_read(x, buf, step)) > 0) {
		assert_true((size_t)n <= step);
		sb_append(out, buf, (size_t)n);
	}
	assert_int_equal(n, 0);
	/* The end stays the end. */
	assert_int_equal(expose_stream_read(x, buf, step), 0);
	assert_true(sb_ok(out));
	free(buf);
}

static struct agg *many(size_t nseries)
{
	char err[128], route[64];
	struct agg *a = agg_new(NULL, 0, nseries, err, sizeof(err));
	size_t i;

	assert_non_null(a);
	for (i = 0; i < nseries; i++) {
		snprintf(route, sizeof(route), "/r/%zu\"q\"", i);
		agg_observe(a, i % 3 ? "flask-app" : "svc\n2", i % 2 ? "GET" : "POST", route, 200 + (int)(i % 5),
			    (uint64_t)i * 997 * 1000);
		agg_observe(a, i % 3 ? "flask-app" : "svc\n2", i % 2 ? "GET" : "POST", route, 200 + (int)(i % 5),
			    (uint64_t)i * 7 * 1000 + 1);
	}
	/* Over the limit: the overflow series is listed too. */
	agg_observe(a, "flask-app", "GET", "/extra", 200, 5000);
	return a;
}

static void test_stream_identical(void **state)
{
	static const size_t steps[] = {1, 7, 4096, 65536, 1 << 24};
	struct self_fixture st, stb;
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT;
	struct agg *a = many(300);
	struct expose_stream *x;
	size_t i;

	numbered(&st, a);
	assert_int_equal(expose_render(&want, a, self_now(&st)), 0);
	assert_non_null(strstr(want.buf, "http_route=\"_overflow\""));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		x = expose_stream_new(a, self_now(&st));
		assert_non_null(x);
		drain(x, steps[i], &got);
		expose_stream_free(x);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.buf, want.buf, want.len);
	}
	/* The exact-text fixture, and the NULL cases of expose_render(). */
	{
		char err[128];
		struct agg *b = agg_new((double[]){0.005, 0.1, 1}, 3, 10, err, sizeof(err));

		assert_non_null(b);
		agg_observe(b, "app", "GET", "/", 200, 1000000);
		agg_observe(b, "app", "GET", "/", 200, 50000000);
		agg_observe(b, "app", "GET", "/", 200, 2000000000);
		agg_observe(b, "app", "POST", "/q\"x\"\\y", 201, 100000000);
		agg_observe(b, "we\nb\xff", NULL, "/", 500, 250000);
		numbered(&stb, b);
		x = expose_stream_new(b, self_now(&stb));
		drain(x, 3, &got);
		expose_stream_free(x);
		sb_reset(&want);
		sb_puts(&want, expected_hist);
		sb_puts(&want, expected_self);
		assert_string_equal(got.buf, want.buf);
		agg_free(b);
	}
	for (i = 0; i < 3; i++) {
		struct agg *b = i == 0 ? NULL : a;
		const struct expose_self *s = i == 1 ? NULL : self_now(&st);

		sb_reset(&want);
		assert_int_equal(expose_render(&want, b, s), 0);
		x = expose_stream_new(b, s);
		assert_non_null(x);
		drain(x, 5, &got);
		expose_stream_free(x);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.buf, want.buf, want.len);
	}
	/* Freed unread or half read: nothing leaks (ASan). */
	expose_stream_free(expose_stream_new(a, self_now(&st)));
	x = expose_stream_new(a, self_now(&st));
	{
		char buf[100];

		assert_int_equal(expose_stream_read(x, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	}
	expose_stream_free(x);
	expose_stream_free(NULL);
	sb_free(&want);
	sb_free(&got);
	agg_free(a);
}

/*
 * Requests observed while a scrape is being read: every series still shows
 * one consistent state (+Inf bucket = _count, buckets cumulative, _sum of
 * that many 1 s requests), series created meanwhile are left for the next
 * scrape, and the self metrics are those of the scrape's start.
 */
static void test_stream_observe_midway(void **state)
{
	char err[128], route[64];
	struct self_fixture st;
	struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
	struct agg *a = agg_new(NULL, 0, 100000, err, sizeof(err));
	struct expose_stream *x;
	const char *p, *q;
	char buf[7];
	ssize_t n;
	size_t i, nseries = 400, seen = 0, grown = 0, reads = 0;
	uint64_t r = 88172645463325252ull;

	assert_non_null(a);
	for (i = 0; i < nseries; i++) {
		snprintf(route, sizeof(route), "/s/%04zu", i);
		agg_observe(a, "app", "GET", route, 404, 1000000000);
	}
	numbered(&st, a);
	assert_int_equal(expose_render(&want, a, self_now(&st)), 0);
	p = strstr(want.buf, "# HELP wsgitrace_events_total");
	assert_non_null(p);
	x = expose_stream_new(a, self_now(&st));
	assert_non_null(x);
	while ((n = expose_stream_read(x, buf, sizeof(buf))) > 0) {
		sb_append(&got, buf, (size_t)n);
		/* Three observations between reads: into existing series
		 * (all 1 s, so _sum = _count), now and then into a new one. */
		for (i = 0; i < 3; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			if (i < 2 || reads % 1000)
				snprintf(route, sizeof(route), "/s/%04zu", (size_t)(r % nseries));
			else
				snprintf(route, sizeof(route), "/new/%zu", reads);
			agg_observe(a, "app", "GET", route, 404, 1000000000);
		}
		reads++;
	}
	assert_int_equal(n, 0);
	expose_stream_free(x);
	assert_true(agg_series_active(a) > nseries);

	/* The self metrics are those of the start, series_active included. */
	q = strstr(got.buf, "# HELP wsgitrace_events_total");
	assert_non_null(q);
	assert_string_equal(q, p);
	assert_null(strstr(got.buf, "/new/"));

	for (i = 0; i < nseries; i++) {
		char key[128], line[256];
		const char *c = got.buf;
		unsigned long long prev = 0, v, inf = 0, cnt = 0;
		int nb = 0;

		snprintf(key, sizeof(key),
			 "{http_request_method=\"GET\",http_response_status_code=\"404\",http_route=\"/s/%04zu\","
			 "service_name=\"app\"",
			 i);
		while ((c = strstr(c, key))) {
			const char *eol = strchr(c, '\n'), *sp;

			assert_non_null(eol);
			assert_true((size_t)(eol - c) < sizeof(line));
			memcpy(line, c, (size_t)(eol - c));
			line[eol - c] = '\0';
			sp = strrchr(line, ' ');
			assert_non_null(sp);
			v = strtoull(sp + 1, NULL, 10);
			if (strncmp(c - strlen("_bucket"), "_bucket", 7) == 0) {
				assert_true(v >= prev);
				prev = v;
				if (strstr(line, "le=\"+Inf\""))
					inf = v;
				nb++;
			} else if (strncmp(c - strlen("_sum"), "_sum", 4) == 0) {
				assert_int_equal(v, prev);
			} else {
				assert_true(strncmp(c - strlen("_count"), "_count", 6) == 0);
				cnt = v;
			}
			c = eol;
		}
		assert_int_equal(nb, 18);
		assert_true(cnt >= 1);
		assert_int_equal(inf, cnt);
		seen++;
		if (cnt > 1)
			grown++;
	}
	assert_int_equal(seen, nseries);
	/* The observations did land in series read after them. */
	assert_true(grown > nseries / 4);
	sb_free(&got);
	sb_free(&want);
	agg_free(a);
}

/*
 * 10,000 series (36 MB) rendered whole and streamed in 64 KiB reads give the
 * same bytes. How fast is the benchmark's business (make bench: scrape time
 * at 10,000 series), not a unit test's.
 */
static void test_large_stream(void **state)
{
	char err[128], route[64];
	struct agg *a = agg_new(NULL, 0, 10000, err, sizeof(err));
	struct self_fixture st;
	struct strbuf sb = STRBUF_INIT, got = STRBUF_INIT;
	struct expose_stream *x;
	int i;

	for (i = 0; i < 10000; i++) {
		snprintf(route, sizeof(route), "/api/v1/resource_%d/items", i);
		agg_observe(a, "flask-app", i % 2 ? "GET" : "POST", route, 200, (uint64_t)i * 997 * 1000);
		agg_observe(a, "flask-app", i % 2 ? "GET" : "POST", route, 200, (uint64_t)i * 7 * 1000);
	}
	numbered(&st, a);
	assert_int_equal(expose_render(&sb, a, self_now(&st)), 0);
	x = expose_stream_new(a, self_now(&st));
	assert_non_null(x);
	drain(x, 64 * 1024, &got);
	expose_stream_free(x);
	assert_int_equal(got.len, sb.len);
	assert_memory_equal(got.buf, sb.buf, sb.len);
	sb_free(&got);
	sb_free(&sb);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),       cmocka_unit_test(test_empty),
		cmocka_unit_test(test_promtool),         cmocka_unit_test(test_large_stream),
		cmocka_unit_test(test_stream_identical), cmocka_unit_test(test_stream_observe_midway),
	};

	return cmocka_run_group_tests_name("expose", tests, NULL, NULL);
}
