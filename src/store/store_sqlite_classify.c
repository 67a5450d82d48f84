/*
 * store_sqlite_classify.c — flux classification (pass 2) in SQLite: the bulk scan, verdicts with
 * all their features, verdict-change events and network families.
 *
 * The scan is what pass 2's speed rests on. It walks two cursors in domain order at once — the
 * round table (primary key domain, rrtype, at) and passive DNS joined with the enrichment cache
 * (primary key domain, rrtype, value) — and merges them, so the whole window is read in one
 * ordered pass with no sort and no per-domain query. A domain's rows are copied into a small
 * arena that is reused for the next domain, so memory stays flat however many domains there are.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

static const char q_scan_rounds[] =
	"SELECT domain, rrtype, at, outcome, n_records, n_new, coalesce(min_ttl, -1),"
	" coalesce(set_hash, 0) FROM round WHERE at >= ?1 ORDER BY domain, rrtype, at";
/* no window filter in SQL: a record's last_seen as read includes its set's pending rounds
 * (answer_set), merged in below from a third ordered cursor, and the filter is applied then */
static const char q_scan_pdns[] =
	"SELECT p.domain, p.rrtype, p.value, p.first_seen, p.last_seen, p.count, p.min_ttl,"
	" coalesce(i.asn, 0), i.cc FROM pdns p"
	" LEFT JOIN ipinfo i ON i.addr = p.value AND p.rrtype IN ('A', 'AAAA')"
	" ORDER BY p.domain, p.rrtype, p.value";
/* the answer sets with pending pdns rounds or listed rounds in the window, in domain order */
static const char q_scan_sets[] =
	"SELECT w.domain, s.id & 3, s.base_at, s.pending, s.last_seen, s.min_ttl, s.n_rounds,"
	" s.rounds, s.set_hash, s.n, s.base_new FROM watch w"
	" JOIN answer_set s ON s.id BETWEEN w.id * 4 + 1 AND w.id * 4 + 3"
	" WHERE s.pending > 0 OR (s.n_rounds > 0 AND s.last_seen >= ?1) ORDER BY w.domain, s.id";
static const char q_current_get[] = "SELECT verdict, at FROM flux_current WHERE domain = ?1";
static const char q_vput[] =
	"INSERT OR REPLACE INTO verdict (domain, at, verdict, score, n_a, n_asn, n_ns, n_cc,"
	" fluxiness, min_ttl, rounds, double_flux, family, why, n_p16, a_changes, ns_changes,"
	" growth, n_allowed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15, ?16, ?17, ?18, ?19)";
static const char q_current_put[] =
	"INSERT INTO flux_current (domain, at, verdict, since) VALUES (?1, ?2, ?3, ?2)"
	" ON CONFLICT (domain) DO UPDATE SET at = excluded.at,"
	" since = CASE WHEN verdict = excluded.verdict THEN since ELSE excluded.at END,"
	" verdict = excluded.verdict WHERE excluded.at >= flux_current.at";
static const char q_event_put[] =
	"INSERT OR REPLACE INTO flux_event (domain, at, old, new, why) VALUES (?1, ?2, ?3, ?4, ?5)";
#define VCOLS                                                                                  \
	"SELECT v.domain, v.at, v.verdict, v.score, v.n_a, v.n_asn, v.n_ns, v.n_cc, v.fluxiness," \
	" coalesce(v.min_ttl, -1), v.rounds, v.double_flux, v.why, v.family, v.n_p16,"           \
	" v.a_changes, v.ns_changes, v.growth, v.n_allowed, "
static const char q_list[] =
	VCOLS "c.since FROM flux_current c JOIN verdict v ON v.domain = c.domain AND v.at = c.at"
	" WHERE ?1 OR c.verdict IN ('fastflux', 'suspicious')"
	" ORDER BY CASE c.verdict WHEN 'fastflux' THEN 0 WHEN 'suspicious' THEN 1"
	" WHEN 'benign' THEN 2 ELSE 3 END, v.score DESC, c.domain";
static const char q_history[] =
	VCOLS "v.at FROM verdict v WHERE v.domain = ?1 ORDER BY v.at";
static const char q_events_all[] =
	"SELECT domain, at, old, new, why FROM flux_event ORDER BY at DESC, domain LIMIT ?1";
static const char q_events_domain[] =
	"SELECT domain, at, old, new, why FROM flux_event WHERE domain = ?2"
	" ORDER BY at DESC LIMIT ?1";
static const char q_family_put[] =
	"INSERT INTO flux_family (name, first_seen, last_seen, n_domains, n_agents, first_domains,"
	" first_agents) VALUES (?1, ?2, ?2, ?3, ?4, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
	" last_seen = max(last_seen, excluded.last_seen), n_domains = excluded.n_domains,"
	" n_agents = excluded.n_agents";
static const char q_family_size[] =
	"INSERT OR REPLACE INTO flux_family_size (family, at, n_domains, n_agents)"
	" VALUES (?1, ?2, ?3, ?4)";
static const char q_family_member[] =
	"INSERT INTO flux_family_member (family, kind, value, first_seen, last_seen)"
	" VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (family, kind, value) DO UPDATE SET"
	" last_seen = max(last_seen, excluded.last_seen)";
#define FCOLS "SELECT name, first_seen, last_seen, n_domains, n_agents, first_domains," \
	      " first_agents FROM flux_family "
static const char q_families_cur[] =
	FCOLS "WHERE last_seen = (SELECT max(at) FROM flux_pass)"
	" ORDER BY n_domains DESC, n_agents DESC, name";
static const char q_families_all[] =
	FCOLS "ORDER BY last_seen DESC, n_domains DESC, n_agents DESC, name";
static const char q_family_members[] =
	"SELECT kind, value, first_seen, last_seen FROM flux_family_member"
	" WHERE family = ?1 AND last_seen = (SELECT last_seen FROM flux_family WHERE name = ?1)"
	" ORDER BY kind DESC, value";
static const char q_family_sizes[] =
	"SELECT at, n_domains, n_agents FROM flux_family_size WHERE family = ?1 ORDER BY at";

/* ---------------------------------------------------------------------------------------- */
/* The scan */

/* Strings of one domain, in blocks that never move (pointers stay valid) and are reused. */
struct sblock {
	struct sblock *next;
	size_t cap, used;
	char data[];
};
struct sarena {
	struct sblock *head, *cur;
};

static const char *sa_dup(struct sarena *a, const char *s)
{
	size_t n;
	if (!s)
		return NULL;
	n = strlen(s) + 1;
	for (;;) {
		if (a->cur && a->cur->cap - a->cur->used >= n) {
			char *p = a->cur->data + a->cur->used;
			memcpy(p, s, n);
			a->cur->used += n;
			return p;
		}
		if (a->cur && a->cur->next) {
			a->cur = a->cur->next;
			a->cur->used = 0;
			continue;
		}
		size_t cap = n > 65536 ? n : 65536;
		struct sblock *b = tip_xmalloc(sizeof(*b) + cap);
		b->next = NULL;
		b->cap = cap;
		b->used = 0;
		if (a->cur)
			a->cur->next = b;
		else
			a->head = b;
		a->cur = b;
	}
}

static void sa_reset(struct sarena *a)
{
	a->cur = a->head;
	if (a->cur)
		a->cur->used = 0;
}

static void sa_free(struct sarena *a)
{
	struct sblock *b = a->head;
	while (b) {
		struct sblock *n = b->next;
		free(b);
		b = n;
	}
}

/* The record types and outcomes are a handful of short strings: share them. */
static const char *intern(struct sarena *a, const char *s)
{
	static const char *const known[] = { "A", "AAAA", "NS", "CNAME", "ok", "nxdomain",
					     "nodata", "servfail", "timeout", "refused", NULL };
	if (!s)
		return NULL;
	for (int i = 0; known[i]; i++)
		if (!strcmp(s, known[i]))
			return known[i];
	return sa_dup(a, s);
}

struct scan {
	struct sarena arena;
	struct tip_round *rounds;
	size_t n_rounds, cap_rounds;
	struct tip_flux_record *rec;
	size_t n_rec, cap_rec;
};

/* The answer_set rows of one domain (at most one per record type code), read ahead from the
 * set cursor. has_rounds: one of them lists a round in the window. */
struct sgroup {
	bool valid, has_rounds;
	char domain[TIP_DOMAIN_MAX + 64];
	int n;
	struct {
		int code;
		int64_t base_at, pending, last_seen, min_ttl, n_rounds, set_hash, n, base_new;
		char *rounds;
	} row[3];
};

static void sg_clear(struct sgroup *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->row[i].rounds);
	g->n = 0;
	g->valid = g->has_rounds = false;
}

/* The next domain's rows; *rs is the cursor's last step result. */
static void sg_load(struct sgroup *g, sqlite3_stmt *qs, int *rs, tip_time_t since)
{
	const char *d;
	sg_clear(g);
	if (!qs || *rs != SQLITE_ROW || !(d = sq_col_text(qs, 0)))
		return;
	tip_strlcpy(g->domain, d, sizeof(g->domain));
	g->valid = true;
	while (*rs == SQLITE_ROW && (d = sq_col_text(qs, 0)) && !strcmp(d, g->domain)) {
		if (g->n < 3) {
			const char *r = sq_col_text(qs, 7);
			g->row[g->n].code = sqlite3_column_int(qs, 1);
			g->row[g->n].base_at = sqlite3_column_int64(qs, 2);
			g->row[g->n].pending = sqlite3_column_int64(qs, 3);
			g->row[g->n].last_seen = sqlite3_column_int64(qs, 4);
			g->row[g->n].min_ttl = sqlite3_column_int64(qs, 5);
			g->row[g->n].n_rounds = sqlite3_column_int64(qs, 6);
			g->row[g->n].set_hash = sqlite3_column_int64(qs, 8);
			g->row[g->n].n = sqlite3_column_int64(qs, 9);
			g->row[g->n].base_new = sqlite3_column_int64(qs, 10);
			g->row[g->n].rounds = tip_xstrdup(r ? r : "");
			if (g->row[g->n].n_rounds > 0 && g->row[g->n].last_seen >= since)
				g->has_rounds = true;
			g->n++;
		}
		*rs = sqlite3_step(qs);
	}
}

static int scan_round_add(void *arg, const struct tip_round *r)
{
	struct scan *sc = arg;
	if (sc->n_rounds == sc->cap_rounds) {
		sc->cap_rounds = sc->cap_rounds ? sc->cap_rounds * 2 : 64;
		sc->rounds = tip_xrealloc(sc->rounds, sc->cap_rounds * sizeof(*sc->rounds));
	}
	sc->rounds[sc->n_rounds] = *r;
	sc->rounds[sc->n_rounds].domain = NULL;
	sc->n_rounds++;
	return 0;
}

/* the scan's order of a domain's rounds: rrtype (BINARY), then time */
static int rcmp_type_time(const void *a, const void *b)
{
	const struct tip_round *x = a, *y = b;
	int c = strcmp(x->rrtype, y->rrtype);
	if (c)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

int sq_flux_scan(struct tip_store *st, tip_time_t since, tip_flux_domain_cb cb, void *arg,
		 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *qr, *qp, *qs = NULL;
	struct scan sc = { 0 };
	struct sgroup g = { 0 };
	int rr, rp, rs, rc = 0;
	char domain[TIP_DOMAIN_MAX + 64];

	/* the answer log taken into the set rows first: the scan reads them in domain order,
	 * and the log is in set id order */
	if ((rc = sq_log_fold_all(s, err)) < 0)
		return rc;
	/* the cursors are not cached: the callback may use cached statements meanwhile, and
	 * a stray sq_prep of the same text must not reset a cursor in flight */
	if (sqlite3_prepare_v2(s->db, q_scan_rounds, -1, &qr, NULL) != SQLITE_OK)
		return sq_fail(s, err, "flux scan (rounds)");
	if (sqlite3_prepare_v2(s->db, q_scan_pdns, -1, &qp, NULL) != SQLITE_OK) {
		sqlite3_finalize(qr);
		return sq_fail(s, err, "flux scan (pdns)");
	}
	if ((rc = sq_pdns_has_sets(s, err)) < 0 ||
	    (rc > 0 && sqlite3_prepare_v2(s->db, q_scan_sets, -1, &qs, NULL) != SQLITE_OK)) {
		sqlite3_finalize(qr);
		sqlite3_finalize(qp);
		return rc < 0 ? rc : sq_fail(s, err, "flux scan (answer sets)");
	}
	rc = 0;
	sqlite3_bind_int64(qr, 1, since);
	if (qs)
		sqlite3_bind_int64(qs, 1, since);
	rr = sqlite3_step(qr);
	rp = sqlite3_step(qp);
	rs = qs ? sqlite3_step(qs) : SQLITE_DONE;
	sg_load(&g, qs, &rs, since);
	for (;;) {
		const char *d = rr == SQLITE_ROW ? sq_col_text(qr, 0) : NULL;
		bool from_set;
		if (rr == SQLITE_ROW && !d) {
			rr = sqlite3_step(qr);
			continue;
		}
		/* the next domain with a round in the window: from `round`, or one whose rounds are
		 * all still listed in its answer sets; set rows of domains without are passed over */
		while (g.valid && !g.has_rounds && (!d || strcmp(g.domain, d) < 0))
			sg_load(&g, qs, &rs, since);
		if (!d && !g.valid)
			break;
		from_set = g.valid && g.has_rounds && (!d || strcmp(g.domain, d) < 0);
		tip_strlcpy(domain, from_set ? g.domain : d, sizeof(domain));
		sa_reset(&sc.arena);
		sc.n_rounds = sc.n_rec = 0;
		/* this domain's rounds */
		while (rr == SQLITE_ROW && (d = sq_col_text(qr, 0)) && !strcmp(d, domain)) {
			if (sc.n_rounds == sc.cap_rounds) {
				sc.cap_rounds = sc.cap_rounds ? sc.cap_rounds * 2 : 64;
				sc.rounds = tip_xrealloc(sc.rounds, sc.cap_rounds * sizeof(*sc.rounds));
			}
			sc.rounds[sc.n_rounds++] = (struct tip_round){
				.domain = NULL,
				.rrtype = intern(&sc.arena, sq_col_text(qr, 1)),
				.at = sqlite3_column_int64(qr, 2),
				.outcome = intern(&sc.arena, sq_col_text(qr, 3)),
				.n_records = sqlite3_column_int64(qr, 4),
				.n_new = sqlite3_column_int64(qr, 5),
				.min_ttl = sqlite3_column_int64(qr, 6),
				.set_hash = sqlite3_column_int64(qr, 7),
			};
			rr = sqlite3_step(qr);
		}
		bool in_group = g.valid && !strcmp(g.domain, domain);
		if (in_group && g.has_rounds) {
			/* the rounds the answer sets still list, in the scan's order */
			for (int i = 0; i < g.n; i++) {
				struct sq_set_rounds sr = {
					.domain = NULL, .rrtype = sq_rrtype_name(g.row[i].code),
					.n = g.row[i].n, .base_at = g.row[i].base_at,
					.base_new = g.row[i].base_new, .set_hash = g.row[i].set_hash,
				};
				if (!sr.rrtype || g.row[i].n_rounds <= 0)
					continue;
				if (sq_set_rounds_decode(g.row[i].rounds, &sr, since, scan_round_add,
							 &sc) < 0) {
					rc = tip_error_set(err, TIP_ESTORE,
							   "answer set of %s: bad round list", domain);
					goto out;
				}
			}
			if (sc.n_rounds > 1)
				qsort(sc.rounds, sc.n_rounds, sizeof(*sc.rounds), rcmp_type_time);
		}
		/* passive DNS of domains without rounds in the window is skipped; then ours */
		while (rp == SQLITE_ROW && (d = sq_col_text(qp, 0)) && strcmp(d, domain) < 0)
			rp = sqlite3_step(qp);
		while (rp == SQLITE_ROW && (d = sq_col_text(qp, 0)) && !strcmp(d, domain)) {
			const char *rt = sq_col_text(qp, 1);
			tip_time_t last = sqlite3_column_int64(qp, 4);
			int64_t count = sqlite3_column_int64(qp, 5), mttl = sqlite3_column_int64(qp, 6);
			int code = sq_rrtype_code(rt);
			/* the unchanged set's pending rounds, for the records of its base round */
			for (int i = 0; in_group && code && i < g.n; i++) {
				if (g.row[i].code != code || g.row[i].pending <= 0 ||
				    g.row[i].base_at != last)
					continue;
				count += g.row[i].pending;
				last = g.row[i].last_seen;
				if (g.row[i].min_ttl < mttl)
					mttl = g.row[i].min_ttl;
			}
			if (last < since) {
				rp = sqlite3_step(qp);
				continue;
			}
			if (sc.n_rec == sc.cap_rec) {
				sc.cap_rec = sc.cap_rec ? sc.cap_rec * 2 : 64;
				sc.rec = tip_xrealloc(sc.rec, sc.cap_rec * sizeof(*sc.rec));
			}
			sc.rec[sc.n_rec++] = (struct tip_flux_record){
				.rrtype = intern(&sc.arena, rt),
				.value = sa_dup(&sc.arena, sq_col_text(qp, 2)),
				.first_seen = sqlite3_column_int64(qp, 3),
				.last_seen = last,
				.count = count,
				.min_ttl = mttl,
				.asn = sqlite3_column_int64(qp, 7),
				.cc = intern(&sc.arena, sq_col_text(qp, 8)),
			};
			rp = sqlite3_step(qp);
		}
		if (in_group)
			sg_load(&g, qs, &rs, since);
		for (size_t i = 0; i < sc.n_rounds; i++)
			sc.rounds[i].domain = domain;
		struct tip_flux_domain fd = {
			.domain = domain,
			.rec = sc.rec,
			.n_rec = sc.n_rec,
			.rounds = sc.rounds,
			.n_rounds = sc.n_rounds,
		};
		if ((rc = cb(arg, &fd)) != 0)
			goto out;
	}
	if (rr != SQLITE_DONE || (rp != SQLITE_DONE && rp != SQLITE_ROW) ||
	    (rs != SQLITE_DONE && rs != SQLITE_ROW))
		rc = sq_fail(s, err, "flux scan");
out:
	sg_clear(&g);
	sqlite3_finalize(qr);
	sqlite3_finalize(qp);
	sqlite3_finalize(qs);
	sa_free(&sc.arena);
	free(sc.rounds);
	free(sc.rec);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Verdicts and events */

static const char *verdict_name(const char *v)
{
	static const char *const names[] = { "fastflux", "suspicious", "benign", "unknown", NULL };
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return names[i];
	return "other";
}

int sq_flux_verdict_put(struct tip_store *st, const struct tip_verdict *v, const char **old,
			struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q;
	const char *prev = NULL;
	tip_time_t prev_at = 0;
	int rc;

	if (old)
		*old = NULL;
	if (!(q = sq_prep(s, q_current_get, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, v->domain);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		prev = verdict_name(sq_col_text(q, 0));
		prev_at = sqlite3_column_int64(q, 1);
	}
	else if (rc != SQLITE_DONE) {
		sqlite3_reset(q);
		return sq_fail(s, err, "flux current");
	}
	sqlite3_reset(q);

	if (!(q = sq_prep(s, q_vput, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, v->domain);
	sq_bind_int(q, 2, v->at);
	sq_bind_text(q, 3, v->verdict);
	sqlite3_bind_double(q, 4, v->score);
	sq_bind_int(q, 5, v->n_a);
	sq_bind_int(q, 6, v->n_asn);
	sq_bind_int(q, 7, v->n_ns);
	sq_bind_int(q, 8, v->n_cc);
	sqlite3_bind_double(q, 9, v->fluxiness);
	if (v->min_ttl >= 0)
		sq_bind_int(q, 10, v->min_ttl);
	sq_bind_int(q, 11, v->rounds);
	sq_bind_int(q, 12, v->double_flux);
	sq_bind_text(q, 13, v->family);
	sq_bind_text(q, 14, v->why);
	sq_bind_int(q, 15, v->n_p16);
	sq_bind_int(q, 16, v->a_changes);
	sq_bind_int(q, 17, v->ns_changes);
	sqlite3_bind_double(q, 18, v->growth);
	sq_bind_int(q, 19, v->n_allowed);
	if ((rc = sq_done(s, q, err, "flux verdict")) < 0)
		return rc;

	if (!(q = sq_prep(s, q_current_put, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, v->domain);
	sq_bind_int(q, 2, v->at);
	sq_bind_text(q, 3, v->verdict);
	if ((rc = sq_done(s, q, err, "flux current")) < 0)
		return rc;
	if (prev && v->at < prev_at)
		return 0; /* a late, older verdict: history only, as tip_store_verdict_put does */

	/* an event: the verdict changed, or a domain's first verdict already says it fluxes */
	if (prev ? strcmp(prev, v->verdict) != 0
		 : (!strcmp(v->verdict, "fastflux") || !strcmp(v->verdict, "suspicious"))) {
		if (!(q = sq_prep(s, q_event_put, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 1, v->domain);
		sq_bind_int(q, 2, v->at);
		sq_bind_text(q, 3, prev ? prev : "none");
		sq_bind_text(q, 4, v->verdict);
		sq_bind_text(q, 5, v->why);
		if ((rc = sq_done(s, q, err, "flux event")) < 0)
			return rc;
		if (old)
			*old = prev ? prev : "none";
	}
	return 0;
}

static int verdict_rows(struct sq_store *s, sqlite3_stmt *q, tip_verdict_cb cb, void *arg,
			struct tip_error *err)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
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
			.n_p16 = sqlite3_column_int64(q, 14),
			.a_changes = sqlite3_column_int64(q, 15),
			.ns_changes = sqlite3_column_int64(q, 16),
			.growth = sqlite3_column_double(q, 17),
			.n_allowed = sqlite3_column_int64(q, 18),
			.since = sqlite3_column_int64(q, 19),
		};
		int x = cb(arg, &v);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "flux verdicts");
}

int sq_flux_list(struct tip_store *st, bool all, tip_verdict_cb cb, void *arg,
		 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_list, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, all);
	return verdict_rows(s, q, cb, arg, err);
}

int sq_flux_history(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_history, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, domain);
	return verdict_rows(s, q, cb, arg, err);
}

int sq_flux_events(struct tip_store *st, const char *domain, int limit, tip_flux_event_cb cb,
		   void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, domain ? q_events_domain : q_events_all, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, limit > 0 ? limit : -1);
	if (domain)
		sq_bind_text(q, 2, domain);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_flux_event e = {
			.domain = sq_col_text(q, 0),
			.at = sqlite3_column_int64(q, 1),
			.old_verdict = sq_col_text(q, 2),
			.new_verdict = sq_col_text(q, 3),
			.why = sq_col_text(q, 4),
		};
		int x = cb(arg, &e);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "flux events");
}

/* ---------------------------------------------------------------------------------------- */
/* Network families */

static const char q_pass_put[] =
	"INSERT OR REPLACE INTO flux_pass (at, domains, fastflux, suspicious, benign, unknown,"
	" double_flux, families, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

static const char q_pass_last[] =
	"SELECT at, domains, fastflux, suspicious, benign, unknown, double_flux, families, events"
	" FROM flux_pass ORDER BY at DESC LIMIT 1";

int sq_flux_pass_last(struct tip_store *st, struct tip_flux_pass *p, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_pass_last, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*p = (struct tip_flux_pass){
			.at = sqlite3_column_int64(q, 0),
			.domains = sqlite3_column_int64(q, 1),
			.fastflux = sqlite3_column_int64(q, 2),
			.suspicious = sqlite3_column_int64(q, 3),
			.benign = sqlite3_column_int64(q, 4),
			.unknown = sqlite3_column_int64(q, 5),
			.double_flux = sqlite3_column_int64(q, 6),
			.families = sqlite3_column_int64(q, 7),
			.events = sqlite3_column_int64(q, 8),
		};
		sqlite3_reset(q);
		return 0;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? TIP_ENOTFOUND : sq_fail(s, err, "flux pass");
}

int sq_flux_pass_put(struct tip_store *st, const struct tip_flux_pass *p, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_pass_put, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, p->at);
	sq_bind_int(q, 2, p->domains);
	sq_bind_int(q, 3, p->fastflux);
	sq_bind_int(q, 4, p->suspicious);
	sq_bind_int(q, 5, p->benign);
	sq_bind_int(q, 6, p->unknown);
	sq_bind_int(q, 7, p->double_flux);
	sq_bind_int(q, 8, p->families);
	sq_bind_int(q, 9, p->events);
	return sq_done(s, q, err, "flux pass");
}

int sq_family_put(struct tip_store *st, const char *name, tip_time_t at, int64_t n_domains,
		  int64_t n_agents, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_family_put, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_int(q, 2, at);
	sq_bind_int(q, 3, n_domains);
	sq_bind_int(q, 4, n_agents);
	if ((rc = sq_done(s, q, err, "family put")) < 0)
		return rc;
	if (!(q = sq_prep(s, q_family_size, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_int(q, 2, at);
	sq_bind_int(q, 3, n_domains);
	sq_bind_int(q, 4, n_agents);
	return sq_done(s, q, err, "family size");
}

int sq_family_member(struct tip_store *st, const char *name, const char *kind, const char *value,
		     tip_time_t at, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_family_member, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_text(q, 2, kind);
	sq_bind_text(q, 3, value);
	sq_bind_int(q, 4, at);
	return sq_done(s, q, err, "family member");
}

int sq_families(struct tip_store *st, bool all, tip_family_cb cb, void *arg,
		struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, all ? q_families_all : q_families_cur, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_family f = {
			.name = sq_col_text(q, 0),
			.first_seen = sqlite3_column_int64(q, 1),
			.last_seen = sqlite3_column_int64(q, 2),
			.n_domains = sqlite3_column_int64(q, 3),
			.n_agents = sqlite3_column_int64(q, 4),
			.first_domains = sqlite3_column_int64(q, 5),
			.first_agents = sqlite3_column_int64(q, 6),
		};
		int x = cb(arg, &f);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "families");
}

int sq_family_members(struct tip_store *st, const char *name, tip_family_member_cb cb, void *arg,
		      struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_family_members, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int x = cb(arg, sq_col_text(q, 0), sq_col_text(q, 1), sqlite3_column_int64(q, 2),
			   sqlite3_column_int64(q, 3));
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "family members");
}

int sq_family_sizes(struct tip_store *st, const char *name, tip_family_size_cb cb, void *arg,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_family_sizes, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int x = cb(arg, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
			   sqlite3_column_int64(q, 2));
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "family sizes");
}
