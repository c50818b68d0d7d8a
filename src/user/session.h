/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * A tracing session: what both BPF variants share above the kernel. Records
 * from a backend feed the connection table; intervals take a snapshot of the
 * live connections; output sinks render it all; losses are counted and shown.
 */
#ifndef NT_SESSION_H
#define NT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nt_record.h"
#include "options.h"

struct nt_session;
struct nt_output;
struct nt_hook;

/* One BPF variant, loaded and attached. Records go to nt_session_record(). */
struct nt_backend {
	const char *variant;		/* "core" or "legacy" */
	char reason[192];		/* why this variant was taken */
	const struct nt_hook *hooks;	/* what each part of the data path runs on */
	size_t n_hooks;
	struct nt_session *session;	/* set by nt_session_new(): where records go */
	/* fd that becomes readable when the kernel wakes us (-1: none) */
	int (*event_fd)(struct nt_backend *b);
	/* hand every pending record to the session; number of records or -errno */
	int (*drain)(struct nt_backend *b);
	/* a METRICS record for every live connection; reqs are the connections user
	 * space knows (a backend that can walk the kernel's table may ignore them) */
	int (*snapshot)(struct nt_backend *b, const struct nt_snap_req *reqs, size_t n);
	/* EXISTING and LISTEN records for what was open before we attached */
	int (*existing)(struct nt_backend *b);
	int (*read_stats)(struct nt_backend *b, uint64_t stats[NT_STAT__MAX]);
	/* stop the hooks: no record after this one but those still buffered */
	void (*detach)(struct nt_backend *b);
	void (*destroy)(struct nt_backend *b);
};

struct nt_session *nt_session_new(const struct nt_options *o, struct nt_output *out,
				  struct nt_backend *backend);
void nt_session_free(struct nt_session *s);
/* Called by the backend for every record it receives. */
void nt_session_record(struct nt_session *s, const struct nt_record *r, size_t size);
/* Report what was open at start, then trace until a signal, --duration or a dead stdout.
 * Returns the process exit status. */
int nt_session_run(struct nt_session *s);

#endif
