// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Passes every rule of tools/check_legacy_bpf.py: what a 4.15 program may use. A BTF-defined
 * hash map and perf buffer, helpers 4.15 has, XADD without its result, an unrolled loop, and
 * two programs in one section (the checker must split them at their symbols).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} lc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} lc_events SEC(".maps");

struct lc_event {
	__u64 when;
	__u64 words[4];
	__u32 pid;
};

static __always_inline void lc_count(__u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&lc_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);	/* result unused: plain XADD */
	else
		bpf_map_update_elem(&lc_counts, &key, &one, BPF_NOEXIST);
}

SEC("kprobe/tcp_connect")
int lc_good_connect(void *ctx)
{
	struct lc_event ev = {};
	int i;

	ev.when = bpf_ktime_get_ns();
	ev.pid = bpf_get_current_pid_tgid() >> 32;
#pragma unroll
	for (i = 0; i < 4; i++)
		bpf_probe_read(&ev.words[i], sizeof(ev.words[i]), (char *)ctx + 8 * i);
	lc_count(ev.pid);
	bpf_perf_event_output(ctx, &lc_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return 0;
}

SEC("kprobe/tcp_close")
int lc_good_close(void *ctx)
{
	lc_count(bpf_get_smp_processor_id());
	return 0;
}

/* a second program in the same section */
SEC("kprobe/tcp_close")
int lc_good_close_too(void *ctx)
{
	lc_count(0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
