/*
 * sched.h — the public face of src/sched: the master that schedules TIP's modules and the one
 * child runner every module pass goes through.
 *
 * Three layers, each usable on its own:
 *
 *  1. The plan (plan.c): pure schedule logic over a table of modules. It holds no clock and
 *     does no I/O: every function is given `now`, so tests drive it with a fake clock (as
 *     Unbound's testbound does) and the master with tip_now(). It decides what starts when:
 *     slots anchored on the schedule (no drift), one run per module at a time (an overrun skips
 *     slots, counted and logged), the `after` dependency, exponential back-off after failures
 *     capped at the interval, the cap on concurrent passes, service restarts with back-off.
 *     The plan is rebuilt from the store's run history at start (and by `tip status`), so a
 *     restarted master continues the schedule where the last one left it.
 *
 *  2. The child runner (child.c): fork; in the child, role, rlimits, SIGTERM → ctx->cancel,
 *     PR_SET_PDEATHSIG, the store opened afresh, module->run(ctx), the result (items, error
 *     text) written to the parent over a socket (Redis's child-info pipe), _exit with the status.
 *     The parent records the run (tip_store_run_start / _end) and turns the way the child ended
 *     into a cause: ok, failed (exit N), crashed (signal N), timeout, killed.
 *     tip_sched_run_once() is that path for one hand-started pass (`tip run --once`,
 *     `tip resolve d1 d2`, `tip feed fetch NAME`).
 *
 *  3. The master (master.c): `tip run`. A libevent loop: a timer that wakes when the plan says
 *     something is due, SIGCHLD reaped in a waitpid(WNOHANG) loop, per-run timeouts (SIGTERM,
 *     then SIGKILL after [daemon] grace_ms), SIGHUP reloads the config and the schedule without
 *     touching running children, SIGTERM/SIGINT stop gracefully. A pidfile held with a POSIX
 *     lock refuses a second instance.
 */
#ifndef TIP_SCHED_H
#define TIP_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "module/module.h"
#include "store/store.h"

/* ---------------------------------------------------------------------------------------- */
/* [module NAME]: a module's schedule, from the config (else the module's defaults). */

struct tip_sched_modcfg {
	bool enabled;
	tip_time_t interval; /* between slot starts (passes); a service's back-off cap */
	tip_time_t timeout;  /* per run; 0: none */
	tip_time_t jitter;   /* each slot starts up to this much late, deterministically */
	tip_time_t backoff;  /* first delay after a failure; doubles per failure, capped at interval */
};

/* The keys [module NAME] accepts (NULL-key terminated), for docs and `tip config show`. */
extern const struct tip_cfg_key tip_sched_module_keys[];

/* m's settings from cfg; errors name file, line and key. */
int tip_sched_modcfg(const struct tip_config *cfg, const struct tip_module *m,
		     struct tip_sched_modcfg *out, struct tip_error *err);
/* Checks everything the master needs before it forks: every [module NAME] names a module of
 * `modules` and holds only known keys with good values, every module's own check_config. */
int tip_sched_check_config(const struct tip_config *cfg, const struct tip_module *const *modules,
			   struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* The plan: pure schedule logic. */

/* How a run ended, as recorded in the store's run.status. */
#define TIP_RUN_OK "ok"
#define TIP_RUN_FAILED "failed"       /* exited non-zero, or run() returned an error */
#define TIP_RUN_CRASHED "crashed"     /* died of a signal nobody sent it (SIGSEGV, SIGXCPU…) */
#define TIP_RUN_TIMEOUT "timeout"     /* the master ended it at its timeout */
#define TIP_RUN_KILLED "killed"       /* the master ended it because it was stopping */
#define TIP_RUN_CANCELLED "cancelled" /* stopped early by a signal from outside the master (^C,
				       * kill); what it stored until then is kept */
#define TIP_RUN_INTERRUPTED "interrupted" /* left 'running' by a master that died */
#define TIP_RUN_RUNNING "running"

struct tip_sched_entry {
	const struct tip_module *m;
	struct tip_sched_modcfg mc;
	int after;              /* index of the `after` module in the plan, -1: none */

	tip_time_t anchor;      /* slots are anchor + k·interval */
	tip_time_t next_slot;   /* the next slot (not yet started); 0 for services */
	tip_time_t retry_at;    /* after a failure: back-off retry (0: none) */
	tip_time_t next;        /* when it is due: min(slot + jitter, retry_at) */

	bool running;
	tip_time_t run_started;
	int64_t run_id;

	/* history */
	tip_time_t last_start, last_end;
	char last_status[16];   /* "" when it never ran */
	int64_t last_items;
	int failures;           /* consecutive runs that did not end ok */
	tip_time_t after_ok;    /* end of the `after` module's newest ok run we have not consumed */
	tip_time_t consumed;    /* the after_ok our last run started on */
	tip_time_t last_ok_end; /* end of our newest ok run (what modules `after` us wait for) */
	int64_t runs, skipped;  /* since this master started: runs started, slots skipped */
	bool waiting;           /* due, but held back (after-dependency or max_children) */
};

struct tip_sched_plan {
	struct tip_sched_entry *e;
	size_t n;
	int max_children;       /* passes at once (services do not count) */
	int n_running;          /* passes running */
};

/* Builds the plan for `modules` with cfg's [module] sections, every module due at `now`.
 * Fails on bad config (as tip_sched_check_config). tip_sched_plan_free frees it. */
int tip_sched_plan_init(struct tip_sched_plan *p, const struct tip_config *cfg,
			const struct tip_module *const *modules, tip_time_t now,
			struct tip_error *err);
void tip_sched_plan_free(struct tip_sched_plan *p);
/* Continues from the store's history: each module's newest runs set its anchor (the last
 * start), consecutive failures (back-off) and the after-dependency. A module whose slot passed
 * while no master ran is due at `now` (once: missed slots do not queue up).
 * How a run the store still shows 'running' is taken depends on who asks: */
enum tip_sched_restore {
	TIP_RESTORE_MASTER,    /* a master starting: no child of ours runs it, so it is marked
				* 'interrupted' in the store, unless its process still runs it (a
				* `tip run --once` or `tip feed fetch` beside the master: left alone) */
	TIP_RESTORE_VIEW,      /* `tip status`, no master running: shown interrupted, not written, */
	TIP_RESTORE_VIEW_LIVE, /* `tip status` beside a running master: */
	/* in both views, the newest run whose process still runs it is shown running */
};
int tip_sched_plan_restore(struct tip_sched_plan *p, struct tip_store *st, tip_time_t now,
			   enum tip_sched_restore mode, struct tip_error *err);
/* SIGHUP: new settings from cfg. Running runs are untouched; a changed interval re-anchors the
 * module on its last start. On error the plan is unchanged. */
int tip_sched_plan_reload(struct tip_sched_plan *p, const struct tip_config *cfg,
			  tip_time_t now, struct tip_error *err);

/* The next module to start at `now`, or NULL. Call it until NULL, calling
 * tip_sched_plan_started() for each one you start. Passes every slot that came while its
 * module ran (an overrun) — each skipped slot is counted in e->skipped and logged. */
struct tip_sched_entry *tip_sched_plan_due(struct tip_sched_plan *p, tip_time_t now);
void tip_sched_plan_started(struct tip_sched_plan *p, struct tip_sched_entry *e, tip_time_t now,
			    int64_t run_id);
/* The run ended at `now` with `status` (TIP_RUN_*): computes the next start. */
void tip_sched_plan_ended(struct tip_sched_plan *p, struct tip_sched_entry *e, tip_time_t now,
			  const char *status, int64_t items);
/* When the plan next needs a look: the earliest `next` of an idle enabled module (0: never). */
tip_time_t tip_sched_plan_wake(const struct tip_sched_plan *p, tip_time_t now);
/* The invariant the master checks after every change (and the tests after every step): every
 * enabled module is running or has a next start. Returns the offending entry, or NULL. */
const struct tip_sched_entry *tip_sched_plan_lost(const struct tip_sched_plan *p);
/* The wall clock was stepped by `delta` (the master compares it with the monotonic clock):
 * every time in the plan moves with it, so the schedule keeps its rhythm in elapsed time — a
 * clock set back an hour does not hold every module back an hour, nor does one set forward
 * make them all due at once. */
void tip_sched_plan_shift(struct tip_sched_plan *p, tip_time_t delta);
/* The deterministic jitter of slot `slot` of module `name`, in [0, jitter). */
tip_time_t tip_sched_jitter(const char *name, tip_time_t slot, tip_time_t jitter);

/* ---------------------------------------------------------------------------------------- */
/* Child runs. */

struct tip_sched_result {
	pid_t pid;
	int64_t run_id;
	tip_time_t started, ended;
	const char *status; /* TIP_RUN_* */
	int exit_code;      /* -1 when it died of a signal */
	int signal;         /* 0 when it exited */
	int64_t items;
	char error[512];    /* "" when none */
};

/* One pass of m in a child, through the same path as the master's runs (rlimits, timeout from
 * [module] timeout, the run recorded in the store), waiting for it. args/n_args go to
 * ctx->args. SIGINT or SIGTERM to the caller ends the child gracefully (status killed).
 * Returns 0 when the child ran (res says how it ended, ok or not), or a negative TIP_E* when
 * it could not be run at all. The caller may hold a store connection of its own, but must not
 * have a transaction open on it (the child is forked with it; see child.c). It installs
 * libevent signal events for SIGCHLD, SIGINT and SIGTERM while it runs, and removes them. */
int tip_sched_run_once(const struct tip_config *cfg, const struct tip_module *m, char **args,
		       int n_args, struct tip_sched_result *res, struct tip_error *err);

/* ---------------------------------------------------------------------------------------- */
/* The master. */

struct tip_sched_opts {
	const char *config_path;               /* re-read on SIGHUP; NULL: defaults */
	const char *log_level;                 /* kept over the config's on SIGHUP (tip -v, -q);
						* NULL: the config's */
	const struct tip_module *const *modules; /* tip_modules, or a test's table */
	bool foreground;                       /* else daemonise */
};

/* Runs the master until SIGTERM/SIGINT. `cfg` is the loaded config (the master keeps its own
 * copy after SIGHUP). Returns 0 after a clean stop, or a negative TIP_E* when it could not
 * start (another instance holds the pidfile: TIP_EEXIST). */
int tip_sched_master(const struct tip_sched_opts *o, const struct tip_config *cfg,
		     struct tip_error *err);

/* Is a master running for this config? *pid gets its pid from the pidfile (0: none). */
int tip_sched_master_pid(const struct tip_config *cfg, pid_t *pid);

#endif
