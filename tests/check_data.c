/* check_data.c - tests of the data sets of workloads/: loaders, WAV, data-set files.
 * Real Fashion-MNIST and recorded speech, a Speech Commands layout built here, every error path.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_data.h"
#include "xb_traces.h"

#include "xb_test.h"
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define CARDS_DIR "/usr/share/pocketsphinx/test/data/cards"

/* Every test works in its own fresh directory, removed afterwards. */
static char tmpdir[512];

static void setup(void)
{
	xb_test_mkdtemp(tmpdir, sizeof tmpdir, "xbdata");
}

static void teardown(void)
{
	xb_test_rm_rf(tmpdir);
}

static char *in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t len)
{
	gzFile g = gzopen(path, "wb");

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(g), Z_OK);
}

/* Status of ERR is CODE and its message contains WHAT. */
static void expect_err(const xb_err *err, xb_status code, const char *what)
{
	ck_assert_msg(err->code == code, "expected status %d, got %d: %s", code, err->code,
		      err->msg);
	ck_assert_msg(strstr(err->msg, what) != NULL, "message '%s' lacks '%s'", err->msg, what);
}

/* ---- Fashion-MNIST (real data) ------------------------------------------------ */

START_TEST(test_fashion_mnist)
{
	/* First labels read independently with
	 *   zcat train-labels-idx1-ubyte.gz | od -An -tu1 -j8 -N10  -> 9 0 0 3 0 2 7 2 5 5
	 *   zcat t10k-labels-idx1-ubyte.gz  | od -An -tu1 -j8 -N10  -> 9 2 1 1 6 1 4 6 5 7
	 * and image 0 of train: od over its 784 bytes sums to 76247, pixel (14, 14) = 217. */
	static const int train_first[10] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
	static const int test_first[10] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 };
	xb_err err;
	xb_dataset *tr, *te;
	const float *x;
	double sum = 0.0;
	int h, w, c, i;

	tr = xb_data_load_fashion_mnist(NULL, XB_SPLIT_TRAIN, &err);
	ck_assert_msg(tr != NULL, "%s", err.msg);
	te = xb_data_load_fashion_mnist(FMNIST_DIR, XB_SPLIT_TEST, &err);
	ck_assert_msg(te != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(tr), 60000);
	ck_assert_uint_eq(xb_dataset_count(te), 10000);
	xb_dataset_shape(tr, &h, &w, &c);
	ck_assert_int_eq(h, 28);
	ck_assert_int_eq(w, 28);
	ck_assert_int_eq(c, 1);
	ck_assert_int_eq(xb_dataset_nclasses(tr), 10);
	ck_assert_str_eq(xb_dataset_class_name(tr, 9), "Ankle boot");
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(xb_dataset_labels(tr)[i], train_first[i]);
		ck_assert_int_eq(xb_dataset_labels(te)[i], test_first[i]);
	}
	x = xb_dataset_features(tr);
	for (i = 0; i < 784; i++)
		sum += x[i];
	ck_assert_double_eq_tol(sum, 76247.0 / 255.0, 1e-3);
	ck_assert_float_eq(x[14 * 28 + 14], 217.0f / 255.0f);
	ck_assert_int_eq(xb_dataset_splits(te)[0], XB_SPLIT_TEST);
	{
		/* Every class holds 6000 training images (Fashion-MNIST is balanced). */
		size_t counts[10];

		ck_assert_int_eq(xb_dataset_class_counts(tr, XB_SPLIT_ALL, counts), XB_OK);
		for (i = 0; i < 10; i++)
			ck_assert_uint_eq(counts[i], 6000);
	}
	xb_dataset_free(tr);
	xb_dataset_free(te);
}
END_TEST

/* ---- IDX and CIFAR-10 errors -------------------------------------------------- */

/* An IDX file with header MAGIC, dimensions DIMS[0..ND-1] and LEN data bytes D. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int nd,
		      const unsigned char *d, size_t len, int gz)
{
	unsigned char buf[4096];
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++)
		buf[n++] = (unsigned char)(magic >> (24 - 8 * i));
	for (i = 0; i < nd; i++) {
		int k;

		for (k = 0; k < 4; k++)
			buf[n++] = (unsigned char)(dims[i] >> (24 - 8 * k));
	}
	memcpy(buf + n, d, len);
	n += len;
	if (gz)
		write_gz(path, buf, n);
	else
		write_bytes(path, buf, n);
}

START_TEST(test_idx_small_and_errors)
{
	static const uint32_t idims[3] = { 3, 2, 2 }, ldims[1] = { 3 }, l2[1] = { 2 };
	static const unsigned char pix[12] = { 0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6 };
	static const unsigned char lab[3] = { 2, 0, 1 }, badlab[3] = { 2, 0, 10 };
	char img[600], lb[600], p[600];
	xb_dataset *ds;
	xb_err err;

	in_dir(img, sizeof img, "img.idx");
	in_dir(lb, sizeof lb, "lab.idx.gz");
	write_idx(img, 0x803, idims, 3, pix, sizeof pix, 0);   /* plain */
	write_idx(lb, 0x801, ldims, 1, lab, sizeof lab, 1);     /* gzip'd */
	ds = xb_data_load_idx(img, lb, 3, NULL, XB_SPLIT_VALID, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(ds), 3);
	ck_assert_float_eq(xb_dataset_features(ds)[1], 51.0f / 255.0f);
	ck_assert_float_eq(xb_dataset_features(ds)[5], 1.0f);     /* 255 / 255 */
	ck_assert_int_eq(xb_dataset_labels(ds)[0], 2);
	ck_assert_int_eq(xb_dataset_splits(ds)[2], XB_SPLIT_VALID);
	ck_assert_str_eq(xb_dataset_class_name(ds, 1), "1");
	xb_dataset_free(ds);

	/* bad magic: a label file given as images */
	ck_assert_ptr_null(xb_data_load_idx(lb, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "bad magic 0x00000801, expected 0x00000803");
	ck_assert_ptr_nonnull(strstr(err.msg, lb));
	/* truncated data */
	in_dir(p, sizeof p, "trunc.idx");
	write_idx(p, 0x803, idims, 3, pix, 11, 0);
	ck_assert_ptr_null(xb_data_load_idx(p, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "truncated: 11 bytes of data, expected 12");
	/* truncated header */
	write_idx(p, 0x803, idims, 1, pix, 0, 0);
	ck_assert_ptr_null(xb_data_load_idx(p, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "truncated: 8 bytes, expected an IDX header of 16");
	/* trailing bytes */
	write_idx(p, 0x801, ldims, 1, pix, 4, 0);
	ck_assert_ptr_null(xb_data_load_idx(img, p, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "trailing bytes");
	/* count mismatch */
	write_idx(p, 0x801, l2, 1, lab, 2, 0);
	ck_assert_ptr_null(xb_data_load_idx(img, p, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "2 labels, expected one per image");
	/* label out of range */
	write_idx(p, 0x801, ldims, 1, badlab, 3, 0);
	ck_assert_ptr_null(xb_data_load_idx(img, p, 10, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "label 10 of item 2 out of range, expected 0..9");
	/* zero-sized image dimension */
	{
		static const uint32_t zd[3] = { 3, 0, 2 };

		write_idx(p, 0x803, zd, 3, pix, 0, 0);
		ck_assert_ptr_null(xb_data_load_idx(p, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
		expect_err(&err, XB_EFORMAT, "dimension 1 is 0");
	}
	/* corrupt gzip: a cut gzip stream */
	{
		unsigned char *buf = malloc(100000), *g;
		FILE *f;
		size_t n;

		in_dir(p, sizeof p, "cut.gz");
		memset(buf, 7, 100000);
		write_gz(p, buf, 100000);
		f = fopen(p, "rb");
		n = fread(buf, 1, 100000, f);
		fclose(f);
		g = buf;
		write_bytes(p, g, n / 2);
		ck_assert_ptr_null(xb_data_load_idx(p, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
		ck_assert_int_eq(err.code, XB_EFORMAT);
		ck_assert_ptr_nonnull(strstr(err.msg, p));
		free(buf);
	}
	/* missing file, bad arguments */
	in_dir(p, sizeof p, "none.idx");
	ck_assert_ptr_null(xb_data_load_idx(p, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_ENOENT, "none.idx");
	ck_assert_ptr_null(xb_data_load_idx(img, lb, 0, NULL, XB_SPLIT_TRAIN, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_data_load_fashion_mnist(tmpdir, XB_SPLIT_TEST, &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ck_assert_ptr_null(xb_data_load_fashion_mnist(NULL, XB_SPLIT_VALID, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	/* a directory given as a file */
	ck_assert_ptr_null(xb_data_load_idx(tmpdir, lb, 3, NULL, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EIO, "is a directory");
}
END_TEST

START_TEST(test_cifar10)
{
	enum { REC = 3073 };
	unsigned char *buf = malloc(3 * REC);
	char f1[600], f2[600], p[600];
	const char *files[2];
	xb_dataset *ds;
	xb_err err;
	const float *x;
	int r, i;

	/* Record r: label 7 - r; red plane = r, green = 100 + (pixel % 100), blue = 250. */
	for (r = 0; r < 3; r++) {
		unsigned char *rec = buf + r * REC;

		rec[0] = (unsigned char)(7 - r);
		for (i = 0; i < 1024; i++) {
			rec[1 + i] = (unsigned char)r;
			rec[1 + 1024 + i] = (unsigned char)(100 + i % 100);
			rec[1 + 2048 + i] = 250;
		}
	}
	in_dir(f1, sizeof f1, "data_batch_1.bin");
	in_dir(f2, sizeof f2, "test_batch.bin");
	write_bytes(f1, buf, 2 * REC);
	write_bytes(f2, buf + 2 * REC, REC);
	files[0] = f1;
	files[1] = f2;
	ds = xb_data_load_cifar10(files, 2, XB_SPLIT_TRAIN, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(ds), 3);
	ck_assert_uint_eq(xb_dataset_sample_size(ds), 3072);
	ck_assert_int_eq(xb_dataset_labels(ds)[2], 5);
	ck_assert_str_eq(xb_dataset_class_name(ds, 5), "dog");
	x = xb_dataset_features(ds);
	/* Sample 1, pixel 123 (row 3, column 27), channels last: R = 1, G = 123, B = 250. */
	ck_assert_float_eq(x[3072 + 123 * 3 + 0], 1.0f / 255.0f);
	ck_assert_float_eq(x[3072 + 123 * 3 + 1], 123.0f / 255.0f);
	ck_assert_float_eq(x[3072 + 123 * 3 + 2], 250.0f / 255.0f);
	xb_dataset_free(ds);

	/* Directory form: the 5 training batches are required. */
	ck_assert_ptr_null(xb_data_load_cifar10_dir(tmpdir, XB_SPLIT_ALL, &err));
	expect_err(&err, XB_ENOENT, "data_batch_2.bin");
	ds = xb_data_load_cifar10_dir(tmpdir, XB_SPLIT_TEST, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(ds), 1);
	ck_assert_int_eq(xb_dataset_splits(ds)[0], XB_SPLIT_TEST);
	xb_dataset_free(ds);

	/* truncated record */
	in_dir(p, sizeof p, "cut.bin");
	write_bytes(p, buf, REC + 100);
	files[0] = p;
	ck_assert_ptr_null(xb_data_load_cifar10(files, 1, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "expected a whole number of 3073-byte records");
	/* label out of range */
	buf[REC] = 10;
	write_bytes(p, buf, 2 * REC);
	ck_assert_ptr_null(xb_data_load_cifar10(files, 1, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "label 10 of record 1 out of range");
	/* empty file */
	write_bytes(p, buf, 0);
	ck_assert_ptr_null(xb_data_load_cifar10(files, 1, XB_SPLIT_TRAIN, &err));
	expect_err(&err, XB_EFORMAT, "0 bytes");
	ck_assert_ptr_null(xb_data_load_cifar10(files, 0, XB_SPLIT_TRAIN, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	free(buf);
}
END_TEST

/* ---- WAV ---------------------------------------------------------------------- */

START_TEST(test_wav_real_speech)
{
	/* cards/001.wav ("ten of clubs", pocketsphinx-testdata): header read with xxd
	 * (16 kHz, mono, 16 bit, data chunk of 0x88ec = 35052 bytes = 17526 samples); samples
	 * with od -An -td2 -j44: first four -146 -152 -155 -99, maximum 19433, minimum -31482. */
	xb_wav wav;
	xb_err err;
	size_t i;
	int mx = -40000, mn = 40000;

	ck_assert_int_eq(xb_wav_read(CARDS_DIR "/001.wav", &wav, &err), XB_OK);
	ck_assert_int_eq(wav.rate_hz, 16000);
	ck_assert_int_eq(wav.channels, 1);
	ck_assert_uint_eq(wav.frames, 17526);
	ck_assert_int_eq(wav.samples[0], -146);
	ck_assert_int_eq(wav.samples[1], -152);
	ck_assert_int_eq(wav.samples[2], -155);
	ck_assert_int_eq(wav.samples[3], -99);
	for (i = 0; i < wav.frames; i++) {
		mx = wav.samples[i] > mx ? wav.samples[i] : mx;
		mn = wav.samples[i] < mn ? wav.samples[i] : mn;
	}
	ck_assert_int_eq(mx, 19433);
	ck_assert_int_eq(mn, -31482);
	xb_wav_reset(&wav);
	ck_assert_ptr_null(wav.samples);
	xb_wav_reset(NULL);
}
END_TEST

/* A WAV header with the given fields followed by LEN data bytes. */
static size_t make_wav(unsigned char *b, unsigned fmt, unsigned ch, unsigned rate,
		       unsigned align, unsigned bits, uint32_t data_len, size_t have)
{
	size_t n = 0;

#define P16(v) (b[n++] = (unsigned char)(v), b[n++] = (unsigned char)((v) >> 8))
#define P32(v) (P16((v) & 0xffff), P16((uint32_t)(v) >> 16))
	memcpy(b, "RIFF", 4);
	n = 4;
	P32(36 + have);
	memcpy(b + n, "WAVEfmt ", 8);
	n += 8;
	P32(16);
	P16(fmt);
	P16(ch);
	P32(rate);
	P32(rate * align);
	P16(align);
	P16(bits);
	memcpy(b + n, "data", 4);
	n += 4;
	P32(data_len);
	memset(b + n, 0x11, have);
#undef P16
#undef P32
	return n + have;
}

START_TEST(test_wav_write_and_errors)
{
	static const int16_t st[6] = { 1, -2, 300, -32768, 32767, 5 };
	unsigned char b[256];
	char p[600];
	xb_wav wav;
	xb_err err;
	size_t n;

	in_dir(p, sizeof p, "st.wav");
	ck_assert_int_eq(xb_wav_write(p, st, 3, 2, 8000, &err), XB_OK);
	ck_assert_int_eq(xb_wav_read(p, &wav, &err), XB_OK);
	ck_assert_int_eq(wav.channels, 2);
	ck_assert_int_eq(wav.rate_hz, 8000);
	ck_assert_uint_eq(wav.frames, 3);
	ck_assert_mem_eq(wav.samples, st, sizeof st);
	xb_wav_reset(&wav);

	/* a chunk before fmt, odd-sized (padded), is skipped */
	{
		unsigned char c[300];
		size_t m = make_wav(b, 1, 1, 16000, 2, 16, 4, 4);

		memcpy(c, b, 12);
		memcpy(c + 12, "LIST\x03\x00\x00\x00" "abc\x00", 12);
		memcpy(c + 24, b + 12, m - 12);
		c[4] = (unsigned char)(m + 12 - 8);     /* RIFF size grows by the 12 bytes */
		ck_assert_int_eq(xb_wav_parse(c, m + 12, "list.wav", &wav, &err), XB_OK);
		ck_assert_uint_eq(wav.frames, 2);
		ck_assert_int_eq(wav.samples[0], 0x1111);
		xb_wav_reset(&wav);
	}
	n = make_wav(b, 1, 1, 16000, 2, 16, 4, 4);
	ck_assert_int_eq(xb_wav_parse(b, 8, "short.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "short.wav: not a WAV file");
	ck_assert_ptr_null(wav.samples);
	memcpy(b + 8, "AVI ", 4);
	ck_assert_int_eq(xb_wav_parse(b, n, "avi.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "expected 'RIFF....WAVE'");
	n = make_wav(b, 3, 1, 16000, 4, 32, 8, 8);
	ck_assert_int_eq(xb_wav_parse(b, n, "float.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "sample format 3, expected integer PCM");
	n = make_wav(b, 1, 1, 16000, 1, 8, 8, 8);
	ck_assert_int_eq(xb_wav_parse(b, n, "u8.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "8 bits per sample, expected 16");
	n = make_wav(b, 1, 2, 16000, 2, 16, 8, 8);
	ck_assert_int_eq(xb_wav_parse(b, n, "align.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "block align 2, expected 4");
	n = make_wav(b, 1, 0, 16000, 0, 16, 8, 8);
	ck_assert_int_eq(xb_wav_parse(b, n, "nochan.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "0 channels");
	n = make_wav(b, 1, 1, 16000, 2, 16, 100, 10);
	ck_assert_int_eq(xb_wav_parse(b, n, "trunc.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "truncated: data chunk of 100 bytes, only 10 present");
	n = make_wav(b, 1, 1, 16000, 2, 16, 5, 5);
	ck_assert_int_eq(xb_wav_parse(b, n, "odd.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "whole number of 2-byte frames");
	n = make_wav(b, 1, 1, 16000, 2, 16, 4, 4);
	ck_assert_int_eq(xb_wav_parse(b, n - 12, "nodata.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "no data chunk");
	memcpy(b + 12, "junk", 4);
	ck_assert_int_eq(xb_wav_parse(b, n, "nofmt.wav", &wav, &err), XB_EFORMAT);
	expect_err(&err, XB_EFORMAT, "data chunk before the fmt chunk");
	/* WAVE_FORMAT_EXTENSIBLE with a non-PCM GUID */
	{
		unsigned char e[100];
		size_t m = make_wav(b, 1, 1, 16000, 2, 16, 4, 4);

		memcpy(e, b, 16);
		e[16] = 40;
		e[17] = e[18] = e[19] = 0;
		memcpy(e + 20, b + 20, 16);
		e[20] = 0xfe;
		e[21] = 0xff;
		memset(e + 36, 0, 24);
		static const unsigned char pcm_guid[16] = { 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0,
							    0xaa, 0, 0x38, 0x9b, 0x71 };

		e[36] = 22;     /* cbSize; the sub-format GUID starts at fmt offset 24 */
		memcpy(e + 44, pcm_guid, 16);
		memcpy(e + 60, b + 36, m - 36);
		e[4] = (unsigned char)(m + 24 - 8);     /* RIFF size */
		ck_assert_int_eq(xb_wav_parse(e, m + 24, "ext.wav", &wav, &err), XB_OK);
		ck_assert_uint_eq(wav.frames, 2);
		xb_wav_reset(&wav);
		e[44] = 3;      /* KSDATAFORMAT_SUBTYPE_IEEE_FLOAT */
		ck_assert_int_eq(xb_wav_parse(e, m + 24, "ext.wav", &wav, &err), XB_EFORMAT);
		expect_err(&err, XB_EFORMAT, "sub-format 3");
	}
	in_dir(p, sizeof p, "missing.wav");
	ck_assert_int_eq(xb_wav_read(p, &wav, &err), XB_ENOENT);
	expect_err(&err, XB_ENOENT, "missing.wav");
	ck_assert_int_eq(xb_wav_write(p, st, 1, 0, 8000, &err), XB_EINVAL);
	in_dir(p, sizeof p, "no/such/dir.wav");
	ck_assert_int_eq(xb_wav_write(p, st, 1, 1, 8000, &err), XB_ENOENT);
}
END_TEST

/* ---- Speech Commands layout --------------------------------------------------- */

/* Copy the first N samples of cards/NAME into DIR/REL (16 kHz mono). */
static void copy_clip(const char *name, const char *rel, size_t n, int rate)
{
	char src[600], dst[600];
	xb_wav wav;
	xb_err err;

	snprintf(src, sizeof src, "%s/%s", CARDS_DIR, name);
	ck_assert_int_eq(xb_wav_read(src, &wav, &err), XB_OK);
	if (n > wav.frames)
		n = wav.frames;
	in_dir(dst, sizeof dst, rel);
	ck_assert_int_eq(xb_wav_write(dst, wav.samples, n, 1, rate, &err), XB_OK);
	xb_wav_reset(&wav);
}

static void make_gsc_tree(void)
{
	static const char *const dirs[] = { "yes", "no", "bed", "stop", "_background_noise_" };
	char p[600];
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof *dirs; i++)
		ck_assert_int_eq(mkdir(in_dir(p, sizeof p, dirs[i]), 0755), 0);
	copy_clip("001.wav", "yes/aaaa_nohash_0.wav", 16000, 16000);
	copy_clip("002.wav", "yes/bbbb_nohash_0.wav", 20000, 16000);   /* cut to 1 s */
	copy_clip("003.wav", "no/aaaa_nohash_1.wav", 9000, 16000);     /* zero-padded */
	copy_clip("004.wav", "stop/cccc_nohash_0.wav", 16000, 16000);
	copy_clip("005.wav", "bed/bbbb_nohash_2.wav", 16000, 16000);
	copy_clip("001.wav", "bed/cccc_nohash_3.wav", 12000, 16000);
	copy_clip("005.wav", "_background_noise_/noise.wav", 40000, 16000);
	write_bytes(in_dir(p, sizeof p, "validation_list.txt"), "no/aaaa_nohash_1.wav\n", 21);
	write_bytes(in_dir(p, sizeof p, "testing_list.txt"),
		    "stop/cccc_nohash_0.wav\r\nbed/cccc_nohash_3.wav\n", 46);
}

START_TEST(test_gsc_layout)
{
	xb_gsc_params gp = xb_gsc_default_params();
	xb_dataset *ds;
	xb_mfcc *m;
	xb_err err;
	xb_wav wav;
	float ref[490];
	char p[600];
	size_t i, counts[12];

	make_gsc_tree();
	gp.unknown_fraction = -1.0;     /* every unknown clip */
	gp.silence_fraction = 0.5;      /* ceil(0.5 * keywords) silence clips per split */
	ds = xb_data_load_gsc(tmpdir, XB_SPLIT_ALL, &gp, NULL, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	/* train: yes x2 + bed/bbbb (unknown) + 1 silence; valid: no + 1 silence; test:
	 * stop + bed/cccc + 1 silence = 9 rows, in split order, paths sorted. */
	ck_assert_uint_eq(xb_dataset_count(ds), 9);
	{
		static const int labels[9] = { 1, 2, 2, 0, 3, 0, 1, 10, 0 };
		static const int splits[9] = { 0, 0, 0, 0, 1, 1, 2, 2, 2 };
		static const char *const src[9] = { "bed/bbbb_nohash_2.wav", "yes/aaaa_nohash_0.wav",
						    "yes/bbbb_nohash_0.wav", NULL,
						    "no/aaaa_nohash_1.wav", NULL,
						    "bed/cccc_nohash_3.wav", "stop/cccc_nohash_0.wav",
						    NULL };

		for (i = 0; i < 9; i++) {
			ck_assert_int_eq(xb_dataset_labels(ds)[i], labels[i]);
			ck_assert_int_eq(xb_dataset_splits(ds)[i], splits[i]);
			if (src[i])
				ck_assert_str_eq(xb_dataset_source(ds, i), src[i]);
			else
				ck_assert_ptr_nonnull(strstr(xb_dataset_source(ds, i),
							     "_background_noise_/noise.wav@"));
		}
	}
	/* Speakers aaaa, bbbb, cccc sorted; silence has none. */
	ck_assert_int_eq(xb_dataset_ngroups(ds), 3);
	ck_assert_str_eq(xb_dataset_group_name(ds, 1), "bbbb");
	ck_assert_int_eq(xb_dataset_groups(ds)[0], 1);
	ck_assert_int_eq(xb_dataset_groups(ds)[3], -1);
	ck_assert_str_eq(xb_dataset_class_name(ds, 10), "stop");
	/* Features are the MFCC of the file as it is (cut or zero-padded to 1 s). */
	m = xb_mfcc_new(NULL, &err);
	for (i = 1; i <= 4; i += 3) {
		snprintf(p, sizeof p, "%s/%s", tmpdir, xb_dataset_source(ds, i));
		ck_assert_int_eq(xb_wav_read(p, &wav, &err), XB_OK);
		xb_mfcc_compute_s16(m, wav.samples, wav.frames, ref);
		ck_assert_mem_eq(xb_dataset_features(ds) + i * 490, ref, sizeof ref);
		xb_wav_reset(&wav);
	}
	xb_mfcc_free(m);
	ck_assert_int_eq(xb_dataset_class_counts(ds, XB_SPLIT_TRAIN, counts), XB_OK);
	ck_assert_uint_eq(counts[2], 2);
	ck_assert_uint_eq(counts[0], 1);
	xb_dataset_free(ds);

	/* One split; with the default 10% fraction of 1 keyword clip: ceil(0.1) = 1 unknown. */
	ds = xb_data_load_gsc(tmpdir, XB_SPLIT_TEST, NULL, NULL, &err);
	ck_assert_msg(ds != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(ds), 3);
	ck_assert_int_eq(xb_dataset_labels(ds)[0], 1);
	xb_dataset_free(ds);
}
END_TEST

START_TEST(test_gsc_errors)
{
	xb_err err;
	char p[600];

	ck_assert_ptr_null(xb_data_load_gsc(tmpdir, XB_SPLIT_ALL, NULL, NULL, &err));
	expect_err(&err, XB_ENOENT, "validation_list.txt: missing");
	make_gsc_tree();
	/* An 8 kHz file among the words. */
	copy_clip("002.wav", "no/dddd_nohash_0.wav", 8000, 8000);
	ck_assert_ptr_null(xb_data_load_gsc(tmpdir, XB_SPLIT_TRAIN, NULL, NULL, &err));
	expect_err(&err, XB_EFORMAT, "no/dddd_nohash_0.wav: 8000 Hz, 1 channels: expected "
		   "16000 Hz mono");
	unlink(in_dir(p, sizeof p, "no/dddd_nohash_0.wav"));
	/* A corrupt WAV. */
	write_bytes(in_dir(p, sizeof p, "yes/eeee_nohash_0.wav"), "RIFF", 4);
	ck_assert_ptr_null(xb_data_load_gsc(tmpdir, XB_SPLIT_TRAIN, NULL, NULL, &err));
	expect_err(&err, XB_EFORMAT, "eeee_nohash_0.wav: not a WAV file");
	ck_assert_ptr_null(xb_data_load_gsc(NULL, XB_SPLIT_TRAIN, NULL, NULL, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
}
END_TEST

/* ---- data-set files ----------------------------------------------------------- */

/* A small data set: 7 samples of (3, 2, 1) with values 0.25 * (i * 6 + j) - 3. */
static xb_dataset *small_set(void)
{
	static const char *const cls[3] = { "alpha", "beta", "gamma" };
	static const char *const grp[2] = { "g0", "g1" };
	xb_dataset *ds = xb_dataset_new(7, 3, 2, 1, 3, cls, NULL);
	size_t i, j;

	ck_assert_ptr_nonnull(ds);
	ck_assert_int_eq(xb_dataset_set_group_names(ds, 2, grp), XB_OK);
	for (i = 0; i < 7; i++) {
		for (j = 0; j < 6; j++)
			xb_dataset_features(ds)[i * 6 + j] = 0.25f * (float)(i * 6 + j) - 3.0f;
		xb_dataset_labels(ds)[i] = (int32_t)(i % 3);
		xb_dataset_groups(ds)[i] = (int32_t)(i % 2) - (i == 6);
		xb_dataset_splits(ds)[i] = (uint8_t)(i % 3);
		if (i != 4) {
			char s[32];

			snprintf(s, sizeof s, "clip-%zu", i);
			ck_assert_int_eq(xb_dataset_set_source(ds, i, s), XB_OK);
		}
	}
	ck_assert_int_eq(xb_dataset_set_attr(ds, "source", "unit test"), XB_OK);
	ck_assert_int_eq(xb_dataset_set_attr(ds, "note", "first"), XB_OK);
	ck_assert_int_eq(xb_dataset_set_attr(ds, "note", "second"), XB_OK);
	return ds;
}

START_TEST(test_dataset_files)
{
	xb_dataset *ds = small_set(), *rd, *ld;
	float x[42];
	int32_t lab[7], grp[7];
	uint8_t spl[7];
	char p[600];
	xb_err err;
	int h, w, c, k;

	in_dir(p, sizeof p, "set.h5");
	ck_assert_int_eq(xb_dataset_save(ds, p, XB_STORE_FLOAT32, "a = 1\n", "test", &err),
			 XB_OK);
	/* Streamed: same rows, names and attributes; no in-memory arrays. */
	rd = xb_dataset_open(p, &err);
	ck_assert_msg(rd != NULL, "%s", err.msg);
	ck_assert(!xb_dataset_in_memory(rd));
	ck_assert_ptr_null(xb_dataset_features(rd));
	ck_assert_uint_eq(xb_dataset_count(rd), 7);
	xb_dataset_shape(rd, &h, &w, &c);
	ck_assert_int_eq(h * 100 + w * 10 + c, 321);
	ck_assert_str_eq(xb_dataset_class_name(rd, 2), "gamma");
	ck_assert_str_eq(xb_dataset_group_name(rd, 1), "g1");
	ck_assert_str_eq(xb_dataset_attr(rd, "note"), "second");
	ck_assert_str_eq(xb_dataset_attr(rd, "source"), "unit test");
	ck_assert_ptr_null(xb_dataset_attr(rd, "config"));
	ck_assert_int_eq(xb_dataset_read(rd, 2, 4, x, lab), XB_OK);
	ck_assert_mem_eq(x, xb_dataset_features(ds) + 12, 24 * sizeof *x);
	ck_assert_mem_eq(lab, xb_dataset_labels(ds) + 2, 4 * sizeof *lab);
	ck_assert_int_eq(xb_dataset_read_meta(rd, 0, 7, grp, spl), XB_OK);
	ck_assert_mem_eq(grp, xb_dataset_groups(ds), sizeof grp);
	ck_assert_mem_eq(spl, xb_dataset_splits(ds), sizeof spl);
	ck_assert_int_eq(xb_dataset_read(rd, 5, 3, x, lab), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_dataset_errmsg(rd), "rows 5..8"));
	/* In memory, one split: samples 2 and 5 are test. */
	ld = xb_dataset_load(p, XB_SPLIT_TEST, &err);
	ck_assert_msg(ld != NULL, "%s", err.msg);
	ck_assert_uint_eq(xb_dataset_count(ld), 2);
	ck_assert_mem_eq(xb_dataset_features(ld) + 6, xb_dataset_features(ds) + 30,
			 6 * sizeof(float));
	ck_assert_str_eq(xb_dataset_source(ld, 1), "clip-5");
	xb_dataset_free(ld);
	ld = xb_dataset_load(p, XB_SPLIT_ALL, &err);
	ck_assert_ptr_null(xb_dataset_source(ld, 4));
	ck_assert_str_eq(xb_dataset_source(ld, 6), "clip-6");
	ck_assert_int_eq(xb_dataset_groups(ld)[6], -1);
	xb_dataset_free(ld);
	/* Saving a streamed set copies it. */
	in_dir(p, sizeof p, "copy.h5");
	ck_assert_int_eq(xb_dataset_save(rd, p, XB_STORE_FLOAT32, NULL, NULL, &err), XB_OK);
	xb_dataset_free(rd);

	/* Quantized storage: the error is at most half a step, step = range / (2 Qmax);
	 * each element spans 0.25 * 36 = 9 over the 7 samples. */
	for (k = 0; k < 2; k++) {
		xb_feature_storage s = k ? XB_STORE_INT16 : XB_STORE_INT8;
		double step = 9.0 / (2.0 * (k ? 32767 : 127));
		size_t i;

		in_dir(p, sizeof p, k ? "q16.h5" : "q8.h5");
		ck_assert_int_eq(xb_dataset_save(ds, p, s, NULL, NULL, &err), XB_OK);
		rd = xb_dataset_open(p, &err);
		ck_assert_msg(rd != NULL, "%s", err.msg);
		ck_assert_int_eq(xb_dataset_read(rd, 0, 7, x, NULL), XB_OK);
		for (i = 0; i < 42; i++)
			ck_assert_double_le(fabs(x[i] - xb_dataset_features(ds)[i]), 0.5 * step + 1e-6);
		xb_dataset_free(rd);
	}
	/* Selection in memory. */
	ld = xb_dataset_select(ds, XB_SPLIT_TRAIN, &err);
	ck_assert_uint_eq(xb_dataset_count(ld), 3);
	ck_assert_int_eq(xb_dataset_labels(ld)[2], 0);       /* sample 6 */
	xb_dataset_free(ld);
	ck_assert_ptr_null(xb_dataset_select(ds, 5, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	xb_dataset_free(ds);
}
END_TEST

START_TEST(test_dataset_file_errors)
{
	xb_dataset *ds = small_set();
	xb_h5w *w;
	char p[600], q[600];
	float nan_x;
	xb_err err;

	in_dir(p, sizeof p, "missing.h5");
	ck_assert_ptr_null(xb_dataset_open(p, &err));
	expect_err(&err, XB_ENOENT, "missing.h5");
	in_dir(p, sizeof p, "text.h5");
	write_bytes(p, "not hdf5 at all", 15);
	ck_assert_ptr_null(xb_dataset_load(p, XB_SPLIT_ALL, &err));
	expect_err(&err, XB_EFORMAT, "text.h5");
	/* another schema */
	in_dir(p, sizeof p, "trace.h5");
	w = xb_h5w_create(p, "xbarsim-trace", 1, NULL, NULL, &err);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	ck_assert_ptr_null(xb_dataset_open(p, &err));
	expect_err(&err, XB_EFORMAT, "expected schema xbarsim-dataset");
	/* labels out of range in the file, written behind the API's back */
	in_dir(q, sizeof q, "good.h5");
	ck_assert_int_eq(xb_dataset_save(ds, q, XB_STORE_FLOAT32, NULL, NULL, &err), XB_OK);
	{
		static const int32_t bad[7] = { 0, 1, 2, 0, 1, 7, 0 };
		static const int64_t n7[1] = { 7 };
		static const int64_t shape[3] = { 3, 2, 1 };
		static const int64_t d4[4] = { 7, 3, 2, 1 };
		static const int64_t d3[4] = { 7, 3, 2 };
		static const char *const cls[3] = { "a", "b", "c" };
		static const char *const none[1] = { "" };
		static const int64_t zero[1] = { 0 }, three[1] = { 3 };
		int32_t grp[7] = { -1, -1, -1, -1, -1, -1, -1 };
		uint8_t spl[7] = { 0 };
		int variant;

		for (variant = 0; variant < 3; variant++) {
			in_dir(p, sizeof p, "bad.h5");
			w = xb_h5w_create(p, XB_DATASET_SCHEMA, 1, NULL, NULL, &err);
			ck_assert_ptr_nonnull(w);
			ck_assert_int_eq(xb_h5w_attr_int(w, "/", "count", 7), XB_OK);
			ck_assert_int_eq(xb_h5w_attr_int(w, "/", "nclasses", 3), XB_OK);
			ck_assert_int_eq(xb_h5w_attr_ints(w, "/", "sample_shape", shape, 3), XB_OK);
			ck_assert_int_eq(xb_h5w_attr_str(w, "/", "feature_storage",
							  variant == 2 ? "int8" : "float32"), XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/features", XB_H5_FLOAT32,
						      variant == 1 ? 3 : 4, variant == 1 ? d3 : d4,
						      xb_dataset_features(ds), "1"), XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/labels", XB_H5_INT32, 1, n7, bad, "1"),
					 XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/groups", XB_H5_INT32, 1, n7, grp, "1"),
					 XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/splits", XB_H5_UINT8, 1, n7, spl, "1"),
					 XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/class_names", XB_H5_STRING, 1, three, cls,
						      "1"), XB_OK);
			ck_assert_int_eq(xb_h5w_write(w, "/group_names", XB_H5_STRING, 1, zero, none,
						      "1"), XB_OK);
			ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
			xb_h5w_free(w);
			if (variant == 0) {
				ck_assert_ptr_null(xb_dataset_load(p, XB_SPLIT_ALL, &err));
				expect_err(&err, XB_EFORMAT, "label 7 of sample 5 out of range");
				ck_assert_ptr_nonnull(strstr(err.msg, "bad.h5"));
			} else if (variant == 1) {
				ck_assert_ptr_null(xb_dataset_open(p, &err));
				expect_err(&err, XB_EFORMAT, "/features: expected 4-D [7,3,2,1]");
			} else {
				ck_assert_ptr_null(xb_dataset_open(p, &err));
				expect_err(&err, XB_EFORMAT, "feature_storage 'int8'");
			}
		}
	}
	/* Saving rejects what a reader would reject. */
	in_dir(p, sizeof p, "never.h5");
	xb_dataset_labels(ds)[3] = 3;
	ck_assert_int_eq(xb_dataset_save(ds, p, XB_STORE_FLOAT32, NULL, NULL, &err), XB_ERANGE);
	expect_err(&err, XB_ERANGE, "sample 3 has label 3");
	xb_dataset_labels(ds)[3] = 0;
	nan_x = xb_dataset_features(ds)[8];
	xb_dataset_features(ds)[8] = NAN;
	ck_assert_int_eq(xb_dataset_save(ds, p, XB_STORE_INT8, NULL, NULL, &err), XB_ENUMERIC);
	expect_err(&err, XB_ENUMERIC, "feature 2 of sample 1");
	xb_dataset_features(ds)[8] = nan_x;
	ck_assert_int_eq(xb_dataset_save(ds, p, (xb_feature_storage)9, NULL, NULL, &err),
			 XB_EINVAL);
	ck_assert_int_eq(access(p, F_OK), -1);
	in_dir(p, sizeof p, "no/dir/set.h5");
	ck_assert_int_eq(xb_dataset_save(ds, p, XB_STORE_FLOAT32, NULL, NULL, &err), XB_ENOENT);
	/* API misuse. */
	ck_assert_int_eq(xb_dataset_set_attr(ds, "bad name", "x"), XB_EINVAL);
	ck_assert_int_eq(xb_dataset_set_source(ds, 99, "x"), XB_ERANGE);
	ck_assert_int_eq(xb_dataset_set_group_names(ds, -1, NULL), XB_EINVAL);
	ck_assert_ptr_null(xb_dataset_new(3, 0, 1, 1, 2, NULL, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_int_eq(xb_dataset_read(ds, 8, 0, NULL, NULL), XB_ERANGE);
	ck_assert_int_eq(xb_dataset_read(ds, 7, 0, NULL, NULL), XB_OK);
	xb_dataset_free(ds);
	xb_dataset_free(NULL);
}
END_TEST

START_TEST(test_data_path_and_splits)
{
	char buf[1024], p[600];
	xb_err err;

	ck_assert_str_eq(xb_split_name(XB_SPLIT_VALID), "valid");
	ck_assert_str_eq(xb_split_name(7), "?");
	ck_assert_int_eq(xb_split_parse("validation"), XB_SPLIT_VALID);
	ck_assert_int_eq(xb_split_parse("all"), XB_SPLIT_ALL);
	ck_assert_int_eq(xb_split_parse("dev"), -2);
	in_dir(p, sizeof p, "mine.h5");
	write_bytes(p, "x", 1);
	ck_assert_int_eq(xb_data_path(p, buf, sizeof buf, &err), XB_OK);
	ck_assert_str_eq(buf, p);
	setenv("XBARSIM_DATA", tmpdir, 1);
	ck_assert_int_eq(xb_data_path("mine", buf, sizeof buf, &err), XB_OK);
	ck_assert_str_eq(buf, p);
	ck_assert_int_eq(xb_data_path("nothing-like-this", buf, sizeof buf, &err), XB_ENOENT);
	expect_err(&err, XB_ENOENT, tmpdir);
	unsetenv("XBARSIM_DATA");
	ck_assert_int_eq(xb_data_path("", buf, sizeof buf, &err), XB_EINVAL);
}
END_TEST

static Suite *data_suite(void)
{
	Suite *s = suite_create("data");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, test_fashion_mnist);
	tcase_add_test(core, test_cifar10);
	tcase_add_test(core, test_wav_real_speech);
	tcase_add_test(core, test_gsc_layout);
	tcase_add_test(core, test_dataset_files);
	tcase_add_test(core, test_data_path_and_splits);
	tcase_add_test(limits, test_idx_small_and_errors);
	tcase_add_test(limits, test_wav_write_and_errors);
	tcase_add_test(limits, test_gsc_errors);
	tcase_add_test(limits, test_dataset_file_errors);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(data_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
