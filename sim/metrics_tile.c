/* metrics_tile.c - the "tile" metric provider of sweeps: error, saturation, events, energy and latency of random MVMs on one tile.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_metrics.h"
#include "xb_devices.h"
#include "xb_noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE_DEFAULT_MVMS 256
#define TILE_MAX_MVMS 1000000
#define TILE_CHUNK_MVMS 1024      /* MVMs per call: bounds the memory, not the results */

enum { M_RMSE, M_BIAS, M_SAT, M_EVENTS, M_ENERGY, M_LATENCY, M_COUNT };

static const xb_sweep_metric tile_metrics[M_COUNT] = {
	{ "mvm_rmse_lsb", "LSB", 1,
	  "RMS of device minus ideal outputs over a batch of random MVMs, in LSB of an "
	  "adc.full_scale_bits ADC" },
	{ "mvm_bias_lsb", "LSB", 1, "mean of device minus ideal outputs over the batch, in LSB of "
	  "an adc.full_scale_bits ADC" },
	{ "mvm_saturation_rate", "1", 1, "fraction of ADC conversions clipped to adc.min/max" },
	{ "mvm_events_per_mvm", "1", 1, "accumulation events per MVM" },
	{ "mvm_energy_pj", "pJ", 1, "energy per MVM of events, driven cells and conversions" },
	{ "mvm_latency_ns", "ns", 1, "duration of one MVM (mean over the batch)" },
};

/* Word tags of the XB_DRAW_USER stream: weights and inputs never share draws. */
#define TAG_WEIGHT UINT32_C(0x77676874)
#define TAG_INPUT UINT32_C(0x696e7074)

static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static size_t tile_mvms(const xb_config *cfg)
{
	long n = xb_config_key("run.samples") ? xb_config_int(cfg, "run.samples") : 0;

	return n <= 0 ? TILE_DEFAULT_MVMS : n > TILE_MAX_MVMS ? TILE_MAX_MVMS : (size_t)n;
}

static uint64_t tile_seed(const xb_config *cfg)
{
	return xb_config_key("run.seed") ? (uint64_t)xb_config_int(cfg, "run.seed") : 1;
}

static xb_status tile_eval(void *state, const xb_config *cfg, const xb_sweep_job *job,
			   double *out, xb_err *err)
{
	xb_tile_params p;
	xb_tile *t = NULL;
	xb_tile_work *ws = NULL;
	xb_tile_counters cnt = { 0 };
	xb_tile_batch b;
	xb_stream s;
	int8_t *w = NULL;
	uint8_t *x = NULL;
	int32_t *y = NULL;
	float *yi = NULL;
	size_t R, C, nb, B = tile_mvms(cfg);
	double se = 0, sd = 0;
	uint64_t seed = tile_seed(cfg);
	int wmax, xmax;
	xb_status st;

	(void)state;
	st = xb_tile_params_from_config(cfg, &p, err);
	if (st != XB_OK)
		return st;
	t = xb_tile_new(&p, 0, 0, err);
	if (!t)
		return err ? err->code : XB_ENOMEM;
	R = xb_tile_signed_rows(t);
	C = xb_tile_cols(t);
	wmax = (1 << p.array.weight_bits) - 1;
	xmax = (1 << p.input.bits) - 1;
	nb = B < TILE_CHUNK_MVMS ? B : TILE_CHUNK_MVMS;
	w = malloc(R * C);
	x = malloc(nb * R);
	y = malloc(nb * C * sizeof *y);
	yi = malloc(nb * C * sizeof *yi);
	ws = xb_tile_work_new(t, err);
	if (!w || !x || !y || !yi || !ws) {
		st = ws ? xb_raise(err, XB_ENOMEM, "tile metrics: out of memory") : err->code;
		goto out;
	}
	/* The workload: weights and inputs from the run's stream. */
	xb_stream_init(&s, seed, 0, 0);
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++)
			w[r * C + c] = (int8_t)((int)(xb_stream_u32(&s, XB_DRAW_USER, 0, TAG_WEIGHT,
								   (uint32_t)(r * C + c)) %
						      (uint32_t)(2 * wmax + 1)) - wmax);
	if (xb_tile_program(t, w, C, R, C) != XB_OK)
		goto tile_fail;
	/* The batch in chunks of nb MVMs (the sample numbers run on, so the result is that
	 * of one batch), device then ideal. */
	for (size_t i0 = 0; i0 < B; i0 += nb) {
		size_t n = B - i0 < nb ? B - i0 : nb;

		for (size_t i = 0; i < n; i++)
			for (size_t r = 0; r < R; r++)
				x[i * R + r] = (uint8_t)(xb_stream_u32(&s, XB_DRAW_USER, 1 + i0 + i,
								       TAG_INPUT, (uint32_t)r) %
							 (uint32_t)(xmax + 1));
		xb_tile_batch_init(&b, t, n, x, y);
		b.sample_base = (splitmix64(seed) >> 24) + i0;
		b.counters = &cnt;
		if (xb_tile_mvm(t, &b, ws) != XB_OK)
			goto tile_fail;
		b.model = XB_MODEL_IDEAL;
		b.y = NULL;
		b.y_ideal = yi;
		b.counters = NULL;
		if (xb_tile_mvm(t, &b, ws) != XB_OK)
			goto tile_fail;
		for (size_t k = 0; k < n * C; k++) {
			double d = (double)y[k] - (double)yi[k];

			se += d * d;
			sd += d;
		}
	}
	/* In reference LSB (adc.full_scale_bits), so that points with different adc.bits
	 * compare: a code of a B-bit ADC is 2^(F-B) reference LSB. */
	out[job->offset[M_RMSE]] = sqrt(se / (double)(B * C)) / xb_adc_code_scale(&p.adc);
	out[job->offset[M_BIAS]] = sd / (double)(B * C) / xb_adc_code_scale(&p.adc);
	out[job->offset[M_SAT]] = cnt.conversions ? (double)cnt.sat_adc / (double)cnt.conversions : 0;
	out[job->offset[M_EVENTS]] = cnt.mvms ? (double)cnt.events / (double)cnt.mvms : 0;
	out[job->offset[M_ENERGY]] = cnt.mvms ? xb_tile_energy_pj(t, &cnt) / (double)cnt.mvms : 0;
	out[job->offset[M_LATENCY]] = cnt.mvms ? (double)cnt.cycles / (double)cnt.mvms * 1e3 /
					p.input.event_mhz : 0;
	st = XB_OK;
	goto out;
tile_fail:
	st = xb_raise(err, xb_tile_errmsg(t)[0] ? XB_ECONFIG : XB_EINTERNAL, "%s",
		      xb_tile_errmsg(t));
out:
	xb_tile_work_free(ws);
	xb_tile_free(t);
	free(w);
	free(x);
	free(y);
	free(yi);
	return st;
}

static double tile_cost(const void *state, const xb_config *cfg)
{
	xb_tile_params p;
	xb_err e = { 0 };

	(void)state;
	if (xb_tile_params_from_config(cfg, &p, &e) != XB_OK)
		return 0;       /* fails at once */
	return (double)tile_mvms(cfg) * xb_tile_params_signed_rows(&p) * p.array.cols *
	       p.input.num_sends;
}

const xb_sweep_provider xb_metrics_tile = {
	.name = "tile",
	.help = "random MVMs on one tile of the configured device against the ideal model",
	.metrics = tile_metrics,
	.nmetrics = M_COUNT,
	.state_size = 0,
	.init = NULL,
	.fini = NULL,
	.width = NULL,
	.eval = tile_eval,
	.cost = tile_cost,
	.cost_unit = "synapse-events",
};
