/* SPDX-License-Identifier: MIT */
/*
 * The exposition formats /metrics can answer in, chosen from the scraper's
 * Accept header the way Prometheus' client libraries choose (client_golang's
 * expfmt.NegotiateIncludingOpenMetrics): the acceptable media ranges in
 * order of q, the first one that is a format here wins, classic text when
 * none is:
 *   application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 *     encoding=delimited                        -> EXPFMT_PROTOBUF
 *   application/openmetrics-text; version=1.0.0, 0.0.1 or none
 *                                               -> EXPFMT_OPENMETRICS (1.0.0)
 *   text/plain; version=0.0.4 or none           -> EXPFMT_TEXT
 * And the rewriting of classic text into OpenMetrics text. A leaf.
 */
#ifndef WT_EXPFMT_H
#define WT_EXPFMT_H

#include <stddef.h>

#include "strbuf.h"

enum expfmt { EXPFMT_TEXT, EXPFMT_OPENMETRICS, EXPFMT_PROTOBUF };

/* NULL or empty accepts anything: EXPFMT_TEXT. */
enum expfmt expfmt_negotiate(const char *accept);
/* The Content-Type of an answer in f. */
const char *expfmt_content_type(enum expfmt f);

/*
 * Appends text (classic text format, whole lines, as promtext.h writes
 * it) as OpenMetrics text 1.0.0: a counter family's HELP and TYPE lines
 * name it without its samples' _total suffix, and quotes in HELP texts are
 * escaped. Samples are the same lines. The "# EOF" line is the caller's.
 */
void expfmt_openmetrics(struct strbuf *out, const char *text, size_t len);

#endif /* WT_EXPFMT_H */
