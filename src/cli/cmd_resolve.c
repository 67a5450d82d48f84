/* cmd_resolve.c — tip resolve [DOMAIN…]: resolve now (during an incident), recorded like a
 * flux-resolve pass. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "flux/flux.h"
#include "module/module.h"

static int last_run(void *arg, const struct tip_run *r)
{
	*(int64_t *)arg = r->items;
	return 0;
}

/* One flux-resolve pass in a child process, through the daemon's runner (recorded as a run,
 * [module flux-resolve] timeout and the [daemon] rlimits apply); *items gets the number of
 * domains resolved, read back from the run's row. */
static int resolve_pass(struct cli *c, char **args, int n_args, int64_t *items,
			struct tip_error *err)
{
	int rc;
	if ((rc = tip_flux_resolve_module.check_config(&c->cfg, err)) < 0)
		return rc;
	if ((rc = cli_run_module(c, tip_flux_resolve_module.name, args, n_args, err)) < 0)
		return rc;
	return tip_store_runs(c->st, tip_flux_resolve_module.name, 1, last_run, items, err);
}

int cmd_resolve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "due", no_argument, NULL, 'd' },
					      { "no-store", no_argument, NULL, 'n' },
					      { 0 } };
	struct tip_error err = { 0 };
	struct tip_strv domains = { 0 };
	bool json = false, due = false, nostore = false;
	int64_t items = 0;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'd')
			due = true;
		else if (ch == 'n')
			nostore = true;
		else
			return cli_usage("resolve", "unknown option");
	}
	if (due && optind < argc)
		return cli_usage("resolve", "--due takes no domains");
	if (due && nostore)
		return cli_usage("resolve", "--no-store resolves the given or all watched domains, not --due");
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
		static char all[] = TIP_FLUX_RESOLVE_ALL, nostore_arg[] = TIP_FLUX_RESOLVE_NOSTORE;
		struct tip_strv args = { 0 };
		/* --due: what a scheduled pass does (no args) */
		if (nostore)
			tip_strv_push(&args, nostore_arg);
		if (domains.n)
			for (size_t i = 0; i < domains.n; i++)
				tip_strv_push(&args, domains.v[i]);
		else if (!due)
			tip_strv_push(&args, all);
		rc = resolve_pass(c, args.n ? args.v : NULL, (int)args.n, &items, &err);
		tip_strv_free(&args);
	}
	tip_strv_free(&domains);
	if (rc < 0) {
		cli_err("resolve", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (json)
		return cli_json_print(json_pack("{s:I}", "domains", (json_int_t)items));
	printf("resolved %lld domains%s\n", (long long)items, nostore ? " (nothing stored)" : "");
	return EXIT_OK;
}
