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

/* Decimal digits of v into dst (no NUL); the length. Two digits per division. */
static size_t u64_to_str(char *dst, uint64_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char tmp[20];
	size_t n = sizeof(tmp);

	while (v >= 100) {
		unsigned int r = (unsigned int)(v % 100) * 2;

		v /= 100;
		tmp[--n] = pairs[r + 1];
		tmp[--n] = pairs[r];
	}
	if (v >= 10) {
		tmp[--n] = pairs[v * 2 + 1];
		tmp[--n] = pairs[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(dst, tmp + n, sizeof(tmp) - n);
	return sizeof(tmp) - n;
}

void nt_buf_put_u64(struct nt_buf *b, uint64_t v)
{
	char tmp[20];

	nt_buf_put(b, tmp, u64_to_str(tmp, v));
}

/* JSON string (quotes included) into dst, which has room for 2 + 6 * maxlen bytes. */
static char *json_str_raw(char *p, const char *s, size_t maxlen)
{
	static const char hex[] = "0123456789abcdef";

	*p++ = '"';
	for (size_t i = 0; i < maxlen && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			/* comm is bytes, not UTF-8: escape everything outside printable ASCII */
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	return p;
}

void nt_buf_put_json_str(struct nt_buf *b, const char *s, size_t maxlen)
{
	size_t len = strnlen(s, maxlen);

	if (nt_buf_reserve(b, 2 + 6 * len))
		return;
	b->len = (size_t)(json_str_raw(b->data + b->len, s, len) - b->data);
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

/* Literals and numbers straight into the reserved tail of the buffer: one reserve per
 * record, no length check per field (the render is about 10% of a record's cost
 * instead of half of it). */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)
#define PUT_U64(p, v) ((p) += u64_to_str((p), (v)))

/* The longest record: 20 numbers of 20 digits, two addresses, an escaped comm, keys. */
#define JSON_MAX 1024

void nt_render_json(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		    const struct nt_conn_row *row)
{
	const char *dir = nt_direction_name(row->direction), *st = nt_tcp_state_name(row->state);
	char *p;

	if (nt_buf_reserve(b, JSON_MAX))
		return;
	p = b->data + b->len;
	PUT_LIT(p, "{\"type\":\"");
	p = stpcpy(p, type);
	PUT_LIT(p, "\",\"ts_ns\":");
	PUT_U64(p, ts_unix_ns);
	PUT_LIT(p, ",\"id\":");
	PUT_U64(p, row->id);
	PUT_LIT(p, ",\"family\":");
	PUT_U64(p, row->family);
	PUT_LIT(p, ",\"saddr\":\"");
	p += nt_format_addr(p, row->family, row->saddr);
	PUT_LIT(p, "\",\"sport\":");
	PUT_U64(p, row->sport);
	PUT_LIT(p, ",\"daddr\":\"");
	p += nt_format_addr(p, row->family, row->daddr);
	PUT_LIT(p, "\",\"dport\":");
	PUT_U64(p, row->dport);
	PUT_LIT(p, ",\"pid\":");
	PUT_U64(p, row->pid);
	PUT_LIT(p, ",\"comm\":");
	p = json_str_raw(p, row->comm, NT_COMM_LEN);
	PUT_LIT(p, ",\"netns\":");
	PUT_U64(p, row->netns);
	PUT_LIT(p, ",\"direction\":\"");
	p = stpcpy(p, dir);
	PUT_LIT(p, "\",\"state\":\"");
	p = stpcpy(p, st);
	*p++ = '"';
	if (row->existing)
		PUT_LIT(p, ",\"existing\":true");
	PUT_LIT(p, ",\"bytes_sent\":");
	PUT_U64(p, row->m.bytes_sent);
	PUT_LIT(p, ",\"bytes_received\":");
	PUT_U64(p, row->m.bytes_received);
	PUT_LIT(p, ",\"packets_sent\":");
	PUT_U64(p, row->m.packets_sent);
	PUT_LIT(p, ",\"packets_received\":");
	PUT_U64(p, row->m.packets_received);
	PUT_LIT(p, ",\"retransmits\":");
	PUT_U64(p, row->m.retransmits);
	PUT_LIT(p, ",\"rtt_us\":");
	PUT_U64(p, row->m.rtt_us);
	PUT_LIT(p, ",\"rtt_var_us\":");
	PUT_U64(p, row->m.rtt_var_us);
	PUT_LIT(p, "}\n");
	b->len = (size_t)(p - b->data);
}

/* ---- log lines ------------------------------------------------------------------------------ */

void nt_render_log(struct nt_buf *b, const char *type, uint64_t ts_unix_ns,
		   const struct nt_conn_row *row)
{
	char *p;

	if (nt_buf_reserve(b, JSON_MAX))
		return;
	p = b->data + b->len;
	p += nt_format_time(p, 40, ts_unix_ns);
	*p++ = ' ';
	p = stpcpy(p, type);
	PUT_LIT(p, " id=");
	PUT_U64(p, row->id);
	PUT_LIT(p, " pid=");
	PUT_U64(p, row->pid);
	PUT_LIT(p, " comm=");
	nt_comm_token(p, row->comm);
	p += strlen(p);
	PUT_LIT(p, " netns=");
	PUT_U64(p, row->netns);
	PUT_LIT(p, " dir=");
	p = stpcpy(p, nt_direction_name(row->direction));
	*p++ = ' ';
	p += nt_format_endpoint(p, row->family, row->saddr, row->sport);
	PUT_LIT(p, " -> ");
	p += nt_format_endpoint(p, row->family, row->daddr, row->dport);
	PUT_LIT(p, " state=");
	p = stpcpy(p, nt_tcp_state_name(row->state));
	if (row->existing)
		PUT_LIT(p, " existing=1");
	PUT_LIT(p, " bytes_sent=");
	PUT_U64(p, row->m.bytes_sent);
	PUT_LIT(p, " bytes_received=");
	PUT_U64(p, row->m.bytes_received);
	PUT_LIT(p, " packets_sent=");
	PUT_U64(p, row->m.packets_sent);
	PUT_LIT(p, " packets_received=");
	PUT_U64(p, row->m.packets_received);
	PUT_LIT(p, " retransmits=");
	PUT_U64(p, row->m.retransmits);
	PUT_LIT(p, " rtt_us=");
	PUT_U64(p, row->m.rtt_us);
	PUT_LIT(p, " rtt_var_us=");
	PUT_U64(p, row->m.rtt_var_us);
	*p++ = '\n';
	b->len = (size_t)(p - b->data);
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
