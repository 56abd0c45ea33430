// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "webconfig.h"

/* bcrypt of pw into out[61], cost 4 (fast; the daemon accepts any cost). */
static const char *hash_of(const char *pw, char *out)
{
	static struct crypt_data cd;
	const char *h = crypt_r(pw, "$2b$04$abcdefghijklmnopqrstuu", &cd);

	assert_non_null(h);
	assert_int_equal(strlen(h), 60);
	return memcpy(out, h, 61);
}

/* Client addresses, as httpd passes them. */
static const unsigned char A[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 2};
static const unsigned char B[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 3};

static struct webconfig *parse(const char *yaml, char *err, size_t errlen)
{
	return webconfig_parse(yaml, strlen(yaml), "/etc/wsgitrace", err, errlen);
}

static void bad(const char *yaml, const char *want)
{
	char err[512] = "";

	assert_null(parse(yaml, err, sizeof(err)));
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\" for:\n%s", err, want, yaml);
}

static void test_users(void **state)
{
	char yaml[512], err[256] = "", h1[61], h2[61];
	struct webconfig *w;

	/* Each check in its own second: the bcrypt budget is tested below. */
	snprintf(yaml, sizeof(yaml), "basic_auth_users:\n  prom: %s\n  alice: '%s'\n", hash_of("s3cret", h1),
		 hash_of("other", h2));
	w = parse(yaml, err, sizeof(err));
	if (!w)
		fail_msg("%s", err);
	assert_true(webconfig_has_users(w));
	assert_null(webconfig_cert_pem(w));
	assert_int_equal(webconfig_check(w, A, "prom", "s3cret", 1000), WEBCONFIG_OK);
	assert_int_equal(webconfig_check(w, A, "prom", "s3cret", 2000), WEBCONFIG_OK); /* from the cache */
	assert_int_equal(webconfig_check(w, A, "prom", "s3cret ", 3000), WEBCONFIG_DENIED);
	assert_int_equal(webconfig_check(w, A, "prom", "other", 4000), WEBCONFIG_DENIED);
	assert_int_equal(webconfig_check(w, A, "alice", "other", 5000), WEBCONFIG_OK);
	assert_int_equal(webconfig_check(w, A, "bob", "s3cret", 6000), WEBCONFIG_DENIED);
	assert_int_equal(webconfig_check(w, A, "prom", "", 7000), WEBCONFIG_DENIED);
	assert_int_equal(webconfig_check(w, A, NULL, "s3cret", 8000), WEBCONFIG_DENIED);
	webconfig_free(w);
	webconfig_free(NULL);
}

/* Guesses past the second's bcrypt budget are not checked; a known pair still passes. */
static void test_bcrypt_budget(void **state)
{
	char yaml[512], err[256] = "", h1[61];
	struct webconfig *w;
	int i;

	snprintf(yaml, sizeof(yaml), "basic_auth_users:\n  prom: %s\n", hash_of("s3cret", h1));
	w = parse(yaml, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(webconfig_check(w, B, "prom", "s3cret", 5000), WEBCONFIG_OK);
	/* One check per client per second. */
	assert_int_equal(webconfig_check(w, A, "prom", "guess", 5100), WEBCONFIG_DENIED);
	assert_int_equal(webconfig_check(w, A, "prom", "guess", 5200), WEBCONFIG_BUSY);
	/* At most WEBCONFIG_BCRYPT_PER_S in all: B took one, A one, others the rest. */
	for (i = 2; i < WEBCONFIG_BCRYPT_PER_S; i++) {
		unsigned char c[16] = {[10] = 0xff, [11] = 0xff, 10, 0, 0, (unsigned char)i};

		assert_int_equal(webconfig_check(w, c, "prom", "guess", 5300), WEBCONFIG_DENIED);
	}
	assert_int_equal(webconfig_check(w, B, "alice", "guess", 5900), WEBCONFIG_BUSY);
	assert_int_equal(webconfig_check(w, A, "prom", "s3cret", 5900), WEBCONFIG_OK); /* known: no check */
	assert_int_equal(webconfig_check(w, A, "prom", "guess", 6000), WEBCONFIG_DENIED);
	webconfig_free(w);
}

static void test_empty_and_plain(void **state)
{
	char err[256] = "";
	struct webconfig *w = parse("", err, sizeof(err));

	assert_non_null(w);
	assert_false(webconfig_has_users(w));
	assert_int_equal(webconfig_check(w, A, "prom", "x", 0), WEBCONFIG_DENIED);
	webconfig_free(w);
	w = parse("# nothing\nbasic_auth_users:\n", err, sizeof(err));
	assert_non_null(w);
	assert_false(webconfig_has_users(w));
	webconfig_free(w);
}

static void test_errors(void **state)
{
	bad("tls_server_config:\n  cert_file: a.crt\n", "needs both cert_file and key_file (missing key_file)");
	bad("tls_server_config:\n  key_file: a.key\n", "(missing cert_file)");
	bad("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
	    "tls_server_config.client_auth_type is not supported: wsgitrace supports");
	bad("tls_server_config:\n  min_version: TLS13\n", "tls_server_config.min_version is not supported");
	bad("http_server_config:\n  http2: false\n", "http_server_config is not supported");
	bad("basic_auth_users:\n  prom: plaintext\n", "basic_auth_users.prom: not a bcrypt hash");
	bad("basic_auth_users:\n  prom: $1$abc$def\n", "htpasswd -nBC 10 prom");
	bad("basic_auth_users:\n  - prom\n", "must be a mapping of user names");
	bad("tls_server_config: [\n", "not valid YAML");
	bad("- a\n- b\n", "the top level must be a mapping");
}

/* Files: relative to the configuration's folder, read at load, named when missing. */
static void test_load(void **state)
{
	char dir[] = "/tmp/wt-webconfig-XXXXXX", path[256], err[512] = "";
	struct webconfig *w;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	f = fopen(path, "w");
	fputs("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n", f);
	fclose(f);
	assert_null(webconfig_load(path, err, sizeof(err)));
	if (!strstr(err, "cannot read ") || !strstr(err, "/s.crt: No such file"))
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s/s.crt", dir);
	f = fopen(path, "w");
	fputs("CERT PEM\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/s.key", dir);
	f = fopen(path, "w");
	fputs("KEY PEM\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	w = webconfig_load(path, err, sizeof(err));
	if (!w)
		fail_msg("%s", err);
	assert_string_equal(webconfig_cert_pem(w), "CERT PEM\n");
	assert_string_equal(webconfig_key_pem(w), "KEY PEM\n");
	assert_false(webconfig_has_users(w));
	webconfig_free(w);
	assert_null(webconfig_load("/nonexistent/web.yml", err, sizeof(err)));
	assert_string_equal(err, "--web.config.file /nonexistent/web.yml: No such file or directory");
	unlink(path);
	snprintf(path, sizeof(path), "%s/s.crt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/s.key", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_bcrypt_budget),
		cmocka_unit_test(test_empty_and_plain),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests_name("webconfig", tests, NULL, NULL);
}
