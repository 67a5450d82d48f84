/*
 * classify_module.c — flux-classify, pass 2 of fast-flux tracking, as a module.
 *
 * One ordered scan of the window (tip_store_flux_scan) gives each domain's rounds and records;
 * the domain's features and verdict are computed at once and written in batched transactions.
 * Domains that flux (fastflux, suspicious) are held back until the scan ends: their agents feed
 * the family clustering, and their verdicts are written with their family's name. The child
 * exits after the pass, so nothing here needs to outlive it.
 */
#include <stdlib.h>
#include <string.h>

#include "flux.h"

#define BATCH 10000
#define DEFAULT_ALLOWLIST "/etc/tip/allowlist.conf"

struct held {
	char *domain;
	char *why;
	const char *verdict;
	struct tip_flux_features f;
};

struct pass {
	struct tip_store *st;
	struct tip_flux_params p;
	struct tip_flux_allowlist *al;
	tip_time_t now;
	volatile sig_atomic_t *cancel;
	struct tip_flux_classify_stats *stats;
	struct tip_error *err;
	int64_t in_batch;
	bool cancelled;
	struct held *held;
	size_t n_held, cap_held;
	struct tip_flux_families *fs;
	/* agents of the domain being held (reused) */
	const char **agents;
	size_t cap_agents;
};

static int batch_step(struct pass *ps)
{
	int rc;
	if (++ps->in_batch < BATCH)
		return 0;
	ps->in_batch = 0;
	if ((rc = tip_store_commit(ps->st, ps->err)) < 0)
		return rc;
	return tip_store_begin(ps->st, ps->err);
}

static int write_verdict(struct pass *ps, const char *domain, const struct tip_flux_features *f,
			 const char *verdict, const char *why, const char *family)
{
	struct tip_verdict v = {
		.domain = domain,
		.at = ps->now,
		.verdict = verdict,
		.score = f->score,
		.n_a = f->n_a,
		.n_asn = f->n_asn,
		.n_ns = f->n_ns,
		.n_cc = f->n_cc,
		.fluxiness = f->fluxiness,
		.min_ttl = f->min_ttl,
		.rounds = f->rounds,
		.double_flux = f->double_flux,
		.why = why,
		.family = family,
		.n_p16 = f->n_p16,
		.a_changes = f->a_changes,
		.ns_changes = f->ns_changes,
		.growth = f->growth,
		.n_allowed = f->n_allowed,
	};
	const char *old = NULL;
	int rc = tip_store_flux_verdict_put(ps->st, &v, &old, ps->err);
	if (rc < 0)
		return rc;
	if (old) {
		ps->stats->events++;
		tip_info("flux: %s %s -> %s%s%s: %s", domain, old, verdict, family ? " in " : "",
			 family ? family : "", why);
	}
	if (!strcmp(verdict, "fastflux"))
		ps->stats->fastflux++;
	else if (!strcmp(verdict, "suspicious"))
		ps->stats->suspicious++;
	else if (!strcmp(verdict, "benign"))
		ps->stats->benign++;
	else
		ps->stats->unknown++;
	if (f->double_flux)
		ps->stats->double_flux++;
	ps->stats->domains++;
	return batch_step(ps);
}

static int on_domain(void *arg, const struct tip_flux_domain *d)
{
	struct pass *ps = arg;
	struct tip_flux_features f;
	char why[1024];
	const char *verdict;

	if (ps->cancel && *ps->cancel) {
		ps->cancelled = true;
		return 1;
	}
	tip_flux_features(d, ps->al, &f);
	verdict = tip_flux_verdict(&ps->p, &f, why, sizeof(why));
	if (f.n_a > 0 && f.n_allowed == f.n_a)
		ps->stats->allowlisted++;
	if ((!strcmp(verdict, "fastflux") || !strcmp(verdict, "suspicious")) &&
	    f.n_a > f.n_allowed) {
		size_t n = 0;
		if (ps->cap_agents < d->n_rec) {
			ps->cap_agents = d->n_rec;
			ps->agents = tip_xrealloc(ps->agents, ps->cap_agents * sizeof(*ps->agents));
		}
		for (size_t i = 0; i < d->n_rec; i++)
			if (!strcmp(d->rec[i].rrtype, "A") &&
			    !tip_flux_allowlist_match(ps->al, d->rec[i].asn, d->rec[i].value))
				ps->agents[n++] = d->rec[i].value;
		tip_flux_families_add(ps->fs, d->domain, f.first_seen, ps->agents, n);
		if (ps->n_held == ps->cap_held) {
			ps->cap_held = ps->cap_held ? ps->cap_held * 2 : 256;
			ps->held = tip_xrealloc(ps->held, ps->cap_held * sizeof(*ps->held));
		}
		ps->held[ps->n_held++] = (struct held){
			.domain = tip_xstrdup(d->domain),
			.why = tip_xstrdup(why),
			.verdict = verdict,
			.f = f,
		};
		return 0;
	}
	return write_verdict(ps, d->domain, &f, verdict, why, NULL);
}

static int put_family(void *arg, const char *name, const char *const *domains, size_t n_domains,
		      const char *const *agents, size_t n_agents)
{
	struct pass *ps = arg;
	int rc;
	ps->stats->families++;
	if ((rc = tip_store_family_put(ps->st, name, ps->now, (int64_t)n_domains,
				       (int64_t)n_agents, ps->err)) < 0)
		return rc;
	for (size_t i = 0; i < n_domains; i++)
		if ((rc = tip_store_family_member(ps->st, name, "domain", domains[i], ps->now,
						  ps->err)) < 0 ||
		    (rc = batch_step(ps)) < 0)
			return rc;
	for (size_t i = 0; i < n_agents; i++)
		if ((rc = tip_store_family_member(ps->st, name, "agent", agents[i], ps->now,
						  ps->err)) < 0 ||
		    (rc = batch_step(ps)) < 0)
			return rc;
	tip_debug("flux: family %s: %zu domains, %zu agents", name, n_domains, n_agents);
	return 0;
}

static int load_allowlist(const struct tip_config *cfg, struct tip_flux_allowlist *al,
			  struct tip_error *err)
{
	const char *path = cfg->flux.allowlist;
	int rc;
	if (!path || !*path)
		return 0;
	rc = tip_flux_allowlist_load(al, path, err);
	if (rc == TIP_ENOTFOUND && !strcmp(path, DEFAULT_ALLOWLIST)) {
		/* the default path, not installed: classify without, and say so */
		tip_warnx("flux: %s; classifying without known-good networks", err->msg);
		tip_error_clear(err);
		return 0;
	}
	if (rc < 0)
		tip_error_prefix(err, "[flux] allowlist");
	return rc;
}

int tip_flux_classify_run(const struct tip_config *cfg, struct tip_store *st, tip_time_t now,
			  volatile sig_atomic_t *cancel, struct tip_flux_classify_stats *stats,
			  struct tip_error *err)
{
	struct tip_flux_classify_stats dummy;
	struct pass ps = { .st = st, .now = now, .cancel = cancel, .err = err };
	int rc;

	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	ps.stats = stats;
	tip_flux_params_from_config(&ps.p, cfg);
	ps.al = tip_flux_allowlist_new();
	ps.fs = tip_flux_families_new();
	if ((rc = load_allowlist(cfg, ps.al, err)) < 0)
		goto out;
	/* no automatic WAL checkpoint while the verdicts are written; one at the end */
	if ((rc = tip_store_bulk(st, true, err)) < 0)
		goto out;
	if ((rc = tip_store_begin(st, err)) < 0) {
		tip_store_bulk(st, false, NULL);
		goto out;
	}
	rc = tip_store_flux_scan(st, now - ps.p.window, on_domain, &ps, err);
	if (rc > 0)
		rc = 0; /* cancelled: keep what is done */
	if (rc == 0 && !ps.cancelled) {
		tip_flux_families_cluster(ps.fs);
		for (size_t i = 0; i < ps.n_held && rc == 0; i++)
			rc = write_verdict(&ps, ps.held[i].domain, &ps.held[i].f, ps.held[i].verdict,
					   ps.held[i].why, tip_flux_families_name(ps.fs, i));
		if (rc == 0)
			rc = tip_flux_families_each(ps.fs, put_family, &ps);
		if (rc == 0) {
			struct tip_flux_pass fp = {
				.at = now,
				.domains = stats->domains,
				.fastflux = stats->fastflux,
				.suspicious = stats->suspicious,
				.benign = stats->benign,
				.unknown = stats->unknown,
				.double_flux = stats->double_flux,
				.families = stats->families,
				.events = stats->events,
			};
			rc = tip_store_flux_pass_put(st, &fp, err);
		}
	}
	if (rc == 0)
		rc = tip_store_commit(st, err);
	else
		tip_store_rollback(st);
	{
		struct tip_error e2 = { 0 };
		if (tip_store_bulk(st, false, &e2) < 0)
			tip_warnx("flux: %s", e2.msg);
	}
	if (rc == 0 && ps.cancelled)
		rc = tip_error_set(err, TIP_ETIMEOUT,
				   "flux-classify cancelled after %lld domains (their verdicts kept)",
				   (long long)stats->domains);
	if (rc == 0)
		tip_info("flux: classified %lld domains: %lld fastflux, %lld suspicious, %lld benign, "
			 "%lld unknown; %lld double flux, %lld families, %lld verdict changes",
			 (long long)stats->domains, (long long)stats->fastflux,
			 (long long)stats->suspicious, (long long)stats->benign,
			 (long long)stats->unknown, (long long)stats->double_flux,
			 (long long)stats->families, (long long)stats->events);
out:
	for (size_t i = 0; i < ps.n_held; i++) {
		free(ps.held[i].domain);
		free(ps.held[i].why);
	}
	free(ps.held);
	free(ps.agents);
	tip_flux_families_free(ps.fs);
	tip_flux_allowlist_free(ps.al);
	return rc;
}

static int classify_check_config(const struct tip_config *cfg, struct tip_error *err)
{
	struct tip_flux_allowlist *al = tip_flux_allowlist_new();
	int rc = load_allowlist(cfg, al, err);
	tip_flux_allowlist_free(al);
	return rc;
}

static int classify_run(struct tip_module_ctx *ctx)
{
	struct tip_flux_classify_stats stats;
	int rc = tip_flux_classify_run(ctx->cfg, ctx->store, ctx->started ? ctx->started : tip_now(),
				       ctx->cancel, &stats, &ctx->err);
	ctx->items = stats.domains;
	return rc;
}

const struct tip_module tip_flux_classify_module = {
	.name = "flux-classify",
	.kind = TIP_MODULE_PASS,
	.default_interval_s = 900,
	.default_timeout_s = 1800,
	.after = "flux-resolve",
	.check_config = classify_check_config,
	.run = classify_run,
};
