/*
 * store_sqlite.c — the embedded store: SQLite 3 in WAL mode, a busy timeout so that the
 * daemon's children and the CLI can share one file, prepared statements only (cached per
 * handle, keyed by the address of their static SQL text).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_sqlite.h"

#define BUSY_TIMEOUT_MS 30000

/* ---------------------------------------------------------------------------------------- */
/* Helpers shared by the backend's files */

int sq_fail(struct sq_store *s, struct tip_error *err, const char *what)
{
	return tip_error_set(err, TIP_ESTORE, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static size_t ptr_hash(const void *p, size_t cap)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0xed5ad4bbU;
	x ^= x >> 11;
	return (size_t)x & (cap - 1);
}

static void cache_grow(struct sq_store *s)
{
	size_t ncap = s->cache_cap ? s->cache_cap * 2 : 64;
	struct sq_cache_ent *n = tip_xcalloc(ncap, sizeof(*n));
	for (size_t i = 0; i < s->cache_cap; i++) {
		if (!s->cache[i].sql)
			continue;
		size_t h = ptr_hash(s->cache[i].sql, ncap);
		while (n[h].sql)
			h = (h + 1) & (ncap - 1);
		n[h] = s->cache[i];
	}
	free(s->cache);
	s->cache = n;
	s->cache_cap = ncap;
}

sqlite3_stmt *sq_prep(struct sq_store *s, const char *sql, struct tip_error *err)
{
	size_t h;

	if (s->cache_n * 2 >= s->cache_cap)
		cache_grow(s);
	h = ptr_hash(sql, s->cache_cap);
	while (s->cache[h].sql && s->cache[h].sql != sql)
		h = (h + 1) & (s->cache_cap - 1);
	if (s->cache[h].sql) {
		sqlite3_stmt *stmt = s->cache[h].stmt;
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		return stmt;
	}
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
		sq_fail(s, err, "prepare");
		tip_debug("failed SQL: %s", sql);
		return NULL;
	}
	s->cache[h].sql = sql;
	s->cache[h].stmt = stmt;
	s->cache_n++;
	return stmt;
}

int sq_done(struct sq_store *s, sqlite3_stmt *stmt, struct tip_error *err, const char *what)
{
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int e = sq_fail(s, err, what);
		sqlite3_reset(stmt);
		return e;
	}
	sqlite3_reset(stmt);
	return 0;
}

int sq_int(struct sq_store *s, const char *sql, int64_t *v, struct tip_error *err,
	   const char *what)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	int rc;
	*v = 0;
	if (!q)
		return TIP_ESTORE;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, err, what);
}

int sq_exec(struct sq_store *s, const char *sql, struct tip_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int e = tip_error_set(err, TIP_ESTORE, "store: %s", msg ? msg : "exec failed");
		sqlite3_free(msg);
		return e;
	}
	return 0;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void sq_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

/* host and registrable are NULL where they are empty or the value itself (schema 9: a
 * domain is mostly its own host and registrable domain; three copies of it made the indicator
 * table, a first load's sort and its checkpoint a third bigger) */
const char *sq_ind_host(const struct tip_indicator *ind)
{
	return ind->host[0] && strcmp(ind->host, ind->value) ? ind->host : NULL;
}

const char *sq_ind_registrable(const struct tip_indicator *ind, char *buf, size_t len)
{
	/* left for now by the parser: computed here */
	const char *r = ind->registrable_pending ? tip_indicator_registrable(ind, buf, len)
						 : ind->registrable;
	return r[0] && strcmp(r, ind->value) ? r : NULL;
}

void sq_bind_indicator(sqlite3_stmt *st, const struct tip_indicator *ind)
{
	char buf[TIP_DOMAIN_MAX + 1];
	sq_bind_int(st, 1, ind->type);
	sq_bind_text(st, 2, ind->value);
	sq_bind_text(st, 3, sq_ind_host(ind));
	sqlite3_bind_text(st, 4, sq_ind_registrable(ind, buf, sizeof(buf)), -1, SQLITE_TRANSIENT);
	if (ind->family) {
		sq_bind_int(st, 5, ind->family);
		sqlite3_bind_blob(st, 6, ind->addr, ind->family == 4 ? 4 : 16, SQLITE_STATIC);
		sq_bind_int(st, 7, ind->prefix);
	}
}

const char *sq_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* ---------------------------------------------------------------------------------------- */
/* Opening */

/* sqlite:///abs/path → /abs/path; sqlite://rel/path and sqlite:rel/path → rel/path */
static int url_path(const char *url, char **out, struct tip_error *err)
{
	const char *p = url + strlen("sqlite:");
	if (!strncmp(p, "//", 2))
		p += 2;
	if (!*p)
		return tip_error_set(err, TIP_EINVAL, "store url '%s' names no file", url);
	if (strchr(p, '?'))
		return tip_error_set(err, TIP_EINVAL, "store url '%s': options are not supported",
				     url);
	*out = tip_xstrdup(p);
	return 0;
}

static int mkdir_parents(const char *path, struct tip_error *err)
{
	char buf[4096];
	if (!tip_strlcpy(buf, path, sizeof(buf)))
		return tip_error_set(err, TIP_EINVAL, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return tip_error_set(err, TIP_EIO, "cannot create %s: %s", buf, strerror(errno));
		*p = '/';
	}
	return 0;
}

static void sq_close(struct tip_store *st)
{
	struct sq_store *s = sq_of(st);
	for (size_t i = 0; i < s->cache_cap; i++)
		if (s->cache[i].stmt)
			sqlite3_finalize(s->cache[i].stmt);
	free(s->cache);
	sq_listing_free(s->listing);
	if (s->db)
		sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int sq_open(const char *url, int flags, struct tip_store **out, struct tip_error *err)
{
	struct sq_store *s = tip_xcalloc(1, sizeof(*s));
	int oflags, rc;

	s->base.ops = &store_sqlite_ops;
	s->flags = flags;
	if ((rc = url_path(url, &s->path, err)) < 0)
		goto fail;
	if (flags & TIP_STORE_READONLY) {
		oflags = SQLITE_OPEN_READONLY;
	} else {
		oflags = SQLITE_OPEN_READWRITE;
		if (flags & TIP_STORE_CREATE) {
			oflags |= SQLITE_OPEN_CREATE;
			if ((rc = mkdir_parents(s->path, err)) < 0)
				goto fail;
		}
	}
	if (!(flags & TIP_STORE_CREATE) && access(s->path, F_OK) < 0) {
		rc = tip_error_set(err, TIP_ENOTFOUND,
				   "store %s does not exist: run `tip init` first", s->path);
		goto fail;
	}
	if (sqlite3_open_v2(s->path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = tip_error_set(err, TIP_ESTORE, "store %s: %s", s->path,
				   s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);
	if (!(flags & TIP_STORE_READONLY)) {
		/* A new store's pages are 16 KiB (SQLite's default is 4): a pass writes long runs of
		 * rows in key order (watch rows, answer-log rows of ~3.4 KB, a feed's indicators),
		 * and bigger pages mean fewer pages to find, split, log and checkpoint.
		 * bench_flux_write -n 1M, bench_feeds 1M:
		 * ~10 % less writer CPU a next pass, 12-15 % a first pass or first load
		 * (docs/performance.md). An existing store keeps its size (the pragma does nothing
		 * once the file has pages; WAL mode cannot change it). */
		if ((flags & TIP_STORE_CREATE) && (rc = sq_exec(s, "PRAGMA page_size=16384", err)) < 0)
			goto fail;
		rc = sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
		if (rc < 0)
			goto fail;
	}
	rc = sq_exec(s, "PRAGMA foreign_keys=ON; PRAGMA temp_store=FILE; PRAGMA cache_size=-32768;",
		     err);
	if (rc < 0)
		goto fail;
	if (!(flags & TIP_STORE_NOMIGRATE)) {
		int v;
		if ((rc = sq_schema_version(s, &v, err)) < 0)
			goto fail;
		if (v != sq_schema_latest()) {
			rc = tip_error_set(err, TIP_ESTORE,
					   v < sq_schema_latest()
						   ? "store %s is at schema version %d, this tip needs %d: run `tip init` to migrate it"
						   : "store %s is at schema version %d, newer than this tip knows (%d): upgrade tip",
					   s->path, v, sq_schema_latest());
			goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	tip_error_prefix(err, "cannot open store");
	sq_close(&s->base);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Transactions: nested begin/commit pairs are counted; only the outermost touches SQLite. */

static int sq_begin(struct tip_store *st, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	if (s->tx_depth++ > 0)
		return 0;
	int rc = sq_exec(s, (s->flags & TIP_STORE_READONLY) ? "BEGIN" : "BEGIN IMMEDIATE", err);
	if (rc < 0)
		s->tx_depth = 0;
	return rc;
}

/* Foreign keys back on after a bulk transaction. SQLite takes the pragma only outside a
 * transaction; it also expires the prepared statements, which prepare again when next used. */
static void fk_restore(struct sq_store *s)
{
	if (!s->fk_off)
		return;
	if (sq_exec(s, "PRAGMA foreign_keys=ON", NULL) < 0)
		tip_warnx("store: foreign-key checks could not be switched back on: %s",
			  sqlite3_errmsg(s->db));
	s->fk_off = false;
}

/* A bulk transaction (store.h): the references of what its caller writes are checked by the
 * store's bulk path itself, so SQLite's row-by-row foreign-key checks are off inside it. They
 * cost a B-tree descent per reference and row, opening and closing a cursor each time: on a
 * first load of 1M entries, 0.7-1.1 s of the sightings' 1.9-2.0 s (docs/performance.md). Nested
 * in another transaction, it is that one's part and changes nothing. */
static int sq_begin_bulk(struct tip_store *st, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	int rc;

	if (s->tx_depth > 0 || (s->flags & TIP_STORE_READONLY))
		return sq_begin(st, err);
	if ((rc = sq_exec(s, "PRAGMA foreign_keys=OFF", err)) < 0)
		return rc;
	s->fk_off = true;
	if ((rc = sq_begin(st, err)) < 0)
		fk_restore(s);
	return rc;
}

static int sq_commit(struct tip_store *st, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	if (s->tx_depth == 0)
		return tip_error_set(err, TIP_ESTORE, "store: commit without begin");
	if (--s->tx_depth > 0)
		return 0;
	int rc = sq_exec(s, "COMMIT", err);
	if (rc < 0) {
		sq_exec(s, "ROLLBACK", NULL);
	}
	fk_restore(s);
	return rc;
}

static int sq_rollback(struct tip_store *st)
{
	struct sq_store *s = sq_of(st);
	if (s->tx_depth == 0)
		return 0;
	s->tx_depth = 0;
	int rc = sq_exec(s, "ROLLBACK", NULL);
	fk_restore(s);
	return rc;
}

static int sq_schema_version_op(struct tip_store *st, int *version, struct tip_error *err)
{
	return sq_schema_version(sq_of(st), version, err);
}

static int sq_migrate_op(struct tip_store *st, int target, int *from, int *to,
			 struct tip_error *err)
{
	return sq_migrate(sq_of(st), target, from, to, err);
}

const struct store_ops store_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.schema_latest = sq_schema_latest,
	.close = sq_close,
	.schema_version = sq_schema_version_op,
	.migrate = sq_migrate_op,
	.begin = sq_begin,
	.begin_bulk = sq_begin_bulk,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.watch_add = sq_watch_add,
	.watch_add_many = sq_watch_add_many,
	.watch_rm = sq_watch_rm,
	.watch_list = sq_watch_list,
	.watch_get = sq_watch_get,
	.watch_count = sq_watch_count,
	.source_id = sq_source_id,
	.indicator_put = sq_indicator_put,
	.sighting_seen = sq_sighting_seen,
	.sighting_sweep = sq_sighting_sweep,
	.sightings = sq_sightings,
	.sightings_by_host = sq_sightings_by_host,
	.sightings_containing = sq_sightings_containing,
	.feed_put = sq_feed_put,
	.feed_rm = sq_feed_rm,
	.feed_list = sq_feed_list,
	.feed_get = sq_feed_get,
	.feed_result = sq_feed_result,
	.listing_begin = sq_listing_begin,
	.listing_seen = sq_listing_seen,
	.listing_hint = sq_listing_hint,
	.listing_settle = sq_listing_settle,
	.pdns_record = sq_pdns_record,
	.resolutions = sq_resolutions,
	.resolutions_by_value = sq_resolutions_by_value,
	.round_put = sq_round_put,
	.rounds = sq_rounds,
	.watch_due = sq_watch_due,
	.watch_resolved = sq_watch_resolved,
	.watch_resolved_batch = sq_watch_resolved_batch,
	.pdns_answer_batch = sq_pdns_answer_batch,
	.pdns_observe = sq_pdns_observe,
	.pdns_answer = sq_pdns_answer,
	.ipinfo_stale = sq_ipinfo_stale,
	.bulk = sq_bulk,
	.checkpoint = sq_checkpoint,
	.pdns_fold = sq_pdns_fold,
	.ipinfo_put = sq_ipinfo_put,
	.ipinfo_get = sq_ipinfo_get,
	.verdict_put = sq_verdict_put,
	.verdict_get = sq_verdict_get,
	.flux_scan = sq_flux_scan,
	.flux_verdict_put = sq_flux_verdict_put,
	.flux_list = sq_flux_list,
	.flux_history = sq_flux_history,
	.flux_events = sq_flux_events,
	.flux_pass_put = sq_flux_pass_put,
	.flux_pass_last = sq_flux_pass_last,
	.family_put = sq_family_put,
	.family_member = sq_family_member,
	.families = sq_families,
	.family_members = sq_family_members,
	.family_sizes = sq_family_sizes,
	.run_start = sq_run_start,
	.run_end = sq_run_end,
	.runs = sq_runs,
	.release_memory = sq_release_memory,
};
