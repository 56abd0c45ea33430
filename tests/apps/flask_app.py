"""A Flask app like the ones wsgitrace users run (a page, an error, a slow call), plus the routes the integration tests need.

/test/ -> 200 "rest", /test1/ -> 500 "division by zero", /test -> redirect
(Flask's strict slashes), unknown -> 404, as in the article; and a POST that
reads its body, a route that sleeps a known time, a 1 MB body, a streamed
body and a send_file body. Each request's own duration, as the app measures
it, is appended to $WT_APP_TIMES if set (the benchmark compares against it).
"""
import os
import time

from flask import Flask, Response, request, send_file

app = Flask(__name__)
BIG = b"x" * (1 << 20)
HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.environ.get("WT_STATIC", "/tmp/wsgitrace-static.bin")
if not os.path.exists(STATIC):
    with open(STATIC + ".tmp%d" % os.getpid(), "wb") as f:
        f.write(bytes(range(256)) * 1024)
    os.replace(STATIC + ".tmp%d" % os.getpid(), STATIC)
TIMES = os.environ.get("WT_APP_TIMES")


@app.route("/test/")
def test():
    return "rest"


@app.route("/test1/")
def test1():
    1 / 0
    return "rest"


@app.errorhandler(500)
def handle_500(error):
    return str(getattr(error, "original_exception", error) or error), 500


@app.route("/echo", methods=["POST", "PUT"])
def echo():
    data = request.get_data()
    return "got %d" % len(data)


@app.route("/sleep/<int:ms>")
def sleep(ms):
    # The app's own time, on the clock wsgitrace uses (CLOCK_MONOTONIC).
    start = time.monotonic_ns()
    time.sleep(ms / 1000.0)
    resp = Response("slept %d" % ms)
    resp.headers["X-App-Start-Ns"] = str(start)
    resp.headers["X-App-End-Ns"] = str(time.monotonic_ns())
    return resp


@app.route("/big")
def big():
    return Response(BIG, mimetype="application/octet-stream")


@app.route("/stream")
def stream():
    def gen():
        for i in range(5):
            yield "chunk-%d\n" % i
    return Response(gen(), mimetype="text/plain")


@app.route("/file")
def file():
    return send_file(STATIC, mimetype="application/octet-stream")


@app.route("/nocontent")
def nocontent():
    return "", 204


if TIMES:
    @app.before_request
    def _start():
        request._wt_t0 = time.perf_counter_ns()

    @app.teardown_request
    def _stop(exc):
        t0 = getattr(request, "_wt_t0", None)
        if t0 is not None:
            with open(TIMES, "a") as f:
                f.write("%s %d\n" % (request.path, time.perf_counter_ns() - t0))
