// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "conn_table.h"

#include <stdlib.h>
#include <string.h>

struct nt_conn_table {
	struct nt_conn_row *rows;
	size_t count;
	size_t rows_cap;
	uint32_t *index;	/* row number + 1; 0 is an empty slot */
	size_t index_cap;	/* power of two, kept at most half full */
};

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser: ids are time-ordered, their low bits are the CPU */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct nt_conn_table *nt_conn_table_new(void)
{
	struct nt_conn_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->index_cap = 1024;
	t->index = calloc(t->index_cap, sizeof(*t->index));
	if (!t->index) {
		free(t);
		return NULL;
	}
	return t;
}

void nt_conn_table_free(struct nt_conn_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->index);
	free(t);
}

/* Slot holding id, or the empty slot where it would go. */
static size_t find_slot(const struct nt_conn_table *t, uint64_t id)
{
	size_t mask = t->index_cap - 1, i = mix64(id) & mask;

	while (t->index[i] && t->rows[t->index[i] - 1].id != id)
		i = (i + 1) & mask;
	return i;
}

static int grow_index(struct nt_conn_table *t)
{
	size_t cap = t->index_cap * 2, mask = cap - 1;
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -1;
	for (size_t r = 0; r < t->count; r++) {
		size_t i = mix64(t->rows[r].id) & mask;

		while (idx[i])
			i = (i + 1) & mask;
		idx[i] = (uint32_t)(r + 1);
	}
	free(t->index);
	t->index = idx;
	t->index_cap = cap;
	return 0;
}

struct nt_conn_row *nt_conn_table_get(struct nt_conn_table *t, uint64_t id)
{
	size_t i = find_slot(t, id);

	return t->index[i] ? &t->rows[t->index[i] - 1] : NULL;
}

struct nt_conn_row *nt_conn_table_upsert(struct nt_conn_table *t, uint64_t id, int *created)
{
	struct nt_conn_row *row;
	size_t i;

	if (created)
		*created = 0;
	i = find_slot(t, id);
	if (t->index[i])
		return &t->rows[t->index[i] - 1];
	if ((t->count + 1) * 2 > t->index_cap) {
		if (grow_index(t))
			return NULL;
		i = find_slot(t, id);
	}
	if (t->count == t->rows_cap) {
		size_t cap = t->rows_cap ? t->rows_cap * 2 : 256;
		struct nt_conn_row *rows = realloc(t->rows, cap * sizeof(*rows));

		if (!rows)
			return NULL;
		t->rows = rows;
		t->rows_cap = cap;
	}
	row = &t->rows[t->count];
	memset(row, 0, sizeof(*row));
	row->id = id;
	t->index[i] = (uint32_t)++t->count;
	if (created)
		*created = 1;
	return row;
}

int nt_conn_table_remove(struct nt_conn_table *t, uint64_t id)
{
	size_t mask = t->index_cap - 1, i = find_slot(t, id), j, r, last;

	if (!t->index[i])
		return -1;
	r = t->index[i] - 1;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	t->index[i] = 0;
	for (j = (i + 1) & mask; t->index[j]; j = (j + 1) & mask) {
		size_t home = mix64(t->rows[t->index[j] - 1].id) & mask;

		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->index[i] = t->index[j];
			t->index[j] = 0;
			i = j;
		}
	}
	/* keep rows dense: the last row takes the freed place */
	last = t->count - 1;
	if (r != last) {
		t->rows[r] = t->rows[last];
		t->index[find_slot(t, t->rows[r].id)] = (uint32_t)(r + 1);
	}
	t->count--;
	return 0;
}

size_t nt_conn_table_count(const struct nt_conn_table *t)
{
	return t->count;
}

struct nt_conn_row *nt_conn_table_row(struct nt_conn_table *t, size_t i)
{
	return i < t->count ? &t->rows[i] : NULL;
}

size_t nt_conn_table_bytes(const struct nt_conn_table *t)
{
	return sizeof(*t) + t->rows_cap * sizeof(*t->rows) + t->index_cap * sizeof(*t->index);
}
