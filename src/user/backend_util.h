/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* What both backends do the same way: loss counters, perf buffers, hook preparation,
 * requests run by test run or by the syscall trigger. */
#ifndef NT_BACKEND_UTIL_H
#define NT_BACKEND_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hooks.h"
#include "options.h"
#include "session.h"

struct perf_buffer;
struct bpf_object;

/* Sum a per-CPU array of u64 counters (entries 0..n-1). 0 or -errno. */
int nt_percpu_sum(int map_fd, int ncpus, uint64_t *out, uint32_t n);
/* Runs the kernel skipped for the loaded programs of obj (recursion_misses), 0 before 5.12. */
uint64_t nt_prog_misses(struct bpf_object *obj);

/* A perf buffer for nt_record samples, woken only past a quarter of each CPU's buffer
 * (one wake-up per record costs more than the whole hook); records and the kernel's
 * count of lost samples go to the session through sink. */
struct nt_perf_sink {
	struct nt_backend *backend;
	uint64_t lost;
	/* one drain's records, put back in time order before the session sees them: the
	 * per-CPU buffers are read one after the other, and a connection opened on one CPU
	 * and closed on another would otherwise show its close first */
	struct nt_record *held;
	size_t n_held, cap_held;
	uint64_t held_oom;	/* records dropped for want of memory */
};

struct perf_buffer *nt_perf_open(int map_fd, uint32_t total_bytes, int ncpus,
				 struct nt_perf_sink *sink);
/* Consume every CPU's buffer and hand the records over in time order. */
int nt_perf_drain(struct perf_buffer *pb, struct nt_perf_sink *sink);
void nt_perf_sink_free(struct nt_perf_sink *sink);

/* --hook restrictions and tracepoint layouts; -1 after one error line. */
int nt_hooks_prepare(struct nt_hook *hooks, size_t n, const struct nt_options *o);

/* Hand items to a BPF request program in batches: by BPF_PROG_TEST_RUN of prog_fd
 * (returns how many it handled), or with trigger_op through sched_getattr() (progress
 * read from the progress map). drain() empties the output buffer after each batch.
 * 0, -ENOSPC when the output buffer does not empty, or -errno. */
struct nt_batch_runner {
	int prog_fd;		/* test run; -1: trigger */
	uint32_t trigger_op;
	int progress_map_fd;	/* trigger: __u64 at key 0 */
	size_t batch;
	struct nt_backend *backend;
};

int nt_run_batches(const struct nt_batch_runner *r, const void *items, size_t item_size,
		   size_t n);

#endif
