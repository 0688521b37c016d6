/* walk_run.c - the walking-noise sweep: noise injection, layer-by-layer forward, midpoints, bootstrap.
 * Implements xb_walk_run, xb_walk_inject and xb_walk_midpoint of xb_walk.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_walk.h"

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

void xb_walk_result_free(xb_walk_result *r)
{
	if (!r)
		return;
	if (r->name)
		for (size_t i = 0; i < r->nsites; i++)
			free(r->name[i]);
	free(r->name);
	free(r->layer);
	free(r->scale);
	free(r->midpoint);
	free(r->midpoint_lo);
	free(r->midpoint_hi);
	free(r->levels);
	free(r->acc);
	free(r->acc_mean);
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
	return XB_OK;
nomem:
	ws_free(w);
	return xb_raise(err, XB_ENOMEM, "walk: out of memory for the workspace");
}

static xb_status layer_forward(walk_ws *w, int i, size_t n, const float *x, float *y)
{
	xb_nn_layer *l = xb_nn_net_layer_mut(w->net, i);
	xb_nn_run run = { 0, xb_nn_net_quantized(w->net), xb_nn_net_backend(w->net), w->scratch,
			  w->threads, w->cache[i], w->err };
	xb_status st = l->type->forward(l, &run, n, x, y);
	if (st != XB_OK)
		xb_err_context(w->err, "walk: layer %d (%s)", i + 1, l->type->name);
	return st;
}

/* Correct answers among N outputs Y[N][k] for LABEL. */
static size_t count_correct(const float *y, size_t n, size_t k, const int32_t *label)
{
	size_t ok = 0;
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
	if (p->noise < XB_WALK_ADDITIVE || p->noise > XB_WALK_COMBINED)
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
	return XB_OK;
}

/* Copy the samples of batch [b0, b0 + n) (indices IDX into DATA) to X and LABEL. */
static void gather(const xb_nn_data *data, const size_t *idx, size_t b0, size_t n,
		   size_t isz, float *x, int32_t *label)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = idx[b0 + i];
		memcpy(x + i * isz, data->x + k * isz, isz * sizeof(float));
		label[i] = data->label[k];
	}
}

static xb_status clean_forward(walk_ws *w, size_t n)
{
	for (int i = 0; i < w->nl; i++) {
		xb_status st = layer_forward(w, i, n, w->act[i], w->act[i + 1]);
		if (st != XB_OK)
			return st;
	}
	return XB_OK;
}

xb_status xb_walk_run(xb_nn_net *net, const xb_nn_data *data, const xb_walk_params *pin,
		      xb_walk_result **out, xb_err *err)
{
	xb_walk_params p = pin ? *pin : xb_walk_default_params();
	xb_walk_result *r = NULL;
	walk_ws w;
	int have_ws = 0, blas = 0;
	size_t *idx = NULL, *correct = NULL;
	int *act_of = NULL;
	int32_t *label = NULL;
	double *sum = NULL, *sum2 = NULL, *curve = NULL, *mids = NULL;
	xb_status st;

	*out = NULL;
	if (!net || !data)
		return xb_raise(err, XB_EINVAL, "xb_walk_run: NULL network or data");
	if ((st = check_params(&p, err)) != XB_OK)
		return st;
	if (data->n == 0 || !data->x || !data->label)
		return xb_raise(err, XB_EINVAL, "walk: no samples to evaluate");
	int nl = xb_nn_net_nlayers(net);
	if (nl < 1)
		return xb_raise(err, XB_EINVAL, "walk: the network has no layers");
	size_t classes = xb_nn_shape_size(xb_nn_net_out_shape(net));
	size_t isz = xb_nn_shape_size(xb_nn_net_in_shape(net));
	for (size_t i = 0; i < data->n; i++)
		if (data->label[i] < 0 || (size_t)data->label[i] >= classes)
			return xb_raise(err, XB_ERANGE, "walk: sample %zu has label %d, expected 0 .. "
					"%zu (the network's outputs)", i, (int)data->label[i],
					classes - 1);
	size_t ns = p.samples && p.samples < data->n ? p.samples : data->n;

	/* Bring the network's own state up to date (quantization of changed weights) with
	 * one ordinary forward of a sample. */
	{
		float *y1 = malloc(classes * sizeof *y1);
		if (!y1)
			return xb_raise(err, XB_ENOMEM, "walk: out of memory");
		st = xb_nn_net_forward(net, 1, data->x, y1, 0);
		free(y1);
		if (st != XB_OK)
			return xb_raise(err, st, "walk: %s", xb_nn_net_errmsg(net));
	}
	if ((st = ws_init(&w, net, err)) != XB_OK)
		return st;
	have_ws = 1;

	/* sites: activation 0 (input) and every layer output except flatten's */
	act_of = malloc(((size_t)nl + 1) * sizeof *act_of);
	int nsites = 0;
	if (!act_of)
		goto nomem;
	act_of[nsites++] = 0;
	for (int i = 0; i < nl; i++)
		if (strcmp(xb_nn_net_layer(net, i)->type->name, "flatten") != 0)
			act_of[nsites++] = i + 1;
	/* site index of each activation, -1 for none */
	int *site_at = calloc((size_t)nl + 1, sizeof *site_at);
	if (!site_at)
		goto nomem;
	for (int a = 0; a <= nl; a++)
		site_at[a] = -1;
	for (int s = 0; s < nsites; s++)
		site_at[act_of[s]] = s;

	r = calloc(1, sizeof *r);
	if (!r) {
		free(site_at);
		goto nomem;
	}
	r->params = p;
	r->params.progress = NULL;
	r->params.progress_ud = NULL;
	r->nsites = p.mode == XB_WALK_GLOBAL ? 1 : (size_t)nsites;
	r->nlevels = p.nlevels;
	r->repeats = p.repeats;
	r->samples = ns;
	r->chance_accuracy = 1.0 / (double)classes;
	size_t S = r->nsites, R = (size_t)p.repeats, L = (size_t)p.nlevels;
	r->name = calloc(S, sizeof *r->name);
	r->layer = malloc(S * sizeof *r->layer);
	r->scale = malloc(S * sizeof *r->scale);
	r->midpoint = malloc(S * sizeof(double));
	r->midpoint_lo = malloc(S * sizeof(double));
	r->midpoint_hi = malloc(S * sizeof(double));
	r->levels = malloc(L * sizeof(double));
	r->acc = malloc(S * R * L * sizeof(double));
	r->acc_mean = malloc(S * L * sizeof(double));
	correct = calloc(S * R * L, sizeof *correct);
	sum = calloc((size_t)nsites, sizeof *sum);
	sum2 = calloc((size_t)nsites, sizeof *sum2);
	double *sigma = calloc((size_t)nsites, sizeof *sigma);
	idx = malloc(ns * sizeof *idx);
	label = malloc(WALK_BATCH * sizeof *label);
	curve = malloc(L * sizeof *curve);
	mids = malloc(((size_t)p.bootstrap + 1) * sizeof *mids);
	if (!sigma || !r->name || !r->layer || !r->scale || !r->midpoint || !r->midpoint_lo ||
	    !r->midpoint_hi || !r->levels || !r->acc || !r->acc_mean || !correct || !sum ||
	    !sum2 || !idx || !label || !curve || !mids) {
		free(sigma);
		free(site_at);
		goto nomem;
	}
	for (size_t j = 0; j < L; j++)
		r->levels[j] = p.level_min * pow(p.level_max / p.level_min, (double)j / (double)(L - 1));
	for (size_t s = 0; s < S; s++) {
		char nm[96];
		if (p.mode == XB_WALK_GLOBAL) {
			snprintf(nm, sizeof nm, "global");
			r->layer[s] = -1;
		} else if (act_of[s] == 0) {
			snprintf(nm, sizeof nm, "input");
			r->layer[s] = -1;
		} else {
			r->layer[s] = act_of[s] - 1;
			snprintf(nm, sizeof nm, "%d.%s", act_of[s],
				 xb_nn_net_layer(net, act_of[s] - 1)->type->name);
		}
		if (!(r->name[s] = strdup(nm))) {
			free(sigma);
			free(site_at);
			goto nomem;
		}
	}
	/* samples spread evenly over the data set */
	for (size_t i = 0; i < ns; i++)
		idx[i] = (size_t)((unsigned long long)i * data->n / ns);

	blas = blas_enter(w.threads);
	size_t nbatch = (ns + WALK_BATCH - 1) / WALK_BATCH;
	uint64_t total = (uint64_t)nbatch * (1 + S * R * L), done = 0;

	/* pass 1: clean accuracy and the statistics of every site */
	size_t clean_ok = 0;
	for (size_t b = 0; b < nbatch; b++) {
		size_t b0 = b * WALK_BATCH, n = ns - b0 < WALK_BATCH ? ns - b0 : WALK_BATCH;
		gather(data, idx, b0, n, isz, w.act[0], label);
		if ((st = clean_forward(&w, n)) != XB_OK)
			goto fail_st;
		clean_ok += count_correct(w.act[nl], n, classes, label);
		for (int s = 0; s < nsites; s++) {
			const float *a = w.act[act_of[s]];
			size_t cnt = n * w.size[act_of[s]];
			double s1 = 0, s2 = 0;
			for (size_t e = 0; e < cnt; e++) {
				s1 += a[e];
				s2 += (double)a[e] * a[e];
			}
			sum[s] += s1;
			sum2[s] += s2;
		}
		done++;
		if (p.progress && p.progress(p.progress_ud, done, total)) {
			st = xb_raise(err, XB_ESTATE, "walk: stopped");
			goto fail_st;
		}
	}
	r->clean_accuracy = (double)clean_ok / (double)ns;
	r->target = (r->clean_accuracy + r->chance_accuracy) / 2.0;
	for (int s = 0; s < nsites; s++) {
		double cnt = (double)ns * (double)w.size[act_of[s]];
		double mean = sum[s] / cnt, var = sum2[s] / cnt - mean * mean;
		sigma[s] = p.normalise ? (var > 0 ? sqrt(var) : 1.0) : 1.0;
	}
	for (size_t s = 0; s < S; s++)
		r->scale[s] = p.mode == XB_WALK_GLOBAL ? (p.normalise ? NAN : 1.0) : sigma[s];

	/* pass 2: the sweeps */
	for (size_t b = 0; b < nbatch; b++) {
		size_t b0 = b * WALK_BATCH, n = ns - b0 < WALK_BATCH ? ns - b0 : WALK_BATCH;
		gather(data, idx, b0, n, isz, w.act[0], label);
		if ((st = clean_forward(&w, n)) != XB_OK)
			goto fail_st;
		for (size_t s = 0; s < S; s++)
			for (size_t rep = 0; rep < R; rep++)
				for (size_t j = 0; j < L; j++) {
					double lev = r->levels[j];
					int a0 = p.mode == XB_WALK_GLOBAL ? 0 : act_of[s];
					int cur = 0;
					memcpy(w.buf[0], w.act[a0], n * w.size[a0] * sizeof(float));
					for (int a = a0; a <= nl; a++) {
						int site = p.mode == XB_WALK_GLOBAL ? site_at[a] :
							(a == a0 ? (int)s : -1);
						if (site >= 0)
							xb_walk_inject(w.buf[cur], n, w.size[a], b0, p.noise,
								       lev, sigma[site], p.ratio, p.seed,
								       (int)rep, site);
						if (a == nl)
							break;
						if ((st = layer_forward(&w, a, n, w.buf[cur],
									w.buf[1 - cur])) != XB_OK)
							goto fail_st;
						cur = 1 - cur;
					}
					correct[(s * R + rep) * L + j] +=
						count_correct(w.buf[cur], n, classes, label);
					done++;
				}
		if (p.progress && p.progress(p.progress_ud, done, total)) {
			st = xb_raise(err, XB_ESTATE, "walk: stopped");
			goto fail_st;
		}
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
			goto fail_st;
	}
	if (blas > 0)
		openblas_set_num_threads(blas);
	free(sigma);
	free(site_at);
	ws_free(&w);
	free(act_of);
	free(idx);
	free(correct);
	free(label);
	free(sum);
	free(sum2);
	free(curve);
	free(mids);
	*out = r;
	return XB_OK;

fail_st:
	free(sigma);
	free(site_at);
	goto fail;
nomem:
	st = xb_raise(err, XB_ENOMEM, "walk: out of memory");
fail:
	if (blas > 0)
		openblas_set_num_threads(blas);
	if (have_ws)
		ws_free(&w);
	xb_walk_result_free(r);
	free(act_of);
	free(idx);
	free(correct);
	free(label);
	free(sum);
	free(sum2);
	free(curve);
	free(mids);
	return st;
}
