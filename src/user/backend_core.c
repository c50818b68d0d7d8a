// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The CO-RE variant: the nettracer_core skeleton, hooks picked by probes, a
 * ring buffer (perf buffer before 5.8), iterators for snapshots and for the
 * connections that were open before we started.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "backend_util.h"
#include "hooks.h"
#include "log.h"
#include "nettracer_core.skel.h"
#include "sysutil.h"

#define CAND(k, t, p) { .kind = (k), .target = (t), .prog = (p) }

static const struct nt_hook_candidate state_candidates[] = {
	{ .kind = NT_HK_TP_BTF, .target = "inet_sock_set_state", .prog = "nt_state_btf",
	  .twin_prog = "nt_state_btf_twin" },
	{ .kind = NT_HK_RAW_TP, .target = "inet_sock_set_state", .prog = "nt_state_raw",
	  .twin_prog = "nt_state_raw_twin" },
	CAND(NT_HK_TRACEPOINT, "sock/inet_sock_set_state", "nt_state_tp"),
	CAND(NT_HK_TRACEPOINT, "tcp/tcp_set_state", "nt_state_tp415"),	/* 4.15 */
	CAND(NT_HK_FENTRY, "tcp_set_state", "nt_state_fentry"),
	CAND(NT_HK_KPROBE, "tcp_set_state", "nt_state_kprobe"),
};

/* fexit/kretprobe see every accept, io_uring's included, with the socket in hand;
 * the syscall exit needs the fd walked back to its socket. */
static const struct nt_hook_candidate accept_candidates[] = {
	CAND(NT_HK_FEXIT, "inet_csk_accept", "nt_accept_fexit"),
	CAND(NT_HK_KRETPROBE, "inet_csk_accept", "nt_accept_kretprobe"),
	{ .kind = NT_HK_TRACEPOINT, .target = "syscalls/sys_exit_accept4",
	  .prog = "nt_accept4_exit",
	  .also_target = "syscalls/sys_exit_accept", .also_prog = "nt_accept_exit" },
};

/* the iterator walks the kernel's table itself; the test run is handed user space's list */
static const struct nt_hook_candidate snapshot_candidates[] = {
	CAND(NT_HK_ITER, "bpf_map_elem", "nt_snapshot"),
	CAND(NT_HK_TEST_RUN, "bpf_rdonly_cast", "nt_snapshot_cast"),
	CAND(NT_HK_TEST_RUN, "bpf_loop", "nt_snapshot_loop"),
	CAND(NT_HK_TEST_RUN, "raw_tp", "nt_snapshot_run"),
};

static const struct nt_hook_candidate existing_candidates[] = {
	CAND(NT_HK_ITER, "task_file", "nt_existing"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum { HOOK_STATE, HOOK_ACCEPT, HOOK_SNAPSHOT, HOOK_EXISTING, HOOK__COUNT };

static const struct nt_hook core_hooks[HOOK__COUNT] = {
#define HOOK(n, p, w, c) { .name = (n), .purpose = (p), .without = (w), .candidates = (c), \
			  .n_candidates = N(c) }
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

struct core_backend {
	struct nt_backend base;
	struct nt_hook hooks[HOOK__COUNT];
	struct nettracer_core *skel;
	struct ring_buffer *rb;
	struct perf_buffer *pb;
	struct bpf_link *links[4];
	size_t n_links;
	struct bpf_link *snap_link;
	struct bpf_link *exist_link;
	int ncpus;
	struct nt_perf_sink perf;	/* perf buffer (before 5.8): its lost samples count too */
	void *iter_buf;
};

/*
 * Records asked for per read() of an iterator. Less than the kernel's seq_file buffer
 * (8 pages) holds: a read that fills it overflows on the next record, and the map
 * iterators then resume after that record instead of at it (6.1 lost one connection
 * in 256 of each snapshot that way). Stopping short of the buffer never overflows.
 */
#define ITER_BUF_RECORDS 128

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's messages are demoted one level: shown with -v */
	enum nt_log_level l = level == LIBBPF_WARN ? NT_LOG_INFO : NT_LOG_DEBUG;
	char *buf = NULL, *line, *save = NULL;

	/* a verifier log is one message of many lines, and may be long: line by line */
	if (vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		nt_log(l, "%s%s", strncmp(line, "libbpf: ", 8) ? "libbpf: " : "", line);
	free(buf);
	return 0;
}

void nt_libbpf_logging(int verbose)
{
	nt_log_set_level(verbose >= 2 ? NT_LOG_DEBUG : verbose ? NT_LOG_INFO : NT_LOG_INFO);
	libbpf_set_print(verbose ? libbpf_print_fn : NULL);
}

static struct core_backend *from(struct nt_backend *b)
{
	return (struct core_backend *)b;
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	nt_session_record(((struct core_backend *)ctx)->base.session, data, size);
	return 0;
}

static int core_event_fd(struct nt_backend *b)
{
	struct core_backend *cb = from(b);

	return cb->rb ? ring_buffer__epoll_fd(cb->rb) : perf_buffer__epoll_fd(cb->pb);
}

static int core_drain(struct nt_backend *b)
{
	struct core_backend *cb = from(b);

	return cb->rb ? ring_buffer__consume(cb->rb) : nt_perf_drain(cb->pb, &cb->perf);
}

/* Run an iterator to its end, handing every record to the session. */
static int run_iter(struct core_backend *cb, struct bpf_link *link)
{
	size_t have = 0, rec = sizeof(struct nt_record);
	char *buf = cb->iter_buf;
	int fd = bpf_iter_create(bpf_link__fd(link)), err = 0;

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, buf + have, ITER_BUF_RECORDS * rec - have);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: the kernel restarted a walk over a changing map; rare */
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (; have - off >= rec; off += rec)
			nt_session_record(cb->base.session, (struct nt_record *)(buf + off), rec);
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	close(fd);
	return err;
}

static int core_snapshot_iter(struct nt_backend *b, const struct nt_snap_req *reqs, size_t n)
{
	(void)reqs;
	(void)n;
	return run_iter(from(b), from(b)->snap_link);
}

static int core_snapshot_run(struct nt_backend *b, const struct nt_snap_req *reqs, size_t n)
{
	struct core_backend *cb = from(b);
	struct bpf_program *loop = bpf_program__autoload(cb->skel->progs.nt_snapshot_cast)
					   ? cb->skel->progs.nt_snapshot_cast
				   : bpf_program__autoload(cb->skel->progs.nt_snapshot_loop)
					   ? cb->skel->progs.nt_snapshot_loop
					   : NULL;
	struct nt_batch_runner run = {
		.prog_fd = bpf_program__fd(loop ? loop : cb->skel->progs.nt_snapshot_run),
		.batch = loop ? NT_SNAP_BATCH_LOOP : NT_SNAP_BATCH,
		.backend = b,
	};

	return nt_run_batches(&run, reqs, sizeof(*reqs), n);
}

static int core_existing(struct nt_backend *b)
{
	struct core_backend *cb = from(b);

	return cb->exist_link ? run_iter(cb, cb->exist_link) : -ENOTSUP;
}

static int core_read_stats(struct nt_backend *b, uint64_t stats[NT_STAT__MAX])
{
	struct core_backend *cb = from(b);
	int err = nt_percpu_sum(bpf_map__fd(cb->skel->maps.nt_stats), cb->ncpus, stats,
				NT_STAT__MAX);

	stats[NT_STAT_RB_FULL] += cb->perf.lost + cb->perf.held_oom;
	stats[NT_STAT_MISSED] = nt_prog_misses(cb->skel->obj);
	return err;
}

static void core_detach(struct nt_backend *b)
{
	struct core_backend *cb = from(b);

	for (size_t i = 0; i < cb->n_links; i++)
		bpf_link__destroy(cb->links[i]);
	cb->n_links = 0;
}

static void core_destroy(struct nt_backend *b)
{
	struct core_backend *cb = from(b);

	if (!cb)
		return;
	core_detach(b);
	bpf_link__destroy(cb->snap_link);
	bpf_link__destroy(cb->exist_link);
	ring_buffer__free(cb->rb);
	perf_buffer__free(cb->pb);
	nt_perf_sink_free(&cb->perf);
	nettracer_core__destroy(cb->skel);
	free(cb->iter_buf);
	free(cb);
}

static struct bpf_program *prog_by_name(struct core_backend *cb, const char *name)
{
	return bpf_object__find_program_by_name(cb->skel->obj, name);
}

static int attach_prog(struct core_backend *cb, const char *name)
{
	struct bpf_program *p = prog_by_name(cb, name);
	struct bpf_link *l = p ? bpf_program__attach(p) : NULL;

	if (!l) {
		pr_err("attaching BPF program %s failed: %s", name, strerror(errno));
		return -1;
	}
	cb->links[cb->n_links++] = l;
	return 0;
}

static int attach_hook(struct core_backend *cb, const struct nt_hook *h)
{
	const struct nt_hook_candidate *c;

	if (h->chosen < 0)
		return 0;
	c = &h->candidates[h->chosen];
	if (attach_prog(cb, c->prog))
		return -1;
	if (c->twin_prog && attach_prog(cb, c->twin_prog))
		return -1;
	if (c->also_prog && h->also && attach_prog(cb, c->also_prog))
		return -1;
	return 0;
}

static bool kernel_has_ringbuf(void)
{
	return libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
}

static void probe_hooks(struct core_backend *cb, bool exhaustive)
{
	struct nt_probe_env env;

	nt_probe_env_init(&env, true);
	nt_hooks_probe(cb->hooks, HOOK__COUNT, &env, exhaustive);
	nt_probe_env_free(&env);
}

int nt_backend_core_probe(const struct nt_options *o, FILE *out)
{
	struct core_backend cb = {};

	memcpy(cb.hooks, core_hooks, sizeof(cb.hooks));
	if (nt_hooks_prepare(cb.hooks, HOOK__COUNT, o))
		return 2;
	probe_hooks(&cb, true);
	fprintf(out, "CO-RE programs (kernel BTF %s):\n",
		access("/sys/kernel/btf/vmlinux", R_OK) ? "absent" : "present");
	nt_hooks_print(out, cb.hooks, HOOK__COUNT);
	fprintf(out, "event buffer: %s\n",
		kernel_has_ringbuf() ? "ring buffer" : "perf buffer (no ring buffer before 5.8)");
	return cb.hooks[HOOK_STATE].chosen < 0 ? 1 : 0;
}

struct nt_backend *nt_backend_core_new(const struct nt_options *o, const char *reason)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o->btf_path);
	LIBBPF_OPTS(bpf_iter_attach_opts, iter_opts);
	struct core_backend *cb = calloc(1, sizeof(*cb));
	struct nt_config cfg = { .no_loopback = o->no_loopback };
	union bpf_iter_link_info linfo = {};
	__u32 zero = 0;
	bool ringbuf;
	int err;

	if (!cb) {
		pr_err("out of memory");
		return NULL;
	}
	cb->base.variant = "core";
	snprintf(cb->base.reason, sizeof(cb->base.reason), "%s", reason);
	cb->base.hooks = cb->hooks;
	cb->base.n_hooks = HOOK__COUNT;
	cb->base.event_fd = core_event_fd;
	cb->base.drain = core_drain;
	cb->base.existing = core_existing;
	cb->base.read_stats = core_read_stats;
	cb->base.detach = core_detach;
	cb->base.destroy = core_destroy;
	cb->perf.backend = &cb->base;
	cb->ncpus = libbpf_num_possible_cpus();
	cb->iter_buf = malloc(ITER_BUF_RECORDS * sizeof(struct nt_record));
	if (cb->ncpus <= 0 || !cb->iter_buf) {
		pr_err("cannot size per-CPU buffers: %s", strerror(cb->ncpus < 0 ? -cb->ncpus : ENOMEM));
		goto fail;
	}

	memcpy(cb->hooks, core_hooks, sizeof(cb->hooks));
	if (nt_hooks_prepare(cb->hooks, HOOK__COUNT, o))
		goto fail;
	probe_hooks(cb, false);
	nt_phase("probe");
	if (cb->hooks[HOOK_STATE].chosen < 0) {
		pr_err("no usable hook for TCP state changes on this kernel (run nettracer --probe "
		       "for the reasons)");
		goto fail;
	}
	for (int h = HOOK_ACCEPT; h < HOOK__COUNT; h++)
		if (cb->hooks[h].chosen < 0)
			pr_warn("no usable hook for %s: %s", cb->hooks[h].purpose, cb->hooks[h].without);

	cb->skel = nettracer_core__open_opts(&open_opts);
	if (!cb->skel) {
		pr_err("opening the CO-RE BPF object failed: %s", strerror(errno));
		goto fail;
	}
	if (nt_hooks_apply(cb->hooks, HOOK__COUNT, cb->skel->obj))
		goto fail;
	/* iterators are attached by hand below (the map iterator needs the map fd) */
	bpf_program__set_autoattach(cb->skel->progs.nt_snapshot, false);
	bpf_program__set_autoattach(cb->skel->progs.nt_snapshot_run, false);
	bpf_program__set_autoattach(cb->skel->progs.nt_snapshot_loop, false);
	bpf_program__set_autoattach(cb->skel->progs.nt_snapshot_cast, false);
	bpf_program__set_autoattach(cb->skel->progs.nt_existing, false);

	bpf_map__set_max_entries(cb->skel->maps.nt_conns, o->max_conns);
	ringbuf = kernel_has_ringbuf();
	if (ringbuf) {
		bpf_map__set_max_entries(cb->skel->maps.nt_events, o->ringbuf_bytes);
	} else {
		bpf_map__set_type(cb->skel->maps.nt_events, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
		bpf_map__set_key_size(cb->skel->maps.nt_events, sizeof(int));
		bpf_map__set_value_size(cb->skel->maps.nt_events, sizeof(int));
		bpf_map__set_max_entries(cb->skel->maps.nt_events, 0);	/* libbpf: one per CPU */
	}

	err = nettracer_core__load(cb->skel);
	if (err) {
		pr_err("loading the CO-RE BPF programs failed: %s (run with -v for the verifier "
		       "log)", strerror(-err));
		goto fail;
	}
	nt_phase("load");
	/* a quarter full is worth a wake-up; below that the drain timer picks it up */
	cfg.wakeup_bytes = o->ringbuf_bytes / 4;
	if (bpf_map_update_elem(bpf_map__fd(cb->skel->maps.nt_config), &zero, &cfg, BPF_ANY)) {
		pr_err("configuring the BPF programs failed: %s", strerror(errno));
		goto fail;
	}

	if (ringbuf)
		cb->rb = ring_buffer__new(bpf_map__fd(cb->skel->maps.nt_events), on_ring_record,
					  cb, NULL);
	else
		cb->pb = nt_perf_open(bpf_map__fd(cb->skel->maps.nt_events), o->ringbuf_bytes,
				      cb->ncpus, &cb->perf);
	if (!cb->rb && !cb->pb) {
		pr_err("setting up the event buffer failed: %s", strerror(errno));
		goto fail;
	}

	/*
	 * The state hook first: the accept hook tracks a connection it finds untracked (one
	 * established before we attached), and such a connection closing before the state
	 * hook is attached would stay a row without a close record (seen at 13k connections
	 * a second: a dozen in the few milliseconds between the two attachments). The other
	 * order only costs the pid of a connection accepted in that window.
	 */
	if (attach_hook(cb, &cb->hooks[HOOK_STATE]) || attach_hook(cb, &cb->hooks[HOOK_ACCEPT]))
		goto fail;
	if (cb->hooks[HOOK_SNAPSHOT].chosen >= 0 &&
	    cb->hooks[HOOK_SNAPSHOT].candidates[cb->hooks[HOOK_SNAPSHOT].chosen].kind == NT_HK_TEST_RUN) {
		cb->base.snapshot = core_snapshot_run;
	} else if (cb->hooks[HOOK_SNAPSHOT].chosen >= 0) {
		linfo.map.map_fd = (__u32)bpf_map__fd(cb->skel->maps.nt_conns);
		iter_opts.link_info = &linfo;
		iter_opts.link_info_len = sizeof(linfo);
		cb->snap_link = bpf_program__attach_iter(cb->skel->progs.nt_snapshot, &iter_opts);
		if (!cb->snap_link) {
			pr_err("attaching the snapshot iterator failed: %s", strerror(errno));
			goto fail;
		}
		cb->base.snapshot = core_snapshot_iter;
	}
	if (cb->hooks[HOOK_EXISTING].chosen >= 0) {
		cb->exist_link = bpf_program__attach_iter(cb->skel->progs.nt_existing, NULL);
		if (!cb->exist_link)
			pr_warn("attaching the task_file iterator failed: %s; connections open "
				"before the start are not reported", strerror(errno));
	}
	nt_phase("attach");
	nt_hooks_release_probes();
	return &cb->base;
fail:
	nt_hooks_release_probes();
	core_destroy(&cb->base);
	return NULL;
}
