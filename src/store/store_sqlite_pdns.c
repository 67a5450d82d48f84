/* store_sqlite_pdns.c — passive DNS, the IP enrichment cache and flux verdicts in SQLite. */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

static const char q_pdns_upsert[] =
	"INSERT INTO pdns (domain, rrtype, value, first_seen, last_seen, count, min_ttl, max_ttl)"
	" VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5, ?5)"
	" ON CONFLICT (domain, rrtype, value) DO UPDATE SET"
	" first_seen = min(first_seen, excluded.first_seen),"
	" last_seen = max(last_seen, excluded.last_seen), count = count + 1,"
	" min_ttl = min(min_ttl, excluded.min_ttl), max_ttl = max(max_ttl, excluded.max_ttl)";
#define RES_COLS                                                                             \
	"SELECT p.domain, p.rrtype, p.value, p.first_seen," PDNS_LAST_SEEN "," PDNS_COUNT ","   \
	PDNS_MIN_TTL "," PDNS_MAX_TTL ", coalesce(i.asn, 0), i.as_name, i.cc," PDNS_SET_ID        \
	" FROM pdns p"                                                                           \
	PDNS_SET_JOIN " LEFT JOIN ipinfo i ON i.addr = p.value AND p.rrtype IN ('A', 'AAAA') "
static const char q_res_domain[] =
	RES_COLS "WHERE p.domain = ?1 ORDER BY p.rrtype, p.first_seen, p.value";
static const char q_res_value[] =
	RES_COLS "WHERE p.value = ?1 ORDER BY p.first_seen, p.domain";
static const char q_round_put[] =
	"INSERT OR REPLACE INTO round (domain, rrtype, at, outcome, n_records, n_new, min_ttl,"
	" set_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char q_rounds[] =
	"SELECT domain, rrtype, at, outcome, n_records, n_new, coalesce(min_ttl, -1),"
	" coalesce(set_hash, 0) FROM round WHERE domain = ?1 AND at >= ?2 ORDER BY at, rrtype";
static const char q_ipinfo_put[] =
	"INSERT INTO ipinfo (addr, asn, as_name, cc, db, db_version, updated)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (addr) DO UPDATE SET"
	" asn = excluded.asn, as_name = excluded.as_name, cc = excluded.cc, db = excluded.db,"
	" db_version = excluded.db_version, updated = excluded.updated";
static const char q_ipinfo_get[] =
	"SELECT addr, coalesce(asn, 0), as_name, cc, db, db_version, updated FROM ipinfo"
	" WHERE addr = ?1";
static const char q_verdict_get[] =
	"SELECT v.domain, v.at, v.verdict, v.score, v.n_a, v.n_asn, v.n_ns, v.n_cc, v.fluxiness,"
	" coalesce(v.min_ttl, -1), v.rounds, v.double_flux, v.why, v.family, c.since"
	" FROM flux_current c JOIN verdict v ON v.domain = c.domain AND v.at = c.at"
	" WHERE c.domain = ?1";

int sq_pdns_record(struct tip_store *st, const char *domain, const char *rrtype,
		   const char *value, int64_t ttl, tip_time_t now, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q;
	int rc;
	if ((rc = sq_pdns_set_drop(s, domain, rrtype, err)) < 0)
		return rc;
	if (!(q = sq_prep(s, q_pdns_upsert, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	sq_bind_text(q, 2, rrtype);
	sq_bind_text(q, 3, value);
	sq_bind_int(q, 4, now);
	sq_bind_int(q, 5, ttl);
	return sq_done(s, q, err, "pdns record");
}

/* The answer log's part of a pdns row that is its set's base: the entries of set id after
 * log_seq, summed into *r. The last set's sum is kept in *c (a set's records come together). */
struct log_sum {
	int64_t id, n, last, min_ttl, max_ttl;
};

static int res_log(struct sq_store *s, sqlite3_stmt *q, struct log_sum *c, struct tip_resolution *r,
		   struct tip_error *err)
{
	int64_t id;
	if (sqlite3_column_type(q, 11) == SQLITE_NULL)
		return 0;
	id = sqlite3_column_int64(q, 11);
	if (id != c->id) {
		struct sq_log_vec v = { 0 };
		int rc = sq_log_of(s, id, sqlite3_column_int64(q, 12), &v, NULL, err);
		if (rc < 0) {
			sq_log_vec_free(&v);
			return rc;
		}
		*c = (struct log_sum){ .id = id, .n = (int64_t)v.n };
		for (size_t i = 0; i < v.n; i++) {
			if (i == 0 || v.e[i].at > c->last)
				c->last = v.e[i].at;
			if (i == 0 || v.e[i].ttl < c->min_ttl)
				c->min_ttl = v.e[i].ttl;
			if (i == 0 || v.e[i].ttl > c->max_ttl)
				c->max_ttl = v.e[i].ttl;
		}
		sq_log_vec_free(&v);
	}
	if (!c->n)
		return 0;
	r->count += c->n;
	if (c->last > r->last_seen)
		r->last_seen = c->last;
	if (c->min_ttl < r->min_ttl)
		r->min_ttl = c->min_ttl;
	if (c->max_ttl > r->max_ttl)
		r->max_ttl = c->max_ttl;
	return 0;
}

static int res_rows(struct sq_store *s, sqlite3_stmt *q, tip_resolution_cb cb, void *arg,
		    struct tip_error *err)
{
	struct log_sum ls = { 0 };
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_resolution r = {
			.domain = sq_col_text(q, 0),
			.rrtype = sq_col_text(q, 1),
			.value = sq_col_text(q, 2),
			.first_seen = sqlite3_column_int64(q, 3),
			.last_seen = sqlite3_column_int64(q, 4),
			.count = sqlite3_column_int64(q, 5),
			.min_ttl = sqlite3_column_int64(q, 6),
			.max_ttl = sqlite3_column_int64(q, 7),
			.asn = sqlite3_column_int64(q, 8),
			.as_name = sq_col_text(q, 9),
			.cc = sq_col_text(q, 10),
		};
		int x = res_log(s, q, &ls, &r, err);
		if (x == 0)
			x = cb(arg, &r);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "resolutions");
}

int sq_resolutions(struct tip_store *st, const char *domain, tip_resolution_cb cb, void *arg,
		   struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_res_domain, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	return res_rows(s, q, cb, arg, err);
}

int sq_resolutions_by_value(struct tip_store *st, const char *value, tip_resolution_cb cb,
			    void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_res_value, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, value);
	return res_rows(s, q, cb, arg, err);
}

int sq_round_put(struct tip_store *st, const struct tip_round *r, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_round_put, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, r->domain);
	sq_bind_text(q, 2, r->rrtype);
	sq_bind_int(q, 3, r->at);
	sq_bind_text(q, 4, r->outcome);
	sq_bind_int(q, 5, r->n_records);
	sq_bind_int(q, 6, r->n_new);
	if (r->min_ttl >= 0)
		sq_bind_int(q, 7, r->min_ttl);
	if (r->set_hash)
		sq_bind_int(q, 8, r->set_hash);
	return sq_done(s, q, err, "round put");
}

/* A domain's rounds: the `round` rows and those its answer_set rows list, merged by time. */
struct rlist {
	struct tip_round *r;
	size_t n, cap;
};

static int rlist_add(void *arg, const struct tip_round *r)
{
	struct rlist *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->r = tip_xrealloc(l->r, l->cap * sizeof(*l->r));
	}
	l->r[l->n] = *r;
	/* strings of `round` rows live only until the next step */
	l->r[l->n].rrtype = tip_xstrdup(r->rrtype ? r->rrtype : "");
	l->r[l->n].outcome = tip_xstrdup(r->outcome ? r->outcome : "");
	l->n++;
	return 0;
}

static int rcmp_time(const void *a, const void *b)
{
	const struct tip_round *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return strcmp(x->rrtype, y->rrtype);
}

/* every set row of the domain: its log entries may list rounds it does not */
static const char q_set_rounds[] =
	"SELECT s.id, " SQ_SET_COLS " FROM answer_set s WHERE s.id BETWEEN ?1 * 4 + 1 AND ?1 * 4 + 3";

int sq_set_rounds_of(struct sq_store *s, const char *domain, tip_time_t since,
		     int (*cb)(void *arg, const struct tip_round *r), void *arg,
		     struct tip_error *err)
{
	sqlite3_stmt *q;
	int64_t wid;
	int rc;
	if ((rc = sq_pdns_has_sets(s, err)) <= 0)
		return rc;
	if ((rc = sq_watch_id(s, domain, &wid, err)) < 0 || !wid)
		return rc;
	if (!(q = sq_prep(s, q_set_rounds, err)))
		return TIP_ESTORE;
	sq_bind_int(q, 1, wid);
	/* the rows first (at most three), then each with its log entries */
	struct sq_set_row p[3];
	int64_t id[3];
	int n = 0, x = 0;
	while (n < 3 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		id[n] = sqlite3_column_int64(q, 0);
		sq_set_row_read(q, 1, &p[n++]);
	}
	sqlite3_reset(q);
	if (n < 3 && rc != SQLITE_DONE)
		x = sq_fail(s, err, "answer set rounds");
	for (int i = 0; i < n && x == 0; i++) {
		struct sq_set_rounds sr = {
			.domain = domain, .rrtype = sq_rrtype_name((int)(id[i] & 3)),
			.set_hash = p[i].hash, .n = p[i].n, .base_at = p[i].base_at,
			.base_new = p[i].base_new,
		};
		if ((x = sq_log_merge(s, id[i], &p[i], err)) < 0)
			break;
		if (p[i].last_seen < since)
			continue;
		x = sq_set_rounds_decode(p[i].rounds, &sr, since, cb, arg);
		if (x == TIP_ESTORE)
			x = tip_error_set(err, TIP_ESTORE, "answer set of %s: bad round list", domain);
	}
	for (int i = 0; i < n; i++)
		free(p[i].rounds);
	return x;
}

int sq_rounds(struct tip_store *st, const char *domain, tip_time_t since, tip_round_cb cb,
	      void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_rounds, err);
	struct rlist l = { 0 };
	int rc, x = 0;
	if (!q)
		return TIP_ESTORE;
	/* one snapshot for the round rows, the set rows and their log entries (a writer between
	 * them could move rounds from one to the other) */
	if ((rc = sq_exec(s, "SAVEPOINT tip_rounds", err)) < 0)
		return rc;
	sq_bind_text(q, 1, domain);
	sq_bind_int(q, 2, since);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_round r = {
			.domain = domain,
			.rrtype = sq_col_text(q, 1),
			.at = sqlite3_column_int64(q, 2),
			.outcome = sq_col_text(q, 3),
			.n_records = sqlite3_column_int64(q, 4),
			.n_new = sqlite3_column_int64(q, 5),
			.min_ttl = sqlite3_column_int64(q, 6),
			.set_hash = sqlite3_column_int64(q, 7),
		};
		rlist_add(&l, &r);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		x = sq_fail(s, err, "rounds");
	else
		x = sq_set_rounds_of(s, domain, since, rlist_add, &l, err);
	if (sq_exec(s, "RELEASE tip_rounds", x < 0 ? NULL : err) < 0 && x == 0)
		x = TIP_ESTORE;
	if (x == 0 && l.n > 1)
		qsort(l.r, l.n, sizeof(*l.r), rcmp_time);
	for (size_t i = 0; i < l.n && x == 0; i++)
		x = cb(arg, &l.r[i]);
	for (size_t i = 0; i < l.n; i++) {
		free((char *)l.r[i].rrtype);
		free((char *)l.r[i].outcome);
	}
	free(l.r);
	return x;
}

int sq_ipinfo_put(struct tip_store *st, const struct tip_ipinfo *i, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_ipinfo_put, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, i->addr);
	if (i->asn)
		sq_bind_int(q, 2, i->asn);
	sq_bind_text(q, 3, i->as_name);
	sq_bind_text(q, 4, i->cc);
	sq_bind_text(q, 5, i->db ? i->db : "unknown");
	sq_bind_text(q, 6, i->db_version);
	sq_bind_int(q, 7, i->updated ? i->updated : tip_now());
	return sq_done(s, q, err, "ipinfo put");
}

int sq_ipinfo_get(struct tip_store *st, const char *addr, tip_ipinfo_cb cb, void *arg,
		  struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_ipinfo_get, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, addr);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		struct tip_ipinfo i = {
			.addr = sq_col_text(q, 0),
			.asn = sqlite3_column_int64(q, 1),
			.as_name = sq_col_text(q, 2),
			.cc = sq_col_text(q, 3),
			.db = sq_col_text(q, 4),
			.db_version = sq_col_text(q, 5),
			.updated = sqlite3_column_int64(q, 6),
		};
		rc = cb(arg, &i);
		sqlite3_reset(q);
		return rc;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? TIP_ENOTFOUND : sq_fail(s, err, "ipinfo get");
}

/* One path for every verdict: pass 2's (store_sqlite_classify.c) writes all the features and
 * the verdict-change event; this entry point is the same write without asking what changed. */
int sq_verdict_put(struct tip_store *st, const struct tip_verdict *v, struct tip_error *err)
{
	return sq_flux_verdict_put(st, v, NULL, err);
}

int sq_verdict_get(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg,
		   struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_verdict_get, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		struct tip_verdict v = {
			.domain = sq_col_text(q, 0),
			.at = sqlite3_column_int64(q, 1),
			.verdict = sq_col_text(q, 2),
			.score = sqlite3_column_double(q, 3),
			.n_a = sqlite3_column_int64(q, 4),
			.n_asn = sqlite3_column_int64(q, 5),
			.n_ns = sqlite3_column_int64(q, 6),
			.n_cc = sqlite3_column_int64(q, 7),
			.fluxiness = sqlite3_column_double(q, 8),
			.min_ttl = sqlite3_column_int64(q, 9),
			.rounds = sqlite3_column_int64(q, 10),
			.double_flux = sqlite3_column_int(q, 11) != 0,
			.why = sq_col_text(q, 12),
			.family = sq_col_text(q, 13),
			.since = sqlite3_column_int64(q, 14),
		};
		rc = cb(arg, &v);
		sqlite3_reset(q);
		return rc;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? TIP_ENOTFOUND : sq_fail(s, err, "verdict get");
}
