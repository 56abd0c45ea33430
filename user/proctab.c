// SPDX-License-Identifier: MIT
/* Chained hash table; a few hundred entries in practice, grows by doubling. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proctab.h"
#include "promtext.h"
#include "svckey.h"

struct pentry {
	struct pentry *next;
	uint32_t pid;
	bool root;
	char service[SVCKEY_MAX];
};

struct proctab {
	struct pentry **b;
	size_t nb;
	size_t n;
	struct proctab_stats st;
};

static size_t slot(const struct proctab *t, uint32_t pid)
{
	return (pid * 2654435761u) & (t->nb - 1);
}

struct proctab *proctab_new(void)
{
	struct proctab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nb = 256;
	t->b = calloc(t->nb, sizeof(*t->b));
	if (!t->b) {
		free(t);
		return NULL;
	}
	return t;
}

void proctab_free(struct proctab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct pentry *e = t->b[i], *nx;

		for (; e; e = nx) {
			nx = e->next;
			free(e);
		}
	}
	free(t->b);
	free(t);
}

static struct pentry *lookup(const struct proctab *t, uint32_t pid)
{
	struct pentry *e = t->b[slot(t, pid)];

	while (e && e->pid != pid)
		e = e->next;
	return e;
}

static void grow(struct proctab *t)
{
	size_t nb = t->nb * 2;
	struct pentry **b = calloc(nb, sizeof(*b));
	struct proctab nt = { .b = b, .nb = nb };

	if (!b)
		return; /* keep the longer chains; still correct */
	for (size_t i = 0; i < t->nb; i++) {
		struct pentry *e = t->b[i], *nx;

		for (; e; e = nx) {
			size_t s = slot(&nt, e->pid);

			nx = e->next;
			e->next = b[s];
			b[s] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static int set(struct proctab *t, uint32_t pid, const char *service, bool root)
{
	struct pentry *e = lookup(t, pid);
	size_t s;

	if (!e) {
		if (t->n >= t->nb)
			grow(t);
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->pid = pid;
		s = slot(t, pid);
		e->next = t->b[s];
		t->b[s] = e;
		t->n++;
	}
	strncpy(e->service, service, sizeof(e->service) - 1);
	e->service[sizeof(e->service) - 1] = 0;
	e->root = root;
	return 0;
}

int proctab_set(struct proctab *t, uint32_t pid, const char *service)
{
	return set(t, pid, service, false);
}

int proctab_set_root(struct proctab *t, uint32_t pid, const char *service)
{
	return set(t, pid, service, true);
}

const char *proctab_get(const struct proctab *t, uint32_t pid)
{
	struct pentry *e = lookup(t, pid);

	return e ? e->service : NULL;
}

void proctab_del(struct proctab *t, uint32_t pid)
{
	struct pentry **pp = &t->b[slot(t, pid)];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == pid) {
			struct pentry *e = *pp;

			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
	}
}

size_t proctab_count(const struct proctab *t)
{
	return t->n;
}

const struct proctab_stats *proctab_stats(struct proctab *t)
{
	t->st.processes = t->n;
	return &t->st;
}

static const struct promtext_metric metrics[] = {
	PROMTEXT_U64("wsgitrace_processes_traced", PROMTEXT_GAUGE, struct proctab_stats, processes,
		     "Server processes being traced."),
};
const struct promtext_table proctab_metrics = PROMTEXT_TABLE(metrics);

void proctab_foreach(const struct proctab *t, proctab_fn fn, void *ctx)
{
	for (size_t i = 0; i < t->nb; i++)
		for (const struct pentry *e = t->b[i]; e; e = e->next)
			fn(e->pid, e->service, e->root, ctx);
}
