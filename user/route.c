// SPDX-License-Identifier: MIT
#include "route.h"

#include <string.h>

#include "strbuf.h"

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_hex(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

static int is_uuid(const unsigned char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!is_hex(s[i])) {
			return 0;
		}
	}
	return 1;
}

size_t route_path_len(const char *target, size_t len)
{
	size_t i;

	for (i = 0; i < len && target[i] != '?' && target[i] != '#'; i++)
		;
	return i;
}

int route_segment_is_id(const char *seg, size_t len)
{
	const unsigned char *s = (const unsigned char *)seg;
	size_t i, digits = 0, letters = 0, hex = 0;

	if (len == 0)
		return 0;
	if (is_uuid(s, len))
		return 1;
	for (i = 0; i < len; i++) {
		if (is_digit(s[i]))
			digits++;
		else if (is_alpha(s[i]))
			letters++;
		else
			return 0; /* '-', '.', '_', '%', UTF-8...: a word, not an id */
		if (is_hex(s[i]))
			hex++;
	}
	if (digits == len)
		return 1;
	/*
	 * 16 is where a word stops being plausible: hex digests and database
	 * object ids are 24-64 long, while English path words that happen to be
	 * all hex letters ("facade", "deadbeef") are short; a hex id without a
	 * single digit is about one in 10^7. The mixed rule wants
	 * at least two of each class so that "version2" or "abcdefghijklmnop1"
	 * (one digit) style names are not folded.
	 */
	if (len >= 16 && hex == len && digits > 0)
		return 1;
	if (len >= 16 && digits >= 2 && letters >= 2)
		return 1;
	return 0;
}

struct out {
	char *p;
	size_t len;
	size_t max; /* bytes usable, without the NUL */
	int full;
};

/* Appends n bytes as one unit (never split), or marks the output full. */
static void put(struct out *o, const void *s, size_t n)
{
	if (o->full || n > o->max - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/*
 * Bytes that are not well-formed UTF-8, and control characters, become
 * U+FFFD each, so the label is valid UTF-8 whatever was sent.
 */
static void put_segment(struct out *o, const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n && !o->full) {
		k = utf8_seq_len(s + i, n - i);
		if (k == 0 || s[i] < 0x20 || s[i] == 0x7f) {
			put(o, ROUTE_BAD, sizeof(ROUTE_BAD) - 1);
			i++;
		} else {
			put(o, s + i, k);
			i += k;
		}
	}
}

size_t route_normalize(const char *path, size_t len, char *out, size_t outsz, int fold_ids)
{
	const unsigned char *s = (const unsigned char *)path;
	struct out o = {out, 0, outsz ? outsz - 1 : 0, 0};
	size_t i = 0, end = path ? len : 0;

	if (outsz == 0)
		return 0;
	if (end == 0) {
		put(&o, "/", 1);
		out[o.len] = '\0';
		return o.len;
	}
	while (i < end && !o.full) {
		const unsigned char *semi;
		size_t seg = i, slen;

		if (s[i] == '/') {
			put(&o, "/", 1);
			i++;
			continue;
		}
		while (i < end && s[i] != '/')
			i++;
		/* Path parameters (";jsessionid=...") are session state, not route. */
		semi = memchr(s + seg, ';', i - seg);
		slen = semi ? (size_t)(semi - (s + seg)) : i - seg;
		if (fold_ids && route_segment_is_id(path + seg, slen))
			put(&o, ROUTE_ID, sizeof(ROUTE_ID) - 1);
		else
			put_segment(&o, s + seg, slen);
	}
	out[o.len] = '\0';
	return o.len;
}
