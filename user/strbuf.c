// SPDX-License-Identifier: MIT
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->oom = 0;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

int sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return -1;
	if (extra > SIZE_MAX / 2 - sb->len - 1)
		goto fail;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p)
		goto fail;
	sb->buf = p;
	sb->cap = cap;
	return 0;
fail:
	sb->oom = 1;
	return -1;
}

void sb_append(struct strbuf *sb, const void *p, size_t n)
{
	if (sb_reserve(sb, n))
		return;
	if (n)
		memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
	if (sb_reserve(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void sb_put_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_append(sb, tmp + i, sizeof(tmp) - i);
}

void sb_put_i64(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		sb_putc(sb, '-');
		/* INT64_MIN has no positive counterpart: negate as unsigned. */
		sb_put_u64(sb, (uint64_t)0 - (uint64_t)v);
	} else {
		sb_put_u64(sb, (uint64_t)v);
	}
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (sb_reserve(sb, 64))
		return;
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		sb->oom = 1;
		return;
	}
	if ((size_t)n >= sb->cap - sb->len) {
		if (sb_reserve(sb, (size_t)n))
			return;
		vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += (size_t)n;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *p;

	if (sb->oom) {
		sb_free(sb);
		return NULL;
	}
	if (!sb->buf && sb_reserve(sb, 0))
		return NULL;
	sb->buf[sb->len] = '\0';
	p = sb->buf;
	if (len)
		*len = sb->len;
	sb_init(sb);
	return p;
}

size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need, i;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0; /* continuation byte, C0/C1 overlong lead, or > U+10FFFF lead */
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (need == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return need;
}

void sb_append_escaped(struct strbuf *sb, const char *str, size_t n, const char *const repl[128],
		       const char *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	/* Copy clean runs in one go: most values need no escaping at all. */
	while (i < n) {
		unsigned char c = s[i];
		const char *r;
		size_t k;

		if (c < 0x80) {
			r = repl[c];
			if (!r) {
				i++;
				continue;
			}
		} else {
			k = utf8_seq_len(s + i, n - i);
			if (k > 1) {
				i += k;
				continue;
			}
			r = bad;
		}
		sb_append(sb, s + run, i - run);
		sb_puts(sb, r);
		run = ++i;
	}
	sb_append(sb, s + run, i - run);
}

void err_printf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
