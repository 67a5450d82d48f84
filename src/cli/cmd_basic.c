/* cmd_basic.c — tip init, tip version, tip config. */
#include <ares.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <getopt.h>
#include <idn2.h>
#include <libpsl.h>
#include <sqlite3.h>
#include <string.h>

#include "cli_int.h"
#include "sched/sched.h"
#include "module/module.h"

static const struct option json_opts[] = { { "json", no_argument, NULL, 'j' },
					   { NULL, 0, NULL, 0 } };

/* Parses a command that takes only --json; returns -1 when ok, else an exit code. */
static int only_json(const char *cmd, int argc, char **argv, bool *json)
{
	int ch;
	*json = false;
	while ((ch = getopt_long(argc, argv, "", json_opts, NULL)) != -1) {
		if (ch == 'j')
			*json = true;
		else
			return cli_usage(cmd, "bad option");
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	return -1;
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	struct tip_error err = { 0 };
	struct tip_store *st = NULL;
	bool json;
	int rc, from = 0, to = 0;

	if ((rc = only_json("init", argc, argv, &json)) >= 0)
		return rc;
	if ((rc = cli_config(c)) != 0)
		return rc;
	if (tip_store_open(c->cfg.store.url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, &from, &to, &err) < 0) {
		cli_err("init", "%s", err.msg);
		tip_store_close(st);
		return EXIT_RUNTIME;
	}
	tip_store_close(st);
	if (json) {
		json_t *j = json_pack("{s:s, s:i, s:i, s:b}", "store", c->cfg.store.url, "schema_from",
				      from, "schema_version", to, "migrated", from != to);
		return cli_json_print(j);
	}
	if (from == to)
		printf("store %s is at schema version %d: nothing to do\n", c->cfg.store.url, to);
	else if (from == 0)
		printf("store %s created at schema version %d\n", c->cfg.store.url, to);
	else
		printf("store %s migrated from schema version %d to %d\n", c->cfg.store.url, from, to);
	return EXIT_OK;
}

int cmd_version(struct cli *c, int argc, char **argv)
{
	bool json;
	int rc;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	(void)c;

	if ((rc = only_json("version", argc, argv, &json)) >= 0)
		return rc;
	if (json) {
		json_t *j = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}}", "version",
				      TIP_VERSION, "libraries", "sqlite", sqlite3_libversion(),
				      "curl", cv->version, "c-ares", ares_version(NULL), "libevent",
				      event_get_version(), "jansson", JANSSON_VERSION, "libidn2",
				      idn2_check_version(NULL), "libpsl", psl_get_version(),
				      "schema_version", tip_store_schema_latest());
		return cli_json_print(j);
	}
	printf("tip %s\n", TIP_VERSION);
	printf("store schema %d; sqlite %s, curl %s, c-ares %s, libevent %s, jansson %s, libidn2 %s, "
	       "libpsl %s\n",
	       tip_store_schema_latest(), sqlite3_libversion(), cv->version, ares_version(NULL),
	       event_get_version(), JANSSON_VERSION, idn2_check_version(NULL), psl_get_version());
	return EXIT_OK;
}

int cmd_config(struct cli *c, int argc, char **argv)
{
	int rc;
	if (argc != 2)
		return cli_usage("config", "expected 'show' or 'check'");
	if (strcmp(argv[1], "show") && strcmp(argv[1], "check"))
		return cli_usage("config", "unknown subcommand '%s'", argv[1]);
	if ((rc = cli_config(c)) != 0)
		return rc;
	if (!strcmp(argv[1], "show")) {
		tip_config_dump(&c->cfg, stdout);
		return EXIT_OK;
	}
	/* named sections are checked by their owners: [module NAME] by the scheduler (names and
	 * keys), [feed NAME] and the rest by each module's check_config — what `tip run` checks */
	{
		struct tip_error err = { 0 };
		if (tip_sched_check_config(&c->cfg, c->modules, &err) < 0) {
			fprintf(stderr, "tip: %s\n", err.msg);
			return EXIT_RUNTIME;
		}
	}
	printf("%s: ok\n", c->config_path ? c->config_path : "(defaults)");
	return EXIT_OK;
}
