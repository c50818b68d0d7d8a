/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Minimal TAP producer for the unit tests: one "ok N - what" or "not ok N - what" line per
 * check, "# ..." diagnostics, the plan "1..N" at the end. tap_done() is the exit status:
 * non-zero when any check failed.
 */
#ifndef NT_TAP_H
#define NT_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failures;

/* A TAP description must stay on its line and must not start a directive ('#'). */
static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (char *p = buf; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || (c == '#' && prefix[0] != '#'))
			*p = '?';
	}
	printf("%s%s\n", prefix, buf);
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
}

/* "ok N - what # SKIP why": a check that could not run here, and why. */
static inline void tap_skip(const char *what, const char *why)
{
	char w[512], y[512];

	snprintf(w, sizeof(w), "%s", what);
	snprintf(y, sizeof(y), "%s", why);
	for (char *p = w; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '#')
			*p = '?';
	for (char *p = y; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	printf("ok %d - %s # SKIP %s\n", ++tap_count, w, y);
	fflush(stdout);
}

static inline bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool tap_ok(bool cond, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failures++;
	snprintf(prefix, sizeof(prefix), "%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	tap_vline(prefix, fmt, ap);
	va_end(ap);
	fflush(stdout);
	return cond;
}

/* Prints a string with control and non-ASCII bytes escaped, for diagnostics. */
static inline void tap_diag_str(const char *what, const char *s, size_t n)
{
	char buf[1024];
	size_t k = 0;

	for (size_t i = 0; i < n && k + 5 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\\x%02x", c);
		else
			buf[k++] = (char)c;
	}
	buf[k] = '\0';
	printf("#   %s: \"%s\"\n", what, buf);
}

static inline bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	bool cond = got && !strcmp(got, want);
	char desc[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (!tap_ok(cond, "%s", desc)) {
		if (got)
			tap_diag_str("got ", got, strlen(got));
		else
			tap_diag("  got : NULL");
		tap_diag_str("want", want, strlen(want));
	}
	return cond;
}

static inline bool tap_is_u64(uint64_t got, uint64_t want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool tap_is_u64(uint64_t got, uint64_t want, const char *fmt, ...)
{
	char desc[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (!tap_ok(got == want, "%s", desc))
		tap_diag("  got %" PRIu64 ", want %" PRIu64, got, want);
	return got == want;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failures)
		printf("# %d of %d checks failed\n", tap_failures, tap_count);
	fflush(stdout);
	return tap_failures ? 1 : 0;
}

#endif
