/* SPDX-License-Identifier: MIT */
/*
 * The one rule both sides use to decide whether a read starts a request on a
 * connection that was not seen being accepted (open before wsgitrace started,
 * AF_UNIX), or after the daemon lost a connection's framing. Accepted TCP
 * connections need no such guess: they are followed from their first byte.
 *
 * Plain C for the kernel side and the daemon alike: fixed-width types, no
 * libc, every loop bounded by a constant.
 */
#ifndef WT_LOOKS_LIKE_H
#define WT_LOOKS_LIKE_H

#include <linux/types.h>

/* Longest method token looked for: WebDAV and friends stay well below it. */
#define WT_LOOK_TOKEN_MAX 20

/* RFC 9110 tchar: the bytes of a method token or a header name. */
static inline int wt_is_tchar(__u8 c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

/*
 * Does d[0..len) start like a request?
 *  - a method of upper-case letters, '-' and '_' ("GET ", "M-SEARCH ")
 *    followed by a space, or a read too short to hold more than part of it.
 *    Stricter than a token on purpose: body bytes ("some text ") must not
 *    pass for a request on a connection whose start we did not see;
 *  - a PROXY protocol header: "PROXY " (v1) or the v2 signature's first bytes;
 *  - a uwsgi packet header: modifier1 0, datasize >= 4, modifier2 0.
 * A response ("HTTP/1.1 200") does not: '/' is no token byte.
 */
static inline int wt_looks_like_request(const __u8 *d, __u32 len)
{
	/* PROXY v2 signature: \r\n\r\n\0\r\nQUIT\n */
	static const __u8 proxy2[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	__u32 i;

	if (len == 0)
		return 0;
	if (d[0] == 0) {
		if (len < 4)
			return 1;
		return d[3] == 0 && (d[1] | (d[2] << 8)) >= 4;
	}
	if (d[0] == 0x0d) {
		for (i = 0; i < 12; i++) {
			if (i >= len)
				return 1;
			if (d[i] != proxy2[i])
				return 0;
		}
		return 1;
	}
	for (i = 0; i < WT_LOOK_TOKEN_MAX; i++) {
		if (i >= len)
			return 1; /* all of a short read is token bytes: a head cut early */
		if (d[i] == ' ')
			return i > 0;
		if (!((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_'))
			return 0;
	}
	return 0;
}

#endif /* WT_LOOKS_LIKE_H */
