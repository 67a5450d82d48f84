/* store_sqlite_intel.c — sources, indicators and their sightings in SQLite. */
#include <arpa/inet.h>
#include <string.h>

#include "store_sqlite.h"

static const char q_source_find[] = "SELECT id FROM source WHERE name = ?1";
static const char q_source_insert[] =
	"INSERT INTO source (name, kind, created) VALUES (?1, ?2, ?3)";
static const char q_ind_find[] = "SELECT id FROM indicator WHERE type = ?1 AND value = ?2";
static const char q_ind_insert[] =
	"INSERT INTO indicator (type, value, host, registrable, family, addr, prefix, first_seen)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char q_sight_find[] =
	"SELECT removed FROM sighting WHERE source_id = ?1 AND indicator_id = ?2";
static const char q_sight_insert[] =
	"INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen, last_mark,"
	" category, threat, tags, listed_since) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char q_sight_update[] =
	"UPDATE sighting SET last_seen = ?3, last_mark = ?4, removed = NULL,"
	" category = coalesce(?5, category), threat = coalesce(?6, threat),"
	" tags = coalesce(?7, tags), listed_since = coalesce(?8, listed_since)"
	" WHERE source_id = ?1 AND indicator_id = ?2";
static const char q_event[] =
	"INSERT OR IGNORE INTO sighting_event (source_id, indicator_id, at, event)"
	" VALUES (?1, ?2, ?3, ?4)";
/* last_seen on removal: a feed pass does not rewrite the last_seen of what it still lists,
 * which is its source's last_success while active (store_sqlite_feeds.c); removal stores it */
static const char q_sweep[] =
	"UPDATE sighting SET removed = ?3, last_seen = max(last_seen,"
	" coalesce((SELECT last_success FROM source WHERE id = ?1), 0))"
	" WHERE source_id = ?1 AND removed IS NULL AND last_mark <> ?2";

/* an active sighting was seen at least in its source's last successful pass */
#define SIGHTING_COLS                                                                       \
	"SELECT src.name, i.type, i.value, s.first_seen,"                                      \
	" CASE WHEN s.removed IS NULL THEN max(s.last_seen, coalesce(src.last_success, 0))"     \
	" ELSE s.last_seen END, coalesce(s.removed, 0),"                                       \
	" s.category, s.threat, s.tags FROM sighting s JOIN indicator i ON i.id = s.indicator_id" \
	" JOIN source src ON src.id = s.source_id "
static const char q_sightings[] =
	SIGHTING_COLS "WHERE i.type = ?1 AND i.value = ?2 ORDER BY s.first_seen, src.name";
static const char q_sightings_host[] =
	SIGHTING_COLS "WHERE i.host = ?1 AND i.host <> i.value AND i.type IN (?2, ?3)"
		      " ORDER BY s.first_seen, src.name";

static int lookup_id(struct sq_store *s, sqlite3_stmt *q, int64_t *id, struct tip_error *err,
		     const char *what)
{
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		return 0;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? TIP_ENOTFOUND : sq_fail(s, err, what);
}

int sq_source_id(struct tip_store *st, const char *name, const char *kind, int64_t *id,
		 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_source_find, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	rc = lookup_id(s, q, id, err, "source");
	if (rc != TIP_ENOTFOUND)
		return rc;
	if (!(q = sq_prep(s, q_source_insert, err)))
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_text(q, 2, kind);
	sq_bind_int(q, 3, tip_now());
	if ((rc = sq_done(s, q, err, "source insert")) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int sq_indicator_put(struct tip_store *st, const struct tip_indicator *ind, tip_time_t now,
		     int64_t *id, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_ind_find, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, ind->type);
	sq_bind_text(q, 2, ind->value);
	rc = lookup_id(s, q, id, err, "indicator");
	if (rc != TIP_ENOTFOUND)
		return rc;
	if (!(q = sq_prep(s, q_ind_insert, err)))
		return TIP_ESTORE;
	sq_bind_indicator(q, ind);
	sq_bind_int(q, 8, now);
	if ((rc = sq_done(s, q, err, "indicator insert")) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int event(struct sq_store *s, int64_t src, int64_t ind, tip_time_t at, const char *what,
		 struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_event, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, src);
	sq_bind_int(q, 2, ind);
	sq_bind_int(q, 3, at);
	sq_bind_text(q, 4, what);
	return sq_done(s, q, err, "sighting event");
}

int sq_sighting_seen(struct tip_store *st, int64_t source_id, int64_t indicator_id,
		     tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
		     enum tip_sighting_state *state, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_sight_find, err);
	enum tip_sighting_state res;
	int64_t was_removed = 0;
	int rc;

	if (!q)
		return TIP_ESTORE;
	if ((rc = sq_listing_forget(s, source_id, err)) < 0)
		return rc;
	sq_bind_int(q, 1, source_id);
	sq_bind_int(q, 2, indicator_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		was_removed = sqlite3_column_int64(q, 0);
		res = sqlite3_column_type(q, 0) != SQLITE_NULL ? TIP_SIGHTING_RETURNED
							       : TIP_SIGHTING_SEEN;
		sqlite3_reset(q);
		q = sq_prep(s, q_sight_update, err);
	} else if (rc == SQLITE_DONE) {
		res = TIP_SIGHTING_NEW;
		sqlite3_reset(q);
		q = sq_prep(s, q_sight_insert, err);
	} else {
		sqlite3_reset(q);
		return sq_fail(s, err, "sighting");
	}
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, source_id);
	sq_bind_int(q, 2, indicator_id);
	sq_bind_int(q, 3, now);
	sq_bind_int(q, 4, mark);
	if (attrs) {
		sq_bind_text(q, 5, attrs->category);
		sq_bind_text(q, 6, attrs->threat);
		sq_bind_text(q, 7, attrs->tags);
		if (attrs->listed_since)
			sq_bind_int(q, 8, attrs->listed_since);
	}
	if ((rc = sq_done(s, q, err, "sighting write")) < 0)
		return rc;
	/* the history (view sighting_history, schema 7): 'listed' is the sighting's first_seen,
	 * the current removal its removed; a removal becomes an event when the sighting returns */
	if (res == TIP_SIGHTING_RETURNED &&
	    ((rc = event(s, source_id, indicator_id, was_removed, "removed", err)) < 0 ||
	     (rc = event(s, source_id, indicator_id, now, "returned", err)) < 0))
		return rc;
	if (state)
		*state = res;
	return 0;
}

int sq_sighting_sweep(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
		      int64_t *removed, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q;
	int rc;
	if ((rc = sq_listing_forget(s, source_id, err)) < 0)
		return rc;
	if (!(q = sq_prep(s, q_sweep, err)))
		return TIP_ESTORE;
	sq_bind_int(q, 1, source_id);
	sq_bind_int(q, 2, mark);
	sq_bind_int(q, 3, now);
	if ((rc = sq_done(s, q, err, "sighting sweep")) < 0)
		return rc;
	if (removed)
		*removed = sqlite3_changes(s->db);
	return 0;
}

static int sighting_rows(struct sq_store *s, sqlite3_stmt *q, tip_sighting_cb cb, void *arg,
			 struct tip_error *err)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_sighting r = {
			.source = sq_col_text(q, 0),
			.type = (enum tip_ind_type)sqlite3_column_int(q, 1),
			.value = sq_col_text(q, 2),
			.first_seen = sqlite3_column_int64(q, 3),
			.last_seen = sqlite3_column_int64(q, 4),
			.removed = sqlite3_column_int64(q, 5),
			.category = sq_col_text(q, 6),
			.threat = sq_col_text(q, 7),
			.tags = sq_col_text(q, 8),
		};
		int x = cb(arg, &r);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "sightings");
}

int sq_sightings(struct tip_store *st, enum tip_ind_type type, const char *value,
		 tip_sighting_cb cb, void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_sightings, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, type);
	sq_bind_text(q, 2, value);
	return sighting_rows(s, q, cb, arg, err);
}

int sq_sightings_by_host(struct tip_store *st, const char *host, tip_sighting_cb cb, void *arg,
			 struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_sightings_host, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, host);
	sq_bind_int(q, 2, TIP_IND_URL);
	sq_bind_int(q, 3, TIP_IND_EMAIL);
	return sighting_rows(s, q, cb, arg, err);
}

/* Listed networks holding an address: one exact index probe per prefix length (33 for IPv4,
 * 129 for IPv6) on the canonical "network/len" text, rather than a range scan. */
int sq_sightings_containing(struct tip_store *st, int family, const uint8_t *addr,
			    tip_sighting_cb cb, void *arg, struct tip_error *err)
{
	int bits = family == 4 ? 32 : 128;
	for (int p = bits; p >= 0; p--) {
		uint8_t net[16];
		char text[INET6_ADDRSTRLEN + 8];
		size_t l;
		int rc;
		memcpy(net, addr, 16);
		for (int b = p; b < bits; b++)
			net[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		tip_addr_format(family, net, text, sizeof(text)); /* as tip_indicator_parse wrote it */
		l = strlen(text);
		snprintf(text + l, sizeof(text) - l, "/%d", p);
		if ((rc = sq_sightings(st, TIP_IND_CIDR, text, cb, arg, err)) != 0)
			return rc;
	}
	return 0;
}
