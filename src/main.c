/* main.c — tip: the Tracking Intelligence Project. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return tip_cli_main(argc, argv);
}
