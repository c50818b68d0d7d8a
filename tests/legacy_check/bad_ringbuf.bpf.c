// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Breaks "map_types": a BPF ring buffer (map type 27, 5.8). The program does not even use
 * it (that would also break "helpers"): 4.15 fails already when libbpf creates the map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lc_ring SEC(".maps");

SEC("kprobe/tcp_connect")
int lc_bad_ringbuf(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
