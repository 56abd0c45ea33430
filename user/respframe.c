// SPDX-License-Identifier: MIT
#include "respframe.h"

void respframe_reset(struct respframe *rf)
{
	rf->state = RF_HEAD;
	head_free(&rf->head);
}

int respframe_unframed(const struct respframe *rf)
{
	return rf->state == RF_CLOSE || rf->state == RF_LOST;
}

int respframe_status_line(const uint8_t *d, uint64_t n)
{
	struct http_response hr;

	return http_parse_status_line((const char *)d, n, &hr) > 0 ? hr.status : -1;
}

static enum respframe_ev lost(struct respframe *rf, uint64_t *pos, uint64_t len)
{
	head_free(&rf->head);
	rf->state = RF_LOST;
	*pos = len;
	return RF_EV_LOST;
}

/* A response head starting at (or continuing with) record bytes [*pos, len). */
static enum respframe_ev head_step(struct respframe *rf, const uint8_t *d, uint64_t *pos, uint64_t cap,
				   uint64_t len, int no_body, int *status, int *bad)
{
	struct http_response hr;
	struct head_view v;
	int r;

	if (!rf->head.buf && *pos >= cap)
		return lost(rf, pos, len);
	head_view(&rf->head, d, *pos, cap, len, &v);
	r = http_parse_response(v.buf, v.n, &hr);
	if (r > 0 && (size_t)r > v.old) {
		*pos += (uint64_t)r - v.old;
		head_free(&rf->head);
		/* Interim responses (100 Continue) neither label nor end it. */
		if (hr.status < 200 && hr.status != 101)
			return RF_EV_INTERIM;
		*status = hr.status;
		/*
		 * The connection leaves HTTP. A 2xx to CONNECT opens no tunnel
		 * here: WSGI servers answer it as any request and read the next one.
		 */
		if (hr.status == 101)
			return RF_EV_UPGRADE;
		if (no_body || hr.status == 204 || hr.status == 304 || hr.content_length == 0)
			return RF_EV_END;
		if (hr.chunked) {
			http_chunked_init(&rf->body);
			rf->state = RF_CHUNKED;
		} else if (hr.content_length > 0) {
			rf->body.remaining = (uint64_t)hr.content_length;
			rf->state = RF_LEN;
		} else {
			rf->state = RF_CLOSE;
		}
		return RF_EV_FINAL;
	}
	if (r == -2) {
		if (head_wait(&rf->head, &v, *pos, len) == 0) {
			*pos = len;
			return RF_EV_MORE;
		}
	} else {
		*bad = 1;
	}
	/* The status line alone may still have been captured. */
	if (http_parse_status_line(v.buf, v.n, &hr) > 0 && hr.status >= 200)
		*status = hr.status;
	return lost(rf, pos, len);
}

enum respframe_ev respframe_step(struct respframe *rf, const uint8_t *d, uint64_t *pos, uint64_t cap,
				 uint64_t len, int no_body, int *status, int *bad)
{
	int r;

	*status = 0;
	*bad = 0;
	switch (rf->state) {
	case RF_HEAD:
		return head_step(rf, d, pos, cap, len, no_body, status, bad);
	case RF_LEN:
		if (!length_step(&rf->body.remaining, pos, len))
			return RF_EV_MORE;
		rf->state = RF_HEAD;
		return RF_EV_END;
	case RF_CHUNKED:
		r = chunked_step(&rf->body, d, pos, cap, len);
		if (r == 1) {
			rf->state = RF_HEAD;
			return RF_EV_END;
		}
		if (r == 0)
			return RF_EV_MORE;
		*bad = r == -2;
		return lost(rf, pos, len);
	default: /* RF_CLOSE, RF_LOST */
		*pos = len;
		return RF_EV_MORE;
	}
}
