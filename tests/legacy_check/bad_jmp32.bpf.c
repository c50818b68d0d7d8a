// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "isa": built with -mcpu=v3, a 32-bit compare becomes a BPF_JMP32 jump (5.1). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/tcp_connect")
int lc_bad_jmp32(void *ctx)
{
	__u32 r = bpf_get_prandom_u32();

	if (r > 1000)
		return 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
