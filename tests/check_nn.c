/* check_nn.c - unit tests of the neural-network part of the workloads module (xb_nn.h).
 * Gradients vs finite differences, im2col vs direct conv, folding, quantization, training, files.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_nn.h"
#include "xb_traces.h"
#include "xb_test_nn.h"

#include <cblas.h>
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

/* splitmix64: the test's own reproducible stream, independent of the library's */
static double urand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double nrand(void)
{
	return sqrt(-2.0 * log(urand())) * cos(2.0 * M_PI * urand());
}

static void fill(float *a, size_t n, double lo, double hi)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(lo + (hi - lo) * urand());
}

static xb_nn_net *net_of(const char *spec)
{
	xb_err err = {0};
	xb_nn_net *net = xb_nn_net_from_spec(spec, 7, &err);
	ck_assert_msg(net != NULL, "spec failed: %s", err.msg);
	return net;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/check_nn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void rm_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void set_threads(int n)
{
	omp_set_num_threads(n);
	openblas_set_num_threads(n);
}

/* ---- registry --------------------------------------------------------------------- */

START_TEST(test_registry)
{
	static const char *const analog[] = {"dense", "conv1d", "conv2d"};
	static const char *const digital[] = {"dwconv2d", "relu", "maxpool", "avgpool",
					      "batchnorm", "flatten", "requant"};
	size_t n = 0;
	const xb_nn_layer_type *const *all = xb_nn_layer_types(&n);
	/* 10 = the stock types listed in xb_nn.h */
	ck_assert_uint_eq(n, 10);
	ck_assert_ptr_null(all[n]);
	for (size_t i = 0; i < 3; i++) {
		const xb_nn_layer_type *t = xb_nn_layer_type_find(analog[i]);
		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(t->exec, XB_NN_ANALOG);
	}
	for (size_t i = 0; i < 7; i++) {
		const xb_nn_layer_type *t = xb_nn_layer_type_find(digital[i]);
		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(t->exec, XB_NN_DIGITAL);
	}
	ck_assert_ptr_null(xb_nn_layer_type_find("conv3d"));
	ck_assert_ptr_null(xb_nn_layer_type_find(NULL));
	ck_assert_ptr_eq(xb_nn_layer_type_find("batchnorm"), &xb_nn_batchnorm);
}
END_TEST

START_TEST(test_stock_archs)
{
	/* parameter counts by hand:
	 * kws-cnn: conv 28*(10*4*1)+28 = 1148; conv 30*(10*4*28)+30 = 33630; output 16x4x30
	 *   = 1920 -> dense 1920*16+16 = 30736; 16*128+128 = 2176; 128*12+12 = 1548 -> 69238
	 * lenet5: 6*25+6 = 156; 16*150+16 = 2416; 400*120+120 = 48120; 120*84+84 = 10164;
	 *   84*10+10 = 850 -> 61706
	 * mlp3: 784*64+64 = 50240; 2 * (64*64+64) = 8320; 64*10+10 = 650 -> 59210
	 * mlp3-bn: + 3 batch norms * 2*64 trainable = 384 -> 59594 */
	static const struct {
		const char *name;
		size_t params;
		int outputs;
	} a[] = {{"kws-cnn", 69238, 12}, {"lenet5", 61706, 10}, {"mlp3", 59210, 10},
		 {"mlp3-bn", 59594, 10}};
	for (size_t i = 0; i < 4; i++) {
		const char *spec = xb_nn_arch(a[i].name);
		ck_assert_ptr_nonnull(spec);
		xb_nn_net *net = net_of(spec);
		ck_assert_uint_eq(xb_nn_net_nparams(net), a[i].params);
		ck_assert_int_eq(xb_nn_net_out_shape(net).c, a[i].outputs);
		/* spec text round trip gives the same network */
		char *s2 = xb_nn_net_spec(net);
		xb_nn_net *net2 = net_of(s2);
		char *s3 = xb_nn_net_spec(net2);
		ck_assert_str_eq(s2, s3);
		free(s2);
		free(s3);
		xb_nn_net_free(net2);
		xb_nn_net_free(net);
	}
	ck_assert_ptr_null(xb_nn_arch("resnet"));
	/* a stock name is a spec of its own */
	xb_nn_net *byname = net_of("  lenet5\n");
	ck_assert_uint_eq(xb_nn_net_nparams(byname), 61706);
	xb_nn_net_free(byname);
	/* the KWS CNN's second conv gives 16x4x30: (40 - 10) / 2 + 1 = 16, 7 - 4 + 1 = 4 */
	xb_nn_net *kws = net_of(xb_nn_arch("kws-cnn"));
	const xb_nn_layer *c2 = xb_nn_net_layer(kws, 2);
	ck_assert_int_eq(c2->out.h, 16);
	ck_assert_int_eq(c2->out.w, 4);
	ck_assert_int_eq(c2->out.c, 30);
	ck_assert_uint_eq(c2->cols, 10 * 4 * 28);
	xb_nn_net_free(kws);
}
END_TEST

/* ---- gradients against central finite differences ----------------------------------- */

/* L = sum_i r_i y_i, accumulated in double */
static double loss_of(xb_nn_net *net, size_t n, const float *x, float *y, const float *r,
		      size_t ny, int training)
{
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, training), XB_OK);
	double l = 0;
	for (size_t i = 0; i < ny; i++)
		l += (double)r[i] * y[i];
	return l;
}

/* Inputs away from kinks: a shuffled ladder of values spaced 0.05 apart, none within
 * 0.025 of zero, so a step of H = 0.01 never changes a ReLU gate or a max-pool argmax. */
static void fill_kinkfree(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = -0.025 * (double)n + 0.05 * (double)i + 0.025;
		x[i] = (float)v;
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(urand() * (double)(i + 1));
		float t = x[i];
		x[i] = x[j];
		x[j] = t;
	}
}

/* Check dL/dx and dL/dparams of the one-layer network TYPE OPTS on input shape IN.
 * Tolerance: |numeric - analytic| <= 5e-4 + 5e-4 |analytic| (float32 forward, L in
 * double, H = 1e-2: the layers are linear or smooth away from kinks, so the central
 * difference's truncation error is O(H^2) ~ 1e-4 and its rounding error ~ 1e-7 |L| / H;
 * the worst error measured over all cases is 6.4e-5). */
static void check_grad(const char *type, const char *opts, xb_nn_shape in, int training,
		       int kinkfree, double *max_err)
{
	const size_t n = 3;
	const double h = 1e-2;
	xb_err err = {0};
	xb_nn_net *net = xb_nn_net_new(in, &err);
	ck_assert_ptr_nonnull(net);
	ck_assert_msg(xb_nn_net_add(net, type, opts) == XB_OK, "%s", xb_nn_net_errmsg(net));
	xb_nn_net_init_weights(net, 11);
	xb_nn_layer *l = xb_nn_net_layer_mut(net, 0);
	if (strcmp(type, "batchnorm") == 0)
		for (int k = 0; k < l->in.c; k++) {
			l->t[0][k] = (float)(0.5 + urand());      /* gamma */
			l->t[1][k] = (float)(urand() - 0.5);      /* beta */
			l->t[2][k] = (float)(urand() - 0.5);      /* running mean */
			l->t[3][k] = (float)(0.5 + urand());      /* running variance */
		}
	for (int t = 0; t < l->type->nparams; t++)
		if (strcmp(type, "batchnorm") != 0)
			fill(l->t[t], l->tsize[t], -0.5, 0.5);
	xb_nn_layer_touch(l);
	size_t nx = n * xb_nn_shape_size(in), ny = n * xb_nn_shape_size(l->out);
	float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
	float *r = malloc(ny * sizeof *r), *dx = malloc(nx * sizeof *dx);
	if (kinkfree)
		fill_kinkfree(x, nx);
	else
		fill(x, nx, -1, 1);
	fill(r, ny, -1, 1);
	loss_of(net, n, x, y, r, ny, training);
	ck_assert_int_eq(xb_nn_net_backward(net, n, r, dx), XB_OK);
	/* copy the parameter gradients before the probing forwards */
	float *g[XB_NN_MAX_TENSORS] = {NULL};
	for (int t = 0; t < l->type->nparams; t++) {
		g[t] = malloc(l->tsize[t] * sizeof(float));
		memcpy(g[t], xb_nn_net_grad(net, 0, t), l->tsize[t] * sizeof(float));
	}
	double worst = 0;
	for (size_t i = 0; i < nx; i++) {
		float keep = x[i];
		x[i] = (float)(keep + h);
		double lp = loss_of(net, n, x, y, r, ny, training);
		x[i] = (float)(keep - h);
		double lm = loss_of(net, n, x, y, r, ny, training);
		x[i] = keep;
		double num = (lp - lm) / (2 * h), e = fabs(num - dx[i]);
		ck_assert_msg(e <= 5e-4 + 5e-4 * fabs(dx[i]), "%s %s: dx[%zu] analytic %.6g numeric "
			      "%.6g", type, opts, i, dx[i], num);
		worst = e > worst ? e : worst;
	}
	for (int t = 0; t < l->type->nparams; t++) {
		for (size_t j = 0; j < l->tsize[t]; j++) {
			float keep = l->t[t][j];
			l->t[t][j] = (float)(keep + h);
			xb_nn_layer_touch(l);
			double lp = loss_of(net, n, x, y, r, ny, training);
			l->t[t][j] = (float)(keep - h);
			xb_nn_layer_touch(l);
			double lm = loss_of(net, n, x, y, r, ny, training);
			l->t[t][j] = keep;
			double num = (lp - lm) / (2 * h), e = fabs(num - g[t][j]);
			ck_assert_msg(e <= 5e-4 + 5e-4 * fabs(g[t][j]), "%s %s: d%s[%zu] analytic "
				      "%.6g numeric %.6g", type, opts, l->type->tensor_names[t], j,
				      g[t][j], num);
			worst = e > worst ? e : worst;
		}
		free(g[t]);
	}
	if (max_err && worst > *max_err)
		*max_err = worst;
	free(x);
	free(y);
	free(r);
	free(dx);
	xb_nn_net_free(net);
}

START_TEST(test_gradients)
{
	double worst = 0;
	rng_seed(101);
	check_grad("dense", "out=5", (xb_nn_shape){2, 3, 2}, 1, 0, &worst);
	check_grad("conv2d", "out=4 kernel=3x2 stride=2x1 pad=1x1", (xb_nn_shape){5, 6, 3}, 1, 0, &worst);
	check_grad("conv2d", "out=2 kernel=2 stride=1", (xb_nn_shape){4, 4, 1}, 1, 0, &worst);
	check_grad("conv1d", "out=4 kernel=3 stride=2 pad=1", (xb_nn_shape){7, 1, 3}, 1, 0, &worst);
	check_grad("dwconv2d", "kernel=3 stride=2 pad=1", (xb_nn_shape){5, 5, 3}, 1, 0, &worst);
	check_grad("dwconv2d", "kernel=2x3", (xb_nn_shape){4, 5, 2}, 1, 0, &worst);
	check_grad("relu", "", (xb_nn_shape){3, 4, 2}, 1, 1, &worst);
	check_grad("requant", "", (xb_nn_shape){3, 4, 2}, 1, 1, &worst);
	check_grad("maxpool", "kernel=2", (xb_nn_shape){4, 6, 2}, 1, 1, &worst);
	check_grad("maxpool", "kernel=3 stride=2", (xb_nn_shape){5, 5, 2}, 1, 1, &worst);
	check_grad("avgpool", "kernel=2x3 stride=1x2", (xb_nn_shape){4, 7, 2}, 1, 0, &worst);
	check_grad("batchnorm", "", (xb_nn_shape){2, 3, 4}, 1, 0, &worst);
	check_grad("batchnorm", "eps=0.01", (xb_nn_shape){1, 1, 5}, 0, 0, &worst);
	check_grad("flatten", "", (xb_nn_shape){2, 3, 2}, 1, 0, &worst);
	/* measured worst 6.4e-5 */
	ck_assert(worst < 5e-4);
}
END_TEST

/* ---- im2col convolution against a direct convolution -------------------------------- */

/* Reference: y[oh][ow][f] = b[f] + sum_{i,j,c} w[f][i][j][c] x[oh*sh-ph+i][ow*sw-pw+j][c],
 * in double, zero outside the image. */
/* ---- the tap: changed layer outputs, forward and backward -------------------------- */

/* Taps of test_tap: the input (-1) x' = 2 x, dx'/dx = 2; layer 1 (dense) unchanged,
 * records the smallest |y| (the ReLU's distance from its kink); layer 2 (relu)
 * y' = 2 y - 0.5, dy'/dy = 2; layer 3 (the output) y' = y + 0.25, dy'/dy = 1. */
static double tap_min_abs;

static xb_status tap_change(void *ud, int layer, size_t n, size_t size, float *y, float *d,
			     xb_err *err)
{
	(void)ud;
	(void)err;
	for (size_t i = 0; i < n * size; i++) {
		if (layer == 1 && fabs(y[i]) < tap_min_abs)
			tap_min_abs = fabs(y[i]);
		if (layer == -1)
			y[i] *= 2.0f;
		else if (layer == 2)
			y[i] = 2.0f * y[i] - 0.5f;
		else if (layer == 3)
			y[i] += 0.25f;
		d[i] = layer == 2 || layer == -1 ? 2.0f : 1.0f;
	}
	return XB_OK;
}

/* A tap that fails: the forward pass stops with its status and message. */
static xb_status tap_fail(void *ud, int layer, size_t n, size_t size, float *y, float *d,
			  xb_err *err)
{
	(void)ud;
	(void)n;
	(void)size;
	(void)y;
	(void)d;
	return xb_raise(err, XB_ENUMERIC, "tap at layer %d failed", layer);
}

/* The output is the tapped output; the gradients are those of the tapped function:
 * central finite differences (H = 1e-2, tolerance as check_grad's) of every weight and
 * input.  A backward without the factor dy'/dy gets dx wrong by 2; one that gave the
 * last dense layer its untapped input gets its weight gradient wrong (both seen). */
START_TEST(test_tap)
{
	const size_t n = 3, nx = 3 * 4, ny = 3 * 3;
	const double h = 1e-2;
	const int layers[4] = { -1, 1, 2, 3 }, last[1] = { 3 }, bad[1] = { 4 };
	xb_nn_net *net = net_of("input 1x1x4\nflatten\ndense out=5\nrelu\ndense out=3\n");
	float x[12], y0[9], y[9], r[9], dx[12];

	rng_seed(32);
	for (int li = 1; li <= 3; li += 2) {   /* the two dense layers */
		xb_nn_layer *l = xb_nn_net_layer_mut(net, li);
		for (int t = 0; t < l->type->nparams; t++)
			fill(l->t[t], l->tsize[t], -0.8, 0.8);
		xb_nn_layer_touch(l);
	}
	fill(x, nx, -1, 1);
	fill(r, ny, -1, 1);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y0, 0), XB_OK);

	/* errors: no such layer (-1 is the input) */
	ck_assert_int_eq(xb_nn_net_set_tap(net, bad, 1, tap_change, NULL), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "layer 4 is not a layer"));

	/* the output layer alone: y0 + 0.25, float for float */
	ck_assert_int_eq(xb_nn_net_set_tap(net, last, 1, tap_change, NULL), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_OK);
	for (size_t i = 0; i < ny; i++)
		ck_assert(y[i] == y0[i] + 0.25f);

	ck_assert_int_eq(xb_nn_net_set_tap(net, layers, 4, tap_change, NULL), XB_OK);
	tap_min_abs = INFINITY;
	loss_of(net, n, x, y, r, ny, 1);
	ck_assert_int_eq(xb_nn_net_backward(net, n, r, dx), XB_OK);
	/* every perturbation moves a pre-activation by at most 2 H (|x'| <= 2, one weight
	 * or the bias changes) or 2 H x 0.8 (an input, doubled): no ReLU gate flips */
	ck_assert_msg(tap_min_abs > 2 * h, "pre-activation %g within 2 H of the kink", tap_min_abs);
	int changed = 0;
	for (size_t i = 0; i < ny; i++)
		changed += y[i] != y0[i] + 0.25f;
	ck_assert(changed > 0);   /* the ReLU's tap changed the output */
	for (size_t i = 0; i < nx; i++) {
		float keep = x[i];
		x[i] = (float)(keep + h);
		double lp = loss_of(net, n, x, y, r, ny, 1);
		x[i] = (float)(keep - h);
		double lm = loss_of(net, n, x, y, r, ny, 1);
		x[i] = keep;
		double num = (lp - lm) / (2 * h);
		ck_assert_msg(fabs(num - dx[i]) <= 5e-4 + 5e-4 * fabs(dx[i]),
			      "dx[%zu] analytic %.6g numeric %.6g", i, dx[i], num);
	}
	for (int li = 1; li <= 3; li += 2) {
		xb_nn_layer *l = xb_nn_net_layer_mut(net, li);
		for (int t = 0; t < l->type->nparams; t++) {
			float *g = malloc(l->tsize[t] * sizeof *g);
			ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 1), XB_OK);
			ck_assert_int_eq(xb_nn_net_backward(net, n, r, NULL), XB_OK);
			memcpy(g, xb_nn_net_grad(net, li, t), l->tsize[t] * sizeof *g);
			for (size_t j = 0; j < l->tsize[t]; j++) {
				float keep = l->t[t][j];
				l->t[t][j] = (float)(keep + h);
				xb_nn_layer_touch(l);
				double lp = loss_of(net, n, x, y, r, ny, 1);
				l->t[t][j] = (float)(keep - h);
				xb_nn_layer_touch(l);
				double lm = loss_of(net, n, x, y, r, ny, 1);
				l->t[t][j] = keep;
				xb_nn_layer_touch(l);
				double num = (lp - lm) / (2 * h);
				ck_assert_msg(fabs(num - g[j]) <= 5e-4 + 5e-4 * fabs(g[j]),
					      "layer %d tensor %d [%zu]: analytic %.6g numeric %.6g",
					      li, t, j, g[j], num);
			}
			free(g);
		}
	}
	/* a failing tap, on the input or on a layer, stops the pass with its message */
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(xb_nn_net_set_tap(net, layers + k, 1, tap_fail, NULL), XB_OK);
		ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_ENUMERIC);
		ck_assert_str_eq(xb_nn_net_errmsg(net), k ? "tap at layer 1 failed" :
				 "tap at layer -1 failed");
	}
	/* a change of topology removes the tap: the untapped output again */
	ck_assert_int_eq(xb_nn_net_add(net, "relu", ""), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_OK);
	for (size_t i = 0; i < ny; i++)
		ck_assert(y[i] == (y0[i] > 0 ? y0[i] : 0.0f));
	xb_nn_net_free(net);
}
END_TEST

static void direct_conv(const float *x, xb_nn_shape in, const float *w, const float *b,
			int f, int kh, int kw, int sh, int sw, int ph, int pw, double *y)
{
	int oh = (in.h + 2 * ph - kh) / sh + 1, ow = (in.w + 2 * pw - kw) / sw + 1;
	for (int a = 0; a < oh; a++)
		for (int bb = 0; bb < ow; bb++)
			for (int q = 0; q < f; q++) {
				double s = b[q];
				for (int i = 0; i < kh; i++)
					for (int j = 0; j < kw; j++) {
						int yy = a * sh - ph + i, xx = bb * sw - pw + j;
						if (yy < 0 || yy >= in.h || xx < 0 || xx >= in.w)
							continue;
						for (int c = 0; c < in.c; c++)
							s += (double)w[((q * kh + i) * kw + j) * in.c + c] *
							     x[(yy * in.w + xx) * in.c + c];
					}
				y[(a * ow + bb) * f + q] = s;
			}
}

START_TEST(test_im2col_vs_direct)
{
	rng_seed(202);
	for (int trial = 0; trial < 40; trial++) {
		xb_nn_shape in = {3 + (int)(urand() * 9), 3 + (int)(urand() * 9), 1 + (int)(urand() * 4)};
		int conv1d = trial % 5 == 4;
		if (conv1d)
			in.w = 1;
		int kh = 1 + (int)(urand() * (in.h < 5 ? in.h : 5));
		int kw = conv1d ? 1 : 1 + (int)(urand() * (in.w < 5 ? in.w : 5));
		int sh = 1 + (int)(urand() * 3), sw = conv1d ? 1 : 1 + (int)(urand() * 3);
		int ph = (int)(urand() * kh), pw = conv1d ? 0 : (int)(urand() * kw);
		int f = 1 + (int)(urand() * 6);
		size_t n = 2;
		char opts[128];
		if (conv1d)
			snprintf(opts, sizeof opts, "out=%d kernel=%d stride=%d pad=%d", f, kh, sh, ph);
		else
			snprintf(opts, sizeof opts, "out=%d kernel=%dx%d stride=%dx%d pad=%dx%d", f,
				 kh, kw, sh, sw, ph, pw);
		xb_nn_net *net = xb_nn_net_new(in, NULL);
		ck_assert_msg(xb_nn_net_add(net, conv1d ? "conv1d" : "conv2d", opts) == XB_OK,
			      "%s", xb_nn_net_errmsg(net));
		xb_nn_layer *l = xb_nn_net_layer_mut(net, 0);
		fill(l->t[0], l->tsize[0], -1, 1);
		fill(l->t[1], l->tsize[1], -1, 1);
		xb_nn_layer_touch(l);
		size_t isz = xb_nn_shape_size(in), osz = xb_nn_shape_size(l->out);
		float *x = malloc(n * isz * sizeof *x), *y = malloc(n * osz * sizeof *y);
		double *ref = malloc(osz * sizeof *ref);
		fill(x, n * isz, -1, 1);
		ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_OK);
		ck_assert_int_eq(l->out.h, (in.h + 2 * ph - kh) / sh + 1);
		for (size_t s = 0; s < n; s++) {
			direct_conv(x + s * isz, in, l->t[0], l->t[1], f, kh, kw, sh, sw, ph, pw, ref);
			for (size_t i = 0; i < osz; i++)
				/* float32 sums of at most 5*5*4 products of |.| <= 1: error < 1e-5 */
				ck_assert_msg(fabs(y[s * osz + i] - ref[i]) < 1e-5, "trial %d (%s %dx%dx%d)"
					      ": y[%zu] = %.7g, direct %.7g", trial, opts, in.h, in.w,
					      in.c, i, y[s * osz + i], ref[i]);
		}
		free(x);
		free(y);
		free(ref);
		xb_nn_net_free(net);
	}
}
END_TEST

/* Chunk sizes shrink when one chunk's im2col would pass 8 MB (2^21 floats): here one
 * sample lowers to 64*64 positions x 3*3*16 = 589,824 floats, so a batch of 24 runs
 * in chunks of 3 samples and one of 32 in chunks of 2.  Every batch size up to the
 * reserved one must fit the workspace (ASan checks) and give each sample the output
 * it gets alone. */
START_TEST(test_chunk_sizes)
{
	static const size_t sizes[] = {24, 32, 5, 1, 17};
	xb_nn_net *net = net_of("input 64x64x16; conv2d out=4 kernel=3 pad=1; avgpool kernel=64; "
				"flatten");
	size_t isz = 64 * 64 * 16;
	float *x = malloc(32 * isz * sizeof *x), y[32 * 4], y1[4], dy[32 * 4];
	rng_seed(1212);
	fill(x, 32 * isz, -1, 1);
	fill(dy, 32 * 4, -1, 1);
	ck_assert_int_eq(xb_nn_net_reserve(net, 32), XB_OK);
	for (size_t k = 0; k < 5; k++) {
		size_t n = sizes[k];
		ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 1), XB_OK);
		ck_assert_int_eq(xb_nn_net_backward(net, n, dy, NULL), XB_OK);
		for (size_t s = 0; s < n; s += 7) {
			ck_assert_int_eq(xb_nn_net_forward(net, 1, x + s * isz, y1, 0), XB_OK);
			for (int o = 0; o < 4; o++)
				ck_assert(fabsf(y1[o] - y[s * 4 + o]) < 1e-5f);
		}
	}
	free(x);
	xb_nn_net_free(net);
}
END_TEST

START_TEST(test_col2im_adjoint)
{
	/* <im2col(x), d> == <x, col2im(d)> for the adjoint pair, any shapes */
	rng_seed(303);
	xb_nn_shape in = {6, 5, 3};
	int kh = 3, kw = 2, sh = 2, sw = 1, ph = 1, pw = 1;
	int oh = xb_nn_conv_out(6, 3, 2, 1), ow = xb_nn_conv_out(5, 2, 1, 1);
	/* (6 + 2 - 3) / 2 + 1 = 3, (5 + 2 - 2) / 1 + 1 = 6 */
	ck_assert_int_eq(oh, 3);
	ck_assert_int_eq(ow, 6);
	size_t nc = (size_t)oh * ow * kh * kw * in.c, nx = xb_nn_shape_size(in);
	float *x = malloc(nx * sizeof *x), *cols = malloc(nc * sizeof *cols);
	float *d = malloc(nc * sizeof *d), *dx = malloc(nx * sizeof *dx);
	fill(x, nx, -1, 1);
	fill(d, nc, -1, 1);
	xb_nn_im2col(x, in, kh, kw, sh, sw, ph, pw, cols);
	xb_nn_col2im(d, in, kh, kw, sh, sw, ph, pw, dx);
	double a = 0, b = 0;
	for (size_t i = 0; i < nc; i++)
		a += (double)cols[i] * d[i];
	for (size_t i = 0; i < nx; i++)
		b += (double)x[i] * dx[i];
	ck_assert(fabs(a - b) < 1e-4);
	ck_assert_int_eq(xb_nn_conv_out(3, 5, 1, 0), 0);   /* kernel larger than input */
	free(x);
	free(cols);
	free(d);
	free(dx);
}
END_TEST

/* ---- batch-norm folding ---------------------------------------------------------------- */

static void randomise_bn(xb_nn_net *net)
{
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		xb_nn_layer *l = xb_nn_net_layer_mut(net, i);
		if (l->type != &xb_nn_batchnorm)
			continue;
		for (int k = 0; k < l->in.c; k++) {
			l->t[0][k] = (float)(0.5 + urand());
			l->t[1][k] = (float)(urand() - 0.5);
			l->t[2][k] = (float)(urand() - 0.5);
			l->t[3][k] = (float)(0.2 + urand());
		}
		xb_nn_layer_touch(l);
	}
}

START_TEST(test_fold)
{
	static const char *const specs[] = {
		"input 6x6x2; conv2d out=3 kernel=3 pad=1; batchnorm; relu; flatten; dense out=4; batchnorm",
		"input 5x5x3; dwconv2d kernel=3; batchnorm eps=0.001; avgpool kernel=3",
		"input 9x1x2; conv1d out=3 kernel=4 stride=2; batchnorm; maxpool kernel=2x1",
	};
	rng_seed(404);
	for (size_t s = 0; s < 3; s++) {
		xb_nn_net *net = net_of(specs[s]);
		randomise_bn(net);
		int nl = xb_nn_net_nlayers(net);
		size_t n = 4, isz = xb_nn_shape_size(xb_nn_net_in_shape(net));
		size_t osz = xb_nn_shape_size(xb_nn_net_out_shape(net));
		float *x = malloc(n * isz * sizeof *x), *y0 = malloc(n * osz * sizeof *y0);
		float *y1 = malloc(n * osz * sizeof *y1);
		fill(x, n * isz, -1, 1);
		ck_assert_int_eq(xb_nn_net_forward(net, n, x, y0, 0), XB_OK);
		ck_assert_int_eq(xb_nn_net_fold(net), XB_OK);
		for (int i = 0; i < xb_nn_net_nlayers(net); i++)
			ck_assert_ptr_ne(xb_nn_net_layer(net, i)->type, &xb_nn_batchnorm);
		ck_assert_int_lt(xb_nn_net_nlayers(net), nl);
		ck_assert_int_eq(xb_nn_net_forward(net, n, x, y1, 0), XB_OK);
		for (size_t i = 0; i < n * osz; i++)
			/* eval-mode batch norm is affine per channel: folding changes only float
			 * rounding (a few ulp of values of order 1-10) */
			ck_assert_msg(fabsf(y0[i] - y1[i]) <= 1e-5f * (1 + fabsf(y0[i])),
				      "spec %zu: y[%zu] unfolded %.8g folded %.8g", s, i, y0[i], y1[i]);
		free(x);
		free(y0);
		free(y1);
		xb_nn_net_free(net);
	}
}
END_TEST

/* ---- quantization ------------------------------------------------------------------------ */

START_TEST(test_requant_hand)
{
	/* codes = clamp(floor(acc / 2^shift), 0, 2^bits - 1), worked by hand */
	static const int32_t acc[] = {127, 64, 63, 62, 3, -1, -128, 0, 40};
	static const uint8_t shift1_bits5[] = {31, 31, 31, 31, 1, 0, 0, 0, 20};
	/* 127>>2 = 31, 64>>2 = 16, 63>>2 = 15, 62>>2 = 15, 3>>2 = 0, -1 -> floor(-0.25) = -1
	 * -> 0, -128 -> -32 -> 0, 0, 40>>2 = 10 */
	static const uint8_t shift2_bits5[] = {31, 16, 15, 15, 0, 0, 0, 0, 10};
	/* bits 3: max 7; 127>>3 = 15 -> 7, 64>>3 = 8 -> 7, 63>>3 = 7, 62>>3 = 7, 40>>3 = 5 */
	static const uint8_t shift3_bits3[] = {7, 7, 7, 7, 0, 0, 0, 0, 5};
	uint8_t c[9];
	xb_nn_requant_codes(acc, 9, 1, 5, c);
	ck_assert_mem_eq(c, shift1_bits5, 9);
	xb_nn_requant_codes(acc, 9, 2, 5, c);
	ck_assert_mem_eq(c, shift2_bits5, 9);
	xb_nn_requant_codes(acc, 9, 3, 3, c);
	ck_assert_mem_eq(c, shift3_bits3, 9);
	/* shift 0 is a plain clamp: 40 -> 31 (5 bits) */
	xb_nn_requant_codes(acc + 8, 1, 0, 5, c);
	ck_assert_uint_eq(c[0], 31);

	/* weights, scale 0.05, 6 bits (max 63): 0.51/0.05 = 10.2 -> 10; -0.26 -> -5.2 -> -5;
	 * 2.385 -> 47.7 -> 48; 4.0 -> 80 -> 63; -3.3 -> -66 -> -63 */
	static const float w[] = {0.51f, -0.26f, 2.385f, 4.0f, -3.3f};
	static const int8_t wq_want[] = {10, -5, 48, 63, -63};
	int8_t wq[5];
	xb_nn_quantize_weights(w, 5, 6, 0.05f, wq);
	ck_assert_mem_eq(wq, wq_want, 5);
	/* inputs, scale 0.1, zero point 3, 5 bits: 0 -> 3; 0.24 -> 2.4 -> 2 + 3 = 5; 1.04 ->
	 * 10.4 -> 13; 2.0 -> 23; -0.31 -> -3.1 -> -3 + 3 = 0; -1 -> -7 -> 0; 5 -> 53 -> 31 */
	static const float xv[] = {0.0f, 0.24f, 1.04f, 2.0f, -0.31f, -1.0f, 5.0f};
	static const uint8_t xq_want[] = {3, 5, 13, 23, 0, 0, 31};
	uint8_t xq[7];
	xb_nn_quantize_inputs(xv, 7, 5, 0.1f, 3, xq);
	ck_assert_mem_eq(xq, xq_want, 7);
}
END_TEST

/* The quantized network against an integer pipeline computed here from the layers'
 * quantization fields (design comment of xb_nn.h). */
START_TEST(test_quantized_pipeline)
{
	rng_seed(505);
	xb_nn_net *net = net_of("input 1x1x8; dense out=6; requant; dense out=4");
	size_t n = 64;
	float *x = malloc(n * 8 * sizeof *x), *y = malloc(n * 4 * sizeof *y);
	fill(x, n * 8, -1.5, 2.5);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 1), XB_ESTATE);
	xb_nn_quant_params zp = xb_nn_quant_default_params();
	zp.split_signed = 0;         /* the zero-point mapping (test_split_inputs: pairs) */
	ck_assert_int_eq(xb_nn_net_quantize(net, n, x, &zp), XB_OK);
	ck_assert_int_eq(xb_nn_net_quantized(net), 1);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_OK);
	const xb_nn_layer *d0 = xb_nn_net_layer(net, 0), *rq = xb_nn_net_layer(net, 1);
	const xb_nn_layer *d1 = xb_nn_net_layer(net, 2);
	/* signed inputs get a zero point inside the code range */
	ck_assert_int_gt(d0->q.x_zero, 0);
	ck_assert_int_lt(d0->q.x_zero, 31);
	ck_assert_int_ge(rq->hp.shift, 0);
	ck_assert_int_eq(d1->q.x_from, 1);
	ck_assert_int_eq(rq->requant_src, 0);
	/* the next layer's input scale is k0 * 2^shift */
	ck_assert(fabs(d1->q.x_scale - d0->q.lsb_scale * ldexp(1.0, rq->hp.shift)) <
		  1e-6 * d1->q.x_scale);
	int mism = 0;
	for (size_t s = 0; s < n; s++) {
		uint8_t xq[8], c1[6];
		int32_t a[6];
		xb_nn_quantize_inputs(x + s * 8, 8, 5, d0->q.x_scale, d0->q.x_zero, xq);
		for (int r = 0; r < 6; r++) {
			int32_t acc = 0;
			for (int c = 0; c < 8; c++)
				acc += d0->q.wq[r * 8 + c] * xq[c];
			a[r] = acc + (int32_t)d0->q.bias_lsb[r];   /* gain 1: y_lsb = Wq xq */
		}
		xb_nn_requant_codes(a, 6, rq->hp.shift, 5, c1);
		for (int r = 0; r < 4; r++) {
			int32_t acc = 0;
			for (int c = 0; c < 6; c++)
				acc += d1->q.wq[r * 6 + c] * c1[c];
			double want = (double)d1->q.lsb_scale * (acc + d1->q.bias_lsb[r]);
			if (fabs(y[s * 4 + r] - want) > 1e-5 * (1 + fabs(want)))
				mism++;
		}
	}
	ck_assert_int_eq(mism, 0);

	/* quantized outputs approximate the float ones: switch back and compare */
	float *yf = malloc(n * 4 * sizeof *yf);
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 0), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, yf, 0), XB_OK);
	double num = 0, den = 0;
	for (size_t i = 0; i < n * 4; i++) {
		num += (y[i] - yf[i]) * (y[i] - yf[i]);
		den += yf[i] * yf[i];
	}
	/* 5-bit inputs and 6-bit weights: a relative RMS error of a few percent; 0.25 fails
	 * only if the scales are wrong */
	ck_assert_msg(sqrt(num / den) < 0.25, "relative rms error %g", sqrt(num / den));
	free(yf);
	free(x);
	free(y);
	xb_nn_net_free(net);
}
END_TEST

/* STE: in quantized mode the gradients are those of the dequantized weights and inputs,
 * gated by the input range. */
START_TEST(test_ste)
{
	rng_seed(606);
	xb_nn_net *net = net_of("input 1x1x5; dense out=3");
	size_t n = 16;
	float *x = malloc(n * 5 * sizeof *x), *y = malloc(n * 3 * sizeof *y);
	float *r = malloc(n * 3 * sizeof *r), *dx = malloc(n * 5 * sizeof *dx);
	fill(x, n * 5, 0, 1);
	ck_assert_int_eq(xb_nn_net_quantize(net, n, x, NULL), XB_OK);
	/* push two inputs outside the calibrated range: their gradient must vanish */
	x[0] = 50.0f;
	x[7] = -50.0f;
	fill(r, n * 3, -1, 1);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 1), XB_OK);
	ck_assert_int_eq(xb_nn_net_backward(net, n, r, dx), XB_OK);
	const xb_nn_layer *l = xb_nn_net_layer(net, 0);
	const float *gw = xb_nn_net_grad(net, 0, 0), *gb = xb_nn_net_grad(net, 0, 1);
	const xb_nn_quant *q = &l->q;
	for (int o = 0; o < 3; o++) {
		double sb = 0;
		for (size_t s = 0; s < n; s++)
			sb += r[s * 3 + o];
		ck_assert(fabs(gb[o] - sb) < 1e-5);
		for (int c = 0; c < 5; c++) {
			double sw = 0;
			for (size_t s = 0; s < n; s++) {
				double code = rintf(x[s * 5 + c] * (1.0f / q->x_scale)) + q->x_zero;
				code = code < 0 ? 0 : code > 31 ? 31 : code;
				sw += r[s * 3 + o] * q->x_scale * (code - q->x_zero);
			}
			ck_assert_msg(fabs(gw[o * 5 + c] - sw) < 1e-4, "gw[%d][%d] %g want %g", o, c,
				      gw[o * 5 + c], sw);
		}
	}
	for (size_t s = 0; s < n; s++)
		for (int c = 0; c < 5; c++) {
			double code = rintf(x[s * 5 + c] * (1.0f / q->x_scale)) + q->x_zero, want = 0;
			if (code >= 0 && code <= 31)
				for (int o = 0; o < 3; o++)
					want += r[s * 3 + o] * q->w_scale * q->wq[o * 5 + c];
			ck_assert(fabs(dx[s * 5 + c] - want) < 1e-5);
		}
	ck_assert_float_eq(dx[0], 0.0f);
	ck_assert_float_eq(dx[7], 0.0f);
	free(x);
	free(y);
	free(r);
	free(dx);
	xb_nn_net_free(net);
}
END_TEST

/* A plugged-in backend: counts calls, saturates at +-8 LSB. */
typedef struct probe_backend {
	int float_calls, code_calls;
	size_t vectors;
} probe_backend;

static xb_status tb_float(void *state, const xb_nn_mvm *op, size_t n, const float *x,
			  float *y, xb_err *err)
{
	probe_backend *tb = state;
	(void)err;
	tb->float_calls++;
	tb->vectors += n;
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < op->rows; r++) {
			double s = 0;
			for (size_t c = 0; c < op->cols; c++)
				s += (double)op->w[r * op->cols + c] * x[i * op->cols + c];
			y[i * op->rows + r] = (float)s;
		}
	return XB_OK;
}

static xb_status tb_codes(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			  float *y, xb_err *err)
{
	probe_backend *tb = state;
	tb->code_calls++;
	tb->vectors += n;
	if (op->layer->index > 100)
		return xb_raise(err, XB_EINTERNAL, "never");
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < op->rows; r++) {
			int64_t s = 0;
			for (size_t c = 0; c < op->cols; c++)
				s += (int64_t)op->wq[r * op->cols + c] * xq[i * op->cols + c];
			double v = floor(0.5 * (double)s);           /* gain 0.5 */
			y[i * op->rows + r] = (float)(v < -8 ? -8 : v > 8 ? 8 : v);
		}
	return XB_OK;
}

static xb_status tb_fail(void *state, const xb_nn_mvm *op, size_t n, const float *x, float *y,
			 xb_err *err)
{
	(void)state;
	(void)n;
	(void)x;
	(void)y;
	return xb_raise(err, XB_EKERNEL, "tile %zu rows: simulated failure", op->rows);
}

/* A test device: y = g S sum wq xq + off0 + off_step r for output r (g, off0, off_step
 * from its state), no noise, no rounding; it remembers the last call's columns and
 * the codes of its last vector. */
typedef struct lin_device {
	double gain, off0, off_step;
	size_t last_cols;
	uint8_t last_x[64];
} lin_device;

static xb_status lin_codes(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			   float *y, xb_err *err)
{
	lin_device *d = state;
	(void)err;
	d->last_cols = op->cols;
	if (n && op->cols <= sizeof d->last_x)
		memcpy(d->last_x, xq + (n - 1) * op->cols, op->cols);
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < op->rows; r++) {
			int64_t s = 0;
			for (size_t c = 0; c < op->cols; c++)
				s += (int64_t)op->wq[r * op->cols + c] * xq[i * op->cols + c];
			y[i * op->rows + r] = (float)(d->gain * op->sends * (double)s + d->off0 +
						      d->off_step * (double)r);
		}
	return XB_OK;
}

static const xb_nn_backend_type lin_type = {"linear", NULL, lin_codes};

/* Sends chosen at quantization (xb_nn.h: clamp(floor(fill L / p), 1, max)) and the
 * offset calibration removing a known offset. */
START_TEST(test_sends_and_offsets)
{
	/* linear range 80 LSB, gain 0.001 per send, offset 3 + r/2 LSB on output r */
	lin_device dev = {0.001, 3.0, 0.5, 0, {0}};
	xb_nn_backend be = {&lin_type, &dev, 0.001, -1e9, 1e9, 80.0, 1, 64};
	rng_seed(99);
	xb_nn_net *net = net_of("input 1x1x6; dense out=3");
	enum { N = 40 };
	float x[N * 6], y[N * 3], yf[N * 3];
	fill(x, N * 6, 0, 1);
	xb_nn_net_set_backend(net, &be);
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	qp.percentile = 100.0;       /* p = the largest |raw output| */
	qp.fill = 0.5;
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_OK);
	const xb_nn_layer *l = xb_nn_net_layer(net, 0);
	/* raw output of one send, from the codes: 0.001 * sum wq xq (inputs >= 0: z = 0) */
	uint8_t xq[N * 6];
	xb_nn_quantize_inputs(x, N * 6, 5, l->q.x_scale, l->q.x_zero, xq);
	double p = 0;
	for (int i = 0; i < N; i++)
		for (int r = 0; r < 3; r++) {
			int64_t acc = 0;
			for (int c = 0; c < 6; c++)
				acc += (int64_t)l->q.wq[r * 6 + c] * xq[i * 6 + c];
			p = fmax(p, fabs(0.001 * (double)acc));
		}
	int want = (int)floor(0.5 * 80.0 / p);
	want = want < 1 ? 1 : want > 64 ? 64 : want;
	/* the quantizer estimates p from the float outputs (y / k - d), which differ
	 * from the codes' sum by the rounding of x and d: allow one send either way */
	ck_assert_int_ge(l->hp.sends, want - 1);
	ck_assert_int_le(l->hp.sends, want + 1);
	ck_assert_int_gt(l->hp.sends, 1);
	/* k = s_w s_x / (sends g) */
	ck_assert(fabs(l->q.lsb_scale - l->q.w_scale * l->q.x_scale / (0.001 * l->hp.sends)) <
		  1e-6 * l->q.lsb_scale);

	/* offsets: before calibration every output reads k (3 + r/2) high; after it, the
	 * correction is -(3 + r/2) exactly (the mean of a constant) and outputs equal the
	 * float backend's ideal quantized outputs up to the rounding of d (<= k/2) */
	for (int r = 0; r < 3; r++)
		ck_assert_float_eq(l->q.offset_lsb[r], 0.0f);
	ck_assert_int_eq(xb_nn_net_calibrate_offsets(net, 0, x), XB_EINVAL);   /* no samples */
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "no samples"));
	ck_assert_int_eq(xb_nn_net_calibrate_offsets(net, N, x), XB_OK);
	for (int r = 0; r < 3; r++)
		ck_assert_float_eq_tol(l->q.offset_lsb[r], -(3.0f + 0.5f * (float)r), 1e-5f);
	ck_assert_int_eq(xb_nn_net_forward(net, N, x, y, 0), XB_OK);
	xb_nn_backend fb = xb_nn_backend_float();
	fb.gain = 0.001 * l->hp.sends;
	xb_nn_net_set_backend(net, &fb);
	/* same scales: the float backend at gain 0.001 S with the layer pinned to 1 send
	 * has the same layer gain (and so the same k and d) as the device at S sends */
	xb_nn_layer *lm = xb_nn_net_layer_mut(net, 0);
	int sends = lm->hp.sends;
	lm->hp.sends = 1;
	for (int r = 0; r < 3; r++)
		lm->q.offset_lsb[r] = 0.0f;
	ck_assert_int_eq(xb_nn_net_forward(net, N, x, yf, 0), XB_OK);
	for (int i = 0; i < N * 3; i++)
		ck_assert_float_eq_tol(y[i], yf[i], 0.5f * l->q.lsb_scale + 1e-5f);
	lm->hp.sends = sends;
	/* the float backend has nothing to calibrate */
	ck_assert_int_eq(xb_nn_net_calibrate_offsets(net, N, x), XB_OK);
	for (int r = 0; r < 3; r++)
		ck_assert_float_eq(l->q.offset_lsb[r], 0.0f);
	/* limits: fill outside 0 .. 1, calibration of a float-mode network */
	qp.fill = 1.5;
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "fill 1.5"));
	ck_assert_int_eq(xb_nn_net_set_quantized(net, 0), XB_OK);
	ck_assert_int_eq(xb_nn_net_calibrate_offsets(net, N, x), XB_ESTATE);
	xb_nn_net_free(net);
}
END_TEST

/* Signed inputs as row pairs (xb_nn.h): z = 0, s_x = max(-lo, hi) / Qx, the backend
 * sees 2K codes max(c, 0), max(-c, 0) and weights Wq, -Wq, and computes what the
 * float backend computes with signed codes. */
START_TEST(test_split_inputs)
{
	lin_device dev = {0.5, 0.0, 0.0, 0, {0}};      /* exact: gain 0.5, no offsets */
	xb_nn_backend be = {&lin_type, &dev, 0.5, -INFINITY, INFINITY, INFINITY, 1, 1};
	rng_seed(606);
	xb_nn_net *net = net_of("input 1x1x8; dense out=6");
	enum { N = 50 };
	float x[N * 8], y[N * 6], yf[N * 6];
	fill(x, N * 8, -1.5, 2.5);
	xb_nn_net_set_backend(net, &be);
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	qp.percentile = 100.0;
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_OK);
	const xb_nn_layer *l = xb_nn_net_layer(net, 0);
	ck_assert_int_eq(l->q.x_split, 1);
	ck_assert_int_eq(l->q.x_zero, 0);
	float lo = 0, hi = 0;
	for (int i = 0; i < N * 8; i++) {
		lo = fminf(lo, x[i]);
		hi = fmaxf(hi, x[i]);
	}
	/* the 100th percentiles are the extremes: s_x = max(-lo, hi) / 31 */
	ck_assert_float_eq_tol(l->q.x_scale, fmaxf(-lo, hi) / 31.0f, 1e-6f);
	ck_assert_int_eq(xb_nn_net_forward(net, N, x, y, 0), XB_OK);
	ck_assert_uint_eq(dev.last_cols, 16);
	/* the last sample's codes, by hand */
	for (int k = 0; k < 8; k++) {
		float c = rintf(x[(N - 1) * 8 + k] * (1.0f / l->q.x_scale));
		c = c < -31 ? -31 : c > 31 ? 31 : c;
		ck_assert_uint_eq(dev.last_x[k], c > 0 ? (unsigned)c : 0);
		ck_assert_uint_eq(dev.last_x[8 + k], c < 0 ? (unsigned)-c : 0);
	}
	/* the float backend at the same gain: the same outputs (exact integer sums) */
	xb_nn_backend fb = xb_nn_backend_float();
	fb.gain = 0.5;
	xb_nn_net_set_backend(net, &fb);
	ck_assert_int_eq(xb_nn_net_forward(net, N, x, yf, 0), XB_OK);
	for (int i = 0; i < N * 6; i++)
		ck_assert_float_eq_tol(y[i], yf[i], 1e-5f * fmaxf(1.0f, fabsf(yf[i])));
	/* the model file keeps x_split */
	char path[128];
	xb_err err = { 0 };
	make_tmpdir();
	tmp_path(path, sizeof path, "split.h5");
	ck_assert_int_eq(xb_nn_net_save(net, path, NULL, NULL, &err), XB_OK);
	xb_nn_net *back = xb_nn_net_load(path, &err);
	ck_assert_msg(back != NULL, "%s", err.msg);
	ck_assert_int_eq(xb_nn_net_layer(back, 0)->q.x_split, 1);
	xb_nn_net_free(back);
	rm_tmpdir();
	/* split_signed = 0: the zero point */
	qp.split_signed = 0;
	xb_nn_net_set_backend(net, &be);
	ck_assert_int_eq(xb_nn_net_quantize(net, N, x, &qp), XB_OK);
	ck_assert_int_eq(l->q.x_split, 0);
	ck_assert_int_gt(l->q.x_zero, 0);
	ck_assert_int_eq(xb_nn_net_forward(net, N, x, y, 0), XB_OK);
	ck_assert_uint_eq(dev.last_cols, 8);
	xb_nn_net_free(net);
}
END_TEST

START_TEST(test_backend)
{
	static const xb_nn_backend_type tbt = {"test", tb_float, tb_codes};
	static const xb_nn_backend_type failing = {"failing", tb_fail, NULL};
	probe_backend tb = {0, 0, 0};
	xb_nn_backend be = {&tbt, &tb, 0.5, -8.0, 8.0, INFINITY, 1, 1};
	rng_seed(707);
	/* conv: every output position of every sample is one MVM */
	xb_nn_net *net = net_of("input 6x5x2; conv2d out=3 kernel=3x2 stride=1; flatten; dense out=2");
	size_t n = 5;
	float *x = malloc(n * 60 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
	float *y2 = malloc(n * 2 * sizeof *y2);
	fill(x, n * 60, 0, 1);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y, 0), XB_OK);
	xb_nn_net_set_backend(net, &be);
	ck_assert_ptr_eq(xb_nn_net_backend(net)->type, &tbt);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y2, 0), XB_OK);
	/* conv output 4x4 positions x 5 samples = 80 vectors, dense 5 vectors; a batch is
	 * cut into chunks of ceil(5 / 8) = 1 sample, one backend call each: 5 + 5 calls */
	ck_assert_int_eq(tb.float_calls, 10);
	ck_assert_uint_eq(tb.vectors, 85);
	for (size_t i = 0; i < n * 2; i++)
		ck_assert(fabsf(y[i] - y2[i]) < 1e-5f);

	/* quantized: codes in, saturating LSB out; saturated outputs pass no gradient */
	tb.vectors = 0;
	ck_assert_int_eq(xb_nn_net_quantize(net, n, x, NULL), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y2, 1), XB_OK);
	ck_assert_int_ge(tb.code_calls, 2);
	const xb_nn_layer *dl = xb_nn_net_layer(net, 2);
	/* k = s_w s_x / g with g = 0.5 */
	ck_assert(fabs(dl->q.lsb_scale - dl->q.w_scale * dl->q.x_scale / 0.5) <
		  1e-6 * dl->q.lsb_scale);
	float dy[10];
	for (int i = 0; i < 10; i++)
		dy[i] = 1.0f;
	ck_assert_int_eq(xb_nn_net_backward(net, n, dy, NULL), XB_OK);
	const float *gb = xb_nn_net_grad(net, 2, 1);
	for (int o = 0; o < 2; o++) {
		/* gb[o] counts the samples whose output o did not saturate: y/k - d is the LSB */
		int unsat = 0;
		for (size_t s = 0; s < n; s++) {
			double lsb = y2[s * 2 + o] / dl->q.lsb_scale - dl->q.bias_lsb[o];
			unsat += fabs(lsb) < 7.5;
		}
		ck_assert_float_eq_tol(gb[o], (float)unsat, 1e-5f);
	}
	xb_nn_backend bad = {&failing, NULL, 1.0, -INFINITY, INFINITY, INFINITY, 1, 1};
	xb_nn_net_set_quantized(net, 0);
	xb_nn_net_set_backend(net, &bad);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y2, 0), XB_EKERNEL);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "backend failing"));
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "simulated failure"));
	xb_nn_net_set_backend(net, NULL);
	ck_assert_ptr_eq(xb_nn_net_backend(net)->type, &xb_nn_backend_float_type);
	free(x);
	free(y);
	free(y2);
	xb_nn_net_free(net);
}
END_TEST

/* ---- training ------------------------------------------------------------------------- */

/* Three 2-D Gaussian blobs, sigma 0.5, centres (0,0), (3,0), (0,3): 6 sigma apart, so the
 * Bayes accuracy is above 99.8%. */
static void make_blobs(size_t n, float *x, int32_t *label)
{
	static const double cx[3] = {0, 3, 0}, cy[3] = {0, 0, 3};
	for (size_t i = 0; i < n; i++) {
		int k = (int)(i % 3);
		label[i] = k;
		x[2 * i] = (float)(cx[k] + 0.5 * nrand());
		x[2 * i + 1] = (float)(cy[k] + 0.5 * nrand());
	}
}

/* 8x8 images: class 0 a horizontal bar, 1 a vertical bar, 2 none; noise sigma 0.3. */
static void make_bars(size_t n, float *x, int32_t *label)
{
	for (size_t i = 0; i < n; i++) {
		int k = (int)(i % 3), pos = (int)(urand() * 8);
		float *im = x + i * 64;
		label[i] = k;
		for (int p = 0; p < 64; p++)
			im[p] = (float)(0.3 * nrand());
		for (int j = 0; j < 8; j++) {
			if (k == 0)
				im[pos * 8 + j] += 1.0f;
			else if (k == 1)
				im[j * 8 + pos] += 1.0f;
		}
	}
}

typedef struct epoch_log {
	int calls;
	int stop_after;
	double last_val;
} epoch_log;

static int on_epoch(void *ud, const xb_nn_epoch *e)
{
	epoch_log *lg = ud;
	lg->calls++;
	lg->last_val = e->val_acc;
	return lg->stop_after && lg->calls >= lg->stop_after;
}

static int progress_calls;
static uint64_t progress_last, progress_total;

static int on_progress(void *ud, uint64_t done, uint64_t total)
{
	(void)ud;
	progress_calls++;
	ck_assert_uint_ge(done, progress_last);
	progress_last = done;
	progress_total = total;
	return 0;
}

START_TEST(test_train_blobs)
{
	rng_seed(808);
	size_t ntr = 300, nva = 150;
	float *xtr = malloc(ntr * 2 * sizeof(float)), *xva = malloc(nva * 2 * sizeof(float));
	int32_t *ltr = malloc(ntr * sizeof(int32_t)), *lva = malloc(nva * sizeof(int32_t));
	make_blobs(ntr, xtr, ltr);
	make_blobs(nva, xva, lva);
	xb_nn_data tr = {ntr, xtr, ltr}, va = {nva, xva, lva};
	xb_nn_net *net = net_of("input 1x1x2; dense out=16; relu; dense out=3");
	xb_nn_train_params p = xb_nn_train_default_params();
	epoch_log lg = {0, 0, 0};
	p.epochs = 15;
	p.batch = 16;
	p.lr = 0.01;
	p.on_epoch = on_epoch;
	p.epoch_ud = &lg;
	p.progress = on_progress;
	progress_calls = 0;
	progress_last = 0;
	ck_assert_int_eq(xb_nn_train(net, &tr, &va, &p), XB_OK);
	ck_assert_int_eq(lg.calls, 15);
	/* 19 batches (300 / 16 rounded up) per epoch */
	ck_assert_int_eq(progress_calls, 15 * 19);
	ck_assert_uint_eq(progress_last, 15 * 300);
	ck_assert_uint_eq(progress_total, 15 * 300);
	size_t nrec;
	int best;
	const xb_nn_epoch *rec = xb_nn_net_record(net, &nrec, &best);
	ck_assert_uint_eq(nrec, 15);
	ck_assert_int_ge(best, 1);
	ck_assert(rec[14].train_loss < rec[0].train_loss);
	/* the cosine ends near lr_min = 0: last step's lr = 0.01 * (1 + cos(pi * 284/285)) / 2 */
	ck_assert(rec[14].lr < 1e-5);
	double acc;
	ck_assert_int_eq(xb_nn_evaluate(net, &va, NULL, &acc, NULL), XB_OK);
	/* stated target: >= 97% on blobs whose Bayes accuracy is > 99.8% */
	ck_assert_msg(acc >= 0.97, "validation accuracy %g", acc);
	ck_assert(fabs(acc - rec[best - 1].val_acc) < 1e-12);
	free(xtr);
	free(xva);
	free(ltr);
	free(lva);
	xb_nn_net_free(net);
}
END_TEST

/* Hardware-aware training: float training, calibration, then epochs in quantized mode
 * (forward through the codes, STE backward). */
START_TEST(test_train_quantized)
{
	rng_seed(818);
	size_t ntr = 300, nva = 150;
	float *xtr = malloc(ntr * 2 * sizeof(float)), *xva = malloc(nva * 2 * sizeof(float));
	int32_t *ltr = malloc(ntr * sizeof(int32_t)), *lva = malloc(nva * sizeof(int32_t));
	make_blobs(ntr, xtr, ltr);
	make_blobs(nva, xva, lva);
	xb_nn_data tr = {ntr, xtr, ltr}, va = {nva, xva, lva};
	/* 1-bit weights and hidden codes: post-training quantization loses much */
	xb_nn_net *net = net_of("input 1x1x2; dense out=8 wbits=1 xbits=5; requant bits=1; "
				"dense out=3 wbits=1 xbits=1");
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 10;
	p.batch = 16;
	p.lr = 0.01;
	ck_assert_int_eq(xb_nn_train(net, &tr, &va, &p), XB_OK);
	ck_assert_int_eq(xb_nn_net_quantize(net, ntr, xtr, NULL), XB_OK);
	double acc_q, acc_qat;
	ck_assert_int_eq(xb_nn_evaluate(net, &va, NULL, &acc_q, NULL), XB_OK);
	p.epochs = 10;
	p.lr = 0.01;
	ck_assert_int_eq(xb_nn_train(net, &tr, &va, &p), XB_OK);
	ck_assert_int_eq(xb_nn_net_quantized(net), 1);
	ck_assert_int_eq(xb_nn_evaluate(net, &va, NULL, &acc_qat, NULL), XB_OK);
	/* stated target: quantization-aware epochs recover at least 15 points and reach
	 * 75% (measured: 53.3% after calibration, 80.7% after 10 epochs) */
	ck_assert_msg(acc_qat >= 0.75 && acc_qat >= acc_q + 0.15, "quantized accuracy %g "
		      "(before QAT %g)", acc_qat, acc_q);
	size_t nrec;
	xb_nn_net_record(net, &nrec, NULL);
	ck_assert_uint_eq(nrec, 20);   /* the record goes on across calls */
	free(xtr);
	free(xva);
	free(ltr);
	free(lva);
	xb_nn_net_free(net);
}
END_TEST

/* Train the bar CNN (conv, batch norm, pooling, dense) with THREADS threads. */
static xb_nn_net *train_bars(int threads, double *acc)
{
	rng_seed(909);
	size_t ntr = 240, nva = 120;
	float *xtr = malloc(ntr * 64 * sizeof(float)), *xva = malloc(nva * 64 * sizeof(float));
	int32_t *ltr = malloc(ntr * sizeof(int32_t)), *lva = malloc(nva * sizeof(int32_t));
	make_bars(ntr, xtr, ltr);
	make_bars(nva, xva, lva);
	xb_nn_data tr = {ntr, xtr, ltr}, va = {nva, xva, lva};
	xb_nn_net *net = net_of("input 8x8x1; conv2d out=4 kernel=3 pad=1; batchnorm; relu; "
				"maxpool kernel=2; flatten; dense out=3");
	xb_nn_augment_kws_params aug = {1, 1, 1, 0, 0};
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 15;
	p.batch = 20;
	p.lr = 0.05;
	p.seed = 42;
	p.weight_decay = 1e-4;
	p.augment = xb_nn_augment_kws;
	p.augment_ud = &aug;
	set_threads(threads);
	ck_assert_int_eq(xb_nn_train(net, &tr, &va, &p), XB_OK);
	set_threads(2);
	ck_assert_int_eq(xb_nn_evaluate(net, &va, NULL, acc, NULL), XB_OK);
	free(xtr);
	free(xva);
	free(ltr);
	free(lva);
	return net;
}

START_TEST(test_train_deterministic)
{
	double a1, a2;
	xb_nn_net *n1 = train_bars(1, &a1), *n2 = train_bars(2, &a2);
	/* stated target: >= 95% on bars the eye separates without error (99.2% measured
	 * without augmentation) */
	ck_assert_msg(a1 >= 0.95, "validation accuracy %g", a1);
	ck_assert(a1 == a2);
	for (int i = 0; i < xb_nn_net_nlayers(n1); i++) {
		const xb_nn_layer *l1 = xb_nn_net_layer(n1, i), *l2 = xb_nn_net_layer(n2, i);
		for (int t = 0; t < l1->ntensors; t++)
			ck_assert_msg(memcmp(l1->t[t], l2->t[t], l1->tsize[t] * sizeof(float)) == 0,
				      "layer %d tensor %s differs between 1 and 2 threads", i,
				      l1->type->tensor_names[t]);
	}
	size_t k1, k2;
	const xb_nn_epoch *r1 = xb_nn_net_record(n1, &k1, NULL), *r2 = xb_nn_net_record(n2, &k2, NULL);
	ck_assert_uint_eq(k1, k2);
	for (size_t e = 0; e < k1; e++) {
		ck_assert(r1[e].train_loss == r2[e].train_loss);
		ck_assert(r1[e].val_loss == r2[e].val_loss);
	}
	xb_nn_net_free(n1);
	xb_nn_net_free(n2);
}
END_TEST

/* One training forward + backward of the KWS CNN on 16 samples, gradients copied out. */
static float *kws_grads(int threads, size_t *total)
{
	xb_nn_net *net = net_of(xb_nn_arch("kws-cnn"));
	size_t n = 16, isz = 490;
	float *x = malloc(n * isz * sizeof *x), logits[16 * 12];
	int32_t lab[16];
	rng_seed(1111);
	fill(x, n * isz, -2, 2);
	for (size_t i = 0; i < n; i++)
		lab[i] = (int32_t)(i % 12);
	float *g = xb_test_step_grads(net, n, x, lab, 12, threads, logits, total);
	free(x);
	xb_nn_net_free(net);
	return g;
}

/* The second conv's weight gradient is an sgemm of 30 x 1120 x 1024 (16 samples x 64
 * positions): large enough for OpenBLAS to split it over threads. */
START_TEST(test_threads_bitwise)
{
	size_t n1, n2;
	float *g1 = kws_grads(1, &n1), *g2 = kws_grads(2, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_uint_eq(n1, 69238 + 16 * 490);
	ck_assert(memcmp(g1, g2, n1 * sizeof(float)) == 0);
	double norm = 0;
	for (size_t i = 0; i < n1; i++)
		norm += fabs(g1[i]);
	ck_assert(norm > 0);   /* gradients are not trivially zero */
	free(g1);
	free(g2);
}
END_TEST

START_TEST(test_augment_kws)
{
	/* a 10x3 "spectrogram" with distinct values; shift only: the result is the input
	 * moved by s frames with zeros entering, |s| <= 3 */
	float x[30], y[30];
	xb_nn_shape s = {10, 3, 1};
	for (int i = 0; i < 30; i++)
		x[i] = (float)(i + 1);
	xb_nn_augment_kws_params shift = {3, 0, 0, 0, 0};
	int seen[7] = {0};
	for (uint64_t sample = 0; sample < 200; sample++) {
		memcpy(y, x, sizeof x);
		xb_nn_augment_kws(&shift, y, s, 5, 1, sample);
		int found = 0;
		for (int sh = -3; sh <= 3 && !found; sh++) {
			int ok = 1;
			for (int t = 0; t < 10 && ok; t++)
				for (int f = 0; f < 3; f++) {
					int src = t - sh;
					float want = src >= 0 && src < 10 ? x[src * 3 + f] : 0.0f;
					ok &= y[t * 3 + f] == want;
				}
			if (ok) {
				found = 1;
				seen[sh + 3]++;
			}
		}
		ck_assert(found);
	}
	for (int i = 0; i < 7; i++)
		ck_assert_int_gt(seen[i], 0);   /* every shift occurs in 200 draws */
	/* masks: same seed, epoch and sample -> same result; rows/columns zeroed <= max */
	xb_nn_augment_kws_params masks = {0, 2, 2, 1, 1};
	float z[30];
	memcpy(y, x, sizeof x);
	memcpy(z, x, sizeof x);
	xb_nn_augment_kws(&masks, y, s, 9, 3, 17);
	xb_nn_augment_kws(&masks, z, s, 9, 3, 17);
	ck_assert_mem_eq(y, z, sizeof y);
	int zeros = 0;
	for (int i = 0; i < 30; i++)
		zeros += y[i] == 0.0f;
	/* at most 2 masks of 2 frames (3 values each) + 1 column of 10 values */
	ck_assert_int_le(zeros, 2 * 2 * 3 + 10);
	memcpy(z, x, sizeof x);
	xb_nn_augment_kws(&masks, z, s, 9, 4, 17);     /* another epoch, another draw */
	memcpy(y, x, sizeof x);
	xb_nn_augment_kws(NULL, y, s, 9, 3, 17);        /* no parameters: untouched */
	ck_assert_mem_eq(y, x, sizeof x);
}
END_TEST

START_TEST(test_xent)
{
	/* logits (1, 2, 3), label 2: loss = log(e^1 + e^2 + e^3) - 3 = 0.40760596 */
	float z[3] = {1, 2, 3}, d[3];
	int32_t lab = 2;
	size_t right;
	double l = xb_nn_softmax_xent(z, &lab, 1, 3, d, &right);
	ck_assert(fabs(l - 0.40760596444) < 1e-9);
	ck_assert_uint_eq(right, 1);
	/* softmax (0.09003057, 0.24472847, 0.66524096) minus the one-hot */
	ck_assert(fabs(d[0] - 0.09003057) < 1e-6);
	ck_assert(fabs(d[1] - 0.24472847) < 1e-6);
	ck_assert(fabs(d[2] - (0.66524096 - 1)) < 1e-6);
}
END_TEST

/* ---- model file ------------------------------------------------------------------------ */

static void assert_same_net(const xb_nn_net *a, const xb_nn_net *b)
{
	ck_assert_int_eq(xb_nn_net_nlayers(a), xb_nn_net_nlayers(b));
	char *sa = xb_nn_net_spec(a), *sb = xb_nn_net_spec(b);
	ck_assert_str_eq(sa, sb);
	free(sa);
	free(sb);
	for (int i = 0; i < xb_nn_net_nlayers(a); i++) {
		const xb_nn_layer *la = xb_nn_net_layer(a, i), *lb = xb_nn_net_layer(b, i);
		for (int t = 0; t < la->ntensors; t++)
			ck_assert(memcmp(la->t[t], lb->t[t], la->tsize[t] * sizeof(float)) == 0);
	}
}

START_TEST(test_model_roundtrip)
{
	char path[128];
	make_tmpdir();
	tmp_path(path, sizeof path, "m.h5");
	rng_seed(1001);
	xb_nn_net *net = net_of("input 8x8x2; conv2d out=4 kernel=3x2 stride=1x2 pad=1x0; "
				"batchnorm momentum=0.2; relu; dwconv2d kernel=3 pad=1; "
				"maxpool kernel=2x1; avgpool kernel=2 stride=1; flatten; dense out=5; "
				"requant shift=2 bits=4; dense out=3 xbits=4 wbits=5");
	size_t n = 30;
	float *x = malloc(n * 128 * sizeof *x), *y0 = malloc(n * 3 * sizeof *y0);
	float *y1 = malloc(n * 3 * sizeof *y1);
	int32_t *lab = malloc(n * sizeof *lab);
	fill(x, n * 128, -1, 1);
	for (size_t i = 0; i < n; i++)
		lab[i] = (int32_t)(i % 3);
	xb_nn_data d = {n, x, lab};
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 2;
	p.batch = 10;
	ck_assert_int_eq(xb_nn_train(net, &d, &d, &p), XB_OK);
	ck_assert_int_eq(xb_nn_net_save(net, path, "[run]\nseed = 1\n", "check_nn", NULL), XB_OK);
	xb_err err = {0};
	xb_nn_net *back = xb_nn_net_load(path, &err);
	ck_assert_msg(back != NULL, "%s", err.msg);
	assert_same_net(net, back);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, y0, 0), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(back, n, x, y1, 0), XB_OK);
	ck_assert_mem_eq(y0, y1, n * 3 * sizeof *y0);
	size_t k0, k1;
	int b0, b1;
	const xb_nn_epoch *r0 = xb_nn_net_record(net, &k0, &b0), *r1 = xb_nn_net_record(back, &k1, &b1);
	ck_assert_uint_eq(k0, 2);
	ck_assert_uint_eq(k1, 2);
	ck_assert_int_eq(b0, b1);
	for (int e = 0; e < 2; e++) {
		ck_assert_int_eq(r0[e].epoch, r1[e].epoch);
		ck_assert(r0[e].train_loss == r1[e].train_loss && r0[e].train_acc == r1[e].train_acc);
		ck_assert(r0[e].val_loss == r1[e].val_loss && r0[e].val_acc == r1[e].val_acc);
		ck_assert(r0[e].lr == r1[e].lr && r0[e].seconds == r1[e].seconds);
	}
	xb_nn_net_free(back);

	/* the file is self-describing: schema, units, layer attributes */
	xb_h5r *r = xb_h5r_open(path, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(xb_h5r_schema(r, NULL, "xbarsim-model", 1, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_schema(r, "/layers/0", "xbarsim-model", 1, NULL), XB_OK);
	char *s = NULL;
	ck_assert_int_eq(xb_h5r_attr_str(r, "/layers/0/weight", "unit", &s), XB_OK);
	ck_assert_str_eq(s, "1");
	free(s);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/layers/0", "exec", &s), XB_OK);
	ck_assert_str_eq(s, "analog");
	free(s);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/layers/1", "type", &s), XB_OK);
	ck_assert_str_eq(s, "batchnorm");
	free(s);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/training/train_loss", "unit", &s), XB_OK);
	ck_assert_str_eq(s, "nat");
	free(s);
	xb_h5r_free(r);
	xb_nn_net_free(net);

	/* quantized round trip: scales, shifts and the quantized outputs survive */
	rng_seed(1002);
	net = net_of("input 1x1x2; dense out=16; requant; dense out=3");
	float *xb = malloc(90 * 2 * sizeof *xb);
	free(y0);
	free(y1);
	y0 = malloc(90 * 3 * sizeof *y0);
	y1 = malloc(90 * 3 * sizeof *y1);
	int32_t *lb = malloc(90 * sizeof *lb);
	make_blobs(90, xb, lb);
	ck_assert_int_eq(xb_nn_net_quantize(net, 90, xb, NULL), XB_OK);
	ck_assert_int_eq(xb_nn_net_forward(net, 90, xb, y0, 0), XB_OK);
	ck_assert_int_eq(xb_nn_net_save(net, path, NULL, NULL, NULL), XB_OK);
	back = xb_nn_net_load(path, &err);
	ck_assert_msg(back != NULL, "%s", err.msg);
	ck_assert_int_eq(xb_nn_net_quantized(back), 1);
	ck_assert_int_eq(xb_nn_net_forward(back, 90, xb, y1, 0), XB_OK);
	ck_assert_mem_eq(y0, y1, 90 * 3 * sizeof *y0);
	ck_assert_int_eq(xb_nn_net_layer(back, 1)->hp.shift, xb_nn_net_layer(net, 1)->hp.shift);
	r = xb_h5r_open(path, NULL);
	int8_t *wq = NULL;
	int64_t dims[2] = {16, 2};
	ck_assert_int_eq(xb_h5r_read(r, "/layers/0/weight_q", XB_H5_INT8, 2, dims, 0,
				     (void **)&wq, NULL), XB_OK);
	ck_assert_mem_eq(wq, xb_nn_net_layer(net, 0)->q.wq, 32);
	free(wq);
	xb_h5r_free(r);
	xb_nn_net_free(back);
	xb_nn_net_free(net);
	free(xb);
	free(lb);
	free(x);
	free(y0);
	free(y1);
	free(lab);
	rm_tmpdir();
}
END_TEST

/* ---- limits ---------------------------------------------------------------------------- */

static void expect_spec_error(const char *spec, const char *needle1, const char *needle2)
{
	xb_err err = {0};
	xb_nn_net *net = xb_nn_net_from_spec(spec, 1, &err);
	ck_assert_msg(net == NULL, "spec '%s' accepted", spec);
	ck_assert_int_eq(err.code, spec ? XB_ECONFIG : XB_EINVAL);
	ck_assert_msg(strstr(err.msg, needle1) != NULL, "'%s' lacks '%s'", err.msg, needle1);
	if (needle2)
		ck_assert_msg(strstr(err.msg, needle2) != NULL, "'%s' lacks '%s'", err.msg, needle2);
}

START_TEST(test_spec_errors)
{
	expect_spec_error("input 8x8x1; conv3d out=2", "statement 2", "unknown layer type 'conv3d'");
	expect_spec_error("input 8x8x1; conv2d out=2 kernal=3", "unknown option 'kernal'",
			  "conv2d takes: out kernel stride pad");
	expect_spec_error("input 8x8x1; conv2d out=2 kernel=3xq", "kernel = '3xq'", "NxM");
	expect_spec_error("input 8x8x1\n# a comment\nconv2d out=2 kernel=9", "statement 2",
			  "does not fit");
	expect_spec_error("dense out=3", "statement 1", "expected 'input HxWxC' first");
	expect_spec_error("input 8x0x1; dense out=3", "input '8x0x1'", NULL);
	expect_spec_error("input 8x8x1", "no layers", NULL);
	expect_spec_error("# nothing\n", "empty", NULL);
	expect_spec_error("input 8x8x1; conv1d out=2 kernel=3", "conv1d convolves along h", NULL);
	expect_spec_error("input 9x1x2; conv1d out=2 kernel=3x1", "conv1d takes one size", NULL);
	expect_spec_error("input 8x8x1; conv2d out=0 kernel=3", "out = 0", NULL);
	expect_spec_error("input 8x8x1; conv2d out=2 kernel=3 pad=3", "pad = 3", NULL);
	expect_spec_error("input 8x8x1; conv2d out=2 kernel=3 stride=0x1", "stride", NULL);
	expect_spec_error("input 1x1x8; dense out=4 wbits=8", "wbits = 8", "1..7");
	expect_spec_error("input 1x1x8; dense out=4 xbits=9", "xbits = 9", NULL);
	expect_spec_error("input 1x1x8; requant bits=0", "bits = 0", NULL);
	expect_spec_error("input 1x1x8; requant shift=31", "shift = 31", NULL);
	expect_spec_error("input 1x1x8; batchnorm eps=-1", "eps", NULL);
	expect_spec_error("input 1x1x8; batchnorm momentum=2", "momentum", NULL);
	expect_spec_error("input 1x1x8; batchnorm eps=abc", "expected a number", NULL);
	expect_spec_error("input 1x1x8; dense out", "expected key=value", NULL);
	expect_spec_error("input 1x1x8; relu out=3", "unknown option 'out'", "no options");
	expect_spec_error("input 4x4x1; maxpool kernel=5", "does not fit", NULL);
	expect_spec_error("input 4x4x1; dwconv2d kernel=5", "does not fit", NULL);
	expect_spec_error(NULL, "NULL", NULL);

	/* a failed add leaves the network as it was */
	xb_nn_net *net = net_of("input 4x4x1; flatten");
	ck_assert_int_eq(xb_nn_net_add(net, "dense", "out=-1"), XB_ECONFIG);
	ck_assert_int_eq(xb_nn_net_add(net, NULL, NULL), XB_ECONFIG);
	ck_assert_int_eq(xb_nn_net_add_hyper(net, NULL, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_nn_net_nlayers(net), 1);
	xb_nn_hyper hp = xb_nn_hyper_default();
	hp.out = 3;
	ck_assert_int_eq(xb_nn_net_add_hyper(net, &xb_nn_dense, &hp), XB_OK);
	ck_assert_int_eq(xb_nn_net_out_shape(net).c, 3);
	ck_assert_ptr_null(xb_nn_net_layer(net, 2));
	ck_assert_ptr_null(xb_nn_net_layer(net, -1));
	ck_assert_int_eq(xb_nn_layer_tensor(xb_nn_net_layer(net, 1), "bias"), 1);
	ck_assert_int_eq(xb_nn_layer_tensor(xb_nn_net_layer(net, 1), "gamma"), -1);
	xb_nn_net_free(net);
	xb_err err = {0};
	ck_assert_ptr_null(xb_nn_net_new((xb_nn_shape){0, 1, 1}, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
}
END_TEST

START_TEST(test_state_errors)
{
	xb_nn_net *net = net_of("input 1x1x4; dense out=3; batchnorm; requant bits=4; dense out=2");
	float x[8] = {0.5f, 1, 2.385f, -1, 0, 1, 2, 3}, y[4], dy[4] = {1, 1, 1, 1};
	/* backward needs a forward of the same batch */
	ck_assert_int_eq(xb_nn_net_backward(net, 2, dy, NULL), XB_ESTATE);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "no forward pass"));
	ck_assert_int_eq(xb_nn_net_forward(net, 2, x, y, 1), XB_OK);
	ck_assert_int_eq(xb_nn_net_backward(net, 1, dy, NULL), XB_ESTATE);
	ck_assert_int_eq(xb_nn_net_backward(net, 2, dy, NULL), XB_OK);
	ck_assert_ptr_null(xb_nn_net_grad(net, 0, 2));
	ck_assert_int_eq(xb_nn_net_forward(net, 2, NULL, y, 0), XB_EINVAL);
	/* quantizing needs batch norms folded, then matching bits */
	ck_assert_int_eq(xb_nn_net_quantize(net, 2, x, NULL), XB_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "layer 1 (batchnorm)"));
	ck_assert_int_eq(xb_nn_net_fold(net), XB_OK);
	ck_assert_int_eq(xb_nn_net_quantize(net, 2, x, NULL), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "bits = 4"));
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	qp.percentile = 20;
	ck_assert_int_eq(xb_nn_net_quantize(net, 2, x, &qp), XB_EINVAL);
	ck_assert_int_eq(xb_nn_net_quantize(net, 0, x, NULL), XB_EINVAL);
	xb_nn_backend zero = xb_nn_backend_float();
	zero.gain = 0;
	xb_nn_net_set_backend(net, &zero);
	ck_assert_int_eq(xb_nn_net_quantize(net, 2, x, NULL), XB_EINVAL);
	xb_nn_net_free(net);

	/* a batch norm that cannot fold; the network is unchanged */
	net = net_of("input 1x1x4; relu; batchnorm");
	ck_assert_int_eq(xb_nn_net_fold(net), XB_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "layer 1 (batchnorm)"));
	ck_assert_int_eq(xb_nn_net_nlayers(net), 2);
	xb_nn_net_free(net);

	/* an empty network */
	net = xb_nn_net_new((xb_nn_shape){1, 1, 2}, NULL);
	ck_assert_int_eq(xb_nn_net_forward(net, 1, x, y, 0), XB_ESTATE);
	ck_assert_int_eq(xb_nn_net_quantize(net, 1, x, NULL), XB_ESTATE);
	xb_nn_data d = {2, x, NULL};
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, NULL), XB_ESTATE);
	xb_nn_net_free(net);
}
END_TEST

START_TEST(test_train_errors)
{
	xb_nn_net *net = net_of("input 1x1x2; dense out=3");
	float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	int32_t lab[4] = {0, 1, 2, 3};
	xb_nn_data d = {4, x, lab};
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 1;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "training sample 3: label 3"));
	lab[3] = 0;
	xb_nn_data bad = {4, x, NULL};
	ck_assert_int_eq(xb_nn_train(net, &d, &bad, &p), XB_EINVAL);
	ck_assert_int_eq(xb_nn_evaluate(net, &bad, NULL, NULL, NULL), XB_EINVAL);
	xb_nn_data none = {0, x, lab};
	ck_assert_int_eq(xb_nn_train(net, &none, NULL, &p), XB_EINVAL);
	p.batch = 0;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	p.batch = 2;
	p.lr = -1;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_EINVAL);
	p.lr = 1e-3;
	x[5] = NAN;
	ck_assert_int_eq(xb_nn_train(net, &d, NULL, &p), XB_ENUMERIC);
	ck_assert_ptr_nonnull(strstr(xb_nn_net_errmsg(net), "epoch 1"));
	x[5] = 5;
	/* a callback that asks to stop ends training early */
	epoch_log lg = {0, 1, 0};
	p.epochs = 5;
	p.on_epoch = on_epoch;
	p.epoch_ud = &lg;
	ck_assert_int_eq(xb_nn_train(net, &d, &d, &p), XB_OK);
	ck_assert_int_eq(lg.calls, 1);
	size_t nrec;
	xb_nn_net_record(net, &nrec, NULL);
	ck_assert_uint_eq(nrec, 1);
	/* prediction output */
	int32_t pred[4];
	double acc;
	ck_assert_int_eq(xb_nn_evaluate(net, &d, NULL, &acc, pred), XB_OK);
	for (int i = 0; i < 4; i++)
		ck_assert(pred[i] >= 0 && pred[i] < 3);
	xb_nn_net_free(net);
}
END_TEST

enum { BAD_NONE, BAD_MISSING_BIAS, BAD_SHAPE, BAD_TYPE, BAD_SCHEMA, BAD_NLAYERS, BAD_NAN,
       BAD_OPTIONS, BAD_OUTSHAPE, BAD_SENDS, BAD_SPLIT, BAD_SPLIT_TYPE };

/* A one-layer dense model (4 -> 3) written by hand, broken as VARIANT says. */
static void write_model(const char *path, int variant)
{
	xb_h5w *w = xb_h5w_create(path, variant == BAD_SCHEMA ? "xbarsim-trace" : "xbarsim-model",
				  1, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	int64_t in[3] = {1, 1, 4}, out[3] = {1, 1, variant == BAD_OUTSHAPE ? 5 : 3};
	int64_t wd[2] = {3, 4}, bd[1] = {3};
	float wt[12], b[3] = {0.1f, -0.2f, 0.3f};
	for (int i = 0; i < 12; i++)
		wt[i] = (float)(i - 6) / 8;
	if (variant == BAD_SHAPE) {
		wd[0] = 4;
		wd[1] = 3;
	}
	if (variant == BAD_NAN)
		wt[5] = NAN;
	ck_assert_int_eq(xb_h5w_attr_ints(w, "/", "input_shape", in, 3), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_int(w, "/", "nlayers", variant == BAD_NLAYERS ? 2 : 1), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/layers", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_group(w, "/layers/0", NULL, 0), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_str(w, "/layers/0", "type",
					 variant == BAD_TYPE ? "conv3d" : "dense"), XB_OK);
	ck_assert_int_eq(xb_h5w_attr_str(w, "/layers/0", "options",
					 variant == BAD_OPTIONS ? "out=x" :
					 variant == BAD_SENDS ? "out=3 sends=65" : "out=3"), XB_OK);
	if (variant == BAD_SPLIT || variant == BAD_SPLIT_TYPE) {
		/* a calibrated layer claiming row-pair inputs with a zero point of 3, or
		 * with x_split as text */
		ck_assert_int_eq(xb_h5w_attr_int(w, "/", "calibrated", 1), XB_OK);
		ck_assert_int_eq(xb_h5w_attr_double(w, "/layers/0", "w_scale", 0.01), XB_OK);
		ck_assert_int_eq(xb_h5w_attr_double(w, "/layers/0", "x_scale", 0.1), XB_OK);
		ck_assert_int_eq(xb_h5w_attr_int(w, "/layers/0", "x_zero", 3), XB_OK);
		if (variant == BAD_SPLIT)
			ck_assert_int_eq(xb_h5w_attr_int(w, "/layers/0", "x_split", 1), XB_OK);
		else
			ck_assert_int_eq(xb_h5w_attr_str(w, "/layers/0", "x_split", "yes"), XB_OK);
	}
	ck_assert_int_eq(xb_h5w_attr_ints(w, "/layers/0", "out_shape", out, 3), XB_OK);
	ck_assert_int_eq(xb_h5w_write(w, "/layers/0/weight", XB_H5_FLOAT32, 2, wd, wt, "1"), XB_OK);
	if (variant != BAD_MISSING_BIAS)
		ck_assert_int_eq(xb_h5w_write(w, "/layers/0/bias", XB_H5_FLOAT32, 1, bd, b, "1"), XB_OK);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
}

START_TEST(test_bad_model_files)
{
	static const struct {
		int variant;
		const char *needle1, *needle2;
	} cases[] = {
		{BAD_MISSING_BIAS, "/layers/0/bias", "missing"},
		{BAD_SHAPE, "/layers/0/weight", "[3,4]"},
		{BAD_TYPE, "unknown layer type 'conv3d'", "/layers/0"},
		{BAD_SCHEMA, "xbarsim-model", NULL},
		{BAD_NLAYERS, "/layers/1", "missing"},
		{BAD_NAN, "/layers/0/weight", NULL},
		{BAD_OPTIONS, "/layers/0", "out = 'x'"},
		{BAD_OUTSHAPE, "out_shape", "1x1x5"},
		{BAD_SENDS, "sends = 65", "expected 0 (chosen at quantization) .. 64"},
		{BAD_SPLIT, "x_split 1 with x_zero 3", "/layers/0"},
		{BAD_SPLIT_TYPE, "x_split: expected an integer 0 or 1", "/layers/0"},
	};
	char path[128];
	xb_err err = {0};
	make_tmpdir();
	tmp_path(path, sizeof path, "bad.h5");
	/* the hand-written file loads when intact: y = W x + b */
	write_model(path, BAD_NONE);
	xb_nn_net *net = xb_nn_net_load(path, &err);
	ck_assert_msg(net != NULL, "%s", err.msg);
	float x[4] = {1, 2, 3, 4}, y[3];
	ck_assert_int_eq(xb_nn_net_forward(net, 1, x, y, 0), XB_OK);
	/* row 0 = (-6, -5, -4, -3) / 8: (-6 - 10 - 12 - 12) / 8 + 0.1 = -4.9 */
	ck_assert_float_eq_tol(y[0], -4.9f, 1e-6f);
	xb_nn_net_free(net);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_model(path, cases[i].variant);
		xb_err_clear(&err);
		net = xb_nn_net_load(path, &err);
		ck_assert_msg(net == NULL, "variant %d loaded", cases[i].variant);
		ck_assert_int_eq(err.code, XB_EFORMAT);
		ck_assert_msg(strstr(err.msg, cases[i].needle1) != NULL, "'%s' lacks '%s'", err.msg,
			      cases[i].needle1);
		ck_assert_msg(strstr(err.msg, "bad.h5") != NULL, "'%s' lacks the file name", err.msg);
		if (cases[i].needle2)
			ck_assert_msg(strstr(err.msg, cases[i].needle2) != NULL, "'%s' lacks '%s'",
				      err.msg, cases[i].needle2);
	}
	/* missing file, not HDF5, unwritable target */
	tmp_path(path, sizeof path, "none.h5");
	ck_assert_ptr_null(xb_nn_net_load(path, &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	tmp_path(path, sizeof path, "text.h5");
	FILE *f = fopen(path, "w");
	fputs("not hdf5\n", f);
	fclose(f);
	ck_assert_ptr_null(xb_nn_net_load(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	net = net_of("input 1x1x2; dense out=2");
	tmp_path(path, sizeof path, "no/such/dir/m.h5");
	ck_assert_int_ne(xb_nn_net_save(net, path, NULL, NULL, &err), XB_OK);
	ck_assert_ptr_nonnull(strstr(err.msg, "no/such/dir"));
	xb_nn_net_free(net);
	rm_tmpdir();
}
END_TEST

static Suite *nn_suite(void)
{
	Suite *s = suite_create("nn");
	TCase *core = tcase_create("core");
	tcase_set_timeout(core, 120);
	tcase_add_test(core, test_registry);
	tcase_add_test(core, test_stock_archs);
	tcase_add_test(core, test_gradients);
	tcase_add_test(core, test_tap);
	tcase_add_test(core, test_im2col_vs_direct);
	tcase_add_test(core, test_col2im_adjoint);
	tcase_add_test(core, test_chunk_sizes);
	tcase_add_test(core, test_fold);
	tcase_add_test(core, test_requant_hand);
	tcase_add_test(core, test_quantized_pipeline);
	tcase_add_test(core, test_ste);
	tcase_add_test(core, test_backend);
	tcase_add_test(core, test_sends_and_offsets);
	tcase_add_test(core, test_split_inputs);
	tcase_add_test(core, test_xent);
	tcase_add_test(core, test_augment_kws);
	tcase_add_test(core, test_train_blobs);
	tcase_add_test(core, test_train_quantized);
	tcase_add_test(core, test_train_deterministic);
	tcase_add_test(core, test_threads_bitwise);
	tcase_add_test(core, test_model_roundtrip);
	suite_add_tcase(s, core);
	TCase *lim = tcase_create("limits");
	tcase_set_timeout(lim, 120);
	tcase_add_test(lim, test_spec_errors);
	tcase_add_test(lim, test_state_errors);
	tcase_add_test(lim, test_train_errors);
	tcase_add_test(lim, test_bad_model_files);
	suite_add_tcase(s, lim);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(nn_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
