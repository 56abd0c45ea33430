/* SPDX-License-Identifier: MIT */
/* Capture: the BPF object's lifecycle (open, configure, load, attach) and its ring. */
#ifndef WT_CAPTURE_H
#define WT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsgitrace.h"

enum wt_hooks {
	WT_HOOKS_AUTO = 0,  /* sockets where the kernel has them, else syscalls */
	WT_HOOKS_SOCKETS,   /* raw tracepoints sock_send_length/sock_recv_length */
	WT_HOOKS_SYSCALLS,  /* sys_enter/sys_exit of the I/O syscalls */
};

struct capture_opts {
	bool auto_discover;   /* exec of gunicorn/uwsgi starts tracing it */
	enum wt_hooks hooks;
	size_t ringbuf_bytes; /* power of two */
	uint32_t max_conns;   /* kernel-side connection table */
	bool verbose;         /* libbpf debug output */
	uint32_t stage;       /* enum wt_stage: WT_STAGE_FULL but for `make bench` */
};

/* Called for each ring record; `data` holds one of the structs of wsgitrace.h. */
typedef void (*capture_event_fn)(const void *data, size_t size, void *ctx);

struct capture;
struct progstat;
struct promtext_table;

/* Returns 0, or -errno with a message in err that says what to do. */
int capture_open(struct capture **out, const struct capture_opts *o, capture_event_fn fn,
		 void *ctx, char *err, size_t errlen);
/* Start tracing pid; root is the server process it belongs to. */
int capture_trace_pid(struct capture *c, uint32_t pid, uint32_t root);
/* Stop tracing pid (not what it forked before). */
void capture_untrace_pid(struct capture *c, uint32_t pid);
/* The fd to poll: readable when the kernel side asks to be drained early. */
int capture_fd(const struct capture *c);
/* Drain every record in the ring; returns records handled or -errno. */
int capture_consume(struct capture *c);
/* Sum over CPUs of the kernel-side counters (enum wt_kstat). */
void capture_kstats(const struct capture *c, uint64_t *out, size_t n);
/* The same, for the self metrics: read now. */
struct capture_stats {
	uint64_t ks[WT_KS_MAX];
};
const struct capture_stats *capture_stats(struct capture *c);
/* The self metrics of capture_stats() (promtext.h). */
extern const struct promtext_table capture_metrics;
/*
 * No more records for this connection: it carries a protocol the daemon
 * does not speak. Its close is still reported. 0, or -errno (-ENOENT: it
 * has closed already).
 */
int capture_ignore_conn(struct capture *c, uint64_t sk, uint64_t ino);
/*
 * A listening port of a traced server: its connections' handshakes are noted
 * from now on (queue time) before their first request is read.
 */
void capture_server_port(struct capture *c, uint16_t port);
/*
 * Turn the kernel's BPF run-time statistics on until capture_close()
 * (bpf_enable_stats: on while its fd is open). Needs CAP_SYS_ADMIN, so before
 * privileges are dropped. 0, or -errno.
 */
int capture_enable_stats(struct capture *c);
/* Whether the kernel counts BPF programs' run time: --bpf-stats, or the sysctl (an fd another process holds does not show). */
bool capture_stats_on(const struct capture *c);
/* Run time and runs of each loaded program, at most n; -> how many filled. */
size_t capture_prog_stats(const struct capture *c, struct progstat *out, size_t n);
const char *capture_hooks_name(const struct capture *c);
struct tls_progs;
/* The SSL probes' programs, for user/tlsattach.c to attach per process. */
void capture_tls_progs(const struct capture *c, struct tls_progs *p);
void capture_close(struct capture *c);

#endif /* WT_CAPTURE_H */
