/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Diagnostics: one line each, on stderr (and mirrored to the log file when there is one). */
#ifndef NT_LOG_H
#define NT_LOG_H

#include <stdarg.h>

enum nt_log_level {
	NT_LOG_ERROR = 0,
	NT_LOG_WARN = 1,
	NT_LOG_INFO = 2,
	NT_LOG_DEBUG = 3,
};

void nt_log_set_level(enum nt_log_level level);
enum nt_log_level nt_log_get_level(void);
/* Mirror diagnostics into fd as well (-1: stop mirroring). */
void nt_log_set_mirror(int fd);
void nt_vlog(enum nt_log_level level, const char *fmt, va_list ap);
void nt_log(enum nt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) nt_log(NT_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) nt_log(NT_LOG_WARN, __VA_ARGS__)
#define pr_info(...) nt_log(NT_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) nt_log(NT_LOG_DEBUG, __VA_ARGS__)

#endif
