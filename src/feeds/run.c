/*
 * run.c — the "feeds" module: which feeds are due, and one feed run.
 *
 * A feed run: fetch into a spool file (no store lock held, nothing changed on failure); then
 * one transaction: parse the spool in chunks (in a thread of its own, pipe.c), write each
 * entry (tip_store_listing_seen), add domains to the watch list per the feed's policy, settle
 * the diff (new, returned, removed), record the feed's new state. Any failure rolls the
 * transaction back and records only the error, the time and the HTTP status on the feed.
 *
 * The watch policy is applied to the entries the pass writes (new, returned, other
 * attributes), not to those listed before as they are: their domains went onto the watch list
 * when they were written (a re-fetch of 1M entries with `watch = all` spent 2.5-3 s re-adding
 * 750,000 domains), and one that the user took off it stays off. When the policy differs from
 * the one the previous pass applied (its hash is the listing snapshot's tag), every entry of
 * the pass is looked at once more.
 *
 * A parse that accepted nothing but rejected something is a failure too: a feed that suddenly
 * serves an HTML error page with status 200 must not mark every indicator removed.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feeds_int.h"

struct pass {
	struct tip_module_ctx *ctx;
	const struct tip_feed_def *def;
	int64_t source_id;
	tip_time_t now;
	int64_t mark;
	char source[300];
	struct tip_error err;
	int64_t n, watched;
	bool watch_every; /* the policy applies to every entry, not only to the written ones */
	struct tip_strv watch; /* the domains to watch, added WATCH_BATCH at a time */
};

/* The domains a pass watches go onto the list in batches of WATCH_BATCH, two statements each
 * (tip_store_watch_add_many, which sorts them): they come in the feed's order, and 750,000 of
 * them one at a time into the watch list's unique index were the store thread's bottleneck of
 * a 1M-entry first fetch with `watch = all` (its parse phase 4.4 s, the parser waiting 3.0 s
 * of it). `tip feed fetch` of the benchmark's 1M lines, user CPU: one at a time 9.0-9.2 s,
 * unsorted batches of 8,192 9.3 s, sorted batches of 65,536 6.2-7.5 s (none watched: 5.9 s);
 * batches of 262,144 were no faster and took 6 MB more. */
#define WATCH_BATCH 65536

/* The domains collected so far onto the watch list. */
static int watch_flush(struct pass *p)
{
	struct tip_watch_counts c;
	int rc = 0;
	if (p->watch.n &&
	    (rc = tip_store_watch_add_many(p->ctx->store, (const char *const *)p->watch.v,
					   p->watch.n, p->source, p->now, &c, &p->err)) == 0)
		p->watched += c.added + c.reactivated;
	tip_strv_free(&p->watch);
	return rc;
}

static int watch_later(struct pass *p, const char *domain)
{
	tip_strv_push(&p->watch, domain);
	return p->watch.n == WATCH_BATCH ? watch_flush(p) : 0;
}

/* The watch policy as the listing snapshot's tag (FNV-1a; never 0, which a snapshot rebuilt
 * from the sightings has). */
static uint64_t policy_tag(const struct tip_feed_def *def)
{
	uint64_t h = 14695981039346656037ULL;
	const char *c = def->watch == TIP_FEED_WATCH_CATEGORIES && def->watch_categories
				? def->watch_categories
				: "";
	h = (h ^ (uint64_t)def->watch) * 1099511628211ULL;
	for (; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return h | 1;
}

static bool category_listed(const char *list, const char *cat)
{
	size_t cl;
	if (!cat)
		return false;
	cl = strlen(cat);
	for (const char *p = list; *p;) {
		size_t l;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		l = strcspn(p, ", \t");
		if (l && l == cl && !strncasecmp(p, cat, l))
			return true;
		p += l;
	}
	return false;
}

static int on_entry(void *arg, const struct tip_indicator *ind,
		    const struct tip_sighting_attrs *attrs, int64_t line)
{
	struct pass *p = arg;
	const struct tip_feed_def *def = p->def;
	int rc;

	(void)line;
	if ((++p->n & 4095) == 0 && p->ctx->cancel && *p->ctx->cancel)
		return tip_error_set(&p->err, TIP_ETIMEOUT, "cancelled");
	if ((rc = tip_store_listing_seen(p->ctx->store, p->source_id, ind, p->now, p->mark, attrs,
					 &p->err)) < 0)
		return rc;
	if (def->watch == TIP_FEED_WATCH_NONE || (rc == 0 && !p->watch_every))
		return 0;
	if (def->watch == TIP_FEED_WATCH_CATEGORIES &&
	    !category_listed(def->watch_categories, attrs ? attrs->category : NULL))
		return 0;
	{
		const char *d = NULL;
		char reg[TIP_DOMAIN_MAX + 1];
		if (ind->type == TIP_IND_DOMAIN)
			d = ind->value;
		else if (ind->type == TIP_IND_URL && ind->family == 0) {
			d = tip_indicator_registrable(ind, reg, sizeof(reg));
			if (!*d)
				d = NULL; /* a host that is a public suffix itself */
		}
		return d ? watch_later(p, d) : 0;
	}
}

static void on_hint(void *arg, enum tip_ind_type type, const char *value)
{
	struct pass *p = arg;
	tip_store_listing_hint(p->ctx->store, type, value);
}

struct feed_state {
	bool found;
	int64_t id;
	char *etag, *last_modified;
	tip_time_t last_fetch, last_success;
};

static int get_state(void *arg, const struct tip_feed_row *f)
{
	struct feed_state *s = arg;
	s->found = true;
	s->id = f->id;
	s->etag = f->etag ? tip_xstrdup(f->etag) : NULL;
	s->last_modified = f->last_modified ? tip_xstrdup(f->last_modified) : NULL;
	s->last_fetch = f->last_fetch;
	s->last_success = f->last_success;
	return 0;
}

static int record_failure(struct tip_module_ctx *ctx, int64_t id, tip_time_t now, long status,
			  const char *msg)
{
	struct tip_feed_result r = { .at = now, .status = status, .error = msg };
	struct tip_error err = { 0 };
	if (tip_store_feed_result(ctx->store, id, &r, &err) < 0) {
		tip_error_set(&ctx->err, TIP_ESTORE, "%s", err.msg);
		return TIP_ESTORE;
	}
	return 0;
}

/* Parse the spool and store it: one transaction. */
static int parse_and_store(struct tip_module_ctx *ctx, const struct tip_feed_def *def,
			   struct feed_state *fs, struct tip_feed_fetch *f, tip_time_t now,
			   struct tip_error *err)
{
	struct pass p = { .ctx = ctx, .def = def, .source_id = fs->id, .now = now,
			  .mark = ctx->run_id };
	struct tip_listing_counts counts;
	struct tip_feed_stats stats;
	const struct tip_feed_stats *st = &stats;
	int rc;
	tip_time_t t_start = tip_monotonic(), t_parsed, t_settled;
	bool same_policy;

	snprintf(p.source, sizeof(p.source), "feed:%s", def->name);
	if ((rc = tip_store_begin_bulk(ctx->store, err)) < 0)
		return rc;
	if ((rc = tip_store_listing_begin(ctx->store, fs->id, policy_tag(def), &same_policy, err)) <
	    0)
		goto fail;
	p.watch_every = !same_policy;
	/* the registrable domains are left for later: the store finds those of the entries it
	 * writes, on its sort thread (store_sqlite_sort.c) */
	if ((rc = tip_feed_parse_piped(def, f->body, on_entry, on_hint, &p, &stats, err)) < 0) {
		/* the callback's own failure (the store, a cancel) is the one to report */
		if (p.err.msg[0])
			tip_error_set(err, rc, "%s", p.err.msg);
		goto fail;
	}
	if (st->entries == 0 && st->rejected > 0) {
		rc = tip_error_set(err, TIP_EINVAL,
				   "no entry parsed and %lld rejected (wrong format?); kept the previous "
				   "state; first: %s",
				   (long long)st->rejected, st->samples);
		goto fail;
	}
	if ((rc = watch_flush(&p)) < 0) {
		tip_error_set(err, rc, "%s", p.err.msg);
		goto fail;
	}
	t_parsed = tip_monotonic();
	if ((rc = tip_store_listing_settle(ctx->store, fs->id, p.mark, now, &counts, err)) < 0)
		goto fail;
	t_settled = tip_monotonic();
	{
		struct tip_feed_result r = {
			.at = now,
			.status = f->status,
			.etag = f->new_etag,
			.last_modified = f->new_last_modified,
			.rejected_sample = st->n_samples ? st->samples : NULL,
			.n_total = counts.total,
			.n_new = counts.added + counts.returned,
			.n_removed = counts.removed,
			.n_rejected = st->rejected,
		};
		if ((rc = tip_store_feed_result(ctx->store, fs->id, &r, err)) < 0)
			goto fail;
	}
	if ((rc = tip_store_commit(ctx->store, err)) < 0)
		goto fail;
	tip_debug("feed %s: parse and write %.3f s, diff %.3f s, commit %.3f s", def->name,
		  (double)(t_parsed - t_start) / TIP_SEC, (double)(t_settled - t_parsed) / TIP_SEC,
		  (double)(tip_monotonic() - t_settled) / TIP_SEC);
	tip_info("feed %s: %lld bytes, %lld lines, %lld entries: %lld listed (%lld new, %lld back, "
		 "%lld removed), %lld rejected, %lld domains newly watched",
		 def->name, (long long)f->size, (long long)st->lines, (long long)st->entries,
		 (long long)counts.total, (long long)counts.added, (long long)counts.returned,
		 (long long)counts.removed, (long long)st->rejected, (long long)p.watched);
	if (st->rejected)
		tip_warnx("feed %s: %lld entries rejected; first: %s", def->name,
			  (long long)st->rejected, st->samples);
	ctx->items += st->entries;
	tip_strv_free(&p.watch);
	return 0;
fail:
	tip_store_rollback(ctx->store);
	tip_strv_free(&p.watch);
	return rc;
}

int tip_feeds_run_one(struct tip_module_ctx *ctx, const struct tip_feed_def *def, bool *failed)
{
	struct feed_state fs = { 0 };
	struct tip_feed_fetch f = { 0 };
	struct tip_error err = { 0 };
	tip_time_t now = tip_now();
	int rc;

	*failed = false;
	if (def->from_config &&
	    (rc = tip_store_feed_put(ctx->store, def->name, def->url, tip_feed_format_name(def->format),
				     def->interval_s, NULL, "config", def->enabled, now, &fs.id,
				     &err)) < 0)
		goto store_fail;
	if ((rc = tip_store_feed_get(ctx->store, def->name, get_state, &fs, &err)) < 0)
		goto store_fail;
	f.etag = fs.etag;
	f.last_modified = fs.last_modified;
	f.cancel = ctx->cancel;
	if ((rc = tip_feed_fetch(def, &f, &err)) < 0) {
		tip_warnx("feed %s: %s (previous state kept)", def->name, err.msg);
		*failed = true;
		tip_error_set(&ctx->err, rc, "feed %s: %s", def->name, err.msg);
		rc = record_failure(ctx, fs.id, now, f.status, err.msg);
		goto out;
	}
	if (f.not_modified) {
		struct tip_feed_result r = { .at = now, .status = f.status, .not_modified = true };
		tip_info("feed %s: not modified (HTTP 304)", def->name);
		if ((rc = tip_store_feed_result(ctx->store, fs.id, &r, &err)) < 0)
			goto store_fail;
		goto out;
	}
	if ((rc = parse_and_store(ctx, def, &fs, &f, now, &err)) < 0) {
		if (rc == TIP_ESTORE) /* the store failed: say so, don't blame the feed */
			goto store_fail;
		tip_warnx("feed %s: %s (previous state kept)", def->name, err.msg);
		*failed = true;
		tip_error_set(&ctx->err, rc, "feed %s: %s", def->name, err.msg);
		rc = record_failure(ctx, fs.id, now, f.status, err.msg);
		goto out;
	}
	rc = 0;
	goto out;
store_fail:
	*failed = true;
	tip_error_set(&ctx->err, rc, "feed %s: %s", def->name, err.msg);
	rc = TIP_ESTORE;
out:
	tip_feed_fetch_free(&f);
	free(fs.etag);
	free(fs.last_modified);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */

struct defs {
	struct tip_feed_def *v;
	size_t n;
};

static int collect_row(void *arg, const struct tip_feed_row *f)
{
	struct defs *d = arg;
	struct tip_error err = { 0 };
	if (f->origin && strcmp(f->origin, "cli"))
		return 0; /* config feeds come from the config; a stale one is not run */
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].name, f->name))
			return 0; /* the config's definition wins */
	d->v = tip_xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	if (tip_feed_def_from_row(f, &d->v[d->n], &err) < 0) {
		tip_warnx("feed %s: stored definition is bad, skipped: %s", f->name, err.msg);
		return 0;
	}
	d->n++;
	return 0;
}

static void defs_free(struct defs *d)
{
	for (size_t i = 0; i < d->n; i++)
		tip_feed_def_free(&d->v[i]);
	free(d->v);
}

static int load_defs(struct tip_module_ctx *ctx, struct defs *d, struct tip_error *err)
{
	int rc;
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < ctx->cfg->n_sections; i++) {
		const struct tip_config_section *s = &ctx->cfg->sections[i];
		if (strcmp(s->kind, "feed"))
			continue;
		d->v = tip_xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
		if ((rc = tip_feed_def_from_section(ctx->cfg, s, &d->v[d->n], err)) < 0)
			return rc;
		d->n++;
	}
	return tip_store_feed_list(ctx->store, false, collect_row, d, err);
}

static int last_fetch_of(void *arg, const struct tip_feed_row *f)
{
	*(tip_time_t *)arg = f->last_fetch;
	return 0;
}

static int feeds_check_config(const struct tip_config *cfg, struct tip_error *err)
{
	for (size_t i = 0; i < cfg->n_sections; i++) {
		struct tip_feed_def def;
		int rc;
		if (strcmp(cfg->sections[i].kind, "feed"))
			continue;
		if ((rc = tip_feed_def_from_section(cfg, &cfg->sections[i], &def, err)) < 0)
			return rc;
		tip_feed_def_free(&def);
	}
	return 0;
}

static int feeds_run(struct tip_module_ctx *ctx)
{
	struct defs d;
	struct tip_error err = { 0 };
	int rc, n_failed = 0, n_run = 0;
	char first_fail[sizeof(ctx->err.msg)] = "";
	bool *chosen = NULL;

	if ((rc = load_defs(ctx, &d, &err)) < 0) {
		tip_error_set(&ctx->err, rc, "%s", err.msg);
		defs_free(&d);
		return rc;
	}
	chosen = tip_xcalloc(d.n + 1, sizeof(*chosen));
	if (ctx->n_args > 0) {
		for (int a = 0; a < ctx->n_args; a++) {
			bool found = false;
			for (size_t i = 0; i < d.n; i++)
				if (!strcmp(d.v[i].name, ctx->args[a]))
					found = chosen[i] = true;
			if (!found) {
				rc = tip_error_set(&ctx->err, TIP_ENOTFOUND,
						   "no feed named '%s' (neither in the config nor added)",
						   ctx->args[a]);
				goto out;
			}
		}
	} else {
		tip_time_t now = tip_now();
		for (size_t i = 0; i < d.n; i++) {
			tip_time_t last = 0;
			if (!d.v[i].enabled)
				continue;
			if (tip_store_feed_get(ctx->store, d.v[i].name, last_fetch_of, &last, NULL) < 0)
				last = 0;
			chosen[i] = last == 0 || last + d.v[i].interval_s * TIP_SEC <= now;
		}
	}
	rc = 0;
	for (size_t i = 0; i < d.n; i++) {
		bool failed;
		if (!chosen[i])
			continue;
		if (ctx->cancel && *ctx->cancel)
			break;
		n_run++;
		if ((rc = tip_feeds_run_one(ctx, &d.v[i], &failed)) < 0)
			goto out; /* the store failed: stop */
		if (failed && n_failed++ == 0)
			tip_strlcpy(first_fail, ctx->err.msg, sizeof(first_fail));
	}
	if (n_failed) {
		rc = tip_error_set(&ctx->err, TIP_EIO, "%d of %d feeds failed; first: %s", n_failed,
				   n_run, first_fail);
	} else {
		tip_error_clear(&ctx->err);
	}
out:
	free(chosen);
	defs_free(&d);
	return rc;
}

const struct tip_module tip_feeds_module = {
	.name = "feeds",
	.kind = TIP_MODULE_PASS,
	.default_interval_s = 300, /* how often due feeds are looked for; each has its interval */
	.default_timeout_s = 3600,
	.after = NULL,
	.check_config = feeds_check_config,
	.run = feeds_run,
};
