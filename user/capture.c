// SPDX-License-Identifier: MIT
/*
 * Capture: open -> configure rodata and map sizes -> load -> attach, and the
 * ring buffer the kernel side writes to. Only the programs of the chosen hook
 * set are loaded, so the syscall tracepoints (which slow every syscall on the
 * node) are never attached unless they are the path in use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "capture.h"
#include "preflight.h"
#include "progstats.h"
#include "promtext.h"
#include "tlsattach.h"
#include "wsgitrace.h"
#include "wsgitrace.skel.h"

struct capture {
	struct wsgitrace_bpf *skel;
	struct ring_buffer *rb;
	capture_event_fn fn;
	void *ctx;
	enum wt_hooks hooks;
	bool raw_syscalls; /* syscall hooks as raw tracepoints: no tracefs to be had */
	int ncpu;
	int stats_fd; /* bpf_enable_stats(): the kernel's BPF statistics stay on while it is open */
	struct capture_stats st;
};

static bool verbose_libbpf;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;

	c->fn(data, size, c->ctx);
	return 0;
}

/* The socket tracepoints exist from 6.4; their BTF typedef says so without tracefs. */
static bool kernel_has_sock_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has;

	if (!btf)
		return false;
	has = btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
	      btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return has;
}

/* Loads only the programs of the hook set in use: the others are never attached. */
static void set_autoload(struct wsgitrace_bpf *s, enum wt_hooks hooks, bool raw_syscalls)
{
	bool sys = hooks == WT_HOOKS_SYSCALLS;
	struct bpf_program *p;

	bpf_object__for_each_program(p, s->obj) {
		if (strncmp(bpf_program__section_name(p), "tracepoint/syscalls/", 20) == 0)
			bpf_program__set_autoload(p, sys && !raw_syscalls);
	}
	bpf_program__set_autoload(s->progs.raw_sys_enter, sys && raw_syscalls);
	bpf_program__set_autoload(s->progs.raw_sys_exit, sys && raw_syscalls);
	bpf_program__set_autoload(s->progs.sock_send, !sys);
	bpf_program__set_autoload(s->progs.sock_recv, !sys);
}

int capture_open(struct capture **out, const struct capture_opts *o, capture_event_fn fn,
		 void *ctx, char *err, size_t errlen)
{
	struct capture *c;
	int e;

	*out = NULL;
	if (geteuid() != 0) {
		snprintf(err, errlen, "wsgitrace needs root, with CAP_BPF and CAP_PERFMON, to load "
			 "its probes: run it with sudo");
		return -EPERM;
	}
	e = preflight_btf(err, errlen);
	if (e)
		return e;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fn = fn;
	c->ctx = ctx;
	c->stats_fd = -1;
	c->ncpu = libbpf_num_possible_cpus();
	verbose_libbpf = o->verbose;
	libbpf_set_print(print_fn);

	c->hooks = o->hooks;
	if (c->hooks == WT_HOOKS_AUTO)
		c->hooks = kernel_has_sock_tracepoints() ? WT_HOOKS_SOCKETS : WT_HOOKS_SYSCALLS;
	else if (c->hooks == WT_HOOKS_SOCKETS && !kernel_has_sock_tracepoints()) {
		snprintf(err, errlen, "this kernel lacks the sock_send_length/sock_recv_length "
			 "tracepoints (added in 6.4): use --hooks=syscalls or --hooks=auto");
		e = -ENOTSUP;
		goto fail;
	}
	if (c->hooks == WT_HOOKS_SYSCALLS) {
		char note[512];

		c->raw_syscalls = preflight_tracefs(note, sizeof(note)) == TRACEFS_NONE;
		if (note[0])
			fprintf(stderr, "wsgitrace: %s\n", note);
	}

	c->skel = wsgitrace_bpf__open();
	if (!c->skel) {
		e = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(-e));
		goto fail;
	}
	c->skel->rodata->auto_discover = o->auto_discover;
	c->skel->rodata->self_tgid = getpid();
	c->skel->rodata->bench_stage = o->stage;
	if (o->ringbuf_bytes) {
		bpf_map__set_max_entries(c->skel->maps.events, o->ringbuf_bytes);
		c->skel->rodata->ring_half = o->ringbuf_bytes / 2;
	}
	if (o->max_conns) {
		bpf_map__set_max_entries(c->skel->maps.conns, o->max_conns);
		/* unix sockets are the rarer front end (nginx, a local proxy) */
		bpf_map__set_max_entries(c->skel->maps.unix_conns, o->max_conns / 4 > 1024 ? o->max_conns / 4 : 1024);
	}
	set_autoload(c->skel, c->hooks, c->raw_syscalls);

	e = wsgitrace_bpf__load(c->skel);
	if (e == -EPERM) {
		char why[400];

		preflight_explain_eperm(why, sizeof(why));
		snprintf(err, errlen, "the kernel refused to load the BPF programs (%s): %s",
			 strerror(-e), why);
		goto fail;
	}
	if (e) {
		snprintf(err, errlen, "cannot load the BPF programs (%s): the kernel refused "
			 "them; run with -v to see the verifier's log, and check that BPF is not "
			 "disabled (kernel.unprivileged_bpf_disabled does not matter as root, but "
			 "lockdown=confidentiality or a seccomp profile does)", strerror(-e));
		goto fail;
	}
	e = wsgitrace_bpf__attach(c->skel);
	if (e) {
		snprintf(err, errlen, "cannot attach the probes (%s): the kernel needs "
			 "tracepoint and raw tracepoint BPF programs", strerror(-e));
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_record, c, NULL);
	if (!c->rb) {
		e = -errno;
		snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(-e));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	capture_close(c);
	return e < 0 ? e : -e;
}

/* A bit of one of the kernel side's bitmaps, which it sets concurrently: atomic or. */
static void bss_bit_set(__u64 *map, uint32_t n)
{
	__u64 *w = &map[n >> 6], bit = 1ULL << (n & 63);

	if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
}

int capture_trace_pid(struct capture *c, uint32_t pid, uint32_t root)
{
	struct wt_proc p = { .root = root };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	p.since_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (bpf_map__update_elem(c->skel->maps.procs, &pid, sizeof(pid), &p, sizeof(p), BPF_NOEXIST) &&
	    errno != EEXIST)
		return -errno;
	if (pid >> 6 < sizeof(c->skel->bss->traced_bits) / sizeof(c->skel->bss->traced_bits[0]))
		bss_bit_set(c->skel->bss->traced_bits, pid);
	return 0;
}

void capture_untrace_pid(struct capture *c, uint32_t pid)
{
	__u64 *w;

	bpf_map__delete_elem(c->skel->maps.procs, &pid, sizeof(pid), 0);
	if (pid >> 6 < sizeof(c->skel->bss->traced_bits) / sizeof(c->skel->bss->traced_bits[0])) {
		w = &c->skel->bss->traced_bits[pid >> 6];
		__atomic_fetch_and(w, ~(1ULL << (pid & 63)), __ATOMIC_SEQ_CST);
	}
}

int capture_fd(const struct capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int capture_consume(struct capture *c)
{
	return ring_buffer__consume(c->rb);
}

void capture_kstats(const struct capture *c, uint64_t *out, size_t n)
{
	__u32 zero = 0;
	size_t vsz = sizeof(__u64) * WT_KS_MAX;
	__u64 *vals = calloc(c->ncpu, vsz);

	memset(out, 0, n * sizeof(*out));
	if (!vals)
		return;
	if (bpf_map__lookup_elem(c->skel->maps.kstats, &zero, sizeof(zero), vals, vsz * c->ncpu, 0) == 0) {
		for (int cpu = 0; cpu < c->ncpu; cpu++)
			for (size_t i = 0; i < n && i < WT_KS_MAX; i++)
				out[i] += vals[cpu * WT_KS_MAX + i];
	}
	free(vals);
}

int capture_enable_stats(struct capture *c)
{
	if (c->stats_fd < 0)
		c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return c->stats_fd < 0 ? -errno : 0;
}

bool capture_stats_on(const struct capture *c)
{
	char v = '0';
	FILE *f;

	if (c->stats_fd >= 0)
		return true;
	/* Someone else may have turned them on: the sysctl shows the kernel's switch. */
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	if (!f)
		return false;
	if (fread(&v, 1, 1, f) != 1)
		v = '0';
	fclose(f);
	return v == '1';
}

size_t capture_prog_stats(const struct capture *c, struct progstat *out, size_t n)
{
	struct bpf_program *prog;
	size_t i = 0;

	bpf_object__for_each_program(prog, c->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		/* Programs of the hook set not in use are not loaded. */
		if (i == n || fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		out[i].name = bpf_program__name(prog);
		out[i].run_time_ns = info.run_time_ns;
		out[i].run_cnt = info.run_cnt;
		i++;
	}
	return i;
}

const struct capture_stats *capture_stats(struct capture *c)
{
	capture_kstats(c, c->st.ks, WT_KS_MAX);
	return &c->st;
}

#define ROW(name, ks, help) PROMTEXT_U64(name, PROMTEXT_COUNTER, struct capture_stats, ks, help)
#define ADD(name, ks) PROMTEXT_ADD(name, struct capture_stats, ks)
static const struct promtext_metric metrics[] = {
	ROW("wsgitrace_events_lost_total", ks[WT_KS_RB_LOST],
	    "Events the kernel side could not submit because the ring buffer was full; requests they belonged "
	    "to are missing or counted as framing lost."),
	ROW("wsgitrace_kernel_read_failures_total", ks[WT_KS_READ_FAIL],
	    "Reads of socket data from the traced process' memory that failed in the kernel."),
	ADD("wsgitrace_kernel_read_failures_total", ks[WT_KS_REGS_FAIL]),
	ROW("wsgitrace_relayed_connections_total", ks[WT_KS_RELAYED],
	    "Connections a traced relay (uWSGI's --http router) opened to a worker; their requests are counted "
	    "once, where they entered."),
	/* The kernel's connection table full: conntrack's family counts the daemon's. */
	ADD("wsgitrace_connections_dropped_total", ks[WT_KS_CONN_FULL]),
	ROW("wsgitrace_connections_reset_unread_total", ks[WT_KS_CLOSED_UNREAD],
	    "Connections the client reset before the server read them: the server could not answer, nothing "
	    "is owed, they are not followed."),
};
#undef ROW
#undef ADD
const struct promtext_table capture_metrics = PROMTEXT_TABLE(metrics);

const char *capture_hooks_name(const struct capture *c)
{
	if (c->hooks == WT_HOOKS_SYSCALLS)
		return c->raw_syscalls ? "raw_syscalls" : "syscalls";
	return "sockets";
}

void capture_tls_progs(const struct capture *c, struct tls_progs *p)
{
	p->read = c->skel->progs.ssl_read_enter;
	p->read_ex = c->skel->progs.ssl_read_ex_enter;
	p->write = c->skel->progs.ssl_write_enter;
	p->write_ex = c->skel->progs.ssl_write_ex_enter;
	p->handshake = c->skel->progs.ssl_handshake_enter;
	p->exit = c->skel->progs.ssl_exit;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	wsgitrace_bpf__destroy(c->skel);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c);
}

int capture_ignore_conn(struct capture *c, uint64_t sk, uint64_t ino)
{
	struct bpf_map *maps[] = { c->skel->maps.conns, c->skel->maps.unix_conns };
	__u64 key = sk;
	struct wt_conn v;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (bpf_map__lookup_elem(maps[i], &key, sizeof(key), &v, sizeof(v), 0))
			continue;
		if (v.ino != ino)
			return -ESTALE;
		v.flags |= WT_CONN_IGNORED;
		/* BPF_EXIST: a connection that closed meanwhile stays gone. */
		if (bpf_map__update_elem(maps[i], &key, sizeof(key), &v, sizeof(v), BPF_EXIST))
			return -errno;
		return 0;
	}
	return -ENOENT;
}

void capture_server_port(struct capture *c, uint16_t port)
{
	bss_bit_set(c->skel->bss->server_ports, port);
}
