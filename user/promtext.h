/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format 0.0.4, the pieces every family is made
 * of: escaped label values, numbers as Prometheus prints them, a family's
 * HELP and TYPE lines, sample lines. A leaf: it knows nothing of what the
 * metrics mean.
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

#endif /* WT_PROMTEXT_H */
