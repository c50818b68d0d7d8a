// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Unit tests of src/guess/search.c, the "snapshot and search" core of the offset guesser:
 * nt_load_uint, nt_is_kernel_ptr, and nt_search / nt_search_eq / nt_search_uint on copies of
 * fake kernel structs (a sock_common-like and a tcp_sock-like struct, random filler bytes
 * everywhere else, several images with different values). Then randomized layouts checked
 * against a naive reference search.
 *
 * Every image is placed so that its last byte is the last byte before an inaccessible page:
 * a search that reads a byte past an image's len crashes the test instead of passing.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "search.h"
#include "tap.h"

#define MAXC 64			/* room for every candidate list in these tests */
#define SENTINEL ((size_t)0x5e5e5e5e)

/* ---- deterministic randomness ---------------------------------------------------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static void rnd_fill(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rnd() >> 56);
}

/* ---- images that end right before an inaccessible page --------------------------------------- */

#define MAX_IMG 16
#define SLOT_WANT 8192

static uint8_t *slot_base[MAX_IMG];
static size_t slot_cap;

static void slots_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	slot_cap = (SLOT_WANT + page - 1) / page * page;
	for (int k = 0; k < MAX_IMG; k++) {
		uint8_t *p = mmap(NULL, slot_cap + page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || mprotect(p + slot_cap, page, PROT_NONE)) {
			perror("mmap/mprotect");
			exit(99);
		}
		slot_base[k] = p;
	}
}

/* len bytes of slot k, followed by the guard page. */
static uint8_t *slot(int k, size_t len)
{
	return slot_base[k] + slot_cap - len;
}

/* Copies obj (len bytes) into slot k and describes it as an image. */
static struct nt_image put_image(int k, const void *obj, size_t len)
{
	uint8_t *d = slot(k, len);

	memcpy(d, obj, len);
	return (struct nt_image){ d, len };
}

/* ---- candidate lists ------------------------------------------------------------------------- */

static void fmt_list(char *buf, size_t sz, const size_t *v, size_t n)
{
	size_t l = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && l + 24 < sz; i++)
		l += (size_t)snprintf(buf + l, sz - l, "%s%zu", i ? "," : "", v[i]);
}

/*
 * The search returned count and stored out[0..count) (max_out was at least count): are they
 * exactly want[0..nwant), in that order?
 */
static bool is_cands(size_t count, const size_t *out, const size_t *want, size_t nwant,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool is_cands(size_t count, const size_t *out, const size_t *want, size_t nwant,
		     const char *fmt, ...)
{
	bool ok = count == nwant && (!nwant || !memcmp(out, want, nwant * sizeof(*out)));
	char desc[400], g[300], w[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (!tap_ok(ok, "%s", desc)) {
		fmt_list(g, sizeof(g), out, count < MAXC ? count : MAXC);
		fmt_list(w, sizeof(w), want, nwant);
		tap_diag("  got %zu: [%s]; want %zu: [%s]", count, g, nwant, w);
	}
	return ok;
}

static void clear_out(size_t *out)
{
	for (size_t i = 0; i < MAXC; i++)
		out[i] = SENTINEL;
}

/* ---- native-order integers, written and read byte by byte ------------------------------------ */

static void store_uint(uint8_t *p, size_t width, uint64_t v)
{
	for (size_t k = 0; k < width; k++) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		p[k] = (uint8_t)(v >> (8 * k));
#else
		p[width - 1 - k] = (uint8_t)(v >> (8 * k));
#endif
	}
}

static uint64_t ref_load(const uint8_t *p, size_t width)
{
	uint64_t v = 0;

	for (size_t k = 0; k < width; k++) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		v |= (uint64_t)p[k] << (8 * k);
#else
		v = v << 8 | p[k];
#endif
	}
	return v;
}

/* ---- nt_load_uint ---------------------------------------------------------------------------- */

static void test_load_uint(void)
{
	static const size_t widths[] = { 1, 2, 4, 8 };
	uint8_t buf[24];
	long bad = 0;

	for (size_t k = 0; k < sizeof(buf); k++)
		buf[k] = (uint8_t)(0x11 * (k + 1));
	/* typed values copied in, at every misalignment */
	for (size_t a = 0; a < 8; a++) {
		uint8_t u8 = (uint8_t)(0xa5 + a);
		uint16_t u16 = (uint16_t)(0xbeef - a);
		uint32_t u32 = 0xdeadbeefu ^ (uint32_t)a;
		uint64_t u64 = 0x0123456789abcdefULL + a;

		memcpy(buf + a, &u8, 1);
		bad += nt_load_uint(buf + a, 1) != u8;
		memcpy(buf + a, &u16, 2);
		bad += nt_load_uint(buf + a, 2) != u16;
		memcpy(buf + a, &u32, 4);
		bad += nt_load_uint(buf + a, 4) != u32;
		memcpy(buf + a, &u64, 8);
		bad += nt_load_uint(buf + a, 8) != u64;
	}
	tap_is_u64((uint64_t)bad, 0, "nt_load_uint: u8/u16/u32/u64 read back at offsets 0..7");

	/* the byte order is the machine's, and only width bytes count */
	{
		const uint8_t b[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		const uint64_t want[] = { 0x01, 0x0201, 0x04030201, 0x0807060504030201ULL };
#else
		const uint64_t want[] = { 0x01, 0x0102, 0x01020304, 0x0102030405060708ULL };
#endif
		for (size_t i = 0; i < 4; i++)
			tap_is_u64(nt_load_uint(b, widths[i]), want[i],
				   "nt_load_uint: bytes 01 02 .. as a %zu-byte native integer",
				   widths[i]);
	}
	{
		const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		tap_is_u64(nt_load_uint(ff, 1), 0xff, "nt_load_uint: 0xff (width 1) is unsigned");
		tap_is_u64(nt_load_uint(ff, 2), 0xffff,
			   "nt_load_uint: 0xffff (width 2) is unsigned");
		tap_is_u64(nt_load_uint(ff, 4), 0xffffffffu,
			   "nt_load_uint: 0xffffffff (width 4) is unsigned, not sign-extended");
		tap_is_u64(nt_load_uint(ff, 8), UINT64_MAX, "nt_load_uint: all ones (width 8)");
	}

	/* a field at the very end of a mapping: nothing past it is read (guard page) */
	bad = 0;
	for (size_t i = 0; i < 4; i++) {
		uint8_t *p = slot(0, widths[i]);

		store_uint(p, widths[i], 0x8877665544332211ULL);
		bad += nt_load_uint(p, widths[i]) != ref_load(p, widths[i]);
	}
	tap_is_u64((uint64_t)bad, 0,
		   "nt_load_uint: widths 1/2/4/8 right before a guard page (no over-read)");
}

/* ---- nt_is_kernel_ptr ------------------------------------------------------------------------ */

static void test_is_kernel_ptr(void)
{
	static const struct {
		uint64_t v;
		const char *what;
	} yes[] = {
		{ 0xffff888000000000ULL, "x86_64 direct map (page_offset_base)" },
		{ 0xffff88810a3c4e00ULL, "x86_64 slab object" },
		{ 0xffffffff81000000ULL, "x86_64 kernel text" },
		{ 0xffffffffc0a01000ULL, "x86_64 module" },
		{ 0xffffc90000000000ULL, "x86_64 vmalloc" },
		{ 0xffffea0000000000ULL, "x86_64 vmemmap" },
		{ 0xff11000000000000ULL, "x86_64 5-level direct map" },
		{ 0xffff800000000000ULL, "x86_64 first kernel address (4-level)" },
		{ 0xffff000000000000ULL, "arm64 48-bit VA: start of the linear map" },
		{ 0xffff0000c2a5b800ULL, "arm64 linear map object" },
		{ 0xffff800008000000ULL, "arm64 kernel image" },
		{ 0xffff80000a123450ULL, "arm64 vmalloc" },
		{ 0xfff0000000000000ULL, "arm64 52-bit VA: start of the linear map" },
		{ 0xffffffffff600000ULL, "x86_64 vsyscall page" },
		{ (uint64_t)-4097, "just below the last page" },
	};
	static const struct {
		uint64_t v;
		const char *what;
	} no[] = {
		{ 0, "NULL" },
		{ 1, "1" },
		{ 0x1000, "first page" },
		{ 0x0000555555554000ULL, "x86_64 PIE executable" },
		{ 0x00007f1234567000ULL, "x86_64 mmap area" },
		{ 0x00007ffffffde000ULL, "x86_64 user stack" },
		{ 0x00007fffffffffffULL, "x86_64 last user address" },
		{ 0x0000aaaab0000000ULL, "arm64 PIE executable" },
		{ 0x0000ffffffffffffULL, "arm64 last user address (48-bit)" },
		{ 0x00ffffffffffffffULL, "x86_64 last user address (5-level)" },
		{ 0x7fffffffffffffffULL, "largest lower-half value" },
		{ (uint64_t)-1, "ERR_PTR(-1) (-EPERM)" },
		{ (uint64_t)-12, "ERR_PTR(-ENOMEM)" },
		{ (uint64_t)-14, "ERR_PTR(-EFAULT)" },
		{ (uint64_t)-4095, "ERR_PTR(-MAX_ERRNO)" },
	};
	long bad = 0;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		tap_ok(nt_is_kernel_ptr(yes[i].v), "nt_is_kernel_ptr(%#" PRIx64 "): %s", yes[i].v,
		       yes[i].what);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		tap_ok(!nt_is_kernel_ptr(no[i].v), "!nt_is_kernel_ptr(%#" PRIx64 "): %s", no[i].v,
		       no[i].what);
	for (uint64_t e = 1; e <= 4095; e++)
		bad += nt_is_kernel_ptr((uint64_t)0 - e);
	tap_is_u64((uint64_t)bad, 0, "no ERR_PTR value (-1..-4095 as u64) is a kernel pointer");
	bad = 0;
	for (int i = 0; i < 100000; i++)
		bad += nt_is_kernel_ptr(rnd() >> 1);
	tap_is_u64((uint64_t)bad, 0, "no lower-half value (100000 random) is a kernel pointer");
	if (nt_is_kernel_ptr((uint64_t)-4096))
		tap_diag("(uint64_t)-4096 counts as a kernel pointer");
	else
		tap_diag("note: (uint64_t)-4096, not an ERR_PTR value, is rejected too");
}

/* ---- a sock_common-like struct --------------------------------------------------------------- */

/* The shape of struct sock_common: addresses and ports first, then family and state. */
struct fake_sock_common {
	uint32_t daddr;		/* be32 */
	uint32_t rcv_saddr;	/* be32 */
	uint32_t hash;
	uint16_t dport;		/* be16 */
	uint16_t num;		/* host order */
	uint16_t family;
	uint8_t state;
	uint8_t reuse;		/* decoy: 1 in every image of the loopback set, like state */
	int32_t bound_dev_if;
	uint64_t bind_node[2];
	uint64_t prot;		/* struct proto * */
	uint64_t net;		/* struct net * */
	uint8_t v6_daddr[16];
	uint8_t v6_rcv_saddr[16];
	uint64_t cookie;
	uint8_t rest[40];	/* the rest of struct sock: filler */
};

struct sc_obs {
	uint16_t family;
	uint8_t state;
	uint8_t reuse;
	const char *saddr, *daddr;	/* local, remote */
	uint16_t sport, dport;		/* local, remote; host order */
};

#define TCP_ESTABLISHED 1
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE_WAIT 8
#define TCP_PROT 0xffffffff82b4c1c0ULL
#define TCPV6_PROT 0xffffffff82b4e2c0ULL
#define NET_A 0xffff888102a3c000ULL	/* no 0x01 byte: state and reuse are 1 */

static void parse_addr(int family, const char *s, void *dst)
{
	if (inet_pton(family, s, dst) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(99);
	}
}

static struct fake_sock_common sc_of(const struct sc_obs *o)
{
	struct fake_sock_common s;

	rnd_fill(&s, sizeof(s));
	s.family = o->family;
	s.state = o->state;
	s.reuse = o->reuse;
	if (o->family == AF_INET) {
		parse_addr(AF_INET, o->saddr, &s.rcv_saddr);
		parse_addr(AF_INET, o->daddr, &s.daddr);
	} else {
		parse_addr(AF_INET6, o->saddr, s.v6_rcv_saddr);
		parse_addr(AF_INET6, o->daddr, s.v6_daddr);
	}
	s.num = o->sport;
	s.dport = htons(o->dport);
	s.bound_dev_if = 0;
	s.prot = o->family == AF_INET ? TCP_PROT : TCPV6_PROT;
	s.net = NET_A;
	return s;
}

/* Images of obs[0..n) in slots 0..n-1. */
static void sc_images(const struct sc_obs *obs, size_t n, struct fake_sock_common *s,
		      struct nt_image *img)
{
	for (size_t i = 0; i < n; i++) {
		s[i] = sc_of(&obs[i]);
		img[i] = put_image((int)i, &s[i], sizeof(s[i]));
	}
}

/* Client and server ends of three connections (v4, v6, v4 half closed). */
static const struct sc_obs sc_mixed[] = {
	{ AF_INET, TCP_ESTABLISHED, 0, "127.0.0.1", "127.0.0.2", 40001, 8080 },
	{ AF_INET, TCP_ESTABLISHED, 1, "127.0.0.2", "127.0.0.1", 8080, 40001 },
	{ AF_INET6, TCP_ESTABLISHED, 0, "fd00::a", "fd00::b", 40002, 8081 },
	{ AF_INET6, TCP_ESTABLISHED, 1, "fd00::b", "fd00::a", 8081, 40002 },
	{ AF_INET, TCP_FIN_WAIT2, 0, "127.0.0.3", "127.0.0.2", 40003, 8080 },
	{ AF_INET, TCP_CLOSE_WAIT, 1, "127.0.0.2", "127.0.0.3", 8080, 40003 },
};

/* Everything on 127.0.0.1 (or ::1) and ESTABLISHED, reuse set: nothing to tell apart
 * daddr from rcv_saddr, or state from reuse. */
static const struct sc_obs sc_loop[] = {
	{ AF_INET, TCP_ESTABLISHED, 1, "127.0.0.1", "127.0.0.1", 40011, 8090 },
	{ AF_INET, TCP_ESTABLISHED, 1, "127.0.0.1", "127.0.0.1", 8090, 40011 },
	{ AF_INET6, TCP_ESTABLISHED, 1, "::1", "::1", 40012, 8091 },
	{ AF_INET6, TCP_ESTABLISHED, 1, "::1", "::1", 8091, 40012 },
};

#define N_MIXED (sizeof(sc_mixed) / sizeof(sc_mixed[0]))
#define N_LOOP (sizeof(sc_loop) / sizeof(sc_loop[0]))
#define SC_LEN sizeof(struct fake_sock_common)
#define OFF(f) offsetof(struct fake_sock_common, f)

/* Search the images selected by family (0: all) for the value get() gives, like
 * guess.c's search_known(). */
static size_t sc_search(const struct fake_sock_common *s, const struct sc_obs *obs,
			const struct nt_image *all, size_t n, int family, size_t width,
			size_t align, void (*get)(const struct fake_sock_common *,
						  const struct sc_obs *, uint8_t *),
			size_t *out)
{
	struct nt_image img[MAX_IMG];
	uint8_t want_buf[MAX_IMG][16];
	const void *want[MAX_IMG];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (family && obs[i].family != family)
			continue;
		img[m] = all[i];
		get(&s[i], &obs[i], want_buf[m]);
		want[m] = want_buf[m];
		m++;
	}
	clear_out(out);
	return nt_search_eq(img, m, want, width, align, 0, SC_LEN, out, MAXC);
}

/* What the guesser knows of each socket, independently of the struct. */
static void w_family(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	uint16_t v = o->family;

	(void)s;
	memcpy(w, &v, 2);
}

static void w_state(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	w[0] = o->state;
}

static void w_saddr4(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	parse_addr(AF_INET, o->saddr, w);
}

static void w_lo4(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	(void)o;
	parse_addr(AF_INET, "127.0.0.1", w);
}

static void w_daddr4(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	parse_addr(AF_INET, o->daddr, w);
}

static void w_saddr6(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	parse_addr(AF_INET6, o->saddr, w);
}

static void w_daddr6(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	parse_addr(AF_INET6, o->daddr, w);
}

static void w_num(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	uint16_t v = o->sport;

	(void)s;
	memcpy(w, &v, 2);
}

static void w_dport(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	uint16_t v = htons(o->dport);

	(void)s;
	memcpy(w, &v, 2);
}

static void w_dport_host(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	uint16_t v = o->dport;

	(void)s;
	memcpy(w, &v, 2);
}

static void w_prot(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	uint64_t v = o->family == AF_INET ? TCP_PROT : TCPV6_PROT;

	(void)s;
	memcpy(w, &v, 8);
}

static void w_cookie(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)o;
	memcpy(w, &s->cookie, 8);
}

static void w_absent(const struct fake_sock_common *s, const struct sc_obs *o, uint8_t *w)
{
	(void)s;
	(void)o;
	memcpy(w, "\xbe\xef\xca\xfe\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\x1e\x2d\x3c", 16);
}

static void test_sock_common(void)
{
	struct fake_sock_common s[MAX_IMG];
	struct nt_image img[MAX_IMG];
	size_t out[MAXC], c;

	/* ---- observations that tell every field apart ---- */
	sc_images(sc_mixed, N_MIXED, s, img);
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 2, 2, w_family, out);
	is_cands(c, out, (size_t[]){ OFF(family) }, 1, "eq w2: family found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 1, 1, w_state, out);
	is_cands(c, out, (size_t[]){ OFF(state) }, 1,
		 "eq w1: state (ESTABLISHED, FIN_WAIT2, CLOSE_WAIT) found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, AF_INET, 4, 4, w_saddr4, out);
	is_cands(c, out, (size_t[]){ OFF(rcv_saddr) }, 1,
		 "eq w4 on the IPv4 images: rcv_saddr found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, AF_INET, 4, 4, w_daddr4, out);
	is_cands(c, out, (size_t[]){ OFF(daddr) }, 1,
		 "eq w4 on the IPv4 images: daddr found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 2, 2, w_num, out);
	is_cands(c, out, (size_t[]){ OFF(num) }, 1, "eq w2: num (host order) found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 2, 2, w_dport, out);
	is_cands(c, out, (size_t[]){ OFF(dport) }, 1,
		 "eq w2: dport (network order) found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 2, 2, w_dport_host, out);
	is_cands(c, out, NULL, 0, "eq w2: the remote port in host order is nowhere");
	c = sc_search(s, sc_mixed, img, N_MIXED, AF_INET6, 16, 4, w_saddr6, out);
	is_cands(c, out, (size_t[]){ OFF(v6_rcv_saddr) }, 1,
		 "eq w16 on the IPv6 images: v6_rcv_saddr found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, AF_INET6, 16, 8, w_daddr6, out);
	is_cands(c, out, (size_t[]){ OFF(v6_daddr) }, 1,
		 "eq w16 align 8 on the IPv6 images: v6_daddr found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 8, 8, w_prot, out);
	is_cands(c, out, (size_t[]){ OFF(prot) }, 1,
		 "eq w8: prot (TCP / TCPv6 by family) found at its offset");
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 8, 8, w_cookie, out);
	is_cands(c, out, (size_t[]){ OFF(cookie) }, 1,
		 "eq w8: a per-image value (cookie) found at its offset");
	for (size_t w = 1; w <= 16; w *= 2) {
		c = sc_search(s, sc_mixed, img, N_MIXED, 0, w, 1, w_absent, out);
		is_cands(c, out, NULL, 0, "eq w%zu align 1: a value no field holds: no candidate",
			 w);
		tap_is_u64(out[0], SENTINEL, "eq w%zu: no candidate, nothing stored", w);
	}

	/* one image that disagrees rules a field out */
	s[4].family = AF_INET6;
	img[4] = put_image(4, &s[4], SC_LEN);
	c = sc_search(s, sc_mixed, img, N_MIXED, 0, 2, 2, w_family, out);
	is_cands(c, out, NULL, 0, "eq w2: family wrong in one image: no candidate");
	c = sc_search(s, sc_mixed, img, 4, 0, 2, 2, w_family, out);
	is_cands(c, out, (size_t[]){ OFF(family) }, 1,
		 "eq w2: the images before the wrong one still agree on family");

	/* ---- loopback only: fields that always hold the same value stay ambiguous ---- */
	sc_images(sc_loop, N_LOOP, s, img);
	c = sc_search(s, sc_loop, img, N_LOOP, AF_INET, 4, 4, w_saddr4, out);
	is_cands(c, out, (size_t[]){ OFF(daddr), OFF(rcv_saddr) }, 2,
		 "eq w4 loopback: rcv_saddr == daddr, both candidates, in order");
	c = sc_search(s, sc_loop, img, N_LOOP, AF_INET, 4, 4, w_daddr4, out);
	is_cands(c, out, (size_t[]){ OFF(daddr), OFF(rcv_saddr) }, 2,
		 "eq w4 loopback: daddr == rcv_saddr, both candidates");
	c = sc_search(s, sc_loop, img, N_LOOP, AF_INET6, 16, 4, w_saddr6, out);
	is_cands(c, out, (size_t[]){ OFF(v6_daddr), OFF(v6_rcv_saddr) }, 2,
		 "eq w16 loopback: ::1 at both IPv6 addresses, both candidates");
	c = sc_search(s, sc_loop, img, N_LOOP, 0, 1, 1, w_state, out);
	is_cands(c, out, (size_t[]){ OFF(state), OFF(reuse) }, 2,
		 "eq w1 loopback: state and reuse both 1 everywhere, both candidates");
	/* with the IPv6 images too, the IPv4 fields of IPv6 sockets (filler here) rule
	 * everything out */
	c = sc_search(s, sc_loop, img, N_LOOP, 0, 4, 4, w_lo4, out);
	tap_is_u64(c, 0, "eq w4 loopback: no IPv4 address field in the IPv6 images");
	/* a fifth image where the two differ decides */
	{
		struct sc_obs more[N_LOOP + 1];

		memcpy(more, sc_loop, sizeof(sc_loop));
		more[N_LOOP] = (struct sc_obs){ AF_INET, TCP_CLOSE_WAIT, 1, "127.0.0.1",
						"127.0.0.5", 40013, 8090 };
		s[N_LOOP] = sc_of(&more[N_LOOP]);
		img[N_LOOP] = put_image(N_LOOP, &s[N_LOOP], SC_LEN);
		c = sc_search(s, more, img, N_LOOP + 1, AF_INET, 4, 4, w_saddr4, out);
		is_cands(c, out, (size_t[]){ OFF(rcv_saddr) }, 1,
			 "eq w4: one more image with another daddr decides for rcv_saddr");
		c = sc_search(s, more, img, N_LOOP + 1, AF_INET, 4, 4, w_daddr4, out);
		is_cands(c, out, (size_t[]){ OFF(daddr) }, 1,
			 "eq w4: one more image with another daddr decides for daddr");
		c = sc_search(s, more, img, N_LOOP + 1, 0, 1, 1, w_state, out);
		is_cands(c, out, (size_t[]){ OFF(state) }, 1,
			 "eq w1: one more image in CLOSE_WAIT decides for state");
	}
}

/* ---- alignment, window, lengths, max_out ----------------------------------------------------- */

static void test_window(void)
{
	struct nt_image img[4];
	const void *want[4];
	uint8_t val[4][16];
	size_t out[MAXC], c;
	const size_t len = 64;

	/* four images of 64 random bytes; value k planted where each check says */
	for (int i = 0; i < 4; i++) {
		rnd_fill(val[i], 16);
		want[i] = val[i];
		rnd_fill(slot(i, len), len);
		img[i] = (struct nt_image){ slot(i, len), len };
	}

#define PLANT(off, w)                                            \
	do {                                                     \
		for (int i_ = 0; i_ < 4; i_++)                   \
			memcpy(slot(i_, len) + (off), val[i_], (w)); \
	} while (0)
#define EQ(w, a, from, to) (clear_out(out), nt_search_eq(img, 4, want, (w), (a), (from), (to), \
							 out, MAXC))

	/* alignment */
	PLANT(21, 4);
	c = EQ(4, 4, 0, len);
	is_cands(c, out, NULL, 0, "align 4: a 4-byte value at offset 21 is not a field");
	c = EQ(4, 1, 0, len);
	is_cands(c, out, (size_t[]){ 21 }, 1, "align 1: found at 21");
	c = EQ(4, 2, 0, len);
	is_cands(c, out, NULL, 0, "align 2: not at odd 21");
	c = EQ(4, 3, 0, len);
	is_cands(c, out, (size_t[]){ 21 }, 1, "align 3: 21 is a multiple of 3");
	c = EQ(4, 0, 0, len);
	is_cands(c, out, (size_t[]){ 21 }, 1, "align 0 acts as 1");
	PLANT(42, 4);
	c = EQ(4, 2, 0, len);
	is_cands(c, out, (size_t[]){ 42 }, 1, "align 2: found at 42, not at 21");
	c = EQ(4, 4, 0, len);
	is_cands(c, out, NULL, 0, "align 4: not at 42 either");
	c = EQ(4, 1, 0, len);
	is_cands(c, out, (size_t[]){ 21, 42 }, 2, "align 1: both, in ascending order");

	/* the window [from, to): from is rounded up to the alignment, offsets stay < to */
	rnd_fill(slot(0, len), len);	/* image 0 no longer holds the old plants */
	PLANT(24, 8);
	c = EQ(8, 8, 0, len);
	is_cands(c, out, (size_t[]){ 24 }, 1, "window [0,64): found at 24");
	c = EQ(8, 8, 24, 25);
	is_cands(c, out, (size_t[]){ 24 }, 1, "window [24,25): found at 24");
	c = EQ(8, 8, 17, len);
	is_cands(c, out, (size_t[]){ 24 }, 1, "from 17 rounds up to 24: found");
	c = EQ(8, 8, 25, len);
	is_cands(c, out, NULL, 0, "from 25 rounds up to 32: not found");
	c = EQ(8, 4, 25, len);
	is_cands(c, out, NULL, 0, "from 25, align 4: starts at 28, not found");
	c = EQ(8, 8, 0, 24);
	is_cands(c, out, NULL, 0, "to 24: offset 24 is outside [0,24)");
	c = EQ(8, 8, 24, 24);
	is_cands(c, out, NULL, 0, "empty window [24,24)");
	c = EQ(8, 8, 40, 8);
	is_cands(c, out, NULL, 0, "from > to: empty");
	/* "offsets off = from, from+align, ... < to": to bounds where a field starts, and the
	 * images' len where it ends */
	c = EQ(8, 8, 0, 25);
	is_cands(c, out, (size_t[]){ 24 }, 1,
		 "to 25: the field at 24 is returned though it ends at 32 (offsets < to)");
	c = EQ(8, 8, 0, 1000);
	is_cands(c, out, (size_t[]){ 24 }, 1, "to far past every image's len: still only 24");

	/* image lengths: a field must fit in every image */
	PLANT(56, 8);
	c = EQ(8, 8, 0, len);
	is_cands(c, out, (size_t[]){ 24, 56 }, 2, "a field ending exactly at len is found");
	img[2].len = 63;
	img[2].data = slot(2, 63);
	memmove(slot(2, 63), slot(2, 64), 63);	/* the same bytes, truncated, at the guard */
	c = EQ(8, 8, 0, len);
	is_cands(c, out, (size_t[]){ 24 }, 1,
		 "image 2 one byte shorter: the field at 56 does not fit, not returned");
	c = EQ(8, 1, 0, len);
	is_cands(c, out, (size_t[]){ 24 }, 1, "align 1: no offset past len-width of image 2");
	img[2].len = 32;
	img[2].data = slot(2, 32);
	memmove(slot(2, 32), slot(2, 63), 32);
	c = EQ(8, 8, 0, len);
	is_cands(c, out, (size_t[]){ 24 }, 1, "image 2 of 32 bytes: 24 still fits exactly");
	img[2].len = 31;
	img[2].data = slot(2, 31);
	memmove(slot(2, 31), slot(2, 32), 31);
	c = EQ(8, 8, 0, len);
	is_cands(c, out, NULL, 0, "image 2 of 31 bytes: nothing fits");
	img[2].len = 0;
	img[2].data = slot(2, 0);
	c = EQ(1, 1, 0, len);
	is_cands(c, out, NULL, 0, "an empty image: nothing fits");
#undef EQ
#undef PLANT
}

static void test_max_out(void)
{
	struct nt_image img[3];
	const uint8_t zero[8] = { 0 };
	const void *want[3] = { zero, zero, zero };
	size_t out[MAXC], all[MAXC], c;
	bool ok = true;

	/* all-zero images of 100 bytes: every aligned offset matches */
	for (int i = 0; i < 3; i++) {
		memset(slot(i, 100), 0, 100);
		img[i] = (struct nt_image){ slot(i, 100), 100 };
	}
	clear_out(all);
	c = nt_search_eq(img, 3, want, 4, 4, 0, 100, all, MAXC);
	for (size_t i = 0; i < 25; i++)
		ok &= all[i] == 4 * i;
	tap_ok(c == 25 && ok, "zero images: 25 candidates 0,4,...,96 (got %zu)", c);

	clear_out(out);
	c = nt_search_eq(img, 3, want, 4, 4, 0, 100, out, 3);
	tap_is_u64(c, 25, "max_out 3: still returns the count, 25");
	tap_ok(out[0] == 0 && out[1] == 4 && out[2] == 8, "max_out 3: the first three stored");
	tap_is_u64(out[3], SENTINEL, "max_out 3: nothing stored past out[2]");
	c = nt_search_eq(img, 3, want, 4, 4, 0, 100, NULL, 0);
	tap_is_u64(c, 25, "max_out 0, out NULL: counts without storing");
	clear_out(out);
	c = nt_search_eq(img, 3, want, 4, 4, 0, 100, out, 25);
	tap_ok(c == 25 && out[24] == 96 && out[25] == SENTINEL, "max_out == count: all stored");
	clear_out(out);
	c = nt_search_eq(img, 3, want, 8, 1, 0, 100, out, 8);
	tap_ok(c == 93 && out[7] == 7 && out[8] == SENTINEL,
	       "w8 align 1: 93 candidates (0..92), 8 stored (got %zu)", c);
	/* images of different lengths cap the count at the shortest */
	img[1] = (struct nt_image){ slot(1, 50), 50 };
	clear_out(out);
	c = nt_search_eq(img, 3, want, 4, 4, 0, 100, out, MAXC);
	tap_ok(c == 12 && out[11] == 44 && out[12] == SENTINEL,
	       "one image of 50 bytes: 12 candidates, the last at 44 (got %zu)", c);
}

/* ---- nt_search with a predicate -------------------------------------------------------------- */

struct rec_ctx {
	const struct nt_image *img;
	size_t n, width, align, from, to;
	long calls, bad;
	const uint8_t *want;	/* one byte per image */
};

/* Checks what it is called with, then compares the first byte. */
static bool match_rec(size_t i, const uint8_t *field, void *ctx)
{
	struct rec_ctx *c = ctx;
	size_t off;

	c->calls++;
	if (i >= c->n) {
		c->bad++;
		return false;
	}
	off = (size_t)(field - c->img[i].data);
	if (field < c->img[i].data || off + c->width > c->img[i].len || off % c->align ||
	    off < c->from || off >= c->to)
		c->bad++;
	return field[0] == c->want[i];
}

/*
 * snd_una as guess.c finds it: snd_una - bytes_acked is the same in every image (mod 2^32),
 * whatever the initial sequence number; the predicate reads image 0 at the same offset.
 */
struct una_ctx {
	const struct nt_image *img;
	const uint64_t *acked;
	const uint32_t *write_seq;	/* known (TCP_REPAIR) */
	const uint32_t *inflight;
};

static bool match_una(size_t i, const uint8_t *field, void *ctx)
{
	const struct una_ctx *c = ctx;
	size_t off = (size_t)(field - c->img[i].data);
	uint32_t v = (uint32_t)nt_load_uint(field, 4);
	uint32_t v0 = (uint32_t)nt_load_uint(c->img[0].data + off, 4);

	if (!c->inflight[i] && v != c->write_seq[i])
		return false;
	return (uint32_t)(v - (uint32_t)c->acked[i]) == (uint32_t)(v0 - (uint32_t)c->acked[0]);
}

static bool match_never(size_t i, const uint8_t *field, void *ctx)
{
	(void)i;
	(void)field;
	(*(long *)ctx)++;
	return false;
}

/* ---- a tcp_sock-like struct ------------------------------------------------------------------ */

struct fake_tcp_sock {
	uint8_t icsk[48];	/* inet_connection_sock: filler */
	uint16_t tcp_header_len;
	uint16_t advmss;	/* tcpi_advmss */
	uint32_t segs_in;	/* tcpi_segs_in */
	uint32_t data_segs_in;	/* decoy: == segs_in in every image */
	uint32_t rcv_nxt;
	uint64_t bytes_received;	/* tcpi_bytes_received */
	uint32_t segs_out;	/* tcpi_segs_out */
	uint32_t data_segs_out;	/* decoy: == segs_out in the first two images */
	uint64_t bytes_sent;	/* decoy: == bytes_acked when nothing is in flight */
	uint64_t bytes_acked;	/* tcpi_bytes_acked */
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t write_seq;
	uint32_t rtt_seq;
	uint32_t srtt_us;	/* tcpi_rtt << 3, plus fraction bits */
	uint32_t mdev_us;	/* tcpi_rttvar << 2, plus fraction bits */
	uint32_t mdev_max_us;	/* decoy: == mdev_us in the even images */
	uint32_t rtt_hint;	/* decoy: >> 3 == tcpi_rtt in the first three images */
	uint32_t total_retrans;	/* tcpi_total_retrans */
	uint32_t retrans_out;	/* decoy: == total_retrans in the first four images */
	uint8_t ecn_flags;
	uint8_t wscale;		/* snd_wscale << 4 | rcv_wscale */
	uint16_t mss_cache;
	uint32_t lsndtime;
	uint8_t rest[64];	/* filler */
};

#define N_TCP 6
#define TOFF(f) offsetof(struct fake_tcp_sock, f)

struct tcp_obs {
	uint64_t bytes_acked, bytes_received;
	uint32_t segs_in, segs_out, rtt, rttvar, total_retrans, inflight, advmss;
	uint8_t snd_wscale, rcv_wscale;
};

static void tcp_images(struct tcp_obs *t, struct fake_tcp_sock *s, struct nt_image *img)
{
	const uint32_t isn = 0xfffff000u;	/* sequence numbers wrap in the middle */

	for (uint32_t i = 0; i < N_TCP; i++) {
		struct fake_tcp_sock *p = &s[i];

		t[i] = (struct tcp_obs){
			.bytes_acked = 5000000000ULL + 1448ULL * i * i,
			.bytes_received = ((uint64_t)(i & 1) << 32) + 1000 * i + 17,
			.segs_in = 10 + 7 * i,
			.segs_out = 12 + 5 * i,
			.rtt = 50 + 13 * i,
			.rttvar = 25 + 3 * i,
			.total_retrans = i,
			.inflight = i == 3 ? 1448 : 0,
			.advmss = 1400 + 8 * i,
			.snd_wscale = (uint8_t)(7 + i),
			.rcv_wscale = 7,
		};
		rnd_fill(p, sizeof(*p));
		p->advmss = (uint16_t)t[i].advmss;
		p->segs_in = t[i].segs_in;
		p->data_segs_in = t[i].segs_in;
		p->bytes_received = t[i].bytes_received;
		p->segs_out = t[i].segs_out;
		p->data_segs_out = i < 2 ? t[i].segs_out : t[i].segs_out - i;
		p->bytes_acked = t[i].bytes_acked;
		p->bytes_sent = t[i].bytes_acked + t[i].inflight;
		p->snd_una = isn + 1 + (uint32_t)t[i].bytes_acked;
		p->snd_nxt = p->snd_una + t[i].inflight;
		p->write_seq = p->snd_nxt;
		p->rtt_seq = p->snd_una - 1448 * (i & 1);
		p->srtt_us = t[i].rtt << 3 | (i & 7);
		p->mdev_us = t[i].rttvar << 2 | (i & 3);
		p->mdev_max_us = i % 2 ? p->mdev_us + 40 : p->mdev_us;
		p->rtt_hint = i < 3 ? (t[i].rtt << 3) + 2 : (t[i].rtt << 3) + 64;
		p->total_retrans = t[i].total_retrans;
		p->retrans_out = i < 4 ? t[i].total_retrans : 0;
		p->wscale = (uint8_t)(t[i].snd_wscale << 4 | t[i].rcv_wscale);
		img[i] = put_image((int)i, p, sizeof(*p));
	}
}

static size_t tcp_search(const struct nt_image *img, size_t n, const struct tcp_obs *t,
			 uint64_t (*val)(const struct tcp_obs *), size_t width, unsigned int shift,
			 size_t *out)
{
	uint64_t want[MAX_IMG];

	for (size_t i = 0; i < n; i++)
		want[i] = val(&t[i]);
	clear_out(out);
	return nt_search_uint(img, n, want, width, shift, 0, sizeof(struct fake_tcp_sock), out,
			      MAXC);
}

static uint64_t v_acked(const struct tcp_obs *t) { return t->bytes_acked; }
static uint64_t v_received(const struct tcp_obs *t) { return t->bytes_received; }
static uint64_t v_segs_in(const struct tcp_obs *t) { return t->segs_in; }
static uint64_t v_segs_out(const struct tcp_obs *t) { return t->segs_out; }
static uint64_t v_rtt(const struct tcp_obs *t) { return t->rtt; }
static uint64_t v_rttvar(const struct tcp_obs *t) { return t->rttvar; }
static uint64_t v_retrans(const struct tcp_obs *t) { return t->total_retrans; }
static uint64_t v_advmss(const struct tcp_obs *t) { return t->advmss; }
static uint64_t v_snd_ws(const struct tcp_obs *t) { return t->snd_wscale; }
static uint64_t v_acked_lo(const struct tcp_obs *t) { return (uint32_t)t->bytes_acked; }

static void test_tcp_sock(void)
{
	struct fake_tcp_sock s[N_TCP];
	struct nt_image img[N_TCP], sub[N_TCP];
	struct tcp_obs t[N_TCP];
	size_t out[MAXC], c, m;

	tcp_images(t, s, img);

	c = tcp_search(img, N_TCP, t, v_acked, 8, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(bytes_acked) }, 1,
		 "uint w8: bytes_acked found; bytes_sent differs in the image with data in flight");
	{
		struct tcp_obs tsub[N_TCP];

		for (size_t i = m = 0; i < N_TCP; i++)
			if (!t[i].inflight) {
				tsub[m] = t[i];
				sub[m++] = img[i];
			}
		c = tcp_search(sub, m, tsub, v_acked, 8, 0, out);
		is_cands(c, out, (size_t[]){ TOFF(bytes_sent), TOFF(bytes_acked) }, 2,
			 "uint w8 without the in-flight image: bytes_sent and bytes_acked both");
	}
	c = tcp_search(img, N_TCP, t, v_received, 8, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(bytes_received) }, 1,
		 "uint w8: bytes_received (some values above 2^32) found");
	/* a width-4 search knows nothing of fields: the low half of a u64 is a u32 to it */
	c = tcp_search(img, N_TCP, t, v_acked_lo, 4, 0, out);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	is_cands(c, out, (size_t[]){ TOFF(bytes_acked) }, 1,
		 "uint w4: the low 32 bits of bytes_acked match its first half (little endian)");
#else
	is_cands(c, out, (size_t[]){ TOFF(bytes_acked) + 4 }, 1,
		 "uint w4: the low 32 bits of bytes_acked match its second half (big endian)");
#endif
	c = tcp_search(img, N_TCP, t, v_segs_in, 4, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(segs_in), TOFF(data_segs_in) }, 2,
		 "uint w4: segs_in == data_segs_in everywhere: both candidates");
	c = tcp_search(img, N_TCP, t, v_segs_out, 4, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(segs_out) }, 1,
		 "uint w4: segs_out found; data_segs_out equal in two images only");
	c = tcp_search(img, 2, t, v_segs_out, 4, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(segs_out), TOFF(data_segs_out) }, 2,
		 "uint w4 on the first two images only: segs_out and data_segs_out");
	c = tcp_search(img, N_TCP, t, v_retrans, 4, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(total_retrans) }, 1,
		 "uint w4: total_retrans found; retrans_out equal in four images only");
	c = tcp_search(img, 4, t, v_retrans, 4, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(total_retrans), TOFF(retrans_out) }, 2,
		 "uint w4 on four images: total_retrans and retrans_out");

	/* shifted: the kernel keeps srtt_us << 3 and mdev_us << 2 */
	c = tcp_search(img, N_TCP, t, v_rtt, 4, 3, out);
	is_cands(c, out, (size_t[]){ TOFF(srtt_us) }, 1,
		 "uint w4 shift 3: srtt_us >> 3 == tcpi_rtt, fraction bits ignored");
	c = tcp_search(img, 3, t, v_rtt, 4, 3, out);
	is_cands(c, out, (size_t[]){ TOFF(srtt_us), TOFF(rtt_hint) }, 2,
		 "uint w4 shift 3 on three images: the decoy rtt_hint matches too");
	c = tcp_search(img, N_TCP, t, v_rtt, 4, 0, out);
	is_cands(c, out, NULL, 0, "uint w4 shift 0: tcpi_rtt itself is stored nowhere");
	c = tcp_search(img, N_TCP, t, v_rtt, 4, 2, out);
	is_cands(c, out, NULL, 0, "uint w4 shift 2: the wrong shift finds nothing");
	c = tcp_search(img, N_TCP, t, v_rttvar, 4, 2, out);
	is_cands(c, out, (size_t[]){ TOFF(mdev_us) }, 1,
		 "uint w4 shift 2: mdev_us >> 2 == tcpi_rttvar; mdev_max_us only in half");
	c = tcp_search(img, N_TCP, t, v_advmss, 2, 0, out);
	is_cands(c, out, (size_t[]){ TOFF(advmss) }, 1, "uint w2: advmss found");
	c = tcp_search(img, N_TCP, t, v_snd_ws, 1, 4, out);
	is_cands(c, out, (size_t[]){ TOFF(wscale) }, 1,
		 "uint w1 shift 4: snd_wscale, the high nibble of a byte");

	/* the window, with the natural alignment of the width */
	{
		uint64_t want[N_TCP];

		for (size_t i = 0; i < N_TCP; i++)
			want[i] = t[i].rtt;
		c = nt_search_uint(img, N_TCP, want, 4, 3, TOFF(srtt_us), TOFF(srtt_us) + 1, out,
				   MAXC);
		is_cands(c, out, (size_t[]){ TOFF(srtt_us) }, 1,
			 "uint window [srtt_us, srtt_us+1): found");
		c = nt_search_uint(img, N_TCP, want, 4, 3, TOFF(srtt_us) + 1, sizeof(s[0]), out,
				   MAXC);
		tap_ok(c == 0, "uint from srtt_us+1 (rounded up to +4): not found");
		c = nt_search_uint(img, N_TCP, want, 4, 3, 0, TOFF(srtt_us), out, MAXC);
		tap_ok(c == 0, "uint to == srtt_us: not found");
		c = nt_search_uint(img, N_TCP, want, 4, 3, 0, sizeof(s[0]), NULL, 0);
		tap_is_u64(c, 1, "uint max_out 0: counts 1");
	}

	/* the natural alignment: a u16 at an odd offset and a u64 at a 4-aligned one */
	{
		uint8_t *d[3];
		uint64_t w16[3] = { 0x1234, 0x2345, 0x3456 };
		uint64_t w64[3] = { 0x1122334455667788ULL, 0x2233445566778899ULL, 3 };
		size_t k;

		for (k = 0; k < 3; k++) {
			d[k] = slot((int)k, 64);
			rnd_fill(d[k], 64);
			store_uint(d[k] + 13, 2, w16[k]);
			store_uint(d[k] + 36, 8, w64[k]);
			store_uint(d[k] + 56, 8, w64[k]);
			sub[k] = (struct nt_image){ d[k], 64 };
		}
		c = nt_search_uint(sub, 3, w16, 2, 0, 0, 64, out, MAXC);
		tap_ok(c == 0, "uint w2: a value at odd offset 13 is not a u16 field");
		clear_out(out);
		c = nt_search_uint(sub, 3, w64, 8, 0, 0, 64, out, MAXC);
		is_cands(c, out, (size_t[]){ 56 }, 1, "uint w8: 36 is not 8-aligned, 56 is");
		clear_out(out);
		c = nt_search_uint(sub, 3, w64, 8, 0, 0, 57, out, MAXC);
		is_cands(c, out, (size_t[]){ 56 }, 1, "uint w8: field at 56 ends at len 64");
		sub[1].len = 63;
		sub[1].data = slot(1, 63);
		memmove(slot(1, 63), d[1], 63);
		c = nt_search_uint(sub, 3, w64, 8, 0, 0, 64, out, MAXC);
		tap_ok(c == 0, "uint w8: one image of 63 bytes: 56 no longer fits");
	}
}

static void test_predicate(void)
{
	struct fake_tcp_sock s[N_TCP];
	struct nt_image img[N_TCP];
	struct tcp_obs t[N_TCP];
	uint64_t acked[N_TCP];
	uint32_t write_seq[N_TCP], inflight[N_TCP];
	size_t out[MAXC], c;

	tcp_images(t, s, img);
	for (size_t i = 0; i < N_TCP; i++) {
		acked[i] = t[i].bytes_acked;
		write_seq[i] = s[i].write_seq;
		inflight[i] = t[i].inflight;
	}
	{
		struct una_ctx u = { img, acked, write_seq, inflight };

		clear_out(out);
		c = nt_search(img, N_TCP, 4, 4, 0, sizeof(s[0]), match_una, &u, out, MAXC);
		is_cands(c, out, (size_t[]){ TOFF(snd_una) }, 1,
			 "predicate: snd_una - bytes_acked constant (seq wraps): snd_una only");
		clear_out(out);
		c = nt_search(img, 3, 4, 4, 0, sizeof(s[0]), match_una, &u, out, MAXC);
		is_cands(c, out,
			 (size_t[]){ TOFF(snd_una), TOFF(snd_nxt), TOFF(write_seq) }, 3,
			 "predicate, three images, nothing in flight: snd_una, snd_nxt, write_seq");
	}

	/* what the predicate is called with: valid i, fields inside images, aligned, in window */
	{
		const size_t lens[4] = { 200, 150, 180, 199 };
		struct nt_image im[4];
		uint8_t want[4];
		struct rec_ctx r;

		for (int i = 0; i < 4; i++) {
			rnd_fill(slot(i, lens[i]), lens[i]);
			im[i] = (struct nt_image){ slot(i, lens[i]), lens[i] };
			want[i] = (uint8_t)(0xa0 + i);
			slot(i, lens[i])[96] = want[i];
			slot(i, lens[i])[140] = want[i];
		}
		r = (struct rec_ctx){ im, 4, 8, 4, 10, 300, 0, 0, want };
		clear_out(out);
		c = nt_search(im, 4, 8, 4, 10, 300, match_rec, &r, out, MAXC);
		is_cands(c, out, (size_t[]){ 96, 140 }, 2,
			 "predicate sees image i's own field: the per-image byte found at 96, 140");
		tap_ok(r.calls > 0 && r.bad == 0,
		       "predicate only called with i < n and aligned fields inside the image and "
		       "window (%ld calls, %ld bad)", r.calls, r.bad);
		r = (struct rec_ctx){ im, 4, 16, 1, 0, 1000, 0, 0, want };
		c = nt_search(im, 4, 16, 1, 0, 1000, match_rec, &r, NULL, 0);
		tap_ok(r.bad == 0, "predicate, w16 align 1, to past every len: no call past len-16 "
		       "(%ld calls, %ld bad)", r.calls, r.bad);
		tap_is_u64(c, 1, "w16: 96 fits, 140 not in the 150-byte image (140+16 > 150)");
	}

	/* no images: "for every image" holds vacuously, the predicate is never called */
	{
		long calls = 0;

		c = nt_search(img, 0, 4, 4, 0, 64, match_never, &calls, NULL, 0);
		tap_ok(c == 16 && calls == 0,
		       "no images: every aligned offset of [0,64) qualifies (got %zu, %ld calls)",
		       c, calls);
		c = nt_search(img, N_TCP, 4, 4, 0, 64, match_never, &calls, NULL, 0);
		tap_ok(c == 0 && calls == 16,
		       "a predicate that never matches: none, called once per offset (%ld calls)",
		       calls);
	}
}

/* ---- randomized layouts against a naive reference -------------------------------------------- */

struct ref_eq {
	const void *const *want;
	size_t width;
};

static bool ref_match_eq(size_t i, const uint8_t *p, void *ctx)
{
	const struct ref_eq *r = ctx;

	return !memcmp(p, r->want[i], r->width);
}

struct ref_uint {
	const uint64_t *want;
	size_t width;
	unsigned int shift;
};

static bool ref_match_uint(size_t i, const uint8_t *p, void *ctx)
{
	const struct ref_uint *r = ctx;

	return ref_load(p, r->width) >> r->shift == r->want[i];
}

/* Every offset of [0, to), kept when in the window, aligned and matching in all images. */
static size_t ref_search(const struct nt_image *img, size_t n, size_t width, size_t align,
			 size_t from, size_t to, nt_match_fn m, void *ctx, size_t *out)
{
	size_t count = 0;

	for (size_t off = 0; off < to; off++) {
		bool ok = off >= from && off % align == 0;

		for (size_t i = 0; ok && i < n; i++)
			ok = off + width <= img[i].len && m(i, img[i].data + off, ctx);
		if (ok && count < MAXC)
			out[count] = off;
		count += ok;
	}
	return count;
}

struct field {
	size_t off, width;
};

/* Non-overlapping naturally aligned fields (16 bytes: 8-aligned) with random gaps. */
static size_t random_layout(size_t L, const size_t *widths, size_t nw, struct field *f,
			    size_t max)
{
	size_t nf = 0, cur = rnd_below(8);

	while (nf < max) {
		size_t w = widths[rnd_below(nw)], a = w > 8 ? 8 : w;

		cur += rnd_below(3) ? 0 : rnd_below(12);
		cur = (cur + a - 1) / a * a;
		if (cur + w > L)
			break;
		f[nf++] = (struct field){ cur, w };
		cur += w;
	}
	return nf;
}

/* A random window that usually is the whole struct. */
static void random_window(size_t L, size_t off, size_t *from, size_t *to)
{
	*from = 0;
	*to = L;
	if (!rnd_below(4))
		*from = rnd_below(off + 2);
	if (!rnd_below(4))
		*to = rnd_below(L + 24);
}

struct prop_stats {
	long searches, mismatch, missed, admitted, unique;
};

/* Compares one search with the reference and checks that the true field is there. */
static void prop_check(struct prop_stats *st, const char *what, size_t round, size_t got,
		       const size_t *out, size_t max_out, size_t ref, const size_t *rout,
		       bool admitted, size_t off)
{
	size_t stored = got < max_out ? got : max_out;
	bool same = got == ref && !memcmp(out, rout, stored * sizeof(*out)) &&
		    (stored == MAXC || out[stored] == SENTINEL);
	bool has = false;

	st->searches++;
	for (size_t k = 0; k < ref && k < MAXC; k++)
		has |= rout[k] == off;
	if (!same && st->mismatch++ < 5) {
		char g[300], w[300];

		fmt_list(g, sizeof(g), out, stored);
		fmt_list(w, sizeof(w), rout, ref < MAXC ? ref : MAXC);
		tap_diag("  %s round %zu: got %zu [%s] (max_out %zu), reference %zu [%s]", what,
			 round, got, g, max_out, ref, w);
	}
	if (admitted) {
		st->admitted++;
		if (!has && st->missed++ < 5)
			tap_diag("  %s round %zu: field at %zu not found", what, round, off);
		st->unique += ref == 1 && has;
	}
}

static void prop_report(const struct prop_stats *st, const char *what, long rounds)
{
	tap_ok(st->mismatch == 0, "%s: %ld searches in %ld random layouts agree with the reference "
	       "(count, stored prefix, max_out)", what, st->searches, rounds);
	tap_ok(st->missed == 0, "%s: every field found at its offset when it fits (%ld)", what,
	       st->admitted);
	tap_ok(st->admitted > st->searches / 2 && st->unique * 100 >= st->admitted * 97,
	       "%s: exactly one candidate for %ld of %ld fields (no decoy coincides)", what,
	       st->unique, st->admitted);
}

#define PROP_ROUNDS 1500
#define MAX_FIELDS 160

/* Random bytes, L of them per image, or fewer: some copies are cut short. */
static void random_images(size_t n, size_t L, struct nt_image *img)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = rnd_below(5) ? L : L - rnd_below(L / 3 + 1);

		rnd_fill(slot((int)i, len), len);
		img[i] = (struct nt_image){ slot((int)i, len), len };
	}
}

/* Writes a field's value into image i, the bytes of it that fit. */
static void write_field(const struct nt_image *img, size_t i, size_t off, const uint8_t *v,
			size_t w)
{
	for (size_t k = 0; k < w; k++)
		if (off + k < img[i].len)
			((uint8_t *)img[i].data)[off + k] = v[k];
}

static bool fits(const struct nt_image *img, size_t n, size_t off, size_t w)
{
	for (size_t i = 0; i < n; i++)
		if (off + w > img[i].len)
			return false;
	return true;
}

static void test_prop_eq(void)
{
	static const size_t widths[] = { 1, 2, 4, 8, 16 };
	struct prop_stats st = { 0 };
	struct field f[MAX_FIELDS];
	struct nt_image img[MAX_IMG];
	uint8_t val[MAX_IMG][16];
	const void *want[MAX_IMG];
	size_t out[MAXC], rout[MAXC];

	for (size_t i = 0; i < MAX_IMG; i++)
		want[i] = val[i];
	for (size_t r = 0; r < PROP_ROUNDS; r++) {
		size_t L = 24 + rnd_below(1000), n = 2 + rnd_below(7);
		size_t nf = random_layout(L, widths, 5, f, MAX_FIELDS);
		uint8_t vals[MAX_FIELDS][MAX_IMG][16];

		random_images(n, L, img);
		/* values distinct across images, written into every image (truncated: in part) */
		for (size_t j = 0; j < nf; j++) {
			for (size_t i = 0; i < n; i++) {
				bool dup;

				do {
					rnd_fill(vals[j][i], f[j].width);
					dup = false;
					for (size_t k = 0; k < i; k++)
						dup |= !memcmp(vals[j][k], vals[j][i], f[j].width);
				} while (dup);
				write_field(img, i, f[j].off, vals[j][i], f[j].width);
			}
		}
		for (size_t j = 0; j < nf; j++) {
			size_t w = f[j].width, a, from, to, max_out, got, ref;
			struct ref_eq re = { want, w };

			/* natural alignment, or 1, or 4 for 16-byte fields */
			a = w > 8 ? (rnd_below(2) ? 8 : 4) : w;
			if (!rnd_below(4))
				a = 1;
			random_window(L, f[j].off, &from, &to);
			max_out = rnd_below(3) ? MAXC : rnd_below(4);
			for (size_t i = 0; i < n; i++)
				memcpy(val[i], vals[j][i], w);
			clear_out(out);
			got = nt_search_eq(img, n, want, w, a, from, to, max_out ? out : NULL,
					   max_out);
			ref = ref_search(img, n, w, a, from, to, ref_match_eq, &re, rout);
			prop_check(&st, "eq", r, got, out, max_out, ref, rout,
				   f[j].off >= from && f[j].off < to && fits(img, n, f[j].off, w),
				   f[j].off);
		}
	}
	prop_report(&st, "random eq", PROP_ROUNDS);
}

static void test_prop_uint(void)
{
	static const size_t widths[] = { 1, 2, 4, 8 };
	struct prop_stats st = { 0 };
	struct field f[MAX_FIELDS];
	struct nt_image img[MAX_IMG];
	size_t out[MAXC], rout[MAXC];

	for (size_t r = 0; r < PROP_ROUNDS; r++) {
		size_t L = 24 + rnd_below(1000), n = 2 + rnd_below(7);
		size_t nf = random_layout(L, widths, 4, f, MAX_FIELDS);

		random_images(n, L, img);
		for (size_t j = 0; j < nf; j++) {
			size_t w = f[j].width, from, to, max_out, got, ref;
			unsigned int shift = (unsigned int)(w == 1 ? rnd_below(4) : rnd_below(9));
			uint64_t want[MAX_IMG], vmask;
			struct ref_uint ru;

			vmask = w == 8 ? UINT64_MAX >> shift : ((uint64_t)1 << (8 * w - shift)) - 1;
			for (size_t i = 0; i < n; i++) {
				uint8_t b[8];
				bool dup;

				do {
					want[i] = rnd() & vmask;
					dup = false;
					for (size_t k = 0; k < i; k++)
						dup |= want[k] == want[i];
				} while (dup);
				/* the low bits below the shift are noise, like srtt_us's */
				store_uint(b, w, want[i] << shift |
						 (rnd() & (((uint64_t)1 << shift) - 1)));
				write_field(img, i, f[j].off, b, w);
			}
			random_window(L, f[j].off, &from, &to);
			max_out = rnd_below(3) ? MAXC : rnd_below(4);
			ru = (struct ref_uint){ want, w, shift };
			clear_out(out);
			got = nt_search_uint(img, n, want, w, shift, from, to, max_out ? out : NULL,
					     max_out);
			ref = ref_search(img, n, w, w, from, to, ref_match_uint, &ru, rout);
			prop_check(&st, "uint", r, got, out, max_out, ref, rout,
				   f[j].off >= from && f[j].off < to && fits(img, n, f[j].off, w),
				   f[j].off);
		}
	}
	prop_report(&st, "random uint", PROP_ROUNDS);
}

int main(void)
{
	slots_init();
	test_load_uint();
	test_is_kernel_ptr();
	test_sock_common();
	test_window();
	test_max_out();
	test_tcp_sock();
	test_predicate();
	test_prop_eq();
	test_prop_uint();
	return tap_done();
}
