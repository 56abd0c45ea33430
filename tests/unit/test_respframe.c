// SPDX-License-Identifier: MIT
/*
 * respframe: where responses end, stepped over send records as the servers
 * write them, whole and a few bytes at a time, captured or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "respframe.h"

/* Events of one record of len bytes, the first cap of s captured; returns the last one. */
static enum respframe_ev feed(struct respframe *rf, const char *s, uint64_t cap, uint64_t len, int no_body,
			      int *status, int *ends)
{
	enum respframe_ev ev = RF_EV_MORE;
	uint64_t pos = 0;
	int st, bad;

	while (pos < len) {
		ev = respframe_step(rf, (const uint8_t *)s, &pos, cap, len, no_body, &st, &bad);
		if (st)
			*status = st;
		if (ev == RF_EV_END)
			(*ends)++;
		if (ev == RF_EV_UPGRADE || ev == RF_EV_LOST)
			break;
	}
	return ev;
}

/* The same bytes whole and in records of every size from 1 to 7: one end, same status. */
static void test_every_split(void **state)
{
	static const struct {
		const char *resp;
		int no_body, status;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", 0, 200},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 0, 201},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 200},
		{"HTTP/1.1 204 No Content\r\n\r\n", 0, 204},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1, 200},
	};
	size_t i, seg;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].resp);

		for (seg = 1; seg <= 8; seg++) {
			struct respframe rf = {0};
			int status = 0, ends = 0;
			size_t off;

			for (off = 0; off < n;) {
				size_t k = seg == 8 || seg > n - off ? n - off : seg;

				feed(&rf, cases[i].resp + off, k, k, cases[i].no_body, &status, &ends);
				off += k;
			}
			if (ends != 1 || status != cases[i].status || rf.state != RF_HEAD)
				fail_msg("case %zu in %zu-byte records: %d ends, status %d", i, seg, ends, status);
			respframe_reset(&rf);
		}
	}
}

/* Bodies run through bytes not captured; a head that was not is lost, with its status if readable. */
static void test_uncaptured(void **state)
{
	struct respframe rf = {0};
	int status = 0, ends = 0;

	assert_int_equal(feed(&rf, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 41, 1041, 0, &status, &ends),
			 RF_EV_END);
	assert_int_equal(ends, 1);
	status = 0;
	assert_int_equal(feed(&rf, "HTTP/1.1 404 Not Found\r\nX-Long: aaaa", 36, 2000, 0, &status, &ends),
			 RF_EV_LOST);
	assert_int_equal(status, 404);
	assert_true(respframe_unframed(&rf));
	assert_int_equal(respframe_status_line((const uint8_t *)"HTTP/1.1 503 Busy\r\n", 19), 503);
	assert_int_equal(respframe_status_line((const uint8_t *)"body", 4), -1);
	respframe_reset(&rf);
	assert_int_equal(feed(&rf, "HTTP/1.0 200 OK\r\n\r\nto the close", 30, 30, 0, &status, &ends), RF_EV_MORE);
	assert_int_equal(rf.state, RF_CLOSE);
	assert_true(respframe_unframed(&rf));
	respframe_reset(&rf);
	assert_int_equal(feed(&rf, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 36, 36, 0, &status, &ends),
			 RF_EV_UPGRADE);
	assert_int_equal(status, 101);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_uncaptured),
	};

	return cmocka_run_group_tests_name("respframe", tests, NULL, NULL);
}
