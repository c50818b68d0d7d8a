// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define FLUSH_MARK (256u << 10)	/* write once this much is buffered */

struct nt_output {
	enum nt_mode mode;
	struct nt_buf buf;
	int log_fd;
	bool log_failed;	/* warned once, file output stopped */
	bool tty;		/* stdout is a terminal: table mode clears the screen */
	bool tables;		/* a table was drawn already */
	char log_path[PATH_MAX];
};

static int open_log(struct nt_output *out, char *err, size_t len)
{
	int fd = open(out->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(err, len, "cannot open log file %s: %s (choose another with -l DIR, "
				   "or -L for none)", out->log_path, strerror(errno));
		return -1;
	}
	out->log_fd = fd;
	return 0;
}

struct nt_output *nt_output_open(const struct nt_options *o, char *err, size_t len)
{
	struct nt_output *out = calloc(1, sizeof(*out));
	struct stat st;

	if (!out) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	out->mode = o->mode;
	out->log_fd = -1;
	out->tty = isatty(STDOUT_FILENO);
	if (o->mode == NT_MODE_LOG && o->log_file) {
		if (mkdir(o->log_dir, 0750) && errno != EEXIST) {
			snprintf(err, len, "cannot create log directory %s: %s (choose another with "
					   "-l DIR, or -L for none)", o->log_dir, strerror(errno));
			goto fail;
		}
		if (stat(o->log_dir, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, len, "log directory %s is not a directory (choose another with "
					   "-l DIR, or -L for none)", o->log_dir);
			goto fail;
		}
		if ((size_t)snprintf(out->log_path, sizeof(out->log_path), "%s/nettracer.log",
				     o->log_dir) >= sizeof(out->log_path)) {
			snprintf(err, len, "log directory path is too long");
			goto fail;
		}
		if (open_log(out, err, len))
			goto fail;
	}
	if (nt_buf_reserve(&out->buf, FLUSH_MARK * 2)) {
		snprintf(err, len, "out of memory");
		goto fail;
	}
	return out;
fail:
	if (out->log_fd >= 0)
		close(out->log_fd);
	free(out);
	return NULL;
}

const char *nt_output_log_path(const struct nt_output *out)
{
	return out->log_fd >= 0 ? out->log_path : NULL;
}

int nt_output_reopen(struct nt_output *out)
{
	char err[PATH_MAX + 128];
	int old = out->log_fd;

	if (old < 0)
		return 0;
	nt_output_flush(out);
	if (open_log(out, err, sizeof(err))) {
		pr_warn("%s; still writing to the old file", err);
		return -1;
	}
	close(old);
	out->log_failed = false;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int nt_output_flush(struct nt_output *out)
{
	int ret = 0;

	if (!out->buf.len)
		return 0;
	if (write_all(STDOUT_FILENO, out->buf.data, out->buf.len)) {
		if (errno == EPIPE)
			ret = -1;
		else
			pr_warn("cannot write to stdout: %s", strerror(errno));
	}
	if (out->log_fd >= 0 && !out->log_failed && out->mode == NT_MODE_LOG &&
	    write_all(out->log_fd, out->buf.data, out->buf.len)) {
		/* documented degradation: the console goes on, the file stops */
		out->log_failed = true;
		pr_warn("cannot write log file %s: %s; log file output stopped (console goes on)",
			out->log_path, strerror(errno));
	}
	out->buf.len = 0;
	return ret;
}

static void maybe_flush(struct nt_output *out)
{
	if (out->buf.len >= FLUSH_MARK)
		nt_output_flush(out);
}

void nt_output_conn(struct nt_output *out, const char *type, uint64_t ts_unix_ns,
		    const struct nt_conn_row *row)
{
	if (out->mode == NT_MODE_JSON)
		nt_render_json(&out->buf, type, ts_unix_ns, row);
	else if (out->mode == NT_MODE_LOG)
		nt_render_log(&out->buf, type, ts_unix_ns, row);
	else
		return;
	maybe_flush(out);
}

void nt_output_record(struct nt_output *out, const char *type, uint64_t ts_unix_ns,
		      const struct nt_kv *kv, size_t n)
{
	struct nt_buf *b = &out->buf;
	char ts[40];

	if (out->mode == NT_MODE_JSON) {
		nt_buf_puts(b, "{\"type\":\"");
		nt_buf_puts(b, type);
		nt_buf_puts(b, "\",\"ts_ns\":");
		nt_buf_put_u64(b, ts_unix_ns);
		for (size_t i = 0; i < n; i++) {
			nt_buf_puts(b, ",\"");
			nt_buf_puts(b, kv[i].key);
			nt_buf_puts(b, "\":");
			if (kv[i].str)
				nt_buf_put_json_str(b, kv[i].str, (size_t)-1);
			else
				nt_buf_put_u64(b, kv[i].num);
		}
		nt_buf_puts(b, "}\n");
	} else if (out->mode == NT_MODE_LOG) {
		nt_buf_put(b, ts, nt_format_time(ts, sizeof(ts), ts_unix_ns));
		nt_buf_putc(b, ' ');
		nt_buf_puts(b, type);
		for (size_t i = 0; i < n; i++) {
			nt_buf_putc(b, ' ');
			nt_buf_puts(b, kv[i].key);
			nt_buf_putc(b, '=');
			if (kv[i].str && strpbrk(kv[i].str, " \"\\="))
				nt_buf_put_json_str(b, kv[i].str, (size_t)-1);	/* one token */
			else if (kv[i].str)
				nt_buf_puts(b, kv[i].str);
			else
				nt_buf_put_u64(b, kv[i].num);
		}
		nt_buf_putc(b, '\n');
	}
	maybe_flush(out);
}

void nt_output_table(struct nt_output *out, uint64_t ts_unix_ns, const char *summary,
		     struct nt_conn_row *const *rows, size_t n)
{
	struct nt_buf *b = &out->buf;
	char ts[40];

	if (out->mode != NT_MODE_TABLE)
		return;
	if (out->tty)
		nt_buf_puts(b, "\033[H\033[2J");	/* home, clear screen */
	else if (out->tables)
		nt_buf_putc(b, '\n');	/* pipes get one block per refresh, a blank line between */
	out->tables = true;
	nt_buf_put(b, ts, nt_format_time(ts, sizeof(ts), ts_unix_ns));
	nt_buf_putc(b, ' ');
	nt_buf_puts(b, summary);
	nt_buf_putc(b, '\n');
	nt_render_table_header(b);
	for (size_t i = 0; i < n; i++) {
		nt_render_table_row(b, rows[i]);
		maybe_flush(out);
	}
}

void nt_output_close(struct nt_output *out)
{
	if (!out)
		return;
	nt_output_flush(out);
	if (out->log_fd >= 0)
		close(out->log_fd);
	nt_buf_free(&out->buf);
	free(out);
}
