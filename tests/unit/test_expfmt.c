// SPDX-License-Identifier: MIT
/* expfmt: the format negotiated from Accept, and OpenMetrics from classic text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "expfmt.h"

static void test_negotiate(void **state)
{
	static const struct {
		const char *accept;
		enum expfmt want;
	} cases[] = {
		{ NULL, EXPFMT_TEXT },
		{ "", EXPFMT_TEXT },
		{ "*/*", EXPFMT_TEXT },
		{ "text/plain", EXPFMT_TEXT },
		{ "application/json", EXPFMT_TEXT },
		/* Prometheus 2.42 with --enable-feature=native-histograms. */
		{ "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
		  "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
		  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  EXPFMT_PROTOBUF },
		/* Prometheus 2.42 without it. */
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  EXPFMT_OPENMETRICS },
		/* q orders, not position; spaces and quoting allowed. */
		{ "text/plain; version=0.0.4; q=0.5, application/openmetrics-text; version=\"1.0.0\"; q=0.9",
		  EXPFMT_OPENMETRICS },
		{ "application/openmetrics-text;version=2.0.0,text/plain", EXPFMT_TEXT },
		{ "application/openmetrics-text;q=0,text/plain", EXPFMT_TEXT },
		{ "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
		  EXPFMT_TEXT },
		{ "application/vnd.google.protobuf;encoding=delimited", EXPFMT_TEXT },
		{ "APPLICATION/vnd.google.protobuf; Proto=io.prometheus.client.MetricFamily; Encoding=delimited",
		  EXPFMT_PROTOBUF },
		{ ",,;;=,q=,;q", EXPFMT_TEXT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (expfmt_negotiate(cases[i].accept) != cases[i].want)
			fail_msg("case %zu: %s", i, cases[i].accept ? cases[i].accept : "(null)");
	}
	assert_non_null(strstr(expfmt_content_type(EXPFMT_PROTOBUF), "encoding=delimited"));
	assert_non_null(strstr(expfmt_content_type(EXPFMT_OPENMETRICS), "application/openmetrics-text; version=1.0.0"));
}

static void test_openmetrics(void **state)
{
	static const char in[] = "# HELP a_total Things \"quoted\" and a \\\\ and\\nline.\n"
				 "# TYPE a_total counter\n"
				 "a_total 3\n"
				 "# HELP b_total A gauge that ends in _total keeps it.\n"
				 "# TYPE b_total gauge\n"
				 "b_total 1\n"
				 "# HELP h Latency.\n"
				 "# TYPE h histogram\n"
				 "h_bucket{le=\"+Inf\"} 0\n";
	static const char want[] = "# HELP a Things \\\"quoted\\\" and a \\\\ and\\nline.\n"
				   "# TYPE a counter\n"
				   "a_total 3\n"
				   "# HELP b_total A gauge that ends in _total keeps it.\n"
				   "# TYPE b_total gauge\n"
				   "b_total 1\n"
				   "# HELP h Latency.\n"
				   "# TYPE h histogram\n"
				   "h_bucket{le=\"+Inf\"} 0\n";
	struct strbuf sb = STRBUF_INIT;

	expfmt_openmetrics(&sb, in, strlen(in));
	sb_putc(&sb, 0);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_openmetrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
