// SPDX-License-Identifier: MIT
/*
 * Key layout: the service name, then for a pod the unit separator (0x1f)
 * before each of namespace, pod, container and deployment. Service names
 * come from command lines: a 0x1f in one becomes '_' so it cannot forge a
 * pod's labels; Kubernetes names never hold one.
 */
#include <string.h>

#include "promtext.h"
#include "svckey.h"

#define SEP '\x1f'

static const char *const pod_labels[] = {
	"k8s_namespace_name", "k8s_pod_name", "k8s_container_name", "k8s_deployment_name",
};

static size_t put(char *out, size_t outsz, size_t at, const char *s, int sanitize)
{
	for (; *s && at + 1 < outsz; s++)
		out[at++] = sanitize && *s == SEP ? '_' : *s;
	out[at] = 0;
	return at;
}

void svckey_make(char *out, size_t outsz, const char *service, const struct podmeta *m)
{
	const char *parts[4];
	size_t at;

	if (!outsz)
		return;
	at = put(out, outsz, 0, service ? service : "", 1);
	if (!m)
		return;
	parts[0] = m->namespace_name;
	parts[1] = m->pod_name;
	parts[2] = m->container_name;
	parts[3] = m->deployment_name;
	for (size_t i = 0; i < 4 && at + 1 < outsz; i++) {
		out[at++] = SEP;
		out[at] = 0;
		at = put(out, outsz, at, parts[i], 1);
	}
}

size_t svckey_service_len(const char *key)
{
	const char *sep = strchr(key, SEP);

	return sep ? (size_t)(sep - key) : strlen(key);
}

void svckey_render(struct strbuf *sb, const char *key)
{
	const char *val[4] = { 0 };
	size_t len[4] = { 0 }, n = svckey_service_len(key);
	const char *p = key + n;
	/* Label names in their sorted order: container, deployment, namespace, pod. */
	static const int order[4] = { 2, 3, 0, 1 };

	for (int i = 0; i < 4 && *p == SEP; i++) {
		const char *end;

		p++;
		end = strchr(p, SEP);
		val[i] = p;
		len[i] = end ? (size_t)(end - p) : strlen(p);
		p += len[i];
	}
	for (int k = 0; k < 4; k++) {
		int i = order[k];

		if (!len[i])
			continue;
		promtext_label_n(sb, pod_labels[i], val[i], len[i]);
		sb_putc(sb, ',');
	}
	/* As one literal: every series' label set ends here. */
	sb_puts(sb, "service_name=\"");
	promtext_label_value_n(sb, key, n);
	sb_putc(sb, '"');
}
