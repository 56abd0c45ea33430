// SPDX-License-Identifier: MIT
#include "expose.h"
#include "svckey.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Label values escape \\, " and newline; other control bytes are legal in them. */
static const char *const label_esc[128] = { ['\\'] = "\\\\", ['"'] = "\\\"", ['\n'] = "\\n" };

void expose_label_value_n(struct strbuf *sb, const char *s, size_t n)
{
	sb_append_escaped(sb, s, n, label_esc, "\xef\xbf\xbd"); /* U+FFFD */
}

void expose_label_value(struct strbuf *sb, const char *str)
{
	const char *s = str ? str : "";

	expose_label_value_n(sb, s, strlen(s));
}

/* Shortest "%g" text that reads back as v; buf holds at least 32 bytes. */
static size_t fmt_double(char *buf, size_t sz, double v)
{
	int prec, n = 0;

	if (isnan(v))
		return (size_t)snprintf(buf, sz, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, sz, v > 0 ? "+Inf" : "-Inf");
	if (fabs(v) < 1e15 && v == (double)(int64_t)v)
		return (size_t)snprintf(buf, sz, "%lld", (long long)v);
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sz, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}

void expose_double(struct strbuf *sb, double v)
{
	char buf[48];

	sb_append(sb, buf, fmt_double(buf, sizeof(buf), v));
}

void expose_family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_puts(sb, "# HELP ");
	sb_puts(sb, name);
	sb_putc(sb, ' ');
	sb_puts(sb, help);
	sb_puts(sb, "\n# TYPE ");
	sb_puts(sb, name);
	sb_putc(sb, ' ');
	sb_puts(sb, type);
	sb_putc(sb, '\n');
}

static void render_hist_family(struct strbuf *sb)
{
	expose_family(sb, EXPOSE_HIST_NAME, "histogram",
	       "Duration of HTTP server requests, from the first request byte read to the last response "
	       "byte written, as seen on the server's sockets.");
}

/* The le="..." texts of an agg's bounds, formatted once per exposition. */
struct le_texts {
	size_t nb;
	size_t len[AGG_MAX_BUCKETS];
	char text[AGG_MAX_BUCKETS][48];
};

static void le_texts_init(struct le_texts *le, const struct agg *agg)
{
	const double *bounds = agg_bounds(agg, &le->nb);
	size_t j;

	for (j = 0; j < le->nb; j++)
		le->len[j] = fmt_double(le->text[j], sizeof(le->text[j]), bounds[j]);
}

/*
 * Appends all the lines of one series (_bucket..., _sum, _count) of family
 * name to sb, lab being scratch space for its label set: all four labels, or
 * service_name alone. -1 if lab could not grow (sb->oom is then set too).
 */
static int render_series_of(struct strbuf *sb, struct strbuf *lab, const struct le_texts *le,
			    const struct agg_series *s, const char *name, int service_only)
{
	uint64_t cum = 0;
	size_t j;

	sb_reset(lab);
	sb_putc(lab, '{');
	if (!service_only) {
		sb_puts(lab, "http_request_method=\"");
		expose_label_value(lab, s->method);
		sb_puts(lab, "\",http_response_status_code=\"");
		sb_put_i64(lab, s->status);
		sb_puts(lab, "\",http_route=\"");
		expose_label_value(lab, s->route);
		sb_puts(lab, "\",");
	}
	svckey_render(lab, s->service);
	if (!sb_ok(lab)) {
		sb->oom = 1;
		return -1;
	}
	for (j = 0; j <= le->nb; j++) {
		cum += s->buckets[j];
		sb_puts(sb, name);
		sb_puts(sb, "_bucket");
		sb_append(sb, lab->buf, lab->len);
		sb_puts(sb, ",le=\"");
		if (j < le->nb)
			sb_append(sb, le->text[j], le->len[j]);
		else
			sb_puts(sb, "+Inf");
		sb_puts(sb, "\"} ");
		sb_put_u64(sb, cum);
		sb_putc(sb, '\n');
	}
	sb_puts(sb, name);
	sb_puts(sb, "_sum");
	sb_append(sb, lab->buf, lab->len);
	sb_puts(sb, "} ");
	expose_double(sb, agg_series_sum(s));
	sb_putc(sb, '\n');
	sb_puts(sb, name);
	sb_puts(sb, "_count");
	sb_append(sb, lab->buf, lab->len);
	sb_puts(sb, "} ");
	sb_put_u64(sb, s->count);
	sb_putc(sb, '\n');
	return 0;
}

static int render_series(struct strbuf *sb, struct strbuf *lab, const struct le_texts *le,
			 const struct agg_series *s)
{
	return render_series_of(sb, lab, le, s, EXPOSE_HIST_NAME, 0);
}

void expose_service_histogram(struct strbuf *sb, const char *name, const char *help, struct agg *agg)
{
	struct agg_series *const *list;
	struct strbuf lab = STRBUF_INIT;
	struct le_texts le;
	size_t n, i;

	expose_family(sb, name, "histogram", help);
	le_texts_init(&le, agg);
	n = agg_list(agg, &list);
	for (i = 0; i < n && sb_ok(sb); i++)
		if (render_series_of(sb, &lab, &le, list[i], name, 1))
			break;
	sb_free(&lab);
}

static void render_hist(struct strbuf *sb, struct agg *agg)
{
	struct agg_series *const *list;
	struct strbuf lab = STRBUF_INIT;
	struct le_texts le;
	size_t n, i;

	render_hist_family(sb);
	if (!agg)
		return;
	le_texts_init(&le, agg);
	n = agg_list(agg, &list);
	for (i = 0; i < n && sb_ok(sb); i++)
		if (render_series(sb, &lab, &le, list[i]))
			break;
	sb_free(&lab);
}

struct self_metric {
	const char *name;
	size_t off;
	int gauge;
	const char *help;
};

#define F(f) offsetof(struct wt_self_stats, f)
static const struct self_metric self_metrics[] = {
	{"wsgitrace_events_total", F(events_total), 0, "Events read from the kernel ring buffer."},
	{"wsgitrace_events_lost_total", F(events_lost), 0,
	 "Events the kernel side could not submit because the ring buffer was full; requests they belonged to "
	 "are missing or counted as framing lost."},
	{"wsgitrace_kernel_read_failures_total", F(kernel_read_failures), 0,
	 "Reads of socket data from the traced process' memory that failed in the kernel."},
	{"wsgitrace_http_parse_errors_total", F(http_parse_errors), 0,
	 "HTTP/1.x requests or responses that could not be parsed."},
	{"wsgitrace_uwsgi_parse_errors_total", F(uwsgi_parse_errors), 0, "uwsgi packets that could not be parsed."},
	{"wsgitrace_framing_lost_total", F(framing_lost), 0,
	 "Requests not counted in the histogram because bytes that frame them were not captured."},
	{"wsgitrace_framing_recovered_total", F(framing_recovered), 0,
	 "Requests counted although bytes that frame them were not captured (a head longer than the capture): "
	 "labelled from the bytes captured, ended by the responses. Nothing lost."},
	{"wsgitrace_unanswered_requests_total", F(unanswered_requests), 0,
	 "Requests whose connection ended before a response was seen."},
	{"wsgitrace_orphan_responses_total", F(orphan_responses), 0,
	 "Sends with no request pending that start no response (the rest of a response not followed)."},
	{"wsgitrace_pending_overflow_total", F(pending_overflow), 0,
	 "Pipelined requests dropped because too many were pending on one connection."},
	{"wsgitrace_connections_active", F(conns_active), 1, "Connections being tracked."},
	{"wsgitrace_connections_dropped_total", F(conns_dropped), 0,
	 "Connections not tracked because a connection table (the kernel's or the daemon's, --max-conns) was full."},
	{"wsgitrace_connections_expired_total", F(conns_expired), 0,
	 "Tracked connections forgotten after being idle too long."},
	{"wsgitrace_processes_traced", F(procs_traced), 1, "Server processes being traced."},
	{"wsgitrace_series_active", F(series_active), 1,
	 "Series of http_server_request_duration_seconds, the overflow series included."},
	{"wsgitrace_series_dropped_total", F(series_dropped), 0,
	 "Observations that did not get their own series because of the series limit; they are in the "
	 "series with http_route=\"_overflow\"."},
	{"wsgitrace_scrapes_total", F(scrapes), 0, "Requests for /metrics served."},
	{"wsgitrace_relayed_connections_total", F(relayed_connections), 0,
	 "Connections a traced relay (uWSGI's --http router) opened to a worker; their requests are counted "
	 "once, where they entered."},
	{"wsgitrace_client_resets_total", F(client_resets), 0,
	 "Requests pending when the client reset the connection before the server wrote any of their response: "
	 "no response was owed."},
	{"wsgitrace_missed_requests_total", F(missed_requests), 0,
	 "Responses whose request was not seen; they are counted with method \"_OTHER\" and route \"_unknown\"."},
	{"wsgitrace_not_http_connections_total", F(not_http_conns), 0,
	 "Accepted connections on which the server spoke another protocol than HTTP (TLS, ...); no longer followed."},
	{"wsgitrace_http2_connections_total", F(http2_conns), 0,
	 "Of the connections on which the server spoke another protocol, those the client opened with the "
	 "HTTP/2 preface (h2c with prior knowledge): their requests are not counted."},
	{"wsgitrace_upgraded_connections_total", F(upgraded_conns), 0,
	 "Connections that left HTTP/1.x after a 101 Switching Protocols (WebSocket, h2c upgrade): the 101 is "
	 "counted once, nothing after it is parsed."},
	{"wsgitrace_series_retired_total", F(series_retired), 0,
	 "Series removed: not updated for --series-ttl, or making room for a route in use of a service at its limit."},
	{"wsgitrace_metrics_connections_evicted_total", F(metrics_conns_evicted), 0,
	 "Connections to /metrics closed to admit a newer one (per-address or overall limit)."},
	{"wsgitrace_metrics_connections_refused_total", F(metrics_conns_refused), 0,
	 "Connections to /metrics refused because every slot was answering a request."},
	{"wsgitrace_metrics_connections_timed_out_total", F(metrics_conns_timed_out), 0,
	 "Connections to /metrics closed for not sending a whole request in time."},
	{"wsgitrace_log_lines_suppressed_total", F(log_suppressed), 0,
	 "Log lines caused by remote peers that were not written because of the log rate limit."},
	{"wsgitrace_connections_reset_unread_total", F(conns_reset_unread), 0,
	 "Connections the client reset before the server read them: the server could not answer, nothing "
	 "is owed, they are not followed."},
};
#undef F

static void render_self(struct strbuf *sb, const struct wt_self_stats *st)
{
	size_t i;

	for (i = 0; i < sizeof(self_metrics) / sizeof(self_metrics[0]); i++) {
		const struct self_metric *m = &self_metrics[i];
		uint64_t v;

		memcpy(&v, (const char *)st + m->off, sizeof(v));
		expose_family(sb, m->name, m->gauge ? "gauge" : "counter", m->help);
		sb_puts(sb, m->name);
		sb_putc(sb, ' ');
		sb_put_u64(sb, v);
		sb_putc(sb, '\n');
	}
	expose_family(sb, "wsgitrace_build_info", "gauge",
	       "Version, git revision and capture hook of the running wsgitrace; always 1.");
	sb_puts(sb, "wsgitrace_build_info{hook=\"");
	expose_label_value(sb, st->hook);
	sb_puts(sb, "\",revision=\"");
	expose_label_value(sb, st->revision);
	sb_puts(sb, "\",version=\"");
	expose_label_value(sb, st->version);
	sb_puts(sb, "\"} 1\n");
}

/* The self metrics as expose_render() writes them: series figures from agg. */
static void render_self_from(struct strbuf *sb, struct agg *agg, const struct wt_self_stats *st)
{
	struct wt_self_stats s = *st;

	if (st->extra)
		sb_append(sb, st->extra, st->extra_len);
	if (agg) {
		s.series_active = agg_series_active(agg);
		s.series_dropped = agg_series_dropped(agg);
		s.series_retired = agg_series_retired(agg);
	}
	render_self(sb, &s);
}

int expose_render(struct strbuf *sb, struct agg *agg, const struct wt_self_stats *st)
{
	render_hist(sb, agg);
	if (st)
		render_self_from(sb, agg, st);
	return sb_ok(sb) ? 0 : -1;
}

struct expose_stream {
	struct agg *agg;          /* held while the list is in use */
	struct agg_series **list; /* agg_list() at creation, copied: the agg's own array moves */
	size_t n, next;           /* series in list, index of the next one to render */
	struct strbuf carry;      /* rendered, not yet read: carry.buf[off..len) */
	size_t off;
	struct strbuf lab;        /* label set scratch */
	struct strbuf tail;       /* self metrics, rendered at creation */
	int tail_done;
	struct le_texts le;
};

struct expose_stream *expose_stream_new(struct agg *agg, const struct wt_self_stats *st)
{
	struct expose_stream *x = calloc(1, sizeof(*x));
	struct agg_series *const *list;

	if (!x)
		return NULL;
	if (agg) {
		x->agg = agg;
		agg_hold(agg);
		x->n = agg_list(agg, &list);
		if (x->n) {
			x->list = malloc(x->n * sizeof(*x->list));
			if (!x->list)
				goto fail;
			memcpy(x->list, list, x->n * sizeof(*x->list));
		}
		le_texts_init(&x->le, agg);
	}
	render_hist_family(&x->carry);
	/* Now rather than at the end: the figures of the moment the scrape
	 * started, and no pointers into st kept. */
	if (st)
		render_self_from(&x->tail, agg, st);
	if (!sb_ok(&x->carry) || !sb_ok(&x->tail))
		goto fail;
	return x;
fail:
	expose_stream_free(x);
	return NULL;
}

ssize_t expose_stream_read(struct expose_stream *x, char *buf, size_t max)
{
	size_t got = 0;

	while (got < max) {
		size_t k = x->carry.len - x->off;

		if (k == 0) {
			/* Refill with the next whole unit: a series is rendered
			 * in one go, so observations made between reads never
			 * fall between its lines. */
			sb_reset(&x->carry);
			x->off = 0;
			if (x->next < x->n) {
				render_series(&x->carry, &x->lab, &x->le, x->list[x->next++]);
			} else if (!x->tail_done) {
				x->tail_done = 1;
				sb_append(&x->carry, x->tail.buf, x->tail.len);
			} else {
				break;
			}
			if (!sb_ok(&x->carry))
				return -1;
			continue;
		}
		if (k > max - got)
			k = max - got;
		memcpy(buf + got, x->carry.buf + x->off, k);
		x->off += k;
		got += k;
	}
	return (ssize_t)got;
}

void expose_stream_free(struct expose_stream *x)
{
	if (!x)
		return;
	if (x->agg)
		agg_release(x->agg);
	free(x->list);
	sb_free(&x->carry);
	sb_free(&x->lab);
	sb_free(&x->tail);
	free(x);
}
