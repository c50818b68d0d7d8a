// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "calls": a noinline function is a .text subprogram, called bpf-to-bpf (4.16). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline __u64 lc_mix(__u64 x)
{
	return x * 31 + 7;
}

SEC("kprobe/tcp_connect")
int lc_bad_subprog_call(void *ctx)
{
	return lc_mix(bpf_get_prandom_u32()) & 1;
}

char LICENSE[] SEC("license") = "GPL";
