/* xb_calibration.h - fitting the per-column device model of a tile to measured ADC codes.
 * Measurement files, the default measurement protocol, the fit, calibration files.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What is fitted.  For column c the measured code of a stimulus is (DESIGN.md §1)
 *     y = clamp(floor(a_c v + o_c + n), adc_min, adc_max),   n ~ N(0, sigma_read^2),
 * where the integrator v starts at 0, receives the events of the stimulus in time order
 * (charge g x_r w_rc per event), leaks as v <- v exp(-dt / tau) between events and
 * during the read delay, and saturates at each event, v <- S(v + q; lo, hi) (hard clamp
 * or smooth).  In code units only these per-column quantities are identifiable, and
 * they are what a calibration holds (all "LSB" are ADC codes):
 *     gain            G = a_c g, codes per unit of input x weight
 *     offset_lsb      o_c, the code of an empty integrator (before the floor)
 *     sat_lo_lsb      a_c lo_c + o_c, the code at which the integrator saturates low
 *     sat_hi_lsb      a_c hi_c + o_c, ... high
 *     tau_us          the integrator's leak time constant
 *     read_noise_lsb  sigma_read
 * The model is written in u = a_c v (codes above the offset): events add G x w, the
 * limits are sat_lo - o and sat_hi - o, the read gives floor(u + o + n).
 *
 * How.  Per column, nonlinear least squares (GSL gsl_multifit_nlinear, trust region
 * Levenberg-Marquardt, analytic Jacobian propagated event by event) of the mean code of
 * every stimulus over its K repeats against the model's *expected* code
 *     E[y] = adc_min + sum_{j = adc_min+1}^{adc_max} Phi((m - j) / sigma),
 * m = u + o the pre-ADC value.  This is exact for the floor and for the clamp at the
 * ADC rails: a code on a rail is treated as censored (the observation y = adc_max
 * says only m + n >= adc_max), not as an exact value - a Tobit-style expected-value
 * model, with no need to drop or bound rail codes.  Points are weighted by K / Var[y]
 * (the exact variance of the censored quantized normal) from the current parameters
 * (iteratively reweighted).  The read noise comes from the spread of the K repeats
 * (matched to the exact variance of the quantized, clamped read).  Robust: single
 * repeats further than k sigma from their stimulus' median and whole stimuli whose
 * standardized residual exceeds k robust sigmas are dropped and counted.  Starting
 * values: a robust line through the unsaturated means, then a grid search of each
 * saturation limit; a limit enters the model only when a likelihood-ratio test (chi^2
 * lower by 25 robust residual variances) shows that some stimulus reached it, and is
 * tested again after the fit; otherwise it is unidentified: NaN, with a warning giving
 * the farthest level the data reached.  tau is fitted as the leak rate 1/tau and is
 * unidentified when the rate is not resolved from zero (2 standard errors).  /membrane
 * samples, when present, are further residuals (weighted by their own RMS).  Hard and
 * smooth saturation are both fitted on a subset of columns and the shape with the
 * smaller summed AIC (n ln(RSS/n) + 2p) is chosen for all; the smooth shape adds the
 * knee width.  Standard errors are the diagonal of (J^T W J)^-1 from
 * gsl_multifit_nlinear_covar, scaled by max(1, chi^2/dof).
 * Over all columns: per-synapse gain deviations eta show as chi^2 beyond the repeats'
 * noise; their variance is a pooled moment estimate, and when it is resolved (3
 * standard errors) every column is refitted by generalized least squares with the
 * correlation they cause between stimuli sharing rows (so the standard errors stay
 * honest).  Per-event noise shows as the repeats' variance growing with the number of
 * events since the last clamp (a weighted regression with a slope common to all
 * columns); when resolved, each column's read noise is the intercept.  Columns are
 * fitted in parallel (OpenMP); each result depends only on its column and the pooled
 * estimates, never on the thread count.
 *
 * Files (DESIGN.md §4).  A measurement file (schema "xbarsim-measurement") holds the
 * stimuli and the codes; a calibration file (schema "xbarsim-calibration") the per-column
 * estimates, each with a <name>_stderr twin.  Readers validate shapes, types, ranges and
 * finiteness and name the dataset at fault.
 */
#ifndef XB_CALIBRATION_H
#define XB_CALIBRATION_H

#include "xb_base.h"
#include "xb_devices.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the fitted parameters ----------------------------------------------------- */

/* Index of each per-column parameter; also the order of the calibration datasets. */
typedef enum xb_calibration_param {
	XB_CAL_GAIN = 0,        /* codes per unit of input x weight (a_c g) */
	XB_CAL_OFFSET,          /* offset_lsb: code of an empty integrator */
	XB_CAL_SAT_LO,          /* sat_lo_lsb: code of the lower saturation limit */
	XB_CAL_SAT_HI,          /* sat_hi_lsb: code of the upper saturation limit */
	XB_CAL_TAU,             /* tau_us: leak time constant */
	XB_CAL_READ_NOISE,      /* read_noise_lsb: std of the read noise */
	XB_CAL_NPARAM
} xb_calibration_param;

/* Dataset name ("gain", "offset_lsb", ...) and unit ("LSB", "us", ...) of parameter P. */
const char *xb_calibration_param_name(xb_calibration_param p);
const char *xb_calibration_param_unit(xb_calibration_param p);

/* Shape of the integrator's saturation. */
typedef enum xb_calibration_sat {
	XB_CAL_SAT_AUTO = -1,   /* fit both, keep the one the data prefer (AIC) */
	XB_CAL_SAT_HARD = 0,    /* v <- min(max(v, lo), hi) */
	XB_CAL_SAT_SMOOTH = 1   /* the device model's smooth saturation with the same limits */
} xb_calibration_sat;

/* "hard", "smooth", "auto"; and back (-2 when NAME matches none). */
const char *xb_calibration_sat_name(xb_calibration_sat s);
int xb_calibration_sat_parse(const char *name);

/* ---- measurement files ----------------------------------------------------------- */

/* A measurement in memory: the stimuli sent to one tile and the codes read back.
 * All arrays row-major and owned by the struct (free with xb_calibration_meas_free). */
typedef struct xb_calibration_meas {
	int input_bits;            /* root attribute input_bits: inputs in [0, 2^bits - 1] */
	int weight_bits;           /* weight_bits: |w| <= 2^bits - 1 */
	int adc_bits;              /* adc_bits */
	int adc_min, adc_max;      /* the ADC rails, codes */
	double event_interval_ns;  /* default spacing of consecutive events, ns */
	int num_sends;             /* the event sequence of a stimulus is sent this many times */
	double read_delay_ns;      /* optional root attribute read_delay_ns: time from the last
				    * event to the conversion; NaN when the file has none */
	size_t rows;               /* R: signed logical rows */
	size_t cols;               /* C: columns */
	size_t nstim;              /* N: stimuli */
	size_t nrep;               /* K: repeats of each stimulus */
	size_t ntime;              /* T: samples of the membrane traces (0 = none) */
	int8_t *weights;           /* /weights [R, C] */
	uint8_t *inputs;           /* /inputs [N, R] */
	int32_t *order;            /* /order [N, R]: row of the k-th event, -1 pads; or NULL */
	double *interval_ns;       /* /interval_ns [N], or NULL (event_interval_ns for all) */
	int16_t *codes;            /* /codes [N, K, C] */
	float *membrane;           /* /membrane [N, T, C]: the integrator in codes (a_c v + o_c)
				    * as a membrane probe records it, or NULL */
	double *time_ns;           /* /time_ns [T]: sample times after the first event, or NULL */
	double *truth[XB_CAL_NPARAM]; /* /truth/<name> [C] of a simulated chip, or NULL each */
} xb_calibration_meas;

/* A measurement of NSTIM stimuli x NREP repeats on ROWS x COLS with every array
 * allocated (zeroed; order, interval_ns, membrane, truth left NULL), attributes set to the
 * hx defaults (5-bit inputs, 6-bit weights, 8-bit ADC [-128, 127], 40 ns, 1 send, no read
 * delay).  NULL on ENOMEM or zero sizes (message on ERR). */
xb_calibration_meas *xb_calibration_meas_new(size_t rows, size_t cols, size_t nstim,
					     size_t nrep, xb_err *err);
void xb_calibration_meas_free(xb_calibration_meas *m);

/* Check M for consistency (ranges of attributes, weights, inputs, orders, intervals and
 * codes, finiteness); XB_EFORMAT/XB_ERANGE/XB_ENUMERIC naming the dataset. */
xb_status xb_calibration_meas_check(const xb_calibration_meas *m, xb_err *err);

/* Read and validate the measurement file PATH (DESIGN.md §4).  Every error names PATH and
 * the dataset or attribute: missing (XB_EFORMAT), wrong rank, shape or type (XB_EFORMAT),
 * NaN/Inf (XB_ENUMERIC), values out of range - inputs beyond input_bits, weights beyond
 * weight_bits, codes outside [adc_min, adc_max], order rows out of range or repeated
 * (XB_ERANGE).  *OUT is NULL on error. */
xb_status xb_calibration_meas_read(const char *path, xb_calibration_meas **out, xb_err *err);

/* Write M to PATH (crash-safe: a temporary file renamed into place) with the root
 * attributes config = CONFIG_INI and command_line = COMMAND_LINE (either may be NULL).
 * Truth arrays present in M go to the group /truth (simulation only). */
xb_status xb_calibration_meas_write(const xb_calibration_meas *m, const char *path,
				    const char *config_ini, const char *command_line,
				    xb_err *err);

/* The time-ordered events of stimulus N (one send): ROWS_OUT[k] for k < return value.
 * From /order when present (rows listed with input 0 send no event, as on the tile),
 * otherwise the non-zero inputs in the schedule ORDER (the preset's input.order, as
 * the tile defines it: descending, ascending, positive-first, negative-first,
 * magnitude; XB_ORDER_RANDOM cannot be reproduced and gives descending).  ROWS_OUT holds
 * M->rows entries. */
size_t xb_calibration_meas_events(const xb_calibration_meas *m, size_t n, xb_order order,
				  int32_t *rows_out);

/* ---- the default measurement protocol -------------------------------------------- */

/* What the protocol is designed for: the tile's nominal (datasheet) parameters. */
typedef struct xb_calibration_design {
	size_t rows, cols;         /* signed rows and columns of the tile */
	int input_bits, weight_bits, adc_bits;
	int adc_min, adc_max;
	double tau_us;             /* nominal leak: sets the length of the leak probes */
	double event_interval_ns;  /* the preset's event spacing */
	int num_sends;
	size_t repeats;            /* K (default 8) */
	uint64_t seed;             /* seed of the random masks */
} xb_calibration_design;

/* A design filled from the nominal values of the hx preset. */
xb_calibration_design xb_calibration_design_default(void);

/* Make the stimuli of the default protocol for D (codes left zero): weights, inputs,
 * explicit /order and /interval_ns.  Documented in doc/calibration.md:
 *   1. weight sweep at fixed input: the ladder rows switched on one more at a time,
 *      positive and negative (transfer curve through both saturations);
 *   2. input sweep: a fixed mixed set of rows at inputs 1 .. 2^bx - 1;
 *   3. random masks (densities 0.85^i, as BrainScaleS-2's gain calibration);
 *   4. saturation probes: strong rows only, both signs, and ordering probes: the same
 *      positive + negative multiset sent positive-first, negative-first, interleaved;
 *   5. leak probes: strong events then silent (zero-weight) rows at several spacings
 *      (the longest lasting about 1.3 tau), and the same with the silent rows first.
 * Every stimulus is repeated D->repeats times.  NULL on error (ENOMEM, a tile too small:
 * fewer than 16 signed rows). */
xb_calibration_meas *xb_calibration_protocol(const xb_calibration_design *d, xb_err *err);

/* ---- the fit ---------------------------------------------------------------------- */

/* Options of the fit (defaults from xb_calibration_fit_defaults()). */
typedef struct xb_calibration_params {
	xb_calibration_sat saturation; /* AUTO: chosen by AIC on select_cols columns */
	size_t select_cols;        /* columns used to choose the shape (default 16; 0 = all) */
	double outlier_k;          /* drop points beyond k sigma (default 5); 0 = keep all */
	int max_iter;              /* LM iterations per fit (default 200) */
	xb_order order;            /* schedule of files without /order (default descending;
				    * random is refused: the file must hold /order) */
	double read_delay_ns;      /* read delay used when the file has none (default 0) */
	double tau_us_init;        /* starting tau (default 60) */
	double knee_lsb_init;      /* starting knee width of the smooth saturation, codes (10) */
	int threads;               /* OpenMP threads, 0 = default; results do not depend on it */
	xb_progress_fn progress;   /* called as columns finish (may be NULL) */
	void *progress_ud;
} xb_calibration_params;

xb_calibration_params xb_calibration_fit_defaults(void);

/* Per-column fit status bits. */
#define XB_CAL_COL_CONVERGED 1u    /* the LM driver converged */
#define XB_CAL_COL_GOOD 2u         /* converged, gain and offset identified, chi2/dof < 4 */
#define XB_CAL_COL_FAILED 4u       /* too little data: nothing fitted (all NaN) */

/* A calibration: per-column estimates with standard errors and diagnostics. */
typedef struct xb_calibration {
	size_t cols;
	char *model;                       /* "ordered-leaky-saturating" */
	xb_calibration_sat saturation;     /* HARD or SMOOTH */
	char *saturation_criterion;        /* how it was chosen (text) */
	double *value[XB_CAL_NPARAM];      /* [cols]; NaN = unidentified */
	double *stderr_[XB_CAL_NPARAM];    /* [cols]; NaN when the value is NaN */
	double *knee_lsb;                  /* [cols] knee width of the smooth saturation, codes
					    * (NaN for hard or when no limit is identified) */
	double *knee_lsb_stderr;           /* [cols] */
	/* diagnostics per column (NULL in a loaded file that lacks them) */
	double *chi2_dof;                  /* chi^2 / dof of the mean-code fit */
	double *residual_rms_lsb;          /* RMS of (single code - model mean), interior points */
	double *event_noise_lsb;           /* per-event noise (NaN: not identified) */
	int32_t *npoints;                  /* stimuli used */
	int32_t *ndropped;                 /* stimuli + repeats dropped as outliers */
	uint32_t *status;                  /* XB_CAL_COL_* */
	/* summary over columns */
	double residual_rms_lsb_all;       /* RMS over all columns */
	double read_noise_lsb_median;      /* median fitted read noise */
	double good_fraction;              /* share of columns with XB_CAL_COL_GOOD */
	double gain_global;                /* median gain: global gain per unit x w */
	double gain_fpn;                   /* relative spread of gains across columns, net of
					    * estimation error (NaN if not resolved) */
	double synapse_fpn;                /* relative per-synapse gain spread (NaN: not
					    * identified by the protocol) */
	double event_noise_lsb_all;        /* pooled per-event noise, NaN if not identified */
	char *warnings;                    /* newline-separated warnings ("" if none) */
} xb_calibration;

/* An empty calibration of COLS columns (all values NaN).  NULL on ENOMEM. */
xb_calibration *xb_calibration_new(size_t cols, xb_err *err);
void xb_calibration_free(xb_calibration *cal);

/* Fit the model to measurement M with options P (NULL = defaults).  Calls xb_gsl_quiet().
 * *OUT receives the calibration; unidentified parameters are NaN and listed in
 * (*OUT)->warnings.  Errors: XB_EINVAL (bad options), XB_EFORMAT (fewer usable stimuli
 * than parameters in every column), XB_ENOMEM. */
xb_status xb_calibration_fit(const xb_calibration_meas *m, const xb_calibration_params *p,
			     xb_calibration **out, xb_err *err);

/* Model prediction for column COL of stimulus N of M under CAL: the expected code
 * (*MEAN), its pre-ADC value m (*PRE, may be NULL), and the prediction of the unordered
 * model (one saturation of the total, no leak; *UNORDERED, may be NULL).  Unidentified
 * limits act as absent, an unidentified tau as no leak. */
xb_status xb_calibration_predict(const xb_calibration *cal, const xb_calibration_meas *m,
				 const xb_calibration_params *p, size_t col, size_t n,
				 double *mean, double *pre, double *unordered);

/* ---- calibration files ------------------------------------------------------------ */

/* Write CAL to PATH (DESIGN.md §4): root attributes schema, schema_version = 1, model,
 * saturation, saturation_criterion, residual statistics, unidentified; per-column
 * datasets gain, offset_lsb, sat_lo_lsb, sat_hi_lsb, tau_us, read_noise_lsb and their
 * _stderr twins, each with a unit attribute; diagnostics datasets. */
xb_status xb_calibration_write(const xb_calibration *cal, const char *path,
			       const char *config_ini, const char *command_line, xb_err *err);

/* Load and validate the calibration file PATH: schema and version, every parameter
 * dataset and its _stderr twin present as 1-D float64 [C] of the same C, no Inf, NaN
 * only as "unidentified" (value and stderr both), gain non-zero, tau > 0, noise >= 0,
 * sat_lo < sat_hi.  Errors name PATH and the dataset.  *OUT is NULL on error. */
xb_status xb_calibration_load(const char *path, xb_calibration **out, xb_err *err);

/* Apply CAL to TILE, index TILE_INDEX of NTILES tiles built from one preset: the
 * per-column values replace the tile's fixed-pattern draws (xb_tile_set_columns).  A
 * calibration of xb_tile_cols(TILE) columns applies to every tile; one of NTILES x
 * cols columns gives each tile its slice (tile i: columns i cols .. (i+1) cols - 1).
 * NaN (unidentified) entries keep the tile's own value.  Errors: XB_EINVAL for a
 * column-count mismatch naming both counts; the tile's XB_ERANGE (e.g. an offset
 * outside the saturation limits) with the column. */
xb_status xb_calibration_apply(const xb_calibration *cal, xb_tile *tile, size_t tile_index,
			       size_t ntiles, xb_err *err);

/* ---- measuring a simulated chip ----------------------------------------------------------- */

/* The protocol design for tiles with parameters P (signed rows, columns of one tile,
 * bits, ADC range, tau, event spacing, sends) with REPEATS repeats. */
xb_calibration_design xb_calibration_design_from_tile(const xb_tile_params *p, size_t repeats);

/* Read the stimuli of a measurement file for `xbarsim measure --stimuli`: as
 * xb_calibration_meas_read, but /codes is optional (when absent, nrep is 0 and codes
 * NULL). */
xb_status xb_calibration_stimuli_read(const char *path, xb_calibration_meas **out, xb_err *err);

/* Run the stimuli of STIM (weights, inputs, optional order and intervals) on a simulated
 * chip with parameters P (chip 0, its fixed pattern keyed by P->chip_seed), REPEATS times
 * each (0: STIM->nrep, or 8 when STIM has no codes), and return the measurement in *OUT:
 * the chip's attributes (bits, ADC range, event spacing, sends, read delay), STIM's
 * stimuli and the codes read.  Signed rows beyond one tile go to further tiles whose
 * codes are added and clamped to the ADC range (as BrainScaleS-2 does); columns beyond
 * one tile go to further tiles.  Tile (i, j) of row block i and column block j is tile
 * i * nj + j of the chip.  With one row block the true per-column parameters of the
 * tiles go to (*OUT)->truth.  CAL (may be NULL) is applied to every tile first
 * (calibration.file: a chip set to calibrated values).  PROGRESS (may be NULL) sees
 * tiles done.  Errors: the tile's (a weight or input out of range: XB_ERANGE),
 * XB_EUNSUPPORTED for encodings other than event and for the ideal model. */
xb_status xb_calibration_measure(const xb_tile_params *p, const xb_calibration_meas *stim,
				 size_t repeats, const xb_calibration *cal,
				 xb_calibration_meas **out, xb_progress_fn progress,
				 void *progress_ud, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_CALIBRATION_H */
