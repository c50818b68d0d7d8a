/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * TCP sockets open before the start, found through /proc (legacy variant; the CO-RE
 * variant has the task_file iterator): every network namespace a process is in,
 * its /proc/PID/net/tcp{,6}, and which process holds each socket (/proc/PID/fd).
 */
#ifndef NT_EXISTING_H
#define NT_EXISTING_H

#include <stddef.h>
#include <stdint.h>

#include "nt_record.h"

struct nt_proc_sock {
	uint64_t sk;		/* as /proc printed it: hashed or 0 unless kptr_restrict allows */
	uint32_t inode;		/* socket inode, 0 for sockets no process holds */
	uint32_t netns;
	uint8_t state;		/* TCP state */
	uint8_t family;		/* 4 or 6 */
	uint16_t lport;
	uint8_t laddr[16];
	int pid;		/* first process holding it, -1: none */
	int fd;			/* its descriptor in that process */
	char comm[NT_COMM_LEN];
};

struct nt_proc_scan {
	struct nt_proc_sock *socks;
	size_t n, cap;
};

/* One line of /proc/net/tcp (family 4) or tcp6 (6): 0, or -1 when it is not one. */
int nt_proc_parse_tcp_line(const char *line, int family, struct nt_proc_sock *s);
/* 0, or -errno when /proc cannot be read at all. */
int nt_proc_scan_tcp(struct nt_proc_scan *scan);
void nt_proc_scan_free(struct nt_proc_scan *scan);

#endif
