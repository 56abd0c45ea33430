/* SPDX-License-Identifier: MIT */
/*
 * TLS plaintext of traced processes: attach the SSL uprobes (bpf/tls.bpf.h)
 * to each traced process's own libssl, never to the library for the whole
 * node, inherited by what it forks, and detach them when it exits.
 */
#ifndef WT_TLSATTACH_H
#define WT_TLSATTACH_H

#include <stdint.h>

#include "strbuf.h"

struct bpf_program;

/* The programs of tls.bpf.h, taken from the loaded object. */
struct tls_progs {
	struct bpf_program *read, *read_ex, *write, *write_ex, *handshake, *exit;
};

/*
 * Why TLS is not read: a process's (wsgitrace_tls_unreadable_processes_total)
 * or a connection's (wsgitrace_tls_unread_connections_total) reason.
 */
enum tls_reason {
	TLS_NO_SYMBOLS = 0, /* a libssl is mapped, but its SSL functions cannot be found or probed */
	TLS_NO_LIBSSL,      /* TLS served with no libssl mapped: static OpenSSL, BoringSSL, another library */
	TLS_PROC_REASONS,
	TLS_BEFORE_ATTACH = TLS_PROC_REASONS, /* a connection begun before its process's probes */
	TLS_REASONS,
};

struct tlsattach_client;

/*
 * The helper that attaches is told of traced processes one way: none of
 * these waits for it (attaching a probe can take seconds on a busy node),
 * so reading the ring buffer never does. Its totals come back on its
 * socket, read by tlsattach_pump.
 */

/* Forks the helper that attaches (before the daemon drops its capabilities). */
struct tlsattach_client *tlsattach_new(const struct tls_progs *p);
/*
 * Attach to pid's libssl if it maps one, once. A process with no libssl
 * mapped yet (a server maps it when it imports ssl) is looked at again by
 * tlsattach_retry for a while; one whose SSL functions cannot be probed is
 * counted and logged once.
 */
void tlsattach_pid(struct tlsattach_client *t, uint32_t pid);
/*
 * pid was forked by ppid (the fork record's time stamp): it carries the
 * parent's probes if they are inherited, else it is attached as by
 * tlsattach_pid.
 */
void tlsattach_fork(struct tlsattach_client *t, uint32_t pid, uint32_t ppid, uint64_t ts_ns);
/* The process exited or exec'd: its probes go. */
void tlsattach_forget(struct tlsattach_client *t, uint32_t pid);
/* Retry processes that had no libssl mapped when first seen (a few seconds at most). */
void tlsattach_retry(struct tlsattach_client *t, uint64_t now_ns);
/*
 * pid wrote a TLS record where an HTTP response was expected: its TLS was
 * not read. The helper counts it by why (a process found to serve TLS
 * without libssl is named once in the log).
 */
void tlsattach_unread(struct tlsattach_client *t, uint32_t pid);
/* The helper's socket and what to poll it for: its totals, and room for notices queued. */
int tlsattach_fd(const struct tlsattach_client *t);
short tlsattach_poll_events(const struct tlsattach_client *t);
/* Send queued notices the socket has room for, and read the helper's latest totals. Never waits. */
void tlsattach_pump(struct tlsattach_client *t);
/* wsgitrace_tls_* families; untied: the kernel side's WT_KS_TLS_UNTIED. */
void tlsattach_render(const struct tlsattach_client *t, uint64_t untied, struct strbuf *sb);
void tlsattach_free(struct tlsattach_client *t);

#endif /* WT_TLSATTACH_H */
