/* cli.h — the public face of src/cli: the `tip` command line. */
#ifndef TIP_CLI_H
#define TIP_CLI_H

/* Runs `tip` with argv; returns the process exit code: 0 ok, 1 runtime error, 2 usage error. */
int tip_cli_main(int argc, char **argv);

#endif
