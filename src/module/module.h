/*
 * module.h — the module interface (after Unbound's util/module.h): what every TIP module
 * implements and the master runs. A module does not know who runs it; the master does not
 * know what a module does. Modules meet only in the store.
 *
 * A pass module (feeds, flux-resolve, flux-classify, vhosts) does one pass per run, in a child
 * process of its own that exits when the pass ends, freeing everything. A service module (web,
 * smtp) runs until told to stop, in a child the master restarts with back-off if it dies.
 */
#ifndef TIP_MODULE_H
#define TIP_MODULE_H

#include <signal.h>

#include "core/core.h"
#include "store/store.h"

enum tip_module_kind { TIP_MODULE_PASS, TIP_MODULE_SERVICE };

/* What a run gets, in the child. The child runner opens the store and fills this in. */
struct tip_module_ctx {
	const struct tip_config *cfg;
	struct tip_store *store;
	int64_t run_id;        /* the run's row in the store; usable as a sighting mark */
	tip_time_t started;
	/* Set (by the child's SIGTERM handler) when the master wants the run to end: a module
	 * checks it between batches and returns early, leaving the store consistent. */
	volatile sig_atomic_t *cancel;
	/* The run's results, read by the runner when run() returns. */
	int64_t items;         /* things processed (feed lines, domains resolved, …) */
	struct tip_error err;  /* why the run failed, when run() returns < 0 */
	/* Arguments for a run asked for by hand (`tip resolve d1 d2`, `tip feed fetch NAME`);
	 * NULL and 0 in a scheduled run. */
	char **args;
	int n_args;
};

struct tip_module {
	const char *name;
	enum tip_module_kind kind;
	int64_t default_interval_s; /* [module NAME] interval overrides */
	int64_t default_timeout_s;  /* [module NAME] timeout overrides */
	/* Run only after a successful run of this module that ended after our last start (the
	 * flux-classify pass follows flux-resolve); NULL: on its own schedule. */
	const char *after;
	/* In the master, before anything forks, and on SIGHUP: reject bad config with file,
	 * line and key in err. May be NULL. */
	int (*check_config)(const struct tip_config *cfg, struct tip_error *err);
	/* In the child: one pass (TIP_MODULE_PASS) or the service's whole life (TIP_MODULE_SERVICE,
	 * returning when *cancel is set). Returns 0 or a negative TIP_E* with ctx->err set. */
	int (*run)(struct tip_module_ctx *ctx);
};

/* The real modules: a NULL-terminated table (registry.c). Each module's issue adds its line;
 * tests build tables of their own. */
extern const struct tip_module *const tip_modules[];
const struct tip_module *tip_module_find(const struct tip_module *const *table, const char *name);

#endif
