/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Turning records into what users read: metrics with TCP_INFO's meaning, and the
 * three renderings (log line, JSON line, table row). Everything appends to an
 * nt_buf; nothing here does I/O, and no printf runs per field on the hot path.
 */
#ifndef NT_FORMAT_H
#define NT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nt_record.h"

struct nt_metrics {
	uint64_t bytes_sent;		/* payload bytes the peer acknowledged */
	uint64_t bytes_received;	/* payload bytes received in order */
	uint32_t packets_sent;		/* tcpi_segs_out */
	uint32_t packets_received;	/* tcpi_segs_in */
	uint32_t retransmits;		/* tcpi_total_retrans */
	uint32_t rtt_us;		/* tcpi_rtt */
	uint32_t rtt_var_us;		/* tcpi_rttvar */
};

/* What the renderers need to know of a connection (a row of the connection table). */
struct nt_conn_row {
	uint64_t id;
	uint64_t sk;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport;
	uint16_t dport;
	uint32_t netns;
	uint32_t pid;
	uint8_t family;
	uint8_t direction;	/* enum nt_direction */
	uint8_t state;		/* last TCP state seen */
	uint8_t existing;	/* open before the tracer started */
	uint8_t missing;	/* absent from the last snapshot, its close record not in yet */
	char comm[NT_COMM_LEN + 1];
	uint32_t seen_gen;	/* last snapshot generation that reported it */
	uint32_t born_gen;	/* generation in which the row was created */
	struct nt_metrics m;
};

/* The kernel's raw counters -> reported metrics (see nt_record.h for the arithmetic). */
void nt_metrics_from_record(const struct nt_record *r, uint8_t direction, struct nt_metrics *m);

struct nt_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* 0 or -1 (out of memory; the buffer is unchanged). */
int nt_buf_reserve(struct nt_buf *b, size_t extra);
void nt_buf_free(struct nt_buf *b);
void nt_buf_put(struct nt_buf *b, const char *s, size_t n);
void nt_buf_puts(struct nt_buf *b, const char *s);
void nt_buf_putc(struct nt_buf *b, char c);
void nt_buf_put_u64(struct nt_buf *b, uint64_t v);
void nt_buf_put_json_str(struct nt_buf *b, const char *s, size_t maxlen);

#define NT_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */
#define NT_ENDPOINT_STRLEN (NT_ADDR_STRLEN + 8)

/* Standard text form: 10.1.0.2, ::1, fe80::1. Returns the length written. */
size_t nt_format_addr(char *dst, uint8_t family, const uint8_t addr[16]);
/* 10.1.0.2:80 or [::1]:80 */
size_t nt_format_endpoint(char *dst, uint8_t family, const uint8_t addr[16], uint16_t port);
/* 2026-12-01T18:00:00.123456Z */
size_t nt_format_time(char *dst, size_t len, uint64_t unix_ns);
const char *nt_tcp_state_name(uint8_t state);
const char *nt_record_type_name(uint8_t type);	/* JSON "type" values */
const char *nt_direction_name(uint8_t direction);
/* comm as one token: whitespace and control characters become '?' */
void nt_comm_token(char *dst, const char *comm);

/* {"type":...,"ts_ns":...,...}\n  type is a JSON "type" value (connect, accept, close, metrics). */
void nt_render_json(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		    const struct nt_conn_row *row);
/* 2026-...Z CONNECT  pid=... comm=... netns=... out 1.2.3.4:5 -> 6.7.8.9:10 sent=... */
void nt_render_log(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		   const struct nt_conn_row *row);
void nt_render_table_header(struct nt_buf *b);
void nt_render_table_row(struct nt_buf *b, const struct nt_conn_row *row);

#endif
