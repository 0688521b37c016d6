/* xb_test_nn.h - a helper shared by the Check suites that train networks: the
 * gradients of one training step at a chosen thread count.  Header-only (static
 * functions), included by tests/check_nn.c and tests/check_train.c.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_TEST_NN_H
#define XB_TEST_NN_H

#include "xb_nn.h"

#include <cblas.h>
#include <check.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* One training step of NET on N samples X (labels LAB, K classes) with THREADS OpenMP
 * and OpenBLAS threads (2 again afterwards): the softmax cross-entropy's gradient of
 * every parameter, in layer order, then dL/dx, in a malloc'd array of *TOTAL floats.
 * LOGITS (N x K) receives the forward pass's output. */
static inline float *xb_test_step_grads(xb_nn_net *net, size_t n, const float *x,
					const int32_t *lab, int k, int threads, float *logits,
					size_t *total)
{
	size_t np = xb_nn_net_nparams(net), isz = xb_nn_shape_size(xb_nn_net_in_shape(net));
	size_t off = 0;
	float *g = malloc((np + n * isz) * sizeof *g), *dlog = malloc(n * (size_t)k * sizeof *dlog);

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(dlog);
	omp_set_num_threads(threads);
	openblas_set_num_threads(threads);
	ck_assert_int_eq(xb_nn_net_forward(net, n, x, logits, 1), XB_OK);
	xb_nn_softmax_xent(logits, lab, n, k, dlog, NULL);
	ck_assert_int_eq(xb_nn_net_backward(net, n, dlog, g + np), XB_OK);
	omp_set_num_threads(2);
	openblas_set_num_threads(2);
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		const xb_nn_layer *l = xb_nn_net_layer(net, i);
		for (int t = 0; t < l->type->nparams; t++) {
			memcpy(g + off, xb_nn_net_grad(net, i, t), l->tsize[t] * sizeof(float));
			off += l->tsize[t];
		}
	}
	free(dlog);
	*total = np + n * isz;
	return g;
}

#endif /* XB_TEST_NN_H */
