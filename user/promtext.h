/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format 0.0.4, the pieces every family is made
 * of: escaped label values, numbers as Prometheus prints them, a family's
 * HELP and TYPE lines, sample lines. And the tables in which modules publish
 * their own counters (the wsgitrace_* self metrics): a module lists each
 * counter once, next to the code that counts it, as a row of the table it
 * declares beside its stats function (conntrack_metrics beside
 * conntrack_stats()), and the exposition walks the tables; main.c names
 * each module's table once. A new self metric is one row. A leaf: it
 * knows nothing of what the metrics mean.
 */
#ifndef WT_PROMTEXT_H
#define WT_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends a label value escaped per the format (\\, \", \n), invalid UTF-8
 * bytes replaced with U+FFFD; NULL is "". */
void promtext_label_value(struct strbuf *sb, const char *s);
/* The same for n bytes of s, not NUL terminated. */
void promtext_label_value_n(struct strbuf *sb, const char *s, size_t n);
/* name="value", the value escaped; no separator before or after. */
void promtext_label(struct strbuf *sb, const char *name, const char *value);
void promtext_label_n(struct strbuf *sb, const char *name, const char *value, size_t n);

/* Writes v the way Prometheus prints it to buf (at least 32 bytes): the
 * shortest text that reads back as the same double, "+Inf", "-Inf", "NaN".
 * Returns the length. */
size_t promtext_fmt_double(char *buf, size_t sz, double v);
void promtext_double(struct strbuf *sb, double v);

/* The "# HELP" and "# TYPE" lines of a family. */
void promtext_family(struct strbuf *sb, const char *name, const char *type, const char *help);
/* A sample without labels: "name v\n". */
void promtext_sample(struct strbuf *sb, const char *name, uint64_t v);
/* The end of a sample whose "name{labels" the caller wrote: "} v\n". */
void promtext_sample_end(struct strbuf *sb, uint64_t v);

enum promtext_type { PROMTEXT_COUNTER, PROMTEXT_GAUGE };

/*
 * One row of a module's table: a family and where its value is. Most rows
 * read a uint64_t at off in the module's stats struct (PROMTEXT_U64).
 * A row without help adds its value to the family of the same name that
 * has one, wherever that row is: one loss that two modules see (a
 * connection table full in the kernel or in the daemon) is one family.
 * A row with write instead writes the family's samples itself (labels,
 * several samples, a value that is not a uint64_t); the walk has written
 * its HELP and TYPE lines.
 */
struct promtext_metric {
	const char *name;
	enum promtext_type type;
	const char *help;
	size_t off;
	void (*write)(struct strbuf *sb, const char *name, const void *stats);
};

/* A module's rows; the module defines it with PROMTEXT_TABLE(its array). */
struct promtext_table {
	const struct promtext_metric *rows;
	size_t n;
};

/* A table and the stats its rows read, as of this scrape. */
struct promtext_source {
	const struct promtext_table *table;
	const void *stats;
};

/* The offset of field in struct type, which must be a uint64_t (a compile error otherwise). */
#define PROMTEXT_OFF(stype, field)                                                                     \
	(offsetof(stype, field) +                                                                      \
	 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((stype *)0)->field), uint64_t) ? 1 : -1]))
/* A counter or gauge whose value is stats->field. */
#define PROMTEXT_U64(name, type, stype, field, help) { name, type, help, PROMTEXT_OFF(stype, field), NULL }
/* stats->field added to the family name, which another row (of any table) describes. */
#define PROMTEXT_ADD(name, stype, field) { name, PROMTEXT_COUNTER, NULL, PROMTEXT_OFF(stype, field), NULL }
/* A family whose samples fn writes from the stats (labelled, per program, ...). */
#define PROMTEXT_WRITE(name, type, fn, help) { name, type, help, 0, fn }
#define PROMTEXT_TABLE(rows) { rows, sizeof(rows) / sizeof((rows)[0]) }

/*
 * Every family of the tables, in the order of the sources and of their rows;
 * a row without help is summed into its family and writes nothing itself.
 */
void promtext_tables(struct strbuf *sb, const struct promtext_source *src, size_t n);

#endif /* WT_PROMTEXT_H */
