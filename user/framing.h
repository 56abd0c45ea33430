/* SPDX-License-Identifier: MIT */
/*
 * What the connection tracker's two directions (reqframe.c, respframe.c)
 * frame the same way: a message head gathered across records, and a body
 * stepped by its length or its chunks over the bytes a record captured and
 * those it did not.
 */
#ifndef WT_FRAMING_H
#define WT_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

/* Head bytes kept across records; larger heads are treated as not captured. */
#define HEAD_MAX 8192

/* A message head gathered across records. */
struct headbuf {
	char *buf; /* NULL until a head spans records */
	uint32_t len;
	uint64_t bytes; /* record bytes the head took so far, uncaptured ones included */
};

/* What a head parser sees: the buffered head, or the record's own bytes. */
struct head_view {
	const char *buf;
	size_t n;
	size_t old;   /* bytes of buf already accounted for in earlier records */
	int all_seen; /* every byte of the record's part is in buf */
};

void head_free(struct headbuf *h);
/*
 * The head so far, with record bytes [pos, cap) of a record of len bytes
 * appended when a head is already buffered (up to HEAD_MAX).
 */
void head_view(struct headbuf *h, const uint8_t *d, uint64_t pos, uint64_t cap, uint64_t len,
	       struct head_view *v);
/*
 * The parser wants more bytes than the record had: keep the head for the
 * next record. 0, or -1 when it cannot be kept (bytes not captured, too big,
 * no memory): the head is lost then.
 */
int head_wait(struct headbuf *h, const struct head_view *v, uint64_t pos, uint64_t len);
/*
 * One Content-Length body step over record bytes [*pos, len), captured or
 * not: 1 when the body ended at *pos, 0 when all were consumed and it goes on.
 */
int length_step(uint64_t *remaining, uint64_t *pos, uint64_t len);
/*
 * One chunked-body step over record bytes [*pos, len), of which [0, cap) were
 * captured. 1: body ended at *pos; 0: all consumed, body goes on; -1: a gap
 * hid framing; -2: bad framing.
 */
int chunked_step(struct http_chunked *ch, const uint8_t *d, uint64_t *pos, uint64_t cap, uint64_t len);

#endif /* WT_FRAMING_H */
