// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_parse_seconds() and nt_parse_size() against a reference written for clarity
 * (128-bit arithmetic, no early exits). Input: one control byte (bit 0: which
 * parser; bits 1-2: which range: the two the options use, or min and max from the
 * next 16 bytes), then the string. Checked besides memory safety:
 *   - success: the value equals the reference's and is within [min, max];
 *   - failure: the reference fails too and *why is one of the documented reasons,
 *     and the right one: "too small"/"too large" exactly when a well-formed value is
 *     out of range ("too large" also for digits that exceed max before a bad byte).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "options.h"

typedef unsigned __int128 u128;

#define BIG ((u128)UINT64_MAX + 1)	/* saturation: anything above UINT64_MAX */

static u128 sat_digit(u128 n, char c)
{
	n = n * 10 + (u128)(c - '0');
	return n > BIG ? BIG : n;
}

/* 1: well-formed, value in *v (saturated at BIG); 0: not a number */
static int ref_seconds(const char *s, u128 *v, u128 *lead)
{
	u128 whole = 0, frac_ms = 0;
	const char *p = s;
	int digits = 0, fd = 0;

	for (; isdigit((unsigned char)*p); p++, digits++)
		whole = sat_digit(whole, *p);
	*lead = whole;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, digits++, fd++)
			if (fd < 3)
				frac_ms = frac_ms * 10 + (u128)(*p - '0');
	for (; fd < 3; fd++)
		frac_ms *= 10;
	if (!digits || *p)
		return 0;
	*v = whole * 1000 + frac_ms;
	return 1;
}

static int ref_size(const char *s, u128 *v, u128 *lead)
{
	u128 n = 0, mult = 1;
	const char *p = s;

	*lead = 0;
	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++)
		n = sat_digit(n, *p);
	*lead = n;
	switch (*p) {
	case 'k':
	case 'K':
		mult = 1ULL << 10, p++;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20, p++;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30, p++;
		break;
	}
	if (*p)
		return 0;
	*v = n * mult;
	return 1;
}

static void check(int seconds, const char *s, uint64_t min, uint64_t max)
{
	const char *why = NULL, *not_number = seconds ? "not a number of seconds" : "not a number";
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;
	u128 ref = 0, lead = 0;
	int rc, ok;

	if (seconds)
		rc = nt_parse_seconds(s, min, max, &v, &why);
	else
		rc = nt_parse_size(s, min, max, &v, &why);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (!s || !*s) {
		FUZZ_CHECK(rc == -1 && why && !strcmp(why, "empty"), "empty string: rc %d", rc);
		return;
	}
	ok = seconds ? ref_seconds(s, &ref, &lead) : ref_size(s, &ref, &lead);
	if (rc == 0) {
		FUZZ_CHECK(v >= min && v <= max, "'%s': %llu outside [%llu, %llu]", s,
			   (unsigned long long)v, (unsigned long long)min, (unsigned long long)max);
		FUZZ_CHECK(ok && ref == v, "'%s': parsed as %llu, reference %s %llu", s,
			   (unsigned long long)v, ok ? "says" : "rejects it;",
			   (unsigned long long)(ref > UINT64_MAX ? UINT64_MAX : ref));
		return;
	}
	FUZZ_CHECK(why, "'%s': failure without a reason", s);
	FUZZ_CHECK(!strcmp(why, "negative") || !strcmp(why, not_number) ||
			   !strcmp(why, "too large") || !strcmp(why, "too small"),
		   "'%s': unknown reason '%s'", s, why);
	if (ok) {
		bool small = ref < min, large = ref > max;

		FUZZ_CHECK(small || large, "'%s': reference accepts %llu in [%llu, %llu]; why '%s'",
			   s, (unsigned long long)ref, (unsigned long long)min,
			   (unsigned long long)max, why);
		FUZZ_CHECK((!strcmp(why, "too small") && small) ||
				   (!strcmp(why, "too large") && large),
			   "'%s': %llu in [%llu, %llu] rejected as '%s'", s,
			   (unsigned long long)(ref > UINT64_MAX ? UINT64_MAX : ref),
			   (unsigned long long)min, (unsigned long long)max, why);
		return;
	}
	if (!strcmp(why, "negative")) {
		bool neg = s[0] == '-' &&
			   (isdigit((unsigned char)s[1]) || (seconds && s[1] == '.'));

		FUZZ_CHECK(neg, "'%s': called negative", s);
		return;
	}
	if (!strcmp(why, "too large")) {
		/* the integer part alone is already too large: said before the bad byte is seen */
		FUZZ_CHECK(seconds ? lead > max / 1000 : lead > max,
			   "'%s': not a number, yet called too large", s);
		return;
	}
	FUZZ_CHECK(!strcmp(why, not_number), "'%s': not a number, yet called '%s'", s, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ranges[2][2][2] = {
		/* size: --max-conns, --ringbuf-size */
		{ { 1024, 16ULL << 20 }, { 4096, 1ULL << 30 } },
		/* seconds: --interval, --duration */
		{ { 100, 86400ULL * 1000 }, { 1, 366ULL * 86400 * 1000 } },
	};
	struct fuzz_in in = { data, size };
	uint8_t ctl = fuzz_u8(&in);
	int seconds = ctl & 1, r = (ctl >> 1) & 3;
	uint64_t min, max;
	char *s;

	if (r < 2) {
		min = ranges[seconds][r][0];
		max = ranges[seconds][r][1];
	} else {
		min = fuzz_u64(&in);
		max = fuzz_u64(&in);
		if (r == 2 && min > max) {	/* mostly sane ranges, sometimes inverted ones */
			uint64_t t = min;

			min = max;
			max = t;
		}
	}
	s = fuzz_strndup(in.p, in.n);
	check(seconds, s, min, max);
	if (!*s)
		check(seconds, NULL, min, max);
	free(s);
	return 0;
}
