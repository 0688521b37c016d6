/* nn_int.h - internals shared by the nn_*.c files of the workloads module (not installed).
 * The network object, counter-based random numbers and the analog-layer MVM helpers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_NN_INT_H
#define XB_NN_INT_H

#include "xb_nn.h"

#include <Random123/philox.h>

/* Purposes of the counter-based streams: the last counter word. */
enum {
	NN_RNG_INIT = 1,      /* initial weights: (element, layer, tensor) */
	NN_RNG_SHUFFLE = 2,   /* per-epoch permutation: (index, epoch) */
	NN_RNG_AUGMENT = 3    /* augmentation: (sample, epoch, draw) */
};

/* Four 32-bit words of the philox4x32-10 stream keyed by SEED at counter (A, B, C, P). */
static inline void nn_philox(uint64_t seed, uint32_t a, uint32_t b, uint32_t c, uint32_t p,
			     uint32_t out[4])
{
	philox4x32_ctr_t ctr = {{a, b, c, p}};
	philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
	philox4x32_ctr_t r = philox4x32(ctr, key);
	out[0] = r.v[0];
	out[1] = r.v[1];
	out[2] = r.v[2];
	out[3] = r.v[3];
}

/* Uniform in (0, 1) from one word. */
static inline double nn_u01(uint32_t v)
{
	return ((double)v + 0.5) * (1.0 / 4294967296.0);
}

/* Uniform integer in [0, n) from two words (64-bit multiply-high, bias < 2^-32). */
static inline uint64_t nn_below(uint32_t hi, uint32_t lo, uint64_t n)
{
	uint64_t u = ((uint64_t)hi << 32) | lo;
	return (uint64_t)(((unsigned __int128)u * n) >> 64);
}

struct xb_nn_net {
	xb_err err;
	xb_nn_shape in;
	int nlayers, cap;
	xb_nn_layer **layers;       /* owned, stable addresses */
	int quantized;              /* current mode */
	int calibrated;             /* xb_nn_net_quantize() has run */
	xb_nn_backend backend;

	/* Workspace for batches of up to ws_batch samples. */
	size_t ws_batch;
	int ws_threads;             /* thread slots of the scratch */
	float **act;                /* [nlayers + 1] activations; act[0] is the input */
	unsigned char **cache;      /* [nlayers] */
	float *scratch;
	float *dbuf[2];             /* ping-pong gradients of activations */
	float **grad;               /* [nlayers * XB_NN_MAX_TENSORS] parameter gradients */
	size_t fwd_n;               /* samples of the last forward kept for backward, 0: none */
	int fwd_training;

	/* Tap (xb_nn_net_set_tap): changed copies of chosen layers' outputs. */
	xb_nn_tap_fn tap_fn;
	void *tap_ud;
	int *tap_layers;            /* owned; NULL: no tap */
	size_t ntap;
	float **tap_y, **tap_d;     /* [nlayers + 1]: y' and dy'/dy of tapped outputs */

	/* Training record. */
	xb_nn_epoch *rec;
	size_t nrec, rec_cap;
	int best_epoch;
};

/* Drop the workspace (after a change of topology). */
XB_HIDDEN void nn_net_drop_workspace(xb_nn_net *net);
/* Append a fully set up layer (tensors allocated) taking ownership; used by load. */
XB_HIDDEN xb_status nn_net_push(xb_nn_net *net, xb_nn_layer *l);
/* A layer of TYPE with HP for input shape IN, tensors allocated and zeroed; INDEX is
 * used in messages.  NULL on error (message on ERR). */
XB_HIDDEN xb_nn_layer *nn_layer_new(const xb_nn_layer_type *type, const xb_nn_hyper *hp,
				    xb_nn_shape in, int index, xb_err *err);
XB_HIDDEN void nn_layer_free(xb_nn_layer *l);
/* Parse OPTIONS for TYPE into HP (starting from defaults).  XB_ECONFIG naming the
 * option; CONTEXT prefixes messages ("layer 3 (conv2d)"). */
XB_HIDDEN xb_status nn_parse_options(const xb_nn_layer_type *type, const char *options,
				     xb_nn_hyper *hp, const char *context, xb_err *err);
/* Options of L as text "out=16 kernel=3x3 ..." (only those its type accepts). */
XB_HIDDEN void nn_format_options(const xb_nn_layer *l, char *buf, size_t len);
/* Recompute the quantized weights, digital offsets and the chain of scales. */
XB_HIDDEN void nn_quant_refresh(xb_nn_net *net);
/* Sends of analog layer L in quantized mode on backend BE (hp.sends; BE's sends while
 * it is 0) and its gain (LSB per unit of xq * wq). */
XB_HIDDEN int nn_layer_sends(const xb_nn_layer *l, const xb_nn_backend *be);
XB_HIDDEN double nn_layer_gain(const xb_nn_layer *l, const xb_nn_backend *be);
/* Link analog layers to the requant that sets their input scale, and requants to their
 * source analog layer (through max/avg pooling, flatten and ReLU). */
XB_HIDDEN void nn_quant_link(xb_nn_net *net);
/* Output scale of requant layer L in quantized mode. */
XB_HIDDEN double nn_requant_scale(const xb_nn_layer *l);

/* ---- analog layers (nn_analog.c) ---- */

/* Floats of scratch the analog helpers need for a batch of N with THREADS threads. */
XB_HIDDEN size_t nn_analog_scratch(const xb_nn_layer *l, size_t n, int threads);
/* Y[N][positions][rows] = W x + b for every output position of N samples through the
 * backend (im2col for convolutions; see the design comment for quantized mode).  MASK
 * (N * out size bytes, may be NULL) records saturated outputs. */
XB_HIDDEN xb_status nn_analog_forward(xb_nn_layer *l, const xb_nn_run *run, size_t n,
				      const float *x, float *y, unsigned char *mask);
/* Gradients of nn_analog_forward: GW[rows][cols] and GB[rows] overwritten; DX[N][in]
 * (may be NULL) overwritten. */
XB_HIDDEN xb_status nn_analog_backward(xb_nn_layer *l, const xb_nn_run *run, size_t n,
				       const float *x, const float *dy,
				       const unsigned char *mask, float *dx, float *gw,
				       float *gb);
/* Number of OpenMP threads a pass may use (1 without OpenMP). */
XB_HIDDEN int nn_max_threads(void);
/* He-uniform initialisation of tensor T of L with fan-in FAN_IN. */
XB_HIDDEN void nn_init_uniform(xb_nn_layer *l, int t, size_t fan_in, uint64_t seed);

#endif /* XB_NN_INT_H */
