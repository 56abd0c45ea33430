"""gunicorn and uWSGI serving an app, and nginx in front, ready once they answer."""
import os
import tempfile

from .net import free_port, port_open, unix_open, wait_for
from .paths import GUNICORN, NGINX, PY, UWSGI
from .procs import Proc, children


class Server(Proc):
    """A WSGI server (tests/apps/flask_app.py unless argv says otherwise), ready
    once its port answers and, with workers, once that many workers run."""

    def __init__(self, argv, name, port=None, unix=None, workers=None, env=None, workdir=None,
                 timeout=20.0):
        super().__init__(argv, name, env=env, workdir=workdir)
        self.port = port
        self.unix = unix
        try:
            if unix:
                wait_for(lambda: unix_open(unix) or not self.alive(), timeout=timeout,
                         what="%s on %s" % (name, unix))
            else:
                wait_for(lambda: port_open(port) or not self.alive(), timeout=timeout,
                         what="%s on :%d" % (name, port))
            if not self.alive():
                raise AssertionError("%s exited: %s" % (name, self.output()))
            if workers:
                wait_for(lambda: len(children(self.pid)) >= workers, timeout=timeout,
                         what="%d workers" % workers)
        except Exception:
            self.cleanup()
            raise


def gunicorn(name, *args, workers=None, unix=None, env=None):
    port = None if unix else free_port()
    bind = "unix:%s" % unix if unix else "127.0.0.1:%d" % port
    argv = [PY, GUNICORN, "-b", bind, "--log-level", "warning"] + list(args) + ["flask_app:app"]
    return Server(argv, name, port=port, unix=unix, workers=workers, env=env)


def uwsgi(name, *args, workers=None, env=None, port=None):
    argv = [UWSGI, "--plugin", "python3", "--module", "flask_app:app", "--master",
            "--disable-logging", "--die-on-term"] + list(args)
    return Server(argv, name, port=port, workers=workers, env=env)


class Nginx(Proc):
    """A real nginx on a free loopback port: `locations` (location blocks) in its
    one server, `http` (directives, an upstream block) before it. Its files
    live in `tmp` (a new folder unless given)."""

    def __init__(self, locations, http="", tmp=None):
        self.port = free_port()
        tmp = tmp or tempfile.mkdtemp(prefix="wt-nginx-")
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
user root;
daemon off;
worker_processes 1;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    uwsgi_temp_path %(t)s/uwsgi;
    fastcgi_temp_path %(t)s/fastcgi;
    scgi_temp_path %(t)s/scgi;
    client_max_body_size 10m;
    %(http)s
    server {
        listen 127.0.0.1:%(port)d;
        %(locs)s
    }
}
""" % {"t": tmp, "port": self.port, "http": http, "locs": "\n        ".join(locations)})
        super().__init__([NGINX, "-c", conf, "-e", os.path.join(tmp, "error.log")], "nginx", cwd=tmp)
        try:
            wait_for(lambda: port_open(self.port) or not self.alive(), what="nginx")
            if not self.alive():
                raise AssertionError("nginx exited: %s" % self.output())
        except Exception:
            self.cleanup()
            raise
