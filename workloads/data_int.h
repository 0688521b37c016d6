/* data_int.h - internals shared by the data-set files of workloads/ (not installed).
 * The dataset structure, counter-based random draws, small string helpers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Random numbers.  Every random choice of the data side is one block of Random123's
 * philox4x32-10 with key (seed low, seed high) and counter (item low, item high,
 * purpose, draw): four 32-bit words that depend only on those values.  Items are clip
 * or sample indices; purposes keep the streams of different uses apart.
 */
#ifndef XB_DATA_INT_H
#define XB_DATA_INT_H

#include "xb_data.h"

#include <Random123/philox.h>
#include <stdint.h>

/* Purposes of random streams (counter word 2). */
enum {
	DATA_RNG_CHOICE = 1,     /* per-clip scalar choices, one block per draw */
	DATA_RNG_NOISE = 2,      /* noise samples, 4 per block */
	DATA_RNG_GSC_PICK = 3,   /* Speech Commands: which unknown clips are kept */
	DATA_RNG_GSC_SILENCE = 4 /* Speech Commands: silence slices */
};

/* The four words of block (SEED; ITEM, PURPOSE, DRAW). */
static inline void data_rng_block(uint64_t seed, uint64_t item, uint32_t purpose,
				  uint32_t draw, uint32_t out[4])
{
	philox4x32_ctr_t ctr = { { (uint32_t)item, (uint32_t)(item >> 32), purpose, draw } };
	philox4x32_key_t key = { { (uint32_t)seed, (uint32_t)(seed >> 32) } };
	philox4x32_ctr_t r = philox4x32(ctr, key);

	out[0] = r.v[0];
	out[1] = r.v[1];
	out[2] = r.v[2];
	out[3] = r.v[3];
}

/* Uniform in (0, 1) with 53 random bits from the first two words of a block. */
static inline double data_rng_u01(uint64_t seed, uint64_t item, uint32_t purpose,
				  uint32_t draw)
{
	uint32_t w[4];
	uint64_t bits;

	data_rng_block(seed, item, purpose, draw, w);
	bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
	bits &= (UINT64_C(1) << 53) - 1;
	return ((double)bits + 0.5) / 9007199254740992.0;   /* 2^53 */
}

/* Uniform integer in [0, N) (N > 0) from one block (64 bits, bias < 2^-32). */
static inline uint64_t data_rng_below(uint64_t seed, uint64_t item, uint32_t purpose,
				      uint32_t draw, uint64_t n)
{
	uint32_t w[4];
	uint64_t bits;

	data_rng_block(seed, item, purpose, draw, w);
	bits = ((uint64_t)w[0] << 32) | w[1];
	return bits % n;
}

/* Standard normal noise: OUT[0..N-1] from blocks (SEED; ITEM, PURPOSE, 0, 1, ...), four
 * values per block by the Box-Muller transform. */
XB_HIDDEN void data_rng_normals(uint64_t seed, uint64_t item, uint32_t purpose, float *out,
				size_t n);

/* The dataset structure (data_set.c; data_h5.c fills the streamed kind). */
struct data_h5;

struct xb_dataset {
	xb_err err;
	size_t count;
	int h, w, c;
	size_t sample_size;        /* h * w * c */
	int nclasses;
	char **class_names;        /* nclasses strings */
	int ngroups;
	char **group_names;        /* ngroups strings */
	size_t nattrs;
	char **attr_names, **attr_values;
	/* in memory */
	float *x;                  /* [count][sample_size] */
	int32_t *labels, *groups;
	uint8_t *splits;
	char **sources;            /* [count], entries may be NULL; NULL if none at all */
	/* streamed (NULL in memory) */
	struct data_h5 *h5;
};

/* A data set with names but no arrays (the streamed kind's skeleton).  NULL on ENOMEM. */
XB_HIDDEN xb_dataset *data_dataset_alloc(size_t count, int h, int w, int c, int nclasses,
					 const char *const *class_names, xb_err *err);
/* Streamed reads (data_h5.c). */
XB_HIDDEN xb_status data_h5_read(xb_dataset *ds, size_t first, size_t count, float *x,
				 int32_t *labels);
XB_HIDDEN xb_status data_h5_read_meta(xb_dataset *ds, size_t first, size_t count,
				      int32_t *groups, uint8_t *splits);
XB_HIDDEN void data_h5_close(struct data_h5 *h);

/* strdup that returns NULL on NULL. */
XB_HIDDEN char *data_strdup(const char *s);
/* Split the space-separated list TEXT into a NULL-terminated array of words in one
 * malloc'd block (free once); count in *N.  NULL on ENOMEM. */
XB_HIDDEN char **data_words(const char *text, size_t *n);
/* Read a whole file into a malloc'd buffer (gzip'd files are inflated by zlib, others
 * pass through unchanged).
 * Errors XB_ENOENT/XB_EIO naming PATH, on ERR. */
XB_HIDDEN xb_status data_slurp(const char *path, unsigned char **buf, size_t *len, xb_err *err);

#endif /* XB_DATA_INT_H */
