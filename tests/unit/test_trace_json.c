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

#include "strbuf.h"
#include "trace_json.h"

static void test_line(void **state)
{
	struct wt_request rq = {
		.start_ns = 1000000000000ull,
		.end_ns = 1000001234567ull,
		.req_bytes = 78,
		.resp_bytes = 1532,
		.sk = 0xffff8f0b2c4d1200ull,
		.tgid = 812,
		.tid = 813,
		.status = 200,
		.proto = WT_PROTO_HTTP,
		.method = "GET",
		.path = "/users/42?ignored",
		.path_len = 9,
	};
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(trace_json_format(&sb, &rq, "app", 1), 0);
	assert_string_equal(sb.buf, "{\"pid\":812,\"tid\":813,\"service\":\"app\",\"proto\":\"http\",\"method\":\"GET\","
				    "\"route\":\"/users/{id}\",\"path\":\"/users/42\",\"status\":200,\"duration_seconds\":0.001234567,"
				    "\"queue_seconds\":null,\"start_ns\":1000000000000,\"end_ns\":1000001234567,\"req_bytes\":78,"
				    "\"resp_bytes\":1532,\"trace_id\":null,\"span_id\":null,\"conn\":\"ffff8f0b2c4d1200\",\"flags\":[]}\n");
	sb_reset(&sb);
	rq.proto = WT_PROTO_UWSGI;
	rq.flags = WT_RQ_FRAMING_LOST | WT_RQ_PATH_TRUNCATED;
	rq.start_ns = 5;
	rq.end_ns = 12000000005ull;
	rq.method = NULL; /* labels.c's "_OTHER" */
	rq.status = 0;
	rq.sk = 0;
	rq.queue_ns = 2000000001ull;
	assert_int_equal(trace_json_format(&sb, &rq, NULL, 0), 0);
	assert_string_equal(sb.buf, "{\"pid\":812,\"tid\":813,\"service\":null,\"proto\":\"uwsgi\",\"method\":\"_OTHER\","
				    "\"route\":\"/users/42\",\"path\":\"/users/42\",\"status\":0,\"duration_seconds\":12.000000000,"
				    "\"queue_seconds\":2.000000001,\"start_ns\":5,\"end_ns\":12000000005,\"req_bytes\":78,"
				    "\"resp_bytes\":1532,\"trace_id\":null,\"span_id\":null,\"conn\":\"0\","
				    "\"flags\":[\"framing_lost\",\"path_truncated\"]}\n");
	/* A valid traceparent's ids; a malformed one has none to show. */
	sb_reset(&sb);
	assert_int_equal(traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55, &rq.trace), 0);
	rq.trace_state = WT_TRACE_OK;
	trace_json_format(&sb, &rq, "x", 1);
	assert_non_null(strstr(sb.buf, ",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\","));
	sb_reset(&sb);
	rq.trace_state = WT_TRACE_MALFORMED;
	trace_json_format(&sb, &rq, "x", 1);
	assert_non_null(strstr(sb.buf, ",\"trace_id\":null,\"span_id\":null,"));
	/* End before start: 0, never a huge unsigned difference. */
	sb_reset(&sb);
	rq.end_ns = 1;
	trace_json_format(&sb, &rq, "x", 1);
	assert_non_null(strstr(sb.buf, "\"duration_seconds\":0.000000000,"));
	sb_free(&sb);
}

static void test_escapes(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	static const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f"
				 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
				 "\xff\xc3(\xed\xa0\x80\xf4\x90\x80\x80/\0z";

	trace_json_string(&sb, in, sizeof(in) - 1);
	assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f"
				    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
				    "\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd/\\u0000z\"");
	sb_free(&sb);
}

/* Every line from hostile paths is valid JSON to a strict parser. */
static void test_python_parses(void **state)
{
	char path[] = "/tmp/wsgitrace-trace-XXXXXX", cmd[512];
	struct strbuf sb = STRBUF_INIT;
	struct wt_request rq = {.end_ns = 10, .status = 404, .method = "GET"};
	unsigned char p[64];
	FILE *f;
	int fd, i, j, rc;
	uint32_t x = 1;

	for (i = 0; i < 500; i++) {
		for (j = 0; j < (int)sizeof(p); j++) {
			x = x * 1103515245u + 12345u;
			p[j] = (unsigned char)(x >> 16);
		}
		rq.path = (const char *)p;
		rq.path_len = (size_t)(i % (int)sizeof(p));
		assert_int_equal(trace_json_format(&sb, &rq, i % 2 ? "svc\x80\"" : "app", i % 3), 0);
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fwrite(sb.buf, 1, sb.len, f);
	fclose(f);
	if (access("/usr/bin/python3", X_OK) != 0) {
		unlink(path);
		sb_free(&sb);
		skip();
	}
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import json,sys\n"
		 "n=0\n"
		 "for l in open(sys.argv[1],\"rb\"):\n"
		 " d=json.loads(l.decode(\"utf-8\",\"strict\")); n+=1\n"
		 " assert d[\"status\"]==404 and d[\"duration_seconds\"]==1e-08\n"
		 "assert n==500, n' %s",
		 path);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("python3 json rejected the output (%d), kept in %s", rc, path);
	unlink(path);
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_python_parses),
	};

	return cmocka_run_group_tests_name("trace_json", tests, NULL, NULL);
}
