// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The guessing state machine.
 *
 * Every field is found on its own, by searching copies ("images") of the kernel's
 * structs for values the guesser knows from elsewhere: what it chose itself
 * (addresses, ports), what the tracepoint printed (the socket's address), what the
 * kernel reports through other interfaces (TCP_INFO, TCP_REPAIR's queue sequence,
 * /proc/self/status, the namespace inode). A field is accepted when exactly one
 * offset fits every observation, and the observations always span at least two
 * connections with different values. No offset is derived from another.
 *
 * The phases, in order:
 *   NETNS_A    a private network namespace: loopback up, two IPv6 addresses on it,
 *              TCP timestamps off (so that an ACK of retransmitted data takes no RTT
 *              sample and rtt_seq lags behind snd_una)
 *   PAIR_A     an IPv4 and an IPv6 connection with known traffic; images at idle
 *   LOSS_A     the receiver drops everything (a socket filter): data is sent and
 *              retransmitted (TLP); more held back by MSG_MORE, image; an urgent
 *              byte sent, image; the filter goes, recovery, images at idle
 *   FIN_V6     the IPv6 server shuts down its side: the client has the peer's FIN
 *   NETNS_B    a second namespace, a second IPv4 connection with other values,
 *              the same loss dance, then a FIN to its client
 *   SEARCH     every field searched over the images
 *   FDWALK     task -> files -> fdt -> fd[] -> file -> socket -> sk, from the
 *              guesser's own task and the descriptors of its sockets
 *   DONE
 */
#include "guess.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kmem.h"
#include "log.h"
#include "netsetup.h"
#include "search.h"
#include "sysutil.h"

#define IMG_LEN 8192		/* sock + tcp_sock: about 2.3 KiB on 6.x, room for debug configs */
#define SOCK_COMMON_SEARCH 512	/* struct sock begins with struct sock_common */
#define NET_IMG_LEN 4096
#define TASK_IMG_LEN 16384
#define MAX_OBS 24
#define MAX_CAND 8
#define MAX_CHAINS 64	/* pointer chains from the task to a socket, before confirmation */

static const char *const field_names[NT_OFF__COUNT] = {
#define NT_FIELD_NAME(name, st, path) [NT_OFF_##name] = #name,
	NT_FIELDS(NT_FIELD_NAME)
#undef NT_FIELD_NAME
};

const char *nt_guess_field_name(int field)
{
	return field >= 0 && field < NT_OFF__COUNT ? field_names[field] : "?";
}

uint32_t nt_guess_field_part(int field)
{
	switch (field) {
	case NT_OFF_sock_v6_rcv_saddr:
	case NT_OFF_sock_v6_daddr:
		return NT_HAVE_V6;
	case NT_OFF_tcp_srtt_us:
	case NT_OFF_tcp_mdev_us:
		return NT_HAVE_RTT;
	case NT_OFF_sock_prot:
		return NT_HAVE_PROT;
	case NT_OFF_task_files:
	case NT_OFF_files_fdt:
	case NT_OFF_fdt_max_fds:
	case NT_OFF_fdt_fd:
	case NT_OFF_file_private_data:
	case NT_OFF_socket_sk:
		return NT_HAVE_FDWALK;
	}
	return 0;
}

/* One test connection: both ends are ours. */
struct pair {
	const char *label;
	int family;
	int lst, cli, srv;
	uint16_t cport, lport;		/* host order */
	uint8_t caddr[16], laddr[16];	/* network order; IPv4 in the first 4 bytes */
	uint64_t cli_sk, srv_sk;
	uint32_t netns;
};

/* One socket seen at one moment: its image and what the kernel said of it then. */
struct obs {
	const struct pair *p;
	bool client;
	uint64_t sk;
	uint8_t *img;
	struct tcp_info ti;
	uint32_t write_seq;
	bool fin_rcvd;		/* the peer's FIN is in: SOCK_DONE set */
	bool idle;		/* nothing in flight: snd_una == write_seq */
};

struct guess {
	const struct nt_guess_opts *opt;
	struct nt_guess_result *r;
	struct nt_kmem *km;
	uint64_t deadline;
	const char *phase;
	int orig_netns;
	bool v6;
	uint16_t port_base, next_port;
	struct pair a, a6, b;
	struct obs obs[MAX_OBS];
	int n_obs;
	/* before/after pairs of observations of one socket around the arrival of a FIN */
	int fin_before[2], fin_after[2], n_fin;
	uint64_t tcp_prot, tcpv6_prot;
	/* every search's candidates, for resolve_overlaps() */
	size_t cand[NT_OFF__COUNT][MAX_CAND];
	size_t ncand[NT_OFF__COUNT];
	char what[NT_OFF__COUNT][120];
};

static void warn(struct guess *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct guess *g, const char *fmt, ...)
{
	struct nt_guess_result *r = g->r;
	va_list ap;

	if (r->n_warnings >= NT_GUESS_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(r->warnings[r->n_warnings++], sizeof(r->warnings[0]), fmt, ap);
	va_end(ap);
}

static int fail(struct guess *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct guess *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (g->r->error[0])
		return -1;	/* the first reason is the one that counts */
	n = snprintf(g->r->error, sizeof(g->r->error), "guessing failed in phase %s: ", g->phase);
	va_start(ap, fmt);
	vsnprintf(g->r->error + n, sizeof(g->r->error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool late(struct guess *g)
{
	if (nt_now_mono_ns() < g->deadline)
		return false;
	fail(g, "took longer than %llu ms", (unsigned long long)g->opt->time_limit_ms);
	return true;
}

static bool hidden(const struct guess *g, int field)
{
	const char *h = g->opt->hide, *name = field_names[field];
	size_t n = strlen(name);

	for (; h && *h; h = strchr(h, ',') ? strchr(h, ',') + 1 : h + strlen(h))
		if (!strncmp(h, name, n) && (h[n] == ',' || h[n] == '\0'))
			return true;
	return false;
}

/* ---- sockets ---------------------------------------------------------------------------------- */

static int tcp_info_of(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) ? -errno : 0;
}

/* The fields of TCP_INFO the guesser compares: the same twice means nothing moved. */
static bool ti_same(const struct tcp_info *x, const struct tcp_info *y)
{
	return x->tcpi_state == y->tcpi_state && x->tcpi_rtt == y->tcpi_rtt &&
	       x->tcpi_rttvar == y->tcpi_rttvar && x->tcpi_total_retrans == y->tcpi_total_retrans &&
	       x->tcpi_bytes_acked == y->tcpi_bytes_acked &&
	       x->tcpi_bytes_received == y->tcpi_bytes_received &&
	       x->tcpi_segs_out == y->tcpi_segs_out && x->tcpi_segs_in == y->tcpi_segs_in &&
	       x->tcpi_unacked == y->tcpi_unacked;
}

/* write_seq as TCP_REPAIR reports it (TCP_QUEUE_SEQ of the send queue). */
static int repair_write_seq(int fd, uint32_t *seq)
{
	int on = 1, off = 0, q = TCP_SEND_QUEUE, err = 0;
	socklen_t len = sizeof(*seq);

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len))
		err = -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	return err;
}

static socklen_t make_sa(const struct pair *p, bool client, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(client ? p->cport : p->lport);
		memcpy(&s->sin_addr, client ? p->caddr : p->laddr, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(client ? p->cport : p->lport);
	memcpy(&s6->sin6_addr, client ? p->caddr : p->laddr, 16);
	return sizeof(*s6);
}

static void pair_close(struct pair *p)
{
	if (p->cli >= 0)
		close(p->cli);
	if (p->srv >= 0)
		close(p->srv);
	if (p->lst >= 0)
		close(p->lst);
	p->cli = p->srv = p->lst = -1;
}

static int send_all(int fd, size_t n, size_t chunk)
{
	char buf[4096];

	memset(buf, 'g', sizeof(buf));
	while (n) {
		size_t c = n < chunk ? n : chunk;
		ssize_t w = send(fd, buf, c < sizeof(buf) ? c : sizeof(buf), MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n -= (size_t)w;
	}
	return 0;
}

static int recv_n(int fd, size_t n)
{
	char buf[16384];

	while (n) {
		ssize_t r = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), 0);

		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		n -= (size_t)r;
	}
	return 0;
}

/* Connect, accept, find both sockets' addresses through the tracepoint, exchange data. */
static int pair_open(struct guess *g, struct pair *p, size_t up, size_t down)
{
	struct timeval rcv_timeout = { .tv_sec = 2 };
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fam, err;

	p->lst = socket(p->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p->cli = socket(p->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lst < 0 || p->cli < 0)
		return fail(g, "%s: socket: %s", p->label, strerror(errno));
	setsockopt(p->lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(p->cli, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sl = make_sa(p, false, &ss);
	for (int i = 0; bind(p->lst, (struct sockaddr *)&ss, sl); i++) {
		/* an IPv6 address just added may not be usable yet on a busy host */
		if (errno != EADDRNOTAVAIL || i > 2000 || late(g))
			return fail(g, "%s: bind: %s", p->label, strerror(errno));
		usleep(1000);
	}
	if (listen(p->lst, 4))
		return fail(g, "%s: listen: %s", p->label, strerror(errno));
	sl = make_sa(p, true, &ss);
	for (int i = 0; bind(p->cli, (struct sockaddr *)&ss, sl); i++) {
		if (errno != EADDRNOTAVAIL || i > 2000 || late(g))
			return fail(g, "%s: bind: %s", p->label, strerror(errno));
		usleep(1000);
	}
	sl = make_sa(p, false, &ss);
	for (int i = 0; connect(p->cli, (struct sockaddr *)&ss, sl); i++) {
		/* an IPv6 address's local route comes from the addrconf worker: on a busy
		 * host it can lag behind the address */
		if (errno != ENETUNREACH || i > 2000 || late(g))
			return fail(g, "%s: connect: %s", p->label, strerror(errno));
		usleep(1000);
	}
	p->srv = accept4(p->lst, NULL, NULL, SOCK_CLOEXEC);
	if (p->srv < 0)
		return fail(g, "%s: accept: %s", p->label, strerror(errno));
	setsockopt(p->cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->srv, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
	/* a test connection that stops moving must not hang the tracer's start */
	setsockopt(p->cli, SOL_SOCKET, SO_RCVTIMEO, &rcv_timeout, sizeof(rcv_timeout));
	setsockopt(p->srv, SOL_SOCKET, SO_RCVTIMEO, &rcv_timeout, sizeof(rcv_timeout));
	p->netns = nt_netns_inode();
	g->r->connections++;

	fam = p->family == AF_INET ? 4 : 6;
	err = nt_kmem_wait_capture(g->km, fam, p->caddr, p->cport, p->laddr, p->lport,
				   1 /* ESTABLISHED */, 500, &p->cli_sk);
	if (!err)
		err = nt_kmem_wait_capture(g->km, fam, p->laddr, p->lport, p->caddr, p->cport, 1,
					   500, &p->srv_sk);
	if (err == -EEXIST)
		return -EEXIST;	/* the same ports and addresses elsewhere: other ports */
	if (err)
		return fail(g, "%s: the state tracepoint did not report the test connection "
			       "(%s)", p->label, nt_kmem_capture_via(g->km));
	/* traffic in many segments both ways, so that the counters hold unusual values */
	if (send_all(p->cli, up, 1000) || recv_n(p->srv, up) || send_all(p->srv, down, 700) ||
	    recv_n(p->cli, down))
		return fail(g, "%s: exchanging data: %s", p->label, strerror(errno));
	return 0;
}

#define PORT_RANGE 64	/* ports the capture program watches, from g->port_base */

/*
 * A test connection on the next free ports of the range. A tuple seen twice by the
 * tracepoint is someone else's connection with the same ports and addresses in
 * another namespace: close, and try the next ports.
 */
static int open_pair(struct guess *g, struct pair *p, size_t up, size_t down)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		int err;

		if (g->next_port + 2 > g->port_base + PORT_RANGE)
			break;
		p->cport = g->next_port++;
		p->lport = g->next_port++;
		p->lst = p->cli = p->srv = -1;
		err = pair_open(g, p, up, down);
		if (err != -EEXIST)
			return err;
		pair_close(p);
	}
	return fail(g, "%s: every port pair tried was in use by another connection with the "
		       "same addresses", p->label);
}

/* Wait until nothing is in flight on fd and TCP_INFO stops moving. */
static int settle(struct guess *g, int fd, int timeout_ms)
{
	uint64_t deadline = nt_now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct tcp_info a, b;

	for (;;) {
		tcp_info_of(fd, &a);
		usleep(1000);
		tcp_info_of(fd, &b);
		if (!b.tcpi_unacked && ti_same(&a, &b))
			return 0;
		if (nt_now_mono_ns() > deadline || late(g))
			return fail(g, "a test connection did not go idle within %d ms", timeout_ms);
	}
}

/* Wait until everything written has been sent (not acknowledged: the receiver drops). */
static int settle_sent(struct guess *g, int fd)
{
	uint64_t deadline = nt_now_mono_ns() + 500 * 1000000ULL;
	struct tcp_info ti;

	do {
		tcp_info_of(fd, &ti);
		if (!ti.tcpi_notsent_bytes)
			return 0;
		usleep(500);
	} while (nt_now_mono_ns() < deadline);
	return fail(g, "urgent data did not push the held-back bytes out");
}

/* Copy the socket's image with TCP_INFO read before and after: both must agree. */
static int observe(struct guess *g, const struct pair *p, bool client, bool idle, bool fin_rcvd)
{
	int fd = client ? p->cli : p->srv, err = 0;
	struct obs *o;
	struct tcp_info after;

	if (g->n_obs >= MAX_OBS)
		return fail(g, "too many observations");
	o = &g->obs[g->n_obs];
	o->p = p;
	o->client = client;
	o->sk = client ? p->cli_sk : p->srv_sk;
	o->idle = idle;
	o->fin_rcvd = fin_rcvd;
	if (!o->img)
		o->img = malloc(IMG_LEN);
	if (!o->img)
		return fail(g, "out of memory");
	for (int attempt = 0; attempt < 20; attempt++) {
		tcp_info_of(fd, &o->ti);
		err = nt_kmem_read(g->km, o->sk, o->img, IMG_LEN);
		tcp_info_of(fd, &after);
		if (err || ti_same(&o->ti, &after))
			break;
		usleep(500);
	}
	if (err)
		return fail(g, "%s: reading the socket at %#llx: %s", p->label,
			    (unsigned long long)o->sk, strerror(-err));
	if (!ti_same(&o->ti, &after))
		return fail(g, "%s: the connection kept changing while it was read", p->label);
	/* read after the image: leaving repair mode sends a window probe */
	err = repair_write_seq(fd, &o->write_seq);
	if (err)
		return fail(g, "%s: TCP_REPAIR (for write_seq): %s", p->label, strerror(-err));
	g->n_obs++;
	return 0;
}

/*
 * Data sent and really lost: a socket filter that drops everything sits on the
 * receiving socket (loopback itself must stay up: with the device down the send
 * fails locally and TCP counts no retransmission). A tail loss probe retransmits
 * while nothing is acknowledged (total_retrans moves, snd_una does not): image.
 * The filter goes, one more segment starts a SACK recovery, everything is
 * acknowledged: images at idle.
 */
static int loss_dance(struct guess *g, struct pair *p, int segments)
{
	struct sock_filter drop_all[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
	struct sock_fprog prog = { 1, drop_all };
	size_t total = 211;
	uint64_t deadline;
	struct tcp_info ti;
	int dummy = 0;

	if (setsockopt(p->srv, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return fail(g, "%s: a socket filter to lose packets: %s", p->label, strerror(errno));
	for (int i = 0; i < segments; i++) {
		send_all(p->cli, 100 + 37 * (size_t)i, 4096);
		total += 100 + 37 * (size_t)i;
	}
	deadline = nt_now_mono_ns() + 1500 * 1000000ULL;
	do {
		usleep(1000);
		tcp_info_of(p->cli, &ti);
	} while (!ti.tcpi_total_retrans && nt_now_mono_ns() < deadline);
	if (!ti.tcpi_total_retrans) {
		setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
		return fail(g, "%s: no retransmission within 1.5 s of dropped packets", p->label);
	}
	/* now a few bytes held back with MSG_MORE (after the loss probe, which would have
	 * sent them): write_seq moves; snd_nxt, snd_sml and pushed_seq (no push) do not */
	if (send(p->cli, "held back by MSG_MORE: write_seq only", 37, MSG_MORE | MSG_NOSIGNAL) !=
	    37) {
		setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
		return fail(g, "%s: corked data: %s", p->label, strerror(errno));
	}
	total += 37;
	if (observe(g, p, true, false, false)) {
		setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
		return -1;
	}
	/* one urgent byte: snd_up, which otherwise follows snd_una, points past it while
	 * it is unacknowledged (the server reads it inline, SO_OOBINLINE). It pushes the
	 * held-back bytes out too. */
	if (send(p->cli, "!", 1, MSG_OOB | MSG_NOSIGNAL) != 1) {
		setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
		return fail(g, "%s: urgent data: %s", p->label, strerror(errno));
	}
	total++;
	if (settle_sent(g, p->cli) || observe(g, p, true, false, false)) {
		setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
		return -1;
	}
	if (setsockopt(p->srv, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)))
		return fail(g, "%s: removing the socket filter: %s", p->label, strerror(errno));
	send_all(p->cli, 211, 4096);
	if (recv_n(p->srv, total))
		return fail(g, "%s: the lost data never arrived", p->label);
	if (settle(g, p->cli, 3000) || settle(g, p->srv, 3000))
		return -1;
	if (observe(g, p, true, true, false) || observe(g, p, false, true, false))
		return -1;
	return 0;
}

/* The server shuts its side down: the client takes the peer's FIN (SOCK_DONE). */
static int fin_to_client(struct guess *g, struct pair *p)
{
	int before = g->n_obs;
	struct tcp_info ti;
	uint64_t deadline;

	if (observe(g, p, true, true, false))
		return -1;
	shutdown(p->srv, SHUT_WR);
	deadline = nt_now_mono_ns() + 500 * 1000000ULL;
	do {
		usleep(500);
		tcp_info_of(p->cli, &ti);
	} while (ti.tcpi_state != 8 /* CLOSE_WAIT */ && nt_now_mono_ns() < deadline);
	if (ti.tcpi_state != 8)
		return fail(g, "%s: the client did not reach CLOSE_WAIT", p->label);
	if (settle(g, p->srv, 1000) || observe(g, p, true, true, true))
		return -1;
	if (g->n_fin < 2) {
		g->fin_before[g->n_fin] = before;
		g->fin_after[g->n_fin++] = g->n_obs - 1;
	}
	return 0;
}

/* ---- searching ---------------------------------------------------------------------------------- */

static size_t sock_width(int f);

static void set_field(struct guess *g, int f, size_t n, const size_t *cand, const char *what)
{
	struct nt_guess_field *fr = &g->r->field[f];
	char list[96] = "";
	size_t l = 0;

	if (hidden(g, f))
		n = 0;
	fr->candidates = (uint32_t)n;
	g->ncand[f] = n < MAX_CAND ? n : MAX_CAND;
	memcpy(g->cand[f], cand, g->ncand[f] * sizeof(*cand));
	snprintf(g->what[f], sizeof(g->what[f]), "%s", what);
	if (n == 1) {
		fr->status = NT_GS_FOUND;
		fr->offset = (uint32_t)cand[0];
		g->r->off.off[f] = (uint32_t)cand[0];
		snprintf(fr->why, sizeof(fr->why), "%s", what);
		return;
	}
	fr->status = n ? NT_GS_AMBIGUOUS : NT_GS_MISSING;
	for (size_t i = 0; i < n && i < MAX_CAND && l < sizeof(list) - 12; i++)
		l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%zu", i ? "," : "", cand[i]);
	if (n)
		snprintf(fr->why, sizeof(fr->why), "%zu offsets fit %s (%s%s)", n, what, list,
			 n > MAX_CAND ? ",..." : "");
	else
		snprintf(fr->why, sizeof(fr->why), "no offset fits %s%s", what,
			 hidden(g, f) ? " (hidden by --guess-hide)" : "");
	/* -vv: what each candidate held in each image, to see what would tell them apart */
	for (size_t i = 0; n > 1 && sock_width(f) && sock_width(f) <= 8 && i < g->ncand[f]; i++) {
		char vals[256];
		size_t vl = 0;

		for (int k = 0; k < g->n_obs && vl < sizeof(vals) - 24; k++)
			vl += (size_t)snprintf(vals + vl, sizeof(vals) - vl, " %llu",
					       (unsigned long long)nt_load_uint(
						       g->obs[k].img + g->cand[f][i], sock_width(f)));
		pr_debug("guess: %s candidate %zu:%s", field_names[f], g->cand[f][i], vals);
	}
}

/* Bytes each field of the socket image takes (0: the field is in another struct). */
static size_t sock_width(int f)
{
	switch (f) {
	case NT_OFF_sock_state:
		return 1;
	case NT_OFF_sock_family:
	case NT_OFF_sock_num:
	case NT_OFF_sock_dport:
		return 2;
	case NT_OFF_sock_rcv_saddr:
	case NT_OFF_sock_daddr:
	case NT_OFF_tcp_segs_in:
	case NT_OFF_tcp_segs_out:
	case NT_OFF_tcp_total_retrans:
	case NT_OFF_tcp_srtt_us:
	case NT_OFF_tcp_mdev_us:
	case NT_OFF_tcp_snd_una:
	case NT_OFF_tcp_write_seq:
		return 4;
	case NT_OFF_sock_net:
	case NT_OFF_sock_prot:
	case NT_OFF_sock_flags:
	case NT_OFF_tcp_bytes_acked:
	case NT_OFF_tcp_bytes_received:
		return 8;
	case NT_OFF_sock_v6_rcv_saddr:
	case NT_OFF_sock_v6_daddr:
		return 16;
	}
	return 0;
}

/*
 * Two fields of one struct never share a byte. A field with several candidates
 * loses those that lie inside a field already found (the kernel writes an IPv4
 * socket's addresses into its v4-mapped IPv6 addresses too, so skc_rcv_saddr's
 * value also sits in the last 4 bytes of skc_v6_rcv_saddr). Repeated until nothing
 * changes: no order between the searches matters.
 */
static void resolve_overlaps(struct guess *g)
{
	bool progress = true;

	while (progress) {
		progress = false;
		for (int f = 0; f < NT_OFF__COUNT; f++) {
			struct nt_guess_field *fr = &g->r->field[f];
			size_t w = sock_width(f), keep[MAX_CAND], nk = 0;
			int inside = -1;

			if (fr->status != NT_GS_AMBIGUOUS || !w || fr->candidates > MAX_CAND)
				continue;
			for (size_t i = 0; i < g->ncand[f]; i++) {
				size_t c = g->cand[f][i];
				int hit = -1;

				for (int o = 0; o < NT_OFF__COUNT && hit < 0; o++) {
					size_t ow = sock_width(o), oo = g->r->field[o].offset;

					if (o != f && ow && g->r->field[o].status == NT_GS_FOUND &&
					    c < oo + ow && oo < c + w)
						hit = o;
				}
				if (hit < 0)
					keep[nk++] = c;
				else
					inside = hit;
			}
			if (nk == 1) {
				char what[200];

				snprintf(what, sizeof(what), "%s; the others lie inside %s", g->what[f],
					 field_names[inside]);
				set_field(g, f, 1, keep, what);
				progress = true;
			}
		}
	}
}

/* Images of the observations selected by sel (NULL: all). */
static size_t images(struct guess *g, bool (*sel)(const struct obs *), struct nt_image *img,
		     struct obs **which)
{
	size_t n = 0;

	for (int i = 0; i < g->n_obs; i++) {
		if (sel && !sel(&g->obs[i]))
			continue;
		img[n] = (struct nt_image){ g->obs[i].img, IMG_LEN };
		which[n++] = &g->obs[i];
	}
	return n;
}

static bool is_v4(const struct obs *o)
{
	return o->p->family == AF_INET;
}

static bool is_v6(const struct obs *o)
{
	return o->p->family == AF_INET6;
}

/* A field whose value in each image is fixed by what the guesser knows. */
static void search_known(struct guess *g, int f, bool (*sel)(const struct obs *), size_t width,
			 size_t to, void (*want_of)(const struct obs *, uint8_t *), const char *what)
{
	struct nt_image img[MAX_OBS];
	struct obs *which[MAX_OBS];
	uint8_t want_buf[MAX_OBS][16];
	const void *want[MAX_OBS];
	size_t cand[MAX_CAND], n = images(g, sel, img, which), c;

	for (size_t i = 0; i < n; i++) {
		want_of(which[i], want_buf[i]);
		want[i] = want_buf[i];
	}
	c = nt_search_eq(img, n, want, width, width > 8 ? 4 : width, 0, to, cand, MAX_CAND);
	set_field(g, f, c, cand, what);
}

static void want_family(const struct obs *o, uint8_t *w)
{
	uint16_t v = (uint16_t)o->p->family;

	memcpy(w, &v, 2);
}

static void want_rcv_saddr(const struct obs *o, uint8_t *w)
{
	memcpy(w, o->client ? o->p->caddr : o->p->laddr, 16);
}

static void want_daddr(const struct obs *o, uint8_t *w)
{
	memcpy(w, o->client ? o->p->laddr : o->p->caddr, 16);
}

static void want_num(const struct obs *o, uint8_t *w)
{
	uint16_t v = o->client ? o->p->cport : o->p->lport;	/* host order */

	memcpy(w, &v, 2);
}

static void want_dport(const struct obs *o, uint8_t *w)
{
	uint16_t v = htons(o->client ? o->p->lport : o->p->cport);

	memcpy(w, &v, 2);
}

static void want_state(const struct obs *o, uint8_t *w)
{
	w[0] = o->ti.tcpi_state;
}

/* Integer fields compared with TCP_INFO, shifted as tcp_get_info() does. */
static void search_tcpi(struct guess *g, int f, size_t width, unsigned int shift,
			uint64_t (*val)(const struct obs *), const char *what)
{
	struct nt_image img[MAX_OBS];
	struct obs *which[MAX_OBS];
	uint64_t want[MAX_OBS];
	size_t cand[MAX_CAND], n = images(g, NULL, img, which), c;

	for (size_t i = 0; i < n; i++)
		want[i] = val(which[i]);
	c = nt_search_uint(img, n, want, width, shift, 0, IMG_LEN, cand, MAX_CAND);
	set_field(g, f, c, cand, what);
}

static uint64_t v_bytes_acked(const struct obs *o) { return o->ti.tcpi_bytes_acked; }
static uint64_t v_bytes_received(const struct obs *o) { return o->ti.tcpi_bytes_received; }
static uint64_t v_segs_in(const struct obs *o) { return o->ti.tcpi_segs_in; }
static uint64_t v_segs_out(const struct obs *o) { return o->ti.tcpi_segs_out; }
static uint64_t v_total_retrans(const struct obs *o) { return o->ti.tcpi_total_retrans; }
static uint64_t v_rtt(const struct obs *o) { return o->ti.tcpi_rtt; }
static uint64_t v_rttvar(const struct obs *o) { return o->ti.tcpi_rttvar; }
static uint64_t v_write_seq(const struct obs *o) { return o->write_seq; }

/*
 * snd_una: u32 such that, for each socket, value - tcpi_bytes_acked is the same in
 * all its images (both move with every cumulative ACK: snd_una - bytes_acked is the
 * initial sequence number), and equal to write_seq whenever nothing was in flight.
 * The image taken with data in flight rules out write_seq and snd_nxt (and snd_up:
 * an urgent byte is in flight); the ACKs of retransmitted data (timestamps off: no
 * RTT sample) leave rtt_seq behind.
 */
struct una_ctx {
	struct obs **which;
	size_t n;
};

static bool match_snd_una(size_t i, const uint8_t *field, void *ctx)
{
	const struct una_ctx *c = ctx;
	const struct obs *o = c->which[i];
	uint32_t v = (uint32_t)nt_load_uint(field, 4);

	if (o->idle && v != o->write_seq)
		return false;
	/* the first image of the same socket fixes the offset between the two */
	for (size_t j = 0; j < i; j++) {
		const struct obs *f = c->which[j];

		if (f->sk == o->sk) {
			uint32_t fv = (uint32_t)nt_load_uint(f->img + (field - o->img), 4);

			return (uint32_t)(v - (uint32_t)o->ti.tcpi_bytes_acked) ==
			       (uint32_t)(fv - (uint32_t)f->ti.tcpi_bytes_acked);
		}
	}
	return true;
}

static void search_snd_una(struct guess *g)
{
	struct nt_image img[MAX_OBS];
	struct obs *which[MAX_OBS];
	size_t cand[MAX_CAND], n = images(g, NULL, img, which), c;
	struct una_ctx ctx = { which, n };

	c = nt_search(img, n, 4, 4, 0, IMG_LEN, match_snd_una, &ctx, cand, MAX_CAND);
	set_field(g, NT_OFF_tcp_snd_una, c, cand,
		  "snd_una (write_seq when idle, moving with tcpi_bytes_acked)");
}

/* SOCK_DONE is bit 1 of sk_flags: set exactly in the images taken after the peer's FIN,
 * and the only bit of the word that changed when the FIN came in. */
struct flags_ctx {
	struct guess *g;
	struct obs **which;
	int index[MAX_OBS];	/* position of which[i] in g->obs */
};

static bool match_flags(size_t i, const uint8_t *field, void *ctx)
{
	const struct flags_ctx *c = ctx;
	const struct obs *o = c->which[i];
	uint64_t v = nt_load_uint(field, 8);
	size_t off = (size_t)(field - o->img);

	if (!!(v & 2) != o->fin_rcvd)
		return false;
	for (int k = 0; k < c->g->n_fin; k++) {
		if (c->g->fin_after[k] == c->index[i]) {
			const struct obs *b = &c->g->obs[c->g->fin_before[k]];

			if ((v ^ nt_load_uint(b->img + off, 8)) != 2)
				return false;
		}
	}
	return true;
}

static void search_flags(struct guess *g)
{
	struct nt_image img[MAX_OBS];
	struct flags_ctx ctx = { .g = g };
	struct obs *which[MAX_OBS];
	size_t cand[MAX_CAND], n = images(g, NULL, img, which), c;

	ctx.which = which;
	for (size_t i = 0; i < n; i++)
		ctx.index[i] = (int)(which[i] - g->obs);
	c = nt_search(img, n, 8, 8, 0, SOCK_COMMON_SEARCH, match_flags, &ctx, cand, MAX_CAND);
	set_field(g, NT_OFF_sock_flags, c, cand,
		  "sk_flags (SOCK_DONE set by the peer's FIN, and nothing else changed)");
}

/*
 * skc_prot: a pointer that is the same for every IPv4 socket and the same for every
 * IPv6 one, different between the two, pointing at a struct proto whose name (at one
 * offset for both) is "TCP" and "TCPv6". Its two values are what the raw_tp and
 * kprobe state programs compare with to keep TCP sockets only.
 */
static void search_prot(struct guess *g)
{
	static uint8_t p4_img[NET_IMG_LEN], p6_img[NET_IMG_LEN];
	size_t cand[MAX_CAND], n = 0;
	const struct obs *o4 = NULL, *o6 = NULL;
	uint64_t p4 = 0, p6 = 0;

	for (int i = 0; i < g->n_obs; i++) {
		if (is_v4(&g->obs[i]) && !o4)
			o4 = &g->obs[i];
		if (is_v6(&g->obs[i]) && !o6)
			o6 = &g->obs[i];
	}
	if (!o4 || !o6) {
		set_field(g, NT_OFF_sock_prot, 0, NULL, "skc_prot (needs IPv6 sockets to compare)");
		return;
	}
	for (size_t off = 0; off + 8 <= SOCK_COMMON_SEARCH; off += 8) {
		uint64_t v4 = nt_load_uint(o4->img + off, 8), v6 = nt_load_uint(o6->img + off, 8);
		bool ok = nt_is_kernel_ptr(v4) && nt_is_kernel_ptr(v6) && v4 != v6;

		for (int i = 0; ok && i < g->n_obs; i++)
			ok = nt_load_uint(g->obs[i].img + off, 8) == (is_v4(&g->obs[i]) ? v4 : v6);
		if (!ok || nt_kmem_read(g->km, v4, p4_img, sizeof(p4_img)) ||
		    nt_kmem_read(g->km, v6, p6_img, sizeof(p6_img)))
			continue;
		for (size_t k = 0; k + 6 <= NET_IMG_LEN; k++) {
			if (memcmp(p4_img + k, "TCP", 4) || memcmp(p6_img + k, "TCPv6", 6))
				continue;
			if (n < MAX_CAND)
				cand[n] = off;
			n++;
			p4 = v4;
			p6 = v6;
			break;
		}
	}
	set_field(g, NT_OFF_sock_prot, n, cand,
		  "skc_prot (one struct proto named TCP for IPv4, one named TCPv6 for IPv6)");
	if (n == 1) {
		g->r->off.tcp_prot = p4;
		g->r->off.tcpv6_prot = p6;
	}
}

/*
 * skc_net and the namespace inode in struct net, together: a pointer that is the same
 * for the sockets of one namespace and differs between namespaces, pointing at a
 * struct net that holds the namespace's inode (at the same offset for both).
 */
static void search_net(struct guess *g)
{
	static uint8_t net_a[NET_IMG_LEN], net_b[NET_IMG_LEN];
	size_t found = 0, f_inum = 0, ptr_cand[MAX_CAND], np = 0;
	const struct obs *oa = NULL, *ob = NULL;

	for (int i = 0; i < g->n_obs; i++) {
		if (g->obs[i].p == &g->a && !oa)
			oa = &g->obs[i];
		if (g->obs[i].p == &g->b && !ob)
			ob = &g->obs[i];
	}
	if (!oa || !ob)
		return;
	for (size_t off = 0; off + 8 <= SOCK_COMMON_SEARCH; off += 8) {
		uint64_t va = nt_load_uint(oa->img + off, 8), vb = nt_load_uint(ob->img + off, 8);
		bool ok = nt_is_kernel_ptr(va) && nt_is_kernel_ptr(vb) && va != vb;

		for (int i = 0; ok && i < g->n_obs; i++) {
			const struct obs *o = &g->obs[i];
			uint64_t v = nt_load_uint(o->img + off, 8);

			ok = (o->p->netns == oa->p->netns) ? v == va : v == vb;
		}
		if (!ok)
			continue;
		/* a struct net: its inode at some offset, the same in both namespaces */
		if (nt_kmem_read(g->km, va, net_a, sizeof(net_a)) ||
		    nt_kmem_read(g->km, vb, net_b, sizeof(net_b)))
			continue;
		for (size_t k = 0; k + 4 <= NET_IMG_LEN; k += 4) {
			if (nt_load_uint(net_a + k, 4) != oa->p->netns ||
			    nt_load_uint(net_b + k, 4) != ob->p->netns)
				continue;
			if (np < MAX_CAND)
				ptr_cand[np] = off;
			np++;
			f_inum = k;
			found++;
		}
	}
	set_field(g, NT_OFF_sock_net, np, ptr_cand,
		  "skc_net (one struct net per namespace, holding its inode)");
	set_field(g, NT_OFF_net_inum, found, &f_inum, "ns.inum (the namespace inode)");
}

/* ---- the accepting process: walk from our own task to our own sockets ------------------------ */

struct fdwalk {
	struct guess *g;
	int fd;
	uint64_t sk;
};

static int read_fdsize(void)
{
	FILE *f = fopen("/proc/thread-self/status", "re");
	char line[256];
	int v = -1;

	if (!f)
		f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "FDSize:", 7))
			v = atoi(line + 7);
	fclose(f);
	return v;
}

/* Follow the chain with the given offsets: does descriptor fd lead to socket sk? */
static bool fd_leads_to(struct guess *g, uint64_t task, const uint32_t o[6], int fd, uint64_t sk,
			uint32_t want_max)
{
	uint64_t files, fdt, fds, file, sock, got;
	uint32_t max_fds;

	return !nt_kmem_read(g->km, task + o[0], &files, 8) && nt_is_kernel_ptr(files) &&
	       !nt_kmem_read(g->km, files + o[1], &fdt, 8) && nt_is_kernel_ptr(fdt) &&
	       !nt_kmem_read(g->km, fdt + o[2], &max_fds, 4) && max_fds == want_max &&
	       !nt_kmem_read(g->km, fdt + o[3], &fds, 8) && nt_is_kernel_ptr(fds) &&
	       !nt_kmem_read(g->km, fds + 8 * (uint64_t)fd, &file, 8) && nt_is_kernel_ptr(file) &&
	       !nt_kmem_read(g->km, file + o[4], &sock, 8) && nt_is_kernel_ptr(sock) &&
	       !nt_kmem_read(g->km, sock + o[5], &got, 8) && got == sk;
}

static int search_fdwalk(struct guess *g)
{
	static uint8_t task_img[TASK_IMG_LEN];
	uint8_t files_img[256], fdt_img[64], file_img[512], sock_img[64];
	/* several chains alias the same objects (an embedded fdtable, other structs that
	 * point at the same file): collect them all, confirm each */
	static uint32_t cand[MAX_CHAINS][6];
	uint32_t o[6];
	size_t found = 0, confirmed = 0, best = 0;
	bool ok[MAX_CHAINS] = { false };
	int grown;
	uint64_t task = nt_kmem_current_task(g->km), fds_arr, file;
	int fdsize = read_fdsize(), fd = g->a.cli, big = -1;
	const int fields[6] = { NT_OFF_task_files, NT_OFF_files_fdt, NT_OFF_fdt_max_fds,
				NT_OFF_fdt_fd, NT_OFF_file_private_data, NT_OFF_socket_sk };
	const char *what[6] = { "task_struct.files", "files_struct.fdt", "fdtable.max_fds",
				"fdtable.fd", "file.private_data", "socket.sk" };

	size_t task_len = 0;

	g->phase = "FDWALK";
	/* as much of the task as can be read: the object may end before 16 KiB */
	while (nt_is_kernel_ptr(task) && task_len < sizeof(task_img) &&
	       !nt_kmem_read(g->km, task + task_len, task_img + task_len, 4096))
		task_len += 4096;
	if (!task_len || fdsize <= 0) {
		warn(g, "cannot read the current task: the accepting process comes from "
			"kretprobe/inet_csk_accept only");
		for (int i = 0; i < 6; i++)
			set_field(g, fields[i], 0, NULL, "the task could not be read");
		return 0;
	}
	/* task -> files: a pointer to a struct whose fdt points to a table with
	 * max_fds == FDSize, whose fd array leads from our descriptor to our socket */
	for (o[0] = 0; o[0] + 8 <= task_len && found < MAX_CHAINS; o[0] += 8) {
		uint64_t files = nt_load_uint(task_img + o[0], 8);

		if (!nt_is_kernel_ptr(files) || nt_kmem_read(g->km, files, files_img,
							     sizeof(files_img)))
			continue;
		for (o[1] = 0; o[1] + 8 <= sizeof(files_img); o[1] += 8) {
			uint64_t fdt = nt_load_uint(files_img + o[1], 8);

			if (!nt_is_kernel_ptr(fdt) || nt_kmem_read(g->km, fdt, fdt_img,
								   sizeof(fdt_img)))
				continue;
			for (o[2] = 0; o[2] + 4 <= sizeof(fdt_img); o[2] += 4) {
				if (nt_load_uint(fdt_img + o[2], 4) != (uint64_t)fdsize)
					continue;
				for (o[3] = 0; o[3] + 8 <= sizeof(fdt_img); o[3] += 8) {
					fds_arr = nt_load_uint(fdt_img + o[3], 8);
					if (!nt_is_kernel_ptr(fds_arr) ||
					    nt_kmem_read(g->km, fds_arr + 8 * (uint64_t)fd, &file, 8) ||
					    !nt_is_kernel_ptr(file) ||
					    nt_kmem_read(g->km, file, file_img, sizeof(file_img)))
						continue;
					for (o[4] = 0; o[4] + 8 <= sizeof(file_img); o[4] += 8) {
						uint64_t sock = nt_load_uint(file_img + o[4], 8);

						if (!nt_is_kernel_ptr(sock) ||
						    nt_kmem_read(g->km, sock, sock_img,
								 sizeof(sock_img)))
							continue;
						for (o[5] = 0; o[5] + 8 <= sizeof(sock_img); o[5] += 8) {
							if (nt_load_uint(sock_img + o[5], 8) !=
							    g->a.cli_sk)
								continue;
							if (found < MAX_CHAINS)
								memcpy(cand[found], o, sizeof(o));
							found++;
						}
					}
				}
			}
		}
		if (late(g))
			return -1;
	}
	/* other chains can lead from the task to the same socket: each candidate must also
	 * lead from other descriptors to their sockets, and again after the table has
	 * grown (a new fdtable, another max_fds) */
	for (size_t c = 0; c < found && c < MAX_CHAINS; c++)
		ok[c] = fd_leads_to(g, task, cand[c], g->a.srv, g->a.srv_sk, (uint32_t)fdsize) &&
			fd_leads_to(g, task, cand[c], g->b.cli, g->b.cli_sk, (uint32_t)fdsize);
	big = fcntl(g->a.srv, F_DUPFD_CLOEXEC, fdsize + 1);
	grown = read_fdsize();
	pr_debug("guess: fd walk: %zu chains from the task (%zu bytes read), FDSize %d then %d",
		 found, task_len, fdsize, grown);
	for (size_t c = 0; c < found && c < MAX_CHAINS; c++) {
		ok[c] = ok[c] && big >= 0 && grown > fdsize &&
			fd_leads_to(g, task, cand[c], big, g->a.srv_sk, (uint32_t)grown) &&
			fd_leads_to(g, task, cand[c], g->b.srv, g->b.srv_sk, (uint32_t)grown);
		if (ok[c]) {
			best = c;
			confirmed++;
		}
		pr_debug("guess: fd walk chain %zu: files %u fdt %u max_fds %u fd %u private_data %u "
			 "sk %u: %s", c, cand[c][0], cand[c][1], cand[c][2], cand[c][3], cand[c][4],
			 cand[c][5], ok[c] ? "confirmed" : "not confirmed");
	}
	if (big >= 0)
		close(big);
	for (int i = 0; i < 6; i++) {
		size_t off[MAX_CAND], n = 0;

		for (size_t c = 0; c < found && c < MAX_CHAINS && n < MAX_CAND; c++)
			if (ok[c])
				off[n++] = cand[c][i];
		if (confirmed == 1)
			off[0] = cand[best][i];
		set_field(g, fields[i], confirmed, off,
			  found >= MAX_CHAINS ? "(too many chains from the task)" : what[i]);
	}
	return 0;
}

/* ---- the machine ----------------------------------------------------------------------------- */

static void addr4(uint8_t *dst, const char *s)
{
	memset(dst, 0, 16);
	inet_pton(AF_INET, s, dst);
}

static void addr6(uint8_t *dst, const char *s)
{
	inet_pton(AF_INET6, s, dst);
}

/* A fresh namespace with loopback up and TCP timestamps off in it. */
static int namespace(struct guess *g, int *orig, int host_ts_fd)
{
	char err[192], before[8] = "", after[8] = "";
	int e;

	if (nt_netns_private(orig, err, sizeof(err)))
		return fail(g, "%s (guessing needs CAP_SYS_ADMIN for its private namespaces)",
			    err);
	e = nt_link_set_up("lo", true);
	if (e)
		return fail(g, "bringing loopback up: %s", strerror(-e));
	if (host_ts_fd >= 0)
		(void)!pread(host_ts_fd, before, sizeof(before) - 1, 0);
	e = nt_sysctl_write("/proc/sys/net/ipv4/tcp_timestamps", "0");
	if (e)
		return fail(g, "turning TCP timestamps off in the private namespace: %s",
			    strerror(-e));
	if (host_ts_fd >= 0) {
		(void)!pread(host_ts_fd, after, sizeof(after) - 1, 0);
		if (strcmp(before, after)) {
			/* a kernel whose tcp_timestamps is not per namespace: put it back */
			(void)!pwrite(host_ts_fd, before, strlen(before), 0);
			return fail(g, "net.ipv4.tcp_timestamps is not per network namespace on "
				       "this kernel (restored to %.*s)", (int)strcspn(before, "\n"),
				    before);
		}
	}
	return 0;
}

static int run(struct guess *g)
{
	int host_ts = open("/proc/sys/net/ipv4/tcp_timestamps", O_RDWR | O_CLOEXEC);
	struct nt_guess_config cfg = { 0 };
	char err[256];
	int orig_b = -1, e;

	/* ports in [20000, 60000), different from run to run */
	g->port_base = (uint16_t)(20000 + ((nt_now_mono_ns() ^ ((uint64_t)getpid() << 20)) >> 6) %
						  (40000 / PORT_RANGE) * PORT_RANGE);
	g->next_port = g->port_base;
	cfg.port_lo = g->port_base;
	cfg.port_hi = (uint16_t)(g->port_base + PORT_RANGE - 1);
	inet_pton(AF_INET, "127.110.116.0", &cfg.v4_net[0]);
	inet_pton(AF_INET, "127.98.98.0", &cfg.v4_net[1]);
	{
		uint8_t v6[16];

		addr6(v6, "fd6e:7472:6163:6572::");
		memcpy(cfg.v6_net, v6, 8);
	}

	g->phase = "NETNS_A";
	if (namespace(g, &g->orig_netns, host_ts))
		goto out;
	g->phase = "LOAD";
	if (nt_kmem_open(&g->km, &cfg, g->opt->use_trigger, err, sizeof(err))) {
		fail(g, "%s", err);
		goto out;
	}
	snprintf(g->r->capture_via, sizeof(g->r->capture_via), "%s", nt_kmem_capture_via(g->km));
	snprintf(g->r->peek_via, sizeof(g->r->peek_via), "%s", nt_kmem_peek_via(g->km));

	/* IPv6: two addresses of our own on loopback, so that local and remote differ */
	{
		struct in6_addr a1, a2;

		addr6((uint8_t *)&a1, "fd6e:7472:6163:6572::1");
		addr6((uint8_t *)&a2, "fd6e:7472:6163:6572::2");
		/* no duplicate address detection in our namespace: the addresses are usable
		 * at once instead of tentative for a moment */
		nt_sysctl_write("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
		nt_sysctl_write("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
		nt_sysctl_write("/proc/sys/net/ipv6/conf/lo/accept_dad", "0");
		g->v6 = nt_add_ipv6("lo", &a1, 128) == 0 && nt_add_ipv6("lo", &a2, 128) == 0;
		if (!g->v6)
			warn(g, "no IPv6 here: IPv6 connections will not be traced");
	}

	g->phase = "PAIR_A";
	g->a = (struct pair){ .label = "IPv4 connection A", .family = AF_INET };
	addr4(g->a.caddr, "127.110.116.1");
	addr4(g->a.laddr, "127.110.116.2");
	if (open_pair(g, &g->a, 93127, 51311) || settle(g, g->a.cli, 1000) ||
	    settle(g, g->a.srv, 1000))
		goto out;
	if (g->v6) {
		g->a6 = (struct pair){ .label = "IPv6 connection", .family = AF_INET6 };
		addr6(g->a6.caddr, "fd6e:7472:6163:6572::1");
		addr6(g->a6.laddr, "fd6e:7472:6163:6572::2");
		if (open_pair(g, &g->a6, 29917, 71113) || settle(g, g->a6.cli, 1000) ||
		    settle(g, g->a6.srv, 1000))
			goto out;
	}
	if (observe(g, &g->a, true, true, false) || observe(g, &g->a, false, true, false))
		goto out;
	if (g->v6 && observe(g, &g->a6, false, true, false))
		goto out;
	g->phase = "LOSS_A";
	if (loss_dance(g, &g->a, 6) || late(g))
		goto out;
	if (g->v6) {
		g->phase = "FIN_V6";
		if (fin_to_client(g, &g->a6) || late(g))
			goto out;
	}

	g->phase = "NETNS_B";
	if (namespace(g, &orig_b, host_ts))
		goto out;
	close(orig_b);	/* namespace A lives on through its sockets */
	g->b = (struct pair){ .label = "IPv4 connection B", .family = AF_INET };
	addr4(g->b.caddr, "127.98.98.1");
	addr4(g->b.laddr, "127.98.98.2");
	if (open_pair(g, &g->b, 37501, 113333) || settle(g, g->b.cli, 1000) ||
	    settle(g, g->b.srv, 1000))
		goto out;
	if (observe(g, &g->b, false, true, false))
		goto out;
	g->phase = "LOSS_B";
	if (loss_dance(g, &g->b, 9) || late(g))
		goto out;
	g->phase = "FIN_B";
	if (fin_to_client(g, &g->b) || late(g))
		goto out;

	g->phase = "SEARCH";
	search_known(g, NT_OFF_sock_family, NULL, 2, SOCK_COMMON_SEARCH, want_family,
		     "skc_family (AF_INET / AF_INET6)");
	search_known(g, NT_OFF_sock_state, NULL, 1, SOCK_COMMON_SEARCH, want_state,
		     "skc_state (ESTABLISHED, CLOSE_WAIT, FIN_WAIT2 as TCP_INFO says)");
	search_known(g, NT_OFF_sock_rcv_saddr, is_v4, 4, SOCK_COMMON_SEARCH, want_rcv_saddr,
		     "skc_rcv_saddr (the local IPv4 address)");
	search_known(g, NT_OFF_sock_daddr, is_v4, 4, SOCK_COMMON_SEARCH, want_daddr,
		     "skc_daddr (the remote IPv4 address)");
	search_known(g, NT_OFF_sock_num, NULL, 2, SOCK_COMMON_SEARCH, want_num,
		     "skc_num (the local port, host order)");
	search_known(g, NT_OFF_sock_dport, NULL, 2, SOCK_COMMON_SEARCH, want_dport,
		     "skc_dport (the remote port, network order)");
	if (g->v6) {
		search_known(g, NT_OFF_sock_v6_rcv_saddr, is_v6, 16, SOCK_COMMON_SEARCH,
			     want_rcv_saddr, "skc_v6_rcv_saddr (the local IPv6 address)");
		search_known(g, NT_OFF_sock_v6_daddr, is_v6, 16, SOCK_COMMON_SEARCH, want_daddr,
			     "skc_v6_daddr (the remote IPv6 address)");
	}
	search_net(g);
	search_flags(g);
	search_prot(g);
	search_tcpi(g, NT_OFF_tcp_bytes_acked, 8, 0, v_bytes_acked, "tcpi_bytes_acked");
	search_tcpi(g, NT_OFF_tcp_bytes_received, 8, 0, v_bytes_received, "tcpi_bytes_received");
	search_tcpi(g, NT_OFF_tcp_segs_in, 4, 0, v_segs_in, "tcpi_segs_in");
	search_tcpi(g, NT_OFF_tcp_segs_out, 4, 0, v_segs_out, "tcpi_segs_out");
	search_tcpi(g, NT_OFF_tcp_total_retrans, 4, 0, v_total_retrans, "tcpi_total_retrans");
	search_tcpi(g, NT_OFF_tcp_srtt_us, 4, 3, v_rtt, "tcpi_rtt (srtt_us >> 3)");
	search_tcpi(g, NT_OFF_tcp_mdev_us, 4, 2, v_rttvar, "tcpi_rttvar (mdev_us >> 2)");
	search_tcpi(g, NT_OFF_tcp_write_seq, 4, 0, v_write_seq, "write_seq (TCP_REPAIR)");
	search_snd_una(g);
	resolve_overlaps(g);
	if (search_fdwalk(g))
		goto out;
out:
	if (g->km)
		g->r->peeks = nt_kmem_peeks(g->km);
	pair_close(&g->a);
	pair_close(&g->a6);
	pair_close(&g->b);
	if (g->orig_netns >= 0) {
		e = nt_netns_restore(g->orig_netns);
		g->orig_netns = -1;
		if (e)
			fail(g, "returning to the original network namespace: %s", strerror(-e));
	}
	if (host_ts >= 0)
		close(host_ts);
	nt_kmem_close(g->km);
	g->km = NULL;
	return g->r->error[0] ? -1 : 0;
}

int nt_guess_run(const struct nt_guess_opts *o, struct nt_guess_result *r)
{
	struct nt_guess_opts def = { 0 };
	struct guess g = { .opt = o ? o : &def, .r = r, .orig_netns = -1,
			   .a = { .lst = -1, .cli = -1, .srv = -1 },
			   .a6 = { .lst = -1, .cli = -1, .srv = -1 },
			   .b = { .lst = -1, .cli = -1, .srv = -1 } };
	uint64_t t0 = nt_now_mono_ns();

	memset(r, 0, sizeof(*r));
	if (!g.opt->time_limit_ms) {
		def = *g.opt;
		def.time_limit_ms = NT_GUESS_TIME_LIMIT_MS;
		g.opt = &def;
	}
	g.deadline = t0 + g.opt->time_limit_ms * 1000000ULL;
	run(&g);
	for (int i = 0; i < MAX_OBS; i++)
		free(g.obs[i].img);
	r->elapsed_us = (nt_now_mono_ns() - t0) / 1000;
	if (r->error[0])
		return -1;

	/* required fields must all be there; an optional part goes off with a warning */
	r->off.have = NT_HAVE_V6 | NT_HAVE_RTT | NT_HAVE_FDWALK | NT_HAVE_PROT;
	if (!g.v6)
		r->off.have &= ~NT_HAVE_V6;
	for (int f = 0; f < NT_OFF__COUNT; f++) {
		struct nt_guess_field *fr = &r->field[f];
		uint32_t part = nt_guess_field_part(f);

		if (fr->status == NT_GS_FOUND)
			continue;
		if (fr->status == NT_GS_NOT_TRIED) {
			fr->status = NT_GS_SKIPPED;
			if (!fr->why[0])
				snprintf(fr->why, sizeof(fr->why), "not looked for");
		}
		if (!part) {
			snprintf(r->error, sizeof(r->error), "guessing failed: field %s: %s",
				 field_names[f], fr->why);
			return -1;
		}
		if (r->off.have & part)
			warn(&g, "%s not found (%s): %s", field_names[f], fr->why,
			     part == NT_HAVE_V6	    ? "IPv6 connections will not be traced"
			     : part == NT_HAVE_RTT  ? "rtt_us and rtt_var_us will be 0"
			     : part == NT_HAVE_PROT ? "raw_tp/kprobe state hooks unavailable"
						    : "the accepting process comes from "
						      "kretprobe/inet_csk_accept only");
		r->off.have &= ~part;
	}
	return 0;
}

/* ---- output and cache ------------------------------------------------------------------------ */

void nt_guess_print(FILE *f, const struct nt_guess_result *r, bool json)
{
	static const char *const st[] = { "not tried", "found", "missing", "ambiguous", "skipped" };

	if (json) {
		fputc('{', f);
		for (int i = 0; i < NT_OFF__COUNT; i++) {
			if (r->field[i].status == NT_GS_FOUND)
				fprintf(f, "%s\"%s\":%u", i ? "," : "", field_names[i],
					r->field[i].offset);
			else
				fprintf(f, "%s\"%s\":null", i ? "," : "", field_names[i]);
		}
		fputs("}\n", f);
		return;
	}
	fprintf(f, "%-20s %7s  %-9s %s\n", "FIELD", "OFFSET", "STATUS", "FOUND AS");
	for (int i = 0; i < NT_OFF__COUNT; i++) {
		const struct nt_guess_field *fr = &r->field[i];

		if (fr->status == NT_GS_FOUND)
			fprintf(f, "%-20s %7u  %-9s %s\n", field_names[i], fr->offset, st[fr->status],
				fr->why);
		else
			fprintf(f, "%-20s %7s  %-9s %s\n", field_names[i], "-", st[fr->status],
				fr->why);
	}
	if (r->from_cache)
		fprintf(f, "from the cache of this kernel and boot\n");
	else
		fprintf(f, "guessed in %llu ms: %u connections, %llu reads of kernel memory via %s, "
			   "captures via %s\n",
			(unsigned long long)(r->elapsed_us / 1000), r->connections,
			(unsigned long long)r->peeks, r->peek_via, r->capture_via);
	for (int i = 0; i < r->n_warnings; i++)
		fprintf(f, "warning: %s\n", r->warnings[i]);
}

#define CACHE_MAGIC "nettracer-offsets 1"

/*
 * One "name value" line of the cache: a word, one space, decimal digits, a newline.
 * Anything else (a sign, trailing bytes, a value above 64 bits) makes the file bad.
 */
static int parse_cache_line(const char *line, char *name, size_t name_len, unsigned long long *v)
{
	const char *sp = strchr(line, ' ');
	const char *p;
	size_t n;

	if (!sp || sp == line || (size_t)(sp - line) >= name_len)
		return -1;
	n = (size_t)(sp - line);
	memcpy(name, line, n);
	name[n] = '\0';
	*v = 0;
	for (p = sp + 1; *p >= '0' && *p <= '9'; p++) {
		if (*v > (~0ULL - (unsigned long long)(*p - '0')) / 10)
			return -1;
		*v = *v * 10 + (unsigned long long)(*p - '0');
	}
	if (p == sp + 1 || strcmp(p, "\n"))
		return -1;
	return 0;
}

int nt_guess_cache_load(const char *path, struct nt_guess_result *r)
{
	char release[128], boot[64], line[256], name[128];
	unsigned long long v;
	int found = 0;
	FILE *f;

	if (!path || nt_kernel_release(release, sizeof(release)) || nt_boot_id(boot, sizeof(boot)))
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	memset(r, 0, sizeof(*r));
	if (!fgets(line, sizeof(line), f) || strncmp(line, CACHE_MAGIC, strlen(CACHE_MAGIC)))
		goto bad;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "kernel %127s", name) != 1 ||
	    strcmp(name, release))
		goto bad;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "boot %127s", name) != 1 ||
	    strcmp(name, boot))
		goto bad;
	while (fgets(line, sizeof(line), f)) {
		if (parse_cache_line(line, name, sizeof(name), &v))
			goto bad;
		if (!strcmp(name, "have")) {
			if (v > UINT32_MAX)
				goto bad;
			r->off.have = (uint32_t)v;
		} else if (!strcmp(name, "tcp_prot")) {
			r->off.tcp_prot = v;
		} else if (!strcmp(name, "tcpv6_prot")) {
			r->off.tcpv6_prot = v;
		} else {
			int i;

			for (i = 0; i < NT_OFF__COUNT && strcmp(name, field_names[i]); i++)
				;
			if (i == NT_OFF__COUNT || v > 65535)
				goto bad;
			r->off.off[i] = (uint32_t)v;
			r->field[i].status = NT_GS_FOUND;
			r->field[i].offset = (uint32_t)v;
			snprintf(r->field[i].why, sizeof(r->field[i].why), "cached");
			found++;
		}
	}
	fclose(f);
	/*
	 * Every required field must be in it, and "have" may claim only parts whose fields
	 * are all there, as nt_guess_run() writes it: the legacy programs trust those bits
	 * and would read offset 0 for a missing field. A file that says otherwise was
	 * edited or damaged: guess again rather than trust it.
	 */
	if (r->off.have & ~(uint32_t)(NT_HAVE_V6 | NT_HAVE_RTT | NT_HAVE_FDWALK | NT_HAVE_PROT))
		return -1;
	for (int i = 0; i < NT_OFF__COUNT; i++)
		if (r->field[i].status != NT_GS_FOUND &&
		    (!nt_guess_field_part(i) || (r->off.have & nt_guess_field_part(i))))
			return -1;
	for (int i = 0; i < NT_OFF__COUNT; i++)
		if (r->field[i].status != NT_GS_FOUND) {
			r->field[i].status = NT_GS_SKIPPED;
			snprintf(r->field[i].why, sizeof(r->field[i].why), "not in the cache");
		}
	r->from_cache = true;
	return found ? 0 : -1;
bad:
	fclose(f);
	return -1;
}

int nt_guess_cache_store(const char *path, const struct nt_guess_result *r)
{
	char release[128], boot[64], tmp[4096];
	FILE *f;
	int fd;

	if (!path || nt_kernel_release(release, sizeof(release)) || nt_boot_id(boot, sizeof(boot)))
		return -1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, CACHE_MAGIC "\nkernel %s\nboot %s\n", release, boot);
	for (int i = 0; i < NT_OFF__COUNT; i++)
		if (r->field[i].status == NT_GS_FOUND)
			fprintf(f, "%s %u\n", field_names[i], r->off.off[i]);
	fprintf(f, "have %u\ntcp_prot %llu\ntcpv6_prot %llu\n", r->off.have,
		(unsigned long long)r->off.tcp_prot, (unsigned long long)r->off.tcpv6_prot);
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}
