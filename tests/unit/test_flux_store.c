/*
 * test_flux_store.c — the store functions of fast-flux pass 1 (store_sqlite_flux.c): the due
 * list streamed in chunks by id, a round's bookkeeping on the watch row, passive DNS that says
 * what is new, and the ipinfo rows a newer database has made stale; and src/enrich against the
 * MaxMind test files (values from their source JSON, the .json files in shared/testdata/mmdb, and
 * PROVENANCE.md).
 */
#include <setjmp.h>
#include <stdarg.h>
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
 * rewrites no pdns row, and what is read must equal what per-record observations give. Store A
 * gets answers, store B the same records one by one (tip_store_pdns_observe, which writes every
 * record); every resolution (first/last seen, count, TTL range) and the flux scan's records must
 * be equal, and so must what is new. The rounds: the same set in another order, with other
 * TTLs (one TTL, then two), then a changed set, then the same again, then a lone observation. */
struct ans {
	tip_time_t at;
	const char *v[2];
	int64_t ttl[2];
};

static int res_dump(void *arg, const struct tip_resolution *r)
{
	char *buf = arg;
	size_t n = strlen(buf);
	snprintf(buf + n, 4096 - n, "%s %s %s %lld %lld %lld %lld %lld;", r->domain, r->rrtype,
		 r->value, (long long)r->first_seen, (long long)r->last_seen, (long long)r->count,
		 (long long)r->min_ttl, (long long)r->max_ttl);
	return 0;
}

static int scan_dump(void *arg, const struct tip_flux_domain *d)
{
	char *buf = arg;
	for (size_t i = 0; i < d->n_rec; i++) {
		size_t n = strlen(buf);
		snprintf(buf + n, 4096 - n, "%s %s %lld %lld %lld %lld;", d->domain, d->rec[i].value,
			 (long long)d->rec[i].first_seen, (long long)d->rec[i].last_seen,
			 (long long)d->rec[i].count, (long long)d->rec[i].min_ttl);
	}
	return 0;
}

static void same_reads(struct tip_store *a, struct tip_store *b)
{
	static const tip_time_t since[] = { 0, 5500, 7500 };
	char x[4096], y[4096];
	x[0] = y[0] = '\0';
	OK(tip_store_resolutions(a, "a.example", res_dump, x, E));
	OK(tip_store_resolutions(b, "a.example", res_dump, y, E));
	assert_string_equal(x, y);
	x[0] = y[0] = '\0';
	OK(tip_store_resolutions_by_value(a, "192.0.2.2", res_dump, x, E));
	OK(tip_store_resolutions_by_value(b, "192.0.2.2", res_dump, y, E));
	assert_string_equal(x, y);
	for (size_t k = 0; k < sizeof(since) / sizeof(since[0]); k++) {
		x[0] = y[0] = '\0';
		OK(tip_store_flux_scan(a, since[k], scan_dump, x, E));
		OK(tip_store_flux_scan(b, since[k], scan_dump, y, E));
		assert_string_equal(x, y);
	}
}

static int count_rows(void *arg, const struct tip_resolution *res)
{
	(void)res;
	(*(int *)arg)++;
	return 0;
}

/* A hostile server can make a new set whose hash (and size) equals the old one's; the store must
 * compare the values, not trust the hash: the caller's set_hash is forced equal here, and the
 * second answer's new address must still be recorded (and flagged new). */
static void test_pdns_answer_collision(void **state)
{
	struct tip_store *st = open_new("collision");
	struct tip_pdns_rec r1[] = { { "192.0.2.1", 60 } }, r2[] = { { "192.0.2.99", 60 } };
	bool is_new[1];
	int64_t n_new;
	int rows = 0;
	(void)state;
	OK(tip_store_pdns_answer(st, "c.example", "A", 1 * TIP_SEC, 42, r1, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 1);
	OK(tip_store_pdns_answer(st, "c.example", "A", 2 * TIP_SEC, 42, r2, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 1);
	assert_true(is_new[0]);
	OK(tip_store_pdns_answer(st, "c.example", "A", 3 * TIP_SEC, 42, r2, 1, is_new, &n_new, E));
	assert_int_equal(n_new, 0); /* now truly unchanged */
	OK(tip_store_resolutions(st, "c.example", count_rows, &rows, E));
	assert_int_equal(rows, 2);
	tip_store_close(st);
}

static void test_pdns_answer_sets(void **state)
{
	static const struct ans rounds[] = {
		{ 1000, { "192.0.2.1", "192.0.2.2" }, { 300, 300 } },
		{ 2000, { "192.0.2.1", "192.0.2.2" }, { 60, 60 } },   /* same set: pending */
		{ 3000, { "192.0.2.2", "192.0.2.1" }, { 120, 120 } }, /* same set, other order */
		{ 4000, { "192.0.2.1", "192.0.2.2" }, { 30, 40 } },   /* two TTLs: written in full */
		{ 5000, { "192.0.2.1", "192.0.2.2" }, { 50, 50 } },   /* pending */
		{ 6000, { "192.0.2.2", "192.0.2.3" }, { 70, 70 } },   /* changed: folded, written */
		{ 7000, { "192.0.2.2", "192.0.2.3" }, { 80, 80 } },   /* pending */
		{ 8000, { "192.0.2.2", "192.0.2.3" }, { 20, 20 } },   /* pending */
	};
	struct tip_store *a = open_new("answer_a"), *b = open_new("answer_b");
	struct tip_resolution r;
	(void)state;
	for (size_t i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++) {
		const struct ans *an = &rounds[i];
		struct tip_pdns_rec rec[2];
		bool is_new[2], nb;
		int64_t n_new = -1, want_new = 0, h = 0;
		for (int k = 0; k < 2; k++) {
			rec[k] = (struct tip_pdns_rec){ .value = an->v[k], .ttl = an->ttl[k] };
			h += an->v[k][8] * 131 + an->v[k][0]; /* the same for the same set */
		}
		OK(tip_store_pdns_answer(a, "a.example", "A", an->at, h, rec, 2, is_new, &n_new, E));
		for (int k = 0; k < 2; k++) {
			OK(tip_store_pdns_observe(b, "a.example", "A", an->v[k], an->ttl[k], an->at,
						  &nb, E));
			assert_int_equal(is_new[k], nb);
			want_new += nb;
		}
		assert_int_equal(n_new, want_new);
		struct tip_round rd = { .domain = "a.example", .rrtype = "A", .at = an->at,
					.outcome = "ok", .n_records = 2, .min_ttl = 20, .set_hash = h };
		OK(tip_store_round_put(a, &rd, E));
		OK(tip_store_round_put(b, &rd, E));
		same_reads(a, b);
	}
	/* by hand: 192.0.2.2 seen in all 8 rounds, TTLs 300 ... 20 */
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions_by_value(a, "192.0.2.2", res_row, &r, E));
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 8000);
	assert_int_equal(r.count, 8);
	assert_int_equal(r.min_ttl, 20);
	assert_int_equal(r.max_ttl, 300);
	/* a lone observation between answers (tip_store_pdns_observe) folds the pending rounds */
	bool nb;
	OK(tip_store_pdns_observe(a, "a.example", "A", "192.0.2.3", 5, 9000, &nb, E));
	OK(tip_store_pdns_observe(b, "a.example", "A", "192.0.2.3", 5, 9000, &nb, E));
	same_reads(a, b);
	OK(tip_store_pdns_record(a, "a.example", "A", "192.0.2.2", 5, 9500, E));
	OK(tip_store_pdns_record(b, "a.example", "A", "192.0.2.2", 5, 9500, E));
	same_reads(a, b);
	tip_store_close(a);
	tip_store_close(b);
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
		cmocka_unit_test(test_pdns_observe),
		cmocka_unit_test(test_pdns_bulk_first_pass),
		cmocka_unit_test(test_pdns_answer_sets),
		cmocka_unit_test(test_pdns_answer_collision),
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
