/* cli.h — the public face of src/cli: the `tip` command line. */
#ifndef TIP_CLI_H
#define TIP_CLI_H

/* Runs `tip` with argv; returns the process exit code: 0 ok, 1 runtime error, 2 usage error. */
int tip_cli_main(int argc, char **argv);

struct tip_module;
/* The same with another module table (NULL-terminated) than the real one: what `tip run`,
 * `tip run --once` and `tip status` see. Test daemons (tests/integration/testd.c) use it. */
int tip_cli_main_modules(int argc, char **argv, const struct tip_module *const *modules);

#endif
