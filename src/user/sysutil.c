// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "sysutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool cap_has(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int nt_check_privileges(char *msg, size_t len)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d)) {
		snprintf(msg, len, "cannot read capabilities: %s", strerror(errno));
		return -1;
	}
	if (cap_has(d, CAP_SYS_ADMIN))
		return 0;
	if (cap_has(d, CAP_BPF) && cap_has(d, CAP_PERFMON))
		return 0;
	if (cap_has(d, CAP_BPF))
		snprintf(msg, len, "missing privileges: CAP_PERFMON (with CAP_BPF) or CAP_SYS_ADMIN "
				   "is needed; run as root");
	else if (cap_has(d, CAP_PERFMON))
		snprintf(msg, len, "missing privileges: CAP_BPF (with CAP_PERFMON) or CAP_SYS_ADMIN "
				   "is needed; run as root");
	else
		snprintf(msg, len, "missing privileges: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, "
				   "are needed; run as root");
	return -1;
}

static const char *const tracefs_dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static bool has_events(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, F_OK) == 0;
}

bool nt_tracefs_present(void)
{
	return has_events(tracefs_dirs[0]) || has_events(tracefs_dirs[1]);
}

const char *nt_tracefs(char *err, size_t len)
{
	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++)
		if (has_events(tracefs_dirs[i]))
			return tracefs_dirs[i];
	/* classic tracepoints need their ids from tracefs: mount it where libbpf looks */
	if (mount("tracefs", tracefs_dirs[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		snprintf(err, len, "tracefs is not mounted and mounting it on %s failed: %s",
			 tracefs_dirs[0], strerror(errno));
		return NULL;
	}
	if (!has_events(tracefs_dirs[0])) {
		snprintf(err, len, "tracefs mounted on %s has no events directory", tracefs_dirs[0]);
		return NULL;
	}
	return tracefs_dirs[0];
}

long nt_tracepoint_id(const char *category, const char *name)
{
	char path[256], buf[32];
	ssize_t n;
	long id;
	int fd = -1;

	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]) && fd < 0; i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s/id", tracefs_dirs[i], category, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = EIO;
		return -1;
	}
	buf[n] = '\0';
	id = strtol(buf, NULL, 10);
	if (id <= 0) {
		errno = EINVAL;
		return -1;
	}
	return id;
}

int nt_format_field_offset(FILE *f, const char *field)
{
	size_t len = strlen(field);
	char line[512];

	/* "\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;" */
	while (fgets(line, sizeof(line), f)) {
		char *decl = strstr(line, "field:"), *semi, *nm, *o;

		if (!decl || !(semi = strchr(decl, ';')))
			continue;
		*semi = '\0';
		/* the field's name is the last word of its declaration (arrays: name[N]) */
		nm = strrchr(decl, ' ');
		if (!nm || strncmp(nm + 1, field, len) || (nm[1 + len] && nm[1 + len] != '['))
			continue;
		o = strstr(semi + 1, "offset:");
		if (!o)
			return -1;
		return atoi(o + 7);
	}
	return -1;
}

int nt_tracepoint_field_offset(const char *category, const char *name, const char *field)
{
	char path[256];
	FILE *f = NULL;
	int off;

	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]) && !f; i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s/format", tracefs_dirs[i], category,
			 name);
		f = fopen(path, "re");
	}
	if (!f)
		return -1;
	off = nt_format_field_offset(f, field);
	fclose(f);
	return off;
}

uint64_t nt_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t nt_mono_to_unix_offset(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((int64_t)real.tv_sec - (int64_t)mono.tv_sec) * 1000000000LL +
	       ((int64_t)real.tv_nsec - (int64_t)mono.tv_nsec);
}

int nt_kernel_release(char *buf, size_t len)
{
	struct utsname u;

	if (uname(&u))
		return -1;
	snprintf(buf, len, "%s", u.release);
	return 0;
}

int nt_boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

uint32_t nt_kernel_version_code(void)
{
	unsigned int a = 0, b = 0, c = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u.%u", &a, &b, &c) < 2)
		return 0;
	return (a << 16) + (b << 8) + (c > 255 ? 255 : c);
}

uint64_t nt_peak_rss_kib(void)
{
	char buf[4096];
	uint64_t kib = 0;
	ssize_t n;
	char *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "VmHWM:");
	if (p)
		kib = strtoull(p + 6, NULL, 10);
	return kib;
}

#define NT_MAX_PHASES 8

static struct {
	uint64_t begin_ns;
	unsigned n;
	const char *name[NT_MAX_PHASES];
	uint64_t end_ns[NT_MAX_PHASES];
} phases;

void nt_phase_begin(void)
{
	phases.begin_ns = nt_now_mono_ns();
	phases.n = 0;
}

void nt_phase(const char *name)
{
	if (!phases.begin_ns || phases.n >= NT_MAX_PHASES)
		return;
	phases.name[phases.n] = name;
	phases.end_ns[phases.n++] = nt_now_mono_ns();
}

const char *nt_phase_summary(char *buf, size_t len)
{
	uint64_t prev = phases.begin_ns;
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < phases.n && off < len; i++) {
		off += (size_t)snprintf(buf + off, len - off, "%s%s %.1f ms", i ? ", " : "",
					phases.name[i], (double)(phases.end_ns[i] - prev) / 1e6);
		prev = phases.end_ns[i];
	}
	return buf;
}
