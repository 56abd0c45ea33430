// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "scripted.h"

#define MS 1000000ull

struct world {
	int probes[16];	   /* per pid: how often probed */
	int listening[16]; /* per pid: 1 listens, -1 gone */
	uint32_t found[16];
	int nfound;
};

static int probe(uint32_t pid, void *ctx)
{
	struct world *w = ctx;

	w->probes[pid]++;
	return w->listening[pid];
}

static void found(uint32_t pid, void *ctx)
{
	struct world *w = ctx;

	w->found[w->nfound++] = pid;
}

static void test_backoff_and_found(void **state)
{
	struct scripted *s = scripted_new();
	struct world w = {};
	uint64_t t = 1000 * MS;

	assert_int_equal(scripted_add(s, 1, t, SCRIPTED_FIRST_MS * MS), 0);
	assert_int_equal(scripted_add(s, 2, t, 0), 0);
	scripted_tick(s, t, probe, found, &w);
	assert_int_equal(w.probes[1], 0); /* not due before 100 ms */
	assert_int_equal(w.probes[2], 1);
	/* Probed at 100, 300, 700, 1500, 3100, 5100, 7100 ms: doubling up to the cap. */
	for (uint64_t ms = 1; ms <= 7100; ms++)
		scripted_tick(s, t + ms * MS, probe, found, &w);
	assert_int_equal(w.probes[1], 7);
	assert_int_equal(scripted_count(s), 2);
	w.listening[1] = 1;
	w.listening[2] = -1;
	scripted_tick(s, t + 10000 * MS, probe, found, &w);
	assert_int_equal(w.nfound, 1);
	assert_int_equal(w.found[0], 1);
	assert_int_equal(scripted_count(s), 0);
	scripted_free(s);
}

static void test_readd_restarts(void **state)
{
	struct scripted *s = scripted_new();
	struct world w = {};

	for (uint32_t pid = 1; pid < 16; pid++)
		assert_int_equal(scripted_add(s, pid, 0, 0), 0);
	assert_int_equal(scripted_add(s, 3, 0, 0), 0);
	assert_int_equal(scripted_count(s), 15);
	w.listening[5] = 1;
	w.listening[9] = -1;
	scripted_tick(s, 0, probe, found, &w);
	for (uint32_t pid = 1; pid < 16; pid++)
		assert_int_equal(w.probes[pid], 1);
	assert_int_equal(scripted_count(s), 13);
	assert_int_equal(w.nfound, 1);
	assert_int_equal(w.found[0], 5);
	scripted_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_and_found),
		cmocka_unit_test(test_readd_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
