// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "netsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int nt_netns_private(int *orig, char *err, size_t len)
{
	*orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*orig < 0)
		*orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);	/* before 3.17 */
	if (*orig < 0) {
		snprintf(err, len, "cannot open the current network namespace: %s",
			 strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNET)) {
		snprintf(err, len, "cannot create a private network namespace: %s",
			 strerror(errno));
		close(*orig);
		*orig = -1;
		return -1;
	}
	return 0;
}

int nt_netns_restore(int fd)
{
	int err = 0;

	if (fd < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

uint32_t nt_netns_inode(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) && stat("/proc/self/ns/net", &st))
		return 0;
	return (uint32_t)st.st_ino;
}

int nt_link_set_up(const char *ifname, bool up)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		err = -errno;
	} else {
		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	}
	close(fd);
	return err;
}

/* linux/ipv6.h's struct in6_ifreq, which glibc does not have */
struct nt_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

int nt_add_ipv6(const char *ifname, const struct in6_addr *addr, int prefix)
{
	struct nt_in6_ifreq req = { .addr = *addr, .prefixlen = (uint32_t)prefix };
	int fd, err = 0;

	req.ifindex = (int)if_nametoindex(ifname);
	if (!req.ifindex)
		return -errno;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCSIFADDR, &req) && errno != EEXIST)
		err = -errno;
	close(fd);
	return err;
}

int nt_sysctl_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}
