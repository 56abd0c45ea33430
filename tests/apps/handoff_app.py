"""A WSGI app whose answers wait for the test, so that a client can reset at an exact point.

/stream/<tag>: sends its head (Content-Length: 1000) and the first 5 bytes of its
body, then waits for the file <tag>.go in $WT_SIGNAL_DIR and ends there: the server
wrote all it was given (gunicorn logs it) and the response was cut short.
/wait/<tag>: creates <tag>.read once it has the request, then waits for <tag>.go
before it answers anything.
Each wait gives up after 30 s, so that a failed test does not hang a worker.
"""
import os
import time

DIR = os.environ.get("WT_SIGNAL_DIR", "/tmp")


def wait_go(tag):
    go = os.path.join(DIR, tag + ".go")
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.002)


def app(environ, start_response):
    parts = environ.get("PATH_INFO", "/").strip("/").split("/")
    kind, tag = parts[0], parts[-1]
    if kind == "stream":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "1000")])
        yield b"first"
        wait_go(tag)
    elif kind == "wait":
        open(os.path.join(DIR, tag + ".read"), "w").close()
        wait_go(tag)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        yield b"ok"
    else:
        start_response("404 Not Found", [("Content-Length", "0")])
