// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

/* Label values escape \\, " and newline; other control bytes are legal in them. */
static const char *const label_esc[128] = { ['\\'] = "\\\\", ['"'] = "\\\"", ['\n'] = "\\n" };

void promtext_label_value_n(struct strbuf *sb, const char *s, size_t n)
{
	sb_append_escaped(sb, s, n, label_esc, "\xef\xbf\xbd"); /* U+FFFD */
}

void promtext_label_value(struct strbuf *sb, const char *str)
{
	const char *s = str ? str : "";

	promtext_label_value_n(sb, s, strlen(s));
}

void promtext_label_n(struct strbuf *sb, const char *name, const char *value, size_t n)
{
	sb_puts(sb, name);
	sb_puts(sb, "=\"");
	promtext_label_value_n(sb, value, n);
	sb_putc(sb, '"');
}

void promtext_label(struct strbuf *sb, const char *name, const char *value)
{
	const char *s = value ? value : "";

	promtext_label_n(sb, name, s, strlen(s));
}

size_t promtext_fmt_double(char *buf, size_t sz, double v)
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

void promtext_double(struct strbuf *sb, double v)
{
	char buf[48];

	sb_append(sb, buf, promtext_fmt_double(buf, sizeof(buf), v));
}

void promtext_family(struct strbuf *sb, const char *name, const char *type, const char *help)
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

void promtext_sample(struct strbuf *sb, const char *name, uint64_t v)
{
	sb_puts(sb, name);
	sb_putc(sb, ' ');
	sb_put_u64(sb, v);
	sb_putc(sb, '\n');
}

void promtext_sample_end(struct strbuf *sb, uint64_t v)
{
	sb_puts(sb, "} ");
	sb_put_u64(sb, v);
	sb_putc(sb, '\n');
}

static uint64_t row_value(const struct promtext_metric *m, const void *stats)
{
	uint64_t v;

	memcpy(&v, (const char *)stats + m->off, sizeof(v));
	return v;
}

/* The sum of the uint64_t rows called name, over every table. */
static uint64_t family_value(const struct promtext_source *src, size_t n, const char *name)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < src[i].table->n; j++) {
			const struct promtext_metric *m = &src[i].table->rows[j];

			if (!m->write && strcmp(m->name, name) == 0)
				v += row_value(m, src[i].stats);
		}
	return v;
}

void promtext_tables(struct strbuf *sb, const struct promtext_source *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < src[i].table->n; j++) {
			const struct promtext_metric *m = &src[i].table->rows[j];

			if (!m->help)
				continue;
			promtext_family(sb, m->name, m->type == PROMTEXT_GAUGE ? "gauge" : "counter", m->help);
			if (m->write)
				m->write(sb, m->name, src[i].stats);
			else
				promtext_sample(sb, m->name, family_value(src, n, m->name));
		}
}
