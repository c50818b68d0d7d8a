// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Advisory "prog_type": a raw tracepoint program (BPF_PROG_TYPE_RAW_TRACEPOINT) needs 4.17.
 * An object may carry one as an alternative that user space switches off on older kernels,
 * so the checker names it without failing; it breaks no other rule.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("raw_tp/sys_enter")
int lc_newer_raw_tp(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
