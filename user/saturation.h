/* SPDX-License-Identifier: MIT */
/*
 * Saturation per service, tallied at scrape time from the traced processes
 * and the requests in flight: worker processes, how many are busy with a
 * request, and the requests in flight. busy / workers is the saturation of
 * a prefork server (gunicorn sync, uWSGI processes); a threaded or evented
 * worker counts as busy while it has any request in flight.
 */
#ifndef WT_SATURATION_H
#define WT_SATURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sat_row {
	const char *service;
	uint32_t workers; /* processes that serve requests */
	uint32_t busy;    /* of those, with at least one request in flight */
	uint32_t active;  /* requests in flight */
};

struct saturation;

struct saturation *sat_new(void);
void sat_free(struct saturation *s);
/* Starts a new tally; strings given to sat_process must outlive sat_rows' use. */
void sat_reset(struct saturation *s);
/*
 * A traced process. Workers are the processes a server forked; a master
 * counts only for a service with no workers (a single-process server).
 */
int sat_process(struct saturation *s, uint32_t pid, const char *service, bool root);
/* One request in flight, read by pid (ignored when pid was not given). */
void sat_request(struct saturation *s, uint32_t pid);
/* One row per service, sorted by name; valid until the next sat_reset. */
size_t sat_rows(struct saturation *s, const struct sat_row **out);

#endif /* WT_SATURATION_H */
