/*
 * store_sqlite_schema.c — the schema as a list of migrations. A store is at the version of the
 * newest row in schema_version; `tip init` applies each newer migration in its own transaction
 * (SQL, then an optional C step for data the SQL cannot derive). Never edit a migration that has
 * shipped: add the next one.
 *
 * Times are INTEGER microseconds since the epoch; removed/ended NULL means "not (yet)".
 */
#include <string.h>

#include "store_sqlite.h"

struct migration {
	int version;
	const char *what;
	const char *sql;
	int (*step)(struct sq_store *s, struct tip_error *err);
};

/* Version 1: the foundation. */
static const char v1[] =
	"CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL);"

	/* where indicators come from: feeds, cli, spamtrap, … (feed state lives here too) */
	"CREATE TABLE source ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
	"  url TEXT, format TEXT, interval_s INTEGER, options TEXT,"
	"  created INTEGER NOT NULL,"
	"  etag TEXT, last_modified TEXT, last_fetch INTEGER, last_success INTEGER,"
	"  last_status INTEGER, last_error TEXT,"
	"  n_total INTEGER NOT NULL DEFAULT 0, n_new INTEGER NOT NULL DEFAULT 0,"
	"  n_removed INTEGER NOT NULL DEFAULT 0, n_rejected INTEGER NOT NULL DEFAULT 0);"

	/* one row per distinct indicator, canonical value; type as in enum tip_ind_type */
	"CREATE TABLE indicator ("
	"  id INTEGER PRIMARY KEY, type INTEGER NOT NULL, value TEXT NOT NULL,"
	"  host TEXT, registrable TEXT, family INTEGER, addr BLOB, prefix INTEGER,"
	"  first_seen INTEGER NOT NULL, UNIQUE (type, value));"
	"CREATE INDEX indicator_host ON indicator (host) WHERE host IS NOT NULL;"
	"CREATE INDEX indicator_registrable ON indicator (registrable) WHERE registrable IS NOT NULL;"

	/* an indicator as listed by a source; last_mark is the pass that last saw it */
	"CREATE TABLE sighting ("
	"  source_id INTEGER NOT NULL REFERENCES source (id),"
	"  indicator_id INTEGER NOT NULL REFERENCES indicator (id),"
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, removed INTEGER,"
	"  category TEXT, threat TEXT, tags TEXT, listed_since INTEGER,"
	"  last_mark INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (source_id, indicator_id)) WITHOUT ROWID;"
	"CREATE INDEX sighting_indicator ON sighting (indicator_id);"

	/* the fast-flux watch list */
	"CREATE TABLE watch ("
	"  id INTEGER PRIMARY KEY, domain TEXT NOT NULL UNIQUE, source TEXT NOT NULL,"
	"  added INTEGER NOT NULL, removed INTEGER,"
	"  next_due INTEGER NOT NULL DEFAULT 0, last_round INTEGER, rounds INTEGER NOT NULL DEFAULT 0,"
	"  last_outcome TEXT);"
	"CREATE INDEX watch_due ON watch (next_due) WHERE removed IS NULL;"

	/* passive DNS, merged per (domain, rrtype, value) */
	"CREATE TABLE pdns ("
	"  domain TEXT NOT NULL, rrtype TEXT NOT NULL, value TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  min_ttl INTEGER NOT NULL, max_ttl INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, rrtype, value)) WITHOUT ROWID;"
	"CREATE INDEX pdns_value ON pdns (value);"

	/* one resolution round of one domain and rrtype: outcome and what the answer held */
	"CREATE TABLE round ("
	"  domain TEXT NOT NULL, rrtype TEXT NOT NULL, at INTEGER NOT NULL,"
	"  outcome TEXT NOT NULL, n_records INTEGER NOT NULL DEFAULT 0,"
	"  n_new INTEGER NOT NULL DEFAULT 0, min_ttl INTEGER, set_hash INTEGER,"
	"  PRIMARY KEY (domain, rrtype, at)) WITHOUT ROWID;"

	/* IP enrichment cache, with the database that answered and its version */
	"CREATE TABLE ipinfo ("
	"  addr TEXT PRIMARY KEY, asn INTEGER, as_name TEXT, cc TEXT,"
	"  db TEXT NOT NULL, db_version TEXT, updated INTEGER NOT NULL) WITHOUT ROWID;"

	/* flux verdicts: every one kept, the newest per domain in flux_current */
	"CREATE TABLE verdict ("
	"  domain TEXT NOT NULL, at INTEGER NOT NULL, verdict TEXT NOT NULL, score REAL NOT NULL,"
	"  n_a INTEGER NOT NULL, n_asn INTEGER NOT NULL, n_ns INTEGER NOT NULL, n_cc INTEGER NOT NULL,"
	"  fluxiness REAL NOT NULL, min_ttl INTEGER, rounds INTEGER NOT NULL,"
	"  double_flux INTEGER NOT NULL DEFAULT 0, family TEXT, why TEXT,"
	"  PRIMARY KEY (domain, at)) WITHOUT ROWID;"
	"CREATE TABLE flux_current ("
	"  domain TEXT PRIMARY KEY, at INTEGER NOT NULL, verdict TEXT NOT NULL,"
	"  since INTEGER NOT NULL) WITHOUT ROWID;"

	/* spam messages and what they yielded */
	"CREATE TABLE message ("
	"  id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, received INTEGER NOT NULL,"
	"  source TEXT NOT NULL, mail_from TEXT, subject TEXT, size INTEGER NOT NULL,"
	"  relay_ip TEXT);"
	"CREATE TABLE message_indicator ("
	"  message_id INTEGER NOT NULL REFERENCES message (id),"
	"  indicator_id INTEGER NOT NULL REFERENCES indicator (id),"
	"  role TEXT NOT NULL, PRIMARY KEY (message_id, indicator_id, role)) WITHOUT ROWID;"

	/* every module pass the master ran */
	"CREATE TABLE run ("
	"  id INTEGER PRIMARY KEY, module TEXT NOT NULL, pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL, ended INTEGER, status TEXT NOT NULL,"
	"  exit_code INTEGER, signal INTEGER, items INTEGER NOT NULL DEFAULT 0, error TEXT);"
	"CREATE INDEX run_module ON run (module, started);";

/* Version 2: the history of every sighting as events (listed, removed, returned), so that an
 * indicator that comes and goes keeps each interval, not only the last. Existing sightings get
 * their 'listed' event (and 'removed' where they are removed) from the rows themselves. */
static const char v2[] =
	"CREATE TABLE sighting_event ("
	"  source_id INTEGER NOT NULL, indicator_id INTEGER NOT NULL,"
	"  at INTEGER NOT NULL, event TEXT NOT NULL CHECK (event IN ('listed','removed','returned')),"
	"  PRIMARY KEY (source_id, indicator_id, at, event)) WITHOUT ROWID;"
	"INSERT INTO sighting_event SELECT source_id, indicator_id, first_seen, 'listed' FROM sighting;"
	"INSERT INTO sighting_event SELECT source_id, indicator_id, removed, 'removed' FROM sighting"
	"  WHERE removed IS NOT NULL;";

/* Version 3: feeds. A feed is a source row; these say where its definition comes from, whether
 * it is switched on or was removed (its history stays), and which lines its last parse
 * rejected. */
static const char v3[] =
	"ALTER TABLE source ADD COLUMN origin TEXT;"
	"ALTER TABLE source ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE source ADD COLUMN removed INTEGER;"
	"ALTER TABLE source ADD COLUMN rejected_sample TEXT;";

/* Version 4: flux classification (pass 2). The verdict history gets the features beyond the
 * DESIGN.md set (FluxBuster's /16 diversity and address-set growth, the set changes between
 * rounds, the allowlisted records); a verdict change is an event (flux_event); network families
 * (flux domains sharing agents) keep their size per pass and their members. */
static const char v4[] =
	"ALTER TABLE verdict ADD COLUMN n_p16 INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE verdict ADD COLUMN a_changes INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE verdict ADD COLUMN ns_changes INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE verdict ADD COLUMN growth REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE verdict ADD COLUMN n_allowed INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX flux_current_verdict ON flux_current (verdict);"
	"CREATE TABLE flux_event ("
	"  domain TEXT NOT NULL, at INTEGER NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,"
	"  why TEXT, PRIMARY KEY (domain, at)) WITHOUT ROWID;"
	"CREATE INDEX flux_event_at ON flux_event (at);"
	"CREATE TABLE flux_family ("
	"  name TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	"  n_domains INTEGER NOT NULL, n_agents INTEGER NOT NULL,"
	"  first_domains INTEGER NOT NULL, first_agents INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX flux_family_last ON flux_family (last_seen);"
	"CREATE TABLE flux_family_size ("
	"  family TEXT NOT NULL, at INTEGER NOT NULL, n_domains INTEGER NOT NULL,"
	"  n_agents INTEGER NOT NULL, PRIMARY KEY (family, at)) WITHOUT ROWID;"
	"CREATE TABLE flux_family_member ("
	"  family TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('domain', 'agent')),"
	"  value TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY (family, kind, value)) WITHOUT ROWID;"
	"CREATE INDEX flux_family_member_value ON flux_family_member (value);"
	"CREATE TABLE flux_pass ("
	"  at INTEGER PRIMARY KEY, domains INTEGER NOT NULL, fastflux INTEGER NOT NULL,"
	"  suspicious INTEGER NOT NULL, benign INTEGER NOT NULL, unknown INTEGER NOT NULL,"
	"  double_flux INTEGER NOT NULL, families INTEGER NOT NULL, events INTEGER NOT NULL);";

/* Version 5: the listing snapshot of a source: the keys of its active sightings as a sorted
 * array of hashes with their indicator ids (store_sqlite_feeds.c), so that a feed pass diffs in
 * C and writes only what changed. Derived data: a missing row is rebuilt from the sightings.
 * Self-contained (only a new table): renumber freely at merge. */
static const char v5[] =
	"CREATE TABLE listing_snapshot ("
	"  source_id INTEGER PRIMARY KEY REFERENCES source (id),"
	"  n INTEGER NOT NULL, keys BLOB NOT NULL);";

/* Version 6: passive DNS of unchanged answer sets. Per (domain, rrtype) the set its last answer
 * held (set_hash as in round, and its size) and base_at, the round whose records were last
 * written into pdns (their last_seen); rounds that answered the same set since are only counted
 * here (pending, last_seen, TTL range) and added to those pdns rows when the set changes or when
 * read (store_sqlite_flux.c, store_sqlite_pdns.c, store_sqlite_classify.c). No data to migrate:
 * without a row, the next answer is written in full. Self-contained (only a new table). */
static const char v6[] =
	"CREATE TABLE pdns_set ("
	"  domain TEXT NOT NULL, rrtype TEXT NOT NULL, set_hash INTEGER NOT NULL, n INTEGER NOT NULL,"
	"  base_at INTEGER NOT NULL, pending INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL,"
	"  min_ttl INTEGER, max_ttl INTEGER, vals TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (domain, rrtype)) WITHOUT ROWID;";

/* Version 7: leaner feed writes (bench/bench_feeds.c: every B-tree entry of a new indicator
 * costs on a big first load, and a 10 % churn dirties every page of every index it touches).
 * - A sighting's 'listed' event is its first_seen and its current removal its removed: neither
 *   is stored in sighting_event any more, which keeps the 'returned' events and the removals
 *   they ended. The view sighting_history gives the whole history as before. Only the events
 *   that are exactly a first_seen or the current removed are dropped.
 * - The registrable-domain index leaves out indicators that are their own registrable domain
 *   (most listed domains): a query for the indicators under a registrable domain R asks
 *   `registrable = R AND registrable <> value` (this index) plus the domain R itself by its
 *   (type, value). Likewise the host index leaves out the domains (a domain's host is its
 *   value, which the unique (type, value) index has): a host query asks `host <> value`. */
static const char v7[] =
	"DELETE FROM sighting_event WHERE event = 'listed' AND EXISTS (SELECT 1 FROM sighting s"
	"  WHERE s.source_id = sighting_event.source_id"
	"  AND s.indicator_id = sighting_event.indicator_id AND s.first_seen = sighting_event.at);"
	"DELETE FROM sighting_event WHERE event = 'removed' AND EXISTS (SELECT 1 FROM sighting s"
	"  WHERE s.source_id = sighting_event.source_id"
	"  AND s.indicator_id = sighting_event.indicator_id AND s.removed = sighting_event.at);"
	"CREATE VIEW sighting_history (source_id, indicator_id, at, event) AS"
	"  SELECT source_id, indicator_id, first_seen, 'listed' FROM sighting"
	"  UNION ALL SELECT source_id, indicator_id, removed, 'removed' FROM sighting"
	"  WHERE removed IS NOT NULL"
	"  UNION ALL SELECT source_id, indicator_id, at, event FROM sighting_event;"
	"DROP INDEX indicator_host;"
	"CREATE INDEX indicator_host ON indicator (host) WHERE host IS NOT NULL AND host <> value;"
	"DROP INDEX indicator_registrable;"
	"CREATE INDEX indicator_registrable ON indicator (registrable)"
	"  WHERE registrable IS NOT NULL AND registrable <> value;";

/* every round as a table of them: `round` and the rounds the set rows list (for ad-hoc SQL and
 * the shell tests; the store's readers decode the lists in C). e: a set row's list, one round
 * at a time. */
#define ROUND_ALL_E                                                                            \
	" e (id, rest, at, ttl, k) AS ("                                                       \
	"  SELECT id, rounds, 0, NULL, 0 FROM answer_set WHERE n_rounds > 0"                    \
	"  UNION ALL SELECT id, substr(rest, instr(rest, ';') + 1),"                            \
	"  (CASE WHEN k = 0 THEN 0 ELSE at END) + CAST(CASE"                                    \
	"   WHEN instr(substr(rest, 1, instr(rest, ';')), '/') > 0"                              \
	"   THEN substr(rest, 1, instr(rest, '/') - 1)"                                         \
	"   ELSE substr(rest, 1, instr(rest, ';') - 1) END AS INTEGER),"                        \
	"  CASE WHEN instr(substr(rest, 1, instr(rest, ';')), '/') > 0"                         \
	"   THEN CAST(substr(rest, instr(rest, '/') + 1, instr(rest, ';') - instr(rest, '/') - 1)" \
	"   AS INTEGER) ELSE ttl END,"                                                          \
	"  k + 1 FROM e WHERE instr(rest, ';') > 0)"
#define ROUND_ALL_TYPE " CASE s.id & 3 WHEN 1 THEN 'A' WHEN 2 THEN 'AAAA' ELSE 'NS' END"
#define ROUND_ALL_V8                                                                           \
	"CREATE VIEW round_all (domain, rrtype, at, outcome, n_records, n_new, min_ttl, set_hash) AS" \
	" WITH RECURSIVE" ROUND_ALL_E                                                          \
	" SELECT domain, rrtype, at, outcome, n_records, n_new, min_ttl, set_hash FROM round"   \
	" UNION ALL SELECT w.domain," ROUND_ALL_TYPE ","                                       \
	" e.at, 'ok', s.n, CASE WHEN e.at = s.base_at THEN s.base_new ELSE 0 END, e.ttl, s.set_hash" \
	" FROM e JOIN answer_set s ON s.id = e.id JOIN watch w ON w.id = s.id >> 2 WHERE e.k > 0;"

/* Version 8: answer sets keyed by integer, and their rounds kept in the set row (schema 6's
 * pdns_set, keyed by text, replaced). One row per watched domain and record type, id = the
 * watch row's id * 4 + the type's code (1 A, 2 AAAA, 3 NS): an answer whose set is unchanged
 * costs one UPDATE of this row by its integer key, its round included. `rounds` lists the rounds
 * of the current set not yet written into `round` (n_rounds of them, oldest first; the one at
 * base_at, if listed, has base_new new records): "<at>/<ttl>;" for the first, then
 * "<at - previous at>[/<ttl when it changed>];" (store_sqlite_flux.c). They are written into
 * `round` when the set changes, when the list is full, or before pdns is written otherwise;
 * readers add them (tip_store_rounds, the flux scan), so what is read is unchanged.
 * watch_due goes: no query uses it (the due list walks the rowid range) and every round moved
 * its entry. Data: pdns_set rows of watched domains (A, AAAA, NS) move over with their pending
 * rounds (their rounds are all in `round` already); the others are folded into pdns first. */
static const char v8[] =
	"DROP INDEX IF EXISTS watch_due;"
	"CREATE TABLE answer_set ("
	"  id INTEGER PRIMARY KEY, set_hash INTEGER NOT NULL, n INTEGER NOT NULL,"
	"  base_at INTEGER NOT NULL, base_new INTEGER NOT NULL DEFAULT 0,"
	"  pending INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL, last_ttl INTEGER,"
	"  min_ttl INTEGER, max_ttl INTEGER, vals TEXT NOT NULL,"
	"  n_rounds INTEGER NOT NULL DEFAULT 0, rounds TEXT NOT NULL DEFAULT '');"
	"INSERT INTO answer_set (id, set_hash, n, base_at, pending, last_seen, min_ttl, max_ttl,"
	"  vals)"
	"  SELECT w.id * 4 + CASE s.rrtype WHEN 'A' THEN 1 WHEN 'AAAA' THEN 2 ELSE 3 END,"
	"  s.set_hash, s.n, s.base_at, s.pending, s.last_seen, s.min_ttl, s.max_ttl, s.vals"
	"  FROM pdns_set s JOIN watch w ON w.domain = s.domain"
	"  WHERE s.rrtype IN ('A', 'AAAA', 'NS');"
	"UPDATE pdns SET count = count + s.pending, last_seen = max(pdns.last_seen, s.last_seen),"
	"  min_ttl = min(pdns.min_ttl, s.min_ttl), max_ttl = max(pdns.max_ttl, s.max_ttl)"
	"  FROM pdns_set s WHERE s.domain = pdns.domain AND s.rrtype = pdns.rrtype"
	"  AND pdns.last_seen = s.base_at AND s.pending > 0"
	"  AND (s.rrtype NOT IN ('A', 'AAAA', 'NS')"
	"       OR NOT EXISTS (SELECT 1 FROM watch w WHERE w.domain = s.domain));"
	"DROP TABLE pdns_set;" ROUND_ALL_V8;

/* Version 9: an indicator's host and registrable domain are NULL where they equal its value
 * (most listed domains: each was stored three times). Nothing read them in that case: the host
 * and registrable indexes already left such rows out (schema 7), and a query for the
 * indicators under a host or registrable domain R asks for R itself by its (type, value). The
 * indexes' conditions stay as they are (a NULL is left out too). */
static const char v9[] =
	"UPDATE indicator SET host = NULL WHERE host = value;"
	"UPDATE indicator SET registrable = NULL WHERE registrable = value;";

/* Version 10: the answer log (store_sqlite_log.c). The flux-resolve writer appends the rounds
 * of unchanged answer sets as fixed-width entries (set id 15 digits, time 17, TTL 10, the
 * round's min TTL 11, signed), one row a batch and bucket of set ids (id >> 8, SQ_LOG_SHIFT), instead of
 * updating each set row: the set rows take them later, many rounds in one update. log_seq: the
 * last log row a set row has taken (AUTOINCREMENT: a seq is never used twice, so an emptied log
 * does not start again below it). round_all reads the log too. No data to migrate. */
static const char v10[] =
	"DROP VIEW round_all;"
	"ALTER TABLE answer_set ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE answer_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket INTEGER NOT NULL,"
	"  n INTEGER NOT NULL, ents TEXT NOT NULL);"
	"CREATE INDEX answer_log_bucket ON answer_log (bucket, seq);"
	"CREATE VIEW round_all (domain, rrtype, at, outcome, n_records, n_new, min_ttl, set_hash) AS"
	" WITH RECURSIVE" ROUND_ALL_E ","
	" l (seq, ents, k) AS (SELECT seq, ents, 0 FROM answer_log"
	"  UNION ALL SELECT seq, ents, k + 1 FROM l WHERE (k + 1) * 53 < length(ents))"
	" SELECT domain, rrtype, at, outcome, n_records, n_new, min_ttl, set_hash FROM round"
	" UNION ALL SELECT w.domain," ROUND_ALL_TYPE ","
	" e.at, 'ok', s.n, CASE WHEN e.at = s.base_at THEN s.base_new ELSE 0 END, e.ttl, s.set_hash"
	" FROM e JOIN answer_set s ON s.id = e.id JOIN watch w ON w.id = s.id >> 2 WHERE e.k > 0"
	" UNION ALL SELECT w.domain," ROUND_ALL_TYPE ","
	" CAST(substr(l.ents, l.k * 53 + 16, 17) AS INTEGER), 'ok', s.n, 0,"
	" CAST(substr(l.ents, l.k * 53 + 43, 11) AS INTEGER), s.set_hash"
	" FROM l JOIN answer_set s ON s.id = CAST(substr(l.ents, l.k * 53 + 1, 15) AS INTEGER)"
	" AND l.seq > s.log_seq JOIN watch w ON w.id = s.id >> 2;";

static const struct migration migrations[] = {
	{ 1, "foundation schema", v1, NULL },
	{ 2, "sighting history events", v2, NULL },
	{ 3, "feed definitions and state", v3, NULL },
	{ 4, "flux classification: features, events, network families", v4, NULL },
	{ 5, "listing snapshots", v5, NULL },
	{ 6, "passive DNS of unchanged answer sets", v6, NULL },
	{ 7, "leaner feed writes: history from the sighting rows, smaller host and registrable indexes", v7, NULL },
	{ 8, "answer sets by integer key with their rounds; no watch_due index", v8, NULL },
	{ 9, "indicator host and registrable domain left NULL where they are the value", v9, NULL },
	{ 10, "the answer log: unchanged rounds appended, taken by the set rows later", v10, NULL },
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int sq_schema_latest(void)
{
	return migrations[N_MIGRATIONS - 1].version;
}

int sq_schema_version(struct sq_store *s, int *version, struct tip_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	*version = 0;
	/* not cached: the table may not exist yet */
	rc = sqlite3_prepare_v2(s->db,
				"SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, err, "schema check");
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return sq_fail(s, err, "schema check");
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
			       &stmt, NULL) != SQLITE_OK)
		return sq_fail(s, err, "schema version");
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return 0;
}

int sq_migrate(struct sq_store *s, int target, int *from, int *to, struct tip_error *err)
{
	int v, rc;

	if (target <= 0)
		target = sq_schema_latest();
	if (target > sq_schema_latest())
		return tip_error_set(err, TIP_EINVAL, "no schema version %d (newest is %d)", target,
				     sq_schema_latest());
	if ((rc = sq_schema_version(s, &v, err)) < 0)
		return rc;
	if (from)
		*from = v;
	if (v > sq_schema_latest())
		return tip_error_set(err, TIP_ESTORE,
				     "store is at schema version %d, newer than this tip knows (%d)", v,
				     sq_schema_latest());
	for (int i = 0; i < N_MIGRATIONS; i++) {
		const struct migration *m = &migrations[i];
		char ins[128];
		if (m->version <= v || m->version > target)
			continue;
		if ((rc = sq_exec(s, "BEGIN IMMEDIATE", err)) < 0)
			return rc;
		rc = sq_exec(s, m->sql, err);
		if (rc == 0 && m->step)
			rc = m->step(s, err);
		if (rc == 0) {
			snprintf(ins, sizeof(ins),
				 "INSERT INTO schema_version (version, applied) VALUES (%d, %lld)",
				 m->version, (long long)tip_now());
			rc = sq_exec(s, ins, err);
		}
		if (rc == 0)
			rc = sq_exec(s, "COMMIT", err);
		if (rc < 0) {
			sq_exec(s, "ROLLBACK", NULL);
			tip_error_prefix(err, "migration to schema version %d (%s)", m->version,
					 m->what);
			return rc;
		}
		tip_info("store schema migrated to version %d: %s", m->version, m->what);
		v = m->version;
	}
	if (to)
		*to = v;
	return 0;
}
