// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x head and chunked-body parsing. Every read is checked against the
 * end of the buffer before it happens: the tracker feeds bytes straight from
 * ring records and fuzzers feed anything.
 *
 * Strict where leniency would let two parsers disagree on framing (bare LF,
 * obsolete line folding, conflicting Content-Length): such input is an error,
 * and the tracker resynchronizes rather than guessing.
 */
#include <string.h>

#include "http_parse.h"

/* RFC 9110 tchar: the bytes allowed in methods and header names. */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

const char *http_method_norm(const char *m, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == len && memcmp(methods[i], m, len) == 0)
			return methods[i];
	return "_OTHER";
}

int http_looks_like_request(const char *buf, size_t len)
{
	size_t i;

	/* Longest standard method is 7; leave room for WebDAV's. */
	for (i = 0; i < len && i < 20; i++) {
		unsigned char ch = buf[i];

		if (ch == ' ')
			return i > 0;
		if (!(ch >= 'A' && ch <= 'Z') && ch != '-' && ch != '_')
			return 0;
	}
	/* All of a short read is method characters: a head cut early. */
	return i > 0 && i == len;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ci_eq(const char *a, size_t alen, const char *lit)
{
	size_t i, n = strlen(lit);

	if (alen != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lit[i])
			return 0;
	return 1;
}

/* CRLF at *pp: 0 and advance, -2 if cut short, -1 for anything else. */
static int eat_eol(const char **pp, const char *end)
{
	const char *p = *pp;

	if (p == end)
		return -2;
	if (*p != '\r')
		return -1; /* bare LF or junk */
	if (p + 1 == end)
		return -2;
	if (p[1] != '\n')
		return -1;
	*pp = p + 2;
	return 0;
}

/* Clients may send an empty line before a request (RFC 9112 2.2). */
static int skip_empty_lines(const char **pp, const char *end)
{
	int r;

	while (*pp < end && **pp == '\r')
		if ((r = eat_eol(pp, end)) != 0)
			return r;
	return 0;
}

/* "HTTP/1.<digit>": the minor version, -1 or -2. */
static int parse_version(const char **pp, const char *end)
{
	static const char pfx[] = "HTTP/1.";
	const char *p = *pp;
	size_t i;

	for (i = 0; i < sizeof(pfx) - 1; i++) {
		if (p + i == end)
			return -2;
		if (p[i] != pfx[i])
			return -1;
	}
	if (p + i == end)
		return -2;
	if (p[i] < '0' || p[i] > '9')
		return -1;
	*pp = p + i + 1;
	return p[i] - '0';
}

/* Decimal length: strict digits only, bounded well before overflow. */
int http_parse_length(const char *v, size_t n, int64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
		if (x > HTTP_MAX_LENGTH)
			return -1;
	}
	*out = (int64_t)x;
	return 0;
}

/* Last comma-separated token of a list value, OWS trimmed. */
static void last_token(const char *v, size_t n, const char **tok, size_t *tlen)
{
	const char *s = v, *e = v + n;
	const char *c = memrchr(v, ',', n);

	if (c)
		s = c + 1;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*tok = s;
	*tlen = (size_t)(e - s);
}

static void parse_connection(const char *v, size_t n, enum http_conn *conn)
{
	const char *s = v, *e = v + n;

	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *te = c ? c : e, *ts = s;

		while (ts < te && (*ts == ' ' || *ts == '\t'))
			ts++;
		while (te > ts && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if (ci_eq(ts, (size_t)(te - ts), "close"))
			*conn = HTTP_CONN_CLOSE;
		else if (ci_eq(ts, (size_t)(te - ts), "keep-alive") && *conn != HTTP_CONN_CLOSE)
			*conn = HTTP_CONN_KEEPALIVE;
		if (!c)
			break;
		s = c + 1;
	}
}

struct framing {
	int64_t content_length;
	int te_present;
	int chunked;
	int expect_continue;
	enum http_conn conn;
};

/*
 * Header lines up to and including the blank line. Returns the offset past
 * the blank line, -1 or -2.
 */
static int parse_headers(const char *buf, const char *p, const char *end, struct framing *f)
{
	int r;

	f->content_length = -1;
	f->te_present = 0;
	f->chunked = 0;
	f->expect_continue = 0;
	f->conn = HTTP_CONN_DEFAULT;

	for (;;) {
		const char *name, *val, *vend;
		size_t nlen;

		if (p == end)
			return -2;
		if (*p == '\r') {
			if ((r = eat_eol(&p, end)) != 0)
				return r;
			if (p - buf > 0x7fffffff)
				return -1;
			return (int)(p - buf);
		}
		/* Obsolete line folding and bare LF are refused (RFC 9112 5.2). */
		name = p;
		while (p < end && tchar[(unsigned char)*p])
			p++;
		if (p == end)
			return -2;
		if (*p != ':' || p == name)
			return -1;
		nlen = (size_t)(p - name);
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		val = p;
		for (; p < end; p++) {
			unsigned char ch = *p;

			if (ch == '\r')
				break;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return -1;
		}
		vend = p;
		if ((r = eat_eol(&p, end)) != 0)
			return r;
		while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;

		if (ci_eq(name, nlen, "content-length")) {
			int64_t cl;

			if (http_parse_length(val, (size_t)(vend - val), &cl) != 0)
				return -1;
			/* Two different lengths: a smuggling attempt, not a message. */
			if (f->content_length >= 0 && f->content_length != cl)
				return -1;
			f->content_length = cl;
		} else if (ci_eq(name, nlen, "transfer-encoding")) {
			const char *tok;
			size_t tlen;

			last_token(val, (size_t)(vend - val), &tok, &tlen);
			f->te_present = 1;
			f->chunked = ci_eq(tok, tlen, "chunked");
		} else if (ci_eq(name, nlen, "expect")) {
			f->expect_continue = ci_eq(val, (size_t)(vend - val), "100-continue");
		} else if (ci_eq(name, nlen, "connection")) {
			parse_connection(val, (size_t)(vend - val), &f->conn);
		}
	}
}

/* Path of a request-target: origin-form as is, absolute-form without scheme
 * and authority; query and fragment dropped either way. */
static void target_path(const char *t, size_t n, const char **path, size_t *plen)
{
	size_t i, skip = 0;

	if (n >= 7 && ci_eq(t, 7, "http://"))
		skip = 7;
	else if (n >= 8 && ci_eq(t, 8, "https://"))
		skip = 8;
	if (skip) {
		for (i = skip; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
			;
		if (i == n || t[i] != '/') {
			*path = "/";
			*plen = 1;
			return;
		}
		t += i;
		n -= i;
	}
	for (i = 0; i < n && t[i] != '?' && t[i] != '#'; i++)
		;
	*path = t;
	*plen = i;
}

static int request_line(const char *buf, const char **pp, const char *end, struct http_request *req)
{
	const char *p = *pp, *m, *t;
	int r, minor;

	if ((r = skip_empty_lines(&p, end)) != 0)
		return r;
	m = p;
	while (p < end && tchar[(unsigned char)*p])
		p++;
	if (p == end)
		return -2;
	if (*p != ' ' || p == m)
		return -1;
	req->method = http_method_norm(m, (size_t)(p - m));
	t = ++p;
	while (p < end && (unsigned char)*p > 0x20 && *p != 0x7f)
		p++;
	if (p == end)
		return -2;
	if (*p != ' ' || p == t)
		return -1;
	target_path(t, (size_t)(p - t), &req->path, &req->path_len);
	p++;
	if ((minor = parse_version(&p, end)) < 0)
		return minor;
	if ((r = eat_eol(&p, end)) != 0)
		return r;
	req->minor_version = minor;
	req->content_length = -1;
	req->chunked = 0;
	req->expect_continue = 0;
	req->conn = HTTP_CONN_DEFAULT;
	*pp = p;
	return 0;
}

int http_parse_request_line(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf;
	int r;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	if ((r = request_line(buf, &p, buf + len, req)) != 0)
		return r;
	return (int)(p - buf);
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf, *end;
	struct framing f;
	int r;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	end = buf + len;
	if ((r = request_line(buf, &p, end, req)) != 0)
		return r;
	if ((r = parse_headers(buf, p, end, &f)) < 0)
		return r;
	/*
	 * A request body is framed by chunked or Content-Length; any other
	 * transfer coding cannot be framed (RFC 9112 6.3) and chunked wins
	 * over a Content-Length sent with it.
	 */
	if (f.te_present && !f.chunked)
		return -1;
	req->content_length = f.chunked ? -1 : f.content_length;
	req->chunked = f.chunked;
	req->expect_continue = f.expect_continue;
	req->conn = f.conn;
	return r;
}

static int status_line(const char **pp, const char *end, struct http_response *resp)
{
	const char *p = *pp;
	int minor, status = 0, i;

	if ((minor = parse_version(&p, end)) < 0)
		return minor;
	if (p == end)
		return -2;
	if (*p++ != ' ')
		return -1;
	for (i = 0; i < 3; i++, p++) {
		if (p == end)
			return -2;
		if (*p < '0' || *p > '9')
			return -1;
		status = status * 10 + (*p - '0');
	}
	if (status < 100)
		return -1;
	/* Reason phrase, possibly empty, possibly absent with its space. */
	if (p == end)
		return -2;
	if (*p == ' ') {
		for (p++; p < end && *p != '\r'; p++) {
			unsigned char ch = *p;

			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return -1;
		}
	}
	if ((i = eat_eol(&p, end)) != 0)
		return i;
	resp->status = status;
	resp->minor_version = minor;
	resp->content_length = -1;
	resp->chunked = 0;
	resp->conn = HTTP_CONN_DEFAULT;
	*pp = p;
	return 0;
}

int http_parse_status_line(const char *buf, size_t len, struct http_response *resp)
{
	const char *p = buf;
	int r;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	if ((r = status_line(&p, buf + len, resp)) != 0)
		return r;
	return (int)(p - buf);
}

int http_parse_response(const char *buf, size_t len, struct http_response *resp)
{
	const char *p = buf, *end;
	struct framing f;
	int r;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	end = buf + len;
	if ((r = status_line(&p, end, resp)) != 0)
		return r;
	if ((r = parse_headers(buf, p, end, &f)) < 0)
		return r;
	/* Not chunked but encoded: the body runs to the close (RFC 9112 6.3). */
	resp->content_length = f.te_present ? -1 : f.content_length;
	resp->chunked = f.chunked;
	resp->conn = f.conn;
	return r;
}

enum {
	CH_SIZE0 = 0, /* first hex digit of a chunk size */
	CH_SIZE,      /* more hex digits */
	CH_EXT,       /* chunk extension or whitespace up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER0, /* start of a trailer line, or the final CRLF */
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_ERROR,
};

/* 15 hex digits stay below HTTP_MAX_LENGTH's order; more is hostile. */
#define CH_MAX_DIGITS 15

void http_chunked_init(struct http_chunked *c)
{
	c->remaining = 0;
	c->state = CH_SIZE0;
	c->digits = 0;
}

int http_chunked_done(const struct http_chunked *c)
{
	return c->state == CH_DONE;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = buf[i];
		int h;

		switch (c->state) {
		case CH_SIZE0:
		case CH_SIZE:
			h = hexval(ch);
			if (h >= 0) {
				if (++c->digits > CH_MAX_DIGITS)
					goto err;
				c->remaining = c->remaining * 16 + (uint64_t)h;
				c->state = CH_SIZE;
			} else if (c->state == CH_SIZE0) {
				goto err;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CH_EXT;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				goto err;
			}
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				goto err;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto err;
			i++;
			c->digits = 0;
			if (c->remaining > HTTP_MAX_LENGTH)
				goto err;
			c->state = c->remaining ? CH_DATA : CH_TRAILER0;
			break;
		case CH_DATA: {
			size_t n = len - i;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->remaining -= n;
			i += n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				goto err;
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto err;
			c->state = CH_SIZE0;
			i++;
			break;
		case CH_TRAILER0:
			c->state = ch == '\r' ? CH_END_LF : CH_TRAILER;
			if (ch != '\r' && !tchar[ch])
				goto err;
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				goto err;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				goto err;
			c->state = CH_TRAILER0;
			i++;
			break;
		case CH_END_LF:
			if (ch != '\n')
				goto err;
			c->state = CH_DONE;
			return (ssize_t)(i + 1);
		case CH_DONE:
			return (ssize_t)i;
		default:
			goto err;
		}
	}
	if (c->state == CH_DONE)
		return (ssize_t)i;
	return -2;
err:
	c->state = CH_ERROR;
	return -1;
}

int http_chunked_skip(struct http_chunked *c, uint64_t n)
{
	if (n == 0)
		return 0;
	if (c->state == CH_DATA) {
		uint64_t k = n < c->remaining ? n : c->remaining;

		c->remaining -= k;
		n -= k;
		if (c->remaining == 0)
			c->state = CH_DATA_CR;
	}
	/* The CRLF after chunk data is implied by its length: skip it blind. */
	if (n > 0 && c->state == CH_DATA_CR) {
		c->state = CH_DATA_LF;
		n--;
	}
	if (n > 0 && c->state == CH_DATA_LF) {
		c->state = CH_SIZE0;
		n--;
	}
	if (n > 0) {
		c->state = CH_ERROR;
		return -1;
	}
	return 0;
}
