// SPDX-License-Identifier: MIT
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "service.h"

/* The servers known by name, argv[0] or an interpreter's script or -m module. */
enum kind {
	K_NONE,
	K_GUNICORN,
	K_UWSGI,
	K_UVICORN,
	K_HYPERCORN,
	K_DAPHNE,
	K_WAITRESS, /* waitress-serve, python -m waitress */
	K_FASTAPI,  /* fastapi run|dev: fastapi-cli, which runs uvicorn */
	K_OTHER,    /* a command line matching --server-cmdline */
};

static const struct {
	const char *name;
	enum kind kind;
} known[] = {
	{ "gunicorn", K_GUNICORN }, { "uwsgi", K_UWSGI },	  { "uvicorn", K_UVICORN }, { "hypercorn", K_HYPERCORN },
	{ "daphne", K_DAPHNE },	    { "waitress", K_WAITRESS }, { "fastapi", K_FASTAPI },
};

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

#define MAX_WORDS 128

static bool word_is(const char *w, size_t wl, const char *s)
{
	return wl == strlen(s) && memcmp(w, s, wl) == 0;
}

static enum kind server_kind(const char *w, size_t len)
{
	size_t bl;
	const char *b;

	/* A word with a space is a shell script line, not the server itself. */
	if (memchr(w, ' ', len))
		return K_NONE;
	b = base(w, len, &bl);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (name_is(b, bl, known[i].name))
			return known[i].kind;
	return K_NONE;
}

static bool is_python(const char *w, size_t wl);

/*
 * The word of a Python interpreter's command line that names its program:
 * the -m module or the script, past the interpreter's options (-W and -X
 * take a value; -c has no program). -1 when there is none.
 */
static int python_program_at(const char **w, const size_t *wl, int k)
{
	for (int i = 1; i < k; i++) {
		if (wl[i] >= 2 && w[i][0] == '-' && w[i][1] == 'c')
			return -1;
		if (word_is(w[i], wl[i], "-m"))
			return i + 1 < k ? i + 1 : -1;
		if (word_is(w[i], wl[i], "-W") || word_is(w[i], wl[i], "-X")) {
			i++;
			continue;
		}
		if (wl[i] && w[i][0] != '-')
			return i;
	}
	return -1;
}

static enum kind kind_word(const char **w, const size_t *wl, int k, int i)
{
	enum kind kind = server_kind(w[i], wl[i]);

	/* fastapi serves only as `fastapi run` or `fastapi dev`. */
	if (kind == K_FASTAPI && !(i + 1 < k && (word_is(w[i + 1], wl[i + 1], "run") ||
						 word_is(w[i + 1], wl[i + 1], "dev"))))
		return K_NONE;
	return kind;
}

/*
 * The servers are argv[0], or the program (script or -m module) of a Python
 * interpreter; *at is the word that named it. Behind another launcher
 * (ddtrace-run, opentelemetry-instrument, newrelic-admin run-program) the
 * server is one of the first three words.
 */
static enum kind kind_at(const char **w, const size_t *wl, int k, int *at)
{
	enum kind kind;
	int i;

	if (k && is_python(w[0], wl[0])) {
		i = python_program_at(w, wl, k);
		if (i < 0 || !(kind = kind_word(w, wl, k, i)))
			return K_NONE;
		*at = i;
		return kind;
	}
	for (i = 0; i < k && i < 3; i++) {
		kind = kind_word(w, wl, k, i);
		if (kind) {
			*at = i;
			return kind;
		}
	}
	return K_NONE;
}

/* ---- --server-cmdline ---------------------------------------------------- */

#define MAX_PATTERNS 16

static regex_t patterns[MAX_PATTERNS];
static size_t npatterns;

int service_add_cmdline(const char *re, char *err, size_t errlen)
{
	int e;

	if (npatterns == MAX_PATTERNS) {
		snprintf(err, errlen, "at most %d --server-cmdline patterns", MAX_PATTERNS);
		return -1;
	}
	e = regcomp(&patterns[npatterns], re, REG_EXTENDED | REG_NOSUB);
	if (e) {
		regerror(e, &patterns[npatterns], err, errlen);
		return -1;
	}
	npatterns++;
	return 0;
}

void service_clear_cmdlines(void)
{
	for (size_t i = 0; i < npatterns; i++)
		regfree(&patterns[i]);
	npatterns = 0;
}

/* The command line as ps shows it: words joined by spaces. */
static bool matches_pattern(const char *args, size_t n)
{
	char line[4096];
	size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	if (!npatterns || !n)
		return false;
	memcpy(line, args, len);
	while (len > 0 && !line[len - 1])
		len--;
	for (size_t i = 0; i < len; i++)
		if (!line[i])
			line[i] = ' ';
	line[len] = 0;
	for (size_t i = 0; i < npatterns; i++)
		if (regexec(&patterns[i], line, 0, NULL, 0) == 0)
			return true;
	return false;
}

static enum kind kind_of(const char *args, size_t n, const char **w, const size_t *wl, int k, int *at)
{
	enum kind kind = kind_at(w, wl, k, at);

	if (!kind && matches_pattern(args, n)) {
		*at = 0;
		kind = K_OTHER;
	}
	return kind;
}

bool service_is_server(const char *args, size_t n)
{
	const char *w[MAX_WORDS] = { 0 };
	size_t wl[MAX_WORDS] = { 0 };
	int k = split_args(args, n, w, wl, MAX_WORDS), at;

	return kind_of(args, n, w, wl, k, &at) != K_NONE;
}

/* "python", "python3", "python3.11", "pypy3" (argv[0], any folder). */
static bool is_python(const char *w, size_t wl)
{
	size_t bl, i;
	const char *b = base(w, wl, &bl);

	if (has_prefix(b, bl, "python"))
		i = 6;
	else if (has_prefix(b, bl, "pypy"))
		i = 4;
	else
		return false;
	for (; i < bl; i++)
		if (!((b[i] >= '0' && b[i] <= '9') || b[i] == '.'))
			return false;
	return true;
}

bool service_is_python(const char *args, size_t n)
{
	const char *w[1] = { 0 };
	size_t wl[1] = { 0 };

	return split_args(args, n, w, wl, 1) == 1 && is_python(w[0], wl[0]);
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


/* Options whose value may hold a colon that is not an app (an address, a header). */
static bool takes_address(const char *w, size_t wl)
{
	static const char *const opts[] = { "-b",	      "--bind",		 "--statsd-host", "--paste",
					    "--log-syslog-to", "-c",		 "--config",	  "--header",
					    "--host",	      "--insecure-bind", "--quic-bind",	  "-e",
					    "--endpoint",     "--root-path",	 "--uds",	  "-u",
					    "--unix-socket",  "--forwarded-allow-ips" };

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (word_is(w, wl, opts[i]))
			return true;
	return false;
}

static bool ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* "pkg.mod:app", "main:create_app()": a dotted module, a colon, a name. */
static bool looks_like_app(const char *w, size_t wl)
{
	size_t i = 0;

	if (!wl || !ident_char(w[0], true))
		return false;
	while (i < wl && (ident_char(w[i], false) || w[i] == '.'))
		i++;
	return i + 1 < wl && w[i] == ':' && ident_char(w[i + 1], true);
}

/* The last positional "module:app" of an ASGI/WSGI server's command line, from word `from`. */
static bool app_arg(const char **w, const size_t *wl, int k, int from, char *out, size_t outsz)
{
	const char *app = NULL;
	size_t appl = 0;

	for (int i = from; i < k; i++) {
		if (looks_like_app(w[i], wl[i]) && !(i > 0 && takes_address(w[i - 1], wl[i - 1]))) {
			app = w[i];
			appl = wl[i];
		}
	}
	if (!app)
		return false;
	module_part(app, appl, out, outsz);
	return out[0] != 0;
}

/* A Python interpreter's program: `-m mod` -> "mod", a script -> its name without .py. */
static bool python_program(const char **w, const size_t *wl, int k, char *out, size_t outsz)
{
	int i = python_program_at(w, wl, k);

	if (i < 0)
		return false;
	if (i > 0 && word_is(w[i - 1], wl[i - 1], "-m"))
		put(out, outsz, w[i], wl[i]);
	else
		file_part(w[i], wl[i], out, outsz);
	return out[0] != 0;
}

static void uwsgi_service(const char **w, const size_t *wl, int k, char *out, size_t outsz)
{
	const char *v;
	size_t vl;

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
}

static void gunicorn_service(const char **w, const size_t *wl, int k, char *out, size_t outsz)
{
	const char *app = NULL;
	size_t appl = 0;

	/* APP_MODULE is the positional "module:variable" (the last one wins). */
	for (int i = 0; i < k; i++) {
		if (wl[i] && w[i][0] != '-' && memchr(w[i], ':', wl[i]) && !memchr(w[i], '/', wl[i]) &&
		    !(i > 0 && takes_address(w[i - 1], wl[i - 1]))) {
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
}

/* `fastapi run|dev [PATH]`: the module file's name ("app/main.py" -> "main"), else "fastapi". */
static void fastapi_service(const char **w, const size_t *wl, int k, int at, char *out, size_t outsz)
{
	for (int i = at + 2; i < k; i++) {
		if (!wl[i] || w[i][0] == '-')
			continue;
		if (i > 0 && wl[i - 1] > 2 && w[i - 1][0] == '-' && w[i - 1][1] == '-' && !memchr(w[i - 1], '=', wl[i - 1]) &&
		    !word_is(w[i - 1], wl[i - 1], "--reload") && !word_is(w[i - 1], wl[i - 1], "--no-reload") &&
		    !word_is(w[i - 1], wl[i - 1], "--proxy-headers") && !word_is(w[i - 1], wl[i - 1], "--no-proxy-headers"))
			continue; /* the value of --host, --port, --app, ... */
		file_part(w[i], wl[i], out, outsz);
		if (out[0])
			return;
	}
	put(out, outsz, "fastapi", 7);
}

void service_from_args(const char *args, size_t n, char *out, size_t outsz)
{
	static const char *const names[] = { [K_UVICORN] = "uvicorn", [K_HYPERCORN] = "hypercorn",
					     [K_DAPHNE] = "daphne", [K_WAITRESS] = "waitress" };
	const char *w[MAX_WORDS] = { 0 };
	size_t wl[MAX_WORDS] = { 0 };
	int k = split_args(args, n, w, wl, MAX_WORDS), at = 0;
	enum kind kind = kind_of(args, n, w, wl, k, &at);

	switch (kind) {
	case K_UWSGI:
		uwsgi_service(w, wl, k, out, outsz);
		return;
	case K_GUNICORN:
		gunicorn_service(w, wl, k, out, outsz);
		return;
	case K_FASTAPI:
		fastapi_service(w, wl, k, at, out, outsz);
		return;
	case K_UVICORN:
	case K_HYPERCORN:
	case K_DAPHNE:
	case K_WAITRESS:
		if (!app_arg(w, wl, k, at + 1, out, outsz))
			put(out, outsz, names[kind], strlen(names[kind]));
		return;
	case K_OTHER:
	case K_NONE:
		break;
	}
	/* Another server (--server-cmdline) or a script that serves: its app, program, or name. */
	if (k && (app_arg(w, wl, k, 1, out, outsz) || (is_python(w[0], wl[0]) && python_program(w, wl, k, out, outsz))))
		return;
	if (k && wl[0] && !is_python(w[0], wl[0]) && !memchr(w[0], ' ', wl[0])) {
		size_t bl;
		const char *b = base(w[0], wl[0], &bl);

		put(out, outsz, b, bl);
		if (out[0])
			return;
	}
	put(out, outsz, "unknown", 7);
}
