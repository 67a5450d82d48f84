/* store.c — picks the backend by the URL's scheme and forwards every call to it. */
#include <string.h>

#include "store_int.h"

static const struct store_ops *backends[] = { &store_sqlite_ops, NULL };

int tip_store_open(const char *url, int flags, struct tip_store **out, struct tip_error *err)
{
	const char *colon = strchr(url, ':');
	size_t n = colon ? (size_t)(colon - url) : 0;

	*out = NULL;
	for (int i = 0; backends[i]; i++)
		if (colon && strlen(backends[i]->scheme) == n && !strncmp(url, backends[i]->scheme, n))
			return backends[i]->open(url, flags, out, err);
	if (colon && n == 10 && !strncmp(url, "postgresql", n))
		return tip_error_set(err, TIP_EINVAL,
				     "store url '%s': the PostgreSQL backend is not built yet", url);
	return tip_error_set(err, TIP_EINVAL,
			     "store url '%s': unknown scheme (use sqlite:///path/to/tip.db)", url);
}

int tip_store_schema_latest(void)
{
	return store_sqlite_ops.schema_latest();
}

void tip_store_close(struct tip_store *st)
{
	if (st)
		st->ops->close(st);
}

int tip_store_schema_version(struct tip_store *st, int *version, struct tip_error *err)
{
	return st->ops->schema_version(st, version, err);
}

int tip_store_migrate(struct tip_store *st, int target, int *from, int *to, struct tip_error *err)
{
	return st->ops->migrate(st, target, from, to, err);
}

int tip_store_begin(struct tip_store *st, struct tip_error *err)
{
	return st->ops->begin(st, err);
}

int tip_store_begin_bulk(struct tip_store *st, struct tip_error *err)
{
	return st->ops->begin_bulk ? st->ops->begin_bulk(st, err) : st->ops->begin(st, err);
}

int tip_store_commit(struct tip_store *st, struct tip_error *err)
{
	return st->ops->commit(st, err);
}

int tip_store_rollback(struct tip_store *st)
{
	return st->ops->rollback(st);
}

int tip_store_watch_add(struct tip_store *st, const char *domain, const char *source, tip_time_t now, enum tip_watch_result *result, struct tip_error *err)
{
	return st->ops->watch_add(st, domain, source, now, result, err);
}

int tip_store_watch_add_many(struct tip_store *st, const char *const *domains, size_t n,
			     const char *source, tip_time_t now, struct tip_watch_counts *counts,
			     struct tip_error *err)
{
	return st->ops->watch_add_many(st, domains, n, source, now, counts, err);
}

int tip_store_watch_rm(struct tip_store *st, const char *domain, tip_time_t now, bool *removed, struct tip_error *err)
{
	return st->ops->watch_rm(st, domain, now, removed, err);
}

int tip_store_watch_list(struct tip_store *st, bool all, tip_watch_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->watch_list(st, all, cb, arg, err);
}

int tip_store_watch_get(struct tip_store *st, const char *domain, tip_watch_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->watch_get(st, domain, cb, arg, err);
}

int tip_store_watch_count(struct tip_store *st, int64_t *active, struct tip_error *err)
{
	return st->ops->watch_count(st, active, err);
}

int tip_store_source_id(struct tip_store *st, const char *name, const char *kind, int64_t *id, struct tip_error *err)
{
	return st->ops->source_id(st, name, kind, id, err);
}

int tip_store_indicator_put(struct tip_store *st, const struct tip_indicator *ind, tip_time_t now, int64_t *id, struct tip_error *err)
{
	return st->ops->indicator_put(st, ind, now, id, err);
}

int tip_store_sighting_seen(struct tip_store *st, int64_t source_id, int64_t indicator_id, tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs, enum tip_sighting_state *state, struct tip_error *err)
{
	return st->ops->sighting_seen(st, source_id, indicator_id, now, mark, attrs, state, err);
}

int tip_store_sighting_sweep(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now, int64_t *removed, struct tip_error *err)
{
	return st->ops->sighting_sweep(st, source_id, mark, now, removed, err);
}

int tip_store_sightings(struct tip_store *st, enum tip_ind_type type, const char *value, tip_sighting_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->sightings(st, type, value, cb, arg, err);
}

int tip_store_sightings_by_host(struct tip_store *st, const char *host, tip_sighting_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->sightings_by_host(st, host, cb, arg, err);
}

int tip_store_sightings_containing(struct tip_store *st, int family, const uint8_t *addr, tip_sighting_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->sightings_containing(st, family, addr, cb, arg, err);
}

int tip_store_pdns_record(struct tip_store *st, const char *domain, const char *rrtype, const char *value, int64_t ttl, tip_time_t now, struct tip_error *err)
{
	return st->ops->pdns_record(st, domain, rrtype, value, ttl, now, err);
}

int tip_store_resolutions(struct tip_store *st, const char *domain, tip_resolution_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->resolutions(st, domain, cb, arg, err);
}

int tip_store_resolutions_by_value(struct tip_store *st, const char *value, tip_resolution_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->resolutions_by_value(st, value, cb, arg, err);
}

int tip_store_round_put(struct tip_store *st, const struct tip_round *r, struct tip_error *err)
{
	return st->ops->round_put(st, r, err);
}

int tip_store_rounds(struct tip_store *st, const char *domain, tip_time_t since, tip_round_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->rounds(st, domain, since, cb, arg, err);
}

int tip_store_ipinfo_put(struct tip_store *st, const struct tip_ipinfo *info, struct tip_error *err)
{
	return st->ops->ipinfo_put(st, info, err);
}

int tip_store_ipinfo_get(struct tip_store *st, const char *addr, tip_ipinfo_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->ipinfo_get(st, addr, cb, arg, err);
}

int tip_store_verdict_put(struct tip_store *st, const struct tip_verdict *v, struct tip_error *err)
{
	return st->ops->verdict_put(st, v, err);
}

int tip_store_verdict_get(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->verdict_get(st, domain, cb, arg, err);
}

int tip_store_run_start(struct tip_store *st, const char *module, int64_t pid, tip_time_t started, int64_t *id, struct tip_error *err)
{
	return st->ops->run_start(st, module, pid, started, id, err);
}

int tip_store_run_end(struct tip_store *st, int64_t id, tip_time_t ended, const char *status, int64_t exit_code, int64_t signal, int64_t items, const char *error, struct tip_error *err)
{
	return st->ops->run_end(st, id, ended, status, exit_code, signal, items, error, err);
}

int tip_store_runs(struct tip_store *st, const char *module, int limit, tip_run_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->runs(st, module, limit, cb, arg, err);
}

/* Flux classification, pass 2 */
int tip_store_flux_scan(struct tip_store *st, tip_time_t since, tip_flux_domain_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->flux_scan(st, since, cb, arg, err);
}

int tip_store_flux_verdict_put(struct tip_store *st, const struct tip_verdict *v, const char **old, struct tip_error *err)
{
	return st->ops->flux_verdict_put(st, v, old, err);
}

int tip_store_flux_list(struct tip_store *st, bool all, tip_verdict_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->flux_list(st, all, cb, arg, err);
}

int tip_store_flux_history(struct tip_store *st, const char *domain, tip_verdict_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->flux_history(st, domain, cb, arg, err);
}

int tip_store_flux_events(struct tip_store *st, const char *domain, int limit, tip_flux_event_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->flux_events(st, domain, limit, cb, arg, err);
}

int tip_store_flux_pass_put(struct tip_store *st, const struct tip_flux_pass *p, struct tip_error *err)
{
	return st->ops->flux_pass_put(st, p, err);
}

int tip_store_flux_pass_last(struct tip_store *st, struct tip_flux_pass *p, struct tip_error *err)
{
	return st->ops->flux_pass_last(st, p, err);
}

int tip_store_family_put(struct tip_store *st, const char *name, tip_time_t at, int64_t n_domains, int64_t n_agents, struct tip_error *err)
{
	return st->ops->family_put(st, name, at, n_domains, n_agents, err);
}

int tip_store_family_member(struct tip_store *st, const char *name, const char *kind, const char *value, tip_time_t at, struct tip_error *err)
{
	return st->ops->family_member(st, name, kind, value, at, err);
}

int tip_store_families(struct tip_store *st, bool all, tip_family_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->families(st, all, cb, arg, err);
}

int tip_store_family_members(struct tip_store *st, const char *name, tip_family_member_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->family_members(st, name, cb, arg, err);
}

int tip_store_family_sizes(struct tip_store *st, const char *name, tip_family_size_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->family_sizes(st, name, cb, arg, err);
}

/* fast-flux pass 1 */
int tip_store_watch_due(struct tip_store *st, tip_time_t now, int64_t after_id, int limit, tip_watch_due_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->watch_due(st, now, after_id, limit, cb, arg, err);
}

int tip_store_watch_resolved(struct tip_store *st, int64_t id, const char *domain, tip_time_t at, tip_time_t next_due, const char *outcome, struct tip_error *err)
{
	return st->ops->watch_resolved(st, id, domain, at, next_due, outcome, err);
}

int tip_store_watch_resolved_batch(struct tip_store *st, struct tip_watch_done *v, size_t n, struct tip_error *err)
{
	return st->ops->watch_resolved_batch(st, v, n, err);
}

int tip_store_pdns_observe(struct tip_store *st, const char *domain, const char *rrtype, const char *value, int64_t ttl, tip_time_t now, bool *is_new, struct tip_error *err)
{
	return st->ops->pdns_observe(st, domain, rrtype, value, ttl, now, is_new, err);
}

int tip_store_pdns_answer(struct tip_store *st, int64_t watch_id, const struct tip_round *rd, const struct tip_pdns_rec *rec, size_t n, bool *is_new, int64_t *n_new, struct tip_error *err)
{
	return st->ops->pdns_answer(st, watch_id, rd, rec, n, is_new, n_new, err);
}

int tip_store_pdns_answer_batch(struct tip_store *st, struct tip_answer *a, size_t n, struct tip_error *err)
{
	return st->ops->pdns_answer_batch(st, a, n, err);
}

int tip_store_ipinfo_stale(struct tip_store *st, const char *db, const char *db_version, int limit, tip_ipinfo_stale_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->ipinfo_stale(st, db, db_version, limit, cb, arg, err);
}

int tip_store_bulk(struct tip_store *st, bool on, struct tip_error *err)
{
	return st->ops->bulk(st, on, err);
}

int tip_store_checkpoint(struct tip_store *st, struct tip_error *err)
{
	return st->ops->checkpoint(st, err);
}

int tip_store_pdns_fold(struct tip_store *st, int per_set, struct tip_error *err)
{
	return st->ops->pdns_fold(st, per_set, err);
}

int tip_store_feed_put(struct tip_store *st, const char *name, const char *url, const char *format, int64_t interval_s, const char *options, const char *origin, bool enabled, tip_time_t now, int64_t *id, struct tip_error *err)
{
	return st->ops->feed_put(st, name, url, format, interval_s, options, origin, enabled, now, id, err);
}

int tip_store_feed_rm(struct tip_store *st, const char *name, tip_time_t now, bool *removed, struct tip_error *err)
{
	return st->ops->feed_rm(st, name, now, removed, err);
}

int tip_store_feed_list(struct tip_store *st, bool all, tip_feed_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->feed_list(st, all, cb, arg, err);
}

int tip_store_feed_get(struct tip_store *st, const char *name, tip_feed_cb cb, void *arg, struct tip_error *err)
{
	return st->ops->feed_get(st, name, cb, arg, err);
}

int tip_store_feed_result(struct tip_store *st, int64_t feed_id, const struct tip_feed_result *r, struct tip_error *err)
{
	return st->ops->feed_result(st, feed_id, r, err);
}

int tip_store_listing_begin(struct tip_store *st, int64_t source_id, uint64_t tag, bool *same_tag,
			    struct tip_error *err)
{
	return st->ops->listing_begin(st, source_id, tag, same_tag, err);
}

int tip_store_listing_seen(struct tip_store *st, int64_t source_id, const struct tip_indicator *ind, tip_time_t now, int64_t mark, const struct tip_sighting_attrs *attrs, struct tip_error *err)
{
	return st->ops->listing_seen(st, source_id, ind, now, mark, attrs, err);
}

void tip_store_listing_hint(struct tip_store *st, enum tip_ind_type type, const char *value)
{
	if (st->ops->listing_hint)
		st->ops->listing_hint(st, type, value);
}

int tip_store_listing_settle(struct tip_store *st, int64_t source_id, int64_t mark, tip_time_t now, struct tip_listing_counts *counts, struct tip_error *err)
{
	return st->ops->listing_settle(st, source_id, mark, now, counts, err);
}

void tip_store_release_memory(struct tip_store *st)
{
	if (st->ops->release_memory)
		st->ops->release_memory(st);
}
