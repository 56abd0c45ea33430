// SPDX-License-Identifier: MIT
#include "ratelog.h"

#include <inttypes.h>
#include <string.h>

void ratelog_init(struct ratelog *rl)
{
	memset(rl, 0, sizeof(*rl));
}

static FILE *out_of(const struct ratelog *rl)
{
	return rl->out ? rl->out : stderr;
}

void ratelog_flush(struct ratelog *rl, uint64_t now_ms)
{
	if (rl->suppressed)
		fprintf(out_of(rl), "wsgitrace: %" PRIu64 " similar messages suppressed in the last %" PRIu64 " s\n",
			rl->suppressed, (now_ms - rl->window_ms + 999) / 1000);
	rl->suppressed = 0;
}

void ratelog_vprintf(struct ratelog *rl, uint64_t now_ms, const char *prefix, const char *fmt, va_list ap)
{
	FILE *f = out_of(rl);

	if (!rl->started || now_ms - rl->window_ms >= RATELOG_WINDOW_MS) {
		ratelog_flush(rl, now_ms);
		rl->started = 1;
		rl->window_ms = now_ms;
		rl->printed = 0;
	}
	if (rl->printed >= RATELOG_BURST) {
		rl->suppressed++;
		rl->suppressed_total++;
		return;
	}
	rl->printed++;
	fprintf(f, "wsgitrace: %s", prefix);
	vfprintf(f, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', f);
}

void ratelog_printf(struct ratelog *rl, uint64_t now_ms, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ratelog_vprintf(rl, now_ms, prefix, fmt, ap);
	va_end(ap);
}
