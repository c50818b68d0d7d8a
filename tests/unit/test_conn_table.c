// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Unit tests of src/user/conn_table.c: upsert/get/remove/count/row, dense rows, and a long
 * randomized run against a simple reference model, with ids that share their low bits and
 * ids built to share a home slot in the index (long probe chains, wrap-around, removals in
 * the middle of chains, growth of the index).
 */
#include <stdlib.h>
#include <string.h>

#include "conn_table.h"
#include "tap.h"

#define SALT 0x5eed5eed5eed5eedULL

/* The index's hash, copied so that the test can build colliding ids. If the table hashes
 * differently one day, these ids are merely ordinary ones and every check still holds. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- reference model ------------------------------------------------------------------------- */

struct model {
	uint64_t *ids;		/* the pool of ids; a row's pid is its index here */
	size_t n;
	bool *live;
	uint32_t *version;	/* bumped on every upsert of a live row, mirrored in the row */
	size_t *pos;		/* place in list[] of a live id */
	size_t *list;		/* live pool indices */
	size_t nlive;
	uint32_t *seen;		/* full_check: generation stamps */
	uint32_t gen;
	long errors;		/* mismatches found by per-operation checks */
};

static void model_init(struct model *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->n = n;
	m->ids = calloc(n, sizeof(*m->ids));
	m->live = calloc(n, sizeof(*m->live));
	m->version = calloc(n, sizeof(*m->version));
	m->pos = calloc(n, sizeof(*m->pos));
	m->list = calloc(n, sizeof(*m->list));
	m->seen = calloc(n, sizeof(*m->seen));
	if (!m->ids || !m->live || !m->version || !m->pos || !m->list || !m->seen) {
		perror("calloc");
		exit(99);
	}
}

static void model_free(struct model *m)
{
	free(m->ids);
	free(m->live);
	free(m->version);
	free(m->pos);
	free(m->list);
	free(m->seen);
}

static void model_error(struct model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void model_error(struct model *m, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	if (m->errors++ >= 5)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_diag("  %s", buf);
}

/* The payload a row of pool index k carries. */
static bool payload_ok(const struct model *m, const struct nt_conn_row *row, size_t k)
{
	return row->id == m->ids[k] && row->pid == k && row->sk == (m->ids[k] ^ SALT) &&
	       row->netns == m->version[k] && row->m.bytes_sent == ~m->ids[k];
}

static void payload_set(struct model *m, struct nt_conn_row *row, size_t k)
{
	row->pid = (uint32_t)k;
	row->sk = m->ids[k] ^ SALT;
	row->netns = ++m->version[k];
	row->m.bytes_sent = ~m->ids[k];
}

static bool row_is_fresh(const struct nt_conn_row *row, uint64_t id)
{
	struct nt_conn_row zero;

	memset(&zero, 0, sizeof(zero));
	zero.id = id;
	return !memcmp(row, &zero, sizeof(zero));
}

static void op_upsert(struct nt_conn_table *t, struct model *m, size_t k)
{
	int created = -1;
	struct nt_conn_row *row = nt_conn_table_upsert(t, m->ids[k], &created);

	if (!row) {
		model_error(m, "upsert(%#" PRIx64 ") returned NULL", m->ids[k]);
		return;
	}
	if (created != !m->live[k]) {
		model_error(m, "upsert(%#" PRIx64 "): created %d, model says %s", m->ids[k],
			    created, m->live[k] ? "live" : "absent");
	} else if (created && !row_is_fresh(row, m->ids[k])) {
		model_error(m, "upsert(%#" PRIx64 ") created a row that is not zeroed", m->ids[k]);
	} else if (!created && !payload_ok(m, row, k)) {
		model_error(m, "upsert(%#" PRIx64 ") found a row with the wrong payload",
			    m->ids[k]);
	}
	if (!m->live[k]) {
		m->live[k] = true;
		m->pos[k] = m->nlive;
		m->list[m->nlive++] = k;
	}
	payload_set(m, row, k);
	if (nt_conn_table_count(t) != m->nlive)
		model_error(m, "count %zu after upsert, model %zu", nt_conn_table_count(t),
			    m->nlive);
}

static void op_remove(struct nt_conn_table *t, struct model *m, size_t k)
{
	int rc = nt_conn_table_remove(t, m->ids[k]);

	if (rc != (m->live[k] ? 0 : -1))
		model_error(m, "remove(%#" PRIx64 ") = %d, model says %s", m->ids[k], rc,
			    m->live[k] ? "live" : "absent");
	if (m->live[k]) {
		size_t last = m->list[--m->nlive];

		m->list[m->pos[k]] = last;
		m->pos[last] = m->pos[k];
		m->live[k] = false;
	}
	if (nt_conn_table_get(t, m->ids[k]))
		model_error(m, "get(%#" PRIx64 ") finds it after remove", m->ids[k]);
	if (nt_conn_table_count(t) != m->nlive)
		model_error(m, "count %zu after remove, model %zu", nt_conn_table_count(t),
			    m->nlive);
}

static void op_get(struct nt_conn_table *t, struct model *m, size_t k)
{
	struct nt_conn_row *row = nt_conn_table_get(t, m->ids[k]);

	if (!row != !m->live[k])
		model_error(m, "get(%#" PRIx64 ") %s, model says %s", m->ids[k],
			    row ? "found" : "missed", m->live[k] ? "live" : "absent");
	else if (row && !payload_ok(m, row, k))
		model_error(m, "get(%#" PRIx64 ") found a row with the wrong payload", m->ids[k]);
}

/*
 * The whole table against the model: count, rows 0..count-1 are exactly the live ids (each
 * once, get() returns that very row), every pool id is found iff live, and the memory
 * accounting covers the rows and an index at most half full. 0 or the number of problems.
 */
static long full_check(struct nt_conn_table *t, struct model *m, size_t lo, size_t hi)
{
	size_t count = nt_conn_table_count(t);
	long bad = 0;

	if (++m->gen == 0)
		m->gen = 1;
	if (count != m->nlive) {
		tap_diag("  count %zu, model %zu", count, m->nlive);
		bad++;
	}
	for (size_t i = 0; i < count; i++) {
		struct nt_conn_row *row = nt_conn_table_row(t, i);
		size_t k;

		if (!row) {
			if (bad++ < 5)
				tap_diag("  row(%zu) is NULL below count %zu", i, count);
			continue;
		}
		k = row->pid;
		if (k >= m->n || !m->live[k] || !payload_ok(m, row, k) || m->seen[k] == m->gen ||
		    nt_conn_table_get(t, row->id) != row) {
			if (bad++ < 5)
				tap_diag("  row(%zu) id %#" PRIx64 " is not a live, distinct, "
					 "intact row that get() returns", i, row->id);
			continue;
		}
		m->seen[k] = m->gen;
	}
	if (nt_conn_table_row(t, count)) {
		tap_diag("  row(count) is not NULL");
		bad++;
	}
	for (size_t k = lo; k < hi; k++) {
		struct nt_conn_row *row = nt_conn_table_get(t, m->ids[k]);

		if (!row != !m->live[k] || (row && !payload_ok(m, row, k))) {
			if (bad++ < 5)
				tap_diag("  get(%#" PRIx64 ") %s, model says %s", m->ids[k],
					 row ? "found" : "missed", m->live[k] ? "live" : "absent");
		}
	}
	if (nt_conn_table_bytes(t) < count * (sizeof(struct nt_conn_row) + 2 * sizeof(uint32_t))) {
		tap_diag("  nt_conn_table_bytes %zu for %zu rows", nt_conn_table_bytes(t), count);
		bad++;
	}
	return bad;
}

/* ---- deterministic tests --------------------------------------------------------------------- */

static void test_basics(void)
{
	struct nt_conn_table *t = nt_conn_table_new();
	struct nt_conn_row *a, *b, *z, *x;
	int created = -1;

	nt_conn_table_free(NULL);	/* must be a no-op */
	if (!tap_ok(t != NULL, "nt_conn_table_new returns a table"))
		exit(tap_done());
	tap_ok(nt_conn_table_count(t) == 0 && !nt_conn_table_row(t, 0) &&
		       !nt_conn_table_get(t, 1) && !nt_conn_table_get(t, 0) &&
		       nt_conn_table_remove(t, 1) == -1 && nt_conn_table_bytes(t) > 0,
	       "empty table: count 0, row(0) NULL, get NULL, remove -1, bytes > 0");

	a = nt_conn_table_upsert(t, 7, &created);
	tap_ok(a && created == 1 && row_is_fresh(a, 7),
	       "upsert of a new id: created = 1, row zeroed but for the id");
	a->pid = 99;
	strcpy(a->comm, "keep");
	b = nt_conn_table_upsert(t, 7, &created);
	tap_ok(b == a && created == 0 && b->pid == 99 && !strcmp(b->comm, "keep"),
	       "upsert of a present id: created = 0, same row, contents kept");
	tap_ok(nt_conn_table_upsert(t, 7, NULL) == a && nt_conn_table_count(t) == 1,
	       "upsert with created = NULL works and adds nothing");
	tap_ok(nt_conn_table_get(t, 7) == a && nt_conn_table_row(t, 0) == a &&
		       !nt_conn_table_row(t, 1),
	       "get and row(0) return the same row; row(1) is NULL");

	z = nt_conn_table_upsert(t, 0, &created);
	tap_ok(z && created == 1 && z->id == 0 && nt_conn_table_get(t, 0) == z,
	       "id 0 is an ordinary id");
	z->pid = 100;
	x = nt_conn_table_upsert(t, UINT64_MAX, &created);
	tap_ok(x && created == 1 && x->id == UINT64_MAX && nt_conn_table_get(t, UINT64_MAX) == x,
	       "id 2^64-1 is an ordinary id");
	x->pid = 101;
	tap_ok(nt_conn_table_count(t) == 3, "three ids, count 3");

	/* remove the middle row: the last one moves into its place, data intact */
	tap_ok(nt_conn_table_remove(t, 0) == 0 && nt_conn_table_count(t) == 2 &&
		       !nt_conn_table_get(t, 0),
	       "remove(0) = 0, count 2, get(0) NULL");
	a = nt_conn_table_get(t, 7);
	x = nt_conn_table_get(t, UINT64_MAX);
	tap_ok(a && x && a->pid == 99 && x->pid == 101 &&
		       ((nt_conn_table_row(t, 0) == a && nt_conn_table_row(t, 1) == x) ||
			(nt_conn_table_row(t, 0) == x && nt_conn_table_row(t, 1) == a)),
	       "after removing a middle row: rows 0..1 are the two others, data intact");
	tap_ok(nt_conn_table_remove(t, 0) == -1, "removing it again: -1");
	tap_ok(nt_conn_table_remove(t, 7) == 0 && nt_conn_table_remove(t, UINT64_MAX) == 0 &&
		       nt_conn_table_count(t) == 0 && !nt_conn_table_row(t, 0) &&
		       !nt_conn_table_get(t, 7) && !nt_conn_table_get(t, UINT64_MAX),
	       "removing everything: empty again");
	z = nt_conn_table_upsert(t, 7, &created);
	tap_ok(z && created == 1 && row_is_fresh(z, 7),
	       "an id re-inserted after removal gets a fresh zeroed row");
	nt_conn_table_free(t);
}

/* Time-ordered ids whose low bits are a CPU number: insert one by one, all checked each time. */
static void test_sequential(void)
{
	enum { N = 3000 };
	struct nt_conn_table *t = nt_conn_table_new();
	struct model m;
	long bad = 0, bad_rm = 0;
	size_t bytes0 = nt_conn_table_bytes(t);

	model_init(&m, N);
	for (size_t k = 0; k < N; k++)
		m.ids[k] = ((1700000000000ULL + k / 4 * 3) << 8) | (k % 4);
	for (size_t k = 0; k < N; k++) {
		op_upsert(t, &m, k);
		bad += full_check(t, &m, 0, N);
	}
	tap_ok(!bad && !m.errors, "%d time-ordered ids (CPU in the low bits) inserted one by one "
		"through several index growths: after each insert every id is found iff present, "
		"rows exactly the live set", N);
	tap_ok(nt_conn_table_bytes(t) > bytes0 + N * sizeof(struct nt_conn_row),
	       "nt_conn_table_bytes grows with the rows (%zu -> %zu)", bytes0,
	       nt_conn_table_bytes(t));

	/* remove from the middle outwards, then the rest from the front */
	for (size_t d = 0; d < N / 2; d++) {
		op_remove(t, &m, N / 2 + d);
		op_remove(t, &m, N / 2 - 1 - d);
		if (d % 7 == 0 || N / 2 - d < 20)
			bad_rm += full_check(t, &m, 0, N);
	}
	bad_rm += full_check(t, &m, 0, N);
	tap_ok(!bad_rm && !m.errors && nt_conn_table_count(t) == 0,
	       "removing all %d from the middle outwards: every check holds, table empty", N);
	model_free(&m);
	nt_conn_table_free(t);
}

/* n ids whose hash has the given low 16 bits: one home slot for any index of up to 65536 */
static void colliding_ids(uint64_t *out, size_t n, uint64_t low16, uint64_t *next)
{
	for (size_t k = 0; k < n; (*next)++) {
		if ((mix64(*next) & 0xffff) == low16)
			out[k++] = *next;
	}
}

/*
 * One long probe chain across the end of the index: half the ids live in the last slot,
 * half in slot 0. Removals in the middle of the chain must keep every other id reachable.
 */
static void test_chains(void)
{
	enum { HALF = 40, N = 2 * HALF };
	struct nt_conn_table *t = nt_conn_table_new();
	uint64_t next = 1ULL << 40, tmp[HALF];
	struct model m;
	long bad = 0;

	model_init(&m, N);
	colliding_ids(tmp, HALF, 0xffff, &next);
	for (size_t k = 0; k < HALF; k++)
		m.ids[2 * k] = tmp[k];
	colliding_ids(tmp, HALF, 0, &next);
	for (size_t k = 0; k < HALF; k++)
		m.ids[2 * k + 1] = tmp[k];

	for (size_t k = 0; k < N; k++) {
		op_upsert(t, &m, k);
		bad += full_check(t, &m, 0, N);
	}
	tap_ok(!bad && !m.errors, "%d ids sharing two adjacent home slots (last and first) "
		"inserted: all found after each insert", N);

	bad = 0;
	for (size_t s = 0; s < N; s++) {
		/* a stride-37 permutation starting in the middle of the chain */
		size_t k = (s * 37 + N / 2) % N;

		op_remove(t, &m, k);
		bad += full_check(t, &m, 0, N);
		if (s % 3 == 2) {	/* put one back: chains reshape under removals */
			size_t back = (k * 11 + 5) % N;

			op_upsert(t, &m, back);
			bad += full_check(t, &m, 0, N);
		}
	}
	while (m.nlive) {
		op_remove(t, &m, m.list[m.nlive / 2]);
		bad += full_check(t, &m, 0, N);
	}
	tap_ok(!bad && !m.errors, "removals in the middle of a wrapping chain, with re-inserts: "
		"after each step every id is found iff present");
	model_free(&m);
	nt_conn_table_free(t);
}

/* ---- randomized against the model ------------------------------------------------------------ */

enum { POOL = 150000, CLUSTER = 2048, OPS = 200000, CHECK_EVERY = 1000 };

static size_t pick(void)
{
	/* one pick in four from the colliding cluster */
	return rnd() % 4 == 0 ? (size_t)(rnd() % CLUSTER) : (size_t)(rnd() % POOL);
}

static size_t pick_absent(const struct model *m)
{
	size_t k;

	do
		k = pick();
	while (m->live[k]);
	return k;
}

static void test_random(void)
{
	/* phase: percent of new inserts, removals of live ids, upserts of live ids, random
	 * removes, the rest random gets */
	static const struct {
		const char *name;
		int ops;
		int ins, del, upd, rdel;
	} phases[] = {
		{ "grow", 80000, 70, 10, 8, 4 },
		{ "churn", 80000, 35, 35, 10, 5 },
		{ "shrink", 40000, 10, 70, 5, 5 },
	};
	struct nt_conn_table *t = nt_conn_table_new();
	uint64_t next = 1ULL << 41;
	size_t max_live = 0;
	long bad = 0, checks = 0;
	struct model m;
	int op = 0;

	model_init(&m, POOL);
	/* the cluster: 4 groups of ids sharing a home slot for any index size up to 65536 */
	for (int g = 0; g < 4; g++)
		colliding_ids(m.ids + g * (CLUSTER / 4), CLUSTER / 4,
			      (uint64_t[]){ 0xffff, 0, 0x1234, 0x1235 }[g], &next);
	/* the rest: time-ordered, CPU number in the low 6 bits; ids 0 and 2^64-1 too */
	for (size_t k = CLUSTER; k < POOL; k++)
		m.ids[k] = ((1700000000000000ULL + k * 13) << 6) | (k % 64);
	m.ids[CLUSTER] = 0;
	m.ids[CLUSTER + 1] = UINT64_MAX;
	tap_diag("random run: %d ops over %d ids, xorshift64* seed %#" PRIx64, OPS, POOL,
		 rng_state);

	for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
		/* cumulative thresholds of the dice */
		int ins = phases[p].ins, del = ins + phases[p].del, upd = del + phases[p].upd;
		int rdel = upd + phases[p].rdel;

		for (int i = 0; i < phases[p].ops; i++, op++) {
			int dice = (int)(rnd() % 100);

			if (dice < ins || (dice < upd && !m.nlive)) {
				op_upsert(t, &m, pick_absent(&m));
			} else if (dice < del) {
				op_remove(t, &m, m.list[rnd() % m.nlive]);
			} else if (dice < upd) {
				op_upsert(t, &m, m.list[rnd() % m.nlive]);
			} else if (dice < rdel) {
				op_remove(t, &m, pick());
			} else {
				op_get(t, &m, pick());
			}
			if (m.nlive > max_live)
				max_live = m.nlive;
			if ((op + 1) % CHECK_EVERY == 0) {
				bad += full_check(t, &m, 0, POOL);
				checks++;
			}
		}
		tap_diag("after phase %s: %zu live", phases[p].name, m.nlive);
	}
	bad += full_check(t, &m, 0, POOL);
	checks++;
	tap_ok(max_live > 40000, "the random run grew the table to %zu rows (several index "
		"growths)", max_live);
	tap_ok(!m.errors, "%d random upserts/removes/gets: every return value, created flag, "
		"payload and count matched the model (%ld mismatches)", OPS, m.errors);
	tap_ok(!bad, "%ld full checks, one every %d ops: live ids found, removed ids not, rows "
		"0..count-1 exactly the live set", checks, CHECK_EVERY);

	/* drain in random order, then use the emptied table again */
	m.errors = 0;
	bad = 0;
	while (m.nlive) {
		op_remove(t, &m, m.list[rnd() % m.nlive]);
		if (m.nlive % 4096 == 0)
			bad += full_check(t, &m, 0, POOL);
	}
	tap_ok(!m.errors && !bad && nt_conn_table_count(t) == 0,
	       "draining the table in random order: every remove matched, empty at the end");
	for (size_t k = 0; k < 5000; k++)
		op_upsert(t, &m, pick_absent(&m));
	bad = full_check(t, &m, 0, POOL);
	tap_ok(!m.errors && !bad, "the drained table takes 5000 new ids correctly");

	model_free(&m);
	nt_conn_table_free(t);
}

int main(void)
{
	test_basics();
	test_sequential();
	test_chains();
	test_random();
	return tap_done();
}
