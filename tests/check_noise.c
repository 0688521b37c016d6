/* check_noise.c - unit tests of the counter-based streams, the noise types and the PCM closed forms.
 * Every expected value says how it was derived; statistical bounds state their confidence.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_noise.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>
#include <Random123/ars.h>
#include <gsl/gsl_cdf.h>

/* A stream whose key of purpose P is K (to reach raw Philox counters). */
static xb_stream raw_stream(uint32_t k0, uint32_t k1)
{
	xb_stream s;

	memset(&s, 0, sizeof s);
	s.key[XB_DRAW_USER][0] = k0;
	s.key[XB_DRAW_USER][1] = k1;
	return s;
}

START_TEST(test_philox_kat)
{
	/* Known-answer vectors of Philox-4x32-10 from Random123's kat_vectors file; the
	 * stream's counter is {block, a, sample_lo, sample_hi}. */
	static const struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
		{ { 0, 0, 0, 0 }, { 0, 0 }, { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 } },
		{ { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff }, { 0xffffffff, 0xffffffff },
		  { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd } },
		{ { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 }, { 0xa4093822, 0x299f31d0 },
		  { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 } },
	};

	for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
		xb_stream s = raw_stream(kat[i].key[0], kat[i].key[1]);
		uint32_t out[4];
		uint64_t sample = kat[i].ctr[2] | (uint64_t)kat[i].ctr[3] << 32;

		xb_stream_block(&s, XB_DRAW_USER, sample, kat[i].ctr[1], kat[i].ctr[0], out);
		for (int j = 0; j < 4; j++)
			ck_assert_uint_eq(out[j], kat[i].out[j]);
	}
}
END_TEST

START_TEST(test_vector_equals_scalar)
{
	/* The vectorised fills (AVX-512 Philox where built) equal Random123's own
	 * philox4x32_R and the single-value calls, for n not a multiple of 4 or 256 and
	 * an offset b0. */
	xb_stream s;
	float z[1031], u[1031], v[1031];
	uint32_t blk[4];

	xb_stream_init(&s, 0x123456789abcULL, 3, 7);
	xb_stream_normals(&s, XB_DRAW_READ, 987654321012ULL, 5, 8, z, 1031);
	xb_stream_uniforms(&s, XB_DRAW_STUCK, 11, 2, 0, u, 1031);
	memset(v, 0, sizeof v);
	xb_stream_add_normals(&s, XB_DRAW_READ, 987654321012ULL, 5, 8, 2.5f, NULL, v, 1031);
	for (uint32_t b = 0; b < 1031; b++) {
		ck_assert(z[b] == (float)xb_stream_normal(&s, XB_DRAW_READ, 987654321012ULL, 5, b + 8));
		ck_assert(u[b] == (float)xb_stream_uniform(&s, XB_DRAW_STUCK, 11, 2, b));
		ck_assert(v[b] == 2.5f * z[b]);
	}
	for (uint32_t b = 0; b < 64; b++) {
		philox4x32_ctr_t c = { { b, 9, 77, 0 } };
		philox4x32_key_t k = { { s.key[XB_DRAW_EVENT][0], s.key[XB_DRAW_EVENT][1] } };
		philox4x32_ctr_t r = philox4x32_R(10, c, k);

		xb_stream_block(&s, XB_DRAW_EVENT, 77, 9, b, blk);
		ck_assert_int_eq(memcmp(blk, r.v, sizeof blk), 0);
		ck_assert_uint_eq(xb_stream_u32(&s, XB_DRAW_EVENT, 77, 9, 4 * b + 2), r.v[2]);
	}
}
END_TEST

START_TEST(test_ars_kat)
{
	/* The words behind the normals: ARS-4x32-7.  Expected blocks computed with
	 * Random123's ars4x32_R(7, ctr, key) (AES-NI hardware, the definition of ARS),
	 * against the stream's portable AES rounds; the counter is {block, a, sample_lo,
	 * sample_hi}.  Where AES-NI is built, ars4x32_R is also called directly on the
	 * stream's own keys.  The key of a purpose: the four words of
	 * philox4x32_R(10, {chip, tile, purpose, 0x7862726e}, {seed_lo, seed_hi}). */
	static const struct { uint32_t ctr[4], key[4], out[4]; } kat[] = {
		{ { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0xdacf61ff, 0xc45798f3, 0x113c7eeb, 0x101e27f3 } },
		{ { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
		  { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
		  { 0xfbaaff1f, 0xbb547ef9, 0x13d8cd78, 0x7aaa969b } },
		{ { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 },
		  { 0xa4093822, 0x299f31d0, 0x082efa98, 0xec4e6c89 },
		  { 0xd1df87af, 0xf67d43ba, 0x4f66afdb, 0x393dcb2d } },
	};
	xb_stream s;

	for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
		uint32_t out[4];
		uint64_t sample = kat[i].ctr[2] | (uint64_t)kat[i].ctr[3] << 32;

		memset(&s, 0, sizeof s);
		memcpy(s.nkey[XB_DRAW_USER], kat[i].key, sizeof kat[i].key);
		xb_stream_nblock(&s, XB_DRAW_USER, sample, kat[i].ctr[1], kat[i].ctr[0], out);
		for (int j = 0; j < 4; j++)
			ck_assert_uint_eq(out[j], kat[i].out[j]);
		/* value b = word b % 4 of block b / 4, through the inverse CDF */
		for (uint32_t j = 0; j < 4 && kat[i].ctr[0] < (1u << 30); j++)
			ck_assert(xb_stream_normal(&s, XB_DRAW_USER, sample, kat[i].ctr[1], 4 * kat[i].ctr[0] + j) ==
				  (double)xb_stream_normal_of_word(out[j]));
	}
	xb_stream_init(&s, 0x123456789abcULL, 3, 7);
	for (uint32_t p = 0; p < XB_DRAW_COUNT; p++) {
		philox4x32_ctr_t c = { { 3, 7, p, 0x7862726eu } };
		philox4x32_key_t k = { { 0x56789abcu, 0x1234u } };
		philox4x32_ctr_t r = philox4x32_R(10, c, k);

		ck_assert_int_eq(memcmp(s.nkey[p], r.v, sizeof r.v), 0);
	}
#if R123_USE_AES_NI
	for (uint32_t b = 0; b < 64; b++) {
		ars4x32_ctr_t c = { { b, 9, 77, 0 } };
		ars4x32_key_t k;
		ars4x32_ctr_t r;
		uint32_t blk[4];

		memcpy(k.v, s.nkey[XB_DRAW_READ], sizeof k.v);
		r = ars4x32_R(7, c, k);
		xb_stream_nblock(&s, XB_DRAW_READ, 77, 9, b, blk);
		ck_assert_int_eq(memcmp(blk, r.v, sizeof blk), 0);
	}
#endif
}
END_TEST

START_TEST(test_icdf_accuracy)
{
	/* The inverse CDF of a word against GSL's gsl_cdf_ugaussian_Qinv in double (an
	 * independent implementation, Wichura's AS241): z = +-Q(p / 2) with p = (2 (w mod
	 * 2^31) + 1) 2^-32 and the sign from bit 31.  |error| < 1.2e-6: the fit's error
	 * is below 8e-7 over every octave (measured on 6.4e6 words when the coefficients
	 * were made); single-precision rounding of |z| <= 6.4 is 2.4e-7.  Words: 4096 per
	 * octave e of p (p in [2^-(e+1), 2^-e), e = 0 .. 31; lower bits from an LCG), with
	 * both signs, and the extremes. */
	static const uint32_t extreme[] = { 0, 1, 2, 3, 0x7ffffffe, 0x7fffffff, 0x80000000,
					    0x80000001, 0xfffffffe, 0xffffffff, 0x40000000 };
	uint32_t lcg = 2385;

	for (uint32_t k = 0; k < 32 * 4096 + sizeof extreme / sizeof *extreme; k++) {
		uint32_t w;

		if (k < 32 * 4096) {
			uint32_t e = k / 4096, top = 31 - e;   /* leading one of 2 (w mod 2^31) + 1 */

			lcg = lcg * 1664525u + 1013904223u;
			w = ((1u << top) | (lcg & ((1u << top) - 1))) >> 1;
			w |= (k & 1) << 31;
		} else {
			w = extreme[k - 32 * 4096];
		}
		double p = ldexp(2.0 * (double)(w & 0x7fffffffu) + 1.0, -32);
		double ref = gsl_cdf_ugaussian_Qinv(p / 2) * ((w >> 31) ? -1 : 1);
		double got = xb_stream_normal_of_word(w);

		ck_assert_msg(fabs(got - ref) < 1.2e-6, "word 0x%08x: %.9g vs %.9g", w, got, ref);
	}
	/* The largest deviates: p = 2^-32, |z| = Q(2^-33) = 6.337958 (GSL). */
	ck_assert(fabs(xb_stream_normal_of_word(0) - 6.337958) < 1e-5);
	ck_assert(fabs(xb_stream_normal_of_word(0x80000000u) + 6.337958) < 1e-5);
	/* p = 1 - 2^-32: |z| = Q(1 - 2^-32) = 4.9e-7 (GSL) */
	ck_assert(xb_stream_normal_of_word(0x7fffffffu) > 0);
	ck_assert(xb_stream_normal_of_word(0x7fffffffu) < 1e-6);
}
END_TEST

START_TEST(test_normal_tails)
{
	/* The tails of 2^22 read-noise deviates (the tile's addressing: sample, a = 0, 256
	 * columns).  P(|z| > 4) = 6.334e-5 (erfc(4 / sqrt 2)): 265.7 expected, Poisson sd
	 * 16.3, bound +- 5 sd (false alarm 6e-7).  P(|z| > 5) = 5.733e-7: 2.40 expected,
	 * P(count >= 15) = 1e-8 (Poisson).  P(|z| > 3) = 2.700e-3: 11324 expected, sd
	 * 106, bound +- 5 sd.  No deviate beyond Q(2^-33) = 6.337958. */
	enum { N = 1 << 22, COLS = 256 };
	float z[COLS];
	size_t n3 = 0, n4 = 0, n5 = 0;
	float zmax = 0;
	xb_stream s;

	xb_stream_init(&s, 8128, 0, 5);
	for (size_t k = 0; k < N / COLS; k++) {
		xb_stream_normals(&s, XB_DRAW_READ, k, 0, 0, z, COLS);
		for (size_t c = 0; c < COLS; c++) {
			float a = fabsf(z[c]);

			n3 += a > 3;
			n4 += a > 4;
			n5 += a > 5;
			zmax = a > zmax ? a : zmax;
		}
	}
	ck_assert_msg(fabs((double)n3 - 11324.4) < 5 * 106.4, "|z| > 3: %zu", n3);
	ck_assert_msg(fabs((double)n4 - 265.7) < 5 * 16.3, "|z| > 4: %zu", n4);
	ck_assert_msg(n5 < 15, "|z| > 5: %zu", n5);
	ck_assert(zmax < 6.33796f);
}
END_TEST

START_TEST(test_normal_moments)
{
	/* 2^20 deviates: mean (SE 0.001), variance (SE 0.0014), skewness (SE 0.0024),
	 * excess kurtosis (SE 0.0048); bounds at 5 standard errors.  Uniforms: mean 1/2
	 * (SE 0.00028), all in (0, 1). */
	enum { N = 1 << 20 };
	float *z = malloc(N * sizeof *z), *u = malloc(N * sizeof *u);
	double m1 = 0, m2 = 0, m3 = 0, m4 = 0, um = 0;
	xb_stream s;

	xb_stream_init(&s, 2385, 1, 2);
	xb_stream_normals(&s, XB_DRAW_READ, 0, 0, 0, z, N);
	xb_stream_uniforms(&s, XB_DRAW_READ, 0, 0, 0, u, N);
	for (size_t i = 0; i < N; i++) {
		double x = z[i];

		m1 += x;
		m2 += x * x;
		m3 += x * x * x;
		m4 += x * x * x * x;
		um += u[i];
		ck_assert(u[i] > 0 && u[i] < 1);
	}
	m1 /= N;
	m2 /= N;
	m3 /= N;
	m4 /= N;
	um /= N;
	ck_assert_msg(fabs(m1) < 0.005, "mean %g", m1);
	ck_assert_msg(fabs(m2 - 1) < 0.007, "variance %g", m2);
	ck_assert_msg(fabs(m3) < 0.012, "skewness %g", m3);
	ck_assert_msg(fabs(m4 - 3) < 0.024, "kurtosis %g", m4);
	ck_assert_msg(fabs(um - 0.5) < 0.0014, "uniform mean %g", um);
	free(z);
	free(u);
}
END_TEST

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

START_TEST(test_normal_distribution)
{
	/* 2^20 deviates of the read stream (as the tile draws them: a = conversion, b =
	 * column, 256 columns per sample) against N(0, 1).
	 * Kolmogorov-Smirnov: D = max |F_n - Phi|; P(sqrt(n) D > 1.95) = 0.001 for a true
	 * N(0, 1) (Kolmogorov distribution), so D < 1.95 / 1024 = 0.0019.  The deviates'
	 * own resolution (p on a 2^-31 grid, the inverse CDF's 1.2e-6 error) shifts F by
	 * < 1e-6: far below that bound.
	 * Chi-square over 10 bins with edges -4 -3 -2 -1 0 1 2 3 4 (the tails beyond 4
	 * hold 6.3e-5 of the mass: 66 expected per side), expected counts n (Phi(b) -
	 * Phi(a)): 9 degrees of freedom, P(chi2 > 27.88) = 0.001. */
	enum { N = 1 << 20, COLS = 256 };
	static const double edges[9] = { -4, -3, -2, -1, 0, 1, 2, 3, 4 };
	float *z = malloc(N * sizeof *z);
	double d = 0, chi2 = 0;
	size_t count[10] = { 0 };
	xb_stream s;

	ck_assert_ptr_nonnull(z);
	xb_stream_init(&s, 4711, 3, 1);
	for (size_t k = 0; k < N / COLS; k++)
		xb_stream_normals(&s, XB_DRAW_READ, 1000 + k, (uint32_t)(k % 3), 0, z + k * COLS, COLS);
	for (size_t i = 0; i < N; i++) {
		int bin = 0;

		while (bin < 9 && z[i] >= edges[bin])
			bin++;
		count[bin]++;
	}
	for (int b = 0; b < 10; b++) {
		double lo = b ? 0.5 * erfc(-edges[b - 1] / M_SQRT2) : 0;
		double hi = b < 9 ? 0.5 * erfc(-edges[b] / M_SQRT2) : 1;
		double e = N * (hi - lo);

		chi2 += ((double)count[b] - e) * ((double)count[b] - e) / e;
	}
	ck_assert_msg(chi2 < 27.88, "chi-square %g over 10 bins (9 dof)", chi2);
	qsort(z, N, sizeof *z, cmp_float);
	for (size_t i = 0; i < N; i++) {
		double f = 0.5 * erfc(-(double)z[i] / M_SQRT2);
		double dl = f - (double)i / N, dh = (double)(i + 1) / N - f;

		d = dl > d ? dl : d;
		d = dh > d ? dh : d;
	}
	ck_assert_msg(d < 1.95 / 1024, "Kolmogorov-Smirnov D = %g (bound 0.0019)", d);
	free(z);
}
END_TEST

START_TEST(test_stream_independence)
{
	/* Different seeds, chips, tiles, purposes, samples and a give different values;
	 * the correlation of two streams over 65536 values is below 5 / sqrt(65536). */
	enum { N = 65536 };
	float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
	xb_stream s1, s2;
	double c = 0;

	xb_stream_init(&s1, 1, 0, 0);
	xb_stream_init(&s2, 1, 0, 1);
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s2, XB_DRAW_READ, 0, 0, 0));
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s1, XB_DRAW_EVENT, 0, 0, 0));
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s1, XB_DRAW_READ, 1, 0, 0));
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s1, XB_DRAW_READ, 0, 1, 0));
	xb_stream_init(&s2, 2, 0, 0);
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s2, XB_DRAW_READ, 0, 0, 0));
	xb_stream_init(&s2, 1, 1, 0);
	ck_assert(xb_stream_normal(&s1, XB_DRAW_READ, 0, 0, 0) != xb_stream_normal(&s2, XB_DRAW_READ, 0, 0, 0));
	/* Same address, same value: a second init gives the same keys. */
	xb_stream_init(&s2, 1, 0, 0);
	ck_assert_int_eq(memcmp(&s1, &s2, sizeof s1), 0);
	xb_stream_normals(&s1, XB_DRAW_READ, 5, 0, 0, a, N);
	xb_stream_normals(&s1, XB_DRAW_READ, 6, 0, 0, b, N);
	for (size_t i = 0; i < N; i++)
		c += (double)a[i] * b[i];
	ck_assert_msg(fabs(c / N) < 5.0 / 256, "correlation %g", c / N);
	free(a);
	free(b);
}
END_TEST

/* ---- types and registry ------------------------------------------------------------------- */

START_TEST(test_registry)
{
	static const char *const names[] = { "read", "event", "fpn_gain", "fpn_offset",
					     "fpn_synapse", "fpn_saturation", "programming",
					     "drift", "device_read", "stuck" };
	const xb_noise_type *const *all = xb_noise_types();
	xb_noise_params p = xb_noise_default_params();
	unsigned char state[256];
	size_t n = 0;

	ck_assert(xb_noise_state_max() <= sizeof state);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const xb_noise_type *t = xb_noise_type_find(names[i]);

		ck_assert_msg(t != NULL, "type %s", names[i]);
		ck_assert_str_eq(t->name, names[i]);
		ck_assert_ptr_nonnull(t->key);
		ck_assert_ptr_nonnull(t->init);
	}
	while (all[n])
		n++;
	ck_assert_uint_eq(n, 10);
	ck_assert_ptr_null(xb_noise_type_find("nonsense"));
	ck_assert_ptr_null(xb_noise_type_find(NULL));
	ck_assert_ptr_eq(xb_noise_type_find("read"), xb_noise_read);
	/* Stuck-at faults come after the other device types (they override them). */
	for (size_t i = 0; all[i]; i++)
		if (all[i] == xb_noise_stuck)
			for (size_t j = i + 1; all[j]; j++)
				ck_assert(all[j]->stage != XB_NOISE_DEVICE);
	/* hx defaults: read noise 2 LSB on, everything else off; enable = false: all off. */
	ck_assert_int_eq(xb_noise_read->init(state, &p), 1);
	ck_assert(xb_noise_read->magnitude(state) == 2.0);
	ck_assert_int_eq(xb_noise_event->init(state, &p), 0);
	ck_assert_int_eq(xb_noise_fpn_gain->init(state, &p), 0);
	p.enable = 0;
	ck_assert_int_eq(xb_noise_read->init(state, &p), 0);
	/* Drift needs time: nu > 0 at t = 0 changes nothing. */
	p.enable = 1;
	p.drift = 0.05;
	ck_assert_int_eq(xb_noise_drift->init(state, &p), 0);
	p.drift_time_s = 1;
	ck_assert_int_eq(xb_noise_drift->init(state, &p), 1);
}
END_TEST

START_TEST(test_keys)
{
	static const char *const names[] = {
		"noise.read_lsb", "noise.event_lsb", "noise.fpn_gain", "noise.fpn_offset_lsb",
		"noise.fpn_synapse", "noise.fpn_saturation_lsb", "noise.programming", "noise.drift",
		"noise.stuck_min", "noise.stuck_max", "noise.enable", "noise.device",
		"noise.drift_time_s", "noise.drift_std", "noise.device_read",
	};
	xb_config *cfg;
	xb_noise_params p, d = xb_noise_default_params();
	xb_err err;

	xb_noise_register_keys();
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		ck_assert_msg(xb_config_key(names[i]) != NULL, "key %s", names[i]);
	cfg = xb_config_new();
	ck_assert_int_eq(xb_noise_params_from_config(cfg, &p, &err), XB_OK);
	ck_assert(p.enable == d.enable && p.read_lsb == d.read_lsb && p.event_lsb == d.event_lsb &&
		  p.device == d.device && p.stuck_min == d.stuck_min);
	ck_assert_int_eq(xb_config_set(cfg, "noise.device", "pcm", "-s"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "noise.stuck_min", "0.6", "-s"), XB_OK);
	ck_assert_int_eq(xb_config_set(cfg, "noise.stuck_max", "0.6", "-s"), XB_OK);
	ck_assert_int_eq(xb_noise_params_from_config(cfg, &p, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "noise.stuck_min"));
	ck_assert_int_eq(xb_config_set(cfg, "noise.stuck_max", "0.1", "-s"), XB_OK);
	ck_assert_int_eq(xb_noise_params_from_config(cfg, &p, &err), XB_OK);
	ck_assert(p.device == XB_DEVICE_PCM);
	/* Negative magnitudes are refused by the key ranges. */
	ck_assert_int_ne(xb_config_set(cfg, "noise.read_lsb", "-1", "-s"), XB_OK);
	xb_config_free(cfg);
	p = d;
	p.read_lsb = NAN;
	ck_assert_int_eq(xb_noise_params_check(&p, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "noise.read_lsb"));
}
END_TEST

/* ---- PCM closed forms -------------------------------------------------------------------------- */

START_TEST(test_pcm_closed_forms)
{
	double mu, sd;

	/* sigma_prog(g = 1) = 0.26348 + 1.9650 - 1.1731 = 1.05538 uS at gmax 25 uS;
	 * g = 0.5: 0.26348 + 0.98250 - 0.293275 = 0.952705; gmax 50 doubles it. */
	ck_assert(fabs(xb_pcm_prog_sigma_us(25, 25) - 1.05538) < 1e-12);
	ck_assert(fabs(xb_pcm_prog_sigma_us(12.5, 25) - 0.952705) < 1e-12);
	ck_assert(fabs(xb_pcm_prog_sigma_us(25, 50) - 2 * 0.952705) < 1e-12);
	/* Drift at g = 1: ln 1 = 0, mu = clip(0.0244) = 0.049, sigma = clip(-0.0059) = 0.008.
	 * g = 0.01: mu = 0.0155 * 4.60517 + 0.0244 = 0.095780, sigma = 0.0125 * 4.60517 -
	 * 0.0059 = 0.051565 -> clipped to 0.045. */
	xb_pcm_drift_params(1.0, &mu, &sd);
	ck_assert(fabs(mu - 0.049) < 1e-12 && fabs(sd - 0.008) < 1e-12);
	xb_pcm_drift_params(0.01, &mu, &sd);
	ck_assert(fabs(mu - (0.0155 * log(100) + 0.0244)) < 1e-12 && fabs(sd - 0.045) < 1e-12);
	/* Drift factor after one day, nu 0.05: ((86400 + 20) / 20)^-0.05 = 0.65836. */
	ck_assert(fabs(xb_pcm_drift_factor(0.05, 86400) - pow(4321.0, -0.05)) < 1e-12);
	ck_assert(xb_pcm_drift_factor(0.1, 0) == 1.0);
	/* Read noise at g = 1, one hour: Qs = 0.0088, sqrt(ln((3600 + 20 + 2.5e-7) / 5e-7))
	 * = sqrt(22.7027) = 4.7647 -> 0.041930; g = 0.001: Qs = min(0.0088 / 0.001^0.65,
	 * 0.2) = 0.2. */
	ck_assert(fabs(xb_pcm_read_sigma(1.0, 3600) - 0.0088 * sqrt(log(3620.00000025 / 5e-7))) < 1e-12);
	ck_assert(fabs(xb_pcm_read_sigma(0.001, 3600) - 0.2 * sqrt(log(3620.00000025 / 5e-7))) < 1e-12);
}
END_TEST

/* Run the DEVICE sources in force for P on N devices of relative conductance G0. */
static void devices_run(const xb_noise_params *p, float g0, size_t rows, size_t cols, float *g)
{
	const xb_noise_type *const *all = xb_noise_types();
	size_t n = 2 * rows * cols;
	float *t = malloc(n * sizeof *t), *gp = malloc(n * sizeof *gp);
	xb_noise_devices d = { rows, cols, t, gp, g, 25.0, 0 };
	unsigned char state[256];
	xb_stream s;

	xb_stream_init(&s, 7, 0, 0);
	for (size_t i = 0; i < n; i++)
		t[i] = gp[i] = g[i] = g0;
	for (size_t i = 0; all[i]; i++)
		if (all[i]->stage == XB_NOISE_DEVICE && all[i]->init(state, p))
			all[i]->device(state, &s, &d);
	free(t);
	free(gp);
}

static void moments(const float *x, size_t n, double *mean, double *sd)
{
	double m = 0, v = 0;

	for (size_t i = 0; i < n; i++)
		m += x[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		v += (x[i] - m) * (x[i] - m);
	*mean = m;
	*sd = sqrt(v / (double)(n - 1));
}

START_TEST(test_pcm_statistics)
{
	/* 2 x 128 x 256 = 65536 devices at g = 0.6 (15 uS):
	 *   programming: std = sigma_prog(15 uS) / 25 = (0.26348 + 1.179 - 0.422316) / 25
	 *   = 0.040807 (relative SE of a std from 65536 draws: 0.28 %; allow 2 %), mean 0.6
	 *   (SE 0.00016; allow 0.001);
	 *   drift only, one day: mean of ln(g / 0.6) = -E|nu| ln(4321), nu ~ N(mu, sd) with
	 *   mu = 0.049 (clipped: -0.0155 ln 0.6 + 0.0244 = 0.0323), sd = 0.008 (clipped),
	 *   E|nu| = mu for mu >> sd; SE of the mean 0.008 ln(4321) / 256 = 0.00026; allow
	 *   0.0015. */
	xb_noise_params p = xb_noise_default_params();
	size_t n = 2 * 128 * 256;
	float *g = malloc(n * sizeof *g), *lg = malloc(n * sizeof *lg);
	double mean, sd, expect = xb_pcm_prog_sigma_us(15, 25) / 25;

	p.device = XB_DEVICE_PCM;
	p.programming = 1;
	devices_run(&p, 0.6f, 128, 256, g);
	moments(g, n, &mean, &sd);
	ck_assert(fabs(expect - 0.040807) < 1e-5);
	ck_assert_msg(fabs(mean - 0.6) < 0.001, "mean %g", mean);
	ck_assert_msg(fabs(sd / expect - 1) < 0.02, "std %g vs %g", sd, expect);
	p.programming = 0;
	p.drift = 1;
	p.drift_time_s = 86400;
	devices_run(&p, 0.6f, 128, 256, g);
	for (size_t i = 0; i < n; i++)
		lg[i] = (float)log(g[i] / 0.6);
	moments(lg, n, &mean, &sd);
	ck_assert_msg(fabs(mean + 0.049 * log(4321.0)) < 0.0015, "mean log drift %g", mean);
	ck_assert_msg(fabs(sd / (0.008 * log(4321.0)) - 1) < 0.03, "sd log drift %g", sd);
	/* 1/f read noise only (drift scale 0): relative std = xb_pcm_read_sigma(0.6, t). */
	p.drift = 0;
	p.device_read = 1;
	devices_run(&p, 0.6f, 128, 256, g);
	moments(g, n, &mean, &sd);
	expect = 0.6 * xb_pcm_read_sigma(0.6, 86400);
	ck_assert_msg(fabs(sd / expect - 1) < 0.02, "read std %g vs %g", sd, expect);
	free(g);
	free(lg);
}
END_TEST

START_TEST(test_generic_statistics)
{
	/* Generic programming noise 0.05 of gmax at g = 0.5: std 0.05 (allow 2 %); stuck
	 * faults 1 % at 0 and 2 % at gmax: counts binomial, 655 and 1311 expected of 65536,
	 * allow 5 standard errors (128, 179). */
	xb_noise_params p = xb_noise_default_params();
	size_t n = 2 * 128 * 256, lo = 0, hi = 0;
	float *g = malloc(n * sizeof *g);
	double mean, sd;

	p.programming = 0.05;
	devices_run(&p, 0.5f, 128, 256, g);
	moments(g, n, &mean, &sd);
	ck_assert_msg(fabs(sd / 0.05 - 1) < 0.02, "std %g", sd);
	p.programming = 0;
	p.stuck_min = 0.01;
	p.stuck_max = 0.02;
	devices_run(&p, 0.5f, 128, 256, g);
	for (size_t i = 0; i < n; i++) {
		lo += g[i] == 0.0f;
		hi += g[i] == 1.0f;
		ck_assert(g[i] == 0.0f || g[i] == 1.0f || g[i] == 0.5f);
	}
	ck_assert_msg(labs((long)lo - 655) < 128, "stuck at 0: %zu", lo);
	ck_assert_msg(labs((long)hi - 1311) < 179, "stuck at gmax: %zu", hi);
	free(g);
}
END_TEST

START_TEST(test_fixed_hooks)
{
	/* FIXED sources add deviates of their magnitude to the arrays: per-column gain std
	 * 0.1 over 4096 columns (relative SE of the std 1.1 %, allow 6 %), saturation limits
	 * drawn independently for lo and hi, per-synapse eta. */
	xb_noise_params p = xb_noise_default_params();
	enum { C = 4096, R = 3 };
	float *gain = calloc(C, sizeof *gain), *off = calloc(C, sizeof *off);
	float *lo = calloc(C, sizeof *lo), *hi = calloc(C, sizeof *hi), *eta = calloc(R * C, sizeof *eta);
	xb_noise_fixed fx = { R, C, gain, off, lo, hi, eta };
	unsigned char state[256];
	double mean, sd;
	xb_stream s;

	xb_stream_init(&s, 3, 0, 0);
	p.fpn_gain = 0.1;
	p.fpn_saturation_lsb = 4;
	p.fpn_synapse = 0.02;
	ck_assert(xb_noise_fpn_gain->init(state, &p));
	xb_noise_fpn_gain->fixed(state, &s, &fx);
	moments(gain, C, &mean, &sd);
	ck_assert_msg(fabs(sd / 0.1 - 1) < 0.06, "gain std %g", sd);
	ck_assert(xb_noise_fpn_saturation->init(state, &p));
	xb_noise_fpn_saturation->fixed(state, &s, &fx);
	moments(hi, C, &mean, &sd);
	ck_assert_msg(fabs(sd / 4 - 1) < 0.06, "sat std %g", sd);
	ck_assert(lo[0] != hi[0]);
	ck_assert(xb_noise_fpn_synapse->init(state, &p));
	xb_noise_fpn_synapse->fixed(state, &s, &fx);
	moments(eta + 2 * C, C, &mean, &sd);
	ck_assert_msg(fabs(sd / 0.02 - 1) < 0.06, "eta std %g", sd);
	ck_assert(eta[0] != eta[C]);   /* rows differ */
	free(gain);
	free(off);
	free(lo);
	free(hi);
	free(eta);
}
END_TEST

START_TEST(test_temporal_scale)
{
	/* Temporal hooks: V += magnitude N(0, 1), or SCALE[b] N(0, 1) per column; a scale of 0
	 * adds nothing. */
	xb_noise_params p = xb_noise_default_params();
	unsigned char state[256];
	float v[8] = { 0 }, z[8], scale[8] = { 0, 1, 2, 3, 0, 1, 2, 3 };
	xb_stream s;

	xb_stream_init(&s, 9, 0, 0);
	p.read_lsb = 2;
	ck_assert(xb_noise_read->init(state, &p));
	xb_stream_normals(&s, XB_DRAW_READ, 4, 1, 0, z, 8);
	xb_noise_read->temporal(state, &s, 4, 1, NULL, v, 8);
	for (int i = 0; i < 8; i++)
		ck_assert(v[i] == 2.0f * z[i]);
	memset(v, 0, sizeof v);
	xb_noise_read->temporal(state, &s, 4, 1, scale, v, 8);
	for (int i = 0; i < 8; i++)
		ck_assert(v[i] == scale[i] * z[i]);
	p.event_lsb = 0.5;
	ck_assert(xb_noise_event->init(state, &p));
	memset(v, 0, sizeof v);
	xb_noise_event->temporal(state, &s, 4, 1, NULL, v, 8);
	xb_stream_normals(&s, XB_DRAW_EVENT, 4, 1, 0, z, 8);
	for (int i = 0; i < 8; i++)
		ck_assert(v[i] == 0.5f * z[i]);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------------- */

START_TEST(test_stream_limits)
{
	/* Empty and tiny fills, the largest sample and a, a large offset. */
	xb_stream s;
	float z[5] = { 7, 7, 7, 7, 7 };

	xb_stream_init(&s, UINT64_MAX, UINT32_MAX, UINT32_MAX);
	xb_stream_normals(&s, XB_DRAW_READ, UINT64_MAX, UINT32_MAX, 0, z, 0);
	ck_assert(z[0] == 7);                       /* n = 0 writes nothing */
	xb_stream_normals(&s, XB_DRAW_READ, UINT64_MAX, UINT32_MAX, 4000000000u, z, 3);
	for (uint32_t b = 0; b < 3; b++)
		ck_assert(z[b] == (float)xb_stream_normal(&s, XB_DRAW_READ, UINT64_MAX, UINT32_MAX,
							     4000000000u + b));
	ck_assert(z[3] == 7);                       /* nothing past n */
	ck_assert(isfinite(z[0]) && fabs(z[0]) < 6);
}
END_TEST

START_TEST(test_device_limits)
{
	/* Every device stuck at 0; huge programming noise never gives negative conductance;
	 * zero conductance stays 0 under drift and read noise (both relative); PCM forms at
	 * g = 0 stay finite (log clipped at 1e-6: mu -> 0.1, sigma -> 0.045). */
	xb_noise_params p = xb_noise_default_params();
	size_t n = 2 * 4 * 64;
	float g[2 * 4 * 64];
	double mu, sd;

	p.stuck_min = 1;
	devices_run(&p, 0.5f, 4, 64, g);
	for (size_t i = 0; i < n; i++)
		ck_assert(g[i] == 0.0f);
	p.stuck_min = 0;
	p.programming = 10;
	devices_run(&p, 0.5f, 4, 64, g);
	for (size_t i = 0; i < n; i++)
		ck_assert(g[i] >= 0.0f);
	p.programming = 0;
	p.device = XB_DEVICE_PCM;
	p.drift = 1;
	p.device_read = 1;
	p.drift_time_s = 1e9;
	devices_run(&p, 0.0f, 4, 64, g);
	for (size_t i = 0; i < n; i++)
		ck_assert(g[i] == 0.0f);
	xb_pcm_drift_params(0.0, &mu, &sd);
	ck_assert(mu == 0.1 && sd == 0.045);
	ck_assert(isfinite(xb_pcm_read_sigma(0.0, 0.0)));
	/* Every source off with enable = false, whatever the magnitudes. */
	p.enable = 0;
	p.programming = 1;
	devices_run(&p, 0.25f, 4, 64, g);
	for (size_t i = 0; i < n; i++)
		ck_assert(g[i] == 0.25f);
}
END_TEST

static Suite *noise_suite(void)
{
	Suite *s = suite_create("noise");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_philox_kat);
	tcase_add_test(core, test_vector_equals_scalar);
	tcase_add_test(core, test_ars_kat);
	tcase_add_test(core, test_icdf_accuracy);
	tcase_add_test(core, test_normal_tails);
	tcase_add_test(core, test_normal_moments);
	tcase_add_test(core, test_normal_distribution);
	tcase_add_test(core, test_stream_independence);
	tcase_add_test(core, test_registry);
	tcase_add_test(core, test_keys);
	tcase_add_test(core, test_pcm_closed_forms);
	tcase_add_test(core, test_pcm_statistics);
	tcase_add_test(core, test_generic_statistics);
	tcase_add_test(core, test_fixed_hooks);
	tcase_add_test(core, test_temporal_scale);
	tcase_add_test(limits, test_stream_limits);
	tcase_add_test(limits, test_device_limits);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(noise_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
