/* SPDX-License-Identifier: MIT */
/*
 * The /metrics exposition: the request-duration histograms from agg.c,
 * then the server-state families and the tracer's own metrics. The text
 * itself is written with promtext.h.
 */
#ifndef WT_EXPOSE_H
#define WT_EXPOSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agg.h"
#include "expfmt.h"
#include "promtext.h"
#include "strbuf.h"

#define EXPOSE_HIST_NAME "http_server_request_duration_seconds"

/*
 * What the exposition writes after the request histograms: the families
 * the caller rendered itself, then the modules' self metrics
 * (promtext.h), then wsgitrace_build_info.
 */
struct expose_self {
	/* A histogram family of series labelled by service_name alone (the
	 * queue time: the agg used with empty method and route), placed first;
	 * with native buckets in protobuf as the request histograms have them.
	 * NULL agg for none. */
	struct agg *svc_hist;
	const char *svc_hist_name, *svc_hist_help;
	/* Per-service families (a few lines per service), placed next; NULL
	 * for none. */
	const char *extra;
	size_t extra_len;
	const struct promtext_source *src; /* the modules' tables and their stats */
	size_t nsrc;
	const char *version; /* build info labels; NULL renders "" */
	const char *revision;
	const char *hook; /* "sockets" or "syscalls": how data is captured */
};

/*
 * A histogram family called name holding agg's series labelled by
 * service_name alone (the agg is used with empty method and route).
 */
void expose_service_histogram(struct strbuf *sb, const char *name, const char *help, struct agg *agg);

/*
 * Appends the whole exposition to sb: the histogram family (HELP and TYPE
 * even with no series), then self. agg may be NULL; self may be NULL
 * (nothing after the histograms). Series are in agg_list() order, so equal
 * inputs give byte-identical output.
 * 0, or -1 if the buffer could not grow (sb->oom).
 */
int expose_render(struct strbuf *sb, struct agg *agg, const struct expose_self *self);

/*
 * The same exposition in format f (expfmt.h). OpenMetrics: the same
 * samples, counter families named without _total, "# EOF" at the end; no
 * _created samples (optional in OpenMetrics; a series' start is not kept).
 * Protobuf: a delimited MetricFamily per family, each request histogram
 * with both its classic buckets and its native ones (agg_set_native()),
 * the self metrics converted from their text; each series' packed bytes
 * are kept with it (agg_series_keep_packed()) and reused while it has no
 * new observation. Same numbers in every format. Exemplars
 * (agg_set_exemplars()) in OpenMetrics and protobuf, never in the classic
 * text.
 */
int expose_render_fmt(struct strbuf *sb, struct agg *agg, const struct expose_self *self, enum expfmt f);

/*
 * The same bytes as expose_render(), read in pieces so that no buffer the
 * size of the exposition is needed: a scrape of 10,000 series is ~36 MB.
 *
 * expose_stream_new() takes the series list and renders self (so its
 * figures are those of this moment, and nothing of self is kept). The
 * series are rendered as they are read, one whole series at a time: between
 * reads the agg may be observed into (single-threaded, not concurrently),
 * and each series then shows its counts as of when its first byte was read,
 * never half old and half new. Series created after expose_stream_new() are
 * not in this exposition. The agg must outlive the stream; the stream holds
 * it (agg_hold()), so no series is retired while it is read. agg and self
 * may be NULL as for expose_render(). NULL if out of memory.
 */
struct expose_stream;
struct expose_stream *expose_stream_new(struct agg *agg, const struct expose_self *self);
/*
 * The same in format f. Text and OpenMetrics stream series by series as
 * above; protobuf is packed whole at creation (a snapshot of every series
 * at that moment; ~0.5 kB a series), since a family's length comes first.
 */
struct expose_stream *expose_stream_open(struct agg *agg, const struct expose_self *self, enum expfmt f);
/*
 * Copies the next bytes, at most max (> 0), to buf: the count, which is
 * less than max only at the end, 0 once everything was read, or -1 if out of
 * memory (the stream is then unusable but must still be freed).
 */
ssize_t expose_stream_read(struct expose_stream *x, char *buf, size_t max);
void expose_stream_free(struct expose_stream *x);

#endif /* WT_EXPOSE_H */
