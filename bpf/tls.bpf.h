/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * TLS served by the traced process itself: uprobes on OpenSSL's SSL_read,
 * SSL_read_ex, SSL_write, SSL_write_ex (Python 3.10+ with OpenSSL 3 calls
 * the _ex forms) and the handshake calls, attached by the daemon to each
 * traced process alone (user/tlsattach.c): no other process on the node
 * takes their breakpoint.
 *
 * The SSL call is tied to its socket by the socket call it makes itself, on
 * the same thread: at SSL entry the call's arguments are kept by thread id;
 * a socket read or write that happens inside it names the socket (and marks
 * the connection WT_CONN_TLS: its ciphertext sends no records); at SSL
 * return the plaintext goes through handle_io's steps keyed by that socket,
 * so the daemon follows it exactly as plain HTTP. A call served from
 * OpenSSL's own buffer makes no socket call: the SSL object's last socket
 * (ssl_socks) names it.
 *
 * Included by wsgitrace.bpf.c after handle_io's steps, whose maps and
 * helpers it uses.
 */
#ifndef WT_TLS_BPF_H
#define WT_TLS_BPF_H

enum ssl_kind {
	SSL_K_HANDSHAKE = 0, /* SSL_do_handshake, SSL_accept: ciphertext only */
	SSL_K_READ = 1,
	SSL_K_WRITE = 2,
};

/* An SSL call in progress on a thread: its arguments, and the socket it used. */
struct ssl_call {
	__u64 id;   /* pid_tgid: a stale entry of a dead thread is not taken for another's */
	__u64 ssl;  /* the SSL object */
	__u64 buf;  /* plaintext buffer */
	__u64 outp; /* _ex forms: where the byte count is written (size_t *), else 0 */
	__u64 sk;   /* the socket a nested socket call named, else 0 */
	__u32 kind; /* enum ssl_kind */
	__u32 pad;
};

/*
 * Keyed by thread id. LRU: an entry whose return never came (a thread
 * killed inside SSL_read) ages out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/*
 * SSL object -> its socket, for calls served from OpenSSL's buffer. Keyed by
 * process too: workers forked from one master allocate their SSL objects at
 * the same addresses. LRU: SSL objects are freed unseen; a reused address is
 * re-tied by the first socket call of its new connection (its handshake).
 */
struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __u64);
} ssl_socks SEC(".maps");

/*
 * One bit per thread id inside an SSL call: every socket call of a traced
 * process tests it, so a server that makes no SSL call pays a bit test, not
 * a hash lookup. Sized like traced_bits (PID_MAX_LIMIT).
 */
__u64 ssl_tids[TRACED_WORDS];

static __always_inline void ssl_enter(__u64 ssl, __u64 buf, __u64 outp, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_call call = { .id = id, .ssl = ssl, .buf = buf, .outp = outp, .kind = kind };
	struct ssl_call *cur;

	if (!traced(id >> 32) || bench_stage == WT_STAGE_FILTER)
		return;
	/* SSL_accept calls SSL_do_handshake: the outer call's entry stays. */
	cur = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (cur && cur->id == id && cur->ssl == ssl && kind == SSL_K_HANDSHAKE && bit_test(ssl_tids, TRACED_WORDS, tid))
		return;
	bpf_map_update_elem(&ssl_calls, &tid, &call, BPF_ANY);
	bit_set(ssl_tids, TRACED_WORDS, tid, true);
}

/* The call on this thread that just returned, taken out of the map; false if none. */
static __always_inline bool ssl_leave(struct ssl_call *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);

	if (!bit_test(ssl_tids, TRACED_WORDS, tid))
		return false;
	bit_set(ssl_tids, TRACED_WORDS, tid, false);
	if (!call)
		return false;
	*out = *call;
	bpf_map_delete_elem(&ssl_calls, &tid);
	return out->id == id;
}

/*
 * On a socket call of a traced process (io set up by handle_io): -> true
 * when it happens inside an SSL call of the same thread, i.e. it moves
 * ciphertext. It then sends no record; it names the call's socket, ties the
 * SSL object to it, and starts following the connection as a TLS one when
 * it is the server's (the handshake's first read, from its start).
 */
static __always_inline bool tls_ciphertext(struct io *io)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_call *call;
	struct wt_conn *c;

	if (!bit_test(ssl_tids, TRACED_WORDS, tid))
		return false;
	call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (!call || call->id != id)
		return false;
	if (call->sk != io->key) {
		struct ssl_key k = { .ssl = call->ssl, .tgid = id >> 32 };

		call->sk = io->key;
		bpf_map_update_elem(&ssl_socks, &k, &io->key, BPF_ANY);
	}
	c = conn_lookup(io);
	if (c && !conn_reused(io, c)) {
		if (!(c->flags & WT_CONN_TLS)) {
			/*
			 * Followed as plain until now (its first calls came before
			 * the probes were attached): the plaintext picks it up anew,
			 * at a request, like a connection open before we started.
			 */
			c->flags = (c->flags & ~(WT_CONN_IGNORED | WT_F_ACCEPTED)) | WT_CONN_TLS | WT_CONN_TLS_NEW;
			c->est_ns = 0;
		}
		return true;
	}
	/* A connection this process opened (a TLS client call of the app's) is none of ours. */
	if (!stream_sock(io) || !accepted(io->sk, io->family) || io->family == AF_UNIX)
		return true;
	if (closed_unread(io))
		return true;
	if (!conn_track(io))
		return true;
	c = bpf_map_lookup_elem(&conns, &io->key);
	if (!c)
		return true;
	c->flags |= WT_CONN_TLS | WT_CONN_TLS_NEW;
	/*
	 * The first request's queue time is the wait for this first read, as
	 * on plain HTTP; the TLS handshake that follows is the worker's work,
	 * in neither the queue time nor the request's duration.
	 */
	c->est_ns = io->est_ns ? bpf_ktime_get_ns() - io->est_ns : 0;
	return true;
}

/* At an SSL read or write's return: its plaintext, on its connection, as a socket call's. */
static __always_inline int tls_plaintext(long rc)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, zero = 0;
	struct ssl_call call;
	struct wt_conn *c;
	__u64 n = 0, *skp;
	struct io io = {};

	if (!ssl_leave(&call) || call.kind == SSL_K_HANDSHAKE)
		return 0;
	if (call.outp) {
		/* SSL_read_ex/SSL_write_ex: 1 on success, the count in *outp. */
		if (rc != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call.outp))
			return 0;
	} else if (rc > 0) {
		n = rc;
	}
	if (n == 0 || n > 0x7fffffff)
		return 0;
	if (!call.sk) {
		struct ssl_key k = { .ssl = call.ssl, .tgid = tgid };

		skp = bpf_map_lookup_elem(&ssl_socks, &k);
		if (!skp) {
			kstat_inc(WT_KS_TLS_UNTIED);
			return 0;
		}
		call.sk = *skp;
	}
	io.sk = (struct sock *)call.sk;
	io.key = call.sk;
	io.ret = n;
	io.dir = call.kind == SSL_K_READ ? WT_DIR_RECV : WT_DIR_SEND;
	io.tgid = tgid;
	/* A plain buffer, as read() and write() take. */
	io.nr = call.kind == SSL_K_READ ? NR_read : NR_write;
	io.buf = call.buf;
	io.len = n;
	io.s = bpf_map_lookup_elem(&scratch, &zero);
	if (!io.s)
		return 0;
	c = conn_lookup(&io);
	if (c && conn_reused(&io, c))
		c = NULL;
	if (c) {
		if (c->flags & WT_CONN_IGNORED)
			return 0;
		c->flags |= WT_CONN_TLS;
		if (c->flags & WT_CONN_TLS_NEW) {
			io.flags |= WT_F_NEW;
			io.est_ns = c->est_ns ? bpf_ktime_get_ns() - c->est_ns : 0;
			c->est_ns = 0;
			c->flags &= ~WT_CONN_TLS_NEW;
		}
	} else {
		/* No ciphertext call seen start it: picked up at a request, mid-stream. */
		if (io.dir != WT_DIR_RECV || !conn_start(&io))
			return 0;
		c = conn_find(&io.key);
		if (c)
			c->flags |= WT_CONN_TLS;
	}
	emit_data(&io);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	ssl_enter((__u64)ssl, (__u64)buf, 0, SSL_K_READ);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{
	ssl_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, SSL_K_READ);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num)
{
	ssl_enter((__u64)ssl, (__u64)buf, 0, SSL_K_WRITE);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{
	ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, SSL_K_WRITE);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
	ssl_enter((__u64)ssl, 0, 0, SSL_K_HANDSHAKE);
	return 0;
}

/* One return probe for every SSL function: the entry says what the call was. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_exit, long rc)
{
	/* Every one of them returns an int. */
	return tls_plaintext((int)rc);
}

#endif /* WT_TLS_BPF_H */
