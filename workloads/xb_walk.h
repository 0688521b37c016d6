/* xb_walk.h - walking noise: layer-wise noise robustness of xbarsim's networks (midpoint noise levels).
 * Injects Gaussian noise after one operation of a network at a time, sweeps its level, finds the midpoint.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it measures.  A noise site is the output of one operation of a network: the
 * input (site 0) and the output of every layer (dense/conv, batch norm, ReLU, pooling,
 * requant, ..., the last layer), except flatten, whose output is its input reshaped
 * (noise after it equals noise before it).  In "walking" mode noise enters at one site
 * at a time; in "global" mode at every site at once (one curve, named "global").
 *
 * Noise at level A on an activation y of a site (every element independently):
 *   additive        y' = y + sigma A n_a
 *   multiplicative  y' = y (1 + A n_m)                 (y * N(1, A^2))
 *   combined        y' = y (1 + A (1 - r) n_m) + sigma A r n_a
 * with n_a, n_m independent N(0, 1) and the ratio r in [0, 1] (walk.ratio).  sigma is 1,
 * or with normalisation (walk.normalise) the standard deviation of the site's clean
 * activations over all evaluated samples and elements, so that A is relative to the
 * site's size (the multiplicative part is relative by construction).  The normals come
 * from Random123's philox4x32-10 keyed by the seed and counted by (repeat, site,
 * sample, element), the sample being its position among those evaluated, with
 * Box-Muller: a result depends neither on the thread count nor on the batch size, and
 * every level of a repeat sees the same normals (common random numbers: the curves
 * are smooth in A).
 *
 * Midpoint.  At each of the log-spaced levels A_0 < ... < A_{L-1} and each repeat the
 * accuracy over the samples is measured.  The target is (clean + chance) / 2 with the
 * clean (noise-free) accuracy on the same samples and chance = 1 / classes.  The
 * midpoint of a curve is its first downward crossing of the target: the first j with
 * acc_j <= target < acc_{j-1}, then the crossing of the curve interpolated linearly in
 * log A between A_{j-1} and A_j, found by bisection (40 halvings of the log interval).
 * It is NaN if the curve is below the target already at A_0, +inf if it never falls to
 * the target.  A site's midpoint is that of the mean curve over repeats; its interval
 * is a percentile bootstrap over repeats (resample the repeats with replacement, take
 * the mean curve's midpoint, repeat walk.bootstrap times; the (1 - c)/2 and (1 + c)/2
 * quantiles for confidence c), the resampling drawn from philox keyed by the seed, so
 * it is deterministic.  With one repeat the interval is the point.  The interval
 * covers noise-seed variation only, not the choice of samples.
 *
 * Device noise (XB_WALK_DEVICE).  The device's own noise sources instead of Gaussian
 * noise on activations: the sites are the analog layers, and every analog layer runs on
 * the device backend (xb_device_nn.h) with the tile parameters P->device.  The clean
 * reference runs every analog layer on a device with every noise source off
 * (noise.enable = false); walking site s, its layer alone runs on a device whose only
 * noise source is P->source with sigma = A (read noise and per-event noise and the
 * per-column offset in reference LSB, per-column gain and per-synapse gain relative);
 * global mode puts that device under every analog layer.  Levels are absolute (never
 * normalised).  Such a device is built for every (site, level, repeat) and batch; its
 * analog layers are mapped onto tiles in network order, as `xbarsim run` maps them,
 * so a layer meets the fixed pattern of its own tiles; repeat k uses chip seed
 * philox(seed, k) (fixed pattern and temporal draws), and a vector's noise is keyed by
 * its sample's position among the evaluated samples (xb_device_nn_set_sample): every
 * level of a repeat sees the same draws.  A network not quantized is quantized first
 * for the device's gain from the first min(512, samples) evaluated samples, as
 * `xbarsim run` does; the network's backend and mode are restored afterwards.
 *
 * Statistics for comparing networks.  Per weight layer (every layer with a "weight"
 * tensor): the mean and the largest |w| of its float weights.  Per activation (the
 * input and every layer output but flatten's, whatever the sites): over the clean
 * activations of all evaluated samples and elements, min and max, and the shares
 * near_low (elements <= min + b (max - min)) and near_high (>= max - b (max - min)),
 * b = P->binary_band (0.05); near_binary = near_low + near_high, the share of
 * near-binary activations (1 when max = min: all in near_low).
 *
 * Cost and parallelism.  Samples go through the network in batches of 256; the clean
 * activations of a batch are computed once and every (site, level, repeat) restarts
 * from the clean activation of its site, so walking costs about sites * levels *
 * repeats forward passes of the layers after the site.  The layers parallelise with
 * OpenMP as in xb_nn.h (bit-identical for any thread count); noise injection runs
 * OpenMP over samples.  Over MPI ranks (or any set of cooperating processes): with
 * P->nranks > 1, the (site, repeat, level) items, numbered ((s R) + k) L + j, are dealt
 * round robin, item i to rank i mod nranks; every rank computes the clean pass and
 * the statistics in full and counts the right answers of its own items, then
 * P->reduce sums the integer counts over the ranks (exact, in any order): results are
 * identical for any rank and thread count.
 *
 * Invariants.  The network is used in eval mode, in float or quantized mode as it is
 * (a quantized network's backend sees noisy inputs as codes); it is not changed except
 * for its workspace (and, with device noise, its quantization when it had none).  No
 * function prints or exits.
 */
#ifndef XB_WALK_H
#define XB_WALK_H

#include "xb_base.h"
#include "xb_devices.h"
#include "xb_nn.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XB_WALK_SCHEMA "xbarsim-walk"
#define XB_WALK_SCHEMA_VERSION 1

/* Register the [walk] keys (idempotent; call before xb_config_new). */
xb_status xb_walk_register_keys(void);

typedef enum xb_walk_noise {
	XB_WALK_ADDITIVE = 0,
	XB_WALK_MULTIPLICATIVE = 1,
	XB_WALK_COMBINED = 2,
	XB_WALK_DEVICE = 3        /* the device's own noise source xb_walk_params.source */
} xb_walk_noise;

/* Device noise sources walked by XB_WALK_DEVICE (the level is the source's sigma). */
typedef enum xb_walk_source {
	XB_WALK_SRC_READ = 0,        /* noise.read_lsb: read noise per conversion, LSB */
	XB_WALK_SRC_FPN_GAIN = 1,    /* noise.fpn_gain: per-column ADC gain, relative */
	XB_WALK_SRC_FPN_OFFSET = 2,  /* noise.fpn_offset_lsb: per-column offset, LSB */
	XB_WALK_SRC_EVENT = 3,       /* noise.event_lsb: charge noise per event, LSB */
	XB_WALK_SRC_FPN_SYNAPSE = 4  /* noise.fpn_synapse: per-synapse gain, relative */
} xb_walk_source;

/* Sums COUNTS[N] element-wise over the cooperating ranks, in place, and tells whether
 * every rank has OK set (non-zero return) -- with MPI an MPI_Allreduce of each.  Every
 * rank calls it exactly once per walk, also after an error (OK = 0). */
typedef int (*xb_walk_reduce_fn)(void *ud, uint64_t *counts, size_t n, int ok);

typedef enum xb_walk_mode {
	XB_WALK_WALKING = 0,   /* one site at a time */
	XB_WALK_GLOBAL = 1     /* every site at once */
} xb_walk_mode;

/* Noise type named NAME ("additive", "multiplicative", "combined", "device"), -1 if
 * none. */
int xb_walk_noise_parse(const char *name);
const char *xb_walk_noise_name(xb_walk_noise noise);
/* Device source named NAME ("read", "fpn_gain", "fpn_offset", "event", "fpn_synapse"),
 * -1 if none; its name, its configuration key and the unit of its level ("LSB" or
 * "relative"). */
int xb_walk_source_parse(const char *name);
const char *xb_walk_source_name(xb_walk_source src);
const char *xb_walk_source_key(xb_walk_source src);
const char *xb_walk_source_unit(xb_walk_source src);

typedef struct xb_walk_params {
	xb_walk_noise noise;       /* additive */
	xb_walk_mode mode;         /* walking */
	int nlevels;               /* log-spaced levels (16) ... */
	double level_min;          /* ... from (1e-2) ... */
	double level_max;          /* ... to (10), both included; 1 level: level_min */
	int repeats;               /* noise seeds per level (5) */
	size_t samples;            /* samples evaluated, spread evenly; 0 = all (1000) */
	int normalise;             /* scale A by the site's clean standard deviation (1) */
	double ratio;              /* combined: r, share of the additive part (0.5) */
	uint64_t seed;             /* noise and bootstrap stream (1) */
	int bootstrap;             /* bootstrap resamples of the interval (1000) */
	double confidence;         /* of the interval (0.95) */
	double binary_band;        /* near-binary band, fraction of an activation's range (0.05) */
	xb_walk_source source;     /* XB_WALK_DEVICE: the noise source walked (read) */
	const xb_tile_params *device;   /* XB_WALK_DEVICE: the tiles (NULL: none; caller-owned) */
	const char *calibration_file;   /* XB_WALK_DEVICE: calibration.file (NULL: none) */
	int rank, nranks;          /* this process among the cooperating ranks (0, 1) */
	xb_walk_reduce_fn reduce;  /* sums the counts over the ranks (NULL: one rank) */
	void *reduce_ud;
	xb_progress_fn progress;   /* forward passes done of the total (NULL: none) */
	void *progress_ud;
} xb_walk_params;

xb_walk_params xb_walk_default_params(void);
/* The parameters of the [walk] keys of CFG (registered and resolved). */
xb_status xb_walk_params_from_config(const xb_config *cfg, xb_walk_params *p, xb_err *err);

/* The outcome of a walk (all arrays malloc'd, owned; free with xb_walk_result_free). */
typedef struct xb_walk_result {
	size_t nsites;             /* sites walked (1 in global mode) */
	char **name;               /* [nsites] "input", "3.relu" (1-based layer), "global" */
	int *layer;                /* [nsites] layer whose output it is, -1 input/global */
	double *scale;             /* [nsites] sigma: clean std at the site (1 unnormalised) */
	double *midpoint, *midpoint_lo, *midpoint_hi;   /* [nsites], in units of A */
	int nlevels, repeats;
	double *levels;            /* [nlevels] A */
	double *acc;               /* [nsites][repeats][nlevels] accuracy of each repeat */
	double *acc_mean;          /* [nsites][nlevels] mean over repeats */
	double clean_accuracy;     /* noise-free, on the same samples */
	double chance_accuracy;    /* 1 / classes */
	double target;             /* (clean + chance) / 2 */
	size_t samples;            /* evaluated */
	const char *level_unit;    /* unit of the levels (static string): "std" (normalised),
				    * "1" (absolute), "LSB" or "relative" (device sources) */
	/* activation statistics (design comment), one entry per activation */
	size_t nacts;
	char **act_name;           /* [nacts] named like the sites */
	int *act_layer;            /* [nacts] layer whose output it is, -1 input */
	double *act_min, *act_max; /* [nacts] over the clean activations */
	double *near_low, *near_high;   /* [nacts] shares of elements near min / max */
	/* weight statistics, one entry per layer with weights */
	size_t nweights;
	char **w_name;             /* [nweights] "2.dense" */
	int *w_layer;              /* [nweights] layer index */
	uint64_t *w_count;         /* [nweights] weights */
	double *w_mean_abs, *w_max_abs;   /* [nweights] mean and max |w| of the float weights */
	xb_walk_params params;     /* as run (callbacks and pointers cleared) */
} xb_walk_result;

void xb_walk_result_free(xb_walk_result *r);

/* Walk NET over DATA (labels in [0, classes), classes = the network's output size)
 * with parameters P (NULL: defaults).  *OUT receives the result.  Errors: XB_EINVAL for
 * empty data or parameters out of range (naming the parameter), XB_ERANGE for a label
 * outside the classes, XB_EUNSUPPORTED for device noise on a network without analog
 * layers, the network's and the device backend's errors, XB_ESTATE when another rank
 * failed; *OUT is NULL then.  Progress callbacks asking to stop end the walk with
 * XB_ESTATE. */
xb_status xb_walk_run(xb_nn_net *net, const xb_nn_data *data, const xb_walk_params *p,
		      xb_walk_result **out, xb_err *err);

/* Inject noise into ACT, N samples of SIZE elements, the first being sample FIRST of the
 * data set: the noise of the design comment at level LEVEL with scale SIGMA for site
 * SITE and repeat REPEAT.  Deterministic for any thread count. */
void xb_walk_inject(float *act, size_t n, size_t size, size_t first, xb_walk_noise noise,
		    double level, double sigma, double ratio, uint64_t seed, int repeat,
		    int site);

/* Midpoint of one curve ACC[N] at the increasing levels LEVELS[N] for TARGET (design
 * comment): NaN if ACC[0] <= TARGET, +inf if no crossing. */
double xb_walk_midpoint(const double *levels, const double *acc, int n, double target);

/* Write R to PATH (schema "xbarsim-walk" v1, doc/walk.md), crash-safe through the
 * traces writer: root attributes of the run, /sites (name, layer, scale, midpoint,
 * midpoint_lo, midpoint_hi, clean_accuracy, chance_accuracy: 1-D over sites), /curves
 * (levels [nlevels], accuracy [nsites][nlevels], accuracy_repeats
 * [nsites][repeats][nlevels]), /activations (name, layer, min, max, near_low,
 * near_high, near_binary), /weights (name, layer, count, mean_abs, max_abs).
 * CONFIG_INI, COMMAND_LINE may be NULL. */
xb_status xb_walk_save(const xb_walk_result *r, const char *path, const char *config_ini,
		       const char *command_line, xb_err *err);

/* The report of a walk file H5 (`xbarsim report`) into the new directory OUT_DIR:
 * accuracy.dat (level, then the mean accuracy of each site; chance and target as
 * comments and in the script) with accuracy.gp (log x, one curve per site, the chance
 * line dashed), midpoints.dat (index, site, midpoint, lo, hi; sites whose midpoint
 * lies outside the levels are listed with "nan") with midpoints.gp (bars with the
 * interval), and summary.md.  GNUPLOT: path of gnuplot (NULL: the one configure found,
 * "": none); without it the .dat and .gp files are still written.  OUT_DIR appears
 * complete or not at all (written as OUT_DIR.tmp.PID, then renamed).  *FIGURES (may
 * be NULL) gets the PNGs drawn, -1 without gnuplot.  Errors name the file and
 * dataset: XB_EFORMAT (not a walk file, inconsistent shapes), XB_EIO (OUT_DIR exists,
 * writing failed). */
xb_status xb_walk_report(const char *h5, const char *out_dir, const char *gnuplot,
			 int *figures, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_WALK_H */
