/* data_h5.c - data-set files (schema xbarsim-dataset) through the traces module's writer and reader.
 * Saving, opening for streaming reads, and loading into memory.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* State of a streamed data set. */
struct data_h5 {
	xb_h5r *r;
	char *path;
	xb_feature_storage storage;
	float *scale, *offset;     /* [sample_size] for int8/int16 storage */
	int has_sources;
};

/* Root attributes written by this file or the traces writer, not user attributes. */
static const char *const reserved_attrs[] = {
	"schema", "schema_version", "xbarsim_version", "config", "command_line", "count",
	"nclasses", "sample_shape", "feature_storage", NULL
};

static int is_reserved(const char *name)
{
	int i;

	for (i = 0; reserved_attrs[i]; i++)
		if (!strcmp(reserved_attrs[i], name))
			return 1;
	return 0;
}

static const char *storage_name(xb_feature_storage s)
{
	return s == XB_STORE_INT8 ? "int8" : s == XB_STORE_INT16 ? "int16" : "float32";
}

/* ---- writing ------------------------------------------------------------------- */

/* Quantize X[N][S] per element into codes Q (int8 or int16) with SCALE/OFFSET[S]. */
static void quantize(const float *x, size_t n, size_t s, int qmax, void *q, float *scale,
		     float *offset, int is8)
{
	size_t i, j;

	for (j = 0; j < s; j++) {
		float lo = INFINITY, hi = -INFINITY;

		for (i = 0; i < n; i++) {
			float v = x[i * s + j];

			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		if (n == 0)
			lo = hi = 0.0f;
		offset[j] = (float)(0.5 * ((double)lo + hi));
		scale[j] = (float)(((double)hi - lo) / (2.0 * qmax));
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < s; j++) {
			double v = 0.0;
			long code;

			if (scale[j] > 0.0f)
				v = ((double)x[i * s + j] - offset[j]) / scale[j];
			code = lround(v);
			code = code > qmax ? qmax : code < -qmax ? -qmax : code;
			if (is8)
				((int8_t *)q)[i * s + j] = (int8_t)code;
			else
				((int16_t *)q)[i * s + j] = (int16_t)code;
		}
}

xb_status xb_dataset_save(xb_dataset *ds, const char *path, xb_feature_storage storage,
			  const char *config_ini, const char *command_line, xb_err *err)
{
	xb_dataset *mem = ds;
	xb_h5w *w = NULL;
	int64_t dims[4], sdims[3], shape[3];
	void *codes = NULL;
	float *scale = NULL, *offset = NULL;
	const char **names = NULL;
	xb_status st = XB_OK;
	size_t i;

	if (storage != XB_STORE_FLOAT32 && storage != XB_STORE_INT8 && storage != XB_STORE_INT16)
		return xb_raise(err, XB_EINVAL, "%s: feature storage %d: expected float32, int16 "
				"or int8", path, (int)storage);
	if (ds->h5) {
		mem = xb_dataset_select(ds, XB_SPLIT_ALL, err);
		if (!mem)
			return err ? err->code : XB_EIO;
	}
	for (i = 0; i < mem->count; i++)
		if (mem->labels[i] < 0 || mem->labels[i] >= mem->nclasses ||
		    mem->groups[i] < -1 || mem->groups[i] >= mem->ngroups ||
		    mem->splits[i] > XB_SPLIT_TEST) {
			st = xb_raise(err, XB_ERANGE, "%s: sample %zu has label %d, group %d, split "
				      "%u: expected a label in 0..%d, a group in -1..%d and a split "
				      "0..2", path, i, mem->labels[i], mem->groups[i], mem->splits[i],
				      mem->nclasses - 1, mem->ngroups - 1);
			goto out;
		}
	for (i = 0; i < mem->count * mem->sample_size; i++)
		if (!isfinite(mem->x[i])) {
			st = xb_raise(err, XB_ENUMERIC, "%s: feature %zu of sample %zu is %g: expected "
				      "finite values", path, i % mem->sample_size, i / mem->sample_size,
				      (double)mem->x[i]);
			goto out;
		}
	w = xb_h5w_create(path, XB_DATASET_SCHEMA, XB_DATASET_SCHEMA_VERSION, config_ini,
			  command_line, err);
	if (!w) {
		st = err ? err->code : XB_EIO;
		goto out;
	}
	dims[0] = (int64_t)mem->count;
	dims[1] = shape[0] = sdims[0] = mem->h;
	dims[2] = shape[1] = sdims[1] = mem->w;
	dims[3] = shape[2] = sdims[2] = mem->c;
	st = xb_h5w_attr_int(w, "/", "count", (int64_t)mem->count);
	if (!st)
		st = xb_h5w_attr_int(w, "/", "nclasses", mem->nclasses);
	if (!st)
		st = xb_h5w_attr_ints(w, "/", "sample_shape", shape, 3);
	if (!st)
		st = xb_h5w_attr_str(w, "/", "feature_storage", storage_name(storage));
	for (i = 0; !st && i < mem->nattrs; i++)
		if (!is_reserved(mem->attr_names[i]))
			st = xb_h5w_attr_str(w, "/", mem->attr_names[i], mem->attr_values[i]);
	if (st)
		goto h5fail;
	if (storage == XB_STORE_FLOAT32) {
		st = xb_h5w_write(w, "/features", XB_H5_FLOAT32, 4, dims, mem->x, "1");
	} else {
		int is8 = storage == XB_STORE_INT8;

		codes = malloc((mem->count ? mem->count : 1) * mem->sample_size * (is8 ? 1 : 2));
		scale = malloc(mem->sample_size * sizeof *scale);
		offset = malloc(mem->sample_size * sizeof *offset);
		if (!codes || !scale || !offset) {
			st = xb_raise(err, XB_ENOMEM, "%s: out of memory quantizing features", path);
			goto out;
		}
		quantize(mem->x, mem->count, mem->sample_size, is8 ? 127 : 32767, codes, scale,
			 offset, is8);
		st = xb_h5w_write(w, "/features", is8 ? XB_H5_INT8 : XB_H5_INT16, 4, dims, codes,
				  "1");
		if (!st)
			st = xb_h5w_write(w, "/feature_scale", XB_H5_FLOAT32, 3, sdims, scale, "1");
		if (!st)
			st = xb_h5w_write(w, "/feature_offset", XB_H5_FLOAT32, 3, sdims, offset, "1");
		if (!st)
			st = xb_h5w_attr_str(w, "/features", "decode",
					     "x = feature_offset + feature_scale * code");
	}
	if (!st)
		st = xb_h5w_write(w, "/labels", XB_H5_INT32, 1, dims, mem->labels, "1");
	if (!st)
		st = xb_h5w_write(w, "/groups", XB_H5_INT32, 1, dims, mem->groups, "1");
	if (!st)
		st = xb_h5w_write(w, "/splits", XB_H5_UINT8, 1, dims, mem->splits, "1");
	if (!st)
		st = xb_h5w_attr_str(w, "/splits", "meaning", "0 train, 1 valid, 2 test");
	if (!st) {
		int64_t k = mem->nclasses;

		st = xb_h5w_write(w, "/class_names", XB_H5_STRING, 1, &k, mem->class_names, "1");
	}
	if (!st) {
		static const char *const none[1] = { "" };
		int64_t g = mem->ngroups;

		st = xb_h5w_write(w, "/group_names", XB_H5_STRING, 1, &g,
				  mem->ngroups ? (const void *)mem->group_names : (const void *)none,
				  "1");
	}
	if (!st && mem->sources) {
		names = malloc((mem->count ? mem->count : 1) * sizeof *names);
		if (!names) {
			st = xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		for (i = 0; i < mem->count; i++)
			names[i] = mem->sources[i] ? mem->sources[i] : "";
		st = xb_h5w_write(w, "/sources", XB_H5_STRING, 1, dims, names, "1");
	}
	if (!st)
		st = xb_h5w_commit(w);
h5fail:
	if (st)
		xb_raise(err, st, "%s", xb_h5w_errmsg(w));
out:
	xb_h5w_free(w);
	free(codes);
	free(scale);
	free(offset);
	free(names);
	if (mem != ds)
		xb_dataset_free(mem);
	return st;
}

/* ---- reading ------------------------------------------------------------------- */

void data_h5_close(struct data_h5 *h)
{
	if (!h)
		return;
	xb_h5r_free(h->r);
	free(h->path);
	free(h->scale);
	free(h->offset);
	free(h);
}

/* Copy the reader's message to ERR and return its code. */
static xb_status h5fail(xb_h5r *r, xb_status st, xb_err *err)
{
	return xb_raise(err, st, "%s", xb_h5r_errmsg(r));
}

/* Check that dataset PATH is 1-D with N rows. */
static xb_status check_rows_1d(xb_h5r *r, const char *file, const char *path, int64_t n,
			       xb_err *err)
{
	xb_h5_info info;
	xb_status st = xb_h5r_info(r, path, &info);

	if (st)
		return h5fail(r, st, err);
	if (info.kind != XB_H5_DATASET || info.rank != 1 || info.dims[0] != n)
		return xb_raise(err, XB_EFORMAT, "%s: %s: expected a 1-D dataset of %lld rows "
				"(one per sample), found rank %d with %lld rows", file, path,
				(long long)n, info.rank, info.rank ? (long long)info.dims[0] : 0LL);
	return XB_OK;
}

/* Read string dataset PATH of N entries (or any if N < 0) into a copied array. */
static xb_status read_names(xb_h5r *r, const char *path, int64_t n, char ***out, int64_t *got,
			    xb_err *err)
{
	int64_t d[XB_H5_MAXRANK], want[1] = { n };
	void *data = NULL;
	char **s, **copy;
	int64_t i;
	xb_status st = xb_h5r_read(r, path, XB_H5_STRING, 1, want, 0, &data, d);

	*out = NULL;
	if (st)
		return h5fail(r, st, err);
	s = data;
	copy = calloc(d[0] ? (size_t)d[0] : 1, sizeof *copy);
	if (!copy) {
		free(data);
		return xb_raise(err, XB_ENOMEM, "%s: out of memory", xb_h5r_path(r));
	}
	for (i = 0; i < d[0]; i++)
		if (!(copy[i] = strdup(s[i] ? s[i] : ""))) {
			while (i > 0)
				free(copy[--i]);
			free(copy);
			free(data);
			return xb_raise(err, XB_ENOMEM, "%s: out of memory", xb_h5r_path(r));
		}
	free(data);
	*out = copy;
	*got = d[0];
	return XB_OK;
}

xb_dataset *xb_dataset_open(const char *path, xb_err *err)
{
	xb_h5r *r;
	struct data_h5 *h = NULL;
	xb_dataset *ds = NULL;
	xb_h5_info info;
	int64_t count, nclasses, *shape = NULL, ngroups = 0;
	size_t nshape = 0, nattr = 0, i;
	char *storage = NULL, **attrs = NULL, **classes = NULL, **groups = NULL;
	xb_status st;

	r = xb_h5r_open(path, err);
	if (!r)
		return NULL;
	st = xb_h5r_schema(r, NULL, XB_DATASET_SCHEMA, XB_DATASET_SCHEMA_VERSION, NULL);
	if (!st)
		st = xb_h5r_attr_int(r, "/", "count", &count);
	if (!st)
		st = xb_h5r_attr_int(r, "/", "nclasses", &nclasses);
	if (!st)
		st = xb_h5r_attr_ints(r, "/", "sample_shape", &shape, &nshape);
	if (!st)
		st = xb_h5r_attr_str(r, "/", "feature_storage", &storage);
	if (!st)
		st = xb_h5r_info(r, "/features", &info);
	if (st) {
		h5fail(r, st, err);
		goto fail;
	}
	if (nshape != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 || shape[0] > 1 << 20
	    || shape[1] > 1 << 20 || shape[2] > 1 << 20 || count < 0 || nclasses <= 0 ||
	    nclasses > 1 << 20) {
		xb_raise(err, XB_EFORMAT, "%s: root attributes: expected count >= 0, nclasses > 0 "
			 "and sample_shape of 3 positive sizes", path);
		goto fail;
	}
	if (info.kind != XB_H5_DATASET || info.rank != 4 || info.dims[0] != count ||
	    info.dims[1] != shape[0] || info.dims[2] != shape[1] || info.dims[3] != shape[2]) {
		xb_raise(err, XB_EFORMAT, "%s: /features: expected 4-D [%lld,%lld,%lld,%lld], "
			 "found rank %d", path, (long long)count, (long long)shape[0],
			 (long long)shape[1], (long long)shape[2], info.rank);
		goto fail;
	}
	h = calloc(1, sizeof *h);
	if (!h || !(h->path = strdup(path))) {
		xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	h->r = r;
	r = NULL;
	if (!strcmp(storage, "float32") && info.type == XB_H5_FLOAT32) {
		h->storage = XB_STORE_FLOAT32;
	} else if ((!strcmp(storage, "int8") && info.type == XB_H5_INT8) ||
		   (!strcmp(storage, "int16") && info.type == XB_H5_INT16)) {
		int64_t sd[3] = { shape[0], shape[1], shape[2] };
		void *sc = NULL, *of = NULL;

		h->storage = info.type == XB_H5_INT8 ? XB_STORE_INT8 : XB_STORE_INT16;
		st = xb_h5r_read(h->r, "/feature_scale", XB_H5_FLOAT32, 3, sd, XB_H5_FINITE, &sc,
				 NULL);
		if (!st)
			st = xb_h5r_read(h->r, "/feature_offset", XB_H5_FLOAT32, 3, sd,
					 XB_H5_FINITE, &of, NULL);
		h->scale = sc;
		h->offset = of;
		if (st) {
			h5fail(h->r, st, err);
			goto fail;
		}
	} else {
		xb_raise(err, XB_EFORMAT, "%s: /features stored as %s with feature_storage '%s': "
			 "expected float32, int16 or int8 matching the attribute", path,
			 info.type_name, storage);
		goto fail;
	}
	if (check_rows_1d(h->r, path, "/labels", count, err) ||
	    check_rows_1d(h->r, path, "/groups", count, err) ||
	    check_rows_1d(h->r, path, "/splits", count, err))
		goto fail;
	{
		int64_t got;

		if (read_names(h->r, "/class_names", nclasses, &classes, &got, err) ||
		    read_names(h->r, "/group_names", -1, &groups, &ngroups, err))
			goto fail;
		(void)got;
	}
	if (xb_h5r_exists(h->r, "/sources")) {
		if (check_rows_1d(h->r, path, "/sources", count, err))
			goto fail;
		h->has_sources = 1;
	}
	ds = data_dataset_alloc((size_t)count, (int)shape[0], (int)shape[1], (int)shape[2],
				(int)nclasses, (const char *const *)classes, err);
	if (!ds)
		goto fail;
	if (xb_dataset_set_group_names(ds, (int)ngroups, (const char *const *)groups)) {
		xb_err_copy(err, &ds->err);
		goto fail;
	}
	st = xb_h5r_attr_list(h->r, "/", &attrs, &nattr);
	if (st) {
		h5fail(h->r, st, err);
		goto fail;
	}
	for (i = 0; i < nattr; i++) {
		xb_h5_info ai;
		char *v = NULL;

		if (is_reserved(attrs[i]) || xb_h5r_attr_info(h->r, "/", attrs[i], &ai) ||
		    ai.type != XB_H5_STRING)
			continue;
		if (xb_h5r_attr_str(h->r, "/", attrs[i], &v) == XB_OK) {
			st = xb_dataset_set_attr(ds, attrs[i], v);
			free(v);
			if (st) {
				xb_err_copy(err, &ds->err);
				goto fail;
			}
		}
	}
	ds->h5 = h;
	free(attrs);
	free(shape);
	free(storage);
	for (i = 0; classes && i < (size_t)nclasses; i++)
		free(classes[i]);
	free(classes);
	for (i = 0; groups && i < (size_t)ngroups; i++)
		free(groups[i]);
	free(groups);
	return ds;
fail:
	xb_h5r_free(r);
	data_h5_close(h);
	xb_dataset_free(ds);
	free(attrs);
	free(shape);
	free(storage);
	for (i = 0; classes && i < (size_t)nclasses; i++)
		free(classes[i]);
	free(classes);
	for (i = 0; groups && i < (size_t)ngroups; i++)
		free(groups[i]);
	free(groups);
	return NULL;
}

xb_status data_h5_read(xb_dataset *ds, size_t first, size_t count, float *x, int32_t *labels)
{
	struct data_h5 *h = ds->h5;
	xb_status st;
	size_t i, j;

	if (x) {
		st = xb_h5r_read_rows(h->r, "/features", XB_H5_FLOAT32, (int64_t)first,
				      (int64_t)count, XB_H5_FINITE, x);
		if (st)
			return xb_raise(&ds->err, st, "%s", xb_h5r_errmsg(h->r));
		if (h->storage != XB_STORE_FLOAT32)
			for (i = 0; i < count; i++)
				for (j = 0; j < ds->sample_size; j++) {
					float *v = x + i * ds->sample_size + j;

					*v = (float)((double)h->offset[j] + (double)h->scale[j] * *v);
				}
	}
	if (labels) {
		st = xb_h5r_read_rows(h->r, "/labels", XB_H5_INT32, (int64_t)first, (int64_t)count,
				      0, labels);
		if (st)
			return xb_raise(&ds->err, st, "%s", xb_h5r_errmsg(h->r));
		for (i = 0; i < count; i++)
			if (labels[i] < 0 || labels[i] >= ds->nclasses)
				return xb_raise(&ds->err, XB_EFORMAT, "%s: /labels: label %d of sample "
						"%zu out of range, expected 0..%d", h->path, labels[i],
						first + i, ds->nclasses - 1);
	}
	return XB_OK;
}

xb_status data_h5_read_meta(xb_dataset *ds, size_t first, size_t count, int32_t *groups,
			    uint8_t *splits)
{
	struct data_h5 *h = ds->h5;
	xb_status st;
	size_t i;

	if (groups) {
		st = xb_h5r_read_rows(h->r, "/groups", XB_H5_INT32, (int64_t)first, (int64_t)count,
				      0, groups);
		if (st)
			return xb_raise(&ds->err, st, "%s", xb_h5r_errmsg(h->r));
		for (i = 0; i < count; i++)
			if (groups[i] < -1 || groups[i] >= ds->ngroups)
				return xb_raise(&ds->err, XB_EFORMAT, "%s: /groups: group %d of sample "
						"%zu out of range, expected -1..%d", h->path, groups[i],
						first + i, ds->ngroups - 1);
	}
	if (splits) {
		st = xb_h5r_read_rows(h->r, "/splits", XB_H5_UINT8, (int64_t)first, (int64_t)count,
				      0, splits);
		if (st)
			return xb_raise(&ds->err, st, "%s", xb_h5r_errmsg(h->r));
		for (i = 0; i < count; i++)
			if (splits[i] > XB_SPLIT_TEST)
				return xb_raise(&ds->err, XB_EFORMAT, "%s: /splits: split %u of sample "
						"%zu out of range, expected 0 (train), 1 (valid) or "
						"2 (test)", h->path, splits[i], first + i);
	}
	return XB_OK;
}

xb_dataset *xb_dataset_load(const char *path, int split, xb_err *err)
{
	xb_dataset *s = xb_dataset_open(path, err), *out;
	void *data = NULL;
	size_t i, k = 0;

	if (!s)
		return NULL;
	out = xb_dataset_select(s, split, err);
	if (out && s->h5->has_sources) {
		int64_t want[1] = { (int64_t)s->count };
		xb_status st = xb_h5r_read(s->h5->r, "/sources", XB_H5_STRING, 1, want, 0, &data,
					   NULL);
		uint8_t *spl = malloc(s->count ? s->count : 1);

		if (!st && !spl)
			st = xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		else if (st)
			h5fail(s->h5->r, st, err);
		if (!st && (st = xb_dataset_read_meta(s, 0, s->count, NULL, spl)))
			xb_err_copy(err, &s->err);
		for (i = 0; !st && i < s->count; i++) {
			const char *src = ((char **)data)[i];

			if (split != XB_SPLIT_ALL && spl[i] != split)
				continue;
			if (src && src[0] && xb_dataset_set_source(out, k, src))
				st = xb_err_copy(err, &out->err);
			k++;
		}
		free(spl);
		free(data);
		if (st) {
			xb_dataset_free(out);
			out = NULL;
		}
	}
	xb_dataset_free(s);
	return out;
}
