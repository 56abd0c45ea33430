// SPDX-License-Identifier: MIT
#include "framing.h"

#include <stdlib.h>
#include <string.h>

void head_free(struct headbuf *h)
{
	free(h->buf);
	h->buf = NULL;
	h->len = 0;
	h->bytes = 0;
}

void head_view(struct headbuf *h, const uint8_t *d, uint64_t pos, uint64_t cap, uint64_t len,
	       struct head_view *v)
{
	size_t k = 0;

	v->old = h->len;
	if (!h->buf) {
		v->buf = (const char *)d + pos;
		v->n = cap - pos;
		v->all_seen = cap == len;
		return;
	}
	if (pos < cap) {
		k = cap - pos;
		if (k > HEAD_MAX - h->len)
			k = HEAD_MAX - h->len;
		memcpy(h->buf + h->len, d + pos, k);
		h->len += (uint32_t)k;
	}
	v->buf = h->buf;
	v->n = h->len;
	v->all_seen = cap == len && k == cap - pos;
}

int head_wait(struct headbuf *h, const struct head_view *v, uint64_t pos, uint64_t len)
{
	if (!v->all_seen || v->n >= HEAD_MAX)
		return -1;
	if (!h->buf) {
		h->buf = malloc(HEAD_MAX);
		if (!h->buf)
			return -1;
		memcpy(h->buf, v->buf, v->n);
		h->len = (uint32_t)v->n;
	}
	h->bytes += len - pos;
	return 0;
}

int length_step(uint64_t *remaining, uint64_t *pos, uint64_t len)
{
	uint64_t n = len - *pos;

	if (n > *remaining)
		n = *remaining;
	*remaining -= n;
	*pos += n;
	return *remaining == 0;
}

int chunked_step(struct http_chunked *ch, const uint8_t *d, uint64_t *pos, uint64_t cap, uint64_t len)
{
	if (*pos < cap) {
		ssize_t r = http_chunked_feed(ch, (const char *)d + *pos, cap - *pos);

		if (r >= 0) {
			*pos += (uint64_t)r;
			return 1;
		}
		if (r == -1)
			return -2;
		*pos = cap;
	}
	if (*pos < len) {
		if (http_chunked_skip(ch, len - *pos) < 0)
			return -1;
		*pos = len;
	}
	return 0;
}
