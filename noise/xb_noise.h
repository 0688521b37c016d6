/* xb_noise.h - noise sources of the analog tile and the counter-based random streams they draw from.
 * Pluggable noise types (read, per-event, fixed-pattern, device), PCM closed forms, keys.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Streams.  Every random number of xbarsim is a pure function of its address, never of
 * a generator's history: a result does not depend on thread count, MPI ranks or the
 * order of evaluation.  The address is (seed, chip, tile, purpose, sample, a, b):
 *   - (seed, chip, tile, purpose) chooses a Philox-4x32-10 key: the key of a purpose
 *     is the first two words of philox4x32({chip, tile, purpose, 0x78627273},
 *     {seed_lo, seed_hi}), so each purpose of each tile is its own stream;
 *   - the counter is {b / 4, a, sample_lo, sample_hi}; one block gives four 32-bit
 *     words, and value number b is lane b % 4 of block b / 4.
 * What a and b mean is fixed per purpose (see xb_draw): for the read noise a is the
 * conversion (bit plane) and b the column; for per-event noise a is the event index
 * and b the column; for fixed-pattern draws sample is 0, a the row (0 for per-column
 * draws) and b the column; for devices a is 2 * row + half (0 = positive device, 1 =
 * negative) and b the column.
 *
 * Uniforms are u = ((w >> 9) + 0.5) 2^-23, exactly representable in single precision
 * and in the open interval (0, 1).
 *
 * Normal deviates come from their own counter-based generator, chosen for speed (the
 * read noise draws one deviate per conversion, as many as the tile does MACs / rows):
 * Random123's ARS-4x32-7 (AES rounds with Weyl-sequence round keys, Crush-resistant
 * from 5 rounds; AES-NI / VAES where built, a portable AES otherwise, bit-identical).
 * The key of a purpose is the four words of philox4x32({chip, tile, purpose,
 * 0x7862726e}, {seed_lo, seed_hi}); the counter is the same {b / 4, a, sample_lo,
 * sample_hi}, and value b is word w = b % 4 of that block.  The deviate of w is its
 * inverse normal CDF: the sign from bit 31, p = (2 (w mod 2^31) + 1) 2^-32 in (0, 1)
 * and |z| = Phi^-1(1 - p / 2), evaluated on the octave of p (e = the leading zeros of
 * the 32-bit integer p 2^32, so p in [2^-(e+1), 2^-e)) by a degree-6 polynomial in
 * t = 2^(e+1) p - 3/2 (from the 23 bits after the leading one; Chebyshev interpolants
 * of GSL's inverse CDF, one per octave, evaluated in single precision with fmaf).
 * |error| < 1.2e-6 against the exact quantile of p; |z| <= 6.338 (p >= 2^-32: tail
 * probability 2.3e-10; the Box-Muller transform of 23-bit uniforms used before stopped
 * at 5.77).  One 32-bit word per deviate, the same operations in scalar and vectorised
 * code, so the deviates are identical on every path.
 *
 * Noise types.  A noise source is a const type table (like gsl_rng_type): a name,
 * the configuration key of its magnitude, the stage at which it acts, the size of its
 * state, and hooks.  The registry xb_noise_types() lists them by name.  Stages:
 *   - FIXED: drawn once per (seed, chip, tile) when a tile is made: per-column ADC
 *     gain a_c = 1 + N(0, fpn_gain^2), offset o_c = N(0, fpn_offset_lsb^2),
 *     saturation limits lo_c, hi_c = lo, hi + N(0, fpn_saturation_lsb^2), per-synapse
 *     gain deviation eta_rc = N(0, fpn_synapse^2);
 *   - DEVICE: applied when weights are programmed, to the conductances of the two
 *     devices of each signed synapse (in units of gmax): programming noise (sets
 *     g_prog), drift to the evaluation time noise.drift_time_s (exponents drawn from
 *     the target conductance), the device's read (1/f) noise at that time (its size
 *     from g_prog, as aihwkit), then stuck-at faults (a stuck device keeps 0 or gmax
 *     whatever else);
 *   - EVENT: per accumulation event and column, charge noise e_k ~ N(0, event_lsb^2);
 *   - READ: per conversion and column, n ~ N(0, read_lsb^2).
 * noise.enable = false turns every source off.  Magnitudes in LSB are reference LSB:
 * the LSB of an ADC of adc.full_scale_bits bits over the ADC's full scale (see
 * xb_devices.h), so they keep their analog size when adc.bits changes.
 *
 * Device models (noise.device).  generic: programming noise N(0, programming^2) (a
 * fraction of gmax), drift G(t) = G0 ((t + t0) / t0)^-nu with nu = |N(drift,
 * drift_std^2)| and t0 = 20 s, device read noise G += |G| device_read N(0, 1).
 * pcm: the published closed forms of IBM's PCM statistical model (as documented by
 * aihwkit's PCMLikeNoiseModel), with g = G / gmax:
 *   sigma_prog = (0.26348 + 1.9650 g - 1.1731 g^2) gmax / 25  [uS], times programming;
 *   nu = |N(mu, sigma^2)| times drift, mu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1),
 *   sigma = clip(-0.0125 ln g - 0.0059, 0.008, 0.045);  G(t) = G0 ((t + t0)/t0)^-nu;
 *   read noise: G += |G(t)| sigma_r N(0, 1), sigma_r = Qs sqrt(ln((t + t0 + t_read) /
 *   (2 t_read))), Qs = min(0.0088 / g^0.65, 0.2), t_read = 250 ns, times device_read.
 * Conductances never go below 0 (clipped, as aihwkit does).
 */
#ifndef XB_NOISE_H
#define XB_NOISE_H

#include "xb_base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- counter-based streams ---------------------------------------------------- */

/* Purposes: each has its own key.  The meaning of (sample, a, b) is given per purpose. */
typedef enum xb_draw {
	XB_DRAW_READ = 0,       /* read noise: sample, a = conversion (bit plane), b = column */
	XB_DRAW_EVENT,          /* per-event noise: sample, a = event index, b = column */
	XB_DRAW_FPN_GAIN,       /* per-column ADC gain: sample 0, a 0, b = column */
	XB_DRAW_FPN_OFFSET,     /* per-column ADC offset: sample 0, a 0, b = column */
	XB_DRAW_FPN_SYNAPSE,    /* per-synapse gain: sample 0, a = signed row, b = column */
	XB_DRAW_FPN_SAT_LO,     /* per-column lower saturation limit: sample 0, a 0, b = column */
	XB_DRAW_FPN_SAT_HI,     /* per-column upper saturation limit: sample 0, a 0, b = column */
	XB_DRAW_PROGRAMMING,    /* programming noise: sample = programming count, a = 2 row + half, b = column */
	XB_DRAW_DRIFT,          /* drift exponents: as PROGRAMMING */
	XB_DRAW_DEVICE_READ,    /* device read noise at the evaluation time: as PROGRAMMING */
	XB_DRAW_STUCK,          /* stuck-at faults (uniforms): sample 0, a = 2 row + half, b = column */
	XB_DRAW_ORDER,          /* random event order (uniforms): sample, a 0, b = draw */
	XB_DRAW_USER,           /* free for other modules (workloads, tests) */
	XB_DRAW_COUNT
} xb_draw;

/* The keys of one tile's streams.  Plain data: copy it freely. */
typedef struct xb_stream {
	uint64_t seed;                    /* chip seed */
	uint32_t chip, tile;              /* chip and tile index */
	uint32_t key[XB_DRAW_COUNT][2];   /* Philox key of each purpose */
	uint32_t nkey[XB_DRAW_COUNT][4];  /* ARS key of each purpose (normal deviates) */
} xb_stream;

/* Derive the keys of (SEED, CHIP, TILE). */
void xb_stream_init(xb_stream *s, uint64_t seed, uint32_t chip, uint32_t tile);
/* The raw block at counter {BLOCK, A, SAMPLE} of purpose P. */
void xb_stream_block(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		     uint32_t block, uint32_t out[4]);
/* The ARS-4x32-7 block behind the normal deviates 4 BLOCK .. 4 BLOCK + 3 of (P, SAMPLE, A). */
void xb_stream_nblock(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		      uint32_t block, uint32_t out[4]);
/* The standard normal deviate of the 32-bit word W (the inverse CDF above). */
float xb_stream_normal_of_word(uint32_t w);
/* Value number B of (P, SAMPLE, A): a uniform in (0, 1), a standard normal deviate. */
double xb_stream_uniform(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b);
double xb_stream_normal(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b);
/* OUT[i] = value number B0 + i, i = 0 .. N-1 (vectorised; equal to the single-value
 * calls).  B0 must be a multiple of 4. */
void xb_stream_uniforms(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
			uint32_t b0, float *out, size_t n);
void xb_stream_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		       uint32_t b0, float *out, size_t n);
/* V[i] += SCALE[i] * normal(B0 + i) (SCALE NULL: SIGMA for all), i = 0 .. N-1. */
void xb_stream_add_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
			   uint32_t b0, float sigma, const float *scale, float *v, size_t n);
/* The uint32 word number B of (P, SAMPLE, A) (integer draws, e.g. shuffles). */
uint32_t xb_stream_u32(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b);

/* ---- parameters ----------------------------------------------------------------- */

typedef enum xb_device_model {
	XB_DEVICE_GENERIC = 0,   /* programming / drift / read noise of constant size */
	XB_DEVICE_PCM = 1        /* IBM's PCM statistical model (closed forms above) */
} xb_device_model;

/* Magnitudes of every noise source (the [noise] keys).  0 turns a source off. */
typedef struct xb_noise_params {
	int enable;                 /* noise.enable: false turns every source off */
	double read_lsb;            /* std of the read noise per conversion, LSB */
	double event_lsb;           /* std of the charge noise per event, LSB */
	double fpn_gain;            /* relative std of the per-column ADC gain a_c around 1 */
	double fpn_offset_lsb;      /* std of the per-column ADC offset o_c, LSB */
	double fpn_synapse;         /* relative std of the per-synapse gain (1 + eta) */
	double fpn_saturation_lsb;  /* std of the per-column saturation limits, LSB */
	xb_device_model device;     /* noise.device: generic | pcm */
	double programming;         /* generic: std / gmax; pcm: scale of sigma_prog */
	double drift;               /* generic: mean drift exponent nu; pcm: scale of nu */
	double drift_std;           /* generic: std of nu (pcm: from the closed form) */
	double device_read;         /* generic: relative std; pcm: scale of the 1/f noise */
	double drift_time_s;        /* time since programming at evaluation, s */
	double stuck_min;           /* fraction of devices stuck at 0 conductance */
	double stuck_max;           /* fraction of devices stuck at gmax */
} xb_noise_params;

/* The hx defaults (read noise 2 LSB, everything else off). */
xb_noise_params xb_noise_default_params(void);
/* Fill P from the [noise] keys of CFG (registered by xb_noise_register_keys). */
xb_status xb_noise_params_from_config(const xb_config *cfg, xb_noise_params *p, xb_err *err);
/* Check ranges and consistency (stuck_min + stuck_max <= 1); XB_ECONFIG naming the key. */
xb_status xb_noise_params_check(const xb_noise_params *p, xb_err *err);
/* Register the [noise] keys.  Idempotent. */
void xb_noise_register_keys(void);

/* ---- noise types ------------------------------------------------------------------ */

typedef enum xb_noise_stage {
	XB_NOISE_FIXED = 0,   /* drawn once per chip seed at tile creation */
	XB_NOISE_DEVICE,      /* applied to conductances when weights are programmed */
	XB_NOISE_EVENT,       /* per accumulation event */
	XB_NOISE_READ         /* per conversion */
} xb_noise_stage;

/* What FIXED sources fill (arrays owned by the tile, initialised to 1, 0, lo, hi, 0). */
typedef struct xb_noise_fixed {
	size_t rows, cols;      /* signed rows and columns of the tile */
	float *col_gain;        /* [cols] a_c */
	float *col_offset_lsb;  /* [cols] o_c, LSB */
	float *col_lo_lsb;      /* [cols] lower saturation limit, LSB */
	float *col_hi_lsb;      /* [cols] upper saturation limit, LSB */
	float *eta;             /* [rows * cols] per-synapse relative gain deviation */
} xb_noise_fixed;

/* What DEVICE sources perturb: the conductances of the 2 devices of every synapse,
 * each array [rows][2][cols] in units of gmax: element (2 r + h) cols + c. */
typedef struct xb_noise_devices {
	size_t rows, cols;      /* signed rows and columns */
	const float *g_target;  /* the programming targets */
	float *g_prog;          /* after programming noise (the owner sets it to g_target) */
	float *g;               /* the conductances at evaluation (the owner sets it to g_target) */
	double gmax_us;         /* maximum conductance, uS (PCM closed forms) */
	uint64_t programming;   /* programming count (keys fresh programming noise) */
} xb_noise_devices;

typedef struct xb_noise_type {
	const char *name;        /* "read", "event", "fpn_gain", ... */
	const char *key;         /* configuration key of its magnitude ("noise.read_lsb") */
	xb_noise_stage stage;
	size_t state_size;       /* bytes of state the owner allocates for init */
	/* Set STATE up from P; returns 1 if the source is active, 0 if it is off. */
	int (*init)(void *state, const xb_noise_params *p);
	/* FIXED: draw into FX. */
	void (*fixed)(const void *state, const xb_stream *s, xb_noise_fixed *fx);
	/* DEVICE: perturb D->g. */
	void (*device)(const void *state, const xb_stream *s, xb_noise_devices *d);
	/* EVENT/READ: V[b] += deviate (SCALE[b] replaces the magnitude when not NULL). */
	void (*temporal)(const void *state, const xb_stream *s, uint64_t sample, uint32_t a,
			 const float *scale, float *v, size_t n);
	/* The magnitude in STATE (for reports and per-column scaling). */
	double (*magnitude)(const void *state);
} xb_noise_type;

/* The built-in types. */
extern const xb_noise_type *const xb_noise_read;
extern const xb_noise_type *const xb_noise_event;
extern const xb_noise_type *const xb_noise_fpn_gain;
extern const xb_noise_type *const xb_noise_fpn_offset;
extern const xb_noise_type *const xb_noise_fpn_synapse;
extern const xb_noise_type *const xb_noise_fpn_saturation;
extern const xb_noise_type *const xb_noise_programming;
extern const xb_noise_type *const xb_noise_drift;
extern const xb_noise_type *const xb_noise_device_read;
extern const xb_noise_type *const xb_noise_stuck;

/* NULL-terminated list of every type, in the order their hooks are applied. */
const xb_noise_type *const *xb_noise_types(void);
/* The type called NAME, or NULL. */
const xb_noise_type *xb_noise_type_find(const char *name);
/* Largest state_size of all types (owners allocate this much per source). */
size_t xb_noise_state_max(void);

/* ---- PCM closed forms (aihwkit's PCMLikeNoiseModel) -------------------------------- */

#define XB_PCM_T0_S 20.0          /* drift reference time t0, s */
#define XB_PCM_T_READ_S 250e-9    /* read duration t_read, s */

/* Programming noise std in uS for a target conductance G_US of a device with GMAX_US. */
double xb_pcm_prog_sigma_us(double g_us, double gmax_us);
/* Mean and std of the drift exponent nu's normal for relative conductance G_REL. */
void xb_pcm_drift_params(double g_rel, double *mu, double *sigma);
/* Drift factor ((t + t0) / t0)^-nu at T_S seconds after programming. */
double xb_pcm_drift_factor(double nu, double t_s);
/* Relative std of the accumulated 1/f read noise at T_S for relative conductance G_REL. */
double xb_pcm_read_sigma(double g_rel, double t_s);

#ifdef __cplusplus
}
#endif
#endif /* XB_NOISE_H */
