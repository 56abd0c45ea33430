/* SPDX-License-Identifier: MIT */
/*
 * Request framing for the connection tracker: where each request a client
 * sends on a connection starts and ends, over the read records the kernel
 * reports, captured or not. Heads (read by reqhead.c) are gathered across
 * records, bodies stepped by their length (Content-Length, chunked); where
 * those bytes were not captured or do not parse, a resync scan looks for the
 * next request line. It knows nothing of the queue or of the responses: the
 * tracker queues the heads this reports, says when the server sent, and
 * pairs the requests with what respframe.c reports.
 */
#ifndef WT_REQFRAME_H
#define WT_REQFRAME_H

#include <stdint.h>
#include <linux/types.h>

#include "framing.h"
#include "http_parse.h"
#include "reqhead.h"
#include "wsgitrace.h"

enum reqframe_state {
	RQ_HEAD = 0, /* next bytes start a request head */
	RQ_LEN,      /* Content-Length body: body.remaining bytes left */
	RQ_CHUNKED,  /* chunked body: body decodes */
	RQ_SYNC,     /* framing lost or unknown: look for a request line */
};

struct reqframe {
	struct headbuf head; /* a head spanning records; in RQ_SYNC the line being scanned */
	struct http_chunked body;
	uint64_t start_ns;   /* the head being gathered began in a read at start_ns, by tid */
	uint32_t tid, tgid;
	uint8_t state;       /* enum reqframe_state */
	uint8_t next;        /* the state a reported head leaves for once queued */
	uint8_t parsed;      /* the head reported parsed (else: labels recovered) */
	uint8_t spoke_http;  /* a request head was HTTP: so is every later one */
	uint8_t sent;        /* a send came after the last request start (reqframe_sent) */
	uint8_t guessed;     /* the head being gathered was taken up by its first bytes after a resync */
	uint8_t sync_bad;    /* RQ_SYNC: the current line was not all captured, or is too long */
};

/* What one step over a read's bytes found. */
enum reqframe_ev {
	RQ_EV_MORE = 0,  /* bytes taken; the request goes on, or none has started */
	RQ_EV_HEAD,      /* a head ended at *pos: queue it, then reqframe_queued() */
	RQ_EV_HEAD_LOST, /* a head that goes on in bytes not captured: queue it (its framing lost), then reqframe_queued() */
	RQ_EV_HEAD_BAD,  /* a head no parser takes (a parse error): queue it, then reqframe_queued() */
	RQ_EV_SYNC,      /* a request starts after a send: a response that lost its framing ended before it */
	RQ_EV_BODY_LOST, /* the body's framing was in bytes not captured */
	RQ_EV_BODY_BAD,  /* the body's framing is no HTTP (a parse error) */
};

/* What a step reports besides its event. */
struct reqframe_out {
	/* RQ_EV_HEAD*: the head, its slices valid until reqframe_queued() */
	struct reqhead head;
	uint64_t bytes;    /* its bytes, from the read it began in */
	uint64_t start_ns; /* that read's time, process and thread */
	uint32_t tid, tgid;
	/* Any event: bytes taken that belong to the request being read (its body, bytes resynced over). */
	uint64_t body;
};

/*
 * A read of the client's starts (before its steps). tail: it is the tail
 * record of a read, gap: bytes before the tail were not captured. RQ_EV_SYNC
 * when a request-looking read follows a send, else RQ_EV_MORE.
 */
enum reqframe_ev reqframe_read(struct reqframe *rf, const uint8_t *d, uint64_t cap, int tail, int gap);
/*
 * One step over read bytes [*pos, len), of which [0, cap) were captured; e
 * is the read's record (its time and thread). out->body is always set.
 */
enum reqframe_ev reqframe_step(struct reqframe *rf, const struct wt_conn_event *e, const uint8_t *d,
			       uint64_t *pos, uint64_t cap, uint64_t len, struct reqframe_out *out);
/*
 * After a head was reported: queued says whether the tracker queued it.
 * A parsed head that was not queued leaves its body unframed and the rest
 * of its read (*pos = len) unread. pos may be NULL after reqframe_answered().
 */
void reqframe_queued(struct reqframe *rf, int queued, uint64_t *pos, uint64_t len);
/*
 * The server answered while a head (or the line a resync scans) was still
 * being gathered: 1 and out filled when there is one, which then is a
 * request with what its bytes so far tell; queue it, then reqframe_queued().
 */
int reqframe_answered(struct reqframe *rf, struct reqframe_out *out);
/* The server sent: a read that looks like a request may start the next one. */
void reqframe_sent(struct reqframe *rf);
/* The request whose body is being read was answered: where the next one starts is for a resync to find. */
void reqframe_body_answered(struct reqframe *rf);
/* Framing lost or unknown from here: look for the next request line. */
void reqframe_resync(struct reqframe *rf);
/* Frees the head buffer; the state stays. */
void reqframe_free(struct reqframe *rf);

#endif /* WT_REQFRAME_H */
