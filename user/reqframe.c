// SPDX-License-Identifier: MIT
#include "reqframe.h"

#include <stdlib.h>
#include <string.h>

#include "looks_like.h"

/* Longest line the resync scan looks at: a request line with a long target. */
#define SYNC_LINE_MAX 2048

void reqframe_resync(struct reqframe *rf)
{
	rf->state = RQ_SYNC;
	rf->sent = 0; /* resync only at a read that follows a send after this point */
	rf->guessed = 0;
	rf->sync_bad = 0;
	head_free(&rf->head);
}

void reqframe_free(struct reqframe *rf)
{
	head_free(&rf->head);
}

void reqframe_sent(struct reqframe *rf)
{
	rf->sent = 1;
}

void reqframe_body_answered(struct reqframe *rf)
{
	/*
	 * Answered while its body was still being read: the server did not
	 * want the rest (an error, a length that lied). Where the next request
	 * starts is for the next request-looking read to say.
	 */
	if (rf->state == RQ_LEN || rf->state == RQ_CHUNKED)
		rf->state = RQ_SYNC;
}

/* A head begins in the read of record e. */
static void head_begins(struct reqframe *rf, const struct wt_conn_event *e)
{
	rf->start_ns = e->ts_ns;
	rf->tid = e->tid;
	rf->tgid = e->tgid;
}

static void out_head(const struct reqframe *rf, uint64_t bytes, struct reqframe_out *out)
{
	out->bytes = bytes;
	out->start_ns = rf->start_ns;
	out->tid = rf->tid;
	out->tgid = rf->tgid;
}

/*
 * A head we cannot frame: reported anyway, with the labels recovered from
 * the bytes we have, so that its response counts; the responses delimit
 * what follows (reqframe_queued() resyncs).
 */
static enum reqframe_ev head_unframed(struct reqframe *rf, enum reqframe_ev ev, const char *buf, size_t n,
				      uint64_t bytes, struct reqframe_out *out)
{
	reqhead_recover(buf, n, rf->spoke_http, &out->head);
	out->head.flags |= ev == RQ_EV_HEAD_LOST ? WT_RQ_FRAMING_LOST : WT_RQ_UNPARSED;
	/* A traceparent may have been in the bytes not captured. */
	if (ev == RQ_EV_HEAD_LOST && out->head.trace_state == WT_TRACE_NONE)
		out->head.trace_state = WT_TRACE_UNSEEN;
	rf->spoke_http |= n && out->head.proto == WT_PROTO_HTTP;
	rf->parsed = 0;
	out_head(rf, bytes, out);
	return ev;
}

/* A request head starting at (or continuing with) record bytes [*pos, len). */
static enum reqframe_ev head_step(struct reqframe *rf, const struct wt_conn_event *e, const uint8_t *d,
				  uint64_t *pos, uint64_t cap, uint64_t len, struct reqframe_out *out)
{
	struct reqhead *h = &out->head;
	struct head_view v;
	uint64_t start = *pos, stop = len;
	int r;

	if (!rf->head.buf) {
		head_begins(rf, e);
		rf->head.bytes = 0;
		if (start >= cap) {
			/* A request starts in bytes we never saw: its response still counts. */
			*pos = len;
			return head_unframed(rf, RQ_EV_HEAD_LOST, NULL, 0, len - start, out);
		}
	}
	head_view(&rf->head, d, start, cap, len, &v);
	r = reqhead_parse(v.buf, v.n, rf->spoke_http, h);
	if (r > 0 && (size_t)r > v.old) {
		uint64_t here = (uint64_t)r - v.old;

		rf->spoke_http |= h->proto == WT_PROTO_HTTP;
		rf->parsed = 1;
		/* Where the body ends is for the responses to say when the head does not. */
		rf->next = RQ_SYNC;
		if (h->framing_known) {
			rf->next = RQ_HEAD;
			if (h->chunked) {
				http_chunked_init(&rf->body);
				rf->next = RQ_CHUNKED;
			} else if (h->content_length > 0) {
				rf->body.remaining = (uint64_t)h->content_length;
				rf->next = RQ_LEN;
			}
		}
		out_head(rf, rf->head.bytes + here, out);
		*pos = start + here;
		return RQ_EV_HEAD;
	}
	if (r == -2) {
		*pos = len;
		if (head_wait(&rf->head, &v, start, len) == 0)
			return RQ_EV_MORE;
		/* The head goes on in bytes that were not captured. */
		return head_unframed(rf, RQ_EV_HEAD_LOST, v.buf, v.n, rf->head.bytes + (len - start), out);
	}
	/*
	 * A resync guessed wrong (the rest of a request the server gave up on,
	 * read a few bytes at a time): back to waiting, nothing queued.
	 */
	if (rf->guessed) {
		out->body = len - start;
		reqframe_resync(rf);
		*pos = len;
		return RQ_EV_MORE;
	}
	/*
	 * Not a head we can read. Wait for the end of its first line (a slow
	 * client's next bytes may hold the rest of the target), then report it
	 * with the labels recovered.
	 */
	if (rf->spoke_http || reqhead_proto(v.buf, v.n) != WT_PROTO_UWSGI) {
		const char *eol = memchr(v.buf, '\n', v.n);

		if (!eol && head_wait(&rf->head, &v, start, len) == 0) {
			*pos = len;
			return RQ_EV_MORE;
		}
		/*
		 * Past its first line, the resync scan looks for a request
		 * pipelined behind it: the server may well answer that one too.
		 */
		if (eol && (size_t)(eol - v.buf) >= v.old)
			stop = start + (uint64_t)(eol - v.buf) + 1 - v.old;
	}
	*pos = stop;
	return head_unframed(rf, RQ_EV_HEAD_BAD, v.buf, v.n, rf->head.bytes + (stop - start), out);
}

void reqframe_queued(struct reqframe *rf, int queued, uint64_t *pos, uint64_t len)
{
	int parsed = rf->parsed;

	rf->parsed = 0;
	if (parsed && queued && rf->next != RQ_SYNC) {
		head_free(&rf->head);
		rf->sent = 0;
		rf->guessed = 0;
		rf->state = rf->next;
		return;
	}
	/* A body not followed: without its request queued it is nobody's. */
	if (parsed && !queued && pos)
		*pos = len;
	reqframe_resync(rf);
}

int reqframe_answered(struct reqframe *rf, struct reqframe_out *out)
{
	if (!rf->head.buf)
		return 0;
	memset(out, 0, sizeof(*out));
	head_unframed(rf, RQ_EV_HEAD_BAD, rf->head.buf, rf->head.len, rf->head.bytes, out);
	return 1;
}

/*
 * RQ_SYNC: scan record bytes [*pos, len) line by line (the current line
 * kept in head) for a request line. A request pipelined behind one whose
 * framing is unknown or that did not parse is read by the server next, and
 * its response must find it queued. Stops where its head starts (RQ_HEAD
 * then, with the line already gathered), or at len.
 */
static enum reqframe_ev sync_scan(struct reqframe *rf, const struct wt_conn_event *e, const uint8_t *d,
				  uint64_t *pos, uint64_t cap, uint64_t len, struct reqframe_out *out)
{
	struct headbuf *l = &rf->head;
	uint64_t start = *pos, i;

	for (i = start; i < cap; i++) {
		if (l->len == 0)
			head_begins(rf, e);
		if (!rf->sync_bad && !l->buf && !(l->buf = malloc(HEAD_MAX)))
			rf->sync_bad = 1;
		if (!rf->sync_bad && l->len < SYNC_LINE_MAX)
			l->buf[l->len++] = (char)d[i];
		else
			rf->sync_bad = 1;
		if (d[i] != '\n')
			continue;
		if (!rf->sync_bad && reqhead_is_request_line(l->buf, l->len)) {
			uint64_t line = l->len < i + 1 - start ? l->len : i + 1 - start;
			int sent = rf->sent;

			out->body = i + 1 - start - line;
			l->bytes = l->len;
			rf->state = RQ_HEAD;
			rf->guessed = 1;
			*pos = i + 1;
			return sent ? RQ_EV_SYNC : RQ_EV_MORE;
		}
		l->len = 0;
		rf->sync_bad = 0;
	}
	/* Bytes not captured: the line they are in cannot be read. */
	if (cap < len)
		rf->sync_bad = 1;
	out->body = len - start;
	*pos = len;
	return RQ_EV_MORE;
}

/* Could the line gathered so far in RQ_SYNC be the start of a method? */
static int sync_line_is_method_start(const struct reqframe *rf)
{
	uint32_t i;

	for (i = 0; i < rf->head.len; i++)
		if (!(rf->head.buf[i] >= 'A' && rf->head.buf[i] <= 'Z'))
			return 0;
	return 1;
}

enum reqframe_ev reqframe_read(struct reqframe *rf, const uint8_t *d, uint64_t cap, int tail, int gap)
{
	/*
	 * A read's tail goes on where the read's captured part ended, or
	 * somewhere past it: then the line the resync scan meets first is a
	 * part of one.
	 */
	if (tail) {
		if (gap && rf->state == RQ_SYNC)
			rf->sync_bad = 1;
		return RQ_EV_MORE;
	}
	/*
	 * A request-looking read after a send ends a response we cannot frame,
	 * unless it continues a method the resync scan has the start of.
	 */
	if ((rf->state == RQ_SYNC || (rf->state == RQ_HEAD && !rf->head.buf)) && rf->sent &&
	    wt_looks_like_request(d, (__u32)cap) &&
	    !(rf->state == RQ_SYNC && rf->head.len && !rf->sync_bad && sync_line_is_method_start(rf))) {
		if (rf->state == RQ_SYNC) {
			head_free(&rf->head);
			rf->state = RQ_HEAD;
			rf->guessed = 1;
		}
		return RQ_EV_SYNC;
	}
	return RQ_EV_MORE;
}

enum reqframe_ev reqframe_step(struct reqframe *rf, const struct wt_conn_event *e, const uint8_t *d,
			       uint64_t *pos, uint64_t cap, uint64_t len, struct reqframe_out *out)
{
	uint64_t start = *pos, n;
	int r;

	out->body = 0;
	switch (rf->state) {
	case RQ_LEN:
		r = length_step(&rf->body.remaining, pos, len);
		out->body = *pos - start;
		if (r)
			rf->state = RQ_HEAD;
		return RQ_EV_MORE;
	case RQ_CHUNKED:
		r = chunked_step(&rf->body, d, pos, cap, len);
		out->body = *pos - start;
		if (r == 1)
			rf->state = RQ_HEAD;
		if (r >= 0)
			return RQ_EV_MORE;
		/* The resync scan reads on from where the chunk framing failed. */
		reqframe_resync(rf);
		return r == -1 ? RQ_EV_BODY_LOST : RQ_EV_BODY_BAD;
	case RQ_HEAD:
		/*
		 * Some clients send a CRLF after a body; it starts nothing,
		 * unless it may be the start of a PROXY v2 signature.
		 */
		if (!rf->head.buf) {
			while (*pos < cap && (d[*pos] == '\r' || d[*pos] == '\n') &&
			       http_proxy_header_len((const char *)d + *pos, cap - *pos) == 0)
				(*pos)++;
			if (*pos == len)
				return RQ_EV_MORE;
			/*
			 * Empty lines up to the end of the capture (the last few
			 * no PROXY v2 signature after all): more of them may
			 * follow, or a request (RFC 9112 2.2). The resync scan
			 * finds it in what is captured next (the read's tail); a
			 * response to bytes never seen counts all the same.
			 */
			for (n = *pos; n < cap && (d[n] == '\r' || d[n] == '\n'); n++)
				;
			if (n == cap && n > start && cap < len) {
				reqframe_resync(rf);
				*pos = cap;
				return RQ_EV_MORE;
			}
		}
		return head_step(rf, e, d, pos, cap, len, out);
	default: /* RQ_SYNC */
		return sync_scan(rf, e, d, pos, cap, len, out);
	}
}
