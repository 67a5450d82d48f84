/*
 * plan.c — the schedule as pure logic: no clock, no I/O but the store reads of restore (and
 * /proc there, to tell whether a run the store shows 'running' still runs).
 *
 * A pass module's slots are anchor + k·interval. The anchor is the module's first start (or,
 * after a restart, its last recorded start), so the next start follows the schedule, not the
 * end of the last run: a run that takes 40 % of the interval does not push the next one back
 * (no drift). A slot that comes while the module still runs is skipped — counted and logged,
 * nothing queues — and the module starts again on the first slot after its run ends.
 *
 * After a failure a pass is retried after `backoff`, doubling per consecutive failure, but the
 * retry is never later than the next regular slot: a failing module is retried sooner than its
 * schedule at first and never less often than its schedule. A service (web, smtp) has no slots;
 * each end is a failure and it is restarted after the same back-off, capped at its interval.
 *
 * The invariant that keeps a module from silently dropping out of the schedule: an enabled
 * module is either running or has a `next` start in the future or now. tip_sched_plan_lost()
 * checks it; the master checks it after every change, and the tests after every step.
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"

const struct tip_cfg_key tip_sched_module_keys[] = {
	{ "interval", TIP_CFG_DURATION, NULL, 0, 86400 * 366,
	  "time between the starts of two passes (e.g. 500ms, 90s, 15m, 1h); for a service the "
	  "longest restart back-off (default: the module's own)" },
	{ "timeout", TIP_CFG_DURATION, NULL, 0, 86400 * 366,
	  "a pass still running after this is sent SIGTERM, then SIGKILL after [daemon] grace_ms "
	  "(0: none; default: the module's own)" },
	{ "enabled", TIP_CFG_BOOL, "yes", 0, 0, "run this module (yes or no)" },
	{ "jitter", TIP_CFG_DURATION, "0", 0, 86400 * 366,
	  "each slot starts up to this much later, so that modules do not start together; less "
	  "than interval" },
	{ "backoff", TIP_CFG_DURATION, "1s", 0, 86400 * 366,
	  "first retry delay after a failed pass or a service's crash; doubles with each "
	  "consecutive failure, capped at interval" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

#define DEFAULT_INTERVAL (3600 * TIP_SEC)
#define DEFAULT_SERVICE_CAP (60 * TIP_SEC)

static int dur(const struct tip_config *cfg, const struct tip_config_section *s, const char *key,
	       tip_time_t def, tip_time_t *out, struct tip_error *err)
{
	const struct tip_kv *kv = tip_config_kv(s, key);
	const char *v;
	if (!kv) {
		v = tip_config_section_str(s, tip_sched_module_keys, key);
		if (!v) {
			*out = def;
			return 0;
		}
	} else
		v = kv->value;
	if (tip_duration_parse(v, out) < 0)
		return tip_error_set(err, TIP_EINVAL, "%s:%d: [module %s] %s: '%s' is not a duration",
				     cfg->path ? cfg->path : "(config)", kv ? kv->line : 0,
				     s ? s->name : "?", key, v);
	return 0;
}

int tip_sched_modcfg(const struct tip_config *cfg, const struct tip_module *m,
		     struct tip_sched_modcfg *out, struct tip_error *err)
{
	const struct tip_config_section *s = tip_config_section(cfg, "module", m->name);
	const char *file = cfg->path ? cfg->path : "(config)";
	const struct tip_kv *kv;
	tip_time_t def_iv = m->default_interval_s > 0 ? m->default_interval_s * TIP_SEC
			    : m->kind == TIP_MODULE_SERVICE ? DEFAULT_SERVICE_CAP
							     : DEFAULT_INTERVAL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->enabled = true;
	if (s && (rc = tip_config_section_check(cfg, s, tip_sched_module_keys, err)) < 0)
		return rc;
	if ((rc = dur(cfg, s, "interval", def_iv, &out->interval, err)) < 0 ||
	    (rc = dur(cfg, s, "timeout", m->default_timeout_s * TIP_SEC, &out->timeout, err)) < 0 ||
	    (rc = dur(cfg, s, "jitter", 0, &out->jitter, err)) < 0 ||
	    (rc = dur(cfg, s, "backoff", TIP_SEC, &out->backoff, err)) < 0)
		return rc;
	if ((kv = tip_config_kv(s, "enabled")))
		tip_parse_bool(kv->value, &out->enabled); /* checked above */
	if (out->interval <= 0) {
		kv = tip_config_kv(s, "interval");
		return tip_error_set(err, TIP_EINVAL, "%s:%d: [module %s] interval: must be more than 0",
				     file, kv ? kv->line : 0, m->name);
	}
	if (out->jitter && out->jitter >= out->interval) {
		kv = tip_config_kv(s, "jitter");
		return tip_error_set(err, TIP_EINVAL,
				     "%s:%d: [module %s] jitter: must be less than interval", file,
				     kv ? kv->line : 0, m->name);
	}
	if (out->backoff <= 0)
		out->backoff = out->interval < TIP_SEC ? out->interval : TIP_SEC;
	return 0;
}

int tip_sched_check_config(const struct tip_config *cfg, const struct tip_module *const *modules,
			   struct tip_error *err)
{
	const char *file = cfg->path ? cfg->path : "(config)";
	int rc;

	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct tip_config_section *s = &cfg->sections[i];
		char known[512] = "";
		if (strcmp(s->kind, "module") || tip_module_find(modules, s->name))
			continue;
		for (const struct tip_module *const *m = modules; *m; m++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 m == modules ? "" : ", ", (*m)->name);
		return tip_error_set(err, TIP_EINVAL, "%s:%d: [module %s]: unknown module (%s%s)",
				     file, s->line, s->name, *known ? "known: " : "none is built in",
				     known);
	}
	for (const struct tip_module *const *m = modules; *m; m++) {
		struct tip_sched_modcfg mc;
		if ((rc = tip_sched_modcfg(cfg, *m, &mc, err)) < 0)
			return rc;
		if ((*m)->check_config && (rc = (*m)->check_config(cfg, err)) < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

/* splitmix64 of (name, slot): the same slot of the same module always gets the same jitter,
 * so a restarted master and `tip status` agree with the running one. */
tip_time_t tip_sched_jitter(const char *name, tip_time_t slot, tip_time_t jitter)
{
	uint64_t h = 1469598103934665603ULL;
	if (jitter <= 0)
		return 0;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	h ^= (uint64_t)slot;
	h += 0x9e3779b97f4a7c15ULL;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (tip_time_t)(h % (uint64_t)jitter);
}

static tip_time_t backoff_delay(const struct tip_sched_entry *e)
{
	tip_time_t d = e->mc.backoff;
	for (int i = 1; i < e->failures && d < e->mc.interval; i++)
		d *= 2;
	return d < e->mc.interval ? d : e->mc.interval;
}

static bool is_service(const struct tip_sched_entry *e)
{
	return e->m->kind == TIP_MODULE_SERVICE;
}

static bool is_failure(const char *status)
{
	return strcmp(status, TIP_RUN_OK) && strcmp(status, TIP_RUN_KILLED) &&
	       strcmp(status, TIP_RUN_CANCELLED) && strcmp(status, TIP_RUN_INTERRUPTED);
}

/* next = the slot plus its jitter, or the back-off retry when that comes first */
static void set_next(struct tip_sched_entry *e)
{
	if (is_service(e)) {
		e->next = e->retry_at;
		return;
	}
	e->next = e->next_slot + tip_sched_jitter(e->m->name, e->next_slot, e->mc.jitter);
	if (e->retry_at && e->retry_at < e->next)
		e->next = e->retry_at;
}

/* Moves next_slot to the first slot after now; returns how many slots that passed over. */
static int64_t pass_slots(struct tip_sched_entry *e, tip_time_t now)
{
	int64_t k;
	if (e->next_slot > now)
		return 0;
	k = (now - e->next_slot) / e->mc.interval + 1;
	e->next_slot += k * e->mc.interval;
	return k;
}

static void link_after(struct tip_sched_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		e->after = -1;
		if (!e->m->after)
			continue;
		for (size_t j = 0; j < p->n; j++)
			if (j != i && !strcmp(p->e[j].m->name, e->m->after) && p->e[j].mc.enabled)
				e->after = (int)j;
		/* a dependency that is not there must not hold the module back for ever */
		if (e->after < 0)
			tip_warnx("module %s: runs after %s, which is not an enabled module here: "
				  "running it on its own schedule", e->m->name, e->m->after);
	}
}

int tip_sched_plan_init(struct tip_sched_plan *p, const struct tip_config *cfg,
			const struct tip_module *const *modules, tip_time_t now,
			struct tip_error *err)
{
	size_t n = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = tip_sched_check_config(cfg, modules, err)) < 0)
		return rc;
	while (modules[n])
		n++;
	p->e = n ? tip_xcalloc(n, sizeof(*p->e)) : NULL;
	p->n = n;
	p->max_children = (int)cfg->daemon.max_children;
	for (size_t i = 0; i < n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		e->m = modules[i];
		if ((rc = tip_sched_modcfg(cfg, e->m, &e->mc, err)) < 0) {
			tip_sched_plan_free(p);
			return rc;
		}
		e->anchor = now;
		e->next_slot = is_service(e) ? 0 : now;
		e->retry_at = is_service(e) ? now : 0;
		set_next(e);
	}
	link_after(p);
	return 0;
}

void tip_sched_plan_free(struct tip_sched_plan *p)
{
	free(p->e);
	memset(p, 0, sizeof(*p));
}

struct restore_state {
	struct tip_sched_entry *e;
	struct tip_store *st;
	tip_time_t now;
	enum tip_sched_restore mode;
	int seen;
	bool have_last;
	bool streak; /* still counting consecutive failures */
	int rc;
	struct tip_error *err;
};

/* a process with this pid exists */
static bool pid_alive(int64_t pid)
{
	return pid > 0 && pid <= INT_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* When the process with this pid started (Linux: field 22 of /proc/PID/stat, in clock ticks
 * after the boot time btime of /proc/stat), 0 where /proc does not tell, -1 for a process that
 * has ended (a zombie not yet reaped). */
static tip_time_t proc_started(int64_t pid)
{
	char path[64], buf[1024], *p, *save = NULL;
	unsigned long long ticks = 0, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if (hz <= 0 || !(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* the command name (field 2) is in parentheses and may hold anything: after its last ')'.
	 * Field 3, the state: a zombie (Z) or a dead process (X, x) has ended. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X' || p[2] == 'x'))
		return -1;
	for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (++field == 22) {
			ticks = strtoull(tok, NULL, 10);
			break;
		}
	if (field != 22 || !(f = fopen("/proc/stat", "r")))
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	if (!btime)
		return 0;
	return (tip_time_t)btime * TIP_SEC +
	       (tip_time_t)(ticks * (unsigned long long)TIP_SEC / (unsigned long long)hz);
}

/* The process a 'running' row names still runs that run: its pid exists and, where /proc
 * tells, the process started when the run did (the supervisor records `started` right after
 * the fork; btime is whole seconds), so that a pid taken again by another process reads as
 * gone. A child that has ended but is not reaped yet (a zombie) runs on if zombie_runs: beside
 * a live master, which reaps its children and records their end at once; not when no master
 * runs (the master that started it died: init or a subreaper reaps it). */
#define RUN_START_SLACK (10 * TIP_SEC)
static bool run_alive(int64_t pid, tip_time_t started, bool zombie_runs)
{
	tip_time_t t;
	if (!pid_alive(pid))
		return false;
	if (!(t = proc_started(pid)))
		return true;
	if (t < 0)
		return zombie_runs;
	return t - started <= RUN_START_SLACK && started - t <= RUN_START_SLACK;
}

static int restore_row(void *arg, const struct tip_run *r)
{
	struct restore_state *rs = arg;
	struct tip_sched_entry *e = rs->e;
	const char *status = r->status;

	if (!strcmp(status, TIP_RUN_RUNNING)) {
		/* the child it names still runs it: a live master's, or one of `tip run --once` or
		 * `tip feed fetch`, whose supervisor writes its end. (One killed with SIGKILL leaves
		 * its row 'running', and its child dies with it, PR_SET_PDEATHSIG.) `tip status`
		 * shows the newest such run as running; a master starting leaves it alone. */
		if (run_alive(r->pid, r->started, rs->mode == TIP_RESTORE_VIEW_LIVE)) {
			if (rs->mode == TIP_RESTORE_MASTER) {
				tip_info("module %s: run %lld (pid %lld) runs beside this master, "
					 "under another supervisor: left to it", e->m->name,
					 (long long)r->id, (long long)r->pid);
			} else if (rs->seen == 0) {
				e->running = true;
				e->run_started = r->started;
				e->run_id = r->id;
				e->last_start = r->started;
				rs->seen++;
			}
			return 0;
		}
		/* left by a supervisor that died: no child of ours runs it */
		if (rs->mode == TIP_RESTORE_MASTER) {
			char why[128];
			snprintf(why, sizeof(why), "the master that started it (pid %lld) stopped first",
				 (long long)r->pid);
			if ((rs->rc = tip_store_run_end(rs->st, r->id, rs->now, TIP_RUN_INTERRUPTED, -1,
							0, r->items, why, rs->err)) < 0)
				return 1;
			tip_info("module %s: run %lld was left running by a master that stopped: "
				 "marked interrupted", e->m->name, (long long)r->id);
		}
		status = TIP_RUN_INTERRUPTED;
	}
	if (!rs->have_last) {
		/* the newest finished run (behind a live one, when one runs) */
		rs->have_last = true;
		if (!e->running)
			e->last_start = r->started;
		e->last_end = r->ended ? r->ended : rs->now;
		tip_strlcpy(e->last_status, status, sizeof(e->last_status));
		e->last_items = r->items;
	}
	if (rs->streak) {
		if (is_failure(status))
			e->failures++;
		else if (!strcmp(status, TIP_RUN_OK))
			rs->streak = false;
	}
	if (!e->last_ok_end && !strcmp(status, TIP_RUN_OK))
		e->last_ok_end = r->ended;
	rs->seen++;
	return 0;
}

int tip_sched_plan_restore(struct tip_sched_plan *p, struct tip_store *st, tip_time_t now,
			   enum tip_sched_restore mode, struct tip_error *err)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		struct restore_state rs = { .e = e, .st = st, .now = now, .mode = mode,
					    .streak = true, .err = err };
		int rc = tip_store_runs(st, e->m->name, 64, restore_row, &rs, err);
		if (rc < 0 || rs.rc < 0)
			return rc < 0 ? rc : rs.rc;
		if (!rs.seen)
			continue; /* never ran: due now, as plan_init left it */
		if (is_service(e)) {
			e->retry_at = now;
		} else {
			/* continue the grid of the last start; a slot missed while no master ran
			 * makes the module due now, once */
			e->anchor = e->last_start;
			e->next_slot = e->last_start + e->mc.interval;
			if (e->next_slot <= now && !e->running) {
				e->anchor = now;
				e->next_slot = now;
			}
			e->retry_at = 0;
			if (e->failures && !e->running)
				e->retry_at = e->last_end + backoff_delay(e);
		}
		set_next(e);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		if (e->after < 0)
			continue;
		e->after_ok = p->e[e->after].last_ok_end;
		/* satisfied when the dependency's newest ok run ended after our last start */
		e->consumed = e->after_ok > e->last_start ? 0 : e->after_ok;
	}
	p->n_running = 0;
	for (size_t i = 0; i < p->n; i++)
		p->n_running += p->e[i].running && !is_service(&p->e[i]);
	return 0;
}

int tip_sched_plan_reload(struct tip_sched_plan *p, const struct tip_config *cfg,
			  tip_time_t now, struct tip_error *err)
{
	struct tip_sched_modcfg *mc;
	const struct tip_module **mods;
	int rc;

	mods = tip_xcalloc(p->n + 1, sizeof(*mods));
	for (size_t i = 0; i < p->n; i++)
		mods[i] = p->e[i].m;
	rc = tip_sched_check_config(cfg, (const struct tip_module *const *)mods, err);
	free(mods);
	if (rc < 0)
		return rc;
	mc = tip_xcalloc(p->n ? p->n : 1, sizeof(*mc));
	for (size_t i = 0; i < p->n; i++)
		if ((rc = tip_sched_modcfg(cfg, p->e[i].m, &mc[i], err)) < 0) {
			free(mc);
			return rc;
		}
	p->max_children = (int)cfg->daemon.max_children;
	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		bool changed = mc[i].interval != e->mc.interval || (mc[i].enabled && !e->mc.enabled);
		if (changed)
			tip_info("module %s: interval %lldms, %s", e->m->name,
				 (long long)(mc[i].interval / TIP_MSEC),
				 mc[i].enabled ? "enabled" : "disabled");
		e->mc = mc[i];
		if (changed && !is_service(e)) {
			/* re-anchor on the last start, so the new interval counts from it */
			e->anchor = e->last_start ? e->last_start : now;
			e->next_slot = e->last_start ? e->last_start + e->mc.interval : now;
			if (e->next_slot <= now && !e->running)
				e->anchor = e->next_slot = now;
		}
		if (e->retry_at && !is_service(e) && e->retry_at > e->last_end + backoff_delay(e))
			e->retry_at = e->last_end + backoff_delay(e);
		if (!e->running)
			set_next(e);
	}
	free(mc);
	link_after(p);
	return 0;
}

static bool after_ready(const struct tip_sched_entry *e)
{
	return e->after < 0 || e->after_ok > e->consumed;
}

struct tip_sched_entry *tip_sched_plan_due(struct tip_sched_plan *p, tip_time_t now)
{
	struct tip_sched_entry *best = NULL;

	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		e->waiting = false;
		if (!e->mc.enabled || e->running || e->next > now)
			continue;
		if (!is_service(e)) {
			if (!after_ready(e) || p->n_running >= p->max_children) {
				e->waiting = true;
				continue;
			}
		}
		if (!best || e->next < best->next)
			best = e;
	}
	return best;
}

void tip_sched_plan_started(struct tip_sched_plan *p, struct tip_sched_entry *e, tip_time_t now,
			    int64_t run_id)
{
	e->running = true;
	e->waiting = false;
	e->run_started = now;
	e->run_id = run_id;
	e->last_start = now;
	e->runs++;
	e->consumed = e->after_ok;
	e->retry_at = 0;
	if (!is_service(e)) {
		p->n_running++;
		if (e->next_slot <= now) {
			/* this run takes the newest slot that came; older ones it waited past are
			 * skipped (it was held back by max_children or its dependency) */
			int64_t k = pass_slots(e, now) - 1;
			if (k > 0) {
				e->skipped += k;
				tip_warnx("module %s: %lld slot(s) skipped while it waited to start",
					  e->m->name, (long long)k);
			}
		}
	}
}

void tip_sched_plan_ended(struct tip_sched_plan *p, struct tip_sched_entry *e, tip_time_t now,
			  const char *status, int64_t items)
{
	bool failed = is_failure(status);

	if (!e->running)
		return;
	e->running = false;
	e->last_end = now;
	tip_strlcpy(e->last_status, status, sizeof(e->last_status));
	e->last_items = items;
	if (!strcmp(status, TIP_RUN_OK)) {
		e->failures = 0;
		e->last_ok_end = now;
		for (size_t i = 0; i < p->n; i++)
			if (p->e[i].after == (int)(e - p->e))
				p->e[i].after_ok = now;
	}
	if (is_service(e)) {
		/* a service should not end; one that ran for its whole back-off cap was healthy,
		 * so its back-off starts over */
		if (now - e->run_started >= e->mc.interval)
			e->failures = 0;
		e->failures++;
		e->retry_at = now + backoff_delay(e);
		set_next(e);
		return;
	}
	p->n_running--;
	if (failed)
		e->failures++;
	if (e->next_slot <= now) {
		int64_t k = pass_slots(e, now);
		e->skipped += k;
		tip_warnx("module %s: overran its interval (%lldms): %lld slot(s) skipped", e->m->name,
			  (long long)(e->mc.interval / TIP_MSEC), (long long)k);
	}
	e->retry_at = failed ? now + backoff_delay(e) : 0;
	set_next(e);
}

tip_time_t tip_sched_plan_wake(const struct tip_sched_plan *p, tip_time_t now)
{
	tip_time_t w = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct tip_sched_entry *e = &p->e[i];
		tip_time_t t;
		if (!e->mc.enabled || e->running)
			continue;
		/* one held back is woken by the end of the run it waits for, not by the clock */
		if (e->next <= now && e->waiting)
			continue;
		t = e->next;
		if (!w || t < w)
			w = t;
	}
	return w;
}

const struct tip_sched_entry *tip_sched_plan_lost(const struct tip_sched_plan *p)
{
	int running = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct tip_sched_entry *e = &p->e[i];
		if (e->running && !is_service(e))
			running++;
		if (!e->mc.enabled || e->running)
			continue;
		if (e->next <= 0 || (!is_service(e) && e->next_slot <= 0))
			return e;
		/* waiting on a dependency that is itself off the schedule */
		if (e->after >= 0 && !p->e[e->after].mc.enabled)
			return e;
	}
	if (running != p->n_running)
		return p->n ? &p->e[0] : NULL;
	return NULL;
}

void tip_sched_plan_shift(struct tip_sched_plan *p, tip_time_t delta)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tip_sched_entry *e = &p->e[i];
		tip_time_t *t[] = { &e->anchor, &e->next_slot, &e->retry_at, &e->next,
				    &e->run_started, &e->last_start, &e->last_end, &e->after_ok,
				    &e->consumed, &e->last_ok_end };
		for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
			if (*t[k])
				*t[k] += delta;
	}
}
