// SPDX-License-Identifier: MIT
#include "agg.h"
#include "hash.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "labels.h"
#include "promtext.h"
#include "route.h"
#include "strbuf.h"

/*
 * Default bounds, seconds. 1-2.5-5 steps per decade, so a quantile estimated
 * from them is off by at most a factor 2.5, from 100 us to 30 s:
 *  - 100 us, 250 us, 500 us: a gunicorn sync worker answers a health check
 *    or a cached view over loopback or a unix socket in 100-400 us; the
 *    OpenTelemetry default (first bound 5 ms) puts all of those, and most of
 *    a fast API, in one bucket;
 *  - 30 s is gunicorn's default worker --timeout and a common uWSGI
 *    harakiri: requests killed there land in the last bucket instead of
 *    vanishing into +Inf, and 10 -> 30 s separates slow from killed.
 * 17 bounds: 19 lines per series with +Inf, _sum and _count.
 */
const double agg_default_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,
};
const size_t agg_default_nbuckets = sizeof(agg_default_buckets) / sizeof(agg_default_buckets[0]);

/*
 * Keys of a service's recent observations that went to its overflow route
 * for want of room: a key met again there is a route in use, not a probe.
 * A scanner asks for each path once; 256 keys let a route that comes back
 * within 256 other new keys of its service in (any route, once the scan
 * ends) get room.
 */
#define AGG_RECENT 256

/* Series of one service_name, for its cap. Few: one per traced app. */
struct agg_service {
	struct agg_service *next;
	size_t nseries; /* its own routes; its overflow series are not counted */
	/* Its lists, by agg_series.lprev/lnext index: what a route in use may replace. */
	struct agg_series *head[2], *tail[2];
	uint64_t recent[AGG_RECENT];
	size_t recent_next;
	char name[];
};

struct agg {
	double *bounds;
	uint64_t *bounds_ns; /* v <= bounds_ns[i] <=> v lands in bucket i or below */
	size_t nb;
	size_t max_series;
	size_t max_per_service;
	size_t nseries; /* in the table; the overflow series is not */
	struct agg_service *services;
	uint64_t clock_ns; /* of the last agg_retire(): when observations happen, to the tick */
	unsigned readers;  /* streams that hold series pointers: no retiring meanwhile */
	struct agg_series **tab;
	size_t tabmask;
	uint64_t seed;
	struct agg_series *overflow;
	struct agg_stats st;
	uint64_t listing; /* agg_list() calls: a series stamped before the last one was served */
	struct native_opts native;
	int exemplars;
	int64_t realtime_offset_ns;
	struct agg_series **sorted;
	size_t nsorted;
	int dirty;
};

static uint64_t to_ns(double s)
{
	return (uint64_t)llround(s * 1e9);
}

int agg_validate_buckets(const double *b, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n == 0) {
		err_printf(err, errlen, "no bucket bounds given: need at least one upper bound in seconds, e.g. 0.01,0.1,1");
		return -1;
	}
	if (n > AGG_MAX_BUCKETS) {
		err_printf(err, errlen, "%zu bucket bounds given, at most %d are supported", n, AGG_MAX_BUCKETS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!isfinite(b[i])) {
			err_printf(err, errlen, "bucket bound %zu is not a finite number (+Inf is always added, leave it out)",
			       i + 1);
			return -1;
		}
		if (b[i] < AGG_BOUND_MIN || b[i] > AGG_BOUND_MAX) {
			err_printf(err, errlen,
			       "bucket bound %zu (%g) is out of range: bounds are seconds between %g (1 ns) and %g",
			       i + 1, b[i], AGG_BOUND_MIN, AGG_BOUND_MAX);
			return -1;
		}
		if (i > 0 && !(b[i] > b[i - 1])) {
			err_printf(err, errlen,
			       "bucket bound %zu (%g) is not greater than bound %zu (%g): bounds must be strictly increasing",
			       i + 1, b[i], i, b[i - 1]);
			return -1;
		}
		if (i > 0 && to_ns(b[i]) <= to_ns(b[i - 1])) {
			err_printf(err, errlen,
			       "bucket bounds %zu (%g) and %zu (%g) are less than 1 ns apart: durations are measured in ns",
			       i, b[i - 1], i + 1, b[i]);
			return -1;
		}
	}
	return 0;
}

static int is_inf_token(const char *s, size_t n)
{
	if (n && *s == '+') {
		s++;
		n--;
	}
	return (n == 3 && strncasecmp(s, "inf", 3) == 0) || (n == 8 && strncasecmp(s, "infinity", 8) == 0);
}

int agg_parse_buckets(const char *spec, double *out, size_t max, size_t *n, char *err, size_t errlen)
{
	const char *p = spec;
	size_t k = 0;

	err_printf(err, errlen, "%s", "");
	if (!spec) {
		err_printf(err, errlen, "no bucket specification given");
		return -1;
	}
	for (;;) {
		const char *tok, *tend, *next;
		char buf[64], *end;
		double v;
		size_t tl;

		while (*p == ' ' || *p == '\t')
			p++;
		tok = p;
		next = strchr(p, ',');
		tend = next ? next : p + strlen(p);
		while (tend > tok && (tend[-1] == ' ' || tend[-1] == '\t'))
			tend--;
		tl = (size_t)(tend - tok);
		if (tl == 0) {
			if (k == 0 && !next)
				err_printf(err, errlen,
				       "empty bucket specification: give upper bounds in seconds, e.g. 0.01,0.1,1");
			else
				err_printf(err, errlen, "empty value at position %zu of the bucket list \"%s\"", k + 1,
				       spec);
			return -1;
		}
		if (!next && is_inf_token(tok, tl) && k > 0) {
			/* "...,10,+Inf" as Prometheus lists le values: meant, and
			 * implied anyway; said so that it is not silent. */
			err_printf(err, errlen, "the last value \"%.*s\" is left out: +Inf is always the last bucket",
				   (int)tl, tok);
			break;
		}
		if (tl >= sizeof(buf)) {
			err_printf(err, errlen, "bucket bound %zu is too long to be a number", k + 1);
			return -1;
		}
		memcpy(buf, tok, tl);
		buf[tl] = '\0';
		errno = 0;
		v = strtod(buf, &end);
		if (end == buf || *end != '\0') {
			err_printf(err, errlen, "bucket bound %zu (\"%s\") is not a number: give seconds, e.g. 0.005", k + 1,
			       buf);
			return -1;
		}
		if (errno == ERANGE && !(v > 0)) {
			err_printf(err, errlen, "bucket bound %zu (\"%s\") is too small: bounds are at least 1 ns (1e-9)",
			       k + 1, buf);
			return -1;
		}
		if (k >= max || k >= AGG_MAX_BUCKETS) {
			err_printf(err, errlen, "too many bucket bounds: at most %zu are supported",
			       max < AGG_MAX_BUCKETS ? max : (size_t)AGG_MAX_BUCKETS);
			return -1;
		}
		out[k++] = v;
		if (!next)
			break;
		p = next + 1;
	}
	if (agg_validate_buckets(out, k, err, errlen))
		return -1;
	*n = k;
	return 0;
}

static struct agg_series *series_new(const struct agg *a, uint64_t hash, const char *service, const char *method,
				     const char *route, int status)
{
	size_t ls = strlen(service) + 1, lm = strlen(method) + 1, lr = strlen(route) + 1;
	size_t hdr = sizeof(struct agg_series) + (a->nb + 1) * sizeof(uint64_t);
	struct agg_series *s = calloc(1, hdr + ls + lm + lr);
	char *p;

	if (!s)
		return NULL;
	p = (char *)s + hdr;
	s->service = memcpy(p, service, ls);
	s->method = memcpy(p + ls, method, lm);
	s->route = memcpy(p + ls + lm, route, lr);
	s->status = status;
	s->hash = hash;
	return s;
}

static void series_free(struct agg_series *s)
{
	if (s) {
		native_free(&s->native);
		free(s->ex);
		free(s->packed);
	}
	free(s);
}

struct agg *agg_new(const double *bounds, size_t nbounds, size_t max_series, char *err, size_t errlen)
{
	struct agg *a;
	size_t i;

	if (!bounds) {
		bounds = agg_default_buckets;
		nbounds = agg_default_nbuckets;
	}
	if (agg_validate_buckets(bounds, nbounds, err, errlen))
		return NULL;
	if (max_series == 0) {
		err_printf(err, errlen, "the series limit must be at least 1");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		goto oom;
	a->nb = nbounds;
	a->native = native_default_opts;
	a->max_series = max_series;
	agg_set_service_limit(a, 0);
	a->bounds = calloc(nbounds, sizeof(double));
	a->bounds_ns = calloc(nbounds, sizeof(uint64_t));
	a->tabmask = 63;
	a->tab = calloc(a->tabmask + 1, sizeof(*a->tab));
	if (!a->bounds || !a->bounds_ns || !a->tab)
		goto oom;
	for (i = 0; i < nbounds; i++) {
		a->bounds[i] = bounds[i];
		a->bounds_ns[i] = to_ns(bounds[i]);
	}
	/* Route labels come from the network: a per-process seed keeps chains
	 * short against crafted paths (max_series bounds them anyway). */
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) != sizeof(a->seed))
		a->seed = (uint64_t)(uintptr_t)a ^ 0x9e3779b97f4a7c15ull;
	a->overflow = series_new(a, 0, AGG_OVERFLOW_SERVICE, AGG_OVERFLOW_METHOD, AGG_OVERFLOW_ROUTE, 0);
	if (!a->overflow)
		goto oom;
	return a;
oom:
	err_printf(err, errlen, "out of memory");
	agg_free(a);
	return NULL;
}

void agg_free(struct agg *a)
{
	size_t i;

	if (!a)
		return;
	if (a->tab) {
		for (i = 0; i <= a->tabmask; i++) {
			struct agg_series *s = a->tab[i], *n;

			for (; s; s = n) {
				n = s->next;
				series_free(s);
			}
		}
	}
	free(a->tab);
	while (a->services) {
		struct agg_service *n = a->services->next;

		free(a->services);
		a->services = n;
	}
	series_free(a->overflow);
	free(a->sorted);
	free(a->bounds);
	free(a->bounds_ns);
	free(a);
}


/* FNV-1a over the label values, each with its NUL as separator. */
static uint64_t hash_key(uint64_t seed, const char *service, const char *method, const char *route, int status)
{
	const char *parts[3] = {service, method, route};
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	int i;

	for (i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];

		do {
			h ^= *p;
			h *= 0x100000001b3ull;
		} while (*p++);
	}
	h ^= (uint32_t)status;
	h *= 0x100000001b3ull;
	return wt_mix64(h);
}

static void grow(struct agg *a)
{
	size_t nsz = (a->tabmask + 1) * 2, i;
	struct agg_series **nt = calloc(nsz, sizeof(*nt));

	if (!nt)
		return; /* keep the old table: longer chains, still correct */
	for (i = 0; i <= a->tabmask; i++) {
		struct agg_series *s = a->tab[i], *n;

		for (; s; s = n) {
			n = s->next;
			s->next = nt[s->hash & (nsz - 1)];
			nt[s->hash & (nsz - 1)] = s;
		}
	}
	free(a->tab);
	a->tab = nt;
	a->tabmask = nsz - 1;
}

/* The exemplar of bucket i: the latest traced observation in it. */
static void keep_exemplar(struct agg *a, struct agg_series *s, size_t i, uint64_t v, const struct wt_trace *tr,
			  int64_t ts_ns)
{
	if (!s->ex && !(s->ex = calloc(a->nb + 1, sizeof(*s->ex)))) {
		a->st.exemplars_lost++;
		return;
	}
	s->ex[i].trace = *tr;
	s->ex[i].value_ns = v;
	s->ex[i].ts_ns = ts_ns;
}

static void record(struct agg *a, struct agg_series *s, uint64_t v, const struct wt_trace *tr, int64_t ts_ns)
{
	size_t lo = 0, hi = a->nb;

	/* First bound >= v; a->nb (the +Inf remainder) if none. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->bounds_ns[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	s->buckets[lo]++;
	s->count++;
	if (tr && a->exemplars)
		keep_exemplar(a, s, lo, v, tr, ts_ns);
	if (a->native.max_buckets && native_observe(&s->native, &a->native, (double)v / 1e9))
		a->st.native_lost++;
	if (s->sum_ns > UINT64_MAX - v) {
		s->sum_s += (double)s->sum_ns / 1e9;
		s->sum_ns = 0;
	}
	s->sum_ns += v;
}

static struct agg_series *find(const struct agg *a, uint64_t h, const char *service, const char *method,
			       const char *route, int status)
{
	struct agg_series *s;

	for (s = a->tab[h & a->tabmask]; s; s = s->next)
		if (s->hash == h && s->status == status && strcmp(s->route, route) == 0 &&
		    strcmp(s->method, method) == 0 && strcmp(s->service, service) == 0)
			return s;
	return NULL;
}

static struct agg_service *service_of(struct agg *a, const char *name)
{
	struct agg_service *v;
	size_t n = strlen(name) + 1;

	for (v = a->services; v; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	v = calloc(1, sizeof(*v) + n);
	if (!v)
		return NULL;
	memcpy(v->name, name, n);
	v->next = a->services;
	a->services = v;
	return v;
}

enum { ONCE, LRU };

static void list_unlink(struct agg_service *v, struct agg_series *s, int k)
{
	if (s->lprev[k])
		s->lprev[k]->lnext[k] = s->lnext[k];
	else
		v->head[k] = s->lnext[k];
	if (s->lnext[k])
		s->lnext[k]->lprev[k] = s->lprev[k];
	else
		v->tail[k] = s->lprev[k];
	s->lprev[k] = s->lnext[k] = NULL;
}

static void list_append(struct agg_service *v, struct agg_series *s, int k)
{
	s->lprev[k] = v->tail[k];
	s->lnext[k] = NULL;
	if (v->tail[k])
		v->tail[k]->lnext[k] = s;
	else
		v->head[k] = s;
	v->tail[k] = s;
}

/* Takes s out of the table; the caller frees it. */
static void unlink_series(struct agg *a, struct agg_series *s)
{
	struct agg_series **pp = &a->tab[s->hash & a->tabmask];

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	if (s->svc) {
		if (s->count == 1)
			list_unlink(s->svc, s, ONCE);
		list_unlink(s->svc, s, LRU);
		s->svc->nseries--;
	}
	a->nseries--;
	a->st.series_retired++;
	a->dirty = 1;
}

/*
 * Whether the key h went to v's overflow route lately; remembers it if not.
 * Stored with the low bit set, so that an empty slot matches nothing.
 */
static int seen_recently(struct agg_service *v, uint64_t h)
{
	size_t i;

	h |= 1;
	for (i = 0; i < AGG_RECENT; i++)
		if (v->recent[i] == h)
			return 1;
	v->recent[v->recent_next] = h;
	v->recent_next = (v->recent_next + 1) % AGG_RECENT;
	return 0;
}

/* Whether a listing (a scrape) has served s's count since its last observation. */
static int served(const struct agg *a, const struct agg_series *s)
{
	return s && s->listing < a->listing;
}

/*
 * Room in a service at its cap, for a key seen there before (agg.h): its
 * oldest series observed once goes, else its least recently observed one
 * if idle for AGG_IDLE_REPLACE_NS.
 * 1 when room was made.
 */
static int make_room(struct agg *a, struct agg_service *v, uint64_t h)
{
	struct agg_series *old = v->head[ONCE];

	if (!seen_recently(v, h) || a->readers)
		return 0;
	/* One observed once waits for its scrape rather than cost a route in
	 * use a counter reset; a route in use goes only after a long rest, so
	 * that a service with more routes in use than its limit does not
	 * thrash. */
	if (!old && (old = v->head[LRU]) && a->clock_ns - old->last_ns < AGG_IDLE_REPLACE_NS)
		return 0;
	if (!served(a, old))
		return 0;
	unlink_series(a, old);
	series_free(old);
	return 1;
}

/* A new series in the table, or NULL when the overall limit (or memory) says no. */
static struct agg_series *insert(struct agg *a, uint64_t h, const char *service, const char *method,
				 const char *route, int status, struct agg_service *svc)
{
	struct agg_series *s;

	if (a->nseries >= a->max_series || !(s = series_new(a, h, service, method, route, status)))
		return NULL;
	s->svc = svc;
	if (svc) {
		svc->nseries++;
		list_append(svc, s, ONCE);
		list_append(svc, s, LRU);
	}
	s->next = a->tab[h & a->tabmask];
	a->tab[h & a->tabmask] = s;
	a->nseries++;
	a->dirty = 1;
	if (a->nseries > (a->tabmask + 1) - (a->tabmask + 1) / 4)
		grow(a);
	return s;
}

int agg_observe(struct agg *a, const char *service, const char *method, const char *route, int status,
		uint64_t dur_ns)
{
	return agg_observe_traced(a, service, method, route, status, dur_ns, NULL, 0);
}

int agg_observe_traced(struct agg *a, const char *service, const char *method, const char *route, int status,
		       uint64_t dur_ns, const struct wt_trace *tr, int64_t ts_ns)
{
	struct agg_series *s;
	struct agg_service *svc;
	uint64_t h;

	if (!service)
		service = "";
	if (!method)
		method = AGG_OVERFLOW_METHOD;
	if (!route)
		route = "/";
	h = hash_key(a->seed, service, method, route, status);
	s = find(a, h, service, method, route, status);
	if (s) {
		if (s->svc) {
			if (s->count == 1)
				list_unlink(s->svc, s, ONCE);
			list_unlink(s->svc, s, LRU);
			list_append(s->svc, s, LRU);
		}
		goto out;
	}
	svc = service_of(a, service);
	if (svc && (svc->nseries < a->max_per_service || make_room(a, svc, h)) &&
	    (s = insert(a, h, service, method, route, status, svc)))
		goto out;
	/* Past its service's cap: the service's overflow route, so its error
	 * rates stay visible; past the overall limit: the one last series. */
	h = hash_key(a->seed, service, method, AGG_OVERFLOW_ROUTE, status);
	s = find(a, h, service, method, AGG_OVERFLOW_ROUTE, status);
	if (!s)
		s = insert(a, h, service, method, AGG_OVERFLOW_ROUTE, status, NULL);
	if (!s) {
		s = a->overflow;
		if (s->count == 0)
			a->dirty = 1;
	}
	a->st.series_dropped++;
	s->last_ns = a->clock_ns;
	s->listing = a->listing;
	record(a, s, dur_ns, tr, ts_ns);
	return 1;
out:
	s->last_ns = a->clock_ns;
	s->listing = a->listing;
	record(a, s, dur_ns, tr, ts_ns);
	return 0;
}

void agg_set_service_limit(struct agg *a, size_t max_per_service)
{
	if (!max_per_service)
		max_per_service = a->max_series / AGG_SERVICE_SHARE;
	a->max_per_service = max_per_service ? max_per_service : 1;
}

size_t agg_retire(struct agg *a, uint64_t now_ns, uint64_t ttl_ns)
{
	size_t i, n = 0;

	a->clock_ns = now_ns;
	if (!ttl_ns || a->readers || now_ns < ttl_ns)
		return 0;
	for (i = 0; i <= a->tabmask; i++) {
		struct agg_series **pp = &a->tab[i], *s;

		while ((s = *pp)) {
			if (s->last_ns > now_ns - ttl_ns) {
				pp = &s->next;
				continue;
			}
			unlink_series(a, s);
			series_free(s);
			n++;
		}
	}
	return n;
}

void agg_hold(struct agg *a)
{
	a->readers++;
}

void agg_release(struct agg *a)
{
	a->readers--;
}

int agg_observe_request(struct agg *a, const char *service, const struct wt_request *rq, int fold_ids)
{
	struct wt_labels l;
	uint64_t d = rq->end_ns > rq->start_ns ? rq->end_ns - rq->start_ns : 0;

	labels_build(rq, fold_ids, &l);
	if (a->exemplars) {
		if (rq->trace_state == WT_TRACE_OK)
			return agg_observe_traced(a, service, l.method, l.route, rq->status, d, &rq->trace,
						  (int64_t)rq->end_ns + a->realtime_offset_ns);
		if (rq->trace_state == WT_TRACE_MALFORMED)
			a->st.traceparent_malformed++;
		else if (rq->trace_state == WT_TRACE_UNSEEN)
			a->st.traceparent_unseen++;
	}
	return agg_observe(a, service, l.method, l.route, rq->status, d);
}

size_t agg_series_active(const struct agg *a)
{
	return a->nseries + (a->overflow->count ? 1 : 0);
}

uint64_t agg_series_dropped(const struct agg *a)
{
	return a->st.series_dropped;
}

uint64_t agg_series_retired(const struct agg *a)
{
	return a->st.series_retired;
}

const struct agg_stats *agg_stats(struct agg *a)
{
	a->st.series_active = agg_series_active(a);
	return &a->st;
}

#define ROW(name, type, field, help) PROMTEXT_U64(name, type, struct agg_stats, field, help)
static const struct promtext_metric metrics[] = {
	ROW("wsgitrace_series_active", PROMTEXT_GAUGE, series_active,
	    "Series of http_server_request_duration_seconds, the overflow series included."),
	ROW("wsgitrace_series_dropped_total", PROMTEXT_COUNTER, series_dropped,
	    "Observations that did not get their own series because of the series limit; they are in the "
	    "series with http_route=\"_overflow\"."),
	ROW("wsgitrace_series_retired_total", PROMTEXT_COUNTER, series_retired,
	    "Series removed: not updated for --series-ttl, or making room for a route in use of a service at "
	    "its limit."),
	ROW("wsgitrace_native_observations_lost_total", PROMTEXT_COUNTER, native_lost,
	    "Observations in the classic buckets of http_server_request_duration_seconds but not in its "
	    "native buckets, for want of memory."),
	ROW("wsgitrace_traceparent_malformed_total", PROMTEXT_COUNTER, traceparent_malformed,
	    "Requests whose traceparent header was not a valid W3C traceparent (or came more than once): "
	    "counted, no exemplar."),
	ROW("wsgitrace_traceparent_unseen_total", PROMTEXT_COUNTER, traceparent_unseen,
	    "Requests whose head went on past the bytes captured, without a traceparent in those: one past "
	    "them was not seen."),
	ROW("wsgitrace_exemplars_lost_total", PROMTEXT_COUNTER, exemplars_lost,
	    "Requests with a valid traceparent whose exemplar could not be kept, for want of memory."),
};
#undef ROW
const struct promtext_table agg_metrics = PROMTEXT_TABLE(metrics);

void agg_set_native(struct agg *a, const struct native_opts *o)
{
	a->native = *o;
}

const struct native_opts *agg_native(const struct agg *a)
{
	return &a->native;
}

void agg_set_exemplars(struct agg *a, int on)
{
	a->exemplars = on;
}

int agg_exemplars(const struct agg *a)
{
	return a->exemplars;
}

void agg_set_realtime_offset(struct agg *a, int64_t offset_ns)
{
	a->realtime_offset_ns = offset_ns;
}

const struct agg_exemplar *agg_exemplar(const struct agg_series *s, size_t i)
{
	static const uint8_t zero[sizeof(s->ex[0].trace.trace_id)];

	if (!s->ex || !memcmp(s->ex[i].trace.trace_id, zero, sizeof(zero)))
		return NULL;
	return &s->ex[i];
}

const double *agg_bounds(const struct agg *a, size_t *n)
{
	*n = a->nb;
	return a->bounds;
}

void agg_series_keep_packed(struct agg_series *s, const void *p, size_t n)
{
	uint8_t *b = n <= s->packed_len ? s->packed : realloc(s->packed, n);

	if (!b) {
		free(s->packed);
		s->packed = NULL;
		s->packed_len = 0;
		return;
	}
	memcpy(b, p, n);
	s->packed = b;
	s->packed_len = n;
	s->packed_count = s->count;
}

const uint8_t *agg_series_packed(const struct agg_series *s, size_t *n)
{
	if (!s->packed || s->packed_count != s->count)
		return NULL;
	*n = s->packed_len;
	return s->packed;
}

double agg_series_sum(const struct agg_series *s)
{
	return s->sum_s + (double)s->sum_ns / 1e9;
}

static int cmp_series(const void *x, const void *y)
{
	const struct agg_series *a = *(const struct agg_series *const *)x;
	const struct agg_series *b = *(const struct agg_series *const *)y;
	int c;

	if ((c = strcmp(a->service, b->service)))
		return c;
	if ((c = strcmp(a->route, b->route)))
		return c;
	if ((c = strcmp(a->method, b->method)))
		return c;
	return (a->status > b->status) - (a->status < b->status);
}

size_t agg_list(struct agg *a, struct agg_series *const **out)
{
	size_t i, k = 0, n = agg_series_active(a);

	a->listing++;
	if (a->dirty || !a->sorted) {
		struct agg_series **arr = realloc(a->sorted, (n ? n : 1) * sizeof(*arr));

		if (!arr) {
			/* Keep serving the previous listing rather than nothing. */
			*out = a->sorted;
			return a->nsorted;
		}
		a->sorted = arr;
		for (i = 0; i <= a->tabmask; i++) {
			struct agg_series *s;

			for (s = a->tab[i]; s; s = s->next)
				arr[k++] = s;
		}
		qsort(arr, k, sizeof(*arr), cmp_series);
		if (a->overflow->count)
			arr[k++] = a->overflow;
		a->nsorted = k;
		a->dirty = 0;
	}
	*out = a->sorted;
	return a->nsorted;
}
