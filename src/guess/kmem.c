// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "kmem.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nettracer_guess.skel.h"
#include "sysutil.h"

#define MAX_CAPTURES 4096	/* a ring: the oldest go first */

struct nt_kmem {
	struct nettracer_guess *skel;
	struct perf_buffer *pb;
	struct bpf_link *capture_link;
	struct bpf_link *trigger_link;
	bool trigger;
	const char *capture_via;
	struct nt_guess_capture caps[MAX_CAPTURES];
	size_t n_caps;		/* ever received; the ring holds the last MAX_CAPTURES */
	uint64_t peeks;
	int peek_map_fd;
};

static void on_capture(void *ctx, int cpu, void *data, __u32 size)
{
	struct nt_kmem *k = ctx;

	(void)cpu;
	if (size >= sizeof(struct nt_guess_capture))
		memcpy(&k->caps[k->n_caps++ % MAX_CAPTURES], data, sizeof(struct nt_guess_capture));
}

static bool test_run_works(struct nt_kmem *k)
{
	__u64 args[2] = { 0, 0 };
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));

	return bpf_prog_test_run_opts(bpf_program__fd(k->skel->progs.gs_peek_run), &run) == 0;
}

int nt_kmem_open(struct nt_kmem **out, const struct nt_guess_config *config, bool use_trigger,
		 char *err, size_t len)
{
	struct nt_guess_config cfg = *config;
	struct nt_kmem *k = calloc(1, sizeof(*k));
	bool have_sock_tp, have_tcp_tp, have_trigger;
	struct bpf_program *cap;
	char why[192];
	__u32 zero = 0;

	*out = NULL;
	cfg.tgid = (__u32)getpid();
	if (!k) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	/* the ground truth comes from classic tracepoints: they need tracefs */
	if (!nt_tracefs(why, sizeof(why))) {
		snprintf(err, len, "%s", why);
		goto fail;
	}
	have_sock_tp = nt_tracepoint_id("sock", "inet_sock_set_state") > 0;
	have_tcp_tp = nt_tracepoint_id("tcp", "tcp_set_state") > 0;
	have_trigger = nt_tracepoint_id("syscalls", "sys_enter_sched_getattr") > 0;
	if (!have_sock_tp && !have_tcp_tp) {
		snprintf(err, len, "neither sock:inet_sock_set_state (4.16+) nor tcp:tcp_set_state "
				   "(4.15) is a tracepoint of this kernel");
		goto fail;
	}
	k->skel = nettracer_guess__open();
	if (!k->skel) {
		snprintf(err, len, "opening the guess BPF object: %s", strerror(errno));
		goto fail;
	}
	cap = have_sock_tp ? k->skel->progs.gs_state_tp : k->skel->progs.gs_state_tp415;
	k->capture_via = have_sock_tp ? "tracepoint/sock/inet_sock_set_state"
				      : "tracepoint/tcp/tcp_set_state";
	bpf_program__set_autoload(have_sock_tp ? k->skel->progs.gs_state_tp415
					       : k->skel->progs.gs_state_tp, false);
	bpf_program__set_autoload(k->skel->progs.gs_peek_trig, have_trigger);
	/* raw_tp programs load from 4.17 on; below that only the trigger is left */
	if (nt_kernel_version_code() < ((4u << 16) | (17u << 8)))
		bpf_program__set_autoload(k->skel->progs.gs_peek_run, false);
	if (nettracer_guess__load(k->skel)) {
		snprintf(err, len, "loading the guess BPF object: %s (run with -v for the "
				   "verifier log)", strerror(errno));
		goto fail;
	}
	if (bpf_map_update_elem(bpf_map__fd(k->skel->maps.gs_config), &zero, &cfg, BPF_ANY)) {
		snprintf(err, len, "configuring the guess BPF object: %s", strerror(errno));
		goto fail;
	}
	k->capture_link = bpf_program__attach(cap);
	if (!k->capture_link) {
		snprintf(err, len, "attaching %s: %s", k->capture_via, strerror(errno));
		goto fail;
	}
	k->trigger = use_trigger || !bpf_program__autoload(k->skel->progs.gs_peek_run) ||
		     !test_run_works(k);
	if (k->trigger) {
		if (!have_trigger) {
			snprintf(err, len, "no way to read kernel memory: BPF_PROG_TEST_RUN of "
					   "raw_tp programs (5.10+) and syscall tracepoints are "
					   "both missing");
			goto fail;
		}
		k->trigger_link = bpf_program__attach(k->skel->progs.gs_peek_trig);
		if (!k->trigger_link) {
			snprintf(err, len, "attaching the peek trigger: %s", strerror(errno));
			goto fail;
		}
	}
	k->pb = perf_buffer__new(bpf_map__fd(k->skel->maps.gs_captures), 64, on_capture, NULL, k,
				 NULL);
	if (!k->pb) {
		snprintf(err, len, "perf buffer for captures: %s", strerror(errno));
		goto fail;
	}
	k->peek_map_fd = bpf_map__fd(k->skel->maps.gs_peek);
	*out = k;
	return 0;
fail:
	nt_kmem_close(k);
	return -1;
}

void nt_kmem_close(struct nt_kmem *k)
{
	if (!k)
		return;
	perf_buffer__free(k->pb);
	bpf_link__destroy(k->capture_link);
	bpf_link__destroy(k->trigger_link);
	nettracer_guess__destroy(k->skel);
	free(k);
}

static bool capture_matches(const struct nt_guess_capture *c, int family, const uint8_t *saddr,
			    uint16_t sport, const uint8_t *daddr, uint16_t dport, int newstate)
{
	if (c->sport != sport || c->dport != dport || c->newstate != newstate)
		return false;
	if (family == 4)
		return !memcmp(c->saddr, saddr, 4) && !memcmp(c->daddr, daddr, 4);
	return !memcmp(c->saddr_v6, saddr, 16) && !memcmp(c->daddr_v6, daddr, 16);
}

int nt_kmem_wait_capture(struct nt_kmem *k, int family, const uint8_t *saddr, uint16_t sport,
			 const uint8_t *daddr, uint16_t dport, int newstate, int timeout_ms,
			 uint64_t *sk)
{
	uint64_t deadline = nt_now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (;;) {
		size_t from = k->n_caps > MAX_CAPTURES ? k->n_caps - MAX_CAPTURES : 0;
		uint64_t found = 0;

		perf_buffer__consume(k->pb);
		for (size_t i = from; i < k->n_caps; i++) {
			const struct nt_guess_capture *c = &k->caps[i % MAX_CAPTURES];

			if (!capture_matches(c, family, saddr, sport, daddr, dport, newstate))
				continue;
			if (found && found != c->sk)
				return -EEXIST;
			found = c->sk;
		}
		if (found) {
			*sk = found;
			return 0;
		}
		if (nt_now_mono_ns() >= deadline)
			return -ETIMEDOUT;
		perf_buffer__poll(k->pb, 5);
	}
}

static int peek_once(struct nt_kmem *k, uint64_t addr, size_t len, struct nt_guess_peek *p)
{
	__u32 zero = 0;

	k->peeks++;
	if (k->trigger) {
		/* fails with EINVAL by design: the entry tracepoint has done the work */
		syscall(SYS_sched_getattr, (long)NT_GUESS_TRIGGER_PID, (long)addr, (long)len,
			(long)NT_GUESS_TRIGGER_PEEK);
	} else {
		__u64 args[2] = { addr, len };
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));

		if (bpf_prog_test_run_opts(bpf_program__fd(k->skel->progs.gs_peek_run), &run))
			return -errno;
	}
	if (bpf_map_lookup_elem(k->peek_map_fd, &zero, p))
		return -errno;
	return 0;
}

int nt_kmem_read(struct nt_kmem *k, uint64_t addr, void *buf, size_t len)
{
	static struct nt_guess_peek p;	/* 4 KiB: not on the stack */
	uint8_t *dst = buf;

	while (len) {
		size_t n = len < NT_GUESS_PEEK_MAX ? len : NT_GUESS_PEEK_MAX;
		int err = peek_once(k, addr, n, &p);

		if (err)
			return err;
		if (p.len != n)
			return -EFAULT;
		memcpy(dst, p.data, n);
		dst += n;
		addr += n;
		len -= n;
	}
	return 0;
}

uint64_t nt_kmem_current_task(struct nt_kmem *k)
{
	static struct nt_guess_peek p;

	if (peek_once(k, 0, 0, &p))
		return 0;
	return p.task;
}

const char *nt_kmem_peek_via(const struct nt_kmem *k)
{
	return k->trigger ? "trigger/syscalls/sys_enter_sched_getattr" : "test_run/raw_tp";
}

const char *nt_kmem_capture_via(const struct nt_kmem *k)
{
	return k->capture_via;
}

uint64_t nt_kmem_peeks(const struct nt_kmem *k)
{
	return k->peeks;
}
