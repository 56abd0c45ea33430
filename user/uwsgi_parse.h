/* SPDX-License-Identifier: MIT */
/*
 * The uwsgi binary request packet (what nginx uwsgi_pass and the uWSGI router
 * send to a worker): a 4-byte header (modifier1 u8, datasize u16 little
 * endian, modifier2 u8), then datasize bytes of vars, each a u16le key
 * length, the key, a u16le value length and the value.
 *
 * Same return convention as http_parse.h: bytes of the packet (4 + datasize),
 * -1 if it cannot be a packet, -2 if more bytes are needed.
 */
#ifndef WT_UWSGI_PARSE_H
#define WT_UWSGI_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define UWSGI_HDR_LEN 4

struct uwsgi_request {
	uint8_t modifier1;
	uint8_t modifier2;
	uint16_t datasize;
	const char *method; /* REQUEST_METHOD's value, into buf; NULL when absent (or not seen: -2) */
	size_t method_len;
	const char *path; /* REQUEST_URI, else PATH_INFO, as sent (query included); into buf */
	size_t path_len;  /* 0: neither was seen */
	int path_cut;     /* the bytes at hand end inside the value: path is its start only */
	int64_t content_length; /* body bytes after the packet; -1 if absent or empty */
	int chunked;            /* HTTP_TRANSFER_ENCODING ends in chunked */
	int expect_continue;    /* HTTP_EXPECT: 100-continue */
	int framing_known;      /* 0: CONTENT_LENGTH did not parse, the body's end is unknown */
	const char *traceparent; /* HTTP_TRACEPARENT's value, into buf; NULL: none (the last of several) */
	size_t traceparent_len;
	unsigned traceparent_n; /* HTTP_TRACEPARENT vars seen (counted up to 255) */
};

/*
 * Parse a packet. On -2 the fields of the vars that lie wholly inside buf are
 * set already, and the path from a REQUEST_URI or PATH_INFO cut by the end
 * of buf (path_cut), so a caller whose bytes were cut short can still label
 * the request. Lenient where uWSGI is: any modifier1 and modifier2, empty
 * keys and values, no REQUEST_METHOD; only sizes that overrun the packet and
 * an empty packet are errors.
 */
int uwsgi_parse_request(const char *buf, size_t len, struct uwsgi_request *req);

#endif /* WT_UWSGI_PARSE_H */
