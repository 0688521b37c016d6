/* data_set.c - the in-memory data set, its accessors, selection, and shared helpers.
 * Streamed reads are forwarded to data_h5.c.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------------- */

char *data_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char **data_words(const char *text, size_t *n)
{
	size_t len = text ? strlen(text) : 0, count = 0, i;
	char **out, *buf;
	int in_word = 0;

	for (i = 0; i < len; i++) {
		int space = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == ',';

		if (!space && !in_word)
			count++;
		in_word = !space;
	}
	out = malloc((count + 1) * sizeof *out + len + 1);
	if (!out)
		return NULL;
	buf = (char *)(out + count + 1);
	memcpy(buf, text ? text : "", len + 1);
	count = 0;
	in_word = 0;
	for (i = 0; i < len; i++) {
		int space = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == ',';

		if (space)
			buf[i] = '\0';
		else if (!in_word)
			out[count++] = buf + i;
		in_word = !space;
	}
	out[count] = NULL;
	*n = count;
	return out;
}

xb_status data_slurp(const char *path, unsigned char **buf, size_t *len, xb_err *err)
{
	struct stat st;
	gzFile gz = NULL;
	unsigned char *b = NULL;
	size_t cap = 0, n = 0;

	*buf = NULL;
	*len = 0;
	if (stat(path, &st) != 0)
		return xb_raise(err, errno == ENOENT ? XB_ENOENT : XB_EIO, "%s: cannot open: %s",
				path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return xb_raise(err, XB_EIO, "%s: is a directory, expected a file", path);
	/* gzread passes plain files through unchanged, so one path serves both. */
	gz = gzopen(path, "rb");
	if (!gz)
		return xb_raise(err, XB_EIO, "%s: cannot open: %s", path, strerror(errno));
	cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	for (;;) {
		int got;
		unsigned want;

		if (n == cap || !b) {
			unsigned char *nb;

			if (b)
				cap *= 2;
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				gzclose(gz);
				return xb_raise(err, XB_ENOMEM, "%s: out of memory reading %zu bytes",
						path, cap);
			}
			b = nb;
		}
		want = (unsigned)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
		got = gzread(gz, b + n, want);
		if (got < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);

			xb_raise(err, zerr == Z_DATA_ERROR || zerr == Z_BUF_ERROR ? XB_EFORMAT : XB_EIO,
				 "%s: cannot read (corrupt or truncated gzip data): %s", path,
				 msg ? msg : "?");
			free(b);
			gzclose(gz);
			return err ? err->code : XB_EFORMAT;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	/* zlib reports a gzip stream cut short only through gzclose's status or a
	 * Z_BUF_ERROR from gzerror at end of file. */
	{
		int zerr = Z_OK;

		gzerror(gz, &zerr);
		if (zerr == Z_BUF_ERROR) {
			free(b);
			gzclose(gz);
			return xb_raise(err, XB_EFORMAT, "%s: truncated gzip data", path);
		}
	}
	if (gzclose(gz) != Z_OK) {
		free(b);
		return xb_raise(err, XB_EFORMAT, "%s: truncated or corrupt gzip data", path);
	}
	*buf = b;
	*len = n;
	return XB_OK;
}

void data_rng_normals(uint64_t seed, uint64_t item, uint32_t purpose, float *out, size_t n)
{
	const double two_pi = 6.283185307179586476925286766559;
	size_t i = 0;
	uint32_t block = 0;

	while (i < n) {
		uint32_t w[4];
		int k;

		data_rng_block(seed, item, purpose, block++, w);
		for (k = 0; k < 4; k += 2) {
			/* Uniforms in (0, 1): never 0, so the log is finite. */
			double u1 = ((double)w[k] + 0.5) * (1.0 / 4294967296.0);
			double u2 = ((double)w[k + 1] + 0.5) * (1.0 / 4294967296.0);
			double r = sqrt(-2.0 * log(u1));

			if (i < n)
				out[i++] = (float)(r * cos(two_pi * u2));
			if (i < n)
				out[i++] = (float)(r * sin(two_pi * u2));
		}
	}
}

const char *xb_split_name(int split)
{
	switch (split) {
	case XB_SPLIT_ALL: return "all";
	case XB_SPLIT_TRAIN: return "train";
	case XB_SPLIT_VALID: return "valid";
	case XB_SPLIT_TEST: return "test";
	default: return "?";
	}
}

int xb_split_parse(const char *name)
{
	if (!name)
		return -2;
	if (!strcmp(name, "train"))
		return XB_SPLIT_TRAIN;
	if (!strcmp(name, "valid") || !strcmp(name, "validation") || !strcmp(name, "val"))
		return XB_SPLIT_VALID;
	if (!strcmp(name, "test"))
		return XB_SPLIT_TEST;
	if (!strcmp(name, "all"))
		return XB_SPLIT_ALL;
	return -2;
}

/* ---- construction -------------------------------------------------------------- */

static void free_strings(char **s, size_t n)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

xb_dataset *data_dataset_alloc(size_t count, int h, int w, int c, int nclasses,
			       const char *const *class_names, xb_err *err)
{
	xb_dataset *ds;
	int k;

	if (h <= 0 || w <= 0 || c <= 0 || nclasses <= 0) {
		xb_raise(err, XB_EINVAL, "data set: shape %dx%dx%d and %d classes: expected "
			 "positive values", h, w, c, nclasses);
		return NULL;
	}
	ds = calloc(1, sizeof *ds);
	if (!ds)
		goto nomem;
	ds->count = count;
	ds->h = h;
	ds->w = w;
	ds->c = c;
	ds->sample_size = (size_t)h * (size_t)w * (size_t)c;
	ds->nclasses = nclasses;
	ds->class_names = calloc((size_t)nclasses, sizeof *ds->class_names);
	if (!ds->class_names)
		goto nomem;
	for (k = 0; k < nclasses; k++) {
		char num[24];

		if (class_names && class_names[k]) {
			ds->class_names[k] = strdup(class_names[k]);
		} else {
			snprintf(num, sizeof num, "%d", k);
			ds->class_names[k] = strdup(num);
		}
		if (!ds->class_names[k])
			goto nomem;
	}
	return ds;
nomem:
	xb_dataset_free(ds);
	xb_raise(err, XB_ENOMEM, "data set: out of memory for %zu samples", count);
	return NULL;
}

xb_dataset *xb_dataset_new(size_t count, int h, int w, int c, int nclasses,
			   const char *const *class_names, xb_err *err)
{
	xb_dataset *ds = data_dataset_alloc(count, h, w, c, nclasses, class_names, err);
	size_t i, n;

	if (!ds)
		return NULL;
	if (ds->sample_size && count > SIZE_MAX / sizeof(float) / ds->sample_size)
		goto nomem;
	n = count ? count : 1;
	ds->x = calloc(n * ds->sample_size, sizeof *ds->x);
	ds->labels = calloc(n, sizeof *ds->labels);
	ds->groups = malloc(n * sizeof *ds->groups);
	ds->splits = calloc(n, sizeof *ds->splits);
	if (!ds->x || !ds->labels || !ds->groups || !ds->splits)
		goto nomem;
	for (i = 0; i < count; i++)
		ds->groups[i] = -1;
	return ds;
nomem:
	xb_dataset_free(ds);
	xb_raise(err, XB_ENOMEM, "data set: out of memory for %zu samples of %dx%dx%d", count,
		 h, w, c);
	return NULL;
}

void xb_dataset_free(xb_dataset *ds)
{
	if (!ds)
		return;
	if (ds->h5)
		data_h5_close(ds->h5);
	free_strings(ds->class_names, (size_t)ds->nclasses);
	free_strings(ds->group_names, (size_t)ds->ngroups);
	free_strings(ds->attr_names, ds->nattrs);
	free_strings(ds->attr_values, ds->nattrs);
	free_strings(ds->sources, ds->sources ? ds->count : 0);
	free(ds->x);
	free(ds->labels);
	free(ds->groups);
	free(ds->splits);
	free(ds);
}

const char *xb_dataset_errmsg(const xb_dataset *ds)
{
	return ds ? ds->err.msg : xb_errmsg(NULL);
}

/* ---- accessors ----------------------------------------------------------------- */

size_t xb_dataset_count(const xb_dataset *ds)
{
	return ds->count;
}

void xb_dataset_shape(const xb_dataset *ds, int *h, int *w, int *c)
{
	if (h)
		*h = ds->h;
	if (w)
		*w = ds->w;
	if (c)
		*c = ds->c;
}

size_t xb_dataset_sample_size(const xb_dataset *ds)
{
	return ds->sample_size;
}

int xb_dataset_nclasses(const xb_dataset *ds)
{
	return ds->nclasses;
}

const char *xb_dataset_class_name(const xb_dataset *ds, int k)
{
	return k >= 0 && k < ds->nclasses ? ds->class_names[k] : NULL;
}

int xb_dataset_ngroups(const xb_dataset *ds)
{
	return ds->ngroups;
}

const char *xb_dataset_group_name(const xb_dataset *ds, int g)
{
	return g >= 0 && g < ds->ngroups ? ds->group_names[g] : NULL;
}

xb_status xb_dataset_set_group_names(xb_dataset *ds, int n, const char *const *names)
{
	char **g = NULL;
	int i;

	if (n < 0 || (n > 0 && !names))
		return xb_raise(&ds->err, XB_EINVAL, "data set: %d group names: expected >= 0 "
				"names", n);
	if (n > 0) {
		g = calloc((size_t)n, sizeof *g);
		if (!g)
			return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for %d group "
					"names", n);
		for (i = 0; i < n; i++) {
			g[i] = strdup(names[i] ? names[i] : "");
			if (!g[i]) {
				free_strings(g, (size_t)n);
				return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for "
						"group names");
			}
		}
	}
	free_strings(ds->group_names, (size_t)ds->ngroups);
	ds->group_names = g;
	ds->ngroups = n;
	return XB_OK;
}

int xb_dataset_in_memory(const xb_dataset *ds)
{
	return ds->h5 == NULL;
}

float *xb_dataset_features(xb_dataset *ds)
{
	return ds->x;
}

int32_t *xb_dataset_labels(xb_dataset *ds)
{
	return ds->labels;
}

int32_t *xb_dataset_groups(xb_dataset *ds)
{
	return ds->groups;
}

uint8_t *xb_dataset_splits(xb_dataset *ds)
{
	return ds->splits;
}

const char *xb_dataset_source(const xb_dataset *ds, size_t i)
{
	if (i >= ds->count || !ds->sources)
		return NULL;
	return ds->sources[i];
}

xb_status xb_dataset_set_source(xb_dataset *ds, size_t i, const char *text)
{
	char *copy;

	if (ds->h5)
		return xb_raise(&ds->err, XB_ESTATE, "data set: sources of a streamed data set "
				"cannot be changed");
	if (i >= ds->count)
		return xb_raise(&ds->err, XB_ERANGE, "data set: source of sample %zu: expected "
				"an index below %zu", i, ds->count);
	if (!ds->sources) {
		if (!text)
			return XB_OK;
		ds->sources = calloc(ds->count, sizeof *ds->sources);
		if (!ds->sources)
			return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for sources");
	}
	copy = data_strdup(text);
	if (text && !copy)
		return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for a source");
	free(ds->sources[i]);
	ds->sources[i] = copy;
	return XB_OK;
}

xb_status xb_dataset_set_attr(xb_dataset *ds, const char *name, const char *value)
{
	size_t i;
	const char *p;
	char *v, **nn, **nv;

	if (!name || !name[0] || !value)
		return xb_raise(&ds->err, XB_EINVAL, "data set: attribute: expected a name and "
				"a value");
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return xb_raise(&ds->err, XB_EINVAL, "data set: attribute name '%s': "
					"expected letters, digits and '_'", name);
	v = strdup(value);
	if (!v)
		return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for attribute %s",
				name);
	for (i = 0; i < ds->nattrs; i++)
		if (!strcmp(ds->attr_names[i], name)) {
			free(ds->attr_values[i]);
			ds->attr_values[i] = v;
			return XB_OK;
		}
	nn = realloc(ds->attr_names, (ds->nattrs + 1) * sizeof *nn);
	if (nn)
		ds->attr_names = nn;
	nv = realloc(ds->attr_values, (ds->nattrs + 1) * sizeof *nv);
	if (nv)
		ds->attr_values = nv;
	if (!nn || !nv || !(ds->attr_names[ds->nattrs] = strdup(name))) {
		free(v);
		return xb_raise(&ds->err, XB_ENOMEM, "data set: out of memory for attribute %s",
				name);
	}
	ds->attr_values[ds->nattrs++] = v;
	return XB_OK;
}

const char *xb_dataset_attr(const xb_dataset *ds, const char *name)
{
	size_t i;

	for (i = 0; i < ds->nattrs; i++)
		if (!strcmp(ds->attr_names[i], name))
			return ds->attr_values[i];
	return NULL;
}

/* ---- reading ------------------------------------------------------------------- */

static xb_status check_rows(xb_dataset *ds, size_t first, size_t count)
{
	if (first > ds->count || count > ds->count - first)
		return xb_raise(&ds->err, XB_ERANGE, "data set: rows %zu..%zu: expected rows "
				"below %zu", first, first + count, ds->count);
	return XB_OK;
}

xb_status xb_dataset_read(xb_dataset *ds, size_t first, size_t count, float *x,
			  int32_t *labels)
{
	xb_status st = check_rows(ds, first, count);

	if (st || count == 0)
		return st;
	if (ds->h5)
		return data_h5_read(ds, first, count, x, labels);
	if (x)
		memcpy(x, ds->x + first * ds->sample_size, count * ds->sample_size * sizeof *x);
	if (labels)
		memcpy(labels, ds->labels + first, count * sizeof *labels);
	return XB_OK;
}

xb_status xb_dataset_read_meta(xb_dataset *ds, size_t first, size_t count, int32_t *groups,
			       uint8_t *splits)
{
	xb_status st = check_rows(ds, first, count);

	if (st || count == 0)
		return st;
	if (ds->h5)
		return data_h5_read_meta(ds, first, count, groups, splits);
	if (groups)
		memcpy(groups, ds->groups + first, count * sizeof *groups);
	if (splits)
		memcpy(splits, ds->splits + first, count * sizeof *splits);
	return XB_OK;
}

/* Rows per block when walking a streamed data set. */
#define DATA_BLOCK_ROWS 1024

xb_status xb_dataset_class_counts(xb_dataset *ds, int split, size_t *counts)
{
	int32_t lab[DATA_BLOCK_ROWS];
	uint8_t spl[DATA_BLOCK_ROWS];
	size_t first, i;
	xb_status st;

	memset(counts, 0, (size_t)ds->nclasses * sizeof *counts);
	for (first = 0; first < ds->count; first += DATA_BLOCK_ROWS) {
		size_t n = ds->count - first < DATA_BLOCK_ROWS ? ds->count - first
							       : DATA_BLOCK_ROWS;

		st = xb_dataset_read(ds, first, n, NULL, lab);
		if (!st)
			st = xb_dataset_read_meta(ds, first, n, NULL, spl);
		if (st)
			return st;
		for (i = 0; i < n; i++)
			if ((split == XB_SPLIT_ALL || spl[i] == split) && lab[i] >= 0 &&
			    lab[i] < ds->nclasses)
				counts[lab[i]]++;
	}
	return XB_OK;
}

xb_dataset *xb_dataset_select(xb_dataset *ds, int split, xb_err *err)
{
	uint8_t spl[DATA_BLOCK_ROWS];
	int32_t grp[DATA_BLOCK_ROWS], lab[DATA_BLOCK_ROWS];
	size_t first, i, n_out = 0, k = 0;
	xb_dataset *out = NULL;
	float *block = NULL;

	if (split < XB_SPLIT_ALL || split > XB_SPLIT_TEST) {
		xb_raise(err, XB_EINVAL, "data set: split %d: expected all, train, valid or test",
			 split);
		return NULL;
	}
	for (first = 0; first < ds->count; first += DATA_BLOCK_ROWS) {
		size_t n = ds->count - first < DATA_BLOCK_ROWS ? ds->count - first
							       : DATA_BLOCK_ROWS;

		if (xb_dataset_read_meta(ds, first, n, NULL, spl))
			goto fail_ds;
		for (i = 0; i < n; i++)
			n_out += split == XB_SPLIT_ALL || spl[i] == split;
	}
	out = xb_dataset_new(n_out, ds->h, ds->w, ds->c, ds->nclasses,
			     (const char *const *)ds->class_names, err);
	if (!out)
		return NULL;
	block = malloc(DATA_BLOCK_ROWS * ds->sample_size * sizeof *block);
	if (!block) {
		xb_raise(&out->err, XB_ENOMEM, "data set: out of memory");
		goto fail_out;
	}
	if (xb_dataset_set_group_names(out, ds->ngroups, (const char *const *)ds->group_names))
		goto fail_out;
	for (i = 0; i < ds->nattrs; i++)
		if (xb_dataset_set_attr(out, ds->attr_names[i], ds->attr_values[i]))
			goto fail_out;
	for (first = 0; first < ds->count; first += DATA_BLOCK_ROWS) {
		size_t n = ds->count - first < DATA_BLOCK_ROWS ? ds->count - first
							       : DATA_BLOCK_ROWS;

		if (xb_dataset_read_meta(ds, first, n, grp, spl) ||
		    xb_dataset_read(ds, first, n, block, lab))
			goto fail_ds;
		for (i = 0; i < n; i++) {
			if (split != XB_SPLIT_ALL && spl[i] != split)
				continue;
			memcpy(out->x + k * out->sample_size, block + i * ds->sample_size,
			       ds->sample_size * sizeof *block);
			out->labels[k] = lab[i];
			out->groups[k] = grp[i];
			out->splits[k] = spl[i];
			if (xb_dataset_source(ds, first + i) &&
			    xb_dataset_set_source(out, k, xb_dataset_source(ds, first + i)))
				goto fail_out;
			k++;
		}
	}
	free(block);
	return out;
fail_ds:
	xb_err_copy(err, &ds->err);
	free(block);
	xb_dataset_free(out);
	return NULL;
fail_out:
	xb_err_copy(err, &out->err);
	free(block);
	xb_dataset_free(out);
	return NULL;
}

/* ---- finding shipped data sets ------------------------------------------------- */

xb_status xb_data_path(const char *name, char *buf, size_t len, xb_err *err)
{
	return xb_find_data("data set", name, "data", buf, len, err);
}

xb_dataset *xb_data_open_named(const char *name, int split, char *path, size_t len,
			       xb_err *err)
{
	xb_dataset *ds;

	if (strcmp(name, "fashion-mnist") == 0) {
		snprintf(path, len, "%s", name);
		ds = xb_data_load_fashion_mnist(NULL, XB_SPLIT_TEST, err);
		if (!ds)
			xb_err_context(err, "workload.data");
		return ds;
	}
	if (xb_data_path(name, path, len, err) != XB_OK) {
		xb_err_context(err, "workload.data");
		return NULL;
	}
	if (split == XB_SPLIT_ALL)
		return xb_dataset_open(path, err);
	ds = xb_dataset_load(path, split, err);
	if (ds && xb_dataset_count(ds) == 0) {   /* no such split: every sample */
		xb_dataset_free(ds);
		ds = xb_dataset_load(path, XB_SPLIT_ALL, err);
	}
	return ds;
}
