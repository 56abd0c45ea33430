// SPDX-License-Identifier: MIT
/*
 * Pod metadata: every cgroup path below is a /proc/PID/cgroup line (or file)
 * as containerd, CRI-O, docker and podman wrote it on real nodes, under the
 * cgroupfs and systemd drivers (only the kind node's own id is made up); the
 * log folders are laid out as the kubelet lays them out.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "podmeta.h"

/* Parses exactly n bytes copied into a buffer of n, so ASan catches any over-read. */
static int parse(const char *text, struct pod_ids *ids)
{
	size_t n = strlen(text);
	char *buf = malloc(n ? n : 1);
	int err;

	assert_non_null(buf);
	memcpy(buf, text, n);
	err = podmeta_parse_cgroup(buf, n, ids);
	free(buf);
	return err;
}

static void check_ids(const char *text, const char *id, const char *uid)
{
	struct pod_ids ids;

	assert_int_equal(parse(text, &ids), 0);
	assert_string_equal(ids.container_id, id);
	assert_string_equal(ids.pod_uid, uid);
}

static void check_none(const char *text)
{
	struct pod_ids ids;

	assert_int_equal(parse(text, &ids), -ENOENT);
	assert_string_equal(ids.container_id, "");
	assert_string_equal(ids.pod_uid, "");
}

/* cgroup v1, cgroupfs driver: /kubepods[/<qos>]/pod<uid>/<id>. */
static void test_cgroupfs_v1(void **state)
{
	/* containerd, minikube, besteffort */
	check_ids("12:memory:/kubepods/besteffort/pod72f9a42e-50d3-47ee-8ec7-0bccfb6ea7ae/"
		  "52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb0\n"
		  "1:name=systemd:/kubepods/besteffort/pod72f9a42e-50d3-47ee-8ec7-0bccfb6ea7ae/"
		  "52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb0\n",
		  "52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb0",
		  "72f9a42e-50d3-47ee-8ec7-0bccfb6ea7ae");
	/* CRI-O before it prefixed its cgroupfs names, burstable */
	check_ids("4:cpu,cpuacct:/kubepods/burstable/pod58662905-8ccc-11e7-a695-c85b76cda386/"
		  "1659f887a192f3515dd9b91a41d274abf29ca49de3d2330869131b2d93b45b94\n",
		  "1659f887a192f3515dd9b91a41d274abf29ca49de3d2330869131b2d93b45b94",
		  "58662905-8ccc-11e7-a695-c85b76cda386");
	/* CRI-O, guaranteed QoS (no QoS level), crio- prefix */
	check_ids("11:pids:/kubepods/pod03f3a69f-82ff-4368-a1aa-16ddaf74ac22/"
		  "crio-66d6d4ac9851cfcab8400277ad96770ce52c1d75eeac29046753875056eacaed\n",
		  "66d6d4ac9851cfcab8400277ad96770ce52c1d75eeac29046753875056eacaed",
		  "03f3a69f-82ff-4368-a1aa-16ddaf74ac22");
}

/* cgroup v1, systemd driver: kubepods-<qos>-pod<uid_>.slice/<runtime>-<id>.scope. */
static void test_systemd_v1(void **state)
{
	/* CRI-O, burstable: the whole file, with hierarchies that do not name it */
	check_ids("13:freezer:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/"
		  "crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope\n"
		  "12:cpuset:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/"
		  "crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope\n"
		  "11:files:/\n"
		  "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/"
		  "crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope\n",
		  "5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c",
		  "a5c1f8d5-1919-434d-add7-4afaafdaef89");
	/* docker, besteffort (kube-proxy on CentOS) */
	check_ids("1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/"
		  "docker-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope\n",
		  "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152",
		  "9692aa0e-748e-11e8-8dfa-76d458035df6");
	/* docker's cgroupfs under a systemd kubelet, the old QoS slice names */
	check_ids("11:memory:/system.slice/docker.service/BestEffort.slice/BestEffort-pod0d33f94b_ab1a_11e6_9e1a_68f7281d8004.slice/"
		  "0c34bcd7d02f321d0df7aa6ea703285b02abebc9096c5128c14091fc43ea1f3b\n",
		  "0c34bcd7d02f321d0df7aa6ea703285b02abebc9096c5128c14091fc43ea1f3b",
		  "0d33f94b-ab1a-11e6-9e1a-68f7281d8004");
}

/* cgroup v2: one "0::" line. */
static void test_v2(void **state)
{
	/* containerd, systemd driver, burstable */
	check_ids("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8dbc5577_d0e2_4706_8787_57d52c03ddf2.slice/"
		  "cri-containerd-14011c7d92a9e513dfd69211da0413dbf319a5e45a02b354ba6e98e10272542d.scope\n",
		  "14011c7d92a9e513dfd69211da0413dbf319a5e45a02b354ba6e98e10272542d",
		  "8dbc5577-d0e2-4706-8787-57d52c03ddf2");
	/* containerd, cgroupfs driver, guaranteed */
	check_ids("0::/kubepods/pod8dbc5577-d0e2-4706-8787-57d52c03ddf2/"
		  "14011c7d92a9e513dfd69211da0413dbf319a5e45a02b354ba6e98e10272542d\n",
		  "14011c7d92a9e513dfd69211da0413dbf319a5e45a02b354ba6e98e10272542d",
		  "8dbc5577-d0e2-4706-8787-57d52c03ddf2");
	/* read from a private cgroup namespace: the path climbs out of the reader's cgroup */
	check_ids("0::/../../../kubepods-burstable.slice/kubepods-burstable-poda91e6913_ec33_478f_a1b7_7e06fd239097.slice/"
		  "docker-66c9bbe20a402b7742ca1fed0ee197080326ccb06aa70b65e004c57e93651f94.scope\n",
		  "66c9bbe20a402b7742ca1fed0ee197080326ccb06aa70b65e004c57e93651f94",
		  "a91e6913-ec33-478f-a1b7-7e06fd239097");
	/* a sibling container of the reader's own pod: only the id is left */
	check_ids("0::/../cri-containerd-a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e.scope\n",
		  "a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e", "");
	/* containerd's own namespace as cgroup parent */
	check_ids("0::/k8s.io/502e4b47516ee1c552953e43ec602b3caac18ae4464a13f225e23d7637a4c342\n",
		  "502e4b47516ee1c552953e43ec602b3caac18ae4464a13f225e23d7637a4c342", "");
	/* kind: the node is itself a container, and the kubelet runs with cgroup-root /kubelet */
	check_ids("0::/docker/3d4e2b70d7b3f6a3b8c1e0b1f2a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6/kubelet.slice/kubelet-kubepods.slice/"
		  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod1e597579_417e_482f_bf65_5fe170c3aebd.slice/"
		  "cri-containerd-a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e.scope\n",
		  "a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e",
		  "1e597579-417e-482f-bf65-5fe170c3aebd");
}

/* containerd with systemd-style parents but runc without --systemd-cgroup: "slice:prefix:id". */
static void test_colon_form(void **state)
{
	check_ids("11:pids:/system.slice/containerd.service/kubepods-burstable-podb4f3dfaf_f987_499d_a04c_2c60eb01958c.slice:"
		  "cri-containerd:f659de946112140fd722cddfd24015a8c9fce51b7ab7f007ac30612b6f9acfc9\n",
		  "f659de946112140fd722cddfd24015a8c9fce51b7ab7f007ac30612b6f9acfc9",
		  "b4f3dfaf-f987-499d-a04c-2c60eb01958c");
	/* a static pod (uid: 32 hex digits, the manifest's hash), guaranteed QoS */
	check_ids("7:devices:/system.slice/containerd.service/kubepods-pod80540e95304d8cece2ae2afafd8b8976.slice:"
		  "cri-containerd:7a1453c6e7ab8af7395ccc8dac5efcffa94a0834aa7b252e1dcd5b51f92bf13e\n",
		  "7a1453c6e7ab8af7395ccc8dac5efcffa94a0834aa7b252e1dcd5b51f92bf13e",
		  "80540e95304d8cece2ae2afafd8b8976");
}

/* podman on a test machine (cgroup v1 with v2 beside it): an id, no pod. */
static void test_podman(void **state)
{
	check_ids("9:name=systemd:/libpod_parent/libpod-5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e\n"
		  "8:pids:/libpod_parent/libpod-5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e\n"
		  "4:memory:/libpod_parent/libpod-5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e\n"
		  "1:cpu:/libpod_parent/libpod-5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e\n"
		  "0::/libpod_parent/libpod-5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e\n",
		  "5d904073254edd95afaa197a11d2cc32f0aa8e9842f24470438f716182f02f2e", "");
}

/* Processes outside containers, and what only looks like one. */
static void test_not_containers(void **state)
{
	/* a shell on a host whose memory cgroup is named by a 32-digit id */
	check_none("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/2537ce66a7343723a220c6764a147ee2\n1:cpu:/\n0::/\n");
	check_none("0::/system.slice/containerd.service\n");
	check_none("0::/user.slice/user-1000.slice/session-2.scope\n");
	check_none("0::/init.scope\n");
	/* CRI-O's monitor process: in the pod's slice, not in the container */
	check_none("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/"
		   "crio-conmon-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope\n");
	/* the pod's own cgroup, no container below it */
	check_none("0::/kubepods/burstable/pod72f9a42e-50d3-47ee-8ec7-0bccfb6ea7ae\n");
	/* ids one digit short, one too long, uppercase */
	check_none("0::/kubepods/pod72f9a42e-50d3-47ee-8ec7-0bccfb6ea7ae/"
		   "52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb\n");
	check_none("0::/docker-52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb00.scope\n");
	check_none("0::/52371E0EDD6309DA3D4EAEE6D303AA3401ABBEF92C34C2B1DDBA7B28D82D6CB0\n");
	check_none("");
	check_none("garbage without colons\n::\n0:\n");
}

/* A pod segment that is not a uid is ignored; the container is still found. */
static void test_odd_pod_segments(void **state)
{
	check_ids("0::/kubepods/burstable/podnotauid/52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb0\n",
		  "52371e0edd6309da3d4eaee6d303aa3401abbef92c34c2b1ddba7b28d82d6cb0", "");
	/* a v1 line that names the container but not the pod, then one that names both */
	check_ids("1:name=systemd:/../cri-containerd-a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e.scope\n"
		  "0::/kubepods/pod1e597579-417e-482f-bf65-5fe170c3aebd/a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e\n",
		  "a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e",
		  "1e597579-417e-482f-bf65-5fe170c3aebd");
}

/* Every prefix of a real file: a cut id is never taken for an id. */
static void test_every_truncation(void **state)
{
	const char *full = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/"
			   "cri-containerd-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope\n";
	size_t n = strlen(full), idend = strstr(full, ".scope") - full;

	for (size_t k = 0; k <= n; k++) {
		char *buf = malloc(k ? k : 1);
		struct pod_ids ids;
		int err;

		memcpy(buf, full, k);
		err = podmeta_parse_cgroup(buf, k, &ids);
		free(buf);
		/* "<id>.sc" is not an id either: a cut ".scope" fails too */
		if (k == idend || k >= idend + strlen(".scope"))
			assert_int_equal(err, 0);
		else
			assert_int_equal(err, -ENOENT);
	}
}

/* ---- the kubelet's log folders ---- */

#define DEPLOY_ID "14011c7d92a9e513dfd69211da0413dbf319a5e45a02b354ba6e98e10272542d"
#define SIDECAR_ID "5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c"
#define STS_ID "0c34bcd7d02f321d0df7aa6ea703285b02abebc9096c5128c14091fc43ea1f3b"
#define LONE_ID "66c9bbe20a402b7742ca1fed0ee197080326ccb06aa70b65e004c57e93651f94"
#define DEPLOY_UID "8dbc5577-d0e2-4706-8787-57d52c03ddf2"
#define STS_UID "0d33f94b-ab1a-11e6-9e1a-68f7281d8004"
#define LONE_UID "a91e6913-ec33-478f-a1b7-7e06fd239097"
#define TWO_UID "b4f3dfaf-f987-499d-a04c-2c60eb01958c"

static char root[64];

static void mkdirs(const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

/* What the kubelet makes for one container: its log folder and the link to it. */
static void container(const char *ns, const char *pod, const char *uid, const char *name,
		      const char *id)
{
	char dir[256], link[512], target[512];

	snprintf(dir, sizeof(dir), "pods/%s_%s_%s/%s", ns, pod, uid, name);
	mkdirs(dir);
	snprintf(target, sizeof(target), "/var/log/%s/0.log", dir);
	snprintf(link, sizeof(link), "%s/containers/%s_%s_%s-%s.log", root, pod, ns, name, id);
	assert_int_equal(symlink(target, link), 0);
}

static int setup_logroot(void **state)
{
	strcpy(root, "/tmp/wsgitrace-podmeta-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkdirs("containers");
	container("shop", "checkout-7c5ddbdf54-x7k2p", DEPLOY_UID, "web", DEPLOY_ID);
	container("shop", "checkout-7c5ddbdf54-x7k2p", DEPLOY_UID, "istio-proxy", SIDECAR_ID);
	container("data", "db-0", STS_UID, "postgres", STS_ID);
	/* pods whose containers have no link (the kubelet had not made it yet) */
	mkdirs("pods/jobs_report-28391520-x7k2p_" LONE_UID "/report");
	mkdirs("pods/web_front_" TWO_UID "/app");
	mkdirs("pods/web_front_" TWO_UID "/init-db");
	/* what is not the kubelet's: ignored */
	mkdirs("pods/not-a-pod-folder");
	return 0;
}

static int teardown_logroot(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void lookup(const char *id, const char *uid, int err, const char *ns, const char *pod,
		   const char *ctr, const char *deploy, const char *uid_after)
{
	struct pod_ids ids = { 0 };
	struct podmeta m;

	strcpy(ids.container_id, id);
	strcpy(ids.pod_uid, uid);
	assert_int_equal(podmeta_lookup(root, &ids, &m), err);
	assert_string_equal(m.namespace_name, ns);
	assert_string_equal(m.pod_name, pod);
	assert_string_equal(m.container_name, ctr);
	assert_string_equal(m.deployment_name, deploy);
	assert_string_equal(m.ids.pod_uid, uid_after);
	assert_string_equal(m.ids.container_id, err ? "" : id);
}

static void test_lookup_by_container(void **state)
{
	lookup(DEPLOY_ID, DEPLOY_UID, 0, "shop", "checkout-7c5ddbdf54-x7k2p", "web", "checkout", DEPLOY_UID);
	/* no uid in the cgroup path (k8s.io/<id>): the link's target gives it */
	lookup(DEPLOY_ID, "", 0, "shop", "checkout-7c5ddbdf54-x7k2p", "web", "checkout", DEPLOY_UID);
	lookup(SIDECAR_ID, "", 0, "shop", "checkout-7c5ddbdf54-x7k2p", "istio-proxy", "checkout", DEPLOY_UID);
	lookup(STS_ID, STS_UID, 0, "data", "db-0", "postgres", "", STS_UID);
}

static void test_lookup_by_pod(void **state)
{
	/* one container folder: it is the container */
	lookup(LONE_ID, LONE_UID, 0, "jobs", "report-28391520-x7k2p", "report", "", LONE_UID);
	/* two: which one cannot be told */
	lookup(LONE_ID, TWO_UID, 0, "web", "front", "", "", TWO_UID);
}

static void test_lookup_unknown(void **state)
{
	/* a container the kubelet did not start (podman, docker run) */
	lookup(LONE_ID, "", -ENOENT, "", "", "", "", "");
	lookup(LONE_ID, "00000000-0000-0000-0000-000000000000", -ENOENT, "", "", "", "", "");
	{
		struct pod_ids ids = { .container_id = DEPLOY_ID };
		struct podmeta m;

		assert_int_equal(podmeta_lookup("/nonexistent-wsgitrace-logroot", &ids, &m), -ENOENT);
	}
}

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_of_pid(void **state)
{
	char procroot[128];
	struct podmeta m;

	/* a /proc of its own under the test root: proc/4242/cgroup */
	mkdirs("proc/4242");
	write_file("proc/4242/cgroup",
		   "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8dbc5577_d0e2_4706_8787_57d52c03ddf2.slice/"
		   "cri-containerd-" DEPLOY_ID ".scope\n");
	snprintf(procroot, sizeof(procroot), "%s/proc", root);
	assert_int_equal(podmeta_of_pid(4242, procroot, root, &m), 0);
	assert_string_equal(m.namespace_name, "shop");
	assert_string_equal(m.pod_name, "checkout-7c5ddbdf54-x7k2p");
	assert_string_equal(m.container_name, "web");
	assert_string_equal(m.deployment_name, "checkout");
	assert_string_equal(podmeta_service_name(&m), "checkout");
	assert_int_equal(podmeta_of_pid(4243, procroot, root, &m), -ENOENT);
	/* this test process, on the real /proc: not one of the test root's containers */
	assert_int_equal(podmeta_of_pid((uint32_t)getpid(), "/proc", root, &m), -ENOENT);
	assert_null(podmeta_service_name(&m));
}

static void deploy(const char *pod, const char *want)
{
	char out[PODMETA_NAME_MAX + 1];

	podmeta_deployment_of(pod, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_deployment_name(void **state)
{
	deploy("checkout-7c5ddbdf54-x7k2p", "checkout");
	deploy("coredns-5d78c9869d-7xk2p", "coredns");
	deploy("nginx-deployment-66b6c48dd5-4jw2j", "nginx-deployment");
	deploy("my-app-v2-6b474476c4-zq9wt", "my-app-v2");
	/* a 9-character hash (a 32-bit value below 10^9) */
	deploy("api-59d4bc78f-2xvkl", "api");
	/* 62 characters: the ReplicaSet's name was not cut */
	deploy("payments-platform-checkout-api-europe-west1-a-5d78c9869d-x7k2p",
	       "payments-platform-checkout-api-europe-west1-a");
	/* 63: it may have been, so the name proves nothing */
	deploy("payments-platform-checkout-api-europe-west1-ab-5d78c9869d-x7k2p", "");
	/* StatefulSet, DaemonSet, Job of a CronJob, static pod, bare pod */
	deploy("db-0", "");
	deploy("fluentd-x7k2p", "");
	deploy("cache-db-x7k2p", "");
	deploy("backup-28391520-x7k2p", "");
	deploy("kube-apiserver-node1", "");
	deploy("debug", "");
	deploy("", "");
	/* a hash with a letter or digit the encoding never produces */
	deploy("checkout-7c5ddbda54-x7k2p", "");
	deploy("checkout-7c5ddbd354-x7k2p", "");
	/* a hash too short or too long to be one */
	deploy("checkout-7c5dd-x7k2p", "");
	deploy("checkout-7c5ddbdf54b-x7k2p", "");
	/* a suffix of the wrong length or alphabet */
	deploy("checkout-7c5ddbdf54-x7k2", "");
	deploy("checkout-7c5ddbdf54-x7ka2", "");
	deploy("checkout-7c5ddbdf54-x7k2pp", "");
	/* no name before the hash */
	deploy("-7c5ddbdf54-x7k2p", "");
	deploy("7c5ddbdf54-x7k2p", "");
	{
		char small[4];

		podmeta_deployment_of("checkout-7c5ddbdf54-x7k2p", small, sizeof(small));
		assert_string_equal(small, "");
	}
}

static void test_service_name(void **state)
{
	struct podmeta m = { 0 };

	assert_null(podmeta_service_name(&m));
	strcpy(m.container_name, "web");
	assert_string_equal(podmeta_service_name(&m), "web");
	strcpy(m.deployment_name, "checkout");
	assert_string_equal(podmeta_service_name(&m), "checkout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroupfs_v1),
		cmocka_unit_test(test_systemd_v1),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_colon_form),
		cmocka_unit_test(test_podman),
		cmocka_unit_test(test_not_containers),
		cmocka_unit_test(test_odd_pod_segments),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_lookup_by_container),
		cmocka_unit_test(test_lookup_by_pod),
		cmocka_unit_test(test_lookup_unknown),
		cmocka_unit_test(test_of_pid),
		cmocka_unit_test(test_deployment_name),
		cmocka_unit_test(test_service_name),
	};

	return cmocka_run_group_tests_name("podmeta", tests, setup_logroot, teardown_logroot);
}
