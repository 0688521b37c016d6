/* nn_analog.c - MVMs of the analog layers: im2col lowering, quantization, backends, STE.
 * Dense and convolution layers call these to compute y = W x + b in float or quantized mode.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "nn_int.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>
#include <math.h>
#include <string.h>

size_t xb_nn_shape_size(xb_nn_shape s)
{
	if (s.h <= 0 || s.w <= 0 || s.c <= 0)
		return 0;
	return (size_t)s.h * (size_t)s.w * (size_t)s.c;
}

int xb_nn_conv_out(int n, int k, int stride, int pad)
{
	if (n <= 0 || k <= 0 || stride <= 0 || pad < 0 || n + 2 * pad < k)
		return 0;
	return (n + 2 * pad - k) / stride + 1;
}

/* Copies and fills of a few floats (a kernel row of a thin layer) are faster inline
 * than as library calls; GCC would turn these loops back into such calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_INLINE_LOOP __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NN_INLINE_LOOP
#endif

NN_INLINE_LOOP static inline void copy_floats(float *restrict d, const float *restrict s,
					      size_t n)
{
	if (n >= 32) {
		memcpy(d, s, n * sizeof(float));
		return;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

NN_INLINE_LOOP static inline void zero_floats(float *d, size_t n)
{
	if (n >= 32) {
		memset(d, 0, n * sizeof(float));
		return;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = 0.0f;
}

NN_INLINE_LOOP void xb_nn_im2col(const float *x, xb_nn_shape in, int kh, int kw, int sh,
				 int sw, int ph, int pw, float *cols)
{
	int oh = xb_nn_conv_out(in.h, kh, sh, ph), ow = xb_nn_conv_out(in.w, kw, sw, pw);
	size_t c = (size_t)in.c, run = (size_t)kw * c, k = (size_t)kh * run;

	for (int a = 0; a < oh; a++)
		for (int b = 0; b < ow; b++) {
			float *row = cols + ((size_t)a * ow + b) * k;
			int x0 = b * sw - pw;
			for (int i = 0; i < kh; i++) {
				int yy = a * sh - ph + i;
				float *dst = row + (size_t)i * run;
				if (yy < 0 || yy >= in.h) {
					zero_floats(dst, run);
					continue;
				}
				const float *src = x + (size_t)yy * in.w * c;
				if (x0 >= 0 && x0 + kw <= in.w) {
					/* channels-last: the kw pixels of a kernel row are contiguous */
					copy_floats(dst, src + (size_t)x0 * c, run);
					continue;
				}
				for (int j = 0; j < kw; j++) {
					int xx = x0 + j;
					if (xx < 0 || xx >= in.w)
						zero_floats(dst + j * c, c);
					else
						copy_floats(dst + j * c, src + (size_t)xx * c, c);
				}
			}
		}
}

void xb_nn_col2im(const float *dcols, xb_nn_shape in, int kh, int kw, int sh, int sw,
		  int ph, int pw, float *dx)
{
	int oh = xb_nn_conv_out(in.h, kh, sh, ph), ow = xb_nn_conv_out(in.w, kw, sw, pw);
	size_t c = (size_t)in.c, run = (size_t)kw * c, k = (size_t)kh * run;

	memset(dx, 0, xb_nn_shape_size(in) * sizeof(float));
	for (int a = 0; a < oh; a++)
		for (int b = 0; b < ow; b++) {
			const float *row = dcols + ((size_t)a * ow + b) * k;
			for (int i = 0; i < kh; i++) {
				int yy = a * sh - ph + i;
				if (yy < 0 || yy >= in.h)
					continue;
				for (int j = 0; j < kw; j++) {
					int xx = b * sw - pw + j;
					if (xx < 0 || xx >= in.w)
						continue;
					float *d = dx + ((size_t)yy * in.w + xx) * c;
					const float *s = row + ((size_t)i * kw + j) * c;
					for (size_t q = 0; q < c; q++)
						d[q] += s[q];
				}
			}
		}
}

void xb_nn_quantize_weights(const float *w, size_t n, int bits, float scale, int8_t *wq)
{
	float qmax = (float)((1 << bits) - 1);
	for (size_t i = 0; i < n; i++) {
		float v = scale > 0 ? rintf(w[i] / scale) : 0.0f;
		v = v < -qmax ? -qmax : v > qmax ? qmax : v;
		wq[i] = (int8_t)v;
	}
}

void xb_nn_quantize_inputs(const float *x, size_t n, int bits, float scale, int zero,
			   uint8_t *xq)
{
	float qmax = (float)((1 << bits) - 1), inv = 1.0f / scale, z = (float)zero;
	for (size_t i = 0; i < n; i++) {
		float v = rintf(x[i] * inv) + z;
		v = v < 0.0f ? 0.0f : v > qmax ? qmax : v;
		xq[i] = (uint8_t)v;
	}
}



void xb_nn_requant_codes(const int32_t *acc, size_t n, int shift, int bits, uint8_t *codes)
{
	int32_t qmax = (1 << bits) - 1;
	for (size_t i = 0; i < n; i++) {
		/* floor division by 2^shift, written without relying on >> of negatives */
		int64_t a = acc[i], d = (int64_t)1 << shift;
		int64_t v = a >= 0 ? a / d : -((-a + d - 1) / d);
		codes[i] = (uint8_t)(v < 0 ? 0 : v > qmax ? qmax : v);
	}
}

static int omp_thread(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* ---- the float backend ---------------------------------------------------------- */

static xb_status float_mvm(void *state, const xb_nn_mvm *op, size_t n, const float *x,
			   float *y, xb_err *err)
{
	(void)state;
	(void)err;
	if (n == 0)
		return XB_OK;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)op->rows,
		    (int)op->cols, 1.0f, x, (int)op->cols, op->w, (int)op->cols, 0.0f, y,
		    (int)op->rows);
	return XB_OK;
}

/* Reference integer MVM (the layers use an equivalent sgemm fast path). */
static xb_status float_mvm_codes(void *state, const xb_nn_mvm *op, size_t n,
				 const uint8_t *xq, float *y, xb_err *err)
{
	(void)state;
	(void)err;
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < op->rows; r++) {
			const int8_t *w = op->wq + r * op->cols;
			const uint8_t *xi = xq + i * op->cols;
			int64_t acc = 0;
			for (size_t c = 0; c < op->cols; c++)
				acc += (int64_t)w[c] * xi[c];
			y[i * op->rows + r] = (float)acc;
		}
	return XB_OK;
}

const xb_nn_backend_type xb_nn_backend_float_type = {
	"float", float_mvm, float_mvm_codes
};

xb_nn_backend xb_nn_backend_float(void)
{
	xb_nn_backend b = {&xb_nn_backend_float_type, NULL, 1.0, -INFINITY, INFINITY, INFINITY,
			   1, XB_NN_MAX_SENDS};
	return b;
}

/* ---- analog forward and backward -------------------------------------------------- */

/* Work is split into chunks of samples whose number and size depend only on the batch
 * and the layer's shape, never on the thread count.  Each chunk is lowered (im2col),
 * multiplied by one single-threaded sgemm and, in backward, gives its own partial
 * weight gradient; partials are summed in chunk order.  So every result is the same
 * for any number of OpenMP threads. */
#define NN_CHUNKS 8                        /* chunks per batch when memory allows */
#define NN_CHUNK_CAP ((size_t)1 << 21)     /* floats of one chunk's lowered inputs, at most */

static int is_conv(const xb_nn_layer *l)
{
	return l->type == &xb_nn_conv2d || l->type == &xb_nn_conv1d;
}

/* Output positions (MVMs) per sample. */
static size_t positions(const xb_nn_layer *l)
{
	return (size_t)l->out.h * (size_t)l->out.w;
}

static size_t chunk_samples(const xb_nn_layer *l, size_t n)
{
	size_t per = positions(l) * l->cols;
	size_t cs = (n + NN_CHUNKS - 1) / NN_CHUNKS;
	if (cs < 1)
		cs = 1;
	while (cs > 1 && cs * per > NN_CHUNK_CAP)
		cs = (cs + 1) / 2;
	return cs;
}

/* Floats of one thread's slot for chunks of CS samples: the chunk's inputs transformed
 * (codes or x^), their im2col, its gradient, codes as bytes (twice as many for split
 * layers), masked dy. */
static size_t slot_floats(const xb_nn_layer *l, size_t cs)
{
	size_t m = cs * positions(l), xc = m * l->cols;
	return cs * xb_nn_shape_size(l->in) + 2 * xc + (2 * xc + 3) / 4 + m * l->rows + 16;
}

/* Shared part: float Wq or W^, row sums of Wq, then per-chunk partial gradients
 * (weights + bias). */
static size_t shared_floats(const xb_nn_layer *l, size_t n)
{
	size_t cs = chunk_samples(l, n), nch = n ? (n + cs - 1) / cs : 1;
	return l->rows * l->cols + l->rows + nch * (l->rows * l->cols + l->rows) + 16;
}

size_t nn_analog_scratch(const xb_nn_layer *l, size_t n, int threads)
{
	/* chunk sizes are not monotonic in the batch (the cap halves them), so take the
	 * largest need of any batch up to N */
	size_t sh = 0, cs = 0;
	for (size_t k = 1; k <= n; k++) {
		size_t a = shared_floats(l, k), b = chunk_samples(l, k);
		sh = a > sh ? a : sh;
		cs = b > cs ? b : cs;
	}
	return sh + (size_t)(threads > 0 ? threads : 1) * slot_floats(l, cs);
}

static int is_float_backend(const xb_nn_backend *b)
{
	return b->type == &xb_nn_backend_float_type;
}

/* The chunk's vectors: CNT samples at SRC lowered into BUF (conv), or SRC itself. */
static const float *lower(const xb_nn_layer *l, const float *src, size_t cnt, float *buf)
{
	size_t isz = xb_nn_shape_size(l->in);
	if (!is_conv(l))
		return src;
	const xb_nn_hyper *h = &l->hp;
	size_t per = positions(l) * l->cols;
	for (size_t s = 0; s < cnt; s++)
		xb_nn_im2col(src + s * isz, l->in, h->kh, h->kw, h->sh, h->sw, h->ph, h->pw,
			     buf + s * per);
	return buf;
}

/* Centred input codes xq - z as floats: zero padding of them is the code z.  Split
 * layers: the signed codes clamp(round(x / s_x), -Qx, Qx). */
static void centred_codes(const xb_nn_layer *l, const float *x, size_t n, float *out)
{
	float qmax = (float)((1 << l->hp.xbits) - 1), inv = 1.0f / l->q.x_scale;
	float z = (float)l->q.x_zero, qmin = l->q.x_split ? -qmax : 0.0f;
	for (size_t i = 0; i < n; i++) {
		float v = rintf(x[i] * inv) + z;
		out[i] = (v < qmin ? qmin : v > qmax ? qmax : v) - z;
	}
}

const int8_t *xb_nn_backend_weights(xb_nn_layer *l, size_t *ncols, xb_err *err)
{
	xb_nn_quant *q = &l->q;
	size_t rows = l->rows, cols = l->cols;

	*ncols = q->x_split ? 2 * cols : cols;
	if (!q->x_split)
		return q->wq;
	if (q->wq_split && q->split_version == q->wq_version)
		return q->wq_split;
	if (!q->wq_split && !(q->wq_split = malloc(rows * 2 * cols))) {
		xb_raise(err, XB_ENOMEM, "layer %d: out of memory for split weights", l->index);
		return NULL;
	}
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			q->wq_split[r * 2 * cols + c] = q->wq[r * cols + c];
			q->wq_split[r * 2 * cols + cols + c] = (int8_t)-q->wq[r * cols + c];
		}
	q->split_version = q->wq_version;
	return q->wq_split;
}

/* Output epilogue.  Float mode: add the bias.  Quantized: Y holds y_lsb (or, with
 * CENTRED, g Wq (xq - z), to which g z rowsum(Wq) is added back); record saturation,
 * add d and scale by k. */
static void epilogue(const xb_nn_layer *l, const xb_nn_run *run, size_t m, float *y,
		     unsigned char *mask, const float *rowsum, int centred)
{
	size_t rows = l->rows;
	if (!run->quantized) {
		const float *b = l->t[1];
		for (size_t i = 0; i < m; i++)
			for (size_t r = 0; r < rows; r++)
				y[i * rows + r] += b[r];
		return;
	}
	const xb_nn_backend *be = run->backend;
	float k = l->q.lsb_scale, g = (float)nn_layer_gain(l, be), gz = g * (float)l->q.x_zero;
	for (size_t i = 0; i < m; i++) {
		float *yi = y + i * rows;
		for (size_t r = 0; r < rows; r++) {
			float v = centred ? g * yi[r] + gz * rowsum[r] : yi[r];
			if (mask)
				mask[i * rows + r] = v <= be->lsb_min || v >= be->lsb_max;
			yi[r] = k * (v + l->q.bias_lsb[r]);
		}
	}
}

/* Offset calibration (xb_nn_net_calibrate_offsets): add device - ideal of the M
 * unsaturated outputs Y_LSB to L's sums; V are the M centred code vectors, WF the
 * weight codes as floats, ROWSUM their row sums. */
static xb_status offset_sums(xb_nn_layer *l, const xb_nn_backend *be, size_t m, const float *v,
			     const float *wf, const float *rowsum, const float *y_lsb, xb_err *err)
{
	size_t rows = l->rows;
	double g = nn_layer_gain(l, be), z = l->q.x_zero;
	double *sum = l->q.cal_sum, *cnt = l->q.cal_sum + rows;
	float *ideal = malloc((m ? m : 1) * rows * sizeof *ideal);

	if (!ideal)
		return xb_raise(err, XB_ENOMEM, "offset calibration: out of memory");
	if (m)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows,
			    (int)l->cols, 1.0f, v, (int)l->cols, wf, (int)l->cols, 0.0f, ideal,
			    (int)rows);
	for (size_t i = 0; i < m; i++)
		for (size_t r = 0; r < rows; r++) {
			double yv = y_lsb[i * rows + r];
			if (yv <= be->lsb_min || yv >= be->lsb_max)
				continue;
			sum[r] += yv - g * ((double)ideal[i * rows + r] + z * rowsum[r]);
			cnt[r] += 1.0;
		}
	free(ideal);
	return XB_OK;
}

xb_status nn_analog_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			    float *y, unsigned char *mask)
{
	const xb_nn_backend *be = run->backend;
	size_t rows = l->rows, cols = l->cols, p = positions(l), isz = xb_nn_shape_size(l->in);
	size_t cs = chunk_samples(l, n), nch = (n + cs - 1) / cs;
	size_t slot = slot_floats(l, cs);
	float *wf = run->scratch, *rowsum = wf + rows * cols;
	float *slots = run->scratch + shared_floats(l, n);
	int quant = run->quantized;
	xb_status st = XB_OK;

	if (n == 0)
		return XB_OK;
	if (quant)
		for (size_t r = 0; r < rows; r++) {
			int64_t acc = 0;
			for (size_t c = 0; c < cols; c++) {
				wf[r * cols + c] = (float)l->q.wq[r * cols + c];
				acc += l->q.wq[r * cols + c];
			}
			rowsum[r] = (float)acc;
		}
	int fast = is_float_backend(be) || (quant ? !be->type->mvm_codes : !be->type->mvm_float);
	if (fast) {
#pragma omp parallel num_threads(run->threads)
		{
			float *sl = slots + (size_t)omp_thread() * slot;
#pragma omp for schedule(static)
			for (long c = 0; c < (long)nch; c++) {
				size_t s0 = (size_t)c * cs, cnt = n - s0 < cs ? n - s0 : cs, m = cnt * p;
				const float *src = x + s0 * isz;
				float *in = sl, *buf = sl + cs * isz;
				xb_nn_mvm op = {l, rows, cols, l->t[0], NULL, l->version,
						 nn_layer_sends(l, be)};
				if (quant) {
					centred_codes(l, src, cnt * isz, in);
					src = in;
					op.w = wf;
				}
				const float *v = lower(l, src, cnt, buf);
				float *yc = y + s0 * p * rows;
				float_mvm(NULL, &op, m, v, yc, NULL);
				epilogue(l, run, m, yc, mask ? mask + s0 * p * rows : NULL, rowsum, 1);
			}
		}
		return XB_OK;
	}
	/* a plugged-in backend: called from this thread, one chunk at a time */
	for (size_t c = 0; c < nch && st == XB_OK; c++) {
		size_t s0 = c * cs, cnt = n - s0 < cs ? n - s0 : cs, m = cnt * p;
		const float *src = x + s0 * isz;
		float *in = slots, *buf = slots + cs * isz;
		if (quant) {
			centred_codes(l, src, cnt * isz, in);
			src = in;
		}
		const float *v = src;
		if (is_conv(l)) {
			const xb_nn_hyper *h = &l->hp;
			size_t per = p * cols;
#pragma omp parallel for schedule(static) num_threads(run->threads)
			for (long s = 0; s < (long)cnt; s++)
				xb_nn_im2col(src + (size_t)s * isz, l->in, h->kh, h->kw, h->sh, h->sw,
					     h->ph, h->pw, buf + (size_t)s * per);
			v = buf;
		}
		float *yc = y + s0 * p * rows;
		xb_nn_mvm op = {l, rows, cols, l->t[0], NULL, l->version, nn_layer_sends(l, be)};
		if (quant) {
			/* the backend's codes: xq, or for row pairs max(c, 0) then max(-c, 0)
			 * of each vector against the weights Wq, -Wq */
			uint8_t *codes = (uint8_t *)(buf + 2 * m * cols);
			if (!(op.wq = xb_nn_backend_weights(l, &op.cols, run->err))) {
				st = XB_ENOMEM;
				break;
			}
			if (l->q.x_split)
				for (size_t i = 0; i < m; i++)
					for (size_t k = 0; k < cols; k++) {
						float c0 = v[i * cols + k];
						codes[i * 2 * cols + k] = (uint8_t)(c0 > 0 ? c0 : 0);
						codes[i * 2 * cols + cols + k] = (uint8_t)(c0 < 0 ? -c0 : 0);
					}
			else
				for (size_t i = 0; i < m * cols; i++)
					codes[i] = (uint8_t)(v[i] + (float)l->q.x_zero);
			st = be->type->mvm_codes(be->state, &op, m, codes, yc, run->err);
			if (st == XB_OK && l->q.cal_sum)
				st = offset_sums(l, be, m, v, wf, rowsum, yc, run->err);
		} else {
			st = be->type->mvm_float(be->state, &op, m, v, yc, run->err);
		}
		if (st == XB_OK)
			epilogue(l, run, m, yc, mask ? mask + s0 * p * rows : NULL, rowsum, 0);
	}
	if (st != XB_OK)
		return xb_err_context(run->err, "layer %d (%s): backend %s", l->index,
				      l->type->name, be->type->name);
	return XB_OK;
}

xb_status nn_analog_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			     const float *dy, const unsigned char *mask, float *dx, float *gw,
			     float *gb)
{
	size_t rows = l->rows, cols = l->cols, p = positions(l), wsz = rows * cols;
	size_t cs = chunk_samples(l, n), nch = n ? (n + cs - 1) / cs : 0;
	size_t slot = slot_floats(l, cs), isz = xb_nn_shape_size(l->in);
	float *wh = run->scratch, *part = wh + wsz + rows;
	float *slots = run->scratch + shared_floats(l, n);
	int quant = run->quantized;
	const xb_nn_quant *q = &l->q;
	const float *w = l->t[0];
	float qmax = (float)((1 << l->hp.xbits) - 1);

	if (quant) {
		for (size_t i = 0; i < wsz; i++)
			wh[i] = q->w_scale * (float)q->wq[i];
		w = wh;
	}
#pragma omp parallel num_threads(run->threads)
	{
		float *sl = slots + (size_t)omp_thread() * slot;
#pragma omp for schedule(static)
		for (long c = 0; c < (long)nch; c++) {
			size_t s0 = (size_t)c * cs, cnt = n - s0 < cs ? n - s0 : cs, m = cnt * p;
			const float *src = x + s0 * isz;
			float *in = sl, *buf = sl + cs * isz, *dcols = buf + m * cols;
			float *dm = dcols + m * cols + (m * cols + 3) / 4;
			const float *d = dy + s0 * p * rows;
			float *pw = part + (size_t)c * (wsz + rows), *pb = pw + wsz;
			float inv = 1.0f / q->x_scale, z = (float)q->x_zero;
			if (quant) {
				/* x^ = s_x (xq - z); zero padding stays zero */
				centred_codes(l, src, cnt * isz, in);
				for (size_t i = 0; i < cnt * isz; i++)
					in[i] *= q->x_scale;
				src = in;
				const unsigned char *mk = mask ? mask + s0 * p * rows : NULL;
				for (size_t i = 0; i < m * rows; i++)
					dm[i] = mk && mk[i] ? 0.0f : d[i];
				d = dm;
			}
			const float *v = lower(l, src, cnt, buf);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)cols,
				    (int)m, 1.0f, d, (int)rows, v, (int)cols, 0.0f, pw, (int)cols);
			for (size_t r = 0; r < rows; r++)
				pb[r] = 0.0f;
			for (size_t i = 0; i < m; i++)
				for (size_t r = 0; r < rows; r++)
					pb[r] += d[i * rows + r];
			if (!dx)
				continue;
			float *dxc = dx + s0 * isz;
			float *dv = is_conv(l) ? dcols : dxc;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)cols,
				    (int)rows, 1.0f, d, (int)rows, w, (int)cols, 0.0f, dv, (int)cols);
			if (is_conv(l)) {
				const xb_nn_hyper *h = &l->hp;
				for (size_t s = 0; s < cnt; s++)
					xb_nn_col2im(dcols + s * p * cols, l->in, h->kh, h->kw, h->sh,
						     h->sw, h->ph, h->pw, dxc + s * isz);
			}
			if (quant) {
				/* STE gate: no gradient where the input code clamped */
				const float *xs = x + s0 * isz;
				float qmin = q->x_split ? -qmax : 0.0f;
				for (size_t i = 0; i < cnt * isz; i++) {
					float code = rintf(xs[i] * inv) + z;
					if (code < qmin || code > qmax)
						dxc[i] = 0.0f;
				}
			}
		}
		/* partial gradients summed in chunk order, one thread per element */
#pragma omp for schedule(static)
		for (long j = 0; j < (long)(wsz + rows); j++) {
			float acc = 0.0f;
			for (size_t c = 0; c < nch; c++)
				acc += part[c * (wsz + rows) + (size_t)j];
			if ((size_t)j < wsz)
				gw[j] = acc;
			else
				gb[(size_t)j - wsz] = acc;
		}
	}
	return XB_OK;
}

void nn_init_uniform(xb_nn_layer *l, int t, size_t fan_in, uint64_t seed)
{
	double a = fan_in ? sqrt(6.0 / (double)fan_in) : 0.0;
	uint32_t r[4];
	for (size_t i = 0; i < l->tsize[t]; i++) {
		nn_philox(seed, (uint32_t)i, (uint32_t)l->index, (uint32_t)t, NN_RNG_INIT, r);
		l->t[t][i] = (float)(a * (2.0 * nn_u01(r[0]) - 1.0));
	}
}
