"""The container image and the Kubernetes manifests, run as a node runs them.

The image is built from the working tree by scripts/image.sh (what `make
image` runs). The manifests under deploy/kubernetes are rendered (the
kustomize features they use), checked field by field, and validated against
the Kubernetes and prometheus-operator schemas offline (npm's
kubernetes-models). The DaemonSet's container is then started with podman
with the settings read from the rendered manifest itself (privileges or
capabilities, hostPID, hostNetwork, mounts, arguments, ports), once for the
privileged default and once for the least-privilege variant, next to a
gunicorn and a uWSGI that each run in a container of their own (so each has
its own cgroup and container id), with the node's log folders laid out for
them as the kubelet lays them out. Both variants must count every request
exactly.
"""
import copy
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import yaml

import harness as h

PODMAN = ["podman", "--runtime=runc", "--cgroup-manager=cgroupfs"]
VERSION = open(os.path.join(h.ROOT, "VERSION")).read().strip()
IMAGE = "localhost/wsgitrace:%s" % VERSION
STAGED = os.path.join(h.ROOT, "build", "image", "root")
DEPLOY = os.path.join(h.ROOT, "deploy", "kubernetes")
VARIANTS = {"privileged": DEPLOY,
            "least-privilege": os.path.join(DEPLOY, "least-privilege"),
            "prometheus-operator": os.path.join(DEPLOY, "prometheus-operator")}
# What measure-caps.py found wsgitrace needs; the least-privilege variant must list exactly these.
NEEDED_CAPS = ["BPF", "PERFMON"]


def limit_args():
    """podman asks for RLIMIT_NOFILE 1048576 unless told, which a host with a lower hard
    limit refuses (setrlimit: Operation not permitted): ask for what wsgitrace needs, within
    the host's limits."""
    out = []
    for name, res, want in (("nofile", resource.RLIMIT_NOFILE, 20000),
                            ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(res)[1]
        v = want if hard == resource.RLIM_INFINITY else min(want, hard)
        out += ["--ulimit", "%s=%d:%d" % (name, v, v)]
    return out


def podman(*args, check=True):
    return subprocess.run(PODMAN + list(args), capture_output=True, text=True, check=check)


# ---- kustomize, the features deploy/kubernetes uses ----

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}


def strategic_merge(base, patch):
    """Kubernetes' strategic merge for what the patches touch: maps merge, lists of named
    maps (containers, volumes, mounts) merge by name, other lists are replaced."""
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            strategic_merge(base[k], v)
        elif isinstance(v, list) and v and all(isinstance(x, dict) and "name" in x for x in v) \
                and isinstance(base.get(k), list):
            by_name = {x.get("name"): x for x in base[k]}
            for x in v:
                if x["name"] in by_name:
                    strategic_merge(by_name[x["name"]], x)
                else:
                    base[k].append(copy.deepcopy(x))
        else:
            base[k] = copy.deepcopy(v)


def pod_containers(obj):
    return obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def render(d):
    """The objects `kubectl kustomize d` prints. Fails on a kustomization field it does not
    implement, so a new feature in deploy/kubernetes is noticed here, not ignored."""
    with open(os.path.join(d, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KUSTOMIZATION_FIELDS
    if unknown:
        raise AssertionError("%s: kustomization fields %s are not rendered by this test" % (d, sorted(unknown)))
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(d, r))
        if os.path.isdir(p):
            objs += render(p)
        else:
            with open(p) as f:
                objs += [o for o in yaml.safe_load_all(f) if o]
    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            raise AssertionError("%s: only patches by path are rendered: %r" % (d, patch))
        with open(os.path.join(d, patch["path"])) as f:
            for p in yaml.safe_load_all(f):
                target = [o for o in objs if (o["apiVersion"], o["kind"], o["metadata"]["name"]) ==
                          (p["apiVersion"], p["kind"], p["metadata"]["name"])]
                if len(target) != 1:
                    raise AssertionError("%s: patch %s matches %d objects" % (d, patch["path"], len(target)))
                strategic_merge(target[0], p)
    if "namespace" in k:
        for o in objs:
            if o["kind"] != "Namespace":
                o["metadata"]["namespace"] = k["namespace"]
    for img in k.get("images", []):
        for o in objs:
            for c in pod_containers(o):
                if c["image"] == img["name"] or c["image"].startswith(img["name"] + ":"):
                    c["image"] = "%s:%s" % (img.get("newName", img["name"]), img["newTag"])
    return objs


def one(objs, kind):
    found = [o for o in objs if o["kind"] == kind]
    if len(found) != 1:
        raise AssertionError("%d objects of kind %s" % (len(found), kind))
    return found[0]


def metrics_port(container):
    return [p for p in container["ports"] if p["name"] == "metrics"][0]["containerPort"]


def container_settings(objs, logroot, port):
    """podman run arguments for the DaemonSet's container, read from the manifest: what
    Kubernetes would give it. logroot stands for the node's /var/log, port for the metrics
    port (a free one: the test must not collide with a wsgitrace running on this host)."""
    spec = one(objs, "DaemonSet")["spec"]["template"]["spec"]
    c = spec["containers"][0]
    args = []
    if spec.get("hostPID"):
        args.append("--pid=host")
    if spec.get("hostNetwork"):
        args.append("--network=host")
    sc = c.get("securityContext", {})
    if sc.get("privileged"):
        args.append("--privileged")
    else:
        # Kubernetes' default when no seccompProfile is set; podman's is its own profile.
        args += ["--security-opt", "seccomp=%s" % {"RuntimeDefault": "/usr/share/containers/seccomp.json"}.get(
            sc.get("seccompProfile", {}).get("type"), "unconfined")]
    args += ["--cap-drop=%s" % x for x in sc.get("capabilities", {}).get("drop", [])]
    args += ["--cap-add=CAP_%s" % x for x in sc.get("capabilities", {}).get("add", [])]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        host = volumes[m["name"]]["hostPath"]["path"]
        if not host.startswith("/var/log/"):
            raise AssertionError("hostPath %s: the test stands in only for /var/log" % host)
        args += ["-v", "%s%s:%s%s" % (logroot, host[len("/var/log"):], m["mountPath"],
                                       ":ro" if m.get("readOnly") else "")]
    mport = metrics_port(c)
    cargs = []
    for a in c.get("args", []):
        if a.startswith("--listen="):
            if not a.endswith(":%d" % mport):
                raise AssertionError("%s does not listen on the metrics port %d" % (a, mport))
            a = "--listen=127.0.0.1:%d" % port
        cargs.append(a)
    return args, cargs


def readme_scrape_job():
    """The plain Prometheus job README.md gives for the DaemonSet."""
    with open(os.path.join(h.ROOT, "README.md")) as f:
        blocks = re.findall(r"```yaml\n(.*?)```", f.read(), re.S)
    jobs = [j for b in blocks for j in (yaml.safe_load(b) or {}).get("scrape_configs", [])
            if j.get("job_name") == "wsgitrace"]
    if len(jobs) != 1:
        raise AssertionError("README.md has %d wsgitrace scrape jobs" % len(jobs))
    return jobs[0]


# ---- containers ----

build_seconds = None


def setUpModule():
    global build_seconds
    t0 = time.monotonic()
    r = subprocess.run(["bash", os.path.join(h.ROOT, "scripts", "image.sh"), h.WSGITRACE],
                       capture_output=True, text=True)
    build_seconds = time.monotonic() - t0
    if r.returncode:
        raise AssertionError("scripts/image.sh failed:\n%s%s" % (r.stdout, r.stderr))
    print("\nimage: %s in %.1f s" % (r.stdout.strip(), build_seconds))


class Container(h.Tracer):
    """The image under podman, as a Tracer: /metrics on a free port of the host's loopback."""

    def __init__(self, run_args, cargs=(), mport=None, trace=False, name="wsgitrace-image"):
        self.mport = mport or h.free_port()
        self.cname = "wt-test-%d-%d" % (os.getpid(), self.mport)
        if not any(a.startswith("--listen") for a in cargs):
            cargs = ["--listen=127.0.0.1:%d" % self.mport] + list(cargs)
        argv = PODMAN + ["run", "--rm", "--name", self.cname] + limit_args() + list(run_args) + \
            [IMAGE] + list(cargs) + (["--trace"] if trace else [])
        h.Proc.__init__(self, argv, name, cwd=h.ROOT)
        self.wait_started(60, "the container")

    def host_pid(self):
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.cname).stdout)

    def cleanup(self):
        # SIGTERM reaches podman run, which passes it on to wsgitrace.
        super().cleanup()
        podman("rm", "--force", "--time", "5", self.cname, check=False)


class Node:
    """App containers as a kubelet would have them: each server in a container of its own
    (the host's root filesystem under an overlay, so it runs Debian's gunicorn and uWSGI),
    and pods/ and containers/ under logroot named as the kubelet names them."""

    def __init__(self):
        self.logroot = tempfile.mkdtemp(prefix="wt-node-")
        os.mkdir(os.path.join(self.logroot, "pods"))
        os.mkdir(os.path.join(self.logroot, "containers"))
        self.apps = []

    def app(self, namespace, pod, container, argv, port):
        name = "wt-app-%d-%d" % (os.getpid(), port)
        self.apps.append(name)
        r = podman("run", "--detach", "--name", name, *limit_args(), "--network=host",
                   "-v", "%s:/app:ro" % h.APPS, "--workdir", "/app", "--rootfs", "/:O", *argv)
        cid = r.stdout.strip()
        uid = str(uuid.uuid4())
        d = os.path.join(self.logroot, "pods", "%s_%s_%s" % (namespace, pod, uid), container)
        os.makedirs(d)
        os.symlink("/var/log/pods/%s_%s_%s/%s/0.log" % (namespace, pod, uid, container),
                   os.path.join(self.logroot, "containers", "%s_%s_%s-%s.log" % (pod, namespace, container, cid)))
        h.wait_for(lambda: h.port_open(port) or podman("inspect", "--format", "{{.State.Running}}",
                                                       name).stdout.strip() != "true",
                   timeout=60, what="%s on :%d" % (pod, port))
        if not h.port_open(port):
            raise AssertionError("%s exited: %s" % (pod, podman("logs", name, check=False).stderr))
        return cid

    def cleanup(self):
        for name in self.apps:
            podman("rm", "--force", "--time", "5", name, check=False)
        shutil.rmtree(self.logroot, ignore_errors=True)


# ---- tests ----

class TestImage(unittest.TestCase):
    def test_version_and_revision(self):
        want = subprocess.run([h.WSGITRACE, "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
        self.assertRegex(want, r"^wsgitrace %s \((?:[0-9a-f]{7,}|unknown)\)$" % re.escape(VERSION))
        got = podman("run", "--rm", *limit_args(), IMAGE, "--version").stdout.strip()
        self.assertEqual(got, want)
        labels = podman("image", "inspect", "--format",
                        "{{index .Labels \"org.opencontainers.image.version\"}} "
                        "{{index .Labels \"org.opencontainers.image.revision\"}}", IMAGE).stdout.split()
        self.assertEqual(labels, [VERSION, want.split("(")[1].rstrip(")")])

    def test_small(self):
        size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
        self.assertLess(size, 20 * 1024 * 1024, "the image is %d bytes" % size)


class TestManifests(unittest.TestCase):
    """deploy/kubernetes: what the daemon and this test rely on, and the API's schemas."""

    @classmethod
    def setUpClass(cls):
        cls.objs = {v: render(d) for v, d in VARIANTS.items()}

    def test_daemonset(self):
        for variant, objs in self.objs.items():
            with self.subTest(variant=variant):
                ds = one(objs, "DaemonSet")
                pod = ds["spec"]["template"]
                spec = pod["spec"]
                c = spec["containers"][0]
                self.assertEqual(ds["metadata"]["namespace"], one(objs, "Namespace")["metadata"]["name"])
                self.assertEqual(c["image"], IMAGE, "the image's tag follows VERSION")
                self.assertTrue(spec["hostPID"])
                self.assertIn({"operator": "Exists"}, spec["tolerations"])
                port = metrics_port(c)
                self.assertIn("--listen=0.0.0.0:%d" % port, c["args"])
                ann = pod["metadata"]["annotations"]
                self.assertEqual((ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]),
                                 ("true", str(port), "/metrics"))
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    self.assertEqual(c[probe]["httpGet"], {"path": "/healthz", "port": "metrics"}, probe)
                res = c["resources"]
                self.assertTrue(res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"])
                self.assertNotIn("cpu", res["limits"], "a CPU limit throttles the ring buffer's drain")
                mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
                self.assertEqual(sorted(mounts), ["/var/log/containers", "/var/log/pods"])
                self.assertTrue(all(m["readOnly"] for m in mounts.values()))
                self.assertEqual(sorted(v["hostPath"]["path"] for v in spec["volumes"]),
                                 ["/var/log/containers", "/var/log/pods"])
                self.assertIs(c["securityContext"]["readOnlyRootFilesystem"], True)
                sc = c["securityContext"]
                if variant == "least-privilege":
                    self.assertIs(sc["privileged"], False)
                    self.assertEqual(sc["capabilities"], {"drop": ["ALL"], "add": NEEDED_CAPS})
                else:
                    self.assertIs(sc["privileged"], True)

    def test_scraping(self):
        objs = self.objs["prometheus-operator"]
        ds = one(objs, "DaemonSet")
        labels = ds["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(ds["spec"]["selector"]["matchLabels"], labels)
        svc = one(objs, "Service")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertEqual(svc["spec"]["selector"], labels)
        self.assertEqual(svc["spec"]["ports"][0]["targetPort"], "metrics")
        pm = one(objs, "PodMonitor")
        self.assertEqual(pm["spec"]["selector"]["matchLabels"], labels)
        ep = pm["spec"]["podMetricsEndpoints"][0]
        self.assertEqual((ep["port"], ep["path"]), ("metrics", "/metrics"))
        self.assertIn({"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "instance"},
                      ep["relabelings"])
        for variant in ("privileged", "least-privilege"):
            self.assertEqual([o["kind"] for o in self.objs[variant]], ["Namespace", "DaemonSet", "Service"])

    def test_schemas(self):
        """Every rendered object against the API's own schemas (kubernetes-models from npm)."""
        d = os.path.join(h.ROOT, "build", "k8s-validate")
        os.makedirs(d, exist_ok=True)
        for f in ("package.json", "validate.mjs"):
            shutil.copy(os.path.join(DEPLOY, "validate", f), d)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=d,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        objs = [o for v in self.objs.values() for o in v]
        r = subprocess.run(["node", "validate.mjs"], cwd=d, input=json.dumps(objs), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("\nvalid ") + r.stdout.startswith("valid "), len(objs), r.stdout)
        # And it does reject what the API would.
        bad = copy.deepcopy(one(self.objs["privileged"], "DaemonSet"))
        bad["spec"]["template"]["spec"]["hostPID"] = "yes"
        r = subprocess.run(["node", "validate.mjs"], cwd=d, input=json.dumps([bad]), capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("hostPID", r.stdout)


class DaemonSetBase:
    """The DaemonSet's container of one variant, read from its manifest, on a node whose
    gunicorn and uWSGI run in pods."""
    variant = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        try:
            cls.gport, cls.uport = h.free_port(), h.free_port()
            cls.gunicorn_id = cls.node.app(
                "shop", "checkout-7c5ddbdf54-x7k2p", "web",
                [h.PY, h.GUNICORN, "-w", "2", "-b", "127.0.0.1:%d" % cls.gport, "--log-level", "warning",
                 "flask_app:app"], cls.gport)
            cls.uwsgi_id = cls.node.app(
                "billing", "invoices-0", "api",
                [h.UWSGI, "--plugin", "python3", "--module", "flask_app:app", "--master", "--processes", "2",
                 "--disable-logging", "--die-on-term", "--http-socket", "127.0.0.1:%d" % cls.uport], cls.uport)
            mport = h.free_port()
            run_args, cargs = container_settings(render(VARIANTS[cls.variant]), cls.node.logroot, mport)
            cls.tracer = Container(run_args, cargs, mport=mport, trace=True, name=cls.variant)
        except Exception:
            cls.node.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tracer.cleanup()
        cls.node.cleanup()

    def test_counts_each_pod_exactly(self):
        # gunicorn's master and 2 workers, uWSGI's master and 2 workers.
        h.wait_for(lambda: self.tracer.self_metric("wsgitrace_processes_traced") >= 6, timeout=30,
                   what="6 server processes traced")
        for _ in range(7):
            self.assertEqual(h.request(self.gport, "/test/")[0], 200)
        for _ in range(4):
            self.assertEqual(h.request(self.uport, "/test1/")[0], 500)
        # Each pod's series carry its labels; service_name is its Deployment's name, else
        # (a StatefulSet's pod) its container's.
        self.tracer.wait_counts({("GET", "/test/", "200"): 7}, service="checkout")
        self.tracer.wait_counts({("GET", "/test1/", "500"): 4}, service="api")
        pods = {}
        for (name, labels), v in self.tracer.metrics().items():
            d = dict(labels)
            if name == h.HIST + "_count":
                pods[d["service_name"]] = {k: d[k] for k in d if k.startswith("k8s_")}
        self.assertEqual(pods, {
            "checkout": {"k8s_namespace_name": "shop", "k8s_pod_name": "checkout-7c5ddbdf54-x7k2p",
                         "k8s_container_name": "web", "k8s_deployment_name": "checkout"},
            "api": {"k8s_namespace_name": "billing", "k8s_pod_name": "invoices-0", "k8s_container_name": "api"},
        })
        self.assertEqual(self.tracer.self_metric("wsgitrace_events_lost_total"), 0)

    def test_probes_answer(self):
        """The manifest's liveness and readiness probes ask /healthz."""
        self.assertEqual(self.tracer.raw("/healthz")[1], "ok\n")

    def test_loads_exactly_the_image(self):
        """Every shared object the running daemon mapped is one the image holds, and every
        one the image holds is mapped: nothing missing, nothing carried for nothing."""
        with open("/proc/%d/maps" % self.tracer.host_pid()) as f:
            mapped = {l.split()[-1] for l in f if ".so" in l.split()[-1]}
        staged = set()
        for d, _, files in os.walk(STAGED):
            staged |= {os.path.join(d, f)[len(STAGED):] for f in files if ".so" in f}
        self.assertEqual(mapped, staged)


class TestDaemonSet(DaemonSetBase, unittest.TestCase):
    variant = "privileged"

    def test_prometheus_job_sets_instance_to_node(self):
        """README's Prometheus job, its kubernetes_sd_configs replaced by a file that gives
        the labels Kubernetes' pod role gives this DaemonSet's pod (and a port it must not
        scrape): one target, instance = the node's name, exact counts by PromQL."""
        tmp = tempfile.mkdtemp(prefix="wt-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        job = readme_scrape_job()
        self.assertEqual(job["kubernetes_sd_configs"][0]["role"], "pod")
        meta = {"__meta_kubernetes_namespace": "wsgitrace", "__meta_kubernetes_pod_node_name": "node-a",
                "__meta_kubernetes_pod_name": "wsgitrace-x7k2p"}
        with open(os.path.join(tmp, "targets.json"), "w") as f:
            json.dump([{"targets": ["127.0.0.1:%d" % self.tracer.mport],
                        "labels": dict(meta, __meta_kubernetes_pod_container_port_name="metrics")},
                       {"targets": ["127.0.0.1:1"],
                        "labels": dict(meta, __meta_kubernetes_pod_container_port_name="debug")}], f)
        del job["kubernetes_sd_configs"]
        job["file_sd_configs"] = [{"files": [os.path.join(tmp, "targets.json")]}]
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                            "scrape_configs": [job]}, f)
        port = h.free_port()
        prom = h.Proc(["/usr/bin/prometheus", "--config.file", os.path.join(tmp, "prometheus.yml"),
                       "--storage.tsdb.path", os.path.join(tmp, "data"),
                       "--web.listen-address", "127.0.0.1:%d" % port], "prometheus", cwd=tmp)
        self.addCleanup(prom.cleanup)
        h.wait_for(lambda: h.port_open(port) or not prom.alive(), timeout=60, what="prometheus")
        self.assertTrue(prom.alive(), prom.output())
        for _ in range(3):
            self.assertEqual(h.request(self.gport, "/nocontent")[0], 204)

        def query(q):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return {tuple(sorted(x["metric"].items())): float(x["value"][1])
                            for x in json.load(r)["data"]["result"]}
            except OSError:  # 503 while Prometheus starts its storage, after it listens
                return None

        want = {(("instance", "node-a"),): 3.0}
        h.wait_for(lambda: query('sum by (instance) (http_server_request_duration_seconds_count'
                                 '{http_route="/nocontent"})') == want, timeout=60,
                   what="Prometheus's count of /nocontent by instance")
        self.assertEqual(query("up"), {(("__name__", "up"), ("instance", "node-a"), ("job", "wsgitrace")): 1.0})


class TestLeastPrivilege(DaemonSetBase, unittest.TestCase):
    variant = "least-privilege"
