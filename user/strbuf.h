/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer for the exposition, --trace lines and HTTP bodies.
 * Appends never fail loudly: an allocation failure sets `oom`, later appends
 * do nothing, and the caller checks sb_ok() once at the end. The contents are
 * always NUL terminated once anything was appended (len does not count it).
 */
#ifndef WT_STRBUF_H
#define WT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	int oom;
};

#define STRBUF_INIT {NULL, 0, 0, 0}

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
/* Empties the buffer, keeps the allocation (and clears oom). */
void sb_reset(struct strbuf *sb);
/* Makes room for `extra` more bytes plus the NUL; 0 or -1 (and oom set). */
int sb_reserve(struct strbuf *sb, size_t extra);
void sb_append(struct strbuf *sb, const void *p, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_put_u64(struct strbuf *sb, uint64_t v);
void sb_put_i64(struct strbuf *sb, int64_t v);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/*
 * Hands the malloc'ed contents to the caller (who frees them) and leaves the
 * buffer empty; NULL if an allocation failed. *len may be NULL.
 */
char *sb_detach(struct strbuf *sb, size_t *len);

static inline int sb_ok(const struct strbuf *sb) { return !sb->oom; }

/*
 * Length of the well-formed UTF-8 sequence at p[0..n), or 0 if the bytes there
 * are not one (stray continuation byte, overlong form, surrogate, > U+10FFFF,
 * truncated sequence). ASCII bytes, control characters included, are 1.
 */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/*
 * Appends n bytes of str for a text format: repl[c] replaces the ASCII byte
 * c (NULL keeps it), bad replaces a byte that is not part of valid UTF-8, and
 * valid multi-byte UTF-8 passes through.
 */
void sb_append_escaped(struct strbuf *sb, const char *str, size_t n, const char *const repl[128],
		       const char *bad);

/* Formats an error message into err (errlen bytes); err may be NULL. */
void err_printf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* WT_STRBUF_H */
