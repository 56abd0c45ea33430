// SPDX-License-Identifier: MIT
/*
 * Attach the SSL uprobes to one traced process at a time: the libssl it
 * really maps (/proc/PID/maps, reached through /proc/PID/root so that a
 * container's own copy is the one probed), with the process's pid as the
 * probes' filter. A process that is not traced never takes their breakpoint.
 *
 * Probes filtered on a pid are not inherited by a fork, so a worker forked
 * after its master was attached would go unread until the daemon saw the
 * fork and attached it too: its first requests lost. Where tracefs can be
 * had, each probe is therefore a uprobe event of tracefs (one per library
 * file and function), and each traced process gets a perf event on it with
 * `inherit`: every process it forks from then on carries the event from
 * its first instruction, so new and recycled workers are read from their
 * first request (and `remove_on_exec`: a program the process execs does not
 * keep them). The programs hang on one more event per probe, on the
 * helper's own pid, never inherited: the kernel detaches an inherited
 * event's program when the child exits, which would take it off every
 * process. Without tracefs, libbpf's per-pid probes are attached instead,
 * and a worker's connections before its attach are counted unread.
 *
 * Attaching needs CAP_PERFMON and, for another's maps, CAP_SYS_PTRACE,
 * which the daemon drops once running: a small helper forked before the
 * drop does it, holding only the SSL programs' fds and its socket, and is
 * only ever given process ids. The links live in the helper; it removes its
 * tracefs events when the daemon goes (the socket's end), and a new helper
 * removes those a killed one left.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
/* Probe 2i is function i's entry, 2i + 1 its return. */
#define NPROBES (NFUNCS * 2)
/*
 * After the probes' events, a TLS server's process holds one event that its
 * forks do not inherit (a dummy software event on it alone). A fork that
 * inherits every event of its parent gets a perf context the kernel treats
 * as a clone of the parent's, and on a context switch between the two it
 * swaps the contexts instead of switching their events: the parent's own
 * events then sit in the worker's context and go with the worker when it
 * exits. Under load a recycled worker forked after such a swap went without
 * its probes (a fork in four, a server recycling its workers on a busy
 * 2-core VM); with one event not inherited the contexts are never clones.
 */
#define FD_SOLO NPROBES
#define NFDS (NPROBES + 1)

/* Processes with no libssl mapped when first seen are looked at again for this long. */
#define RETRY_NS (10ull * 1000000000ull)
/*
 * A fork inherits the events its parent had when the kernel copied the
 * parent's perf context, a moment before the fork record's time stamp: a
 * fork stamped this long after the parent's events were opened surely
 * carries them, and gets no events of its own.
 */
#define INHERIT_MARGIN_NS (1000ull * 1000000ull)

struct tls_proc {
	uint32_t pid;
	uint8_t state; /* PS_* */
	uint64_t first_ns;
	struct bpf_link *links[NFDS];    /* libbpf's per-pid probes, without tracefs (FD_SOLO: none) */
	int fds[NFDS];                   /* its perf events on the library's tracefs probes, inherited by its forks */
	uint32_t owner;                  /* whose fds it carries: its own pid, or an ancestor's (inherited) */
	uint64_t inherits_ns;            /* its forks stamped from then on carry the probes; 0: none do */
	bool tls_server;                 /* it or its server serves TLS: its probes are inherited */
};

enum { PS_PENDING = 0, PS_ATTACHED, PS_NONE, PS_UNREADABLE, PS_NO_LIBSSL };

/* A library file probed through tracefs: its uprobe events and the programs on them. */
struct tls_lib {
	dev_t dev;
	ino_t ino;
	bool ok;                         /* false: its probes could not be made; libbpf's instead */
	int ids[NPROBES];                /* tracefs event ids, -1 for a function it lacks */
	struct bpf_link *anchor[NPROBES]; /* the program, on an event of the helper's own */
};

/* The helper's state: every process it probes. */
struct tlsattach {
	struct tls_progs p;
	struct tls_proc *procs;
	size_t n, cap;
	struct tls_lib *libs;
	size_t nlibs;
	const char *tracefs; /* where uprobe_events is; NULL: libbpf's per-pid probes */
	char group[32];      /* our tracefs event group: wsgitrace_PID */
	uint64_t unreadable[TLS_REASONS];
	uint64_t unread[TLS_REASONS];
	uint64_t now_ns;
};

/*
 * What the daemon tells the helper, one way: the daemon never waits for the
 * helper (attaching or closing a probe can take a grace period of RCU, on a
 * busy node seconds), so a slow helper never holds up the reading of the
 * ring buffer, plain HTTP's included.
 */
enum { OP_ATTACH = 1, OP_FORGET, OP_RETRY, OP_UNREAD, OP_FORK };
struct msg {
	uint64_t now_ns;
	uint32_t op;
	uint32_t pid;
	uint32_t ppid; /* OP_FORK: the parent */
	uint32_t pad;
	uint64_t ts_ns; /* OP_FORK: the fork record's time stamp */
};
/* The helper's totals, sent back whenever it has caught up with the daemon's notices. */
struct status {
	uint32_t attached;
	uint32_t inheriting; /* of those, processes whose forks inherit the probes (tracefs) */
	uint32_t pending;    /* processes with no libssl yet, looked at again on each retry */
	uint32_t pad;
	uint64_t unreadable[TLS_REASONS];
	uint64_t unread[TLS_REASONS];
};

/*
 * Notices the helper's socket had no room for wait here, in order; beyond
 * this many the helper has fallen too far behind and they are counted as
 * dropped (wsgitrace_tls_notices_dropped_total) instead.
 */
#define QUEUE_MAX 8192

/* The daemon's handle: the helper's socket, notices not yet sent, and the helper's last totals. */
struct tlsattach_client {
	pid_t helper;
	int fd;
	struct status last;
	struct msg *queue; /* a ring of QUEUE_MAX */
	size_t qhead, qlen;
	uint64_t dropped;
};

static struct bpf_program *entry_prog(const struct tlsattach *t, size_t i)
{
	return *(struct bpf_program *const *)((const char *)&t->p + funcs[i].prog);
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
	for (size_t i = 0; i < NFDS; i++) {
		bpf_link__destroy(tp->links[i]);
		tp->links[i] = NULL;
		if (tp->fds[i] >= 0)
			close(tp->fds[i]);
		tp->fds[i] = -1;
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

/* ---- tracefs: uprobe events that forks inherit ---- */

static const char *const tracing_dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static bool has_uprobe_events(const char *dir)
{
	char p[64];

	snprintf(p, sizeof(p), "%s/uprobe_events", dir);
	return access(p, W_OK) == 0;
}

/*
 * Where uprobe_events is, mounting tracefs in a mount namespace of the
 * helper's own if the host has none (the host's mounts are unchanged). Must
 * run before the helper starts a thread (unshare refuses a shared fs).
 */
static const char *tracefs_find(void)
{
	for (size_t i = 0; i < sizeof(tracing_dirs) / sizeof(tracing_dirs[0]); i++)
		if (has_uprobe_events(tracing_dirs[i]))
			return tracing_dirs[i];
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tracefs", tracing_dirs[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return NULL;
	return has_uprobe_events(tracing_dirs[0]) ? tracing_dirs[0] : NULL;
}

static int tracefs_cmd(const struct tlsattach *t, const char *cmd)
{
	char p[64];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/uprobe_events", t->tracefs);
	fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, cmd, strlen(cmd)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Remove the events of our group, or (others) those of every other
 * wsgitrace group: a helper that was killed left them; a live one's are
 * busy and stay.
 */
static void tracefs_sweep(const struct tlsattach *t, bool others)
{
	char p[64], line[4608], cmd[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/uprobe_events", t->tracefs);
	f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char name[200];
		size_t g = strlen(t->group);

		/* p:GROUP/EVENT PATH:OFFSET */
		if (sscanf(line, "%*c:%199s", name) != 1 || strncmp(name, "wsgitrace_", 10))
			continue;
		if (others == (!strncmp(name, t->group, g) && name[g] == '/'))
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s\n", name);
		tracefs_cmd(t, cmd);
	}
	fclose(f);
}

/* The file offset of vaddr in a loaded segment; -1 if none holds it. */
static int64_t vaddr_offset(Elf *e, size_t nph, uint64_t vaddr)
{
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			return (int64_t)(vaddr - ph.p_vaddr + ph.p_offset);
	}
	return -1;
}

/* Where each SSL function is in the library file (libelf): -1 for one it lacks. */
static void func_offsets(const char *path, int64_t off[NFUNCS])
{
	Elf_Scn *scn = NULL;
	size_t nph;
	Elf *e;
	int fd;

	for (size_t i = 0; i < NFUNCS; i++)
		off[i] = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_getphdrnum(e, &nph)) {
		elf_end(e);
		close(fd);
		return;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; k++) {
			const char *name;
			GElf_Sym sym;

			if (!gelf_getsym(d, (int)k, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value ||
			    !(name = elf_strptr(e, sh.sh_link, sym.st_name)))
				continue;
			for (size_t i = 0; i < NFUNCS; i++)
				if (off[i] < 0 && !strcmp(name, funcs[i].fn))
					off[i] = vaddr_offset(e, nph, sym.st_value);
		}
	}
	elf_end(e);
	close(fd);
}

static int perf_open_tp(int id, pid_t pid, bool inherit)
{
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = PERF_TYPE_TRACEPOINT,
		.config = (uint64_t)id,
		.inherit = inherit,
		.remove_on_exec = inherit,
	};
	int fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0 && errno == EINVAL && inherit) {
		/* Kernels before 5.13 have no remove_on_exec: an exec keeps the probes. */
		a.remove_on_exec = 0;
		fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	return fd;
}

static void lib_drop(struct tlsattach *t, struct tls_lib *l, size_t idx)
{
	char cmd[256];

	for (size_t i = 0; i < NPROBES; i++) {
		bpf_link__destroy(l->anchor[i]);
		l->anchor[i] = NULL;
		if (l->ids[i] < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s/l%zu_%s%s\n", t->group, idx, funcs[i / 2].fn, i % 2 ? "_ret" : "");
		tracefs_cmd(t, cmd);
		l->ids[i] = -1;
	}
	l->ok = false;
}

/* Make the library's uprobe events and hang the programs on them. */
static void lib_make(struct tlsattach *t, struct tls_lib *l, size_t idx, const char *path)
{
	int64_t off[NFUNCS];
	char cmd[4400], idp[256];

	for (size_t i = 0; i < NPROBES; i++)
		l->ids[i] = -1;
	/* The tracefs command splits on white space. */
	if (strpbrk(path, " \t\n"))
		return;
	func_offsets(path, off);
	for (size_t i = 0; i < NFUNCS; i++)
		if (off[i] < 0 && funcs[i].needed)
			return; /* libbpf's attach says why */
	for (size_t i = 0; i < NPROBES; i++) {
		const char *fn = funcs[i / 2].fn, *ret = i % 2 ? "_ret" : "";
		struct bpf_program *prog = i % 2 ? t->p.exit : entry_prog(t, i / 2);
		FILE *f;
		int fd;

		if (off[i / 2] < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%c:%s/l%zu_%s%s %s:0x%llx\n", i % 2 ? 'r' : 'p', t->group, idx, fn,
			 ret, path, (unsigned long long)off[i / 2]);
		if (tracefs_cmd(t, cmd))
			goto fail;
		snprintf(idp, sizeof(idp), "%s/events/%s/l%zu_%s%s/id", t->tracefs, t->group, idx, fn, ret);
		f = fopen(idp, "re");
		if (!f || fscanf(f, "%d", &l->ids[i]) != 1) {
			if (f)
				fclose(f);
			l->ids[i] = -1;
			goto fail;
		}
		fclose(f);
		/* On the helper itself, which maps no libssl: no breakpoint anywhere. */
		fd = perf_open_tp(l->ids[i], getpid(), false);
		if (fd < 0)
			goto fail;
		l->anchor[i] = bpf_program__attach_perf_event(prog, fd);
		if (!l->anchor[i]) {
			close(fd);
			goto fail;
		}
	}
	l->ok = true;
	return;
fail:
	fprintf(stderr, "wsgitrace: cannot make the SSL probes of %s in tracefs (%s): probing each process "
		"alone, its workers from their fork on\n", path, strerror(errno));
	lib_drop(t, l, idx);
}

/* The library's tracefs probes, made at its first use; NULL if it has none. */
static struct tls_lib *lib_get(struct tlsattach *t, const char *path)
{
	struct tls_lib *nl;
	struct stat st;

	if (!t->tracefs || stat(path, &st))
		return NULL;
	for (size_t i = 0; i < t->nlibs; i++)
		if (t->libs[i].dev == st.st_dev && t->libs[i].ino == st.st_ino)
			return t->libs[i].ok ? &t->libs[i] : NULL;
	nl = realloc(t->libs, (t->nlibs + 1) * sizeof(*nl));
	if (!nl)
		return NULL;
	t->libs = nl;
	nl = &t->libs[t->nlibs];
	memset(nl, 0, sizeof(*nl));
	nl->dev = st.st_dev;
	nl->ino = st.st_ino;
	lib_make(t, nl, t->nlibs, path);
	t->nlibs++;
	return nl->ok ? nl : NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The process's own events on the library's probes; inherited by what it
 * forks if it serves TLS. An inherited event is copied into every process
 * and thread the process starts (with the twelve, a fork and a thread start
 * took some 300 us more on a 2-core VM), so a process not known to serve TLS
 * gets events on itself alone, which its forks and threads do not copy.
 */
/* The event the process's forks and threads do not inherit (FD_SOLO). */
static int solo_event(struct tls_proc *tp)
{
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_DUMMY,
	};

	if (tp->fds[FD_SOLO] < 0)
		tp->fds[FD_SOLO] = (int)syscall(SYS_perf_event_open, &a, (pid_t)tp->pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return tp->fds[FD_SOLO] < 0 ? -1 : 0;
}

static int attach_events(struct tls_proc *tp, const struct tls_lib *l)
{
	/* First, so that no fork ever inherits all of the process's events. */
	if (tp->tls_server && solo_event(tp))
		return -1;
	for (size_t k = 0; k < NPROBES; k++) {
		/* The return probe first: an entry without its return would leave a call open. */
		size_t i = k ^ 1;

		if (l->ids[i] < 0)
			continue;
		tp->fds[i] = perf_open_tp(l->ids[i], (pid_t)tp->pid, tp->tls_server);
		if (tp->fds[i] < 0) {
			detach(tp);
			return -1;
		}
	}
	tp->owner = tp->pid;
	tp->inherits_ns = tp->tls_server ? mono_ns() + INHERIT_MARGIN_NS : 0;
	return 0;
}

/* libbpf's per-pid probes: not inherited by a fork. -> 0, else 1 + errno + 256 * the function it failed on. */
static int attach_pid(struct tlsattach *t, struct tls_proc *tp, const char *lib)
{
	for (size_t i = 0; i < NFUNCS; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = funcs[i].fn);
		LIBBPF_OPTS(bpf_uprobe_opts, r, .func_name = funcs[i].fn, .retprobe = true);

		/* The return probe first: an entry without its return would leave a call open. */
		tp->links[2 * i + 1] = bpf_program__attach_uprobe_opts(t->p.exit, (pid_t)tp->pid, lib, 0, &r);
		if (tp->links[2 * i + 1])
			tp->links[2 * i] = bpf_program__attach_uprobe_opts(entry_prog(t, i), (pid_t)tp->pid, lib, 0, &o);
		if (!tp->links[2 * i] && funcs[i].needed) {
			int e = errno;

			detach(tp);
			return (int)i * 256 + (e & 255) + 1; /* which function, and why */
		}
		if (!tp->links[2 * i]) {
			bpf_link__destroy(tp->links[2 * i + 1]);
			tp->links[2 * i + 1] = NULL;
		}
	}
	return 0;
}

/* Does this command line serve TLS: a certificate or an HTTPS socket among its options? */
static bool tls_args(uint32_t pid)
{
	static const char *const opts[] = {
		"--certfile", "--keyfile",        /* gunicorn, hypercorn */
		"--ssl-certfile", "--ssl-keyfile", /* uvicorn */
		"--https", "--ssl-socket",         /* uWSGI: --https, --https-socket, --https2 */
	};
	char p[64], args[8192];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%u/cmdline", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n <= 0)
		return false;
	args[n] = 0;
	for (const char *a = args; a < args + n; a += strlen(a) + 1)
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (!strncmp(a, opts[i], strlen(opts[i])))
				return true;
	return false;
}

static uint32_t ppid_of(uint32_t pid)
{
	char p[64], line[512], *e;
	unsigned ppid = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%u/stat", pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	/* pid (comm) state ppid: comm may hold anything but ends at the last ')'. */
	if (fgets(line, sizeof(line), f) && (e = strrchr(line, ')')))
		sscanf(e + 1, " %*c %u", &ppid);
	fclose(f);
	return ppid;
}

/*
 * Known to serve TLS by its command line or its parent's (a worker spawned
 * with its own, as uvicorn's). A server configured from a file is found
 * when its first TLS connection goes unread (promote).
 */
static bool tls_server_of(uint32_t pid)
{
	uint32_t pp = ppid_of(pid);

	return tls_args(pid) || (pp > 1 && tls_args(pp));
}

static int try_attach(struct tlsattach *t, struct tls_proc *tp)
{
	char lib[4200];
	int r = libssl_of(tp->pid, lib, sizeof(lib));
	struct tls_lib *l;

	if (r < 0) {
		tp->state = PS_NONE; /* gone */
		return 0;
	}
	if (r == 0)
		return 0;
	l = lib_get(t, lib);
	if (!tp->tls_server)
		tp->tls_server = tls_server_of(tp->pid);
	if (l && attach_events(tp, l) == 0) {
		tp->state = PS_ATTACHED;
		return 1;
	}
	r = attach_pid(t, tp, lib);
	if (!r) {
		tp->state = PS_ATTACHED;
		return 1;
	}
	/*
	 * The helper hears of a process some time after the kernel does: one
	 * that exited meanwhile (or is exiting: a zombie maps nothing) is gone,
	 * not unreadable.
	 */
	if (libssl_of(tp->pid, lib, sizeof(lib)) != 1) {
		tp->state = PS_NONE;
		return 0;
	}
	fprintf(stderr, "wsgitrace: process %u: cannot probe %s in %s (%s): its TLS is not read\n", tp->pid,
		funcs[(r - 1) / 256].fn, lib, strerror((r - 1) % 256));
	tp->state = PS_UNREADABLE;
	t->unreadable[TLS_NO_SYMBOLS]++;
	return -1;
}

static struct tls_proc *h_proc(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid);

	if (tp)
		return tp;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct tls_proc *np = realloc(t->procs, ncap * sizeof(*np));

		if (!np)
			return NULL;
		t->procs = np;
		t->cap = ncap;
	}
	tp = &t->procs[t->n++];
	memset(tp, 0, sizeof(*tp));
	for (size_t i = 0; i < NFDS; i++)
		tp->fds[i] = -1;
	tp->pid = pid;
	tp->first_ns = t->now_ns;
	return tp;
}

static int h_attach(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = h_proc(t, pid);

	if (!tp)
		return 0;
	if (tp->state != PS_PENDING)
		return tp->state == PS_ATTACHED ? 1 : tp->state == PS_UNREADABLE ? -1 : 0;
	return try_attach(t, tp);
}

/*
 * pid was forked by ppid at ts: it carries its parent's probes if the parent
 * had inherited ones well before (no events of its own: a worker recycled
 * under load costs no attach); else it is attached on its own.
 */
static int h_fork(struct tlsattach *t, uint32_t pid, uint32_t ppid, uint64_t ts)
{
	struct tls_proc *parent = find(t, ppid), *tp;
	uint32_t owner;

	if (!parent || parent->state != PS_ATTACHED || !parent->inherits_ns || ts < parent->inherits_ns ||
	    find(t, pid)) {
		if (parent && parent->tls_server && (tp = h_proc(t, pid)))
			tp->tls_server = true;
		return h_attach(t, pid);
	}
	owner = parent->owner;
	tp = h_proc(t, pid);
	if (!tp)
		return 0;
	tp->state = PS_ATTACHED;
	tp->owner = owner;
	tp->inherits_ns = 1; /* from its birth on */
	tp->tls_server = true;
	/*
	 * Its threads, started from now on, are not clones of it either (a
	 * worker that has gone already closes nothing: the event is refused).
	 */
	solo_event(tp);
	return 1;
}

/*
 * Closing a uprobe waits for an RCU-tasks grace period (hundreds of ms on a
 * busy node), per probe: an exited process's links are closed by a thread of
 * their own, so that attaching a new worker never waits behind them.
 */
struct gone {
	struct bpf_link *link;
	int fd;
};
static pthread_mutex_t gone_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone_cv = PTHREAD_COND_INITIALIZER;
static struct gone *gone;
static size_t ngone, gone_cap;

static void *closer(void *arg)
{
	(void)arg;
	for (;;) {
		struct gone g;

		pthread_mutex_lock(&gone_mu);
		while (!ngone)
			pthread_cond_wait(&gone_cv, &gone_mu);
		g = gone[--ngone];
		pthread_mutex_unlock(&gone_mu);
		bpf_link__destroy(g.link);
		if (g.fd >= 0)
			close(g.fd);
	}
	return NULL;
}

/*
 * Closing an event also takes its inherited copies off every process that
 * carries them: those still running get events of their own first.
 */
static void own_events(struct tlsattach *t, struct tls_proc *tp)
{
	char lib[4200];
	struct tls_lib *l;

	tp->owner = 0;
	tp->inherits_ns = 0;
	if (libssl_of(tp->pid, lib, sizeof(lib)) != 1 || !(l = lib_get(t, lib)) || attach_events(tp, l))
		tp->state = PS_NONE; /* gone, or no longer to be had */
}

static void hand_over(struct tlsattach *t, uint32_t owner)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tls_proc *tp = &t->procs[i];

		if (tp->pid == owner || tp->owner != owner || tp->state != PS_ATTACHED)
			continue;
		own_events(t, tp);
	}
}

/* Hand the process's links and events to the closer thread. */
static void retire(struct tls_proc *tp)
{
	pthread_mutex_lock(&gone_mu);
	for (size_t i = 0; i < NFDS; i++) {
		if (!tp->links[i] && tp->fds[i] < 0)
			continue;
		if (ngone == gone_cap) {
			size_t ncap = gone_cap ? gone_cap * 2 : 64;
			struct gone *ng = realloc(gone, ncap * sizeof(*ng));

			if (!ng) {
				/* No room to hand it over: close it here, slowly. */
				pthread_mutex_unlock(&gone_mu);
				bpf_link__destroy(tp->links[i]);
				if (tp->fds[i] >= 0)
					close(tp->fds[i]);
				pthread_mutex_lock(&gone_mu);
				tp->links[i] = NULL;
				tp->fds[i] = -1;
				continue;
			}
			gone = ng;
			gone_cap = ncap;
		}
		gone[ngone++] = (struct gone){ tp->links[i], tp->fds[i] };
		tp->links[i] = NULL;
		tp->fds[i] = -1;
	}
	pthread_cond_signal(&gone_cv);
	pthread_mutex_unlock(&gone_mu);
}

static void h_forget(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid);

	if (!tp)
		return;
	if (tp->owner == pid)
		hand_over(t, pid);
	retire(tp);
	*tp = t->procs[--t->n];
}

/*
 * The process served TLS with probes on itself alone (or none yet): it and
 * its parent, the server that forks its workers, now get inherited ones,
 * so that workers forked from now on are read from their first request.
 */
static void promote(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = find(t, pid), old;
	char lib[4200];
	struct tls_lib *l;

	if (!tp || tp->tls_server)
		return;
	tp->tls_server = true;
	if (tp->state != PS_ATTACHED || tp->owner != tp->pid || !t->tracefs ||
	    libssl_of(tp->pid, lib, sizeof(lib)) != 1 || !(l = lib_get(t, lib)))
		return;
	/* The new events first: the process is never without probes. */
	old = *tp;
	for (size_t i = 0; i < NFDS; i++) {
		tp->fds[i] = -1;
		tp->links[i] = NULL;
	}
	if (attach_events(tp, l)) {
		for (size_t i = 0; i < NFDS; i++) {
			tp->fds[i] = old.fds[i];
			tp->links[i] = old.links[i];
		}
		tp->inherits_ns = 0;
		return;
	}
	retire(&old);
}

/*
 * pid wrote a TLS record where HTTP was expected: a connection whose TLS was
 * not read. Why: its probes came after the connection's start, its libssl
 * cannot be probed, or it maps none (OpenSSL linked in statically, BoringSSL,
 * another library: named once in the log). -> the reason.
 */
static int h_unread(struct tlsattach *t, uint32_t pid)
{
	struct tls_proc *tp = h_proc(t, pid);
	enum tls_reason why = TLS_BEFORE_ATTACH;

	if (tp && (tp->state == PS_PENDING || tp->state == PS_NONE)) {
		tp->state = PS_PENDING;
		/* Still no libssl (and not gone): it has its TLS from elsewhere. */
		if (try_attach(t, tp) == 0 && tp->state == PS_PENDING) {
			tp->state = PS_NO_LIBSSL;
			t->unreadable[TLS_NO_LIBSSL]++;
			fprintf(stderr, "wsgitrace: process %u serves TLS but maps no libssl (OpenSSL linked in "
				"statically, BoringSSL or another TLS library): its TLS connections are not read\n",
				pid);
		}
	}
	/*
	 * Carried its server's inherited probes, yet its TLS went unread: the
	 * fork did not get them (seen rarely, under load; the kernel relies on
	 * the fork's copy of its parent's breakpoints). Events of its own: its
	 * next connections are read.
	 */
	if (tp && tp->state == PS_ATTACHED && tp->owner != tp->pid) {
		tp->tls_server = true;
		own_events(t, tp);
	}
	if (tp && tp->state == PS_UNREADABLE)
		why = TLS_NO_SYMBOLS;
	else if (tp && tp->state == PS_NO_LIBSSL)
		why = TLS_NO_LIBSSL;
	t->unread[why]++;
	if (why == TLS_BEFORE_ATTACH) {
		uint32_t pp = ppid_of(pid);

		promote(t, pid);
		if (pp > 1)
			promote(t, pp);
	}
	return (int)why;
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

/* The daemon is gone: every probe goes, then the tracefs events they were on. */
static void h_free(struct tlsattach *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		detach(&t->procs[i]);
	pthread_mutex_lock(&gone_mu);
	while (ngone) {
		struct gone g = gone[--ngone];

		pthread_mutex_unlock(&gone_mu);
		bpf_link__destroy(g.link);
		if (g.fd >= 0)
			close(g.fd);
		pthread_mutex_lock(&gone_mu);
	}
	pthread_mutex_unlock(&gone_mu);
	for (size_t i = 0; i < t->nlibs; i++)
		lib_drop(t, &t->libs[i], i);
	/* A close the closer thread has not finished keeps an event busy: what is left goes now. */
	if (t->tracefs)
		tracefs_sweep(t, false);
	free(t->libs);
	free(t->procs);
	free(t);
}

/* Send the totals if they changed; false once the daemon is gone. */
static bool h_status(struct tlsattach *t, int fd)
{
	static struct status sent;
	struct status st = {};

	for (size_t i = 0; i < t->n; i++) {
		st.attached += t->procs[i].state == PS_ATTACHED;
		st.inheriting += t->procs[i].state == PS_ATTACHED && t->procs[i].inherits_ns;
		st.pending += t->procs[i].state == PS_PENDING;
	}
	memcpy(st.unreadable, t->unreadable, sizeof(st.unreadable));
	memcpy(st.unread, t->unread, sizeof(st.unread));
	if (!memcmp(&st, &sent, sizeof(st)))
		return true;
	sent = st;
	return send(fd, &st, sizeof(st), MSG_NOSIGNAL) == sizeof(st);
}

static void h_do(struct tlsattach *t, const struct msg *m)
{
	t->now_ns = m->now_ns;
	switch (m->op) {
	case OP_ATTACH:
		h_attach(t, m->pid);
		break;
	case OP_FORGET:
		h_forget(t, m->pid);
		break;
	case OP_RETRY:
		h_retry(t, m->now_ns);
		break;
	case OP_UNREAD:
		h_unread(t, m->pid);
		break;
	case OP_FORK:
		h_fork(t, m->pid, m->ppid, m->ts_ns);
		break;
	}
}

/* Every notice waiting is handled before the totals go back: one answer per batch. */
static void helper_loop(struct tlsattach *t, int fd)
{
	struct msg m;

	for (;;) {
		ssize_t n = recv(fd, &m, sizeof(m), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			break; /* the daemon is gone */
		h_do(t, &m);
		while ((n = recv(fd, &m, sizeof(m), MSG_DONTWAIT)) == sizeof(m))
			h_do(t, &m);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || !h_status(t, fd))
			break;
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

	if (!c || !(c->queue = calloc(QUEUE_MAX, sizeof(*c->queue)))) {
		free(c);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(c->queue);
		free(c);
		return NULL;
	}
	c->helper = fork();
	if (c->helper < 0) {
		close(sv[0]);
		close(sv[1]);
		free(c->queue);
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
		/*
		 * It goes when the daemon does, by the end of its socket, after
		 * removing its tracefs events: a signal to the daemon's process
		 * group (a terminal's, systemd's stop) is the daemon's to handle.
		 */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		t->tracefs = tracefs_find();
		snprintf(t->group, sizeof(t->group), "wsgitrace_%d", (int)getpid());
		if (t->tracefs)
			tracefs_sweep(t, true);
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

/* Send what is queued, oldest first, as far as the socket takes it. */
static void flush(struct tlsattach_client *c)
{
	while (c->qlen) {
		if (send(c->fd, &c->queue[c->qhead], sizeof(struct msg), MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    sizeof(struct msg))
			return;
		c->qhead = (c->qhead + 1) % QUEUE_MAX;
		c->qlen--;
	}
}

/* Never waits: what the socket cannot take now is queued, and past QUEUE_MAX counted. */
static void notify(struct tlsattach_client *c, const struct msg *m)
{
	if (!c || c->fd < 0)
		return;
	flush(c);
	if (!c->qlen && send(c->fd, m, sizeof(*m), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(*m))
		return;
	if (c->qlen == QUEUE_MAX) {
		c->dropped++;
		return;
	}
	c->queue[(c->qhead + c->qlen++) % QUEUE_MAX] = *m;
}

void tlsattach_fork(struct tlsattach_client *c, uint32_t pid, uint32_t ppid, uint64_t ts_ns)
{
	notify(c, &(struct msg){ .op = OP_FORK, .pid = pid, .ppid = ppid, .ts_ns = ts_ns });
}

void tlsattach_pid(struct tlsattach_client *c, uint32_t pid)
{
	notify(c, &(struct msg){ .op = OP_ATTACH, .pid = pid });
}

void tlsattach_forget(struct tlsattach_client *c, uint32_t pid)
{
	notify(c, &(struct msg){ .op = OP_FORGET, .pid = pid });
}

void tlsattach_retry(struct tlsattach_client *c, uint64_t now_ns)
{
	/*
	 * Only while the helper has processes to look at again: an idle daemon
	 * then wakes it for nothing. A helper still busy with earlier notices
	 * retries when it gets to the next tick's.
	 */
	if (c && !c->qlen && c->last.pending)
		notify(c, &(struct msg){ .op = OP_RETRY, .now_ns = now_ns });
}

void tlsattach_unread(struct tlsattach_client *c, uint32_t pid)
{
	notify(c, &(struct msg){ .op = OP_UNREAD, .pid = pid });
}

int tlsattach_fd(const struct tlsattach_client *c)
{
	return c ? c->fd : -1;
}

short tlsattach_poll_events(const struct tlsattach_client *c)
{
	return c && c->fd >= 0 ? (short)(POLLIN | (c->qlen ? POLLOUT : 0)) : 0;
}

void tlsattach_pump(struct tlsattach_client *c)
{
	struct status st;
	ssize_t n;

	if (!c || c->fd < 0)
		return;
	flush(c);
	while ((n = recv(c->fd, &st, sizeof(st), MSG_DONTWAIT)) == sizeof(st))
		c->last = st;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The helper is gone: nothing more is attached, and its totals stay as they were. */
		close(c->fd);
		c->fd = -1;
	}
}

void tlsattach_render(const struct tlsattach_client *t, uint64_t untied, struct strbuf *sb)
{
	static const char *const reasons[TLS_REASONS] = {
		[TLS_NO_SYMBOLS] = "no_symbols",
		[TLS_NO_LIBSSL] = "no_libssl",
		[TLS_BEFORE_ATTACH] = "before_attach",
	};
	promtext_family(sb, "wsgitrace_tls_processes_attached", "gauge",
		      "Traced processes whose TLS plaintext is read: the SSL probes are attached to their libssl.");
	sb_printf(sb, "wsgitrace_tls_processes_attached %llu\n", (unsigned long long)t->last.attached);
	promtext_family(sb, "wsgitrace_tls_processes_inheriting", "gauge",
		      "Of those, processes whose probes are inherited by what they fork (tracefs uprobe "
		      "events): their new workers are read from their first request. The others' workers "
		      "are attached once their fork is seen.");
	sb_printf(sb, "wsgitrace_tls_processes_inheriting %u\n", t->last.inheriting);
	promtext_family(sb, "wsgitrace_tls_unreadable_processes_total", "counter",
		      "Traced processes whose TLS cannot be read: a libssl whose SSL functions cannot be "
		      "probed (no_symbols), or TLS served with no libssl mapped (no_libssl: OpenSSL linked in "
		      "statically, BoringSSL, another library). Each is named once in the log.");
	for (size_t r = 0; r < TLS_PROC_REASONS; r++)
		sb_printf(sb, "wsgitrace_tls_unreadable_processes_total{reason=\"%s\"} %llu\n", reasons[r],
			  (unsigned long long)t->last.unreadable[r]);
	promtext_family(sb, "wsgitrace_tls_unread_connections_total", "counter",
		      "Connections of traced processes that carried TLS whose plaintext was not read, by why: "
		      "the process's reason above, or before_attach (the connection began before the probes "
		      "were attached to its process). Also in wsgitrace_not_http_connections_total.");
	for (size_t r = 0; r < TLS_REASONS; r++)
		sb_printf(sb, "wsgitrace_tls_unread_connections_total{reason=\"%s\"} %llu\n", reasons[r],
			  (unsigned long long)t->last.unread[r]);
	promtext_family(sb, "wsgitrace_tls_notices_dropped_total", "counter",
		      "Forks, execs and exits of traced processes the TLS helper was not told of because it had "
		      "fallen too far behind (it attaches the SSL probes; plain HTTP never waits for it): a "
		      "process among them may have its TLS unread, counted in "
		      "wsgitrace_tls_unread_connections_total.");
	sb_printf(sb, "wsgitrace_tls_notices_dropped_total %llu\n", (unsigned long long)t->dropped);
	promtext_family(sb, "wsgitrace_tls_untied_calls_total", "counter",
		      "SSL reads and writes whose socket could not be found (no socket call inside them and "
		      "their SSL object never seen on one, as with asyncio's memory buffers): not counted.");
	sb_printf(sb, "wsgitrace_tls_untied_calls_total %llu\n", (unsigned long long)untied);
}

void tlsattach_free(struct tlsattach_client *c)
{
	if (!c)
		return;
	/* The helper sees the socket's end, removes its probes and exits: not waited for (seconds). */
	if (c->fd >= 0)
		close(c->fd);
	if (c->helper > 0)
		waitpid(c->helper, NULL, WNOHANG);
	free(c->queue);
	free(c);
}
