// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_options_parse(): the input is split on NUL bytes into the arguments after
 * argv[0] ("nettracer"), at most MAX_ARGS of them, each in a buffer of its own
 * exact size. Checked besides memory safety:
 *   - an error is one printable line on err starting "nettracer: ", nothing on out;
 *     --help/--version print to out only; success prints nothing;
 *   - on success every value is within the documented limits and every string
 *     option points into argv (or is the default);
 *   - "unknown option X" names an unknown option (X is not a valid one, or an
 *     argument holding a byte that no option has);
 *   - getopt is fully reset by each call: parsing the same arguments again, after a
 *     call that left glibc's getopt in the middle of an argument, gives the same
 *     result, options and messages.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "options.h"

#define MAX_ARGS 64

struct run {
	enum nt_parse_result res;
	struct nt_options o;
	char *out;
	char *err;
	size_t out_len;
	size_t err_len;
};

static void run_parse(struct run *r, int argc, char *const *args)
{
	char **argv = malloc((size_t)(argc + 1) * sizeof(*argv));
	FILE *out, *err;

	if (!argv)
		abort();
	/* getopt_long permutes argv: every run gets its own copy of the pointers */
	memcpy(argv, args, (size_t)argc * sizeof(*argv));
	argv[argc] = NULL;
	memset(r, 0, sizeof(*r));
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	if (!out || !err)
		abort();
	nt_options_init(&r->o);
	r->res = nt_options_parse(&r->o, argc, argv, out, err);
	fclose(out);
	fclose(err);
	free(argv);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Leaves glibc's getopt in the middle of an argument, or with permutation state. */
static void dirty_getopt(unsigned int how)
{
	static char a0[] = "nettracer", a1[] = "-Vdj", a2[] = "stray", a3[] = "-t", a4[] = "--bpf",
		    a5[] = "-vvL", a6[] = "--json";
	char *const argvs[][4] = {
		{ a0, a1, NULL, NULL },	/* EXIT at 'V', nextchar at "dj" */
		{ a0, a2, a5, a3 },	/* a non-option, a cluster, a missing value */
		{ a0, a4, NULL, NULL },	/* a long option without its value */
		{ a0, a6, a2, NULL },	/* ends with an unexpected argument */
	};
	static const int argcs[] = { 2, 4, 2, 3 };
	struct run r;

	how %= sizeof(argcs) / sizeof(argcs[0]);
	run_parse(&r, argcs[how], argvs[how]);
	run_free(&r);
}

static bool one_error_line(const struct run *r)
{
	if (r->out_len != 0 || r->err_len < 12 || strncmp(r->err, "nettracer: ", 11))
		return false;
	for (size_t i = 0; i < r->err_len - 1; i++) {
		unsigned char c = (unsigned char)r->err[i];

		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return r->err[r->err_len - 1] == '\n';
}

/* A string option: NULL, the default (a literal of options.c), or a pointer into one of
 * the arguments. */
static bool points_into_args(const char *s, const char *def, int argc, char *const *argv,
			     const size_t *lens)
{
	if (!s)
		return true;
	for (int i = 0; i < argc; i++)
		if (s >= argv[i] && s <= argv[i] + lens[i])
			return true;
	return def && !strcmp(s, def);
}

static const char *const long_names[] = {
	"table", "json", "interval", "log-dir", "no-log-file", "verbose", "version", "help", "bpf",
	"btf", "no-loopback", "max-conns", "ringbuf-size", "duration", "probe", "guess",
	"guess-cache", "guess-hide", "guess-via", "hook",
};

#define N_LONG (int)(sizeof(long_names) / sizeof(long_names[0]))

/* printable()'s \xNN escapes undone; false when the text was cut ("...") */
static bool unescape(const char *s, size_t n, char *dst, size_t cap)
{
	size_t k = 0;

	if (n >= 3 && !memcmp(s + n - 3, "...", 3))
		return false;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
			dst[k++] = (char)strtol((char[]){ s[i + 2], s[i + 3], 0 }, NULL, 16);
			i += 3;
		} else {
			dst[k++] = s[i];
		}
	}
	dst[k] = '\0';
	return true;
}

/*
 * "unknown option ..." must name what is unknown: a long name that is not one of the
 * options, a short option character that is not one, or a byte no option has, written
 * -\xNN when it is not printable, that an option cluster holds.
 */
static void check_unknown(const struct run *r, int argc, char *const *argv)
{
	static const char pre[] = "nettracer: unknown option ", post[] = " (see --help)\n";
	const char *what = r->err + sizeof(pre) - 1;
	size_t n;
	char text[300];

	if (r->err_len < sizeof(pre) + sizeof(post) - 2 || strncmp(r->err, pre, sizeof(pre) - 1))
		return;
	n = r->err_len - (sizeof(pre) - 1) - (sizeof(post) - 1);
	if (strcmp(what + n, post))
		return;
	if (n > 2 && !strncmp(what, "--", 2)) {
		if (!unescape(what + 2, n - 2, text, sizeof(text)))
			return;
		for (int i = 0; i < N_LONG; i++)
			FUZZ_CHECK(strcmp(text, long_names[i]), "'%s' called unknown", r->err);
		return;
	}
	if (n == 2 && what[0] == '-' && what[1] > ' ' && what[1] < 0x7f) {
		FUZZ_CHECK(!strchr("djtlLvVh", what[1]), "'%s': a valid short option", r->err);
		return;
	}
	if (n == 5 && !strncmp(what, "-\\x", 3)) {
		unsigned int b;

		FUZZ_CHECK(sscanf(what + 3, "%2x", &b) == 1 && (b <= ' ' || b >= 0x7f),
			   "'%s': not an unprintable byte", r->err);
		/* an option cluster (not a long option) must hold that byte */
		for (int i = 1; i < argc; i++)
			if (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i] + 1, (int)b))
				return;
		fuzz_fail("'%.*s' names a byte no option cluster holds", (int)r->err_len - 1,
			  r->err);
	}
	fuzz_fail("'%.*s' names no unknown option", (int)r->err_len - 1, r->err);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void check_same(const struct run *a, const struct run *b)
{
	const struct nt_options *x = &a->o, *y = &b->o;

	FUZZ_CHECK(a->res == b->res, "second parse: result %d, first %d", b->res, a->res);
	FUZZ_CHECK(a->out_len == b->out_len && !memcmp(a->out, b->out, a->out_len),
		   "second parse printed other output");
	FUZZ_CHECK(a->err_len == b->err_len && !memcmp(a->err, b->err, a->err_len),
		   "second parse printed another error: '%s' vs '%s'", b->err, a->err);
	if (a->res != NT_PARSE_OK)
		return;
	FUZZ_CHECK(x->action == y->action && x->mode == y->mode && x->bpf == y->bpf &&
			   x->interval_ms == y->interval_ms && x->duration_ms == y->duration_ms &&
			   x->log_file == y->log_file && x->verbose == y->verbose &&
			   x->no_loopback == y->no_loopback && x->max_conns == y->max_conns &&
			   x->ringbuf_bytes == y->ringbuf_bytes &&
			   x->guess_trigger == y->guess_trigger && x->n_hook == y->n_hook &&
			   str_eq(x->log_dir, y->log_dir) && str_eq(x->btf_path, y->btf_path) &&
			   str_eq(x->guess_cache, y->guess_cache) &&
			   str_eq(x->guess_hide, y->guess_hide),
		   "second parse gave other options");
	for (int i = 0; i < x->n_hook; i++)
		FUZZ_CHECK(!strcmp(x->hook[i].name, y->hook[i].name) &&
				   !strcmp(x->hook[i].kind, y->hook[i].kind),
			   "second parse gave another hook %d", i);
}

static void check_ok(const struct run *r, int argc, char *const *argv, const size_t *lens)
{
	const struct nt_options *o = &r->o;

	FUZZ_CHECK(!r->out_len && !r->err_len, "success, yet something was printed");
	FUZZ_CHECK(o->mode <= NT_MODE_JSON && o->bpf <= NT_BPF_LEGACY &&
			   o->action <= NT_ACTION_GUESS,
		   "enum out of range");
	FUZZ_CHECK(!(o->mode == NT_MODE_TABLE && o->action == NT_ACTION_GUESS),
		   "--table with --guess accepted");
	FUZZ_CHECK(o->interval_ms >= 100 && o->interval_ms <= 86400ULL * 1000,
		   "interval %llu ms out of range", (unsigned long long)o->interval_ms);
	FUZZ_CHECK(o->duration_ms <= 366ULL * 86400 * 1000, "duration %llu ms out of range",
		   (unsigned long long)o->duration_ms);
	FUZZ_CHECK(o->max_conns >= 1024 && o->max_conns <= (16u << 20), "max_conns %u",
		   o->max_conns);
	FUZZ_CHECK(o->ringbuf_bytes >= 4096 && o->ringbuf_bytes <= (1u << 30) &&
			   !(o->ringbuf_bytes & (o->ringbuf_bytes - 1)),
		   "ringbuf %u", o->ringbuf_bytes);
	FUZZ_CHECK(o->verbose >= 0 && o->n_hook >= 0 && o->n_hook <= 8, "counts");
	for (int i = 0; i < o->n_hook; i++) {
		size_t nl = strnlen(o->hook[i].name, sizeof(o->hook[i].name));
		size_t kl = strnlen(o->hook[i].kind, sizeof(o->hook[i].kind));

		FUZZ_CHECK(nl > 0 && nl < sizeof(o->hook[i].name) && kl > 0 &&
				   kl < sizeof(o->hook[i].kind),
			   "hook %d: name or kind empty or unterminated", i);
		FUZZ_CHECK(!strchr(o->hook[i].name, '='), "hook %d: name holds '='", i);
	}
	FUZZ_CHECK(o->log_dir && *o->log_dir, "empty log dir accepted");
	FUZZ_CHECK(!o->btf_path || *o->btf_path, "empty btf path accepted");
	FUZZ_CHECK(!o->guess_cache || *o->guess_cache, "empty guess cache accepted");
	FUZZ_CHECK(points_into_args(o->log_dir, NT_DEFAULT_LOG_DIR, argc, argv, lens) &&
			   points_into_args(o->btf_path, NULL, argc, argv, lens) &&
			   points_into_args(o->guess_cache, NT_DEFAULT_GUESS_CACHE, argc, argv,
					    lens) &&
			   points_into_args(o->guess_hide, NULL, argc, argv, lens),
		   "a string option points outside argv");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned int iteration;
	char *argv[MAX_ARGS + 1];
	size_t lens[MAX_ARGS + 1];
	struct run a, b;
	int argc = 0;
	size_t start = 0;

	argv[argc] = fuzz_strndup((const uint8_t *)"nettracer", 9);
	lens[argc++] = 9;
	while (size && argc <= MAX_ARGS) {
		const uint8_t *nul = memchr(data + start, 0, size - start);
		size_t end = nul ? (size_t)(nul - data) : size;

		argv[argc] = fuzz_strndup(data + start, end - start);
		lens[argc++] = end - start;
		if (!nul)
			break;
		start = end + 1;
	}

	run_parse(&a, argc, argv);
	switch (a.res) {
	case NT_PARSE_OK:
		check_ok(&a, argc, argv, lens);
		break;
	case NT_PARSE_EXIT:
		FUZZ_CHECK(!a.err_len && a.out_len, "--help/--version: err used or out empty");
		FUZZ_CHECK(!strncmp(a.out, "nettracer ", 10) || !strncmp(a.out, "Usage: ", 7),
			   "--help/--version printed something else");
		break;
	case NT_PARSE_ERROR:
		FUZZ_CHECK(one_error_line(&a), "error is not one printable line on err: '%s'",
			   a.err ? a.err : "");
		check_unknown(&a, argc, argv);
		break;
	default:
		fuzz_fail("result %d", a.res);
	}

	dirty_getopt(iteration++);
	run_parse(&b, argc, argv);
	check_same(&a, &b);

	run_free(&a);
	run_free(&b);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
