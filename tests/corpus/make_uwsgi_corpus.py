#!/usr/bin/python3
"""Writes tests/corpus/uwsgi: uwsgi-protocol packets as a client (nginx, the
uWSGI router, anything speaking uwsgi) sends them on one connection, one case
per file, and MANIFEST.json with the labels wsgitrace must give each request.

The table below is the source: a packet is easier to read as its vars than as
bytes. `python3 tests/corpus/make_uwsgi_corpus.py` rewrites the folder;
tests/integration/test_uwsgi_protocol.py checks the files still match it.

Per case: `kind` (how the replay groups its figures), `requests` (per packet
on the connection, in order, its labels), optionally `later` (the bytes sent
first; the rest follows once uWSGI has read them: a body sent after its head)
and `echo_path` (PATH_INFO the app must say it ran for the first response).
Whether uWSGI answers is not in the manifest: what it sends back is the truth.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "uwsgi")

# nginx's uwsgi_params, in its order (QUERY_STRING first, HTTP_* headers last).
NGINX_TAIL = [(b"DOCUMENT_ROOT", b"/usr/share/nginx/html"), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
              (b"REQUEST_SCHEME", b"http"), (b"REMOTE_ADDR", b"127.0.0.1"), (b"REMOTE_PORT", b"40522"),
              (b"SERVER_PORT", b"80"), (b"SERVER_NAME", b"localhost"), (b"HTTP_HOST", b"localhost"),
              (b"HTTP_USER_AGENT", b"curl/7.88.1"), (b"HTTP_ACCEPT", b"*/*")]


def packet(pairs, modifier1=0, modifier2=0, datasize=None):
    """A uwsgi packet of pairs; datasize, when given, is written instead of the true size (a lie)."""
    body = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)
    size = len(body) if datasize is None else datasize
    return struct.pack("<BHB", modifier1, size, modifier2) + body


def nginx(method, uri, extra=(), content_length=b"", query=None):
    """The vars nginx's uwsgi_params send for method uri, extra ones appended (nginx sends them last)."""
    path, _, q = uri.partition(b"?")
    return [(b"QUERY_STRING", q if query is None else query), (b"REQUEST_METHOD", method),
            (b"CONTENT_TYPE", b""), (b"CONTENT_LENGTH", content_length), (b"REQUEST_URI", uri),
            (b"PATH_INFO", path)] + NGINX_TAIL + list(extra)


def gm(path, *extra):
    """GET path in the fewest vars uWSGI needs."""
    return [(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", path)] + list(extra)


def req(method, route):
    return {"method": method, "route": route}


BIG = b"b" * 30000
# GET with PATH_INFO as gm() writes it: the path's first byte is byte 38 of the packet, so
# this one's last byte is the last one a read captures (512).
EDGE_PATH = b"/huge/edge/" + b"e" * (512 - 38 - 11)
LONG_PATH = b"/huge/path-info/" + b"p" * 1000
# A query long enough that the vars after QUERY_STRING (REQUEST_URI, PATH_INFO) start past the capture.
LONG_QUERY = b"q=" + b"x" * 600
BODY = b"name=value&x=1"
BIG_BODY = bytes(range(256)) * 80

CASES = {
    # Requests as nginx and the uWSGI router send them.
    "valid-get-nginx": (packet(nginx(b"GET", b"/shop/item?id=3")), [req("GET", "/shop/item")]),
    "valid-get-minimal": (packet(gm(b"/min")), [req("GET", "/min")]),
    "valid-head": (packet(nginx(b"HEAD", b"/head")), [req("HEAD", "/head")]),
    "valid-put": (packet(nginx(b"PUT", b"/things/x")), [req("PUT", "/things/x")]),
    "valid-delete": (packet(nginx(b"DELETE", b"/things/y")), [req("DELETE", "/things/y")]),
    "valid-options": (packet(nginx(b"OPTIONS", b"/opt")), [req("OPTIONS", "/opt")]),
    "valid-id-folded": (packet(nginx(b"GET", b"/user/42/orders")), [req("GET", "/user/{id}/orders")]),
    "valid-uri-only": (packet([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/uri/only?x=1")]),
                       [req("GET", "/uri/only")]),
    "valid-uri-over-path-info": (packet([(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/from/path-info"),
                                         (b"REQUEST_URI", b"/from/uri")]), [req("GET", "/from/uri")]),
    "valid-modifier1-30": (packet([(b"REQUEST_METHOD", b"GET"), (b"SCRIPT_NAME", b"/app"),
                                   (b"PATH_INFO", b"/app/mod30"), (b"REQUEST_URI", b"/app/mod30")], modifier1=30),
                           [req("GET", "/app/mod30")]),
    "valid-router": (packet([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/routed?a=b"), (b"PATH_INFO", b"/routed"),
                             (b"QUERY_STRING", b"a=b"), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
                             (b"HTTP_HOST", b"127.0.0.1:9090")]), [req("GET", "/routed")]),
    # Statuses other than 200: the app's (X-Want-Status), and uWSGI's own (its --route rules in the test).
    "status-app-201": (packet(nginx(b"POST", b"/status/created", extra=[(b"HTTP_X_WANT_STATUS", b"201")])),
                       [req("POST", "/status/created")]),
    "status-app-204": (packet(gm(b"/status/no-content", (b"HTTP_X_WANT_STATUS", b"204"))), [req("GET", "/status/no-content")]),
    "status-app-304": (packet(gm(b"/status/not-modified", (b"HTTP_X_WANT_STATUS", b"304"))), [req("GET", "/status/not-modified")]),
    "status-app-404": (packet(gm(b"/status/not-found", (b"HTTP_X_WANT_STATUS", b"404"))), [req("GET", "/status/not-found")]),
    "status-app-500-head": (packet(nginx(b"HEAD", b"/status/error-head", extra=[(b"HTTP_X_WANT_STATUS", b"500")])),
                            [req("HEAD", "/status/error-head")]),
    "status-app-503-body": (packet(nginx(b"PUT", b"/status/unavailable", content_length=b"%d" % len(BODY),
                                         extra=[(b"HTTP_X_WANT_STATUS", b"503")])) + BODY,
                            [req("PUT", "/status/unavailable")]),
    "status-uwsgi-403": (packet(nginx(b"GET", b"/routed/deny?x=1")), [req("GET", "/routed/deny")]),
    "status-uwsgi-410": (packet(gm(b"/routed/gone"), modifier1=30), [req("GET", "/routed/gone")]),
    "lenient-method-lower": (packet(gm(b"/lower")[1:] + [(b"REQUEST_METHOD", b"get")]), [req("_OTHER", "/lower")]),
    "lenient-method-webdav": (packet(nginx(b"PROPFIND", b"/dav/")), [req("_OTHER", "/dav/")]),
    # Keys: empty, binary, repeated, lower case, ones nginx never sends.
    "odd-key-empty": (packet(gm(b"/odd/key-empty", (b"", b"v"))), [req("GET", "/odd/key-empty")]),
    "odd-key-empty-first": (packet([(b"", b"")] + gm(b"/odd/key-empty-first")),
                            [req("GET", "/odd/key-empty-first")]),
    "odd-key-binary": (packet(gm(b"/odd/key-binary", (b"\x00\xff\x01\x7f", b"v"), (b"\xc3\x28", b"w"))),
                       [req("GET", "/odd/key-binary")]),
    "odd-key-binary-first": (packet([(b"\x00\x00\x00", b"\x00")] + gm(b"/odd/key-binary-first")),
                             [req("GET", "/odd/key-binary-first")]),
    "odd-key-lower": (packet([(b"request_method", b"PUT"), (b"path_info", b"/not/this")] + gm(b"/odd/key-lower")),
                      [req("GET", "/odd/key-lower")]),
    "odd-key-long": (packet(gm(b"/odd/key-long", (b"HTTP_X_" + b"K" * 400, b"1"))), [req("GET", "/odd/key-long")]),
    "odd-key-uwsgi-vars": (packet(gm(b"/odd/uwsgi-vars", (b"UWSGI_APPID", b"/nope"), (b"UWSGI_SCRIPT", b"nosuch"),
                                     (b"UWSGI_CHDIR", b"/nonexistent"), (b"UWSGI_SETENV", b"A=B"))),
                           [req("GET", "/odd/uwsgi-vars")]),
    "odd-dup-method-path": (packet(gm(b"/odd/first") + [(b"REQUEST_METHOD", b"POST"), (b"PATH_INFO", b"/odd/second")]),
                            [req("POST", "/odd/second")]),
    "odd-dup-uri": (packet([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/odd/uri-first"),
                            (b"REQUEST_URI", b"/odd/uri-second")]), [req("GET", "/odd/uri-second")]),
    "odd-value-binary": (packet(gm(b"/odd/value-binary", (b"HTTP_X_BIN", b"\x00\xff\r\n\x01"),
                                   (b"HTTP_X_UTF8", "é€".encode()))), [req("GET", "/odd/value-binary")]),
    "odd-path-binary": (packet(gm(b"/odd/\xff\x01bin")), [req("GET", "/odd/\ufffd\ufffdbin")]),
    "odd-path-relative": (packet(gm(b"odd-relative")), [req("GET", "_unknown")]),
    "odd-no-method": (packet([(b"PATH_INFO", b"/odd/no-method")]), [req("_OTHER", "/odd/no-method")]),
    "odd-no-path": (packet([(b"REQUEST_METHOD", b"GET"), (b"HTTP_HOST", b"x")]), [req("GET", "_unknown")]),
    "odd-modifier2-1": (packet(gm(b"/odd/modifier2"), modifier2=1), [req("GET", "/odd/modifier2")]),
    "odd-modifier2-255": (packet(nginx(b"POST", b"/odd/modifier2-255"), modifier2=255),
                          [req("POST", "/odd/modifier2-255")]),
    "odd-modifier1-30-modifier2-7": (packet([(b"aaa_first", b"1")] + nginx(b"GET", b"/odd/m30m7"), 30, 7),
                                     [req("GET", "/odd/m30m7")]),
    # Empty values.
    "empty-path-info": (packet(gm(b"")), [req("GET", "_unknown")]),
    "empty-request-method": (packet([(b"REQUEST_METHOD", b""), (b"PATH_INFO", b"/empty/method")]),
                             [req("_OTHER", "/empty/method")]),
    "empty-both": (packet([(b"REQUEST_METHOD", b""), (b"PATH_INFO", b"")]), [req("_OTHER", "_unknown")]),
    "empty-request-uri": (packet([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b""),
                                  (b"PATH_INFO", b"/empty/uri")]), [req("GET", "/empty/uri")]),
    "empty-nginx-overrides": (packet(nginx(b"GET", b"/empty/override", extra=[(b"REQUEST_METHOD", b""),
                                                                              (b"PATH_INFO", b"")])),
                              [req("_OTHER", "/empty/override")]),
    "empty-all-values": (packet([(k, b"") for k, _ in nginx(b"GET", b"/x")]), [req("_OTHER", "_unknown")]),
    "empty-packet": (packet([]), [req("_OTHER", "_unknown")]),
    # Sizes past what one read captures (512 bytes) and past uWSGI's default buffer (4 KB).
    "huge-var-after": (packet(gm(b"/huge/var-after", (b"HTTP_X_BIG", BIG))), [req("GET", "/huge/var-after")]),
    "huge-var-before": (packet([(b"HTTP_X_BIG", BIG)] + gm(b"/huge/var-before")), [req("_OTHER", "_truncated")]),
    "huge-packet-nginx": (packet(nginx(b"GET", b"/huge/packet", extra=[(b"HTTP_COOKIE", b"c" * 900)])),
                          [req("GET", "/huge/packet")]),
    "huge-path-info": (packet(gm(LONG_PATH)), [req("GET", "_truncated")]),
    "huge-path-info-nginx": (packet(nginx(b"GET", LONG_PATH)), [req("GET", "_truncated")]),
    "huge-uri-query-cut": (packet([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/huge/q?" + LONG_QUERY)]),
                           [req("GET", "/huge/q")]),
    # nginx sends QUERY_STRING first: REQUEST_METHOD and the path come past the capture.
    "huge-query-nginx": (packet(nginx(b"GET", b"/huge/query?" + LONG_QUERY)), [req("_OTHER", "_truncated")]),
    # Whole, though no byte follows it in the capture; a route keeps its first 256 bytes.
    "huge-path-ends-at-capture": (packet(gm(EDGE_PATH, (b"HTTP_X", b"1"))), [req("GET", EDGE_PATH.decode()[:256])]),
    "huge-path-ends-past-capture": (packet(gm(EDGE_PATH + b"e", (b"HTTP_X", b"1"))), [req("GET", "_truncated")]),
    "huge-datasize-max": (packet(gm(b"/huge/max", (b"HTTP_X_FILL", b"f" * (65535 - len(packet(gm(b"/huge/max")))
                                                                            - 2 - 11 - 2 + 4)))),
                          [req("GET", "/huge/max")]),
    # Bodies after the vars: with the packet, later, larger than the capture, shorter than announced.
    "body-with-packet": (packet(nginx(b"POST", b"/body/with", content_length=b"%d" % len(BODY))) + BODY,
                         [req("POST", "/body/with")]),
    "body-later": (packet(nginx(b"POST", b"/body/later", content_length=b"%d" % len(BODY))) + BODY,
                   [req("POST", "/body/later")], {"later": len(packet(nginx(b"POST", b"/body/later",
                                                                           content_length=b"%d" % len(BODY))))}),
    "body-big": (packet(nginx(b"PUT", b"/body/big", content_length=b"%d" % len(BIG_BODY))) + BIG_BODY,
                 [req("PUT", "/body/big")]),
    "body-short": (packet(gm(b"/body/short", (b"CONTENT_LENGTH", b"100"))) + b"only-this",
                   [req("GET", "/body/short")]),
    "body-unannounced": (packet(gm(b"/body/unannounced")) + b"GET / HTTP/1.1\r\n\r\n",
                         [req("GET", "/body/unannounced")]),
    "body-length-garbage": (packet(gm(b"/body/length-garbage", (b"CONTENT_LENGTH", b"abc"))) + b"abc",
                            [req("GET", "/body/length-garbage")]),
    "body-length-overflow": (packet(gm(b"/body/length-overflow", (b"CONTENT_LENGTH", b"99999999999999999999"))) + b"x",
                             [req("GET", "/body/length-overflow")]),
    "body-chunked-te": (packet(gm(b"/body/te", (b"HTTP_TRANSFER_ENCODING", b"chunked"))) + b"5\r\nhello\r\n0\r\n\r\n",
                        [req("GET", "/body/te")]),
    # Several packets on one connection: uWSGI answers the first and closes.
    "multi-two-packets": (packet(gm(b"/multi/first")) + packet(gm(b"/multi/second")),
                          [req("GET", "/multi/first"), req("GET", "/multi/second")], {"echo_path": "/multi/first"}),
    "multi-after-body": (packet(nginx(b"POST", b"/multi/body", content_length=b"4")) + b"abcd"
                         + packet(gm(b"/multi/after")),
                         [req("POST", "/multi/body"), req("GET", "/multi/after")], {"echo_path": "/multi/body"}),
    "multi-second-later": (packet(gm(b"/multi/one")) + packet(gm(b"/multi/two")),
                           [req("GET", "/multi/one"), req("GET", "/multi/two")],
                           {"later": len(packet(gm(b"/multi/one"))), "echo_path": "/multi/one"}),
    # Packets uWSGI does not answer: whatever the tracer makes of them, nothing is counted.
    "invalid-modifier1-5": (packet(gm(b"/invalid/m5"), modifier1=5), [req("GET", "/invalid/m5")]),
    "invalid-modifier1-71": (packet(gm(b"/invalid/m71"), modifier1=71), [req("_OTHER", "_unknown")]),
    "invalid-datasize-long": (packet(gm(b"/invalid/long"), datasize=200), [req("GET", "/invalid/long")]),
    "invalid-datasize-short": (packet(gm(b"/invalid/short"), datasize=9), [req("_OTHER", "_unknown")]),
    "invalid-var-overruns": (packet(gm(b"/invalid/overrun"))[:-4], [req("GET", "_unknown")]),
    "invalid-http-on-uwsgi": (b"GET /http HTTP/1.1\r\nHost: x\r\n\r\n", [req("GET", "/http")]),
    "invalid-header-only": (b"\x00\x10\x00\x00", [req("_OTHER", "_unknown")]),
}


def build():
    """{name: (bytes, manifest entry)}"""
    out = {}
    for name, spec in CASES.items():
        data, requests = spec[0], spec[1]
        e = {"kind": name.split("-")[0], "requests": requests}
        e.update(spec[2] if len(spec) > 2 else {})
        out[name] = (data, e)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = build()
    for name in os.listdir(OUT):
        if name not in cases and name != "MANIFEST.json":
            os.unlink(os.path.join(OUT, name))
    for name, (data, _) in cases.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump({"cases": {n: e for n, (_, e) in sorted(cases.items())}}, f, indent=1, sort_keys=True,
                  ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
