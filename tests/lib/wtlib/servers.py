"""gunicorn and uWSGI serving an app, ready once they answer."""
from .net import free_port, port_open, unix_open, wait_for
from .paths import GUNICORN, PY, UWSGI
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
