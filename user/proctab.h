/* SPDX-License-Identifier: MIT */
/* The traced processes as the daemon knows them: pid -> service name. */
#ifndef WT_PROCTAB_H
#define WT_PROCTAB_H

#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct proctab;

struct proctab *proctab_new(void);
void proctab_free(struct proctab *t);
/* Adds or replaces pid; the name is copied (truncated to WT_SERVICE_MAX-1). */
int proctab_set(struct proctab *t, uint32_t pid, const char *service);
/* NULL when pid is unknown. */
const char *proctab_get(const struct proctab *t, uint32_t pid);
void proctab_del(struct proctab *t, uint32_t pid);
size_t proctab_count(const struct proctab *t);

#endif /* WT_PROCTAB_H */
