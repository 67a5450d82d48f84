/* cmd_feed.c — tip feed add|list|rm|fetch. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "feeds/feeds.h"
#include "module/module.h"

/* ---------------------------------------------------------------------------------------- */

static bool good_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static json_t *row_json(const struct tip_feed_row *f)
{
	return json_pack("{s:s, s:o, s:s, s:I, s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, "
			 "s:I, s:o, s:o}",
			 "name", f->name, "url", cli_json_str(f->url ? f->url : ""), "format",
			 f->format ? f->format : "", "interval", (json_int_t)f->interval_s,
			 "enabled", f->enabled, "origin", f->origin ? f->origin : "cli", "removed",
			 cli_json_time(f->removed), "last_fetch", cli_json_time(f->last_fetch),
			 "last_success", cli_json_time(f->last_success), "last_status",
			 f->last_status ? json_integer(f->last_status) : json_null(), "last_error",
			 cli_json_str(f->last_error), "total", (json_int_t)f->n_total, "new",
			 (json_int_t)f->n_new, "removed_entries", (json_int_t)f->n_removed,
			 "rejected", (json_int_t)f->n_rejected, "rejected_sample",
			 cli_json_str(f->rejected_sample), "etag", cli_json_str(f->etag));
}

static int list_row(void *arg, const struct tip_feed_row *f)
{
	json_array_append_new(arg, row_json(f));
	return 0;
}

static int feed_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "all", no_argument, NULL, 'a' },
					      { NULL, 0, NULL, 0 } };
	struct tip_error err = { 0 };
	bool json = false, all = false;
	json_t *arr;
	size_t i;
	json_t *f;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'a')
			all = true;
		else
			return cli_usage("feed", "bad option");
	}
	if (optind != argc)
		return cli_usage("feed", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_store(c, true)) != 0)
		return rc;
	arr = json_array();
	if (tip_store_feed_list(c->st, all, list_row, arr, &err) < 0) {
		json_decref(arr);
		cli_err("feed", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	/* config feeds that never ran have no row yet: list them from the config */
	for (size_t s = 0; s < c->cfg.n_sections; s++) {
		const struct tip_config_section *sec = &c->cfg.sections[s];
		struct tip_feed_def def;
		bool known = false;
		if (strcmp(sec->kind, "feed"))
			continue;
		json_array_foreach(arr, i, f)
			known |= !strcmp(json_string_value(json_object_get(f, "name")), sec->name);
		if (known)
			continue;
		if (tip_feed_def_from_section(&c->cfg, sec, &def, &err) < 0) {
			json_decref(arr);
			cli_err("feed", "%s", err.msg);
			return EXIT_RUNTIME;
		}
		{
			struct tip_feed_row r = { .name = def.name, .url = def.url,
						  .format = tip_feed_format_name(def.format),
						  .origin = "config", .interval_s = def.interval_s,
						  .enabled = def.enabled };
			json_array_append_new(arr, row_json(&r));
		}
		tip_feed_def_free(&def);
	}
	if (json)
		return cli_json_print(arr);
	if (json_array_size(arr) == 0)
		printf("no feeds (add one with `tip feed add` or a [feed NAME] section)\n");
	else
		printf("%-22s %-6s %-3s %-20s %-6s %9s %7s %7s %8s  %s\n", "NAME", "FORMAT", "ON",
		       "LAST FETCH", "STATUS", "TOTAL", "NEW", "REMOVED", "REJECTED", "ERROR");
	json_array_foreach(arr, i, f) {
		json_t *lf = json_object_get(f, "last_fetch"), *ls = json_object_get(f, "last_status");
		json_t *le = json_object_get(f, "last_error");
		char status[16] = "-";
		if (json_is_integer(ls))
			snprintf(status, sizeof(status), "%lld", (long long)json_integer_value(ls));
		else if (json_is_string(lf))
			snprintf(status, sizeof(status), "%s", json_is_string(le) ? "error" : "ok");
		printf("%-22s %-6s %-3s %-20s %-6s %9lld %7lld %7lld %8lld  %s\n",
		       json_string_value(json_object_get(f, "name")),
		       json_string_value(json_object_get(f, "format")),
		       json_is_true(json_object_get(f, "enabled")) ? "yes" : "no",
		       json_is_string(lf) ? json_string_value(lf) : "never", status,
		       (long long)json_integer_value(json_object_get(f, "total")),
		       (long long)json_integer_value(json_object_get(f, "new")),
		       (long long)json_integer_value(json_object_get(f, "removed_entries")),
		       (long long)json_integer_value(json_object_get(f, "rejected")),
		       json_is_string(le) ? json_string_value(le) : "");
	}
	json_decref(arr);
	return EXIT_OK;
}

static int exists_cb(void *arg, const struct tip_feed_row *f)
{
	*(int *)arg = f->removed ? 2 : 1;
	return 0;
}

static int feed_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "interval", required_argument, NULL, 'i' },
		{ "set", required_argument, NULL, 's' },    { "disabled", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct tip_error err = { 0 };
	const char *format = NULL, *name, *url;
	char *options = NULL;
	size_t olen = 0;
	tip_time_t interval = 3600 * TIP_SEC;
	bool enabled = true;
	int ch, rc, exists = 0;
	int64_t id;
	const struct tip_config_section *sec;

	while ((ch = getopt_long(argc, argv, "f:i:s:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			format = optarg;
			break;
		case 'i':
			if (tip_duration_parse(optarg, &interval) < 0 || interval < 60 * TIP_SEC) {
				free(options);
				return cli_usage("feed", "--interval '%s': a duration of 60s or more (e.g. 3600, 15m, 1h)",
						 optarg);
			}
			break;
		case 's':
			if (!strchr(optarg, '=') || strchr(optarg, '\n') || optarg[0] == '=') {
				free(options);
				return cli_usage("feed", "--set '%s': expected KEY=VALUE", optarg);
			}
			if (!strncmp(optarg, "url=", 4) || !strncmp(optarg, "format=", 7) ||
			    !strncmp(optarg, "interval=", 9) || !strncmp(optarg, "enabled=", 8)) {
				free(options);
				return cli_usage("feed", "--set '%s': give url, format, --interval and "
						 "--disabled as such", optarg);
			}
			if (!strncmp(optarg, "ca_file=", 8) && optarg[8] && optarg[8] != '/') {
				/* stored absolute: relative to where `tip feed add` ran */
				char cwd[4096];
				if (!getcwd(cwd, sizeof(cwd))) {
					free(options);
					cli_err("feed", "--set %s: cannot read the current folder: %s",
						optarg, strerror(errno));
					return EXIT_RUNTIME;
				}
				options = tip_xrealloc(options, olen + strlen(cwd) + strlen(optarg) + 3);
				olen += (size_t)sprintf(options + olen, "ca_file=%s/%s\n", cwd, optarg + 8);
				break;
			}
			options = tip_xrealloc(options, olen + strlen(optarg) + 2);
			olen += (size_t)sprintf(options + olen, "%s\n", optarg);
			break;
		case 'd':
			enabled = false;
			break;
		default:
			free(options);
			return cli_usage("feed", "bad option");
		}
	}
	if (optind + 2 != argc || !format) {
		free(options);
		return cli_usage("feed", "feed add needs NAME, URL and --format");
	}
	name = argv[optind];
	url = argv[optind + 1];
	if (!good_name(name)) {
		free(options);
		return cli_usage("feed", "feed name '%s' may hold only letters, digits, '-', '_', '.' (64 at most)",
				 name);
	}
	if ((rc = cli_config(c)) != 0) {
		free(options);
		return rc;
	}
	if (tip_feed_options_check(name, url, format, options, &err) < 0) {
		free(options);
		cli_err("feed", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if ((sec = tip_config_section(&c->cfg, "feed", name))) {
		free(options);
		cli_err("feed", "feed %s is defined in %s (line %d): change it there", name,
			c->config_path ? c->config_path : "the config", sec->line);
		return EXIT_RUNTIME;
	}
	if ((rc = cli_store(c, false)) != 0) {
		free(options);
		return rc;
	}
	rc = tip_store_feed_get(c->st, name, exists_cb, &exists, &err);
	if (rc == 0 && exists == 1) {
		free(options);
		cli_err("feed", "feed %s exists: `tip feed rm %s` first to replace it", name, name);
		return EXIT_RUNTIME;
	}
	if ((rc < 0 && rc != TIP_ENOTFOUND) ||
	    tip_store_feed_put(c->st, name, url, format, interval / TIP_SEC, options, "cli", enabled,
			       tip_now(), &id, &err) < 0) {
		free(options);
		cli_err("feed", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	free(options);
	printf("feed %s %s: %s (%s, every %llds%s)\n", name, exists == 2 ? "re-added" : "added", url,
	       format, (long long)(interval / TIP_SEC), enabled ? "" : ", disabled");
	return EXIT_OK;
}

static int id_cb(void *arg, const struct tip_feed_row *f)
{
	*(int64_t *)arg = f->id;
	return 0;
}

static int feed_rm(struct cli *c, int argc, char **argv)
{
	struct tip_error err = { 0 };
	const struct tip_config_section *sec;
	int64_t id = 0, swept = 0;
	bool removed = false;
	tip_time_t now = tip_now();
	int rc;

	if (argc != 2)
		return cli_usage("feed", "feed rm needs one NAME");
	if ((rc = cli_config(c)) != 0)
		return rc;
	if ((sec = tip_config_section(&c->cfg, "feed", argv[1]))) {
		cli_err("feed", "feed %s is defined in %s (line %d): remove it there", argv[1],
			c->config_path ? c->config_path : "the config", sec->line);
		return EXIT_RUNTIME;
	}
	if ((rc = cli_store(c, false)) != 0)
		return rc;
	/* one transaction: the feed goes, and what it listed is marked removed (history kept) */
	if (tip_store_begin(c->st, &err) < 0 ||
	    tip_store_feed_get(c->st, argv[1], id_cb, &id, &err) < 0 ||
	    tip_store_feed_rm(c->st, argv[1], now, &removed, &err) < 0 ||
	    (removed && tip_store_sighting_sweep(c->st, id, -1, now, &swept, &err) < 0) ||
	    tip_store_commit(c->st, &err) < 0) {
		tip_store_rollback(c->st);
		cli_err("feed", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (!removed) {
		cli_err("feed", "feed %s was already removed", argv[1]);
		return EXIT_RUNTIME;
	}
	printf("feed %s removed; %lld of its entries marked removed (history kept)\n", argv[1],
	       (long long)swept);
	return EXIT_OK;
}

static int print_state(void *arg, const struct tip_feed_row *f)
{
	(void)arg;
	if (f->last_error)
		printf("%s: failed: %s\n", f->name, f->last_error);
	else if (f->last_status == 304)
		printf("%s: not modified (HTTP 304)\n", f->name);
	else
		printf("%s: %lld listed, %lld new, %lld removed, %lld lines rejected\n", f->name,
		       (long long)f->n_total, (long long)f->n_new, (long long)f->n_removed,
		       (long long)f->n_rejected);
	return 0;
}

static int enabled_names(void *arg, const struct tip_feed_row *f)
{
	struct tip_strv *sv = arg;
	if (f->enabled && (!f->origin || !strcmp(f->origin, "cli")))
		tip_strv_push(sv, f->name);
	return 0;
}

static int feed_fetch(struct cli *c, int argc, char **argv)
{
	struct tip_error err = { 0 };
	struct tip_strv names = { 0 };
	int rc;

	if ((rc = cli_config(c)) != 0)
		return rc;
	{
		const struct tip_module *m = tip_module_find(tip_modules, "feeds");
		if (m && m->check_config && m->check_config(&c->cfg, &err) < 0) {
			cli_err("feed", "%s", err.msg);
			return EXIT_RUNTIME;
		}
	}
	if ((rc = cli_store(c, false)) != 0)
		return rc;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			tip_strv_free(&names);
			return cli_usage("feed", "unknown option '%s'", argv[i]);
		}
		tip_strv_push(&names, argv[i]);
	}
	if (names.n == 0) { /* every enabled feed, now */
		for (size_t s = 0; s < c->cfg.n_sections; s++) {
			const struct tip_config_section *sec = &c->cfg.sections[s];
			const struct tip_kv *en = tip_config_kv(sec, "enabled");
			bool on = true;
			if (strcmp(sec->kind, "feed"))
				continue;
			if (en)
				tip_parse_bool(en->value, &on);
			if (on)
				tip_strv_push(&names, sec->name);
		}
		if (tip_store_feed_list(c->st, false, enabled_names, &names, &err) < 0) {
			tip_strv_free(&names);
			cli_err("feed", "%s", err.msg);
			return EXIT_RUNTIME;
		}
		if (names.n == 0) {
			printf("no enabled feeds\n");
			return EXIT_OK;
		}
	}
	rc = cli_run_module(c, "feeds", names.v, (int)names.n, &err);
	if (rc == TIP_ENOTFOUND || rc == TIP_ESTORE) {
		cli_err("feed", "%s", err.msg);
		tip_strv_free(&names);
		return EXIT_RUNTIME;
	}
	for (size_t i = 0; i < names.n; i++)
		tip_store_feed_get(c->st, names.v[i], print_state, NULL, NULL);
	if (rc < 0)
		cli_err("feed", "%s", err.msg);
	tip_strv_free(&names);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_feed(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("feed", "expected add, list, rm or fetch");
	if (!strcmp(argv[1], "add"))
		return feed_add(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return feed_list(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "rm"))
		return feed_rm(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "fetch"))
		return feed_fetch(c, argc - 1, argv + 1);
	return cli_usage("feed", "unknown subcommand '%s' (add, list, rm, fetch)", argv[1]);
}
