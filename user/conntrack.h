/* SPDX-License-Identifier: MIT */
/*
 * Per-connection stream tracker: turns the kernel's recv/send/close records
 * into completed requests (struct wt_request), one callback per request.
 *
 * A connection is (sk, ino), never a thread: gevent interleaves connections on
 * one tid and gthread spreads one connection over several. Requests (HTTP/1.x
 * heads or uwsgi packets) queue up in order; responses (always HTTP) complete
 * them in order. The responses are the truth for counting: every final
 * response head the server writes completes one request, the k-th response
 * the k-th request, whatever the request looked like; a request the parser
 * cannot read still queues (with the labels that can be recovered), and a
 * response whose request was missed completes a placeholder. Where bytes the
 * framing needs were not captured, requests and responses are delimited by
 * alternation instead and flagged.
 *
 * Not thread-safe: one consumer thread owns a tracker.
 */
#ifndef WT_CONNTRACK_H
#define WT_CONNTRACK_H

#include <stdint.h>
#include <linux/types.h>

#include "wsgitrace.h"
#include "request.h"

/*
 * Called once for a connection found to carry a protocol we do not speak
 * (the server's first send on it is no HTTP response: TLS on a TLS port, a
 * server-first protocol): the kernel side may stop sending its records.
 */
typedef void (*conntrack_ignore_cb)(uint64_t sk, uint64_t ino, void *ctx);
/* A connection of tgid's whose server wrote a TLS record first: TLS that was not read. */
typedef void (*conntrack_tls_cb)(uint32_t tgid, void *ctx);

/* Why a request read by a server got no response. */
enum wt_unanswered {
	WT_UNANSWERED_CLOSED = 0,  /* the connection ended first (the server closed it, or the client) */
	WT_UNANSWERED_CLIENT_GONE, /* the client reset the connection while it waited */
	WT_UNANSWERED_WORKER_EXITED, /* the process that read it exited (killed, recycled) */
	WT_UNANSWERED_EXPIRED,     /* the connection was idle past the timeout */
	WT_UNANSWERED_GONE_QUEUED, /* the client reset it while it waited in the backlog */
	WT_UNANSWERED_MAX,
};

/* One request read and never answered: rq as read (tgid, method, path), no status or end. */
typedef void (*conntrack_unanswered_cb)(const struct wt_request *rq, enum wt_unanswered why, void *ctx);

struct conntrack_opts {
	uint32_t max_conns;       /* tracked at once; 0: 131072 */
	uint32_t max_pending;     /* queued requests per connection; 0: 32 */
	uint64_t unix_grace_ns;   /* AF_UNIX idle time that ends an unframed response; 0: 2 s */
	uint64_t idle_timeout_ns; /* connection idle time before it is dropped; 0: 300 s */
	uint64_t hold_ns;         /* wait for a close after a response still in flight; 0: 50 ms */
	conntrack_ignore_cb ignore; /* may be NULL */
	void *ignore_ctx;
	conntrack_unanswered_cb unanswered; /* may be NULL */
	void *unanswered_ctx;
	conntrack_tls_cb tls_unread; /* may be NULL */
	void *tls_ctx;
};

/* Counters only go up, except conns_active. */
struct conntrack_stats {
	uint64_t conns_active;       /* connections in the table now */
	uint64_t conns_total;        /* connections ever tracked */
	uint64_t conns_dropped;      /* request starts of connections the full table refused */
	uint64_t conns_expired;      /* connections dropped after idle_timeout_ns */
	uint64_t requests;           /* requests handed to the callback */
	uint64_t parse_errors_http;  /* request heads, chunked bodies, response heads */
	uint64_t parse_errors_uwsgi; /* uwsgi packets */
	uint64_t framing_lost;       /* requests not counted: their framing bytes were not captured */
	uint64_t framing_recovered;  /* requests counted although framing bytes were not captured */
	uint64_t unanswered;         /* requests pending when their connection ended */
	uint64_t client_reset;       /* requests pending when the client reset the connection */
	uint64_t missed_requests;    /* responses counted whose request was not seen (placeholder labels) */
	uint64_t not_http;           /* connections whose server spoke something else than HTTP */
	uint64_t http2;              /* of those, connections the client opened with the HTTP/2 preface */
	uint64_t upgraded;           /* connections that left HTTP/1.x after a 101 (WebSocket, h2c) */
	uint64_t orphan_responses;   /* sends with no request to answer that start no response */
	uint64_t pending_overflow;   /* requests dropped: the per-connection queue was full */
	uint64_t events;             /* records given to conntrack_event */
	uint64_t relayed;            /* requests forgotten: a traced relay counts them */
};

struct conntrack;
struct promtext_table;

struct conntrack *conntrack_new(const struct conntrack_opts *o, wt_request_cb cb, void *ctx);
/*
 * One record of any WT_EV_* connection type. A header-only record may be passed cast: data[] is
 * never read past cap_len (nor past len).
 */
void conntrack_event(struct conntrack *ct, const struct wt_conn_event *e); /* DATA, CLOSE, ACKED, RELAYED */
/*
 * Calls fn once per request read and not yet answered (in flight), with the
 * process that read it: exact at the moment of the call.
 */
typedef void (*conntrack_pending_fn)(uint32_t tgid, void *ctx);
void conntrack_pending(const struct conntrack *ct, conntrack_pending_fn fn, void *ctx);
/* The process exited: finalize and forget its connections. */
void conntrack_proc_exit(struct conntrack *ct, uint32_t tgid, uint64_t ts_ns);
/* Expiry: unix grace and idle timeout, against the events' clock. */
void conntrack_tick(struct conntrack *ct, uint64_t now_ns);
const struct conntrack_stats *conntrack_stats(const struct conntrack *ct);
/* The self metrics of conntrack_stats() (promtext.h). */
extern const struct promtext_table conntrack_metrics;
/* Frees everything; pending requests are dropped without being counted. */
void conntrack_free(struct conntrack *ct);

#endif /* WT_CONNTRACK_H */
