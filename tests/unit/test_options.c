// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Unit tests of src/user/options.c: nt_options_parse() with every option, good and bad
 * values, and the strict number parsers nt_parse_seconds() and nt_parse_size().
 * An error must be exactly one printable line on the err stream and nothing on out.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"
#include "tap.h"

#define MAX_ARGS 16

struct run {
	enum nt_parse_result res;
	struct nt_options o;
	char *out;
	char *err;
	size_t out_len;
	size_t err_len;
	char cmdline[256];	/* the arguments, for descriptions */
};

/* Forget getopt's state (optind = 0 re-initialises glibc's getopt, including __nextchar). */
static void getopt_reset(void)
{
	char *argv[] = { (char *)"reset", NULL };

	optind = 0;
	getopt(1, argv, ":");
}

static void describe(char *dst, size_t len, const char *const *args)
{
	size_t n = (size_t)snprintf(dst, len, "nettracer");

	for (; *args && n < len; args++)
		n += (size_t)snprintf(dst + n, len - n, (*args)[0] ? " %s" : " ''", *args);
}

/* Parses "nettracer ARGS..." (args: NULL-terminated) with out and err in memory. */
static void run_args_raw(struct run *r, const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	FILE *out, *err;

	memset(r, 0, sizeof(*r));
	describe(r->cmdline, sizeof(r->cmdline), args);
	argv[argc++] = (char *)"nettracer";
	for (; *args && argc <= MAX_ARGS; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;

	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	if (!out || !err) {
		perror("open_memstream");
		exit(99);
	}
	nt_options_init(&r->o);
	r->res = nt_options_parse(&r->o, argc, argv, out, err);
	fclose(out);
	fclose(err);
}

static void run_args(struct run *r, const char *const *args)
{
	run_args_raw(r, args);
	getopt_reset();
}

#define RUN(r, ...) run_args((r), (const char *const[]){ __VA_ARGS__, NULL })

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static void run_diag(const struct run *r)
{
	tap_diag("  %s: result %d", r->cmdline, r->res);
	tap_diag_str("out", r->out, r->out_len);
	tap_diag_str("err", r->err, r->err_len);
}

/* An error: result ERROR, nothing on out, exactly one printable line on err. */
static bool one_error_line(const struct run *r)
{
	size_t i;

	if (r->res != NT_PARSE_ERROR || r->out_len != 0 || r->err_len < 2)
		return false;
	if (strncmp(r->err, "nettracer: ", 11))
		return false;
	for (i = 0; i < r->err_len - 1; i++) {
		unsigned char c = (unsigned char)r->err[i];

		if (c < 0x20 || c >= 0x7f)
			return false;	/* a second line, or a control byte in the line */
	}
	return r->err[r->err_len - 1] == '\n';
}

static void check_good(struct run *r, bool cond, const char *what)
{
	bool ok = r->res == NT_PARSE_OK && r->out_len == 0 && r->err_len == 0 && cond;

	if (!tap_ok(ok, "%s: %s", r->cmdline, what))
		run_diag(r);
}

/* cond may use o, the parsed options */
#define GOOD(cond, what, ...)                                                                   \
	do {                                                                                    \
		struct run run_;                                                                \
		const struct nt_options *o;                                                     \
		RUN(&run_, __VA_ARGS__);                                                        \
		o = &run_.o;                                                                    \
		check_good(&run_, (cond), (what));                                              \
		run_free(&run_);                                                                \
	} while (0)

/* ---- defaults and good values ---------------------------------------------------------------- */

static void test_defaults(void)
{
	struct run r;
	const struct nt_options *o = &r.o;
	bool ok;

	run_args(&r, (const char *const[]){ NULL });
	ok = r.res == NT_PARSE_OK && !r.out_len && !r.err_len && o->action == NT_ACTION_TRACE &&
	     o->mode == NT_MODE_LOG && o->bpf == NT_BPF_AUTO && o->interval_ms == 5000 &&
	     o->duration_ms == 0 && !strcmp(o->log_dir, "log") && o->log_file && !o->verbose &&
	     !o->btf_path && !o->no_loopback && o->max_conns == 262144 &&
	     o->ringbuf_bytes == 4u << 20;
	if (!tap_ok(ok, "no arguments: OK with the documented defaults (log mode, 5 s, ./log, "
			"262144 conns, 4 MiB ring buffer)"))
		run_diag(&r);
	run_free(&r);

	GOOD(o->mode == NT_MODE_LOG, "a lone -- is accepted", "--");
}

static void test_modes(void)
{
	GOOD(o->mode == NT_MODE_TABLE, "table mode", "-d");
	GOOD(o->mode == NT_MODE_TABLE, "table mode", "--table");
	GOOD(o->mode == NT_MODE_TABLE, "table mode (given twice)", "-d", "--table");
	GOOD(o->mode == NT_MODE_JSON, "JSON mode", "-j");
	GOOD(o->mode == NT_MODE_JSON, "JSON mode", "--json");
	GOOD(o->action == NT_ACTION_PROBE && o->mode == NT_MODE_LOG, "probe action", "--probe");
}

static void test_interval(void)
{
	GOOD(o->interval_ms == 2000, "interval 2000 ms", "-t", "2");
	GOOD(o->interval_ms == 2000, "interval 2000 ms", "-t2");
	GOOD(o->interval_ms == 2000, "interval 2000 ms", "--interval", "2");
	GOOD(o->interval_ms == 500, "interval 500 ms", "--interval=0.5");
	GOOD(o->interval_ms == 100, "minimum interval 100 ms accepted", "-t", "0.1");
	GOOD(o->interval_ms == 86400000, "maximum interval one day accepted", "-t", "86400");
	GOOD(o->interval_ms == 1234, "sub-millisecond digits truncated", "-t", "1.2345");
	GOOD(o->interval_ms == 2000, "digits beyond nanoseconds ignored", "-t", "2.0000000001");
	GOOD(o->interval_ms == 3000, "the last -t wins", "-t", "2", "-t", "3");
}

static void test_duration(void)
{
	GOOD(o->duration_ms == 1000, "duration 1000 ms", "--duration=1");
	GOOD(o->duration_ms == 500, "duration 500 ms", "--duration", "0.5");
	GOOD(o->duration_ms == 1, "minimum duration 1 ms accepted", "--duration=0.001");
	GOOD(o->duration_ms == 366ULL * 86400 * 1000, "maximum duration 366 days accepted",
	     "--duration=31622400");
}

static void test_strings_and_flags(void)
{
	GOOD(!strcmp(o->log_dir, "/tmp/nt logs") && o->log_file, "log dir set", "-l",
	     "/tmp/nt logs");
	GOOD(!strcmp(o->log_dir, "d"), "log dir set", "--log-dir=d");
	GOOD(!strcmp(o->log_dir, "d"), "log dir set", "--log-dir", "d");
	GOOD(!o->log_file && !strcmp(o->log_dir, "log"), "log file off", "-L");
	GOOD(!o->log_file, "log file off", "--no-log-file");
	GOOD(o->verbose == 1, "verbose 1", "-v");
	GOOD(o->verbose == 1, "verbose 1", "--verbose");
	GOOD(o->verbose == 2, "verbose 2", "-vv");
	GOOD(o->verbose == 3, "verbose 3", "-v", "--verbose", "-v");
	GOOD(o->bpf == NT_BPF_AUTO, "bpf auto", "--bpf=auto");
	GOOD(o->bpf == NT_BPF_CORE, "bpf core", "--bpf=core");
	GOOD(o->bpf == NT_BPF_CORE, "bpf core", "--bpf", "core");
	GOOD(o->bpf == NT_BPF_LEGACY, "bpf legacy", "--bpf=legacy");
	GOOD(o->btf_path && !strcmp(o->btf_path, "/x/vmlinux.btf"), "btf path set",
	     "--btf=/x/vmlinux.btf");
	GOOD(o->btf_path && !strcmp(o->btf_path, "f"), "btf path set", "--btf", "f");
	GOOD(o->no_loopback, "no_loopback set", "--no-loopback");
	GOOD(o->no_loopback, "a unique abbreviation (getopt_long) works", "--no-loop");
}

static void test_sizes(void)
{
	GOOD(o->max_conns == 1024, "minimum max-conns 1024", "--max-conns=1024");
	GOOD(o->max_conns == 1024, "max-conns 1k = 1024", "--max-conns=1k");
	GOOD(o->max_conns == 1024, "max-conns 1K = 1024", "--max-conns", "1K");
	GOOD(o->max_conns == 100000, "max-conns need not be a power of two",
	     "--max-conns=100000");
	GOOD(o->max_conns == 16u << 20, "maximum max-conns 16M", "--max-conns=16M");
	GOOD(o->max_conns == 16u << 20, "maximum max-conns 16777216", "--max-conns=16777216");
	GOOD(o->max_conns == 3u << 20, "max-conns 3m", "--max-conns=3m");

	GOOD(o->ringbuf_bytes == 4096, "minimum ring buffer 4096", "--ringbuf-size=4096");
	GOOD(o->ringbuf_bytes == 4096, "ring buffer 4k", "--ringbuf-size=4k");
	GOOD(o->ringbuf_bytes == 65536, "ring buffer 64K", "--ringbuf-size", "64K");
	GOOD(o->ringbuf_bytes == 1u << 20, "ring buffer 1m", "--ringbuf-size=1m");
	GOOD(o->ringbuf_bytes == 16u << 20, "ring buffer 16M", "--ringbuf-size=16M");
	GOOD(o->ringbuf_bytes == 8388608, "ring buffer 8388608", "--ringbuf-size=8388608");
	GOOD(o->ringbuf_bytes == 1u << 30, "maximum ring buffer 1G", "--ringbuf-size=1G");
	GOOD(o->ringbuf_bytes == 1u << 30, "maximum ring buffer 1g", "--ringbuf-size=1g");
}

static void test_combined(void)
{
	GOOD(o->mode == NT_MODE_TABLE && o->interval_ms == 2000 && o->no_loopback &&
		     o->max_conns == 2048 && o->ringbuf_bytes == 1u << 22 &&
		     o->bpf == NT_BPF_CORE && o->duration_ms == 60000 && o->verbose == 1 &&
		     !o->log_file,
	     "every option of a combined command line applied", "-d", "-t", "2", "--no-loopback",
	     "--max-conns", "2048", "--ringbuf-size=4M", "--bpf=core", "--duration=60", "-vL");
	GOOD(o->mode == NT_MODE_JSON && o->interval_ms == 500 && !o->log_file,
	     "clustered short options -jLt0.5", "-jLt0.5");
}

/* ---- --help and --version -------------------------------------------------------------------- */

static void test_exit(void)
{
	static const char *const longs[] = {
		"--table",	"--json",	  "--interval",	    "--log-dir", "--no-log-file",
		"--no-loopback", "--duration",	  "--bpf",	    "--btf",	 "--max-conns",
		"--ringbuf-size", "--probe",	  "--verbose",	    "--version", "--help",
	};
	const char *const version = "nettracer " NT_VERSION "\n";
	struct run r;
	bool ok;

	RUN(&r, "-V");
	if (!tap_ok(r.res == NT_PARSE_EXIT && r.out && !strcmp(r.out, version) && !r.err_len,
		    "-V: EXIT, prints 'nettracer VERSION' on out, nothing on err"))
		run_diag(&r);
	run_free(&r);

	RUN(&r, "-d", "--version");
	if (!tap_ok(r.res == NT_PARSE_EXIT && r.out && !strcmp(r.out, version) && !r.err_len,
		    "-d --version: EXIT with the version line"))
		run_diag(&r);
	run_free(&r);

	RUN(&r, "-h");
	ok = r.res == NT_PARSE_EXIT && !r.err_len && r.out &&
	     !strncmp(r.out, "Usage: nettracer", 16) && r.out[r.out_len - 1] == '\n';
	if (!tap_ok(ok, "-h: EXIT, usage on out, nothing on err"))
		run_diag(&r);
	ok = r.out != NULL;
	for (size_t i = 0; ok && i < sizeof(longs) / sizeof(longs[0]); i++) {
		if (!strstr(r.out, longs[i])) {
			tap_diag("  %s is not in the usage text", longs[i]);
			ok = false;
		}
	}
	tap_ok(ok, "-h: the usage text documents every long option");
	run_free(&r);

	RUN(&r, "-t", "2", "--help");
	if (!tap_ok(r.res == NT_PARSE_EXIT && !r.err_len && r.out &&
			    !strncmp(r.out, "Usage: nettracer", 16),
		    "-t 2 --help: EXIT with the usage text"))
		run_diag(&r);
	run_free(&r);
}

/* ---- errors ---------------------------------------------------------------------------------- */

struct bad_case {
	const char *args[4];
	const char *must[3];	/* substrings the error line must contain; "!x": must not */
};

static const struct bad_case bad_cases[] = {
	/* -t/--interval */
	{ { "-t", "-1" }, { "-t/--interval", "negative" } },
	{ { "--interval=-0.5" }, { "-t/--interval", "negative" } },
	{ { "-t", "0" }, { "'0'", "too small" } },
	{ { "-t", "0.09" }, { "-t/--interval", "too small" } },
	{ { "-t", "0.0999" }, { "-t/--interval", "too small" } },
	{ { "-t", "86400.001" }, { "-t/--interval", "too large" } },
	{ { "-t", "86401" }, { "-t/--interval", "too large" } },
	{ { "-t", "99999999999999999999999999" }, { "-t/--interval", "too large" } },
	{ { "-t", "18446744073709551617" }, { "-t/--interval", "too large" } },
	{ { "-t", "abc" }, { "'abc'", "-t/--interval" } },
	{ { "--interval=" }, { "-t/--interval", "empty" } },
	{ { "-t", "" }, { "-t/--interval", "empty" } },
	{ { "-t", "5s" }, { "'5s'", "-t/--interval" } },
	{ { "-t", "5ms" }, { "'5ms'", "-t/--interval" } },
	{ { "-t", "1e3" }, { "'1e3'", "-t/--interval" } },
	{ { "-t", "0x10" }, { "'0x10'", "-t/--interval" } },
	{ { "-t", " 5" }, { "-t/--interval" } },
	{ { "-t", "5 " }, { "-t/--interval" } },
	{ { "-t", "+5" }, { "'+5'", "-t/--interval" } },
	{ { "-t", "." }, { "'.'", "-t/--interval" } },
	{ { "-t", "1.2.3" }, { "'1.2.3'", "-t/--interval" } },
	{ { "-t", "1,5" }, { "'1,5'", "-t/--interval" } },
	{ { "-t", "inf" }, { "'inf'", "-t/--interval" } },
	{ { "-t", "nan" }, { "'nan'", "-t/--interval" } },
	/* --duration */
	{ { "--duration=0" }, { "--duration", "too small" } },
	{ { "--duration=0.0001" }, { "--duration", "too small" } },
	{ { "--duration=-5" }, { "--duration", "negative" } },
	{ { "--duration=31622400.001" }, { "--duration", "too large" } },
	{ { "--duration=31622401" }, { "--duration", "too large" } },
	{ { "--duration", "99999999999999999999" }, { "--duration", "too large" } },
	{ { "--duration=1h" }, { "'1h'", "--duration" } },
	{ { "--duration=" }, { "--duration", "empty" } },
	/* --max-conns */
	{ { "--max-conns=1023" }, { "--max-conns", "too small" } },
	{ { "--max-conns=0" }, { "--max-conns", "too small" } },
	{ { "--max-conns=-1024" }, { "--max-conns", "negative" } },
	{ { "--max-conns=16777217" }, { "--max-conns", "too large" } },
	{ { "--max-conns=17M" }, { "--max-conns", "too large" } },
	{ { "--max-conns=1G" }, { "--max-conns", "too large" } },
	{ { "--max-conns=99999999999999999999999" }, { "--max-conns", "too large" } },
	{ { "--max-conns=1.5k" }, { "'1.5k'", "--max-conns" } },
	{ { "--max-conns=" }, { "--max-conns", "empty" } },
	{ { "--max-conns", "abc" }, { "'abc'", "--max-conns" } },
	{ { "--max-conns=1kb" }, { "'1kb'", "--max-conns" } },
	{ { "--max-conns=2048 " }, { "--max-conns" } },
	{ { "--max-conns= 2048" }, { "--max-conns" } },
	{ { "--max-conns=+2048" }, { "--max-conns" } },
	{ { "--max-conns=0x800" }, { "--max-conns" } },
	{ { "--max-conns=k" }, { "'k'", "--max-conns" } },
	/* --ringbuf-size */
	{ { "--ringbuf-size=12288" }, { "--ringbuf-size", "not a power of two" } },
	{ { "--ringbuf-size=12k" }, { "--ringbuf-size", "not a power of two" } },
	{ { "--ringbuf-size=6M" }, { "--ringbuf-size", "not a power of two" } },
	{ { "--ringbuf-size=1048577" }, { "--ringbuf-size", "not a power of two" } },
	{ { "--ringbuf-size=2048" }, { "--ringbuf-size", "too small" } },
	{ { "--ringbuf-size=0" }, { "--ringbuf-size", "too small" } },
	{ { "--ringbuf-size=2G" }, { "--ringbuf-size", "too large" } },
	{ { "--ringbuf-size=4G" }, { "--ringbuf-size", "too large" } },
	{ { "--ringbuf-size=2147483648" }, { "--ringbuf-size", "too large" } },
	{ { "--ringbuf-size=99999999999999999999999" }, { "--ringbuf-size", "too large" } },
	{ { "--ringbuf-size=-4096" }, { "--ringbuf-size", "negative" } },
	{ { "--ringbuf-size=1.5M" }, { "'1.5M'", "--ringbuf-size" } },
	{ { "--ringbuf-size=4x" }, { "'4x'", "--ringbuf-size" } },
	{ { "--ringbuf-size=4 K" }, { "--ringbuf-size" } },
	{ { "--ringbuf-size=1T" }, { "'1T'", "--ringbuf-size" } },
	{ { "--ringbuf-size=" }, { "--ringbuf-size", "empty" } },
	/* --bpf, --btf, -l */
	{ { "--bpf=CORE" }, { "'CORE'", "--bpf" } },
	{ { "--bpf=core2" }, { "'core2'", "--bpf" } },
	{ { "--bpf", "kprobe" }, { "'kprobe'", "auto, core or legacy" } },
	{ { "--bpf=" }, { "--bpf" } },
	{ { "--btf=" }, { "--btf", "empty" } },
	{ { "-l", "" }, { "-l/--log-dir", "empty" } },
	{ { "--log-dir=" }, { "-l/--log-dir", "empty" } },
	/* -d with --json */
	{ { "-d", "--json" }, { "-d/--table", "-j/--json" } },
	{ { "--json", "-d" }, { "-d/--table", "-j/--json" } },
	{ { "--table", "-j" }, { "-d/--table", "-j/--json" } },
	{ { "-dj" }, { "-d/--table", "-j/--json" } },
	/* unknown options */
	{ { "-x" }, { "unknown option", "-x" } },
	{ { "-dq" }, { "unknown option", "-q" } },
	{ { "-d", "-q" }, { "unknown option", "-q" } },
	{ { "--frobnicate" }, { "unknown option", "--frobnicate" } },
	{ { "--frob=1" }, { "unknown option", "--frob" } },
	{ { "--no" }, { "--no" } },	/* ambiguous: --no-log-file or --no-loopback */
	/* missing values */
	{ { "-t" }, { "-t/--interval", "needs a value" } },
	{ { "-d", "-t" }, { "-t/--interval", "needs a value" } },
	{ { "--interval" }, { "-t/--interval", "needs a value" } },
	{ { "-l" }, { "-l/--log-dir", "needs a value" } },
	{ { "--log-dir" }, { "-l/--log-dir", "needs a value" } },
	{ { "--bpf" }, { "--bpf", "needs a value" } },
	{ { "--btf" }, { "--btf", "needs a value" } },
	{ { "--max-conns" }, { "--max-conns", "needs a value" } },
	{ { "--ringbuf-size" }, { "--ringbuf-size", "needs a value" } },
	{ { "--duration" }, { "--duration", "needs a value" } },
	/* stray arguments */
	{ { "foo" }, { "unexpected argument", "'foo'" } },
	{ { "-d", "foo" }, { "unexpected argument", "'foo'" } },
	{ { "foo", "-d" }, { "unexpected argument", "'foo'" } },
	{ { "-t", "2", "3" }, { "unexpected argument", "'3'" } },
	{ { "--", "-d" }, { "unexpected argument", "'-d'" } },
	{ { "-" }, { "unexpected argument", "'-'" } },
	/* a value given to a known option that takes none: named, and not called unknown */
	{ { "--json=1" }, { "--json", "!unknown" } },
	{ { "--table=x" }, { "--table", "!unknown" } },
	{ { "--probe=1" }, { "--probe", "!unknown" } },
	{ { "--no-loopback=yes" }, { "--no-loopback", "!unknown" } },
	{ { "--help=me" }, { "--help", "!unknown" } },
	{ { "--no-loop=yes" }, { "--no-loop", "!unknown" } },	/* an accepted abbreviation */
	/* user input with a newline still gives one line */
	{ { "--bpf=a\nb" }, { "--bpf" } },
	{ { "a\nb" }, { "unexpected argument" } },
	{ { "--x\ny" }, { "unknown option" } },
	/* an unprintable byte inside a cluster: the byte is named, not the argument before it */
	{ { "-\b2" }, { "unknown option -\\x08", "!nettracer (" } },
	{ { "--json", "-\x01" "d" }, { "unknown option -\\x01", "!--json" } },
	{ { "-t", "1", "- d" }, { "unknown option -\\x20" } },
	/* an abbreviated long option given a value it does not take */
	{ { "--j=" }, { "--json", "takes no value" } },
};

static const char *expectation(const struct bad_case *c)
{
	static char buf[200];
	size_t n = 0;

	for (int k = 0; k < 3 && c->must[k] && n < sizeof(buf); k++) {
		bool not = c->must[k][0] == '!';

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s %s\"%s\"", k ? "," : "",
				      not ? "not containing " : "containing ", c->must[k] + not);
	}
	return buf;
}

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct run r;
		bool ok;

		run_args(&r, c->args);
		ok = one_error_line(&r);
		if (ok) {
			/* the names must be in the message proper, not in its "(see --help)" */
			const char *see = memmem(r.err, r.err_len, " (see --help)", 13);
			size_t len = see ? (size_t)(see - r.err) : r.err_len - 1;

			for (int k = 0; k < 3 && ok && c->must[k]; k++) {
				const char *m = c->must[k] + (c->must[k][0] == '!');
				bool found = memmem(r.err, len, m, strlen(m)) != NULL;

				ok = c->must[k][0] == '!' ? !found : found;
			}
		}
		if (!tap_ok(ok, "%s: ERROR, one error line%s", r.cmdline, expectation(c)))
			run_diag(&r);
		run_free(&r);
	}
}

/*
 * nt_options_parse() resets optind itself so that it can run more than once; a parse that
 * returned in the middle of a cluster of short options must not leak into the next one.
 * Run in a child process: a stale getopt state can crash.
 */
static void test_reentrant(void)
{
	static const char *const first[] = { "-Vd", NULL };
	static const char *const second[] = { NULL };
	struct run r1, r2;
	int status = 0;
	bool ok;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		run_args_raw(&r1, first);
		run_args_raw(&r2, second);
		if (r1.res != NT_PARSE_EXIT)
			_exit(2);
		if (r2.res != NT_PARSE_OK || r2.o.mode != NT_MODE_LOG || r2.err_len || r2.out_len) {
			run_diag(&r2);
			fflush(stdout);
			_exit(1);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!tap_ok(ok, "a plain parse after one that stopped inside '-Vd' starts clean"))
		tap_diag("  child %s %d", WIFSIGNALED(status) ? "killed by signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));

	ok = true;
	for (int i = 0; i < 3; i++) {
		RUN(&r1, "-d", "-t", "0.25");
		ok &= r1.res == NT_PARSE_OK && r1.o.mode == NT_MODE_TABLE &&
		      r1.o.interval_ms == 250;
		run_free(&r1);
	}
	tap_ok(ok, "the same command line parsed three times gives the same result");
}

/* ---- nt_parse_seconds, nt_parse_size --------------------------------------------------------- */

static void seconds_ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	const char *why = NULL;
	uint64_t ms = 12345;
	int rc = nt_parse_seconds(s, min, max, &ms, &why);

	if (!tap_ok(rc == 0 && ms == want, "nt_parse_seconds(\"%s\", %" PRIu64 ", %" PRIu64
			") = %" PRIu64 " ms", s, min, max, want))
		tap_diag("  rc %d, ms %" PRIu64 ", why %s", rc, ms, why ? why : "NULL");
}

static void seconds_bad(const char *s, uint64_t min, uint64_t max, const char *want_why)
{
	const char *why = NULL;
	uint64_t ms = 12345;
	int rc = nt_parse_seconds(s, min, max, &ms, &why);

	if (!tap_ok(rc == -1 && why && !strcmp(why, want_why),
		    "nt_parse_seconds(\"%s\", %" PRIu64 ", %" PRIu64 ") fails: %s", s ? s : "NULL",
		    min, max, want_why))
		tap_diag("  rc %d, ms %" PRIu64 ", why %s", rc, ms, why ? why : "NULL");
}

static void size_ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	const char *why = NULL;
	uint64_t v = 12345;
	int rc = nt_parse_size(s, min, max, &v, &why);

	if (!tap_ok(rc == 0 && v == want, "nt_parse_size(\"%s\", %" PRIu64 ", %" PRIu64
			") = %" PRIu64, s, min, max, want))
		tap_diag("  rc %d, v %" PRIu64 ", why %s", rc, v, why ? why : "NULL");
}

static void size_bad(const char *s, uint64_t min, uint64_t max, const char *want_why)
{
	const char *why = NULL;
	uint64_t v = 12345;
	int rc = nt_parse_size(s, min, max, &v, &why);

	if (!tap_ok(rc == -1 && why && !strcmp(why, want_why) && v == 12345,
		    "nt_parse_size(\"%s\", %" PRIu64 ", %" PRIu64 ") fails: %s, value untouched",
		    s ? s : "NULL", min, max, want_why))
		tap_diag("  rc %d, v %" PRIu64 ", why %s", rc, v, why ? why : "NULL");
}

static void test_parsers(void)
{
	seconds_ok("0", 0, 1000, 0);
	seconds_ok("1", 0, 1000, 1000);
	seconds_ok("1.5", 0, 10000, 1500);
	seconds_ok("007.250", 0, 10000, 7250);
	seconds_ok("0.001", 1, 1000, 1);
	seconds_ok("0.0009", 0, 1000, 0);
	seconds_ok("3.", 0, 10000, 3000);
	seconds_ok("10", 0, 10000, 10000);
	seconds_ok("9.999", 0, 10000, 9999);
	seconds_ok("18446744073709551", 0, UINT64_MAX, 18446744073709551000ULL);
	seconds_bad(NULL, 0, 1000, "empty");
	seconds_bad("", 0, 1000, "empty");
	seconds_bad("-1", 0, 1000, "negative");
	seconds_bad("-0", 0, 1000, "negative");
	seconds_bad("10.001", 0, 10000, "too large");
	seconds_bad("11", 0, 10000, "too large");
	seconds_bad("123456789012345678901234567890", 0, 10000, "too large");
	seconds_bad("0.0999", 100, 10000, "too small");
	seconds_bad("abc", 0, 10000, "not a number of seconds");
	seconds_bad(".", 0, 10000, "not a number of seconds");
	seconds_bad("1..2", 0, 10000, "not a number of seconds");
	seconds_bad("2s", 0, 10000, "not a number of seconds");
	seconds_bad("1 ", 0, 10000, "not a number of seconds");
	/* a number of milliseconds beyond 2^64 must not wrap around to a small value */
	seconds_bad("18446744073709552", 0, UINT64_MAX, "too large");
	seconds_bad("18446744073709551.616", 0, UINT64_MAX, "too large");

	size_ok("0", 0, 10, 0);
	size_ok("10", 0, 10, 10);
	size_ok("1k", 0, 1024, 1024);
	size_ok("1K", 1024, 1024, 1024);
	size_ok("3m", 0, 1ULL << 30, 3ULL << 20);
	size_ok("2G", 0, 1ULL << 40, 2ULL << 30);
	size_ok("00012", 0, 100, 12);
	size_ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
	size_bad(NULL, 0, 10, "empty");
	size_bad("", 0, 10, "empty");
	size_bad("-1", 0, 10, "negative");
	size_bad("11", 0, 10, "too large");
	size_bad("1k", 0, 1023, "too large");
	size_bad("9", 10, 100, "too small");
	size_bad("k", 0, 10, "not a number");
	size_bad(" 1", 0, 10, "not a number");
	size_bad("1 ", 0, 10, "not a number");
	size_bad("1kk", 0, 1 << 20, "not a number");
	size_bad("1KB", 0, 1 << 20, "not a number");
	size_bad("1.5", 0, 10, "not a number");
	size_bad("1t", 0, UINT64_MAX, "not a number");
	size_bad("16E", 0, UINT64_MAX, "not a number");
	size_bad("17179869184G", 0, UINT64_MAX, "too large");
	/* 2^64 and beyond must not wrap around */
	size_bad("18446744073709551616", 0, UINT64_MAX, "too large");
	size_bad("36893488147419103233", 0, UINT64_MAX, "too large");
}

int main(void)
{
	test_defaults();
	test_modes();
	test_interval();
	test_duration();
	test_strings_and_flags();
	test_sizes();
	test_combined();
	test_exit();
	test_errors();
	test_reentrant();
	test_parsers();
	return tap_done();
}
