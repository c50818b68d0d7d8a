// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The guesser's BPF side: two small jobs for the state machine in src/guess/.
 *
 *  1. Capture: when one of the guesser's own test connections changes state, the
 *     classic tracepoint hands over the socket's address together with its ports
 *     and addresses as the kernel printed them: the ground truth.
 *  2. Peek: copy a block of kernel memory at an address user space names (and the
 *     current task's address), so that user space can search struct images for
 *     the values it knows ("snapshot and search" instead of a round trip per
 *     offset).
 *
 * Same constraints as the legacy object (it runs on the same kernels): no CO-RE, no
 * global data, no loops, bpf_probe_read(), perf buffer, -mcpu=v2.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "nt_guess_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_guess_config);
} gs_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} gs_captures SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_guess_peek);
} gs_peek SEC(".maps");

static __always_inline struct nt_guess_config *gs_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&gs_config, &zero);
}

static __always_inline int gs_port_ours(const struct nt_guess_config *cfg, __u16 port)
{
	return port >= cfg->port_lo && port <= cfg->port_hi;
}

static __always_inline int gs_v4_ours(const struct nt_guess_config *cfg, const __u8 *a)
{
	__u32 v = 0;

	__builtin_memcpy(&v, a, 4);
	/* network order in memory: the /24 is the first three bytes */
	return (v & 0x00ffffff) == (cfg->v4_net[0] & 0x00ffffff) ||
	       (v & 0x00ffffff) == (cfg->v4_net[1] & 0x00ffffff);
}

static __always_inline int gs_v6_ours(const struct nt_guess_config *cfg, const __u8 *a)
{
	__u64 v = 0, net = 0;

	__builtin_memcpy(&v, a, 8);
	__builtin_memcpy(&net, cfg->v6_net, 8);
	return v == net;
}

/* sock:inet_sock_set_state (4.16+) */
struct gs_tp_inet_sock_set_state {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

/* tcp:tcp_set_state (4.15) */
struct gs_tp_tcp_set_state {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

#define GS_CAPTURE(ctx, fam, proto)                                                     \
	({                                                                              \
		struct nt_guess_config *cfg = gs_cfg();                                 \
		struct nt_guess_capture cap = {};                                       \
		int ret = 0;                                                            \
		if (cfg && (gs_port_ours(cfg, (ctx)->sport) || gs_port_ours(cfg, (ctx)->dport)) && \
		    ((gs_v4_ours(cfg, (ctx)->saddr) && gs_v4_ours(cfg, (ctx)->daddr)) ||      \
		     (gs_v6_ours(cfg, (ctx)->saddr_v6) && gs_v6_ours(cfg, (ctx)->daddr_v6)))) { \
			cap.sk = (__u64)(unsigned long)(ctx)->skaddr;                   \
			cap.oldstate = (ctx)->oldstate;                                 \
			cap.newstate = (ctx)->newstate;                                 \
			cap.sport = (ctx)->sport;                                       \
			cap.dport = (ctx)->dport;                                       \
			cap.family = (fam);                                             \
			cap.protocol = (proto);                                         \
			__builtin_memcpy(cap.saddr, (ctx)->saddr, 4);                   \
			__builtin_memcpy(cap.daddr, (ctx)->daddr, 4);                   \
			__builtin_memcpy(cap.saddr_v6, (ctx)->saddr_v6, 16);            \
			__builtin_memcpy(cap.daddr_v6, (ctx)->daddr_v6, 16);            \
			cap.tgid = bpf_get_current_pid_tgid() >> 32;                    \
			ret = bpf_perf_event_output(ctx, &gs_captures, BPF_F_CURRENT_CPU, \
						    &cap, sizeof(cap));                 \
		}                                                                       \
		ret;                                                                    \
	})

SEC("tracepoint/sock/inet_sock_set_state")
int gs_state_tp(struct gs_tp_inet_sock_set_state *ctx)
{
	GS_CAPTURE(ctx, ctx->family, ctx->protocol);
	return 0;
}

SEC("tracepoint/tcp/tcp_set_state")
int gs_state_tp415(struct gs_tp_tcp_set_state *ctx)
{
	/* TCP only, family not recorded: the v6 fields are zero for IPv4 */
	GS_CAPTURE(ctx, 0, 6);
	return 0;
}

static __always_inline int gs_do_peek(__u64 addr, __u64 len)
{
	__u32 zero = 0;
	struct nt_guess_peek *p = bpf_map_lookup_elem(&gs_peek, &zero);

	if (!p)
		return 0;
	p->task = bpf_get_current_task();
	p->len = 0;
	if (len == 0 || len > NT_GUESS_PEEK_MAX)
		return 0;
	p->err = bpf_probe_read(p->data, len, (const void *)addr);
	if (!p->err)
		p->len = len;
	return 0;
}

/* run by user space with BPF_PROG_TEST_RUN: args[0] address, args[1] length */
SEC("raw_tp")
int gs_peek_run(struct bpf_raw_tracepoint_args *ctx)
{
	return gs_do_peek(ctx->args[0], ctx->args[1]);
}

struct gs_tp_sys_enter {
	__u64 common;
	__s32 syscall_nr;
	__u64 args[6];
};

/* kernels before 5.10: sched_getattr(NT_TRIGGER_PID, addr, len, NT_GUESS_TRIGGER_PEEK) */
SEC("tracepoint/syscalls/sys_enter_sched_getattr")
int gs_peek_trig(struct gs_tp_sys_enter *ctx)
{
	struct nt_guess_config *cfg = gs_cfg();

	if (!cfg || (bpf_get_current_pid_tgid() >> 32) != cfg->tgid ||
	    (__s32)ctx->args[0] != NT_GUESS_TRIGGER_PID || ctx->args[3] != NT_GUESS_TRIGGER_PEEK)
		return 0;
	return gs_do_peek(ctx->args[1], ctx->args[2]);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
