// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_guess_cache_load(path, result): the offsets cache of the legacy variant. It reads
 * a path, so each input is written to a temporary file (one per process, read through
 * /proc/self/fd) and loaded twice:
 *   - raw: the input is the whole file (seeds begin with this machine's header);
 *   - shim: the real header of the running system ("nettracer-offsets 1", "kernel
 *     <uname -r>", "boot <boot_id>") followed by the input, so that the body is
 *     reached whatever the mutations do to a header.
 * Checked besides memory safety, when a load succeeds: every required field was
 * found, each found offset fits 16 bits and is in both places of the result, every
 * other field is optional and marked skipped, "have" claims only parts whose fields
 * are all there (as nt_guess_run() guarantees); and what nt_guess_cache_store() writes
 * of the result loads back to the same offsets, "have" bits and tcp_prot addresses.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "guess.h"
#include "sysutil.h"

#define MAGIC "nettracer-offsets 1"

/*
 * The input file is unlinked at once and read through /proc/self/fd/N (fuzz_input_open());
 * the store file exists only during a round trip: a crash leaves nothing behind in TMPDIR.
 */
static const char *input_path;
static char store_path[4096];
static char header[512];
static size_t header_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TMPDIR");
	char release[128], boot[64];

	(void)argc;
	(void)argv;
	if (!dir || !*dir)
		dir = "/tmp";
	if (nt_kernel_release(release, sizeof(release)) || nt_boot_id(boot, sizeof(boot))) {
		fprintf(stderr, "fuzz_cache_load: cannot read uname -r or the boot id\n");
		exit(1);
	}
	header_len = (size_t)snprintf(header, sizeof(header), MAGIC "\nkernel %s\nboot %s\n",
				      release, boot);
	input_path = fuzz_input_open("nt-fuzz-cache");
	snprintf(store_path, sizeof(store_path), "%s/nt-fuzz-store.%d", dir, (int)getpid());
	return 0;
}

static void check_loaded(const struct nt_guess_result *r)
{
	const uint32_t parts = NT_HAVE_V6 | NT_HAVE_RTT | NT_HAVE_FDWALK | NT_HAVE_PROT;

	FUZZ_CHECK(r->from_cache, "loaded, not marked from_cache");
	/*
	 * What nt_guess_run() guarantees, and what the legacy programs rely on: a part in
	 * "have" has all its fields (else they read offset 0), and no other bits.
	 */
	FUZZ_CHECK(!(r->off.have & ~parts), "have %#x: unknown bits", r->off.have);
	for (int i = 0; i < NT_OFF__COUNT; i++)
		FUZZ_CHECK(r->field[i].status == NT_GS_FOUND ||
				   !(r->off.have & nt_guess_field_part(i)),
			   "have %#x, yet %s is not in the cache", r->off.have,
			   nt_guess_field_name(i));
	for (int i = 0; i < NT_OFF__COUNT; i++) {
		const struct nt_guess_field *f = &r->field[i];

		FUZZ_CHECK(memchr(f->why, 0, sizeof(f->why)), "%s: why unterminated",
			   nt_guess_field_name(i));
		if (f->status == NT_GS_FOUND) {
			FUZZ_CHECK(f->offset <= 65535 && r->off.off[i] == f->offset,
				   "%s: offset %u, off[] %u", nt_guess_field_name(i), f->offset,
				   r->off.off[i]);
		} else {
			FUZZ_CHECK(f->status == NT_GS_SKIPPED && nt_guess_field_part(i),
				   "%s: required, status %d", nt_guess_field_name(i), f->status);
			FUZZ_CHECK(r->off.off[i] == 0, "%s: skipped, off[] %u",
				   nt_guess_field_name(i), r->off.off[i]);
		}
	}
}

static void round_trip(const struct nt_guess_result *r)
{
	struct nt_guess_result *back = malloc(sizeof(*back));
	int stored, loaded = -1;

	if (!back)
		abort();
	stored = nt_guess_cache_store(store_path, r);
	if (!stored)
		loaded = nt_guess_cache_load(store_path, back);
	unlink(store_path);
	FUZZ_CHECK(!stored, "cannot store what was loaded");
	FUZZ_CHECK(!loaded, "what was stored does not load");
	check_loaded(back);
	for (int i = 0; i < NT_OFF__COUNT; i++)
		FUZZ_CHECK(back->field[i].status == r->field[i].status &&
				   back->off.off[i] == r->off.off[i],
			   "%s: %d/%u after the round trip, %d/%u before", nt_guess_field_name(i),
			   back->field[i].status, back->off.off[i], r->field[i].status,
			   r->off.off[i]);
	FUZZ_CHECK(back->off.have == r->off.have && back->off.tcp_prot == r->off.tcp_prot &&
			   back->off.tcpv6_prot == r->off.tcpv6_prot,
		   "have/tcp_prot/tcpv6_prot changed in the round trip");
	free(back);
}

static void print_both(const struct nt_guess_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	nt_guess_print(f, r, true);
	nt_guess_print(f, r, false);
	fclose(f);
	free(buf);
}

static void load(void)
{
	struct nt_guess_result *r = malloc(sizeof(*r));

	if (!r)
		abort();
	if (!nt_guess_cache_load(input_path, r)) {
		check_loaded(r);
		print_both(r);
		round_trip(r);
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_write(data, size, NULL, 0);
	load();
	fuzz_input_write(header, header_len, data, size);
	load();
	return 0;
}
