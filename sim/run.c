/* run.c - `xbarsim run` as a library: float network and device network over a streamed data set.
 * Accuracy, per-layer statistics and the crash-safe trace (schema xbarsim-trace).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_run.h"
#include "xb_data.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define QUANT_SAMPLES 512
/* Samples of the offset calibration (512 x positions values per output). */
#define OFFSET_SAMPLES 512
/* First global sample number of the offset calibration's noise keys: after any test
 * set's samples. */
#define CALIBRATION_SAMPLE_BASE (UINT64_C(1) << 40)

xb_run_options xb_run_default_options(void)
{
	xb_run_options o;
	memset(&o, 0, sizeof o);
	o.batch = 64;
	o.trace_mvm_samples = 4;
	o.trace_events = 4096;
	return o;
}

xb_status xb_run_model_path(const char *name, char *buf, size_t len, xb_err *err)
{
	return xb_find_data("model", name, "models", buf, len, err);
}

void xb_run_result_free(xb_run_result *r)
{
	if (!r)
		return;
	free(r->model_path);
	free(r->data_path);
	free(r->trace_path);
	if (r->class_names)
		for (int k = 0; k < r->nclasses; k++)
			free(r->class_names[k]);
	free(r->class_names);
	free(r->class_count);
	free(r->class_correct_ideal);
	free(r->class_correct_device);
	free(r->layers);
	free(r);
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static int argmax(const float *v, int k)
{
	int best = 0;
	for (int i = 1; i < k; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/* Trace writer helpers: every failure is copied to ERR with the trace's name. */
static xb_status tw_fail(xb_h5w *w, xb_err *err)
{
	return xb_raise(err, XB_EIO, "%s", xb_h5w_errmsg(w));
}

static xb_status trace_begin(xb_h5w *w, int level, int k, xb_err *err)
{
	int64_t row[1] = { k };
	if (level < XB_RUN_LEVEL_LAYER)
		return XB_OK;
	if (xb_h5w_group(w, "/layers", NULL, 0) != XB_OK ||
	    xb_h5w_group(w, "/samples", NULL, 0) != XB_OK ||
	    xb_h5w_extendible(w, "/samples/index", XB_H5_INT64, 0, NULL, "1") != XB_OK ||
	    xb_h5w_extendible(w, "/samples/label", XB_H5_INT32, 0, NULL, "1") != XB_OK ||
	    xb_h5w_extendible(w, "/samples/prediction", XB_H5_INT32, 0, NULL, "1") != XB_OK ||
	    xb_h5w_extendible(w, "/samples/prediction_ideal", XB_H5_INT32, 0, NULL, "1") != XB_OK ||
	    xb_h5w_extendible(w, "/samples/logits", XB_H5_FLOAT32, 1, row, "1") != XB_OK ||
	    xb_h5w_extendible(w, "/samples/logits_ideal", XB_H5_FLOAT32, 1, row, "1") != XB_OK)
		return tw_fail(w, err);
	return XB_OK;
}

static xb_status trace_samples(xb_h5w *w, size_t n, const int64_t *index, const int32_t *label,
			       const int32_t *pred, const int32_t *pred_f, const float *logits,
			       const float *logits_f, xb_err *err)
{
	if (xb_h5w_append(w, "/samples/index", index, n) != XB_OK ||
	    xb_h5w_append(w, "/samples/label", label, n) != XB_OK ||
	    xb_h5w_append(w, "/samples/prediction", pred, n) != XB_OK ||
	    xb_h5w_append(w, "/samples/prediction_ideal", pred_f, n) != XB_OK ||
	    xb_h5w_append(w, "/samples/logits", logits, n) != XB_OK ||
	    xb_h5w_append(w, "/samples/logits_ideal", logits_f, n) != XB_OK)
		return tw_fail(w, err);
	return XB_OK;
}

static xb_status trace_summary(xb_h5w *w, const xb_run_result *r, xb_err *err)
{
	int K = r->nclasses;
	int64_t dims[1] = { K };
	int64_t *cnt = malloc((size_t)K * sizeof *cnt);
	double *ai = malloc((size_t)K * sizeof *ai), *ad = malloc((size_t)K * sizeof *ad);
	xb_status st = XB_OK;

	if (!cnt || !ai || !ad) {
		st = xb_raise(err, XB_ENOMEM, "trace: out of memory");
		goto done;
	}
	for (int k = 0; k < K; k++) {
		cnt[k] = (int64_t)r->class_count[k];
		ai[k] = r->class_count[k] ? (double)r->class_correct_ideal[k] / r->class_count[k] : NAN;
		ad[k] = r->class_count[k] ? (double)r->class_correct_device[k] / r->class_count[k] : NAN;
	}
	if (xb_h5w_group(w, "/summary", NULL, 0) != XB_OK ||
	    xb_h5w_attr_int(w, "/summary", "samples", (int64_t)r->samples) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "accuracy_ideal", r->accuracy_ideal) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "accuracy_device", r->accuracy_device) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "energy_pj_per_inference",
			       r->energy_pj_per_inference) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "events_per_inference",
			       r->events_per_inference) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "conversions_per_inference",
			       r->conversions_per_inference) != XB_OK ||
	    xb_h5w_attr_double(w, "/summary", "adc_saturation_rate",
			       r->adc_saturation_rate) != XB_OK ||
	    xb_h5w_attr_str(w, "/summary", "model", r->model_path) != XB_OK ||
	    xb_h5w_attr_str(w, "/summary", "data", r->data_path) != XB_OK ||
	    (!isnan(r->latency_ns_per_inference) &&
	     xb_h5w_attr_double(w, "/summary", "latency_ns_per_inference",
				r->latency_ns_per_inference) != XB_OK) ||
	    xb_h5w_write(w, "/summary/class_names", XB_H5_STRING, 1, dims, r->class_names,
			 "1") != XB_OK ||
	    xb_h5w_write(w, "/summary/class_count", XB_H5_INT64, 1, dims, cnt, "1") != XB_OK ||
	    xb_h5w_write(w, "/summary/class_accuracy_ideal", XB_H5_FLOAT64, 1, dims, ai,
			 "1") != XB_OK ||
	    xb_h5w_write(w, "/summary/class_accuracy_device", XB_H5_FLOAT64, 1, dims, ad,
			 "1") != XB_OK)
		st = tw_fail(w, err);
done:
	free(cnt);
	free(ai);
	free(ad);
	return st;
}

static xb_status trace_layers(xb_h5w *w, const xb_run_result *r, xb_err *err)
{
	for (int i = 0; i < r->nlayers; i++) {
		const xb_run_layer *L = &r->layers[i];
		const xb_tile_counters *c = &L->dev.c;
		char g[64];
		snprintf(g, sizeof g, "/layers/%d", L->index);
		if (xb_h5w_group(w, g, NULL, 0) != XB_OK ||
		    xb_h5w_attr_str(w, g, "type", L->type) != XB_OK ||
		    xb_h5w_attr_int(w, g, "inputs", (int64_t)L->dev.inputs) != XB_OK ||
		    xb_h5w_attr_int(w, g, "outputs", (int64_t)L->dev.outputs) != XB_OK ||
		    xb_h5w_attr_int(w, g, "tiles", (int64_t)L->dev.tiles) != XB_OK ||
		    xb_h5w_attr_int(w, g, "tile_base", (int64_t)L->dev.tile_base) != XB_OK ||
		    xb_h5w_attr_int(w, g, "mvms", (int64_t)c->mvms) != XB_OK ||
		    xb_h5w_attr_int(w, g, "events", (int64_t)c->events) != XB_OK ||
		    xb_h5w_attr_int(w, g, "conversions", (int64_t)c->conversions) != XB_OK ||
		    xb_h5w_attr_int(w, g, "active_cells", (int64_t)c->active_cells) != XB_OK ||
		    xb_h5w_attr_int(w, g, "adc_saturations", (int64_t)c->sat_adc) != XB_OK ||
		    xb_h5w_attr_double(w, g, "adc_saturation_rate", L->adc_saturation_rate) != XB_OK ||
		    xb_h5w_attr_int(w, g, "cycles", (int64_t)c->cycles) != XB_OK ||
		    xb_h5w_attr_double(w, g, "energy_pj", L->dev.energy_pj) != XB_OK ||
		    xb_h5w_attr_double(w, g, "energy_event_pj", L->dev.energy_event_pj) != XB_OK ||
		    xb_h5w_attr_double(w, g, "energy_cell_pj", L->dev.energy_cell_pj) != XB_OK ||
		    xb_h5w_attr_double(w, g, "energy_conversion_pj",
				       L->dev.energy_conversion_pj) != XB_OK)
			return tw_fail(w, err);
	}
	return XB_OK;
}

/* /mvm/<n> and, at level event, /events/<n>/<k>. */
static xb_status trace_mvms(xb_h5w *w, xb_device_nn *dev, const xb_run_result *r, int level,
			    double event_mhz, xb_err *err)
{
	size_t ncap;
	const xb_device_nn_mvm *cap = xb_device_nn_captured(dev, &ncap);
	(void)event_mhz;

	if (xb_h5w_group(w, "/mvm", NULL, 0) != XB_OK)
		return tw_fail(w, err);
	if (level >= XB_RUN_LEVEL_EVENT && xb_h5w_group(w, "/events", NULL, 0) != XB_OK)
		return tw_fail(w, err);
	for (int li = 0; li < r->nlayers; li++) {
		int layer = r->layers[li].index;
		size_t m = 0, K = r->layers[li].dev.inputs, R = r->layers[li].dev.outputs, j = 0;
		char g[64], p[160];
		for (size_t i = 0; i < ncap; i++)
			m += cap[i].layer == layer;
		int64_t *smp = malloc((m ? m : 1) * sizeof *smp);
		uint8_t *x = malloc((m ? m : 1) * K);
		float *yi = malloc((m ? m : 1) * R * sizeof *yi), *yd = malloc((m ? m : 1) * R * sizeof *yd);
		xb_status st = XB_OK;
		if (!smp || !x || !yi || !yd) {
			st = xb_raise(err, XB_ENOMEM, "trace: out of memory");
			goto next;
		}
		for (size_t i = 0; i < ncap; i++)
			if (cap[i].layer == layer) {
				smp[j] = (int64_t)cap[i].sample;
				memcpy(x + j * K, cap[i].x, K);
				memcpy(yi + j * R, cap[i].y_ideal, R * sizeof *yi);
				memcpy(yd + j * R, cap[i].y_device, R * sizeof *yd);
				j++;
			}
		snprintf(g, sizeof g, "/mvm/%d", layer);
		int64_t d1[1] = { (int64_t)m }, dx[2] = { (int64_t)m, (int64_t)K },
			dy[2] = { (int64_t)m, (int64_t)R };
		if (xb_h5w_group(w, g, NULL, 0) != XB_OK ||
		    xb_h5w_attr_int(w, g, "position", 0) != XB_OK ||
		    (snprintf(p, sizeof p, "%s/sample", g), xb_h5w_write(w, p, XB_H5_INT64, 1, d1, smp, "1")) != XB_OK ||
		    (snprintf(p, sizeof p, "%s/inputs", g), xb_h5w_write(w, p, XB_H5_UINT8, 2, dx, x, "code")) != XB_OK ||
		    (snprintf(p, sizeof p, "%s/ideal", g), xb_h5w_write(w, p, XB_H5_FLOAT32, 2, dy, yi, "LSB")) != XB_OK ||
		    (snprintf(p, sizeof p, "%s/device", g), xb_h5w_write(w, p, XB_H5_FLOAT32, 2, dy, yd, "LSB")) != XB_OK) {
			st = tw_fail(w, err);
			goto next;
		}
		if (level >= XB_RUN_LEVEL_EVENT) {
			snprintf(g, sizeof g, "/events/%d", layer);
			if (xb_h5w_group(w, g, NULL, 0) != XB_OK) {
				st = tw_fail(w, err);
				goto next;
			}
			j = 0;
			for (size_t i = 0; i < ncap && st == XB_OK; i++) {
				const xb_device_nn_mvm *c = &cap[i];
				if (c->layer != layer)
					continue;
				char eg[96];
				snprintf(eg, sizeof eg, "%s/%zu", g, j++);
				double *tns = malloc((c->events ? c->events : 1) * sizeof *tns);
				if (!tns) {
					st = xb_raise(err, XB_ENOMEM, "trace: out of memory");
					break;
				}
				for (size_t e = 0; e < c->events; e++)
					tns[e] = xb_ps_to_ns(c->ev_time_ps[e]);
				int64_t de[1] = { (int64_t)c->events },
					dv[2] = { (int64_t)c->events, (int64_t)c->ev_cols };
				if (xb_h5w_group(w, eg, NULL, 0) != XB_OK ||
				    xb_h5w_attr_int(w, eg, "sample", (int64_t)c->sample) != XB_OK ||
				    xb_h5w_attr_int(w, eg, "events_total", (int64_t)c->events_total) != XB_OK ||
				    xb_h5w_attr_int(w, eg, "tile_row_block", 0) != XB_OK ||
				    xb_h5w_attr_int(w, eg, "tile_col_block", 0) != XB_OK ||
				    xb_h5w_attr_double(w, eg, "read_ns", xb_ps_to_ns(c->read_ps)) != XB_OK ||
				    (snprintf(p, sizeof p, "%s/time_ns", eg), xb_h5w_write(w, p, XB_H5_FLOAT64, 1, de, tns, "ns")) != XB_OK ||
				    (snprintf(p, sizeof p, "%s/row", eg), xb_h5w_write(w, p, XB_H5_INT32, 1, de, c->ev_row, "1")) != XB_OK ||
				    (snprintf(p, sizeof p, "%s/v_lsb", eg), xb_h5w_write(w, p, XB_H5_FLOAT32, 2, dv, c->ev_v_lsb, "LSB")) != XB_OK)
					st = tw_fail(w, err);
				free(tns);
			}
		}
next:
		free(smp);
		free(x);
		free(yi);
		free(yd);
		if (st != XB_OK)
			return st;
	}
	return XB_OK;
}

xb_status xb_run(const xb_config *cfg, const xb_run_options *opt, xb_run_result **out,
		 xb_err *err)
{
	xb_run_options o = opt ? *opt : xb_run_default_options();
	xb_run_result *r = NULL;
	xb_tile_params tp;
	xb_nn_net *net = NULL;
	xb_dataset *ds = NULL;
	xb_device_nn *dev = NULL;
	xb_h5w *w = NULL;
	float *x = NULL, *lf = NULL, *ld = NULL;
	int32_t *lab = NULL, *pd = NULL, *pf = NULL;
	int64_t *idx = NULL;
	char path[4096];
	xb_status st;
	int level, K, h, wd, c;
	size_t N, isz;
	double latency_ns = 0.0, t0;
	xb_nn_backend be;
	const char *trace_file;

	*out = NULL;
	if (o.batch == 0)
		o.batch = 64;
	if ((st = xb_tile_params_from_config(cfg, &tp, err)) != XB_OK)
		return st;
	r = calloc(1, sizeof *r);
	if (!r)
		return xb_raise(err, XB_ENOMEM, "run: out of memory");
	r->latency_ns_per_inference = NAN;
	/* model */
	if ((st = xb_run_model_path(xb_config_str(cfg, "workload.model"), path, sizeof path,
				    err)) != XB_OK) {
		xb_err_context(err, "workload.model");
		goto fail;
	}
	r->model_path = dupstr(path);
	if (!(net = xb_nn_net_load(path, err))) {
		st = err ? err->code : XB_EFORMAT;
		goto fail;
	}
	/* data */
	if (!(ds = xb_data_open_named(xb_config_str(cfg, "workload.data"), XB_SPLIT_ALL, path,
				      sizeof path, err))) {
		st = err ? err->code : XB_EFORMAT;
		goto fail;
	}
	r->data_path = dupstr(path);
	if (!r->model_path || !r->data_path)
		goto nomem;
	xb_dataset_shape(ds, &h, &wd, &c);
	{
		xb_nn_shape in = xb_nn_net_in_shape(net), os = xb_nn_net_out_shape(net);
		if (in.h != h || in.w != wd || in.c != c) {
			st = xb_raise(err, XB_EFORMAT, "data set %s: samples of shape %dx%dx%d, but "
				      "model %s expects %dx%dx%d", r->data_path, h, wd, c,
				      r->model_path, in.h, in.w, in.c);
			goto fail;
		}
		K = (int)xb_nn_shape_size(os);
		if (xb_dataset_nclasses(ds) > K) {
			st = xb_raise(err, XB_EFORMAT, "data set %s: %d classes, but model %s has %d "
				      "outputs", r->data_path, xb_dataset_nclasses(ds), r->model_path,
				      K);
			goto fail;
		}
	}
	r->nclasses = K;
	N = xb_dataset_count(ds);
	if (xb_config_int(cfg, "run.samples") > 0 && (size_t)xb_config_int(cfg, "run.samples") < N)
		N = (size_t)xb_config_int(cfg, "run.samples");
	isz = xb_dataset_sample_size(ds);
	r->class_names = calloc((size_t)K, sizeof *r->class_names);
	r->class_count = calloc((size_t)K, sizeof *r->class_count);
	r->class_correct_ideal = calloc((size_t)K, sizeof(size_t));
	r->class_correct_device = calloc((size_t)K, sizeof(size_t));
	if (!r->class_names || !r->class_count || !r->class_correct_ideal ||
	    !r->class_correct_device)
		goto nomem;
	for (int k = 0; k < K; k++) {
		const char *nm = xb_dataset_class_name(ds, k);
		char buf[32];
		if (!nm) {
			snprintf(buf, sizeof buf, "%d", k);
			nm = buf;
		}
		if (!(r->class_names[k] = dupstr(nm)))
			goto nomem;
	}
	/* device */
	if (xb_config_int(cfg, "run.threads") > 0) {
#ifdef _OPENMP
		omp_set_num_threads((int)xb_config_int(cfg, "run.threads"));
#endif
	}
	if (!(dev = xb_device_nn_new(&tp, xb_config_str(cfg, "calibration.file"), err))) {
		st = err ? err->code : XB_ECONFIG;
		goto fail;
	}
	be = xb_device_nn_backend(dev);
	xb_nn_net_set_backend(net, &be);
	x = malloc(o.batch * isz * sizeof *x);
	lf = malloc(o.batch * (size_t)K * sizeof *lf);
	ld = malloc(o.batch * (size_t)K * sizeof *ld);
	lab = malloc(o.batch * sizeof *lab);
	pd = malloc(o.batch * sizeof *pd);
	pf = malloc(o.batch * sizeof *pf);
	idx = malloc(o.batch * sizeof *idx);
	if (!x || !lf || !ld || !lab || !pd || !pf || !idx)
		goto nomem;
	{
		/* quantization (unless the file is quantized) and the chip's offset
		 * calibration, from the first samples (their inputs only) */
		size_t nq = N < QUANT_SAMPLES ? N : QUANT_SAMPLES;
		int quantize = xb_nn_net_set_quantized(net, 1) != XB_OK;
		int offsets = xb_config_bool(cfg, "workload.offset_cal");
		float *xq = NULL;
		xb_nn_quant_params qp = xb_nn_quant_default_params();
		qp.fill = xb_config_double(cfg, "workload.fill");
		if ((quantize || offsets) && !(xq = malloc((nq ? nq : 1) * isz * sizeof *xq)))
			goto nomem;
		if (xq && (st = xb_dataset_read(ds, 0, nq, xq, NULL)) != XB_OK)
			xb_raise(err, st, "%s", xb_dataset_errmsg(ds));
		else if (quantize && (st = xb_nn_net_quantize(net, nq, xq, &qp)) != XB_OK)
			xb_raise(err, st, "model %s: quantization: %s", r->model_path,
				 xb_nn_net_errmsg(net));
		if (st == XB_OK && offsets) {
			/* noise keys of their own, after every test sample's */
			xb_device_nn_set_sample(dev, CALIBRATION_SAMPLE_BASE);
			if ((st = xb_nn_net_calibrate_offsets(net, nq < OFFSET_SAMPLES ? nq :
							      OFFSET_SAMPLES, xq)) != XB_OK)
				xb_raise(err, st, "model %s: offset calibration: %s",
					 r->model_path, xb_nn_net_errmsg(net));
			xb_device_nn_set_sample(dev, 0);
			xb_device_nn_reset_stats(dev);
		}
		free(xq);
		if (st != XB_OK)
			goto fail;
	}
	if (o.timed.start && (st = o.timed.start(o.timed.ud, cfg, net, err)) != XB_OK)
		goto fail;
	/* trace */
	level = xb_config_enum(cfg, "trace.level");
	trace_file = o.trace_file ? o.trace_file : xb_config_str(cfg, "trace.file");
	if (trace_file && trace_file[0]) {
		char *ini = xb_config_to_ini(cfg, 0);
		w = xb_h5w_create(trace_file, XB_RUN_SCHEMA, XB_RUN_SCHEMA_VERSION, ini,
				  o.command_line, err);
		free(ini);
		if (!w) {
			st = err ? err->code : XB_EIO;
			goto fail;
		}
		if (!(r->trace_path = dupstr(trace_file)))
			goto nomem;
		if ((st = trace_begin(w, level, K, err)) != XB_OK)
			goto fail;
		if (level >= XB_RUN_LEVEL_MVM)
			xb_device_nn_capture(dev, o.trace_mvm_samples,
					     level >= XB_RUN_LEVEL_EVENT ? o.trace_events : 0);
	}
	/* evaluate */
	t0 = xb_wall_s();
	for (size_t s0 = 0; s0 < N; s0 += o.batch) {
		size_t n = N - s0 < o.batch ? N - s0 : o.batch;
		if ((st = xb_dataset_read(ds, s0, n, x, lab)) != XB_OK) {
			xb_raise(err, st, "%s", xb_dataset_errmsg(ds));
			goto fail;
		}
		if ((st = xb_nn_net_set_quantized(net, 0)) != XB_OK ||
		    (st = xb_nn_net_forward(net, n, x, lf, 0)) != XB_OK ||
		    (st = xb_nn_net_set_quantized(net, 1)) != XB_OK) {
			xb_raise(err, st, "model %s: %s", r->model_path, xb_nn_net_errmsg(net));
			goto fail;
		}
		xb_device_nn_set_sample(dev, s0);
		if ((st = xb_nn_net_forward(net, n, x, ld, 0)) != XB_OK) {
			xb_raise(err, st, "model %s: %s", r->model_path, xb_nn_net_errmsg(net));
			goto fail;
		}
		if (o.timed.batch &&
		    (st = o.timed.batch(o.timed.ud, net, dev, s0, n, x, &latency_ns, err)) != XB_OK)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			int y = lab[i];
			idx[i] = (int64_t)(s0 + i);
			pf[i] = argmax(lf + i * (size_t)K, K);
			pd[i] = argmax(ld + i * (size_t)K, K);
			if (y < 0 || y >= K) {
				st = xb_raise(err, XB_EFORMAT, "data set %s: sample %zu: label %d "
					      "outside [0, %d)", r->data_path, s0 + i, y, K);
				goto fail;
			}
			r->class_count[y]++;
			r->class_correct_ideal[y] += pf[i] == y;
			r->class_correct_device[y] += pd[i] == y;
		}
		if (w && level >= XB_RUN_LEVEL_LAYER &&
		    (st = trace_samples(w, n, idx, lab, pd, pf, ld, lf, err)) != XB_OK)
			goto fail;
		r->samples += n;
		if (o.progress && o.progress(o.progress_ud, s0 + n, N))
			break;
	}
	r->seconds = xb_wall_s() - t0;
	/* totals */
	{
		size_t ci = 0, cd = 0;
		for (int k = 0; k < K; k++) {
			ci += r->class_correct_ideal[k];
			cd += r->class_correct_device[k];
		}
		r->accuracy_ideal = r->samples ? (double)ci / r->samples : 0.0;
		r->accuracy_device = r->samples ? (double)cd / r->samples : 0.0;
	}
	{
		int ns = xb_device_nn_nslots(dev), nl = 0;
		r->layers = calloc(ns > 0 ? (size_t)ns : 1, sizeof *r->layers);
		if (!r->layers)
			goto nomem;
		for (int i = 0; i < ns; i++) {
			const xb_device_nn_stats *s = xb_device_nn_stats_of(dev, i);
			if (!s)
				continue;
			xb_run_layer *L = &r->layers[nl++];
			L->index = i;
			L->type = xb_nn_net_layer(net, i)->type->name;
			L->dev = *s;
			L->adc_saturation_rate = s->c.conversions ?
				(double)s->c.sat_adc / (double)s->c.conversions : 0.0;
			r->total.mvms += s->c.mvms;
			r->total.events += s->c.events;
			r->total.conversions += s->c.conversions;
			r->total.active_cells += s->c.active_cells;
			r->total.sat_integrator += s->c.sat_integrator;
			r->total.sat_adc += s->c.sat_adc;
			r->total.cycles += s->c.cycles;
			r->energy_pj += s->energy_pj;
		}
		r->nlayers = nl;
	}
	if (r->samples) {
		double n = (double)r->samples;
		r->energy_pj_per_inference = r->energy_pj / n;
		r->events_per_inference = (double)r->total.events / n;
		r->conversions_per_inference = (double)r->total.conversions / n;
		if (o.timed.batch)
			r->latency_ns_per_inference = o.timed.latency_ns_mean ?
				o.timed.latency_ns_mean(o.timed.ud) : latency_ns / n;
	}
	r->adc_saturation_rate = r->total.conversions ?
		(double)r->total.sat_adc / (double)r->total.conversions : 0.0;
	if (w) {
		if ((st = trace_summary(w, r, err)) != XB_OK)
			goto fail;
		if (level >= XB_RUN_LEVEL_LAYER && (st = trace_layers(w, r, err)) != XB_OK)
			goto fail;
		if (level >= XB_RUN_LEVEL_MVM &&
		    (st = trace_mvms(w, dev, r, level, tp.input.event_mhz, err)) != XB_OK)
			goto fail;
		if (o.timed.write && (st = o.timed.write(o.timed.ud, w, err)) != XB_OK)
			goto fail;
		if (xb_h5w_commit(w) != XB_OK) {
			st = tw_fail(w, err);
			goto fail;
		}
		xb_h5w_free(w);
		w = NULL;
	}
	st = XB_OK;
	*out = r;
	r = NULL;
	goto done;
nomem:
	st = xb_raise(err, XB_ENOMEM, "run: out of memory");
fail:
	if (st == XB_OK)
		st = XB_EINTERNAL;
done:
	xb_h5w_free(w);
	xb_run_result_free(r);
	xb_nn_net_free(net);
	xb_device_nn_free(dev);
	xb_dataset_free(ds);
	free(x);
	free(lf);
	free(ld);
	free(lab);
	free(pd);
	free(pf);
	free(idx);
	return st;
}
