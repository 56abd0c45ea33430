"""The usual in-process approach: prometheus_client inside each worker,
in multiprocess mode (PROMETHEUS_MULTIPROC_DIR must be set before the first
import of prometheus_client), with /metrics served by the app itself.

Metrics and hooks as the common Flask middleware recipe has them: request_count
{app_name,method,endpoint,http_status} and request_latency_seconds
{app_name,endpoint}, timed from before_request to after_request.
"""
import os
import time

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    raise SystemExit("prom_app: set PROMETHEUS_MULTIPROC_DIR to an empty directory")

from flask import Response, request  # noqa: E402
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter,  # noqa: E402
                               Histogram, generate_latest, multiprocess)

from _common import app  # noqa: E402

REQUEST_COUNT = Counter(
    "request_count", "App Request Count",
    ["app_name", "method", "endpoint", "http_status"])
REQUEST_LATENCY = Histogram(
    "request_latency_seconds", "Request latency",
    ["app_name", "endpoint"])


def start_timer():
    request.start_time = time.time()


def stop_timer(response):
    resp_time = time.time() - request.start_time
    REQUEST_LATENCY.labels("test_app", request.path).observe(resp_time)
    return response


def record_request_data(response):
    REQUEST_COUNT.labels("test_app", request.method, request.path,
                         response.status_code).inc()
    return response


def metrics():
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def setup_metrics(app):
    app.before_request(start_timer)
    # The order matters: after_request functions run in reverse order of
    # registration, so stop_timer runs first.
    app.after_request(record_request_data)
    app.after_request(stop_timer)
    app.add_url_rule("/metrics", "metrics", metrics)


setup_metrics(app)
application = app
