// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum nt_log_level log_level = NT_LOG_INFO;
static int log_mirror_fd = -1;

void nt_log_set_level(enum nt_log_level level)
{
	log_level = level;
}

enum nt_log_level nt_log_get_level(void)
{
	return log_level;
}

void nt_log_set_mirror(int fd)
{
	log_mirror_fd = fd;
}

void nt_vlog(enum nt_log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];
	int n, m;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "nettracer: %s", prefix[level]);
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = m < 0 ? n : (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
	/* one line per message, whatever the caller passed */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	/* a diagnostic that cannot be written has nowhere else to go */
	(void)!write(STDERR_FILENO, line, n);
	if (log_mirror_fd >= 0)
		(void)!write(log_mirror_fd, line, n);
}

void nt_log(enum nt_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nt_vlog(level, fmt, ap);
	va_end(ap);
}
