// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wsgitrace kernel side: follow the client sockets of WSGI server processes.
 *
 * Two capture paths feed one handler (handle_io):
 *  - sockets (default where the kernel has them, 6.4+): raw tracepoints
 *    sock_send_length/sock_recv_length fire inside sock_sendmsg/recvmsg in the
 *    caller's context, and cost nothing to calls that are not socket I/O. The
 *    syscall's buffer comes from the user registers saved on the task's kernel
 *    stack. TCP closes come from the inet_sock_set_state raw tracepoint.
 *  - syscalls (fallback): sys_enter/sys_exit tracepoints of the I/O syscalls.
 *    Every syscall on the node pays the tracepoint slow path while they are
 *    attached, so this path only loads when the socket tracepoints are
 *    missing or --hooks=syscalls asks for it. Where tracefs (which holds the
 *    tracepoints' ids) cannot be had, the raw sys_enter/sys_exit tracepoints
 *    carry the same calls.
 *
 * Which processes: a hash map of traced tgids, filled by the daemon (servers
 * already running, and new ones it sees exec) and here at fork (children of
 * traced processes). Every program looks its process up
 * there first and returns if it is not traced.
 *
 * Which sockets: a connection becomes tracked when a traced process receives
 * on it bytes that start like an HTTP request or a uwsgi packet. Connections
 * the process opened itself send first and never match, so outbound traffic
 * (databases, the uWSGI router's backend side) costs a 16-byte peek at most.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "wsgitrace.h"
#include "looks_like.h"
#include "core_fixes.bpf.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define MSG_PEEK 2
#define EPIPE 32
#define E2BIG 7
#define ENOENT 2
#define EEXIST 17
#define ECONNRESET 104
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* x86_64 syscall numbers: the only ABI this object reads registers of. */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47

#define MAX_IOV 4

enum tcp_states_wt {
	WT_TCP_ESTABLISHED = 1,
	WT_TCP_SYN_SENT = 2,
	WT_TCP_SYN_RECV = 3,
	WT_TCP_FIN_WAIT1 = 4,
	WT_TCP_CLOSE = 7,
	WT_TCP_CLOSE_WAIT = 8,
	WT_TCP_LAST_ACK = 9,
	WT_TCP_LISTEN = 10,
	WT_TCP_NEW_SYN_RECV = 12,
};

const volatile bool auto_discover = true; /* exec of gunicorn/uwsgi starts tracing */
const volatile __u32 self_tgid = 0;
const volatile __u64 ring_half = (4 << 20) / 2; /* the daemon sets it with the ring's size */
/* enum wt_stage; fixed at load, so the verifier drops the stages not chosen. */
const volatile __u32 bench_stage = WT_STAGE_FULL;

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* One entry per traced process; workers of a big server farm fit easily. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct wt_proc);
} procs SEC(".maps");

/*
 * Inbound TCP connections. Every TCP connection's end passes tcp_state, so
 * entries do not leak and a plain hash will do: its per-CPU free lists cost
 * less than an LRU's shared lists on each connection's insert and delete. A
 * full table refuses the connection, counted (WT_KS_CONN_FULL). The daemon
 * sizes it (--max-conns) before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct wt_conn);
} conns SEC(".maps");

/*
 * Inbound AF_UNIX connections: on the sockets path no tracepoint reports
 * their close, so the LRU lets forgotten ones age out instead of filling it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct wt_conn);
} unix_conns SEC(".maps");

/*
 * How many `conns` entries hash to each slot. A zero tells that a socket is
 * not in the table without a lookup: most questions asked of the table are
 * about sockets it does not hold (every TCP state change after a close, a
 * traced process's own outbound connections), and a lookup that misses still
 * costs a cold bucket of a table sized for the largest server. 2^14 slots
 * (64 KiB) stay in cache; a slot shared with a tracked connection only costs
 * the lookup. Every insert and delete of `conns` goes through conns_insert()
 * and conns_delete(), which keep the counts.
 */
#define TRACKED_SHIFT 14
__u32 tracked_slots[1 << TRACKED_SHIFT];

static __always_inline __u32 *tracked_slot(__u64 key)
{
	/* Fibonacci hashing: sk addresses differ in their middle bits. */
	return &tracked_slots[((key * 0x9E3779B97F4A7C15ULL) >> (64 - TRACKED_SHIFT)) &
			      ((1 << TRACKED_SHIFT) - 1)];
}

static __always_inline bool maybe_tracked(__u64 key)
{
	return *tracked_slot(key) != 0;
}

/* A new `conns` entry, counted in its slot before it exists. */
static __always_inline long conns_add(__u64 *key, struct wt_conn *v, __u32 *slot)
{
	long err;

	/* Up first: no one who finds a zero can miss an entry being added. */
	__sync_fetch_and_add(slot, 1);
	err = bpf_map_update_elem(&conns, key, v, BPF_NOEXIST);
	if (err)
		__sync_fetch_and_sub(slot, 1);
	return err;
}

/*
 * Insert or (BPF_ANY) replace a `conns` entry. A replacement only ever
 * touches an entry that exists, whose count is its own: an entry deleted
 * by another CPU in between is added anew, counted, never re-created
 * behind a slot count already taken back.
 */
static __always_inline long conns_insert(__u64 *key, struct wt_conn *v, __u64 flags)
{
	__u32 *slot = tracked_slot(*key);
	long err;

	err = conns_add(key, v, slot);
	if (err != -EEXIST || flags != BPF_ANY)
		return err;
	err = bpf_map_update_elem(&conns, key, v, BPF_EXIST);
	if (err == -ENOENT)
		err = conns_add(key, v, slot);
	return err;
}

static __always_inline void conns_delete(__u64 *key)
{
	if (bpf_map_delete_elem(&conns, key) == 0)
		__sync_fetch_and_sub(tracked_slot(*key), 1);
}

static __always_inline struct wt_conn *conns_lookup(__u64 *key)
{
	return maybe_tracked(*key) ? bpf_map_lookup_elem(&conns, key) : NULL;
}

/* Either table: for paths that do not know the family. */
static __always_inline struct wt_conn *conn_find(__u64 *key)
{
	struct wt_conn *c = conns_lookup(key);

	return c ? c : bpf_map_lookup_elem(&unix_conns, key);
}

static __always_inline struct wt_conn *conn_of(__u64 *key, __u32 flags)
{
	return (flags & WT_F_UNIX) ? bpf_map_lookup_elem(&unix_conns, key) : conns_lookup(key);
}

static __always_inline void conn_forget(__u64 *key, __u32 flags)
{
	if (flags & WT_F_UNIX)
		bpf_map_delete_elem(&unix_conns, key);
	else
		conns_delete(key);
}

/*
 * A uwsgi packet from another traced process is uWSGI's --http router
 * relaying a request it counts itself. Both sides of a connection claim its
 * flow here, keyed as the side that sent first sees it (TCP: both ends'
 * addresses and ports; AF_UNIX: that side's sk). Whichever side comes second
 * finds the other's claim; the insert is atomic, so the router and the worker,
 * running on two CPUs at once, cannot both miss.
 */
struct flow {
	__u8 local[16];
	__u8 remote[16];
	__u16 lport;
	__u16 rport;
	__u32 family;
};

#define FLOW_SENDER 1   /* a traced process sent first on it */
#define FLOW_RECEIVER 2 /* a traced worker took a uwsgi packet from it */

struct flow_claim {
	__u64 sk; /* the receiver's */
	__u64 ino;
	__u32 tgid;
	__u32 side;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow);
	__type(value, struct flow_claim);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct kstats {
	__u64 v[WT_KS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kstats);
} kstats SEC(".maps");

/* Room past the record so a masked offset plus a masked length always fits. */
struct scratch {
	struct wt_conn_event ev;
	__u8 spill[WT_CAP];
};

_Static_assert(sizeof(struct scratch) >= __builtin_offsetof(struct wt_conn_event, data) + 2 * WT_CAP,
	       "a masked offset plus a masked length stays in the scratch record");

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
	__type(value, struct wt_proc_event);
} proc_scratch SEC(".maps");

/* Syscalls path: arguments saved at sys_enter, keyed by tid. */
struct call_args {
	__u64 nr;
	__u64 fd;
	__u64 buf;
	__u64 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct call_args);
} inflight SEC(".maps");

/*
 * One bit per pid, mirrored from `procs`: the check every socket call on the
 * node pays is one load from this array instead of a hash lookup. 2^22 bits
 * cover PID_MAX_LIMIT; the daemon sets bits through the mmapped .bss.
 */
#define TRACED_WORDS (1 << 16)
__u64 traced_bits[TRACED_WORDS];

/*
 * Local ports of the TCP connections ever tracked: the servers' ports, whose
 * completed handshakes are noted for queue time. Every passive open on the
 * node passes that check; a bit test is cheaper than an insert that would
 * only be deleted again. Bits are never cleared: a stale one only costs that
 * insert.
 */
#define PORT_WORDS (65536 / 64)
__u64 server_ports[PORT_WORDS];

/*
 * Bit n of a bitmap of `words` (a power of two) u64s. Callers' n is always in
 * range (pids never reach 2^22, PID_MAX_LIMIT): the mask only convinces the
 * verifier.
 */
static __always_inline __u64 *bit_word(__u64 *map, __u32 words, __u32 n)
{
	return &map[(n >> 6) & (words - 1)];
}

static __always_inline bool bit_test(__u64 *map, __u32 words, __u32 n)
{
	return *bit_word(map, words, n) & (1ULL << (n & 63));
}

static __always_inline void bit_set(__u64 *map, __u32 words, __u32 n, bool on)
{
	if (on)
		__sync_fetch_and_or(bit_word(map, words, n), 1ULL << (n & 63));
	else
		__sync_fetch_and_and(bit_word(map, words, n), ~(1ULL << (n & 63)));
}

static __always_inline bool traced(__u32 tgid)
{
	return bit_test(traced_bits, TRACED_WORDS, tgid);
}

static __always_inline bool server_port(__u16 port)
{
	return bit_test(server_ports, PORT_WORDS, port);
}

static __always_inline void kstat_inc(__u32 idx)
{
	__u32 zero = 0;
	struct kstats *s = bpf_map_lookup_elem(&kstats, &zero);

	if (s && idx < WT_KS_MAX)
		s->v[idx]++;
}

static __always_inline __u16 sock_family(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

static __always_inline int sock_state(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state);
}

/* The local port, in host order. */
static __always_inline __u16 sock_port(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!so)
		return 0;
	sa = container_of(so, struct socket_alloc, socket);
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* TCP bytes written but not yet acknowledged: the response still in flight. */
static __always_inline __u32 tcp_unacked(struct sock *sk)
{
	struct tcp_sock *tp = (void *)sk;
	__u32 w = BPF_CORE_READ(tp, write_seq), u = BPF_CORE_READ(tp, snd_una);

	return w - u;
}

/*
 * Whether the server accepted this connection rather than opened it. A TCP
 * socket cloned from a listener inherits its accept backlog limit
 * (sk_clone_lock copies it and nothing resets it), which a socket that
 * connect()ed never has. An accepted AF_UNIX socket carries the listener's
 * address; a connecting one has none unless it bound itself.
 */
static __always_inline bool accepted(struct sock *sk, __u16 family)
{
	if (family == AF_UNIX)
		return BPF_CORE_READ((struct unix_sock *)sk, addr) != NULL;
	return BPF_CORE_READ(sk, sk_max_ack_backlog) != 0;
}

/*
 * Whether this call moved the TCP stream's first bytes in its direction, so
 * the daemon may parse the connection from here whatever the bytes are. A
 * connection open before we started, or one a full table refused for a
 * while, is met mid-stream instead.
 */
static __always_inline bool tcp_from_start(struct sock *sk, __u8 dir, long ret)
{
	struct tcp_sock *tp = (void *)sk;

	if (dir == WT_DIR_RECV) {
		/* Bytes read so far: received, less what still waits in the queue. */
		__u64 unread = (__u32)(BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));
		int state = sock_state(sk);

		/*
		 * The client's FIN takes a sequence number but is no byte: a
		 * client that sends its request and half-closes has it queued
		 * when the server first reads.
		 */
		if (unread > 0 && (state == WT_TCP_CLOSE_WAIT || state == WT_TCP_LAST_ACK))
			unread--;
		return BPF_CORE_READ(tp, bytes_received) - unread == (__u64)ret;
	}
	/* A server that speaks first: nothing received, nothing sent before. */
	return BPF_CORE_READ(tp, bytes_received) == 0 && BPF_CORE_READ(tp, bytes_acked) == 0 &&
	       tcp_unacked(sk) == (__u32)ret;
}

/*
 * Copy up to `want` bytes of what the call moved into dst. For the vectored
 * calls the first MAX_IOV buffers are walked in order; uWSGI's writev puts
 * headers and body in two.
 */
static __always_inline __u32 copy_data(__u8 *dst, __u64 nr, __u64 buf, __u64 len, long ret, __u32 want)
{
	__u32 n = ret < want ? ret : want;
	struct iovec iov[MAX_IOV] = {};
	__u64 iovp = 0, iovcnt = 0;
	__u32 off = 0;

	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
		n &= (WT_CAP * 2 - 1);
		if (n > WT_CAP)
			n = WT_CAP;
		if (bpf_probe_read_user(dst, n, (void *)buf))
			return 0;
		return n;
	case NR_readv:
	case NR_writev:
		iovp = buf;
		iovcnt = len;
		break;
	case NR_sendmsg:
	case NR_recvmsg: {
		struct user_msghdr mh = {};

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)buf))
			return 0;
		iovp = (__u64)mh.msg_iov;
		iovcnt = mh.msg_iovlen;
		break;
	}
	default:
		return 0;
	}
	if (iovcnt > MAX_IOV)
		iovcnt = MAX_IOV;
	if (bpf_probe_read_user(iov, sizeof(iov[0]) * MAX_IOV, (void *)iovp))
		if (bpf_probe_read_user(iov, sizeof(iov[0]), (void *)iovp))
			return 0;
#pragma unroll
	for (int i = 0; i < MAX_IOV; i++) {
		__u32 take;

		if (i >= iovcnt || off >= n)
			break;
		take = n - off;
		if (iov[i].iov_len < take)
			take = iov[i].iov_len;
		take &= (WT_CAP - 1) | WT_CAP;
		if (take > WT_CAP)
			take = WT_CAP;
		if (bpf_probe_read_user(dst + (off & (WT_CAP - 1)), take, iov[i].iov_base))
			break;
		off += take;
	}
	return off > WT_CAP ? WT_CAP : off;
}

static __always_inline bool has_user_buffer(__u64 nr)
{
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
	case NR_readv:
	case NR_writev:
	case NR_sendmsg:
	case NR_recvmsg:
		return true;
	}
	return false;
}

/* When this CPU next looks at how full the ring is. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fill_check SEC(".maps");

#define FILL_CHECK_NS 1000000

static __always_inline void submit(void *rec, __u64 size, __u64 now)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&fill_check, &zero);

	/*
	 * The daemon drains the ring on a timer: a wakeup per record costs the
	 * server's workers about a fifth of their throughput on a busy node.
	 * Wake it only when the ring is half full and about to lose records.
	 * Asking how full reads two cache lines the other CPUs write; once a
	 * millisecond per CPU is plenty, as half the ring is megabytes.
	 */
	if (next && now >= *next) {
		*next = now + FILL_CHECK_NS;
		if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ring_half)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	if (bpf_ringbuf_output(&events, rec, size, flags))
		kstat_inc(WT_KS_RB_LOST);
}

static __always_inline void emit_end(__u64 sk, __u64 ino, __u32 tgid, __u32 cflags, __u8 type, __u32 unacked)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);

	if (!s || bench_stage == WT_STAGE_NO_RECORDS)
		return;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.sk = sk;
	s->ev.ino = ino;
	s->ev.tgid = tgid;
	s->ev.tid = (__u32)bpf_get_current_pid_tgid();
	s->ev.len = 0;
	s->ev.cap_len = 0;
	s->ev.type = type;
	s->ev.dir = WT_DIR_SEND;
	s->ev.flags = cflags & 0xff;
	s->ev.unacked = unacked;
	s->ev.est_ns = 0;
	submit(&s->ev, offsetof(struct wt_conn_event, data), s->ev.ts_ns);
}

static __always_inline void emit_close(__u64 sk, struct wt_conn *c, __u8 type, __u32 unacked, __u32 extra)
{
	emit_end(sk, c->ino, c->tgid, c->flags | extra, type, unacked);
}

/* The flow as this side sees it, or (peer) as the other side does. */
static __always_inline void flow_of(struct sock *sk, __u16 family, struct flow *f, bool peer)
{
	__u16 lport, rport;

	f->family = family;
	if (family == AF_UNIX) {
		struct sock *who = sk;

		if (peer)
			who = BPF_CORE_READ((struct unix_sock *)sk, peer);
		__builtin_memcpy(f->local, &who, sizeof(who));
		return;
	}
	lport = bpf_htons(sock_port(sk));
	rport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(peer ? f->remote : f->local, &l, 4);
		__builtin_memcpy(peer ? f->local : f->remote, &r, 4);
	} else {
		BPF_CORE_READ_INTO(peer ? f->remote : f->local, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(peer ? f->local : f->remote, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	f->lport = peer ? rport : lport;
	f->rport = peer ? lport : rport;
}

/*
 * Claim flow f for this side (me->side). -> the claim the other side left
 * there first: the flow is a relay. Else NULL and the flow is ours (a claim
 * of our own side found there was left by a connection that has ended).
 */
static __always_inline struct flow_claim *flow_claim(struct flow *f, struct flow_claim *me)
{
	struct flow_claim *fc;

	if (bpf_map_update_elem(&flows, f, me, BPF_NOEXIST) == 0)
		return NULL;
	fc = bpf_map_lookup_elem(&flows, f);
	if (fc && fc->side != me->side)
		return fc;
	bpf_map_update_elem(&flows, f, me, BPF_ANY);
	return NULL;
}

/*
 * The flow is the router relaying to a worker (w: the worker's connection),
 * a request the router counts itself. The connection is muted, not
 * forgotten: its next call would look new. The flow is forgotten: the router
 * opens one connection per request, and a later connection on the same
 * ports is judged afresh.
 */
static __always_inline void relay_mute(struct flow *f, struct wt_conn *w)
{
	if (w)
		w->flags |= WT_CONN_IGNORED;
	bpf_map_delete_elem(&flows, f);
	kstat_inc(WT_KS_RELAYED);
}

/* One socket call of a traced process, on its way through handle_io's steps. */
struct io {
	struct sock *sk;
	struct scratch *s; /* the record being built */
	struct wt_conn *hs; /* the entry a seen handshake left, filled in place */
	__u64 key;         /* the connection's key in the maps: the sk address */
	long ret;          /* bytes the call moved */
	__u64 nr, buf, len; /* the syscall: number, buffer (or iovec or msghdr), length (or count) */
	__u64 ino;
	__u64 est_ns;
	__u32 tgid;
	__u32 n; /* bytes of the call in s->ev.data, once copied */
	__u16 family;
	__u8 dir;
	__u8 flags; /* WT_F_* of the record */
	bool copied;
};

/*
 * Step 1: the connection as the maps know it, or NULL. An entry that a seen
 * handshake left (ino 0) is no connection yet: this is the server's first
 * call on it, and the entry is kept in io->hs to be filled in place.
 */
static __always_inline struct wt_conn *conn_lookup(struct io *io)
{
	struct wt_conn *c;

	/* TCP first: a miss reads the family, which a new connection needs anyway. */
	c = conns_lookup(&io->key);
	if (!c) {
		io->family = sock_family(io->sk);
		if (io->family == AF_UNIX)
			c = bpf_map_lookup_elem(&unix_conns, &io->key);
	}
	if (c && c->ino == 0) {
		io->hs = c;
		io->est_ns = c->est_ns;
		io->family = sock_family(io->sk);
		c = NULL;
	}
	return c;
}

/*
 * Step 2, on a tracked connection: -> true when its sk now belongs to another
 * socket; the old connection is then closed to the daemon and forgotten.
 * A TCP socket leaves the map when it closes (tcp_state); an AF_UNIX one can
 * be freed unseen and its sk reused. A new connection starts with a receive,
 * so checking there also covers a TCP close we missed, at a third of the
 * reads.
 */
static __always_inline bool conn_reused(struct io *io, struct wt_conn *c)
{
	io->flags = c->flags & 0xff;
	io->ino = c->ino;
	io->family = (io->flags & WT_F_UNIX) ? AF_UNIX : AF_INET;
	if (((io->flags & WT_F_UNIX) || io->dir == WT_DIR_RECV) && sock_ino(io->sk) != io->ino) {
		emit_close(io->key, c, WT_EV_CLOSE, 0, 0);
		conn_forget(&io->key, io->flags);
		io->family = sock_family(io->sk);
		return true;
	}
	io->flags &= WT_F_UNIX | WT_F_ACCEPTED;
	return false;
}

/*
 * Step 3a, on a socket the maps do not hold: -> false unless it is a stream
 * (TCP or AF_UNIX). Notes whether the server accepted it and is at its
 * start, and its inode.
 */
static __always_inline bool stream_sock(struct io *io)
{
	if (io->family != AF_INET && io->family != AF_INET6 && io->family != AF_UNIX)
		return false;
	if (sock_type(io->sk) != SOCK_STREAM)
		return false;
	io->flags = io->family == AF_UNIX ? WT_F_UNIX : 0;
	/* After a seen handshake this is the first call; else the stream says. */
	if (accepted(io->sk, io->family) &&
	    (io->est_ns || io->family == AF_UNIX || tcp_from_start(io->sk, io->dir, io->ret)))
		io->flags |= WT_F_ACCEPTED;
	io->ino = sock_ino(io->sk);
	return true;
}

/*
 * Step 3b, on a connection this process opened and sends on first: if a
 * traced worker took a uwsgi packet on it already (the worker's claim is
 * there first), this process is uWSGI's router and the worker's connection a
 * relay the daemon was told about: tell it to forget it. Else claim the flow
 * as its sender, for the worker to find.
 */
static __always_inline void relay_claim_as_sender(struct io *io)
{
	struct flow f = {};
	struct flow_claim me = { .side = FLOW_SENDER }, *fc;
	struct wt_conn *w;

	flow_of(io->sk, io->family, &f, false);
	fc = flow_claim(&f, &me);
	if (!fc)
		return;
	w = conn_find(&fc->sk);
	if (!w || w->ino != fc->ino) {
		/* A claim left by a connection that has ended: ours now. */
		bpf_map_update_elem(&flows, &f, &me, BPF_ANY);
		return;
	}
	emit_end(fc->sk, fc->ino, fc->tgid, w->flags, WT_EV_RELAYED, 0);
	relay_mute(&f, w);
}

/*
 * Step 3c: -> true when the client reset the connection while it waited to
 * be read: no close will follow, and the server can no longer answer on it.
 */
static __always_inline bool closed_unread(struct io *io)
{
	if (io->family == AF_UNIX || sock_state(io->sk) != WT_TCP_CLOSE)
		return false;
	kstat_inc(WT_KS_CLOSED_UNREAD);
	/* Its client gave up waiting: the daemon counts it for this server. */
	if (io->dir == WT_DIR_RECV)
		emit_end(io->key, io->ino, io->tgid, io->flags, WT_EV_ABANDONED, 0);
	return true;
}

/*
 * Step 3d: track the connection, in the entry its handshake left or a new
 * one, and note its local port as a server's. -> false when the table is
 * full (counted).
 */
static __always_inline bool conn_track(struct io *io)
{
	struct wt_conn nc = { .ino = io->ino, .est_ns = io->est_ns, .tgid = io->tgid, .flags = io->flags };
	__u16 port = 0;

	if (io->family != AF_UNIX)
		port = sock_port(io->sk);
	if (io->hs) {
		/*
		 * In place: replacing the entry would take a spare element
		 * and free the old one on every connection.
		 */
		io->hs->tgid = io->tgid;
		io->hs->flags = io->flags;
		io->hs->ino = io->ino;
	} else if (io->family == AF_UNIX ? bpf_map_update_elem(&unix_conns, &io->key, &nc, BPF_ANY)
					 : conns_insert(&io->key, &nc, BPF_ANY)) {
		/* On a server port the handshake's refusal counted it already. */
		if (io->family == AF_UNIX || !server_port(port))
			kstat_inc(WT_KS_CONN_FULL);
		return false;
	}
	if (io->family != AF_UNIX && !server_port(port))
		bit_set(server_ports, PORT_WORDS, port, true);
	return true;
}

/*
 * Step 3e, on a connection just tracked whose first read is a uwsgi packet:
 * -> true when the router's claim on its flow was there first; the
 * connection is then a relay, muted before the daemon hears of it. Else the
 * flow is claimed as the receiver's, for the router to find.
 */
static __always_inline bool relay_claim_as_receiver(struct io *io)
{
	struct flow f = {};
	struct flow_claim me = { .sk = io->key, .ino = io->ino, .tgid = io->tgid, .side = FLOW_RECEIVER };

	flow_of(io->sk, io->family, &f, true);
	if (!flow_claim(&f, &me))
		return false;
	relay_mute(&f, conn_of(&io->key, io->flags));
	return true;
}

/*
 * Step 3, on a socket the maps do not hold: -> true when it is an inbound
 * connection of the server's, now tracked, and this call's record goes out
 * (flagged WT_F_NEW).
 */
static __always_inline bool conn_start(struct io *io)
{
	struct scratch *s = io->s;
	bool req;

	if (!stream_sock(io))
		return false;
	if (io->dir != WT_DIR_RECV && !(io->flags & WT_F_ACCEPTED)) {
		/* Sends first: a connection this process opened. */
		relay_claim_as_sender(io);
		return false;
	}
	if (closed_unread(io))
		return false;
	/* The copy the record needs anyway tells a request from other traffic. */
	io->n = copy_data(s->ev.data, io->nr, io->buf, io->len, io->ret, WT_CAP);
	io->copied = true;
	req = io->dir == WT_DIR_RECV && wt_looks_like_request(s->ev.data, io->n);
	/*
	 * An accepted connection is the server's whatever its first bytes
	 * are; any other is one open before we started, picked up at a
	 * request.
	 */
	if (!req && !(io->flags & WT_F_ACCEPTED))
		return false;
	if (!conn_track(io))
		return false;
	/* Tracked before the claim: a router that sees the claim finds it. */
	if (req && io->n >= 4 && wt_wsgi_modifier1(s->ev.data[0]) && /* a uwsgi packet */
	    relay_claim_as_receiver(io))
		return false;
	io->flags |= WT_F_NEW;
	return true;
}

/* Fill in and send the record of s->ev.data's first n bytes. */
static __always_inline void submit_data(struct scratch *s, __u32 n)
{
	__u64 size = offsetof(struct wt_conn_event, data) + n;

	/* Keep the verifier's bound: the compiler knows n <= WT_CAP, it does not. */
	barrier_var(size);
	if (size > sizeof(struct wt_conn_event))
		size = sizeof(struct wt_conn_event);
	submit(&s->ev, size, s->ev.ts_ns);
}

/*
 * Step 4: the call's record, with its first bytes (copied now if step 3 did
 * not). A read past the capture that starts like a request, or with the
 * empty lines a request may follow: its head may be longer than the
 * capture, with the next request pipelined behind it in the same read, or
 * the request may come after the capture. Its last bytes follow in a record
 * of their own. Reads of request bodies do not start like a request: they
 * cost no second record.
 */
static __always_inline void emit_data(struct io *io)
{
	struct scratch *s = io->s;
	long ret = io->ret;
	__u8 flags = io->flags;
	__u32 n = io->n;

	if (!io->copied)
		n = copy_data(s->ev.data, io->nr, io->buf, io->len, ret, WT_CAP);
	if (n == 0) {
		/* sendfile's bytes come from a file; a failed read of a buffer is counted. */
		flags |= WT_F_NODATA;
		if (has_user_buffer(io->nr))
			kstat_inc(WT_KS_READ_FAIL);
	}
	if (io->dir == WT_DIR_RECV && ret > WT_CAP && n == WT_CAP && (io->nr == NR_read || io->nr == NR_recvfrom) &&
	    (wt_looks_like_request(s->ev.data, n) || s->ev.data[0] == '\r' || s->ev.data[0] == '\n'))
		flags |= WT_F_TAILED;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.sk = io->key;
	s->ev.ino = io->ino;
	s->ev.tgid = io->tgid;
	s->ev.tid = (__u32)bpf_get_current_pid_tgid();
	s->ev.len = ret > 0x7fffffff ? 0x7fffffff : ret;
	s->ev.cap_len = n;
	s->ev.type = WT_EV_DATA;
	s->ev.dir = io->dir;
	s->ev.flags = flags;
	s->ev.unacked = (io->dir == WT_DIR_SEND && io->family != AF_UNIX) ? tcp_unacked(io->sk) : 0;
	s->ev.est_ns = io->est_ns;
	if (bench_stage == WT_STAGE_NO_RECORDS)
		return;
	submit_data(s, n);
	if (!(flags & WT_F_TAILED))
		return;
	n = wt_tail_len(ret > 0x7fffffff ? 0x7fffffff : ret);
	n &= WT_CAP * 2 - 1;
	if (n > WT_CAP)
		n = WT_CAP;
	s->ev.flags = (flags & (WT_F_UNIX | WT_F_ACCEPTED)) | WT_F_TAIL;
	s->ev.est_ns = 0;
	s->ev.len = n;
	/* A tail that cannot be read still tells the daemon where the read ended. */
	if (bpf_probe_read_user(s->ev.data, n, (void *)(io->buf + ret - n)))
		n = 0;
	s->ev.cap_len = n;
	submit_data(s, n);
}

#include "tls.bpf.h"

/*
 * One socket call of a traced process that moved `ret` bytes. (nr, buf, len)
 * describe the syscall: its number, its buffer (or iovec or msghdr) and
 * length (or iovec count).
 */
static __always_inline int handle_io(struct sock *sk, long ret, __u8 dir, __u32 tgid,
				     __u64 nr, __u64 buf, __u64 len)
{
	struct io io = { .sk = sk, .key = (__u64)sk, .ret = ret, .dir = dir, .tgid = tgid,
			 .nr = nr, .buf = buf, .len = len };
	struct wt_conn *c;
	__u32 zero = 0;

	if (ret <= 0 || !sk)
		return 0;
	io.s = bpf_map_lookup_elem(&scratch, &zero);
	if (!io.s)
		return 0;
	if (tls_ciphertext(&io))
		return 0;
	c = conn_lookup(&io);
	if (c) {
		if (conn_reused(&io, c))
			c = NULL;
		else if (c->flags & (WT_CONN_IGNORED | WT_CONN_TLS))
			return 0; /* a protocol the daemon does not speak, a relay, or TLS's ciphertext */
	}
	if (!c && !conn_start(&io))
		return 0;
	emit_data(&io);
	return 0;
}


/* ---- sockets path ------------------------------------------------------ */

static __always_inline int on_sock_io(struct bpf_raw_tracepoint_args *ctx, __u8 dir)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sock *sk = (void *)ctx->args[0];
	long ret = (int)ctx->args[1];
	int msg_flags = (int)ctx->args[2];
	struct pt_regs *regs;
	struct syscall_regs args;
	__u64 nr = 0, buf = 0, len = 0;

	if (!traced(tgid) || bench_stage == WT_STAGE_FILTER)
		return 0;
	if (ret <= 0 || (dir == WT_DIR_RECV && (msg_flags & MSG_PEEK)))
		return 0;
	regs = user_regs();
	if (!regs) {
		kstat_inc(WT_KS_REGS_FAIL);
		return 0;
	}
	if (bpf_probe_read_kernel(&args, sizeof(args), __builtin_preserve_access_index(&regs->dx))) {
		kstat_inc(WT_KS_REGS_FAIL);
		return 0;
	}
	nr = args.orig_ax;
	buf = args.si;
	len = args.dx;
	return handle_io(sk, ret, dir, tgid, nr, buf, len);
}

SEC("raw_tp/sock_send_length")
int sock_send(struct bpf_raw_tracepoint_args *ctx)
{
	return on_sock_io(ctx, WT_DIR_SEND);
}

SEC("raw_tp/sock_recv_length")
int sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return on_sock_io(ctx, WT_DIR_RECV);
}

/*
 * A passive open completed: the connection has entered the listen backlog
 * of a server port. Noting when lets the server's first read tell how long
 * the request waited for a worker. In softirq context, so no process yet.
 */
static __always_inline int handshake_done(struct sock *sk)
{
	struct wt_conn nc = { .flags = WT_F_ACCEPTED };
	__u64 key = (__u64)sk;

	if (bench_stage == WT_STAGE_NO_QUEUE)
		return 0;
	if (!server_port(sock_port(sk)))
		return 0;
	nc.est_ns = bpf_ktime_get_ns();
	/* Counted here, once: every later call on it would be refused again. */
	if (conns_insert(&key, &nc, BPF_NOEXIST) == -E2BIG)
		kstat_inc(WT_KS_CONN_FULL);
	return 0;
}

/* tcp_reset() sets the error before it moves the socket to CLOSE. */
static __always_inline bool peer_reset(struct sock *sk)
{
	int err = BPF_CORE_READ(sk, sk_err);

	return err == ECONNRESET || err == EPIPE;
}

/*
 * A raw tracepoint: the classic one formats every field (both addresses, v6
 * included) into a buffer before the program runs, on every TCP state change
 * of the node.
 */
SEC("raw_tp/inet_sock_set_state")
int tcp_state(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];
	int os = (int)ctx->args[1], ns = (int)ctx->args[2];
	struct wt_conn *c;
	__u32 unacked;

	if (bench_stage == WT_STAGE_FILTER)
		return 0;
	/* Connection setups and the peer's FIN can end nothing of ours. */
	switch (ns) {
	case WT_TCP_ESTABLISHED:
		if (os == WT_TCP_SYN_RECV)
			return handshake_done((struct sock *)key);
		return 0;
	case WT_TCP_SYN_SENT:
	case WT_TCP_SYN_RECV:
	case WT_TCP_CLOSE_WAIT:
	case WT_TCP_LISTEN:
	case WT_TCP_NEW_SYN_RECV:
		return 0;
	}
	/* Every other socket's changes (clients', closed ones') end here, at a slot count. */
	c = conns_lookup(&key);
	if (!c)
		return 0;
	if (c->ino == 0) {
		/* Closed in the backlog: its server never read it, the daemon never heard of it. */
		conns_delete(&key);
		return 0;
	}
	if (c->flags & WT_CONN_CLOSING) {
		/*
		 * Any move out of FIN_WAIT1/LAST_ACK means the client acknowledged
		 * everything up to our FIN (or reset): the response has arrived.
		 */
		emit_close(key, c, WT_EV_ACKED, 0, 0);
		conns_delete(&key);
		return 0;
	}
	/* The server's close() moves the socket to one of these, in its context. */
	if (ns != WT_TCP_FIN_WAIT1 && ns != WT_TCP_LAST_ACK && ns != WT_TCP_CLOSE)
		return 0;
	unacked = ns == WT_TCP_CLOSE ? 0 : tcp_unacked((struct sock *)key);
	emit_close(key, c, WT_EV_CLOSE, unacked, ns == WT_TCP_CLOSE && peer_reset((struct sock *)key) ? WT_F_RESET : 0);
	if (unacked) {
		/* Keep it: the ACK of the last byte ends a response to a slow reader. */
		c->flags |= WT_CONN_CLOSING;
		return 0;
	}
	conns_delete(&key);
	return 0;
}

/* ---- syscalls path ----------------------------------------------------- */

static __always_inline struct sock *fd_sock(__u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	struct socket *so;
	umode_t mode;

	if (fd >= max || !fds)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	if (!so)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

static __always_inline int sys_enter(__u64 nr, __u64 fd, __u64 buf, __u64 len)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct call_args a = { .nr = nr, .fd = fd, .buf = buf, .len = len };

	if (!traced(id >> 32) || bench_stage == WT_STAGE_FILTER)
		return 0;
	bpf_map_update_elem(&inflight, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline __u8 dir_of(__u64 nr)
{
	switch (nr) {
	case NR_write:
	case NR_sendto:
	case NR_writev:
	case NR_sendmsg:
	case NR_sendfile:
		return WT_DIR_SEND;
	}
	return WT_DIR_RECV;
}

static __always_inline int sys_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct call_args *a;
	struct call_args args;
	struct sock *sk;

	a = bpf_map_lookup_elem(&inflight, &tid);
	if (!a)
		return 0;
	args = *a;
	bpf_map_delete_elem(&inflight, &tid);
	if (ret <= 0)
		return 0;
	sk = fd_sock(args.fd);
	if (!sk)
		return 0;
	return handle_io(sk, ret, dir_of(args.nr), tgid, args.nr, args.buf, args.len);
}

/* TCP closes come from inet_sock_set_state, which also sees the ACK. */
static __always_inline int sys_close(__u64 fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sock *sk;
	struct wt_conn *c;
	__u64 key;

	if (!traced(tgid) || bench_stage == WT_STAGE_FILTER)
		return 0;
	sk = fd_sock(fd);
	if (!sk)
		return 0;
	key = (__u64)sk;
	c = bpf_map_lookup_elem(&unix_conns, &key);
	if (!c)
		return 0;
	emit_close(key, c, WT_EV_CLOSE, 0, 0);
	bpf_map_delete_elem(&unix_conns, &key);
	return 0;
}

/*
 * The per-syscall tracepoints: attaching one needs its id from tracefs. The
 * kernel then runs the program only for these syscalls.
 */
#define SYS_PAIR(name, nrv)                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)            \
	{                                                                      \
		return sys_enter(nrv, ctx->args[0], ctx->args[1], ctx->args[2]); \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                      \
		return sys_exit(ctx->ret);                                     \
	}

SYS_PAIR(read, NR_read)
SYS_PAIR(recvfrom, NR_recvfrom)
SYS_PAIR(readv, NR_readv)
SYS_PAIR(recvmsg, NR_recvmsg)
SYS_PAIR(write, NR_write)
SYS_PAIR(sendto, NR_sendto)
SYS_PAIR(writev, NR_writev)
SYS_PAIR(sendmsg, NR_sendmsg)
SYS_PAIR(sendfile64, NR_sendfile)

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return sys_close(ctx->args[0]);
}

/*
 * The same hooks where tracefs is neither mounted nor mountable: the raw
 * sys_enter/sys_exit tracepoints need no tracefs, but run for every syscall
 * of every process, so the traced-process check comes first.
 */
SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (void *)ctx->args[0];
	__u64 nr = ctx->args[1];
	struct syscall_regs a;

	if (!traced(bpf_get_current_pid_tgid() >> 32))
		return 0;
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_close:
	case NR_readv:
	case NR_writev:
	case NR_sendfile:
	case NR_sendto:
	case NR_recvfrom:
	case NR_sendmsg:
	case NR_recvmsg:
		break;
	default:
		return 0;
	}
	if (bpf_probe_read_kernel(&a, sizeof(a), __builtin_preserve_access_index(&regs->dx))) {
		kstat_inc(WT_KS_REGS_FAIL);
		return 0;
	}
	if (nr == NR_close)
		return sys_close(a.di);
	return sys_enter(nr, a.di, a.si, a.dx);
}

SEC("raw_tp/sys_exit")
int raw_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (!traced(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return sys_exit((long)ctx->args[1]);
}

/* ---- processes --------------------------------------------------------- */

/*
 * Every exec is reported with its argv when discovery is on: the daemon
 * decides (by command line) and adds the process before it has loaded its
 * app, let alone forked workers. Execs are rare enough that the wakeup this
 * record forces costs nothing measurable.
 */
SEC("raw_tp/sched_process_exec")
int proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, zero = 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct wt_proc_event *e;
	unsigned long as, ae;
	long n;

	if (!auto_discover && !traced(tgid))
		return 0;
	if (tgid == self_tgid)
		return 0;
	e = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!e)
		return 0;
	as = BPF_CORE_READ(task, mm, arg_start);
	ae = BPF_CORE_READ(task, mm, arg_end);
	n = ae - as;
	if (n > WT_ARGS_LEN)
		n = WT_ARGS_LEN;
	if (n <= 0)
		return 0;
	if (bpf_probe_read_user(e->args, n & (WT_ARGS_LEN * 2 - 1) & 0x1ff, (void *)as))
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->args_len = n;
	e->type = WT_EV_EXEC;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_ringbuf_output(&events, e, sizeof(*e), BPF_RB_FORCE_WAKEUP))
		kstat_inc(WT_KS_RB_LOST);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (void *)ctx->args[0];
	struct task_struct *child = (void *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct wt_proc *pp, p = {};
	struct wt_proc_event *e;
	__u32 zero = 0;

	if (cpid != ctgid) /* a new thread, not a process */
		return 0;
	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (!pp)
		return 0;
	p.since_ns = bpf_ktime_get_ns();
	p.root = pp->root;
	bpf_map_update_elem(&procs, &ctgid, &p, BPF_ANY);
	bit_set(traced_bits, TRACED_WORDS, ctgid, true);
	e = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!e)
		return 0;
	e->ts_ns = p.since_ns;
	e->pid = ctgid;
	e->ppid = ptgid;
	e->args_len = 0;
	e->type = WT_EV_FORK;
	submit(e, offsetof(struct wt_proc_event, args), e->ts_ns);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (void *)ctx->args[0];
	__u32 pid = BPF_CORE_READ(task, pid);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct wt_proc_event *e;
	__u32 zero = 0;

	if (pid != tgid)
		return 0;
	if (bpf_map_delete_elem(&procs, &tgid))
		return 0;
	bit_set(traced_bits, TRACED_WORDS, tgid, false);
	e = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->args_len = 0;
	e->type = WT_EV_EXIT;
	submit(e, offsetof(struct wt_proc_event, args), e->ts_ns);
	return 0;
}
