/*
 * test_flux_store.c — the store functions of fast-flux pass 1 (store_sqlite_flux.c): the due
 * list streamed in chunks by id, a round's bookkeeping on the watch row, passive DNS that says
 * what is new, and the ipinfo rows a newer database has made stale; and src/enrich against the
 * MaxMind test files (values from their source JSON, the .json files in shared/testdata/mmdb, and
 * PROVENANCE.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "enrich/enrich.h"
#include "store/store.h"

static char dir[] = "/tmp/tip-test-flux-store-XXXXXX";

#define OK(call)                                                                                \
	do {                                                                                    \
		struct tip_error e_ = { 0 };                                                    \
		int rc_ = (call);                                                               \
		if (rc_ < 0)                                                                    \
			fail_msg("%s: %d %s", #call, rc_, e_.msg);                              \
	} while (0)
#define E (&e_)

static struct tip_store *open_new(const char *name)
{
	char url[400];
	struct tip_store *st;
	struct tip_error err = { 0 };
	snprintf(url, sizeof(url), "sqlite://%s/%s.db", dir, name);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, NULL, NULL, &err) < 0)
		fail_msg("open: %s", err.msg);
	return st;
}

struct ids {
	int n;
	int64_t last;
	char names[16][32];
};

static int due_row(void *arg, int64_t id, const char *domain)
{
	struct ids *x = arg;
	assert_true(id > x->last); /* id order */
	x->last = id;
	snprintf(x->names[x->n++], 32, "%s", domain);
	return 0;
}

static void test_due_chunks(void **state)
{
	struct tip_store *st = open_new("due");
	struct ids x = { 0 };
	char d[32];
	(void)state;
	/* 10 domains, d0..d9; d3 removed; d5 resolved with next_due in the future */
	for (int i = 0; i < 10; i++) {
		snprintf(d, sizeof(d), "d%d.example", i);
		OK(tip_store_watch_add(st, d, "cli", 1000, NULL, E));
	}
	OK(tip_store_watch_rm(st, "d3.example", 2000, NULL, E));
	OK(tip_store_watch_resolved(st, 0, "d5.example", 3000, 10 * TIP_SEC, "ok", E));
	/* chunks of 4 at now = 5 s: d0 d1 d2 d4 | d6 d7 d8 d9 | (none) — 8 due */
	OK(tip_store_watch_due(st, 5 * TIP_SEC, 0, 4, due_row, &x, E));
	assert_int_equal(x.n, 4);
	assert_string_equal(x.names[3], "d4.example");
	OK(tip_store_watch_due(st, 5 * TIP_SEC, x.last, 4, due_row, &x, E));
	assert_int_equal(x.n, 8);
	assert_string_equal(x.names[4], "d6.example");
	OK(tip_store_watch_due(st, 5 * TIP_SEC, x.last, 4, due_row, &x, E));
	assert_int_equal(x.n, 8);
	/* at 10 s d5 is due too */
	memset(&x, 0, sizeof(x));
	OK(tip_store_watch_due(st, 10 * TIP_SEC, 0, 0, due_row, &x, E));
	assert_int_equal(x.n, 9);
	tip_store_close(st);
}

struct wrow {
	int64_t rounds, last_round, next_due;
};

static int watch_row(void *arg, const struct tip_watch *w)
{
	struct wrow *r = arg;
	r->rounds = w->rounds;
	r->last_round = w->last_round;
	r->next_due = w->next_due;
	return 0;
}

static void test_resolved(void **state)
{
	struct tip_store *st = open_new("resolved");
	struct wrow r = { 0 };
	(void)state;
	OK(tip_store_watch_add(st, "a.example", "cli", 1, NULL, E));
	OK(tip_store_watch_resolved(st, 0, "a.example", 100, 700, "ok", E));
	OK(tip_store_watch_resolved(st, 0, "a.example", 800, 1400, "timeout", E));
	OK(tip_store_watch_resolved(st, 0, "unwatched.example", 800, 1400, "ok", E)); /* no error */
	OK(tip_store_watch_get(st, "a.example", watch_row, &r, E));
	assert_int_equal(r.rounds, 2);
	assert_int_equal(r.last_round, 800);
	assert_int_equal(r.next_due, 1400);
	tip_store_close(st);
}

/* The batch form (the pass's writer): the same rows as one call per domain would give, by
 * hand: b.example listed twice counts two rounds and keeps the later one; an id that is not
 * in the list changes nothing; an entry without an id is refused and changes nothing. */
static int64_t watch_id_of(struct tip_store *st, const char *domain);

static void test_resolved_batch(void **state)
{
	struct tip_store *st = open_new("resolved_batch");
	struct wrow r = { 0 };
	int64_t a, b;
	(void)state;
	OK(tip_store_watch_add(st, "a.example", "cli", 1, NULL, E));
	OK(tip_store_watch_add(st, "b.example", "cli", 1, NULL, E));
	a = watch_id_of(st, "a.example");
	b = watch_id_of(st, "b.example");
	struct tip_watch_done v[] = {
		{ b, 900, 1500, "timeout" }, { a, 100, 700, "ok" }, { b + 1000, 1, 2, "ok" },
		{ b, 800, 1400, "ok" },
	};
	OK(tip_store_watch_resolved_batch(st, v, 4, E));
	OK(tip_store_watch_get(st, "a.example", watch_row, &r, E));
	assert_int_equal(r.rounds, 1);
	assert_int_equal(r.last_round, 100);
	assert_int_equal(r.next_due, 700);
	OK(tip_store_watch_get(st, "b.example", watch_row, &r, E));
	assert_int_equal(r.rounds, 2);
	assert_int_equal(r.last_round, 900);
	assert_int_equal(r.next_due, 1500);
	struct tip_watch_done bad[] = { { a, 2000, 2600, "ok" }, { 0, 2000, 2600, "ok" } };
	struct tip_error e = { 0 };
	assert_true(tip_store_watch_resolved_batch(st, bad, 2, &e) < 0);
	assert_non_null(strstr(e.msg, "entry 1"));
	OK(tip_store_watch_get(st, "a.example", watch_row, &r, E));
	assert_int_equal(r.rounds, 1);
	OK(tip_store_watch_resolved_batch(st, NULL, 0, E));
	tip_store_close(st);
}

static int res_row(void *arg, const struct tip_resolution *res)
{
	struct tip_resolution *out = arg;
	*out = *res;
	out->domain = out->rrtype = out->value = out->as_name = out->cc = NULL;
	return 0;
}

/* keeps the first row (r.count must be 0 before) */
static int res_first(void *arg, const struct tip_resolution *res)
{
	struct tip_resolution *out = arg;
	if (out->count == 0)
		res_row(arg, res);
	return 0;
}

/* keeps the A row of 192.0.2.2 */
static int res_row_2(void *arg, const struct tip_resolution *res)
{
	if (!strcmp(res->rrtype, "A") && !strcmp(res->value, "192.0.2.2"))
		res_row(arg, res);
	return 0;
}

struct idfind {
	const char *domain;
	int64_t id;
};

static int id_row(void *arg, int64_t id, const char *domain)
{
	struct idfind *f = arg;
	if (!strcmp(domain, f->domain))
		f->id = id;
	return 0;
}

static int64_t watch_id_of(struct tip_store *st, const char *domain)
{
	struct idfind f = { domain, 0 };
	OK(tip_store_watch_due(st, INT64_MAX, 0, 0, id_row, &f, E));
	assert_true(f.id > 0);
	return f.id;
}

static void test_pdns_observe(void **state)
{
	struct tip_store *st = open_new("pdns");
	struct tip_resolution r;
	bool is_new = false;
	(void)state;
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.1", 300, 1000, &is_new, E));
	assert_true(is_new);
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.1", 60, 2000, &is_new, E));
	assert_false(is_new);
	OK(tip_store_pdns_observe(st, "b.example", "A", "192.0.2.1", 60, 2000, &is_new, E));
	assert_true(is_new); /* new for this domain */
	OK(tip_store_resolutions(st, "a.example", res_row, &r, E));
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 2000);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.min_ttl, 60);
	assert_int_equal(r.max_ttl, 300);
	/* known after new, then known after known (the store tries the UPDATE first then), then
	 * new after known: each counted once, by hand: a.example seen at 1000, 2000, 3000, 4000
	 * with TTLs 300, 60, 120, 30 */
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.1", 120, 3000, &is_new, E));
	assert_false(is_new);
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.1", 30, 4000, &is_new, E));
	assert_false(is_new);
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.2", 30, 4000, &is_new, E));
	assert_true(is_new);
	OK(tip_store_resolutions(st, "a.example", res_row, &r, E)); /* the last row: .2 */
	assert_int_equal(r.count, 1);
	r.count = 0;
	OK(tip_store_resolutions(st, "a.example", res_first, &r, E)); /* the first row: .1 */
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 4000);
	assert_int_equal(r.count, 4);
	assert_int_equal(r.min_ttl, 30);
	assert_int_equal(r.max_ttl, 300);
	tip_store_close(st);
}

/* Whole answers (tip_store_pdns_answer): an answer with the same set as the previous round's
 * rewrites no pdns row and writes no round row (its watched domain's answer_set row counts it),
 * and what is read must equal what per-record observations and a round row per answer give.
 * Store A gets answers, store B the same records one by one (tip_store_pdns_observe, which
 * writes every record) and every round with tip_store_round_put; every resolution (first/last
 * seen, count, TTL range), the rounds (tip_store_rounds) and the flux scan's records and rounds
 * must be equal for several windows, and so must what is new. */
#define DUMP 32768

static void cat(char *buf, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(buf);
	va_start(ap, fmt);
	vsnprintf(buf + n, DUMP - n, fmt, ap);
	va_end(ap);
	assert_true(strlen(buf) < DUMP - 1); /* not truncated */
}

static int res_dump(void *arg, const struct tip_resolution *r)
{
	cat(arg, "%s %s %s %lld %lld %lld %lld %lld;", r->domain, r->rrtype, r->value,
	    (long long)r->first_seen, (long long)r->last_seen, (long long)r->count,
	    (long long)r->min_ttl, (long long)r->max_ttl);
	return 0;
}

static void round_cat(char *buf, const struct tip_round *r)
{
	cat(buf, "%s %s %lld %s %lld %lld %lld %lld;", r->domain, r->rrtype, (long long)r->at,
	    r->outcome, (long long)r->n_records, (long long)r->n_new, (long long)r->min_ttl,
	    (long long)r->set_hash);
}

static int round_dump(void *arg, const struct tip_round *r)
{
	round_cat(arg, r);
	return 0;
}

static int scan_dump(void *arg, const struct tip_flux_domain *d)
{
	char *buf = arg;
	for (size_t i = 0; i < d->n_rec; i++)
		cat(buf, "%s %s %lld %lld %lld %lld;", d->domain, d->rec[i].value,
		    (long long)d->rec[i].first_seen, (long long)d->rec[i].last_seen,
		    (long long)d->rec[i].count, (long long)d->rec[i].min_ttl);
	cat(buf, "|");
	for (size_t i = 0; i < d->n_rounds; i++)
		round_cat(buf, &d->rounds[i]);
	cat(buf, "\n");
	return 0;
}

static char xa[DUMP], xb[DUMP];

static void same_reads(struct tip_store *a, struct tip_store *b)
{
	static const tip_time_t since[] = { 0, 2500, 5500, 6250, 7250, 7300, 8000, 9000, 100000 };
	static const char *const domains[] = { "a.example", "b.example", "u.example" };
	for (size_t k = 0; k < 3; k++) {
		xa[0] = xb[0] = '\0';
		OK(tip_store_resolutions(a, domains[k], res_dump, xa, E));
		OK(tip_store_resolutions(b, domains[k], res_dump, xb, E));
		assert_string_equal(xa, xb);
	}
	xa[0] = xb[0] = '\0';
	OK(tip_store_resolutions_by_value(a, "192.0.2.2", res_dump, xa, E));
	OK(tip_store_resolutions_by_value(b, "192.0.2.2", res_dump, xb, E));
	assert_string_equal(xa, xb);
	for (size_t k = 0; k < sizeof(since) / sizeof(since[0]); k++) {
		xa[0] = xb[0] = '\0';
		OK(tip_store_flux_scan(a, since[k], scan_dump, xa, E));
		OK(tip_store_flux_scan(b, since[k], scan_dump, xb, E));
		assert_string_equal(xa, xb);
		xa[0] = xb[0] = '\0';
		OK(tip_store_rounds(a, "a.example", since[k], round_dump, xa, E));
		OK(tip_store_rounds(b, "a.example", since[k], round_dump, xb, E));
		assert_string_equal(xa, xb);
	}
}

static int count_rows(void *arg, const struct tip_resolution *res)
{
	(void)res;
	(*(int *)arg)++;
	return 0;
}

static int64_t watch_id_of(struct tip_store *st, const char *domain);

/* A hostile server can make a new set whose hash (and size) equals the old one's; the store must
 * compare the values, not trust the hash: the caller's set_hash is forced equal here, and the
 * second answer's new address must still be recorded (and flagged new). */
static void test_pdns_answer_collision(void **state)
{
	struct tip_store *st = open_new("collision");
	struct tip_pdns_rec r1[] = { { "192.0.2.1", 60 } }, r2[] = { { "192.0.2.99", 60 } };
	struct tip_round rd = { .domain = "c.example", .rrtype = "A", .outcome = "ok",
				.n_records = 1, .min_ttl = 60, .set_hash = 42 };
	enum tip_watch_result wr;
	bool is_new[1];
	int64_t n_new;
	int rows = 0;
	(void)state;
	OK(tip_store_watch_add(st, "c.example", "test", 1, &wr, E));
	rd.at = 1 * TIP_SEC;
	OK(tip_store_pdns_answer(st, 0, &rd, r1, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 1);
	rd.at = 2 * TIP_SEC;
	OK(tip_store_pdns_answer(st, 0, &rd, r2, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 1);
	assert_true(is_new[0]);
	rd.at = 3 * TIP_SEC;
	OK(tip_store_pdns_answer(st, 0, &rd, r2, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 0); /* now truly unchanged */
	OK(tip_store_resolutions(st, "c.example", count_rows, &rows, E));
	assert_int_equal(rows, 2);
	/* three rounds, the first two with one new record each (by hand from the calls above) */
	xa[0] = '\0';
	OK(tip_store_rounds(st, "c.example", 0, round_dump, xa, E));
	assert_string_equal(xa, "c.example A 1000000 ok 1 1 60 42;c.example A 2000000 ok 1 1 60 42;"
				"c.example A 3000000 ok 1 0 60 42;");
	tip_store_close(st);
}

/* The integer a query gives on store `name` (read directly with SQLite). */
static int64_t count_sql(const char *name, const char *sql)
{
	char path[400];
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* One answer (or a failed round, n = 0) of the sequence below. */
struct ans {
	const char *domain, *rrtype;
	tip_time_t at;
	int n;
	const char *v[2];
	int64_t ttl[2];
};

static void put_both(struct tip_store *a, struct tip_store *b, const struct ans *an, int64_t wid)
{
	struct tip_pdns_rec rec[2];
	bool is_new[2], nb;
	int64_t n_new = -1, want_new = 0, h = 0, mttl = -1;
	for (int k = 0; k < an->n; k++) {
		rec[k] = (struct tip_pdns_rec){ .value = an->v[k], .ttl = an->ttl[k] };
		h += an->v[k][strlen(an->v[k]) - 1] * 131 + an->v[k][0]; /* the same for the same set */
		if (mttl < 0 || an->ttl[k] < mttl)
			mttl = an->ttl[k];
	}
	struct tip_round rd = { .domain = an->domain, .rrtype = an->rrtype, .at = an->at,
				.outcome = an->n ? "ok" : "timeout", .n_records = an->n,
				.min_ttl = mttl, .set_hash = an->n ? h : 0 };
	OK(tip_store_pdns_answer(a, wid, &rd, rec, (size_t)an->n, is_new, &n_new, E));
	for (int k = 0; k < an->n; k++) {
		OK(tip_store_pdns_observe(b, an->domain, an->rrtype, an->v[k], an->ttl[k], an->at,
					  &nb, E));
		assert_int_equal(is_new[k], nb);
		want_new += nb;
	}
	assert_int_equal(n_new, want_new);
	rd.n_new = want_new;
	OK(tip_store_round_put(b, &rd, E));
}

static void test_pdns_answer_sets(void **state)
{
	static const struct ans fixed[] = {
		{ "a.example", "A", 1000, 2, { "192.0.2.1", "192.0.2.2" }, { 300, 300 } },
		{ "a.example", "NS", 1000, 2, { "ns1.example", "ns2.example" }, { 900, 900 } },
		{ "a.example", "A", 2000, 2, { "192.0.2.1", "192.0.2.2" }, { 60, 60 } },   /* same */
		{ "a.example", "NS", 2000, 2, { "ns2.example", "ns1.example" }, { 900, 900 } },
		{ "a.example", "A", 3000, 2, { "192.0.2.2", "192.0.2.1" }, { 120, 120 } }, /* order */
		{ "a.example", "A", 4000, 2, { "192.0.2.1", "192.0.2.2" }, { 30, 40 } },   /* 2 TTLs */
		{ "a.example", "A", 5000, 2, { "192.0.2.1", "192.0.2.2" }, { 50, 50 } },   /* same */
		{ "a.example", "A", 5500, 0, { NULL, NULL }, { 0, 0 } },                   /* timeout */
		{ "a.example", "A", 5700, 2, { "192.0.2.1", "192.0.2.2" }, { 50, 50 } },   /* same */
		{ "a.example", "A", 6000, 2, { "192.0.2.2", "192.0.2.3" }, { 70, 70 } },   /* changed */
		{ "u.example", "A", 6000, 1, { "192.0.2.2", NULL }, { 70, 0 } },   /* not watched */
		{ "u.example", "A", 6100, 1, { "192.0.2.2", NULL }, { 70, 0 } },
		/* watched, every round still listed in its set row (none in `round`): the scan
		 * must visit it between a.example and u.example */
		{ "b.example", "A", 6200, 2, { "192.0.2.5", "192.0.2.2" }, { 90, 90 } },
		{ "b.example", "A", 6300, 2, { "192.0.2.2", "192.0.2.5" }, { 90, 90 } },
	};
	struct tip_store *a = open_new("answer_a"), *b = open_new("answer_b");
	struct tip_resolution r;
	enum tip_watch_result wr;
	int64_t wid;
	(void)state;
	OK(tip_store_watch_add(a, "a.example", "test", 1, &wr, E));
	OK(tip_store_watch_add(a, "b.example", "test", 1, &wr, E));
	wid = watch_id_of(a, "a.example");
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		/* the id given, or looked up */
		put_both(a, b, &fixed[i], i % 2 && !strcmp(fixed[i].domain, "a.example") ? wid : 0);
		same_reads(a, b);
	}
	/* 40 rounds of the same set (more than a set row lists at once), TTLs changing now and
	 * then, a timeout among them, and NS unchanged throughout */
	for (int i = 0; i < 40; i++) {
		struct ans an = { "a.example", "A", 7000 + 50 * i, 2, { "192.0.2.3", "192.0.2.2" },
				  { 80 - i / 7, 80 - i / 7 } };
		struct ans ns = { "a.example", "NS", 7000 + 50 * i + 1, 2,
				  { "ns1.example", "ns2.example" }, { 900, 900 } };
		if (i == 25)
			an.n = 0;
		put_both(a, b, &an, wid);
		put_both(a, b, &ns, 0);
		if (i % 9 == 0 || i > 14)
			same_reads(a, b);
	}
	same_reads(a, b);
	/* by hand: 192.0.2.2 answered in every A round but the two timeouts (7 of the fixed ones,
	 * 39 of the 40), TTLs 300 ... 40 (the two-TTL round gave it 40) */
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(a, "a.example", res_row_2, &r, E));
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 7000 + 50 * 39);
	assert_int_equal(r.count, 7 + 39);
	assert_int_equal(r.min_ttl, 40);
	assert_int_equal(r.max_ttl, 300);
	/* and it was the set rows that counted. Store A's round rows, by hand: a.example A 1000-3000
	 * written out by the two-TTL round (3), its timeout (1), 4000-5700 written out by the
	 * changed set (3), u.example's 2 (not watched), the loop's timeout (1), the first 32 of
	 * a.example A's 40 listed rounds (6000 and 39 unchanged) and of NS's 42 (1000, 2000 and 40):
	 * 3 + 1 + 3 + 2 + 1 + 32 + 32 = 74; B has one for each of the 14 + 80 rounds */
	assert_int_equal(count_sql("answer_a", "SELECT count(*) FROM round"), 74);
	assert_int_equal(count_sql("answer_b", "SELECT count(*) FROM round"), 14 + 80);
	assert_true(count_sql("answer_a", "SELECT count(*) FROM answer_set") == 3);
	assert_int_equal(count_sql("answer_a", "SELECT count(*) FROM round WHERE domain = 'b.example'"),
			 0);
	/* the round_all view shows them all, as B's round table */
	assert_int_equal(count_sql("answer_a", "SELECT count(*) FROM round_all"), 14 + 80);
	static const char rsum[] =
		"SELECT sum(at * 7 + n_records * 11 + n_new * 13 + coalesce(min_ttl, -1) * 17"
		" + coalesce(set_hash, 0) + length(outcome) + length(rrtype) * 19) FROM %s";
	char qa[300], qb[300];
	snprintf(qa, sizeof(qa), rsum, "round_all");
	snprintf(qb, sizeof(qb), rsum, "round");
	assert_int_equal(count_sql("answer_a", qa), count_sql("answer_b", qb));
	/* a lone observation between answers (tip_store_pdns_observe) writes the set row out */
	bool nb;
	OK(tip_store_pdns_observe(a, "a.example", "A", "192.0.2.4", 5, 9000, &nb, E));
	OK(tip_store_pdns_observe(b, "a.example", "A", "192.0.2.4", 5, 9000, &nb, E));
	same_reads(a, b);
	OK(tip_store_pdns_record(a, "a.example", "NS", "ns1.example", 5, 9500, E));
	OK(tip_store_pdns_record(b, "a.example", "NS", "ns1.example", 5, 9500, E));
	same_reads(a, b);
	tip_store_close(a);
	tip_store_close(b);
}

/* A store at schema 6 with pending rounds in pdns_set migrates with its data: the set of a
 * watched domain moves to answer_set (and keeps counting), the one of a domain that is not
 * watched is folded into its pdns rows. Expected values by hand from the rows written here. */
/* The batch form (tip_store_pdns_answer_batch, the pass's writer) against the one-by-one form
 * on the same answers: 60 watched domains, 40 rounds of A and NS answers in batches of 1 to 97
 * answers. The sets change now and then, some rounds have two TTLs or time out, a domain
 * answers twice in one batch, and a first round of new sets makes the batch go one by one for
 * a while (the store's own heuristic). Every answer's new records and the stores' passive DNS,
 * rounds and answer-set rows must be the same: the one-by-one store is the reference. */
static const char *dump_sql(const char *name, const char *sql)
{
	static char out[2][1 << 20];
	static int k;
	char path[400];
	sqlite3 *db;
	sqlite3_stmt *q;
	size_t o = 0;
	char *buf = out[k++ & 1];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	buf[0] = '\0';
	while (sqlite3_step(q) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(q); c++) {
			const unsigned char *t = sqlite3_column_text(q, c);
			int w = snprintf(buf + o, sizeof(out[0]) - o, "%s|", t ? (const char *)t : "-");
			assert_true(w > 0 && o + (size_t)w < sizeof(out[0]));
			o += (size_t)w;
		}
		buf[o++] = '\n';
		buf[o] = '\0';
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return buf;
}

/* any order-independent sum of value hashes will do for a set_hash (FNV-1a, as the pass) */
static uint32_t fnv1a_test(const char *v)
{
	uint32_t h = 2166136261u;
	for (; *v; v++)
		h = (h ^ (uint8_t)*v) * 16777619u;
	return h;
}

#define BATCH_DOMAINS 60
static const char *const batch_sql[] = {
	"SELECT * FROM pdns ORDER BY domain, rrtype, value",
	"SELECT * FROM round_all ORDER BY domain, rrtype, at",
	"SELECT * FROM round ORDER BY domain, rrtype, at",
	"SELECT id, set_hash, n, base_at, base_new, pending, last_seen, last_ttl, min_ttl, max_ttl,"
	" vals, n_rounds, rounds FROM answer_set ORDER BY id",
};

/* The reads of the batch test's domains (records, rounds, the domains of an address) are the
 * same in both stores. */
static void batch_reads(struct tip_store *a, struct tip_store *b, char (*names)[32])
{
	static const tip_time_t since[] = { 0, 15000000, 30000000 };
	for (int d = 0; d < BATCH_DOMAINS; d++) {
		char v[32];
		xa[0] = xb[0] = '\0';
		OK(tip_store_resolutions(a, names[d], res_dump, xa, E));
		OK(tip_store_resolutions(b, names[d], res_dump, xb, E));
		assert_string_equal(xa, xb);
		for (size_t k = 0; k < sizeof(since) / sizeof(since[0]); k++) {
			xa[0] = xb[0] = '\0';
			OK(tip_store_rounds(a, names[d], since[k], round_dump, xa, E));
			OK(tip_store_rounds(b, names[d], since[k], round_dump, xb, E));
			assert_string_equal(xa, xb);
		}
		snprintf(v, sizeof(v), "198.51.%d.%d", d, (d % 4) * 10);
		xa[0] = xb[0] = '\0';
		OK(tip_store_resolutions_by_value(a, v, res_dump, xa, E));
		OK(tip_store_resolutions_by_value(b, v, res_dump, xb, E));
		assert_string_equal(xa, xb);
	}
}

static void test_pdns_answer_batch(void **state)
{
	struct tip_store *a = open_new("batch_a"), *b = open_new("batch_b");
	static char names[BATCH_DOMAINS][32], vals[2 * BATCH_DOMAINS + 2][3][32];
	static struct tip_pdns_rec recs[2 * BATCH_DOMAINS + 2][3];
	static bool new_a[2 * BATCH_DOMAINS + 2][3], new_b[3];
	struct tip_answer ans[2 * BATCH_DOMAINS + 2];
	int64_t wid[BATCH_DOMAINS];
	unsigned seed = 7;
	(void)state;
	for (int d = 0; d < BATCH_DOMAINS; d++) {
		/* watched domains that never answer between them: the sets of one batch fall into
		 * many answer-log buckets (SQ_LOG_SHIFT), some alone in theirs */
		for (int f = 0; f < (d % 4) * 7; f++) {
			char fill[48];
			snprintf(fill, sizeof(fill), "f%02d-%02d.example", d, f);
			OK(tip_store_watch_add(a, fill, "test", 1, NULL, E));
			OK(tip_store_watch_add(b, fill, "test", 1, NULL, E));
		}
		snprintf(names[d], sizeof(names[d]), "d%02d.example", d);
		OK(tip_store_watch_add(a, names[d], "test", 1, NULL, E));
		OK(tip_store_watch_add(b, names[d], "test", 1, NULL, E));
		wid[d] = watch_id_of(a, names[d]);
		assert_int_equal(wid[d], watch_id_of(b, names[d]));
	}
	for (int r = 0; r < 40; r++) {
		size_t n = 0;
		OK(tip_store_begin(a, E));
		OK(tip_store_begin(b, E));
		for (int d = 0; d < BATCH_DOMAINS; d++) {
			for (int t = 0; t < 2 + (d == 5); t++) { /* A, NS; d05's A twice */
				bool ns = t == 1;
				/* the set changes every 5 (13) rounds; every tenth domain's NS never does
				 * (its round list fills up and is written out) */
				int gen = d % 10 == 9 && ns ? 0 : (r + d) / (ns ? 13 : 5);
				int k = 1 + (d + gen) % 3;
				int64_t h = 0; /* a sum of 32-bit hashes: no overflow */
				/* the TTL changes now and then (a round lists it only then) */
				int ttl = 60 + ((r + d) % 7 == 0 ? 30 : 0);
				for (int i = 0; i < k; i++) {
					if (ns)
						snprintf(vals[n][i], 32, "ns%d-%d.example", i, gen % 4);
					else
						snprintf(vals[n][i], 32, "198.51.%d.%d", d, (gen % 4) * 10 + i);
					/* a hostile server's answer listing a value twice (a new set in round 0) */
					if (i == 1 && d % 11 == 7 && (r % 6 == 2 || r == 0)) {
						char first[32];
						memcpy(first, vals[n][0], sizeof(first));
						memcpy(vals[n][i], first, sizeof(first));
					}
					recs[n][i] = (struct tip_pdns_rec){
						.value = vals[n][i],
						.ttl = ttl + (r % 11 == d % 5 && i == 1 ? 5 : 0) };
					h += fnv1a_test(vals[n][i]);
				}
				if (!ns && (r * 7 + d) % 23 == 0)
					k = 0; /* a timeout */
				/* an answer that is not a whole set (no set hash): it drops its set
				 * row, and the next one is a new set of known records; d05's first A
				 * is one every fourth round, before its second in the same batch */
				if (k && !ns && ((d % 7 == 3 && r % 9 == 4) || (d == 5 && t == 0 && r % 4 == 1)))
					h = 0;
				ans[n] = (struct tip_answer){
					.watch_id = wid[d], .rec = recs[n], .n = (size_t)k,
					.is_new = new_a[n],
					.rd = { .domain = names[d], .rrtype = ns ? "NS" : "A",
						.at = 1000000 * (r + 1) + 10 * d + t + (t == 2),
						.outcome = k ? "ok" : "timeout", .n_records = k,
						.min_ttl = k ? ttl - (d % 3 == 1) : -1,
						.set_hash = k ? h : 0 },
				};
				if (t == 2) /* the same answer again, later, in the same batch */
					ans[n].rd.rrtype = "A";
				n++;
			}
		}
		for (size_t i = 0; i < n;) {
			size_t m = 1 + (size_t)(rand_r(&seed) % 97);
			if (m > n - i)
				m = n - i;
			OK(tip_store_pdns_answer_batch(a, ans + i, m, E));
			for (size_t j = i; j < i + m; j++) {
				struct tip_round rd = ans[j].rd;
				int64_t nn = -1;
				OK(tip_store_pdns_answer(b, ans[j].watch_id, &rd, ans[j].rec, ans[j].n,
							 new_b, &nn, E));
				assert_int_equal(ans[j].rd.n_new, nn);
				for (size_t x = 0; x < ans[j].n; x++)
					assert_int_equal(new_a[j][x], new_b[x]);
			}
			i += m;
		}
		OK(tip_store_commit(a, E));
		OK(tip_store_commit(b, E));
		/* what is read is the same while a's unchanged rounds wait in its answer log */
		batch_reads(a, b, names);
		/* and once, half way, a takes them into its set rows; the rest of the rounds
		 * come on top of that */
		if (r == 20) {
			assert_true(count_sql("batch_a", "SELECT count(*) FROM answer_log") > 0);
			OK(tip_store_pdns_fold(a, 0, E));
			assert_int_equal(count_sql("batch_a", "SELECT count(*) FROM answer_log"), 0);
			batch_reads(a, b, names);
		}
	}
	/* every round as a table, the log's included (round_all), and the records; the log's
	 * rows spread over buckets */
	assert_true(count_sql("batch_a", "SELECT count(DISTINCT bucket) FROM answer_log") > 10);
	for (size_t i = 0; i < 2; i++) {
		const char *x = dump_sql("batch_a", batch_sql[i]), *y = dump_sql("batch_b", batch_sql[i]);
		assert_true(strlen(x) > 100);
		assert_string_equal(x, y);
	}
	/* pass 2's scan folds first: a read-only handle cannot, and says so rather than scan
	 * without the log */
	{
		char url[400];
		struct tip_store *ro;
		struct tip_error err = { 0 };
		snprintf(url, sizeof(url), "sqlite://%s/batch_a.db", dir);
		if (tip_store_open(url, TIP_STORE_READONLY, &ro, &err) < 0)
			fail_msg("open read-only: %s", err.msg);
		xa[0] = '\0';
		assert_true(tip_store_flux_scan(ro, 0, scan_dump, xa, &err) < 0);
		assert_non_null(strstr(err.msg, "readonly"));
		tip_store_close(ro);
	}
	/* the log taken: a's rows are b's, column for column (but the log's position) */
	OK(tip_store_pdns_fold(a, 0, E));
	batch_reads(a, b, names);
	tip_store_close(a);
	tip_store_close(b);
	assert_int_equal(count_sql("batch_a", "SELECT count(*) FROM answer_log"), 0);
	for (size_t i = 0; i < sizeof(batch_sql) / sizeof(batch_sql[0]); i++) {
		const char *x = dump_sql("batch_a", batch_sql[i]), *y = dump_sql("batch_b", batch_sql[i]);
		assert_true(strlen(x) > 100);
		assert_string_equal(x, y);
	}
	/* and the sets did count rounds: more rounds than round rows */
	assert_true(count_sql("batch_a", "SELECT count(*) FROM round_all") >
		    count_sql("batch_a", "SELECT count(*) FROM round"));
}

/* A log row that is not what the writer writes (a damaged or hand-edited store): a reader that
 * needs it and the fold fail with an error naming the row, and the fold changes nothing. */
static void test_answer_log_malformed(void **state)
{
	struct tip_store *st = open_new("log_bad");
	struct tip_pdns_rec rec[4][1];
	struct tip_answer ans[4];
	struct tip_error err = { 0 };
	char names[4][32], vals[4][32];
	sqlite3 *db;
	char path[400];
	(void)state;
	for (int d = 0; d < 4; d++) {
		snprintf(names[d], sizeof(names[d]), "b%d.example", d);
		OK(tip_store_watch_add(st, names[d], "test", 1, NULL, E));
	}
	for (int r = 0; r < 3; r++) { /* a new set, then the same twice: two log entries a set */
		OK(tip_store_begin(st, E));
		for (int d = 0; d < 4; d++) {
			snprintf(vals[d], sizeof(vals[d]), "192.0.2.%d", d + 1);
			rec[d][0] = (struct tip_pdns_rec){ .value = vals[d], .ttl = 60 };
			ans[d] = (struct tip_answer){
				.watch_id = watch_id_of(st, names[d]), .rec = rec[d], .n = 1,
				.rd = { .domain = names[d], .rrtype = "A", .at = 1000000 * (r + 1) + d,
					.outcome = "ok", .n_records = 1, .min_ttl = 60,
					.set_hash = 100 + d },
			};
		}
		OK(tip_store_pdns_answer_batch(st, ans, 4, E));
		OK(tip_store_commit(st, E));
	}
	tip_store_close(st);
	assert_int_equal(count_sql("log_bad", "SELECT sum(n) FROM answer_log"), 8);
	snprintf(path, sizeof(path), "%s/log_bad.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE answer_log SET ents = substr(ents, 2)"
				      " WHERE seq = (SELECT max(seq) FROM answer_log)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	snprintf(path, sizeof(path), "sqlite://%s/log_bad.db", dir);
	if (tip_store_open(path, 0, &st, &err) < 0)
		fail_msg("open: %s", err.msg);
	assert_true(tip_store_resolutions(st, "b2.example", res_row, &(struct tip_resolution){ 0 },
					  &err) < 0);
	assert_non_null(strstr(err.msg, "answer log row"));
	assert_non_null(strstr(err.msg, "malformed"));
	memset(&err, 0, sizeof(err));
	assert_true(tip_store_pdns_fold(st, 0, &err) < 0);
	assert_non_null(strstr(err.msg, "malformed"));
	tip_store_close(st);
	/* nothing changed: the log is all there, no set row took anything */
	assert_int_equal(count_sql("log_bad", "SELECT count(*) FROM answer_log"), 2);
	assert_int_equal(count_sql("log_bad", "SELECT sum(pending) FROM answer_set"), 0);
}

static void test_migrate_v6_sets(void **state)
{
	char url[400], path[400];
	struct tip_store *st;
	struct tip_error err = { 0 };
	struct tip_resolution r;
	enum tip_watch_result wr;
	sqlite3 *db;
	bool is_new[2];
	int64_t n_new;
	int v = 0;
	(void)state;
	snprintf(path, sizeof(path), "%s/v6.db", dir);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 6, NULL, &v, &err) < 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(v, 6);
	OK(tip_store_watch_add(st, "w.example", "test", 1, &wr, E));
	OK(tip_store_pdns_record(st, "w.example", "A", "192.0.2.1", 60, 1000, E));
	OK(tip_store_pdns_record(st, "w.example", "A", "192.0.2.2", 60, 1000, E));
	OK(tip_store_pdns_record(st, "u.example", "A", "192.0.2.9", 60, 1000, E));
	tip_store_close(st);
	/* what schema 6's writer left: w.example answered the same set at 2000 and 3000 (TTL 20),
	 * u.example at 2000 (TTL 30) */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO pdns_set VALUES ('w.example', 'A', 77, 2, 1000, 2,"
				      " 3000, 20, 20, '192.0.2.1\n192.0.2.2\n');"
				      "INSERT INTO pdns_set VALUES ('u.example', 'A', 78, 1, 1000, 1,"
				      " 2000, 30, 30, '192.0.2.9\n');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	if (tip_store_open(url, TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, NULL, &v, &err) < 0)
		fail_msg("migrate: %s", err.msg);
	assert_int_equal(v, tip_store_schema_latest());
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(st, "w.example", res_row, &r, E)); /* the last row: .2 */
	assert_int_equal(r.count, 3);
	assert_int_equal(r.last_seen, 3000);
	assert_int_equal(r.min_ttl, 20);
	assert_int_equal(r.max_ttl, 60);
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(st, "u.example", res_row, &r, E));
	assert_int_equal(r.count, 2);
	assert_int_equal(r.last_seen, 2000);
	assert_int_equal(r.min_ttl, 30);
	/* the moved set keeps counting: the same set again at 4000 */
	struct tip_pdns_rec rec[] = { { "192.0.2.2", 40 }, { "192.0.2.1", 40 } };
	struct tip_round rd = { .domain = "w.example", .rrtype = "A", .at = 4000, .outcome = "ok",
				.n_records = 2, .min_ttl = 40, .set_hash = 77 };
	OK(tip_store_pdns_answer(st, 0, &rd, rec, 2, is_new, &n_new, E));
	assert_int_equal(n_new, 0);
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(st, "w.example", res_row, &r, E));
	assert_int_equal(r.count, 4);
	assert_int_equal(r.last_seen, 4000);
	assert_int_equal(r.max_ttl, 60);
	/* and that round is read like any other */
	xa[0] = '\0';
	OK(tip_store_rounds(st, "w.example", 0, round_dump, xa, E));
	assert_string_equal(xa, "w.example A 4000 ok 2 0 40 77;");
	tip_store_close(st);
}

static int count_res(void *arg, const struct tip_resolution *res)
{
	(void)res;
	(*(int *)arg)++;
	return 0;
}

/* A bulk first pass into an empty pdns table builds the value index at its end (the store drops
 * it meanwhile); lookups by value must answer the same after it, and after a later bulk pass
 * over a non-empty table. Expected counts by hand from the records written here. */
static void test_pdns_bulk_first_pass(void **state)
{
	struct tip_store *st = open_new("pdnsbulk");
	bool is_new;
	int n;
	(void)state;
	OK(tip_store_bulk(st, true, E));
	OK(tip_store_begin(st, E));
	OK(tip_store_pdns_observe(st, "a.example", "A", "192.0.2.7", 60, 1000, &is_new, E));
	OK(tip_store_pdns_observe(st, "b.example", "A", "192.0.2.7", 60, 1000, &is_new, E));
	OK(tip_store_pdns_observe(st, "b.example", "A", "192.0.2.8", 60, 1000, &is_new, E));
	OK(tip_store_commit(st, E));
	OK(tip_store_bulk(st, false, E));
	n = 0;
	OK(tip_store_resolutions_by_value(st, "192.0.2.7", count_res, &n, E));
	assert_int_equal(n, 2);
	OK(tip_store_bulk(st, true, E)); /* not empty now: the index stays */
	OK(tip_store_pdns_observe(st, "c.example", "A", "192.0.2.7", 60, 2000, &is_new, E));
	assert_true(is_new);
	OK(tip_store_bulk(st, false, E));
	n = 0;
	OK(tip_store_resolutions_by_value(st, "192.0.2.7", count_res, &n, E));
	assert_int_equal(n, 3);
	n = 0;
	OK(tip_store_resolutions_by_value(st, "192.0.2.8", count_res, &n, E));
	assert_int_equal(n, 1);
	tip_store_close(st);
}

static int count_stale(void *arg, const char *addr)
{
	(void)addr;
	(*(int *)arg)++;
	return 0;
}

static int ipinfo_row(void *arg, const struct tip_ipinfo *i)
{
	struct tip_ipinfo *out = arg;
	out->asn = i->asn;
	out->db = i->db ? strdup(i->db) : NULL;
	out->cc = i->cc ? strdup(i->cc) : NULL;
	out->as_name = i->as_name ? strdup(i->as_name) : NULL;
	return 0;
}

static void test_enrich_mmdb_and_refresh(void **state)
{
	struct tip_store *st = open_new("enrich");
	struct tip_config cfg;
	struct tip_enrich *e;
	struct tip_error err = { 0 };
	struct tip_ipinfo i = { 0 };
	char asn[512], cc[512];
	bool looked = false;
	int n = 0;
	int64_t redone = 0;
	(void)state;

	OK(tip_config_load(&cfg, NULL, E));
	snprintf(asn, sizeof(asn), "%s/mmdb/GeoLite2-ASN-Test.mmdb", TIP_TESTDATA);
	snprintf(cc, sizeof(cc), "%s/mmdb/GeoIP2-Country-Test.mmdb", TIP_TESTDATA);
	free(cfg.enrich.locdb);
	cfg.enrich.locdb = strdup("");
	free(cfg.enrich.mmdb_asn);
	cfg.enrich.mmdb_asn = strdup(asn);
	if (tip_enrich_open(&cfg, &e, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(tip_enrich_db(e), "mmdb");

	/* GeoLite2-ASN-Test.json: 1.128.0.0/11 -> 1221 "Telstra Pty Ltd" */
	OK(tip_enrich_cached(e, st, "1.128.0.1", 1, &looked, E));
	assert_true(looked);
	OK(tip_enrich_cached(e, st, "1.128.0.1", 2, &looked, E));
	assert_false(looked); /* cached, same version */
	OK(tip_store_ipinfo_get(st, "1.128.0.1", ipinfo_row, &i, E));
	assert_int_equal(i.asn, 1221);
	assert_string_equal(i.as_name, "Telstra Pty Ltd");
	assert_null(i.cc);
	free((char *)i.db);
	free((char *)i.as_name);

	/* a second database (country) changes the version: the row is stale and redone */
	tip_enrich_close(e);
	free(cfg.enrich.mmdb_country);
	cfg.enrich.mmdb_country = strdup(cc);
	if (tip_enrich_open(&cfg, &e, &err) < 0)
		fail_msg("%s", err.msg);
	OK(tip_store_ipinfo_stale(st, tip_enrich_db(e), tip_enrich_version(e), 0, count_stale, &n, E));
	assert_int_equal(n, 1);
	OK(tip_enrich_refresh(e, st, 3, &redone, E));
	assert_int_equal(redone, 1);
	n = 0;
	OK(tip_store_ipinfo_stale(st, tip_enrich_db(e), tip_enrich_version(e), 0, count_stale, &n, E));
	assert_int_equal(n, 0);
	/* GeoIP2-Country-Test.json (PROVENANCE.md): 81.2.69.160 -> GB */
	OK(tip_enrich_cached(e, st, "81.2.69.160", 4, &looked, E));
	memset(&i, 0, sizeof(i));
	OK(tip_store_ipinfo_get(st, "81.2.69.160", ipinfo_row, &i, E));
	assert_string_equal(i.cc, "GB");
	free((char *)i.db);
	free((char *)i.cc);
	free((char *)i.as_name);

	assert_int_equal(tip_enrich_cached(e, st, "not-an-ip", 5, NULL, &err), TIP_EINVAL);
	/* a configured file that is missing is an error naming it */
	tip_enrich_close(e);
	free(cfg.enrich.mmdb_asn);
	cfg.enrich.mmdb_asn = strdup("/nonexistent/asn.mmdb");
	assert_true(tip_enrich_open(&cfg, &e, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/asn.mmdb"));
	tip_config_free(&cfg);
	tip_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_chunks),
		cmocka_unit_test(test_resolved),
		cmocka_unit_test(test_resolved_batch),
		cmocka_unit_test(test_pdns_observe),
		cmocka_unit_test(test_pdns_bulk_first_pass),
		cmocka_unit_test(test_pdns_answer_sets),
		cmocka_unit_test(test_pdns_answer_collision),
		cmocka_unit_test(test_pdns_answer_batch),
		cmocka_unit_test(test_answer_log_malformed),
		cmocka_unit_test(test_migrate_v6_sets),
		cmocka_unit_test(test_enrich_mmdb_and_refresh),
	};
	int rc;
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
