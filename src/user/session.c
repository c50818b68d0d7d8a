// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "conn_table.h"
#include "hooks.h"
#include "log.h"
#include "output.h"
#include "sysutil.h"

#define DRAIN_PERIOD_MS 100	/* ring buffer drained at least this often */

struct listener {
	uint32_t netns;
	uint16_t port;
	uint8_t family;
	uint8_t addr[16];
};

/* Losses seen by user space, next to the kernel's nt_stats. */
enum {
	US_CLOSED_UNSEEN,	/* gone from the kernel table without a close record */
	US_TABLE_OOM,		/* no memory for a row */
	US_BAD_RECORD,		/* record of the wrong size or type */
	US__MAX,
};

struct nt_session {
	const struct nt_options *opt;
	struct nt_output *out;
	struct nt_backend *backend;
	struct nt_conn_table *table;
	/* connections whose close came first: a perf buffer read CPU by CPU can deliver a
	 * close before the open record of the same connection; kept two intervals */
	struct nt_conn_table *closed;
	int64_t mono_to_unix;
	uint32_t gen;
	bool snapshots;		/* the backend can take snapshots */
	size_t n_existing;		/* rows of EXISTING records whose direction is open */
	struct listener *listeners;
	size_t n_listeners, cap_listeners;
	struct nt_conn_row **sorted;	/* table mode */
	size_t cap_sorted;
	struct nt_snap_req *reqs;	/* snapshot request */
	size_t cap_reqs;
	uint64_t kstats_prev[NT_STAT__MAX], kstats_now[NT_STAT__MAX];
	uint64_t ustats[US__MAX], ustats_prev[US__MAX];
	uint64_t records, connections;
	uint64_t snap_us_last, snap_us_max, snap_count;	/* how long a snapshot takes */
	size_t snap_cursor;	/* the row after the last one a snapshot record found */
};

struct nt_session *nt_session_new(const struct nt_options *o, struct nt_output *out,
				  struct nt_backend *backend)
{
	struct nt_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->opt = o;
	s->out = out;
	s->backend = backend;
	backend->session = s;
	s->table = nt_conn_table_new();
	s->closed = nt_conn_table_new();
	if (!s->table || !s->closed) {
		nt_conn_table_free(s->table);
		nt_conn_table_free(s->closed);
		free(s);
		return NULL;
	}
	s->mono_to_unix = nt_mono_to_unix_offset();
	return s;
}

void nt_session_free(struct nt_session *s)
{
	if (!s)
		return;
	nt_conn_table_free(s->table);
	nt_conn_table_free(s->closed);
	free(s->listeners);
	free(s->sorted);
	free(s->reqs);
	free(s);
}

static uint64_t unix_ns(const struct nt_session *s, uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + s->mono_to_unix);
}

static void row_from_record(struct nt_conn_row *row, const struct nt_record *r)
{
	row->sk = r->sk;
	memcpy(row->saddr, r->saddr, sizeof(row->saddr));
	memcpy(row->daddr, r->daddr, sizeof(row->daddr));
	row->sport = r->sport;
	row->dport = r->dport;
	row->netns = r->netns;
	row->pid = r->pid;
	row->family = r->family;
	if (r->direction != NT_DIR_UNKNOWN)
		row->direction = r->direction;
	row->state = r->state;
	memcpy(row->comm, r->comm, NT_COMM_LEN);
	row->comm[NT_COMM_LEN] = '\0';
}

/* Room for one more element in a growing array; NULL when out of memory. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void *p = realloc(*arr, c * elem);

		if (!p)
			return NULL;
		*arr = p;
		*cap = c;
	}
	return (char *)*arr + (*n)++ * elem;
}

static void add_listener(struct nt_session *s, const struct nt_record *r)
{
	struct listener *l = grow((void **)&s->listeners, &s->n_listeners, &s->cap_listeners,
				  sizeof(*l));

	if (!l) {
		s->ustats[US_TABLE_OOM]++;
		return;
	}
	l->netns = r->netns;
	l->port = r->sport;
	l->family = r->family;
	memcpy(l->addr, r->saddr, sizeof(l->addr));
}

static bool addr_is_any(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, sizeof(zero));
}

static int cmp_listener(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

/* A connection open at start is incoming when a listener in its namespace owns its local
 * port. The listeners are sorted by (netns, port). */
static uint8_t existing_direction(const struct nt_session *s, const struct nt_conn_row *row)
{
	size_t lo = 0, hi = s->n_listeners;

	while (lo < hi) {	/* the first listener at or after (netns, port) */
		size_t mid = (lo + hi) / 2;
		const struct listener *l = &s->listeners[mid];

		if (l->netns < row->netns || (l->netns == row->netns && l->port < row->sport))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n_listeners; lo++) {
		const struct listener *l = &s->listeners[lo];

		if (l->netns != row->netns || l->port != row->sport)
			break;
		if (addr_is_any(l->addr))
			return NT_DIR_IN;	/* 0.0.0.0 or :: (which takes IPv4 too) */
		if (l->family == row->family &&
		    !memcmp(l->addr, row->saddr, row->family == 4 ? 4 : 16))
			return NT_DIR_IN;
	}
	return NT_DIR_OUT;
}

/* Open at start: a row at once, with the metrics of an incoming connection; the
 * direction (and the SYN an outgoing one has in bytes_acked) once every listener is
 * known. No copy of the record is kept: 100,000 of them would be 12 MB. */
static void on_existing(struct nt_session *s, const struct nt_record *r)
{
	int created;
	struct nt_conn_row *row = nt_conn_table_upsert(s->table, r->id, &created);

	if (!row) {
		s->ustats[US_TABLE_OOM]++;
		return;
	}
	row_from_record(row, r);
	row->direction = NT_DIR_UNKNOWN;
	row->existing = 1;
	row->born_gen = s->gen;
	nt_metrics_from_record(r, NT_DIR_IN, &row->m);
	if (created) {
		s->connections++;
		s->n_existing++;
	}
}

static void on_event(struct nt_session *s, const struct nt_record *r)
{
	struct nt_conn_row *row, tmp;
	int created;

	if (nt_conn_table_get(s->closed, r->id)) {
		/* its close came first: report the open, keep no row for a closed connection */
		memset(&tmp, 0, sizeof(tmp));
		tmp.id = r->id;
		row_from_record(&tmp, r);
		nt_metrics_from_record(r, tmp.direction, &tmp.m);
		nt_output_conn(s->out, nt_record_type_name(r->type), unix_ns(s, r->ts_ns), &tmp);
		nt_conn_table_remove(s->closed, r->id);
		return;
	}
	row = nt_conn_table_upsert(s->table, r->id, &created);
	if (!row) {
		s->ustats[US_TABLE_OOM]++;
		return;
	}
	row_from_record(row, r);
	if (created) {
		row->born_gen = s->gen;
		s->connections++;
	}
	nt_metrics_from_record(r, row->direction, &row->m);
	nt_output_conn(s->out, nt_record_type_name(r->type), unix_ns(s, r->ts_ns), row);
}

/*
 * A snapshot's records come in the order of its requests, which is the table's row order
 * (rows move only when one is removed): the next rows are tried before the index, whose
 * lookups are two cache misses each on a large table.
 */
static struct nt_conn_row *snapshot_row(struct nt_session *s, uint64_t id)
{
	size_t n = nt_conn_table_count(s->table);

	for (size_t i = s->snap_cursor; i < n && i < s->snap_cursor + 8; i++) {
		struct nt_conn_row *row = nt_conn_table_row(s->table, i);

		if (row->id == id) {
			s->snap_cursor = i + 1;
			return row;
		}
	}
	return nt_conn_table_get(s->table, id);
}

static void on_metrics(struct nt_session *s, const struct nt_record *r)
{
	struct nt_conn_row *row = snapshot_row(s, r->id);

	/* its connect/accept record is still on its way: next interval */
	if (!row)
		return;
	row->state = r->state;
	row->seen_gen = s->gen;
	nt_metrics_from_record(r, row->direction, &row->m);
}

static void on_close(struct nt_session *s, const struct nt_record *r)
{
	struct nt_conn_row *row = nt_conn_table_get(s->table, r->id), tmp;

	if (!row) {
		/* closed before anyone accepted it, its open record was lost, or (perf buffer)
		 * its open record is still on its way from another CPU's buffer */
		struct nt_conn_row *t = nt_conn_table_upsert(s->closed, r->id, NULL);

		if (t)
			t->born_gen = s->gen;
		memset(&tmp, 0, sizeof(tmp));
		tmp.id = r->id;
		row_from_record(&tmp, r);
		row = &tmp;
	}
	row->state = 7;	/* TCP_CLOSE; r->state is the state it closed from */
	nt_metrics_from_record(r, row->direction, &row->m);
	nt_output_conn(s->out, "close", unix_ns(s, r->ts_ns), row);
	if (row != &tmp)
		nt_conn_table_remove(s->table, r->id);
}

void nt_session_record(struct nt_session *s, const struct nt_record *r, size_t size)
{
	if (size < sizeof(*r)) {
		s->ustats[US_BAD_RECORD]++;
		return;
	}
	s->records++;
	switch (r->type) {
	case NT_REC_CONNECT:
	case NT_REC_ACCEPT:
		on_event(s, r);
		break;
	case NT_REC_EXISTING:
		on_existing(s, r);
		break;
	case NT_REC_LISTEN:
		add_listener(s, r);
		break;
	case NT_REC_METRICS:
		on_metrics(s, r);
		break;
	case NT_REC_CLOSE:
		on_close(s, r);
		break;
	default:
		s->ustats[US_BAD_RECORD]++;
	}
}

static void report_existing(struct nt_session *s)
{
	int err = s->backend->existing ? s->backend->existing(s->backend) : -ENOTSUP;

	if (err == -ENOTSUP)
		pr_warn("connections open before the start are not reported: no hook for them on "
			"this kernel (see nettracer --probe)");
	else if (err < 0)
		pr_warn("listing the connections open before the start failed: %s", strerror(-err));
	/* every listener is known now: tell incoming from outgoing */
	if (s->n_listeners > 1)
		qsort(s->listeners, s->n_listeners, sizeof(*s->listeners), cmp_listener);
	for (size_t i = 0; s->n_existing && i < nt_conn_table_count(s->table); i++) {
		struct nt_conn_row *row = nt_conn_table_row(s->table, i);

		if (!row->existing || row->direction != NT_DIR_UNKNOWN)
			continue;
		row->direction = existing_direction(s, row);
		/* an active open has its SYN in bytes_acked: see nt_metrics_from_record() */
		if (row->direction == NT_DIR_OUT && row->m.bytes_sent)
			row->m.bytes_sent--;
		nt_output_conn(s->out, row->direction == NT_DIR_IN ? "accept" : "connect",
			       unix_ns(s, nt_now_mono_ns()), row);
	}
	s->n_existing = 0;
	free(s->listeners);
	s->listeners = NULL;
	s->n_listeners = s->cap_listeners = 0;
}

static const char *const loss_knames[NT_STAT__MAX] = {
	[NT_STAT_RB_FULL] = "lost_records",
	[NT_STAT_MAP_FULL] = "untracked_connections",
	[NT_STAT_READ_FAIL] = "read_errors",
	[NT_STAT_SNAP_SKIP] = "snapshot_skipped",
	[NT_STAT_MISSED] = "missed_events",
};
static const char *const loss_unames[US__MAX] = {
	[US_CLOSED_UNSEEN] = "closed_without_record",
	[US_TABLE_OOM] = "out_of_memory",
	[US_BAD_RECORD] = "bad_records",
};

/* The loss counters as key/values: the change since the last report (deltas) and/or
 * the totals ("<name>_total"); names[] holds the generated keys. */
static size_t loss_kv(const struct nt_session *s, bool deltas, bool totals, struct nt_kv *kv,
		      char names[][48])
{
	size_t n = 0, t = 0;

	for (int pass = 0; pass < 2; pass++) {
		bool tot = pass == 1;

		if ((tot && !totals) || (!tot && !deltas))
			continue;
		for (int i = 0; i < NT_STAT__MAX; i++) {
			uint64_t v = s->kstats_now[i] - (tot ? 0 : s->kstats_prev[i]);

			if (!loss_knames[i])
				continue;
			if (tot) {
				snprintf(names[t], 48, "%s_total", loss_knames[i]);
				kv[n++] = (struct nt_kv){ names[t++], NULL, v };
			} else {
				kv[n++] = (struct nt_kv){ loss_knames[i], NULL, v };
			}
		}
		for (int i = 0; i < US__MAX; i++) {
			uint64_t v = s->ustats[i] - (tot ? 0 : s->ustats_prev[i]);

			if (tot) {
				snprintf(names[t], 48, "%s_total", loss_unames[i]);
				kv[n++] = (struct nt_kv){ names[t++], NULL, v };
			} else {
				kv[n++] = (struct nt_kv){ loss_unames[i], NULL, v };
			}
		}
	}
	return n;
}

/* A loss record when any counter moved since the last one, and a warning outside
 * logging mode (where the record itself is a log line). */
static void report_losses(struct nt_session *s, uint64_t now)
{
	struct nt_kv kv[2 * (NT_STAT__MAX + US__MAX)];
	char names[NT_STAT__MAX + US__MAX][48];
	bool changed = false;
	size_t n;

	if (s->backend->read_stats && s->backend->read_stats(s->backend, s->kstats_now))
		return;
	for (int i = 0; i < NT_STAT__MAX; i++)
		changed |= loss_knames[i] && s->kstats_now[i] != s->kstats_prev[i];
	for (int i = 0; i < US__MAX; i++)
		changed |= s->ustats[i] != s->ustats_prev[i];
	if (!changed)
		return;
	n = loss_kv(s, true, true, kv, names);
	nt_output_record(s->out, "loss", now, kv, n);
	if (s->opt->mode != NT_MODE_LOG)
		pr_warn("records lost: lost_records=%llu untracked_connections=%llu "
			"missed_events=%llu read_errors=%llu closed_without_record=%llu (totals)",
			(unsigned long long)s->kstats_now[NT_STAT_RB_FULL],
			(unsigned long long)s->kstats_now[NT_STAT_MAP_FULL],
			(unsigned long long)s->kstats_now[NT_STAT_MISSED],
			(unsigned long long)s->kstats_now[NT_STAT_READ_FAIL],
			(unsigned long long)s->ustats[US_CLOSED_UNSEEN]);
	memcpy(s->kstats_prev, s->kstats_now, sizeof(s->kstats_prev));
	memcpy(s->ustats_prev, s->ustats, sizeof(s->ustats));
}

static int cmp_row_id(const void *a, const void *b)
{
	const struct nt_conn_row *x = *(struct nt_conn_row *const *)a;
	const struct nt_conn_row *y = *(struct nt_conn_row *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void render_table(struct nt_session *s, uint64_t now)
{
	size_t n = nt_conn_table_count(s->table), k = 0;
	char summary[256];

	if (n > s->cap_sorted) {
		struct nt_conn_row **p = realloc(s->sorted, n * sizeof(*p));

		if (!p) {
			s->ustats[US_TABLE_OOM]++;
			return;
		}
		s->sorted = p;
		s->cap_sorted = n;
	}
	for (size_t i = 0; i < n; i++)
		s->sorted[k++] = nt_conn_table_row(s->table, i);
	if (k > 1)	/* s->sorted is still NULL before the first row */
		qsort(s->sorted, k, sizeof(*s->sorted), cmp_row_id);
	snprintf(summary, sizeof(summary),
		 "nettracer %s: %zu connections, interval %llu ms, lost records %llu%s", s->backend->variant,
		 k, (unsigned long long)s->opt->interval_ms,
		 (unsigned long long)s->kstats_prev[NT_STAT_RB_FULL],
		 s->snapshots ? "" : " (no live metrics on this kernel)");
	nt_output_table(s->out, now, summary, s->sorted, k);
}

/* One interval: fresh metrics for every live connection, rendered. */
static void session_tick(struct nt_session *s)
{
	uint64_t now, t0;
	int err;

	s->backend->drain(s->backend);
	s->mono_to_unix = nt_mono_to_unix_offset();	/* follow clock steps */
	if (s->snapshots) {
		size_t n = nt_conn_table_count(s->table);

		if (n > s->cap_reqs) {
			struct nt_snap_req *p = realloc(s->reqs, n * sizeof(*p));

			if (!p) {
				s->ustats[US_TABLE_OOM]++;
				return;
			}
			s->reqs = p;
			s->cap_reqs = n;
		}
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			const struct nt_conn_row *row = nt_conn_table_row(s->table, i);

			/* gone at the last snapshot: its socket may be another one's now */
			if (row->missing)
				continue;
			s->reqs[k++] = (struct nt_snap_req){ .sk = row->sk, .id = row->id,
							     .sport = row->sport,
							     .dport = row->dport };
		}
		n = k;
		s->gen++;
		s->snap_cursor = 0;
		t0 = nt_now_mono_ns();
		err = s->backend->snapshot(s->backend, s->reqs, n);
		/* closes that raced with the snapshot */
		s->backend->drain(s->backend);
		s->snap_us_last = (nt_now_mono_ns() - t0) / 1000;
		if (s->snap_us_last > s->snap_us_max)
			s->snap_us_max = s->snap_us_last;
		s->snap_count++;
		pr_debug("snapshot %llu: %zu connections in %llu us",
			 (unsigned long long)s->snap_count, n, (unsigned long long)s->snap_us_last);
		if (err < 0) {
			pr_warn("snapshot of live connections failed: %s", strerror(-err));
		} else {
			/*
			 * A row born before this snapshot and missing from it has closed. Its
			 * close record may still be on its way (a ring buffer record reserved
			 * by a program another CPU is still running holds back the ones behind
			 * it): the row waits one interval, then it is counted and dropped.
			 */
			for (size_t i = nt_conn_table_count(s->table); i-- > 0;) {
				struct nt_conn_row *row = nt_conn_table_row(s->table, i);

				if (row->seen_gen == s->gen || row->born_gen >= s->gen)
					continue;
				if (!row->missing) {
					row->missing = 1;
				} else {
					pr_debug("connection %llu (ports %u -> %u, pid %u%s) is gone "
						 "without a close record",
						 (unsigned long long)row->id, row->sport, row->dport,
						 row->pid, row->existing ? ", open at start" : "");
					s->ustats[US_CLOSED_UNSEEN]++;
					nt_conn_table_remove(s->table, row->id);
				}
			}
		}
	}
	/* an open record later than two intervals after its close is not coming */
	for (size_t i = nt_conn_table_count(s->closed); i-- > 0;) {
		struct nt_conn_row *row = nt_conn_table_row(s->closed, i);

		if (row->born_gen + 2 < s->gen)
			nt_conn_table_remove(s->closed, row->id);
	}
	now = unix_ns(s, nt_now_mono_ns());
	if (s->opt->mode == NT_MODE_TABLE) {
		render_table(s, now);
	} else if (s->snapshots) {
		for (size_t i = 0; i < nt_conn_table_count(s->table); i++) {
			struct nt_conn_row *row = nt_conn_table_row(s->table, i);

			if (row->seen_gen == s->gen)
				nt_output_conn(s->out, "metrics", now, row);
		}
	}
	report_losses(s, now);
}

static void status_record(struct nt_session *s, const char *event)
{
	char choices[8][96], keys[8][32], release[128] = "", names[NT_STAT__MAX + US__MAX][48];
	struct nt_kv kv[48];
	size_t n = 0;

	kv[n++] = (struct nt_kv){ "event", event, 0 };
	kv[n++] = (struct nt_kv){ "version", NT_VERSION, 0 };
	kv[n++] = (struct nt_kv){ "variant", s->backend->variant, 0 };
	if (!strcmp(event, "start")) {
		nt_kernel_release(release, sizeof(release));
		kv[n++] = (struct nt_kv){ "reason", s->backend->reason, 0 };
		kv[n++] = (struct nt_kv){ "kernel", release, 0 };
		for (size_t i = 0; i < s->backend->n_hooks && i < 8; i++) {
			snprintf(keys[i], sizeof(keys[i]), "hook_%s", s->backend->hooks[i].name);
			kv[n++] = (struct nt_kv){ keys[i],
						  nt_hook_choice(&s->backend->hooks[i], choices[i],
								 sizeof(choices[i])),
						  0 };
		}
		kv[n++] = (struct nt_kv){ "interval_ms", NULL, s->opt->interval_ms };
		kv[n++] = (struct nt_kv){ "connections_open", NULL, nt_conn_table_count(s->table) };
	} else {
		kv[n++] = (struct nt_kv){ "connections_open", NULL, nt_conn_table_count(s->table) };
		kv[n++] = (struct nt_kv){ "connections_seen", NULL, s->connections };
		kv[n++] = (struct nt_kv){ "records", NULL, s->records };
		kv[n++] = (struct nt_kv){ "peak_rss_kib", NULL, nt_peak_rss_kib() };
		kv[n++] = (struct nt_kv){ "snapshots", NULL, s->snap_count };
		kv[n++] = (struct nt_kv){ "snapshot_us_last", NULL, s->snap_us_last };
		kv[n++] = (struct nt_kv){ "snapshot_us_max", NULL, s->snap_us_max };
		/* every loss counter's total, also when nothing was lost */
		n += loss_kv(s, false, true, kv + n, names);
	}
	nt_output_record(s->out, "status", unix_ns(s, nt_now_mono_ns()), kv, n);
}

static int add_fd(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int make_timer(uint64_t first_ms, uint64_t period_ms)
{
	struct itimerspec its = {
		.it_value = { (time_t)(first_ms / 1000), (long)(first_ms % 1000) * 1000000 },
		.it_interval = { (time_t)(period_ms / 1000), (long)(period_ms % 1000) * 1000000 },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

enum { TAG_SIGNAL, TAG_INTERVAL, TAG_DRAIN, TAG_DURATION, TAG_EVENTS, TAG_STDIN };

int nt_session_run(struct nt_session *s)
{
	int ep = -1, sfd = -1, tint = -1, tdrain = -1, tdur = -1, efd, rc = 1;
	struct epoll_event evs[8];
	char hooks_line[512];
	size_t hl = 0;
	bool stop = false, use_stdin = false;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		pr_err("cannot set up signal handling: %s", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);	/* a closed stdout is an EPIPE we handle */
	ep = epoll_create1(EPOLL_CLOEXEC);
	tint = make_timer(s->opt->interval_ms, s->opt->interval_ms);
	tdrain = make_timer(DRAIN_PERIOD_MS, DRAIN_PERIOD_MS);
	if (ep < 0 || tint < 0 || tdrain < 0 || add_fd(ep, sfd, TAG_SIGNAL) ||
	    add_fd(ep, tint, TAG_INTERVAL) || add_fd(ep, tdrain, TAG_DRAIN)) {
		pr_err("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	if (s->opt->duration_ms) {
		tdur = make_timer(s->opt->duration_ms, 0);
		if (tdur < 0 || add_fd(ep, tdur, TAG_DURATION)) {
			pr_err("cannot set up --duration: %s", strerror(errno));
			goto out;
		}
	}
	efd = s->backend->event_fd ? s->backend->event_fd(s->backend) : -1;
	if (efd >= 0 && add_fd(ep, efd, TAG_EVENTS)) {
		pr_err("cannot poll the event buffer: %s", strerror(errno));
		goto out;
	}
	if (s->opt->mode == NT_MODE_TABLE)
		use_stdin = add_fd(ep, STDIN_FILENO, TAG_STDIN) == 0;

	s->snapshots = s->backend->snapshot != NULL;
	report_existing(s);
	nt_phase("existing");
	status_record(s, "start");
	for (size_t i = 0; i < s->backend->n_hooks; i++) {
		char c[96];

		hl += (size_t)snprintf(hooks_line + hl, sizeof(hooks_line) - hl, "%s%s=%s",
				       i ? " " : "", s->backend->hooks[i].name,
				       nt_hook_choice(&s->backend->hooks[i], c, sizeof(c)));
		if (hl >= sizeof(hooks_line))
			break;
	}
	pr_info("tracing with the %s programs (%s); hooks: %s", s->backend->variant,
		s->backend->reason, hooks_line);
	pr_debug("start-up: %s", nt_phase_summary(hooks_line, sizeof(hooks_line)));
	if (s->opt->mode == NT_MODE_TABLE)
		render_table(s, unix_ns(s, nt_now_mono_ns()));
	if (nt_output_flush(s->out))
		stop = true;

	while (!stop) {
		int n = epoll_wait(ep, evs, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("event loop: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			uint64_t ticks;
			char buf[256];
			ssize_t r;

			switch (evs[i].data.u32) {
			case TAG_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						nt_output_reopen(s->out);
					else
						stop = true;
				}
				break;
			}
			case TAG_INTERVAL:
				(void)!read(tint, &ticks, sizeof(ticks));
				session_tick(s);
				break;
			case TAG_DRAIN:
				(void)!read(tdrain, &ticks, sizeof(ticks));
				/* fall through */
			case TAG_EVENTS:
				s->backend->drain(s->backend);
				break;
			case TAG_DURATION:
				stop = true;
				break;
			case TAG_STDIN:
				r = read(STDIN_FILENO, buf, sizeof(buf));
				if (r <= 0) {	/* EOF: no more Enter to wait for */
					epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
					use_stdin = false;
				} else if (memchr(buf, '\n', (size_t)r) || memchr(buf, '\r', (size_t)r)) {
					session_tick(s);
				}
				break;
			}
		}
		if (nt_output_flush(s->out))
			stop = true;	/* stdout closed: nobody is listening */
	}
	(void)use_stdin;

	/* detach first so that nothing new arrives, then flush what is buffered */
	s->backend->detach(s->backend);
	s->backend->drain(s->backend);
	report_losses(s, unix_ns(s, nt_now_mono_ns()));
	status_record(s, "stop");
	nt_output_flush(s->out);
	rc = 0;
out:
	if (tdur >= 0)
		close(tdur);
	if (tdrain >= 0)
		close(tdrain);
	if (tint >= 0)
		close(tint);
	if (sfd >= 0)
		close(sfd);
	if (ep >= 0)
		close(ep);
	return rc;
}
