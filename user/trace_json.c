// SPDX-License-Identifier: MIT
#include "trace_json.h"

#include <string.h>

void trace_json_string(struct strbuf *sb, const char *str, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	sb_putc(sb, '"');
	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			i++;
			continue;
		}
		k = c < 0x80 ? 1 : utf8_seq_len(s + i, n - i);
		if (k > 1) {
			i += k;
			continue;
		}
		sb_append(sb, s + run, i - run);
		switch (c) {
		case '"': sb_append(sb, "\\\"", 2); break;
		case '\\': sb_append(sb, "\\\\", 2); break;
		case '\n': sb_append(sb, "\\n", 2); break;
		case '\r': sb_append(sb, "\\r", 2); break;
		case '\t': sb_append(sb, "\\t", 2); break;
		case '\b': sb_append(sb, "\\b", 2); break;
		case '\f': sb_append(sb, "\\f", 2); break;
		default:
			if (c < 0x80) {
				char esc[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};

				sb_append(sb, esc, 6);
			} else {
				sb_append(sb, "\\ufffd", 6);
			}
		}
		i++;
		run = i;
	}
	sb_append(sb, s + run, i - run);
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

int trace_json_format(struct strbuf *sb, const struct wt_request *rq, const char *service)
{
	uint64_t d = rq->end_ns > rq->start_ns ? rq->end_ns - rq->start_ns : 0;
	char frac[10];
	uint64_t f = d % 1000000000ull;
	int i, first = 1;
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = {
		{WT_RQ_CLOSE_DELIMITED, "close_delimited"},
		{WT_RQ_FRAMING_LOST, "framing_lost"},
		{WT_RQ_PATH_TRUNCATED, "path_truncated"},
	};

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
	if (rq->method)
		trace_json_string(sb, rq->method, strlen(rq->method));
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"path\":");
	trace_json_string(sb, rq->path ? rq->path : "", rq->path ? rq->path_len : 0);
	sb_puts(sb, ",\"status\":");
	sb_put_i64(sb, rq->status);
	/* Exact decimal of the nanoseconds: no float formatting involved. */
	sb_puts(sb, ",\"duration_seconds\":");
	sb_put_u64(sb, d / 1000000000ull);
	for (i = 8; i >= 0; i--) {
		frac[i] = (char)('0' + f % 10);
		f /= 10;
	}
	sb_putc(sb, '.');
	sb_append(sb, frac, 9);
	sb_puts(sb, ",\"start_ns\":");
	sb_put_u64(sb, rq->start_ns);
	sb_puts(sb, ",\"end_ns\":");
	sb_put_u64(sb, rq->end_ns);
	sb_puts(sb, ",\"req_bytes\":");
	sb_put_u64(sb, rq->req_bytes);
	sb_puts(sb, ",\"resp_bytes\":");
	sb_put_u64(sb, rq->resp_bytes);
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
