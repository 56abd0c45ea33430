"""wrk at saturation, and its output parsed."""
import re
import shutil
import subprocess

from .config import WRK as DEFAULTS
from .errors import BenchError

WRK = shutil.which("wrk") or "/usr/bin/wrk"
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(tok):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", tok)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def run_wrk(port, path, duration, conns=DEFAULTS["conns"], threads=DEFAULTS["threads"], scheme="http", headers=()):
    argv = [WRK, "-c%d" % conns, "-t%d" % threads, "-d%ds" % max(1, int(round(duration))),
            "--latency", "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    argv.append("%s://127.0.0.1:%d%s" % (scheme, port, path))
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=duration + 60, start_new_session=True)
    out = r.stdout
    if r.returncode != 0:
        raise BenchError("wrk failed (%d): %s %s" % (r.returncode, out, r.stderr))
    res = {"raw": out}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    for q in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % q, out, re.M)
        res["p%s_ms" % q] = _ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    # read errors are connections the server closed after a response (uWSGI
    # --http-socket does, without Connection: close); the others are failures
    res["socket_errors"] = (int(m.group(1)) + int(m.group(3)) + int(m.group(4))) if m else 0
    res["read_errors"] = int(m.group(2)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    if not res["rps"] or not res["requests"]:
        raise BenchError("cannot parse wrk output: %s" % out)
    return res
