"""What the benchmark measures and the lines it is judged by: one place for
every configuration, default and threshold."""
import os

from wtlib.paths import ROOT

BENCH = os.path.join(ROOT, "bench")
APPS = os.path.join(BENCH, "apps")
RESULTS = os.path.join(BENCH, "results.json")
CHART = os.path.join(BENCH, "throughput.png")
REPORT = os.path.join(ROOT, "BENCHMARKS.md")

SECTIONS = ("throughput", "syscalls", "accuracy", "series", "conns", "progcost", "helpercost", "tls")

# Defaults of a full run and of --quick.
PROFILES = {
    "full": {"rounds": 5, "duration": 10, "warmup": 2, "paired_segments": 6, "scrapes": 25,
             "syscall_calls": 200000, "syscall_best_of": 5, "accuracy_per_thread": 1000,
             "tls_calls": 20000},
    "quick": {"rounds": 2, "duration": 3, "warmup": 1, "paired_segments": 1, "scrapes": 10,
              "syscall_calls": 100000, "syscall_best_of": 3, "accuracy_per_thread": 250,
              "tls_calls": 5000},
}

# The performance budget. Every line of the Budget table and the chart's
# dashed line read their figures here.
BUDGET = {
    "sync_ratio": 0.98,        # gunicorn sync throughput with wsgitrace, share of none
    "daemon_cpu_us": 5.0,      # the daemon's own CPU per request
    "series": 10000,           # live series for the memory and scrape lines
    "series_rss_mib": 32.0,    # peak RSS at that many series
    "scrape_ms": 50.0,         # median scrape of that many series
    "syscall_ns": 5.0,         # added to an untraced process's non-socket syscall
    "socket_call_ns": 150.0,   # added to an untraced process's socket call
}

# Thresholds the notes use to flag runs that are not to be trusted.
NOTES = {
    "foreign_cpu_pct": 5.0,    # other work on the machine during a run, share of all CPUs
    "low_run_ratio": 0.8,      # a same-server run this far below its untraced neighbour
    "unbalanced": 0.5,         # workers' CPU min/max below this: one worker did the work
    "scrape_buffer_kib": 4096,  # peak RSS above the pre-scrape figure by more than this
    "quiet_wait_s": 30.0,      # how long to wait for other wsgitrace daemons to exit
}

WRK = {"conns": 8, "threads": 2, "path": "/test/"}

APPROACHES = [
    ("none", "no instrumentation"),
    ("wsgitrace", "wsgitrace attached"),
    ("prometheus_mp", "prometheus_client multiprocess middleware"),
    ("statsd_mw", "statsd middleware -> UDP"),
    ("gunicorn_statsd", "gunicorn --statsd-host"),
]
ALL = [a for a, _ in APPROACHES]
# (kind, description, approaches measured on it); the middleware approaches
# are gunicorn's, so uWSGI runs only with and without wsgitrace.
SERVERS = [
    ("sync", "gunicorn sync, 2 workers", ALL),
    ("gthread", "gunicorn gthread, 2 workers x 4 threads, keep-alive", ALL),
    ("uwsgi", "uWSGI --http-socket, 2 processes", ["none", "wsgitrace"]),
]
CHART_COLORS = {"none": "#999999", "wsgitrace": "#2b8a3e", "prometheus_mp": "#1864ab",
                "statsd_mw": "#e67700", "gunicorn_statsd": "#c92a2a"}

# Same server, wsgitrace attached and detached in turn: what users do (no
# restart), and it takes the spread between server starts (a few percent:
# hash seeds, memory layout, which CPU each worker lands on) out of the ratio.
# The bench stages (wsgitrace --bench-stage) split wsgitrace's cost on sync;
# sync_1ms is the same server on a route that burns 1 ms of CPU, to show the
# cost is per request; uvicorn is the async server most Python services now
# run. (key, server kind, path, configurations)
PAIRED = [("sync", "sync", "/test/", ["none", "wsgitrace", "no_queue", "filter", "no_records"]),
          ("gthread", "gthread", "/test/", ["none", "wsgitrace"]),
          ("uwsgi", "uwsgi", "/test/", ["none", "wsgitrace"]),
          ("sync_1ms", "sync", "/cpu/1000", ["none", "wsgitrace"]),
          ("uvicorn", "uvicorn", "/test/", ["none", "wsgitrace"]),
          ("sync_traceparent", "sync", "/test/", ["none", "wsgitrace", "no_exemplars"])]
PAIRED_DESC = {"sync_1ms": "gunicorn sync, 2 workers, `GET /cpu/1000` (1 ms of CPU per request)",
               "uvicorn": "uvicorn --workers 2, FastAPI (async `GET /test/`)",
               "sync_traceparent": "gunicorn sync, 2 workers, every request with a W3C `traceparent`"}
# Request headers wrk sends on a paired server: a traced request (a valid
# traceparent) makes wsgitrace keep an exemplar for every observation, the
# worst case of what exemplars cost.
PAIRED_HEADERS = {"sync_traceparent": ["traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]}
# The app each server kind serves from bench/apps: the Flask app, or for an
# ASGI server the FastAPI app with the same route.
SERVER_APP = {"uvicorn": "asgi_app"}
STAGE_ARGS = {"wsgitrace": [], "filter": ["--bench-stage=filter"], "no_records": ["--bench-stage=no-records"],
              "no_queue": ["--bench-stage=no-queue"], "no_exemplars": ["--no-exemplars"]}
STAGE_NAMES = {"wsgitrace": "wsgitrace",
               "filter": "programs attached, return after the traced-process check",
               "no_records": "all kernel-side work, no connection record sent to the daemon",
               "no_queue": "wsgitrace without queue time (no handshake notes)",
               "no_exemplars": "wsgitrace --no-exemplars"}
PAIRED_SECONDS = 2             # per run on the shared server
PAIRED_LOAD_S = 1              # load every configuration gets before it is measured

# HTTPS (bench/tls.py): the server kind served with --certfile/--keyfile, and its same-server configurations.
TLS_SERVER = "sync"
TLS_CONFIGS = ["none", "wsgitrace"]

# (test, description, is a socket call pair) of bench/syscall_cost.c
SC_TESTS = [("getpid", "getpid()", False), ("write_null", "write 1 B to /dev/null", False),
            ("write_pipe", "write 1 B to a pipe", False),
            ("tcp_sendrecv", "send+recv 64 B, loopback TCP", True),
            ("unix_sendrecv", "send+recv 64 B, AF_UNIX socketpair", True)]
SC_CONFIGS = [("nothing", None), ("wsgitrace", []), ("wsgitrace_syscalls", ["--hooks", "syscalls"])]

# Accuracy: the saturated phase's routes and connections, the bounded client's threads.
ACCURACY_WRK = [("/test/", 8), ("/sleep/5", 2)]
ACCURACY_THREADS = 8

# What each BPF program costs per request (bench/progcost.py): ab's load per run.
PROGCOST = {"conc": 8, "path": "/test/", "full": {"rounds": 5, "requests": 20000},
            "quick": {"rounds": 2, "requests": 3000}}
# What each BPF operation costs (bench/helpercost.py): sends per program per round,
# and the requests per round of wsgitrace's programs on a C server loop.
HELPERCOST = {"full": {"sends": 30000, "rounds": 5, "requests": 10000},
              "quick": {"sends": 5000, "rounds": 2, "requests": 2000}}

SCALE = {"series": BUDGET["series"], "conns": 100000, "conns_timeout": 300, "series_threads": 4}
