/* cmd_resolve.c — tip resolve [DOMAIN…]: resolve now (during an incident), recorded like a
 * flux-resolve pass. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "flux/flux.h"
#include "module/module.h"

/* Runs one pass of module m in this process, recorded in the store's run table like a pass the
 * daemon runs. Stand-in for the daemon's child runner (src/sched): at merge, replace the body
 * with a call to it. Returns 0 or a negative TIP_E*, with err set. */
static int cli_run_module_in_process(struct cli *c, const struct tip_module *m, char **args,
				     int n_args, int64_t *items, struct tip_error *err)
{
	static volatile sig_atomic_t cancel;
	struct tip_module_ctx ctx = {
		.cfg = &c->cfg,
		.store = c->st,
		.started = tip_now(),
		.cancel = &cancel,
		.args = args,
		.n_args = n_args,
	};
	int rc;

	if (m->check_config && (rc = m->check_config(&c->cfg, err)) < 0)
		return rc;
	if ((rc = tip_store_run_start(c->st, m->name, (int64_t)getpid(), ctx.started, &ctx.run_id,
				      err)) < 0)
		return rc;
	rc = m->run(&ctx);
	*items = ctx.items;
	if (rc < 0)
		*err = ctx.err;
	if (tip_store_run_end(c->st, ctx.run_id, tip_now(), rc < 0 ? "failed" : "ok", rc < 0 ? 1 : 0,
			      0, ctx.items, rc < 0 ? ctx.err.msg : NULL,
			      rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = TIP_ESTORE;
	return rc;
}

int cmd_resolve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "due", no_argument, NULL, 'd' },
					      { 0 } };
	struct tip_error err = { 0 };
	struct tip_strv domains = { 0 };
	bool json = false, due = false;
	int64_t items = 0;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'd')
			due = true;
		else
			return cli_usage("resolve", "unknown option");
	}
	if (due && optind < argc)
		return cli_usage("resolve", "--due takes no domains");
	for (int i = optind; i < argc; i++) {
		struct tip_indicator ind;
		if (tip_indicator_parse(argv[i], strlen(argv[i]), TIP_IND_DOMAIN, &ind, &err) < 0) {
			cli_err("resolve", "%s", err.msg);
			tip_strv_free(&domains);
			return EXIT_RUNTIME;
		}
		tip_strv_push(&domains, ind.value);
	}
	if ((rc = cli_store(c, false)) != 0) {
		tip_strv_free(&domains);
		return rc;
	}
	{
		static char all[] = TIP_FLUX_RESOLVE_ALL;
		char *all_args[] = { all };
		/* --due: what a scheduled pass does (no args) */
		rc = cli_run_module_in_process(c, &tip_flux_resolve_module,
					       due ? NULL : domains.n ? domains.v : all_args,
					       due ? 0 : domains.n ? (int)domains.n : 1, &items, &err);
	}
	tip_strv_free(&domains);
	if (rc < 0) {
		cli_err("resolve", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (json)
		return cli_json_print(json_pack("{s:I}", "domains", (json_int_t)items));
	printf("resolved %lld domains\n", (long long)items);
	return EXIT_OK;
}
