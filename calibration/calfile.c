/* calfile.c - calibration files: the in-memory calibration, HDF5 write and validating load,
 * and the conversion to per-column tile parameters.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CAL_SCHEMA "xbarsim-calibration"
#define CAL_MODEL "ordered-leaky-saturating"

static const struct {
	const char *name, *unit;
} params[XB_CAL_NPARAM] = {
	{ "gain", "LSB/(x*w)" },
	{ "offset_lsb", "LSB" },
	{ "sat_lo_lsb", "LSB" },
	{ "sat_hi_lsb", "LSB" },
	{ "tau_us", "us" },
	{ "read_noise_lsb", "LSB" },
};

const char *xb_calibration_param_name(xb_calibration_param p)
{
	return (unsigned)p < XB_CAL_NPARAM ? params[p].name : "?";
}

const char *xb_calibration_param_unit(xb_calibration_param p)
{
	return (unsigned)p < XB_CAL_NPARAM ? params[p].unit : "?";
}

const char *xb_calibration_sat_name(xb_calibration_sat s)
{
	switch (s) {
	case XB_CAL_SAT_AUTO: return "auto";
	case XB_CAL_SAT_HARD: return "hard";
	case XB_CAL_SAT_SMOOTH: return "smooth";
	}
	return "?";
}

int xb_calibration_sat_parse(const char *name)
{
	if (!name)
		return -2;
	if (!strcmp(name, "auto"))
		return XB_CAL_SAT_AUTO;
	if (!strcmp(name, "hard"))
		return XB_CAL_SAT_HARD;
	if (!strcmp(name, "smooth"))
		return XB_CAL_SAT_SMOOTH;
	return -2;
}

/* ---- the in-memory calibration -------------------------------------------------------- */

xb_calibration *xb_calibration_new(size_t cols, xb_err *err)
{
	xb_calibration *cal;

	if (!cols) {
		xb_raise(err, XB_EINVAL, "calibration: zero columns");
		return NULL;
	}
	cal = calloc(1, sizeof *cal);
	if (!cal)
		goto nomem;
	cal->cols = cols;
	cal->model = strdup(CAL_MODEL);
	cal->saturation_criterion = strdup("");
	cal->warnings = strdup("");
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		cal->value[p] = malloc(cols * sizeof *cal->value[p]);
		cal->stderr_[p] = malloc(cols * sizeof *cal->stderr_[p]);
		if (!cal->value[p] || !cal->stderr_[p])
			goto nomem;
		for (size_t c = 0; c < cols; c++)
			cal->value[p][c] = cal->stderr_[p][c] = NAN;
	}
	cal->knee_lsb = malloc(cols * sizeof *cal->knee_lsb);
	cal->knee_lsb_stderr = malloc(cols * sizeof *cal->knee_lsb_stderr);
	cal->chi2_dof = malloc(cols * sizeof *cal->chi2_dof);
	cal->residual_rms_lsb = malloc(cols * sizeof *cal->residual_rms_lsb);
	cal->event_noise_lsb = malloc(cols * sizeof *cal->event_noise_lsb);
	cal->npoints = calloc(cols, sizeof *cal->npoints);
	cal->ndropped = calloc(cols, sizeof *cal->ndropped);
	cal->status = calloc(cols, sizeof *cal->status);
	if (!cal->model || !cal->saturation_criterion || !cal->warnings || !cal->chi2_dof ||
	    !cal->residual_rms_lsb || !cal->event_noise_lsb || !cal->npoints || !cal->ndropped ||
	    !cal->status || !cal->knee_lsb || !cal->knee_lsb_stderr)
		goto nomem;
	for (size_t c = 0; c < cols; c++)
		cal->chi2_dof[c] = cal->residual_rms_lsb[c] = cal->event_noise_lsb[c] =
			cal->knee_lsb[c] = cal->knee_lsb_stderr[c] = NAN;
	cal->residual_rms_lsb_all = cal->read_noise_lsb_median = NAN;
	cal->gain_global = cal->gain_fpn = cal->synapse_fpn = cal->event_noise_lsb_all = NAN;
	cal->saturation = XB_CAL_SAT_HARD;
	return cal;
nomem:
	xb_calibration_free(cal);
	xb_raise(err, XB_ENOMEM, "calibration: out of memory for %zu columns", cols);
	return NULL;
}

void xb_calibration_free(xb_calibration *cal)
{
	if (!cal)
		return;
	free(cal->model);
	free(cal->saturation_criterion);
	free(cal->warnings);
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		free(cal->value[p]);
		free(cal->stderr_[p]);
	}
	free(cal->knee_lsb);
	free(cal->knee_lsb_stderr);
	free(cal->chi2_dof);
	free(cal->residual_rms_lsb);
	free(cal->event_noise_lsb);
	free(cal->npoints);
	free(cal->ndropped);
	free(cal->status);
	free(cal);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* "name: columns a, b, ...; name: all" for the root attribute unidentified. */
static char *unidentified_text(const xb_calibration *cal)
{
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = 0;
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		size_t cnt = 0;

		for (size_t c = 0; c < cal->cols; c++)
			cnt += isnan(cal->value[p][c]);
		if (!cnt)
			continue;
		for (size_t c = 0; c <= cal->cols; c++) {
			char item[96];
			size_t n;

			if (c == 0)
				snprintf(item, sizeof item, "%s%s: %s", len ? "; " : "", params[p].name,
					 cnt == cal->cols ? "all columns" : "columns");
			else if (cnt != cal->cols && isnan(cal->value[p][c - 1]))
				snprintf(item, sizeof item, " %zu", c - 1);
			else
				continue;
			n = strlen(item);
			if (len + n + 1 > cap) {
				char *ns;

				cap = 2 * (len + n + 1);
				ns = realloc(s, cap);
				if (!ns) {
					free(s);
					return NULL;
				}
				s = ns;
			}
			memcpy(s + len, item, n + 1);
			len += n;
			if (cnt == cal->cols)
				break;
		}
	}
	return s;
}

xb_status xb_calibration_write(const xb_calibration *cal, const char *path,
			       const char *config_ini, const char *command_line, xb_err *err)
{
	xb_err e = { 0 };
	xb_h5w *w;
	xb_status st;
	int64_t d[1];
	char *unid = NULL;

	if (!cal || !cal->cols)
		return xb_raise(err, XB_EINVAL, "calibration: nothing to write");
	w = xb_h5w_create(path, CAL_SCHEMA, 1, config_ini, command_line, &e);
	if (!w)
		return xb_err_copy(err, &e);
	unid = unidentified_text(cal);
	if (!unid) {
		st = XB_ENOMEM;
		xb_h5w_free(w);
		return xb_raise(err, st, "%s: out of memory", path);
	}
	if ((st = xb_h5w_attr_str(w, "/", "model", cal->model ? cal->model : CAL_MODEL)) ||
	    (st = xb_h5w_attr_str(w, "/", "saturation", xb_calibration_sat_name(cal->saturation))) ||
	    (st = xb_h5w_attr_str(w, "/", "saturation_criterion",
				  cal->saturation_criterion ? cal->saturation_criterion : "")) ||
	    (st = xb_h5w_attr_str(w, "/", "unidentified", unid)) ||
	    (st = xb_h5w_attr_str(w, "/", "warnings", cal->warnings ? cal->warnings : "")) ||
	    (st = xb_h5w_attr_double(w, "/", "residual_rms_lsb", cal->residual_rms_lsb_all)) ||
	    (st = xb_h5w_attr_double(w, "/", "read_noise_lsb_median", cal->read_noise_lsb_median)) ||
	    (st = xb_h5w_attr_double(w, "/", "good_fraction", cal->good_fraction)) ||
	    (st = xb_h5w_attr_double(w, "/", "gain_global", cal->gain_global)) ||
	    (st = xb_h5w_attr_double(w, "/", "gain_fpn", cal->gain_fpn)) ||
	    (st = xb_h5w_attr_double(w, "/", "synapse_fpn", cal->synapse_fpn)) ||
	    (st = xb_h5w_attr_double(w, "/", "event_noise_lsb_pooled", cal->event_noise_lsb_all)))
		goto fail;
	d[0] = (int64_t)cal->cols;
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		char name[64], what[128];
		int64_t *cols = malloc(cal->cols * sizeof *cols);
		size_t nu = 0;

		if (!cols) {
			st = XB_ENOMEM;
			goto fail;
		}
		for (size_t c = 0; c < cal->cols; c++)
			if (isnan(cal->value[p][c]))
				cols[nu++] = (int64_t)c;
		snprintf(name, sizeof name, "/%s", params[p].name);
		snprintf(what, sizeof what, "standard error of %s", params[p].name);
		st = xb_h5w_write(w, name, XB_H5_FLOAT64, 1, d, cal->value[p], params[p].unit);
		if (!st)
			st = xb_h5w_attr_ints(w, name, "unidentified_columns", cols,
					      nu < 8000 ? nu : 8000);
		free(cols);
		if (st)
			goto fail;
		snprintf(name, sizeof name, "/%s_stderr", params[p].name);
		if ((st = xb_h5w_write(w, name, XB_H5_FLOAT64, 1, d, cal->stderr_[p], params[p].unit)) ||
		    (st = xb_h5w_attr_str(w, name, "description", what)))
			goto fail;
	}
	if (cal->saturation == XB_CAL_SAT_SMOOTH &&
	    ((st = xb_h5w_write(w, "/knee_lsb", XB_H5_FLOAT64, 1, d, cal->knee_lsb, "LSB")) ||
	     (st = xb_h5w_attr_str(w, "/knee_lsb", "description", "knee width of the smooth "
				   "saturation (tanh-rounded corners), codes")) ||
	     (st = xb_h5w_write(w, "/knee_lsb_stderr", XB_H5_FLOAT64, 1, d, cal->knee_lsb_stderr,
				"LSB"))))
		goto fail;
	if (cal->chi2_dof &&
	    ((st = xb_h5w_write(w, "/chi2_dof", XB_H5_FLOAT64, 1, d, cal->chi2_dof, "1")) ||
	     (st = xb_h5w_write(w, "/residual_rms_lsb", XB_H5_FLOAT64, 1, d, cal->residual_rms_lsb,
				"LSB")) ||
	     (st = xb_h5w_write(w, "/event_noise_lsb", XB_H5_FLOAT64, 1, d, cal->event_noise_lsb,
				"LSB")) ||
	     (st = xb_h5w_write(w, "/npoints", XB_H5_INT32, 1, d, cal->npoints, "1")) ||
	     (st = xb_h5w_write(w, "/ndropped", XB_H5_INT32, 1, d, cal->ndropped, "1")) ||
	     (st = xb_h5w_write(w, "/fit_status", XB_H5_UINT32, 1, d, cal->status, "1")) ||
	     (st = xb_h5w_attr_str(w, "/fit_status", "bits",
				   "1 converged, 2 good fit (converged, gain and offset identified, "
				   "chi2/dof < 4), 4 not fitted"))))
		goto fail;
	if ((st = xb_h5w_commit(w)))
		goto fail;
	xb_h5w_free(w);
	free(unid);
	return XB_OK;
fail:
	if (st == XB_ENOMEM)
		xb_raise(err, st, "%s: out of memory", path);
	else
		xb_raise(err, st, "%s", xb_h5w_errmsg(w));
	xb_h5w_free(w);
	free(unid);
	return st;
}

/* ---- loading ------------------------------------------------------------------------------- */

static xb_status load_vec(xb_h5r *r, const char *name, size_t *cols, double **out, xb_err *err)
{
	int64_t want[1], dims[XB_H5_MAXRANK];
	void *buf = NULL;
	xb_status st;

	*out = NULL;
	if (!xb_h5r_exists(r, name))
		return xb_raise(err, XB_EFORMAT, "%s: dataset %s is missing (required by the "
				"calibration schema)", xb_h5r_path(r), name);
	want[0] = *cols ? (int64_t)*cols : -1;
	st = xb_h5r_read(r, name, XB_H5_FLOAT64, 1, want, 0, &buf, dims);
	if (st != XB_OK)
		return xb_raise(err, st, "%s", xb_h5r_errmsg(r));
	if (dims[0] < 1) {
		free(buf);
		return xb_raise(err, XB_EFORMAT, "%s: dataset %s: expected [C] with C >= 1, found "
				"[0]", xb_h5r_path(r), name);
	}
	*cols = (size_t)dims[0];
	*out = buf;
	return XB_OK;
}

xb_status xb_calibration_load(const char *path, xb_calibration **out, xb_err *err)
{
	xb_err e = { 0 };
	xb_h5r *r;
	xb_calibration *cal = NULL;
	double *val[XB_CAL_NPARAM] = { 0 }, *se[XB_CAL_NPARAM] = { 0 };
	size_t cols = 0;
	xb_status st;
	char *s = NULL;

	*out = NULL;
	r = xb_h5r_open(path, &e);
	if (!r)
		return xb_err_copy(err, &e);
	if ((st = xb_h5r_schema(r, NULL, CAL_SCHEMA, 1, NULL))) {
		xb_raise(err, st, "%s", xb_h5r_errmsg(r));
		goto fail;
	}
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		char name[64];

		snprintf(name, sizeof name, "/%s", params[p].name);
		if ((st = load_vec(r, name, &cols, &val[p], err)))
			goto fail;
		snprintf(name, sizeof name, "/%s_stderr", params[p].name);
		if ((st = load_vec(r, name, &cols, &se[p], err)))
			goto fail;
	}
	/* Values: no Inf; NaN only together with a NaN standard error; ranges. */
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		for (size_t c = 0; c < cols; c++) {
			double v = val[p][c], u = se[p][c];
			const char *bad = NULL;

			if (isinf(v) || isinf(u))
				bad = "an infinite value";
			else if (isnan(v) != isnan(u))
				bad = isnan(v) ? "a NaN (unidentified) value with a finite standard error"
					       : "a NaN standard error for an identified value";
			else if (!isnan(u) && u < 0)
				bad = "a negative standard error";
			else if (isnan(v))
				continue;
			else if (p == XB_CAL_GAIN && v == 0)
				bad = "a zero gain";
			else if (p == XB_CAL_TAU && v <= 0)
				bad = "a time constant <= 0";
			else if (p == XB_CAL_READ_NOISE && v < 0)
				bad = "a negative noise";
			if (bad) {
				st = xb_raise(err, isinf(v) || isinf(u) ? XB_ENUMERIC : XB_ERANGE,
					      "%s: dataset /%s%s: %s at [%zu] (value %g, stderr %g)",
					      path, params[p].name,
					      (isnan(u) && !isnan(v)) || u < 0 || isinf(u) ? "_stderr" : "",
					      bad, c, v, u);
				goto fail;
			}
		}
	for (size_t c = 0; c < cols; c++)
		if (!isnan(val[XB_CAL_SAT_LO][c]) && !isnan(val[XB_CAL_SAT_HI][c]) &&
		    val[XB_CAL_SAT_LO][c] >= val[XB_CAL_SAT_HI][c]) {
			st = xb_raise(err, XB_ERANGE, "%s: datasets /sat_lo_lsb, /sat_hi_lsb: lower "
				      "limit %g >= upper limit %g at [%zu]", path,
				      val[XB_CAL_SAT_LO][c], val[XB_CAL_SAT_HI][c], c);
			goto fail;
		}
	cal = xb_calibration_new(cols, err);
	if (!cal) {
		st = XB_ENOMEM;
		goto fail;
	}
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		free(cal->value[p]);
		free(cal->stderr_[p]);
		cal->value[p] = val[p];
		cal->stderr_[p] = se[p];
		val[p] = se[p] = NULL;
	}
	/* Attributes: model (required), saturation (required), the rest optional. */
	if ((st = xb_h5r_attr_str(r, "/", "model", &s))) {
		xb_raise(err, XB_EFORMAT, "%s: root attribute model is missing or not text "
			 "(required by the calibration schema)", path);
		st = XB_EFORMAT;
		goto fail;
	}
	free(cal->model);
	cal->model = s;
	s = NULL;
	if ((st = xb_h5r_attr_str(r, "/", "saturation", &s)) || xb_calibration_sat_parse(s) < 0) {
		xb_raise(err, XB_EFORMAT, "%s: root attribute saturation: expected \"hard\" or "
			 "\"smooth\", found %s%s%s", path, s ? "\"" : "", s ? s : "none",
			 s ? "\"" : "");
		st = XB_EFORMAT;
		goto fail;
	}
	cal->saturation = (xb_calibration_sat)xb_calibration_sat_parse(s);
	free(s);
	s = NULL;
	if (xb_h5r_has_attr(r, "/", "saturation_criterion") &&
	    xb_h5r_attr_str(r, "/", "saturation_criterion", &s) == XB_OK) {
		free(cal->saturation_criterion);
		cal->saturation_criterion = s;
		s = NULL;
	}
	if (xb_h5r_has_attr(r, "/", "warnings") && xb_h5r_attr_str(r, "/", "warnings", &s) == XB_OK) {
		free(cal->warnings);
		cal->warnings = s;
		s = NULL;
	}
	{
		static const char *const names[] = { "residual_rms_lsb", "read_noise_lsb_median",
			"good_fraction", "gain_global", "gain_fpn", "synapse_fpn", "event_noise_lsb_pooled" };
		double *dst[] = { &cal->residual_rms_lsb_all, &cal->read_noise_lsb_median,
				  &cal->good_fraction, &cal->gain_global, &cal->gain_fpn,
				  &cal->synapse_fpn, &cal->event_noise_lsb_all };

		for (size_t i = 0; i < sizeof names / sizeof *names; i++)
			if (xb_h5r_has_attr(r, "/", names[i]))
				xb_h5r_attr_double(r, "/", names[i], dst[i]);
	}
	/* Diagnostics are optional: absent ones stay NaN / 0. */
	if (xb_h5r_exists(r, "/chi2_dof")) {
		double *v = NULL;
		size_t n = cols;

		if (load_vec(r, "/chi2_dof", &n, &v, NULL) == XB_OK) {
			memcpy(cal->chi2_dof, v, cols * sizeof *v);
			free(v);
		}
	}
	if (xb_h5r_exists(r, "/knee_lsb")) {
		double *v = NULL;
		size_t n = cols;

		if ((st = load_vec(r, "/knee_lsb", &n, &v, err)))
			goto fail;
		memcpy(cal->knee_lsb, v, cols * sizeof *v);
		free(v);
		if (xb_h5r_exists(r, "/knee_lsb_stderr") &&
		    load_vec(r, "/knee_lsb_stderr", &n, &v, NULL) == XB_OK) {
			memcpy(cal->knee_lsb_stderr, v, cols * sizeof *v);
			free(v);
		}
	}
	if (xb_h5r_exists(r, "/residual_rms_lsb")) {
		double *v = NULL;
		size_t n = cols;

		if (load_vec(r, "/residual_rms_lsb", &n, &v, NULL) == XB_OK) {
			memcpy(cal->residual_rms_lsb, v, cols * sizeof *v);
			free(v);
		}
	}
	xb_h5r_free(r);
	*out = cal;
	return XB_OK;
fail:
	free(s);
	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		free(val[p]);
		free(se[p]);
	}
	xb_calibration_free(cal);
	xb_h5r_free(r);
	return st;
}

/* ---- applying to a tile ------------------------------------------------------------------------ */

xb_status xb_calibration_apply(const xb_calibration *cal, xb_tile *tile, size_t tile_index,
			       size_t ntiles, xb_err *err)
{
	size_t cols, base;
	xb_tile_columns ov;
	xb_status st;

	if (!cal || !tile)
		return xb_raise(err, XB_EINVAL, "calibration: apply: no calibration or no tile");
	cols = xb_tile_cols(tile);
	if (cal->cols == cols)
		base = 0;
	else if (ntiles && tile_index < ntiles && cal->cols == ntiles * cols)
		base = tile_index * cols;
	else
		return xb_raise(err, XB_EINVAL, "calibration: the calibration has %zu columns; a "
				"tile has %zu and %zu tiles have %zu: expected one of these counts",
				cal->cols, cols, ntiles, ntiles * cols);
	/* The file holds codes of the measured ADC; the tile takes reference LSB
	 * (adc.full_scale_bits).  The calibration is taken to come from an ADC of the
	 * tile's own adc.bits, the case of simulating the chip that was measured. */
	{
		double scale = xb_adc_code_scale(&xb_tile_params_of(tile)->adc);
		double *v[6] = { NULL };
		const int which[6] = { XB_CAL_GAIN, XB_CAL_OFFSET, XB_CAL_SAT_LO, XB_CAL_SAT_HI,
				       XB_CAL_TAU, XB_CAL_READ_NOISE };

		for (int p = 0; p < 6; p++) {
			if (!(v[p] = malloc(cols * sizeof *v[p]))) {
				for (int q = 0; q < p; q++)
					free(v[q]);
				return xb_raise(err, XB_ENOMEM, "calibration: out of memory");
			}
			for (size_t c = 0; c < cols; c++)
				v[p][c] = cal->value[which[p]][base + c] /
					  (which[p] == XB_CAL_TAU ? 1.0 : scale);
		}
		ov.gain_lsb = v[0];
		ov.offset_lsb = v[1];
		ov.sat_lo_lsb = v[2];
		ov.sat_hi_lsb = v[3];
		ov.tau_us = v[4];
		ov.read_noise_lsb = v[5];
		st = xb_tile_set_columns(tile, &ov);
		for (int p = 0; p < 6; p++)
			free(v[p]);
	}
	if (st != XB_OK)
		return xb_raise(err, st, "calibration: tile %zu: %s", tile_index, xb_tile_errmsg(tile));
	return XB_OK;
}
