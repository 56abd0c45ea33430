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

static void test_asgi_and_waitress(void **state)
{
	/* Debian's uvicorn has no script: python3 -m uvicorn; pip's has one. */
	check("/usr/bin/python3|-m|uvicorn|main:app|--workers|2", true, "main");
	check("/srv/venv/bin/python|/srv/venv/bin/uvicorn|app.main:app|--host|::|--port|80", true, "app.main");
	check("uvicorn|--header|server:me|--factory|pkg.web:create_app", true, "pkg.web");
	check("uvicorn|--host|0.0.0.0|--reload|main:app", true, "main");
	check("python3|-m|uvicorn|--app-dir|/srv/x", true, "uvicorn");
	check("/usr/bin/python3|/usr/bin/hypercorn|-w|2|-b|127.0.0.1:8000|fastapi_app:app", true, "fastapi_app");
	check("hypercorn|-b|localhost:8000|--worker-class|uvloop|svc:app", true, "svc");
	check("/usr/bin/python3|/usr/bin/daphne|-p|8000|proj.asgi:application", true, "proj.asgi");
	check("daphne|-e|tcp:port=8000|proj.asgi:application", true, "proj.asgi");
	check("/usr/bin/python3|/usr/bin/waitress-serve|--listen=127.0.0.1:8080|flask_app:app", true, "flask_app");
	check("python3|-m|waitress|--port=8080|--call|shop:create_app", true, "shop");
	check("waitress-serve|--listen=*:8080", true, "waitress");
	/* fastapi-cli: the module file's name. */
	check("/srv/venv/bin/python|/srv/venv/bin/fastapi|run|app/main.py", true, "main");
	check("fastapi|dev|--port|8001|api.py", true, "api");
	check("fastapi|run|--host|0.0.0.0|app/main.py|--workers|4", true, "main");
	check("fastapi|run", true, "fastapi");
	check("fastapi|--version", false, "fastapi");
}

static void test_scripts(void **state)
{
	/* Not servers by their command line; named for when they serve (listening, --server-cmdline). */
	check("/usr/bin/python3|main.py", false, "main");
	check("python3.11|-u|-X|dev|/srv/app/serve.py|--port|8000", false, "serve");
	check("python|-m|mypkg.server", false, "mypkg.server");
	check("/usr/bin/python3|serve_script.py|uvicorn|8000", false, "serve_script");
	check("/usr/bin/python3|-u|-m|uvicorn|main:app", true, "main");
	check("ddtrace-run|uvicorn|main:app", true, "main");
	check("/usr/bin/python3|-c|import x", false, "unknown");
	check("granian|--interface|asgi|main:app", false, "main");
	check("/opt/bin/myserver|--port|80", false, "myserver");
	assert_true(service_is_python("/usr/bin/python3.11\0x.py", 20));
	assert_true(service_is_python("pypy3", 5));
	assert_false(service_is_python("/usr/bin/pythonista", 19));
	assert_false(service_is_python("gunicorn", 8));
}

static void test_server_cmdline(void **state)
{
	char err[128];

	check("granian|--interface|asgi|main:app", false, "main");
	assert_int_equal(service_add_cmdline("^granian .*--interface", err, sizeof(err)), 0);
	assert_int_equal(service_add_cmdline("(^| )/srv/bin/myserver( |$)", err, sizeof(err)), 0);
	check("granian|--interface|asgi|main:app", true, "main");
	check("/srv/bin/myserver|--port|80", true, "myserver");
	check("/srv/bin/myserver2|--port|80", false, "myserver2");
	/* Built-in servers keep their own names. */
	check("gunicorn|flask_app:app", true, "flask_app");
	assert_int_equal(service_add_cmdline("(", err, sizeof(err)), -1);
	assert_true(err[0]);
	service_clear_cmdlines();
	check("granian|--interface|asgi|main:app", false, "main");
}

static void test_not_servers(void **state)
{
	check("/usr/bin/python3|manage.py|runserver", false, "manage");
	check("bash|-c|cd /srv && /usr/bin/gunicorn app:app", false, "bash");
	check("vim|notes.txt|gunicorn.conf.py", false, "vim");
	check("/usr/bin/python3|-B|-c|from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)", false, "unknown");
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
		cmocka_unit_test(test_asgi_and_waitress),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_server_cmdline),
		cmocka_unit_test(test_not_servers),
		cmocka_unit_test(test_truncated_and_odd),
	};

	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
