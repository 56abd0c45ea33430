"""uWSGI in every way it is deployed, nginx in front included: each request once."""
import os
import tempfile
import unittest

import harness as h
from workload import check_sleep_latency, merge, slow_reader, workload


def nginx_in_front(directive):
    """nginx in front of `directive`'s upstream ("uwsgi_pass ADDR" or "proxy_pass http://ADDR")."""
    params = "include /etc/nginx/uwsgi_params;" if directive.startswith("uwsgi_pass") else \
        "proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off;"
    upstream = "upstream app { server %s; keepalive 4; }" % directive.split(None, 1)[1].replace("http://", "")
    return h.Nginx(["location / { %s %s; }" % (params, directive.replace("UP", "app"))], http=upstream)


class UwsgiBase:
    """Starts wsgitrace, then the deployment; runs the common workload through `port`."""
    expect100 = False

    def setUp(self):
        self.tracer = h.Tracer(trace=True)
        self.addCleanup(self.tracer.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="wt-uwsgi-")
        self.start()

    def run_workload(self, port=None, unix=None):
        windows = []
        exp = workload(port, unix=unix, expect100=self.expect100, sleep_windows=windows)
        self.tracer.wait_counts(exp)
        check_sleep_latency(self, self.tracer, windows)
        self.assertEqual(self.tracer.self_metric("wsgitrace_uwsgi_parse_errors_total"), 0)
        self.assertEqual(self.tracer.self_metric("wsgitrace_http_parse_errors_total"), 0)
        self.assertEqual(self.tracer.self_metric("wsgitrace_events_lost_total"), 0)
        return exp


class TestHttpSocket(UwsgiBase, unittest.TestCase):
    def start(self):
        self.port = h.free_port()
        self.server = h.uwsgi("uwsgi-http-socket", "--http-socket", "127.0.0.1:%d" % self.port,
                              "--processes", "2", port=self.port, workers=2)
        self.addCleanup(self.server.cleanup)

    def test_workload(self):
        self.run_workload(self.port)
        protos = {t["proto"] for t in self.tracer.traces(under=self.server.pid)}
        self.assertEqual(protos, {"http"})

    def test_slow_reader(self):
        slow_reader(self, self.tracer, self.port, under=self.server.pid)


class TestHttpSocketThreads(TestHttpSocket):
    def start(self):
        self.port = h.free_port()
        self.server = h.uwsgi("uwsgi-threads", "--http-socket", "127.0.0.1:%d" % self.port,
                              "--processes", "2", "--threads", "4", port=self.port, workers=2)
        self.addCleanup(self.server.cleanup)

    def test_concurrent_clients(self):
        self.assertEqual(h.hammer(self.port, clients=4, each=25), [])
        self.tracer.wait_counts({("GET", "/test/", "200"): 100})


class TestHttp11KeepAlive(UwsgiBase, unittest.TestCase):
    def start(self):
        self.port = h.free_port()
        self.server = h.uwsgi("uwsgi-http11", "--http11-socket", "127.0.0.1:%d" % self.port,
                              "--processes", "2", port=self.port, workers=2)
        self.addCleanup(self.server.cleanup)

    def test_keepalive_connections(self):
        exp = {}
        for _ in range(3):
            c = h.KeepAlive(self.port)
            for _ in range(4):
                self.assertEqual(c.get("/test/")[0], 200)
            self.assertEqual(c.get("/test1/")[0], 500)
            self.assertEqual(c.get("/echo", method="POST", body=b"x" * 5000)[0], 200)
            c.close()
        exp = {("GET", "/test/", "200"): 12, ("GET", "/test1/", "500"): 3, ("POST", "/echo", "200"): 3}
        self.tracer.wait_counts(exp)


class TestBehindNginxUwsgiTcp(UwsgiBase, unittest.TestCase):
    def start(self):
        up = h.free_port()
        self.server = h.uwsgi("uwsgi-socket", "--socket", "127.0.0.1:%d" % up, "--processes", "2",
                              port=up, workers=2)
        self.addCleanup(self.server.cleanup)
        self.nginx = nginx_in_front("uwsgi_pass 127.0.0.1:%d" % up)
        self.addCleanup(self.nginx.cleanup)

    def test_workload(self):
        self.run_workload(self.nginx.port)
        self.assertEqual({t["proto"] for t in self.tracer.traces(under=self.server.pid)}, {"uwsgi"})
        # nginx is not traced: every request was counted at a uWSGI worker.
        self.assertEqual({t["pid"] for t in self.tracer.traces()} & {self.nginx.pid}, set())


class TestBehindNginxUwsgiUnix(TestBehindNginxUwsgiTcp):
    def start(self):
        sock = os.path.join(self.tmp, "u.sock")
        self.server = h.Server([h.UWSGI, "--plugin", "python3", "--module", "flask_app:app", "--master",
                                "--disable-logging", "--die-on-term", "--socket", sock, "--chmod-socket=666",
                                "--processes", "2"], "uwsgi-unix", unix=sock, workers=2)
        self.addCleanup(self.server.cleanup)
        self.nginx = nginx_in_front("uwsgi_pass unix:%s" % sock)
        self.addCleanup(self.nginx.cleanup)


class TestHttpRouter(UwsgiBase, unittest.TestCase):
    """--http: a router process relays to the workers over uwsgi; counted once, at the router."""

    def start(self):
        self.port = h.free_port()
        self.server = h.Server([h.UWSGI, "--plugin", "python3,http", "--module", "flask_app:app", "--master",
                                "--disable-logging", "--die-on-term", "--http", "127.0.0.1:%d" % self.port,
                                "--processes", "2"], "uwsgi-router", port=self.port, workers=3)
        self.addCleanup(self.server.cleanup)

    def test_workload(self):
        self.run_workload(self.port)
        traces = self.tracer.traces(under=self.server.pid)
        self.assertEqual({t["proto"] for t in traces}, {"http"})
        # One process (the router) saw every request.
        self.assertEqual(len({t["pid"] for t in traces}), 1)
        self.assertGreater(self.tracer.self_metric("wsgitrace_relayed_connections_total"), 0)

    def test_concurrent_exactly_once(self):
        """Router and workers on both CPUs at once: still one count per request."""
        self.assertEqual(h.hammer(self.port, clients=4, each=50), [])
        self.tracer.wait_counts({("GET", "/test/", "200"): 200})
        self.assertEqual({t["proto"] for t in self.tracer.traces(under=self.server.pid)}, {"http"})


class TestGunicornBehindNginx(UwsgiBase, unittest.TestCase):
    def start(self):
        self.server = h.gunicorn("gunicorn-nginx", "-w", "2", workers=2)
        self.addCleanup(self.server.cleanup)
        self.nginx = nginx_in_front("proxy_pass http://127.0.0.1:%d" % self.server.port)
        self.addCleanup(self.nginx.cleanup)

    def test_workload(self):
        self.run_workload(self.nginx.port)
        self.assertEqual({t["proto"] for t in self.tracer.traces(under=self.server.pid)}, {"http"})


class TestGunicornBehindNginxUnix(TestGunicornBehindNginx):
    def start(self):
        sock = os.path.join(self.tmp, "g.sock")
        self.server = h.gunicorn("gunicorn-nginx-unix", "-w", "2", workers=2, unix=sock)
        self.addCleanup(self.server.cleanup)
        self.nginx = nginx_in_front("proxy_pass http://unix:%s" % sock)
        self.addCleanup(self.nginx.cleanup)


class TestWorkerLifecycle(UwsgiBase, unittest.TestCase):
    def start(self):
        pass

    def test_max_requests_respawn_under_load(self):
        port = h.free_port()
        server = h.uwsgi("uwsgi-respawn", "--http-socket", "127.0.0.1:%d" % port, "--processes", "2",
                         "--max-requests", "10", "--min-worker-lifetime", "0", port=port, workers=2)
        self.addCleanup(server.cleanup)
        first = set(h.children(server.pid))
        self.assertEqual(h.hammer(port, clients=3, each=40), [])
        self.assertTrue(first - set(h.children(server.pid)), "no worker was respawned")
        self.tracer.wait_counts({("GET", "/test/", "200"): 120})

    def test_lazy_apps(self):
        port = h.free_port()
        server = h.uwsgi("uwsgi-lazy", "--http-socket", "127.0.0.1:%d" % port, "--processes", "2",
                         "--lazy-apps", port=port, workers=2)
        self.addCleanup(server.cleanup)
        exp = workload(port, expect100=False)
        self.tracer.wait_counts(exp)

    def test_already_running_uwsgi(self):
        port = h.free_port()
        server = h.uwsgi("uwsgi-first", "--http-socket", "127.0.0.1:%d" % port, "--processes", "2",
                         port=port, workers=2)
        self.addCleanup(server.cleanup)
        tracer = h.Tracer(name="wsgitrace-late")
        self.addCleanup(tracer.cleanup)
        for _ in range(6):
            h.request(port, "/test1/")
        tracer.wait_counts({("GET", "/test1/", "500"): 6})


if __name__ == "__main__":
    unittest.main()
