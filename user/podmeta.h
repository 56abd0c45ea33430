/* SPDX-License-Identifier: MIT */
/*
 * Which Kubernetes pod and container a process runs in, from files every
 * node has: the process's cgroup path names its container id (and usually
 * its pod uid), and the kubelet's log folders name the namespace, pod and
 * container of each id. No API server, no RBAC, no runtime socket, and
 * nothing kept per pod of the cluster.
 */
#ifndef WT_PODMETA_H
#define WT_PODMETA_H

#include <stddef.h>
#include <stdint.h>

#define PODMETA_ID_LEN 64	/* container id: 64 lowercase hex digits */
#define PODMETA_UID_MAX 36	/* pod uid: a UUID, or 32 hex digits for static pods */
#define PODMETA_NS_MAX 63	/* namespace and container names: DNS labels */
#define PODMETA_NAME_MAX 253	/* pod and deployment names: DNS subdomains */

struct pod_ids {
	char container_id[PODMETA_ID_LEN + 1];
	char pod_uid[PODMETA_UID_MAX + 1];	/* "" when the cgroup path does not name it */
};

struct podmeta {
	struct pod_ids ids;
	char namespace_name[PODMETA_NS_MAX + 1];
	char pod_name[PODMETA_NAME_MAX + 1];
	char container_name[PODMETA_NS_MAX + 1];	/* "" when it cannot be told */
	char deployment_name[PODMETA_NAME_MAX + 1];	/* "" unless the pod name proves it */
};

/*
 * Container id and pod uid from the text of /proc/PID/cgroup (n bytes, not
 * necessarily NUL-terminated), cgroup v1 or v2, any line. Returns 0, or
 * -ENOENT when no line names a container (a process outside containers).
 */
int podmeta_parse_cgroup(const char *text, size_t n, struct pod_ids *out);

/*
 * Names of the pod container ids belongs to, from the folder and link names
 * the kubelet keeps under logroot ("/var/log" on a node):
 * containers/<pod>_<namespace>_<container>-<id>.log, else, by pod uid,
 * pods/<namespace>_<pod>_<uid>/<container>/. Returns 0, or -ENOENT when
 * neither names it (a container the kubelet did not start), or -errno.
 */
int podmeta_lookup(const char *logroot, const struct pod_ids *ids, struct podmeta *out);

/* Both of the above for one process; procroot is "/proc" on a node. */
int podmeta_of_pid(uint32_t pid, const char *procroot, const char *logroot, struct podmeta *out);

/*
 * The Deployment that owns a pod, from the name its ReplicaSet gave it:
 * <deployment>-<pod-template-hash>-<5 random characters>. Writes "" unless
 * the name has exactly that shape (see podmeta.c for what it proves).
 */
void podmeta_deployment_of(const char *pod_name, char *out, size_t outsz);

/*
 * The default service_name of a process in a pod: its Deployment, else its
 * container's name; NULL when m names neither (use the command line's).
 */
const char *podmeta_service_name(const struct podmeta *m);

#endif /* WT_PODMETA_H */
