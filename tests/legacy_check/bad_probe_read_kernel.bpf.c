// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Breaks "helpers": bpf_probe_read_kernel() is helper 113 (5.5); 4.15 has bpf_probe_read(). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/tcp_connect")
int lc_bad_probe_read_kernel(void *ctx)
{
	__u64 word = 0;

	bpf_probe_read_kernel(&word, sizeof(word), ctx);
	return word & 1;
}

char LICENSE[] SEC("license") = "GPL";
