// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "format.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void nt_metrics_from_record(const struct nt_record *r, uint8_t direction, struct nt_metrics *m)
{
	/*
	 * bytes_acked counts every acknowledged sequence number: the SYN of an
	 * active open (a passive child starts with snd_una past its SYN) and our
	 * FIN once it is acked. bytes_received counts the peer's FIN, never its SYN.
	 */
	uint64_t ctl_sent = (direction == NT_DIR_OUT) + !!(r->flags & NT_F_FIN_ACKED);
	uint64_t ctl_rcvd = !!(r->flags & NT_F_FIN_RCVD);

	m->bytes_sent = r->bytes_acked > ctl_sent ? r->bytes_acked - ctl_sent : 0;
	m->bytes_received = r->bytes_received > ctl_rcvd ? r->bytes_received - ctl_rcvd : 0;
	m->packets_sent = r->segs_out;
	m->packets_received = r->segs_in;
	m->retransmits = r->total_retrans;
	m->rtt_us = r->srtt_us >> 3;
	m->rtt_var_us = r->mdev_us >> 2;
}

/* ---- buffer ------------------------------------------------------------------------------- */

int nt_buf_reserve(struct nt_buf *b, size_t extra)
{
	size_t need = b->len + extra, cap;
	char *p;

	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

void nt_buf_free(struct nt_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void nt_buf_put(struct nt_buf *b, const char *s, size_t n)
{
	if (nt_buf_reserve(b, n))
		return;	/* out of memory: the line is cut, the process goes on */
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void nt_buf_puts(struct nt_buf *b, const char *s)
{
	nt_buf_put(b, s, strlen(s));
}

void nt_buf_putc(struct nt_buf *b, char c)
{
	nt_buf_put(b, &c, 1);
}

static size_t u64_to_str(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

void nt_buf_put_u64(struct nt_buf *b, uint64_t v)
{
	char tmp[20];

	nt_buf_put(b, tmp, u64_to_str(tmp, v));
}

void nt_buf_put_json_str(struct nt_buf *b, const char *s, size_t maxlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	nt_buf_putc(b, '"');
	for (i = 0; i < maxlen && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			nt_buf_putc(b, '\\');
			nt_buf_putc(b, (char)c);
		} else if (c < 0x20 || c >= 0x7f) {
			/* comm is bytes, not UTF-8: escape everything outside printable ASCII */
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			nt_buf_put(b, esc, sizeof(esc));
		} else {
			nt_buf_putc(b, (char)c);
		}
	}
	nt_buf_putc(b, '"');
}

/* ---- small renderers ------------------------------------------------------------------------ */

size_t nt_format_addr(char *dst, uint8_t family, const uint8_t addr[16])
{
	if (family == 4) {
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			if (i)
				dst[n++] = '.';
			n += u64_to_str(dst + n, addr[i]);
		}
		dst[n] = '\0';
		return n;
	}
	if (!inet_ntop(AF_INET6, addr, dst, NT_ADDR_STRLEN)) {
		strcpy(dst, "?");
		return 1;
	}
	return strlen(dst);
}

size_t nt_format_endpoint(char *dst, uint8_t family, const uint8_t addr[16], uint16_t port)
{
	size_t n = 0;

	if (family == 6)
		dst[n++] = '[';
	n += nt_format_addr(dst + n, family, addr);
	if (family == 6)
		dst[n++] = ']';
	dst[n++] = ':';
	n += u64_to_str(dst + n, port);
	dst[n] = '\0';
	return n;
}

size_t nt_format_time(char *dst, size_t len, uint64_t unix_ns)
{
	time_t sec = (time_t)(unix_ns / 1000000000ULL);
	struct tm tm;
	int n;

	gmtime_r(&sec, &tm);
	n = snprintf(dst, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (unsigned)(unix_ns % 1000000000ULL / 1000));
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

const char *nt_tcp_state_name(uint8_t state)
{
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT",	 [3] = "SYN_RECV",   [4] = "FIN_WAIT1",
		[5] = "FIN_WAIT2",   [6] = "TIME_WAIT",	 [7] = "CLOSE",	     [8] = "CLOSE_WAIT",
		[9] = "LAST_ACK",    [10] = "LISTEN",	 [11] = "CLOSING",   [12] = "NEW_SYN_RECV",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "UNKNOWN";
}

const char *nt_record_type_name(uint8_t type)
{
	switch (type) {
	case NT_REC_CONNECT:
		return "connect";
	case NT_REC_ACCEPT:
		return "accept";
	case NT_REC_CLOSE:
		return "close";
	case NT_REC_METRICS:
		return "metrics";
	case NT_REC_EXISTING:
		return "existing";
	case NT_REC_LISTEN:
		return "listen";
	}
	return "unknown";
}

const char *nt_direction_name(uint8_t direction)
{
	return direction == NT_DIR_OUT ? "out" : direction == NT_DIR_IN ? "in" : "unknown";
}

void nt_comm_token(char *dst, const char *comm)
{
	size_t i;

	for (i = 0; i < NT_COMM_LEN && comm[i]; i++) {
		unsigned char c = (unsigned char)comm[i];

		dst[i] = (c <= ' ' || c >= 0x7f) ? '?' : (char)c;
	}
	if (i == 0)
		dst[i++] = '-';
	dst[i] = '\0';
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_key(struct nt_buf *b, const char *key)
{
	nt_buf_putc(b, ',');
	nt_buf_putc(b, '"');
	nt_buf_puts(b, key);
	nt_buf_put(b, "\":", 2);
}

static void json_u64(struct nt_buf *b, const char *key, uint64_t v)
{
	json_key(b, key);
	nt_buf_put_u64(b, v);
}

static void json_str(struct nt_buf *b, const char *key, const char *v)
{
	json_key(b, key);
	nt_buf_put_json_str(b, v, (size_t)-1);
}

void nt_render_json(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		    const struct nt_conn_row *row)
{
	char addr[NT_ADDR_STRLEN];

	nt_buf_puts(b, "{\"type\":\"");
	nt_buf_puts(b, type);
	nt_buf_putc(b, '"');
	json_u64(b, "ts_ns", ts_unix_ns);
	json_u64(b, "id", row->id);
	json_u64(b, "family", row->family);
	nt_format_addr(addr, row->family, row->saddr);
	json_str(b, "saddr", addr);
	json_u64(b, "sport", row->sport);
	nt_format_addr(addr, row->family, row->daddr);
	json_str(b, "daddr", addr);
	json_u64(b, "dport", row->dport);
	json_u64(b, "pid", row->pid);
	json_key(b, "comm");
	nt_buf_put_json_str(b, row->comm, NT_COMM_LEN);
	json_u64(b, "netns", row->netns);
	json_str(b, "direction", nt_direction_name(row->direction));
	json_str(b, "state", nt_tcp_state_name(row->state));
	if (row->existing)
		nt_buf_puts(b, ",\"existing\":true");
	json_u64(b, "bytes_sent", row->m.bytes_sent);
	json_u64(b, "bytes_received", row->m.bytes_received);
	json_u64(b, "packets_sent", row->m.packets_sent);
	json_u64(b, "packets_received", row->m.packets_received);
	json_u64(b, "retransmits", row->m.retransmits);
	json_u64(b, "rtt_us", row->m.rtt_us);
	json_u64(b, "rtt_var_us", row->m.rtt_var_us);
	nt_buf_put(b, "}\n", 2);
}

/* ---- log lines ------------------------------------------------------------------------------ */

static void log_u64(struct nt_buf *b, const char *key, uint64_t v)
{
	nt_buf_putc(b, ' ');
	nt_buf_puts(b, key);
	nt_buf_putc(b, '=');
	nt_buf_put_u64(b, v);
}

void nt_render_log(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		   const struct nt_conn_row *row)
{
	char tmp[NT_ENDPOINT_STRLEN + 32];
	size_t n;

	n = nt_format_time(tmp, sizeof(tmp), ts_unix_ns);
	nt_buf_put(b, tmp, n);
	nt_buf_putc(b, ' ');
	nt_buf_puts(b, type);
	log_u64(b, "id", row->id);
	log_u64(b, "pid", row->pid);
	nt_buf_puts(b, " comm=");
	nt_comm_token(tmp, row->comm);
	nt_buf_puts(b, tmp);
	log_u64(b, "netns", row->netns);
	nt_buf_puts(b, " dir=");
	nt_buf_puts(b, nt_direction_name(row->direction));
	nt_buf_putc(b, ' ');
	nt_buf_put(b, tmp, nt_format_endpoint(tmp, row->family, row->saddr, row->sport));
	nt_buf_put(b, " -> ", 4);
	nt_buf_put(b, tmp, nt_format_endpoint(tmp, row->family, row->daddr, row->dport));
	nt_buf_puts(b, " state=");
	nt_buf_puts(b, nt_tcp_state_name(row->state));
	if (row->existing)
		nt_buf_puts(b, " existing=1");
	log_u64(b, "bytes_sent", row->m.bytes_sent);
	log_u64(b, "bytes_received", row->m.bytes_received);
	log_u64(b, "packets_sent", row->m.packets_sent);
	log_u64(b, "packets_received", row->m.packets_received);
	log_u64(b, "retransmits", row->m.retransmits);
	log_u64(b, "rtt_us", row->m.rtt_us);
	log_u64(b, "rtt_var_us", row->m.rtt_var_us);
	nt_buf_putc(b, '\n');
}

/* ---- table ---------------------------------------------------------------------------------- */

/* Column widths: a cell longer than its column pushes the line, never merges with the next. */
static const int table_widths[] = { 7, 15, 10, 3, 21, 21, 11, 12, 12, 9, 9, 7, 8, 9 };
static const char *const table_titles[] = {
	"PID",	     "COMM",	    "NETNS",	 "DIR",	      "LOCAL",	  "REMOTE", "STATE",
	"BYTES_SENT", "BYTES_RECV", "PKTS_SENT", "PKTS_RECV", "RETRANS", "RTT_US", "RTTVAR_US",
};

static void table_cell(struct nt_buf *b, int col, const char *s, size_t n, bool right)
{
	int width = table_widths[col], pad = width > (int)n ? width - (int)n : 0;

	if (col)
		nt_buf_putc(b, ' ');
	if (right)
		while (pad-- > 0)
			nt_buf_putc(b, ' ');
	nt_buf_put(b, s, n);
	if (!right && col != (int)(sizeof(table_widths) / sizeof(table_widths[0])) - 1)
		while (pad-- > 0)
			nt_buf_putc(b, ' ');
}

static void table_num(struct nt_buf *b, int col, uint64_t v)
{
	char tmp[21];

	table_cell(b, col, tmp, u64_to_str(tmp, v), true);
}

void nt_render_table_header(struct nt_buf *b)
{
	for (int i = 0; i < (int)(sizeof(table_titles) / sizeof(table_titles[0])); i++)
		table_cell(b, i, table_titles[i], strlen(table_titles[i]), i >= 7 || i == 0 || i == 2);
	nt_buf_putc(b, '\n');
}

void nt_render_table_row(struct nt_buf *b, const struct nt_conn_row *row)
{
	char tmp[NT_ENDPOINT_STRLEN];
	const char *s;

	if (row->pid)
		table_num(b, 0, row->pid);
	else
		table_cell(b, 0, "-", 1, true);
	nt_comm_token(tmp, row->comm);
	table_cell(b, 1, tmp, strlen(tmp), false);
	table_num(b, 2, row->netns);
	s = nt_direction_name(row->direction);
	table_cell(b, 3, s, strlen(s), false);
	table_cell(b, 4, tmp, nt_format_endpoint(tmp, row->family, row->saddr, row->sport), false);
	table_cell(b, 5, tmp, nt_format_endpoint(tmp, row->family, row->daddr, row->dport), false);
	s = nt_tcp_state_name(row->state);
	table_cell(b, 6, s, strlen(s), false);
	table_num(b, 7, row->m.bytes_sent);
	table_num(b, 8, row->m.bytes_received);
	table_num(b, 9, row->m.packets_sent);
	table_num(b, 10, row->m.packets_received);
	table_num(b, 11, row->m.retransmits);
	table_num(b, 12, row->m.rtt_us);
	table_num(b, 13, row->m.rtt_var_us);
	nt_buf_putc(b, '\n');
}
