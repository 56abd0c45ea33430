// SPDX-License-Identifier: MIT
/*
 * Attach the SSL uprobes to one traced process at a time: the libssl it
 * really maps (/proc/PID/maps, reached through /proc/PID/root so that a
 * container's own copy is the one probed), with the process's pid as the
 * probes' filter. A process that is not traced never takes their breakpoint.
 *
 * Attaching needs CAP_PERFMON and, for another's maps, CAP_SYS_PTRACE,
 * which the daemon drops once running: a small helper forked before the
 * drop does it, holding only the SSL programs' fds and its socket, and is
 * only ever given process ids. The links live in the helper.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "promtext.h"
#include "tlsattach.h"

/* The SSL functions probed, and which entry program each takes. */
static const struct {
	const char *fn;
	size_t prog; /* offset in struct tls_progs */
	bool needed; /* without it no plaintext can be read */
} funcs[] = {
	{ "SSL_read", offsetof(struct tls_progs, read), true },
	{ "SSL_read_ex", offsetof(struct tls_progs, read_ex), false }, /* OpenSSL 1.1.1+ */
	{ "SSL_write", offsetof(struct tls_progs, write), true },
	{ "SSL_write_ex", offsetof(struct tls_progs, write_ex), false },
	{ "SSL_do_handshake", offsetof(struct tls_progs, handshake), false },
	{ "SSL_accept", offsetof(struct tls_progs, handshake), false },
};
#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

/* Processes with no libssl mapped when first seen are looked at again for this long. */
#define RETRY_NS (10ull * 1000000000ull)

struct tls_proc {
	uint32_t pid;
	uint8_t state; /* PS_* */
	uint64_t first_ns;
	struct bpf_link *links[NFUNCS * 2];
};

enum { PS_PENDING = 0, PS_ATTACHED, PS_NONE, PS_UNREADABLE };

/* The helper's state: every process it probes. */
struct tlsattach {
	struct tls_progs p;
	struct tls_proc *procs;
	size_t n, cap;
	uint64_t unreadable[TLS_REASONS];
	uint64_t now_ns;
};

/* What the daemon asks the helper, and its answer: the totals after it. */
enum { OP_ATTACH = 1, OP_FORGET, OP_RETRY };
struct msg {
	uint64_t now_ns;
	uint32_t op;
	uint32_t pid;
};
struct reply {
	int32_t ret;
	uint32_t attached;
	uint64_t unreadable[TLS_REASONS];
};

/* The daemon's handle: the helper's socket and its last answer. */
struct tlsattach_client {
	pid_t helper;
	int fd;
	struct reply last;
};


static struct tls_proc *find(struct tlsattach *t, uint32_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->procs[i].pid == pid)
			return &t->procs[i];
	return NULL;
}

static void detach(struct tls_proc *tp)
{
	for (size_t i = 0; i < NFUNCS * 2; i++) {
		bpf_link__destroy(tp->links[i]);
		tp->links[i] = NULL;
	}
}

/* The file of the libssl pid maps executable, as seen from here; 0 if it maps none. */
static int libssl_of(uint32_t pid, char *path, size_t len)
{
	char maps[64], line[4608];
	FILE *f;
	int found = 0;

	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char perms[8], file[4096];
		const char *base;

		file[0] = 0;
		if (sscanf(line, "%*s %7s %*s %*s %*s %4095[^\n]", perms, file) != 2 || perms[2] != 'x')
			continue;
		base = strrchr(file, '/');
		base = base ? base + 1 : file;
		/* Any soname: libssl.so.3, libssl.so.1.1; a deleted file cannot be opened. */
		if (strncmp(base, "libssl.so", 9) || strstr(file, " (deleted)"))
			continue;
		snprintf(path, len, "/proc/%u/root%s", pid, file);
		found = 1;
	}
	fclose(f);
	return found;
}

static int attach(struct tlsattach *t, struct tls_proc *tp, const char *lib)
{
	for (size_t i = 0; i < NFUNCS; i++) {
		struct bpf_program *entry = *(struct bpf_program **)((char *)&t->p + funcs[i].prog);
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = funcs[i].fn);
		LIBBPF_OPTS(bpf_uprobe_opts, r, .func_name = funcs[i].fn, .retprobe = true);

		/* The return probe first: an entry without its return would leave a call open. */
		tp->links[2 * i + 1] = bpf_program__attach_uprobe_opts(t->p.exit, (pid_t)tp->pid, lib, 0, &r);
		if (tp->links[2 * i + 1])
			tp->links[2 * i] = bpf_program__attach_uprobe_opts(entry, (pid_t)tp->pid, lib, 0, &o);
		if (!tp->links[2 * i] && funcs[i].needed) {
			fprintf(stderr, "wsgitrace: process %u: cannot probe %s in %s (%s): its TLS is not read\n",
				tp->pid, funcs[i].fn, lib, strerror(errno));
			detach(tp);
			return -1;
		}
		if (!tp->links[2 * i]) {
			bpf_link__destroy(tp->links[2 * i + 1]);
			tp->links[2 * i + 1] = NULL;
		}
	}
	return 0;
}

static int try_attach(struct tlsattach *t, struct tls_proc *tp)
{
	char lib[4200];
	int r = libssl_of(tp->pid, lib, sizeof(lib));

	if (r < 0) {
		tp->state = PS_NONE; /* gone */
		return 0;
	}
	if (r == 0)
		return 0;
	if (attach(t, tp, lib)) {
		tp->state = PS_UNREADABLE;
		t->unreadable[TLS_NO_SYMBOLS]++;
		return -1;
	}
	tp->state = PS_ATTACHED;
	return 1;
}

static int h_attach(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid);

	if (tp) {
		if (tp->state != PS_PENDING)
			return tp->state == PS_ATTACHED ? 1 : tp->state == PS_UNREADABLE ? -1 : 0;
	} else {
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 16;
			struct tls_proc *np = realloc(t->procs, ncap * sizeof(*np));

			if (!np)
				return 0;
			t->procs = np;
			t->cap = ncap;
		}
		tp = &t->procs[t->n++];
		memset(tp, 0, sizeof(*tp));
		tp->pid = pid;
		tp->first_ns = t->now_ns;
	}
	return try_attach(t, tp);
}

/*
 * Closing a uprobe waits for an RCU-tasks grace period (hundreds of ms on a
 * busy node), per probe: an exited process's links are closed by a thread of
 * their own, so that attaching a new worker never waits behind them.
 */
static pthread_mutex_t gone_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone_cv = PTHREAD_COND_INITIALIZER;
static struct bpf_link **gone;
static size_t ngone, gone_cap;

static void *closer(void *arg)
{
	(void)arg;
	for (;;) {
		struct bpf_link *l;

		pthread_mutex_lock(&gone_mu);
		while (!ngone)
			pthread_cond_wait(&gone_cv, &gone_mu);
		l = gone[--ngone];
		pthread_mutex_unlock(&gone_mu);
		bpf_link__destroy(l);
	}
	return NULL;
}

static void h_forget(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid);

	if (!tp)
		return;
	pthread_mutex_lock(&gone_mu);
	for (size_t i = 0; i < NFUNCS * 2; i++) {
		if (!tp->links[i])
			continue;
		if (ngone == gone_cap) {
			size_t ncap = gone_cap ? gone_cap * 2 : 64;
			struct bpf_link **ng = realloc(gone, ncap * sizeof(*ng));

			if (!ng) {
				/* No room to hand it over: close it here, slowly. */
				pthread_mutex_unlock(&gone_mu);
				bpf_link__destroy(tp->links[i]);
				pthread_mutex_lock(&gone_mu);
				tp->links[i] = NULL;
				continue;
			}
			gone = ng;
			gone_cap = ncap;
		}
		gone[ngone++] = tp->links[i];
		tp->links[i] = NULL;
	}
	pthread_cond_signal(&gone_cv);
	pthread_mutex_unlock(&gone_mu);
	*tp = t->procs[--t->n];
}

static void h_retry(struct tlsattach *t, uint64_t now_ns)
{
	t->now_ns = now_ns;
	for (size_t i = 0; i < t->n; i++) {
		struct tls_proc *tp = &t->procs[i];

		if (tp->state != PS_PENDING)
			continue;
		if (!tp->first_ns)
			tp->first_ns = now_ns;
		if (now_ns - tp->first_ns > RETRY_NS)
			tp->state = PS_NONE;
		else
			try_attach(t, tp);
	}
}

static void h_free(struct tlsattach *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		detach(&t->procs[i]);
	free(t->procs);
	free(t);
}

static void h_reply(struct tlsattach *t, int fd, int ret)
{
	struct reply r = { .ret = ret };

	for (size_t i = 0; i < t->n; i++)
		r.attached += t->procs[i].state == PS_ATTACHED;
	memcpy(r.unreadable, t->unreadable, sizeof(r.unreadable));
	if (send(fd, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r))
		_exit(0);
}

static void helper_loop(struct tlsattach *t, int fd)
{
	struct msg m;

	for (;;) {
		ssize_t n = recv(fd, &m, sizeof(m), 0);
		int ret = 0;

		if (n != sizeof(m))
			break; /* the daemon is gone */
		t->now_ns = m.now_ns;
		switch (m.op) {
		case OP_ATTACH:
			ret = h_attach(t, m.pid);
			break;
		case OP_FORGET:
			h_forget(t, m.pid);
			break;
		case OP_RETRY:
			h_retry(t, m.now_ns);
			break;
		}
		h_reply(t, fd, ret);
	}
	h_free(t);
	_exit(0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd but the programs' and the helper's socket. */
static void keep_only(int *keep, size_t n)
{
	unsigned lo = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo)
			close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	close_range(lo, ~0u, 0);
}

struct tlsattach_client *tlsattach_new(const struct tls_progs *p)
{
	struct tlsattach_client *c = calloc(1, sizeof(*c));
	struct bpf_program *progs[] = { p->read, p->read_ex, p->write, p->write_ex, p->handshake, p->exit };
	int sv[2], keep[7];

	if (!c)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(c);
		return NULL;
	}
	c->helper = fork();
	if (c->helper < 0) {
		close(sv[0]);
		close(sv[1]);
		free(c);
		return NULL;
	}
	if (c->helper == 0) {
		struct tlsattach *t = calloc(1, sizeof(*t));

		if (!t)
			_exit(1);
		t->p = *p;
		for (size_t i = 0; i < 6; i++)
			keep[i] = bpf_program__fd(progs[i]);
		keep[6] = sv[1];
		keep_only(keep, 7);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		{
			pthread_t th;

			if (pthread_create(&th, NULL, closer, NULL))
				_exit(1);
		}
		helper_loop(t, sv[1]);
	}
	close(sv[1]);
	c->fd = sv[0];
	return c;
}

static int ask(struct tlsattach_client *c, uint32_t op, uint32_t pid, uint64_t now_ns)
{
	struct msg m = { .now_ns = now_ns, .op = op, .pid = pid };
	struct reply r;

	if (c->fd < 0 || send(c->fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m) ||
	    recv(c->fd, &r, sizeof(r), 0) != sizeof(r))
		return 0;
	c->last = r;
	return r.ret;
}

int tlsattach_pid(struct tlsattach_client *c, uint32_t pid)
{
	return ask(c, OP_ATTACH, pid, 0);
}

void tlsattach_forget(struct tlsattach_client *c, uint32_t pid)
{
	ask(c, OP_FORGET, pid, 0);
}

void tlsattach_retry(struct tlsattach_client *c, uint64_t now_ns)
{
	ask(c, OP_RETRY, 0, now_ns);
}

void tlsattach_render(const struct tlsattach_client *t, uint64_t untied, struct strbuf *sb)
{
	static const char *const reasons[TLS_REASONS] = { "no_symbols" };
	uint64_t attached = t->last.attached;
	promtext_family(sb, "wsgitrace_tls_processes_attached", "gauge",
		      "Traced processes whose TLS plaintext is read: the SSL probes are attached to their libssl.");
	sb_printf(sb, "wsgitrace_tls_processes_attached %llu\n", (unsigned long long)attached);
	promtext_family(sb, "wsgitrace_tls_unreadable_processes_total", "counter",
		      "Traced processes that map a libssl whose SSL functions cannot be probed: their TLS "
		      "connections are not counted.");
	for (size_t r = 0; r < TLS_REASONS; r++)
		sb_printf(sb, "wsgitrace_tls_unreadable_processes_total{reason=\"%s\"} %llu\n", reasons[r],
			  (unsigned long long)t->last.unreadable[r]);
	promtext_family(sb, "wsgitrace_tls_untied_calls_total", "counter",
		      "SSL reads and writes whose socket could not be found (no socket call inside them and "
		      "their SSL object never seen on one, as with asyncio's memory buffers): not counted.");
	sb_printf(sb, "wsgitrace_tls_untied_calls_total %llu\n", (unsigned long long)untied);
}

void tlsattach_free(struct tlsattach_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->helper > 0) {
		/* Not waited for: closing its probes may take it seconds, and it is on its way out. */
		kill(c->helper, SIGTERM);
		waitpid(c->helper, NULL, WNOHANG);
	}
	free(c);
}
