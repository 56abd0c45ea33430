// SPDX-License-Identifier: MIT
/*
 * Attach the SSL uprobes to one traced process at a time: the libssl it
 * really maps (/proc/PID/maps, reached through /proc/PID/root so that a
 * container's own copy is the one probed), with the process's pid as the
 * probes' filter. A process that is not traced never takes their breakpoint.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct tlsattach {
	struct tls_progs p;
	struct tls_proc *procs;
	size_t n, cap;
	uint64_t unreadable[TLS_REASONS];
	uint64_t now_ns;
};

struct tlsattach *tlsattach_new(const struct tls_progs *p)
{
	struct tlsattach *t = calloc(1, sizeof(*t));

	if (t)
		t->p = *p;
	return t;
}

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

int tlsattach_pid(struct tlsattach *t, uint32_t pid)
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

void tlsattach_forget(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid);

	if (!tp)
		return;
	detach(tp);
	*tp = t->procs[--t->n];
}

void tlsattach_retry(struct tlsattach *t, uint64_t now_ns)
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

void tlsattach_render(const struct tlsattach *t, uint64_t untied, struct strbuf *sb)
{
	static const char *const reasons[TLS_REASONS] = { "no_symbols" };
	uint64_t attached = 0;

	for (size_t i = 0; i < t->n; i++)
		attached += t->procs[i].state == PS_ATTACHED;
	promtext_family(sb, "wsgitrace_tls_processes_attached", "gauge",
		      "Traced processes whose TLS plaintext is read: the SSL probes are attached to their libssl.");
	sb_printf(sb, "wsgitrace_tls_processes_attached %llu\n", (unsigned long long)attached);
	promtext_family(sb, "wsgitrace_tls_unreadable_processes_total", "counter",
		      "Traced processes that map a libssl whose SSL functions cannot be probed: their TLS "
		      "connections are not counted.");
	for (size_t r = 0; r < TLS_REASONS; r++)
		sb_printf(sb, "wsgitrace_tls_unreadable_processes_total{reason=\"%s\"} %llu\n", reasons[r],
			  (unsigned long long)t->unreadable[r]);
	promtext_family(sb, "wsgitrace_tls_untied_calls_total", "counter",
		      "SSL reads and writes whose socket could not be found (no socket call inside them and "
		      "their SSL object never seen on one, as with asyncio's memory buffers): not counted.");
	sb_printf(sb, "wsgitrace_tls_untied_calls_total %llu\n", (unsigned long long)untied);
}

void tlsattach_free(struct tlsattach *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		detach(&t->procs[i]);
	free(t->procs);
	free(t);
}
