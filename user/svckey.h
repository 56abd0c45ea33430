/* SPDX-License-Identifier: MIT */
/*
 * The key a process's series are kept under: its service name and, for a
 * process in a Kubernetes pod, the pod's labels. One string, so the
 * aggregation keys, caps and sorts by it unchanged (a cap per service is a
 * cap per service and pod), and one renderer turns it into labels:
 * k8s_container_name, k8s_deployment_name, k8s_namespace_name,
 * k8s_pod_name (each only when known) and service_name.
 */
#ifndef WT_SVCKEY_H
#define WT_SVCKEY_H

#include <stddef.h>

#include "podmeta.h"
#include "strbuf.h"

#define SVCKEY_MAX 768

/* service alone (m NULL), or with m's labels; cut to outsz - 1 bytes at most. */
void svckey_make(char *out, size_t outsz, const char *service, const struct podmeta *m);
/* Length of the service name at the start of key. */
size_t svckey_service_len(const char *key);
/* Appends the label pairs, escaped: `k8s_...="...",...,service_name="..."`. */
void svckey_render(struct strbuf *sb, const char *key);

#endif /* WT_SVCKEY_H */
