/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Type ids by name and kind from a raw BTF file (the running kernel's
 * /sys/kernel/btf/vmlinux), without building libbpf's index of all its types.
 */
#ifndef NT_BTF_IDS_H
#define NT_BTF_IDS_H

#include <stddef.h>

#define NT_BTF_NAME_MAX 255	/* longest name a query may ask for */

struct nt_btf_query {
	const char *name;
	unsigned int kind;	/* BTF_KIND_* */
	int id;			/* out: the first type of that name and kind, 0 if none */
};

/*
 * Fill q[i].id for every query. 0, or -errno: -EPROTO for a file this reader does not
 * know (another byte order, a BTF kind newer than it knows, a damaged header), -EINVAL for
 * a name longer than NT_BTF_NAME_MAX, else the error of open/read. On an error the ids
 * are not to be used: the caller asks libbpf instead.
 */
int nt_btf_find_ids(const char *path, struct nt_btf_query *q, size_t n);

#endif /* NT_BTF_IDS_H */
