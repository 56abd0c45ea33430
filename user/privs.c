// SPDX-License-Identifier: MIT
#include "privs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/capability.h>

#include "strbuf.h"

/* Not in every linux/capability.h this builds against. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct caps {
	uint64_t eff, prm, inh;
};

static int caps_get(struct caps *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &hdr, d))
		return -1;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(const struct caps *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh},
		{(uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32)},
	};

	return syscall(SYS_capset, &hdr, d) ? -1 : 0;
}

#define BIT(cap) (1ull << (cap))

const char *privs_missing_for_load(void)
{
	struct caps c;

	if (caps_get(&c) || (c.eff & BIT(CAP_SYS_ADMIN)))
		return NULL;
	if (!(c.eff & BIT(CAP_BPF)) && !(c.eff & BIT(CAP_PERFMON)))
		return "CAP_BPF and CAP_PERFMON";
	if (!(c.eff & BIT(CAP_BPF)))
		return "CAP_BPF";
	if (!(c.eff & BIT(CAP_PERFMON)))
		return "CAP_PERFMON";
	return NULL;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/*
 * Whether reading a map through an fd we hold needs CAP_BPF on this
 * kernel (before 6.5, every bpf() command did when unprivileged BPF is
 * disabled). Tried on a map of our own with CAP_BPF and CAP_SYS_ADMIN
 * out of the effective set for the moment.
 */
static bool map_access_needs_cap(const struct caps *full)
{
	union bpf_attr a = {};
	struct caps less = *full;
	uint32_t key = 0;
	uint64_t val;
	bool need;
	int fd;

	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(key);
	a.value_size = sizeof(val);
	a.max_entries = 1;
	fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
	if (fd < 0)
		return true; /* cannot tell: keep it */
	less.eff &= ~(BIT(CAP_BPF) | BIT(CAP_SYS_ADMIN));
	if (caps_set(&less)) {
		close(fd);
		return true;
	}
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)&val;
	need = sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) != 0;
	caps_set(full);
	close(fd);
	return need;
}

int privs_drop(char *kept, size_t keptlen, char *err, size_t errlen)
{
	struct caps c, want = {};
	unsigned long cap;

	if (caps_get(&c)) {
		err_printf(err, errlen, "cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	if (map_access_needs_cap(&c) && (c.prm & BIT(CAP_BPF)))
		want.prm = want.eff = BIT(CAP_BPF);
	/*
	 * The bounding set first, while CAP_SETPCAP is still effective. Without
	 * it (a container granted only what loading needs) the bounding set
	 * stays: with no_new_privs, an exec could not regain anything anyway.
	 */
	for (cap = 0; cap < 64 && (c.eff & BIT(CAP_SETPCAP)); cap++) {
		if (want.prm & BIT(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) {
			err_printf(err, errlen, "cannot drop capability %lu from the bounding set: %s", cap,
				   strerror(errno));
			return -1;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (caps_set(&want) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		err_printf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
		return -1;
	}
	err_printf(kept, keptlen, "%s", want.prm ? "CAP_BPF" : "none");
	return 0;
}
