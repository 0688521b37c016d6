/* xb_devices.h - the analog tile in functional mode: array, input encoder and schedule, integrator, ADC, energy.
 * Also the mapping of weight matrices of any size onto several tiles (xb_matrix).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it models (DESIGN.md section 1).  A tile of R physical rows x C columns runs a
 * matrix-vector multiplication (MVM) as a sequence of accumulation events.  Signed
 * weights w in [-(2^bw - 1), 2^bw - 1] are either excitatory/inhibitory row pairs
 * (array.mapping = rowpair: R physical rows hold R/2 signed rows, BrainScaleS-2) or
 * differential conductance pairs (differential: R signed rows, two devices per cell).
 * Input codes x in [0, 2^bx - 1]; a row whose input is 0 sends no event.  Event k
 * happens at t_k = t_0 + k wait_cycles / f_clk (t_0 = integrator.baseline_delay_us,
 * the baseline read after reset) and brings charge, for column c,
 *     q_k = g x w_eff (1 + eta) + e_k,
 * where w_eff is the programmed weight after device effects (programming noise,
 * drift, device read noise, stuck-at faults; w_eff = w without them), eta the
 * fixed-pattern synapse deviation and e_k ~ N(0, event_lsb^2).  Encodings:
 *   event     - one event per non-zero row, in the schedule's row order;
 *   pulse     - one event carrying every row, amplitude = input code;
 *   bitserial - one event per non-empty input bit plane b (LSB- or MSB-first), with
 *               analog shift-add (charge scaled by 2^b, one conversion per MVM,
 *               adc.convert = mvm) or digital shift-add (the integrator is reset for
 *               every plane, each plane converted, y = sum_b 2^b y_b; adc.convert =
 *               bitplane).
 * input.num_sends repeats the event sequence.  Between events the integrator leaks,
 * v <- v exp(-dt / tau_c) (integrator.tau_us = 0: no leak); at an event it saturates,
 * v <- S_c(v + q_k).  S_c is the hard clamp to [lo_c, hi_c] or the smooth saturation
 *     S(v) = v                                  for lo + k <= v <= hi - k,
 *     S(v) = hi - k + k tanh((v - hi + k) / k)  for v > hi - k,
 *     S(v) = lo + k - k tanh((lo + k - v) / k)  for v < lo + k,
 * with k = min(integrator.knee_lsb, hi, -lo): a clamp whose corners are rounded by
 * a scaled tanh of width k.  It keeps the limits lo/hi as asymptotes and is C1; it
 * is the identity on the linear range, so applying it at every event (as section 1
 * does) compresses nothing there and ordered and unordered agree whenever no event
 * reaches a knee; with k = hi = -lo it is the plain scaled tanh h tanh(v / h).
 * Read-out after the last event and the read delay (integrator.read_delay_ns, still
 * leaking):  y_c = clamp(floor(2^(B - F) (a_c v + o_c + n)), adc_min, adc_max), a_c
 * and o_c the per-column gain and offset (fixed pattern, adc.offset_lsb added to
 * o_c), n ~ N(0, sigma_read^2) at every conversion, B = adc.bits, F =
 * adc.full_scale_bits.
 *
 * ADC resolution and units.  An ADC with fewer bits digitises the same analog full
 * scale with fewer levels.  Every quantity in LSB (adc.gain in LSB per unit of input
 * x weight, adc.offset_lsb, integrator.lo_lsb/hi_lsb/knee_lsb, noise.*_lsb, the
 * integrator state v, traces' v_lsb and the per-column overrides of xb_tile_columns)
 * is in *reference LSB*: the LSB of an ADC of F = adc.full_scale_bits bits (default
 * 8, the hx ADC) over that full scale, 2^F reference LSB in all.  An ADC of B bits
 * has codes of 2^(F - B) reference LSB each: its code is the floor above scaled by
 * 2^(B - F), so sweeping adc.bits changes only the quantization, never the analog
 * model (gain, limits, noise keep their physical size).  adc.min/adc.max are in
 * codes of the B-bit ADC; unless set explicitly (by a user file or -s: presets leave
 * them unset) they follow adc.bits as its signed range [-2^(B-1), 2^(B-1) - 1]
 * (xb_adc_set_bits does the same for parameters filled in code).  Example: hx with
 * adc.bits = 4 gives codes -8 .. 7, each 16 reference LSB: a column whose analog
 * value is 37.5 reference LSB reads floor(37.5 / 16) = 2; at B = F everything is
 * exactly as without the scale (2^0 = 1).  The scale is a power of two, applied to
 * a_c g, o_c and the read noise's sigma in advance: every rounding is exact under it,
 * so the code equals floor(2^(B - F) (a_c v + o_c + n)) computed exactly as written.
 * Outputs are codes of the B-bit ADC: y, and the ideal model's y_ideal =
 * 2^(B - F) S g sum_r x_r w_rc (the unquantised value in the same codes, so that y -
 * y_ideal is an error in codes); xb_adc_code_scale gives 2^(B - F) (multiply a code
 * by 2^(F - B) for reference LSB, e.g. to compare sweep points of different B).
 * Models: ordered (the above, event by event), unordered (v = S_c(sum_k q_k): no
 * leak, one saturation of the total; the reference mock of BrainScaleS-2's software
 * when the limits lie beyond the ADC range; the sum of its K per-event deviates is
 * drawn as one N(0, K event_lsb^2) deviate), ideal (y = S g sum_r x_r w_rc as a float,
 * S = input.num_sends: no noise, no device effects, no quantization).
 *
 * Numbers.  The integrator state is carried in single precision in units of input x
 * weight (v / g): without leak and saturation every order then sums the same integers
 * exactly (while they stay below 2^24), so ordered and unordered give the same codes,
 * and the unordered model reproduces the mock's floor(gain * (x . W)) bit for bit.
 * Event encoding keeps the state scaled by the leak still to come, u = v Lambda_k with
 * Lambda_k = lambda^(K-1-k) for event k of K (events are equally spaced, lambda =
 * exp(-dt / tau) in single precision, its powers by repeated single-precision
 * products; with per-column tau, Lambda_c = exp(-(K-1-k) dt / tau_c)).  An event is
 *     u = clamp(fmaf(x Lambda_k, w, u), Lambda_k lo, Lambda_k hi)
 * (smooth: u = Lambda_k S(t / Lambda_k); per-event noise adds Lambda_k e_k), the same
 * operations on every path: a register kernel with samples in the vector lanes (one
 * FMA and one clamp per 16 MACs) and the reference loop give identical results.  The
 * dense encodings (pulse, bit planes) step v directly: v = S(fmaf(s, D, v lambda)),
 * D the planes' sums from sgemm, s = 2^b (analog shift-add) or 1.  The read-out
 * gives the codes of double precision: y = floor(fma(a_c g cs, v lambda_read, cs o_c +
 * n_q)), tried first in single precision 16 columns at a time, with any group that
 * an error bound puts near a step (or holding a NaN) redone in double (tile.c), cs =
 * 2^(B - F) and n_q = (cs sigma_c) z the read noise in codes (a single-precision
 * product of the standard normal z of xb_stream_normals, drawn straight into the
 * conversion loop; the unordered model's hard saturation is fused into it too).  The kernel
 * runs for schedules whose row order is the same for every input (descending,
 * ascending, positive-first, negative-first) with hard saturation, uniform tau and
 * no per-event noise; the others (random, magnitude, explicit orders, smooth
 * saturation, per-event noise, traces, per-column tau, per-MVM stats) run the
 * reference loop.  The products of the unordered and ideal models and of the dense
 * encodings (X W, or each bit plane's P_b W) are exact integer sums: where the weights
 * in force are integers (no per-synapse spread, programming noise or drift) and
 * 2 xmax wmax <= 32767, oneDNN's u8 x s8 -> s32 GEMM computes them (about four times
 * OpenBLAS sgemm's rate with AVX-512 VNNI); otherwise OpenBLAS sgemm, which gives the
 * same bits wherever both apply (every partial sum an integer below 2^24).
 *
 * Schedules (input.order).  descending/ascending: by row index.  positive-first /
 * negative-first: rows whose programmed weights sum (over columns) to a positive
 * (negative) value first, each group in descending index: a row's events reach all
 * columns at once, so a schedule can follow only a per-row sign.  magnitude: by
 * decreasing x_r sum_c |w_rc| (ties: higher row first).  random: a uniform random
 * permutation per MVM and send, from the stream (XB_DRAW_ORDER, sample, send).  An
 * explicit order per MVM can be passed with the batch.
 *
 * Determinism.  Batches are cut into chunks of XB_TILE_CHUNK samples whatever the
 * thread count; every random number is addressed by (seed, chip, tile, sample,
 * column, draw) with sample = batch.sample_base + index (see xb_noise.h).  The
 * unordered and ideal models hand their product blocks of up to 4 chunks, fewer with
 * more threads: their results do not depend on it because the integer product is
 * exact and sgemm computes each row of its product the same way whatever the number of
 * rows (tests/check_tile.c holds it to that with non-integer weights).  Results are
 * identical for any number of OpenMP threads.
 */
#ifndef XB_DEVICES_H
#define XB_DEVICES_H

#include "xb_base.h"
#include "xb_noise.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parameters of the parts -------------------------------------------------------- */

#define XB_TILE_MAX_ROWS 1024     /* physical rows of the largest tile allowed */
#define XB_TILE_MAX_COLS 1024
#define XB_TILE_CHUNK 64          /* samples per work unit (fixed: results never depend on threads) */

typedef enum xb_mapping {
	XB_MAPPING_ROWPAIR = 0,       /* excitatory/inhibitory row pairs: R/2 signed rows */
	XB_MAPPING_DIFFERENTIAL = 1   /* two devices per cell: R signed rows */
} xb_mapping;

/* [tile] rows cols, [array] */
typedef struct xb_array_params {
	int rows;                 /* physical rows R */
	int cols;                 /* columns C */
	int weight_bits;          /* bw: |w| <= 2^bw - 1 */
	xb_mapping mapping;
	double gmax_us;           /* conductance of |w| = 2^bw - 1, uS (device noise models) */
} xb_array_params;

typedef enum xb_encoding { XB_ENC_EVENT = 0, XB_ENC_PULSE = 1, XB_ENC_BITSERIAL = 2 } xb_encoding;
typedef enum xb_order {
	XB_ORDER_DESCENDING = 0, XB_ORDER_ASCENDING, XB_ORDER_RANDOM, XB_ORDER_POSITIVE_FIRST,
	XB_ORDER_NEGATIVE_FIRST, XB_ORDER_MAGNITUDE
} xb_order;
typedef enum xb_bit_order { XB_BITS_LSB_FIRST = 0, XB_BITS_MSB_FIRST = 1 } xb_bit_order;

/* [input] and [clock]: the input encoder (DAC) and its schedule. */
typedef struct xb_encoder_params {
	int bits;                 /* bx: x <= 2^bx - 1 */
	xb_encoding encoding;
	xb_order order;
	int wait_cycles;          /* event clock cycles between events */
	int num_sends;            /* repeats of the event sequence */
	xb_bit_order bit_order;   /* bitserial: plane order */
	double event_mhz;         /* event clock, MHz */
} xb_encoder_params;

typedef enum xb_model { XB_MODEL_ORDERED = 0, XB_MODEL_UNORDERED = 1, XB_MODEL_IDEAL = 2 } xb_model;
typedef enum xb_saturation { XB_SAT_HARD = 0, XB_SAT_SMOOTH = 1 } xb_saturation;

/* [integrator] */
typedef struct xb_integrator_params {
	xb_model model;
	double tau_us;            /* leak time constant, us; 0 = no leak */
	xb_saturation saturation;
	double lo_lsb, hi_lsb;    /* saturation limits, LSB relative to the baseline (lo < 0 < hi) */
	double knee_lsb;          /* smooth saturation: width of the tanh knee, LSB */
	double read_delay_ns;     /* last event to conversion, ns (leaks meanwhile) */
	double baseline_delay_us; /* reset to baseline read, us: the time t_0 of event 0 */
} xb_integrator_params;

typedef enum xb_adc_type { XB_ADC_SAR = 0, XB_ADC_RAMP = 1, XB_ADC_FLASH = 2 } xb_adc_type;
typedef enum xb_convert { XB_CONVERT_MVM = 0, XB_CONVERT_BITPLANE = 1 } xb_convert;

/* [adc] */
typedef struct xb_adc_params {
	int bits;                 /* resolution: max - min + 1 <= 2^bits */
	int min, max;             /* output code range (int8 read relative to a baseline on hx) */
	double gain;              /* global gain g, LSB per unit of input x weight */
	double offset_lsb;        /* global offset added to every o_c, LSB */
	xb_adc_type type;         /* conversion time: sar bits, ramp 2^bits, flash 1 cycle */
	int columns_per_adc;      /* columns sharing one ADC (multiplexed: a timing effect) */
	xb_convert convert;       /* per MVM or per bit plane (digital shift-add) */
	int full_scale_bits;      /* F: the LSB of every *_lsb quantity and of gain is that
				   * of an F-bit ADC over the same full scale (8 on hx) */
} xb_adc_params;

/* [energy]: energy per counted operation (illustrative defaults: set measured values). */
typedef struct xb_energy_params {
	double event_pj;          /* row driver, per event */
	double cell_pj;           /* per device driven by an event */
	double conversion_pj;     /* per ADC conversion */
} xb_energy_params;

/* Everything a tile needs.  The defaults are the hx preset. */
typedef struct xb_tile_params {
	xb_array_params array;
	xb_encoder_params input;
	xb_integrator_params integrator;
	xb_adc_params adc;
	xb_energy_params energy;
	xb_noise_params noise;
	uint64_t chip_seed;       /* [chip] seed: keys every fixed-pattern and temporal draw */
	int tiles_per_chip;       /* [chip] tiles (informational for mapping; 2 on hx) */
} xb_tile_params;

xb_array_params xb_array_default_params(void);
xb_encoder_params xb_encoder_default_params(void);
xb_integrator_params xb_integrator_default_params(void);
xb_adc_params xb_adc_default_params(void);
xb_energy_params xb_energy_default_params(void);
xb_tile_params xb_tile_default_params(void);
/* Set P's resolution to BITS and its code range to the signed range of BITS,
 * [-2^(BITS-1), 2^(BITS-1) - 1] (what the keys do when adc.min/max are not set).
 * BITS outside 1 .. 16 sets only bits (xb_tile_params_check rejects it). */
void xb_adc_set_bits(xb_adc_params *p, int bits);
/* Codes per reference LSB, 2^(bits - full_scale_bits) (exact power of two). */
double xb_adc_code_scale(const xb_adc_params *p);
/* Clock cycles of one conversion by one ADC: SAR bits + 1 (one sample cycle, then one per
 * bit), ramp 2^bits, flash 1. */
uint64_t xb_adc_conversion_cycles(const xb_adc_params *p);

/* Register the [tile] [input] [array] [integrator] [adc] [energy] [chip] [clock] keys
 * (and the [noise] keys).  Idempotent. */
void xb_devices_register_keys(void);
/* Fill P from CFG; the keys must be registered.  Checks P (xb_tile_params_check). */
xb_status xb_tile_params_from_config(const xb_config *cfg, xb_tile_params *p, xb_err *err);
/* Validate P as a whole: XB_ECONFIG naming the key(s) and what is allowed. */
xb_status xb_tile_params_check(const xb_tile_params *p, xb_err *err);
/* Signed rows of a tile with P (R/2 for rowpair, R for differential). */
int xb_tile_params_signed_rows(const xb_tile_params *p);

/* Names of enumerated values, as the keys spell them. */
const char *xb_model_name(xb_model m);
const char *xb_order_name(xb_order o);

/* ---- the tile ------------------------------------------------------------------------ */

typedef struct xb_tile xb_tile;
typedef struct xb_tile_work xb_tile_work;

/* A tile with parameters P on chip CHIP as tile TILE (both key the random streams, so
 * every tile has its own fixed pattern).  The fixed-pattern draws are made here.
 * NULL with the message in ERR (XB_ECONFIG for bad parameters, XB_ENOMEM). */
xb_tile *xb_tile_new(const xb_tile_params *p, uint32_t chip, uint32_t tile, xb_err *err);
void xb_tile_free(xb_tile *t);
const char *xb_tile_errmsg(const xb_tile *t);
const xb_tile_params *xb_tile_params_of(const xb_tile *t);
size_t xb_tile_signed_rows(const xb_tile *t);
size_t xb_tile_cols(const xb_tile *t);

/* Program weights W[r * LDW + c] for r < NROWS (<= signed rows), c < NCOLS (<= cols);
 * the rest of the tile is programmed to 0.  Each call is a new programming (fresh
 * programming noise, keyed by the programming count).  A weight outside
 * [-(2^bw - 1), 2^bw - 1] is XB_ERANGE naming its row, column and the range; the
 * tile is then unchanged. */
xb_status xb_tile_program(xb_tile *t, const int8_t *w, size_t ldw, size_t nrows, size_t ncols);

/* Per-column overrides replacing the fixed-pattern draws, in the units of a
 * calibration file: reference LSB (ADC codes when adc.bits = adc.full_scale_bits).  Each array has cols entries or is NULL (keep); a NaN
 * entry keeps that column's value.  gain_lsb = a_c g (codes per unit of input x
 * weight); offset_lsb = o_c (adc.offset_lsb is not added again); sat_lo_lsb,
 * sat_hi_lsb = the codes a_c lo_c + o_c, a_c hi_c + o_c at which the integrator
 * saturates; tau_us per column (0 = no leak); read_noise_lsb = sigma_read per column. */
typedef struct xb_tile_columns {
	const double *gain_lsb;
	const double *offset_lsb;
	const double *sat_lo_lsb;
	const double *sat_hi_lsb;
	const double *tau_us;
	const double *read_noise_lsb;
} xb_tile_columns;
xb_status xb_tile_set_columns(xb_tile *t, const xb_tile_columns *ov);
/* The column parameters in force (same units; arrays of cols entries, NULL = skip). */
void xb_tile_get_columns(const xb_tile *t, double *gain_lsb, double *offset_lsb,
			 double *sat_lo_lsb, double *sat_hi_lsb, double *tau_us,
			 double *read_noise_lsb);
/* The effective weights in use (w_eff (1 + eta), units of w), [signed rows][cols]. */
void xb_tile_get_weights(const xb_tile *t, float *w_eff);

/* Statistics of one MVM. */
typedef struct xb_mvm_stats {
	uint32_t events;          /* accumulation events, num_sends included */
	uint32_t conversions;     /* ADC conversions (n_out per MVM, per plane for bitplane) */
	uint64_t active_cells;    /* devices driven, summed over events (2 per signed synapse) */
	uint32_t sat_integrator;  /* columns whose integrator reached a limit at some event */
	uint32_t sat_adc;         /* conversions clipped to adc min or max */
	uint64_t cycles;          /* duration in event-clock cycles (xb_tile_mvm_cycles) */
} xb_mvm_stats;

/* Counters of a batch (sums over its MVMs).  sat_integrator is counted only when
 * per-MVM stats are requested (it needs the reference loop). */
typedef struct xb_tile_counters {
	uint64_t mvms, events, conversions, active_cells, sat_integrator, sat_adc, cycles;
} xb_tile_counters;

/* The integrator state after every event of one selected MVM (for traces). */
typedef struct xb_tile_trace {
	size_t sample;            /* in: index in the batch of the MVM to record */
	size_t capacity;          /* in: events the arrays hold */
	xb_time_ps *time_ps;      /* out [capacity]: time of the event after the MVM's start */
	int32_t *row;             /* out [capacity]: signed row; -1 - b for bit plane b; -1 pulse */
	float *v_lsb;             /* out [capacity][n_out]: state after the event, LSB */
	size_t events;            /* out: events of the MVM (only the first capacity stored) */
	xb_time_ps read_ps;       /* out: time of the conversion */
} xb_tile_trace;

/* One batch of MVMs.  Fill with xb_tile_batch_init, then adjust. */
typedef struct xb_tile_batch {
	xb_model model;           /* ordered / unordered / ideal (init: the parameters' model) */
	size_t batch;             /* B */
	const uint8_t *x;         /* [B][ldx] input codes; the first n_in of each row are used */
	size_t ldx, n_in;         /* n_in <= signed rows; rows beyond get no event */
	int32_t *y;               /* [B][ldy] output codes (first n_out); ideal: floor(y_ideal)
				   * without ADC clamp; may be NULL for ideal */
	float *y_ideal;           /* [B][ldy] the ideal model's float outputs in codes of
				   * adc.bits (written only when model = ideal), or NULL */
	size_t ldy, n_out;        /* n_out <= cols */
	uint64_t sample_base;     /* global number of sample 0: keys the noise streams */
	const int32_t *order;     /* [B][ld_order] explicit event order (signed rows, -1 ends), or NULL */
	size_t ld_order;
	const double *interval_ns; /* [B] event spacing per MVM (overrides wait_cycles), or NULL */
	xb_mvm_stats *stats;      /* [B] per-MVM statistics, or NULL */
	xb_tile_counters *counters; /* sums added to (not reset), or NULL */
	xb_tile_trace *traces;    /* selected MVMs to record, or NULL */
	size_t ntraces;
} xb_tile_batch;

/* Defaults for a batch of BATCH MVMs over the whole tile: x is [B][signed rows], y
 * is [B][cols], sample_base 0, model from the parameters, nothing else requested. */
void xb_tile_batch_init(xb_tile_batch *b, const xb_tile *t, size_t batch, const uint8_t *x,
			int32_t *y);

/* Workspace for xb_tile_mvm: scratch for each OpenMP thread (as many as
 * omp_get_max_threads() when made), valid for every tile with the same rows, columns
 * and input bits as T.  One call at a time per workspace: callers that run tiles
 * concurrently (inside their own parallel region, where xb_tile_mvm runs serially)
 * give each thread its own workspace.  NULL on ENOMEM (message in ERR). */
xb_tile_work *xb_tile_work_new(const xb_tile *t, xb_err *err);
void xb_tile_work_free(xb_tile_work *w);

/* Run the batch B on T.  Inputs are checked first: a code above 2^bx - 1 is
 * XB_ERANGE naming the sample, row and range; an explicit order naming a row >= n_in
 * is XB_ERANGE; sizes that do not fit the tile are XB_EINVAL; an unprogrammed tile
 * is XB_ESTATE.  Outputs are written only on success. */
xb_status xb_tile_mvm(xb_tile *t, const xb_tile_batch *b, xb_tile_work *ws);

/* The schedule of one MVM with inputs X[0 .. N_IN-1] as global sample SAMPLE: the row of
 * every event, sends included, in time order (bitserial: -1 - b for bit plane b; pulse:
 * -1), as xb_tile_mvm runs it with the parameters' order.  Writes at most CAP rows and
 * returns the number of events; SIZE_MAX if X holds a code out of range or memory runs
 * out (message on the tile).  Event k happens at xb_tile_event_time(t, k) after reset;
 * for timed models that need the times without running the batch. */
size_t xb_tile_events(xb_tile *t, const uint8_t *x, size_t n_in, uint64_t sample,
		      int32_t *rows, size_t cap);
/* Time of event K after the reset: baseline delay + K x wait_cycles / f_clk. */
xb_time_ps xb_tile_event_time(const xb_tile *t, uint64_t k);

/* Duration of one MVM with EVENTS events and PLANES conversions per column, in event
 * clock cycles: baseline delay + events x wait_cycles + read delay + conversion
 * (sar: bits, ramp: 2^bits, flash: 1 cycle) x columns_per_adc x planes. */
uint64_t xb_tile_mvm_cycles(const xb_tile *t, uint64_t events, uint32_t planes);
/* Energy of the counted operations, pJ. */
double xb_tile_energy_pj(const xb_tile *t, const xb_tile_counters *c);

/* ---- matrices over several tiles ------------------------------------------------------ */

/* A weight matrix of ROWS x COLS signed entries split over a grid of tiles: row block
 * i (signed rows [i Rs, (i+1) Rs)) and column block j go to tile TILE_BASE + i * nj + j
 * of chip CHIP.  Outputs of the row blocks are added digitally and clamped to the
 * output range of one tile (as BrainScaleS-2 does); the ideal model adds floats. */
typedef struct xb_matrix xb_matrix;
typedef struct xb_matrix_work xb_matrix_work;

xb_matrix *xb_matrix_new(const xb_tile_params *p, uint32_t chip, uint32_t tile_base,
			 size_t rows, size_t cols, xb_err *err);
void xb_matrix_free(xb_matrix *m);
const char *xb_matrix_errmsg(const xb_matrix *m);
/* Grid size; the tile of row block I and column block J. */
void xb_matrix_grid(const xb_matrix *m, size_t *ni, size_t *nj);
xb_tile *xb_matrix_tile(xb_matrix *m, size_t i, size_t j);
/* Program W[r * LDW + c] (XB_ERANGE as xb_tile_program, naming the matrix row/column). */
xb_status xb_matrix_program(xb_matrix *m, const int8_t *w, size_t ldw);
/* Workspace for batches of up to MAX_BATCH MVMs. */
xb_matrix_work *xb_matrix_work_new(const xb_matrix *m, size_t max_batch, xb_err *err);
void xb_matrix_work_free(xb_matrix_work *w);
/* Run B (x [B][ldx] with n_in = rows, y [B][ldy] with n_out = cols; order, traces
 * and interval_ns are per tile: XB_EUNSUPPORTED here).  Stats and counters sum over
 * the tiles (events, conversions, cells, saturations), except a stat's cycles: the
 * longest tile (tiles run in parallel).  The workspace serves one call at a time. */
xb_status xb_matrix_mvm(xb_matrix *m, const xb_tile_batch *b, xb_matrix_work *ws);
/* Output range of the sums: [adc min, adc max], times 2^bx - 1 for bitplane convert. */
void xb_tile_output_range(const xb_tile_params *p, int32_t *lo, int32_t *hi);

#ifdef __cplusplus
}
#endif
#endif /* XB_DEVICES_H */
