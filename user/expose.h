/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format 0.0.4: the request-duration histograms
 * from agg.c and the tracer's own metrics.
 */
#ifndef WT_EXPOSE_H
#define WT_EXPOSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agg.h"
#include "strbuf.h"

#define EXPOSE_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define EXPOSE_HIST_NAME "http_server_request_duration_seconds"

/*
 * The tracer's own metrics, filled by the daemon. Counters (only ever
 * increase) unless marked gauge. Exposed as wsgitrace_<name>, counters with
 * _total; see expose.c for the names and HELP texts.
 */
struct wt_self_stats {
	uint64_t events_total;         /* ring buffer records read */
	uint64_t events_lost;          /* records the kernel could not submit: ring buffer full */
	uint64_t kernel_read_failures; /* bpf_probe_read_user of socket data failed */
	uint64_t http_parse_errors;    /* HTTP/1.x bytes that did not parse */
	uint64_t uwsgi_parse_errors;   /* uwsgi packets that did not parse */
	uint64_t framing_lost;         /* requests not counted: their framing bytes were not captured */
	uint64_t unanswered_requests;  /* requests whose connection closed before a response */
	uint64_t orphan_responses;     /* sends with no request seen that start no response */
	uint64_t pending_overflow;     /* pipelined requests dropped: too many pending on a connection */
	uint64_t conns_active;         /* gauge: connections tracked now */
	uint64_t conns_dropped;        /* connections not tracked: table full */
	uint64_t conns_expired;        /* connections forgotten after being idle */
	uint64_t procs_traced;         /* gauge: server processes traced now */
	uint64_t series_active;        /* gauge: histogram series (taken from the agg when given) */
	uint64_t series_dropped;       /* observations put in the overflow series (from the agg when given) */
	uint64_t scrapes;              /* /metrics requests served, this one included */
	uint64_t relayed_connections;  /* inbound connections from a traced relay (uWSGI --http router) */
	uint64_t client_resets;        /* requests pending when the client reset the connection */
	uint64_t missed_requests;      /* responses counted whose request was not seen */
	uint64_t not_http_conns;       /* connections whose server spoke another protocol */
	uint64_t series_retired;       /* series removed after not being updated for --series-ttl (from the agg) */
	uint64_t metrics_conns_evicted;   /* /metrics connections closed to admit a newer one */
	uint64_t metrics_conns_refused;   /* /metrics connections refused: every slot busy */
	uint64_t metrics_conns_timed_out; /* /metrics connections that sent no whole request in time */
	uint64_t log_suppressed;       /* log lines a remote peer caused, over the rate limit */
	uint64_t conns_reset_unread;     /* connections the client reset before the server read them: not followed */
	uint64_t http2_conns;          /* of the not_http ones, HTTP/2 from the first bytes (h2c prior knowledge) */
	uint64_t upgraded_conns;       /* connections that left HTTP/1.x after a 101 */
	uint64_t framing_recovered;    /* requests counted although framing bytes were not captured (WT_RQ_FRAMING_LOST) */
	const char *version;           /* build info labels; NULL renders "" */
	const char *revision;
	const char *hook; /* "sockets" or "syscalls": how data is captured */
	/*
	 * Families the caller rendered itself (per-service gauges and the queue
	 * time histogram: a few lines per service), placed before the self
	 * metrics; NULL for none.
	 */
	const char *extra;
	size_t extra_len;
};

/*
 * Appends the whole exposition to sb: the histogram family (HELP and TYPE
 * even with no series), then the self metrics. agg may be NULL; st may be
 * NULL (no self metrics). When agg is given, series_active and
 * series_dropped come from it rather than from st. Series are in
 * agg_list() order, so equal inputs give byte-identical output.
 * 0, or -1 if the buffer could not grow (sb->oom).
 */
/* "# HELP" and "# TYPE" lines of a family. */
void expose_family(struct strbuf *sb, const char *name, const char *type, const char *help);
/*
 * A histogram family called name holding agg's series labelled by
 * service_name alone (the agg is used with empty method and route).
 */
void expose_service_histogram(struct strbuf *sb, const char *name, const char *help, struct agg *agg);

int expose_render(struct strbuf *sb, struct agg *agg, const struct wt_self_stats *st);

/*
 * The same bytes as expose_render(), read in pieces so that no buffer the
 * size of the exposition is needed: a scrape of 10,000 series is ~36 MB.
 *
 * expose_stream_new() takes the series list and renders the self metrics
 * (so their figures, series_active included, are those of this moment). The
 * series are rendered as they are read, one whole series at a time: between
 * reads the agg may be observed into (single-threaded, not concurrently),
 * and each series then shows its counts as of when its first byte was read,
 * never half old and half new. Series created after expose_stream_new() are
 * not in this exposition. The agg must outlive the stream; the stream holds
 * it (agg_hold()), so no series is retired while it is read. agg and st may be NULL as for expose_render().
 * NULL if out of memory.
 */
struct expose_stream;
struct expose_stream *expose_stream_new(struct agg *agg, const struct wt_self_stats *st);
/*
 * Copies the next bytes, at most max (> 0), to buf: the count, which is
 * less than max only at the end, 0 once everything was read, or -1 if out of
 * memory (the stream is then unusable but must still be freed).
 */
ssize_t expose_stream_read(struct expose_stream *x, char *buf, size_t max);
void expose_stream_free(struct expose_stream *x);

/* Appends a label value escaped per the format (\\, \", \n), invalid UTF-8
 * bytes replaced with U+FFFD. */
void expose_label_value(struct strbuf *sb, const char *s);
/* The same for n bytes of s, not NUL terminated. */
void expose_label_value_n(struct strbuf *sb, const char *s, size_t n);

/* Appends v the way Prometheus prints it: shortest text that reads back
 * as the same double, "+Inf", "-Inf", "NaN". */
void expose_double(struct strbuf *sb, double v);

#endif /* WT_EXPOSE_H */
