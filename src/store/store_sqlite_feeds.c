/*
 * store_sqlite_feeds.c — feeds in SQLite: the definition and state columns of a source row, and
 * the fast write path of a whole listing pass.
 *
 * The listing pass (measured in bench/bench_feeds.c, figures in docs/performance.md): one
 * append to a temporary table per entry, then set-based statements in key order. What changed
 * is worked out over the source's rows, which the sighting primary key (source_id,
 * indicator_id) keeps together: new = first_seen is this pass's time, returned = seen in this
 * pass but marked removed, removed = active but not seen in this pass.
 */
#include <string.h>

#include "store_sqlite.h"

#define FEED_COLS                                                                              \
	"SELECT id, name, url, format, options, coalesce(origin, 'cli'), coalesce(interval_s, 0),"  \
	" enabled, created, coalesce(removed, 0), etag, last_modified, coalesce(last_fetch, 0),"    \
	" coalesce(last_success, 0), coalesce(last_status, 0), last_error, rejected_sample,"        \
	" n_total, n_new, n_removed, n_rejected FROM source WHERE kind = 'feed' "

static const char q_feed_find[] = "SELECT id, kind FROM source WHERE name = ?1";
static const char q_feed_insert[] =
	"INSERT INTO source (name, kind, url, format, interval_s, options, origin, enabled, created)"
	" VALUES (?1, 'feed', ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char q_feed_update[] =
	"UPDATE source SET url = ?2, format = ?3, interval_s = ?4, options = ?5, origin = ?6,"
	" enabled = ?7, removed = NULL WHERE id = ?1";
static const char q_feed_rm[] =
	"UPDATE source SET removed = ?2 WHERE name = ?1 AND kind = 'feed' AND removed IS NULL";
static const char q_feed_list[] = FEED_COLS "AND removed IS NULL ORDER BY name";
static const char q_feed_list_all[] = FEED_COLS "ORDER BY name";
static const char q_feed_get[] = FEED_COLS "AND name = ?1";
static const char q_feed_fail[] =
	"UPDATE source SET last_fetch = ?2, last_status = ?3, last_error = ?4 WHERE id = ?1";
static const char q_feed_304[] =
	"UPDATE source SET last_fetch = ?2, last_status = ?3, last_error = NULL WHERE id = ?1";
static const char q_feed_ok[] =
	"UPDATE source SET last_fetch = ?2, last_success = ?2, last_status = ?3, last_error = NULL,"
	" etag = ?4, last_modified = ?5, rejected_sample = ?6, n_total = ?7, n_new = ?8,"
	" n_removed = ?9, n_rejected = ?10 WHERE id = ?1";

/* The listing pass. Entries go into a temporary table (append only, no index: one cheap insert
 * per entry); settle then works set-based and in key order: it indexes the temporary table,
 * inserts the new indicators in (type, value) order, upserts the sightings in indicator-id
 * order, and derives the events and removals from the source's rows. Random-order B-tree
 * inserts into the big indexes were what made the per-row path slow (docs/performance.md). */
static const char q_listing_create[] =
	"DROP TABLE IF EXISTS temp.listing;"
	"CREATE TEMP TABLE listing (type INTEGER NOT NULL, value TEXT NOT NULL, host TEXT,"
	" registrable TEXT, family INTEGER, addr BLOB, prefix INTEGER, category TEXT, threat TEXT,"
	" tags TEXT, listed_since INTEGER)";
static const char q_listing_put[] =
	"INSERT INTO temp.listing VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
/* one external sort (bounded memory, spills to temp files) puts the entries in key order */
static const char q_listing_sort[] =
	"DROP TABLE IF EXISTS temp.listing_sorted;"
	"CREATE TEMP TABLE listing_sorted AS SELECT * FROM temp.listing ORDER BY type, value;"
	"DROP TABLE temp.listing;";
/* settle: ?1 source, ?2 mark, ?3 now */
static const char q_settle_indicators[] =
	"INSERT INTO indicator (type, value, host, registrable, family, addr, prefix, first_seen)"
	" SELECT type, value, host, registrable, family, addr, prefix, ?3 FROM temp.listing_sorted"
	" WHERE ?1 IS NOT NULL AND ?2 IS NOT NULL ORDER BY rowid"
	" ON CONFLICT (type, value) DO NOTHING";
static const char q_settle_sightings[] =
	"INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen, last_mark,"
	" category, threat, tags, listed_since)"
	" SELECT ?1, i.id, ?3, ?3, ?2, l.category, l.threat, l.tags, l.listed_since"
	" FROM temp.listing_sorted l CROSS JOIN indicator i ON i.type = l.type AND i.value = l.value"
	" WHERE true ORDER BY i.id"
	" ON CONFLICT (source_id, indicator_id) DO UPDATE SET last_seen = excluded.last_seen,"
	" last_mark = excluded.last_mark, category = coalesce(excluded.category, category),"
	" threat = coalesce(excluded.threat, threat), tags = coalesce(excluded.tags, tags),"
	" listed_since = coalesce(excluded.listed_since, listed_since)";
static const char q_listing_drop[] = "DROP TABLE temp.listing_sorted";
static const char q_settle_new[] =
	"INSERT OR IGNORE INTO sighting_event (source_id, indicator_id, at, event)"
	" SELECT source_id, indicator_id, ?3, 'listed' FROM sighting"
	" WHERE source_id = ?1 AND last_mark = ?2 AND first_seen = ?3";
static const char q_settle_returned_events[] =
	"INSERT OR IGNORE INTO sighting_event (source_id, indicator_id, at, event)"
	" SELECT source_id, indicator_id, ?3, 'returned' FROM sighting"
	" WHERE source_id = ?1 AND last_mark = ?2 AND removed IS NOT NULL";
static const char q_settle_returned[] =
	"UPDATE sighting SET removed = NULL"
	" WHERE source_id = ?1 AND last_mark = ?2 AND removed IS NOT NULL AND ?3 IS NOT NULL";
static const char q_settle_total[] =
	"SELECT count(*) FROM sighting WHERE source_id = ?1 AND removed IS NULL"
	" AND ?2 IS NOT NULL AND ?3 IS NOT NULL";

int sq_feed_put(struct tip_store *st, const char *name, const char *url, const char *format,
		int64_t interval_s, const char *options, const char *origin, bool enabled,
		tip_time_t now, int64_t *id, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_find, err);
	int rc;

	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		if (strcmp(sq_col_text(q, 1), "feed")) {
			int e = tip_error_set(err, TIP_EEXIST,
					      "source '%s' exists and is not a feed (it is '%s')", name,
					      sq_col_text(q, 1));
			sqlite3_reset(q);
			return e;
		}
		sqlite3_reset(q);
		if (!(q = sq_prep(s, q_feed_update, err)))
			return TIP_ESTORE;
		sq_bind_int(q, 1, *id);
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		*id = 0;
		if (!(q = sq_prep(s, q_feed_insert, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 1, name);
		sq_bind_int(q, 8, now);
	} else {
		sqlite3_reset(q);
		return sq_fail(s, err, "feed");
	}
	sq_bind_text(q, 2, url);
	sq_bind_text(q, 3, format);
	sq_bind_int(q, 4, interval_s);
	sq_bind_text(q, 5, options);
	sq_bind_text(q, 6, origin);
	sq_bind_int(q, 7, enabled);
	if ((rc = sq_done(s, q, err, "feed write")) < 0)
		return rc;
	if (!*id)
		*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int sq_feed_rm(struct tip_store *st, const char *name, tip_time_t now, bool *removed,
	       struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_rm, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_int(q, 2, now);
	if ((rc = sq_done(s, q, err, "feed rm")) < 0)
		return rc;
	*removed = sqlite3_changes(s->db) > 0;
	return 0;
}

static int feed_rows(struct sq_store *s, sqlite3_stmt *q, tip_feed_cb cb, void *arg,
		     struct tip_error *err, bool *any)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_feed_row f = {
			.id = sqlite3_column_int64(q, 0),
			.name = sq_col_text(q, 1),
			.url = sq_col_text(q, 2),
			.format = sq_col_text(q, 3),
			.options = sq_col_text(q, 4),
			.origin = sq_col_text(q, 5),
			.interval_s = sqlite3_column_int64(q, 6),
			.enabled = sqlite3_column_int(q, 7) != 0,
			.created = sqlite3_column_int64(q, 8),
			.removed = sqlite3_column_int64(q, 9),
			.etag = sq_col_text(q, 10),
			.last_modified = sq_col_text(q, 11),
			.last_fetch = sqlite3_column_int64(q, 12),
			.last_success = sqlite3_column_int64(q, 13),
			.last_status = sqlite3_column_int64(q, 14),
			.last_error = sq_col_text(q, 15),
			.rejected_sample = sq_col_text(q, 16),
			.n_total = sqlite3_column_int64(q, 17),
			.n_new = sqlite3_column_int64(q, 18),
			.n_removed = sqlite3_column_int64(q, 19),
			.n_rejected = sqlite3_column_int64(q, 20),
		};
		int x;
		if (any)
			*any = true;
		if ((x = cb(arg, &f))) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "feeds");
}

int sq_feed_list(struct tip_store *st, bool all, tip_feed_cb cb, void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, all ? q_feed_list_all : q_feed_list, err);
	if (!q)
		return TIP_ESTORE;
	return feed_rows(s, q, cb, arg, err, NULL);
}

int sq_feed_get(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg,
		struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_get, err);
	bool any = false;
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	rc = feed_rows(s, q, cb, arg, err, &any);
	if (rc == 0 && !any)
		return tip_error_set(err, TIP_ENOTFOUND, "no feed named '%s'", name);
	return rc;
}

int sq_feed_result(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r,
		   struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q;

	if (r->error) {
		if (!(q = sq_prep(s, q_feed_fail, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 4, r->error);
	} else if (r->not_modified) {
		if (!(q = sq_prep(s, q_feed_304, err)))
			return TIP_ESTORE;
	} else {
		if (!(q = sq_prep(s, q_feed_ok, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 4, r->etag);
		sq_bind_text(q, 5, r->last_modified);
		sq_bind_text(q, 6, r->rejected_sample);
		sq_bind_int(q, 7, r->n_total);
		sq_bind_int(q, 8, r->n_new);
		sq_bind_int(q, 9, r->n_removed);
		sq_bind_int(q, 10, r->n_rejected);
	}
	sq_bind_int(q, 1, feed_id);
	sq_bind_int(q, 2, r->at);
	if (r->status)
		sq_bind_int(q, 3, r->status);
	return sq_done(s, q, err, "feed state");
}

int sq_listing_begin(struct tip_store *st, int64_t source_id, struct tip_error *err)
{
	(void)source_id;
	return sq_exec(sq_of(st), q_listing_create, err);
}

int sq_listing_seen(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind,
		    tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_listing_put, err);

	(void)source_id, (void)now, (void)mark;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, ind->type);
	sq_bind_text(q, 2, ind->value);
	sq_bind_text(q, 3, ind->host[0] ? ind->host : NULL);
	sq_bind_text(q, 4, ind->registrable[0] ? ind->registrable : NULL);
	if (ind->family) {
		sq_bind_int(q, 5, ind->family);
		sqlite3_bind_blob(q, 6, ind->addr, ind->family == 4 ? 4 : 16, SQLITE_STATIC);
		sq_bind_int(q, 7, ind->prefix);
	}
	if (attrs) {
		sq_bind_text(q, 8, attrs->category);
		sq_bind_text(q, 9, attrs->threat);
		sq_bind_text(q, 10, attrs->tags);
		if (attrs->listed_since)
			sq_bind_int(q, 11, attrs->listed_since);
	}
	return sq_done(s, q, err, "listing entry");
}

static int settle_step(struct sq_store *s, const char *sql, int64_t source_id, int64_t mark,
		       tip_time_t now, int64_t *changes, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	tip_time_t t0 = tip_monotonic();
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, source_id);
	sq_bind_int(q, 2, mark);
	sq_bind_int(q, 3, now);
	rc = sqlite3_step(q);
	tip_debug("listing settle: %.3f s: %.60s", (double)(tip_monotonic() - t0) / TIP_SEC, sql);
	if (rc == SQLITE_ROW) {
		*changes = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		return 0;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "listing diff");
	if (changes)
		*changes = sqlite3_changes(s->db);
	return 0;
}

int sq_listing_settle(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
		      struct tip_listing_counts *c, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	int64_t dummy;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = sq_exec(s, q_listing_sort, err)) < 0 ||
	    (rc = settle_step(s, q_settle_indicators, source_id, mark, now, &dummy, err)) < 0 ||
	    (rc = settle_step(s, q_settle_sightings, source_id, mark, now, &dummy, err)) < 0 ||
	    (rc = settle_step(s, q_settle_new, source_id, mark, now, &c->added, err)) < 0 ||
	    (rc = settle_step(s, q_settle_returned_events, source_id, mark, now, &dummy, err)) < 0 ||
	    (rc = settle_step(s, q_settle_returned, source_id, mark, now, &c->returned, err)) < 0 ||
	    (rc = sq_sighting_sweep(st, source_id, mark, now, &c->removed, err)) < 0 ||
	    (rc = settle_step(s, q_settle_total, source_id, mark, now, &c->total, err)) < 0 ||
	    (rc = sq_exec(s, q_listing_drop, err)) < 0)
		return rc;
	return 0;
}
