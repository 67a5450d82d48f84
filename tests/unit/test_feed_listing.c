/*
 * test_feed_listing.c — the feed listing pass (tip_store_listing_*: the C diff against the
 * previous snapshot, set-based writes) against the per-row sighting API (indicator_put,
 * sighting_seen, sighting_sweep) on the same three snapshots: both stores must end with the
 * same sightings (first_seen, removed, category) and the same history (view sighting_history).
 *
 * The per-row API is the independent reference: it writes each entry by itself, with no
 * snapshot, no sorter and no hashing. Every pass writes what it must through the sorter
 * (store_sqlite_sort.c). Pass 1, a first load, writes snapshot 1's 160,000 entries with their
 * categories: more than one 8 MiB chunk, so one sorted run is merged from its temporary file
 * with the last chunk, d7's two listings in different runs; every indicator is new. Pass 6
 * lists snapshot 1 again with every category changed: 160,000 entries written again, every
 * indicator known (their ids come back through the upsert), d7 listed twice. The counts
 * asserted come from how the snapshots are built (below), not from either store.
 *
 * Passes 4 and 5 list snapshot 3 again (nothing changes: the stored snapshot is kept as it is)
 * and then snapshot 2 again (diffed against that kept snapshot). The listing store is given
 * look-up hints (tip_store_listing_hint) for most entries just before them, and now and then
 * one for an entry that never comes: hints change nothing.
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
#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"

#define N 160000      /* snapshot 1: d0 .. d159999 */
#define GONE_EVERY 10 /* snapshot 2: without every 10th, plus N/10 new ones */

static char dir[] = "/tmp/tip-test-listing-XXXXXX";

#define OK(call)                                                                                \
	do {                                                                                    \
		if ((call) < 0)                                                                 \
			fail_msg("%s: %s", #call, err.msg);                                     \
	} while (0)

static struct tip_store *open_new(const char *name, char *path, size_t plen)
{
	char url[400];
	struct tip_store *st;
	struct tip_error err = { 0 };
	snprintf(path, plen, "%s/%s.db", dir, name);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, NULL, NULL, &err) < 0)
		fail_msg("open: %s", err.msg);
	return st;
}

struct entry {
	struct tip_indicator ind;
	const char *category;
};

/* Entry i: a domain; category by i, NULL for every 7th (a NULL never erases a category). */
static void entry(int64_t i, struct entry *e)
{
	static const char *const cats[] = { "malware", "phishing", "botnet" };
	struct tip_error err = { 0 };
	char text[64];
	snprintf(text, sizeof(text), "d%lld.example", (long long)i);
	if (tip_indicator_parse(text, strlen(text), TIP_IND_DOMAIN, &e->ind, &err) < 0)
		fail_msg("%s: %s", text, err.msg);
	e->category = i % 7 == 0 ? NULL : cats[i % 3];
}

/* Snapshot s as the list of (entry number, category override or NULL) it holds. */
typedef void (*emit_fn)(void *arg, int64_t i, const char *category_override);

static void snapshot(int s, emit_fn emit, void *arg)
{
	switch (s) {
	case 1:
		for (int64_t i = 0; i < N; i++)
			emit(arg, i, NULL);
		break;
	case 2:
		for (int64_t i = 0; i < N + N / GONE_EVERY; i++)
			if (i >= N || i % GONE_EVERY)
				emit(arg, i, NULL);
		break;
	case 3: /* snapshot 1 again: the gone ones return, the new ones of snapshot 2 go */
		for (int64_t i = 0; i < N; i++)
			emit(arg, i, NULL);
		break;
	case 4: /* snapshot 1 with every category changed */
		for (int64_t i = 0; i < N; i++)
			emit(arg, i, "renamed");
		break;
	}
	/* d7 listed twice in every snapshot, the second time (in snapshots 1 and 4 in the
	 * sorter's last chunk, the first in a run written before) with another category: the
	 * later wins. In snapshot 4 the first
	 * listing ("renamed") differs from what is stored and the second ("late") equals it: the
	 * second must still win over the first, written just before it. */
	emit(arg, 7, "late");
}

struct pass {
	struct tip_store *st;
	int64_t source, mark;
	tip_time_t now;
	bool per_row;
	struct entry e;
};

static void emit(void *arg, int64_t i, const char *override)
{
	struct pass *p = arg;
	struct tip_error err = { 0 };
	struct tip_sighting_attrs attrs = { 0 };
	entry(i, &p->e);
	attrs.category = override ? override : p->e.category;
	if (p->per_row) {
		int64_t id;
		OK(tip_store_indicator_put(p->st, &p->e.ind, p->now, &id, &err));
		OK(tip_store_sighting_seen(p->st, p->source, id, p->now, p->mark, &attrs, NULL, &err));
	} else {
		if (i % 997 == 0)
			tip_store_listing_hint(p->st, TIP_IND_DOMAIN, "never.listed.example");
		if (i % 5)
			tip_store_listing_hint(p->st, p->e.ind.type, p->e.ind.value);
		OK(tip_store_listing_seen(p->st, p->source, &p->e.ind, p->now, p->mark, &attrs, &err));
	}
}

static void run_pass(struct pass *p, int s, struct tip_listing_counts *c)
{
	struct tip_error err = { 0 };
	bool same_tag;
	int64_t removed = 0;
	OK(p->per_row ? tip_store_begin(p->st, &err) : tip_store_begin_bulk(p->st, &err));
	if (!p->per_row)
		OK(tip_store_listing_begin(p->st, p->source, 1, &same_tag, &err));
	snapshot(s, emit, p);
	if (p->per_row)
		OK(tip_store_sighting_sweep(p->st, p->source, p->mark, p->now, &removed, &err));
	else
		OK(tip_store_listing_settle(p->st, p->source, p->mark, p->now, c, &err));
	OK(tip_store_commit(p->st, &err));
}

/* Steps both queries side by side; every row must be equal. Returns the row count. */
static int64_t same_rows(const char *a, const char *b, const char *sql)
{
	sqlite3 *da, *db;
	sqlite3_stmt *qa, *qb;
	int64_t n = 0;
	int ra, rb;
	assert_int_equal(sqlite3_open_v2(a, &da, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(da, sql, -1, &qa, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &qb, NULL), SQLITE_OK);
	for (;;) {
		ra = sqlite3_step(qa);
		rb = sqlite3_step(qb);
		assert_int_equal(ra, rb);
		if (ra != SQLITE_ROW)
			break;
		for (int c = 0; c < sqlite3_column_count(qa); c++) {
			const char *va = (const char *)sqlite3_column_text(qa, c);
			const char *vb = (const char *)sqlite3_column_text(qb, c);
			if (strcmp(va ? va : "(null)", vb ? vb : "(null)"))
				fail_msg("row %lld column %d: listing '%s', per-row '%s' (%s)",
					 (long long)n, c, va ? va : "(null)", vb ? vb : "(null)", sql);
		}
		n++;
	}
	assert_int_equal(ra, SQLITE_DONE);
	sqlite3_finalize(qa);
	sqlite3_finalize(qb);
	sqlite3_close(da);
	sqlite3_close(db);
	return n;
}

/* The rows of a store whose references do not hold, by SQLite's own check
 * (PRAGMA foreign_key_check): the listing passes run in bulk transactions, where the store's
 * own accounting stands in for the row-by-row checks (tip_store_begin_bulk). */
static int64_t fk_violations(const char *path)
{
	sqlite3 *d;
	sqlite3_stmt *q;
	int64_t n = 0;
	assert_int_equal(sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(d, "PRAGMA foreign_key_check", -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n < 5)
			print_message("foreign key violated: table %s rowid %lld parent %s\n",
				      (const char *)sqlite3_column_text(q, 0),
				      (long long)sqlite3_column_int64(q, 1),
				      (const char *)sqlite3_column_text(q, 2));
		n++;
	}
	sqlite3_finalize(q);
	sqlite3_close(d);
	return n;
}

static void test_listing_equals_per_row(void **state)
{
	char pa[300], pb[300];
	struct tip_error err = { 0 };
	struct pass a = { .per_row = false }, b = { .per_row = true };
	struct tip_listing_counts c[7];
	/* the snapshot each pass lists */
	static const int pass_snapshot[7] = { 0, 1, 2, 3, 3, 2, 4 };
	const int64_t gone = N / GONE_EVERY, fresh = N / GONE_EVERY;
	(void)state;

	a.st = open_new("listing", pa, sizeof(pa));
	b.st = open_new("per-row", pb, sizeof(pb));
	OK(tip_store_source_id(a.st, "feed:x", "feed", &a.source, &err));
	OK(tip_store_source_id(b.st, "feed:x", "feed", &b.source, &err));
	for (int s = 1; s <= 6; s++) {
		a.now = b.now = (tip_time_t)s * 1000;
		a.mark = b.mark = s;
		run_pass(&a, pass_snapshot[s], &c[s]);
		run_pass(&b, pass_snapshot[s], NULL);
	}
	tip_store_close(a.st);
	tip_store_close(b.st);
	assert_int_equal(fk_violations(pa), 0);

	/* the counts, from how the snapshots are built */
	assert_int_equal(c[1].total, N);
	assert_int_equal(c[1].added, N);
	assert_int_equal(c[1].returned, 0);
	assert_int_equal(c[1].removed, 0);
	assert_int_equal(c[2].total, N - gone + fresh);
	assert_int_equal(c[2].added, fresh);
	assert_int_equal(c[2].removed, gone);
	assert_int_equal(c[3].total, N);
	assert_int_equal(c[3].added, 0);
	assert_int_equal(c[3].returned, gone);
	assert_int_equal(c[3].removed, fresh);
	assert_int_equal(c[4].total, N);
	assert_int_equal(c[4].added, 0);
	assert_int_equal(c[4].returned, 0);
	assert_int_equal(c[4].removed, 0);
	assert_int_equal(c[5].total, N - gone + fresh);
	assert_int_equal(c[5].added, 0);
	assert_int_equal(c[5].returned, fresh);
	assert_int_equal(c[5].removed, gone);
	assert_int_equal(c[6].total, N);
	assert_int_equal(c[6].added, 0);
	assert_int_equal(c[6].returned, gone);
	assert_int_equal(c[6].removed, fresh);

	/* the same sightings and the same history in both stores */
	assert_int_equal(same_rows(pa, pb,
				   "SELECT i.value, s.first_seen, coalesce(s.removed, 0),"
				   " coalesce(s.category, '-') FROM sighting s JOIN indicator i"
				   " ON i.id = s.indicator_id ORDER BY i.value"),
			 N + fresh);
	assert_int_equal(same_rows(pa, pb,
				   "SELECT i.value, h.at, h.event FROM sighting_history h JOIN indicator i"
				   " ON i.id = h.indicator_id ORDER BY 1, 2, 3"),
			 /* 'listed' once per sighting; the gone ones 'removed' at 2000,
			  * 'returned' at 3000, 'removed' at 5000 and 'returned' at 6000; the fresh
			  * ones 'removed' at 3000, 'returned' at 5000 and 'removed' at 6000 */
			 (N + fresh) + 4 * gone + 3 * fresh);
	/* the entry listed twice: its later category */
	{
		sqlite3 *d;
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_open_v2(pa, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(d,
						    "SELECT s.category FROM sighting s JOIN indicator i"
						    " ON i.id = s.indicator_id WHERE i.value = 'd7.example'",
						    -1, &q, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "late");
		sqlite3_finalize(q);
		sqlite3_close(d);
	}
}

/* Plain lists (no attributes at all: category, threat, tags and listed_since NULL): a first
 * load's sightings then take the ids the indicators' insert gave, without a second merge
 * (store_sqlite_feeds.c, settle_written). The listing store gets its entries parsed with
 * TIP_IND_LATER_REGISTRABLE, as a feed run does: the sorter's thread finds their registrable
 * domains (store_sqlite_sort.c), which must equal those the per-row store's parse found (a
 * subdomain's, a URL host's, none for a domain that is its own). Two sources in one store,
 * against the per-row API again:
 *   1. source x lists P entries, all new (the store is empty); one entry listed twice;
 *   2. source y lists P entries, the first half of them already x's: known indicators;
 *   3. source x lists nothing: all of x's sightings removed;
 *   4. source x lists its P entries again: a first load again (its snapshot is empty), every
 *      indicator known and every sighting removed before: all return.
 * Entries alternate between domains, IPv4 addresses and URLs (three types in one sort). */
#define P 3000

static void plain_entry(int64_t i, unsigned flags, struct tip_indicator *ind)
{
	struct tip_error err = { 0 };
	char text[96];
	switch (i % 3) {
	case 0: /* every other one its own registrable domain */
		snprintf(text, sizeof(text), i % 2 ? "p%lld.example.org" : "p%lld.org", (long long)i);
		break;
	case 1:
		snprintf(text, sizeof(text), "10.%d.%d.%d", (int)(i >> 16) & 255, (int)(i >> 8) & 255,
			 (int)i & 255);
		break;
	default:
		snprintf(text, sizeof(text), "http://u%lld.example.net/x?%lld", (long long)i,
			 (long long)i);
	}
	if (tip_indicator_parse_flags(text, strlen(text), TIP_IND_ANY, flags, ind, &err) < 0)
		fail_msg("%s: %s", text, err.msg);
}

static void plain_pass(struct pass *p, int64_t from, int64_t to, int64_t twice,
		       struct tip_listing_counts *c)
{
	struct tip_error err = { 0 };
	struct tip_sighting_attrs attrs = { 0 };
	int64_t removed = 0;
	bool same_tag;
	OK(p->per_row ? tip_store_begin(p->st, &err) : tip_store_begin_bulk(p->st, &err));
	if (!p->per_row)
		OK(tip_store_listing_begin(p->st, p->source, 1, &same_tag, &err));
	for (int64_t n = from; n <= to; n++) {
		int64_t i = n < to ? n : twice; /* the last entry: one listed before */
		if (n == to && twice < 0)
			break;
		/* the listing store is given the registrable domains to find (as the feed run does) */
		plain_entry(i, p->per_row ? 0 : TIP_IND_LATER_REGISTRABLE, &p->e.ind);
		if (p->per_row) {
			int64_t id;
			OK(tip_store_indicator_put(p->st, &p->e.ind, p->now, &id, &err));
			OK(tip_store_sighting_seen(p->st, p->source, id, p->now, p->mark, &attrs, NULL,
						   &err));
		} else {
			OK(tip_store_listing_seen(p->st, p->source, &p->e.ind, p->now, p->mark, &attrs,
						  &err));
		}
	}
	if (p->per_row)
		OK(tip_store_sighting_sweep(p->st, p->source, p->mark, p->now, &removed, &err));
	else
		OK(tip_store_listing_settle(p->st, p->source, p->mark, p->now, c, &err));
	OK(tip_store_commit(p->st, &err));
}

static void test_plain_first_loads(void **state)
{
	char pa[300], pb[300];
	struct tip_error err = { 0 };
	struct pass ax = { .per_row = false }, ay = { .per_row = false };
	struct pass bx = { .per_row = true }, by = { .per_row = true };
	struct tip_listing_counts c[5];
	(void)state;

	ax.st = ay.st = open_new("plain", pa, sizeof(pa));
	bx.st = by.st = open_new("plain-per-row", pb, sizeof(pb));
	OK(tip_store_source_id(ax.st, "feed:x", "feed", &ax.source, &err));
	OK(tip_store_source_id(ax.st, "feed:y", "feed", &ay.source, &err));
	OK(tip_store_source_id(bx.st, "feed:x", "feed", &bx.source, &err));
	OK(tip_store_source_id(bx.st, "feed:y", "feed", &by.source, &err));
	for (int s = 1; s <= 4; s++) {
		struct pass *a = s == 2 ? &ay : &ax, *b = s == 2 ? &by : &bx;
		a->now = b->now = (tip_time_t)s * 1000;
		a->mark = b->mark = s;
		switch (s) {
		case 1: /* 0 .. P-1, and 5 again */
		case 4:
			plain_pass(a, 0, P, 5, &c[s]);
			plain_pass(b, 0, P, 5, NULL);
			break;
		case 2: /* P/2 .. P/2+P-1: the first half known (x's) */
			plain_pass(a, P / 2, P / 2 + P, -1, &c[s]);
			plain_pass(b, P / 2, P / 2 + P, -1, NULL);
			break;
		case 3: /* nothing */
			plain_pass(a, 0, 0, -1, &c[s]);
			plain_pass(b, 0, 0, -1, NULL);
			break;
		}
	}
	tip_store_close(ax.st);
	tip_store_close(bx.st);
	assert_int_equal(fk_violations(pa), 0);

	/* the counts, from the passes above */
	assert_int_equal(c[1].total, P);
	assert_int_equal(c[1].added, P);
	assert_int_equal(c[2].total, P);
	assert_int_equal(c[2].added, P); /* new to y, though half of them x's */
	assert_int_equal(c[3].total, 0);
	assert_int_equal(c[3].removed, P);
	assert_int_equal(c[4].total, P);
	assert_int_equal(c[4].added, 0);
	assert_int_equal(c[4].returned, P);
	/* the same indicators (ids included: the per-row store gave them in the order listed, the
	 * listing store in key order, so compared by value), sightings and history */
	assert_int_equal(same_rows(pa, pb,
				   "SELECT type, value, coalesce(host, '-'), coalesce(registrable, '-'),"
				   " coalesce(family, 0), coalesce(hex(addr), '-'), coalesce(prefix, -1),"
				   " first_seen FROM indicator ORDER BY type, value"),
			 P + P / 2);
	assert_int_equal(same_rows(pa, pb,
				   "SELECT s.source_id, i.value, s.first_seen, s.last_seen,"
				   " coalesce(s.removed, 0), s.last_mark, coalesce(s.category, '-'),"
				   " coalesce(s.threat, '-'), coalesce(s.tags, '-'),"
				   " coalesce(s.listed_since, 0) FROM sighting s JOIN indicator i"
				   " ON i.id = s.indicator_id ORDER BY 1, 2"),
			 2 * P);
	assert_int_equal(same_rows(pa, pb,
				   "SELECT h.source_id, i.value, h.at, h.event FROM sighting_history h"
				   " JOIN indicator i ON i.id = h.indicator_id ORDER BY 1, 2, 3, 4"),
			 /* y: 'listed'; x: 'listed', 'removed' at 3000, 'returned' at 4000 */
			 P + 3 * P);
}

/* What listing_seen tells the caller (1: written, 0: listed before as it is) and the tag kept
 * with the snapshot (listing_begin's same_tag), over six passes of one source; the expected
 * values follow from the passes as written here. */
static int seen_one(struct tip_store *st, int64_t src, int i, const char *category, int64_t mark)
{
	struct tip_error err = { 0 };
	struct tip_indicator ind;
	struct tip_sighting_attrs attrs = { .category = category };
	char text[32];
	int rc;
	snprintf(text, sizeof(text), "t%d.example", i);
	OK(tip_indicator_parse(text, strlen(text), TIP_IND_DOMAIN, &ind, &err));
	rc = tip_store_listing_seen(st, src, &ind, mark * 1000, mark, &attrs, &err);
	if (rc < 0)
		fail_msg("listing_seen: %s", err.msg);
	return rc;
}

static void test_written_and_tag(void **state)
{
	/* per pass: its tag, the entries (number, category) and what listing_seen must return,
	 * and whether the snapshot before it has the same tag */
	static const struct {
		uint64_t tag;
		bool same;
		int n;
		struct { int i; const char *cat; int written; } e[3];
	} pass[] = {
		{ 5, false, 2, { { 0, NULL, 1 }, { 1, NULL, 1 } } },           /* new source */
		{ 5, true, 3, { { 0, NULL, 0 }, { 1, "x", 1 }, { 2, NULL, 1 } } }, /* t1 other attrs, t2 new */
		{ 6, false, 3, { { 0, NULL, 0 }, { 1, "x", 0 }, { 2, NULL, 0 } } }, /* nothing written */
		{ 6, true, 3, { { 0, NULL, 0 }, { 1, "x", 0 }, { 2, NULL, 0 } } },  /* its tag was kept */
		{ 6, true, 1, { { 0, NULL, 0 } } },                                /* t1, t2 removed */
		{ 6, true, 2, { { 0, NULL, 0 }, { 1, "x", 1 } } },                 /* t1 returns */
	};
	char path[300];
	struct tip_error err = { 0 };
	struct tip_store *st = open_new("tag", path, sizeof(path));
	struct tip_listing_counts c;
	int64_t src;
	(void)state;

	OK(tip_store_source_id(st, "feed:t", "feed", &src, &err));
	for (size_t p = 0; p < sizeof(pass) / sizeof(pass[0]); p++) {
		bool same = !pass[p].same;
		OK(tip_store_begin_bulk(st, &err));
		OK(tip_store_listing_begin(st, src, pass[p].tag, &same, &err));
		if (same != pass[p].same)
			fail_msg("pass %zu: same_tag %d, expected %d", p + 1, same, pass[p].same);
		for (int k = 0; k < pass[p].n; k++)
			if (seen_one(st, src, pass[p].e[k].i, pass[p].e[k].cat, (int64_t)p + 1) !=
			    pass[p].e[k].written)
				fail_msg("pass %zu: t%d.example written should be %d", p + 1,
					 pass[p].e[k].i, pass[p].e[k].written);
		OK(tip_store_listing_settle(st, src, (int64_t)p + 1, ((tip_time_t)p + 1) * 1000, &c,
					    &err));
		OK(tip_store_commit(st, &err));
	}
	assert_int_equal(c.total, 2);
	assert_int_equal(c.returned, 1);
	tip_store_close(st);
}

/* A bulk transaction switches SQLite's foreign-key checks off only while it lasts: after its
 * commit, and after its rollback, a sighting of a source that does not exist is refused again
 * (as in any other transaction). A listing pass of a source that does not exist fails at
 * listing_begin, and writes nothing. */
static void test_bulk_references(void **state)
{
	char path[300];
	struct tip_error err = { 0 };
	struct tip_store *st = open_new("bulk", path, sizeof(path));
	struct tip_sighting_attrs attrs = { 0 };
	struct tip_listing_counts c;
	struct tip_indicator ind;
	int64_t src, id;
	bool same;
	(void)state;

	OK(tip_store_source_id(st, "feed:b", "feed", &src, &err));
	plain_entry(1, 0, &ind);
	OK(tip_store_indicator_put(st, &ind, 1000, &id, &err));
	/* committed */
	OK(tip_store_begin_bulk(st, &err));
	OK(tip_store_listing_begin(st, src, 1, &same, &err));
	OK(tip_store_listing_seen(st, src, &ind, 2000, 1, &attrs, &err));
	OK(tip_store_listing_settle(st, src, 1, 2000, &c, &err));
	OK(tip_store_commit(st, &err));
	assert_int_equal(c.total, 1);
	if (tip_store_sighting_seen(st, src + 100, id, 3000, 2, &attrs, NULL, &err) >= 0)
		fail_msg("a sighting of no source was stored after a bulk transaction's commit");
	assert_non_null(strstr(err.msg, "FOREIGN KEY"));
	/* rolled back, with a pass of no source */
	OK(tip_store_begin_bulk(st, &err));
	if (tip_store_listing_begin(st, src + 100, 1, &same, &err) >= 0)
		fail_msg("a listing pass of no source began");
	assert_non_null(strstr(err.msg, "no source"));
	tip_store_rollback(st);
	err.msg[0] = 0;
	if (tip_store_sighting_seen(st, src + 100, id, 3000, 2, &attrs, NULL, &err) >= 0)
		fail_msg("a sighting of no source was stored after a bulk transaction's rollback");
	assert_non_null(strstr(err.msg, "FOREIGN KEY"));
	/* nested in an ordinary transaction, it is that one's part: the checks stay on */
	OK(tip_store_begin(st, &err));
	OK(tip_store_begin_bulk(st, &err));
	if (tip_store_sighting_seen(st, src + 100, id, 3000, 2, &attrs, NULL, &err) >= 0)
		fail_msg("a sighting of no source was stored in a bulk transaction nested in another");
	tip_store_rollback(st);
	tip_store_close(st);
	assert_int_equal(fk_violations(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_equals_per_row),
		cmocka_unit_test(test_plain_first_loads),
		cmocka_unit_test(test_written_and_tag),
		cmocka_unit_test(test_bulk_references),
	};
	int rc;
	tip_log_init("test", false, TIP_LOG_WARN);
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
