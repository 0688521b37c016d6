/* data_images.c - image data sets: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary files.
 * Every file is validated before use; faults are XB_EFORMAT naming the file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"

#include <stdlib.h>
#include <string.h>

const char *const xb_fashion_mnist_class_names[10] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
};

const char *const xb_cifar10_class_names[10] = {
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck"
};

#define IDX_MAGIC_UBYTE 0x08
#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PIXELS)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse the IDX header of BUF (LEN bytes) of file PATH: unsigned bytes, NDIMS
 * dimensions into DIMS, data size checked.  *DATA points at the first element. */
static xb_status idx_header(const char *path, const unsigned char *buf, size_t len,
			    int ndims, uint32_t *dims, const unsigned char **data, xb_err *err)
{
	size_t hdr = 4 + 4 * (size_t)ndims, want = 1;
	uint32_t magic;
	int i;

	if (len < 4)
		return xb_raise(err, XB_EFORMAT, "%s: truncated: %zu bytes, expected an IDX "
				"header of %zu bytes", path, len, hdr);
	magic = be32(buf);
	if (magic != (uint32_t)(IDX_MAGIC_UBYTE << 8 | ndims))
		return xb_raise(err, XB_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x (IDX "
				"unsigned bytes, %d dimension%s)", path, magic,
				(unsigned)(IDX_MAGIC_UBYTE << 8 | ndims), ndims, ndims > 1 ? "s" : "");
	if (len < hdr)
		return xb_raise(err, XB_EFORMAT, "%s: truncated: %zu bytes, expected an IDX "
				"header of %zu bytes", path, len, hdr);
	for (i = 0; i < ndims; i++) {
		dims[i] = be32(buf + 4 + 4 * i);
		if (dims[i] == 0 && i > 0)
			return xb_raise(err, XB_EFORMAT, "%s: dimension %d is 0, expected a "
					"positive size", path, i);
		if (dims[i] > 0 && want > SIZE_MAX / dims[i])
			return xb_raise(err, XB_EFORMAT, "%s: dimensions too large", path);
		want *= dims[i];
	}
	if (len - hdr < want)
		return xb_raise(err, XB_EFORMAT, "%s: truncated: %zu bytes of data, expected "
				"%zu for %u items", path, len - hdr, want, dims[0]);
	if (len - hdr > want)
		return xb_raise(err, XB_EFORMAT, "%s: %zu bytes of data, expected %zu for %u "
				"items (trailing bytes)", path, len - hdr, want, dims[0]);
	*data = buf + hdr;
	return XB_OK;
}

xb_dataset *xb_data_load_idx(const char *images, const char *labels, int nclasses,
			     const char *const *class_names, int split, xb_err *err)
{
	static const char *const digits[10] = { "0", "1", "2", "3", "4", "5", "6", "7", "8",
						"9" };
	unsigned char *ibuf = NULL, *lbuf = NULL;
	const unsigned char *ipix, *llab;
	size_t ilen, llen, i, npix;
	uint32_t idims[3], ldims[1];
	xb_dataset *ds = NULL;
	float *x;

	if (!images || !labels || nclasses <= 0 || nclasses > 256 ||
	    split < XB_SPLIT_TRAIN || split > XB_SPLIT_TEST) {
		xb_raise(err, XB_EINVAL, "IDX loader: expected two file names, 1..256 classes "
			 "and a split train/valid/test");
		return NULL;
	}
	if (!class_names && nclasses <= 10)
		class_names = digits;
	if (data_slurp(images, &ibuf, &ilen, err) ||
	    idx_header(images, ibuf, ilen, 3, idims, &ipix, err) ||
	    data_slurp(labels, &lbuf, &llen, err) ||
	    idx_header(labels, lbuf, llen, 1, ldims, &llab, err))
		goto fail;
	if (idims[0] != ldims[0]) {
		xb_raise(err, XB_EFORMAT, "%s: %u labels, expected one per image of %s (%u)",
			 labels, ldims[0], images, idims[0]);
		goto fail;
	}
	for (i = 0; i < ldims[0]; i++)
		if (llab[i] >= nclasses) {
			xb_raise(err, XB_EFORMAT, "%s: label %u of item %zu out of range, expected "
				 "0..%d", labels, llab[i], i, nclasses - 1);
			goto fail;
		}
	if (idims[1] > 65536 || idims[2] > 65536) {
		xb_raise(err, XB_EFORMAT, "%s: images of %ux%u pixels, expected at most 65536 "
			 "per side", images, idims[1], idims[2]);
		goto fail;
	}
	ds = xb_dataset_new(idims[0], (int)idims[1], (int)idims[2], 1, nclasses, class_names,
			    err);
	if (!ds)
		goto fail;
	npix = (size_t)idims[0] * idims[1] * idims[2];
	x = ds->x;
	for (i = 0; i < npix; i++)
		x[i] = (float)ipix[i] / 255.0f;
	for (i = 0; i < idims[0]; i++) {
		ds->labels[i] = llab[i];
		ds->splits[i] = (uint8_t)split;
	}
	xb_dataset_set_attr(ds, "source", images);
	xb_dataset_set_attr(ds, "features", "pixels / 255, (h, w, 1)");
	free(ibuf);
	free(lbuf);
	return ds;
fail:
	free(ibuf);
	free(lbuf);
	xb_dataset_free(ds);
	return NULL;
}

/* Append B's samples to A (same shape and classes).  Returns the merged set (A or a new
 * one), NULL on ENOMEM; frees A and B in every case. */
static xb_dataset *concat(xb_dataset *a, xb_dataset *b, xb_err *err)
{
	xb_dataset *m;
	size_t i;

	if (!a)
		return b;
	m = xb_dataset_new(a->count + b->count, a->h, a->w, a->c, a->nclasses,
			   (const char *const *)a->class_names, err);
	if (m) {
		memcpy(m->x, a->x, a->count * a->sample_size * sizeof *m->x);
		memcpy(m->x + a->count * a->sample_size, b->x,
		       b->count * b->sample_size * sizeof *m->x);
		memcpy(m->labels, a->labels, a->count * sizeof *m->labels);
		memcpy(m->labels + a->count, b->labels, b->count * sizeof *m->labels);
		memcpy(m->splits, a->splits, a->count);
		memcpy(m->splits + a->count, b->splits, b->count);
		for (i = 0; i < a->nattrs; i++)
			xb_dataset_set_attr(m, a->attr_names[i], a->attr_values[i]);
	}
	xb_dataset_free(a);
	xb_dataset_free(b);
	return m;
}

xb_dataset *xb_data_load_fashion_mnist(const char *dir, int split, xb_err *err)
{
	static const char *const prefix[2] = { "train", "t10k" };
	static const int splits[2] = { XB_SPLIT_TRAIN, XB_SPLIT_TEST };
	xb_dataset *all = NULL;
	int k;

	if (!dir)
		dir = "/usr/share/datasets/fashion-mnist";
	if (split != XB_SPLIT_ALL && split != XB_SPLIT_TRAIN && split != XB_SPLIT_TEST) {
		xb_raise(err, XB_EINVAL, "Fashion-MNIST: split %s: expected train, test or all",
			 xb_split_name(split));
		return NULL;
	}
	for (k = 0; k < 2; k++) {
		char img[4096], lab[4096];
		xb_dataset *one;

		if (split != XB_SPLIT_ALL && split != splits[k])
			continue;
		snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, prefix[k]);
		snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, prefix[k]);
		one = xb_data_load_idx(img, lab, 10, xb_fashion_mnist_class_names, splits[k], err);
		if (!one) {
			xb_dataset_free(all);
			return NULL;
		}
		all = concat(all, one, err);
		if (!all)
			return NULL;
	}
	xb_dataset_set_attr(all, "source", "Fashion-MNIST (Zalando Research, MIT licence)");
	return all;
}

xb_dataset *xb_data_load_cifar10(const char *const *files, size_t nfiles, int split,
				 xb_err *err)
{
	xb_dataset *ds = NULL;
	unsigned char **bufs = NULL;
	size_t *lens = NULL, total = 0, f, i, k = 0;

	if (!files || nfiles == 0 || split < XB_SPLIT_TRAIN || split > XB_SPLIT_TEST) {
		xb_raise(err, XB_EINVAL, "CIFAR-10 loader: expected at least one file and a "
			 "split train/valid/test");
		return NULL;
	}
	bufs = calloc(nfiles, sizeof *bufs);
	lens = calloc(nfiles, sizeof *lens);
	if (!bufs || !lens) {
		xb_raise(err, XB_ENOMEM, "CIFAR-10 loader: out of memory");
		goto fail;
	}
	for (f = 0; f < nfiles; f++) {
		if (data_slurp(files[f], &bufs[f], &lens[f], err))
			goto fail;
		if (lens[f] == 0 || lens[f] % CIFAR_RECORD) {
			xb_raise(err, XB_EFORMAT, "%s: %zu bytes, expected a whole number of "
				 "%d-byte records (1 label byte + 3x32x32 pixels)%s", files[f],
				 lens[f], CIFAR_RECORD, lens[f] ? ": truncated" : "");
			goto fail;
		}
		for (i = 0; i < lens[f] / CIFAR_RECORD; i++)
			if (bufs[f][i * CIFAR_RECORD] > 9) {
				xb_raise(err, XB_EFORMAT, "%s: label %u of record %zu out of range, "
					 "expected 0..9", files[f], bufs[f][i * CIFAR_RECORD], i);
				goto fail;
			}
		total += lens[f] / CIFAR_RECORD;
	}
	ds = xb_dataset_new(total, CIFAR_SIDE, CIFAR_SIDE, 3, 10, xb_cifar10_class_names, err);
	if (!ds)
		goto fail;
	for (f = 0; f < nfiles; f++)
		for (i = 0; i < lens[f] / CIFAR_RECORD; i++, k++) {
			const unsigned char *r = bufs[f] + i * CIFAR_RECORD;
			float *x = ds->x + k * ds->sample_size;
			int p, ch;

			ds->labels[k] = r[0];
			ds->splits[k] = (uint8_t)split;
			/* Planar R, G, B in the file; channels last in memory. */
			for (p = 0; p < CIFAR_PIXELS; p++)
				for (ch = 0; ch < 3; ch++)
					x[p * 3 + ch] = (float)r[1 + ch * CIFAR_PIXELS + p] / 255.0f;
		}
	xb_dataset_set_attr(ds, "source", "CIFAR-10 binary version");
	xb_dataset_set_attr(ds, "features", "pixels / 255, (32, 32, 3) channels last");
	for (f = 0; f < nfiles; f++)
		free(bufs[f]);
	free(bufs);
	free(lens);
	return ds;
fail:
	if (bufs)
		for (f = 0; f < nfiles; f++)
			free(bufs[f]);
	free(bufs);
	free(lens);
	xb_dataset_free(ds);
	return NULL;
}

xb_dataset *xb_data_load_cifar10_dir(const char *dir, int split, xb_err *err)
{
	char names[6][4096];
	const char *files[6];
	xb_dataset *train = NULL, *test = NULL;
	int i;

	if (!dir || (split != XB_SPLIT_ALL && split != XB_SPLIT_TRAIN && split != XB_SPLIT_TEST)) {
		xb_raise(err, XB_EINVAL, "CIFAR-10: expected a directory and split train, test "
			 "or all");
		return NULL;
	}
	for (i = 0; i < 5; i++) {
		snprintf(names[i], sizeof names[i], "%s/data_batch_%d.bin", dir, i + 1);
		files[i] = names[i];
	}
	snprintf(names[5], sizeof names[5], "%s/test_batch.bin", dir);
	files[5] = names[5];
	if (split != XB_SPLIT_TEST) {
		train = xb_data_load_cifar10(files, 5, XB_SPLIT_TRAIN, err);
		if (!train)
			return NULL;
		if (split == XB_SPLIT_TRAIN)
			return train;
	}
	test = xb_data_load_cifar10(files + 5, 1, XB_SPLIT_TEST, err);
	if (!test) {
		xb_dataset_free(train);
		return NULL;
	}
	return train ? concat(train, test, err) : test;
}
