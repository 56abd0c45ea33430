"""A tiny statsd stand-in: receives UDP datagrams on 127.0.0.1:PORT and
counts them. Prints the port it bound once ready (argv[1]=0 picks one), and
the datagram/byte counts on SIGTERM/SIGINT, to the file argv[2] if given."""
import signal
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
out = sys.argv[2] if len(sys.argv) > 2 else None
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", port))
n = nbytes = 0


def done(*_):
    msg = "%d %d\n" % (n, nbytes)
    if out:
        with open(out, "w") as f:
            f.write(msg)
    else:
        sys.stdout.write(msg)
    sys.exit(0)


signal.signal(signal.SIGTERM, done)
signal.signal(signal.SIGINT, done)
print(s.getsockname()[1], flush=True)
while True:
    try:
        d = s.recv(65536)
    except InterruptedError:
        continue
    n += 1
    nbytes += len(d)
