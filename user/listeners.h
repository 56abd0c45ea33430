/* SPDX-License-Identifier: MIT */
/*
 * Listening TCP sockets of a server process, read from the kernel's socket
 * diagnostics (inet_diag) on demand: the accept queue's length and limit
 * and the connections it dropped, with no hook on any packet.
 */
#ifndef WT_LISTENERS_H
#define WT_LISTENERS_H

#include <stdint.h>

struct listener {
	char address[64]; /* "127.0.0.1:8000", "[::]:8000" */
	uint16_t port;
	uint32_t queued; /* connections in the accept queue now */
	uint32_t limit;  /* the queue's limit (listen()'s backlog, capped by somaxconn) */
	uint64_t drops;  /* connections dropped at this socket, the full queue among them */
	uint64_t ino;
};

typedef void (*listener_fn)(const struct listener *l, void *ctx);

/*
 * Calls fn for each TCP socket in LISTEN state that pid holds open, in the
 * pid's network namespace (entered for the query when it is not ours; that
 * takes CAP_SYS_ADMIN, and another user's /proc/PID/fd CAP_SYS_PTRACE).
 * Returns how many, or -errno.
 */
int listeners_of(uint32_t pid, listener_fn fn, void *ctx);

/*
 * The same through a reader process forked while the daemon still holds
 * those capabilities: the daemon then drops them all, and the reader, which
 * parses nothing from the network (it is only ever given pids), keeps them.
 * It exits with the daemon.
 */
struct listener_reader;
struct listener_reader *listeners_reader_start(void);
int listeners_read(struct listener_reader *r, uint32_t pid, listener_fn fn, void *ctx);
void listeners_reader_stop(struct listener_reader *r);

#endif /* WT_LISTENERS_H */
