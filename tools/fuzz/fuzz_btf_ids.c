// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_btf_find_ids(path, queries, n): the streamed kernel-BTF lookup of the hook probes
 * (src/user/btf_ids.c). It reads a path, so each input is written to a temporary file
 * (one per process, unlinked at once, read through /proc/self/fd).
 *
 * Differential: when libbpf parses the same bytes (btf__new, with its sanity checks) and
 * our reader succeeds too, every id must equal btf__find_by_name_kind()'s. The queries
 * are fixed names (those of the seeds and the probes) plus names taken from the input's
 * own types as libbpf reads them, with their kind and with another kind. Our reader may
 * fail where libbpf succeeds (another byte order: the caller falls back to libbpf) and
 * succeed where libbpf fails (it does not validate what it does not read), but on a
 * success it must not give an id libbpf would not.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btf_ids.h"
#include "fuzz_util.h"

static const char *input_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	input_path = fuzz_input_open("nt-fuzz-btf");
	libbpf_set_print(NULL);
	return 0;
}

static const char *const fixed[] = {
	"sock", "bpf_sock", "ock", "x", "int", "n5", "n1", "btf_trace_inet_sock_set_state",
	"inet_csk_accept", "bpf_iter_task_file", "bpf_rdonly_cast",
};

#define MAXQ 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nt_btf_query q[MAXQ];
	char names[MAXQ][NT_BTF_NAME_MAX + 1];
	struct btf *lb = NULL;
	size_t n = 0;
	int err;

	fuzz_input_write(data, size, NULL, 0);
	/* libbpf 1.1 reads a header shorter than struct btf_header, or types at an offset
	 * that is not 4-byte aligned, as if it were fine and then loads from misaligned
	 * addresses (UBSan): such inputs are not given to it */
	if (size >= sizeof(struct btf_header)) {
		struct btf_header h;

		memcpy(&h, data, sizeof(h));
		if (h.magic == BTF_MAGIC && h.hdr_len >= sizeof(h) && !(h.hdr_len % 4)) {
			lb = btf__new(data, (__u32)size);
			if (lb && libbpf_get_error(lb))
				lb = NULL;
		}
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		q[n++] = (struct nt_btf_query){ fixed[i], BTF_KIND_STRUCT, 0 };
		q[n++] = (struct nt_btf_query){ fixed[i], i % 2 ? BTF_KIND_FUNC : BTF_KIND_TYPEDEF,
						0 };
	}
	if (lb) {
		__u32 cnt = btf__type_cnt(lb);

		/* names of the input's own types, spread over it */
		for (__u32 k = 0; k < 8 && n + 2 <= MAXQ && cnt > 1; k++) {
			__u32 id = 1 + (__u32)(((uint64_t)k * (cnt - 1)) / 8);
			const struct btf_type *t = btf__type_by_id(lb, id);
			const char *name = t ? btf__name_by_offset(lb, t->name_off) : NULL;

			/* libbpf answers "void" with id 0 whatever the types; no probe asks for it */
			if (!name || !name[0] || strlen(name) > NT_BTF_NAME_MAX || !strcmp(name, "void"))
				continue;
			memcpy(names[n], name, strlen(name) + 1);
			q[n] = (struct nt_btf_query){ names[n], btf_kind(t), 0 };
			n++;
			q[n] = (struct nt_btf_query){ names[n - 1], (btf_kind(t) % 19) + 1, 0 };
			n++;
		}
	}
	err = nt_btf_find_ids(input_path, q, n);
	FUZZ_CHECK(err <= 0, "returned %d", err);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(q[i].id >= 0 && (!err || q[i].id == 0),
			   "%s: id %d with error %d", q[i].name, q[i].id, err);
	if (lb && !err) {
		for (size_t i = 0; i < n; i++) {
			int want = btf__find_by_name_kind(lb, q[i].name, q[i].kind);

			FUZZ_CHECK(q[i].id == (want > 0 ? want : 0),
				   "%s (kind %u): id %d, libbpf %d", q[i].name, q[i].kind, q[i].id,
				   want);
		}
	}
	btf__free(lb);
	return 0;
}
