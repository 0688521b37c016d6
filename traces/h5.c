/* h5.c - the HDF5 writer (temporary file, atomic rename) and the validating reader.
 * Everything of traces/ that touches HDF5 directly; describe builds on the public calls.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_traces.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

/* Whole arrays from this size on are chunked and compressed; extendible datasets aim
 * at this chunk size (small, as each flush rewrites the last chunk). */
#define WHOLE_CHUNK_MIN_BYTES (256u * 1024u)
#define WHOLE_CHUNK_BYTES (256u * 1024u)
#define ROWS_CHUNK_BYTES (64u * 1024u)
/* String rows are stored unfiltered (16-byte heap references): smaller chunks. */
#define STRING_ROWS_CHUNK_BYTES (4u * 1024u)
#define DEFLATE_LEVEL 4
/* HDF5's default format keeps attributes in the 64 KiB object header. */
#define ATTR_MAX_VALUES 8000u

/* ---- types -------------------------------------------------------------------- */

static const struct type_desc {
	const char *name;
	size_t size;
	int is_int, is_signed;
	int64_t min;      /* integer range */
	uint64_t max;
} types[XB_H5_NTYPES] = {
	[XB_H5_INT8] = { "int8", 1, 1, 1, INT8_MIN, INT8_MAX },
	[XB_H5_UINT8] = { "uint8", 1, 1, 0, 0, UINT8_MAX },
	[XB_H5_INT16] = { "int16", 2, 1, 1, INT16_MIN, INT16_MAX },
	[XB_H5_UINT16] = { "uint16", 2, 1, 0, 0, UINT16_MAX },
	[XB_H5_INT32] = { "int32", 4, 1, 1, INT32_MIN, INT32_MAX },
	[XB_H5_UINT32] = { "uint32", 4, 1, 0, 0, UINT32_MAX },
	[XB_H5_INT64] = { "int64", 8, 1, 1, INT64_MIN, INT64_MAX },
	[XB_H5_UINT64] = { "uint64", 8, 1, 0, 0, UINT64_MAX },
	[XB_H5_FLOAT32] = { "float32", 4, 0, 1, 0, 0 },
	[XB_H5_FLOAT64] = { "float64", 8, 0, 1, 0, 0 },
	[XB_H5_STRING] = { "string", sizeof(char *), 0, 0, 0, 0 },
};

static int type_ok(xb_h5_type t)
{
	return t >= 0 && t < XB_H5_NTYPES;
}

static int is_float(xb_h5_type t)
{
	return t == XB_H5_FLOAT32 || t == XB_H5_FLOAT64;
}

const char *xb_h5_type_name(xb_h5_type type)
{
	return type_ok(type) ? types[type].name : "?";
}

size_t xb_h5_type_size(xb_h5_type type)
{
	return type_ok(type) ? types[type].size : 0;
}

/* The native memory type of T (a predefined id, not to be closed); -1 for strings. */
static hid_t native_type(xb_h5_type t)
{
	switch (t) {
	case XB_H5_INT8: return H5T_NATIVE_INT8;
	case XB_H5_UINT8: return H5T_NATIVE_UINT8;
	case XB_H5_INT16: return H5T_NATIVE_INT16;
	case XB_H5_UINT16: return H5T_NATIVE_UINT16;
	case XB_H5_INT32: return H5T_NATIVE_INT32;
	case XB_H5_UINT32: return H5T_NATIVE_UINT32;
	case XB_H5_INT64: return H5T_NATIVE_INT64;
	case XB_H5_UINT64: return H5T_NATIVE_UINT64;
	case XB_H5_FLOAT32: return H5T_NATIVE_FLOAT;
	case XB_H5_FLOAT64: return H5T_NATIVE_DOUBLE;
	default: return H5I_INVALID_HID;
	}
}

/* The little-endian file type of the numeric type T (predefined). */
static hid_t file_type(xb_h5_type t)
{
	switch (t) {
	case XB_H5_INT8: return H5T_STD_I8LE;
	case XB_H5_UINT8: return H5T_STD_U8LE;
	case XB_H5_INT16: return H5T_STD_I16LE;
	case XB_H5_UINT16: return H5T_STD_U16LE;
	case XB_H5_INT32: return H5T_STD_I32LE;
	case XB_H5_UINT32: return H5T_STD_U32LE;
	case XB_H5_INT64: return H5T_STD_I64LE;
	case XB_H5_UINT64: return H5T_STD_U64LE;
	case XB_H5_FLOAT32: return H5T_IEEE_F32LE;
	case XB_H5_FLOAT64: return H5T_IEEE_F64LE;
	default: return H5I_INVALID_HID;
	}
}

/* A new variable-length string type of character set CSET (caller closes). */
static hid_t vstring_type(H5T_cset_t cset)
{
	hid_t s = H5Tcopy(H5T_C_S1);

	if (s < 0)
		return s;
	if (H5Tset_size(s, H5T_VARIABLE) < 0 || H5Tset_cset(s, cset) < 0) {
		H5Tclose(s);
		return H5I_INVALID_HID;
	}
	return s;
}

/* The xbarsim type nearest to the stored type FT. */
static xb_h5_type stored_type(hid_t ft)
{
	size_t size = H5Tget_size(ft);

	switch (H5Tget_class(ft)) {
	case H5T_INTEGER: {
		int u = H5Tget_sign(ft) == H5T_SGN_NONE;
		switch (size) {
		case 1: return u ? XB_H5_UINT8 : XB_H5_INT8;
		case 2: return u ? XB_H5_UINT16 : XB_H5_INT16;
		case 4: return u ? XB_H5_UINT32 : XB_H5_INT32;
		case 8: return u ? XB_H5_UINT64 : XB_H5_INT64;
		default: return XB_H5_NOTYPE;
		}
	}
	case H5T_FLOAT:
		return size == 4 ? XB_H5_FLOAT32 : size == 8 ? XB_H5_FLOAT64 : XB_H5_NOTYPE;
	case H5T_STRING:
		return XB_H5_STRING;
	default:
		return XB_H5_NOTYPE;
	}
}

/* Name of the stored type FT: "int16", "float64", "string", "compound", ... */
static void stored_type_name(hid_t ft, char *buf, size_t len)
{
	size_t bits = H5Tget_size(ft) * 8;
	const char *n;

	switch (H5Tget_class(ft)) {
	case H5T_INTEGER:
		snprintf(buf, len, "%sint%zu", H5Tget_sign(ft) == H5T_SGN_NONE ? "u" : "", bits);
		return;
	case H5T_FLOAT:
		snprintf(buf, len, "float%zu", bits);
		return;
	case H5T_STRING: n = "string"; break;
	case H5T_TIME: n = "time"; break;
	case H5T_BITFIELD: n = "bitfield"; break;
	case H5T_OPAQUE: n = "opaque"; break;
	case H5T_COMPOUND: n = "compound"; break;
	case H5T_REFERENCE: n = "reference"; break;
	case H5T_ENUM: n = "enum"; break;
	case H5T_VLEN: n = "vlen"; break;
	case H5T_ARRAY: n = "array"; break;
	default: n = "unknown type"; break;
	}
	snprintf(buf, len, "%s", n);
}

/* "3-D int16 [*,*,256]", "scalar float64", "string" (RANK < 0: any shape).
 * DIMS may be NULL (all '*'). */
static void shape_str(char *buf, size_t len, int rank, const int64_t *dims, const char *tname)
{
	size_t at;

	if (rank < 0) {
		snprintf(buf, len, "%s", tname);
		return;
	}
	if (rank == 0) {
		snprintf(buf, len, "scalar %s", tname);
		return;
	}
	snprintf(buf, len, "%d-D %s [", rank, tname);
	for (int i = 0; i < rank; i++) {
		at = strlen(buf);
		if (dims && dims[i] >= 0)
			snprintf(buf + at, len - at, "%s%" PRId64, i ? "," : "", dims[i]);
		else
			snprintf(buf + at, len - at, "%s*", i ? "," : "");
	}
	at = strlen(buf);
	snprintf(buf + at, len - at, "]");
}

/* "[3,1,0]": the multi-index of linear element I in an array of DIMS. */
static void index_str(char *buf, size_t len, int rank, const hsize_t *dims, uint64_t i)
{
	uint64_t idx[XB_H5_MAXRANK];
	size_t at;

	for (int d = rank - 1; d >= 0; d--) {
		idx[d] = dims[d] ? i % dims[d] : 0;
		i = dims[d] ? i / dims[d] : 0;
	}
	snprintf(buf, len, "[");
	for (int d = 0; d < rank; d++) {
		at = strlen(buf);
		snprintf(buf + at, len - at, "%s%" PRIu64, d ? "," : "", idx[d]);
	}
	at = strlen(buf);
	snprintf(buf + at, len - at, "]");
}

/* ---- errors ------------------------------------------------------------------- */

/* HDF5 prints its error stack by default; the library reports through xb_status.  The
 * setting is per thread in a thread-safe HDF5, hence called at every entry. */
static void quiet(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

struct walk {
	char *buf;
	size_t len;
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ud)
{
	struct walk *w = ud;

	/* Walking upward, entry 0 is where the error was first detected. */
	if (n == 0 && e && e->desc)
		snprintf(w->buf, w->len, "%s", e->desc);
	return 0;
}

/* Every HDF5 call clears the error stack on entry: a helper that must clean up
 * (close ids) after a failure saves the description first with grab(). */
static _Thread_local char saved_detail[256];

static void grab(void)
{
	struct walk w = { saved_detail, sizeof saved_detail };

	saved_detail[0] = '\0';
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
}

/* Raise CODE with a message, appending HDF5's innermost error description (the one
 * saved by grab(), or else the current stack's). */
static xb_status h5err(xb_err *err, xb_status code, const char *fmt, ...) XB_PRINTF(3, 4);
static xb_status h5err(xb_err *err, xb_status code, const char *fmt, ...)
{
	char detail[256], msg[XB_ERRMSG_MAX];
	struct walk w = { detail, sizeof detail };
	va_list ap;

	detail[0] = '\0';
	if (saved_detail[0])
		memcpy(detail, saved_detail, sizeof detail);
	else
		H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
	saved_detail[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (detail[0])
		return xb_raise(err, code, "%s (HDF5: %s)", msg, detail);
	return xb_raise(err, code, "%s", msg);
}

/* What shared helpers need: the file, its name for messages, the error slot. */
typedef struct h5ctx {
	hid_t file;
	const char *name;
	xb_err *err;
} h5ctx;

/* ---- paths -------------------------------------------------------------------- */

static int is_root(const char *path)
{
	return !path[0] || !strcmp(path, "/") || !strcmp(path, ".");
}

/* 1 if every link along PATH exists and the last resolves to an object, else 0
 * (H5Lexists fails rather than answering for a missing intermediate group). */
static int path_exists(hid_t file, const char *path)
{
	size_t len = strlen(path);
	char *p;
	int ok = 1;

	if (is_root(path))
		return 1;
	p = malloc(len + 1);
	if (!p)
		return 0;
	memcpy(p, path, len + 1);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	for (size_t i = 1; i <= len && ok; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (H5Lexists(file, p, H5P_DEFAULT) <= 0)
			ok = 0;
		p[i] = c;
	}
	if (ok && H5Oexists_by_name(file, p, H5P_DEFAULT) <= 0)
		ok = 0;
	free(p);
	return ok;
}

/* The parent of PATH ("/a/b" -> "/a", "/a" or "a" -> "/") into BUF (malloc'd). */
static char *parent_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *p = malloc(n + 2);

	if (!p)
		return NULL;
	if (n == 0) {
		strcpy(p, "/");
	} else {
		memcpy(p, path, n);
		p[n] = '\0';
	}
	return p;
}

/* Copy of PATH beginning with '/' (cache key). */
static char *abs_path(const char *path)
{
	size_t n = strlen(path);
	char *p = malloc(n + 2);

	if (!p)
		return NULL;
	if (path[0] == '/') {
		memcpy(p, path, n + 1);
	} else {
		p[0] = '/';
		memcpy(p + 1, path, n + 1);
	}
	return p;
}

/* A block holding an array of N string pointers followed by the strings: one free(). */
static char **pack_strings(char *const *src, size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(char *);
	char **out, *at;

	for (size_t i = 0; i < n; i++)
		bytes += strlen(src[i] ? src[i] : "") + 1;
	out = malloc(bytes);
	if (!out)
		return NULL;
	at = (char *)(out + (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(src[i] ? src[i] : "");
		memcpy(at, src[i] ? src[i] : "", l + 1);
		out[i] = at;
		at += l + 1;
	}
	if (!n)
		out[0] = NULL;
	return out;
}

/* ---- opening files ------------------------------------------------------------ */

/* Open PATH with FLAGS (H5F_ACC_RDONLY or H5F_ACC_RDWR) after checking that it exists,
 * is a readable regular file and is HDF5. */
static hid_t open_checked(const char *path, unsigned flags, xb_err *err)
{
	struct stat st;
	htri_t is;
	hid_t fapl, f;

	quiet();
	if (!path || !path[0]) {
		xb_raise(err, XB_EINVAL, "an empty file name was given for an HDF5 file");
		return H5I_INVALID_HID;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			xb_raise(err, XB_ENOENT, "%s: no such file", path);
		else
			xb_raise(err, XB_EIO, "%s: cannot be read: %s", path, strerror(errno));
		return H5I_INVALID_HID;
	}
	if (S_ISDIR(st.st_mode)) {
		xb_raise(err, XB_EIO, "%s: is a directory, expected an HDF5 file", path);
		return H5I_INVALID_HID;
	}
	if (access(path, flags == H5F_ACC_RDWR ? R_OK | W_OK : R_OK) != 0) {
		xb_raise(err, XB_EIO, "%s: cannot be %s: %s", path,
			 flags == H5F_ACC_RDWR ? "written" : "read", strerror(errno));
		return H5I_INVALID_HID;
	}
	is = H5Fis_hdf5(path);
	if (is == 0) {
		xb_raise(err, XB_EFORMAT, "%s: not an HDF5 file (%lld bytes without an HDF5 signature)",
			 path, (long long)st.st_size);
		return H5I_INVALID_HID;
	}
	if (is < 0) {
		h5err(err, XB_EFORMAT, "%s: cannot be checked for an HDF5 signature", path);
		return H5I_INVALID_HID;
	}
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	/* Closing the file closes any object left open: no dangling file handle. */
	H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	f = H5Fopen(path, flags, fapl);
	if (f < 0)
		h5err(err, XB_EFORMAT, "%s: damaged or truncated HDF5 file", path);
	H5Pclose(fapl);
	return f;
}

/* ---- reading (shared by reader and writer) ------------------------------------ */

/* Free the strings HDF5 allocated for a variable-length read (H5Treclaim is declared
 * but not exported by 1.10.8). */
static void reclaim(hid_t mt, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
	H5Treclaim(mt, space, H5P_DEFAULT, buf);
#else
	H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
#endif
}

/* Read attribute or dataset ID (IS_ATTR says which) of type MT into BUF, whole. */
static herr_t read_id(hid_t id, int is_attr, hid_t mt, void *buf)
{
	return is_attr ? H5Aread(id, mt, buf) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

/* Read N strings from dataset or attribute ID of stored type FT and dataspace SPACE
 * into a packed block *OUT.  Fixed-length strings of any padding and variable-length
 * ones are accepted. */
static xb_status read_strings(const h5ctx *c, const char *what, hid_t id, int is_attr, hid_t ft,
			      hid_t space, size_t n, char ***out)
{
	H5T_cset_t cset = H5Tget_cset(ft);
	htri_t vl = H5Tis_variable_str(ft);
	xb_status st = XB_OK;
	hid_t mt = H5I_INVALID_HID;

	*out = NULL;
	if (vl > 0) {
		char **tmp = calloc(n ? n : 1, sizeof *tmp);

		mt = vstring_type(cset);
		if (!tmp || mt < 0) {
			free(tmp);
			st = xb_raise(c->err, XB_ENOMEM, "%s: %s: out of memory", c->name, what);
			goto fail;
		}
		if (n && read_id(id, is_attr, mt, tmp) < 0) {
			free(tmp);
			st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be read", c->name, what);
			goto fail;
		}
		*out = pack_strings(tmp, n);
		if (n)
			reclaim(mt, space, tmp);
		free(tmp);
	} else {
		size_t fs = H5Tget_size(ft);
		char *raw, **ptrs;

		if (fs == 0 || (n && fs + 1 > SIZE_MAX / n)) {
			st = xb_raise(c->err, XB_EFORMAT, "%s: %s: bad string size %zu", c->name, what, fs);
			goto fail;
		}
		mt = H5Tcopy(H5T_C_S1);
		raw = malloc(n ? n * (fs + 1) : 1);
		ptrs = malloc((n ? n : 1) * sizeof *ptrs);
		if (mt < 0 || !raw || !ptrs || H5Tset_size(mt, fs + 1) < 0 ||
		    H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 || H5Tset_cset(mt, cset) < 0) {
			free(raw);
			free(ptrs);
			st = xb_raise(c->err, XB_ENOMEM, "%s: %s: out of memory", c->name, what);
			goto fail;
		}
		if (n && read_id(id, is_attr, mt, raw) < 0) {
			free(raw);
			free(ptrs);
			st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be read", c->name, what);
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			char *s = raw + i * (fs + 1);
			size_t l;

			s[fs] = '\0';
			l = strlen(s);
			if (H5Tget_strpad(ft) == H5T_STR_SPACEPAD)
				while (l > 0 && s[l - 1] == ' ')
					s[--l] = '\0';
			ptrs[i] = s;
		}
		*out = pack_strings(ptrs, n);
		free(raw);
		free(ptrs);
	}
	if (!*out)
		st = xb_raise(c->err, XB_ENOMEM, "%s: %s: out of memory", c->name, what);
fail:
	if (mt >= 0)
		H5Tclose(mt);
	return st;
}

/* An open dataset for reading, with its stored type and extent. */
typedef struct rds {
	hid_t dset, ftype, space;
	int rank;
	hsize_t dims[XB_H5_MAXRANK];
} rds;

static void rds_close(rds *d)
{
	if (d->space >= 0)
		H5Sclose(d->space);
	if (d->ftype >= 0)
		H5Tclose(d->ftype);
	if (d->dset >= 0)
		H5Dclose(d->dset);
	d->dset = d->ftype = d->space = H5I_INVALID_HID;
}

static xb_status rds_open(const h5ctx *c, const char *path, rds *d)
{
	hid_t o;

	d->dset = d->ftype = d->space = H5I_INVALID_HID;
	if (!path_exists(c->file, path))
		return xb_raise(c->err, XB_ENOENT, "%s: dataset %s does not exist", c->name, path);
	o = H5Oopen(c->file, path, H5P_DEFAULT);
	if (o < 0)
		return h5err(c->err, XB_EFORMAT, "%s: %s cannot be opened", c->name, path);
	if (H5Iget_type(o) != H5I_DATASET) {
		int grp = H5Iget_type(o) == H5I_GROUP;
		H5Oclose(o);
		return xb_raise(c->err, XB_EFORMAT, "%s: %s is %s, expected a dataset", c->name, path,
				grp ? "a group" : "not a dataset");
	}
	d->dset = o;
	d->ftype = H5Dget_type(o);
	d->space = H5Dget_space(o);
	if (d->ftype < 0 || d->space < 0) {
		xb_status st = h5err(c->err, XB_EFORMAT, "%s: dataset %s cannot be read", c->name, path);
		rds_close(d);
		return st;
	}
	if (H5Sget_simple_extent_type(d->space) == H5S_NULL) {
		rds_close(d);
		return xb_raise(c->err, XB_EFORMAT, "%s: dataset %s holds no data (null dataspace)",
				c->name, path);
	}
	d->rank = H5Sget_simple_extent_ndims(d->space);
	if (d->rank < 0 || d->rank > XB_H5_MAXRANK ||
	    H5Sget_simple_extent_dims(d->space, d->dims, NULL) < 0) {
		xb_status st = h5err(c->err, XB_EFORMAT, "%s: dataset %s has a bad dataspace",
				     c->name, path);
		rds_close(d);
		return st;
	}
	return XB_OK;
}

/* "expected ..., found ..." for dataset D at PATH. */
static xb_status mismatch(const h5ctx *c, const char *path, const rds *d, xb_h5_type want, int rank,
			  const int64_t *dims)
{
	char exp[256], found[256], tname[32];
	int64_t fd[XB_H5_MAXRANK];

	for (int i = 0; i < d->rank; i++)
		fd[i] = (int64_t)d->dims[i];
	stored_type_name(d->ftype, tname, sizeof tname);
	shape_str(exp, sizeof exp, rank, dims, xb_h5_type_name(want));
	shape_str(found, sizeof found, d->rank, fd, tname);
	return xb_raise(c->err, XB_EFORMAT, "%s: dataset %s: expected %s, found %s", c->name, path,
			exp, found);
}

/* May stored class FC be read as WANT? */
static int class_ok(xb_h5_type want, H5T_class_t fc)
{
	if (want == XB_H5_STRING)
		return fc == H5T_STRING;
	if (types[want].is_int)
		return fc == H5T_INTEGER;
	return fc == H5T_INTEGER || fc == H5T_FLOAT;
}

/* Does every value of a stored integer type of SIZE bytes and signedness fit WANT? */
static int int_fits(size_t size, int is_signed, xb_h5_type want)
{
	size_t ws = types[want].size;

	if (is_signed)
		return types[want].is_signed && size <= ws;
	return types[want].is_signed ? size < ws : size <= ws;
}

static void store_int(void *buf, size_t i, xb_h5_type t, int64_t v)
{
	switch (t) {
	case XB_H5_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
	case XB_H5_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
	case XB_H5_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
	case XB_H5_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
	case XB_H5_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
	case XB_H5_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
	case XB_H5_INT64: ((int64_t *)buf)[i] = v; break;
	case XB_H5_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; break;
	default: break;
	}
}

/* Read the N elements selected by FSPACE of D as numeric type WANT into BUF, refusing
 * lossy conversions.  FIRST is the linear index of the first element read (for
 * messages). */
static xb_status read_numeric(const h5ctx *c, const char *path, const rds *d, xb_h5_type want,
			      hid_t mspace, hid_t fspace, size_t n, uint64_t first, unsigned flags,
			      void *buf)
{
	H5T_class_t fc = H5Tget_class(d->ftype);
	size_t fsize = H5Tget_size(d->ftype);
	int fsigned = fc == H5T_INTEGER && H5Tget_sign(d->ftype) != H5T_SGN_NONE;
	enum { DIRECT, VIA_INT64, VIA_UINT64, VIA_DOUBLE } how = DIRECT;
	char idx[128];
	void *tmp = NULL;
	xb_status st = XB_OK;

	if (n == 0)
		return XB_OK;
	if (fc == H5T_INTEGER && fsize > 8)
		return xb_raise(c->err, XB_EFORMAT, "%s: dataset %s: %zu-bit integers are not supported",
				c->name, path, fsize * 8);
	if (types[want].is_int && !int_fits(fsize, fsigned, want))
		how = (!fsigned && fsize == 8) ? VIA_UINT64 : VIA_INT64;
	else if (want == XB_H5_FLOAT32 && fc == H5T_FLOAT && fsize > 4)
		how = VIA_DOUBLE;

	if (how == DIRECT) {
		if (H5Dread(d->dset, native_type(want), mspace, fspace, H5P_DEFAULT, buf) < 0)
			return h5err(c->err, XB_EFORMAT, "%s: dataset %s cannot be read", c->name, path);
	} else {
		hid_t mt = how == VIA_INT64 ? H5T_NATIVE_INT64 :
			   how == VIA_UINT64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE;

		if (n > SIZE_MAX / 8 || !(tmp = malloc(n * 8)))
			return xb_raise(c->err, XB_ENOMEM, "%s: dataset %s: out of memory", c->name, path);
		if (H5Dread(d->dset, mt, mspace, fspace, H5P_DEFAULT, tmp) < 0) {
			st = h5err(c->err, XB_EFORMAT, "%s: dataset %s cannot be read", c->name, path);
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			if (how == VIA_INT64) {
				int64_t v = ((int64_t *)tmp)[i];
				if (v < types[want].min || (v > 0 && (uint64_t)v > types[want].max)) {
					index_str(idx, sizeof idx, d->rank, d->dims, first + i);
					st = xb_raise(c->err, XB_ERANGE,
						      "%s: dataset %s: element %s = %" PRId64 " lies outside the range of %s",
						      c->name, path, idx, v, types[want].name);
					goto done;
				}
				store_int(buf, i, want, v);
			} else if (how == VIA_UINT64) {
				uint64_t v = ((uint64_t *)tmp)[i];
				if (v > types[want].max) {
					index_str(idx, sizeof idx, d->rank, d->dims, first + i);
					st = xb_raise(c->err, XB_ERANGE,
						      "%s: dataset %s: element %s = %" PRIu64 " lies outside the range of %s",
						      c->name, path, idx, v, types[want].name);
					goto done;
				}
				store_int(buf, i, want, (int64_t)v);
			} else {
				double v = ((double *)tmp)[i];
				if (isfinite(v) && fabs(v) > FLT_MAX) {
					index_str(idx, sizeof idx, d->rank, d->dims, first + i);
					st = xb_raise(c->err, XB_ERANGE,
						      "%s: dataset %s: element %s = %g lies outside the range of float32",
						      c->name, path, idx, v);
					goto done;
				}
				((float *)buf)[i] = (float)v;
			}
		}
	}
	if ((flags & XB_H5_FINITE) && is_float(want)) {
		for (size_t i = 0; i < n; i++) {
			double v = want == XB_H5_FLOAT32 ? ((float *)buf)[i] : ((double *)buf)[i];
			if (!isfinite(v)) {
				index_str(idx, sizeof idx, d->rank, d->dims, first + i);
				st = xb_raise(c->err, XB_ENUMERIC, "%s: dataset %s: element %s is %s",
					      c->name, path, idx, isnan(v) ? "NaN" : "infinite");
				goto done;
			}
		}
	}
done:
	free(tmp);
	return st;
}

static xb_status read_dataset(const h5ctx *c, const char *path, xb_h5_type type, int rank,
			      const int64_t *dims, unsigned flags, void **data, int64_t *dims_out)
{
	rds d;
	xb_status st;
	size_t n = 1;
	void *buf = NULL;

	*data = NULL;
	if (!path || !type_ok(type) || rank > XB_H5_MAXRANK)
		return xb_raise(c->err, XB_EINVAL, "%s: reading %s: bad arguments (type %d, rank %d)",
				c->name, path ? path : "(null)", (int)type, rank);
	st = rds_open(c, path, &d);
	if (st)
		return st;
	if (!class_ok(type, H5Tget_class(d.ftype)) || (rank >= 0 && rank != d.rank)) {
		st = mismatch(c, path, &d, type, rank, dims);
		goto done;
	}
	if (dims && rank > 0)
		for (int i = 0; i < rank; i++)
			if (dims[i] >= 0 && (hsize_t)dims[i] != d.dims[i]) {
				st = mismatch(c, path, &d, type, rank, dims);
				goto done;
			}
	for (int i = 0; i < d.rank; i++) {
		if (d.dims[i] && n > SIZE_MAX / types[type].size / d.dims[i]) {
			st = xb_raise(c->err, XB_ENOMEM, "%s: dataset %s is too large to read whole",
				      c->name, path);
			goto done;
		}
		n *= d.dims[i];
	}
	if (type == XB_H5_STRING) {
		char **s;
		st = read_strings(c, path, d.dset, 0, d.ftype, d.space, n, &s);
		buf = s;
	} else {
		buf = malloc(n ? n * types[type].size : 1);
		if (!buf)
			st = xb_raise(c->err, XB_ENOMEM, "%s: dataset %s: out of memory", c->name, path);
		else
			st = read_numeric(c, path, &d, type, H5S_ALL, H5S_ALL, n, 0, flags, buf);
	}
	if (st) {
		free(buf);
		goto done;
	}
	*data = buf;
	if (dims_out)
		for (int i = 0; i < d.rank; i++)
			dims_out[i] = (int64_t)d.dims[i];
done:
	rds_close(&d);
	return st;
}

static xb_status read_rows(const h5ctx *c, const char *path, xb_h5_type type, int64_t row0,
			   int64_t nrows, unsigned flags, void *buf)
{
	rds d;
	xb_status st;
	hsize_t start[XB_H5_MAXRANK] = { 0 }, count[XB_H5_MAXRANK];
	hid_t mspace = H5I_INVALID_HID;
	uint64_t row_elems = 1;
	hsize_t n;

	if (!path || !type_ok(type) || type == XB_H5_STRING || row0 < 0 || nrows < 0 ||
	    (nrows > 0 && !buf))
		return xb_raise(c->err, XB_EINVAL, "%s: reading rows of %s: bad arguments", c->name,
				path ? path : "(null)");
	st = rds_open(c, path, &d);
	if (st)
		return st;
	if (!class_ok(type, H5Tget_class(d.ftype)) || d.rank < 1) {
		st = mismatch(c, path, &d, type, d.rank < 1 ? 1 : d.rank, NULL);
		goto done;
	}
	if ((uint64_t)row0 + (uint64_t)nrows > d.dims[0]) {
		st = xb_raise(c->err, XB_ERANGE, "%s: dataset %s: rows %" PRId64 "..%" PRId64
			      " requested, it has %llu", c->name, path, row0, row0 + nrows - 1,
			      (unsigned long long)d.dims[0]);
		goto done;
	}
	if (nrows == 0)
		goto done;
	for (int i = 1; i < d.rank; i++)
		row_elems *= d.dims[i];
	start[0] = (hsize_t)row0;
	count[0] = (hsize_t)nrows;
	for (int i = 1; i < d.rank; i++)
		count[i] = d.dims[i];
	n = (hsize_t)nrows * row_elems;
	mspace = H5Screate_simple(1, &n, NULL);
	if (mspace < 0 || H5Sselect_hyperslab(d.space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
		st = h5err(c->err, XB_EINTERNAL, "%s: dataset %s: cannot select rows", c->name, path);
		goto done;
	}
	st = read_numeric(c, path, &d, type, mspace, d.space, (size_t)n, (uint64_t)row0 * row_elems,
			  flags, buf);
done:
	if (mspace >= 0)
		H5Sclose(mspace);
	rds_close(&d);
	return st;
}

/* ---- attributes (reading) ----------------------------------------------------- */

typedef struct rattr {
	hid_t attr, ftype, space;
	hssize_t npoints;
	char what[600];    /* "attribute 'name' of /obj" */
} rattr;

static void rattr_close(rattr *a)
{
	if (a->space >= 0)
		H5Sclose(a->space);
	if (a->ftype >= 0)
		H5Tclose(a->ftype);
	if (a->attr >= 0)
		H5Aclose(a->attr);
	a->attr = a->ftype = a->space = H5I_INVALID_HID;
}

static xb_status rattr_open(const h5ctx *c, const char *obj, const char *name, rattr *a)
{
	htri_t e;

	a->attr = a->ftype = a->space = H5I_INVALID_HID;
	if (!obj || !name || !name[0])
		return xb_raise(c->err, XB_EINVAL, "%s: reading an attribute: no object or name given",
				c->name);
	snprintf(a->what, sizeof a->what, "attribute '%s' of %s", name, obj);
	if (!path_exists(c->file, obj))
		return xb_raise(c->err, XB_ENOENT, "%s: %s does not exist (looking for its attribute '%s')",
				c->name, obj, name);
	e = H5Aexists_by_name(c->file, obj, name, H5P_DEFAULT);
	if (e == 0)
		return xb_raise(c->err, XB_ENOENT, "%s: %s has no attribute '%s'", c->name, obj, name);
	if (e < 0)
		return h5err(c->err, XB_EFORMAT, "%s: %s cannot be looked up", c->name, a->what);
	a->attr = H5Aopen_by_name(c->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
	if (a->attr >= 0) {
		a->ftype = H5Aget_type(a->attr);
		a->space = H5Aget_space(a->attr);
	}
	if (a->attr < 0 || a->ftype < 0 || a->space < 0) {
		xb_status st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be opened", c->name, a->what);
		rattr_close(a);
		return st;
	}
	a->npoints = H5Sget_simple_extent_type(a->space) == H5S_NULL ? 0 :
		     H5Sget_simple_extent_npoints(a->space);
	return XB_OK;
}

/* "expected WANT, found 1-D float64 [3]" for attribute A. */
static xb_status attr_mismatch(const h5ctx *c, const rattr *a, const char *want)
{
	char found[256], tname[32];
	int64_t dims[XB_H5_MAXRANK];
	hsize_t hd[XB_H5_MAXRANK];
	int rank = H5Sget_simple_extent_ndims(a->space);

	stored_type_name(a->ftype, tname, sizeof tname);
	if (H5Sget_simple_extent_type(a->space) == H5S_NULL) {
		snprintf(found, sizeof found, "an empty %s", tname);
	} else {
		if (rank < 0 || rank > XB_H5_MAXRANK || H5Sget_simple_extent_dims(a->space, hd, NULL) < 0)
			rank = 0;
		for (int i = 0; i < rank; i++)
			dims[i] = (int64_t)hd[i];
		shape_str(found, sizeof found, rank, dims, tname);
	}
	return xb_raise(c->err, XB_EFORMAT, "%s: %s: expected %s, found %s", c->name, a->what, want,
			found);
}

static xb_status attr_str(const h5ctx *c, const char *obj, const char *name, char **value)
{
	rattr a;
	xb_status st;
	char **s = NULL;

	*value = NULL;
	st = rattr_open(c, obj, name, &a);
	if (st)
		return st;
	if (H5Tget_class(a.ftype) != H5T_STRING || a.npoints != 1) {
		st = attr_mismatch(c, &a, "a string");
		goto done;
	}
	st = read_strings(c, a.what, a.attr, 1, a.ftype, a.space, 1, &s);
	if (!st) {
		*value = strdup(s[0]);
		if (!*value)
			st = xb_raise(c->err, XB_ENOMEM, "%s: %s: out of memory", c->name, a.what);
	}
	free(s);
done:
	rattr_close(&a);
	return st;
}

/* Numeric attribute values, as int64 (WANT_INT) or double; SCALAR requires one value. */
static xb_status attr_numbers(const h5ctx *c, const char *obj, const char *name, int want_int,
			      int scalar, void **values, size_t *n)
{
	rattr a;
	xb_status st;
	H5T_class_t fc;
	size_t k;
	void *buf = NULL;

	*values = NULL;
	*n = 0;
	st = rattr_open(c, obj, name, &a);
	if (st)
		return st;
	fc = H5Tget_class(a.ftype);
	if ((fc != H5T_INTEGER && fc != H5T_FLOAT) || (scalar && a.npoints != 1) || a.npoints < 0 ||
	    (fc == H5T_INTEGER && H5Tget_size(a.ftype) > 8)) {
		st = attr_mismatch(c, &a, want_int ? (scalar ? "an integer" : "integers") :
				   (scalar ? "a number" : "numbers"));
		goto done;
	}
	k = (size_t)a.npoints;
	buf = malloc(k ? k * 8 : 8);
	if (!buf) {
		st = xb_raise(c->err, XB_ENOMEM, "%s: %s: out of memory", c->name, a.what);
		goto done;
	}
	if (want_int && fc == H5T_INTEGER) {
		int u64 = H5Tget_sign(a.ftype) == H5T_SGN_NONE && H5Tget_size(a.ftype) == 8;
		if (k && H5Aread(a.attr, u64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, buf) < 0) {
			st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be read", c->name, a.what);
			goto done;
		}
		for (size_t i = 0; u64 && i < k; i++)
			if (((uint64_t *)buf)[i] > INT64_MAX) {
				st = xb_raise(c->err, XB_ERANGE, "%s: %s: value %" PRIu64 " exceeds int64",
					      c->name, a.what, ((uint64_t *)buf)[i]);
				goto done;
			}
	} else {
		if (k && H5Aread(a.attr, H5T_NATIVE_DOUBLE, buf) < 0) {
			st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be read", c->name, a.what);
			goto done;
		}
		for (size_t i = 0; want_int && i < k; i++) {
			double v = ((double *)buf)[i];
			/* 2^63 is the first double beyond int64. */
			if (!(v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
				char tname[32];
				stored_type_name(a.ftype, tname, sizeof tname);
				st = xb_raise(c->err, XB_EFORMAT, "%s: %s: expected an integer, found %s %g",
					      c->name, a.what, tname, v);
				goto done;
			}
			((int64_t *)buf)[i] = (int64_t)v;
		}
	}
	*values = buf;
	*n = k;
	buf = NULL;
done:
	free(buf);
	rattr_close(&a);
	return st;
}

/* ---- introspection ------------------------------------------------------------ */

static void fill_extent(hid_t space, xb_h5_info *info)
{
	hsize_t d[XB_H5_MAXRANK], m[XB_H5_MAXRANK];
	int rank = H5Sget_simple_extent_ndims(space);

	if (H5Sget_simple_extent_type(space) == H5S_NULL || rank < 0 || rank > XB_H5_MAXRANK ||
	    H5Sget_simple_extent_dims(space, d, m) < 0) {
		info->rank = 0;
		info->nelems = 0;
		return;
	}
	info->rank = rank;
	info->nelems = 1;
	for (int i = 0; i < rank; i++)
		info->nelems *= (int64_t)d[i];
	for (int i = 0; i < rank; i++) {
		info->dims[i] = (int64_t)d[i];
		info->maxdims[i] = m[i] == H5S_UNLIMITED ? -1 : (int64_t)m[i];
	}
}

/* Address of object O in its file (its token from 1.12 on) and its hard-link count. */
static void object_identity(hid_t o, xb_h5_info *info)
{
	H5O_info_t oi;

#if H5_VERSION_GE(1, 12, 0)
	if (H5Oget_info3(o, &oi, H5O_INFO_BASIC) >= 0) {
		memcpy(&info->object_id, &oi.token, sizeof info->object_id);
		info->links = oi.rc;
	}
#else
	if (H5Oget_info2(o, &oi, H5O_INFO_BASIC) >= 0) {
		info->object_id = (uint64_t)oi.addr;
		info->links = oi.rc;
	}
#endif
}

static xb_status object_info(const h5ctx *c, const char *path, xb_h5_info *info)
{
	hid_t o, t, s, dcpl;

	memset(info, 0, sizeof *info);
	info->type = XB_H5_NOTYPE;
	info->deflate = -1;
	if (!path || !path_exists(c->file, path))
		return xb_raise(c->err, XB_ENOENT, "%s: %s does not exist", c->name, path ? path : "(null)");
	o = H5Oopen(c->file, path, H5P_DEFAULT);
	if (o < 0)
		return h5err(c->err, XB_EFORMAT, "%s: %s cannot be opened", c->name, path);
	object_identity(o, info);
	switch (H5Iget_type(o)) {
	case H5I_GROUP:
		info->kind = XB_H5_GROUP;
		break;
	case H5I_DATASET:
		info->kind = XB_H5_DATASET;
		t = H5Dget_type(o);
		s = H5Dget_space(o);
		dcpl = H5Dget_create_plist(o);
		if (t >= 0) {
			info->type = stored_type(t);
			stored_type_name(t, info->type_name, sizeof info->type_name);
			H5Tclose(t);
		}
		if (s >= 0) {
			fill_extent(s, info);
			H5Sclose(s);
		}
		if (dcpl >= 0) {
			hsize_t ch[XB_H5_MAXRANK];
			int nf;
			if (H5Pget_layout(dcpl) == H5D_CHUNKED &&
			    H5Pget_chunk(dcpl, XB_H5_MAXRANK, ch) == info->rank) {
				info->chunked = 1;
				for (int i = 0; i < info->rank; i++)
					info->chunk[i] = (int64_t)ch[i];
			}
			nf = H5Pget_nfilters(dcpl);
			info->nfilters = nf > 0 ? nf : 0;
			for (int i = 0; i < nf; i++) {
				unsigned fl, cd[8], conf;
				size_t ncd = 8;
				char fname[64];
				H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &fl, &ncd, cd,
								 sizeof fname, fname, &conf);
				if (id == H5Z_FILTER_SHUFFLE)
					info->shuffle = 1;
				else if (id == H5Z_FILTER_DEFLATE)
					info->deflate = ncd > 0 ? (int)cd[0] : 0;
			}
			H5Pclose(dcpl);
		}
		info->storage_bytes = (int64_t)H5Dget_storage_size(o);
		break;
	default:
		info->kind = XB_H5_OTHER;
		break;
	}
	H5Oclose(o);
	return XB_OK;
}

static xb_status attr_info(const h5ctx *c, const char *obj, const char *name, xb_h5_info *info)
{
	rattr a;
	xb_status st;

	memset(info, 0, sizeof *info);
	info->type = XB_H5_NOTYPE;
	info->deflate = -1;
	st = rattr_open(c, obj, name, &a);
	if (st)
		return st;
	info->kind = XB_H5_ATTRIBUTE;
	info->type = stored_type(a.ftype);
	stored_type_name(a.ftype, info->type_name, sizeof info->type_name);
	fill_extent(a.space, info);
	rattr_close(&a);
	return XB_OK;
}

/* A growing list of names for the iteration callbacks. */
struct names {
	char **v;
	size_t n, cap;
	int oom;
};

static int names_add(struct names *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -1;
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *ud)
{
	struct names *l = ud;

	(void)g;
	(void)info;
	if (names_add(l, name)) {
		l->oom = 1;
		return -1;
	}
	return 0;
}

static herr_t attr_cb(hid_t o, const char *name, const H5A_info_t *info, void *ud)
{
	struct names *l = ud;

	(void)o;
	(void)info;
	if (names_add(l, name)) {
		l->oom = 1;
		return -1;
	}
	return 0;
}

static xb_status list_names(const h5ctx *c, const char *path, int attrs, char ***names, size_t *n)
{
	struct names l = { NULL, 0, 0, 0 };
	xb_status st = XB_OK;
	herr_t h;
	hid_t o;

	*names = NULL;
	*n = 0;
	if (!path || !path_exists(c->file, path))
		return xb_raise(c->err, XB_ENOENT, "%s: %s does not exist", c->name, path ? path : "(null)");
	o = H5Oopen(c->file, path, H5P_DEFAULT);
	if (o < 0)
		return h5err(c->err, XB_EFORMAT, "%s: %s cannot be opened", c->name, path);
	if (!attrs && H5Iget_type(o) != H5I_GROUP) {
		H5Oclose(o);
		return xb_raise(c->err, XB_EFORMAT, "%s: %s is not a group", c->name, path);
	}
	if (attrs)
		h = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, &l);
	else
		h = H5Literate(o, H5_INDEX_NAME, H5_ITER_INC, NULL, link_cb, &l);
	if (l.oom)
		st = xb_raise(c->err, XB_ENOMEM, "%s: listing %s: out of memory", c->name, path);
	else if (h < 0)
		st = h5err(c->err, XB_EFORMAT, "%s: %s cannot be listed", c->name, path);
	if (!st) {
		*names = pack_strings(l.v, l.n);
		if (!*names)
			st = xb_raise(c->err, XB_ENOMEM, "%s: listing %s: out of memory", c->name, path);
		else
			*n = l.n;
	}
	names_free(&l);
	H5Oclose(o);
	return st;
}

/* ---- reader ------------------------------------------------------------------- */

struct xb_h5r {
	hid_t file;
	char *path;
	xb_err err;
};

static h5ctx rctx(xb_h5r *r)
{
	h5ctx c = { r->file, r->path, &r->err };
	return c;
}

xb_h5r *xb_h5r_open(const char *path, xb_err *err)
{
	xb_h5r *r;
	hid_t f = open_checked(path, H5F_ACC_RDONLY, err);

	if (f < 0)
		return NULL;
	r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path))) {
		free(r);
		H5Fclose(f);
		xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	r->file = f;
	return r;
}

void xb_h5r_free(xb_h5r *r)
{
	if (!r)
		return;
	quiet();
	H5Fclose(r->file);
	free(r->path);
	free(r);
}

const char *xb_h5r_errmsg(const xb_h5r *r)
{
	return r ? r->err.msg : xb_errmsg(NULL);
}

const char *xb_h5r_path(const xb_h5r *r)
{
	return r ? r->path : NULL;
}

int xb_h5r_exists(xb_h5r *r, const char *path)
{
	if (!r || !path)
		return 0;
	quiet();
	return path_exists(r->file, path);
}

int xb_h5r_has_attr(xb_h5r *r, const char *obj, const char *name)
{
	if (!r || !obj || !name)
		return 0;
	quiet();
	return path_exists(r->file, obj) && H5Aexists_by_name(r->file, obj, name, H5P_DEFAULT) > 0;
}

#define RCHECK(r) \
	do { \
		if (!(r)) \
			return xb_raise(NULL, XB_EINVAL, "%s: no reader given", __func__); \
		quiet(); \
	} while (0)

xb_status xb_h5r_schema(xb_h5r *r, const char *obj, const char *schema, int64_t max_version,
			int64_t *version)
{
	h5ctx c;
	char *found = NULL;
	int64_t v = 0;
	int has_v;
	xb_status st = XB_OK;

	RCHECK(r);
	c = rctx(r);
	obj = obj ? obj : "/";
	if (!schema)
		return xb_raise(c.err, XB_EINVAL, "%s: no schema name given to check", c.name);
	if (!path_exists(r->file, obj))
		return xb_raise(c.err, XB_ENOENT, "%s: group %s does not exist", c.name, obj);
	if (!xb_h5r_has_attr(r, obj, "schema"))
		return xb_raise(c.err, XB_EFORMAT,
				"%s: %s: expected schema %s version <= %" PRId64 ", found no schema attribute",
				c.name, obj, schema, max_version);
	st = attr_str(&c, obj, "schema", &found);
	if (st)
		return st;
	has_v = xb_h5r_has_attr(r, obj, "schema_version");
	if (has_v) {
		void *vals;
		size_t n;
		st = attr_numbers(&c, obj, "schema_version", 1, 1, &vals, &n);
		if (st)
			goto done;
		v = *(int64_t *)vals;
		free(vals);
	}
	if (!has_v)
		st = xb_raise(c.err, XB_EFORMAT,
			      "%s: %s: expected schema %s version <= %" PRId64 ", found %s without schema_version",
			      c.name, obj, schema, max_version, found);
	else if (strcmp(found, schema) || v < 1 || v > max_version)
		st = xb_raise(c.err, XB_EFORMAT,
			      "%s: %s: expected schema %s version <= %" PRId64 ", found %s version %" PRId64,
			      c.name, obj, schema, max_version, found, v);
	else if (version)
		*version = v;
done:
	free(found);
	return st;
}

xb_status xb_h5r_read(xb_h5r *r, const char *path, xb_h5_type type, int rank,
		      const int64_t *dims, unsigned flags, void **data, int64_t *dims_out)
{
	h5ctx c;

	RCHECK(r);
	if (!data)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_read: no output pointer", r->path);
	c = rctx(r);
	return read_dataset(&c, path, type, rank, dims, flags, data, dims_out);
}

xb_status xb_h5r_read_rows(xb_h5r *r, const char *path, xb_h5_type type, int64_t row0,
			   int64_t nrows, unsigned flags, void *buf)
{
	h5ctx c;

	RCHECK(r);
	c = rctx(r);
	return read_rows(&c, path, type, row0, nrows, flags, buf);
}

xb_status xb_h5r_attr_str(xb_h5r *r, const char *obj, const char *name, char **value)
{
	h5ctx c;

	RCHECK(r);
	if (!value)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_str: no output pointer", r->path);
	c = rctx(r);
	return attr_str(&c, obj, name, value);
}

xb_status xb_h5r_attr_int(xb_h5r *r, const char *obj, const char *name, int64_t *value)
{
	h5ctx c;
	void *v;
	size_t n;
	xb_status st;

	RCHECK(r);
	if (!value)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_int: no output pointer", r->path);
	c = rctx(r);
	st = attr_numbers(&c, obj, name, 1, 1, &v, &n);
	if (!st) {
		*value = *(int64_t *)v;
		free(v);
	}
	return st;
}

xb_status xb_h5r_attr_double(xb_h5r *r, const char *obj, const char *name, double *value)
{
	h5ctx c;
	void *v;
	size_t n;
	xb_status st;

	RCHECK(r);
	if (!value)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_double: no output pointer", r->path);
	c = rctx(r);
	st = attr_numbers(&c, obj, name, 0, 1, &v, &n);
	if (!st) {
		*value = *(double *)v;
		free(v);
	}
	return st;
}

xb_status xb_h5r_attr_ints(xb_h5r *r, const char *obj, const char *name, int64_t **values,
			   size_t *n)
{
	h5ctx c;
	void *v;
	xb_status st;

	RCHECK(r);
	if (!values || !n)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_ints: no output pointer", r->path);
	c = rctx(r);
	st = attr_numbers(&c, obj, name, 1, 0, &v, n);
	*values = v;
	return st;
}

xb_status xb_h5r_attr_doubles(xb_h5r *r, const char *obj, const char *name, double **values,
			      size_t *n)
{
	h5ctx c;
	void *v;
	xb_status st;

	RCHECK(r);
	if (!values || !n)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_doubles: no output pointer", r->path);
	c = rctx(r);
	st = attr_numbers(&c, obj, name, 0, 0, &v, n);
	*values = v;
	return st;
}

xb_status xb_h5r_info(xb_h5r *r, const char *path, xb_h5_info *info)
{
	h5ctx c;

	RCHECK(r);
	if (!info)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_info: no output pointer", r->path);
	c = rctx(r);
	return object_info(&c, path, info);
}

xb_status xb_h5r_attr_info(xb_h5r *r, const char *obj, const char *name, xb_h5_info *info)
{
	h5ctx c;

	RCHECK(r);
	if (!info)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_info: no output pointer", r->path);
	c = rctx(r);
	return attr_info(&c, obj, name, info);
}

xb_status xb_h5r_list(xb_h5r *r, const char *path, char ***names, size_t *n)
{
	h5ctx c;

	RCHECK(r);
	if (!names || !n)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_list: no output pointer", r->path);
	c = rctx(r);
	return list_names(&c, path, 0, names, n);
}

xb_status xb_h5r_attr_list(xb_h5r *r, const char *obj, char ***names, size_t *n)
{
	h5ctx c;

	RCHECK(r);
	if (!names || !n)
		return xb_raise(&r->err, XB_EINVAL, "%s: xb_h5r_attr_list: no output pointer", r->path);
	c = rctx(r);
	return list_names(&c, obj, 1, names, n);
}

/* ---- writer ------------------------------------------------------------------- */

enum wstate {
	W_TEMP,   /* writing the temporary file */
	W_LIVE,   /* writing the target in place (published, or reopened to append) */
	W_DONE    /* committed, or failed while committing */
};

/* An extendible dataset kept open while rows arrive. */
struct wds {
	char *path;            /* absolute */
	hid_t dset;
	hid_t mtype;           /* memory type (owned when a string type) */
	xb_h5_type type;
	int rank;              /* of the dataset: 1 + row rank */
	hsize_t row_dims[XB_H5_MAXRANK];   /* [0] unused */
	size_t row_elems;
};

struct xb_h5w {
	hid_t file;
	char *path;            /* the target */
	char *tmp;             /* the temporary file, while W_TEMP */
	enum wstate state;
	char *schema;          /* root schema, the default of groups */
	int64_t schema_version;
	struct wds *ds;
	size_t nds, cap;
	xb_err err;
};

static h5ctx wctx(xb_h5w *w)
{
	h5ctx c = { w->file, w->path, &w->err };
	return c;
}

/* Directory part of PATH (malloc'd): "a/b.h5" -> "a", "b.h5" -> ".", "/b.h5" -> "/". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *d = malloc(n + 2);

	if (!d)
		return NULL;
	if (!slash)
		strcpy(d, ".");
	else if (n == 0)
		strcpy(d, "/");
	else {
		memcpy(d, path, n);
		d[n] = '\0';
	}
	return d;
}

/* fsync a file or directory by name; errno-style result (0 = ok). */
static int sync_path(const char *path, int is_dir)
{
	int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	int rc = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) != 0 && !is_dir)   /* some file systems refuse fsync on directories */
		rc = errno;
	close(fd);
	return rc;
}

static xb_status wcheck(xb_h5w *w, const char *what)
{
	if (!w)
		return xb_raise(NULL, XB_EINVAL, "%s: no writer given", what);
	quiet();
	if (w->state == W_DONE)
		return xb_raise(&w->err, XB_ESTATE, "%s: %s after the file was committed", w->path, what);
	return XB_OK;
}

/* Create attribute NAME on the open object LOC (replacing one of that name). */
static herr_t put_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hid_t space,
		       const void *buf)
{
	hid_t a;
	herr_t h;

	if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0) {
		grab();
		return -1;
	}
	a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0) {
		grab();
		return -1;
	}
	h = H5Awrite(a, mtype, buf);
	if (h < 0)
		grab();
	if (H5Aclose(a) < 0) {
		grab();
		h = -1;
	}
	return h;
}

static herr_t put_attr_str(hid_t loc, const char *name, const char *value)
{
	hid_t t = vstring_type(H5T_CSET_UTF8), s = H5Screate(H5S_SCALAR);
	const char *v = value ? value : "";
	herr_t h = -1;

	if (t >= 0 && s >= 0)
		h = put_attr(loc, name, t, t, s, &v);
	if (s >= 0)
		H5Sclose(s);
	if (t >= 0)
		H5Tclose(t);
	return h;
}

static herr_t put_attr_num(hid_t loc, const char *name, xb_h5_type type, const void *values,
			   size_t n, int scalar)
{
	static const int64_t none;   /* H5Awrite wants a buffer even for no values */
	hsize_t dim = n;
	hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
	herr_t h = -1;

	if (s >= 0)
		h = put_attr(loc, name, file_type(type), native_type(type), s, values ? values : &none);
	if (s >= 0)
		H5Sclose(s);
	return h;
}

/* Set an attribute on the object at OBJ. */
static xb_status w_attr(xb_h5w *w, const char *obj, const char *name, xb_h5_type type,
			const void *values, size_t n, int scalar)
{
	xb_status st = wcheck(w, "setting an attribute");
	hid_t o;
	herr_t h;

	if (st)
		return st;
	if (!obj || !name || !name[0])
		return xb_raise(&w->err, XB_EINVAL, "%s: setting an attribute: no object or name given",
				w->path);
	if (!scalar && n > ATTR_MAX_VALUES)
		return xb_raise(&w->err, XB_EINVAL,
				"%s: attribute '%s' of %s: %zu values, at most %u fit an attribute (use a dataset)",
				w->path, name, obj, n, ATTR_MAX_VALUES);
	if (!scalar && n && !values)
		return xb_raise(&w->err, XB_EINVAL, "%s: attribute '%s' of %s: no values given", w->path,
				name, obj);
	if (!path_exists(w->file, obj))
		return xb_raise(&w->err, XB_ENOENT, "%s: cannot set attribute '%s': %s does not exist",
				w->path, name, obj);
	o = H5Oopen(w->file, obj, H5P_DEFAULT);
	if (o < 0)
		return h5err(&w->err, XB_EIO, "%s: %s cannot be opened", w->path, obj);
	if (type == XB_H5_STRING)
		h = put_attr_str(o, name, values);
	else
		h = put_attr_num(o, name, type, values, n, scalar);
	if (h < 0)
		st = h5err(&w->err, XB_EIO, "%s: attribute '%s' of %s cannot be written", w->path, name, obj);
	H5Oclose(o);
	return st;
}

xb_status xb_h5w_attr_str(xb_h5w *w, const char *obj, const char *name, const char *value)
{
	return w_attr(w, obj, name, XB_H5_STRING, value, 1, 1);
}

xb_status xb_h5w_attr_int(xb_h5w *w, const char *obj, const char *name, int64_t value)
{
	return w_attr(w, obj, name, XB_H5_INT64, &value, 1, 1);
}

xb_status xb_h5w_attr_double(xb_h5w *w, const char *obj, const char *name, double value)
{
	return w_attr(w, obj, name, XB_H5_FLOAT64, &value, 1, 1);
}

xb_status xb_h5w_attr_ints(xb_h5w *w, const char *obj, const char *name,
			   const int64_t *values, size_t n)
{
	return w_attr(w, obj, name, XB_H5_INT64, values, n, 0);
}

xb_status xb_h5w_attr_doubles(xb_h5w *w, const char *obj, const char *name,
			      const double *values, size_t n)
{
	return w_attr(w, obj, name, XB_H5_FLOAT64, values, n, 0);
}

/* A temporary name ".<base>.tmp.<pid>.<random>" in the directory of PATH. */
static char *temp_name(const char *path)
{
	static _Thread_local uint64_t counter;
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	struct timespec ts;
	uint64_t x;
	size_t len = strlen(path) + 64;
	char *t = malloc(len);

	if (!t)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* splitmix64 of time, pid, address and a counter: distinct between writers. */
	x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 17) ^
	    (uint64_t)(uintptr_t)t ^ (++counter * UINT64_C(0x9E3779B97F4A7C15));
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	x ^= x >> 31;
	snprintf(t, len, "%.*s.%s.tmp.%ld.%08" PRIx32, (int)dirlen, path, path + dirlen,
		 (long)getpid(), (uint32_t)x);
	return t;
}

static void wds_close_all(xb_h5w *w)
{
	for (size_t i = 0; i < w->nds; i++) {
		H5Dclose(w->ds[i].dset);
		if (w->ds[i].type == XB_H5_STRING)
			H5Tclose(w->ds[i].mtype);
		free(w->ds[i].path);
	}
	free(w->ds);
	w->ds = NULL;
	w->nds = w->cap = 0;
}

static xb_h5w *writer_new(const char *path, xb_err *err)
{
	xb_h5w *w = calloc(1, sizeof *w);

	if (!w || !(w->path = strdup(path))) {
		free(w);
		xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	w->file = H5I_INVALID_HID;
	return w;
}

xb_h5w *xb_h5w_create(const char *path, const char *schema, int64_t schema_version,
		      const char *config_ini, const char *command_line, xb_err *err)
{
	struct stat st;
	char *dir = NULL;
	xb_h5w *w = NULL;
	hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID, root = H5I_INVALID_HID;

	quiet();
	if (!path || !path[0] || path[strlen(path) - 1] == '/') {
		xb_raise(err, XB_EINVAL, "'%s' is not a file name for an HDF5 file", path ? path : "");
		return NULL;
	}
	if (!schema || !schema[0] || schema_version < 1) {
		xb_raise(err, XB_EINVAL, "%s: a schema name and a schema version >= 1 are required", path);
		return NULL;
	}
	dir = dir_of(path);
	if (!dir) {
		xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		xb_raise(err, XB_ENOENT, "cannot create %s: directory %s does not exist", path, dir);
		goto fail;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		xb_raise(err, XB_EIO, "cannot create %s: directory %s is not writable (%s)", path, dir,
			 strerror(errno));
		goto fail;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		xb_raise(err, XB_EIO, "cannot write %s: it is a directory", path);
		goto fail;
	}
	w = writer_new(path, err);
	if (!w)
		goto fail;
	w->schema = strdup(schema);
	w->schema_version = schema_version;
	fcpl = H5Pcreate(H5P_FILE_CREATE);
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (!w->schema || fcpl < 0 || fapl < 0) {
		xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	/* No timestamps in object headers: the same calls write the same bytes. */
	H5Pset_obj_track_times(fcpl, 0);
	H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	for (int attempt = 0; attempt < 16 && w->file < 0; attempt++) {
		free(w->tmp);
		w->tmp = temp_name(path);
		if (!w->tmp) {
			xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
			goto fail;
		}
		w->file = H5Fcreate(w->tmp, H5F_ACC_EXCL, fcpl, fapl);
		if (w->file < 0 && stat(w->tmp, &st) != 0) {
			/* Not a name collision: report it. */
			h5err(err, XB_EIO, "cannot create %s (temporary file %s)", path, w->tmp);
			free(w->tmp);
			w->tmp = NULL;
			goto fail;
		}
	}
	if (w->file < 0) {
		xb_raise(err, XB_EIO, "cannot create %s: no free temporary name", path);
		free(w->tmp);
		w->tmp = NULL;
		goto fail;
	}
	w->state = W_TEMP;
	root = H5Gopen2(w->file, "/", H5P_DEFAULT);
	if (root < 0 || put_attr_str(root, "schema", schema) < 0 ||
	    put_attr_num(root, "schema_version", XB_H5_INT64, &schema_version, 1, 1) < 0 ||
	    put_attr_str(root, "xbarsim_version", PACKAGE_VERSION) < 0 ||
	    put_attr_str(root, "config", config_ini) < 0 ||
	    put_attr_str(root, "command_line", command_line) < 0) {
		h5err(err, XB_EIO, "%s: the root attributes cannot be written", path);
		goto fail;
	}
	H5Gclose(root);
	H5Pclose(fcpl);
	H5Pclose(fapl);
	free(dir);
	return w;
fail:
	if (root >= 0)
		H5Gclose(root);
	if (fcpl >= 0)
		H5Pclose(fcpl);
	if (fapl >= 0)
		H5Pclose(fapl);
	xb_h5w_free(w);
	free(dir);
	return NULL;
}

xb_h5w *xb_h5w_open_append(const char *path, xb_err *err)
{
	hid_t f = open_checked(path, H5F_ACC_RDWR, err);
	xb_h5w *w;
	h5ctx c;
	char *schema = NULL;
	void *v = NULL;
	size_t n;

	if (f < 0)
		return NULL;
	w = writer_new(path, err);
	if (!w) {
		H5Fclose(f);
		return NULL;
	}
	w->file = f;
	w->state = W_LIVE;
	c = wctx(w);
	if (H5Aexists_by_name(f, "/", "schema", H5P_DEFAULT) <= 0 ||
	    H5Aexists_by_name(f, "/", "schema_version", H5P_DEFAULT) <= 0) {
		xb_raise(err, XB_EFORMAT, "%s: not an xbarsim file: the root has no schema attribute",
			 path);
		goto fail;
	}
	if (attr_str(&c, "/", "schema", &schema) ||
	    attr_numbers(&c, "/", "schema_version", 1, 1, &v, &n)) {
		xb_err_copy(err, &w->err);
		goto fail;
	}
	w->schema = schema;
	w->schema_version = *(int64_t *)v;
	free(v);
	return w;
fail:
	free(schema);
	free(v);
	xb_h5w_free(w);
	return NULL;
}

xb_status xb_h5w_group(xb_h5w *w, const char *path, const char *schema, int64_t version)
{
	xb_status st = wcheck(w, "creating a group");
	hid_t gcpl, g;
	char *parent;

	if (st)
		return st;
	if (!path || is_root(path))
		return xb_raise(&w->err, XB_EINVAL, "%s: creating a group: bad path '%s'", w->path,
				path ? path : "(null)");
	if (schema && (!schema[0] || version < 1))
		return xb_raise(&w->err, XB_EINVAL, "%s: group %s: schema version must be >= 1",
				w->path, path);
	if (path_exists(w->file, path))
		return xb_raise(&w->err, XB_EINVAL, "%s: group %s already exists", w->path, path);
	parent = parent_path(path);
	if (!parent)
		return xb_raise(&w->err, XB_ENOMEM, "%s: out of memory", w->path);
	if (!path_exists(w->file, parent)) {
		st = xb_raise(&w->err, XB_ENOENT, "%s: cannot create group %s: group %s does not exist",
			      w->path, path, parent);
		free(parent);
		return st;
	}
	free(parent);
	gcpl = H5Pcreate(H5P_GROUP_CREATE);
	H5Pset_obj_track_times(gcpl, 0);
	g = H5Gcreate2(w->file, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
	if (g < 0)
		grab();
	H5Pclose(gcpl);
	if (g < 0)
		return h5err(&w->err, XB_EIO, "%s: group %s cannot be created", w->path, path);
	if (!schema) {
		schema = w->schema;
		version = w->schema_version;
	}
	if (put_attr_str(g, "schema", schema) < 0 ||
	    put_attr_num(g, "schema_version", XB_H5_INT64, &version, 1, 1) < 0)
		st = h5err(&w->err, XB_EIO, "%s: group %s: schema attributes cannot be written", w->path,
			   path);
	H5Gclose(g);
	return st;
}

/* Checks common to creating a dataset. */
static xb_status new_dataset_check(xb_h5w *w, const char *path, xb_h5_type type, int rank,
				   const char *unit)
{
	xb_status st = wcheck(w, "creating a dataset");
	char *parent;

	if (st)
		return st;
	if (!path || is_root(path))
		return xb_raise(&w->err, XB_EINVAL, "%s: creating a dataset: bad path '%s'", w->path,
				path ? path : "(null)");
	if (!type_ok(type))
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: unknown element type %d", w->path,
				path, (int)type);
	if (rank < 0 || rank > XB_H5_MAXRANK)
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: rank %d outside 0..%d", w->path,
				path, rank, XB_H5_MAXRANK);
	if (!unit || !unit[0])
		return xb_raise(&w->err, XB_EINVAL,
				"%s: dataset %s: a unit is required (\"1\" for dimensionless)", w->path, path);
	if (path_exists(w->file, path))
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s already exists", w->path, path);
	parent = parent_path(path);
	if (!parent)
		return xb_raise(&w->err, XB_ENOMEM, "%s: out of memory", w->path);
	if (!path_exists(w->file, parent))
		st = xb_raise(&w->err, XB_ENOENT, "%s: cannot create dataset %s: group %s does not exist",
			      w->path, path, parent);
	free(parent);
	return st;
}

/* Chunk dimensions for DIMS of elements of ESIZE bytes, at most about TARGET bytes:
 * start from the whole extent (ROWS_CHUNK rows along an unlimited first dimension)
 * and halve the largest dimension until it fits. */
static void choose_chunk(int rank, const hsize_t *dims, hsize_t first, size_t esize,
			 size_t target, hsize_t *chunk)
{
	uint64_t bytes = esize;

	for (int i = 0; i < rank; i++) {
		chunk[i] = i == 0 && first ? first : (dims[i] ? dims[i] : 1);
		bytes *= chunk[i];
	}
	while (bytes > target) {
		int big = 0;
		for (int i = 1; i < rank; i++)
			if (chunk[i] > chunk[big])
				big = i;
		if (chunk[big] <= 1)
			break;
		bytes = bytes / chunk[big] * ((chunk[big] + 1) / 2);
		chunk[big] = (chunk[big] + 1) / 2;
	}
}

/* Strings to write: NULL entries become "" (a copy of the pointer array if needed). */
static const char **strings_in(const void *data, size_t n, const char ***copy)
{
	const char *const *s = data;
	const char **c;

	*copy = NULL;
	for (size_t i = 0; i < n; i++)
		if (!s[i])
			goto need_copy;
	return NULL;
need_copy:
	c = malloc(n * sizeof *c);
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = s[i] ? s[i] : "";
	*copy = c;
	return c;
}

xb_status xb_h5w_write(xb_h5w *w, const char *path, xb_h5_type type, int rank,
		       const int64_t *dims, const void *data, const char *unit)
{
	xb_status st = new_dataset_check(w, path, type, rank, unit);
	hsize_t hd[XB_H5_MAXRANK], chunk[XB_H5_MAXRANK];
	uint64_t n = 1;
	size_t es;
	hid_t space = H5I_INVALID_HID, ft = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
	hid_t d = H5I_INVALID_HID;
	const char **copy = NULL;

	if (st)
		return st;
	if (rank > 0 && !dims)
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: no dimensions given", w->path, path);
	es = types[type].size;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: dimension %d is negative",
					w->path, path, i);
		hd[i] = (hsize_t)dims[i];
		if (hd[i] && n > SIZE_MAX / es / hd[i])
			return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s is too large", w->path, path);
		n *= hd[i];
	}
	if (n && !data)
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: no data given", w->path, path);
	space = rank ? H5Screate_simple(rank, hd, NULL) : H5Screate(H5S_SCALAR);
	ft = type == XB_H5_STRING ? vstring_type(H5T_CSET_UTF8) : H5Tcopy(file_type(type));
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (space < 0 || ft < 0 || dcpl < 0) {
		st = h5err(&w->err, XB_ENOMEM, "%s: dataset %s: cannot prepare", w->path, path);
		goto fail;
	}
	H5Pset_obj_track_times(dcpl, 0);
	if (rank > 0 && type != XB_H5_STRING && n * es >= WHOLE_CHUNK_MIN_BYTES) {
		choose_chunk(rank, hd, 0, es, WHOLE_CHUNK_BYTES, chunk);
		if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
		    H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0) {
			st = h5err(&w->err, XB_EINTERNAL, "%s: dataset %s: cannot set up compression",
				   w->path, path);
			goto fail;
		}
	}
	d = H5Dcreate2(w->file, path, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (d < 0) {
		st = h5err(&w->err, XB_EIO, "%s: dataset %s cannot be created", w->path, path);
		goto fail;
	}
	if (n) {
		const void *buf = data;
		herr_t h;
		if (type == XB_H5_STRING) {
			const char **c = strings_in(data, n, &copy);
			if (c)
				buf = c;
		}
		h = H5Dwrite(d, type == XB_H5_STRING ? ft : native_type(type), H5S_ALL, H5S_ALL,
			     H5P_DEFAULT, buf);
		if (h < 0) {
			st = h5err(&w->err, XB_EIO, "%s: dataset %s cannot be written", w->path, path);
			goto fail;
		}
	}
	if (put_attr_str(d, "unit", unit) < 0) {
		st = h5err(&w->err, XB_EIO, "%s: dataset %s: unit cannot be written", w->path, path);
		goto fail;
	}
fail:
	free(copy);
	if (d >= 0) {
		H5Dclose(d);
		if (st)  /* leave no half-made dataset behind */
			H5Ldelete(w->file, path, H5P_DEFAULT);
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (ft >= 0)
		H5Tclose(ft);
	if (space >= 0)
		H5Sclose(space);
	return st;
}

xb_status xb_h5w_extendible(xb_h5w *w, const char *path, xb_h5_type type, int row_rank,
			    const int64_t *row_dims, const char *unit)
{
	xb_status st = new_dataset_check(w, path, type, row_rank >= 0 ? row_rank + 1 : -1, unit);
	hsize_t dims[XB_H5_MAXRANK], maxdims[XB_H5_MAXRANK], chunk[XB_H5_MAXRANK];
	size_t row_bytes, es, target;
	int rank = row_rank + 1;
	hid_t space = H5I_INVALID_HID, ft = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
	hid_t d = H5I_INVALID_HID;
	herr_t h = 0;

	if (st)
		return st;
	if (row_rank > 0 && !row_dims)
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: no row dimensions given", w->path,
				path);
	/* Variable-length elements are stored as 16-byte heap references. */
	es = type == XB_H5_STRING ? 16 : types[type].size;
	row_bytes = es;
	dims[0] = 0;
	maxdims[0] = H5S_UNLIMITED;
	for (int i = 1; i < rank; i++) {
		if (row_dims[i - 1] < 1)
			return xb_raise(&w->err, XB_EINVAL,
					"%s: dataset %s: row dimension %d is %" PRId64 ", must be >= 1",
					w->path, path, i - 1, row_dims[i - 1]);
		dims[i] = maxdims[i] = (hsize_t)row_dims[i - 1];
		if (row_bytes > SIZE_MAX / dims[i])
			return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: rows too large", w->path, path);
		row_bytes *= dims[i];
	}
	target = type == XB_H5_STRING ? STRING_ROWS_CHUNK_BYTES : ROWS_CHUNK_BYTES;
	choose_chunk(rank, dims, row_bytes >= target ? 1 : target / row_bytes, es, target, chunk);
	space = H5Screate_simple(rank, dims, maxdims);
	ft = type == XB_H5_STRING ? vstring_type(H5T_CSET_UTF8) : H5Tcopy(file_type(type));
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (space < 0 || ft < 0 || dcpl < 0) {
		st = h5err(&w->err, XB_ENOMEM, "%s: dataset %s: cannot prepare", w->path, path);
		goto fail;
	}
	H5Pset_obj_track_times(dcpl, 0);
	h = H5Pset_chunk(dcpl, rank, chunk);
	if (type != XB_H5_STRING && h >= 0)
		h = H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0 ? -1 : 0;
	if (type == XB_H5_FLOAT32 && h >= 0) {
		float nan32 = NAN;
		h = H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan32);
	} else if (type == XB_H5_FLOAT64 && h >= 0) {
		double nan64 = NAN;
		h = H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan64);
	}
	if (h < 0) {
		st = h5err(&w->err, XB_EINTERNAL, "%s: dataset %s: cannot set up chunked storage",
			   w->path, path);
		goto fail;
	}
	d = H5Dcreate2(w->file, path, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (d < 0) {
		st = h5err(&w->err, XB_EIO, "%s: dataset %s cannot be created", w->path, path);
		goto fail;
	}
	if (put_attr_str(d, "unit", unit) < 0) {
		st = h5err(&w->err, XB_EIO, "%s: dataset %s: unit cannot be written", w->path, path);
		H5Dclose(d);
		H5Ldelete(w->file, path, H5P_DEFAULT);
		goto fail;
	}
	H5Dclose(d);
fail:
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (ft >= 0)
		H5Tclose(ft);
	if (space >= 0)
		H5Sclose(space);
	return st;
}

/* The open extendible dataset PATH, from the cache or opened now. */
static xb_status wds_get(xb_h5w *w, const char *path, struct wds **out)
{
	char *key;
	struct wds e = { 0 };
	hid_t space = H5I_INVALID_HID, ft = H5I_INVALID_HID;
	hsize_t dims[XB_H5_MAXRANK], maxdims[XB_H5_MAXRANK];
	xb_status st = XB_OK;
	char tname[32];

	if (!path)
		return xb_raise(&w->err, XB_EINVAL, "%s: no dataset path given", w->path);
	key = abs_path(path);
	if (!key)
		return xb_raise(&w->err, XB_ENOMEM, "%s: out of memory", w->path);
	for (size_t i = 0; i < w->nds; i++)
		if (!strcmp(w->ds[i].path, key)) {
			free(key);
			*out = &w->ds[i];
			return XB_OK;
		}
	e.path = key;
	e.dset = H5I_INVALID_HID;
	e.mtype = H5I_INVALID_HID;
	if (!path_exists(w->file, key)) {
		st = xb_raise(&w->err, XB_ENOENT, "%s: dataset %s does not exist", w->path, key);
		goto fail;
	}
	e.dset = H5Dopen2(w->file, key, H5P_DEFAULT);
	if (e.dset < 0) {
		st = h5err(&w->err, XB_EFORMAT, "%s: %s is not a dataset", w->path, key);
		goto fail;
	}
	space = H5Dget_space(e.dset);
	ft = H5Dget_type(e.dset);
	e.rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
	if (ft < 0 || e.rank < 1 || e.rank > XB_H5_MAXRANK ||
	    H5Sget_simple_extent_dims(space, dims, maxdims) < 0 || maxdims[0] != H5S_UNLIMITED) {
		st = xb_raise(&w->err, XB_EINVAL,
			      "%s: dataset %s is not extendible (create it with xb_h5w_extendible to append rows)",
			      w->path, key);
		goto fail;
	}
	e.type = stored_type(ft);
	if (e.type == XB_H5_NOTYPE) {
		stored_type_name(ft, tname, sizeof tname);
		st = xb_raise(&w->err, XB_EFORMAT, "%s: dataset %s: rows of type %s cannot be written",
			      w->path, key, tname);
		goto fail;
	}
	e.mtype = e.type == XB_H5_STRING ? vstring_type(H5Tget_cset(ft)) : native_type(e.type);
	e.row_elems = 1;
	for (int i = 1; i < e.rank; i++) {
		e.row_dims[i] = dims[i];
		e.row_elems *= dims[i];
	}
	if (w->nds == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct wds *v = realloc(w->ds, cap * sizeof *v);
		if (!v) {
			st = xb_raise(&w->err, XB_ENOMEM, "%s: out of memory", w->path);
			goto fail;
		}
		w->ds = v;
		w->cap = cap;
	}
	w->ds[w->nds] = e;
	*out = &w->ds[w->nds++];
	H5Sclose(space);
	H5Tclose(ft);
	return XB_OK;
fail:
	if (space >= 0)
		H5Sclose(space);
	if (ft >= 0)
		H5Tclose(ft);
	if (e.type == XB_H5_STRING && e.mtype >= 0)
		H5Tclose(e.mtype);
	if (e.dset >= 0)
		H5Dclose(e.dset);
	free(key);
	return st;
}

static xb_status wds_rows(xb_h5w *w, struct wds *e, hsize_t *rows)
{
	hid_t space = H5Dget_space(e->dset);
	hsize_t dims[XB_H5_MAXRANK];
	int ok = space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) == e->rank;

	if (!ok)
		grab();
	if (space >= 0)
		H5Sclose(space);
	if (!ok)
		return h5err(&w->err, XB_EFORMAT, "%s: dataset %s: cannot read its extent", w->path,
			     e->path);
	*rows = dims[0];
	return XB_OK;
}

static xb_status wds_set_rows(xb_h5w *w, struct wds *e, hsize_t rows)
{
	hsize_t dims[XB_H5_MAXRANK];

	dims[0] = rows;
	for (int i = 1; i < e->rank; i++)
		dims[i] = e->row_dims[i];
	if (H5Dset_extent(e->dset, dims) < 0)
		return h5err(&w->err, XB_EIO, "%s: dataset %s cannot be resized to %llu rows", w->path,
			     e->path, (unsigned long long)rows);
	return XB_OK;
}

xb_status xb_h5w_write_rows(xb_h5w *w, const char *path, int64_t row0, const void *rows,
			    size_t nrows)
{
	xb_status st = wcheck(w, "writing rows");
	struct wds *e;
	hsize_t cur, start[XB_H5_MAXRANK] = { 0 }, count[XB_H5_MAXRANK], n;
	hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
	const char **copy = NULL;
	const void *buf = rows;

	if (st)
		return st;
	st = wds_get(w, path, &e);
	if (st)
		return st;
	if (row0 < 0 || (nrows && !rows))
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: bad rows (start %" PRId64 ")",
				w->path, e->path, row0);
	if (nrows == 0)
		return XB_OK;
	st = wds_rows(w, e, &cur);
	if (st)
		return st;
	if ((hsize_t)row0 + nrows > cur) {
		st = wds_set_rows(w, e, (hsize_t)row0 + nrows);
		if (st)
			return st;
	}
	start[0] = (hsize_t)row0;
	count[0] = nrows;
	for (int i = 1; i < e->rank; i++)
		count[i] = e->row_dims[i];
	n = (hsize_t)nrows * e->row_elems;
	if (e->type == XB_H5_STRING) {
		const char **c = strings_in(rows, n, &copy);
		if (c)
			buf = c;
	}
	fspace = H5Dget_space(e->dset);
	mspace = H5Screate_simple(1, &n, NULL);
	if (fspace < 0 || mspace < 0 ||
	    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dwrite(e->dset, e->mtype, mspace, fspace, H5P_DEFAULT, buf) < 0)
		st = h5err(&w->err, XB_EIO, "%s: dataset %s: rows %" PRId64 "..%" PRId64
			   " cannot be written", w->path, e->path, row0, row0 + (int64_t)nrows - 1);
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	free(copy);
	return st;
}

xb_status xb_h5w_append(xb_h5w *w, const char *path, const void *rows, size_t nrows)
{
	xb_status st = wcheck(w, "appending rows");
	struct wds *e;
	hsize_t cur;

	if (st)
		return st;
	st = wds_get(w, path, &e);
	if (!st)
		st = wds_rows(w, e, &cur);
	if (!st)
		st = xb_h5w_write_rows(w, path, (int64_t)cur, rows, nrows);
	return st;
}

xb_status xb_h5w_nrows(xb_h5w *w, const char *path, int64_t *nrows)
{
	xb_status st = wcheck(w, "counting rows");
	struct wds *e;
	hsize_t cur;

	if (st)
		return st;
	if (!nrows)
		return xb_raise(&w->err, XB_EINVAL, "%s: xb_h5w_nrows: no output pointer", w->path);
	st = wds_get(w, path, &e);
	if (!st)
		st = wds_rows(w, e, &cur);
	if (!st)
		*nrows = (int64_t)cur;
	return st;
}

xb_status xb_h5w_resize(xb_h5w *w, const char *path, int64_t nrows)
{
	xb_status st = wcheck(w, "resizing a dataset");
	struct wds *e;

	if (st)
		return st;
	st = wds_get(w, path, &e);
	if (st)
		return st;
	if (nrows < 0)
		return xb_raise(&w->err, XB_EINVAL, "%s: dataset %s: negative row count %" PRId64,
				w->path, e->path, nrows);
	return wds_set_rows(w, e, (hsize_t)nrows);
}

xb_status xb_h5w_flush(xb_h5w *w)
{
	xb_status st = wcheck(w, "flushing");

	if (st)
		return st;
	if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
		return h5err(&w->err, XB_EIO, "%s: cannot be flushed", w->path);
	return XB_OK;
}

xb_status xb_h5w_publish(xb_h5w *w)
{
	xb_status st = xb_h5w_flush(w);
	char *dir;
	int e;

	if (st || w->state == W_LIVE)
		return st;
	e = sync_path(w->tmp, 0);
	if (e)
		return xb_raise(&w->err, XB_EIO, "%s: cannot sync %s: %s", w->path, w->tmp, strerror(e));
	if (rename(w->tmp, w->path) != 0)
		return xb_raise(&w->err, XB_EIO, "%s: cannot rename %s to it: %s", w->path, w->tmp,
				strerror(errno));
	free(w->tmp);
	w->tmp = NULL;
	w->state = W_LIVE;
	dir = dir_of(w->path);
	if (dir)
		sync_path(dir, 1);
	free(dir);
	return XB_OK;
}

xb_status xb_h5w_commit(xb_h5w *w)
{
	xb_status st = wcheck(w, "committing");
	const char *cur;
	char *dir;
	int e;

	if (st)
		return st;
	cur = w->state == W_TEMP ? w->tmp : w->path;
	wds_close_all(w);
	if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) {
		st = h5err(&w->err, XB_EIO, "%s: cannot be flushed", w->path);
		goto fail;
	}
	if (H5Fclose(w->file) < 0) {
		w->file = H5I_INVALID_HID;
		st = h5err(&w->err, XB_EIO, "%s: cannot be closed", w->path);
		goto fail;
	}
	w->file = H5I_INVALID_HID;
	e = sync_path(cur, 0);
	if (e) {
		st = xb_raise(&w->err, XB_EIO, "%s: cannot sync %s: %s", w->path, cur, strerror(e));
		goto fail;
	}
	if (w->state == W_TEMP && rename(w->tmp, w->path) != 0) {
		st = xb_raise(&w->err, XB_EIO, "%s: cannot rename %s to it: %s", w->path, w->tmp,
			      strerror(errno));
		goto fail;
	}
	dir = dir_of(w->path);
	if (dir)
		sync_path(dir, 1);
	free(dir);
	w->state = W_DONE;
	free(w->tmp);
	w->tmp = NULL;
	return XB_OK;
fail:
	if (w->file >= 0) {
		H5Fclose(w->file);
		w->file = H5I_INVALID_HID;
	}
	if (w->state == W_TEMP)
		unlink(w->tmp);
	free(w->tmp);
	w->tmp = NULL;
	w->state = W_DONE;
	return st;
}

void xb_h5w_free(xb_h5w *w)
{
	if (!w)
		return;
	quiet();
	wds_close_all(w);
	if (w->file >= 0)
		H5Fclose(w->file);
	if (w->state == W_TEMP && w->tmp)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	free(w->schema);
	free(w);
}

const char *xb_h5w_errmsg(const xb_h5w *w)
{
	return w ? w->err.msg : xb_errmsg(NULL);
}

const char *xb_h5w_path(const xb_h5w *w)
{
	return w ? w->path : NULL;
}
