/* cmd_status.c — tip status: each module's last run, next run and last result, computed by
 * the same plan the master uses, rebuilt from the recorded runs (src/sched). */
#include <getopt.h>
#include <string.h>

#include "cli_int.h"
#include "sched/sched.h"

struct last {
	json_t *j;
	int64_t exit_code, signal;
	char error[512];
	bool have;
};

static int last_cb(void *arg, const struct tip_run *r)
{
	struct last *l = arg;
	l->have = true;
	l->exit_code = r->exit_code;
	l->signal = r->signal;
	tip_strlcpy(l->error, r->error ? r->error : "", sizeof(l->error));
	l->j = json_pack("{s:I, s:I, s:s, s:o, s:o, s:I, s:o, s:o, s:o}", "id", (json_int_t)r->id,
			 "pid", (json_int_t)r->pid, "status", r->status, "started",
			 cli_json_time(r->started), "ended", cli_json_time(r->ended), "items",
			 (json_int_t)r->items,
			 "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) : json_null(),
			 "signal", r->signal ? json_integer(r->signal) : json_null(),
			 "error", r->error ? json_string(r->error) : json_null());
	return 1;
}

static const char *state_of(const struct tip_sched_entry *e)
{
	if (!e->mc.enabled)
		return "disabled";
	if (e->running)
		return "running";
	if (e->after >= 0 && !(e->after_ok > e->consumed))
		return "waiting";
	return "idle";
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	struct tip_error err = { 0 };
	struct tip_sched_plan plan;
	tip_time_t now = tip_now();
	json_t *mods;
	pid_t pid = 0;
	bool json = false;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else
			return cli_usage("status", "bad option");
	}
	if (optind != argc)
		return cli_usage("status", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_store(c, true)) != 0)
		return rc;
	tip_sched_master_pid(&c->cfg, &pid);
	if (tip_sched_plan_init(&plan, &c->cfg, c->modules, now, &err) < 0 ||
	    tip_sched_plan_restore(&plan, c->st, now, pid ? TIP_RESTORE_VIEW_LIVE : TIP_RESTORE_VIEW, &err) < 0) {
		cli_err("status", "%s", err.msg);
		tip_sched_plan_free(&plan);
		return EXIT_RUNTIME;
	}
	mods = json_array();
	if (!json) {
		if (pid)
			printf("master: running (pid %ld)\n", (long)pid);
		else
			printf("master: not running\n");
		if (!plan.n)
			printf("no modules\n");
		else
			printf("%-16s %-8s %-9s %-20s %-11s %8s  %s\n", "MODULE", "KIND", "STATE",
			       "LAST RUN", "RESULT", "ITEMS", "NEXT RUN");
	}
	for (size_t i = 0; i < plan.n; i++) {
		const struct tip_sched_entry *e = &plan.e[i];
		struct last l = { 0 };
		const char *state = state_of(e);
		bool has_next = e->mc.enabled && !e->running;
		tip_time_t next = has_next ? (e->next > now ? e->next : now) : 0;
		if (tip_store_runs(c->st, e->m->name, 1, last_cb, &l, &err) < 0) {
			cli_err("status", "%s", err.msg);
			json_decref(mods);
			tip_sched_plan_free(&plan);
			return EXIT_RUNTIME;
		}
		if (json) {
			json_array_append_new(
				mods, json_pack("{s:s, s:s, s:b, s:s, s:I, s:I, s:o, s:o, s:o, s:i, s:o}",
						"name", e->m->name, "kind",
						e->m->kind == TIP_MODULE_SERVICE ? "service" : "pass",
						"enabled", e->mc.enabled, "state", state, "interval_ms",
						(json_int_t)(e->mc.interval / TIP_MSEC), "timeout_ms",
						(json_int_t)(e->mc.timeout / TIP_MSEC), "last_run",
						l.j ? l.j : json_null(), "last_result",
						l.have ? json_string(e->last_status) : json_null(),
						"next_run", cli_json_time(next), "failures", e->failures,
						"after", e->m->after ? json_string(e->m->after) : json_null()));
			continue;
		}
		{
			char a[TIP_TIME_BUFLEN] = "-", b[TIP_TIME_BUFLEN] = "-";
			if (l.have)
				tip_time_format(e->last_start, a, sizeof(a));
			if (e->running)
				snprintf(b, sizeof(b), "(running)");
			else if (next)
				tip_time_format(next, b, sizeof(b));
			printf("%-16s %-8s %-9s %-20s %-11s %8lld  %s%s\n", e->m->name,
			       e->m->kind == TIP_MODULE_SERVICE ? "service" : "pass", state, a,
			       l.have ? e->last_status : "-", (long long)e->last_items, b,
			       !strcmp(state, "waiting") ? " (after its dependency's next ok run)" : "");
			if (l.have && l.error[0])
				printf("%16s   last error: %s\n", "", l.error);
			json_decref(l.j);
		}
	}
	tip_sched_plan_free(&plan);
	if (json)
		return cli_json_print(json_pack("{s:{s:b, s:o}, s:o}", "master", "running", pid != 0,
						"pid", pid ? json_integer(pid) : json_null(),
						"modules", mods));
	json_decref(mods);
	return EXIT_OK;
}
