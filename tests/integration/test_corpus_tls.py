"""The HTTP corpus replay over TLS terminated in the server: every response
counted once with the labels of its request, as on plain HTTP.

The same replay as test_corpus (each case whole, then in 1-7 byte segments,
then the client's half-close), through a TLS client: in the segmented phase
every segment is a TLS record of its own, so the server's SSL_read returns
the request in pieces cut at any byte. The half-close is the client's TCP
FIN (see wtlib.tls).
"""
import functools
import unittest

from test_corpus import CorpusReplay, server_argv, tcp_connect
from wtlib.tls import TLSConn, certs, tls_request, wait_attached


class TLSCorpusReplay(CorpusReplay):
    @classmethod
    def setUpClass(cls):
        ctx = certs().context()
        cls.connect = staticmethod(lambda port: TLSConn(ctx, tcp_connect(port)))
        cls.request = staticmethod(functools.partial(tls_request, ctx))
        super().setUpClass()
        try:
            wait_attached(cls.tracer, cls.workers)
        except Exception:
            super().tearDownClass()
            raise


class TestGunicornSyncTLS(TLSCorpusReplay, unittest.TestCase):
    server = ("gunicorn", "-w", "2")

    @staticmethod
    def server_argv(server, port):
        return server_argv(server + ("--certfile", certs().cert, "--keyfile", certs().key), port)


class TestUwsgiHttpsSocket(TLSCorpusReplay, unittest.TestCase):
    """With Nagle on, uWSGI's answer written behind its still unacknowledged
    session tickets waits in the socket, and the reset of a close with a
    rejected body unread drops it: the client could not tell what the server
    answered. --tcp-nodelay sends it at once, as uWSGI does on plain HTTP."""
    server = ("uwsgi", "--tcp-nodelay")

    @staticmethod
    def server_argv(server, port):
        argv = server_argv(server, port)
        # The TLS listener names its certificate and key after the address.
        return argv[:-1] + ["--https-socket", "%s,%s,%s" % (argv[-1], certs().cert, certs().key)]


if __name__ == "__main__":
    unittest.main()
