// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "service.h"

/* Builds a NUL-separated argv like /proc/PID/cmdline from a |-separated string. */
static size_t mk(char *buf, const char *spec)
{
	size_t n = strlen(spec);

	memcpy(buf, spec, n + 1);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = 0;
	return n + 1;
}

static void check(const char *spec, bool server, const char *name)
{
	char args[512], out[WT_SERVICE_MAX];
	size_t n = mk(args, spec);

	assert_int_equal(service_is_server(args, n), server);
	service_from_args(args, n, out, sizeof(out));
	assert_string_equal(out, name);
}

static void test_gunicorn(void **state)
{
	check("/usr/bin/python3|/usr/bin/gunicorn|-w|3|-b|127.0.0.1:18001|flask_app:app", true, "flask_app");
	check("gunicorn|flask_app:app|-b|0.0.0.0:8000", true, "flask_app");
	check("/usr/bin/python3|/usr/bin/gunicorn|--bind=unix:/tmp/g.sock|pkg.wsgi:application", true, "pkg.wsgi");
	check("python|-m|gunicorn|app:create_app()", true, "app");
	check("gunicorn: master [flask_app:app]", false, "unknown");
	check("/usr/bin/gunicorn|-c|conf.py", true, "gunicorn");
	check("gunicorn|--statsd-host|localhost:8125|web:app", true, "web");
}

static void test_uwsgi(void **state)
{
	check("/usr/bin/uwsgi|--plugin|python3|--http-socket|:9090|--module|flask_app:app", true, "flask_app");
	check("uwsgi|--http-socket|:9090|-w|myapp", true, "myapp");
	check("uwsgi|--socket=/tmp/u.sock|--wsgi-file|/srv/app/wsgi.py", true, "wsgi");
	check("uwsgi|--module=flask_app:app", true, "flask_app");
	check("/usr/bin/uwsgi_python3|--ini|app.ini", true, "uwsgi");
}

static void test_not_servers(void **state)
{
	check("/usr/bin/python3|manage.py|runserver", false, "unknown");
	check("bash|-c|cd /srv && /usr/bin/gunicorn app:app", false, "unknown");
	check("vim|notes.txt|gunicorn.conf.py", false, "unknown");
	check("", false, "unknown");
}

static void test_truncated_and_odd(void **state)
{
	char out[8];
	const char args[] = "uwsgi\0--module\0a_very_long_module_name:app";

	service_from_args(args, sizeof(args), out, sizeof(out));
	assert_string_equal(out, "a_very_");
	/* A value at the very end without its NUL, as a 256-byte capture may end. */
	service_from_args("uwsgi\0--module", 14, out, sizeof(out));
	assert_string_equal(out, "uwsgi");
	service_from_args("gunicorn\0a\x01:b", 13, out, sizeof(out));
	assert_string_equal(out, "a_");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gunicorn),
		cmocka_unit_test(test_uwsgi),
		cmocka_unit_test(test_not_servers),
		cmocka_unit_test(test_truncated_and_odd),
	};

	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
