/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Where kernels differ in what the programs read, one place for each
 * difference, with the kernel change that made it (as libbpf-tools keeps
 * core_fixes.bpf.h). The programs call these and read clean.
 */
#ifndef WT_CORE_FIXES_BPF_H
#define WT_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define USER_CS 0x33 /* __USER_CS: pt_regs->cs of a 64-bit user task */

/*
 * The syscall's user registers, as the entry code saved them: a struct
 * pt_regs just below the top of the task's kernel stack (the kernel's
 * task_pt_regs(), which raw tracepoints cannot call: bpf_task_pt_regs is for
 * tracing programs only). How far below the top differs by kernel build:
 *  - THREAD_SIZE: 16 KiB on x86_64 since "x86_64: expand kernel stack to
 *    16K" (6538b8ea886e, 3.15); twice that with KASAN, whose
 *    KASAN_STACK_ORDER came with "x86_64: add KASan support" (4.0).
 *    Layout bit 0.
 *  - TOP_OF_KERNEL_STACK_PADDING: 0 on x86_64 until "x86/fred: Reserve space
 *    for the FRED stack frame" (6.9) made it 16 bytes on kernels built with
 *    CONFIG_X86_FRED. Layout bit 1.
 * Neither is in BTF, so the layout is found on first use by looking for the
 * user code segment in each candidate's cs, then remembered for every later
 * call (a kernel has one layout).
 */
int regs_layout = -1;

static __always_inline struct pt_regs *regs_at(void *stack, int layout)
{
	__u32 size = (layout & 1) ? 32768 : 16384;
	__u32 pad = (layout & 2) ? 16 : 0;

	return (struct pt_regs *)(stack + size - pad) - 1;
}

static __always_inline struct pt_regs *user_regs(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	void *stack = BPF_CORE_READ(task, stack);
	__u64 cs = 0;
	int layout = regs_layout;

	if (!stack)
		return NULL;
	if (layout >= 0)
		return regs_at(stack, layout);
	for (int i = 0; i < 4; i++) {
		struct pt_regs *r = regs_at(stack, i);

		if (bpf_probe_read_kernel(&cs, sizeof(cs), &r->cs) == 0 && (cs & 0xffff) == USER_CS) {
			regs_layout = i;
			return r;
		}
	}
	return NULL;
}

/*
 * dx, si, di and orig_ax, adjacent in x86_64's pt_regs (in that order), so
 * one read takes a syscall's number and first three arguments.
 */
struct syscall_regs {
	__u64 dx, si, di, orig_ax;
};

_Static_assert(__builtin_offsetof(struct pt_regs, si) == __builtin_offsetof(struct pt_regs, dx) + 8 &&
		       __builtin_offsetof(struct pt_regs, di) == __builtin_offsetof(struct pt_regs, dx) + 16 &&
		       __builtin_offsetof(struct pt_regs, orig_ax) == __builtin_offsetof(struct pt_regs, dx) + 24,
	       "x86_64 pt_regs keeps dx, si, di, orig_ax adjacent");

/*
 * sk_type was a 16-bit bitfield beside sk_protocol until "sock: Make
 * sk_protocol a 16-bit value" (5.6) made both plain u16 fields: the probed
 * bitfield read works on either.
 */
static __always_inline __u16 sock_type(struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
}

#endif /* WT_CORE_FIXES_BPF_H */
