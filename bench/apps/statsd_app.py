"""The usual push approach: each worker pushes statsd metrics
(DogStatsd tag format, as a datadog client sends them) over UDP to a
statsd bridge, here a local UDP sink.

STATSD_HOST / STATSD_PORT: where to send (default 127.0.0.1:9125).
STATSD_IMPL=raw (default): one UDP datagram per metric in the
  DogStatsd format, "name:value|h|#tag:v,..." (what datadog.DogStatsd sends);
STATSD_IMPL=statsd: Debian's python3-statsd StatsClient (plain statsd, no
  tags, so the tags are folded into the metric name).
"""
import os
import socket
import time

from flask import request

from _common import app

HOST = os.environ.get("STATSD_HOST", "127.0.0.1")
PORT = int(os.environ.get("STATSD_PORT", "9125"))
IMPL = os.environ.get("STATSD_IMPL", "raw")
REQUEST_LATENCY_METRIC_NAME = "request_latency_seconds"
REQUEST_COUNT_METRIC_NAME = "request_count"

if IMPL == "statsd":
    import statsd as _statsd

    _client = _statsd.StatsClient(HOST, PORT, prefix="webapp")

    def _histogram(name, value, tags):
        _client.timing("%s.%s" % (name, _mangle(tags)), value * 1000.0)

    def _increment(name, tags):
        _client.incr("%s.%s" % (name, _mangle(tags)))

    def _mangle(tags):
        return ".".join(t.split(":", 1)[1].strip().strip("/").replace("/", "_").replace(".", "_")
                        or "root" for t in tags)
else:
    _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _addr = (HOST, PORT)

    def _send(payload):
        try:
            _sock.sendto(payload.encode(), _addr)
        except OSError:
            pass  # statsd clients swallow errors

    def _histogram(name, value, tags):
        _send("%s:%s|h|#%s" % (name, value, ",".join(tags)))

    def _increment(name, tags):
        _send("%s:1|c|#%s" % (name, ",".join(tags)))


def start_timer():
    request.start_time = time.time()


def stop_timer(response):
    resp_time = time.time() - request.start_time
    _histogram(REQUEST_LATENCY_METRIC_NAME, resp_time,
               ["service: webapp", "endpoint: %s" % request.path])
    return response


def record_request_data(response):
    _increment(REQUEST_COUNT_METRIC_NAME,
               ["service: webapp", "method: %s" % request.method,
                "endpoint: %s" % request.path,
                "status: %s" % str(response.status_code)])
    return response


app.before_request(start_timer)
app.after_request(record_request_data)
app.after_request(stop_timer)
application = app
