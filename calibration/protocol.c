/* protocol.c - the default measurement protocol: stimuli that make every parameter of the
 * column model identifiable (gain, offset, both saturation limits, leak, read noise).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

xb_calibration_design xb_calibration_design_default(void)
{
	xb_calibration_design d;

	memset(&d, 0, sizeof d);
	d.rows = 128;
	d.cols = 256;
	d.input_bits = 5;
	d.weight_bits = 6;
	d.adc_bits = 8;
	d.adc_min = -128;
	d.adc_max = 127;
	d.tau_us = 60;
	d.event_interval_ns = 40;
	d.num_sends = 1;
	d.repeats = 8;
	d.seed = 1;
	return d;
}

/* splitmix64: a small deterministic generator for the random masks. */
static uint64_t mix_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double mix_uniform(uint64_t *s)
{
	return ((double)(mix_next(s) >> 11) + 0.5) * 0x1.0p-53;
}

/* The stimuli under construction: events (row, input) in time order, and an interval. */
typedef struct builder {
	size_t rows, cap, n;
	uint8_t *inputs;      /* [cap * rows] */
	int32_t *order;       /* [cap * rows] */
	double *interval_ns;  /* [cap] */
	size_t ne;            /* events of the stimulus being built */
	int failed;
} builder;

static void b_begin(builder *b, double interval_ns)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		uint8_t *in = realloc(b->inputs, cap * b->rows);
		int32_t *o = in ? realloc(b->order, cap * b->rows * sizeof *o) : NULL;
		double *iv = o ? realloc(b->interval_ns, cap * sizeof *iv) : NULL;

		if (in)
			b->inputs = in;
		if (o)
			b->order = o;
		if (!iv) {
			b->failed = 1;
			return;
		}
		b->interval_ns = iv;
		b->cap = cap;
	}
	memset(b->inputs + b->n * b->rows, 0, b->rows);
	for (size_t r = 0; r < b->rows; r++)
		b->order[b->n * b->rows + r] = -1;
	b->interval_ns[b->n] = interval_ns;
	b->ne = 0;
}

static void b_event(builder *b, size_t row, int x)
{
	if (b->failed || x <= 0 || b->inputs[b->n * b->rows + row])
		return;
	b->inputs[b->n * b->rows + row] = (uint8_t)x;
	b->order[b->n * b->rows + b->ne++] = (int32_t)row;
}

static void b_end(builder *b)
{
	if (!b->failed)
		b->n++;
}

xb_calibration_meas *xb_calibration_protocol(const xb_calibration_design *d, xb_err *err)
{
	const size_t R = d ? d->rows : 0;
	size_t n_null, n_pos, n_neg, n_lad, *pos = NULL, *neg = NULL, npos = 0, nneg = 0;
	size_t *null_rows = NULL, *spos = NULL, *sneg = NULL;
	int8_t *wrow = NULL;
	int xmax, wmax;
	double iv;
	builder b;
	uint64_t rng;
	xb_calibration_meas *m = NULL;

	memset(&b, 0, sizeof b);
	if (!d || R < 16 || !d->cols || !d->repeats || d->input_bits < 1 || d->input_bits > 8 ||
	    d->weight_bits < 1 || d->weight_bits > 7 || !(d->event_interval_ns > 0) ||
	    d->num_sends < 1) {
		xb_raise(err, XB_EINVAL, "calibration protocol: needs at least 16 signed rows, "
			 "columns, repeats, input bits 1..8, weight bits 1..7 and a positive event "
			 "interval (got %zu rows)", R);
		return NULL;
	}
	xmax = (1 << d->input_bits) - 1;
	wmax = (1 << d->weight_bits) - 1;
	iv = d->event_interval_ns;
	rng = d->seed ^ UINT64_C(0x63616c6962726174);
	/* Row roles: silent rows (weight 0), strong rows (+-wmax), a ladder of weights. */
	n_null = R / 8 > 2 ? R / 8 : 2;
	n_pos = R / 8;
	n_neg = R / 8;
	n_lad = R - n_null - n_pos - n_neg;
	wrow = calloc(R, sizeof *wrow);
	pos = malloc(R * sizeof *pos);
	neg = malloc(R * sizeof *neg);
	null_rows = malloc(R * sizeof *null_rows);
	spos = malloc(R * sizeof *spos);
	sneg = malloc(R * sizeof *sneg);
	b.rows = R;
	if (!wrow || !pos || !neg || !null_rows || !spos || !sneg)
		goto nomem;
	for (size_t i = 0; i < n_null; i++)
		null_rows[i] = i;
	for (size_t i = 0; i < n_pos; i++) {
		spos[i] = n_null + i;
		wrow[spos[i]] = (int8_t)wmax;
	}
	for (size_t i = 0; i < n_neg; i++) {
		sneg[i] = n_null + n_pos + i;
		wrow[sneg[i]] = (int8_t)-wmax;
	}
	for (size_t i = 0; i < n_lad; i++) {
		/* Alternating signs, magnitudes spread over 1 .. wmax. */
		size_t r = n_null + n_pos + n_neg + i;
		long mag = lround((double)wmax * (double)(i / 2 + 1) / (double)((n_lad + 1) / 2));

		if (mag < 1)
			mag = 1;
		if (mag > wmax)
			mag = wmax;
		wrow[r] = (int8_t)(i % 2 ? -mag : mag);
	}
	/* Positive rows by decreasing weight (strong first), negative likewise. */
	for (size_t i = 0; i < n_pos; i++)
		pos[npos++] = spos[i];
	for (long mag = wmax; mag >= 1; mag--)
		for (size_t r = n_null + n_pos + n_neg; r < R; r++)
			if (wrow[r] == mag)
				pos[npos++] = r;
	for (size_t i = 0; i < n_neg; i++)
		neg[nneg++] = sneg[i];
	for (long mag = wmax; mag >= 1; mag--)
		for (size_t r = n_null + n_pos + n_neg; r < R; r++)
			if (wrow[r] == -mag)
				neg[nneg++] = r;

	/* 0. Empty stimuli: the offset alone. */
	for (int i = 0; i < 4; i++) {
		b_begin(&b, iv);
		b_end(&b);
	}
	/* 1. Weight sweep at fixed input: rows switched on one more at a time (about 24
	 *    steps per sign), descending row order. */
	for (int sign = 0; sign < 2; sign++) {
		const size_t *list = sign ? neg : pos, cnt = sign ? nneg : npos;
		size_t steps = cnt < 24 ? cnt : 24;

		for (size_t s = 1; s <= steps; s++) {
			size_t upto = (s * cnt + steps - 1) / steps;

			b_begin(&b, iv);
			for (size_t r = R; r-- > 0;)
				for (size_t j = 0; j < upto; j++)
					if (list[j] == r)
						b_event(&b, r, xmax);
			b_end(&b);
		}
	}
	/* 2. Input sweep: all positive rows (and, fewer steps, all negative rows) at one
	 *    input, 1 .. xmax. */
	for (int sign = 0; sign < 2; sign++) {
		const size_t *list = sign ? neg : pos, cnt = sign ? nneg : npos;
		int steps = sign ? 8 : 16;

		for (int s = 1; s <= steps; s++) {
			int x = (int)lround((double)xmax * s / steps);

			b_begin(&b, iv);
			for (size_t r = R; r-- > 0;)
				for (size_t j = 0; j < cnt; j++)
					if (list[j] == r)
						b_event(&b, r, x < 1 ? 1 : x);
			b_end(&b);
		}
	}
	/* 3. Random masks on the ladder and strong rows, densities 0.85^i, random inputs;
	 *    most at the default spacing, some slower, in random order. */
	for (int i = 0; i < 64; i++) {
		double dens = pow(0.85, i % 16);
		int slow = i >= 48;
		size_t *perm = malloc(R * sizeof *perm), np = 0;

		if (!perm)
			goto nomem;
		for (size_t r = n_null; r < R; r++)
			if (mix_uniform(&rng) < dens)
				perm[np++] = r;
		if (slow)
			for (size_t j = np; j > 1; j--) {
				size_t k = (size_t)(mix_uniform(&rng) * (double)j), t = perm[j - 1];

				perm[j - 1] = perm[k];
				perm[k] = t;
			}
		b_begin(&b, slow ? 10 * iv : iv);
		if (slow) {
			for (size_t j = 0; j < np; j++)
				b_event(&b, perm[j], 1 + (int)(mix_uniform(&rng) * xmax));
		} else {
			for (size_t j = np; j-- > 0;)
				b_event(&b, perm[j], 1 + (int)(mix_uniform(&rng) * xmax));
		}
		free(perm);
		b_end(&b);
	}
	/* 4. Ordering probes: the same multiset positive-first, negative-first, interleaved.
	 *    Multisets: all positive rows + strong negative; all negative + strong positive;
	 *    everything.  The first two also 10x and 50x slower. */
	for (int set = 0; set < 3; set++) {
		size_t na = set == 1 ? n_pos : npos, nb = set == 0 ? n_neg : nneg;
		const size_t *la = set == 1 ? spos : pos, *lb = set == 0 ? sneg : neg;
		int nspeed = set < 2 ? 3 : 1;

		for (int sp = 0; sp < nspeed; sp++) {
			double ivs = iv * (sp == 0 ? 1 : sp == 1 ? 10 : 50);

			for (int ord = 0; ord < 3; ord++) {
				b_begin(&b, ivs);
				if (ord == 0 || ord == 1) {
					const size_t *first = ord == 0 ? la : lb, *second = ord == 0 ? lb : la;
					size_t nf = ord == 0 ? na : nb, ns = ord == 0 ? nb : na;

					for (size_t j = 0; j < nf; j++)
						b_event(&b, first[j], xmax);
					for (size_t j = 0; j < ns; j++)
						b_event(&b, second[j], xmax);
				} else {
					for (size_t j = 0; j < (na > nb ? na : nb); j++) {
						if (j < na)
							b_event(&b, la[j], xmax);
						if (j < nb)
							b_event(&b, lb[j], xmax);
					}
				}
				b_end(&b);
			}
		}
	}
	/* 5. Leak probes: strong rows of one sign (or all rows of one sign, saturating)
	 *    then the silent rows, and the silent rows first, at 1x, ~M/12, ~M/2.5 and M
	 *    times the event spacing, M chosen so that the silent rows last 1.3 tau. */
	double mmax = ceil(1.3 * (d->tau_us > 0 ? d->tau_us : 60.0) * 1000.0 /
			   ((double)n_null * iv));
	double mult[4] = { 1, fmax(2, round(mmax / 12)), fmax(3, round(mmax / 2.5)), fmax(4, mmax) };

	for (int sign = 0; sign < 2; sign++)
		for (int all = 0; all < 2; all++)
			for (int sp = 0; sp < 4; sp++) {
				const size_t *list = all ? (sign ? neg : pos) : (sign ? sneg : spos);
				size_t cnt = all ? (sign ? nneg : npos) : (sign ? n_neg : n_pos);

				for (int silent_first = 0; silent_first < 2 - all; silent_first++) {
					b_begin(&b, iv * mult[sp]);
					if (silent_first)
						for (size_t j = 0; j < n_null; j++)
							b_event(&b, null_rows[j], xmax);
					for (size_t j = 0; j < cnt; j++)
						b_event(&b, list[j], xmax);
					if (!silent_first)
						for (size_t j = 0; j < n_null; j++)
							b_event(&b, null_rows[j], xmax);
					b_end(&b);
				}
			}
	if (b.failed)
		goto nomem;

	m = xb_calibration_meas_new(R, d->cols, b.n, d->repeats, err);
	if (!m)
		goto fail;
	m->input_bits = d->input_bits;
	m->weight_bits = d->weight_bits;
	m->adc_bits = d->adc_bits;
	m->adc_min = d->adc_min;
	m->adc_max = d->adc_max;
	m->event_interval_ns = d->event_interval_ns;
	m->num_sends = d->num_sends;
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < d->cols; c++)
			m->weights[r * d->cols + c] = wrow[r];
	memcpy(m->inputs, b.inputs, b.n * R);
	m->order = b.order;
	m->interval_ns = b.interval_ns;
	b.order = NULL;
	b.interval_ns = NULL;
	goto done;
nomem:
	xb_raise(err, XB_ENOMEM, "calibration protocol: out of memory");
fail:
	xb_calibration_meas_free(m);
	m = NULL;
done:
	free(b.inputs);
	free(b.order);
	free(b.interval_ns);
	free(wrow);
	free(pos);
	free(neg);
	free(null_rows);
	free(spos);
	free(sneg);
	return m;
}
