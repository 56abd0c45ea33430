/* SPDX-License-Identifier: MIT */
/*
 * The connection table: connections by kernel socket address, with their
 * least-recently-active order for expiry. It knows nothing of what a
 * connection carries: callers embed a struct ct_entry in their own record
 * and get back to it with container_of.
 *
 * Open addressing with linear probing, grown by doubling at load 1/2 and
 * shrunk by backward-shift deletion (no tombstones to age the table).
 */
#ifndef WT_CONNTABLE_H
#define WT_CONNTABLE_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Intrusive doubly linked list; a node alone on itself is "not listed". */
struct ct_link {
	struct ct_link *prev, *next;
};

static inline void ct_list_init(struct ct_link *l)
{
	l->prev = l->next = l;
}

static inline void ct_list_del(struct ct_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline void ct_list_add_tail(struct ct_link *head, struct ct_link *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

struct ct_entry {
	uint64_t sk, ino; /* the connection's id: a reused sk has a new ino */
	uint64_t last_ts; /* last activity, for expiry */
	struct ct_link lru;
};

struct conntable {
	struct ct_entry **tab;
	size_t mask;
	size_t count;
	struct ct_link lru; /* least recently active first */
};

int conntable_init(struct conntable *t);
/* Frees the table, not the entries: walk them first (conntable_oldest). */
void conntable_fini(struct conntable *t);
struct ct_entry *conntable_find(const struct conntable *t, uint64_t sk);
/* Adds e (sk, ino, last_ts set) as the most recently active; -1 if out of memory. */
int conntable_insert(struct conntable *t, struct ct_entry *e);
void conntable_remove(struct conntable *t, struct ct_entry *e);
/* e was active at ts: it moves to the recent end. */
void conntable_touch(struct conntable *t, struct ct_entry *e, uint64_t ts);
/* Least recently active entry, or NULL; the next more recent one, or NULL. */
struct ct_entry *conntable_oldest(const struct conntable *t);
struct ct_entry *conntable_newer(const struct conntable *t, const struct ct_entry *e);

#endif /* WT_CONNTABLE_H */
