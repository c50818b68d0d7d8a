/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Command line: getopt_long, strict number parsing, one error line per bad value. */
#ifndef NT_OPTIONS_H
#define NT_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum nt_mode {
	NT_MODE_LOG = 0,	/* events and periodic metrics as log lines (default) */
	NT_MODE_TABLE,		/* -d: table of active connections */
	NT_MODE_JSON,		/* --json: one JSON object per line */
};

enum nt_bpf_choice {
	NT_BPF_AUTO = 0,
	NT_BPF_CORE,
	NT_BPF_LEGACY,
};

enum nt_action {
	NT_ACTION_TRACE = 0,
	NT_ACTION_PROBE,	/* --probe: print the hooks this kernel offers and exit */
	NT_ACTION_GUESS,	/* --guess: guess the legacy offsets, print them and exit */
};

#define NT_DEFAULT_INTERVAL_MS 5000
#define NT_DEFAULT_MAX_CONNS 262144
#define NT_DEFAULT_RINGBUF (4u << 20)	/* mapped twice: 8 MiB of RSS */
#define NT_DEFAULT_LOG_DIR "log"
#define NT_DEFAULT_GUESS_CACHE "/run/nettracer/offsets"

struct nt_options {
	enum nt_action action;
	enum nt_mode mode;
	enum nt_bpf_choice bpf;
	uint64_t interval_ms;
	uint64_t duration_ms;	/* 0: until SIGINT/SIGTERM */
	const char *log_dir;
	bool log_file;		/* logging mode writes DIR/nettracer.log too */
	int verbose;		/* -v: libbpf's own messages; -vv: debug */
	const char *btf_path;
	bool no_loopback;
	uint32_t max_conns;
	uint32_t ringbuf_bytes;
	const char *guess_cache;	/* NULL: no cache */
	const char *guess_hide;		/* tests: fields the guesser must not find */
	bool guess_trigger;		/* tests: read kernel memory through the syscall trigger */
	struct {
		char name[16];
		char kind[64];	/* KIND or KIND/TARGET */
	} hook[8];			/* --hook NAME=KIND */
	int n_hook;
};

enum nt_parse_result {
	NT_PARSE_OK = 0,
	NT_PARSE_EXIT = 1,	/* --help or --version printed: exit 0 */
	NT_PARSE_ERROR = -1,	/* one line printed to err: exit 2 */
};

void nt_options_init(struct nt_options *o);
enum nt_parse_result nt_options_parse(struct nt_options *o, int argc, char **argv, FILE *out,
				      FILE *err);
void nt_usage(FILE *out);

/* Strict parsers, exposed for tests. 0 on success, -1 with *why set to a static reason. */
int nt_parse_seconds(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms,
		     const char **why);
int nt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v, const char **why);

#endif
