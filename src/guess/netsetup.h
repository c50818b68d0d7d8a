/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* A private network namespace for the guesser's test connections, and what it does
 * to it: loopback up and down, IPv6 addresses, per-namespace sysctls. */
#ifndef NT_GUESS_NETSETUP_H
#define NT_GUESS_NETSETUP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* A new network namespace for the calling thread; *orig gets an fd to go back. */
int nt_netns_private(int *orig, char *err, size_t len);
/* Back to the namespace of fd; closes it. */
int nt_netns_restore(int fd);
/* Inode of the calling thread's network namespace. */
uint32_t nt_netns_inode(void);
int nt_link_set_up(const char *ifname, bool up);
int nt_add_ipv6(const char *ifname, const struct in6_addr *addr, int prefix);
/* Write a sysctl of the current namespace; -errno. */
int nt_sysctl_write(const char *path, const char *value);

#endif
