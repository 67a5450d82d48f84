/* cli_int.h — inside src/cli: what the command files share. */
#ifndef TIP_CLI_INT_H
#define TIP_CLI_INT_H

#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "core/core.h"
#include "module/module.h"
#include "store/store.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct cli {
	const char *prog;
	char *config_path;  /* the file read, NULL: defaults */
	struct tip_config cfg;
	bool cfg_loaded;
	struct tip_store *st;
	int verbosity;      /* -v: 1, -q: -1 */
	const struct tip_module *const *modules; /* tip_modules, or a test daemon's table */
};

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text, printed by `tip CMD --help` */
};

/* The table of commands (cli.c); each command file defines its run function. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_version(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_lookup(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_flux(struct cli *c, int argc, char **argv);
int cmd_resolve(struct cli *c, int argc, char **argv);
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_feed(struct cli *c, int argc, char **argv);

/* Loads the config once (-c, $TIP_CONFIG, ./tip.conf, /etc/tip/tip.conf). 0 or EXIT_RUNTIME. */
int cli_config(struct cli *c);
/* Opens the store named by the config; read-only for read commands. 0 or EXIT_RUNTIME. */
int cli_store(struct cli *c, bool readonly);

/* One pass of the named module in a child, through the scheduler's child runner (the same
 * path as `tip run --once` and the daemon), recorded in the store. Returns 0 when the pass
 * ended ok; the pass's own failure as a negative TIP_E* with its error text in err. */
int cli_run_module(struct cli *c, const char *name, char **args, int n_args,
		   struct tip_error *err);

/* Prints "tip CMD: message" to stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: prints the message and the command's usage line; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Is argv[i] --help or -h? */
bool cli_wants_help(int argc, char **argv);
int cli_help(const char *cmd);

/* JSON: times as RFC 3339 strings, 0 as null; prints and frees. */
json_t *cli_json_time(tip_time_t t);
/* A string from the store, which may quote hostile input: NULL becomes null, and a string that
 * is not valid UTF-8 is shown with '?' for its non-ASCII bytes rather than dropped. */
json_t *cli_json_str(const char *s);
int cli_json_print(json_t *j);

#endif
