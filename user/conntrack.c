// SPDX-License-Identifier: MIT
/*
 * Connection tracker: per (sk, ino) stream reassembly of requests and
 * responses from the kernel's per-call records.
 *
 * Each connection has a receive side (rx: request heads and bodies, framed
 * by reqframe.c), a send side (tx: response heads and bodies, framed by
 * respframe.c) and between them a FIFO of requests waiting for their
 * response. Body bytes are counted, never looked at, so
 * records whose data was not captured still advance the framing; only heads
 * and chunk-size lines need captured bytes. When those were not captured,
 * or the request's framing is ambiguous, the connection falls back to
 * alternation: a response runs until the next request-looking read after a
 * send, or until the connection ends. Counting never depends on the request
 * side: each final response head completes exactly one queued request, or a
 * placeholder when none is queued.
 *
 * Memory: an idle connection is one struct conn and one table slot. Head
 * buffers exist only while a head spans several records, the request queue
 * only while requests are pending.
 */
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "conntrack.h"
#include "labels.h"
#include "looks_like.h"
#include "promtext.h"
#include "reqframe.h"
#include "respframe.h"

/*
 * Why queued requests are dropped without a response, and so where each
 * is counted: the first four are unanswered requests, as the callback
 * (conntrack_unanswered_cb) is told.
 */
enum drop {
	DROP_CLOSED = WT_UNANSWERED_CLOSED,               /* unanswered */
	DROP_CLIENT_GONE = WT_UNANSWERED_CLIENT_GONE,     /* client_reset */
	DROP_WORKER_EXITED = WT_UNANSWERED_WORKER_EXITED, /* unanswered */
	DROP_EXPIRED = WT_UNANSWERED_EXPIRED,             /* unanswered */
	DROP_FRAMING_LOST = WT_UNANSWERED_MAX, /* behind a response whose end was lost: framing_lost */
	DROP_RELAYED,   /* a traced relay counts them: relayed */
	DROP_UNCOUNTED, /* on a connection no longer followed */
};

struct pend {
	uint64_t start_ns;
	uint64_t queue_ns; /* listen backlog wait of a connection's first request, else 0 */
	uint64_t last_send_ns;
	uint64_t req_bytes;
	uint64_t resp_bytes;
	const char *method;
	char *path; /* request-target up to its query, malloc'ed */
	uint32_t path_len;
	uint32_t tgid;
	uint32_t tid;
	uint32_t flags; /* WT_RQ_* */
	int status;     /* final status, 0 until seen */
	uint8_t proto;
	uint8_t no_body;    /* HEAD: the response has no body */
	uint8_t trace_state; /* enum wt_trace_state */
	struct wt_trace trace;
};

struct conn {
	struct ct_entry e;     /* sk, ino, last activity: the table's part */
	uint64_t last_send_ts; /* last send, any request */
	uint64_t last_recv_ts; /* last read: the start of a missed request's placeholder */
	uint64_t est_ns;       /* handshake done, until the first request takes it (0: unknown) */
	struct ct_link grace;  /* unix connections with a response the close would end */
	struct ct_link heldl;  /* connections holding a response for the ACK, oldest first */
	struct reqframe rx;  /* the request being read */
	struct respframe tx; /* the front request's response */
	struct pend *q;    /* ring of qcap, qn used from qhead */
	uint32_t seq_head; /* sequence number of q[qhead] */
	uint32_t rx_seq;   /* request whose body is being read */
	uint16_t qhead, qn, qcap;
	uint8_t is_unix;
	uint8_t upgraded;  /* 101: no longer HTTP */
	uint8_t ignored;   /* not HTTP: every record is dropped until the close */
	uint8_t spoke;     /* the server has sent on it */
	uint8_t in_grace;
	uint8_t closing;   /* closed with bytes unacked: waiting for WT_EV_ACKED */
	uint8_t tail_gap;  /* the read before the tail due had bytes not captured */
	uint32_t tail_due; /* bytes of the last read its tail record (WT_F_TAIL) still has to bring */
	uint32_t tgid;
	/*
	 * A completed request whose last send left bytes unacknowledged: if the
	 * close comes next, still unacknowledged, the client's ACK ends it.
	 */
	struct pend *held;
	uint64_t held_end; /* its end if no ACK comes */
};

struct conntrack {
	struct conntrack_opts o;
	wt_request_cb cb;
	void *ctx;
	struct conntable tab;
	struct ct_link grace;
	struct ct_link held;
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

static struct conn *conn_of(struct ct_entry *e)
{
	return e ? container_of(e, struct conn, e) : NULL;
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
		c->tx.state = RF_HEAD;
	}
}

/*
 * Framing bytes of p were not captured: counted when it is emitted
 * (framing_recovered) or dropped (framing_lost), not before.
 */
static void mark_lost(struct pend *p)
{
	if (p)
		p->flags |= WT_RQ_FRAMING_LOST;
}

static void emit(struct conntrack *ct, struct conn *c, struct pend *p, uint64_t end_ns, uint32_t flags)
{
	struct wt_request rq = {
		.start_ns = p->start_ns,
		.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns,
		.queue_ns = p->queue_ns,
		.req_bytes = p->req_bytes,
		.resp_bytes = p->resp_bytes,
		.sk = c->e.sk,
		.tgid = p->tgid,
		.tid = p->tid,
		.status = p->status,
		.proto = (enum wt_proto)p->proto,
		.flags = p->flags | flags,
		.method = p->method,
		.path = p->path,
		.path_len = p->path_len,
		.trace_state = p->trace_state,
		.trace = p->trace,
	};

	ct->st.requests++;
	if (rq.flags & WT_RQ_FRAMING_LOST)
		ct->st.framing_recovered++;
	if (ct->cb)
		ct->cb(&rq, ct->ctx);
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
	ct_list_del(&c->heldl);
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
	c->tx.state = RF_HEAD;
	c->held = h;
	c->held_end = end_ns;
	ct_list_add_tail(&ct->held, &c->heldl);
}

static void complete_front(struct conntrack *ct, struct conn *c, uint64_t end_ns, uint32_t unacked)
{
	if (rx_req(c) == front(c))
		reqframe_body_answered(&c->rx);
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
	respframe_reset(&c->tx);
}

/* Drop every queued request, counting each as why says. */
static void drop_all(struct conntrack *ct, struct conn *c, enum drop why)
{
	while (c->qn) {
		struct pend *p = front(c);

		switch (why) {
		case DROP_FRAMING_LOST:
			ct->st.framing_lost++;
			break;
		case DROP_RELAYED:
			ct->st.relayed++;
			break;
		case DROP_UNCOUNTED:
			break;
		default:
			if (why == DROP_CLIENT_GONE)
				ct->st.client_reset++;
			else
				ct->st.unanswered++;
			if (ct->o.unanswered) {
				const struct wt_request rq = {
					.start_ns = p->start_ns,
					.tgid = p->tgid,
					.tid = p->tid,
					.proto = (enum wt_proto)p->proto,
					.flags = p->flags,
					.method = p->method,
					.path = p->path,
					.path_len = p->path_len,
				};

				ct->o.unanswered(&rq, (enum wt_unanswered)why, ct->o.unanswered_ctx);
			}
			break;
		}
		q_pop(c);
	}
	respframe_reset(&c->tx);
}

/*
 * The response of the front request has no end of its own (close-delimited)
 * or its end was not seen (framing lost): end it here. The requests queued
 * behind it cannot be told apart from it any more: rest says why they are dropped.
 */
static void finish_unframed(struct conntrack *ct, struct conn *c, uint64_t close_ns, enum drop rest)
{
	struct pend *f = front(c);

	if (!f || !respframe_unframed(&c->tx))
		return;
	if (c->tx.state == RF_CLOSE) {
		emit(ct, c, f, close_ns, WT_RQ_CLOSE_DELIMITED);
		q_pop(c);
		drop_all(ct, c, rest);
		return;
	}
	/* Without a final status there is no label to give. */
	if (f->status >= 200 && f->resp_bytes > 0)
		emit(ct, c, f, f->last_send_ns, 0);
	else
		ct->st.framing_lost++;
	q_pop(c);
	drop_all(ct, c, DROP_FRAMING_LOST);
}

static void grace_update(struct conntrack *ct, struct conn *c)
{
	int want = c->is_unix && c->qn && respframe_unframed(&c->tx);

	/* Re-adding moves it to the tail: the list stays in activity order. */
	if (c->in_grace)
		ct_list_del(&c->grace);
	c->in_grace = (uint8_t)want;
	if (want)
		ct_list_add_tail(&ct->grace, &c->grace);
}

static void free_held(struct conn *c)
{
	if (!c->held)
		return;
	free(c->held->path);
	free(c->held);
	c->held = NULL;
	c->closing = 0;
	ct_list_del(&c->heldl);
}

/*
 * The connection is gone: finish what its end finishes, and drop what is
 * left pending as `pending` says.
 */
static void end_conn(struct conntrack *ct, struct conn *c, uint64_t close_ns, enum drop pending)
{
	struct pend *f;

	flush_held(ct, c, 0);
	finish_unframed(ct, c, close_ns, pending);
	/*
	 * A response whose head was written and whose body the close cut (a
	 * stream or server-sent events that the client left, or the server
	 * ended without the last chunk), or of whose head only the status line
	 * was written before the client reset, was written with its status: it
	 * counts, ended at its last write.
	 */
	f = front(c);
	if (f && f->status < 200 && c->tx.head.buf) {
		int st = respframe_status_line((const uint8_t *)c->tx.head.buf, c->tx.head.len);

		if (st >= 200)
			f->status = st;
	}
	if (f && f->status >= 200 && f->resp_bytes > 0 && (c->tx.state != RF_HEAD || c->tx.head.buf)) {
		emit(ct, c, f, f->last_send_ns, WT_RQ_CUT);
		q_pop(c);
	}
	drop_all(ct, c, pending);
	conntable_remove(&ct->tab, &c->e);
	if (c->in_grace)
		ct_list_del(&c->grace);
	reqframe_free(&c->rx);
	head_free(&c->tx.head);
	free(c);
	ct->st.conns_active--;
}

/*
 * Count nothing more on a connection (what it has queued is dropped as
 * `pending` says) and drop its records until it closes: records already on
 * their way, or that the kernel side keeps sending, must not start it over.
 */
static void mute_conn(struct conntrack *ct, struct conn *c, enum drop pending)
{
	free_held(c);
	drop_all(ct, c, pending);
	reqframe_free(&c->rx);
	c->ignored = 1;
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
		respframe_reset(&c->tx);
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

/* Queue the request a head (o) began; NULL if the queue overflowed. */
static struct pend *new_request(struct conntrack *ct, struct conn *c, const struct reqframe_out *o)
{
	const struct reqhead *h = &o->head;
	struct pend *p = q_push(ct, c);
	size_t plen = h->path ? h->path_len : 0;

	if (!p)
		return NULL;
	p->start_ns = o->start_ns;
	/* Only a new connection's first request waited in the backlog for all to see. */
	if (c->est_ns && o->start_ns > c->est_ns)
		p->queue_ns = o->start_ns - c->est_ns;
	c->est_ns = 0;
	p->tgid = o->tgid;
	p->tid = o->tid;
	p->proto = (uint8_t)h->proto;
	p->method = h->method ? h->method : LABEL_METHOD_OTHER;
	p->req_bytes = o->bytes;
	p->flags = h->flags;
	if (plen > WT_PATH_MAX) {
		plen = WT_PATH_MAX;
		p->flags |= WT_RQ_PATH_TRUNCATED;
	}
	p->path = malloc(plen ? plen : 1);
	if (p->path && plen) {
		memcpy(p->path, h->path, plen);
		p->path_len = (uint32_t)plen;
	}
	p->no_body = p->method == label_method("HEAD", 4);
	p->trace_state = h->trace_state;
	p->trace = h->trace;
	return p;
}

static void add_req_bytes(struct conn *c, uint64_t n)
{
	struct pend *p = rx_req(c);

	if (p)
		p->req_bytes += n;
}

/*
 * Queue a head the request framer reported (ev: RQ_EV_HEAD*), and let it
 * go on. Heads it could not frame queue all the same, with the labels
 * recovered from their bytes, so that their response counts.
 */
static void queue_head(struct conntrack *ct, struct conn *c, enum reqframe_ev ev, const struct reqframe_out *o,
		       uint64_t *pos, uint64_t len)
{
	struct pend *p;

	if (ev == RQ_EV_HEAD_BAD && o->head.proto == WT_PROTO_UWSGI)
		ct->st.parse_errors_uwsgi++;
	else if (ev == RQ_EV_HEAD_BAD)
		ct->st.parse_errors_http++;
	p = new_request(ct, c, o);
	reqframe_queued(&c->rx, p != NULL, pos, len);
}

/*
 * The server answered while a head was still being gathered (a slow client
 * timed out, a head too large, bytes no parser takes): it was a request.
 */
static void head_answered(struct conntrack *ct, struct conn *c)
{
	struct reqframe_out o;
	struct pend *p;

	if (!reqframe_answered(&c->rx, &o))
		return;
	p = new_request(ct, c, &o);
	reqframe_queued(&c->rx, p != NULL, NULL, 0);
}

static void on_recv(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
		    const uint8_t *d, uint64_t cap, uint64_t len)
{
	int tail = !!(e->flags & WT_F_TAIL);
	uint64_t pos = 0;

	c->last_recv_ts = e->ts_ns;
	if (c->upgraded)
		return;
	if (reqframe_read(&c->rx, d, cap, tail, c->tail_gap) == RQ_EV_SYNC && c->tx.state == RF_LOST)
		finish_unframed(ct, c, 0, DROP_FRAMING_LOST);
	while (pos < len) {
		struct reqframe_out o;
		enum reqframe_ev ev = reqframe_step(&c->rx, e, d, &pos, cap, len, &o);
		struct pend *p;

		add_req_bytes(c, o.body);
		switch (ev) {
		case RQ_EV_HEAD:
		case RQ_EV_HEAD_LOST:
		case RQ_EV_HEAD_BAD:
			queue_head(ct, c, ev, &o, &pos, len);
			break;
		case RQ_EV_SYNC:
			if (c->tx.state == RF_LOST)
				finish_unframed(ct, c, 0, DROP_FRAMING_LOST);
			break;
		case RQ_EV_BODY_LOST:
			/* The request is queued: its response counts it. */
			mark_lost(rx_req(c));
			break;
		case RQ_EV_BODY_BAD:
			p = rx_req(c);
			if (p && p->proto == WT_PROTO_UWSGI)
				ct->st.parse_errors_uwsgi++;
			else
				ct->st.parse_errors_http++;
			break;
		default: /* RQ_EV_MORE */
			break;
		}
	}
}

/* Could d[0..n) be the start of a response head ("HTTP/")? */
static int looks_like_response(const uint8_t *d, uint64_t n)
{
	static const char pfx[] = "HTTP/";
	uint64_t i;

	for (i = 0; i < n && i < sizeof(pfx) - 1; i++)
		if (d[i] != (uint8_t)pfx[i])
			return 0;
	return n > 0;
}

/*
 * A response head with no request queued: its request was missed (not
 * captured, or before we followed the connection). It still counts, with
 * placeholder labels, from the connection's last read.
 */
static struct pend *missed_request(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e)
{
	struct reqframe_out o = {
		.head = {.proto = WT_PROTO_HTTP, .flags = WT_RQ_NO_REQUEST},
		.start_ns = c->last_recv_ts ? c->last_recv_ts : e->ts_ns,
		.tid = e->tid,
		.tgid = e->tgid,
	};
	struct pend *p = new_request(ct, c, &o);

	if (p) {
		ct->st.missed_requests++;
		/* Not the request being read: its body bytes are nobody's. */
		c->rx_seq = c->seq_head - 1;
	}
	return p;
}

/*
 * The server's first bytes on the connection are no HTTP response: it speaks
 * another protocol here (TLS, a server-first greeting). Stop following it.
 */
static void not_http(struct conntrack *ct, struct conn *c)
{
	ct->st.not_http++;
	if (ct->o.ignore)
		ct->o.ignore(c->e.sk, c->e.ino, ct->o.ignore_ctx);
	mute_conn(ct, c, DROP_UNCOUNTED);
}

static void on_send(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
		    const uint8_t *d, uint64_t cap, uint64_t len)
{
	uint64_t pos = 0;

	if (!c->spoke && cap > 0 && (e->flags & WT_F_ACCEPTED) && !looks_like_response(d, cap)) {
		/* An HTTP/2 server's first frame is SETTINGS (type 4) on stream 0 (RFC 9113 3.4). */
		if (cap >= 9 && d[3] == 4 && !d[5] && !d[6] && !d[7] && !d[8])
			ct->st.http2++;
		/* A TLS record (handshake or alert, SSL 3.0 to TLS 1.3) whose plaintext was not read. */
		else if (cap >= 3 && (d[0] == 0x16 || d[0] == 0x15) && d[1] == 3 && d[2] <= 4 && ct->o.tls_unread)
			ct->o.tls_unread(e->tgid, ct->o.tls_ctx);
		not_http(ct, c);
		return;
	}
	c->spoke = 1;
	if (!c->qn && cap > 0 && looks_like_response(d, cap))
		head_answered(ct, c);
	reqframe_sent(&c->rx);
	c->last_send_ts = e->ts_ns;
	if (c->upgraded)
		return;
	while (pos < len) {
		struct pend *f = front(c);
		uint64_t start = pos;
		enum respframe_ev ev;
		int status, bad;

		if (!f && c->tx.state == RF_HEAD && !c->tx.head.buf && pos < cap &&
		    looks_like_response(d + pos, cap - pos))
			f = missed_request(ct, c, e);
		if (!f) {
			ct->st.orphan_responses++;
			return;
		}
		if (c->tx.state == RF_LOST && pos == 0) {
			status = respframe_status_line(d, cap);
			/*
			 * A send that starts with a status line after a response
			 * whose framing was lost (a head longer than the capture)
			 * starts the next response: the lost one ended with the
			 * send before.
			 */
			if (f->status >= 200 && status >= 0) {
				emit(ct, c, f, f->last_send_ns, 0);
				q_pop(c);
				c->tx.state = RF_HEAD;
				continue;
			}
			/* A send that starts a response may still tell the status. */
			if (f->status < 200 && status >= 200)
				f->status = status;
		}
		f->last_send_ns = e->ts_ns;
		ev = respframe_step(&c->tx, d, &pos, cap, len, f->no_body, &status, &bad);
		f->resp_bytes += pos - start;
		if (bad)
			ct->st.parse_errors_http++;
		switch (ev) {
		case RF_EV_FINAL:
			f->status = status;
			break;
		case RF_EV_END:
			if (status)
				f->status = status;
			complete_front(ct, c, e->ts_ns, e->unacked);
			break;
		case RF_EV_UPGRADE:
			/* The connection leaves HTTP: nothing after this is parsed. */
			f->status = status;
			complete_front(ct, c, e->ts_ns, 0);
			drop_all(ct, c, DROP_CLOSED);
			c->upgraded = 1;
			ct->st.upgraded++;
			reqframe_resync(&c->rx);
			return;
		case RF_EV_LOST:
			if (status >= 200)
				f->status = status;
			mark_lost(f);
			break;
		default: /* RF_EV_MORE, RF_EV_INTERIM */
			break;
		}
	}
}

struct conntrack *conntrack_new(const struct conntrack_opts *o, wt_request_cb cb, void *ctx)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));

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
	if (conntable_init(&ct->tab) != 0) {
		free(ct);
		return NULL;
	}
	ct->cb = cb;
	ct->ctx = ctx;
	ct_list_init(&ct->grace);
	ct_list_init(&ct->held);
	return ct;
}

/* Does a header-only record name this connection? A late one may carry ino 0. */
static int same_conn(const struct conn *c, const struct wt_conn_event *e)
{
	return c && (e->ino == 0 || e->ino == c->e.ino);
}

/* WT_EV_CLOSE: the connection ended (or the peer reset it). */
static void on_close(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e)
{
	uint64_t ts = e->ts_ns > c->e.last_ts ? e->ts_ns : c->e.last_ts;
	enum drop pending = (e->flags & WT_F_RESET) ? DROP_CLIENT_GONE : DROP_CLOSED;

	if (c->ignored) {
		end_conn(ct, c, ts, DROP_UNCOUNTED);
		return;
	}
	/* After a reset no ACK will come: what was in flight ends at the close. */
	if (e->unacked && !c->is_unix && !(e->flags & WT_F_RESET)) {
		/* The response is still in flight to a slow reader. */
		if (c->tx.state == RF_CLOSE && front(c)) {
			hold_front(ct, c, ts, WT_RQ_CLOSE_DELIMITED);
			drop_all(ct, c, pending);
		}
		if (c->held) {
			finish_unframed(ct, c, ts, pending);
			drop_all(ct, c, pending);
			reqframe_free(&c->rx);
			c->closing = 1;
			ct_list_del(&c->heldl); /* now the ACK ends it, not the timer */
			conntable_touch(&ct->tab, &c->e, ts);
			grace_update(ct, c);
			return;
		}
	}
	end_conn(ct, c, ts, pending);
}

/*
 * WT_EV_RELAYED: the connection's peer is a traced relay (uWSGI's --http
 * router), which counts its requests where they entered: forget this side,
 * emit nothing. It may come before the connection's first record.
 */
static void on_relayed(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e)
{
	unsigned w;

	if (same_conn(c, e)) {
		mute_conn(ct, c, DROP_RELAYED);
		return;
	}
	w = ct->withdrawn_next++ % 16;
	ct->withdrawn[w].sk = e->sk;
	ct->withdrawn[w].ino = e->ino;
}

static int was_withdrawn(struct conntrack *ct, const struct wt_conn_event *e)
{
	for (unsigned w = 0; w < 16; w++) {
		if (ct->withdrawn[w].sk == e->sk && ct->withdrawn[w].ino == e->ino && e->ino) {
			ct->withdrawn[w].sk = 0;
			return 1;
		}
	}
	return 0;
}

/* A data record on a connection not in the table: start following it? */
static struct conn *new_conn(struct conntrack *ct, const struct wt_conn_event *e, const uint8_t *d,
			     uint64_t cap)
{
	/*
	 * Followed whatever its first bytes when the kernel side vouches they
	 * are the first of a connection the server accepted (WT_F_ACCEPTED).
	 * Any other may come mid-stream (open before we started, refused by a
	 * full table for a while): it must look like a request start.
	 */
	int from_start = !!(e->flags & WT_F_ACCEPTED);
	int withdrawn = was_withdrawn(ct, e);
	struct conn *c;

	if (withdrawn) {
		/* Followed only to drop its records: the relay counts its requests. */
		ct->st.relayed++;
	} else if (e->dir != WT_DIR_RECV) {
		/*
		 * A send on a connection never seen: nothing to count it against.
		 * Only a server speaking another protocol first is worth
		 * following: to stop it.
		 */
		if (!from_start || cap == 0 || looks_like_response(d, cap)) {
			ct->st.orphan_responses++;
			return NULL;
		}
	} else if (!from_start && !wt_looks_like_request(d, (__u32)cap)) {
		/* Mid-stream bytes of a connection we did not see start cannot be framed. */
		return NULL;
	}
	if (ct->st.conns_active >= ct->o.max_conns) {
		ct->st.conns_dropped++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto full;
	c->e.sk = e->sk;
	c->e.ino = e->ino;
	c->est_ns = e->est_ns;
	c->e.last_ts = e->ts_ns;
	if (conntable_insert(&ct->tab, &c->e) != 0) {
		free(c);
		goto full;
	}
	c->rx_seq = c->seq_head - 1;
	c->ignored = (uint8_t)withdrawn;
	ct_list_init(&c->grace);
	ct_list_init(&c->heldl);
	ct->st.conns_total++;
	ct->st.conns_active++;
	return c;
full:
	ct->st.conns_dropped++;
	return NULL;
}

/*
 * A read whose last bytes come in a tail record of their own: this record
 * stands for its first bytes, the tail for the rest. A tail that never
 * comes (lost with a full ring) is a gap where the next record begins.
 */
static void tail_settle(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e,
			uint64_t *cap, uint64_t *len)
{
	uint32_t t;

	if (c->tail_due && !(e->flags & WT_F_TAIL))
		on_recv(ct, c, e, e->data, 0, c->tail_due);
	if (e->flags & WT_F_TAIL) {
		/* The tail is the rest of the read, whatever its record says. */
		*len = c->tail_due;
		if (*cap > *len)
			*cap = *len;
	}
	c->tail_due = 0;
	t = wt_tail_len(*len > 0x7fffffff ? 0x7fffffff : (uint32_t)*len);
	if ((e->flags & WT_F_TAILED) && !(e->flags & WT_F_TAIL) && e->dir == WT_DIR_RECV && t) {
		c->tail_due = t;
		*len -= t;
		if (*cap > *len)
			*cap = *len;
		c->tail_gap = *cap < *len;
	}
}

/* WT_EV_DATA: a recv or send with its first bytes. */
static void on_data(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e)
{
	const uint8_t *d = e->data;
	uint64_t cap, len;

	if (e->len <= 0)
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
	if (c && (c->e.ino != e->ino || (e->flags & WT_F_NEW))) {
		end_conn(ct, c, c->e.last_ts, DROP_CLOSED);
		c = NULL;
	}
	/* A read's tail is followed only where the read itself was. */
	if ((e->flags & WT_F_TAIL) && (!c || !c->tail_due || e->dir != WT_DIR_RECV))
		return;
	if (!c && !(c = new_conn(ct, e, d, cap)))
		return;
	conntable_touch(&ct->tab, &c->e, e->ts_ns);
	if (c->ignored)
		return;
	/* The server moved on: a held response ended at its last send. */
	flush_held(ct, c, 0);
	c->tgid = e->tgid;
	c->is_unix = !!(e->flags & WT_F_UNIX);
	tail_settle(ct, c, e, &cap, &len);
	if (e->dir == WT_DIR_RECV)
		on_recv(ct, c, e, d, cap, len);
	else
		on_send(ct, c, e, d, cap, len);
	grace_update(ct, c);
}

/* WT_EV_ACKED: after a close with unacked bytes, the client acknowledged them all. */
static void on_acked(struct conntrack *ct, struct conn *c, const struct wt_conn_event *e)
{
	if (c->closing && same_conn(c, e)) {
		flush_held(ct, c, e->ts_ns);
		end_conn(ct, c, e->ts_ns, DROP_CLOSED);
	}
}

void conntrack_event(struct conntrack *ct, const struct wt_conn_event *e)
{
	struct conn *c = conn_of(conntable_find(&ct->tab, e->sk));

	ct->st.events++;
	switch (e->type) {
	case WT_EV_DATA:
		on_data(ct, c, e);
		break;
	case WT_EV_CLOSE:
		if (same_conn(c, e))
			on_close(ct, c, e);
		break;
	case WT_EV_RELAYED:
		on_relayed(ct, c, e);
		break;
	case WT_EV_ACKED:
		if (c)
			on_acked(ct, c, e);
		break;
	}
}

void conntrack_pending(const struct conntrack *ct, conntrack_pending_fn fn, void *ctx)
{
	for (const struct ct_entry *e = conntable_oldest(&ct->tab); e; e = conntable_newer(&ct->tab, e)) {
		struct conn *c = conn_of((struct ct_entry *)e);

		for (uint32_t i = 0; i < c->qn; i++)
			fn(q_at(c, i)->tgid, ctx);
	}
}

void conntrack_proc_exit(struct conntrack *ct, uint32_t tgid, uint64_t ts_ns)
{
	struct ct_entry *e, *next;

	/* Rare enough that a walk over all connections is fine. */
	for (e = conntable_oldest(&ct->tab); e; e = next) {
		struct conn *c = conn_of(e);

		next = conntable_newer(&ct->tab, e);
		if (c->tgid == tgid)
			end_conn(ct, c, c->e.last_ts, DROP_WORKER_EXITED);
	}
}

void conntrack_tick(struct conntrack *ct, uint64_t now_ns)
{
	struct ct_link *l;
	struct ct_entry *e;

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

		if (now_ns < c->e.last_ts || now_ns - c->e.last_ts < ct->o.unix_grace_ns)
			break;
		/* No close will come on AF_UNIX: the last send is the end. */
		finish_unframed(ct, c, c->last_send_ts, DROP_CLOSED);
		grace_update(ct, c);
	}
	while ((e = conntable_oldest(&ct->tab))) {
		if (now_ns < e->last_ts || now_ns - e->last_ts < ct->o.idle_timeout_ns)
			break;
		ct->st.conns_expired++;
		end_conn(ct, conn_of(e), e->last_ts, DROP_EXPIRED);
	}
}

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct)
{
	return &ct->st;
}

#define ROW(name, type, field, help) PROMTEXT_U64(name, type, struct conntrack_stats, field, help)
static const struct promtext_metric metrics[] = {
	ROW("wsgitrace_http_parse_errors_total", PROMTEXT_COUNTER, parse_errors_http,
	    "HTTP/1.x requests or responses that could not be parsed."),
	ROW("wsgitrace_uwsgi_parse_errors_total", PROMTEXT_COUNTER, parse_errors_uwsgi,
	    "uwsgi packets that could not be parsed."),
	ROW("wsgitrace_framing_lost_total", PROMTEXT_COUNTER, framing_lost,
	    "Requests not counted in the histogram because bytes that frame them were not captured."),
	ROW("wsgitrace_framing_recovered_total", PROMTEXT_COUNTER, framing_recovered,
	    "Requests counted although bytes that frame them were not captured (a head longer than the "
	    "capture): labelled from the bytes captured, ended by the responses. Nothing lost."),
	ROW("wsgitrace_unanswered_requests_total", PROMTEXT_COUNTER, unanswered,
	    "Requests whose connection ended before a response was seen."),
	ROW("wsgitrace_orphan_responses_total", PROMTEXT_COUNTER, orphan_responses,
	    "Sends with no request pending that start no response (the rest of a response not followed)."),
	ROW("wsgitrace_pending_overflow_total", PROMTEXT_COUNTER, pending_overflow,
	    "Pipelined requests dropped because too many were pending on one connection."),
	ROW("wsgitrace_connections_active", PROMTEXT_GAUGE, conns_active, "Connections being tracked."),
	ROW("wsgitrace_connections_dropped_total", PROMTEXT_COUNTER, conns_dropped,
	    "Connections not tracked because a connection table (the kernel's or the daemon's, --max-conns) "
	    "was full."),
	ROW("wsgitrace_connections_expired_total", PROMTEXT_COUNTER, conns_expired,
	    "Tracked connections forgotten after being idle too long."),
	ROW("wsgitrace_client_resets_total", PROMTEXT_COUNTER, client_reset,
	    "Requests pending when the client reset the connection before the server wrote any of their "
	    "response: no response was owed."),
	ROW("wsgitrace_missed_requests_total", PROMTEXT_COUNTER, missed_requests,
	    "Responses whose request was not seen; they are counted with method \"_OTHER\" and route "
	    "\"_unknown\"."),
	ROW("wsgitrace_not_http_connections_total", PROMTEXT_COUNTER, not_http,
	    "Accepted connections on which the server spoke another protocol than HTTP (TLS, ...); no longer "
	    "followed."),
	ROW("wsgitrace_http2_connections_total", PROMTEXT_COUNTER, http2,
	    "Of the connections on which the server spoke another protocol, those the client opened with the "
	    "HTTP/2 preface (h2c with prior knowledge): their requests are not counted."),
	ROW("wsgitrace_upgraded_connections_total", PROMTEXT_COUNTER, upgraded,
	    "Connections that left HTTP/1.x after a 101 Switching Protocols (WebSocket, h2c upgrade): the 101 is "
	    "counted once, nothing after it is parsed."),
};
#undef ROW
const struct promtext_table conntrack_metrics = PROMTEXT_TABLE(metrics);

void conntrack_free(struct conntrack *ct)
{
	struct ct_entry *e;

	if (!ct)
		return;
	while ((e = conntable_oldest(&ct->tab))) {
		struct conn *c = conn_of(e);

		while (c->qn)
			q_pop(c);
		free_held(c);
		conntable_remove(&ct->tab, e);
		reqframe_free(&c->rx);
		head_free(&c->tx.head);
		free(c);
	}
	conntable_fini(&ct->tab);
	free(ct);
}
