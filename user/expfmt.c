// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expfmt.h"

#define PROTO_TYPE "application/vnd.google.protobuf"
#define OM_TYPE "application/openmetrics-text"

const char *expfmt_content_type(enum expfmt f)
{
	switch (f) {
	case EXPFMT_PROTOBUF:
		return PROTO_TYPE "; proto=io.prometheus.client.MetricFamily; encoding=delimited";
	case EXPFMT_OPENMETRICS:
		return OM_TYPE "; version=1.0.0; charset=utf-8";
	default:
		return "text/plain; version=0.0.4; charset=utf-8";
	}
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static size_t trim_len(const char *p, const char *end)
{
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return (size_t)(end - p);
}

/* One media range of an Accept header: its type and the parameters we look at. */
struct range {
	char type[64];
	char version[16], proto[64], encoding[16];
	double q;
	unsigned pos;
};

static void copy_value(char *dst, size_t sz, const char *p, size_t n)
{
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n >= sz)
		n = sz - 1; /* too long to be one we know: compares unequal anyway */
	memcpy(dst, p, n);
	dst[n] = 0;
}

static void parse_range(struct range *r, const char *p, const char *end)
{
	const char *semi = memchr(p, ';', (size_t)(end - p));
	const char *tend = semi ? semi : end;

	memset(r, 0, sizeof(*r));
	r->q = 1;
	p = skip_ws(p, tend);
	copy_value(r->type, sizeof(r->type), p, trim_len(p, tend));
	while (semi) {
		const char *k = skip_ws(semi + 1, end), *eq, *vend;
		size_t klen;

		semi = memchr(k, ';', (size_t)(end - k));
		vend = semi ? semi : end;
		eq = memchr(k, '=', (size_t)(vend - k));
		if (!eq)
			continue;
		klen = trim_len(k, eq);
		eq = skip_ws(eq + 1, vend);
		if (klen == 1 && (*k == 'q' || *k == 'Q')) {
			char num[16];

			copy_value(num, sizeof(num), eq, trim_len(eq, vend));
			r->q = strtod(num, NULL);
		} else if (klen == 7 && strncasecmp(k, "version", 7) == 0) {
			copy_value(r->version, sizeof(r->version), eq, trim_len(eq, vend));
		} else if (klen == 5 && strncasecmp(k, "proto", 5) == 0) {
			copy_value(r->proto, sizeof(r->proto), eq, trim_len(eq, vend));
		} else if (klen == 8 && strncasecmp(k, "encoding", 8) == 0) {
			copy_value(r->encoding, sizeof(r->encoding), eq, trim_len(eq, vend));
		}
	}
}

/* Higher q first; equal q in the order given. */
static int by_q(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->q != y->q)
		return x->q > y->q ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

#define MAX_RANGES 32

enum expfmt expfmt_negotiate(const char *accept)
{
	struct range r[MAX_RANGES];
	unsigned n = 0, i;
	const char *p = accept, *end;

	if (!p)
		return EXPFMT_TEXT;
	end = p + strlen(p);
	while (p < end && n < MAX_RANGES) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *rend = comma ? comma : end;

		parse_range(&r[n], p, rend);
		r[n].pos = n;
		/* q=0 is "not acceptable". */
		if (r[n].type[0] && r[n].q > 0)
			n++;
		p = comma ? comma + 1 : end;
	}
	qsort(r, n, sizeof(r[0]), by_q);
	for (i = 0; i < n; i++) {
		if (strcasecmp(r[i].type, PROTO_TYPE) == 0 && strcmp(r[i].proto, "io.prometheus.client.MetricFamily") == 0 &&
		    strcmp(r[i].encoding, "delimited") == 0)
			return EXPFMT_PROTOBUF;
		if (strcasecmp(r[i].type, OM_TYPE) == 0 &&
		    (!r[i].version[0] || strcmp(r[i].version, "1.0.0") == 0 || strcmp(r[i].version, "0.0.1") == 0))
			return EXPFMT_OPENMETRICS;
		if (strcasecmp(r[i].type, "text/plain") == 0 && (!r[i].version[0] || strcmp(r[i].version, "0.0.4") == 0))
			return EXPFMT_TEXT;
	}
	return EXPFMT_TEXT;
}

/* The family name of a "# HELP " or "# TYPE " line: [name, *nend). */
static const char *meta_name(const char *line, const char *eol, const char **nend)
{
	const char *p = line + 7, *q = p;

	while (q < eol && *q != ' ')
		q++;
	*nend = q;
	return p;
}

/* Is the line after [line, eol) "# TYPE <name> counter"? */
static int next_is_counter_type(const char *name, size_t nlen, const char *next, const char *end)
{
	const char *eol = memchr(next, '\n', (size_t)(end - next)), *nend, *nm;

	if (!eol)
		eol = end;
	if ((size_t)(eol - next) < 7 || memcmp(next, "# TYPE ", 7) != 0)
		return 0;
	nm = meta_name(next, eol, &nend);
	return (size_t)(nend - nm) == nlen && memcmp(nm, name, nlen) == 0 && (size_t)(eol - nend) == 8 &&
	       memcmp(nend, " counter", 8) == 0;
}

void expfmt_openmetrics(struct strbuf *out, const char *text, size_t len)
{
	const char *p = text, *end;

	if (!len)
		return; /* text may be NULL then (an empty strbuf) */
	end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *next;
		int help;

		eol = eol ? eol : end;
		next = eol < end ? eol + 1 : end;
		help = (size_t)(eol - p) >= 7 && memcmp(p, "# HELP ", 7) == 0;
		if (help || ((size_t)(eol - p) >= 7 && memcmp(p, "# TYPE ", 7) == 0)) {
			const char *nend, *name = meta_name(p, eol, &nend), *q;
			size_t nlen = (size_t)(nend - name);
			int counter = help ? next_is_counter_type(name, nlen, next, end)
					   : (size_t)(eol - nend) == 8 && memcmp(nend, " counter", 8) == 0;

			if (counter && nlen > 6 && memcmp(nend - 6, "_total", 6) == 0)
				nlen -= 6;
			sb_append(out, p, 7);
			sb_append(out, name, nlen);
			/* HELP text: the classic format escapes \\ and \n; OpenMetrics quotes too. */
			for (q = nend; q < eol; q++) {
				if (help && *q == '"')
					sb_putc(out, '\\');
				sb_putc(out, *q);
			}
			sb_putc(out, '\n');
		} else {
			sb_append(out, p, (size_t)(next - p));
		}
		p = next;
	}
}
