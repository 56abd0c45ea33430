// SPDX-License-Identifier: MIT
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "expose.h"
#include "promtext.h"
#include "ratelog.h"
#include "webconfig.h"

/*
 * A connection's place in admission: NEW until its first request is
 * complete, BUSY while a request is being answered, IDLE between requests
 * of a kept-alive connection, EVICTED once shut down by us and waiting for
 * MHD to notice. Only BUSY connections are never evicted.
 */
enum conn_state { CONN_FREE, CONN_NEW, CONN_BUSY, CONN_IDLE, CONN_EVICTED };

struct conn {
	enum conn_state state;
	int fd;
	uint64_t since_ms; /* accepted (NEW) or last answer done (IDLE) */
	unsigned char addr[16]; /* client address, IPv4 as ::ffff:a.b.c.d */
};

struct httpd {
	struct MHD_Daemon *d;
	httpd_render_fn fn;
	void *ctx;
	int epfd;     /* ours: the listener and MHD's epoll fd */
	int mhd_epfd;
	int lfd;
	bool tls;
	unsigned port;
	char addr[INET6_ADDRSTRLEN + 16];
	struct httpd_opts o;
	/* o.max_conns live plus as many evicted that MHD has not closed yet. */
	struct conn *conns;
	size_t nconns;
	struct conn *adding; /* handed to MHD's connection notifier */
	struct httpd_stats st;
	struct ratelog log;
};

const struct httpd_opts httpd_default_opts = {
	.max_conns = HTTPD_MAX_CONNS,
	.max_conns_per_addr = HTTPD_MAX_CONNS_PER_ADDR,
	.request_timeout_ms = HTTPD_REQUEST_TIMEOUT_MS,
	.idle_timeout_s = HTTPD_IDLE_TIMEOUT_S,
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The most MHD asks the stream for at a time (a buffer this size comes with
 * each /metrics response; chunks are also bounded by the connection's
 * memory pool). The exposition of 10,000 series is ~36 MB: rendered whole,
 * it nearly doubled the daemon's peak RSS.
 */
#define HTTPD_BODY_BLOCK (64u * 1024)

static const char root_page[] = "<html><head><title>wsgitrace</title></head><body>\n"
				"<h1>wsgitrace</h1>\n"
				"<p>Request latency of gunicorn and uWSGI, traced with eBPF.</p>\n"
				"<p><a href=\"/metrics\">Metrics</a></p>\n"
				"</body></html>\n";

#define LISTEN_FORMS "use ADDR:PORT, [IPV6]:PORT or :PORT, e.g. 127.0.0.1:9100, [::1]:9100 or :9100"

int httpd_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
	const char *colon, *port, *p;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	size_t hl;
	unsigned long v = 0;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s) {
		err_printf(err, errlen, "empty listen address: " LISTEN_FORMS);
		return -1;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb) {
			err_printf(err, errlen, "listen address \"%s\": missing ']' after the IPv6 address; " LISTEN_FORMS,
			       s);
			return -1;
		}
		if (rb[1] != ':') {
			err_printf(err, errlen, "listen address \"%s\": missing \":PORT\" after ']'; " LISTEN_FORMS, s);
			return -1;
		}
		hl = (size_t)(rb - s - 1);
		p = s + 1;
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			int digits = s[strspn(s, "0123456789")] == '\0';

			if (digits)
				err_printf(err, errlen, "listen address \"%s\" has no ':' before the port: did you mean \":%s\"?",
				       s, s);
			else
				err_printf(err, errlen, "listen address \"%s\" has no port; " LISTEN_FORMS, s);
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s))) {
			err_printf(err, errlen, "listen address \"%s\": write an IPv6 address in brackets, e.g. [::1]:9100",
			       s);
			return -1;
		}
		hl = (size_t)(colon - s);
		p = s;
		port = colon + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    (v = strtoul(port, NULL, 10)) > 65535) {
		err_printf(err, errlen, "listen address \"%s\": port \"%s\" is not a number from 0 to 65535", s, port);
		return -1;
	}
	if (hl >= sizeof(host)) {
		err_printf(err, errlen, "listen address \"%s\": the address part is too long", s);
		return -1;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (hl == 0) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (s[0] == '[') {
			err_printf(err, errlen, "listen address \"%s\": empty IPv6 address between the brackets", s);
			return -1;
		}
		/* ":PORT": every address; httpd_start() falls back to IPv4 only
		 * when the host has no IPv6. */
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons((uint16_t)v);
		*sslen = sizeof(*a6);
		return 0;
	}
	if (s[0] != '[') {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			err_printf(err, errlen,
			       "listen address \"%s\": \"%s\" is not an IPv4 address (host names are not resolved; "
			       "use e.g. 127.0.0.1, or [::1] for IPv6)",
			       s, host);
			return -1;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)v);
		*sslen = sizeof(*a4);
		return 0;
	} else {
		/* getaddrinfo for the numeric form, since it also takes a
		 * link-local zone: [fe80::1%eth0]:9100. */
		struct addrinfo hints = {.ai_family = AF_INET6, .ai_flags = AI_NUMERICHOST}, *res = NULL;

		if (getaddrinfo(host, NULL, &hints, &res) || !res || res->ai_addrlen > sizeof(*ss)) {
			if (res)
				freeaddrinfo(res);
			err_printf(err, errlen, "listen address \"%s\": \"%s\" is not an IPv6 address", s, host);
			return -1;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*sslen = res->ai_addrlen;
		freeaddrinfo(res);
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)v);
		return 0;
	}
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len, unsigned *port)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a4->sin_addr, a, sizeof(a));
		*port = ntohs(a4->sin_port);
		snprintf(buf, len, "%s:%u", a, *port);
	} else {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a6->sin6_addr, a, sizeof(a));
		*port = ntohs(a6->sin6_port);
		snprintf(buf, len, "[%s]:%u", a, *port);
	}
}

static int open_listener(struct sockaddr_storage *ss, socklen_t sslen, const char *spec, char *err, size_t errlen)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
	int any6 = ss->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) && spec[0] == ':';
	int fd, one = 1, zero = 0, e;
	char shown[INET6_ADDRSTRLEN + 16];
	unsigned port;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && any6 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
		/* ":PORT" on a host without IPv6. */
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6->sin6_port,
					 .sin_addr.s_addr = htonl(INADDR_ANY)};

		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &a4, sizeof(a4));
		sslen = sizeof(a4);
		any6 = 0;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	fmt_addr(ss, shown, sizeof(shown), &port);
	if (fd < 0) {
		err_printf(err, errlen, "cannot listen on %s: socket: %s", shown, strerror(errno));
		return -1;
	}
	/* Restarting the daemon must not wait for old TIME_WAIT connections;
	 * a live listener on the port still makes bind() fail. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (any6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)ss, sslen) || listen(fd, 64)) {
		e = errno;
		close(fd);
		if (e == EADDRINUSE)
			err_printf(err, errlen,
			       "cannot listen on %s: the address is already in use (another wsgitrace or "
			       "exporter?); stop that process or choose another port",
			       shown);
		else if (e == EACCES)
			err_printf(err, errlen,
			       "cannot listen on %s: permission denied; ports below 1024 need root or "
			       "CAP_NET_BIND_SERVICE, choose a port such as 9100 and above",
			       shown);
		else if (e == EADDRNOTAVAIL)
			err_printf(err, errlen,
			       "cannot listen on %s: no local interface has this address; use one of the "
			       "host's addresses, 127.0.0.1, or :PORT for all",
			       shown);
		else
			err_printf(err, errlen, "cannot listen on %s: %s", shown, strerror(e));
		return -1;
	}
	return fd;
}

/*
 * Most of what MHD reports is caused by clients (resets, malformed
 * requests), so anyone who reaches the port could fill the log: rate-limited.
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *h = cls;

	/*
	 * libmicrohttpd 0.9.75 says this even when the logger is the first
	 * option (it counts the flags argument); it is not an error.
	 */
	if (strstr(fmt, "EXTERNAL_LOGGER is not the first"))
		return;
	ratelog_vprintf(&h->log, mono_ms(), "http: ", fmt, ap);
}

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static void evict(struct httpd *h, struct conn *k)
{
	/* MHD has no call to close one connection; the shutdown wakes its
	 * epoll set, and it closes the socket on its next read. */
	shutdown(k->fd, SHUT_RDWR);
	k->state = CONN_EVICTED;
}

static int live(const struct conn *k)
{
	return k->state == CONN_NEW || k->state == CONN_BUSY || k->state == CONN_IDLE;
}

/*
 * The connection to give up for a new one from addr: over the per-address
 * limit, that address's own oldest connection that is not being answered;
 * with the table full, the same from the address that holds the most. One
 * client can thus only ever displace itself until it holds more than anyone
 * else, and a scraper with one connection always gets its slot. NULL: admit
 * without evicting; *refuse set: no slot can be freed.
 */
static struct conn *pick_victim(struct httpd *h, const unsigned char addr[16], int *refuse)
{
	const unsigned char *from = NULL;
	struct conn *v = NULL;
	size_t i, j, total = 0, same = 0, most = 0;

	*refuse = 0;
	for (i = 0; i < h->nconns; i++) {
		if (!live(&h->conns[i]))
			continue;
		total++;
		if (!memcmp(h->conns[i].addr, addr, 16))
			same++;
	}
	if (same >= h->o.max_conns_per_addr) {
		from = addr;
	} else if (total >= h->o.max_conns) {
		/* Quadratic in a table of a few dozen, once per full accept. */
		for (i = 0; i < h->nconns; i++) {
			size_t n = 0;

			if (!live(&h->conns[i]) || h->conns[i].state == CONN_BUSY)
				continue;
			for (j = 0; j < h->nconns; j++)
				n += live(&h->conns[j]) && !memcmp(h->conns[j].addr, h->conns[i].addr, 16);
			if (n > most) {
				most = n;
				from = h->conns[i].addr;
			}
		}
	} else {
		return NULL;
	}
	for (i = 0; from && i < h->nconns; i++) {
		struct conn *k = &h->conns[i];

		if ((k->state == CONN_NEW || k->state == CONN_IDLE) && !memcmp(k->addr, from, 16) &&
		    (!v || k->since_ms < v->since_ms))
			v = k;
	}
	if (!v)
		*refuse = 1;
	return v;
}

static struct conn *free_slot(struct httpd *h)
{
	size_t i;

	for (i = 0; i < h->nconns; i++)
		if (h->conns[i].state == CONN_FREE)
			return &h->conns[i];
	return NULL;
}

static void admit(struct httpd *h, int fd, struct sockaddr_storage *ss, socklen_t sl)
{
	unsigned char key[16];
	struct conn *v, *k;
	int refuse;

	addr_key(ss, key);
	v = pick_victim(h, key, &refuse);
	if (refuse || !(k = free_slot(h))) {
		/* Every slot is answering a request (or MHD has yet to close
		 * the evicted ones): the client retries. */
		h->st.refused++;
		close(fd);
		return;
	}
	if (v) {
		evict(h, v);
		h->st.evicted++;
	}
	k->state = CONN_NEW;
	k->fd = fd;
	k->since_ms = mono_ms();
	memcpy(k->addr, key, 16);
	h->adding = k;
	/* MHD closes fd itself when it fails. */
	if (MHD_add_connection(h->d, fd, (struct sockaddr *)ss, sl) != MHD_YES || h->adding) {
		k->state = CONN_FREE;
		h->adding = NULL;
	}
}

/*
 * Every slot held, live or evicted: let MHD close what was evicted before
 * accepting more. A burst of reconnects evicts faster than MHD closes, and
 * what arrives meanwhile (a scrape among them) waits in the listen queue
 * rather than being refused.
 */
static bool slot_ready(struct httpd *h)
{
	if (free_slot(h))
		return true;
	MHD_run(h->d);
	return free_slot(h) != NULL;
}

/*
 * Whether a connection waits on the listener. httpd_run() runs on every
 * wakeup of the main loop, and accept4() allocates a socket and its inode
 * before it finds the queue empty: a look at our epoll set costs a fraction
 * of that.
 */
static bool listener_ready(struct httpd *h)
{
	struct epoll_event ev[2];
	int i, n = epoll_wait(h->epfd, ev, 2, 0);

	if (n < 0)
		return true; /* accept4() will tell */
	for (i = 0; i < n; i++)
		if (ev[i].data.fd == h->lfd)
			return true;
	return false;
}

static void accept_all(struct httpd *h)
{
	int i;

	if (!listener_ready(h))
		return;
	/* Bounded, so a connect flood cannot hold the main loop. */
	for (i = 0; i < 256 && slot_ready(h); i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(h->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		h->st.accepted++;
		admit(h, fd, &ss, sl);
	}
}

/*
 * A client that has not sent a whole request by now never will in
 * good faith: MHD's own timeout restarts with every byte, which a client
 * sending one byte a second never reaches.
 */
static void expire_new(struct httpd *h, uint64_t now)
{
	size_t i;

	for (i = 0; i < h->nconns; i++) {
		struct conn *k = &h->conns[i];

		if (k->state == CONN_NEW && now - k->since_ms >= h->o.request_timeout_ms) {
			evict(h, k);
			h->st.timed_out++;
		}
	}
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = h->adding;
		h->adding = NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		((struct conn *)*socket_context)->state = CONN_FREE;
	}
}

static void notify_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct conn *k = conn_of(c);

	if (k && k->state == CONN_BUSY) {
		k->state = CONN_IDLE;
		k->since_ms = mono_ms();
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, struct MHD_Response *r, const char *ctype)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Response *static_text(const char *s)
{
	return MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_PERSISTENT);
}

/*
 * MHD asks for the body in order, from one connection (a response is made
 * per request), so pos is where the stream already is.
 */
static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t n = expose_stream_read(cls, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD drops the connection: a truncated body */
	return n ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_body(void *cls)
{
	expose_stream_free(cls);
}

/* Never called: a HEAD response has no body. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/*
 * HEAD: libmicrohttpd 0.9.75 sends the last chunk ("0\r\n\r\n") after the
 * headers of a chunked HEAD response, which a keep-alive client then reads
 * as the start of the next answer. So measure the body (rendered, not kept)
 * and answer with the Content-Length a GET would have had. NULL, with x
 * freed, on failure.
 */
static struct MHD_Response *head_response(struct expose_stream *x)
{
	char buf[16384];
	uint64_t len = 0;
	ssize_t n;

	while ((n = expose_stream_read(x, buf, sizeof(buf))) > 0)
		len += (uint64_t)n;
	expose_stream_free(x);
	if (n < 0)
		return NULL;
	return MHD_create_response_from_callback(len, 256, no_body, NULL, NULL);
}

static enum webconfig_auth authorized(struct httpd *h, struct MHD_Connection *c)
{
	static const unsigned char unknown[16];
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	struct conn *k = conn_of(c);
	enum webconfig_auth a = user && pass ? webconfig_check(h->o.web, k ? k->addr : unknown, user, pass, mono_ms())
					     : WEBCONFIG_DENIED;

	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return a;
}

/*
 * 401 (or 429 when the second's password checks are spent) and close: a
 * client guessing passwords pays a new connection, and admission, per guess.
 */
static enum MHD_Result deny(struct MHD_Connection *c, enum webconfig_auth a)
{
	struct MHD_Response *r =
		static_text(a == WEBCONFIG_BUSY ? "Too many password checks: retry in a second.\n"
						: "Unauthorized: /metrics needs a user name and password.\n");
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (a == WEBCONFIG_BUSY) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		ret = MHD_queue_response(c, MHD_HTTP_TOO_MANY_REQUESTS, r);
	} else {
		ret = MHD_queue_basic_auth_fail_response(c, "wsgitrace", r);
	}
	MHD_destroy_response(r);
	return ret;
}

/* Liveness and readiness for an orchestrator: say nothing but the state. */
static enum MHD_Result health(struct httpd *h, struct MHD_Connection *c, void **con_cls)
{
	char why[200], text[256];
	int n;

	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	if (h->o.health(h->o.health_ctx, why, sizeof(why)) == 0)
		return reply(c, MHD_HTTP_OK, static_text("ok\n"), "text/plain; charset=utf-8");
	n = snprintf(text, sizeof(text), "not ready: %s\n", why);
	return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		     MHD_create_response_from_buffer((size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1, text,
						     MHD_RESPMEM_MUST_COPY),
		     "text/plain; charset=utf-8");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_data_size,
			       void **con_cls)
{
	struct httpd *h = cls;
	struct expose_stream *x;
	struct MHD_Response *r;
	struct conn *k = conn_of(c);
	enum expfmt fmt;

	/* The whole request head is in: no longer a connection to expire. */
	if (k && (k->state == CONN_NEW || k->state == CONN_IDLE))
		k->state = CONN_BUSY;
	if (strcmp(url, "/healthz") == 0 && h->o.health)
		return health(h, c, con_cls);
	/* Checked once per request, on the call that sees its whole head. */
	if (!*con_cls && h->o.web && webconfig_has_users(h->o.web)) {
		enum webconfig_auth a = authorized(h, c);

		if (a != WEBCONFIG_OK)
			return deny(c, a);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, static_text("Method not allowed: use GET.\n"),
			     "text/plain; charset=utf-8");
	/* Answer from the second call: MHD 0.9.75 closes the connection
	 * after a response queued from the first (before it knows the request
	 * is complete), so no scrape could keep its connection alive. */
	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	if (strcmp(url, "/") == 0)
		return reply(c, MHD_HTTP_OK, static_text(root_page), "text/html; charset=utf-8");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, static_text("Not found: metrics are at /metrics.\n"),
			     "text/plain; charset=utf-8");
	fmt = expfmt_negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	x = h->fn(h->ctx, fmt);
	if (!x)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     static_text("Could not render the metrics (out of memory?).\n"),
			     "text/plain; charset=utf-8");
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return reply(c, MHD_HTTP_OK, head_response(x), expfmt_content_type(fmt));
	/* Size unknown: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
	 * MHD calls free_body() when the response is done or abandoned. */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTPD_BODY_BLOCK, read_body, x, free_body);
	if (!r)
		expose_stream_free(x);
	return reply(c, MHD_HTTP_OK, r, expfmt_content_type(fmt));
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct httpd *httpd_start(const char *listen, const struct httpd_opts *o, httpd_render_fn fn, void *ctx,
			  char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct httpd *h;
	const union MHD_DaemonInfo *info;

	if (httpd_parse_listen(listen, &ss, &sslen, err, errlen))
		return NULL;
	if (!o)
		o = &httpd_default_opts;
	if (!o->max_conns || !o->max_conns_per_addr || !o->request_timeout_ms || !o->idle_timeout_s) {
		err_printf(err, errlen, "HTTP connection limits and timeouts must be at least 1");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		err_printf(err, errlen, "out of memory");
		return NULL;
	}
	h->fn = fn;
	h->ctx = ctx;
	h->o = *o;
	h->epfd = h->lfd = -1;
	h->nconns = 2 * (size_t)o->max_conns;
	h->conns = calloc(h->nconns, sizeof(*h->conns));
	if (!h->conns) {
		err_printf(err, errlen, "out of memory");
		goto fail;
	}
	ratelog_init(&h->log);
	h->lfd = open_listener(&ss, sslen, listen, err, errlen);
	if (h->lfd < 0)
		goto fail;
	sslen = sizeof(ss);
	if (getsockname(h->lfd, (struct sockaddr *)&ss, &sslen) == 0)
		fmt_addr(&ss, h->addr, sizeof(h->addr), &h->port);
	h->tls = o->web && webconfig_cert_pem(o->web);
	if (h->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		err_printf(err, errlen, "cannot serve HTTPS: this libmicrohttpd was built without TLS (GnuTLS)");
		goto fail;
	}
	/*
	 * MHD_USE_EPOLL without an internal thread: MHD keeps its sockets in
	 * one epoll set and only works when httpd_run() calls MHD_run(). We
	 * accept ourselves (MHD_add_connection) to choose whom to admit and
	 * whom to evict; MHD's own limit is only a backstop. The TLS options
	 * come last so that plain HTTP passes MHD_OPTION_END in their place.
	 */
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
					(h->tls ? MHD_USE_TLS : 0),
				0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
				h, /* MHD wants it first */
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->idle_timeout_s,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->nconns + 1,
				MHD_OPTION_NOTIFY_CONNECTION, notify_conn, h, MHD_OPTION_NOTIFY_COMPLETED,
				notify_done, h, h->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				h->tls ? webconfig_cert_pem(o->web) : NULL, MHD_OPTION_HTTPS_MEM_KEY,
				h->tls ? webconfig_key_pem(o->web) : NULL, MHD_OPTION_END);
	if (!h->d) {
		if (h->tls)
			err_printf(err, errlen,
				   "cannot serve HTTPS on %s: libmicrohttpd rejected the certificate or key of "
				   "tls_server_config (PEM files, a key that matches the certificate?)",
				   h->addr);
		else
			err_printf(err, errlen, "cannot serve HTTP on %s: libmicrohttpd failed to start (epoll support?)",
				   h->addr);
		goto fail;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err_printf(err, errlen, "cannot serve HTTP on %s: libmicrohttpd has no epoll fd", h->addr);
		goto fail;
	}
	h->mhd_epfd = info->epoll_fd;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0 || epoll_add(h->epfd, h->lfd) || epoll_add(h->epfd, h->mhd_epfd)) {
		err_printf(err, errlen, "cannot serve HTTP on %s: epoll: %s", h->addr, strerror(errno));
		goto fail;
	}
	return h;
fail:
	httpd_stop(h);
	return NULL;
}

int httpd_fd(const struct httpd *h)
{
	return h->epfd;
}

int httpd_timeout_ms(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	uint64_t now = mono_ms(), due = UINT64_MAX;
	size_t i;

	for (i = 0; i < h->nconns; i++) {
		const struct conn *k = &h->conns[i];

		if (k->state == CONN_NEW && k->since_ms + h->o.request_timeout_ms < due)
			due = k->since_ms + h->o.request_timeout_ms;
	}
	if (MHD_get_timeout(h->d, &t) == MHD_YES && now + t < due)
		due = now + t;
	if (due == UINT64_MAX)
		return -1;
	return due <= now ? 0 : due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

void httpd_run(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	int i;

	accept_all(h);
	expire_new(h, mono_ms());
	/* MHD's epoll set is edge triggered: when it says work is already
	 * pending (timeout 0), do it now rather than wait for an edge that
	 * will not come. Bounded, so a busy client cannot starve the loop. */
	for (i = 0; i < 8; i++) {
		MHD_run(h->d);
		if (MHD_get_timeout(h->d, &t) != MHD_YES || t > 0)
			break;
	}
}

const struct httpd_stats *httpd_stats(struct httpd *h)
{
	h->st.log_suppressed = h->log.suppressed_total;
	return &h->st;
}

#define ROW(name, field, help) PROMTEXT_U64(name, PROMTEXT_COUNTER, struct httpd_stats, field, help)
static const struct promtext_metric metrics[] = {
	ROW("wsgitrace_metrics_connections_evicted_total", evicted,
	    "Connections to /metrics closed to admit a newer one (per-address or overall limit)."),
	ROW("wsgitrace_metrics_connections_refused_total", refused,
	    "Connections to /metrics refused because every slot was answering a request."),
	ROW("wsgitrace_metrics_connections_timed_out_total", timed_out,
	    "Connections to /metrics closed for not sending a whole request in time."),
	ROW("wsgitrace_log_lines_suppressed_total", log_suppressed,
	    "Log lines caused by remote peers that were not written because of the log rate limit."),
};
#undef ROW
const struct promtext_table httpd_metrics = PROMTEXT_TABLE(metrics);

unsigned httpd_port(const struct httpd *h)
{
	return h->port;
}

const char *httpd_scheme(const struct httpd *h)
{
	return h->tls ? "https" : "http";
}

const char *httpd_address(const struct httpd *h)
{
	return h->addr;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d); /* streams in flight go to free_body() */
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->lfd >= 0)
		close(h->lfd);
	ratelog_flush(&h->log, mono_ms());
	free(h->conns);
	free(h);
}
