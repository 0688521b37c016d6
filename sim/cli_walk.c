/* cli_walk.c - `xbarsim walk`: layer-wise noise robustness (midpoint noise levels) of a model.
 * Option handling, loading and printing only; the work is xb_walk_run() (workloads/walk_run.c).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_cli.h"
#include "xb_data.h"
#include "xb_devices.h"
#include "xb_run.h"
#include "xb_sweep.h"
#include "xb_traces.h"
#include "xb_walk.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef XB_HAVE_MPI
#include <mpi.h>
#endif

static const char walk_help[] =
"Usage: xbarsim walk [-c FILE.ini] [-o walk.h5]\n"
"                    [--noise additive|multiplicative|combined|device]\n"
"                    [-p PRESET] [-s KEY=VALUE]... [--progress S]\n"
"       mpirun -np N xbarsim walk ...   (built --with-mpi: items spread over the ranks)\n"
"Walking noise: injects Gaussian noise after one operation of the model\n"
"(workload.model) at a time, sweeps its level over log-spaced levels and prints, for\n"
"each site, the midpoint level at which the accuracy on the data set (workload.data)\n"
"falls halfway between its clean value and chance, with a bootstrap interval over\n"
"noise seeds.  With no -c: the shipped keyword-spotting model and test set.\n"
"workload.data = fashion-mnist reads Debian's Fashion-MNIST test images.\n"
"  -c FILE.ini     configuration ([walk] keys: walk.levels, walk.level_min,\n"
"                  walk.level_max, walk.repeats, walk.samples, walk.normalise,\n"
"                  walk.ratio, walk.mode walking|global, walk.seed, walk.bootstrap,\n"
"                  walk.source, walk.binary_band)\n"
"  -o FILE.h5      write the walk file (schema xbarsim-walk, doc/walk.md)\n"
"  --noise TYPE    additive (y + s n), multiplicative (y (1 + s n)), combined, or\n"
"                  device: the device's own noise source walk.source (read,\n"
"                  fpn_gain, fpn_offset, event, fpn_synapse) in each analog layer\n"
"                  at a time, the layers on the preset's tiles; overrides walk.noise\n"
"  -p, -s, --progress  as for every command (xbarsim --help)\n"
"Prints the sites' midpoints, the share of near-binary activations and the weight\n"
"magnitudes per layer (walk.binary_band).\n"
"Documentation: doc/walk.md.\n";

#ifdef XB_HAVE_MPI
/* xb_walk_reduce_fn over MPI_COMM_WORLD: agree on success, then sum the counts. */
static int mpi_reduce(void *ud, uint64_t *counts, size_t n, int ok)
{
	(void)ud;
	if (!xb_sweep_mpi_all(ok))
		return 0;
	if (n && MPI_Allreduce(MPI_IN_PLACE, counts, (int)n, MPI_UINT64_T, MPI_SUM,
			       MPI_COMM_WORLD) != MPI_SUCCESS)
		return 0;
	return 1;
}
#endif

static void print_level(double v)
{
	if (isnan(v))
		printf(" %10s", "<min");
	else if (isinf(v))
		printf(" %10s", ">max");
	else
		printf(" %10.4g", v);
}

int xb_cli_walk(int argc, char **argv)
{
	xb_cli_opts o;
	xb_config *cfg = NULL;
	xb_nn_net *net = NULL;
	xb_dataset *ds = NULL;
	xb_walk_result *res = NULL;
	float *x = NULL;
	int32_t *lab = NULL;
	char *ini = NULL, *cmdline = NULL, mpath[4096], dpath[4096];
	xb_err err;
	int mpi = 0, rank = 0;
	int rc = xb_cli_parse(&o, "walk", walk_help, argc, argv);

	if (rc)
		return rc < 0 ? 0 : rc;
	xb_err_clear(&err);
	if (o.nargs) {
		fprintf(stderr, "xbarsim walk: unexpected argument '%s'\nTry 'xbarsim walk "
			"--help'.\n", o.args[0]);
		rc = 2;
		goto out;
	}
	int noise = -1;
	if (o.noise && (noise = xb_walk_noise_parse(o.noise)) < 0) {
		fprintf(stderr, "xbarsim walk: --noise %s: expected additive, multiplicative, "
			"combined or device\nTry 'xbarsim walk --help'.\n", o.noise);
		rc = 2;
		goto out;
	}
	if (o.output) {   /* fail before a long run, not after it */
		char dir[4096];
		const char *slash = strrchr(o.output, '/');
		snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - o.output) + 1 : 1,
			 slash ? o.output : ".");
		if (access(dir, W_OK) != 0) {
			fprintf(stderr, "xbarsim walk: -o %s: directory %s does not exist or is not "
				"writable\n", o.output, dir);
			rc = 1;
			goto out;
		}
	}
	if (xb_sweep_mpi_init(&argc, &argv) != XB_OK) {
		rc = xb_cli_fail("walk", xb_errmsg(NULL));
		goto out;
	}
	mpi = 1;
	rank = xb_sweep_mpi_rank();
	xb_walk_register_keys();   /* idempotent */
	if (!(cfg = xb_cli_config(&o, "walk"))) {
		rc = 1;
		goto out;
	}
	xb_walk_params p;
	if (xb_walk_params_from_config(cfg, &p, &err) != XB_OK) {
		rc = xb_cli_fail("walk", err.msg);
		goto out;
	}
	if (noise >= 0)
		p.noise = (xb_walk_noise)noise;
	xb_tile_params tp;
	if (p.noise == XB_WALK_DEVICE) {
		if (xb_tile_params_from_config(cfg, &tp, &err) != XB_OK) {
			rc = xb_cli_fail("walk", err.msg);
			goto out;
		}
		p.device = &tp;
		p.calibration_file = xb_config_str(cfg, "calibration.file");
	}
	p.rank = rank;
	p.nranks = xb_sweep_mpi_size();
#ifdef XB_HAVE_MPI
	if (p.nranks > 1)
		p.reduce = mpi_reduce;
#endif
#ifdef _OPENMP
	if (xb_config_key("run.threads") && xb_config_int(cfg, "run.threads") > 0)
		omp_set_num_threads((int)xb_config_int(cfg, "run.threads"));
#endif
	/* model and data */
	if (xb_run_model_path(xb_config_str(cfg, "workload.model"), mpath, sizeof mpath,
			      &err) != XB_OK) {
		xb_err_context(&err, "workload.model");
		rc = xb_cli_fail("walk", err.msg);
		goto out;
	}
	if (!(net = xb_nn_net_load(mpath, &err))) {
		rc = xb_cli_fail("walk", err.msg);
		goto out;
	}
	if (!(ds = xb_data_open_named(xb_config_str(cfg, "workload.data"), XB_SPLIT_TEST, dpath,
				      sizeof dpath, &err))) {
		rc = xb_cli_fail("walk", err.msg);
		goto out;
	}
	int h, w, c;
	xb_dataset_shape(ds, &h, &w, &c);
	xb_nn_shape in = xb_nn_net_in_shape(net);
	size_t nout = xb_nn_shape_size(xb_nn_net_out_shape(net));
	if (in.h != h || in.w != w || in.c != c || (size_t)xb_dataset_nclasses(ds) > nout) {
		xb_raise(&err, XB_EFORMAT, "data set %s: samples %dx%dx%d in %d classes, but "
			 "model %s takes %dx%dx%d with %zu outputs", dpath, h, w, c,
			 xb_dataset_nclasses(ds), mpath, in.h, in.w, in.c, nout);
		rc = xb_cli_fail("walk", err.msg);
		goto out;
	}
	size_t n = xb_dataset_count(ds);
	x = malloc(n * xb_dataset_sample_size(ds) * sizeof *x);
	lab = malloc(n * sizeof *lab);
	if (!x || !lab) {
		rc = xb_cli_fail("walk", "out of memory for the data set");
		goto out;
	}
	if (xb_dataset_read(ds, 0, n, x, lab) != XB_OK) {
		rc = xb_cli_fail("walk", xb_dataset_errmsg(ds));
		goto out;
	}
	xb_nn_data data = { n, x, lab };

	xb_progress bar;
	xb_progress_init(&bar, stderr, rank == 0 ? o.progress : XB_PROGRESS_NONE, "walk",
			 "passes");
	p.progress = xb_progress_update;
	p.progress_ud = &bar;
	double t0 = xb_wall_s();
	xb_status st = xb_walk_run(net, &data, &p, &res, &err);
	if (bar.active)
		xb_progress_done(&bar);
	if (st != XB_OK) {
		if (rank == 0)
			rc = xb_cli_fail("walk", err.msg);
		else
			rc = 1;
		goto out;
	}
	double secs = xb_wall_s() - t0;
	if (rank != 0) {   /* rank 0 prints and writes */
		rc = 0;
		goto out;
	}

	printf("model:     %s\n", mpath);
	printf("data:      %s (%zu of %zu samples)\n", dpath, res->samples, n);
	if (p.noise == XB_WALK_DEVICE)
		printf("noise:     device, source %s (%s, %s), %s, levels %g .. %g (%d), "
		       "%d repeats\n", xb_walk_source_name(p.source), xb_walk_source_key(p.source),
		       res->level_unit, p.mode == XB_WALK_GLOBAL ? "global" : "walking",
		       p.level_min, p.level_max, p.nlevels, p.repeats);
	else
		printf("noise:     %s%s, %s, levels %g .. %g (%d), %d repeats\n",
		       xb_walk_noise_name(p.noise), p.noise == XB_WALK_COMBINED ? " (ratio r)" : "",
		       p.mode == XB_WALK_GLOBAL ? "global" : "walking", p.level_min, p.level_max,
		       p.nlevels, p.repeats);
	printf("accuracy:  clean %.4f, chance %.4f, target %.4f\n", res->clean_accuracy,
	       res->chance_accuracy, res->target);
	printf("interval:  %.0f %% percentile bootstrap over repeats (%d resamples)\n",
	       100 * p.confidence, p.bootstrap);
	if (p.noise == XB_WALK_DEVICE)
		printf("levels are the sigma of %s (%s); the other analog layers run on the "
		       "device with every noise source off\n\n", xb_walk_source_key(p.source),
		       res->level_unit);
	else
		printf("levels are %s\n\n", p.normalise ?
		       "relative to each site's clean std (scale)" : "absolute");
	printf("%-16s %10s %10s %10s %10s\n", "site", "scale", "midpoint", "lo", "hi");
	for (size_t s = 0; s < res->nsites; s++) {
		printf("%-16s %10.4g", res->name[s], res->scale[s]);
		print_level(res->midpoint[s]);
		print_level(res->midpoint_lo[s]);
		print_level(res->midpoint_hi[s]);
		printf("\n");
	}
	printf("\nclean activations: shares within %g of their range of the min (low) and the "
	       "max (high)\n", p.binary_band);
	printf("%-16s %10s %10s %8s %8s %8s\n", "activation", "min", "max", "low", "high",
	       "binary");
	for (size_t a = 0; a < res->nacts; a++)
		printf("%-16s %10.4g %10.4g %8.4f %8.4f %8.4f\n", res->act_name[a], res->act_min[a],
		       res->act_max[a], res->near_low[a], res->near_high[a],
		       res->near_low[a] + res->near_high[a]);
	printf("\nweights (float)\n%-16s %10s %10s %10s\n", "layer", "count", "mean|w|",
	       "max|w|");
	for (size_t k = 0; k < res->nweights; k++)
		printf("%-16s %10" PRIu64 " %10.4g %10.4g\n", res->w_name[k], res->w_count[k],
		       res->w_mean_abs[k], res->w_max_abs[k]);
	printf("\ntime:      %.1f s on %d rank%s\n", secs, p.nranks, p.nranks == 1 ? "" : "s");
	if (o.output) {
		ini = xb_config_to_ini(cfg, 0);
		cmdline = xb_cli_command_line(argc, argv);
		if (xb_walk_save(res, o.output, ini, cmdline, &err) != XB_OK) {
			rc = xb_cli_fail("walk", err.msg);
			goto out;
		}
		printf("walk file: %s\n", o.output);
	}
	rc = 0;
out:
	free(ini);
	free(cmdline);
	free(x);
	free(lab);
	xb_walk_result_free(res);
	xb_dataset_free(ds);
	xb_nn_net_free(net);
	xb_config_free(cfg);
	xb_cli_opts_free(&o);
	if (mpi)
		xb_sweep_mpi_finalize();
	return rc;
}
