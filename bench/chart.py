"""bench/throughput.png: each approach's throughput ratio, drawn by gnuplot."""
import os
import shutil
import subprocess

from .config import BUDGET, CHART, CHART_COLORS, SERVERS, WRK
from .errors import log
from .stats import g

SCRIPT = """
set terminal pngcairo size 1100,520 font "sans,10"
set output "%(out)s"
set title "Throughput vs no instrumentation, fresh servers (median of %(rounds)s interleaved rounds, wrk -c%(conns)d, Flask app)\\ndashed: wsgitrace's budget, %(budget).2f"
set ylabel "requests/s ratio"
set yrange [%(lo).2f:%(hi).2f]
set bmargin 7
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -30 left
set key off
set arrow from graph 0, first %(budget).2f to graph 1, first %(budget).2f nohead dt 2 lc rgb "#2b8a3e"
plot "%(dat)s" using 1:3:4:xtic(2) with boxes lc rgb variable, \\
     "" using 1:3:(sprintf("%%.3f", $3)) with labels offset 0,0.7
"""


def chart_rows(tp):
    rows = []
    for kind, _, appr in SERVERS:
        for a in appr:
            s = tp.get("%s/%s" % (kind, a)) or {}
            if s.get("ratio") is not None:
                rows.append(("%s\\n%s" % (kind, a.replace("_", "-")), s["ratio"], a))
    return rows


def render_chart(R):
    tp = g(R, "throughput", "summary")
    if not tp or not shutil.which("gnuplot"):
        return None
    rows = chart_rows(tp)
    if not rows:
        return None
    dat = CHART[:-4] + ".dat"
    with open(dat, "w") as f:
        for i, (lab, v, a) in enumerate(rows):
            f.write('%d "%s" %.4f 0x%s\n' % (i, lab, v, CHART_COLORS[a][1:]))
    values = [v for _, v, _ in rows]
    script = SCRIPT % {"out": CHART, "rounds": g(R, "throughput", "rounds"), "conns": WRK["conns"],
                       "budget": BUDGET["sync_ratio"], "dat": dat,
                       "lo": max(0.0, min(0.7, min(values) - 0.05)), "hi": max(1.08, max(values) + 0.08)}
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    os.unlink(dat)
    if r.returncode != 0:
        log("gnuplot failed: %s" % r.stderr)
        return None
    return CHART
