/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The contract between the BPF programs (both variants) and user space.
 *
 * This header is an ABI: fixed-width types only, byte order in the field names
 * where it is not host order, explicit padding, sizes pinned by static asserts.
 * Every record the kernel side produces, whether through the ring buffer, the
 * perf buffer or a BPF iterator, is one struct nt_record.
 */
#ifndef NT_RECORD_H
#define NT_RECORD_H

#ifdef __bpf__
/* BPF side: the types come from vmlinux.h (CO-RE) or nt_legacy_types.h. */
#else
#include <linux/types.h>
#endif

#define NT_COMM_LEN 16
/* sockets per snapshot request (BPF_PROG_TEST_RUN of nt_snapshot_run; of
 * nt_snapshot_loop, whose body the verifier checks once) */
#define NT_SNAP_BATCH 256
#define NT_SNAP_BATCH_LOOP 4096

/* What a record is about. Values are part of the ABI. */
enum nt_record_type {
	NT_REC_CONNECT = 1,	/* outgoing connection established */
	NT_REC_ACCEPT = 2,	/* incoming connection returned by accept() */
	NT_REC_CLOSE = 3,	/* socket entered TCP_CLOSE: final metrics */
	NT_REC_METRICS = 4,	/* periodic snapshot of a live connection */
	NT_REC_EXISTING = 5,	/* connection already open when the tracer started */
	NT_REC_LISTEN = 6,	/* listening socket seen at start (for direction) */
};

enum nt_direction {
	NT_DIR_UNKNOWN = 0,
	NT_DIR_OUT = 1,		/* this host called connect() */
	NT_DIR_IN = 2,		/* this host accepted */
};

/* nt_record.flags */
#define NT_F_FIN_ACKED (1u << 0)	/* our FIN is counted in bytes_acked */
#define NT_F_FIN_RCVD (1u << 1)		/* the peer's FIN is counted in bytes_received */
#define NT_F_NO_PID (1u << 2)		/* no process has accepted this socket (yet) */
#define NT_F_V4MAPPED (1u << 3)		/* AF_INET6 socket talking IPv4: shown as IPv4 */

/* Index into the stats map: every loss on the kernel side has a counter. */
enum nt_stat {
	NT_STAT_RB_FULL = 0,	/* ring/perf buffer had no room: record lost */
	NT_STAT_MAP_FULL = 1,	/* connection table full: connection not tracked */
	NT_STAT_READ_FAIL = 2,	/* a kernel read failed: record skipped */
	NT_STAT_SNAP_SKIP = 3,	/* iterator could not write a snapshot record */
	/* filled in by user space: hook runs the kernel skipped because the program was
	 * already running on that CPU (an interrupt's tracepoint inside ours), from
	 * bpf_prog_info.recursion_misses (5.12+) */
	NT_STAT_MISSED = 4,
	NT_STAT__MAX = 8,
};

/*
 * One record. Addresses are in network byte order as the kernel keeps them;
 * ports are host order. IPv4 addresses use the first 4 bytes of the 16.
 * Counters are the kernel's raw tcp_sock values; user space turns them into
 * the reported metrics (see metrics_from_record() in src/user/format.c):
 *   bytes_sent       = bytes_acked - SYN (outgoing only) - FIN (NT_F_FIN_ACKED)
 *   bytes_received   = bytes_received - FIN (NT_F_FIN_RCVD)
 *   rtt_us           = srtt_us >> 3,   rtt_var_us = mdev_us >> 2  (as TCP_INFO)
 */
struct nt_record {
	__u64 ts_ns;		/* CLOCK_MONOTONIC when the record was made */
	__u64 id;		/* connection id, unique for one tracer run */
	__u64 sk;		/* kernel address of the socket: identity while it lives */
	__u8 saddr[16];		/* local address */
	__u8 daddr[16];		/* remote address */
	__u16 sport;		/* local port */
	__u16 dport;		/* remote port */
	__u32 netns;		/* inode of the socket's network namespace */
	__u32 pid;		/* tgid of the owning process, 0 if none */
	__u8 type;		/* enum nt_record_type */
	__u8 family;		/* 4 or 6 */
	__u8 direction;		/* enum nt_direction */
	__u8 state;		/* TCP state when the record was made */
	char comm[NT_COMM_LEN];
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 segs_out;
	__u32 segs_in;
	__u32 total_retrans;
	__u32 srtt_us;		/* smoothed RTT << 3, as in tcp_sock */
	__u32 mdev_us;		/* RTT mean deviation << 2, as in tcp_sock */
	__u32 flags;		/* NT_F_* */
};

_Static_assert(sizeof(struct nt_record) == 128, "nt_record is an ABI: size changed");

/*
 * Run-time configuration, the single entry of the nt_config array map. A map,
 * not .rodata: global data needs 5.2, and the CO-RE object also runs on older
 * kernels when an external BTF file (--btf) describes them.
 */
struct nt_config {
	__u64 wakeup_bytes;	/* ring buffer: wake user space past this fill mark */
	__u32 no_loopback;	/* do not track loopback-only connections */
	__u32 trigger_tgid;	/* legacy: the process whose trigger syscalls are requests */
};

_Static_assert(sizeof(struct nt_config) == 16, "nt_config size changed");

/*
 * Legacy kernels without BPF_PROG_TEST_RUN for tracing programs (before 5.10):
 * user space makes a request by calling sched_getattr(NT_TRIGGER_PID, ptr, n, op),
 * which fails at once (EINVAL: flags must be 0) after the syscall's entry
 * tracepoint has run the program. The pid is above PID_MAX_LIMIT: no process has it.
 */
#define NT_TRIGGER_PID 0x7e57ab1e
#define NT_TRIGGER_SNAPSHOT 1	/* ptr: struct nt_snap_req */
#define NT_TRIGGER_EXISTING 2	/* ptr: struct nt_existing_req */

/*
 * One socket of a snapshot request (nt_snapshot_run, nt_snapshot_trig): user space
 * knows every connection it reports, so the program needs no lookup in nt_conns (two
 * cache misses per socket on a large table); the ports tell a socket that closed and
 * was reused meanwhile from the one asked for.
 */
struct nt_snap_req {
	__u64 sk;
	__u64 id;		/* copied into the METRICS record */
	__u16 sport;		/* local, host order */
	__u16 dport;		/* remote, host order */
	__u32 pad0;
};

_Static_assert(sizeof(struct nt_snap_req) == 24, "nt_snap_req size changed");

/*
 * A connection open before the start, found by user space (legacy variant): either a
 * descriptor of it in the requesting process (pidfd_getfd() of its owner's), walked
 * to the socket like accept()'s, or the socket's address from /proc/net/tcp{,6}.
 */
struct nt_existing_req {
	__u64 sk;		/* used when fd < 0 */
	__s32 fd;
	__u32 pid;		/* owner */
	char comm[NT_COMM_LEN];
};

_Static_assert(sizeof(struct nt_existing_req) == 32, "nt_existing_req size changed");

/*
 * Per-socket state kept in the kernel while a connection lives (value of the
 * conns hash map, key: socket address). The identity is captured once, when
 * the connection is established, because some of it (the local port) is
 * already gone from the socket when it enters TCP_CLOSE.
 */
struct nt_conn {
	__u64 id;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 netns;
	__u32 pid;
	__u8 family;		/* 4 or 6, 0 until established */
	__u8 direction;
	__u8 reported;		/* connect/accept/existing record emitted */
	__u8 v4mapped;
	char comm[NT_COMM_LEN];
};

_Static_assert(sizeof(struct nt_conn) == 72, "nt_conn size changed");

#endif /* NT_RECORD_H */
