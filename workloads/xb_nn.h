/* xb_nn.h - the neural networks of xbarsim: layers, networks, float and quantized training.
 * Layers as const type tables, convolutions as MVMs, a pluggable MVM backend, the model file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it models.  A network is a chain of layers.  The analog layers (dense, conv1d,
 * conv2d) are matrix-vector multiplications that run on crossbar tiles; every other
 * layer (ReLU, pooling, batch norm, depthwise convolution, flatten, re-quantization)
 * runs on the digital side of the chip.  Each layer type says which (xb_nn_exec).
 *
 * Layout.  A sample is a tensor of shape (h, w, c), stored channels-last: element
 * (i, j, k) is at (i * w + j) * c + k; a batch is N such tensors back to back.  A KWS
 * input [49 frames][10 MFCC] is (49, 10, 1); a Fashion-MNIST image (28, 28, 1); a
 * vector (1, 1, n).  conv1d convolves along h and needs w == 1: (49, 1, 10) reads the
 * same KWS features as 10 channels over 49 time steps.
 *
 * Convolutions as MVMs (im2col).  A conv2d with kernel kh x kw, stride sh x sw and
 * zero padding ph x pw maps (H, W, C) to (OH, OW, F), OH = (H + 2 ph - kh) / sh + 1
 * (floor), OW likewise.  Its weight is the matrix W[F][K], K = kh * kw * C, row f
 * holding filter f in (kh, kw, C) order.  For output position p = (oh, ow) the column
 * x_p[K] gathers the input patch (zeros outside the image) in the same order, and
 * y_p = W x_p + b is one MVM on a tile: a batch of N samples is N * OH * OW MVMs.
 * Channels-last makes y_p land contiguously in the output.  conv1d is conv2d with
 * kw = 1.  The float forward and backward use OpenBLAS sgemm on chunks of samples.
 *
 * Quantization (analog layers in quantized mode; DESIGN.md §1 notation).  With
 * bw weight bits, bx input bits, Qw = 2^bw - 1, Qx = 2^bx - 1:
 *   weights  s_w = max|W| / Qw,  Wq = clamp(round(W / s_w), -Qw, Qw),  W^ = s_w Wq
 *   inputs   xq = clamp(round(x * (1/s_x)) + z, 0, Qx),  x^ = s_x (xq - z)
 *            (1/s_x rounded to float once, everywhere the codes are computed)
 * with a per-layer scale s_x and an integer zero point z (0 after a ReLU; > 0 for
 * signed inputs such as MFCC features, so that zero padding is the code z).  The tile
 * returns, in ADC LSB, y_lsb ~= g * sum_c Wq[r][c] xq[c] with the backend's gain g
 * (LSB per unit of x*w).  The layer turns it back into float units:
 *   k = s_w s_x / g                      (float units per LSB)
 *   y = k * (y_lsb + d),   d = round((b - s_w s_x z sum_c Wq[r][c]) / k)
 * (y = W^ x^ + b exactly when y_lsb is ideal and d unrounded): the bias and the
 * zero-point correction are one digital integer d added per output, so the float
 * result equals what an integer pipeline computes.  Training uses the straight-through
 * estimator (STE): rounding is taken as identity, clamps as gates.  Since
 * dy_lsb/dxq = g Wq and dy_lsb/dWq = g xq (the ideal forward), multiplying by the
 * dequantization factors (the gain cancels) gives
 *   dL/dx = W^T (m_y . dL/dy) . m_x,   dL/dW = (m_y . dL/dy) x^T,   dL/db = sum m_y . dL/dy
 * where m_x = 1 inside the input range s_x [-z, Qx - z] (0 outside, where xq clamped)
 * and m_y = 0 where the backend saturated (y_lsb at its lsb_min/lsb_max): the gain
 * cancels in float units but sets which outputs saturate.
 *
 * Signed inputs as row pairs.  A zero point puts a constant share g z sum_c Wq[r][c]
 * into every output, which fills the integrator's range and, on a leaky integrator,
 * leaks by an amount that depends on timing.  With split_signed (the default) a
 * layer whose calibration data are signed takes z = 0, s_x = max(-lo, hi) / Qx and
 * signed codes c = clamp(round(x / s_x), -Qx, Qx); the backend sees 2K inputs, the
 * codes max(c, 0) then max(-c, 0), and 2K weights per output, Wq then -Wq
 * (differential inputs: two physical rows per signed input, so the sum is
 * sum_c Wq c with no constant share).  q.x_split marks such layers.
 *
 * Sends.  The device repeats an input vector's events `sends` times (the tile's
 * input.num_sends, BrainScaleS-2's num_sends), so y_lsb ~= sends * g * sum Wq xq and a
 * layer's gain is g_l = sends * g (g_l replaces g above).  With a percentile p of the
 * layer's raw output |g Wq xq| of one send (calibration data, in LSB; zero-point term
 * included, since the device integrates it), xb_nn_net_quantize() sets each layer left
 * at sends=0 to clamp(floor(fill * lsb_linear / p), 1, max_sends): small outputs are
 * lifted above the read noise, and the largest stay inside the linear range.  With
 * fill = 0, or a backend with no linear limit, such layers stay at 0: they take the
 * sends of the backend they run on (the device's input.num_sends, 1 for the float one).
 *
 * Re-quantization (layer "requant", digital): between analog layers the int8 output
 * becomes the next layer's input code by a shift and a clamp, like BrainScaleS-2's
 * converting ReLU: code = clamp(a >> shift, 0, Qx), a = y_lsb + d (arithmetic shift:
 * floor(a / 2^shift)).  In float units its input is k * a (k of the analog layer it
 * follows, looking through pooling, flatten and ReLU; a = round(input / k), so after
 * average pooling the mean is rounded to the LSB), its output s * code with
 * s = k 2^shift, which is then the next analog layer's s_x (z = 0): scales propagate
 * down the chain and only the shifts are fixed numbers.  A requant with no analog
 * layer before it quantizes with a scale calibrated from data.  In float mode requant
 * is a ReLU.  Its STE passes dL/dy where 0 <= a / 2^shift < Qx + 1.
 * xb_nn_net_quantize() chooses s_x of each analog layer not fed by a requant (and z
 * for signed inputs) and each shift left at -1, from calibration data.
 *
 * The MVM backend.  Analog layers compute y = W x for a batch of vectors through an
 * xb_nn_backend (a const type table plus state): in float mode on float activations,
 * in quantized mode on codes, returning LSB.  The default backend ("float") uses
 * sgemm and, in quantized mode, the ideal y_lsb = g Wq xq (exact in float32 up to
 * 8,590 inputs per output with 6-bit weights and 5-bit inputs).  The tile model plugs
 * in through the same table for hardware-aware training and device inference; it is
 * called from the calling thread, one chunk of samples (all their output positions)
 * at a time, and may parallelise inside.  Backward never calls the backend: the STE
 * uses W^ (hardware-aware training = device forward, ideal backward).
 *
 * Batch norm.  Per channel: training mode normalises with the batch mean and biased
 * variance over N*h*w values, y = gamma (x - mu) / sqrt(var + eps) + beta, and moves
 * running_mean/running_var (unbiased) by momentum; eval mode uses the running values.
 * xb_nn_net_fold() folds each batch norm into the dense/conv/depthwise layer before it:
 * W'[f] = W[f] a_f, b'[f] = (b[f] - mean_f) a_f + beta_f, a_f = gamma_f/sqrt(var_f+eps).
 *
 * Training.  Minibatch Adam (optionally decoupled weight decay) with a cosine learning
 * rate, lr_t = lr_min + (lr - lr_min)(1 + cos(pi t / T)) / 2 over the T steps of all
 * epochs; softmax cross-entropy loss averaged over the batch; the model with the best
 * validation accuracy is kept.  Random numbers come from Random123's philox4x32 keyed
 * by (seed, purpose) and counted by (layer, tensor, element) for initial weights,
 * (epoch, index) for the shuffle and (epoch, sample) for augmentation, so nothing
 * depends on thread count or order.
 *
 * Threads and determinism.  An analog layer cuts its batch into chunks whose number
 * and size depend only on the batch size and the layer's shape (8 per batch, smaller
 * when one chunk's im2col would exceed 8 MB); OpenMP threads take chunks, each lowering
 * its samples and calling one single-threaded sgemm; each chunk's weight gradient is a
 * partial sum and the partials are added in chunk order.  Pooling and element-wise
 * layers run over samples, batch-norm statistics and depthwise weight gradients over
 * channels, each sum in a fixed order.  So results are bit-identical for any number
 * of OpenMP threads.  While a pass runs, a pthread-built OpenBLAS is set to one thread
 * (restored afterwards) so that its pool does not compete with OpenMP's; the OpenMP
 * build of OpenBLAS needs no such care.  On a machine shared with other busy
 * processes, OMP_WAIT_POLICY=passive keeps OpenMP's spinning barriers from stalling.
 *
 * Describing a network (spec text).  Statements separated by newlines or ';', '#'
 * starts a comment.  The first is "input HxWxC"; each further one is a layer type
 * name followed by options key=value (AxB for pairs; a single A means AxA):
 *   dense out=N | conv2d out=F kernel=KHxKW stride=SHxSW pad=PHxPW |
 *   conv1d out=F kernel=K stride=S pad=P | dwconv2d kernel= stride= pad= |
 *   maxpool kernel= stride= | avgpool kernel= stride= (stride defaults to the kernel) |
 *   batchnorm eps= momentum= | relu | flatten | requant shift=S (-1: chosen by
 *   xb_nn_net_quantize) bits=BX
 * Analog layers also take wbits= and xbits= (default 6 and 5) and sends= (0: chosen
 * by xb_nn_net_quantize(); 1 .. 64).  xb_nn_arch() returns
 * the spec of the stock networks, whose names are also accepted as specs.  In an INI
 * value keep specs on one line with ';' right after a word ("a; b"): inih takes " ;"
 * for the start of a comment.  The C builder is xb_nn_net_new() + xb_nn_net_add().
 *
 * Model file (HDF5, schema "xbarsim-model" version 1, doc/model-format.md):
 * root attributes input_shape, nlayers, quantized, backend_gain, spec; /layers/<i>
 * with attributes type, exec, in_shape, out_shape and the layer's options, one dataset
 * per tensor (weight, bias, gamma, beta, running_mean, running_var) and, when
 * quantized, weight_q (int8 codes) with attributes w_scale, x_scale, x_zero;
 * /training with one dataset per epoch column.
 *
 * Invariants.  A built network's shapes chain (layer i's out is layer i+1's in).  A
 * layer's `version` changes whenever its tensors change, so a backend may cache what
 * it programmed.  No function prints or exits; errors go to the network's slot
 * (xb_nn_net_errmsg) or the xb_err given.
 */
#ifndef XB_NN_H
#define XB_NN_H

#include "xb_base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layers ------------------------------------------------------------------ */

#define XB_NN_MAX_TENSORS 4      /* tensors per layer (params then states) */
#define XB_NN_MAX_RANK 4         /* rank of a tensor */
#define XB_NN_SHIFT_AUTO (-1)    /* requant shift chosen by xb_nn_net_quantize() */
#define XB_NN_MAX_SENDS 64       /* most sends of an analog layer */

/* Shape of one sample: h x w x c, channels last. */
typedef struct xb_nn_shape {
	int h, w, c;
} xb_nn_shape;

/* Number of elements of a sample of shape S. */
size_t xb_nn_shape_size(xb_nn_shape s);

/* Where a layer runs. */
typedef enum xb_nn_exec {
	XB_NN_DIGITAL = 0,   /* on the digital side (float here, integer on a chip) */
	XB_NN_ANALOG = 1     /* as MVMs on crossbar tiles, through the MVM backend */
} xb_nn_exec;

/* Hyper-parameters: the union of every type's options (unused ones stay at defaults). */
typedef struct xb_nn_hyper {
	int out;               /* dense: units; conv: filters */
	int kh, kw;            /* kernel (conv, pool) */
	int sh, sw;            /* stride; 0 = default (1 for conv, kernel for pool) */
	int ph, pw;            /* zero padding (conv) */
	double eps;            /* batch norm: variance floor (1e-5) */
	double momentum;       /* batch norm: running-statistics update weight (0.1) */
	int shift;             /* requant: right shift, XB_NN_SHIFT_AUTO to calibrate */
	int bits;              /* requant: output code bits (5) */
	int wbits, xbits;      /* analog layers: weight and input bits (6, 5) */
	int sends;             /* analog layers: sends of each input vector, 0 = chosen by
				* xb_nn_net_quantize() (see the design comment) */
} xb_nn_hyper;

/* Default hyper-parameters (all options at their defaults). */
xb_nn_hyper xb_nn_hyper_default(void);

/* Quantization state of an analog layer (see the design comment). */
typedef struct xb_nn_quant {
	float w_scale;         /* s_w: float weight per weight code */
	float x_scale;         /* s_x: float input per input code */
	int x_zero;            /* z: input code of the value 0 */
	int x_split;           /* signed inputs as row pairs (see the design comment) */
	int x_from;            /* index of the requant layer that sets s_x, -1: own s_x */
	int8_t *wq;            /* weight codes [rows][cols] (owned), NULL until quantized */
	float *bias_lsb;       /* d: digital offset per output in LSB (owned) */
	float *offset_lsb;     /* measured offset correction per output, in d (owned) */
	int8_t *wq_split;      /* x_split: [rows][2 cols] = [Wq | -Wq] for the backend (owned) */
	uint64_t split_version;/* wq_version wq_split was made from */
	uint64_t wq_version;   /* layer version wq was computed from */
	float lsb_scale;       /* k = s_w s_x / g of the last quantized forward */
	double *cal_sum;       /* xb_nn_net_calibrate_offsets: [rows] sums of device - ideal,
				* [rows] their counts; NULL otherwise */
} xb_nn_quant;

typedef struct xb_nn_layer xb_nn_layer;
typedef struct xb_nn_layer_type xb_nn_layer_type;
typedef struct xb_nn_backend xb_nn_backend;

/* Context of one forward or backward pass, given to the type functions. */
typedef struct xb_nn_run {
	int training;                 /* batch norm uses batch statistics and updates its state */
	int quantized;                /* analog layers quantize (see the design comment) */
	const xb_nn_backend *backend; /* MVM backend of the analog layers */
	float *scratch;               /* scratch of the type's scratch_floats() size */
	int threads;                  /* OpenMP threads the scratch has slots for */
	unsigned char *cache;         /* this layer's cache of cache_bytes() (forward -> backward) */
	xb_err *err;                  /* where errors go */
} xb_nn_run;

/* One layer.  Created by the network; fields are readable by anyone (mapping onto
 * tiles, backends), written by the layer's type and the network. */
struct xb_nn_layer {
	const xb_nn_layer_type *type;
	int index;                           /* position in the network, 0-based */
	xb_nn_hyper hp;                      /* options as given (defaults filled in) */
	xb_nn_shape in, out;                 /* per-sample input and output shapes */
	int ntensors;                        /* type->nparams + type->nstates */
	float *t[XB_NN_MAX_TENSORS];         /* tensors, params first (owned by the network) */
	size_t tsize[XB_NN_MAX_TENSORS];     /* their element counts */
	int trank[XB_NN_MAX_TENSORS];        /* their ranks ... */
	int tdims[XB_NN_MAX_TENSORS][XB_NN_MAX_RANK];   /* ... and dimensions */
	size_t rows, cols;                   /* analog layers: matrix shape (outputs, inputs) */
	uint64_t version;                    /* bumped whenever a tensor changes */
	xb_nn_quant q;                       /* analog layers: quantization state */
	float requant_in_scale;              /* requant: k of its source layer (quantized) */
	int requant_src;                     /* requant: index of its source analog layer */
};

/* A layer type: a const table, registered by name (STYLE.md: like gsl_rng_type). */
struct xb_nn_layer_type {
	const char *name;                    /* spec and model-file name: "dense", "conv2d", ... */
	xb_nn_exec exec;                     /* analog (tiles) or digital */
	const char *options;                 /* options accepted, space-separated */
	int nparams;                         /* trainable tensors, first in t[] */
	int nstates;                         /* persistent non-trainable tensors after them */
	const char *const *tensor_names;     /* nparams + nstates dataset names */
	/* Check L->hp against L->in, set L->out, the tensor shapes (trank, tdims, tsize)
	 * and, for analog layers, rows/cols.  XB_ECONFIG naming the layer and option. */
	xb_status (*setup)(xb_nn_layer *l, xb_err *err);
	/* Initialise the tensors from the counter-based stream keyed by SEED (may be NULL:
	 * nothing to initialise). */
	void (*init)(xb_nn_layer *l, uint64_t seed);
	/* Bytes the forward pass keeps for backward for a batch of N (NULL: none). */
	size_t (*cache_bytes)(const xb_nn_layer *l, size_t n);
	/* Floats of scratch needed for a batch of N run by up to THREADS OpenMP threads
	 * (NULL: none). */
	size_t (*scratch_floats)(const xb_nn_layer *l, size_t n, int threads);
	/* y[N][out] = f(x[N][in]). */
	xb_status (*forward)(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			     float *y);
	/* Given x, y of the last forward (same run settings) and dL/dy: dL/dx into DX (NULL:
	 * not wanted) and dL/dparam into GRAD[0..nparams-1] (overwritten). */
	xb_status (*backward)(xb_nn_layer *l, const xb_nn_run *run, size_t n, const float *x,
			      const float *y, const float *dy, float *dx, float *const *grad);
	/* Fold this (normalisation) layer L into PREV, which must be analog or depthwise and
	 * have L's channels; NULL if the type does not fold. */
	xb_status (*fold)(const xb_nn_layer *l, xb_nn_layer *prev, xb_err *err);
};

/* The stock layer types. */
extern const xb_nn_layer_type xb_nn_dense, xb_nn_conv1d, xb_nn_conv2d, xb_nn_dwconv2d,
	xb_nn_relu, xb_nn_maxpool, xb_nn_avgpool, xb_nn_batchnorm, xb_nn_flatten,
	xb_nn_requant;

/* Registered type named NAME, or NULL. */
const xb_nn_layer_type *xb_nn_layer_type_find(const char *name);
/* The registry: *N types in a NULL-terminated array. */
const xb_nn_layer_type *const *xb_nn_layer_types(size_t *n);
/* Index of tensor NAME in layer L, -1 if it has none of that name. */
int xb_nn_layer_tensor(const xb_nn_layer *l, const char *name);

/* ---- lowering and quantization helpers (used by the layers, tests and backends) --- */

/* Output size of a convolution/pool along one axis: (n + 2 pad - k) / stride + 1, or 0
 * if the kernel does not fit. */
int xb_nn_conv_out(int n, int k, int stride, int pad);
/* im2col for one sample X of shape IN: COLS[OH*OW][kh*kw*C], row p the patch of output
 * position p in (kh, kw, C) order, zero outside the image. */
void xb_nn_im2col(const float *x, xb_nn_shape in, int kh, int kw, int sh, int sw, int ph,
		  int pw, float *cols);
/* Adjoint of im2col: DX (shape IN, overwritten) gets the patches of DCOLS added back. */
void xb_nn_col2im(const float *dcols, xb_nn_shape in, int kh, int kw, int sh, int sw,
		  int ph, int pw, float *dx);
/* Weight codes: wq[i] = clamp(round(w[i] / scale), -(2^bits-1), 2^bits-1). */
void xb_nn_quantize_weights(const float *w, size_t n, int bits, float scale, int8_t *wq);
/* Input codes: xq[i] = clamp(round(x[i] * (1/scale)) + zero, 0, 2^bits-1). */
void xb_nn_quantize_inputs(const float *x, size_t n, int bits, float scale, int zero,
			   uint8_t *xq);
/* The weight codes quantized analog layer L gives its backend: l->q.wq ([rows][cols]),
 * or for a split layer [Wq | -Wq] per output ([rows][2 cols], kept in L until wq
 * changes); *COLS gets the backend's inputs per vector.  NULL (ENOMEM) on ERR. */
const int8_t *xb_nn_backend_weights(xb_nn_layer *l, size_t *cols, xb_err *err);
/* Digital re-quantization of accumulated outputs: codes[i] = clamp(acc[i] >> shift, 0,
 * 2^bits-1) with an arithmetic (flooring) shift. */
void xb_nn_requant_codes(const int32_t *acc, size_t n, int shift, int bits, uint8_t *codes);

/* ---- the MVM backend ----------------------------------------------------------- */

/* One batched MVM request from an analog layer. */
typedef struct xb_nn_mvm {
	const xb_nn_layer *layer;    /* the requesting layer (index, type, quantization) */
	size_t rows;                 /* outputs per vector (filters/units) */
	size_t cols;                 /* inputs per vector */
	const float *w;              /* float weights [rows][cols], row-major */
	const int8_t *wq;            /* weight codes [rows][cols]; NULL in float mode */
	uint64_t version;            /* changes whenever w or wq change */
	int sends;                   /* quantized mode: sends of each vector (>= 1) */
} xb_nn_mvm;

/* A backend type.  Called from one thread at a time, batches as the layer forms them
 * (a chunk of samples times output positions).  A NULL entry falls back to the
 * float backend's. */
typedef struct xb_nn_backend_type {
	const char *name;
	/* Float mode: y[i][r] = sum_c w[r][c] x[i][c] for i < N. */
	xb_status (*mvm_float)(void *state, const xb_nn_mvm *op, size_t n, const float *x,
			       float *y, xb_err *err);
	/* Quantized mode: y_lsb[i][r] = the device's output in LSB for the codes
	 * xq[i][0..cols-1] and op->wq; ideally gain * sum_c wq[r][c] xq[i][c]. */
	xb_status (*mvm_codes)(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			       float *y_lsb, xb_err *err);
} xb_nn_backend_type;

/* A backend instance (caller-owned; the network keeps a copy of this struct). */
struct xb_nn_backend {
	const xb_nn_backend_type *type;
	void *state;                 /* handed to the type's functions, owned by the caller */
	double gain;                 /* g: LSB per unit of xq * wq and send (> 0) */
	double lsb_min, lsb_max;     /* output range; outputs at a limit count as saturated */
	double lsb_linear;           /* |y_lsb| up to which the device is linear (+inf: no limit) */
	int sends;                   /* sends of layers left at sends=0 when no fill is asked */
	int max_sends;               /* most sends the device takes (>= 1) */
};

/* The float backend: sgemm; quantized mode returns gain * Wq xq exactly (no noise, no
 * rounding, no saturation). */
extern const xb_nn_backend_type xb_nn_backend_float_type;
/* { &xb_nn_backend_float_type, NULL, gain 1, -inf, +inf }. */
xb_nn_backend xb_nn_backend_float(void);

/* ---- networks ------------------------------------------------------------------ */

typedef struct xb_nn_net xb_nn_net;

/* An empty network taking samples of shape IN.  NULL on error (message on ERR). */
xb_nn_net *xb_nn_net_new(xb_nn_shape in, xb_err *err);
void xb_nn_net_free(xb_nn_net *net);
const char *xb_nn_net_errmsg(const xb_nn_net *net);

/* Append a layer of type TYPE_NAME with options OPTIONS ("out=16 kernel=3x3", may be
 * NULL or "").  Its input is the previous layer's output.  Unknown type or option, a
 * bad value or a shape that does not fit: XB_ECONFIG naming the layer index, type and
 * option; the network is unchanged.  New tensors start at zero (see _init_weights). */
xb_status xb_nn_net_add(xb_nn_net *net, const char *type_name, const char *options);
/* Append a layer with hyper-parameters HP (the C builder). */
xb_status xb_nn_net_add_hyper(xb_nn_net *net, const xb_nn_layer_type *type,
			      const xb_nn_hyper *hp);
/* Build a network from spec text (design comment), or from the name of a stock network
 * (xb_nn_arch), and initialise its weights from SEED.  Errors name the statement
 * number, the word at fault and what was expected. */
xb_nn_net *xb_nn_net_from_spec(const char *spec, uint64_t seed, xb_err *err);
/* The spec of a stock network: "kws-cnn" (Hello Edge CNN size class), "kws-dscnn"
 * (Hello Edge DS-CNN-S with every analog layer in one 128-row block; the shipped KWS
 * model), both 49x10 MFCC into 12 classes; "lenet5", "mlp3", "mlp3-bn" (Fashion-MNIST
 * 28x28, 10 classes); NULL if unknown. */
const char *xb_nn_arch(const char *name);
/* The network as spec text (malloc'd; NULL on ENOMEM). */
char *xb_nn_net_spec(const xb_nn_net *net);

/* (Re)initialise every tensor from SEED: He-uniform weights U(+-sqrt(6/fan_in)), zero
 * biases, batch norm gamma 1, beta 0, running mean 0, variance 1. */
void xb_nn_net_init_weights(xb_nn_net *net, uint64_t seed);

int xb_nn_net_nlayers(const xb_nn_net *net);
/* Layer I (0-based), NULL if out of range.  The mutable form bumps nothing: call
 * xb_nn_layer_touch() after changing tensors. */
const xb_nn_layer *xb_nn_net_layer(const xb_nn_net *net, int i);
xb_nn_layer *xb_nn_net_layer_mut(xb_nn_net *net, int i);
void xb_nn_layer_touch(xb_nn_layer *l);
xb_nn_shape xb_nn_net_in_shape(const xb_nn_net *net);
xb_nn_shape xb_nn_net_out_shape(const xb_nn_net *net);
/* Number of trainable parameters. */
size_t xb_nn_net_nparams(const xb_nn_net *net);

/* Use BACKEND (copied) for the analog layers; NULL restores the float backend. */
void xb_nn_net_set_backend(xb_nn_net *net, const xb_nn_backend *backend);
const xb_nn_backend *xb_nn_net_backend(const xb_nn_net *net);

/* A tap changes the outputs of chosen layers in the forward passes of
 * xb_nn_net_forward (training and eval; not in quantization or offset calibration),
 * e.g. the noise of noise-aware training at the sites of `xbarsim walk`.  After layer
 * LAYER's forward on a slice of N samples, FN gets a copy Y[N][SIZE] of its output,
 * changes it in place to y' (what the next layer and the network output see) and
 * writes D[N][SIZE] = dy'/dy, by which the backward pass multiplies the gradient
 * (the layer's own backward sees its unchanged output).  A non-OK status stops the
 * pass (FN sets ERR). */
typedef xb_status (*xb_nn_tap_fn)(void *ud, int layer, size_t n, size_t size, float *y,
				  float *d, xb_err *err);
/* Tap the outputs of the NLAYERS layers LAYERS (0-based, copied; -1 is the network input,
 * changed in place, D multiplying dL/dx) with FN, UD; FN NULL or NLAYERS 0 removes the
 * tap.  XB_EINVAL naming an index out of range, XB_ENOMEM.  A change of topology (push,
 * fold) removes it. */
xb_status xb_nn_net_set_tap(xb_nn_net *net, const int *layers, size_t nlayers,
			    xb_nn_tap_fn fn, void *ud);

/* Size the workspace for batches of up to MAX_BATCH samples (done on demand by the
 * calls below; XB_ENOMEM on failure). */
xb_status xb_nn_net_reserve(xb_nn_net *net, size_t max_batch);
/* Forward N samples X[N][in] to Y[N][out].  TRAINING selects batch statistics (and
 * updates running statistics) and keeps what backward needs; then N must be at most
 * the reserved batch.  In eval mode any N is processed in slices. */
xb_status xb_nn_net_forward(xb_nn_net *net, size_t n, const float *x, float *y, int training);
/* Backpropagate DY[N][out] through the last forward (same N): parameter gradients are
 * kept in the network (xb_nn_net_grad), DX[N][in] receives dL/dx if not NULL.
 * XB_ESTATE without a preceding forward of N samples. */
xb_status xb_nn_net_backward(xb_nn_net *net, size_t n, const float *dy, float *dx);
/* Gradient of tensor T of layer I from the last backward (NULL if none). */
const float *xb_nn_net_grad(const xb_nn_net *net, int i, int t);

/* Fold every batch norm into the layer before it and remove it (eval-mode outputs are
 * unchanged up to rounding).  XB_EUNSUPPORTED naming the layer if a batch norm does
 * not follow a dense/conv/depthwise layer with its channels. */
xb_status xb_nn_net_fold(xb_nn_net *net);

/* ---- quantization ---------------------------------------------------------------- */

typedef struct xb_nn_quant_params {
	double percentile;     /* activation range for input scales and shifts, % (99.5:
				* the KWS model through the ideal device, 70 % at 99.99,
				* 78 % at 99.9, 84 % at 99.5) */
	int quantize_inputs;   /* first analog layer: choose s_x and z from data (1) */
	double fill;           /* sends=0 layers: fraction of lsb_linear their raw output's
				* percentile may reach (1: KWS DS-CNN on hx before fine-tuning,
				* 33 % at 0.5, 73 % at 0.8, 84 % at 1); 0: the backend's sends */
	int split_signed;      /* signed data inputs as row pairs, not a zero point (1) */
} xb_nn_quant_params;

xb_nn_quant_params xb_nn_quant_default_params(void);
/* Calibrate the quantization for the current backend's gain from N samples X: the first
 * analog layer's s_x and z from the data range, the sends of every analog layer left at
 * 0 (see the design comment), every requant shift left at XB_NN_SHIFT_AUTO so that the
 * 'percentile' of its input maps to Qx, the chain of scales; then switch the network
 * to quantized mode.  XB_EUNSUPPORTED if a batch norm is left (fold first). */
xb_status xb_nn_net_quantize(xb_nn_net *net, size_t n, const float *x,
			     const xb_nn_quant_params *qp);
/* Digital offset calibration, as a chip's bring-up does it: for each analog layer in
 * network order, run the quantized network on the N samples X through the current
 * backend and set the layer's offset correction to minus the mean, per output, of
 * (backend output - ideal S g Wq xq) over the samples and positions, leaving out
 * saturated outputs; the correction joins d (rounded with it).  It removes whatever
 * is systematic per output: the fixed-pattern ADC offsets, the integrator's leak of
 * a constant input share (zero point), the codes' floor.  The float backend (ideal)
 * gets zero corrections.  Corrections are reset by xb_nn_net_quantize() and are not
 * saved in model files (they belong to one chip). */
xb_status xb_nn_net_calibrate_offsets(xb_nn_net *net, size_t n, const float *x);
/* Switch between float (0) and quantized (1) mode.  XB_ESTATE for 1 before quantize. */
xb_status xb_nn_net_set_quantized(xb_nn_net *net, int quantized);
int xb_nn_net_quantized(const xb_nn_net *net);

/* ---- training -------------------------------------------------------------------- */

/* Labelled samples: X[N][in shape], LABEL[N] in [0, classes). Caller-owned. */
typedef struct xb_nn_data {
	size_t n;
	const float *x;
	const int32_t *label;
} xb_nn_data;

/* One epoch of a training record. */
typedef struct xb_nn_epoch {
	int epoch;                 /* 1-based */
	double train_loss;         /* mean cross-entropy over the epoch's batches, nats */
	double train_acc;          /* fraction of training samples right (training mode) */
	double val_loss, val_acc;  /* on the validation set, eval mode (NaN without one) */
	double lr;                 /* learning rate of the epoch's last step */
	double seconds;            /* wall time of the epoch */
} xb_nn_epoch;

/* Called after each epoch; return non-zero to stop training early. */
typedef int (*xb_nn_epoch_fn)(void *ud, const xb_nn_epoch *e);
/* Augment sample X (shape S) in place, drawing from the stream keyed (SEED, EPOCH,
 * SAMPLE) where SAMPLE is its index in the training set. */
typedef void (*xb_nn_augment_fn)(void *ud, float *x, xb_nn_shape s, uint64_t seed,
				 uint64_t epoch, uint64_t sample);

/* Parameters of the KWS augmentation, xb_nn_augment_kws (features [time][freq]). */
typedef struct xb_nn_augment_kws_params {
	int time_shift_max;    /* shift by up to +-this many frames, zero fill (0 = off) */
	int time_masks;        /* number of time masks ... */
	int time_mask_max;     /* ... each up to this many frames wide (set to 0) */
	int freq_masks;        /* number of frequency masks ... */
	int freq_mask_max;     /* ... each up to this many coefficients wide */
} xb_nn_augment_kws_params;

/* UD is a const xb_nn_augment_kws_params *.  Treats the sample as [h][w*c]: time along
 * h, features along w*c. */
void xb_nn_augment_kws(void *ud, float *x, xb_nn_shape s, uint64_t seed, uint64_t epoch,
		       uint64_t sample);

typedef struct xb_nn_train_params {
	int epochs;                /* 10 */
	size_t batch;              /* 64 */
	double lr;                 /* peak learning rate (1e-3) */
	double lr_min;             /* final learning rate of the cosine (0) */
	double beta1, beta2;       /* Adam moments (0.9, 0.999) */
	double adam_eps;           /* 1e-8 */
	double weight_decay;       /* decoupled (AdamW) decay per step times lr (0) */
	uint64_t seed;             /* shuffle and augmentation (1) */
	int keep_best;             /* restore the epoch of best validation accuracy (1) */
	xb_nn_augment_fn augment;  /* NULL: none */
	void *augment_ud;
	xb_progress_fn progress;   /* samples done of epochs * n (NULL: none) */
	void *progress_ud;
	xb_nn_epoch_fn on_epoch;   /* NULL: none */
	void *epoch_ud;
	/* Knowledge distillation (xb_nn_softmax_distill): TEACHER (NULL: none) runs in eval
	 * mode, through its own backend, on the same (augmented) batch; the loss mixes the
	 * cross-entropy and its softened outputs with weight DISTILL in [0, 1] at
	 * TEMPERATURE > 0.  The teacher must have the network's input and output sizes. */
	xb_nn_net *teacher;
	double distill;            /* 0 */
	double temperature;        /* 1 */
	/* Quantized mode: after each epoch's updates (before validating) and after restoring
	 * the best epoch, xb_nn_net_calibrate_offsets on the RECAL_N samples RECAL_X (0 /
	 * NULL: the offsets stay as they were).  Training then always runs against the
	 * corrections a fresh calibration of the current weights gives, as on a chip. */
	size_t recal_n;
	const float *recal_x;
} xb_nn_train_params;

xb_nn_train_params xb_nn_train_default_params(void);

/* Train NET on TRAIN, validating on VAL (may be NULL or empty) after every epoch.  The
 * epochs are appended to the network's training record.  Labels outside the output
 * size are XB_ERANGE naming the sample; a NaN loss is XB_ENUMERIC naming the epoch; a
 * callback asking to stop ends training early (XB_OK, best model kept). */
xb_status xb_nn_train(xb_nn_net *net, const xb_nn_data *train, const xb_nn_data *val,
		      const xb_nn_train_params *p);

/* Mean cross-entropy (nats) and accuracy of NET on DATA in eval mode; either output
 * may be NULL.  PRED, if not NULL, receives DATA->n predicted classes. */
xb_status xb_nn_evaluate(xb_nn_net *net, const xb_nn_data *data, double *loss,
			 double *accuracy, int32_t *pred);

/* Softmax cross-entropy of LOGITS[N][K] against LABEL: returns the mean loss, writes
 * dL/dlogits (of the mean) into DLOGITS if not NULL and counts right answers into
 * *CORRECT if not NULL.  Labels must lie in [0, K). */
double xb_nn_softmax_xent(const float *logits, const int32_t *label, size_t n, int k,
			  float *dlogits, size_t *correct);
/* Distillation loss of LOGITS z[N][K] against LABEL and the teacher's TEACHER t[N][K]:
 *   L = (1 - A) CE(z, label) + A T^2 KL(softmax(t / T) || softmax(z / T)),
 * averaged over the N samples (A = ALPHA in [0, 1], T = TEMPERATURE > 0; the T^2 keeps
 * the soft term's gradient scale independent of T, Hinton et al. 2015).  dL/dz =
 * ((1 - A)(softmax(z) - onehot) + A T (softmax(z / T) - softmax(t / T))) / N into DLOGITS
 * if not NULL; right answers (argmax z == label) into *CORRECT if not NULL.  A = 0 is
 * xb_nn_softmax_xent. */
double xb_nn_softmax_distill(const float *logits, const float *teacher, const int32_t *label,
			     size_t n, int k, double alpha, double temperature, float *dlogits,
			     size_t *correct);

/* The training record: *N epochs (owned by the network).  Best epoch (1-based, 0 if
 * none) in *BEST if not NULL. */
const xb_nn_epoch *xb_nn_net_record(const xb_nn_net *net, size_t *n, int *best);

/* ---- model file ------------------------------------------------------------------ */

#define XB_NN_SCHEMA "xbarsim-model"
#define XB_NN_SCHEMA_VERSION 1

/* Write NET to PATH (atomically, via the traces writer).  CONFIG_INI and COMMAND_LINE
 * go to the root attributes (may be NULL).  XB_EIO/XB_ENOENT naming PATH. */
xb_status xb_nn_net_save(const xb_nn_net *net, const char *path, const char *config_ini,
			 const char *command_line, xb_err *err);
/* Read a network from PATH.  Every dataset is checked for type and shape against the
 * topology; errors are XB_EFORMAT naming the file and dataset ("m.h5: dataset
 * /layers/2/weight: expected ...").  NULL on error (message on ERR). */
xb_nn_net *xb_nn_net_load(const char *path, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_NN_H */
