/* cli_info.c - `xbarsim info FILE.h5`: what an xbarsim HDF5 file holds.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_cli.h"
#include "xb_traces.h"

static const char info_help[] =
"Usage: xbarsim info FILE.h5...\n"
"Prints what each xbarsim HDF5 file holds: the root schema and version, the\n"
"attributes, and every group and dataset with its shape, type and unit.\n"
"A file that is missing, not HDF5 or truncated is reported as such (exit 1).\n";

int xb_cli_info(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "info", info_help, argc, argv), status = 0;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs < 1) {
		fprintf(stderr, "xbarsim info: expected a file name\nTry 'xbarsim info --help'.\n");
		xb_cli_opts_free(&o);
		return 2;
	}
	for (int i = 0; i < o.nargs; i++) {
		xb_err err = { 0 };

		if (o.nargs > 1)
			printf("%s==> %s <==\n", i ? "\n" : "", o.args[i]);
		if (xb_h5_describe(o.args[i], stdout, &err) != XB_OK) {
			fflush(stdout);
			xb_cli_fail("info", err.msg);
			status = 1;
		}
	}
	xb_cli_opts_free(&o);
	return status;
}
