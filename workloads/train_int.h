/* train_int.h - internals shared by the train_*.c files of the workloads module (not installed).
 * The noise-injecting backend's state.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_TRAIN_INT_H
#define XB_TRAIN_INT_H

#include "xb_train.h"

/* State of the noisy backend (xb_train.h, "Noise"). */
typedef struct xb_train_noise {
	uint64_t seed;        /* key of the noise stream */
	double add;           /* additive std, fraction of the call's max |y| or std of y */
	int add_std;          /* 0: add relative to max |y|, 1: to the std of y (train.noise_scale) */
	double mul;           /* multiplicative std, fraction of each output */
	const int *layers;    /* chosen layer indices (NULL/0: every analog layer) */
	size_t nlayers;
	const double *factors; /* NULL, or nlayers factors of add and mul, one per layer */
	int at_output;        /* 1: at the chosen layers' outputs by the tap (train.noise_at) */
	int enabled;          /* 0 turns the noise off (clean evaluation) */
	uint32_t calls;       /* calls so far: the stream's counter */
} xb_train_noise;

/* A backend over NZ (which must outlive it): float MVMs plus noise. */
XB_HIDDEN xb_nn_backend xb_train_noise_backend(xb_train_noise *nz);

/* The tap (xb_nn_tap_fn) of train.noise_at = output: the noise of xb_train_noise_tap's
 * UD, an xb_train_noise, at the outputs of its layers. */
XB_HIDDEN xb_status xb_train_noise_tap(void *ud, int layer, size_t n, size_t size, float *y,
				       float *d, xb_err *err);

/* The device backend of the configuration's tiles with integrator.model set for MODE
 * (ideal, unordered, ordered): *BE to hand to the network, *STATE to free with
 * xb_train_device_free() after the network stops using it.  Errors on ERR. */
XB_HIDDEN xb_status xb_train_device_backend(const xb_config *cfg, int mode, xb_nn_backend *be,
					    void **state, xb_err *err);
XB_HIDDEN void xb_train_device_free(void *state);

#endif /* XB_TRAIN_INT_H */
