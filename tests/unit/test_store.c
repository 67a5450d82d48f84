/*
 * test_store.c — the store API round trips on a temporary SQLite file, and the schema
 * migrations from an older version.
 *
 * Expected values are the inputs the test itself wrote, counted by hand; where the test looks
 * underneath the API (the sighting_history view, the schema version) it reads the file with
 * SQLite directly, not through the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"

static char dir[] = "/tmp/tip-test-store-XXXXXX";
static int n_files;

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh file name for each test: "sqlite:///tmp/…/N.db" and its path. */
static void fresh(char *url, size_t ulen, char *path, size_t plen)
{
	n_files++;
	snprintf(path, plen, "%s/sub/%d.db", dir, n_files);
	snprintf(url, ulen, "sqlite://%s", path);
}

/* tip init's way: create, then migrate to the latest. */
static struct tip_store *open_new(char *path, size_t plen)
{
	char url[400];
	struct tip_store *st;
	struct tip_error err = { 0 };
	int from = -1, to = -1;
	fresh(url, sizeof(url), path, plen);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0)
		fail_msg("open: %s", err.msg);
	if (tip_store_migrate(st, 0, &from, &to, &err) < 0)
		fail_msg("migrate: %s", err.msg);
	assert_int_equal(from, 0);
	assert_int_equal(to, tip_store_schema_latest());
	return st;
}

static struct tip_store *reopen(const char *path, int flags)
{
	char url[400];
	struct tip_store *st;
	struct tip_error err = { 0 };
	snprintf(url, sizeof(url), "sqlite://%s", path);
	if (tip_store_open(url, flags, &st, &err) < 0)
		fail_msg("reopen: %s", err.msg);
	return st;
}

#define OK(call)                                                                                \
	do {                                                                                    \
		struct tip_error e_ = { 0 };                                                    \
		int rc_ = (call);                                                               \
		(void)e_;                                                                       \
		if (rc_ != 0)                                                                   \
			fail_msg("%s → %d", #call, rc_);                                        \
	} while (0)

/* One integer from SQL run on the file through a separate connection. */
static long long sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long long v = -999;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* ---------------------------------------------------------------------------------------- */
/* Collectors */

struct watches {
	int n;
	char domain[8][64], source[8][32];
	tip_time_t added[8], removed[8];
};
static int watch_cb(void *arg, const struct tip_watch *w)
{
	struct watches *c = arg;
	assert_true(c->n < 8);
	snprintf(c->domain[c->n], 64, "%s", w->domain);
	snprintf(c->source[c->n], 32, "%s", w->source);
	c->added[c->n] = w->added;
	c->removed[c->n] = w->removed;
	c->n++;
	return 0;
}

struct sightings {
	int n;
	char source[16][32], value[16][64], category[16][32];
	enum tip_ind_type type[16];
	tip_time_t first[16], last[16], removed[16];
};
static int sighting_cb(void *arg, const struct tip_sighting *s)
{
	struct sightings *c = arg;
	assert_true(c->n < 16);
	snprintf(c->source[c->n], 32, "%s", s->source);
	snprintf(c->value[c->n], 64, "%s", s->value);
	snprintf(c->category[c->n], 32, "%s", s->category ? s->category : "(null)");
	c->type[c->n] = s->type;
	c->first[c->n] = s->first_seen;
	c->last[c->n] = s->last_seen;
	c->removed[c->n] = s->removed;
	c->n++;
	return 0;
}

static int stop_cb(void *arg, const struct tip_watch *w)
{
	(void)w;
	(*(int *)arg)++;
	return 42;
}

/* ---------------------------------------------------------------------------------------- */

static void test_open_errors(void **state)
{
	char url[400], path[300];
	struct tip_store *st = (void *)1;
	struct tip_error err = { 0 };
	(void)state;

	/* a missing file without CREATE: say to run tip init, create nothing */
	fresh(url, sizeof(url), path, sizeof(path));
	assert_int_equal(tip_store_open(url, 0, &st, &err), TIP_ENOTFOUND);
	assert_null(st);
	assert_non_null(strstr(err.msg, "tip init"));
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tip_store_open(url, TIP_STORE_READONLY, &st, &err), TIP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "tip init"));

	/* created but never migrated (schema 0): also "run tip init" */
	err.msg[0] = '\0';
	assert_true(tip_store_open(url, TIP_STORE_CREATE, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "tip init"));

	/* schemes */
	assert_int_equal(tip_store_open("mysql://x/y", 0, &st, &err), TIP_EINVAL);
	assert_non_null(strstr(err.msg, "unknown scheme"));
	assert_int_equal(tip_store_open("postgresql://u@h/db", 0, &st, &err), TIP_EINVAL);
	assert_int_equal(tip_store_open("no-scheme", 0, &st, &err), TIP_EINVAL);
	assert_int_equal(tip_store_open("sqlite://", TIP_STORE_CREATE, &st, &err), TIP_EINVAL);
	assert_int_equal(tip_store_open("sqlite:///tmp/x.db?mode=ro", TIP_STORE_CREATE, &st, &err),
			 TIP_EINVAL);
}

static void test_schema_versions(void **state)
{
	char url[400], path[300];
	struct tip_store *st;
	struct tip_error err = { 0 };
	int v, from, to;
	(void)state;

	fresh(url, sizeof(url), path, sizeof(path));
	OK(tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err));
	OK(tip_store_schema_version(st, &v, &err));
	assert_int_equal(v, 0);
	OK(tip_store_migrate(st, 1, &from, &to, &err));
	assert_int_equal(from, 0);
	assert_int_equal(to, 1);
	assert_int_equal(tip_store_migrate(st, 999, NULL, NULL, &err), TIP_EINVAL);
	tip_store_close(st);

	/* older schema: refused with a message to run tip init */
	assert_true(tip_store_open(url, 0, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "schema version 1"));
	assert_non_null(strstr(err.msg, "tip init"));
	assert_true(tip_store_open(url, TIP_STORE_READONLY, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "tip init"));

	/* newer schema than this build knows: refused, migrate refuses too */
	sql_exec(path, "INSERT INTO schema_version VALUES (999, 0)");
	assert_true(tip_store_open(url, 0, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "upgrade tip"));
	OK(tip_store_open(url, TIP_STORE_NOMIGRATE, &st, &err));
	assert_int_equal(tip_store_migrate(st, 0, NULL, NULL, &err), TIP_ESTORE);
	tip_store_close(st);
}

static void test_watch(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	enum tip_watch_result r;
	struct watches w;
	int64_t n;
	bool removed;
	int calls = 0;
	(void)state;

	OK(tip_store_watch_add(st, "example.com", "cli", 1000, &r, &err));
	assert_int_equal(r, TIP_WATCH_ADDED);
	OK(tip_store_watch_add(st, "example.com", "feed:x", 2000, &r, &err));
	assert_int_equal(r, TIP_WATCH_PRESENT);
	OK(tip_store_watch_add(st, "b.example", "cli", 3000, &r, &err));
	OK(tip_store_watch_add(st, "a.example", "cli", 4000, NULL, &err));
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 3);

	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_list(st, false, watch_cb, &w, &err));
	assert_int_equal(w.n, 3);
	assert_string_equal(w.domain[0], "a.example"); /* domain order */
	assert_string_equal(w.domain[1], "b.example");
	assert_string_equal(w.domain[2], "example.com");
	assert_string_equal(w.source[2], "cli"); /* the second add did not change it */
	assert_int_equal(w.added[2], 1000);
	assert_int_equal(w.removed[2], 0);

	OK(tip_store_watch_rm(st, "example.com", 5000, &removed, &err));
	assert_true(removed);
	OK(tip_store_watch_rm(st, "example.com", 6000, &removed, &err));
	assert_false(removed);
	OK(tip_store_watch_rm(st, "never.example", 6000, &removed, &err));
	assert_false(removed);
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 2);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_list(st, false, watch_cb, &w, &err));
	assert_int_equal(w.n, 2);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_list(st, true, watch_cb, &w, &err));
	assert_int_equal(w.n, 3);
	assert_int_equal(w.removed[2], 5000);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_get(st, "example.com", watch_cb, &w, &err));
	assert_int_equal(w.n, 1);
	assert_int_equal(w.removed[0], 5000);

	/* back again: reactivated, by its new source, history (added) kept */
	OK(tip_store_watch_add(st, "example.com", "feed:x", 7000, &r, &err));
	assert_int_equal(r, TIP_WATCH_REACTIVATED);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_get(st, "example.com", watch_cb, &w, &err));
	assert_int_equal(w.n, 1);
	assert_int_equal(w.removed[0], 0);
	assert_string_equal(w.source[0], "feed:x");
	assert_int_equal(w.added[0], 1000);
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 3);

	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_get(st, "nothing.example", watch_cb, &w, &err));
	assert_int_equal(w.n, 0);
	/* a callback's non-zero return stops the iteration and is returned */
	assert_int_equal(tip_store_watch_list(st, true, stop_cb, &calls, &err), 42);
	assert_int_equal(calls, 1);
	tip_store_close(st);
}

/* watch_add_many against watch_add one at a time (the reference) on two stores with the same
 * start: one domain watched, one removed, one absent; the batch gives each of them, one twice
 * and one of them three times. Counts and the resulting rows (source, added, removed) must be
 * the same. */
static void test_watch_add_many(void **state)
{
	static const char *const start_rm = "gone.example";
	static const char *const batch[] = { "new.example", "kept.example", "gone.example",
					     "new.example", "gone.example", "other.example",
					     "new.example" };
	const size_t n = sizeof(batch) / sizeof(batch[0]);
	char pa[300], pb[300];
	struct tip_store *a = open_new(pa, sizeof(pa)), *b = open_new(pb, sizeof(pb));
	struct tip_store *both[2] = { a, b };
	struct tip_error err = { 0 };
	struct tip_watch_counts c = { 0 }, one = { 0 };
	struct watches wa, wb;
	bool removed;
	(void)state;

	for (int k = 0; k < 2; k++) {
		OK(tip_store_watch_add(both[k], "kept.example", "cli", 1000, NULL, &err));
		OK(tip_store_watch_add(both[k], start_rm, "cli", 1000, NULL, &err));
		OK(tip_store_watch_rm(both[k], start_rm, 1500, &removed, &err));
	}
	OK(tip_store_watch_add_many(a, batch, n, "feed:x", 2000, &c, &err));
	for (size_t i = 0; i < n; i++) {
		enum tip_watch_result r;
		OK(tip_store_watch_add(b, batch[i], "feed:x", 2000, &r, &err));
		*(r == TIP_WATCH_ADDED ? &one.added
		  : r == TIP_WATCH_REACTIVATED ? &one.reactivated : &one.present) += 1;
	}
	assert_int_equal(c.added, one.added);
	assert_int_equal(c.reactivated, one.reactivated);
	assert_int_equal(c.present, one.present);
	/* and as worked out by hand: new, other added; gone reactivated; the rest present */
	assert_int_equal(c.added, 2);
	assert_int_equal(c.reactivated, 1);
	assert_int_equal(c.present, 4);
	memset(&wa, 0, sizeof(wa));
	memset(&wb, 0, sizeof(wb));
	OK(tip_store_watch_list(a, true, watch_cb, &wa, &err));
	OK(tip_store_watch_list(b, true, watch_cb, &wb, &err));
	assert_int_equal(wa.n, 4);
	assert_int_equal(wa.n, wb.n);
	for (int i = 0; i < wa.n; i++) {
		assert_string_equal(wa.domain[i], wb.domain[i]);
		assert_string_equal(wa.source[i], wb.source[i]);
		assert_int_equal(wa.added[i], wb.added[i]);
		assert_int_equal(wa.removed[i], wb.removed[i]);
	}
	tip_store_close(a);
	tip_store_close(b);
}

static int64_t put_ind(struct tip_store *st, const char *text, tip_time_t now)
{
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	int64_t id = -1;
	if (tip_indicator_parse(text, strlen(text), TIP_IND_ANY, &ind, &err) < 0)
		fail_msg("%s: %s", text, err.msg);
	if (tip_store_indicator_put(st, &ind, now, &id, &err) < 0)
		fail_msg("indicator_put %s: %s", text, err.msg);
	return id;
}

static void test_sightings(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	int64_t feed, other, a, b, c, removed;
	enum tip_sighting_state s;
	struct sightings got;
	struct tip_sighting_attrs attrs = { .category = "phishing", .listed_since = 500 };
	(void)state;

	OK(tip_store_source_id(st, "feed:one", "feed", &feed, &err));
	OK(tip_store_source_id(st, "feed:two", "feed", &other, &err));
	assert_true(feed != other);
	{
		int64_t again;
		OK(tip_store_source_id(st, "feed:one", "feed", &again, &err));
		assert_int_equal(again, feed);
	}
	a = put_ind(st, "A.example.com", 1000);
	b = put_ind(st, "http://b.example.com/x", 1000);
	c = put_ind(st, "a.example.com.", 2000); /* the same indicator as a */
	assert_int_equal(a, c);
	assert_true(a != b);

	/* pass 1 (mark 1) at t=1000: both new */
	OK(tip_store_sighting_seen(st, feed, a, 1000, 1, &attrs, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_NEW);
	OK(tip_store_sighting_seen(st, feed, b, 1000, 1, NULL, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_NEW);
	OK(tip_store_sighting_sweep(st, feed, 1, 1000, &removed, &err));
	assert_int_equal(removed, 0);
	/* pass 2 at t=2000: only a; b is swept as removed */
	OK(tip_store_sighting_seen(st, feed, a, 2000, 2, NULL, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_SEEN);
	OK(tip_store_sighting_sweep(st, feed, 2, 2000, &removed, &err));
	assert_int_equal(removed, 1);
	/* another source's sightings are not touched by this source's sweep */
	OK(tip_store_sighting_seen(st, other, b, 2500, 7, NULL, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_NEW);
	/* pass 3 at t=3000: b returns */
	OK(tip_store_sighting_seen(st, feed, a, 3000, 3, NULL, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_SEEN);
	OK(tip_store_sighting_seen(st, feed, b, 3000, 3, NULL, &s, &err));
	assert_int_equal(s, TIP_SIGHTING_RETURNED);
	OK(tip_store_sighting_sweep(st, feed, 3, 3000, &removed, &err));
	assert_int_equal(removed, 0);

	memset(&got, 0, sizeof(got));
	OK(tip_store_sightings(st, TIP_IND_DOMAIN, "a.example.com", sighting_cb, &got, &err));
	assert_int_equal(got.n, 1);
	assert_string_equal(got.source[0], "feed:one");
	assert_int_equal(got.type[0], TIP_IND_DOMAIN);
	assert_int_equal(got.first[0], 1000);
	assert_int_equal(got.last[0], 3000);
	assert_int_equal(got.removed[0], 0);
	assert_string_equal(got.category[0], "phishing"); /* kept when later passes give none */

	memset(&got, 0, sizeof(got));
	OK(tip_store_sightings(st, TIP_IND_URL, "http://b.example.com/x", sighting_cb, &got, &err));
	assert_int_equal(got.n, 2); /* ordered by first_seen: feed:one (1000), feed:two (2500) */
	assert_string_equal(got.source[0], "feed:one");
	assert_int_equal(got.first[0], 1000);
	assert_int_equal(got.last[0], 3000);
	assert_int_equal(got.removed[0], 0);
	assert_string_equal(got.source[1], "feed:two");
	/* by host: the URL, not the domain itself */
	memset(&got, 0, sizeof(got));
	OK(tip_store_sightings_by_host(st, "b.example.com", sighting_cb, &got, &err));
	assert_int_equal(got.n, 2);
	assert_string_equal(got.value[0], "http://b.example.com/x");
	memset(&got, 0, sizeof(got));
	OK(tip_store_sightings_by_host(st, "a.example.com", sighting_cb, &got, &err));
	assert_int_equal(got.n, 0);

	/* the history, read underneath the API: b listed 1000, removed 2000, returned 3000 */
	{
		char q[300];
		snprintf(q, sizeof(q),
			 "SELECT group_concat(at || ':' || event, ',') FROM (SELECT * FROM sighting_history"
			 " WHERE source_id = %lld AND indicator_id = %lld ORDER BY at)",
			 (long long)feed, (long long)b);
		sqlite3 *db;
		sqlite3_stmt *qq;
		assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &qq, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(qq), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(qq, 0),
				    "1000:listed,2000:removed,3000:returned");
		sqlite3_finalize(qq);
		sqlite3_close(db);
		snprintf(q, sizeof(q), "SELECT count(*) FROM sighting_history WHERE indicator_id = %lld",
			 (long long)a);
		assert_int_equal(sql_int(path, q), 1); /* a: listed only */
	}
	tip_store_close(st);
}

static void test_containing(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	int64_t src;
	struct sightings got;
	struct tip_indicator ind;
	const char *nets[] = { "10.1.2.0/24", "10.1.0.0/16", "2001:db8::/32", "::1:0/112",
			       "10.1.2.3", NULL };
	(void)state;

	OK(tip_store_source_id(st, "feed:nets", "feed", &src, &err));
	for (int i = 0; nets[i]; i++) {
		int64_t id = put_ind(st, nets[i], 100);
		OK(tip_store_sighting_seen(st, src, id, 100, 1, NULL, NULL, &err));
	}
#define CONTAINING(text)                                                                       \
	do {                                                                                   \
		memset(&got, 0, sizeof(got));                                                  \
		assert_int_equal(tip_indicator_parse(text, strlen(text), TIP_IND_ANY, &ind, NULL), 0); \
		OK(tip_store_sightings_containing(st, ind.family, ind.addr, sighting_cb, &got, &err)); \
	} while (0)
	/* in both: most specific first (the probe goes from /32 down) */
	CONTAINING("10.1.2.3");
	assert_int_equal(got.n, 2);
	assert_string_equal(got.value[0], "10.1.2.0/24");
	assert_string_equal(got.value[1], "10.1.0.0/16");
	/* in the /16 only */
	CONTAINING("10.1.9.9");
	assert_int_equal(got.n, 1);
	assert_string_equal(got.value[0], "10.1.0.0/16");
	/* in neither (and the plain address 10.1.2.3 is not a network) */
	CONTAINING("10.2.0.1");
	assert_int_equal(got.n, 0);
	CONTAINING("192.0.2.1");
	assert_int_equal(got.n, 0);
	/* IPv6 */
	CONTAINING("2001:db8:ffff::1");
	assert_int_equal(got.n, 1);
	assert_string_equal(got.value[0], "2001:db8::/32");
	assert_int_equal(got.type[0], TIP_IND_CIDR);
	CONTAINING("2001:db9::1");
	assert_int_equal(got.n, 0);
	/* an IPv6 network in ::/96: stored and probed in the same spelling */
	CONTAINING("::1:2");
	assert_int_equal(got.n, 1);
	assert_string_equal(got.value[0], "::1:0/112");
	/* an IPv4 address never matches an IPv6 network of the same bits */
	tip_store_close(st);
}

struct res {
	int n;
	char domain[8][64], rrtype[8][8], value[8][64], as_name[8][32], cc[8][4];
	tip_time_t first[8], last[8];
	int64_t count[8], min_ttl[8], max_ttl[8], asn[8];
};
static int res_cb(void *arg, const struct tip_resolution *r)
{
	struct res *c = arg;
	int i = c->n++;
	assert_true(i < 8);
	snprintf(c->domain[i], 64, "%s", r->domain);
	snprintf(c->rrtype[i], 8, "%s", r->rrtype);
	snprintf(c->value[i], 64, "%s", r->value);
	snprintf(c->as_name[i], 32, "%s", r->as_name ? r->as_name : "(null)");
	snprintf(c->cc[i], 4, "%s", r->cc ? r->cc : "-");
	c->first[i] = r->first_seen;
	c->last[i] = r->last_seen;
	c->count[i] = r->count;
	c->min_ttl[i] = r->min_ttl;
	c->max_ttl[i] = r->max_ttl;
	c->asn[i] = r->asn;
	return 0;
}

struct ipinfo_got {
	int n;
	int64_t asn;
	char as_name[32], db_version[32];
	tip_time_t updated;
};
static int ipinfo_cb(void *arg, const struct tip_ipinfo *i)
{
	struct ipinfo_got *g = arg;
	g->n++;
	g->asn = i->asn;
	snprintf(g->as_name, sizeof(g->as_name), "%s", i->as_name ? i->as_name : "(null)");
	snprintf(g->db_version, sizeof(g->db_version), "%s", i->db_version ? i->db_version : "(null)");
	g->updated = i->updated;
	return 0;
}

static void test_pdns(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	struct res r;
	struct ipinfo_got g;
	(void)state;

	/* three sightings of one record, the last one recorded late (its time is the earliest):
	 * count 3, TTLs 60..600, first seen 50, last seen 200 */
	OK(tip_store_pdns_record(st, "flux.example", "A", "192.0.2.1", 300, 100, &err));
	OK(tip_store_pdns_record(st, "flux.example", "A", "192.0.2.1", 60, 200, &err));
	OK(tip_store_pdns_record(st, "flux.example", "A", "192.0.2.1", 600, 50, &err));
	OK(tip_store_pdns_record(st, "flux.example", "A", "198.51.100.7", 30, 150, &err));
	OK(tip_store_pdns_record(st, "flux.example", "NS", "ns1.example.net", 86400, 100, &err));
	OK(tip_store_pdns_record(st, "other.example", "A", "192.0.2.1", 300, 300, &err));
	{
		struct tip_ipinfo i = { .addr = "192.0.2.1", .asn = 64500, .as_name = "EXAMPLE-AS",
					.cc = "NL", .db = "libloc", .db_version = "v1", .updated = 10 };
		OK(tip_store_ipinfo_put(st, &i, &err));
		i.db_version = "v2"; /* an update replaces */
		i.updated = 20;
		OK(tip_store_ipinfo_put(st, &i, &err));
		/* an NS value that happens to equal an address row is never joined */
		struct tip_ipinfo j = { .addr = "ns1.example.net", .asn = 1, .db = "x", .updated = 1 };
		OK(tip_store_ipinfo_put(st, &j, &err));
	}
	memset(&g, 0, sizeof(g));
	OK(tip_store_ipinfo_get(st, "192.0.2.1", ipinfo_cb, &g, &err));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.asn, 64500);
	assert_string_equal(g.db_version, "v2");
	assert_int_equal(g.updated, 20);
	assert_int_equal(tip_store_ipinfo_get(st, "198.51.100.7", ipinfo_cb, &g, &err), TIP_ENOTFOUND);

	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(st, "flux.example", res_cb, &r, &err));
	assert_int_equal(r.n, 3); /* rrtype, then first_seen: A 192.0.2.1 (50), A 198.51… (150), NS */
	assert_string_equal(r.value[0], "192.0.2.1");
	assert_int_equal(r.count[0], 3);
	assert_int_equal(r.min_ttl[0], 60);
	assert_int_equal(r.max_ttl[0], 600);
	assert_int_equal(r.first[0], 50);
	assert_int_equal(r.last[0], 200);
	assert_int_equal(r.asn[0], 64500);
	assert_string_equal(r.as_name[0], "EXAMPLE-AS");
	assert_string_equal(r.cc[0], "NL");
	assert_string_equal(r.value[1], "198.51.100.7");
	assert_int_equal(r.count[1], 1);
	assert_int_equal(r.asn[1], 0); /* not enriched */
	assert_string_equal(r.as_name[1], "(null)");
	assert_string_equal(r.rrtype[2], "NS");
	assert_int_equal(r.asn[2], 0);

	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions_by_value(st, "192.0.2.1", res_cb, &r, &err));
	assert_int_equal(r.n, 2);
	assert_string_equal(r.domain[0], "flux.example");
	assert_string_equal(r.domain[1], "other.example");
	memset(&r, 0, sizeof(r));
	OK(tip_store_resolutions(st, "nothing.example", res_cb, &r, &err));
	assert_int_equal(r.n, 0);
	tip_store_close(st);
}

struct rounds {
	int n;
	tip_time_t at[8];
	char rrtype[8][8], outcome[8][16];
	int64_t n_records[8], min_ttl[8], set_hash[8];
};
static int round_cb(void *arg, const struct tip_round *r)
{
	struct rounds *c = arg;
	int i = c->n++;
	assert_true(i < 8);
	c->at[i] = r->at;
	snprintf(c->rrtype[i], 8, "%s", r->rrtype);
	snprintf(c->outcome[i], 16, "%s", r->outcome);
	c->n_records[i] = r->n_records;
	c->min_ttl[i] = r->min_ttl;
	c->set_hash[i] = r->set_hash;
	return 0;
}

static void test_rounds(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	struct rounds got;
	(void)state;
	struct tip_round rs[] = {
		{ "f.example", "A", 300, "ok", 5, 2, 60, 12345 },
		{ "f.example", "A", 100, "ok", 4, 4, 120, -7 },
		{ "f.example", "AAAA", 100, "nodata", 0, 0, -1, 0 },
		{ "f.example", "A", 200, "timeout", 0, 0, -1, 0 },
		{ "g.example", "A", 150, "nxdomain", 0, 0, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
		OK(tip_store_round_put(st, &rs[i], &err));
	memset(&got, 0, sizeof(got));
	OK(tip_store_rounds(st, "f.example", 0, round_cb, &got, &err));
	assert_int_equal(got.n, 4); /* by time, then rrtype */
	assert_int_equal(got.at[0], 100);
	assert_string_equal(got.rrtype[0], "A");
	assert_int_equal(got.min_ttl[0], 120);
	assert_int_equal(got.set_hash[0], -7);
	assert_string_equal(got.rrtype[1], "AAAA");
	assert_string_equal(got.outcome[1], "nodata");
	assert_int_equal(got.min_ttl[1], -1);
	assert_int_equal(got.set_hash[1], 0);
	assert_int_equal(got.at[2], 200);
	assert_int_equal(got.at[3], 300);
	assert_int_equal(got.n_records[3], 5);
	memset(&got, 0, sizeof(got));
	OK(tip_store_rounds(st, "f.example", 200, round_cb, &got, &err));
	assert_int_equal(got.n, 2); /* at or after 200 */
	assert_int_equal(got.at[0], 200);
	tip_store_close(st);
}

struct vgot {
	int n;
	char verdict[16], why[64], family[16];
	tip_time_t at;
	double score, fluxiness;
	int64_t n_a, n_asn, n_ns, n_cc, min_ttl, rounds;
	bool double_flux;
};
static int verdict_cb(void *arg, const struct tip_verdict *v)
{
	struct vgot *g = arg;
	g->n++;
	snprintf(g->verdict, sizeof(g->verdict), "%s", v->verdict);
	snprintf(g->why, sizeof(g->why), "%s", v->why ? v->why : "(null)");
	snprintf(g->family, sizeof(g->family), "%s", v->family ? v->family : "(null)");
	g->at = v->at;
	g->score = v->score;
	g->fluxiness = v->fluxiness;
	g->n_a = v->n_a;
	g->n_asn = v->n_asn;
	g->n_ns = v->n_ns;
	g->n_cc = v->n_cc;
	g->min_ttl = v->min_ttl;
	g->rounds = v->rounds;
	g->double_flux = v->double_flux;
	return 0;
}

static void test_verdicts(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	struct vgot g;
	(void)state;
	struct tip_verdict v = { .domain = "f.example", .at = 1000, .verdict = "unknown",
				 .score = 0.1, .n_a = 1, .n_asn = 1, .n_ns = 2, .n_cc = 1,
				 .fluxiness = 1.0, .min_ttl = -1, .rounds = 1, .why = "one round" };

	assert_int_equal(tip_store_verdict_get(st, "f.example", verdict_cb, &g, &err), TIP_ENOTFOUND);
	OK(tip_store_verdict_put(st, &v, &err));
	v.at = 2000;
	v.rounds = 2;
	OK(tip_store_verdict_put(st, &v, &err)); /* same verdict: 'since' stays at 1000 */
	assert_int_equal(sql_int(path, "SELECT since FROM flux_current WHERE domain = 'f.example'"),
			 1000);
	assert_int_equal(sql_int(path, "SELECT at FROM flux_current WHERE domain = 'f.example'"),
			 2000);
	v = (struct tip_verdict){ .domain = "f.example", .at = 3000, .verdict = "fastflux",
				  .score = 0.93, .n_a = 40, .n_asn = 12, .n_ns = 5, .n_cc = 9,
				  .fluxiness = 0.75, .min_ttl = 30, .rounds = 6,
				  .double_flux = true, .why = "40 A in 12 ASNs",
				  .family = "Avalanche" };
	OK(tip_store_verdict_put(st, &v, &err)); /* changed: since moves to 3000 */
	assert_int_equal(sql_int(path, "SELECT since FROM flux_current WHERE domain = 'f.example'"),
			 3000);
	v.at = 4000;
	OK(tip_store_verdict_put(st, &v, &err));
	assert_int_equal(sql_int(path, "SELECT since FROM flux_current WHERE domain = 'f.example'"),
			 3000);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM verdict WHERE domain = 'f.example'"), 4);
	/* a verdict that arrives late (older than the current one) joins the history but does not
	 * become current */
	v.at = 3500;
	v.verdict = "benign";
	OK(tip_store_verdict_put(st, &v, &err));
	assert_int_equal(sql_int(path, "SELECT at FROM flux_current WHERE domain = 'f.example'"), 4000);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM verdict WHERE domain = 'f.example'"), 5);
	v.verdict = "fastflux";

	memset(&g, 0, sizeof(g));
	OK(tip_store_verdict_get(st, "f.example", verdict_cb, &g, &err));
	assert_int_equal(g.n, 1);
	assert_string_equal(g.verdict, "fastflux");
	assert_int_equal(g.at, 4000);
	assert_true(g.score > 0.929 && g.score < 0.931);
	assert_true(g.fluxiness > 0.749 && g.fluxiness < 0.751);
	assert_int_equal(g.n_a, 40);
	assert_int_equal(g.n_asn, 12);
	assert_int_equal(g.n_ns, 5);
	assert_int_equal(g.n_cc, 9);
	assert_int_equal(g.min_ttl, 30);
	assert_int_equal(g.rounds, 6);
	assert_true(g.double_flux);
	assert_string_equal(g.why, "40 A in 12 ASNs");
	assert_string_equal(g.family, "Avalanche");
	tip_store_close(st);
}

struct runs {
	int n;
	int64_t id[8], exit_code[8], signal[8], items[8];
	char module[8][16], status[8][16], error[8][32];
	tip_time_t ended[8];
};
static int run_cb(void *arg, const struct tip_run *r)
{
	struct runs *c = arg;
	int i = c->n++;
	assert_true(i < 8);
	c->id[i] = r->id;
	snprintf(c->module[i], 16, "%s", r->module);
	snprintf(c->status[i], 16, "%s", r->status);
	snprintf(c->error[i], 32, "%s", r->error ? r->error : "(null)");
	c->exit_code[i] = r->exit_code;
	c->signal[i] = r->signal;
	c->items[i] = r->items;
	c->ended[i] = r->ended;
	return 0;
}

static void test_runs(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	int64_t r1, r2, r3;
	struct runs got;
	(void)state;
	OK(tip_store_run_start(st, "feeds", 100, 1000, &r1, &err));
	OK(tip_store_run_start(st, "flux-resolve", 101, 2000, &r2, &err));
	OK(tip_store_run_start(st, "feeds", 102, 3000, &r3, &err));
	OK(tip_store_run_end(st, r1, 1500, "ok", 0, 0, 1234, NULL, &err));
	OK(tip_store_run_end(st, r2, 2500, "killed", -1, 9, 0, "timeout after 60 s", &err));

	memset(&got, 0, sizeof(got));
	OK(tip_store_runs(st, NULL, 0, run_cb, &got, &err));
	assert_int_equal(got.n, 3); /* newest first */
	assert_int_equal(got.id[0], r3);
	assert_string_equal(got.status[0], "running");
	assert_int_equal(got.ended[0], 0);
	assert_int_equal(got.exit_code[0], -1);
	assert_int_equal(got.id[1], r2);
	assert_string_equal(got.status[1], "killed");
	assert_int_equal(got.exit_code[1], -1);
	assert_int_equal(got.signal[1], 9);
	assert_string_equal(got.error[1], "timeout after 60 s");
	assert_int_equal(got.id[2], r1);
	assert_int_equal(got.ended[2], 1500);
	assert_int_equal(got.exit_code[2], 0);
	assert_int_equal(got.signal[2], 0);
	assert_int_equal(got.items[2], 1234);
	assert_string_equal(got.error[2], "(null)");

	memset(&got, 0, sizeof(got));
	OK(tip_store_runs(st, "feeds", 1, run_cb, &got, &err));
	assert_int_equal(got.n, 1);
	assert_int_equal(got.id[0], r3);
	memset(&got, 0, sizeof(got));
	OK(tip_store_runs(st, "feeds", 0, run_cb, &got, &err));
	assert_int_equal(got.n, 2);
	memset(&got, 0, sizeof(got));
	OK(tip_store_runs(st, "nothing", 0, run_cb, &got, &err));
	assert_int_equal(got.n, 0);
	tip_store_close(st);
}

static void test_transactions(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	int64_t n, src;
	struct watches w;
	(void)state;

	/* a rolled-back batch leaves nothing */
	OK(tip_store_begin(st, &err));
	OK(tip_store_watch_add(st, "gone.example", "cli", 1, NULL, &err));
	OK(tip_store_source_id(st, "feed:gone", "feed", &src, &err));
	put_ind(st, "gone.example", 1);
	OK(tip_store_pdns_record(st, "gone.example", "A", "192.0.2.9", 60, 1, &err));
	tip_store_rollback(st);
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 0);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_list(st, true, watch_cb, &w, &err));
	assert_int_equal(w.n, 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM source"), 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM indicator"), 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM pdns"), 0);

	/* nested begin/commit: only the outermost commits */
	OK(tip_store_begin(st, &err));
	OK(tip_store_begin(st, &err));
	OK(tip_store_watch_add(st, "kept.example", "cli", 1, NULL, &err));
	OK(tip_store_commit(st, &err));
	assert_int_equal(sql_int(path, "SELECT count(*) FROM watch"), 0); /* not yet visible */
	OK(tip_store_commit(st, &err));
	assert_int_equal(sql_int(path, "SELECT count(*) FROM watch"), 1);
	assert_int_equal(tip_store_commit(st, &err), TIP_ESTORE); /* without begin */
	/* outside a transaction each write is its own */
	OK(tip_store_watch_add(st, "auto.example", "cli", 1, NULL, &err));
	assert_int_equal(sql_int(path, "SELECT count(*) FROM watch"), 2);
	tip_store_close(st);

	/* reopened: the committed data is there */
	st = reopen(path, 0);
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 2);
	tip_store_close(st);
}

static void test_readonly(void **state)
{
	char path[300];
	struct tip_store *st = open_new(path, sizeof(path));
	struct tip_error err = { 0 };
	int64_t n;
	struct watches w;
	(void)state;
	OK(tip_store_watch_add(st, "ro.example", "cli", 1, NULL, &err));
	tip_store_close(st);

	st = reopen(path, TIP_STORE_READONLY);
	OK(tip_store_watch_count(st, &n, &err));
	assert_int_equal(n, 1);
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_get(st, "ro.example", watch_cb, &w, &err));
	assert_int_equal(w.n, 1);
	err.msg[0] = '\0';
	assert_int_equal(tip_store_watch_add(st, "no.example", "cli", 1, NULL, &err), TIP_ESTORE);
	assert_true(err.msg[0] != '\0');
	OK(tip_store_begin(st, &err)); /* a read transaction */
	OK(tip_store_watch_count(st, &n, &err));
	OK(tip_store_commit(st, &err));
	tip_store_close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM watch"), 1);
}

/* A store built at schema 1, filled the way a version-1 tip would (SQL: the v1 API wrote
 * sighting rows but no events), then migrated: the data survives and migration 2 backfills
 * sighting_event with 'listed' at each first_seen and 'removed' where removed (the 'listed' ones
 * then move to the view sighting_history, migration 7). */
static void test_migration(void **state)
{
	char url[400], path[300];
	struct tip_store *st;
	struct tip_error err = { 0 };
	int from, to, v;
	struct sightings got;
	struct watches w;
	(void)state;

	fresh(url, sizeof(url), path, sizeof(path));
	OK(tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err));
	OK(tip_store_migrate(st, 1, &from, &to, &err));
	assert_int_equal(from, 0);
	assert_int_equal(to, 1);
	/* v1 API calls that do not touch later tables */
	OK(tip_store_watch_add(st, "old.example", "cli", 111, NULL, &err));
	OK(tip_store_pdns_record(st, "old.example", "A", "192.0.2.5", 60, 222, &err));
	tip_store_close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'sighting_event'"),
			 0);
	sql_exec(path,
		 "INSERT INTO source (id, name, kind, created) VALUES (1, 'feed:a', 'feed', 5),"
		 " (2, 'feed:b', 'feed', 5);"
		 "INSERT INTO indicator (id, type, value, host, first_seen) VALUES"
		 " (10, 1, 'one.example', 'one.example', 100), (11, 1, 'two.example', 'two.example', 200);"
		 "INSERT INTO indicator (id, type, value, host, registrable, first_seen) VALUES"
		 " (12, 5, 'http://www.x.example/p', 'www.x.example', 'x.example', 300),"
		 " (13, 1, 'sub.x.example', 'sub.x.example', 'x.example', 300),"
		 " (14, 1, 'x.example', 'x.example', 'x.example', 300);"
		 "INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen, removed, last_mark)"
		 " VALUES (1, 10, 100, 400, NULL, 4), (1, 11, 200, 300, 350, 3),"
		 " (2, 10, 150, 150, 160, 1);");

	/* the current tip refuses it until migrated */
	assert_true(tip_store_open(url, 0, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "tip init"));
	OK(tip_store_open(url, TIP_STORE_NOMIGRATE, &st, &err));
	OK(tip_store_migrate(st, 0, &from, &to, &err));
	assert_int_equal(from, 1);
	assert_int_equal(to, tip_store_schema_latest());
	assert_true(to >= 2);
	OK(tip_store_schema_version(st, &v, &err));
	assert_int_equal(v, to);

	/* backfill (migration 2): 3 'listed' (one per sighting, at first_seen) and 2 'removed';
	 * since migration 7 both are read from the sightings (first_seen, removed: the view
	 * sighting_history) and none stays stored */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_history"), 5);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event"), 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_history e JOIN sighting s USING"
				       " (source_id, indicator_id) WHERE e.event = 'listed'"
				       " AND e.at = s.first_seen"),
			 3);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_history e JOIN sighting s USING"
				       " (source_id, indicator_id) WHERE e.event = 'removed'"
				       " AND e.at = s.removed"),
			 2);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event WHERE source_id = 1"
				       " AND indicator_id = 10 AND event = 'removed'"),
			 0);

	/* migration 9, by hand: host and registrable NULL where they equal the value, kept where
	 * not (the URL's host and registrable domain, the subdomain's registrable domain) */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM indicator WHERE id IN (10, 11, 14)"
				       " AND host IS NULL AND registrable IS NULL"),
			 3);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM indicator WHERE id = 12"
				       " AND host = 'www.x.example' AND registrable = 'x.example'"),
			 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM indicator WHERE id = 13"
				       " AND host IS NULL AND registrable = 'x.example'"),
			 1);

	/* the data survived, through the API */
	memset(&w, 0, sizeof(w));
	OK(tip_store_watch_get(st, "old.example", watch_cb, &w, &err));
	assert_int_equal(w.n, 1);
	assert_int_equal(w.added[0], 111);
	memset(&got, 0, sizeof(got));
	OK(tip_store_sightings(st, TIP_IND_DOMAIN, "one.example", sighting_cb, &got, &err));
	assert_int_equal(got.n, 2);
	assert_string_equal(got.source[0], "feed:a");
	assert_int_equal(got.last[0], 400);
	assert_string_equal(got.source[1], "feed:b");
	assert_int_equal(got.removed[1], 160);
	{
		struct res r;
		memset(&r, 0, sizeof(r));
		OK(tip_store_resolutions(st, "old.example", res_cb, &r, &err));
		assert_int_equal(r.n, 1);
		assert_int_equal(r.first[0], 222);
	}
	/* and the new history works on the old rows: two.example returns */
	{
		enum tip_sighting_state s;
		OK(tip_store_sighting_seen(st, 1, 11, 500, 5, NULL, &s, &err));
		assert_int_equal(s, TIP_SIGHTING_RETURNED);
		assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event WHERE"
					       " indicator_id = 11 AND event = 'returned' AND at = 500"),
				 1);
		/* the removal it ended (350, written by the v1 rows) became an event */
		assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event WHERE"
					       " indicator_id = 11 AND event = 'removed' AND at = 350"),
				 1);
	}

	/* migrating again is a no-op */
	OK(tip_store_migrate(st, 0, &from, &to, &err));
	assert_int_equal(from, tip_store_schema_latest());
	assert_int_equal(to, tip_store_schema_latest());
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_history"), 6);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event"), 2);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM schema_version"),
			 tip_store_schema_latest());
	tip_store_close(st);
	/* and now it opens normally */
	st = reopen(path, 0);
	tip_store_close(st);
}

/* A migration that fails is rolled back whole: the version stays, nothing half-done remains.
 * Made to fail by a table already holding the name migration 2 creates. And a file that is
 * not SQLite is refused with a message, not a crash. */
static void test_migration_failure(void **state)
{
	char url[400], path[300];
	struct tip_store *st;
	struct tip_error err = { 0 };
	int from, to, v;
	(void)state;

	fresh(url, sizeof(url), path, sizeof(path));
	OK(tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err));
	OK(tip_store_migrate(st, 1, &from, &to, &err));
	tip_store_close(st);
	sql_exec(path, "INSERT INTO source (id, name, kind, created) VALUES (1, 's', 'feed', 1);"
		       "INSERT INTO indicator (id, type, value, first_seen) VALUES (1, 1, 'x.example', 1);"
		       "INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen)"
		       " VALUES (1, 1, 5, 5);"
		       "CREATE TABLE sighting_event (junk TEXT);");
	OK(tip_store_open(url, TIP_STORE_NOMIGRATE, &st, &err));
	assert_int_equal(tip_store_migrate(st, 0, &from, &to, &err), TIP_ESTORE);
	assert_non_null(strstr(err.msg, "schema version 2"));
	OK(tip_store_schema_version(st, &v, &err));
	assert_int_equal(v, 1);
	tip_store_close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sighting_event"), 0);
	assert_int_equal(sql_int(path, "SELECT max(version) FROM schema_version"), 1);

	/* not a database */
	fresh(url, sizeof(url), path, sizeof(path));
	{
		char sub[300];
		snprintf(sub, sizeof(sub), "%s/sub", dir);
		mkdir(sub, 0700); /* may exist already */
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs("this is not an SQLite file, just text long enough to have a header\n", f);
		fclose(f);
	}
	err.msg[0] = '\0';
	assert_true(tip_store_open(url, 0, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "not a database"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors), cmocka_unit_test(test_schema_versions),
		cmocka_unit_test(test_watch),       cmocka_unit_test(test_watch_add_many),
		cmocka_unit_test(test_sightings),
		cmocka_unit_test(test_containing),  cmocka_unit_test(test_pdns),
		cmocka_unit_test(test_rounds),      cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_runs),        cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_readonly),    cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_failure),
	};
	tip_log_init("test", false, TIP_LOG_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
