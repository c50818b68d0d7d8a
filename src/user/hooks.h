/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Which kernel hook feeds each part of the data path, decided by real probes:
 * a two-instruction program of the candidate's type is loaded and attached to
 * the candidate's target (a program-type probe alone is not enough: tp_btf
 * loads where fentry is refused). Candidates are listed in order of
 * preference; the first that loads and attaches wins, and every other program
 * of the hook is switched off before the real object is loaded.
 */
#ifndef NT_HOOKS_H
#define NT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct bpf_object;
struct btf;

enum nt_hook_kind {
	NT_HK_TP_BTF,
	NT_HK_RAW_TP,
	NT_HK_TRACEPOINT,	/* target "category/name" */
	NT_HK_FENTRY,
	NT_HK_FEXIT,
	NT_HK_KPROBE,
	NT_HK_KRETPROBE,
	NT_HK_ITER,		/* target: iterator name, e.g. "bpf_map_elem" */
	NT_HK_TEST_RUN,		/* run by user space (BPF_PROG_TEST_RUN); target: program type */
};

struct nt_hook_candidate {
	enum nt_hook_kind kind;
	const char *target;
	const char *prog;	/* program name in the BPF object */
	/* a second program that goes with this one when its own probe passes
	 * (sys_exit_accept beside sys_exit_accept4: arm64 has only accept4) */
	const char *also_target;
	const char *also_prog;
	/* a copy of prog attached right after it, for the state changes the kernel skips
	 * in prog because they come while prog runs (nt_state_mark() in nt_tcp_body.h) */
	const char *twin_prog;
};

#define NT_HOOK_MAX_CANDIDATES 8

struct nt_hook {
	const char *name;	/* "state", "accept", "snapshot", "existing" */
	const char *purpose;
	const char *without;	/* what is lost when no candidate works; NULL: required */
	const struct nt_hook_candidate *candidates;
	size_t n_candidates;
	/* set before probing: a candidate that must not be used, and why */
	char blocked[NT_HOOK_MAX_CANDIDATES][96];
	/* results */
	int chosen;		/* index into candidates, -1: none */
	bool also;		/* chosen candidate's also_prog passed too */
	bool probed[NT_HOOK_MAX_CANDIDATES];
	char result[NT_HOOK_MAX_CANDIDATES][192];
};

struct nt_probe_env {
	const char *btf_path;		/* the running kernel's BTF, NULL if it has none */
	bool tracefs;			/* tracefs usable (mounted by us if need be) */
	char tracefs_err[160];
	unsigned int kern_version;
};

/* Fill env: kernel BTF, tracefs (mounting it if needed). */
void nt_probe_env_init(struct nt_probe_env *env, bool need_tracefs);
void nt_probe_env_free(struct nt_probe_env *env);

/* Close the probes' own perf-event attachments (kept open by nt_hooks_probe so that their
 * release does not wait for RCU): call once the real hooks are attached, or on failure. */
void nt_hooks_release_probes(void);
/* Probe candidates in order; all of them when exhaustive, else up to the first that works. */
void nt_hooks_probe(struct nt_hook *hooks, size_t n, const struct nt_probe_env *env,
		    bool exhaustive);
/* Block every candidate of hook name but those of value, a kind ("test_run") or a kind and
 * target ("test_run/raw_tp"): --hook name=value. -1 with a message in err for an unknown
 * hook or kind, or a target the hook does not have. */
int nt_hooks_restrict(struct nt_hook *hooks, size_t n, const char *name, const char *value,
		      char *err, size_t len);
/* Block classic tracepoint candidates whose record layout (tracefs format file) is not
 * the one the programs were compiled for. */
void nt_hooks_check_layouts(struct nt_hook *hooks, size_t n);
/* autoload on for the chosen programs, off for the rest. -1 if a program is missing. */
int nt_hooks_apply(const struct nt_hook *hooks, size_t n, struct bpf_object *obj);
/* "tp_btf/inet_sock_set_state", or "none" */
const char *nt_hook_choice(const struct nt_hook *h, char *buf, size_t len);
void nt_hooks_print(FILE *f, const struct nt_hook *hooks, size_t n);
const char *nt_hook_kind_name(enum nt_hook_kind kind);

#endif
