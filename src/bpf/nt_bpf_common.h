/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Maps, constants and small helpers shared by both BPF variants. The variant
 * defines its output map (nt_events) itself: a ring buffer or a perf buffer.
 */
#ifndef NT_BPF_COMMON_H
#define NT_BPF_COMMON_H

#include "nt_record.h"

/* socket address -> connection state, for every connection being tracked */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);	/* user space sets --max-conns */
	__type(key, __u64);
	__type(value, struct nt_conn);
} nt_conns SEC(".maps");

/*
 * The state hook runs as a pair of programs on one tracepoint where the kernel's recursion
 * guard is per program (tp_btf, raw_tp): a state change inside ours (a softirq that
 * interrupts it on the same CPU) makes the kernel skip the running program, not its twin.
 * The first marks the change it takes; the twin takes the changes not marked (see
 * nt_state_mark() in nt_tcp_body.h).
 */
struct nt_state_mark {
	__u64 ctx;
	__u64 sk;
	__u64 newstate;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_state_mark);
} nt_state_marks SEC(".maps");

/* loss counters, summed over CPUs by user space */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} nt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_config);
} nt_config SEC(".maps");

/*
 * A record is built here before bpf_perf_event_output() (no ring buffer before 5.8): one
 * slot per nesting level on the CPU. A program can be interrupted between building its
 * record and handing it over by a softirq that runs another of ours (the state hook's
 * twin, or the state hook inside an accept hook); with one slot the inner record took
 * the outer one's place, which was then lost and the inner one sent twice. Nesting is
 * last in, first out on a CPU, so a plain per-CPU depth counter hands out the slots.
 */
#define NT_SCRATCH_SLOTS 4	/* process, softirq, hardirq (test_run on a CPU), spare */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct nt_record);
} nt_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nt_scratch_depth SEC(".maps");

/* include/net/tcp_states.h: stable kernel ABI values. */
#define NT_TCP_ESTABLISHED 1
#define NT_TCP_SYN_SENT 2
#define NT_TCP_SYN_RECV 3
#define NT_TCP_FIN_WAIT1 4
#define NT_TCP_FIN_WAIT2 5
#define NT_TCP_TIME_WAIT 6
#define NT_TCP_CLOSE 7
#define NT_TCP_CLOSE_WAIT 8
#define NT_TCP_LAST_ACK 9
#define NT_TCP_LISTEN 10
#define NT_TCP_CLOSING 11

#define NT_AF_INET 2
#define NT_AF_INET6 10
#define NT_IPPROTO_TCP 6

static __always_inline struct nt_config *nt_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nt_config, &zero);
}

static __always_inline void nt_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&nt_stats, &stat);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * The scratch slot of this nesting level, or NULL when all are taken (the caller counts
 * the record lost). Every slot taken is given back by nt_scratch_put() after the output.
 * A program interrupted between reading and writing the depth is safe: the interrupting
 * one gives back what it took before this one goes on.
 */
static __always_inline struct nt_record *nt_scratch_get(void)
{
	__u32 zero = 0, d;
	__u32 *depth = bpf_map_lookup_elem(&nt_scratch_depth, &zero);
	struct nt_record *r;

	if (!depth)
		return NULL;
	d = *depth;
	r = bpf_map_lookup_elem(&nt_scratch, &d);	/* NULL past the last slot */
	if (r)
		*depth = d + 1;
	return r;
}

static __always_inline void nt_scratch_put(void)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&nt_scratch_depth, &zero);

	if (depth && *depth)
		*depth -= 1;
}

/*
 * Connection id, unique for one tracer run: creation time in ns with the CPU in
 * the low 12 bits. A per-CPU counter would need an atomic fetch-and-add (5.12+)
 * or could hand out one value twice when a softirq program interrupts a
 * process-context one; two ktime reads on one CPU never return the same ns.
 */
static __always_inline __u64 nt_new_id(void)
{
	return (bpf_ktime_get_ns() << 12) | (bpf_get_smp_processor_id() & 0xfff);
}

/* A state from which a FIN of ours has been queued (our sequence space ends with it). */
static __always_inline int nt_fin_queued_state(int state)
{
	return state == NT_TCP_FIN_WAIT1 || state == NT_TCP_FIN_WAIT2 ||
	       state == NT_TCP_CLOSING || state == NT_TCP_LAST_ACK;
}

/* An AF_INET6 socket talking to an IPv4 peer (::ffff:a.b.c.d) is reported as IPv4. */
static __always_inline void nt_unmap_v4(struct nt_conn *c)
{
	const __u8 *d = c->daddr;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		if (d[i])
			return;
	if (d[10] != 0xff || d[11] != 0xff)
		return;
	__builtin_memcpy(c->daddr, c->daddr + 12, 4);
	__builtin_memcpy(c->saddr, c->saddr + 12, 4);
	__builtin_memset(c->daddr + 4, 0, 12);
	__builtin_memset(c->saddr + 4, 0, 12);
	c->family = 4;
	c->v4mapped = 1;
}

#endif /* NT_BPF_COMMON_H */
