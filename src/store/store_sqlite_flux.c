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

/* Unchanged answer sets (answer_set, schema 8). An answer whose set (set_hash and size, and the
 * same values) is the previous answer's for this watched domain and rrtype, with one TTL, costs
 * one UPDATE of its answer_set row by integer key (the watch row's id * 4 + the type's code),
 * its round included: pending counts such rounds since base_at, the round whose records were
 * last written into pdns; those records are exactly the pdns rows of (domain, rrtype) with
 * last_seen = base_at (one round per domain, rrtype and time). The rounds themselves (the base
 * round and the unchanged ones) are listed in the row's `rounds` text until they are written
 * into `round` (SQ_SET_ROUNDS_MAX of them, or when the set changes). A changed set first writes
 * out the listed rounds and folds the pending ones into the base records, then is written in
 * full and becomes the new base. Readers add the pending part (PDNS_SET_JOIN in
 * store_sqlite.h) and the listed rounds (sq_set_rounds_decode). Domains that are not watched
 * (tip resolve of any name) have no set row: their answers are written in full. */
static const char q_set_get[] =
	"SELECT " SQ_SET_COLS " FROM answer_set s WHERE s.id = ?1";
/* ?1 id, ?3 at, ?4 the records' TTL, ?5 set_hash, ?6 n, ?7 vals, ?8 the round's min_ttl */
#define SET_SAME                                                                               \
	"UPDATE answer_set SET pending = pending + 1, last_seen = ?3,"                           \
	" min_ttl = min(coalesce(min_ttl, ?4), ?4), max_ttl = max(coalesce(max_ttl, ?4), ?4),"   \
	" rounds = rounds || CASE WHEN n_rounds = 0 THEN ?3 || '/' || ?8"                         \
	"  ELSE (?3 - last_seen) || CASE WHEN last_ttl IS ?8 THEN '' ELSE '/' || ?8 END END || ';'," \
	" n_rounds = n_rounds + 1, last_ttl = ?8"                                                 \
	" WHERE id = ?1 AND set_hash = ?5 AND n = ?6 AND last_seen < ?3 AND vals = ?7"             \
	" AND n_rounds < " SQ_STR(SQ_SET_ROUNDS_MAX)
static const char q_set_same[] = SET_SAME;
/* q_set_same on a row not read first: only when its bucket has no log row it has not taken
 * (store_sqlite_log.c; another set's entries there send it the long way, which is right too) */
static const char q_set_same_fast[] =
	SET_SAME " AND NOT EXISTS (SELECT 1 FROM answer_log"
	" WHERE bucket = ?1 >> " SQ_STR(SQ_LOG_SHIFT) " AND seq > answer_set.log_seq)";
static const char q_set_fold[] =
	"UPDATE pdns SET count = count + ?4, last_seen = max(last_seen, ?5),"
	" min_ttl = min(min_ttl, ?6), max_ttl = max(max_ttl, ?7)"
	" WHERE domain = ?1 AND rrtype = ?2 AND last_seen = ?3";
/* ?1 id, ?2 set_hash, ?3 n, ?4 at, ?5 vals, ?6 base_new, ?7 the round's min_ttl; a row written
 * anew has taken every log row there is (SQ_LOG_NOW) */
static const char q_set_put[] =
	"INSERT OR REPLACE INTO answer_set (id, set_hash, n, base_at, base_new, pending, last_seen,"
	" last_ttl, vals, n_rounds, rounds, log_seq) VALUES (?1, ?2, ?3, ?4, ?6, 0, ?4, ?7, ?5, 1,"
	" ?4 || '/' || ?7 || ';', " SQ_LOG_NOW ")";
static const char q_set_new[] =
	"INSERT INTO answer_set (id, set_hash, n, base_at, base_new, pending, last_seen, last_ttl,"
	" vals, n_rounds, rounds, log_seq) VALUES (?1, ?2, ?3, ?4, ?6, 0, ?4, ?7, ?5, 1,"
	" ?4 || '/' || ?7 || ';', " SQ_LOG_NOW ") ON CONFLICT (id) DO NOTHING";
static const char q_set_base_new[] = "UPDATE answer_set SET base_new = ?2 WHERE id = ?1";
static const char q_set_clear[] =
	"UPDATE answer_set SET n_rounds = 0, rounds = '' WHERE id = ?1";
static const char q_set_del[] = "DELETE FROM answer_set WHERE id = ?1";
static const char q_set_exists[] =
	"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'answer_log'";
static const char q_watch_id[] = "SELECT id FROM watch WHERE domain = ?1";
static const char q_round_put_set[] =
	"INSERT OR REPLACE INTO round (domain, rrtype, at, outcome, n_records, n_new, min_ttl,"
	" set_hash) VALUES (?1, ?2, ?3, 'ok', ?4, ?5, ?6, ?7)";

void sq_set_row_read(sqlite3_stmt *q, int col, struct sq_set_row *p)
{
	const char *r = sq_col_text(q, col + 9);
	p->found = true;
	p->has_min_ttl = sqlite3_column_type(q, col + 6) != SQLITE_NULL;
	p->has_max_ttl = sqlite3_column_type(q, col + 7) != SQLITE_NULL;
	p->has_last_ttl = sqlite3_column_type(q, col + 10) != SQLITE_NULL;
	p->last_ttl = sqlite3_column_int64(q, col + 10);
	p->log_seq = sqlite3_column_int64(q, col + 11);
	p->hash = sqlite3_column_int64(q, col);
	p->n = sqlite3_column_int64(q, col + 1);
	p->base_at = sqlite3_column_int64(q, col + 2);
	p->base_new = sqlite3_column_int64(q, col + 3);
	p->pending = sqlite3_column_int64(q, col + 4);
	p->last_seen = sqlite3_column_int64(q, col + 5);
	p->min_ttl = sqlite3_column_int64(q, col + 6);
	p->max_ttl = sqlite3_column_int64(q, col + 7);
	p->n_rounds = sqlite3_column_int64(q, col + 8);
	p->rounds = tip_xstrdup(r ? r : "");
}

static void pset_free(struct sq_set_row *p)
{
	free(p->rounds);
	p->rounds = NULL;
}

/* Whether the store has answer_set and its log (a store opened at an older schema, e.g. by
 * bench_flux_write's reference, writes every record and round as before). */
static int set_table(struct sq_store *s, struct tip_error *err)
{
	int64_t n;
	if (s->pdns_set)
		return s->pdns_set > 0;
	if (sq_int(s, q_set_exists, &n, err, "answer set") < 0)
		return TIP_ESTORE;
	s->pdns_set = n > 0 ? 1 : -1;
	return s->pdns_set > 0;
}

int sq_pdns_has_sets(struct sq_store *s, struct tip_error *err)
{
	return set_table(s, err);
}

int sq_rrtype_code(const char *rrtype)
{
	if (!rrtype)
		return 0;
	if (!strcmp(rrtype, "A"))
		return 1;
	if (!strcmp(rrtype, "AAAA"))
		return 2;
	if (!strcmp(rrtype, "NS"))
		return 3;
	return 0;
}

const char *sq_rrtype_name(int code)
{
	static const char *const names[] = { NULL, "A", "AAAA", "NS" };
	return code >= 1 && code <= 3 ? names[code] : NULL;
}

int sq_watch_id(struct sq_store *s, const char *domain, int64_t *id, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_watch_id, err);
	int rc;
	*id = 0;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, err, "watch id");
}

/* The answer_set id of (domain, rrtype): 0 when it can have none (no answer_set table, a record
 * type without a code, a domain that is not watched). watch_id: the domain's, or 0 to look up. */
static int set_id(struct sq_store *s, int64_t watch_id, const char *domain, const char *rrtype,
		  int64_t *id, struct tip_error *err)
{
	int code = sq_rrtype_code(rrtype), rc;
	*id = 0;
	if (!code || (rc = set_table(s, err)) == 0)
		return 0;
	if (rc < 0)
		return rc;
	if (watch_id <= 0 && (rc = sq_watch_id(s, domain, &watch_id, err)) < 0)
		return rc;
	if (watch_id > 0)
		*id = watch_id * 4 + code;
	return 0;
}

/* The set row id of (domain, rrtype), read to be written: it takes its log entries first. */
static int set_get(struct sq_store *s, int64_t id, const char *domain, const char *rrtype,
		   struct sq_set_row *p, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_set_get, err);
	int rc;
	memset(p, 0, sizeof(*p));
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		sq_set_row_read(q, 0, p);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, err, "answer set");
	return sq_log_take(s, id, domain, rrtype, p, err);
}

int sq_set_rounds_decode(const char *text, const struct sq_set_rounds *sr, tip_time_t since,
			 int (*cb)(void *arg, const struct tip_round *r), void *arg)
{
	const char *p = text ? text : "";
	tip_time_t at = 0;
	int64_t ttl = -1;
	bool first = true;
	while (*p) {
		char *e;
		long long v = strtoll(p, &e, 10), t;
		if (e == p)
			return TIP_ESTORE;
		at = first ? (tip_time_t)v : at + (tip_time_t)v;
		first = false;
		p = e;
		if (*p == '/') {
			t = strtoll(p + 1, &e, 10);
			if (e == p + 1)
				return TIP_ESTORE;
			ttl = t;
			p = e;
		}
		if (*p != ';')
			return TIP_ESTORE;
		p++;
		if (at >= since) {
			struct tip_round r = {
				.domain = sr->domain,
				.rrtype = sr->rrtype,
				.at = at,
				.outcome = "ok",
				.n_records = sr->n,
				.n_new = at == sr->base_at ? sr->base_new : 0,
				.min_ttl = ttl,
				.set_hash = sr->set_hash,
			};
			int x = cb(arg, &r);
			if (x)
				return x;
		}
	}
	return 0;
}

struct flush_ctx {
	struct sq_store *s;
	struct tip_error *err;
};

static int flush_one(void *arg, const struct tip_round *r)
{
	struct flush_ctx *f = arg;
	sqlite3_stmt *q = sq_prep(f->s, q_round_put_set, f->err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, r->domain);
	sq_bind_text(q, 2, r->rrtype);
	sq_bind_int(q, 3, r->at);
	sq_bind_int(q, 4, r->n_records);
	sq_bind_int(q, 5, r->n_new);
	if (r->min_ttl >= 0)
		sq_bind_int(q, 6, r->min_ttl);
	sq_bind_int(q, 7, r->set_hash);
	return sq_done(f->s, q, f->err, "answer set rounds");
}

int sq_set_rounds_flush(struct sq_store *s, const char *domain, const char *rrtype,
			const struct sq_set_row *p, struct tip_error *err)
{
	struct flush_ctx f = { s, err };
	struct sq_set_rounds sr = { .domain = domain, .rrtype = rrtype, .n = p->n,
				    .base_at = p->base_at, .base_new = p->base_new,
				    .set_hash = p->hash };
	int rc;
	if (!p->found || p->n_rounds <= 0)
		return 0;
	rc = sq_set_rounds_decode(p->rounds, &sr, INT64_MIN, flush_one, &f);
	if (rc == TIP_ESTORE && !err->msg[0])
		return tip_error_set(err, TIP_ESTORE, "answer set of %s %s: bad round list",
				     domain, rrtype);
	return rc;
}

int sq_set_base_new(struct sq_store *s, int64_t id, int64_t base_new, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_set_base_new, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	sq_bind_int(q, 2, base_new);
	return sq_done(s, q, err, "answer set");
}

static int set_exec_id(struct sq_store *s, const char *sql, int64_t id, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	return sq_done(s, q, err, "answer set");
}

/* The pending rounds of p into the pdns rows of its base round. */
static int set_fold(struct sq_store *s, const char *domain, const char *rrtype,
		    const struct sq_set_row *p, struct tip_error *err)
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

/* Writes out what p's row holds (listed rounds, pending pdns rounds); deletes it if del. */
static int set_settle(struct sq_store *s, int64_t id, const char *domain, const char *rrtype,
		      const struct sq_set_row *p, bool del, struct tip_error *err)
{
	int rc;
	if (!p->found)
		return 0;
	if ((rc = sq_set_rounds_flush(s, domain, rrtype, p, err)) < 0 ||
	    (rc = set_fold(s, domain, rrtype, p, err)) < 0)
		return rc;
	return del ? set_exec_id(s, q_set_del, id, err) : 0;
}

int sq_pdns_set_drop(struct sq_store *s, const char *domain, const char *rrtype,
		     struct tip_error *err)
{
	struct sq_set_row p;
	int64_t id;
	int rc;
	if ((rc = set_id(s, 0, domain, rrtype, &id, err)) < 0 || !id)
		return rc;
	if ((rc = set_get(s, id, domain, rrtype, &p, err)) < 0 || !p.found) {
		pset_free(&p);
		return rc;
	}
	rc = set_settle(s, id, domain, rrtype, &p, true, err);
	pset_free(&p);
	return rc;
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

/* The set row made the base of the answer rd: 1 when written, 0 when not (DO NOTHING) */
static int set_put(struct sq_store *s, const char *sql, int64_t id, const struct tip_round *rd,
		   size_t n, const char *vals, int64_t base_new, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	sq_bind_int(q, 2, rd->set_hash);
	sq_bind_int(q, 3, (int64_t)n);
	sq_bind_int(q, 4, rd->at);
	sq_bind_text(q, 5, vals);
	sq_bind_int(q, 6, base_new);
	sq_bind_int(q, 7, rd->min_ttl);
	if ((rc = sq_done(s, q, err, "answer set put")) < 0)
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
	*n_new = news;
	return 0;
}

/* 1: counted as a round of the unchanged set; 0: the row is not that set (or its list is full) */
static int set_same(struct sq_store *s, const char *sql, int64_t id, const struct tip_round *rd,
		    size_t n, int64_t ttl, const char *vals, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, sql, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	sq_bind_int(q, 3, rd->at);
	sq_bind_int(q, 4, ttl);
	sq_bind_int(q, 5, rd->set_hash);
	sq_bind_int(q, 6, (int64_t)n);
	sq_bind_text(q, 7, vals);
	sq_bind_int(q, 8, rd->min_ttl);
	if ((rc = sq_done(s, q, err, "answer set same")) < 0)
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
char *sq_set_text(const struct tip_pdns_rec *rec, size_t n)
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

/* Only a complete, successful answer can be counted in a set row */
bool sq_set_answer(const struct tip_round *rd, size_t n)
{
	return !strcmp(rd->outcome, "ok") && rd->n_records == (int64_t)n && rd->set_hash != 0;
}

/* All the records have one TTL (an unchanged set's round keeps one) */
bool sq_one_ttl(const struct tip_pdns_rec *rec, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (rec[i].ttl != rec[0].ttl)
			return false;
	return true;
}

static int answer(struct sq_store *s, int64_t id, const struct tip_round *rd,
		  const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
		  const char *vals, struct tip_error *err);

int sq_pdns_answer(struct tip_store *st, int64_t watch_id, const struct tip_round *rd,
		   const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
		   struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	struct tip_round r = *rd;
	int64_t id = 0, news = 0;
	char *vals;
	int rc;

	if (n_new)
		*n_new = 0;
	if (is_new && n)
		memset(is_new, 0, n * sizeof(*is_new));
	if (n == 0) {
		r.n_new = 0;
		return sq_round_put(st, &r, err);
	}
	if (sq_set_answer(rd, n) &&
	    (rc = set_id(s, watch_id, rd->domain, rd->rrtype, &id, err)) < 0)
		return rc;
	if (!id) {
		if ((rc = sq_pdns_set_drop(s, rd->domain, rd->rrtype, err)) < 0 ||
		    (rc = observe_all(s, rd->domain, rd->rrtype, rd->at, rec, n, is_new, &news,
				      err)) < 0)
			return rc;
		r.n_new = news;
		if (n_new)
			*n_new = news;
		return sq_round_put(st, &r, err);
	}
	vals = sq_set_text(rec, n);
	rc = answer(s, id, &r, rec, n, is_new, &news, vals, err);
	free(vals);
	if (n_new)
		*n_new = news;
	return rc;
}

static int answer(struct sq_store *s, int64_t id, const struct tip_round *rd,
		  const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
		  const char *vals, struct tip_error *err)
{
	struct sq_set_row p = { 0 };
	bool same_ttl = sq_one_ttl(rec, n);
	int rc;

	/* the same set as last time (the same values, not only the same hash), one TTL, time not
	 * going backwards: count the round only. Tried first when the previous answer was such a
	 * one (answers come in long runs of one kind), which spares the SELECT; otherwise decided
	 * from the row. */
	if (same_ttl && s->pdns_set_same) {
		if ((rc = set_same(s, q_set_same_fast, id, rd, n, rec[0].ttl, vals, err)) != 0)
			return rc < 0 ? rc : 0;
	}
	/* no row yet (a first answer; tried first after one): the row is the new base, written
	 * as if every record were new (as on a new watch list's first pass), corrected if not */
	if (s->pdns_set_new) {
		if ((rc = set_put(s, q_set_new, id, rd, n, vals, (int64_t)n, err)) < 0)
			return rc;
		if (rc > 0) {
			if ((rc = observe_all(s, rd->domain, rd->rrtype, rd->at, rec, n, is_new, n_new,
					      err)) < 0)
				return rc;
			if (*n_new == (int64_t)n)
				return 0;
			return sq_set_base_new(s, id, *n_new, err);
		}
	}
	if ((rc = set_get(s, id, rd->domain, rd->rrtype, &p, err)) < 0)
		goto out;
	if (p.found && same_ttl && p.hash == rd->set_hash && p.n == (int64_t)n &&
	    rd->at > p.last_seen) {
		/* a full round list is written out first */
		if (p.n_rounds >= SQ_SET_ROUNDS_MAX &&
		    ((rc = sq_set_rounds_flush(s, rd->domain, rd->rrtype, &p, err)) < 0 ||
		     (rc = set_exec_id(s, q_set_clear, id, err)) < 0))
			goto out;
		if ((rc = set_same(s, q_set_same, id, rd, n, rec[0].ttl, vals, err)) < 0)
			goto out;
		if (rc > 0) {
			s->pdns_set_same = true;
			s->pdns_set_new = false;
			rc = 0;
			goto out;
		}
		/* same hash, other values: a collision, written as the changed set it is */
	}
	s->pdns_set_same = false;
	s->pdns_set_new = !p.found;
	if ((rc = set_settle(s, id, rd->domain, rd->rrtype, &p, false, err)) < 0 ||
	    (rc = observe_all(s, rd->domain, rd->rrtype, rd->at, rec, n, is_new, n_new, err)) < 0)
		goto out;
	rc = set_put(s, q_set_put, id, rd, n, vals, *n_new, err);
	if (rc > 0)
		rc = 0;
out:
	pset_free(&p);
	return rc;
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
		/* the sort on two threads (SQLite's sorter: one helper; the pass's loop is done by
		 * now): 3.5 s instead of 3.9-4.8 s for 3M records, ~33 MB more memory meanwhile */
		rc = sq_exec(s, "PRAGMA threads=1", err);
		if (rc == 0)
			rc = sq_exec(s, pdns_value_sql, err);
		sq_exec(s, "PRAGMA threads=0", NULL);
		if (rc < 0)
			return rc;
		s->pdns_value_off = false;
	}
	return sq_exec(s, "PRAGMA wal_autocheckpoint=1000; PRAGMA wal_checkpoint(PASSIVE)", err);
}

int sq_checkpoint(struct tip_store *st, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	/* BUSY: another checkpoint runs (the writer's own, at the end); nothing is lost */
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : sq_fail(s, err, "checkpoint");
}
