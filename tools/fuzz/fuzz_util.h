/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Small helpers shared by the libFuzzer harnesses in tools/fuzz/. Header only: each
 * harness is one translation unit compiled against the sources it exercises.
 */
#ifndef NT_FUZZ_UTIL_H
#define NT_FUZZ_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A property failed: say which, then abort() so libFuzzer saves the input as a crash. */
static inline void __attribute__((noreturn, format(printf, 1, 2))) fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz property failed: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FUZZ_CHECK(cond, ...)				\
	do {						\
		if (!(cond))				\
			fuzz_fail(__VA_ARGS__);		\
	} while (0)

/*
 * A file for harnesses of functions that read a path: made in TMPDIR (default /tmp) and
 * unlinked at once, so that a crash leaves nothing behind; read through the returned
 * /proc/self/fd/N path, written with fuzz_input_write(). Exits when it cannot be made.
 */
static int fuzz_input_fd = -1;

static inline const char *fuzz_input_open(const char *name)
{
	static char proc_path[64];
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/%s.XXXXXX", dir, name);
	fuzz_input_fd = mkstemp(path);
	if (fuzz_input_fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fuzz_input_fd);
	return proc_path;
}

/* The input file's content becomes a, then b (blen may be 0). Aborts on failure. */
static inline void fuzz_input_write(const void *a, size_t alen, const void *b, size_t blen)
{
	if (ftruncate(fuzz_input_fd, 0) ||
	    (alen && pwrite(fuzz_input_fd, a, alen, 0) != (ssize_t)alen) ||
	    (blen && pwrite(fuzz_input_fd, b, blen, (off_t)alen) != (ssize_t)blen)) {
		perror("fuzz input file");
		abort();
	}
}

/* The bytes as a C string in a buffer of exactly len + 1 bytes (ASan sees any over-read). */
static inline char *fuzz_strndup(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * What fgets(buf, size, f) would put in buf from the stream at data[*pos]: the chunk
 * up to and including '\n', at most size - 1 bytes. Its length (0 at the end), *pos
 * moved past it. The chunk may hold NUL bytes, as fgets' output may.
 */
static inline size_t fuzz_fgets_chunk(const uint8_t *data, size_t len, size_t *pos, size_t size)
{
	size_t start = *pos, n = 0;

	while (start + n < len && n < size - 1) {
		if (data[start + n++] == '\n')
			break;
	}
	*pos = start + n;
	return n;
}

/* Whether the known-bug filters are on (run.sh sets NT_FUZZ_SKIP_KNOWN=1 while fuzzing so
 * that a bug already reported in crashes/ does not hide new ones). Off: plain reproduction. */
static inline bool fuzz_skip_known(void)
{
	static int on = -1;

	if (on < 0) {
		const char *e = getenv("NT_FUZZ_SKIP_KNOWN");

		on = e && *e && strcmp(e, "0");
	}
	return on;
}

/* Consumes bytes from the front of the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

static inline void fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memset(dst, 0, len);
	memcpy(dst, in->p, n);
	in->p += n;
	in->n -= n;
}

#endif
