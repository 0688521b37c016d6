/* cli_report.c - `xbarsim report FILE.h5 -o DIR`: figures, data files and a summary of a trace, sweep or walk.
 * The work is done by xb_timed_report (sim/timed_report.c) or, for a walk file, xb_walk_report.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_cli.h"
#include "xb_timed.h"
#include "xb_traces.h"
#include "xb_walk.h"

#include <stdlib.h>
#include <string.h>

static const char report_help[] =
	"Usage: xbarsim report FILE.h5 -o DIR\n"
	"Draw the figures of a trace (xbarsim run), a sweep (xbarsim sweep) or a walk\n"
	"(xbarsim walk) with gnuplot.\n"
	"\n"
	"A trace gives: energy by layer and component, a timeline (Gantt) of the components\n"
	"(timed runs), integrator trajectories of the traced MVMs (trace level event) and ADC\n"
	"code histograms with the saturated codes marked (trace level mvm).  A sweep gives one\n"
	"figure per metric against the swept keys.  A walk gives the accuracy against the\n"
	"noise level per site (log x, chance line) and a bar chart of the midpoints with\n"
	"their intervals.  DIR must not exist; it receives PNG\n"
	"figures, their .dat data and .gp scripts, and summary.md linking them.  Without\n"
	"gnuplot the data files and summary.md are still written.\n"
	"\n"
	"Options:\n"
	"  -o DIR      output directory (required, created)\n"
	"  -h, --help  this help\n";

int xb_cli_report(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "report", report_help, argc, argv), figures = -1;
	xb_err err = { 0 };

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs != 1 || !o.output) {
		fprintf(stderr, "xbarsim report: expected one file and -o DIR\n"
			"Try 'xbarsim report --help'.\n");
		xb_cli_opts_free(&o);
		return 2;
	}
	/* a walk file goes to the walk report, everything else to the trace/sweep one */
	int walk = 0;
	{
		xb_err e2 = { 0 };
		xb_h5r *h = xb_h5r_open(o.args[0], &e2);
		char *schema = NULL;
		if (h && xb_h5r_has_attr(h, "/", "schema") &&
		    xb_h5r_attr_str(h, "/", "schema", &schema) == XB_OK)
			walk = strcmp(schema, XB_WALK_SCHEMA) == 0;
		free(schema);
		xb_h5r_free(h);
	}
	if ((walk ? xb_walk_report(o.args[0], o.output, NULL, &figures, &err) :
	     xb_timed_report(o.args[0], o.output, NULL, &figures, &err)) != XB_OK) {
		rc = xb_cli_fail("report", err.msg);
		xb_cli_opts_free(&o);
		return rc;
	}
	if (figures < 0)
		fprintf(stderr, "xbarsim report: gnuplot is not available: wrote the data files "
			"and %s/summary.md without figures\n", o.output);
	else
		fprintf(stderr, "xbarsim report: %d figure(s) and %s/summary.md written\n", figures,
			o.output);
	xb_cli_opts_free(&o);
	return 0;
}
