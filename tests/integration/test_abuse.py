"""wsgitrace's own endpoint and series table under abuse from the network.

Attackers connect from other loopback addresses (127.0.0.2, ...) than the
scraper (127.0.0.1), as pods on a node do.
"""
import socket
import threading
import time
import unittest
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


if __name__ == "__main__":
    unittest.main()
