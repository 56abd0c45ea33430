"""Installing wsgitrace on a host as its operators do: `make install`, the systemd unit,
the man page, the Debian package in a fresh Debian root, and `scripts/deps.sh run`.

The fresh root is made once per run with debootstrap (minbase, from the host's own
Debian mirror) under build/. Every command in it runs in a private mount namespace
(unshare) where /proc, /sys and /dev are mounted for it: the mounts end with the
command, so none is ever left behind and removing the root never walks into the host's
/sys or /dev.
"""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness as h

BUILD = os.path.join(h.ROOT, "build")
UNIT_IN = os.path.join(h.ROOT, "deploy", "systemd", "wsgitrace.service.in")
MAN = os.path.join(h.ROOT, "doc", "wsgitrace.8")
README = os.path.join(h.ROOT, "README.md")
DEPS = os.path.join(h.ROOT, "scripts", "deps.sh")


def run(argv, cwd=h.ROOT, env=None, check=True, timeout=1800):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(argv, cwd=cwd, env=e, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    if check and r.returncode:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def make_install(destdir=None, **dirs):
    args = ["make", "--no-print-directory", "-s", "install"] + ["%s=%s" % kv for kv in dirs.items()]
    if destdir:
        args.append("DESTDIR=" + destdir)
    return run(args)


def tree(root):
    """Files and symlinks under root, as absolute paths inside it."""
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add("/" + os.path.relpath(os.path.join(d, f), root))
    return out


def unit_setting(text, key):
    vals = [l.split("=", 1)[1] for l in text.splitlines() if l.startswith(key + "=")]
    if len(vals) != 1:
        raise AssertionError("%s= set %d times in the unit" % (key, len(vals)))
    return vals[0]


def readme_package_files():
    """The file list of README's "Installing on a host" section (the package's files)."""
    with open(README) as f:
        text = f.read()
    sec = text.split("## Installing on a host", 1)[1].split("\n## ", 1)[0]
    blocks, block, kind = [], None, ""
    for line in sec.splitlines():
        if line.startswith("```"):
            if block is None:
                block, kind = [], line[3:]
            else:
                blocks.append((kind, block))
                block = None
        elif block is not None:
            block.append(line)
    lists = [b for kind, b in blocks if kind == "" and b and all(l.startswith("/") for l in b)]
    if len(lists) != 1:
        raise AssertionError("README's section has %d file lists" % len(lists))
    return set(lists[0])


def readme_security_score():
    with open(README) as f:
        m = re.search(r"`systemd-analyze security wsgitrace.service` rates its exposure\s+\*\*([0-9.]+) \((\w+)\)\*\*",
                      f.read())
    if not m:
        raise AssertionError("README states no systemd-analyze security score")
    return m.group(1), m.group(2)


def help_long_flags():
    out = run([h.WSGITRACE, "--help"]).stdout
    return sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z0-9.-]*[a-z0-9])", out)))


# linux/capability.h, for the capabilities the unit may name.
CAPS = {"CAP_DAC_READ_SEARCH": 2, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21,
        "CAP_SYS_RESOURCE": 24, "CAP_PERFMON": 38, "CAP_BPF": 39}


def caps_of(name):
    return name.lower().replace("cap_", "")


class TestMakeInstall(unittest.TestCase):
    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix="wt-destdir-")
        self.addCleanup(shutil.rmtree, self.dest, ignore_errors=True)

    def test_destdir_tree(self):
        make_install(self.dest)
        self.assertEqual(tree(self.dest), {
            "/usr/local/sbin/wsgitrace",
            "/usr/local/share/man/man8/wsgitrace.8",
            "/usr/local/lib/systemd/system/wsgitrace.service",
            "/usr/local/share/wsgitrace/wsgitrace-alerts.yaml",
            "/usr/local/share/wsgitrace/wsgitrace-dashboard.json",
            "/etc/default/wsgitrace",
        })
        self.assertEqual(os.stat(self.dest + "/usr/local/sbin/wsgitrace").st_mode & 0o777, 0o755)
        for f in ("share/man/man8/wsgitrace.8", "lib/systemd/system/wsgitrace.service"):
            self.assertEqual(os.stat(self.dest + "/usr/local/" + f).st_mode & 0o777, 0o644)
        with open(self.dest + "/usr/local/lib/systemd/system/wsgitrace.service") as f:
            unit = f.read()
        self.assertIsNone(re.search(r"@[A-Z]+@", unit))
        self.assertEqual(unit_setting(unit, "ExecStart"), "/usr/local/sbin/wsgitrace $WSGITRACE_ARGS")
        self.assertEqual(unit_setting(unit, "EnvironmentFile"), "-/etc/default/wsgitrace")
        for src, dst in (("deploy/prometheus/wsgitrace-alerts.yaml", "wsgitrace-alerts.yaml"),
                         ("deploy/grafana/wsgitrace-dashboard.json", "wsgitrace-dashboard.json")):
            with open(os.path.join(h.ROOT, src), "rb") as a, \
                    open(self.dest + "/usr/local/share/wsgitrace/" + dst, "rb") as b:
                self.assertEqual(a.read(), b.read(), dst)
        with open(self.dest + "/etc/default/wsgitrace") as f:
            self.assertIn('\nWSGITRACE_ARGS=""\n', f.read())
        # An operator's defaults survive the next install.
        with open(self.dest + "/etc/default/wsgitrace", "w") as f:
            f.write('WSGITRACE_ARGS="--listen 127.0.0.1:9464"\n')
        make_install(self.dest, PREFIX="/opt/wt")
        with open(self.dest + "/etc/default/wsgitrace") as f:
            self.assertEqual(f.read(), 'WSGITRACE_ARGS="--listen 127.0.0.1:9464"\n')
        self.assertTrue(os.path.exists(self.dest + "/opt/wt/sbin/wsgitrace"))

    def test_unit_verifies_and_scores_as_readme_says(self):
        # Installed for real under a private prefix: verify checks that ExecStart exists
        # and that the man page of Documentation= is found.
        p = self.dest
        make_install(PREFIX=p, SYSCONFDIR=p + "/etc")
        unit = p + "/lib/systemd/system/wsgitrace.service"
        r = run(["systemd-analyze", "verify", unit], env={"MANPATH": p + "/share/man"}, check=False)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit])
        m = re.search(r"Overall exposure level for wsgitrace.service: ([0-9.]+) (\w+)", r.stdout)
        self.assertTrue(m, r.stdout)
        self.assertEqual(m.groups(), readme_security_score())

    def test_man_page_lists_every_flag_of_help(self):
        with open(MAN) as f:
            man = f.read()
        flags = help_long_flags()
        self.assertIn("web.config.file", flags)
        self.assertIn("max-series-per-service", flags)
        missing = [fl for fl in flags if "\\-\\-" + fl.replace("-", "\\-") not in man]
        self.assertEqual(missing, [], "flags of --help missing from doc/wsgitrace.8")
        # and it renders without a warning from groff
        make_install(self.dest)
        r = run(["man", "--warnings", "-l", self.dest + "/usr/local/share/man/man8/wsgitrace.8"],
                env={"MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""})
        self.assertEqual(r.stderr, "")
        self.assertIn("--web.config.file=FILE", r.stdout)

    def test_unit_capabilities_count_exactly(self):
        """The unit's ExecStart with exactly its capabilities, NoNewPrivileges and root
        without root's capabilities (SecureBits=noroot-locked), as systemd starts it, next
        to a gunicorn of root and one of another user: every request counted, and each
        server's listen backlog and every connection's queue time are there too."""
        with open(UNIT_IN) as f:
            unit = f.read()
        bounding = unit_setting(unit, "CapabilityBoundingSet").split()
        self.assertEqual(unit_setting(unit, "AmbientCapabilities").split(), bounding)
        self.assertEqual(unit_setting(unit, "NoNewPrivileges"), "yes")
        self.assertEqual(unit_setting(unit, "SecureBits"), "noroot-locked")
        self.assertNotIn("CAP_SYS_ADMIN", bounding)
        caps = ",".join("+" + caps_of(c) for c in bounding)
        wrap = ["setpriv", "--securebits", "+noroot,+noroot_locked", "--bounding-set", "-all," + caps,
                "--inh-caps", "-all," + caps, "--ambient-caps", "-all," + caps, "--no-new-privs", "--"]
        mine = h.gunicorn("unit-caps-root", "-w", "2", workers=2)
        self.addCleanup(mine.cleanup)
        port = h.free_port()
        theirs = h.Server(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", h.PY, h.GUNICORN,
                           "-b", "127.0.0.1:%d" % port, "-w", "2", "flask_app:app"], "unit-caps-nobody",
                          port=port, workers=2)
        self.addCleanup(theirs.cleanup)
        # The unit's ExecStart with an empty WSGITRACE_ARGS: every server is discovered.
        tracer = h.Tracer(wrap=wrap)
        self.addCleanup(tracer.cleanup)
        with open("/proc/%d/status" % tracer.pid) as f:
            status = dict(l.split(":\t", 1) for l in f.read().splitlines() if ":\t" in l)
        self.assertEqual(status["NoNewPrivs"].strip(), "1")
        # dropped after attaching (CAP_BPF stays only where the kernel checks it on map reads)
        self.assertEqual(int(status["CapEff"], 16) & ~(1 << CAPS["CAP_BPF"]), 0, status["CapEff"])
        self.assertEqual(int(status["CapBnd"], 16), sum(1 << CAPS[c] for c in bounding), status["CapBnd"])
        for i in range(5):
            self.assertEqual(h.request(mine.port, "/test/")[0], 200)
            self.assertEqual(h.request(theirs.port, "/test1/")[0], 500)
        tracer.wait_counts({("GET", "/test/", "200"): 5, ("GET", "/test1/", "500"): 5})
        m = tracer.metrics()
        self.assertEqual(h.metric_sum(m, "http_server_request_queue_duration_seconds_count"), 10)
        limits = {dict(labels)["listen_address"] for (name, labels), _ in m.items()
                  if name == "wsgi_server_listen_queue_limit"}
        self.assertEqual(limits, {"127.0.0.1:%d" % mine.port, "127.0.0.1:%d" % port})


class DebianRoot:
    """A fresh Debian root (debootstrap --variant=minbase) under build/."""

    def __init__(self):
        os.makedirs(BUILD, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="test-debian-root-", dir=BUILD)
        self.path = os.path.join(self.dir, "root")
        suite, mirror = host_suite_and_mirror()
        r = run(["debootstrap", "--variant=minbase", suite, self.path, mirror], check=False)
        if r.returncode:
            raise AssertionError("debootstrap failed:\n%s" % (r.stdout + r.stderr)[-4000:])
        shutil.copy("/etc/resolv.conf", os.path.join(self.path, "etc", "resolv.conf"))
        self.run("apt-get", "update", "-qq")

    def wrap(self):
        """argv prefix that runs a command (a path inside the root) in it."""
        mounts = ("mount -t proc proc \"$R/proc\" && mount --bind /sys \"$R/sys\" && mount --bind /dev \"$R/dev\""
                  " && mount -t devpts -o newinstance,ptmxmode=0666 devpts \"$R/dev/pts\"")
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                '%s && exec chroot "$R" "$@"' % mounts, "sh"]

    def run(self, *argv, check=True, timeout=1800):
        env = {"R": self.path, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8",
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        return run(self.wrap() + list(argv), env=env, check=check, timeout=timeout)

    def installed(self):
        out = self.run("dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n").stdout
        return {l.split()[0] for l in out.splitlines() if l.split()[1:2] == ["ii"]}

    def cleanup(self):
        # Nothing is mounted in it outside the commands' own namespaces: check, then remove.
        with open("/proc/self/mountinfo") as f:
            if any(" %s/" % self.path in l or " %s " % self.path in l for l in f):
                raise AssertionError("something is still mounted under %s" % self.path)
        shutil.rmtree(self.dir)


def host_suite_and_mirror():
    """This host's Debian suite and mirror, so the fresh root matches the build host."""
    with open("/etc/os-release") as f:
        suite = dict(l.strip().split("=", 1) for l in f if "=" in l)["VERSION_CODENAME"]
    uris = []
    for path in ["/etc/apt/sources.list.d/debian.sources"]:
        if os.path.exists(path):
            with open(path) as f:
                uris += re.findall(r"^URIs:\s*(\S+/debian)/?$", f.read(), re.M)
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+%s\s" % suite, f.read(), re.M)
    return suite, uris[0] if uris else "http://deb.debian.org/debian"


class TestDebianPackage(unittest.TestCase):
    """`make deb`, then as a user on a fresh Debian: apt install, run, dpkg -L, apt remove.
    The tests run in their numbered order on one root; the last one runs deps.sh there."""

    @classmethod
    def setUpClass(cls):
        r = run(["make", "--no-print-directory", "-s", "deb"])
        cls.deb = r.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"build/wsgitrace_[0-9.]+_\w+\.deb", cls.deb), cls.deb
        cls.root = DebianRoot()
        try:
            shutil.copy(os.path.join(h.ROOT, cls.deb), os.path.join(cls.root.path, "tmp"))
            cls.before = cls.root.installed()
            r = cls.root.run("apt", "install", "-y", "/tmp/" + os.path.basename(cls.deb))
            cls.install_log = r.stdout + r.stderr
        except Exception:
            cls.root.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.root.cleanup()

    def test_1_apt_brings_the_dependencies(self):
        with open(os.path.join(h.ROOT, "VERSION")) as f:
            version = f.read().strip()
        r = self.root.run("dpkg-query", "-W", "-f", "${Status} ${Version}\\n${Depends}", "wsgitrace")
        status, depends = r.stdout.split("\n", 1)
        self.assertEqual(status, "install ok installed " + version)
        for lib in ("libbpf1", "libmicrohttpd12", "libgnutls30", "libyaml-0-2", "libcrypt1", "libprotobuf-c1"):
            self.assertIn(lib, depends)
            self.assertIn(lib, self.root.installed())
        self.assertNotIn("libbpf1", self.before)
        # nothing unresolved when the installed binary loads
        r = self.root.run("/usr/sbin/wsgitrace", "--version")
        self.assertEqual(r.stdout.split()[:2], ["wsgitrace", version])
        r = self.root.run("sh", "-c", "ldd /usr/sbin/wsgitrace")
        self.assertNotIn("not found", r.stdout)

    def test_2_installed_binary_counts_exactly(self):
        server = h.gunicorn("deb-gunicorn", "-w", "2", workers=2)
        self.addCleanup(server.cleanup)
        env_wrap = ["env", "R=" + self.root.path] + self.root.wrap()
        tracer = h.Tracer("--pid", str(server.pid), binary="/usr/sbin/wsgitrace", wrap=env_wrap,
                          name="wsgitrace-deb")
        self.addCleanup(tracer.cleanup)
        for i in range(12):
            self.assertEqual(h.request(server.port, "/test/" if i % 3 else "/test1/")[0],
                             200 if i % 3 else 500)
        tracer.wait_counts({("GET", "/test/", "200"): 8, ("GET", "/test1/", "500"): 4})

    def test_3_dpkg_lists_what_readme_says(self):
        listed = self.root.run("dpkg", "-L", "wsgitrace").stdout.split()
        files = {p for p in listed if os.path.isfile(self.root.path + p)}
        self.assertEqual(files, readme_package_files())
        with gzip.open(self.root.path + "/usr/share/man/man8/wsgitrace.8.gz", "rt") as f:
            self.assertIn("--web.config.file", f.read().replace("\\-", "-"))
        with open(self.root.path + "/usr/lib/systemd/system/wsgitrace.service") as f:
            self.assertEqual(unit_setting(f.read(), "ExecStart"), "/usr/sbin/wsgitrace $WSGITRACE_ARGS")
        r = self.root.run("dpkg-query", "-W", "-f", "${Conffiles}", "wsgitrace")
        self.assertEqual([l.split()[0] for l in r.stdout.strip().splitlines()], ["/etc/default/wsgitrace"])

    def test_4_apt_remove_leaves_only_conffiles(self):
        listed = self.root.run("dpkg", "-L", "wsgitrace").stdout.split()
        files = [p for p in listed if os.path.isfile(self.root.path + p)]
        self.root.run("apt", "remove", "-y", "wsgitrace")
        r = self.root.run("dpkg-query", "-W", "-f", "${Status}", "wsgitrace")
        self.assertEqual(r.stdout, "deinstall ok config-files")
        left = [p for p in files if os.path.lexists(self.root.path + p)]
        self.assertEqual(left, ["/etc/default/wsgitrace"])
        self.root.run("apt", "purge", "-y", "wsgitrace")
        self.assertFalse(os.path.lexists(self.root.path + "/etc/default/wsgitrace"))
        self.root.run("apt-get", "autoremove", "-y", "--purge")

    def test_5_deps_run_mode_installs_no_test_package(self):
        """scripts/deps.sh run on the same fresh root: what make run needs, nothing of the tests'."""
        run_pkgs = set(run(["bash", DEPS, "--list", "run"]).stdout.split())
        test_only = set(run(["bash", DEPS, "--list", "test", "bench"]).stdout.split()) - run_pkgs
        self.assertIn("prometheus", test_only)
        self.assertIn("nginx-light", test_only)
        shutil.copy(DEPS, self.root.path + "/tmp/deps.sh")
        self.root.run("bash", "/tmp/deps.sh", "run")
        installed = self.root.installed()
        self.assertEqual(sorted(run_pkgs - installed), [])
        self.assertEqual(sorted(test_only & installed), [])
        # No policy-rc.d left behind, and a second run is quiet: everything is there.
        self.assertFalse(os.path.lexists(self.root.path + "/usr/sbin/policy-rc.d"))
        r = self.root.run("bash", "/tmp/deps.sh", "run")
        self.assertEqual(r.stdout + r.stderr, "")

    def test_6_packages_that_start_services_start_none(self):
        """nginx-light starts nginx on install; through deps.sh it neither starts nor is
        enabled. deps.sh itself is tried, with nginx-light as the only package of its table."""
        with open(DEPS) as f:
            script = f.read()
        table = re.search(r"\nTABLE='\n(.*?)'\n", script, re.S)
        one = script[:table.start(1)] + "nginx-light run\n" + script[table.end(1):]
        with open(self.root.path + "/tmp/deps-nginx.sh", "w") as f:
            f.write(one)
        self.assertEqual(self.root.run("bash", "/tmp/deps-nginx.sh", "--list", "run").stdout, "nginx-light\n")
        self.root.run("bash", "/tmp/deps-nginx.sh", "run")
        self.assertIn("nginx-light", self.root.installed())
        # What the package's scripts said while apt ran them (without a policy, a root with
        # no init blocks the start too, but says so differently and leaves nginx enabled).
        with open(self.root.path + "/var/log/apt/term.log", errors="replace") as f:
            self.assertIn("invoke-rc.d: policy-rc.d denied execution of start.", f.read())
        self.assertEqual(self.processes_in_root("nginx"), [])
        self.assertFalse(os.path.lexists(self.root.path + "/usr/sbin/policy-rc.d"))
        self.assertFalse(os.path.lexists(self.root.path + "/etc/systemd/system/multi-user.target.wants/nginx.service"))
        rc = [f for d in range(2, 6) for f in os.listdir(self.root.path + "/etc/rc%d.d" % d) if "nginx" in f]
        self.assertTrue(rc)
        self.assertEqual([f for f in rc if not f.startswith("K")], [])

    def processes_in_root(self, comm):
        out = []
        for d in os.listdir("/proc"):
            try:
                if os.readlink("/proc/%s/root" % d) != self.root.path:
                    continue
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() == comm:
                        out.append(int(d))
            except OSError:
                continue
        return out


if __name__ == "__main__":
    unittest.main()
