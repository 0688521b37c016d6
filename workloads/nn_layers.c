/* nn_layers.c - the stock layer types of xbarsim's networks and their registry.
 * Dense and conv (analog), depthwise conv, pooling, ReLU, batch norm, flatten and requant.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "nn_int.h"

#include <math.h>
#include <string.h>

static xb_status bad(xb_nn_layer *l, xb_err *err, const char *fmt, const char *what, long v)
{
	return xb_raise(err, XB_ECONFIG, "layer %d (%s): %s = %ld: %s", l->index, l->type->name,
			what, v, fmt);
}

static void set_tensor(xb_nn_layer *l, int t, int rank, int d0, int d1, int d2, int d3)
{
	int d[4] = {d0, d1, d2, d3};
	size_t n = 1;
	l->trank[t] = rank;
	for (int i = 0; i < XB_NN_MAX_RANK; i++) {
		l->tdims[t][i] = i < rank ? d[i] : 0;
		if (i < rank)
			n *= (size_t)d[i];
	}
	l->tsize[t] = n;
}

static xb_status check_bits(xb_nn_layer *l, xb_err *err)
{
	if (l->hp.wbits < 1 || l->hp.wbits > 7)
		return bad(l, err, "expected 1..7 (int8 weight codes)", "wbits", l->hp.wbits);
	if (l->hp.xbits < 1 || l->hp.xbits > 8)
		return bad(l, err, "expected 1..8 (uint8 input codes)", "xbits", l->hp.xbits);
	if (l->hp.sends < 0 || l->hp.sends > XB_NN_MAX_SENDS)
		return bad(l, err, "expected 0 (chosen at quantization) .. 64", "sends",
			   l->hp.sends);
	return XB_OK;
}

/* Element-wise loops shorter than this run on one thread (a parallel region costs more). */
#define NN_PAR_MIN 32768

/* ---- dense ------------------------------------------------------------------- */

static const char *const wb_names[] = {"weight", "bias"};

static xb_status dense_setup(xb_nn_layer *l, xb_err *err)
{
	if (l->hp.out < 1)
		return bad(l, err, "expected a number of units >= 1", "out", l->hp.out);
	xb_status st = check_bits(l, err);
	if (st != XB_OK)
		return st;
	l->rows = (size_t)l->hp.out;
	l->cols = xb_nn_shape_size(l->in);
	l->out = (xb_nn_shape){1, 1, l->hp.out};
	set_tensor(l, 0, 2, l->hp.out, (int)l->cols, 0, 0);
	set_tensor(l, 1, 1, l->hp.out, 0, 0, 0);
	return XB_OK;
}

static void analog_init(xb_nn_layer *l, uint64_t seed)
{
	nn_init_uniform(l, 0, l->cols, seed);
	memset(l->t[1], 0, l->tsize[1] * sizeof(float));
}

static size_t dense_cache(const xb_nn_layer *l, size_t n)
{
	return n * l->rows;
}

static size_t analog_scratch(const xb_nn_layer *l, size_t n, int threads)
{
	return nn_analog_scratch(l, n, threads);
}

static xb_status analog_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				float *y)
{
	return nn_analog_forward(l, run, n, x, y, run->cache);
}

static xb_status analog_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				 const float *y, const float *dy, float *dx, float *const *grad)
{
	(void)y;
	return nn_analog_backward(l, run, n, x, dy, run->cache, dx, grad[0], grad[1]);
}

const xb_nn_layer_type xb_nn_dense = {
	"dense", XB_NN_ANALOG, "out wbits xbits sends", 2, 0, wb_names,
	dense_setup, analog_init, dense_cache, analog_scratch, analog_forward, analog_backward, NULL
};

/* ---- conv2d and conv1d: im2col + analog MVMs ------------------------------------- */

static int is_conv1d(const xb_nn_layer *l)
{
	return l->type == &xb_nn_conv1d;
}

static xb_status conv_setup(xb_nn_layer *l, xb_err *err)
{
	xb_nn_hyper *h = &l->hp;
	if (is_conv1d(l)) {
		if (l->in.w != 1)
			return bad(l, err, "conv1d convolves along h and needs inputs of width 1 "
				   "(declare the input as LxCx... e.g. 49x1x10)", "input width",
				   l->in.w);
		h->kw = 1;
		h->sw = 1;
		h->pw = 0;
	}
	if (h->sh == 0)
		h->sh = 1;
	if (h->sw == 0)
		h->sw = 1;
	if (h->out < 1)
		return bad(l, err, "expected a number of filters >= 1", "out", h->out);
	if (h->kh < 1 || h->kw < 1)
		return bad(l, err, "expected a kernel of at least 1x1", "kernel", h->kh < 1 ? h->kh : h->kw);
	if (h->sh < 1 || h->sw < 1)
		return bad(l, err, "expected a stride >= 1", "stride", h->sh < 1 ? h->sh : h->sw);
	if (h->ph < 0 || h->pw < 0 || h->ph >= h->kh || h->pw >= h->kw)
		return bad(l, err, "expected 0 <= pad < kernel", "pad", h->ph < 0 || h->ph >= h->kh ? h->ph : h->pw);
	xb_status st = check_bits(l, err);
	if (st != XB_OK)
		return st;
	int oh = xb_nn_conv_out(l->in.h, h->kh, h->sh, h->ph);
	int ow = xb_nn_conv_out(l->in.w, h->kw, h->sw, h->pw);
	if (oh < 1 || ow < 1)
		return xb_raise(err, XB_ECONFIG, "layer %d (%s): kernel %dx%d does not fit the "
				"input %dx%dx%d with padding %dx%d", l->index, l->type->name, h->kh,
				h->kw, l->in.h, l->in.w, l->in.c, h->ph, h->pw);
	l->out = (xb_nn_shape){oh, ow, h->out};
	l->rows = (size_t)h->out;
	l->cols = (size_t)h->kh * (size_t)h->kw * (size_t)l->in.c;
	if (is_conv1d(l))
		set_tensor(l, 0, 3, h->out, h->kh, l->in.c, 0);
	else
		set_tensor(l, 0, 4, h->out, h->kh, h->kw, l->in.c);
	set_tensor(l, 1, 1, h->out, 0, 0, 0);
	return XB_OK;
}

static size_t conv_cache(const xb_nn_layer *l, size_t n)
{
	return n * xb_nn_shape_size(l->out);
}

const xb_nn_layer_type xb_nn_conv2d = {
	"conv2d", XB_NN_ANALOG, "out kernel stride pad wbits xbits sends", 2, 0, wb_names,
	conv_setup, analog_init, conv_cache, analog_scratch, analog_forward, analog_backward, NULL
};

const xb_nn_layer_type xb_nn_conv1d = {
	"conv1d", XB_NN_ANALOG, "out kernel stride pad wbits xbits sends", 2, 0, wb_names,
	conv_setup, analog_init, conv_cache, analog_scratch, analog_forward, analog_backward, NULL
};

/* ---- depthwise conv2d (digital) ------------------------------------------------- */

static xb_status dw_setup(xb_nn_layer *l, xb_err *err)
{
	xb_nn_hyper *h = &l->hp;
	if (h->sh == 0)
		h->sh = 1;
	if (h->sw == 0)
		h->sw = 1;
	if (h->kh < 1 || h->kw < 1)
		return bad(l, err, "expected a kernel of at least 1x1", "kernel", h->kh < 1 ? h->kh : h->kw);
	if (h->sh < 1 || h->sw < 1)
		return bad(l, err, "expected a stride >= 1", "stride", h->sh < 1 ? h->sh : h->sw);
	if (h->ph < 0 || h->pw < 0 || h->ph >= h->kh || h->pw >= h->kw)
		return bad(l, err, "expected 0 <= pad < kernel", "pad", h->ph < 0 || h->ph >= h->kh ? h->ph : h->pw);
	int oh = xb_nn_conv_out(l->in.h, h->kh, h->sh, h->ph);
	int ow = xb_nn_conv_out(l->in.w, h->kw, h->sw, h->pw);
	if (oh < 1 || ow < 1)
		return xb_raise(err, XB_ECONFIG, "layer %d (%s): kernel %dx%d does not fit the "
				"input %dx%dx%d", l->index, l->type->name, h->kh, h->kw, l->in.h,
				l->in.w, l->in.c);
	h->out = l->in.c;
	l->out = (xb_nn_shape){oh, ow, l->in.c};
	set_tensor(l, 0, 3, l->in.c, h->kh, h->kw, 0);
	set_tensor(l, 1, 1, l->in.c, 0, 0, 0);
	return XB_OK;
}

static void dw_init(xb_nn_layer *l, uint64_t seed)
{
	nn_init_uniform(l, 0, (size_t)l->hp.kh * l->hp.kw, seed);
	memset(l->t[1], 0, l->tsize[1] * sizeof(float));
}

static xb_status dw_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			    float *y)
{
	const xb_nn_hyper *h = &l->hp;
	int c = l->in.c, kk = h->kh * h->kw;
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	const float *w = l->t[0], *b = l->t[1];
	/* The kernel transposed to [kh][kw][c], so that the channel loop runs over
	 * contiguous weights (it vectorises; same operations in the same order). */
	float *wt = malloc((size_t)kk * (size_t)c * sizeof *wt);
	if (!wt)
		return xb_raise(run->err, XB_ENOMEM, "layer %d (depthwise): out of memory", l->index);
	for (int k = 0; k < c; k++)
		for (int q = 0; q < kk; q++)
			wt[(size_t)q * c + k] = w[k * kk + q];
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		const float *xs = x + (size_t)s * in_sz;
		for (int a = 0; a < l->out.h; a++)
			for (int bb = 0; bb < l->out.w; bb++) {
				float *yo = y + (size_t)s * out_sz + ((size_t)a * l->out.w + bb) * c;
				for (int k = 0; k < c; k++)
					yo[k] = b[k];
				for (int i = 0; i < h->kh; i++) {
					int yy = a * h->sh - h->ph + i;
					if (yy < 0 || yy >= l->in.h)
						continue;
					for (int j = 0; j < h->kw; j++) {
						int xx = bb * h->sw - h->pw + j;
						if (xx < 0 || xx >= l->in.w)
							continue;
						const float *restrict xi = xs + ((size_t)yy * l->in.w + xx) * c;
						const float *restrict wq = wt + (size_t)(i * h->kw + j) * c;
						float *restrict yq = yo;

#pragma omp simd
						for (int k = 0; k < c; k++)
							yq[k] += wq[k] * xi[k];
					}
				}
			}
	}
	free(wt);
	return XB_OK;
}

static xb_status dw_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			     const float *y, const float *dy, float *dx, float *const *grad)
{
	const xb_nn_hyper *h = &l->hp;
	int c = l->in.c, kk = h->kh * h->kw;
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	const float *w = l->t[0];
	float *gw = grad[0], *gb = grad[1];
	(void)run;
	(void)y;
	/* parameter gradients: one thread per channel sums over samples in order */
#pragma omp parallel for schedule(static)
	for (int k = 0; k < c; k++) {
		double sb = 0, sw[64];
		double *acc = kk <= 64 ? sw : NULL;
		for (int q = 0; q < kk; q++) {
			if (acc)
				acc[q] = 0;
			else
				gw[k * kk + q] = 0;
		}
		for (size_t s = 0; s < n; s++)
			for (int a = 0; a < l->out.h; a++)
				for (int bb = 0; bb < l->out.w; bb++) {
					float d = dy[s * out_sz + ((size_t)a * l->out.w + bb) * c + k];
					sb += d;
					for (int i = 0; i < h->kh; i++) {
						int yy = a * h->sh - h->ph + i;
						if (yy < 0 || yy >= l->in.h)
							continue;
						for (int j = 0; j < h->kw; j++) {
							int xx = bb * h->sw - h->pw + j;
							if (xx < 0 || xx >= l->in.w)
								continue;
							float v = d * x[s * in_sz + ((size_t)yy * l->in.w + xx) * c + k];
							if (acc)
								acc[i * h->kw + j] += v;
							else
								gw[k * kk + i * h->kw + j] += v;
						}
					}
				}
		gb[k] = (float)sb;
		if (acc)
			for (int q = 0; q < kk; q++)
				gw[k * kk + q] = (float)acc[q];
	}
	if (!dx)
		return XB_OK;
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		float *dxs = dx + (size_t)s * in_sz;
		memset(dxs, 0, in_sz * sizeof(float));
		for (int a = 0; a < l->out.h; a++)
			for (int bb = 0; bb < l->out.w; bb++) {
				const float *d = dy + (size_t)s * out_sz + ((size_t)a * l->out.w + bb) * c;
				for (int i = 0; i < h->kh; i++) {
					int yy = a * h->sh - h->ph + i;
					if (yy < 0 || yy >= l->in.h)
						continue;
					for (int j = 0; j < h->kw; j++) {
						int xx = bb * h->sw - h->pw + j;
						if (xx < 0 || xx >= l->in.w)
							continue;
						float *o = dxs + ((size_t)yy * l->in.w + xx) * c;
						for (int k = 0; k < c; k++)
							o[k] += w[k * kk + i * h->kw + j] * d[k];
					}
				}
			}
	}
	return XB_OK;
}

const xb_nn_layer_type xb_nn_dwconv2d = {
	"dwconv2d", XB_NN_DIGITAL, "kernel stride pad", 2, 0, wb_names,
	dw_setup, dw_init, NULL, NULL, dw_forward, dw_backward, NULL
};

/* ---- ReLU and flatten ------------------------------------------------------------ */

static xb_status same_setup(xb_nn_layer *l, xb_err *err)
{
	(void)err;
	l->out = l->in;
	return XB_OK;
}

static xb_status relu_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			      float *y)
{
	size_t m = n * xb_nn_shape_size(l->in);
	(void)run;
#pragma omp parallel for schedule(static) if (m >= NN_PAR_MIN)
	for (long i = 0; i < (long)m; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
	return XB_OK;
}

static xb_status relu_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			       const float *y, const float *dy, float *dx, float *const *grad)
{
	size_t m = n * xb_nn_shape_size(l->in);
	(void)run;
	(void)y;
	(void)grad;
	if (!dx)
		return XB_OK;
#pragma omp parallel for schedule(static) if (m >= NN_PAR_MIN)
	for (long i = 0; i < (long)m; i++)
		dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
	return XB_OK;
}

const xb_nn_layer_type xb_nn_relu = {
	"relu", XB_NN_DIGITAL, "", 0, 0, NULL,
	same_setup, NULL, NULL, NULL, relu_forward, relu_backward, NULL
};

static xb_status flatten_setup(xb_nn_layer *l, xb_err *err)
{
	(void)err;
	l->out = (xb_nn_shape){1, 1, (int)xb_nn_shape_size(l->in)};
	return XB_OK;
}

static xb_status copy_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			      float *y)
{
	(void)run;
	memcpy(y, x, n * xb_nn_shape_size(l->in) * sizeof(float));
	return XB_OK;
}

static xb_status copy_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			       const float *y, const float *dy, float *dx, float *const *grad)
{
	(void)run;
	(void)x;
	(void)y;
	(void)grad;
	if (dx)
		memcpy(dx, dy, n * xb_nn_shape_size(l->in) * sizeof(float));
	return XB_OK;
}

const xb_nn_layer_type xb_nn_flatten = {
	"flatten", XB_NN_DIGITAL, "", 0, 0, NULL,
	flatten_setup, NULL, NULL, NULL, copy_forward, copy_backward, NULL
};

/* ---- pooling --------------------------------------------------------------------- */

static xb_status pool_setup(xb_nn_layer *l, xb_err *err)
{
	xb_nn_hyper *h = &l->hp;
	if (h->kh < 1 || h->kw < 1)
		return bad(l, err, "expected a kernel of at least 1x1", "kernel", h->kh < 1 ? h->kh : h->kw);
	if (h->sh == 0)
		h->sh = h->kh;
	if (h->sw == 0)
		h->sw = h->kw;
	if (h->sh < 1 || h->sw < 1)
		return bad(l, err, "expected a stride >= 1", "stride", h->sh < 1 ? h->sh : h->sw);
	int oh = xb_nn_conv_out(l->in.h, h->kh, h->sh, 0);
	int ow = xb_nn_conv_out(l->in.w, h->kw, h->sw, 0);
	if (oh < 1 || ow < 1)
		return xb_raise(err, XB_ECONFIG, "layer %d (%s): kernel %dx%d does not fit the "
				"input %dx%dx%d", l->index, l->type->name, h->kh, h->kw, l->in.h,
				l->in.w, l->in.c);
	l->out = (xb_nn_shape){oh, ow, l->in.c};
	return XB_OK;
}

static size_t maxpool_cache(const xb_nn_layer *l, size_t n)
{
	return n * xb_nn_shape_size(l->out) * sizeof(int32_t);
}

static xb_status maxpool_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				 float *y)
{
	const xb_nn_hyper *h = &l->hp;
	int c = l->in.c;
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	int32_t *arg = (int32_t *)(void *)run->cache;
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		const float *xs = x + (size_t)s * in_sz;
		for (int a = 0; a < l->out.h; a++)
			for (int b = 0; b < l->out.w; b++)
				for (int k = 0; k < c; k++) {
					size_t o = (size_t)s * out_sz + ((size_t)a * l->out.w + b) * c + k;
					float best = -INFINITY;
					int32_t bi = -1;
					for (int i = 0; i < h->kh; i++)
						for (int j = 0; j < h->kw; j++) {
							int32_t idx = ((a * h->sh + i) * l->in.w + b * h->sw + j) * c + k;
							if (bi < 0 || xs[idx] > best) {
								best = xs[idx];
								bi = idx;
							}
						}
					y[o] = best;
					if (arg)
						arg[o] = bi;
				}
	}
	return XB_OK;
}

static xb_status maxpool_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				  const float *y, const float *dy, float *dx, float *const *grad)
{
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	const int32_t *arg = (const int32_t *)(const void *)run->cache;
	(void)x;
	(void)y;
	(void)grad;
	if (!dx)
		return XB_OK;
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		float *dxs = dx + (size_t)s * in_sz;
		memset(dxs, 0, in_sz * sizeof(float));
		for (size_t o = 0; o < out_sz; o++)
			dxs[arg[(size_t)s * out_sz + o]] += dy[(size_t)s * out_sz + o];
	}
	return XB_OK;
}

const xb_nn_layer_type xb_nn_maxpool = {
	"maxpool", XB_NN_DIGITAL, "kernel stride", 0, 0, NULL,
	pool_setup, NULL, maxpool_cache, NULL, maxpool_forward, maxpool_backward, NULL
};

static xb_status avgpool_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				 float *y)
{
	const xb_nn_hyper *h = &l->hp;
	int c = l->in.c;
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	float inv = 1.0f / (float)(h->kh * h->kw);
	(void)run;
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		const float *xs = x + (size_t)s * in_sz;
		for (int a = 0; a < l->out.h; a++)
			for (int b = 0; b < l->out.w; b++) {
				float *yo = y + (size_t)s * out_sz + ((size_t)a * l->out.w + b) * c;
				for (int k = 0; k < c; k++)
					yo[k] = 0.0f;
				for (int i = 0; i < h->kh; i++)
					for (int j = 0; j < h->kw; j++) {
						const float *xi = xs + ((size_t)(a * h->sh + i) * l->in.w + b * h->sw + j) * c;
						for (int k = 0; k < c; k++)
							yo[k] += xi[k];
					}
				for (int k = 0; k < c; k++)
					yo[k] *= inv;
			}
	}
	return XB_OK;
}

static xb_status avgpool_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				  const float *y, const float *dy, float *dx, float *const *grad)
{
	const xb_nn_hyper *h = &l->hp;
	int c = l->in.c;
	size_t in_sz = xb_nn_shape_size(l->in), out_sz = xb_nn_shape_size(l->out);
	float inv = 1.0f / (float)(h->kh * h->kw);
	(void)run;
	(void)x;
	(void)y;
	(void)grad;
	if (!dx)
		return XB_OK;
#pragma omp parallel for schedule(static)
	for (long s = 0; s < (long)n; s++) {
		float *dxs = dx + (size_t)s * in_sz;
		memset(dxs, 0, in_sz * sizeof(float));
		for (int a = 0; a < l->out.h; a++)
			for (int b = 0; b < l->out.w; b++) {
				const float *d = dy + (size_t)s * out_sz + ((size_t)a * l->out.w + b) * c;
				for (int i = 0; i < h->kh; i++)
					for (int j = 0; j < h->kw; j++) {
						float *o = dxs + ((size_t)(a * h->sh + i) * l->in.w + b * h->sw + j) * c;
						for (int k = 0; k < c; k++)
							o[k] += d[k] * inv;
					}
			}
	}
	return XB_OK;
}

const xb_nn_layer_type xb_nn_avgpool = {
	"avgpool", XB_NN_DIGITAL, "kernel stride", 0, 0, NULL,
	pool_setup, NULL, NULL, NULL, avgpool_forward, avgpool_backward, NULL
};

/* ---- batch norm -------------------------------------------------------------------- */

static const char *const bn_names[] = {"gamma", "beta", "running_mean", "running_var"};

static xb_status bn_setup(xb_nn_layer *l, xb_err *err)
{
	if (!(l->hp.eps > 0.0) || !isfinite(l->hp.eps))
		return xb_raise(err, XB_ECONFIG, "layer %d (batchnorm): eps = %g: expected > 0",
				l->index, l->hp.eps);
	if (!(l->hp.momentum >= 0.0 && l->hp.momentum <= 1.0))
		return xb_raise(err, XB_ECONFIG, "layer %d (batchnorm): momentum = %g: expected "
				"0..1", l->index, l->hp.momentum);
	l->out = l->in;
	for (int t = 0; t < 4; t++)
		set_tensor(l, t, 1, l->in.c, 0, 0, 0);
	return XB_OK;
}

static void bn_init(xb_nn_layer *l, uint64_t seed)
{
	(void)seed;
	for (size_t k = 0; k < l->tsize[0]; k++) {
		l->t[0][k] = 1.0f;
		l->t[1][k] = 0.0f;
		l->t[2][k] = 0.0f;
		l->t[3][k] = 1.0f;
	}
}

static size_t bn_cache(const xb_nn_layer *l, size_t n)
{
	/* x^ per element, then 1/sqrt(var + eps) per channel */
	return (n * xb_nn_shape_size(l->in) + (size_t)l->in.c) * sizeof(float);
}

static xb_status bn_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			    float *y)
{
	size_t c = (size_t)l->in.c, m = n * xb_nn_shape_size(l->in) / c;
	float *xhat = (float *)(void *)run->cache;
	float *inv = xhat ? xhat + m * c : NULL;
	const float *g = l->t[0], *b = l->t[1];
	float *rm = l->t[2], *rv = l->t[3];
	float mean[c], istd[c];

	if (run->training) {
		double s1[c], s2[c];
		for (size_t k = 0; k < c; k++)
			s1[k] = s2[k] = 0.0;
		/* sums over positions in a fixed order, vectorised over channels */
		for (size_t i = 0; i < m; i++)
			for (size_t k = 0; k < c; k++)
				s1[k] += x[i * c + k];
		for (size_t k = 0; k < c; k++)
			mean[k] = (float)(s1[k] / (double)m);
		for (size_t i = 0; i < m; i++)
			for (size_t k = 0; k < c; k++) {
				double d = (double)x[i * c + k] - mean[k];
				s2[k] += d * d;
			}
		for (size_t k = 0; k < c; k++) {
			double var = s2[k] / (double)m;
			istd[k] = (float)(1.0 / sqrt(var + l->hp.eps));
			double unb = m > 1 ? s2[k] / (double)(m - 1) : var;
			rm[k] = (float)((1.0 - l->hp.momentum) * rm[k] + l->hp.momentum * mean[k]);
			rv[k] = (float)((1.0 - l->hp.momentum) * rv[k] + l->hp.momentum * unb);
		}
		l->version++;
	} else {
		for (size_t k = 0; k < c; k++) {
			mean[k] = rm[k];
			istd[k] = (float)(1.0 / sqrt((double)rv[k] + l->hp.eps));
		}
	}
#pragma omp parallel for schedule(static) if (m * c >= NN_PAR_MIN)
	for (long i = 0; i < (long)m; i++)
		for (size_t k = 0; k < c; k++) {
			float xh = (x[(size_t)i * c + k] - mean[k]) * istd[k];
			if (xhat)
				xhat[(size_t)i * c + k] = xh;
			y[(size_t)i * c + k] = g[k] * xh + b[k];
		}
	if (inv)
		memcpy(inv, istd, c * sizeof(float));
	return XB_OK;
}

static xb_status bn_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			     const float *y, const float *dy, float *dx, float *const *grad)
{
	size_t c = (size_t)l->in.c, m = n * xb_nn_shape_size(l->in) / c;
	const float *xhat = (const float *)(const void *)run->cache;
	const float *inv = xhat + m * c;
	const float *g = l->t[0];
	double sd[c], sdx[c];
	(void)x;
	(void)y;
	for (size_t k = 0; k < c; k++)
		sd[k] = sdx[k] = 0.0;
	for (size_t i = 0; i < m; i++)
		for (size_t k = 0; k < c; k++) {
			sd[k] += dy[i * c + k];
			sdx[k] += (double)dy[i * c + k] * xhat[i * c + k];
		}
	for (size_t k = 0; k < c; k++) {
		grad[0][k] = (float)sdx[k];
		grad[1][k] = (float)sd[k];
	}
	if (!dx)
		return XB_OK;
	if (run->training) {
		/* dx = gamma istd / M (M dy - sum dy - x^ sum(dy x^)) */
		float a[c], mdy[c], mdx[c];
		for (size_t k = 0; k < c; k++) {
			a[k] = g[k] * inv[k];
			mdy[k] = (float)(sd[k] / (double)m);
			mdx[k] = (float)(sdx[k] / (double)m);
		}
#pragma omp parallel for schedule(static) if (m * c >= NN_PAR_MIN)
		for (long i = 0; i < (long)m; i++)
			for (size_t k = 0; k < c; k++) {
				size_t j = (size_t)i * c + k;
				dx[j] = a[k] * (dy[j] - mdy[k] - xhat[j] * mdx[k]);
			}
	} else {
#pragma omp parallel for schedule(static) if (m * c >= NN_PAR_MIN)
		for (long i = 0; i < (long)m; i++)
			for (size_t k = 0; k < c; k++) {
				size_t j = (size_t)i * c + k;
				dx[j] = dy[j] * g[k] * inv[k];
			}
	}
	return XB_OK;
}

static xb_status bn_fold(const xb_nn_layer *l, xb_nn_layer *prev, xb_err *err)
{
	size_t c = (size_t)l->in.c;
	if (!(prev->type->exec == XB_NN_ANALOG || prev->type == &xb_nn_dwconv2d) ||
	    prev->type->nparams != 2 || prev->out.c != l->in.c)
		return xb_raise(err, XB_EUNSUPPORTED, "layer %d (batchnorm): cannot fold into "
				"layer %d (%s): expected a dense, conv or depthwise layer with %zu "
				"channels right before it", l->index, prev->index, prev->type->name, c);
	/* weights are [channels][per-channel...] for every foldable type */
	size_t per = prev->tsize[0] / c;
	for (size_t k = 0; k < c; k++) {
		double a = l->t[0][k] / sqrt((double)l->t[3][k] + l->hp.eps);
		for (size_t i = 0; i < per; i++)
			prev->t[0][k * per + i] = (float)(prev->t[0][k * per + i] * a);
		prev->t[1][k] = (float)((prev->t[1][k] - l->t[2][k]) * a + l->t[1][k]);
	}
	prev->version++;
	return XB_OK;
}

const xb_nn_layer_type xb_nn_batchnorm = {
	"batchnorm", XB_NN_DIGITAL, "eps momentum", 2, 2, bn_names,
	bn_setup, bn_init, bn_cache, NULL, bn_forward, bn_backward, bn_fold
};

/* ---- requant: int8 outputs -> next input codes (digital) ----------------------------- */

static xb_status requant_setup(xb_nn_layer *l, xb_err *err)
{
	if (l->hp.bits < 1 || l->hp.bits > 8)
		return bad(l, err, "expected 1..8 (uint8 codes)", "bits", l->hp.bits);
	if (l->hp.shift < XB_NN_SHIFT_AUTO || l->hp.shift > 30)
		return bad(l, err, "expected -1 (calibrate) or 0..30", "shift", l->hp.shift);
	l->out = l->in;
	return XB_OK;
}

/* The accumulator value (LSB) of input X at the requant's input scale IN_SCALE. */
static inline double requant_acc(double in_scale, float x)
{
	return rint((double)x / in_scale);
}

static xb_status requant_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				 float *y)
{
	size_t m = n * xb_nn_shape_size(l->in);
	if (!run->quantized)
		return relu_forward(l, run, n, x, y);
	if (!(l->requant_in_scale > 0.0f) || l->hp.shift < 0)
		return xb_raise(run->err, XB_ESTATE, "layer %d (requant): not calibrated (run "
				"xb_nn_net_quantize first)", l->index);
	/* Loop invariants in locals (y could alias l for the compiler) so that the loop
	 * vectorises; 1 / d is exact (d a power of two), so x / d = x (1 / d). */
	const double s = nn_requant_scale(l), inv_d = ldexp(1.0, -l->hp.shift);
	const double qmax = (double)((1 << l->hp.bits) - 1), in_scale = l->requant_in_scale;
	const float *restrict xr = x;
	float *restrict yr = y;
#pragma omp parallel for simd schedule(static) if (m >= NN_PAR_MIN)
	for (long i = 0; i < (long)m; i++) {
		double code = floor(requant_acc(in_scale, xr[i]) * inv_d);

		code = code < 0.0 ? 0.0 : code;
		code = code > qmax ? qmax : code;
		yr[i] = (float)(s * code);
	}
	return XB_OK;
}

static xb_status requant_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
				  const float *y, const float *dy, float *dx, float *const *grad)
{
	size_t m = n * xb_nn_shape_size(l->in);
	if (!run->quantized)
		return relu_backward(l, run, n, x, y, dy, dx, grad);
	if (!dx)
		return XB_OK;
	double d = ldexp(1.0, l->hp.shift), lim = (double)(1 << l->hp.bits);
#pragma omp parallel for schedule(static) if (m >= NN_PAR_MIN)
	for (long i = 0; i < (long)m; i++) {
		double u = requant_acc(l->requant_in_scale, x[i]) / d;
		dx[i] = (u >= 0.0 && u < lim) ? dy[i] : 0.0f;
	}
	return XB_OK;
}

const xb_nn_layer_type xb_nn_requant = {
	"requant", XB_NN_DIGITAL, "shift bits", 0, 0, NULL,
	requant_setup, NULL, NULL, NULL, requant_forward, requant_backward, NULL
};

double nn_requant_scale(const xb_nn_layer *l)
{
	return (double)l->requant_in_scale * ldexp(1.0, l->hp.shift < 0 ? 0 : l->hp.shift);
}

/* ---- registry ----------------------------------------------------------------------- */

static const xb_nn_layer_type *const registry[] = {
	&xb_nn_dense, &xb_nn_conv1d, &xb_nn_conv2d, &xb_nn_dwconv2d, &xb_nn_relu,
	&xb_nn_maxpool, &xb_nn_avgpool, &xb_nn_batchnorm, &xb_nn_flatten, &xb_nn_requant, NULL
};

const xb_nn_layer_type *const *xb_nn_layer_types(size_t *n)
{
	if (n)
		*n = sizeof registry / sizeof registry[0] - 1;
	return registry;
}

const xb_nn_layer_type *xb_nn_layer_type_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

int xb_nn_layer_tensor(const xb_nn_layer *l, const char *name)
{
	for (int t = 0; t < l->ntensors; t++)
		if (strcmp(l->type->tensor_names[t], name) == 0)
			return t;
	return -1;
}
