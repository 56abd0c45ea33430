// SPDX-License-Identifier: MIT
/*
 * The server-state families. Listen backlogs are read from the servers'
 * masters (the processes that opened the listening sockets; workers share
 * them), each socket once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "expose.h"
#include "labels.h"
#include "listeners.h"
#include "promtext.h"
#include "saturation.h"
#include "serverstate.h"
#include "svckey.h"

#define MAX_LISTENERS 1024
/*
 * (service, reason, route) counters of unanswered requests kept apart; past
 * it, or past a fifth of it for one service, they share an "_overflow"
 * route as the histogram's series do (agg.h).
 */
#define MAX_UNANSWERED 4096

static const char *const unanswered_reason[WT_UNANSWERED_MAX] = {
	[WT_UNANSWERED_CLOSED] = "connection_closed",
	[WT_UNANSWERED_CLIENT_GONE] = "client_gone",
	[WT_UNANSWERED_WORKER_EXITED] = "worker_exited",
	[WT_UNANSWERED_EXPIRED] = "idle_expired",
	[WT_UNANSWERED_GONE_QUEUED] = "client_gone_queued",
};

struct listen_row {
	const char *service;
	struct listener l;
};

struct serverstate {
	struct agg *queue;
	struct saturation *sat;
	struct listener_reader *reader;
	struct strbuf out;
	struct listen_row rows[MAX_LISTENERS];
	size_t nrows;
	const char *service; /* of the master being read */
	struct agg *unanswered; /* reason as the method, count only */
};

struct serverstate *serverstate_new(const double *bounds, size_t nbounds, char *err, size_t errlen)
{
	struct serverstate *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* One series per service: its own cap never matters. */
	s->queue = agg_new(bounds, nbounds, 100000, err, errlen);
	s->unanswered = s->queue ? agg_new((const double[]){1}, 1, MAX_UNANSWERED, err, errlen) : NULL;
	s->sat = sat_new();
	if (!s->queue || !s->unanswered || !s->sat) {
		if (s->unanswered && !s->sat)
			snprintf(err, errlen, "out of memory");
		serverstate_free(s);
		return NULL;
	}
	/* Counts alone: native buckets would be memory nobody reads. The queue
	 * time gets the daemon's native options (serverstate_queue_agg()). */
	agg_set_native(s->queue, &(struct native_opts){ .max_buckets = 0 });
	agg_set_native(s->unanswered, &(struct native_opts){ .max_buckets = 0 });
	return s;
}

struct agg *serverstate_queue_agg(struct serverstate *s)
{
	return s->queue;
}

void serverstate_start_reader(struct serverstate *s)
{
	s->reader = listeners_reader_start();
}

struct listener_reader *serverstate_reader(struct serverstate *s)
{
	return s->reader;
}

void serverstate_queue(struct serverstate *s, const char *service, uint64_t queue_ns)
{
	agg_observe(s->queue, service, "", "", 0, queue_ns);
}

void serverstate_unanswered(struct serverstate *s, const char *service, enum wt_unanswered why, const char *route)
{
	if ((unsigned)why < WT_UNANSWERED_MAX)
		agg_observe(s->unanswered, service, unanswered_reason[why], route ? route : LABEL_ROUTE_UNKNOWN, 0, 0);
}

static void add_process(uint32_t pid, const char *service, bool root, void *ctx)
{
	sat_process(ctx, pid, service, root);
}

static void add_request(uint32_t tgid, void *ctx)
{
	sat_request(ctx, tgid);
}

static void add_listener(const struct listener *l, void *ctx)
{
	struct serverstate *s = ctx;

	for (size_t i = 0; i < s->nrows; i++)
		if (s->rows[i].l.ino == l->ino)
			return;
	if (s->nrows < MAX_LISTENERS)
		s->rows[s->nrows++] = (struct listen_row){ .service = s->service, .l = *l };
}

static void read_master(uint32_t pid, const char *service, bool root, void *ctx)
{
	struct serverstate *s = ctx;

	if (!root)
		return;
	s->service = service;
	listeners_read(s->reader, pid, add_listener, s);
}

static void sample(struct strbuf *sb, const char *name, const char *service, const char *address,
		   uint64_t v)
{
	sb_puts(sb, name);
	sb_putc(sb, '{');
	if (address) {
		promtext_label(sb, "listen_address", address);
		sb_putc(sb, ',');
	}
	svckey_render(sb, service);
	promtext_sample_end(sb, v);
}

static const struct {
	const char *name, *help;
	size_t off;
} sat_families[] = {
	{ "http_server_active_requests", "Requests a server has read and not yet answered.",
	  offsetof(struct sat_row, active) },
	{ "wsgi_server_workers", "Worker processes of the server being traced (its master when it has none).",
	  offsetof(struct sat_row, workers) },
	{ "wsgi_server_workers_busy", "Worker processes with at least one request in flight; busy / workers is "
	  "the saturation of a prefork server.", offsetof(struct sat_row, busy) },
};

static const struct {
	const char *name, *type, *help;
	size_t off, size;
} listen_families[] = {
	{ "wsgi_server_listen_queue_length", "gauge",
	  "Connections in the listen socket's accept queue, waiting for a worker to accept them.",
	  offsetof(struct listener, queued), sizeof(uint32_t) },
	{ "wsgi_server_listen_queue_limit", "gauge",
	  "The accept queue's limit (listen()'s backlog, capped by net.core.somaxconn).",
	  offsetof(struct listener, limit), sizeof(uint32_t) },
	{ "wsgi_server_listen_drops_total", "counter",
	  "Connections the kernel dropped at this listen socket, a full accept queue among the reasons "
	  "(since the socket was opened).", offsetof(struct listener, drops), sizeof(uint64_t) },
};

const struct strbuf *serverstate_render(struct serverstate *s, const struct proctab *procs,
					const struct conntrack *ct)
{
	const struct sat_row *rows;
	struct agg_series *const *un;
	size_t n, f, i;

	sb_reset(&s->out);

	sat_reset(s->sat);
	proctab_foreach(procs, add_process, s->sat);
	conntrack_pending(ct, add_request, s->sat);
	n = sat_rows(s->sat, &rows);
	for (f = 0; f < sizeof(sat_families) / sizeof(sat_families[0]); f++) {
		promtext_family(&s->out, sat_families[f].name, "gauge", sat_families[f].help);
		for (i = 0; i < n; i++) {
			uint32_t v;

			memcpy(&v, (const char *)&rows[i] + sat_families[f].off, sizeof(v));
			sample(&s->out, sat_families[f].name, rows[i].service, NULL, v);
		}
	}

	promtext_family(&s->out, "wsgi_server_requests_unanswered_total", "counter",
			"Requests a server read and never answered, by the reason wsgitrace can tell: the client "
			"reset the connection while the server had the request (client_gone) or while it waited in "
			"the backlog (client_gone_queued), the process that read it exited (worker_exited), the "
			"connection ended first (connection_closed), it stayed idle past the timeout (idle_expired); "
			"http_route as the duration histogram's, _unknown when the request's head was not read.");
	n = agg_list(s->unanswered, &un);
	for (i = 0; i < n; i++) {
		sb_puts(&s->out, "wsgi_server_requests_unanswered_total{");
		promtext_label(&s->out, "reason", un[i]->method);
		sb_putc(&s->out, ',');
		svckey_render(&s->out, un[i]->service);
		sb_putc(&s->out, ',');
		promtext_label(&s->out, "http_route", un[i]->route);
		promtext_sample_end(&s->out, un[i]->count);
	}

	s->nrows = 0;
	proctab_foreach(procs, read_master, s);
	for (f = 0; f < sizeof(listen_families) / sizeof(listen_families[0]); f++) {
		promtext_family(&s->out, listen_families[f].name, listen_families[f].type, listen_families[f].help);
		for (i = 0; i < s->nrows; i++) {
			uint64_t v = 0;
			uint32_t v32;

			if (listen_families[f].size == sizeof(v32)) {
				memcpy(&v32, (const char *)&s->rows[i].l + listen_families[f].off, sizeof(v32));
				v = v32;
			} else {
				memcpy(&v, (const char *)&s->rows[i].l + listen_families[f].off, sizeof(v));
			}
			sample(&s->out, listen_families[f].name, s->rows[i].service, s->rows[i].l.address, v);
		}
	}
	return &s->out;
}

void serverstate_ports(const struct serverstate *s, void (*fn)(uint16_t port, void *ctx), void *ctx)
{
	for (size_t i = 0; i < s->nrows; i++)
		fn(s->rows[i].l.port, ctx);
}

void serverstate_free(struct serverstate *s)
{
	if (!s)
		return;
	listeners_reader_stop(s->reader);
	agg_free(s->unanswered);
	agg_free(s->queue);
	sat_free(s->sat);
	sb_free(&s->out);
	free(s);
}
