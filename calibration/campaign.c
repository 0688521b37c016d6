/* campaign.c - a measurement campaign on a simulated chip: stimuli in, ADC codes out.
 * What `xbarsim measure` runs; the chip is the devices module's tile with its fixed pattern.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

xb_calibration_design xb_calibration_design_from_tile(const xb_tile_params *p, size_t repeats)
{
	xb_calibration_design d = xb_calibration_design_default();

	d.rows = (size_t)xb_tile_params_signed_rows(p);
	d.cols = (size_t)p->array.cols;
	d.input_bits = p->input.bits;
	d.weight_bits = p->array.weight_bits;
	d.adc_bits = p->adc.bits;
	d.adc_min = p->adc.min;
	d.adc_max = p->adc.max;
	d.tau_us = p->integrator.tau_us > 0 ? p->integrator.tau_us : 60.0;
	d.event_interval_ns = p->input.wait_cycles * 1000.0 / p->input.event_mhz;
	d.num_sends = p->input.num_sends;
	if (repeats)
		d.repeats = repeats;
	return d;
}

/* One tile of the campaign: row block I, column block J. */
typedef struct block {
	size_t r0, nr, c0, nc;
	xb_tile *tile;
} block;

xb_status xb_calibration_measure(const xb_tile_params *p, const xb_calibration_meas *stim,
				 size_t repeats, const xb_calibration *cal,
				 xb_calibration_meas **out, xb_progress_fn progress,
				 void *progress_ud, xb_err *err)
{
	xb_calibration_meas *m = NULL;
	block *bl = NULL;
	xb_tile_work *ws = NULL;
	uint8_t *x = NULL;
	int32_t *ord = NULL, *y = NULL, *sum = NULL;
	double *iv = NULL;
	size_t Rs, Ct, ni, nj, N, K, R, C, B;
	xb_status st = XB_OK;

	*out = NULL;
	if (!p || !stim || !stim->weights || !stim->inputs || !stim->rows || !stim->cols ||
	    !stim->nstim)
		return xb_raise(err, XB_EINVAL, "measurement campaign: no parameters or no stimuli");
	if (p->input.encoding != XB_ENC_EVENT)
		return xb_raise(err, XB_EUNSUPPORTED, "measurement campaign: the measurement schema describes "
				"event-by-event stimuli (one event per non-zero row); this preset "
				"uses input.encoding = %s: set input.encoding = event",
				p->input.encoding == XB_ENC_PULSE ? "pulse" : "bitserial");
	if (p->integrator.model == XB_MODEL_IDEAL)
		return xb_raise(err, XB_EUNSUPPORTED, "measurement campaign: integrator.model = ideal has no ADC "
				"codes to measure: use ordered or unordered");
	Rs = (size_t)xb_tile_params_signed_rows(p);
	Ct = (size_t)p->array.cols;
	R = stim->rows;
	C = stim->cols;
	N = stim->nstim;
	K = repeats ? repeats : stim->nrep ? stim->nrep : 8;
	ni = (R + Rs - 1) / Rs;
	nj = (C + Ct - 1) / Ct;
	B = N * K;
	m = xb_calibration_meas_new(R, C, N, K, err);
	bl = calloc(ni * nj, sizeof *bl);
	x = malloc(B * Rs);
	ord = malloc(B * Rs * sizeof *ord);
	iv = malloc(B * sizeof *iv);
	y = malloc(B * Ct * sizeof *y);
	sum = calloc(B * C, sizeof *sum);
	if (!m || !bl || !x || !ord || !iv || !y || !sum) {
		st = m ? xb_raise(err, XB_ENOMEM, "measurement campaign: out of memory") : XB_ENOMEM;
		goto fail;
	}
	/* The file describes the chip: its bits, ADC range, spacing, sends, read delay. */
	m->input_bits = p->input.bits;
	m->weight_bits = p->array.weight_bits;
	m->adc_bits = p->adc.bits;
	m->adc_min = p->adc.min;
	m->adc_max = p->adc.max;
	m->event_interval_ns = p->input.wait_cycles * 1000.0 / p->input.event_mhz;
	m->num_sends = p->input.num_sends;
	m->read_delay_ns = p->integrator.read_delay_ns;
	memcpy(m->weights, stim->weights, R * C);
	memcpy(m->inputs, stim->inputs, N * R);
	/* The file always holds the order of the events: the stimuli's, or the preset's
	 * schedule over the non-zero rows (a random schedule drawn once per stimulus from
	 * the chip seed's stream, the same for its repeats). */
	m->order = malloc(N * R * sizeof *m->order);
	if (!m->order) {
		st = xb_raise(err, XB_ENOMEM, "measurement campaign: out of memory");
		goto fail;
	}
	if (stim->order) {
		memcpy(m->order, stim->order, N * R * sizeof *m->order);
	} else {
		xb_stream rs;

		xb_stream_init(&rs, p->chip_seed, 0, 0);
		for (size_t n = 0; n < N; n++) {
			int32_t *o = m->order + n * R;
			size_t ne = xb_calibration_meas_events(stim, n, p->input.order, o);

			if (p->input.order == XB_ORDER_RANDOM)
				for (size_t q = ne; q-- > 1;) {
					size_t z = (size_t)(((uint64_t)xb_stream_u32(&rs, XB_DRAW_USER, n, 0,
							     (uint32_t)q) * (q + 1)) >> 32);
					int32_t tmp = o[q];

					o[q] = o[z];
					o[z] = tmp;
				}
			for (size_t q = ne; q < R; q++)
				o[q] = -1;
		}
	}
	m->interval_ns = malloc(N * sizeof *m->interval_ns);
	if (!m->interval_ns) {
		st = xb_raise(err, XB_ENOMEM, "measurement campaign: out of memory");
		goto fail;
	}
	for (size_t n = 0; n < N; n++)
		m->interval_ns[n] = stim->interval_ns ? stim->interval_ns[n] : m->event_interval_ns;
	for (size_t b = 0; b < B; b++)
		iv[b] = m->interval_ns[b / K];

	for (size_t i = 0; i < ni; i++)
		for (size_t j = 0; j < nj; j++) {
			block *k = &bl[i * nj + j];
			xb_tile_batch bt;

			k->r0 = i * Rs;
			k->nr = R - k->r0 < Rs ? R - k->r0 : Rs;
			k->c0 = j * Ct;
			k->nc = C - k->c0 < Ct ? C - k->c0 : Ct;
			k->tile = xb_tile_new(p, 0, (uint32_t)(i * nj + j), err);
			if (!k->tile) {
				st = err ? err->code : XB_ENOMEM;
				goto fail;
			}
			if (cal && (st = xb_calibration_apply(cal, k->tile, i * nj + j, ni * nj, err)))
				goto fail;
			if (!ws) {
				ws = xb_tile_work_new(k->tile, err);
				if (!ws) {
					st = err ? err->code : XB_ENOMEM;
					goto fail;
				}
			}
			if ((st = xb_tile_program(k->tile, stim->weights + k->r0 * C + k->c0, C, k->nr,
						  k->nc))) {
				xb_raise(err, st, "measurement campaign: tile %zu: %s", i * nj + j,
					 xb_tile_errmsg(k->tile));
				goto fail;
			}
			/* Inputs of this row block, each stimulus K times; the explicit order
			 * restricted to the block's rows, in block-local indices. */
			memset(x, 0, B * Rs);
			for (size_t b = 0; b < B; b++) {
				const size_t n = b / K;

				size_t e = 0;

				memcpy(x + b * Rs, stim->inputs + n * R + k->r0, k->nr);
				for (size_t q = 0; q < R && m->order[n * R + q] >= 0; q++) {
					size_t r = (size_t)m->order[n * R + q];

					if (r >= k->r0 && r < k->r0 + k->nr)
						ord[b * Rs + e++] = (int32_t)(r - k->r0);
				}
				for (; e < Rs; e++)
					ord[b * Rs + e] = -1;
			}
			xb_tile_batch_init(&bt, k->tile, B, x, y);
			bt.n_in = k->nr;
			bt.n_out = k->nc;
			bt.order = ord;
			bt.ld_order = Rs;
			bt.interval_ns = iv;
			/* Every MVM of the campaign has its own sample number: fresh noise. */
			bt.sample_base = 0;
			if ((st = xb_tile_mvm(k->tile, &bt, ws))) {
				xb_raise(err, st, "measurement campaign: tile %zu: %s", i * nj + j,
					 xb_tile_errmsg(k->tile));
				goto fail;
			}
			for (size_t b = 0; b < B; b++)
				for (size_t c = 0; c < k->nc; c++)
					sum[b * C + k->c0 + c] += y[b * Ct + c];
			if (progress)
				progress(progress_ud, i * nj + j + 1, ni * nj);
		}
	/* Codes: the row blocks' outputs added digitally, clamped to the ADC range. */
	for (size_t b = 0; b < B; b++)
		for (size_t c = 0; c < C; c++) {
			int32_t v = sum[b * C + c];

			if (v < m->adc_min)
				v = m->adc_min;
			if (v > m->adc_max)
				v = m->adc_max;
			m->codes[b * C + c] = (int16_t)v;
		}
	/* The truth of a single row block: the tiles' column parameters. */
	if (ni == 1) {
		double *col[XB_CAL_NPARAM];

		for (int q = 0; q < XB_CAL_NPARAM; q++) {
			m->truth[q] = malloc(C * sizeof *m->truth[q]);
			col[q] = malloc(Ct * sizeof *col[q]);
			if (!m->truth[q] || !col[q]) {
				for (int z = 0; z <= q; z++)
					free(col[z]);
				st = xb_raise(err, XB_ENOMEM, "measurement campaign: out of memory");
				goto fail;
			}
		}
		for (size_t j = 0; j < nj; j++) {
			const block *k = &bl[j];

			xb_tile_get_columns(k->tile, col[XB_CAL_GAIN], col[XB_CAL_OFFSET],
					    col[XB_CAL_SAT_LO], col[XB_CAL_SAT_HI], col[XB_CAL_TAU],
					    col[XB_CAL_READ_NOISE]);
			for (int q = 0; q < XB_CAL_NPARAM; q++)
				memcpy(m->truth[q] + k->c0, col[q], k->nc * sizeof *col[q]);
		}
		for (int q = 0; q < XB_CAL_NPARAM; q++)
			free(col[q]);
	}
	if ((st = xb_calibration_meas_check(m, err)))
		goto fail;
	*out = m;
	m = NULL;
fail:
	if (bl)
		for (size_t i = 0; i < ni * nj; i++)
			xb_tile_free(bl[i].tile);
	free(bl);
	xb_tile_work_free(ws);
	free(x);
	free(ord);
	free(iv);
	free(y);
	free(sum);
	xb_calibration_meas_free(m);
	return st;
}
