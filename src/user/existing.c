// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "existing.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* socket inode -> first holder (pid, fd) */
struct owner {
	uint32_t inode;
	int pid, fd;
};

struct owners {
	struct owner *v;
	size_t n, cap;
};

/* by inode, then the oldest process (lowest pid) first: that one is the owner */
static int cmp_owner(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static bool is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void read_comm(int pid, char comm[NT_COMM_LEN])
{
	char path[64];
	ssize_t n;
	int fd;

	memset(comm, 0, NT_COMM_LEN);
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, NT_COMM_LEN - 1);
	close(fd);
	while (n > 0 && comm[n - 1] == '\n')
		comm[--n] = '\0';
}

static int only_pids(const struct dirent *d)
{
	return is_pid(d->d_name);
}

/* Every socket descriptor of every process, and one process in each network namespace. */
static int scan_fds(struct owners *own, uint32_t **netns_pids, size_t *n_netns)
{
	struct dirent **pids = NULL;
	int np = scandir("/proc", &pids, only_pids, NULL);
	struct {
		uint32_t ino;
		int pid;
	} *ns = NULL;
	size_t nns = 0, cns = 0;

	if (np < 0)
		return -errno;
	for (int i = 0; i < np; i++) {
		char path[64], link[64];
		struct dirent *fde;
		struct stat st;
		int pid;
		DIR *d;

		pid = atoi(pids[i]->d_name);
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		if (!stat(path, &st)) {
			size_t k;

			for (k = 0; k < nns && ns[k].ino != (uint32_t)st.st_ino; k++)
				;
			if (k == nns) {
				if (nns == cns) {
					size_t c = cns ? cns * 2 : 16;
					void *p = realloc(ns, c * sizeof(*ns));

					if (!p)
						break;
					ns = p;
					cns = c;
				}
				ns[nns].ino = (uint32_t)st.st_ino;
				ns[nns++].pid = pid;
			}
		}
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		d = opendir(path);
		if (!d)
			continue;	/* gone, or a kernel thread */
		while ((fde = readdir(d))) {
			char fdpath[64 + 256];
			ssize_t l;
			unsigned long ino;

			if (!is_pid(fde->d_name))
				continue;
			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, fde->d_name);
			l = readlink(fdpath, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			if (own->n == own->cap) {
				size_t cap = own->cap ? own->cap * 2 : 256;
				void *p = realloc(own->v, cap * sizeof(*own->v));

				if (!p)
					break;
				own->v = p;
				own->cap = cap;
			}
			own->v[own->n++] = (struct owner){ (uint32_t)ino, pid, atoi(fde->d_name) };
		}
		closedir(d);
	}
	for (int i = 0; i < np; i++)
		free(pids[i]);
	free(pids);
	if (own->n > 1)
		qsort(own->v, own->n, sizeof(*own->v), cmp_owner);
	*netns_pids = malloc((nns ? nns : 1) * 2 * sizeof(uint32_t));
	if (!*netns_pids) {
		free(ns);
		return -ENOMEM;
	}
	for (size_t k = 0; k < nns; k++) {
		(*netns_pids)[2 * k] = ns[k].ino;
		(*netns_pids)[2 * k + 1] = (uint32_t)ns[k].pid;
	}
	*n_netns = nns;
	free(ns);
	return 0;
}

static const struct owner *find_owner(const struct owners *own, uint32_t inode)
{
	size_t lo = 0, hi = own->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (own->v[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < own->n && own->v[lo].inode == inode ? &own->v[lo] : NULL;
}

/* "0100007F" -> the bytes as the kernel keeps them (it printed the u32 in host order) */
static void hex_words(const char *hex, int words, uint8_t *out)
{
	for (int w = 0; w < words; w++) {
		char buf[9];
		uint32_t v;

		memcpy(buf, hex + 8 * w, 8);
		buf[8] = '\0';
		v = (uint32_t)strtoul(buf, NULL, 16);
		memcpy(out + 4 * w, &v, 4);
	}
}

int nt_proc_parse_tcp_line(const char *line, int family, struct nt_proc_sock *s)
{
	char laddr[40], raddr[40], lport[8], rport[8], state[8], skp[24];
	unsigned int uid, timeout;
	unsigned long inode;
	int refs;

	/* sl local rem st tx:rx tr:when retr uid timeout inode refcnt sk ...; the kernel
	 * prints ports as %04X and the state as %02X: hex digits only, no more than that */
	if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%7[0-9A-Fa-f] %39[0-9A-Fa-f]:%7[0-9A-Fa-f] "
			 "%7[0-9A-Fa-f] %*x:%*x %*x:%*x %*x %u %u %lu %d %23[0-9A-Fa-f]",
		   laddr, lport, raddr, rport, state, &uid, &timeout, &inode, &refs, skp) != 10)
		return -1;
	if (strlen(laddr) != (family == 4 ? 8u : 32u) || strlen(lport) > 4 ||
	    strlen(rport) > 4 || strlen(state) > 2 || inode > UINT32_MAX)
		return -1;
	memset(s, 0, sizeof(*s));
	s->sk = strtoull(skp, NULL, 16);
	s->inode = (uint32_t)inode;
	s->state = (uint8_t)strtoul(state, NULL, 16);
	s->family = (uint8_t)family;
	s->lport = (uint16_t)strtoul(lport, NULL, 16);
	hex_words(laddr, family == 4 ? 1 : 4, s->laddr);
	s->pid = s->fd = -1;
	return 0;
}

static int parse_table(struct nt_proc_scan *scan, const struct owners *own, int pid,
		       uint32_t netns, int family)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, family == 4 ? "tcp" : "tcp6");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {	/* header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		struct nt_proc_sock *s;
		const struct owner *o;

		if (scan->n == scan->cap) {
			size_t cap = scan->cap ? scan->cap * 2 : 64;
			void *p = realloc(scan->socks, cap * sizeof(*s));

			if (!p) {
				fclose(f);
				return -ENOMEM;
			}
			scan->socks = p;
			scan->cap = cap;
		}
		s = &scan->socks[scan->n];
		if (nt_proc_parse_tcp_line(line, family, s))
			continue;
		scan->n++;
		s->netns = netns;
		o = s->inode ? find_owner(own, s->inode) : NULL;
		if (o) {
			s->pid = o->pid;
			s->fd = o->fd;
			read_comm(o->pid, s->comm);
		}
	}
	fclose(f);
	return 0;
}

int nt_proc_scan_tcp(struct nt_proc_scan *scan)
{
	struct owners own = { 0 };
	uint32_t *netns = NULL;
	size_t n_netns = 0;
	int err;

	memset(scan, 0, sizeof(*scan));
	err = scan_fds(&own, &netns, &n_netns);
	if (err)
		return err;
	for (size_t k = 0; k < n_netns; k++) {
		parse_table(scan, &own, (int)netns[2 * k + 1], netns[2 * k], 4);
		parse_table(scan, &own, (int)netns[2 * k + 1], netns[2 * k], 6);
	}
	free(own.v);
	free(netns);
	return 0;
}

void nt_proc_scan_free(struct nt_proc_scan *scan)
{
	free(scan->socks);
	memset(scan, 0, sizeof(*scan));
}
