"""Asking a real Prometheus what it scraped."""
import json
import urllib.parse
import urllib.request


def query_value(port, query):
    """The first value of an instant query as a float, or None (no result, not up yet)."""
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            res = json.load(r)["data"]["result"]
    except OSError:
        return None
    return float(res[0]["value"][1]) if res else None
