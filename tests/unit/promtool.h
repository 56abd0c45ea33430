/* SPDX-License-Identifier: MIT */
/*
 * Unit tests' check of an exposition with Prometheus' own linter. Include
 * after cmocka.h.
 */
#ifndef WT_TEST_PROMTOOL_H
#define WT_TEST_PROMTOOL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * promtool exits non-zero on parse errors and on lint problems (HELP
 * missing, counter names without _total, invalid UTF-8, ...).
 */
static void promtool_check(const char *text, size_t len)
{
	char path[] = "/tmp/wsgitrace-expose-XXXXXX", cmd[256];
	FILE *f;
	int fd, rc;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	/* make test installs promtool (Debian's prometheus): its absence is a failure. */
	if (access("/usr/bin/promtool", X_OK) != 0) {
		unlink(path);
		fail_msg("/usr/bin/promtool is missing: run `make deps`");
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("promtool check metrics failed (%d) on %s (kept for inspection)", rc, path);
	unlink(path);
}

#endif /* WT_TEST_PROMTOOL_H */
