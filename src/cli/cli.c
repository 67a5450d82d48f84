/*
 * cli.c — `tip`: global options, the command table, and what every command shares (config,
 * store, errors, JSON). Each command lives in a cmd_*.c file of its own.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "module/module.h"
#include "sched/sched.h"

static const struct cli_cmd commands[] = {
	{ "init", cmd_init, "create or migrate the store (idempotent)",
	  "usage: tip init [--json]\n"
	  "\n"
	  "Creates the store named by [store] url if it does not exist and brings its schema to\n"
	  "the newest version, one migration per transaction. Running it again changes nothing.\n" },
	{ "run", cmd_run, "the daemon, or one pass of a module (--once)",
	  "usage: tip run [--foreground]\n"
	  "       tip run --once MODULE [ARG...]\n"
	  "\n"
	  "Starts the master: it runs every enabled module on its schedule ([module NAME]\n"
	  "interval, timeout, enabled, jitter, backoff), each run in a child process of its own,\n"
	  "and records every run in the store. Without --foreground it daemonises; either way it\n"
	  "holds [daemon] pidfile and refuses to start while another master holds it. Log: [daemon]\n"
	  "log (stderr or syslog) and log_level.\n"
	  "Signals: SIGTERM or SIGINT stop it (children get [daemon] grace_ms, then SIGKILL);\n"
	  "SIGHUP re-reads the configuration and the schedule, keeping running children.\n"
	  "Children get [daemon] rlimit_as_mb, rlimit_nofile and rlimit_cpu_s; at most\n"
	  "[daemon] max_children passes run at once.\n"
	  "  --foreground   stay in the foreground (for systemd's Type=simple and for testing)\n"
	  "  --once MODULE  run one pass of MODULE through the same child path, wait for it, and\n"
	  "                 exit 0 if it ended ok, 1 if not (failed, crashed, timeout); ARGs go\n"
	  "                 to the module. Ctrl-C ends the pass gracefully.\n" },
	{ "status", cmd_status, "modules: last run, next run, last result",
	  "usage: tip status [--json]\n"
	  "\n"
	  "Whether a master runs (from [daemon] pidfile) and, for each module: kind (pass or\n"
	  "service), state (idle, running, waiting for the module it runs after, disabled), the\n"
	  "last run (start, result, items, error), and when the next run is due, computed from\n"
	  "the recorded runs by the same schedule logic the master uses. Results: ok, failed,\n"
	  "crashed, timeout, killed (stopped with the master), interrupted (the master died, or the\n"
	  "process that ran it is gone).\n"
	  "--json prints {master: {running, pid}, modules: [{name, kind, enabled, state,\n"
	  "interval_ms, timeout_ms, last_run, last_result, next_run, failures, after}]}.\n" },
	{ "watch", cmd_watch, "the fast-flux watch list: add, rm, list",
	  "usage: tip watch add DOMAIN... | --file PATH [--skip-invalid] [--source NAME]\n"
	  "       tip watch rm DOMAIN... | --file PATH [--skip-invalid]\n"
	  "       tip watch list [--all] [--json]\n"
	  "\n"
	  "Domains are normalised (case, trailing dot, IDN to A-labels) before they are stored.\n"
	  "A batch is one transaction: if any domain is invalid, nothing is changed and the\n"
	  "error names it (with file and line for --file); --skip-invalid instead skips bad\n"
	  "lines, reports each on stderr, and stores the rest. --file - reads standard input,\n"
	  "one domain a line; blank lines and lines starting with # are ignored.\n"
	  "Removing keeps the domain's history; adding it again re-activates it.\n"
	  "  --all     list removed entries too\n"
	  "  --source  who asked (default: cli)\n" },
	{ "feed", cmd_feed, "blocklist feeds: add, list, rm, fetch",
	  "usage: tip feed add NAME URL --format FMT [--interval SECONDS] [--set KEY=VALUE]... [--disabled]\n"
	  "       tip feed list [--all] [--json]\n"
	  "       tip feed rm NAME\n"
	  "       tip feed fetch [NAME...]\n"
	  "\n"
	  "Feeds are public blocklists TIP fetches (http://, https://, file://), parses and keeps\n"
	  "the history of: each entry's first seen, last seen and removal, per feed. They are\n"
	  "defined by [feed NAME] sections in the config (see etc/feeds.d/ and docs/feeds.md)\n"
	  "or added here; a config definition wins over an added one of the same name.\n"
	  "\n"
	  "add    stores a feed; FMT is plain, hosts, cidr, csv, json, jsonl or xml; --set takes any\n"
	  "       [feed] key (field=3, delimiter=tab, header=yes, watch=all, category=phishing…);\n"
	  "       ca_file=PATH trusts a private CA for https (a relative PATH is stored absolute)\n"
	  "list   per feed: last fetch, HTTP status, entries listed, new, removed, rejected\n"
	  "       lines and the last error; --all shows removed feeds too\n"
	  "rm     removes an added feed; what it listed is marked removed, history is kept\n"
	  "fetch  fetches the named feeds now (enabled or not), else every enabled feed; one\n"
	  "       feed run is one transaction, and a failed fetch or parse changes nothing but\n"
	  "       the feed's last error. Exit status 1 if any feed failed.\n" },
	{ "lookup", cmd_lookup, "everything TIP knows about a domain, IP, URL, CIDR, e-mail or AS",
	  "usage: tip lookup DOMAIN|IP|URL|CIDR|EMAIL|ASnnn [--json]\n"
	  "\n"
	  "Prints the normalised query, its type, every sighting (source, first seen, last seen,\n"
	  "removed), the resolutions (value, rrtype, first and last seen, ASN, AS name,\n"
	  "country) and the current flux verdict. For an IP also the listed networks that hold\n"
	  "it, its AS ([enrich] databases) and the listed AS holding it, and the domains seen on\n"
	  "it; for a domain also the URLs and addresses on it.\n" },
	{ "flux", cmd_flux, "fast-flux verdicts, verdict changes, network families",
	  "usage: tip flux [--all] [--json]\n"
	  "       tip flux families [--all] [--json]\n"
	  "       tip flux events [--all] [--json]\n"
	  "       tip flux history DOMAIN [--json]\n"
	  "       tip flux classify [--json]\n"
	  "\n"
	  "tip flux lists the current fastflux and suspicious verdicts (--all: every verdict) with\n"
	  "their features: the flux-score of Holz et al. (1.32 n_A + 18.54 n_ASN, fast-flux above\n"
	  "142.38), unique A records, ASNs, NS records, countries, fluxiness (unique over all A\n"
	  "records returned), the smallest TTL, rounds, double flux, the network family, since\n"
	  "when, and why (the numbers that made the verdict); then the latest verdict changes.\n"
	  "families   network families: flux domains sharing agents (A records), with their\n"
	  "           domains, agents and size over time (--all: also families no longer seen)\n"
	  "events     verdict changes, newest first (a domain starting or stopping to flux)\n"
	  "history    one domain's verdicts over time, oldest first\n"
	  "classify   run a flux-classify pass now, over [flux] window\n" },
	{ "resolve", cmd_resolve, "resolve now: the given domains, else every watched one",
	  "usage: tip resolve [DOMAIN...] [--no-store] [--json]\n"
	  "       tip resolve --due [--json]\n"
	  "\n"
	  "Resolves the given domains (watched or not), or every actively watched domain, due or\n"
	  "not, for the record types of [dns] rrtypes against [dns] servers, now. Recorded like a\n"
	  "flux-resolve pass: a run, a round per domain and type, passive DNS, enrichment of new\n"
	  "addresses, and each watched domain's next due time.\n"
	  "  --due       only the due watched domains (last answer's TTL expired and [dns]\n"
	  "              min_interval passed), as a scheduled flux-resolve pass does\n"
	  "  --no-store  resolve and count, write nothing but the run's record: the DNS path\n"
	  "              alone, to measure it (bench/flux-resolve.sh)\n" },
	{ "config", cmd_config, "show or check the configuration",
	  "usage: tip config show | check\n"
	  "\n"
	  "show   prints every key with its value, default and meaning (etc/tip.conf's shape)\n"
	  "check  reads the configuration and reports the first error (file, line, key)\n" },
	{ "version", cmd_version, "version of tip and of the libraries it uses",
	  "usage: tip version [--json]\n" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_main(FILE *f)
{
	fprintf(f, "usage: tip [-c FILE] [-v|-q] COMMAND [ARGS...]\n"
		   "\n"
		   "TIP, the Tracking Intelligence Project: threat intelligence collected on its own.\n"
		   "\n"
		   "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n"
		   "options:\n"
		   "  -c, --config FILE  configuration (else $TIP_CONFIG, ./tip.conf, /etc/tip/tip.conf)\n"
		   "  -v, --verbose      more log output (debug), also from the module runs started\n"
		   "  -q, --quiet        warnings and errors only, also from the module runs started\n"
		   "  -h, --help         this help; `tip COMMAND --help` for a command's\n"
		   "  -V, --version      the version\n"
		   "\n"
		   "Every read command takes --json. Exit status: 0 ok, 1 runtime error, 2 usage error.\n"
		   "See tip(1).\n");
}

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int cli_help(const char *cmd)
{
	const struct cli_cmd *c = find_cmd(cmd);
	if (!c) {
		usage_main(stdout);
		return EXIT_OK;
	}
	fputs(c->usage, stdout);
	return EXIT_OK;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "tip %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	const struct cli_cmd *c = find_cmd(cmd);
	va_list ap;
	fprintf(stderr, "tip %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c) {
		const char *nl = strstr(c->usage, "\n\n");
		fprintf(stderr, "%.*s", nl ? (int)(nl - c->usage) + 1 : (int)strlen(c->usage),
			c->usage);
	}
	return EXIT_USAGE;
}

int cli_config(struct cli *c)
{
	struct tip_error err = { 0 };
	enum tip_log_level lvl;

	if (c->cfg_loaded)
		return 0;
	{
		char *found = tip_config_find(c->config_path);
		free(c->config_path);
		c->config_path = found;
	}
	if (tip_config_load(&c->cfg, c->config_path, &err) < 0) {
		fprintf(stderr, "tip: %s\n", err.msg);
		tip_config_free(&c->cfg);
		return EXIT_RUNTIME;
	}
	c->cfg_loaded = true;
	if (tip_log_level_parse(c->cfg.daemon.log_level, &lvl) < 0) {
		fprintf(stderr, "tip: %s: [daemon] log_level: '%s' is not err, warn, info or debug\n",
			c->config_path ? c->config_path : "(defaults)", c->cfg.daemon.log_level);
		return EXIT_RUNTIME;
	}
	if (c->verbosity > 0)
		lvl = TIP_LOG_DEBUG;
	else if (c->verbosity < 0)
		lvl = TIP_LOG_WARN;
	tip_log_init("cli", false, lvl);
	/* the children this command starts (tip feed fetch, tip resolve, tip run --once, and the
	 * master's) take their level from the config: -v and -q reach them through it */
	if (c->verbosity) {
		free(c->cfg.daemon.log_level);
		c->cfg.daemon.log_level = tip_xstrdup(c->verbosity > 0 ? "debug" : "warn");
	}
	return 0;
}

int cli_store(struct cli *c, bool readonly)
{
	struct tip_error err = { 0 };
	int rc;

	if (c->st)
		return 0;
	if ((rc = cli_config(c)) != 0)
		return rc;
	if (tip_store_open(c->cfg.store.url, readonly ? TIP_STORE_READONLY : 0, &c->st, &err) < 0) {
		fprintf(stderr, "tip: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	return 0;
}

int cli_run_module(struct cli *c, const char *name, char **args, int n_args,
		   struct tip_error *err)
{
	const struct tip_module *m = tip_module_find(c->modules, name);
	struct tip_sched_result res;
	int rc;

	if (!m)
		return tip_error_set(err, TIP_ENOTFOUND, "the %s module is not built in", name);
	if ((rc = tip_sched_run_once(&c->cfg, m, args, n_args, &res, err)) < 0)
		return rc;
	if (strcmp(res.status, TIP_RUN_OK) != 0)
		return tip_error_set(err, TIP_EIO, "%s pass %s%s%s (run %lld)", name, res.status,
				     res.error[0] ? ": " : "", res.error, (long long)res.run_id);
	return 0;
}

json_t *cli_json_time(tip_time_t t)
{
	char buf[TIP_TIME_BUFLEN];
	return t ? json_string(tip_time_format(t, buf, sizeof(buf))) : json_null();
}

json_t *cli_json_str(const char *s)
{
	json_t *j;
	char *c;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	c = tip_xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

int cli_json_print(json_t *j)
{
	int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(j);
	fputc('\n', stdout);
	if (rc < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "tip: cannot write output\n");
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int tip_cli_main(int argc, char **argv)
{
	return tip_cli_main_modules(argc, argv, tip_modules);
}

int tip_cli_main_modules(int argc, char **argv, const struct tip_module *const *modules)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },        { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { NULL, 0, NULL, 0 },
	};
	struct cli c = { .prog = argv[0], .modules = modules };
	const struct cli_cmd *cmd;
	int ch, rc;

	tip_log_init("cli", false, TIP_LOG_INFO);
	/* '+': stop at the command; its own options are its business */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.config_path = optarg;
			break;
		case 'v':
			c.verbosity = 1;
			break;
		case 'q':
			c.verbosity = -1;
			break;
		case 'h':
			usage_main(stdout);
			return EXIT_OK;
		case 'V':
			printf("tip %s\n", TIP_VERSION);
			return EXIT_OK;
		default:
			fprintf(stderr, "tip: unknown option '%s'\n", argv[optind - 1]);
			usage_main(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help"))
		return cli_help(optind + 1 < argc ? argv[optind + 1] : "");
	if (!(cmd = find_cmd(argv[optind]))) {
		fprintf(stderr, "tip: unknown command '%s'\n", argv[optind]);
		usage_main(stderr);
		return EXIT_USAGE;
	}
	/* `-c FILE` is ours: config_path must survive cli_config's replacement */
	if (c.config_path)
		c.config_path = tip_xstrdup(c.config_path);
	argc -= optind;
	argv += optind;
	if (cli_wants_help(argc, argv))
		rc = cli_help(cmd->name);
	else {
		optind = 0; /* reset getopt for the command (GNU: 0 re-initialises) */
		opterr = 1;
		rc = cmd->run(&c, argc, argv);
	}
	if (c.st)
		tip_store_close(c.st);
	if (c.cfg_loaded)
		tip_config_free(&c.cfg);
	free(c.config_path);
	return rc;
}
