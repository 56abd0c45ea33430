// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expose.h"
#include "promproto.h"
#include "promtext.h"
#include "svckey.h"

#define HIST_HELP                                                                                          \
	"Duration of HTTP server requests, from the first request byte read to the last response byte "        \
	"written, as seen on the server's sockets."

static void render_hist_family(struct strbuf *sb)
{
	promtext_family(sb, EXPOSE_HIST_NAME, "histogram", HIST_HELP);
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
		le->len[j] = promtext_fmt_double(le->text[j], sizeof(le->text[j]), bounds[j]);
}

/* A series' label pairs in text: all four labels, or service_name alone. */
static void series_labels(struct strbuf *lab, const struct agg_series *s, int service_only)
{
	if (!service_only) {
		/* Literal label names with their punctuation: this runs once per series. */
		sb_puts(lab, "http_request_method=\"");
		promtext_label_value(lab, s->method);
		sb_puts(lab, "\",http_response_status_code=\"");
		sb_put_i64(lab, s->status);
		sb_puts(lab, "\",http_route=\"");
		promtext_label_value(lab, s->route);
		sb_puts(lab, "\",");
	}
	svckey_render(lab, s->service);
}

/* An exemplar's label pairs, as OpenMetrics and protobuf name them. */
#define EX_TRACE_ID "trace_id"
#define EX_SPAN_ID "span_id"

/*
 * " # {trace_id="..",span_id=".."} value timestamp": OpenMetrics' exemplar
 * of a bucket line (its labels 63 characters, within the 128 allowed).
 */
static void render_exemplar(struct strbuf *sb, const struct agg_exemplar *e)
{
	char tid[TRACE_ID_HEX + 1], sid[SPAN_ID_HEX + 1];

	traceparent_hex(e->trace.trace_id, sizeof(e->trace.trace_id), tid);
	traceparent_hex(e->trace.span_id, sizeof(e->trace.span_id), sid);
	sb_puts(sb, " # {" EX_TRACE_ID "=\"");
	sb_puts(sb, tid);
	sb_puts(sb, "\"," EX_SPAN_ID "=\"");
	sb_puts(sb, sid);
	sb_puts(sb, "\"} ");
	promtext_double(sb, (double)e->value_ns / 1e9);
	/* Seconds, to the nanosecond the clock gave. */
	sb_putc(sb, ' ');
	sb_put_i64(sb, e->ts_ns / 1000000000);
	sb_putc(sb, '.');
	{
		char frac[9];
		int64_t ns = e->ts_ns % 1000000000;
		int k;

		for (k = 8; k >= 0; k--, ns /= 10)
			frac[k] = (char)('0' + ns % 10);
		sb_append(sb, frac, sizeof(frac));
	}
}

/*
 * Appends all the lines of one series (_bucket..., _sum, _count) of family
 * name to sb, lab being scratch space for its label set: all four labels, or
 * service_name alone; with exemplars (OpenMetrics), each bucket's after its
 * count. -1 if lab could not grow (sb->oom is then set too).
 */
static int render_series_of(struct strbuf *sb, struct strbuf *lab, const struct le_texts *le,
			    const struct agg_series *s, const char *name, int service_only, int exemplars)
{
	uint64_t cum = 0;
	size_t j;

	sb_reset(lab);
	sb_putc(lab, '{');
	series_labels(lab, s, service_only);
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
		if (exemplars && s->ex) {
			const struct agg_exemplar *e = agg_exemplar(s, j);

			if (e)
				render_exemplar(sb, e);
		}
		sb_putc(sb, '\n');
	}
	sb_puts(sb, name);
	sb_puts(sb, "_sum");
	sb_append(sb, lab->buf, lab->len);
	sb_puts(sb, "} ");
	promtext_double(sb, agg_series_sum(s));
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
			 const struct agg_series *s, enum expfmt f)
{
	/* The classic text format has no exemplars. */
	return render_series_of(sb, lab, le, s, EXPOSE_HIST_NAME, 0, f == EXPFMT_OPENMETRICS);
}

void expose_service_histogram(struct strbuf *sb, const char *name, const char *help, struct agg *agg)
{
	struct agg_series *const *list;
	struct strbuf lab = STRBUF_INIT;
	struct le_texts le;
	size_t n, i;

	promtext_family(sb, name, "histogram", help);
	le_texts_init(&le, agg);
	n = agg_list(agg, &list);
	for (i = 0; i < n && sb_ok(sb); i++)
		if (render_series_of(sb, &lab, &le, list[i], name, 1, 0))
			break;
	sb_free(&lab);
}

static void render_hist(struct strbuf *sb, struct agg *agg, enum expfmt f)
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
		if (render_series(sb, &lab, &le, list[i], f))
			break;
	sb_free(&lab);
}

/* What follows the histograms: the caller's families, the tables, build_info. */
static void render_self(struct strbuf *sb, const struct expose_self *self, int with_svc_hist)
{
	if (with_svc_hist && self->svc_hist)
		expose_service_histogram(sb, self->svc_hist_name, self->svc_hist_help, self->svc_hist);
	if (self->extra)
		sb_append(sb, self->extra, self->extra_len);
	promtext_tables(sb, self->src, self->nsrc);
	promtext_family(sb, "wsgitrace_build_info", "gauge",
			"Version, git revision and capture hook of the running wsgitrace; always 1.");
	sb_puts(sb, "wsgitrace_build_info{");
	promtext_label(sb, "hook", self->hook);
	sb_putc(sb, ',');
	promtext_label(sb, "revision", self->revision);
	sb_putc(sb, ',');
	promtext_label(sb, "version", self->version);
	promtext_sample_end(sb, 1);
}

static void render_hist_proto(struct strbuf *out, struct agg *agg, const char *name, const char *help,
			      int service_only);

/* render_self() in format f. */
static void render_self_fmt(struct strbuf *sb, const struct expose_self *self, enum expfmt f)
{
	struct strbuf text = STRBUF_INIT;

	if (f == EXPFMT_TEXT) {
		if (self)
			render_self(sb, self, 1);
		return;
	}
	/* Protobuf: the service histogram from its agg, with native buckets; the rest from its text. */
	if (self && f == EXPFMT_PROTOBUF && self->svc_hist)
		render_hist_proto(sb, self->svc_hist, self->svc_hist_name, self->svc_hist_help, 1);
	if (self)
		render_self(&text, self, f != EXPFMT_PROTOBUF);
	if (!sb_ok(&text))
		sb->oom = 1;
	else if (f == EXPFMT_OPENMETRICS)
		expfmt_openmetrics(sb, text.buf, text.len);
	else if (promproto_from_text(sb, text.buf, text.len))
		sb->oom = 1; /* our own text that does not read back: as good as lost */
	if (f == EXPFMT_OPENMETRICS)
		sb_puts(sb, "# EOF\n");
	sb_free(&text);
}

/* A series' exemplars as protobuf messages: one per bucket, +Inf included. */
struct ex_scratch {
	Io__Prometheus__Client__Exemplar ex[AGG_MAX_BUCKETS + 1];
	Google__Protobuf__Timestamp ts[AGG_MAX_BUCKETS + 1];
	pp_label lab[AGG_MAX_BUCKETS + 1][2];
	pp_label *labp[AGG_MAX_BUCKETS + 1][2];
	char tid[AGG_MAX_BUCKETS + 1][TRACE_ID_HEX + 1];
	char sid[AGG_MAX_BUCKETS + 1][SPAN_ID_HEX + 1];
};

/* Bucket j's exemplar e as a message in sc, for a Bucket's exemplar field. */
static Io__Prometheus__Client__Exemplar *exemplar_proto(struct ex_scratch *sc, size_t j,
							const struct agg_exemplar *e)
{
	Io__Prometheus__Client__Exemplar init = IO__PROMETHEUS__CLIENT__EXEMPLAR__INIT;
	Google__Protobuf__Timestamp tinit = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	pp_label linit = IO__PROMETHEUS__CLIENT__LABEL_PAIR__INIT;
	Io__Prometheus__Client__Exemplar *x = &sc->ex[j];

	traceparent_hex(e->trace.trace_id, sizeof(e->trace.trace_id), sc->tid[j]);
	traceparent_hex(e->trace.span_id, sizeof(e->trace.span_id), sc->sid[j]);
	sc->lab[j][0] = linit;
	sc->lab[j][0].name = EX_TRACE_ID;
	sc->lab[j][0].value = sc->tid[j];
	sc->lab[j][1] = linit;
	sc->lab[j][1].name = EX_SPAN_ID;
	sc->lab[j][1].value = sc->sid[j];
	sc->labp[j][0] = &sc->lab[j][0];
	sc->labp[j][1] = &sc->lab[j][1];
	sc->ts[j] = tinit;
	sc->ts[j].seconds = e->ts_ns / 1000000000;
	sc->ts[j].nanos = (int32_t)(e->ts_ns % 1000000000);
	*x = init;
	x->n_label = 2;
	x->label = sc->labp[j];
	x->has_value = 1;
	x->value = (double)e->value_ns / 1e9;
	x->timestamp = &sc->ts[j];
	return x;
}

/*
 * The request histograms as one MetricFamily, classic and native buckets in
 * each series. Exemplars go on the classic buckets (client_model 0.3, as
 * Prometheus 2.42 reads it, has no other place for them; a native histogram
 * takes its exemplars from there), a +Inf bucket listed only to carry one.
 */
static void render_hist_proto(struct strbuf *out, struct agg *agg, const char *name, const char *help,
			      int service_only)
{
	struct agg_series *const *list = NULL;
	struct strbuf body = STRBUF_INIT;
	struct promproto_native *nsc = NULL;
	struct ex_scratch *esc = NULL;
	pp_bucket bk[AGG_MAX_BUCKETS + 1], *bkp[AGG_MAX_BUCKETS + 1];
	struct promproto_labels pl = {};
	struct strbuf lab = STRBUF_INIT;
	const struct native_opts *no = NULL;
	const double *bounds = NULL;
	size_t n = 0, nb = 0, i, j;

	promproto_begin(&body, name, help, PP_HISTOGRAM);
	if (agg) {
		n = agg_list(agg, &list);
		bounds = agg_bounds(agg, &nb);
		no = agg_native(agg);
		if (no->max_buckets && !(nsc = malloc(sizeof(*nsc))))
			body.oom = 1;
		if (agg_exemplars(agg) && !(esc = malloc(sizeof(*esc))))
			body.oom = 1;
	}
	for (i = 0; i < n && sb_ok(&body); i++) {
		struct agg_series *s = list[i];
		pp_metric m = IO__PROMETHEUS__CLIENT__METRIC__INIT;
		pp_histogram h = IO__PROMETHEUS__CLIENT__HISTOGRAM__INIT;
		const uint8_t *kept;
		size_t at = body.len, kn;
		uint64_t cum = 0;
		int nl;

		/* Not observed since it was last packed: the same bytes. */
		if ((kept = agg_series_packed(s, &kn))) {
			sb_append(&body, kept, kn);
			continue;
		}
		/* The labels as the text format has them (same escaping of bad
		 * UTF-8, one definition of the label set), read back. */
		sb_reset(&lab);
		series_labels(&lab, s, service_only);
		nl = sb_ok(&lab) ? promproto_labels(&pl, lab.buf, lab.len) : -1;
		if (nl < 0) {
			body.oom = 1;
			break;
		}
		m.n_label = (size_t)nl;
		m.label = pl.labp;
		for (j = 0; j <= nb; j++) {
			pp_bucket init = IO__PROMETHEUS__CLIENT__BUCKET__INIT;
			const struct agg_exemplar *e = esc && s->ex ? agg_exemplar(s, j) : NULL;

			/* +Inf is sample_count: listed only for its exemplar. */
			if (j == nb && !e)
				break;
			cum += s->buckets[j];
			bk[j] = init;
			bk[j].has_cumulative_count = 1;
			bk[j].cumulative_count = cum;
			bk[j].has_upper_bound = 1;
			bk[j].upper_bound = j < nb ? bounds[j] : INFINITY;
			if (e)
				bk[j].exemplar = exemplar_proto(esc, j, e);
			bkp[j] = &bk[j];
		}
		h.has_sample_count = 1;
		h.sample_count = s->count;
		h.has_sample_sum = 1;
		h.sample_sum = agg_series_sum(s);
		h.n_bucket = j;
		h.bucket = bkp;
		if (nsc)
			promproto_native(&h, &s->native, no->zero_threshold, nsc);
		m.histogram = &h;
		promproto_metric(&body, &m);
		if (sb_ok(&body))
			agg_series_keep_packed(s, body.buf + at, body.len - at);
	}
	promproto_end(out, &body);
	free(nsc);
	free(esc);
	sb_free(&body);
	sb_free(&lab);
	promproto_labels_free(&pl);
}

int expose_render_fmt(struct strbuf *sb, struct agg *agg, const struct expose_self *self, enum expfmt f)
{
	if (f == EXPFMT_PROTOBUF)
		render_hist_proto(sb, agg, EXPOSE_HIST_NAME, HIST_HELP, 0);
	else
		render_hist(sb, agg, f);
	render_self_fmt(sb, self, f);
	return sb_ok(sb) ? 0 : -1;
}

int expose_render(struct strbuf *sb, struct agg *agg, const struct expose_self *self)
{
	return expose_render_fmt(sb, agg, self, EXPFMT_TEXT);
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
	enum expfmt fmt;
	struct le_texts le;
};

struct expose_stream *expose_stream_new(struct agg *agg, const struct expose_self *self)
{
	return expose_stream_open(agg, self, EXPFMT_TEXT);
}

struct expose_stream *expose_stream_open(struct agg *agg, const struct expose_self *self, enum expfmt f)
{
	struct expose_stream *x = calloc(1, sizeof(*x));
	struct agg_series *const *list;

	if (!x)
		return NULL;
	x->fmt = f;
	if (f == EXPFMT_PROTOBUF) {
		/* Whole, now: nothing to hold, nothing left to render. */
		render_hist_proto(&x->carry, agg, EXPOSE_HIST_NAME, HIST_HELP, 0);
		render_self_fmt(&x->carry, self, f);
		x->tail_done = 1;
		if (!sb_ok(&x->carry))
			goto fail;
		return x;
	}
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
	 * started, and no pointers into self kept. */
	render_self_fmt(&x->tail, self, f);
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
				render_series(&x->carry, &x->lab, &x->le, x->list[x->next++], x->fmt);
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
