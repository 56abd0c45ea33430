// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * helpercost: one raw tracepoint program per operation wsgitrace's programs
 * do, each the traced-process check that every wsgitrace program starts with
 * plus that one operation. bench/helpercost.c attaches them one at a time to
 * sock_send_length, the hook wsgitrace's sock_send uses, sends on a loopback
 * TCP connection and reads the kernel's run_time_ns/run_cnt: a variant's
 * time per run less the check's is what the operation costs where wsgitrace
 * runs it.
 *
 * The operations are the ones bpf/wsgitrace.bpf.c uses, on the same kinds of
 * maps, sized as there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "wsgitrace.h"
#include "looks_like.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u64 user_buf = 0; /* the looping process's send buffer */
const volatile __u64 hit_key = 0;  /* a key the driver put in `conns` */

/* The traced-process bitmap, as wsgitrace's: the driver sets its own bit. */
#define TRACED_WORDS (1 << 16)
__u64 traced_bits[TRACED_WORDS];
__u64 sink;
__u64 counter;
__u32 slots[1 << 14];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct wt_conn);
} conns SEC(".maps");

struct scratch {
	struct wt_conn_event ev;
	__u8 spill[WT_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[8]);
} kstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

#define REC_SIZE sizeof(struct wt_conn_event)

static __always_inline bool traced(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return traced_bits[(tgid >> 6) & (TRACED_WORDS - 1)] & (1ULL << (tgid & 63));
}

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* A program: the check, then `body` with sk (the tracepoint's socket) in scope. */
#define VARIANT(name, body)                                              \
	SEC("raw_tp/sock_send_length")                                   \
	int name(struct bpf_raw_tracepoint_args *ctx)                    \
	{                                                                \
		struct sock *sk __attribute__((unused)) = (void *)ctx->args[0]; \
		if (!traced())                                           \
			return 0;                                        \
		body;                                                    \
		return 0;                                                \
	}

/* Nothing at all: what the kernel's dispatch and its own accounting count. */
SEC("raw_tp/sock_send_length")
int empty(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

VARIANT(check, )

VARIANT(ktime, sink += bpf_ktime_get_ns())

VARIANT(pid_tgid, sink += bpf_get_current_pid_tgid())

VARIANT(percpu_lookup, {
	struct scratch *s = scratch_get();
	if (s)
		sink += s->ev.len;
})

/* kstat_inc(): a per-CPU array lookup and an increment. */
VARIANT(kstat_inc, {
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&kstats, &zero);
	if (v)
		v[1]++;
})

VARIANT(atomic_add, __sync_fetch_and_add(&counter, 1))

/* maybe_tracked(): the slot-count load, with its hash. */
VARIANT(slot_load, sink += slots[((__u64)sk * 0x9E3779B97F4A7C15ULL) >> 50])

VARIANT(hash_hit, {
	__u64 key = hit_key;
	struct wt_conn *c = bpf_map_lookup_elem(&conns, &key);
	if (c)
		sink += c->flags;
})

/* A miss on the same key each run: its bucket stays in cache. */
VARIANT(hash_miss_hot, {
	__u64 key = hit_key + 64;
	struct wt_conn *c = bpf_map_lookup_elem(&conns, &key);
	if (c)
		sink += c->flags;
})

/* A miss on a new bucket each run, as sockets' addresses spread them. */
VARIANT(hash_miss_spread, {
	__u64 key = (counter++) * 0x9E3779B97F4A7C15ULL;
	struct wt_conn *c = bpf_map_lookup_elem(&conns, &key);
	if (c)
		sink += c->flags;
})

/* conns_insert() then conns_delete() of a new connection (handshake, close). */
VARIANT(hash_insert_delete, {
	__u64 key = (__u64)sk;
	struct wt_conn nc = { .flags = WT_F_ACCEPTED };
	__u32 *slot = &slots[(key * 0x9E3779B97F4A7C15ULL) >> 50];
	__sync_fetch_and_add(slot, 1);
	if (bpf_map_update_elem(&conns, &key, &nc, BPF_NOEXIST) == 0 &&
	    bpf_map_delete_elem(&conns, &key) == 0)
		__sync_fetch_and_sub(slot, 1);
})

/* on_sock_io(): the syscall's registers from the task's stack. */
VARIANT(task_regs, {
	struct pt_regs *regs = user_regs();
	struct syscall_regs a;
	if (regs && bpf_probe_read_kernel(&a, sizeof(a), __builtin_preserve_access_index(&regs->dx)) == 0)
		sink += a.si;
})

VARIANT(core_read_1, sink += BPF_CORE_READ(sk, __sk_common.skc_family))

/* tcp_from_start() on a send and tcp_unacked(): four fields of tcp_sock. */
VARIANT(core_read_tcp_4, {
	struct tcp_sock *tp = (void *)sk;
	sink += BPF_CORE_READ(tp, bytes_received) + BPF_CORE_READ(tp, bytes_acked) +
		BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una);
})

/* One read of 128 bytes of tcp_sock: what a read costs beyond its call. */
VARIANT(core_read_128, {
	__u8 span[128];
	if (bpf_probe_read_kernel(span, sizeof(span),
				  __builtin_preserve_access_index(&((struct tcp_sock *)sk)->write_seq)) == 0)
		sink += span[0] + span[127];
})

/* sock_ino(): sk->sk_socket, then the inode beside it. */
VARIANT(sock_ino, {
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	if (so)
		sink += BPF_CORE_READ(container_of(so, struct socket_alloc, socket), vfs_inode.i_ino);
})

VARIANT(read_user_64, {
	struct scratch *s = scratch_get();
	if (s && bpf_probe_read_user(s->ev.data, 64, (void *)user_buf) == 0)
		sink += s->ev.data[0];
})

VARIANT(read_user_512, {
	struct scratch *s = scratch_get();
	if (s && bpf_probe_read_user(s->ev.data, WT_CAP, (void *)user_buf) == 0)
		sink += s->ev.data[0];
})

/* wt_looks_like_request() over the 64 bytes just read (cost: less read_user_64). */
VARIANT(looks_like, {
	struct scratch *s = scratch_get();
	if (s && bpf_probe_read_user(s->ev.data, 64, (void *)user_buf) == 0)
		sink += wt_looks_like_request(s->ev.data, 64);
})

VARIANT(ringbuf_query, sink += bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA))

VARIANT(ringbuf_output_64, {
	struct scratch *s = scratch_get();
	if (s && bpf_ringbuf_output(&events, &s->ev, 64, BPF_RB_NO_WAKEUP))
		sink++;
})

VARIANT(ringbuf_output_568, {
	struct scratch *s = scratch_get();
	if (s && bpf_ringbuf_output(&events, &s->ev, REC_SIZE, BPF_RB_NO_WAKEUP))
		sink++;
})

/* A record reserved in the ring and submitted with nothing copied into it. */
VARIANT(ringbuf_reserve_568, {
	struct wt_conn_event *e = bpf_ringbuf_reserve(&events, REC_SIZE, 0);
	if (e) {
		e->type = WT_EV_DATA;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
})

/* emit_data() as it is: 512 bytes into the per-CPU scratch, then the record out. */
VARIANT(record_via_scratch, {
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	if (bpf_probe_read_user(s->ev.data, WT_CAP, (void *)user_buf))
		return 0;
	s->ev.type = WT_EV_DATA;
	s->ev.ts_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &s->ev, REC_SIZE, BPF_RB_NO_WAKEUP))
		sink++;
})

/* The same record read straight into its reserved place in the ring. */
VARIANT(record_in_ring, {
	struct wt_conn_event *e = bpf_ringbuf_reserve(&events, REC_SIZE, 0);
	if (!e)
		return 0;
	if (bpf_probe_read_user(e->data, WT_CAP, (void *)user_buf)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->type = WT_EV_DATA;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
})
