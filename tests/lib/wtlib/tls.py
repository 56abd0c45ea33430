"""TLS for the tests: a throwaway certificate made by openssl, and a client
connection that encrypts in memory, so the test decides where its bytes go.

The client's half-close is its TCP FIN alone, as on a plain socket: a
close_notify that uWSGI finds unread when it closes makes its kernel reset
the connection, and the client never reads the answer that was on its way.
"""
import atexit
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile

from .net import wait_for


class Certs:
    """A self-signed certificate for CN=localhost; cleanup() removes it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wt-tls-")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", self.key, "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        return ctx

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


_CERTS = None


def certs():
    """The test run's certificate: made at first use, removed when the run exits."""
    global _CERTS
    if _CERTS is None:
        _CERTS = Certs()
        atexit.register(_CERTS.cleanup)
    return _CERTS


class TLSConn:
    """A TLS client over a connected TCP socket, socket-like for sendall,
    shutdown(SHUT_WR), recv (b"" once the server has closed), fileno,
    getsockname, close. Each sendall() is one TLS record of exactly its bytes."""

    def __init__(self, ctx, sock):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.eof = False
        self.plain = b""  # decrypted, not yet returned by recv()
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not self._pull():
                    raise ConnectionError("the server closed during the TLS handshake")
        self._flush()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _pull(self):
        """More of the server's bytes into the TLS object; False at its close."""
        data = self.sock.recv(65536)
        if not data:
            self.inc.write_eof()
            self.eof = True
            return False
        self.inc.write(data)
        return True

    def sendall(self, data):
        self.tls.write(data)
        self._flush()

    def shutdown(self, how):
        self.sock.shutdown(how)

    def _decrypt(self):
        """Whatever plaintext the bytes received so far hold; False at the server's close."""
        while True:
            try:
                data = self.tls.read(65536)
                if not data:  # the server's close_notify
                    return False
                self.plain += data
            except ssl.SSLWantReadError:
                return not self.eof
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return False

    def has_data(self):
        """Whether the server has sent plaintext not yet read (its session
        tickets, which make the socket readable, are no answer)."""
        while not self.eof and select.select([self.sock], [], [], 0)[0]:
            self._pull()
        self._decrypt()
        return bool(self.plain)

    def recv(self, n):
        while not self.plain:
            if not self._decrypt() or self.plain:
                break
            if not self._pull():
                self._decrypt()
                break
        out, self.plain = self.plain[:n], self.plain[n:]
        return out

    def fileno(self):
        return self.sock.fileno()

    def getsockname(self):
        return self.sock.getsockname()

    def close(self):
        self.sock.close()


def tls_request(ctx, port, path, method="GET", body=None, headers=None, version="1.1", timeout=30):
    """One HTTPS request on a new connection, read to the server's close: (status, body)."""
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout))
    hd = {"Host": "localhost", "Connection": "close"}
    if body is not None:
        hd["Content-Length"] = str(len(body))
    hd.update(headers or {})
    head = "%s %s HTTP/%s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % kv for kv in hd.items())
    s.sendall(head.encode() + b"\r\n" + (body or b""))
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:  # a server that closes without close_notify
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def wait_attached(tracer, n):
    """The SSL probes are attached per process, once the daemon has seen it (and its libssl)."""
    # Each attach parses the process's libssl for its links: seconds on a loaded machine.
    wait_for(lambda: tracer.self_metric("wsgitrace_tls_processes_attached") >= n, timeout=60,
             what="the SSL probes on %d processes" % n)
