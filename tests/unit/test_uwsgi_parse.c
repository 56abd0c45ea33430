// SPDX-License-Identifier: MIT
/*
 * uwsgi_parse: packets as nginx and the uWSGI router build them, at every
 * truncation point, against a PROT_NONE page; sizes that lie.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/types.h>

#include "looks_like.h"
#include "uwsgi_parse.h"
#include "uwsgi_pkt.h"

static char *guard_page;
static size_t page_size;

static const char *guarded(const char *s, size_t n)
{
	char *p;

	if (!guard_page) {
		page_size = (size_t)sysconf(_SC_PAGESIZE);
		guard_page = mmap(NULL, page_size * 3, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(guard_page != MAP_FAILED);
		assert_int_equal(mprotect(guard_page + page_size * 2, page_size, PROT_NONE), 0);
	}
	assert_true(n <= page_size * 2);
	p = guard_page + page_size * 2 - n;
	memcpy(p, s, n);
	return p;
}

/* A slice the parser returned, against the bytes wanted (NULL: none). */
static void assert_slice(const char *p, size_t n, const char *want)
{
	if (!want) {
		assert_null(p);
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

/* Method and path as sent: labels.c and route.c make labels of them (test_labels). */
struct ucase {
	const char *const *kv;
	const char *method;
	const char *path;
	int64_t cl;
	int chunked;
	int expect;
};

static const char *const kv_nginx_get[] = {
	"QUERY_STRING", "a=1", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "",
	"CONTENT_LENGTH", "", "REQUEST_URI", "/test/?a=1", "PATH_INFO", "/test/",
	"DOCUMENT_ROOT", "/usr/share/nginx/html", "SERVER_PROTOCOL", "HTTP/1.1",
	"REQUEST_SCHEME", "http", "REMOTE_ADDR", "127.0.0.1", "HTTP_HOST", "localhost", NULL,
};
static const char *const kv_post[] = {
	"REQUEST_METHOD", "POST", "PATH_INFO", "/echo", "CONTENT_LENGTH", "102400",
	"HTTP_EXPECT", "100-Continue", NULL,
};
static const char *const kv_pathinfo_only[] = {
	"PATH_INFO", "/p", "REQUEST_METHOD", "PROPFIND", NULL,
};
static const char *const kv_uri_after_pathinfo[] = {
	"PATH_INFO", "/script/p", "REQUEST_URI", "/p#f", "REQUEST_METHOD", "DELETE", NULL,
};
static const char *const kv_chunked[] = {
	"REQUEST_METHOD", "PUT", "REQUEST_URI", "/up", "HTTP_TRANSFER_ENCODING", "chunked", NULL,
};
static const char *const kv_chunked_and_len[] = {
	"REQUEST_METHOD", "PUT", "REQUEST_URI", "/up", "HTTP_TRANSFER_ENCODING", "chunked",
	"CONTENT_LENGTH", "10", NULL,
};
static const char *const kv_empty_value[] = {
	"REQUEST_METHOD", "HEAD", "X", "", "REQUEST_URI", "", NULL,
};

static const struct ucase ucases[] = {
	{ kv_nginx_get, "GET", "/test/?a=1", -1, 0, 0 },
	{ kv_post, "POST", "/echo", 102400, 0, 1 },
	{ kv_pathinfo_only, "PROPFIND", "/p", -1, 0, 0 },
	{ kv_uri_after_pathinfo, "DELETE", "/p#f", -1, 0, 0 },
	{ kv_chunked, "PUT", "/up", -1, 1, 0 },
	{ kv_chunked_and_len, "PUT", "/up", 10, 0, 0 },
	{ kv_empty_value, "HEAD", NULL, -1, 0, 0 },
};

static void test_every_prefix(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(ucases) / sizeof(ucases[0]); i++) {
		const struct ucase *c = &ucases[i];
		struct uwsgi_request r;
		char pkt[1024];
		size_t n = uwsgi_pkt(pkt, c->kv);

		for (k = 0; k < n; k++)
			assert_int_equal(uwsgi_parse_request(guarded(pkt, k), k, &r), -2);
		/* Body bytes may follow in the same read. */
		memcpy(pkt + n, "BODYBODY", 8);
		for (k = n; k <= n + 8; k++) {
			assert_int_equal(uwsgi_parse_request(guarded(pkt, k), k, &r), (int)n);
			assert_slice(r.method, r.method_len, c->method);
			assert_slice(r.path, r.path_len, c->path);
			assert_int_equal(r.content_length, c->cl);
			assert_int_equal(r.chunked, c->chunked);
			assert_int_equal(r.expect_continue, c->expect);
			assert_int_equal(r.datasize, n - 4);
			assert_int_equal(r.modifier1, 0);
			assert_int_equal(r.modifier2, 0);
		}
		assert_true(wt_looks_like_request((const __u8 *)guarded(pkt, n), (__u32)n));
	}
}

/* On -2, the vars wholly present already label the request. */
static void test_partial_label(void **state)
{
	struct uwsgi_request r;
	char pkt[1024];
	size_t n = uwsgi_pkt(pkt, kv_nginx_get);

	assert_int_equal(uwsgi_parse_request(guarded(pkt, 110), 110, &r), -2);
	assert_slice(r.method, r.method_len, "GET");
	assert_slice(r.path, r.path_len, "/test/?a=1");
	assert_int_equal(uwsgi_parse_request(guarded(pkt, 20), 20, &r), -2);
	assert_slice(r.method, r.method_len, NULL);
	assert_slice(r.path, r.path_len, NULL);
	(void)n;
}

/* The router's real header: "\0(\1\0" = datasize 0x0128. */
static void test_router_header(void **state)
{
	struct uwsgi_request r;
	char pkt[400];
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/x", NULL };
	size_t n = uwsgi_pkt(pkt, kv);

	pkt[1] = 0x28;
	pkt[2] = 0x01;
	/* Sizes say 296 bytes of vars; only n - 4 exist: incomplete, then a lie. */
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), -2);
	memset(pkt + n, 0, sizeof(pkt) - n);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, 300), 300, &r), -1);
}

/*
 * uWSGI runs a packet whatever its modifier2 (nginx's uwsgi_modifier2). The
 * kernel side still picks a connection up mid-stream only at modifier2 0:
 * binary body bytes start with 0x00 too often.
 */
static void test_any_modifier2(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/x", NULL };
	struct uwsgi_request r;
	char pkt[256];
	size_t n = uwsgi_pkt(pkt, kv);
	int m2;

	for (m2 = 1; m2 < 256; m2 += 127) {
		pkt[3] = (char)m2;
		assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
		assert_int_equal(r.modifier2, m2);
		assert_slice(r.method, r.method_len, "GET");
		assert_slice(r.path, r.path_len, "/x");
		assert_false(wt_looks_like_request((const __u8 *)guarded(pkt, n), (__u32)n));
	}
}

/*
 * The path: REQUEST_URI over PATH_INFO, the last of repeated ones, an empty
 * one naming nothing; cut by the end of the bytes, its start with path_cut
 * (its labels: test_labels).
 */
static void test_path_vars(void **state)
{
	const char *const dup[] = { "REQUEST_URI", "/a", "PATH_INFO", "/pi", "REQUEST_URI", "/b?q", NULL };
	const char *const empty_after[] = { "PATH_INFO", "/pi", "REQUEST_URI", "/u", "REQUEST_URI", "",
					    "PATH_INFO", "", NULL };
	const char *const empty_uri[] = { "REQUEST_URI", "", "PATH_INFO", "/pi", NULL };
	const char *const cut[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/long/path?query", NULL };
	struct uwsgi_request r;
	char pkt[256];
	size_t n, k;

	n = uwsgi_pkt(pkt, dup);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.path, r.path_len, "/b?q");
	n = uwsgi_pkt(pkt, empty_after);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.path, r.path_len, "/u");
	n = uwsgi_pkt(pkt, empty_uri);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.path, r.path_len, "/pi");
	assert_int_equal(r.path_cut, 0);
	/* REQUEST_URI's value starts at byte 4 + 16 + 5 + 13 + 2 = 40. */
	n = uwsgi_pkt(pkt, cut);
	for (k = 40; k < n; k++) {
		assert_int_equal(uwsgi_parse_request(guarded(pkt, k), k, &r), -2);
		if (k == 40) {
			assert_int_equal(r.path_len, 0);
			continue;
		}
		assert_int_equal(r.path_len, k - 40);
		assert_memory_equal(r.path, "/long/path?query", r.path_len);
		assert_int_equal(r.path_cut, 1);
	}
}

static void test_lies(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/x", NULL };
	struct uwsgi_request r;
	char pkt[256], bad[256];
	size_t n = uwsgi_pkt(pkt, kv), k;

	/* keylen past datasize */
	memcpy(bad, pkt, n);
	bad[4] = (char)0xff;
	bad[5] = 0x00;
	assert_int_equal(uwsgi_parse_request(guarded(bad, n), n, &r), -1);
	/* vallen past datasize */
	memcpy(bad, pkt, n);
	bad[4 + 2 + 14] = (char)0xf0;
	assert_int_equal(uwsgi_parse_request(guarded(bad, n), n, &r), -1);
	/* datasize one short: the last value overruns it */
	memcpy(bad, pkt, n);
	bad[1] = (char)(n - 5);
	assert_int_equal(uwsgi_parse_request(guarded(bad, n), n, &r), -1);
	/* datasize one long: a dangling byte that cannot hold a key length */
	memcpy(bad, pkt, n);
	bad[1] = (char)(n - 3);
	bad[n] = 0;
	assert_int_equal(uwsgi_parse_request(guarded(bad, n + 1), n + 1, &r), -1);
	/* empty packet */
	assert_int_equal(uwsgi_parse_request(guarded("\0\0\0\0", 4), 4, &r), -1);
	/* Every prefix of a lying packet: -2 or -1, never a read past the end. */
	memcpy(bad, pkt, n);
	bad[4 + 2 + 14] = (char)0xf0;
	for (k = 0; k <= n; k++) {
		int rc = uwsgi_parse_request(guarded(bad, k), k, &r);

		assert_true(rc == -1 || rc == -2);
	}
}

/*
 * What uWSGI takes, parsed too: empty keys, no or an empty REQUEST_METHOD
 * (both "_OTHER" to labels.c), any modifier1, a CONTENT_LENGTH nobody can
 * read (framing left to the responses), values of any size.
 */
static void test_lenient(void **state)
{
	const char *const kv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/x", NULL };
	const char *const no_method[] = { "REQUEST_URI", "/x", NULL };
	const char *const empty_method[] = { "REQUEST_METHOD", "", "REQUEST_URI", "/x", NULL };
	const char *const bad_cl[][5] = {
		{ "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "12a", NULL },
		{ "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "99999999999999999999999", NULL },
		{ "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "-5", NULL },
	};
	static char huge[3000];
	const char *const big[] = { "REQUEST_METHOD", "GET", "HTTP_COOKIE", huge, "REQUEST_URI", "/big", NULL };
	struct uwsgi_request r;
	char pkt[4096];
	size_t n, i, k;

	n = uwsgi_pkt(pkt, (const char *const[]){ "", "v", "REQUEST_METHOD", "PUT", NULL });
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.method, r.method_len, "PUT");
	n = uwsgi_pkt(pkt, no_method);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.method, r.method_len, NULL);
	assert_slice(r.path, r.path_len, "/x");
	n = uwsgi_pkt(pkt, empty_method);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_int_equal(r.method_len, 0);
	assert_non_null(r.method);
	for (i = 0; i < 3; i++) {
		n = uwsgi_pkt(pkt, bad_cl[i]);
		assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
		assert_int_equal(r.framing_known, 0);
		assert_int_equal(r.content_length, -1);
	}
	n = uwsgi_pkt(pkt, kv);
	pkt[0] = 30; /* nginx uwsgi_modifier1 30 */
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_int_equal(r.modifier1, 30);
	assert_int_equal(r.framing_known, 1);
	memset(huge, 'c', sizeof(huge) - 1);
	n = uwsgi_pkt(pkt, big);
	for (k = 0; k < n; k++)
		assert_int_equal(uwsgi_parse_request(guarded(pkt, k), k, &r), -2);
	assert_int_equal(uwsgi_parse_request(guarded(pkt, n), n, &r), (int)n);
	assert_slice(r.path, r.path_len, "/big");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_partial_label),
		cmocka_unit_test(test_router_header),
		cmocka_unit_test(test_lies),
		cmocka_unit_test(test_any_modifier2),
		cmocka_unit_test(test_path_vars),
		cmocka_unit_test(test_lenient),
	};

	return cmocka_run_group_tests_name("uwsgi_parse", tests, NULL, NULL);
}
