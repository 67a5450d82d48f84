/*
 * store_sqlite_feeds.c — feeds in SQLite: the definition and state columns of a source row, and
 * the fast write path of a whole listing pass.
 *
 * The listing pass (measured in bench/bench_feeds.c, figures in docs/performance.md): the
 * diff against the source's previous snapshot is done in C over hashes, and only what changed
 * is written; see "The listing pass" below.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_sqlite.h"

#define FEED_COLS                                                                              \
	"SELECT id, name, url, format, options, coalesce(origin, 'cli'), coalesce(interval_s, 0),"  \
	" enabled, created, coalesce(removed, 0), etag, last_modified, coalesce(last_fetch, 0),"    \
	" coalesce(last_success, 0), coalesce(last_status, 0), last_error, rejected_sample,"        \
	" n_total, n_new, n_removed, n_rejected FROM source WHERE kind = 'feed' "

static const char q_feed_find[] = "SELECT id, kind FROM source WHERE name = ?1";
static const char q_feed_insert[] =
	"INSERT INTO source (name, kind, url, format, interval_s, options, origin, enabled, created)"
	" VALUES (?1, 'feed', ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char q_feed_update[] =
	"UPDATE source SET url = ?2, format = ?3, interval_s = ?4, options = ?5, origin = ?6,"
	" enabled = ?7, removed = NULL WHERE id = ?1";
static const char q_feed_rm[] =
	"UPDATE source SET removed = ?2 WHERE name = ?1 AND kind = 'feed' AND removed IS NULL";
static const char q_feed_list[] = FEED_COLS "AND removed IS NULL ORDER BY name";
static const char q_feed_list_all[] = FEED_COLS "ORDER BY name";
static const char q_feed_get[] = FEED_COLS "AND name = ?1";
static const char q_feed_fail[] =
	"UPDATE source SET last_fetch = ?2, last_status = ?3, last_error = ?4 WHERE id = ?1";
static const char q_feed_304[] =
	"UPDATE source SET last_fetch = ?2, last_status = ?3, last_error = NULL WHERE id = ?1";
static const char q_feed_ok[] =
	"UPDATE source SET last_fetch = ?2, last_success = ?2, last_status = ?3, last_error = NULL,"
	" etag = ?4, last_modified = ?5, rejected_sample = ?6, n_total = ?7, n_new = ?8,"
	" n_removed = ?9, n_rejected = ?10 WHERE id = ?1";

/* The listing pass.
 *
 * Steady state first: a feed re-fetched every hour is mostly the same list. The source's
 * previous snapshot is kept as a sorted array of keyed 96-bit hashes of (type, value) with the
 * indicator id and a hash of the attributes (table listing_snapshot, one BLOB per source).
 * listing_seen looks each entry up in it in memory: an entry that is there with the same
 * attributes costs no SQLite work at all. Only the rest (new, returned, attributes changed) is
 * written: it goes to the sorter of store_sqlite_sort.c (chunks sorted by a thread of their
 * own, merged at settle), and settle_written writes it set-based from the merge, each distinct
 * key once in (type, value) order: the indicators, then the sightings, and 'returned' events
 * (a 'listed' event is the sighting's first_seen, view sighting_history). What the old snapshot
 * has and the pass did not see is marked removed, set-based in indicator-id order. Then the new
 * snapshot replaces the old one.
 *
 * Until 2026-11-26 the written entries went to temporary SQLite tables instead (a B-tree in key
 * order for a churn pass, a plain table sorted by SQLite past 150,000 entries and for a first
 * load); the sorter made a first load of 1M entries ~45 % faster (docs/performance.md).
 *
 * last_seen of an active sighting of a feed is therefore not rewritten on every pass: it is
 * the source's last_success (every active sighting was in the last successful pass), and the
 * read queries (store_sqlite_intel.c) return max(last_seen, source.last_success) while the
 * sighting is active; removal stores that value. docs/architecture.md says so.
 *
 * The hash is SipHash-2-4 (128-bit output, 96 bits kept) under a random key stored with the
 * snapshot: feeds are hostile input, and a crafted collision would hide an entry. */
/* The main database's page cache during a listing pass: 24 MiB instead of the connection's
 * 32. The pass's peak memory is the two snapshots (24 bytes an entry each) plus the caches: at
 * 1M entries 95 MB with 32 MiB, against the 100 MB bound; 85 MB with 24, 74.5 MB with 16.
 * Alternating runs of bench_feeds 1000000 (docs/performance.md) showed no loss of speed with
 * 24 MiB, and perhaps 5-10 % less with 16. The setting stays for the connection: a feeds pass
 * is a child process of its own. */
static const char q_listing_create[] =
	"PRAGMA main.cache_size = -24576; PRAGMA temp.cache_size = -12288;";
static const char q_snap_get[] =
	"SELECT n, length(keys) FROM listing_snapshot WHERE source_id = ?1";
static const char q_snap_put[] =
	"INSERT OR REPLACE INTO listing_snapshot (source_id, n, keys) VALUES (?1, ?2, zeroblob(?3))";
static const char q_snap_forget[] = "DELETE FROM listing_snapshot WHERE source_id = ?1";
static const char q_snap_rebuild[] =
	"SELECT s.indicator_id, i.type, i.value, s.category, s.threat, s.tags, s.listed_since"
	" FROM sighting s JOIN indicator i ON i.id = s.indicator_id"
	" WHERE s.source_id = ?1 AND s.removed IS NULL";
/* the pass's source exists: its sightings name it, and a bulk transaction
 * (tip_store_begin_bulk) leaves that reference to this check */
static const char q_source_exists[] = "SELECT 1 FROM source WHERE id = ?1";
static const char q_prev_success[] =
	"SELECT coalesce(last_success, 0) FROM source WHERE id = ?1";
/* settle: ?1 source, ?2 mark, ?3 now */
static const char q_max_indicator[] = "SELECT coalesce(max(id), 0) FROM indicator";
#define SETTLE_SIGHTING_UPSERT                                                                 \
	" ON CONFLICT (source_id, indicator_id) DO UPDATE SET last_seen = excluded.last_seen,"    \
	" last_mark = excluded.last_mark, removed = NULL,"                                       \
	" category = coalesce(excluded.category, category),"                                     \
	" threat = coalesce(excluded.threat, threat), tags = coalesce(excluded.tags, tags),"      \
	" listed_since = coalesce(excluded.listed_since, listed_since)"
/* The written entries (settle_written): ?1 the sorter's merge as a row table (each distinct key
 * once, in (type, value) order), ?2 the source, ?3 the mark, ?4 now. An indicator known before
 * the pass (another source's, or this one's with new attributes or coming back) hands its id to
 * tip_listing_known through the upsert's WHERE, which is false: nothing is written to it. The
 * new ones take consecutive ids in this order (each the largest plus one), checked after. The
 * sightings then come in the same order again, by id (appended, bar the known indicators). */
#define WRITTEN_INDICATOR_COLS "type, value, host, registrable, family, addr, prefix"
static const char q_written_indicators[] =
	"INSERT INTO indicator (" WRITTEN_INDICATOR_COLS ", first_seen)"
	" SELECT " WRITTEN_INDICATOR_COLS ", ?4 FROM tip_listing_written(?1)"
	" WHERE ?2 IS NOT NULL AND ?3 IS NOT NULL"
	" ON CONFLICT (type, value) DO UPDATE SET first_seen = first_seen"
	" WHERE tip_listing_known(indicator.id, indicator.type, indicator.value)";
static const char q_written_sightings[] =
	"INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen, last_mark,"
	" category, threat, tags, listed_since)"
	" SELECT ?2, id, ?4, ?4, ?3, category, threat, tags, listed_since"
	" FROM tip_listing_written_sightings(?1) WHERE true" SETTLE_SIGHTING_UPSERT;
/* a removed sighting that comes back: its removal becomes an event, then 'returned' (the
 * sighting's removed is cleared by the write that follows), both from one look-up of the
 * sighting, next to each other in the events' B-tree. ?1 the known indicators' ids as a row
 * table (sorted: the sightings' B-tree order), ?2 the source, ?3 the mark, ?4 now;
 * tip_listing_returned(?4) is ?4, and counts the sightings that come back. */
static const char q_settle_returned[] =
	"INSERT OR IGNORE INTO sighting_event (source_id, indicator_id, at, event)"
	" SELECT ?2, l.id, CASE e.k WHEN 0 THEN s.removed ELSE tip_listing_returned(?4) END,"
	" CASE e.k WHEN 0 THEN 'removed' ELSE 'returned' END FROM tip_listing_ids(?1) l"
	" CROSS JOIN sighting s ON s.source_id = ?2 AND s.indicator_id = l.id"
	" CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) e"
	" WHERE s.removed IS NOT NULL AND ?3 IS NOT NULL";
/* the source has removed sightings (one may come back in this pass) */
static const char q_any_removed[] =
	"SELECT EXISTS (SELECT 1 FROM sighting WHERE source_id = ?1 AND removed IS NOT NULL)";
/* removal, set-based over the ids the C diff found gone (sorted: B-tree order): ?1 their row
 * table, ?2 the source, ?3 the previous successful pass, ?4 now */
static const char q_gone_update[] =
	"UPDATE sighting SET removed = ?4, last_seen = max(last_seen, ?3)"
	" WHERE source_id = ?2 AND indicator_id IN (SELECT id FROM tip_listing_ids(?1))"
	" AND removed IS NULL";
int sq_feed_put(struct tip_store *st, const char *name, const char *url, const char *format,
		int64_t interval_s, const char *options, const char *origin, bool enabled,
		tip_time_t now, int64_t *id, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_find, err);
	int rc;

	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		if (strcmp(sq_col_text(q, 1), "feed")) {
			int e = tip_error_set(err, TIP_EEXIST,
					      "source '%s' exists and is not a feed (it is '%s')", name,
					      sq_col_text(q, 1));
			sqlite3_reset(q);
			return e;
		}
		sqlite3_reset(q);
		if (!(q = sq_prep(s, q_feed_update, err)))
			return TIP_ESTORE;
		sq_bind_int(q, 1, *id);
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		*id = 0;
		if (!(q = sq_prep(s, q_feed_insert, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 1, name);
		sq_bind_int(q, 8, now);
	} else {
		sqlite3_reset(q);
		return sq_fail(s, err, "feed");
	}
	sq_bind_text(q, 2, url);
	sq_bind_text(q, 3, format);
	sq_bind_int(q, 4, interval_s);
	sq_bind_text(q, 5, options);
	sq_bind_text(q, 6, origin);
	sq_bind_int(q, 7, enabled);
	if ((rc = sq_done(s, q, err, "feed write")) < 0)
		return rc;
	if (!*id)
		*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int sq_feed_rm(struct tip_store *st, const char *name, tip_time_t now, bool *removed,
	       struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_rm, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	sq_bind_int(q, 2, now);
	if ((rc = sq_done(s, q, err, "feed rm")) < 0)
		return rc;
	*removed = sqlite3_changes(s->db) > 0;
	return 0;
}

static int feed_rows(struct sq_store *s, sqlite3_stmt *q, tip_feed_cb cb, void *arg,
		     struct tip_error *err, bool *any)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_feed_row f = {
			.id = sqlite3_column_int64(q, 0),
			.name = sq_col_text(q, 1),
			.url = sq_col_text(q, 2),
			.format = sq_col_text(q, 3),
			.options = sq_col_text(q, 4),
			.origin = sq_col_text(q, 5),
			.interval_s = sqlite3_column_int64(q, 6),
			.enabled = sqlite3_column_int(q, 7) != 0,
			.created = sqlite3_column_int64(q, 8),
			.removed = sqlite3_column_int64(q, 9),
			.etag = sq_col_text(q, 10),
			.last_modified = sq_col_text(q, 11),
			.last_fetch = sqlite3_column_int64(q, 12),
			.last_success = sqlite3_column_int64(q, 13),
			.last_status = sqlite3_column_int64(q, 14),
			.last_error = sq_col_text(q, 15),
			.rejected_sample = sq_col_text(q, 16),
			.n_total = sqlite3_column_int64(q, 17),
			.n_new = sqlite3_column_int64(q, 18),
			.n_removed = sqlite3_column_int64(q, 19),
			.n_rejected = sqlite3_column_int64(q, 20),
		};
		int x;
		if (any)
			*any = true;
		if ((x = cb(arg, &f))) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "feeds");
}

int sq_feed_list(struct tip_store *st, bool all, tip_feed_cb cb, void *arg, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, all ? q_feed_list_all : q_feed_list, err);
	if (!q)
		return TIP_ESTORE;
	return feed_rows(s, q, cb, arg, err, NULL);
}

int sq_feed_get(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg,
		struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_feed_get, err);
	bool any = false;
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, name);
	rc = feed_rows(s, q, cb, arg, err, &any);
	if (rc == 0 && !any)
		return tip_error_set(err, TIP_ENOTFOUND, "no feed named '%s'", name);
	return rc;
}

int sq_feed_result(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r,
		   struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q;

	if (r->error) {
		if (!(q = sq_prep(s, q_feed_fail, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 4, r->error);
	} else if (r->not_modified) {
		if (!(q = sq_prep(s, q_feed_304, err)))
			return TIP_ESTORE;
	} else {
		if (!(q = sq_prep(s, q_feed_ok, err)))
			return TIP_ESTORE;
		sq_bind_text(q, 4, r->etag);
		sq_bind_text(q, 5, r->last_modified);
		sq_bind_text(q, 6, r->rejected_sample);
		sq_bind_int(q, 7, r->n_total);
		sq_bind_int(q, 8, r->n_new);
		sq_bind_int(q, 9, r->n_removed);
		sq_bind_int(q, 10, r->n_rejected);
	}
	sq_bind_int(q, 1, feed_id);
	sq_bind_int(q, 2, r->at);
	if (r->status)
		sq_bind_int(q, 3, r->status);
	return sq_done(s, q, err, "feed state");
}

/* ---------------------------------------------------------------------------------------- */
/* The listing snapshot */

#define SNAP_MAGIC 0x54495053u /* "TIPS", native byte order: a foreign one is rebuilt */
#define SNAP_VERSION 2u /* 2: with the caller's tag (a version 1 snapshot is rebuilt) */

struct snap_head {
	uint32_t magic, version;
	uint64_t k0, k1; /* the SipHash key of this snapshot */
	uint64_t tag;    /* the tag of the pass that left it (tip_store_listing_begin) */
};

struct snap_ent {
	uint64_t h;  /* key hash, first 64 bits */
	uint32_t h2; /* key hash, 32 more bits */
	uint32_t ah; /* attributes hash */
	int64_t id;  /* indicator id */
};

/* A key hashed by a hint (sq_listing_hint), kept for listing_seen, which gets the entries in
 * the same order a few later; values longer than HINT_VALUE_MAX are hashed again. */
#define HINT_RING 16
#define HINT_VALUE_MAX 62
struct hint_slot {
	uint64_t h;
	uint32_t h2;
	uint8_t type, len;
	char value[HINT_VALUE_MAX];
};

struct sq_listing {
	int64_t source_id;
	struct hint_slot ring[HINT_RING];
	unsigned ring_w, ring_r; /* next slot a hint writes, next one listing_seen expects */
	struct snap_head head;
	struct snap_ent *old; /* sorted by (h, h2) */
	size_t n_old;
	uint32_t *dir;        /* first index per bucket of the top dir_bits bits of h */
	int dir_bits;
	uint8_t *seen;        /* per old entry: 1 seen unchanged, 2 seen with other attributes */
	bool stored;          /* the snapshot was read as stored (not rebuilt under a new key) */
	bool same_tag;        /* ... with this pass's tag */
	int64_t n_changed;    /* entries written (to the sorter) */
	/* the written keys with their ids, in merge order (settle_written): in old's buffer, after
	 * the old entries kept (sq_listing_settle), never allocated apart */
	struct snap_ent *got;
	size_t n_got;
	int64_t *gone;        /* the ids of the old entries not seen (settle_removed) */
	size_t n_gone;
	int64_t base, n_ord;  /* the largest indicator id before settle, the new ids given */
	bool attrs;           /* some entry written had attributes */
	int64_t *known;       /* the ids of the written entries' indicators known before, kept */
	size_t n_known, cap_known; /* only if keep_known (the source has removed sightings) */
	bool keep_known;
	int64_t n_returned;   /* removed sightings that come back (tip_listing_returned) */
	/* the written entries, sorted (store_sqlite_sort.c), and the merge's entry in the
	 * statement at work (settle_written) with the id of the indicator it met, if known before;
	 * the rows the sightings' row table has given so far */
	struct sq_sort *sort;
	const struct sq_sort_ent *cur;
	int64_t cur_known;
	size_t n_given;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
	do {                                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                      \
	} while (0)

/* SipHash-2-4 with 128-bit output (Aumasson and Bernstein), little-endian message words. */
static void siphash128(const struct snap_head *k, const uint8_t *in, size_t len, uint64_t out[2])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k->k0, v1 = 0x646f72616e646f6dULL ^ k->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k->k0, v3 = 0x7465646279746573ULL ^ k->k1;
	uint64_t b = (uint64_t)len << 56, m;
	const uint8_t *end = in + (len & ~(size_t)7);

	v1 ^= 0xee;
	for (; in != end; in += 8) {
		m = (uint64_t)in[0] | (uint64_t)in[1] << 8 | (uint64_t)in[2] << 16 |
		    (uint64_t)in[3] << 24 | (uint64_t)in[4] << 32 | (uint64_t)in[5] << 40 |
		    (uint64_t)in[6] << 48 | (uint64_t)in[7] << 56;
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	out[0] = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	out[1] = v0 ^ v1 ^ v2 ^ v3;
}

static void key_hash(const struct snap_head *k, int type, const char *value, struct snap_ent *e)
{
	uint8_t buf[TIP_IND_VALUE_MAX + 2];
	size_t l = strlen(value);
	uint64_t out[2];
	if (l > TIP_IND_VALUE_MAX)
		l = TIP_IND_VALUE_MAX;
	buf[0] = (uint8_t)type;
	memcpy(buf + 1, value, l);
	siphash128(k, buf, l + 1, out);
	e->h = out[0];
	e->h2 = (uint32_t)out[1];
}

/* FNV-1a over the attributes: only tells whether they changed (not a security matter: a
 * collision only delays an attribute update of the colliding entry). */
static uint32_t attr_hash(const char *cat, const char *threat, const char *tags, int64_t since)
{
	const char *f[3] = { cat, threat, tags };
	uint32_t h = 2166136261u;
	for (int i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)f[i];
		h = (h ^ (p ? 1u : 0u)) * 16777619u;
		for (; p && *p; p++)
			h = (h ^ *p) * 16777619u;
		h = (h ^ 0xffu) * 16777619u;
	}
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)((uint64_t)since >> (8 * i))) * 16777619u;
	return h;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct snap_ent *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	if (x->h2 != y->h2)
		return x->h2 < y->h2 ? -1 : 1;
	return 0;
}

static inline bool ent_less(const struct snap_ent *x, const struct snap_ent *y)
{
	return x->h < y->h || (x->h == y->h && x->h2 < y->h2);
}

/* In place: glibc's qsort would allocate a copy of the array (a merge sort), doubling the
 * peak memory of a big snapshot. Quicksort on random hashes, the smaller side recursed. */
static void ent_sort(struct snap_ent *v, size_t n)
{
	while (n > 16) {
		struct snap_ent p = v[n / 2], t;
		size_t i = 0, j = n - 1;
		for (;;) {
			while (ent_less(&v[i], &p))
				i++;
			while (ent_less(&p, &v[j]))
				j--;
			if (i >= j)
				break;
			t = v[i], v[i] = v[j], v[j] = t;
			i++, j--;
		}
		/* [0, j] <= p <= [j + 1, n) */
		if (j + 1 < n - j - 1) {
			ent_sort(v, j + 1);
			v += j + 1, n -= j + 1;
		} else {
			ent_sort(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct snap_ent t = v[i];
		size_t j = i;
		for (; j > 0 && ent_less(&t, &v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void sq_listing_free(struct sq_listing *l)
{
	if (!l)
		return;
	free(l->old);
	free(l->dir);
	free(l->seen);
	free(l->gone);
	free(l->known);
	sq_sort_free(l->sort);
	free(l);
}

int sq_listing_forget(struct sq_store *s, int64_t source_id, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_snap_forget, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, source_id);
	return sq_done(s, q, err, "listing snapshot");
}

/* The bucket directory: entries are sorted by h, so the top dir_bits bits of h index them
 * directly, about 64 entries a bucket. The directory is small enough to stay in the CPU's
 * cache (64 KiB at 1M entries), and as the hashes are uniform the place of a key inside its
 * bucket is guessed from the next bits of h: a look-up touches about one cache line of the
 * entries. (With 4 entries a bucket and a scan from its start, the directory itself missed the
 * cache too: two dependent misses a look-up, 10 % of a churn run's CPU by perf.) */
static void build_dir(struct sq_listing *l)
{
	size_t nb;
	l->dir_bits = 1;
	while (l->dir_bits < 30 && ((size_t)1 << (l->dir_bits + 6)) < l->n_old)
		l->dir_bits++;
	nb = (size_t)1 << l->dir_bits;
	l->dir = tip_xmalloc((nb + 1) * sizeof(*l->dir));
	for (size_t b = 0, i = 0; b <= nb; b++) {
		while (i < l->n_old && (l->old[i].h >> (64 - l->dir_bits)) < b)
			i++;
		l->dir[b] = (uint32_t)i;
	}
}

/* Where k's entry would be: an index in [lo, hi) of its bucket, or false if the bucket is empty.
 */
static inline bool snap_guess(const struct sq_listing *l, const struct snap_ent *k, size_t *lo,
			      size_t *hi, size_t *i)
{
	size_t b = (size_t)(k->h >> (64 - l->dir_bits));
	*lo = l->dir[b];
	*hi = l->dir[b + 1];
	if (*lo == *hi)
		return false;
	/* the bits below the bucket's place k between lo and hi */
	*i = *lo + (size_t)(((k->h << l->dir_bits) >> 32) * (uint64_t)(*hi - *lo) >> 32);
	return true;
}

static struct snap_ent *snap_find(struct sq_listing *l, const struct snap_ent *k)
{
	size_t lo, hi, i;
	if (!l->n_old || !l->dir || !snap_guess(l, k, &lo, &hi, &i))
		return NULL;
	if (l->old[i].h < k->h) {
		while (i < hi && l->old[i].h < k->h)
			i++;
	} else {
		while (i > lo && l->old[i - 1].h >= k->h)
			i--;
	}
	for (; i < hi && l->old[i].h == k->h; i++) /* i: the first with h >= k's */
		if (l->old[i].h2 == k->h2)
			return &l->old[i];
	return NULL;
}

static int snap_load(struct sq_store *s, struct sq_listing *l, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_snap_get, err);
	int64_t n = -1, len = 0;
	int rc;

	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, l->source_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int64(q, 0);
		len = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, err, "listing snapshot");
	if (n >= 0 && n < INT32_MAX &&
	    len == (int64_t)(sizeof(struct snap_head) + (size_t)n * sizeof(struct snap_ent))) {
		sqlite3_blob *b;
		if (sqlite3_blob_open(s->db, "main", "listing_snapshot", "keys", l->source_id, 0,
				      &b) != SQLITE_OK)
			return sq_fail(s, err, "listing snapshot");
		l->n_old = (size_t)n;
		l->old = tip_xmalloc(l->n_old ? l->n_old * sizeof(*l->old) : 1);
		rc = sqlite3_blob_read(b, &l->head, sizeof(l->head), 0);
		if (rc == SQLITE_OK && l->head.magic == SNAP_MAGIC &&
		    l->head.version == SNAP_VERSION && l->n_old)
			rc = sqlite3_blob_read(b, l->old, (int)(l->n_old * sizeof(*l->old)),
					       sizeof(l->head));
		sqlite3_blob_close(b);
		if (rc != SQLITE_OK)
			return sq_fail(s, err, "listing snapshot read");
		if (l->head.magic == SNAP_MAGIC && l->head.version == SNAP_VERSION) {
			l->stored = true;
			return 0;
		}
		free(l->old);
		l->old = NULL;
		l->n_old = 0;
	}
	/* none (a new source, a store from before snapshots, or sightings written another
	 * way): rebuild it from the active sightings, under a fresh key */
	l->head.magic = SNAP_MAGIC;
	l->head.version = SNAP_VERSION;
	if (getentropy(&l->head.k0, sizeof(l->head.k0)) < 0 ||
	    getentropy(&l->head.k1, sizeof(l->head.k1)) < 0)
		return tip_error_set(err, TIP_EIO, "getentropy failed");
	if (!(q = sq_prep(s, q_snap_rebuild, err)))
		return TIP_ESTORE;
	sq_bind_int(q, 1, l->source_id);
	{
		size_t cap = 0;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct snap_ent *e;
			if (l->n_old == cap) {
				cap = cap ? cap * 2 : 1024;
				l->old = tip_xrealloc(l->old, cap * sizeof(*l->old));
			}
			e = &l->old[l->n_old++];
			e->id = sqlite3_column_int64(q, 0);
			key_hash(&l->head, sqlite3_column_int(q, 1), sq_col_text(q, 2), e);
			e->ah = attr_hash(sq_col_text(q, 3), sq_col_text(q, 4), sq_col_text(q, 5),
					  sqlite3_column_int64(q, 6));
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "listing snapshot rebuild");
	if (l->n_old)
		ent_sort(l->old, l->n_old);
	tip_debug("listing snapshot of source %lld rebuilt from %zu sightings",
		  (long long)l->source_id, l->n_old);
	return 0;
}

static int snap_store(struct sq_store *s, struct sq_listing *l, struct snap_ent *v, size_t n,
		      struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_snap_put, err);
	size_t bytes = n * sizeof(*v), off = 0;
	sqlite3_blob *b;
	int rc;

	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, l->source_id);
	sq_bind_int(q, 2, (int64_t)n);
	sq_bind_int(q, 3, (int64_t)(sizeof(l->head) + bytes));
	if ((rc = sq_done(s, q, err, "listing snapshot")) < 0)
		return rc;
	if (sqlite3_blob_open(s->db, "main", "listing_snapshot", "keys", l->source_id, 1, &b) !=
	    SQLITE_OK)
		return sq_fail(s, err, "listing snapshot");
	rc = sqlite3_blob_write(b, &l->head, sizeof(l->head), 0);
	while (rc == SQLITE_OK && off < bytes) {
		size_t c = bytes - off > (1u << 20) ? (1u << 20) : bytes - off;
		rc = sqlite3_blob_write(b, (const char *)v + off, (int)c,
					(int)(sizeof(l->head) + off));
		off += c;
	}
	sqlite3_blob_close(b);
	return rc == SQLITE_OK ? 0 : sq_fail(s, err, "listing snapshot write");
}

/* tip_listing_known(id, type, value): the indicator known before the pass that the written entry
 * at work met (q_written_indicators' conflict); false, so that the upsert writes nothing. Each
 * distinct key comes once, so any other conflict is an error. */
static void listing_known_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct sq_listing *l = ((struct sq_store *)sqlite3_user_data(cx))->listing;
	int64_t id;
	const char *v;
	(void)argc;
	if (!l || !l->got) {
		sqlite3_result_error(cx, "tip_listing_known outside a listing settle", -1);
		return;
	}
	id = sqlite3_value_int64(argv[0]);
	v = (const char *)sqlite3_value_text(argv[2]);
	if (!l->cur || id <= 0 || id > l->base || l->cur_known ||
	    sqlite3_value_int(argv[1]) != l->cur->type || !v || strcmp(v, l->cur->value)) {
		sqlite3_result_error(cx, "tip_listing_known: not the known indicator of the entry "
					 "being written", -1);
		return;
	}
	l->cur_known = id;
	if (l->keep_known) {
		if (l->n_known == l->cap_known) {
			l->cap_known = l->cap_known ? 2 * l->cap_known : 1024;
			l->known = tip_xrealloc(l->known, l->cap_known * sizeof(*l->known));
		}
		l->known[l->n_known] = id;
	}
	l->n_known++;
	sqlite3_result_int(cx, 0);
}

/* tip_listing_returned(at): at, counting a sighting that comes back (q_settle_returned) */
static void listing_returned_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct sq_listing *l = ((struct sq_store *)sqlite3_user_data(cx))->listing;
	(void)argc;
	if (!l) {
		sqlite3_result_error(cx, "tip_listing_returned outside a listing settle", -1);
		return;
	}
	l->n_returned++;
	sqlite3_result_value(cx, argv[0]);
}

int sq_listing_begin(struct tip_store *st, int64_t source_id, uint64_t tag, bool *same_tag,
		     struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	struct sq_listing *l;
	tip_time_t t0 = tip_monotonic();
	int rc;

	if (!s->listing_fn) {
		if (sqlite3_create_function_v2(s->db, "tip_listing_known", 3,
					       SQLITE_UTF8 | SQLITE_DIRECTONLY, s, listing_known_fn,
					       NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_create_function_v2(s->db, "tip_listing_returned", 1,
					       SQLITE_UTF8 | SQLITE_DIRECTONLY, s,
					       listing_returned_fn, NULL, NULL, NULL) != SQLITE_OK)
			return sq_fail(s, err, "listing begin");
		s->listing_fn = true;
	}
	{
		sqlite3_stmt *q = sq_prep(s, q_source_exists, err);
		if (!q)
			return TIP_ESTORE;
		sq_bind_int(q, 1, source_id);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc == SQLITE_DONE)
			return tip_error_set(err, TIP_EINVAL, "listing begin: no source %lld",
					     (long long)source_id);
		if (rc != SQLITE_ROW)
			return sq_fail(s, err, "listing begin");
	}
	sq_listing_free(s->listing);
	s->listing = l = tip_xcalloc(1, sizeof(*l));
	l->source_id = source_id;
	if ((rc = sq_exec(s, q_listing_create, err)) < 0 || (rc = snap_load(s, l, err)) < 0) {
		sq_listing_free(l);
		s->listing = NULL;
		return rc;
	}
	build_dir(l);
	l->seen = tip_xcalloc(l->n_old + 1, 1);
	l->sort = sq_sort_new(0);
	*same_tag = l->stored && l->head.tag == tag;
	l->same_tag = *same_tag;
	l->head.tag = tag;
	tip_debug("listing begin: %.3f s: snapshot of %zu read", (double)(tip_monotonic() - t0) / TIP_SEC,
		  l->n_old);
	return 0;
}

/* The entries come in the order the feed lists them, so each look-up of the snapshot (24 MB at
 * 1M entries) is a cache miss: the feed run hints each entry a few ahead (pipe.c), and the miss
 * overlaps the work on the entries between. */
void sq_listing_hint(struct tip_store *st, enum tip_ind_type type, const char *value)
{
	struct sq_listing *l = sq_of(st)->listing;
	struct snap_ent k;
	size_t lo, hi, i;
	if (!l || !l->n_old || !l->dir) /* none, or settle began */
		return;
	key_hash(&l->head, type, value, &k);
	if (snap_guess(l, &k, &lo, &hi, &i)) {
		__builtin_prefetch(&l->old[i]);
		__builtin_prefetch(&l->seen[i], 1);
	}
	{
		struct hint_slot *sl = &l->ring[l->ring_w++ % HINT_RING];
		size_t len = strlen(value);
		sl->len = 0xff;
		if (len <= HINT_VALUE_MAX) {
			sl->h = k.h;
			sl->h2 = k.h2;
			sl->type = (uint8_t)type;
			sl->len = (uint8_t)len;
			memcpy(sl->value, value, len);
		}
	}
}

/* The key of an entry: hashed by its hint if it had one (the next slot of the ring) */
static void entry_key(struct sq_listing *l, const struct tip_indicator *ind, struct snap_ent *k)
{
	struct hint_slot *sl = &l->ring[l->ring_r % HINT_RING];
	size_t len;
	if (l->ring_r != l->ring_w && sl->type == (uint8_t)ind->type && sl->len != 0xff &&
	    (len = strlen(ind->value)) == sl->len && !memcmp(sl->value, ind->value, len)) {
		k->h = sl->h;
		k->h2 = sl->h2;
		l->ring_r++;
		return;
	}
	key_hash(&l->head, ind->type, ind->value, k);
}

int sq_listing_seen(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind,
		    tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
		    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	struct sq_listing *l = s->listing;
	struct snap_ent k, *e;

	(void)now, (void)mark;
	if (!l || l->source_id != source_id)
		return tip_error_set(err, TIP_EINVAL, "listing entry outside a listing pass");
	if (!l->seen)
		return tip_error_set(err, TIP_EINVAL, "listing entry after the pass's settle began");
	entry_key(l, ind, &k);
	k.ah = attrs ? attr_hash(attrs->category, attrs->threat, attrs->tags, attrs->listed_since)
		     : attr_hash(NULL, NULL, NULL, 0);
	if ((e = snap_find(l, &k))) {
		size_t i = (size_t)(e - l->old);
		/* listed before, unchanged: nothing to write; unless this pass already wrote it
		 * with other attributes (listed twice): then this later listing must win */
		if (e->ah == k.ah && !(l->seen[i] & 2)) {
			l->seen[i] |= 1;
			return 0;
		}
		l->seen[i] |= 2;
	}
	if (attrs && (attrs->category || attrs->threat || attrs->tags || attrs->listed_since))
		l->attrs = true;
	{ /* written: to the sorter, which finds a registrable domain left for later (libpsl, the
	   * costliest step of a domain) on its own thread */
		char reg[TIP_DOMAIN_MAX + 1];
		bool later = ind->registrable_pending && ind->host[0];
		struct sq_sort_ent se = {
			.type = ind->type,
			.family = ind->family,
			.prefix = ind->prefix,
			.addr = ind->addr,
			.value = ind->value,
			.host = sq_ind_host(ind),
			.registrable = later ? NULL : sq_ind_registrable(ind, reg, sizeof(reg)),
			.registrable_later = later,
			.category = attrs ? attrs->category : NULL,
			.threat = attrs ? attrs->threat : NULL,
			.tags = attrs ? attrs->tags : NULL,
			.listed_since = attrs ? attrs->listed_since : 0,
			.h = k.h,
			.h2 = k.h2,
			.ah = k.ah,
		};
		int rc;
		l->n_changed++;
		return (rc = sq_sort_add(l->sort, &se, err)) < 0 ? rc : 1;
	}
}

static int any_removed(struct sq_store *s, int64_t source_id, bool *any, struct tip_error *err)
{
	sqlite3_stmt *q = sq_prep(s, q_any_removed, err);
	tip_time_t t0 = tip_monotonic();
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, source_id);
	rc = sqlite3_step(q);
	*any = rc == SQLITE_ROW && sqlite3_column_int(q, 0);
	sqlite3_reset(q);
	tip_debug("listing settle: %.3f s: the source has %sremoved sightings",
		  (double)(tip_monotonic() - t0) / TIP_SEC, *any ? "" : "no ");
	return rc == SQLITE_ROW ? 0 : sq_fail(s, err, "listing diff");
}

static int max_indicator(struct sq_store *s, int64_t *max, struct tip_error *err)
{
	return sq_int(s, q_max_indicator, max, err, "listing diff");
}

/* The written entries' rows (settle_written): the sorter's merge, each distinct key once. */
static const struct sq_rows_def written_def = {
	"tip_listing_written",
	"CREATE TABLE x (type INTEGER, value TEXT, host TEXT, registrable TEXT, family INTEGER,"
	" addr BLOB, prefix INTEGER, rows HIDDEN)",
	"itttibi",
};
static const struct sq_rows_def written_sightings_def = {
	"tip_listing_written_sightings",
	"CREATE TABLE x (id INTEGER, category TEXT, threat TEXT, tags TEXT, listed_since INTEGER,"
	" rows HIDDEN)",
	"ittti",
};

static int written_fail(char **msg, const struct tip_error *err)
{
	*msg = sqlite3_mprintf("%s", err->msg);
	return -1;
}

/* The entry written before is done: its id is the known indicator's, or the next new one;
 * its key goes to the new snapshot. */
static void written_done(struct sq_listing *l)
{
	struct snap_ent *e;
	if (!l->cur)
		return;
	e = &l->got[l->n_got++];
	e->h = l->cur->h;
	e->h2 = l->cur->h2;
	e->ah = l->cur->ah;
	e->id = l->cur_known ? l->cur_known : l->base + ++l->n_ord;
	l->cur = NULL;
}

static int written_next(void *arg, char **msg)
{
	struct sq_listing *l = arg;
	struct tip_error err = { 0 };
	int rc;
	written_done(l);
	l->cur_known = 0;
	if ((rc = sq_sort_next(l->sort, &l->cur, &err)) < 0)
		return written_fail(msg, &err);
	if (rc && l->n_got >= (size_t)l->n_changed) {
		*msg = sqlite3_mprintf("listing: more keys than entries written");
		return -1;
	}
	if (!rc)
		l->cur = NULL;
	return rc;
}

static void result_text(sqlite3_context *cx, const char *v)
{
	if (v)
		sqlite3_result_text(cx, v, -1, SQLITE_STATIC);
	else
		sqlite3_result_null(cx);
}

static void written_column(void *arg, sqlite3_context *cx, int col)
{
	const struct sq_sort_ent *e = ((struct sq_listing *)arg)->cur;
	switch (col) {
	case 0: sqlite3_result_int(cx, e->type); return;
	case 1: result_text(cx, e->value); return;
	case 2: result_text(cx, e->host); return;
	case 3: result_text(cx, e->registrable); return;
	}
	if (!e->family)
		sqlite3_result_null(cx);
	else if (col == 4)
		sqlite3_result_int(cx, e->family);
	else if (col == 5)
		sqlite3_result_blob(cx, e->addr, e->family == 4 ? 4 : 16, SQLITE_STATIC);
	else
		sqlite3_result_int(cx, e->prefix);
}

/* The sightings: the ids given above in the same order; with attributes, the merge again for
 * them (its keys checked against the ids' keys). */
static int written_sightings_next(void *arg, char **msg)
{
	struct sq_listing *l = arg;
	struct tip_error err = { 0 };
	int rc = l->n_given < l->n_got;
	if (l->attrs) {
		if ((rc = sq_sort_next(l->sort, &l->cur, &err)) < 0)
			return written_fail(msg, &err);
		if (rc && (l->n_given >= l->n_got || l->cur->h != l->got[l->n_given].h ||
			   l->cur->h2 != l->got[l->n_given].h2)) {
			*msg = sqlite3_mprintf("listing: the entries' second merge differs from the first");
			return -1;
		}
	}
	l->n_given += (size_t)rc;
	return rc;
}

static void written_sightings_column(void *arg, sqlite3_context *cx, int col)
{
	const struct sq_listing *l = arg;
	const struct sq_sort_ent *e = l->attrs ? l->cur : NULL;
	switch (col) {
	case 0: sqlite3_result_int64(cx, l->got[l->n_given - 1].id); return;
	case 1: result_text(cx, e ? e->category : NULL); return;
	case 2: result_text(cx, e ? e->threat : NULL); return;
	case 3: result_text(cx, e ? e->tags : NULL); return;
	}
	if (e && e->listed_since)
		sqlite3_result_int64(cx, e->listed_since);
	else
		sqlite3_result_null(cx);
}

/* An array of ids as a row table (the known indicators met, the old entries gone), sorted by
 * the caller */
static const struct sq_rows_def ids_def = {
	"tip_listing_ids",
	"CREATE TABLE x (id INTEGER, rows HIDDEN)",
	"i",
};
struct id_rows {
	const int64_t *v;
	size_t n, i;
};

static int ids_next(void *arg, char **msg)
{
	struct id_rows *r = arg;
	(void)msg;
	return r->i++ < r->n;
}

static void ids_column(void *arg, sqlite3_context *cx, int col)
{
	const struct id_rows *r = arg;
	(void)col;
	sqlite3_result_int64(cx, r->v[r->i - 1]);
}

/* One statement of settle_written over the rows, ?2 source, ?3 mark, ?4 now (if it has them);
 * *changes (may be NULL): the rows it changed. */
static int written_step(struct sq_store *s, const char *sql, const struct sq_rows_def *def,
			const struct sq_rows *rows, int64_t mark, tip_time_t now,
			int64_t *changes, struct tip_error *err)
{
	sqlite3_stmt *q = sq_rows_query(s, sql, def, rows, err);
	tip_time_t t0 = tip_monotonic();
	double c0 = tip_thread_cpu();
	int rc;
	if (!q)
		return TIP_ESTORE;
	if (sqlite3_bind_parameter_count(q) >= 4) {
		sq_bind_int(q, 2, s->listing->source_id);
		sq_bind_int(q, 3, mark);
		sq_bind_int(q, 4, now);
	}
	rc = sq_done(s, q, err, "listing diff");
	if (rc == 0 && changes)
		*changes = sqlite3_changes(s->db);
	sqlite3_bind_null(q, 1);
	tip_debug("listing settle: %.3f s (CPU %.3f s): %.60s",
		  (double)(tip_monotonic() - t0) / TIP_SEC, tip_thread_cpu() - c0, sql);
	return rc;
}

/* The written entries: the indicators and the sightings from the sorter's merge. */
static int settle_written(struct sq_store *s, struct sq_listing *l, int64_t mark, tip_time_t now,
			  int64_t *returned, struct tip_error *err)
{
	struct sq_rows rows = { .next = written_next, .column = written_column, .arg = l };
	int64_t max1;
	int rc;

	/* Known indicators: their sightings may exist, and removed ones return. Only a source
	 * with removed sightings needs their ids (as a table): not a first load of entries other
	 * sources list (for 1M of them: 8 MB of ids, 0.45 s and the temporary table's cache). */
	if ((rc = any_removed(s, l->source_id, &l->keep_known, err)) < 0)
		return rc;
	l->n_known = 0;
	l->n_ord = 0;
	l->cur = NULL;
	if ((rc = max_indicator(s, &l->base, err)) < 0 || (rc = sq_sort_rewind(l->sort, err)) < 0 ||
	    (rc = written_step(s, q_written_indicators, &written_def, &rows, mark, now, NULL,
			      err)) < 0 ||
	    (rc = max_indicator(s, &max1, err)) < 0)
		return rc;
	if (max1 - l->base != l->n_ord || l->n_ord + (int64_t)l->n_known != (int64_t)l->n_got)
		return tip_error_set(err, TIP_ESTORE,
				     "listing diff: %lld new indicators, ids %lld to %lld given",
				     (long long)(max1 - l->base), (long long)l->base + 1,
				     (long long)(l->base + l->n_ord));
	if (l->n_known && l->keep_known) {
		struct id_rows r = { .v = l->known, .n = l->n_known };
		struct sq_rows ids = { .next = ids_next, .column = ids_column, .arg = &r };
		qsort(l->known, l->n_known, sizeof(*l->known), id_cmp); /* the sightings' order */
		l->n_returned = 0;
		if ((rc = written_step(s, q_settle_returned, &ids_def, &ids, mark, now, NULL, err)) <
		    0)
			return rc;
		*returned = l->n_returned;
	}
	rows.next = written_sightings_next;
	rows.column = written_sightings_column;
	l->n_given = 0;
	if ((l->attrs && (rc = sq_sort_rewind(l->sort, err)) < 0) ||
	    (rc = written_step(s, q_written_sightings, &written_sightings_def, &rows, mark, now,
			       NULL, err)) < 0)
		return rc;
	if (l->n_given != l->n_got)
		return tip_error_set(err, TIP_ESTORE, "listing diff: %zu sightings for %zu keys",
				     l->n_given, l->n_got);
	return 0;
}

/* What the old snapshot has and the pass did not see: removed now; last_seen becomes the
 * previous successful pass (the last that listed it), as the read side showed it. */
static int settle_removed(struct sq_store *s, struct sq_listing *l, tip_time_t now,
			  int64_t *removed, struct tip_error *err)
{
	struct id_rows r = { .v = l->gone, .n = l->n_gone };
	struct sq_rows ids = { .next = ids_next, .column = ids_column, .arg = &r };
	int64_t prev = 0;
	sqlite3_stmt *q;

	*removed = 0;
	if (!l->n_gone)
		return 0;
	if (!(q = sq_prep(s, q_prev_success, err)))
		return TIP_ESTORE;
	sq_bind_int(q, 1, l->source_id);
	if (sqlite3_step(q) == SQLITE_ROW)
		prev = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	qsort(l->gone, l->n_gone, sizeof(*l->gone), id_cmp); /* B-tree order */
	/* the removal is the sighting's removed (an event only once it returns); written_step's
	 * "mark" is the previous successful pass here */
	return written_step(s, q_gone_update, &ids_def, &ids, prev, now, removed, err);
}

int sq_listing_settle(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
		      struct tip_listing_counts *c, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	struct sq_listing *l = s->listing;
	struct snap_ent *v;
	size_t n = 0, w;
	int64_t n_kept = 0;
	tip_time_t t0;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!l || l->source_id != source_id)
		return tip_error_set(err, TIP_EINVAL, "listing settle outside a listing pass");
	/* nothing written and nothing removed (a re-fetch of the same list): the stored snapshot
	 * is the new one as it is (unless its tag changes) */
	if (!l->n_changed && l->stored && l->same_tag && !memchr(l->seen, 0, l->n_old)) {
		c->total = (int64_t)l->n_old;
		tip_debug("listing settle: snapshot of %zu unchanged", l->n_old);
		sq_listing_free(l);
		s->listing = NULL;
		return 0;
	}
	/* The old snapshot becomes the new one in its own buffer: the ids of the entries the pass
	 * did not see go to settle_removed, the entries seen unchanged move to the front, and the
	 * written ones (settle_written) follow them. So the old and the written keys are never
	 * held twice: a pass that rewrote every entry of a 1M snapshot (its categories changed)
	 * held 24 MB more, and peaked at 113 MB against the 100 MB bound. */
	for (size_t i = 0; i < l->n_old; i++)
		l->n_gone += !l->seen[i];
	if (l->n_gone)
		l->gone = tip_xmalloc(l->n_gone * sizeof(*l->gone));
	l->n_gone = 0;
	for (size_t i = 0; i < l->n_old; i++) {
		if (!l->seen[i])
			l->gone[l->n_gone++] = l->old[i].id;
		else
			n_kept++;
		if (l->seen[i] == 1)
			l->old[n++] = l->old[i];
	}
	free(l->seen);
	l->seen = NULL;
	free(l->dir);
	l->dir = NULL;
	l->n_old = n;
	l->old = tip_xrealloc(l->old, (n + (size_t)l->n_changed + 1) * sizeof(*l->old));
	l->got = l->old + n;
	l->n_got = 0;
	if (l->n_changed && (rc = settle_written(s, l, mark, now, &c->returned, err)) < 0)
		return rc;
	t0 = tip_monotonic();
	if ((rc = settle_removed(s, l, now, &c->removed, err)) < 0)
		return rc;
	tip_debug("listing settle: %.3f s: %lld removed", (double)(tip_monotonic() - t0) / TIP_SEC,
		  (long long)c->removed);

	/* the new snapshot: the old entries seen unchanged, then the written ones with their ids */
	t0 = tip_monotonic();
	v = l->old;
	n = l->n_old + l->n_got;
	ent_sort(v, n);
	for (size_t i = w = 0; i < n; i++) /* an entry listed twice counts once */
		if (w == 0 || ent_cmp(&v[w - 1], &v[i]))
			v[w++] = v[i];
	if ((rc = snap_store(s, l, v, w, err)) < 0)
		return rc;
	c->total = (int64_t)w;
	/* the new snapshot's keys were active before (n_kept), came back, or are new */
	c->added = c->total - n_kept - c->returned;
	tip_debug("listing settle: %.3f s: new snapshot of %zu", (double)(tip_monotonic() - t0) / TIP_SEC,
		  w);
	sq_listing_free(l);
	s->listing = NULL;
	return 0;
}
