// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nettracer, legacy variant: kernels without BTF, down to 4.15.
 *
 * Compiled without CO-RE: every kernel struct field is read with bpf_probe_read()
 * at an offset the guesser (src/guess/) found at start, handed over in the
 * nt_offsets map. The 4.15 verifier sets the rules, and tools/check_legacy_bpf.py
 * checks the built object for each of them: no global data (config and offsets
 * come through maps), no bpf-to-bpf calls (everything is __always_inline), no
 * bounded loops (loops are unrolled), no JMP32 (-mcpu=v2), bpf_probe_read()
 * rather than _kernel/_user, a perf buffer rather than a ring buffer, and fewer
 * than 4,096 instructions per program.
 *
 * The connection logic is nt_tcp_body.h, the same as the CO-RE variant's.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "nt_record.h"
#include "nt_offsets.h"

#define NT_LEGACY 1
#define NT_SNAP_BATCH_LEGACY 8	/* sockets per run: the unrolled body stays under 4,096 insns */
#define NT_EXIST_BATCH 4

#include "nt_bpf_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} nt_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_offsets);
} nt_offsets SEC(".maps");

/* how far the last triggered batch got (the syscall trigger has no return value to give) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} nt_progress SEC(".maps");

static __always_inline struct nt_offsets *nt_offs(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nt_offsets, &zero);
}

/* Read a field at a guessed offset. */
#define NT_RD(dst, base, o, field) \
	bpf_probe_read(&(dst), sizeof(dst), (const char *)(base) + (o)->off[NT_OFF_##field])

/* ---- accessors: reads at guessed offsets (direct: the CO-RE variant's tp_btf mode, unused) ---- */

static __always_inline int nt_read_state(void *sk, int direct)
{
	struct nt_offsets *o = nt_offs();
	__u8 state = 0;

	if (!o)
		return 0;
	NT_RD(state, sk, o, sock_state);
	return state;
}

/* skc_prot is &tcp_prot or &tcpv6_prot for TCP: exact, where sk_protocol is a moving bitfield */
static __always_inline int nt_sk_prot_is_tcp(void *sk, const struct nt_offsets *o)
{
	__u64 prot = 0;

	if (!(o->have & NT_HAVE_PROT))
		return 0;
	NT_RD(prot, sk, o, sock_prot);
	return prot && (prot == o->tcp_prot || prot == o->tcpv6_prot);
}

static __always_inline int nt_sk_is_tcp(void *sk, int direct)
{
	struct nt_offsets *o = nt_offs();

	return o && nt_sk_prot_is_tcp(sk, o);
}

static __always_inline int nt_read_ports(void *sk, __u16 *sport, __u16 *dport)
{
	struct nt_offsets *o = nt_offs();
	__u16 dp = 0;

	if (!o || NT_RD(*sport, sk, o, sock_num) || NT_RD(dp, sk, o, sock_dport))
		return -1;
	*dport = bpf_ntohs(dp);
	return 0;
}

static __always_inline int nt_read_identity(void *sk, struct nt_conn *c, int direct)
{
	struct nt_offsets *o = nt_offs();
	__u16 family = 0, dport = 0;
	__u64 net = 0;
	__u32 inum = 0;

	if (!o)
		return -1;
	__builtin_memset(c->saddr, 0, sizeof(c->saddr));
	__builtin_memset(c->daddr, 0, sizeof(c->daddr));
	if (NT_RD(family, sk, o, sock_family))
		return -1;
	if (family == NT_AF_INET) {
		if (bpf_probe_read(c->saddr, 4, (char *)sk + o->off[NT_OFF_sock_rcv_saddr]) ||
		    bpf_probe_read(c->daddr, 4, (char *)sk + o->off[NT_OFF_sock_daddr]))
			return -1;
		c->family = 4;
	} else if (family == NT_AF_INET6 && (o->have & NT_HAVE_V6)) {
		if (bpf_probe_read(c->saddr, 16, (char *)sk + o->off[NT_OFF_sock_v6_rcv_saddr]) ||
		    bpf_probe_read(c->daddr, 16, (char *)sk + o->off[NT_OFF_sock_v6_daddr]))
			return -1;
		c->family = 6;
		nt_unmap_v4(c);
	} else {
		return -1;
	}
	NT_RD(c->sport, sk, o, sock_num);
	NT_RD(dport, sk, o, sock_dport);
	c->dport = bpf_ntohs(dport);
	NT_RD(net, sk, o, sock_net);
	if (net)
		bpf_probe_read(&inum, sizeof(inum), (char *)net + o->off[NT_OFF_net_inum]);
	c->netns = inum;
	return 0;
}

static __always_inline int nt_read_counters(void *sk, struct nt_record *r, int state, int direct)
{
	struct nt_offsets *o = nt_offs();
	__u32 snd_una = 0, write_seq = 0;
	__u64 sk_flags = 0;
	int err;

	if (!o)
		return -1;
	err = NT_RD(r->bytes_acked, sk, o, tcp_bytes_acked);
	NT_RD(r->bytes_received, sk, o, tcp_bytes_received);
	NT_RD(r->segs_out, sk, o, tcp_segs_out);
	NT_RD(r->segs_in, sk, o, tcp_segs_in);
	NT_RD(r->total_retrans, sk, o, tcp_total_retrans);
	r->srtt_us = r->mdev_us = 0;
	if (o->have & NT_HAVE_RTT) {
		NT_RD(r->srtt_us, sk, o, tcp_srtt_us);
		NT_RD(r->mdev_us, sk, o, tcp_mdev_us);
	}
	NT_RD(snd_una, sk, o, tcp_snd_una);
	NT_RD(write_seq, sk, o, tcp_write_seq);
	NT_RD(sk_flags, sk, o, sock_flags);
	if (nt_fin_queued_state(state) && snd_una == write_seq)
		r->flags |= NT_F_FIN_ACKED;
	if (sk_flags & (1ULL << 1))	/* SOCK_DONE: enum sock_flags has kept it at 1 */
		r->flags |= NT_F_FIN_RCVD;
	return err;
}

/* ---- output: perf buffer -------------------------------------------------------------------- */

static __always_inline struct nt_record *nt_rec_reserve(void *ctx)
{
	return nt_scratch_get();
}

/* 0, or -1 when the record was lost (the caller counts it, or asks again) */
static __always_inline int nt_rec_submit(void *ctx, struct nt_record *r, const struct nt_config *cfg)
{
	long err = bpf_perf_event_output(ctx, &nt_events, BPF_F_CURRENT_CPU, r, sizeof(*r));

	nt_scratch_put();
	return err ? -1 : 0;
}

#include "nt_tcp_body.h"

/* ---- state changes: raw_tp > tracepoint > kprobe ----------------------------------------------- */

static __always_inline int nt_state_wanted(int newstate)
{
	return newstate == NT_TCP_SYN_SENT || newstate == NT_TCP_SYN_RECV ||
	       newstate == NT_TCP_ESTABLISHED || newstate == NT_TCP_CLOSE;
}

/* raw_tp (4.17+): only the socket; TCP is told by its proto pointer */
static __always_inline int nt_state_raw_body(struct bpf_raw_tracepoint_args *ctx, int twin)
{
	void *sk = (void *)ctx->args[0];
	int oldstate = (int)ctx->args[1], newstate = (int)ctx->args[2];
	struct nt_offsets *o;

	if (!nt_state_wanted(newstate))
		return 0;
	o = nt_offs();
	if (!o || !nt_sk_prot_is_tcp(sk, o))
		return 0;
	if (!nt_state_take(ctx, sk, newstate, twin))
		return 0;
	return nt_on_state(ctx, sk, oldstate, newstate, 0);
}

SEC("raw_tp/inet_sock_set_state")
int nt_state_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return nt_state_raw_body(ctx, 0);
}

/* its twin (nt_state_mark()): attached right after it */
SEC("raw_tp/inet_sock_set_state")
int nt_state_raw_twin(struct bpf_raw_tracepoint_args *ctx)
{
	return nt_state_raw_body(ctx, 1);
}

/* The classic tracepoints' records: layouts of their releases (checked against tracefs'
 * format files by user space before these are chosen). */
struct nt_tp_inet_sock_set_state {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

struct nt_tp_tcp_set_state {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
};

SEC("tracepoint/sock/inet_sock_set_state")
int nt_state_tp(struct nt_tp_inet_sock_set_state *ctx)
{
	int newstate = ctx->newstate;

	if (!nt_state_wanted(newstate) || ctx->protocol != NT_IPPROTO_TCP)
		return 0;
	return nt_on_state(ctx, (void *)ctx->skaddr, ctx->oldstate, newstate, 0);
}

SEC("tracepoint/tcp/tcp_set_state")
int nt_state_tp415(struct nt_tp_tcp_set_state *ctx)
{
	int newstate = ctx->newstate;

	if (!nt_state_wanted(newstate))
		return 0;
	return nt_on_state(ctx, (void *)ctx->skaddr, ctx->oldstate, newstate, 0);
}

SEC("kprobe/tcp_set_state")
int nt_state_kprobe(struct pt_regs *ctx)
{
	void *sk = (void *)PT_REGS_PARM1(ctx);
	int newstate = (int)PT_REGS_PARM2(ctx);

	if (!nt_state_wanted(newstate))
		return 0;
	return nt_on_state(ctx, sk, nt_read_state(sk, 0), newstate, 0);
}

/* ---- the accepting process: kretprobe > accept syscall exit ------------------------------------- */

SEC("kretprobe/inet_csk_accept")
int nt_accept_kretprobe(struct pt_regs *ctx)
{
	return nt_on_accept(ctx, (void *)PT_REGS_RC(ctx), 0);
}

struct nt_tp_sys_exit {
	__u64 common;
	__s32 syscall_nr;
	__s64 ret;
};

/* fd -> struct file -> struct socket -> sk in the current task, at guessed offsets; 0 if none */
static __always_inline void *nt_fd_to_sk(long fd)
{
	struct nt_offsets *o = nt_offs();
	void *task, *files = NULL, *fdt = NULL, *fds = NULL, *file = NULL, *sock = NULL;
	void *sk = NULL;
	__u32 max_fds = 0;

	if (fd < 0 || !o || !(o->have & NT_HAVE_FDWALK))
		return 0;
	task = (void *)bpf_get_current_task();
	if (NT_RD(files, task, o, task_files) || !files ||
	    NT_RD(fdt, files, o, files_fdt) || !fdt ||
	    NT_RD(max_fds, fdt, o, fdt_max_fds) || fd >= max_fds ||
	    NT_RD(fds, fdt, o, fdt_fd) || !fds)
		return 0;
	if (bpf_probe_read(&file, sizeof(file), (char *)fds + fd * sizeof(void *)) || !file ||
	    NT_RD(sock, file, o, file_private_data) || !sock ||
	    NT_RD(sk, sock, o, socket_sk))
		return 0;
	return sk;
}

static __always_inline int nt_accept_fd(void *ctx, long fd)
{
	/* a file that is not a TCP socket fails nt_sk_is_tcp() in nt_on_accept() */
	return nt_on_accept(ctx, nt_fd_to_sk(fd), 0);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int nt_accept4_exit(struct nt_tp_sys_exit *ctx)
{
	return nt_accept_fd(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int nt_accept_exit(struct nt_tp_sys_exit *ctx)
{
	return nt_accept_fd(ctx, ctx->ret);
}

/* ---- requests from user space: test run (5.10+) or a syscall trigger (4.15+) ------------------- */

/* syscalls:sys_enter_sched_getattr: the trigger. User space calls
 * sched_getattr(NT_TRIGGER_PID, ptr, n, op); nobody else passes that pid. */
struct nt_tp_sys_enter {
	__u64 common;
	__s32 syscall_nr;
	__u64 args[6];
};

static __always_inline int nt_snapshot_batch(void *ctx, const struct nt_snap_req *reqs, __u32 n)
{
	struct nt_config *cfg = nt_cfg();
	__u32 zero = 0, i, done = 0;
	struct nt_snap_req req;
	__u64 *progress;

	if (!cfg)
		return 0;
	/* no early exit: the loop must unroll (no back-edges before 5.3) */
#pragma unroll
	for (i = 0; i < NT_SNAP_BATCH_LEGACY; i++) {
		if (i == done && i < n && !bpf_probe_read(&req, sizeof(req), &reqs[i]) &&
		    !nt_snapshot_one(ctx, &req, cfg))
			done++;
	}
	progress = bpf_map_lookup_elem(&nt_progress, &zero);
	if (progress)
		*progress = done;
	return done;
}

static __always_inline int nt_existing_one(void *ctx, const struct nt_existing_req *req,
					   const struct nt_config *cfg)
{
	struct nt_conn tmp = {}, *c;
	void *sk = req->fd >= 0 ? nt_fd_to_sk(req->fd) : (void *)req->sk;
	int state;

	if (!sk || (req->fd >= 0 && !nt_sk_is_tcp(sk, 0)))
		return 0;
	state = nt_read_state(sk, 0);
	if (state == NT_TCP_CLOSE || state == NT_TCP_SYN_SENT || state == NT_TCP_SYN_RECV ||
	    state == NT_TCP_TIME_WAIT || state == NT_TCP_LISTEN || state > NT_TCP_CLOSING ||
	    state == 0)
		return 0;
	if (nt_read_identity(sk, &tmp, 0)) {
		nt_count(NT_STAT_READ_FAIL);
		return 0;
	}
	if (cfg->no_loopback && nt_is_loopback(&tmp))
		return 0;
	tmp.pid = req->pid;
	__builtin_memcpy(tmp.comm, req->comm, NT_COMM_LEN);
	tmp.direction = NT_DIR_UNKNOWN;	/* user space decides from the listeners */
	tmp.reported = 1;
	/* NOEXIST: a socket shared by several processes is reported once, by its first owner */
	c = nt_conn_create(sk, &tmp, BPF_NOEXIST);
	if (!c)
		return 0;
	nt_emit(ctx, sk, c, NT_REC_EXISTING, state, cfg, 0);
	return 0;
}

static __always_inline int nt_existing_batch(void *ctx, const struct nt_existing_req *reqs, __u32 n)
{
	struct nt_config *cfg = nt_cfg();
	struct nt_existing_req req;
	__u32 zero = 0, i, done = 0;
	__u64 *progress;

	if (!cfg)
		return 0;
#pragma unroll
	for (i = 0; i < NT_EXIST_BATCH; i++) {
		if (i == done && i < n && !bpf_probe_read(&req, sizeof(req), &reqs[i])) {
			nt_existing_one(ctx, &req, cfg);
			done++;
		}
	}
	/* the trigger has no return value: user space reads how far it got here */
	progress = bpf_map_lookup_elem(&nt_progress, &zero);
	if (progress)
		*progress = done;
	return done;
}

SEC("raw_tp")
int nt_snapshot_run(struct bpf_raw_tracepoint_args *ctx)
{
	return nt_snapshot_batch(ctx, (const struct nt_snap_req *)ctx->args[0], (__u32)ctx->args[1]);
}

SEC("raw_tp")
int nt_existing_run(struct bpf_raw_tracepoint_args *ctx)
{
	return nt_existing_batch(ctx, (const struct nt_existing_req *)ctx->args[0],
				 (__u32)ctx->args[1]);
}

static __always_inline int nt_is_trigger(struct nt_tp_sys_enter *ctx, __u64 op)
{
	struct nt_config *cfg = nt_cfg();

	return cfg && cfg->trigger_tgid && (bpf_get_current_pid_tgid() >> 32) == cfg->trigger_tgid &&
	       (__s32)ctx->args[0] == NT_TRIGGER_PID && ctx->args[3] == op;
}

SEC("tracepoint/syscalls/sys_enter_sched_getattr")
int nt_snapshot_trig(struct nt_tp_sys_enter *ctx)
{
	if (!nt_is_trigger(ctx, NT_TRIGGER_SNAPSHOT))
		return 0;
	return nt_snapshot_batch(ctx, (const struct nt_snap_req *)ctx->args[1], (__u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_sched_getattr")
int nt_existing_trig(struct nt_tp_sys_enter *ctx)
{
	if (!nt_is_trigger(ctx, NT_TRIGGER_EXISTING))
		return 0;
	return nt_existing_batch(ctx, (const struct nt_existing_req *)ctx->args[1],
				 (__u32)ctx->args[2]);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
