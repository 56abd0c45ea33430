/* SPDX-License-Identifier: MIT */
/*
 * The /metrics endpoint, on libmicrohttpd, run from the daemon's own
 * single-threaded poll loop: MHD is started in "external polling" mode with
 * epoll, so all of its sockets sit behind one epoll fd that the caller adds
 * to its poll set. No thread is created.
 *
 *   struct pollfd p[2] = {{ring_fd, POLLIN}, {httpd_fd(h), POLLIN}};
 *   for (;;) {
 *           int t = httpd_timeout_ms(h);       // -1: no deadline
 *           poll(p, 2, t < 0 || t > 1000 ? 1000 : t);
 *           ... ring buffer ...
 *           httpd_run(h);                      // cheap when nothing is ready
 *   }
 *
 * httpd_run() must be called when the fd is readable and at the latest
 * httpd_timeout_ms() after the previous call (MHD closes idle connections
 * and finishes partly sent responses from there). Calling it more often is
 * harmless.
 *
 * With a web configuration (struct httpd_opts.web): HTTPS (GnuTLS, through
 * libmicrohttpd) and/or basic authentication on every path.
 *
 * Routes: GET|HEAD /metrics -> 200, the render callback's stream in the
 * format negotiated from the Accept header (expfmt.h) with its Content-Type,
 * classic text by default (500 if it fails);
 * GET|HEAD / -> a short page pointing to /metrics; other paths 404; other
 * methods 405 with "Allow: GET, HEAD".
 *
 * Admission, so that no client can keep a scrape out (struct httpd_opts):
 * at most max_conns connections, at most max_conns_per_addr from one client
 * address. A connection past either limit evicts the oldest connection that
 * is not being answered, from its own address when that address is at its
 * limit, else from the address holding the most: a client only ever
 * displaces itself until it holds more than anyone else, so a scraper with
 * one connection always gets in. A connection that has not sent a whole
 * request within request_timeout_ms of its accept is closed, however slowly
 * it trickles bytes; a kept-alive connection may wait idle_timeout_s between
 * requests.
 */
#ifndef WT_HTTPD_H
#define WT_HTTPD_H

#include "expfmt.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct expose_stream;
struct promtext_table;

/*
 * Starts one GET or HEAD /metrics: returns the exposition as a stream
 * (expose.h), or NULL to answer 500. Called once per scrape, from
 * httpd_run(), when the request arrives (a good place to count scrapes and
 * bring the figures up to date). The body is read from the stream as the
 * client takes it, from later httpd_run() calls, and sent chunked (HTTP/1.1)
 * or up to the connection's close (HTTP/1.0); HEAD reads it through at once
 * to send its Content-Length. httpd frees the stream when the response is
 * done or abandoned, at the latest in httpd_stop().
 */
typedef struct expose_stream *(*httpd_render_fn)(void *ctx, enum expfmt f);

struct httpd;

/* Defaults: Prometheus (an HA pair), a person with curl, a few retries. */
#define HTTPD_MAX_CONNS 64u
#define HTTPD_MAX_CONNS_PER_ADDR 8u
/* Prometheus sends its request at once; a slow handshake takes < 1 s. */
#define HTTPD_REQUEST_TIMEOUT_MS 3000u
/* Above a 15 s scrape interval, so Prometheus keeps its connection. */
#define HTTPD_IDLE_TIMEOUT_S 30u

struct webconfig;

struct httpd_opts {
	unsigned max_conns;
	unsigned max_conns_per_addr;
	unsigned request_timeout_ms;
	unsigned idle_timeout_s;
	/*
	 * TLS and basic authentication (webconfig.h), NULL for neither. With
	 * users, every request needs their credentials: 401 with
	 * WWW-Authenticate otherwise, and the connection is closed.
	 */
	struct webconfig *web;
	/*
	 * /healthz: 0 when tracing is live, else -1 with why set; answered 200
	 * or 503 without credentials (kubelet probes carry none) and with no
	 * figures in it. NULL: /healthz answers 404.
	 */
	int (*health)(void *ctx, char *why, size_t len);
	void *health_ctx;
};

extern const struct httpd_opts httpd_default_opts;

/* Counters of admission, for the self metrics. */
struct httpd_stats {
	uint64_t accepted;  /* connections accepted */
	uint64_t evicted;   /* closed to make room for a newer one */
	uint64_t refused;   /* closed at once: every slot was answering a request */
	uint64_t timed_out; /* closed for not sending a whole request in time */
	uint64_t log_suppressed; /* log lines over the rate limit (ratelog.h) */
};

/*
 * listen: "ADDR:PORT" (IPv4 dotted quad), "[IPV6]:PORT", or ":PORT" (all
 * addresses, IPv6 and IPv4 when the host has IPv6, else IPv4 only). PORT is
 * 0..65535; 0 picks a free port (see httpd_port()). Numeric addresses only.
 * o NULL: httpd_default_opts. NULL with err set (which address, why,
 * what to do) on failure.
 */
struct httpd *httpd_start(const char *listen, const struct httpd_opts *o, httpd_render_fn fn, void *ctx,
			  char *err, size_t errlen);
/* The fd to poll for POLLIN (MHD's epoll fd). */
int httpd_fd(const struct httpd *h);
/* Milliseconds until httpd_run() is due anyway, or -1 for no deadline. */
int httpd_timeout_ms(struct httpd *h);
/* Accepts, reads, answers and closes whatever is ready; never blocks. */
void httpd_run(struct httpd *h);
const struct httpd_stats *httpd_stats(struct httpd *h);
/* The self metrics of httpd_stats() (promtext.h). */
extern const struct promtext_table httpd_metrics;
/* The port actually bound (useful with port 0). */
unsigned httpd_port(const struct httpd *h);
/* "127.0.0.1:9100" or "[::]:9100", as bound. */
/* "http" or "https". */
const char *httpd_scheme(const struct httpd *h);
const char *httpd_address(const struct httpd *h);
void httpd_stop(struct httpd *h);

/* Parses a listen address as httpd_start() does. 0, or -1 with err set. */
int httpd_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		       size_t errlen);

#endif /* WT_HTTPD_H */
