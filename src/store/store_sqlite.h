/* store_sqlite.h — inside src/store: the SQLite backend's handle and helpers, shared by its
 * files (one per area: watch, intel, pdns, runs). */
#ifndef TIP_STORE_SQLITE_H
#define TIP_STORE_SQLITE_H

#include <sqlite3.h>

#include "store_int.h"

struct sq_cache_ent {
	const char *sql; /* the static SQL text is the key: its address, not its content */
	sqlite3_stmt *stmt;
};

struct sq_store {
	struct tip_store base; /* first: a struct tip_store * is a struct sq_store * */
	sqlite3 *db;
	char *path;
	int flags;
	int tx_depth;
	bool fk_off; /* a bulk transaction turned foreign-key checks off (sq_begin_bulk) */
	struct sq_cache_ent *cache;
	size_t cache_cap, cache_n;
	struct sq_listing *listing; /* the listing pass in progress (store_sqlite_feeds.c) */
	bool listing_fn;            /* its SQL function tip_listing_key is registered */
	/* sq_pdns_answer_batch (store_sqlite_batch.c): its SQL functions are registered; the rows
	 * of its new-set statements in progress */
	bool answer_batch_fns;
	int answer_same_skip; /* batches to go one by one (few unchanged sets lately) */
	int answer_new_skip;  /* batches that try no new sets (few new sets lately) */
	struct sq_new_batch *answer_new;
	/* the row tables (sq_rows_use) registered on this connection */
	const struct sq_rows_def *rows_defs[16];
	size_t n_rows_defs;
	/* sq_pdns_observe: the last record was already known, so try the UPDATE first */
	bool pdns_known;
	/* sq_bulk: the pdns_value index was dropped for a first pass into an empty pdns table */
	bool pdns_value_off;
	/* answer_set exists (schema 8+): 0 not asked yet, 1 yes, -1 no (an older schema) */
	int pdns_set;
	/* sq_pdns_answer: the last answer was an unchanged set, so try its UPDATE first */
	bool pdns_set_same;
	/* sq_pdns_answer: the last answer had no set row yet, so try to insert one first */
	bool pdns_set_new;
};

/* Passive DNS as read: a pdns row p of an unchanged answer set (answer_set, schema 8, keyed by
 * the watch row's id * 4 + the record type's code) plus the rounds counted since it was last
 * written: those its set row counts (pending, here) and its entries in the answer log after
 * the row's log_seq (added in C from PDNS_SET_ID: the set row's id and log_seq, NULL when the
 * pdns row is not its set's base). Use with "FROM pdns p " PDNS_SET_JOIN. */
#define PDNS_SET_JOIN                                                                          \
	" LEFT JOIN watch sw ON sw.domain = p.domain LEFT JOIN answer_set s ON s.id = sw.id * 4" \
	" + CASE p.rrtype WHEN 'A' THEN 1 WHEN 'AAAA' THEN 2 WHEN 'NS' THEN 3 ELSE 0 END"          \
	" AND s.base_at = p.last_seen "
#define PDNS_LAST_SEEN " CASE WHEN s.pending > 0 THEN s.last_seen ELSE p.last_seen END "
#define PDNS_COUNT " p.count + coalesce(s.pending, 0) "
#define PDNS_MIN_TTL " CASE WHEN s.pending > 0 THEN min(p.min_ttl, s.min_ttl) ELSE p.min_ttl END "
#define PDNS_MAX_TTL " CASE WHEN s.pending > 0 THEN max(p.max_ttl, s.max_ttl) ELSE p.max_ttl END "
#define PDNS_SET_ID " s.id, s.log_seq "

static inline struct sq_store *sq_of(struct tip_store *st)
{
	return (struct sq_store *)st;
}

/* A prepared statement for `sql` (a string literal or static array: cached by address), reset
 * and with its bindings cleared. NULL on error, with err set. */
sqlite3_stmt *sq_prep(struct sq_store *s, const char *sql, struct tip_error *err);
/* Sets err from the connection's last error and returns TIP_ESTORE. */
int sq_fail(struct sq_store *s, struct tip_error *err, const char *what);
/* Runs a statement to completion (a write); 0 or TIP_ESTORE. */
int sq_done(struct sq_store *s, sqlite3_stmt *stmt, struct tip_error *err, const char *what);
int sq_exec(struct sq_store *s, const char *sql, struct tip_error *err);
/* Runs a query (no parameters; cached as sq_prep) and gives its first row's first column as an
 * integer (0 without a row or for NULL); 0 or TIP_ESTORE naming `what`. */
int sq_int(struct sq_store *s, const char *sql, int64_t *v, struct tip_error *err,
	   const char *what);

/* Binding helpers: text NULL binds NULL; text is copied only for the step (STATIC). */
void sq_bind_text(sqlite3_stmt *st, int i, const char *v);
void sq_bind_int(sqlite3_stmt *st, int i, int64_t v);
/* An indicator's columns as parameters 1-7: type, value, host, registrable, family, addr,
 * prefix (NULL where they do not apply, and host and registrable NULL where they are the value
 * itself: schema 9), in the order of the indicator table. */
void sq_bind_indicator(sqlite3_stmt *st, const struct tip_indicator *ind);
/* Column text, NULL for SQL NULL. */
const char *sq_col_text(sqlite3_stmt *st, int i);

/* A C array as a table for one statement (store_sqlite_rows.c): the table-valued function
 * def->name(?) over rows of cells, one per character of def->types ('i' int64, 't' text that
 * outlives the statement, NULL for SQL NULL). def->decl declares the columns in that order plus
 * a last HIDDEN one, e.g. "CREATE TABLE x (id INTEGER, name TEXT, rows HIDDEN)". sq_rows_use
 * registers it on the connection (before a statement that names it is prepared); sq_rows_bind
 * binds the array to parameter `param` (unbind it, e.g. bind NULL, before the array goes). */
union sq_cell {
	int64_t i;
	const char *s;
};
struct sq_rows_def {
	const char *name, *decl, *types;
};
struct sq_rows {
	const union sq_cell *cell; /* n rows of strlen(types) cells */
	size_t n;
	/* or rows made one at a time (cell unused): next() makes the next row current (the first
	 * at the first call) and returns 1, 0 past the last, or -1 with *msg (sqlite3_mprintf'd);
	 * column() gives cell col of the current row */
	int (*next)(void *arg, char **msg);
	void (*column)(void *arg, sqlite3_context *cx, int col);
	void *arg;
};
int sq_rows_use(struct sq_store *s, const struct sq_rows_def *def, struct tip_error *err);
int sq_rows_bind(struct sq_store *s, sqlite3_stmt *q, int param, const struct sq_rows_def *def,
		 const struct sq_rows *rows, struct tip_error *err);
/* sql, whose ?1 is def's table over rows: prepared and bound for the caller to step (then to
 * reset and unbind ?1: no pointer to its array left behind), or NULL with err set; _run: run to
 * its end over n rows of cells (a write), unbound after. */
sqlite3_stmt *sq_rows_query(struct sq_store *s, const char *sql, const struct sq_rows_def *def,
			    const struct sq_rows *rows, struct tip_error *err);
int sq_rows_run(struct sq_store *s, const char *sql, const struct sq_rows_def *def,
		const union sq_cell *cells, size_t n, const char *what, struct tip_error *err);

/* The entries a listing pass writes, sorted by (type, value) in bounded memory
 * (store_sqlite_sort.c): sq_sort_add copies an entry in (a full chunk of memory is sorted and
 * written to a temporary file); sq_sort_rewind starts a merge (again; no entry is added once
 * the first began); sq_sort_next gives the
 * next distinct key's entry (1; 0 at the end; < 0 with err set): an entry listed twice once,
 * with the attributes its later listings gave and its last listing's attribute hash. What it
 * points to is valid until the next call. host and registrable are NULL where they are the
 * value (schema 9). */
struct sq_sort_ent {
	int type, family, prefix;
	const uint8_t *addr; /* 16 bytes when family (IPv4 in the first 4) */
	const char *value, *host, *registrable, *category, *threat, *tags;
	int64_t listed_since; /* 0: none */
	uint64_t h;           /* the listing snapshot's key hash and attribute hash */
	uint32_t h2, ah;
	/* sq_sort_add: registrable is NULL and left for the sort thread to find from the host (or
	 * from the value where host is NULL); a domain host is needed */
	bool registrable_later;
};
struct sq_sort;
/* chunk: the bytes of entries a chunk holds (0: the default, 8 MiB; the tests take less) */
struct sq_sort *sq_sort_new(size_t chunk);
void sq_sort_free(struct sq_sort *so);
int sq_sort_add(struct sq_sort *so, const struct sq_sort_ent *e, struct tip_error *err);
int sq_sort_rewind(struct sq_sort *so, struct tip_error *err);
int sq_sort_next(struct sq_sort *so, const struct sq_sort_ent **e, struct tip_error *err);
/* An indicator's host and registrable domain as stored: NULL where empty or the value itself
 * (schema 9); buf holds a registrable domain computed now (registrable_pending). */
const char *sq_ind_host(const struct tip_indicator *ind);
const char *sq_ind_registrable(const struct tip_indicator *ind, char *buf, size_t len);

/* Frees the state of a listing pass (store_sqlite_feeds.c); NULL is fine. */
void sq_listing_free(struct sq_listing *l);
/* Forgets a source's listing snapshot: any write to its sightings outside a listing pass
 * must call it, so that the next pass rebuilds the snapshot from the sighting rows. */
int sq_listing_forget(struct sq_store *s, int64_t source_id, struct tip_error *err);

/* The migrations (store_sqlite_schema.c). */
int sq_schema_latest(void);
int sq_schema_version(struct sq_store *s, int *version, struct tip_error *err);
int sq_migrate(struct sq_store *s, int target, int *from, int *to, struct tip_error *err);

/* Area implementations, wired into the ops table in store_sqlite.c. */
int sq_watch_add_many(struct tip_store *st, const char *const *domains, size_t n,
		      const char *source, tip_time_t now, struct tip_watch_counts *counts,
		      struct tip_error *err);
int sq_watch_add(struct tip_store *st, const char *domain, const char *source, tip_time_t now,
		 enum tip_watch_result *result, struct tip_error *err);
int sq_watch_rm(struct tip_store *st, const char *domain, tip_time_t now, bool *removed,
		struct tip_error *err);
int sq_watch_list(struct tip_store *st, bool all, tip_watch_cb cb, void *arg,
		  struct tip_error *err);
int sq_watch_get(struct tip_store *st, const char *domain, tip_watch_cb cb, void *arg,
		 struct tip_error *err);
int sq_watch_count(struct tip_store *st, int64_t *active, struct tip_error *err);

int sq_source_id(struct tip_store *st, const char *name, const char *kind, int64_t *id,
		 struct tip_error *err);
int sq_indicator_put(struct tip_store *st, const struct tip_indicator *ind, tip_time_t now,
		     int64_t *id, struct tip_error *err);
int sq_sighting_seen(struct tip_store *st, int64_t source_id, int64_t indicator_id,
		     tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
		     enum tip_sighting_state *state, struct tip_error *err);
int sq_sighting_sweep(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
		      int64_t *removed, struct tip_error *err);
int sq_sightings(struct tip_store *st, enum tip_ind_type type, const char *value,
		 tip_sighting_cb cb, void *arg, struct tip_error *err);
int sq_sightings_by_host(struct tip_store *st, const char *host, tip_sighting_cb cb, void *arg,
			 struct tip_error *err);
int sq_sightings_containing(struct tip_store *st, int family, const uint8_t *addr,
			    tip_sighting_cb cb, void *arg, struct tip_error *err);

int sq_feed_put(struct tip_store *st, const char *name, const char *url, const char *format,
		int64_t interval_s, const char *options, const char *origin, bool enabled,
		tip_time_t now, int64_t *id, struct tip_error *err);
int sq_feed_rm(struct tip_store *st, const char *name, tip_time_t now, bool *removed,
	       struct tip_error *err);
int sq_feed_list(struct tip_store *st, bool all, tip_feed_cb cb, void *arg, struct tip_error *err);
int sq_feed_get(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg,
		struct tip_error *err);
int sq_feed_result(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r,
		   struct tip_error *err);
int sq_listing_begin(struct tip_store *st, int64_t source_id, uint64_t tag, bool *same_tag,
		     struct tip_error *err);
int sq_listing_seen(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind,
		    tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
		    struct tip_error *err);
void sq_listing_hint(struct tip_store *st, enum tip_ind_type type, const char *value);
int sq_listing_settle(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
		      struct tip_listing_counts *counts, struct tip_error *err);

int sq_pdns_record(struct tip_store *st, const char *domain, const char *rrtype,
		   const char *value, int64_t ttl, tip_time_t now, struct tip_error *err);
int sq_resolutions(struct tip_store *st, const char *domain, tip_resolution_cb cb, void *arg,
		   struct tip_error *err);
int sq_resolutions_by_value(struct tip_store *st, const char *value, tip_resolution_cb cb,
			    void *arg, struct tip_error *err);
int sq_round_put(struct tip_store *st, const struct tip_round *r, struct tip_error *err);
int sq_rounds(struct tip_store *st, const char *domain, tip_time_t since, tip_round_cb cb,
	      void *arg, struct tip_error *err);
int sq_ipinfo_put(struct tip_store *st, const struct tip_ipinfo *info, struct tip_error *err);
int sq_ipinfo_get(struct tip_store *st, const char *addr, tip_ipinfo_cb cb, void *arg,
		  struct tip_error *err);
int sq_verdict_put(struct tip_store *st, const struct tip_verdict *v, struct tip_error *err);
int sq_verdict_get(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg,
		   struct tip_error *err);

/* Flux classification, pass 2 (store_sqlite_classify.c). */
int sq_flux_scan(struct tip_store *st, tip_time_t since, tip_flux_domain_cb cb, void *arg,
		 struct tip_error *err);
int sq_flux_verdict_put(struct tip_store *st, const struct tip_verdict *v, const char **old,
			struct tip_error *err);
int sq_flux_list(struct tip_store *st, bool all, tip_verdict_cb cb, void *arg,
		 struct tip_error *err);
int sq_flux_history(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg,
		    struct tip_error *err);
int sq_flux_events(struct tip_store *st, const char *domain, int limit, tip_flux_event_cb cb,
		   void *arg, struct tip_error *err);
int sq_flux_pass_last(struct tip_store *st, struct tip_flux_pass *p, struct tip_error *err);
int sq_flux_pass_put(struct tip_store *st, const struct tip_flux_pass *p, struct tip_error *err);
int sq_family_put(struct tip_store *st, const char *name, tip_time_t at, int64_t n_domains,
		  int64_t n_agents, struct tip_error *err);
int sq_family_member(struct tip_store *st, const char *name, const char *kind, const char *value,
		     tip_time_t at, struct tip_error *err);
int sq_families(struct tip_store *st, bool all, tip_family_cb cb, void *arg,
		struct tip_error *err);
int sq_family_members(struct tip_store *st, const char *name, tip_family_member_cb cb, void *arg,
		      struct tip_error *err);
int sq_family_sizes(struct tip_store *st, const char *name, tip_family_size_cb cb, void *arg,
		    struct tip_error *err);

int sq_run_start(struct tip_store *st, const char *module, int64_t pid, tip_time_t started,
		 int64_t *id, struct tip_error *err);
int sq_run_end(struct tip_store *st, int64_t id, tip_time_t ended, const char *status,
	       int64_t exit_code, int64_t signal, int64_t items, const char *error,
	       struct tip_error *err);
void sq_release_memory(struct tip_store *st);
int sq_runs(struct tip_store *st, const char *module, int limit, tip_run_cb cb, void *arg,
	    struct tip_error *err);

/* store_sqlite_flux.c, store_sqlite_batch.c: fast-flux pass 1 */
int sq_watch_due(struct tip_store *st, tip_time_t now, int64_t after_id, int limit,
		 tip_watch_due_cb cb, void *arg, struct tip_error *err);
int sq_watch_resolved(struct tip_store *st, int64_t id, const char *domain, tip_time_t at,
		      tip_time_t next_due, const char *outcome, struct tip_error *err);
int sq_watch_resolved_batch(struct tip_store *st, struct tip_watch_done *v, size_t n,
			    struct tip_error *err);
int sq_pdns_answer(struct tip_store *st, int64_t watch_id, const struct tip_round *rd,
		   const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
		   struct tip_error *err);
int sq_pdns_answer_batch(struct tip_store *st, struct tip_answer *a, size_t n,
			 struct tip_error *err);
/* The record types an answer_set row can hold: 1 A, 2 AAAA, 3 NS; 0 for any other. */
int sq_rrtype_code(const char *rrtype);
const char *sq_rrtype_name(int code);
/* The watch row's id of domain, 0 when it is not in the list. */
int sq_watch_id(struct sq_store *s, const char *domain, int64_t *id, struct tip_error *err);
/* An answer_set row as read (store_sqlite_flux.c, store_sqlite_batch.c, store_sqlite_log.c):
 * sq_set_row_read fills it from a statement's columns col .. col + 11, SQ_SET_COLS of the row
 * aliased s (min_ttl, max_ttl and last_ttl may be NULL: has_*); rounds is malloc'd */
#define SQ_SET_COLS                                                                          \
	"s.set_hash, s.n, s.base_at, s.base_new, s.pending, s.last_seen, s.min_ttl, s.max_ttl," \
	" s.n_rounds, s.rounds, s.last_ttl, s.log_seq"
struct sq_set_row {
	bool found, has_min_ttl, has_max_ttl, has_last_ttl;
	int64_t hash, n, base_at, base_new, pending, last_seen, min_ttl, max_ttl, n_rounds;
	int64_t last_ttl, log_seq;
	char *rounds;
};
void sq_set_row_read(sqlite3_stmt *q, int col, struct sq_set_row *p);
/* The rounds an answer_set row lists (its `rounds` text) that are at or after since, oldest
 * first, each passed to cb (which returns non-zero to stop: that value is returned). */
struct sq_set_rounds {
	const char *domain, *rrtype;
	int64_t n, base_at, base_new, set_hash;
};
/* The rounds listed by the answer_set rows of domain, at or after since (any order). */
int sq_set_rounds_of(struct sq_store *s, const char *domain, tip_time_t since,
		     int (*cb)(void *arg, const struct tip_round *r), void *arg,
		     struct tip_error *err);
int sq_set_rounds_decode(const char *text, const struct sq_set_rounds *sr, tip_time_t since,
			 int (*cb)(void *arg, const struct tip_round *r), void *arg);
/* 1 when the store has answer_set and answer_log (schema 10+), 0 when not (a store opened at
 * an older schema without migrating writes every record and round in full) */
int sq_pdns_has_sets(struct sq_store *s, struct tip_error *err);
/* Writes out what the answer_set row of (domain, rrtype) holds — its listed rounds into round,
 * its pending rounds into pdns — and deletes it (store_sqlite_flux.c): before pdns is written
 * other than by sq_pdns_answer. */
int sq_pdns_set_drop(struct sq_store *s, const char *domain, const char *rrtype,
		     struct tip_error *err);
/* What the one-by-one answer path (store_sqlite_flux.c) and the batches (store_sqlite_batch.c)
 * share. An answer_set row lists at most SQ_SET_ROUNDS_MAX rounds. sq_set_answer: the round is
 * a complete, successful answer with a set hash, so a set row can count it; sq_one_ttl: all
 * its records have one TTL; sq_set_text: its values sorted and joined with '\n' (malloc'd), the
 * set's identity beside its hash; sq_set_base_new: a set row's count of new records in its base
 * round. */
#define SQ_SET_ROUNDS_MAX 32
#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)
bool sq_set_answer(const struct tip_round *rd, size_t n);
bool sq_one_ttl(const struct tip_pdns_rec *rec, size_t n);
char *sq_set_text(const struct tip_pdns_rec *rec, size_t n);
int sq_set_base_new(struct sq_store *s, int64_t id, int64_t base_new, struct tip_error *err);
int sq_pdns_observe(struct tip_store *st, const char *domain, const char *rrtype,
		    const char *value, int64_t ttl, tip_time_t now, bool *is_new,
		    struct tip_error *err);
/* The listed rounds of p's row into `round` (the row is left as it is). */
int sq_set_rounds_flush(struct sq_store *s, const char *domain, const char *rrtype,
			const struct sq_set_row *p, struct tip_error *err);

/* The answer log (store_sqlite_log.c, schema 10): unchanged rounds appended by the batch writer
 * as fixed-width entries (SQ_LOG_ENT characters: set id, time, TTL, round's min TTL), one
 * answer_log row a batch and bucket of set ids (id >> SQ_LOG_SHIFT), taken by the set rows
 * later. A set row's log_seq: the last log row it has taken. */
#define SQ_LOG_ENT 53
/* the log's last row (0 when it is empty): where a set row written anew starts */
#define SQ_LOG_NOW "(SELECT coalesce(max(seq), 0) FROM answer_log)"
#define SQ_LOG_SHIFT 8
struct sq_log_ent {
	int64_t id, seq, at, ttl, rttl;
};
struct sq_log_vec {
	struct sq_log_ent *e;
	size_t n, cap;
};
void sq_log_vec_free(struct sq_log_vec *v);
/* whether an entry's fields fit their widths (one that does not goes one by one) */
bool sq_log_fits(const struct sq_log_ent *e);
/* Appends entries (in id order, one an id): a row per bucket. */
int sq_log_append(struct sq_store *s, const struct sq_log_ent *e, size_t n, struct tip_error *err);
/* The entries of set id in log rows after `after`, in order, added to v; *last_row: the last
 * row of id's bucket looked at (after, if none). */
int sq_log_of(struct sq_store *s, int64_t id, int64_t after, struct sq_log_vec *v,
	      int64_t *last_row, struct tip_error *err);
/* p (row id as read) with its pending log entries applied in memory: what a reader sees. */
int sq_log_merge(struct sq_store *s, int64_t id, struct sq_set_row *p, struct tip_error *err);
/* p (row id of domain and rrtype, as read) takes its pending log entries and is written back
 * (full round lists into `round`): before any other write of the row. */
int sq_log_take(struct sq_store *s, int64_t id, const char *domain, const char *rrtype,
		struct sq_set_row *p, struct tip_error *err);
/* Every set row takes its entries and the log is emptied, all or nothing (a transaction of
 * its own begun IMMEDIATE, or a savepoint in the caller's). How many entries there were, or an
 * error. sq_pdns_fold (tip_store_pdns_fold): the same, only when the log holds more than
 * per_set - 1 entries a set row on average (per_set passes' worth: a few answers of a pass go
 * one by one, into their rows). */
int sq_log_fold_all(struct sq_store *s, struct tip_error *err);
int sq_pdns_fold(struct tip_store *st, int per_set, struct tip_error *err);
int sq_bulk(struct tip_store *st, bool on, struct tip_error *err);
int sq_checkpoint(struct tip_store *st, struct tip_error *err);
int sq_ipinfo_stale(struct tip_store *st, const char *db, const char *db_version, int limit,
		    tip_ipinfo_stale_cb cb, void *arg, struct tip_error *err);

#endif
