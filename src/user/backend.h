/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The two BPF variants behind struct nt_backend (session.h). */
#ifndef NT_BACKEND_H
#define NT_BACKEND_H

#include <stdio.h>

#include "options.h"
#include "session.h"

/* Probe hooks, load and attach the CO-RE programs. NULL after one error line. */
struct nt_backend *nt_backend_core_new(const struct nt_options *o, const char *reason);
/* --probe: print what this kernel offers for the CO-RE programs. */
int nt_backend_core_probe(const struct nt_options *o, FILE *out);

/* Guess offsets (or take them from the cache), probe hooks, load and attach the
 * legacy programs. NULL after one error line. */
struct nt_backend *nt_backend_legacy_new(const struct nt_options *o, const char *reason);
int nt_backend_legacy_probe(const struct nt_options *o, FILE *out);

/* libbpf's messages, shown with -v. */
void nt_libbpf_logging(int verbose);

#endif
