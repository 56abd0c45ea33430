"""Notes under the report: what in this run makes a figure less reliable."""
from .config import NOTES, WRK
from .stats import g


def foreign_daemons(tp):
    fw = sum(s.get("rounds_with_foreign_wsgitrace") or 0 for s in tp.values())
    if fw:
        return ("%d throughput runs had a wsgitrace daemon the benchmark did not start running on the "
                "machine (it waits up to %.0f s for such a daemon to exit first); in discovery mode it "
                "traces every gunicorn/uWSGI server, including the uninstrumented baselines here, so "
                "ratios in those rounds are skewed." % (fw, NOTES["quiet_wait_s"]))


def other_load(tp):
    hi = [k for k, s in tp.items() if (s.get("foreign_cpu_pct") or 0) > NOTES["foreign_cpu_pct"]]
    if hi:
        return ("Other work on the machine took more than %g%% of the CPUs during %s (column 'other "
                "load'); those ratios are less reliable than the per-round spread suggests."
                % (NOTES["foreign_cpu_pct"], ", ".join(hi)))


def bpf_stats_on(tp):
    bs = sum(s.get("rounds_with_bpf_stats") or 0 for s in tp.values())
    if bs:
        return ("kernel.bpf_stats_enabled was 1 (set outside the benchmark, which never changes it) "
                "during %d throughput runs: every BPF program run then also takes two clock reads, "
                "which makes the wsgitrace configurations a little slower than they would be. Where "
                "it was on, the per-program costs below come from it." % bs)


def low_paired_runs(R):
    low = []
    for kind, rs in (g(R, "throughput", "paired", "per_round") or {}).items():
        for r in rs:
            if not isinstance(r, dict) or not r.get("none"):
                continue
            for c, v in r.items():
                if c in ("none", "detail"):
                    continue
                for i, (x, b) in enumerate(zip(v, r["none"])):
                    if x < NOTES["low_run_ratio"] * b:
                        d = ((r.get("detail") or {}).get(c) or [{}] * len(v))[i]
                        low.append("%s %s %.0f vs %.0f req/s%s" % (kind, c, x, b, (
                            " (workers' CPU min/max %s, wsgitrace CPU %s ms)" % (d.get("balance"), d.get("wt_cpu_ms"))
                            if d else "")))
    if low:
        return ("Same-server runs below %g of their untraced neighbour: %s. The medians are robust to "
                "them. Where recorded, the brackets tell whether one worker held all of wrk's keep-alive "
                "connections (a CPU min/max near 0, the usual cause of such drops in the fresh-server "
                "rounds) or wsgitrace itself was busy." % (NOTES["low_run_ratio"], "; ".join(low)))


def unbalanced(tp):
    unbal = [k for k, s in tp.items() if any(b < NOTES["unbalanced"] for b in s.get("worker_balance") or [])]
    if unbal:
        return ("In some rounds of %s one worker did less than half the work of the other (worker CPU "
                "min/max < %g): with keep-alive, wrk's %d connections are accepted by whichever worker "
                "is waiting and stay there, so a round can run on one worker at about half the "
                "throughput. The benchmark waits for every worker to finish booting before it measures, "
                "which makes this rare but does not rule it out. Where it happened the table also gives "
                "the median ratio over the rounds where both runs were balanced."
                % (", ".join(unbal), NOTES["unbalanced"], WRK["conns"]))


def untraced_workers(R, tp):
    short = [k for k, s in tp.items() if s.get("wt_procs_traced") and any(
        (a or 0) < (b or 0) for a, b in zip(s["wt_procs_traced"], s.get("server_procs") or []))]
    co = R.get("conns") or {}
    if co.get("wt_procs_traced") is not None and co["wt_procs_traced"] < co.get("server_procs", 0):
        short.append("conns")
    if short:
        return ("wsgitrace_processes_traced was below the number of server processes in %s: a worker "
                "was not traced (see the wsgitrace counts)." % ", ".join(short))


def uwsgi_closes(R):
    if [x for x in (g(R, "throughput", "per_round", "uwsgi/none") or []) if x.get("read_errors")]:
        return ("uWSGI --http-socket closes the connection after each response without "
                "`Connection: close`; wrk reports each as a socket read error. They are not failures and "
                "are left out of the errors column.")


def nofile(R):
    co = R.get("conns") or {}
    if co.get("nofile_limit") and co["nofile_limit"] < 2 * (co.get("target") or 0):
        return ("RLIMIT_NOFILE is %d here and root lacks CAP_SYS_RESOURCE to raise it, so the "
                "connection test spreads connections over several server workers and client "
                "processes." % co["nofile_limit"])


def scrape_buffer(R):
    se = R.get("series") or {}
    if se.get("wt_rss_kib_before_scrape") and se.get("wt_hwm_kib") and \
            se["wt_hwm_kib"] - se["wt_rss_kib_before_scrape"] > NOTES["scrape_buffer_kib"]:
        return ("At %d series wsgitrace's RSS is %.1f MiB before the first scrape and %.1f MiB peak after "
                "scraping a %.0f MB exposition: the peak is the scrape buffer (the whole text is built in "
                "memory, then handed to the HTTP server). Streaming the exposition in chunks (a "
                "callback response) and returning the buffer to the OS after the scrape "
                "(malloc_trim) would bound it near the pre-scrape figure." % (
                    se["target_series"], se["wt_rss_kib_before_scrape"] / 1024, se["wt_hwm_kib"] / 1024,
                    se["metrics_bytes"] / 1e6))


def collect_notes(R):
    tp = g(R, "throughput", "summary") or {}
    notes = [foreign_daemons(tp), other_load(tp), bpf_stats_on(tp), low_paired_runs(R), unbalanced(tp),
             untraced_workers(R, tp), uwsgi_closes(R), nofile(R), scrape_buffer(R)]
    return [n for n in notes if n]
