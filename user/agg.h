/* SPDX-License-Identifier: MIT */
/*
 * http_server_request_duration_seconds: one histogram per
 * (service_name, http_request_method, http_route, http_response_status_code).
 *
 * Everything here only goes up: series are never reset (only retired, when
 * asked, see below) and there is no per-process or per-worker state, so a worker that exits or is
 * restarted takes nothing away from the counters (the failure of per-worker
 * prometheus_client counters that jump up and down between scrapes).
 *
 * Cardinality is bounded per service and overall, so that one service
 * whose paths are walked by a scanner cannot take the series of the others.
 * An observation that would need a new series past its service's limit
 * (agg_set_service_limit()) goes to that service's overflow series for its
 * method and status,
 *   service_name=<its service>, http_request_method=<its method>,
 *   http_route="_overflow", http_response_status_code=<its status>
 * so the service's error rates stay visible; these count against the
 * overall max_series but not against the service's limit. Past max_series
 * it goes to a single last series
 *   service_name="_overflow", http_request_method="_OTHER",
 *   http_route="_overflow", http_response_status_code="0"
 * which is not counted against max_series and is listed (last) once it has
 * observations. Both are counted in agg_series_dropped()
 * (wsgitrace_series_dropped_total). Observations for series that already
 * exist keep going to them. Allocation failures for a new series take the
 * same path, so an observation is never lost.
 *
 * A scan fills a service's limit with series observed once. So that the
 * service's routes in use still get series of their own afterwards, a key
 * that goes to the service's overflow route a second time (among the
 * service's last AGG_RECENT such keys) takes the place of one of the
 * service's series: the oldest observed only once, else the least recently
 * observed if idle for AGG_IDLE_REPLACE_NS; only one that a listing (a scrape) has served since its last
 * observation, so Prometheus has read all it held, and not while a reader
 * holds the agg. A scanner asks for each path once: its paths stay in the
 * overflow series, and the series Prometheus sees do not churn. A replaced
 * series that comes back starts again from one, which Prometheus reads as
 * a counter reset only if its first scraped count is below the old one.
 *
 * Series not updated for a while can be retired (agg_retire()), so that a
 * burst of paths does not hold its series until restart; a retired series
 * that comes back starts again from zero, which Prometheus reads as a
 * counter reset.
 *
 * Single-threaded, like the daemon's main loop.
 */
#ifndef WT_AGG_H
#define WT_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "native.h"
#include "request.h"
#include "traceparent.h"

#define AGG_MAX_BUCKETS 64
/* Bounds are compared with nanosecond observations: 1 ns .. ~11.6 days. */
#define AGG_BOUND_MIN 1e-9
#define AGG_BOUND_MAX 1e6
#define AGG_DEFAULT_MAX_SERIES 2000
/* A route observed more than once is replaced only after this rest (agg.h). */
#define AGG_IDLE_REPLACE_NS (600ull * 1000000000ull)
#define AGG_OVERFLOW_ROUTE "_overflow"
#define AGG_OVERFLOW_SERVICE "_overflow"
#define AGG_OVERFLOW_METHOD "_OTHER"

/* Default upper bounds in seconds; see agg.c for the reasoning. */
extern const double agg_default_buckets[];
extern const size_t agg_default_nbuckets;

struct agg_service;

/*
 * A bucket's exemplar: its latest observation of a request that carried a
 * valid traceparent. A slot whose trace-id is all zero (which no valid
 * traceparent has) is empty.
 */
struct agg_exemplar {
	struct wt_trace trace;
	uint64_t value_ns; /* the observed duration */
	int64_t ts_ns;     /* when the request ended, wall clock (ns since the epoch) */
};

struct agg_series {
	struct agg_series *next; /* hash chain */
	struct agg_service *svc; /* whose limit it counts against; NULL for overflow series */
	uint64_t hash;
	uint64_t last_ns; /* agg_retire()'s clock at the last observation */
	uint64_t listing; /* agg_list() calls before the last observation */
	/* Its service's lists (agg.c): [0] its series observed once, oldest
	 * first; [1] all its series, least recently observed first. */
	struct agg_series *lprev[2], *lnext[2];
	uint64_t count;
	uint64_t sum_ns; /* exact; carried into sum_s before it could wrap */
	double sum_s;
	const char *service;
	const char *method;
	const char *route;
	int status;
	struct native_hist native; /* the same observations in exponential buckets */
	/* One per classic bucket (+Inf included), allocated at the series' first
	 * traced observation; NULL until then. */
	struct agg_exemplar *ex;
	/* The series as the protobuf exposition last packed it, kept so that a
	 * series not observed since is not packed again: valid while count is
	 * still packed_count (every observation counts). Freed with the series. */
	uint8_t *packed;
	size_t packed_len;
	uint64_t packed_count;
	/* Non-cumulative: buckets[i] counts bound[i-1] < v <= bound[i];
	 * buckets[nbuckets] counts v > the last bound (the +Inf remainder). */
	uint64_t buckets[];
};

struct agg;
struct promtext_table;

/*
 * bounds: strictly increasing upper bounds in seconds, without +Inf; NULL
 * means the defaults. max_series >= 1. NULL on error, with err set.
 */
struct agg *agg_new(const double *bounds, size_t nbounds, size_t max_series, char *err, size_t errlen);
void agg_free(struct agg *a);

/*
 * Checks bounds as agg_new() does: 1..AGG_MAX_BUCKETS finite values in
 * [AGG_BOUND_MIN, AGG_BOUND_MAX], strictly increasing, also once rounded to
 * nanoseconds. 0 or -1 with err set.
 */
int agg_validate_buckets(const double *bounds, size_t n, char *err, size_t errlen);

/*
 * Parses "0.001,0.01,0.1" (seconds; blanks around values allowed) into
 * out[max] and validates it. A final "+Inf" (or "inf", "Infinity") is
 * accepted and left out, since it is always the last bucket; any other
 * infinity or NaN is an error. 0 with *n set, err then holding a note for
 * the user when a final +Inf was left out and empty otherwise; or -1 with
 * err set.
 */
int agg_parse_buckets(const char *spec, double *out, size_t max, size_t *n, char *err, size_t errlen);

/*
 * Native (exponential) buckets kept beside the classic ones, for the
 * protobuf exposition; o validated with native_validate(). Default:
 * native_default_opts. Set before the first observation.
 */
void agg_set_native(struct agg *a, const struct native_opts *o);
const struct native_opts *agg_native(const struct agg *a);

/*
 * Exemplars: each classic bucket keeps the latest observation that came
 * with a trace (agg_observe_request() of a request whose traceparent was
 * valid), (nbounds + 1) * sizeof(struct agg_exemplar) bytes per series
 * that had one. Off by default; on also counts the traceparents that were
 * malformed or not seen (agg_stats). Set before the first observation.
 */
void agg_set_exemplars(struct agg *a, int on);
int agg_exemplars(const struct agg *a);
/*
 * Wall clock minus the monotonic clock the requests are stamped with, in
 * ns: an exemplar's timestamp is its request's end_ns plus this. Set it on
 * a timer (the clocks drift apart slowly).
 */
void agg_set_realtime_offset(struct agg *a, int64_t offset_ns);
/* The exemplar of bucket i (0..nbounds, the last being +Inf) of s; NULL: none. */
const struct agg_exemplar *agg_exemplar(const struct agg_series *s, size_t i);

/*
 * Series per service_name, overflow series aside. 0 (the default) means
 * max_series / AGG_SERVICE_SHARE, at least 1: one service never takes the
 * whole pool, whatever max_series is.
 */
#define AGG_SERVICE_SHARE 5
void agg_set_service_limit(struct agg *a, size_t max_per_service);

/*
 * Records one duration. NULL service is "", NULL method "_OTHER", NULL route
 * "/". Returns 0 when it went to its own series, 1 when it went to an
 * overflow series.
 */
int agg_observe(struct agg *a, const char *service, const char *method, const char *route, int status,
		uint64_t dur_ns);
/* The same, with the trace of the request observed (NULL: none) and when it ended (wall clock, ns). */
int agg_observe_traced(struct agg *a, const char *service, const char *method, const char *route, int status,
		       uint64_t dur_ns, const struct wt_trace *trace, int64_t ts_ns);

/*
 * Records a completed request: route from route_normalize(rq->path, ...,
 * fold_ids), duration end_ns - start_ns (0 if the clock went backwards),
 * its trace as the bucket's exemplar when exemplars are on.
 */
int agg_observe_request(struct agg *a, const char *service, const struct wt_request *rq, int fold_ids);

/*
 * Sets the clock observations are stamped with (call it on a timer, with a
 * monotonic now_ns) and, with ttl_ns > 0, frees the series whose last
 * observation is ttl_ns or more before now_ns; the last overflow series
 * stays. Does nothing while a reader holds the agg. Returns the count.
 */
size_t agg_retire(struct agg *a, uint64_t now_ns, uint64_t ttl_ns);
/* A reader (an exposition stream) keeps series pointers until it releases. */
void agg_hold(struct agg *a);
void agg_release(struct agg *a);

/* Series with observations, the overflow series included once it has any. */
size_t agg_series_active(const struct agg *a);
/* Observations that went to the overflow series. */
uint64_t agg_series_dropped(const struct agg *a);
/* Series removed by agg_retire() or replaced to make room. */
uint64_t agg_series_retired(const struct agg *a);

/* The same figures, for the self metrics. */
struct agg_stats {
	uint64_t series_active;  /* gauge: agg_series_active(), counted when agg_stats() is called */
	uint64_t series_dropped; /* observations that went to an overflow series */
	uint64_t series_retired; /* series removed by agg_retire() or replaced to make room */
	uint64_t native_lost;    /* observations not in a native histogram (out of memory) */
	uint64_t traceparent_malformed; /* requests whose traceparent was not valid: no exemplar */
	uint64_t traceparent_unseen;    /* requests whose head was cut before a traceparent was seen */
	uint64_t exemplars_lost;        /* traced requests whose exemplar could not be kept (out of memory) */
};
const struct agg_stats *agg_stats(struct agg *a);
/* The self metrics of agg_stats() (promtext.h). */
extern const struct promtext_table agg_metrics;

/* Keeps n bytes (p) as s's packed form for its count now; on failure keeps none. */
void agg_series_keep_packed(struct agg_series *s, const void *p, size_t n);
/* s's packed form if it is still that of its count, else NULL. */
const uint8_t *agg_series_packed(const struct agg_series *s, size_t *n);

const double *agg_bounds(const struct agg *a, size_t *n);
double agg_series_sum(const struct agg_series *s);

/*
 * All series with observations, sorted by service, route, method, status,
 * the overflow series last. The array belongs to the agg and stays valid
 * until the next agg_observe*() or agg_free(). Returns the count.
 */
size_t agg_list(struct agg *a, struct agg_series *const **out);

#endif /* WT_AGG_H */
