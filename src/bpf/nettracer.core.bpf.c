// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nettracer, CO-RE variant: kernels with BTF (/sys/kernel/btf/vmlinux or --btf).
 *
 * Field accessors are CO-RE reads, output is a BPF ring buffer written without
 * per-record wake-ups, live metrics come from a BPF iterator over the table of
 * tracked sockets. The connection logic itself is in nt_tcp_body.h.
 *
 * Several programs below are alternatives for the same hook. User space probes
 * the running kernel and switches every loser off (autoload) before load, so a
 * hook the kernel lacks never keeps the others from loading.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "nt_record.h"

#define NT_S_IFMT 0170000
#define NT_S_IFSOCK 0140000
#define NT_SOCK_STREAM 1

#include "nt_bpf_common.h"

/* Type and size are set by user space: a ring buffer, or a perf buffer before 5.8. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} nt_events SEC(".maps");

/* ---- accessors: CO-RE reads ---------------------------------------------------------------- */

/*
 * Every accessor has two ways to read: direct is a constant at each call site, 1 where
 * sk is a tp_btf argument (a BTF pointer: plain loads, which the verifier turns into
 * fault-safe ones) and 0 elsewhere (bpf_probe_read_kernel, one helper call per field).
 * On the hot path, a state change, that is most of the hook's cost.
 */
static __always_inline int nt_read_state(void *skp, int direct)
{
	struct sock *sk = skp;

	if (direct)
		return sk->__sk_common.skc_state;
	return BPF_CORE_READ(sk, __sk_common.skc_state);
}

static __always_inline int nt_read_ports(void *skp, __u16 *sport, __u16 *dport)
{
	struct sock *sk = skp;
	__u16 dp = 0;

	if (bpf_core_read(sport, sizeof(*sport), &sk->__sk_common.skc_num) ||
	    bpf_core_read(&dp, sizeof(dp), &sk->__sk_common.skc_dport))
		return -1;
	*dport = bpf_ntohs(dp);
	return 0;
}

static __always_inline int nt_sk_is_tcp(void *skp, int direct)
{
	struct sock *sk = skp;
	__u32 proto, type;
	__u16 family;

	/* sk_protocol and sk_type were bitfields before 5.6 */
	if (direct) {
		proto = BPF_CORE_READ_BITFIELD(sk, sk_protocol);
		type = BPF_CORE_READ_BITFIELD(sk, sk_type);
		family = sk->__sk_common.skc_family;
	} else {
		proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
		type = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
		family = BPF_CORE_READ(sk, __sk_common.skc_family);
	}
	return proto == IPPROTO_TCP && type == NT_SOCK_STREAM &&
	       (family == NT_AF_INET || family == NT_AF_INET6);
}

static __always_inline __u32 nt_read_netns(struct sock *sk, int direct)
{
	/* without CONFIG_NET_NS possible_net_t is empty: everything is init_net */
	if (!bpf_core_field_exists(sk->__sk_common.skc_net.net))
		return 0;
	if (direct)
		return sk->__sk_common.skc_net.net->ns.inum;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline int nt_read_identity(void *skp, struct nt_conn *c, int direct)
{
	struct sock *sk = skp;
	__u16 family = direct ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(c->saddr, 0, sizeof(c->saddr));
	__builtin_memset(c->daddr, 0, sizeof(c->daddr));
	if (family == NT_AF_INET) {
		if (direct) {
			__builtin_memcpy(c->saddr, &sk->__sk_common.skc_rcv_saddr, 4);
			__builtin_memcpy(c->daddr, &sk->__sk_common.skc_daddr, 4);
		} else if (bpf_core_read(c->saddr, 4, &sk->__sk_common.skc_rcv_saddr) ||
			   bpf_core_read(c->daddr, 4, &sk->__sk_common.skc_daddr)) {
			return -1;
		}
		c->family = 4;
	} else if (family == NT_AF_INET6) {
		/* kernels built without IPv6 have no v6 addresses in sock_common */
		if (!bpf_core_field_exists(sk->__sk_common.skc_v6_daddr))
			return -1;
		if (direct) {
			__builtin_memcpy(c->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
			__builtin_memcpy(c->daddr, &sk->__sk_common.skc_v6_daddr, 16);
		} else if (bpf_core_read(c->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr) ||
			   bpf_core_read(c->daddr, 16, &sk->__sk_common.skc_v6_daddr)) {
			return -1;
		}
		c->family = 6;
		nt_unmap_v4(c);
	} else {
		return -1;
	}
	if (direct) {
		c->sport = sk->__sk_common.skc_num;
		c->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	} else {
		c->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		c->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	c->netns = nt_read_netns(sk, direct);
	return 0;
}

/* The counters and the FIN flags, given tcp_sock's fields (however they were read). */
static __always_inline void nt_set_counters(struct nt_record *r, __u64 acked, __u64 rcvd,
					    __u32 segs_out, __u32 segs_in, __u32 retrans,
					    __u32 srtt, __u32 mdev, __u32 snd_una, __u32 write_seq,
					    unsigned long sk_flags, int state)
{
	r->bytes_acked = acked;
	r->bytes_received = rcvd;
	r->segs_out = segs_out;
	r->segs_in = segs_in;
	r->total_retrans = retrans;
	r->srtt_us = srtt;
	r->mdev_us = mdev;
	if (nt_fin_queued_state(state) && snd_una == write_seq)
		r->flags |= NT_F_FIN_ACKED;
	/* tcp_fin() sets SOCK_DONE when it takes the peer's FIN into rcv_nxt */
	if (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE)))
		r->flags |= NT_F_FIN_RCVD;
}

static __always_inline int nt_read_counters(void *skp, struct nt_record *r, int state, int direct)
{
	struct tcp_sock *tp = skp;
	struct sock *sk = skp;
	int err;

	/* the tcp_sock view of a BTF socket pointer needs bpf_skc_to_tcp_sock() (5.9) */
	if (direct && bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_skc_to_tcp_sock)) {
		struct tcp_sock *t = bpf_skc_to_tcp_sock(sk);

		if (!t)
			return -1;
		nt_set_counters(r, t->bytes_acked, t->bytes_received, t->segs_out, t->segs_in,
				t->total_retrans, t->srtt_us, t->mdev_us, t->snd_una, t->write_seq,
				sk->__sk_common.skc_flags, state);
		return 0;
	}
	err = bpf_core_read(&r->bytes_acked, sizeof(r->bytes_acked), &tp->bytes_acked);
	nt_set_counters(r, r->bytes_acked, BPF_CORE_READ(tp, bytes_received),
			BPF_CORE_READ(tp, segs_out), BPF_CORE_READ(tp, segs_in),
			BPF_CORE_READ(tp, total_retrans), BPF_CORE_READ(tp, srtt_us),
			BPF_CORE_READ(tp, mdev_us), BPF_CORE_READ(tp, snd_una),
			BPF_CORE_READ(tp, write_seq),
			BPF_CORE_READ(sk, __sk_common.skc_flags) /* sk_flags since 4.4 */, state);
	return err;
}

/* ---- output: ring buffer woken only past a fill mark; perf buffer where there is none ---- */

static __always_inline struct nt_record *nt_rec_reserve(void *ctx)
{
	if (bpf_core_type_exists(struct bpf_ringbuf))
		return bpf_ringbuf_reserve(&nt_events, sizeof(struct nt_record), 0);
	return nt_scratch_get();
}

/* 0, or -1 when the record was lost (the caller counts it, or asks again) */
static __always_inline int nt_rec_submit(void *ctx, struct nt_record *r, const struct nt_config *cfg)
{
	/* a wake-up per record costs more than the whole hook: user space drains on a timer */
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_core_type_exists(struct bpf_ringbuf)) {
		if (bpf_ringbuf_query(&nt_events, BPF_RB_AVAIL_DATA) >= cfg->wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
		bpf_ringbuf_submit(r, flags);
	} else {
		long err = bpf_perf_event_output(ctx, &nt_events, BPF_F_CURRENT_CPU, r, sizeof(*r));

		nt_scratch_put();
		if (err)
			return -1;
	}
	return 0;
}

#include "nt_tcp_body.h"

/* ---- state changes: tp_btf > raw_tp > tracepoint > fentry > kprobe ---------------------------- */

/* The four transitions nt_on_state() acts on; all others return before any read. */
static __always_inline int nt_state_wanted(int newstate)
{
	return newstate == NT_TCP_SYN_SENT || newstate == NT_TCP_SYN_RECV ||
	       newstate == NT_TCP_ESTABLISHED || newstate == NT_TCP_CLOSE;
}

/* inet_sock_set_state also fires for SCTP and MPTCP sockets: keep TCP only. */
static __always_inline int nt_state_sk(void *ctx, struct sock *sk, int oldstate, int newstate,
				       int direct, int twin)
{
	if (!nt_state_wanted(newstate))
		return 0;
	if ((direct ? BPF_CORE_READ_BITFIELD(sk, sk_protocol)
		    : BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol)) != IPPROTO_TCP)
		return 0;
	if (!nt_state_take(ctx, sk, newstate, twin))
		return 0;
	return nt_on_state(ctx, sk, oldstate, newstate, direct);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nt_state_btf, struct sock *sk, int oldstate, int newstate)
{
	return nt_state_sk(ctx, sk, oldstate, newstate, 1, 0);
}

/* its twin (nt_state_mark()): attached right after it */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nt_state_btf_twin, struct sock *sk, int oldstate, int newstate)
{
	return nt_state_sk(ctx, sk, oldstate, newstate, 1, 1);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(nt_state_raw, struct sock *sk, int oldstate, int newstate)
{
	return nt_state_sk(ctx, sk, oldstate, newstate, 0, 0);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(nt_state_raw_twin, struct sock *sk, int oldstate, int newstate)
{
	return nt_state_sk(ctx, sk, oldstate, newstate, 0, 1);
}

SEC("tracepoint/sock/inet_sock_set_state")
int nt_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (!nt_state_wanted(ctx->newstate) || ctx->protocol != IPPROTO_TCP)
		return 0;
	return nt_on_state(ctx, (void *)ctx->skaddr, ctx->oldstate, ctx->newstate, 0);
}

/* 4.15 only: tcp:tcp_set_state, TCP-only, layout of that release (no BTF to relocate against). */
struct nt_tp_tcp_set_state {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
};

SEC("tracepoint/tcp/tcp_set_state")
int nt_state_tp415(struct nt_tp_tcp_set_state *ctx)
{
	if (!nt_state_wanted(ctx->newstate))
		return 0;
	return nt_on_state(ctx, (void *)ctx->skaddr, ctx->oldstate, ctx->newstate, 0);
}

/* tcp_set_state() only: inet_sk_set_state() (a listener's new child) is not seen here,
 * nt_on_state() creates the entry at ESTABLISHED instead. */
SEC("fentry/tcp_set_state")
int BPF_PROG(nt_state_fentry, struct sock *sk, int state)
{
	if (!nt_state_wanted(state))
		return 0;
	return nt_on_state(ctx, sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, 0);
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(nt_state_kprobe, struct sock *sk, int state)
{
	if (!nt_state_wanted(state))
		return 0;
	return nt_on_state(ctx, sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, 0);
}

/* ---- the accepting process: fexit > kretprobe > accept syscall exit --------------------------- */

/* A load from the fexit context at a constant offset. Written as asm because the
 * compiler would otherwise turn the two branches below into one load at a computed
 * offset, which the verifier refuses ("dereference of modified ctx ptr"). */
#define NT_CTX_U64(dst, ctx, byte_off) \
	asm volatile("%0 = *(u64 *)(%1 + " #byte_off ")" : "=r"(dst) : "r"(ctx))

SEC("fexit/inet_csk_accept")
int BPF_PROG(nt_accept_fexit)
{
	struct sock *newsk;

	/* 6.10 folded flags/err/kern into struct proto_accept_arg: the return value moved
	 * from the fifth slot (sk, flags, err, kern, ret) to the third (sk, arg, ret) */
	if (bpf_core_type_exists(struct proto_accept_arg))
		NT_CTX_U64(newsk, ctx, 16);
	else
		NT_CTX_U64(newsk, ctx, 32);
	return nt_on_accept(ctx, newsk, 0);
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(nt_accept_kretprobe, struct sock *newsk)
{
	return nt_on_accept(ctx, newsk, 0);
}

/* syscalls:sys_exit_accept{,4}: the common header, then __syscall_nr and ret. */
struct nt_tp_sys_exit {
	__u64 common;
	__s32 syscall_nr;
	__s64 ret;
};

/* fd -> struct file -> struct socket -> sk, in the task that accept() returns to. */
static __always_inline int nt_accept_fd(void *ctx, long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;

	if (fd < 0)
		return 0;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	/* another thread may have replaced the fd already: only a socket has a struct socket */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & NT_S_IFMT) != NT_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	return nt_on_accept(ctx, BPF_CORE_READ(sock, sk), 0);
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

/* ---- live metrics: a map iterator (5.9+), or a program user space runs (5.10+) ------------------ */

SEC("iter/bpf_map_elem")
int nt_snapshot(struct bpf_iter__bpf_map_elem *ctx)
{
	struct nt_conn *c = ctx->value;
	__u64 *key = ctx->key;
	struct nt_record r;
	int state;

	if (!key || !c || !c->reported)
		return 0;
	state = nt_read_state((void *)*key, 0);
	if (state == NT_TCP_CLOSE)
		return 0;
	nt_fill_record(&r, (void *)*key, c, NT_REC_METRICS, state, 0);
	/* on overflow the iterator stops and retries this element in the next read() */
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * Run by user space with BPF_PROG_TEST_RUN, never attached: args[0] points to an
 * array of struct nt_snap_req in the caller's memory, args[1] is their number.
 * Returns how many were handled; fewer than asked means the ring buffer is full.
 */
SEC("raw_tp")
int nt_snapshot_run(struct bpf_raw_tracepoint_args *ctx)
{
	const struct nt_snap_req *reqs = (const struct nt_snap_req *)ctx->args[0];
	struct nt_config *cfg = nt_cfg();
	__u32 n = ctx->args[1], i;
	struct nt_snap_req req;

	if (!cfg)
		return 0;
	for (i = 0; i < NT_SNAP_BATCH && i < n; i++) {
		if (bpf_probe_read_user(&req, sizeof(req), &reqs[i]))
			break;
		if (nt_snapshot_one(ctx, &req, cfg))
			break;
	}
	return i;
}

/*
 * The same with bpf_loop() (5.17+): the verifier checks the body once instead of once per
 * iteration of the bounded loop above (33 ms of load time against 2 ms), and a run may
 * take a larger batch. Chosen over nt_snapshot_run by its probe.
 */
struct nt_snap_loop {
	void *ctx;
	const struct nt_snap_req *reqs;
	struct nt_config *cfg;
	__u32 done;
	__u32 n;		/* requests in this run */
};

static long nt_snap_loop_one(__u32 i, void *data)
{
	struct nt_snap_loop *l = data;
	struct nt_snap_req req;

	if (bpf_probe_read_user(&req, sizeof(req), &l->reqs[i]) ||
	    nt_snapshot_one(l->ctx, &req, l->cfg))
		return 1;
	l->done = i + 1;
	return 0;
}

SEC("raw_tp")
int nt_snapshot_loop(struct bpf_raw_tracepoint_args *ctx)
{
	struct nt_snap_loop l = { .ctx = ctx, .reqs = (const struct nt_snap_req *)ctx->args[0],
				  .cfg = nt_cfg() };
	__u32 n = ctx->args[1];

	if (!l.cfg)
		return 0;
	bpf_loop(n < NT_SNAP_BATCH_LOOP ? n : NT_SNAP_BATCH_LOOP, nt_snap_loop_one, &l, 0);
	return l.done;
}

/*
 * The same with direct loads (6.2+): bpf_rdonly_cast() turns the address into an untrusted
 * BTF pointer to tcp_sock, so every field is a plain load the JIT guards, where the
 * programs above make one bpf_probe_read_kernel() call per field. The loads of a socket
 * can then wait for memory together: with 100,000 sockets nothing of them is in a cache.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* One socket's fields, loaded before any of them is used. */
struct nt_snap_fields {
	__u64 acked, rcvd;
	__u32 segs_out, segs_in, retrans, srtt, mdev;
	__u16 num, dport;
	__u8 state, seq_done, flag_done, pad;
};

/* sockets per bpf_loop() step: their cache misses overlap (a socket's fields span 7
 * cache lines; one at a time, the CPU waits for each in turn) */
#define NT_SNAP_CAST_STEP 4

static __always_inline void nt_snap_load(__u64 addr, struct nt_snap_fields *f)
{
	struct tcp_sock *t = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct tcp_sock));
	const struct sock_common *skc = &t->inet_conn.icsk_inet.sk.__sk_common;

	f->num = skc->skc_num;
	f->dport = skc->skc_dport;
	f->state = skc->skc_state;
	f->flag_done = !!(skc->skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE)));
	f->segs_out = t->segs_out;
	f->mdev = t->mdev_us;
	f->seq_done = t->snd_una == t->write_seq;
	f->srtt = t->srtt_us;
	f->rcvd = t->bytes_received;
	f->segs_in = t->segs_in;
	f->acked = t->bytes_acked;
	f->retrans = t->total_retrans;
}

/* 0: reported or skipped; 1: the ring buffer is full */
static __always_inline int nt_snap_emit(struct nt_snap_loop *l, const struct nt_snap_req *req,
					const struct nt_snap_fields *f, __u64 ts)
{
	struct nt_record *r;

	if (f->num != req->sport || bpf_ntohs(f->dport) != req->dport ||
	    f->state == NT_TCP_CLOSE || f->state == 0 || f->state == NT_TCP_LISTEN)
		return 0;
	r = nt_rec_reserve(l->ctx);
	if (!r)
		return 1;
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_ns = ts;
	r->id = req->id;
	r->sk = req->sk;
	r->sport = req->sport;
	r->dport = req->dport;
	r->type = NT_REC_METRICS;
	r->state = f->state;
	/* as nt_set_counters() */
	r->bytes_acked = f->acked;
	r->bytes_received = f->rcvd;
	r->segs_out = f->segs_out;
	r->segs_in = f->segs_in;
	r->total_retrans = f->retrans;
	r->srtt_us = f->srtt;
	r->mdev_us = f->mdev;
	if (nt_fin_queued_state(f->state) && f->seq_done)
		r->flags |= NT_F_FIN_ACKED;
	if (f->flag_done)
		r->flags |= NT_F_FIN_RCVD;
	return nt_rec_submit(l->ctx, r, l->cfg) ? 1 : 0;
}

static long nt_snap_cast_step(__u32 step, void *data)
{
	struct nt_snap_loop *l = data;
	struct nt_snap_req req[NT_SNAP_CAST_STEP] = {};
	struct nt_snap_fields f[NT_SNAP_CAST_STEP] = {};
	__u32 first = step * NT_SNAP_CAST_STEP, k;
	__u64 left, ts;

	/* the last step may have fewer: those left zero are skipped */
	left = l->n > first ? l->n - first : 0;
	if (left > NT_SNAP_CAST_STEP)
		left = NT_SNAP_CAST_STEP;
	if (!left || bpf_probe_read_user(req, left * sizeof(req[0]), &l->reqs[first]))
		return 1;
#pragma unroll
	for (k = 0; k < NT_SNAP_CAST_STEP; k++)
		if (req[k].sk)
			nt_snap_load(req[k].sk, &f[k]);
	ts = bpf_ktime_get_ns();
#pragma unroll
	for (k = 0; k < NT_SNAP_CAST_STEP; k++) {
		if (req[k].sk && nt_snap_emit(l, &req[k], &f[k], ts))
			return 1;
		l->done = first + k + 1;
	}
	return 0;
}

SEC("raw_tp")
int nt_snapshot_cast(struct bpf_raw_tracepoint_args *ctx)
{
	struct nt_snap_loop l = { .ctx = ctx, .reqs = (const struct nt_snap_req *)ctx->args[0],
				  .cfg = nt_cfg() };
	__u32 n = ctx->args[1];

	if (!l.cfg)
		return 0;
	if (n > NT_SNAP_BATCH_LOOP)
		n = NT_SNAP_BATCH_LOOP;
	l.n = n;
	bpf_loop((n + NT_SNAP_CAST_STEP - 1) / NT_SNAP_CAST_STEP, nt_snap_cast_step, &l, 0);
	return l.done < n ? l.done : n;
}

/* ---- what was open before we started ----------------------------------------------------------- */

SEC("iter/task_file")
int nt_existing(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct nt_config *cfg = nt_cfg();
	struct nt_conn tmp = {}, *c;
	struct nt_record r;
	struct socket *sock;
	struct sock *sk;
	int state;

	if (!task || !file || !cfg)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & NT_S_IFMT) != NT_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || !nt_sk_is_tcp(sk, 0))
		return 0;
	state = nt_read_state(sk, 0);
	if (state == NT_TCP_LISTEN) {
		/* user space needs the listeners to tell incoming from outgoing */
		if (nt_read_identity(sk, &tmp, 0))
			return 0;
		tmp.pid = BPF_CORE_READ(task, tgid);
		nt_fill_record(&r, sk, &tmp, NT_REC_LISTEN, state, 0);
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	if (state == NT_TCP_CLOSE || state == NT_TCP_SYN_SENT || state == NT_TCP_SYN_RECV ||
	    state == NT_TCP_TIME_WAIT || state > NT_TCP_CLOSING)
		return 0;
	if (nt_read_identity(sk, &tmp, 0)) {
		nt_count(NT_STAT_READ_FAIL);
		return 0;
	}
	if (cfg->no_loopback && nt_is_loopback(&tmp))
		return 0;
	tmp.pid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&tmp.comm, task, comm);
	tmp.direction = NT_DIR_UNKNOWN;	/* user space decides from the listeners */
	tmp.reported = 1;
	/* NOEXIST: a socket shared by several processes is reported once, by its first owner */
	c = nt_conn_create(sk, &tmp, BPF_NOEXIST);
	if (!c)
		return 0;
	nt_fill_record(&r, sk, c, NT_REC_EXISTING, state, 0);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
