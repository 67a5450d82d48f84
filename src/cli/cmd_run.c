/* cmd_run.c — tip run: the daemon (src/sched's master), or one pass by hand (--once). */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "sched/sched.h"

int cmd_run(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "foreground", no_argument, NULL, 'f' },
					      { "once", required_argument, NULL, 'o' },
					      { NULL, 0, NULL, 0 } };
	struct tip_error err = { 0 };
	const char *once = NULL;
	bool fg = false;
	int ch, rc;

	/* '+': arguments after --once MODULE belong to the module */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (ch == 'f')
			fg = true;
		else if (ch == 'o')
			once = optarg;
		else
			return cli_usage("run", "bad option");
	}
	if (!once && optind != argc)
		return cli_usage("run", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_config(c)) != 0)
		return rc;

	if (once) {
		const struct tip_module *m = tip_module_find(c->modules, once);
		struct tip_sched_result res;
		if (!m) {
			char known[512] = "";
			for (const struct tip_module *const *p = c->modules; *p; p++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
					 p == c->modules ? "" : ", ", (*p)->name);
			return cli_usage("run", "unknown module '%s' (%s%s)", once,
					 *known ? "known: " : "none is built in yet", known);
		}
		if (tip_sched_run_once(&c->cfg, m, argv + optind, argc - optind, &res, &err) < 0) {
			cli_err("run", "%s", err.msg);
			return EXIT_RUNTIME;
		}
		if (!strcmp(res.status, TIP_RUN_OK)) {
			printf("%s: ok, %lld items in %lldms (run %lld)\n", m->name, (long long)res.items,
			       (long long)((res.ended - res.started) / TIP_MSEC), (long long)res.run_id);
			return EXIT_OK;
		}
		cli_err("run", "%s: %s: %s (run %lld)", m->name, res.status, res.error,
			(long long)res.run_id);
		return EXIT_RUNTIME;
	}

	{
		char path[PATH_MAX];
		struct tip_sched_opts o = { .modules = c->modules, .foreground = fg };
		/* -v / -q (cli_config put them in the config) outlive a SIGHUP's new config */
		if (c->verbosity)
			o.log_level = c->cfg.daemon.log_level;
		/* SIGHUP re-reads it after the daemon left the starting directory's context */
		o.config_path = c->config_path && realpath(c->config_path, path) ? path
											: c->config_path;
		if (tip_sched_master(&o, &c->cfg, &err) < 0) {
			cli_err("run", "%s", err.msg);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}
