// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Unit tests of src/user/format.c: the metrics arithmetic of nt_record.h, address and time
 * formatting, JSON string escaping, and the three renderings (JSON line, log line, table).
 * JSON lines are parsed back with a small strict parser of our own.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The buffer's contents as a C string (the NUL is not counted in b->len). */
static const char *cstr(struct nt_buf *b)
{
	nt_buf_putc(b, '\0');
	b->len--;
	return b->data;
}

/* ---- a small strict JSON parser -------------------------------------------------------------- */

struct jfield {
	char key[32];
	char kind;		/* 's'tring 'n'umber 't'rue 'f'alse 'z' null 'o'bject 'a'rray */
	char val[256];		/* decoded string (\u00XX -> that byte) or the number's text */
	size_t val_len;
};

struct jobj {
	struct jfield f[48];
	int n;
};

struct jp {
	const char *s;
	size_t n;
	size_t i;
	const char *err;
};

static bool jp_fail(struct jp *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return false;
}

static int jp_peek(const struct jp *p)
{
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static void jp_ws(struct jp *p)
{
	while (jp_peek(p) == ' ' || jp_peek(p) == '\t' || jp_peek(p) == '\r' || jp_peek(p) == '\n')
		p->i++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* out may be NULL; decoded \uXXXX above 0xff become '?' */
static bool jp_string(struct jp *p, char *out, size_t cap, size_t *out_len)
{
	size_t k = 0;

	if (jp_peek(p) != '"')
		return jp_fail(p, "expected a string");
	p->i++;
	for (;;) {
		int c = jp_peek(p);

		if (c < 0)
			return jp_fail(p, "unterminated string");
		p->i++;
		if (c == '"')
			break;
		if (c < 0x20)
			return jp_fail(p, "raw control character in a string");
		if (c == '\\') {
			int e = jp_peek(p);

			p->i++;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				c = e;
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
				c = 0;
				for (int d = 0; d < 4; d++) {
					int h = hexval(jp_peek(p));

					if (h < 0)
						return jp_fail(p, "bad \\u escape");
					c = c * 16 + h;
					p->i++;
				}
				if (c > 0xff)
					c = '?';
				break;
			default:
				return jp_fail(p, "bad escape");
			}
		}
		if (out && k + 1 < cap)
			out[k++] = (char)c;
	}
	if (out)
		out[k] = '\0';
	if (out_len)
		*out_len = k;
	return true;
}

static bool jp_number(struct jp *p)
{
	size_t start = p->i;

	if (jp_peek(p) == '-')
		p->i++;
	if (jp_peek(p) == '0') {
		p->i++;
	} else if (jp_peek(p) >= '1' && jp_peek(p) <= '9') {
		while (isdigit(jp_peek(p)))
			p->i++;
	} else {
		return jp_fail(p, "bad number");
	}
	if (jp_peek(p) == '.') {
		p->i++;
		if (!isdigit(jp_peek(p)))
			return jp_fail(p, "bad fraction");
		while (isdigit(jp_peek(p)))
			p->i++;
	}
	if (jp_peek(p) == 'e' || jp_peek(p) == 'E') {
		p->i++;
		if (jp_peek(p) == '+' || jp_peek(p) == '-')
			p->i++;
		if (!isdigit(jp_peek(p)))
			return jp_fail(p, "bad exponent");
		while (isdigit(jp_peek(p)))
			p->i++;
	}
	return p->i > start;
}

static bool jp_literal(struct jp *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->n - p->i < n || memcmp(p->s + p->i, lit, n))
		return jp_fail(p, "bad literal");
	p->i += n;
	return true;
}

static bool jp_value(struct jp *p, struct jfield *f, int depth);

static bool jp_container(struct jp *p, struct jobj *obj, int depth)
{
	bool is_obj = jp_peek(p) == '{';
	int close = is_obj ? '}' : ']';

	if (depth > 16)
		return jp_fail(p, "nested too deep");
	p->i++;
	jp_ws(p);
	if (jp_peek(p) == close) {
		p->i++;
		return true;
	}
	for (;;) {
		struct jfield tmp, *f = &tmp;

		jp_ws(p);
		if (is_obj) {
			if (obj && obj->n < (int)ARRAY_SIZE(obj->f))
				f = &obj->f[obj->n++];
			memset(f, 0, sizeof(*f));
			if (!jp_string(p, f->key, sizeof(f->key), NULL))
				return false;
			jp_ws(p);
			if (jp_peek(p) != ':')
				return jp_fail(p, "expected ':'");
			p->i++;
			jp_ws(p);
		}
		if (!jp_value(p, f, depth + 1))
			return false;
		jp_ws(p);
		if (jp_peek(p) == ',') {
			p->i++;
			continue;
		}
		if (jp_peek(p) == close) {
			p->i++;
			return true;
		}
		return jp_fail(p, "expected ',' or the end of the container");
	}
}

static bool jp_value(struct jp *p, struct jfield *f, int depth)
{
	size_t start = p->i;
	int c = jp_peek(p);

	switch (c) {
	case '{':
	case '[':
		f->kind = c == '{' ? 'o' : 'a';
		return jp_container(p, NULL, depth);
	case '"':
		f->kind = 's';
		return jp_string(p, f->val, sizeof(f->val), &f->val_len);
	case 't':
		f->kind = 't';
		return jp_literal(p, "true");
	case 'f':
		f->kind = 'f';
		return jp_literal(p, "false");
	case 'n':
		f->kind = 'z';
		return jp_literal(p, "null");
	default:
		f->kind = 'n';
		if (!jp_number(p))
			return false;
		f->val_len = p->i - start < sizeof(f->val) - 1 ? p->i - start : sizeof(f->val) - 1;
		memcpy(f->val, p->s + start, f->val_len);
		f->val[f->val_len] = '\0';
		return true;
	}
}

/*
 * One JSON object on one line: "{...}\n", printable ASCII only, nothing after. The top-level
 * fields land in obj. On failure *why says what is wrong.
 */
static bool json_line(const char *s, size_t n, struct jobj *obj, const char **why)
{
	struct jp p = { .s = s, .n = n };

	memset(obj, 0, sizeof(*obj));
	*why = NULL;
	if (n < 3 || s[n - 1] != '\n') {
		*why = "not a line ending in a newline";
		return false;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
			*why = "a byte outside printable ASCII (or a second line)";
			return false;
		}
	}
	p.n = n - 1;
	if (jp_peek(&p) != '{') {
		*why = "not an object";
		return false;
	}
	if (!jp_container(&p, obj, 0) || p.i != p.n) {
		*why = p.err ? p.err : "trailing characters";
		return false;
	}
	return true;
}

static const struct jfield *jget(const struct jobj *o, const char *key)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->f[i].key, key))
			return &o->f[i];
	return NULL;
}

static bool jis_num(const struct jobj *o, const char *key, uint64_t want)
{
	const struct jfield *f = jget(o, key);
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, want);
	if (!f || f->kind != 'n' || strcmp(f->val, buf)) {
		tap_diag("  \"%s\": want number %s, got %s", key, buf, f ? f->val : "(absent)");
		return false;
	}
	return true;
}

static bool jis_str(const struct jobj *o, const char *key, const char *want, size_t want_len)
{
	const struct jfield *f = jget(o, key);

	if (!f || f->kind != 's' || f->val_len != want_len || memcmp(f->val, want, want_len)) {
		tap_diag("  \"%s\": want string of %zu bytes", key, want_len);
		if (f)
			tap_diag_str("got ", f->val, f->val_len);
		tap_diag_str("want", want, want_len);
		return false;
	}
	return true;
}

/* ---- fixtures -------------------------------------------------------------------------------- */

#define TS 1700000000123456789ULL	/* 2023-11-14T22:13:20.123456789Z */

static const uint8_t v6_loop[16] = { [15] = 1 };
static const uint8_t v6_ll[16] = { 0xfe, 0x80, [15] = 1 };
static const uint8_t v6_full[16] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static void row_v4(struct nt_conn_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = 42;
	r->sk = 0xffff888012345678ULL;
	r->family = 4;
	memcpy(r->saddr, (const uint8_t[]){ 10, 1, 0, 2 }, 4);
	memcpy(r->daddr, (const uint8_t[]){ 93, 184, 216, 34 }, 4);
	r->sport = 51000;
	r->dport = 443;
	r->netns = 4026531840u;
	r->pid = 1234;
	r->direction = NT_DIR_OUT;
	r->state = 1;
	strcpy(r->comm, "curl");
	r->m = (struct nt_metrics){ .bytes_sent = 100, .bytes_received = 2000, .packets_sent = 10,
				    .packets_received = 12, .retransmits = 1, .rtt_us = 250,
				    .rtt_var_us = 50 };
}

static void row_v6(struct nt_conn_row *r)
{
	row_v4(r);
	r->family = 6;
	memcpy(r->saddr, v6_loop, 16);
	memcpy(r->daddr, v6_ll, 16);
	r->sport = 8080;
	r->dport = 36000;
	r->direction = NT_DIR_IN;
	r->state = 8;
	strcpy(r->comm, "nginx");
}

/* ---- metrics --------------------------------------------------------------------------------- */

static void metrics_case(const char *what, uint8_t direction, uint32_t flags, uint64_t acked,
			 uint64_t received, uint64_t want_sent, uint64_t want_received)
{
	struct nt_record r;
	struct nt_metrics m;

	memset(&r, 0, sizeof(r));
	memset(&m, 0xa5, sizeof(m));
	r.direction = direction;
	r.flags = flags;
	r.bytes_acked = acked;
	r.bytes_received = received;
	nt_metrics_from_record(&r, direction, &m);
	if (!tap_ok(m.bytes_sent == want_sent && m.bytes_received == want_received,
		    "metrics, %s: acked %" PRIu64 " received %" PRIu64 " -> sent %" PRIu64
		    " received %" PRIu64, what, acked, received, want_sent, want_received))
		tap_diag("  got sent %" PRIu64 " received %" PRIu64, m.bytes_sent,
			 m.bytes_received);
}

static void test_metrics(void)
{
	struct nt_record r;
	struct nt_metrics m;

	metrics_case("outgoing: the SYN is in bytes_acked", NT_DIR_OUT, 0, 1001, 500, 1000, 500);
	metrics_case("outgoing + FIN acked", NT_DIR_OUT, NT_F_FIN_ACKED, 1002, 500, 1000, 500);
	metrics_case("outgoing + FIN acked + FIN received", NT_DIR_OUT,
		     NT_F_FIN_ACKED | NT_F_FIN_RCVD, 1002, 501, 1000, 500);
	metrics_case("incoming: no SYN in bytes_acked", NT_DIR_IN, 0, 1000, 500, 1000, 500);
	metrics_case("incoming + FIN acked", NT_DIR_IN, NT_F_FIN_ACKED, 1001, 500, 1000, 500);
	metrics_case("incoming + FIN received", NT_DIR_IN, NT_F_FIN_RCVD, 1000, 501, 1000, 500);
	metrics_case("unknown direction: no SYN subtracted", NT_DIR_UNKNOWN, 0, 1000, 500, 1000,
		     500);
	metrics_case("NO_PID and V4MAPPED subtract nothing", NT_DIR_IN,
		     NT_F_NO_PID | NT_F_V4MAPPED, 1000, 500, 1000, 500);
	metrics_case("outgoing, only the SYN acked", NT_DIR_OUT, 0, 1, 0, 0, 0);
	metrics_case("outgoing, only SYN and FINs", NT_DIR_OUT, NT_F_FIN_ACKED | NT_F_FIN_RCVD,
		     2, 1, 0, 0);
	metrics_case("no underflow: outgoing with nothing acked", NT_DIR_OUT, 0, 0, 0, 0, 0);
	metrics_case("no underflow: outgoing + FIN flag, 1 acked", NT_DIR_OUT,
		     NT_F_FIN_ACKED | NT_F_FIN_RCVD, 1, 0, 0, 0);
	metrics_case("no underflow: incoming + FIN flags, nothing counted", NT_DIR_IN,
		     NT_F_FIN_ACKED | NT_F_FIN_RCVD, 0, 0, 0, 0);
	metrics_case("64-bit counters", NT_DIR_OUT, NT_F_FIN_ACKED | NT_F_FIN_RCVD, UINT64_MAX,
		     UINT64_MAX, UINT64_MAX - 2, UINT64_MAX - 1);

	/* the direction argument decides, not r->direction (a row knows better) */
	memset(&r, 0, sizeof(r));
	r.direction = NT_DIR_OUT;
	r.bytes_acked = 1000;
	nt_metrics_from_record(&r, NT_DIR_IN, &m);
	tap_is_u64(m.bytes_sent, 1000, "metrics: the direction argument, not r->direction, decides "
		   "about the SYN");

	memset(&r, 0, sizeof(r));
	r.segs_out = 111;
	r.segs_in = 222;
	r.total_retrans = 3;
	r.srtt_us = 1234 * 8 + 7;
	r.mdev_us = 567 * 4 + 3;
	nt_metrics_from_record(&r, NT_DIR_OUT, &m);
	tap_ok(m.packets_sent == 111 && m.packets_received == 222 && m.retransmits == 3,
	       "metrics: segs_out, segs_in, total_retrans copied to packets and retransmits");
	tap_ok(m.rtt_us == 1234 && m.rtt_var_us == 567,
	       "metrics: rtt = srtt_us >> 3, rttvar = mdev_us >> 2 (9879 -> 1234, 2271 -> 567)");
	r.srtt_us = UINT32_MAX;
	r.mdev_us = UINT32_MAX;
	r.segs_out = r.segs_in = r.total_retrans = UINT32_MAX;
	nt_metrics_from_record(&r, NT_DIR_OUT, &m);
	tap_ok(m.rtt_us == UINT32_MAX >> 3 && m.rtt_var_us == UINT32_MAX >> 2 &&
		       m.packets_sent == UINT32_MAX && m.packets_received == UINT32_MAX &&
		       m.retransmits == UINT32_MAX,
	       "metrics: 32-bit extremes (rtt 0x1fffffff, rttvar 0x3fffffff)");
}

/* ---- nt_buf ---------------------------------------------------------------------------------- */

static void test_buf(void)
{
	struct nt_buf b = { 0 };
	bool ok = true;

	nt_buf_put_u64(&b, 0);
	nt_buf_putc(&b, ' ');
	nt_buf_put_u64(&b, 7);
	nt_buf_putc(&b, ' ');
	nt_buf_put_u64(&b, 10);
	nt_buf_putc(&b, ' ');
	nt_buf_put_u64(&b, UINT64_MAX);
	tap_is_str(cstr(&b), "0 7 10 18446744073709551615", "nt_buf_put_u64: 0, 7, 10, 2^64-1");
	nt_buf_free(&b);
	tap_ok(!b.data && !b.len && !b.cap, "nt_buf_free leaves an empty buffer");

	for (int i = 0; i < 100000; i++)
		nt_buf_putc(&b, (char)('a' + i % 26));
	for (int i = 0; i < 100000 && ok; i++)
		ok = b.data[i] == (char)('a' + i % 26);
	tap_ok(ok && b.len == 100000 && b.cap >= b.len,
	       "nt_buf grows past its first allocation and keeps every byte (100000 putc)");
	nt_buf_free(&b);

	nt_buf_puts(&b, "abc");
	nt_buf_put(&b, "defgh", 2);
	nt_buf_put(&b, "", 0);
	tap_ok(b.len == 5 && !memcmp(b.data, "abcde", 5), "nt_buf_puts and nt_buf_put append");
	tap_ok(nt_buf_reserve(&b, 0) == 0 && nt_buf_reserve(&b, 10000) == 0 &&
		       b.cap >= b.len + 10000 && b.len == 5 && !memcmp(b.data, "abcde", 5),
	       "nt_buf_reserve makes room and keeps the contents");
	nt_buf_free(&b);
}

/* ---- JSON strings ---------------------------------------------------------------------------- */

static void json_str_case(const char *in, size_t maxlen, const char *want, const char *what)
{
	struct nt_buf b = { 0 };

	nt_buf_put_json_str(&b, in, maxlen);
	tap_is_str(cstr(&b), want, "nt_buf_put_json_str: %s", what);
	nt_buf_free(&b);
}

static void test_json_str(void)
{
	struct nt_buf b = { 0 };
	bool ok = true;

	json_str_case("abc", (size_t)-1, "\"abc\"", "plain ASCII");
	json_str_case("", (size_t)-1, "\"\"", "empty string");
	json_str_case("a\"b\\c", (size_t)-1, "\"a\\\"b\\\\c\"", "quote and backslash escaped");
	json_str_case("\n\t\r\x01\x1f", (size_t)-1, "\"\\u000a\\u0009\\u000d\\u0001\\u001f\"",
		      "control characters as \\u00XX");
	json_str_case("\x7f", (size_t)-1, "\"\\u007f\"", "DEL as \\u007f");
	json_str_case("\x80\xff", (size_t)-1, "\"\\u0080\\u00ff\"", "bytes 0x80, 0xff as \\u00XX");
	json_str_case("\xc3\xa9t\xc3\xa9", (size_t)-1, "\"\\u00c3\\u00a9t\\u00c3\\u00a9\"",
		      "UTF-8 bytes escaped one by one");
	json_str_case(" ~/'<>&", (size_t)-1, "\" ~/'<>&\"", "space, tilde, slash etc. kept");
	json_str_case("abcdef", 3, "\"abc\"", "maxlen cuts the string");
	json_str_case("abc", 0, "\"\"", "maxlen 0");
	json_str_case("ab\0cd", 5, "\"ab\"", "stops at NUL before maxlen");

	/* every single byte 0x01..0xff: valid JSON that decodes back to the byte */
	for (int c = 1; c < 256 && ok; c++) {
		char in[2] = { (char)c, 0 }, dec[8];
		struct jp p;
		size_t n = 0;

		b.len = 0;
		nt_buf_put_json_str(&b, in, 1);
		p = (struct jp){ .s = b.data, .n = b.len };
		ok = jp_string(&p, dec, sizeof(dec), &n) && p.i == p.n && n == 1 &&
		     dec[0] == (char)c;
		for (size_t i = 0; ok && i < b.len; i++)
			ok = (unsigned char)b.data[i] >= 0x20 && (unsigned char)b.data[i] < 0x7f;
		if (!ok)
			tap_diag("  byte 0x%02x", c);
	}
	tap_ok(ok, "nt_buf_put_json_str: every byte 0x01..0xff gives printable-ASCII JSON that "
		   "decodes back to it");
	nt_buf_free(&b);
}

/* ---- addresses and time ---------------------------------------------------------------------- */

static void addr_case(uint8_t family, const uint8_t *a, const char *want)
{
	char dst[NT_ADDR_STRLEN + 8];
	size_t n;

	memset(dst, 'X', sizeof(dst));
	n = nt_format_addr(dst, family, a);
	if (!tap_is_str(dst, want, "nt_format_addr: IPv%u %s", family, want))
		return;
	tap_is_u64(n, strlen(want), "nt_format_addr: returns the length of %s", want);
}

static void endpoint_case(uint8_t family, const uint8_t *a, uint16_t port, const char *want)
{
	char dst[NT_ENDPOINT_STRLEN + 8];
	size_t n;

	memset(dst, 'X', sizeof(dst));
	n = nt_format_endpoint(dst, family, a, port);
	if (!tap_ok(!strcmp(dst, want) && n == strlen(want),
		    "nt_format_endpoint: %s (and its length)", want)) {
		tap_diag_str("got ", dst, strnlen(dst, sizeof(dst)));
		tap_diag("  returned %zu", n);
	}
}

static void test_addr(void)
{
	static const uint8_t v4_a[16] = { 10, 1, 0, 2 };
	static const uint8_t v4_zero[16] = { 0 };
	static const uint8_t v4_bcast[16] = { 255, 255, 255, 255 };
	static const uint8_t v4_junk[16] = { 1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef, 9, 9, 9, 9 };
	static const uint8_t v6_doc[16] = { 0x20, 0x01, 0x0d, 0xb8, [10] = 0xff, 0x00,
					     0x00, 0x42, 0x83, 0x29 };
	static const uint8_t v6_two_runs[16] = { 0x20, 0x01, 0x0d, 0xb8, [9] = 1, [15] = 1 };
	static const uint8_t v6_one_zero[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1,
						 0, 1,	  0,	0,    0, 1 };
	static const uint8_t v6_mapped[16] = { [10] = 0xff, 0xff, 10, 0, 0, 1 };
	static const uint8_t v6_lead[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd };

	addr_case(4, v4_a, "10.1.0.2");
	addr_case(4, v4_zero, "0.0.0.0");
	addr_case(4, v4_bcast, "255.255.255.255");
	addr_case(4, v4_junk, "1.2.3.4");
	addr_case(6, v4_zero, "::");
	addr_case(6, v6_loop, "::1");
	addr_case(6, v6_ll, "fe80::1");
	addr_case(6, v6_doc, "2001:db8::ff00:42:8329");
	addr_case(6, v6_two_runs, "2001:db8::1:0:0:1");
	addr_case(6, v6_one_zero, "2001:db8:0:1:1:1:0:1");
	addr_case(6, v6_mapped, "::ffff:10.0.0.1");
	addr_case(6, v6_lead, "::abcd");
	addr_case(6, v6_full, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	endpoint_case(4, v4_a, 80, "10.1.0.2:80");
	endpoint_case(4, v4_zero, 0, "0.0.0.0:0");
	endpoint_case(4, v4_bcast, 65535, "255.255.255.255:65535");
	endpoint_case(6, v6_loop, 443, "[::1]:443");
	endpoint_case(6, v6_ll, 0, "[fe80::1]:0");
	endpoint_case(6, v6_mapped, 8080, "[::ffff:10.0.0.1]:8080");
	endpoint_case(6, v6_full, 65535, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void time_case(uint64_t ns, const char *want)
{
	char dst[64];
	size_t n;

	memset(dst, 'X', sizeof(dst));
	n = nt_format_time(dst, sizeof(dst), ns);
	if (!tap_ok(!strcmp(dst, want) && n == strlen(want),
		    "nt_format_time(%" PRIu64 ") = %s (and its length)", ns, want)) {
		tap_diag_str("got ", dst, strnlen(dst, sizeof(dst)));
		tap_diag("  returned %zu", n);
	}
}

static void test_time(void)
{
	char dst[64];
	struct tm tm;
	time_t zero = 0;
	size_t n;

	/* a zone far from UTC: nt_format_time must not use it */
	setenv("TZ", "XYZ-7:30", 1);
	tzset();
	localtime_r(&zero, &tm);
	tap_ok(tm.tm_hour == 7 && tm.tm_min == 30, "test set-up: local time is UTC+7:30");

	time_case(0, "1970-01-01T00:00:00.000000Z");
	time_case(999, "1970-01-01T00:00:00.000000Z");
	time_case(1000, "1970-01-01T00:00:00.000001Z");
	time_case(999999999, "1970-01-01T00:00:00.999999Z");
	time_case(TS, "2023-11-14T22:13:20.123456Z");
	time_case(946684800ULL * 1000000000, "2000-01-01T00:00:00.000000Z");
	time_case(1709251199ULL * 1000000000 + 500000000, "2024-02-29T23:59:59.500000Z");
	time_case(2147483648ULL * 1000000000, "2038-01-19T03:14:08.000000Z");

	memset(dst, 'X', sizeof(dst));
	n = nt_format_time(dst, 11, TS);
	tap_ok(n == 10 && !strcmp(dst, "2023-11-14"),
	       "nt_format_time into 11 bytes: cut to '2023-11-14', returns 10");
	unsetenv("TZ");
	tzset();
}

/* ---- names ----------------------------------------------------------------------------------- */

static void test_names(void)
{
	tap_ok(!strcmp(nt_tcp_state_name(1), "ESTABLISHED") &&
		       !strcmp(nt_tcp_state_name(7), "CLOSE") &&
		       !strcmp(nt_tcp_state_name(8), "CLOSE_WAIT") &&
		       !strcmp(nt_tcp_state_name(12), "NEW_SYN_RECV"),
	       "nt_tcp_state_name: 1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT, 12 NEW_SYN_RECV");
	tap_ok(!strcmp(nt_tcp_state_name(0), "UNKNOWN") &&
		       !strcmp(nt_tcp_state_name(13), "UNKNOWN") &&
		       !strcmp(nt_tcp_state_name(255), "UNKNOWN"),
	       "nt_tcp_state_name: 0, 13, 255 are UNKNOWN");
	tap_ok(!strcmp(nt_record_type_name(NT_REC_CONNECT), "connect") &&
		       !strcmp(nt_record_type_name(NT_REC_ACCEPT), "accept") &&
		       !strcmp(nt_record_type_name(NT_REC_CLOSE), "close") &&
		       !strcmp(nt_record_type_name(NT_REC_METRICS), "metrics") &&
		       !strcmp(nt_record_type_name(NT_REC_EXISTING), "existing") &&
		       !strcmp(nt_record_type_name(NT_REC_LISTEN), "listen") &&
		       !strcmp(nt_record_type_name(0), "unknown") &&
		       !strcmp(nt_record_type_name(7), "unknown"),
	       "nt_record_type_name: the six record types, 0 and 7 unknown");
	tap_ok(!strcmp(nt_direction_name(NT_DIR_OUT), "out") &&
		       !strcmp(nt_direction_name(NT_DIR_IN), "in") &&
		       !strcmp(nt_direction_name(NT_DIR_UNKNOWN), "unknown") &&
		       !strcmp(nt_direction_name(3), "unknown"),
	       "nt_direction_name: out, in, unknown (0 and 3)");
}

static void comm_case(const char *comm, const char *want, const char *what)
{
	char dst[NT_COMM_LEN + 1 + 8];

	memset(dst, 'X', sizeof(dst));
	nt_comm_token(dst, comm);
	tap_is_str(dst, want, "nt_comm_token: %s", what);
}

static void test_comm_token(void)
{
	char full[NT_COMM_LEN + 4];

	comm_case("bash", "bash", "plain comm kept");
	comm_case("", "-", "empty comm is '-'");
	comm_case("my app x", "my?app?x", "spaces become '?'");
	comm_case("a\tb\nc\rd", "a?b?c?d", "tab, newline, CR become '?'");
	comm_case("\x01\x7f\x80\xff", "????", "control, DEL and high bytes become '?'");
	comm_case("kworker/0:1-events", "kworker/0:1-even", "cut at NT_COMM_LEN (16)");
	memset(full, 'z', sizeof(full));	/* no NUL within the first NT_COMM_LEN bytes */
	full[NT_COMM_LEN] = '\0';
	comm_case(full, "zzzzzzzzzzzzzzzz", "16 bytes without NUL");
}

/* ---- JSON rendering -------------------------------------------------------------------------- */

static const char *const json_keys[] = {
	"type",		"ts_ns",	"id",		"family",	"saddr",
	"sport",	"daddr",	"dport",	"pid",		"comm",
	"netns",	"direction",	"state",	"bytes_sent",	"bytes_received",
	"packets_sent", "packets_received", "retransmits", "rtt_us",	"rtt_var_us",
};

/* Every expected key exactly once, "existing":true iff existing, nothing else. */
static bool json_keys_exact(const struct jobj *o, bool existing)
{
	bool ok = true;

	for (size_t k = 0; k < ARRAY_SIZE(json_keys); k++) {
		int seen = 0;

		for (int i = 0; i < o->n; i++)
			seen += !strcmp(o->f[i].key, json_keys[k]);
		if (seen != 1) {
			tap_diag("  key \"%s\" present %d times", json_keys[k], seen);
			ok = false;
		}
	}
	for (int i = 0; i < o->n; i++) {
		bool known = !strcmp(o->f[i].key, "existing");

		for (size_t k = 0; k < ARRAY_SIZE(json_keys); k++)
			known |= !strcmp(o->f[i].key, json_keys[k]);
		if (!known) {
			tap_diag("  unexpected key \"%s\"", o->f[i].key);
			ok = false;
		}
	}
	if (existing) {
		const struct jfield *f = jget(o, "existing");

		if (!f || f->kind != 't') {
			tap_diag("  \"existing\":true missing");
			ok = false;
		}
	} else if (jget(o, "existing")) {
		tap_diag("  \"existing\" present on a row that is not existing");
		ok = false;
	}
	if (o->n != (int)ARRAY_SIZE(json_keys) + existing) {
		tap_diag("  %d keys", o->n);
		ok = false;
	}
	return ok;
}

/* Renders row as JSON, parses it back; false (with a diagnostic) if it is not one valid line. */
static bool json_render_parse(const char *type, uint64_t ts, const struct nt_conn_row *row,
			      struct jobj *o, const char *what)
{
	struct nt_buf b = { 0 };
	const char *why;
	bool ok;

	nt_render_json(&b, type, ts, row);
	ok = json_line(b.data, b.len, o, &why);
	if (!tap_ok(ok, "nt_render_json, %s: one valid JSON object on one line", what)) {
		tap_diag("  %s", why);
		tap_diag_str("line", b.data, b.len);
	}
	nt_buf_free(&b);
	return ok;
}

static bool json_values(const struct jobj *o, const char *type, uint64_t ts,
			const struct nt_conn_row *r, const char *saddr, const char *daddr,
			const char *dir, const char *state)
{
	bool ok = jis_str(o, "type", type, strlen(type));

	ok &= jis_num(o, "ts_ns", ts);
	ok &= jis_num(o, "id", r->id);
	ok &= jis_num(o, "family", r->family);
	ok &= jis_str(o, "saddr", saddr, strlen(saddr));
	ok &= jis_num(o, "sport", r->sport);
	ok &= jis_str(o, "daddr", daddr, strlen(daddr));
	ok &= jis_num(o, "dport", r->dport);
	ok &= jis_num(o, "pid", r->pid);
	ok &= jis_str(o, "comm", r->comm, strnlen(r->comm, NT_COMM_LEN));
	ok &= jis_num(o, "netns", r->netns);
	ok &= jis_str(o, "direction", dir, strlen(dir));
	ok &= jis_str(o, "state", state, strlen(state));
	ok &= jis_num(o, "bytes_sent", r->m.bytes_sent);
	ok &= jis_num(o, "bytes_received", r->m.bytes_received);
	ok &= jis_num(o, "packets_sent", r->m.packets_sent);
	ok &= jis_num(o, "packets_received", r->m.packets_received);
	ok &= jis_num(o, "retransmits", r->m.retransmits);
	ok &= jis_num(o, "rtt_us", r->m.rtt_us);
	ok &= jis_num(o, "rtt_var_us", r->m.rtt_var_us);
	return ok;
}

static void test_json(void)
{
	static const char want[] =
		"{\"type\":\"connect\",\"ts_ns\":1700000000123456789,\"id\":42,\"family\":4,"
		"\"saddr\":\"10.1.0.2\",\"sport\":51000,\"daddr\":\"93.184.216.34\",\"dport\":443,"
		"\"pid\":1234,\"comm\":\"curl\",\"netns\":4026531840,\"direction\":\"out\","
		"\"state\":\"ESTABLISHED\",\"bytes_sent\":100,\"bytes_received\":2000,"
		"\"packets_sent\":10,\"packets_received\":12,\"retransmits\":1,\"rtt_us\":250,"
		"\"rtt_var_us\":50}\n";
	struct nt_buf b = { 0 };
	struct nt_conn_row r;
	struct jobj o;

	row_v4(&r);
	nt_render_json(&b, "connect", TS, &r);
	tap_is_str(cstr(&b), want, "nt_render_json: exact line for an IPv4 connect");
	nt_buf_free(&b);

	if (json_render_parse("connect", TS, &r, &o, "IPv4 connect")) {
		tap_ok(json_keys_exact(&o, false),
		       "nt_render_json, IPv4 connect: exactly the 20 keys, no \"existing\"");
		tap_ok(json_values(&o, "connect", TS, &r, "10.1.0.2", "93.184.216.34", "out",
				   "ESTABLISHED"),
		       "nt_render_json, IPv4 connect: every value parses back");
	}

	row_v6(&r);
	r.existing = 1;
	if (json_render_parse("metrics", TS, &r, &o, "IPv6 existing")) {
		tap_ok(json_keys_exact(&o, true), "nt_render_json, IPv6 existing: the 20 keys and "
			"\"existing\":true");
		tap_ok(json_values(&o, "metrics", TS, &r, "::1", "fe80::1", "in", "CLOSE_WAIT"),
		       "nt_render_json, IPv6 existing: every value parses back (::1, fe80::1)");
	}

	/* extremes, nasty comm, unknown direction and state */
	row_v6(&r);
	memcpy(r.saddr, v6_full, 16);
	r.id = UINT64_MAX;
	r.sport = r.dport = 65535;
	r.pid = r.netns = UINT32_MAX;
	r.direction = 7;
	r.state = 0;
	memcpy(r.comm, "a\"b\\c\n\t\x7f\xff\x01 /xyzw", NT_COMM_LEN);
	r.comm[NT_COMM_LEN] = '\0';
	r.m = (struct nt_metrics){ UINT64_MAX, UINT64_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
				   UINT32_MAX, UINT32_MAX };
	if (json_render_parse("close", UINT64_MAX, &r, &o, "extremes and a nasty comm")) {
		tap_ok(json_keys_exact(&o, false), "nt_render_json, extremes: exactly the 20 keys");
		tap_ok(json_values(&o, "close", UINT64_MAX, &r,
				   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1", "unknown",
				   "UNKNOWN"),
		       "nt_render_json, extremes: 2^64-1 numbers exact, the 16-byte comm with "
		       "quote, backslash, control and high bytes decodes back");
	}

	row_v4(&r);
	r.comm[0] = '\0';
	r.pid = 0;
	if (json_render_parse("accept", 0, &r, &o, "empty comm, pid 0"))
		tap_ok(json_values(&o, "accept", 0, &r, "10.1.0.2", "93.184.216.34", "out",
				   "ESTABLISHED"),
		       "nt_render_json, empty comm: \"comm\":\"\" and \"pid\":0");

	row_v4(&r);
	nt_render_json(&b, "connect", TS, &r);
	nt_render_json(&b, "connect", TS, &r);
	tap_ok(b.len == 2 * (sizeof(want) - 1) && !memcmp(b.data, want, sizeof(want) - 1) &&
		       !memcmp(b.data + sizeof(want) - 1, want, sizeof(want) - 1),
	       "nt_render_json appends to the buffer: two renders give the line twice");
	nt_buf_free(&b);
}

/* ---- log lines ------------------------------------------------------------------------------- */

/* Whitespace-separated tokens of one line (the line ends at '\n' or NUL). */
static int tokens(const char *s, char tok[][64], int max)
{
	int n = 0;

	while (*s && *s != '\n') {
		size_t k = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '\n')
			break;
		while (*s && *s != '\n' && *s != ' ' && *s != '\t') {
			if (n < max && k < 63)
				tok[n][k++] = *s;
			s++;
		}
		if (n < max)
			tok[n][k] = '\0';
		n++;
	}
	return n;
}

/* exactly one '\n', at the end */
static bool one_line(const char *s, size_t n)
{
	return n > 0 && s[n - 1] == '\n' && memchr(s, '\n', n) == s + n - 1;
}

static void test_log(void)
{
	static const char want[] =
		"2023-11-14T22:13:20.123456Z connect id=42 pid=1234 comm=curl netns=4026531840 "
		"dir=out 10.1.0.2:51000 -> 93.184.216.34:443 state=ESTABLISHED bytes_sent=100 "
		"bytes_received=2000 packets_sent=10 packets_received=12 retransmits=1 rtt_us=250 "
		"rtt_var_us=50\n";
	static const char want6[] =
		"2023-11-14T22:13:20.123456Z metrics id=42 pid=1234 comm=nginx netns=4026531840 "
		"dir=in [::1]:8080 -> [fe80::1]:36000 state=CLOSE_WAIT existing=1 bytes_sent=100 "
		"bytes_received=2000 packets_sent=10 packets_received=12 retransmits=1 rtt_us=250 "
		"rtt_var_us=50\n";
	struct nt_buf b = { 0 };
	struct nt_conn_row r;
	char tok[32][64];
	int ntok;

	row_v4(&r);
	nt_render_log(&b, "connect", TS, &r);
	tap_is_str(cstr(&b), want, "nt_render_log: exact line for an IPv4 connect");
	ntok = tokens(b.data, tok, 32);

	b.len = 0;
	row_v6(&r);
	r.existing = 1;
	nt_render_log(&b, "metrics", TS, &r);
	tap_is_str(cstr(&b), want6, "nt_render_log: exact line for an IPv6 existing connection "
		   "([::1]:8080, existing=1)");

	b.len = 0;
	row_v4(&r);
	memcpy(r.comm, "a b\tc\nd\x7f\xff", 10);
	nt_render_log(&b, "close", TS, &r);
	cstr(&b);
	if (!tap_ok(one_line(b.data, b.len) && tokens(b.data, tok, 32) == ntok &&
			    !strcmp(tok[4], "comm=a?b?c?d??"),
		    "nt_render_log: comm with blanks, newline and high bytes is one token "
		    "(comm=a?b?c?d then 2 more ?), still one line"))
		tap_diag_str("line", b.data, b.len);

	b.len = 0;
	row_v4(&r);
	r.comm[0] = '\0';
	nt_render_log(&b, "close", TS, &r);
	cstr(&b);
	if (!tap_ok(one_line(b.data, b.len) && tokens(b.data, tok, 32) == ntok &&
			    !strcmp(tok[4], "comm=-"),
		    "nt_render_log: empty comm is comm=-"))
		tap_diag_str("line", b.data, b.len);
	nt_buf_free(&b);
}

/* ---- table ----------------------------------------------------------------------------------- */

static const char *const table_titles[] = {
	"PID",	      "COMM",	    "NETNS",	 "DIR",	      "LOCAL",	 "REMOTE", "STATE",
	"BYTES_SENT", "BYTES_RECV", "PKTS_SENT", "PKTS_RECV", "RETRANS", "RTT_US", "RTTVAR_US",
};
#define NCOLS ((int)ARRAY_SIZE(table_titles))

static void table_case(const struct nt_conn_row *r, const char *what, const char *pid,
		       const char *comm, const char *local, const char *remote)
{
	struct nt_buf b = { 0 };
	char tok[32][64];
	int n;
	bool ok;

	nt_render_table_row(&b, r);
	cstr(&b);
	n = tokens(b.data, tok, 32);
	ok = one_line(b.data, b.len) && n == NCOLS && !strcmp(tok[0], pid) &&
	     !strcmp(tok[1], comm) && !strcmp(tok[4], local) && !strcmp(tok[5], remote);
	if (!tap_ok(ok, "table row, %s: %d tokens like the header; PID %s, COMM %s", what, NCOLS,
		    pid, comm)) {
		tap_diag("  %d tokens", n);
		tap_diag_str("row", b.data, b.len);
	}
	nt_buf_free(&b);
}

static void test_table(void)
{
	struct nt_buf h = { 0 }, b = { 0 };
	struct nt_conn_row r;
	char tok[32][64];
	int n;
	bool ok;

	nt_render_table_header(&h);
	cstr(&h);
	n = tokens(h.data, tok, 32);
	ok = one_line(h.data, h.len) && n == NCOLS;
	for (int i = 0; ok && i < NCOLS; i++)
		ok = !strcmp(tok[i], table_titles[i]);
	if (!tap_ok(ok, "table header: one line of the 14 titles PID .. RTTVAR_US"))
		tap_diag_str("header", h.data, h.len);

	row_v4(&r);
	table_case(&r, "IPv4", "1234", "curl", "10.1.0.2:51000", "93.184.216.34:443");

	/* columns line up: every cell of a row that fits sits under its title */
	nt_render_table_row(&b, &r);
	cstr(&b);
	ok = b.len == h.len;
	for (int col = 0, ph = 0, pr = 0; ok && col < NCOLS; col++) {
		int sh, eh, sr, er;

		while (h.data[ph] == ' ')
			ph++;
		sh = ph;
		while (h.data[ph] != ' ' && h.data[ph] != '\n')
			ph++;
		eh = ph;
		while (b.data[pr] == ' ')
			pr++;
		sr = pr;
		while (b.data[pr] != ' ' && b.data[pr] != '\n')
			pr++;
		er = pr;
		ok = sh == sr || eh == er;	/* left- or right-aligned with the title */
		if (!ok)
			tap_diag("  column %s: title at %d..%d, cell at %d..%d", table_titles[col],
				 sh, eh, sr, er);
	}
	if (!tap_ok(ok, "table: a row whose cells fit is as long as the header, each cell "
			"aligned with its title")) {
		tap_diag_str("header", h.data, h.len);
		tap_diag_str("row   ", b.data, b.len);
	}
	nt_buf_free(&b);

	row_v4(&r);
	r.comm[0] = '\0';
	table_case(&r, "empty comm", "1234", "-", "10.1.0.2:51000", "93.184.216.34:443");
	strcpy(r.comm, "my app x");
	table_case(&r, "comm with spaces", "1234", "my?app?x", "10.1.0.2:51000",
		   "93.184.216.34:443");
	strcpy(r.comm, "a\tb\nc\rd");
	table_case(&r, "comm with tab, newline, CR", "1234", "a?b?c?d", "10.1.0.2:51000",
		   "93.184.216.34:443");
	memcpy(r.comm, "\xc3\xa9t\xc3\xa9 \x7f", 8);
	table_case(&r, "comm with UTF-8 and DEL", "1234", "??t????", "10.1.0.2:51000",
		   "93.184.216.34:443");
	memcpy(r.comm, "abcdefghijklmnop", NT_COMM_LEN);
	table_case(&r, "16-byte comm", "1234", "abcdefghijklmnop", "10.1.0.2:51000",
		   "93.184.216.34:443");

	row_v4(&r);
	r.pid = 0;
	table_case(&r, "pid 0", "-", "curl", "10.1.0.2:51000", "93.184.216.34:443");

	row_v6(&r);
	table_case(&r, "IPv6 ::1", "1234", "nginx", "[::1]:8080", "[fe80::1]:36000");

	row_v6(&r);
	memcpy(r.saddr, v6_full, 16);
	memcpy(r.daddr, v6_full, 16);
	r.sport = r.dport = 65535;
	table_case(&r, "long IPv6 addresses on both ends", "1234", "nginx",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	row_v6(&r);
	memcpy(r.saddr, v6_full, 16);
	memcpy(r.daddr, v6_full, 16);
	r.sport = r.dport = 65535;
	r.pid = r.netns = UINT32_MAX;
	r.direction = 9;
	r.state = 200;
	r.comm[0] = '\0';
	r.m = (struct nt_metrics){ UINT64_MAX, UINT64_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
				   UINT32_MAX, UINT32_MAX };
	table_case(&r, "every cell at its widest", "4294967295", "-",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	nt_buf_free(&h);
}

int main(void)
{
	test_metrics();
	test_buf();
	test_json_str();
	test_addr();
	test_time();
	test_names();
	test_comm_token();
	test_json();
	test_log();
	test_table();
	return tap_done();
}
