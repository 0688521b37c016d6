/* nn_file.c - the model file: topology, weights, quantization and training record in HDF5.
 * Written and read through the traces module; the layout is documented in doc/model-format.md.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "nn_int.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------ */

static xb_status write_shape(xb_h5w *w, const char *obj, const char *name, xb_nn_shape s)
{
	int64_t v[3] = {s.h, s.w, s.c};
	return xb_h5w_attr_ints(w, obj, name, v, 3);
}

static xb_status write_layer(xb_h5w *w, const xb_nn_net *net, const xb_nn_layer *l)
{
	char g[64], path[128], opt[200];
	xb_status st;
	snprintf(g, sizeof g, "/layers/%d", l->index);
	nn_format_options(l, opt, sizeof opt);
#define TRY(x) do { if ((st = (x)) != XB_OK) return st; } while (0)
	TRY(xb_h5w_group(w, g, NULL, 0));
	TRY(xb_h5w_attr_str(w, g, "type", l->type->name));
	TRY(xb_h5w_attr_str(w, g, "exec", l->type->exec == XB_NN_ANALOG ? "analog" : "digital"));
	TRY(xb_h5w_attr_str(w, g, "options", opt));
	TRY(write_shape(w, g, "in_shape", l->in));
	TRY(write_shape(w, g, "out_shape", l->out));
	for (int t = 0; t < l->ntensors; t++) {
		int64_t dims[XB_NN_MAX_RANK];
		for (int d = 0; d < l->trank[t]; d++)
			dims[d] = l->tdims[t][d];
		snprintf(path, sizeof path, "%s/%s", g, l->type->tensor_names[t]);
		TRY(xb_h5w_write(w, path, XB_H5_FLOAT32, l->trank[t], dims, l->t[t], "1"));
	}
	if (l->type->exec == XB_NN_ANALOG && net->calibrated) {
		int64_t dims[XB_NN_MAX_RANK];
		for (int d = 0; d < l->trank[0]; d++)
			dims[d] = l->tdims[0][d];
		snprintf(path, sizeof path, "%s/weight_q", g);
		TRY(xb_h5w_write(w, path, XB_H5_INT8, l->trank[0], dims, l->q.wq, "1"));
		int64_t rows = (int64_t)l->rows;
		snprintf(path, sizeof path, "%s/bias_lsb", g);
		TRY(xb_h5w_write(w, path, XB_H5_FLOAT32, 1, &rows, l->q.bias_lsb, "LSB"));
		TRY(xb_h5w_attr_double(w, g, "w_scale", l->q.w_scale));
		TRY(xb_h5w_attr_double(w, g, "x_scale", l->q.x_scale));
		TRY(xb_h5w_attr_int(w, g, "x_zero", l->q.x_zero));
		TRY(xb_h5w_attr_int(w, g, "x_split", l->q.x_split));
		TRY(xb_h5w_attr_int(w, g, "x_from", l->q.x_from));
		TRY(xb_h5w_attr_double(w, g, "lsb_scale", l->q.lsb_scale));
	}
	if (l->type == &xb_nn_requant && net->calibrated) {
		TRY(xb_h5w_attr_double(w, g, "in_scale", l->requant_in_scale));
		TRY(xb_h5w_attr_int(w, g, "source", l->requant_src));
	}
	return XB_OK;
}

static xb_status write_training(xb_h5w *w, const xb_nn_net *net)
{
	size_t n = net->nrec;
	int64_t dim = (int64_t)n;
	xb_status st = XB_OK;
	int32_t *ep = malloc((n ? n : 1) * sizeof *ep);
	double *col = malloc((n ? n : 1) * sizeof *col);
	static const struct {
		const char *name, *unit;
		size_t off;
	} cols[] = {
		{"train_loss", "nat", offsetof(xb_nn_epoch, train_loss)},
		{"train_acc", "1", offsetof(xb_nn_epoch, train_acc)},
		{"val_loss", "nat", offsetof(xb_nn_epoch, val_loss)},
		{"val_acc", "1", offsetof(xb_nn_epoch, val_acc)},
		{"lr", "1", offsetof(xb_nn_epoch, lr)},
		{"seconds", "s", offsetof(xb_nn_epoch, seconds)},
	};
	if (!ep || !col) {
		st = XB_ENOMEM;
		goto done;
	}
	if ((st = xb_h5w_group(w, "/training", NULL, 0)) != XB_OK ||
	    (st = xb_h5w_attr_int(w, "/training", "best_epoch", net->best_epoch)) != XB_OK ||
	    (st = xb_h5w_attr_int(w, "/training", "epochs", (int64_t)n)) != XB_OK)
		goto done;
	for (size_t i = 0; i < n; i++)
		ep[i] = net->rec[i].epoch;
	if ((st = xb_h5w_write(w, "/training/epoch", XB_H5_INT32, 1, &dim, ep, "1")) != XB_OK)
		goto done;
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		char path[64];
		for (size_t i = 0; i < n; i++)
			memcpy(&col[i], (const char *)&net->rec[i] + cols[c].off, sizeof(double));
		snprintf(path, sizeof path, "/training/%s", cols[c].name);
		if ((st = xb_h5w_write(w, path, XB_H5_FLOAT64, 1, &dim, col, cols[c].unit)) != XB_OK)
			goto done;
	}
done:
	free(ep);
	free(col);
	return st;
}

xb_status xb_nn_net_save(const xb_nn_net *net, const char *path, const char *config_ini,
			 const char *command_line, xb_err *err)
{
	xb_status st;
	char *spec = NULL;
	xb_h5w *w = xb_h5w_create(path, XB_NN_SCHEMA, XB_NN_SCHEMA_VERSION, config_ini,
				  command_line, err);
	if (!w)
		return err ? err->code : xb_raise(NULL, XB_EIO, "%s", xb_errmsg(NULL));
	spec = xb_nn_net_spec(net);
	if (!spec) {
		st = xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if ((st = write_shape(w, "/", "input_shape", net->in)) != XB_OK ||
	    (st = xb_h5w_attr_int(w, "/", "nlayers", net->nlayers)) != XB_OK ||
	    (st = xb_h5w_attr_str(w, "/", "spec", spec)) != XB_OK ||
	    (st = xb_h5w_attr_int(w, "/", "quantized", net->quantized)) != XB_OK ||
	    (st = xb_h5w_attr_int(w, "/", "calibrated", net->calibrated)) != XB_OK ||
	    (st = xb_h5w_attr_str(w, "/", "backend", net->backend.type->name)) != XB_OK ||
	    (st = xb_h5w_attr_double(w, "/", "backend_gain", net->backend.gain)) != XB_OK ||
	    (st = xb_h5w_group(w, "/layers", NULL, 0)) != XB_OK)
		goto werr;
	for (int i = 0; i < net->nlayers; i++)
		if ((st = write_layer(w, net, net->layers[i])) != XB_OK)
			goto werr;
	if ((st = write_training(w, net)) != XB_OK)
		goto werr;
	if ((st = xb_h5w_commit(w)) != XB_OK)
		goto werr;
	xb_h5w_free(w);
	free(spec);
	return XB_OK;
werr:
	st = xb_raise(err, st, "%s", xb_h5w_errmsg(w));
fail:
	xb_h5w_free(w);
	free(spec);
	return st;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Re-raise the reader's error on ERR as a format error (a missing object in a model
 * file is malformed content, not a missing file), adding WHAT was expected. */
static xb_status rd_fail(xb_h5r *r, xb_err *err, const char *what)
{
	const char *msg = xb_h5r_errmsg(r);
	if (what && *what)
		return xb_raise(err, XB_EFORMAT, "%s (%s)", msg, what);
	return xb_raise(err, XB_EFORMAT, "%s", msg);
}

static xb_status read_shape(xb_h5r *r, const char *obj, const char *name, xb_nn_shape *s,
			    xb_err *err)
{
	int64_t *v = NULL;
	size_t n = 0;
	if (xb_h5r_attr_ints(r, obj, name, &v, &n) != XB_OK)
		return rd_fail(r, err, "expected 3 integers h, w, c");
	if (n != 3 || v[0] < 1 || v[1] < 1 || v[2] < 1 || v[0] > INT32_MAX || v[1] > INT32_MAX ||
	    v[2] > INT32_MAX) {
		free(v);
		return xb_raise(err, XB_EFORMAT, "%s: %s attribute %s: expected 3 positive "
				"integers h, w, c", xb_h5r_path(r), obj, name);
	}
	*s = (xb_nn_shape){(int)v[0], (int)v[1], (int)v[2]};
	free(v);
	return XB_OK;
}

static void dims_text(const xb_nn_layer *l, int t, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int d = 0; d < l->trank[t]; d++) {
		int w = snprintf(buf + used, len - used, "%s%d", d ? "," : "[", l->tdims[t][d]);
		if (w > 0 && used + (size_t)w < len)
			used += (size_t)w;
	}
	if (used + 2 < len)
		strcat(buf, "]");
}

static xb_nn_layer *read_layer(xb_h5r *r, int i, xb_nn_shape in, int calibrated, xb_err *err)
{
	char g[64], path[128], what[160];
	char *type_name = NULL, *opt = NULL;
	xb_nn_layer *l = NULL;
	snprintf(g, sizeof g, "/layers/%d", i);
	if (!xb_h5r_exists(r, g)) {
		xb_raise(err, XB_EFORMAT, "%s: group %s is missing (root attribute nlayers says "
			 "there are more layers)", xb_h5r_path(r), g);
		return NULL;
	}
	if (xb_h5r_attr_str(r, g, "type", &type_name) != XB_OK) {
		rd_fail(r, err, "every layer group needs a type attribute");
		goto fail;
	}
	const xb_nn_layer_type *type = xb_nn_layer_type_find(type_name);
	if (!type) {
		char known[256];
		size_t used = 0;
		known[0] = 0;
		for (const xb_nn_layer_type *const *t = xb_nn_layer_types(NULL); *t; t++) {
			int w = snprintf(known + used, sizeof known - used, "%s%s", used ? " " : "",
					 (*t)->name);
			if (w > 0 && used + (size_t)w < sizeof known)
				used += (size_t)w;
		}
		xb_raise(err, XB_EFORMAT, "%s: %s: unknown layer type '%s' (known: %s)",
			 xb_h5r_path(r), g, type_name, known);
		goto fail;
	}
	if (xb_h5r_attr_str(r, g, "options", &opt) != XB_OK) {
		rd_fail(r, err, "expected the layer's options as text, e.g. \"out=16\"");
		goto fail;
	}
	char ctx[200];
	snprintf(ctx, sizeof ctx, "%s: %s (%s) attribute options", xb_h5r_path(r), g, type->name);
	xb_nn_hyper hp = xb_nn_hyper_default();
	if (nn_parse_options(type, opt, &hp, ctx, err) != XB_OK) {
		if (err)
			err->code = XB_EFORMAT;
		goto fail;
	}
	l = nn_layer_new(type, &hp, in, i, err);
	if (!l) {
		xb_err_context(err, "%s: %s", xb_h5r_path(r), g);
		if (err)
			err->code = XB_EFORMAT;
		goto fail;
	}
	if (xb_h5r_has_attr(r, g, "out_shape")) {
		xb_nn_shape os;
		if (read_shape(r, g, "out_shape", &os, err) != XB_OK)
			goto fail;
		if (os.h != l->out.h || os.w != l->out.w || os.c != l->out.c) {
			xb_raise(err, XB_EFORMAT, "%s: %s attribute out_shape: expected %dx%dx%d "
				 "(from the input %dx%dx%d and the options), found %dx%dx%d",
				 xb_h5r_path(r), g, l->out.h, l->out.w, l->out.c, in.h, in.w, in.c,
				 os.h, os.w, os.c);
			goto fail;
		}
	}
	for (int t = 0; t < l->ntensors; t++) {
		int64_t dims[XB_NN_MAX_RANK];
		char dt[64];
		float *data = NULL;
		for (int d = 0; d < l->trank[t]; d++)
			dims[d] = l->tdims[t][d];
		dims_text(l, t, dt, sizeof dt);
		snprintf(path, sizeof path, "%s/%s", g, type->tensor_names[t]);
		snprintf(what, sizeof what, "a %s layer needs %s float32 %s", type->name, path, dt);
		if (!xb_h5r_exists(r, path)) {
			xb_raise(err, XB_EFORMAT, "%s: dataset %s is missing (%s)", xb_h5r_path(r),
				 path, what);
			goto fail;
		}
		if (xb_h5r_read(r, path, XB_H5_FLOAT32, l->trank[t], dims, XB_H5_FINITE,
				(void **)&data, NULL) != XB_OK) {
			rd_fail(r, err, what);
			goto fail;
		}
		memcpy(l->t[t], data, l->tsize[t] * sizeof(float));
		free(data);
	}
	if (calibrated && type->exec == XB_NN_ANALOG) {
		double ws = 0, xs = 0;
		int64_t xz = 0;
		if (xb_h5r_attr_double(r, g, "w_scale", &ws) != XB_OK ||
		    xb_h5r_attr_double(r, g, "x_scale", &xs) != XB_OK ||
		    xb_h5r_attr_int(r, g, "x_zero", &xz) != XB_OK) {
			rd_fail(r, err, "a calibrated analog layer needs w_scale, x_scale, x_zero");
			goto fail;
		}
		if (!(xs > 0) || !isfinite(xs) || xz < 0 || xz > (1 << l->hp.xbits) - 1) {
			xb_raise(err, XB_EFORMAT, "%s: %s: x_scale %g, x_zero %lld: expected a "
				 "positive scale and a zero point in [0, %d]", xb_h5r_path(r), g, xs,
				 (long long)xz, (1 << l->hp.xbits) - 1);
			goto fail;
		}
		l->q.w_scale = (float)ws;
		l->q.x_scale = (float)xs;
		l->q.x_zero = (int)xz;
		if (xb_h5r_has_attr(r, g, "x_split")) {
			int64_t sp = 0;
			if (xb_h5r_attr_int(r, g, "x_split", &sp) != XB_OK) {
				rd_fail(r, err, "x_split: expected an integer 0 or 1");
				goto fail;
			}
			if ((sp != 0 && sp != 1) || (sp == 1 && xz != 0)) {
				xb_raise(err, XB_EFORMAT, "%s: %s: x_split %lld with x_zero %lld: "
					 "expected 0, or 1 with x_zero 0", xb_h5r_path(r), g,
					 (long long)sp, (long long)xz);
				goto fail;
			}
			l->q.x_split = (int)sp;
		}
	}
	if (calibrated && type == &xb_nn_requant) {
		double s = 0;
		if (xb_h5r_attr_double(r, g, "in_scale", &s) != XB_OK) {
			rd_fail(r, err, "a calibrated requant layer needs in_scale");
			goto fail;
		}
		if (!(s > 0) || !isfinite(s) || l->hp.shift < 0) {
			xb_raise(err, XB_EFORMAT, "%s: %s: in_scale %g, shift %d: expected a positive "
				 "scale and a shift >= 0", xb_h5r_path(r), g, s, l->hp.shift);
			goto fail;
		}
		l->requant_in_scale = (float)s;
	}
	free(type_name);
	free(opt);
	return l;
fail:
	free(type_name);
	free(opt);
	nn_layer_free(l);
	return NULL;
}

static xb_status read_training(xb_h5r *r, xb_nn_net *net, xb_err *err)
{
	static const char *const names[] = {"train_loss", "train_acc", "val_loss", "val_acc",
					     "lr", "seconds"};
	int64_t n = 0, best = 0;
	int32_t *ep = NULL;
	double *col[6] = {NULL};
	xb_status st = XB_OK;
	if (!xb_h5r_exists(r, "/training"))
		return XB_OK;
	int64_t dims[1];
	if (xb_h5r_read(r, "/training/epoch", XB_H5_INT32, 1, NULL, 0, (void **)&ep, dims) != XB_OK)
		return rd_fail(r, err, "expected a 1-D integer dataset of epoch numbers");
	n = dims[0];
	for (int c = 0; c < 6; c++) {
		char path[64];
		snprintf(path, sizeof path, "/training/%s", names[c]);
		int64_t want[1] = {n};
		if (xb_h5r_read(r, path, XB_H5_FLOAT64, 1, want, 0, (void **)&col[c], NULL) != XB_OK) {
			st = rd_fail(r, err, "one value per epoch, as /training/epoch");
			goto done;
		}
	}
	if (xb_h5r_has_attr(r, "/training", "best_epoch") &&
	    xb_h5r_attr_int(r, "/training", "best_epoch", &best) != XB_OK) {
		st = rd_fail(r, err, "expected an integer");
		goto done;
	}
	if (n > 0) {
		net->rec = malloc((size_t)n * sizeof *net->rec);
		if (!net->rec) {
			st = xb_raise(err, XB_ENOMEM, "%s: out of memory", xb_h5r_path(r));
			goto done;
		}
		net->rec_cap = net->nrec = (size_t)n;
		for (int64_t i = 0; i < n; i++)
			net->rec[i] = (xb_nn_epoch){ep[i], col[0][i], col[1][i], col[2][i],
						    col[3][i], col[4][i], col[5][i]};
	}
	net->best_epoch = (int)best;
done:
	free(ep);
	for (int c = 0; c < 6; c++)
		free(col[c]);
	return st;
}

xb_nn_net *xb_nn_net_load(const char *path, xb_err *err)
{
	xb_nn_net *net = NULL;
	xb_nn_shape in, cur;
	int64_t nl = 0, quantized = 0, calibrated = 0;
	double gain = 1.0;
	xb_h5r *r = xb_h5r_open(path, err);
	if (!r)
		return NULL;
	if (xb_h5r_schema(r, NULL, XB_NN_SCHEMA, XB_NN_SCHEMA_VERSION, NULL) != XB_OK) {
		rd_fail(r, err, NULL);
		goto fail;
	}
	if (read_shape(r, "/", "input_shape", &in, err) != XB_OK)
		goto fail;
	if (xb_h5r_attr_int(r, "/", "nlayers", &nl) != XB_OK) {
		rd_fail(r, err, "expected the number of layers");
		goto fail;
	}
	if (nl < 1 || nl > 100000) {
		xb_raise(err, XB_EFORMAT, "%s: / attribute nlayers = %lld: expected 1..100000",
			 path, (long long)nl);
		goto fail;
	}
	if (xb_h5r_has_attr(r, "/", "calibrated") &&
	    xb_h5r_attr_int(r, "/", "calibrated", &calibrated) != XB_OK) {
		rd_fail(r, err, "expected 0 or 1");
		goto fail;
	}
	if (xb_h5r_has_attr(r, "/", "quantized") &&
	    xb_h5r_attr_int(r, "/", "quantized", &quantized) != XB_OK) {
		rd_fail(r, err, "expected 0 or 1");
		goto fail;
	}
	if (xb_h5r_has_attr(r, "/", "backend_gain") &&
	    xb_h5r_attr_double(r, "/", "backend_gain", &gain) != XB_OK) {
		rd_fail(r, err, "expected a number");
		goto fail;
	}
	if (!xb_h5r_exists(r, "/layers")) {
		xb_raise(err, XB_EFORMAT, "%s: group /layers is missing", path);
		goto fail;
	}
	net = xb_nn_net_new(in, err);
	if (!net)
		goto fail;
	cur = in;
	for (int i = 0; i < (int)nl; i++) {
		xb_nn_layer *l = read_layer(r, i, cur, calibrated != 0, err);
		if (!l)
			goto fail;
		if (nn_net_push(net, l) != XB_OK) {
			xb_err_copy(err, &net->err);
			nn_layer_free(l);
			goto fail;
		}
		l->version = 1;
		cur = l->out;
	}
	if (read_training(r, net, err) != XB_OK)
		goto fail;
	if (calibrated) {
		if (!(gain > 0) || !isfinite(gain)) {
			xb_raise(err, XB_EFORMAT, "%s: / attribute backend_gain = %g: expected > 0",
				 path, gain);
			goto fail;
		}
		net->backend.gain = gain;
		nn_quant_link(net);
		net->calibrated = 1;
		net->quantized = quantized != 0;
		nn_quant_refresh(net);
	}
	xb_h5r_free(r);
	return net;
fail:
	xb_h5r_free(r);
	xb_nn_net_free(net);
	return NULL;
}
