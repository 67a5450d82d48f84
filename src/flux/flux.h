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

/* ---- pass 2: classification (flux-classify) -------------------------------------------- */

#endif
