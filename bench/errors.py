"""How a benchmark run reports progress and failures."""
import sys
import time


class BenchError(Exception):
    pass


# What a failed run raises: the benchmark's own errors, and the shared
# library's deadlines and exited processes (AssertionError, as the tests want).
FAILURES = (BenchError, AssertionError)


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()
