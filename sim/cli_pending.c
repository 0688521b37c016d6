/* cli_pending.c - the subcommands this version does not have yet: each says so plainly
 * and exits with status 2, so scripts never mistake them for a result.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_cli.h"

#include <string.h>

static int pending(const char *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage: xbarsim %s ...\nNot available in this version of xbarsim yet.\n",
			       cmd);
			return 0;
		}
	fprintf(stderr, "xbarsim %s: not available in this version of xbarsim yet\n", cmd);
	return 2;
}

int xb_cli_train(int argc, char **argv) { return pending("train", argc, argv); }
