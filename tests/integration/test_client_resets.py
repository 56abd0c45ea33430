"""Clients that reset their connection around the moment the server answers.

A response whose status line the server wrote counts, with its status, however the
client left; a request the server read and could not answer at all is counted in
wsgi_server_requests_unanswered_total with its route. Checked against gunicorn's own
access log. Each reset is placed by waiting for a condition: the response head
arriving at the client, or the app saying it has the request.
"""
import os
import shutil
import socket
import struct
import tempfile
import unittest

import harness as h


def reset(s):
    """Close with SO_LINGER 0: the kernel sends a RST instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def recv_until(s, marker):
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before %r: %r" % (marker, data))
        data += chunk
    return data


class TestClientResets(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="wt-handoff-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.log = os.path.join(self.dir, "access.log")
        port = h.free_port()
        argv = [h.PY, h.GUNICORN, "-b", "127.0.0.1:%d" % port, "-w", "1", "--log-level", "warning",
                "--access-logfile", self.log, "--access-logformat", "%(m)s %(U)s %(s)s",
                "handoff_app:app"]
        self.server = h.Server(argv, "handoff", port=port, workers=1, env={"WT_SIGNAL_DIR": self.dir})
        self.addCleanup(self.server.cleanup)
        self.tracer = h.Tracer("--pid", str(self.server.pid))
        self.addCleanup(self.tracer.cleanup)

    def go(self, tag):
        open(os.path.join(self.dir, tag + ".go"), "w").close()

    def access_log(self):
        with open(self.log) as f:
            return [line.split() for line in f if line.strip()]

    def unanswered(self):
        return {(dict(l)["reason"], dict(l)["http_route"]): v for (n, l), v in self.tracer.metrics().items()
                if n == "wsgi_server_requests_unanswered_total" and dict(l)["service_name"] == "handoff_app"}

    def test_reset_after_status_line_counts(self):
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(b"GET /stream/a HTTP/1.1\r\nHost: x\r\n\r\n")
        # The head and the first bytes have arrived: the app waits for "go".
        head = recv_until(s, b"first")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        reset(s)
        self.go("a")
        h.wait_for(lambda: ["GET", "/stream/a", "200"] in self.access_log(), what="gunicorn's access log line")
        self.tracer.wait_counts({("GET", "/stream/a", "200"): 1}, service="handoff_app")
        self.assertEqual(self.tracer.self_metric("wsgitrace_client_resets_total"), 0)
        self.assertEqual(self.unanswered(), {})
        self.assertEqual(self.tracer.self_metric("wsgitrace_orphan_responses_total"), 0)
        print("access log %r; wsgitrace: %r" % (self.access_log(), self.tracer.counts("handoff_app")))

    def test_reset_before_any_write_is_unanswered_with_route(self):
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(b"GET /wait/b HTTP/1.1\r\nHost: x\r\n\r\n")
        h.wait_for(lambda: os.path.exists(os.path.join(self.dir, "b.read")), what="the app to have the request")
        reset(s)
        h.wait_for(lambda: self.unanswered() == {("client_gone", "/wait/b"): 1}, timeout=30,
                   what="one client_gone on /wait/b (got %r)" % (self.unanswered(),))
        self.go("b")
        # A request after it, served by the same worker once it is done with
        # the first: its log line and its count come after all of the first's.
        self.go("c")
        self.assertEqual(h.request(self.server.port, "/wait/c")[0], 200)
        h.wait_for(lambda: ["GET", "/wait/c", "200"] in self.access_log(), what="gunicorn's access log line")
        self.tracer.wait_counts({("GET", "/wait/c", "200"): 1}, service="handoff_app")
        # gunicorn's write failed on the reset connection: it logs nothing for /wait/b either.
        self.assertEqual(self.access_log(), [["GET", "/wait/c", "200"]])
        self.assertEqual(self.tracer.self_metric("wsgitrace_client_resets_total"), 1)
        self.assertEqual(self.unanswered(), {("client_gone", "/wait/b"): 1})


if __name__ == "__main__":
    unittest.main()
