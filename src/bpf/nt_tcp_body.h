/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The TCP connection logic, written once for both BPF variants.
 *
 * A variant includes nt_bpf_common.h after its maps, then this file after it has defined:
 *   accessors nt_sk_is_tcp(sk, direct), nt_read_identity(sk, conn, direct),
 *             nt_read_counters(sk, rec, state, direct), nt_read_state(sk, direct),
 *             nt_read_ports(sk, &sport, &dport) (host order)
 *             where direct (a constant at each call site) says that sk is a BTF pointer
 *             the program may load from directly (tp_btf arguments): the CO-RE variant
 *             then reads fields with plain loads instead of a helper call per field
 *   output    nt_rec_reserve(ctx), nt_rec_submit(ctx, rec, cfg) (0, or -1: lost)
 * Everything here is static __always_inline: the 4.15 verifier knows no
 * bpf-to-bpf calls, and one body keeps the two variants' records identical.
 */
#ifndef NT_TCP_BODY_H
#define NT_TCP_BODY_H

#include "nt_bpf_common.h"

#ifndef NT_ACCEPT_CREATES
#define NT_ACCEPT_CREATES 1
#endif

static __always_inline int nt_is_loopback(const struct nt_conn *c)
{
	if (c->family == 4)
		return c->saddr[0] == 127 && c->daddr[0] == 127;
	/* ::1 on both ends (v4-mapped were turned into family 4 already) */
#pragma unroll	/* 4.15 has no bounded loops */
	for (int i = 0; i < 15; i++)
		if (c->saddr[i] | c->daddr[i])
			return 0;
	return c->saddr[15] == 1 && c->daddr[15] == 1;
}

static __always_inline void nt_fill_record(struct nt_record *r, void *sk, const struct nt_conn *c,
					   __u8 type, int state, int direct)
{
	r->ts_ns = bpf_ktime_get_ns();
	r->id = c->id;
	r->sk = (__u64)(unsigned long)sk;
	__builtin_memcpy(r->saddr, c->saddr, 16);
	__builtin_memcpy(r->daddr, c->daddr, 16);
	r->sport = c->sport;
	r->dport = c->dport;
	r->netns = c->netns;
	r->pid = c->pid;
	r->type = type;
	r->family = c->family;
	r->direction = c->direction;
	r->state = state;
	__builtin_memcpy(r->comm, c->comm, NT_COMM_LEN);
	r->flags = (c->pid ? 0 : NT_F_NO_PID) | (c->v4mapped ? NT_F_V4MAPPED : 0);
	/* counters and FIN flags: the variant reads them from the socket */
	if (nt_read_counters(sk, r, state, direct))
		nt_count(NT_STAT_READ_FAIL);
}

static __always_inline void nt_emit(void *ctx, void *sk, const struct nt_conn *c, __u8 type, int state,
				    const struct nt_config *cfg, int direct)
{
	struct nt_record *r = nt_rec_reserve(ctx);

	if (!r) {
		nt_count(NT_STAT_RB_FULL);
		return;
	}
	nt_fill_record(r, sk, c, type, state, direct);
	if (nt_rec_submit(ctx, r, cfg))
		nt_count(NT_STAT_RB_FULL);
}

static __always_inline void nt_set_current_task(struct nt_conn *c)
{
	c->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(c->comm, sizeof(c->comm));
}

/* Insert a fresh entry for sk; returns the map's copy or NULL (counted). */
static __always_inline struct nt_conn *nt_conn_create(void *sk, struct nt_conn *c, __u64 flags)
{
	__u64 key = (__u64)(unsigned long)sk;
	long err;

	c->id = nt_new_id();
	err = bpf_map_update_elem(&nt_conns, &key, c, flags);
	if (err) {
		/* -EEXIST with BPF_NOEXIST is not a loss: someone else tracks it */
		if (err != -17)
			nt_count(NT_STAT_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&nt_conns, &key);
}

/*
 * Every TCP state change. Only four transitions cost a map operation:
 *   CLOSE  -> SYN_SENT     connect(): remember the calling process
 *   LISTEN -> SYN_RECV     a new child socket of a listener
 *   *      -> ESTABLISHED  capture the identity; outgoing: emit "connect"
 *   *      -> CLOSE        emit "close" with the final counters, forget the socket
 */
static __always_inline int nt_on_state(void *ctx, void *sk, int oldstate, int newstate, int direct)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct nt_conn *c, tmp = {};
	struct nt_config *cfg = nt_cfg();

	if (!cfg)
		return 0;
	if (newstate == NT_TCP_SYN_SENT) {
		tmp.direction = NT_DIR_OUT;
		nt_set_current_task(&tmp);
		nt_conn_create(sk, &tmp, BPF_ANY);
		return 0;
	}
	if (newstate == NT_TCP_SYN_RECV && oldstate == NT_TCP_LISTEN) {
		tmp.direction = NT_DIR_IN;
		nt_conn_create(sk, &tmp, BPF_ANY);
		return 0;
	}
	if (newstate == NT_TCP_ESTABLISHED) {
		c = bpf_map_lookup_elem(&nt_conns, &key);
		if (!c) {
			/* handshake began before we attached: no process known */
			tmp.direction = oldstate == NT_TCP_SYN_SENT ? NT_DIR_OUT : NT_DIR_IN;
			c = nt_conn_create(sk, &tmp, BPF_ANY);
			if (!c)
				return 0;
		}
		if (nt_read_identity(sk, c, direct)) {
			nt_count(NT_STAT_READ_FAIL);
			bpf_map_delete_elem(&nt_conns, &key);
			return 0;
		}
		if (cfg->no_loopback && nt_is_loopback(c)) {
			bpf_map_delete_elem(&nt_conns, &key);
			return 0;
		}
		if (c->direction == NT_DIR_OUT && !c->reported) {
			c->reported = 1;
			nt_emit(ctx, sk, c, NT_REC_CONNECT, newstate, cfg, direct);
		}
		return 0;
	}
	if (newstate == NT_TCP_CLOSE) {
		c = bpf_map_lookup_elem(&nt_conns, &key);
		if (!c)
			return 0;
		/* family is set once established: failed handshakes leave no record */
		if (c->family) {
			nt_emit(ctx, sk, c, NT_REC_CLOSE, oldstate, cfg, direct);
			/* one close record per connection, also if the delete below fails
			 * (bucket lock busy) and the twin or a second CLOSE finds it */
			c->family = 0;
		}
		bpf_map_delete_elem(&nt_conns, &key);
	}
	return 0;
}

/*
 * The twins of the state hook (tp_btf, raw_tp). The tracepoint calls the first, then the
 * twin, for every change; a change nested inside one of them (process context interrupted
 * by a softirq: at most two levels for TCP) finds that one busy and skipped by the kernel,
 * and the other free. The first marks (per CPU) the change it takes by its context
 * pointer, socket and new state; the twin leaves a change so marked and takes any other.
 * Taking one twice is harmless: nt_on_state() emits each record once (reported flag,
 * delete on close) and recreates an entry only before any record carries its id.
 */
static __always_inline void nt_state_mark(void *ctx, void *sk, int newstate)
{
	__u32 zero = 0;
	struct nt_state_mark *m = bpf_map_lookup_elem(&nt_state_marks, &zero);

	if (m) {
		m->ctx = (__u64)(unsigned long)ctx;
		m->sk = (__u64)(unsigned long)sk;
		m->newstate = (__u64)newstate;
	}
}

/* For the twin: whether the first took this change (the mark is consumed). */
static __always_inline int nt_state_marked(void *ctx, void *sk, int newstate)
{
	__u32 zero = 0;
	struct nt_state_mark *m = bpf_map_lookup_elem(&nt_state_marks, &zero);

	if (!m || m->ctx != (__u64)(unsigned long)ctx || m->sk != (__u64)(unsigned long)sk ||
	    m->newstate != (__u64)newstate)
		return 0;
	m->ctx = 0;
	return 1;
}

/* Whether this program of the twins takes the change (and, for the first, marks it). */
static __always_inline int nt_state_take(void *ctx, void *sk, int newstate, int twin)
{
	if (twin)
		return !nt_state_marked(ctx, sk, newstate);
	nt_state_mark(ctx, sk, newstate);
	return 1;
}

/* accept() returned sk to the current process. */
static __always_inline int nt_on_accept(void *ctx, void *sk, int direct)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct nt_conn *c, tmp = {};
	struct nt_config *cfg = nt_cfg();
	int state;

	if (!sk || !cfg)
		return 0;
	c = bpf_map_lookup_elem(&nt_conns, &key);
	if (!c) {
		/* established before we attached and accepted now; the legacy variant has
		 * these entries made by user space at start instead (nt_existing_req) */
		if (!NT_ACCEPT_CREATES || !nt_sk_is_tcp(sk, direct))
			return 0;
		state = nt_read_state(sk, direct);
		if (state != NT_TCP_ESTABLISHED && state != NT_TCP_CLOSE_WAIT)
			return 0;
		tmp.direction = NT_DIR_IN;
		c = nt_conn_create(sk, &tmp, BPF_NOEXIST);
		if (!c)
			return 0;
		if (nt_read_identity(sk, c, direct)) {
			nt_count(NT_STAT_READ_FAIL);
			bpf_map_delete_elem(&nt_conns, &key);
			return 0;
		}
		if (cfg->no_loopback && nt_is_loopback(c)) {
			bpf_map_delete_elem(&nt_conns, &key);
			return 0;
		}
	}
	if (c->reported)
		return 0;
	if (!c->family && nt_read_identity(sk, c, direct)) {
		/* TCP Fast Open hands out the child before it is ESTABLISHED */
		nt_count(NT_STAT_READ_FAIL);
		return 0;
	}
	nt_set_current_task(c);
	c->reported = 1;
	nt_emit(ctx, sk, c, NT_REC_ACCEPT, nt_read_state(sk, direct), cfg, direct);
	return 0;
}

/*
 * Snapshot of one socket user space asked for. Returns -1 when the output buffer is
 * full: user space drains it and asks again from this socket on. A socket that closed
 * (or closed and was reused for another connection) gives no record; its close record
 * is on its way.
 */
static __always_inline int nt_snapshot_one(void *ctx, const struct nt_snap_req *req,
					   const struct nt_config *cfg)
{
	void *sk = (void *)req->sk;
	struct nt_record *r;
	__u16 sport, dport;
	int state;

	if (nt_read_ports(sk, &sport, &dport) || sport != req->sport || dport != req->dport)
		return 0;
	state = nt_read_state(sk, 0);
	if (state == NT_TCP_CLOSE || state == 0 || state == NT_TCP_LISTEN)
		return 0;
	r = nt_rec_reserve(ctx);
	if (!r)
		return -1;
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_ns = bpf_ktime_get_ns();
	r->id = req->id;
	r->sk = req->sk;
	r->sport = sport;
	r->dport = dport;
	r->type = NT_REC_METRICS;
	r->state = state;
	if (nt_read_counters(sk, r, state, 0))
		nt_count(NT_STAT_READ_FAIL);
	/* a perf buffer loses the record on output: say so, user space asks again */
	return nt_rec_submit(ctx, r, cfg);
}

#endif /* NT_TCP_BODY_H */
