"""The seed's Flask app, no instrumentation (the baseline).

If WT_APP_TIMES_DIR is set, each worker appends its own per-request durations
to WT_APP_TIMES_DIR/app-times.<pid> (flask_app.py's WT_APP_TIMES, made per
process so the benchmark can pair them in order with wsgitrace's --trace lines).
The app must then be imported in each worker after the fork (no --preload).
"""
import os

if os.environ.get("WT_APP_TIMES_DIR"):
    os.environ["WT_APP_TIMES"] = os.path.join(
        os.environ["WT_APP_TIMES_DIR"], "app-times.%d" % os.getpid())

from _common import app  # noqa: E402

application = app
