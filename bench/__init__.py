"""wsgitrace benchmark: what wsgitrace costs a gunicorn/uWSGI server next to
the usual in-process approaches, against its performance budget.

Run by `make bench` as `/usr/bin/python3 -m bench $(BENCH_ARGS)` from the
repository root, as root. Everything runs on loopback. Sections:

  throughput  a Flask app under gunicorn sync / gthread / uWSGI, wrk at
              saturation, each instrumentation approach, rounds interleaved;
              and the same server with wsgitrace attached and detached in turn
  syscalls    ns per call added to processes wsgitrace does NOT trace
  accuracy    wsgitrace's per-request latency vs the app's own, and counts
  series      scrape time and RSS with 10,000 live series
  conns       RSS with 100,000 idle keep-alive connections tracked

Writes bench/results.json, bench/throughput.png and BENCHMARKS.md.
"""
import os
import sys

# The servers, the tracer and the exposition parser are the integration tests' own.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "lib"))
