/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The host around us: privileges, tracefs, clocks, kernel identity. */
#ifndef NT_SYSUTIL_H
#define NT_SYSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 0 when the effective capabilities allow loading tracing programs; else -1 and a
 * sentence naming what is missing in msg. */
int nt_check_privileges(char *msg, size_t len);

/* The tracefs events directory ("/sys/kernel/tracing"), mounting tracefs there if
 * nothing is mounted yet. NULL with a reason in err when that fails. */
const char *nt_tracefs(char *err, size_t len);
/* Whether tracefs is usable right now, without mounting it. */
bool nt_tracefs_present(void);
/* Numeric id of a classic tracepoint, -1 (errno set) if absent. */
long nt_tracepoint_id(const char *category, const char *name);
/* Offset of a field in a classic tracepoint's record (its tracefs format file); -1 if the
 * tracepoint or the field is absent. */
int nt_tracepoint_field_offset(const char *category, const char *name, const char *field);
/* The same, from a format file already open. */
int nt_format_field_offset(FILE *f, const char *field);

/* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns: turns bpf_ktime_get_ns() into Unix time. */
int64_t nt_mono_to_unix_offset(void);
uint64_t nt_now_mono_ns(void);

/* uname -r and /proc/sys/kernel/random/boot_id, into caller buffers. */
int nt_kernel_release(char *buf, size_t len);
int nt_boot_id(char *buf, size_t len);
/* KERNEL_VERSION(a,b,c) of the running kernel, 0 if unknown. */
uint32_t nt_kernel_version_code(void);

/* Start-up phases: nt_phase("probe") marks the end of a phase; nt_phase_summary()
 * writes "probe 12 ms, load 80 ms, ..." (time from the previous mark, the first from
 * nt_phase_begin()) into buf. */
void nt_phase_begin(void);
void nt_phase(const char *name);
const char *nt_phase_summary(char *buf, size_t len);

/* Peak resident set size of this process in KiB (VmHWM), 0 if unknown. */
uint64_t nt_peak_rss_kib(void);

#endif
