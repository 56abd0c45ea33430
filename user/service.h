/* SPDX-License-Identifier: MIT */
/*
 * Which command lines are Python web servers (gunicorn, uWSGI, uvicorn,
 * hypercorn, daphne, waitress, fastapi run|dev, and what --server-cmdline
 * names), and the service name each one serves.
 */
#ifndef WT_SERVICE_H
#define WT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#define WT_SERVICE_MAX 64

/* args: argv as in /proc/PID/cmdline, NUL separated, n bytes. */
bool service_is_server(const char *args, size_t n);
/* argv[0] is a Python interpreter (python, python3, python3.11, pypy3; any folder). */
bool service_is_python(const char *args, size_t n);
/*
 * One more server command line, a POSIX extended regular expression matched
 * against the command line with its words joined by spaces (as ps shows
 * it). Returns 0, or -1 with err set (a bad expression, too many).
 */
int service_add_cmdline(const char *re, char *err, size_t errlen);
void service_clear_cmdlines(void);
/*
 * The app a server's command line serves: gunicorn's APP_MODULE
 * ("flask_app:app" -> "flask_app"), uWSGI's --module/-w/--wsgi or
 * --wsgi-file/--file (basename without .py); uvicorn's, hypercorn's,
 * daphne's and waitress-serve's positional "module:app" ("main:app" ->
 * "main"); the file of `fastapi run|dev app/main.py` ("main"); else the
 * server's name. Any other command line (--server-cmdline, a script that
 * serves): a positional "module:app", else a Python interpreter's -m module
 * or script name ("python3 /srv/main.py" -> "main"), else argv[0]'s name.
 * Writes a NUL-terminated name of at most outsz-1 bytes.
 */
void service_from_args(const char *args, size_t n, char *out, size_t outsz);

#endif /* WT_SERVICE_H */
