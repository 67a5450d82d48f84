/* store_sqlite_flux.c — what the fast-flux resolution pass (flux-resolve) needs of the store:
 * the due part of the watch list, streamed by id; a domain's round bookkeeping; passive DNS
 * with "was it new"; and the ipinfo rows a newer enrichment database has made stale. */
#include <stdlib.h>
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

static int observe(struct sq_store *s, const char *domain, const char *rrtype, const char *value,
		   int64_t ttl, tip_time_t now, bool *is_new, struct tip_error *err);

int sq_pdns_observe(struct tip_store *st, const char *domain, const char *rrtype,
		    const char *value, int64_t ttl, tip_time_t now, bool *is_new,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	bool nw;
	int rc;

	if (is_new)
		*is_new = false;
	if ((rc = sq_pdns_set_drop(s, domain, rrtype, err)) < 0 ||
	    (rc = observe(s, domain, rrtype, value, ttl, now, &nw, err)) < 0)
		return rc;
	if (is_new)
		*is_new = nw;
	return 0;
}

/* Unchanged answer sets (schema 6, pdns_set). An answer whose set (set_hash and size) is the
 * previous answer's for this domain and rrtype, with one TTL, costs one UPDATE of its pdns_set
 * row instead of an UPDATE per record: pending counts such rounds since base_at, the round whose
 * records were last written into pdns; those records are exactly the pdns rows of (domain,
 * rrtype) with last_seen = base_at (one round per domain, rrtype and time). A changed set first
 * folds the pending rounds into those rows, then is written in full and becomes the new base.
 * Readers add the pending part the same way (Q_PDNS_EFF in store_sqlite.h). */
static const char q_set_get[] =
	"SELECT set_hash, n, base_at, pending, last_seen, min_ttl, max_ttl FROM pdns_set"
	" WHERE domain = ?1 AND rrtype = ?2";
static const char q_set_same[] =
	"UPDATE pdns_set SET pending = pending + 1, last_seen = ?3,"
	" min_ttl = min(coalesce(min_ttl, ?4), ?4), max_ttl = max(coalesce(max_ttl, ?4), ?4)"
	" WHERE domain = ?1 AND rrtype = ?2 AND set_hash = ?5 AND n = ?6 AND last_seen < ?3"
	" AND vals = ?7";
static const char q_set_fold[] =
	"UPDATE pdns SET count = count + ?4, last_seen = max(last_seen, ?5),"
	" min_ttl = min(min_ttl, ?6), max_ttl = max(max_ttl, ?7)"
	" WHERE domain = ?1 AND rrtype = ?2 AND last_seen = ?3";
static const char q_set_put[] =
	"INSERT OR REPLACE INTO pdns_set (domain, rrtype, set_hash, n, base_at, pending, last_seen,"
	" vals) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?5, ?6)";
static const char q_set_new[] =
	"INSERT INTO pdns_set (domain, rrtype, set_hash, n, base_at, pending, last_seen, vals)"
	" VALUES (?1, ?2, ?3, ?4, ?5, 0, ?5, ?6) ON CONFLICT (domain, rrtype) DO NOTHING";
static const char q_set_del[] = "DELETE FROM pdns_set WHERE domain = ?1 AND rrtype = ?2";
static const char q_set_exists[] =
	"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pdns_set'";

struct pset {
	bool found;
	int64_t hash, n, base_at, pending, last_seen, min_ttl, max_ttl;
};

/* Whether the store has pdns_set (a store opened at an older schema, e.g. by
 * bench_flux_write's reference, writes every record as before). */
static int set_table(struct sq_store *s, struct tip_error *err)
{
	sqlite3_stmt *q;
	if (s->pdns_set)
		return s->pdns_set > 0;
	if (!(q = sq_prep(s, q_set_exists, err)))
		return TIP_ESTORE;
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return sq_fail(s, err, "pdns set");
	}
	s->pdns_set = sqlite3_column_int(q, 0) > 0 ? 1 : -1;
	sqlite3_reset(q);
	return s->pdns_set > 0;
}

int sq_pdns_has_sets(struct sq_store *s, struct tip_error *err)
{
	return set_table(s, err);
}

static int set_get(struct sq_store *s, const char *domain, const char *rrtype, struct pset *p,
		   struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_set_get, err);
	int rc;
	memset(p, 0, sizeof(*p));
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		p->found = true;
		p->hash = sqlite3_column_int64(q, 0);
		p->n = sqlite3_column_int64(q, 1);
		p->base_at = sqlite3_column_int64(q, 2);
		p->pending = sqlite3_column_int64(q, 3);
		p->last_seen = sqlite3_column_int64(q, 4);
		p->min_ttl = sqlite3_column_int64(q, 5);
		p->max_ttl = sqlite3_column_int64(q, 6);
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, err, "pdns set");
}

/* The pending rounds of p into the pdns rows of its base round. */
static int set_fold(struct sq_store *s, const char *domain, const char *rrtype,
		    const struct pset *p, struct tip_error *err)
{
	sqlite3_stmt *q;
	if (!p->found || p->pending <= 0)
		return 0;
	if (!(q = sq_prep(s, q_set_fold, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	sq_bind_int(q, 3, p->base_at);
	sq_bind_int(q, 4, p->pending);
	sq_bind_int(q, 5, p->last_seen);
	sq_bind_int(q, 6, p->min_ttl);
	sq_bind_int(q, 7, p->max_ttl);
	return sq_done(s, q, err, "pdns set fold");
}

int sq_pdns_set_drop(struct sq_store *s, const char *domain, const char *rrtype,
		     struct tip_error *err)
{
	struct pset p;
	sqlite3_stmt *q;
	int rc;
	if ((rc = set_table(s, err)) <= 0)
		return rc;
	if ((rc = set_get(s, domain, rrtype, &p, err)) < 0 || !p.found)
		return rc;
	if ((rc = set_fold(s, domain, rrtype, &p, err)) < 0)
		return rc;
	if (!(q = sq_prep(s, q_set_del, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	return sq_done(s, q, err, "pdns set drop");
}

static int observe(struct sq_store *s, const char *domain, const char *rrtype, const char *value,
		   int64_t ttl, tip_time_t now, bool *is_new, struct tip_error *err)
{
	bool changed;
	int rc;

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
		*is_new = true;
		return 0;
	}
	return pdns_step(s, q_pdns_update, domain, rrtype, value, ttl, now, &changed, err);
}

/* The set row made the base of the answer at `at`: 1 when written, 0 when not (DO NOTHING) */
static int set_put(struct sq_store *s, const char *sql, const char *domain, const char *rrtype,
		   tip_time_t at, int64_t set_hash, size_t n, const char *vals,
		   struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	sq_bind_int(q, 3, set_hash);
	sq_bind_int(q, 4, (int64_t)n);
	sq_bind_int(q, 5, at);
	sq_bind_text(q, 6, vals);
	if ((rc = sq_done(s, q, err, "pdns set put")) < 0)
		return rc;
	return sqlite3_changes(s->db) > 0;
}

static int observe_all(struct sq_store *s, const char *domain, const char *rrtype, tip_time_t at,
		       const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
		       struct tip_error *err)
{
	int64_t news = 0;
	int rc;
	for (size_t i = 0; i < n; i++) {
		bool nw;
		if ((rc = observe(s, domain, rrtype, rec[i].value, rec[i].ttl, at, &nw, err)) < 0)
			return rc;
		news += nw;
		if (is_new)
			is_new[i] = nw;
	}
	if (n_new)
		*n_new = news;
	return 0;
}

/* 1: counted as a round of the unchanged set; 0: the row is not that set */
static int set_same(struct sq_store *s, const char *domain, const char *rrtype, tip_time_t at,
		    int64_t set_hash, size_t n, int64_t ttl, const char *vals, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_set_same, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	sq_bind_int(q, 3, at);
	sq_bind_int(q, 4, ttl);
	sq_bind_int(q, 5, set_hash);
	sq_bind_int(q, 6, (int64_t)n);
	sq_bind_text(q, 7, vals);
	if ((rc = sq_done(s, q, err, "pdns set same")) < 0)
		return rc;
	return sqlite3_changes(s->db) > 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The answer's values, sorted and joined with '\n': a set is "unchanged" only when this text
 * is equal, not merely its hash (an answer comes from a hostile server; a 64-bit sum of
 * hashes can be made to collide, and a collision would lose the records it hides). */
static char *set_text(const struct tip_pdns_rec *rec, size_t n)
{
	const char **v = tip_xmalloc(n * sizeof(*v));
	size_t len = 1, o = 0;
	char *out;
	for (size_t i = 0; i < n; i++) {
		v[i] = rec[i].value;
		len += strlen(rec[i].value) + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	out = tip_xmalloc(len);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);
		memcpy(out + o, v[i], l);
		o += l;
		out[o++] = '\n';
	}
	out[o] = '\0';
	free(v);
	return out;
}

static int answer(struct sq_store *s, const char *domain, const char *rrtype, tip_time_t at,
		  int64_t set_hash, const struct tip_pdns_rec *rec, size_t n, bool *is_new,
		  int64_t *n_new, int have, const char *vals, struct tip_error *err);

int sq_pdns_answer(struct tip_store *st, const char *domain, const char *rrtype, tip_time_t at,
		   int64_t set_hash, const struct tip_pdns_rec *rec, size_t n, bool *is_new,
		   int64_t *n_new, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	char *vals;
	int rc, have;

	if (n_new)
		*n_new = 0;
	if (is_new)
		memset(is_new, 0, n * sizeof(*is_new));
	if (n == 0)
		return 0;
	if ((have = set_table(s, err)) < 0)
		return have;
	vals = have ? set_text(rec, n) : NULL;
	rc = answer(s, domain, rrtype, at, set_hash, rec, n, is_new, n_new, have, vals, err);
	free(vals);
	return rc;
}

static int answer(struct sq_store *s, const char *domain, const char *rrtype, tip_time_t at,
		  int64_t set_hash, const struct tip_pdns_rec *rec, size_t n, bool *is_new,
		  int64_t *n_new, int have, const char *vals, struct tip_error *err)
{
	struct pset p = { 0 };
	bool one_ttl = true;
	int rc;

	for (size_t i = 1; i < n; i++)
		one_ttl &= rec[i].ttl == rec[0].ttl;
	/* the same set as last time (the same values, not only the same hash), one TTL, time not
	 * going backwards: count the round only. Tried first when the previous answer was such a
	 * one (answers come in long runs of one kind), which spares the SELECT; otherwise decided
	 * from the row. */
	if (have && one_ttl && s->pdns_set_same) {
		if ((rc = set_same(s, domain, rrtype, at, set_hash, n, rec[0].ttl, vals, err)) != 0)
			return rc < 0 ? rc : 0;
	}
	/* no row yet (a first answer; tried first after one): the row is the new base */
	if (have && s->pdns_set_new) {
		if ((rc = set_put(s, q_set_new, domain, rrtype, at, set_hash, n, vals, err)) < 0)
			return rc;
		if (rc > 0)
			return observe_all(s, domain, rrtype, at, rec, n, is_new, n_new, err);
	}
	if (have && (rc = set_get(s, domain, rrtype, &p, err)) < 0)
		return rc;
	if (p.found && one_ttl && p.hash == set_hash && p.n == (int64_t)n && at > p.last_seen) {
		if ((rc = set_same(s, domain, rrtype, at, set_hash, n, rec[0].ttl, vals, err)) < 0)
			return rc;
		if (rc > 0) {
			s->pdns_set_same = true;
			s->pdns_set_new = false;
			return 0;
		}
		/* same hash, other values: a collision, written as the changed set it is */
	}
	s->pdns_set_same = false;
	s->pdns_set_new = have && !p.found;
	if ((rc = set_fold(s, domain, rrtype, &p, err)) < 0)
		return rc;
	if (have && (rc = set_put(s, q_set_put, domain, rrtype, at, set_hash, n, vals, err)) < 0)
		return rc;
	return observe_all(s, domain, rrtype, at, rec, n, is_new, n_new, err);
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
