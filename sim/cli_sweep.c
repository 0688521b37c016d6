/* cli_sweep.c - `xbarsim sweep`: design-space sweeps from a sweep file, serial or under mpirun/srun, resumable.
 * Rank 0 prints; every rank works.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_cli.h"
#include "xb_metrics.h"
#include "xb_sim.h"
#include "xb_sweep.h"
#include "xb_traces.h"

#include <stdlib.h>
#include <string.h>

static const char sweep_help[] =
"Usage: xbarsim sweep SWEEP.ini -o SWEEP.h5 [--resume] [OPTION]...\n"
"       xbarsim sweep SWEEP.ini --dry-run\n"
"       mpirun -np N xbarsim sweep SWEEP.ini -o SWEEP.h5 [--resume]\n"
"Evaluates metrics over design points described by a sweep file and writes one row\n"
"per point to an HDF5 file (group /points), point by point, so that an interrupted\n"
"sweep can be resumed.  Under mpirun or srun the points are spread over the ranks;\n"
"the results do not depend on the number of ranks.\n"
"\n"
"The sweep file is INI: a [sweep] section with\n"
"  base = FILE.ini        configuration the points start from (optional)\n"
"  preset = NAME          device preset (optional; default: the base's, else hx)\n"
"  mode = grid|zip|random cartesian product (first key slowest), value i of every\n"
"                         key for point i, or random points (default grid)\n"
"  points = N, seed = S   number of random points; seed of draws and noise seeds\n"
"  repeats = R            evaluations per point with other seeds: mean and _std\n"
"  seeds = per-point|common  noise seeds per point, or the same for every point\n"
"  metrics = NAME...      what to compute (below)\n"
"  section.key = VALUES   one line per swept key: a list (adc.bits = 4 6 8), a\n"
"                         range A:B:STEP (inclusive), log:A:B:N (N log-spaced\n"
"                         values), words (integrator.model = ordered unordered);\n"
"                         random mode also takes A:B and log:A:B (intervals)\n"
"and other sections fixing keys for every point ([adc] gain = 0.003).\n"
"\n"
"Options:\n"
"  -o, --output=FILE.h5    result file; an existing file is never overwritten\n"
"      --resume            continue FILE.h5 (made from the same sweep file), or\n"
"                          start it if it does not exist\n"
"      --dry-run           list the points and the work, compute nothing\n"
"  -p, --preset=NAME       preset instead of the sweep file's\n"
"  -s, --set=KEY=VALUE     fix a key for every point (repeatable)\n"
"      --progress=STYLE    auto, bar, plain, none (rank 0, on stderr)\n"
"\n"
"Metrics:\n";

static void print_help(void)
{
	size_t np;
	const xb_sweep_provider *const *p = xb_metrics_providers(&np);

	fputs(sweep_help, stdout);
	for (size_t i = 0; i < np; i++)
		for (size_t m = 0; m < p[i]->nmetrics; m++)
			printf("  %-24s %-4s %s\n", p[i]->metrics[m].name,
			       p[i]->metrics[m].unit && *p[i]->metrics[m].unit ? p[i]->metrics[m].unit
										 : "1",
			       p[i]->metrics[m].help);
	fputs("\nFailed points (a combination the device refuses) are recorded with their\n"
	      "message and the sweep goes on.  Exit status: 0 when every point has a result\n"
	      "(done or failed), 1 on an error, 2 on a usage error.  See doc/sweep.md.\n",
	      stdout);
}

static int usage(const char *msg)
{
	fprintf(stderr, "xbarsim sweep: %s\nTry 'xbarsim sweep --help'.\n", msg);
	return 2;
}

int xb_cli_sweep(int argc, char **argv)
{
	xb_cli_opts o;
	xb_sweep_options so = { 0 };
	xb_sweep_run_opts ro = { 0 };
	xb_sweep_summary sum = { 0 };
	xb_progress prog;
	xb_err err = { 0 };
	xb_sweep *sw = NULL;
	char *cmdline = NULL;
	int rc, rank;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_help();
			return 0;
		}
	rc = xb_cli_parse(&o, "sweep", sweep_help, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs != 1)
		rc = usage(o.nargs ? "expected one sweep file" : "no sweep file given");
	else if (o.config)
		rc = usage("-c: the sweep file names its base configuration (base = FILE.ini)");
	else if (!o.dry_run && !o.output)
		rc = usage("no output file: give -o FILE.h5 (or --dry-run)");
	else if (o.dry_run && (o.output || o.resume))
		rc = usage("--dry-run computes nothing: it takes no -o or --resume");
	if (rc) {
		xb_cli_opts_free(&o);
		return rc;
	}
	if (xb_sweep_mpi_init(&argc, &argv) != XB_OK) {
		rc = xb_cli_fail("sweep", xb_errmsg(NULL));
		xb_cli_opts_free(&o);
		return rc;
	}
	rank = xb_sweep_mpi_rank();

	xb_register_all_keys();
	so.providers = xb_metrics_providers(&so.nproviders);
	so.preset = o.preset;
	so.sets = o.sets;
	so.nsets = o.nsets;
	sw = xb_sweep_load(o.args[0], &so, &err);
	/* Every rank reads the files: go on only if all of them could. */
	if (!xb_sweep_mpi_all(sw != NULL)) {
		if (!sw && rank == 0)
			xb_cli_fail("sweep", err.msg);
		else if (!sw)
			fprintf(stderr, "xbarsim sweep (rank %d): %s\n", rank, err.msg);
		rc = 1;
		goto out;
	}
	if (o.dry_run) {
		if (rank == 0 && xb_sweep_list(sw, stdout) != XB_OK)
			rc = xb_cli_fail("sweep", xb_sweep_errmsg(sw));
		goto out;
	}

	cmdline = xb_cli_command_line(argc, argv);   /* "xbarsim sweep ..." */
	xb_progress_init(&prog, stderr, rank == 0 ? o.progress : XB_PROGRESS_NONE, "sweep",
			 "points");
	ro.output = o.output;
	ro.resume = o.resume;
	ro.command_line = cmdline;
	ro.progress = xb_progress_update;
	ro.progress_ud = &prog;
	if (xb_sweep_run(sw, &ro, &sum) != XB_OK) {
		if (rank == 0) {
			xb_progress_done(&prog);
			xb_cli_fail("sweep", xb_sweep_errmsg(sw));
		}
		rc = 1;
		goto out;
	}
	if (rank == 0) {
		xb_progress_done(&prog);
		fprintf(stderr, "xbarsim sweep: %s: %" PRIu64 " points, %" PRIu64
			" computed in %.2f s on %d rank%s", o.output, sum.points, sum.computed,
			sum.wall_s, sum.nranks, sum.nranks == 1 ? "" : "s");
		if (sum.done_before)
			fprintf(stderr, ", %" PRIu64 " done before", sum.done_before);
		if (sum.failed)
			fprintf(stderr, ", %" PRIu64 " failed (see /points/message)", sum.failed);
		fputc('\n', stderr);
	}
	if (sum.pending)
		rc = 1;
out:
	free(cmdline);
	xb_sweep_free(sw);
	xb_cli_opts_free(&o);
	xb_sweep_mpi_finalize();
	return rc;
}
