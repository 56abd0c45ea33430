"""The Flask app under test, no instrumentation (the baseline).

If WT_APP_TIMES_DIR is set, each worker appends its own per-request durations
to WT_APP_TIMES_DIR/app-times.<pid> (flask_app.py's WT_APP_TIMES, made per
process so the benchmark can pair them in order with wsgitrace's --trace lines).
The app must then be imported in each worker after the fork (no --preload).
"""
import os

if os.environ.get("WT_APP_TIMES_DIR"):
    os.environ["WT_APP_TIMES"] = os.path.join(
        os.environ["WT_APP_TIMES_DIR"], "app-times.%d" % os.getpid())

import time  # noqa: E402

from _common import app  # noqa: E402


@app.route("/cpu/<int:us>")
def cpu(us):
    """A heavier request: burns `us` microseconds of the worker's CPU. The
    benchmark runs wsgitrace against it too, because what wsgitrace costs is
    per request, not per unit of the app's work."""
    end = time.process_time() + us / 1e6
    while time.process_time() < end:
        pass
    return "rest"


application = app
