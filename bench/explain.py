"""What a budget line that fails means for a user: where the cost goes and
what a heavier request pays."""
from .budget import sync_ratio
from .config import BUDGET, NOTES
from .stats import g, median


def box_us_per_req(R, key):
    """CPU of the whole machine (all cores, wrk included) per request, from the
    untraced same-server runs of `key`: what one request costs at saturation."""
    rs = [x for r in g(R, "throughput", "paired", "per_round", key) or [] if isinstance(r, dict)
          for x in r.get("none") or []]
    n = g(R, "machine", "nproc")
    return n * 1e6 / median(rs) if rs and n else None


def stages(R, full):
    """Where the throughput goes, from the bench stages on the same server."""
    ps = g(R, "throughput", "paired", "summary", "sync") or {}
    fl, nr = g(ps, "filter", "ratio"), g(ps, "no_records", "ratio")
    if fl is None or nr is None:
        return ""
    return ("Where it goes, from the same server with wsgitrace's bench stages attached in turn "
            "(medians of %d runs each): with every program attached but returning after the "
            "traced-process check, %.3f; with all the kernel-side work but no connection record "
            "sent to the daemon, %.3f; everything, %.3f. So the hooks themselves cost %.1f%%, the "
            "per-request work in the kernel (finding the connection, reading the syscall's "
            "registers and buffer, the TCP state and sequence reads, the connection table's insert "
            "and delete) %.1f%%, and the records with the daemon's parsing of them %.1f%%, each as "
            "uncertain as the intervals in the same-server table. " % (
                g(ps, "wsgitrace", "n") or 0, fl, nr, full, 100 * (1 - fl), 100 * (fl - nr), 100 * (nr - full))
            + queue_share(ps, full))


def queue_share(ps, full):
    """What queue time adds: the same tracer without its handshake notes."""
    nq = g(ps, "no_queue", "ratio")
    if nq is None:
        return ""
    return ("Queue time's share is the handshake note taken per connection as the kernel completes it "
            "(the busy-worker, backlog and in-flight gauges are computed when scraped, not per request): "
            "without it, %.3f (95%% CI %s) against %.3f with it, a difference of %.1f%% of throughput. " % (
                nq, "%.3f-%.3f" % tuple(g(ps, "no_queue", "ci95")) if g(ps, "no_queue", "ci95") else "-",
                full, 100 * (nq - full)))


def heavier(R, loss, req):
    """The same cost on a route that does 1 ms of work."""
    h = g(R, "throughput", "paired", "summary", "sync_1ms", "wsgitrace")
    hreq = box_us_per_req(R, "sync_1ms")
    if not (h and hreq):
        return ""
    return ("On a route that burns 1 ms of CPU per request, the same kind of server keeps %.3f "
            "(95%% CI %s): %.0f us of the machine's %.0f us per request there, against %.0f us of %.0f "
            "here, both within wide intervals. wsgitrace's cost is a roughly fixed amount per "
            "request, not a share of the app's work. " % (
                h["ratio"], "%.3f-%.3f" % tuple(h["ci95"]) if h.get("ci95") else "-",
                hreq * (1 - h["ratio"]), hreq, loss, req))


def programs(sw):
    bp = sw.get("bpf_progs")
    if not bp:
        return ""
    return ("kernel.bpf_stats put the programs' own run time at %.1f us per request in this run "
            "(%s). " % (sum(v["ns_per_req"] for v in bp.values()) / 1e3, ", ".join(
                "%s %.2f runs x %.0f ns" % (n, v["runs_per_req"], v["ns_per_run"])
                for n, v in sorted(bp.items()) if v["runs_per_req"] >= 0.01)))


def progcost_note(R):
    """The per-program section's bottom line for sync, if it was run."""
    k = g(R, "progcost", "kinds", "sync")
    if not k:
        return ""
    txt = (" [What each program costs per request](#what-each-program-costs-per-request) has it per "
           "program from the kernel's accounting: a gunicorn sync request on a new connection costs "
           "%.1f us in the programs and %.1f us in the daemon, %.1f us in all, next to %.0f us the "
           "untraced request costs the whole machine" % (
               k["kernel_us_per_req"]["median"], k["daemon_us_per_req"]["median"],
               k["total_us_per_req"]["median"], k["untraced_machine_us_per_req"]["median"]))
    if k.get("filter_us_per_req"):
        txt += ("; %.1f us of the programs' time is their running at all (the same programs returning "
                "at once)" % k["filter_us_per_req"]["median"])
    return txt + "."


def request_cost(R):
    """What wsgitrace costs one request, where it goes and what a heavier request pays."""
    sw = g(R, "throughput", "summary", "sync/wsgitrace") or {}
    full = g(R, "throughput", "paired", "summary", "sync", "wsgitrace", "ratio") or sw.get("ratio")
    if full is None:
        return ""
    req = box_us_per_req(R, "sync")
    txt = stages(R, full)
    if req:
        loss = req * (1 - full)
        txt += heavier(R, loss, req)
    txt += programs(sw)
    txt += "The daemon's own CPU is %.2f us per request. " % (sw.get("wt_cpu_us_per_req_schedstat") or 0)
    if req:
        txt += ("A gunicorn sync request of this app costs the machine about %.0f us of CPU (both "
                "workers and wrk, all cores at saturation), so wsgitrace's cost is about %.0f us per "
                "request, most of it in the server's own processes: the probes run in their context, and "
                "what their work costs the Python workers afterwards (caches, the TCP stack) adds to the "
                "programs' own run time. " % (req, loss))
    txt += ("The cost is spread over the hooks rather than in one place: about 15 program runs per "
            "request, 10 of them the TCP-state tracepoint, which fires for every socket on the machine "
            "and has no cheaper replacement among the tracepoints wsgitrace can use; a few ring records; "
            "and a connection-table insert and delete per connection. About half of those runs are the "
            "load generator's own sockets, because wrk shares the machine here (behind a real network "
            "they do not exist); they return at their first check, but even a run that returns at once "
            "costs the kernel its dispatch. Those "
            "records and the connection table are what keep the counts exact with keep-alive, slow "
            "readers and reused sockets.")
    txt += progcost_note(R)
    if req:
        txt += (" On this app, whose requests cost only ~%.0f us of CPU each, that fixed cost is what "
                "the budget line sees; the same ~%.0f us per request is about %.1f%% of a request that "
                "costs 1 ms%s." % (req, loss, loss / 10,
                                   " (the 1 ms route above measures it)" if heavier(R, loss, req) else ""))
    return txt


def explain_sync(R):
    full = sync_ratio(R) or 0
    return ("short by %.3f; [What a request pays](#what-a-request-pays) says where the cost goes."
            % (BUDGET["sync_ratio"] - full))


def explain_rss(R):
    se = R.get("series") or {}
    b, h = se.get("wt_rss_kib_before_scrape"), se.get("wt_hwm_kib")
    if b and h and h - b > NOTES["scrape_buffer_kib"]:
        return ("%.1f MiB before the first scrape, %.1f MiB peak after it: the peak is the %.0f MB "
                "exposition built in memory. Streaming it in chunks and returning the buffer "
                "(malloc_trim) would keep it near the pre-scrape figure." % (
                    b / 1024, h / 1024, se["metrics_bytes"] / 1e6))
    return "the series table itself is above budget; per-series memory needs to shrink."


def explain_scrape(R):
    se = R.get("series") or {}
    return ("%.1f us per series for a %.0f MB body: the exposition text is the cost; fewer lines per "
            "series (buckets) or a faster formatter would close it." % (
                1e3 * se.get("scrape_ms_median", 0) / max(1, se.get("series_in_metrics", 1)),
                se.get("metrics_bytes", 0) / 1e6))


EXPLAIN = {
    "sync": explain_sync,
    "better": lambda R: "wsgitrace's ratio is not above every in-process approach's in this run; "
                        "see the throughput table.",
    "lost": lambda R: "events were dropped at the ring buffer: a larger ring (`--ringbuf-mb`) or a "
                      "shorter drain period (`--poll-ms`) trades memory or wakeups for headroom.",
    "exact": lambda R: "the bounded client's requests and wsgitrace's count differ; the per-route "
                       "pairing in Accuracy shows which requests are missing.",
    "cpu": lambda R: "the daemon's own CPU per request is above budget; profile it with `perf record -p PID`.",
    "rss": explain_rss,
    "syscall": lambda R: "an attached hook fires for processes that are not traced; a syscall "
                         "tracepoint in the hook set puts every syscall of every process on the slow path.",
    "scrape": explain_scrape,
}
EXPLAIN["socket"] = EXPLAIN["syscall"]


def explain_fail(R, key):
    return EXPLAIN.get(key, lambda R: "-")(R)
