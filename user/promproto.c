// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promproto.h"

/* m, whose packed size is n, appended to sb. */
static void pack_n(struct strbuf *sb, const ProtobufCMessage *m, size_t n)
{
	if (sb_reserve(sb, n) != 0) {
		sb->oom = 1;
		return;
	}
	sb->len += protobuf_c_message_pack(m, (uint8_t *)sb->buf + sb->len);
}

static void pack(struct strbuf *sb, const ProtobufCMessage *m)
{
	pack_n(sb, m, protobuf_c_message_get_packed_size(m));
}

void promproto_begin(struct strbuf *body, const char *name, const char *help, Io__Prometheus__Client__MetricType type)
{
	Io__Prometheus__Client__MetricFamily f = IO__PROMETHEUS__CLIENT__METRIC_FAMILY__INIT;

	sb_reset(body);
	f.name = (char *)name;
	f.help = (char *)help;
	f.has_type = 1;
	f.type = type;
	pack(body, &f.base);
}

/* A varint, which protobuf-c has no public writer for: the length before a
 * delimited message and before one element of MetricFamily.metric. */
static void put_varint(struct strbuf *sb, uint64_t len)
{
	uint8_t v[10];
	size_t n = 0;

	do {
		v[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	sb_append(sb, v, n);
}

/* MetricFamily.metric is field 4, length-delimited (wire type 2). */
#define METRIC_TAG ((4 << 3) | 2)

void promproto_metric(struct strbuf *body, const pp_metric *m)
{
	/* One more element of the repeated field: its tag, length and bytes,
	 * which is what a family with this one metric alone would pack to; the
	 * metric's size is computed once instead of once per level. */
	size_t n = protobuf_c_message_get_packed_size(&m->base);

	sb_putc(body, METRIC_TAG);
	put_varint(body, n);
	pack_n(body, &m->base, n);
}

void promproto_end(struct strbuf *out, const struct strbuf *body)
{
	put_varint(out, body->len);
	sb_append(out, body->buf, body->len);
	if (body->oom)
		out->oom = 1;
}

void promproto_native(pp_histogram *hist, const struct native_hist *h, double zero_threshold,
		      struct promproto_native *sc)
{
	size_t ns = 0, nd = 0;
	uint64_t prev = 0;
	uint32_t k = 0;
	int32_t last_end = 0; /* index after the previous span's last bucket */

	hist->has_schema = 1;
	hist->schema = h->started ? h->schema : 0;
	hist->has_zero_threshold = 1;
	hist->zero_threshold = zero_threshold;
	hist->has_zero_count = 1;
	hist->zero_count = h->zero_count;
	while (k < h->len) {
		uint32_t end, zeros;

		if (h->counts[k] == 0) {
			k++;
			continue;
		}
		/* A span from k to the last non-empty bucket before a run of > 2 empty ones. */
		for (end = k + 1, zeros = 0; end < h->len; end++) {
			if (h->counts[end])
				zeros = 0;
			else if (++zeros > 2) {
				end++; /* one past the third empty bucket */
				break;
			}
		}
		end -= zeros; /* one past the span's last non-empty bucket */
		{
			pp_span init = IO__PROMETHEUS__CLIENT__BUCKET_SPAN__INIT;
			int32_t idx = h->first + (int32_t)k;

			sc->span[ns] = init;
			sc->span[ns].has_offset = 1;
			sc->span[ns].offset = ns ? idx - last_end : idx;
			sc->span[ns].has_length = 1;
			sc->span[ns].length = end - k;
			sc->spanp[ns] = &sc->span[ns];
			ns++;
			last_end = h->first + (int32_t)end;
		}
		for (; k < end; k++) {
			sc->delta[nd++] = (int64_t)(h->counts[k] - prev);
			prev = h->counts[k];
		}
	}
	if (!ns) {
		/* No bucket above the zero threshold: an empty span keeps it native. */
		pp_span init = IO__PROMETHEUS__CLIENT__BUCKET_SPAN__INIT;

		sc->span[0] = init;
		sc->span[0].has_offset = 1;
		sc->span[0].has_length = 1;
		sc->spanp[0] = &sc->span[0];
		ns = 1;
	}
	hist->n_positive_span = ns;
	hist->positive_span = sc->spanp;
	hist->n_positive_delta = nd;
	hist->positive_delta = sc->delta;
}

/* ---- classic text to messages ---- */

#define MAX_LABELS PROMPROTO_MAX_LABELS
#define MAX_BUCKETS 128

/* A sample's label set: names and values (unescaped), NUL-terminated in arena. */
struct labels {
	size_t n;
	size_t name_off[MAX_LABELS], value_off[MAX_LABELS];
	struct strbuf arena;
};

/* The metric being gathered: its labels and, for a histogram, buckets. */
struct gather {
	struct strbuf body;  /* the family being built */
	int type;
	int open;            /* a metric is gathered, not yet packed */
	char key[1024];      /* its label text without le, to see where the next series starts */
	struct labels lab[2]; /* lab[cur]: the open metric's; the other: the line being read */
	int cur;
	size_t nb;
	pp_bucket bucket[MAX_BUCKETS];
	pp_bucket *bucketp[MAX_BUCKETS];
	double sum, value;
	uint64_t count;
};

static void flush_metric(struct gather *g)
{
	pp_metric m = IO__PROMETHEUS__CLIENT__METRIC__INIT;
	pp_label lab[MAX_LABELS], *labp[MAX_LABELS];
	Io__Prometheus__Client__Counter c = IO__PROMETHEUS__CLIENT__COUNTER__INIT;
	Io__Prometheus__Client__Gauge ga = IO__PROMETHEUS__CLIENT__GAUGE__INIT;
	Io__Prometheus__Client__Untyped u = IO__PROMETHEUS__CLIENT__UNTYPED__INIT;
	pp_histogram h = IO__PROMETHEUS__CLIENT__HISTOGRAM__INIT;
	const struct labels *l = &g->lab[g->cur];
	size_t i;

	if (!g->open)
		return;
	g->open = 0;
	if (!sb_ok(&l->arena)) {
		g->body.oom = 1;
		return;
	}
	for (i = 0; i < l->n; i++) {
		pp_label init = IO__PROMETHEUS__CLIENT__LABEL_PAIR__INIT;

		lab[i] = init;
		lab[i].name = l->arena.buf + l->name_off[i];
		lab[i].value = l->arena.buf + l->value_off[i];
		labp[i] = &lab[i];
	}
	m.n_label = l->n;
	m.label = labp;
	switch (g->type) {
	case PP_COUNTER:
		c.has_value = 1;
		c.value = g->value;
		m.counter = &c;
		break;
	case PP_GAUGE:
		ga.has_value = 1;
		ga.value = g->value;
		m.gauge = &ga;
		break;
	case PP_HISTOGRAM:
		h.has_sample_count = 1;
		h.sample_count = g->count;
		h.has_sample_sum = 1;
		h.sample_sum = g->sum;
		h.n_bucket = g->nb;
		h.bucket = g->bucketp;
		m.histogram = &h;
		break;
	default:
		u.has_value = 1;
		u.value = g->value;
		m.untyped = &u;
	}
	promproto_metric(&g->body, &m);
}

/* Reads a quoted label value at p (after the opening quote) into the arena; returns after the closing quote. */
static const char *read_value(struct strbuf *arena, const char *p, const char *eol)
{
	for (; p < eol && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < eol) {
			p++;
			sb_putc(arena, *p == 'n' ? '\n' : *p);
		} else {
			sb_putc(arena, *p);
		}
	}
	sb_putc(arena, 0);
	return p < eol ? p + 1 : NULL;
}

/*
 * `name="value",...` up to '}' or eol into l (le, if there, into *le
 * instead), and the text of the label set without le into key. Returns
 * where it stopped, or NULL if it cannot be read.
 */
static const char *read_label_set(struct labels *l, const char *q, const char *eol, char *key, size_t keysz,
				  double *le)
{
	size_t kl = 0;

	*le = NAN;
	sb_reset(&l->arena);
	l->n = 0;
	while (q < eol && *q != '}') {
		const char *ln = q, *eq = memchr(q, '=', (size_t)(eol - q));
		size_t ll, noff = l->arena.len;

		if (!eq || eq + 1 >= eol || eq[1] != '"' || l->n == MAX_LABELS)
			return NULL;
		ll = (size_t)(eq - ln);
		sb_append(&l->arena, ln, ll);
		sb_putc(&l->arena, 0);
		q = read_value(&l->arena, eq + 2, eol);
		if (!q || !sb_ok(&l->arena))
			return NULL;
		if (ll == 2 && memcmp(ln, "le", 2) == 0) {
			*le = strtod(l->arena.buf + noff + 3, NULL);
			l->arena.len = noff;
		} else {
			if (kl + (size_t)(q - ln) + 1 >= keysz)
				return NULL;
			memcpy(key + kl, ln, (size_t)(q - ln));
			kl += (size_t)(q - ln);
			key[kl++] = ',';
			l->name_off[l->n] = noff;
			l->value_off[l->n] = noff + ll + 1;
			l->n++;
		}
		if (q < eol && *q == ',')
			q++;
	}
	key[kl] = 0;
	return q;
}

/*
 * A sample line: name, labels (into l, but a histogram's le), the key of
 * its label set without le, its le (NaN if none) and value. -1 if it
 * cannot be read.
 */
static int read_sample(struct labels *l, const char *p, const char *eol, const char **name, size_t *nlen,
		       char *key, size_t keysz, double *le, double *value)
{
	const char *q = p;
	char num[64];

	while (q < eol && *q != '{' && *q != ' ')
		q++;
	*name = p;
	*nlen = (size_t)(q - p);
	if (q < eol && *q == '{') {
		q = read_label_set(l, q + 1, eol, key, keysz, le);
		if (!q || q >= eol)
			return -1;
		q++;
	} else {
		sb_reset(&l->arena);
		l->n = 0;
		key[0] = 0;
	}
	while (q < eol && *q == ' ')
		q++;
	if (q >= eol || (size_t)(eol - q) >= sizeof(num))
		return -1;
	memcpy(num, q, (size_t)(eol - q));
	num[eol - q] = 0;
	*value = strtod(num, NULL);
	return 0;
}

int promproto_labels(struct promproto_labels *pl, const char *text, size_t len)
{
	struct labels *l = pl->l;
	double le;
	size_t i;

	if (!l && !(l = pl->l = calloc(1, sizeof(*l))))
		return -1;
	if (!read_label_set(l, text, text + len, pl->key, sizeof(pl->key), &le))
		return -1;
	for (i = 0; i < l->n; i++) {
		pp_label init = IO__PROMETHEUS__CLIENT__LABEL_PAIR__INIT;

		pl->lab[i] = init;
		pl->lab[i].name = l->arena.buf + l->name_off[i];
		pl->lab[i].value = l->arena.buf + l->value_off[i];
		pl->labp[i] = &pl->lab[i];
	}
	return (int)l->n;
}

void promproto_labels_free(struct promproto_labels *pl)
{
	if (pl->l)
		sb_free(&pl->l->arena);
	free(pl->l);
	pl->l = NULL;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && memcmp(s + n - k, suf, k) == 0;
}

static void end_family(struct strbuf *out, struct gather *g, int *have)
{
	flush_metric(g);
	if (*have)
		promproto_end(out, &g->body);
	*have = 0;
}

/* HELP text with the classic format's escapes (\\, \n) undone. */
static char *unescape_help(const char *p, const char *eol)
{
	char *s = malloc((size_t)(eol - p) + 1), *d = s;

	if (!s)
		return NULL;
	for (; p < eol; p++) {
		if (*p == '\\' && p + 1 < eol) {
			p++;
			*d++ = *p == 'n' ? '\n' : *p;
		} else {
			*d++ = *p;
		}
	}
	*d = 0;
	return s;
}

int promproto_from_text(struct strbuf *out, const char *text, size_t len)
{
	struct gather *g;
	const char *p = text, *end;
	char *fname = NULL, *help = NULL;
	int have = 0, rc = 0;
	size_t i;

	if (!len)
		return 0; /* text may be NULL then (an empty strbuf) */
	end = text + len;
	if (!(g = calloc(1, sizeof(*g))))
		return -1;
	for (i = 0; i < MAX_BUCKETS; i++)
		g->bucketp[i] = &g->bucket[i];
	while (p < end && rc == 0) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		eol = eol ? eol : end;
		if ((size_t)(eol - p) > 7 && memcmp(p, "# HELP ", 7) == 0) {
			const char *n = p + 7, *ne = memchr(n, ' ', (size_t)(eol - n));

			end_family(out, g, &have);
			ne = ne ? ne : eol;
			free(fname);
			free(help);
			fname = strndup(n, (size_t)(ne - n));
			help = unescape_help(ne < eol ? ne + 1 : eol, eol);
			if (!fname || !help)
				rc = -1;
		} else if ((size_t)(eol - p) > 7 && memcmp(p, "# TYPE ", 7) == 0) {
			const char *t = memchr(p + 7, ' ', (size_t)(eol - p - 7));
			size_t tl = t ? (size_t)(eol - t - 1) : 0;

			if (!fname || !t) {
				rc = -1;
				break;
			}
			g->type = tl == 7 && !memcmp(t + 1, "counter", 7)	   ? PP_COUNTER
				  : tl == 5 && !memcmp(t + 1, "gauge", 5)	   ? PP_GAUGE
				  : tl == 9 && !memcmp(t + 1, "histogram", 9) ? PP_HISTOGRAM
									   : PP_UNTYPED;
			promproto_begin(&g->body, fname, help, g->type);
			have = 1;
		} else if (eol > p && *p != '#') {
			const char *name;
			size_t nlen;
			char key[sizeof(g->key)];
			double le, v;

			if (!have || read_sample(&g->lab[!g->cur], p, eol, &name, &nlen, key, sizeof(key), &le, &v)) {
				rc = -1;
				break;
			}
			if (g->type != PP_HISTOGRAM) {
				g->cur = !g->cur;
				g->open = 1;
				g->value = v;
				flush_metric(g);
			} else {
				if (!g->open || strcmp(key, g->key) != 0) {
					/* A new series: the labels just read are its. */
					flush_metric(g);
					g->cur = !g->cur;
					g->open = 1;
					g->nb = 0;
					g->sum = 0;
					g->count = 0;
					strcpy(g->key, key);
				}
				if (ends_with(name, nlen, "_bucket")) {
					if (!isinf(le)) {
						pp_bucket init = IO__PROMETHEUS__CLIENT__BUCKET__INIT;

						if (g->nb == MAX_BUCKETS) {
							rc = -1;
							break;
						}
						g->bucket[g->nb] = init;
						g->bucket[g->nb].has_cumulative_count = 1;
						g->bucket[g->nb].cumulative_count = (uint64_t)v;
						g->bucket[g->nb].has_upper_bound = 1;
						g->bucket[g->nb].upper_bound = le;
						g->nb++;
					}
				} else if (ends_with(name, nlen, "_sum")) {
					g->sum = v;
				} else if (ends_with(name, nlen, "_count")) {
					g->count = (uint64_t)v;
				}
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	if (rc == 0)
		end_family(out, g, &have);
	if (!sb_ok(&g->body))
		rc = -1;
	sb_free(&g->body);
	sb_free(&g->lab[0].arena);
	sb_free(&g->lab[1].arena);
	free(g);
	free(fname);
	free(help);
	return rc || !sb_ok(out) ? -1 : 0;
}
