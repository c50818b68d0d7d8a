/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Output sinks. Logging mode writes lines to stdout and DIR/nettracer.log,
 * JSON mode writes one object per line to stdout, table mode redraws stdout.
 * Everything is buffered and written in large blocks by nt_output_flush().
 */
#ifndef NT_OUTPUT_H
#define NT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "options.h"

struct nt_output;

/* A key and either a string or a number: the fields of status and loss records. */
struct nt_kv {
	const char *key;
	const char *str;	/* NULL: num is the value */
	uint64_t num;
};

struct nt_output *nt_output_open(const struct nt_options *o, char *err, size_t len);
void nt_output_close(struct nt_output *out);
/* SIGHUP: reopen the log file (after logrotate moved it). */
int nt_output_reopen(struct nt_output *out);

/* An event or metrics record of one connection. Ignored in table mode. */
void nt_output_conn(struct nt_output *out, const char *type, uint64_t ts_unix_ns,
		    const struct nt_conn_row *row);
/* {"type":<type>,"ts_ns":...,<kv>...}; in logging mode "<time> <type> key=value ...". */
void nt_output_record(struct nt_output *out, const char *type, uint64_t ts_unix_ns,
		      const struct nt_kv *kv, size_t n);
/* Table mode: header line, column titles, rows. */
void nt_output_table(struct nt_output *out, uint64_t ts_unix_ns, const char *summary,
		     struct nt_conn_row *const *rows, size_t n);
/* Write what is buffered. -1 when stdout is gone (EPIPE): time to stop. */
int nt_output_flush(struct nt_output *out);
/* Path of the log file, NULL when there is none. */
const char *nt_output_log_path(const struct nt_output *out);

#endif
