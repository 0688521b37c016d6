/* check_timed.c - tests of the timed model (sim/xb_timed.h) and the report (xb_timed_report).
 * Closed-form latencies, bit-equality with the functional path, many sequential inferences.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"
#include "xb_device_nn.h"
#include "xb_timed.h"
#include "xb_traces.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a functional device backend for the tests: one xb_matrix per layer ----------------- */

typedef struct dev {
	xb_tile_params p;
	xb_matrix *m[16];
	xb_matrix_work *w[16];
	uint64_t version[16];
	int8_t *wt;
	int32_t *y;
} dev;

static xb_status dev_codes(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			   float *y_lsb, xb_err *err)
{
	dev *d = state;
	int li = op->layer->index;
	if (li >= 16)
		return xb_raise(err, XB_EINVAL, "test backend: layer %d", li);
	if (!d->m[li] || d->version[li] != op->version) {
		xb_matrix_work_free(d->w[li]);
		xb_matrix_free(d->m[li]);
		d->m[li] = xb_matrix_new(&d->p, 0, (uint32_t)li * 64, op->cols, op->rows, err);
		if (!d->m[li])
			return XB_ENOMEM;
		/* the layer's codes are [outputs][inputs]; the matrix takes [inputs][outputs] */
		d->wt = realloc(d->wt, op->rows * op->cols);
		for (size_t r = 0; r < op->rows; r++)
			for (size_t c = 0; c < op->cols; c++)
				d->wt[c * op->rows + r] = op->wq[r * op->cols + c];
		if (xb_matrix_program(d->m[li], d->wt, op->rows))
			return xb_raise(err, XB_ERANGE, "test backend: %s", xb_matrix_errmsg(d->m[li]));
		d->w[li] = xb_matrix_work_new(d->m[li], 4096, err);
		d->version[li] = op->version;
	}
	d->y = realloc(d->y, n * op->rows * sizeof *d->y);
	for (size_t s = 0; s < n; s += 4096) {
		size_t k = n - s < 4096 ? n - s : 4096;
		xb_tile_batch b;
		memset(&b, 0, sizeof b);
		b.model = d->p.integrator.model;
		b.batch = k;
		b.x = xq + s * op->cols;
		b.ldx = b.n_in = op->cols;
		b.y = d->y + s * op->rows;
		b.ldy = b.n_out = op->rows;
		b.sample_base = s;
		if (xb_matrix_mvm(d->m[li], &b, d->w[li]))
			return xb_raise(err, XB_EINVAL, "test backend: %s", xb_matrix_errmsg(d->m[li]));
	}
	for (size_t i = 0; i < n * op->rows; i++)
		y_lsb[i] = (float)d->y[i];
	return XB_OK;
}

static const xb_nn_backend_type dev_type = { "test-device", NULL, dev_codes };

static void dev_free(dev *d)
{
	for (int i = 0; i < 16; i++) {
		xb_matrix_work_free(d->w[i]);
		xb_matrix_free(d->m[i]);
	}
	free(d->wt);
	free(d->y);
	free(d);
}

/* Deterministic pseudo-random floats in [lo, hi) (a 64-bit LCG, fixed seed). */
static void fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
	uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	for (size_t i = 0; i < n; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = lo + (hi - lo) * (float)((s >> 40) & 0xffffff) / 16777216.0f;
	}
}

/* A quantized network SPEC on device D (tile parameters P), calibrated on 16 samples. */
static xb_nn_net *make_net(const char *spec, uint64_t seed, dev **dp, const xb_tile_params *p)
{
	xb_err err;
	xb_nn_net *net = xb_nn_net_from_spec(spec, seed, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	dev *d = calloc(1, sizeof *d);
	d->p = *p;
	xb_nn_backend be = { &dev_type, d, p->adc.gain, p->adc.min, p->adc.max, INFINITY, 1, 1 };
	xb_nn_net_set_backend(net, &be);
	size_t in = xb_nn_shape_size(xb_nn_net_in_shape(net));
	float *x = malloc(16 * in * sizeof *x);
	fill(x, 16 * in, seed + 100, -1.0f, 1.0f);
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	qp.split_signed = 0;   /* zero point: the closed forms count xb_nn_quantize_inputs codes */
	ck_assert_int_eq(xb_nn_net_quantize(net, 16, x, &qp), XB_OK);
	free(x);
	*dp = d;
	return net;
}

static xb_timed_params quiet_params(void)
{
	return xb_timed_default_params();
}

/* Non-zero input codes of the N inputs X of layer L, from its own quantization. */
static uint64_t nonzero_codes(const xb_nn_layer *l, const float *x, size_t n)
{
	uint8_t xq[64];
	uint64_t e = 0;
	ck_assert_uint_le(n, sizeof xq);
	xb_nn_quantize_inputs(x, n, l->hp.xbits, l->q.x_scale, l->q.x_zero, xq);
	for (size_t i = 0; i < n; i++)
		e += xq[i] != 0;
	return e;
}

/* ---- core ---------------------------------------------------------------------------------- */

/* One dense layer of 8 inputs and 4 outputs on hx: the latency is the closed form. */
START_TEST(test_closed_form)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	dev *d;
	xb_nn_net *net = make_net("input 1x1x8; dense out=4", 3, &d, &p);
	xb_err err;
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	float x[8] = { 0.9f, -0.4f, 0.31f, 0.0f, 0.77f, -0.95f, 0.12f, 0.5f };
	const xb_timed_result *r;
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);

	/* E = non-zero input codes (event encoding, num_sends 1), from the layer's own
	 * quantization of x */
	uint64_t e = nonzero_codes(xb_nn_net_layer(net, 0), x, 8);
	ck_assert_uint_eq(r->events, e);
	/* hx: array = reset 0 + baseline 5 us + E x 5 cycles x 8 ns + read delay 40 ns;
	 * adc = ramp 2^8 = 256 cycles x ceil(4 columns / 256 ADCs) = 1 round x 8 ns = 2048 ns */
	xb_time_ps array_ps = 5000000 + e * 40000 + 40000, adc_ps = 2048000;
	/* bus in: 2 latency cycles + ceil(8 bytes / 16) = 3 cycles at 250 MHz = 12 ns; bus out:
	 * 2 + ceil(4 / 16) = 3 cycles = 12 ns; partial sums: 1 x 4 adds / 8 lanes -> 1 cycle
	 * = 4 ns */
	xb_time_ps expect = 12000 + array_ps + adc_ps + 12000 + 4000;
	ck_assert_uint_eq(r->latency_ps, expect);
	int seen = 0;
	for (size_t i = 0; i < r->ntimeline; i++) {
		const xb_timed_interval *iv = &r->timeline[i];
		if (iv->kind == XB_TIMED_K_MVM) {
			ck_assert_uint_eq(iv->end_ps - iv->start_ps, array_ps);
			ck_assert_uint_eq(iv->start_ps, 12000);
			seen++;
		}
		if (iv->kind == XB_TIMED_K_CONVERT)
			ck_assert_uint_eq(iv->end_ps - iv->start_ps, adc_ps);
	}
	ck_assert_int_eq(seen, 1);
	/* energy by hand: events x 1 pJ, cells = E x 2 devices x 4 columns x 0.01 pJ, 4
	 * conversions x 2 pJ x 2^(1 x (8 - 8)), digital 4 adds x 0.5 pJ, bytes (8 + 4) x 2 pJ,
	 * static 1 mW x 1 tile x latency (mW x ps = 1e-3 pJ) */
	double hand = (double)e * 1.0 + (double)e * 2 * 4 * 0.01 + 4 * 2.0 + 4 * 0.5 + 12 * 2.0 +
		      1.0 * 1 * (double)expect * 1e-3;
	ck_assert_double_eq_tol(r->energy_total_pj, hand, 1e-6 * hand);
	ck_assert_double_eq_tol(r->energy_pj[XB_TIMED_E_ADC], 8.0, 1e-12);
	/* static weights: programmed once, 8 signed rows x 256 cycles x 8 ns */
	ck_assert_uint_eq(xb_timed_load_ps(t), 8 * 256 * 8000);
	ck_assert_uint_eq(xb_timed_tiles_used(t), 1);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST

/* A layer pinned to sends=3 (the tiles' input.num_sends stays 1): the timed model
 * counts 3 events per non-zero input code and the array time grows with them. */
START_TEST(test_layer_sends)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	dev *d;
	xb_nn_net *net = make_net("input 1x1x8; dense out=4 sends=3", 3, &d, &p);
	xb_err err;
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	float x[8] = { 0.9f, -0.4f, 0.31f, 0.0f, 0.77f, -0.95f, 0.12f, 0.5f };
	const xb_timed_result *r;
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);
	ck_assert_int_eq(xb_nn_net_layer(net, 0)->hp.sends, 3);
	uint64_t e = nonzero_codes(xb_nn_net_layer(net, 0), x, 8);
	ck_assert_uint_eq(r->events, 3 * e);
	/* as test_closed_form with 3 E events: baseline 5 us + 3E x 40 ns + read 40 ns */
	xb_time_ps array_ps = 5000000 + 3 * e * 40000 + 40000;
	ck_assert_uint_eq(r->latency_ps, 12000 + array_ps + 2048000 + 12000 + 4000);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST

/* ADC sharing: a full-width layer (128 inputs x 256 outputs) with columns_per_adc 1, 4,
 * 16 converts in 1, 4, 16 rounds: latency grows by (cpa - 1) x 256 cycles x 8 ns and the
 * outputs stay the same; also SAR (bits + 1 cycles) and flash (1 cycle). */
START_TEST(test_adc_sharing)
{
	static const int cpa[3] = { 1, 4, 16 };
	xb_time_ps lat[3];
	float y[3][256];
	float x[128];
	fill(x, 128, 5, -1.0f, 1.0f);
	for (int k = 0; k < 3; k++) {
		xb_tile_params p = xb_tile_default_params();
		p.adc.columns_per_adc = cpa[k];
		xb_timed_params pp = quiet_params();
		dev *d;
		xb_nn_net *net = make_net("input 1x1x128; dense out=256", 9, &d, &p);
		xb_err err;
		xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
		ck_assert_msg(t != NULL, "%s", err.msg);
		const xb_timed_result *r;
		ck_assert_int_eq(xb_timed_infer(t, x, y[k], &r), XB_OK);
		lat[k] = r->latency_ps;
		if (k == 0) {
			/* SAR 8 bits: 9 cycles; flash: 1 cycle; the rest as ramp */
			xb_timed *t2;
			const xb_timed_result *r2;
			p.adc.type = XB_ADC_SAR;
			t2 = xb_timed_new_params(&p, &pp, net, &err);
			ck_assert_int_eq(xb_timed_infer(t2, x, NULL, &r2), XB_OK);
			ck_assert_uint_eq(lat[0] - r2->latency_ps, (256 - 9) * 8000);
			xb_timed_free(t2);
			p.adc.type = XB_ADC_FLASH;
			t2 = xb_timed_new_params(&p, &pp, net, &err);
			ck_assert_int_eq(xb_timed_infer(t2, x, NULL, &r2), XB_OK);
			ck_assert_uint_eq(lat[0] - r2->latency_ps, (256 - 1) * 8000);
			xb_timed_free(t2);
		}
		xb_timed_free(t);
		xb_nn_net_free(net);
		dev_free(d);
	}
	ck_assert_uint_eq(lat[1] - lat[0], 3 * 256 * 8000);
	ck_assert_uint_eq(lat[2] - lat[0], 15 * 256 * 8000);
	ck_assert_int_eq(memcmp(y[0], y[1], sizeof y[0]), 0);
	ck_assert_int_eq(memcmp(y[0], y[2], sizeof y[0]), 0);
}
END_TEST

/* Random small networks and inputs: timed outputs equal the functional forward bit for
 * bit, for the ordered and unordered models and event and bit-serial encodings. */
START_TEST(test_bit_equal)
{
	static const char *const specs[] = {
		"input 1x1x300; dense out=300; requant; dense out=7",
		"input 6x6x2; conv2d out=5 kernel=3x3; requant; maxpool kernel=2; flatten; dense out=9",
		"input 1x1x40; dense out=20; relu; requant; dense out=3",
	};
	for (int s = 0; s < 3; s++)
		for (int v = 0; v < 3; v++) {
			xb_tile_params p = xb_tile_default_params();
			if (v == 1)
				p.integrator.model = XB_MODEL_UNORDERED;
			if (v == 2) {
				p.input.encoding = XB_ENC_BITSERIAL;
				p.adc.convert = XB_CONVERT_BITPLANE;
				p.adc.min = -2000;
				p.adc.max = 2000;
				p.adc.bits = 12;
			}
			xb_timed_params pp = quiet_params();
			pp.chips = 2;
			dev *d;
			xb_nn_net *net = make_net(specs[s], 20 + (uint64_t)s, &d, &p);
			xb_err err;
			xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
			ck_assert_msg(t != NULL, "%s", err.msg);
			size_t in = xb_nn_shape_size(xb_nn_net_in_shape(net));
			size_t out = xb_nn_shape_size(xb_nn_net_out_shape(net));
			float *x = malloc(in * sizeof *x), *yf = malloc(out * sizeof *yf),
			      *yt = malloc(out * sizeof *yt);
			for (int k = 0; k < 4; k++) {
				fill(x, in, 1000 + (uint64_t)(k + 10 * s), -1.0f, 1.0f);
				ck_assert_int_eq(xb_nn_net_forward(net, 1, x, yf, 0), XB_OK);
				const xb_timed_result *r;
				ck_assert_msg(xb_timed_infer(t, x, yt, &r) == XB_OK, "%s",
					      xb_timed_errmsg(t));
				ck_assert_msg(memcmp(yf, yt, out * sizeof *yf) == 0,
					      "spec %d variant %d sample %d differs", s, v, k);
				ck_assert(r->latency_ps > 0);
				ck_assert(r->mvms > 0);
			}
			/* the backend is restored after the timed forward */
			ck_assert_ptr_eq(xb_nn_net_backend(net)->type, &dev_type);
			free(x); free(yf); free(yt);
			xb_timed_free(t);
			xb_nn_net_free(net);
			dev_free(d);
		}
}
END_TEST

/* 200 sequential inferences in one simulation: every latency and activation count is the
 * same, and the kernel's time is exactly their sum (nothing lost, nothing pending). */
START_TEST(test_sequential)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	dev *d;
	xb_nn_net *net = make_net("input 1x1x200; dense out=30; requant; dense out=5", 4, &d, &p);
	xb_err err;
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	float x[200];
	fill(x, 200, 77, -1.0f, 1.0f);
	const xb_timed_result *r;
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);
	xb_time_ps lat = r->latency_ps;
	uint64_t act = r->kernel_activations;
	double e = r->energy_total_pj;
	for (int i = 1; i < 200; i++) {
		ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);
		ck_assert_uint_eq(r->latency_ps, lat);
		ck_assert_uint_eq(r->kernel_activations, act);
		ck_assert(r->energy_total_pj == e);
	}
	ck_assert_uint_eq(xb_timed_now(t), 200 * lat);
	xb_timed_summary s;
	xb_timed_summarize(t, &s);
	ck_assert_uint_eq(s.inferences, 200);
	ck_assert_double_eq_tol(s.latency_ns_p50, xb_ps_to_ns(lat), 1e-9);
	ck_assert_double_eq_tol(s.latency_ns_p99, xb_ps_to_ns(lat), 1e-9);
	/* back to back: 1 / latency */
	ck_assert_double_eq_tol(s.throughput_per_s, 1e12 / (double)lat, 1e-6);
	xb_timed_reset_stats(t);
	xb_timed_summarize(t, &s);
	ck_assert_uint_eq(s.inferences, 0);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST

/* Without overlap the next MVM waits for the previous conversion: a tile with P
 * positions is slower by about (P - 1) conversion times; reuse reprograms tiles. */
START_TEST(test_overlap_reuse)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	dev *d;
	xb_nn_net *net = make_net("input 5x1x3; conv2d out=4 kernel=2x1", 8, &d, &p);
	float x[15];
	fill(x, 15, 3, -1.0f, 1.0f);
	xb_err err;
	const xb_timed_result *r;
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);
	xb_time_ps with = r->latency_ps;
	xb_timed_free(t);
	pp.overlap = 0;
	t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, &r), XB_OK);
	/* 4 positions: without overlap every MVM's conversion (2048 ns, ramp 8 bit) is serial,
	 * with overlap 3 of the 4 hide behind the next MVM's 5 us baseline */
	ck_assert_uint_eq(r->latency_ps - with, 3 * 2048000);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);

	/* 300 inputs x 300 outputs = 3 x 2 blocks on 2 tiles: reprogrammed in every inference */
	pp = quiet_params();
	net = make_net("input 1x1x300; dense out=300", 8, &d, &p);
	float x2[300];
	fill(x2, 300, 4, -1.0f, 1.0f);
	t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_timed_load_ps(t), 0);
	ck_assert_int_eq(xb_timed_infer(t, x2, NULL, &r), XB_OK);
	int progs = 0;
	for (size_t i = 0; i < r->ntimeline; i++)
		progs += r->timeline[i].kind == XB_TIMED_K_PROGRAM;
	ck_assert_int_eq(progs, 6);
	ck_assert(r->energy_pj[XB_TIMED_E_PROGRAMMING] > 0);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST


/* The real device backend (xb_device_nn) through the run hook: timed outputs equal the
 * functional forward of each sample at its global sample number; a second device with the
 * same parameters (xb_timed_set_backend) gives the same numbers; the limit is honoured. */
START_TEST(test_device_hook)
{
	xb_err err;
	xb_tile_params p = xb_tile_default_params();
	xb_nn_net *net = xb_nn_net_from_spec("input 8x2x3; conv2d out=6 kernel=3x2; requant; "
					     "flatten; dense out=5", 31, &err);
	ck_assert_ptr_nonnull(net);
	xb_device_nn *dva = xb_device_nn_new(&p, NULL, &err), *dvb = xb_device_nn_new(&p, NULL, &err);
	ck_assert_msg(dva && dvb, "%s", err.msg);
	xb_nn_backend be = xb_device_nn_backend(dva), be2 = xb_device_nn_backend(dvb);
	xb_nn_net_set_backend(net, &be);
	enum { NS = 6 };
	size_t in = 48, out = 5;
	float x[NS * 48], yf[NS][5], yt[5];
	fill(x, NS * in, 99, -1.0f, 1.0f);
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	ck_assert_int_eq(xb_nn_net_quantize(net, NS, x, &qp), XB_OK);
	for (int s = 0; s < NS; s++) {
		xb_device_nn_set_sample(dva, 100 + (uint64_t)s);
		ck_assert_int_eq(xb_nn_net_forward(net, 1, x + s * in, yf[s], 0), XB_OK);
	}
	xb_timed_params pp = quiet_params();
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	xb_timed_hook h = { t, 4, 0 };
	double lat = 0;
	ck_assert_int_eq(xb_timed_run_batch(&h, net, dva, 100, NS, x, &lat, &err), XB_OK);
	ck_assert_uint_eq(h.done, 4);
	xb_timed_summary sm;
	xb_timed_summarize(t, &sm);
	ck_assert_uint_eq(sm.inferences, 4);
	ck_assert_double_eq_tol(lat, 4 * sm.latency_ns_mean, 1e-6 * lat);
	ck_assert_int_eq(xb_timed_run_batch(NULL, net, dva, 0, 1, x, &lat, &err), XB_EINVAL);
	/* sample by sample through the second device */
	ck_assert_int_eq(xb_timed_set_backend(t, &be2), XB_OK);
	for (int s = 0; s < NS; s++) {
		xb_device_nn_set_sample(dvb, 100 + (uint64_t)s);
		ck_assert_int_eq(xb_timed_infer(t, x + s * in, yt, NULL), XB_OK);
		ck_assert_msg(memcmp(yt, yf[s], out * sizeof *yt) == 0, "sample %d differs", s);
	}
	ck_assert_ptr_eq(xb_nn_net_backend(net)->state, dva);
	xb_nn_backend bad = be2;
	bad.gain = 0;
	ck_assert_int_eq(xb_timed_set_backend(t, &bad), XB_EINVAL);
	ck_assert_int_eq(xb_timed_set_backend(NULL, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_timed_set_backend(t, NULL), XB_OK);
	xb_timed_free(t);
	xb_nn_net_free(net);
	xb_device_nn_free(dva);
	xb_device_nn_free(dvb);
}
END_TEST

/* ---- the report -------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	size_t got = fread(s, 1, (size_t)n, f);
	s[got] = 0;
	fclose(f);
	return s;
}

static void tmpdir(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s/check_timed_%s_%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 tag, (long)getpid());
}

/* A hand-written trace: /summary, /layers/0 with energy, /timeline, /mvm/0, /events/0/0. */
static void write_trace(const char *path)
{
	xb_err err;
	xb_h5w *w = xb_h5w_create(path, "xbarsim-trace", 1, "", "test", &err);
	ck_assert_msg(w != NULL, "%s", err.msg);
	ck_assert_int_eq(xb_h5w_group(w, "/summary", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_int(w, "/summary", "samples", 10), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/summary", "accuracy_ideal", 0.9), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/summary", "accuracy_device", 0.8), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/summary", "energy_pj_per_inference", 12.5), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/layers", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/layers/0", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/layers/0", "energy_event_pj", 1.5), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/layers/0", "energy_cell_pj", 0.25), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_double(w, "/layers/0", "energy_conversion_pj", 4), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/timeline", "xbarsim-timeline", 1), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_str(w, "/timeline", "components", "tile0.array\ntile0.adc"), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_str(w, "/timeline", "kinds", "program\ninput\nmvm\nconvert"), XB_OK);
	int64_t n2 = 2;
	int32_t comp[2] = { 0, 1 }, kind[2] = { 2, 3 }, zero[2] = { 0, 0 };
	double st[2] = { 0, 5080 }, en[2] = { 5080, 7128 };
	ck_assert_int_eq(xb_h5w_write(w, "/timeline/component", XB_H5_INT32, 1, &n2, comp, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/timeline/kind", XB_H5_INT32, 1, &n2, kind, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/timeline/layer", XB_H5_INT32, 1, &n2, zero, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/timeline/start_ns", XB_H5_FLOAT64, 1, &n2, st, "ns"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/timeline/end_ns", XB_H5_FLOAT64, 1, &n2, en, "ns"), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/mvm", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/mvm/0", NULL, 0), XB_OK);
	int64_t dy[2] = { 2, 3 };
	float dv[6] = { -128, 5, 5, 127, 0, 5 };
	ck_assert_int_eq(xb_h5w_write(w, "/mvm/0/device", XB_H5_FLOAT32, 2, dy, dv, "LSB"), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/events", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/events/0", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/events/0/0", NULL, 0), XB_OK);
	int64_t de = 2, dvv[2] = { 2, 2 };
	double tns[2] = { 5000, 5040 };
	float vv[4] = { 1.5f, -2, 3, -4 };
	ck_assert_int_eq(xb_h5w_write(w, "/events/0/0/time_ns", XB_H5_FLOAT64, 1, &de, tns, "ns"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/events/0/0/v_lsb", XB_H5_FLOAT32, 2, dvv, vv, "LSB"), XB_OK);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
}

START_TEST(test_report_trace)
{
	char dir[256], h5[300], out[300], path[400];
	tmpdir(dir, sizeof dir, "trace");
	mkdir(dir, 0755);
	snprintf(h5, sizeof h5, "%s/t.h5", dir);
	snprintf(out, sizeof out, "%s/rep", dir);
	write_trace(h5);
	xb_err err;
	/* no gnuplot: data files and summary only */
	ck_assert_msg(xb_timed_report(h5, out, "", NULL, &err) == XB_OK, "%s", err.msg);
	snprintf(path, sizeof path, "%s/energy.dat", out);
	char *s = slurp(path);
	ck_assert_ptr_nonnull(s);
	/* layer 0: event 1.5, cell 0.25, conversion 4 pJ */
	ck_assert_msg(strstr(s, "0 1.5 0.25 4") != NULL, "%s", s);
	free(s);
	snprintf(path, sizeof path, "%s/timeline.dat", out);
	s = slurp(path);
	ck_assert_ptr_nonnull(s);
	/* one line per interval: component index, start, end, name, kind */
	ck_assert_msg(strstr(s, "0 0 5080 tile0.array mvm") != NULL, "%s", s);
	ck_assert_msg(strstr(s, "1 5080 7128 tile0.adc convert") != NULL, "%s", s);
	free(s);
	snprintf(path, sizeof path, "%s/adc_hist_0.dat", out);
	s = slurp(path);
	ck_assert_ptr_nonnull(s);
	/* codes -128 (1, saturated), 0 (1), 5 (3), 127 (1, saturated) */
	ck_assert_msg(strstr(s, "-128 1 1") && strstr(s, "5 3 0") && strstr(s, "127 1 1"), "%s", s);
	free(s);
	snprintf(path, sizeof path, "%s/events_0_0.dat", out);
	s = slurp(path);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(s, "5040 3 -4") != NULL, "%s", s);
	free(s);
	snprintf(path, sizeof path, "%s/summary.md", out);
	s = slurp(path);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(s, "accuracy_device") && strstr(s, "gnuplot") &&
		      strstr(s, "energy.dat"), "%s", s);
	free(s);
	/* an existing output directory is refused, the input is named in errors */
	ck_assert_int_eq(xb_timed_report(h5, out, "", NULL, &err), XB_EIO);
	snprintf(path, sizeof path, "%s/missing.h5", dir);
	ck_assert_int_eq(xb_timed_report(path, out, "", NULL, &err), XB_ENOENT);
	ck_assert(strstr(err.msg, "missing.h5") != NULL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_report_sweep)
{
	char dir[256], h5[300], out[300], path[400];
	tmpdir(dir, sizeof dir, "sweep");
	mkdir(dir, 0755);
	snprintf(h5, sizeof h5, "%s/s.h5", dir);
	snprintf(out, sizeof out, "%s/rep", dir);
	xb_err err;
	xb_h5w *w = xb_h5w_create(h5, "xbarsim-sweep", 1, "", "test", &err);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(xb_h5w_group(w, "/points", NULL, 0), XB_OK);
	int64_t n = 4;
	double bits[4] = { 4, 4, 6, 6 }, cpa[4] = { 1, 4, 1, 4 }, rmse[4] = { 3, 3.5, 1, NAN };
	int8_t status[4] = { 1, 1, 1, 2 };
	ck_assert_int_eq(xb_h5w_write(w, "/points/adc.bits", XB_H5_FLOAT64, 1, &n, bits, "bits"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/points/adc.columns_per_adc", XB_H5_FLOAT64, 1, &n, cpa, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/points/mvm_rmse_lsb", XB_H5_FLOAT64, 1, &n, rmse, "LSB"), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/points/status", XB_H5_INT8, 1, &n, status, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	ck_assert_msg(xb_timed_report(h5, out, "", NULL, &err) == XB_OK, "%s", err.msg);
	snprintf(path, sizeof path, "%s/mvm_rmse_lsb.dat", out);
	char *s = slurp(path);
	ck_assert_ptr_nonnull(s);
	/* x = adc.bits, one block per adc.columns_per_adc; the failed point is left out */
	ck_assert_msg(strstr(s, "4 3\n6 1\n") && strstr(s, "4 3.5\n") && !strstr(s, "nan"), "%s", s);
	free(s);
	snprintf(path, sizeof path, "%s/summary.md", out);
	s = slurp(path);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(s, "mvm_rmse_lsb") && strstr(s, "1 failed"), "%s", s);
	free(s);
	/* a gnuplot that cannot run: still the data and summary, figures -1 */
	int figs = 5;
	snprintf(out, sizeof out, "%s/rep2", dir);
	ck_assert_int_eq(xb_timed_report(h5, out, "/nonexistent/gnuplot", &figs, &err), XB_OK);
	ck_assert_int_eq(figs, -1);
	/* another schema, and a sweep without /points: XB_EFORMAT naming the file */
	snprintf(path, sizeof path, "%s/m.h5", dir);
	w = xb_h5w_create(path, "xbarsim-measurement", 1, "", "test", &err);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	snprintf(out, sizeof out, "%s/rep3", dir);
	ck_assert_int_eq(xb_timed_report(path, out, "", NULL, &err), XB_EFORMAT);
	ck_assert_msg(strstr(err.msg, "m.h5") && strstr(err.msg, "xbarsim-measurement"), "%s", err.msg);
	ck_assert_int_eq(access(out, F_OK), -1);
	w = xb_h5w_create(path, "xbarsim-sweep", 1, "", "test", &err);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	ck_assert_int_eq(xb_timed_report(path, out, "", NULL, &err), XB_EFORMAT);
	ck_assert(strstr(err.msg, "/points") != NULL);
	ck_assert_int_eq(xb_timed_report(NULL, out, "", NULL, &err), XB_EINVAL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(test_errors)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	xb_err err;
	dev *d;
	xb_nn_net *net = make_net("input 1x1x300; dense out=300", 8, &d, &p);

	ck_assert_ptr_null(xb_timed_new_params(NULL, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	/* more tiles needed (3 x 2 blocks) than exist (1 chip x 2 tiles) without reuse */
	pp.reuse = 0;
	ck_assert_ptr_null(xb_timed_new_params(&p, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	ck_assert_msg(strstr(err.msg, "needs 6 tiles") && strstr(err.msg, "timed.reuse"), "%s", err.msg);
	pp.chips = 3;   /* 6 tiles: fits */
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	xb_timed_free(t);
	pp = quiet_params();
	pp.bus_mhz = 0;
	ck_assert_ptr_null(xb_timed_new_params(&p, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	ck_assert(strstr(err.msg, "timed.bus_mhz") != NULL);
	pp = quiet_params();
	pp.chips = 0;
	ck_assert_ptr_null(xb_timed_new_params(&p, &pp, net, &err));
	ck_assert(strstr(err.msg, "timed.chips") != NULL);
	pp = quiet_params();
	pp.digital_units = 0;
	ck_assert_ptr_null(xb_timed_new_params(&p, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	/* zero ADCs (columns_per_adc 0) and a zero event clock are refused by the tile check */
	xb_tile_params q = p;
	pp = quiet_params();
	q.adc.columns_per_adc = 0;
	ck_assert_ptr_null(xb_timed_new_params(&q, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	q = p;
	q.input.event_mhz = 0;
	ck_assert_ptr_null(xb_timed_new_params(&q, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	/* a float-mode network */
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 0), XB_OK);
	ck_assert_ptr_null(xb_timed_new_params(&p, &pp, net, &err));
	ck_assert_int_eq(err.code, XB_ESTATE);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 1), XB_OK);
	t = xb_timed_new_params(&p, &pp, net, &err);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(xb_timed_infer(t, NULL, NULL, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_timed_infer(NULL, NULL, NULL, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 0), XB_OK);
	float x[300] = { 0 };
	ck_assert_int_eq(xb_timed_infer(t, x, NULL, NULL), XB_ESTATE);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 1), XB_OK);
	/* no inference yet: nothing to write */
	ck_assert_int_eq(xb_timed_write_trace(t, NULL, &err), XB_EINVAL);
	xb_timed_summary s;
	xb_timed_summarize(t, &s);
	ck_assert_uint_eq(s.inferences, 0);
	xb_timed_free(t);
	xb_timed_free(NULL);

	/* the configuration path: keys registered, a bad value refused at set time */
	xb_noise_register_keys();
	xb_devices_register_keys();
	xb_timed_register_keys();
	xb_timed_register_keys();   /* idempotent */
	xb_config *cfg = xb_config_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_ne(xb_config_set(cfg, "timed.chips", "0", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "timed.reuse", "false", "test"), XB_OK);
	ck_assert_ptr_null(xb_timed_new(cfg, net, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "timed.chips", "4", "test"), XB_OK);
	t = xb_timed_new(cfg, net, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_timed_tiles_used(t), 6);
	xb_timed_free(t);
	ck_assert_ptr_null(xb_timed_new(NULL, net, &err));
	xb_config_free(cfg);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST

/* The trace groups written through the writer read back. */
START_TEST(test_write_trace)
{
	xb_tile_params p = xb_tile_default_params();
	xb_timed_params pp = quiet_params();
	dev *d;
	xb_nn_net *net = make_net("input 1x1x8; dense out=4", 3, &d, &p);
	xb_err err;
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	float x[8];
	fill(x, 8, 1, -1, 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(xb_timed_infer(t, x, NULL, NULL), XB_OK);
	char dir[256], h5[300];
	tmpdir(dir, sizeof dir, "wt");
	mkdir(dir, 0755);
	snprintf(h5, sizeof h5, "%s/t.h5", dir);
	xb_h5w *w = xb_h5w_create(h5, "xbarsim-trace", 1, "", "", &err);
	ck_assert_int_eq(xb_timed_write_trace(t, w, &err), XB_OK);
	/* twice is refused: the groups exist */
	ck_assert_int_ne(xb_timed_write_trace(t, w, &err), XB_OK);
	ck_assert(strstr(err.msg, "/timeline") != NULL);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	xb_h5r *r = xb_h5r_open(h5, &err);
	ck_assert_ptr_nonnull(r);
	int64_t inf;
	ck_assert_int_eq(xb_h5r_attr_int(r, "/timing", "inferences", &inf), XB_OK);
	ck_assert_int_eq(inf, 3);
	double *lat;
	int64_t dims[8];
	ck_assert_int_eq(xb_h5r_read(r, "/timing/latency_ns", XB_H5_FLOAT64, 1, NULL, 0,
				     (void **)&lat, dims), XB_OK);
	ck_assert_int_eq(dims[0], 3);
	ck_assert(lat[0] == lat[2] && lat[0] > 5000);
	free(lat);
	ck_assert_int_eq(xb_h5r_exists(r, "/timeline/start_ns"), 1);
	xb_h5r_free(r);
	/* the report of this trace, with gnuplot where configure found one */
	char out[300], png[400];
	int figs;
	snprintf(out, sizeof out, "%s/rep", dir);
	ck_assert_msg(xb_timed_report(h5, out, NULL, &figs, &err) == XB_OK, "%s", err.msg);
	snprintf(png, sizeof png, "%s/timeline.dat", out);
	ck_assert_int_eq(access(png, R_OK), 0);
	if (XB_GNUPLOT[0]) {
		/* energy_timed and timeline */
		ck_assert_int_eq(figs, 2);
		snprintf(png, sizeof png, "%s/timeline.png", out);
		ck_assert_int_eq(access(png, R_OK), 0);
	} else
		ck_assert_int_eq(figs, -1);
	if (getenv("XB_TEST_KEEP"))
		return;
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	xb_timed_free(t);
	xb_nn_net_free(net);
	dev_free(d);
}
END_TEST

static Suite *timed_suite(void)
{
	Suite *s = suite_create("timed");
	TCase *core = tcase_create("core");
	tcase_add_test(core, test_closed_form);
	tcase_add_test(core, test_layer_sends);
	tcase_add_test(core, test_adc_sharing);
	tcase_add_test(core, test_bit_equal);
	tcase_add_test(core, test_sequential);
	tcase_add_test(core, test_overlap_reuse);
	tcase_add_test(core, test_write_trace);
	tcase_add_test(core, test_device_hook);
	tcase_add_test(core, test_report_trace);
	tcase_add_test(core, test_report_sweep);
	suite_add_tcase(s, core);
	TCase *lim = tcase_create("limits");
	tcase_add_test(lim, test_errors);
	suite_add_tcase(s, lim);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timed_suite());
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
