/* meas.c - measurement files: the in-memory measurement, validation, HDF5 read and write.
 * The schema is DESIGN.md §4 "measurement"; every error names the file and the dataset.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"
#include "cal_int.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MEAS_SCHEMA "xbarsim-measurement"

xb_calibration_meas *xb_calibration_meas_new(size_t rows, size_t cols, size_t nstim,
					     size_t nrep, xb_err *err)
{
	xb_calibration_meas *m;

	if (!rows || !cols || !nstim || !nrep) {
		xb_raise(err, XB_EINVAL, "measurement: rows, columns, stimuli and repeats must be "
			 "positive, got %zu x %zu, %zu stimuli, %zu repeats", rows, cols, nstim, nrep);
		return NULL;
	}
	m = calloc(1, sizeof *m);
	if (!m)
		goto nomem;
	m->input_bits = 5;
	m->weight_bits = 6;
	m->adc_bits = 8;
	m->adc_min = -128;
	m->adc_max = 127;
	m->event_interval_ns = 40.0;
	m->num_sends = 1;
	m->read_delay_ns = NAN;
	m->rows = rows;
	m->cols = cols;
	m->nstim = nstim;
	m->nrep = nrep;
	m->weights = calloc(rows * cols, sizeof *m->weights);
	m->inputs = calloc(nstim * rows, sizeof *m->inputs);
	m->codes = calloc(nstim * nrep * cols, sizeof *m->codes);
	if (!m->weights || !m->inputs || !m->codes)
		goto nomem;
	return m;
nomem:
	xb_calibration_meas_free(m);
	xb_raise(err, XB_ENOMEM, "measurement: out of memory for %zu x %zu x %zu codes",
		 nstim, nrep, cols);
	return NULL;
}

void xb_calibration_meas_free(xb_calibration_meas *m)
{
	if (!m)
		return;
	free(m->weights);
	free(m->inputs);
	free(m->order);
	free(m->interval_ns);
	free(m->codes);
	free(m->membrane);
	free(m->time_ns);
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		free(m->truth[p]);
	free(m);
}

/* ---- validation ------------------------------------------------------------------- */

/* NAME is the file name used as message prefix. */
static xb_status check_attrs(const xb_calibration_meas *m, const char *name, xb_err *err)
{
	if (m->input_bits < 1 || m->input_bits > 8)
		return xb_raise(err, XB_ERANGE, "%s: attribute input_bits = %d: expected 1 .. 8 "
				"(inputs are uint8)", name, m->input_bits);
	if (m->weight_bits < 1 || m->weight_bits > 7)
		return xb_raise(err, XB_ERANGE, "%s: attribute weight_bits = %d: expected 1 .. 7 "
				"(weights are int8)", name, m->weight_bits);
	if (m->adc_bits < 1 || m->adc_bits > 16)
		return xb_raise(err, XB_ERANGE, "%s: attribute adc_bits = %d: expected 1 .. 16",
				name, m->adc_bits);
	if (m->adc_min < INT16_MIN || m->adc_max > INT16_MAX || m->adc_min >= m->adc_max)
		return xb_raise(err, XB_ERANGE, "%s: attributes adc_min = %d, adc_max = %d: expected "
				"adc_min < adc_max within int16", name, m->adc_min, m->adc_max);
	if (!isfinite(m->event_interval_ns) || m->event_interval_ns <= 0)
		return xb_raise(err, XB_ERANGE, "%s: attribute event_interval_ns = %g: expected a "
				"positive time in ns", name, m->event_interval_ns);
	if (m->num_sends < 1 || m->num_sends > 1000000)
		return xb_raise(err, XB_ERANGE, "%s: attribute num_sends = %d: expected >= 1",
				name, m->num_sends);
	if (!isnan(m->read_delay_ns) && (!isfinite(m->read_delay_ns) || m->read_delay_ns < 0))
		return xb_raise(err, XB_ERANGE, "%s: attribute read_delay_ns = %g: expected a time "
				">= 0 in ns", name, m->read_delay_ns);
	return XB_OK;
}

static xb_status check_data(const xb_calibration_meas *m, const char *name, xb_err *err)
{
	const int wmax = (1 << m->weight_bits) - 1, xmax = (1 << m->input_bits) - 1;
	const size_t R = m->rows, C = m->cols, N = m->nstim, K = m->nrep;

	for (size_t i = 0; i < R * C; i++)
		if (m->weights[i] > wmax || m->weights[i] < -wmax)
			return xb_raise(err, XB_ERANGE, "%s: dataset /weights: value %d at [%zu,%zu] "
					"outside [-%d, %d] (weight_bits = %d)", name, m->weights[i],
					i / C, i % C, wmax, wmax, m->weight_bits);
	for (size_t i = 0; i < N * R; i++)
		if (m->inputs[i] > xmax)
			return xb_raise(err, XB_ERANGE, "%s: dataset /inputs: value %d at [%zu,%zu] "
					"outside [0, %d] (input_bits = %d)", name, m->inputs[i],
					i / R, i % R, xmax, m->input_bits);
	for (size_t i = 0; m->codes && i < N * K * C; i++)
		if (m->codes[i] < m->adc_min || m->codes[i] > m->adc_max)
			return xb_raise(err, XB_ERANGE, "%s: dataset /codes: value %d at [%zu,%zu,%zu] "
					"outside the ADC range [%d, %d]", name, m->codes[i],
					i / (K * C), i / C % K, i % C, m->adc_min, m->adc_max);
	if (m->order) {
		unsigned char *seen = malloc(R);

		if (!seen)
			return xb_raise(err, XB_ENOMEM, "%s: out of memory", name);
		for (size_t n = 0; n < N; n++) {
			const int32_t *o = m->order + n * R;
			int ended = 0;

			memset(seen, 0, R);
			for (size_t k = 0; k < R; k++) {
				if (o[k] == -1) {
					ended = 1;
					continue;
				}
				if (o[k] < 0 || (size_t)o[k] >= R || ended || seen[o[k]]) {
					xb_status st = xb_raise(err, XB_ERANGE, "%s: dataset /order: "
						"value %d at [%zu,%zu]: expected %s", name, o[k], n, k,
						o[k] < -1 || o[k] >= (int64_t)R ?
						"a row index in [0, R) or -1" : ended ?
						"-1 (padding only at the end)" : "each row at most once");
					free(seen);
					return st;
				}
				seen[o[k]] = 1;
			}
			for (size_t r = 0; r < R; r++)
				if (m->inputs[n * R + r] && !seen[r]) {
					free(seen);
					return xb_raise(err, XB_ERANGE, "%s: dataset /order: stimulus %zu "
							"has input %d on row %zu but no event for it",
							name, n, m->inputs[n * R + r], r);
				}
		}
		free(seen);
	}
	if (m->interval_ns)
		for (size_t n = 0; n < N; n++)
			if (!isfinite(m->interval_ns[n]) || m->interval_ns[n] <= 0)
				return xb_raise(err, isfinite(m->interval_ns[n]) ? XB_ERANGE : XB_ENUMERIC,
						"%s: dataset /interval_ns: value %g at [%zu]: expected "
						"a positive time in ns", name, m->interval_ns[n], n);
	if ((m->membrane != NULL) != (m->time_ns != NULL) || (m->membrane && !m->ntime))
		return xb_raise(err, XB_EFORMAT, "%s: dataset %s: /membrane and /time_ns go together",
				name, m->membrane ? "/time_ns" : "/membrane");
	if (m->membrane) {
		for (size_t t = 0; t < m->ntime; t++)
			if (!isfinite(m->time_ns[t]) || m->time_ns[t] < 0 ||
			    (t && m->time_ns[t] < m->time_ns[t - 1]))
				return xb_raise(err, isfinite(m->time_ns[t]) ? XB_ERANGE : XB_ENUMERIC,
						"%s: dataset /time_ns: value %g at [%zu]: expected "
						"non-decreasing times >= 0 in ns", name, m->time_ns[t], t);
		for (size_t i = 0; i < N * m->ntime * C; i++)
			if (!isfinite(m->membrane[i]))
				return xb_raise(err, XB_ENUMERIC, "%s: dataset /membrane: NaN or Inf "
						"at element %zu", name, i);
	}
	return XB_OK;
}

xb_status xb_calibration_meas_check(const xb_calibration_meas *m, xb_err *err)
{
	xb_status st;

	if (!m || !m->weights || !m->inputs || !m->codes || !m->rows || !m->cols || !m->nstim ||
	    !m->nrep)
		return xb_raise(err, XB_EINVAL, "measurement: incomplete (no weights, inputs or "
				"codes, or a zero dimension)");
	st = check_attrs(m, "measurement", err);
	if (st == XB_OK)
		st = check_data(m, "measurement", err);
	return st;
}

/* ---- reading ------------------------------------------------------------------------ */

static xb_status rd_int_attr(xb_h5r *r, const char *name, int *out, xb_err *err)
{
	int64_t v;
	xb_status st;

	if (!xb_h5r_has_attr(r, "/", name))
		return xb_raise(err, XB_EFORMAT, "%s: root attribute %s is missing (required by "
				"the measurement schema)", xb_h5r_path(r), name);
	st = xb_h5r_attr_int(r, "/", name, &v);
	if (st != XB_OK)
		return xb_raise(err, st, "%s", xb_h5r_errmsg(r));
	if (v < INT32_MIN || v > INT32_MAX)
		return xb_raise(err, XB_ERANGE, "%s: root attribute %s = %lld is out of range",
				xb_h5r_path(r), name, (long long)v);
	*out = (int)v;
	return XB_OK;
}

/* Read required (REQ) or optional dataset PATH; *DATA NULL when optional and absent. */
static xb_status rd_data(xb_h5r *r, const char *path, int req, xb_h5_type type, int rank,
			 const int64_t *dims, unsigned flags, void **data, int64_t *dims_out,
			 xb_err *err)
{
	xb_status st;

	*data = NULL;
	if (!xb_h5r_exists(r, path)) {
		if (!req)
			return XB_OK;
		return xb_raise(err, XB_EFORMAT, "%s: dataset %s is missing (required by the "
				"measurement schema)", xb_h5r_path(r), path);
	}
	st = xb_h5r_read(r, path, type, rank, dims, flags, data, dims_out);
	if (st != XB_OK) {
		/* A float where an integer belongs, a value outside the type: the reader's
		 * message already names the dataset. */
		return xb_raise(err, st, "%s", xb_h5r_errmsg(r));
	}
	return XB_OK;
}

static xb_status read_file(const char *path, int need_codes, xb_calibration_meas **out,
			   xb_err *err)
{
	xb_err e = { 0 };
	xb_calibration_meas *m = NULL;
	xb_h5r *r;
	xb_status st;
	int64_t d[XB_H5_MAXRANK], want[3];
	void *buf;

	*out = NULL;
	r = xb_h5r_open(path, &e);
	if (!r)
		return xb_err_copy(err, &e);
	st = xb_h5r_schema(r, NULL, MEAS_SCHEMA, 1, NULL);
	if (st != XB_OK) {
		xb_raise(err, st, "%s", xb_h5r_errmsg(r));
		goto fail;
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		st = xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	m->read_delay_ns = NAN;
	if ((st = rd_int_attr(r, "input_bits", &m->input_bits, err)) ||
	    (st = rd_int_attr(r, "weight_bits", &m->weight_bits, err)) ||
	    (st = rd_int_attr(r, "adc_bits", &m->adc_bits, err)) ||
	    (st = rd_int_attr(r, "adc_min", &m->adc_min, err)) ||
	    (st = rd_int_attr(r, "adc_max", &m->adc_max, err)) ||
	    (st = rd_int_attr(r, "num_sends", &m->num_sends, err)))
		goto fail;
	if (!xb_h5r_has_attr(r, "/", "event_interval_ns")) {
		st = xb_raise(err, XB_EFORMAT, "%s: root attribute event_interval_ns is missing "
			      "(required by the measurement schema)", path);
		goto fail;
	}
	if ((st = xb_h5r_attr_double(r, "/", "event_interval_ns", &m->event_interval_ns)) ||
	    (xb_h5r_has_attr(r, "/", "read_delay_ns") &&
	     (st = xb_h5r_attr_double(r, "/", "read_delay_ns", &m->read_delay_ns)))) {
		xb_raise(err, st, "%s", xb_h5r_errmsg(r));
		goto fail;
	}
	if ((st = check_attrs(m, path, err)))
		goto fail;

	/* /weights [R, C] int8 */
	if ((st = rd_data(r, "/weights", 1, XB_H5_INT8, 2, NULL, 0, &buf, d, err)))
		goto fail;
	m->weights = buf;
	m->rows = (size_t)d[0];
	m->cols = (size_t)d[1];
	if (!m->rows || !m->cols) {
		st = xb_raise(err, XB_EFORMAT, "%s: dataset /weights: expected [R,C] with R, C >= 1, "
			      "found [%lld,%lld]", path, (long long)d[0], (long long)d[1]);
		goto fail;
	}
	/* /inputs [N, R] uint8 */
	want[0] = -1;
	want[1] = (int64_t)m->rows;
	if ((st = rd_data(r, "/inputs", 1, XB_H5_UINT8, 2, want, 0, &buf, d, err)))
		goto fail;
	m->inputs = buf;
	m->nstim = (size_t)d[0];
	if (!m->nstim) {
		st = xb_raise(err, XB_EFORMAT, "%s: dataset /inputs: no stimuli ([0,%zu])", path,
			      m->rows);
		goto fail;
	}
	/* /codes [N, K, C] int16 */
	want[0] = (int64_t)m->nstim;
	want[1] = -1;
	want[2] = (int64_t)m->cols;
	if ((st = rd_data(r, "/codes", need_codes, XB_H5_INT16, 3, want, 0, &buf, d, err)))
		goto fail;
	m->codes = buf;
	m->nrep = buf ? (size_t)d[1] : 0;
	if (buf && !m->nrep) {
		st = xb_raise(err, XB_EFORMAT, "%s: dataset /codes: no repeats ([%zu,0,%zu])", path,
			      m->nstim, m->cols);
		goto fail;
	}
	/* optional /order [N, R] int32, /interval_ns [N] float64 */
	want[0] = (int64_t)m->nstim;
	want[1] = (int64_t)m->rows;
	if ((st = rd_data(r, "/order", 0, XB_H5_INT32, 2, want, 0, &buf, d, err)))
		goto fail;
	m->order = buf;
	if ((st = rd_data(r, "/interval_ns", 0, XB_H5_FLOAT64, 1, want, XB_H5_FINITE, &buf, d,
			  err)))
		goto fail;
	m->interval_ns = buf;
	/* optional /membrane [N, T, C] float32 with /time_ns [T] */
	if ((st = rd_data(r, "/time_ns", 0, XB_H5_FLOAT64, 1, NULL, XB_H5_FINITE, &buf, d, err)))
		goto fail;
	m->time_ns = buf;
	if (m->time_ns) {
		m->ntime = (size_t)d[0];
		want[0] = (int64_t)m->nstim;
		want[1] = (int64_t)m->ntime;
		want[2] = (int64_t)m->cols;
		if ((st = rd_data(r, "/membrane", 1, XB_H5_FLOAT32, 3, want, XB_H5_FINITE, &buf, d,
				  err))) {
			if (!xb_h5r_exists(r, "/membrane"))
				xb_raise(err, st, "%s: dataset /membrane is missing (/time_ns "
					 "needs it)", path);
			goto fail;
		}
		m->membrane = buf;
	} else if (xb_h5r_exists(r, "/membrane")) {
		st = xb_raise(err, XB_EFORMAT, "%s: dataset /time_ns is missing (/membrane needs "
			      "it)", path);
		goto fail;
	}
	/* optional /truth (simulation only) */
	if (xb_h5r_exists(r, "/truth")) {
		want[0] = (int64_t)m->cols;
		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			char name[64];

			snprintf(name, sizeof name, "/truth/%s",
				 xb_calibration_param_name((xb_calibration_param)p));
			if ((st = rd_data(r, name, 0, XB_H5_FLOAT64, 1, want, 0, &buf, d, err)))
				goto fail;
			m->truth[p] = buf;
		}
	}
	if ((st = check_data(m, path, err)))
		goto fail;
	xb_h5r_free(r);
	*out = m;
	return XB_OK;
fail:
	xb_calibration_meas_free(m);
	xb_h5r_free(r);
	return st;
}

xb_status xb_calibration_meas_read(const char *path, xb_calibration_meas **out, xb_err *err)
{
	return read_file(path, 1, out, err);
}

xb_status xb_calibration_stimuli_read(const char *path, xb_calibration_meas **out, xb_err *err)
{
	return read_file(path, 0, out, err);
}

/* ---- writing ---------------------------------------------------------------------------- */

xb_status xb_calibration_meas_write(const xb_calibration_meas *m, const char *path,
				    const char *config_ini, const char *command_line,
				    xb_err *err)
{
	xb_err e = { 0 };
	xb_h5w *w;
	xb_status st;
	int64_t d[3];
	int has_truth = 0;

	if ((st = xb_calibration_meas_check(m, err)))
		return st;
	w = xb_h5w_create(path, MEAS_SCHEMA, 1, config_ini, command_line, &e);
	if (!w)
		return xb_err_copy(err, &e);
	if ((st = xb_h5w_attr_int(w, "/", "input_bits", m->input_bits)) ||
	    (st = xb_h5w_attr_int(w, "/", "weight_bits", m->weight_bits)) ||
	    (st = xb_h5w_attr_int(w, "/", "adc_bits", m->adc_bits)) ||
	    (st = xb_h5w_attr_int(w, "/", "adc_min", m->adc_min)) ||
	    (st = xb_h5w_attr_int(w, "/", "adc_max", m->adc_max)) ||
	    (st = xb_h5w_attr_double(w, "/", "event_interval_ns", m->event_interval_ns)) ||
	    (st = xb_h5w_attr_int(w, "/", "num_sends", m->num_sends)))
		goto fail;
	if (!isnan(m->read_delay_ns) &&
	    (st = xb_h5w_attr_double(w, "/", "read_delay_ns", m->read_delay_ns)))
		goto fail;
	d[0] = (int64_t)m->rows;
	d[1] = (int64_t)m->cols;
	if ((st = xb_h5w_write(w, "/weights", XB_H5_INT8, 2, d, m->weights, "1")))
		goto fail;
	d[0] = (int64_t)m->nstim;
	d[1] = (int64_t)m->rows;
	if ((st = xb_h5w_write(w, "/inputs", XB_H5_UINT8, 2, d, m->inputs, "1")))
		goto fail;
	if (m->order && (st = xb_h5w_write(w, "/order", XB_H5_INT32, 2, d, m->order, "1")))
		goto fail;
	if (m->interval_ns &&
	    (st = xb_h5w_write(w, "/interval_ns", XB_H5_FLOAT64, 1, d, m->interval_ns, "ns")))
		goto fail;
	d[1] = (int64_t)m->nrep;
	d[2] = (int64_t)m->cols;
	if ((st = xb_h5w_write(w, "/codes", XB_H5_INT16, 3, d, m->codes, "LSB")))
		goto fail;
	if (m->membrane) {
		d[1] = (int64_t)m->ntime;
		if ((st = xb_h5w_write(w, "/membrane", XB_H5_FLOAT32, 3, d, m->membrane, "LSB")))
			goto fail;
		d[0] = (int64_t)m->ntime;
		if ((st = xb_h5w_write(w, "/time_ns", XB_H5_FLOAT64, 1, d, m->time_ns, "ns")))
			goto fail;
	}
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		has_truth |= m->truth[p] != NULL;
	if (has_truth) {
		if ((st = xb_h5w_group(w, "/truth", "xbarsim-measurement-truth", 1)) ||
		    (st = xb_h5w_attr_str(w, "/truth", "description",
					  "true per-column parameters of the simulated chip "
					  "(simulation only; a real measurement has no /truth)")))
			goto fail;
		d[0] = (int64_t)m->cols;
		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			char name[64];

			if (!m->truth[p])
				continue;
			snprintf(name, sizeof name, "/truth/%s",
				 xb_calibration_param_name((xb_calibration_param)p));
			if ((st = xb_h5w_write(w, name, XB_H5_FLOAT64, 1, d, m->truth[p],
					       xb_calibration_param_unit((xb_calibration_param)p))))
				goto fail;
		}
	}
	if ((st = xb_h5w_commit(w)))
		goto fail;
	xb_h5w_free(w);
	return XB_OK;
fail:
	xb_raise(err, st, "%s", xb_h5w_errmsg(w));
	xb_h5w_free(w);
	return st;
}

/* ---- events ------------------------------------------------------------------------------ */

size_t xb_calibration_meas_events(const xb_calibration_meas *m, size_t n, xb_order order,
				  int32_t *rows_out)
{
	const size_t R = m->rows, C = m->cols;
	const uint8_t *x = m->inputs + n * R;
	size_t ne = 0;

	if (m->order) {
		/* A listed row whose input is 0 sends no event (as on the tile). */
		const int32_t *o = m->order + n * R;

		for (size_t k = 0; k < R && o[k] >= 0; k++)
			if (x[o[k]])
				rows_out[ne++] = o[k];
		return ne;
	}
	if (order == XB_ORDER_POSITIVE_FIRST || order == XB_ORDER_NEGATIVE_FIRST ||
	    order == XB_ORDER_MAGNITUDE) {
		/* Per-row weight sums over the columns. */
		double *key = malloc(R * sizeof *key);

		if (key) {
			for (size_t r = 0; r < R; r++) {
				long sum = 0, sabs = 0;

				for (size_t c = 0; c < C; c++) {
					sum += m->weights[r * C + c];
					sabs += abs(m->weights[r * C + c]);
				}
				key[r] = order == XB_ORDER_MAGNITUDE ? (double)x[r] * (double)sabs :
					 order == XB_ORDER_POSITIVE_FIRST ? (double)(sum > 0) :
					 (double)(sum < 0);
			}
			/* Descending index, then a stable sort by decreasing key (insertion):
			 * positive/negative-first keep each group in descending index, and
			 * magnitude breaks ties by the higher row. */
			for (size_t r = R; r-- > 0;) {
				size_t k;

				if (!x[r])
					continue;
				for (k = ne; k > 0 && key[rows_out[k - 1]] < key[r]; k--)
					rows_out[k] = rows_out[k - 1];
				rows_out[k] = (int32_t)r;
				ne++;
			}
			free(key);
			return ne;
		}
	}
	switch (order) {
	case XB_ORDER_ASCENDING:
		for (size_t r = 0; r < R; r++)
			if (x[r])
				rows_out[ne++] = (int32_t)r;
		break;
	default:
		for (size_t r = R; r-- > 0;)
			if (x[r])
				rows_out[ne++] = (int32_t)r;
		break;
	}
	return ne;
}
