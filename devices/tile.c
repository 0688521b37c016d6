/* tile.c - the analog tile in functional mode: programming, fixed pattern, and batches of MVMs.
 * Implements the ordered, unordered and ideal models of DESIGN.md section 1 (see xb_devices.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_devices.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <dnnl.h>
#ifdef XB_MEMCHECK
#include <valgrind/memcheck.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define CHUNK XB_TILE_CHUNK
#define MAX_SOURCES 16
#define PAD 16            /* column arrays are padded to a multiple of PAD floats */
#define MAX_SENDS 64
/* The unordered and ideal models hand sgemm up to GEMM_CHUNKS chunks at once: OpenBLAS
 * packs the weight matrix afresh in every call, which costs about 8 % of a 64-sample
 * product on the hx tile.  See xb_tile_mvm for why this keeps results independent of
 * the thread count. */
#define GEMM_CHUNKS 4

struct xb_tile {
	xb_tile_params p;
	xb_err err;
	xb_stream stream;
	size_t R;                 /* signed rows */
	size_t C;                 /* columns */
	size_t ldw;               /* row stride of the weight arrays (C padded) */
	int wmax, xmax;
	double g;                 /* adc.gain */
	double cs;                /* codes per reference LSB: 2^(adc.bits - adc.full_scale_bits) */
	xb_time_ps dt_ps;         /* event spacing */
	/* noise sources in force (registry order) and their states */
	size_t nsrc;
	const xb_noise_type *src[MAX_SOURCES];
	unsigned char *state;     /* nsrc x state_max bytes */
	size_t state_max;
	int read_on;              /* read noise active (noise enabled) */
	int read_idx;             /* index of the read source, -1 if off */
	int event_idx;            /* index of the per-event source, -1 if off */
	float event_sigma_w;      /* per-event noise std in units of input x weight */
	/* column parameters in force */
	double *a_c, *o_c;        /* [C] ADC gain (relative to g) and offset, LSB */
	double *ag_c;             /* [C] a_c g cs: codes per unit of input x weight */
	double *oq_c;             /* [C] o_c cs: the offset in codes */
	double *lo_c, *hi_c;      /* [C] saturation limits, LSB */
	double *tau_c;            /* [C] leak, us (0 = none) */
	float *sigma_c;           /* [C] read noise, LSB */
	float *sigq_c;            /* [C] sigma_c cs: the read noise in codes */
	float *agf_c, *oqf_c;     /* [ldw] ag_c, oq_c rounded to single precision (fast read-out) */
	float conv_delta;         /* error bound of the single-precision read-out (see convert_clamped) */
	int conv_float;           /* the single-precision read-out may be tried (0: double only) */
	/* derived, in units of input x weight (v / g), padded to ldw */
	float *lo_w, *hi_w, *knee_w;
	float *lam, *lam_read;    /* per-event and read-delay leak factors */
	int tau_uniform;          /* every column has the same tau (the fast kernel needs it) */
	int sym_uniform;          /* every column has lo_w = -hi_w = h_w (vrangeps kernel) */
	float h_w;                /* that h_w */
	float *pw;                /* [R * num_sends] Lambda(j) = exp(-j dt / tau) (tau uniform) */
	/* synapses */
	float *eta;               /* [R][C] or NULL */
	int8_t *w;                /* [R][C] programmed weights */
	float *w_int;             /* [R][ldw] programmed weights as floats (ideal model) */
	float *w_eff;             /* [R][ldw] effective weights (1 + eta) w_eff */
	int8_t *w8e;              /* [R][ldw] w_eff as bytes when eff_int (the integer product) */
	int eff_int;              /* every effective weight is an integer in -127 .. 127 */
	int32_t *order;           /* [R] static event order (rows of all R) */
	double *row_abs;          /* [R] sum_c |w| (magnitude order) */
	int programmed;
	uint64_t programmings;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static size_t pad_cols(size_t c)
{
	return (c + PAD - 1) / PAD * PAD;
}

static void *xcalloc(size_t n, size_t size)
{
	return n ? calloc(n, size) : calloc(1, 1);
}

static void *xaligned(size_t bytes)
{
	void *p = NULL;

	bytes = (bytes + 63) / 64 * 64;
	if (posix_memalign(&p, 64, bytes ? bytes : 64))
		return NULL;
	memset(p, 0, bytes ? bytes : 64);
	return p;
}

static void gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
		 size_t ldb, float *c, size_t ldc)
{
	if (!m || !n)
		return;
	if (!k) {
		for (size_t i = 0; i < m; i++)
			memset(c + i * ldc, 0, n * sizeof *c);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
		    (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}

const char *xb_tile_errmsg(const xb_tile *t)
{
	return t ? t->err.msg : xb_errmsg(NULL);
}

const xb_tile_params *xb_tile_params_of(const xb_tile *t)
{
	return &t->p;
}

size_t xb_tile_signed_rows(const xb_tile *t)
{
	return t->R;
}

size_t xb_tile_cols(const xb_tile *t)
{
	return t->C;
}

/* ---- construction ------------------------------------------------------------------------ */

/* Leak over J event intervals of DT_US: (float)exp(-J dt / tau), 1 without leak.  The
 * one formula of the scaled integrator state (see ordered_event_sample). */
static inline float leak_pow(double j, double dt_us, double tau_us)
{
	return tau_us > 0 ? (float)exp(-j * dt_us / tau_us) : 1.0f;
}

/* Recompute everything derived from the column parameters. */
static void derive_columns(xb_tile *t)
{
	double dt_us = (double)t->dt_ps * 1e-6, rd_us = t->p.integrator.read_delay_ns * 1e-3;
	size_t npw = t->R * (size_t)t->p.input.num_sends;

	t->tau_uniform = 1;
	t->sym_uniform = 1;
	for (size_t c = 0; c < t->ldw; c++) {
		if (c >= t->C) {
			/* Padding columns: wide limits, no leak; their outputs are never read. */
			t->lo_w[c] = -1e30f;
			t->hi_w[c] = 1e30f;
			t->knee_w[c] = 1.0f;
			t->lam[c] = 1.0f;
			t->lam_read[c] = 1.0f;
			continue;
		}
		double lo = t->lo_c[c] / t->g, hi = t->hi_c[c] / t->g;
		double k;

		/* The read-out in codes: cs is a power of two, so scaling every term by it
		 * commutes with the roundings (floor(cs (a v + o + n)) exactly). */
		t->ag_c[c] = t->a_c[c] * t->g * t->cs;
		t->oq_c[c] = t->o_c[c] * t->cs;
		t->sigq_c[c] = (float)((double)t->sigma_c[c] * t->cs);
		k = fmin(t->p.integrator.knee_lsb / t->g, fmin(hi, -lo));

		t->lo_w[c] = (float)lo;
		t->hi_w[c] = (float)hi;
		t->knee_w[c] = (float)k;
		t->lam[c] = leak_pow(1, dt_us, t->tau_c[c]);
		t->lam_read[c] = leak_pow(1, rd_us, t->tau_c[c]);
		if (t->tau_c[c] != t->tau_c[0])
			t->tau_uniform = 0;
		if (t->lo_w[c] != -t->hi_w[c] || t->hi_w[c] != t->hi_w[0])
			t->sym_uniform = 0;
	}
	t->h_w = t->hi_w[0];
	{
		/* The single-precision read-out (convert_clamped): its error bound, from the
		 * largest code magnitude that is not clipped, offsets and noise (|z| <= 6.34). */
		double rmax = fmax(fabs((double)t->p.adc.min), fabs((double)t->p.adc.max)) + 2, amax = 0;
		double nmax = 0;

		for (size_t c = 0; c < t->C; c++) {
			t->agf_c[c] = (float)t->ag_c[c];
			t->oqf_c[c] = (float)t->oq_c[c];
			amax = fmax(amax, fabs(t->oq_c[c]));
			nmax = fmax(nmax, 6.4 * fabs((double)t->sigq_c[c]));
			if (!(fabs(t->ag_c[c]) >= 0x1p-100 && fabs(t->ag_c[c]) <= 0x1p100))
				amax = INFINITY;   /* keep ag_c's float rounding relative */
		}
		t->conv_delta = (float)ldexp(rmax + 2 * amax + nmax + 1, -22);
		t->conv_float = rmax + 2 * amax + nmax < 0x1p20;
	}
	/* Lambda(j) = lambda^j by repeated single-precision products (the kernel's
	 * preparation steps through it the same way, without a table look-up). */
	t->pw[0] = 1.0f;
	for (size_t j = 1; j < npw; j++)
		t->pw[j] = t->pw[j - 1] * t->lam[0];
}

/* Keep the saturation limits on their sides of the baseline after spreads. */
static void clip_limits(xb_tile *t)
{
	for (size_t c = 0; c < t->C; c++) {
		double tiny = 1e-3;

		if (!(t->lo_c[c] < -tiny))
			t->lo_c[c] = -tiny;
		if (!(t->hi_c[c] > tiny))
			t->hi_c[c] = tiny;
	}
}

void xb_tile_free(xb_tile *t)
{
	if (!t)
		return;
	free(t->state);
	free(t->a_c);
	free(t->ag_c);
	free(t->oq_c);
	free(t->o_c);
	free(t->lo_c);
	free(t->hi_c);
	free(t->tau_c);
	free(t->sigma_c);
	free(t->sigq_c);
	free(t->agf_c);
	free(t->oqf_c);
	free(t->lo_w);
	free(t->hi_w);
	free(t->knee_w);
	free(t->lam);
	free(t->lam_read);
	free(t->pw);
	free(t->eta);
	free(t->w);
	free(t->w_int);
	free(t->w_eff);
	free(t->w8e);
	free(t->order);
	free(t->row_abs);
	free(t);
}

xb_tile *xb_tile_new(const xb_tile_params *p, uint32_t chip, uint32_t tile, xb_err *err)
{
	xb_tile *t;
	const xb_noise_type *const *types = xb_noise_types();
	float *fx_gain = NULL, *fx_off = NULL, *fx_lo = NULL, *fx_hi = NULL;

	if (!p) {
		xb_raise(err, XB_EINVAL, "xb_tile_new: no parameters");
		return NULL;
	}
	if (xb_tile_params_check(p, err) != XB_OK) {
		xb_err_context(err, "tile %u of chip %u", tile, chip);
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t)
		goto nomem;
	t->p = *p;
	t->R = (size_t)xb_tile_params_signed_rows(p);
	t->C = (size_t)p->array.cols;
	t->ldw = pad_cols(t->C);
	t->wmax = (1 << p->array.weight_bits) - 1;
	t->xmax = (1 << p->input.bits) - 1;
	t->g = p->adc.gain;
	t->cs = xb_adc_code_scale(&p->adc);
	t->dt_ps = xb_cycles_to_ps((uint64_t)p->input.wait_cycles, p->input.event_mhz);
	t->event_idx = -1;
	t->read_idx = -1;
	xb_stream_init(&t->stream, p->chip_seed, chip, tile);

	t->a_c = xcalloc(t->C, sizeof *t->a_c);
	t->ag_c = xcalloc(t->C, sizeof *t->ag_c);
	t->oq_c = xcalloc(t->C, sizeof *t->oq_c);
	t->o_c = xcalloc(t->C, sizeof *t->o_c);
	t->lo_c = xcalloc(t->C, sizeof *t->lo_c);
	t->hi_c = xcalloc(t->C, sizeof *t->hi_c);
	t->tau_c = xcalloc(t->C, sizeof *t->tau_c);
	t->sigma_c = xcalloc(t->C, sizeof *t->sigma_c);
	t->sigq_c = xcalloc(t->C, sizeof *t->sigq_c);
	t->agf_c = xaligned(t->ldw * sizeof(float));
	t->oqf_c = xaligned(t->ldw * sizeof(float));
	t->lo_w = xaligned(t->ldw * sizeof(float));
	t->hi_w = xaligned(t->ldw * sizeof(float));
	t->knee_w = xaligned(t->ldw * sizeof(float));
	t->lam = xaligned(t->ldw * sizeof(float));
	t->lam_read = xaligned(t->ldw * sizeof(float));
	t->pw = xaligned(t->R * (size_t)p->input.num_sends * sizeof(float));
	t->w = xcalloc(t->R * t->C, 1);
	t->w_int = xaligned(t->R * t->ldw * sizeof(float));
	t->w_eff = xaligned(t->R * t->ldw * sizeof(float));
	t->w8e = xaligned(t->R * t->ldw);
	t->order = xcalloc(t->R, sizeof *t->order);
	t->row_abs = xcalloc(t->R, sizeof *t->row_abs);
	fx_gain = xcalloc(t->C, sizeof *fx_gain);
	fx_off = xcalloc(t->C, sizeof *fx_off);
	fx_lo = xcalloc(t->C, sizeof *fx_lo);
	fx_hi = xcalloc(t->C, sizeof *fx_hi);
	if (!t->a_c || !t->ag_c || !t->oq_c || !t->sigq_c || !t->agf_c || !t->oqf_c || !t->o_c || !t->lo_c || !t->hi_c || !t->tau_c || !t->sigma_c || !t->lo_w ||
	    !t->hi_w || !t->knee_w || !t->lam || !t->lam_read || !t->pw || !t->w || !t->w_int || !t->w_eff ||
	    !t->w8e ||
	    !t->order || !t->row_abs || !fx_gain || !fx_off || !fx_lo || !fx_hi)
		goto nomem;

	/* The noise sources in force. */
	t->state_max = xb_noise_state_max();
	t->state = xcalloc(MAX_SOURCES, t->state_max ? t->state_max : 1);
	if (!t->state)
		goto nomem;
	for (size_t i = 0; types[i] && t->nsrc < MAX_SOURCES; i++) {
		void *st = t->state + t->nsrc * t->state_max;
		int on = types[i]->init(st, &p->noise);

		if (types[i]->stage == XB_NOISE_READ) {
			/* Read noise stays available while noise is enabled: per-column
			 * overrides may switch it on for a preset whose read_lsb is 0. */
			t->read_on = p->noise.enable;
			on = p->noise.enable;
		}
		if (!on)
			continue;
		if (types[i]->stage == XB_NOISE_READ)
			t->read_idx = (int)t->nsrc;
		if (types[i]->stage == XB_NOISE_EVENT) {
			t->event_idx = (int)t->nsrc;
			t->event_sigma_w = (float)(types[i]->magnitude(st) / t->g);
		}
		t->src[t->nsrc++] = types[i];
	}

	/* Fixed pattern: each FIXED source adds its deviates to zeroed arrays. */
	t->eta = NULL;
	for (size_t i = 0; i < t->nsrc; i++)
		if (t->src[i] == xb_noise_fpn_synapse) {
			t->eta = xcalloc(t->R * t->C, sizeof *t->eta);
			if (!t->eta)
				goto nomem;
		}
	{
		xb_noise_fixed fx = { t->R, t->C, fx_gain, fx_off, fx_lo, fx_hi, t->eta };

		for (size_t i = 0; i < t->nsrc; i++)
			if (t->src[i]->stage == XB_NOISE_FIXED)
				t->src[i]->fixed(t->state + i * t->state_max, &t->stream, &fx);
	}
	for (size_t c = 0; c < t->C; c++) {
		t->a_c[c] = 1.0 + (double)fx_gain[c];
		t->o_c[c] = p->adc.offset_lsb + (double)fx_off[c];
		t->lo_c[c] = p->integrator.lo_lsb + (double)fx_lo[c];
		t->hi_c[c] = p->integrator.hi_lsb + (double)fx_hi[c];
		t->tau_c[c] = p->integrator.tau_us;
		t->sigma_c[c] = t->read_on ? (float)p->noise.read_lsb : 0.0f;
	}
	clip_limits(t);
	derive_columns(t);
	for (size_t r = 0; r < t->R; r++)
		t->order[r] = (int32_t)(t->R - 1 - r);
	free(fx_gain);
	free(fx_off);
	free(fx_lo);
	free(fx_hi);
	return t;
nomem:
	xb_raise(err, XB_ENOMEM, "tile %u of chip %u (%zu x %zu): out of memory", tile, chip,
		 t ? t->R : 0, t ? t->C : 0);
	free(fx_gain);
	free(fx_off);
	free(fx_lo);
	free(fx_hi);
	xb_tile_free(t);
	return NULL;
}

/* ---- programming --------------------------------------------------------------------------- */

static int cmp_desc_key(const void *a, const void *b)
{
	const double *x = a, *y = b;   /* pairs (key, row) */

	if (x[0] != y[0])
		return x[0] < y[0] ? 1 : -1;
	return x[1] < y[1] ? 1 : x[1] > y[1] ? -1 : 0;
}

/* The static order of the schedule from the programmed weights. */
static xb_status make_order(xb_tile *t)
{
	xb_order o = t->p.input.order;
	size_t R = t->R, n = 0;

	if (o == XB_ORDER_ASCENDING) {
		for (size_t r = 0; r < R; r++)
			t->order[r] = (int32_t)r;
		return XB_OK;
	}
	if (o != XB_ORDER_POSITIVE_FIRST && o != XB_ORDER_NEGATIVE_FIRST) {
		for (size_t r = 0; r < R; r++)
			t->order[r] = (int32_t)(R - 1 - r);
		return XB_OK;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < R; i++) {
			size_t r = R - 1 - i;
			long sum = 0;
			int first;

			for (size_t c = 0; c < t->C; c++)
				sum += t->w[r * t->C + c];
			first = o == XB_ORDER_POSITIVE_FIRST ? sum > 0 : sum < 0;
			if ((pass == 0) == first)
				t->order[n++] = (int32_t)r;
		}
	return XB_OK;
}

/* Effective weights: device effects (when a DEVICE source is on), then (1 + eta). */
static xb_status apply_devices(xb_tile *t)
{
	size_t R = t->R, C = t->C, n = 2 * R * C;
	int any = 0;

	for (size_t i = 0; i < t->nsrc; i++)
		any |= t->src[i]->stage == XB_NOISE_DEVICE;
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++)
			t->w_eff[r * t->ldw + c] = (float)t->w[r * C + c];
	if (any) {
		float *target = malloc(n * sizeof *target), *prog = malloc(n * sizeof *prog);
		float *g = malloc(n * sizeof *g);
		xb_noise_devices d = { R, C, target, prog, g, t->p.array.gmax_us, t->programmings };

		if (!target || !prog || !g) {
			free(target);
			free(prog);
			free(g);
			return xb_raise(&t->err, XB_ENOMEM, "programming a %zu x %zu tile: out of memory",
					R, C);
		}
		for (size_t r = 0; r < R; r++)
			for (size_t c = 0; c < C; c++) {
				int w = t->w[r * C + c];

				target[(2 * r) * C + c] = w > 0 ? (float)w / (float)t->wmax : 0.0f;
				target[(2 * r + 1) * C + c] = w < 0 ? (float)-w / (float)t->wmax : 0.0f;
			}
		memcpy(prog, target, n * sizeof *prog);
		memcpy(g, target, n * sizeof *g);
		for (size_t i = 0; i < t->nsrc; i++)
			if (t->src[i]->stage == XB_NOISE_DEVICE)
				t->src[i]->device(t->state + i * t->state_max, &t->stream, &d);
		for (size_t r = 0; r < R; r++)
			for (size_t c = 0; c < C; c++)
				t->w_eff[r * t->ldw + c] =
					(g[(2 * r) * C + c] - g[(2 * r + 1) * C + c]) * (float)t->wmax;
		free(target);
		free(prog);
		free(g);
	}
	if (t->eta)
		for (size_t r = 0; r < R; r++)
			for (size_t c = 0; c < C; c++)
				t->w_eff[r * t->ldw + c] *= 1.0f + t->eta[r * C + c];
	return XB_OK;
}

xb_status xb_tile_program(xb_tile *t, const int8_t *w, size_t ldw, size_t nrows, size_t ncols)
{
	xb_status st;

	if (!w && (nrows || ncols))
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_program: no weights");
	if (nrows > t->R || ncols > t->C || (nrows && ldw < ncols))
		return xb_raise(&t->err, XB_EINVAL,
				"xb_tile_program: a %zu x %zu weight block (row stride %zu) does not fit "
				"the tile's %zu signed rows x %zu columns", nrows, ncols, ldw, t->R, t->C);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			int v = w[r * ldw + c];

			if (v > t->wmax || v < -t->wmax)
				return xb_raise(&t->err, XB_ERANGE,
						"weight %d at row %zu, column %zu is out of range: "
						"array.weight_bits = %d allows -%d .. %d", v, r, c,
						t->p.array.weight_bits, t->wmax, t->wmax);
		}
	memset(t->w, 0, t->R * t->C);
	for (size_t r = 0; r < nrows; r++)
		memcpy(t->w + r * t->C, w + r * ldw, ncols);
	memset(t->w_int, 0, t->R * t->ldw * sizeof(float));
	for (size_t r = 0; r < t->R; r++) {
		double s = 0;

		for (size_t c = 0; c < t->C; c++) {
			t->w_int[r * t->ldw + c] = (float)t->w[r * t->C + c];
			s += abs(t->w[r * t->C + c]);
		}
		t->row_abs[r] = s;
	}
	st = apply_devices(t);
	if (st != XB_OK)
		return st;
	t->eff_int = 1;
	for (size_t r = 0; r < t->R; r++)
		for (size_t c = 0; c < t->ldw; c++) {
			float we = t->w_eff[r * t->ldw + c];

			if (t->eff_int && we == nearbyintf(we) && fabsf(we) <= 127.0f)
				t->w8e[r * t->ldw + c] = (int8_t)we;
			else
				t->eff_int = 0;
		}
	make_order(t);
	t->programmings++;
	t->programmed = 1;
	return XB_OK;
}

/* ---- column parameters --------------------------------------------------------------------- */

xb_status xb_tile_set_columns(xb_tile *t, const xb_tile_columns *ov)
{
	if (!ov)
		return XB_OK;
	for (size_t c = 0; c < t->C; c++) {
		double a = t->a_c[c], o = t->o_c[c];

		if (ov->gain_lsb && !isnan(ov->gain_lsb[c])) {
			if (!(ov->gain_lsb[c] > 0) || !isfinite(ov->gain_lsb[c]))
				return xb_raise(&t->err, XB_ERANGE,
						"column %zu: gain %g codes per unit of input x weight; "
						"expected a finite value > 0", c, ov->gain_lsb[c]);
			a = ov->gain_lsb[c] / t->g;
		}
		if (ov->offset_lsb && !isnan(ov->offset_lsb[c]))
			o = ov->offset_lsb[c];
		if (ov->tau_us && !isnan(ov->tau_us[c]) && !(ov->tau_us[c] >= 0))
			return xb_raise(&t->err, XB_ERANGE, "column %zu: tau %g us; expected >= 0 "
					"(0 = no leak)", c, ov->tau_us[c]);
		if (ov->read_noise_lsb && !isnan(ov->read_noise_lsb[c]) &&
		    !(ov->read_noise_lsb[c] >= 0))
			return xb_raise(&t->err, XB_ERANGE, "column %zu: read noise %g LSB; expected >= 0",
					c, ov->read_noise_lsb[c]);
		{
			double lo = ov->sat_lo_lsb && !isnan(ov->sat_lo_lsb[c])
				? (ov->sat_lo_lsb[c] - o) / a : t->lo_c[c];
			double hi = ov->sat_hi_lsb && !isnan(ov->sat_hi_lsb[c])
				? (ov->sat_hi_lsb[c] - o) / a : t->hi_c[c];

			if (!(lo < 0) || !(hi > 0))
				return xb_raise(&t->err, XB_ERANGE,
						"column %zu: saturation codes %g .. %g with offset %g: "
						"expected the offset to lie between them", c,
						a * lo + o, a * hi + o, o);
		}
	}
	for (size_t c = 0; c < t->C; c++) {
		double a = t->a_c[c], o = t->o_c[c];

		if (ov->gain_lsb && !isnan(ov->gain_lsb[c]))
			a = ov->gain_lsb[c] / t->g;
		if (ov->offset_lsb && !isnan(ov->offset_lsb[c]))
			o = ov->offset_lsb[c];
		if (ov->sat_lo_lsb && !isnan(ov->sat_lo_lsb[c]))
			t->lo_c[c] = (ov->sat_lo_lsb[c] - o) / a;
		if (ov->sat_hi_lsb && !isnan(ov->sat_hi_lsb[c]))
			t->hi_c[c] = (ov->sat_hi_lsb[c] - o) / a;
		t->a_c[c] = a;
		t->o_c[c] = o;
		if (ov->tau_us && !isnan(ov->tau_us[c]))
			t->tau_c[c] = ov->tau_us[c];
		if (ov->read_noise_lsb && !isnan(ov->read_noise_lsb[c]) && t->read_on)
			t->sigma_c[c] = (float)ov->read_noise_lsb[c];
	}
	derive_columns(t);
	return XB_OK;
}

void xb_tile_get_columns(const xb_tile *t, double *gain_lsb, double *offset_lsb,
			 double *sat_lo_lsb, double *sat_hi_lsb, double *tau_us,
			 double *read_noise_lsb)
{
	for (size_t c = 0; c < t->C; c++) {
		if (gain_lsb)
			gain_lsb[c] = t->a_c[c] * t->g;
		if (offset_lsb)
			offset_lsb[c] = t->o_c[c];
		if (sat_lo_lsb)
			sat_lo_lsb[c] = t->a_c[c] * t->lo_c[c] + t->o_c[c];
		if (sat_hi_lsb)
			sat_hi_lsb[c] = t->a_c[c] * t->hi_c[c] + t->o_c[c];
		if (tau_us)
			tau_us[c] = t->tau_c[c];
		if (read_noise_lsb)
			read_noise_lsb[c] = t->sigma_c[c];
	}
}

void xb_tile_get_weights(const xb_tile *t, float *w_eff)
{
	for (size_t r = 0; r < t->R; r++)
		memcpy(w_eff + r * t->C, t->w_eff + r * t->ldw, t->C * sizeof *w_eff);
}

/* ---- timing and energy ------------------------------------------------------------------------ */

uint64_t xb_tile_mvm_cycles(const xb_tile *t, uint64_t events, uint32_t planes)
{
	const xb_tile_params *p = &t->p;
	double f = p->input.event_mhz;
	uint64_t conv = xb_adc_conversion_cycles(&p->adc);
	uint64_t base = (uint64_t)llround(p->integrator.baseline_delay_us * f);
	uint64_t rd = (uint64_t)llround(p->integrator.read_delay_ns * 1e-3 * f);

	return base + events * (uint64_t)p->input.wait_cycles + rd +
	       conv * (uint64_t)p->adc.columns_per_adc * planes;
}

double xb_tile_energy_pj(const xb_tile *t, const xb_tile_counters *c)
{
	return (double)c->events * t->p.energy.event_pj +
	       (double)c->active_cells * t->p.energy.cell_pj +
	       (double)c->conversions * t->p.energy.conversion_pj;
}

/* ---- workspace ------------------------------------------------------------------------------------ */

typedef struct slot {
	float *X;        /* [GEMM_CHUNKS CHUNK][R] input codes as floats */
	float *A;        /* [sends R][CHUNK] x Lambda per event slot (0 where no event) */
	float *Bd;       /* [sends R][CHUNK] Lambda (or Lambda h) of the bounds per slot */
	float *V;        /* [GEMM_CHUNKS CHUNK][ldw] integrator states or sgemm results */
	int32_t *Vi;     /* [GEMM_CHUNKS CHUNK][ldw] integer products */
	float *P;        /* [bits][CHUNK][ldw] bit-plane sums */
	float *Xb;       /* [CHUNK][R] one bit plane */
	uint8_t *Xb8;    /* [CHUNK][R] one bit plane as bytes */
	float *v;        /* [ldw] state of one sample */
	float *z;        /* [ldw] deviates */
	float *lam;      /* [ldw] per-sample or per-column leak */
	float *pws;      /* [R * sends] Lambda(j) of one sample */
	int32_t *cnt;    /* [CHUNK] events counted per sample */
	float *cur;      /* [CHUNK] bound factor per sample */
	int64_t *acc;    /* [ldw] digital shift-add accumulator */
	int32_t *yp;     /* [ldw] codes of one bit plane */
	int32_t *ev;     /* [R * MAX_SENDS] event rows of one sample */
	int32_t *rows;   /* [R] compacted static order */
	int32_t *act;    /* [CHUNK / 16][R sends] slots with an event, per block of 16 samples */
	size_t nact[XB_TILE_CHUNK / 16];   /* their counts */
	double *keys;    /* [2 R] sort keys (magnitude order) */
	unsigned char *sat;  /* [ldw] integrator saturation flags */
} slot;

struct xb_tile_work {
	size_t nslots, R, ldw, bits, sends;
	slot *s;
};

/* Integer weights (bytes) of a product and their row stride. */
typedef struct int_w {
	const int8_t *w;          /* NULL: the product takes sgemm */
	size_t ld;
} int_w;

/* The integer weights of a product whose input codes reach XMAX: the programmed
 * weights (w, stride C) for the ideal model (IDEAL), the effective ones when they are
 * integers (w8e, stride ldw) for the others; none when 2 XMAX wmax > 32767. */
static int_w int_weights(const xb_tile *t, int ideal, int xmax)
{
	int_w iw = { NULL, 0 };

	if (2L * xmax * t->wmax > 32767)
		return iw;
	if (ideal)
		iw = (int_w){ t->w, t->C };
	else if (t->eff_int)
		iw = (int_w){ t->w8e, t->ldw };
	return iw;
}

/* The integer product: the first N columns of OUT (floats, stride ldw) = X W for M input
 * rows X (bytes, stride LDX) of K > 0 codes, by oneDNN's u8 x s8 -> s32 GEMM, about
 * four times sgemm's multiply-accumulates per second on VNNI hardware.  It is exact:
 * oneDNN sums in int32 (|sum| <= K xmax wmax < 2^31), with pairs of products in int16
 * on hardware without VNNI, which int_weights' 2 xmax wmax <= 32767 keeps from
 * saturating.  sgemm on the same operands is exact too while every partial sum stays
 * below 2^24 (R xmax wmax; 128 x 31 x 63 on hx), so the two give the same bits there.
 * Returns 0, or -1 for K = 0 or when oneDNN refused (the caller then takes sgemm). */
static int int_product(const xb_tile *t, size_t m, size_t n, size_t k, const uint8_t *x,
		       size_t ldx, int_w w, slot *sl, float *out)
{
	const int32_t co = 0;
	const size_t ldw = t->ldw;

	if (!m || !n)
		return 0;
	if (!k || dnnl_gemm_u8s8s32('N', 'N', 'F', (dnnl_dim_t)m, (dnnl_dim_t)n, (dnnl_dim_t)k,
				    1.0f, x, (dnnl_dim_t)ldx, 0, w.w, (dnnl_dim_t)w.ld, 0, 0.0f,
				    sl->Vi, (dnnl_dim_t)ldw, &co) != dnnl_success)
		return -1;
#ifdef XB_MEMCHECK
	/* oneDNN's JIT kernels multiply its packing buffers' unset padding by zero:
	 * memcheck cannot see that the products are defined. */
	for (size_t i = 0; i < m; i++)
		VALGRIND_MAKE_MEM_DEFINED(sl->Vi + i * ldw, n * sizeof *sl->Vi);
#endif
	for (size_t i = 0; i < m; i++) {
		const int32_t *restrict vi = sl->Vi + i * ldw;
		float *restrict v = out + i * ldw;

		for (size_t c = 0; c < n; c++)
			v[c] = (float)vi[c];
	}
	return 0;
}

/* Input codes rows I0 .. I0 + NS of batch B as floats in X (the sgemm and kernel operand). */
static void float_inputs(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns, slot *sl)
{
	for (size_t s = 0; s < ns; s++) {
		const uint8_t *x = b->x + (i0 + s) * b->ldx;

		for (size_t r = 0; r < b->n_in; r++)
			sl->X[s * t->R + r] = (float)x[r];
	}
}

/* V = the product of B's inputs I0 .. I0 + NS with the weights of B's model: integer
 * when int_weights has them, else sgemm with WF (w_int or w_eff). */
static void product(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns,
		    const float *wf, slot *sl)
{
	int_w w = int_weights(t, b->model == XB_MODEL_IDEAL, t->xmax);

	if (w.w && int_product(t, ns, b->n_out, b->n_in, b->x + i0 * b->ldx, b->ldx, w, sl,
			       sl->V) == 0)
		return;
	float_inputs(t, b, i0, ns, sl);
	gemm(ns, b->n_out, b->n_in, sl->X, t->R, wf, t->ldw, sl->V, t->ldw);
}

void xb_tile_work_free(xb_tile_work *w)
{
	if (!w)
		return;
	for (size_t i = 0; w->s && i < w->nslots; i++) {
		slot *s = &w->s[i];

		free(s->X);
		free(s->A);
		free(s->Bd);
		free(s->pws);
		free(s->cnt);
		free(s->cur);
		free(s->V);
		free(s->Vi);
		free(s->P);
		free(s->Xb);
		free(s->Xb8);
		free(s->v);
		free(s->z);
		free(s->lam);
		free(s->acc);
		free(s->yp);
		free(s->ev);
		free(s->rows);
		free(s->act);
		free(s->keys);
		free(s->sat);
	}
	free(w->s);
	free(w);
}

xb_tile_work *xb_tile_work_new(const xb_tile *t, xb_err *err)
{
	xb_tile_work *w = calloc(1, sizeof *w);
	size_t R = t->R, ldw = t->ldw, bits = (size_t)t->p.input.bits;
	size_t sends = (size_t)t->p.input.num_sends;
	int nt = 1;

#ifdef _OPENMP
	nt = omp_get_max_threads();
#endif
	if (!w)
		goto nomem;
	w->nslots = (size_t)(nt > 0 ? nt : 1);
	w->R = R;
	w->ldw = ldw;
	w->bits = bits;
	w->sends = sends;
	w->s = calloc(w->nslots, sizeof *w->s);
	if (!w->s)
		goto nomem;
	for (size_t i = 0; i < w->nslots; i++) {
		slot *s = &w->s[i];

		s->X = xaligned(GEMM_CHUNKS * CHUNK * R * sizeof(float));
		s->A = xaligned(CHUNK * R * sends * sizeof(float));
		s->Bd = xaligned(CHUNK * R * sends * sizeof(float));
		s->pws = xaligned(R * sends * sizeof(float));
		s->cnt = xaligned(CHUNK * sizeof(int32_t));
		s->cur = xaligned(CHUNK * sizeof(float));
		s->V = xaligned(GEMM_CHUNKS * CHUNK * ldw * sizeof(float));
		s->Vi = xaligned(GEMM_CHUNKS * CHUNK * ldw * sizeof(int32_t));
		s->P = xaligned(bits * CHUNK * ldw * sizeof(float));
		s->Xb = xaligned(CHUNK * R * sizeof(float));
		s->Xb8 = xaligned(CHUNK * R);
		s->v = xaligned(ldw * sizeof(float));
		s->z = xaligned(ldw * sizeof(float));
		s->lam = xaligned(ldw * sizeof(float));
		s->acc = xaligned(ldw * sizeof(int64_t));
		s->yp = xaligned(ldw * sizeof(int32_t));
		s->ev = xcalloc(R * MAX_SENDS, sizeof *s->ev);
		s->rows = xcalloc(R, sizeof *s->rows);
		s->act = xcalloc(CHUNK / 16 * R * sends, sizeof *s->act);
		s->keys = xcalloc(2 * R, sizeof *s->keys);
		s->sat = xcalloc(ldw, 1);
		if (!s->X || !s->A || !s->Bd || !s->pws || !s->cnt || !s->cur ||
		    !s->V || !s->Vi || !s->P || !s->Xb || !s->Xb8 || !s->v || !s->z || !s->lam ||
		    !s->acc || !s->yp || !s->ev || !s->rows || !s->act || !s->keys || !s->sat)
			goto nomem;
	}
	return w;
nomem:
	xb_raise(err, XB_ENOMEM, "workspace of a %zu x %zu tile: out of memory", R, t->C);
	xb_tile_work_free(w);
	return NULL;
}

void xb_tile_batch_init(xb_tile_batch *b, const xb_tile *t, size_t batch, const uint8_t *x,
			int32_t *y)
{
	memset(b, 0, sizeof *b);
	b->model = t->p.integrator.model;
	b->batch = batch;
	b->x = x;
	b->ldx = b->n_in = t->R;
	b->y = y;
	b->ldy = b->n_out = t->C;
}

/* ---- the ordered kernel (static order, hard clamp, uniform leak) ------------------------------ */

/* The integrator state is kept scaled by the leak still to come, u = v Lambda, with
 * Lambda(k) = exp(-(K - 1 - k) dt / tau) for event k of K (all events of an MVM are
 * equally spaced).  An event is then one FMA and a clamp to bounds scaled alike:
 *     u = clamp(fmaf(x Lambda, w, u), Lambda lo, Lambda hi)
 * (x Lambda and the bounds rounded to single precision), and v = u at the last event.
 *
 * The kernel puts samples in the vector lanes: for a block of samples and columns it
 * holds u in registers through all event slots; per slot it loads A = x Lambda and the
 * bound factor of every sample once, and per column broadcasts the weight.  A slot where
 * a sample sends no event has A = 0 and the bounds of that sample's previous event, so
 * u stays exactly as it was.  Output: V[s][c] for s < CHUNK, c < NC. */
#define KNC 16   /* columns per register block */

/* The slots the kernel visits: per block of 16 samples, those where some sample of the
 * block sends an event.  A slot without any leaves every state of the block as it was
 * (A = 0 and each sample's bounds those of its latest event), so skipping it is exact. */
typedef struct kslots {
	const int32_t *act;       /* [CHUNK / 16][stride] */
	const size_t *nact;       /* [CHUNK / 16] */
	size_t stride;
} kslots;

#if defined(__AVX512F__)
/* SYM: every column's bounds are -h, h and Bd holds Lambda h: one vrangeps (the value
 * of smaller magnitude, with the sign of t) is the clamp, exactly as max and min.
 * Otherwise Bd holds Lambda and the bounds are Lambda lo_c, Lambda hi_c. */
static inline __attribute__((always_inline)) void
kernel512(const kslots *ks, size_t K, const int32_t *rows, const float *A, const float *Bd,
	  const float *W, size_t ldw, const float *lo, const float *hi, size_t nc, float *V,
	  const int sym)
{
	for (size_t s0 = 0; s0 < CHUNK; s0 += 16)
		for (size_t c0 = 0; c0 < nc; c0 += KNC) {
			__m512 acc[KNC];
			float tmp[KNC][16] __attribute__((aligned(64)));
			const int32_t *act = ks->act + s0 / 16 * ks->stride;

#pragma GCC unroll 16
			for (int c = 0; c < KNC; c++)
				acc[c] = _mm512_setzero_ps();
			for (size_t j = 0; j < ks->nact[s0 / 16]; j++) {
				size_t k = (size_t)act[j];
				__m512 a = _mm512_load_ps(A + k * CHUNK + s0);
				__m512 bd = _mm512_load_ps(Bd + k * CHUNK + s0);
				const float *wr = W + (size_t)rows[k % K] * ldw + c0;

#pragma GCC unroll 16
				for (int c = 0; c < KNC; c++) {
					__m512 t = _mm512_fmadd_ps(a, _mm512_set1_ps(wr[c]), acc[c]);

#if defined(__AVX512DQ__)
					if (sym) {
						acc[c] = _mm512_range_ps(t, bd, 0x02);
						continue;
					}
#endif
					t = _mm512_max_ps(t, _mm512_mul_ps(bd, _mm512_set1_ps(lo[c0 + c])));
					acc[c] = _mm512_min_ps(t, _mm512_mul_ps(bd, _mm512_set1_ps(hi[c0 + c])));
				}
			}
#pragma GCC unroll 16
			for (int c = 0; c < KNC; c++)
				_mm512_store_ps(tmp[c], acc[c]);
			for (size_t l = 0; l < 16; l++)
				for (int c = 0; c < KNC; c++)
					V[(s0 + l) * ldw + c0 + (size_t)c] = tmp[c][l];
		}
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
static void kernel256(const kslots *ks, size_t K, const int32_t *rows, const float *A,
		      const float *Bd, const float *W, size_t ldw, const float *lo,
		      const float *hi, size_t nc, float *V)
{
	for (size_t s0 = 0; s0 < CHUNK; s0 += 8)
		for (size_t c0 = 0; c0 < nc; c0 += 8) {
			__m256 acc[8];
			float tmp[8][8] __attribute__((aligned(32)));
			const int32_t *act = ks->act + s0 / 16 * ks->stride;

#pragma GCC unroll 8
			for (int c = 0; c < 8; c++)
				acc[c] = _mm256_setzero_ps();
			for (size_t j = 0; j < ks->nact[s0 / 16]; j++) {
				size_t k = (size_t)act[j];
				__m256 a = _mm256_load_ps(A + k * CHUNK + s0);
				__m256 bd = _mm256_load_ps(Bd + k * CHUNK + s0);
				const float *wr = W + (size_t)rows[k % K] * ldw + c0;

#pragma GCC unroll 8
				for (int c = 0; c < 8; c++) {
					__m256 t = _mm256_fmadd_ps(a, _mm256_set1_ps(wr[c]), acc[c]);

					t = _mm256_max_ps(t, _mm256_mul_ps(bd, _mm256_set1_ps(lo[c0 + c])));
					acc[c] = _mm256_min_ps(t, _mm256_mul_ps(bd, _mm256_set1_ps(hi[c0 + c])));
				}
			}
#pragma GCC unroll 8
			for (int c = 0; c < 8; c++)
				_mm256_store_ps(tmp[c], acc[c]);
			for (size_t l = 0; l < 8; l++)
				for (int c = 0; c < 8; c++)
					V[(s0 + l) * ldw + c0 + (size_t)c] = tmp[c][l];
		}
}
#endif

/* Whether a register kernel was built (otherwise the reference loop runs). */
static int have_kernel(void)
{
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
	return 1;
#else
	return 0;
#endif
}

static void kernel_ordered(const xb_tile *t, const kslots *ks, size_t K, const int32_t *rows,
			   const float *A, const float *Bd, size_t nc, float *V, int sym)
{
#if defined(__AVX512F__)
	if (sym)
		kernel512(ks, K, rows, A, Bd, t->w_eff, t->ldw, t->lo_w, t->hi_w, nc, V, 1);
	else
		kernel512(ks, K, rows, A, Bd, t->w_eff, t->ldw, t->lo_w, t->hi_w, nc, V, 0);
#elif defined(__AVX2__) && defined(__FMA__)
	(void)sym;
	kernel256(ks, K, rows, A, Bd, t->w_eff, t->ldw, t->lo_w, t->hi_w, nc, V);
#else
	(void)t, (void)ks, (void)K, (void)rows, (void)A, (void)Bd, (void)nc, (void)V, (void)sym;
#endif
}

/* Whether the vrangeps form applies (AVX-512DQ and symmetric uniform bounds). */
static int use_sym(const xb_tile *t)
{
#if defined(__AVX512F__) && defined(__AVX512DQ__)
	return t->sym_uniform;
#else
	(void)t;
	return 0;
#endif
}

/* ---- per-sample pieces -------------------------------------------------------------------------- */

static inline float smooth_sat(float v, float lo, float hi, float k)
{
	float top = hi - k, bot = lo + k;

	if (v > top)
		return top + k * tanhf((v - top) / k);
	if (v < bot)
		return bot - k * tanhf((bot - v) / k);
	return v;
}

/* v = S(v) over N columns; flags saturation in SAT when not NULL. */
static void saturate(const xb_tile *t, float *v, size_t n, unsigned char *sat)
{
	const float *lo = t->lo_w, *hi = t->hi_w;

	if (t->p.integrator.saturation == XB_SAT_SMOOTH) {
		for (size_t c = 0; c < n; c++) {
			if (sat && (v[c] > hi[c] - t->knee_w[c] || v[c] < lo[c] + t->knee_w[c]))
				sat[c] = 1;
			v[c] = smooth_sat(v[c], lo[c], hi[c], t->knee_w[c]);
		}
		return;
	}
	if (sat)
		for (size_t c = 0; c < n; c++)
			if (v[c] < lo[c] || v[c] > hi[c])
				sat[c] = 1;
	for (size_t c = 0; c < n; c++) {
		float x = v[c] < lo[c] ? lo[c] : v[c];

		v[c] = x > hi[c] ? hi[c] : x;
	}
}

/* Convert the states V (units of input x weight, read leak applied) of one MVM to codes:
 * y = clamp(floor(fma(a_c g cs, v, cs o_c + n)), min, max) in double precision, n the
 * read noise in codes (cs sigma_c times a normal deviate, a single-precision product;
 * a_c g cs rounded once; with a_c = cs = 1 and o_c = n = 0 this is floor(g v) exactly
 * as the mock computes).  CLAMP applies the hard integrator limits to v first (the
 * unordered model's saturation, fused).  PLANE keys the read noise; Z is scratch for
 * the deviates.  Returns the number of clipped conversions (COUNT true; else maybe 0). */
static uint32_t convert_clamped(const xb_tile *t, const float *v, size_t n, uint64_t sample,
				uint32_t plane, float *z, int32_t *y, int clamp, int count)
{
	const double lo = t->p.adc.min, hi = t->p.adc.max;
	const int32_t ilo = t->p.adc.min, ihi = t->p.adc.max;
	const float *sg = t->sigq_c;
	uint32_t clipped = 0;
	int noisy = t->read_idx >= 0;

	if (noisy) {
		if (t->src[t->read_idx] == xb_noise_read) {
			/* The read source's deviates as they are; scaled in the loop below. */
			xb_stream_normals(&t->stream, XB_DRAW_READ, sample, plane, 0, z, n);
		} else {
			memset(z, 0, n * sizeof *z);
			t->src[t->read_idx]->temporal(t->state + (size_t)t->read_idx * t->state_max,
						      &t->stream, sample, plane, sg, z, n);
			sg = NULL;
		}
	}
	{
		const double *restrict ag = t->ag_c, *restrict o = t->oq_c;
		int32_t *restrict yy = y;
		size_t c0 = 0;

#if defined(__AVX512F__)
		/* The same operations 16 columns at a time: clamp, noise product and the
		 * conversion to double on 16 floats, then two halves of 8 doubles; the clamp
		 * to [lo, hi] comes before the floor (lo, hi are integers, so the two commute)
		 * and the floor is the conversion to int32 rounding down.  Clipped
		 * conversions are counted only for the counters and statistics. */
		const __m512d vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi);
		const __m512d vhi1 = _mm512_set1_pd(hi + 1);

		/* First in single precision where that gives the same codes: r_f =
		 * fmaf(float(a g cs), v, float(cs o) + n) differs from the double r by at
		 * most E <= 2^-23 (2 R + 3 A + 2 N) (1 + 2^-22), R = max |code| + 2, A = max
		 * |cs o_c|, N = 6.4 max |n| (four single-precision roundings, each relative
		 * to a term bounded by R, A or N while |r_f| <= R; beyond R both sides clip
		 * alike, as E < |r_f| - R + 1 there).  So floor(r_f) = floor(r) whenever r_f
		 * is more than delta = 2^-22 (R + 2 A + N + 1) >= 2 E from an integer; 16
		 * columns with one of them closer (or a NaN) go the double way. */
		if (t->conv_float && (!noisy || sg)) {
			const __m512 flo = _mm512_set1_ps((float)lo), fhi = _mm512_set1_ps((float)hi);
			const __m512 fhi1 = _mm512_set1_ps((float)(hi + 1));
			const __m512 dl = _mm512_set1_ps(t->conv_delta), dh = _mm512_set1_ps(1.0f - t->conv_delta);

			for (; c0 + 16 <= n; c0 += 16) {
				__m512 vv = _mm512_loadu_ps(v + c0), off = _mm512_loadu_ps(t->oqf_c + c0);
				__m512 rf, fl, d;

				if (clamp)
					vv = _mm512_min_ps(_mm512_max_ps(vv, _mm512_loadu_ps(t->lo_w + c0)),
							   _mm512_loadu_ps(t->hi_w + c0));
				if (noisy)
					off = _mm512_add_ps(off, _mm512_mul_ps(_mm512_loadu_ps(z + c0),
									       _mm512_loadu_ps(sg + c0)));
				rf = _mm512_fmadd_ps(_mm512_loadu_ps(t->agf_c + c0), vv, off);
				fl = _mm512_roundscale_ps(rf, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
				d = _mm512_sub_ps(rf, fl);
				if (_mm512_cmp_ps_mask(d, dl, _CMP_NGE_UQ) | _mm512_cmp_ps_mask(d, dh, _CMP_NLE_UQ))
					break;   /* near a step: the double way from here */
				if (count)
					clipped += (uint32_t)__builtin_popcount(_mm512_cmp_ps_mask(rf, flo, _CMP_LT_OQ)) +
						   (uint32_t)__builtin_popcount(_mm512_cmp_ps_mask(rf, fhi1, _CMP_GE_OQ));
				fl = _mm512_min_ps(_mm512_max_ps(fl, flo), fhi);
				_mm512_storeu_si512((void *)(yy + c0), _mm512_cvttps_epi32(fl));
			}
		}
		for (; c0 + 16 <= n; c0 += 16) {
			__m512 vv = _mm512_loadu_ps(v + c0), zz = _mm512_setzero_ps();
			__m512d r[2];

			if (clamp)
				vv = _mm512_min_ps(_mm512_max_ps(vv, _mm512_loadu_ps(t->lo_w + c0)),
						   _mm512_loadu_ps(t->hi_w + c0));
			if (noisy) {
				zz = _mm512_loadu_ps(z + c0);
				if (sg)
					zz = _mm512_mul_ps(zz, _mm512_loadu_ps(sg + c0));
			}
#pragma GCC unroll 2
			for (int h = 0; h < 2; h++) {
				__m512d off = _mm512_loadu_pd(o + c0 + 8 * (size_t)h), rc;
				__m256 vh = h ? _mm512_extractf32x8_ps(vv, 1) : _mm512_castps512_ps256(vv);

				if (noisy) {
					__m256 zh = h ? _mm512_extractf32x8_ps(zz, 1) : _mm512_castps512_ps256(zz);

					off = _mm512_add_pd(off, _mm512_cvtps_pd(zh));
				}
				r[h] = _mm512_fmadd_pd(_mm512_loadu_pd(ag + c0 + 8 * (size_t)h), _mm512_cvtps_pd(vh), off);
				rc = _mm512_min_pd(_mm512_max_pd(r[h], vlo), vhi);
				if (count)   /* floor(r) < lo, floor(r) > hi */
					clipped += (uint32_t)__builtin_popcount(_mm512_cmp_pd_mask(r[h], vlo, _CMP_LT_OQ)) +
						   (uint32_t)__builtin_popcount(_mm512_cmp_pd_mask(r[h], vhi1, _CMP_GE_OQ));
				_mm256_storeu_si256((__m256i *)(void *)(yy + c0 + 8 * (size_t)h),
						    _mm512_cvt_roundpd_epi32(rc, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
			}
		}
#endif
		/* floor by truncation and correction after a first clamp to [lo - 1, hi + 1]
		 * (which keeps the values in int32 and lets the loop vectorise). */
		for (size_t c = c0; c < n; c++) {
			float vc = v[c];
			double r, off = o[c];
			int32_t i;

			if (clamp) {
				vc = vc < t->lo_w[c] ? t->lo_w[c] : vc;
				vc = vc > t->hi_w[c] ? t->hi_w[c] : vc;
			}
			if (noisy)
				off += (double)(sg ? sg[c] * z[c] : z[c]);
			r = fma(ag[c], (double)vc, off);
			r = r < lo - 1 ? lo - 1 : r;
			r = r > hi + 1 ? hi + 1 : r;
			i = (int32_t)r;
			i -= r < (double)i;
			if (count)
				clipped += (uint32_t)(i < ilo) + (uint32_t)(i > ihi);
			i = i < ilo ? ilo : i;
			yy[c] = i > ihi ? ihi : i;
		}
	}
	return clipped;
}

static uint32_t convert(const xb_tile *t, const float *v, size_t n, uint64_t sample,
			uint32_t plane, float *z, int32_t *y)
{
	return convert_clamped(t, v, n, sample, plane, z, y, 0, 1);
}

/* The rows of one MVM's events (one send) into EV; returns their number. */
static size_t event_rows(const xb_tile *t, const xb_tile_batch *b, size_t i, const uint8_t *x,
			 slot *sl, int send, int32_t *ev)
{
	size_t n = 0, nin = b->n_in;
	xb_order o = t->p.input.order;

	if (b->order) {
		const int32_t *ord = b->order + i * b->ld_order;

		for (size_t k = 0; k < b->ld_order && ord[k] >= 0; k++)
			if (x[ord[k]])
				ev[n++] = ord[k];
		return n;
	}
	if (o == XB_ORDER_MAGNITUDE) {
		for (size_t r = 0; r < nin; r++)
			if (x[r]) {
				sl->keys[2 * n] = (double)x[r] * t->row_abs[r];
				sl->keys[2 * n + 1] = (double)r;
				n++;
			}
		qsort(sl->keys, n, 2 * sizeof *sl->keys, cmp_desc_key);
		for (size_t k = 0; k < n; k++)
			ev[k] = (int32_t)sl->keys[2 * k + 1];
		return n;
	}
	if (o == XB_ORDER_RANDOM) {
		for (size_t r = nin; r-- > 0;)
			if (x[r])
				ev[n++] = (int32_t)r;
		/* Fisher-Yates with draw j of (ORDER, sample, send): index = floor(u32 (j+1) / 2^32). */
		for (size_t j = n; j-- > 1;) {
			uint32_t u = xb_stream_u32(&t->stream, XB_DRAW_ORDER, b->sample_base + i,
						   (uint32_t)send, (uint32_t)j);
			size_t m = (size_t)(((uint64_t)u * (uint64_t)(j + 1)) >> 32);
			int32_t tmp = ev[j];

			ev[j] = ev[m];
			ev[m] = tmp;
		}
		return n;
	}
	for (size_t k = 0; k < t->R; k++) {
		int32_t r = t->order[k];

		if ((size_t)r < nin && x[r])
			ev[n++] = r;
	}
	return n;
}

static xb_tile_trace *find_trace(const xb_tile_batch *b, size_t i)
{
	for (size_t k = 0; k < b->ntraces; k++)
		if (b->traces[k].sample == i)
			return &b->traces[k];
	return NULL;
}

static void trace_event(const xb_tile *t, xb_tile_trace *tr, size_t k, xb_time_ps time,
			int32_t row, const float *v, size_t n)
{
	if (tr && k < tr->capacity) {
		tr->time_ps[k] = time;
		tr->row[k] = row;
		for (size_t c = 0; c < n; c++)
			tr->v_lsb[k * n + c] = (float)(t->g * (double)v[c]);
	}
}

/* Per-sample leak factors: the tile's, or from an explicit event interval. */
static const float *sample_lam(const xb_tile *t, const xb_tile_batch *b, size_t i, slot *sl,
			       size_t n, xb_time_ps *dt)
{
	*dt = t->dt_ps;
	if (!b->interval_ns)
		return t->lam;
	*dt = xb_ns_to_ps(b->interval_ns[i]);
	for (size_t c = 0; c < n; c++)
		sl->lam[c] = t->tau_c[c] > 0 ? (float)exp(-b->interval_ns[i] * 1e-3 / t->tau_c[c]) : 1.0f;
	return sl->lam;
}

/* Reference loop of the ordered model, event encoding, one sample, in the scaled form
 * of the kernel (see above): u = S_Lambda(fmaf(x Lambda, w, u) + Lambda e), where the
 * hard S_Lambda clamps to Lambda lo, Lambda hi and the smooth one is Lambda S(u /
 * Lambda).  When tau is the same in every column, Lambda(j) = lambda^j by repeated
 * single-precision products of lambda = exp(-dt / tau) (the tile's table, or one made
 * for an explicit interval), as in the kernel, so that both agree bit for bit; with
 * per-column tau, Lambda_c(j) = exp(-j dt / tau_c) directly.
 * Writes the state at the conversion (read leak applied) to U[0 .. n_out-1]. */
static void ordered_event_sample(const xb_tile *t, const xb_tile_batch *b, size_t i,
				 const uint8_t *x, slot *sl, float *u, xb_mvm_stats *st)
{
	size_t n = b->n_out, K = 0;
	uint64_t sample = b->sample_base + i;
	xb_time_ps dt = t->dt_ps, t0 = xb_us_to_ps(t->p.integrator.baseline_delay_us);
	double dt_us = (double)t->dt_ps * 1e-6;
	xb_tile_trace *tr = b->traces ? find_trace(b, i) : NULL;
	unsigned char *sat = st ? sl->sat : NULL;
	int smooth = t->p.integrator.saturation == XB_SAT_SMOOTH;
	const float *P = NULL;
	float *lam = sl->lam, *e = sl->z;

	for (int send = 0; send < t->p.input.num_sends; send++)
		K += event_rows(t, b, i, x, sl, send, sl->ev + K);
	if (b->interval_ns) {
		dt = xb_ns_to_ps(b->interval_ns[i]);
		dt_us = b->interval_ns[i] * 1e-3;
	}
	if (t->tau_uniform) {
		if (b->interval_ns) {
			float l1 = leak_pow(1, dt_us, t->tau_c[0]);

			sl->pws[0] = 1.0f;
			for (size_t j = 1; j < K; j++)
				sl->pws[j] = sl->pws[j - 1] * l1;
			P = sl->pws;
		} else {
			P = t->pw;
		}
	}
	memset(u, 0, n * sizeof *u);
	if (sat)
		memset(sat, 0, n);
	for (size_t k = 0; k < K; k++) {
		int32_t r = sl->ev[k];
		size_t j = K - 1 - k;
		float xr = (float)x[r];
		const float *w = t->w_eff + (size_t)r * t->ldw;

		if (P) {
			float L = P[j], a = xr * L;

			for (size_t c = 0; c < n; c++)
				lam[c] = L;
			for (size_t c = 0; c < n; c++)
				u[c] = fmaf(a, w[c], u[c]);
		} else {
			for (size_t c = 0; c < n; c++)
				lam[c] = leak_pow((double)j, dt_us, t->tau_c[c]);
			for (size_t c = 0; c < n; c++)
				u[c] = fmaf(xr * lam[c], w[c], u[c]);
		}
		if (t->event_idx >= 0) {
			memset(e, 0, n * sizeof *e);
			xb_stream_add_normals(&t->stream, XB_DRAW_EVENT, sample, (uint32_t)k, 0,
					      t->event_sigma_w, NULL, e, n);
			for (size_t c = 0; c < n; c++)
				u[c] += lam[c] * e[c];
		}
		if (smooth) {
			for (size_t c = 0; c < n; c++) {
				float v = u[c] / lam[c];

				if (sat && (v > t->hi_w[c] - t->knee_w[c] || v < t->lo_w[c] + t->knee_w[c]))
					sat[c] = 1;
				u[c] = smooth_sat(v, t->lo_w[c], t->hi_w[c], t->knee_w[c]) * lam[c];
			}
		} else {
			for (size_t c = 0; c < n; c++) {
				float lo = lam[c] * t->lo_w[c], hi = lam[c] * t->hi_w[c], v = u[c];

				if (sat && (v < lo || v > hi))
					sat[c] = 1;
				v = v < lo ? lo : v;
				u[c] = v > hi ? hi : v;
			}
		}
		if (tr && k < tr->capacity) {
			tr->time_ps[k] = t0 + k * dt;
			tr->row[k] = r;
			for (size_t c = 0; c < n; c++)
				tr->v_lsb[k * n + c] = (float)(t->g * (double)(u[c] / lam[c]));
		}
	}
	if (tr) {
		tr->events = K;
		tr->read_ps = t0 + (K ? (K - 1) * dt : 0) + xb_ns_to_ps(t->p.integrator.read_delay_ns);
	}
	for (size_t c = 0; c < n; c++)
		u[c] *= t->lam_read[c];
	if (st)
		for (size_t c = 0; c < n; c++)
			st->sat_integrator += sat[c];
}

size_t xb_tile_events(xb_tile *t, const uint8_t *x, size_t n_in, uint64_t sample,
		      int32_t *rows, size_t cap)
{
	const xb_tile_params *p = &t->p;
	xb_tile_batch b;
	slot sl;
	size_t n = 0;

	if (n_in > t->R || (n_in && !x)) {
		xb_raise(&t->err, XB_EINVAL, "xb_tile_events: %zu inputs for %zu signed rows", n_in, t->R);
		return SIZE_MAX;
	}
	for (size_t r = 0; r < n_in; r++)
		if (x[r] > t->xmax) {
			xb_raise(&t->err, XB_ERANGE, "xb_tile_events: input code %d at row %zu is out of "
				 "range: input.bits = %d allows 0 .. %d", x[r], r, p->input.bits, t->xmax);
			return SIZE_MAX;
		}
	if (p->input.encoding != XB_ENC_EVENT) {
		int nplanes = p->input.encoding == XB_ENC_BITSERIAL ? p->input.bits : 1;

		for (int send = 0; send < p->input.num_sends; send++)
			for (int q = 0; q < nplanes; q++) {
				int pb = p->input.encoding != XB_ENC_BITSERIAL ? 0
					: p->input.bit_order == XB_BITS_MSB_FIRST ? nplanes - 1 - q : q;
				size_t any = 0;

				for (size_t r = 0; r < n_in; r++)
					any += nplanes > 1 ? (x[r] >> pb) & 1 : x[r] != 0;
				if (any) {
					if (n < cap)
						rows[n] = -1 - pb;
					n++;
				}
			}
		return n;
	}
	memset(&sl, 0, sizeof sl);
	memset(&b, 0, sizeof b);
	sl.ev = malloc((t->R ? t->R : 1) * sizeof *sl.ev);
	sl.keys = malloc((t->R ? 2 * t->R : 1) * sizeof *sl.keys);
	if (!sl.ev || !sl.keys) {
		free(sl.ev);
		free(sl.keys);
		xb_raise(&t->err, XB_ENOMEM, "xb_tile_events: out of memory");
		return SIZE_MAX;
	}
	b.n_in = n_in;
	b.sample_base = sample;
	for (int send = 0; send < p->input.num_sends; send++) {
		size_t ne = event_rows(t, &b, 0, x, &sl, send, sl.ev);

		for (size_t k = 0; k < ne; k++, n++)
			if (n < cap)
				rows[n] = sl.ev[k];
	}
	free(sl.ev);
	free(sl.keys);
	return n;
}

xb_time_ps xb_tile_event_time(const xb_tile *t, uint64_t k)
{
	return xb_us_to_ps(t->p.integrator.baseline_delay_us) + k * t->dt_ps;
}

/* ---- a chunk of samples ------------------------------------------------------------------------ */

typedef struct chunk_counts {
	uint64_t events, conversions, cells, sat_int, sat_adc, cycles;
} chunk_counts;

static void account(const xb_tile *t, const xb_tile_batch *b, size_t i, uint64_t events,
		    uint64_t cells, uint32_t conversions, uint32_t planes, uint32_t clipped,
		    uint32_t sat_int, chunk_counts *cc)
{
	uint64_t cyc = xb_tile_mvm_cycles(t, events, planes);

	cc->events += events;
	cc->cells += cells;
	cc->conversions += conversions;
	cc->sat_adc += clipped;
	cc->sat_int += sat_int;
	cc->cycles += cyc;
	if (b->stats) {
		xb_mvm_stats *st = &b->stats[i];

		st->events = (uint32_t)events;
		st->active_cells = cells;
		st->conversions = conversions;
		st->sat_adc = clipped;
		st->cycles = cyc;
	}
}

/* Number of set bits of plane BIT over the N_IN inputs of X. */
static size_t plane_rows(const uint8_t *x, size_t nin, int bit)
{
	size_t n = 0;

	for (size_t r = 0; r < nin; r++)
		n += (x[r] >> bit) & 1;
	return n;
}

/* Dense encodings (pulse, bitserial) of the ordered and unordered models. */
static void dense_chunk(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns, slot *sl,
			chunk_counts *cc)
{
	const xb_tile_params *p = &t->p;
	size_t R = t->R, nin = b->n_in, n = b->n_out, ldw = t->ldw;
	int bits = p->input.bits, sends = p->input.num_sends;
	int serial = p->input.encoding == XB_ENC_BITSERIAL;
	int digital = serial && p->adc.convert == XB_CONVERT_BITPLANE;
	int ordered = b->model == XB_MODEL_ORDERED;
	int nplanes = serial ? bits : 1;

	/* D_b = P_b W for every plane b (pulse: D = X W); bit planes (0/1) always fit the
	 * integer product, pulses when int_weights allows their codes. */
	for (int pb = 0; pb < nplanes; pb++) {
		float *A = serial ? sl->Xb : sl->X, *D = sl->P + (size_t)pb * CHUNK * ldw;
		int_w w8 = int_weights(t, 0, serial ? 1 : t->xmax);

		if (serial)
			for (size_t s = 0; s < ns; s++)
				for (size_t r = 0; r < nin; r++)
					sl->Xb8[s * R + r] = (uint8_t)((b->x[(i0 + s) * b->ldx + r] >> pb) & 1);
		if (w8.w && (serial ? int_product(t, ns, n, nin, sl->Xb8, R, w8, sl, D)
				  : int_product(t, ns, n, nin, b->x + i0 * b->ldx, b->ldx, w8, sl, D)) == 0)
			continue;
		if (serial)
			for (size_t i = 0; i < ns * R; i++)
				sl->Xb[i] = (float)sl->Xb8[i];
		else
			float_inputs(t, b, i0, ns, sl);
		gemm(ns, n, nin, A, R, t->w_eff, ldw, D, ldw);
	}
	for (size_t s = 0; s < ns; s++) {
		size_t i = i0 + s;
		const uint8_t *x = b->x + i * b->ldx;
		uint64_t sample = b->sample_base + i, events = 0, cells = 0;
		xb_mvm_stats *st = b->stats ? &b->stats[i] : NULL;
		unsigned char *sat = st ? sl->sat : NULL;
		xb_tile_trace *tr = ordered && b->traces ? find_trace(b, i) : NULL;
		xb_time_ps dt, t0 = xb_us_to_ps(p->integrator.baseline_delay_us);
		const float *lam = sample_lam(t, b, i, sl, n, &dt);
		int32_t *y = b->y ? b->y + i * b->ldy : NULL;
		uint32_t clipped = 0, conversions = 0, sat_int = 0, k = 0;
		float *v = sl->v;
		size_t prow[8];
		int order_b[8];

		for (int pb = 0; pb < nplanes; pb++) {
			prow[pb] = serial ? plane_rows(x, nin, pb) : 0;
			order_b[pb] = p->input.bit_order == XB_BITS_MSB_FIRST ? nplanes - 1 - pb : pb;
		}
		if (!serial)
			for (size_t r = 0; r < nin; r++)
				prow[0] += x[r] != 0;
		if (sat)
			memset(sat, 0, n);
		if (digital)
			memset(sl->acc, 0, n * sizeof *sl->acc);
		if (sat)
			memset(sat, 0, n);
		memset(v, 0, n * sizeof *v);
		/* Analog accumulation: planes (or the pulse) in order, repeated per send.
		 * Digital shift-add: every plane integrated alone and converted. */
		for (int q = 0; q < nplanes; q++) {
			int pb = order_b[q];
			const float *D = sl->P + (size_t)pb * CHUNK * ldw + s * ldw;
			float scale = serial && !digital ? (float)(1 << pb) : 1.0f;
			int has = prow[pb] > 0;

			if (digital)
				memset(v, 0, n * sizeof *v);
			if (!ordered) {
				/* One saturation of the total: analog planes summed first. */
				if (has) {
					for (size_t c = 0; c < n; c++)
						v[c] += (float)sends * scale * D[c];
					events += (uint64_t)sends;
					cells += (uint64_t)sends * prow[pb] * 2 * n;
				}
			} else if (has) {
				for (int send = 0; send < sends; send++) {
					for (size_t c = 0; c < n; c++)
						v[c] = fmaf(scale, D[c], v[c] * lam[c]);
					if (t->event_idx >= 0) {
						memset(sl->z, 0, n * sizeof *sl->z);
						xb_stream_add_normals(&t->stream, XB_DRAW_EVENT, sample, k, 0,
								      t->event_sigma_w, NULL, sl->z, n);
						for (size_t c = 0; c < n; c++)
							v[c] += sl->z[c];
					}
					saturate(t, v, n, sat);
					trace_event(t, tr, k, t0 + k * dt, serial ? -1 - pb : -1, v, n);
					k++;
					events++;
					cells += prow[pb] * 2 * n;
				}
			}
			if (digital || q == nplanes - 1) {
				if (!ordered) {
					uint64_t ne = digital ? (has ? (uint64_t)sends : 0) : events;

					if (t->event_idx >= 0 && ne) {
						memset(sl->z, 0, n * sizeof *sl->z);
						/* The sum of ne per-event deviates, drawn as one. */
						xb_stream_add_normals(&t->stream, XB_DRAW_EVENT, sample,
								      UINT32_MAX - (uint32_t)pb, 0,
								      t->event_sigma_w * (float)sqrt((double)ne),
								      NULL, sl->z, n);
						for (size_t c = 0; c < n; c++)
							v[c] += sl->z[c];
					}
					saturate(t, v, n, sat);
				} else {
					for (size_t c = 0; c < n; c++)
						v[c] *= t->lam_read[c];
				}
				if (sat)
					for (size_t c = 0; c < n; c++) {
						sat_int += sat[c];
						sat[c] = 0;
					}
				if (digital) {
					clipped += convert(t, v, n, sample, (uint32_t)pb, sl->z, sl->yp);
					for (size_t c = 0; c < n; c++)
						sl->acc[c] += ((int64_t)1 << pb) * sl->yp[c];
				} else if (y) {
					clipped += convert(t, v, n, sample, 0, sl->z, y);
				}
				conversions += (uint32_t)n;
			}
		}
		if (digital && y)
			for (size_t c = 0; c < n; c++)
				y[c] = (int32_t)sl->acc[c];   /* |sum| <= 255 * 65536: fits */
		if (tr) {
			tr->events = k;
			tr->read_ps = t0 + (k ? (k - 1) * dt : 0) + xb_ns_to_ps(p->integrator.read_delay_ns);
		}
		if (st)
			st->sat_integrator = sat_int;
		account(t, b, i, events, cells, conversions, digital ? (uint32_t)nplanes : 1, clipped,
			sat_int, cc);
	}
}

static int fast_ordered_ok(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns)
{
	xb_order o = t->p.input.order;

	if (!have_kernel() || t->p.integrator.saturation != XB_SAT_HARD || t->event_idx >= 0 ||
	    b->order || b->interval_ns || b->stats || !t->tau_uniform || o == XB_ORDER_RANDOM ||
	    o == XB_ORDER_MAGNITUDE)
		return 0;
	for (size_t k = 0; k < b->ntraces; k++)
		if (b->traces[k].sample >= i0 && b->traces[k].sample < i0 + ns)
			return 0;
	return 1;
}

static void event_chunk(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns, slot *sl,
			chunk_counts *cc)
{
	size_t R = t->R, nin = b->n_in, n = b->n_out, ldw = t->ldw;
	int sends = t->p.input.num_sends;
	int fast = b->model == XB_MODEL_ORDERED && fast_ordered_ok(t, b, i0, ns);
	int tally = b->counters || b->stats;   /* counts wanted (xb_tile_mvm adds cc to counters) */

	if (b->model == XB_MODEL_UNORDERED) {
		product(t, b, i0, ns, t->w_eff, sl);
	} else if (fast) {
		size_t K = 0, nslot;
		int sym = use_sym(t);
		float h = t->h_w;

		for (size_t k = 0; k < R; k++)
			if ((size_t)t->order[k] < nin)
				sl->rows[K++] = t->order[k];
		nslot = K * (size_t)sends;
		/* A = x Lambda(events after this one) per slot and sample; Bd = the bound factor
		 * of the sample's latest event (its first one before any event).  Samples run
		 * in the inner loops (vectorised): inputs in slot order first, then a backward
		 * pass counting the events after each slot, then a forward pass for Bd. */
		{
			float *XT = sl->Xb;             /* [K][CHUNK] */
			int32_t *cnt = sl->cnt;         /* [CHUNK] */
			float *cur = sl->cur;           /* [CHUNK] */

			const float lam = t->lam[0];

			for (size_t k = 0; k < K; k++) {
				const float *xc = sl->X + sl->rows[k];
				float *xt = XT + k * CHUNK;

				for (size_t s = 0; s < ns; s++)
					xt[s] = xc[s * R];
				for (size_t s = ns; s < CHUNK; s++)
					xt[s] = 0.0f;
			}
			for (size_t s = 0; s < CHUNK; s++) {
				cnt[s] = 0;
				cur[s] = 1.0f;   /* Lambda of the next event back in time */
			}
			/* Backward: Lambda = lambda^(events after), stepped by products. */
			for (size_t k = nslot; k-- > 0;) {
				const float *xt = XT + (k % K) * CHUNK;
				float *a = sl->A + k * CHUNK, *bd = sl->Bd + k * CHUNK;

#pragma omp simd
				for (size_t s = 0; s < CHUNK; s++) {
					int ev = xt[s] != 0.0f;
					float L = cur[s];

					a[s] = ev ? xt[s] * L : 0.0f;
					bd[s] = ev ? L : -1.0f;   /* no event: filled below */
					cur[s] = ev ? L * lam : L;
					cnt[s] += ev;
				}
			}
			for (size_t s = 0; s < CHUNK; s++)
				cur[s] = cnt[s] ? t->pw[cnt[s] - 1] : 1.0f;
			for (size_t k = 0; k < nslot; k++) {
				float *bd = sl->Bd + k * CHUNK;

#pragma omp simd
				for (size_t s = 0; s < CHUNK; s++) {
					cur[s] = bd[s] >= 0.0f ? bd[s] : cur[s];
					bd[s] = sym ? cur[s] * h : cur[s];
				}
			}
		}
		{
			kslots ks = { sl->act, sl->nact, nslot };

			for (size_t q = 0; q < CHUNK / 16; q++) {
				int32_t *act = sl->act + q * nslot;
				size_t na = 0;

				for (size_t k = 0; k < nslot; k++) {
					const float *a = sl->A + k * CHUNK + q * 16;
					int any = 0;

					for (int l = 0; l < 16; l++)
						any |= a[l] != 0.0f;
					if (any)
						act[na++] = (int32_t)k;
				}
				sl->nact[q] = na;
			}
			kernel_ordered(t, &ks, K, sl->rows, sl->A, sl->Bd, pad_cols(n), sl->V, sym);
		}
	}
	for (size_t s = 0; s < ns; s++) {
		size_t i = i0 + s;
		const uint8_t *x = b->x + i * b->ldx;
		uint64_t sample = b->sample_base + i, nz = 0;
		float *v = sl->V + s * ldw;
		xb_mvm_stats *st = b->stats ? &b->stats[i] : NULL;
		uint32_t clipped = 0;
		int fused = 0;

		if (st) {
			st->sat_integrator = 0;
			memset(sl->sat, 0, n);
		}
		if (tally || b->model != XB_MODEL_UNORDERED || t->event_idx >= 0) {
			uint32_t nz32 = 0;   /* narrow lanes: the count vectorises 16 wide */

			for (size_t r = 0; r < nin; r++)
				nz32 += x[r] != 0;
			nz = nz32;
		}
		if (b->model == XB_MODEL_UNORDERED) {
			uint64_t ne = nz * (uint64_t)sends;

			if (sends > 1)
				for (size_t c = 0; c < n; c++)
					v[c] *= (float)sends;
			if (t->event_idx >= 0 && ne) {
				memset(sl->z, 0, n * sizeof *sl->z);
				/* The sum of ne per-event deviates, drawn as one. */
				xb_stream_add_normals(&t->stream, XB_DRAW_EVENT, sample, UINT32_MAX, 0,
						      t->event_sigma_w * (float)sqrt((double)ne), NULL,
						      sl->z, n);
				for (size_t c = 0; c < n; c++)
					v[c] += sl->z[c];
			}
			/* Hard saturation without stats is fused into the conversion. */
			if (st || t->p.integrator.saturation != XB_SAT_HARD || !b->y)
				saturate(t, v, n, st ? sl->sat : NULL);
			else
				fused = 1;
			if (st)
				for (size_t c = 0; c < n; c++)
					st->sat_integrator += sl->sat[c];
		} else if (fast) {
			for (size_t c = 0; c < n; c++)
				v[c] *= t->lam_read[c];
		} else {
			ordered_event_sample(t, b, i, x, sl, v, st);
			if (b->order) {
				/* Events are the listed non-zero rows. */
				const int32_t *ord = b->order + i * b->ld_order;

				nz = 0;
				for (size_t k = 0; k < b->ld_order && ord[k] >= 0; k++)
					nz += x[ord[k]] != 0;
			}
		}
		if (b->y)
			clipped = convert_clamped(t, v, n, sample, 0, sl->z, b->y + i * b->ldy, fused,
						  b->counters || st);
		if (tally)   /* nobody reads the counts otherwise */
			account(t, b, i, nz * (uint64_t)sends, nz * (uint64_t)sends * 2 * n, (uint32_t)n,
				1, clipped, st ? st->sat_integrator : 0, cc);
	}
}

static void ideal_chunk(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns, slot *sl)
{
	size_t n = b->n_out;
	/* in codes of the configured ADC; every send adds the same charge */
	const double g = t->g * t->cs * t->p.input.num_sends;

	product(t, b, i0, ns, t->w_int, sl);
	for (size_t s = 0; s < ns; s++) {
		const float *v = sl->V + s * t->ldw;
		size_t i = i0 + s;

		if (b->y_ideal) {
			float *restrict yf = b->y_ideal + i * b->ldy;

			for (size_t c = 0; c < n; c++)
				yf[c] = (float)(g * (double)v[c]);
		}
		if (b->y) {
			int32_t *restrict y = b->y + i * b->ldy;

			for (size_t c = 0; c < n; c++) {
				double r = floor(g * (double)v[c]);

				y[c] = r < INT32_MIN ? INT32_MIN : r > INT32_MAX ? INT32_MAX : (int32_t)r;
			}
		}
	}
}

static void run_chunk(const xb_tile *t, const xb_tile_batch *b, size_t i0, size_t ns, slot *sl,
		      chunk_counts *cc)
{
	/* The products make the float inputs themselves when they need them. */
	if (b->model == XB_MODEL_ORDERED && t->p.input.encoding == XB_ENC_EVENT)
		float_inputs(t, b, i0, ns, sl);
	if (b->stats)
		for (size_t s = 0; s < ns; s++)
			memset(&b->stats[i0 + s], 0, sizeof b->stats[i0 + s]);
	if (b->model == XB_MODEL_IDEAL)
		ideal_chunk(t, b, i0, ns, sl);
	else if (t->p.input.encoding == XB_ENC_EVENT)
		event_chunk(t, b, i0, ns, sl, cc);
	else
		dense_chunk(t, b, i0, ns, sl, cc);
}

/* ---- the batch ------------------------------------------------------------------------------------ */

static xb_status check_batch(xb_tile *t, const xb_tile_batch *b, const xb_tile_work *ws)
{
	if (!t->programmed)
		return xb_raise(&t->err, XB_ESTATE, "xb_tile_mvm: the tile has no weights yet "
				"(call xb_tile_program first)");
	if (!b || !ws)
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_mvm: no batch or no workspace");
	if (ws->R != t->R || ws->ldw != t->ldw || ws->bits < (size_t)t->p.input.bits ||
	    ws->sends < (size_t)t->p.input.num_sends)
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_mvm: the workspace was made for another "
				"tile shape (%zu x %zu, %zu input bits)", ws->R, ws->ldw, ws->bits);
	if (b->model != XB_MODEL_ORDERED && b->model != XB_MODEL_UNORDERED &&
	    b->model != XB_MODEL_IDEAL)
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_mvm: unknown model %d", (int)b->model);
	if (b->batch && (!b->x || (!b->y && !(b->model == XB_MODEL_IDEAL && b->y_ideal))))
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_mvm: missing input or output array");
	if (b->n_in > t->R || b->n_out > t->C || b->ldx < b->n_in || b->ldy < b->n_out)
		return xb_raise(&t->err, XB_EINVAL,
				"xb_tile_mvm: %zu inputs (stride %zu) and %zu outputs (stride %zu) do "
				"not fit the tile's %zu signed rows and %zu columns", b->n_in, b->ldx,
				b->n_out, b->ldy, t->R, t->C);
	if (b->order && b->ld_order == 0)
		return xb_raise(&t->err, XB_EINVAL, "xb_tile_mvm: an explicit order needs ld_order > 0");
	for (size_t i = 0; i < b->batch; i++) {
		const uint8_t *x = b->x + i * b->ldx;
		unsigned mx = 0;

		for (size_t r = 0; r < b->n_in; r++)   /* a vectorised scan first */
			mx = x[r] > mx ? x[r] : mx;
		for (size_t r = 0; mx > (unsigned)t->xmax && r < b->n_in; r++)
			if (x[r] > t->xmax)
				return xb_raise(&t->err, XB_ERANGE,
						"input code %d of sample %zu (global %" PRIu64 "), row %zu "
						"is out of range: input.bits = %d allows 0 .. %d", x[r], i,
						b->sample_base + i, r, t->p.input.bits, t->xmax);
		if (b->order) {
			const int32_t *ord = b->order + i * b->ld_order;

			for (size_t k = 0; k < b->ld_order && ord[k] >= 0; k++)
				if ((size_t)ord[k] >= b->n_in)
					return xb_raise(&t->err, XB_ERANGE,
							"explicit order of sample %zu, event %zu: row %d is "
							"out of range 0 .. %zu", i, k, ord[k],
							b->n_in ? b->n_in - 1 : 0);
		}
		if (b->interval_ns && !(b->interval_ns[i] > 0))
			return xb_raise(&t->err, XB_ERANGE,
					"event interval of sample %zu is %g ns: expected > 0", i,
					b->interval_ns[i]);
	}
	for (size_t k = 0; k < b->ntraces; k++) {
		const xb_tile_trace *tr = &b->traces[k];

		if (tr->sample >= b->batch || (tr->capacity && (!tr->time_ps || !tr->row || !tr->v_lsb)))
			return xb_raise(&t->err, XB_EINVAL,
					"trace %zu: sample %zu of a batch of %zu, or missing arrays", k,
					tr->sample, b->batch);
	}
	return XB_OK;
}

xb_status xb_tile_mvm(xb_tile *t, const xb_tile_batch *b, xb_tile_work *ws)
{
	xb_status st = check_batch(t, b, ws);
	size_t nchunks, group = 1, nunits;
	uint64_t ev = 0, conv = 0, cells = 0, si = 0, sa = 0, cyc = 0;
	int nth = 1;

	if (st != XB_OK)
		return st;
	nchunks = (b->batch + CHUNK - 1) / CHUNK;
	for (size_t k = 0; k < b->ntraces; k++)
		b->traces[k].events = 0;
#ifdef _OPENMP
	if (!omp_in_parallel()) {
		nth = omp_get_max_threads();
		if ((size_t)nth > ws->nslots)
			nth = (int)ws->nslots;
		if ((size_t)nth > nchunks)
			nth = (int)(nchunks ? nchunks : 1);
	}
#endif
	/* The sgemm models take up to GEMM_CHUNKS chunks per work unit, as many as keep
	 * every thread busy.  The unit size then depends on the thread count, but the
	 * results do not: sgemm computes each element of its product as the same chain of
	 * products over k whatever the number of rows it is given (OpenBLAS blocks k
	 * independently of m; check_tile's thread and batch-split tests hold it to that
	 * with non-integer weights), and everything after the product is per sample. */
	if (b->model == XB_MODEL_IDEAL ||
	    (b->model == XB_MODEL_UNORDERED && t->p.input.encoding == XB_ENC_EVENT)) {
		group = (nchunks + (size_t)nth - 1) / (size_t)nth;
		group = group < 1 ? 1 : group > GEMM_CHUNKS ? GEMM_CHUNKS : group;
	}
	nunits = (nchunks + group - 1) / group;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1) \
	reduction(+ : ev, conv, cells, si, sa, cyc)
	for (size_t u = 0; u < nunits; u++) {
		chunk_counts cc = { 0, 0, 0, 0, 0, 0 };
		int id = 0;
		size_t i0 = u * group * CHUNK;
		size_t ns = b->batch - i0 < group * CHUNK ? b->batch - i0 : group * CHUNK;

#ifdef _OPENMP
		id = nth > 1 ? omp_get_thread_num() : 0;
#endif
		run_chunk(t, b, i0, ns, &ws->s[id], &cc);
		ev += cc.events;
		conv += cc.conversions;
		cells += cc.cells;
		si += cc.sat_int;
		sa += cc.sat_adc;
		cyc += cc.cycles;
	}
	if (b->counters && b->model != XB_MODEL_IDEAL) {
		b->counters->mvms += b->batch;
		b->counters->events += ev;
		b->counters->conversions += conv;
		b->counters->active_cells += cells;
		b->counters->sat_integrator += si;
		b->counters->sat_adc += sa;
		b->counters->cycles += cyc;
	}
	return XB_OK;
}
