"""HTTP/1.x clients on raw sockets: one request per connection, kept-alive
connections, and several threads at once."""
import http.client
import socket
import threading
import time


def hammer(port, path="/test/", clients=4, each=25):
    """clients threads send each requests apiece; returns the failures (statuses or errors)."""
    errors = []

    def client():
        for _ in range(each):
            try:
                st = request(port, path)[0]
                if st != 200:
                    errors.append(st)
            except Exception as e:  # noqa: BLE001 - the caller asserts the list is empty
                errors.append(repr(e))

    in_threads(lambda k: client(), clients)
    return errors


def in_threads(fn, n):
    """fn(0) .. fn(n-1), each in its own thread; returns when all are done."""
    threads = [threading.Thread(target=fn, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def read_all(sock):
    """Everything the peer sends until it closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def request(port=None, path="/", method="GET", body=None, headers=None, unix=None, version="1.1",
            timeout=30, rcvbuf=None, read_delay=0.0):
    """One HTTP request on a new connection; returns (status, body bytes)."""
    if unix:
        s = socket.socket(socket.AF_UNIX)
        addr = unix
    else:
        s = socket.socket()
        addr = ("127.0.0.1", port)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(addr)
    h = {"Host": "localhost", "Connection": "close"}
    if body is not None:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s HTTP/%s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(head.encode() + (body or b""))
    if read_delay:
        time.sleep(read_delay)  # the scenario under test: a client that reads late
    data = read_all(s)
    s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def read_responses(sock, n):
    """Reads n HTTP/1.1 responses from sock, framed by Content-Length or chunked."""
    buf = b""
    out = []

    def need(k):
        nonlocal buf
        while len(buf) < k:
            c = sock.recv(65536)
            if not c:
                raise AssertionError("connection closed after %d responses" % len(out))
            buf += c

    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            need(len(buf) + 1)
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(b":", 1) for l in lines[1:])}
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif b"content-length" in hdrs:
            k = int(hdrs[b"content-length"])
            need(k)
            body, buf = buf[:k], buf[k:]
        elif hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    need(len(buf) + 1)
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                need(size + 2)
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            raise AssertionError("response without framing on a kept-alive connection")
        if 100 <= status < 200:
            continue
        out.append((status, body))
    return out


class KeepAlive:
    """A persistent HTTP/1.1 connection that reads responses by their framing."""

    def __init__(self, port=None, unix=None, timeout=30):
        if unix:
            raise NotImplementedError
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(self, path, method="GET", body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        data = r.read()
        return r.status, data

    def close(self):
        self.c.close()
