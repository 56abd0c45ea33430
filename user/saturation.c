// SPDX-License-Identifier: MIT
/*
 * A scrape's tally: processes sorted by pid for the requests' lookups, then
 * folded into rows by service. A few hundred processes on a busy node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "saturation.h"

struct sat_proc {
	uint32_t pid;
	bool root;
	uint32_t active;
	const char *service;
};

struct saturation {
	struct sat_proc *p;
	size_t n, cap;
	bool sorted;
	struct sat_row *rows;
	size_t nrows, rows_cap;
};

struct saturation *sat_new(void)
{
	return calloc(1, sizeof(struct saturation));
}

void sat_free(struct saturation *s)
{
	if (!s)
		return;
	free(s->p);
	free(s->rows);
	free(s);
}

void sat_reset(struct saturation *s)
{
	s->n = 0;
	s->nrows = 0;
	s->sorted = false;
}

int sat_process(struct saturation *s, uint32_t pid, const char *service, bool root)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sat_proc *p = realloc(s->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->p = p;
		s->cap = cap;
	}
	s->p[s->n++] = (struct sat_proc){ .pid = pid, .root = root, .service = service };
	s->sorted = false;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	uint32_t x = ((const struct sat_proc *)a)->pid, y = ((const struct sat_proc *)b)->pid;

	return x < y ? -1 : x > y;
}

void sat_request(struct saturation *s, uint32_t pid)
{
	struct sat_proc key = { .pid = pid }, *p;

	if (!s->sorted) {
		qsort(s->p, s->n, sizeof(*s->p), by_pid);
		s->sorted = true;
	}
	p = bsearch(&key, s->p, s->n, sizeof(*s->p), by_pid);
	if (p)
		p->active++;
}

static int by_service(const void *a, const void *b)
{
	const struct sat_proc *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (c)
		return c;
	return (int)x->root - (int)y->root; /* workers first */
}

size_t sat_rows(struct saturation *s, const struct sat_row **out)
{
	size_t i = 0;

	qsort(s->p, s->n, sizeof(*s->p), by_service);
	s->sorted = false;
	s->nrows = 0;
	while (i < s->n) {
		struct sat_row r = { .service = s->p[i].service };
		/* Workers sort before masters: a service led by a master has none. */
		bool masters_serve = s->p[i].root;

		for (; i < s->n && strcmp(s->p[i].service, r.service) == 0; i++) {
			r.active += s->p[i].active;
			if (s->p[i].root && !masters_serve)
				continue;
			r.workers++;
			if (s->p[i].active)
				r.busy++;
		}
		if (s->nrows == s->rows_cap) {
			size_t cap = s->rows_cap ? s->rows_cap * 2 : 16;
			struct sat_row *rows = realloc(s->rows, cap * sizeof(*rows));

			if (!rows)
				break;
			s->rows = rows;
			s->rows_cap = cap;
		}
		s->rows[s->nrows++] = r;
	}
	*out = s->rows;
	return s->nrows;
}
