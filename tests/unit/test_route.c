// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "strbuf.h"

/* As the daemon makes a route: the target cut at its query (when the head is read), normalised. */
static const char *norm(const char *in, size_t len, int fold)
{
	static char out[ROUTE_MAX + 1];
	size_t n = route_normalize(in, in ? route_path_len(in, len) : 0, out, sizeof(out), fold);

	assert_int_equal(n, strlen(out));
	return out;
}

#define N(s, fold) norm((s), sizeof(s) - 1, (fold))

static void test_kept_as_sent(void **state)
{
	assert_string_equal(N("/test/", 0), "/test/");
	assert_string_equal(N("/test", 0), "/test");
	assert_string_equal(N("/test/", 1), "/test/");
	assert_string_equal(N("/test1/", 1), "/test1/");
	assert_string_equal(N("//a//b/", 1), "//a//b/");
	assert_string_equal(N("/a%20b", 1), "/a%20b");
	assert_string_equal(N("*", 1), "*");
	assert_string_equal(N("/caf\xc3\xa9/\xe2\x82\xac", 1), "/caf\xc3\xa9/\xe2\x82\xac");
}

static void test_query_and_empty(void **state)
{
	assert_int_equal(route_path_len("/a?b#c", 6), 2);
	assert_int_equal(route_path_len("/a#b?c", 6), 2);
	assert_int_equal(route_path_len("/a", 2), 2);
	/* route_normalize() takes the path as cut: it cuts nothing again. */
	{
		char out[8];

		assert_int_equal(route_normalize("/a?b", 4, out, sizeof(out), 0), 4);
		assert_string_equal(out, "/a?b");
	}
	assert_string_equal(N("/search?q=1&x=2", 0), "/search");
	assert_string_equal(N("/p#frag", 0), "/p");
	assert_string_equal(N("?x=1", 0), "/");
	assert_string_equal(N("", 0), "/");
	assert_string_equal(norm(NULL, 0, 1), "/");
	/* Path parameters are session state, not route (other target forms: test_labels). */
	assert_string_equal(N("/a;jsessionid=X/b", 0), "/a/b");
	assert_string_equal(N("/a;x;y/b;z?q=;", 0), "/a/b");
	assert_string_equal(N("/;x", 0), "/");
	assert_string_equal(N("/users/42;v=1", 1), "/users/{id}");
}

static void test_fold(void **state)
{
	assert_string_equal(N("/users/42", 1), "/users/{id}");
	assert_string_equal(N("/users/42", 0), "/users/42");
	assert_string_equal(N("/users/42/", 1), "/users/{id}/");
	assert_string_equal(N("/42/orders/7?x=1", 1), "/{id}/orders/{id}");
	assert_string_equal(N("/u/123e4567-e89b-12d3-a456-426614174000/x", 1), "/u/{id}/x");
	assert_string_equal(N("/u/123E4567-E89B-12D3-A456-426614174000", 1), "/u/{id}");
	assert_string_equal(N("/blob/0123456789abcdef", 1), "/blob/{id}");
	assert_string_equal(N("/blob/0123456789abcde", 1), "/blob/0123456789abcde"); /* 15 hex */
	assert_string_equal(N("/blob/deadbeef", 1), "/blob/deadbeef");
	assert_string_equal(N("/blob/deadbeefcafebabefacade", 1), "/blob/deadbeefcafebabefacade");
	assert_string_equal(N("/t/a8Zk2LmQ9xw7PbT4", 1), "/t/{id}");
	/* Conservative: words, versions, slugs, file names stay. */
	assert_string_equal(N("/v2/items", 1), "/v2/items");
	assert_string_equal(N("/abcdefghijklmnop1", 1), "/abcdefghijklmnop1");
	assert_string_equal(N("/my-post-2024-01-02", 1), "/my-post-2024-01-02");
	assert_string_equal(N("/static/12345.json", 1), "/static/12345.json");
	assert_string_equal(N("/internationalization", 1), "/internationalization");
	/* A UUID with a wrong group length is not one. */
	assert_string_equal(N("/u/123e4567-e89b-12d3-a456-42661417400", 1), "/u/123e4567-e89b-12d3-a456-42661417400");
}

static void test_invalid_bytes(void **state)
{
#define BAD "\xef\xbf\xbd" /* U+FFFD */
	assert_string_equal(N("/a\xff" "b", 0), "/a" BAD "b");
	assert_string_equal(N("/a\xc3", 0), "/a" BAD);                   /* truncated sequence */
	assert_string_equal(N("/\xc0\xaf", 0), "/" BAD BAD);             /* overlong '/' */
	assert_string_equal(N("/\xed\xa0\x80", 0), "/" BAD BAD BAD);     /* surrogate */
	assert_string_equal(N("/a\nb\"c\\", 0), "/a" BAD "b\"c\\");      /* expose escapes " and \ */
	assert_string_equal(N("/a\0b", 0), "/a" BAD "b");
	assert_string_equal(N("/x\x7f\x07", 0), "/x" BAD BAD);
	/* Invalid bytes never make a segment an id. */
	assert_string_equal(N("/12\xff", 1), "/12" BAD);
}

static void test_bounds(void **state)
{
	char big[4000], out[16];
	size_t n, i;

	memset(big, 'a', sizeof(big));
	big[0] = '/';
	n = route_normalize(big, sizeof(big), out, sizeof(out), 1);
	assert_int_equal(n, 15);
	assert_int_equal(strlen(out), 15);
	n = route_normalize(big, sizeof(big), NULL, 0, 1);
	assert_int_equal(n, 0);
	n = route_normalize(big, sizeof(big), out, 1, 1);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	/* Never cut inside a %XX or a UTF-8 sequence. */
	n = route_normalize("/abcdefghijklm\xff", 15, out, sizeof(out), 0);
	assert_string_equal(out, "/abcdefghijklm");
	n = route_normalize("/abcdefghijklm\xc3\xa9", 16, out, 16, 0);
	assert_string_equal(out, "/abcdefghijklm");
	{
		char o18[18];

		n = route_normalize("/abcdefghijklmn\xc3\xa9", 17, o18, sizeof(o18), 0);
		assert_int_equal(n, 17);
		assert_string_equal(o18, "/abcdefghijklmn\xc3\xa9");
	}
	/* Whatever the input, the output is valid UTF-8 without control bytes. */
	for (i = 0; i < 256; i++) {
		char in[4] = {'/', (char)i, (char)(i ^ 0x80), '/'};
		char o[64];
		size_t j = 0;

		n = route_normalize(in, sizeof(in), o, sizeof(o), 1);
		while (j < n) {
			size_t k = utf8_seq_len((unsigned char *)o + j, n - j);

			assert_true(k > 0);
			assert_true((unsigned char)o[j] >= 0x20 && o[j] != 0x7f);
			j += k;
		}
	}
	/* ROUTE_MAX bounds the daemon's label. */
	{
		char r[ROUTE_MAX + 1];

		n = route_normalize(big, sizeof(big), r, sizeof(r), 0);
		assert_int_equal(n, ROUTE_MAX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_as_sent), cmocka_unit_test(test_query_and_empty),
		cmocka_unit_test(test_fold),         cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
