// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_format_field_offset(FILE *, field): the input is one control byte, then the
 * format file, read through fmemopen(). The control byte picks the field: one of
 * the names nettracer looks up (and a few neighbours), or, from 0xc0 up, the bytes
 * of the file's first line (so the fuzzer can try names of its own). Checked besides
 * memory safety: the result is the one of a reference that reads the file the same
 * way (fgets into 512 bytes, the first "field:" declaration whose last word is the
 * name or the name followed by '[', its "offset:" or -1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sysutil.h"

static const char *const fields[] = {
	"skaddr", "oldstate", "newstate", "protocol", "ret", "pid", "uattr", "usize", "flags",
	"sport", "dport", "family", "saddr", "daddr", "saddr_v6", "daddr_v6", "common_pid",
	"__syscall_nr", "common_type", "state", "err", "skbaddr",
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int reference(const uint8_t *data, size_t len, const char *field)
{
	size_t pos = 0, n, flen = strlen(field);

	while ((n = fuzz_fgets_chunk(data, len, &pos, 512))) {
		char line[512], *decl, *semi, *word, *o;

		memcpy(line, data + pos - n, n);
		line[n] = '\0';
		decl = strstr(line, "field:");
		if (!decl)
			continue;
		semi = strchr(decl, ';');
		if (!semi)
			continue;
		*semi = '\0';
		word = strrchr(decl, ' ');
		if (!word)
			continue;
		word++;
		if (strcmp(word, field) && (strncmp(word, field, flen) || word[flen] != '['))
			continue;
		o = strstr(semi + 1, "offset:");
		return o ? (int)strtol(o + 7, NULL, 10) : -1;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t ctl = fuzz_u8(&in);
	char name[64];
	const char *field;
	int got, want;
	void *copy;
	FILE *f;

	if (ctl < 0xc0) {
		field = fields[ctl % NFIELDS];
	} else {
		size_t n = 0;

		while (n < in.n && n < sizeof(name) - 1 && in.p[n] != '\n' && in.p[n])
			n++;
		if (!n)
			return 0;	/* the callers never ask for an empty name */
		memcpy(name, in.p, n);
		name[n] = '\0';
		field = name;
	}
	/* its own buffer of the exact size (glibc >= 2.22 takes a size of 0) */
	copy = malloc(in.n ? in.n : 1);
	if (!copy)
		abort();
	memcpy(copy, in.p, in.n);
	f = fmemopen(copy, in.n, "r");
	if (!f)
		abort();
	got = nt_format_field_offset(f, field);
	fclose(f);
	free(copy);
	want = reference(in.p, in.n, field);
	FUZZ_CHECK(got == want, "field '%s': offset %d, reference %d", field, got, want);
	return 0;
}
