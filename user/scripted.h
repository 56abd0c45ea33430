/* SPDX-License-Identifier: MIT */
/*
 * Servers that no command line names: a Python process that runs a script
 * calling uvicorn.run(app), waitress.serve(app), ... is a server once it
 * holds a listening TCP socket. Python processes that are not traced are
 * candidates, checked now and then (from 100 ms after their exec, twice as
 * long each time, at most every SCRIPTED_MAX_INTERVAL_MS) until they listen
 * or are gone; nothing is traced in the kernel until then.
 */
#ifndef WT_SCRIPTED_H
#define WT_SCRIPTED_H

#include <stddef.h>
#include <stdint.h>

#define SCRIPTED_FIRST_MS 100
#define SCRIPTED_MAX_INTERVAL_MS 2000

struct scripted;

struct scripted *scripted_new(void);
void scripted_free(struct scripted *s);
/* A candidate, first checked at now_ns + delay_ns (a pid already there is restarted). */
int scripted_add(struct scripted *s, uint32_t pid, uint64_t now_ns, uint64_t delay_ns);
size_t scripted_count(const struct scripted *s);

/* > 0: pid holds a listening TCP socket; 0: not yet; < 0: not a candidate any more (gone, traced). */
typedef int (*scripted_probe_fn)(uint32_t pid, void *ctx);
typedef void (*scripted_found_fn)(uint32_t pid, void *ctx);
/* Probes the candidates that are due; a listening one is dropped and reported to found. */
void scripted_tick(struct scripted *s, uint64_t now_ns, scripted_probe_fn probe, scripted_found_fn found,
		   void *ctx);

#endif /* WT_SCRIPTED_H */
