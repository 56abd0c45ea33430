"""Where the repository, the apps and the programs under test are."""
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
APPS = os.path.join(ROOT, "tests", "apps")
WSGITRACE = os.path.join(ROOT, "build", "wsgitrace")
PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
UWSGI = "/usr/bin/uwsgi"
NGINX = "/usr/sbin/nginx"
HIST = "http_server_request_duration_seconds"
SERVICE = "flask_app"
