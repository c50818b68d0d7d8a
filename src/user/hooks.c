// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "hooks.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "btf_ids.h"
#include "log.h"
#include "sysutil.h"

const char *nt_hook_kind_name(enum nt_hook_kind kind)
{
	static const char *const names[] = {
		[NT_HK_TP_BTF] = "tp_btf",	   [NT_HK_RAW_TP] = "raw_tp",
		[NT_HK_TRACEPOINT] = "tracepoint", [NT_HK_FENTRY] = "fentry",
		[NT_HK_FEXIT] = "fexit",	   [NT_HK_KPROBE] = "kprobe",
		[NT_HK_KRETPROBE] = "kretprobe",   [NT_HK_ITER] = "iter",
		[NT_HK_TEST_RUN] = "test_run",
	};

	return names[kind];
}

void nt_probe_env_init(struct nt_probe_env *env, bool need_tracefs)
{
	memset(env, 0, sizeof(*env));
	env->kern_version = nt_kernel_version_code();
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		env->btf_path = "/sys/kernel/btf/vmlinux";
	if (need_tracefs) {
		env->tracefs = nt_tracefs(env->tracefs_err, sizeof(env->tracefs_err)) != NULL;
	} else {
		env->tracefs = nt_tracefs_present();
		if (!env->tracefs)
			snprintf(env->tracefs_err, sizeof(env->tracefs_err), "tracefs not mounted");
	}
}

void nt_probe_env_free(struct nt_probe_env *env)
{
	env->btf_path = NULL;
}

/*
 * The kernel BTF ids the probes need, found before probing in one pass over the file
 * (btf_ids.c: a few ms, where parsing it with libbpf takes 65-100 ms here and libbpf parses
 * it again to load the CO-RE object).
 */
#define NT_PROBE_MAX_IDS 64
struct probe_ids {
	bool btf;			/* the kernel has BTF and it could be read */
	size_t n;
	char names[NT_PROBE_MAX_IDS][96];
	struct nt_btf_query q[NT_PROBE_MAX_IDS];
};

static void probe_ids_want(struct probe_ids *ids, const char *prefix, const char *name,
			   __u32 kind)
{
	char full[96];

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	for (size_t i = 0; i < ids->n; i++)
		if (ids->q[i].kind == kind && !strcmp(ids->names[i], full))
			return;
	if (ids->n == NT_PROBE_MAX_IDS)
		return;	/* never with the candidate tables (a dozen names): btf_id_of() would
			 * report the name as not in kernel BTF */
	memcpy(ids->names[ids->n], full, sizeof(full));
	ids->q[ids->n] = (struct nt_btf_query){ .name = ids->names[ids->n], .kind = kind };
	ids->n++;
}

/* The names a candidate's probe looks up (probe_one()). */
static void probe_ids_want_candidate(struct probe_ids *ids, enum nt_hook_kind kind,
				     const char *target)
{
	switch (kind) {
	case NT_HK_TP_BTF:
		probe_ids_want(ids, "btf_trace_", target, BTF_KIND_TYPEDEF);
		break;
	case NT_HK_FENTRY:
	case NT_HK_FEXIT:
		probe_ids_want(ids, "", target, BTF_KIND_FUNC);
		break;
	case NT_HK_ITER:
		probe_ids_want(ids, "bpf_iter_", target, BTF_KIND_FUNC);
		break;
	case NT_HK_TEST_RUN:
		if (!strcmp(target, "bpf_rdonly_cast")) {
			probe_ids_want(ids, "", "bpf_rdonly_cast", BTF_KIND_FUNC);
			probe_ids_want(ids, "", "sock", BTF_KIND_STRUCT);
		}
		break;
	default:
		break;
	}
}

static void probe_ids_resolve(struct probe_ids *ids, const struct nt_probe_env *env)
{
	struct btf *btf;
	int err;

	ids->btf = false;
	if (!env->btf_path || !ids->n)
		return;
	err = nt_btf_find_ids(env->btf_path, ids->q, ids->n);
	if (!err) {
		ids->btf = true;
		return;
	}
	/* a BTF this reader does not know (a newer kind, another byte order): libbpf's */
	pr_debug("%s: %s; parsing it with libbpf", env->btf_path, strerror(-err));
	btf = btf__parse(env->btf_path, NULL);
	if (!btf) {
		pr_warn("cannot parse %s: %s", env->btf_path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < ids->n; i++) {
		int id = btf__find_by_name_kind(btf, ids->q[i].name, ids->q[i].kind);

		ids->q[i].id = id > 0 ? id : 0;
	}
	btf__free(btf);
	ids->btf = true;
}

/* r0 = 0; exit */
static const struct bpf_insn nop_prog[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int load_nop(enum bpf_prog_type type, enum bpf_attach_type attach, __u32 btf_id,
		    const struct nt_probe_env *env, char *why, size_t len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach,
		    .attach_btf_id = btf_id, .kern_version = env->kern_version);
	int fd = bpf_prog_load(type, "nt_probe", "GPL", nop_prog, 2, &opts);

	if (fd < 0)
		snprintf(why, len, "load refused: %s", strerror(-fd));
	return fd;
}

static int btf_id_of(const struct probe_ids *ids, const char *prefix, const char *name,
		     __u32 kind, char *why, size_t len);

/* raw_tp: r0 = bpf_rdonly_cast(NULL, <id of struct sock>); r0 = 0; exit */
static int load_rdonly_cast(const struct nt_probe_env *env, const struct probe_ids *ids,
			    char *why, size_t len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .kern_version = env->kern_version);
	int func = btf_id_of(ids, "", "bpf_rdonly_cast", BTF_KIND_FUNC, why, len);
	int type = btf_id_of(ids, "", "sock", BTF_KIND_STRUCT, why, len);
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = type },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = func },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	if (func < 0 || type < 0)
		return -1;
	fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "nt_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd < 0)
		snprintf(why, len, "load refused: %s", strerror(-fd));
	return fd;
}

static int btf_id_of(const struct probe_ids *ids, const char *prefix, const char *name,
		     __u32 kind, char *why, size_t len)
{
	char full[96];

	if (!ids->btf) {
		snprintf(why, len, "kernel has no BTF");
		return -1;
	}
	snprintf(full, sizeof(full), "%s%s", prefix, name);
	for (size_t i = 0; i < ids->n; i++) {
		if (ids->q[i].kind != kind || strcmp(ids->names[i], full))
			continue;
		if (ids->q[i].id > 0)
			return ids->q[i].id;
		break;
	}
	snprintf(why, len, "%s not in kernel BTF", full);
	return -1;
}

static int perf_event_open_fd(struct perf_event_attr *attr)
{
	return (int)syscall(SYS_perf_event_open, attr, -1 /* pid */, 0 /* cpu */, -1 /* group */,
			    PERF_FLAG_FD_CLOEXEC);
}

/*
 * Closing a perf event that has a BPF program waits for RCU grace periods (20-50 ms each
 * on a 6.x kernel: perf_event_release_kernel, synchronize_rcu_tasks_trace), which would
 * double the start-up. So the probes' attachments are parked, and
 * nt_hooks_release_probes() closes them on a thread of their own once the real hooks are
 * attached. A probe's nop program runs on its event until then, harmlessly.
 */
#define NT_MAX_PARKED 16
struct parked_fds {
	unsigned n;
	int fd[NT_MAX_PARKED];
};
static struct parked_fds parked;

static void park_fd(int fd)
{
	if (parked.n < NT_MAX_PARKED)
		parked.fd[parked.n++] = fd;
	else
		close(fd);
}

static void *close_parked(void *arg)
{
	struct parked_fds *p = arg;

	while (p->n)
		close(p->fd[--p->n]);
	free(p);
	return NULL;
}

void nt_hooks_release_probes(void)
{
	struct parked_fds *p;
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	bool started = false;

	if (!parked.n)
		return;
	p = malloc(sizeof(*p));
	if (!p) {
		while (parked.n)
			close(parked.fd[--parked.n]);
		return;
	}
	*p = parked;
	parked.n = 0;
	/* the thread takes no signal: SIGTERM and SIGINT are for the main loop's signalfd */
	sigfillset(&all);
	if (!pthread_attr_init(&attr)) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (!pthread_sigmask(SIG_SETMASK, &all, &old)) {
			started = pthread_create(&t, &attr, close_parked, p) == 0;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		pthread_attr_destroy(&attr);
	}
	if (!started)
		close_parked(p);
}

static int attach_perf_event(int prog_fd, struct perf_event_attr *attr, char *why, size_t len)
{
	int pfd = perf_event_open_fd(attr), err;

	if (pfd < 0) {
		snprintf(why, len, "perf_event_open: %s", strerror(errno));
		return -1;
	}
	err = ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd);
	if (err) {
		snprintf(why, len, "attach refused: %s", strerror(errno));
		close(pfd);
		return -1;
	}
	park_fd(pfd);
	return 0;
}

static int read_sysfs_int(const char *path, int *v)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "6\n" or "config:0\n" */
	*v = atoi(strchr(buf, ':') ? strchr(buf, ':') + 1 : buf);
	return 0;
}

/* kprobe PMU (4.17+), else the tracefs kprobe_events interface older kernels have. */
static int attach_kprobe(int prog_fd, const char *func, bool ret, char *why, size_t len)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	int type, bit = 0;

	if (read_sysfs_int("/sys/bus/event_source/devices/kprobe/type", &type) == 0) {
		if (ret && read_sysfs_int("/sys/bus/event_source/devices/kprobe/format/retprobe",
					  &bit))
			bit = 0;
		attr.type = (__u32)type;
		attr.config = ret ? 1ULL << bit : 0;
		attr.config1 = (__u64)(unsigned long)func;	/* kprobe_func */
		return attach_perf_event(prog_fd, &attr, why, len);
	}
	if (access("/sys/kernel/tracing/kprobe_events", W_OK) &&
	    access("/sys/kernel/debug/tracing/kprobe_events", W_OK)) {
		snprintf(why, len, "kernel has no kprobes (no kprobe PMU, no kprobe_events)");
		return -1;
	}
	/* the kernel has the legacy interface: libbpf attaches through it */
	return 0;
}

static int attach_iter(int prog_fd, const char *target, char *why, size_t len)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	union bpf_iter_link_info info = {};
	int map_fd = -1, link;

	if (!strcmp(target, "bpf_map_elem")) {
		map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "nt_probe", 8, 8, 1, NULL);
		if (map_fd < 0) {
			snprintf(why, len, "map create: %s", strerror(-map_fd));
			return -1;
		}
		info.map.map_fd = (__u32)map_fd;
		opts.iter_info = &info;
		opts.iter_info_len = sizeof(info);
	}
	link = bpf_link_create(prog_fd, 0, BPF_TRACE_ITER, &opts);
	if (link < 0)
		snprintf(why, len, "attach refused: %s", strerror(-link));
	else
		close(link);
	if (map_fd >= 0)
		close(map_fd);
	return link < 0 ? -1 : 0;
}

/* Load a no-op program of the candidate's kind and attach it to the target. */
static int probe_one(enum nt_hook_kind kind, const char *target, const struct nt_probe_env *env,
		     const struct probe_ids *ids, char *why, size_t len)
{
	struct perf_event_attr attr = { .size = sizeof(attr), .type = PERF_TYPE_TRACEPOINT };
	char cat[64];
	const char *slash;
	int fd = -1, err = -1, id;
	long tp;

	switch (kind) {
	case NT_HK_TP_BTF:
		id = btf_id_of(ids, "btf_trace_", target, BTF_KIND_TYPEDEF, why, len);
		if (id < 0)
			return -1;
		fd = load_nop(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, (__u32)id, env, why, len);
		break;
	case NT_HK_FENTRY:
	case NT_HK_FEXIT:
		id = btf_id_of(ids, "", target, BTF_KIND_FUNC, why, len);
		if (id < 0)
			return -1;
		fd = load_nop(BPF_PROG_TYPE_TRACING,
			      kind == NT_HK_FENTRY ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT, (__u32)id,
			      env, why, len);
		break;
	case NT_HK_ITER:
		id = btf_id_of(ids, "bpf_iter_", target, BTF_KIND_FUNC, why, len);
		if (id < 0)
			return -1;
		fd = load_nop(BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, (__u32)id, env, why, len);
		if (fd >= 0)
			err = attach_iter(fd, target, why, len);
		goto out;
	case NT_HK_RAW_TP:
		fd = load_nop(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, env, why, len);
		if (fd >= 0) {
			int l = bpf_raw_tracepoint_open(target, fd);

			if (l < 0)
				snprintf(why, len, "attach refused: %s", strerror(-l));
			else
				close(l);
			err = l < 0 ? -1 : 0;
		}
		goto out;
	case NT_HK_TRACEPOINT:
		if (!env->tracefs) {
			snprintf(why, len, "%s", env->tracefs_err);
			return -1;
		}
		slash = strchr(target, '/');
		if (!slash || (size_t)(slash - target) >= sizeof(cat))
			return -1;
		memcpy(cat, target, (size_t)(slash - target));
		cat[slash - target] = '\0';
		tp = nt_tracepoint_id(cat, slash + 1);
		if (tp < 0) {
			snprintf(why, len, "no such tracepoint");
			return -1;
		}
		fd = load_nop(BPF_PROG_TYPE_TRACEPOINT, 0, 0, env, why, len);
		if (fd >= 0) {
			attr.config = (__u64)tp;
			err = attach_perf_event(fd, &attr, why, len);
		}
		goto out;
	case NT_HK_TEST_RUN: {
		__u64 args[2] = {};
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));

		/* "bpf_loop": a raw_tp program that calls bpf_loop() (5.17+); "bpf_rdonly_cast":
		 * that also calls the kfunc bpf_rdonly_cast() (6.2+), probed by a real call */
		if ((!strcmp(target, "bpf_loop") || !strcmp(target, "bpf_rdonly_cast")) &&
		    libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_loop, NULL) != 1) {
			snprintf(why, len, "kernel has no bpf_loop()");
			return -1;
		}
		if (!strcmp(target, "bpf_rdonly_cast"))
			fd = load_rdonly_cast(env, ids, why, len);
		else
			fd = load_nop(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, env, why, len);
		if (fd >= 0) {
			err = bpf_prog_test_run_opts(fd, &run);
			if (err)
				snprintf(why, len, "test run refused: %s", strerror(errno));
		}
		goto out;
	}
	case NT_HK_KPROBE:
	case NT_HK_KRETPROBE:
		fd = load_nop(BPF_PROG_TYPE_KPROBE, 0, 0, env, why, len);
		if (fd >= 0)
			err = attach_kprobe(fd, target, kind == NT_HK_KRETPROBE, why, len);
		goto out;
	}
	/* tp_btf, fentry, fexit: attached through raw_tracepoint_open without a name */
	if (fd >= 0) {
		int l = bpf_raw_tracepoint_open(NULL, fd);

		if (l < 0)
			snprintf(why, len, "attach refused: %s", strerror(-l));
		else
			close(l);
		err = l < 0 ? -1 : 0;
	}
out:
	if (fd >= 0)
		close(fd);
	if (!err)
		snprintf(why, len, "ok");
	return err;
}

void nt_hooks_probe(struct nt_hook *hooks, size_t n, const struct nt_probe_env *env,
		    bool exhaustive)
{
	struct probe_ids *ids = calloc(1, sizeof(*ids));
	char why[192];

	if (!ids) {
		pr_warn("out of memory for the hook probes");
		for (size_t h = 0; h < n; h++)
			hooks[h].chosen = -1;
		return;
	}
	for (size_t h = 0; h < n; h++) {
		for (size_t i = 0; i < hooks[h].n_candidates && i < NT_HOOK_MAX_CANDIDATES; i++) {
			const struct nt_hook_candidate *c = &hooks[h].candidates[i];

			if (hooks[h].blocked[i][0])
				continue;
			probe_ids_want_candidate(ids, c->kind, c->target);
			if (c->also_target)
				probe_ids_want_candidate(ids, c->kind, c->also_target);
		}
	}
	probe_ids_resolve(ids, env);
	for (size_t h = 0; h < n; h++) {
		struct nt_hook *hook = &hooks[h];

		hook->chosen = -1;
		hook->also = false;
		for (size_t i = 0; i < hook->n_candidates && i < NT_HOOK_MAX_CANDIDATES; i++) {
			const struct nt_hook_candidate *c = &hook->candidates[i];
			uint64_t t0;
			int err;

			if (hook->chosen >= 0 && !exhaustive)
				break;
			if (hook->blocked[i][0]) {
				hook->probed[i] = true;
				snprintf(hook->result[i], sizeof(hook->result[i]), "not used: %s",
					 hook->blocked[i]);
				continue;
			}
			why[0] = '\0';
			t0 = nt_now_mono_ns();
			err = probe_one(c->kind, c->target, env, ids, why, sizeof(why));
			hook->probed[i] = true;
			snprintf(hook->result[i], sizeof(hook->result[i]), "%s", why[0] ? why : "failed");
			pr_debug("probe %s: %s/%s: %s (%.1f ms)", hook->name,
				 nt_hook_kind_name(c->kind), c->target, hook->result[i],
				 (double)(nt_now_mono_ns() - t0) / 1e6);
			if (err || hook->chosen >= 0)
				continue;
			hook->chosen = (int)i;
			if (c->also_prog)
				hook->also = probe_one(c->kind, c->also_target, env, ids, why,
						       sizeof(why)) == 0;
		}
	}
	free(ids);
}

int nt_hooks_restrict(struct nt_hook *hooks, size_t n, const char *name, const char *value,
		      char *err, size_t len)
{
	const char *slash = strchr(value, '/'), *target = slash ? slash + 1 : NULL;
	size_t kind_len = slash ? (size_t)(slash - value) : strlen(value);
	bool kind_known = false;

	for (int k = NT_HK_TP_BTF; k <= NT_HK_TEST_RUN; k++) {
		const char *kn = nt_hook_kind_name((enum nt_hook_kind)k);

		kind_known |= strlen(kn) == kind_len && !strncmp(value, kn, kind_len);
	}
	if (!kind_known) {
		snprintf(err, len, "--hook %s=%s: unknown kind (tp_btf, raw_tp, tracepoint, fentry, "
				   "fexit, kprobe, kretprobe, iter, test_run)", name, value);
		return -1;
	}
	for (size_t h = 0; h < n; h++) {
		struct nt_hook *hook = &hooks[h];
		bool any = false;

		if (strcmp(hook->name, name))
			continue;
		for (size_t i = 0; i < hook->n_candidates; i++) {
			const struct nt_hook_candidate *c = &hook->candidates[i];
			const char *kn = nt_hook_kind_name(c->kind);
			bool match = strlen(kn) == kind_len && !strncmp(value, kn, kind_len) &&
				     (!target || !strcmp(target, c->target));

			any |= match;
			if (!match)
				snprintf(hook->blocked[i], sizeof(hook->blocked[i]), "--hook %s=%s",
					 name, value);
		}
		if (target && !any) {
			snprintf(err, len, "--hook %s=%s: the %s part has no such hook (nettracer "
					   "--probe lists them)", name, value, name);
			return -1;
		}
		return 0;
	}
	snprintf(err, len, "--hook %s=%s: no hook named %s (state, accept, snapshot, existing)",
		 name, value, name);
	return -1;
}

/* Record layouts the classic tracepoint programs were compiled for. */
static const struct {
	const char *target, *field;
	int offset;
} tp_layouts[] = {
	{ "sock/inet_sock_set_state", "skaddr", 8 },
	{ "sock/inet_sock_set_state", "oldstate", 16 },
	{ "sock/inet_sock_set_state", "newstate", 20 },
	{ "sock/inet_sock_set_state", "protocol", 30 },
	{ "tcp/tcp_set_state", "skaddr", 8 },
	{ "tcp/tcp_set_state", "oldstate", 16 },
	{ "tcp/tcp_set_state", "newstate", 20 },
	{ "syscalls/sys_exit_accept4", "ret", 16 },
	{ "syscalls/sys_exit_accept", "ret", 16 },
	{ "syscalls/sys_enter_sched_getattr", "pid", 16 },
	{ "syscalls/sys_enter_sched_getattr", "uattr", 24 },
	{ "syscalls/sys_enter_sched_getattr", "usize", 32 },
	{ "syscalls/sys_enter_sched_getattr", "flags", 40 },
};

void nt_hooks_check_layouts(struct nt_hook *hooks, size_t n)
{
	for (size_t h = 0; h < n; h++) {
		for (size_t i = 0; i < hooks[h].n_candidates; i++) {
			const struct nt_hook_candidate *c = &hooks[h].candidates[i];
			char cat[64];
			const char *slash;

			if (c->kind != NT_HK_TRACEPOINT || hooks[h].blocked[i][0])
				continue;
			slash = strchr(c->target, '/');
			if (!slash || (size_t)(slash - c->target) >= sizeof(cat))
				continue;
			snprintf(cat, sizeof(cat), "%.*s", (int)(slash - c->target), c->target);
			if (nt_tracepoint_id(cat, slash + 1) < 0)
				continue;	/* absent: the probe says so */
			for (size_t k = 0; k < sizeof(tp_layouts) / sizeof(tp_layouts[0]); k++) {
				int off;

				if (strcmp(tp_layouts[k].target, c->target))
					continue;
				off = nt_tracepoint_field_offset(cat, slash + 1, tp_layouts[k].field);
				if (off != tp_layouts[k].offset) {
					snprintf(hooks[h].blocked[i], sizeof(hooks[h].blocked[i]),
						 "record layout differs: %s at %d, compiled for %d",
						 tp_layouts[k].field, off, tp_layouts[k].offset);
					break;
				}
			}
		}
	}
}

int nt_hooks_apply(const struct nt_hook *hooks, size_t n, struct bpf_object *obj)
{
	for (size_t h = 0; h < n; h++) {
		const struct nt_hook *hook = &hooks[h];

		for (size_t i = 0; i < hook->n_candidates; i++) {
			const struct nt_hook_candidate *c = &hook->candidates[i];
			struct bpf_program *p = bpf_object__find_program_by_name(obj, c->prog);
			bool on = hook->chosen == (int)i;

			if (!p) {
				pr_err("BPF object has no program %s", c->prog);
				return -1;
			}
			bpf_program__set_autoload(p, on);
			if (c->also_prog) {
				p = bpf_object__find_program_by_name(obj, c->also_prog);
				if (!p) {
					pr_err("BPF object has no program %s", c->also_prog);
					return -1;
				}
				bpf_program__set_autoload(p, on && hook->also);
			}
			if (c->twin_prog) {
				p = bpf_object__find_program_by_name(obj, c->twin_prog);
				if (!p) {
					pr_err("BPF object has no program %s", c->twin_prog);
					return -1;
				}
				bpf_program__set_autoload(p, on);
			}
		}
	}
	return 0;
}

const char *nt_hook_choice(const struct nt_hook *h, char *buf, size_t len)
{
	const struct nt_hook_candidate *c;

	if (h->chosen < 0) {
		snprintf(buf, len, "none");
		return buf;
	}
	c = &h->candidates[h->chosen];
	if (c->also_prog && h->also)
		snprintf(buf, len, "%s/%s+%s", nt_hook_kind_name(c->kind), c->target,
			 strrchr(c->also_target, '/') ? strrchr(c->also_target, '/') + 1
						      : c->also_target);
	else
		snprintf(buf, len, "%s/%s", nt_hook_kind_name(c->kind), c->target);
	return buf;
}

void nt_hooks_print(FILE *f, const struct nt_hook *hooks, size_t n)
{
	char name[96];

	for (size_t h = 0; h < n; h++) {
		const struct nt_hook *hook = &hooks[h];

		fprintf(f, "%s: %s\n", hook->name, hook->purpose);
		for (size_t i = 0; i < hook->n_candidates; i++) {
			const struct nt_hook_candidate *c = &hook->candidates[i];

			snprintf(name, sizeof(name), "%s/%s", nt_hook_kind_name(c->kind), c->target);
			fprintf(f, "  %s %-40s %s\n", hook->chosen == (int)i ? "*" : " ", name,
				hook->probed[i] ? hook->result[i] : "not probed");
		}
		if (hook->chosen < 0)
			fprintf(f, "  -> none works: %s\n",
				hook->without ? hook->without : "nettracer cannot run here");
		else
			fprintf(f, "  -> %s\n", nt_hook_choice(hook, name, sizeof(name)));
	}
}
