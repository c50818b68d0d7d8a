// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The legacy variant: offsets from the guesser (or its cache), the nettracer_legacy
 * skeleton with hooks picked by probes, a perf buffer, snapshots and pre-existing
 * connections as requests run by BPF_PROG_TEST_RUN (5.10+) or the sched_getattr
 * trigger (4.15+).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend.h"
#include "backend_util.h"
#include "existing.h"
#include "guess.h"
#include "hooks.h"
#include "log.h"
#include "nettracer_legacy.skel.h"
#include "search.h"
#include "sysutil.h"

#define NT_SNAP_BATCH_LEGACY 8	/* as in nettracer.legacy.bpf.c */
#define NT_EXIST_BATCH 4

#define CAND(k, t, p) { .kind = (k), .target = (t), .prog = (p) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct nt_hook_candidate state_candidates[] = {
	{ .kind = NT_HK_RAW_TP, .target = "inet_sock_set_state", .prog = "nt_state_raw",
	  .twin_prog = "nt_state_raw_twin" },
	CAND(NT_HK_TRACEPOINT, "sock/inet_sock_set_state", "nt_state_tp"),
	CAND(NT_HK_TRACEPOINT, "tcp/tcp_set_state", "nt_state_tp415"),
	CAND(NT_HK_KPROBE, "tcp_set_state", "nt_state_kprobe"),
};

static const struct nt_hook_candidate accept_candidates[] = {
	CAND(NT_HK_KRETPROBE, "inet_csk_accept", "nt_accept_kretprobe"),
	{ .kind = NT_HK_TRACEPOINT, .target = "syscalls/sys_exit_accept4",
	  .prog = "nt_accept4_exit",
	  .also_target = "syscalls/sys_exit_accept", .also_prog = "nt_accept_exit" },
};

static const struct nt_hook_candidate snapshot_candidates[] = {
	CAND(NT_HK_TEST_RUN, "raw_tp", "nt_snapshot_run"),
	CAND(NT_HK_TRACEPOINT, "syscalls/sys_enter_sched_getattr", "nt_snapshot_trig"),
};

static const struct nt_hook_candidate existing_candidates[] = {
	CAND(NT_HK_TEST_RUN, "raw_tp", "nt_existing_run"),
	CAND(NT_HK_TRACEPOINT, "syscalls/sys_enter_sched_getattr", "nt_existing_trig"),
};

enum { HOOK_STATE, HOOK_ACCEPT, HOOK_SNAPSHOT, HOOK_EXISTING, HOOK__COUNT };

#define HOOK(n, p, w, c) { .name = (n), .purpose = (p), .without = (w), .candidates = (c), \
			  .n_candidates = N(c) }
static const struct nt_hook legacy_hooks[HOOK__COUNT] = {
	[HOOK_STATE] = HOOK("state", "TCP state changes: connect, accept, close, final metrics",
			    NULL, state_candidates),
	[HOOK_ACCEPT] = HOOK("accept", "the process that accept()ed a connection",
			     "incoming connections are reported at close only, without a pid",
			     accept_candidates),
	[HOOK_SNAPSHOT] = HOOK("snapshot", "live metrics of open connections every interval",
			       "no periodic metrics: open connections show their values at connect",
			       snapshot_candidates),
	[HOOK_EXISTING] = HOOK("existing", "connections open before nettracer started",
			       "connections open before the start are not reported",
			       existing_candidates),
};

struct legacy_backend {
	struct nt_backend base;
	struct nt_hook hooks[HOOK__COUNT];
	struct nettracer_legacy *skel;
	struct perf_buffer *pb;
	struct nt_perf_sink perf;
	struct bpf_link *links[6];
	size_t n_links;
	int ncpus;
	struct nt_batch_runner snap, exist;
	struct nt_guess_result guess;
};

static struct legacy_backend *from(struct nt_backend *b)
{
	return (struct legacy_backend *)b;
}

static int legacy_event_fd(struct nt_backend *b)
{
	return perf_buffer__epoll_fd(from(b)->pb);
}

static int legacy_drain(struct nt_backend *b)
{
	return nt_perf_drain(from(b)->pb, &from(b)->perf);
}

static int legacy_snapshot(struct nt_backend *b, const struct nt_snap_req *reqs, size_t n)
{
	return nt_run_batches(&from(b)->snap, reqs, sizeof(*reqs), n);
}

static int pidfd_getfd_of(int pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), local;

	if (pidfd < 0)
		return -errno;
	local = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (local < 0)
		local = -errno;
	close(pidfd);
	return local;
}

static bool tracked_state(uint8_t state)
{
	/* ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING */
	return state == 1 || state == 4 || state == 5 || state == 8 || state == 9 || state == 11;
}

/*
 * What was open before the start: listeners become LISTEN records (for telling
 * incoming from outgoing); each connection held by a process is borrowed with
 * pidfd_getfd() (5.6+) and walked from the descriptor to its socket like accept()'s,
 * or, without pidfd_getfd, taken by the address /proc printed when kptr_restrict lets
 * it print real ones.
 */
static int legacy_existing(struct nt_backend *b)
{
	struct legacy_backend *lb = from(b);
	struct nt_existing_req reqs[NT_EXIST_BATCH];
	struct nt_proc_scan scan;
	size_t n = 0, hidden = 0, unowned = 0;
	bool fdwalk = lb->guess.off.have & NT_HAVE_FDWALK, pidfd = fdwalk;
	int err = nt_proc_scan_tcp(&scan);

	if (err)
		return err;
	for (size_t i = 0; i < scan.n; i++) {
		const struct nt_proc_sock *s = &scan.socks[i];
		struct nt_existing_req *r = &reqs[n];

		if (s->state == 10) {	/* LISTEN */
			struct nt_record rec = { .type = NT_REC_LISTEN, .family = s->family,
						 .sport = s->lport, .netns = s->netns,
						 .state = s->state };

			memcpy(rec.saddr, s->laddr, 16);
			nt_session_record(b->session, &rec, sizeof(rec));
			continue;
		}
		if (!tracked_state(s->state))
			continue;
		if (s->pid < 0) {
			unowned++;	/* no process holds it: accepted later, or closing */
			continue;
		}
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		r->pid = (uint32_t)s->pid;
		memcpy(r->comm, s->comm, NT_COMM_LEN);
		if (pidfd) {
			r->fd = pidfd_getfd_of(s->pid, s->fd);
			if (r->fd == -ENOSYS)
				pidfd = false;
			else if (r->fd < 0)
				continue;	/* the process or the descriptor is gone */
		}
		if (r->fd < 0) {
			if (!nt_is_kernel_ptr(s->sk)) {
				hidden++;
				continue;
			}
			r->sk = s->sk;
		}
		if (++n == NT_EXIST_BATCH || i + 1 == scan.n) {
			err = nt_run_batches(&lb->exist, reqs, sizeof(reqs[0]), n);
			for (size_t k = 0; k < n; k++)
				if (reqs[k].fd >= 0)
					close(reqs[k].fd);
			n = 0;
			if (err)
				break;
		}
	}
	if (n && !err) {
		err = nt_run_batches(&lb->exist, reqs, sizeof(reqs[0]), n);
		for (size_t k = 0; k < n; k++)
			if (reqs[k].fd >= 0)
				close(reqs[k].fd);
	}
	if (hidden)
		pr_warn("%zu connections open before the start are not reported: %s, and "
			"/proc/net/tcp shows no socket addresses (kernel.kptr_restrict)", hidden,
			fdwalk ? "no pidfd_getfd() (5.6+)"
			       : "the descriptor walk was not guessed");
	pr_debug("existing: %zu sockets in /proc, %zu held by no process", scan.n, unowned);
	nt_proc_scan_free(&scan);
	return err;
}

static int legacy_read_stats(struct nt_backend *b, uint64_t stats[NT_STAT__MAX])
{
	struct legacy_backend *lb = from(b);
	int err = nt_percpu_sum(bpf_map__fd(lb->skel->maps.nt_stats), lb->ncpus, stats,
				NT_STAT__MAX);

	stats[NT_STAT_RB_FULL] += lb->perf.lost + lb->perf.held_oom;
	stats[NT_STAT_MISSED] = nt_prog_misses(lb->skel->obj);
	return err;
}

static void legacy_detach(struct nt_backend *b)
{
	struct legacy_backend *lb = from(b);

	for (size_t i = 0; i < lb->n_links; i++)
		bpf_link__destroy(lb->links[i]);
	lb->n_links = 0;
}

static void legacy_destroy(struct nt_backend *b)
{
	struct legacy_backend *lb = from(b);

	if (!lb)
		return;
	legacy_detach(b);
	perf_buffer__free(lb->pb);
	nt_perf_sink_free(&lb->perf);
	nettracer_legacy__destroy(lb->skel);
	free(lb);
}

static int attach_prog(struct legacy_backend *lb, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(lb->skel->obj, name);
	struct bpf_link *l = p ? bpf_program__attach(p) : NULL;

	if (!l) {
		pr_err("attaching BPF program %s failed: %s", name, strerror(errno));
		return -1;
	}
	lb->links[lb->n_links++] = l;
	return 0;
}

static int attach_hook(struct legacy_backend *lb, const struct nt_hook *h)
{
	const struct nt_hook_candidate *c;

	if (h->chosen < 0)
		return 0;
	c = &h->candidates[h->chosen];
	if (c->kind == NT_HK_TEST_RUN)
		return 0;	/* run by user space, never attached */
	if (attach_prog(lb, c->prog))
		return -1;
	if (c->twin_prog && attach_prog(lb, c->twin_prog))
		return -1;
	if (c->also_prog && h->also && attach_prog(lb, c->also_prog))
		return -1;
	return 0;
}

/* The guess, from the cache of this kernel and boot when there is one. */
static int get_offsets(const struct nt_options *o, struct nt_guess_result *r)
{
	struct nt_guess_opts gopt = { .use_trigger = o->guess_trigger, .hide = o->guess_hide };

	if (!o->guess_hide && o->guess_cache && !nt_guess_cache_load(o->guess_cache, r)) {
		pr_info("offsets from the cache %s (this kernel and boot)", o->guess_cache);
		return 0;
	}
	if (nt_guess_run(&gopt, r)) {
		pr_err("%s", r->error);
		return -1;
	}
	for (int i = 0; i < r->n_warnings; i++)
		pr_warn("%s", r->warnings[i]);
	pr_info("offsets guessed in %llu ms (%u connections, %llu reads of kernel memory)",
		(unsigned long long)(r->elapsed_us / 1000), r->connections,
		(unsigned long long)r->peeks);
	if (o->guess_cache && !o->guess_hide) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s", o->guess_cache);
		mkdir(dirname(dir), 0755);
		if (nt_guess_cache_store(o->guess_cache, r))
			pr_warn("cannot write the offsets cache %s: %s", o->guess_cache,
				strerror(errno));
	}
	return 0;
}

/* Candidates the guessed offsets cannot serve. */
static void block_by_offsets(struct nt_hook *hooks, const struct nt_offsets *off)
{
	for (int h = 0; h < HOOK__COUNT; h++) {
		for (size_t i = 0; i < hooks[h].n_candidates; i++) {
			const char *prog = hooks[h].candidates[i].prog;

			if (!strcmp(prog, "nt_state_raw") && !(off->have & NT_HAVE_PROT))
				snprintf(hooks[h].blocked[i], sizeof(hooks[h].blocked[i]),
					 "skc_prot not guessed (needed to keep TCP sockets only)");
			if (!strcmp(prog, "nt_accept4_exit") && !(off->have & NT_HAVE_FDWALK))
				snprintf(hooks[h].blocked[i], sizeof(hooks[h].blocked[i]),
					 "the fd -> socket walk was not guessed");
		}
	}
}

struct nt_backend *nt_backend_legacy_new(const struct nt_options *o, const char *reason)
{
	struct legacy_backend *lb = calloc(1, sizeof(*lb));
	struct nt_config cfg = { .no_loopback = o->no_loopback, .trigger_tgid = (__u32)getpid() };
	struct nt_probe_env env;
	__u32 zero = 0;
	int err;

	if (!lb) {
		pr_err("out of memory");
		return NULL;
	}
	lb->base.variant = "legacy";
	snprintf(lb->base.reason, sizeof(lb->base.reason), "%s", reason);
	lb->base.hooks = lb->hooks;
	lb->base.n_hooks = HOOK__COUNT;
	lb->base.event_fd = legacy_event_fd;
	lb->base.drain = legacy_drain;
	lb->base.read_stats = legacy_read_stats;
	lb->base.detach = legacy_detach;
	lb->base.destroy = legacy_destroy;
	lb->perf.backend = &lb->base;
	lb->ncpus = libbpf_num_possible_cpus();
	if (lb->ncpus <= 0) {
		pr_err("cannot count CPUs: %s", strerror(-lb->ncpus));
		goto fail;
	}

	if (get_offsets(o, &lb->guess))
		goto fail;
	nt_phase("offsets");

	memcpy(lb->hooks, legacy_hooks, sizeof(lb->hooks));
	block_by_offsets(lb->hooks, &lb->guess.off);
	if (nt_hooks_prepare(lb->hooks, HOOK__COUNT, o))
		goto fail;
	nt_probe_env_init(&env, true);
	nt_hooks_probe(lb->hooks, HOOK__COUNT, &env, false);
	nt_probe_env_free(&env);
	nt_phase("probe");
	if (lb->hooks[HOOK_STATE].chosen < 0) {
		pr_err("no usable hook for TCP state changes on this kernel (run nettracer --probe "
		       "--bpf=legacy for the reasons)");
		goto fail;
	}
	for (int h = HOOK_ACCEPT; h < HOOK__COUNT; h++)
		if (lb->hooks[h].chosen < 0)
			pr_warn("no usable hook for %s: %s", lb->hooks[h].purpose, lb->hooks[h].without);

	lb->skel = nettracer_legacy__open();
	if (!lb->skel) {
		pr_err("opening the legacy BPF object failed: %s", strerror(errno));
		goto fail;
	}
	if (nt_hooks_apply(lb->hooks, HOOK__COUNT, lb->skel->obj))
		goto fail;
	bpf_map__set_max_entries(lb->skel->maps.nt_conns, o->max_conns);
	err = nettracer_legacy__load(lb->skel);
	if (err) {
		pr_err("loading the legacy BPF programs failed: %s (run with -v for the verifier "
		       "log)", strerror(-err));
		goto fail;
	}
	nt_phase("load");
	if (bpf_map_update_elem(bpf_map__fd(lb->skel->maps.nt_config), &zero, &cfg, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(lb->skel->maps.nt_offsets), &zero, &lb->guess.off,
				BPF_ANY)) {
		pr_err("configuring the BPF programs failed: %s", strerror(errno));
		goto fail;
	}
	lb->pb = nt_perf_open(bpf_map__fd(lb->skel->maps.nt_events), o->ringbuf_bytes, lb->ncpus,
			      &lb->perf);
	if (!lb->pb) {
		pr_err("setting up the perf buffer failed: %s", strerror(errno));
		goto fail;
	}
	/* in hook order: the state hook before the accept hook (see backend_core.c) */
	for (int h = 0; h < HOOK__COUNT; h++)
		if (attach_hook(lb, &lb->hooks[h]))
			goto fail;
	/* requests: test run of the raw_tp program, or the trigger's tracepoint program */
	lb->snap = (struct nt_batch_runner){ .prog_fd = -1, .trigger_op = NT_TRIGGER_SNAPSHOT,
					     .batch = NT_SNAP_BATCH_LEGACY, .backend = &lb->base,
					     .progress_map_fd = bpf_map__fd(lb->skel->maps.nt_progress) };
	lb->exist = (struct nt_batch_runner){ .prog_fd = -1, .trigger_op = NT_TRIGGER_EXISTING,
					      .batch = NT_EXIST_BATCH, .backend = &lb->base,
					      .progress_map_fd = bpf_map__fd(lb->skel->maps.nt_progress) };
	if (lb->hooks[HOOK_SNAPSHOT].chosen >= 0) {
		if (lb->hooks[HOOK_SNAPSHOT].candidates[lb->hooks[HOOK_SNAPSHOT].chosen].kind ==
		    NT_HK_TEST_RUN)
			lb->snap.prog_fd = bpf_program__fd(lb->skel->progs.nt_snapshot_run);
		lb->base.snapshot = legacy_snapshot;
	}
	if (lb->hooks[HOOK_EXISTING].chosen >= 0) {
		if (lb->hooks[HOOK_EXISTING].candidates[lb->hooks[HOOK_EXISTING].chosen].kind ==
		    NT_HK_TEST_RUN)
			lb->exist.prog_fd = bpf_program__fd(lb->skel->progs.nt_existing_run);
		lb->base.existing = legacy_existing;
	}
	nt_phase("attach");
	nt_hooks_release_probes();
	return &lb->base;
fail:
	nt_hooks_release_probes();
	legacy_destroy(&lb->base);
	return NULL;
}

int nt_backend_legacy_probe(const struct nt_options *o, FILE *out)
{
	struct legacy_backend lb = {};
	struct nt_probe_env env;

	memcpy(lb.hooks, legacy_hooks, sizeof(lb.hooks));
	if (nt_hooks_prepare(lb.hooks, HOOK__COUNT, o))
		return 2;
	nt_probe_env_init(&env, true);
	nt_hooks_probe(lb.hooks, HOOK__COUNT, &env, true);
	nt_probe_env_free(&env);
	fprintf(out, "legacy programs (offsets from the guesser; raw_tp state and accept "
		     "tracepoints also need guessed fields):\n");
	nt_hooks_print(out, lb.hooks, HOOK__COUNT);
	return lb.hooks[HOOK_STATE].chosen < 0 ? 1 : 0;
}
