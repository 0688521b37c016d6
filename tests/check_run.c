/* check_run.c - unit tests of `xbarsim run`: the device backend (xb_device_nn.h) and the run library (xb_run.h).
 * Backend vs xb_matrix, ideal device vs float-quantized, trace contents, determinism, errors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_calibration.h"
#include "xb_data.h"
#include "xb_device_nn.h"
#include "xb_run.h"
#include "xb_metrics.h"
#include "xb_sim.h"
#include "xb_sweep.h"
#include "xb_traces.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t rng_state;

/* splitmix64: the test's own reproducible stream, independent of the library's */
static double urand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static char tmpdir[256];
static char model_path[320], data_path[320], data28_path[320];

#define NSAMPLES 37   /* not a multiple of any batch size used below */
#define SPEC "input 6x1x2; conv1d out=4 kernel=3; requant; flatten; dense out=3"

/* A tiny conv1d + dense model with seeded weights, quantized for gain 0.002 (hx), and a
 * data set of NSAMPLES random samples of its input shape, 3 classes. */
static void setup(void)
{
	const char *base = getenv("TMPDIR");
	xb_err err = { 0 };
	xb_nn_net *net;
	xb_dataset *ds;
	xb_nn_backend b = xb_nn_backend_float();
	xb_nn_quant_params qp = xb_nn_quant_default_params();

	snprintf(tmpdir, sizeof tmpdir, "%s/check_run.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(model_path, sizeof model_path, "%s/tiny.h5", tmpdir);
	snprintf(data_path, sizeof data_path, "%s/tiny-data.h5", tmpdir);
	snprintf(data28_path, sizeof data28_path, "%s/other-data.h5", tmpdir);
	rng_state = 2385;
	ds = xb_dataset_new(NSAMPLES, 6, 1, 2, 3, NULL, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	float *x = xb_dataset_features(ds);
	int32_t *lab = xb_dataset_labels(ds);
	for (size_t i = 0; i < NSAMPLES * 12; i++)
		x[i] = (float)(2.0 * urand() - 0.7);
	for (size_t i = 0; i < NSAMPLES; i++)
		lab[i] = (int32_t)(urand() * 3.0);
	ck_assert_int_eq(xb_dataset_save(ds, data_path, XB_STORE_FLOAT32, NULL, NULL, &err), XB_OK);
	net = xb_nn_net_from_spec(SPEC, 11, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	b.gain = 0.002;   /* the hx gain: requant shifts are chosen for it */
	xb_nn_net_set_backend(net, &b);
	qp.split_signed = 0;   /* zero point: the tests count codes with xb_nn_quantize_inputs */
	ck_assert_int_eq(xb_nn_net_quantize(net, NSAMPLES, x, &qp), XB_OK);
	ck_assert_int_eq(xb_nn_net_save(net, model_path, NULL, NULL, &err), XB_OK);
	xb_nn_net_free(net);
	xb_dataset_free(ds);
	/* a data set of another sample shape */
	ds = xb_dataset_new(4, 28, 28, 1, 3, NULL, &err);
	ck_assert_ptr_nonnull(ds);
	ck_assert_int_eq(xb_dataset_save(ds, data28_path, XB_STORE_FLOAT32, NULL, NULL, &err), XB_OK);
	xb_dataset_free(ds);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Configuration: PRESET plus the model/data keys and NSETS more overrides. */
static xb_config *config(const char *preset, const char *model, const char *data,
			 const char **more, size_t nmore)
{
	char m[400], d[400];
	const char *sets[16];
	size_t n = 0;
	xb_err err = { 0 };

	snprintf(m, sizeof m, "workload.model=%s", model);
	snprintf(d, sizeof d, "workload.data=%s", data);
	sets[n++] = m;
	sets[n++] = d;
	for (size_t i = 0; i < nmore; i++)
		sets[n++] = more[i];
	xb_register_all_keys();
	xb_config *cfg = xb_sim_config(NULL, preset, sets, n, &err);
	ck_assert_msg(cfg != NULL, "%s", err.msg);
	return cfg;
}

static xb_run_result *run_ok(xb_config *cfg, const xb_run_options *o)
{
	xb_err err = { 0 };
	xb_run_result *r = NULL;
	xb_status st = xb_run(cfg, o, &r, &err);
	ck_assert_msg(st == XB_OK, "run failed: %s", err.msg);
	return r;
}

/* ---- core ---------------------------------------------------------------------------- */

/* The backend's codes and counters equal an xb_matrix run directly with the same keys:
 * a dense 200 -> 300 layer needs 2 x 2 hx tiles (128 + 72 signed rows, 256 + 44
 * columns). */
START_TEST(test_backend_equals_matrix)
{
	xb_err err = { 0 };
	xb_tile_params tp = xb_tile_default_params();
	tp.input.num_sends = 2;
	xb_nn_net *net = xb_nn_net_from_spec("input 1x1x200; dense out=300", 5, &err);
	ck_assert_ptr_nonnull(net);
	xb_nn_backend fb = xb_nn_backend_float();
	fb.gain = tp.adc.gain;
	xb_nn_net_set_backend(net, &fb);
	enum { N = 9 };
	float x[N * 200];
	rng_state = 77;
	for (size_t i = 0; i < N * 200; i++)
		x[i] = urand() < 0.3 ? 0.0f : (float)urand();   /* ~30% zero inputs */
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_OK);
	xb_nn_layer *l = xb_nn_net_layer_mut(net, 0);
	uint8_t xq[N * 200];
	xb_nn_quantize_inputs(x, N * 200, 5, l->q.x_scale, l->q.x_zero, xq);

	xb_device_nn *d = xb_device_nn_new(&tp, NULL, &err);
	ck_assert_msg(d != NULL, "%s", err.msg);
	xb_nn_mvm op = { l, 300, 200, l->t[0], l->q.wq, l->version, 2 };  /* 2 sends */
	float y[N * 300];
	xb_device_nn_set_sample(d, 1000);
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d, &op, N, xq, y, &err), XB_OK);

	/* directly: matrix of 200 signed rows x 300 columns at tile_base 0 */
	xb_matrix *m = xb_matrix_new(&tp, 0, 0, 200, 300, &err);
	ck_assert_ptr_nonnull(m);
	size_t ni, nj;
	xb_matrix_grid(m, &ni, &nj);
	ck_assert_uint_eq(ni, 2);    /* ceil(200 / 128) */
	ck_assert_uint_eq(nj, 2);    /* ceil(300 / 256) */
	static int8_t wt[200 * 300];
	for (size_t r = 0; r < 300; r++)
		for (size_t c = 0; c < 200; c++)
			wt[c * 300 + r] = l->q.wq[r * 200 + c];
	ck_assert_int_eq(xb_matrix_program(m, wt, 300), XB_OK);
	xb_matrix_work *ws = xb_matrix_work_new(m, N, &err);
	int32_t yd[N * 300];
	xb_tile_counters cnt = { 0 };
	xb_tile_batch b;
	xb_tile_batch_init(&b, xb_matrix_tile(m, 0, 0), N, xq, yd);
	b.ldx = b.n_in = 200;
	b.ldy = b.n_out = 300;
	b.sample_base = 1000;        /* dense: one MVM per sample, P = 1 */
	b.counters = &cnt;
	ck_assert_int_eq(xb_matrix_mvm(m, &b, ws), XB_OK);
	/* the backend adds the midpoint of the codes of its 2 row blocks, 2 x 0.5, to every
	 * unsaturated output (xb_device_nn.h); saturated sums (-128, 127) stay */
	for (size_t i = 0; i < N * 300; i++)
		ck_assert_float_eq(y[i], yd[i] <= -128 || yd[i] >= 127 ? (float)yd[i] :
					 (float)yd[i] + 1.0f);
	const xb_device_nn_stats *s = xb_device_nn_stats_of(d, 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->c.events, cnt.events);
	ck_assert_uint_eq(s->c.conversions, cnt.conversions);
	ck_assert_uint_eq(s->c.mvms, N);
	ck_assert_uint_eq(s->tiles, 4);
	/* hand-derived: every non-zero code is one event per send on each of the nj = 2
	 * column blocks; every MVM converts 300 columns in each of the ni = 2 row blocks */
	uint64_t nnz = 0;
	for (size_t i = 0; i < N * 200; i++)
		nnz += xq[i] != 0;
	ck_assert_uint_eq(s->c.events, nnz * 2 * 2);
	ck_assert_uint_eq(s->c.conversions, (uint64_t)N * 300 * 2);
	double e = (double)s->c.events * tp.energy.event_pj +
		   (double)s->c.active_cells * tp.energy.cell_pj +
		   (double)s->c.conversions * tp.energy.conversion_pj;
	ck_assert_double_eq_tol(s->energy_pj, e, 1e-9 * (e + 1));
	ck_assert_double_eq_tol(s->energy_pj, xb_tile_energy_pj(xb_matrix_tile(m, 0, 0), &cnt),
				1e-9 * (e + 1));
	/* the same weights again: cached, same noise keys -> same outputs */
	float y2[N * 300];
	xb_device_nn_set_sample(d, 1000);
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d, &op, N, xq, y2, &err), XB_OK);
	ck_assert_int_eq(memcmp(y, y2, sizeof y), 0);
	/* sends outside 1 .. 64 are refused, naming the layer */
	op.sends = 65;
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d, &op, N, xq, y2, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "layer 0: sends = 65"));
	op.sends = 0;
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d, &op, N, xq, y2, &err), XB_EINVAL);
	xb_matrix_work_free(ws);
	xb_matrix_free(m);
	xb_device_nn_free(d);
	xb_nn_net_free(net);
}
END_TEST

/* On the ideal preset the device network computes g Wq xq exactly like the float
 * backend in quantized mode: same predictions, same accuracy. */
START_TEST(test_ideal_equals_quantized)
{
	xb_config *cfg = config("ideal", model_path, data_path, NULL, 0);
	xb_run_result *r = run_ok(cfg, NULL);
	xb_err err = { 0 };
	xb_nn_net *net = xb_nn_net_load(model_path, &err);
	xb_dataset *ds = xb_dataset_load(data_path, XB_SPLIT_ALL, &err);
	ck_assert_ptr_nonnull(net);
	ck_assert_ptr_nonnull(ds);
	xb_nn_backend fb = xb_nn_backend_float();
	fb.gain = 0.002;
	xb_nn_net_set_backend(net, &fb);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 1), XB_OK);
	xb_nn_data data = { NSAMPLES, xb_dataset_features(ds), xb_dataset_labels(ds) };
	double acc;
	ck_assert_int_eq(xb_nn_evaluate(net, &data, NULL, &acc, NULL), XB_OK);
	ck_assert_uint_eq(r->samples, NSAMPLES);
	ck_assert_double_eq(r->accuracy_device, acc);
	/* ideal model: no ADC saturation by construction */
	ck_assert_double_eq(r->adc_saturation_rate, 0.0);
	xb_run_result_free(r);
	xb_nn_net_free(net);
	xb_dataset_free(ds);
	xb_config_free(cfg);
}
END_TEST

/* End to end on hx with two sends, trace at level event: the trace's contents. */
START_TEST(test_trace_contents)
{
	char tr[400];
	snprintf(tr, sizeof tr, "%s/t.h5", tmpdir);
	/* workload.fill = 0: every layer takes input.num_sends */
	const char *more[] = { "input.num_sends=2", "workload.fill=0", "trace.level=event",
			       "run.samples=30" };
	xb_config *cfg = config("hx", model_path, data_path, more, 4);
	xb_run_options o = xb_run_default_options();
	o.trace_file = tr;
	o.batch = 8;                 /* 30 samples in 4 batches, the last one short */
	o.trace_mvm_samples = 3;
	o.command_line = "xbarsim run test";
	xb_run_result *r = run_ok(cfg, &o);
	xb_err err = { 0 };
	xb_h5r *h = xb_h5r_open(tr, &err);
	ck_assert_msg(h != NULL, "%s", err.msg);
	ck_assert_int_eq(xb_h5r_schema(h, NULL, "xbarsim-trace", 1, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_schema(h, "/summary", "xbarsim-trace", 1, NULL), XB_OK);
	int64_t ns;
	double ai, ad, e;
	ck_assert_int_eq(xb_h5r_attr_int(h, "/summary", "samples", &ns), XB_OK);
	ck_assert_int_eq(ns, 30);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/summary", "accuracy_ideal", &ai), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/summary", "accuracy_device", &ad), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/summary", "energy_pj_per_inference", &e), XB_OK);
	ck_assert(ai >= 0 && ai <= 1 && ad >= 0 && ad <= 1 && e > 0);
	ck_assert(!xb_h5r_has_attr(h, "/summary", "latency_ns_per_inference"));
	/* accuracies agree with /samples */
	int32_t *lab, *pd, *pf;
	float *logits;
	ck_assert_int_eq(xb_h5r_read(h, "/samples/label", XB_H5_INT32, 1, NULL, 0, (void **)&lab, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/samples/prediction", XB_H5_INT32, 1, NULL, 0, (void **)&pd, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/samples/prediction_ideal", XB_H5_INT32, 1, NULL, 0, (void **)&pf, NULL), XB_OK);
	int64_t ldims[2] = { 30, 3 };
	ck_assert_int_eq(xb_h5r_read(h, "/samples/logits", XB_H5_FLOAT32, 2, ldims, 0, (void **)&logits, NULL), XB_OK);
	int ci = 0, cd = 0;
	for (int i = 0; i < 30; i++) {
		ci += pf[i] == lab[i];
		cd += pd[i] == lab[i];
		int am = 0;   /* prediction = first largest logit */
		for (int k = 1; k < 3; k++)
			if (logits[i * 3 + k] > logits[i * 3 + am])
				am = k;
		ck_assert_int_eq(am, pd[i]);
	}
	ck_assert_double_eq(ad, cd / 30.0);
	ck_assert_double_eq(ai, ci / 30.0);
	/* per-layer counts of layer 0 (conv1d, 4 positions of 3 x 2 inputs, 4 filters):
	 * events = sends x non-zero input codes of every patch, from the model's own
	 * quantization of the inputs; conversions = samples x positions x filters */
	xb_nn_net *net = xb_nn_net_load(model_path, &err);
	ck_assert_ptr_nonnull(net);
	const xb_nn_layer *l0 = xb_nn_net_layer(net, 0);
	xb_dataset *ds = xb_dataset_load(data_path, XB_SPLIT_ALL, &err);
	const float *x = xb_dataset_features(ds);
	uint8_t xq[NSAMPLES * 12];
	xb_nn_quantize_inputs(x, NSAMPLES * 12, 5, l0->q.x_scale, l0->q.x_zero, xq);
	uint64_t nnz = 0;
	for (int s = 0; s < 30; s++)
		for (int p = 0; p < 4; p++)
			for (int k = 0; k < 6; k++)
				nnz += xq[s * 12 + p * 2 + k] != 0;
	int64_t ev, conv, mv;
	double rate, ec, ee, ecv, et;
	ck_assert_int_eq(xb_h5r_attr_int(h, "/layers/0", "events", &ev), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_int(h, "/layers/0", "conversions", &conv), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_int(h, "/layers/0", "mvms", &mv), XB_OK);
	ck_assert_int_eq(ev, (int64_t)nnz * 2);
	ck_assert_int_eq(conv, 30 * 4 * 4);
	ck_assert_int_eq(mv, 30 * 4);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/layers/0", "adc_saturation_rate", &rate), XB_OK);
	ck_assert(rate >= 0 && rate <= 1);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/layers/0", "energy_pj", &et), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/layers/0", "energy_event_pj", &ee), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/layers/0", "energy_cell_pj", &ec), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_double(h, "/layers/0", "energy_conversion_pj", &ecv), XB_OK);
	ck_assert_double_eq_tol(et, ee + ec + ecv, 1e-9 * et);
	ck_assert(xb_h5r_exists(h, "/layers/3"));     /* the dense layer (0 conv1d, 1 requant, 2 flatten) */
	ck_assert(!xb_h5r_exists(h, "/layers/1"));    /* requant is digital */
	/* /mvm: the first MVM of samples 0..2; its inputs are sample s's first patch */
	uint8_t *mx;
	int64_t *msmp;
	float *mi, *md;
	int64_t dx[2] = { 3, 6 }, dy[2] = { 3, 4 };
	ck_assert_int_eq(xb_h5r_read(h, "/mvm/0/inputs", XB_H5_UINT8, 2, dx, 0, (void **)&mx, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/mvm/0/sample", XB_H5_INT64, 1, NULL, 0, (void **)&msmp, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/mvm/0/ideal", XB_H5_FLOAT32, 2, dy, 0, (void **)&mi, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/mvm/0/device", XB_H5_FLOAT32, 2, dy, 0, (void **)&md, NULL), XB_OK);
	for (int s = 0; s < 3; s++) {
		ck_assert_int_eq(msmp[s], s);
		for (int k = 0; k < 6; k++)
			ck_assert_uint_eq(mx[s * 6 + k], xq[s * 12 + k]);
		for (int f = 0; f < 4; f++) {
			/* ideal = S g sum_k wq[f][k] x[k], S = input.num_sends = 2 */
			double acc = 0;
			for (int k = 0; k < 6; k++)
				acc += (double)l0->q.wq[f * 6 + k] * mx[s * 6 + k];
			ck_assert_double_eq_tol(mi[s * 4 + f], 2 * 0.002 * acc, 1e-5);
			/* device: within read noise and saturation of the ideal output (or clipped) */
			ck_assert(md[s * 4 + f] >= -128 && md[s * 4 + f] <= 127);
		}
	}
	/* /events: sample 0's MVM event by event: sends x non-zero codes events, rows
	 * descending within each send (hx order), times 5 cycles at 125 MHz = 40 ns apart */
	int64_t et0;
	ck_assert_int_eq(xb_h5r_attr_int(h, "/events/0/0", "events_total", &et0), XB_OK);
	uint64_t nz0 = 0;
	for (int k = 0; k < 6; k++)
		nz0 += xq[k] != 0;
	ck_assert_int_eq(et0, (int64_t)nz0 * 2);
	int32_t *row;
	double *tns;
	ck_assert_int_eq(xb_h5r_read(h, "/events/0/0/row", XB_H5_INT32, 1, NULL, 0, (void **)&row, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h, "/events/0/0/time_ns", XB_H5_FLOAT64, 1, NULL, 0, (void **)&tns, NULL), XB_OK);
	for (int64_t k = 1; k < (int64_t)nz0; k++) {
		ck_assert_int_lt(row[k], row[k - 1]);
		ck_assert_double_eq_tol(tns[k] - tns[k - 1], 40.0, 1e-6);
	}
	/* units everywhere */
	char *unit;
	ck_assert_int_eq(xb_h5r_attr_str(h, "/events/0/0/v_lsb", "unit", &unit), XB_OK);
	ck_assert_str_eq(unit, "LSB");
	free(unit);
	free(row);
	free(tns);
	free(mx);
	free(msmp);
	free(mi);
	free(md);
	free(lab);
	free(pd);
	free(pf);
	free(logits);
	xb_h5r_free(h);
	xb_nn_net_free(net);
	xb_dataset_free(ds);
	xb_run_result_free(r);
	xb_config_free(cfg);
}
END_TEST

/* Results do not depend on the thread count or the batch size (noise on: read noise
 * 2 LSB of hx, plus per-event noise through the reference loop). */
START_TEST(test_determinism)
{
	char t1[400], t2[400];
	snprintf(t1, sizeof t1, "%s/a.h5", tmpdir);
	snprintf(t2, sizeof t2, "%s/b.h5", tmpdir);
	const char *m1[] = { "run.threads=1", "noise.event_lsb=0.5" };
	const char *m2[] = { "run.threads=2", "noise.event_lsb=0.5" };
	xb_config *c1 = config("hx", model_path, data_path, m1, 2);
	xb_config *c2 = config("hx", model_path, data_path, m2, 2);
	xb_run_options o = xb_run_default_options();
	o.trace_file = t1;
	o.batch = 5;
	xb_run_result *r1 = run_ok(c1, &o);
	o.trace_file = t2;
	o.batch = 256;
	xb_run_result *r2 = run_ok(c2, &o);
	ck_assert_double_eq(r1->accuracy_device, r2->accuracy_device);
	ck_assert_uint_eq(r1->total.events, r2->total.events);
	ck_assert_uint_eq(r1->total.sat_adc, r2->total.sat_adc);
	xb_err err = { 0 };
	xb_h5r *h1 = xb_h5r_open(t1, &err), *h2 = xb_h5r_open(t2, &err);
	float *l1, *l2;
	ck_assert_int_eq(xb_h5r_read(h1, "/samples/logits", XB_H5_FLOAT32, 2, NULL, 0, (void **)&l1, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_read(h2, "/samples/logits", XB_H5_FLOAT32, 2, NULL, 0, (void **)&l2, NULL), XB_OK);
	ck_assert_int_eq(memcmp(l1, l2, NSAMPLES * 3 * sizeof(float)), 0);
	free(l1);
	free(l2);
	xb_h5r_free(h1);
	xb_h5r_free(h2);
	xb_run_result_free(r1);
	xb_run_result_free(r2);
	xb_config_free(c1);
	xb_config_free(c2);
}
END_TEST

/* workload.data = fashion-mnist: the shipped LeNet-5 on the first 200 of Debian's
 * 10,000 Fashion-MNIST test images.  Expected: 10 classes named as the data set names
 * them, and a float accuracy near the model's 0.902 on all 10,000 (doc/training.md);
 * 200 samples put the binomial standard deviation at 0.021, so > 0.80 is ~5 sigma
 * below; the device within 0.1 of the float network (2 points on all 10,000). */
START_TEST(test_fashion_mnist_by_name)
{
	const char *more[] = { "run.samples=200" };
	xb_config *cfg = config("hx", "lenet5", "fashion-mnist", more, 1);
	xb_run_options o = xb_run_default_options();
	xb_run_result *r = run_ok(cfg, &o);

	ck_assert_str_eq(r->data_path, "fashion-mnist");
	ck_assert_uint_eq(r->samples, 200);
	ck_assert_int_eq(r->nclasses, 10);
	ck_assert_str_eq(r->class_names[0], xb_fashion_mnist_class_names[0]);
	ck_assert_msg(r->accuracy_ideal > 0.80, "float accuracy %g", r->accuracy_ideal);
	ck_assert_msg(fabs(r->accuracy_device - r->accuracy_ideal) < 0.1, "device %g, float %g",
		      r->accuracy_device, r->accuracy_ideal);
	xb_run_result_free(r);
	xb_config_free(cfg);
}
END_TEST

/* The sweep provider reports what xb_run reports for the same configuration. */
START_TEST(test_metrics_provider)
{
	xb_config *cfg = config("hx", model_path, data_path, NULL, 0);
	const xb_sweep_provider *p = &xb_metrics_run;
	xb_err err = { 0 };
	unsigned char st[64] = { 0 };
	ck_assert_uint_le(p->state_size, sizeof st);
	ck_assert_int_eq(p->init(st, cfg, &err), XB_OK);
	ck_assert_uint_eq(p->nmetrics, 6);
	ck_assert_uint_eq(p->width(st, 5), 3);           /* 3 classes in the data set */
	ck_assert_double_eq(p->cost(st, cfg), NSAMPLES);  /* run.samples = 0: all */
	unsigned char want[6] = { 1, 1, 1, 1, 1, 1 };
	size_t off[6] = { 0, 1, 2, 3, 4, 5 };
	xb_sweep_job job = { 0, 0, want, off };
	double out[8];
	for (int i = 0; i < 8; i++)
		out[i] = NAN;
	ck_assert_int_eq(p->eval(st, cfg, &job, out, &err), XB_OK);
	xb_run_result *r = run_ok(cfg, NULL);
	ck_assert_double_eq(out[0], r->accuracy_ideal);
	ck_assert_double_eq(out[1], r->accuracy_device);
	ck_assert_double_eq(out[2], r->energy_pj_per_inference);
	ck_assert_double_eq(out[3], r->events_per_inference);
	ck_assert_double_eq(out[4], r->adc_saturation_rate);
	for (int k = 0; k < 3; k++)
		ck_assert_double_eq(out[5 + k], (double)r->class_correct_device[k] / r->class_count[k]);
	xb_run_result_free(r);
	xb_config_free(cfg);
}
END_TEST

/* calibration.file replaces the column parameters of every tile: a calibration whose
 * only identified parameter is offset_lsb = 5 (others NaN: keep) shifts every
 * unclipped output of a noise-free hx device by exactly 5 codes (y = floor(a v + o)). */
START_TEST(test_calibration_applied)
{
	xb_err err = { 0 };
	xb_tile_params tp = xb_tile_default_params();
	tp.noise.enable = 0;
	xb_calibration *cal = xb_calibration_new(256, &err);
	ck_assert_ptr_nonnull(cal);
	for (size_t c = 0; c < 256; c++)
		cal->value[XB_CAL_OFFSET][c] = 5.0, cal->stderr_[XB_CAL_OFFSET][c] = 0.1;
	char cp[400];
	snprintf(cp, sizeof cp, "%s/cal.h5", tmpdir);
	ck_assert_msg(xb_calibration_write(cal, cp, NULL, NULL, &err) == XB_OK, "%s", err.msg);
	xb_calibration_free(cal);
	xb_nn_net *net = xb_nn_net_from_spec("input 1x1x40; dense out=20", 9, &err);
	xb_nn_backend fb = xb_nn_backend_float();
	fb.gain = tp.adc.gain;
	xb_nn_net_set_backend(net, &fb);
	enum { N = 6 };
	float x[N * 40];
	rng_state = 5;
	for (size_t i = 0; i < N * 40; i++)
		x[i] = (float)urand();
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_OK);
	xb_nn_layer *l = xb_nn_net_layer_mut(net, 0);
	uint8_t xq[N * 40];
	xb_nn_quantize_inputs(x, N * 40, 5, l->q.x_scale, l->q.x_zero, xq);
	xb_nn_mvm op = { l, 20, 40, l->t[0], l->q.wq, l->version, 1 };
	xb_device_nn *d0 = xb_device_nn_new(&tp, NULL, &err);
	xb_device_nn *d1 = xb_device_nn_new(&tp, cp, &err);
	ck_assert_msg(d1 != NULL, "%s", err.msg);
	float y0[N * 20], y1[N * 20];
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d0, &op, N, xq, y0, &err), XB_OK);
	ck_assert_int_eq(xb_device_nn_type.mvm_codes(d1, &op, N, xq, y1, &err), XB_OK);
	int checked = 0;
	for (size_t i = 0; i < N * 20; i++)
		if (y0[i] > -128 && y0[i] < 122) {
			ck_assert_float_eq(y1[i] - y0[i], 5.0f);
			checked++;
		}
	ck_assert_int_gt(checked, N * 10);
	xb_device_nn_free(d0);
	xb_device_nn_free(d1);
	xb_nn_net_free(net);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------- */

static void run_fails(xb_config *cfg, const char *trace, xb_status want, const char *needle)
{
	xb_err err = { 0 };
	xb_run_result *r = (xb_run_result *)1;
	xb_run_options o = xb_run_default_options();
	o.trace_file = trace;
	xb_status st = xb_run(cfg, &o, &r, &err);
	ck_assert_msg(st == want, "expected status %d, got %d: %s", want, st, err.msg);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
	if (trace)
		ck_assert_int_ne(access(trace, F_OK), 0);   /* no trace left behind */
}

START_TEST(test_errors)
{
	char tr[400], missing[400];
	snprintf(tr, sizeof tr, "%s/never.h5", tmpdir);
	snprintf(missing, sizeof missing, "%s/nothere.h5", tmpdir);
	xb_config *c;

	c = config("hx", "no-such-model", data_path, NULL, 0);
	run_fails(c, tr, XB_ENOENT, "model 'no-such-model'");
	xb_config_free(c);
	c = config("hx", model_path, "no-such-data", NULL, 0);
	run_fails(c, tr, XB_ENOENT, "no-such-data");
	xb_config_free(c);
	c = config("hx", model_path, data28_path, NULL, 0);
	run_fails(c, tr, XB_EFORMAT, "28x28x1");
	xb_config_free(c);
	/* a model file that is not HDF5 */
	c = config("hx", data_path, data_path, NULL, 0);
	run_fails(c, tr, XB_EFORMAT, "tiny-data.h5");
	xb_config_free(c);
	/* the trace's directory does not exist: nothing is run */
	snprintf(tr, sizeof tr, "%s/no/dir/t.h5", tmpdir);
	c = config("hx", model_path, data_path, NULL, 0);
	run_fails(c, tr, XB_ENOENT, "no/dir");
	xb_config_free(c);
	/* the model search names the places searched */
	char buf[256];
	xb_err err = { 0 };
	ck_assert_int_eq(xb_run_model_path("zz-none", buf, sizeof buf, &err), XB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "workloads/models"));
	ck_assert_int_eq(xb_run_model_path(model_path, buf, sizeof buf, &err), XB_OK);
	ck_assert_str_eq(buf, model_path);
	(void)missing;
}
END_TEST

/* A bad calibration file is refused when the backend is made. */
START_TEST(test_bad_calibration)
{
	xb_err err = { 0 };
	xb_tile_params tp = xb_tile_default_params();
	char p[400];
	snprintf(p, sizeof p, "%s/none-cal.h5", tmpdir);
	ck_assert_ptr_null(xb_device_nn_new(&tp, p, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "calibration.file"));
	ck_assert_ptr_null(xb_device_nn_new(NULL, NULL, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
}
END_TEST

static Suite *run_suite(void)
{
	Suite *s = suite_create("run");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, test_backend_equals_matrix);
	tcase_add_test(core, test_ideal_equals_quantized);
	tcase_add_test(core, test_trace_contents);
	tcase_add_test(core, test_determinism);
	tcase_add_test(core, test_fashion_mnist_by_name);
	tcase_add_test(core, test_metrics_provider);
	tcase_add_test(core, test_calibration_applied);
	tcase_add_test(limits, test_errors);
	tcase_add_test(limits, test_bad_calibration);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_suite());
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
