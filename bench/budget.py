"""The Budget table: each line's verdict and what was measured, from results.json."""
from .config import BUDGET, SC_TESTS
from .stats import g

OTHER_APPROACHES = ("prometheus_mp", "statsd_mw", "gunicorn_statsd")

LINES = {
    "sync": "gunicorn sync throughput with wsgitrace >= %.2f of none" % BUDGET["sync_ratio"],
    "better": "wsgitrace clearly better than every in-process approach (sync)",
    "lost": "zero events lost at saturation",
    "exact": "exact counts (wsgitrace = requests served)",
    "cpu": "wsgitrace CPU <= %g us per request" % BUDGET["daemon_cpu_us"],
    "rss": "RSS <= %g MiB at %s series" % (BUDGET["series_rss_mib"], format(BUDGET["series"], ",")),
    "syscall": "untraced non-socket syscalls: no measurable cost (< %g ns)" % BUDGET["syscall_ns"],
    "socket": "untraced socket calls: <= %g ns per call" % BUDGET["socket_call_ns"],
    "scrape": "scrape of %s series <= %g ms" % (format(BUDGET["series"], ","), BUDGET["scrape_ms"]),
}
NOT_MEASURED = "not measured"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def sync_ratio(R):
    """The headline sync figure: same-server pairs if measured, else fresh servers."""
    pp = g(R, "throughput", "paired", "summary", "sync", "wsgitrace")
    return pp["ratio"] if pp else g(R, "throughput", "summary", "sync/wsgitrace", "ratio")


def line_sync(R):
    tp = g(R, "throughput", "summary") or {}
    r = g(tp, "sync/wsgitrace", "ratio")
    pp = g(R, "throughput", "paired", "summary", "sync", "wsgitrace")
    want = BUDGET["sync_ratio"]
    if r is None and pp is None:
        return "n/a", NOT_MEASURED
    sw, sn = tp.get("sync/wsgitrace") or {}, tp.get("sync/none") or {}
    why = ""
    if sw.get("server_cpu_us_per_req") and sn.get("server_cpu_us_per_req"):
        why = ("; per request the workers used %+.0f us CPU vs none (probes run in their context), "
               "wsgitrace itself %.2f us" % (sw["server_cpu_us_per_req"] - sn["server_cpu_us_per_req"],
                                             sw.get("wt_cpu_us_per_req_schedstat") or 0))
    fresh = ""
    if r is not None:
        fresh = ("a fresh server for every run: %.3f, median of per-round ratios %s (ratio of medians %.3f)" % (
            r, " ".join("%.3f" % x for x in sw.get("ratio_rounds", [])), sw.get("ratio_of_medians") or r))
    head = sync_ratio(R)
    if pp:
        txt = ("%.3f (%+.3f vs %.2f): median of %d runs each against the untraced run next to it on the same "
               "server, wsgitrace attached and detached in turn%s; %s%s" % (
                   head, head - want, want, pp["n"],
                   " (95%% CI %.3f-%.3f)" % tuple(pp["ci95"]) if pp.get("ci95") else "", fresh, why))
    else:
        txt = "%.3f (%+.3f vs %.2f); %s%s" % (head, head - want, want, fresh, why)
    return verdict(head >= want), txt


def line_better(R):
    head = sync_ratio(R)
    others = {a: g(R, "throughput", "summary", "sync/" + a, "ratio") for a in OTHER_APPROACHES}
    others = {a: v for a, v in others.items() if v is not None}
    if head is None or not others:
        return None
    best = max(others.values())
    return verdict(head > best), (
        "%.3f (the figure above) vs best other %.3f (%s; fresh servers, as in-process approaches need "
        "a restart)" % (head, best, ", ".join("%s %.3f" % (a, v) for a, v in others.items())))


def line_lost(R):
    tp = g(R, "throughput", "summary") or {}
    lost = [s["wt_events_lost"] for k, s in tp.items() if k.endswith("/wsgitrace") and "wt_events_lost" in s]
    acc = R.get("accuracy") or {}
    if not lost and "wt_events_lost" not in acc:
        return "n/a", NOT_MEASURED
    tot = sum(lost) + (acc.get("wt_events_lost") or 0)
    return verdict(tot == 0), "%d lost over all wsgitrace runs" % tot


def line_exact(R):
    acc = R.get("accuracy") or {}
    if not acc.get("phase_b"):
        return "n/a", NOT_MEASURED
    b, a = acc["phase_b"], acc["phase_a"]
    return verdict(acc["exact"]), (
        "bounded client: %d answered, app %d, wsgitrace metric %d, trace %d; under wrk: app %d, "
        "wsgitrace %d, wrk %d (wrk leaves out requests in flight when it stops)"
        % (b["client_ok"], b["app"], b["wt_metric"], b["wt_trace"], a["app"], a["wt_metric"], a["wrk"]))


def line_cpu(R):
    tp = g(R, "throughput", "summary") or {}
    if g(tp, "sync/wsgitrace", "wt_cpu_us_per_req") is None:
        return "n/a", NOT_MEASURED

    def both(s):
        return max(s["wt_cpu_us_per_req"], s.get("wt_cpu_us_per_req_schedstat") or 0)
    want = BUDGET["daemon_cpu_us"]
    worst = max(both(s) for k, s in tp.items()
                if k.endswith("/wsgitrace") and s.get("wt_cpu_us_per_req") is not None)
    return verdict(worst <= want), (
        "sync %.2f us, worst server kind %.2f us (%+.2f vs %g; larger of /proc/PID/stat and schedstat)"
        % (both(tp["sync/wsgitrace"]), worst, worst - want, want))


def line_rss(R):
    rss = g(R, "series", "wt_hwm_kib")
    if rss is None:
        return "n/a", NOT_MEASURED
    n = g(R, "series", "series_in_metrics")
    want = BUDGET["series_rss_mib"]
    return verdict(rss <= want * 1024 and n >= BUDGET["series"]), (
        "%.1f MiB peak with %d series (%+.1f MiB vs %g)" % (rss / 1024, n, rss / 1024 - want, want))


def added(sc, socket_calls):
    """{test: ns added per call} of the syscall tests of one kind (socket rows are per pair)."""
    return {t: sc[t]["added_ns"] / (2 if sock else 1) for t, _, sock in SC_TESTS
            if sock == socket_calls and t in sc}


def line_syscall(R):
    sc = g(R, "syscalls", "summary", "wsgitrace")
    if not sc:
        return None
    a = added(sc, False)
    return verdict(max(a.values()) < BUDGET["syscall_ns"]), "worst added %.1f ns (%s)" % (
        max(a.values()), ", ".join("%s %+.1f" % kv for kv in a.items()))


def line_socket(R):
    sc = g(R, "syscalls", "summary", "wsgitrace")
    if not sc:
        return None
    a = added(sc, True)
    return verdict(max(a.values()) <= BUDGET["socket_call_ns"]), (
        "worst added %.1f ns per socket call (%s; per send+recv pair / 2)" % (
            max(a.values()), ", ".join("%s %+.1f" % kv for kv in a.items())))


def line_scrape(R):
    st = g(R, "series", "scrape_ms_median")
    if st is None:
        return "n/a", NOT_MEASURED
    want = BUDGET["scrape_ms"]
    return verdict(st <= want), "median %.1f ms, max %.1f ms (%+.1f ms vs %g)" % (
        st, g(R, "series", "scrape_ms_max"), st - want, want)


CHECKS = [("sync", line_sync), ("better", line_better), ("lost", line_lost), ("exact", line_exact),
          ("cpu", line_cpu), ("rss", line_rss), ("syscall", line_syscall), ("socket", line_socket),
          ("scrape", line_scrape)]


def budget(R):
    """-> list of (key, line, verdict, detail); verdict is PASS, FAIL or n/a."""
    out = []
    for key, check in CHECKS:
        r = check(R)
        if r is not None:
            out.append((key, LINES[key]) + r)
        elif key == "syscall":
            out.append((key, "untraced syscalls (< %g ns; socket <= %g ns)" % (
                BUDGET["syscall_ns"], BUDGET["socket_call_ns"]), "n/a", NOT_MEASURED))
    return out
