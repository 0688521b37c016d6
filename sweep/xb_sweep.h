/* xb_sweep.h - design-space sweeps: a sweep file expanded into design points, evaluated by metric providers.
 * Serial or spread over MPI ranks, written point by point to a resumable HDF5 file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The sweep file (INI) holds a [sweep] section and, optionally, ordinary sections:
 *     [sweep]
 *     base = chip.ini            ; relative to the sweep file (optional: defaults + preset)
 *     preset = hx                ; optional (default: run.preset of the base, else hx)
 *     mode = grid                ; grid | zip | random
 *     points = 100               ; random mode only
 *     seed = 7                   ; seeds of the random points and of the noise
 *     repeats = 3                ; evaluations per point, each with other noise seeds
 *     seeds = per-point          ; per-point | common (see Seeds)
 *     metrics = mvm_rmse_lsb mvm_saturation_rate
 *     adc.bits = 4 5 6 8                   ; a list
 *     noise.read_lsb = 0:4:0.5             ; a range, inclusive (9 values)
 *     integrator.tau_us = log:1:1000:7     ; 7 log-spaced values
 *     integrator.model = ordered unordered ; words (enum and string keys); "a b" quotes
 *     [adc]
 *     gain = 0.003               ; fixed override on top of the base, for every point
 * Each line "section.key = ..." of [sweep] is an axis.  grid is the cartesian product
 * in file order, the first axis varying slowest; zip takes value i of every axis for
 * point i (all axes of equal length); random draws `points` points, each axis value
 * independently: a list or a range with a step or count picks one of its values
 * uniformly, a range without a step ("a:b", "log:a:b": random mode only) draws from
 * the interval, uniformly or log-uniformly (integer keys: every integer of the range
 * equally likely; log draws rounded to the nearest integer).  Draws are Philox4x32
 * blocks keyed by the seed and addressed by (point, axis): point i is the same
 * whatever `points` says and whatever evaluates it.
 *
 * Configuration of point i, repeat r: defaults -> preset -> base file -> the sweep
 * file's other sections -> the caller's overrides (-s) -> the swept values -> the
 * seeds.  Everything the file says is validated by xb_sweep_load() before any work:
 * every swept value against its key's type and range, settings, ranges, axis lengths,
 * metric names; errors name FILE:LINE and the key (and the nearest valid key or
 * metric).  What only a combination of values can violate (say adc.bits against
 * adc.min) is found when the point is evaluated: the point is recorded as failed
 * with its message and the sweep goes on.
 *
 * Seeds.  Unless swept, run.seed and chip.seed (when registered) are set for each
 * evaluation from a Philox4x32 block keyed by the sweep seed and addressed by
 * (point, repeat): seeds = per-point gives every point its own chips and noise;
 * seeds = common gives point i repeat r the seeds of point 0 repeat r (common random
 * numbers: differences between points then come from the parameters alone).  Each
 * metric is reported as the mean over the repeats and, when repeats > 1, the sample
 * standard deviation (divisor repeats - 1), both summed in repeat order.
 *
 * Metric providers are const type tables (xb_sweep_provider): a list of metrics with
 * units, an evaluator, optional state and a cost estimate.  The sweep knows no
 * provider; its caller passes the ones it offers (sim/xb_metrics.h lists the
 * command's).  Every metric a sweep asks for belongs to exactly one provider; a
 * provider is instantiated only if one of its metrics is asked for.
 *
 * Output (xb_sweep_run): an HDF5 file with root schema "xbarsim-sweep" version 1,
 * the resolved configuration of the base (`config`, what every point starts from),
 * and the attributes `sweep_file` (the sweep file's text), `sweep_path`, `mode`,
 * `npoints`, `repeats`, `seed`, `seeds`.  Group /points holds one row per point, in
 * the order of xb_sweep_list():
 *     <key>            float64 (number keys) or string (enum, string, bool keys) [N]
 *     <metric>         float64 [N] or [N, width], with the metric's unit
 *     <metric>_std     float64, the same shape, when repeats > 1
 *     status           int8 [N]: 0 pending, 1 done, 2 failed
 *     message          string [N]: why a point failed ("" otherwise)
 * The file is published (valid, in place) before the first point is evaluated and
 * flushed after every batch of results, status written last, so a crash or a kill
 * loses at most the points in flight.  Resuming checks that the file was made from
 * the same sweep text and the same resolved base configuration, then evaluates only
 * the pending points (status 0; failed points stay failed): the result equals that
 * of an uninterrupted run.  Results never depend on the number of ranks, threads or
 * the order of evaluation: every evaluation is a function of its configuration.
 *
 * Ranks.  Built with MPI (XB_HAVE_MPI) and run under mpirun or srun, after
 * xb_sweep_mpi_init(), every rank calls xb_sweep_run(): rank 0 writes the file and
 * evaluates points too.  Points are handed out one at a time from a counter at rank
 * 0 incremented with MPI_Fetch_and_op under a passive-target lock (the most costly
 * points first when the providers estimate costs), so fast ranks take more points;
 * results go to rank 0 as messages, which it drains between its own points.
 */
#ifndef XB_SWEEP_H
#define XB_SWEEP_H

#include "xb_base.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XB_SWEEP_SCHEMA "xbarsim-sweep"
#define XB_SWEEP_SCHEMA_VERSION 1

/* Values of /points/status. */
#define XB_SWEEP_PENDING 0
#define XB_SWEEP_DONE 1
#define XB_SWEEP_FAILED 2

/* ---- metric providers ---------------------------------------------------------- */

/* One metric. */
typedef struct xb_sweep_metric {
	const char *name;   /* dataset name: lower case, digits, '_'; unique over providers */
	const char *unit;   /* unit attribute ("LSB", "pJ", "1" for fractions and counts) */
	size_t width;       /* values per point (1: scalar); 0: the provider's width() says */
	const char *help;   /* one line */
} xb_sweep_metric;

/* What one evaluation is asked for. */
typedef struct xb_sweep_job {
	uint64_t point;             /* row of the point */
	unsigned repeat;            /* 0 .. repeats - 1 */
	const unsigned char *want;  /* [nmetrics]: non-zero for the metrics requested */
	const size_t *offset;       /* [nmetrics]: index in OUT of each metric's first value */
} xb_sweep_job;

/* A metric provider (a const table, like gsl_rng_type). */
typedef struct xb_sweep_provider {
	const char *name;                 /* "tile" */
	const char *help;                 /* one line */
	const xb_sweep_metric *metrics;   /* its metrics */
	size_t nmetrics;
	size_t state_size;                /* bytes of state (zeroed before init), may be 0 */
	/* Prepare STATE for the sweep whose points start from BASE (may be NULL). */
	xb_status (*init)(void *state, const xb_config *base, xb_err *err);
	/* Release what init acquired (may be NULL); called after a failed init too. */
	void (*fini)(void *state);
	/* Width of metric M when its table says 0 (may be NULL otherwise); fixed for the
	 * sweep, called after init. */
	size_t (*width)(const void *state, size_t m);
	/* Evaluate the configuration CFG of one point and repeat: write the values of the
	 * requested metrics at OUT + job->offset[m] (OUT arrives filled with NaN).  An
	 * error fails the point with the message left on ERR (say which key is at fault);
	 * it must not depend on which rank or in which order the point is evaluated. */
	xb_status (*eval)(void *state, const xb_config *cfg, const xb_sweep_job *job,
			  double *out, xb_err *err);
	/* Estimated cost of evaluating CFG once, in COST_UNIT (may be NULL; a negative or
	 * NaN result means unknown).  Orders the work (costly first) and --dry-run sums it. */
	double (*cost)(const void *state, const xb_config *cfg);
	const char *cost_unit;            /* "synapse-events", "inferences", ... */
} xb_sweep_provider;

/* ---- the sweep description --------------------------------------------------- */

typedef struct xb_sweep xb_sweep;

typedef enum xb_sweep_mode { XB_SWEEP_GRID = 0, XB_SWEEP_ZIP = 1, XB_SWEEP_RANDOM = 2 } xb_sweep_mode;

/* What xb_sweep_load() needs besides the file. */
typedef struct xb_sweep_options {
	const xb_sweep_provider *const *providers;  /* the providers offered */
	size_t nproviders;
	const char *preset;           /* overrides the file's preset (-p), or NULL */
	const char *const *sets;      /* "section.key=value" overrides applied after the */
	size_t nsets;                 /*   file's sections (-s) */
} xb_sweep_options;

/* Read and validate the sweep file PATH and instantiate the providers of the metrics
 * it asks for.  The configuration keys must be registered (xb_register_all_keys).
 * NULL on error with the message in ERR: XB_ENOENT/XB_EIO for a missing or
 * unreadable file (sweep or base), XB_ECONFIG for anything the file says wrong,
 * naming FILE:LINE and the key; a provider's init error as it reported it. */
xb_sweep *xb_sweep_load(const char *path, const xb_sweep_options *opt, xb_err *err);
void xb_sweep_free(xb_sweep *sw);
const char *xb_sweep_errmsg(const xb_sweep *sw);

xb_sweep_mode xb_sweep_get_mode(const xb_sweep *sw);
const char *xb_sweep_mode_name(xb_sweep_mode mode);     /* "grid", "zip", "random" */
uint64_t xb_sweep_npoints(const xb_sweep *sw);
unsigned xb_sweep_repeats(const xb_sweep *sw);
uint64_t xb_sweep_seed(const xb_sweep *sw);
/* "per-point" or "common" (see Seeds). */
const char *xb_sweep_seeds_name(const xb_sweep *sw);
/* The resolved base configuration (every point starts from it). */
const xb_config *xb_sweep_base(const xb_sweep *sw);

/* Axes, in file order. */
size_t xb_sweep_naxes(const xb_sweep *sw);
const char *xb_sweep_axis_key(const xb_sweep *sw, size_t axis);
/* 1 if the axis holds numbers (float64 dataset), 0 if words (string dataset). */
int xb_sweep_axis_numeric(const xb_sweep *sw, size_t axis);
/* Value of AXIS at POINT (< npoints): *NUM for a numeric axis, *TEXT (owned by SW)
 * for a word axis; either pointer may be NULL. */
void xb_sweep_value(const xb_sweep *sw, uint64_t point, size_t axis, double *num,
		    const char **text);

/* Metrics asked for, in the order of the `metrics` line. */
size_t xb_sweep_nmetrics(const xb_sweep *sw);
const char *xb_sweep_metric_name(const xb_sweep *sw, size_t m);
const char *xb_sweep_metric_unit(const xb_sweep *sw, size_t m);
size_t xb_sweep_metric_width(const xb_sweep *sw, size_t m);
/* Values of one point: the sum of the widths; metric m starts at the sum of the
 * widths before it. */
size_t xb_sweep_nvalues(const xb_sweep *sw);

/* The configuration of POINT, REPEAT (new; the caller frees it).  NULL with the
 * message in ERR if a value is refused (it names the key). */
xb_config *xb_sweep_point_config(const xb_sweep *sw, uint64_t point, unsigned repeat,
				 xb_err *err);

/* Evaluate POINT over all repeats: *STATUS XB_SWEEP_DONE with MEAN and STD (each
 * xb_sweep_nvalues() doubles; STD NaN when repeats = 1), or XB_SWEEP_FAILED with
 * MESSAGE (XB_ERRMSG_MAX bytes, may be NULL) saying which repeat failed and why.
 * Returns XB_ENOMEM only; evaluation errors are results. */
xb_status xb_sweep_eval_point(xb_sweep *sw, uint64_t point, int *status, double *mean,
			      double *std, char *message);

/* Estimate of the work: evaluations = points x repeats; *COST the sum of the
 * providers' estimates over the points (repeats included) and *UNIT their unit, or
 * NaN and NULL when a provider cannot estimate (or the units differ). */
void xb_sweep_estimate(const xb_sweep *sw, double *evaluations, double *cost,
		       const char **unit);

/* Print the --dry-run listing to OUT: '#' lines with the mode, points, repeats,
 * metrics and the work estimate, then a table: a header "point <key>...", one row
 * per point (words containing spaces in double quotes).  XB_EIO if writing fails. */
xb_status xb_sweep_list(xb_sweep *sw, FILE *out);

/* ---- running -------------------------------------------------------------------- */

typedef struct xb_sweep_run_opts {
	const char *output;         /* HDF5 file to write (required) */
	int resume;                 /* continue OUTPUT if it exists (else start it) */
	const char *command_line;   /* root attribute command_line, or NULL */
	xb_progress_fn progress;    /* called on rank 0 after each result, or NULL; */
	void *progress_ud;          /*   returning non-zero stops after the points in flight */
} xb_sweep_run_opts;

typedef struct xb_sweep_summary {
	uint64_t points;            /* points of the sweep */
	uint64_t done_before;       /* done or failed before this run (resume) */
	uint64_t computed;          /* evaluated by this run, on all ranks */
	uint64_t failed;            /* failed points in the file (all runs) */
	uint64_t pending;           /* still pending (stopped early) */
	double wall_s;              /* wall time of the evaluation phase */
	int rank, nranks;           /* this rank and the number of ranks */
} xb_sweep_summary;

/* Evaluate every pending point and write OUTPUT (see the design comment).  Called by
 * every rank when MPI is initialised (collective); rank 0 alone opens the file.
 * Errors (on every rank; the message is complete on rank 0): XB_EIO with the name
 * of OUTPUT when it exists and RESUME is not set (nothing is overwritten) or cannot
 * be written; XB_EFORMAT when RESUME finds a file not made from this sweep; errors
 * of the file layer.  SUMMARY may be NULL. */
xb_status xb_sweep_run(xb_sweep *sw, const xb_sweep_run_opts *o, xb_sweep_summary *summary);

/* ---- MPI -------------------------------------------------------------------------- */

/* Initialise MPI (MPI_THREAD_FUNNELED: only the main thread calls MPI) if built with
 * it and not yet done; a no-op otherwise (one rank).  XB_EUNSUPPORTED, message in the
 * thread-local slot, if MPI_Init_thread fails. */
xb_status xb_sweep_mpi_init(int *argc, char ***argv);
/* Finalise MPI if xb_sweep_mpi_init initialised it. */
void xb_sweep_mpi_finalize(void);
/* This process's rank and the number of ranks (0 and 1 without MPI). */
int xb_sweep_mpi_rank(void);
int xb_sweep_mpi_size(void);
/* 1 if OK is non-zero on every rank (a collective reduction), else 0. */
int xb_sweep_mpi_all(int ok);
/* 1 if this build has MPI. */
int xb_sweep_have_mpi(void);

#ifdef __cplusplus
}
#endif
#endif /* XB_SWEEP_H */
