// SPDX-License-Identifier: MIT
#include "conntable.h"
#include "hash.h"

#include <stdlib.h>

/* sk is a kernel pointer: its low bits are alignment, so mix them all. */
static size_t hash_sk(uint64_t sk)
{
	return (size_t)wt_mix64(sk);
}

int conntable_init(struct conntable *t)
{
	t->mask = 15;
	t->count = 0;
	t->tab = calloc(t->mask + 1, sizeof(*t->tab));
	ct_list_init(&t->lru);
	return t->tab ? 0 : -1;
}

void conntable_fini(struct conntable *t)
{
	free(t->tab);
	t->tab = NULL;
}

static size_t slot_of(const struct conntable *t, uint64_t sk)
{
	size_t i = hash_sk(sk) & t->mask;

	while (t->tab[i]) {
		if (t->tab[i]->sk == sk)
			return i;
		i = (i + 1) & t->mask;
	}
	return (size_t)-1;
}

struct ct_entry *conntable_find(const struct conntable *t, uint64_t sk)
{
	size_t i = slot_of(t, sk);

	return i == (size_t)-1 ? NULL : t->tab[i];
}

static void place(struct conntable *t, struct ct_entry *e)
{
	size_t i = hash_sk(e->sk) & t->mask;

	while (t->tab[i])
		i = (i + 1) & t->mask;
	t->tab[i] = e;
}

/*
 * Keep the load factor at most 1/2 by doubling. The table starts small and
 * grows with the connections actually open: a table sized for --max-conns
 * up front (4 MiB by default) turns every lookup into a cache miss, which is
 * the daemon's main cost per record with a handful of busy connections.
 */
static int reserve(struct conntable *t, size_t n)
{
	size_t size = t->mask + 1, nsize = size;
	struct ct_entry **ntab, **old = t->tab;

	while (n * 2 > nsize)
		nsize *= 2;
	if (nsize == size)
		return 0;
	ntab = calloc(nsize, sizeof(*ntab));
	if (!ntab)
		return -1;
	t->tab = ntab;
	t->mask = nsize - 1;
	for (size_t i = 0; i < size; i++)
		if (old[i])
			place(t, old[i]);
	free(old);
	return 0;
}

int conntable_insert(struct conntable *t, struct ct_entry *e)
{
	if (reserve(t, t->count + 1) != 0)
		return -1;
	place(t, e);
	ct_list_add_tail(&t->lru, &e->lru);
	t->count++;
	return 0;
}

/* Linear probing delete by backward shift. */
static void unplace(struct conntable *t, size_t i)
{
	size_t j = i;

	t->tab[i] = NULL;
	for (;;) {
		size_t k;

		j = (j + 1) & t->mask;
		if (!t->tab[j])
			return;
		k = hash_sk(t->tab[j]->sk) & t->mask;
		/* Leave the entry if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->tab[i] = t->tab[j];
		t->tab[j] = NULL;
		i = j;
	}
}

void conntable_remove(struct conntable *t, struct ct_entry *e)
{
	size_t i = slot_of(t, e->sk);

	if (i != (size_t)-1 && t->tab[i] == e)
		unplace(t, i);
	ct_list_del(&e->lru);
	t->count--;
}

void conntable_touch(struct conntable *t, struct ct_entry *e, uint64_t ts)
{
	if (ts > e->last_ts)
		e->last_ts = ts;
	ct_list_del(&e->lru);
	ct_list_add_tail(&t->lru, &e->lru);
}

struct ct_entry *conntable_oldest(const struct conntable *t)
{
	return t->lru.next == &t->lru ? NULL : container_of(t->lru.next, struct ct_entry, lru);
}

struct ct_entry *conntable_newer(const struct conntable *t, const struct ct_entry *e)
{
	return e->lru.next == &t->lru ? NULL : container_of(e->lru.next, struct ct_entry, lru);
}
