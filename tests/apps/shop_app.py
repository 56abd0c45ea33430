"""A second, tiny WSGI app, so that two services (service_name "shop_app" and
"flask_app") can run behind one wsgitrace: /checkout -> 200, /checkout/fail
-> 503, anything else 404.
"""


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/checkout":
        status, body = "200 OK", b"paid"
    elif path == "/checkout/fail":
        status, body = "503 Service Unavailable", b"try later"
    else:
        status, body = "404 Not Found", b"no such page"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
