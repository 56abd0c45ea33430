// SPDX-License-Identifier: MIT
/*
 * Connection tracker: per (sk, ino) stream reassembly of requests and
 * responses from the kernel's per-call records.
 *
 * Each connection has a receive side (rx: request heads and bodies), a send
 * side (tx: response heads and bodies) and between them a FIFO of requests
 * waiting for their response. Body bytes are counted, never looked at, so
 * records whose data was not captured still advance the framing; only heads
 * and chunk-size lines need captured bytes. When those were not captured,
 * the connection falls back to alternation: a response runs until the next
 * request-looking read after a send, or until the connection ends.
 *
 * Memory: an idle connection is one struct conn and one table slot. Head
 * buffers exist only while a head spans several records, the request queue
 * only while requests are pending.
 */
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "http_parse.h"
#include "uwsgi_parse.h"

/* Head bytes kept across records; larger heads are treated as not captured. */
#define HEAD_MAX 8192

enum rx_state {
	RX_HEAD = 0, /* next bytes start a request head */
	RX_LEN,      /* Content-Length body: rxb.remaining bytes left */
	RX_CHUNKED,  /* chunked body: rxb decodes */
	RX_SYNC,     /* framing lost or bad head: wait for a request-looking read after a send */
};

enum tx_state {
	TX_HEAD = 0, /* next bytes start the front request's response head */
	TX_LEN,
	TX_CHUNKED,
	TX_CLOSE, /* body runs to the close */
	TX_LOST,  /* framing lost: every send belongs to the front request */
};

struct link {
	struct link *prev, *next;
};

struct pend {
	uint64_t start_ns;
	uint64_t last_send_ns;
	uint64_t req_bytes;
	uint64_t resp_bytes;
	const char *method;
	char *path;
	uint32_t path_len;
	uint32_t tgid;
	uint32_t tid;
	uint32_t flags; /* WT_RQ_* */
	int status;     /* final status, 0 until seen */
	uint8_t proto;
	uint8_t no_body;    /* HEAD: the response has no body */
	uint8_t is_connect; /* CONNECT: a 2xx turns the connection into a tunnel */
};

struct conn {
	uint64_t sk, ino;
	uint64_t last_ts;      /* last activity */
	uint64_t last_send_ts; /* last send, any request */
	struct link lru;       /* all connections, least recently active first */
	struct link grace;     /* unix connections with a response the close would end */
	struct link heldl;     /* connections holding a response for the ACK, oldest first */
	struct http_chunked rxb, txb;
	struct pend *q; /* ring of qcap, qn used from qhead */
	uint32_t seq_head; /* sequence number of q[qhead] */
	uint32_t rx_seq;   /* request whose body is being read */
	uint16_t qhead, qn, qcap;
	uint8_t rx, tx;
	uint8_t is_unix;
	uint8_t upgraded;  /* 101 or CONNECT: no longer HTTP */
	uint8_t sent;      /* a send came after the last request start */
	uint8_t in_grace;
	uint8_t closing;   /* closed with bytes unacked: waiting for WT_EV_ACKED */
	uint32_t tgid;
	/*
	 * A completed request whose last send left bytes unacknowledged: if the
	 * close comes next, still unacknowledged, the client's ACK ends it.
	 */
	struct pend *held;
	uint64_t held_end; /* its end if no ACK comes */
	/* Request head in progress across records. */
	char *hbuf;
	uint32_t hlen;
	uint32_t htid, htgid;
	uint64_t hstart_ts;
	uint64_t hbytes;
	/* Response head in progress across records. */
	char *tbuf;
	uint32_t tlen;
};

struct conntrack {
	struct conntrack_opts o;
	wt_request_cb cb;
	void *ctx;
	struct conn **tab;
	size_t mask;
	struct link lru;
	struct link grace;
	struct link held;
	struct conntrack_stats st;
	/*
	 * Connections withdrawn (RELAYED) before their first record arrived:
	 * the router's CPU can report the match while the worker's CPU is still
	 * writing that record. A few recent ones are enough.
	 */
	struct {
		uint64_t sk, ino;
	} withdrawn[16];
	unsigned withdrawn_next;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void list_init(struct link *l)
{
	l->prev = l->next = l;
}

static void list_del(struct link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static void list_add_tail(struct link *head, struct link *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* sk is a kernel pointer: its low bits are alignment, so mix them all. */
static size_t hash_sk(uint64_t sk)
{
	sk ^= sk >> 33;
	sk *= 0xff51afd7ed558ccdULL;
	sk ^= sk >> 33;
	sk *= 0xc4ceb9fe1a85ec53ULL;
	sk ^= sk >> 33;
	return (size_t)sk;
}

static size_t tab_find(const struct conntrack *ct, uint64_t sk)
{
	size_t i = hash_sk(sk) & ct->mask;

	while (ct->tab[i]) {
		if (ct->tab[i]->sk == sk)
			return i;
		i = (i + 1) & ct->mask;
	}
	return (size_t)-1;
}

static void tab_insert(struct conntrack *ct, struct conn *c)
{
	size_t i = hash_sk(c->sk) & ct->mask;

	while (ct->tab[i])
		i = (i + 1) & ct->mask;
	ct->tab[i] = c;
}

/*
 * Keep the load factor at most 1/2 by doubling. The table starts small and
 * grows with the connections actually open: a table sized for --max-conns
 * up front (4 MiB by default) turns every lookup into a cache miss, which is
 * the daemon's main cost per record with a handful of busy connections.
 */
static int tab_reserve(struct conntrack *ct, size_t n)
{
	size_t size = ct->mask + 1, nsize = size;
	struct conn **ntab, **old = ct->tab;

	while (n * 2 > nsize)
		nsize *= 2;
	if (nsize == size)
		return 0;
	ntab = calloc(nsize, sizeof(*ntab));
	if (!ntab)
		return -1;
	ct->tab = ntab;
	ct->mask = nsize - 1;
	for (size_t i = 0; i < size; i++)
		if (old[i])
			tab_insert(ct, old[i]);
	free(old);
	return 0;
}

/* Linear probing delete by backward shift: no tombstones to age the table. */
static void tab_remove(struct conntrack *ct, size_t i)
{
	size_t j = i;

	ct->tab[i] = NULL;
	for (;;) {
		size_t k;

		j = (j + 1) & ct->mask;
		if (!ct->tab[j])
			return;
		k = hash_sk(ct->tab[j]->sk) & ct->mask;
		/* Leave the entry if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		ct->tab[i] = ct->tab[j];
		ct->tab[j] = NULL;
		i = j;
	}
}

static struct pend *q_at(struct conn *c, uint32_t i)
{
	return &c->q[(c->qhead + i) % c->qcap];
}

static struct pend *front(struct conn *c)
{
	return c->qn ? q_at(c, 0) : NULL;
}

static struct pend *rx_req(struct conn *c)
{
	uint32_t i = c->rx_seq - c->seq_head;

	return i < c->qn ? q_at(c, i) : NULL;
}

static void q_pop(struct conn *c)
{
	struct pend *p = front(c);

	if (!p)
		return;
	free(p->path);
	c->qhead = (uint16_t)((c->qhead + 1) % c->qcap);
	c->qn--;
	c->seq_head++;
	if (c->qn == 0) {
		/* An idle keep-alive connection holds no queue. */
		free(c->q);
		c->q = NULL;
		c->qcap = 0;
		c->qhead = 0;
		c->tx = TX_HEAD;
	}
}

static void mark_lost(struct conntrack *ct, struct pend *p)
{
	if (p && !(p->flags & WT_RQ_FRAMING_LOST)) {
		p->flags |= WT_RQ_FRAMING_LOST;
		ct->st.framing_lost++;
	}
}

static void emit(struct conntrack *ct, struct conn *c, struct pend *p, uint64_t end_ns, uint32_t flags)
{
	struct wt_request rq = {
		.start_ns = p->start_ns,
		.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns,
		.req_bytes = p->req_bytes,
		.resp_bytes = p->resp_bytes,
		.sk = c->sk,
		.tgid = p->tgid,
		.tid = p->tid,
		.status = p->status,
		.proto = (enum wt_proto)p->proto,
		.flags = p->flags | flags,
		.method = p->method,
		.path = p->path,
		.path_len = p->path_len,
	};

	ct->st.requests++;
	if (ct->cb)
		ct->cb(&rq, ct->ctx);
}

static void free_tbuf(struct conn *c)
{
	free(c->tbuf);
	c->tbuf = NULL;
	c->tlen = 0;
}

static void free_hbuf(struct conn *c)
{
	free(c->hbuf);
	c->hbuf = NULL;
	c->hlen = 0;
	c->hbytes = 0;
}

static void flush_held(struct conntrack *ct, struct conn *c, uint64_t end_ns)
{
	if (!c->held)
		return;
	emit(ct, c, c->held, end_ns ? end_ns : c->held_end, 0);
	free(c->held->path);
	free(c->held);
	c->held = NULL;
	c->closing = 0;
	list_del(&c->heldl);
}

/* Take the front request out of the queue to wait for the client's ACK. */
static void hold_front(struct conntrack *ct, struct conn *c, uint64_t end_ns, uint32_t flags)
{
	struct pend *f = front(c), *h;

	flush_held(ct, c, 0);
	h = malloc(sizeof(*h));
	if (!h) {
		emit(ct, c, f, end_ns, flags);
		q_pop(c);
		return;
	}
	*h = *f;
	h->flags |= flags;
	f->path = NULL;
	q_pop(c);
	c->tx = TX_HEAD;
	c->held = h;
	c->held_end = end_ns;
	list_add_tail(&ct->held, &c->heldl);
}

static void complete_front(struct conntrack *ct, struct conn *c, uint64_t end_ns, uint32_t unacked)
{
	/*
	 * Bytes still in the socket buffer of a TCP connection: if the server
	 * closes next, the client's ACK is the response's real end.
	 */
	if (unacked && !c->is_unix) {
		hold_front(ct, c, end_ns, 0);
	} else {
		emit(ct, c, front(c), end_ns, 0);
		q_pop(c);
	}
	c->tx = TX_HEAD;
	free_tbuf(c);
}

/* Drop every queued request, counting each in *stat unless already lost. */
static void drop_all(struct conntrack *ct, struct conn *c, uint64_t *stat)
{
	while (c->qn) {
		struct pend *p = front(c);

		if (!(stat == &ct->st.framing_lost && (p->flags & WT_RQ_FRAMING_LOST)))
			(*stat)++;
		q_pop(c);
	}
	c->tx = TX_HEAD;
	free_tbuf(c);
}

/*
 * The response of the front request has no end of its own (close-delimited)
 * or its end was not seen (framing lost): end it here. The requests queued
 * behind it cannot be told apart from it any more.
 */
static void finish_unframed(struct conntrack *ct, struct conn *c, uint64_t close_ns)
{
	struct pend *f = front(c);

	if (!f || (c->tx != TX_CLOSE && c->tx != TX_LOST))
		return;
	if (c->tx == TX_CLOSE) {
		emit(ct, c, f, close_ns, WT_RQ_CLOSE_DELIMITED);
		q_pop(c);
		drop_all(ct, c, &ct->st.unanswered);
		return;
	}
	/* Without a final status there is no label to give. */
	if (f->status >= 200 && f->resp_bytes > 0)
		emit(ct, c, f, f->last_send_ns, 0);
	q_pop(c);
	drop_all(ct, c, &ct->st.framing_lost);
}

static void grace_update(struct conntrack *ct, struct conn *c)
{
	int want = c->is_unix && c->qn && (c->tx == TX_CLOSE || c->tx == TX_LOST);

	/* Re-adding moves it to the tail: the list stays in activity order. */
	if (c->in_grace)
		list_del(&c->grace);
	c->in_grace = (uint8_t)want;
	if (want)
		list_add_tail(&ct->grace, &c->grace);
}

static void end_conn(struct conntrack *ct, struct conn *c, uint64_t close_ns)
{
	size_t i = tab_find(ct, c->sk);

	flush_held(ct, c, 0);
	finish_unframed(ct, c, close_ns);
	drop_all(ct, c, &ct->st.unanswered);
	if (i != (size_t)-1 && ct->tab[i] == c)
		tab_remove(ct, i);
	list_del(&c->lru);
	if (c->in_grace)
		list_del(&c->grace);
	free_hbuf(c);
	free_tbuf(c);
	free(c);
	ct->st.conns_active--;
}

/*
 * The connection's peer is a traced relay (uWSGI's --http router), which
 * counts its requests where they entered: forget this side, emit nothing.
 */
static void forget_conn(struct conntrack *ct, struct conn *c)
{
	uint64_t relayed = 0;

	if (c->held) {
		free(c->held->path);
		free(c->held);
		c->held = NULL;
		list_del(&c->heldl);
	}
	c->closing = 0;
	drop_all(ct, c, &relayed);
	free_hbuf(c);
	ct->st.relayed += relayed;
	end_conn(ct, c, c->last_ts);
}

static struct pend *q_push(struct conntrack *ct, struct conn *c)
{
	struct pend *p;

	if (c->qn >= ct->o.max_pending) {
		/*
		 * Responses match requests by position only: dropping one request
		 * would shift every later match, so drop them all and resync.
		 */
		ct->st.pending_overflow += (uint64_t)c->qn + 1;
		while (c->qn)
			q_pop(c);
		free_tbuf(c);
		c->tx = TX_HEAD;
		return NULL;
	}
	if (c->qn == c->qcap) {
		uint32_t ncap = c->qcap ? (uint32_t)c->qcap * 2 : 2;
		struct pend *nq;
		uint32_t i;

		if (ncap > ct->o.max_pending)
			ncap = ct->o.max_pending;
		nq = malloc(ncap * sizeof(*nq));
		if (!nq) {
			ct->st.pending_overflow++;
			return NULL;
		}
		for (i = 0; i < c->qn; i++)
			nq[i] = *q_at(c, i);
		free(c->q);
		c->q = nq;
		c->qcap = (uint16_t)ncap;
		c->qhead = 0;
	}
	p = &c->q[(c->qhead + c->qn) % c->qcap];
	memset(p, 0, sizeof(*p));
	c->qn++;
	c->rx_seq = c->seq_head + c->qn - 1;
	return p;
}

/* Queue a request whose head began at hstart_ts; NULL if the queue overflowed. */
static struct pend *new_request(struct conntrack *ct, struct conn *c, enum wt_proto proto,
				const char *method, const char *path, size_t plen, uint64_t req_bytes)
{
	struct pend *p = q_push(ct, c);

	if (!p)
		return NULL;
	p->start_ns = c->hstart_ts;
	p->tgid = c->htgid;
	p->tid = c->htid;
	p->proto = (uint8_t)proto;
	p->method = method ? method : "_OTHER";
	p->req_bytes = req_bytes;
	if (plen > WT_PATH_MAX) {
		plen = WT_PATH_MAX;
		p->flags |= WT_RQ_PATH_TRUNCATED;
	}
	p->path = malloc(plen ? plen : 1);
	if (p->path) {
		memcpy(p->path, path, plen);
		p->path_len = (uint32_t)plen;
	}
	p->no_body = method && strcmp(method, "HEAD") == 0;
	p->is_connect = method && strcmp(method, "CONNECT") == 0;
	return p;
}

static void add_req_bytes(struct conn *c, uint64_t n)
{
	struct pend *p = rx_req(c);

	if (p)
		p->req_bytes += n;
}

static void enter_sync(struct conn *c)
{
	c->rx = RX_SYNC;
	c->sent = 0; /* resync only at a read that follows a send after this point */
	free_hbuf(c);
}

static int looks_like_start(const uint8_t *d, uint64_t cap)
{
	if (cap == 0)
		return 0;
	if (d[0] == 0)
		return uwsgi_looks_like_request((const char *)d, cap);
	return http_looks_like_request((const char *)d, cap);
}

/*
 * One chunked-body step over record bytes [*pos, len), of which [0, cap) were
 * captured. 1: body ended at *pos; 0: all consumed, body goes on; -1: a gap
 * hid framing; -2: bad framing.
 */
static int chunked_step(struct http_chunked *ch, const uint8_t *d, uint64_t *pos, uint64_t cap,
			uint64_t len)
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

/* The head goes on in bytes that were not captured: queue it with what we know. */
static void head_lost(struct conntrack *ct, struct conn *c, const char *buf, size_t n,
		      enum wt_proto proto, uint64_t req_bytes)
{
	const char *method = NULL, *path = NULL;
	size_t plen = 0;

	if (proto == WT_PROTO_HTTP) {
		struct http_request hr;
		int r = http_parse_request_line(buf, n, &hr);

		if (r == -1) {
			ct->st.parse_errors_http++;
			enter_sync(c);
			return;
		}
		if (r > 0) {
			method = hr.method;
			path = hr.path;
			plen = hr.path_len;
		}
	} else {
		struct uwsgi_request ur;
		int r = uwsgi_parse_request(buf, n, &ur);

		if (r == -1) {
			ct->st.parse_errors_uwsgi++;
			enter_sync(c);
			return;
		}
		if (ur.method && ur.path_len > 0) {
			method = ur.method;
			path = ur.path;
			plen = ur.path_len;
		}
	}
	if (method) {
		struct pend *p = new_request(ct, c, proto, method, path, plen, req_bytes);

		if (p)
			mark_lost(ct, p);
	} else {
		/* Not even the label was captured: nothing to report. */
		ct->st.framing_lost++;
		c->rx_seq = c->seq_head - 1;
	}
	enter_sync(c);
}

/* A request head starting at (or continuing with) record bytes [pos, len). */
static uint64_t rx_head(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
			const uint8_t *d, uint64_t pos, uint64_t cap, uint64_t len)
{
	const char *buf;
	size_t n, old = c->hlen, k = 0;
	enum wt_proto proto;
	const char *method, *path;
	size_t plen;
	int64_t cl;
	int chunked, r;
	struct pend *p;

	if (!c->hbuf) {
		if (pos >= cap) {
			/* A request starts in bytes we never saw. */
			ct->st.framing_lost++;
			c->rx_seq = c->seq_head - 1;
			enter_sync(c);
			return len;
		}
		c->hstart_ts = e->ts_ns;
		c->htid = e->tid;
		c->htgid = e->tgid;
		c->hbytes = 0;
		buf = (const char *)d + pos;
		n = cap - pos;
	} else {
		if (pos < cap) {
			k = cap - pos;
			if (k > HEAD_MAX - c->hlen)
				k = HEAD_MAX - c->hlen;
			memcpy(c->hbuf + c->hlen, d + pos, k);
			c->hlen += (uint32_t)k;
		}
		buf = c->hbuf;
		n = c->hlen;
	}
	proto = buf[0] == 0 ? WT_PROTO_UWSGI : WT_PROTO_HTTP;
	if (proto == WT_PROTO_HTTP) {
		struct http_request hr;

		r = http_parse_request(buf, n, &hr);
		method = hr.method;
		path = hr.path;
		plen = hr.path_len;
		cl = hr.content_length;
		chunked = hr.chunked;
	} else {
		struct uwsgi_request ur;

		r = uwsgi_parse_request(buf, n, &ur);
		method = ur.method;
		path = ur.path;
		plen = ur.path_len;
		cl = ur.content_length;
		chunked = ur.chunked;
	}

	if (r > 0 && (size_t)r > old) {
		uint64_t here = (uint64_t)r - old;

		p = new_request(ct, c, proto, method, path, plen, c->hbytes + here);
		free_hbuf(c);
		c->sent = 0;
		if (!p) {
			enter_sync(c);
			return len;
		}
		if (chunked) {
			http_chunked_init(&c->rxb);
			c->rx = RX_CHUNKED;
		} else if (cl > 0) {
			c->rxb.remaining = (uint64_t)cl;
			c->rx = RX_LEN;
		}
		return pos + here;
	}
	if (r == -2) {
		int all_seen = cap == len && (!c->hbuf || k == cap - pos);

		if (all_seen && n < HEAD_MAX) {
			if (!c->hbuf) {
				c->hbuf = malloc(HEAD_MAX);
				if (!c->hbuf) {
					enter_sync(c);
					return len;
				}
				memcpy(c->hbuf, buf, n);
				c->hlen = (uint32_t)n;
			}
			c->hbytes += len - pos;
			return len;
		}
		head_lost(ct, c, buf, n, proto, c->hbytes + (len - pos));
		return len;
	}
	if (proto == WT_PROTO_HTTP)
		ct->st.parse_errors_http++;
	else
		ct->st.parse_errors_uwsgi++;
	enter_sync(c);
	return len;
}

static void on_recv(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
		    const uint8_t *d, uint64_t cap, uint64_t len)
{
	uint64_t pos = 0;

	if (c->upgraded)
		return;
	/* A request-looking read after a send ends a response we cannot frame. */
	if ((c->rx == RX_SYNC || (c->rx == RX_HEAD && !c->hbuf)) && c->sent &&
	    looks_like_start(d, cap)) {
		if (c->tx == TX_LOST)
			finish_unframed(ct, c, 0);
		if (c->rx == RX_SYNC)
			c->rx = RX_HEAD;
	}
	while (pos < len) {
		uint64_t start = pos, n;
		int r;

		switch (c->rx) {
		case RX_LEN:
			n = len - pos;
			if (n > c->rxb.remaining)
				n = c->rxb.remaining;
			c->rxb.remaining -= n;
			pos += n;
			add_req_bytes(c, n);
			if (c->rxb.remaining == 0)
				c->rx = RX_HEAD;
			break;
		case RX_CHUNKED:
			r = chunked_step(&c->rxb, d, &pos, cap, len);
			add_req_bytes(c, pos - start);
			if (r == 1) {
				c->rx = RX_HEAD;
			} else if (r < 0) {
				struct pend *p = rx_req(c);

				if (r == -1)
					mark_lost(ct, p);
				else if (p && p->proto == WT_PROTO_UWSGI)
					ct->st.parse_errors_uwsgi++;
				else
					ct->st.parse_errors_http++;
				add_req_bytes(c, len - pos);
				pos = len;
				enter_sync(c);
			}
			break;
		case RX_HEAD:
			/* Some clients send a CRLF after a body; it starts nothing. */
			if (!c->hbuf) {
				while (pos < cap && (d[pos] == '\r' || d[pos] == '\n'))
					pos++;
				if (pos == len)
					break;
			}
			pos = rx_head(ct, c, e, d, pos, cap, len);
			break;
		default: /* RX_SYNC */
			add_req_bytes(c, len - pos);
			pos = len;
			break;
		}
	}
}

/* A response head for the front request, from record bytes [pos, len). */
static uint64_t tx_head(struct conntrack *ct, struct conn *c, struct pend *f,
			const struct wt_conn_event *e, const uint8_t *d, uint64_t pos,
			uint64_t cap, uint64_t len)
{
	struct http_response hr;
	const char *buf;
	size_t n, old = c->tlen, k = 0;
	int r;

	if (!c->tbuf) {
		if (pos >= cap)
			goto lost;
		buf = (const char *)d + pos;
		n = cap - pos;
	} else {
		if (pos < cap) {
			k = cap - pos;
			if (k > HEAD_MAX - c->tlen)
				k = HEAD_MAX - c->tlen;
			memcpy(c->tbuf + c->tlen, d + pos, k);
			c->tlen += (uint32_t)k;
		}
		buf = c->tbuf;
		n = c->tlen;
	}
	r = http_parse_response(buf, n, &hr);
	if (r > 0 && (size_t)r > old) {
		uint64_t here = (uint64_t)r - old;

		f->resp_bytes += here;
		pos += here;
		free_tbuf(c);
		/* Interim responses (100 Continue) neither label nor end it. */
		if (hr.status < 200 && hr.status != 101)
			return pos;
		f->status = hr.status;
		if (hr.status == 101 || (f->is_connect && hr.status / 100 == 2)) {
			/* The connection leaves HTTP: nothing after this is parsed. */
			complete_front(ct, c, e->ts_ns, 0);
			drop_all(ct, c, &ct->st.unanswered);
			c->upgraded = 1;
			enter_sync(c);
			return len;
		}
		if (f->no_body || hr.status == 204 || hr.status == 304 || hr.content_length == 0) {
			complete_front(ct, c, e->ts_ns, e->unacked);
		} else if (hr.chunked) {
			http_chunked_init(&c->txb);
			c->tx = TX_CHUNKED;
		} else if (hr.content_length > 0) {
			c->txb.remaining = (uint64_t)hr.content_length;
			c->tx = TX_LEN;
		} else {
			c->tx = TX_CLOSE;
		}
		return pos;
	}
	if (r == -2) {
		int all_seen = cap == len && (!c->tbuf || k == cap - pos);

		if (all_seen && n < HEAD_MAX) {
			if (!c->tbuf) {
				c->tbuf = malloc(HEAD_MAX);
				if (!c->tbuf)
					goto lost;
				memcpy(c->tbuf, buf, n);
				c->tlen = (uint32_t)n;
			}
			f->resp_bytes += len - pos;
			return len;
		}
	} else {
		ct->st.parse_errors_http++;
	}
	/* The status line alone may still have been captured. */
	if (http_parse_status_line(buf, n, &hr) > 0 && hr.status >= 200)
		f->status = hr.status;
lost:
	free_tbuf(c);
	mark_lost(ct, f);
	c->tx = TX_LOST;
	f->resp_bytes += len - pos;
	return len;
}

static void on_send(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
		    const uint8_t *d, uint64_t cap, uint64_t len)
{
	uint64_t pos = 0;

	c->sent = 1;
	c->last_send_ts = e->ts_ns;
	if (c->upgraded)
		return;
	while (pos < len) {
		struct pend *f = front(c);
		uint64_t start = pos, n;
		struct http_response hr;
		int r;

		if (!f) {
			ct->st.orphan_responses++;
			return;
		}
		f->last_send_ns = e->ts_ns;
		switch (c->tx) {
		case TX_HEAD:
			pos = tx_head(ct, c, f, e, d, pos, cap, len);
			break;
		case TX_LEN:
			n = len - pos;
			if (n > c->txb.remaining)
				n = c->txb.remaining;
			c->txb.remaining -= n;
			f->resp_bytes += n;
			pos += n;
			if (c->txb.remaining == 0)
				complete_front(ct, c, e->ts_ns, e->unacked);
			break;
		case TX_CHUNKED:
			r = chunked_step(&c->txb, d, &pos, cap, len);
			f->resp_bytes += pos - start;
			if (r == 1) {
				complete_front(ct, c, e->ts_ns, e->unacked);
			} else if (r < 0) {
				if (r == -2)
					ct->st.parse_errors_http++;
				mark_lost(ct, f);
				c->tx = TX_LOST;
				f->resp_bytes += len - pos;
				pos = len;
			}
			break;
		case TX_LOST:
			/* A send that starts a response may still tell the status. */
			if (pos == 0 && f->status < 200 &&
			    http_parse_status_line((const char *)d, cap, &hr) > 0 && hr.status >= 200)
				f->status = hr.status;
			/* fallthrough */
		default: /* TX_CLOSE */
			f->resp_bytes += len - pos;
			pos = len;
			break;
		}
	}
}

struct conntrack *conntrack_new(const struct conntrack_opts *o, wt_request_cb cb, void *ctx)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	size_t size = 16;

	if (!ct)
		return NULL;
	if (o)
		ct->o = *o;
	if (!ct->o.max_conns)
		ct->o.max_conns = 131072;
	if (!ct->o.max_pending)
		ct->o.max_pending = 32;
	if (ct->o.max_pending > 4096)
		ct->o.max_pending = 4096;
	if (!ct->o.unix_grace_ns)
		ct->o.unix_grace_ns = 2000000000ULL;
	if (!ct->o.hold_ns)
		ct->o.hold_ns = 50000000ULL;
	if (!ct->o.idle_timeout_ns)
		ct->o.idle_timeout_ns = 300000000000ULL;
	if (ct->o.max_conns > (1U << 28))
		ct->o.max_conns = 1U << 28;
	ct->tab = calloc(size, sizeof(*ct->tab));
	if (!ct->tab) {
		free(ct);
		return NULL;
	}
	ct->mask = size - 1;
	ct->cb = cb;
	ct->ctx = ctx;
	list_init(&ct->lru);
	list_init(&ct->grace);
	list_init(&ct->held);
	return ct;
}

void conntrack_event(struct conntrack *ct, const struct wt_conn_event *e)
{
	uint64_t cap, len;
	const uint8_t *d = e->data;
	struct conn *c = NULL;
	size_t i;

	ct->st.events++;
	i = tab_find(ct, e->sk);
	if (i != (size_t)-1)
		c = ct->tab[i];

	/* A close may come after the socket left its file: ino 0 then. */
	if (e->type == WT_EV_CLOSE) {
		uint64_t ts;

		if (!c || (e->ino != 0 && e->ino != c->ino))
			return;
		ts = e->ts_ns > c->last_ts ? e->ts_ns : c->last_ts;
		if (e->unacked && !c->is_unix) {
			/* The response is still in flight to a slow reader. */
			if (c->tx == TX_CLOSE && front(c)) {
				hold_front(ct, c, ts, WT_RQ_CLOSE_DELIMITED);
				drop_all(ct, c, &ct->st.unanswered);
			}
			if (c->held) {
				finish_unframed(ct, c, ts);
				drop_all(ct, c, &ct->st.unanswered);
				free_hbuf(c);
				c->closing = 1;
				list_del(&c->heldl); /* now the ACK ends it, not the timer */
				c->last_ts = ts;
				list_del(&c->lru);
				list_add_tail(&ct->lru, &c->lru);
				grace_update(ct, c);
				return;
			}
		}
		end_conn(ct, c, ts);
		return;
	}
	if (e->type == WT_EV_RELAYED) {
		if (c && (e->ino == 0 || e->ino == c->ino)) {
			forget_conn(ct, c);
		} else {
			unsigned w = ct->withdrawn_next++ % 16;

			ct->withdrawn[w].sk = e->sk;
			ct->withdrawn[w].ino = e->ino;
		}
		return;
	}
	if (e->type == WT_EV_ACKED) {
		if (c && c->closing && (e->ino == 0 || e->ino == c->ino)) {
			flush_held(ct, c, e->ts_ns);
			end_conn(ct, c, e->ts_ns);
		}
		return;
	}
	if (e->type != WT_EV_DATA || e->len <= 0)
		return;
	len = (uint64_t)e->len;
	cap = e->cap_len;
	if (cap > WT_CAP)
		cap = WT_CAP;
	if (cap > len)
		cap = len;
	if (e->flags & WT_F_NODATA)
		cap = 0;

	/* A new socket at the old address, or the kernel side started over. */
	if (c && (c->ino != e->ino || (e->flags & WT_F_NEW))) {
		end_conn(ct, c, c->last_ts);
		c = NULL;
	}
	/* The server moved on: a held response ended at its last send. */
	if (c)
		flush_held(ct, c, 0);
	if (!c) {
		if (e->dir != WT_DIR_RECV) {
			ct->st.orphan_responses++;
			return;
		}
		/* Mid-stream bytes of a connection we dropped cannot be framed. */
		if (!looks_like_start(d, cap))
			return;
		for (unsigned w = 0; w < 16; w++) {
			if (ct->withdrawn[w].sk == e->sk && ct->withdrawn[w].ino == e->ino && e->ino) {
				ct->withdrawn[w].sk = 0;
				ct->st.relayed++;
				return;
			}
		}
		if (ct->st.conns_active >= ct->o.max_conns) {
			ct->st.conns_dropped++;
			return;
		}
		c = tab_reserve(ct, ct->st.conns_active + 1) == 0 ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			ct->st.conns_dropped++;
			return;
		}
		c->sk = e->sk;
		c->ino = e->ino;
		c->last_ts = e->ts_ns;
		c->rx_seq = c->seq_head - 1;
		list_init(&c->grace);
		list_init(&c->heldl);
		list_add_tail(&ct->lru, &c->lru);
		tab_insert(ct, c);
		ct->st.conns_total++;
		ct->st.conns_active++;
	}
	if (e->ts_ns > c->last_ts)
		c->last_ts = e->ts_ns;
	c->tgid = e->tgid;
	c->is_unix = !!(e->flags & WT_F_UNIX);
	list_del(&c->lru);
	list_add_tail(&ct->lru, &c->lru);

	if (e->dir == WT_DIR_RECV)
		on_recv(ct, c, e, d, cap, len);
	else
		on_send(ct, c, e, d, cap, len);
	grace_update(ct, c);
}

void conntrack_proc_exit(struct conntrack *ct, uint32_t tgid, uint64_t ts_ns)
{
	struct link *l, *next;

	/* Rare enough that a walk over all connections is fine. */
	for (l = ct->lru.next; l != &ct->lru; l = next) {
		struct conn *c = container_of(l, struct conn, lru);

		next = l->next;
		if (c->tgid == tgid)
			end_conn(ct, c, c->last_ts);
	}
}

void conntrack_tick(struct conntrack *ct, uint64_t now_ns)
{
	struct link *l;

	/*
	 * A held response whose connection did not close right away was on a
	 * kept-alive connection: it ended at its last write, the definition
	 * there. The servers that close after a response do so within
	 * microseconds, so waiting hold_ns delays no count for long.
	 */
	while ((l = ct->held.next) != &ct->held) {
		struct conn *c = container_of(l, struct conn, heldl);

		if (now_ns < c->held_end || now_ns - c->held_end < ct->o.hold_ns)
			break;
		flush_held(ct, c, 0);
	}

	while ((l = ct->grace.next) != &ct->grace) {
		struct conn *c = container_of(l, struct conn, grace);

		if (now_ns < c->last_ts || now_ns - c->last_ts < ct->o.unix_grace_ns)
			break;
		/* No close will come on AF_UNIX: the last send is the end. */
		finish_unframed(ct, c, c->last_send_ts);
		grace_update(ct, c);
	}
	while ((l = ct->lru.next) != &ct->lru) {
		struct conn *c = container_of(l, struct conn, lru);

		if (now_ns < c->last_ts || now_ns - c->last_ts < ct->o.idle_timeout_ns)
			break;
		ct->st.conns_expired++;
		end_conn(ct, c, c->last_ts);
	}
}

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct)
{
	return &ct->st;
}

void conntrack_free(struct conntrack *ct)
{
	struct link *l, *next;

	if (!ct)
		return;
	for (l = ct->lru.next; l != &ct->lru; l = next) {
		struct conn *c = container_of(l, struct conn, lru);

		next = l->next;
		while (c->qn)
			q_pop(c);
		if (c->held)
			free(c->held->path);
		free(c->held);
		free_hbuf(c);
		free_tbuf(c);
		free(c);
	}
	free(ct->tab);
	free(ct);
}
