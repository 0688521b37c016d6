/* train_noise.c - the noise-injecting MVM backend of noise-aware training ("noisy" mode).
 * Float-mode MVMs by sgemm, then multiplicative and additive Gaussian noise (xb_train.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "train_int.h"
#include "nn_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Purpose word of the noise stream (distinct from nn_int.h's purposes). */
#define TRAIN_RNG_NOISE 17u

/* The factor of layer INDEX's noise: 0 if it is not chosen, else its entry of
 * train.noise_factors (1 without). */
static double layer_factor(const xb_train_noise *nz, int index)
{
	if (nz->nlayers == 0)
		return 1.0;
	for (size_t i = 0; i < nz->nlayers; i++)
		if (nz->layers[i] == index)
			return nz->factors ? nz->factors[i] : 1.0;
	return 0.0;
}

/* Noise of layer INDEX, at its factor F, on the TOTAL values Y of one call:
 * y' = y (1 + f mul n1) + f add A n2 (xb_train.h), in place. */
static void add_noise(xb_train_noise *nz, int index, double f, size_t total, float *y)
{
	double ref = 0.0;

	if (nz->add_std) {
		/* population std of every output of the call (samples x positions x rows),
		 * the unit of `xbarsim walk`'s normalised levels; two passes */
		double mean = 0.0, ss = 0.0;
		for (size_t i = 0; i < total; i++)
			mean += y[i];
		mean = total ? mean / (double)total : 0.0;
		for (size_t i = 0; i < total; i++)
			ss += ((double)y[i] - mean) * ((double)y[i] - mean);
		ref = total ? sqrt(ss / (double)total) : 0.0;
	} else {
		for (size_t i = 0; i < total; i++)
			if (fabs((double)y[i]) > ref)
				ref = fabs((double)y[i]);
	}
	uint32_t call = nz->calls++;
	double add = f * nz->add * ref, mul = f * nz->mul;
	/* one philox block gives two Box-Muller pairs: the normals of two elements */
	for (size_t i = 0; i < total; i += 2) {
		uint32_t r[4];
		nn_philox(nz->seed, (uint32_t)i, call, (uint32_t)index, TRAIN_RNG_NOISE, r);
		for (size_t j = 0; j < 2 && i + j < total; j++) {
			double rad = sqrt(-2.0 * log(nn_u01(r[2 * j])));
			double ang = 2.0 * M_PI * nn_u01(r[2 * j + 1]);
			double n1 = rad * cos(ang), n2 = rad * sin(ang);
			y[i + j] = (float)(y[i + j] * (1.0 + mul * n1) + add * n2);
		}
	}
}

static xb_status noisy_mvm_float(void *state, const xb_nn_mvm *op, size_t n, const float *x,
				 float *y, xb_err *err)
{
	xb_train_noise *nz = state;
	const xb_nn_backend_type *fl = &xb_nn_backend_float_type;
	xb_status st = fl->mvm_float(NULL, op, n, x, y, err);
	double f = layer_factor(nz, op->layer->index);

	if (st != XB_OK || !nz->enabled || nz->at_output || f == 0.0)
		return st;
	add_noise(nz, op->layer->index, f, n * op->rows, y);
	return XB_OK;
}

static const xb_nn_backend_type noisy_type = {
	"noisy", noisy_mvm_float, NULL
};

xb_nn_backend xb_train_noise_backend(xb_train_noise *nz)
{
	xb_nn_backend b = xb_nn_backend_float();
	b.type = &noisy_type;
	b.state = nz;
	return b;
}

xb_status xb_train_noise_tap(void *ud, int layer, size_t n, size_t size, float *y, float *d,
			     xb_err *err)
{
	xb_train_noise *nz = ud;
	double f = layer_factor(nz, layer);
	(void)err;
	/* straight through: the backward pass takes the noise as a constant */
	for (size_t i = 0; i < n * size; i++)
		d[i] = 1.0f;
	if (nz->enabled && f != 0.0)
		add_noise(nz, layer, f, n * size, y);
	return XB_OK;
}
