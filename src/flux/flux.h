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
 * (`tip resolve` without domains). Each run records per (domain, rrtype) a round, merges the
 * answer into passive DNS, enriches new addresses (src/enrich) and moves each domain's next due
 * time. ctx->items gets the number of domains resolved. */
extern const struct tip_module tip_flux_resolve_module;
#define TIP_FLUX_RESOLVE_ALL "--all"

/* ---- pass 2: classification (flux-classify) -------------------------------------------- */

#endif
