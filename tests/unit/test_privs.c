// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privs.h"

/* One "CapXxx:" or "NoNewPrivs:" value of /proc/self/status. */
static uint64_t status_field(const char *name)
{
	char line[256];
	uint64_t v = UINT64_MAX;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, !strcmp(name, "NoNewPrivs") ? 10 : 16);
	fclose(f);
	return v;
}

/*
 * As root: nothing is missing for loading, and a child that drops keeps at
 * most CAP_BPF in every set, with no_new_privs, and then lacks what loading
 * needs. Not root: both are named.
 */
static void test_check_and_drop(void **state)
{
	char err[512] = "", kept[64] = "";
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		assert_string_equal(privs_missing_for_load(), "CAP_BPF and CAP_PERFMON");
		return;
	}
	assert_null(privs_missing_for_load());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t allowed;

		if (privs_drop(kept, sizeof(kept), err, sizeof(err)))
			_exit(10);
		allowed = strcmp(kept, "none") ? 1ull << 39 : 0;
		if (status_field("CapEff") != allowed || status_field("CapPrm") != allowed ||
		    status_field("CapBnd") != allowed || status_field("CapInh") != 0 || status_field("CapAmb") != 0)
			_exit(11);
		if (status_field("NoNewPrivs") != 1)
			_exit(12);
		/* Loading is no longer possible, and said so. */
		if (!privs_missing_for_load() || !strstr(privs_missing_for_load(), "CAP_PERFMON"))
			_exit(13);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_and_drop),
	};

	return cmocka_run_group_tests_name("privs", tests, NULL, NULL);
}
