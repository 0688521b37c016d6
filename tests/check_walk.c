/* check_walk.c - tests of walking noise: closed-form midpoints, determinism, the walk file, errors.
 * Unit tests of xb_walk.h (Check).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_walk.h"
#include "xb_device_nn.h"
#include "xb_traces.h"

#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Phi^-1(0.75), the upper quartile of N(0, 1) (R: qnorm(0.75) = 0.6744897501960817). */
#define Z75 0.6744897501960817
#define MU 1.2   /* class means +-MU of the line data */

/* The line network: input 1x1x1, dense out=2 with W = [-1, +1]^T, b = 0: logits
 * (-x, x), so class 1 is chosen iff x > 0. */
static xb_nn_net *line_net(void)
{
	xb_err err = { 0 };
	xb_nn_shape in = { 1, 1, 1 };
	xb_nn_net *net = xb_nn_net_new(in, &err);
	ck_assert_ptr_nonnull(net);
	ck_assert_int_eq(xb_nn_net_add(net, "dense", "out=2"), XB_OK);
	xb_nn_layer *l = xb_nn_net_layer_mut(net, 0);
	l->t[0][0] = -1.0f;
	l->t[0][1] = 1.0f;
	l->t[1][0] = l->t[1][1] = 0.0f;
	xb_nn_layer_touch(l);
	return net;
}

/* N samples alternating x = -MU (label 0) and x = +MU (label 1). */
static void line_data(size_t n, float **x, int32_t **label, xb_nn_data *d)
{
	*x = malloc(n * sizeof **x);
	*label = malloc(n * sizeof **label);
	ck_assert(*x && *label);
	for (size_t i = 0; i < n; i++) {
		(*label)[i] = (int32_t)(i & 1);
		(*x)[i] = (i & 1) ? (float)MU : (float)-MU;
	}
	d->n = n;
	d->x = *x;
	d->label = *label;
}

static xb_walk_params line_params(void)
{
	xb_walk_params p = xb_walk_default_params();
	p.nlevels = 40;
	p.level_min = 0.1;
	p.level_max = 30.0;
	p.repeats = 5;
	p.samples = 0;
	p.normalise = 0;
	p.bootstrap = 200;
	return p;
}

/* Expected midpoints of the line network (clean accuracy 1, chance 1/2, target 3/4):
 *  input, additive:  x' = x + s n, right iff x' has x's sign: acc = Phi(MU / s),
 *                    acc = 3/4 at s = MU / Z75 = 1.779124;
 *  output, additive: y1' - y0' = 2x + s (n1 - n0), n1 - n0 ~ N(0, 2):
 *                    acc = Phi(sqrt(2) MU / s), s = sqrt(2) MU / Z75 = 2.516053;
 *  input, multiplicative: x' = x (1 + s n), right iff 1 + s n > 0: acc = Phi(1 / s),
 *                    s = 1 / Z75 = 1.482602 (independent of MU);
 *  global additive:  y1' - y0' = 2 (x + s n) + s (n1 - n0), variance 6 s^2:
 *                    acc = Phi(2 MU / (sqrt(6) s)), s = 2 MU / (sqrt(6) Z75) = 1.452649.
 * Tolerance 3 %: 20,000 samples x 5 repeats give an accuracy error of
 * sqrt(3/16 / 1e5) = 0.0014 at the midpoint, where d acc / d ln s = -phi(Z75) Z75 =
 * -0.2145, i.e. 0.64 % in s (4.7 sigma); the log-linear interpolation between levels
 * 16 % apart adds < 0.2 %. */
START_TEST(test_line_additive)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = line_net();
	int saved = omp_get_max_threads();
	omp_set_num_threads(1);   /* tiny layers: threads only add barriers */
	line_data(20000, &x, &lab, &d);
	xb_walk_params p = line_params();
	xb_walk_result *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	ck_assert_uint_eq(r->nsites, 2);
	ck_assert_str_eq(r->name[0], "input");
	ck_assert_str_eq(r->name[1], "1.dense");
	ck_assert_double_eq_tol(r->clean_accuracy, 1.0, 1e-12);
	ck_assert_double_eq_tol(r->chance_accuracy, 0.5, 1e-12);
	double want0 = MU / Z75, want1 = sqrt(2.0) * MU / Z75;
	ck_assert_double_eq_tol(r->midpoint[0], want0, 0.03 * want0);
	ck_assert_double_eq_tol(r->midpoint[1], want1, 0.03 * want1);
	for (size_t s = 0; s < 2; s++) {
		ck_assert(r->midpoint_lo[s] <= r->midpoint[s] + 1e-12);
		ck_assert(r->midpoint_hi[s] >= r->midpoint[s] - 1e-12);
		ck_assert(r->midpoint_hi[s] - r->midpoint_lo[s] < 0.05 * r->midpoint[s]);
	}
	/* accuracy at the lowest level 0.1: Phi(12) = 1 to 1e-30 at the input */
	ck_assert_double_eq_tol(r->acc_mean[0], 1.0, 1e-12);
	xb_walk_result_free(r);

	p.noise = XB_WALK_MULTIPLICATIVE;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	ck_assert_double_eq_tol(r->midpoint[0], 1.0 / Z75, 0.03 / Z75);
	xb_walk_result_free(r);

	p.noise = XB_WALK_ADDITIVE;
	p.mode = XB_WALK_GLOBAL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	ck_assert_uint_eq(r->nsites, 1);
	ck_assert_str_eq(r->name[0], "global");
	double wantg = 2.0 * MU / (sqrt(6.0) * Z75);
	ck_assert_double_eq_tol(r->midpoint[0], wantg, 0.03 * wantg);
	xb_walk_result_free(r);

	/* combined with r = 1 is additive: the same normals n_a, so the same curves */
	xb_walk_result *ra = NULL, *rc = NULL;
	p.mode = XB_WALK_WALKING;
	p.samples = 2000;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &ra, &err), XB_OK);
	p.noise = XB_WALK_COMBINED;
	p.ratio = 1.0;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &rc, &err), XB_OK);
	ck_assert_mem_eq(ra->acc, rc->acc, 2 * 5 * 40 * sizeof(double));
	xb_walk_result_free(ra);
	xb_walk_result_free(rc);
	omp_set_num_threads(saved);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

/* Network SPEC (weights from SEED) on N inputs of 6x6 drawn by an LCG from SEED_X in
 * [LO, LO + 2 HALF); labels are the clean network's own answers over its 3 outputs. */
static xb_nn_net *labelled_net(const char *spec, uint64_t seed, uint32_t seed_x, double lo,
			       double half, float **x, int32_t **label, xb_nn_data *d, size_t n)
{
	xb_err err = { 0 };
	xb_nn_net *net = xb_nn_net_from_spec(spec, seed, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	*x = malloc(n * 36 * sizeof **x);
	*label = malloc(n * sizeof **label);
	float *y = malloc(n * 3 * sizeof *y);
	ck_assert(*x && *label && y);
	uint32_t s = seed_x;
	for (size_t i = 0; i < n * 36; i++) {
		s = s * 1664525u + 1013904223u;   /* LCG */
		(*x)[i] = (float)((s >> 8) * (2.0 * half / 16777216.0) + lo);
	}
	ck_assert_int_eq(xb_nn_net_forward(net, n, *x, y, 0), XB_OK);
	for (size_t i = 0; i < n; i++) {
		int b = 0;
		for (int c = 1; c < 3; c++)
			if (y[i * 3 + c] > y[i * 3 + b])
				b = c;
		(*label)[i] = b;
	}
	free(y);
	d->n = n;
	d->x = *x;
	d->label = *label;
	return net;
}

/* A small CNN with every kind of site, inputs in [-1, 1). */
static xb_nn_net *cnn(float **x, int32_t **label, xb_nn_data *d, size_t n)
{
	return labelled_net("input 6x6x1; conv2d out=4 kernel=3; batchnorm; relu; "
			    "maxpool kernel=2; flatten; dense out=3", 7, 12345, -1.0, 1.0, x,
			    label, d, n);
}

START_TEST(test_threads)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = cnn(&x, &lab, &d, 600);
	xb_walk_params p = xb_walk_default_params();
	p.nlevels = 6;
	p.repeats = 3;
	p.samples = 500;
	p.bootstrap = 50;
	p.noise = XB_WALK_COMBINED;
	xb_walk_result *r1 = NULL, *r2 = NULL;
	int saved = omp_get_max_threads();
	omp_set_num_threads(1);
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r1, &err), XB_OK);
	omp_set_num_threads(2);
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r2, &err), XB_OK);
	omp_set_num_threads(saved);
	/* sites: input + 6 layers - flatten = 6 */
	ck_assert_uint_eq(r1->nsites, 6);
	ck_assert_str_eq(r1->name[1], "1.conv2d");
	ck_assert_str_eq(r1->name[2], "2.batchnorm");
	ck_assert_str_eq(r1->name[4], "4.maxpool");
	ck_assert_str_eq(r1->name[5], "6.dense");
	ck_assert_int_eq(r1->layer[5], 5);
	/* labels are the clean answers */
	ck_assert_double_eq_tol(r1->clean_accuracy, 1.0, 1e-12);
	ck_assert_mem_eq(r1->acc, r2->acc, r1->nsites * 3 * 6 * sizeof(double));
	ck_assert_mem_eq(r1->midpoint, r2->midpoint, r1->nsites * sizeof(double));
	/* the accuracy falls from ~clean towards chance across 0.01 .. 10 std */
	for (size_t s = 0; s < r1->nsites; s++) {
		ck_assert(r1->acc_mean[s * 6] > 0.9);
		ck_assert(r1->acc_mean[s * 6 + 5] < 0.7);
	}
	xb_walk_result_free(r1);
	xb_walk_result_free(r2);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

START_TEST(test_midpoint)
{
	/* crossing of 0.75 between 0.9 at 2 and 0.6 at 4, halfway in log: sqrt(2 * 4) */
	double lv[4] = { 1, 2, 4, 8 }, acc[4] = { 1.0, 0.9, 0.6, 0.5 };
	ck_assert_double_eq_tol(xb_walk_midpoint(lv, acc, 4, 0.75), sqrt(8.0), 1e-9);
	/* already below the target at the first level: NaN; never below: +inf */
	ck_assert(isnan(xb_walk_midpoint(lv, acc, 4, 1.0)));
	ck_assert(isinf(xb_walk_midpoint(lv, acc, 4, 0.4)));
	ck_assert(isnan(xb_walk_midpoint(lv, acc, 0, 0.5)));
	/* a crossing exactly at a level: 0.6 at 4 */
	ck_assert_double_eq_tol(xb_walk_midpoint(lv, acc, 4, 0.6), 4.0, 1e-9);
	ck_assert_int_eq(xb_walk_noise_parse("multiplicative"), XB_WALK_MULTIPLICATIVE);
	ck_assert_int_eq(xb_walk_noise_parse("device"), XB_WALK_DEVICE);
	ck_assert_int_eq(xb_walk_noise_parse("gaussian"), -1);
	ck_assert_str_eq(xb_walk_noise_name(XB_WALK_COMBINED), "combined");
	ck_assert_str_eq(xb_walk_noise_name((xb_walk_noise)9), "?");
	ck_assert_int_eq(xb_walk_source_parse("fpn_offset"), XB_WALK_SRC_FPN_OFFSET);
	ck_assert_int_eq(xb_walk_source_parse("shot"), -1);
	ck_assert_str_eq(xb_walk_source_key(XB_WALK_SRC_FPN_GAIN), "noise.fpn_gain");
	ck_assert_str_eq(xb_walk_source_unit(XB_WALK_SRC_FPN_GAIN), "relative");
	ck_assert_str_eq(xb_walk_source_unit(XB_WALK_SRC_READ), "LSB");
	ck_assert_str_eq(xb_walk_source_name(XB_WALK_SRC_EVENT), "event");
}
END_TEST

START_TEST(test_file)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = line_net();
	line_data(400, &x, &lab, &d);
	xb_walk_params p = line_params();
	p.nlevels = 8;
	xb_walk_result *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	char path[256];
	snprintf(path, sizeof path, "%s/check_walk_%d.h5", getenv("XB_BUILDDIR") ?
		 getenv("XB_BUILDDIR") : ".", (int)getpid());
	ck_assert_msg(xb_walk_save(r, path, "[walk]\n", "check_walk", &err) == XB_OK, "%s",
		      err.msg);
	xb_h5r *h = xb_h5r_open(path, &err);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(xb_h5r_schema(h, NULL, XB_WALK_SCHEMA, 1, NULL), XB_OK);
	double *mid = NULL, *acc = NULL;
	char **names = NULL;
	int64_t dims[XB_H5_MAXRANK];
	ck_assert_int_eq(xb_h5r_read(h, "/sites/midpoint", XB_H5_FLOAT64, 1, NULL, 0,
				     (void **)&mid, dims), XB_OK);
	ck_assert_int_eq(dims[0], 2);
	ck_assert_double_eq(mid[1], r->midpoint[1]);
	ck_assert_int_eq(xb_h5r_read(h, "/sites/name", XB_H5_STRING, 1, NULL, 0,
				     (void **)&names, NULL), XB_OK);
	ck_assert_str_eq(names[1], "1.dense");
	ck_assert_int_eq(xb_h5r_read(h, "/curves/accuracy", XB_H5_FLOAT64, 2, NULL, 0,
				     (void **)&acc, dims), XB_OK);
	ck_assert_int_eq(dims[1], 8);
	ck_assert_double_eq(acc[8 + 3], r->acc_mean[8 + 3]);
	ck_assert(xb_h5r_exists(h, "/sites/midpoint_lo") && xb_h5r_exists(h, "/sites/midpoint_hi")
		  && xb_h5r_exists(h, "/sites/clean_accuracy") &&
		  xb_h5r_exists(h, "/sites/chance_accuracy") && xb_h5r_exists(h, "/curves/levels"));
	free(mid);
	free(acc);
	free(names);
	xb_h5r_free(h);
	unlink(path);
	/* a directory that does not exist */
	ck_assert_int_ne(xb_walk_save(r, "/nonexistent-dir/w.h5", NULL, NULL, &err), XB_OK);
	ck_assert_ptr_nonnull(strstr(err.msg, "nonexistent-dir"));
	xb_walk_result_free(r);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

/* Every parameter error and the data errors. */
START_TEST(test_errors)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_walk_result *r = (xb_walk_result *)&err;   /* must become NULL */
	xb_nn_net *net = line_net();
	line_data(10, &x, &lab, &d);
	xb_walk_params p = line_params(), q;

	q = p; q.nlevels = 1;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(err.msg, "levels"));
	q = p; q.level_min = 0;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "level_min"));
	q = p; q.level_max = q.level_min;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	q = p; q.repeats = 0;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "repeats"));
	q = p; q.ratio = 1.5;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "ratio"));
	q = p; q.confidence = 1.0;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	q = p; q.bootstrap = -1;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	q = p; q.noise = (xb_walk_noise)7;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	q = p; q.mode = (xb_walk_mode)7;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	q = p; q.binary_band = 0.6;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "binary_band"));
	q = p; q.rank = 2; q.nranks = 2;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "rank"));
	q = p; q.noise = XB_WALK_DEVICE;   /* no tile parameters */
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "device"));
	xb_tile_params tp = xb_tile_default_params();
	q.device = &tp;
	q.source = (xb_walk_source)17;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "source"));
	/* the line network's dense layer is analog: a net of digital layers only is not */
	{
		xb_nn_shape in1 = { 1, 1, 2 };
		xb_nn_net *dig = xb_nn_net_new(in1, &err);
		ck_assert_int_eq(xb_nn_net_add(dig, "relu", NULL), XB_OK);
		int32_t l2[2] = { 0, 1 };
		float x2[4] = { 1, 0, 0, 1 };
		xb_nn_data d2 = { 2, x2, l2 };
		q.source = XB_WALK_SRC_READ;
		ck_assert_int_eq(xb_walk_run(dig, &d2, &q, &r, &err), XB_EUNSUPPORTED);
		ck_assert_ptr_nonnull(strstr(err.msg, "analog"));
		xb_nn_net_free(dig);
	}
	ck_assert_int_eq(xb_walk_run(NULL, &d, &p, &r, &err), XB_EINVAL);
	/* a label beyond the two outputs names the sample */
	lab[3] = 2;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "sample 3"));
	lab[3] = 1;
	d.n = 0;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_EINVAL);
	ck_assert_ptr_null(r);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

static int stop_at_two(void *ud, uint64_t done, uint64_t total)
{
	(void)ud;
	(void)total;
	return done >= 2;
}

/* Configuration: keys, bad values, the inverted level range; stopping by progress. */
START_TEST(test_config)
{
	xb_err err = { 0 };
	ck_assert_int_eq(xb_walk_register_keys(), XB_OK);
	ck_assert_int_eq(xb_walk_register_keys(), XB_OK);   /* idempotent */
	xb_config *cfg = xb_config_new();
	ck_assert_ptr_nonnull(cfg);
	xb_walk_params p;
	ck_assert_int_eq(xb_walk_params_from_config(cfg, &p, &err), XB_OK);
	ck_assert_int_eq(p.nlevels, 16);
	ck_assert_int_eq(p.noise, XB_WALK_ADDITIVE);
	ck_assert_int_eq(xb_config_set(cfg, "walk.noise", "gaussian", "-s"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "walk.source", "shot", "-s"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "walk.binary_band", "0.7", "-s"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "walk.source", "fpn_gain", "-s"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "walk.ratio", "1.5", "-s"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "walk.levels", "1", "-s"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "walk.noise", "combined", "-s"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "walk.mode", "global", "-s"), XB_OK);
	ck_assert_int_eq(xb_walk_params_from_config(cfg, &p, &err), XB_OK);
	ck_assert_int_eq(p.noise, XB_WALK_COMBINED);
	ck_assert_int_eq(p.mode, XB_WALK_GLOBAL);
	ck_assert_int_eq(p.source, XB_WALK_SRC_FPN_GAIN);
	ck_assert_double_eq(p.binary_band, 0.05);
	ck_assert_int_eq(xb_config_set(cfg, "walk.level_min", "20", "-s"), XB_OK);
	ck_assert_int_eq(xb_walk_params_from_config(cfg, &p, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "walk.level_max"));
	xb_config_free(cfg);

	/* a progress callback asking to stop */
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_nn_net *net = line_net();
	line_data(600, &x, &lab, &d);
	xb_walk_params q = line_params();
	q.progress = stop_at_two;
	xb_walk_result *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &q, &r, &err), XB_ESTATE);
	ck_assert_ptr_null(r);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST


/* Weight and activation statistics of the line network, in closed form. */
START_TEST(test_stats)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = line_net();
	line_data(100, &x, &lab, &d);
	xb_walk_params p = line_params();
	p.nlevels = 4;
	p.repeats = 1;
	xb_walk_result *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	/* one weight layer, W = (-1, +1): mean |w| = max |w| = 1, 2 weights */
	ck_assert_uint_eq(r->nweights, 1);
	ck_assert_str_eq(r->w_name[0], "1.dense");
	ck_assert_int_eq(r->w_layer[0], 0);
	ck_assert_uint_eq(r->w_count[0], 2);
	ck_assert_double_eq_tol(r->w_mean_abs[0], 1.0, 1e-12);
	ck_assert_double_eq_tol(r->w_max_abs[0], 1.0, 1e-12);
	/* activations: input +-1.2 (half each), logits (-x, x) = +-1.2 (half each): every
	 * element at its min or max, near_low = near_high = 1/2, near_binary = 1 */
	ck_assert_uint_eq(r->nacts, 2);
	ck_assert_str_eq(r->act_name[1], "1.dense");
	for (size_t a = 0; a < 2; a++) {
		ck_assert_double_eq_tol(r->act_min[a], -MU, 1e-6);
		ck_assert_double_eq_tol(r->act_max[a], MU, 1e-6);
		ck_assert_double_eq_tol(r->near_low[a], 0.5, 1e-12);
		ck_assert_double_eq_tol(r->near_high[a], 0.5, 1e-12);
	}
	ck_assert_str_eq(r->level_unit, "1");
	xb_walk_result_free(r);
	/* a ramp input x_i = i / 99 (i < 100) over [0, 1]: band 0.05 holds i <= 4.95 and
	 * i >= 94.05: 5 + 5 of 100 elements */
	for (size_t i = 0; i < 100; i++)
		x[i] = (float)i / 99.0f;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	ck_assert_double_eq_tol(r->near_low[0], 0.05, 1e-12);
	ck_assert_double_eq_tol(r->near_high[0], 0.05, 1e-12);
	xb_walk_result_free(r);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

/* A reducer that keeps the counts of each rank's call (one process plays the ranks). */
typedef struct fake_ranks {
	uint64_t *counts[3];
	size_t n;
	int calls, fail;
} fake_ranks;

static int fake_reduce(void *ud, uint64_t *counts, size_t n, int ok)
{
	fake_ranks *f = ud;
	if (!ok || f->fail)
		return 0;
	f->counts[f->calls] = malloc(n * sizeof *counts);
	memcpy(f->counts[f->calls], counts, n * sizeof *counts);
	f->n = n;
	f->calls++;
	return 1;
}

/* Items dealt over 3 ranks: the counts of the ranks add up to the serial run's, each
 * item counted by exactly one rank; a failing reduction fails the walk. */
START_TEST(test_ranks)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = cnn(&x, &lab, &d, 300);
	xb_walk_params p = xb_walk_default_params();
	p.nlevels = 5;
	p.repeats = 2;
	p.samples = 300;
	p.bootstrap = 20;
	xb_walk_result *serial = NULL, *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &serial, &err), XB_OK);
	fake_ranks f;
	memset(&f, 0, sizeof f);
	p.nranks = 3;
	p.reduce = fake_reduce;
	p.reduce_ud = &f;
	for (int k = 0; k < 3; k++) {
		p.rank = k;
		ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
		/* clean pass and statistics are every rank's own, in full */
		ck_assert_double_eq(r->clean_accuracy, serial->clean_accuracy);
		ck_assert_mem_eq(r->near_low, serial->near_low, r->nacts * sizeof(double));
		xb_walk_result_free(r);
	}
	ck_assert_int_eq(f.calls, 3);
	ck_assert_uint_eq(f.n, serial->nsites * 2 * 5);
	for (size_t i = 0; i < f.n; i++) {
		uint64_t want = (uint64_t)llround(serial->acc[i] * 300.0);
		ck_assert_uint_eq(f.counts[0][i] + f.counts[1][i] + f.counts[2][i], want);
		/* item i belongs to rank i mod 3 alone */
		for (int k = 0; k < 3; k++)
			if ((size_t)k != i % 3)
				ck_assert_uint_eq(f.counts[k][i], 0);
	}
	for (int k = 0; k < 3; k++)
		free(f.counts[k]);
	f.fail = 1;
	p.rank = 1;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_ESTATE);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(err.msg, "another rank"));
	xb_walk_result_free(serial);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

/* A float CNN without batch norm for the device, inputs in [0, 1). */
static xb_nn_net *dev_net(float **x, int32_t **label, xb_nn_data *d, size_t n)
{
	return labelled_net("input 6x6x1; conv2d out=4 kernel=3; relu; maxpool kernel=2; "
			    "flatten; dense out=3", 11, 777, 0.0, 0.5, x, label, d, n);
}

/* Device noise: the analog layers are the sites, levels absolute in LSB, results
 * independent of the thread count, the network's backend and mode restored, accuracy
 * falling to chance at large read noise; the fixed-pattern sources run too. */
START_TEST(test_device)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = dev_net(&x, &lab, &d, 400);
	xb_tile_params tp = xb_tile_default_params();
	tp.adc.gain = 0.05;   /* enough signal for a random small net's outputs */
	xb_walk_params p = xb_walk_default_params();
	p.noise = XB_WALK_DEVICE;
	p.device = &tp;
	p.nlevels = 5;
	p.level_min = 0.1;
	p.level_max = 1000;
	p.repeats = 2;
	p.samples = 300;
	p.bootstrap = 20;
	xb_walk_result *r1 = NULL, *r2 = NULL;
	int saved = omp_get_max_threads();
	omp_set_num_threads(1);
	ck_assert_msg(xb_walk_run(net, &d, &p, &r1, &err) == XB_OK, "%s", err.msg);
	omp_set_num_threads(2);
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r2, &err), XB_OK);
	omp_set_num_threads(saved);
	/* the float network comes back as it was: float mode, float backend */
	ck_assert_int_eq(xb_nn_net_quantized(net), 0);
	ck_assert_ptr_eq(xb_nn_net_backend(net)->type, &xb_nn_backend_float_type);
	/* sites: 1.conv2d and 5.dense (the analog layers) */
	ck_assert_uint_eq(r1->nsites, 2);
	ck_assert_str_eq(r1->name[0], "1.conv2d");
	ck_assert_str_eq(r1->name[1], "5.dense");
	ck_assert_int_eq(r1->layer[1], 4);
	ck_assert_double_eq(r1->scale[0], 1.0);
	ck_assert_str_eq(r1->level_unit, "LSB");
	ck_assert_mem_eq(r1->acc, r2->acc, 2 * 2 * 5 * sizeof(double));
	/* the clean device is the quantized net: better than chance (1/3) on float labels */
	ck_assert_msg(r1->clean_accuracy > 0.6, "clean %g", r1->clean_accuracy);
	/* read noise of 1000 LSB in the last layer swamps its outputs: near chance */
	ck_assert_msg(r1->acc_mean[1 * 5 + 4] < 0.5, "acc %g", r1->acc_mean[9]);
	ck_assert_msg(fabs(r1->acc_mean[0] - r1->clean_accuracy) < 0.05, "acc %g",
		      r1->acc_mean[0]);
	xb_walk_result_free(r2);
	/* fixed-pattern gain and global mode run; gain 0 .. 1000 relative: outputs
	 * scrambled at the top */
	p.source = XB_WALK_SRC_FPN_GAIN;
	p.mode = XB_WALK_GLOBAL;
	p.level_max = 100;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r2, &err), XB_OK);
	ck_assert_uint_eq(r2->nsites, 1);
	ck_assert_str_eq(r2->level_unit, "relative");
	ck_assert_double_eq(r2->clean_accuracy, r1->clean_accuracy);
	ck_assert(r2->acc_mean[4] < r2->acc_mean[0]);
	xb_walk_result_free(r2);
	p.source = XB_WALK_SRC_FPN_OFFSET;
	p.mode = XB_WALK_WALKING;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r2, &err), XB_OK);
	xb_walk_result_free(r2);
	xb_walk_result_free(r1);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

/* Read a report's .dat file into lines. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	char *buf = malloc(1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int exists(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* The report of a walk file: its .dat files hold the file's numbers to the last bit. */
START_TEST(test_report)
{
	float *x;
	int32_t *lab;
	xb_nn_data d;
	xb_err err = { 0 };
	xb_nn_net *net = line_net();
	line_data(400, &x, &lab, &d);
	xb_walk_params p = line_params();
	p.nlevels = 8;
	xb_walk_result *r = NULL;
	ck_assert_int_eq(xb_walk_run(net, &d, &p, &r, &err), XB_OK);
	const char *bd = getenv("XB_BUILDDIR") ? getenv("XB_BUILDDIR") : ".";
	char h5[512], dir[512], dir2[512], path[1024];
	snprintf(h5, sizeof h5, "%s/check_walk_rep_%d.h5", bd, (int)getpid());
	snprintf(dir, sizeof dir, "%s/check_walk_rep_%d", bd, (int)getpid());
	snprintf(dir2, sizeof dir2, "%s/check_walk_rep2_%d", bd, (int)getpid());
	ck_assert_int_eq(xb_walk_save(r, h5, NULL, NULL, &err), XB_OK);
	int figs = 7;
	ck_assert_msg(xb_walk_report(h5, dir, "", &figs, &err) == XB_OK, "%s", err.msg);
	ck_assert_int_eq(figs, -1);   /* no gnuplot: data and scripts only */
	ck_assert(exists(dir, "accuracy.dat") && exists(dir, "accuracy.gp") &&
		  exists(dir, "midpoints.dat") && exists(dir, "midpoints.gp") &&
		  exists(dir, "summary.md") && !exists(dir, "accuracy.png"));
	/* accuracy.dat: 3 comment lines, then level and the 2 sites' mean accuracy */
	snprintf(path, sizeof path, "%s/accuracy.dat", dir);
	char *txt = slurp(path), *line = txt;
	int rows = 0;
	while (line && *line) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (*line != '#') {
			double lv, a0, a1;
			ck_assert_int_eq(sscanf(line, "%lf %lf %lf", &lv, &a0, &a1), 3);
			ck_assert_double_eq(lv, r->levels[rows]);
			ck_assert_double_eq(a0, r->acc_mean[rows]);
			ck_assert_double_eq(a1, r->acc_mean[8 + rows]);
			rows++;
		} else if (strncmp(line, "# level", 7) == 0) {
			ck_assert_str_eq(line, "# level input 1.dense");
		}
		line = next;
	}
	ck_assert_int_eq(rows, 8);
	free(txt);
	/* midpoints.dat: index site midpoint lo hi */
	snprintf(path, sizeof path, "%s/midpoints.dat", dir);
	txt = slurp(path);
	line = strstr(txt, "\n0 ");
	ck_assert_ptr_nonnull(line);
	for (int s = 0; s < 2; s++) {
		int k;
		char nm[64];
		double m, lo, hi;
		ck_assert_int_eq(sscanf(line + 1, "%d %63s %lf %lf %lf", &k, nm, &m, &lo, &hi), 5);
		ck_assert_int_eq(k, s);
		ck_assert_str_eq(nm, r->name[s]);
		ck_assert_double_eq(m, r->midpoint[s]);
		ck_assert_double_eq(lo, r->midpoint_lo[s]);
		ck_assert_double_eq(hi, r->midpoint_hi[s]);
		line = strchr(line + 1, '\n');
	}
	free(txt);
	snprintf(path, sizeof path, "%s/accuracy.gp", dir);
	txt = slurp(path);
	ck_assert_ptr_nonnull(strstr(txt, "set logscale x"));
	ck_assert_ptr_nonnull(strstr(txt, "chance = 0.5"));
	free(txt);
	/* the directory exists now: refused */
	ck_assert_int_eq(xb_walk_report(h5, dir, "", NULL, &err), XB_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "exists"));
	/* with gnuplot, where configure found one, the figures are drawn */
	if (XB_GNUPLOT[0] && access(XB_GNUPLOT, X_OK) == 0) {
		ck_assert_int_eq(xb_walk_report(h5, dir2, NULL, &figs, &err), XB_OK);
		ck_assert_int_eq(figs, 2);
		ck_assert(exists(dir2, "accuracy.png") && exists(dir2, "midpoints.png"));
	}
	/* not a walk file: a model file */
	snprintf(path, sizeof path, "%s/check_walk_model_%d.h5", bd, (int)getpid());
	ck_assert_int_eq(xb_nn_net_save(net, path, NULL, NULL, &err), XB_OK);
	char dir3[600];
	snprintf(dir3, sizeof dir3, "%s_m", dir);
	ck_assert_int_eq(xb_walk_report(path, dir3, "", NULL, &err), XB_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, XB_WALK_SCHEMA));
	unlink(path);
	char cmd[2200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
	ck_assert_int_eq(system(cmd), 0);
	unlink(h5);
	xb_walk_result_free(r);
	xb_nn_net_free(net);
	free(x);
	free(lab);
}
END_TEST

static Suite *walk_suite(void)
{
	Suite *s = suite_create("walk");
	TCase *core = tcase_create("core");
	tcase_add_test(core, test_line_additive);
	tcase_add_test(core, test_threads);
	tcase_add_test(core, test_file);
	tcase_add_test(core, test_stats);
	tcase_add_test(core, test_ranks);
	tcase_add_test(core, test_device);
	tcase_add_test(core, test_report);
	tcase_set_timeout(core, 120);
	suite_add_tcase(s, core);
	TCase *lim = tcase_create("limits");
	tcase_add_test(lim, test_midpoint);
	tcase_add_test(lim, test_errors);
	tcase_add_test(lim, test_config);
	suite_add_tcase(s, lim);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(walk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
