// SPDX-License-Identifier: MIT
#include <string.h>

#include "service.h"

/* Splits NUL-separated argv into at most max words; returns the count. */
static int split_args(const char *args, size_t n, const char **w, size_t *wl, int max)
{
	int k = 0;
	size_t i = 0;

	while (i < n && k < max) {
		size_t s = i;

		while (i < n && args[i])
			i++;
		w[k] = args + s;
		wl[k] = i - s;
		k++;
		i++;
	}
	return k;
}

static const char *base(const char *w, size_t len, size_t *blen)
{
	size_t i = len;

	while (i > 0 && w[i - 1] != '/')
		i--;
	*blen = len - i;
	return w + i;
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t pl = strlen(p);

	return len >= pl && memcmp(s, p, pl) == 0;
}

/* "uwsgi", "uwsgi_python3", "uwsgi-core", "gunicorn3"; not "gunicorn.conf.py". */
static bool name_is(const char *b, size_t bl, const char *name)
{
	size_t nl = strlen(name);
	char c;

	if (!has_prefix(b, bl, name))
		return false;
	if (bl == nl)
		return true;
	c = b[nl];
	return c == '_' || c == '-' || (c >= '0' && c <= '9');
}

static int server_kind(const char *w, size_t len)
{
	size_t bl;
	const char *b;

	/* A word with a space is a shell script line, not the server itself. */
	if (memchr(w, ' ', len))
		return 0;
	b = base(w, len, &bl);
	if (name_is(b, bl, "gunicorn"))
		return 1;
	if (name_is(b, bl, "uwsgi"))
		return 2;
	return 0;
}

/* gunicorn and uWSGI are argv[0], or the script or -m module of an interpreter. */
static int kind_of(const char **w, const size_t *wl, int k)
{
	for (int i = 0; i < k && i < 3; i++) {
		int kind = server_kind(w[i], wl[i]);

		if (kind)
			return kind;
	}
	return 0;
}

bool service_is_server(const char *args, size_t n)
{
	const char *w[3] = { 0 };
	size_t wl[3] = { 0 };
	int k = split_args(args, n, w, wl, 3);

	return kind_of(w, wl, k) != 0;
}

static void put(char *out, size_t outsz, const char *s, size_t len)
{
	size_t j = 0;

	if (!outsz)
		return;
	for (size_t i = 0; i < len && j + 1 < outsz; i++) {
		unsigned char c = s[i];

		/* Keep the label readable and safe; the exposition escapes the rest. */
		out[j++] = (c >= 0x20 && c < 0x7f) ? c : '_';
	}
	out[j] = 0;
}

/* "pkg.mod:app" or "pkg.mod:create_app()" -> "pkg.mod" */
static void module_part(const char *v, size_t len, char *out, size_t outsz)
{
	const char *colon = memchr(v, ':', len);

	put(out, outsz, v, colon ? (size_t)(colon - v) : len);
}

/* "/srv/app/wsgi.py" -> "wsgi" */
static void file_part(const char *v, size_t len, char *out, size_t outsz)
{
	size_t bl;
	const char *b = base(v, len, &bl);

	if (bl > 3 && memcmp(b + bl - 3, ".py", 3) == 0)
		bl -= 3;
	put(out, outsz, b, bl);
}

static bool opt_value(const char *w, size_t wl, const char *next, size_t nl, const char *name,
		      const char **v, size_t *vl)
{
	size_t n = strlen(name);

	if (wl == n && memcmp(w, name, n) == 0 && next) {
		*v = next;
		*vl = nl;
		return true;
	}
	if (wl > n + 1 && memcmp(w, name, n) == 0 && w[n] == '=') {
		*v = w + n + 1;
		*vl = wl - n - 1;
		return true;
	}
	return false;
}

#define MAX_WORDS 128

/* gunicorn options whose value has a colon that is not an APP_MODULE. */
static bool takes_address(const char *w, size_t wl)
{
	static const char *const opts[] = { "-b", "--bind", "--statsd-host", "--paste",
					    "--log-syslog-to", "-c", "--config" };

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (wl == strlen(opts[i]) && memcmp(w, opts[i], wl) == 0)
			return true;
	return false;
}

void service_from_args(const char *args, size_t n, char *out, size_t outsz)
{
	const char *w[MAX_WORDS] = { 0 };
	size_t wl[MAX_WORDS] = { 0 };
	int k = split_args(args, n, w, wl, MAX_WORDS);
	int kind = kind_of(w, wl, k);
	const char *app = NULL, *v;
	size_t appl = 0, vl;

	if (kind == 2) {
		for (int i = 0; i < k; i++) {
			const char *nx = i + 1 < k ? w[i + 1] : NULL;
			size_t nl = i + 1 < k ? wl[i + 1] : 0;

			if (opt_value(w[i], wl[i], nx, nl, "--module", &v, &vl) ||
			    opt_value(w[i], wl[i], nx, nl, "-w", &v, &vl) ||
			    opt_value(w[i], wl[i], nx, nl, "--wsgi", &v, &vl) ||
			    opt_value(w[i], wl[i], nx, nl, "--callable-module", &v, &vl)) {
				module_part(v, vl, out, outsz);
				if (out[0])
					return;
			}
			if (opt_value(w[i], wl[i], nx, nl, "--wsgi-file", &v, &vl) ||
			    opt_value(w[i], wl[i], nx, nl, "--file", &v, &vl)) {
				file_part(v, vl, out, outsz);
				if (out[0])
					return;
			}
		}
		put(out, outsz, "uwsgi", 5);
		return;
	}
	if (kind == 1) {
		/* APP_MODULE is the positional "module:variable" (the last one wins). */
		for (int i = 0; i < k; i++) {
			if (wl[i] && w[i][0] != '-' && memchr(w[i], ':', wl[i]) &&
			    !memchr(w[i], '/', wl[i]) && !(i > 0 && takes_address(w[i - 1], wl[i - 1]))) {
				app = w[i];
				appl = wl[i];
			}
		}
		if (app) {
			module_part(app, appl, out, outsz);
			if (out[0])
				return;
		}
		put(out, outsz, "gunicorn", 8);
		return;
	}
	put(out, outsz, "unknown", 7);
}
