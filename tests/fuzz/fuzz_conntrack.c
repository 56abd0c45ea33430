// SPDX-License-Identifier: MIT
/*
 * conntrack under libFuzzer: the input is a script of records on four
 * connections. Each record: an op byte, a captured-length byte, a gap byte
 * (bytes the call moved past the capture) and the captured bytes. Checks the
 * invariants every consumer relies on, the labels' included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "labels.h"
#include "strbuf.h"

/* A label value is valid UTF-8 with no control character. */
static void check_label(const char *s)
{
	size_t i = 0, n = strlen(s);

	while (i < n) {
		size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);

		if (!k || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)))
			abort();
		i += k;
	}
}

static unsigned ignored;

static void on_ignore(uint64_t sk, uint64_t ino, void *ctx)
{
	ignored++;
}

static void on_request(const struct wt_request *rq, void *ctx)
{
	if (!rq->method || rq->end_ns < rq->start_ns || rq->path_len > WT_PATH_MAX)
		abort();
	if (rq->status < 100 || rq->status > 999)
		abort();
	if (rq->path_len && !rq->path)
		abort();
	/* Touch every byte of the path: ASan checks it is ours. */
	{
		volatile unsigned sum = 0;
		size_t i;

		for (i = 0; i < rq->path_len; i++)
			sum += (unsigned char)rq->path[i];
		(void)sum;
	}
	{
		struct wt_labels l;

		labels_build(rq, rq->tid & 1, &l);
		check_label(l.method);
		check_label(l.route);
		if (!l.route[0])
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conntrack_opts o = {
		.max_conns = 3,
		.max_pending = 4,
		.unix_grace_ns = 50,
		.idle_timeout_ns = 1000,
		.ignore = on_ignore,
	};
	struct conntrack *ct = conntrack_new(&o, on_request, NULL);
	struct wt_conn_event *e = malloc(sizeof(*e));
	uint64_t ts = 1, ino[4] = { 1, 1, 1, 1 };
	size_t off = 0;

	if (!ct || !e)
		goto out;
	while (off + 3 <= size) {
		uint8_t op = data[off], cap = data[off + 1], gap = data[off + 2];
		unsigned conn = op & 3, kind = (op >> 2) & 7;

		off += 3;
		if (cap > size - off)
			cap = (uint8_t)(size - off);
		ts += (op >> 5) + 1;
		memset(e, 0, offsetof(struct wt_conn_event, data));
		e->ts_ns = ts;
		e->sk = 0x1000 + conn;
		e->ino = ino[conn];
		e->tgid = 100 + (conn & 1);
		e->tid = 200 + (op >> 6);
		e->type = WT_EV_DATA;
		e->flags = (op & 0x80) ? WT_F_UNIX : 0;
		switch (kind) {
		case 0: case 1: case 2:
			e->dir = WT_DIR_RECV;
			/* A read whose tail follows, or a tail, due or not. */
			if (kind && (gap & 0x08))
				e->flags |= kind == 1 ? WT_F_TAILED : WT_F_TAIL;
			break;
		case 3: case 4:
			e->dir = WT_DIR_SEND;
			break;
		case 5:
			e->type = gap & 1 ? WT_EV_ACKED : WT_EV_CLOSE;
			e->unacked = gap & 2;
			if (gap & 8)
				e->flags |= WT_F_RESET;
			e->ino = gap & 4 ? 0 : ino[conn];
			conntrack_event(ct, e);
			continue;
		case 6:
			if (gap & 1) {
				e->dir = WT_DIR_SEND;
				e->flags |= WT_F_NODATA;
				e->len = cap + 1;
				e->unacked = gap & 2;
				conntrack_event(ct, e);
			} else if (gap & 2) {
				ino[conn]++;
			} else if (gap & 4) {
				conntrack_proc_exit(ct, 100 + (conn & 1), ts);
			} else {
				ts += gap;
				conntrack_tick(ct, ts);
			}
			continue;
		default:
			e->dir = (gap & 1) ? WT_DIR_SEND : WT_DIR_RECV;
			e->flags |= WT_F_NEW;
			break;
		}
		memcpy(e->data, data + off, cap);
		off += cap;
		e->cap_len = cap;
		/* Gaps up to ~16 MB: bodies and lost framing. */
		e->len = (int32_t)cap + (int32_t)gap * (gap & 0x80 ? 131072 : 1);
		if (e->len <= 0)
			continue;
		if (e->dir == WT_DIR_SEND)
			e->unacked = gap & 0x40;
		/* Accepted connections are followed from any first byte. */
		if (gap & 0x20) {
			e->flags |= WT_F_ACCEPTED;
			e->est_ns = gap & 0x10 ? ts : 0;
		}
		conntrack_event(ct, e);
		if (conntrack_stats(ct)->conns_active > o.max_conns)
			abort();
	}
	conntrack_tick(ct, ts + 100000);
	if (conntrack_stats(ct)->conns_active != 0)
		abort();
	/* The kernel side is told once per connection found not to be HTTP. */
	if (ignored != conntrack_stats(ct)->not_http)
		abort();
	ignored = 0;
out:
	conntrack_free(ct);
	free(e);
	return 0;
}
