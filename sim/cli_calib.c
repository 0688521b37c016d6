/* cli_calib.c - the measure and calibrate subcommands: a simulated measurement campaign,
 * and the fit of the column model to a measurement file, with summary and plots.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_cli.h"
#include "xb_calibration.h"
#include "xb_devices.h"
#include "xb_traces.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- measure ------------------------------------------------------------------------------ */

static const char measure_help[] =
"Usage: xbarsim measure -p PRESET [-c FILE.ini] [-s KEY=VALUE]... [--stimuli FILE.h5]\n"
"                       -o OUT.h5\n"
"Simulates a measurement campaign on a chip of the preset (the tile model with the\n"
"fixed-pattern draws of chip.seed) and writes a measurement file (schema\n"
"xbarsim-measurement, doc/calibration.md): the weights, the stimuli, the event order\n"
"and spacing of each, and the ADC codes of K repeats.  The true per-column parameters\n"
"of the simulated chip go to the group /truth (simulation only), so that a\n"
"calibration can be checked against them.\n"
"\n"
"Without --stimuli, the default protocol on one tile (all its signed rows and\n"
"columns), 8 repeats of each stimulus: empty stimuli (offset), a weight sweep at\n"
"fixed input and an input sweep through both saturations, random masks (densities\n"
"0.85^i), saturation and ordering probes (one multiset positive-first, negative-first,\n"
"interleaved, at several spacings) and leak probes (strong events, then silent\n"
"zero-weight rows at up to ~1.3 tau of spacing, and the reverse).\n"
"\n"
"  -p, --preset=NAME       device preset (default hx); its input.encoding must be event\n"
"  -c, --config=FILE.ini   configuration file\n"
"  -s, --set=KEY=VALUE     override a key, e.g. -s noise.fpn_gain=0.05 (repeatable)\n"
"      --stimuli=FILE.h5   take /weights, /inputs and the optional /order and\n"
"                          /interval_ns from FILE.h5 (measurement schema; /codes\n"
"                          optional: its repeat count is kept, else 8).  Signed rows\n"
"                          beyond one tile go to further tiles whose codes are added\n"
"                          and clamped (as BrainScaleS-2 does); columns beyond one tile\n"
"                          go to further tiles\n"
"  -o, --output=OUT.h5     the measurement file (required)\n"
"      --progress=STYLE    auto, bar, plain, none\n"
"With calibration.file set, the simulated chip takes the calibrated column values.\n";

/* The resolved configuration with every device key registered. */
static xb_config *calib_config(const xb_cli_opts *o, const char *cmd)
{
	xb_devices_register_keys();
	return xb_cli_config(o, cmd);
}

/* calibration.file of CFG, or "" (also when the key is not registered). */
static const char *calibration_file(const xb_config *cfg)
{
	return xb_config_key("calibration.file") ? xb_config_str(cfg, "calibration.file") : "";
}

int xb_cli_measure(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "measure", measure_help, argc, argv);
	xb_config *cfg = NULL;
	xb_calibration_meas *stim = NULL, *m = NULL;
	xb_calibration *cal = NULL;
	xb_tile_params tp;
	xb_progress prog;
	xb_err err = { 0 };
	char *ini = NULL, *cmdline = NULL;
	const char *cfile;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs) {
		fprintf(stderr, "xbarsim measure: unexpected argument '%s'\nTry 'xbarsim measure "
			"--help'.\n", o.args[0]);
		xb_cli_opts_free(&o);
		return 2;
	}
	if (!o.output) {
		fprintf(stderr, "xbarsim measure: no output file: give -o OUT.h5\nTry 'xbarsim "
			"measure --help'.\n");
		xb_cli_opts_free(&o);
		return 2;
	}
	rc = 1;
	cfg = calib_config(&o, "measure");
	if (!cfg)
		goto done;
	if (xb_tile_params_from_config(cfg, &tp, &err) != XB_OK) {
		xb_cli_fail("measure", err.msg);
		goto done;
	}
	cfile = calibration_file(cfg);
	if (*cfile && xb_calibration_load(cfile, &cal, &err) != XB_OK) {
		xb_cli_fail("measure", err.msg);
		goto done;
	}
	if (o.stimuli) {
		if (xb_calibration_stimuli_read(o.stimuli, &stim, &err) != XB_OK) {
			xb_cli_fail("measure", err.msg);
			goto done;
		}
	} else {
		xb_calibration_design d = xb_calibration_design_from_tile(&tp, 0);

		stim = xb_calibration_protocol(&d, &err);
		if (!stim) {
			xb_cli_fail("measure", err.msg);
			goto done;
		}
	}
	xb_progress_init(&prog, stderr, o.progress, "measure", "tiles");
	if (xb_calibration_measure(&tp, stim, 0, cal, &m, xb_progress_update, &prog, &err) != XB_OK) {
		xb_progress_done(&prog);
		xb_cli_fail("measure", err.msg);
		goto done;
	}
	xb_progress_done(&prog);
	ini = xb_config_to_ini(cfg, 0);
	cmdline = xb_h5_join_argv(argc, argv);
	if (xb_calibration_meas_write(m, o.output, ini, cmdline, &err) != XB_OK) {
		xb_cli_fail("measure", err.msg);
		goto done;
	}
	printf("measure: %zu stimuli x %zu repeats on %zu signed rows x %zu columns (preset %s, "
	       "chip seed %llu)%s -> %s\n", m->nstim, m->nrep, m->rows, m->cols,
	       xb_config_str(cfg, "run.preset"), (unsigned long long)tp.chip_seed,
	       m->truth[0] ? ", true column parameters in /truth" : "", o.output);
	rc = 0;
done:
	free(ini);
	free(cmdline);
	xb_calibration_free(cal);
	xb_calibration_meas_free(stim);
	xb_calibration_meas_free(m);
	xb_config_free(cfg);
	xb_cli_opts_free(&o);
	return rc;
}

/* ---- calibrate: summary -------------------------------------------------------------------- */

static const char calibrate_help[] =
"Usage: xbarsim calibrate MEASURED.h5 -o CALIB.h5 [-p PRESET] [-c FILE.ini]\n"
"                         [-s KEY=VALUE]... [--plots DIR]\n"
"Fits the per-column model of the tile (DESIGN.md section 1, in ADC codes) to a\n"
"measurement file: gain (codes per unit of input x weight), offset_lsb, the\n"
"saturation codes sat_lo_lsb and sat_hi_lsb, the leak tau_us and read_noise_lsb, each\n"
"with its standard error; the saturation shape (hard or smooth) is chosen by AIC.\n"
"Codes on the ADC rails are treated as censored (expected value of the clamped,\n"
"quantized read); outliers beyond 5 sigma are dropped and counted; a parameter the\n"
"data cannot identify (e.g. a saturation no stimulus reached) is NaN with a warning.\n"
"Prints a per-column summary and the fit quality, writes the calibration file\n"
"(schema xbarsim-calibration; load it with calibration.file = CALIB.h5).\n"
"\n"
"  -o, --output=CALIB.h5   the calibration file (required)\n"
"  -p, --preset=NAME       preset for what the file does not hold: input.order for\n"
"                          stimuli without /order, integrator.read_delay_ns when the\n"
"                          file has no read_delay_ns, starting values (integrator.tau_us,\n"
"                          integrator.knee_lsb); run.threads (default hx)\n"
"  -c, --config=FILE.ini   configuration file\n"
"  -s, --set=KEY=VALUE     override a key (repeatable)\n"
"      --plots=DIR         write plot data (.dat) and plots.gp to DIR and, when gnuplot\n"
"                          is installed, the figures (PNG): transfer curves measured vs\n"
"                          fitted, residual histogram against the fitted noise,\n"
"                          parameter maps with error bars, ordering probes (measured\n"
"                          vs ordered and unordered model)\n"
"      --progress=STYLE    auto, bar, plain, none\n";

typedef struct pstat {
	double median, p5, p95, se_median;
	size_t n;
} pstat;

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static pstat param_stat(const xb_calibration *cal, int p, double *tmp)
{
	pstat s = { NAN, NAN, NAN, NAN, 0 };
	size_t n = 0;

	for (size_t c = 0; c < cal->cols; c++)
		if (isfinite(cal->value[p][c]))
			tmp[n++] = cal->value[p][c];
	s.n = n;
	if (!n)
		return s;
	qsort(tmp, n, sizeof *tmp, cmp_d);
	s.median = tmp[n / 2];
	s.p5 = tmp[(size_t)(0.05 * (double)(n - 1) + 0.5)];
	s.p95 = tmp[(size_t)(0.95 * (double)(n - 1) + 0.5)];
	n = 0;
	for (size_t c = 0; c < cal->cols; c++)
		if (isfinite(cal->stderr_[p][c]))
			tmp[n++] = cal->stderr_[p][c];
	if (n) {
		qsort(tmp, n, sizeof *tmp, cmp_d);
		s.se_median = tmp[n / 2];
	}
	return s;
}

static void print_summary(const xb_calibration *cal, const xb_calibration_meas *m,
			  const char *path)
{
	const size_t C = cal->cols;
	double *tmp = malloc(C * sizeof *tmp);
	size_t ngood = 0, worst = 0;
	double chi_max = -1;

	printf("calibrate: %s: %zu columns, %zu stimuli x %zu repeats on %zu signed rows\n", path,
	       C, m->nstim, m->nrep, m->rows);
	printf("saturation: %s (%s)\n", xb_calibration_sat_name(cal->saturation),
	       cal->saturation_criterion);
	if (!tmp)
		return;
	if (C <= 16) {
		printf("%-6s", "column");
		for (int p = 0; p < XB_CAL_NPARAM; p++)
			printf(" %22s", xb_calibration_param_name((xb_calibration_param)p));
		printf(" %8s\n", "chi2/dof");
		for (size_t c = 0; c < C; c++) {
			printf("%-6zu", c);
			for (int p = 0; p < XB_CAL_NPARAM; p++) {
				char cell[64];

				if (isnan(cal->value[p][c]))
					snprintf(cell, sizeof cell, "unidentified");
				else
					snprintf(cell, sizeof cell, "%.5g +- %.2g", cal->value[p][c],
						 cal->stderr_[p][c]);
				printf(" %22s", cell);
			}
			printf(" %8.2f\n", cal->chi2_dof[c]);
		}
	} else {
		printf("%-15s %-9s %11s %23s %11s %s\n", "parameter", "unit", "median", "5% .. 95%",
		       "median SE", "identified");
		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			pstat s = param_stat(cal, p, tmp);
			char range[64];

			snprintf(range, sizeof range, "%.4g .. %.4g", s.p5, s.p95);
			printf("%-15s %-9s %11.5g %23s %11.3g %zu/%zu\n",
			       xb_calibration_param_name((xb_calibration_param)p),
			       xb_calibration_param_unit((xb_calibration_param)p), s.median, range,
			       s.se_median, s.n, C);
		}
		/* The worst columns by chi^2/dof. */
		{
			size_t idx[5], nw = 0;

			for (size_t k = 0; k < 5; k++) {
				double best = -1;
				size_t bi = C;

				for (size_t c = 0; c < C; c++) {
					int taken = 0;

					for (size_t q = 0; q < nw; q++)
						taken |= idx[q] == c;
					if (!taken && isfinite(cal->chi2_dof[c]) && cal->chi2_dof[c] > best) {
						best = cal->chi2_dof[c];
						bi = c;
					}
				}
				if (bi < C)
					idx[nw++] = bi;
			}
			printf("worst columns by chi2/dof:");
			for (size_t q = 0; q < nw; q++)
				printf(" %zu (%.2f)", idx[q], cal->chi2_dof[idx[q]]);
			printf("\n");
		}
	}
	for (size_t c = 0; c < C; c++) {
		ngood += (cal->status[c] & XB_CAL_COL_GOOD) != 0;
		if (isfinite(cal->chi2_dof[c]) && cal->chi2_dof[c] > chi_max) {
			chi_max = cal->chi2_dof[c];
			worst = c;
		}
	}
	printf("fit quality: residual RMS %.3f LSB per code vs fitted read noise %.3f LSB "
	       "(expected sqrt(sigma^2 + 1/12) = %.3f); %zu of %zu columns good (%.0f%%); "
	       "chi2/dof max %.2f (column %zu)\n", cal->residual_rms_lsb_all,
	       cal->read_noise_lsb_median,
	       sqrt(cal->read_noise_lsb_median * cal->read_noise_lsb_median + 1.0 / 12), ngood, C,
	       100.0 * (double)ngood / (double)C, chi_max, worst);
	printf("global gain %.6g LSB/(x*w); column gain spread %s", cal->gain_global,
	       isnan(cal->gain_fpn) ? "not resolved" : "");
	if (!isnan(cal->gain_fpn))
		printf("%.2f%%", 100 * cal->gain_fpn);
	printf("; per-synapse gain spread %s", isnan(cal->synapse_fpn) ? "not resolved" : "");
	if (!isnan(cal->synapse_fpn))
		printf("%.2f%%", 100 * cal->synapse_fpn);
	printf("; per-event noise %s", isnan(cal->event_noise_lsb_all) ? "not resolved" : "");
	if (!isnan(cal->event_noise_lsb_all))
		printf("%.3f LSB", cal->event_noise_lsb_all);
	printf("\n");
	if (m->truth[0]) {
		/* A simulated chip: compare with the truth. */
		printf("against /truth (simulation):");
		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			double worst_err = 0;
			size_t n = 0, in2 = 0;
			int rel = p == XB_CAL_GAIN || p == XB_CAL_TAU || p == XB_CAL_READ_NOISE;

			if (!m->truth[p])
				continue;
			for (size_t c = 0; c < C; c++) {
				double v = cal->value[p][c], t = m->truth[p][c], e;

				if (isnan(v) || !isfinite(t))
					continue;
				e = rel ? (v - t) / t : v - t;
				if (fabs(e) > fabs(worst_err))
					worst_err = e;
				in2 += fabs(v - t) <= 2 * cal->stderr_[p][c];
				n++;
			}
			if (n)
				printf("%s %s worst %+.3g%s, %.0f%% within 2 SE",
				       p ? ";" : "", xb_calibration_param_name((xb_calibration_param)p),
				       rel ? 100 * worst_err : worst_err, rel ? "%" : " LSB",
				       100.0 * (double)in2 / (double)n);
		}
		printf("\n");
	}
	if (cal->warnings && *cal->warnings) {
		const char *s = cal->warnings;

		while (*s) {
			const char *e = strchr(s, '\n');
			size_t len = e ? (size_t)(e - s) : strlen(s);

			fprintf(stderr, "xbarsim calibrate: warning: %.*s\n", (int)len, s);
			s += len + (e != NULL);
		}
	}
	free(tmp);
}

/* ---- calibrate: plots ------------------------------------------------------------------------ */

static FILE *open_in(const char *dir, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return fopen(path, "w");
}

/* Columns shown in the transfer curves: the first, the middle, the worst by chi^2. */
static size_t pick_columns(const xb_calibration *cal, size_t *cols)
{
	size_t n = 0, worst = 0;
	double chi = -1;

	cols[n++] = 0;
	if (cal->cols > 2)
		cols[n++] = cal->cols / 2;
	for (size_t c = 0; c < cal->cols; c++)
		if (isfinite(cal->chi2_dof[c]) && cal->chi2_dof[c] > chi) {
			chi = cal->chi2_dof[c];
			worst = c;
		}
	if (worst != 0 && worst != cal->cols / 2)
		cols[n++] = worst;
	return n;
}

/* Run gnuplot on SCRIPT inside DIR; returns its exit status (-1 if it could not run). */
static int run_gnuplot(const char *dir, const char *script)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(127);
		execl(XB_GNUPLOT, XB_GNUPLOT, script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_plots(const xb_calibration *cal, const xb_calibration_meas *m,
		       const xb_calibration_params *fp, const char *dir)
{
	char path[4096];
	FILE *f;
	size_t cols[3], ncols = pick_columns(cal, cols), nbins = 61;
	double *hist = NULL, hw = 0.5, sig = cal->read_noise_lsb_median;
	int32_t *rows = malloc(m->rows * sizeof *rows);
	int ok = 1;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "xbarsim calibrate: --plots %s: cannot create the directory: %s\n", dir,
			strerror(errno));
		free(rows);
		return 0;
	}
	hist = calloc(nbins, sizeof *hist);
	if (!rows || !hist) {
		free(rows);
		free(hist);
		return 0;
	}
	/* 1. Transfer curves: ideal sum x.w (sends included) vs measured and fitted codes. */
	f = open_in(dir, "transfer.dat", path, sizeof path);
	if (!f)
		goto io;
	fprintf(f, "# transfer curves: per block one column\n# sum_xw measured_mean "
		"model_mean unordered_model stimulus\n");
	for (size_t q = 0; q < ncols; q++) {
		size_t c = cols[q];

		fprintf(f, "# column %zu\n", c);
		for (size_t n = 0; n < m->nstim; n++) {
			double s = 0, mean = 0, mu, un;
			size_t ne = xb_calibration_meas_events(m, n, fp->order, rows);

			for (size_t k = 0; k < ne; k++)
				s += (double)m->inputs[n * m->rows + (size_t)rows[k]] *
				     m->weights[(size_t)rows[k] * m->cols + c];
			s *= m->num_sends;
			for (size_t k = 0; k < m->nrep; k++)
				mean += m->codes[(n * m->nrep + k) * m->cols + c];
			mean /= (double)m->nrep;
			if (xb_calibration_predict(cal, m, fp, c, n, &mu, NULL, &un) != XB_OK)
				continue;
			fprintf(f, "%g %g %g %g %zu\n", s, mean, mu, un, n);
		}
		fprintf(f, "\n\n");
	}
	fclose(f);
	/* 2. Residual histogram: single codes minus the model mean, stimuli well inside
	 *    the rails, all columns; with the fitted noise N(0, sigma^2 + 1/12). */
	{
		double total = 0;

		for (size_t c = 0; c < m->cols; c++)
			for (size_t n = 0; n < m->nstim; n++) {
				double mu, pre;

				if (xb_calibration_predict(cal, m, fp, c, n, &mu, &pre, NULL) != XB_OK)
					continue;
				if (pre < m->adc_min + 8 || pre > m->adc_max - 8)
					continue;
				for (size_t k = 0; k < m->nrep; k++) {
					double r = m->codes[(n * m->nrep + k) * m->cols + c] - mu;
					long b = lround(r / hw) + (long)nbins / 2;

					if (b >= 0 && b < (long)nbins) {
						hist[b] += 1;
						total += 1;
					}
				}
			}
		f = open_in(dir, "residuals.dat", path, sizeof path);
		if (!f)
			goto io;
		fprintf(f, "# residual_lsb density fitted_noise_density (sigma %.4g LSB, with the "
			"floor's 1/12)\n", sig);
		for (size_t b = 0; b < nbins; b++) {
			double r = ((double)b - (double)(nbins / 2)) * hw;
			double s2 = sig * sig + 1.0 / 12;

			fprintf(f, "%g %g %g\n", r, total > 0 ? hist[b] / (total * hw) : 0,
				exp(-0.5 * r * r / s2) / sqrt(2 * M_PI * s2));
		}
		fclose(f);
	}
	/* 3. Parameter maps with error bars. */
	f = open_in(dir, "params.dat", path, sizeof path);
	if (!f)
		goto io;
	fprintf(f, "# column");
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		fprintf(f, " %s %s_stderr", xb_calibration_param_name((xb_calibration_param)p),
			xb_calibration_param_name((xb_calibration_param)p));
	fprintf(f, " chi2_dof%s\n", m->truth[0] ? " truth..." : "");
	for (size_t c = 0; c < cal->cols; c++) {
		fprintf(f, "%zu", c);
		for (int p = 0; p < XB_CAL_NPARAM; p++)
			fprintf(f, " %g %g", cal->value[p][c], cal->stderr_[p][c]);
		fprintf(f, " %g", cal->chi2_dof[c]);
		for (int p = 0; p < XB_CAL_NPARAM && m->truth[0]; p++)
			fprintf(f, " %g", m->truth[p] ? m->truth[p][c] : NAN);
		fprintf(f, "\n");
	}
	fclose(f);
	/* 4. Ordering probes: stimuli with the same inputs sent in another order or at
	 *    another spacing; column 0. */
	f = open_in(dir, "ordering.dat", path, sizeof path);
	if (!f)
		goto io;
	fprintf(f, "# ordering probes, column %zu: group index measured_mean ordered_model "
		"unordered_model interval_ns first_row stimulus\n", cols[0]);
	{
		size_t group = 0, idx = 0;
		unsigned char *done = calloc(m->nstim, 1);

		for (size_t n = 0; done && n < m->nstim; n++) {
			size_t members = 0;

			if (done[n])
				continue;
			for (size_t q = n; q < m->nstim; q++)
				if (!memcmp(m->inputs + q * m->rows, m->inputs + n * m->rows, m->rows))
					members++;
			if (members < 2) {
				done[n] = 1;
				continue;
			}
			for (size_t q = n; q < m->nstim; q++) {
				double mean = 0, mu, un;
				size_t ne;

				if (memcmp(m->inputs + q * m->rows, m->inputs + n * m->rows, m->rows))
					continue;
				done[q] = 1;
				ne = xb_calibration_meas_events(m, q, fp->order, rows);
				for (size_t k = 0; k < m->nrep; k++)
					mean += m->codes[(q * m->nrep + k) * m->cols + cols[0]];
				mean /= (double)m->nrep;
				if (xb_calibration_predict(cal, m, fp, cols[0], q, &mu, NULL, &un) != XB_OK)
					continue;
				fprintf(f, "%zu %zu %g %g %g %g %d %zu\n", group, idx++, mean, mu, un,
					m->interval_ns ? m->interval_ns[q] : m->event_interval_ns,
					ne ? rows[0] : -1, q);
			}
			group++;
		}
		free(done);
	}
	fclose(f);
	/* The gnuplot script. */
	f = open_in(dir, "plots.gp", path, sizeof path);
	if (!f)
		goto io;
	fprintf(f, "# plots.gp - figures of an xbarsim calibration (run: gnuplot plots.gp)\n"
		"set terminal pngcairo size 1000,700 noenhanced\n"
		"set grid\n"
		"set output 'transfer.png'\n"
		"set title 'Transfer curves: measured mean code vs fitted model'\n"
		"set xlabel 'sum of input x weight (num_sends included)'\n"
		"set ylabel 'code (LSB)'\nset key left top\n"
		"plot ");
	for (size_t q = 0; q < ncols; q++)
		fprintf(f, "%s'transfer.dat' index %zu using 1:2 with points pt 7 ps 0.6 title "
			"'column %zu measured', '' index %zu using 1:3 with points pt 6 ps 0.9 title "
			"'column %zu model'", q ? ", " : "", q, cols[q], q, cols[q]);
	fprintf(f, "\nset output 'residuals.png'\n"
		"set title 'Residuals (single codes minus model mean) vs fitted read noise'\n"
		"set xlabel 'residual (LSB)'\nset ylabel 'density'\nset key right top\n"
		"plot 'residuals.dat' using 1:2 with boxes title 'measured', '' using 1:3 with lines "
		"lw 2 title 'N(0, sigma^2 + 1/12)'\n");
	fprintf(f, "set output 'params.png'\nset terminal pngcairo size 1200,1000 noenhanced\n"
		"unset title\nset multiplot layout 3,2 title 'Parameters per column (error bars: 1 "
		"standard error)'\nset key off\nset xlabel 'column'\n");
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		fprintf(f, "set ylabel '%s (%s)'\nplot 'params.dat' using 1:%d:%d with yerrorbars "
			"pt 7 ps 0.4\n", xb_calibration_param_name((xb_calibration_param)p),
			xb_calibration_param_unit((xb_calibration_param)p), 2 + 2 * p, 3 + 2 * p);
	fprintf(f, "unset multiplot\n"
		"set terminal pngcairo size 1000,700 noenhanced\n"
		"set output 'ordering.png'\nset key left top\n"
		"set title 'Ordering probes (column %zu): same inputs, other order or spacing'\n"
		"set xlabel 'probe'\nset ylabel 'code (LSB)'\n"
		"plot 'ordering.dat' using 2:3 with points pt 7 title 'measured', '' using 2:4 with "
		"points pt 6 ps 1.5 title 'ordered model (fitted)', '' using 2:5 with points pt 2 "
		"title 'unordered model (one saturation, no leak)'\n", cols[0]);
	fclose(f);
	free(rows);
	free(hist);
	if (!*XB_GNUPLOT) {
		printf("plots: gnuplot was not found at configure time: wrote the .dat files and "
		       "plots.gp to %s (run 'gnuplot plots.gp' there)\n", dir);
		return ok;
	}
	if (run_gnuplot(dir, "plots.gp") != 0) {
		fprintf(stderr, "xbarsim calibrate: gnuplot (%s) failed on %s/plots.gp; the .dat "
			"files are there\n", XB_GNUPLOT, dir);
		return 0;
	}
	printf("plots: %s/{transfer,residuals,params,ordering}.png (data: .dat, script: "
	       "plots.gp)\n", dir);
	return ok;
io:
	fprintf(stderr, "xbarsim calibrate: --plots: cannot write %s: %s\n", path, strerror(errno));
	free(rows);
	free(hist);
	return 0;
}

/* ---- calibrate -------------------------------------------------------------------------------- */

int xb_cli_calibrate(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "calibrate", calibrate_help, argc, argv);
	xb_config *cfg = NULL;
	xb_calibration_meas *m = NULL;
	xb_calibration *cal = NULL;
	xb_calibration_params fp = xb_calibration_fit_defaults();
	xb_tile_params tp;
	xb_progress prog;
	xb_err err = { 0 };
	char *ini = NULL, *cmdline = NULL;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs != 1 || !o.output) {
		fprintf(stderr, "xbarsim calibrate: %s\nTry 'xbarsim calibrate --help'.\n",
			o.nargs > 1 ? "one measurement file only" : o.nargs ? "no output file: give "
			"-o CALIB.h5" : "no measurement file: give MEASURED.h5");
		xb_cli_opts_free(&o);
		return 2;
	}
	rc = 1;
	cfg = calib_config(&o, "calibrate");
	if (!cfg)
		goto done;
	if (xb_tile_params_from_config(cfg, &tp, &err) != XB_OK) {
		xb_cli_fail("calibrate", err.msg);
		goto done;
	}
	fp.order = tp.input.order;
	fp.read_delay_ns = tp.integrator.read_delay_ns;
	if (tp.integrator.tau_us > 0)
		fp.tau_us_init = tp.integrator.tau_us;
	fp.knee_lsb_init = tp.integrator.knee_lsb;
	if (xb_config_key("run.threads"))
		fp.threads = (int)xb_config_int(cfg, "run.threads");
	if (xb_calibration_meas_read(o.args[0], &m, &err) != XB_OK) {
		xb_cli_fail("calibrate", err.msg);
		goto done;
	}
	xb_progress_init(&prog, stderr, o.progress, "calibrate", "columns");
	fp.progress = xb_progress_update;
	fp.progress_ud = &prog;
	if (xb_calibration_fit(m, &fp, &cal, &err) != XB_OK) {
		xb_progress_done(&prog);
		xb_cli_fail("calibrate", err.msg);
		goto done;
	}
	xb_progress_done(&prog);
	print_summary(cal, m, o.args[0]);
	ini = xb_config_to_ini(cfg, 0);
	cmdline = xb_h5_join_argv(argc, argv);
	if (xb_calibration_write(cal, o.output, ini, cmdline, &err) != XB_OK) {
		xb_cli_fail("calibrate", err.msg);
		goto done;
	}
	printf("calibration -> %s\n", o.output);
	if (o.plots && !write_plots(cal, m, &fp, o.plots))
		goto done;
	rc = 0;
done:
	free(ini);
	free(cmdline);
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
	xb_config_free(cfg);
	xb_cli_opts_free(&o);
	return rc;
}
