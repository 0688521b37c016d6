/* stream.c - counter-based random streams: Philox-4x32-10 words and uniforms, ARS-4x32-7 normals.
 * The address of every value is (seed, chip, tile, purpose, sample, a, b); see xb_noise.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_noise.h"

#include <math.h>
#include <string.h>

#include <Random123/philox.h>

#if defined(__AVX512F__) || defined(__AES__)
#include <immintrin.h>
#endif

/* Blocks are produced in groups of GROUP into small buffers (structure of arrays), so
 * that the block loops vectorise and a partial group at the end is handled once. */
#define GROUP 64

/* Words of the fourth counter word used when deriving the per-purpose keys ("xbrs"). */
#define KEY_TAG 0x78627273u
/* ... and of the normals' ARS keys ("xbrn"). */
#define NKEY_TAG 0x7862726eu

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
		c.v[3] = NKEY_TAG;
		r = philox4x32_R(10, c, k);
		memcpy(s->nkey[p], r.v, sizeof s->nkey[p]);
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

/* ---- uniforms ---------------------------------------------------------------------- */

/* Uniform in (0, 1) from the top 23 bits of W: (k + 1/2) 2^-23 is exact in single
 * precision for every k, so 0 and 1 are never reached. */
static inline float u01(uint32_t w)
{
	return ((float)(w >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

static inline float u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* ---- ARS-4x32-7: the words behind the normal deviates ------------------------------ */

/* Random123's ARS-4x32 with 7 rounds: v = c ^ k, six AES rounds (aesenc) and a last
 * one (aesenclast) with the round keys k + i (golden ratio, sqrt(3) - 1) added as two
 * 64-bit halves.  This portable version is the reference (the single-value calls use
 * it); the fills use AES-NI / VAES where built, and the tests check both against each
 * other and against Random123's ars4x32_R. */

/* The AES S-box (FIPS-197), generated from its definition: the inverse in GF(2^8)
 * modulo x^8 + x^4 + x^3 + x + 1 followed by the affine map with constant 0x63. */
static const uint8_t sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b,
	0xfe, 0xd7, 0xab, 0x76, 0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0,
	0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0, 0xb7, 0xfd, 0x93, 0x26,
	0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2,
	0xeb, 0x27, 0xb2, 0x75, 0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0,
	0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84, 0x53, 0xd1, 0x00, 0xed,
	0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f,
	0x50, 0x3c, 0x9f, 0xa8, 0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5,
	0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2, 0xcd, 0x0c, 0x13, 0xec,
	0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14,
	0xde, 0x5e, 0x0b, 0xdb, 0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c,
	0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79, 0xe7, 0xc8, 0x37, 0x6d,
	0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f,
	0x4b, 0xbd, 0x8b, 0x8a, 0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e,
	0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e, 0xe1, 0xf8, 0x98, 0x11,
	0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f,
	0xb0, 0x54, 0xbb, 0x16
};

static inline uint8_t xtime(uint8_t b)
{
	return (uint8_t)((b << 1) ^ ((b & 0x80) ? 0x1b : 0));
}

/* One AES round on the 16 bytes S (AES column-major state, byte i of the 128-bit
 * lane): ShiftRows, SubBytes, MixColumns unless LAST, then the round key RK. */
static void aes_round(uint8_t s[16], const uint8_t rk[16], int last)
{
	uint8_t t[16];

	for (int c = 0; c < 4; c++)
		for (int r = 0; r < 4; r++)
			t[4 * c + r] = sbox[s[4 * ((c + r) & 3) + r]];
	for (int c = 0; c < 4; c++) {
		uint8_t *col = t + 4 * c, a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3];

		if (!last) {
			uint8_t all = (uint8_t)(a0 ^ a1 ^ a2 ^ a3);

			col[0] = (uint8_t)(a0 ^ all ^ xtime((uint8_t)(a0 ^ a1)));
			col[1] = (uint8_t)(a1 ^ all ^ xtime((uint8_t)(a1 ^ a2)));
			col[2] = (uint8_t)(a2 ^ all ^ xtime((uint8_t)(a2 ^ a3)));
			col[3] = (uint8_t)(a3 ^ all ^ xtime((uint8_t)(a3 ^ a0)));
		}
	}
	for (int i = 0; i < 16; i++)
		s[i] = (uint8_t)(t[i] ^ rk[i]);
}

#define ARS_ROUNDS 7
#define ARS_WEYL_LO 0x9E3779B97F4A7C15ull   /* golden ratio */
#define ARS_WEYL_HI 0xBB67AE8584CAA73Bull   /* sqrt(3) - 1 */

/* The round keys 0 .. ARS_ROUNDS of KEY as bytes (little-endian words). */
static void ars_keys(const uint32_t key[4], uint8_t rk[ARS_ROUNDS + 1][16])
{
	uint64_t lo = key[0] | (uint64_t)key[1] << 32, hi = key[2] | (uint64_t)key[3] << 32;

	for (int i = 0; i <= ARS_ROUNDS; i++) {
		for (int j = 0; j < 8; j++) {
			rk[i][j] = (uint8_t)(lo >> (8 * j));
			rk[i][8 + j] = (uint8_t)(hi >> (8 * j));
		}
		lo += ARS_WEYL_LO;
		hi += ARS_WEYL_HI;
	}
}

static void ars_soft(const uint32_t key[4], const uint32_t ctr[4], uint32_t out[4])
{
	uint8_t rk[ARS_ROUNDS + 1][16], v[16];

	ars_keys(key, rk);
	for (int i = 0; i < 16; i++)
		v[i] = (uint8_t)((ctr[i >> 2] >> (8 * (i & 3))) ^ rk[0][i]);
	for (int r = 1; r <= ARS_ROUNDS; r++)
		aes_round(v, rk[r], r == ARS_ROUNDS);
	for (int i = 0; i < 4; i++)
		out[i] = v[4 * i] | (uint32_t)v[4 * i + 1] << 8 | (uint32_t)v[4 * i + 2] << 16 |
			 (uint32_t)v[4 * i + 3] << 24;
}

void xb_stream_nblock(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a, uint32_t blk,
		      uint32_t out[4])
{
	const uint32_t ctr[4] = { blk, a, (uint32_t)sample, (uint32_t)(sample >> 32) };

	ars_soft(s->nkey[p], ctr, out);
}

/* ---- the inverse normal CDF ----------------------------------------------------------- */

/* |z| = Q(p) = Phi^-1(1 - p / 2) on the octave p in [2^-(e+1), 2^-e), e = 0 .. 31, as
 * sum_j ICDF[j][e] t^j with t = 2^(e+1) p - 3/2 in [-1/2, 1/2): Chebyshev interpolants
 * of degree 6 at 7 nodes of GSL's gsl_cdf_ugaussian_Qinv (double), rounded to float. */
#define ICDF_DEG 6
static const float icdf[ICDF_DEG + 1][32] __attribute__((aligned(64))) = {
	{ 0.318639368f, 0.887146533f, 1.31801093f, 1.67593968f,
	  1.98742783f, 2.26622677f, 2.52050233f, 2.75554895f,
	  2.97502065f, 3.18155956f, 3.37714601f, 3.56330776f,
	  3.74125242f, 3.91195297f, 4.07620668f, 4.23467541f,
	  4.387918f, 4.53640795f, 4.68055296f, 4.82070589f,
	  4.95717478f, 5.09023094f, 5.22011328f, 5.34703445f,
	  5.47118568f, 5.5927372f, 5.71184349f, 5.82864475f,
	  5.94326687f, 6.05582666f, 6.16642952f, 6.27517271f },
	{ -0.659298003f, -0.464415848f, -0.373417526f, -0.319054544f,
	  -0.282241702f, -0.255334526f, -0.234628126f, -0.218091398f,
	  -0.204510003f, -0.193109363f, -0.183370054f, -0.174929515f,
	  -0.167526275f, -0.160966501f, -0.155103236f, -0.149822772f,
	  -0.145035595f, -0.14067024f, -0.136668831f, -0.132983953f,
	  -0.129576385f, -0.126413316f, -0.123467118f, -0.120714307f,
	  -0.118134804f, -0.115711302f, -0.113428816f, -0.111274287f,
	  -0.109236293f, -0.107304759f, -0.105470806f, -0.103726543f },
	{ 0.0692545101f, 0.0956718475f, 0.0918926448f, 0.0853020474f,
	  0.0791597143f, 0.0738741532f, 0.0693772212f, 0.0655321777f,
	  0.0622140244f, 0.0593219958f, 0.0567774028f, 0.0545190498f,
	  0.0524990559f, 0.0506796055f, 0.0490305088f, 0.0475274138f,
	  0.0461504646f, 0.0448833071f, 0.0437123701f, 0.0426262692f,
	  0.0416154005f, 0.0406715982f, 0.0397878624f, 0.0389581695f,
	  0.0381773002f, 0.0374407023f, 0.0367443934f, 0.0360848755f,
	  0.035459049f, 0.0348641686f, 0.0342977941f, 0.0337577425f },
	{ -0.0572370775f, -0.0427706279f, -0.0386419967f, -0.0356461555f,
	  -0.0331847221f, -0.0311164726f, -0.0293566678f, -0.0278421808f,
	  -0.0265248362f, -0.0253676996f, -0.0243422575f, -0.023426285f,
	  -0.0226022713f, -0.0218562614f, -0.0211770143f, -0.0205553733f,
	  -0.0199838132f, -0.0194560923f, -0.018966984f, -0.0185120814f,
	  -0.0180876423f, -0.017690463f, -0.0173177887f, -0.0169672351f,
	  -0.0166367255f, -0.0163244419f, -0.0160287917f, -0.0157483649f,
	  -0.0154819107f, -0.0152283208f, -0.0149866026f, -0.0147558656f },
	{ 0.0189638734f, 0.0200404413f, 0.0184958447f, 0.0171587486f,
	  0.0160366204f, 0.0150866695f, 0.0142734358f, 0.0135695469f,
	  0.0129540395f, 0.0124107962f, 0.011927315f, 0.0114937974f,
	  0.0111024752f, 0.0107471189f, 0.0104226824f, 0.0101250345f,
	  0.00985076185f, 0.00959701836f, 0.00936141331f, 0.00914192107f,
	  0.0089368159f, 0.00874461606f, 0.00856404193f, 0.00839398336f,
	  0.00823347177f, 0.00808165688f, 0.00793779083f, 0.00780120958f,
	  0.00767132733f, 0.00754761836f, 0.00742961373f, 0.0073168925f },
	{ -0.0141017642f, -0.0120022502f, -0.0110757928f, -0.0103103472f,
	  -0.00966639724f, -0.00911848433f, -0.0086469911f, -0.00823689904f,
	  -0.00787670072f, -0.00755751831f, -0.00727243256f, -0.00701599149f,
	  -0.00678384909f, -0.00657250406f, -0.00637910375f, -0.0062013045f,
	  -0.00603715982f, -0.00588504178f, -0.00574357715f, -0.00561159896f,
	  -0.00548810977f, -0.00537225045f, -0.0052632778f, -0.00516054546f,
	  -0.00506348675f, -0.00497160433f, -0.00488446001f, -0.0048016645f,
	  -0.00472287182f, -0.00464777276f, -0.00457609026f, -0.00450757518f },
	{ 0.00681531196f, 0.00655198097f, 0.00606605085f, 0.00565923844f,
	  0.0053158463f, 0.00502268225f, 0.00476958463f, 0.00454878341f,
	  0.00435431721f, 0.00418157456f, 0.00402694894f, 0.00388758956f,
	  0.00376121537f, 0.00364598329f, 0.00354038738f, 0.00344318617f,
	  0.00335334684f, 0.00327000255f, 0.00319242128f, 0.00311997882f,
	  0.00305214152f, 0.00298844837f, 0.00292849983f, 0.00287194806f,
	  0.00281848805f, 0.00276785134f, 0.00271980092f, 0.00267412653f,
	  0.00263064029f, 0.00258917524f, 0.00254958076f, 0.0025117218f }
};

/* The normal deviate of word W (see xb_noise.h): sign bit 31; p = (2 (w mod 2^31) + 1)
 * 2^-32, its octave e from the leading zeros and t from the next 23 bits. */
static inline float icdf_word(uint32_t w)
{
	uint32_t v = (w << 1) | 1u;
	int e = __builtin_clz(v);
	float t = u2f(0x3f800000u | (((v << e) >> 8) & 0x7fffffu)) - 1.5f;
	float z = icdf[ICDF_DEG][e];
	uint32_t zi;

	for (int j = ICDF_DEG - 1; j >= 0; j--)
		z = fmaf(z, t, icdf[j][e]);
	memcpy(&zi, &z, sizeof zi);
	return u2f(zi ^ (w & 0x80000000u));
}

float xb_stream_normal_of_word(uint32_t w)
{
	return icdf_word(w);
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
	uint32_t w[4];

	xb_stream_nblock(s, p, sample, a, b >> 2, w);
	return icdf_word(w[b & 3]);
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

#if !(defined(__AVX512F__) && defined(__VAES__))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AES__)
#define XB_AES_DISPATCH 1   /* portable build: AES-NI chosen at run time */
#include <immintrin.h>
#endif

#if defined(__AES__) || defined(XB_AES_DISPATCH)
/* W[4 j + l] = word l of ARS block FIRST + j by AES-NI, j < GROUP. */
#if defined(XB_AES_DISPATCH)
__attribute__((target("aes,sse2")))
#endif
static void ars_words_ni(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
			 uint32_t *w)
{
	__m128i rk[ARS_ROUNDS + 1];
	__m128i k128 = _mm_loadu_si128((const __m128i *)(const void *)key);
	const __m128i weyl = _mm_set_epi64x((long long)ARS_WEYL_HI, (long long)ARS_WEYL_LO);

	for (int r = 0; r <= ARS_ROUNDS; r++) {
		rk[r] = k128;
		k128 = _mm_add_epi64(k128, weyl);
	}
	for (uint32_t j = 0; j < GROUP; j++) {
		__m128i x = _mm_xor_si128(_mm_setr_epi32((int)(first + j), (int)a, (int)(uint32_t)sample,
							 (int)(uint32_t)(sample >> 32)), rk[0]);

		for (int r = 1; r < ARS_ROUNDS; r++)
			x = _mm_aesenc_si128(x, rk[r]);
		_mm_storeu_si128((__m128i *)(void *)(w + 4 * j), _mm_aesenclast_si128(x, rk[ARS_ROUNDS]));
	}
}
#endif

static void ars_words(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
		      uint32_t *w)
{
#if defined(__AES__)
	ars_words_ni(key, sample, a, first, w);
#else
#if defined(XB_AES_DISPATCH)
	if (__builtin_cpu_supports("aes")) {
		ars_words_ni(key, sample, a, first, w);
		return;
	}
#endif
	for (uint32_t j = 0; j < GROUP; j++) {
		const uint32_t ctr[4] = { first + j, a, (uint32_t)sample, (uint32_t)(sample >> 32) };

		ars_soft(key, ctr, w + 4 * j);
	}
#endif
}
#endif

#if !(defined(__AVX512F__) && defined(__AVX512CD__))
/* OUT[i] = icdf_word(W[i]), i < 4 GROUP.  fmaf is exact in software too, so a portable
 * build also has a clone for FMA hardware (chosen at load time) with the same results. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FMA__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("default", "fma")))
#endif
static void icdf_words(const uint32_t *w, float *out)
{
	for (int i = 0; i < 4 * GROUP; i++)
		out[i] = icdf_word(w[i]);
}
#endif

/* OUT[i] = the normal deviate of value FIRST * 4 + i, i < 4 * GROUP (natural order:
 * ARS block j holds values 4 j .. 4 j + 3). */
static void normal_group(const uint32_t *key, uint64_t sample, uint32_t a, uint32_t first,
			 float out[4 * GROUP])
{
	uint32_t w[4 * GROUP] __attribute__((aligned(64)));

#if defined(__AVX512F__) && defined(__VAES__)
	/* Four blocks per vector (one per 128-bit lane), the GROUP / 4 vectors interleaved
	 * round by round. */
	enum { NV = GROUP / 4 };
	__m512i rk[ARS_ROUNDS + 1], v[NV];
	__m128i k128 = _mm_loadu_si128((const __m128i *)(const void *)key);
	const __m128i weyl = _mm_set_epi64x((long long)ARS_WEYL_HI, (long long)ARS_WEYL_LO);
	const int slo = (int)(uint32_t)sample, shi = (int)(uint32_t)(sample >> 32);
	const __m512i base = _mm512_setr_epi32(0, (int)a, slo, shi, 1, (int)a, slo, shi,
					       2, (int)a, slo, shi, 3, (int)a, slo, shi);

	for (int r = 0; r <= ARS_ROUNDS; r++) {
		rk[r] = _mm512_broadcast_i32x4(k128);
		k128 = _mm_add_epi64(k128, weyl);
	}
#pragma GCC unroll 16
	for (int j = 0; j < NV; j++)
		v[j] = _mm512_xor_si512(_mm512_add_epi32(base, _mm512_maskz_set1_epi32(
							 0x1111, (int)(first + 4 * (uint32_t)j))),
					rk[0]);
	for (int r = 1; r < ARS_ROUNDS; r++)
#pragma GCC unroll 16
		for (int j = 0; j < NV; j++)
			v[j] = _mm512_aesenc_epi128(v[j], rk[r]);
#pragma GCC unroll 16
	for (int j = 0; j < NV; j++)
		_mm512_store_si512((void *)(w + 16 * j), _mm512_aesenclast_epi128(v[j], rk[ARS_ROUNDS]));
#else
	ars_words(key, sample, a, first, w);
#endif
#if defined(__AVX512F__) && defined(__AVX512CD__)
	{
		/* icdf_word 16 lanes at a time: the octave by vplzcntd, the coefficients by
		 * permutes of the tables in registers (vpermps over the upper 16 octaves;
		 * vpermt2ps over all 32 when a lane has p < 2^-16). */
		const __m512i one = _mm512_set1_epi32(1), frac = _mm512_set1_epi32(0x7fffff);
		const __m512i fone = _mm512_set1_epi32(0x3f800000), sgn = _mm512_set1_epi32((int)0x80000000u);
		const __m512i sixteen = _mm512_set1_epi32(16);
		const __m512 half3 = _mm512_set1_ps(1.5f);
		__mmask16 tail = 0;

#define LO(j) _mm512_load_ps(icdf[j])
#define HI(j) _mm512_load_ps(icdf[j] + 16)
		/* Four vectors at a time: the Horner chains are latency bound alone. */
		for (int i = 0; i < 4 * GROUP; i += 64) {
			__m512i ww[4], e[4];
			__m512 t[4], z[4];

#pragma GCC unroll 4
			for (int q = 0; q < 4; q++) {
				__m512i vv, m;

				ww[q] = _mm512_load_si512((const void *)(w + i + 16 * q));
				vv = _mm512_or_si512(_mm512_slli_epi32(ww[q], 1), one);
				e[q] = _mm512_lzcnt_epi32(vv);
				m = _mm512_srli_epi32(_mm512_sllv_epi32(vv, e[q]), 8);
				t[q] = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, frac, fone, 0xEA)),
						     half3);
				tail |= _mm512_cmpge_epu32_mask(e[q], sixteen);
			}
			if (__builtin_expect(tail != 0, 0)) {
				/* p < 2^-16 somewhere (probability 2^-16 per lane): both tables. */
				tail = 0;
#pragma GCC unroll 4
				for (int q = 0; q < 4; q++)
					z[q] = _mm512_permutex2var_ps(LO(ICDF_DEG), e[q], HI(ICDF_DEG));
				for (int j = ICDF_DEG - 1; j >= 0; j--)
#pragma GCC unroll 4
					for (int q = 0; q < 4; q++)
						z[q] = _mm512_fmadd_ps(z[q], t[q],
								       _mm512_permutex2var_ps(LO(j), e[q], HI(j)));
			} else {
				/* The 16 upper octaves: one single-table permute per coefficient. */
#pragma GCC unroll 4
				for (int q = 0; q < 4; q++)
					z[q] = _mm512_permutexvar_ps(e[q], LO(ICDF_DEG));
#pragma GCC unroll 8
				for (int j = ICDF_DEG - 1; j >= 0; j--)
#pragma GCC unroll 4
					for (int q = 0; q < 4; q++)
						z[q] = _mm512_fmadd_ps(z[q], t[q], _mm512_permutexvar_ps(e[q], LO(j)));
			}
#pragma GCC unroll 4
			for (int q = 0; q < 4; q++)
				_mm512_storeu_ps(out + i + 16 * q,
						 _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(z[q]),
												ww[q], sgn, 0x78)));
		}
#undef LO
#undef HI
	}
#else
	icdf_words(w, out);
#endif
}

void xb_stream_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
		       uint32_t b0_first, float *out, size_t n)
{
	for (size_t b0 = 0; b0 < n; b0 += 4 * GROUP) {
		size_t m = n - b0 < 4 * GROUP ? n - b0 : 4 * GROUP;
		uint32_t first = (uint32_t)((b0_first + b0) >> 2);

		if (m == 4 * GROUP) {
			normal_group(s->nkey[p], sample, a, first, out + b0);
		} else {
			float z[4 * GROUP];

			normal_group(s->nkey[p], sample, a, first, z);
			memcpy(out + b0, z, m * sizeof *z);
		}
	}
}

void xb_stream_add_normals(const xb_stream *s, xb_draw p, uint64_t sample, uint32_t a,
			   uint32_t b0_first, float sigma, const float *scale, float *v, size_t n)
{
	for (size_t b0 = 0; b0 < n; b0 += 4 * GROUP) {
		float z[4 * GROUP];
		size_t m = n - b0 < 4 * GROUP ? n - b0 : 4 * GROUP;

		normal_group(s->nkey[p], sample, a, (uint32_t)((b0_first + b0) >> 2), z);
		if (scale)
			for (size_t j = 0; j < m; j++)
				v[b0 + j] += scale[b0 + j] * z[j];
		else
			for (size_t j = 0; j < m; j++)
				v[b0 + j] += sigma * z[j];
	}
}
