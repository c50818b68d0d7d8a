/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The offset guesser: a state machine that makes TCP connections with known
 * parameters in private network namespaces and finds, in copies of the kernel's
 * own structs, where each field the legacy programs read is kept.
 */
#ifndef NT_GUESS_H
#define NT_GUESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nt_offsets.h"

struct nt_guess_opts {
	bool use_trigger;	/* read kernel memory through the syscall trigger, not test runs */
	const char *hide;	/* fields to pretend not to find, comma-separated (tests) */
	uint64_t time_limit_ms;	/* 0: NT_GUESS_TIME_LIMIT_MS */
};

#define NT_GUESS_TIME_LIMIT_MS 5000

enum nt_guess_status {
	NT_GS_NOT_TRIED = 0,
	NT_GS_FOUND,
	NT_GS_MISSING,		/* no offset fits every observation */
	NT_GS_AMBIGUOUS,	/* several do */
	NT_GS_SKIPPED,		/* not looked for (optional part unavailable) */
};

struct nt_guess_field {
	enum nt_guess_status status;
	uint32_t offset;
	uint32_t candidates;
	char why[160];
};

#define NT_GUESS_MAX_WARNINGS 8

struct nt_guess_result {
	struct nt_offsets off;
	struct nt_guess_field field[NT_OFF__COUNT];
	uint64_t elapsed_us;
	uint64_t peeks;
	uint32_t connections;
	bool from_cache;
	char capture_via[64];
	char peek_via[64];
	char error[512];	/* set when guessing failed: names the field and the reason */
	char warnings[NT_GUESS_MAX_WARNINGS][200];
	int n_warnings;
};

/* 0 with r->off filled, or -1 with r->error set. Leaves nothing behind either way. */
int nt_guess_run(const struct nt_guess_opts *o, struct nt_guess_result *r);
const char *nt_guess_field_name(int field);
/* The NT_HAVE_* bit an optional field belongs to, 0 for a required one. */
uint32_t nt_guess_field_part(int field);
/* Human-readable table, or {"field":offset,...} with null for fields not found. */
void nt_guess_print(FILE *f, const struct nt_guess_result *r, bool json);

/* Offsets cached per kernel release and boot: 0 when path held a valid entry. */
int nt_guess_cache_load(const char *path, struct nt_guess_result *r);
int nt_guess_cache_store(const char *path, const struct nt_guess_result *r);

#endif
