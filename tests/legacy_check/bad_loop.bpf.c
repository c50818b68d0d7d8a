// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "loops": a bounded loop the compiler must keep (5.3); its bound comes from a map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lc_loop_state SEC(".maps");

SEC("kprobe/tcp_sendmsg")
int lc_bad_loop(void *ctx)
{
	__u32 key = 0, i;
	__u64 sum = 0, *v = bpf_map_lookup_elem(&lc_loop_state, &key);

	if (!v)
		return 0;
#pragma clang loop unroll(disable)
	for (i = 0; i < 16 && i < *v; i++)
		sum += (__u64)i * i;
	__sync_fetch_and_add(v, sum);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
