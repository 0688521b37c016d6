/* bench_tile.c - throughput of the functional tile against OpenBLAS sgemm on the same shapes, one thread.
 * Prints "<name>: <value> [unit]" lines (tile.ordered_over_sgemm, tile.unordered_over_sgemm, ...).
 * The unordered and ideal models take oneDNN's exact integer product where the weights
 * are integers (tile.c); tile.unordered_float_over_sgemm times the sgemm path (weights
 * made non-integer by a 1 % per-synapse gain spread).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_devices.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own prototype (not in every cblas.h). */
void openblas_set_num_threads(int num_threads);

#define BATCH 256
#define GENERIC_BATCH 1024
#define SLICE_S 0.04      /* one timing slice */
#define ROUNDS 12         /* slices per candidate, interleaved; the best counts */

/* The machine is shared: every candidate is timed in ROUNDS short slices taken in
 * turn (sgemm, ordered, unordered, ...), and the best slice of each is kept, so that
 * all ratios come from the same conditions. */
typedef int (*work_fn)(void *ctx);

typedef struct candidate {
	work_fn fn;
	void *ctx;
	double best_s;            /* best time per call */
} candidate;

static int time_slice(candidate *c)
{
	double t0 = xb_wall_s(), t;
	long n = 0;

	do {
		if (c->fn(c->ctx))
			return -1;
		n++;
		t = xb_wall_s() - t0;
	} while (t < SLICE_S);
	if (t / (double)n < c->best_s)
		c->best_s = t / (double)n;
	return 0;
}

typedef struct tile_ctx {
	xb_tile *t;
	xb_tile_work *w;
	xb_tile_batch b;
	uint64_t next_sample;
} tile_ctx;

static int run_tile(void *p)
{
	tile_ctx *c = p;

	c->b.sample_base = c->next_sample;   /* fresh noise each call, as in a real run */
	c->next_sample += c->b.batch;
	return xb_tile_mvm(c->t, &c->b, c->w) != XB_OK;
}

typedef struct gemm_ctx {
	int m, n, k;
	const float *a, *b;
	float *c;
} gemm_ctx;

static int run_gemm(void *p)
{
	gemm_ctx *g = p;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->a, g->k,
		    g->b, g->n, 0.0f, g->c, g->n);
	return 0;
}

/* A programmed tile with P running MODEL on BATCH inputs X; 0 on success. */
static int tile_setup(tile_ctx *c, const xb_tile_params *p, xb_model model, size_t batch,
		      const int8_t *w, const uint8_t *x, int32_t *y, float *yf)
{
	xb_err err;

	memset(c, 0, sizeof *c);
	c->t = xb_tile_new(p, 0, 0, &err);
	if (!c->t) {
		fprintf(stderr, "bench_tile: %s\n", err.msg);
		return -1;
	}
	c->w = xb_tile_work_new(c->t, &err);
	if (!c->w || xb_tile_program(c->t, w, xb_tile_cols(c->t), xb_tile_signed_rows(c->t),
				     xb_tile_cols(c->t)) != XB_OK) {
		fprintf(stderr, "bench_tile: %s\n", c->w ? xb_tile_errmsg(c->t) : err.msg);
		return -1;
	}
	xb_tile_batch_init(&c->b, c->t, batch, x, y);
	c->b.model = model;
	if (model == XB_MODEL_IDEAL) {
		c->b.y = NULL;
		c->b.y_ideal = yf;
	}
	return 0;
}

static void tile_teardown(tile_ctx *c)
{
	xb_tile_work_free(c->w);
	xb_tile_free(c->t);
}

int main(void)
{
	xb_tile_params hx = xb_tile_default_params(), quiet, gen, spread;
	size_t R = (size_t)xb_tile_params_signed_rows(&hx), C = (size_t)hx.array.cols;
	size_t gr = 256, gc = 256, nmax = GENERIC_BATCH * gr > BATCH * R ? GENERIC_BATCH * gr : BATCH * R;
	int8_t *w = malloc(gr * gc);
	uint8_t *x = malloc(nmax);
	int32_t *y = malloc(GENERIC_BATCH * gc * sizeof *y);
	float *xf = malloc(BATCH * R * sizeof *xf), *wf = malloc(R * C * sizeof *wf);
	float *yf = malloc(GENERIC_BATCH * gc * sizeof *yf);
	double macs = (double)BATCH * (double)R * (double)C, t_gemm, t_ord, t_unord, t_ideal;
	double t_ord_q, t_unord_q, t_gen, t_unord_f;
	gemm_ctx g;
	uint32_t s = 12345;
	enum { NT = 7 };
	tile_ctx tc[NT];
	candidate cand[NT + 1];

	if (!w || !x || !y || !xf || !wf || !yf)
		return 1;
	openblas_set_num_threads(1);
#ifdef _OPENMP
	omp_set_num_threads(1);
#endif
	/* Every input non-zero (1 .. 31), weights uniform in -63 .. 63 (a fixed LCG). */
	for (size_t i = 0; i < nmax; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (uint8_t)(1 + (s >> 24) % 31);
	}
	for (size_t i = 0; i < gr * gc; i++) {
		s = s * 1664525u + 1013904223u;
		w[i] = (int8_t)((int)((s >> 24) % 127) - 63);
	}
	for (size_t i = 0; i < BATCH * R; i++)
		xf[i] = (float)x[i];
	for (size_t i = 0; i < R * C; i++)
		wf[i] = (float)w[i];
	g = (gemm_ctx){ BATCH, (int)C, (int)R, xf, wf, yf };

	quiet = hx;
	quiet.noise.enable = 0;
	spread = hx;
	spread.noise.fpn_synapse = 0.01;
	/* A generic crossbar: 256 x 256 differential pairs, 8-bit pulse inputs, 8-bit ADC,
	 * read noise 1 LSB. */
	gen = hx;
	gen.array.rows = (int)gr;
	gen.array.cols = (int)gc;
	gen.array.mapping = XB_MAPPING_DIFFERENTIAL;
	gen.array.weight_bits = 6;
	gen.input.bits = 8;
	gen.input.encoding = XB_ENC_PULSE;
	gen.integrator.tau_us = 0;
	gen.adc.gain = 0.0005;
	gen.noise.read_lsb = 1.0;
	if (tile_setup(&tc[0], &hx, XB_MODEL_ORDERED, BATCH, w, x, y, yf) ||
	    tile_setup(&tc[1], &hx, XB_MODEL_UNORDERED, BATCH, w, x, y, yf) ||
	    tile_setup(&tc[2], &hx, XB_MODEL_IDEAL, BATCH, w, x, y, yf) ||
	    tile_setup(&tc[3], &quiet, XB_MODEL_ORDERED, BATCH, w, x, y, yf) ||
	    tile_setup(&tc[4], &quiet, XB_MODEL_UNORDERED, BATCH, w, x, y, yf) ||
	    tile_setup(&tc[5], &gen, XB_MODEL_ORDERED, GENERIC_BATCH, w, x, y, yf) ||
	    tile_setup(&tc[6], &spread, XB_MODEL_UNORDERED, BATCH, w, x, y, yf))
		return 1;
	cand[0] = (candidate){ run_gemm, &g, 1e30 };
	for (int i = 0; i < NT; i++)
		cand[i + 1] = (candidate){ run_tile, &tc[i], 1e30 };
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i <= NT; i++)
			if (time_slice(&cand[i])) {
				fprintf(stderr, "bench_tile: %s\n", i ? xb_tile_errmsg(tc[i - 1].t) : "sgemm");
				return 1;
			}
	t_gemm = cand[0].best_s;
	t_ord = cand[1].best_s;
	t_unord = cand[2].best_s;
	t_ideal = cand[3].best_s;
	t_ord_q = cand[4].best_s;
	t_unord_q = cand[5].best_s;
	t_gen = cand[6].best_s;
	t_unord_f = cand[7].best_s;
	for (int i = 0; i < NT; i++)
		tile_teardown(&tc[i]);

	printf("tile.sgemm_macs_per_s: %.4g MAC/s\n", macs / t_gemm);
	printf("tile.ordered_macs_per_s: %.4g MAC/s\n", macs / t_ord);
	printf("tile.unordered_macs_per_s: %.4g MAC/s\n", macs / t_unord);
	printf("tile.ideal_macs_per_s: %.4g MAC/s\n", macs / t_ideal);
	printf("tile.ordered_over_sgemm: %.3f\n", t_gemm / t_ord);
	printf("tile.unordered_over_sgemm: %.3f\n", t_gemm / t_unord);
	printf("tile.ideal_over_sgemm: %.3f\n", t_gemm / t_ideal);
	printf("tile.ordered_nonoise_over_sgemm: %.3f\n", t_gemm / t_ord_q);
	printf("tile.unordered_nonoise_over_sgemm: %.3f\n", t_gemm / t_unord_q);
	printf("tile.unordered_float_over_sgemm: %.3f\n", t_gemm / t_unord_f);
	printf("tile.generic_mvms_per_s: %.4g MVM/s\n", (double)GENERIC_BATCH / t_gen);
	free(w);
	free(x);
	free(y);
	free(xf);
	free(wf);
	free(yf);
	return 0;
}
