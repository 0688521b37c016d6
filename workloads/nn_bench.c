/* nn_bench.c - timing of the neural-network training and inference (make bench).
 * Prints one figure per line as "<name>: <value> <unit>", on random data of the real shapes.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 12345;

static double urand(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void set_threads(int n)
{
	omp_set_num_threads(n);
	openblas_set_num_threads(n);
}

/* Samples per second of one training epoch of ARCH on N random samples. */
static double train_rate(const char *arch, size_t n, int threads, xb_nn_data *d)
{
	xb_err err = {0};
	xb_nn_net *net = xb_nn_net_from_spec(xb_nn_arch(arch), 1, &err);
	if (!net) {
		fprintf(stderr, "bench_nn: %s\n", err.msg);
		exit(1);
	}
	xb_nn_train_params p = xb_nn_train_default_params();
	p.epochs = 1;
	p.batch = 64;
	set_threads(threads);
	double t0 = xb_wall_s();
	if (xb_nn_train(net, d, NULL, &p) != XB_OK) {
		fprintf(stderr, "bench_nn: %s\n", xb_nn_net_errmsg(net));
		exit(1);
	}
	double dt = xb_wall_s() - t0;
	xb_nn_net_free(net);
	return (double)n / dt;
}

static double infer_rate(const char *arch, xb_nn_data *d, int quantized)
{
	xb_nn_net *net = xb_nn_net_from_spec(xb_nn_arch(arch), 1, NULL);
	double acc;
	if (quantized && xb_nn_net_quantize(net, 256, d->x, NULL) != XB_OK) {
		fprintf(stderr, "bench_nn: %s\n", xb_nn_net_errmsg(net));
		exit(1);
	}
	double t0 = xb_wall_s();
	if (xb_nn_evaluate(net, d, NULL, &acc, NULL) != XB_OK) {
		fprintf(stderr, "bench_nn: %s\n", xb_nn_net_errmsg(net));
		exit(1);
	}
	double dt = xb_wall_s() - t0;
	xb_nn_net_free(net);
	return (double)d->n / dt;
}

int main(void)
{
	size_t n = 2048;
	float *x = malloc(n * 28 * 28 * sizeof *x);
	int32_t *lab = malloc(n * sizeof *lab);
	if (!x || !lab)
		return 1;
	for (size_t i = 0; i < n * 28 * 28; i++)
		x[i] = (float)(2 * urand() - 1);
	for (size_t i = 0; i < n; i++)
		lab[i] = (int32_t)(i % 10);
	xb_nn_data d = {n, x, lab};

	double kws1 = train_rate("kws-cnn", n, 1, &d);
	double kws2 = train_rate("kws-cnn", n, 2, &d);
	printf("nn.kws_train_samples_per_s: %.0f samples/s\n", kws2);
	printf("nn.kws_train_epoch_6912_s: %.2f s\n", 6912.0 / kws2);
	printf("nn.kws_train_threads2_over_1: %.2f\n", kws2 / kws1);
	printf("nn.kws_infer_samples_per_s: %.0f samples/s\n", infer_rate("kws-cnn", &d, 0));
	printf("nn.kws_infer_quantized_samples_per_s: %.0f samples/s\n", infer_rate("kws-cnn", &d, 1));
	printf("nn.lenet5_train_samples_per_s: %.0f samples/s\n", train_rate("lenet5", n, 2, &d));
	printf("nn.mlp3_train_samples_per_s: %.0f samples/s\n", train_rate("mlp3", n, 2, &d));
	free(x);
	free(lab);
	return 0;
}
