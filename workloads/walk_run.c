/* walk_run.c - the walking-noise sweep: noise injection, layer-by-layer forward, midpoints, bootstrap.
 * Implements xb_walk_run, xb_walk_inject and xb_walk_midpoint of xb_walk.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_walk.h"
#include "xb_device_nn.h"

#include <Random123/philox.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define WALK_BATCH 256            /* samples per batch through the network */
#define WALK_RNG_NOISE 0x57414c4bu /* purpose words of the counter-based streams */
#define WALK_RNG_BOOT 0x424f4f54u
#define WALK_RNG_CHIP 0x43484950u
#define WALK_QUANT_SAMPLES 512     /* calibration samples of a float network (as xb_run) */

/* ---- random numbers ------------------------------------------------------------ */

static void walk_philox(uint64_t seed, uint32_t a, uint32_t b, uint32_t c, uint32_t p,
			uint32_t out[4])
{
	philox4x32_ctr_t ctr = {{a, b, c, p}};
	philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
	philox4x32_ctr_t r = philox4x32(ctr, key);
	memcpy(out, r.v, 4 * sizeof(uint32_t));
}

static double u01(uint32_t v)
{
	return ((double)v + 0.5) * (1.0 / 4294967296.0);
}

/* Two standard normals from two words (Box-Muller). */
static void box_muller(uint32_t a, uint32_t b, double *z0, double *z1)
{
	double rad = sqrt(-2.0 * log(u01(a))), ang = 2.0 * M_PI * u01(b);
	*z0 = rad * cos(ang);
	*z1 = rad * sin(ang);
}

void xb_walk_inject(float *act, size_t n, size_t size, size_t first, xb_walk_noise noise,
		    double level, double sigma, double ratio, uint64_t seed, int repeat,
		    int site)
{
	double s_add, s_mul;
	switch (noise) {
	case XB_WALK_MULTIPLICATIVE:
		s_add = 0.0;
		s_mul = level;
		break;
	case XB_WALK_COMBINED:
		s_add = sigma * level * ratio;
		s_mul = level * (1.0 - ratio);
		break;
	default:
		s_add = sigma * level;
		s_mul = 0.0;
		break;
	}
	/* One philox block per pair of elements of a sample: element e takes the normals
	 * (n_m, n_a) = Box-Muller of words 2(e&1), 2(e&1)+1. */
	long long ns = (long long)n;
#pragma omp parallel for schedule(static) if (n * size >= 4096)
	for (long long i = 0; i < ns; i++) {
		float *y = act + (size_t)i * size;
		uint32_t sample = (uint32_t)(first + (size_t)i);
		for (size_t e = 0; e < size; e += 2) {
			uint32_t w[4];
			walk_philox(seed, (uint32_t)(e >> 1), sample, ((uint32_t)repeat << 16) |
				    (uint32_t)site, WALK_RNG_NOISE, w);
			for (size_t k = 0; k < 2 && e + k < size; k++) {
				double nm, na;
				box_muller(w[2 * k], w[2 * k + 1], &nm, &na);
				double v = y[e + k];
				y[e + k] = (float)(v * (1.0 + s_mul * nm) + s_add * na);
			}
		}
	}
}

/* ---- midpoints --------------------------------------------------------------------- */

double xb_walk_midpoint(const double *levels, const double *acc, int n, double target)
{
	if (n < 1 || !(acc[0] > target))
		return NAN;
	for (int j = 1; j < n; j++) {
		if (!(acc[j] <= target))
			continue;
		/* bisection of the linear interpolant in log A on [A_{j-1}, A_j] */
		double lo = log(levels[j - 1]), hi = log(levels[j]);
		double x0 = lo, a0 = acc[j - 1], a1 = acc[j];
		for (int it = 0; it < 40; it++) {
			double mid = 0.5 * (lo + hi);
			double f = a0 + (a1 - a0) * (mid - x0) / (log(levels[j]) - x0) - target;
			if (f > 0)
				lo = mid;
			else
				hi = mid;
		}
		return exp(0.5 * (lo + hi));
	}
	return INFINITY;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Percentile bootstrap over repeats of site S's midpoint (design comment). */
static xb_status bootstrap(xb_walk_result *r, size_t s, double *curve, double *mids,
			   xb_err *err)
{
	const xb_walk_params *p = &r->params;
	int R = r->repeats, L = r->nlevels, B = p->bootstrap;
	const double *acc = r->acc + s * (size_t)R * (size_t)L;
	if (R < 2 || B < 1) {
		r->midpoint_lo[s] = r->midpoint_hi[s] = r->midpoint[s];
		return XB_OK;
	}
	for (int b = 0; b < B; b++) {
		memset(curve, 0, (size_t)L * sizeof *curve);
		for (int k = 0; k < R; k++) {
			uint32_t w[4];
			walk_philox(p->seed, (uint32_t)b, (uint32_t)s, (uint32_t)k, WALK_RNG_BOOT, w);
			int pick = (int)(((uint64_t)w[0] * (uint64_t)R) >> 32);
			for (int j = 0; j < L; j++)
				curve[j] += acc[(size_t)pick * (size_t)L + (size_t)j] / R;
		}
		double m = xb_walk_midpoint(r->levels, curve, L, r->target);
		mids[b] = isnan(m) ? -INFINITY : m;   /* below range sorts first */
	}
	qsort(mids, (size_t)B, sizeof *mids, cmp_double);
	double q = (1.0 - p->confidence) / 2.0;
	size_t ilo = (size_t)floor(q * (B - 1) + 0.5), ihi = (size_t)floor((1 - q) * (B - 1) + 0.5);
	r->midpoint_lo[s] = mids[ilo] == -INFINITY ? NAN : mids[ilo];
	r->midpoint_hi[s] = mids[ihi] == -INFINITY ? NAN : mids[ihi];
	(void)err;
	return XB_OK;
}

/* ---- the sweep ---------------------------------------------------------------------- */

static void free_names(char **names, size_t n)
{
	if (names)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
}

void xb_walk_result_free(xb_walk_result *r)
{
	if (!r)
		return;
	free_names(r->name, r->nsites);
	free(r->layer);
	free(r->scale);
	free(r->midpoint);
	free(r->midpoint_lo);
	free(r->midpoint_hi);
	free(r->levels);
	free(r->acc);
	free(r->acc_mean);
	free_names(r->act_name, r->nacts);
	free(r->act_layer);
	free(r->act_min);
	free(r->act_max);
	free(r->near_low);
	free(r->near_high);
	free_names(r->w_name, r->nweights);
	free(r->w_layer);
	free(r->w_count);
	free(r->w_mean_abs);
	free(r->w_max_abs);
	free(r);
}

/* Workspace of the layer-by-layer forward. */
typedef struct walk_ws {
	xb_nn_net *net;
	int nl;                   /* layers */
	float **act;              /* [nl + 1] clean activations of a batch */
	size_t *size;             /* [nl + 1] elements per sample of each activation */
	unsigned char **cache;    /* [nl] per-layer caches */
	float *scratch;
	float *buf[2];            /* noisy ping-pong, batch * max size */
	int threads;
	xb_err *err;
	xb_nn_backend be_clean;   /* backend of the clean forward */
	/* device noise */
	xb_tile_params tp;        /* the tiles as given */
	const char *cal;          /* calibration file (NULL: none) */
	xb_device_nn *clean;      /* every noise source off */
} walk_ws;

static void ws_free(walk_ws *w)
{
	if (w->act)
		for (int i = 0; i <= w->nl; i++)
			free(w->act[i]);
	if (w->cache)
		for (int i = 0; i < w->nl; i++)
			free(w->cache[i]);
	free(w->act);
	free(w->cache);
	free(w->size);
	free(w->scratch);
	free(w->buf[0]);
	free(w->buf[1]);
	xb_device_nn_free(w->clean);
	memset(w, 0, sizeof *w);
}

static xb_status ws_init(walk_ws *w, xb_nn_net *net, xb_err *err)
{
	memset(w, 0, sizeof *w);
	w->net = net;
	w->err = err;
	w->nl = xb_nn_net_nlayers(net);
#ifdef _OPENMP
	w->threads = omp_get_max_threads();
#else
	w->threads = 1;
#endif
	int nl = w->nl;
	w->act = calloc((size_t)nl + 1, sizeof *w->act);
	w->cache = calloc((size_t)nl + 1, sizeof *w->cache);
	w->size = calloc((size_t)nl + 1, sizeof *w->size);
	if (!w->act || !w->cache || !w->size)
		goto nomem;
	size_t smax = xb_nn_shape_size(xb_nn_net_in_shape(net)), scratch = 16;
	w->size[0] = smax;
	for (int i = 0; i < nl; i++) {
		const xb_nn_layer *l = xb_nn_net_layer(net, i);
		w->size[i + 1] = xb_nn_shape_size(l->out);
		if (w->size[i + 1] > smax)
			smax = w->size[i + 1];
		if (l->type->cache_bytes) {
			size_t cb = l->type->cache_bytes(l, WALK_BATCH);
			if (cb && !(w->cache[i] = malloc(cb)))
				goto nomem;
		}
		if (l->type->scratch_floats) {
			size_t sf = l->type->scratch_floats(l, WALK_BATCH, w->threads);
			if (sf > scratch)
				scratch = sf;
		}
	}
	for (int i = 0; i <= nl; i++)
		if (!(w->act[i] = malloc(WALK_BATCH * w->size[i] * sizeof(float))))
			goto nomem;
	w->scratch = malloc(scratch * sizeof(float));
	w->buf[0] = malloc(WALK_BATCH * smax * sizeof(float));
	w->buf[1] = malloc(WALK_BATCH * smax * sizeof(float));
	if (!w->scratch || !w->buf[0] || !w->buf[1])
		goto nomem;
	w->be_clean = *xb_nn_net_backend(net);
	return XB_OK;
nomem:
	ws_free(w);
	return xb_raise(err, XB_ENOMEM, "walk: out of memory for the workspace");
}

/* Layer I on N samples X -> Y through backend BE; a device backend keys its noise by
 * the samples' positions FIRST .. FIRST + N - 1. */
static xb_status layer_forward(walk_ws *w, int i, size_t n, const float *x, float *y,
			       const xb_nn_backend *be, size_t first)
{
	xb_nn_layer *l = xb_nn_net_layer_mut(w->net, i);
	xb_nn_run run = { 0, xb_nn_net_quantized(w->net), be, w->scratch, w->threads,
			  w->cache[i], w->err };
	if (be->type == &xb_device_nn_type && l->type->exec == XB_NN_ANALOG)
		xb_device_nn_set_sample((xb_device_nn *)be->state, first);
	xb_status st = l->type->forward(l, &run, n, x, y);
	if (st != XB_OK)
		xb_err_context(w->err, "walk: layer %d (%s)", i + 1, l->type->name);
	return st;
}

/* Correct answers among N outputs Y[N][k] for LABEL. */
static uint64_t count_correct(const float *y, size_t n, size_t k, const int32_t *label)
{
	uint64_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		const float *v = y + i * k;
		size_t best = 0;
		for (size_t c = 1; c < k; c++)
			if (v[c] > v[best])
				best = c;
		ok += (int32_t)best == label[i];
	}
	return ok;
}

/* OpenBLAS with its own pthread pool: one thread while the layers' OpenMP threads run
 * (as xb_nn_net_forward does).  Returns the count to restore, 0 for none. */
static int blas_enter(int threads)
{
	if (openblas_get_parallel() != OPENBLAS_THREAD || threads < 2)
		return 0;
	int saved = openblas_get_num_threads();
	if (saved < 2)
		return 0;
	openblas_set_num_threads(1);
	return saved;
}

static xb_status check_params(const xb_walk_params *p, xb_err *err)
{
	if (p->noise < XB_WALK_ADDITIVE || p->noise > XB_WALK_DEVICE)
		return xb_raise(err, XB_EINVAL, "walk: noise type %d unknown", (int)p->noise);
	if (p->mode != XB_WALK_WALKING && p->mode != XB_WALK_GLOBAL)
		return xb_raise(err, XB_EINVAL, "walk: mode %d unknown", (int)p->mode);
	if (p->nlevels < 2 || p->nlevels > 10000)
		return xb_raise(err, XB_EINVAL, "walk: levels = %d, expected 2 .. 10000",
				p->nlevels);
	if (!(p->level_min > 0) || !(p->level_max > p->level_min) || !isfinite(p->level_max))
		return xb_raise(err, XB_EINVAL, "walk: level_min = %g, level_max = %g: expected "
				"0 < level_min < level_max", p->level_min, p->level_max);
	if (p->repeats < 1 || p->repeats > 65535)
		return xb_raise(err, XB_EINVAL, "walk: repeats = %d, expected 1 .. 65535",
				p->repeats);
	if (!(p->ratio >= 0 && p->ratio <= 1))
		return xb_raise(err, XB_EINVAL, "walk: ratio = %g, expected 0 .. 1", p->ratio);
	if (p->bootstrap < 0 || p->bootstrap > 1000000)
		return xb_raise(err, XB_EINVAL, "walk: bootstrap = %d, expected 0 .. 1000000",
				p->bootstrap);
	if (!(p->confidence > 0 && p->confidence < 1))
		return xb_raise(err, XB_EINVAL, "walk: confidence = %g, expected 0 < c < 1",
				p->confidence);
	if (!(p->binary_band > 0 && p->binary_band <= 0.5))
		return xb_raise(err, XB_EINVAL, "walk: binary_band = %g, expected 0 < b <= 0.5",
				p->binary_band);
	if (p->nranks < 1 || p->rank < 0 || p->rank >= p->nranks)
		return xb_raise(err, XB_EINVAL, "walk: rank %d of %d ranks: expected 0 <= rank < "
				"ranks", p->rank, p->nranks);
	if (p->noise == XB_WALK_DEVICE) {
		if (!p->device)
			return xb_raise(err, XB_EINVAL, "walk: device noise without tile parameters "
					"(xb_walk_params.device)");
		if ((unsigned)p->source > XB_WALK_SRC_FPN_SYNAPSE)
			return xb_raise(err, XB_EINVAL, "walk: device noise source %d unknown",
					(int)p->source);
	}
	return XB_OK;
}

/* Copy the samples of batch [b0, b0 + n) (indices IDX into DATA) to X and LABEL. */
static void gather(const xb_nn_data *data, const size_t *idx, size_t b0, size_t n,
		   size_t isz, float *x, int32_t *label)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = idx[b0 + i];
		memcpy(x + i * isz, data->x + k * isz, isz * sizeof(float));
		if (label)
			label[i] = data->label[k];
	}
}

static xb_status clean_forward(walk_ws *w, size_t n, size_t first)
{
	for (int i = 0; i < w->nl; i++) {
		xb_status st = layer_forward(w, i, n, w->act[i], w->act[i + 1], &w->be_clean,
					     first);
		if (st != XB_OK)
			return st;
	}
	return XB_OK;
}

/* The device of repeat REP with only the walked source on, at sigma LEVEL, its analog
 * layers mapped onto tiles in network order (design comment). */
static xb_status noisy_device(walk_ws *w, const xb_walk_params *p, double level, int rep,
			      xb_device_nn **out)
{
	xb_tile_params tp = w->tp;
	xb_noise_params *nz = &tp.noise;
	uint32_t wd[4];

	*out = NULL;
	nz->enable = 1;
	nz->read_lsb = nz->event_lsb = nz->fpn_gain = nz->fpn_offset_lsb = 0;
	nz->fpn_synapse = nz->fpn_saturation_lsb = nz->programming = nz->drift = 0;
	nz->drift_std = nz->device_read = nz->stuck_min = nz->stuck_max = 0;
	switch (p->source) {
	case XB_WALK_SRC_FPN_GAIN: nz->fpn_gain = level; break;
	case XB_WALK_SRC_FPN_OFFSET: nz->fpn_offset_lsb = level; break;
	case XB_WALK_SRC_EVENT: nz->event_lsb = level; break;
	case XB_WALK_SRC_FPN_SYNAPSE: nz->fpn_synapse = level; break;
	default: nz->read_lsb = level; break;
	}
	walk_philox(p->seed, (uint32_t)rep, 0, 0, WALK_RNG_CHIP, wd);
	tp.chip_seed = (uint64_t)wd[0] | (uint64_t)wd[1] << 32;
	xb_device_nn *d = xb_device_nn_new(&tp, w->cal, w->err);
	if (!d)
		return w->err ? w->err->code : XB_ECONFIG;
	for (int i = 0; i < w->nl; i++) {
		xb_nn_layer *l = xb_nn_net_layer_mut(w->net, i);
		if (l->type->exec != XB_NN_ANALOG)
			continue;
		/* sends as the layer asks them (hp.sends, 1 while unset): a layer built
		 * with other sends is rebuilt on the same tiles anyway; the weights as the
		 * network gives them (row pairs for signed inputs, xb_nn.h) */
		size_t k;
		const int8_t *wq = xb_nn_backend_weights(l, &k, w->err);
		if (!wq) {
			xb_device_nn_free(d);
			return w->err ? w->err->code : XB_ENOMEM;
		}
		xb_nn_mvm op = { .layer = l, .rows = l->rows, .cols = k, .w = l->t[0],
				 .wq = wq, .version = l->version,
				 .sends = l->hp.sends > 0 ? l->hp.sends : 1 };
		xb_status st = xb_device_nn_type.mvm_codes(d, &op, 0, NULL, NULL, w->err);
		if (st != XB_OK) {
			xb_device_nn_free(d);
			return xb_err_context(w->err, "walk: layer %d on the device", i + 1);
		}
	}
	*out = d;
	return XB_OK;
}

/* Device noise: run the analog layers on a clean device (every source off), quantizing
 * a float network first from the first evaluated samples. */
static xb_status device_setup(walk_ws *w, const xb_walk_params *p, const xb_nn_data *data,
			      const size_t *idx, size_t ns, xb_err *err)
{
	xb_tile_params tp = *p->device;
	int analog = 0;
	for (int i = 0; i < w->nl; i++)
		analog += xb_nn_net_layer(w->net, i)->type->exec == XB_NN_ANALOG;
	if (!analog)
		return xb_raise(err, XB_EUNSUPPORTED, "walk: device noise needs analog layers "
				"(dense, conv): the network has none");
	w->tp = tp;
	w->cal = p->calibration_file && p->calibration_file[0] ? p->calibration_file : NULL;
	tp.noise.enable = 0;
	if (!(w->clean = xb_device_nn_new(&tp, w->cal, err)))
		return err ? err->code : XB_ECONFIG;
	w->be_clean = xb_device_nn_backend(w->clean);
	xb_nn_net_set_backend(w->net, &w->be_clean);
	if (xb_nn_net_set_quantized(w->net, 1) == XB_OK)
		return XB_OK;
	size_t nq = ns < WALK_QUANT_SAMPLES ? ns : WALK_QUANT_SAMPLES;
	size_t isz = xb_nn_shape_size(xb_nn_net_in_shape(w->net));
	float *xq = malloc(nq * isz * sizeof *xq);
	if (!xq)
		return xb_raise(err, XB_ENOMEM, "walk: out of memory");
	gather(data, idx, 0, nq, isz, xq, NULL);
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	xb_status st = xb_nn_net_quantize(w->net, nq, xq, &qp);
	free(xq);
	if (st != XB_OK)
		return xb_raise(err, st, "walk: quantizing the network for the device: %s",
				xb_nn_net_errmsg(w->net));
	return XB_OK;
}

/* Per-layer weight statistics of NET into R. */
static xb_status weight_stats(xb_walk_result *r, const xb_nn_net *net)
{
	int nl = xb_nn_net_nlayers(net);
	size_t nw = 0;
	for (int i = 0; i < nl; i++)
		nw += xb_nn_layer_tensor(xb_nn_net_layer(net, i), "weight") >= 0;
	r->w_name = calloc(nw + 1, sizeof *r->w_name);
	r->w_layer = malloc((nw + 1) * sizeof *r->w_layer);
	r->w_count = malloc((nw + 1) * sizeof *r->w_count);
	r->w_mean_abs = malloc((nw + 1) * sizeof *r->w_mean_abs);
	r->w_max_abs = malloc((nw + 1) * sizeof *r->w_max_abs);
	if (!r->w_name || !r->w_layer || !r->w_count || !r->w_mean_abs || !r->w_max_abs)
		return XB_ENOMEM;
	for (int i = 0; i < nl; i++) {
		const xb_nn_layer *l = xb_nn_net_layer(net, i);
		int t = xb_nn_layer_tensor(l, "weight");
		if (t < 0)
			continue;
		char nm[96];
		snprintf(nm, sizeof nm, "%d.%s", i + 1, l->type->name);
		size_t k = r->nweights;
		if (!(r->w_name[k] = strdup(nm)))
			return XB_ENOMEM;
		r->nweights++;
		double s1 = 0, mx = 0;
		for (size_t e = 0; e < l->tsize[t]; e++) {
			double a = fabs((double)l->t[t][e]);
			s1 += a;
			if (a > mx)
				mx = a;
		}
		r->w_layer[k] = i;
		r->w_count[k] = l->tsize[t];
		r->w_mean_abs[k] = l->tsize[t] ? s1 / (double)l->tsize[t] : 0.0;
		r->w_max_abs[k] = mx;
	}
	return XB_OK;
}

static char *site_name(const xb_nn_net *net, int act)
{
	char nm[96];
	if (act == 0)
		snprintf(nm, sizeof nm, "input");
	else
		snprintf(nm, sizeof nm, "%d.%s", act, xb_nn_net_layer(net, act - 1)->type->name);
	return strdup(nm);
}

xb_status xb_walk_run(xb_nn_net *net, const xb_nn_data *data, const xb_walk_params *pin,
		      xb_walk_result **out, xb_err *err)
{
	xb_walk_params p = pin ? *pin : xb_walk_default_params();
	xb_walk_result *r = NULL;
	walk_ws w;
	int have_ws = 0, blas = 0, reduced = 0, restore = 0, was_quantized = 0;
	xb_nn_backend saved_be;
	size_t *idx = NULL;
	uint64_t *correct = NULL, *nlow = NULL, *nhigh = NULL;
	int *act_of = NULL, *site_at = NULL, *acts = NULL;
	int32_t *label = NULL;
	double *sum = NULL, *sum2 = NULL, *amin = NULL, *amax = NULL, *sigma = NULL;
	double *curve = NULL, *mids = NULL;
	xb_device_nn *noisy = NULL;
	xb_status st;

	memset(&saved_be, 0, sizeof saved_be);
	*out = NULL;
	if (!net || !data)
		return xb_raise(err, XB_EINVAL, "xb_walk_run: NULL network or data");
	if ((st = check_params(&p, err)) != XB_OK)
		goto fail;
	if (data->n == 0 || !data->x || !data->label) {
		st = xb_raise(err, XB_EINVAL, "walk: no samples to evaluate");
		goto fail;
	}
	int nl = xb_nn_net_nlayers(net);
	if (nl < 1) {
		st = xb_raise(err, XB_EINVAL, "walk: the network has no layers");
		goto fail;
	}
	int dev = p.noise == XB_WALK_DEVICE;
	size_t classes = xb_nn_shape_size(xb_nn_net_out_shape(net));
	size_t isz = xb_nn_shape_size(xb_nn_net_in_shape(net));
	for (size_t i = 0; i < data->n; i++)
		if (data->label[i] < 0 || (size_t)data->label[i] >= classes) {
			st = xb_raise(err, XB_ERANGE, "walk: sample %zu has label %d, expected 0 .. "
				      "%zu (the network's outputs)", i, (int)data->label[i],
				      classes - 1);
			goto fail;
		}
	size_t ns = p.samples && p.samples < data->n ? p.samples : data->n;
	if (!(idx = malloc(ns * sizeof *idx)))
		goto nomem;
	/* samples spread evenly over the data set */
	for (size_t i = 0; i < ns; i++)
		idx[i] = (size_t)((unsigned long long)i * data->n / ns);

	if ((st = ws_init(&w, net, err)) != XB_OK)
		goto fail;
	have_ws = 1;
	saved_be = *xb_nn_net_backend(net);
	was_quantized = xb_nn_net_quantized(net);
	if (dev) {
		restore = 1;
		if ((st = device_setup(&w, &p, data, idx, ns, err)) != XB_OK)
			goto fail;
	}
	/* Bring the network's own state up to date (quantization of changed weights) with
	 * one ordinary forward of a sample. */
	{
		float *y1 = malloc(classes * sizeof *y1);
		if (!y1)
			goto nomem;
		if (w.clean)
			xb_device_nn_set_sample(w.clean, 0);
		st = xb_nn_net_forward(net, 1, data->x, y1, 0);
		free(y1);
		if (st != XB_OK) {
			st = xb_raise(err, st, "walk: %s", xb_nn_net_errmsg(net));
			goto fail;
		}
	}

	/* activations: 0 (input) and every layer output except flatten's; the sites are
	 * these, or with device noise the outputs of the analog layers */
	act_of = malloc(((size_t)nl + 1) * sizeof *act_of);
	acts = malloc(((size_t)nl + 1) * sizeof *acts);
	site_at = malloc(((size_t)nl + 1) * sizeof *site_at);
	if (!act_of || !acts || !site_at)
		goto nomem;
	int nacts = 0, nsites = 0;
	acts[nacts++] = 0;
	for (int i = 0; i < nl; i++)
		if (strcmp(xb_nn_net_layer(net, i)->type->name, "flatten") != 0)
			acts[nacts++] = i + 1;
	if (dev) {
		for (int i = 0; i < nl; i++)
			if (xb_nn_net_layer(net, i)->type->exec == XB_NN_ANALOG)
				act_of[nsites++] = i + 1;
	} else {
		memcpy(act_of, acts, (size_t)nacts * sizeof *acts);
		nsites = nacts;
	}
	for (int a = 0; a <= nl; a++)
		site_at[a] = -1;
	for (int s = 0; s < nsites; s++)
		site_at[act_of[s]] = s;

	if (!(r = calloc(1, sizeof *r)))
		goto nomem;
	r->params = p;
	r->params.progress = NULL;
	r->params.progress_ud = NULL;
	r->params.reduce = NULL;
	r->params.reduce_ud = NULL;
	r->params.device = NULL;
	r->params.calibration_file = NULL;
	r->nsites = p.mode == XB_WALK_GLOBAL ? 1 : (size_t)nsites;
	r->nlevels = p.nlevels;
	r->repeats = p.repeats;
	r->samples = ns;
	r->chance_accuracy = 1.0 / (double)classes;
	r->level_unit = dev ? xb_walk_source_unit(p.source) : p.normalise ? "std" : "1";
	size_t S = r->nsites, R = (size_t)p.repeats, L = (size_t)p.nlevels, A = (size_t)nacts;
	r->name = calloc(S, sizeof *r->name);
	r->layer = malloc(S * sizeof *r->layer);
	r->scale = malloc(S * sizeof *r->scale);
	r->midpoint = malloc(S * sizeof(double));
	r->midpoint_lo = malloc(S * sizeof(double));
	r->midpoint_hi = malloc(S * sizeof(double));
	r->levels = malloc(L * sizeof(double));
	r->acc = malloc(S * R * L * sizeof(double));
	r->acc_mean = malloc(S * L * sizeof(double));
	r->act_name = calloc(A, sizeof *r->act_name);
	r->act_layer = malloc(A * sizeof *r->act_layer);
	r->act_min = malloc(A * sizeof(double));
	r->act_max = malloc(A * sizeof(double));
	r->near_low = malloc(A * sizeof(double));
	r->near_high = malloc(A * sizeof(double));
	correct = calloc(S * R * L, sizeof *correct);
	nlow = calloc(A, sizeof *nlow);
	nhigh = calloc(A, sizeof *nhigh);
	sum = calloc(A, sizeof *sum);
	sum2 = calloc(A, sizeof *sum2);
	amin = malloc(A * sizeof *amin);
	amax = malloc(A * sizeof *amax);
	sigma = calloc(A, sizeof *sigma);
	label = malloc(WALK_BATCH * sizeof *label);
	curve = malloc(L * sizeof *curve);
	mids = malloc(((size_t)p.bootstrap + 1) * sizeof *mids);
	if (!r->name || !r->layer || !r->scale || !r->midpoint || !r->midpoint_lo ||
	    !r->midpoint_hi || !r->levels || !r->acc || !r->acc_mean || !r->act_name ||
	    !r->act_layer || !r->act_min || !r->act_max || !r->near_low || !r->near_high ||
	    !correct || !nlow || !nhigh || !sum || !sum2 || !amin || !amax || !sigma || !label ||
	    !curve || !mids)
		goto nomem;
	if (weight_stats(r, net) != XB_OK)
		goto nomem;
	for (size_t j = 0; j < L; j++)
		r->levels[j] = p.level_min * pow(p.level_max / p.level_min, (double)j / (double)(L - 1));
	for (size_t s = 0; s < S; s++) {
		if (p.mode == XB_WALK_GLOBAL) {
			r->name[s] = strdup("global");
			r->layer[s] = -1;
		} else {
			r->name[s] = site_name(net, act_of[s]);
			r->layer[s] = act_of[s] - 1;
		}
		if (!r->name[s])
			goto nomem;
	}
	r->nacts = A;
	for (size_t a = 0; a < A; a++) {
		if (!(r->act_name[a] = site_name(net, acts[a])))
			goto nomem;
		r->act_layer[a] = acts[a] - 1;
		amin[a] = INFINITY;
		amax[a] = -INFINITY;
	}

	blas = blas_enter(w.threads);
	size_t nbatch = (ns + WALK_BATCH - 1) / WALK_BATCH, mine = 0;
	for (size_t it = 0; it < S * R * L; it++)
		mine += it % (size_t)p.nranks == (size_t)p.rank;
	uint64_t total = (uint64_t)nbatch * (2 + mine), done = 0;

	/* pass 1: clean accuracy and the statistics of every activation */
	uint64_t clean_ok = 0;
	for (size_t b = 0; b < nbatch; b++) {
		size_t b0 = b * WALK_BATCH, n = ns - b0 < WALK_BATCH ? ns - b0 : WALK_BATCH;
		gather(data, idx, b0, n, isz, w.act[0], label);
		if ((st = clean_forward(&w, n, b0)) != XB_OK)
			goto fail;
		clean_ok += count_correct(w.act[nl], n, classes, label);
		for (size_t a = 0; a < A; a++) {
			const float *v = w.act[acts[a]];
			size_t cnt = n * w.size[acts[a]];
			double s1 = 0, s2 = 0, lo = amin[a], hi = amax[a];
			for (size_t e = 0; e < cnt; e++) {
				s1 += v[e];
				s2 += (double)v[e] * v[e];
				lo = v[e] < lo ? v[e] : lo;
				hi = v[e] > hi ? v[e] : hi;
			}
			sum[a] += s1;
			sum2[a] += s2;
			amin[a] = lo;
			amax[a] = hi;
		}
		done++;
		if (p.progress && p.progress(p.progress_ud, done, total)) {
			st = xb_raise(err, XB_ESTATE, "walk: stopped");
			goto fail;
		}
	}
	r->clean_accuracy = (double)clean_ok / (double)ns;
	r->target = (r->clean_accuracy + r->chance_accuracy) / 2.0;
	for (size_t a = 0; a < A; a++) {
		double cnt = (double)ns * (double)w.size[acts[a]];
		double mean = sum[a] / cnt, var = sum2[a] / cnt - mean * mean;
		sigma[a] = p.normalise && !dev ? (var > 0 ? sqrt(var) : 1.0) : 1.0;
		r->act_min[a] = amin[a];
		r->act_max[a] = amax[a];
	}
	for (size_t s = 0; s < S; s++)
		r->scale[s] = p.mode == XB_WALK_GLOBAL ? (p.normalise && !dev ? NAN : 1.0) :
			dev ? 1.0 : sigma[s];

	/* pass 2: the shares of near-binary activations and the sweeps of this rank's items */
	for (size_t b = 0; b < nbatch; b++) {
		size_t b0 = b * WALK_BATCH, n = ns - b0 < WALK_BATCH ? ns - b0 : WALK_BATCH;
		gather(data, idx, b0, n, isz, w.act[0], label);
		if ((st = clean_forward(&w, n, b0)) != XB_OK)
			goto fail;
		for (size_t a = 0; a < A; a++) {
			const float *v = w.act[acts[a]];
			size_t cnt = n * w.size[acts[a]];
			double band = p.binary_band * (amax[a] - amin[a]);
			double lo = amin[a] + band, hi = amax[a] - band;
			uint64_t kl = 0, kh = 0;
			for (size_t e = 0; e < cnt; e++) {
				if (v[e] <= lo)
					kl++;
				else if (v[e] >= hi)
					kh++;
			}
			nlow[a] += kl;
			nhigh[a] += kh;
		}
		done++;
		for (size_t s = 0; s < S; s++)
			for (size_t rep = 0; rep < R; rep++)
				for (size_t j = 0; j < L; j++) {
					size_t it = (s * R + rep) * L + j;
					if (it % (size_t)p.nranks != (size_t)p.rank)
						continue;
					double lev = r->levels[j];
					int glob = p.mode == XB_WALK_GLOBAL;
					/* where the noise starts: the site's activation, or with
					 * device noise the input of the site's layer */
					int a0 = glob ? 0 : dev ? act_of[s] - 1 : act_of[s];
					int cur = 0;
					const xb_nn_backend *be = &w.be_clean;
					xb_nn_backend be_noisy;
					if (dev) {
						if ((st = noisy_device(&w, &p, lev, (int)rep,
								       &noisy)) != XB_OK)
							goto fail;
						be_noisy = xb_device_nn_backend(noisy);
					}
					memcpy(w.buf[0], w.act[a0], n * w.size[a0] * sizeof(float));
					for (int a = a0; a <= nl; a++) {
						int site = glob ? site_at[a] : (a == a0 ? (int)s : -1);
						if (!dev && site >= 0)
							xb_walk_inject(w.buf[cur], n, w.size[a], b0, p.noise,
								       lev, sigma[site], p.ratio, p.seed, (int)rep, site);
						if (a == nl)
							break;
						be = dev && (glob || a == a0) ? &be_noisy : &w.be_clean;
						if ((st = layer_forward(&w, a, n, w.buf[cur],
									w.buf[1 - cur], be, b0)) != XB_OK)
							goto fail;
						cur = 1 - cur;
					}
					xb_device_nn_free(noisy);
					noisy = NULL;
					correct[it] += count_correct(w.buf[cur], n, classes, label);
					done++;
				}
		if (p.progress && p.progress(p.progress_ud, done, total)) {
			st = xb_raise(err, XB_ESTATE, "walk: stopped");
			goto fail;
		}
	}
	if (blas > 0)
		openblas_set_num_threads(blas);
	blas = 0;
	/* the counts of every rank's items */
	reduced = 1;
	if (p.reduce && !p.reduce(p.reduce_ud, correct, S * R * L, 1)) {
		st = xb_raise(err, XB_ESTATE, "walk: another rank failed");
		goto fail;
	}
	for (size_t a = 0; a < A; a++) {
		double cnt = (double)ns * (double)w.size[acts[a]];
		r->near_low[a] = (double)nlow[a] / cnt;
		r->near_high[a] = (double)nhigh[a] / cnt;
	}
	for (size_t s = 0; s < S; s++) {
		for (size_t j = 0; j < L; j++) {
			double m = 0;
			for (size_t rep = 0; rep < R; rep++) {
				double a = (double)correct[(s * R + rep) * L + j] / (double)ns;
				r->acc[(s * R + rep) * L + j] = a;
				m += a;
			}
			r->acc_mean[s * L + j] = m / (double)R;
		}
		r->midpoint[s] = xb_walk_midpoint(r->levels, r->acc_mean + s * L, (int)L, r->target);
		if ((st = bootstrap(r, s, curve, mids, err)) != XB_OK)
			goto fail;
	}
	*out = r;
	r = NULL;
	st = XB_OK;
	goto done;

nomem:
	st = xb_raise(err, XB_ENOMEM, "walk: out of memory");
fail:
	if (!reduced && p.reduce)
		p.reduce(p.reduce_ud, NULL, 0, 0);
done:
	xb_device_nn_free(noisy);
	if (blas > 0)
		openblas_set_num_threads(blas);
	if (restore) {
		xb_nn_net_set_backend(net, &saved_be);
		xb_nn_net_set_quantized(net, was_quantized);
	}
	if (have_ws)
		ws_free(&w);
	xb_walk_result_free(r);
	free(act_of);
	free(acts);
	free(site_at);
	free(idx);
	free(correct);
	free(nlow);
	free(nhigh);
	free(label);
	free(sum);
	free(sum2);
	free(amin);
	free(amax);
	free(sigma);
	free(curve);
	free(mids);
	return st;
}
