/* bench_timed.c - cost of the timed model: a timed KWS inference over a functional one.
 * Prints timed.over_functional and the timed model's rates, measured in the same run.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The network is the stock kws-cnn (xb_nn_arch) with seeded random weights, quantized on
 * 64 random samples, on the hx preset through the device backend (xb_device_nn).  Both
 * paths run the same 64 samples one at a time (as `xbarsim run --timed` does): the
 * functional one xb_nn_net_forward, the timed one xb_timed_infer (which includes its
 * functional forward).  Best of 3 repetitions each.
 */
#include "xb_device_nn.h"
#include "xb_timed.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
	enum { N = 64 };
	xb_err err = { 0 };
	xb_tile_params p = xb_tile_default_params();
	xb_nn_net *net = xb_nn_net_from_spec("kws-cnn", 7, &err);
	xb_device_nn *dev = net ? xb_device_nn_new(&p, NULL, &err) : NULL;
	if (!net || !dev) {
		printf("timed.over_functional: n/a (%s)\n", err.msg);
		return 0;
	}
	xb_nn_backend be = xb_device_nn_backend(dev);
	xb_nn_net_set_backend(net, &be);
	size_t in = xb_nn_shape_size(xb_nn_net_in_shape(net));
	size_t out = xb_nn_shape_size(xb_nn_net_out_shape(net));
	float *x = malloc(N * in * sizeof *x), *y = malloc(out * sizeof *y);
	uint64_t s = 12345;
	for (size_t i = 0; i < N * in; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = (float)((s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
	}
	xb_nn_quant_params qp = xb_nn_quant_default_params();
	if (xb_nn_net_quantize(net, N, x, &qp) != XB_OK) {
		printf("timed.over_functional: n/a (%s)\n", xb_nn_net_errmsg(net));
		return 0;
	}
	xb_timed_params pp = xb_timed_default_params();
	xb_timed *t = xb_timed_new_params(&p, &pp, net, &err);
	if (!t) {
		printf("timed.over_functional: n/a (%s)\n", err.msg);
		return 0;
	}
	double best_f = 1e30, best_t = 1e30;
	uint64_t acts = 0, tasks = 0;
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s();
		for (size_t i = 0; i < N; i++) {
			xb_device_nn_set_sample(dev, i);
			xb_nn_net_forward(net, 1, x + i * in, y, 0);
		}
		double t1 = now_s();
		acts = 0;
		tasks = 0;
		for (size_t i = 0; i < N; i++) {
			const xb_timed_result *r;
			xb_device_nn_set_sample(dev, i);
			if (xb_timed_infer(t, x + i * in, y, &r) != XB_OK) {
				printf("timed.over_functional: n/a (%s)\n", xb_timed_errmsg(t));
				return 0;
			}
			acts += r->kernel_activations;
			tasks += r->ntimeline;
		}
		double t2 = now_s();
		if (t1 - t0 < best_f)
			best_f = t1 - t0;
		if (t2 - t1 < best_t)
			best_t = t2 - t1;
	}
	xb_timed_summary sm;
	xb_timed_summarize(t, &sm);
	printf("timed.over_functional: %.2f\n", best_t / best_f);
	printf("timed.functional_inference_us: %.1f us\n", best_f / N * 1e6);
	printf("timed.timed_inference_us: %.1f us\n", best_t / N * 1e6);
	printf("timed.tasks_per_inference: %.0f\n", (double)tasks / N);
	printf("timed.kernel_activations_per_s: %.3g /s\n", (double)acts / best_t);
	printf("timed.kws_latency_us: %.1f us\n", sm.latency_ns_mean * 1e-3);
	printf("timed.kws_energy_nj: %.2f nJ\n", sm.energy_pj_mean * 1e-3);
	xb_timed_free(t);
	xb_nn_net_free(net);
	xb_device_nn_free(dev);
	free(x);
	free(y);
	return 0;
}
