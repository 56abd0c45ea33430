/* SPDX-License-Identifier: MIT */
/* Which command lines are WSGI servers, and the service name each one serves. */
#ifndef WT_SERVICE_H
#define WT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#define WT_SERVICE_MAX 64

/* args: argv as in /proc/PID/cmdline, NUL separated, n bytes. */
bool service_is_server(const char *args, size_t n);
/*
 * The WSGI app a server's command line serves: gunicorn's APP_MODULE
 * ("flask_app:app" -> "flask_app"), uWSGI's --module/-w/--wsgi or
 * --wsgi-file/--file (basename without .py); else "gunicorn" or "uwsgi".
 * Writes a NUL-terminated name of at most outsz-1 bytes.
 */
void service_from_args(const char *args, size_t n, char *out, size_t outsz);

#endif /* WT_SERVICE_H */
