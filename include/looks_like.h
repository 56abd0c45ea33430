/* SPDX-License-Identifier: MIT */
/*
 * The one rule both sides use to decide whether a read starts a request on a
 * connection that was not seen being accepted (open before wsgitrace started,
 * AF_UNIX), or after the daemon lost a connection's framing. Accepted TCP
 * connections need no such guess: they are followed from their first byte.
 *
 * Plain C for the kernel side and the daemon alike: fixed-width types, no
 * libc, no data (BPF programs get no .rodata for it), every loop bounded by a
 * constant. As with wsgitrace.h, the includer provides __u8 and __u32
 * (vmlinux.h in the kernel side, <linux/types.h> in the daemon).
 */
#ifndef WT_LOOKS_LIKE_H
#define WT_LOOKS_LIKE_H

/*
 * The BPF verifier follows an unrolled loop path by path and prunes it; a
 * loop's back edge multiplies its states past the instruction limit.
 */
#ifdef __bpf__
#define WT_UNROLL _Pragma("unroll")
#else
#define WT_UNROLL
#endif

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
 * The uwsgi modifier1 values a WSGI server answers: 0 (WSGI) and 30 (what
 * nginx's `uwsgi_modifier1 30` sends, its PATH_INFO fix). The kernel side
 * and the daemon take a packet for a request by this one rule.
 */
static inline int wt_wsgi_modifier1(__u8 m)
{
	return m == 0 || m == 30;
}

/* Byte i of the PROXY protocol v2 signature "\r\n\r\n\0\r\nQUIT\n" (no data section needed). */
static inline __u8 wt_proxy2_sig(__u32 i)
{
	switch (i) {
	case 0: case 2: case 5:
		return 0x0d;
	case 4:
		return 0x00;
	case 7:
		return 'Q';
	case 8:
		return 'U';
	case 9:
		return 'I';
	case 10:
		return 'T';
	default: /* 1, 3, 6, 11 */
		return 0x0a;
	}
}

/*
 * Does d[0..len) start like a request?
 *  - a method of upper-case letters, '-' and '_' ("GET ", "M-SEARCH ")
 *    followed by a space, or a read too short to hold more than part of it.
 *    Stricter than a token on purpose: body bytes ("some text ") must not
 *    pass for a request on a connection whose start we did not see;
 *  - a PROXY protocol header: "PROXY " (v1) or the v2 signature's first bytes;
 *  - a uwsgi packet header: a modifier1 of wt_wsgi_modifier1(),
 *    modifier2 0, datasize >= 4, and once 8 bytes are in, a first key of
 *    1-64 upper-case bytes that fits the packet.
 * A response ("HTTP/1.1 200") does not: '/' ends no method.
 */
static inline int wt_looks_like_request(const __u8 *d, __u32 len)
{
	__u32 i;

	if (len == 0)
		return 0;
	if (wt_wsgi_modifier1(d[0])) {
		__u32 size, klen;

		if (len < 4)
			return 1;
		size = d[1] | ((__u32)d[2] << 8);
		if (d[3] != 0 || size < 4)
			return 0;
		if (len < 8)
			return 1;
		klen = d[4] | ((__u32)d[5] << 8);
		return klen >= 1 && klen <= 64 && klen + 2 <= size && d[6] >= 'A' && d[6] <= 'Z';
	}
	if (d[0] == 0x0d) {
		WT_UNROLL
		for (i = 0; i < 12; i++) {
			if (i >= len)
				return 1;
			if (d[i] != wt_proxy2_sig(i))
				return 0;
		}
		return 1;
	}
	WT_UNROLL
	for (i = 0; i < WT_LOOK_TOKEN_MAX; i++) {
		if (i >= len)
			return 1; /* all of a short read is method bytes: a head cut early */
		if (d[i] == ' ')
			return i > 0;
		if (!((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_'))
			return 0;
	}
	return 0;
}

#endif /* WT_LOOKS_LIKE_H */
