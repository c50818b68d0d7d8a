/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The contract between the guesser's BPF program and src/guess/. */
#ifndef NT_GUESS_ABI_H
#define NT_GUESS_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define NT_GUESS_PEEK_MAX 4096
#define NT_GUESS_TRIGGER_PID 0x7e57ab1e	/* same magic as NT_TRIGGER_PID */
#define NT_GUESS_TRIGGER_PEEK 3

struct nt_guess_config {
	__u32 tgid;		/* the guessing process (peek trigger) */
	__u16 port_lo;		/* its test connections use ports in [port_lo, port_hi] */
	__u16 port_hi;
	/* and addresses in these /24s (network order) or this IPv6 /64: other hosts' and
	 * namespaces' traffic on the same ports is not captured */
	__u32 v4_net[2];
	__u8 v6_net[8];
};

/* One state change of a test connection, as the tracepoint saw it. */
struct nt_guess_capture {
	__u64 sk;
	__s32 oldstate;
	__s32 newstate;
	__u16 sport;		/* host order, as the tracepoint gives them */
	__u16 dport;
	__u16 family;		/* 0 on 4.15's tcp:tcp_set_state */
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	__u32 tgid;
	__u32 pad0;
};

struct nt_guess_peek {
	__u64 task;		/* bpf_get_current_task() of the requester */
	__s64 err;		/* bpf_probe_read()'s result */
	__u64 len;		/* bytes in data, 0 on failure */
	__u8 data[NT_GUESS_PEEK_MAX];
};

#endif
