// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x head and chunked-body parsing. Every read is checked against the
 * end of the buffer before it happens: the tracker feeds bytes straight from
 * ring records and fuzzers feed anything.
 *
 * Lenient where servers are (obs-folded headers, control characters and
 * non-ASCII bytes in header names and values, HTTP/0.9 and HTTP/2.0 request
 * lines, odd Content-Length forms): the server, not this parser, decides what
 * a request is. Where the body's framing is ambiguous the head still parses,
 * with framing_known 0, and the tracker lets the responses delimit requests.
 */
#include <linux/types.h>
#include <string.h>

#include "http_parse.h"
#include "looks_like.h"

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

/* The last coding is chunked: the last comma-separated token, OWS trimmed. */
int http_te_chunked(const char *v, size_t n)
{
	const char *s = v, *e = v + n;
	const char *c = memrchr(v, ',', n);

	if (c)
		s = c + 1;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return ci_eq(s, (size_t)(e - s), "chunked");
}

int http_expect_continue(const char *v, size_t n)
{
	return ci_eq(v, n, "100-continue");
}

/*
 * The next item of a comma-separated list (*s up to e), OWS trimmed: 1, or 0
 * when the list is done. An empty value is one empty item.
 */
static int list_item(const char **s, const char *e, const char **item, size_t *len)
{
	const char *p = *s, *c, *te;

	if (!p)
		return 0;
	c = memchr(p, ',', (size_t)(e - p));
	te = c ? c : e;
	while (p < te && (*p == ' ' || *p == '\t'))
		p++;
	while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
		te--;
	*item = p;
	*len = (size_t)(te - p);
	*s = c ? c + 1 : NULL;
	return 1;
}

static void parse_connection(const char *v, size_t n, enum http_conn *conn)
{
	const char *s = v, *it;
	size_t len;

	while (list_item(&s, v + n, &it, &len)) {
		if (ci_eq(it, len, "close"))
			*conn = HTTP_CONN_CLOSE;
		else if (ci_eq(it, len, "keep-alive") && *conn != HTTP_CONN_CLOSE)
			*conn = HTTP_CONN_KEEPALIVE;
	}
}

struct framing {
	int64_t content_length;
	int te_present;
	int chunked;
	int expect_continue;
	int cl_bad; /* a Content-Length no reading agrees on */
	enum http_conn conn;
	const char *traceparent; /* not framing: the one other field a request is read for */
	size_t traceparent_len;
	unsigned traceparent_n;
};

/*
 * A Content-Length value: digits, or a list of equal ones ("5, 5", which RFC
 * 9110 8.6 lets a recipient take as 5). Anything else ("+1", "-0", "0_1",
 * "5, 6") leaves the length unknown: -1.
 */
static int parse_cl_value(const char *v, size_t n, int64_t *out)
{
	int64_t first = -1, x;
	const char *s = v, *it;
	size_t len;

	while (list_item(&s, v + n, &it, &len)) {
		/*
		 * "+1" and "-0" are not RFC 9110 lengths, but lenient servers
		 * (gunicorn reads them with Python's int()) frame the body by
		 * them, and a strict one rejects the request and closes, where
		 * framing no longer matters.
		 */
		int minus = len > 1 && it[0] == '-';

		if (len > 1 && (it[0] == '+' || minus)) {
			it++;
			len--;
		}
		if (http_parse_length(it, len, &x) != 0 || (minus && x != 0))
			return -1;
		if (first >= 0 && x != first)
			return -1;
		first = x;
	}
	*out = first;
	return 0;
}

static void header_field(const char *name, size_t nlen, const char *val, size_t vlen,
			 struct framing *f)
{
	if (ci_eq(name, nlen, "content-length")) {
		int64_t cl;

		/* Two different lengths: a smuggling attempt; the responses decide. */
		if (parse_cl_value(val, vlen, &cl) != 0 ||
		    (f->content_length >= 0 && f->content_length != cl))
			f->cl_bad = 1;
		else
			f->content_length = cl;
	} else if (ci_eq(name, nlen, "transfer-encoding")) {
		f->te_present = 1;
		f->chunked = http_te_chunked(val, vlen);
	} else if (ci_eq(name, nlen, "expect")) {
		f->expect_continue = http_expect_continue(val, vlen);
	} else if (ci_eq(name, nlen, "connection")) {
		parse_connection(val, vlen, &f->conn);
	} else if (ci_eq(name, nlen, "traceparent")) {
		f->traceparent = val;
		f->traceparent_len = vlen;
		if (f->traceparent_n < 255)
			f->traceparent_n++;
	}
}

/* Header name bytes: anything a lenient server takes, but not the separators. */
static int name_byte(unsigned char ch)
{
	return ch != ':' && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n';
}

/*
 * Header lines up to and including the blank line. Returns the offset past
 * the blank line, -1 or -2. Obsolete line folding continues the previous
 * value, which keeps its framing meaning only when it was on one line.
 */
static int parse_headers(const char *buf, const char *p, const char *end, struct framing *f)
{
	int r, first = 1;

	memset(f, 0, sizeof(*f));
	f->content_length = -1;
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
		if (*p == ' ' || *p == '\t') {
			/* obs-fold: the line before went on; the first line cannot fold. */
			if (first)
				return -1;
			name = NULL;
			nlen = 0;
		} else {
			name = p;
			while (p < end && name_byte((unsigned char)*p))
				p++;
			if (p == end)
				return -2;
			if (*p != ':' || p == name)
				return -1;
			nlen = (size_t)(p - name);
			p++;
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		val = p;
		/*
		 * Any byte but the line's end in a value (control characters,
		 * non-ASCII): servers differ, the response decides. A bare LF is
		 * refused: it would split the line differently for different readers.
		 */
		while (p < end && *p != '\r' && *p != '\n')
			p++;
		vend = p;
		if ((r = eat_eol(&p, end)) != 0)
			return r;
		while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (name)
			header_field(name, nlen, val, (size_t)(vend - val), f);
		first = 0;
	}
}

/* PROXY protocol v2 signature (12 bytes), then ver_cmd, family, u16be length. */
static const char proxy2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

int http_proxy_header_len(const char *buf, size_t len)
{
	size_t i;

	if (len > 0 && buf[0] == '\r') {
		for (i = 0; i < sizeof(proxy2_sig); i++) {
			if (i == len)
				return -2;
			if (buf[i] != proxy2_sig[i])
				return 0;
		}
		if (len < 16)
			return -2;
		return 16 + (((unsigned char)buf[14] << 8) | (unsigned char)buf[15]);
	}
	for (i = 0; i < 6; i++) {
		if (i == len)
			return -2;
		if (buf[i] != "PROXY "[i])
			return 0;
	}
	/* v1: one line of at most 107 bytes, CRLF included. */
	for (; i < len && i < 107; i++)
		if (buf[i] == '\n')
			return buf[i - 1] == '\r' ? (int)i + 1 : -1;
	return i < 107 ? -2 : -1;
}

/*
 * "HTTP/<digits>.<digits>": the minor version of HTTP/1.<digit>, or 0 with
 * *other_major set for any other version (HTTP/2.0 request lines, and
 * versions of several digits that lenient servers take and echo back:
 * "HTTP/11.01"), -1 or -2.
 */
static int parse_any_version(const char **pp, const char *end, int *other_major)
{
	static const char pfx[] = "HTTP/";
	const char *p = *pp, *major, *minor;
	size_t i;

	for (i = 0; i < sizeof(pfx) - 1; i++) {
		if (p + i == end)
			return -2;
		if (p[i] != pfx[i])
			return -1;
	}
	p += i;
	for (major = p; p < end && p - major < 4 && *p >= '0' && *p <= '9'; p++)
		;
	if (p == end)
		return -2;
	if (p == major || *p != '.')
		return -1;
	for (minor = ++p; p < end && p - minor < 4 && *p >= '0' && *p <= '9'; p++)
		;
	if (p == end)
		return -2;
	if (p == minor)
		return -1;
	*other_major = p - major != 3 || major[0] != '1';
	*pp = p;
	return *other_major ? 0 : minor[0] - '0';
}

/* CRLF or a bare LF (request lines only: HTTP/0.9 clients send either). */
static int eat_line_end(const char **pp, const char *end)
{
	if (*pp < end && **pp == '\n') {
		(*pp)++;
		return 0;
	}
	return eat_eol(pp, end);
}

static void request_init(struct http_request *req)
{
	req->method = NULL;
	req->method_len = 0;
	req->target = NULL;
	req->target_len = 0;
	req->target_cut = 0;
	req->minor_version = 1;
	req->content_length = -1;
	req->chunked = 0;
	req->expect_continue = 0;
	req->framing_known = 1;
	req->conn = HTTP_CONN_DEFAULT;
	req->traceparent = NULL;
	req->traceparent_len = 0;
	req->traceparent_n = 0;
}

/*
 * The request line, leniently: any token for a method, runs of spaces,
 * HTTP/0.9 (no version: no headers follow) and versions other than 1.x
 * (whose framing is not ours to know). *no_headers is set for HTTP/0.9.
 */
static int request_line(const char *buf, const char **pp, const char *end,
			struct http_request *req, int *no_headers)
{
	const char *p = *pp, *m, *t;
	int r, minor, other = 0;

	if ((r = skip_empty_lines(&p, end)) != 0)
		return r;
	m = p;
	while (p < end && wt_is_tchar((unsigned char)*p))
		p++;
	if (p == end)
		return -2;
	if (*p != ' ' || p == m)
		return -1;
	request_init(req);
	req->method = m;
	req->method_len = (size_t)(p - m);
	while (p < end && *p == ' ')
		p++;
	t = p;
	while (p < end && (unsigned char)*p > 0x20 && *p != 0x7f)
		p++;
	if (p == end)
		return -2;
	if (p == t)
		return -1;
	req->target = t;
	req->target_len = (size_t)(p - t);
	*no_headers = 0;
	if (*p == '\r' || *p == '\n') {
		/* HTTP/0.9: the line is the whole request. */
		if ((r = eat_line_end(&p, end)) != 0)
			return r;
		req->minor_version = 9;
		req->framing_known = 0;
		*no_headers = 1;
		*pp = p;
		return 0;
	}
	while (p < end && *p == ' ')
		p++;
	if ((minor = parse_any_version(&p, end, &other)) < 0)
		return minor;
	while (p < end && *p == ' ')
		p++;
	if ((r = eat_eol(&p, end)) != 0)
		return r;
	req->minor_version = minor;
	if (other)
		req->framing_known = 0;
	*pp = p;
	return 0;
}

int http_parse_request_line(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf;
	int r, no_headers;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	if ((r = request_line(buf, &p, buf + len, req, &no_headers)) != 0)
		return r;
	return (int)(p - buf);
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf, *end;
	struct framing f;
	int r, no_headers;

	if (len > 0x7fffffff)
		len = 0x7fffffff;
	end = buf + len;
	req->traceparent = NULL;
	req->traceparent_len = 0;
	req->traceparent_n = 0;
	if ((r = request_line(buf, &p, end, req, &no_headers)) != 0)
		return r;
	if (no_headers)
		return (int)(p - buf);
	r = parse_headers(buf, p, end, &f);
	/* Whole lines only: on -2 too, a value the end of buf cut is none. */
	req->traceparent = f.traceparent;
	req->traceparent_len = f.traceparent_len;
	req->traceparent_n = f.traceparent_n;
	if (r < 0)
		return r;
	/*
	 * A request body is framed by chunked or Content-Length; any other
	 * transfer coding cannot be framed (RFC 9112 6.3) and chunked wins
	 * over a Content-Length sent with it.
	 */
	if ((f.te_present && !f.chunked) || (f.cl_bad && !f.chunked))
		req->framing_known = 0;
	req->content_length = f.chunked || !req->framing_known ? -1 : f.content_length;
	req->chunked = f.chunked;
	req->expect_continue = f.expect_continue;
	req->conn = f.conn;
	return r;
}

int http_recover_request(const char *buf, size_t len, struct http_request *req)
{
	size_t i = 0, m, w, t;
	int token = 1;

	request_init(req);
	req->framing_known = 0;
	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	/*
	 * The method word runs to the first space. A token is a method; a word
	 * with other bytes (a quote, a NUL, UTF-8) is one only when it starts
	 * with a printable byte and an origin-form target follows: garbage and
	 * TLS records (which start with a control byte) give no target.
	 */
	if (i < len && ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f))
		return 0;
	for (m = i; i < len && i - m < 32 && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n'; i++)
		token &= wt_is_tchar((unsigned char)buf[i]);
	if (i == m || i == len)
		return 0;
	if (buf[i] != ' ') {
		/* A method alone on its line: the method is known, the target is not. */
		if (!token)
			return 0;
		req->method = buf + m;
		req->method_len = i - m;
		return 1;
	}
	for (w = i; i < len && buf[i] == ' '; i++)
		;
	if (!token && (i == len || buf[i] != '/'))
		return 0;
	req->method = buf + m;
	req->method_len = w - m;
	for (t = i; i < len && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n'; i++)
		;
	req->target = buf + t;
	req->target_len = i - t;
	req->target_cut = i == len;
	return 1;
}

static int status_line(const char **pp, const char *end, struct http_response *resp)
{
	const char *p = *pp;
	int minor, status = 0, i, other;

	/*
	 * Servers echo the request's version, whatever it was: "GET / HTTP/2.0"
	 * gets "HTTP/2.0 404", uWSGI answers "HTTP/1.x 200", "HTTP/1.1.1 200"
	 * and, for a line ending in a space, "HTTP/1.1  200". Any version
	 * token is taken; one that is not 1.x frames the body as 1.0 does.
	 */
	minor = parse_any_version(&p, end, &other);
	if (minor == -2)
		return -2;
	if (minor < 0 || (p < end && *p != ' ')) {
		const char *v = *pp;

		if ((size_t)(end - v) < 5 || memcmp(v, "HTTP/", 5) != 0)
			return -1;
		for (p = v + 5; p < end && p - v < 24 && (unsigned char)*p > 0x20 && *p != 0x7f; p++)
			;
		if (p == v + 5 && p < end)
			return -1;
		minor = 0;
	}
	if (p == end)
		return -2;
	if (*p != ' ')
		return -1;
	while (p < end && *p == ' ')
		p++;
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
	/*
	 * A response whose length no reading agrees on: the tracker takes its
	 * status line alone and ends it at the next request or the close.
	 */
	if (f.cl_bad)
		return -1;
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
			if (ch != '\r' && !wt_is_tchar(ch))
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
