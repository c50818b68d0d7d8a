// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "insn_limit": a fully unrolled body of more than 4096 instructions (BPF_MAXINSNS). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/tcp_connect")
int lc_bad_too_big(void *ctx)
{
	__u64 acc = 0;
	int i;

#pragma clang loop unroll(full)
	for (i = 0; i < 1500; i++)
		acc = acc * 33 + bpf_get_prandom_u32();
	return acc & 1;
}

char LICENSE[] SEC("license") = "GPL";
