// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The renderers of src/user/format.c with arbitrary rows. The first input byte picks:
 *   bit 0 clear: rows: up to MAX_ROWS connection rows, every byte of each (comm
 *     included, 17 bytes, not necessarily NUL-terminated) from the input, the family
 *     mostly 4 or 6, the metrics sometimes through nt_metrics_from_record(); each row
 *     rendered as a JSON line, a log line and a table row, appended to one buffer per
 *     form. Then every line is read back:
 *       JSON: one object per line, parsed by a small strict RFC 8259 parser, ASCII
 *         only, the keys in order, every value equal to the row's (addresses through
 *         inet_pton(), comm decoded from its escapes);
 *       log: one line of single-space-separated printable tokens, each value equal to
 *         the row's (the time through timegm(), endpoints through inet_pton());
 *       table: fourteen printable cells, the values the row's, aligned with the header
 *         when every cell fits its column.
 *   bit 0 set: strings: nt_buf_put_json_str() of the rest of the input with a fuzzed
 *     maxlen (a valid JSON string holding exactly the first bytes), nt_comm_token(),
 *     and nt_format_time() into a buffer of fuzzed size.
 * Any write past a buffer is ASan's to report.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "fuzz_util.h"

#define MAX_ROWS 16

/* ---- a small strict JSON reader: one object of scalar members ---------------------------- */

struct member {
	char key[32];
	int kind;		/* 's' string, 'n' number, 't' true, 'f' false, '0' null */
	char str[128];		/* decoded string bytes (\u00XX only: all this output uses) */
	size_t str_len;
	uint64_t num;
	bool num_exact;		/* an unsigned integer that fits 64 bits */
};

struct jreader {
	const char *p, *end;
};

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string at j->p: 0 and its bytes (a \u escape above 0xff fails: never written). */
static int j_string(struct jreader *j, char *out, size_t cap, size_t *len)
{
	size_t n = 0;

	if (j->p >= j->end || *j->p++ != '"')
		return -1;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		int v = 0;

		if (c < 0x20 || c >= 0x7f)
			return -1;	/* raw control byte, or not ASCII */
		if (c == '\\') {
			if (j->p >= j->end)
				return -1;
			c = (unsigned char)*j->p++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (j->end - j->p < 4)
					return -1;
				for (int i = 0; i < 4; i++) {
					int h = hexdig(j->p[i]);

					if (h < 0)
						return -1;
					v = v << 4 | h;
				}
				j->p += 4;
				if (v > 0xff)
					return -1;
				c = (unsigned char)v;
				break;
			default:
				return -1;
			}
		}
		if (n >= cap)
			return -1;
		out[n++] = (char)c;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	*len = n;
	return 0;
}

static int j_number(struct jreader *j, struct member *m)
{
	const char *s = j->p;
	uint64_t v = 0;
	bool exact = true;

	if (j->p < j->end && *j->p == '-') {
		j->p++;
		exact = false;
	}
	if (j->p >= j->end || !isdigit((unsigned char)*j->p))
		return -1;
	if (*j->p == '0' && j->p + 1 < j->end && isdigit((unsigned char)j->p[1]))
		return -1;	/* leading zero */
	for (; j->p < j->end && isdigit((unsigned char)*j->p); j->p++) {
		unsigned d = (unsigned)(*j->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			exact = false;
		v = v * 10 + d;
	}
	if (j->p < j->end && *j->p == '.') {
		exact = false;
		if (++j->p >= j->end || !isdigit((unsigned char)*j->p))
			return -1;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		exact = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return -1;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	m->kind = 'n';
	m->num = v;
	m->num_exact = exact && j->p > s;
	return 0;
}

static int j_literal(struct jreader *j, const char *lit, int kind, struct member *m)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return -1;
	j->p += n;
	m->kind = kind;
	return 0;
}

/* The line [p, end) as {"k":v,...}: its members, or -1 when it is not valid JSON. */
static int j_object(const char *p, const char *end, struct member *ms, int max)
{
	struct jreader j = { p, end };
	int n = 0;

	if (j.p >= j.end || *j.p++ != '{')
		return -1;
	if (j.p < j.end && *j.p == '}')
		return ++j.p == j.end ? 0 : -1;
	for (;;) {
		struct member *m;
		size_t klen;

		if (n == max)
			return -1;
		m = &ms[n++];
		memset(m, 0, sizeof(*m));
		if (j_string(&j, m->key, sizeof(m->key) - 1, &klen))
			return -1;
		m->key[klen] = '\0';
		if (memchr(m->key, 0, klen))
			return -1;
		if (j.p >= j.end || *j.p++ != ':')
			return -1;
		if (j.p >= j.end)
			return -1;
		switch (*j.p) {
		case '"':
			m->kind = 's';
			if (j_string(&j, m->str, sizeof(m->str), &m->str_len))
				return -1;
			break;
		case 't':
			if (j_literal(&j, "true", 't', m))
				return -1;
			break;
		case 'f':
			if (j_literal(&j, "false", 'f', m))
				return -1;
			break;
		case 'n':
			if (j_literal(&j, "null", '0', m))
				return -1;
			break;
		default:
			if (j_number(&j, m))
				return -1;
		}
		if (j.p >= j.end)
			return -1;
		if (*j.p == '}')
			return ++j.p == j.end ? n : -1;
		if (*j.p++ != ',')
			return -1;
	}
}

/* ---- what the row should read as ------------------------------------------------------------ */

struct rendered {
	const char *type;
	uint64_t ts;
	struct nt_conn_row row;
};

static size_t comm_len(const struct nt_conn_row *r)
{
	return strnlen(r->comm, NT_COMM_LEN);
}

static void expect_comm_token(const struct nt_conn_row *r, char *dst)
{
	size_t n = comm_len(r);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->comm[i];

		dst[i] = c <= ' ' || c >= 0x7f ? '?' : (char)c;
	}
	if (!n)
		dst[n++] = '-';
	dst[n] = '\0';
}

static const char *expect_dir(uint8_t d)
{
	return d == NT_DIR_OUT ? "out" : d == NT_DIR_IN ? "in" : "unknown";
}

static bool addr_is(const char *text, uint8_t family, const uint8_t addr[16])
{
	uint8_t got[16];

	if (family == 4)
		return inet_pton(AF_INET, text, got) == 1 && !memcmp(got, addr, 4);
	/* every other family is shown as IPv6 */
	return inet_pton(AF_INET6, text, got) == 1 && !memcmp(got, addr, 16);
}

static bool state_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(isupper((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (!isdigit((unsigned char)*s) || n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

/* "1.2.3.4:80", "[::1]:80", or for another family "::1:80" (IPv6 text, no brackets) */
static bool endpoint_is(const char *text, uint8_t family, const uint8_t addr[16], uint16_t port)
{
	char a[NT_ENDPOINT_STRLEN + 8];
	const char *colon = strrchr(text, ':');
	size_t n;
	uint64_t p;

	if (!colon || !parse_u64(colon + 1, &p) || p != port)
		return false;
	n = (size_t)(colon - text);
	if (family == 6) {
		if (n < 2 || text[0] != '[' || text[n - 1] != ']')
			return false;
		text++;
		n -= 2;
	}
	if (n >= sizeof(a))
		return false;
	memcpy(a, text, n);
	a[n] = '\0';
	return addr_is(a, family, addr);
}

/* ---- the three forms ------------------------------------------------------------------------ */

static void check_json(const char *line, size_t len, const struct rendered *e)
{
	static const char *const keys[] = {
		"type", "ts_ns", "id", "family", "saddr", "sport", "daddr", "dport", "pid", "comm",
		"netns", "direction", "state", "existing", "bytes_sent", "bytes_received",
		"packets_sent", "packets_received", "retransmits", "rtt_us", "rtt_var_us",
	};
	const struct nt_conn_row *r = &e->row;
	const uint64_t nums[] = {
		[1] = e->ts, [2] = r->id, [3] = r->family, [5] = r->sport, [7] = r->dport,
		[8] = r->pid, [10] = r->netns, [14] = r->m.bytes_sent, [15] = r->m.bytes_received,
		[16] = r->m.packets_sent, [17] = r->m.packets_received, [18] = r->m.retransmits,
		[19] = r->m.rtt_us, [20] = r->m.rtt_var_us,
	};
	struct member ms[32];
	int n = j_object(line, line + len, ms, 32), k = 0;

	FUZZ_CHECK(n > 0, "JSON line is not one valid object: %.*s", (int)len, line);
	for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++) {
		struct member *m = &ms[k];

		if (i == 13 && !r->existing)
			continue;	/* "existing" only when true */
		FUZZ_CHECK(k < n && !strcmp(m->key, keys[i]), "JSON: key %d is not \"%s\": %.*s", k,
			   keys[i], (int)len, line);
		k++;
		switch (i) {
		case 0:
			FUZZ_CHECK(m->kind == 's' && m->str_len == strlen(e->type) &&
					   !memcmp(m->str, e->type, m->str_len),
				   "JSON: type");
			break;
		case 4:
		case 6:
			FUZZ_CHECK(m->kind == 's' && m->str_len < sizeof(m->str), "JSON: address");
			m->str[m->str_len] = '\0';
			FUZZ_CHECK(addr_is(m->str, r->family, i == 4 ? r->saddr : r->daddr),
				   "JSON: address '%s' of family %u", m->str, r->family);
			break;
		case 9:
			FUZZ_CHECK(m->kind == 's' && m->str_len == comm_len(r) &&
					   !memcmp(m->str, r->comm, m->str_len),
				   "JSON: comm is not the row's bytes: %.*s", (int)len, line);
			break;
		case 11: {
			const char *dir = expect_dir(r->direction);

			FUZZ_CHECK(m->kind == 's' && m->str_len == strlen(dir) &&
					   !memcmp(m->str, dir, m->str_len),
				   "JSON: direction");
			break;
		}
		case 12:
			FUZZ_CHECK(m->kind == 's' && m->str_len < sizeof(m->str), "JSON: state");
			m->str[m->str_len] = '\0';
			FUZZ_CHECK(state_name_ok(m->str), "JSON: state '%s'", m->str);
			break;
		case 13:
			FUZZ_CHECK(m->kind == 't', "JSON: existing is not true");
			break;
		default:
			FUZZ_CHECK(m->kind == 'n' && m->num_exact && m->num == nums[i],
				   "JSON: %s is not %llu: %.*s", keys[i],
				   (unsigned long long)nums[i], (int)len, line);
		}
	}
	FUZZ_CHECK(k == n, "JSON: %d members, %d expected", n, k);
}

/* The line cut at single spaces; false if a token is empty or holds a non-printable byte. */
static bool split_tokens(char *line, char **tok, int max, int *n)
{
	char *p = line;

	*n = 0;
	for (;;) {
		char *sp = strchr(p, ' ');

		if (*n == max)
			return false;
		tok[(*n)++] = p;
		if (sp)
			*sp = '\0';
		if (!*p)
			return false;
		for (char *q = p; *q; q++)
			if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
				return false;
		if (!sp)
			return true;
		p = sp + 1;
	}
}

static void check_kv(const char *tok, const char *key, uint64_t v)
{
	size_t kl = strlen(key);
	uint64_t got;

	FUZZ_CHECK(!strncmp(tok, key, kl) && tok[kl] == '=' && parse_u64(tok + kl + 1, &got) &&
			   got == v,
		   "log: '%s' is not %s=%llu", tok, key, (unsigned long long)v);
}

static void check_log(char *line, const struct rendered *e)
{
	const struct nt_conn_row *r = &e->row;
	char *tok[32], comm[NT_COMM_LEN + 2], expect[64];
	int n, t = 0, y, mo, d, h, mi, s, us, used = 0;
	struct tm tm = { 0 };

	FUZZ_CHECK(split_tokens(line, tok, 32, &n), "log: not single-spaced printable tokens");
	FUZZ_CHECK(n == (r->existing ? 19 : 18), "log: %d tokens", n);
	FUZZ_CHECK(sscanf(tok[t], "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &y, &mo, &d, &h, &mi, &s, &us,
			  &used) == 7 &&
			   used == 27 && !tok[t][used],
		   "log: time '%s'", tok[t]);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	FUZZ_CHECK((uint64_t)timegm(&tm) == e->ts / 1000000000ULL &&
			   (uint64_t)us == e->ts % 1000000000ULL / 1000,
		   "log: time '%s' is not %llu ns", tok[t], (unsigned long long)e->ts);
	t++;
	FUZZ_CHECK(!strcmp(tok[t++], e->type), "log: type");
	check_kv(tok[t++], "id", r->id);
	check_kv(tok[t++], "pid", r->pid);
	expect_comm_token(r, comm);
	snprintf(expect, sizeof(expect), "comm=%s", comm);
	FUZZ_CHECK(!strcmp(tok[t++], expect), "log: '%s' is not '%s'", tok[t - 1], expect);
	check_kv(tok[t++], "netns", r->netns);
	snprintf(expect, sizeof(expect), "dir=%s", expect_dir(r->direction));
	FUZZ_CHECK(!strcmp(tok[t++], expect), "log: direction");
	FUZZ_CHECK(endpoint_is(tok[t++], r->family, r->saddr, r->sport), "log: local endpoint '%s'",
		   tok[t - 1]);
	FUZZ_CHECK(!strcmp(tok[t++], "->"), "log: no arrow");
	FUZZ_CHECK(endpoint_is(tok[t++], r->family, r->daddr, r->dport),
		   "log: remote endpoint '%s'", tok[t - 1]);
	FUZZ_CHECK(!strncmp(tok[t], "state=", 6) && state_name_ok(tok[t] + 6), "log: state");
	t++;
	if (r->existing)
		FUZZ_CHECK(!strcmp(tok[t++], "existing=1"), "log: existing");
	check_kv(tok[t++], "bytes_sent", r->m.bytes_sent);
	check_kv(tok[t++], "bytes_received", r->m.bytes_received);
	check_kv(tok[t++], "packets_sent", r->m.packets_sent);
	check_kv(tok[t++], "packets_received", r->m.packets_received);
	check_kv(tok[t++], "retransmits", r->m.retransmits);
	check_kv(tok[t++], "rtt_us", r->m.rtt_us);
	check_kv(tok[t++], "rtt_var_us", r->m.rtt_var_us);
}

static void check_table(char *line, size_t len, size_t header_len, const struct rendered *e)
{
	static const int widths[] = { 7, 15, 10, 3, 21, 21, 11, 12, 12, 9, 9, 7, 8, 9 };
	const struct nt_conn_row *r = &e->row;
	const uint64_t nums[] = { [2] = r->netns, [7] = r->m.bytes_sent,
				  [8] = r->m.bytes_received, [9] = r->m.packets_sent,
				  [10] = r->m.packets_received, [11] = r->m.retransmits,
				  [12] = r->m.rtt_us, [13] = r->m.rtt_var_us };
	char *tok[16], comm[NT_COMM_LEN + 2];
	bool fits = true;
	int n = 0;
	uint64_t v;

	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)line[i] >= ' ' && (unsigned char)line[i] < 0x7f,
			   "table: byte %#x in a row", (unsigned char)line[i]);
	for (char *p = strtok(line, " "); p; p = strtok(NULL, " ")) {
		FUZZ_CHECK(n < 14, "table: more than 14 cells");
		tok[n++] = p;
	}
	FUZZ_CHECK(n == 14, "table: %d cells", n);
	for (int i = 0; i < 14; i++)
		if ((int)strlen(tok[i]) > widths[i])
			fits = false;
	/* right-aligned last column: a row of cells that fit is as long as the header */
	FUZZ_CHECK(!fits || len == header_len, "table: a row of %zu bytes, header %zu", len,
		   header_len);
	if (r->pid)
		FUZZ_CHECK(parse_u64(tok[0], &v) && v == r->pid, "table: pid");
	else
		FUZZ_CHECK(!strcmp(tok[0], "-"), "table: no pid");
	expect_comm_token(r, comm);
	FUZZ_CHECK(!strcmp(tok[1], comm), "table: comm '%s', not '%s'", tok[1], comm);
	FUZZ_CHECK(!strcmp(tok[3], expect_dir(r->direction)), "table: direction");
	FUZZ_CHECK(endpoint_is(tok[4], r->family, r->saddr, r->sport), "table: local '%s'", tok[4]);
	FUZZ_CHECK(endpoint_is(tok[5], r->family, r->daddr, r->dport), "table: remote '%s'",
		   tok[5]);
	FUZZ_CHECK(state_name_ok(tok[6]), "table: state");
	for (int i = 2; i < 14; i++) {
		if (i >= 3 && i <= 6)
			continue;
		FUZZ_CHECK(parse_u64(tok[i], &v) && v == nums[i], "table: cell %d '%s' is not %llu",
			   i, tok[i], (unsigned long long)nums[i]);
	}
}

/* Each buffer: exactly n lines, each given to check(i, line, len) without its '\n'. */
static void for_lines(struct nt_buf *b, int n, int skip,
		      void (*check)(int i, char *line, size_t len, void *ctx), void *ctx)
{
	size_t pos = 0;
	int i = 0;

	FUZZ_CHECK(b->len && b->data[b->len - 1] == '\n', "output does not end with a newline");
	while (pos < b->len) {
		char *nl = memchr(b->data + pos, '\n', b->len - pos);
		size_t len = (size_t)(nl - (b->data + pos));

		FUZZ_CHECK(!memchr(b->data + pos, '\0', len), "NUL byte in a line");
		*nl = '\0';
		if (i >= skip)
			check(i - skip, b->data + pos, len, ctx);
		i++;
		pos += len + 1;
	}
	FUZZ_CHECK(i == n + skip, "%d lines for %d records", i - skip, n);
}

struct ctx {
	const struct rendered *rows;
	size_t header_len;
};

static void json_line(int i, char *line, size_t len, void *c)
{
	check_json(line, len, &((struct ctx *)c)->rows[i]);
}

static void log_line(int i, char *line, size_t len, void *c)
{
	(void)len;
	check_log(line, &((struct ctx *)c)->rows[i]);
}

static void table_line(int i, char *line, size_t len, void *c)
{
	check_table(line, len, ((struct ctx *)c)->header_len, &((struct ctx *)c)->rows[i]);
}

static void rows(struct fuzz_in *in)
{
	struct rendered rs[MAX_ROWS];
	struct nt_buf json = { 0 }, log = { 0 }, table = { 0 };
	struct ctx c = { rs, 0 };
	int n = 0;

	nt_render_table_header(&table);
	c.header_len = table.len - 1;
	while (in->n && n < MAX_ROWS) {
		struct rendered *e = &rs[n++];
		uint8_t sel = fuzz_u8(in);

		fuzz_bytes(in, &e->row, sizeof(e->row));	/* every byte, padding included */
		e->type = nt_record_type_name(fuzz_u8(in));
		e->ts = fuzz_u64(in);
		switch (sel & 3) {
		case 0:
			e->row.family = 4;
			break;
		case 1:
		case 2:
			e->row.family = 6;
			break;
		}
		if (sel & 4) {	/* metrics the way the session computes them */
			struct nt_record rec;
			struct nt_metrics *m = &e->row.m;

			fuzz_bytes(in, &rec, sizeof(rec));
			nt_metrics_from_record(&rec, e->row.direction, m);
			FUZZ_CHECK(m->bytes_sent <= rec.bytes_acked &&
					   rec.bytes_acked - m->bytes_sent <= 2 &&
					   m->bytes_received <= rec.bytes_received &&
					   rec.bytes_received - m->bytes_received <= 1 &&
					   m->packets_sent == rec.segs_out &&
					   m->packets_received == rec.segs_in &&
					   m->retransmits == rec.total_retrans &&
					   m->rtt_us == rec.srtt_us >> 3 &&
					   m->rtt_var_us == rec.mdev_us >> 2,
				   "nt_metrics_from_record");
		}
		nt_render_json(&json, e->type, e->ts, &e->row);
		nt_render_log(&log, e->type, e->ts, &e->row);
		nt_render_table_row(&table, &e->row);
	}
	if (n) {
		for_lines(&json, n, 0, json_line, &c);
		for_lines(&log, n, 0, log_line, &c);
		for_lines(&table, n, 1, table_line, &c);
	}
	nt_buf_free(&json);
	nt_buf_free(&log);
	nt_buf_free(&table);
}

static void strings(struct fuzz_in *in)
{
	uint8_t ml = fuzz_u8(in), tl = fuzz_u8(in);
	size_t maxlen = ml == 0xff ? (size_t)-1 : ml, want;
	uint64_t ts = fuzz_u64(in);
	struct nt_buf b = { 0 };
	struct member m;
	struct jreader j;
	char *s = fuzz_strndup(in->p, in->n), comm[NT_COMM_LEN + 1], tok[NT_COMM_LEN + 2];
	char *tbuf;
	size_t tlen = (size_t)(tl % 48) + 1, got;

	/* a JSON string holding exactly the first min(strlen, maxlen) bytes */
	nt_buf_put(&b, "x", 1);	/* not at the start of the buffer */
	nt_buf_put_json_str(&b, s, maxlen);
	want = strnlen(s, maxlen);
	j.p = b.data + 1;
	j.end = b.data + b.len;
	if (want <= sizeof(m.str)) {
		FUZZ_CHECK(!j_string(&j, m.str, sizeof(m.str), &m.str_len) && j.p == j.end,
			   "json_str: not one valid JSON string");
		FUZZ_CHECK(m.str_len == want && !memcmp(m.str, s, want),
			   "json_str: does not decode to the input");
	}
	FUZZ_CHECK(b.len - 1 >= want + 2 && b.len - 1 <= 6 * want + 2,
		   "json_str: %zu bytes for %zu", b.len - 1, want);
	nt_buf_free(&b);

	/* comm: 16 bytes, not necessarily NUL-terminated; the token is one printable word */
	memset(comm, 0, sizeof(comm));
	memcpy(comm, s, in->n < NT_COMM_LEN ? in->n : NT_COMM_LEN);
	{
		char *exact = malloc(NT_COMM_LEN);	/* ASan: no byte past the 16 is read */

		memcpy(exact, comm, NT_COMM_LEN);
		nt_comm_token(tok, exact);
		free(exact);
	}
	FUZZ_CHECK(*tok && strlen(tok) <= NT_COMM_LEN, "comm token '%s'", tok);
	for (char *p = tok; *p; p++)
		FUZZ_CHECK((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f, "comm token byte");

	/* the time: always terminated, the length returned is the length written */
	tbuf = malloc(tlen);
	got = nt_format_time(tbuf, tlen, ts);
	FUZZ_CHECK(got < tlen && strlen(tbuf) == got, "format_time: %zu for a buffer of %zu", got,
		   tlen);
	free(tbuf);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	if (fuzz_u8(&in) & 1)
		strings(&in);
	else
		rows(&in);
	return 0;
}
