/* SPDX-License-Identifier: MIT */
/*
 * TLS plaintext of traced processes: attach the SSL uprobes (bpf/tls.bpf.h)
 * to each traced process's own libssl, never to the library for the whole
 * node, and detach them when it exits.
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

/* Why a process's TLS cannot be read (wsgitrace_tls_unreadable_processes_total's reason). */
enum tls_unreadable {
	TLS_NO_SYMBOLS = 0, /* a libssl is mapped, but its SSL functions cannot be found or probed */
	TLS_REASONS,
};

struct tlsattach_client;

/* Forks the helper that attaches (before the daemon drops its capabilities). */
struct tlsattach_client *tlsattach_new(const struct tls_progs *p);
/*
 * Attach to pid's libssl if it maps one, once. -> 1 attached (or already),
 * 0 no libssl mapped (yet: a server maps it when it imports ssl; retried by
 * tlsattach_retry for a while), -1 it cannot be read (counted, logged once).
 */
int tlsattach_pid(struct tlsattach_client *t, uint32_t pid);
/* The process exited: its probes go. */
void tlsattach_forget(struct tlsattach_client *t, uint32_t pid);
/* Retry processes that had no libssl mapped when first seen (a few seconds at most). */
void tlsattach_retry(struct tlsattach_client *t, uint64_t now_ns);
/* wsgitrace_tls_* families; untied: the kernel side's WT_KS_TLS_UNTIED. */
void tlsattach_render(const struct tlsattach_client *t, uint64_t untied, struct strbuf *sb);
void tlsattach_free(struct tlsattach_client *t);

#endif /* WT_TLSATTACH_H */
