/* store_sqlite_watch.c — the watch list in SQLite. */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

static const char q_watch_find[] = "SELECT removed FROM watch WHERE domain = ?1";
static const char q_watch_insert[] =
	"INSERT INTO watch (domain, source, added, next_due) VALUES (?1, ?2, ?3, 0)";
static const char q_watch_reactivate[] =
	"UPDATE watch SET removed = NULL, source = ?2, next_due = 0 WHERE domain = ?1";
static const char q_watch_rm[] =
	"UPDATE watch SET removed = ?2 WHERE domain = ?1 AND removed IS NULL";
static const char q_watch_list[] =
	"SELECT domain, source, added, coalesce(removed, 0), next_due, coalesce(last_round, 0), rounds"
	" FROM watch WHERE removed IS NULL ORDER BY domain";
static const char q_watch_list_all[] =
	"SELECT domain, source, added, coalesce(removed, 0), next_due, coalesce(last_round, 0), rounds"
	" FROM watch ORDER BY domain";
static const char q_watch_get[] =
	"SELECT domain, source, added, coalesce(removed, 0), next_due, coalesce(last_round, 0), rounds"
	" FROM watch WHERE domain = ?1";
static const char q_watch_count[] = "SELECT count(*) FROM watch WHERE removed IS NULL";

int sq_watch_add(struct tip_store *st, const char *domain, const char *source, tip_time_t now,
		 enum tip_watch_result *result, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_watch_find, err);
	enum tip_watch_result r;
	int rc;

	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		bool removed = sqlite3_column_type(q, 0) != SQLITE_NULL;
		sqlite3_reset(q);
		if (!removed) {
			r = TIP_WATCH_PRESENT;
			goto out;
		}
		if (!(q = sq_prep(s, q_watch_reactivate, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 1, domain);
		sq_bind_text(q, 2, source);
		r = TIP_WATCH_REACTIVATED;
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		if (!(q = sq_prep(s, q_watch_insert, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 1, domain);
		sq_bind_text(q, 2, source);
		sq_bind_int(q, 3, now);
		r = TIP_WATCH_ADDED;
	} else {
		sqlite3_reset(q);
		return sq_fail(s, err, "watch add");
	}
	if ((rc = sq_done(s, q, err, "watch add")) < 0)
		return rc;
out:
	if (result)
		*result = r;
	return 0;
}

/* The domains as a row table (?1): the removed ones watched again, then the new ones. */
static const struct sq_rows_def watch_rows_def = {
	"tip_watch_rows",
	"CREATE TABLE x (domain TEXT, rows HIDDEN)",
	"t",
};
static const char q_watch_reactivate_many[] =
	"UPDATE watch SET removed = NULL, source = ?2, next_due = 0 FROM tip_watch_rows(?1) r"
	" WHERE watch.domain = r.domain AND watch.removed IS NOT NULL";
static const char q_watch_insert_many[] =
	"INSERT OR IGNORE INTO watch (domain, source, added, next_due)"
	" SELECT domain, ?2, ?3, 0 FROM tip_watch_rows(?1)";

static int cell_cmp(const void *a, const void *b)
{
	return strcmp(((const union sq_cell *)a)->s, ((const union sq_cell *)b)->s);
}

int sq_watch_add_many(struct tip_store *st, const char *const *domains, size_t n,
		      const char *source, tip_time_t now, struct tip_watch_counts *counts,
		      struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	/* the rows: one cell each, the domain's text */
	union sq_cell *cells = tip_xmalloc((n ? n : 1) * sizeof(*cells));
	struct sq_rows rows;
	const char *sql[2] = { q_watch_reactivate_many, q_watch_insert_many };
	int64_t changed[2] = { 0, 0 };
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		cells[i].s = domains[i];
	/* sorted: the watch list's unique index is then walked in order (in the order given, a
	 * big batch of random domains cost as much as adding them one at a time) */
	qsort(cells, n, sizeof(*cells), cell_cmp);
	rows = (struct sq_rows){ .cell = cells, .n = n };
	for (int k = 0; k < 2 && rc == 0; k++) {
		sqlite3_stmt *q = sq_rows_query(s, sql[k], &watch_rows_def, &rows, err);
		if (!q) {
			rc = TIP_ESTORE;
			break;
		}
		sq_bind_text(q, 2, source);
		if (k == 1)
			sq_bind_int(q, 3, now);
		rc = sq_done(s, q, err, "watch add");
		sqlite3_bind_null(q, 1);
		changed[k] = sqlite3_changes(s->db);
	}
	free(cells);
	if (rc < 0)
		return rc;
	counts->reactivated = changed[0];
	counts->added = changed[1];
	counts->present = (int64_t)n - changed[0] - changed[1];
	return 0;
}

int sq_watch_rm(struct tip_store *st, const char *domain, tip_time_t now, bool *removed,
		struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_watch_rm, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_int(q, 2, now);
	if ((rc = sq_done(s, q, err, "watch rm")) < 0)
		return rc;
	if (removed)
		*removed = sqlite3_changes(s->db) > 0;
	return 0;
}

static int watch_rows(struct sq_store *s, sqlite3_stmt *q, tip_watch_cb cb, void *arg,
		      struct tip_error *err)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_watch w = {
			.domain = sq_col_text(q, 0),
			.source = sq_col_text(q, 1),
			.added = sqlite3_column_int64(q, 2),
			.removed = sqlite3_column_int64(q, 3),
			.next_due = sqlite3_column_int64(q, 4),
			.last_round = sqlite3_column_int64(q, 5),
			.rounds = sqlite3_column_int64(q, 6),
		};
		int r = cb(arg, &w);
		if (r) {
			sqlite3_reset(q);
			return r;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "watch list");
}

int sq_watch_list(struct tip_store *st, bool all, tip_watch_cb cb, void *arg,
		  struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, all ? q_watch_list_all : q_watch_list, err);
	return q ? watch_rows(s, q, cb, arg, err) : TIP_ESTORE;
}

int sq_watch_get(struct tip_store *st, const char *domain, tip_watch_cb cb, void *arg,
		 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_watch_get, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	return watch_rows(s, q, cb, arg, err);
}

int sq_watch_count(struct tip_store *st, int64_t *active, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_watch_count, err);
	if (!q)
		return TIP_ESTORE;
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return sq_fail(s, err, "watch count");
	}
	*active = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return 0;
}
