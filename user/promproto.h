/* SPDX-License-Identifier: MIT */
/*
 * Prometheus protobuf exposition (client_model's io.prometheus.client
 * messages, encoded by protobuf-c): a length-delimited MetricFamily per
 * family. A family is built as its header (name, help, type) followed by
 * its metrics, each packed on its own: repeated fields of a message
 * concatenate, so a family never has to be held as one tree of structs.
 * Also: a classic text exposition turned into the same messages (the
 * self metrics, written once as text), and a native_hist as spans and
 * deltas. A leaf, apart from the native_hist it reads.
 */
#ifndef WT_PROMPROTO_H
#define WT_PROMPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.pb-c.h"
#include "native.h"
#include "strbuf.h"

typedef Io__Prometheus__Client__Metric pp_metric;
typedef Io__Prometheus__Client__LabelPair pp_label;
typedef Io__Prometheus__Client__Histogram pp_histogram;
typedef Io__Prometheus__Client__Bucket pp_bucket;
typedef Io__Prometheus__Client__BucketSpan pp_span;

#define PP_COUNTER IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
#define PP_GAUGE IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE
#define PP_HISTOGRAM IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM
#define PP_UNTYPED IO__PROMETHEUS__CLIENT__METRIC_TYPE__UNTYPED

/* body: reset, then the family's name, help and type. */
void promproto_begin(struct strbuf *body, const char *name, const char *help, Io__Prometheus__Client__MetricType type);
/* One more metric of the family begun in body. */
void promproto_metric(struct strbuf *body, const pp_metric *m);
/* body as one length-delimited message (varint length, bytes) appended to out. */
void promproto_end(struct strbuf *out, const struct strbuf *body);

/*
 * Scratch for promproto_native(): spans and deltas of up to
 * NATIVE_MAX_BUCKETS_LIMIT buckets.
 */
struct promproto_native {
	pp_span span[NATIVE_MAX_BUCKETS_LIMIT / 2 + 1];
	pp_span *spanp[NATIVE_MAX_BUCKETS_LIMIT / 2 + 1];
	int64_t delta[NATIVE_MAX_BUCKETS_LIMIT];
};

/*
 * Sets hist's native fields from h (schema, zero bucket, positive spans
 * and deltas; a run of more than two empty buckets starts a new span),
 * pointing into sc. h without observations gets an empty positive span
 * so that the histogram still reads as native.
 */
void promproto_native(pp_histogram *hist, const struct native_hist *h, double zero_threshold,
		      struct promproto_native *sc);

#define PROMPROTO_MAX_LABELS 16

/* A label set read from text; start zeroed, free with promproto_labels_free(). */
struct promproto_labels {
	struct labels *l; /* the unescaped names and values */
	pp_label lab[PROMPROTO_MAX_LABELS];
	pp_label *labp[PROMPROTO_MAX_LABELS];
	char key[1024];
};
/*
 * Reads `name="value",...` (text format escapes) into pl->labp: the
 * count, or -1 if it cannot be read. Valid until the next call.
 */
int promproto_labels(struct promproto_labels *pl, const char *text, size_t len);
void promproto_labels_free(struct promproto_labels *pl);

/*
 * Appends the families of a classic text exposition, as promtext.h writes
 * it (HELP, TYPE, then the family's samples; a histogram's series as
 * _bucket lines, _sum, _count), as delimited MetricFamily messages.
 * 0, or -1 on a line it cannot read or out of memory.
 */
int promproto_from_text(struct strbuf *out, const char *text, size_t len);

#endif /* WT_PROMPROTO_H */
