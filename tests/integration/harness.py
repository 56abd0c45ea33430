"""Real processes for the integration tests: servers, wsgitrace, Prometheus.

The code lives in tests/lib/wtlib, shared with the benchmark; the tests keep
importing it as `harness`.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from wtlib.client import KeepAlive, hammer, read_all, read_responses, request  # noqa: E402
from wtlib.exposition import LABEL, LINE, metric_sum, parse_exposition  # noqa: E402
from wtlib.net import free_port, port_open, unix_open, wait_for  # noqa: E402
from wtlib.paths import APPS, GUNICORN, HIST, PY, ROOT, SERVICE, UWSGI, WSGITRACE  # noqa: E402
from wtlib.procs import Proc, children, descendants  # noqa: E402
from wtlib.prometheus import query_value  # noqa: E402
from wtlib.servers import Nginx, Server, gunicorn, uwsgi  # noqa: E402
from wtlib.tracer import Tracer  # noqa: E402

__all__ = ["KeepAlive", "hammer", "read_all", "read_responses", "request",
           "LABEL", "LINE", "metric_sum", "parse_exposition",
           "free_port", "port_open", "unix_open", "wait_for",
           "APPS", "GUNICORN", "HIST", "PY", "ROOT", "SERVICE", "UWSGI", "WSGITRACE",
           "Proc", "children", "descendants", "query_value", "Server", "gunicorn", "uwsgi", "Tracer"]
