// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "global_data": a global variable lives in .bss, a map 4.15 cannot create (5.2). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 lc_hits;

SEC("kprobe/tcp_connect")
int lc_bad_global_data(void *ctx)
{
	lc_hits += bpf_get_prandom_u32();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
