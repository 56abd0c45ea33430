"""wsgitrace's own endpoint and series table under abuse from the network.

Attackers connect from other loopback addresses (127.0.0.2, ...) than the
scraper (127.0.0.1), as pods on a node do.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness as h

# A scrape takes milliseconds; this bound only has to tell "answered" from
# "waited for a timeout" (10 s before admission control) on a busy machine.
SCRAPE_BOUND_S = 3.0


def attacker_conn(port, src):
    """A connection from src that sends one byte of a request and stops."""
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(b"G")
    return s


class Attack(threading.Thread):
    """Holds up to `hold` idle connections from src; churn closes and reopens them without pause."""

    def __init__(self, port, src, hold, churn=False):
        super().__init__(daemon=True)
        self.port, self.src, self.hold, self.churn = port, src, hold, churn
        self.stop = threading.Event()
        self.opened = 0

    def run(self):
        conns = []
        while not self.stop.is_set():
            try:
                conns.append(attacker_conn(self.port, self.src))
                self.opened += 1
            except OSError:
                pass
            if len(conns) >= self.hold:
                if self.churn:
                    conns.pop(0).close()
                else:
                    # Reopen what the server closed, then wait for it to close more.
                    alive = []
                    for c in conns:
                        c.setblocking(False)
                        try:
                            closed = c.recv(1) == b""
                        except BlockingIOError:
                            closed = False
                        except OSError:
                            closed = True
                        (c.close() if closed else alive.append(c))
                    conns = alive
                    if len(conns) >= self.hold:
                        self.stop.wait(0.05)
        for c in conns:
            c.close()


class TestMetricsStarvation(unittest.TestCase):
    def setUp(self):
        self.server = h.gunicorn("abuse-gunicorn", "-w", "1", workers=1)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)

    def scrape_under_attack(self, attacks, scrapes=40):
        for a in attacks:
            a.start()
        try:
            h.wait_for(lambda: all(a.opened >= a.hold for a in attacks), timeout=30,
                       what="attackers to open their connections")
            times, failures = [], []
            for _ in range(scrapes):
                t0 = time.monotonic()
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.tracer.mport,
                                                timeout=20) as r:
                        body = r.read().decode()
                    if r.status != 200 or "wsgitrace_scrapes_total" not in body:
                        failures.append(r.status)
                except OSError as e:
                    failures.append(repr(e))
                times.append(time.monotonic() - t0)
                time.sleep(0.25)  # the scrape interval under test, not a wait for a condition
        finally:
            for a in attacks:
                a.stop.set()
            for a in attacks:
                a.join(30)
        self.assertEqual(failures, [])
        self.assertLess(max(times), SCRAPE_BOUND_S, "slowest scrape %.2f s (all: %s)"
                        % (max(times), ["%.3f" % t for t in times]))
        return times

    def test_idle_connections(self):
        # 8 addresses x 40 idle connections: 320 against a table of 64.
        attacks = [Attack(self.tracer.mport, "127.0.0.%d" % i, 40) for i in range(2, 10)]
        times = self.scrape_under_attack(attacks)
        evicted = self.tracer.self_metric("wsgitrace_metrics_connections_evicted_total")
        self.assertGreater(evicted, 0)
        print("idle attack: %d connections opened, %d evicted, slowest scrape %.3f s"
              % (sum(a.opened for a in attacks), evicted, max(times)))

    def test_reconnect_churn(self):
        attacks = [Attack(self.tracer.mport, "127.0.0.%d" % i, 64, churn=True) for i in (2, 3)]
        attacks.append(Attack(self.tracer.mport, "127.0.0.4", 40))
        times = self.scrape_under_attack(attacks)
        print("churn attack: %d connections opened, slowest scrape %.3f s"
              % (sum(a.opened for a in attacks), max(times)))
        # What the peers caused in the log stays within the rate limit.
        lines = [l for l in self.tracer.output().splitlines() if l.startswith("wsgitrace: http:")]
        self.assertLessEqual(len(lines), 10, "\n".join(lines))

    def test_slow_request_is_closed(self):
        """A client trickling one byte every 100 ms is closed within the request timeout."""
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", self.tracer.mport))
        s.settimeout(0.1)

        def closed():
            try:
                s.send(b"G")
                return s.recv(1) == b""
            except socket.timeout:
                return False
            except OSError:
                return True

        h.wait_for(closed, timeout=20, interval=0, what="the server to close a trickling client")
        s.close()
        self.assertGreaterEqual(self.tracer.self_metric("wsgitrace_metrics_connections_timed_out_total"), 1)


def gunicorn_app(name, module, *args, workers=1):
    """gunicorn serving tests/apps/<module>.py (harness.gunicorn serves flask_app only)."""
    port = h.free_port()
    argv = [h.PY, h.GUNICORN, "-b", "127.0.0.1:%d" % port, "--log-level", "warning"] + list(args) + \
        ["%s:app" % module]
    return h.Server(argv, name, port=port, workers=workers)


def bomb(port, paths, clients=8):
    """GETs every path once over `clients` keep-alive connections; returns the statuses seen."""
    statuses, errors = {}, []
    lock = threading.Lock()

    def client(part):
        ka = h.KeepAlive(port)
        try:
            for p in part:
                st, _ = ka.get(p)
                with lock:
                    statuses[st] = statuses.get(st, 0) + 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            ka.close()

    threads = [threading.Thread(target=client, args=(paths[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError("bomb client failed: %s" % errors[:3])
    return statuses


class TestSeriesPerService(unittest.TestCase):
    """One service bombed with 20,000 paths does not take the series of another."""

    PATHS = 20000
    PER_SERVICE = 2000  # the default of --max-series-per-service

    def setUp(self):
        # gthread: keep-alive, so the bomb is quick.
        self.bombed = h.gunicorn("abuse-bombed", "-k", "gthread", "--threads", "4", "-w", "2", workers=2)
        self.addCleanup(self.bombed.cleanup)
        self.shop = gunicorn_app("abuse-shop", "shop_app", "-w", "1")
        self.addCleanup(self.shop.cleanup)
        self.tracer = h.Tracer("--pid", str(self.bombed.pid), "--pid", str(self.shop.pid))
        self.addCleanup(self.tracer.cleanup)

    def test_bombed_service_keeps_to_its_cap(self):
        # Before the bomb: the shop already has a route.
        for _ in range(3):
            self.assertEqual(h.request(self.shop.port, "/checkout")[0], 200)
        self.tracer.wait_counts({("GET", "/checkout", "200"): 3}, service="shop_app")

        t0 = time.monotonic()
        statuses = bomb(self.bombed.port, ["/scan/p-%d" % i for i in range(self.PATHS)])
        took = time.monotonic() - t0
        self.assertEqual(statuses, {404: self.PATHS})
        want_overflow = self.PATHS - self.PER_SERVICE

        def bombed_done():
            c = self.tracer.counts("flask_app")
            return sum(c.values()) == self.PATHS and c
        c = h.wait_for(bombed_done, timeout=60, what="all %d bomb requests counted" % self.PATHS)
        self.assertEqual(len([k for k in c if k[1] != "_overflow"]), self.PER_SERVICE)
        self.assertEqual(c[("GET", "_overflow", "404")], want_overflow)

        # After the bomb: the shop's new route, a new status of its old
        # route and a new method all get their own series, exactly counted.
        for _ in range(5):
            self.assertEqual(h.request(self.shop.port, "/checkout/fail")[0], 503)
        for _ in range(2):
            self.assertEqual(h.request(self.shop.port, "/checkout", method="HEAD")[0], 200)
        self.assertEqual(h.request(self.shop.port, "/checkout")[0], 200)
        self.tracer.wait_counts({("GET", "/checkout", "200"): 4, ("GET", "/checkout/fail", "503"): 5,
                                 ("HEAD", "/checkout", "200"): 2}, service="shop_app")
        self.assertEqual(self.tracer.self_metric("wsgitrace_series_dropped_total"), want_overflow)
        print("bomb: %d paths in %.1f s; flask_app: %d series + _overflow %d; shop_app exact"
              % (self.PATHS, took, self.PER_SERVICE, want_overflow))


class TestSeriesRetired(unittest.TestCase):
    def test_idle_series_are_retired(self):
        server = h.gunicorn("abuse-ttl", "-w", "1", workers=1)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid), "--series-ttl", "2s")
        self.addCleanup(tracer.cleanup)
        for i in range(20):
            self.assertEqual(h.request(server.port, "/gone/p-%d" % i)[0], 404)
        # Not updated for 2 s: all 20 retired; a route in use (every 0.2 s) stays.
        def retired():
            h.request(server.port, "/test/")
            return tracer.self_metric("wsgitrace_series_retired_total") >= 20 and tracer.counts()
        c = h.wait_for(retired, timeout=30, interval=0.2, what="20 series retired")
        self.assertEqual(list(c), [("GET", "/test/", "200")])
        self.assertEqual(tracer.self_metric("wsgitrace_series_retired_total"), 20)


class TestSeriesSmallPool(unittest.TestCase):
    """--max-series lowered alone: the per-service limit follows it (a fifth), so a bombed
    service cannot take the pool and the other keeps getting series for its new routes."""

    MAX = 200
    PATHS = 1000

    def test_lowered_total_keeps_fairness(self):
        bombed = h.gunicorn("abuse-pool-bombed", "-k", "gthread", "--threads", "4", "-w", "1", workers=1)
        self.addCleanup(bombed.cleanup)
        shop = gunicorn_app("abuse-pool-shop", "shop_app", "-w", "1")
        self.addCleanup(shop.cleanup)
        tracer = h.Tracer("--pid", str(bombed.pid), "--pid", str(shop.pid), "--max-series", str(self.MAX))
        self.addCleanup(tracer.cleanup)
        per_service = self.MAX // 5

        self.assertEqual(bomb(bombed.port, ["/scan/p-%d" % i for i in range(self.PATHS)]), {404: self.PATHS})

        def bombed_done():
            c = tracer.counts("flask_app")
            return sum(c.values()) == self.PATHS and c
        c = h.wait_for(bombed_done, timeout=60, what="all %d bomb requests counted" % self.PATHS)
        self.assertEqual(len([k for k in c if k[1] != "_overflow"]), per_service)
        self.assertEqual(c[("GET", "_overflow", "404")], self.PATHS - per_service)

        for _ in range(3):
            self.assertEqual(h.request(shop.port, "/checkout")[0], 200)
        for _ in range(5):
            self.assertEqual(h.request(shop.port, "/checkout/fail")[0], 503)
        for i in range(20):
            self.assertEqual(h.request(shop.port, "/other/p-%d" % i)[0], 404)
        want = {("GET", "/checkout", "200"): 3, ("GET", "/checkout/fail", "503"): 5}
        want.update({("GET", "/other/p-%d" % i, "404"): 1 for i in range(20)})
        tracer.wait_counts(want, service="shop_app")
        self.assertEqual(tracer.self_metric("wsgitrace_series_dropped_total"), self.PATHS - per_service)
        self.assertEqual(tracer.self_metric("wsgitrace_series_retired_total"), 0)


def prometheus(test, mport):
    """A real Prometheus scraping wsgitrace on mport every second; returns its port."""
    tmp = tempfile.mkdtemp(prefix="wt-prom-")
    test.addCleanup(shutil.rmtree, tmp, True)
    port = h.free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n"
                "scrape_configs:\n  - job_name: wsgitrace\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % mport)
    prom = h.Proc(["/usr/bin/prometheus", "--config.file", cfg, "--storage.tsdb.path", os.path.join(tmp, "data"),
                   "--web.listen-address", "127.0.0.1:%d" % port], "prometheus", cwd=tmp)
    test.addCleanup(prom.cleanup)
    h.wait_for(lambda: h.port_open(port) or not prom.alive(), timeout=60, what="prometheus")
    test.assertTrue(prom.alive(), prom.output())
    return port


class TestRoomAfterScan(unittest.TestCase):
    """With the default flags, a scan that fills a service's limit does not keep its new
    real routes in _overflow until a restart; a real Prometheus says what that costs."""

    PER_SERVICE = 2000  # the default: a fifth of --max-series 10000
    SCAN = 2100

    def test_new_routes_after_scan(self):
        server = h.gunicorn("abuse-room", "-k", "gthread", "--threads", "4", "-w", "1", workers=1)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer("--pid", str(server.pid))
        self.addCleanup(tracer.cleanup)
        pport = prometheus(self, tracer.mport)
        sel = 'http_server_request_duration_seconds_count{job="wsgitrace",service_name="flask_app"}'

        def prom(q):
            return h.query_value(pport, q)

        for _ in range(3):
            self.assertEqual(h.request(server.port, "/test/")[0], 200)
        self.assertEqual(bomb(server.port, ["/scan/p-%d" % i for i in range(self.SCAN)]), {404: self.SCAN})
        total = 3 + self.SCAN

        def counted():
            c = tracer.counts()
            return sum(c.values()) == total and c
        c = h.wait_for(counted, timeout=60, what="the scan counted")
        scan_series = self.PER_SERVICE - 1
        self.assertEqual(c[("GET", "_overflow", "404")], self.SCAN - scan_series)
        # Which paths got a series depends on the order the 8 clients' requests came in.
        scanned = {k for k in c if k[1].startswith("/scan/")}
        self.assertEqual(len(scanned), scan_series)
        # Prometheus has read the scan's series before any can make room.
        h.wait_for(lambda: prom("sum(%s)" % sel) == total, timeout=60, interval=0.25,
                   what="prometheus to read the scan")

        # New real routes: the first request of each lands in _overflow, the
        # next ones in a series of its own, which took a scan path's place.
        new = [("GET", "/test1/", "500", None), ("GET", "/sleep/1", "200", None), ("POST", "/echo", "200", b"x")]
        for method, path, status, body in new:
            for _ in range(3):
                self.assertEqual(h.request(server.port, path, method=method, body=body)[0], int(status))
        total += 9
        c = h.wait_for(lambda: sum(tracer.counts().values()) + 3 == total and tracer.counts(), timeout=20,
                       what="the new routes counted")
        for method, path, status, _ in new:
            self.assertEqual(c[(method, path.replace("/1", "/{id}"), status)], 2)
        self.assertEqual(c[("GET", "_overflow", "500")], 1)
        self.assertEqual(c[("GET", "_overflow", "200")], 1)
        self.assertEqual(c[("POST", "_overflow", "200")], 1)
        self.assertEqual(c[("GET", "/test/", "200")], 3)
        self.assertEqual(tracer.self_metric("wsgitrace_series_retired_total"), 3)
        # Three series observed once made the room: scan paths, not /test/.
        replaced = scanned - set(c)
        self.assertEqual(len(replaced), 3)

        # In Prometheus: every request is in some series (the replaced ones
        # held 1 each), none reset, and the series stored are the ones served.
        everything = "sum(max_over_time(%s[1h]))" % sel
        h.wait_for(lambda: prom(everything) == total, timeout=60, interval=0.25,
                   what="prometheus to hold all %d requests" % total)
        resets = prom("sum(resets(%s[1h]))" % sel)
        stored = prom("count(max_over_time(%s[1h]))" % sel)
        self.assertEqual(resets, 0)
        self.assertEqual(stored, len(c) + 3)

        # A replaced scan path asked twice more: one in _overflow, one in a
        # series that starts again from one, which Prometheus cannot tell
        # from the 1 it last read: it misses that request, without a reset.
        back = sorted(replaced)[0]
        for _ in range(2):
            self.assertEqual(h.request(server.port, back[1])[0], 404)
        total += 2
        c = h.wait_for(lambda: tracer.counts().get(back) == 1 and tracer.counts(),
                       timeout=20, what="%s back in a series of its own" % back[1])
        self.assertEqual(c[("GET", "_overflow", "404")], self.SCAN - scan_series + 1)
        h.wait_for(lambda: prom("sum(%s)" % sel) == sum(c.values()), timeout=60, interval=0.25,
                   what="prometheus to read it")
        seen = prom(everything)
        resets = prom("sum(resets(%s[1h]))" % sel)
        print("after a %d-path scan: 3 new routes got series (3 scan series replaced); Prometheus: "
              "%d series stored, counter resets %d, max_over_time sum %d of %d requests"
              % (self.SCAN, prom("count(max_over_time(%s[1h]))" % sel), resets, seen, total))
        self.assertEqual(resets, 0)
        self.assertEqual(seen, total - 1)


class TestFlagWarnings(unittest.TestCase):
    """Valid flags that are probably not meant get a warning; the daemon still runs."""

    def warnings(self, *args):
        tracer = h.Tracer(*args)
        self.addCleanup(tracer.cleanup)
        return [l for l in tracer.output().splitlines() if l.startswith("wsgitrace: warning:")]

    def test_pid_that_is_no_server(self):
        sleeper = h.Proc(["/bin/sleep", "600"], "not-a-server")
        self.addCleanup(sleeper.cleanup)
        w = self.warnings("--pid", str(sleeper.pid))
        self.assertEqual(len(w), 1, w)
        self.assertIn("--pid %d (/bin/sleep 600) is not a server wsgitrace knows" % sleeper.pid, w[0])
        self.assertIn("master process", w[0])

    def test_server_pid_buckets_and_ringbuf(self):
        server = h.gunicorn("warn-gunicorn", "-w", "1", workers=1)
        self.addCleanup(server.cleanup)
        self.assertEqual(self.warnings("--pid", str(server.pid)), [])
        w = self.warnings("--pid", str(server.pid), "--buckets", "0.1,inf", "--ringbuf-mb", "128")
        self.assertEqual(len(w), 2, w)
        self.assertIn('--buckets: the last value "inf" is left out: +Inf is always the last bucket', w[0])
        self.assertIn("--ringbuf-mb 128 takes 128 MiB of kernel memory and shows as about 256 MiB", w[1])


PROMETHEUS = "/usr/bin/prometheus"


class TestTlsAndAuth(unittest.TestCase):
    """--web.config.file: HTTPS and bcrypt basic auth, checked with curl and a real Prometheus."""

    USER, PASSWORD = "prom", "s3cret-pw"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wt-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.crt = os.path.join(self.tmp, "server.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", os.path.join(self.tmp, "server.key"), "-out", self.crt,
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        # bcrypt at cost 10, as htpasswd -nBC 10 makes it, from Debian's Python.
        bcrypt = subprocess.run([h.PY, "-W", "ignore", "-c",
                                 "import crypt, sys; print(crypt.crypt(sys.argv[1], "
                                 "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))", self.PASSWORD],
                                check=True, capture_output=True, text=True).stdout.strip()
        self.assertTrue(bcrypt.startswith("$2b$10$"), bcrypt)
        cfg = os.path.join(self.tmp, "web.yml")
        with open(cfg, "w") as f:
            # Relative file names: taken from the configuration's folder.
            f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                    "basic_auth_users:\n  %s: %s\n" % (self.USER, bcrypt))
        self.server = h.gunicorn("tls-gunicorn", "-w", "1", workers=1)
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid), "--web.config.file", cfg)
        self.addCleanup(self.tracer.cleanup)
        self.url = "https://127.0.0.1:%d/metrics" % self.tracer.mport

    def curl(self, *args):
        """(HTTP status, body) of one curl request; status 0 when no HTTP answer came."""
        r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "20"] + list(args),
                           capture_output=True, text=True)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def test_curl_credentials(self):
        self.assertIn("metrics on https://127.0.0.1:%d/metrics (basic authentication)" % self.tracer.mport,
                      self.tracer.output())
        good = ["--cacert", self.crt, "-u", "%s:%s" % (self.USER, self.PASSWORD), self.url]
        code, body = self.curl(*good)
        self.assertEqual(code, 200)
        self.assertIn("wsgitrace_scrapes_total 1\n", body)
        # Wrong ones from addresses of their own: each gets its bcrypt check (one per address a second).
        code, body = self.curl("--interface", "127.0.0.2", "--cacert", self.crt, "-u", "%s:wrong" % self.USER,
                               self.url)
        self.assertEqual(code, 401)
        self.assertNotIn("wsgitrace_", body)
        self.assertEqual(self.curl("--interface", "127.0.0.3", "--cacert", self.crt,
                                   "-u", "nobody:%s" % self.PASSWORD, self.url)[0], 401)
        self.assertEqual(self.curl("--cacert", self.crt, self.url)[0], 401)
        # Plain HTTP on the TLS port gets no metrics.
        self.assertNotEqual(self.curl("http://127.0.0.1:%d/metrics" % self.tracer.mport)[0], 200)
        # The certificate is the one configured: curl verifies it against it.
        self.assertEqual(self.curl(*good)[0], 200)
        # Probes carry no credentials: /healthz answers them, with nothing but its state.
        code, body = self.curl("--cacert", self.crt, self.url.replace("/metrics", "/healthz"))
        self.assertEqual((code, body), (200, "ok\n"))

    def test_password_guessing_does_not_starve_scrapes(self):
        import base64
        import ssl
        ctx = ssl.create_default_context(cafile=self.crt)
        good = "Basic " + base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()
        stop = threading.Event()
        answers = {}
        lock = threading.Lock()

        def guesser(src):
            i = 0
            while not stop.is_set():
                i += 1
                auth = base64.b64encode(("%s:guess-%s-%d" % (self.USER, src, i)).encode()).decode()
                try:
                    with socket.create_connection(("127.0.0.1", self.tracer.mport), timeout=10,
                                                  source_address=(src, 0)) as raw:
                        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                            s.sendall(("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                                       % auth).encode())
                            status = int(s.recv(64).split()[1])
                except (OSError, ValueError, IndexError):
                    status = "error"
                with lock:
                    answers[status] = answers.get(status, 0) + 1

        threads = [threading.Thread(target=guesser, args=("127.0.0.%d" % i,), daemon=True) for i in range(2, 6)]
        for t in threads:
            t.start()
        times, statuses = [], []
        try:
            h.wait_for(lambda: sum(answers.values()) >= 20, timeout=30, what="guesses answered")
            for _ in range(20):
                t0 = time.monotonic()
                req = urllib.request.Request(self.url, headers={"Authorization": good})
                try:
                    with urllib.request.urlopen(req, timeout=20, context=ctx) as r:
                        statuses.append(r.status)
                except urllib.error.HTTPError as e:
                    statuses.append(e.code)
                times.append(time.monotonic() - t0)
                time.sleep(0.25)  # the scrape interval under test
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        # The loop never stalls on bcrypt, and four guessing addresses take at
        # most four of the second's five checks: the scraper's new password
        # is checked at once, and recognised without bcrypt from then on.
        self.assertLess(max(times), SCRAPE_BOUND_S, ["%.3f" % t for t in times])
        self.assertEqual(statuses, [200] * len(statuses))
        # Guesses were refused, most of them without a bcrypt.
        self.assertNotIn(200, answers)
        self.assertGreater(answers.get(429, 0), answers.get(401, 0), answers)
        print("guessing: %r; %d scrapes all 200, slowest %.3f s" % (answers, len(statuses), max(times)))

    def test_prometheus_scrapes_over_https(self):
        N = 23
        port = h.free_port()
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: wsgitrace\n    scheme: https\n"
                    "    tls_config:\n      ca_file: %s\n"
                    "    basic_auth:\n      username: %s\n      password: %s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    % (self.crt, self.USER, self.PASSWORD, self.tracer.mport))
        prom = h.Proc([PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path", os.path.join(self.tmp, "data"),
                       "--web.listen-address", "127.0.0.1:%d" % port], "prometheus-tls", cwd=self.tmp)
        self.addCleanup(prom.cleanup)
        h.wait_for(lambda: h.port_open(port) or not prom.alive(), timeout=60, what="prometheus")
        self.assertTrue(prom.alive(), prom.output())
        for _ in range(N):
            self.assertEqual(h.request(self.server.port, "/test/")[0], 200)
        q = 'sum(http_server_request_duration_seconds_count{http_route="/test/",job="wsgitrace"})'

        def query():
            return h.query_value(port, q) == N

        h.wait_for(query, timeout=60, interval=0.25, what="prometheus to scrape %d requests over HTTPS" % N)


def proc_caps(pid):
    """The capability sets and NoNewPrivs of a process, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith("Cap"):
                out[k] = int(v, 16)
            elif k == "NoNewPrivs":
                out[k] = int(v)
    return out


CAP_BPF = 1 << 39


class TestLeastPrivilege(unittest.TestCase):
    def test_capabilities_dropped_after_attach(self):
        tracer = h.Tracer()  # discovers servers: new ones must still be traced without privilege
        self.addCleanup(tracer.cleanup)
        caps = proc_caps(tracer.pid)
        # Nothing, or CAP_BPF alone on kernels that check it for map access.
        self.assertIn(caps["CapPrm"], (0, CAP_BPF), caps)
        self.assertEqual(caps["CapEff"], caps["CapPrm"], caps)
        self.assertEqual(caps["CapBnd"], caps["CapPrm"], caps)
        self.assertEqual(caps["CapInh"], 0, caps)
        self.assertEqual(caps["CapAmb"], 0, caps)
        self.assertEqual(caps["NoNewPrivs"], 1, caps)
        print("capabilities after attach: CapEff=%016x CapBnd=%016x" % (caps["CapEff"], caps["CapBnd"]))
        # A server started now is found and traced, a scrape reads the kernel's counters.
        shop = gunicorn_app("priv-shop", "shop_app", "-w", "2", workers=2)
        self.addCleanup(shop.cleanup)
        for _ in range(7):
            self.assertEqual(h.request(shop.port, "/checkout")[0], 200)
        tracer.wait_counts({("GET", "/checkout", "200"): 7}, service="shop_app")
        self.assertEqual(tracer.self_metric("wsgitrace_events_lost_total"), 0)

    def test_missing_capability_is_named(self):
        r = subprocess.run(["setpriv", "--bounding-set=-all,+bpf", "--inh-caps=-all", h.WSGITRACE,
                            "--listen", "127.0.0.1:%d" % h.free_port()], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused to load", r.stderr)
        self.assertIn("; this process lacks CAP_PERFMON\n", r.stderr)


if __name__ == "__main__":
    unittest.main()
