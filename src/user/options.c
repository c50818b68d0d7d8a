// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "options.h"

#include <ctype.h>
#include <getopt.h>
#include <string.h>

#define MIN_INTERVAL_MS 100ULL
#define MAX_INTERVAL_MS (86400ULL * 1000)
#define MAX_DURATION_MS (366ULL * 86400 * 1000)
#define MIN_MAX_CONNS 1024ULL
#define MAX_MAX_CONNS (16ULL << 20)
#define MIN_RINGBUF 4096ULL
#define MAX_RINGBUF (1ULL << 30)

enum {
	OPT_BPF = 0x100,
	OPT_BTF,
	OPT_NO_LOOPBACK,
	OPT_MAX_CONNS,
	OPT_RINGBUF,
	OPT_DURATION,
	OPT_PROBE,
	OPT_GUESS,
	OPT_GUESS_CACHE,
	OPT_GUESS_HIDE,
	OPT_GUESS_VIA,
	OPT_HOOK,
};

static const struct option long_options[] = {
	{ "table", no_argument, NULL, 'd' },
	{ "json", no_argument, NULL, 'j' },
	{ "interval", required_argument, NULL, 't' },
	{ "log-dir", required_argument, NULL, 'l' },
	{ "no-log-file", no_argument, NULL, 'L' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "bpf", required_argument, NULL, OPT_BPF },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "no-loopback", no_argument, NULL, OPT_NO_LOOPBACK },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "probe", no_argument, NULL, OPT_PROBE },
	{ "guess", no_argument, NULL, OPT_GUESS },
	{ "guess-cache", required_argument, NULL, OPT_GUESS_CACHE },
	{ "guess-hide", required_argument, NULL, OPT_GUESS_HIDE },
	{ "guess-via", required_argument, NULL, OPT_GUESS_VIA },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ NULL, 0, NULL, 0 },
};

void nt_options_init(struct nt_options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = NT_MODE_LOG;
	o->bpf = NT_BPF_AUTO;
	o->interval_ms = NT_DEFAULT_INTERVAL_MS;
	o->log_dir = NT_DEFAULT_LOG_DIR;
	o->log_file = true;
	o->max_conns = NT_DEFAULT_MAX_CONNS;
	o->ringbuf_bytes = NT_DEFAULT_RINGBUF;
	o->guess_cache = NT_DEFAULT_GUESS_CACHE;
}

void nt_usage(FILE *out)
{
	fputs("Usage: nettracer [OPTION]...\n"
	      "Trace TCP connections (connect, accept, close) with eBPF and report, per connection,\n"
	      "bytes and packets sent and received, retransmissions, RTT and RTT variance, as the\n"
	      "kernel itself counts them (TCP_INFO).\n"
	      "\n"
	      "Output (one of):\n"
	      "  (default)              logging mode: events as they happen and every connection's\n"
	      "                         metrics each interval, on stdout and in DIR/nettracer.log\n"
	      "  -d, --table            table of active connections, refreshed every interval and\n"
	      "                         at once when Enter is pressed\n"
	      "  -j, --json             one JSON object per line on stdout (see the man page)\n"
	      "\n"
	      "Options:\n"
	      "  -t, --interval=SEC     metrics interval in seconds, fractions allowed (default 5)\n"
	      "  -l, --log-dir=DIR      directory of the log file (default ./log, logging mode only)\n"
	      "  -L, --no-log-file      logging mode without the log file\n"
	      "      --no-loopback      leave out connections between loopback addresses\n"
	      "      --duration=SEC     stop after SEC seconds (default: run until SIGINT/SIGTERM)\n"
	      "      --bpf=MODE         auto (default): CO-RE when the kernel has BTF, else legacy;\n"
	      "                         core: CO-RE programs; legacy: programs with guessed offsets\n"
	      "      --btf=FILE         kernel BTF for CO-RE from FILE (e.g. BTFHub) instead of\n"
	      "                         /sys/kernel/btf/vmlinux\n"
	      "      --max-conns=N      connections tracked at once in the kernel (default 262144)\n"
	      "      --ringbuf-size=B   kernel-to-user buffer, bytes, K/M/G suffix (default 4M)\n"
	      "      --probe            print the hooks this kernel offers and which are used; exit\n"
	      "      --hook=NAME=KIND   use only hooks of KIND (tp_btf, raw_tp, tracepoint, fentry,\n"
	      "                         fexit, kprobe, kretprobe, iter, test_run) for the part NAME\n"
	      "                         (state, accept, snapshot, existing), or only the hook\n"
	      "                         KIND/TARGET as --probe names it; repeatable\n"
	      "      --guess            find the kernel struct offsets the legacy programs need,\n"
	      "                         print them (with --json: one JSON object) and exit\n"
	      "      --guess-cache=FILE where legacy mode keeps guessed offsets for this kernel and\n"
	      "                         boot (default /run/nettracer/offsets; 'none': no cache)\n"
	      "      --guess-hide=FIELDS  (testing) pretend these fields cannot be found\n"
	      "      --guess-via=HOW    (testing) read kernel memory by test_run or trigger\n"
	      "  -v, --verbose          more diagnostics; -v shows libbpf's own messages, -vv debug\n"
	      "  -V, --version          print the version and exit\n"
	      "  -h, --help             print this help and exit\n"
	      "\n"
	      "Examples:\n"
	      "  nettracer                          log events, metrics every 5 s, ./log/nettracer.log\n"
	      "  nettracer -t 0.5 -L                metrics every 500 ms, console only\n"
	      "  nettracer -d -t 2                  table of connections, refreshed every 2 s\n"
	      "  nettracer --json --no-loopback | jq 'select(.type==\"close\")'\n"
	      "  nettracer --probe                  what this kernel offers\n"
	      "\n"
	      "Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN). SIGINT/SIGTERM stop it cleanly;\n"
	      "SIGHUP reopens the log file.\n",
	      out);
}

int nt_parse_seconds(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms, const char **why)
{
	uint64_t whole = 0, frac_ns = 0, scale = 100000000;	/* first decimal is 0.1 s */
	const char *p = s;
	bool digits = false;

	if (!s || !*s) {
		*why = "empty";
		return -1;
	}
	if (*p == '-' && (isdigit((unsigned char)p[1]) || p[1] == '.')) {
		*why = "negative";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		digits = true;
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > max_ms / 1000) {	/* also keeps whole * 1000 from wrapping */
			*why = "too large";
			return -1;
		}
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			digits = true;
			if (scale) {	/* beyond nanoseconds: ignored */
				frac_ns += (uint64_t)(*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (!digits || *p) {
		*why = "not a number of seconds";
		return -1;
	}
	if (whole * 1000 > UINT64_MAX - frac_ns / 1000000) {
		*why = "too large";
		return -1;
	}
	*ms = whole * 1000 + frac_ns / 1000000;
	if (*ms < min_ms) {
		*why = "too small";
		return -1;
	}
	if (*ms > max_ms) {
		*why = "too large";
		return -1;
	}
	return 0;
}

int nt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v, const char **why)
{
	uint64_t n = 0, mult = 1;
	const char *p = s;

	if (!s || !*s) {
		*why = "empty";
		return -1;
	}
	if (*p == '-' && isdigit((unsigned char)p[1])) {
		*why = "negative";
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		*why = "not a number";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (n > (max - d) / 10) {	/* n * 10 + d > max, without wrapping */
			*why = "too large";
			return -1;
		}
		n = n * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		p++;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		p++;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		p++;
		break;
	default:
		*why = "not a number";
		return -1;
	}
	if (*p) {
		*why = "not a number";
		return -1;
	}
	if (n > max / mult) {
		*why = "too large";
		return -1;
	}
	n *= mult;
	if (n < min) {
		*why = "too small";
		return -1;
	}
	*v = n;
	return 0;
}

/* User input echoed in an error stays on one line: bytes outside printable ASCII as \xNN. */
static const char *printable(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s && n + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		} else {
			buf[n++] = (char)c;
		}
	}
	if (*s && n + 3 < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static const char *option_name(int c, char *buf, size_t len)
{
	for (const struct option *lo = long_options; lo->name; lo++) {
		if (lo->val == c) {
			if (c < 0x100)
				snprintf(buf, len, "-%c/--%s", c, lo->name);
			else
				snprintf(buf, len, "--%s", lo->name);
			return buf;
		}
	}
	snprintf(buf, len, "-%c", c);
	return buf;
}

/* getopt_long's '?': an unknown option, or a value given to an option that takes none. */
static void report_unknown(const char *arg, int opt, FILE *err)
{
	const struct option *match = NULL;
	char name[128], text[256];
	const char *eq;
	int matches = 0;
	size_t len;

	if (!strncmp(arg, "--", 2)) {
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		/* getopt_long takes unique abbreviations: so do its error messages */
		for (const struct option *lo = long_options; lo->name; lo++) {
			if (!strncmp(lo->name, arg + 2, len)) {
				if (strlen(lo->name) == len) {	/* exact: no ambiguity */
					match = lo;
					matches = 1;
					break;
				}
				match = lo;
				matches++;
			}
		}
	}
	/*
	 * getopt_long leaves optopt 0 for an unknown long option and the option's value for
	 * a value given to one that takes none; anything else is a byte of a short-option
	 * cluster, and arg may then be the argument before it (getopt has not left the
	 * cluster yet).
	 */
	if (!strncmp(arg, "--", 2) && (!opt || (matches == 1 && match->val == opt))) {
		if (matches == 1 && eq && match->has_arg == no_argument) {
			fprintf(err, "nettracer: option --%s takes no value (see --help)\n",
				match->name);
			return;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(len < 100 ? len : 100), arg + 2);
		fprintf(err, "nettracer: %s option --%s (see --help)\n",
			matches > 1 ? "ambiguous" : "unknown", printable(name, text, sizeof(text)));
	} else if (opt > ' ' && opt < 0x7f) {
		fprintf(err, "nettracer: unknown option -%c (see --help)\n", opt);
	} else {
		/* a byte of a cluster ("-\bx"): getopt may not have left its argument yet, so
		 * arg can be the one before; the byte itself is what is wrong */
		fprintf(err, "nettracer: unknown option -\\x%02x (see --help)\n",
			(unsigned)(unsigned char)opt);
	}
}

enum nt_parse_result nt_options_parse(struct nt_options *o, int argc, char **argv, FILE *out,
				      FILE *err)
{
	bool table = false, json = false, probe = false, guess = false;
	const char *why = NULL;
	char name[40], text[256];
	uint64_t v;
	int c;

	opterr = 0;	/* our own one-line messages */
	optind = 0;	/* 0, not 1: a full reset of glibc's getopt state */
	while ((c = getopt_long(argc, argv, ":djt:l:LvVh", long_options, NULL)) != -1) {
		switch (c) {
		case 'd':
			table = true;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			if (nt_parse_seconds(optarg, MIN_INTERVAL_MS, MAX_INTERVAL_MS, &o->interval_ms,
					     &why))
				goto bad_value;
			break;
		case 'l':
			if (!*optarg) {
				why = "empty";
				goto bad_value;
			}
			o->log_dir = optarg;
			break;
		case 'L':
			o->log_file = false;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			fprintf(out, "nettracer %s\n", NT_VERSION);
			return NT_PARSE_EXIT;
		case 'h':
			nt_usage(out);
			return NT_PARSE_EXIT;
		case OPT_BPF:
			if (!strcmp(optarg, "auto"))
				o->bpf = NT_BPF_AUTO;
			else if (!strcmp(optarg, "core"))
				o->bpf = NT_BPF_CORE;
			else if (!strcmp(optarg, "legacy"))
				o->bpf = NT_BPF_LEGACY;
			else {
				why = "expected auto, core or legacy";
				goto bad_value;
			}
			break;
		case OPT_BTF:
			if (!*optarg) {
				why = "empty";
				goto bad_value;
			}
			o->btf_path = optarg;
			break;
		case OPT_NO_LOOPBACK:
			o->no_loopback = true;
			break;
		case OPT_MAX_CONNS:
			if (nt_parse_size(optarg, MIN_MAX_CONNS, MAX_MAX_CONNS, &v, &why))
				goto bad_value;
			o->max_conns = (uint32_t)v;
			break;
		case OPT_RINGBUF:
			if (nt_parse_size(optarg, MIN_RINGBUF, MAX_RINGBUF, &v, &why))
				goto bad_value;
			if (v & (v - 1)) {
				why = "not a power of two";
				goto bad_value;
			}
			o->ringbuf_bytes = (uint32_t)v;
			break;
		case OPT_DURATION:
			if (nt_parse_seconds(optarg, 1, MAX_DURATION_MS, &o->duration_ms, &why))
				goto bad_value;
			break;
		case OPT_PROBE:
			o->action = NT_ACTION_PROBE;
			probe = true;
			break;
		case OPT_GUESS:
			o->action = NT_ACTION_GUESS;
			guess = true;
			break;
		case OPT_GUESS_CACHE:
			if (!*optarg) {
				why = "empty (use 'none' for no cache)";
				goto bad_value;
			}
			o->guess_cache = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case OPT_GUESS_HIDE:
			o->guess_hide = optarg;
			break;
		case OPT_HOOK: {
			const char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg || !eq[1] ||
			    (size_t)(eq - optarg) >= sizeof(o->hook[0].name) ||
			    strlen(eq + 1) >= sizeof(o->hook[0].kind)) {
				why = "expected NAME=KIND or NAME=KIND/TARGET, e.g. state=tracepoint";
				goto bad_value;
			}
			if (o->n_hook == (int)(sizeof(o->hook) / sizeof(o->hook[0]))) {
				why = "too many --hook options";
				goto bad_value;
			}
			snprintf(o->hook[o->n_hook].name, sizeof(o->hook[0].name), "%.*s",
				 (int)(eq - optarg), optarg);
			snprintf(o->hook[o->n_hook].kind, sizeof(o->hook[0].kind), "%s", eq + 1);
			o->n_hook++;
			break;
		}
		case OPT_GUESS_VIA:
			if (!strcmp(optarg, "test_run") || !strcmp(optarg, "auto"))
				o->guess_trigger = false;
			else if (!strcmp(optarg, "trigger"))
				o->guess_trigger = true;
			else {
				why = "expected auto, test_run or trigger";
				goto bad_value;
			}
			break;
		case ':':
			fprintf(err, "nettracer: option %s needs a value (see --help)\n",
				optopt ? option_name(optopt, name, sizeof(name)) : argv[optind - 1]);
			return NT_PARSE_ERROR;
		default:
			report_unknown(argv[optind - 1], optopt, err);
			return NT_PARSE_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(err, "nettracer: unexpected argument '%s' (see --help)\n",
			printable(argv[optind], text, sizeof(text)));
		return NT_PARSE_ERROR;
	}
	if (table && json) {
		fprintf(err, "nettracer: -d/--table and -j/--json cannot be combined\n");
		return NT_PARSE_ERROR;
	}
	if (probe && guess) {
		fprintf(err, "nettracer: --probe and --guess cannot be combined\n");
		return NT_PARSE_ERROR;
	}
	if (table && guess) {
		fprintf(err, "nettracer: -d/--table and --guess cannot be combined\n");
		return NT_PARSE_ERROR;
	}
	o->mode = table ? NT_MODE_TABLE : json ? NT_MODE_JSON : NT_MODE_LOG;
	return NT_PARSE_OK;

bad_value:
	fprintf(err, "nettracer: invalid value '%s' for %s: %s\n",
		printable(optarg, text, sizeof(text)), option_name(c, name, sizeof(name)), why);
	return NT_PARSE_ERROR;
}
