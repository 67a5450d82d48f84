/*
 * flux.h — the public face of src/flux: fast-flux tracking in two passes, two modules.
 * Pass 1, flux-resolve: resolve every due watched domain, record passive DNS and rounds.
 * Pass 2, flux-classify: compute each domain's features over a window and classify it.
 */
#ifndef TIP_FLUX_H
#define TIP_FLUX_H

#include "core/core.h"
#include "module/module.h"
#include "store/store.h"

/* ---- pass 1: resolution (flux-resolve) ------------------------------------------------- */

/* The module (resolve.c). A scheduled run (ctx->args NULL) resolves the due watched domains:
 * those whose last answer's shortest TTL has expired and whose [dns] min_interval has passed.
 * A run with args resolves exactly those domains (canonical names, watched or not); a run with
 * the single argument TIP_FLUX_RESOLVE_ALL resolves every active watched domain, due or not
 * (`tip resolve` without domains). A first argument TIP_FLUX_RESOLVE_NOSTORE (`tip resolve
 * --no-store`) resolves the rest as said and writes nothing: the DNS path alone, to measure it
 * (bench/flux-resolve.sh). Otherwise each run records per (domain, rrtype) a round, merges the
 * answer into passive DNS, enriches new addresses (src/enrich) and moves each domain's next due
 * time. ctx->items gets the number of domains resolved. */
extern const struct tip_module tip_flux_resolve_module;
#define TIP_FLUX_RESOLVE_ALL "--all"
#define TIP_FLUX_RESOLVE_NOSTORE "--no-store"

/* ---- pass 2: classification (flux-classify) -------------------------------------------- */
/*
 * Per domain, over the window ([flux] window): what the rounds and passive DNS say (features),
 * a verdict from them with the numbers that made it (why), network families over shared agents,
 * all written in batched transactions. docs/flux.md explains the method and its sources.
 */

/* The module: TIP_MODULE_PASS, after flux-resolve. */
extern const struct tip_module tip_flux_classify_module;

/* Holz et al. (NDSS 2008): f(x) = 1.32·n_A + 18.54·n_ASN + 0·n_NS, fast-flux above 142.38. */
#define TIP_FLUX_W_A 1.32
#define TIP_FLUX_W_ASN 18.54
#define TIP_FLUX_W_NS 0.0
#define TIP_FLUX_THRESHOLD 142.38
/* Double flux: at least this many distinct NS names and NS-set changes between rounds (one change
 * could be a planned move to new name servers; two within the window is the NS set fluxing). */
#define TIP_FLUX_DF_NS 3
#define TIP_FLUX_DF_CHANGES 2

/* The classifier's knobs; tip_flux_params_default() fills them, [flux] overrides window and
 * min_rounds. */
struct tip_flux_params {
	tip_time_t window;        /* µs of history a verdict looks at */
	int64_t min_rounds;       /* fewer A rounds in the window: unknown */
	int64_t short_ttl;        /* s: a min TTL at or below this is short (fast-flux TTLs) */
	double rotating_phi;      /* fluxiness at or above this counts as rotating */
	int64_t diverse_asn;      /* this many ASNs and /16s make a set network-diverse */
};
void tip_flux_params_default(struct tip_flux_params *p);
void tip_flux_params_from_config(struct tip_flux_params *p, const struct tip_config *cfg);

/* Known-good networks ([flux] allowlist, etc/allowlist.conf): "AS<number>" or an address or
 * CIDR per line, '#' starts a comment. */
struct tip_flux_allowlist;
/* An empty list. */
struct tip_flux_allowlist *tip_flux_allowlist_new(void);
/* Adds the entries of `text` (`name` for messages): a bad line is an error naming name:line, and
 * then nothing of text is added. */
int tip_flux_allowlist_parse(struct tip_flux_allowlist *al, const char *text, const char *name,
			     struct tip_error *err);
int tip_flux_allowlist_load(struct tip_flux_allowlist *al, const char *path,
			    struct tip_error *err);
/* Is the address (text; NULL or unparsable: only the ASN counts) or its ASN known-good? */
bool tip_flux_allowlist_match(const struct tip_flux_allowlist *al, int64_t asn, const char *addr);
size_t tip_flux_allowlist_size(const struct tip_flux_allowlist *al);
void tip_flux_allowlist_free(struct tip_flux_allowlist *al);

/* What a domain's window says. */
struct tip_flux_features {
	int64_t rounds;      /* A rounds in the window (any outcome) */
	int64_t ok_rounds;   /* of which answered with records */
	int64_t n_a;         /* unique A records (Holz's n_A) */
	int64_t n_all;       /* A records summed over the rounds (Holz's n_all) */
	int64_t n_aaaa;
	int64_t n_asn;       /* distinct known ASNs of the A records */
	int64_t n_cc;        /* distinct known countries of the A records */
	int64_t n_p16;       /* distinct /16 prefixes of the A records (FluxBuster) */
	int64_t n_ns;        /* unique NS records */
	int64_t n_allowed;   /* A records in known-good networks */
	int64_t min_ttl;     /* smallest A TTL seen in the window's rounds, -1: none */
	int64_t a_changes;   /* answered rounds whose A set differs from the previous one */
	int64_t ns_rounds, ns_changes;
	double fluxiness;    /* n_a / n_all (0 when n_all is 0) */
	double growth;       /* new A records per round after the first */
	double score;        /* Holz et al.'s flux-score */
	bool double_flux;
	tip_time_t first_seen; /* oldest A record's first sighting (family naming) */
};
/* Computes the features of one scanned domain; al may be NULL. */
void tip_flux_features(const struct tip_flux_domain *d, const struct tip_flux_allowlist *al,
		       struct tip_flux_features *f);
/* The verdict (a static string: fastflux, suspicious, benign, unknown) with the numbers that
 * made it written to why. */
const char *tip_flux_verdict(const struct tip_flux_params *p, const struct tip_flux_features *f,
			     char *why, size_t whylen);

/* Network families: flux domains that share agents (A records) are one botnet's. Connected
 * components over the domain–address graph (union-find); a component of two or more domains is a
 * family, named "ff-" + its oldest domain (oldest A record; ties by name), so the name stays the
 * same as the family grows. */
struct tip_flux_families;
struct tip_flux_families *tip_flux_families_new(void);
/* Adds a domain with its agents (copied); returns its index, counted from 0. */
size_t tip_flux_families_add(struct tip_flux_families *fs, const char *domain,
			     tip_time_t first_seen, const char *const *agents, size_t n_agents);
/* Clusters what was added; returns the number of families. */
size_t tip_flux_families_cluster(struct tip_flux_families *fs);
/* The family name of the domain with index i, or NULL (not in a family). After cluster. */
const char *tip_flux_families_name(const struct tip_flux_families *fs, size_t i);
typedef int (*tip_flux_family_cb)(void *arg, const char *name, const char *const *domains,
				  size_t n_domains, const char *const *agents, size_t n_agents);
/* Each family (by name), its domains and agents sorted. */
int tip_flux_families_each(const struct tip_flux_families *fs, tip_flux_family_cb cb, void *arg);
void tip_flux_families_free(struct tip_flux_families *fs);

/* What one pass did. */
struct tip_flux_classify_stats {
	int64_t domains, fastflux, suspicious, benign, unknown, double_flux;
	int64_t events, families, allowlisted;
};
/* One pass at `now` (also what `tip flux classify` runs). cancel may be NULL. */
int tip_flux_classify_run(const struct tip_config *cfg, struct tip_store *st, tip_time_t now,
			  volatile sig_atomic_t *cancel, struct tip_flux_classify_stats *stats,
			  struct tip_error *err);

#endif
