// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "promtool.h"

#include "agg.h"
#include "conntrack.h"
#include "expose.h"
#include "httpd.h"
#include "proctab.h"
#include "promproto.h"
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
	"# HELP wsgitrace_native_observations_lost_total Observations in the classic buckets of "
	"http_server_request_duration_seconds but not in its native buckets, for want of memory.\n"
	"# TYPE wsgitrace_native_observations_lost_total counter\n"
	"wsgitrace_native_observations_lost_total 0\n"
	"# HELP wsgitrace_traceparent_malformed_total Requests whose traceparent header was not a valid W3C "
	"traceparent (or came more than once): counted, no exemplar.\n"
	"# TYPE wsgitrace_traceparent_malformed_total counter\n"
	"wsgitrace_traceparent_malformed_total 0\n"
	"# HELP wsgitrace_traceparent_unseen_total Requests whose head went on past the bytes captured, without a "
	"traceparent in those: one past them was not seen.\n"
	"# TYPE wsgitrace_traceparent_unseen_total counter\n"
	"wsgitrace_traceparent_unseen_total 0\n"
	"# HELP wsgitrace_exemplars_lost_total Requests with a valid traceparent whose exemplar could not be kept, "
	"for want of memory.\n"
	"# TYPE wsgitrace_exemplars_lost_total counter\n"
	"wsgitrace_exemplars_lost_total 0\n"
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


/* ---- the three formats of one state ---- */

static int strcmp_ptr(const char *const *a, const char *const *b)
{
	return strcmp(*a, *b);
}

/* The sample lines of a text exposition (no comments), sorted, one string. */
static void sample_lines(const char *text, size_t len, struct strbuf *out)
{
	char **lines = NULL;
	size_t n = 0, cap = 0, i;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		eol = eol ? eol : end;
		if (eol > p && *p != '#') {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				lines = realloc(lines, cap * sizeof(*lines));
				assert_non_null(lines);
			}
			lines[n++] = strndup(p, (size_t)(eol - p));
		}
		p = eol + 1;
	}
	qsort(lines, n, sizeof(*lines), (int (*)(const void *, const void *))strcmp_ptr);
	sb_reset(out);
	for (i = 0; i < n; i++) {
		sb_puts(out, lines[i]);
		sb_putc(out, '\n');
		free(lines[i]);
	}
	free(lines);
}

static void put_labels(struct strbuf *sb, const pp_metric *m, const char *le)
{
	size_t i;

	if (!m->n_label && !le)
		return;
	sb_putc(sb, '{');
	for (i = 0; i < m->n_label; i++) {
		if (i)
			sb_putc(sb, ',');
		promtext_label(sb, m->label[i]->name, m->label[i]->value);
	}
	if (le) {
		if (m->n_label)
			sb_putc(sb, ',');
		sb_puts(sb, "le=\"");
		sb_puts(sb, le);
		sb_putc(sb, '"');
	}
	sb_putc(sb, '}');
}

/*
 * Decodes a delimited protobuf exposition with the client_model schema and
 * writes its samples as classic text lines; checks every histogram's native
 * buckets add up to its count. Returns the number of families.
 */
static size_t proto_to_lines(const uint8_t *p, size_t len, struct strbuf *out, size_t *native_hists)
{
	size_t off = 0, nf = 0;

	*native_hists = 0;
	while (off < len) {
		uint64_t mlen = 0;
		int shift = 0;
		Io__Prometheus__Client__MetricFamily *f;
		size_t i, j;

		do {
			mlen |= (uint64_t)(p[off] & 0x7f) << shift;
			shift += 7;
		} while (p[off++] & 0x80);
		assert_true(off + mlen <= len);
		f = io__prometheus__client__metric_family__unpack(NULL, mlen, p + off);
		assert_non_null(f);
		off += mlen;
		nf++;
		for (i = 0; i < f->n_metric; i++) {
			const pp_metric *m = f->metric[i];
			char num[48];

			if (f->type == PP_HISTOGRAM) {
				const pp_histogram *h = m->histogram;
				char name[256];

				assert_non_null(h);
				for (j = 0; j < h->n_bucket; j++) {
					/* Listed only for its exemplar: +Inf is the count, below. */
					if (isinf(h->bucket[j]->upper_bound)) {
						assert_int_equal(j, h->n_bucket - 1);
						assert_int_equal(h->bucket[j]->cumulative_count, h->sample_count);
						continue;
					}
					promtext_fmt_double(num, sizeof(num), h->bucket[j]->upper_bound);
					snprintf(name, sizeof(name), "%s_bucket", f->name);
					sb_puts(out, name);
					put_labels(out, m, num);
					sb_putc(out, ' ');
					sb_put_u64(out, h->bucket[j]->cumulative_count);
					sb_putc(out, '\n');
				}
				sb_printf(out, "%s_bucket", f->name);
				put_labels(out, m, "+Inf");
				sb_printf(out, " %llu\n", (unsigned long long)h->sample_count);
				sb_printf(out, "%s_sum", f->name);
				put_labels(out, m, NULL);
				sb_putc(out, ' ');
				promtext_double(out, h->sample_sum);
				sb_putc(out, '\n');
				sb_printf(out, "%s_count", f->name);
				put_labels(out, m, NULL);
				sb_printf(out, " %llu\n", (unsigned long long)h->sample_count);
				if (h->has_schema) {
					uint64_t total = h->zero_count;
					int64_t c = 0;

					(*native_hists)++;
					assert_true(h->n_positive_span >= 1);
					for (j = 0; j < h->n_positive_delta; j++) {
						c += h->positive_delta[j];
						assert_true(c >= 0);
						total += (uint64_t)c;
					}
					assert_int_equal(total, h->sample_count);
				}
				continue;
			}
			sb_puts(out, f->name);
			put_labels(out, m, NULL);
			sb_putc(out, ' ');
			promtext_double(out, f->type == PP_COUNTER ? m->counter->value
					     : f->type == PP_GAUGE ? m->gauge->value
								   : m->untyped->value);
			sb_putc(out, '\n');
		}
		io__prometheus__client__metric_family__free_unpacked(f, NULL);
	}
	return nf;
}

static void run(const char *cmd, const char *what)
{
	int rc = system(cmd);

	if (rc != 0)
		fail_msg("%s failed (%d): %s", what, rc, cmd);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_formats_agree(void **state)
{
	char err[128], route[64];
	struct agg *a = agg_new(NULL, 0, 100, err, sizeof(err));
	struct agg *q = agg_new(NULL, 0, 10, err, sizeof(err));
	struct self_fixture st;
	struct strbuf text = STRBUF_INIT, om = STRBUF_INIT, pb = STRBUF_INIT, tmp = STRBUF_INIT;
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT, extra = STRBUF_INIT;
	struct expose_stream *x;
	size_t nf, nh, i;

	assert_non_null(a);
	assert_non_null(q);
	numbered(&st, a);
	/* Durations over nine decades, in several series, escaped labels and bad UTF-8 among them. */
	for (i = 0; i < 400; i++) {
		snprintf(route, sizeof(route), "/r%zu", i % 7);
		agg_observe(a, i % 3 ? "app" : "we\nb\xff", i % 2 ? "GET" : "POST", i % 5 ? route : "/q\"x\"\\y",
			    i % 11 ? 200 : 503, (uint64_t)(1000.0 * pow(1.06, (double)i)));
	}
	agg_observe(a, "app", "GET", "/zero", 200, 0);
	/* A service histogram (the queue time) before the caller's text families: native too in protobuf. */
	agg_set_native(q, &native_default_opts);
	agg_observe(q, "app", "", "", 0, 1500000);
	agg_observe(q, "app", "", "", 0, 25000000);
	agg_observe(q, "web", "", "", 0, 2500);
	st.self.svc_hist = q;
	st.self.svc_hist_name = "wsgitrace_queue_seconds";
	st.self.svc_hist_help = "Time queued.";
	sb_puts(&extra, "# HELP wsgitrace_extra A family of the caller's.\n# TYPE wsgitrace_extra gauge\n"
			"wsgitrace_extra{service_name=\"app\"} 3\n");
	st.self.extra = extra.buf;
	st.self.extra_len = extra.len;

	assert_int_equal(expose_render_fmt(&text, a, self_now(&st), EXPFMT_TEXT), 0);
	assert_int_equal(expose_render_fmt(&om, a, self_now(&st), EXPFMT_OPENMETRICS), 0);
	assert_int_equal(expose_render_fmt(&pb, a, self_now(&st), EXPFMT_PROTOBUF), 0);
	promtool_check(text.buf, text.len);

	/* OpenMetrics: the same samples, "# EOF" last, counter families without _total. */
	assert_true(om.len > 6 && memcmp(om.buf + om.len - 6, "# EOF\n", 6) == 0);
	assert_non_null(strstr(om.buf, "# TYPE wsgitrace_scrapes counter\n"));
	assert_null(strstr(om.buf, "# TYPE wsgitrace_scrapes_total"));
	sample_lines(text.buf, text.len, &want);
	sample_lines(om.buf, om.len, &got);
	assert_string_equal(got.buf, want.buf);
	/* Prometheus' Python client's OpenMetrics parser is strict about the format. */
	write_file("/tmp/wsgitrace-om.txt", om.buf, om.len);
	run("/usr/bin/python3 -c 'import sys; from prometheus_client.openmetrics.parser import "
	    "text_string_to_metric_families as p; list(p(open(sys.argv[1]).read()))' /tmp/wsgitrace-om.txt",
	    "the OpenMetrics parser");
	unlink("/tmp/wsgitrace-om.txt");

	/* Protobuf: decoded with client_model's schema, the same samples; native buckets in every request histogram. */
	sb_reset(&tmp);
	nf = proto_to_lines((const uint8_t *)pb.buf, pb.len, &tmp, &nh);
	assert_true(nf > 10);
	assert_int_equal(nh, agg_series_active(a) + agg_series_active(q));
	/* In the text, the service histogram comes right before the caller's families. */
	{
		const char *qh = strstr(text.buf, "# HELP wsgitrace_queue_seconds Time queued.\n"),
			   *ex = strstr(text.buf, "# HELP wsgitrace_extra ");

		assert_non_null(qh);
		assert_non_null(strstr(text.buf, "wsgitrace_queue_seconds_bucket{service_name=\"web\",le=\"0.0001\"} 1\n"));
		assert_true(ex > qh);
	}
	sample_lines(tmp.buf, tmp.len, &got);
	assert_string_equal(got.buf, want.buf);

	/* protoc's own decoder reads the first family against metrics.proto: the first series, its
	 * 24 durations over 1 us .. 13,000 s, needs more than 160 buckets at schema 3, so schema 2. */
	{
		size_t off = 0;
		uint64_t mlen = 0;
		int shift = 0;
		char cmd[1024];

		do {
			mlen |= (uint64_t)(pb.buf[off] & 0x7f) << shift;
			shift += 7;
		} while (pb.buf[off++] & 0x80);
		write_file("/tmp/wsgitrace-pb.bin", pb.buf + off, mlen);
		snprintf(cmd, sizeof(cmd),
			 "protoc --decode=io.prometheus.client.MetricFamily -I%s -I/usr/include metrics.proto "
			 "< /tmp/wsgitrace-pb.bin > /tmp/wsgitrace-pb.txt && grep -q 'schema: 2' /tmp/wsgitrace-pb.txt && "
			 "grep -q 'positive_delta' /tmp/wsgitrace-pb.txt && grep -q 'sample_count: 24' /tmp/wsgitrace-pb.txt",
			 WT_PROTO_DIR);
		run(cmd, "protoc --decode");
		unlink("/tmp/wsgitrace-pb.bin");
		unlink("/tmp/wsgitrace-pb.txt");
	}

	/* The streams give the same bytes as the renders, read in any piece size. */
	{
		struct strbuf *whole[] = { &text, &om, &pb };
		enum expfmt fs[] = { EXPFMT_TEXT, EXPFMT_OPENMETRICS, EXPFMT_PROTOBUF };

		for (i = 0; i < 3; i++) {
			x = expose_stream_open(a, self_now(&st), fs[i]);
			assert_non_null(x);
			drain(x, 7, &tmp);
			expose_stream_free(x);
			assert_int_equal(tmp.len, whole[i]->len);
			assert_memory_equal(tmp.buf, whole[i]->buf, tmp.len);
		}
	}
	sb_free(&text);
	sb_free(&om);
	sb_free(&pb);
	sb_free(&tmp);
	sb_free(&want);
	sb_free(&got);
	sb_free(&extra);
	agg_free(a);
	agg_free(q);
}


/* ---- exemplars ---- */

#define EX_TID_A "0af7651916cd43dd8448eb211c80319c"
#define EX_TID_B "4bf92f3577b34da6a3ce929d0e0e4736"
#define EX_SID "00f067aa0ba902b7"
/* Wall clock minus monotonic: a request ending at monotonic 5 s ended at 1,700,000,005 s. */
#define EX_OFFSET 1700000000000000000ll

/* A request to GET /r that took dur_ns, ending at monotonic end_s seconds, with the trace tid (NULL: state). */
static void ex_request(struct agg *a, uint64_t dur_ns, uint64_t end_ns, const char *tid, int state)
{
	struct wt_request rq = {
		.start_ns = end_ns - dur_ns, .end_ns = end_ns, .status = 200, .method = "GET", .path = "/r",
		.path_len = 2, .trace_state = (uint8_t)state,
	};

	if (tid) {
		char tp[64];

		snprintf(tp, sizeof(tp), "00-%s-%s-01", tid, EX_SID);
		assert_int_equal(traceparent_parse(tp, strlen(tp), &rq.trace), 0);
		rq.trace_state = WT_TRACE_OK;
	}
	agg_observe_request(a, "app", &rq, 1);
}

/* The line of bs that starts with prefix, up to its end (static copy). */
static const char *line_of(const struct strbuf *bs, const char *prefix)
{
	static char line[1024];
	const char *p = strstr(bs->buf, prefix), *eol;

	assert_non_null(p);
	eol = strchr(p, '\n');
	assert_non_null(eol);
	snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
	return line;
}

static void test_exemplars(void **state)
{
	char err[128];
	struct agg *a = agg_new(NULL, 0, 100, err, sizeof(err)), *off = agg_new(NULL, 0, 100, err, sizeof(err));
	struct strbuf text = STRBUF_INIT, om = STRBUF_INIT, pb = STRBUF_INIT, tmp = STRBUF_INIT;
	const char *bucket = "http_server_request_duration_seconds_bucket{http_request_method=\"GET\","
			     "http_response_status_code=\"200\",http_route=\"/r\",service_name=\"app\",le=";
	char prefix[512];
	struct expose_stream *x;
	size_t off_pb = 0, i, j, found = 0;

	assert_non_null(a);
	assert_non_null(off);
	agg_set_exemplars(a, 1);
	agg_set_realtime_offset(a, EX_OFFSET);
	ex_request(a, 3000000, 5000000000ull, EX_TID_A, 0);  /* le 0.005 */
	ex_request(a, 4000000, 6000000000ull, EX_TID_B, 0);  /* le 0.005 again: the latest stays */
	ex_request(a, 40000000000ull, 47000000001ull, EX_TID_A, 0); /* +Inf */
	ex_request(a, 200000, 7000000000ull, NULL, WT_TRACE_NONE);
	ex_request(a, 200000, 7000000000ull, NULL, WT_TRACE_MALFORMED);
	ex_request(a, 200000, 7000000000ull, NULL, WT_TRACE_UNSEEN);
	ex_request(a, 200000, 7000000000ull, NULL, WT_TRACE_UNSEEN);
	assert_int_equal(agg_stats(a)->traceparent_malformed, 1);
	assert_int_equal(agg_stats(a)->traceparent_unseen, 2);
	assert_int_equal(agg_stats(a)->exemplars_lost, 0);
	/* Off: nothing kept, nothing counted. */
	ex_request(off, 3000000, 5000000000ull, EX_TID_A, 0);
	ex_request(off, 200000, 7000000000ull, NULL, WT_TRACE_MALFORMED);
	assert_int_equal(agg_stats(off)->traceparent_malformed, 0);

	assert_int_equal(expose_render_fmt(&text, a, NULL, EXPFMT_TEXT), 0);
	assert_int_equal(expose_render_fmt(&om, a, NULL, EXPFMT_OPENMETRICS), 0);
	assert_int_equal(expose_render_fmt(&pb, a, NULL, EXPFMT_PROTOBUF), 0);
	/* The classic text format has no exemplars. */
	assert_null(strstr(text.buf, " # "));
	promtool_check(text.buf, text.len);
	snprintf(prefix, sizeof(prefix), "%s\"0.005\"}", bucket);
	assert_string_equal(line_of(&om, prefix),
			    "http_server_request_duration_seconds_bucket{http_request_method=\"GET\","
			    "http_response_status_code=\"200\",http_route=\"/r\",service_name=\"app\",le=\"0.005\"} 6"
			    " # {trace_id=\"" EX_TID_B "\",span_id=\"" EX_SID "\"} 0.004 1700000006.000000000");
	snprintf(prefix, sizeof(prefix), "%s\"+Inf\"}", bucket);
	assert_non_null(strstr(line_of(&om, prefix),
			       "} 7 # {trace_id=\"" EX_TID_A "\",span_id=\"" EX_SID "\"} 40 1700000047.000000001"));
	snprintf(prefix, sizeof(prefix), "%s\"0.00025\"}", bucket);
	assert_null(strstr(line_of(&om, prefix), "#"));
	/* The same lines as the text otherwise. */
	{
		struct strbuf want = STRBUF_INIT, got = STRBUF_INIT, stripped = STRBUF_INIT;
		const char *p = om.buf, *end = om.buf + om.len;

		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p)), *ex = memmem(p, (size_t)(eol - p), " # {", 4);

			sb_append(&stripped, p, (size_t)((ex ? ex : eol) - p));
			sb_putc(&stripped, '\n');
			p = eol + 1;
		}
		sample_lines(text.buf, text.len, &want);
		sample_lines(stripped.buf, stripped.len, &got);
		assert_string_equal(got.buf, want.buf);
		sb_free(&want);
		sb_free(&got);
		sb_free(&stripped);
	}
	/* Prometheus' Python client reads the exemplars back. */
	write_file("/tmp/wsgitrace-om-ex.txt", om.buf, om.len);
	run("/usr/bin/python3 -c 'import sys\n"
	    "from prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n"
	    "ex = {s.labels[\"le\"]: s.exemplar for f in p(open(sys.argv[1]).read()) for s in f.samples if s.exemplar}\n"
	    "assert sorted(ex) == [\"+Inf\", \"0.005\"], ex\n"
	    "e = ex[\"0.005\"]\n"
	    "assert e.labels == {\"trace_id\": \"" EX_TID_B "\", \"span_id\": \"" EX_SID "\"}, e\n"
	    "assert e.value == 0.004 and e.timestamp.sec == 1700000006, e\n"
	    "' /tmp/wsgitrace-om-ex.txt",
	    "the OpenMetrics parser's exemplars");
	unlink("/tmp/wsgitrace-om-ex.txt");
	/* The stream gives the same bytes. */
	x = expose_stream_open(a, NULL, EXPFMT_OPENMETRICS);
	assert_non_null(x);
	drain(x, 5, &tmp);
	expose_stream_free(x);
	assert_int_equal(tmp.len, om.len);
	assert_memory_equal(tmp.buf, om.buf, om.len);

	/* Protobuf: on the buckets, +Inf listed for its own. */
	while (off_pb < pb.len) {
		uint64_t mlen = 0;
		int shift = 0;
		Io__Prometheus__Client__MetricFamily *f;

		do {
			mlen |= (uint64_t)(pb.buf[off_pb] & 0x7f) << shift;
			shift += 7;
		} while (pb.buf[off_pb++] & 0x80);
		f = io__prometheus__client__metric_family__unpack(NULL, mlen, (const uint8_t *)pb.buf + off_pb);
		assert_non_null(f);
		off_pb += mlen;
		for (i = 0; i < f->n_metric; i++) {
			const pp_histogram *h = f->metric[i]->histogram;

			for (j = 0; h && j < h->n_bucket; j++) {
				const Io__Prometheus__Client__Exemplar *e = h->bucket[j]->exemplar;

				if (!e)
					continue;
				found++;
				assert_int_equal(e->n_label, 2);
				assert_string_equal(e->label[0]->name, "trace_id");
				assert_string_equal(e->label[1]->name, "span_id");
				assert_string_equal(e->label[1]->value, EX_SID);
				assert_non_null(e->timestamp);
				if (isinf(h->bucket[j]->upper_bound)) {
					assert_string_equal(e->label[0]->value, EX_TID_A);
					assert_true(e->value == 40);
					assert_int_equal(e->timestamp->seconds, 1700000047);
					assert_int_equal(e->timestamp->nanos, 1);
					assert_int_equal(h->bucket[j]->cumulative_count, h->sample_count);
				} else {
					assert_true(h->bucket[j]->upper_bound == 0.005);
					assert_string_equal(e->label[0]->value, EX_TID_B);
					assert_true(e->value == 0.004);
					assert_int_equal(e->timestamp->seconds, 1700000006);
				}
			}
		}
		io__prometheus__client__metric_family__free_unpacked(f, NULL);
	}
	assert_int_equal(found, 2);

	/* Exemplars off: none served. */
	sb_reset(&om);
	sb_reset(&pb);
	assert_int_equal(expose_render_fmt(&om, off, NULL, EXPFMT_OPENMETRICS), 0);
	assert_null(strstr(om.buf, " # {"));
	sb_free(&text);
	sb_free(&om);
	sb_free(&pb);
	sb_free(&tmp);
	agg_free(a);
	agg_free(off);
}

/*
 * Protobuf keeps each series packed between scrapes: a scrape after
 * observations gives the bytes of an agg that was never scraped before.
 */
static void test_packed_kept(void **state)
{
	char err[128], route[32];
	/* Room for all: a served series observed once may otherwise make room for another (agg.h). */
	struct agg *a = agg_new(NULL, 0, 1000, err, sizeof(err)), *b = agg_new(NULL, 0, 1000, err, sizeof(err));
	struct strbuf first = STRBUF_INIT, again = STRBUF_INIT, fresh = STRBUF_INIT;
	int i, round;

	assert_non_null(a);
	assert_non_null(b);
	agg_set_exemplars(a, 1);
	agg_set_exemplars(b, 1);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 40; i++) {
			struct wt_trace t = {.trace_id = {1, (uint8_t)i}, .span_id = {2}};
			/* Some series observed each round, some once only. */
			if (round && i % 3)
				continue;
			snprintf(route, sizeof(route), "/r%d", i);
			agg_observe_traced(a, "app", "GET", route, 200, 1000u * (uint64_t)(i + round + 1), i % 2 ? &t : NULL,
					   1000 + round);
			agg_observe_traced(b, "app", "GET", route, 200, 1000u * (uint64_t)(i + round + 1), i % 2 ? &t : NULL,
					   1000 + round);
		}
		sb_reset(&first);
		sb_reset(&again);
		assert_int_equal(expose_render_fmt(&first, a, NULL, EXPFMT_PROTOBUF), 0);
		assert_int_equal(expose_render_fmt(&again, a, NULL, EXPFMT_PROTOBUF), 0);
		assert_int_equal(first.len, again.len);
		assert_memory_equal(first.buf, again.buf, first.len);
	}
	assert_int_equal(expose_render_fmt(&fresh, b, NULL, EXPFMT_PROTOBUF), 0);
	assert_int_equal(fresh.len, first.len);
	assert_memory_equal(fresh.buf, first.buf, fresh.len);
	sb_free(&first);
	sb_free(&again);
	sb_free(&fresh);
	agg_free(a);
	agg_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),       cmocka_unit_test(test_empty),
		cmocka_unit_test(test_promtool),         cmocka_unit_test(test_large_stream),
		cmocka_unit_test(test_stream_identical), cmocka_unit_test(test_stream_observe_midway),
		cmocka_unit_test(test_formats_agree),    cmocka_unit_test(test_exemplars),
		cmocka_unit_test(test_packed_kept),
	};

	return cmocka_run_group_tests_name("expose", tests, NULL, NULL);
}
