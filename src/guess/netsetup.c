// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "netsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
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

/*
 * RTM_NEWADDR with IFA_F_NODAD: the address is usable at once. (SIOCSIFADDR adds it
 * tentative until the addrconf worker has run, which can take long on a busy host.)
 */
int nt_add_ipv6(const char *ifname, const struct in6_addr *addr, int prefix)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		struct rtattr rta;
		struct in6_addr addr;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_NEWADDR,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
			.nlmsg_seq = 1 },
		.ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = (unsigned char)prefix,
			 .ifa_flags = IFA_F_NODAD | IFA_F_PERMANENT, .ifa_scope = RT_SCOPE_HOST },
		.rta = { .rta_len = RTA_LENGTH(sizeof(struct in6_addr)), .rta_type = IFA_LOCAL },
		.addr = *addr,
	};
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, err = 0;
	ssize_t n;

	req.ifa.ifa_index = if_nametoindex(ifname);
	if (!req.ifa.ifa_index)
		return -errno;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
	} else {
		n = recv(fd, &ack, sizeof(ack), 0);
		if (n < 0)
			err = -errno;
		else if (n >= (ssize_t)sizeof(ack) && ack.nh.nlmsg_type == NLMSG_ERROR &&
			 ack.err.error && ack.err.error != -EEXIST)
			err = ack.err.error;
	}
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
