/* store_int.h — inside src/store: the backend interface. A backend fills one struct store_ops
 * and embeds struct tip_store first in its own handle. Not for use outside src/store. */
#ifndef TIP_STORE_INT_H
#define TIP_STORE_INT_H

#include "store.h"

struct store_ops {
	const char *scheme; /* "sqlite", "postgresql" */
	int (*open)(const char *url, int flags, struct tip_store **out, struct tip_error *err);
	int (*schema_latest)(void);
	void (*close)(struct tip_store *st);
	int (*schema_version)(struct tip_store *st, int *version, struct tip_error *err);
	int (*migrate)(struct tip_store *st, int target, int *from, int *to, struct tip_error *err);
	int (*begin)(struct tip_store *st, struct tip_error *err);
	int (*begin_bulk)(struct tip_store *st, struct tip_error *err); /* NULL: begin */
	int (*commit)(struct tip_store *st, struct tip_error *err);
	int (*rollback)(struct tip_store *st);
	int (*watch_add)(struct tip_store *st, const char *domain, const char *source, tip_time_t now, enum tip_watch_result *result, struct tip_error *err);
	int (*watch_add_many)(struct tip_store *st, const char *const *domains, size_t n,
			      const char *source, tip_time_t now, struct tip_watch_counts *counts,
			      struct tip_error *err);
	int (*watch_rm)(struct tip_store *st, const char *domain, tip_time_t now, bool *removed, struct tip_error *err);
	int (*watch_list)(struct tip_store *st, bool all, tip_watch_cb cb, void *arg, struct tip_error *err);
	int (*watch_get)(struct tip_store *st, const char *domain, tip_watch_cb cb, void *arg, struct tip_error *err);
	int (*watch_count)(struct tip_store *st, int64_t *active, struct tip_error *err);
	int (*source_id)(struct tip_store *st, const char *name, const char *kind, int64_t *id, struct tip_error *err);
	int (*indicator_put)(struct tip_store *st, const struct tip_indicator *ind, tip_time_t now, int64_t *id, struct tip_error *err);
	int (*sighting_seen)(struct tip_store *st, int64_t source_id, int64_t indicator_id, tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs, enum tip_sighting_state *state, struct tip_error *err);
	int (*sighting_sweep)(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now, int64_t *removed, struct tip_error *err);
	int (*sightings)(struct tip_store *st, enum tip_ind_type type, const char *value, tip_sighting_cb cb, void *arg, struct tip_error *err);
	int (*sightings_by_host)(struct tip_store *st, const char *host, tip_sighting_cb cb, void *arg, struct tip_error *err);
	int (*sightings_containing)(struct tip_store *st, int family, const uint8_t *addr, tip_sighting_cb cb, void *arg, struct tip_error *err);
	int (*feed_put)(struct tip_store *st, const char *name, const char *url, const char *format, int64_t interval_s, const char *options, const char *origin, bool enabled, tip_time_t now, int64_t *id, struct tip_error *err);
	int (*feed_rm)(struct tip_store *st, const char *name, tip_time_t now, bool *removed, struct tip_error *err);
	int (*feed_list)(struct tip_store *st, bool all, tip_feed_cb cb, void *arg, struct tip_error *err);
	int (*feed_get)(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg, struct tip_error *err);
	int (*feed_result)(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r, struct tip_error *err);
	int (*listing_begin)(struct tip_store *st, int64_t source_id, uint64_t tag, bool *same_tag,
			     struct tip_error *err);
	int (*listing_seen)(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind, tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs, struct tip_error *err);
	void (*listing_hint)(struct tip_store *st, enum tip_ind_type type, const char *value);
	int (*listing_settle)(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now, struct tip_listing_counts *counts, struct tip_error *err);
	int (*pdns_record)(struct tip_store *st, const char *domain, const char *rrtype, const char *value, int64_t ttl, tip_time_t now, struct tip_error *err);
	int (*resolutions)(struct tip_store *st, const char *domain, tip_resolution_cb cb, void *arg, struct tip_error *err);
	int (*resolutions_by_value)(struct tip_store *st, const char *value, tip_resolution_cb cb, void *arg, struct tip_error *err);
	int (*round_put)(struct tip_store *st, const struct tip_round *r, struct tip_error *err);
	int (*rounds)(struct tip_store *st, const char *domain, tip_time_t since, tip_round_cb cb, void *arg, struct tip_error *err);
	int (*ipinfo_put)(struct tip_store *st, const struct tip_ipinfo *info, struct tip_error *err);
	int (*ipinfo_get)(struct tip_store *st, const char *addr, tip_ipinfo_cb cb, void *arg, struct tip_error *err);
	int (*verdict_put)(struct tip_store *st, const struct tip_verdict *v, struct tip_error *err);
	int (*verdict_get)(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg, struct tip_error *err);
	int (*flux_scan)(struct tip_store *st, tip_time_t since, tip_flux_domain_cb cb, void *arg, struct tip_error *err);
	int (*flux_verdict_put)(struct tip_store *st, const struct tip_verdict *v, const char **old, struct tip_error *err);
	int (*flux_list)(struct tip_store *st, bool all, tip_verdict_cb cb, void *arg, struct tip_error *err);
	int (*flux_history)(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg, struct tip_error *err);
	int (*flux_events)(struct tip_store *st, const char *domain, int limit, tip_flux_event_cb cb, void *arg, struct tip_error *err);
	int (*flux_pass_last)(struct tip_store *st, struct tip_flux_pass *p, struct tip_error *err);
	int (*flux_pass_put)(struct tip_store *st, const struct tip_flux_pass *p, struct tip_error *err);
	int (*family_put)(struct tip_store *st, const char *name, tip_time_t at, int64_t n_domains, int64_t n_agents, struct tip_error *err);
	int (*family_member)(struct tip_store *st, const char *name, const char *kind, const char *value, tip_time_t at, struct tip_error *err);
	int (*families)(struct tip_store *st, bool all, tip_family_cb cb, void *arg, struct tip_error *err);
	int (*family_members)(struct tip_store *st, const char *name, tip_family_member_cb cb, void *arg, struct tip_error *err);
	int (*family_sizes)(struct tip_store *st, const char *name, tip_family_size_cb cb, void *arg, struct tip_error *err);
	int (*run_start)(struct tip_store *st, const char *module, int64_t pid, tip_time_t started, int64_t *id, struct tip_error *err);
	int (*run_end)(struct tip_store *st, int64_t id, tip_time_t ended, const char *status, int64_t exit_code, int64_t signal, int64_t items, const char *error, struct tip_error *err);
	int (*watch_due)(struct tip_store *st, tip_time_t now, int64_t after_id, int limit, tip_watch_due_cb cb, void *arg, struct tip_error *err);
	int (*watch_resolved)(struct tip_store *st, int64_t id, const char *domain, tip_time_t at, tip_time_t next_due, const char *outcome, struct tip_error *err);
	int (*watch_resolved_batch)(struct tip_store *st, struct tip_watch_done *v, size_t n, struct tip_error *err);
	int (*pdns_observe)(struct tip_store *st, const char *domain, const char *rrtype, const char *value, int64_t ttl, tip_time_t now, bool *is_new, struct tip_error *err);
	int (*pdns_answer)(struct tip_store *st, int64_t watch_id, const struct tip_round *rd, const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new, struct tip_error *err);
	int (*pdns_answer_batch)(struct tip_store *st, struct tip_answer *a, size_t n, struct tip_error *err);
	int (*bulk)(struct tip_store *st, bool on, struct tip_error *err);
	int (*checkpoint)(struct tip_store *st, struct tip_error *err);
	int (*pdns_fold)(struct tip_store *st, int per_set, struct tip_error *err);
	int (*ipinfo_stale)(struct tip_store *st, const char *db, const char *db_version, int limit, tip_ipinfo_stale_cb cb, void *arg, struct tip_error *err);
	int (*runs)(struct tip_store *st, const char *module, int limit, tip_run_cb cb, void *arg, struct tip_error *err);
	void (*release_memory)(struct tip_store *st);
};

struct tip_store {
	const struct store_ops *ops;
};

extern const struct store_ops store_sqlite_ops;

#endif
