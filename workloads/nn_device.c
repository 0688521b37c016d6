/* nn_device.c - the device MVM backend: analog layers of a network run on crossbar tiles.
 * Maps each layer onto an xb_matrix, keys the noise by global sample, counts events and energy.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_device_nn.h"
#include "xb_calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One analog layer on the device. */
typedef struct dev_layer {
	xb_device_nn_stats st;
	xb_matrix *m;
	xb_matrix_work *ws;
	size_t ws_batch;          /* MVMs the workspace holds */
	int8_t *wt;               /* [inputs][outputs] programmed codes (Wq transposed) */
	uint64_t version;         /* layer version programmed */
	int programmed;
	int sends;                /* input.num_sends of its tiles (the layer's sends) */
	uint64_t cursor;          /* vectors done since the last set_sample */
	int32_t *y;               /* [ws_batch][outputs] */
	float *yf;                /* [ws_batch][outputs] ideal model */
	xb_tile_work *tw;         /* capture: workspace of tile (0, 0) */
} dev_layer;

struct xb_device_nn {
	xb_tile_params p;
	xb_calibration *cal;
	dev_layer *layers;
	int nslots;
	uint32_t next_tile;
	uint64_t first_sample;
	size_t cap_samples, cap_events;
	xb_device_nn_mvm *cap;
	size_t ncap, cap_alloc;
	xb_err err;
};

static void layer_drop(dev_layer *l)
{
	xb_matrix_work_free(l->ws);
	xb_matrix_free(l->m);
	xb_tile_work_free(l->tw);
	free(l->wt);
	free(l->y);
	free(l->yf);
	memset(l, 0, sizeof *l);
	l->st.layer = -1;
}

xb_device_nn *xb_device_nn_new(const xb_tile_params *p, const char *calibration_file,
			       xb_err *err)
{
	xb_device_nn *d;

	if (!p) {
		xb_raise(err, XB_EINVAL, "device backend: no tile parameters");
		return NULL;
	}
	if (xb_tile_params_check(p, err) != XB_OK)
		return NULL;
	d = calloc(1, sizeof *d);
	if (!d) {
		xb_raise(err, XB_ENOMEM, "device backend: out of memory");
		return NULL;
	}
	d->p = *p;
	if (calibration_file && calibration_file[0] &&
	    xb_calibration_load(calibration_file, &d->cal, err) != XB_OK) {
		xb_err_context(err, "calibration.file");
		free(d);
		return NULL;
	}
	return d;
}

static void capture_free(xb_device_nn *d)
{
	for (size_t i = 0; i < d->ncap; i++) {
		xb_device_nn_mvm *c = &d->cap[i];
		free(c->x);
		free(c->y_ideal);
		free(c->y_device);
		free(c->ev_time_ps);
		free(c->ev_row);
		free(c->ev_v_lsb);
	}
	free(d->cap);
	d->cap = NULL;
	d->ncap = d->cap_alloc = 0;
}

void xb_device_nn_free(xb_device_nn *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->nslots; i++)
		layer_drop(&d->layers[i]);
	free(d->layers);
	capture_free(d);
	xb_calibration_free(d->cal);
	free(d);
}

const char *xb_device_nn_errmsg(const xb_device_nn *d)
{
	return d ? d->err.msg : xb_errmsg(NULL);
}

const xb_tile_params *xb_device_nn_params(const xb_device_nn *d)
{
	return &d->p;
}

void xb_device_nn_set_sample(xb_device_nn *d, uint64_t first_sample)
{
	d->first_sample = first_sample;
	for (int i = 0; i < d->nslots; i++)
		d->layers[i].cursor = 0;
}

void xb_device_nn_reset_stats(xb_device_nn *d)
{
	for (int i = 0; i < d->nslots; i++) {
		xb_device_nn_stats *s = &d->layers[i].st;
		memset(&s->c, 0, sizeof s->c);
		s->energy_event_pj = s->energy_cell_pj = s->energy_conversion_pj = s->energy_pj = 0;
	}
}

int xb_device_nn_nslots(const xb_device_nn *d)
{
	return d->nslots;
}

const xb_device_nn_stats *xb_device_nn_stats_of(const xb_device_nn *d, int i)
{
	if (i < 0 || i >= d->nslots || d->layers[i].st.layer < 0)
		return NULL;
	return &d->layers[i].st;
}

void xb_device_nn_capture(xb_device_nn *d, size_t samples, size_t event_capacity)
{
	d->cap_samples = samples;
	d->cap_events = event_capacity;
}

const xb_device_nn_mvm *xb_device_nn_captured(const xb_device_nn *d, size_t *n)
{
	*n = d->ncap;
	return d->cap;
}

/* The slot of layer INDEX, growing the table.  NULL on ENOMEM. */
static dev_layer *slot(xb_device_nn *d, int index)
{
	if (index >= d->nslots) {
		dev_layer *nl = realloc(d->layers, (size_t)(index + 1) * sizeof *nl);
		if (!nl)
			return NULL;
		for (int i = d->nslots; i <= index; i++) {
			memset(&nl[i], 0, sizeof nl[i]);
			nl[i].st.layer = -1;
		}
		d->layers = nl;
		d->nslots = index + 1;
	}
	return &d->layers[index];
}

/* Build the matrix of layer L for OP (K inputs x R outputs) on its first use, with the
 * layer's sends; again, on the same tiles, when its sends change. */
static xb_status layer_build(xb_device_nn *d, dev_layer *l, const xb_nn_mvm *op, xb_err *err)
{
	size_t ni, nj, tiles_per_chip = d->p.tiles_per_chip > 0 ? (size_t)d->p.tiles_per_chip : 1;
	int rebuild = l->m != NULL;
	uint32_t base = rebuild ? l->st.tile_base : d->next_tile;
	xb_tile_params p = d->p;

	if (op->sends < 1 || op->sends > XB_NN_MAX_SENDS)
		return xb_raise(err, XB_EINVAL, "device backend: layer %d: sends = %d: expected "
				"1 .. %d", op->layer->index, op->sends, XB_NN_MAX_SENDS);
	p.input.num_sends = op->sends;
	if (rebuild) {
		xb_matrix_work_free(l->ws);
		xb_matrix_free(l->m);
		xb_tile_work_free(l->tw);
		free(l->wt);
		l->ws = NULL;
		l->m = NULL;
		l->tw = NULL;
		l->wt = NULL;
		l->ws_batch = 0;
		l->programmed = 0;
	}
	l->sends = op->sends;
	l->m = xb_matrix_new(&p, 0, base, op->cols, op->rows, err);
	if (!l->m)
		return err ? err->code : XB_EINTERNAL;
	xb_matrix_grid(l->m, &ni, &nj);
	if (d->cal)
		for (size_t i = 0; i < ni; i++)
			for (size_t j = 0; j < nj; j++) {
				size_t g = base + i * nj + j;
				xb_status st = xb_calibration_apply(d->cal, xb_matrix_tile(l->m, i, j),
								    g % tiles_per_chip, tiles_per_chip,
								    err);
				if (st != XB_OK)
					return xb_err_context(err, "calibration.file on tile %zu", g);
			}
	l->wt = malloc(op->rows * op->cols);
	if (!l->wt)
		return xb_raise(err, XB_ENOMEM, "device backend: out of memory for weights");
	l->st.layer = op->layer->index;
	l->st.inputs = op->cols;
	l->st.outputs = op->rows;
	l->st.tiles = ni * nj;
	l->st.tile_base = base;
	if (!rebuild)
		d->next_tile += (uint32_t)(ni * nj);
	return XB_OK;
}

/* Make sure L's workspace holds N MVMs. */
static xb_status layer_reserve(dev_layer *l, size_t n, size_t outputs, xb_err *err)
{
	if (l->ws && l->ws_batch >= n)
		return XB_OK;
	xb_matrix_work_free(l->ws);
	free(l->y);
	free(l->yf);
	l->ws = NULL;
	l->y = malloc(n * outputs * sizeof *l->y);
	l->yf = malloc(n * outputs * sizeof *l->yf);
	if (!l->y || !l->yf) {
		l->ws_batch = 0;
		return xb_raise(err, XB_ENOMEM, "device backend: out of memory for %zu MVMs", n);
	}
	l->ws = xb_matrix_work_new(l->m, n, err);
	if (!l->ws) {
		l->ws_batch = 0;
		return err ? err->code : XB_ENOMEM;
	}
	l->ws_batch = n;
	return XB_OK;
}

/* Positions (MVMs per sample) of layer L. */
static size_t positions(const xb_nn_layer *l)
{
	if (l->type == &xb_nn_dense)
		return 1;
	return (size_t)l->out.h * (size_t)l->out.w;
}

/* Record MVM I of the batch (vector number V) if the capture asks for it. */
static xb_status capture_one(xb_device_nn *d, dev_layer *l, const xb_nn_mvm *op,
			     const uint8_t *x, const float *y_lsb, uint64_t v, size_t pos_count)
{
	xb_device_nn_mvm *c;
	size_t K = op->cols, R = op->rows;

	if (d->ncap == d->cap_alloc) {
		size_t na = d->cap_alloc ? 2 * d->cap_alloc : 16;
		xb_device_nn_mvm *nc = realloc(d->cap, na * sizeof *nc);
		if (!nc)
			return xb_raise(&d->err, XB_ENOMEM, "device backend: out of memory (capture)");
		d->cap = nc;
		d->cap_alloc = na;
	}
	c = &d->cap[d->ncap];
	memset(c, 0, sizeof *c);
	c->layer = op->layer->index;
	c->sample = v / pos_count;
	c->n_in = K;
	c->n_out = R;
	c->x = malloc(K);
	c->y_ideal = malloc(R * sizeof *c->y_ideal);
	c->y_device = malloc(R * sizeof *c->y_device);
	if (!c->x || !c->y_ideal || !c->y_device)
		goto nomem;
	d->ncap++;
	memcpy(c->x, x, K);
	memcpy(c->y_device, y_lsb, R * sizeof *y_lsb);
	for (size_t r = 0; r < R; r++) {
		int64_t acc = 0;
		for (size_t k = 0; k < K; k++)
			acc += (int64_t)op->wq[r * K + k] * x[k];
		c->y_ideal[r] = (float)(d->p.adc.gain * xb_adc_code_scale(&d->p.adc) * op->sends *
					(double)acc);
	}
	if (d->cap_events) {
		xb_tile *t = xb_matrix_tile(l->m, 0, 0);
		size_t n_in = K < xb_tile_signed_rows(t) ? K : xb_tile_signed_rows(t);
		size_t n_out = R < xb_tile_cols(t) ? R : xb_tile_cols(t);
		size_t cap = d->cap_events;
		xb_tile_trace tr = { 0 };
		xb_tile_batch b;
		int32_t *yy = malloc(n_out * sizeof *yy);
		float *yf = malloc(n_out * sizeof *yf);

		c->ev_time_ps = malloc(cap * sizeof *c->ev_time_ps);
		c->ev_row = malloc(cap * sizeof *c->ev_row);
		c->ev_v_lsb = malloc(cap * n_out * sizeof *c->ev_v_lsb);
		if (!l->tw)
			l->tw = xb_tile_work_new(t, &d->err);
		if (!yy || !yf || !c->ev_time_ps || !c->ev_row || !c->ev_v_lsb || !l->tw) {
			free(yy);
			free(yf);
			goto nomem;
		}
		tr.sample = 0;
		tr.capacity = cap;
		tr.time_ps = c->ev_time_ps;
		tr.row = c->ev_row;
		tr.v_lsb = c->ev_v_lsb;
		xb_tile_batch_init(&b, t, 1, x, yy);
		b.ldx = b.n_in = n_in;
		b.ldy = b.n_out = n_out;
		b.y_ideal = b.model == XB_MODEL_IDEAL ? yf : NULL;
		b.sample_base = v;
		b.traces = &tr;
		b.ntraces = 1;
		xb_status st = xb_tile_mvm(t, &b, l->tw);
		free(yy);
		free(yf);
		if (st != XB_OK)
			return xb_raise(&d->err, st, "device backend: event trace of layer %d: %s",
					c->layer, xb_tile_errmsg(t));
		c->ev_cols = n_out;
		c->events_total = tr.events;
		c->events = tr.events < cap ? tr.events : cap;
		c->read_ps = tr.read_ps;
	}
	return XB_OK;
nomem:
	return xb_raise(&d->err, XB_ENOMEM, "device backend: out of memory (capture)");
}

static xb_status dev_mvm_codes(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			       float *y_lsb, xb_err *err)
{
	xb_device_nn *d = state;
	dev_layer *l;
	size_t K = op->cols, R = op->rows, P;
	xb_tile_batch b;
	xb_tile_counters cnt = { 0 };
	xb_status st;

	if (!op->wq || !op->layer)
		return xb_raise(err, XB_EINVAL, "device backend: quantized MVM without weight codes");
	l = slot(d, op->layer->index);
	if (!l)
		return xb_raise(err, XB_ENOMEM, "device backend: out of memory");
	if (l->m && (l->st.inputs != K || l->st.outputs != R))
		return xb_raise(err, XB_EINVAL, "device backend: layer %d changed shape from %zu x "
				"%zu to %zu x %zu inputs x outputs", op->layer->index,
				l->st.inputs, l->st.outputs, K, R);
	if ((!l->m || l->sends != op->sends) && (st = layer_build(d, l, op, err)) != XB_OK)
		return st;
	if (!l->programmed || l->version != op->version) {
		for (size_t r = 0; r < R; r++)
			for (size_t k = 0; k < K; k++)
				l->wt[k * R + r] = op->wq[r * K + k];
		if ((st = xb_matrix_program(l->m, l->wt, R)) != XB_OK)
			return xb_raise(err, st, "layer %d: %s", op->layer->index,
					xb_matrix_errmsg(l->m));
		l->programmed = 1;
		l->version = op->version;
	}
	if (n == 0)
		return XB_OK;
	if ((st = layer_reserve(l, n, R, err)) != XB_OK)
		return st;
	P = positions(op->layer);
	xb_tile_batch_init(&b, xb_matrix_tile(l->m, 0, 0), n, xq, l->y);
	b.ldx = b.n_in = K;
	b.ldy = b.n_out = R;
	b.sample_base = d->first_sample * P + l->cursor;
	b.counters = &cnt;
	if (b.model == XB_MODEL_IDEAL)
		b.y_ideal = l->yf;
	if ((st = xb_matrix_mvm(l->m, &b, l->ws)) != XB_OK)
		return xb_raise(err, st, "layer %d: %s", op->layer->index, xb_matrix_errmsg(l->m));
	if (b.model == XB_MODEL_IDEAL) {
		memcpy(y_lsb, l->yf, n * R * sizeof *y_lsb);
	} else {
		/* An ADC code c stands for the analog values [c, c + 1): the sum of the
		 * codes of NI row blocks reads the analog sum NI / 2 low on average (each
		 * bit plane's code, with per-plane conversion, weighted by its plane), which
		 * the digital side adds back (midpoint reconstruction).  Outputs at the
		 * limits of the digital sum stay there (saturated). */
		size_t ni, nj;
		int32_t lo, hi;
		float half, planes = 1.0f;

		xb_matrix_grid(l->m, &ni, &nj);
		xb_tile_output_range(&d->p, &lo, &hi);
		if (d->p.input.encoding == XB_ENC_BITSERIAL &&
		    d->p.adc.convert == XB_CONVERT_BITPLANE)
			planes = (float)((1 << d->p.input.bits) - 1);
		half = 0.5f * (float)ni * planes;
		for (size_t i = 0; i < n * R; i++)
			y_lsb[i] = l->y[i] <= lo || l->y[i] >= hi ? (float)l->y[i] :
				   (float)l->y[i] + half;
	}
	/* statistics */
	{
		xb_device_nn_stats *s = &l->st;
		const xb_energy_params *e = &d->p.energy;
		cnt.mvms = n;
		s->c.mvms += cnt.mvms;
		s->c.events += cnt.events;
		s->c.conversions += cnt.conversions;
		s->c.active_cells += cnt.active_cells;
		s->c.sat_integrator += cnt.sat_integrator;
		s->c.sat_adc += cnt.sat_adc;
		s->c.cycles += cnt.cycles;
		s->energy_event_pj += (double)cnt.events * e->event_pj;
		s->energy_cell_pj += (double)cnt.active_cells * e->cell_pj;
		s->energy_conversion_pj += (double)cnt.conversions * e->conversion_pj;
		s->energy_pj = s->energy_event_pj + s->energy_cell_pj + s->energy_conversion_pj;
	}
	if (d->cap_samples) {
		uint64_t v0 = b.sample_base, lim = (uint64_t)d->cap_samples * P;
		for (uint64_t v = (v0 + P - 1) / P * P; v < v0 + n && v < lim; v += P)
			if ((st = capture_one(d, l, op, xq + (v - v0) * K, y_lsb + (v - v0) * R, v,
					      P)) != XB_OK)
				return xb_err_copy(err, &d->err);
	}
	l->cursor += n;
	return XB_OK;
}

const xb_nn_backend_type xb_device_nn_type = {
	"device", NULL, dev_mvm_codes
};

xb_nn_backend xb_device_nn_backend(xb_device_nn *d)
{
	int32_t lo, hi;
	xb_nn_backend b;

	xb_tile_output_range(&d->p, &lo, &hi);
	b.type = &xb_device_nn_type;
	b.state = d;
	/* codes per unit x*w and send: a layer of S sends gets S g x*w (the mock's
	 * gain * num_sends); layers with no sends of their own take input.num_sends */
	b.gain = d->p.adc.gain * xb_adc_code_scale(&d->p.adc);
	b.sends = d->p.input.num_sends;
	b.max_sends = XB_NN_MAX_SENDS;
	if (d->p.integrator.model == XB_MODEL_IDEAL) {
		/* nothing saturates, but sends are chosen for the ADC's range as on a
		 * device, so that the requant shifts see the same codes */
		b.lsb_min = -INFINITY;
		b.lsb_max = INFINITY;
		b.lsb_linear = fmin(-(double)lo, (double)hi);
	} else {
		/* the smaller of the integrator's limits and the output range, in codes */
		double ig = fmin(-d->p.integrator.lo_lsb, d->p.integrator.hi_lsb) *
			    xb_adc_code_scale(&d->p.adc);

		b.lsb_min = lo;
		b.lsb_max = hi;
		b.lsb_linear = fmin(fmin(-(double)lo, (double)hi), ig);
	}
	return b;
}
