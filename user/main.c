// SPDX-License-Identifier: MIT
/*
 * wsgitrace: request latency of Python web servers, traced from the
 * kernel, served as Prometheus metrics.
 *
 * open/configure/load/attach the probes (capture.c) -> find the servers
 * already running (discover.c) -> listen on /metrics (httpd.c) -> loop:
 * drain the ring on a timer, feed the connection tracker (conntrack.c),
 * aggregate completed requests (agg.c), render on scrape (expose.c).
 * One thread, no locks.
 */
#include <argp.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "agg.h"
#include "capture.h"
#include "conntrack.h"
#include "discover.h"
#include "expose.h"
#include "httpd.h"
#include "labels.h"
#include "privs.h"
#include "listeners.h"
#include "naming.h"
#include "promtext.h"
#include "proctab.h"
#include "progstats.h"
#include "scripted.h"
#include "svckey.h"
#include "serverstate.h"
#include "service.h"
#include "strbuf.h"
#include "trace_json.h"
#include "tlsattach.h"
#include "webconfig.h"
#include "wsgitrace.h"

#define MAX_PIDS 64
#define ARRAY_SIZE(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct env {
	const char *listen;
	const char *web_config;
	uint32_t pids[MAX_PIDS];
	size_t npids;
	const char *service_name;
	double buckets[AGG_MAX_BUCKETS];
	size_t nbuckets;
	bool trace;
	bool verbose;
	bool fold_ids;
	bool exemplars;
	size_t max_series;
	size_t max_series_per_service;
	uint64_t series_ttl_s;
	uint32_t max_conns;
	enum wt_hooks hooks;
	unsigned poll_ms;
	size_t ringbuf_mb;
	enum wt_stage stage;
	bool bpf_stats;
	struct native_opts native;
} env = {
	.listen = "0.0.0.0:9464",
	.fold_ids = true,
	.exemplars = true,
	.max_series = 10000,
	.max_series_per_service = 0, /* agg.h: a share of max_series */
	.max_conns = 262144,
	.hooks = WT_HOOKS_AUTO,
	.poll_ms = 50,
	.ringbuf_mb = 4,
	.native = { NATIVE_DEFAULT_SCHEMA, NATIVE_DEFAULT_ZERO_THRESHOLD, NATIVE_DEFAULT_MAX_BUCKETS },
};

const char *argp_program_version = "wsgitrace " WT_VERSION " (" WT_GIT_REV ")";
const char *argp_program_bug_address = "the project's issue tracker";
static const char doc[] =
	"Request latency of Python web servers (gunicorn, uWSGI, uvicorn, hypercorn, daphne, "
	"waitress), traced from the kernel and served as Prometheus metrics. No change to "
	"the app, no restart.\n"
	"\n"
	"By default every process whose command line runs one of these servers (or fastapi "
	"run|dev, or matches --server-cmdline), and every Python process that holds a "
	"listening TCP socket (a server started from a script), already running or started "
	"later, is traced with every process it forks.\n"
	"\n"
	"EXAMPLES:\n"
	"  wsgitrace                         # trace all servers, metrics on :9464/metrics\n"
	"  wsgitrace -l 127.0.0.1:9100       # listen elsewhere\n"
	"  wsgitrace -p 4242 -s shop         # only server 4242 and its workers\n"
	"  wsgitrace --server-cmdline '^granian '  # granian servers too\n"
	"  wsgitrace -t                      # also print one JSON line per request\n"
	"  wsgitrace -b 0.01,0.1,1           # other histogram buckets (seconds)";

enum {
	OPT_MAX_SERIES = 0x100,
	OPT_MAX_SERIES_SVC,
	OPT_SERIES_TTL,
	OPT_MAX_CONNS,
	OPT_HOOKS,
	OPT_POLL_MS,
	OPT_RINGBUF_MB,
	OPT_NO_FOLD,
	OPT_BENCH_STAGE,
	OPT_BPF_STATS,
	OPT_WEB_CONFIG,
	OPT_SERVER_CMDLINE,
	OPT_NATIVE_SCHEMA,
	OPT_NATIVE_ZERO,
	OPT_NATIVE_MAX_BUCKETS,
	OPT_NO_EXEMPLARS,
};

static const struct argp_option opts[] = {
	{ "listen", 'l', "ADDR:PORT", 0, "Serve /metrics here (default 0.0.0.0:9464; [::]:PORT for IPv6)", 0 },
	{ "web.config.file", OPT_WEB_CONFIG, "FILE", 0, "TLS and basic authentication for /metrics, in the Prometheus exporters' web configuration format (tls_server_config, basic_auth_users)", 0 },
	{ "pid", 'p', "PID", 0, "Trace this process and its descendants instead of discovering servers (repeatable)", 0 },
	{ "server-cmdline", OPT_SERVER_CMDLINE, "REGEX", 0, "Also trace processes whose command line (words joined by spaces, as ps shows it) matches this POSIX extended regular expression, and what they fork (repeatable)", 0 },
	{ "service-name", 's', "NAME", 0, "service_name label (default: the app on the server's command line)", 0 },
	{ "buckets", 'b', "LIST", 0, "Histogram upper bounds in seconds, comma separated, increasing", 0 },
	{ "trace", 't', NULL, 0, "Print one JSON line per completed request on stdout", 0 },
	{ "max-series", OPT_MAX_SERIES, "N", 0, "Histogram series kept (default 10000); more go to route=\"_overflow\" and are counted", 0 },
	{ "max-series-per-service", OPT_MAX_SERIES_SVC, "N", 0, "Histogram series per service_name (default a fifth of --max-series: 2000); more go to its route=\"_overflow\" with their method and status", 0 },
	{ "series-ttl", OPT_SERIES_TTL, "DURATION", 0, "Retire series not updated for this long, e.g. 1h (default 0: never)", 0 },
	{ "native-schema", OPT_NATIVE_SCHEMA, "N", 0, "Resolution of the native histograms served in protobuf, -4..8: buckets grow by 2^(2^-N) (default 3: 9% apart)", 0 },
	{ "native-zero-threshold", OPT_NATIVE_ZERO, "SECONDS", 0, "Native histograms' zero bucket: durations up to this (default 1e-9)", 0 },
	{ "native-max-buckets", OPT_NATIVE_MAX_BUCKETS, "N", 0, "Native buckets per series, at most (default 160; the resolution halves past it); 0: no native buckets", 0 },
	{ "no-exemplars", OPT_NO_EXEMPLARS, NULL, 0, "Keep and serve no trace exemplars (the latest request with a W3C traceparent, per bucket)", 0 },
	{ "max-conns", OPT_MAX_CONNS, "N", 0, "Connections tracked at once (default 262144)", 0 },
	{ "hooks", OPT_HOOKS, "auto|sockets|syscalls", 0, "Capture path (default auto: sockets where the kernel has them)", 0 },
	{ "poll-ms", OPT_POLL_MS, "MS", 0, "How often the ring buffer is drained (default 50)", 0 },
	{ "ringbuf-mb", OPT_RINGBUF_MB, "MB", 0, "Ring buffer size, a power of two (default 4)", 0 },
	{ "no-fold-ids", OPT_NO_FOLD, NULL, 0, "Keep id-like path segments instead of folding them to {id}", 0 },
	{ "bpf-stats", OPT_BPF_STATS, NULL, 0, "Turn the kernel's BPF statistics on while running, for the wsgitrace_bpf_program_* metrics (every BPF program on the node then reads the clock twice more per run)", 0 },
	/* Not for users: it stops tracing part-way, to measure what each part costs (bench/). */
	{ "bench-stage", OPT_BENCH_STAGE, "full|filter|no-records|no-queue", OPTION_HIDDEN, NULL, 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (libbpf, verifier)", 0 },
	{},
};

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("wsgitrace: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * Flags that are valid but probably not meant. A ring buffer is counted
 * twice in RSS: libbpf maps its data pages twice, back to back, so that a
 * record that wraps reads as one piece.
 */
static void warn_flags(void)
{
	if (env.ringbuf_mb >= 64)
		warn("--ringbuf-mb %zu takes %zu MiB of kernel memory and shows as about %zu MiB of this "
		     "process's RSS; the default is 4, and wsgitrace_events_lost_total says whether more is needed",
		     env.ringbuf_mb, env.ringbuf_mb, 2 * env.ringbuf_mb);
}

/* One of `n` keywords: its index, or -1 after argp_error listing them ("a, b or c"). */
static int parse_choice(const char *arg, const char *what, const char *const names[], int n,
			struct argp_state *state)
{
	char choices[128] = "";
	size_t len = 0;

	for (int i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	for (int i = 0; i < n && len < sizeof(choices); i++)
		len += snprintf(choices + len, sizeof(choices) - len, "%s%s",
				i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
	argp_error(state, "%s must be %s, not '%s'", what, choices, arg);
	return -1;
}

static int parse_ulong(const char *arg, const char *what, unsigned long min, unsigned long max,
		       unsigned long *out, struct argp_state *state)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		argp_error(state, "%s must be a whole number from %lu to %lu, not '%s'", what, min, max, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* "90", "90s", "15m", "1h", "2d" -> seconds; 0 is allowed (off). */
static int parse_duration(const char *arg, const char *what, uint64_t *out, struct argp_state *state)
{
	static const char units[] = "smhd";
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };
	const char *u;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	u = end != arg && *end ? strchr(units, *end) : NULL;
	if (u)
		end++;
	if (errno || end == arg || *end || arg[0] == '-' || v > UINT32_MAX) {
		argp_error(state, "%s must be a duration such as 90s, 15m, 1h or 0 (off), not '%s'", what, arg);
		return -EINVAL;
	}
	*out = v * (u ? mult[u - units] : 1);
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char err[256];
	unsigned long v;

	switch (key) {
	case 'l':
		env.listen = arg;
		break;
	case 'p':
		if (env.npids == MAX_PIDS)
			argp_error(state, "at most %d --pid options", MAX_PIDS);
		if (parse_ulong(arg, "--pid", 1, INT_MAX, &v, state) == 0)
			env.pids[env.npids++] = v;
		break;
	case 's':
		if (!*arg || strlen(arg) >= WT_SERVICE_MAX)
			argp_error(state, "--service-name must be 1 to %d characters", WT_SERVICE_MAX - 1);
		env.service_name = arg;
		break;
	case 'b':
		if (agg_parse_buckets(arg, env.buckets, AGG_MAX_BUCKETS, &env.nbuckets, err, sizeof(err)))
			argp_error(state, "--buckets: %s", err);
		else if (err[0])
			warn("--buckets: %s", err);
		break;
	case 't':
		env.trace = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case OPT_MAX_SERIES:
		if (parse_ulong(arg, "--max-series", 1, 10000000, &v, state) == 0)
			env.max_series = v;
		break;
	case OPT_MAX_SERIES_SVC:
		if (parse_ulong(arg, "--max-series-per-service", 1, 10000000, &v, state) == 0)
			env.max_series_per_service = v;
		break;
	case OPT_SERIES_TTL:
		parse_duration(arg, "--series-ttl", &env.series_ttl_s, state);
		break;
	case OPT_MAX_CONNS:
		if (parse_ulong(arg, "--max-conns", 1024, 16777216, &v, state) == 0)
			env.max_conns = v;
		break;
	case OPT_HOOKS: {
		static const char *const names[] = { "auto", "sockets", "syscalls" };
		static const enum wt_hooks vals[] = { WT_HOOKS_AUTO, WT_HOOKS_SOCKETS, WT_HOOKS_SYSCALLS };
		int i = parse_choice(arg, "--hooks", names, ARRAY_SIZE(names), state);

		if (i >= 0)
			env.hooks = vals[i];
		break;
	}
	case OPT_POLL_MS:
		if (parse_ulong(arg, "--poll-ms", 1, 10000, &v, state) == 0)
			env.poll_ms = v;
		break;
	case OPT_RINGBUF_MB:
		if (parse_ulong(arg, "--ringbuf-mb", 1, 1024, &v, state) == 0) {
			if (v & (v - 1))
				argp_error(state, "--ringbuf-mb must be a power of two, not %lu", v);
			env.ringbuf_mb = v;
		}
		break;
	case OPT_WEB_CONFIG:
		env.web_config = arg;
		break;
	case OPT_SERVER_CMDLINE:
		if (service_add_cmdline(arg, err, sizeof(err)))
			argp_error(state, "--server-cmdline '%s': %s", arg, err);
		break;
	case OPT_NATIVE_SCHEMA: {
		char *end;
		long n = strtol(arg, &end, 10);

		if (!*arg || *end || n < INT8_MIN || n > INT8_MAX)
			argp_error(state, "--native-schema must be a small integer, not '%s'", arg);
		env.native.schema = (int)n;
		if (native_validate(&env.native, err, sizeof(err)))
			argp_error(state, "--native-schema: %s", err);
		break;
	}
	case OPT_NATIVE_ZERO: {
		char *end;
		double z = strtod(arg, &end);

		if (!*arg || *end)
			argp_error(state, "--native-zero-threshold must be a number of seconds, not '%s'", arg);
		env.native.zero_threshold = z;
		if (native_validate(&env.native, err, sizeof(err)))
			argp_error(state, "--native-zero-threshold: %s", err);
		break;
	}
	case OPT_NATIVE_MAX_BUCKETS:
		if (parse_ulong(arg, "--native-max-buckets", 0, NATIVE_MAX_BUCKETS_LIMIT, &v, state) == 0) {
			env.native.max_buckets = (unsigned)v;
			if (native_validate(&env.native, err, sizeof(err)))
				argp_error(state, "--native-max-buckets: %s", err);
		}
		break;
	case OPT_NO_FOLD:
		env.fold_ids = false;
		break;
	case OPT_NO_EXEMPLARS:
		env.exemplars = false;
		break;
	case OPT_BPF_STATS:
		env.bpf_stats = true;
		break;
	case OPT_BENCH_STAGE: {
		static const char *const names[] = { "full", "filter", "no-records", "no-queue" };
		static const enum wt_stage vals[] = { WT_STAGE_FULL, WT_STAGE_FILTER, WT_STAGE_NO_RECORDS,
						      WT_STAGE_NO_QUEUE };
		int i = parse_choice(arg, "--bench-stage", names, ARRAY_SIZE(names), state);

		if (i >= 0)
			env.stage = vals[i];
		break;
	}
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s' (servers are found by themselves; "
			   "use --pid to pick one)", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

struct app {
	struct capture *cap;
	struct conntrack *ct;
	struct agg *agg;
	struct serverstate *state;
	struct httpd *httpd;
	struct proctab *procs;
	struct naming names; /* names procs' services */
	struct scripted *scripted; /* Python processes that may start serving */
	struct tlsattach_client *tls; /* SSL probes per traced process */
	struct strbuf line;
	struct strbuf extra; /* the families rendered beside expose.c's */
	uint64_t events;
	uint64_t malformed;
	uint64_t last_drain_ns; /* the ring was last drained then */
	uint64_t scrapes;
	/* --pid roots with a WSGI server at or below them. */
	uint32_t server_roots[MAX_PIDS];
	size_t nserver_roots;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The wall clock minus the monotonic one the kernel stamps records with. */
static int64_t realtime_offset_ns(void)
{
	struct timespec ts;
	uint64_t mono = now_ns();

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec - mono);
}

static void on_unanswered(const struct wt_request *rq, enum wt_unanswered why, void *ctx)
{
	struct app *a = ctx;
	struct wt_labels l;

	labels_build(rq, env.fold_ids, &l);
	serverstate_unanswered(a->state, naming_of(&a->names, rq->tgid), why, l.route);
}

static void on_request(const struct wt_request *rq, void *ctx)
{
	struct app *a = ctx;
	const char *svc = naming_of(&a->names, rq->tgid);

	agg_observe_request(a->agg, svc, rq, env.fold_ids);
	if (rq->queue_ns)
		serverstate_queue(a->state, svc, rq->queue_ns);
	if (env.trace) {
		char name[SVCKEY_MAX];
		size_t k = svckey_service_len(svc);

		memcpy(name, svc, k);
		name[k] = 0;
		sb_reset(&a->line);
		trace_json_format(&a->line, rq, name, env.fold_ids);
		if (sb_ok(&a->line))
			fwrite(a->line.buf, 1, a->line.len, stdout);
	}
}

/* The tracker found a connection carrying another protocol: the kernel stops its records. */
static void on_ignore(uint64_t sk, uint64_t ino, void *ctx)
{
	struct app *a = ctx;

	if (a->cap)
		capture_ignore_conn(a->cap, sk, ino);
}

/* A traced process served TLS that was not read: the helper says why and counts it. */
static void on_tls_unread(uint32_t tgid, void *ctx)
{
	struct app *a = ctx;

	tlsattach_unread(a->tls, tgid);
}

/* root: a server's master; the processes it forks are its workers. */
static void add_proc(struct app *a, uint32_t pid, const char *service, bool root)
{
	if (root)
		proctab_set_root(a->procs, pid, service);
	else
		proctab_set(a->procs, pid, service);
}

/*
 * Python's multiprocessing starts a resource tracker beside the workers it
 * spawns (uvicorn --workers, --reload; hypercorn -w): `python3 -c from
 * multiprocessing.resource_tracker import main;main(4)`.
 */
static bool is_mp_helper(const char *args, size_t n)
{
	return memmem(args, n, "from multiprocessing.resource_tracker import", 44) ||
	       memmem(args, n, "from multiprocessing.semaphore_tracker import", 45) ||
	       memmem(args, n, "from multiprocessing.forkserver import", 38);
}

struct exec_children {
	struct app *a;
	const char *service; /* the server's, from its exec: a title it sets later names nothing */
};

static void trace_exec_child(uint32_t pid, uint32_t root, void *ctx)
{
	struct exec_children *x = ctx;
	char args[4096];
	int n;

	if (pid == root || ((n = proc_cmdline(pid, args, sizeof(args))) > 0 && is_mp_helper(args, n)))
		return;
	if (capture_trace_pid(x->a->cap, pid, root) && env.verbose)
		fprintf(stderr, "wsgitrace: cannot trace %u\n", pid);
	tlsattach_pid(x->a->tls, pid);
	add_proc(x->a, pid, x->service, false);
}

static void on_exec(struct app *a, const struct wt_proc_event *e)
{
	size_t n = e->args_len > 0 ? (size_t)e->args_len : 0;
	char svc[SVCKEY_MAX];
	bool server;

	if (n > WT_ARGS_LEN)
		n = WT_ARGS_LEN;
	server = service_is_server(e->args, n);
	/* Its SSL probes went with its old image: the new one is looked at anew. */
	if (server || proctab_get(a->procs, e->pid))
		tlsattach_forget(a->tls, e->pid);
	if (server) {
		if (env.npids == 0 && capture_trace_pid(a->cap, e->pid, e->pid) && env.verbose)
			fprintf(stderr, "wsgitrace: cannot trace new server %u\n", e->pid);
		naming_key(&a->names, e->pid, e->args, n, svc, sizeof(svc));
		add_proc(a, e->pid, svc, true);
		/* Children it forked before the kernel side knew it was traced sent
		 * no fork record (nginx forks its workers within milliseconds of
		 * its exec): take them from /proc, now that later forks are seen. */
		if (env.npids == 0) {
			struct exec_children x = { a, svc };
			char err[128];

			discover(&e->pid, 1, trace_exec_child, &x, err, sizeof(err));
		}
		/* It maps libssl once it imports ssl: looked at again a while. */
		if (env.npids == 0)
			tlsattach_pid(a->tls, e->pid);
		if (env.verbose)
			fprintf(stderr, "wsgitrace: tracing new server %u (%s)\n", e->pid, svc);
	} else if (proctab_get(a->procs, e->pid)) {
		/* A server's helper that serves nothing is no worker (wsgi_server_workers). */
		if (is_mp_helper(e->args, n)) {
			capture_untrace_pid(a->cap, e->pid);
			proctab_del(a->procs, e->pid);
		} else {
			tlsattach_pid(a->tls, e->pid);
		}
	} else if (env.npids == 0 && service_is_python(e->args, n)) {
		scripted_add(a->scripted, e->pid, now_ns(), SCRIPTED_FIRST_MS * 1000000ull);
	}
}

static void on_record(const void *data, size_t size, void *ctx)
{
	struct app *a = ctx;
	const struct wt_conn_event *d = data;
	const struct wt_proc_event *p = data;
	const char *parent;

	a->events++;
	if (size < offsetof(struct wt_conn_event, data)) {
		a->malformed++;
		return;
	}
	switch (d->type) {
	case WT_EV_ABANDONED:
		serverstate_unanswered(a->state, naming_of(&a->names, d->tgid), WT_UNANSWERED_GONE_QUEUED, NULL);
		break;
	case WT_EV_DATA:
	case WT_EV_CLOSE:
	case WT_EV_ACKED:
	case WT_EV_RELAYED:
		if (d->cap_len > WT_CAP || size < offsetof(struct wt_conn_event, data) + d->cap_len) {
			a->malformed++;
			return;
		}
		conntrack_event(a->ct, d);
		break;
	case WT_EV_EXEC:
		if (size < sizeof(*p)) {
			a->malformed++;
			return;
		}
		on_exec(a, p);
		break;
	case WT_EV_FORK:
		parent = proctab_get(a->procs, p->ppid);
		add_proc(a, p->pid, parent ? parent : naming_of(&a->names, p->ppid), false);
		/* It carries its parent's SSL probes if they are inherited; else its own. */
		tlsattach_fork(a->tls, p->pid, p->ppid, p->ts_ns);
		break;
	case WT_EV_EXIT:
		tlsattach_forget(a->tls, p->pid);
		conntrack_proc_exit(a->ct, p->pid, p->ts_ns);
		proctab_del(a->procs, p->pid);
		break;
	default:
		a->malformed++;
	}
}

static void mark_port(uint16_t port, void *ctx)
{
	struct app *a = ctx;

	capture_server_port(a->cap, port);
}

static void mark_listener(const struct listener *l, void *ctx)
{
	mark_port(l->port, ctx);
}

static void on_discovered(uint32_t pid, uint32_t root, void *ctx)
{
	struct app *a = ctx;
	char args[4096], svc[SVCKEY_MAX];
	int n;

	if (pid != root && (n = proc_cmdline(pid, args, sizeof(args))) > 0 && is_mp_helper(args, n))
		return;
	if (capture_trace_pid(a->cap, pid, root) && env.verbose)
		fprintf(stderr, "wsgitrace: cannot trace %u\n", pid);
	tlsattach_pid(a->tls, pid);
	n = proc_cmdline(root, args, sizeof(args));
	naming_key(&a->names, root, args, n > 0 ? (size_t)n : 0, svc, sizeof(svc));
	add_proc(a, pid, svc, pid == root);
	/* Its listening ports now: the first connections' queue time is measured too. */
	if (pid == root)
		listeners_read(serverstate_reader(a->state), pid, mark_listener, a);
	if (env.verbose)
		fprintf(stderr, "wsgitrace: tracing %u (server %u, %s)\n", pid, root, svc);
	if (env.npids && a->nserver_roots < MAX_PIDS && (n = proc_cmdline(pid, args, sizeof(args))) > 0 &&
	    service_is_server(args, n))
		a->server_roots[a->nserver_roots++] = root;
}

static void count_listener(const struct listener *l, void *ctx)
{
	(*(int *)ctx)++;
}

/* Does pid hold a listening TCP socket? (-1: it is gone, or traced already.) */
static int holds_listener(uint32_t pid, void *ctx)
{
	struct app *a = ctx;
	int n = 0, r;

	if (proctab_get(a->procs, pid))
		return -1;
	r = listeners_read(serverstate_reader(a->state), pid, count_listener, &n);
	if (r < 0)
		return -1;
	return n > 0;
}

/*
 * A Python process started listening: it serves. Its server is the topmost
 * of its Python ancestors that listen too (a master whose spawned workers
 * share its socket); that one and everything below it are traced, the root
 * first, so that what it forks while we look is followed by the kernel.
 */
static void on_scripted(uint32_t pid, void *ctx)
{
	struct app *a = ctx;
	char args[256];
	uint32_t root = pid, up;
	int n;

	n = proc_cmdline(pid, args, sizeof(args));
	if (n <= 0 || !service_is_python(args, n))
		return; /* the pid was reused */
	for (int depth = 0; depth < 16 && (up = proc_ppid(root)) > 1; depth++) {
		n = proc_cmdline(up, args, sizeof(args));
		if (n <= 0 || !service_is_python(args, n) || holds_listener(up, a) <= 0)
			break;
		root = up;
	}
	if (capture_trace_pid(a->cap, root, root) && env.verbose)
		fprintf(stderr, "wsgitrace: cannot trace %u\n", root);
	if (env.verbose)
		fprintf(stderr, "wsgitrace: %u listens: a server started from a script\n", root);
	discover(&root, 1, on_discovered, a, args, sizeof(args));
}

static void add_candidate(uint32_t pid, uint32_t root, void *ctx)
{
	struct app *a = ctx;

	if (!proctab_get(a->procs, pid))
		scripted_add(a->scripted, pid, now_ns(), 0);
}

/* A --pid with no server at or below it counts nothing: say so, it is rarely meant. */
static void warn_pids_without_server(const struct app *a)
{
	char args[4096];
	size_t i, j;
	int n;

	for (i = 0; i < env.npids; i++) {
		for (j = 0; j < a->nserver_roots && a->server_roots[j] != env.pids[i]; j++)
			;
		if (j < a->nserver_roots || (n = proc_cmdline(env.pids[i], args, sizeof(args))) <= 0)
			continue;
		for (j = 0; j + 1 < (size_t)n; j++)
			if (!args[j])
				args[j] = ' ';
		warn("--pid %u (%.60s) is not a server wsgitrace knows and runs none below it: nothing is "
		     "counted until one starts there. Give the server's master process, e.g. pgrep -o -f gunicorn",
		     env.pids[i], args);
	}
}

/*
 * Probes attached (they are before /metrics listens) and the ring drained
 * lately: a loop stuck anywhere else would not answer at all.
 */
static int health(void *ctx, char *why, size_t len)
{
	struct app *a = ctx;
	uint64_t age = now_ns() - a->last_drain_ns, limit = 2000000000ull + 10ull * env.poll_ms * 1000000ull;

	if (a->last_drain_ns && age <= limit)
		return 0;
	if (!a->last_drain_ns)
		snprintf(why, len, "the ring buffer has not been drained yet");
	else
		snprintf(why, len, "the ring buffer was last drained %.1f s ago", age / 1e9);
	return -1;
}

/* Per-service families, then what the BPF programs cost, then the TLS probes' counts. */
static const struct strbuf *render_extra(struct app *a)
{
	const struct strbuf *svc = serverstate_render(a->state, a->procs, a->ct);
	struct progstat ps[64];
	size_t n = capture_prog_stats(a->cap, ps, ARRAY_SIZE(ps));

	sb_reset(&a->extra);
	sb_append(&a->extra, svc->buf, svc->len);
	tlsattach_pump(a->tls);
	progstats_render(&a->extra, ps, n, capture_stats_on(a->cap));
	tlsattach_render(a->tls, capture_stats(a->cap)->ks[WT_KS_TLS_UNTIED], &a->extra);
	return &a->extra;
}

/* The loop's own counters, in struct app. */
static const struct promtext_metric app_metrics_rows[] = {
	PROMTEXT_U64("wsgitrace_events_total", PROMTEXT_COUNTER, struct app, events,
		     "Events read from the kernel ring buffer."),
	/* Records too short for their type: as good as a failed read in the kernel. */
	PROMTEXT_ADD("wsgitrace_kernel_read_failures_total", struct app, malformed),
	PROMTEXT_U64("wsgitrace_scrapes_total", PROMTEXT_COUNTER, struct app, scrapes, "Requests for /metrics served."),
};
static const struct promtext_table app_metrics = PROMTEXT_TABLE(app_metrics_rows);

static struct expose_stream *render(void *ctx, enum expfmt f)
{
	struct app *a = ctx;
	const struct strbuf *extra;

	/* A scrape sees every request completed before it, not 50 ms behind. */
	capture_consume(a->cap);
	a->scrapes++;
	/* Each module's counters as of now: the stream renders them at once. */
	const struct promtext_source src[] = {
		{ &app_metrics, a },
		{ &capture_metrics, capture_stats(a->cap) },
		{ &conntrack_metrics, conntrack_stats(a->ct) },
		{ &proctab_metrics, proctab_stats(a->procs) },
		{ &agg_metrics, agg_stats(a->agg) },
		{ &httpd_metrics, httpd_stats(a->httpd) },
	};
	extra = render_extra(a);
	serverstate_ports(a->state, mark_port, a);
	const struct expose_self self = {
		.svc_hist = serverstate_queue_agg(a->state),
		.svc_hist_name = SERVERSTATE_QUEUE_NAME,
		.svc_hist_help = SERVERSTATE_QUEUE_HELP,
		.extra = extra->buf,
		.extra_len = extra->len,
		.src = src,
		.nsrc = ARRAY_SIZE(src),
		.version = WT_VERSION,
		.revision = WT_GIT_REV,
		.hook = capture_hooks_name(a->cap),
	};

	return expose_stream_open(a->agg, &self, f);
}

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	struct capture_opts co = {};
	struct tls_progs tp = {};
	struct conntrack_opts cto = {};
	struct httpd_opts ho = httpd_default_opts;
	struct app a = {};
	char err[512], kept[64];
	sigset_t mask;
	int sfd = -1, err_code = 1, n;
	uint64_t last_tick = 0;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sb_init(&a.line);
	sb_init(&a.extra);
	warn_flags();

	/* Before anything is attached: a mistake in it is found at once. */
	ho.health = health;
	ho.health_ctx = &a;
	if (env.web_config && !(ho.web = webconfig_load(env.web_config, err, sizeof(err)))) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	a.agg = agg_new(env.nbuckets ? env.buckets : agg_default_buckets,
			env.nbuckets ? env.nbuckets : agg_default_nbuckets, env.max_series, err, sizeof(err));
	if (!a.agg) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	agg_set_service_limit(a.agg, env.max_series_per_service);
	agg_set_native(a.agg, &env.native);
	agg_set_exemplars(a.agg, env.exemplars);
	agg_set_realtime_offset(a.agg, realtime_offset_ns());
	a.state = serverstate_new(env.nbuckets ? env.buckets : agg_default_buckets,
				  env.nbuckets ? env.nbuckets : agg_default_nbuckets, err, sizeof(err));
	if (!a.state) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	/* The queue time's native buckets, as the request histograms': Prometheus reads both alike. */
	agg_set_native(serverstate_queue_agg(a.state), &env.native);
	a.procs = proctab_new();
	a.scripted = scripted_new();
	a.names.procs = a.procs;
	a.names.override = env.service_name;
	cto.max_conns = env.max_conns;
	cto.ignore = on_ignore;
	cto.ignore_ctx = &a;
	cto.unanswered = on_unanswered;
	cto.unanswered_ctx = &a;
	cto.tls_unread = on_tls_unread;
	cto.tls_ctx = &a;
	a.ct = conntrack_new(&cto, on_request, &a);
	if (!a.procs || !a.ct || !a.scripted) {
		fprintf(stderr, "wsgitrace: out of memory\n");
		goto cleanup;
	}

	/* Signals arrive as a readable fd, so the loop never races a flag. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "wsgitrace: signalfd: %s\n", strerror(errno));
		goto cleanup;
	}

	co.auto_discover = env.npids == 0;
	co.hooks = env.hooks;
	co.ringbuf_bytes = env.ringbuf_mb << 20;
	co.max_conns = env.max_conns;
	co.verbose = env.verbose;
	co.stage = env.stage;
	n = capture_open(&a.cap, &co, on_record, &a, err, sizeof(err));
	if (n) {
		const char *missing = n == -EPERM ? privs_missing_for_load() : NULL;

		fprintf(stderr, "wsgitrace: %s%s%s\n", err, missing ? "; this process lacks " : "",
			missing ? missing : "");
		goto cleanup;
	}
	if (env.bpf_stats && (n = capture_enable_stats(a.cap))) {
		fprintf(stderr, "wsgitrace: cannot turn the kernel's BPF statistics on (%s): --bpf-stats needs "
			"CAP_SYS_ADMIN and a kernel from 5.8\n", strerror(-n));
		goto cleanup;
	}
	capture_tls_progs(a.cap, &tp);
	a.tls = tlsattach_new(&tp);
	if (!a.tls) {
		fprintf(stderr, "wsgitrace: out of memory\n");
		goto cleanup;
	}
	n = discover(env.pids, env.npids, on_discovered, &a, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	warn_pids_without_server(&a);
	if (env.npids == 0)
		discover_python(add_candidate, &a);
	/* Listening last: a scrape that succeeds means tracing is live. */
	a.httpd = httpd_start(env.listen, &ho, render, &a, err, sizeof(err));
	if (!a.httpd) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	/* The one part of running that needs privilege keeps it in a process of its own. */
	serverstate_start_reader(a.state);
	/* Attached and listening: from here on, running needs (almost) no privilege. */
	if (privs_drop(kept, sizeof(kept), err, sizeof(err))) {
		fprintf(stderr, "wsgitrace: %s\n", err);
		goto cleanup;
	}
	if (env.verbose)
		fprintf(stderr, "wsgitrace: capabilities kept after attaching: %s\n", kept);
	fprintf(stderr, "wsgitrace: tracing %d process%s (%s hooks), metrics on %s://%s/metrics%s\n",
		n, n == 1 ? "" : "es", capture_hooks_name(a.cap), httpd_scheme(a.httpd), httpd_address(a.httpd),
		ho.web && webconfig_has_users(ho.web) ? " (basic authentication)" : "");

	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = httpd_fd(a.httpd), .events = POLLIN },
			{ .fd = capture_fd(a.cap), .events = POLLIN },
			{ .fd = tlsattach_fd(a.tls), .events = tlsattach_poll_events(a.tls) },
		};
		int timeout = env.poll_ms, ht = httpd_timeout_ms(a.httpd);
		uint64_t now;

		if (ht >= 0 && ht < timeout)
			timeout = ht;
		if (poll(pfd, 4, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "wsgitrace: poll: %s\n", strerror(errno));
			goto cleanup;
		}
		if (pfd[0].revents)
			break;
		now = now_ns();
		if (pfd[2].revents || now - a.last_drain_ns >= env.poll_ms * 1000000ull) {
			if (capture_consume(a.cap) < 0 && env.verbose)
				fprintf(stderr, "wsgitrace: ring buffer: %s\n", strerror(errno));
			a.last_drain_ns = now;
		}
		tlsattach_pump(a.tls);
		if (now - last_tick >= 100000000ull) {
			conntrack_tick(a.ct, now);
			scripted_tick(a.scripted, now, holds_listener, on_scripted, &a);
			agg_retire(a.agg, now, env.series_ttl_s * 1000000000ull);
			agg_set_realtime_offset(a.agg, realtime_offset_ns());
			tlsattach_retry(a.tls, now);
			last_tick = now;
		}
		httpd_run(a.httpd);
	}
	err_code = 0;
	fprintf(stderr, "wsgitrace: detached\n");

cleanup:
	httpd_stop(a.httpd);
	tlsattach_free(a.tls);
	capture_close(a.cap);
	if (sfd >= 0)
		close(sfd);
	conntrack_free(a.ct);
	proctab_free(a.procs);
	scripted_free(a.scripted);
	serverstate_free(a.state);
	agg_free(a.agg);
	webconfig_free(ho.web);
	sb_free(&a.line);
	sb_free(&a.extra);
	return err_code;
}
