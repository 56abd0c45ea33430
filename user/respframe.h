/* SPDX-License-Identifier: MIT */
/*
 * Response framing for the connection tracker: where each response a
 * server writes on a connection ends, from its status line, its headers and
 * its body's length (Content-Length, chunked, or the close), over the send
 * records the kernel reports, captured or not. It knows nothing of requests:
 * the tracker says whether the response may have a body (not to a HEAD) and
 * pairs what this reports with the requests it queued.
 */
#ifndef WT_RESPFRAME_H
#define WT_RESPFRAME_H

#include <stdint.h>

#include "framing.h"
#include "http_parse.h"

enum respframe_state {
	RF_HEAD = 0, /* next bytes start a response head */
	RF_LEN,      /* Content-Length body: body.remaining bytes left */
	RF_CHUNKED,  /* chunked body: body decodes */
	RF_CLOSE,    /* body runs to the close */
	RF_LOST,     /* framing lost: every send belongs to the current response */
};

struct respframe {
	struct headbuf head; /* a head spanning records */
	struct http_chunked body;
	uint8_t state; /* enum respframe_state */
};

/* What one step over a send's bytes found. */
enum respframe_ev {
	RF_EV_MORE = 0, /* bytes taken; the response goes on */
	RF_EV_INTERIM,  /* an interim head (1xx but 101) ended at *pos */
	RF_EV_FINAL,    /* a final head ended at *pos, its status in *status; a body follows */
	RF_EV_END,      /* the response ended at *pos; *status when its final head ended here too */
	RF_EV_UPGRADE,  /* a 101 head ended at *pos: the connection leaves HTTP */
	RF_EV_LOST,     /* framing lost, every byte taken; *status when the status line could be read */
};

/*
 * One step over send bytes [*pos, len), of which [0, cap) were captured,
 * in the current response. *status is set (else 0) by FINAL, END, UPGRADE
 * and LOST; *bad when bytes were no HTTP a server may send.
 */
enum respframe_ev respframe_step(struct respframe *rf, const uint8_t *d, uint64_t *pos, uint64_t cap,
				 uint64_t len, int no_body, int *status, int *bad);
/* The next bytes start a response head; a head in progress is dropped. */
void respframe_reset(struct respframe *rf);
/* The response has no end of its own (close-delimited) or its end was lost. */
int respframe_unframed(const struct respframe *rf);
/* The status of a status line starting d[0..n), else -1. */
int respframe_status_line(const uint8_t *d, uint64_t n);

#endif /* WT_RESPFRAME_H */
