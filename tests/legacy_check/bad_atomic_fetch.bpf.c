// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Breaks "isa": the old value of __sync_fetch_and_add() is used, so it is an atomic fetch-add
 * (BPF_ADD | BPF_FETCH, 5.12), not the plain XADD 4.15 has. clang 14 emits it even with
 * -mcpu=v2.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lc_seq SEC(".maps");

SEC("kprobe/tcp_connect")
int lc_bad_atomic_fetch(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&lc_seq, &key);

	if (!v)
		return 0;
	return __sync_fetch_and_add(v, 1) & 1;
}

char LICENSE[] SEC("license") = "GPL";
