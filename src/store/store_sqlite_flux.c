/* store_sqlite_flux.c — what the fast-flux resolution pass (flux-resolve) needs of the store:
 * the due part of the watch list, streamed by id; a domain's round bookkeeping; passive DNS
 * with "was it new"; and the ipinfo rows a newer enrichment database has made stale. */
#include <string.h>

#include "store_sqlite.h"

/* +next_due: keep the planner on the rowid range (a chunk must not sort every due row) */
static const char q_watch_due[] =
	"SELECT id, domain FROM watch WHERE removed IS NULL AND +next_due <= ?1 AND id > ?2"
	" ORDER BY id LIMIT ?3";
static const char q_watch_resolved[] =
	"UPDATE watch SET last_round = ?2, next_due = ?3, rounds = rounds + 1, last_outcome = ?4"
	" WHERE domain = ?1";
static const char q_watch_resolved_id[] =
	"UPDATE watch SET last_round = ?2, next_due = ?3, rounds = rounds + 1, last_outcome = ?4"
	" WHERE id = ?5";
/* A record is either new (one INSERT) or known (one UPDATE); sq_pdns_observe tries first the
 * statement that fitted the previous record, since records come in long runs of one kind (a
 * first pass: all new; the next passes: nearly all known), and falls back to the other. No
 * RETURNING, which makes SQLite materialise the result. */
static const char q_pdns_insert[] =
	"INSERT INTO pdns (domain, rrtype, value, first_seen, last_seen, count, min_ttl, max_ttl)"
	" VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5, ?5) ON CONFLICT (domain, rrtype, value) DO NOTHING";
static const char q_pdns_update[] =
	"UPDATE pdns SET last_seen = max(last_seen, ?4), count = count + 1,"
	" min_ttl = min(min_ttl, ?5), max_ttl = max(max_ttl, ?5)"
	" WHERE domain = ?1 AND rrtype = ?2 AND value = ?3";
static const char q_ipinfo_stale[] =
	"SELECT addr FROM ipinfo WHERE NOT (db = ?1 AND db_version IS ?2) ORDER BY addr LIMIT ?3";

int sq_watch_due(struct tip_store *st, tip_time_t now, int64_t after_id, int limit,
		 tip_watch_due_cb cb, void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_watch_due, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, now);
	sq_bind_int(q, 2, after_id);
	sq_bind_int(q, 3, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int x = cb(arg, sqlite3_column_int64(q, 0), sq_col_text(q, 1));
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "watch due");
}

int sq_watch_resolved(struct tip_store *st, int64_t id, const char *domain, tip_time_t at,
		      tip_time_t next_due, const char *outcome, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, id > 0 ? q_watch_resolved_id : q_watch_resolved, err);
	if (!q)
		return TIP_ESTORE;
	if (id > 0)
		sq_bind_int(q, 5, id);
	else
		sq_bind_text(q, 1, domain);
	sq_bind_int(q, 2, at);
	sq_bind_int(q, 3, next_due);
	sq_bind_text(q, 4, outcome);
	return sq_done(s, q, err, "watch resolved");
}

static int pdns_step(struct sq_store *s, const char *sql, const char *domain, const char *rrtype,
		     const char *value, int64_t ttl, tip_time_t now, bool *changed,
		     struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	sq_bind_text(q, 3, value);
	sq_bind_int(q, 4, now);
	sq_bind_int(q, 5, ttl);
	if ((rc = sq_done(s, q, err, "pdns observe")) < 0)
		return rc;
	*changed = sqlite3_changes(s->db) > 0;
	return 0;
}

int sq_pdns_observe(struct tip_store *st, const char *domain, const char *rrtype,
		    const char *value, int64_t ttl, tip_time_t now, bool *is_new,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	bool changed;
	int rc;

	if (is_new)
		*is_new = false;
	if (s->pdns_known) {
		if ((rc = pdns_step(s, q_pdns_update, domain, rrtype, value, ttl, now, &changed,
				    err)) < 0 || changed)
			return rc;
	}
	if ((rc = pdns_step(s, q_pdns_insert, domain, rrtype, value, ttl, now, &changed, err)) < 0)
		return rc;
	s->pdns_known = !changed;
	if (changed) {
		if (is_new)
			*is_new = true;
		return 0;
	}
	return pdns_step(s, q_pdns_update, domain, rrtype, value, ttl, now, &changed, err);
}

int sq_ipinfo_stale(struct tip_store *st, const char *db, const char *db_version, int limit,
		    tip_ipinfo_stale_cb cb, void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_ipinfo_stale, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, db);
	sq_bind_text(q, 2, db_version);
	sq_bind_int(q, 3, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int x = cb(arg, sq_col_text(q, 0));
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "ipinfo stale");
}

/* Bulk mode: no automatic WAL checkpoint during the pass (one at its end). A first pass into an
 * empty passive-DNS table (a new watch list) also goes without the pdns_value index and builds
 * it once at the end, sorted: random inserts into that text index were half the writer's CPU
 * when every record is new (docs/performance.md, flux-resolve). Only when pdns is empty, so a
 * pass over an existing history never rebuilds it; a pass that dies before its end leaves the
 * index to the next bulk pass (lookups by value scan meanwhile, with the same results). */
static const char q_pdns_empty[] = "SELECT NOT EXISTS (SELECT 1 FROM pdns)";
static const char pdns_value_sql[] = "CREATE INDEX IF NOT EXISTS pdns_value ON pdns (value)";

int sq_bulk(struct tip_store *st, bool on, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	int rc;
	if (on) {
		sqlite3_stmt *q;
		bool empty;
		if ((rc = sq_exec(s, "PRAGMA wal_autocheckpoint=0", err)) < 0)
			return rc;
		if (s->pdns_value_off)
			return 0;
		if (!(q = sq_prep(s, q_pdns_empty, err)))
			return TIP_ESTORE;
		if (sqlite3_step(q) != SQLITE_ROW) {
			sqlite3_reset(q);
			return sq_fail(s, err, "bulk");
		}
		empty = sqlite3_column_int(q, 0) != 0;
		sqlite3_reset(q);
		if (!empty)
			return sq_exec(s, pdns_value_sql, err); /* one a dead pass left out */
		if ((rc = sq_exec(s, "DROP INDEX IF EXISTS pdns_value", err)) < 0)
			return rc;
		s->pdns_value_off = true;
		return 0;
	}
	if (s->pdns_value_off) {
		if ((rc = sq_exec(s, pdns_value_sql, err)) < 0)
			return rc;
		s->pdns_value_off = false;
	}
	return sq_exec(s, "PRAGMA wal_autocheckpoint=1000; PRAGMA wal_checkpoint(PASSIVE)", err);
}
