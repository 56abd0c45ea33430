// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <crypt.h>

#include "agg.h"
#include "expose.h"
#include "httpd.h"
#include "promtext.h"
#include "strbuf.h"
#include "webconfig.h"

struct ctx {
	int calls;
	int fail;
	struct agg *agg; /* NULL: the histogram family without series */
};

/* The scrape's number, as the daemon's own table shows it, and the httpd's table. */
struct scrape_stats {
	uint64_t scrapes;
};
static const struct promtext_metric scrape_rows[] = {
	PROMTEXT_U64("wsgitrace_scrapes_total", PROMTEXT_COUNTER, struct scrape_stats, scrapes,
		     "Requests for /metrics served."),
};
static const struct promtext_table scrape_metrics = PROMTEXT_TABLE(scrape_rows);
static const struct httpd_stats no_httpd_stats;

/* Scrape number `calls`, as expose_render() (out) or a stream (returned, out NULL) shows it. */
static struct expose_stream *scrape(struct ctx *c, int calls, struct strbuf *out)
{
	struct scrape_stats st = { .scrapes = (uint64_t)calls };
	const struct promtext_source src[] = { { &scrape_metrics, &st }, { &httpd_metrics, &no_httpd_stats } };
	const struct expose_self self = { .src = src, .nsrc = 2, .version = "1.2.3", .revision = "abc",
					  .hook = "sockets" };

	if (out) {
		assert_int_equal(expose_render(out, c->agg, &self), 0);
		return NULL;
	}
	return expose_stream_new(c->agg, &self);
}

static struct expose_stream *render(void *p, enum expfmt f)
{
	struct ctx *c = p;

	c->calls++;
	if (c->fail)
		return NULL;
	return scrape(c, c->calls, NULL);
}

/* What scrape number `calls` must carry, as expose_render() writes it. */
static void expected(struct ctx *c, int calls, struct strbuf *want)
{
	sb_reset(want);
	scrape(c, calls, want);
}

/*
 * Decodes a chunked body into out: 1 when the last chunk (and the empty
 * trailer) is there, 0 if more bytes are needed, -1 if malformed.
 */
static int dechunk(const char *p, size_t len, struct strbuf *out)
{
	const char *end = p + len;

	sb_reset(out);
	for (;;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		unsigned long n;
		char *x;

		if (!eol)
			return 0;
		n = strtoul(p, &x, 16);
		if (x == p || (x != eol && *x != ';'))
			return -1;
		p = eol + 2;
		if (n == 0)
			return end - p < 2 ? 0 : memcmp(p, "\r\n", 2) == 0 && end - p == 2 ? 1 : -1;
		if ((size_t)(end - p) < n + 2)
			return 0;
		if (memcmp(p + n, "\r\n", 2) != 0)
			return -1;
		sb_append(out, p, n);
		p += n + 2;
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int connect_to(struct httpd *h, int family)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd;

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)httpd_port(h));
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)httpd_port(h));
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/* A whole chunked response is in r (headers, body, last chunk). */
static int chunked_complete(const struct strbuf *r)
{
	struct strbuf tmp = STRBUF_INIT;
	const char *b;
	int rc;

	/* Decode only once the last chunk may be there. */
	if (!r->buf || r->len < 5 || memcmp(r->buf + r->len - 5, "0\r\n\r\n", 5) != 0 ||
	    !(b = memmem(r->buf, r->len, "\r\n\r\n", 4)))
		return 0;
	b += 4;
	rc = dechunk(b, r->len - (size_t)(b - r->buf), &tmp);
	sb_free(&tmp);
	return rc != 0;
}

/*
 * Sends req on fd and collects the answer, driving httpd_run() from a poll
 * loop the way the daemon does, in this one thread: until the server closes
 * ("Connection: close", HTTP/1.0), or with keep set, until a whole chunked
 * response is in (the connection stays open).
 */
static void roundtrip(struct httpd *h, int fd, const char *req, struct strbuf *resp, int keep)
{
	size_t sent = 0, reqlen = strlen(req);
	double deadline = now_ms() + 5000;
	int done = 0, rc;

	sb_reset(resp);
	while (!done) {
		struct pollfd p[2] = {{httpd_fd(h), POLLIN, 0}, {fd, POLLIN | (sent < reqlen ? POLLOUT : 0), 0}};
		int t = httpd_timeout_ms(h);

		if (now_ms() > deadline)
			fail_msg("no complete answer within 5 s; got %zu bytes", resp->len);
		rc = poll(p, 2, t < 0 || t > 2000 ? 2000 : t);
		if (rc < 0)
			fail_msg("poll: %s", strerror(errno));
		/* Nothing ready and no MHD deadline due: MHD has work it did
		 * not signal on its fd, which would stall the daemon's loop. */
		if (rc == 0 && (t < 0 || t > 2000))
			fail_msg("stalled: no fd ready for 2 s with %zu bytes received", resp->len);
		httpd_run(h);
		if ((p[1].revents & POLLOUT) && sent < reqlen) {
			ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t n;

			while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
				sb_append(resp, buf, (size_t)n);
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				if (keep && !chunked_complete(resp))
					fail_msg("the server closed a keep-alive connection after %zu bytes",
						 resp->len);
				done = 1;
			}
			if (keep && chunked_complete(resp))
				done = 1;
		}
	}
	assert_true(sb_ok(resp));
	sb_putc(resp, '\0'); /* so an empty answer is "" */
	resp->len--;
}

/* One request on a new connection, answered up to the server's close. */
static void exchange(struct httpd *h, int family, const char *req, struct strbuf *resp)
{
	int fd = connect_to(h, family);

	roundtrip(h, fd, req, resp, 0);
	close(fd);
}

static const char *body_of(const struct strbuf *r)
{
	const char *b = strstr(r->buf, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static int has_header(const struct strbuf *r, const char *line)
{
	const char *b = strstr(r->buf, "\r\n\r\n");

	return b && memmem(r->buf, (size_t)(b + 2 - r->buf), line, strlen(line)) != NULL;
}

/* r is a 200 with the exposition's Content-Type, chunked, and its body is want. */
static void assert_chunked_body(const struct strbuf *r, const struct strbuf *want)
{
	struct strbuf body = STRBUF_INIT;
	const char *b = body_of(r);

	assert_true(strncmp(r->buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_true(has_header(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_true(has_header(r, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_int_equal(dechunk(b, r->len - (size_t)(b - r->buf), &body), 1);
	assert_int_equal(body.len, want->len);
	assert_memory_equal(body.buf, want->buf, want->len);
	sb_free(&body);
}

/* HTTP/1.0: no chunks, the body ends where the server closes. */
static void assert_plain_body(const struct strbuf *r, const struct strbuf *want)
{
	const char *b = body_of(r);

	assert_true(strncmp(r->buf, "HTTP/1.0 200 OK\r\n", 17) == 0 || strncmp(r->buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_true(has_header(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_false(has_header(r, "\r\nTransfer-Encoding:"));
	assert_int_equal(r->len - (size_t)(b - r->buf), want->len);
	assert_memory_equal(b, want->buf, want->len);
}

static struct agg *agg_of(size_t nseries)
{
	char err[128], route[64];
	struct agg *a = agg_new(NULL, 0, nseries + 1, err, sizeof(err));
	size_t i;

	assert_non_null(a);
	agg_set_service_limit(a, nseries);
	for (i = 0; i < nseries; i++) {
		snprintf(route, sizeof(route), "/s/%zu", i);
		agg_observe(a, "app", "GET", route, 404, (uint64_t)i * 1000 + 1);
	}
	return a;
}

static void test_metrics(void **state)
{
	struct ctx c = {0};
	char err[256] = "";
	struct strbuf r = STRBUF_INIT, want = STRBUF_INIT;
	struct httpd *h;

	c.agg = agg_of(3);
	h = httpd_start("127.0.0.1:0", NULL, render, &c, err, sizeof(err));
	if (!h)
		fail_msg("httpd_start: %s", err);
	assert_true(httpd_port(h) > 0);
	assert_true(httpd_fd(h) >= 0);
	assert_non_null(strstr(httpd_address(h), "127.0.0.1:"));

	exchange(h, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	expected(&c, 1, &want);
	assert_non_null(strstr(want.buf, "wsgitrace_scrapes_total 1\n"));
	assert_chunked_body(&r, &want);
	assert_int_equal(c.calls, 1);

	/* HTTP/1.0, second scrape renders again. */
	exchange(h, AF_INET, "GET /metrics HTTP/1.0\r\n\r\n", &r);
	expected(&c, 2, &want);
	assert_plain_body(&r, &want);

	/* HEAD: headers with the length a GET would get, no body (not even
	 * a last chunk). */
	exchange(h, AF_INET, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(r.buf, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_string_equal(body_of(&r), "");
	expected(&c, 3, &want);
	{
		char cl[64];

		snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", want.len);
		assert_true(has_header(&r, cl));
	}
	exchange(h, AF_INET, "HEAD /metrics HTTP/1.0\r\n\r\n", &r);
	assert_non_null(strstr(r.buf, " 200 OK\r\n"));
	assert_string_equal(body_of(&r), "");

	exchange(h, AF_INET, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(body_of(&r), "href=\"/metrics\""));

	exchange(h, AF_INET, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 404 ", 13) == 0);
	exchange(h, AF_INET, "GET /metrics/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 404 ", 13) == 0);

	exchange(h, AF_INET, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
		 &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 405 ", 13) == 0);
	assert_non_null(strstr(r.buf, "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(c.calls, 4); /* 404/405 do not render */

	c.fail = 1;
	exchange(h, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 500 ", 13) == 0);
	c.fail = 0;

	/* A large exposition (~9 MB) goes out in pieces from the same loop,
	 * chunked and close-delimited. */
	agg_free(c.agg);
	c.agg = agg_of(3000);
	exchange(h, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	expected(&c, 6, &want);
	assert_true(want.len > (8u << 20));
	assert_chunked_body(&r, &want);
	exchange(h, AF_INET, "GET /metrics HTTP/1.0\r\n\r\n", &r);
	expected(&c, 7, &want);
	assert_plain_body(&r, &want);

	/* Keep-alive, as Prometheus scrapes: two whole answers on one connection. */
	{
		int fd = connect_to(h, AF_INET);

		roundtrip(h, fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r, 1);
		expected(&c, 8, &want);
		assert_chunked_body(&r, &want);
		assert_false(has_header(&r, "\r\nConnection: close\r\n"));
		roundtrip(h, fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r, 1);
		expected(&c, 9, &want);
		assert_chunked_body(&r, &want);
		close(fd);
	}

	/* A client that leaves mid-body, and one still reading when the
	 * server stops: their streams are freed (ASan checks). */
	{
		int fd = connect_to(h, AF_INET), i;
		const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

		assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EAGAIN, 0);
		for (i = 0; i < 50; i++) {
			poll(&(struct pollfd){httpd_fd(h), POLLIN, 0}, 1, 10);
			httpd_run(h);
		}
		close(fd);
		for (i = 0; i < 20; i++) {
			poll(&(struct pollfd){httpd_fd(h), POLLIN, 0}, 1, 10);
			httpd_run(h);
		}
		assert_int_equal(c.calls, 10);
		fd = connect_to(h, AF_INET);
		assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EAGAIN, 0);
		for (i = 0; i < 50 && c.calls < 11; i++) {
			poll(&(struct pollfd){httpd_fd(h), POLLIN, 0}, 1, 10);
			httpd_run(h);
		}
		assert_int_equal(c.calls, 11);
		httpd_stop(h);
		close(fd);
	}

	sb_free(&r);
	sb_free(&want);
	agg_free(c.agg);
}

static void test_ipv6_and_any(void **state)
{
	struct ctx c = {0};
	char err[256] = "";
	struct strbuf r = STRBUF_INIT;
	struct httpd *h = httpd_start("[::1]:0", NULL, render, &c, err, sizeof(err));

	if (!h) {
		/* No IPv6 loopback in this environment. */
		print_message("skipping [::1]: %s\n", err);
	} else {
		assert_non_null(strstr(httpd_address(h), "[::1]:"));
		exchange(h, AF_INET6, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
		assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
		httpd_stop(h);
	}
	/* ":0" listens on every address: reachable over IPv4. */
	h = httpd_start(":0", NULL, render, &c, err, sizeof(err));
	if (!h)
		fail_msg("httpd_start(:0): %s", err);
	exchange(h, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	httpd_stop(h);
	sb_free(&r);
}

static void test_port_taken(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(a);
	char spec[64], want[64], err[256] = "";
	struct ctx c = {0};
	struct httpd *h;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(a.sin_port));
	h = httpd_start(spec, NULL, render, &c, err, sizeof(err));
	assert_null(h);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%u:", ntohs(a.sin_port));
	if (!strstr(err, want) || !strstr(err, "already in use") || !strstr(err, "choose another port"))
		fail_msg("unexpected error text: %s", err);
	close(fd);
	/* Free again: now it works. */
	h = httpd_start(spec, NULL, render, &c, err, sizeof(err));
	if (!h)
		fail_msg("httpd_start after close: %s", err);
	httpd_stop(h);
}

/* A non-blocking connection to h from the loopback address `from`. */
static int connect_from(struct httpd *h, const char *from)
{
	struct sockaddr_in a = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, from, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	to.sin_port = htons((uint16_t)httpd_port(h));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS)
		fail_msg("connect from %s: %s", from, strerror(errno));
	return fd;
}

/* Runs the server's loop for ms milliseconds. */
static void pump(struct httpd *h, int ms)
{
	double end = now_ms() + ms;

	while (now_ms() < end) {
		poll(&(struct pollfd){httpd_fd(h), POLLIN, 0}, 1, 5);
		httpd_run(h);
	}
}

/* 1 when the server has closed fd (EOF or reset), 0 while it is open. */
static int closed_by_server(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN);
}

/*
 * Idle connections that sent one byte, from three addresses, more than
 * either limit: each address only displaces its own, a full table gives up
 * a connection of the address holding the most, a scrape from a fourth
 * address is answered, and what never sends a whole request is closed on
 * time however it trickles.
 */
static void test_admission(void **state)
{
	const struct httpd_opts o = {.max_conns = 8, .max_conns_per_addr = 3, .request_timeout_ms = 400,
					 .idle_timeout_s = 30};
	struct ctx c = {0};
	struct strbuf r = STRBUF_INIT;
	char err[256] = "";
	struct httpd *h = httpd_start("127.0.0.1:0", &o, render, &c, err, sizeof(err));
	int fds[9], i, open_n;
	double deadline;

	if (!h)
		fail_msg("httpd_start: %s", err);
	/* Five from .2: the two oldest give way to the newer three. */
	for (i = 0; i < 5; i++) {
		fds[i] = connect_from(h, "127.0.0.2");
		pump(h, 20);
		assert_int_equal(send(fds[i], "G", 1, MSG_NOSIGNAL), 1);
	}
	pump(h, 50);
	for (i = 0; i < 5; i++)
		assert_int_equal(closed_by_server(fds[i]), i < 2);
	assert_int_equal(httpd_stats(h)->evicted, 2);
	/* Three from .3 and two from .4 fill the table (8): nothing evicted. */
	for (i = 5; i < 9; i++) {
		fds[i] = connect_from(h, i < 8 ? "127.0.0.3" : "127.0.0.4");
		pump(h, 20);
	}
	{
		int extra = connect_from(h, "127.0.0.4");

		pump(h, 50);
		assert_int_equal(httpd_stats(h)->evicted, 2);
		/* The scrape takes a slot from .2 or .3 (three each), never .4. */
		{
			int fd = connect_from(h, "127.0.0.1");

			roundtrip(h, fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0);
			close(fd);
		}
		assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
		assert_int_equal(httpd_stats(h)->evicted, 3);
		assert_false(closed_by_server(extra));
		assert_false(closed_by_server(fds[8]));
		close(extra);
	}
	/* One byte every 100 ms does not keep a connection past 400 ms. */
	deadline = now_ms() + 5000;
	do {
		open_n = 0;
		for (i = 2; i < 9; i++) {
			if (fds[i] < 0)
				continue;
			if (closed_by_server(fds[i])) {
				close(fds[i]);
				fds[i] = -1;
			} else {
				send(fds[i], "E", 1, MSG_NOSIGNAL);
				open_n++;
			}
		}
		pump(h, 100);
	} while (open_n && now_ms() < deadline);
	assert_int_equal(open_n, 0);
	assert_true(httpd_stats(h)->timed_out >= 4);
	httpd_stop(h);
	for (i = 0; i < 2; i++)
		close(fds[i]);
	sb_free(&r);
}

/*
 * A burst of reconnects accepted in one pass evicts faster than MHD closes
 * what was evicted; the scrape queued behind the burst is still admitted
 * (it waits in the listen queue, never refused with a reset).
 */
static void test_admission_burst(void **state)
{
	const struct httpd_opts o = {.max_conns = 8, .max_conns_per_addr = 2, .request_timeout_ms = 3000,
					 .idle_timeout_s = 30};
	struct ctx c = {0};
	struct strbuf r = STRBUF_INIT;
	char err[256] = "", from[16];
	struct httpd *h = httpd_start("127.0.0.1:0", &o, render, &c, err, sizeof(err));
	int fds[48], scrape, i;

	if (!h)
		fail_msg("httpd_start: %s", err);
	for (i = 0; i < 48; i++) {
		snprintf(from, sizeof(from), "127.0.0.%d", 2 + i % 4);
		fds[i] = connect_from(h, from);
	}
	scrape = connect_from(h, "127.0.0.1");
	roundtrip(h, scrape, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0);
	assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_int_equal(httpd_stats(h)->refused, 0);
	assert_true(httpd_stats(h)->evicted >= 40);
	close(scrape);
	for (i = 0; i < 48; i++)
		close(fds[i]);
	httpd_stop(h);
	sb_free(&r);
}

/* With basic_auth_users: 401 and close without the right credentials, 200 with them. */
static void test_basic_auth(void **state)
{
	struct crypt_data cd = {0};
	char yaml[256], err[256] = "";
	struct httpd_opts o = httpd_default_opts;
	struct ctx c = {0};
	struct strbuf r = STRBUF_INIT;
	struct httpd *h;

	snprintf(yaml, sizeof(yaml), "basic_auth_users:\n  prom: %s\n",
		 crypt_r("s3cret", "$2b$04$abcdefghijklmnopqrstuu", &cd));
	o.web = webconfig_parse(yaml, strlen(yaml), NULL, err, sizeof(err));
	if (!o.web)
		fail_msg("webconfig: %s", err);
	h = httpd_start("127.0.0.1:0", &o, render, &c, err, sizeof(err));
	if (!h)
		fail_msg("httpd_start: %s", err);
	assert_string_equal(httpd_scheme(h), "http");

	exchange(h, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 401 ", 13) == 0);
	assert_true(has_header(&r, "\r\nWWW-Authenticate: Basic realm=\"wsgitrace\""));
	/* A wrong password from another address: its bcrypt check is that
	 * address's one for this second, not the scraper's. */
	{
		int fd = connect_from(h, "127.0.0.2");

		roundtrip(h, fd, "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbTp3cm9uZw==\r\n\r\n", &r,
			  0);
		close(fd);
	}
	assert_true(strncmp(r.buf, "HTTP/1.1 401 ", 13) == 0);
	assert_int_equal(c.calls, 0);
	exchange(h, AF_INET,
		 "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbTpzM2NyZXQ=\r\n"
		 "Connection: close\r\n\r\n",
		 &r);
	assert_true(strncmp(r.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_int_equal(c.calls, 1);
	httpd_stop(h);
	webconfig_free(o.web);
	sb_free(&r);
}

static void parse_ok(const char *s, int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256] = "", a[64];

	if (httpd_parse_listen(s, &ss, &sl, err, sizeof(err)))
		fail_msg("\"%s\": %s", s, err);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a4->sin_addr, a, sizeof(a));
		assert_int_equal(ntohs(a4->sin_port), port);
		assert_int_equal(sl, sizeof(*a4));
	} else {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a6->sin6_addr, a, sizeof(a));
		assert_int_equal(ntohs(a6->sin6_port), port);
	}
	assert_string_equal(a, addr);
}

static void parse_bad(const char *s, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256] = "";

	assert_int_equal(httpd_parse_listen(s, &ss, &sl, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", s ? s : "(null)", err, want);
}

static void test_parse_listen(void **state)
{
	parse_ok("127.0.0.1:9100", AF_INET, "127.0.0.1", 9100);
	parse_ok("0.0.0.0:0", AF_INET, "0.0.0.0", 0);
	parse_ok("10.1.2.3:65535", AF_INET, "10.1.2.3", 65535);
	parse_ok("[::1]:9100", AF_INET6, "::1", 9100);
	parse_ok("[::]:80", AF_INET6, "::", 80);
	parse_ok("[2001:db8::5]:9100", AF_INET6, "2001:db8::5", 9100);
	parse_ok(":9100", AF_INET6, "::", 9100);

	parse_bad(NULL, "empty listen address");
	parse_bad("", "empty listen address");
	parse_bad("9100", "did you mean \":9100\"");
	parse_bad("127.0.0.1", "has no port");
	parse_bad("127.0.0.1:", "port \"\" is not a number from 0 to 65535");
	parse_bad("127.0.0.1:65536", "port \"65536\" is not a number from 0 to 65535");
	parse_bad("127.0.0.1:123456", "not a number from 0 to 65535");
	parse_bad("127.0.0.1:-1", "not a number");
	parse_bad("127.0.0.1:90x", "not a number");
	parse_bad(":+80", "not a number");
	parse_bad("localhost:9100", "\"localhost\" is not an IPv4 address (host names are not resolved");
	parse_bad("256.0.0.1:9100", "is not an IPv4 address");
	parse_bad("127.1:9100", "is not an IPv4 address");
	parse_bad("::1:9100", "in brackets");
	parse_bad("[::1]9100", "missing \":PORT\" after ']'");
	parse_bad("[::1:9100", "missing ']'");
	parse_bad("[]:9100", "empty IPv6 address");
	parse_bad("[127.0.0.1]:9100", "is not an IPv6 address");
	parse_bad("[::1]:99999", "not a number from 0 to 65535");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_ipv6_and_any),
		cmocka_unit_test(test_port_taken),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_admission_burst),
		cmocka_unit_test(test_basic_auth),
	};

	return cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
}
