/* SPDX-License-Identifier: MIT */
/* The traced processes as the daemon knows them: pid -> service name. */
#ifndef WT_PROCTAB_H
#define WT_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct proctab;
struct promtext_table;

struct proctab *proctab_new(void);
void proctab_free(struct proctab *t);
/*
 * Adds or replaces pid; the service key (svckey.h) is copied (truncated to SVCKEY_MAX-1).
 * A root is a server's master (found running or seen exec'ing); the
 * processes it forks are its workers.
 */
int proctab_set(struct proctab *t, uint32_t pid, const char *service);
int proctab_set_root(struct proctab *t, uint32_t pid, const char *service);
/* NULL when pid is unknown. */
const char *proctab_get(const struct proctab *t, uint32_t pid);
void proctab_del(struct proctab *t, uint32_t pid);
size_t proctab_count(const struct proctab *t);
/* The count, for the self metrics. */
struct proctab_stats {
	uint64_t processes; /* gauge: proctab_count(), taken when proctab_stats() is called */
};
const struct proctab_stats *proctab_stats(struct proctab *t);
/* The self metrics of proctab_stats() (promtext.h). */
extern const struct promtext_table proctab_metrics;
/* Every process, in no particular order. */
typedef void (*proctab_fn)(uint32_t pid, const char *service, bool root, void *ctx);
void proctab_foreach(const struct proctab *t, proctab_fn fn, void *ctx);

#endif /* WT_PROCTAB_H */
