/* check_train.c - tests of the training pipeline (workloads/xb_train.h) behind `xbarsim train`.
 * A tiny synthetic data set trained through xb_train_run, configuration errors, the noisy mode.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <check.h>

#include "xb_data.h"
#include "xb_nn.h"
#include "xb_sim.h"
#include "xb_train.h"
#include "train_int.h"
#include "xb_test_nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A small network for 6x6x1 samples of 3 classes (spec text, as train.arch takes it). */
#define TINY_ARCH "input 6x6x1; flatten; dense out=12; requant; dense out=3"

static char data_path[256];

/* Three classes of 6x6 "images": class k lights row band 2k..2k+1 (value 0.8) over
 * uniform noise in [0, 0.6) from a fixed LCG; 180 train, 45 valid, 60 test samples in
 * a cyclic class order.  The bands overlap the noise so that a linear model needs
 * training to separate them, but not much. */
static void make_tiny_data(void)
{
	size_t n = 285;
	xb_err err;
	xb_dataset *ds = xb_dataset_new(n, 6, 6, 1, 3, NULL, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	float *x = xb_dataset_features(ds);
	int32_t *lab = xb_dataset_labels(ds);
	uint8_t *sp = xb_dataset_splits(ds);
	uint32_t s = 2385;
	for (size_t i = 0; i < n; i++) {
		int k = (int)(i % 3);
		lab[i] = k;
		sp[i] = i < 180 ? XB_SPLIT_TRAIN : i < 225 ? XB_SPLIT_VALID : XB_SPLIT_TEST;
		for (int p = 0; p < 36; p++) {
			s = s * 1664525u + 1013904223u;
			float u = (float)(s >> 8) / 16777216.0f * 0.6f;
			int row = p / 6;
			x[i * 36 + (size_t)p] = u + (row / 2 == k ? 0.8f : 0.0f);
		}
	}
	snprintf(data_path, sizeof data_path, "/tmp/check_train_%ld.h5", (long)getpid());
	ck_assert_int_eq(xb_dataset_save(ds, data_path, XB_STORE_FLOAT32, NULL, NULL, &err), XB_OK);
	xb_dataset_free(ds);
}

static void remove_tiny_data(void)
{
	unlink(data_path);
}

static xb_config *tiny_config(void)
{
	xb_register_all_keys();
	ck_assert_int_eq(xb_train_register_keys(), XB_OK);
	xb_config *cfg = xb_config_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(xb_config_set(cfg, "train.arch", TINY_ARCH, "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.data", data_path, "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.epochs", "8", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.batch", "16", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.lr", "0.01", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.calib_samples", "100", "test"), XB_OK);
	return cfg;
}

/* All tensors of NET in one malloc'd array (*N floats). */
static float *all_weights(const xb_nn_net *net, size_t *n)
{
	size_t tot = 0, k = 0;
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		const xb_nn_layer *l = xb_nn_net_layer(net, i);
		for (int t = 0; t < l->ntensors; t++)
			tot += l->tsize[t];
	}
	float *w = malloc((tot ? tot : 1) * sizeof *w);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		const xb_nn_layer *l = xb_nn_net_layer(net, i);
		for (int t = 0; t < l->ntensors; t++) {
			memcpy(w + k, l->t[t], l->tsize[t] * sizeof *w);
			k += l->tsize[t];
		}
	}
	*n = tot;
	return w;
}

/* A and B hold the same tensors, bit for bit. */
static void assert_same_weights(const xb_nn_net *a, const xb_nn_net *b)
{
	size_t na, nb;
	float *wa = all_weights(a, &na), *wb = all_weights(b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_int_eq(memcmp(wa, wb, na * sizeof *wa), 0);
	free(wa);
	free(wb);
}

static int epochs_seen;

static int count_epoch(void *ud, const char *phase, const xb_nn_epoch *e)
{
	(void)ud;
	(void)phase;
	ck_assert(e->val_acc >= 0 && e->val_acc <= 1);
	epochs_seen++;
	return 0;
}

START_TEST(test_float_tiny)
{
	xb_config *cfg = tiny_config();
	xb_nn_net *a = NULL, *b = NULL;
	xb_train_result ra, rb;
	xb_err err;
	xb_train_hooks hk = { NULL, NULL, count_epoch, NULL, NULL, NULL };

	epochs_seen = 0;
	ck_assert_msg(xb_train_run(cfg, -1, &hk, &a, &ra, &err) == XB_OK, "%s", err.msg);
	ck_assert_int_eq(epochs_seen, 8);
	/* 180 train, 45 validation, 60 test samples (make_tiny_data) */
	ck_assert_uint_eq(ra.train_n, 180);
	ck_assert_uint_eq(ra.val_n, 45);
	ck_assert_uint_eq(ra.test_n, 60);
	/* 36*12+12 + 12*3+3 = 483 parameters */
	ck_assert_uint_eq(ra.nparams, 483);
	/* The bands are 0.8 over noise of width 0.6: a trained MLP separates them all
	 * (observed 1.0 on this seed); 0.95 leaves room for a different libm/BLAS. */
	ck_assert_msg(ra.test_acc_float >= 0.95, "test accuracy %g", ra.test_acc_float);
	ck_assert(ra.test_acc_mode == ra.test_acc_float);
	ck_assert(ra.best_epoch >= 1 && ra.best_epoch <= 8);
	/* deterministic: a second run gives the same weights bit for bit */
	ck_assert_int_eq(xb_train_run(cfg, XB_TRAIN_FLOAT, NULL, &b, &rb, &err), XB_OK);
	assert_same_weights(a, b);
	ck_assert(ra.test_acc_float == rb.test_acc_float);
	xb_nn_net_free(a);
	xb_nn_net_free(b);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_ideal_and_noisy)
{
	xb_config *cfg = tiny_config();
	xb_nn_net *net = NULL;
	xb_train_result r;
	xb_err err;

	/* hardware-aware against the ideal accumulator: quantized fine-tuning */
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_epochs", "2", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_IDEAL, NULL, &net, &r, &err) == XB_OK, "%s",
		      err.msg);
	ck_assert(xb_nn_net_quantized(net));
	/* 8 float + 2 fine-tuning epochs in the record */
	size_t nrec;
	xb_nn_net_record(net, &nrec, NULL);
	ck_assert_uint_eq(nrec, 10);
	/* 5-bit inputs and 6-bit weights of a separable problem: still (nearly) all right */
	ck_assert_msg(r.test_acc_mode >= 0.9, "quantized test accuracy %g", r.test_acc_mode);
	ck_assert(r.seconds_finetune > 0);
	xb_nn_net_free(net);

	/* noise-aware: strong multiplicative and additive noise still trains */
	ck_assert_int_eq(xb_config_set(cfg, "train.against", "noisy", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_add", "0.05", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_mul", "0.1", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "1", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.record_time", "false", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, -1, NULL, &net, &r, &err) == XB_OK, "%s", err.msg);
	ck_assert_msg(r.test_acc_float >= 0.9, "noisy-trained clean accuracy %g", r.test_acc_float);
	ck_assert(r.test_acc_mode >= 0.8);
	const xb_nn_epoch *rec = xb_nn_net_record(net, &nrec, NULL);
	ck_assert_uint_eq(nrec, 8);
	for (size_t i = 0; i < nrec; i++)
		ck_assert(rec[i].seconds == 0.0);   /* train.record_time = false */
	xb_nn_net_free(net);

	/* additive noise in units of the std of the outputs, at the last layer only (3),
	 * as doc/walk.md's comparison trains: the bands stay separable */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_scale", "std", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_add", "0.3", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_mul", "0", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "3", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, -1, NULL, &net, &r, &err) == XB_OK, "%s", err.msg);
	ck_assert_msg(r.test_acc_float >= 0.9, "std-noise clean accuracy %g", r.test_acc_float);
	xb_nn_net_free(net);

	/* the same at the outputs of the requant (2, not analog) and the last layer (3):
	 * trains, and the test figure with the noise differs from the clean one (60 test
	 * samples, 3 x 0.3 std at the logits: observed 0.933 = 56/60 against 1) */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_at", "output", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "2,3", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_factors", "1,3", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, -1, NULL, &net, &r, &err) == XB_OK, "%s", err.msg);
	ck_assert_msg(r.test_acc_float >= 0.9, "output-noise clean accuracy %g", r.test_acc_float);
	ck_assert_msg(r.test_acc_mode < r.test_acc_float, "noisy %g, clean %g", r.test_acc_mode,
		      r.test_acc_float);
	/* deterministic: the same weights bit for bit from a second run */
	xb_nn_net *again = NULL;
	xb_train_result r2;
	ck_assert_msg(xb_train_run(cfg, -1, NULL, &again, &r2, &err) == XB_OK, "%s", err.msg);
	assert_same_weights(net, again);
	ck_assert(r.test_acc_mode == r2.test_acc_mode);
	xb_nn_net_free(again);
	xb_nn_net_free(net);
	xb_config_free(cfg);
}
END_TEST

/* The noisy backend's unit of additive noise (train.noise_scale) on a hand-made call:
 * dense layer of 2 outputs, 1 input, w = (1, 3), 4 vectors x = 1, 2, 3, 4, so
 * y = (1, 3, 2, 6, 3, 9, 4, 12): max |y| = 12; mean 5, squared deviations 16 4 9 1 4 16
 * 1 49 sum to 100, population std sqrt(100 / 8) = sqrt(12.5) = 3.5355339.  The same seed
 * and call number give the same normals n_i, so y' - y = 12 a n_i ("max") and
 * sqrt(12.5) a n_i ("std"): their ratio is sqrt(12.5) / 12 = 0.29462783 element by element. */
static void noisy_call(xb_train_noise *nz, const xb_nn_layer *l, const float *w,
		       const float *x, float *y)
{
	xb_nn_backend b = xb_train_noise_backend(nz);
	xb_nn_mvm op = { l, 2, 1, w, NULL, 1, 1 };
	xb_err err;
	nz->calls = 0;   /* the same call number: the same normals */
	ck_assert_msg(b.type->mvm_float(b.state, &op, 4, x, y, &err) == XB_OK, "%s", err.msg);
}

START_TEST(test_noise_scale)
{
	xb_err err;
	xb_nn_net *net = xb_nn_net_from_spec("input 1x1x1\nflatten\ndense out=2\n", 1, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	const xb_nn_layer *l = xb_nn_net_layer(net, 1);
	const float w[2] = { 1.0f, 3.0f }, x[4] = { 1.0f, 2.0f, 3.0f, 4.0f };
	const float clean[8] = { 1, 3, 2, 6, 3, 9, 4, 12 };
	float ym[8], ys[8], yo[8];
	xb_train_noise nz;

	memset(&nz, 0, sizeof nz);
	nz.seed = 7;
	nz.add = 0.5;
	nz.enabled = 1;
	noisy_call(&nz, l, w, x, ym);              /* add_std = 0: max |y| */
	nz.add_std = 1;
	noisy_call(&nz, l, w, x, ys);
	double nsum = 0.0;
	for (int i = 0; i < 8; i++) {
		double dm = ym[i] - clean[i], ds = ys[i] - clean[i];
		nsum += fabs(dm);
		/* float outputs up to 12 + 6 |n|: rounding about 1e-6 */
		ck_assert_msg(fabs(ds - dm * 0.29462783) < 1e-5, "element %d: %g vs %g", i, ds,
			      dm * 0.29462783);
	}
	ck_assert(nsum > 0.5);                     /* 8 draws of 6 |n|: noise was added */

	/* multiplicative noise does not depend on the unit: y (1 + m n1) either way */
	nz.add = 0.0;
	nz.mul = 0.2;
	nz.add_std = 0;
	noisy_call(&nz, l, w, x, ym);
	nz.add_std = 1;
	noisy_call(&nz, l, w, x, ys);
	for (int i = 0; i < 8; i++)
		ck_assert(ym[i] == ys[i]);

	/* a layer not chosen (train.noise_layers = 3 only) gets the clean y */
	const int only[1] = { 3 };
	nz.layers = only;
	nz.nlayers = 1;
	noisy_call(&nz, l, w, x, yo);
	for (int i = 0; i < 8; i++)
		ck_assert(yo[i] == clean[i]);

	/* train.noise_factors: layer 1 at factor 2 gets twice the deviation of factor 1
	 * (the same normals; y' - y = f (y m n1 + a A n2) is linear in f) */
	const int one[1] = { 1 };
	const double f1[1] = { 1.0 }, f2[1] = { 2.0 };
	nz.layers = one;
	nz.add = 0.5;
	nz.factors = f1;
	noisy_call(&nz, l, w, x, ym);
	nz.factors = f2;
	noisy_call(&nz, l, w, x, ys);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(fabs((ys[i] - clean[i]) - 2.0 * (ym[i] - clean[i])) < 1e-5,
			      "element %d: %g vs 2 x %g", i, ys[i] - clean[i], ym[i] - clean[i]);

	/* the tap (train.noise_at = output) draws the same noise as the backend for the
	 * same layer and call, and passes the gradient straight through (D = 1); the
	 * backend then adds none itself */
	float yt[8], d[8];
	nz.mul = 0.2;
	nz.add = 0.0;
	noisy_call(&nz, l, w, x, ym);
	nz.calls = 0;
	memcpy(yt, clean, sizeof yt);
	ck_assert_int_eq(xb_train_noise_tap(&nz, 1, 4, 2, yt, d, &err), XB_OK);
	for (int i = 0; i < 8; i++)
		ck_assert(yt[i] == ym[i] && yt[i] != clean[i] && d[i] == 1.0f);
	nz.at_output = 1;
	noisy_call(&nz, l, w, x, ym);
	for (int i = 0; i < 8; i++)
		ck_assert(ym[i] == clean[i]);
	/* switched off (clean evaluation): unchanged, D = 1 */
	nz.enabled = 0;
	memcpy(yt, clean, sizeof yt);
	ck_assert_int_eq(xb_train_noise_tap(&nz, 1, 4, 2, yt, d, &err), XB_OK);
	for (int i = 0; i < 8; i++)
		ck_assert(yt[i] == clean[i] && d[i] == 1.0f);
	xb_nn_net_free(net);
}
END_TEST

/* Gradients (every parameter, then dL/dx) and logits of the kws-cnn network on 16
 * fixed samples, one training step with the noise tap of train.noise_at = output on
 * the input (-1), the first conv (0) and its requant (1), at THREADS OpenMP/OpenBLAS
 * threads; ENABLED 0 switches the noise off. */
static float *tap_grads(int threads, int enabled, size_t *total)
{
	xb_err err;
	xb_nn_net *net = xb_nn_net_from_spec(xb_nn_arch("kws-cnn"), 1, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	const size_t n = 16, isz = 490;
	const int at[3] = { -1, 0, 1 };
	float *x = malloc(n * isz * sizeof *x), logits[16 * 12];
	int32_t lab[16];
	uint32_t v = 12345;
	xb_train_noise nz;

	for (size_t i = 0; i < n * isz; i++) {
		v = v * 1664525u + 1013904223u;
		x[i] = (float)((v >> 8) * (4.0 / 16777216.0) - 2.0);
	}
	for (size_t i = 0; i < n; i++)
		lab[i] = (int32_t)(i % 12);
	memset(&nz, 0, sizeof nz);
	nz.seed = 5;
	nz.add = 0.1;
	nz.add_std = 1;
	nz.mul = 0.1;
	nz.layers = at;
	nz.nlayers = 3;
	nz.at_output = 1;
	nz.enabled = enabled;
	ck_assert_int_eq(xb_nn_net_set_tap(net, at, 3, xb_train_noise_tap, &nz), XB_OK);
	float *g = xb_test_step_grads(net, n, x, lab, 12, threads, logits, total);
	/* the logits after the gradients */
	ck_assert_ptr_nonnull(g = realloc(g, (*total + n * 12) * sizeof *g));
	memcpy(g + *total, logits, sizeof logits);
	*total += n * 12;
	free(x);
	xb_nn_net_free(net);
	return g;
}

/* The noise at the outputs does not depend on the thread count: bit for bit with 1 and
 * 2 threads (check_nn's test_threads_bitwise: the second conv's sgemm is split over
 * threads), and it is there (the logits differ from the noise-free ones). */
START_TEST(test_noise_tap_threads)
{
	size_t n1, n2, n0;
	float *g1 = tap_grads(1, 1, &n1), *g2 = tap_grads(2, 1, &n2), *g0 = tap_grads(2, 0, &n0);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(g1, g2, n1 * sizeof(float)) == 0);
	int differ = 0;
	for (size_t i = n1 - 16 * 12; i < n1; i++)
		differ += g1[i] != g0[i];
	ck_assert_int_gt(differ, 16 * 12 / 2);
	free(g0);
	free(g1);
	free(g2);
}
END_TEST

/* Constant outputs have std 0: no additive noise in "std" units, but full noise in "max"
 * units (max |y| = 2 for w = (2, 2), x = 1).  Also the key's words through the config. */
START_TEST(test_noise_scale_limits)
{
	xb_err err;
	xb_nn_net *net = xb_nn_net_from_spec("input 1x1x1\nflatten\ndense out=2\n", 1, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	const float w[2] = { 2.0f, 2.0f }, x[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
	float y[8];
	xb_train_noise nz;

	memset(&nz, 0, sizeof nz);
	nz.seed = 7;
	nz.add = 0.5;
	nz.add_std = 1;
	nz.enabled = 1;
	noisy_call(&nz, xb_nn_net_layer(net, 1), w, x, y);
	for (int i = 0; i < 8; i++)
		ck_assert(y[i] == 2.0f);
	nz.add_std = 0;
	noisy_call(&nz, xb_nn_net_layer(net, 1), w, x, y);
	int moved = 0;
	for (int i = 0; i < 8; i++)
		moved += y[i] != 2.0f;
	ck_assert_int_eq(moved, 8);
	xb_nn_net_free(net);

	xb_config *cfg = tiny_config();
	ck_assert_int_eq(xb_config_enum(cfg, "train.noise_scale"), 0);   /* default "max" */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_scale", "std", "t"), XB_OK);
	ck_assert_int_eq(xb_config_enum(cfg, "train.noise_scale"), 1);
	ck_assert_int_ne(xb_config_set(cfg, "train.noise_scale", "rms", "t"), XB_OK);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_batchnorm_folded)
{
	xb_config *cfg = tiny_config();
	xb_nn_net *net = NULL;
	xb_train_result r;
	xb_err err;

	/* a batch norm before the requant while training, folded before returning: the
	 * network has the 4 layers of TINY_ARCH (flatten, dense, requant,
	 * dense) and no batch norm */
	ck_assert_int_eq(xb_config_set(cfg, "train.batchnorm", "true", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, -1, NULL, &net, &r, &err) == XB_OK, "%s", err.msg);
	ck_assert_int_eq(xb_nn_net_nlayers(net), 4);
	for (int i = 0; i < xb_nn_net_nlayers(net); i++)
		ck_assert_str_ne(xb_nn_net_layer(net, i)->type->name, "batchnorm");
	/* 483 weights as without batch norm plus its gamma and beta (2 x 12) */
	ck_assert_uint_eq(r.nparams, 483 + 24);
	ck_assert_msg(r.test_acc_float >= 0.95, "test accuracy %g", r.test_acc_float);
	xb_nn_net_free(net);
	xb_config_free(cfg);
}
END_TEST

/* xb_nn_softmax_distill against values worked by hand and against finite differences. */
START_TEST(test_distill_loss)
{
	/* one sample, two classes, student logits (0, 0): softmax (1/2, 1/2) at any T */
	const float z[2] = { 0.0f, 0.0f };
	/* teacher (ln 3, 0): softmax (3/4, 1/4) at T = 1 */
	const float t[2] = { (float)log(3.0), 0.0f };
	const int32_t l0 = 0, l1 = 1;
	float d[2], dx[2];
	size_t c = 9;

	/* A = 1, T = 1: KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.1308120359; dL/dz = p_s - p_t =
	 * (1/2 - 3/4, 1/2 - 1/4) */
	double L = xb_nn_softmax_distill(z, t, &l0, 1, 2, 1.0, 1.0, d, &c);
	ck_assert_double_eq_tol(L, 0.1308120359, 1e-7);
	ck_assert_float_eq_tol(d[0], -0.25f, 1e-6f);
	ck_assert_float_eq_tol(d[1], 0.25f, 1e-6f);
	ck_assert_uint_eq(c, 1);   /* argmax (0, 0) is class 0 (first of a tie) = label */
	/* A = 1, T = 2: teacher softmax(t / 2) = (sqrt3, 1) / (sqrt3 + 1) = (0.6339745962,
	 * 0.3660254038); L = 4 KL = 4 (a ln 2a + b ln 2b) = 0.1453631315; dL/dz = T (p_s - p_t)
	 * = 2 (1/2 - a) = -0.2679491924 and +0.2679491924 */
	L = xb_nn_softmax_distill(z, t, &l0, 1, 2, 1.0, 2.0, d, NULL);
	ck_assert_double_eq_tol(L, 0.1453631315, 1e-7);
	ck_assert_float_eq_tol(d[0], -0.2679491924f, 1e-6f);
	ck_assert_float_eq_tol(d[1], 0.2679491924f, 1e-6f);
	/* A = 1/2, T = 2, label 1: L = ln 2 / 2 + 0.1453631315 / 2 = 0.4192551560;
	 * dL/dz = (1/2 (1/2, -1/2) + 1/2 (-0.2679491924, 0.2679491924)) = (0.1160254038,
	 * -0.1160254038) */
	L = xb_nn_softmax_distill(z, t, &l1, 1, 2, 0.5, 2.0, d, &c);
	ck_assert_double_eq_tol(L, 0.4192551560, 1e-7);
	ck_assert_float_eq_tol(d[0], 0.1160254038f, 1e-6f);
	ck_assert_float_eq_tol(d[1], -0.1160254038f, 1e-6f);
	ck_assert_uint_eq(c, 0);
	/* A = 0 is the cross-entropy bit for bit */
	L = xb_nn_softmax_distill(t, z, &l1, 1, 2, 0.0, 3.0, d, NULL);
	ck_assert(L == xb_nn_softmax_xent(t, &l1, 1, 2, dx, NULL));
	ck_assert(d[0] == dx[0] && d[1] == dx[1]);
	/* a teacher equal to the student: KL 0 and no soft gradient */
	L = xb_nn_softmax_distill(t, t, &l0, 1, 2, 1.0, 4.0, d, NULL);
	ck_assert_double_eq_tol(L, 0.0, 1e-12);
	ck_assert_float_eq_tol(d[0], 0.0f, 1e-7f);

	/* 3 samples x 5 classes of fixed logits: the gradient (of the mean) against central
	 * differences of the loss, step 1e-3 on float logits (error O(h^2) + rounding 1e-6 / h) */
	float zz[15], tt[15], g[15];
	const int32_t lab[3] = { 4, 0, 2 };
	for (int i = 0; i < 15; i++) {
		zz[i] = (float)sin(1.7 * i + 0.3) * 2.0f;
		tt[i] = (float)cos(0.9 * i) * 3.0f;
	}
	xb_nn_softmax_distill(zz, tt, lab, 3, 5, 0.7, 3.0, g, NULL);
	for (int i = 0; i < 15; i++) {
		float keep = zz[i];
		zz[i] = keep + 1e-3f;
		double up = xb_nn_softmax_distill(zz, tt, lab, 3, 5, 0.7, 3.0, NULL, NULL);
		zz[i] = keep - 1e-3f;
		double dn = xb_nn_softmax_distill(zz, tt, lab, 3, 5, 0.7, 3.0, NULL, NULL);
		zz[i] = keep;
		double fd = (up - dn) / (double)((keep + 1e-3f) - (keep - 1e-3f));
		ck_assert_msg(fabs(fd - g[i]) < 2e-3 * (1.0 + fabs(fd)), "logit %d: %g vs %g", i,
			      fd, (double)g[i]);
	}
}
END_TEST

/* Hardware-aware fine-tuning with the float network as teacher (train.ft_distill). */
START_TEST(test_distill_train)
{
	xb_config *cfg = tiny_config();
	xb_nn_net *a = NULL, *b = NULL, *c = NULL;
	xb_train_result ra, rb, rc;
	xb_err err;

	ck_assert_int_eq(xb_config_set(cfg, "train.ft_epochs", "2", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_IDEAL, NULL, &a, &ra, &err) == XB_OK, "%s",
		      err.msg);
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_distill", "0.5", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_temperature", "3", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_IDEAL, NULL, &b, &rb, &err) == XB_OK, "%s",
		      err.msg);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_IDEAL, NULL, &c, &rc, &err) == XB_OK, "%s",
		      err.msg);
	size_t na, nb;
	float *wa = all_weights(a, &na), *wb = all_weights(b, &nb);
	ck_assert_uint_eq(na, nb);
	/* the same float epochs (test_acc_pre equal), then another loss: other weights */
	ck_assert(ra.test_acc_pre == rb.test_acc_pre);
	ck_assert_int_ne(memcmp(wa, wb, na * sizeof *wa), 0);
	/* deterministic for the seed */
	assert_same_weights(b, c);
	/* as test_ideal_and_noisy: a separable problem stays (nearly) all right */
	ck_assert_msg(rb.test_acc_mode >= 0.9, "distilled quantized accuracy %g", rb.test_acc_mode);
	/* 8 float + 2 fine-tuning epochs: the teacher adds none */
	size_t nrec;
	xb_nn_net_record(b, &nrec, NULL);
	ck_assert_uint_eq(nrec, 10);
	free(wa);
	free(wb);
	xb_nn_net_free(a);
	xb_nn_net_free(b);
	xb_nn_net_free(c);
	xb_config_free(cfg);
}
END_TEST

/* Fine-tuning against the hx tiles (ordered) with and without the offsets recalibrated
 * every epoch (train.ft_recalibrate). */
START_TEST(test_recalibrate)
{
	xb_config *cfg = tiny_config();
	xb_nn_net *a = NULL, *b = NULL;
	xb_train_result ra, rb;
	xb_err err;

	if (!xb_train_have_device()) {
		xb_config_free(cfg);
		return;
	}
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_epochs", "2", "test"), XB_OK);
	/* a large step, so that the weights (and their offsets) move within one epoch */
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_lr", "0.01", "test"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_recalibrate", "false", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_ORDERED, NULL, &a, &ra, &err) == XB_OK, "%s",
		      err.msg);
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_recalibrate", "true", "test"), XB_OK);
	ck_assert_msg(xb_train_run(cfg, XB_TRAIN_ORDERED, NULL, &b, &rb, &err) == XB_OK, "%s",
		      err.msg);
	/* the first fine-tuning epoch (the 9th) trains against the same corrections, those
	 * measured before fine-tuning, but is validated against new ones with
	 * recalibration: another validation loss */
	size_t na, nb;
	const xb_nn_epoch *ea = xb_nn_net_record(a, &na, NULL), *eb = xb_nn_net_record(b, &nb, NULL);
	ck_assert_uint_eq(na, 10);
	ck_assert_uint_eq(nb, 10);
	ck_assert(ea[7].val_loss == eb[7].val_loss);   /* the float epochs are the same */
	ck_assert_msg(ea[8].val_loss != eb[8].val_loss, "%g", ea[8].val_loss);
	/* the separable bands stay separable through the tiles (observed 1.0 both ways) */
	ck_assert_msg(ra.test_acc_mode >= 0.9 && rb.test_acc_mode >= 0.9, "%g %g",
		      ra.test_acc_mode, rb.test_acc_mode);
	xb_nn_net_free(a);
	xb_nn_net_free(b);
	xb_config_free(cfg);
}
END_TEST

static xb_status refuse_mvm(void *state, const xb_nn_mvm *op, size_t n, const float *x,
			    float *y, xb_err *err)
{
	(void)state;
	(void)op;
	(void)n;
	(void)x;
	(void)y;
	return xb_raise(err, XB_EIO, "test backend refuses");
}

/* xb_nn_train's checks of the distillation parameters and a failing teacher. */
START_TEST(test_distill_errors)
{
	static const xb_nn_backend_type refuse = { "refuse", refuse_mvm, NULL };
	float x[6 * 36];
	int32_t lab[6];
	xb_err err;
	for (int i = 0; i < 6 * 36; i++)
		x[i] = (float)(i % 7) * 0.1f;
	for (int i = 0; i < 6; i++)
		lab[i] = i % 3;
	xb_nn_data d = { 6, x, lab };
	xb_nn_net *net = xb_nn_net_from_spec(TINY_ARCH, 1, &err);
	xb_nn_net *t4 = xb_nn_net_from_spec("input 6x6x1; flatten; dense out=4", 1, &err);
	xb_nn_net *t3 = xb_nn_net_from_spec(TINY_ARCH, 2, &err);
	ck_assert(net && t4 && t3);
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 1;
	ck_assert(p.teacher == NULL && p.distill == 0.0 && p.temperature == 1.0);
	p.teacher = t4;
	p.distill = 0.5;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	ck_assert_msg(strstr(xb_nn_net_errmsg(net), "36 inputs and 3 outputs"), "%s",
		      xb_nn_net_errmsg(net));
	p.teacher = net;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	p.teacher = t3;
	p.distill = 1.5;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	ck_assert_msg(strstr(xb_nn_net_errmsg(net), "weight 1.5"), "%s", xb_nn_net_errmsg(net));
	p.distill = 0.5;
	p.temperature = 0.0;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	p.temperature = 2.0;
	xb_nn_backend be = xb_nn_backend_float();
	be.type = &refuse;
	xb_nn_net_set_backend(t3, &be);
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EIO);
	ck_assert_msg(strstr(xb_nn_net_errmsg(net), "the teacher network: ") &&
		      strstr(xb_nn_net_errmsg(net), "test backend refuses"), "%s",
		      xb_nn_net_errmsg(net));
	xb_nn_net_set_backend(t3, NULL);
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_OK);
	xb_nn_net_free(net);
	xb_nn_net_free(t4);
	xb_nn_net_free(t3);

	/* the keys refuse values outside their ranges at set time */
	xb_config *cfg = tiny_config();
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_distill", "1.5", "x.ini:3"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "train.ft_temperature", "0", "x.ini:4"), XB_ECONFIG);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_modes_and_paths)
{
	char buf[512];
	xb_err err;

	ck_assert_int_eq(xb_train_mode_parse("ordered"), XB_TRAIN_ORDERED);
	ck_assert_int_eq(xb_train_mode_parse("noisy"), XB_TRAIN_NOISY);
	ck_assert_int_eq(xb_train_mode_parse("exact"), -1);
	ck_assert_int_eq(xb_train_mode_parse(NULL), -1);
	ck_assert_str_eq(xb_train_mode_name(XB_TRAIN_UNORDERED), "unordered");
	ck_assert_str_eq(xb_train_mode_name((xb_train_mode)9), "?");
	ck_assert_int_eq(xb_train_model_path(data_path, buf, sizeof buf, &err), XB_OK);
	ck_assert_str_eq(buf, data_path);
	ck_assert_int_eq(xb_train_model_path("no-such-model", buf, sizeof buf, &err), XB_ENOENT);
	ck_assert_msg(strstr(err.msg, "no-such-model.h5") && strstr(err.msg, "workloads/models"),
		      "%s", err.msg);
	ck_assert_int_eq(xb_train_model_path("", buf, sizeof buf, &err), XB_EINVAL);
}
END_TEST

/* Run CFG expecting failure CODE with NEEDLE in the message. */
static void expect_fail(xb_config *cfg, int mode, xb_status code, const char *needle)
{
	xb_nn_net *net = (xb_nn_net *)1;
	xb_train_result r;
	xb_err err;
	xb_err_clear(&err);
	ck_assert_int_eq(xb_train_run(cfg, mode, NULL, &net, &r, &err), code);
	ck_assert_ptr_null(net);
	ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in '%s'", needle, err.msg);
}

START_TEST(test_config_errors)
{
	xb_config *cfg = tiny_config();

	/* unknown key: the registry suggests the nearest */
	ck_assert_int_eq(xb_config_set(cfg, "train.epoch", "3", "x.ini:4"), XB_ECONFIG);
	ck_assert_msg(strstr(xb_config_errmsg(cfg), "train.epochs") != NULL, "%s",
		      xb_config_errmsg(cfg));
	/* bad values are refused at set time */
	ck_assert_int_eq(xb_config_set(cfg, "train.batch", "0", "x.ini:5"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "train.against", "exact", "x.ini:6"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "train.lr", "fast", "x.ini:7"), XB_ECONFIG);

	ck_assert_int_eq(xb_config_set(cfg, "train.arch", "resnet50", "x.ini:8"), XB_OK);
	expect_fail(cfg, -1, XB_ECONFIG, "train.arch = resnet50: unknown architecture");
	ck_assert_int_eq(xb_config_set(cfg, "train.arch", "input 6x6x1; dense out=3; foo",
				       "x.ini:8"), XB_OK);
	expect_fail(cfg, -1, XB_ECONFIG, "train.arch");
	/* a stock network that does not fit the data */
	ck_assert_int_eq(xb_config_set(cfg, "train.arch", "lenet5", "x.ini:8"), XB_OK);
	expect_fail(cfg, -1, XB_ECONFIG, "28x28x1 samples into 10 classes, but train.data "
		    "holds 6x6x1 samples of 3 classes");
	ck_assert_int_eq(xb_config_set(cfg, "train.arch", TINY_ARCH, "x.ini:8"), XB_OK);
	/* missing data */
	ck_assert_int_eq(xb_config_set(cfg, "train.data", "/nonexistent/d.h5", "x.ini:9"), XB_OK);
	expect_fail(cfg, -1, XB_ENOENT, "train.data");
	ck_assert_int_eq(xb_config_set(cfg, "train.data", data_path, "x.ini:9"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.init", "/nonexistent/m.h5", "x.ini:10"), XB_OK);
	expect_fail(cfg, -1, XB_ENOENT, "train.init");
	ck_assert_int_eq(xb_config_set(cfg, "train.init", "", "x.ini:10"), XB_OK);
	/* noise on a layer that is not analog (2 is the requant) */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "2", "x.ini:11"), XB_OK);
	expect_fail(cfg, XB_TRAIN_NOISY, XB_ECONFIG, "train.noise_layers: 2");
	/* at the layers' outputs any layer will do, but 4 is past the last (3) */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_at", "output", "x.ini:13"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "2,4", "x.ini:11"), XB_OK);
	expect_fail(cfg, XB_TRAIN_NOISY, XB_ECONFIG,
		    "train.noise_layers: 4 is not the index of a layer of the network (-1 = the "
		    "input, 0 .. 3)");
	ck_assert_int_ne(xb_config_set(cfg, "train.noise_at", "input", "x.ini:13"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_at", "mvm", "x.ini:13"), XB_OK);
	/* the input (-1) only at the outputs */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "-1", "x.ini:11"), XB_OK);
	expect_fail(cfg, XB_TRAIN_NOISY, XB_ECONFIG,
		    "train.noise_layers: -1 is not the index of an analog layer of the network "
		    "(0 .. 3)");
	ck_assert_int_ne(xb_config_set(cfg, "train.noise_layers", "-2", "x.ini:11"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "", "x.ini:11"), XB_OK);
	/* train.noise_factors needs one factor per listed layer: 2 given for 1 */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "1", "x.ini:11"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_factors", "1,3", "x.ini:12"), XB_OK);
	expect_fail(cfg, XB_TRAIN_NOISY, XB_ECONFIG,
		    "train.noise_factors: 2 factors for the 1 layers of train.noise_layers");
	/* factors without listed layers (every analog layer): 1 given for 0 */
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "", "x.ini:11"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_factors", "2", "x.ini:12"), XB_OK);
	expect_fail(cfg, XB_TRAIN_NOISY, XB_ECONFIG, "train.noise_factors: 1 factors for the 0");
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_factors", "", "x.ini:12"), XB_OK);
	/* validation file with another sample shape */
	ck_assert_int_eq(xb_config_set(cfg, "train.val_data", "/nonexistent/v.h5", "x.ini:12"),
			 XB_OK);
	expect_fail(cfg, -1, XB_ENOENT, "train.val_data");
	ck_assert_int_eq(xb_config_set(cfg, "train.val_data", "", "x.ini:12"), XB_OK);
	if (!xb_train_have_device())
		expect_fail(cfg, XB_TRAIN_ORDERED, XB_EUNSUPPORTED, "no device backend");
	expect_fail(cfg, 7, XB_EINVAL, "expected 0..4");
	xb_config_free(cfg);
}
END_TEST

static Suite *train_suite(void)
{
	Suite *s = suite_create("train");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_unchecked_fixture(core, make_tiny_data, remove_tiny_data);
	tcase_add_unchecked_fixture(limits, make_tiny_data, remove_tiny_data);
	tcase_add_test(core, test_float_tiny);
	tcase_add_test(core, test_ideal_and_noisy);
	tcase_add_test(core, test_batchnorm_folded);
	tcase_add_test(core, test_noise_scale);
	tcase_add_test(core, test_noise_tap_threads);
	tcase_add_test(core, test_distill_loss);
	tcase_add_test(core, test_distill_train);
	tcase_add_test(core, test_recalibrate);
	tcase_add_test(limits, test_distill_errors);
	tcase_add_test(limits, test_modes_and_paths);
	tcase_add_test(limits, test_config_errors);
	tcase_add_test(limits, test_noise_scale_limits);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(train_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
