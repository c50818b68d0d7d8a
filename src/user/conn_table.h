/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The user-space table of live connections, keyed by connection id.
 * Rows are kept dense (iteration touches only live rows, removal moves the
 * last row into the hole); an open-addressing index of 32-bit row numbers
 * finds them. 100,000 connections cost about 18 MB.
 */
#ifndef NT_CONN_TABLE_H
#define NT_CONN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct nt_conn_table;

struct nt_conn_table *nt_conn_table_new(void);
void nt_conn_table_free(struct nt_conn_table *t);

struct nt_conn_row *nt_conn_table_get(struct nt_conn_table *t, uint64_t id);
/* The row for id, created zeroed (with id set) if absent; NULL when out of memory.
 * Pointers into the table are valid until the next insert or remove. */
struct nt_conn_row *nt_conn_table_upsert(struct nt_conn_table *t, uint64_t id, int *created);
/* 0 if removed, -1 if absent. */
int nt_conn_table_remove(struct nt_conn_table *t, uint64_t id);
size_t nt_conn_table_count(const struct nt_conn_table *t);
/* Dense access: rows 0..count-1. */
struct nt_conn_row *nt_conn_table_row(struct nt_conn_table *t, size_t i);
/* Bytes of memory the table holds. */
size_t nt_conn_table_bytes(const struct nt_conn_table *t);

#endif
