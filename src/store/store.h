/*
 * store.h — the public face of src/store: everything TIP keeps, behind one narrow API.
 *
 * A store is opened from a URL (sqlite:///path today; postgresql://… is a second backend of the
 * same API, picked by scheme from one table in store.c, as OpenSMTPD picks queue_fs/queue_ram).
 * Callers never see SQL. Every function returns 0 or a negative TIP_E* code and fills err.
 *
 * Transactions: a module groups a batch with tip_store_begin / tip_store_commit (or _rollback);
 * the store functions themselves never commit on their own inside a caller's transaction. Outside
 * one, each write is its own transaction.
 *
 * Iteration: list functions call cb(arg, row) for each row; a row lives only during the call.
 * A callback returning non-zero stops the iteration, and that value is returned.
 *
 * Times are tip_time_t (microseconds since the epoch). A removed/ended time of 0 means "not".
 */
#ifndef TIP_STORE_H
#define TIP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct tip_store;

/* ---------------------------------------------------------------------------------------- */
/* Opening, schema, transactions */

enum {
	TIP_STORE_CREATE = 1 << 0,   /* create the file (and its folder) if missing */
	TIP_STORE_READONLY = 1 << 1, /* the CLI's read commands */
	TIP_STORE_NOMIGRATE = 1 << 2 /* do not check the schema version (tip init migrates) */
};

int tip_store_open(const char *url, int flags, struct tip_store **out, struct tip_error *err);
void tip_store_close(struct tip_store *st);

/* The newest schema version this build knows. */
int tip_store_schema_latest(void);
/* The version the store is at (0: empty). */
int tip_store_schema_version(struct tip_store *st, int *version, struct tip_error *err);
/* Brings the schema to `target` (0: the latest), one migration per transaction. Idempotent.
 * *from and *to (may be NULL) say what happened. */
int tip_store_migrate(struct tip_store *st, int target, int *from, int *to, struct tip_error *err);

int tip_store_begin(struct tip_store *st, struct tip_error *err);
/* As tip_store_begin, for a batch whose references between rows the store's bulk path checks
 * itself: a feed's listing pass (tip_store_listing_settle verifies that every sighting it
 * writes names an indicator it inserted or met, and the source of the pass). Other writes in
 * it must name rows that exist, as anywhere: the database does not check them row by row
 * here. Nested in another transaction, it is that one's part. */
int tip_store_begin_bulk(struct tip_store *st, struct tip_error *err);
int tip_store_commit(struct tip_store *st, struct tip_error *err);
int tip_store_rollback(struct tip_store *st);

/* ---------------------------------------------------------------------------------------- */
/* The watch list: the domains fast-flux tracking resolves. Removing keeps the row (history) and
 * marks it removed; adding it again re-activates it. */

struct tip_watch {
	const char *domain;
	const char *source;   /* "cli", "feed:NAME", "spamtrap", … */
	tip_time_t added;
	tip_time_t removed;   /* 0: active */
	tip_time_t next_due;  /* 0: due now */
	tip_time_t last_round;
	int64_t rounds;
};

enum tip_watch_result { TIP_WATCH_ADDED = 1, TIP_WATCH_REACTIVATED, TIP_WATCH_PRESENT };

/* domain must be canonical (tip_indicator_parse). *result (may be NULL) says what happened. */
int tip_store_watch_add(struct tip_store *st, const char *domain, const char *source,
			tip_time_t now, enum tip_watch_result *result, struct tip_error *err);
/* Many domains at once, in any order, as tip_store_watch_add for each in turn (a domain given
 * twice is present the second time), in two statements: a feed pass that watches what it
 * lists, `tip watch add --file`. Sorted first by the store; a batch of some 10,000 or more
 * is where it pays. */
struct tip_watch_counts {
	int64_t added, reactivated, present;
};
int tip_store_watch_add_many(struct tip_store *st, const char *const *domains, size_t n,
			     const char *source, tip_time_t now, struct tip_watch_counts *counts,
			     struct tip_error *err);
/* *removed is false when the domain was not actively watched. */
int tip_store_watch_rm(struct tip_store *st, const char *domain, tip_time_t now, bool *removed,
		       struct tip_error *err);
typedef int (*tip_watch_cb)(void *arg, const struct tip_watch *w);
/* Active entries in domain order; with all, removed ones too. */
int tip_store_watch_list(struct tip_store *st, bool all, tip_watch_cb cb, void *arg,
			 struct tip_error *err);
int tip_store_watch_get(struct tip_store *st, const char *domain, tip_watch_cb cb, void *arg,
			struct tip_error *err);
int tip_store_watch_count(struct tip_store *st, int64_t *active, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Indicators and their sightings per source (feeds, spamtrap, …). */

struct tip_sighting {
	const char *source;
	enum tip_ind_type type;
	const char *value;
	tip_time_t first_seen, last_seen;
	tip_time_t removed; /* 0: still listed */
	const char *category, *threat, *tags; /* may be NULL */
};
typedef int (*tip_sighting_cb)(void *arg, const struct tip_sighting *s);

struct tip_sighting_attrs {
	const char *category, *threat, *tags; /* may be NULL */
	tip_time_t listed_since;              /* the feed's own first-seen, 0 if none */
};

/* Sources: feeds, "cli", "spamtrap"… Creates the row when missing; *id gets its id. */
int tip_store_source_id(struct tip_store *st, const char *name, const char *kind, int64_t *id,
			struct tip_error *err);
/* Get-or-create the indicator (canonical, from tip_indicator_parse); *id gets its id. */
int tip_store_indicator_put(struct tip_store *st, const struct tip_indicator *ind,
			    tip_time_t now, int64_t *id, struct tip_error *err);
/* The source lists the indicator at `now`, in the pass marked `mark` (a run id): new sightings
 * get first_seen, present ones last_seen, removed ones come back. *state (may be NULL) gets
 * TIP_SIGHTING_NEW, _SEEN or _RETURNED. */
enum tip_sighting_state { TIP_SIGHTING_NEW = 1, TIP_SIGHTING_SEEN, TIP_SIGHTING_RETURNED };
int tip_store_sighting_seen(struct tip_store *st, int64_t source_id, int64_t indicator_id,
			    tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
			    enum tip_sighting_state *state, struct tip_error *err);
/* After a complete pass: every active sighting of the source not seen with `mark` is marked
 * removed at `now`. *removed (may be NULL) gets how many. */
int tip_store_sighting_sweep(struct tip_store *st, int64_t source_id, int64_t mark,
			     tip_time_t now, int64_t *removed, struct tip_error *err);

/* Every sighting of this exact indicator (type + canonical value). */
int tip_store_sightings(struct tip_store *st, enum tip_ind_type type, const char *value,
			tip_sighting_cb cb, void *arg, struct tip_error *err);
/* Sightings of indicators whose host is `host` (URLs and e-mail addresses on a domain or IP). */
int tip_store_sightings_by_host(struct tip_store *st, const char *host, tip_sighting_cb cb,
				void *arg, struct tip_error *err);
/* Listed networks (CIDR sightings) that contain the address (family 4 or 6, 16 bytes). */
int tip_store_sightings_containing(struct tip_store *st, int family, const uint8_t *addr,
				   tip_sighting_cb cb, void *arg, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Feeds: the feed state of a source row, and the fast path of a whole listing pass. */

struct tip_feed_row {
	int64_t id;
	const char *name, *url, *format;
	const char *options;   /* "key=value" lines (feeds added with `tip feed add`), or NULL */
	const char *origin;    /* "cli" or "config" */
	int64_t interval_s;
	bool enabled;
	tip_time_t created, removed; /* removed 0: active */
	const char *etag, *last_modified;
	tip_time_t last_fetch, last_success;
	int64_t last_status;   /* HTTP status of the last fetch, 0: none (file://, or never) */
	const char *last_error;      /* NULL: the last fetch succeeded */
	const char *rejected_sample; /* the first rejected lines of the last parse, or NULL */
	int64_t n_total, n_new, n_removed, n_rejected;
};
typedef int (*tip_feed_cb)(void *arg, const struct tip_feed_row *f);

/* Creates or updates the feed's definition (re-activates a removed one); state is kept. */
int tip_store_feed_put(struct tip_store *st, const char *name, const char *url, const char *format,
		       int64_t interval_s, const char *options, const char *origin, bool enabled,
		       tip_time_t now, int64_t *id, struct tip_error *err);
/* Marks the feed removed (its row and history stay); *removed false when it was not active. */
int tip_store_feed_rm(struct tip_store *st, const char *name, tip_time_t now, bool *removed,
		      struct tip_error *err);
/* Feeds in name order; with all, removed ones too. */
int tip_store_feed_list(struct tip_store *st, bool all, tip_feed_cb cb, void *arg,
			struct tip_error *err);
/* TIP_ENOTFOUND when there is no such feed (removed ones are found). */
int tip_store_feed_get(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg,
		       struct tip_error *err);

/* The outcome of one fetch. On failure (error set) only last_fetch, last_status and last_error
 * change; a 304 changes last_fetch, last_status and clears last_error; a success sets all. */
struct tip_feed_result {
	tip_time_t at;
	int64_t status;
	const char *error;           /* NULL: success */
	bool not_modified;
	const char *etag, *last_modified, *rejected_sample;
	int64_t n_total, n_new, n_removed, n_rejected;
};
int tip_store_feed_result(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r,
			  struct tip_error *err);

/* A listing pass, the fast way (a complete snapshot of one source, e.g. a feed): inside one
 * transaction (a bulk one, tip_store_begin_bulk, is what it is made for), listing_begin (which
 * fails if there is no such source), then every entry of the pass through listing_seen with
 * the same `now` and `mark`, then listing_settle, which stores the indicators and sightings set-based,
 * writes the history events (listed, returned, removed), re-activates what came back and marks
 * removed what vanished. An entry listed twice in one pass counts once. The pass is diffed
 * against the source's previous snapshot (kept by the store): entries listed before with the
 * same attributes are not written, the others are held in temporary storage (on disk) until
 * settle; memory is about 24 bytes per entry of the snapshot. An active sighting's last_seen
 * is then the source's last_success (what tip_store_sightings returns; removal stores it). */
int tip_store_listing_begin(struct tip_store *st, int64_t source_id, uint64_t tag, bool *same_tag,
			    struct tip_error *err);
/* tag (listing_begin): the caller's value, kept with the snapshot this pass leaves, e.g. a hash
 * of the rules it applies to the entries written (the feeds' watch policy). *same_tag: the
 * snapshot the pass is diffed against was left by a pass with the same tag (false for a source
 * without one, or one rebuilt from the sightings).
 * listing_seen returns 1 for an entry written (new, returned, or with other attributes), 0 for
 * one listed before as it is, < 0 on failure. */
int tip_store_listing_seen(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind,
			   tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs,
			   struct tip_error *err);
/* A hint inside a listing pass that listing_seen will soon be given this entry (a few entries
 * ahead): the backend may bring what its look-up needs into the CPU's cache meanwhile. Changes
 * nothing; any entry, any order, or none at all is fine. */
void tip_store_listing_hint(struct tip_store *st, enum tip_ind_type type, const char *value);
struct tip_listing_counts {
	int64_t total;    /* active sightings of the source after the pass */
	int64_t added;    /* listed for the first time */
	int64_t returned; /* listed again after being removed */
	int64_t removed;  /* not in this pass any more */
};
int tip_store_listing_settle(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now,
			     struct tip_listing_counts *counts, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Passive DNS: what resolving returned, merged per (domain, rrtype, value). */

struct tip_resolution {
	const char *domain;
	const char *rrtype; /* "A", "AAAA", "NS", … */
	const char *value;
	tip_time_t first_seen, last_seen;
	int64_t count;
	int64_t min_ttl, max_ttl;
	/* enrichment of A/AAAA values; asn 0 and NULL strings when unknown */
	int64_t asn;
	const char *as_name, *cc;
};
typedef int (*tip_resolution_cb)(void *arg, const struct tip_resolution *r);

/* One answer record seen at `now` with `ttl`: inserts or merges (count, last_seen, TTL range). */
int tip_store_pdns_record(struct tip_store *st, const char *domain, const char *rrtype,
			  const char *value, int64_t ttl, tip_time_t now, struct tip_error *err);
/* By domain, ordered by rrtype, first_seen. */
int tip_store_resolutions(struct tip_store *st, const char *domain, tip_resolution_cb cb,
			  void *arg, struct tip_error *err);
/* By value: the domains seen on an address (or pointing at a name server). */
int tip_store_resolutions_by_value(struct tip_store *st, const char *value, tip_resolution_cb cb,
				   void *arg, struct tip_error *err);

/* One resolution round of one domain and record type: the outcome ("ok", "nxdomain",
 * "servfail", "timeout", "refused", "nodata", …) and what the answer held. Flux classification
 * reads these: n_records summed over rounds is the n_all of Holz et al.'s fluxiness. */
struct tip_round {
	const char *domain;
	const char *rrtype;
	tip_time_t at;
	const char *outcome;
	int64_t n_records; /* records in the answer */
	int64_t n_new;     /* of which never seen before for this domain and rrtype */
	int64_t min_ttl;   /* -1: no records */
	int64_t set_hash;  /* order-independent hash of the answer's values (0: none) */
};
typedef int (*tip_round_cb)(void *arg, const struct tip_round *r);
int tip_store_round_put(struct tip_store *st, const struct tip_round *r, struct tip_error *err);
/* Rounds of a domain at or after `since`, oldest first. */
int tip_store_rounds(struct tip_store *st, const char *domain, tip_time_t since, tip_round_cb cb,
		     void *arg, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Fast-flux pass 1 (flux-resolve): the due watch list, round bookkeeping, new-or-seen passive
 * DNS, stale enrichment. */

typedef int (*tip_watch_due_cb)(void *arg, int64_t id, const char *domain);
/* Active watched domains due at `now` (next_due <= now) with id > after_id, in id order, at
 * most `limit` (0: all). Callers stream a large list in chunks, resuming after the last id. */
int tip_store_watch_due(struct tip_store *st, tip_time_t now, int64_t after_id, int limit,
			tip_watch_due_cb cb, void *arg, struct tip_error *err);
/* A domain's round ended at `at` with `outcome`; it is due again at next_due. A domain that is
 * not watched is left alone (no error). id: the row's id from tip_store_watch_due (cheaper), or
 * 0 to find it by domain. */
int tip_store_watch_resolved(struct tip_store *st, int64_t id, const char *domain, tip_time_t at,
			     tip_time_t next_due, const char *outcome, struct tip_error *err);
/* The same for many watched domains at once, by id (> 0), in one statement: the writer of a
 * pass hands its ended domains over per batch (one row write each, no statement each). v is
 * sorted by id in place; a domain listed twice counts both rounds and keeps the later one's
 * time, due time and outcome (outcome: a string that outlives the call). */
struct tip_watch_done {
	int64_t id;
	tip_time_t at, next_due;
	const char *outcome;
};
int tip_store_watch_resolved_batch(struct tip_store *st, struct tip_watch_done *v, size_t n,
				   struct tip_error *err);
/* Many answers at once (the pass's writer, per batch): the same as tip_store_pdns_answer on
 * each in order, rd.n_new (and is_new, when not NULL) set for each. The answers of watched
 * domains (watch_id > 0) whose set is unchanged are counted in one statement. */
struct tip_answer {
	int64_t watch_id;
	struct tip_round rd;
	const struct tip_pdns_rec *rec;
	size_t n;
	bool *is_new;
};
int tip_store_pdns_answer_batch(struct tip_store *st, struct tip_answer *a, size_t n,
				struct tip_error *err);
/* As tip_store_pdns_record; *is_new (may be NULL) says whether (domain, rrtype, value) was
 * never seen before. */
int tip_store_pdns_observe(struct tip_store *st, const char *domain, const char *rrtype,
			   const char *value, int64_t ttl, tip_time_t now, bool *is_new,
			   struct tip_error *err);
/* One answer of a round, and its round: rd (domain, rrtype, at, outcome, n_records, min_ttl,
 * set_hash as in struct tip_round; its n_new is ignored) with its n records (value, ttl) for
 * domain and rrtype. Merges the records into passive DNS like n tip_store_pdns_observe calls,
 * sets is_new[i] (may be NULL) and *n_new (may be NULL; the count of new records), and writes
 * the round with that n_new, as tip_store_round_put would (n = 0: the round only).
 * watch_id: the domain's watch row (tip_store_watch_due), or 0 to find it by name. For a
 * watched domain, when the set is the one this domain and rrtype answered last time (same
 * set_hash, size and values) with one TTL, neither the pdns rows nor a round row are written:
 * a small per-set row counts the round, and the read side (resolutions, rounds, the flux scan)
 * adds what it holds, so what is read is the same. */
struct tip_pdns_rec {
	const char *value;
	int64_t ttl;
};
int tip_store_pdns_answer(struct tip_store *st, int64_t watch_id, const struct tip_round *rd,
			  const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new,
			  struct tip_error *err);
/* Bulk writing for a pass that writes a lot in a row (on: true) and its end (on: false). SQLite:
 * no automatic WAL checkpoint while on (each would copy and fsync the database again), one
 * checkpoint when turned off. Outside a transaction. */
int tip_store_bulk(struct tip_store *st, bool on, struct tip_error *err);
/* Copies what is committed into the database file without waiting for readers or writers
 * (SQLite: a PASSIVE WAL checkpoint), from a connection of its own beside a bulk writer, so that
 * the bulk pass's closing checkpoint finds little left. Outside a transaction. */
int tip_store_checkpoint(struct tip_store *st, struct tip_error *err);
/* Passive DNS kept compact: the rounds a writer of many answers left to be taken later (SQLite:
 * the answer log of unchanged answer sets, schema 10) are written into their rows, when they
 * are more than per_set - 1 a set on average, i.e. per_set passes' worth (0: whenever there
 * are any). What is read is the same before and after; readers pay for what is left (a few
 * rounds a set is cheap). Pass 2's scan does it first in any case. In a transaction or outside (its own then). Returns how many
 * rounds were taken (0: none, or too few to fold), or an error. */
int tip_store_pdns_fold(struct tip_store *st, int per_set, struct tip_error *err);
typedef int (*tip_ipinfo_stale_cb)(void *arg, const char *addr);
/* Cached ipinfo rows not made by (db, db_version): to enrich again. At most `limit` (0: all). */
int tip_store_ipinfo_stale(struct tip_store *st, const char *db, const char *db_version,
			   int limit, tip_ipinfo_stale_cb cb, void *arg, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* IP enrichment cache. */

struct tip_ipinfo {
	const char *addr;
	int64_t asn;         /* 0: unknown */
	const char *as_name; /* NULL: unknown */
	const char *cc;      /* ISO 3166 alpha-2, NULL: unknown */
	const char *db;      /* which database answered: "libloc", "mmdb" */
	const char *db_version;
	tip_time_t updated;
};
typedef int (*tip_ipinfo_cb)(void *arg, const struct tip_ipinfo *i);
int tip_store_ipinfo_put(struct tip_store *st, const struct tip_ipinfo *info,
			 struct tip_error *err);
/* TIP_ENOTFOUND when the address has no cached row. */
int tip_store_ipinfo_get(struct tip_store *st, const char *addr,
			 tip_ipinfo_cb cb, void *arg,
			 struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Flux verdicts: the newest per domain, with its features and why. */

struct tip_verdict {
	const char *domain;
	tip_time_t at;
	const char *verdict; /* fastflux, suspicious, benign, unknown */
	double score;
	int64_t n_a, n_asn, n_ns, n_cc;
	double fluxiness;
	int64_t min_ttl; /* -1: none seen */
	int64_t rounds;
	bool double_flux;
	const char *why;    /* the numbers that made the verdict, in words */
	const char *family; /* network family name, or NULL */
	/* pass 2's further features (0 when written by tip_store_verdict_put) */
	int64_t n_p16;      /* distinct IPv4 /16 prefixes of the A records (FluxBuster) */
	int64_t a_changes;  /* rounds whose A set differed from the round before */
	int64_t ns_changes; /* the same for the NS set */
	double growth;      /* new A records per round after the first */
	int64_t n_allowed;  /* A records in known-good networks (the allowlist) */
	tip_time_t since;   /* read side: when the domain got its current verdict */
};
typedef int (*tip_verdict_cb)(void *arg, const struct tip_verdict *v);
/* Records a verdict (history kept) and makes it the domain's current one. */
int tip_store_verdict_put(struct tip_store *st, const struct tip_verdict *v, struct tip_error *err);
/* The current verdict of a domain; TIP_ENOTFOUND when none. */
int tip_store_verdict_get(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg,
			  struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Flux classification (pass 2): the bulk scan, verdicts in batches, events, network families. */

/* What the scan hands over per domain: its passive-DNS records last seen in the window (A and
 * AAAA with their enrichment) and its rounds in the window, oldest first. */
struct tip_flux_record {
	const char *rrtype, *value;
	tip_time_t first_seen, last_seen;
	int64_t count, min_ttl;
	int64_t asn;    /* 0: unknown */
	const char *cc; /* NULL: unknown */
};
struct tip_flux_domain {
	const char *domain;
	const struct tip_flux_record *rec;
	size_t n_rec;
	const struct tip_round *rounds; /* ordered by rrtype, then time */
	size_t n_rounds;
};
typedef int (*tip_flux_domain_cb)(void *arg, const struct tip_flux_domain *d);
/* Every domain with a round at or after `since`, in domain order, with what it resolved to in
 * the window (records whose last_seen >= since). Two ordered index scans merged, one pass: the
 * rows of one domain live only during the call. Folds passive DNS first (tip_store_pdns_fold,
 * a write: on a read-only store with rounds to fold it fails, saying so). */
int tip_store_flux_scan(struct tip_store *st, tip_time_t since, tip_flux_domain_cb cb, void *arg,
			struct tip_error *err);

/* Records a verdict with every feature (history kept) and makes it the domain's current one.
 * When it differs from the previous current verdict, a flux event (old → new, why) is stored
 * too and *old gets the old verdict (a static string; NULL: no change or first verdict, except
 * a first verdict of fastflux or suspicious, which is an event with old "none"). */
int tip_store_flux_verdict_put(struct tip_store *st, const struct tip_verdict *v,
			       const char **old, struct tip_error *err);
/* Current verdicts: fastflux and suspicious ones, or all; fastflux first, then by score. */
int tip_store_flux_list(struct tip_store *st, bool all, tip_verdict_cb cb, void *arg,
			struct tip_error *err);
/* The verdict history of a domain, oldest first. */
int tip_store_flux_history(struct tip_store *st, const char *domain, tip_verdict_cb cb,
			   void *arg, struct tip_error *err);

struct tip_flux_event {
	const char *domain;
	tip_time_t at;
	const char *old_verdict, *new_verdict; /* old "none": the first verdict */
	const char *why;
};
typedef int (*tip_flux_event_cb)(void *arg, const struct tip_flux_event *e);
/* Newest first; domain NULL: every domain; limit 0: no limit. */
int tip_store_flux_events(struct tip_store *st, const char *domain, int limit,
			  tip_flux_event_cb cb, void *arg, struct tip_error *err);

/* A network family: flux domains that share agents (A records) in the window. Each pass that
 * sees it records its size (the time series) and its members and agents. */
struct tip_family {
	const char *name;
	tip_time_t first_seen, last_seen;
	int64_t n_domains, n_agents; /* at last_seen */
	int64_t first_domains, first_agents; /* at first_seen: the growth is the difference */
};
typedef int (*tip_family_cb)(void *arg, const struct tip_family *f);
/* One classification pass and what it found (families are current when seen in the newest). */
struct tip_flux_pass {
	tip_time_t at;
	int64_t domains, fastflux, suspicious, benign, unknown, double_flux, families, events;
};
int tip_store_flux_pass_put(struct tip_store *st, const struct tip_flux_pass *p,
			    struct tip_error *err);
/* The newest pass into *p; TIP_ENOTFOUND when there was none. */
int tip_store_flux_pass_last(struct tip_store *st, struct tip_flux_pass *p, struct tip_error *err);

/* Upserts the family and appends its size at `at`. */
int tip_store_family_put(struct tip_store *st, const char *name, tip_time_t at,
			 int64_t n_domains, int64_t n_agents, struct tip_error *err);
/* kind "domain" or "agent": one member seen in the family at `at`. */
int tip_store_family_member(struct tip_store *st, const char *name, const char *kind,
			    const char *value, tip_time_t at, struct tip_error *err);
/* Families seen in the newest pass (largest first); all: every family ever. */
int tip_store_families(struct tip_store *st, bool all, tip_family_cb cb, void *arg,
		       struct tip_error *err);
typedef int (*tip_family_member_cb)(void *arg, const char *kind, const char *value,
				    tip_time_t first_seen, tip_time_t last_seen);
/* The members of a family at its last pass (domains, then agents), in value order. */
int tip_store_family_members(struct tip_store *st, const char *name, tip_family_member_cb cb,
			     void *arg, struct tip_error *err);
typedef int (*tip_family_size_cb)(void *arg, tip_time_t at, int64_t n_domains,
				  int64_t n_agents);
/* A family's size over time, oldest first. */
int tip_store_family_sizes(struct tip_store *st, const char *name, tip_family_size_cb cb,
			   void *arg, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Job runs, recorded by the master for every module pass. */

struct tip_run {
	int64_t id;
	const char *module;
	int64_t pid;
	tip_time_t started, ended; /* ended 0: still running (or the master died) */
	const char *status;        /* running, ok, failed, killed, timeout, crashed */
	int64_t exit_code;         /* -1 when killed by a signal */
	int64_t signal;            /* 0 when it exited */
	int64_t items;
	const char *error; /* NULL when none */
};
typedef int (*tip_run_cb)(void *arg, const struct tip_run *r);

int tip_store_run_start(struct tip_store *st, const char *module, int64_t pid,
			tip_time_t started, int64_t *id, struct tip_error *err);
int tip_store_run_end(struct tip_store *st, int64_t id, tip_time_t ended, const char *status,
		      int64_t exit_code, int64_t signal, int64_t items, const char *error,
		      struct tip_error *err);
/* Newest first; module NULL: every module; limit 0: no limit. */
int tip_store_runs(struct tip_store *st, const char *module, int limit, tip_run_cb cb, void *arg,
		   struct tip_error *err);
/* Gives back the connection's cached pages (the master calls it after recording a run, so that
 * a connection held for months keeps a flat footprint). Never fails. */
void tip_store_release_memory(struct tip_store *st);

#endif
