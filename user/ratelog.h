/* SPDX-License-Identifier: MIT */
/*
 * Rate-limited logging for messages a remote peer can cause (a reset
 * connection, a malformed request): at most RATELOG_BURST lines per
 * RATELOG_WINDOW_MS, the rest counted and reported in one line when the next
 * window opens, so a peer cannot fill the log but the operator still learns
 * that it happened and how often.
 *
 *   ratelog_init(&rl);
 *   ratelog_printf(&rl, now_ms, "http: ", "bad request from %s\n", addr);
 */
#ifndef WT_RATELOG_H
#define WT_RATELOG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define RATELOG_BURST 5u
#define RATELOG_WINDOW_MS 60000u

struct ratelog {
	FILE *out;          /* NULL: stderr */
	uint64_t window_ms; /* start of the current window */
	unsigned printed;   /* lines in this window */
	uint64_t suppressed; /* lines not printed in this window */
	uint64_t suppressed_total;
	int started;
};

void ratelog_init(struct ratelog *rl);
/* Prints "wsgitrace: <prefix><message>" unless over the rate. */
void ratelog_vprintf(struct ratelog *rl, uint64_t now_ms, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
void ratelog_printf(struct ratelog *rl, uint64_t now_ms, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Reports what the current window suppressed (at exit). */
void ratelog_flush(struct ratelog *rl, uint64_t now_ms);

#endif /* WT_RATELOG_H */
