// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Breaks "core": a field of a preserve_access_index struct is a CO-RE relocation, which libbpf
 * can only resolve against kernel BTF (4.15 has none). Read with bpf_probe_read() so that
 * only this rule is broken (BPF_CORE_READ would use bpf_probe_read_kernel, helper 113).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sock_common {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

SEC("kprobe/tcp_connect")
int lc_bad_core_read(void *ctx)
{
	struct sock *sk = ctx;
	unsigned short family = 0;

	bpf_probe_read(&family, sizeof(family), &sk->__sk_common.skc_family);
	return family == 10;
}

char LICENSE[] SEC("license") = "GPL";
