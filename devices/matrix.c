/* matrix.c - weight matrices of any size over a grid of tiles, with the digital saturating sum of row blocks.
 * Row blocks beyond a tile's signed capacity go to further tiles; their codes are added and clamped.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_devices.h"

#include <stdlib.h>
#include <string.h>

struct xb_matrix {
	xb_tile_params p;
	xb_err err;
	size_t rows, cols;        /* signed rows and columns of the matrix */
	size_t rs, cs;            /* signed rows and columns of one tile */
	size_t ni, nj;            /* grid */
	xb_tile **tiles;          /* [ni][nj] */
	int32_t out_lo, out_hi;   /* range of the digital sum */
};

struct xb_matrix_work {
	size_t max_batch;
	xb_tile_work *tw;
	int32_t *y;               /* [max_batch][cs] codes of one tile */
	float *yf;                /* [max_batch][cs] ideal outputs of one tile */
	xb_mvm_stats *st;         /* [max_batch] */
};

const char *xb_matrix_errmsg(const xb_matrix *m)
{
	return m ? m->err.msg : xb_errmsg(NULL);
}

void xb_matrix_free(xb_matrix *m)
{
	if (!m)
		return;
	for (size_t k = 0; m->tiles && k < m->ni * m->nj; k++)
		xb_tile_free(m->tiles[k]);
	free(m->tiles);
	free(m);
}

xb_matrix *xb_matrix_new(const xb_tile_params *p, uint32_t chip, uint32_t tile_base,
			 size_t rows, size_t cols, xb_err *err)
{
	xb_matrix *m;

	if (!p || !rows || !cols) {
		xb_raise(err, XB_EINVAL, "xb_matrix_new: a %zu x %zu matrix: expected at least 1 x 1",
			 rows, cols);
		return NULL;
	}
	if (xb_tile_params_check(p, err) != XB_OK)
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		goto nomem;
	m->p = *p;
	m->rows = rows;
	m->cols = cols;
	m->rs = (size_t)xb_tile_params_signed_rows(p);
	m->cs = (size_t)p->array.cols;
	m->ni = (rows + m->rs - 1) / m->rs;
	m->nj = (cols + m->cs - 1) / m->cs;
	xb_tile_output_range(p, &m->out_lo, &m->out_hi);
	m->tiles = calloc(m->ni * m->nj, sizeof *m->tiles);
	if (!m->tiles)
		goto nomem;
	for (size_t k = 0; k < m->ni * m->nj; k++) {
		m->tiles[k] = xb_tile_new(p, chip, tile_base + (uint32_t)k, err);
		if (!m->tiles[k]) {
			xb_matrix_free(m);
			return NULL;
		}
	}
	return m;
nomem:
	xb_raise(err, XB_ENOMEM, "a %zu x %zu matrix: out of memory", rows, cols);
	xb_matrix_free(m);
	return NULL;
}

void xb_matrix_grid(const xb_matrix *m, size_t *ni, size_t *nj)
{
	if (ni)
		*ni = m->ni;
	if (nj)
		*nj = m->nj;
}

xb_tile *xb_matrix_tile(xb_matrix *m, size_t i, size_t j)
{
	return i < m->ni && j < m->nj ? m->tiles[i * m->nj + j] : NULL;
}

/* Rows and columns of block (I, J). */
static size_t block_rows(const xb_matrix *m, size_t i)
{
	return m->rows - i * m->rs < m->rs ? m->rows - i * m->rs : m->rs;
}

static size_t block_cols(const xb_matrix *m, size_t j)
{
	return m->cols - j * m->cs < m->cs ? m->cols - j * m->cs : m->cs;
}

xb_status xb_matrix_program(xb_matrix *m, const int8_t *w, size_t ldw)
{
	int wmax = (1 << m->p.array.weight_bits) - 1;

	if (!w || ldw < m->cols)
		return xb_raise(&m->err, XB_EINVAL, "xb_matrix_program: no weights or row stride %zu < %zu",
				ldw, m->cols);
	/* Check everything first so that a bad matrix leaves every tile unchanged. */
	for (size_t r = 0; r < m->rows; r++)
		for (size_t c = 0; c < m->cols; c++) {
			int v = w[r * ldw + c];

			if (v > wmax || v < -wmax)
				return xb_raise(&m->err, XB_ERANGE,
						"weight %d at row %zu, column %zu of the %zu x %zu matrix is "
						"out of range: array.weight_bits = %d allows -%d .. %d", v, r,
						c, m->rows, m->cols, m->p.array.weight_bits, wmax, wmax);
		}
	for (size_t i = 0; i < m->ni; i++)
		for (size_t j = 0; j < m->nj; j++) {
			xb_tile *t = m->tiles[i * m->nj + j];

			if (xb_tile_program(t, w + i * m->rs * ldw + j * m->cs, ldw, block_rows(m, i),
					    block_cols(m, j)) != XB_OK)
				return xb_raise(&m->err, xb_tile_errmsg(t)[0] ? XB_ERANGE : XB_EINTERNAL,
						"tile (%zu, %zu): %s", i, j, xb_tile_errmsg(t));
		}
	return XB_OK;
}

void xb_matrix_work_free(xb_matrix_work *w)
{
	if (!w)
		return;
	xb_tile_work_free(w->tw);
	free(w->y);
	free(w->yf);
	free(w->st);
	free(w);
}

xb_matrix_work *xb_matrix_work_new(const xb_matrix *m, size_t max_batch, xb_err *err)
{
	xb_matrix_work *w = calloc(1, sizeof *w);
	size_t nb = max_batch ? max_batch : 1;

	if (!w)
		goto nomem;
	w->max_batch = max_batch;
	w->tw = xb_tile_work_new(m->tiles[0], err);
	if (!w->tw) {
		xb_matrix_work_free(w);
		return NULL;
	}
	w->y = malloc(nb * m->cs * sizeof *w->y);
	w->yf = malloc(nb * m->cs * sizeof *w->yf);
	w->st = malloc(nb * sizeof *w->st);
	if (!w->y || !w->yf || !w->st)
		goto nomem;
	return w;
nomem:
	xb_raise(err, XB_ENOMEM, "matrix workspace for %zu MVMs: out of memory", max_batch);
	xb_matrix_work_free(w);
	return NULL;
}

xb_status xb_matrix_mvm(xb_matrix *m, const xb_tile_batch *b, xb_matrix_work *ws)
{
	size_t B;
	int ideal;

	if (!b || !ws)
		return xb_raise(&m->err, XB_EINVAL, "xb_matrix_mvm: no batch or no workspace");
	B = b->batch;
	ideal = b->model == XB_MODEL_IDEAL;
	if (B > ws->max_batch)
		return xb_raise(&m->err, XB_EINVAL, "xb_matrix_mvm: batch of %zu MVMs, workspace for %zu",
				B, ws->max_batch);
	if (b->order || b->traces || b->interval_ns)
		return xb_raise(&m->err, XB_EUNSUPPORTED,
				"xb_matrix_mvm: explicit orders, traces and event intervals are per tile "
				"(use xb_matrix_tile and xb_tile_mvm)");
	if (b->n_in != m->rows || b->n_out != m->cols || b->ldx < m->rows || b->ldy < m->cols)
		return xb_raise(&m->err, XB_EINVAL,
				"xb_matrix_mvm: %zu inputs and %zu outputs (strides %zu, %zu) for a "
				"%zu x %zu matrix", b->n_in, b->n_out, b->ldx, b->ldy, m->rows, m->cols);
	if (B && (!b->x || (!b->y && !(ideal && b->y_ideal))))
		return xb_raise(&m->err, XB_EINVAL, "xb_matrix_mvm: missing input or output array");
	if (b->stats)
		memset(b->stats, 0, B * sizeof *b->stats);
	for (size_t j = 0; j < m->nj; j++) {
		size_t nc = block_cols(m, j), c0 = j * m->cs;

		for (size_t i = 0; i < m->ni; i++) {
			xb_tile *t = m->tiles[i * m->nj + j];
			xb_tile_batch tb = *b;
			xb_status st;

			tb.x = b->x + i * m->rs;
			tb.n_in = block_rows(m, i);
			tb.y = b->y ? ws->y : NULL;
			tb.y_ideal = b->y_ideal ? ws->yf : NULL;
			tb.ldy = m->cs;
			tb.n_out = nc;
			tb.stats = b->stats ? ws->st : NULL;
			st = xb_tile_mvm(t, &tb, ws->tw);
			if (st != XB_OK)
				return xb_raise(&m->err, st, "tile (%zu, %zu): %s", i, j, xb_tile_errmsg(t));
			for (size_t s = 0; s < B; s++) {
				if (b->y) {
					int32_t *y = b->y + s * b->ldy + c0;
					const int32_t *yt = ws->y + s * m->cs;

					for (size_t c = 0; c < nc; c++)
						y[c] = i ? y[c] + yt[c] : yt[c];
				}
				if (b->y_ideal) {
					float *y = b->y_ideal + s * b->ldy + c0;
					const float *yt = ws->yf + s * m->cs;

					for (size_t c = 0; c < nc; c++)
						y[c] = i ? y[c] + yt[c] : yt[c];
				}
				if (b->stats) {
					xb_mvm_stats *d = &b->stats[s];
					const xb_mvm_stats *e = &ws->st[s];

					d->events += e->events;
					d->conversions += e->conversions;
					d->active_cells += e->active_cells;
					d->sat_integrator += e->sat_integrator;
					d->sat_adc += e->sat_adc;
					d->cycles = e->cycles > d->cycles ? e->cycles : d->cycles;
				}
			}
		}
		/* The digital sum saturates to the output range (ideal outputs stay float). */
		if (b->y && !ideal)
			for (size_t s = 0; s < B; s++) {
				int32_t *y = b->y + s * b->ldy + c0;

				for (size_t c = 0; c < nc; c++)
					y[c] = y[c] < m->out_lo ? m->out_lo : y[c] > m->out_hi ? m->out_hi : y[c];
			}
	}
	return XB_OK;
}
