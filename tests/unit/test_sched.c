/*
 * test_sched.c — the schedule logic (src/sched/plan.c) against a fake clock, as Unbound's
 * testbound runs its logic against fake time: every start and end is exact, so the tests say
 * exactly when a module must run. Expected times are hand calculations from the rules in
 * plan.c's header comment (slots anchor + k·interval; back-off base·2^(n-1) capped at the
 * interval; one run per module; `after`; max_children).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched/sched.h"

#define MS TIP_MSEC
#define T0 (1700000000LL * TIP_SEC) /* any fixed wall time */
static tip_time_t proc_t0; /* when this process started (main's first step): a real wall time */

static int run_nothing(struct tip_module_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static const struct tip_module m_a = { .name = "a", .default_interval_s = 3600, .run = run_nothing };
static const struct tip_module m_b = { .name = "b", .default_interval_s = 3600, .run = run_nothing };
static const struct tip_module m_c = { .name = "c", .default_interval_s = 3600, .run = run_nothing };
static const struct tip_module m_resolve = { .name = "resolve", .default_interval_s = 3600,
					     .run = run_nothing };
static const struct tip_module m_classify = { .name = "classify", .default_interval_s = 3600,
					      .after = "resolve", .run = run_nothing };
static const struct tip_module m_svc = { .name = "svc", .kind = TIP_MODULE_SERVICE,
					 .default_interval_s = 60, .run = run_nothing };

static char conf_path[64];

/* Writes `text` as a config file and loads it. */
static void load(struct tip_config *cfg, const char *text)
{
	struct tip_error err = { 0 };
	FILE *f;
	snprintf(conf_path, sizeof(conf_path), "/tmp/test_sched.%ld.conf", (long)getpid());
	f = fopen(conf_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (tip_config_load(cfg, conf_path, &err) < 0)
		fail_msg("config: %s", err.msg);
	unlink(conf_path);
}

static struct tip_sched_entry *entry(struct tip_sched_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->e[i].m->name, name))
			return &p->e[i];
	fail_msg("no entry %s", name);
	return NULL;
}

static void no_module_lost(const struct tip_sched_plan *p)
{
	const struct tip_sched_entry *lost = tip_sched_plan_lost(p);
	if (lost)
		fail_msg("module %s fell off the schedule", lost->m->name);
}

/* ---------------------------------------------------------------------------------------- */

/* A run that takes 40 % of its interval does not push the next start back: starts are
 * exactly T0 + k·100ms for k = 0..99 (hand calculation: 100 slots, no drift). */
static void test_no_drift(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	tip_time_t now = T0;
	(void)state;

	load(&cfg, "[module a]\ninterval = 100ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	for (int k = 0; k < 100; k++) {
		struct tip_sched_entry *e;
		now = tip_sched_plan_wake(&p, now);
		assert_int_equal(now, T0 + k * 100 * MS);
		e = tip_sched_plan_due(&p, now);
		assert_non_null(e);
		tip_sched_plan_started(&p, e, now, k + 1);
		assert_null(tip_sched_plan_due(&p, now)); /* never twice at once */
		now += 40 * MS;
		tip_sched_plan_ended(&p, e, now, TIP_RUN_OK, 1);
		no_module_lost(&p);
	}
	assert_int_equal(entry(&p, "a")->skipped, 0);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* A run of 250ms with an interval of 100ms: the slots at 100 and 200 come while it runs and
 * are skipped (2 counted), nothing queues, and the next start is the slot at 300. */
static void test_overrun_skips(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	(void)state;

	load(&cfg, "[module a]\ninterval = 100ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, T0, &err), 0);
	e = tip_sched_plan_due(&p, T0);
	tip_sched_plan_started(&p, e, T0, 1);
	/* at the slots that come during the run: nothing to start */
	assert_null(tip_sched_plan_due(&p, T0 + 100 * MS));
	assert_null(tip_sched_plan_due(&p, T0 + 200 * MS));
	tip_sched_plan_ended(&p, e, T0 + 250 * MS, TIP_RUN_OK, 1);
	assert_int_equal(e->skipped, 2);
	assert_int_equal(e->next, T0 + 300 * MS);
	assert_int_equal(tip_sched_plan_wake(&p, T0 + 250 * MS), T0 + 300 * MS);
	assert_null(tip_sched_plan_due(&p, T0 + 299 * MS));
	assert_ptr_equal(tip_sched_plan_due(&p, T0 + 300 * MS), e);
	no_module_lost(&p);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* Failures back off: retries 10, 20, 40, 80, 160, 320, 640ms after each failed run's end,
 * but never later than the next slot (interval 1000ms): after the 7th failure the slot wins
 * and the failing module keeps running on its schedule. One success resets it. */
static void test_backoff_cap(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	static const long want[] = { 10, 20, 40, 80, 160, 320, 640 };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	tip_time_t now = T0, slot = T0;
	(void)state;

	load(&cfg, "[module a]\ninterval = 1s\nbackoff = 10ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	e = entry(&p, "a");
	for (int i = 0; i < 7; i++) {
		tip_time_t end;
		assert_ptr_equal(tip_sched_plan_due(&p, now), e);
		tip_sched_plan_started(&p, e, now, i + 1);
		if (now >= slot + 1000 * MS)
			slot += 1000 * MS;
		end = now + 1 * MS;
		tip_sched_plan_ended(&p, e, end, TIP_RUN_FAILED, 0);
		assert_int_equal(e->failures, i + 1);
		{
			tip_time_t retry = end + want[i] * MS, next_slot = slot + 1000 * MS;
			assert_int_equal(e->next, retry < next_slot ? retry : next_slot);
		}
		now = e->next;
		no_module_lost(&p);
	}
	/* the next failures: the cap is the interval, so the module runs every slot */
	for (int i = 0; i < 5; i++) {
		tip_time_t start = tip_sched_plan_wake(&p, now);
		assert_int_equal((start - T0) % (1000 * MS), 0);
		assert_ptr_equal(tip_sched_plan_due(&p, start), e);
		tip_sched_plan_started(&p, e, start, 100 + i);
		tip_sched_plan_ended(&p, e, start + 1 * MS, TIP_RUN_CRASHED, 0);
		assert_int_equal(e->next, start + 1000 * MS);
		now = start + 1 * MS;
	}
	/* success: no retry, back on the plain schedule */
	now = e->next;
	tip_sched_plan_started(&p, e, now, 200);
	tip_sched_plan_ended(&p, e, now + 1 * MS, TIP_RUN_OK, 0);
	assert_int_equal(e->failures, 0);
	assert_int_equal(e->next, now + 1000 * MS);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* A service that keeps crashing right away is restarted after 50, 100, 200, 400, 400… ms
 * (back-off 50ms capped at its interval of 400ms). One that ran its whole cap starts over. */
static void test_service_restart_backoff(void **state)
{
	static const struct tip_module *const mods[] = { &m_svc, NULL };
	static const long want[] = { 50, 100, 200, 400, 400, 400 };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	tip_time_t now = T0;
	(void)state;

	load(&cfg, "[module svc]\ninterval = 400ms\nbackoff = 50ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	e = entry(&p, "svc");
	for (int i = 0; i < 6; i++) {
		assert_ptr_equal(tip_sched_plan_due(&p, now), e);
		tip_sched_plan_started(&p, e, now, i + 1);
		now += 5 * MS;
		tip_sched_plan_ended(&p, e, now, TIP_RUN_CRASHED, 0);
		assert_int_equal(e->next - now, want[i] * MS);
		now = e->next;
		no_module_lost(&p);
	}
	tip_sched_plan_started(&p, e, now, 10);
	now += 500 * MS; /* healthy for longer than the cap */
	tip_sched_plan_ended(&p, e, now, TIP_RUN_CRASHED, 0);
	assert_int_equal(e->next - now, 50 * MS);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* classify runs only after a resolve run finished ok since classify's last start. */
static void test_after_dependency(void **state)
{
	static const struct tip_module *const mods[] = { &m_classify, &m_resolve, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *r, *c;
	tip_time_t now = T0;
	(void)state;

	load(&cfg, "[module resolve]\ninterval = 100ms\n[module classify]\ninterval = 30ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	r = entry(&p, "resolve");
	c = entry(&p, "classify");
	/* both due at T0; only resolve may start */
	assert_ptr_equal(tip_sched_plan_due(&p, now), r);
	tip_sched_plan_started(&p, r, now, 1);
	assert_null(tip_sched_plan_due(&p, now));
	assert_true(c->waiting);
	no_module_lost(&p);
	/* resolve ends ok at 60: classify starts at once (its slots at 0 and 30 passed) */
	now = T0 + 60 * MS;
	tip_sched_plan_ended(&p, r, now, TIP_RUN_OK, 5);
	assert_ptr_equal(tip_sched_plan_due(&p, now), c);
	tip_sched_plan_started(&p, c, now, 2);
	/* slots at 0 and 30 were waited past (skipped); the one at 60 is this run's */
	assert_int_equal(c->skipped, 2);
	assert_int_equal(c->next_slot, T0 + 90 * MS);
	tip_sched_plan_ended(&p, c, now + 5 * MS, TIP_RUN_OK, 5);
	/* its next slot (90) comes, but no new resolve run ended: it waits */
	now = T0 + 90 * MS;
	assert_null(tip_sched_plan_due(&p, now));
	assert_true(c->waiting);
	/* resolve at 100 fails: still no classify */
	now = T0 + 100 * MS;
	assert_ptr_equal(tip_sched_plan_due(&p, now), r);
	tip_sched_plan_started(&p, r, now, 3);
	tip_sched_plan_ended(&p, r, now + 10 * MS, TIP_RUN_FAILED, 0);
	now += 10 * MS;
	assert_null(tip_sched_plan_due(&p, now));
	/* the retry succeeds: classify follows */
	now = r->next;
	assert_ptr_equal(tip_sched_plan_due(&p, now), r);
	tip_sched_plan_started(&p, r, now, 4);
	tip_sched_plan_ended(&p, r, now + 10 * MS, TIP_RUN_OK, 0);
	now += 10 * MS;
	assert_ptr_equal(tip_sched_plan_due(&p, now), c);
	no_module_lost(&p);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* max_children = 2 and three modules due: two start, the third waits for a free place. */
static void test_max_children(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, &m_b, &m_c, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e1, *e2;
	(void)state;

	load(&cfg, "[daemon]\nmax_children = 2\n[module a]\ninterval = 1s\n[module b]\ninterval = 1s\n"
		   "[module c]\ninterval = 1s\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, T0, &err), 0);
	e1 = tip_sched_plan_due(&p, T0);
	tip_sched_plan_started(&p, e1, T0, 1);
	e2 = tip_sched_plan_due(&p, T0);
	tip_sched_plan_started(&p, e2, T0, 2);
	assert_null(tip_sched_plan_due(&p, T0));
	assert_int_equal(p.n_running, 2);
	assert_true(entry(&p, "c")->waiting);
	/* a waiting module does not make the master spin: wake ignores it */
	assert_int_equal(tip_sched_plan_wake(&p, T0), 0);
	tip_sched_plan_ended(&p, e1, T0 + 10 * MS, TIP_RUN_OK, 0);
	assert_ptr_equal(tip_sched_plan_due(&p, T0 + 10 * MS), entry(&p, "c"));
	no_module_lost(&p);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* Jitter is deterministic per (module, slot) and within [0, jitter). */
static void test_jitter(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	tip_time_t now = T0;
	int distinct = 0;
	tip_time_t prev = -1;
	(void)state;

	for (int i = 0; i < 1000; i++) {
		tip_time_t j = tip_sched_jitter("a", T0 + i, 20 * MS);
		assert_true(j >= 0 && j < 20 * MS);
		assert_int_equal(j, tip_sched_jitter("a", T0 + i, 20 * MS));
		distinct += j != prev;
		prev = j;
	}
	assert_true(distinct > 900);
	load(&cfg, "[module a]\ninterval = 100ms\njitter = 20ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	e = entry(&p, "a");
	for (int k = 0; k < 50; k++) {
		tip_time_t slot = T0 + k * 100 * MS;
		now = tip_sched_plan_wake(&p, now);
		assert_int_equal(now, slot + tip_sched_jitter("a", slot, 20 * MS));
		tip_sched_plan_started(&p, tip_sched_plan_due(&p, now), now, k);
		tip_sched_plan_ended(&p, e, now + 1 * MS, TIP_RUN_OK, 0);
		now += 1 * MS;
	}
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* SIGHUP: an interval changed from 10s to 200ms counts from the last start. */
static void test_reload_interval(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	struct tip_config cfg, cfg2, bad;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	(void)state;

	load(&cfg, "[module a]\ninterval = 10s\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, T0, &err), 0);
	e = entry(&p, "a");
	tip_sched_plan_started(&p, tip_sched_plan_due(&p, T0), T0, 1);
	tip_sched_plan_ended(&p, e, T0 + 5 * MS, TIP_RUN_OK, 0);
	assert_int_equal(e->next, T0 + 10 * TIP_SEC);
	/* a bad config changes nothing */
	load(&bad, "[module a]\ninterval = 10s\njitter = 20s\n");
	assert_true(tip_sched_plan_reload(&p, &bad, T0 + 50 * MS, &err) < 0);
	assert_non_null(strstr(err.msg, "jitter"));
	assert_int_equal(e->next, T0 + 10 * TIP_SEC);
	load(&cfg2, "[module a]\ninterval = 200ms\n");
	assert_int_equal(tip_sched_plan_reload(&p, &cfg2, T0 + 50 * MS, &err), 0);
	assert_int_equal(e->next, T0 + 200 * MS);
	/* reloaded after the new interval passed: due at once */
	assert_int_equal(tip_sched_plan_reload(&p, &cfg, T0 + 50 * MS, &err), 0);
	assert_int_equal(tip_sched_plan_reload(&p, &cfg2, T0 + 500 * MS, &err), 0);
	assert_int_equal(e->next, T0 + 500 * MS);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
	tip_config_free(&cfg2);
	tip_config_free(&bad);
}

/* A wall clock set back an hour moves the plan with it: the next start is as far away in
 * elapsed time as before (hand calculation: 100ms interval, run at T0, shifted by -1h). */
static void test_clock_step(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, NULL };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_sched_entry *e;
	tip_time_t back = -3600 * TIP_SEC;
	(void)state;

	load(&cfg, "[module a]\ninterval = 100ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, T0, &err), 0);
	e = entry(&p, "a");
	tip_sched_plan_started(&p, tip_sched_plan_due(&p, T0), T0, 1);
	tip_sched_plan_ended(&p, e, T0 + 10 * MS, TIP_RUN_OK, 0);
	tip_sched_plan_shift(&p, back);
	assert_int_equal(e->next, T0 + back + 100 * MS);
	assert_int_equal(tip_sched_plan_wake(&p, T0 + back + 20 * MS), T0 + back + 100 * MS);
	assert_ptr_equal(tip_sched_plan_due(&p, T0 + back + 100 * MS), e);
	tip_sched_plan_started(&p, e, T0 + back + 100 * MS, 2);
	tip_sched_plan_ended(&p, e, T0 + back + 110 * MS, TIP_RUN_OK, 0);
	assert_int_equal(e->next, T0 + back + 200 * MS);
	assert_int_equal(e->skipped, 0);
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* Bad [module] sections are errors naming file, line and key. */
static void test_config_errors(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, &m_svc, NULL };
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[module a]\ninterval = 1s\n[module nosuch]\ninterval = 1s\n",
		  /* the config loader numbers a named section by its first key's line */
		  ":4: [module nosuch]: unknown module (known: a, svc)" },
		{ "[module a]\ninterval = 1s\nintervall = 2s\n", ":3: [module a] intervall: unknown key" },
		{ "[module a]\n\ninterval = soon\n", ":3: [module a] interval: 'soon' is not a duration" },
		{ "[module a]\ninterval = 0\n", ":2: [module a] interval: must be more than 0" },
		{ "[module a]\ninterval = 1s\njitter = 1s\n", ":3: [module a] jitter: must be less than interval" },
		{ "[module a]\nenabled = perhaps\n", ":2: [module a] enabled: 'perhaps' is not yes or no" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tip_config cfg;
		struct tip_sched_plan p;
		struct tip_error err = { 0 };
		load(&cfg, cases[i].text);
		assert_true(tip_sched_plan_init(&p, &cfg, mods, T0, &err) < 0);
		if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, "/tmp/test_sched."))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
		tip_config_free(&cfg);
	}
}

/* The guarantee: whatever the runs do (any status, any duration up to 3 intervals), every
 * enabled module starts again within interval + its longest run + its own back-off, and the
 * plan never loses a module. 20 000 random steps over 6 modules, one of them a service and
 * one after another, with max_children 2. */
static void test_never_lost(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, &m_b, &m_c, &m_resolve,
							 &m_classify, &m_svc, NULL };
	static const char *statuses[] = { TIP_RUN_OK, TIP_RUN_OK, TIP_RUN_FAILED, TIP_RUN_CRASHED,
					  TIP_RUN_TIMEOUT };
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	tip_time_t now = T0, end_at[6] = { 0 }, last_start[6];
	unsigned seed = 12345;
	int64_t runs = 0;
	(void)state;

	load(&cfg, "[daemon]\nmax_children = 2\n[module a]\ninterval = 100ms\njitter = 30ms\n"
		   "[module b]\ninterval = 70ms\nbackoff = 5ms\n[module c]\ninterval = 1s\n"
		   "[module resolve]\ninterval = 150ms\n[module classify]\ninterval = 50ms\n"
		   "[module svc]\ninterval = 300ms\nbackoff = 10ms\n");
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	for (int i = 0; i < 6; i++)
		last_start[i] = now;
	for (int step = 0; step < 20000; step++) {
		struct tip_sched_entry *e;
		tip_time_t wake = tip_sched_plan_wake(&p, now), t = 0;
		for (size_t i = 0; i < p.n; i++)
			if (p.e[i].running && (!t || end_at[i] < t))
				t = end_at[i];
		if (wake && (!t || wake < t))
			t = wake;
		assert_true(t >= now); /* something always happens next */
		now = t;
		for (size_t i = 0; i < p.n; i++)
			if (p.e[i].running && end_at[i] <= now)
				tip_sched_plan_ended(&p, &p.e[i], now,
						     statuses[rand_r(&seed) % 5], 0);
		while ((e = tip_sched_plan_due(&p, now))) {
			size_t i = (size_t)(e - p.e);
			tip_sched_plan_started(&p, e, now, ++runs);
			last_start[i] = now;
			end_at[i] = now + (rand_r(&seed) % (3 * e->mc.interval / MS) + 1) * MS;
		}
		no_module_lost(&p);
		for (size_t i = 0; i < p.n; i++) {
			/* bound: a run lasts < 3 intervals; the slot after it; max_children and the
			 * dependency can hold a module back by another module's longest run */
			tip_time_t bound = 12 * TIP_SEC;
			if (!p.e[i].running && now - last_start[i] > bound)
				fail_msg("module %s has not started for %lldms", p.e[i].m->name,
					 (long long)((now - last_start[i]) / MS));
		}
	}
	for (size_t i = 0; i < p.n; i++) {
		print_message("%s: %lld runs, %lld slots skipped\n", p.e[i].m->name,
			      (long long)p.e[i].runs, (long long)p.e[i].skipped);
		assert_true(p.e[i].runs > 10);
	}
	tip_sched_plan_free(&p);
	tip_config_free(&cfg);
}

/* After a restart the schedule continues from the recorded runs: next = last start +
 * interval; a run left 'running' is marked interrupted; a module whose slot passed while no
 * master ran is due at once; consecutive failures carry their back-off over. */
static void test_restore(void **state)
{
	static const struct tip_module *const mods[] = { &m_a, &m_b, &m_c, NULL };
	char dir[] = "/tmp/test_sched.XXXXXX", url[128], conf[512];
	struct tip_config cfg;
	struct tip_sched_plan p;
	struct tip_error err = { 0 };
	struct tip_store *st;
	int64_t id;
	tip_time_t now = T0 + 3600 * TIP_SEC;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "sqlite://%s/tip.db", dir);
	snprintf(conf, sizeof(conf),
		 "[module a]\ninterval = 10s\n[module b]\ninterval = 10s\n[module c]\ninterval = 10s\nbackoff = 1s\n");
	load(&cfg, conf);
	assert_int_equal(tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err), 0);
	assert_int_equal(tip_store_migrate(st, 0, NULL, NULL, &err), 0);
	/* a: ok 4s ago → next in 6s */
	tip_store_run_start(st, "a", 100, now - 4 * TIP_SEC, &id, &err);
	tip_store_run_end(st, id, now - 3 * TIP_SEC, TIP_RUN_OK, 0, 0, 1, NULL, &err);
	/* b: started 2s ago by a master that died: interrupted, and next in 8s */
	tip_store_run_start(st, "b", 101, now - 2 * TIP_SEC, &id, &err);
	/* c: three failures in a row, the last ending 1s ago → retry at end + 4s */
	for (int i = 3; i >= 1; i--) {
		tip_store_run_start(st, "c", 102, now - i * 2 * TIP_SEC, &id, &err);
		tip_store_run_end(st, id, now - i * TIP_SEC, TIP_RUN_CRASHED, -1, 11, 0, "x", &err);
	}
	assert_int_equal(tip_sched_plan_init(&p, &cfg, mods, now, &err), 0);
	assert_int_equal(tip_sched_plan_restore(&p, st, now, TIP_RESTORE_MASTER, &err), 0);
	assert_int_equal(entry(&p, "a")->next, now + 6 * TIP_SEC);
	assert_int_equal(entry(&p, "b")->next, now + 8 * TIP_SEC);
	assert_string_equal(entry(&p, "b")->last_status, TIP_RUN_INTERRUPTED);
	assert_int_equal(entry(&p, "c")->failures, 3);
	assert_int_equal(entry(&p, "c")->next, now - 1 * TIP_SEC + 4 * TIP_SEC);
	no_module_lost(&p);
	tip_sched_plan_free(&p);
	{
		/* the store now says interrupted */
		struct tip_sched_plan p2;
		assert_int_equal(tip_sched_plan_init(&p2, &cfg, mods, now + 20 * TIP_SEC, &err), 0);
		assert_int_equal(tip_sched_plan_restore(&p2, st, now + 20 * TIP_SEC, TIP_RESTORE_VIEW, &err), 0);
		/* 20s later every slot passed: all due at once, not several times */
		for (int i = 0; i < 3; i++)
			assert_int_equal(p2.e[i].next <= now + 20 * TIP_SEC, 1);
		assert_string_equal(entry(&p2, "b")->last_status, TIP_RUN_INTERRUPTED);
		tip_sched_plan_free(&p2);
	}
	{
		/* `tip status` beside a live master: a running row whose process runs it (this
		 * test's own pid, the run started when this process did) is running, and the last
		 * result is the newest finished run's; one whose process has ended (a child reaped
		 * here: a run killed with SIGKILL) is not running, its run interrupted; and so is one
		 * whose pid exists but started long after the run (this pid again, the run started
		 * in 2023: a pid taken again by another process) */
		struct tip_sched_plan p3;
		pid_t gone = fork();
		if (gone == 0)
			_exit(0);
		assert_true(gone > 0);
		assert_int_equal(waitpid(gone, NULL, 0), gone);
		tip_store_run_start(st, "a", getpid(), proc_t0, &id, &err);
		tip_store_run_start(st, "b", gone, now + 21 * TIP_SEC, &id, &err);
		tip_store_run_start(st, "c", getpid(), now + 21 * TIP_SEC, &id, &err);
		assert_int_equal(tip_sched_plan_init(&p3, &cfg, mods, now + 22 * TIP_SEC, &err), 0);
		assert_int_equal(tip_sched_plan_restore(&p3, st, now + 22 * TIP_SEC, TIP_RESTORE_VIEW_LIVE, &err), 0);
		assert_true(entry(&p3, "a")->running);
		assert_int_equal(entry(&p3, "a")->last_start, proc_t0);
		assert_string_equal(entry(&p3, "a")->last_status, TIP_RUN_OK);
		assert_false(entry(&p3, "b")->running);
		assert_string_equal(entry(&p3, "b")->last_status, TIP_RUN_INTERRUPTED);
		assert_false(entry(&p3, "c")->running);
		assert_string_equal(entry(&p3, "c")->last_status, TIP_RUN_INTERRUPTED);
		assert_int_equal(p3.n_running, 1);
		tip_sched_plan_free(&p3);
	}
	tip_store_close(st);
	tip_config_free(&cfg);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	proc_t0 = tip_now();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_drift),
		cmocka_unit_test(test_overrun_skips),
		cmocka_unit_test(test_backoff_cap),
		cmocka_unit_test(test_service_restart_backoff),
		cmocka_unit_test(test_after_dependency),
		cmocka_unit_test(test_max_children),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_reload_interval),
		cmocka_unit_test(test_clock_step),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_never_lost),
		cmocka_unit_test(test_restore),
	};
	tip_log_init("test", false, TIP_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
