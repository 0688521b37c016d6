/* stream.c - counter-based random streams (Philox-4x32-10) and their uniform and normal deviates.
 * The address of every value is (seed, chip, tile, purpose, sample, a, b); see xb_noise.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_noise.h"

#include <math.h>
#include <string.h>

#include <Random123/philox.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Blocks are produced in groups of GROUP into small buffers (structure of arrays), so
 * that the block loops vectorise and a partial group at the end is handled once. */
#define GROUP 64

/* Words of the fourth counter word used when deriving the per-purpose keys ("xbrs"). */
#define KEY_TAG 0x78627273u

void xb_stream_init(xb_stream *s, uint64_t seed, uint32_t chip, uint32_t tile)
{
	philox4x32_key_t k = { { (uint32_t)seed, (uint32_t)(seed >> 32) } };

	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->chip = chip;
	s->tile = tile;
	for (uint32_t p = 0; p < XB_DRAW_COUNT; p++) {
		philox4x32_ctr_t c = { { chip, tile, p, KEY_TAG } };
		philox4x32_ctr_t r = philox4x32_R(10, c, k);

		s->key[p][0] = r.v[0];
		s->key[p][1] = r.v[1];
	}
}

/* Philox-4x32-10 written out so that loops over blocks vectorise (Random123's own
 * function is not inlined into them); the constants are Random123's and the result
 * is checked against philox4x32_R and Random123's known-answer vectors in the tests. */
static inline void philox10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
			    uint32_t k0, uint32_t k1, uint32_t *o0, uint32_t *o1, uint32_t *o2,
			    uint32_t *o3)
{
#pragma GCC unroll 10
	for (int round = 0; round < 10; round++) {
		uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c0, p1 = (uint64_t)PHILOX_M4x32_1 * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
		uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;

		c0 = n0;
		c1 = n1;
		c2 = n2;
		c3 = n3;
		k0 += PHILOX_W32_0;
		k1 += PHILOX_W32_1;
	}
	*o0 = c0;
	*o1 = c1;
	*o2 = c2;
	*o3 = c3;
}

typedef struct blk4 { uint32_t v[4]; } blk4;

static inline blk4 block(const uint32_t key[2], uint64_t sample, uint32_t a, uint32_t blk)
{
	blk4 r;

	philox10(blk, a, (uint32_t)sample, (uint32_t)(sample >> 32), key[0], key[1],
		 &r.v[0], &r.v[1], &r.v[2], &r.v[3]);
	return r;
}

void xb_stream_block(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		     uint32_t blk, uint32_t out[4])
{
	blk4 r = block(s->key[p], sample, a, blk);

	memcpy(out, r.v, sizeof r.v);
}

static void words_group(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
			uint32_t w[4][GROUP]);

/* ---- single-precision transforms (identical in scalar and vectorised loops) -------- */

/* Uniform in (0, 1) from the top 23 bits of W: (k + 1/2) 2^-23 is exact in single
 * precision for every k, so 0 and 1 are never reached. */
static inline float u01(uint32_t w)
{
	return ((float)(w >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

static inline uint32_t f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* -2 ln(u) for u in (0, 1): u = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = f P(f)
 * with f = m - 1 and P a degree-7 least-squares fit of ln(1 + f) / f on that range
 * (error < 8e-8 in single precision; no division, so it vectorises cheaply). */
static inline float minus2ln(float u)
{
	uint32_t i = f2u(u);
	int e = (int)((i >> 23) & 0xff) - 127;
	float m = u2f((i & 0x7fffffu) | 0x3f800000u);
	uint32_t big = m > 1.41421356f;

	m = u2f(f2u(m) - (big << 23));   /* halve without a branch (vectorises) */
	e += (int)big;
	float f = m - 1.0f;
	float pf = -1.013417889e-01f;

	pf = pf * f + 1.623438145e-01f;
	pf = pf * f - 1.724705072e-01f;
	pf = pf * f + 1.989854493e-01f;
	pf = pf * f - 2.497006742e-01f;
	pf = pf * f + 3.333511467e-01f;
	pf = pf * f - 5.000036317e-01f;
	pf = pf * f + 9.999999425e-01f;
	return -2.0f * (f * pf + (float)e * 0.693147181f);
}

/* cos and sin of 2 pi u: quarter turns q = round(4 u), remainder phi in [-pi/4, pi/4]
 * by degree 8/9 Taylor polynomials (error < 3e-8), then rotated by q quarter turns. */
static inline void sincos2pi(float u, float *cs, float *sn)
{
	float t = 4.0f * u;
	int q = (int)(t + 0.5f);
	float f = (t - (float)q) * 1.57079633f, z = f * f;
	float s = f * (1.0f - z * (1.0f / 6 - z * (1.0f / 120 - z * (1.0f / 5040 - z * (1.0f / 362880)))));
	float c = 1.0f - z * (0.5f - z * (1.0f / 24 - z * (1.0f / 720 - z * (1.0f / 40320))));
	uint32_t odd = 0u - (uint32_t)(q & 1);   /* selects and sign flips by bit masks */
	uint32_t a = (f2u(s) & odd) | (f2u(c) & ~odd), b = (f2u(c) & odd) | (f2u(s) & ~odd);

	*cs = u2f(a ^ ((uint32_t)((q + 1) & 2) << 30));
	*sn = u2f(b ^ ((uint32_t)(q & 2) << 30));
}

/* The four normal deviates of a block W0..W3. */
static inline void box_muller(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
			      float *z0, float *z1, float *z2, float *z3)
{
	float r0 = sqrtf(minus2ln(u01(w0))), r1 = sqrtf(minus2ln(u01(w2)));
	float c0, s0, c1, s1;

	sincos2pi(u01(w1), &c0, &s0);
	sincos2pi(u01(w3), &c1, &s1);
	*z0 = r0 * c0;
	*z1 = r0 * s0;
	*z2 = r1 * c1;
	*z3 = r1 * s1;
}

double xb_stream_uniform(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b)
{
	blk4 r = block(s->key[p], sample, a, b >> 2);

	return u01(r.v[b & 3]);
}

uint32_t xb_stream_u32(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b)
{
	return block(s->key[p], sample, a, b >> 2).v[b & 3];
}

double xb_stream_normal(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t b)
{
	blk4 r = block(s->key[p], sample, a, b >> 2);
	float z[4];

	box_muller(r.v[0], r.v[1], r.v[2], r.v[3], &z[0], &z[1], &z[2], &z[3]);
	return z[b & 3];
}

/* OUT[4 i + l] = BUF[l][i] for 4 i + l < M. */
static inline void interleave(float buf[4][GROUP], float *out, size_t m)
{
	if (m == 4 * GROUP) {
		for (size_t i = 0; i < GROUP; i++) {
			out[4 * i] = buf[0][i];
			out[4 * i + 1] = buf[1][i];
			out[4 * i + 2] = buf[2][i];
			out[4 * i + 3] = buf[3][i];
		}
	} else {
		for (size_t j = 0; j < m; j++)
			out[j] = buf[j & 3][j >> 2];
	}
}

/* Blocks are produced in groups of GROUP into a small buffer, so that the block loop
 * vectorises (structure of arrays) and the partial block at the end is handled once. */

void xb_stream_uniforms(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
			uint32_t b0_first, float *out, size_t n)
{
	for (size_t b0 = 0; b0 < n; b0 += 4 * GROUP) {
		uint32_t w[4][GROUP];
		float buf[4][GROUP];
		size_t m = n - b0 < 4 * GROUP ? n - b0 : 4 * GROUP;

		words_group(s->key[p], sample, a, (uint32_t)((b0_first + b0) >> 2), w);
		for (int l = 0; l < 4; l++)
			for (size_t i = 0; i < GROUP; i++)
				buf[l][i] = u01(w[l][i]);
		interleave(buf, out + b0, m);
	}
}

/* W[lane][i] = word LANE of block FIRST + i, i < GROUP. */
static void words_group(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
			uint32_t w[4][GROUP])
{
#if defined(__AVX512F__)
	/* 16 blocks per vector, the GROUP / 16 vectors of the group interleaved round by
	 * round (independent chains hide the multiplier latency); the 32x32->64 products
	 * by vpmuludq on even and odd lanes. */
	enum { NV = GROUP / 16 };
	const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M4x32_0), m1 = _mm512_set1_epi32((int)PHILOX_M4x32_1);
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __mmask16 odd = 0xAAAA, even = 0x5555;
	__m512i c0[NV], c1[NV], c2[NV], c3[NV];
	uint32_t k0 = key[0], k1 = key[1];

#pragma GCC unroll 4
	for (int j = 0; j < NV; j++) {
		c0[j] = _mm512_add_epi32(_mm512_set1_epi32((int)(first + 16 * (uint32_t)j)), iota);
		c1[j] = _mm512_set1_epi32((int)a);
		c2[j] = _mm512_set1_epi32((int)(uint32_t)sample);
		c3[j] = _mm512_set1_epi32((int)(uint32_t)(sample >> 32));
	}
	for (int round = 0; round < 10; round++) {
		const __m512i vk0 = _mm512_set1_epi32((int)k0), vk1 = _mm512_set1_epi32((int)k1);

#pragma GCC unroll 4
		for (int j = 0; j < NV; j++) {
			/* Odd lanes to even positions and back by vpshufd (the shuffle unit,
			 * not the shifter), merged under masks: hi and lo words of all 16
			 * 32x32 products from two vpmuludq. */
			__m512i pe0 = _mm512_mul_epu32(c0[j], m0);
			__m512i po0 = _mm512_mul_epu32(_mm512_shuffle_epi32(c0[j], _MM_PERM_CDAB), m0);
			__m512i pe1 = _mm512_mul_epu32(c2[j], m1);
			__m512i po1 = _mm512_mul_epu32(_mm512_shuffle_epi32(c2[j], _MM_PERM_CDAB), m1);
			__m512i hi0 = _mm512_mask_shuffle_epi32(po0, even, pe0, _MM_PERM_CDAB);
			__m512i hi1 = _mm512_mask_shuffle_epi32(po1, even, pe1, _MM_PERM_CDAB);
			__m512i lo0 = _mm512_mask_shuffle_epi32(pe0, odd, po0, _MM_PERM_CDAB);
			__m512i lo1 = _mm512_mask_shuffle_epi32(pe1, odd, po1, _MM_PERM_CDAB);

			/* 0x96: three-way exclusive or */
			c0[j] = _mm512_ternarylogic_epi32(hi1, c1[j], vk0, 0x96);
			c1[j] = lo1;
			c2[j] = _mm512_ternarylogic_epi32(hi0, c3[j], vk1, 0x96);
			c3[j] = lo0;
		}
		k0 += PHILOX_W32_0;
		k1 += PHILOX_W32_1;
	}
#pragma GCC unroll 4
	for (int j = 0; j < NV; j++) {
		_mm512_storeu_si512((void *)&w[0][16 * j], c0[j]);
		_mm512_storeu_si512((void *)&w[1][16 * j], c1[j]);
		_mm512_storeu_si512((void *)&w[2][16 * j], c2[j]);
		_mm512_storeu_si512((void *)&w[3][16 * j], c3[j]);
	}
#else
#pragma omp simd
	for (uint32_t i = 0; i < GROUP; i++)
		philox10(first + i, a, (uint32_t)sample, (uint32_t)(sample >> 32), key[0], key[1],
			 &w[0][i], &w[1][i], &w[2][i], &w[3][i]);
#endif
}

/* Fill BUF[lane][i] with the normals of blocks FIRST .. FIRST + GROUP - 1. */
static void normal_group(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
			 float buf[4][GROUP])
{
	uint32_t w[4][GROUP];

	words_group(key, sample, a, first, w);
#pragma omp simd
	for (uint32_t i = 0; i < GROUP; i++)
		box_muller(w[0][i], w[1][i], w[2][i], w[3][i], &buf[0][i], &buf[1][i], &buf[2][i],
			   &buf[3][i]);
}

void xb_stream_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		       uint32_t b0_first, float *out, size_t n)
{
	for (size_t b0 = 0; b0 < n; b0 += 4 * GROUP) {
		float buf[4][GROUP];
		size_t m = n - b0 < 4 * GROUP ? n - b0 : 4 * GROUP;

		normal_group(s->key[p], sample, a, (uint32_t)((b0_first + b0) >> 2), buf);
		interleave(buf, out + b0, m);
	}
}

void xb_stream_add_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
			   uint32_t b0_first, float sigma, const float *scale, float *v, size_t n)
{
	for (size_t b0 = 0; b0 < n; b0 += 4 * GROUP) {
		float buf[4][GROUP], z[4 * GROUP];
		size_t m = n - b0 < 4 * GROUP ? n - b0 : 4 * GROUP;

		normal_group(s->key[p], sample, a, (uint32_t)((b0_first + b0) >> 2), buf);
		interleave(buf, z, m);
		if (scale)
			for (size_t j = 0; j < m; j++)
				v[b0 + j] += scale[b0 + j] * z[j];
		else
			for (size_t j = 0; j < m; j++)
				v[b0 + j] += sigma * z[j];
	}
}
