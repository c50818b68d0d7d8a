// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * btf_offsets: the offsets of the fields the guesser looks for, according to kernel BTF.
 *
 * The guesser (src/guess/) finds where the running kernel keeps each field of NT_FIELDS
 * (src/bpf/nt_offsets.h) by experiment, because the legacy programs run where there is no
 * BTF. On a kernel that does have BTF, the answer is known: this program prints it, and the
 * guessing tests compare. The field list is NT_FIELDS itself, so the two cannot diverge.
 *
 * Output: one JSON object, {"<field>": <byte offset>, ...}, every field in NT_FIELDS order.
 * A field BTF does not have, or a bitfield that does not start and end on a byte, is null:
 * the exit status is then 1 and stderr names each such field and why. Exit status 2: usage,
 * or no BTF.
 *
 * Usage: btf_offsets [--btf FILE]
 *   default: the running kernel's BTF (/sys/kernel/btf/vmlinux), FILE: raw BTF or an ELF
 *   file with a .BTF section.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "nt_offsets.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct nt_field_desc {
	const char *name;	/* as in NT_OFF_<name> and `nettracer --guess` */
	const char *type;	/* the struct the offset is counted from */
	const char *path;	/* member path from that struct: "a.b.c" */
};

static const struct nt_field_desc nt_fields[] = {
#define NT_FIELD_DESC(name, st, path) { #name, #st, #path },
	NT_FIELDS(NT_FIELD_DESC)
#undef NT_FIELD_DESC
};

_Static_assert(ARRAY_SIZE(nt_fields) == NT_OFF__COUNT, "NT_FIELDS and enum nt_field differ");

/*
 * Find the member called name (len bytes, not NUL-terminated: a piece of a path) in the
 * struct or union type_id. Members of anonymous structs and unions are searched too, since
 * C names them as members of the outer struct: sock_common's skc_daddr, for one, is inside
 * an anonymous struct inside an anonymous union. Adds the member's bit offset to *bit_off
 * and sets *bitfield_size (0: not a bitfield). Returns the member's type id, 0 if none.
 */
static __u32 find_member(const struct btf *btf, __u32 type_id, const char *name, size_t len,
			 __u32 *bit_off, __u32 *bitfield_size)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);
	const struct btf_member *m;
	int i;

	if (!t || !btf_is_composite(t))
		return 0;

	for (i = 0, m = btf_members(t); i < btf_vlen(t); i++, m++) {
		const char *m_name = btf__name_by_offset(btf, m->name_off);
		__u32 inner_off = 0, found;
		int inner;

		if (m_name && m_name[0]) {
			if (strlen(m_name) != len || strncmp(m_name, name, len))
				continue;
			*bit_off += btf_member_bit_offset(t, i);
			*bitfield_size = btf_member_bitfield_size(t, i);
			return m->type;
		}

		/* anonymous: through typedefs and qualifiers to the struct or union */
		inner = btf__resolve_type(btf, m->type);
		if (inner <= 0)
			continue;
		found = find_member(btf, inner, name, len, &inner_off, bitfield_size);
		if (found) {
			*bit_off += btf_member_bit_offset(t, i) + inner_off;
			return found;
		}
	}
	return 0;
}

/*
 * The byte offset of one field, or -1 with the reason in why. Every step of the path but
 * the last must be a struct or union; typedefs on the way are fine (skc_net is a
 * possible_net_t, a typedef of an anonymous struct).
 */
static int field_offset(const struct btf *btf, const struct nt_field_desc *f, __u32 *offset,
			char *why, size_t why_len)
{
	__u32 bit_off = 0, bitfield_size = 0;
	const char *p = f->path, *prev = f->type;
	size_t prev_len = strlen(f->type);
	__s32 type;

	type = btf__find_by_name_kind(btf, f->type, BTF_KIND_STRUCT);
	if (type < 0) {
		snprintf(why, why_len, "no struct %s", f->type);
		return -1;
	}

	while (*p) {
		size_t len = strcspn(p, ".");
		int outer = btf__resolve_type(btf, type);
		const struct btf_type *t = outer > 0 ? btf__type_by_id(btf, outer) : NULL;

		if (!t || !btf_is_composite(t)) {
			snprintf(why, why_len, "%.*s is not a struct or union: no member %.*s",
				 (int)prev_len, prev, (int)len, p);
			return -1;
		}
		type = find_member(btf, outer, p, len, &bit_off, &bitfield_size);
		if (!type) {
			snprintf(why, why_len, "%s %s has no member %.*s",
				 btf_is_union(t) ? "union" : "struct",
				 btf__name_by_offset(btf, t->name_off)[0] ?
					btf__name_by_offset(btf, t->name_off) : "(anonymous)",
				 (int)len, p);
			return -1;
		}
		prev = p;
		prev_len = len;
		p += len;
		if (*p == '.')
			p++;
	}

	/* a byte offset only means something if the field covers whole bytes */
	if (bit_off % 8 || bitfield_size % 8) {
		snprintf(why, why_len, "a bitfield of %u bits at bit %u: not on a byte boundary",
			 bitfield_size, bit_off);
		return -1;
	}
	*offset = bit_off / 8;
	return 0;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--btf FILE]\n"
		"Print the byte offset of every field of nt_offsets.h's NT_FIELDS, as JSON,\n"
		"from the running kernel's BTF or from FILE (raw BTF or ELF with .BTF).\n",
		prog);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "btf", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *btf_path = NULL;
	struct btf *btf;
	size_t i, missing = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			btf_path = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	if (!btf) {
		fprintf(stderr, "btf_offsets: cannot load BTF from %s: %s\n",
			btf_path ? btf_path : "the running kernel", strerror(errno));
		return 2;
	}

	printf("{\n");
	for (i = 0; i < ARRAY_SIZE(nt_fields); i++) {
		const struct nt_field_desc *f = &nt_fields[i];
		const char *sep = i + 1 < ARRAY_SIZE(nt_fields) ? "," : "";
		char why[256];
		__u32 offset;

		if (field_offset(btf, f, &offset, why, sizeof(why))) {
			fprintf(stderr, "btf_offsets: %s (struct %s, %s): %s\n",
				f->name, f->type, f->path, why);
			printf("  \"%s\": null%s\n", f->name, sep);
			missing++;
		} else {
			printf("  \"%s\": %u%s\n", f->name, offset, sep);
		}
	}
	printf("}\n");
	btf__free(btf);

	if (missing) {
		fprintf(stderr, "btf_offsets: %zu of %zu fields without a byte offset\n",
			missing, ARRAY_SIZE(nt_fields));
		return 1;
	}
	return 0;
}
