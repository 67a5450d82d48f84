/*
 * store_sqlite_log.c — the answer log (schema 10): the rounds of unchanged answer sets appended
 * in bulk instead of updating each set row.
 *
 * An unchanged answer (the set its answer_set row holds, one TTL, later) used to cost one
 * UPDATE of that row: 2.4–3.3 µs of SQLite's row work here whatever the statement's form, most
 * of the flux-resolve writer's time (docs/performance.md, "The writer's floor"). The batch
 * writer now appends such answers as entries of answer_log rows, one row per batch and bucket
 * of set ids (id >> SQ_LOG_SHIFT), and the set rows take them later, many rounds in one
 * update: when anything else writes the row (a changed set, an answer one by one, a drop), and
 * all of them at once (sq_log_fold_all) before pass 2's scan and when the log grows past a few
 * rounds a set (sq_pdns_fold).
 *
 * An entry is fixed-width text, so that the plain sqlite3 shell reads it too (the round_all
 * view): the set id (15 digits), the round's time (17, µs), the records' TTL (10) and the
 * round's min TTL (11, signed), zero-padded; a row's entries are in id order, at most one per
 * id. A set row's log_seq is the last log row it has taken: entries in rows after it are its
 * pending rounds, the ones before were taken already (a row is deleted only when every set has
 * taken it, by sq_log_fold_all). A set row written anew starts at the log's last row.
 *
 * What a reader sees is unchanged: the entries are applied to the set row in memory exactly as
 * the UPDATE of an unchanged round would have applied them (log_apply), before the row is
 * read for anything (tests/unit/test_flux_store.c compares every read and, after a fold, every
 * row with a store written one by one).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

enum { W_ID = 15, W_AT = 17, W_TTL = 10, W_RTTL = 11 };

static const char q_log_of[] =
	"SELECT seq, ents FROM answer_log WHERE bucket = ?1 AND seq > ?2 ORDER BY seq";
/* set rows that took entries, written back by one UPDATE (set_rows_put) */
static const struct sq_rows_def put_rows = {
	"tip_log_put",
	"CREATE TABLE x (fid INTEGER, fpending INTEGER, fseen INTEGER, fmin INTEGER, fmax INTEGER,"
	" fnr INTEGER, frounds TEXT, fttl INTEGER, fhas INTEGER, fseq INTEGER, rows HIDDEN)",
	"iiiiiitiii",
};
enum { F_ID, F_PENDING, F_SEEN, F_MIN, F_MAX, F_NR, F_ROUNDS, F_TTL, F_HAS, F_SEQ, F_COLS };
static const char q_log_put[] =
	"UPDATE answer_set SET pending = fpending, last_seen = fseen, min_ttl = fmin,"
	" max_ttl = fmax, n_rounds = fnr, rounds = frounds,"
	" last_ttl = CASE WHEN fhas THEN fttl END, log_seq = fseq"
	" FROM tip_log_put(?1) WHERE answer_set.id = fid";
static const char q_log_max[] = "SELECT max(seq) FROM answer_log";
static const char q_log_all[] =
	"SELECT bucket, seq, ents FROM answer_log WHERE seq <= ?1 ORDER BY bucket, seq";
/* every row: the fold holds the write lock from before its read of the log's last row (a
 * transaction of its own begun IMMEDIATE, or the caller's), so no row came after `last` (and
 * a DELETE without WHERE empties the table and its index at once) */
static const char q_log_drop[] = "DELETE FROM answer_log";
static const char q_secure_delete[] = "PRAGMA secure_delete";
static const char q_log_size[] = "SELECT coalesce(sum(n), 0) FROM answer_log";
static const char q_set_count[] = "SELECT count(*) FROM answer_set";
static const struct sq_rows_def log_rows = {
	"tip_log_rows",
	"CREATE TABLE x (lb INTEGER, ln INTEGER, lents TEXT, rows HIDDEN)",
	"iit",
};
static const char q_log_append[] =
	"INSERT INTO answer_log (bucket, n, ents) SELECT lb, ln, lents FROM tip_log_rows(?1)";

static int64_t pow10_of(int w)
{
	int64_t p = 1;
	while (w-- > 0)
		p *= 10;
	return p;
}

bool sq_log_fits(const struct sq_log_ent *e)
{
	return e->id > 0 && e->id < pow10_of(W_ID) && e->at >= 0 && e->at < pow10_of(W_AT) &&
	       e->ttl >= 0 && e->ttl < pow10_of(W_TTL) && e->rttl > -pow10_of(W_RTTL - 1) &&
	       e->rttl < pow10_of(W_RTTL - 1);
}

static void put_fixed(char *out, int w, int64_t v)
{
	bool neg = v < 0;
	uint64_t u = neg ? (uint64_t)-v : (uint64_t)v;
	for (int i = w - 1; i >= 0; i--) {
		out[i] = (char)('0' + u % 10);
		u /= 10;
	}
	if (neg)
		out[0] = '-';
}

static void log_format(char *out, const struct sq_log_ent *e)
{
	put_fixed(out, W_ID, e->id);
	put_fixed(out + W_ID, W_AT, e->at);
	put_fixed(out + W_ID + W_AT, W_TTL, e->ttl);
	put_fixed(out + W_ID + W_AT + W_TTL, W_RTTL, e->rttl);
}

static bool get_fixed(const char *p, int w, int64_t *v)
{
	bool neg = *p == '-';
	int64_t x = 0;
	for (int i = neg; i < w; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		x = x * 10 + (p[i] - '0');
	}
	*v = neg ? -x : x;
	return true;
}

static bool ent_parse(const char *p, struct sq_log_ent *e)
{
	return get_fixed(p, W_ID, &e->id) && get_fixed(p + W_ID, W_AT, &e->at) &&
	       get_fixed(p + W_ID + W_AT, W_TTL, &e->ttl) &&
	       get_fixed(p + W_ID + W_AT + W_TTL, W_RTTL, &e->rttl);
}

static void vec_add(struct sq_log_vec *v, const struct sq_log_ent *e)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 16;
		v->e = tip_xrealloc(v->e, v->cap * sizeof(*v->e));
	}
	v->e[v->n++] = *e;
}

void sq_log_vec_free(struct sq_log_vec *v)
{
	free(v->e);
	memset(v, 0, sizeof(*v));
}

/* A log row's entries (column col of q, row seq): their text and count, or an error naming the
 * row when it is not whole entries. */
static int row_ents(sqlite3_stmt *q, int col, int64_t seq, const char **ents, size_t *n,
		    struct tip_error *err)
{
	size_t len = (size_t)sqlite3_column_bytes(q, col);
	*ents = (const char *)sqlite3_column_text(q, col);
	*n = len / SQ_LOG_ENT;
	if (!*ents || len % SQ_LOG_ENT)
		return tip_error_set(err, TIP_ESTORE, "answer log row %lld: malformed",
				     (long long)seq);
	return 0;
}

/* The entry of id in a row's entries (n of them, in id order), by bisection: 1 found, 0 not,
 * -1 a malformed row. */
static int row_find(const char *ents, size_t n, int64_t id, struct sq_log_ent *e)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t x;
		if (!get_fixed(ents + mid * SQ_LOG_ENT, W_ID, &x))
			return -1;
		if (x < id)
			lo = mid + 1;
		else if (x > id)
			hi = mid;
		else
			return ent_parse(ents + mid * SQ_LOG_ENT, e) ? 1 : -1;
	}
	return 0;
}

int sq_log_of(struct sq_store *s, int64_t id, int64_t after, struct sq_log_vec *v,
	      int64_t *last_row, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_log_of, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	if (last_row)
		*last_row = after;
	sq_bind_int(q, 1, id >> SQ_LOG_SHIFT);
	sq_bind_int(q, 2, after);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		const char *ents;
		size_t n;
		struct sq_log_ent e;
		int f = 0;
		if ((rc = row_ents(q, 1, seq, &ents, &n, err)) < 0 ||
		    (f = row_find(ents, n, id, &e)) < 0) {
			sqlite3_reset(q);
			return rc < 0 ? rc : tip_error_set(err, TIP_ESTORE,
							  "answer log row %lld: malformed",
							  (long long)seq);
		}
		if (f) {
			e.seq = seq;
			vec_add(v, &e);
		}
		if (last_row)
			*last_row = seq;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "answer log");
}

/* v in decimal at o (with its sign); the new end */
static char *put_dec(char *o, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int k = 0;
	if (v < 0)
		*o++ = '-';
	do {
		tmp[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (k)
		*o++ = tmp[--k];
	return o;
}

/* Applies entries to a set row in memory as the UPDATE of an unchanged round would, in order;
 * flush (may be NULL: the round list then grows past SQ_SET_ROUNDS_MAX) is called with a full
 * list before it is emptied. */
static int log_apply(struct sq_set_row *p, const struct sq_log_ent *e, size_t n,
		     int (*flush)(void *arg, struct sq_set_row *p), void *arg)
{
	/* room for every entry: at most two numbers of 20 characters and two separators */
	size_t len = p->rounds ? strlen(p->rounds) : 0;
	char *o;
	p->rounds = tip_xrealloc(p->rounds, len + n * 44 + 1);
	o = p->rounds + len;
	*o = '\0';
	for (size_t i = 0; i < n; i++) {
		int rc;
		if (e[i].seq > p->log_seq)
			p->log_seq = e[i].seq;
		p->min_ttl = p->has_min_ttl && p->min_ttl < e[i].ttl ? p->min_ttl : e[i].ttl;
		p->max_ttl = p->has_max_ttl && p->max_ttl > e[i].ttl ? p->max_ttl : e[i].ttl;
		p->has_min_ttl = p->has_max_ttl = true;
		p->pending++;
		/* a round at or before the last one counted (which no pass writes: a domain is
		 * answered once a pass, in µs) is counted but not listed again: `round` keeps one
		 * round a domain, type and time */
		if (e[i].at <= p->last_seen)
			continue;
		if (flush && p->n_rounds >= SQ_SET_ROUNDS_MAX) {
			*o = '\0';
			if ((rc = flush(arg, p)) < 0)
				return rc;
			o = p->rounds;
			p->n_rounds = 0;
		}
		/* as q_set_same: "<at>/<ttl>;" first, then "<at - last>[/<ttl if it changed>];" */
		if (p->n_rounds == 0) {
			o = put_dec(o, e[i].at);
			*o++ = '/';
			o = put_dec(o, e[i].rttl);
		} else {
			o = put_dec(o, e[i].at - p->last_seen);
			if (!p->has_last_ttl || p->last_ttl != e[i].rttl) {
				*o++ = '/';
				o = put_dec(o, e[i].rttl);
			}
		}
		*o++ = ';';
		p->n_rounds++;
		p->last_ttl = e[i].rttl;
		p->has_last_ttl = true;
		p->last_seen = e[i].at;
	}
	*o = '\0';
	return 0;
}

/* p (row id as read) with the entries of the log rows after its log_seq applied (flush as
 * log_apply's), and log_seq moved past the rows looked at; how many entries, or an error. */
static int log_apply_of(struct sq_store *s, int64_t id, struct sq_set_row *p,
			int (*flush)(void *arg, struct sq_set_row *p), void *arg,
			struct tip_error *err)
{
	struct sq_log_vec v = { 0 };
	int64_t last;
	size_t n;
	int rc;
	if (!p->found)
		return 0;
	if ((rc = sq_log_of(s, id, p->log_seq, &v, &last, err)) == 0)
		rc = log_apply(p, v.e, v.n, flush, arg);
	if (rc == 0 && last > p->log_seq)
		p->log_seq = last;
	n = v.n;
	sq_log_vec_free(&v);
	return rc < 0 ? rc : n > INT_MAX ? INT_MAX : (int)n;
}

int sq_log_merge(struct sq_store *s, int64_t id, struct sq_set_row *p, struct tip_error *err)
{
	int rc = log_apply_of(s, id, p, NULL, NULL, err);
	return rc < 0 ? rc : 0;
}

/* The counting columns and log_seq of n set rows (ids[i]'s as rows[i]) that took entries, so
 * have their TTL range (log_apply sets it), written back with one UPDATE. */
static int set_rows_put(struct sq_store *s, const int64_t *ids, const struct sq_set_row *rows,
			size_t n, struct tip_error *err)
{
	union sq_cell *c = tip_xmalloc(n * F_COLS * sizeof(*c));
	int rc;
	for (size_t j = 0; j < n; j++) {
		const struct sq_set_row *p = &rows[j];
		union sq_cell *x = &c[j * F_COLS];
		x[F_ID].i = ids[j];
		x[F_PENDING].i = p->pending;
		x[F_SEEN].i = p->last_seen;
		x[F_MIN].i = p->min_ttl;
		x[F_MAX].i = p->max_ttl;
		x[F_NR].i = p->n_rounds;
		x[F_ROUNDS].s = p->rounds ? p->rounds : "";
		x[F_TTL].i = p->last_ttl;
		x[F_HAS].i = p->has_last_ttl;
		x[F_SEQ].i = p->log_seq;
	}
	rc = sq_rows_run(s, q_log_put, &put_rows, c, n, "answer set (log)", err);
	free(c);
	return rc;
}

struct take_ctx {
	struct sq_store *s;
	const char *domain, *rrtype;
	struct tip_error *err;
};

static int take_flush(void *arg, struct sq_set_row *p)
{
	struct take_ctx *t = arg;
	return sq_set_rounds_flush(t->s, t->domain, t->rrtype, p, t->err);
}

int sq_log_take(struct sq_store *s, int64_t id, const char *domain, const char *rrtype,
		struct sq_set_row *p, struct tip_error *err)
{
	struct take_ctx t = { s, domain, rrtype, err };
	int rc = log_apply_of(s, id, p, take_flush, &t, err);
	return rc > 0 ? set_rows_put(s, &id, p, 1, err) : rc;
}

int sq_log_append(struct sq_store *s, const struct sq_log_ent *e, size_t n, struct tip_error *err)
{
	union sq_cell *c;
	char *text;
	size_t rows = 0;
	int rc;
	if (!n)
		return 0;
	/* one row a bucket; e is in id order, so a bucket's entries are together */
	c = tip_xmalloc(n * 3 * sizeof(*c));
	text = tip_xmalloc(n * SQ_LOG_ENT + n);
	for (size_t i = 0, o = 0; i < n;) {
		int64_t b = e[i].id >> SQ_LOG_SHIFT;
		size_t j = i, start = o;
		for (; j < n && e[j].id >> SQ_LOG_SHIFT == b; j++, o += SQ_LOG_ENT)
			log_format(text + o, &e[j]);
		text[o++] = '\0';
		c[rows * 3].i = b;
		c[rows * 3 + 1].i = (int64_t)(j - i);
		c[rows * 3 + 2].s = text + start;
		rows++;
		i = j;
	}
	rc = sq_rows_run(s, q_log_append, &log_rows, c, rows, "answer log", err);
	free(c);
	free(text);
	return rc;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct sq_log_ent *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static const char q_fold_rows[] =
	"SELECT s.id, " SQ_SET_COLS " FROM answer_set s WHERE s.id BETWEEN ?1 AND ?2";
static const char q_watch_domain[] = "SELECT domain FROM watch WHERE id = ?1";

/* a fold's flush: the set row's domain looked up only then (a full list is rare) */
struct fold_flush {
	struct sq_store *s;
	int64_t id;
	struct tip_error *err;
};

static int fold_flush(void *arg, struct sq_set_row *p)
{
	struct fold_flush *f = arg;
	sqlite3_stmt *q = sq_prep(f->s, q_watch_domain, f->err);
	char *domain = NULL;
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, f->id >> 2);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sq_col_text(q, 0))
		domain = tip_xstrdup(sq_col_text(q, 0));
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(f->s, f->err, "answer log fold");
	/* a set row whose domain is gone from the watch list: its rounds go with it */
	rc = domain ? sq_set_rounds_flush(f->s, domain, sq_rrtype_name((int)(f->id & 3)), p, f->err)
		    : 0;
	free(domain);
	return rc;
}

/* One bucket's entries (all of its rows up to the fold's last) into their set rows: the rows
 * read in one range scan in id order beside the entries sorted by id, written back with one
 * UPDATE. A set row that is gone takes nothing (its entries were taken before it went). */
static int fold_bucket(struct sq_store *s, struct sq_log_vec *v, int64_t last,
		       struct tip_error *err)
{
	struct sq_set_row *rows;
	int64_t *ids;
	size_t nr = 0, i = 0;
	sqlite3_stmt *q;
	int rc, step;
	if (!v->n)
		return 0;
	qsort(v->e, v->n, sizeof(*v->e), ent_cmp);
	if (!(q = sq_prep(s, q_fold_rows, err)))
		return TIP_ESTORE;
	rows = tip_xcalloc(v->n, sizeof(*rows));
	ids = tip_xmalloc(v->n * sizeof(*ids));
	sq_bind_int(q, 1, v->e[0].id);
	sq_bind_int(q, 2, v->e[v->n - 1].id);
	rc = 0;
	while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		struct sq_set_row *p = &rows[nr];
		size_t j, k;
		while (i < v->n && v->e[i].id < id)
			i++;
		if (i == v->n)
			break;
		if (v->e[i].id != id)
			continue;
		for (j = i; j < v->n && v->e[j].id == id; j++)
			;
		sq_set_row_read(q, 1, p);
		for (k = i; k < j && v->e[k].seq <= p->log_seq; k++)
			;
		i = j;
		if (k == j) {
			free(p->rounds);
			continue;
		}
		{
			struct fold_flush f = { s, id, err };
			rc = log_apply(p, v->e + k, j - k, fold_flush, &f);
		}
		p->log_seq = last;
		ids[nr++] = id;
	}
	sqlite3_reset(q);
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_fail(s, err, "answer log fold");
	if (rc == 0 && nr)
		rc = set_rows_put(s, ids, rows, nr, err);
	for (size_t j = 0; j < nr; j++)
		free(rows[j].rounds);
	free(rows);
	free(ids);
	v->n = 0;
	return rc;
}

/* Every log row deleted. Debian's SQLite zeroes what is deleted (SECURE_DELETE): the log's
 * pages, copies of public DNS answers whose every round is now in the set rows, need not be
 * (that was a tenth of the fold at 1M sets), so it is off for this statement. */
static int log_drop(struct sq_store *s, struct tip_error *err)
{
	char restore[48];
	int64_t was;
	sqlite3_stmt *d;
	int rc;
	if ((rc = sq_int(s, q_secure_delete, &was, err, "answer log")) < 0)
		return rc;
	if (!(d = sq_prep(s, q_log_drop, err)))
		return TIP_ESTORE;
	if ((rc = sq_exec(s, "PRAGMA secure_delete = 0", err)) < 0)
		return rc;
	rc = sq_done(s, d, err, "answer log");
	snprintf(restore, sizeof(restore), "PRAGMA secure_delete = %lld", (long long)was);
	if (sq_exec(s, restore, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = TIP_ESTORE;
	return rc;
}

/* The log's last row number (0 when it is empty) */
static int log_last(struct sq_store *s, int64_t *last, struct tip_error *err)
{
	return sq_int(s, q_log_max, last, err, "answer log");
}

int sq_log_fold_all(struct sq_store *s, struct tip_error *err)
{
	sqlite3_stmt *q = NULL;
	struct sq_log_vec v = { 0 };
	int64_t last = 0, bucket = -1, taken = 0;
	bool own;
	int rc, step;
	if ((rc = sq_pdns_has_sets(s, err)) <= 0)
		return rc;
	/* nothing to fold: no transaction (a read-only store scans as well) */
	if ((rc = log_last(s, &last, err)) < 0 || last <= 0)
		return rc;
	/* with the write lock from here on: outside a transaction, one of its own, IMMEDIATE (a
	 * pass appending meanwhile waits, so what is read below is all there is until the
	 * end); inside the caller's (tip_store_begin's is IMMEDIATE too), a savepoint */
	own = s->tx_depth == 0;
	if ((rc = sq_exec(s, own ? "BEGIN IMMEDIATE" : "SAVEPOINT tip_log_fold", err)) < 0)
		return rc;
	if ((rc = log_last(s, &last, err)) < 0 || last <= 0)
		goto out;
	/* the cursor is not cached: the fold uses cached statements meanwhile */
	if (sqlite3_prepare_v2(s->db, q_log_all, -1, &q, NULL) != SQLITE_OK) {
		rc = sq_fail(s, err, "answer log");
		q = NULL;
		goto out;
	}
	sqlite3_bind_int64(q, 1, last);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(q, 0), seq = sqlite3_column_int64(q, 1);
		const char *ents;
		size_t n;
		if (b != bucket && v.n && (rc = fold_bucket(s, &v, last, err)) < 0)
			goto out;
		bucket = b;
		if ((rc = row_ents(q, 2, seq, &ents, &n, err)) < 0)
			goto out;
		for (size_t o = 0; o < n * SQ_LOG_ENT; o += SQ_LOG_ENT) {
			struct sq_log_ent e;
			if (!ent_parse(ents + o, &e)) {
				rc = tip_error_set(err, TIP_ESTORE, "answer log row %lld: malformed",
						   (long long)seq);
				goto out;
			}
			e.seq = seq;
			vec_add(&v, &e);
			taken++;
		}
	}
	if (step != SQLITE_DONE) {
		rc = sq_fail(s, err, "answer log");
		goto out;
	}
	if (v.n && (rc = fold_bucket(s, &v, last, err)) < 0)
		goto out;
	rc = log_drop(s, err);
out:
	if (q)
		sqlite3_finalize(q);
	sq_log_vec_free(&v);
	if (rc < 0) {
		sq_exec(s, own ? "ROLLBACK" : "ROLLBACK TO tip_log_fold; RELEASE tip_log_fold", NULL);
		return rc;
	}
	if ((rc = sq_exec(s, own ? "COMMIT" : "RELEASE tip_log_fold", err)) < 0) {
		if (own)
			sq_exec(s, "ROLLBACK", NULL);
		return rc;
	}
	return taken > INT_MAX ? INT_MAX : (int)taken;
}

int sq_pdns_fold(struct tip_store *st, int per_set, struct tip_error *err)
{
	struct sq_store *s = (struct sq_store *)st;
	int64_t ents, sets = 0;
	int rc;
	if ((rc = sq_pdns_has_sets(s, err)) <= 0)
		return rc;
	/* the set rows are counted only when there is a log to weigh (a scan of the table) */
	if ((rc = sq_int(s, q_log_size, &ents, err, "answer log")) < 0 || ents == 0 ||
	    (per_set > 0 && (rc = sq_int(s, q_set_count, &sets, err, "answer log")) < 0))
		return rc;
	/* more than per_set - 1 a set: a pass logs nearly every set (an answer that goes one by
	 * one counts in its row), so per_set passes are a little under per_set a set */
	if (per_set > 0 && ents <= (int64_t)(per_set - 1) * sets)
		return 0;
	return sq_log_fold_all(s, err);
}
