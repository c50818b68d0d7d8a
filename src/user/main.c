// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nettracer: trace TCP connections with eBPF and report per-connection metrics.
 * main() picks the BPF variant, wires a backend to a session and runs it.
 */
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "guess.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "session.h"
#include "sysutil.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* CO-RE or legacy, and why: one sentence for the log. */
static int choose_variant(const struct nt_options *o, enum nt_bpf_choice *v, char *why, size_t len)
{
	bool kernel_btf = access(VMLINUX_BTF, R_OK) == 0;

	if (o->btf_path) {
		struct btf *btf = btf__parse(o->btf_path, NULL);

		if (!btf) {
			pr_err("cannot use --btf %s: %s", o->btf_path, strerror(errno));
			return -1;
		}
		btf__free(btf);
	}
	switch (o->bpf) {
	case NT_BPF_CORE:
		if (!kernel_btf && !o->btf_path) {
			pr_err("--bpf=core needs kernel BTF (%s is missing): pass --btf FILE or use "
			       "--bpf=legacy", VMLINUX_BTF);
			return -1;
		}
		*v = NT_BPF_CORE;
		snprintf(why, len, "--bpf=core, BTF from %s", o->btf_path ? o->btf_path : VMLINUX_BTF);
		return 0;
	case NT_BPF_LEGACY:
		*v = NT_BPF_LEGACY;
		snprintf(why, len, "--bpf=legacy");
		return 0;
	case NT_BPF_AUTO:
		break;
	}
	if (o->btf_path) {
		*v = NT_BPF_CORE;
		snprintf(why, len, "BTF from --btf %s", o->btf_path);
	} else if (kernel_btf) {
		*v = NT_BPF_CORE;
		snprintf(why, len, "kernel BTF at %s", VMLINUX_BTF);
	} else {
		*v = NT_BPF_LEGACY;
		snprintf(why, len, "no kernel BTF at %s and no --btf", VMLINUX_BTF);
	}
	return 0;
}

/* --guess: always a fresh guess (the cache is for starting the legacy variant). */
static int guess_and_print(const struct nt_options *o)
{
	struct nt_guess_opts gopt = { .use_trigger = o->guess_trigger, .hide = o->guess_hide };
	static struct nt_guess_result r;

	if (nt_guess_run(&gopt, &r)) {
		pr_err("%s", r.error);
		return 1;
	}
	nt_guess_print(stdout, &r, o->mode == NT_MODE_JSON);
	for (int i = 0; o->mode == NT_MODE_JSON && i < r.n_warnings; i++)
		pr_warn("%s", r.warnings[i]);
	return 0;
}

int main(int argc, char **argv)
{
	struct nt_options opt;
	struct nt_output *out = NULL;
	struct nt_backend *backend = NULL;
	struct nt_session *session = NULL;
	enum nt_bpf_choice variant;
	char msg[512], why[256];
	int rc = 1;

	nt_phase_begin();
	nt_options_init(&opt);
	switch (nt_options_parse(&opt, argc, argv, stdout, stderr)) {
	case NT_PARSE_OK:
		break;
	case NT_PARSE_EXIT:
		return 0;
	case NT_PARSE_ERROR:
		return 2;
	}
	nt_libbpf_logging(opt.verbose);

	if (nt_check_privileges(msg, sizeof(msg))) {
		pr_err("%s", msg);
		return 1;
	}
	if (opt.action == NT_ACTION_GUESS)
		return guess_and_print(&opt);
	if (choose_variant(&opt, &variant, why, sizeof(why)))
		return 1;
	if (opt.action == NT_ACTION_PROBE) {
		printf("variant: %s (%s)\n", variant == NT_BPF_CORE ? "core" : "legacy", why);
		return variant == NT_BPF_CORE ? nt_backend_core_probe(&opt, stdout)
					      : nt_backend_legacy_probe(&opt, stdout);
	}

	out = nt_output_open(&opt, msg, sizeof(msg));
	if (!out) {
		pr_err("%s", msg);
		return 1;
	}
	if (nt_output_log_path(out))
		nt_log_set_mirror(-1);	/* diagnostics stay on stderr; the log has the records */

	pr_info("BPF variant: %s (%s)", variant == NT_BPF_CORE ? "CO-RE" : "legacy", why);
	backend = variant == NT_BPF_CORE ? nt_backend_core_new(&opt, why)
					 : nt_backend_legacy_new(&opt, why);
	if (!backend)
		goto out;
	session = nt_session_new(&opt, out, backend);
	if (!session) {
		pr_err("out of memory");
		goto out;
	}
	rc = nt_session_run(session);
out:
	nt_session_free(session);
	if (backend)
		backend->destroy(backend);
	nt_output_close(out);
	return rc;
}
