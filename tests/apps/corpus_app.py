"""A plain WSGI app that answers every request 200 and says what it ran.

The corpus test replays odd and hostile requests; when the server hands one
to the app, the response carries what the app saw, so the client can tell
which request a response belongs to:

  X-Echo-Method  REQUEST_METHOD
  X-Echo-Uri     RAW_URI (gunicorn) or REQUEST_URI (uWSGI)
  X-Echo-Path    PATH_INFO

Values are the raw bytes the server decoded (PEP 3333: latin-1), with every
byte outside printable ASCII, and '%', written as %XX, cut to ECHO_MAX bytes
(a 5,000-byte URI must not make the response header itself too long); the
full length is in X-Echo-Uri-Len. The body is read and dropped so that a
keep-alive server can frame the next request. A HEAD response keeps its
Content-Length and has no body, as frameworks do (gunicorn sends whatever
body the app returns, even for HEAD). An X-Want-Status header (three
digits) sets the status; 204 and 304 go without a body or its length.

`asgi` is the same app for ASGI-only servers (hypercorn, daphne), through
asgiref's WSGI adapter; its environ has no raw request-target either.
"""
from asgiref.wsgi import WsgiToAsgi

ECHO_MAX = 1024
BODY = b"ok\n"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 404: "Not Found",
           500: "Internal Server Error", 503: "Service Unavailable"}


def raw(value):
    """The bytes behind a WSGI environ string."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def quote(b):
    return "".join(chr(c) if 0x20 < c < 0x7f and c != 0x25 else "%%%02X" % c for c in b[:ECHO_MAX])


def app(environ, start_response):
    uri = raw(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    stream = environ.get("wsgi.input")
    if stream is not None:
        try:
            while stream.read(65536):
                pass
        except Exception:  # noqa: BLE001 - a broken body is the server's business, the echo still goes out
            pass
    want = environ.get("HTTP_X_WANT_STATUS", "")
    status = int(want) if len(want) == 3 and want.isdigit() and want[0] in "2345" else 200
    empty = status in (204, 304)
    start_response("%d %s" % (status, REASONS.get(status, "Status")), [
        ("Content-Type", "text/plain"),
    ] + ([] if empty else [("Content-Length", str(len(BODY)))]) + [
        ("X-Echo-Method", quote(raw(environ.get("REQUEST_METHOD", "")))),
        ("X-Echo-Uri", quote(uri)),
        ("X-Echo-Uri-Len", str(len(uri))),
        ("X-Echo-Path", quote(raw(environ.get("PATH_INFO", "")))),
    ])
    return [] if empty or environ.get("REQUEST_METHOD") == "HEAD" else [BODY]


asgi = WsgiToAsgi(app)
