/* check_mfcc.c - tests of the MFCC features of workloads/ against an independent reference.
 * A tone in noise checked against numpy; analytic checks of the filter bank, the DCT and the floor.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_data.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLIP 16000

/* The test signal: 0.5 sin(2 pi 1000 n / 16000 + 0.3) + 0.01 u[n], u from the LCG
 * s <- 1664525 s + 1013904223 mod 2^32 (seed 12345), u = s / 2^31 - 1. */
static void test_signal(float *x)
{
	uint32_t s = 12345;
	int n;

	for (n = 0; n < CLIP; n++) {
		double u;

		s = 1664525u * s + 1013904223u;
		u = s / 2147483648.0 - 1.0;
		x[n] = (float)(0.5 * sin(2.0 * M_PI * 1000.0 * n / 16000.0 + 0.3) + 0.01 * u);
	}
}

/* Reference values from an independent numpy implementation of the definition in
 * xb_data.h, run with numpy 1.24 at /usr/bin/python3 (float64 throughout):
 *   import numpy as np
 *   N=16000; n=np.arange(N); s=12345; u=np.empty(N)
 *   for i in range(N): s=(1664525*s+1013904223)%2**32; u[i]=s/2**31-1.0
 *   x=(0.5*np.sin(2*np.pi*1000*n/16000+0.3)+0.01*u).astype(np.float32).astype(float)
 *   w=0.5-0.5*np.cos(2*np.pi*np.arange(480)/480)
 *   mel=lambda f: 2595*np.log10(1+f/700); imel=lambda m: 700*(10**(m/2595)-1)
 *   e=imel(np.linspace(mel(20),mel(7600),42)); f=np.arange(257)*16000/512
 *   H=np.array([np.where((f>e[m])&(f<e[m+1]),(f-e[m])/(e[m+1]-e[m]),
 *       np.where((f>=e[m+1])&(f<e[m+2]),(e[m+2]-f)/(e[m+2]-e[m+1]),0)) for m in range(40)])
 *   D=np.array([[np.sqrt((1 if j==0 else 2)/40)*np.cos(np.pi*j*(2*m+1)/80)
 *       for m in range(40)] for j in range(10)])
 *   L=lambda t: np.log(np.maximum(H@np.abs(np.fft.rfft(x[t*320:t*320+480]*w,512))**2,1e-6))
 *   print(D@L(0), D@L(24), D@L(48), L(24)[[0,10,20,39]], e[1], e[40])
 */
static const double ref_frame0[10] = {
	-19.482420, -1.735857, -3.466572, -7.031631, -1.784474,
	5.628470, 7.605750, 1.885336, -3.824198, -6.014401
};
static const double ref_frame24[10] = {
	-19.114477, -2.120784, -3.967666, -6.969665, -2.378018,
	4.831497, 7.783676, 1.347062, -5.239881, -5.527871
};
static const double ref_frame48[10] = {
	-19.445655, -2.566543, -5.086548, -8.049915, -1.506081,
	5.093343, 6.436317, 1.408500, -4.824700, -6.068838
};
/* numpy: L of frame 24 at bands 0, 10, 20, 39. */
static const double ref_logmel24[4] = { -5.863678, -3.777921, -4.334916, -2.516556 };

START_TEST(test_defaults)
{
	xb_mfcc_params p = xb_mfcc_default_params();
	xb_mfcc *m;

	ck_assert_int_eq(p.window_samples, 480);
	ck_assert_int_eq(p.hop_samples, 320);
	ck_assert_int_eq(p.fft_size, 512);
	ck_assert_int_eq(p.mel_bands, 40);
	m = xb_mfcc_new(NULL, NULL);
	ck_assert_ptr_nonnull(m);
	/* 1 + (16000 - 480) / 320 = 49 (floor of 49.5). */
	ck_assert_int_eq(xb_mfcc_frames(m), 49);
	ck_assert_int_eq(xb_mfcc_coeffs(m), 10);
	/* numpy: edges[1] = 64.23817998803496, edges[40] = 7119.551752954243 Hz. */
	ck_assert_double_eq_tol(xb_mfcc_band_hz(m, 0), 64.23817998803496, 1e-9);
	ck_assert_double_eq_tol(xb_mfcc_band_hz(m, 39), 7119.551752954243, 1e-9);
	ck_assert(isnan(xb_mfcc_band_hz(m, 40)));
	xb_mfcc_free(m);
}
END_TEST

START_TEST(test_against_numpy)
{
	float *x = malloc(CLIP * sizeof *x), out[49 * 10], lm[49 * 40];
	xb_mfcc *m = xb_mfcc_new(NULL, NULL);
	int j;

	ck_assert_ptr_nonnull(m);
	test_signal(x);
	xb_mfcc_compute(m, x, CLIP, out);
	/* float32 FFT against float64: agreement to ~1e-5 relative; 2e-4 absolute. */
	for (j = 0; j < 10; j++) {
		ck_assert_double_eq_tol(out[0 * 10 + j], ref_frame0[j], 2e-4);
		ck_assert_double_eq_tol(out[24 * 10 + j], ref_frame24[j], 2e-4);
		ck_assert_double_eq_tol(out[48 * 10 + j], ref_frame48[j], 2e-4);
	}
	xb_mfcc_logmel(m, x, CLIP, lm);
	ck_assert_double_eq_tol(lm[24 * 40 + 0], ref_logmel24[0], 2e-4);
	ck_assert_double_eq_tol(lm[24 * 40 + 10], ref_logmel24[1], 2e-4);
	ck_assert_double_eq_tol(lm[24 * 40 + 20], ref_logmel24[2], 2e-4);
	ck_assert_double_eq_tol(lm[24 * 40 + 39], ref_logmel24[3], 2e-4);
	xb_mfcc_free(m);
	free(x);
}
END_TEST

/* Analytic: a pure tone puts its energy into the filter whose peak lies nearest its
 * frequency, so the log-mel spectrum peaks there; and the DCT of L is D L. */
START_TEST(test_tone_peak_and_dct)
{
	static const double tones_hz[3] = { 437.5, 2385.0, 6100.0 };
	float *x = malloc(CLIP * sizeof *x), out[49 * 10], lm[49 * 40];
	xb_mfcc *m = xb_mfcc_new(NULL, NULL);
	int k, b, t, j;

	ck_assert_ptr_nonnull(m);
	for (k = 0; k < 3; k++) {
		int best = 0, nearest = 0;

		for (t = 0; t < CLIP; t++)
			x[t] = (float)(0.25 * sin(2.0 * M_PI * tones_hz[k] * t / 16000.0));
		xb_mfcc_logmel(m, x, CLIP, lm);
		for (b = 1; b < 40; b++) {
			if (lm[10 * 40 + b] > lm[10 * 40 + best])
				best = b;
			if (fabs(xb_mfcc_band_hz(m, b) - tones_hz[k]) <
			    fabs(xb_mfcc_band_hz(m, nearest) - tones_hz[k]))
				nearest = b;
		}
		ck_assert_int_eq(best, nearest);
		/* c_j = sqrt((j ? 2 : 1) / 40) sum_m L_m cos(pi j (2m + 1) / 80). */
		xb_mfcc_compute(m, x, CLIP, out);
		for (t = 0; t < 49; t += 16)
			for (j = 0; j < 10; j++) {
				double s = 0.0;

				for (b = 0; b < 40; b++)
					s += lm[t * 40 + b] * cos(M_PI * j * (2 * b + 1) / 80.0);
				s *= sqrt((j ? 2.0 : 1.0) / 40.0);
				ck_assert_double_eq_tol(out[t * 10 + j], s, 1e-4 * (1.0 + fabs(s)));
			}
	}
	xb_mfcc_free(m);
	free(x);
}
END_TEST

/* Digital silence sits at the floor: L = ln(1e-6) in every band, so c_0 = sqrt(40)
 * ln(1e-6) = -87.37696080254162 (numpy) and the other coefficients vanish. */
START_TEST(test_floor)
{
	float zeros[100] = { 0 }, out[49 * 10];
	xb_mfcc *m = xb_mfcc_new(NULL, NULL);
	int t, j;

	xb_mfcc_compute(m, zeros, 100, out);
	for (t = 0; t < 49; t++) {
		ck_assert_double_eq_tol(out[t * 10], -87.37696080254162, 1e-4);
		for (j = 1; j < 10; j++)
			ck_assert_double_eq_tol(out[t * 10 + j], 0.0, 1e-4);
	}
	xb_mfcc_free(m);
}
END_TEST

/* Short clips are zero-padded, long ones cut; s16 input equals its float image. */
START_TEST(test_padding_and_s16)
{
	float *x = calloc(20000, sizeof *x), a[490], b[490];
	int16_t *s = malloc(CLIP * sizeof *s);
	xb_mfcc *m = xb_mfcc_new(NULL, NULL);
	int i;

	test_signal(x);
	for (i = 8000; i < CLIP; i++)
		x[i] = 0.0f;
	xb_mfcc_compute(m, x, CLIP, a);
	xb_mfcc_compute(m, x, 8000, b);
	ck_assert_mem_eq(a, b, sizeof a);
	test_signal(x);
	for (i = CLIP; i < 20000; i++)
		x[i] = 0.7f;
	xb_mfcc_compute(m, x, CLIP, a);
	xb_mfcc_compute(m, x, 20000, b);
	ck_assert_mem_eq(a, b, sizeof a);
	for (i = 0; i < CLIP; i++) {
		s[i] = (int16_t)lrint(x[i] * 32767.0);
		x[i] = s[i] / 32768.0f;
	}
	xb_mfcc_compute(m, x, CLIP, a);
	xb_mfcc_compute_s16(m, s, CLIP, b);
	ck_assert_mem_eq(a, b, sizeof a);
	xb_mfcc_free(m);
	free(x);
	free(s);
}
END_TEST

START_TEST(test_bad_params)
{
	xb_mfcc_params p;
	xb_err err;
	int k;

	for (k = 0; k < 9; k++) {
		p = xb_mfcc_default_params();
		switch (k) {
		case 0: p.rate_hz = 0; break;
		case 1: p.hop_samples = 0; break;
		case 2: p.clip_samples = 100; break;
		case 3: p.fft_size = 256; break;
		case 4: p.mel_bands = 0; break;
		case 5: p.coeffs = 41; break;
		case 6: p.f_hi_hz = 9000.0; break;
		case 7: p.f_lo_hz = 8000.0; p.f_hi_hz = 7000.0; break;
		case 8: p.log_floor = 0.0; break;
		}
		xb_err_clear(&err);
		ck_assert_ptr_null(xb_mfcc_new(&p, &err));
		ck_assert_int_eq(err.code, XB_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "MFCC parameters"));
	}
	/* A valid non-default set: 8 kHz, 256-point FFT, 20 bands, 13 coefficients:
	 * 1 + (8000 - 200) / 80 = 98 frames. */
	p = xb_mfcc_default_params();
	p.rate_hz = 8000;
	p.clip_samples = 8000;
	p.window_samples = 200;
	p.hop_samples = 80;
	p.fft_size = 256;
	p.mel_bands = 20;
	p.coeffs = 13;
	p.f_hi_hz = 4000.0;
	{
		xb_mfcc *m = xb_mfcc_new(&p, &err);

		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(xb_mfcc_frames(m), 98);
		ck_assert_int_eq(xb_mfcc_coeffs(m), 13);
		ck_assert_int_eq(xb_mfcc_params_of(m)->fft_size, 256);
		xb_mfcc_free(m);
	}
	xb_mfcc_free(NULL);
}
END_TEST

static Suite *mfcc_suite(void)
{
	Suite *s = suite_create("mfcc");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_defaults);
	tcase_add_test(core, test_against_numpy);
	tcase_add_test(core, test_tone_peak_and_dct);
	tcase_add_test(limits, test_floor);
	tcase_add_test(limits, test_padding_and_s16);
	tcase_add_test(limits, test_bad_params);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mfcc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
