/* SPDX-License-Identifier: MIT */
/*
 * Types shared by the kernel side (bpf/wsgitrace.bpf.c) and the daemon.
 * Fixed-width fields only, widest first, so both compilers lay them out the
 * same way with no holes.
 */
#ifndef WSGITRACE_H
#define WSGITRACE_H

/*
 * Bytes of each socket call's data copied to userspace. Enough for a request
 * line with a long path plus the framing headers of a typical request, and for
 * a response's status line and headers; body bytes past this are never copied.
 */
#define WT_CAP 512
/*
 * Records are variable length: a data record is its header plus cap_len
 * bytes, so short calls take little room in the ring.
 */

#define WT_COMM_LEN 16
#define WT_ARGS_LEN 256

enum wt_event_type {
	WT_EV_DATA = 1,  /* a recv or send on a tracked inbound connection */
	WT_EV_CLOSE = 2, /* the connection was closed (TCP state change) */
	WT_EV_EXEC = 3,  /* a process exec'd a server; args[] holds its argv */
	WT_EV_FORK = 4,  /* a traced process forked; pid is the child */
	WT_EV_EXIT = 5,  /* a traced process exited */
	WT_EV_ACKED = 6, /* after a CLOSE with unacked bytes: the client acknowledged them all */
	WT_EV_RELAYED = 7, /* the connection's peer is a traced relay: forget it, count nothing */
	WT_EV_ABANDONED = 8, /* its client reset it while it waited to be read: the server read a request it cannot answer */
};

enum wt_dir {
	WT_DIR_RECV = 0,
	WT_DIR_SEND = 1,
};

/* wt_conn_event.flags */
#define WT_F_NODATA 0x01 /* the bytes were not in user memory (sendfile) */
#define WT_F_UNIX 0x02   /* AF_UNIX stream: no close event will come */
#define WT_F_NEW 0x04    /* first event the kernel side saw on this socket */
/*
 * The server accepted this connection and the kernel side follows it from
 * its first byte (TCP: its handshake was seen, or the stream's byte counts
 * show this call moved its first bytes), so it is parsed whatever that byte
 * is. Without it, a connection was picked up because a read looked like a
 * request (it was open before wsgitrace started).
 */
#define WT_F_ACCEPTED 0x08
/*
 * On WT_EV_CLOSE: the peer reset the connection (or it was already closed
 * when the server first read from it). Nothing pending on it was owed.
 */
#define WT_F_RESET 0x10
/*
 * A read longer than the capture that starts like a request, or with an
 * empty line: the read's last bytes follow in a record of their own
 * (WT_F_TAIL, right after this one), so that a request pipelined behind a
 * long head, or after many empty lines, is still seen. This record stands
 * for the read's first len - wt_tail_len(len) bytes.
 */
#define WT_F_TAILED 0x20
/* The last wt_tail_len() bytes of the WT_F_TAILED read just before: len and cap_len are theirs. */
#define WT_F_TAIL 0x40

/* Bytes of a WT_F_TAILED read of len bytes its tail record holds: none of the first WT_CAP. */
static inline __u32 wt_tail_len(__u32 len)
{
	return len <= WT_CAP ? 0 : len - WT_CAP < WT_CAP ? len - WT_CAP : WT_CAP;
}

/*
 * One record about an inbound connection of a traced process: a recv or send
 * (WT_EV_DATA, with the call's first bytes), or its end (WT_EV_CLOSE,
 * WT_EV_ACKED, WT_EV_RELAYED: header only, no data).
 */
struct wt_conn_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC when the call had moved its bytes */
	__u64 sk;    /* kernel socket address: with ino, the connection id */
	__u64 ino;   /* socket inode number: tells a reused sk apart */
	__u32 tgid;
	__u32 tid;
	__s32 len;      /* bytes the call moved: its return value, > 0 */
	__u16 cap_len;  /* valid bytes in data[] */
	__u8 type;      /* WT_EV_DATA, WT_EV_CLOSE or WT_EV_ACKED */
	__u8 dir;       /* enum wt_dir */
	__u8 flags;     /* WT_F_* */
	__u8 pad[3];
	/*
	 * TCP bytes sent but not yet acknowledged by the client, right after a
	 * SEND or at the server's CLOSE. Non-zero means the response is still on
	 * its way to a slow reader: its end comes with WT_EV_ACKED or later.
	 */
	__u32 unacked;
	/*
	 * When the kernel completed the TCP handshake, i.e. the connection
	 * entered the listen backlog. Set on the WT_F_NEW record of a connection
	 * whose handshake was seen, else 0. On a TLS connection it is moved
	 * later by as long as the TLS handshake took, so that the daemon's
	 * queue time (first request's start - est_ns) ends at the server's
	 * first read of the connection (the ClientHello), as on plain HTTP.
	 */
	__u64 est_ns;
	__u8 data[WT_CAP];
};

/*
 * Process lifecycle: exec of a server, fork and exit of a traced process.
 * `type` sits at the same offset (38) in every record, so a reader looks at
 * it first to know which struct it holds.
 */
struct wt_proc_event {
	__u64 ts_ns;
	__u64 pad0;
	__u64 pad1;
	__u32 pid;  /* the exec'ing, new or exiting process (tgid) */
	__u32 ppid; /* its parent */
	__s32 args_len;
	__u16 pad2;
	__u8 type; /* WT_EV_EXEC, WT_EV_FORK or WT_EV_EXIT: same offset as above */
	__u8 pad3[9];
	char comm[WT_COMM_LEN];
	char args[WT_ARGS_LEN]; /* argv, NUL separated, for WT_EV_EXEC */
};

/*
 * What the reader relies on, checked where both sides compile: it looks at
 * `type` before it knows which record it holds; a data record is its header
 * plus cap_len bytes of data[]; a fork or exit record, sent without args[],
 * is still as long as a data record's header.
 */
_Static_assert(__builtin_offsetof(struct wt_conn_event, type) == 38 &&
		       __builtin_offsetof(struct wt_proc_event, type) == 38,
	       "type at offset 38 in every record");
_Static_assert(__builtin_offsetof(struct wt_conn_event, data) + WT_CAP == sizeof(struct wt_conn_event),
	       "data[] is the data record's last field");
_Static_assert(__builtin_offsetof(struct wt_proc_event, args) >= __builtin_offsetof(struct wt_conn_event, data),
	       "a record without args[] is as long as a data record's header");

/* Counters the kernel side keeps, one slot each in a per-CPU array. */
enum wt_kstat {
	WT_KS_RB_LOST = 0,     /* ring buffer full: record not written */
	WT_KS_READ_FAIL,       /* user buffer could not be read */
	WT_KS_REGS_FAIL,       /* syscall registers could not be found */
	WT_KS_RELAYED,         /* inbound connections from a traced relay (uWSGI router) */
	WT_KS_CONN_FULL,       /* connection table full: connection not tracked */
	WT_KS_CLOSED_UNREAD,   /* reset by the client before the server first read it: not tracked */
	WT_KS_TLS_UNTIED,      /* TLS plaintext whose socket is unknown (no socket call in the SSL call, SSL object never tied) */
	WT_KS_MAX,
};

/*
 * How far the kernel side goes per socket call (the daemon's hidden
 * --bench-stage). Only `make bench` sets anything but FULL: running the same
 * server with each stage in turn tells what each part costs it.
 */
enum wt_stage {
	WT_STAGE_FULL = 0,       /* normal tracing */
	WT_STAGE_FILTER = 1,     /* programs attached; return after the traced-process check */
	WT_STAGE_NO_RECORDS = 2, /* all kernel-side work, but no connection record leaves the kernel */
	WT_STAGE_NO_QUEUE = 3,   /* normal tracing without the handshake notes queue time needs */
};

/* Value of the kernel's connection maps, keyed by the kernel socket address. */
struct wt_conn {
	__u64 ino;    /* 0: accepted by the kernel, not yet read by its server */
	__u64 est_ns; /* handshake completed (0: not seen) */
	__u32 tgid;
	__u32 flags; /* WT_F_* in the low byte, WT_CONN_* above */
};

#define WT_CONN_CLOSING 0x100 /* closed with bytes unacknowledged: waiting for the ACK */
#define WT_CONN_IGNORED 0x200 /* the daemon found a protocol it does not speak: no more records */
/*
 * TLS (bpf/tls.bpf.h): the socket's own calls carry ciphertext and send no
 * records; its records are the plaintext of the server's SSL calls.
 */
#define WT_CONN_TLS 0x400
/*
 * TLS, and the daemon has not heard of the connection yet: the first
 * plaintext record is its WT_F_NEW one. Meanwhile est_ns holds the first
 * request's queue time (see tls.bpf.h), not a timestamp.
 */
#define WT_CONN_TLS_NEW 0x800

/* Value of the traced-process map. */
struct wt_proc {
	__u64 since_ns;
	__u32 root; /* the traced ancestor: the server's master */
	__u32 flags;
};

#endif /* WSGITRACE_H */
