// SPDX-License-Identifier: MIT
/*
 * A flat array: candidates are the node's Python processes that are not
 * servers, tens to a few hundred; a tick walks them all and probes the due.
 */
#include <errno.h>
#include <stdlib.h>

#include "scripted.h"

struct cand {
	uint32_t pid;
	uint64_t due_ns;
	uint64_t interval_ns;
};

struct scripted {
	struct cand *c;
	size_t n, cap;
};

struct scripted *scripted_new(void)
{
	return calloc(1, sizeof(struct scripted));
}

void scripted_free(struct scripted *s)
{
	if (!s)
		return;
	free(s->c);
	free(s);
}

int scripted_add(struct scripted *s, uint32_t pid, uint64_t now_ns, uint64_t delay_ns)
{
	struct cand *c = NULL;

	for (size_t i = 0; i < s->n && !c; i++)
		if (s->c[i].pid == pid)
			c = &s->c[i];
	if (!c) {
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 64;
			struct cand *np = realloc(s->c, nc * sizeof(*np));

			if (!np)
				return -ENOMEM;
			s->c = np;
			s->cap = nc;
		}
		c = &s->c[s->n++];
	}
	c->pid = pid;
	c->due_ns = now_ns + delay_ns;
	c->interval_ns = SCRIPTED_FIRST_MS * 1000000ull;
	return 0;
}

size_t scripted_count(const struct scripted *s)
{
	return s->n;
}

void scripted_tick(struct scripted *s, uint64_t now_ns, scripted_probe_fn probe, scripted_found_fn found,
		   void *ctx)
{
	size_t i = 0;

	while (i < s->n) {
		struct cand *c = &s->c[i];
		uint32_t pid = c->pid;
		int r;

		if (c->due_ns > now_ns) {
			i++;
			continue;
		}
		r = probe(pid, ctx);
		if (r == 0) {
			c->interval_ns *= 2;
			if (c->interval_ns > SCRIPTED_MAX_INTERVAL_MS * 1000000ull)
				c->interval_ns = SCRIPTED_MAX_INTERVAL_MS * 1000000ull;
			c->due_ns = now_ns + c->interval_ns;
			i++;
			continue;
		}
		/* Dropped: the last one takes its place (order does not matter). */
		s->c[i] = s->c[--s->n];
		if (r > 0)
			found(pid, ctx);
	}
}
