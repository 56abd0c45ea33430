// SPDX-License-Identifier: MIT
/*
 * Pod metadata from the node itself. The cgroup path forms this accepts, as
 * the runtimes write them (the pod uid has '_' for '-' in systemd slices):
 *
 *   cgroupfs driver   /kubepods/burstable/pod<uid>/<id>          containerd, docker
 *                     /kubepods/pod<uid>/crio-<id>                CRI-O (guaranteed QoS)
 *   systemd driver    /kubepods.slice/kubepods-besteffort.slice/
 *                       kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope
 *                       (or crio-<id>.scope, docker-<id>.scope)
 *   containerd with systemd-style names but runc without --systemd-cgroup:
 *                     /system.slice/containerd.service/kubepods-burstable-pod<uid>.slice:cri-containerd:<id>
 *   containerd outside the kubelet's hierarchy: /k8s.io/<id>
 *   a private cgroup namespace (cgroup v2): /../../kubepods-...-pod<uid>.slice/docker-<id>.scope
 *
 * The last path segment that holds a container id is the container (kind and
 * other nested nodes put the node's own container id first); the pod uid is
 * the nearest pod segment before it. crio-conmon-<id>.scope is CRI-O's
 * monitor process, not the container, and is not matched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podmeta.h"

struct span {
	const char *p;
	size_t n;
};

static bool ends_with(struct span s, const char *suffix)
{
	size_t k = strlen(suffix);

	return s.n >= k && memcmp(s.p + s.n - k, suffix, k) == 0;
}

static bool starts_with(struct span s, const char *prefix)
{
	size_t k = strlen(prefix);

	return s.n >= k && memcmp(s.p, prefix, k) == 0;
}

static struct span drop_prefix(struct span s, size_t k)
{
	return (struct span){ s.p + k, s.n - k };
}

/* Runtimes and the kubelet write ids and uids in lowercase. */
static bool hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_hex(struct span s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!hex_digit(s.p[i]))
			return false;
	return true;
}

/* The k-th '/'-separated component of s, counted from its end (0: the last). */
static struct span nth_from_end(struct span s, int k)
{
	size_t end = s.n, start;

	for (;;) {
		start = end;
		while (start > 0 && s.p[start - 1] != '/')
			start--;
		if (k-- == 0 || start == 0)
			break;
		end = start - 1;
	}
	return k < 0 ? (struct span){ s.p + start, end - start } : (struct span){ s.p, 0 };
}

static bool take_container_id(struct span s, char *id)
{
	if (s.n != PODMETA_ID_LEN || !is_hex(s))
		return false;
	memcpy(id, s.p, s.n);
	id[s.n] = 0;
	return true;
}

/*
 * A pod uid as the kubelet names it: a UUID, or 32 hex digits (a static
 * pod's uid is a hash of its manifest). sep is '_' in systemd slice names.
 */
static bool take_pod_uid(struct span s, char sep, char *uid)
{
	if (s.n == 32 && is_hex(s)) {
		memcpy(uid, s.p, s.n);
		uid[s.n] = 0;
		return true;
	}
	if (s.n != 36)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s.p[i];

		if (dash ? c != sep : !hex_digit(c))
			return false;
		uid[i] = dash ? '-' : c;
	}
	uid[s.n] = 0;
	return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods-burstable-pod<uid_>.slice" (systemd). */
static bool pod_segment(struct span s, char *uid)
{
	if (ends_with(s, ".slice")) {
		size_t i;

		s.n -= 6;
		for (i = s.n; i > 0 && s.p[i - 1] != '-'; i--)
			;
		s = drop_prefix(s, i);
		return starts_with(s, "pod") && take_pod_uid(drop_prefix(s, 3), '_', uid);
	}
	return starts_with(s, "pod") && take_pod_uid(drop_prefix(s, 3), '-', uid);
}

static const char *const runtime_prefixes[] = { "cri-containerd-", "crio-", "docker-", "libpod-" };

/*
 * "<id>", "<runtime>-<id>[.scope]", or "<pod slice>:<runtime>:<id>", which
 * also names the pod (uid left untouched otherwise).
 */
static bool container_segment(struct span s, char *id, char *uid)
{
	const char *colon = memchr(s.p, ':', s.n);

	if (colon) {
		const char *last = s.p + s.n;

		while (last[-1] != ':')
			last--;
		if (!take_container_id((struct span){ last, (size_t)(s.p + s.n - last) }, id))
			return false;
		if (!pod_segment((struct span){ s.p, (size_t)(colon - s.p) }, uid))
			uid[0] = 0;
		return true;
	}
	if (ends_with(s, ".scope"))
		s.n -= 6;
	for (size_t i = 0; i < sizeof(runtime_prefixes) / sizeof(runtime_prefixes[0]); i++) {
		if (starts_with(s, runtime_prefixes[i])) {
			s = drop_prefix(s, strlen(runtime_prefixes[i]));
			break;
		}
	}
	return take_container_id(s, id);
}

static bool path_ids(struct span path, struct pod_ids *out)
{
	char uid[PODMETA_UID_MAX + 1] = "";
	bool found = false;
	size_t i = 0;

	while (i < path.n) {
		struct span seg = { path.p + i, 0 };

		while (i < path.n && path.p[i] != '/')
			i++;
		seg.n = (size_t)(path.p + i - seg.p);
		i++;
		if (!seg.n)
			continue;
		if (container_segment(seg, out->container_id, uid)) {
			memcpy(out->pod_uid, uid, sizeof(uid));
			found = true;
		} else {
			pod_segment(seg, uid);
		}
	}
	return found;
}

int podmeta_parse_cgroup(const char *text, size_t n, struct pod_ids *out)
{
	bool found = false;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	while (i < n && !(found && out->pod_uid[0])) {
		const char *line = text + i, *end = memchr(line, '\n', n - i);
		const char *path;
		struct pod_ids ids = { 0 };

		if (!end)
			end = text + n;
		i = (size_t)(end - text) + 1;
		/* hierarchy-id:controllers:path; the path itself may hold colons. */
		path = memchr(line, ':', (size_t)(end - line));
		path = path ? memchr(path + 1, ':', (size_t)(end - path - 1)) : NULL;
		if (!path)
			continue;
		path++;
		if (!path_ids((struct span){ path, (size_t)(end - path) }, &ids))
			continue;
		/* Keep the first line that names the container, or one that also names its pod. */
		if (!found || (!out->pod_uid[0] && ids.pod_uid[0]))
			*out = ids;
		found = true;
	}
	return found ? 0 : -ENOENT;
}

/* Kubernetes names in folder names: lowercase DNS labels and subdomains. */
static bool take_name(struct span s, char *out, size_t max)
{
	if (!s.n || s.n > max)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	memcpy(out, s.p, s.n);
	out[s.n] = 0;
	return true;
}

/* "a_b_c" -> a, b, c; names never hold '_', so exactly two of them. */
static bool split3(struct span s, struct span part[3])
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= s.n; i++) {
		if (i < s.n && s.p[i] != '_')
			continue;
		if (k == 3)
			return false;
		part[k++] = (struct span){ s.p + start, i - start };
		start = i + 1;
	}
	return k == 3;
}

/* Opens parent/sub, leaving its path in dir; NULL with *err set when it cannot. */
static DIR *open_dir(const char *parent, const char *sub, char *dir, size_t dirsz, int *err)
{
	DIR *d;

	if (snprintf(dir, dirsz, "%s/%s", parent, sub) >= (int)dirsz) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	d = opendir(dir);
	if (!d)
		*err = -errno;
	return d;
}

/*
 * containers/<pod>_<namespace>_<container>-<id>.log links to
 * pods/<namespace>_<pod>_<uid>/<container>/<restart>.log; the link's target
 * gives the pod uid when the cgroup path did not.
 */
static int by_container(const char *logroot, const char *id, struct podmeta *m)
{
	char dir[PATH_MAX], suffix[PODMETA_ID_LEN + 6], target[PATH_MAX];
	struct dirent *e;
	int err = -ENOENT;
	DIR *d;

	snprintf(suffix, sizeof(suffix), "-%s.log", id);
	d = open_dir(logroot, "containers", dir, sizeof(dir), &err);
	if (!d)
		return err;
	err = -ENOENT;
	while ((e = readdir(d))) {
		struct span name = { e->d_name, strlen(e->d_name) }, part[3];
		ssize_t tn;

		if (!ends_with(name, suffix))
			continue;
		name.n -= strlen(suffix);
		if (!split3(name, part) || !take_name(part[0], m->pod_name, PODMETA_NAME_MAX) ||
		    !take_name(part[1], m->namespace_name, PODMETA_NS_MAX) ||
		    !take_name(part[2], m->container_name, PODMETA_NS_MAX))
			continue;
		err = 0;
		if (m->ids.pod_uid[0])
			break;
		/* .../pods/<namespace>_<pod>_<uid>/<container>/<n>.log */
		tn = readlinkat(dirfd(d), e->d_name, target, sizeof(target));
		if (tn > 0 && split3(nth_from_end((struct span){ target, (size_t)tn }, 2), part))
			take_pod_uid(part[2], '-', m->ids.pod_uid);
		break;
	}
	closedir(d);
	return err;
}

/* The only container folder of a pod, when there is only one. */
static void sole_container(const char *podsdir, const char *pod, char *out)
{
	char dir[PATH_MAX];
	struct dirent *e;
	int seen = 0, err;
	DIR *d;

	d = open_dir(podsdir, pod, dir, sizeof(dir), &err);
	if (!d)
		return;
	while ((e = readdir(d)) && seen < 2) {
		struct stat st;

		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		if (e->d_type == DT_UNKNOWN &&
		    (fstatat(dirfd(d), e->d_name, &st, 0) || !S_ISDIR(st.st_mode)))
			continue;
		if (++seen == 1 && !take_name((struct span){ e->d_name, strlen(e->d_name) }, out,
					      PODMETA_NS_MAX))
			seen = 2;
	}
	closedir(d);
	if (seen != 1)
		out[0] = 0;
}

/* pods/<namespace>_<pod>_<uid>/ names the pod; its container only when it has one. */
static int by_pod(const char *logroot, const char *uid, struct podmeta *m)
{
	char dir[PATH_MAX];
	struct dirent *e;
	int err = -ENOENT;
	DIR *d;

	d = open_dir(logroot, "pods", dir, sizeof(dir), &err);
	if (!d)
		return err;
	err = -ENOENT;
	while ((e = readdir(d))) {
		struct span name = { e->d_name, strlen(e->d_name) }, part[3];

		if (!split3(name, part) || part[2].n != strlen(uid) || memcmp(part[2].p, uid, part[2].n) ||
		    !take_name(part[0], m->namespace_name, PODMETA_NS_MAX) ||
		    !take_name(part[1], m->pod_name, PODMETA_NAME_MAX))
			continue;
		sole_container(dir, e->d_name, m->container_name);
		err = 0;
		break;
	}
	closedir(d);
	return err;
}

int podmeta_lookup(const char *logroot, const struct pod_ids *ids, struct podmeta *out)
{
	int err = -ENOENT;

	memset(out, 0, sizeof(*out));
	out->ids = *ids;
	if (ids->container_id[0])
		err = by_container(logroot, ids->container_id, out);
	if (err == -ENOENT && ids->pod_uid[0]) {
		memset(out, 0, sizeof(*out));
		out->ids = *ids;
		err = by_pod(logroot, ids->pod_uid, out);
	}
	if (err) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	podmeta_deployment_of(out->pod_name, out->deployment_name, sizeof(out->deployment_name));
	return 0;
}

int podmeta_of_pid(uint32_t pid, const char *procroot, const char *logroot, struct podmeta *out)
{
	/* cgroup v1 lists a dozen hierarchies with paths of ~200 bytes each. */
	char path[PATH_MAX], text[16384];
	struct pod_ids ids;
	ssize_t n;
	int fd, err;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%u/cgroup", procroot, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	err = podmeta_parse_cgroup(text, (size_t)n, &ids);
	return err ? err : podmeta_lookup(logroot, &ids, out);
}

/* k8s.io/apimachinery's rand alphabet (no vowels, no 0, 1, 3). */
static const char safe_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

static bool all_in(struct span s, const char *alphabet)
{
	for (size_t i = 0; i < s.n; i++)
		if (!s.p[i] || !strchr(alphabet, s.p[i]))
			return false;
	return true;
}

/*
 * The ReplicaSet controller names a pod <replicaset>-<5 random characters of
 * safe_alphabet>, and the Deployment controller names its ReplicaSet
 * <deployment>-<pod-template-hash>: the decimal digits of a 32-bit hash, each
 * mapped into safe_alphabet, which leaves only "456789bcdf", 1 to 10 of them
 * (6 or more for all but 1 in 40,000 hashes). A pod name of that exact shape
 * is taken as a Deployment's; the hash's 10-letter alphabet without vowels is
 * what keeps StatefulSet (-<ordinal>), DaemonSet and Job (one suffix) pods and
 * hand-named pods out. At 63 characters the ReplicaSet's part may have been
 * cut to fit, so such a name proves nothing. A bare ReplicaSet (or another
 * controller) named like a Deployment's is the one case this takes wrongly.
 */
void podmeta_deployment_of(const char *pod_name, char *out, size_t outsz)
{
	struct span s = { pod_name, strlen(pod_name) }, hash;
	size_t i;

	if (outsz)
		out[0] = 0;
	if (s.n >= 63 || s.n < 1 + 1 + 6 + 1 + 5 || s.p[s.n - 6] != '-' ||
	    !all_in((struct span){ s.p + s.n - 5, 5 }, safe_alphabet))
		return;
	s.n -= 6;
	for (i = s.n; i > 0 && s.p[i - 1] != '-'; i--)
		;
	hash = drop_prefix(s, i);
	if (i < 2 || hash.n < 6 || hash.n > 10 || !all_in(hash, "456789bcdf") || s.p[i - 2] == '-')
		return;
	if (i - 1 < outsz) {
		memcpy(out, s.p, i - 1);
		out[i - 1] = 0;
	}
}

const char *podmeta_service_name(const struct podmeta *m)
{
	if (m->deployment_name[0])
		return m->deployment_name;
	if (m->container_name[0])
		return m->container_name;
	return NULL;
}
