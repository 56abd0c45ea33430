// SPDX-License-Identifier: MIT
#include "trace_json.h"

#include <string.h>

#include "labels.h"

/* JSON strings: control characters and DEL as escapes, so a line stays one line. */
static const char *const json_esc[128] = {
	"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
	"\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
	"\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
	"\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	['"'] = "\\\"", ['\\'] = "\\\\", [0x7f] = "\\u007f",
};

void trace_json_string(struct strbuf *sb, const char *str, size_t n)
{
	sb_putc(sb, '"');
	sb_append_escaped(sb, str, n, json_esc, "\\ufffd");
	sb_putc(sb, '"');
}

static void put_hex(struct strbuf *sb, uint64_t v)
{
	static const char hexd[] = "0123456789abcdef";
	char tmp[16];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = hexd[v & 15];
		v >>= 4;
	} while (v);
	sb_append(sb, tmp + i, sizeof(tmp) - i);
}

/* Exact decimal of the nanoseconds: no float formatting involved. */
static void put_seconds(struct strbuf *sb, uint64_t ns)
{
	char frac[9];
	uint64_t f = ns % 1000000000ull;

	sb_put_u64(sb, ns / 1000000000ull);
	for (int i = 8; i >= 0; i--) {
		frac[i] = (char)('0' + f % 10);
		f /= 10;
	}
	sb_putc(sb, '.');
	sb_append(sb, frac, 9);
}

int trace_json_format(struct strbuf *sb, const struct wt_request *rq, const char *service, int fold_ids)
{
	struct wt_labels l;
	uint64_t d = rq->end_ns > rq->start_ns ? rq->end_ns - rq->start_ns : 0;
	int i, first = 1;
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = {
		{WT_RQ_CLOSE_DELIMITED, "close_delimited"},
		{WT_RQ_FRAMING_LOST, "framing_lost"},
		{WT_RQ_PATH_TRUNCATED, "path_truncated"},
		{WT_RQ_TARGET_TRUNCATED, "target_truncated"},
		{WT_RQ_NO_REQUEST, "no_request"},
		{WT_RQ_UNPARSED, "unparsed"},
		{WT_RQ_CUT, "cut"},
	};

	labels_build(rq, fold_ids, &l);

	sb_puts(sb, "{\"pid\":");
	sb_put_u64(sb, rq->tgid);
	sb_puts(sb, ",\"tid\":");
	sb_put_u64(sb, rq->tid);
	sb_puts(sb, ",\"service\":");
	if (service)
		trace_json_string(sb, service, strlen(service));
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"proto\":");
	sb_puts(sb, rq->proto == WT_PROTO_UWSGI ? "\"uwsgi\"" : "\"http\"");
	sb_puts(sb, ",\"method\":");
	trace_json_string(sb, l.method, strlen(l.method));
	sb_puts(sb, ",\"route\":");
	trace_json_string(sb, l.route, strlen(l.route));
	sb_puts(sb, ",\"path\":");
	trace_json_string(sb, rq->path ? rq->path : "", rq->path ? rq->path_len : 0);
	sb_puts(sb, ",\"status\":");
	sb_put_i64(sb, rq->status);
	sb_puts(sb, ",\"duration_seconds\":");
	put_seconds(sb, d);
	/* null where it was not measured (a kept-alive request, AF_UNIX) */
	sb_puts(sb, ",\"queue_seconds\":");
	if (rq->queue_ns)
		put_seconds(sb, rq->queue_ns);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"start_ns\":");
	sb_put_u64(sb, rq->start_ns);
	sb_puts(sb, ",\"end_ns\":");
	sb_put_u64(sb, rq->end_ns);
	sb_puts(sb, ",\"req_bytes\":");
	sb_put_u64(sb, rq->req_bytes);
	sb_puts(sb, ",\"resp_bytes\":");
	sb_put_u64(sb, rq->resp_bytes);
	/* The request's own W3C trace, as its exemplar carries it; null without a valid one. */
	if (rq->trace_state == WT_TRACE_OK) {
		char tid[TRACE_ID_HEX + 1], sid[SPAN_ID_HEX + 1];

		traceparent_hex(rq->trace.trace_id, sizeof(rq->trace.trace_id), tid);
		traceparent_hex(rq->trace.span_id, sizeof(rq->trace.span_id), sid);
		sb_puts(sb, ",\"trace_id\":\"");
		sb_puts(sb, tid);
		sb_puts(sb, "\",\"span_id\":\"");
		sb_puts(sb, sid);
		sb_putc(sb, '"');
	} else {
		sb_puts(sb, ",\"trace_id\":null,\"span_id\":null");
	}
	sb_puts(sb, ",\"conn\":\"");
	put_hex(sb, rq->sk);
	sb_puts(sb, "\",\"flags\":[");
	for (i = 0; i < (int)(sizeof(flags) / sizeof(flags[0])); i++) {
		if (!(rq->flags & flags[i].bit))
			continue;
		if (!first)
			sb_putc(sb, ',');
		first = 0;
		sb_putc(sb, '"');
		sb_puts(sb, flags[i].name);
		sb_putc(sb, '"');
	}
	sb_puts(sb, "]}\n");
	return sb_ok(sb) ? 0 : -1;
}
