// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * ntbench: the load generator of nettracer's benchmark (tools/bench/bench.py runs it).
 *
 *   crr     connect, one request, one response, close; again (connection rate)
 *   rr      request/response on long-lived connections (transaction rate)
 *   stream  bulk data on long-lived connections (throughput)
 *   hold    open N connections and keep them open until SIGTERM (memory at scale)
 *
 * One process per role (--role server|client|both); "both" forks the server. Each side
 * is a single thread driving all its connections with epoll, so that --cpu can pin the
 * whole load to one core: on this kind of machine cross-core wake-ups cut rates to a
 * third and make them noisy. The client prints one JSON summary line on stdout and, with
 * --conn-log, one line per connection it completed: "sport dport bytes_sent bytes_recv".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { CRR, RR, STREAM, HOLD };

static struct {
	enum mode mode;
	const char *role;
	const char *addr;	/* server address: IPv4 or IPv6 literal */
	int port;
	int concurrency;
	double duration;
	size_t req, resp;	/* request/response sizes; stream: write size */
	int cpu;
	const char *conn_log;
	int hold;		/* hold: connections */
	int addrs;		/* hold: spread over 127.0.0.1..N (ports run out otherwise) */
	const char *server_netns, *client_netns;	/* names under /run/netns */
} opt = { CRR, "both", "127.0.0.1", 0, 8, 5.0, 100, 100, -1, NULL, 1000, 1, NULL, NULL };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ntbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin(void)
{
	cpu_set_t set;

	if (opt.cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static socklen_t server_sa(struct sockaddr_storage *ss, const char *addr, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s->sin6_addr) != 1)
			die("bad IPv6 address");
		return sizeof(*s);
	}
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &s->sin_addr) != 1)
		die("bad IPv4 address");
	return sizeof(*s);
}

static void raise_nofile(int need)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	if (r.rlim_cur < (rlim_t)need + 64) {
		r.rlim_cur = r.rlim_max = (rlim_t)need + 64;
		if (setrlimit(RLIMIT_NOFILE, &r))
			die("setrlimit(RLIMIT_NOFILE)");
	}
}

/* ---- server ---------------------------------------------------------------------------------- */

/*
 * An epoll event names its descriptor and the generation of the connection it was
 * registered for, never a pointer: a process that borrowed one of our sockets
 * (nettracer --bpf=legacy does, with pidfd_getfd(), for a few microseconds at its start)
 * keeps the socket in our epoll set after we close it, so an event can still come for a
 * connection already closed and freed. Such an event is ignored.
 */
static uint64_t ev_key(int fd_or_index, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd_or_index;
}

struct sconn {
	int fd;
	uint32_t gen;
	size_t got;		/* request bytes of the current transaction */
};

static struct sconn **sconns;	/* by descriptor */
static size_t n_sconns;

static struct sconn *sconn_of(uint64_t key)
{
	size_t fd = (uint32_t)key;

	return fd < n_sconns && sconns[fd] && sconns[fd]->gen == key >> 32 ? sconns[fd] : NULL;
}

/* A socket stays in the namespace it was made in: the listener is made in the server's,
 * then the process moves to the client's, and the forked server keeps accepting. */
static void enter_netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = server_sa(&ss, addr, port);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 4096))
		die("listen");
	return fd;
}

static void server(int lfd)
{
	static char buf[1 << 16];
	struct epoll_event ev, evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		die("epoll");
	ev.events = EPOLLIN;
	ev.data.u64 = ev_key(lfd, 0);	/* generation 0: the listener */
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < n; i++) {
			struct sconn *c;

			if (evs[i].data.u64 >> 32 == 0) {	/* the listener */
				static uint32_t gen;
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					int one = 1;

					if ((size_t)fd >= n_sconns) {
						size_t n = (size_t)fd * 2 + 64;
						struct sconn **p = realloc(sconns, n * sizeof(*p));

						if (!p)
							die("realloc");
						memset(p + n_sconns, 0, (n - n_sconns) * sizeof(*p));
						sconns = p;
						n_sconns = n;
					}
					c = calloc(1, sizeof(*c));
					if (!c)
						die("calloc");
					c->fd = fd;
					c->gen = ++gen ? gen : ++gen;	/* never 0 */
					sconns[fd] = c;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.u64 = ev_key(fd, c->gen);
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			c = sconn_of(evs[i].data.u64);
			if (!c)
				continue;	/* closed already (see ev_key()) */
			for (;;) {
				ssize_t r = read(c->fd, buf, sizeof(buf));

				if (r > 0) {
					if (opt.mode == STREAM || opt.mode == HOLD)
						continue;
					c->got += (size_t)r;
					/* one response per complete request */
					while (c->got >= opt.req) {
						size_t left = opt.resp;

						c->got -= opt.req;
						while (left) {
							ssize_t w = write(c->fd, buf, left < sizeof(buf)
											     ? left
											     : sizeof(buf));

							if (w < 0 && errno == EAGAIN)
								continue;	/* tiny responses: rare */
							if (w < 0)
								break;
							left -= (size_t)w;
						}
					}
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					sconns[c->fd] = NULL;
					close(c->fd);	/* the client closed: so do we */
					free(c);
				}
				break;
			}
		}
	}
}

/* ---- client ---------------------------------------------------------------------------------- */

struct cconn {
	int fd;
	uint32_t gen;		/* of the current connection (ev_key()) */
	int index;		/* in the client's array */
	uint16_t sport;
	size_t sent, rcvd;	/* this connection's bytes */
	size_t want;		/* response bytes still to come in this transaction */
	bool connecting;
};

static struct {
	uint64_t ops, bytes, conns;
	double seconds, cpu;
	FILE *log;
} stats;

static double cpu_s(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static void log_conn(struct cconn *c)
{
	stats.conns++;
	if (stats.log)
		fprintf(stats.log, "%u %d %zu %zu\n", c->sport, opt.port, c->sent, c->rcvd);
}

static int client_connect(int ep, struct cconn *c, const struct sockaddr_storage *ss,
			  socklen_t sl)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	int one = 1;

	c->gen++;
	ev.data.u64 = ev_key(c->index, c->gen);
	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->sent = c->rcvd = 0;
	c->connecting = true;
	if (connect(c->fd, (const struct sockaddr *)ss, sl) && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void send_request(int ep, struct cconn *c)
{
	static char buf[1 << 16];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ev_key(c->index, c->gen) };
	size_t left = opt.req;

	while (left) {
		ssize_t w = write(c->fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (w < 0) {
			if (errno == EAGAIN)
				continue;
			return;
		}
		left -= (size_t)w;
		c->sent += (size_t)w;
	}
	c->want = opt.resp;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void client(void)
{
	static char buf[1 << 16];
	struct epoll_event evs[256];
	struct sockaddr_storage ss, local;
	socklen_t sl = server_sa(&ss, opt.addr, opt.port), ll;
	int ep = epoll_create1(EPOLL_CLOEXEC), n_conns = opt.concurrency;
	struct cconn *cs;
	double t0, t_end;
	struct rusage ru;

	(void)t_end;

	if (ep < 0)
		die("epoll");
	if (opt.conn_log && !(stats.log = fopen(opt.conn_log, "w")))
		die("--conn-log");
	if (opt.mode == HOLD)
		n_conns = opt.hold;
	cs = calloc((size_t)n_conns, sizeof(*cs));
	if (!cs)
		die("calloc");
	for (int i = 0; i < n_conns; i++) {
		cs[i].index = i;
		if (opt.mode == HOLD && opt.addrs > 1) {
			/* many local addresses: 127.0.0.0/8 is all ours, ports are not enough */
			struct sockaddr_in src = { .sin_family = AF_INET };

			src.sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)(i % opt.addrs) + 1);
			cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (cs[i].fd < 0 || bind(cs[i].fd, (struct sockaddr *)&src, sizeof(src)) ||
			    connect(cs[i].fd, (struct sockaddr *)&ss, sl))
				die("hold: connect");
			continue;
		}
		if (client_connect(ep, &cs[i], &ss, sl))
			die("connect");
	}
	if (opt.mode == HOLD) {
		printf("{\"mode\":\"hold\",\"conns\":%d}\n", n_conns);
		fflush(stdout);
		while (!stop)
			pause();
		return;
	}
	t0 = now();
	t_end = t0 + opt.duration;
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 100);

		if (now() >= t_end)
			break;
		for (int i = 0; i < n; i++) {
			struct cconn *c = &cs[(uint32_t)evs[i].data.u64];

			if (c->gen != evs[i].data.u64 >> 32)
				continue;	/* an earlier connection's (see ev_key()) */
			if (c->connecting) {
				int err = 0;
				socklen_t el = sizeof(err);

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					die("connect (async)");
				}
				c->connecting = false;
				ll = sizeof(local);
				getsockname(c->fd, (struct sockaddr *)&local, &ll);
				c->sport = ntohs(local.ss_family == AF_INET
							 ? ((struct sockaddr_in *)&local)->sin_port
							 : ((struct sockaddr_in6 *)&local)->sin6_port);
				if (opt.mode == STREAM) {
					struct epoll_event ev = { .events = EPOLLOUT,
								  .data.u64 = ev_key(c->index, c->gen) };

					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				} else {
					send_request(ep, c);
				}
				continue;
			}
			if (opt.mode == STREAM) {
				for (;;) {
					ssize_t w = write(c->fd, buf, opt.req);

					if (w <= 0)
						break;
					c->sent += (size_t)w;
					stats.bytes += (size_t)w;
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, buf, sizeof(buf));

				if (r <= 0)
					break;
				c->rcvd += (size_t)r;
				c->want -= (size_t)r < c->want ? (size_t)r : c->want;
			}
			if (c->want)
				continue;
			stats.ops++;
			if (opt.mode == RR) {
				send_request(ep, c);
				continue;
			}
			/* crr: this connection is done, the next one starts */
			close(c->fd);
			log_conn(c);
			if (client_connect(ep, c, &ss, sl))
				die("connect");
		}
	}
	for (int i = 0; i < n_conns; i++) {
		if (cs[i].fd < 0)
			continue;
		close(cs[i].fd);
		if (!cs[i].connecting && opt.mode != CRR)
			log_conn(&cs[i]);
	}
	stats.seconds = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	stats.cpu = cpu_s(&ru);
	if (stats.log)
		fclose(stats.log);
}

static void report(double server_cpu)
{
	printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"ops\":%llu,\"rate\":%.1f,\"bytes\":%llu,"
	       "\"conns\":%llu,\"client_cpu_s\":%.3f,\"server_cpu_s\":%.3f}\n",
	       opt.mode == CRR ? "crr" : opt.mode == RR ? "rr" : "stream", stats.seconds,
	       (unsigned long long)stats.ops,
	       (double)(opt.mode == STREAM ? stats.bytes : stats.ops) / stats.seconds,
	       (unsigned long long)stats.bytes, (unsigned long long)stats.conns, stats.cpu,
	       server_cpu);
	fflush(stdout);
}

static void usage(void)
{
	fputs("usage: ntbench --mode crr|rr|stream|hold [--role both|server|client]\n"
	      "  [--addr A] [--port P] [--concurrency N] [--duration S] [--req B] [--resp B]\n"
	      "  [--cpu N] [--conn-log FILE] [--hold N] [--addrs N]\n"
	      "  [--server-netns NAME] [--client-netns NAME]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", 1, 0, 'm' },	 { "role", 1, 0, 'r' },	       { "addr", 1, 0, 'a' },
		{ "port", 1, 0, 'p' },	 { "concurrency", 1, 0, 'c' }, { "duration", 1, 0, 'd' },
		{ "req", 1, 0, 'q' },	 { "resp", 1, 0, 's' },	       { "cpu", 1, 0, 'u' },
		{ "conn-log", 1, 0, 'l' }, { "hold", 1, 0, 'h' },      { "addrs", 1, 0, 'A' },
		{ "server-netns", 1, 0, 'S' }, { "client-netns", 1, 0, 'C' },
		{ 0, 0, 0, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	int c, lfd = -1;
	pid_t srv = -1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.mode = !strcmp(optarg, "crr")      ? CRR
				   : !strcmp(optarg, "rr")     ? RR
				   : !strcmp(optarg, "stream") ? STREAM
				   : !strcmp(optarg, "hold")   ? HOLD
							       : (usage(), CRR);
			break;
		case 'r':
			opt.role = optarg;
			break;
		case 'a':
			opt.addr = optarg;
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'c':
			opt.concurrency = atoi(optarg);
			break;
		case 'd':
			opt.duration = atof(optarg);
			break;
		case 'q':
			opt.req = (size_t)atol(optarg);
			break;
		case 's':
			opt.resp = (size_t)atol(optarg);
			break;
		case 'u':
			opt.cpu = atoi(optarg);
			break;
		case 'l':
			opt.conn_log = optarg;
			break;
		case 'h':
			opt.hold = atoi(optarg);
			break;
		case 'A':
			opt.addrs = atoi(optarg);
			break;
		case 'S':
			opt.server_netns = optarg;
			break;
		case 'C':
			opt.client_netns = optarg;
			break;
		default:
			usage();
		}
	}
	if (opt.concurrency < 1 || opt.duration <= 0 || opt.req < 1 || opt.hold < 1)
		usage();
	if (opt.mode == STREAM && opt.req < 4096)
		opt.req = 65536;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(opt.mode == HOLD ? 2 * opt.hold + 16 : 2 * opt.concurrency + 16);
	pin();
	if (!strcmp(opt.role, "server") || !strcmp(opt.role, "both")) {
		if (opt.server_netns)
			enter_netns(opt.server_netns);
		lfd = listen_on(opt.addr, opt.port);
		if (!opt.port) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);

			getsockname(lfd, (struct sockaddr *)&ss, &sl);
			opt.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
								 : ((struct sockaddr_in6 *)&ss)->sin6_port);
		}
		if (!strcmp(opt.role, "server")) {
			printf("{\"listening\":%d}\n", opt.port);
			fflush(stdout);
			server(lfd);
			return 0;
		}
		srv = fork();
		if (srv < 0)
			die("fork");
		if (srv == 0) {
			server(lfd);
			_exit(0);
		}
		close(lfd);
	}
	if (opt.client_netns)
		enter_netns(opt.client_netns);
	client();
	if (opt.mode == HOLD) {
		if (srv > 0) {
			kill(srv, SIGTERM);
			waitpid(srv, NULL, 0);
		}
		return 0;
	}
	if (srv > 0) {
		struct rusage ru;

		kill(srv, SIGTERM);
		waitpid(srv, NULL, 0);
		getrusage(RUSAGE_CHILDREN, &ru);
		report(cpu_s(&ru));
	} else {
		report(0);
	}
	return 0;
}
