// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Type ids by name and kind from a raw BTF file, streamed.
 *
 * The hook probes need a handful of ids: a tracepoint's btf_trace_<name> typedef, a
 * function, an iterator's bpf_iter_<name>, struct sock. btf__load_vmlinux_btf() parses and
 * indexes all of the kernel's ~150,000 types for that (65-100 ms on the development
 * machine, where libbpf parses the same file again to load the CO-RE object). Here the
 * file goes twice through a 64 KiB buffer instead (~3 ms each):
 *   1. the string section: where each wanted name is. A type's name offset points at the
 *      start of a string or into one (a name that is the tail of a longer string may share
 *      its bytes), so every string ending in the name gives a candidate offset;
 *   2. the type section: the first type of the wanted kind whose name offset is one of
 *      those. Type ids count from 1 in file order, as libbpf's btf__find_by_name_kind().
 * Anything this reader does not know (another byte order, a newer kind whose size it
 * cannot skip) is an error, and the caller falls back to libbpf.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btf_ids.h"

#define CHUNK (64 * 1024)

struct reader {
	int fd;
	uint64_t pos;		/* file offset of buf[0] */
	uint64_t end;		/* end of the section being read */
	size_t off, len;	/* next byte in buf, bytes in buf */
	unsigned char buf[CHUNK];
};

static void rd_seek(struct reader *r, uint64_t start, uint64_t len)
{
	r->pos = start;
	r->end = start + len;
	r->off = r->len = 0;
}

/* Refill; 1 when there is more, 0 at the section's end, -errno on a read error. */
static int rd_fill(struct reader *r)
{
	uint64_t want;
	ssize_t got;

	r->pos += r->len;
	r->off = r->len = 0;
	if (r->pos >= r->end)
		return 0;
	want = r->end - r->pos < CHUNK ? r->end - r->pos : CHUNK;
	do
		got = pread(r->fd, r->buf, (size_t)want, (off_t)r->pos);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	if (got == 0)
		return -EPROTO;	/* shorter than its header says */
	r->len = (size_t)got;
	return 1;
}

/* The next n bytes of the section into dst, or past them when dst is NULL. */
static int rd_take(struct reader *r, void *dst, uint64_t n)
{
	unsigned char *d = dst;

	while (n) {
		size_t k;

		if (r->off == r->len) {
			int err = rd_fill(r);

			if (err <= 0)
				return err ? err : -EPROTO;
		}
		k = r->len - r->off < n ? r->len - r->off : (size_t)n;
		if (d) {
			memcpy(d, r->buf + r->off, k);
			d += k;
		}
		r->off += k;
		n -= k;
	}
	return 0;
}

struct offsets {
	uint32_t *v;
	size_t n, cap;
};

static int offsets_add(struct offsets *o, uint32_t x)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		uint32_t *p = realloc(o->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		o->v = p;
		o->cap = cap;
	}
	o->v[o->n++] = x;	/* found in file order: sorted */
	return 0;
}

static int offsets_has(const struct offsets *o, uint32_t x)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->v[mid] == x)
			return 1;
		if (o->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Pass 1: for each query, the offsets in the string section where its name is. */
static int scan_strings(struct reader *r, const struct nt_btf_query *q, size_t n,
			const size_t *qlen, struct offsets *where)
{
	unsigned char cur[2 * (NT_BTF_NAME_MAX + 1)];	/* the current string's last bytes */
	size_t clen = 0;
	uint64_t at = 0;	/* offset of the next byte in the section */
	int err;

	while ((err = rd_fill(r)) > 0) {
		for (size_t i = 0; i < r->len; i++, at++) {
			unsigned char c = r->buf[i];

			if (c) {
				if (clen == sizeof(cur)) {
					memmove(cur, cur + sizeof(cur) / 2, sizeof(cur) / 2);
					clen = sizeof(cur) / 2;
				}
				cur[clen++] = c;
				continue;
			}
			for (size_t k = 0; k < n; k++) {
				if (qlen[k] && qlen[k] <= clen &&
				    !memcmp(cur + clen - qlen[k], q[k].name, qlen[k]) &&
				    offsets_add(&where[k], (uint32_t)(at - qlen[k])))
					return -ENOMEM;
			}
			clen = 0;
		}
		r->off = r->len;
	}
	return err;
}

/* Bytes that follow a type's struct btf_type, by kind; -1 for a kind not known here. */
static long type_extra(unsigned int kind, unsigned int vlen)
{
	switch (kind) {
	case 1:		/* INT */
	case 14:	/* VAR */
	case 17:	/* DECL_TAG */
		return 4;
	case 2:		/* PTR */
	case 7:		/* FWD */
	case 8:		/* TYPEDEF */
	case 9:		/* VOLATILE */
	case 10:	/* CONST */
	case 11:	/* RESTRICT */
	case 12:	/* FUNC */
	case 16:	/* FLOAT */
	case 18:	/* TYPE_TAG */
		return 0;
	case 3:		/* ARRAY: struct btf_array */
		return 12;
	case 4:		/* STRUCT, UNION: struct btf_member each */
	case 5:
	case 15:	/* DATASEC: struct btf_var_secinfo each */
	case 19:	/* ENUM64: struct btf_enum64 each */
		return 12L * vlen;
	case 6:		/* ENUM: struct btf_enum each */
	case 13:	/* FUNC_PROTO: struct btf_param each */
		return 8L * vlen;
	default:
		return -1;
	}
}

/* Pass 2: the first type of each query's kind named at one of its offsets. */
static int scan_types(struct reader *r, struct nt_btf_query *q, size_t n,
		      const struct offsets *where)
{
	size_t left = 0;
	int id = 0, err;

	for (size_t k = 0; k < n; k++)
		left += where[k].n > 0;
	while (left) {
		struct btf_type t;
		unsigned int kind;
		long extra;

		if (r->off == r->len) {
			err = rd_fill(r);
			if (err <= 0)	/* 0: the end of the section, the rest are not there */
				return err;
		}
		err = rd_take(r, &t, sizeof(t));
		if (err)
			return err;
		id++;
		kind = BTF_INFO_KIND(t.info);
		extra = type_extra(kind, BTF_INFO_VLEN(t.info));
		if (extra < 0)
			return -EPROTO;
		for (size_t k = 0; k < n; k++) {
			if (q[k].id || q[k].kind != kind || !where[k].n ||
			    !offsets_has(&where[k], t.name_off))
				continue;
			q[k].id = id;
			left--;
		}
		err = rd_take(r, NULL, (uint64_t)extra);
		if (err)
			return err;
	}
	return 0;
}

int nt_btf_find_ids(const char *path, struct nt_btf_query *q, size_t n)
{
	struct btf_header h;
	struct offsets *where = NULL;
	struct reader *r = NULL;
	size_t *qlen = NULL;
	struct stat st;
	int err = 0;

	for (size_t k = 0; k < n; k++) {
		q[k].id = 0;
		if (strlen(q[k].name) > NT_BTF_NAME_MAX)
			return -EINVAL;
	}
	r = malloc(sizeof(*r));
	where = calloc(n ? n : 1, sizeof(*where));
	qlen = calloc(n ? n : 1, sizeof(*qlen));
	if (!r || !where || !qlen) {
		err = -ENOMEM;
		goto out;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(r->fd, &st)) {
		err = -errno;
		goto out_close;
	}
	rd_seek(r, 0, sizeof(h));
	err = rd_take(r, &h, sizeof(h));
	if (err)
		goto out_close;
	/* a header this reader knows, sections inside the file, types 4-byte aligned */
	if (h.magic != BTF_MAGIC || h.version != BTF_VERSION || h.hdr_len < sizeof(h) ||
	    (uint64_t)h.hdr_len + h.type_off + h.type_len > (uint64_t)st.st_size ||
	    (uint64_t)h.hdr_len + h.str_off + h.str_len > (uint64_t)st.st_size ||
	    h.type_off % 4 || h.type_len % 4) {
		err = -EPROTO;
		goto out_close;
	}
	for (size_t k = 0; k < n; k++)
		qlen[k] = strlen(q[k].name);
	rd_seek(r, (uint64_t)h.hdr_len + h.str_off, h.str_len);
	err = scan_strings(r, q, n, qlen, where);
	if (err)
		goto out_close;
	rd_seek(r, (uint64_t)h.hdr_len + h.type_off, h.type_len);
	err = scan_types(r, q, n, where);
out_close:
	close(r->fd);
out:
	if (where)
		for (size_t k = 0; k < n; k++)
			free(where[k].v);
	free(where);
	free(qlen);
	free(r);
	if (err)
		for (size_t k = 0; k < n; k++)
			q[k].id = 0;
	return err;
}
