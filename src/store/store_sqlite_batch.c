/*
 * store_sqlite_batch.c — the flux-resolve writer's batches as set-based statements: a batch
 * (a C array the statement reads as a table, store_sqlite_rows.c) is applied with one
 * statement per kind of write instead of one per row. The ended domains' watch rows
 * (sq_watch_resolved_batch) and the answers (sq_pdns_answer_batch: unchanged sets, new sets,
 * changed sets; the rest through the one-by-one path of store_sqlite_flux.c, which defines what
 * each answer writes). Each batch call leaves the store as the one-by-one calls in the batch's
 * order would: tests/unit/test_flux_store.c compares the two on every row.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* The ended domains of a batch as one statement: tip_watch_done(?1) is a table-valued function
 * over the caller's array (bound with sqlite3_bind_pointer), sorted by id, so that the update
 * walks the watch table in rowid order with one cursor (SQLite's next-row fast path) instead
 * of a statement per domain. ~3.5 µs a domain as single UPDATEs in a real pass. */
static const char q_watch_resolved_batch[] =
	"UPDATE watch SET last_round = d.at, next_due = d.next_due, rounds = rounds + d.k,"
	" last_outcome = d.outcome FROM tip_watch_done(?1) AS d WHERE watch.id = d.id";
/* the rows of q_watch_resolved_batch: k is the rounds an entry stands for (a domain listed
 * twice is merged) */
static const struct sq_rows_def watch_done_rows = {
	"tip_watch_done",
	"CREATE TABLE x (id INTEGER, at INTEGER, next_due INTEGER, outcome TEXT, k INTEGER,"
	" rows HIDDEN)",
	"iiiti",
};

static int done_cmp(const void *a, const void *b)
{
	const struct tip_watch_done *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->at > y->at) - (x->at < y->at);
}

int sq_watch_resolved_batch(struct tip_store *st, struct tip_watch_done *v, size_t n,
			    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	union sq_cell *c;
	size_t w = 0;
	int rc;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].id <= 0 || !v[i].outcome)
			return tip_error_set(err, TIP_EINVAL, "watch batch: entry %zu has no id or outcome",
					     i);
	/* id order (the table's); a domain listed twice is merged into its later round */
	qsort(v, n, sizeof(*v), done_cmp);
	c = tip_xmalloc(n * 5 * sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		union sq_cell *r;
		if (w && c[(w - 1) * 5].i == v[i].id) {
			r = &c[(w - 1) * 5];
			r[4].i++;
		} else {
			r = &c[w++ * 5];
			r[0].i = v[i].id;
			r[4].i = 1;
		}
		r[1].i = v[i].at;
		r[2].i = v[i].next_due;
		r[3].s = v[i].outcome;
	}
	rc = sq_rows_run(s, q_watch_resolved_batch, &watch_done_rows, c, w, "watch resolved", err);
	free(c);
	return rc;
}

/* Many answers (sq_pdns_answer_batch). The unchanged sets among them are found by one SELECT
 * over the batch (the conditions of q_set_same in store_sqlite_flux.c, as a join of the C array
 * tip_answer_same with the set rows, in id order) and appended to the answer log
 * (store_sqlite_log.c), which the set rows take later: no set row is written. The rest go as
 * new sets, changed sets, or through sq_pdns_answer one by one, in their order. Only the
 * batch's first answer for a set row may join the statement (first_of_sets: a log row holds one
 * entry an id, and an incomplete answer before it drops the row); the later ones come after it,
 * as in one-by-one order. The set row's last_seen as stored may be older than its log's last
 * entry; a round that is not later than that entry is counted, not listed (log_apply in
 * store_sqlite_log.c), and no pass writes one (one answer a domain a pass, times in µs). */
static const struct sq_rows_def answer_same_rows = {
	"tip_answer_same",
	"CREATE TABLE x (sid INTEGER, si INTEGER, sat INTEGER, sttl INTEGER, shash INTEGER,"
	" sn INTEGER, svals TEXT, srttl INTEGER, rows HIDDEN)",
	"iiiiiiti",
};
enum { AS_ID, AS_I, AS_AT, AS_TTL, AS_HASH, AS_N, AS_VALS, AS_RTTL, AS_COLS };
#define SAME_BATCH_SKIP 15
static const char q_set_same_batch[] =
	"SELECT si FROM tip_answer_same(?1) JOIN answer_set s ON s.id = sid"
	" WHERE s.set_hash = shash AND s.n = sn AND s.last_seen < sat AND s.vals = svals";

static void answer_exists_fn(sqlite3_context *cx, int argc, sqlite3_value **argv);
static void pdns_known_fn(sqlite3_context *cx, int argc, sqlite3_value **argv);

/* The SQL functions the answer batch's statements call, registered once a connection */
static int batch_functions(struct sq_store *s, struct tip_error *err)
{
	static const struct {
		const char *name;
		int argc;
		void (*fn)(sqlite3_context *, int, sqlite3_value **);
	} fns[] = {
		{ "tip_answer_exists", 1, answer_exists_fn },
		{ "tip_pdns_known", 3, pdns_known_fn },
	};
	if (s->answer_batch_fns)
		return 0;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (sqlite3_create_function_v2(s->db, fns[i].name, fns[i].argc,
					       SQLITE_UTF8 | SQLITE_DIRECTONLY, s, fns[i].fn, NULL,
					       NULL, NULL) != SQLITE_OK)
			return sq_fail(s, err, "answer batch");
	s->answer_batch_fns = true;
	return 0;
}

static int cmp_cells_id(const void *a, const void *b)
{
	const union sq_cell *x = a, *y = b;
	if (x[AS_ID].i != y[AS_ID].i)
		return x[AS_ID].i < y[AS_ID].i ? -1 : 1;
	return (x[AS_I].i > y[AS_I].i) - (x[AS_I].i < y[AS_I].i);
}

/* The batch's candidates for the one statement, as rows of answer_same_rows (vals malloc'd);
 * how many. */
static size_t same_candidates(const struct tip_answer *a, size_t n, const bool *first,
			      union sq_cell *c)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tip_round *rd = &a[i].rd;
		int code = sq_rrtype_code(rd->rrtype);
		union sq_cell *r = &c[m * AS_COLS];
		struct sq_log_ent e = { .id = a[i].watch_id * 4 + code, .at = rd->at,
					.ttl = a[i].n ? a[i].rec[0].ttl : 0, .rttl = rd->min_ttl };
		if (!first[i] || a[i].watch_id <= 0 || !code || !a[i].n || !sq_set_answer(rd, a[i].n) ||
		    !sq_one_ttl(a[i].rec, a[i].n) || !sq_log_fits(&e))
			continue;
		r[AS_ID].i = e.id;
		r[AS_I].i = (int64_t)i;
		r[AS_AT].i = rd->at;
		r[AS_TTL].i = a[i].rec[0].ttl;
		r[AS_HASH].i = rd->set_hash;
		r[AS_N].i = (int64_t)a[i].n;
		r[AS_VALS].s = NULL;
		r[AS_RTTL].i = rd->min_ttl;
		m++;
	}
	/* id order (first[] leaves one answer an id) */
	qsort(c, m, AS_COLS * sizeof(*c), cmp_cells_id);
	for (size_t i = 0; i < m; i++) {
		const struct tip_answer *x = &a[c[i * AS_COLS + AS_I].i];
		c[i * AS_COLS + AS_VALS].s = sq_set_text(x->rec, x->n);
	}
	return m;
}

static int cmp_pairs(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* The batch's unchanged sets (c: m candidates of answer_same_rows in id order) found and
 * appended to the answer log; mark[i] is set for each. How many, or an error. */
static int same_sets(struct sq_store *s, const union sq_cell *c, size_t m, bool *mark,
		     struct tip_error *err)
{
	struct sq_rows rows = { c, m };
	struct sq_log_ent *e;
	sqlite3_stmt *q = sq_rows_query(s, q_set_same_batch, &answer_same_rows, &rows, err);
	size_t k = 0;
	int rc;
	if (!q)
		return TIP_ESTORE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		mark[sqlite3_column_int64(q, 0)] = true;
	sqlite3_reset(q);
	sqlite3_bind_null(q, 1);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "answer set same");
	e = tip_xmalloc(m * sizeof(*e));
	for (size_t j = 0; j < m; j++) {
		const union sq_cell *r = &c[j * AS_COLS];
		if (!mark[r[AS_I].i])
			continue;
		e[k++] = (struct sq_log_ent){ .id = r[AS_ID].i, .at = r[AS_AT].i,
					      .ttl = r[AS_TTL].i, .rttl = r[AS_RTTL].i };
	}
	rc = sq_log_append(s, e, k, err);
	free(e);
	return rc < 0 ? rc : (int)k;
}

/* first[i]: a[i] is the batch's first answer for its set row (watch id and type). A batch
 * statement takes only such answers, so that each set row's answers keep their order whatever
 * writes them: any answer with records reaches its set row (an incomplete one drops it). */
static bool *first_of_sets(const struct tip_answer *a, size_t n)
{
	int64_t *k = tip_xmalloc(n * 2 * sizeof(*k));
	bool *first = tip_xcalloc(n, sizeof(*first));
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		int code = sq_rrtype_code(a[i].rd.rrtype);
		if (a[i].watch_id <= 0 || !code)
			continue;
		k[2 * m] = a[i].watch_id * 4 + code;
		k[2 * m + 1] = (int64_t)i;
		m++;
	}
	qsort(k, m, 2 * sizeof(*k), cmp_pairs);
	for (size_t j = 0; j < m; j++)
		if (j == 0 || k[2 * j] != k[2 * (j - 1)])
			first[k[2 * j + 1]] = true;
	free(k);
	return first;
}

/* New sets (a new watch list's first pass: no answer has a set row yet). The first answer of a
 * set row not stored yet costs four statements one by one (the set row, three records); here
 * the batch's new sets take two in all:
 * - their set rows, INSERT … SELECT from tip_answer_new in id order, as q_set_new each (every
 *   record counted new); a row that exists after all is not touched: the upsert's WHERE
 *   (tip_answer_exists, false) notes it, and that answer goes one by one;
 * - the inserted sets' records, INSERT … SELECT from tip_pdns_new in key order; a record
 *   already stored (known before the set) is updated as q_pdns_update does it, and noted
 *   through tip_pdns_known in the upsert's WHERE.
 * Then, as the one-by-one path does: is_new, n_new, and base_new where some records were known.
 * An answer that lists a value twice goes one by one (its keys must be unique in the batch). */
struct sq_new_batch {
	const union sq_cell *sets, *recs;
	size_t n_sets, n_recs;
	bool *set_exists, *rec_known;
};
static const struct sq_rows_def answer_new_rows = {
	"tip_answer_new",
	"CREATE TABLE x (sid INTEGER, si INTEGER, shash INTEGER, sn INTEGER, sat INTEGER,"
	" svals TEXT, srttl INTEGER, rows HIDDEN)",
	"iiiiiti",
};
enum { AN_ID, AN_I, AN_HASH, AN_N, AN_AT, AN_VALS, AN_RTTL, AN_COLS };
static const struct sq_rows_def pdns_new_rows = {
	"tip_pdns_new",
	"CREATE TABLE x (pd TEXT, pt TEXT, pv TEXT, pat INTEGER, pttl INTEGER, pi INTEGER,"
	" px INTEGER, rows HIDDEN)",
	"tttiiii",
};
enum { PN_DOMAIN, PN_TYPE, PN_VALUE, PN_AT, PN_TTL, PN_I, PN_X, PN_COLS };
static const char q_set_new_batch[] =
	"INSERT INTO answer_set (id, set_hash, n, base_at, base_new, pending, last_seen, last_ttl,"
	" vals, n_rounds, rounds, log_seq) SELECT sid, shash, sn, sat, sn, 0, sat, srttl, svals, 1,"
	" sat || '/' || srttl || ';', " SQ_LOG_NOW " FROM tip_answer_new(?1) WHERE 1"
	" ON CONFLICT (id) DO UPDATE SET id = id WHERE tip_answer_exists(excluded.id)";
static const char q_pdns_new_batch[] =
	"INSERT INTO pdns (domain, rrtype, value, first_seen, last_seen, count, min_ttl, max_ttl)"
	" SELECT pd, pt, pv, pat, pat, 1, pttl, pttl FROM tip_pdns_new(?1) WHERE 1"
	" ON CONFLICT (domain, rrtype, value) DO UPDATE SET"
	" last_seen = max(last_seen, excluded.last_seen), count = count + 1,"
	" min_ttl = min(min_ttl, excluded.min_ttl), max_ttl = max(max_ttl, excluded.max_ttl)"
	" WHERE tip_pdns_known(excluded.domain, excluded.rrtype, excluded.value)";

static int cmp_rec_key(const union sq_cell *x, const char *d, const char *t, const char *v)
{
	int c = strcmp(x[PN_DOMAIN].s, d);
	if (!c)
		c = strcmp(x[PN_TYPE].s, t);
	return c ? c : strcmp(x[PN_VALUE].s, v);
}

static int cmp_recs(const void *a, const void *b)
{
	const union sq_cell *y = b;
	return cmp_rec_key(a, y[PN_DOMAIN].s, y[PN_TYPE].s, y[PN_VALUE].s);
}

static void answer_exists_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct sq_store *s = sqlite3_user_data(cx);
	const struct sq_new_batch *b = s->answer_new;
	int64_t id = sqlite3_value_int64(argv[0]);
	size_t lo = 0, hi = b ? b->n_sets : 0;
	(void)argc;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->sets[mid * AN_COLS + AN_ID].i < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!b || lo == b->n_sets || b->sets[lo * AN_COLS + AN_ID].i != id) {
		sqlite3_result_error(cx, "tip_answer_exists outside its batch", -1);
		return;
	}
	b->set_exists[lo] = true;
	sqlite3_result_int(cx, 0);
}

static void pdns_known_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct sq_store *s = sqlite3_user_data(cx);
	const struct sq_new_batch *b = s->answer_new;
	const char *d = (const char *)sqlite3_value_text(argv[0]);
	const char *t = (const char *)sqlite3_value_text(argv[1]);
	const char *v = (const char *)sqlite3_value_text(argv[2]);
	size_t lo = 0, hi = b ? b->n_recs : 0;
	(void)argc;
	while (d && t && v && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_rec_key(&b->recs[mid * PN_COLS], d, t, v) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!b || !d || !t || !v || lo == b->n_recs ||
	    cmp_rec_key(&b->recs[lo * PN_COLS], d, t, v)) {
		sqlite3_result_error(cx, "tip_pdns_known outside its batch", -1);
		return;
	}
	b->rec_known[lo] = true;
	sqlite3_result_int(cx, 1);
}

/* the sorted '\n'-joined values (set_text) list one twice */
static bool has_twice(const char *vals)
{
	const char *prev = NULL, *p = vals;
	size_t prev_len = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (prev && len == prev_len && !memcmp(prev, p, len))
			return true;
		prev = p;
		prev_len = len;
		p += len + (e != NULL);
	}
	return false;
}

/* The records of the answers a[idx[0]], …, a[idx[k - 1]] observed as one by one would
 * (observe_all in store_sqlite_flux.c), with one upsert in key order (q_pdns_new_batch; what =
 * its name in errors): b's recs and rec_known are filled (the caller frees them), and *news (n
 * entries, malloc'd) counts each answer's new records, whose is_new follow. */
static int observe_batch(struct sq_store *s, struct tip_answer *a, size_t n, const size_t *idx,
			 size_t k, struct sq_new_batch *b, int64_t **news, const char *what,
			 struct tip_error *err)
{
	union sq_cell *r;
	size_t nr = 0, w = 0;
	int rc;
	for (size_t j = 0; j < k; j++)
		nr += a[idx[j]].n;
	r = tip_xmalloc((nr ? nr : 1) * PN_COLS * sizeof(*r));
	for (size_t j = 0; j < k; j++) {
		const struct tip_answer *x = &a[idx[j]];
		for (size_t e = 0; e < x->n; e++, w++) {
			union sq_cell *y = &r[w * PN_COLS];
			y[PN_DOMAIN].s = x->rd.domain;
			y[PN_TYPE].s = x->rd.rrtype;
			y[PN_VALUE].s = x->rec[e].value;
			y[PN_AT].i = x->rd.at;
			y[PN_TTL].i = x->rec[e].ttl;
			y[PN_I].i = (int64_t)idx[j];
			y[PN_X].i = (int64_t)e;
		}
	}
	qsort(r, w, PN_COLS * sizeof(*r), cmp_recs);
	b->recs = r;
	b->n_recs = w;
	b->rec_known = tip_xcalloc(w ? w : 1, sizeof(*b->rec_known));
	*news = tip_xcalloc(n, sizeof(**news));
	s->answer_new = b;
	if (w && (rc = sq_rows_run(s, q_pdns_new_batch, &pdns_new_rows, r, w, what, err)) < 0)
		return rc;
	for (size_t j = 0; j < w; j++) {
		size_t i = (size_t)r[j * PN_COLS + PN_I].i;
		bool nw = !b->rec_known[j];
		(*news)[i] += nw;
		if (a[i].is_new)
			a[i].is_new[r[j * PN_COLS + PN_X].i] = nw;
	}
	return 0;
}

/* Writes the batch's new sets (see above); done[i] is set for each answer written. */
static int new_sets(struct sq_store *s, struct tip_answer *a, size_t n, const bool *first,
		    const bool *mark, bool *done, struct tip_error *err)
{
	union sq_cell *c = tip_xmalloc(n * AN_COLS * sizeof(*c));
	struct sq_new_batch b = { 0 };
	size_t m = 0, k = 0, *idx = NULL;
	int64_t *news = NULL;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct tip_round *rd = &a[i].rd;
		union sq_cell *x = &c[m * AN_COLS];
		char *vals;
		if (!first[i] || (mark && mark[i]) || !a[i].n || !sq_set_answer(rd, a[i].n))
			continue;
		vals = sq_set_text(a[i].rec, a[i].n);
		if (has_twice(vals)) {
			free(vals);
			continue;
		}
		x[AN_ID].i = a[i].watch_id * 4 + sq_rrtype_code(rd->rrtype);
		x[AN_I].i = (int64_t)i;
		x[AN_HASH].i = rd->set_hash;
		x[AN_N].i = (int64_t)a[i].n;
		x[AN_AT].i = rd->at;
		x[AN_VALS].s = vals;
		x[AN_RTTL].i = rd->min_ttl;
		m++;
	}
	if (m < 2) /* one goes as fast one by one */
		goto out;
	if ((rc = batch_functions(s, err)) < 0)
		goto out;
	qsort(c, m, AN_COLS * sizeof(*c), cmp_cells_id); /* AN_ID, AN_I as AS_ID, AS_I */
	b.sets = c;
	b.n_sets = m;
	b.set_exists = tip_xcalloc(m, sizeof(*b.set_exists));
	s->answer_new = &b;
	rc = sq_rows_run(s, q_set_new_batch, &answer_new_rows, c, m, "answer set new", err);
	if (rc < 0)
		goto out;
	/* a pass of known sets (changed ones: a fast-flux domain's) would pay for a statement
	 * that inserts none: after a batch that inserted fewer than an eighth of its candidates,
	 * the next SAME_BATCH_SKIP batches try no new sets (those go one by one meanwhile) */
	if ((size_t)sqlite3_changes(s->db) < m / 8)
		s->answer_new_skip = SAME_BATCH_SKIP;
	/* the inserted sets' records; then what the one-by-one path says of each answer */
	idx = tip_xmalloc(m * sizeof(*idx));
	for (size_t j = 0; j < m; j++)
		if (!b.set_exists[j])
			idx[k++] = (size_t)c[j * AN_COLS + AN_I].i;
	if ((rc = observe_batch(s, a, n, idx, k, &b, &news, "pdns new", err)) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		size_t i = (size_t)c[j * AN_COLS + AN_I].i;
		if (b.set_exists[j])
			continue;
		a[i].rd.n_new = news[i];
		done[i] = true;
		if (news[i] != (int64_t)a[i].n &&
		    (rc = sq_set_base_new(s, c[j * AN_COLS + AN_ID].i, news[i], err)) < 0)
			goto out;
	}
	s->pdns_set_new = true; /* as after a new set one by one */
	rc = 0;
out:
	s->answer_new = NULL;
	for (size_t j = 0; j < m; j++)
		free((char *)c[j * AN_COLS + AN_VALS].s);
	free(c);
	free(idx);
	free((void *)b.recs);
	free(news);
	free(b.set_exists);
	free(b.rec_known);
	return rc;
}

/* Changed sets (a fast-flux domain's usual answer: its set row holds another set). One by one
 * such an answer costs about nine statements (bench_flux_write -s 100: ~36 µs an answer, four
 * times an unchanged one): the set row read; its listed rounds written into `round`; its pending
 * rounds folded into the base round's records; each record observed; the row replaced by the
 * new base. Here the batch's changed sets take one statement of each kind, as answer() in
 * store_sqlite_flux.c would write them one after the other:
 * - the candidates' set rows, read in id order (tip_answer_chg joined with answer_set);
 * - every listed round of the changed ones into `round` (tip_round_rows), as rounds_flush;
 * - their pending rounds into their base records (tip_set_fold), as set_fold: before any
 *   record is observed, since the fold finds the base records by last_seen = base_at;
 * - their records observed with the new sets' upsert (q_pdns_new_batch; tip_pdns_known notes
 *   the known ones, so is_new and n_new follow as one by one);
 * - their set rows replaced by the new base (tip_set_put), as q_set_put.
 * Only answers that answer() would settle as changed are taken: a row exists and does not hold
 * this same set with one TTL at a later time (a full round list, a hash collision: one by one,
 * where they are decided). Candidates are the batch's first answer for each set row, with a set
 * hash and no value twice, not taken as unchanged or new; each is for its own (domain, rrtype),
 * so no two touch the same row of round, pdns or answer_set, and the kinds can go in turn. */
static const struct sq_rows_def answer_chg_rows = {
	"tip_answer_chg",
	"CREATE TABLE x (cid INTEGER, ci INTEGER, rows HIDDEN)",
	"ii",
};
static const char q_set_get_batch[] =
	"SELECT c.ci, " SQ_SET_COLS " FROM tip_answer_chg(?1) AS c JOIN answer_set s ON s.id = c.cid";
static const struct sq_rows_def round_put_rows = {
	"tip_round_rows",
	"CREATE TABLE x (rd TEXT, rt TEXT, rat INTEGER, rn INTEGER, rnew INTEGER, rttl INTEGER,"
	" rhash INTEGER, rows HIDDEN)",
	"ttiiiii",
};
enum { RR_DOMAIN, RR_TYPE, RR_AT, RR_N, RR_NEW, RR_TTL, RR_HASH, RR_COLS };
/* as q_round_put_set; a round without a TTL (-1) has none */
static const char q_round_put_batch[] =
	"INSERT OR REPLACE INTO round (domain, rrtype, at, outcome, n_records, n_new, min_ttl,"
	" set_hash) SELECT rd, rt, rat, 'ok', rn, rnew, CASE WHEN rttl < 0 THEN NULL ELSE rttl END,"
	" rhash FROM tip_round_rows(?1)";
static const struct sq_rows_def set_fold_rows = {
	"tip_set_fold",
	"CREATE TABLE x (fd TEXT, ft TEXT, fbase INTEGER, fpending INTEGER, fseen INTEGER,"
	" fmin INTEGER, fmax INTEGER, rows HIDDEN)",
	"ttiiiii",
};
enum { SF_DOMAIN, SF_TYPE, SF_BASE, SF_PENDING, SF_SEEN, SF_MIN, SF_MAX, SF_COLS };
/* as q_set_fold */
static const char q_set_fold_batch[] =
	"UPDATE pdns SET count = count + fpending, last_seen = max(last_seen, fseen),"
	" min_ttl = min(min_ttl, fmin), max_ttl = max(max_ttl, fmax) FROM tip_set_fold(?1)"
	" WHERE domain = fd AND rrtype = ft AND last_seen = fbase";
static const struct sq_rows_def set_put_rows = {
	"tip_set_put",
	"CREATE TABLE x (pid INTEGER, phash INTEGER, pn INTEGER, pat INTEGER, pnew INTEGER,"
	" pvals TEXT, prttl INTEGER, rows HIDDEN)",
	"iiiiiti",
};
enum { SP_ID, SP_HASH, SP_N, SP_AT, SP_NEW, SP_VALS, SP_RTTL, SP_COLS };
/* as q_set_put */
static const char q_set_put_batch[] =
	"INSERT OR REPLACE INTO answer_set (id, set_hash, n, base_at, base_new, pending, last_seen,"
	" last_ttl, vals, n_rounds, rounds, log_seq) SELECT pid, phash, pn, pat, pnew, 0, pat, prttl,"
	" pvals, 1, pat || '/' || prttl || ';', " SQ_LOG_NOW " FROM tip_set_put(?1)";

/* a changed set's row as read, and its answer */
struct chg {
	size_t i;     /* the answer */
	int64_t id;   /* its set row */
	struct sq_set_row p;
	char *vals;   /* the answer's set text, malloc'd */
};

struct round_vec {
	union sq_cell *c;
	size_t n, cap;
};

static int round_collect(void *arg, const struct tip_round *r)
{
	struct round_vec *v = arg;
	union sq_cell *x;
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 256;
		v->c = tip_xrealloc(v->c, v->cap * RR_COLS * sizeof(*v->c));
	}
	x = &v->c[v->n++ * RR_COLS];
	x[RR_DOMAIN].s = r->domain;
	x[RR_TYPE].s = r->rrtype;
	x[RR_AT].i = r->at;
	x[RR_N].i = r->n_records;
	x[RR_NEW].i = r->n_new;
	x[RR_TTL].i = r->min_ttl;
	x[RR_HASH].i = r->set_hash;
	return 0;
}

/* The candidates' set rows (c: answer_chg_rows, m rows in id order) read into g, only those of
 * changed sets kept; how many, or an error. */
static int chg_read(struct sq_store *s, const struct tip_answer *a, const union sq_cell *c,
		    size_t m, struct chg *g, struct tip_error *err)
{
	struct sq_rows rows = { c, m };
	sqlite3_stmt *q = sq_rows_query(s, q_set_get_batch, &answer_chg_rows, &rows, err);
	int rc, k = 0;
	if (!q)
		return TIP_ESTORE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		size_t i = (size_t)sqlite3_column_int64(q, 0);
		const struct tip_answer *x = &a[i];
		/* the same set, one TTL, later: answer() counts it or decides a full list or a
		 * collision; not a changed set */
		if (sq_one_ttl(x->rec, x->n) && sqlite3_column_int64(q, 1) == x->rd.set_hash &&
		    sqlite3_column_int64(q, 2) == (int64_t)x->n &&
		    x->rd.at > sqlite3_column_int64(q, 6))
			continue;
		g[k].i = i;
		g[k].id = x->watch_id * 4 + sq_rrtype_code(x->rd.rrtype);
		sq_set_row_read(q, 1, &g[k].p);
		g[k].vals = NULL;
		k++;
	}
	rc = rc == SQLITE_DONE ? 0 : sq_fail(s, err, "answer set");
	sqlite3_reset(q);
	sqlite3_bind_null(q, 1);
	/* each with its log entries, as the row would have taken them (the rounds listed past
	 * SQ_SET_ROUNDS_MAX go into `round` with the others) */
	for (int j = 0; j < k && rc == 0; j++)
		rc = sq_log_merge(s, g[j].id, &g[j].p, err);
	if (rc < 0) {
		while (k > 0)
			free(g[--k].p.rounds);
		return rc;
	}
	return k;
}

/* Writes the batch's changed sets (see above); done[i] is set for each answer written. */
static int changed_sets(struct sq_store *s, struct tip_answer *a, size_t n, const bool *first,
			const bool *mark, bool *done, struct tip_error *err)
{
	union sq_cell *c = tip_xmalloc(n * 2 * sizeof(*c)), *x = NULL;
	struct chg *g = tip_xcalloc(n, sizeof(*g));
	struct round_vec rv = { 0 };
	struct sq_new_batch b = { 0 };
	size_t m = 0, k = 0, nf = 0, *idx = NULL;
	int64_t *news = NULL;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct tip_round *rd = &a[i].rd;
		if (!first[i] || (mark && mark[i]) || done[i] || !a[i].n ||
		    !sq_set_answer(rd, a[i].n))
			continue;
		c[m * 2].i = a[i].watch_id * 4 + sq_rrtype_code(rd->rrtype);
		c[m * 2 + 1].i = (int64_t)i;
		m++;
	}
	if (m < 2) /* one goes as fast one by one */
		goto out;
	qsort(c, m, 2 * sizeof(*c), cmp_pairs);
	if ((rc = chg_read(s, a, c, m, g, err)) < 0)
		goto out;
	/* no value twice (the batch's record keys must be unique) */
	for (size_t j = 0; j < (size_t)rc; j++) {
		char *vals = sq_set_text(a[g[j].i].rec, a[g[j].i].n);
		if (has_twice(vals)) {
			free(vals);
			free(g[j].p.rounds);
			continue;
		}
		g[k] = g[j];
		g[k].vals = vals;
		k++;
	}
	rc = 0;
	if (k < 2)
		goto out;
	if ((rc = batch_functions(s, err)) < 0)
		goto out;
	/* the listed rounds, and the pending ones folded, as set_settle */
	x = tip_xmalloc(k * SF_COLS * sizeof(*x));
	for (size_t j = 0; j < k; j++) {
		const struct tip_round *rd = &a[g[j].i].rd;
		const struct sq_set_row *p = &g[j].p;
		struct sq_set_rounds sr = { .domain = rd->domain, .rrtype = rd->rrtype, .n = p->n,
					    .base_at = p->base_at, .base_new = p->base_new,
					    .set_hash = p->hash };
		if (p->n_rounds > 0 &&
		    sq_set_rounds_decode(p->rounds, &sr, INT64_MIN, round_collect, &rv) < 0) {
			rc = tip_error_set(err, TIP_ESTORE, "answer set of %s %s: bad round list",
					   rd->domain, rd->rrtype);
			goto out;
		}
		if (p->pending > 0) {
			union sq_cell *f = &x[nf++ * SF_COLS];
			f[SF_DOMAIN].s = rd->domain;
			f[SF_TYPE].s = rd->rrtype;
			f[SF_BASE].i = p->base_at;
			f[SF_PENDING].i = p->pending;
			f[SF_SEEN].i = p->last_seen;
			f[SF_MIN].i = p->min_ttl;
			f[SF_MAX].i = p->max_ttl;
		}
	}
	if (rv.n && (rc = sq_rows_run(s, q_round_put_batch, &round_put_rows, rv.c, rv.n,
				   "answer set rounds", err)) < 0)
		goto out;
	if (nf && (rc = sq_rows_run(s, q_set_fold_batch, &set_fold_rows, x, nf, "pdns set fold",
				 err)) < 0)
		goto out;
	/* the records, as observe_all */
	idx = tip_xmalloc(k * sizeof(*idx));
	for (size_t j = 0; j < k; j++)
		idx[j] = g[j].i;
	if ((rc = observe_batch(s, a, n, idx, k, &b, &news, "pdns changed", err)) < 0)
		goto out;
	/* the new bases, as q_set_put */
	free(x);
	x = tip_xmalloc(k * SP_COLS * sizeof(*x));
	for (size_t j = 0; j < k; j++) {
		const struct tip_answer *y = &a[g[j].i];
		union sq_cell *z = &x[j * SP_COLS];
		z[SP_ID].i = g[j].id;
		z[SP_HASH].i = y->rd.set_hash;
		z[SP_N].i = (int64_t)y->n;
		z[SP_AT].i = y->rd.at;
		z[SP_NEW].i = news[g[j].i];
		z[SP_VALS].s = g[j].vals;
		z[SP_RTTL].i = y->rd.min_ttl;
	}
	if ((rc = sq_rows_run(s, q_set_put_batch, &set_put_rows, x, k, "answer set put", err)) < 0)
		goto out;
	for (size_t j = 0; j < k; j++) {
		a[g[j].i].rd.n_new = news[g[j].i];
		done[g[j].i] = true;
	}
	/* as after a changed set one by one */
	s->pdns_set_same = false;
	s->pdns_set_new = false;
	rc = 0;
out:
	s->answer_new = NULL;
	for (size_t j = 0; j < k; j++) {
		free(g[j].p.rounds);
		free(g[j].vals);
	}
	free(g);
	free(c);
	free(idx);
	free(x);
	free(rv.c);
	free((void *)b.recs);
	free(news);
	free(b.rec_known);
	return rc;
}

int sq_pdns_answer_batch(struct tip_store *st, struct tip_answer *a, size_t n,
			 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	union sq_cell *c = NULL;
	bool *mark = NULL, *tried = NULL, *first = NULL, *done = NULL;
	bool batch, same;
	size_t m = 0;
	int rc;

	if (!n)
		return 0;
	if ((rc = sq_pdns_has_sets(s, err)) < 0)
		return rc;
	/* with a row of its own for the same domain, a `tip resolve NAME` answer (watch_id 0)
	 * could reach a set row out of order: such a batch goes one by one */
	batch = rc > 0 && n > 1;
	for (size_t i = 0; batch && i < n; i++)
		if (a[i].watch_id <= 0)
			batch = false;
	/* a pass whose answers are mostly new sets (a new watch list's first pass) would pay
	 * for a statement that takes none: after a batch that took fewer than an eighth of its
	 * candidates, the next SAME_BATCH_SKIP batches try no unchanged sets */
	same = batch;
	if (same && s->answer_same_skip > 0) {
		s->answer_same_skip--;
		same = false;
	}
	if (batch)
		first = first_of_sets(a, n);
	if (same) {
		c = tip_xmalloc(n * AS_COLS * sizeof(*c));
		m = same_candidates(a, n, first, c);
	}
	if (m) {
		mark = tip_xcalloc(n, sizeof(*mark));
		tried = tip_xcalloc(n, sizeof(*tried));
		for (size_t i = 0; i < m; i++)
			tried[c[i * AS_COLS + AS_I].i] = true;
		if ((rc = same_sets(s, c, m, mark, err)) < 0)
			goto out;
		if ((size_t)rc < m / 8)
			s->answer_same_skip = SAME_BATCH_SKIP;
	}
	if (batch) {
		done = tip_xcalloc(n, sizeof(*done));
		if (s->answer_new_skip > 0)
			s->answer_new_skip--;
		else if ((rc = new_sets(s, a, n, first, mark, done, err)) < 0)
			goto out;
		if ((rc = changed_sets(s, a, n, first, mark, done, err)) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (mark && mark[i]) {
			a[i].rd.n_new = 0;
			if (a[i].is_new)
				memset(a[i].is_new, 0, a[i].n * sizeof(*a[i].is_new));
			s->pdns_set_same = true;
			s->pdns_set_new = false;
			continue;
		}
		if (done && done[i])
			continue;
		if (tried && tried[i])
			s->pdns_set_same = false; /* its set row did not take it as unchanged */
		if ((rc = sq_pdns_answer(st, a[i].watch_id, &a[i].rd, a[i].rec, a[i].n, a[i].is_new,
					 &a[i].rd.n_new, err)) < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < m; i++)
		free((char *)c[i * AS_COLS + AS_VALS].s);
	free(c);
	free(mark);
	free(tried);
	free(first);
	free(done);
	return rc;
}
