/*
 * enrich.h — the public face of src/enrich: IP address → ASN, AS name, country, from offline
 * databases. libloc (Debian libloc + libloc-database; [enrich] locdb) by default; MaxMind MMDB
 * files via libmaxminddb when [enrich] mmdb_asn / mmdb_country name them (their fields win, libloc
 * fills what they lack). Answers are cached in the store's ipinfo table with the databases'
 * identity and version ("db", "db_version"); a cached row made by another version is redone.
 */
#ifndef TIP_ENRICH_H
#define TIP_ENRICH_H

#include "core/core.h"
#include "store/store.h"

struct tip_enrich;

/* Opens the configured databases. A configured file that cannot be read is an error naming it;
 * the default locdb path missing only disables libloc (logged). With nothing usable, lookups
 * answer "unknown" (asn 0, NULL strings) and tip_enrich_db() is "none". */
int tip_enrich_open(const struct tip_config *cfg, struct tip_enrich **out, struct tip_error *err);
void tip_enrich_close(struct tip_enrich *e);

/* What answers: "libloc", "mmdb", "mmdb+libloc" or "none", and a version string that changes
 * when any of the databases does (vendor, build time). */
const char *tip_enrich_db(const struct tip_enrich *e);
const char *tip_enrich_version(const struct tip_enrich *e);

/* Looks the address (IPv4 or IPv6 text) up. Fills *info; its strings live in e until the next
 * call. Unknown fields are 0 / NULL. TIP_EINVAL when addr is not an address. */
int tip_enrich_lookup(struct tip_enrich *e, const char *addr, tip_time_t now,
		      struct tip_ipinfo *info, struct tip_error *err);

/* The cached answer for addr in the store, looked up and stored when missing or made by another
 * database version. *looked_up (may be NULL) says whether a database lookup happened. */
int tip_enrich_cached(struct tip_enrich *e, struct tip_store *st, const char *addr,
		      tip_time_t now, bool *looked_up, struct tip_error *err);

/* Redoes every cached row made by another database or version (after a database update), in
 * the caller's transaction or, outside one, in batches of its own. *n (may be NULL) gets how many. */
int tip_enrich_refresh(struct tip_enrich *e, struct tip_store *st, tip_time_t now, int64_t *n,
		       struct tip_error *err);

#endif
