// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Unit tests of src/user/btf_ids.c, the streamed name -> type id lookup the hook probes use
 * instead of parsing kernel BTF with libbpf. Ground truth is libbpf's own
 * btf__find_by_name_kind():
 *   - a BTF file written by libbpf with every kind the reader must step over (members,
 *     enum values, parameters, section entries), thousands of types, names shared between
 *     kinds and repeated within one;
 *   - hand-made files: a name that is the tail of a longer string, and damaged or foreign
 *     files (bad magic, other byte order, truncated, an unknown kind, a section past the
 *     end), which must be errors, never wrong ids;
 *   - the running kernel's /sys/kernel/btf/vmlinux when it has one: the names the probes
 *     ask for and a sample of every 97th named type.
 */
#include <bpf/btf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btf_ids.h"
#include "tap.h"

static char tmpdir[] = "/tmp/nt-test-btf-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		tap_diag("cannot write %s: %s", path, strerror(errno));
		exit(1);
	}
	close(fd);
	return path;
}

/* Our ids for every named type of btf equal libbpf's (queries in batches). */
static void compare_all(struct btf *btf, const char *path, const char *what, __u32 step)
{
	enum { BATCH = 64 };
	struct nt_btf_query q[BATCH];
	__u32 n = btf__type_cnt(btf), checked = 0, wrong = 0;
	size_t k = 0;
	int err = 0;

	for (__u32 id = 1; id <= n; id++) {
		if (id < n) {
			const struct btf_type *t = btf__type_by_id(btf, id);
			const char *name = btf__name_by_offset(btf, t->name_off);

			if ((id % step) || !name || !name[0] || strlen(name) > NT_BTF_NAME_MAX)
				continue;
			q[k++] = (struct nt_btf_query){ .name = name, .kind = btf_kind(t) };
			if (k < BATCH)
				continue;
		}
		if (!k)
			continue;
		err = nt_btf_find_ids(path, q, k);
		if (err)
			break;
		for (size_t i = 0; i < k; i++) {
			int want = btf__find_by_name_kind(btf, q[i].name, q[i].kind);

			checked++;
			if (q[i].id != want && wrong++ < 5)
				tap_diag("%s: %s (kind %u): got %d, libbpf %d", what, q[i].name,
					 q[i].kind, q[i].id, want);
		}
		k = 0;
	}
	tap_is_u64((uint64_t)-err, 0, "%s: lookups succeed", what);
	tap_ok(checked > 0 && !wrong, "%s: %u names, each one's id equals libbpf's (%u differ)",
	       what, checked, wrong);
}

/* Each query's id, looked up in one batch, equals libbpf's answer (0 when it has none). */
static void check_queries(struct btf *btf, const char *path, struct nt_btf_query *q, size_t n,
			  const char *what)
{
	int err = nt_btf_find_ids(path, q, n);

	tap_is_u64((uint64_t)-err, 0, "%s: one batch of %zu queries", what, n);
	for (size_t i = 0; i < n; i++) {
		int want = btf__find_by_name_kind(btf, q[i].name, q[i].kind);

		tap_is_u64((uint64_t)q[i].id, (uint64_t)(want > 0 ? want : 0),
			   "%s: %s of kind %u is id %d, as libbpf says", what, q[i].name,
			   q[i].kind, want > 0 ? want : 0);
	}
}

static struct btf *synthetic(void)
{
	struct btf *b = btf__new_empty();
	char name[64];
	int i32, ptr, fp;

	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	btf__add_int(b, "unsigned int", 4, 0);
	ptr = btf__add_ptr(b, i32);
	for (int i = 0; i < 3000; i++) {
		int kind = i % 12;

		snprintf(name, sizeof(name), "n%d", i % 700);	/* names repeat across kinds */
		switch (kind) {
		case 0:
			btf__add_struct(b, name, 16);
			for (int m = 0; m < i % 9; m++) {
				char mn[16];

				snprintf(mn, sizeof(mn), "m%d", m);
				btf__add_field(b, mn, i32, m * 32, 0);
			}
			break;
		case 1:
			btf__add_union(b, name, 8);
			btf__add_field(b, "u", ptr, 0, 0);
			break;
		case 2:
			btf__add_enum(b, name, 4);
			for (int v = 0; v < i % 5; v++) {
				char vn[24];

				snprintf(vn, sizeof(vn), "E%d_%d", i, v);
				btf__add_enum_value(b, vn, v);
			}
			break;
		case 3:
			fp = btf__add_func_proto(b, i32);
			for (int p = 0; p < i % 4; p++)
				btf__add_func_param(b, "p", ptr);
			btf__add_func(b, name, BTF_FUNC_GLOBAL, fp);
			break;
		case 4:
			btf__add_typedef(b, name, i32);
			break;
		case 5:
			btf__add_array(b, i32, i32, 4);
			btf__add_const(b, btf__add_volatile(b, btf__add_restrict(b, ptr)));
			btf__add_fwd(b, name, BTF_FWD_STRUCT);
			break;
		case 6: {
			int var = btf__add_var(b, name, BTF_VAR_GLOBAL_ALLOCATED, i32);

			btf__add_datasec(b, i % 2 ? ".data" : ".bss", 8);
			btf__add_datasec_var_info(b, var, 0, 4);
			break;
		}
		case 7:
			btf__add_float(b, name, 8);
			break;
		case 8:
			btf__add_enum64(b, name, 8, false);
			btf__add_enum64_value(b, "big", 1ULL << 40);
			btf__add_enum64_value(b, "bigger", 1ULL << 41);
			break;
		case 9:
			btf__add_decl_tag(b, name, i32, -1);
			btf__add_type_tag(b, name, ptr);
			break;
		default:
			/* a long name: more than the reader keeps of a string at once */
			snprintf(name, sizeof(name), "%0*d", 40 + i % 20, i);
			btf__add_struct(b, name, 4);
			btf__add_field(b, "x", i32, 0, 0);
			break;
		}
	}
	return b;
}

static void test_synthetic(void)
{
	struct btf *b = synthetic();
	__u32 size;
	const void *raw = btf__raw_data(b, &size);
	const char *path = write_file("synthetic.btf", raw, size);
	struct nt_btf_query q[] = {
		{ "n5", BTF_KIND_STRUCT, 0 },   { "n5", BTF_KIND_FUNC, 0 }, { "nope", BTF_KIND_STRUCT, 0 },
		{ "n1", BTF_KIND_TYPEDEF, 0 },  { "int", BTF_KIND_INT, 0 }, { "n", BTF_KIND_STRUCT, 0 },
	};
	void *cut;
	int err;

	tap_diag("synthetic BTF: %u types, %u bytes", btf__type_cnt(b) - 1, size);
	compare_all(b, path, "synthetic BTF", 1);
	check_queries(b, path, q, sizeof(q) / sizeof(q[0]), "synthetic BTF");

	/* the file cut inside the type section: an error, not the ids before the cut */
	cut = malloc(size);
	memcpy(cut, raw, size);
	{
		const struct btf_header *h = cut;
		size_t keep = h->hdr_len + h->type_off + h->type_len / 2;
		struct nt_btf_query one = { "n699", BTF_KIND_TYPEDEF, 0 };

		path = write_file("cut.btf", cut, keep);
		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EPROTO, "a file cut short is an error (EPROTO)");
		tap_is_u64((uint64_t)one.id, 0, "a file cut short gives no id");
	}
	free(cut);

	/* the other byte order: libbpf can write it, this reader says it does not know it */
	btf__set_endianness(b, BTF_BIG_ENDIAN == btf__endianness(b) ? BTF_LITTLE_ENDIAN
								       : BTF_BIG_ENDIAN);
	raw = btf__raw_data(b, &size);
	path = write_file("swapped.btf", raw, size);
	{
		struct nt_btf_query one = { "n5", BTF_KIND_STRUCT, 0 };

		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EPROTO, "BTF of the other byte order is an error (EPROTO)");
	}
	btf__free(b);
}

/* A hand-made file: header, then the types, then the strings, without gaps. */
struct raw_btf {
	struct btf_header h;
	unsigned char rest[512];
};

static size_t raw_build(struct raw_btf *r, const __u32 *types, size_t n_words, const char *strs,
			size_t str_len)
{
	memset(r, 0, sizeof(*r));
	r->h.magic = BTF_MAGIC;
	r->h.version = BTF_VERSION;
	r->h.hdr_len = sizeof(r->h);
	r->h.type_off = 0;
	r->h.type_len = (__u32)(n_words * 4);
	r->h.str_off = r->h.type_len;
	r->h.str_len = (__u32)str_len;
	memcpy(r->rest, types, n_words * 4);
	memcpy(r->rest + n_words * 4, strs, str_len);
	return sizeof(r->h) + n_words * 4 + str_len;
}

#define INFO(kind, vlen) (((__u32)(kind) << 24) | (vlen))

static void test_handmade(void)
{
	/* strings: "", "bpf_sock", "x"; type 1: struct named at "sock" inside "bpf_sock"
	 * (offset 5), one member; type 2: typedef "bpf_sock" (offset 1) of type 1 */
	static const char strs[] = "\0bpf_sock\0x";
	const __u32 types[] = {
		5, INFO(BTF_KIND_STRUCT, 1), 4, /* member */ 10, 0, 0,
		1, INFO(BTF_KIND_TYPEDEF, 0), 1,
	};
	struct raw_btf r;
	size_t len = raw_build(&r, types, sizeof(types) / 4, strs, sizeof(strs));
	const char *path = write_file("tail.btf", &r, len);
	struct nt_btf_query q[] = {
		{ "sock", BTF_KIND_STRUCT, 0 }, { "bpf_sock", BTF_KIND_TYPEDEF, 0 },
		{ "bpf_sock", BTF_KIND_STRUCT, 0 }, { "ock", BTF_KIND_STRUCT, 0 },
	};
	const int want[] = { 1, 2, 0, 0 };
	int err = nt_btf_find_ids(path, q, 4);
	struct btf *lb = btf__parse_raw(path);

	tap_is_u64((uint64_t)-err, 0, "hand-made BTF: read");
	for (int i = 0; i < 4; i++) {
		tap_is_u64((uint64_t)q[i].id, (uint64_t)want[i],
			   "a name that is the tail of a longer string: %s of kind %u is id %d",
			   q[i].name, q[i].kind, want[i]);
		if (lb) {
			int l = btf__find_by_name_kind(lb, q[i].name, q[i].kind);

			tap_is_u64((uint64_t)q[i].id, (uint64_t)(l > 0 ? l : 0),
				   "... and libbpf agrees on %s of kind %u", q[i].name, q[i].kind);
		}
	}
	tap_ok(lb != NULL, "libbpf reads the hand-made BTF too");
	btf__free(lb);

	/* a kind this reader does not know how to step over */
	{
		__u32 bad[sizeof(types) / 4];
		struct nt_btf_query one = { "bpf_sock", BTF_KIND_TYPEDEF, 0 };

		memcpy(bad, types, sizeof(types));
		bad[1] = INFO(31, 1);
		len = raw_build(&r, bad, sizeof(bad) / 4, strs, sizeof(strs));
		path = write_file("kind.btf", &r, len);
		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EPROTO, "an unknown kind before the name is an error");
	}
	/* bad magic; a string section past the end of the file */
	{
		struct nt_btf_query one = { "sock", BTF_KIND_STRUCT, 0 };

		len = raw_build(&r, types, sizeof(types) / 4, strs, sizeof(strs));
		r.h.magic = 0x1234;
		path = write_file("magic.btf", &r, len);
		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EPROTO, "a file without the BTF magic is an error");
		len = raw_build(&r, types, sizeof(types) / 4, strs, sizeof(strs));
		r.h.str_len = 1 << 20;
		path = write_file("past.btf", &r, len);
		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EPROTO, "a section past the end of the file is an error");
	}
	{
		char longname[NT_BTF_NAME_MAX + 2];
		struct nt_btf_query one = { longname, BTF_KIND_STRUCT, 0 };

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		err = nt_btf_find_ids(path, &one, 1);
		tap_is_u64((uint64_t)-err, EINVAL, "a name longer than %d is refused (EINVAL)",
			   NT_BTF_NAME_MAX);
		one.name = "sock";
		err = nt_btf_find_ids("/nonexistent/btf", &one, 1);
		tap_is_u64((uint64_t)-err, ENOENT, "a missing file is ENOENT");
	}
}

static void test_kernel(void)
{
	const char *path = "/sys/kernel/btf/vmlinux";
	struct btf *k;
	/* what the hook probes ask for (src/user/hooks.c) */
	struct nt_btf_query q[] = {
		{ "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, 0 },
		{ "btf_trace_tcp_set_state", BTF_KIND_TYPEDEF, 0 },
		{ "inet_csk_accept", BTF_KIND_FUNC, 0 },
		{ "bpf_iter_task_file", BTF_KIND_FUNC, 0 },
		{ "bpf_iter_bpf_map_elem", BTF_KIND_FUNC, 0 },
		{ "bpf_rdonly_cast", BTF_KIND_FUNC, 0 },
		{ "sock", BTF_KIND_STRUCT, 0 },
		{ "tcp_sock", BTF_KIND_STRUCT, 0 },
	};

	if (access(path, R_OK)) {
		char why[300];

		snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
		tap_skip("kernel BTF: the probes' names and a sample of its types", why);
		return;
	}
	k = btf__parse(path, NULL);
	if (!tap_ok(k != NULL, "libbpf parses %s", path))
		return;
	check_queries(k, path, q, sizeof(q) / sizeof(q[0]), "kernel BTF, the probes' names");
	compare_all(k, path, "kernel BTF, every 97th type", 97);
	btf__free(k);
}

static void cleanup(void)
{
	static const char *const files[] = { "synthetic.btf", "cut.btf", "swapped.btf", "tail.btf",
					      "kind.btf", "magic.btf", "past.btf" };
	char p[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		tap_ok(false, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_synthetic();
	test_handmade();
	test_kernel();
	cleanup();
	return tap_done();
}
