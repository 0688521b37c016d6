/* check_traces.c - tests of the HDF5 writer, reader and describe of traces/.
 * Round trips of every type, crash-safe writing, and every error path provoked on purpose.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_traces.h"

#include "xb_test.h"
#include <check.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every test works in its own fresh directory, removed afterwards. */
static char tmpdir[512];

static void setup(void)
{
	xb_test_mkdtemp(tmpdir, sizeof tmpdir, "xbtraces");
}

static void teardown(void)
{
	xb_test_rm_rf(tmpdir);
}

/* PATH of NAME in the test directory (in BUF). */
static char *in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}
#define IN_DIR(buf, name) in_dir(buf, sizeof buf, name)

/* Temporary files (".NAME.tmp.PID.RAND") present in the test directory. */
static int count_tmp(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Byte copy of SRC to DST: what a reader sees on disk at this moment. */
static void copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	char buf[65536];
	size_t n;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

static long file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

#define ASSERT_HAS(msg, sub) \
	ck_assert_msg(strstr((msg), (sub)) != NULL, "message \"%s\" lacks \"%s\"", (msg), (sub))

/* A writer of a trace file at PATH, root attributes filled. */
static xb_h5w *new_trace(const char *path)
{
	xb_err err;
	xb_h5w *w = xb_h5w_create(path, "xbarsim-trace", 1, "[adc]\nbits = 8\n",
				  "xbarsim run -o t.h5", &err);
	ck_assert_msg(w != NULL, "create failed: %s", err.msg);
	return w;
}

static xb_h5r *open_ok(const char *path)
{
	xb_err err;
	xb_h5r *r = xb_h5r_open(path, &err);
	ck_assert_msg(r != NULL, "open failed: %s", err.msg);
	return r;
}

#define OK_W(w, call) ck_assert_msg((call) == XB_OK, "%s", xb_h5w_errmsg(w))
#define OK_R(r, call) ck_assert_msg((call) == XB_OK, "%s", xb_h5r_errmsg(r))

/* ---- core ----------------------------------------------------------------------- */

START_TEST(test_attributes_roundtrip)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "attrs.h5"));
	xb_h5r *r;
	/* Exactly representable extremes: 2^40 and a negative, a subnormal-free tiny
	 * double and Avogadro's number, which must come back bit for bit. */
	const int64_t ints[3] = { -7, 0, INT64_C(1) << 40 };
	const double dbl[3] = { 2.385, -1e-300, 6.02214076e23 };
	const int64_t dset_dims[1] = { 2 };
	const double dset[2] = { 1.5, 2.5 };
	char *s;
	int64_t i64, *iv;
	double d, *dv;
	size_t n;

	OK_W(w, xb_h5w_attr_int(w, "/", "samples", 1000));
	OK_W(w, xb_h5w_attr_double(w, "/", "accuracy_ideal", 0.8125));
	OK_W(w, xb_h5w_attr_str(w, "/", "note", "bürste, ünïcode; line 1\nline 2"));
	OK_W(w, xb_h5w_attr_ints(w, "/", "ints", ints, 3));
	OK_W(w, xb_h5w_attr_doubles(w, "/", "doubles", dbl, 3));
	OK_W(w, xb_h5w_attr_ints(w, "/", "empty", NULL, 0));
	OK_W(w, xb_h5w_attr_int(w, "/", "samples", 1001));   /* replaces the first value */
	OK_W(w, xb_h5w_group(w, "/summary", NULL, 0));
	OK_W(w, xb_h5w_group(w, "/layers", "xbarsim-layers", 2));
	OK_W(w, xb_h5w_group(w, "layers/0", NULL, 0));      /* relative = from the root */
	OK_W(w, xb_h5w_attr_double(w, "/summary", "energy_pj_per_inference", 123.25));
	OK_W(w, xb_h5w_write(w, "/summary/x", XB_H5_FLOAT64, 1, dset_dims, dset, "V"));
	OK_W(w, xb_h5w_attr_str(w, "/summary/x", "comment", "on a dataset"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);

	r = open_ok(path);
	ck_assert_str_eq(xb_h5r_path(r), path);
	OK_R(r, xb_h5r_schema(r, NULL, "xbarsim-trace", 1, &i64));
	ck_assert_int_eq(i64, 1);
	OK_R(r, xb_h5r_schema(r, "/summary", "xbarsim-trace", 1, NULL));   /* inherited */
	OK_R(r, xb_h5r_schema(r, "/layers", "xbarsim-layers", 2, &i64));
	ck_assert_int_eq(i64, 2);
	OK_R(r, xb_h5r_schema(r, "/layers/0", "xbarsim-trace", 1, NULL));
	OK_R(r, xb_h5r_attr_str(r, "/", "xbarsim_version", &s));
	ck_assert_str_eq(s, PACKAGE_VERSION);
	free(s);
	OK_R(r, xb_h5r_attr_str(r, "/", "config", &s));
	ck_assert_str_eq(s, "[adc]\nbits = 8\n");
	free(s);
	OK_R(r, xb_h5r_attr_str(r, "/", "command_line", &s));
	ck_assert_str_eq(s, "xbarsim run -o t.h5");
	free(s);
	OK_R(r, xb_h5r_attr_str(r, "/", "note", &s));
	ck_assert_str_eq(s, "bürste, ünïcode; line 1\nline 2");
	free(s);
	OK_R(r, xb_h5r_attr_int(r, "/", "samples", &i64));
	ck_assert_int_eq(i64, 1001);
	OK_R(r, xb_h5r_attr_double(r, "/", "samples", &d));   /* integers read as double */
	ck_assert(d == 1001.0);
	OK_R(r, xb_h5r_attr_double(r, "/", "accuracy_ideal", &d));
	ck_assert(d == 0.8125);
	OK_R(r, xb_h5r_attr_ints(r, "/", "ints", &iv, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(iv, ints, sizeof ints);
	free(iv);
	OK_R(r, xb_h5r_attr_doubles(r, "/", "doubles", &dv, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(dv, dbl, sizeof dbl);
	free(dv);
	OK_R(r, xb_h5r_attr_ints(r, "/", "empty", &iv, &n));
	ck_assert_uint_eq(n, 0);
	free(iv);
	OK_R(r, xb_h5r_attr_double(r, "/summary", "energy_pj_per_inference", &d));
	ck_assert(d == 123.25);
	OK_R(r, xb_h5r_attr_str(r, "/summary/x", "comment", &s));
	ck_assert_str_eq(s, "on a dataset");
	free(s);
	OK_R(r, xb_h5r_attr_str(r, "/summary/x", "unit", &s));
	ck_assert_str_eq(s, "V");
	free(s);
	ck_assert_int_eq(xb_h5r_has_attr(r, "/", "samples"), 1);
	ck_assert_int_eq(xb_h5r_has_attr(r, "/", "nope"), 0);
	ck_assert_int_eq(xb_h5r_has_attr(r, "/nope", "samples"), 0);
	ck_assert_int_eq(xb_h5r_exists(r, "/layers/0"), 1);
	ck_assert_int_eq(xb_h5r_exists(r, "/layers/1"), 0);
	ck_assert_int_eq(xb_h5r_exists(r, "/no/such/path"), 0);
	ck_assert_int_eq(xb_h5r_exists(r, "/"), 1);
	xb_h5r_free(r);
}
END_TEST

/* Values of element I of an array of each type, spread over the whole range
 * (the steps are chosen so that 12 elements stay inside the type). */
static void fill_values(xb_h5_type t, void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t k = i;
		switch (t) {
		case XB_H5_INT8: ((int8_t *)buf)[i] = (int8_t)(-128 + 21 * (int)i); break;
		case XB_H5_UINT8: ((uint8_t *)buf)[i] = (uint8_t)(255 - 21 * (int)i); break;
		case XB_H5_INT16: ((int16_t *)buf)[i] = (int16_t)(-32768 + 5957 * (int)i); break;
		case XB_H5_UINT16: ((uint16_t *)buf)[i] = (uint16_t)(65535 - 5957 * (int)i); break;
		case XB_H5_INT32: ((int32_t *)buf)[i] = (int32_t)(INT32_MIN + 390451572LL * (int64_t)i); break;
		case XB_H5_UINT32: ((uint32_t *)buf)[i] = (uint32_t)(UINT32_MAX - 390451572ULL * k); break;
		case XB_H5_INT64:
			((int64_t *)buf)[i] = (int64_t)((uint64_t)INT64_MIN + k * UINT64_C(1537228672809129301));
			break;
		case XB_H5_UINT64: ((uint64_t *)buf)[i] = UINT64_MAX - k * UINT64_C(1537228672809129301); break;
		case XB_H5_FLOAT32: ((float *)buf)[i] = 2.385f * ((float)i - 5.5f); break;
		case XB_H5_FLOAT64: ((double *)buf)[i] = 2.385 * ((double)i - 5.5) / 3.0; break;
		default: break;
		}
	}
}

START_TEST(test_datasets_roundtrip)
{
	char path[600], name[64];
	xb_h5w *w = new_trace(IN_DIR(path, "data.h5"));
	xb_h5r *r;
	const int64_t dims2[2] = { 3, 4 }, dims0[3] = { 2, 0, 3 }, dims5[5] = { 2, 1, 3, 1, 2 };
	const int64_t sdims[2] = { 2, 3 };
	unsigned char buf[12 * 8];
	/* A NULL string is written as "". */
	const char *strs[6] = { "", "a", "bürste", "tab\there", "x y", NULL };
	const char *strs_back[6] = { "", "a", "bürste", "tab\there", "x y", "" };
	double c = 299792458.0, *dp;
	int64_t dout[XB_H5_MAXRANK];
	int16_t *ip;
	char **sp, *unit;
	xb_h5_info info;
	void *data;

	for (int t = XB_H5_INT8; t <= XB_H5_FLOAT64; t++) {
		fill_values((xb_h5_type)t, buf, 12);
		snprintf(name, sizeof name, "/%s", xb_h5_type_name((xb_h5_type)t));
		OK_W(w, xb_h5w_write(w, name, (xb_h5_type)t, 2, dims2, buf, "LSB"));
	}
	OK_W(w, xb_h5w_write(w, "/strings", XB_H5_STRING, 2, sdims, strs, "1"));
	OK_W(w, xb_h5w_write(w, "/scalar", XB_H5_FLOAT64, 0, NULL, &c, "m/s"));
	OK_W(w, xb_h5w_write(w, "/zero", XB_H5_INT16, 3, dims0, NULL, "1"));
	fill_values(XB_H5_INT16, buf, 12);
	OK_W(w, xb_h5w_write(w, "/five", XB_H5_INT16, 5, dims5, buf, "1"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);

	r = open_ok(path);
	for (int t = XB_H5_INT8; t <= XB_H5_FLOAT64; t++) {
		snprintf(name, sizeof name, "/%s", xb_h5_type_name((xb_h5_type)t));
		fill_values((xb_h5_type)t, buf, 12);
		OK_R(r, xb_h5r_read(r, name, (xb_h5_type)t, 2, dims2, 0, &data, dout));
		ck_assert_mem_eq(data, buf, 12 * xb_h5_type_size((xb_h5_type)t));
		ck_assert_int_eq(dout[0], 3);
		ck_assert_int_eq(dout[1], 4);
		free(data);
		OK_R(r, xb_h5r_info(r, name, &info));
		ck_assert_int_eq(info.kind, XB_H5_DATASET);
		ck_assert_int_eq(info.type, t);
		ck_assert_str_eq(info.type_name, xb_h5_type_name((xb_h5_type)t));
		ck_assert_int_eq(info.rank, 2);
		ck_assert_int_eq(info.chunked, 0);      /* 96 bytes at most: contiguous */
		OK_R(r, xb_h5r_attr_str(r, name, "unit", &unit));
		ck_assert_str_eq(unit, "LSB");
		free(unit);
	}
	OK_R(r, xb_h5r_read(r, "/strings", XB_H5_STRING, 2, sdims, 0, &data, NULL));
	sp = data;
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(sp[i], strs_back[i]);
	free(data);
	OK_R(r, xb_h5r_read(r, "/scalar", XB_H5_FLOAT64, 0, NULL, 0, &data, NULL));
	dp = data;
	ck_assert(dp[0] == 299792458.0);
	free(data);
	OK_R(r, xb_h5r_read(r, "/zero", XB_H5_INT16, 3, NULL, 0, &data, dout));
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(dout[1], 0);
	free(data);
	/* Any rank (-1) and partly given dimensions. */
	OK_R(r, xb_h5r_read(r, "/five", XB_H5_INT16, -1, NULL, 0, &data, dout));
	ip = data;
	ck_assert_int_eq(ip[11], -32768 + 5957 * 11);
	ck_assert_int_eq(dout[4], 2);
	free(data);
	{
		const int64_t some[5] = { -1, 1, 3, -1, -1 };
		OK_R(r, xb_h5r_read(r, "/five", XB_H5_INT16, 5, some, 0, &data, NULL));
		free(data);
	}
	OK_R(r, xb_h5r_info(r, "/zero", &info));
	ck_assert_int_eq(info.nelems, 0);    /* [2,0,3] */
	OK_R(r, xb_h5r_info(r, "/scalar", &info));
	ck_assert_int_eq(info.rank, 0);
	ck_assert_int_eq(info.nelems, 1);
	OK_R(r, xb_h5r_info(r, "/", &info));
	ck_assert_int_eq(info.kind, XB_H5_GROUP);
	ck_assert_uint_eq(info.links, 1);
	xb_h5r_free(r);
}
END_TEST

/* Inspect the storage of dataset PATH of FILE with the HDF5 API itself. */
static void check_storage(const char *file, const char *path, int chunked, int filters,
			  int unlimited)
{
	hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
	hid_t dcpl = H5Dget_create_plist(d), s = H5Dget_space(d);
	hsize_t dims[8], maxdims[8];
	unsigned flags, cd[4], conf;
	size_t ncd = 4;
	char fname[32];

	ck_assert_int_ge(d, 0);
	ck_assert_int_eq(H5Pget_layout(dcpl) == H5D_CHUNKED, chunked);
	if (filters) {
		ck_assert_int_eq(H5Pget_nfilters(dcpl), 2);
		ck_assert_int_eq(H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, sizeof fname, fname, &conf),
				 H5Z_FILTER_SHUFFLE);
		ncd = 4;
		ck_assert_int_eq(H5Pget_filter2(dcpl, 1, &flags, &ncd, cd, sizeof fname, fname, &conf),
				 H5Z_FILTER_DEFLATE);
		ck_assert_uint_eq(cd[0], 4);   /* gzip level 4, as documented */
	} else {
		ck_assert_int_eq(H5Pget_nfilters(dcpl), 0);
	}
	H5Sget_simple_extent_dims(s, dims, maxdims);
	ck_assert_int_eq(maxdims[0] == H5S_UNLIMITED, unlimited);
	ck_assert_int_eq(H5Aexists(d, "unit"), 1);   /* every dataset carries its unit */
	H5Sclose(s);
	H5Pclose(dcpl);
	H5Dclose(d);
	H5Fclose(f);
}

START_TEST(test_large_chunked)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "large.h5"));
	xb_h5r *r;
	const int64_t dims[2] = { 300, 200 };
	double *v = malloc(300 * 200 * sizeof *v);
	xb_h5_info info;
	void *data;

	/* A smooth signal: 480,000 bytes, above the 256 KiB threshold of compression. */
	for (int i = 0; i < 300 * 200; i++)
		v[i] = sin(i * 0.001) * 80.0;
	OK_W(w, xb_h5w_write(w, "/membrane", XB_H5_FLOAT64, 2, dims, v, "LSB"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	check_storage(path, "/membrane", 1, 1, 0);
	r = open_ok(path);
	OK_R(r, xb_h5r_read(r, "/membrane", XB_H5_FLOAT64, 2, dims, XB_H5_FINITE, &data, NULL));
	ck_assert_mem_eq(data, v, 300 * 200 * sizeof *v);
	free(data);
	OK_R(r, xb_h5r_info(r, "/membrane", &info));
	ck_assert_int_eq(info.chunked, 1);
	ck_assert_int_eq(info.shuffle, 1);
	ck_assert_int_eq(info.deflate, 4);
	/* Compression works on smooth data: less than the raw 480,000 bytes stored. */
	ck_assert_int_lt(info.storage_bytes, 480000);
	xb_h5r_free(r);
	free(v);
}
END_TEST

START_TEST(test_extendible_flushes)
{
	char path[600], snap[600];
	xb_h5w *w = new_trace(IN_DIR(path, "rows.h5"));
	xb_h5r *r;
	const int64_t row23[2] = { 2, 3 }, row4[1] = { 4 };
	float rows[5][2][3];
	int32_t status;
	uint8_t cnt[4];
	int64_t nrows;
	double got[3][2][3];
	float *fp;
	int32_t *ip;
	char msg[32], **sp;
	const char *msgp;
	void *data;
	int total = 0;

	IN_DIR(snap, "snapshot.h5");
	OK_W(w, xb_h5w_group(w, "/points", NULL, 0));
	OK_W(w, xb_h5w_extendible(w, "/points/rows", XB_H5_FLOAT32, 2, row23, "LSB"));
	OK_W(w, xb_h5w_extendible(w, "/points/status", XB_H5_INT32, 0, NULL, "1"));
	OK_W(w, xb_h5w_extendible(w, "/points/message", XB_H5_STRING, 0, NULL, "1"));
	OK_W(w, xb_h5w_extendible(w, "/points/counts", XB_H5_UINT8, 1, row4, "1"));
	ck_assert(!file_exists(path));
	OK_W(w, xb_h5w_publish(w));
	ck_assert(file_exists(path));
	ck_assert_int_eq(count_tmp(), 0);
	OK_W(w, xb_h5w_publish(w));   /* a no-op once in place */

	/* Batch k appends k+1 rows: 1+2+3+4+5 = 15 rows in 5 flushes.  Row j holds
	 * element e = 10 j + e / 10 (e = 0..5), so every value names its place. */
	for (int k = 0; k < 5; k++) {
		for (int j = 0; j <= k; j++)
			for (int e = 0; e < 6; e++)
				rows[j][e / 3][e % 3] = 10.0f * (float)(total + j) + (float)e / 10.0f;
		OK_W(w, xb_h5w_append(w, "/points/rows", rows, (size_t)k + 1));
		total += k + 1;
		status = 100 + k;
		OK_W(w, xb_h5w_append(w, "points/status", &status, 1));
		snprintf(msg, sizeof msg, "point %d", k);
		msgp = msg;
		OK_W(w, xb_h5w_append(w, "/points/message", &msgp, 1));
		for (int e = 0; e < 4; e++)
			cnt[e] = (uint8_t)(k * 4 + e);
		OK_W(w, xb_h5w_append(w, "/points/counts", cnt, 1));
		OK_W(w, xb_h5w_flush(w));

		/* The file on disk, as copied now, is complete and readable. */
		copy_file(path, snap);
		r = open_ok(snap);
		OK_R(r, xb_h5r_read(r, "/points/rows", XB_H5_FLOAT32, 3, NULL, XB_H5_FINITE, &data, NULL));
		fp = data;
		ck_assert(fp[(total - 1) * 6 + 5] == 10.0f * (float)(total - 1) + 0.5f);
		free(data);
		OK_R(r, xb_h5r_read(r, "/points/status", XB_H5_INT32, 1, (int64_t[]){ k + 1 }, 0, &data,
				    NULL));
		ip = data;
		ck_assert_int_eq(ip[k], 100 + k);
		free(data);
		OK_R(r, xb_h5r_read(r, "/points/message", XB_H5_STRING, 1, NULL, 0, &data, NULL));
		sp = data;
		ck_assert_str_eq(sp[k], msg);
		free(data);
		xb_h5r_free(r);
	}
	OK_W(w, xb_h5w_nrows(w, "/points/rows", &nrows));
	ck_assert_int_eq(nrows, 15);
	/* Writing row 17 leaves rows 15 and 16 at the fill value NaN. */
	OK_W(w, xb_h5w_write_rows(w, "/points/rows", 17, rows, 1));
	/* Writing status row 7 leaves rows 5, 6 at 0. */
	status = 7;
	OK_W(w, xb_h5w_write_rows(w, "/points/status", 7, &status, 1));
	OK_W(w, xb_h5w_commit(w));
	ck_assert_int_eq(xb_h5w_flush(w), XB_ESTATE);
	xb_h5w_free(w);

	check_storage(path, "/points/rows", 1, 1, 1);
	check_storage(path, "/points/status", 1, 1, 1);
	check_storage(path, "/points/counts", 1, 1, 1);
	check_storage(path, "/points/message", 1, 0, 1);   /* strings: chunked, no filter */

	r = open_ok(path);
	OK_R(r, xb_h5r_read(r, "/points/rows", XB_H5_FLOAT32, 3, (int64_t[]){ 18, 2, 3 }, 0, &data,
			    NULL));
	fp = data;
	ck_assert(isnan(fp[15 * 6]) && isnan(fp[16 * 6 + 5]));
	/* Row 17 got rows[0] of the last batch, made for row 10: 10 * 10. */
	ck_assert(fp[17 * 6] == 100.0f);
	free(data);
	ck_assert_int_eq(xb_h5r_read(r, "/points/rows", XB_H5_FLOAT32, 3, NULL, XB_H5_FINITE, &data,
				     NULL), XB_ENUMERIC);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /points/rows: element [15,0,0] is NaN");
	ck_assert_ptr_null(data);
	/* Rows 2..4 as float64: 20, 30, 40 plus the element tenths. */
	OK_R(r, xb_h5r_read_rows(r, "/points/rows", XB_H5_FLOAT64, 2, 3, 0, got));
	ck_assert(got[0][0][0] == 20.0f && got[2][1][2] == 40.0f + 0.5f);
	ck_assert(got[1][0][1] == (double)(30.0f + 0.1f));
	OK_R(r, xb_h5r_read(r, "/points/status", XB_H5_INT32, 1, (int64_t[]){ 8 }, 0, &data, NULL));
	ip = data;
	ck_assert_int_eq(ip[4], 104);
	ck_assert_int_eq(ip[5], 0);
	ck_assert_int_eq(ip[7], 7);
	free(data);
	OK_R(r, xb_h5r_read(r, "/points/counts", XB_H5_UINT8, 2, (int64_t[]){ 5, 4 }, 0, &data, NULL));
	ck_assert_int_eq(((uint8_t *)data)[19], 19);   /* batch 4, element 3: 4*4+3 */
	free(data);
	xb_h5r_free(r);
}
END_TEST

START_TEST(test_temp_then_rename)
{
	char path[600], fresh[600];
	xb_h5w *w;
	xb_h5r *r;
	char *s;
	const int64_t dims[1] = { 3 };
	const int16_t v[3] = { 1, 2, 3 };

	IN_DIR(path, "t.h5");
	IN_DIR(fresh, "fresh.h5");
	w = new_trace(path);
	OK_W(w, xb_h5w_attr_str(w, "/", "marker", "old"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	ck_assert_int_eq(count_tmp(), 0);

	/* A new writer: the old file stays readable and unchanged until the commit. */
	w = new_trace(path);
	ck_assert_int_eq(count_tmp(), 1);
	OK_W(w, xb_h5w_attr_str(w, "/", "marker", "new"));
	OK_W(w, xb_h5w_write(w, "/v", XB_H5_INT16, 1, dims, v, "1"));
	OK_W(w, xb_h5w_flush(w));
	r = open_ok(path);
	OK_R(r, xb_h5r_attr_str(r, "/", "marker", &s));
	ck_assert_str_eq(s, "old");
	free(s);
	ck_assert_int_eq(xb_h5r_exists(r, "/v"), 0);
	xb_h5r_free(r);
	OK_W(w, xb_h5w_commit(w));
	ck_assert_int_eq(count_tmp(), 0);
	ck_assert_int_eq(xb_h5w_commit(w), XB_ESTATE);
	ASSERT_HAS(xb_h5w_errmsg(w), "after the file was committed");
	xb_h5w_free(w);
	r = open_ok(path);
	OK_R(r, xb_h5r_attr_str(r, "/", "marker", &s));
	ck_assert_str_eq(s, "new");
	free(s);
	xb_h5r_free(r);

	/* Abort: freeing without commit removes the temporary file, the old file is intact. */
	w = new_trace(path);
	OK_W(w, xb_h5w_attr_str(w, "/", "marker", "aborted"));
	ck_assert_int_eq(count_tmp(), 1);
	xb_h5w_free(w);
	ck_assert_int_eq(count_tmp(), 0);
	r = open_ok(path);
	OK_R(r, xb_h5r_attr_str(r, "/", "marker", &s));
	ck_assert_str_eq(s, "new");
	free(s);
	xb_h5r_free(r);

	/* A new name: nothing exists there before the commit, nor after an abort. */
	w = new_trace(fresh);
	ck_assert(!file_exists(fresh));
	xb_h5w_free(w);
	ck_assert(!file_exists(fresh));
	ck_assert_int_eq(count_tmp(), 0);

	/* Published, then freed without commit: the file in place is kept, complete. */
	w = new_trace(fresh);
	OK_W(w, xb_h5w_extendible(w, "/x", XB_H5_INT16, 0, NULL, "1"));
	OK_W(w, xb_h5w_publish(w));
	OK_W(w, xb_h5w_append(w, "/x", v, 3));
	xb_h5w_free(w);
	r = open_ok(fresh);
	ck_assert_int_eq(xb_h5r_read_rows(r, "/x", XB_H5_INT16, 0, 3, 0, (int16_t[3]){ 0 }), XB_OK);
	xb_h5r_free(r);
}
END_TEST

START_TEST(test_open_append)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "sweep.h5"));
	xb_h5r *r;
	const double x[5] = { 0.5, 1.5, 2.5, 3.5, 4.5 };
	int64_t n;
	char *s;
	void *data;

	OK_W(w, xb_h5w_group(w, "/points", "xbarsim-sweep-points", 1));
	OK_W(w, xb_h5w_extendible(w, "/points/x", XB_H5_FLOAT64, 0, NULL, "1"));
	OK_W(w, xb_h5w_append(w, "/points/x", x, 3));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);

	/* Resume: 3 rows there, 2 more written, then a partial point cut off (resize 4). */
	w = xb_h5w_open_append(path, NULL);
	ck_assert_msg(w != NULL, "%s", xb_errmsg(NULL));
	OK_W(w, xb_h5w_nrows(w, "/points/x", &n));
	ck_assert_int_eq(n, 3);
	OK_W(w, xb_h5w_append(w, "/points/x", x + 3, 2));
	OK_W(w, xb_h5w_flush(w));
	OK_W(w, xb_h5w_resize(w, "/points/x", 4));
	OK_W(w, xb_h5w_group(w, "/resumed", NULL, 0));   /* takes the root's schema */
	OK_W(w, xb_h5w_attr_str(w, "/", "command_line", "xbarsim sweep s.ini -o sweep.h5 --resume"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	ck_assert_int_eq(count_tmp(), 0);

	r = open_ok(path);
	OK_R(r, xb_h5r_read(r, "/points/x", XB_H5_FLOAT64, 1, (int64_t[]){ 4 }, 0, &data, NULL));
	ck_assert_mem_eq(data, x, 4 * sizeof *x);
	free(data);
	OK_R(r, xb_h5r_schema(r, "/resumed", "xbarsim-trace", 1, NULL));
	OK_R(r, xb_h5r_attr_str(r, "/", "command_line", &s));
	ck_assert_str_eq(s, "xbarsim sweep s.ini -o sweep.h5 --resume");
	free(s);
	OK_R(r, xb_h5r_attr_str(r, "/", "config", &s));   /* kept */
	ck_assert_str_eq(s, "[adc]\nbits = 8\n");
	free(s);
	xb_h5r_free(r);
}
END_TEST

START_TEST(test_conversions)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "conv.h5"));
	xb_h5r *r;
	const int16_t i16[4] = { -300, -1, 0, 32767 };
	const int64_t i64[3] = { -128, 5, 127 };
	const uint8_t u8[3] = { 0, 200, 7 };
	const double f64[2] = { 2.385, -1.0 / 3.0 }, big[2] = { 1.0, 1e300 };
	void *data;
	int32_t *p32;
	double *pd;
	float *pf;
	int8_t *p8;

	OK_W(w, xb_h5w_write(w, "/i16", XB_H5_INT16, 1, (int64_t[]){ 4 }, i16, "1"));
	OK_W(w, xb_h5w_write(w, "/i64", XB_H5_INT64, 1, (int64_t[]){ 3 }, i64, "1"));
	OK_W(w, xb_h5w_write(w, "/u8", XB_H5_UINT8, 1, (int64_t[]){ 3 }, u8, "1"));
	OK_W(w, xb_h5w_write(w, "/f64", XB_H5_FLOAT64, 1, (int64_t[]){ 2 }, f64, "1"));
	OK_W(w, xb_h5w_write(w, "/big", XB_H5_FLOAT64, 1, (int64_t[]){ 2 }, big, "1"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);

	r = open_ok(path);
	/* Widening integers and integers as floats: exact. */
	OK_R(r, xb_h5r_read(r, "/i16", XB_H5_INT32, 1, NULL, 0, &data, NULL));
	p32 = data;
	ck_assert_int_eq(p32[0], -300);
	ck_assert_int_eq(p32[3], 32767);
	free(data);
	OK_R(r, xb_h5r_read(r, "/i16", XB_H5_FLOAT64, 1, NULL, 0, &data, NULL));
	pd = data;
	ck_assert(pd[0] == -300.0 && pd[3] == 32767.0);
	free(data);
	/* Narrowing with every value in range (an h5py int64 array of small weights). */
	OK_R(r, xb_h5r_read(r, "/i64", XB_H5_INT8, 1, NULL, 0, &data, NULL));
	p8 = data;
	ck_assert_int_eq(p8[0], -128);
	ck_assert_int_eq(p8[2], 127);
	free(data);
	/* Narrowing with a value out of range: 200 does not fit int8 [-128, 127]. */
	ck_assert_int_eq(xb_h5r_read(r, "/u8", XB_H5_INT8, 1, NULL, 0, &data, NULL), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "conv.h5: dataset /u8: element [1] = 200 lies outside the range of int8");
	ck_assert_int_eq(xb_h5r_read(r, "/i16", XB_H5_UINT16, 1, NULL, 0, &data, NULL), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "element [0] = -300");
	/* float64 -> float32: rounded; beyond FLT_MAX is an error. */
	OK_R(r, xb_h5r_read(r, "/f64", XB_H5_FLOAT32, 1, NULL, 0, &data, NULL));
	pf = data;
	ck_assert(pf[0] == 2.385f && pf[1] == (float)(-1.0 / 3.0));
	free(data);
	ck_assert_int_eq(xb_h5r_read(r, "/big", XB_H5_FLOAT32, 1, NULL, 0, &data, NULL), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "element [1] = 1e+300 lies outside the range of float32");
	/* Floats are never read as integers. */
	ck_assert_int_eq(xb_h5r_read(r, "/f64", XB_H5_INT64, 1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /f64: expected 1-D int64 [*], found 1-D float64 [2]");
	xb_h5r_free(r);
}
END_TEST

/* A file as other tools write it (h5py with numpy bytes, MATLAB, Fortran): fixed-length
 * space-padded strings, big-endian integers, numbers as double, no schema. */
static void write_foreign(const char *path)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t st = H5Tcopy(H5T_C_S1), sp, d, a, s1;
	hsize_t n3 = 3, n2 = 2;
	const char fixed[3][6] = { "ab   ", "cdefg", "     " };
	const int32_t be[2] = { -5, 70000 };
	const double eight = 8.0, half = 2.5;
	const uint64_t huge = UINT64_C(1) << 63;

	H5Tset_size(st, 5);
	H5Tset_strpad(st, H5T_STR_SPACEPAD);
	sp = H5Screate_simple(1, &n3, NULL);
	d = H5Dcreate2(f, "/fixed", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	{
		char raw[15];
		for (int i = 0; i < 3; i++)
			memcpy(raw + 5 * i, fixed[i], 5);
		H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
	}
	H5Dclose(d);
	H5Sclose(sp);
	s1 = H5Screate(H5S_SCALAR);
	a = H5Acreate2(f, "fixed_attr", st, s1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, st, "hx   ");
	H5Aclose(a);
	a = H5Acreate2(f, "input_bits", H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_DOUBLE, &eight);
	H5Aclose(a);
	a = H5Acreate2(f, "half", H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_DOUBLE, &half);
	H5Aclose(a);
	a = H5Acreate2(f, "huge", H5T_STD_U64LE, s1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_UINT64, &huge);
	H5Aclose(a);
	H5Sclose(s1);
	sp = H5Screate_simple(1, &n2, NULL);
	d = H5Dcreate2(f, "/be", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, be);
	H5Dclose(d);
	H5Sclose(sp);
	H5Tclose(st);
	H5Fclose(f);
}

START_TEST(test_foreign_files)
{
	char path[600];
	xb_h5r *r;
	void *data;
	char **sp, *s;
	int64_t v;

	write_foreign(IN_DIR(path, "foreign.h5"));
	r = open_ok(path);
	OK_R(r, xb_h5r_read(r, "/fixed", XB_H5_STRING, 1, NULL, 0, &data, NULL));
	sp = data;
	ck_assert_str_eq(sp[0], "ab");       /* space padding removed */
	ck_assert_str_eq(sp[1], "cdefg");
	ck_assert_str_eq(sp[2], "");
	free(data);
	OK_R(r, xb_h5r_attr_str(r, "/", "fixed_attr", &s));
	ck_assert_str_eq(s, "hx");
	free(s);
	OK_R(r, xb_h5r_read(r, "/be", XB_H5_INT32, 1, NULL, 0, &data, NULL));
	ck_assert_int_eq(((int32_t *)data)[0], -5);
	ck_assert_int_eq(((int32_t *)data)[1], 70000);
	free(data);
	OK_R(r, xb_h5r_attr_int(r, "/", "input_bits", &v));   /* MATLAB's double 8.0 */
	ck_assert_int_eq(v, 8);
	ck_assert_int_eq(xb_h5r_attr_int(r, "/", "half", &v), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "attribute 'half' of /: expected an integer, found float64 2.5");
	ck_assert_int_eq(xb_h5r_attr_int(r, "/", "huge", &v), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "9223372036854775808 exceeds int64");
	ck_assert_int_eq(xb_h5r_schema(r, NULL, "xbarsim-measurement", 1, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r),
		   "foreign.h5: /: expected schema xbarsim-measurement version <= 1, found no schema attribute");
	xb_h5r_free(r);
	/* Not an xbarsim file: cannot be reopened to append. */
	ck_assert_ptr_null(xb_h5w_open_append(path, NULL));
	ASSERT_HAS(xb_errmsg(NULL), "foreign.h5: not an xbarsim file");
}
END_TEST

/* A file with what xbarsim never writes but other tools may: a compound dataset, h5py's
 * enum booleans, h5py's Empty (null dataspace), uint64 beyond int64, a dataset without
 * unit, a dangling soft link and two hard links back to the root (a cycle). */
static void write_odd(const char *path)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t ct = H5Tcreate(H5T_COMPOUND, 16), bt = H5Tenum_create(H5T_NATIVE_INT8);
	hid_t s2, sn, ss, d, a;
	hsize_t n2 = 2;
	const double pairs[4] = { 1, 2, 3, 4 };
	const int8_t no = 0, yes = 1, flags[2] = { 1, 0 };
	const uint64_t big[2] = { 5, UINT64_C(1) << 63 };

	H5Tinsert(ct, "re", 0, H5T_NATIVE_DOUBLE);
	H5Tinsert(ct, "im", 8, H5T_NATIVE_DOUBLE);
	H5Tenum_insert(bt, "FALSE", &no);
	H5Tenum_insert(bt, "TRUE", &yes);
	s2 = H5Screate_simple(1, &n2, NULL);
	sn = H5Screate(H5S_NULL);
	ss = H5Screate(H5S_SCALAR);
	d = H5Dcreate2(f, "/complex", ct, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, pairs);
	H5Dclose(d);
	d = H5Dcreate2(f, "/flags", bt, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, bt, H5S_ALL, H5S_ALL, H5P_DEFAULT, flags);
	H5Dclose(d);
	d = H5Dcreate2(f, "/empty", H5T_IEEE_F64LE, sn, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dclose(d);
	d = H5Dcreate2(f, "/big", H5T_STD_U64LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, big);
	H5Dclose(d);
	a = H5Acreate2(f, "ok", bt, ss, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, bt, &yes);
	H5Aclose(a);
	a = H5Acreate2(f, "nothing", H5T_IEEE_F64LE, sn, H5P_DEFAULT, H5P_DEFAULT);
	H5Aclose(a);
	H5Lcreate_soft("/nowhere", f, "/dangling", H5P_DEFAULT, H5P_DEFAULT);
	H5Lcreate_hard(f, "/", f, "/loop1", H5P_DEFAULT, H5P_DEFAULT);
	H5Lcreate_hard(f, "/", f, "/loop2", H5P_DEFAULT, H5P_DEFAULT);
	H5Sclose(ss);
	H5Sclose(sn);
	H5Sclose(s2);
	H5Tclose(bt);
	H5Tclose(ct);
	H5Fclose(f);
}

START_TEST(test_odd_files)
{
	char path[600], *text = NULL;
	xb_h5r *r;
	void *data;
	char *s;
	double d;
	size_t len = 0;
	FILE *out;

	write_odd(IN_DIR(path, "odd.h5"));
	r = open_ok(path);
	ck_assert_int_eq(xb_h5r_read(r, "/complex", XB_H5_FLOAT64, -1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "odd.h5: dataset /complex: expected float64, found 1-D compound [2]");
	ck_assert_int_eq(xb_h5r_read(r, "/flags", XB_H5_INT8, 1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "expected 1-D int8 [*], found 1-D enum [2]");
	ck_assert_int_eq(xb_h5r_read(r, "/empty", XB_H5_FLOAT64, -1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "odd.h5: dataset /empty holds no data (null dataspace)");
	/* uint64 2^63 does not fit int64; 5 as uint64 reads as anything. */
	ck_assert_int_eq(xb_h5r_read(r, "/big", XB_H5_INT64, 1, NULL, 0, &data, NULL), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /big: element [1] = 9223372036854775808 lies outside the range of int64");
	OK_R(r, xb_h5r_read_rows(r, "/big", XB_H5_INT8, 0, 1, 0, (int8_t[1]){ 0 }));
	ck_assert_int_eq(xb_h5r_attr_int(r, "/", "ok", &(int64_t){ 0 }), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "attribute 'ok' of /: expected an integer, found scalar enum");
	ck_assert_int_eq(xb_h5r_attr_double(r, "/", "nothing", &d), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "attribute 'nothing' of /: expected a number, found an empty float64");
	ck_assert_int_eq(xb_h5r_attr_str(r, "/", "nothing", &s), XB_EFORMAT);
	ck_assert_int_eq(xb_h5r_exists(r, "/dangling"), 0);
	ck_assert_int_eq(xb_h5r_exists(r, "/loop1/loop2/big/"), 1);   /* trailing '/' allowed */
	xb_h5r_free(r);

	/* describe terminates on the cycle and shows what it cannot read. */
	out = open_memstream(&text, &len);
	ck_assert_int_eq(xb_h5_describe(path, out, NULL), XB_OK);
	fclose(out);
	ASSERT_HAS(text, "odd.h5: HDF5 file without an xbarsim schema\n");
	ASSERT_HAS(text, "@ok = <enum scalar>\n");
	ASSERT_HAS(text, "@nothing = <float64 empty>\n");
	ASSERT_HAS(text, "/empty                       dataset float64 empty, NO UNIT");
	ASSERT_HAS(text, "dataset compound [2], NO UNIT");
	ASSERT_HAS(text, "/dangling                    (unresolvable link)\n");
	ASSERT_HAS(text, "/loop1                       group, another link to a group listed above\n");
	ASSERT_HAS(text, "/loop2                       group, another link to a group listed above\n");
	ck_assert_ptr_null(strstr(text, "/loop1/"));
	free(text);
}
END_TEST

START_TEST(test_describe)
{
	char path[600];
	xb_err err;
	xb_h5w *w = new_trace(IN_DIR(path, "desc.h5"));
	const int16_t codes[12] = { 0 };
	const double pair[2] = { 1.5, 2.5 };
	const int64_t row[1] = { 3 }, ten[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	char long_text[201], *text = NULL;
	size_t len = 0;
	FILE *out;

	memset(long_text, 'x', 200);
	long_text[200] = '\0';
	OK_W(w, xb_h5w_attr_int(w, "/", "samples", 1000));
	OK_W(w, xb_h5w_attr_double(w, "/", "accuracy_device", 0.8125));
	OK_W(w, xb_h5w_attr_doubles(w, "/", "pair", pair, 2));
	OK_W(w, xb_h5w_attr_ints(w, "/", "ten", ten, 10));
	OK_W(w, xb_h5w_attr_str(w, "/", "long", long_text));
	OK_W(w, xb_h5w_group(w, "/layers", NULL, 0));
	OK_W(w, xb_h5w_group(w, "/layers/10", NULL, 0));
	OK_W(w, xb_h5w_group(w, "/layers/2", NULL, 0));
	OK_W(w, xb_h5w_write(w, "/layers/2/codes", XB_H5_INT16, 2, (int64_t[]){ 3, 4 }, codes, "LSB"));
	OK_W(w, xb_h5w_extendible(w, "/events", XB_H5_FLOAT32, 1, row, "ns"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);

	out = open_memstream(&text, &len);
	ck_assert_int_eq(xb_h5_describe(path, out, &err), XB_OK);
	fclose(out);
	ASSERT_HAS(text, "desc.h5: xbarsim-trace version 1, written by xbarsim " PACKAGE_VERSION "\n");
	ASSERT_HAS(text, "@samples = 1000\n");
	ASSERT_HAS(text, "@pair = [1.5, 2.5]\n");
	ASSERT_HAS(text, "@accuracy_device = 0.8125\n");
	/* At most 8 values and 72 characters shown. */
	ASSERT_HAS(text, "@ten = [0, 1, 2, 3, 4, 5, 6, 7, ...] (10 values)\n");
	ASSERT_HAS(text, "xxx\" ... (200 bytes)\n");
	ASSERT_HAS(text, "@config = \"[adc]\" ... (2 lines, 15 bytes)\n");
	ASSERT_HAS(text, "@command_line = \"xbarsim run -o t.h5\"\n");
	ASSERT_HAS(text, "dataset int16 [3,4], unit \"LSB\"");
	ASSERT_HAS(text, "dataset float32 [0/*,3], unit \"ns\", chunks [");
	ASSERT_HAS(text, "shuffle deflate 4");
	/* Natural order: 2 before 10. */
	ck_assert_ptr_nonnull(strstr(text, "/layers/10 "));
	ck_assert(strstr(text, "/layers/2 ") < strstr(text, "/layers/10 "));
	ck_assert(strstr(text, "/layers/2/codes") < strstr(text, "/layers/10 "));
	free(text);

	/* Errors come from opening. */
	out = open_memstream(&text, &len);
	ck_assert_int_eq(xb_h5_describe(IN_DIR(path, "nope.h5"), out, &err), XB_ENOENT);
	ASSERT_HAS(err.msg, "nope.h5: no such file");
	fclose(out);
	free(text);
	ck_assert_int_eq(xb_h5_describe(path, NULL, &err), XB_EINVAL);
}
END_TEST

START_TEST(test_deterministic)
{
	char a[600], b[600];
	const int64_t dims[1] = { 4 };
	const double v[4] = { 1, 2, 3, 4 };
	FILE *fa, *fb;
	int ca, cb;

	for (int k = 0; k < 2; k++) {
		xb_h5w *w = new_trace(k ? IN_DIR(b, "b.h5") : IN_DIR(a, "a.h5"));
		OK_W(w, xb_h5w_group(w, "/g", NULL, 0));
		OK_W(w, xb_h5w_write(w, "/g/v", XB_H5_FLOAT64, 1, dims, v, "1"));
		OK_W(w, xb_h5w_extendible(w, "/g/r", XB_H5_FLOAT64, 0, NULL, "1"));
		OK_W(w, xb_h5w_append(w, "/g/r", v, 4));
		OK_W(w, xb_h5w_commit(w));
		xb_h5w_free(w);
	}
	/* No timestamps in the file: the same calls give the same bytes. */
	ck_assert_int_eq(file_size(a), file_size(b));
	fa = fopen(a, "rb");
	fb = fopen(b, "rb");
	do {
		ca = fgetc(fa);
		cb = fgetc(fb);
		ck_assert_int_eq(ca, cb);
	} while (ca != EOF);
	fclose(fa);
	fclose(fb);
}
END_TEST

START_TEST(test_join_argv)
{
	char *const argv[] = { "xbarsim", "run", "-s", "adc.bits=6", "a b", "it's", "", "x*" };
	char *s = xb_h5_join_argv(8, argv);

	/* POSIX shell quoting: a quote inside quotes is written '\''. */
	ck_assert_str_eq(s, "xbarsim run -s adc.bits=6 'a b' 'it'\\''s' '' 'x*'");
	free(s);
	s = xb_h5_join_argv(0, argv);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_str_eq(xb_h5_type_name(XB_H5_UINT16), "uint16");
	ck_assert_str_eq(xb_h5_type_name(XB_H5_NOTYPE), "?");
	ck_assert_uint_eq(xb_h5_type_size(XB_H5_FLOAT32), 4);
	ck_assert_uint_eq(xb_h5_type_size(XB_H5_NTYPES), 0);
}
END_TEST

/* ---- limits: every error path ---------------------------------------------------- */

START_TEST(test_open_errors)
{
	char path[600], good[600];
	xb_err err;
	xb_h5w *w;
	double *v = malloc(20000 * sizeof *v);

	/* Missing file: XB_ENOENT naming it, in ERR or in the thread-local slot. */
	ck_assert_ptr_null(xb_h5r_open(IN_DIR(path, "missing.h5"), &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ASSERT_HAS(err.msg, path);
	ASSERT_HAS(err.msg, "no such file");
	ck_assert_ptr_null(xb_h5r_open(path, NULL));
	ASSERT_HAS(xb_errmsg(NULL), "missing.h5: no such file");
	ck_assert_ptr_null(xb_h5r_open(IN_DIR(path, "no/dir/x.h5"), &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ck_assert_ptr_null(xb_h5r_open("", &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_h5r_open(NULL, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);

	/* A text file. */
	write_text(IN_DIR(path, "text.h5"), "adc.bits = 8\nthis is not HDF5\n");
	ck_assert_ptr_null(xb_h5r_open(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	ASSERT_HAS(err.msg, path);
	ASSERT_HAS(err.msg, "not an HDF5 file (30 bytes");

	/* An empty file. */
	write_text(IN_DIR(path, "empty.h5"), "");
	ck_assert_ptr_null(xb_h5r_open(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	ASSERT_HAS(err.msg, "empty.h5: not an HDF5 file");

	/* A directory. */
	ck_assert_ptr_null(xb_h5r_open(tmpdir, &err));
	ck_assert_int_eq(err.code, XB_EIO);
	ASSERT_HAS(err.msg, "is a directory");

	/* A good file truncated, as by a crash of a writer without the temporary file. */
	for (int i = 0; i < 20000; i++)
		v[i] = i * 0.5;
	w = new_trace(IN_DIR(good, "good.h5"));
	OK_W(w, xb_h5w_write(w, "/v", XB_H5_FLOAT64, 1, (int64_t[]){ 20000 }, v, "1"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	ck_assert_int_gt(file_size(good), 160000);   /* 20,000 doubles, uncompressed */
	copy_file(good, IN_DIR(path, "half.h5"));
	ck_assert_int_eq(truncate(path, file_size(good) / 2), 0);
	ck_assert_ptr_null(xb_h5r_open(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	ASSERT_HAS(err.msg, "half.h5: damaged or truncated HDF5 file");
	ASSERT_HAS(err.msg, "(HDF5: ");         /* HDF5's innermost reason appended */
	ASSERT_HAS(err.msg, "truncated file");
	/* Cut inside the superblock: the signature remains, nothing else. */
	copy_file(good, IN_DIR(path, "cut.h5"));
	ck_assert_int_eq(truncate(path, 20), 0);
	ck_assert_ptr_null(xb_h5r_open(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	ASSERT_HAS(err.msg, "cut.h5: ");
	free(v);
}
END_TEST

/* A file whose metadata is intact but whose compressed data was overwritten: reading
 * is an error naming the file and dataset, never a crash. */
START_TEST(test_corrupt_data)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "corrupt.h5"));
	xb_h5r *r;
	xb_h5_info info;
	double *v = malloc(100000 * sizeof *v);
	void *data;
	FILE *f;
	long size;

	for (int i = 0; i < 100000; i++)
		v[i] = sin(i * 0.01);
	OK_W(w, xb_h5w_write(w, "/v", XB_H5_FLOAT64, 1, (int64_t[]){ 100000 }, v, "1"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	r = open_ok(path);
	OK_R(r, xb_h5r_info(r, "/v", &info));
	xb_h5r_free(r);
	size = file_size(path);
	/* The chunks are the bulk of the file, after the metadata: overwrite the middle. */
	ck_assert_int_gt(info.storage_bytes, size / 2);
	f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, size / 2, SEEK_SET);
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	r = open_ok(path);
	ck_assert_int_eq(xb_h5r_read(r, "/v", XB_H5_FLOAT64, 1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "corrupt.h5: dataset /v cannot be read (HDF5: ");
	ck_assert_ptr_null(data);
	xb_h5r_free(r);
	free(v);
}
END_TEST

START_TEST(test_read_errors)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "measured.h5"));
	xb_h5r *r;
	double *codes = calloc(10 * 256, sizeof *codes);
	const char *s1[1] = { "x" };
	void *data = (void *)1;
	char *s, **names;
	double rowbuf[512], *dv;
	size_t n;
	int64_t v;
	double d;
	int64_t three[3] = { 1, 2, 3 };
	int16_t small[2];

	OK_W(w, xb_h5w_write(w, "/codes", XB_H5_FLOAT64, 2, (int64_t[]){ 10, 256 }, codes, "LSB"));
	OK_W(w, xb_h5w_write(w, "/names", XB_H5_STRING, 1, (int64_t[]){ 1 }, s1, "1"));
	OK_W(w, xb_h5w_attr_ints(w, "/", "three", three, 3));
	OK_W(w, xb_h5w_attr_str(w, "/", "model", "ordered"));
	OK_W(w, xb_h5w_group(w, "/grp", NULL, 0));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	free(codes);
	r = open_ok(path);

	/* Wrong rank (and type): the message of the design comment. */
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_INT16, 3, (int64_t[]){ -1, -1, -1 }, 0, &data,
				     NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), path);
	ASSERT_HAS(xb_h5r_errmsg(r),
		   "measured.h5: dataset /codes: expected 3-D int16 [*,*,*], found 2-D float64 [10,256]");
	ck_assert_ptr_null(data);
	/* Wrong dimensions. */
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_FLOAT64, 2, (int64_t[]){ 10, 128 }, 0, &data,
				     NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /codes: expected 2-D float64 [10,128], found 2-D float64 [10,256]");
	/* Wrong type, right shape. */
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_INT16, 2, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "expected 2-D int16 [*,*], found 2-D float64 [10,256]");
	ck_assert_int_eq(xb_h5r_read(r, "/names", XB_H5_FLOAT64, -1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /names: expected float64, found 1-D string [1]");
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_STRING, -1, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "expected string, found 2-D float64 [10,256]");
	ck_assert_int_eq(xb_h5r_read_rows(r, "/codes", XB_H5_INT16, 0, 1, 0, small), XB_EFORMAT);
	/* Rows beyond the end. */
	ck_assert_int_eq(xb_h5r_read_rows(r, "/codes", XB_H5_FLOAT64, 9, 2, 0, rowbuf), XB_ERANGE);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /codes: rows 9..10 requested, it has 10");
	ck_assert_int_eq(xb_h5r_read_rows(r, "/names", XB_H5_STRING, 0, 1, 0, small), XB_EINVAL);
	/* Missing dataset, missing intermediate group, a group where a dataset is expected. */
	ck_assert_int_eq(xb_h5r_read(r, "/inputs", XB_H5_UINT8, 2, NULL, 0, &data, NULL), XB_ENOENT);
	ASSERT_HAS(xb_h5r_errmsg(r), "measured.h5: dataset /inputs does not exist");
	ck_assert_int_eq(xb_h5r_read(r, "/a/b/c", XB_H5_UINT8, 2, NULL, 0, &data, NULL), XB_ENOENT);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /a/b/c does not exist");
	ck_assert_int_eq(xb_h5r_read(r, "/grp", XB_H5_UINT8, 2, NULL, 0, &data, NULL), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "measured.h5: /grp is a group, expected a dataset");
	/* Bad arguments. */
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_NTYPES, 2, NULL, 0, &data, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_h5r_read(r, "/codes", XB_H5_FLOAT64, 2, NULL, 0, NULL, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_h5r_read(NULL, "/codes", XB_H5_FLOAT64, 2, NULL, 0, &data, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_h5r_info(r, "/nope", &(xb_h5_info){ 0 }), XB_ENOENT);
	ck_assert_int_eq(xb_h5r_list(r, "/codes", &names, &n), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "/codes is not a group");

	/* Missing attribute, attribute of a missing object, attributes of the wrong type. */
	ck_assert_int_eq(xb_h5r_attr_double(r, "/", "gain", &d), XB_ENOENT);
	ASSERT_HAS(xb_h5r_errmsg(r), "measured.h5: / has no attribute 'gain'");
	ck_assert_int_eq(xb_h5r_attr_str(r, "/nope", "unit", &s), XB_ENOENT);
	ASSERT_HAS(xb_h5r_errmsg(r), "measured.h5: /nope does not exist (looking for its attribute 'unit')");
	ck_assert_int_eq(xb_h5r_attr_int(r, "/", "model", &v), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "attribute 'model' of /: expected an integer, found scalar string");
	ck_assert_int_eq(xb_h5r_attr_str(r, "/", "three", &s), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "attribute 'three' of /: expected a string, found 1-D int64 [3]");
	ck_assert_ptr_null(s);
	ck_assert_int_eq(xb_h5r_attr_double(r, "/", "three", &d), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "expected a number, found 1-D int64 [3]");
	ck_assert_int_eq(xb_h5r_attr_doubles(r, "/", "model", &dv, &n), XB_EFORMAT);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/", "", &s), XB_EINVAL);
	ck_assert_int_eq(xb_h5r_attr_info(r, "/", "gain", &(xb_h5_info){ 0 }), XB_ENOENT);

	/* Wrong schema, too new a version. */
	ck_assert_int_eq(xb_h5r_schema(r, NULL, "xbarsim-measurement", 1, &v), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r),
		   "measured.h5: /: expected schema xbarsim-measurement version <= 1, found xbarsim-trace version 1");
	ck_assert_int_eq(xb_h5r_schema(r, "/nope", "xbarsim-trace", 1, &v), XB_ENOENT);
	xb_h5r_free(r);
	w = xb_h5w_create(path, "xbarsim-measurement", 3, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	r = open_ok(path);
	ck_assert_int_eq(xb_h5r_schema(r, "/", "xbarsim-measurement", 2, &v), XB_EFORMAT);
	ASSERT_HAS(xb_h5r_errmsg(r), "expected schema xbarsim-measurement version <= 2, found xbarsim-measurement version 3");
	OK_R(r, xb_h5r_schema(r, "/", "xbarsim-measurement", 3, &v));
	ck_assert_int_eq(v, 3);
	OK_R(r, xb_h5r_attr_str(r, "/", "config", &s));   /* NULL config written as "" */
	ck_assert_str_eq(s, "");
	free(s);
	xb_h5r_free(r);
}
END_TEST

START_TEST(test_nonfinite)
{
	char path[600];
	xb_h5w *w = new_trace(IN_DIR(path, "nan.h5"));
	xb_h5r *r;
	double v[6] = { 1, 2, 3, 4, 5, 6 };
	float f[3] = { 1.0f, 2.0f, 3.0f };
	void *data;

	v[5] = NAN;           /* element [1,2] of a [2,3] array */
	f[1] = INFINITY;
	OK_W(w, xb_h5w_write(w, "/gain", XB_H5_FLOAT64, 2, (int64_t[]){ 2, 3 }, v, "1"));
	OK_W(w, xb_h5w_write(w, "/tau_us", XB_H5_FLOAT32, 1, (int64_t[]){ 3 }, f, "us"));
	OK_W(w, xb_h5w_commit(w));
	xb_h5w_free(w);
	r = open_ok(path);
	ck_assert_int_eq(xb_h5r_read(r, "/gain", XB_H5_FLOAT64, 2, NULL, XB_H5_FINITE, &data, NULL),
			 XB_ENUMERIC);
	ASSERT_HAS(xb_h5r_errmsg(r), "nan.h5: dataset /gain: element [1,2] is NaN");
	ck_assert_ptr_null(data);
	ck_assert_int_eq(xb_h5r_read(r, "/tau_us", XB_H5_FLOAT64, 1, NULL, XB_H5_FINITE, &data, NULL),
			 XB_ENUMERIC);
	ASSERT_HAS(xb_h5r_errmsg(r), "dataset /tau_us: element [1] is infinite");
	/* Without the flag NaN is a value (unidentified calibration parameters). */
	OK_R(r, xb_h5r_read(r, "/gain", XB_H5_FLOAT64, 2, NULL, 0, &data, NULL));
	ck_assert(isnan(((double *)data)[5]));
	free(data);
	xb_h5r_free(r);
}
END_TEST

START_TEST(test_write_errors)
{
	char path[600], dir[600];
	xb_err err;
	xb_h5w *w;
	const int16_t v[2] = { 1, 2 };
	double many[8001] = { 0 };

	/* Creating. */
	ck_assert_ptr_null(xb_h5w_create(IN_DIR(path, "no/such/dir/t.h5"), "s", 1, "", "", &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ASSERT_HAS(err.msg, "cannot create ");
	ASSERT_HAS(err.msg, "no/such/dir/t.h5: directory ");
	ck_assert_ptr_null(xb_h5w_create(tmpdir, "s", 1, "", "", &err));
	ck_assert_int_eq(err.code, XB_EIO);
	ASSERT_HAS(err.msg, "it is a directory");
	ck_assert_ptr_null(xb_h5w_create("", "s", 1, "", "", &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_h5w_create(IN_DIR(path, "x/"), "s", 1, "", "", &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_h5w_create(IN_DIR(path, "x.h5"), "s", 0, "", "", &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_h5w_create(path, NULL, 1, "", "", &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_int_eq(count_tmp(), 0);

	w = new_trace(IN_DIR(path, "w.h5"));
	/* Datasets: the unit is required. */
	ck_assert_int_eq(xb_h5w_write(w, "/a", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, NULL), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "w.h5: dataset /a: a unit is required (\"1\" for dimensionless)");
	ck_assert_int_eq(xb_h5w_write(w, "/a", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, ""), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_extendible(w, "/e", XB_H5_INT16, 0, NULL, ""), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "dataset /e: a unit is required");
	OK_W(w, xb_h5w_write(w, "/a", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, "1"));
	ck_assert_int_eq(xb_h5w_write(w, "/a", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, "1"), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "w.h5: dataset /a already exists");
	ck_assert_int_eq(xb_h5w_write(w, "/g/a", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, "1"), XB_ENOENT);
	ASSERT_HAS(xb_h5w_errmsg(w), "cannot create dataset /g/a: group /g does not exist");
	ck_assert_int_eq(xb_h5w_write(w, "/b", (xb_h5_type)42, 1, (int64_t[]){ 2 }, v, "1"), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "unknown element type 42");
	ck_assert_int_eq(xb_h5w_write(w, "/b", XB_H5_INT16, 33, (int64_t[33]){ 0 }, v, "1"), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_write(w, "/b", XB_H5_INT16, 1, (int64_t[]){ -2 }, v, "1"), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "dimension 0 is negative");
	ck_assert_int_eq(xb_h5w_write(w, "/b", XB_H5_INT16, 1, NULL, v, "1"), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_write(w, "/b", XB_H5_INT16, 1, (int64_t[]){ 2 }, NULL, "1"), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_write(w, "/", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, "1"), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_extendible(w, "/e", XB_H5_INT16, 1, (int64_t[]){ 0 }, "1"), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "row dimension 0 is 0, must be >= 1");
	ck_assert_int_eq(xb_h5w_extendible(w, "/e", XB_H5_INT16, 1, NULL, "1"), XB_EINVAL);
	/* Rows: only into extendible datasets that exist. */
	ck_assert_int_eq(xb_h5w_append(w, "/a", v, 1), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "w.h5: dataset /a is not extendible");
	ck_assert_int_eq(xb_h5w_append(w, "/nope", v, 1), XB_ENOENT);
	ASSERT_HAS(xb_h5w_errmsg(w), "dataset /nope does not exist");
	OK_W(w, xb_h5w_extendible(w, "/e", XB_H5_INT16, 0, NULL, "1"));
	ck_assert_int_eq(xb_h5w_append(w, "/e", NULL, 1), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_write_rows(w, "/e", -1, v, 1), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_resize(w, "/e", -1), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_nrows(w, "/e", NULL), XB_EINVAL);
	OK_W(w, xb_h5w_append(w, "/e", v, 0));   /* zero rows: nothing to do */
	/* Groups. */
	ck_assert_int_eq(xb_h5w_group(w, "/x/y", NULL, 0), XB_ENOENT);
	ASSERT_HAS(xb_h5w_errmsg(w), "w.h5: cannot create group /x/y: group /x does not exist");
	OK_W(w, xb_h5w_group(w, "/x", NULL, 0));
	ck_assert_int_eq(xb_h5w_group(w, "/x", NULL, 0), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "group /x already exists");
	ck_assert_int_eq(xb_h5w_group(w, "/", NULL, 0), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_group(w, "/z", "s", 0), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_group(w, "/a/z", NULL, 0), XB_EIO);   /* parent is a dataset */
	ASSERT_HAS(xb_h5w_errmsg(w), "group /a/z cannot be created (HDF5: ");
	/* Attributes. */
	ck_assert_int_eq(xb_h5w_attr_int(w, "/nope", "n", 1), XB_ENOENT);
	ASSERT_HAS(xb_h5w_errmsg(w), "w.h5: cannot set attribute 'n': /nope does not exist");
	ck_assert_int_eq(xb_h5w_attr_doubles(w, "/", "many", many, 8001), XB_EINVAL);
	ASSERT_HAS(xb_h5w_errmsg(w), "8001 values, at most 8000 fit an attribute");
	OK_W(w, xb_h5w_attr_doubles(w, "/", "many", many, 8000));
	ck_assert_int_eq(xb_h5w_attr_ints(w, "/", "x", NULL, 2), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_attr_str(w, "/", NULL, "x"), XB_EINVAL);
	ck_assert_int_eq(xb_h5w_attr_str(NULL, "/", "n", "x"), XB_EINVAL);
	/* After commit only errmsg, path and free. */
	OK_W(w, xb_h5w_commit(w));
	ck_assert_int_eq(xb_h5w_attr_int(w, "/", "n", 1), XB_ESTATE);
	ck_assert_int_eq(xb_h5w_append(w, "/e", v, 1), XB_ESTATE);
	ck_assert_int_eq(xb_h5w_group(w, "/y", NULL, 0), XB_ESTATE);
	ck_assert_int_eq(xb_h5w_write(w, "/y", XB_H5_INT16, 1, (int64_t[]){ 2 }, v, "1"), XB_ESTATE);
	ck_assert_int_eq(xb_h5w_publish(w), XB_ESTATE);
	ck_assert_str_eq(xb_h5w_path(w), path);
	xb_h5w_free(w);
	xb_h5w_free(NULL);
	xb_h5r_free(NULL);

	/* Commit failure: the target became a non-empty directory meanwhile, so the
	 * rename fails; the temporary file is removed and the directory left alone. */
	w = new_trace(IN_DIR(path, "blocked.h5"));
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_text(IN_DIR(dir, "blocked.h5/keep"), "keep");
	ck_assert_int_eq(xb_h5w_commit(w), XB_EIO);
	ASSERT_HAS(xb_h5w_errmsg(w), "blocked.h5: cannot rename ");
	ck_assert_int_eq(count_tmp(), 0);
	ck_assert(file_exists(dir));
	xb_h5w_free(w);

	/* Reopening to append. */
	ck_assert_ptr_null(xb_h5w_open_append(IN_DIR(path, "missing.h5"), &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ASSERT_HAS(err.msg, "missing.h5: no such file");
	write_text(IN_DIR(path, "text.h5"), "not hdf5");
	ck_assert_ptr_null(xb_h5w_open_append(path, &err));
	ck_assert_int_eq(err.code, XB_EFORMAT);
	ASSERT_HAS(err.msg, "text.h5: not an HDF5 file");
}
END_TEST

static Suite *traces_suite(void)
{
	Suite *s = suite_create("traces");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_attributes_roundtrip);
	tcase_add_test(core, test_datasets_roundtrip);
	tcase_add_test(core, test_large_chunked);
	tcase_add_test(core, test_extendible_flushes);
	tcase_add_test(core, test_temp_then_rename);
	tcase_add_test(core, test_open_append);
	tcase_add_test(core, test_conversions);
	tcase_add_test(core, test_foreign_files);
	tcase_add_test(core, test_odd_files);
	tcase_add_test(core, test_describe);
	tcase_add_test(core, test_deterministic);
	tcase_add_test(core, test_join_argv);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_open_errors);
	tcase_add_test(limits, test_corrupt_data);
	tcase_add_test(limits, test_read_errors);
	tcase_add_test(limits, test_nonfinite);
	tcase_add_test(limits, test_write_errors);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(traces_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
