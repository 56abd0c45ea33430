/* SPDX-License-Identifier: MIT */
/*
 * What the traced servers are doing, beyond each request's duration: how
 * long requests waited in the listen backlog, how many are in flight, how
 * many worker processes are busy, and how full each listen backlog is now.
 * Gauges are tallied when a scrape asks, so they are exact at that moment.
 */
#ifndef WT_SERVERSTATE_H
#define WT_SERVERSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "conntrack.h"
#include "proctab.h"
#include "strbuf.h"

#define SERVERSTATE_QUEUE_NAME "http_server_request_queue_duration_seconds"
#define SERVERSTATE_QUEUE_HELP                                                                                 \
	"Time a new connection's first request waited before a worker read it: from the kernel completing the " \
	"TCP handshake (the connection entering the listen backlog) to the worker's first read. Kept-alive "     \
	"requests and AF_UNIX are not measured."

struct serverstate;

/* bounds as for agg_new (NULL: the defaults). NULL on error, with err set. */
struct serverstate *serverstate_new(const double *bounds, size_t nbounds, char *err, size_t errlen);
/*
 * Forks the reader of listen backlogs while the process still has the
 * capabilities it needs (listeners.h); without it they are read directly.
 */
void serverstate_start_reader(struct serverstate *s);
/* That reader, for other questions about listening sockets; NULL before it starts. */
struct listener_reader *serverstate_reader(struct serverstate *s);
/* A new connection's first request waited queue_ns in the backlog. */
void serverstate_queue(struct serverstate *s, const char *service, uint64_t queue_ns);
/*
 * A request service's server read got no response, for the reason why
 * (conntrack.h); route is its http_route label, NULL when its head was not
 * read. Kept within the histogram's series limits (agg.h).
 */
void serverstate_unanswered(struct serverstate *s, const char *service, enum wt_unanswered why, const char *route);
/*
 * The queue time histogram (SERVERSTATE_QUEUE_NAME, series by service_name
 * alone), which the exposition renders itself (expose_self.svc_hist), first
 * among these families; its native buckets are off until agg_set_native().
 */
struct agg *serverstate_queue_agg(struct serverstate *s);
/* The other families, rendered now; valid until the next call. */
const struct strbuf *serverstate_render(struct serverstate *s, const struct proctab *procs,
					const struct conntrack *ct);
/* The listening ports the last render found, for the kernel side's port map. */
void serverstate_ports(const struct serverstate *s, void (*fn)(uint16_t port, void *ctx), void *ctx);
void serverstate_free(struct serverstate *s);

#endif /* WT_SERVERSTATE_H */
