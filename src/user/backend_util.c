// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "backend_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "nt_record.h"

int nt_percpu_sum(int map_fd, int ncpus, uint64_t *out, uint32_t n)
{
	uint64_t vals[ncpus];

	/* the kernel fills one value per possible CPU; zeroed so that no tool (valgrind)
	 * takes the others for uninitialised */
	memset(vals, 0, sizeof(vals));
	for (uint32_t i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(map_fd, &i, vals))
			return -errno;
		out[i] = 0;
		for (int c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
	return 0;
}

uint64_t nt_prog_misses(struct bpf_object *obj)
{
	struct bpf_program *p;
	uint64_t misses = 0;

	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);
		struct bpf_program *t;
		char twin[64];

		/*
		 * A state change skipped by one of the twins of the state hook is taken by
		 * the other (nt_state_mark()): TCP changes state in process context and in a
		 * softirq on top of it, never deeper, so both are never busy at once.
		 */
		snprintf(twin, sizeof(twin), "%s_twin", bpf_program__name(p));
		t = bpf_object__find_program_by_name(obj, twin);
		if (strstr(bpf_program__name(p), "_twin") || (t && bpf_program__fd(t) >= 0))
			continue;
		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			misses += info.recursion_misses;
	}
	return misses;
}

struct perf_sample_raw {
	struct perf_event_header header;
	uint32_t size;
	char data[];
};

struct perf_lost {
	struct perf_event_header header;
	uint64_t id;
	uint64_t lost;
};

static enum bpf_perf_event_ret on_perf_event(void *ctx, int cpu, struct perf_event_header *e)
{
	struct nt_perf_sink *sink = ctx;

	(void)cpu;
	if (e->type == PERF_RECORD_SAMPLE) {
		struct perf_sample_raw *s = (struct perf_sample_raw *)e;

		if (s->size < sizeof(struct nt_record)) {
			/* the session counts it as a bad record */
			nt_session_record(sink->backend->session, (const struct nt_record *)s->data,
					  s->size);
			return LIBBPF_PERF_EVENT_CONT;
		}
		if (sink->n_held == sink->cap_held) {
			size_t cap = sink->cap_held ? sink->cap_held * 2 : 1024;
			struct nt_record *p = realloc(sink->held, cap * sizeof(*p));

			if (!p) {
				sink->held_oom++;
				return LIBBPF_PERF_EVENT_CONT;
			}
			sink->held = p;
			sink->cap_held = cap;
		}
		memcpy(&sink->held[sink->n_held++], s->data, sizeof(struct nt_record));
	} else if (e->type == PERF_RECORD_LOST) {
		sink->lost += ((struct perf_lost *)e)->lost;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

struct perf_buffer *nt_perf_open(int map_fd, uint32_t total_bytes, int ncpus,
				 struct nt_perf_sink *sink)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = total_bytes / (size_t)page / (size_t)ncpus, p2 = 1;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.watermark = 1,
	};

	/* a power of two of pages per CPU, at least 2 */
	while (p2 * 2 <= pages)
		p2 *= 2;
	if (p2 < 2)
		p2 = 2;
	attr.wakeup_watermark = (uint32_t)(p2 * (size_t)page / 4);
	return perf_buffer__new_raw(map_fd, p2, &attr, on_perf_event, sink, NULL);
}

static int cmp_ts(const void *a, const void *b)
{
	const struct nt_record *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

int nt_perf_drain(struct perf_buffer *pb, struct nt_perf_sink *sink)
{
	int n = perf_buffer__consume(pb);

	/* records of one CPU are already in order: a sort by time merges the CPUs (equal
	 * times come from different CPUs, whose order does not matter) */
	if (sink->n_held > 1)	/* held is NULL before the first record */
		qsort(sink->held, sink->n_held, sizeof(*sink->held), cmp_ts);
	for (size_t i = 0; i < sink->n_held; i++)
		nt_session_record(sink->backend->session, &sink->held[i], sizeof(sink->held[i]));
	sink->n_held = 0;
	return n;
}

void nt_perf_sink_free(struct nt_perf_sink *sink)
{
	free(sink->held);
	sink->held = NULL;
	sink->n_held = sink->cap_held = 0;
}

int nt_hooks_prepare(struct nt_hook *hooks, size_t n, const struct nt_options *o)
{
	char err[256];

	for (int i = 0; i < o->n_hook; i++) {
		if (nt_hooks_restrict(hooks, n, o->hook[i].name, o->hook[i].kind, err,
				      sizeof(err))) {
			pr_err("%s", err);
			return -1;
		}
	}
	nt_hooks_check_layouts(hooks, n);
	return 0;
}

int nt_run_batches(const struct nt_batch_runner *r, const void *items, size_t item_size,
		   size_t n)
{
	const char *p = items;
	size_t done = 0;
	int stalls = 0;

	while (done < n) {
		size_t want = n - done < r->batch ? n - done : r->batch;
		uint64_t did = 0;

		if (r->prog_fd >= 0) {
			__u64 args[2] = { (__u64)(uintptr_t)(p + done * item_size), want };
			LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args,
				    .ctx_size_in = sizeof(args));

			if (bpf_prog_test_run_opts(r->prog_fd, &run))
				return -errno;
			did = run.retval;
		} else {
			__u32 zero = 0;

			bpf_map_update_elem(r->progress_map_fd, &zero, &did, BPF_ANY);
			/* fails with EINVAL by design (flags != 0): the entry tracepoint ran */
			syscall(SYS_sched_getattr, (long)NT_TRIGGER_PID,
				(long)(uintptr_t)(p + done * item_size), (long)want,
				(long)r->trigger_op);
			if (bpf_map_lookup_elem(r->progress_map_fd, &zero, &did))
				return -errno;
		}
		/* the records are in the output buffer: hand them over before the next batch */
		r->backend->drain(r->backend);
		if (did == 0 && ++stalls > 3)
			return -ENOSPC;
		if (did)
			stalls = 0;
		done += did;
	}
	return 0;
}
