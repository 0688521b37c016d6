/* check_train.c - tests of the training pipeline (workloads/xb_train.h) behind `xbarsim train`.
 * A tiny synthetic data set trained through xb_train_run, configuration errors, the noisy mode.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <check.h>

#include "xb_data.h"
#include "xb_nn.h"
#include "xb_sim.h"
#include "xb_train.h"

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
	size_t na, nb;
	float *wa = all_weights(a, &na), *wb = all_weights(b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_int_eq(memcmp(wa, wb, na * sizeof *wa), 0);
	ck_assert(ra.test_acc_float == rb.test_acc_float);
	free(wa);
	free(wb);
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
	ck_assert_int_eq(xb_config_set(cfg, "train.noise_layers", "", "x.ini:11"), XB_OK);
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
	tcase_add_test(limits, test_modes_and_paths);
	tcase_add_test(limits, test_config_errors);
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
