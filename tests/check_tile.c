/* check_tile.c - unit tests of the functional tile: models, schedules, saturation, leak, noise, matrices, limits.
 * Every expected value says how it was derived.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_devices.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- helpers -------------------------------------------------------------------------- */

static uint32_t lcg_state;

static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1664525u + 1013904223u;
	return lcg_state >> 8;
}

static void fill_inputs(uint8_t *x, size_t n, int xmax, double density)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (lcg() % 1000) < density * 1000 ? (uint8_t)(lcg() % (unsigned)(xmax + 1)) : 0;
}

static void fill_weights(int8_t *w, size_t n, int wmax)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (int8_t)((int)(lcg() % (unsigned)(2 * wmax + 1)) - wmax);
}

/* A small hand-checkable tile: differential rows, one LSB per unit of x * w (gain 1),
 * limits +-10, no leak, no noise, 16-bit ADC range so that the ADC never clips. */
static xb_tile_params hand_params(int rows, int cols)
{
	xb_tile_params p = xb_tile_default_params();

	p.array.rows = rows;
	p.array.cols = cols;
	p.array.mapping = XB_MAPPING_DIFFERENTIAL;
	p.array.weight_bits = 4;
	p.input.bits = 2;
	p.integrator.tau_us = 0;
	p.integrator.lo_lsb = -10;
	p.integrator.hi_lsb = 10;
	xb_adc_set_bits(&p.adc, 16);   /* -32768 .. 32767 */
	p.adc.full_scale_bits = 16;    /* codes are reference LSB */
	p.adc.gain = 1.0;
	p.noise.enable = 0;
	return p;
}

typedef struct rig {
	xb_tile *t;
	xb_tile_work *w;
} rig;

static rig make_rig(const xb_tile_params *p, uint32_t tile, const int8_t *w)
{
	xb_err err;
	rig r;

	r.t = xb_tile_new(p, 0, tile, &err);
	ck_assert_msg(r.t != NULL, "xb_tile_new: %s", err.msg);
	r.w = xb_tile_work_new(r.t, &err);
	ck_assert_msg(r.w != NULL, "xb_tile_work_new: %s", err.msg);
	if (w)
		ck_assert_int_eq(xb_tile_program(r.t, w, xb_tile_cols(r.t), xb_tile_signed_rows(r.t),
						 xb_tile_cols(r.t)), XB_OK);
	return r;
}

static void free_rig(rig *r)
{
	xb_tile_work_free(r->w);
	xb_tile_free(r->t);
}

/* Run one batch with MODEL; extra options through B after init when OPT is set. */
static void run(rig *r, xb_model model, size_t batch, const uint8_t *x, int32_t *y,
		uint64_t base)
{
	xb_tile_batch b;

	xb_tile_batch_init(&b, r->t, batch, x, y);
	b.model = model;
	b.sample_base = base;
	ck_assert_msg(xb_tile_mvm(r->t, &b, r->w) == XB_OK, "%s", xb_tile_errmsg(r->t));
}

/* ---- configuration keys and presets ------------------------------------------------------ */

/* Field-wise equality of two parameter sets (memcmp would compare padding). */
static int same_params(const xb_tile_params *a, const xb_tile_params *b)
{
	const xb_array_params *aa = &a->array, *ba = &b->array;
	const xb_encoder_params *ai = &a->input, *bi = &b->input;
	const xb_integrator_params *ag = &a->integrator, *bg = &b->integrator;
	const xb_adc_params *ad = &a->adc, *bd = &b->adc;
	const xb_noise_params *an = &a->noise, *bn = &b->noise;

	return aa->rows == ba->rows && aa->cols == ba->cols && aa->weight_bits == ba->weight_bits &&
	       aa->mapping == ba->mapping && aa->gmax_us == ba->gmax_us && ai->bits == bi->bits &&
	       ai->encoding == bi->encoding && ai->order == bi->order &&
	       ai->wait_cycles == bi->wait_cycles && ai->num_sends == bi->num_sends &&
	       ai->bit_order == bi->bit_order && ai->event_mhz == bi->event_mhz &&
	       ag->model == bg->model && ag->tau_us == bg->tau_us &&
	       ag->saturation == bg->saturation && ag->lo_lsb == bg->lo_lsb &&
	       ag->hi_lsb == bg->hi_lsb && ag->knee_lsb == bg->knee_lsb &&
	       ag->read_delay_ns == bg->read_delay_ns &&
	       ag->baseline_delay_us == bg->baseline_delay_us && ad->bits == bd->bits &&
	       ad->min == bd->min && ad->max == bd->max && ad->gain == bd->gain &&
	       ad->offset_lsb == bd->offset_lsb && ad->type == bd->type &&
	       ad->columns_per_adc == bd->columns_per_adc && ad->convert == bd->convert &&
	       ad->full_scale_bits == bd->full_scale_bits &&
	       a->energy.event_pj == b->energy.event_pj && a->energy.cell_pj == b->energy.cell_pj &&
	       a->energy.conversion_pj == b->energy.conversion_pj && an->enable == bn->enable &&
	       an->read_lsb == bn->read_lsb && an->event_lsb == bn->event_lsb &&
	       an->fpn_gain == bn->fpn_gain && an->fpn_offset_lsb == bn->fpn_offset_lsb &&
	       an->fpn_synapse == bn->fpn_synapse &&
	       an->fpn_saturation_lsb == bn->fpn_saturation_lsb && an->device == bn->device &&
	       an->programming == bn->programming && an->drift == bn->drift &&
	       an->drift_std == bn->drift_std && an->device_read == bn->device_read &&
	       an->drift_time_s == bn->drift_time_s && an->stuck_min == bn->stuck_min &&
	       an->stuck_max == bn->stuck_max && a->chip_seed == b->chip_seed &&
	       a->tiles_per_chip == b->tiles_per_chip;
}

START_TEST(test_keys)
{
	/* The names of DESIGN.md section 6 (plus the documented extras). */
	static const char *const names[] = {
		"tile.rows", "tile.cols", "input.bits", "input.encoding", "input.order",
		"input.wait_cycles", "input.num_sends", "input.bit_order", "array.weight_bits",
		"integrator.model", "integrator.tau_us", "integrator.saturation", "integrator.lo_lsb",
		"integrator.hi_lsb", "integrator.read_delay_ns", "adc.bits", "adc.min", "adc.max",
		"adc.gain", "adc.offset_lsb", "adc.type", "adc.columns_per_adc", "adc.convert",
		"noise.read_lsb", "noise.event_lsb", "noise.fpn_gain", "noise.fpn_offset_lsb",
		"noise.fpn_synapse", "noise.fpn_saturation_lsb", "noise.programming", "noise.drift",
		"noise.stuck_min", "noise.stuck_max", "noise.enable", "chip.seed", "clock.event_mhz",
		"array.gmax_us", "array.mapping", "noise.drift_time_s", "noise.device",
		"integrator.baseline_delay_us", "integrator.knee_lsb", "adc.full_scale_bits",
	};
	const xb_key *k;

	xb_devices_register_keys();
	xb_devices_register_keys();   /* idempotent */
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		ck_assert_msg(xb_config_key(names[i]) != NULL, "key %s missing", names[i]);
	/* Choices as section 6 spells them. */
	k = xb_config_key("input.order");
	ck_assert_str_eq(k->choices, "descending|ascending|random|positive-first|negative-first|magnitude");
	ck_assert_str_eq(xb_config_key("input.encoding")->choices, "event|pulse|bitserial");
	ck_assert_str_eq(xb_config_key("integrator.model")->choices, "ordered|unordered|ideal");
	ck_assert_str_eq(xb_config_key("adc.convert")->choices, "mvm|bitplane");
	ck_assert_str_eq(xb_config_key("adc.type")->choices, "sar|ramp|flash");
	ck_assert_str_eq(xb_config_key("input.bit_order")->choices, "lsb|msb");
}
END_TEST

START_TEST(test_defaults_and_presets)
{
	xb_tile_params d = xb_tile_default_params(), p;
	xb_config *cfg;
	xb_err err;
	static const char *const presets[] = { "hx", "ideal", "pcm", "rram" };

	xb_devices_register_keys();
	/* The key defaults are the hx preset (the defaults function). */
	cfg = xb_config_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(xb_tile_params_from_config(cfg, &p, &err), XB_OK);
	ck_assert(same_params(&p, &d));
	/* hx numbers of FACTS.md. */
	ck_assert_int_eq(xb_tile_params_signed_rows(&p), 128);
	ck_assert_int_eq(p.array.cols, 256);
	ck_assert_int_eq(p.input.bits, 5);
	ck_assert_int_eq(p.array.weight_bits, 6);
	ck_assert_int_eq(p.adc.min, -128);
	ck_assert_int_eq(p.adc.max, 127);
	ck_assert(p.adc.gain == 0.002 && p.noise.read_lsb == 2.0 && p.input.event_mhz == 125.0);
	ck_assert(p.input.wait_cycles == 5 && p.integrator.tau_us == 60.0);
	ck_assert(p.input.order == XB_ORDER_DESCENDING);
	ck_assert(p.integrator.lo_lsb == -80 && p.integrator.hi_lsb == 80);
	ck_assert(p.integrator.baseline_delay_us == 5.0);
	xb_config_free(cfg);
	/* Every shipped preset loads and gives valid parameters. */
	for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
		cfg = xb_config_new();
		ck_assert_msg(xb_config_load_preset(cfg, presets[i]) == XB_OK, "%s: %s", presets[i],
			      xb_config_errmsg(cfg));
		ck_assert_msg(xb_tile_params_from_config(cfg, &p, &err) == XB_OK, "%s: %s", presets[i],
			      err.msg);
		if (!strcmp(presets[i], "hx"))
			ck_assert(same_params(&p, &d));
		if (!strcmp(presets[i], "pcm"))
			ck_assert(p.noise.device == XB_DEVICE_PCM && p.array.mapping == XB_MAPPING_DIFFERENTIAL);
		if (!strcmp(presets[i], "rram"))
			ck_assert(p.input.encoding == XB_ENC_BITSERIAL && p.adc.convert == XB_CONVERT_BITPLANE);
		/* No preset pins the ADC range: it follows adc.bits (rram: 6 bits, -32 .. 31,
		 * and its own 6-bit reference). */
		ck_assert_msg(!xb_config_is_set(cfg, "adc.min") && !xb_config_is_set(cfg, "adc.max"),
			      "%s pins adc.min/max", presets[i]);
		ck_assert_int_eq(p.adc.min, -(1 << (p.adc.bits - 1)));
		ck_assert_int_eq(p.adc.max, (1 << (p.adc.bits - 1)) - 1);
		if (!strcmp(presets[i], "rram"))
			ck_assert(p.adc.bits == 6 && p.adc.min == -32 && p.adc.full_scale_bits == 6);
		xb_config_free(cfg);
	}
}
END_TEST

/* ---- associativity limit ---------------------------------------------------------------------- */

START_TEST(test_assoc_no_saturation)
{
	/* No leak and limits far beyond any partial sum: every order accumulates the same
	 * integers exactly (|sums| < 2^24), so ordered == unordered code for code. */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 150 };
	int8_t w[128 * 256];
	uint8_t x[B * 128];
	int32_t yo[B * 256], yu[B * 256];

	lcg_state = 2385;
	p.integrator.tau_us = 0;
	p.integrator.lo_lsb = -1e6;
	p.integrator.hi_lsb = 1e6;
	xb_adc_set_bits(&p.adc, 16);
	p.adc.full_scale_bits = 16;
	p.noise.enable = 0;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, sizeof x, 31, 0.85);
	for (int o = XB_ORDER_DESCENDING; o <= XB_ORDER_MAGNITUDE; o++) {
		rig r;

		p.input.order = (xb_order)o;
		r = make_rig(&p, 0, w);
		run(&r, XB_MODEL_ORDERED, B, x, yo, 0);
		run(&r, XB_MODEL_UNORDERED, B, x, yu, 0);
		ck_assert_msg(memcmp(yo, yu, sizeof yo) == 0, "order %s differs", xb_order_name((xb_order)o));
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_fast_equals_reference)
{
	/* The register-blocked kernel and the reference loop (forced by asking for stats)
	 * compute the same operations: identical codes with leak and saturation. */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 130 };
	int8_t w[128 * 256];
	uint8_t x[B * 128];
	int32_t y1[B * 256], y2[B * 256];
	xb_mvm_stats st[B];
	xb_tile_batch b;
	rig r;

	lcg_state = 77;
	p.noise.read_lsb = 2;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, sizeof x, 31, 0.7);
	/* Rows without an event in whole blocks of 16 samples, which the kernel skips:
	 * rows 0 .. 39 in every sample, rows 64 .. 79 in samples 0 .. 15 and 64 .. 95. */
	for (size_t s = 0; s < B; s++)
		for (size_t r0 = 0; r0 < 128; r0++)
			if (r0 < 40 || (r0 >= 64 && r0 < 80 && (s < 16 || (s >= 64 && s < 96))))
				x[s * 128 + r0] = 0;
	for (int o = XB_ORDER_DESCENDING; o <= XB_ORDER_NEGATIVE_FIRST; o++) {
		if (o == XB_ORDER_RANDOM)
			continue;
		p.input.order = (xb_order)o;
		p.integrator.lo_lsb = o == XB_ORDER_ASCENDING ? -50 : -80;  /* asymmetric once */
		r = make_rig(&p, 3, w);
		run(&r, XB_MODEL_ORDERED, B, x, y1, 1000);
		xb_tile_batch_init(&b, r.t, B, x, y2);
		b.sample_base = 1000;
		b.stats = st;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
		ck_assert_msg(memcmp(y1, y2, sizeof y1) == 0, "order %s: kernel != reference",
			      xb_order_name((xb_order)o));
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_saturation_hand)
{
	/* Three events against a hard limit of 10 (gain 1, no leak), one column, weights
	 * rows 0, 1, 2 = +7, +7, -7, all inputs 1:
	 *   descending (rows 2, 1, 0): -7, 0, 7          -> code 7;
	 *   ascending  (rows 0, 1, 2): 7, 14 -> 10, 3    -> code 3;
	 *   unordered: sum 7                             -> code 7;
	 *   negative-first (row 2 first, then 1, 0)      -> code 7;
	 *   positive-first (rows 1, 0, then 2): 7, 10, 3 -> code 3. */
	xb_tile_params p = hand_params(3, 1);
	int8_t w[3] = { 7, 7, -7 };
	uint8_t x[3] = { 1, 1, 1 };
	int32_t y;
	const struct { xb_order o; xb_model m; int32_t code; } cases[] = {
		{ XB_ORDER_DESCENDING, XB_MODEL_ORDERED, 7 }, { XB_ORDER_ASCENDING, XB_MODEL_ORDERED, 3 },
		{ XB_ORDER_DESCENDING, XB_MODEL_UNORDERED, 7 },
		{ XB_ORDER_NEGATIVE_FIRST, XB_MODEL_ORDERED, 7 },
		{ XB_ORDER_POSITIVE_FIRST, XB_MODEL_ORDERED, 3 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rig r;

		p.input.order = cases[i].o;
		r = make_rig(&p, 0, w);
		run(&r, cases[i].m, 1, x, &y, 0);
		ck_assert_msg(y == cases[i].code, "case %zu: code %d, expected %d", i, y, cases[i].code);
		free_rig(&r);
	}
	/* num_sends = 2, descending: -7, 0, 7, then 0, 7, 14 -> 10: code 10;
	 * unordered: 2 * 7 = 14 -> 10. */
	p.input.order = XB_ORDER_DESCENDING;
	p.input.num_sends = 2;
	{
		rig r = make_rig(&p, 0, w);

		run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
		ck_assert_int_eq(y, 10);
		run(&r, XB_MODEL_UNORDERED, 1, x, &y, 0);
		ck_assert_int_eq(y, 10);
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_explicit_order)
{
	/* Explicit order 0, 1, 2 reproduces ascending (code 3, see test_saturation_hand);
	 * order 2, 0 (row 1 left out) gives -7, 0: code 0. */
	xb_tile_params p = hand_params(3, 1);
	int8_t w[3] = { 7, 7, -7 };
	uint8_t x[6] = { 1, 1, 1, 1, 1, 1 };
	int32_t y[2], ord[6] = { 0, 1, 2, 2, 0, -1 };
	xb_mvm_stats st[2];
	xb_tile_batch b;
	rig r = make_rig(&p, 0, w);

	xb_tile_batch_init(&b, r.t, 2, x, y);
	b.order = ord;
	b.ld_order = 3;
	b.stats = st;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_int_eq(y[0], 3);
	ck_assert_int_eq(y[1], 0);
	ck_assert_int_eq(st[0].events, 3);
	ck_assert_int_eq(st[1].events, 2);
	/* Integrator reached the limit in sample 0 only. */
	ck_assert_int_eq(st[0].sat_integrator, 1);
	ck_assert_int_eq(st[1].sat_integrator, 0);
	free_rig(&r);
}
END_TEST

/* ---- leak ------------------------------------------------------------------------------------------ */

START_TEST(test_leak_closed_form)
{
	/* Eight rows, all inputs 1, one non-zero weight (100) at row m, descending order:
	 * row m's event is m events before the last one, so the state at the last event is
	 * 100 exp(-m dt / tau) with dt = 5 cycles / 125 MHz = 40 ns, tau = 1 us; after the
	 * read delay of 100 ns it is further multiplied by exp(-0.1). */
	xb_tile_params p = hand_params(8, 1);
	uint8_t x[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	int8_t w[8];
	float tv[8], v0;
	xb_time_ps tt[8];
	int32_t tr_row[8], y;
	xb_tile_trace tr = { 0, 8, tt, tr_row, tv, 0, 0 };
	xb_tile_batch b;

	p.array.weight_bits = 7;
	p.integrator.tau_us = 1.0;
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	p.integrator.read_delay_ns = 100;
	p.integrator.baseline_delay_us = 5;
	p.adc.gain = 1.0;
	for (int m = 0; m < 8; m++) {
		rig r;
		double expect = 100.0 * exp(-m * 0.040 / 1.0);

		memset(w, 0, sizeof w);
		w[m] = 100;
		r = make_rig(&p, 0, w);
		xb_tile_batch_init(&b, r.t, 1, x, &y);
		b.traces = &tr;
		b.ntraces = 1;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
		ck_assert_int_eq(tr.events, 8);
		v0 = tv[7];
		ck_assert_msg(fabs(v0 - expect) < 1e-4 * expect, "m %d: %g vs %g", m, v0, expect);
		/* Code: floor(expect * exp(-0.1)). */
		ck_assert_int_eq(y, (int32_t)floor(expect * exp(-0.1)));
		/* Event times: baseline 5 us, then every 40 ns; rows descending. */
		ck_assert_uint_eq(tt[0], 5000000);
		ck_assert_uint_eq(tt[7], 5000000 + 7 * 40000);
		ck_assert_int_eq(tr_row[0], 7);
		ck_assert_uint_eq(tr.read_ps, 5000000 + 7 * 40000 + 100000);
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_interval_override)
{
	/* An explicit event interval of 400 ns with tau 1 us: two events, weight 100 on the
	 * first (row 1, descending) -> 100 exp(-0.4) = 67.03 at the last event, no read
	 * delay: code 67. */
	xb_tile_params p = hand_params(2, 1);
	uint8_t x[2] = { 1, 1 };
	int8_t w[2] = { 0, 100 };
	double iv = 400;
	int32_t y;
	xb_tile_batch b;
	rig r;

	p.array.weight_bits = 7;
	p.integrator.tau_us = 1.0;
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	p.integrator.read_delay_ns = 0;
	r = make_rig(&p, 0, w);
	xb_tile_batch_init(&b, r.t, 1, x, &y);
	b.interval_ns = &iv;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_int_eq(y, 67);
	free_rig(&r);
}
END_TEST

/* ---- the reference mock of BrainScaleS-2 -------------------------------------------------------- */

/* FACTS.md: per 128-row chunk y_k = clamp(floor(gain * num_sends * (x_k . W_k)), -128, 127),
 * then y = clamp(sum_k y_k, -128, 127) (noise off). */
static void mock(const int8_t *w, const uint8_t *x, size_t rows, size_t cols, size_t batch,
		 double gain, int sends, int32_t *y)
{
	for (size_t s = 0; s < batch; s++)
		for (size_t c = 0; c < cols; c++) {
			long sum = 0;

			for (size_t k0 = 0; k0 < rows; k0 += 128) {
				long dot = 0;
				double v;

				for (size_t r = k0; r < rows && r < k0 + 128; r++)
					dot += (long)x[s * rows + r] * w[r * cols + c];
				v = floor(gain * sends * (double)dot);
				sum += v < -128 ? -128 : v > 127 ? 127 : (long)v;
			}
			y[s * cols + c] = sum < -128 ? -128 : sum > 127 ? 127 : (int32_t)sum;
		}
}

START_TEST(test_mock_exact)
{
	/* hx, unordered, integrator limits beyond the ADC range, noise off: equal to the
	 * mock code for code, including the split of 300 rows over 3 row tiles (128, 128,
	 * 44) and 300 columns over 2 column tiles, and the saturating digital sum. */
	xb_tile_params p = xb_tile_default_params();
	enum { R = 300, C = 300, B = 70 };
	int8_t *w = malloc(R * C);
	uint8_t *x = malloc(B * R);
	int32_t *y = malloc(B * C * sizeof *y), *ym = malloc(B * C * sizeof *ym);
	xb_matrix *m;
	xb_matrix_work *ws;
	xb_tile_batch b;
	xb_err err;
	size_t ni, nj, clipped = 0;
	xb_tile_counters cnt = { 0 };

	lcg_state = 4242;
	p.integrator.model = XB_MODEL_UNORDERED;
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	p.noise.enable = 0;
	fill_weights(w, R * C, 63);
	fill_inputs(x, B * R, 31, 0.85);
	/* Columns 0 .. 99 get positive weights (row chunks and sums saturate at 127),
	 * columns 100 .. 149 negative ones (-128). */
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < 150; c++)
			w[r * C + c] = (int8_t)(c < 100 ? abs(w[r * C + c]) : -abs(w[r * C + c]));
	m = xb_matrix_new(&p, 0, 0, R, C, &err);
	ck_assert_msg(m != NULL, "%s", err.msg);
	xb_matrix_grid(m, &ni, &nj);
	ck_assert_uint_eq(ni, 3);
	ck_assert_uint_eq(nj, 2);
	ck_assert_int_eq(xb_matrix_program(m, w, C), XB_OK);
	ws = xb_matrix_work_new(m, B, &err);
	ck_assert_ptr_nonnull(ws);
	memset(&b, 0, sizeof b);
	b.model = XB_MODEL_UNORDERED;
	b.batch = B;
	b.x = x;
	b.ldx = b.n_in = R;
	b.y = y;
	b.ldy = b.n_out = C;
	b.counters = &cnt;
	ck_assert_msg(xb_matrix_mvm(m, &b, ws) == XB_OK, "%s", xb_matrix_errmsg(m));
	mock(w, x, R, C, B, 0.002, 1, ym);
	for (size_t i = 0; i < B * C; i++) {
		ck_assert_msg(y[i] == ym[i], "sample %zu column %zu: %d vs mock %d", i / C, i % C, y[i],
			      ym[i]);
		clipped += ym[i] == 127 || ym[i] == -128;
	}
	ck_assert_msg(clipped > 0, "the test should reach the saturating sum");
	ck_assert_uint_eq(cnt.mvms, (uint64_t)B * 6);
	xb_matrix_work_free(ws);
	xb_matrix_free(m);
	free(w);
	free(x);
	free(y);
	free(ym);
}
END_TEST

START_TEST(test_readout_steps)
{
	/* The read-out tries single precision first and must still give the double
	 * formula's codes at the steps: gain 0.002 is 0.0020000000949949 in float, so
	 * float(0.002) v for v = -500 k rounds below -k for some k (k = 3: -3.0000002),
	 * and a floor there would give -k - 1.  Inputs 20 on every row, column c's weights
	 * summing to s_c = -25 k + e (e = -1, 0, 1 by column): v = 20 s_c = -500 k + 20 e,
	 * and floor(0.002 v) = -k + floor(0.04 e) computed here in double; k = 1 .. 85,
	 * hx unordered, noise off, integrator limits beyond the ADC range. */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 3 };
	int8_t w[128 * 256];
	uint8_t x[B * 128];
	int32_t y[B * 256];
	rig r;

	p.noise.enable = 0;
	p.integrator.lo_lsb = -1e6;
	p.integrator.hi_lsb = 1e6;
	memset(x, 20, sizeof x);
	memset(w, 0, sizeof w);
	for (int c = 0; c < 255; c++) {
		int k = c / 3 + 1, e = c % 3 - 1, sum = -25 * k + e;

		for (int row = 0; row < 128 && sum; row++) {
			int q = sum < -63 ? -63 : sum > 63 ? 63 : sum;

			w[row * 256 + c] = (int8_t)q;
			sum -= q;
		}
	}
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_UNORDERED, B, x, y, 0);
	for (int i = 0; i < B; i++)
		for (int c = 0; c < 255; c++) {
			int k = c / 3 + 1, e = c % 3 - 1;
			double v = 20.0 * (-25 * k + e);
			int want = (int)floor(0.002 * v);

			want = want < -128 ? -128 : want;
			ck_assert_msg(y[i * 256 + c] == want, "column %d (v = %g): %d, want %d", c, v,
				      y[i * 256 + c], want);
		}
	free_rig(&r);
}
END_TEST

START_TEST(test_mock_noise_statistics)
{
	/* The mock with noise, y = clamp(floor(m + n)), n ~ N(0, 2^2), is matched in
	 * distribution: inputs 10 on rows 0..4, weights 63 -> dot 3150, m = 0.002 * 3150 =
	 * 6.3 in every column.  floor(m + n) has mean m - 1/2 (the error of that is below
	 * e^-(2 pi sigma)^2 / 2) and variance 4 + 1/12 (Sheppard's correction).  64 samples
	 * x 256 columns = 16384 draws: the mean's standard error is 0.0158; allow 5 of
	 * them. */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 64 };
	int8_t *w = calloc(128 * 256, 1);
	uint8_t *x = calloc(B * 128, 1);
	int32_t *y = malloc(B * 256 * sizeof *y);
	double sum = 0, sum2 = 0, n = B * 256.0, mean, var;
	rig r;

	p.integrator.model = XB_MODEL_UNORDERED;
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	for (int k = 0; k < 5; k++)
		for (int c = 0; c < 256; c++)
			w[k * 256 + c] = 63;
	for (int s = 0; s < B; s++)
		for (int k = 0; k < 5; k++)
			x[s * 128 + k] = 10;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_UNORDERED, B, x, y, 5000);
	for (size_t i = 0; i < B * 256; i++) {
		sum += y[i];
		sum2 += (double)y[i] * y[i];
	}
	mean = sum / n;
	var = sum2 / n - mean * mean;
	ck_assert_msg(fabs(mean - (6.3 - 0.5)) < 5 * sqrt((4 + 1.0 / 12) / n), "mean %g", mean);
	/* Variance: relative standard error sqrt(2 / n) = 1.1 %; allow 5 %. */
	ck_assert_msg(fabs(var / (4 + 1.0 / 12) - 1) < 0.05, "variance %g", var);
	free_rig(&r);
	free(w);
	free(x);
	free(y);
}
END_TEST

/* ---- dense encodings --------------------------------------------------------------------------- */

START_TEST(test_bitserial_msb_lsb)
{
	/* Two rows, weights +6 and -3, inputs x0 = 2 (bit 1), x1 = 1 (bit 0); gain 1,
	 * limits +-10, analog shift-add:
	 *   plane 0 brings 1 * (-3) = -3, plane 1 brings 2 * (1 * 6) = +12;
	 *   LSB first: -3, then 9          -> code 9;
	 *   MSB first: 12 -> 10, then 7    -> code 7;
	 *   unordered: 9 -> code 9.
	 * Digital shift-add (convert = bitplane), weight +12 instead of +6: plane 0 codes
	 * -3, plane 1 integrates 12 -> 10: y = -3 + 2 * 10 = 17 in either order. */
	xb_tile_params p = hand_params(2, 1);
	int8_t w[2] = { 6, -3 };
	uint8_t x[2] = { 2, 1 };
	int32_t y;
	xb_mvm_stats st;
	xb_tile_batch b;
	rig r;

	p.input.encoding = XB_ENC_BITSERIAL;
	p.input.bit_order = XB_BITS_LSB_FIRST;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 9);
	run(&r, XB_MODEL_UNORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 9);
	free_rig(&r);
	p.input.bit_order = XB_BITS_MSB_FIRST;
	r = make_rig(&p, 0, w);
	xb_tile_batch_init(&b, r.t, 1, x, &y);
	b.stats = &st;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_int_eq(y, 7);
	ck_assert_int_eq(st.events, 2);          /* two non-empty planes */
	ck_assert_int_eq(st.sat_integrator, 1);
	ck_assert_int_eq(st.active_cells, 4);    /* 1 row x 2 devices x 1 column, per event */
	free_rig(&r);

	w[0] = 12;
	p.adc.convert = XB_CONVERT_BITPLANE;
	for (int o = 0; o < 2; o++) {
		p.input.bit_order = o ? XB_BITS_MSB_FIRST : XB_BITS_LSB_FIRST;
		r = make_rig(&p, 0, w);
		xb_tile_batch_init(&b, r.t, 1, x, &y);
		b.stats = &st;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
		ck_assert_int_eq(y, 17);
		ck_assert_int_eq(st.conversions, 2);   /* one per plane */
		run(&r, XB_MODEL_UNORDERED, 1, x, &y, 0);
		ck_assert_int_eq(y, 17);
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_pulse)
{
	/* Pulse encoding: one event of charge 3 * 2 + 1 * (-1) = 5 (gain 1); two sends with
	 * limits +-10: 5, then 10 -> code 10 (ordered), 10 (unordered). One send: 5. */
	xb_tile_params p = hand_params(2, 1);
	int8_t w[2] = { 2, -1 };
	uint8_t x[2] = { 3, 1 };
	int32_t y;
	rig r;

	p.input.encoding = XB_ENC_PULSE;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 5);
	free_rig(&r);
	p.input.num_sends = 3;   /* 5, 10, 15 -> 10 */
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 10);
	run(&r, XB_MODEL_UNORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 10);
	free_rig(&r);
}
END_TEST

START_TEST(test_smooth_saturation)
{
	/* Smooth saturation, knee 4 LSB, limits +-10 (gain 1): the linear range is |v| <= 6.
	 * One event of +5 stays linear: code 5.  One event of +8: S(8) = 6 + 4 tanh(2 / 4)
	 * = 7.8485 -> code 7.  Two events +8 then -3 (descending rows 1, 0): 7.8485 - 3 =
	 * 4.8485 -> code 4; unordered: S(5) = 5 -> code 5. */
	xb_tile_params p = hand_params(2, 1);
	int8_t w[2] = { 0, 5 };
	uint8_t x[2] = { 1, 1 };
	int32_t y;
	rig r;

	p.integrator.saturation = XB_SAT_SMOOTH;
	p.integrator.knee_lsb = 4;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 5);
	free_rig(&r);
	w[1] = 8;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, (int)floor(6 + 4 * tanh(0.5)));
	free_rig(&r);
	w[0] = -3;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, (int)floor(6 + 4 * tanh(0.5) - 3));
	run(&r, XB_MODEL_UNORDERED, 1, x, &y, 0);
	ck_assert_int_eq(y, 5);
	free_rig(&r);
}
END_TEST

/* ---- noise ------------------------------------------------------------------------------------------ */

START_TEST(test_fixed_pattern)
{
	/* Fixed pattern: drawn once per (seed, chip, tile); the same on a second tile object
	 * with the same keys, different on another tile index, and persistent across reads. */
	xb_tile_params p = xb_tile_default_params();
	double g1[256], g2[256], g3[256], o1[256], lo1[256];
	int8_t w[128 * 256];
	uint8_t x[2 * 128];
	int32_t y[2 * 256];
	rig a, b, c;
	double mean = 0, var = 0;
	int differ = 0;

	lcg_state = 99;
	p.noise.read_lsb = 0;
	p.noise.fpn_gain = 0.1;
	p.noise.fpn_offset_lsb = 3;
	p.noise.fpn_saturation_lsb = 5;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, 128, 31, 0.85);
	memcpy(x + 128, x, 128);
	a = make_rig(&p, 5, w);
	b = make_rig(&p, 5, w);
	c = make_rig(&p, 6, w);
	xb_tile_get_columns(a.t, g1, o1, lo1, NULL, NULL, NULL);
	xb_tile_get_columns(b.t, g2, NULL, NULL, NULL, NULL, NULL);
	xb_tile_get_columns(c.t, g3, NULL, NULL, NULL, NULL, NULL);
	ck_assert_int_eq(memcmp(g1, g2, sizeof g1), 0);
	for (int i = 0; i < 256; i++) {
		differ += g1[i] != g3[i];
		mean += g1[i] / 0.002 / 256;
	}
	ck_assert_int_eq(differ, 256);
	for (int i = 0; i < 256; i++)
		var += (g1[i] / 0.002 - mean) * (g1[i] / 0.002 - mean) / 255;
	/* a_c = 1 + N(0, 0.01): 256 columns, mean within 5 standard errors (0.00625 * 5),
	 * std within 25 % (relative standard error of a std from 256 draws: 4.4 %). */
	ck_assert_msg(fabs(mean - 1) < 0.0313, "gain mean %g", mean);
	ck_assert_msg(fabs(sqrt(var) / 0.1 - 1) < 0.25, "gain std %g", sqrt(var));
	/* Two reads of the same input (samples 0 and 1) with no temporal noise: equal. */
	run(&a, XB_MODEL_ORDERED, 2, x, y, 0);
	ck_assert_int_eq(memcmp(y, y + 256, 256 * sizeof *y), 0);
	free_rig(&a);
	free_rig(&b);
	free_rig(&c);
}
END_TEST

static void run_threads(const xb_tile_params *p, int threads, xb_model model, size_t batch,
			const int8_t *w, const uint8_t *x, int32_t *y)
{
	rig r;

#ifdef _OPENMP
	omp_set_num_threads(threads);
#else
	(void)threads;
#endif
	r = make_rig(p, 1, w);
	run(&r, model, batch, x, y, 123456789);
	free_rig(&r);
}

START_TEST(test_threads)
{
	/* Results do not depend on the thread count: noise on (read, event, fixed pattern),
	 * random order, ordered and unordered, 300 samples (5 chunks). */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 300 };
	int8_t w[128 * 256];
	uint8_t *x = malloc(B * 128);
	int32_t *y1 = malloc(B * 256 * sizeof *y1), *y2 = malloc(B * 256 * sizeof *y2);

	lcg_state = 5;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, B * 128, 31, 0.85);
	p.noise.event_lsb = 0.5;
	p.noise.fpn_gain = 0.05;
	p.noise.fpn_synapse = 0.02;
	p.input.order = XB_ORDER_RANDOM;
	for (int m = 0; m < 2; m++) {
		run_threads(&p, 1, (xb_model)m, B, w, x, y1);
		run_threads(&p, 2, (xb_model)m, B, w, x, y2);
		ck_assert_msg(memcmp(y1, y2, B * 256 * sizeof *y1) == 0, "model %d", m);
	}
	/* The fast kernel too (descending, no event noise). */
	p.input.order = XB_ORDER_DESCENDING;
	p.noise.event_lsb = 0;
	run_threads(&p, 1, XB_MODEL_ORDERED, B, w, x, y1);
	run_threads(&p, 2, XB_MODEL_ORDERED, B, w, x, y2);
	ck_assert_int_eq(memcmp(y1, y2, B * 256 * sizeof *y1), 0);
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	free(x);
	free(y1);
	free(y2);
}
END_TEST

START_TEST(test_batch_split)
{
	/* The sgemm models hand several chunks to one sgemm call, as many as the thread
	 * count allows: results must not depend on how the batch is cut.  With per-synapse
	 * gain variation the effective weights are not integers, so any change in the
	 * rounding of the products would show.  One batch of 300 (sgemm blocks of 256 +
	 * 44 on one thread) against 300 batches of one sample (sample_base keeps the noise
	 * addresses), unordered with read noise and ideal (y_ideal as floats). */
	xb_tile_params p = xb_tile_default_params();
	enum { B = 300 };
	int8_t w[128 * 256];
	uint8_t *x = malloc(B * 128);
	int32_t *y1 = malloc(B * 256 * sizeof *y1), *y2 = malloc(B * 256 * sizeof *y2);
	float *f1 = malloc(B * 256 * sizeof *f1), *f2 = malloc(B * 256 * sizeof *f2);
	rig r;
	xb_tile_batch b;

	lcg_state = 17;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, B * 128, 31, 0.85);
	p.noise.fpn_synapse = 0.02;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_UNORDERED, B, x, y1, 1000);
	for (size_t i = 0; i < B; i++)
		run(&r, XB_MODEL_UNORDERED, 1, x + i * 128, y2 + i * 256, 1000 + i);
	ck_assert_int_eq(memcmp(y1, y2, B * 256 * sizeof *y1), 0);
	xb_tile_batch_init(&b, r.t, B, x, NULL);
	b.model = XB_MODEL_IDEAL;
	b.y_ideal = f1;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	for (size_t i = 0; i < B; i++) {
		xb_tile_batch_init(&b, r.t, 1, x + i * 128, NULL);
		b.model = XB_MODEL_IDEAL;
		b.y_ideal = f2 + i * 256;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	}
	ck_assert_int_eq(memcmp(f1, f2, B * 256 * sizeof *f1), 0);
	free_rig(&r);
	free(x);
	free(y1);
	free(y2);
	free(f1);
	free(f2);
}
END_TEST

START_TEST(test_random_order_differs)
{
	/* Random order: a different permutation per sample and send, reproducible. With
	 * saturation (limits +-20 LSB) two samples of the same input usually differ. */
	xb_tile_params p = xb_tile_default_params();
	int8_t w[128 * 256];
	uint8_t x[8 * 128];
	int32_t y[8 * 256], y2[8 * 256];
	int differ = 0;
	rig r;

	lcg_state = 8;
	fill_weights(w, sizeof w, 63);
	fill_inputs(x, 128, 31, 1.0);
	for (int s = 1; s < 8; s++)
		memcpy(x + s * 128, x, 128);
	p.noise.enable = 0;
	p.integrator.lo_lsb = -20;
	p.integrator.hi_lsb = 20;
	p.input.order = XB_ORDER_RANDOM;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 8, x, y, 0);
	run(&r, XB_MODEL_ORDERED, 8, x, y2, 0);
	ck_assert_int_eq(memcmp(y, y2, sizeof y), 0);
	for (int c = 0; c < 256; c++)
		differ += y[c] != y[256 + c];
	ck_assert_msg(differ > 10, "only %d columns differ between two random orders", differ);
	free_rig(&r);
}
END_TEST

START_TEST(test_column_overrides)
{
	/* Overrides in calibration units replace the fixed pattern: gain 0.004 codes per
	 * unit x*w and offset 2.5 in column 0; column 1 keeps its values (NaN).  One row
	 * with x = 10, w = 50 -> dot 500: column 0 code floor(0.004 * 500 + 2.5) = 4;
	 * column 1 code floor(0.002 * 500) = 1. */
	xb_tile_params p = xb_tile_default_params();
	double gain[2] = { 0.004, NAN }, off[2] = { 2.5, NAN }, back[2], lo[2] = { -50, NAN };
	xb_tile_columns ov = { gain, off, lo, NULL, NULL, NULL };
	int8_t w[2 * 2] = { 50, 50, 0, 0 };
	uint8_t x[2] = { 10, 0 };
	int32_t y[2];
	rig r;

	p.array.rows = 4;
	p.array.cols = 2;
	p.noise.enable = 0;
	p.integrator.tau_us = 0;   /* no leak: 0.002 * 500 is exactly 1 */
	r = make_rig(&p, 0, w);
	ck_assert_int_eq(xb_tile_set_columns(r.t, &ov), XB_OK);
	xb_tile_get_columns(r.t, back, NULL, NULL, NULL, NULL, NULL);
	ck_assert(fabs(back[0] - 0.004) < 1e-15 && fabs(back[1] - 0.002) < 1e-15);
	xb_tile_get_columns(r.t, NULL, back, NULL, NULL, NULL, NULL);
	ck_assert(back[0] == 2.5 && back[1] == 0);
	/* The saturation code round-trips: -50 (column 0), -80 (column 1: a 1, o 0). */
	xb_tile_get_columns(r.t, NULL, NULL, back, NULL, NULL, NULL);
	ck_assert(fabs(back[0] + 50) < 1e-9 && fabs(back[1] + 80) < 1e-9);
	run(&r, XB_MODEL_ORDERED, 1, x, y, 0);
	ck_assert_int_eq(y[0], 4);
	ck_assert_int_eq(y[1], 1);
	/* A gain of 0 is rejected, the tile unchanged. */
	gain[0] = 0;
	ck_assert_int_eq(xb_tile_set_columns(r.t, &ov), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "column 0"));
	free_rig(&r);
}
END_TEST

START_TEST(test_devices)
{
	/* Device effects on differential PCM-like cells (weight 100 of 127): stuck-at-min on
	 * every device makes every weight 0; drift with nu = 0.05 for one day (generic
	 * model, no spread) scales every weight by ((86400 + 20) / 20)^-0.05 = 0.6583. */
	xb_tile_params p = hand_params(4, 8);
	int8_t w[4 * 8];
	float we[4 * 8];
	rig r;

	p.array.weight_bits = 7;
	memset(w, 100, sizeof w);
	p.noise.enable = 1;
	p.noise.read_lsb = 0;
	p.noise.stuck_min = 1.0;
	r = make_rig(&p, 0, w);
	xb_tile_get_weights(r.t, we);
	for (int i = 0; i < 32; i++)
		ck_assert(we[i] == 0.0f);
	free_rig(&r);
	p.noise.stuck_min = 0;
	p.noise.drift = 0.05;
	p.noise.drift_time_s = 86400;
	r = make_rig(&p, 0, w);
	xb_tile_get_weights(r.t, we);
	for (int i = 0; i < 32; i++)
		ck_assert_msg(fabs(we[i] - 100 * pow(86420.0 / 20, -0.05)) < 1e-3, "%g", we[i]);
	free_rig(&r);
	/* PCM programming noise (the pcm preset's model): the weights move, reproducibly. */
	p.noise.drift = 0;
	p.noise.device = XB_DEVICE_PCM;
	p.noise.programming = 1;
	{
		float we2[32];
		int moved = 0;

		r = make_rig(&p, 0, w);
		xb_tile_get_weights(r.t, we);
		free_rig(&r);
		r = make_rig(&p, 0, w);
		xb_tile_get_weights(r.t, we2);
		ck_assert_int_eq(memcmp(we, we2, sizeof we), 0);
		for (int i = 0; i < 32; i++)
			moved += we[i] != 100.0f;
		ck_assert_int_eq(moved, 32);
		free_rig(&r);
	}
}
END_TEST

START_TEST(test_counters_energy)
{
	/* Counters: 2 MVMs with 3 and 0 non-zero inputs on a 4-column tile: 3 events, 8
	 * conversions, 3 * 2 * 4 = 24 devices driven; energy 3 * 1 + 24 * 0.01 + 8 * 2 pJ. */
	xb_tile_params p = hand_params(3, 4);
	int8_t w[12] = { 0 };
	uint8_t x[6] = { 1, 2, 3, 0, 0, 0 };
	int32_t y[8];
	xb_tile_counters cnt = { 0 };
	xb_tile_batch b;
	rig r = make_rig(&p, 0, w);

	xb_tile_batch_init(&b, r.t, 2, x, y);
	b.counters = &cnt;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_uint_eq(cnt.mvms, 2);
	ck_assert_uint_eq(cnt.events, 3);
	ck_assert_uint_eq(cnt.conversions, 8);
	ck_assert_uint_eq(cnt.active_cells, 24);
	ck_assert(fabs(xb_tile_energy_pj(r.t, &cnt) - (3 + 0.24 + 16)) < 1e-9);
	/* Duration of the first MVM: baseline 5 us = 625 cycles, 3 events x 5 cycles,
	 * read delay 40 ns = 5 cycles, ramp ADC of 16 bits: 65536 cycles. */
	ck_assert_uint_eq(xb_tile_mvm_cycles(r.t, 3, 1), 625 + 15 + 5 + 65536);
	free_rig(&r);
	/* Conversion times of the ADC types (issue 5): SAR bits + 1 cycles (one sample cycle,
	 * one per bit), ramp 2^bits, flash 1; 4 columns per ADC convert one after another. */
	p.adc.bits = 8;
	p.adc.type = XB_ADC_SAR;
	ck_assert_uint_eq(xb_adc_conversion_cycles(&p.adc), 9);
	p.adc.type = XB_ADC_RAMP;
	ck_assert_uint_eq(xb_adc_conversion_cycles(&p.adc), 256);
	p.adc.type = XB_ADC_FLASH;
	ck_assert_uint_eq(xb_adc_conversion_cycles(&p.adc), 1);
	p.adc.type = XB_ADC_SAR;
	p.adc.min = -128;
	p.adc.max = 127;
	p.adc.columns_per_adc = 4;
	r = make_rig(&p, 0, w);
	ck_assert_uint_eq(xb_tile_mvm_cycles(r.t, 3, 1), 625 + 15 + 5 + 9 * 4);
	free_rig(&r);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------------------ */

START_TEST(test_zero_inputs)
{
	/* No non-zero input: no event, codes floor(o_c) = 0 with noise off, ideal 0. */
	xb_tile_params p = xb_tile_default_params();
	int8_t w[128 * 256];
	uint8_t x[128] = { 0 };
	int32_t y[256];
	float yf[256];
	xb_mvm_stats st;
	xb_tile_batch b;
	rig r;

	lcg_state = 1;
	p.noise.enable = 0;
	fill_weights(w, sizeof w, 63);
	r = make_rig(&p, 0, w);
	for (int m = 0; m < 3; m++) {
		xb_tile_batch_init(&b, r.t, 1, x, y);
		b.model = (xb_model)m;
		b.stats = &st;
		b.y_ideal = yf;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
		for (int c = 0; c < 256; c++) {
			ck_assert_int_eq(y[c], 0);
			if (m == XB_MODEL_IDEAL)   /* y_ideal is the ideal model's output only */
				ck_assert(yf[c] == 0.0f);
		}
		ck_assert_int_eq(st.events, 0);
	}
	free_rig(&r);
}
END_TEST

START_TEST(test_all_saturating)
{
	/* Every input 31 and weight 63: each event brings 0.002 * 1953 = 3.9 LSB; the
	 * integrator stops at hi = 80 (ordered: leak after the last clamp is 1 event
	 * interval... the read delay of 40 ns: 80 exp(-0.04 / 60) = 79.95 -> code 79);
	 * unordered: 128 * 3.9 -> 80 -> code 80; with limits +-1000 the ADC clips at 127.
	 * Negative weights: -80 exp(-0.04/60) = -79.95 -> floor -80. */
	xb_tile_params p = xb_tile_default_params();
	int8_t *w = malloc(128 * 256);
	uint8_t x[128];
	int32_t y[256];
	xb_mvm_stats st;
	xb_tile_batch b;
	rig r;

	p.noise.enable = 0;
	memset(x, 31, sizeof x);
	for (int i = 0; i < 128 * 256; i++)
		w[i] = (i % 256) < 128 ? 63 : -63;
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, y, 0);
	ck_assert_int_eq(y[0], 79);
	ck_assert_int_eq(y[255], -80);
	run(&r, XB_MODEL_UNORDERED, 1, x, y, 0);
	ck_assert_int_eq(y[0], 80);
	ck_assert_int_eq(y[255], -80);
	xb_tile_batch_init(&b, r.t, 1, x, y);
	b.stats = &st;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_int_eq(st.sat_integrator, 256);
	ck_assert_int_eq(st.sat_adc, 0);
	free_rig(&r);
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	r = make_rig(&p, 0, w);
	xb_tile_batch_init(&b, r.t, 1, x, y);
	b.stats = &st;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
	ck_assert_int_eq(y[0], 127);
	ck_assert_int_eq(y[255], -128);
	ck_assert_int_eq(st.sat_adc, 256);
	free_rig(&r);
	free(w);
}
END_TEST

START_TEST(test_tiny_tiles)
{
	/* 1 x 1 differential tile: x = 3, w = -5, gain 1 -> -15 -> clamp -10 (one event).
	 * 2 x 1 rowpair tile (one signed row): the same. */
	xb_tile_params p = hand_params(1, 1);
	int8_t w = -5;
	uint8_t x = 3;
	int32_t y;
	rig r = make_rig(&p, 0, &w);

	run(&r, XB_MODEL_ORDERED, 1, &x, &y, 0);
	ck_assert_int_eq(y, -10);
	free_rig(&r);
	p.array.rows = 2;
	p.array.mapping = XB_MAPPING_ROWPAIR;
	r = make_rig(&p, 0, &w);
	ck_assert_uint_eq(xb_tile_signed_rows(r.t), 1);
	run(&r, XB_MODEL_ORDERED, 1, &x, &y, 0);
	ck_assert_int_eq(y, -10);
	free_rig(&r);
}
END_TEST

START_TEST(test_products_exact)
{
	/* The ideal model's product at the extremes of the operands, on both of its paths
	 * (tile.c: the integer product when 2 xmax wmax <= 32767, else sgemm): all inputs
	 * 255 (8 bits), weights +-wmax in runs of three, so neighbouring pairs of products
	 * reach 2 x 255 x wmax.  6-bit weights: 2 x 255 x 63 = 32130 (integer path, just
	 * below int16 saturation); 7 bits: 2 x 255 x 127 = 64770 (sgemm).  Expected: the
	 * double dot product (exact: at most 256 x 255 x 127 < 2^24), times gain x
	 * num_sends, rounded to float as the tile rounds y_ideal; the codes its floor. */
	enum { R = 256, C = 48, B = 3 };
	int8_t *w = malloc(R * C);
	uint8_t *x = malloc(B * R);
	int32_t *y = malloc(B * C * sizeof *y);
	float *yf = malloc(B * C * sizeof *yf);

	for (int bits = 6; bits <= 7; bits++) {
		xb_tile_params p = xb_tile_default_params();
		int wmax = (1 << bits) - 1;
		xb_tile_batch b;
		rig r;

		p.array.rows = R;
		p.array.cols = C;
		p.array.mapping = XB_MAPPING_DIFFERENTIAL;
		p.array.weight_bits = bits;
		p.input.bits = 8;
		p.input.num_sends = 2;
		p.adc.gain = 1.0 / 4096;
		p.noise.enable = 0;
		for (size_t i = 0; i < R * C; i++)
			w[i] = (int8_t)((i / 3 + i / C) % 2 ? -wmax : wmax);
		for (size_t i = 0; i < B * R; i++)
			x[i] = i < R ? 255 : (uint8_t)(i % 256);
		r = make_rig(&p, 0, w);
		xb_tile_batch_init(&b, r.t, B, x, y);
		b.model = XB_MODEL_IDEAL;
		b.y_ideal = yf;
		ck_assert_msg(xb_tile_mvm(r.t, &b, r.w) == XB_OK, "%s", xb_tile_errmsg(r.t));
		for (size_t s = 0; s < B; s++)
			for (size_t c = 0; c < C; c++) {
				double dot = 0, g = 2.0 / 4096;

				for (size_t k = 0; k < R; k++)
					dot += (double)x[s * R + k] * w[k * C + c];
				ck_assert_msg(yf[s * C + c] == (float)(g * dot),
					      "%d-bit weights, sample %zu column %zu: %.9g, expected %.9g",
					      bits, s, c, yf[s * C + c], g * dot);
				ck_assert_int_eq(y[s * C + c], (int32_t)floor(g * dot));
			}
		free_rig(&r);
	}
	free(w);
	free(x);
	free(y);
	free(yf);
}
END_TEST

START_TEST(test_max_tile)
{
	/* The largest tile allowed, 1024 x 1024 differential: all inputs 1, all weights 1,
	 * gain 1/1024, no leak, limits beyond: code floor(1024 / 1024) = 1. */
	xb_tile_params p = xb_tile_default_params();
	size_t n = XB_TILE_MAX_ROWS * (size_t)XB_TILE_MAX_COLS;
	int8_t *w = malloc(n);
	uint8_t *x = malloc(XB_TILE_MAX_ROWS);
	int32_t *y = malloc(XB_TILE_MAX_COLS * sizeof *y);
	rig r;

	p.array.rows = XB_TILE_MAX_ROWS;
	p.array.cols = XB_TILE_MAX_COLS;
	p.array.mapping = XB_MAPPING_DIFFERENTIAL;
	p.integrator.tau_us = 0;
	p.adc.gain = 1.0 / 1024;
	p.noise.enable = 0;
	memset(w, 1, n);
	memset(x, 1, XB_TILE_MAX_ROWS);
	r = make_rig(&p, 0, w);
	run(&r, XB_MODEL_ORDERED, 1, x, y, 0);
	for (int c = 0; c < XB_TILE_MAX_COLS; c++)
		ck_assert_int_eq(y[c], 1);
	free_rig(&r);
	/* One more row or column is a configuration error. */
	p.array.rows = XB_TILE_MAX_ROWS + 1;
	ck_assert_int_eq(xb_tile_params_check(&p, NULL), XB_ECONFIG);
	free(w);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_range_errors)
{
	xb_tile_params p = xb_tile_default_params();
	int8_t w[128 * 256] = { 0 };
	uint8_t x[2 * 128] = { 0 };
	int32_t y[2 * 256], ord[2] = { 200, -1 };
	xb_tile_batch b;
	xb_err err;
	rig r;

	p.noise.enable = 0;
	r = make_rig(&p, 0, NULL);
	/* Not programmed yet. */
	xb_tile_batch_init(&b, r.t, 1, x, y);
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_ESTATE);
	/* Weight 64 at row 1, column 2 (range -63 .. 63). */
	w[1 * 256 + 2] = 64;
	ck_assert_int_eq(xb_tile_program(r.t, w, 256, 128, 256), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "row 1, column 2"));
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "-63 .. 63"));
	w[1 * 256 + 2] = -64;
	ck_assert_int_eq(xb_tile_program(r.t, w, 256, 128, 256), XB_ERANGE);
	w[1 * 256 + 2] = 0;
	ck_assert_int_eq(xb_tile_program(r.t, w, 256, 129, 256), XB_EINVAL);
	ck_assert_int_eq(xb_tile_program(r.t, w, 256, 128, 256), XB_OK);
	/* Input 32 in sample 1, row 5 (range 0 .. 31). */
	x[128 + 5] = 32;
	xb_tile_batch_init(&b, r.t, 2, x, y);
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "sample 1"));
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "row 5"));
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "0 .. 31"));
	x[128 + 5] = 0;
	/* Explicit order naming row 200 of 128. */
	b.order = ord;
	b.ld_order = 2;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_tile_errmsg(r.t), "row 200"));
	b.order = NULL;
	/* Sizes that do not fit. */
	b.n_in = 129;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_EINVAL);
	b.n_in = 128;
	b.n_out = 257;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_EINVAL);
	b.n_out = 256;
	b.model = (xb_model)7;
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_EINVAL);
	b.model = XB_MODEL_ORDERED;
	{
		double iv[2] = { 40, 0 };

		b.interval_ns = iv;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_ERANGE);
		b.interval_ns = NULL;
	}
	ck_assert_int_eq(xb_tile_mvm(r.t, &b, NULL), XB_EINVAL);
	/* A workspace of another shape. */
	{
		xb_tile_params q = hand_params(2, 2);
		xb_tile *t2 = xb_tile_new(&q, 0, 0, &err);
		xb_tile_work *w2 = xb_tile_work_new(t2, &err);

		ck_assert_int_eq(xb_tile_mvm(r.t, &b, w2), XB_EINVAL);
		xb_tile_work_free(w2);
		xb_tile_free(t2);
	}
	free_rig(&r);
}
END_TEST

START_TEST(test_param_errors)
{
	xb_tile_params p = xb_tile_default_params(), q;
	xb_err err;
	xb_config *cfg;

	q = p;
	q.array.rows = 255;   /* odd with rowpair */
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "tile.rows"));
	ck_assert_ptr_null(xb_tile_new(&q, 0, 0, &err));
	ck_assert_int_eq(err.code, XB_ECONFIG);
	q = p;
	q.integrator.lo_lsb = 5;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "integrator.lo_lsb"));
	q = p;
	q.adc.min = -200;     /* 328 codes > 2^8 */
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "adc.min"));
	q = p;
	q.adc.convert = XB_CONVERT_BITPLANE;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "bitserial"));
	q = p;
	q.noise.stuck_min = 0.7;
	q.noise.stuck_max = 0.4;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "noise.stuck"));
	q = p;
	q.adc.columns_per_adc = 300;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	q = p;
	q.adc.full_scale_bits = 0;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "adc.full_scale_bits"));
	q.adc.full_scale_bits = 17;
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	q = p;
	xb_adc_set_bits(&q.adc, 17);   /* out of range: only bits is set */
	ck_assert_int_eq(q.adc.min, p.adc.min);
	ck_assert_int_eq(xb_tile_params_check(&q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "adc.bits"));
	/* From a configuration: the combination check names the keys. */
	xb_devices_register_keys();
	cfg = xb_config_new();
	ck_assert_int_eq(xb_config_set(cfg, "adc.convert", "bitplane", "-s"), XB_OK);
	ck_assert_int_eq(xb_tile_params_from_config(cfg, &q, &err), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "adc.convert"));
	/* A value out of a key's range is refused by the configuration itself. */
	ck_assert_int_ne(xb_config_set(cfg, "input.bits", "9", "-s"), XB_OK);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_matrix_errors)
{
	xb_tile_params p = hand_params(4, 4);
	int8_t w[6 * 5] = { 0 };
	uint8_t x[6] = { 0 };
	int32_t y[5];
	xb_tile_trace tr = { 0 };
	xb_matrix *m;
	xb_matrix_work *ws;
	xb_tile_batch b;
	xb_err err;

	ck_assert_ptr_null(xb_matrix_new(&p, 0, 0, 0, 5, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	m = xb_matrix_new(&p, 0, 0, 6, 5, &err);
	ck_assert_ptr_nonnull(m);
	w[5 * 5 + 4] = 16;   /* range -15 .. 15 */
	ck_assert_int_eq(xb_matrix_program(m, w, 5), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_matrix_errmsg(m), "row 5, column 4"));
	w[5 * 5 + 4] = 1;
	ck_assert_int_eq(xb_matrix_program(m, w, 5), XB_OK);
	ws = xb_matrix_work_new(m, 1, &err);
	memset(&b, 0, sizeof b);
	b.batch = 1;
	b.x = x;
	b.ldx = b.n_in = 6;
	b.y = y;
	b.ldy = b.n_out = 5;
	b.traces = &tr;
	b.ntraces = 1;
	ck_assert_int_eq(xb_matrix_mvm(m, &b, ws), XB_EUNSUPPORTED);
	b.traces = NULL;
	b.ntraces = 0;
	b.batch = 2;
	ck_assert_int_eq(xb_matrix_mvm(m, &b, ws), XB_EINVAL);
	b.batch = 1;
	x[5] = 3;   /* row 5 sits in the second row tile: 3 * 1 -> code 3 in column 4 */
	ck_assert_int_eq(xb_matrix_mvm(m, &b, ws), XB_OK);
	ck_assert_int_eq(y[4], 3);
	ck_assert_int_eq(y[0], 0);
	x[5] = 4;   /* out of range of 2-bit inputs, reported through the tile */
	ck_assert_int_eq(xb_matrix_mvm(m, &b, ws), XB_ERANGE);
	/* Column block 0 runs first; its second row tile holds row 5. */
	ck_assert_ptr_nonnull(strstr(xb_matrix_errmsg(m), "tile (1, 0)"));
	xb_matrix_work_free(ws);
	xb_matrix_free(m);
}
END_TEST

START_TEST(test_events_schedule)
{
	/* The schedule query agrees with what an MVM runs: descending rows 2, 0 when row 1's
	 * input is 0; with two sends 2, 0, 2, 0; a random order equals the trace's rows;
	 * bitserial MSB first: planes 1 then 0 -> -2, -1 (x = 3 has both bits). */
	xb_tile_params p = hand_params(3, 1);
	int8_t w[3] = { 1, 1, 1 };
	uint8_t x[3] = { 1, 0, 2 }, bad[3] = { 4, 0, 0 };
	int32_t rows[8], trow[8], y;
	float tv[8];
	xb_time_ps tt[8];
	xb_tile_trace tr = { 0, 8, tt, trow, tv, 0, 0 };
	xb_tile_batch b;
	rig r = make_rig(&p, 0, w);

	ck_assert_uint_eq(xb_tile_events(r.t, x, 3, 0, rows, 8), 2);
	ck_assert(rows[0] == 2 && rows[1] == 0);
	ck_assert_uint_eq(xb_tile_events(r.t, bad, 3, 0, rows, 8), SIZE_MAX);
	ck_assert_uint_eq(xb_tile_event_time(r.t, 2), 5000000 + 2 * 40000);
	free_rig(&r);
	p.input.num_sends = 2;
	r = make_rig(&p, 0, w);
	ck_assert_uint_eq(xb_tile_events(r.t, x, 3, 0, rows, 1), 4);   /* capacity 1: count only */
	ck_assert_int_eq(rows[0], 2);
	free_rig(&r);
	p.input.order = XB_ORDER_RANDOM;
	x[1] = 3;
	r = make_rig(&p, 0, w);
	for (uint64_t smp = 0; smp < 5; smp++) {
		ck_assert_uint_eq(xb_tile_events(r.t, x, 3, 100 + smp, rows, 8), 6);
		xb_tile_batch_init(&b, r.t, 1, x, &y);
		b.sample_base = 100 + smp;
		b.traces = &tr;
		b.ntraces = 1;
		ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
		ck_assert_uint_eq(tr.events, 6);
		ck_assert_int_eq(memcmp(rows, trow, 6 * sizeof *rows), 0);
	}
	free_rig(&r);
	p.input.num_sends = 1;
	p.input.encoding = XB_ENC_BITSERIAL;
	p.input.bit_order = XB_BITS_MSB_FIRST;
	r = make_rig(&p, 0, w);
	ck_assert_uint_eq(xb_tile_events(r.t, x, 3, 0, rows, 8), 2);
	ck_assert(rows[0] == -2 && rows[1] == -1);
	free_rig(&r);
}
END_TEST

START_TEST(test_column_tau)
{
	/* Per-column leak from overrides (the reference loop): eight rows, inputs 1, weight
	 * 100 on row 3 in both columns, descending: row 3's event is 3 intervals of 40 ns
	 * before the last one.  Column 0 with tau 1 us: 100 exp(-0.12) = 88.69 -> code 88;
	 * column 1 with tau 0 (no leak): code 100.  Column 1 alone with tau 1 us as well
	 * would give 88: both columns equal then. */
	xb_tile_params p = hand_params(8, 2);
	uint8_t x[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	int8_t w[16] = { 0 };
	double tau[2] = { 1.0, 0.0 };
	xb_tile_columns ov = { NULL, NULL, NULL, NULL, tau, NULL };
	int32_t y[2];
	rig r;

	p.array.weight_bits = 7;
	p.integrator.lo_lsb = -1000;
	p.integrator.hi_lsb = 1000;
	p.integrator.read_delay_ns = 0;
	w[3 * 2] = w[3 * 2 + 1] = 100;
	r = make_rig(&p, 0, w);
	ck_assert_int_eq(xb_tile_set_columns(r.t, &ov), XB_OK);
	run(&r, XB_MODEL_ORDERED, 1, x, y, 0);
	ck_assert_int_eq(y[0], 88);
	ck_assert_int_eq(y[1], 100);
	tau[1] = 1.0;
	ck_assert_int_eq(xb_tile_set_columns(r.t, &ov), XB_OK);
	run(&r, XB_MODEL_ORDERED, 1, x, y, 0);
	ck_assert_int_eq(y[0], 88);
	ck_assert_int_eq(y[1], 88);
	tau[0] = -1;
	ck_assert_int_eq(xb_tile_set_columns(r.t, &ov), XB_ERANGE);
	free_rig(&r);
}
END_TEST

/* ---- ADC resolution over a fixed full scale ------------------------------------------------ */

START_TEST(test_adc_bits_codes)
{
	/* Hand-derived codes.  4 differential rows, 3 columns, gain 2 reference LSB per unit
	 * of x w, no leak, limits +-1000 (never reached), reference 8 bits.  Inputs 3 2 1 0:
	 *   column 0, weights 15 9 -4 7:   2 (45 + 18 - 4)      =  118 reference LSB
	 *   column 1, weights -15 -9 2 0:  2 (-45 - 18 + 2)     = -122
	 *   column 2, weights 15 15 15 15: 2 (45 + 30 + 15)     =  180
	 * Code = clamp(floor(v 2^(bits - 8)), -2^(bits-1), 2^(bits-1) - 1):
	 *   8 bits: 118, -122, 180 -> 127 (one clip);
	 *   6 bits: floor(29.5) = 29, floor(-30.5) = -31, floor(45) = 45 -> 31 (one clip);
	 *   4 bits: floor(7.375) = 7, floor(-7.625) = -8, floor(11.25) = 11 -> 7 (one clip).
	 * The ideal model gives the unquantised value in the same codes: 118 / 16 = 7.375
	 * etc. at 4 bits. */
	static const int bits[3] = { 8, 6, 4 };
	static const int32_t want[3][3] = { { 118, -122, 127 }, { 29, -31, 31 }, { 7, -8, 7 } };
	static const float want_ideal4[3] = { 7.375f, -7.625f, 11.25f };
	int8_t w[4 * 3] = { 15, -15, 15, 9, -9, 15, -4, 2, 15, 7, 0, 15 };
	uint8_t x[4] = { 3, 2, 1, 0 };

	for (int k = 0; k < 3; k++)
		for (int m = 0; m < 2; m++) {
			xb_tile_params p = hand_params(4, 3);
			xb_tile_counters cnt = { 0 };
			xb_tile_batch b;
			int32_t y[3];
			float yf[3];
			rig r;

			p.adc.full_scale_bits = 8;
			p.adc.gain = 2.0;
			p.integrator.lo_lsb = -1000;
			p.integrator.hi_lsb = 1000;
			xb_adc_set_bits(&p.adc, bits[k]);
			ck_assert(xb_adc_code_scale(&p.adc) == ldexp(1.0, bits[k] - 8));
			r = make_rig(&p, 0, w);
			xb_tile_batch_init(&b, r.t, 1, x, y);
			b.model = m ? XB_MODEL_UNORDERED : XB_MODEL_ORDERED;
			b.counters = &cnt;
			ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
			for (int c = 0; c < 3; c++)
				ck_assert_msg(y[c] == want[k][c], "%d bits, model %d, column %d: %d, want %d",
					      bits[k], m, c, y[c], want[k][c]);
			ck_assert_uint_eq(cnt.sat_adc, 1);
			if (bits[k] == 4) {
				b.model = XB_MODEL_IDEAL;
				b.y = NULL;
				b.y_ideal = yf;
				ck_assert_int_eq(xb_tile_mvm(r.t, &b, r.w), XB_OK);
				for (int c = 0; c < 3; c++)
					ck_assert(yf[c] == want_ideal4[c]);
			}
			free_rig(&r);
		}
}
END_TEST

/* Floor division (rounds towards minus infinity). */
static int32_t floor_div(int32_t a, int32_t m)
{
	return a >= 0 ? a / m : -((-a + m - 1) / m);
}

START_TEST(test_adc_bits_quantization_only)
{
	/* The hx tile with its read noise (2 reference LSB) and fixed pattern: with fewer
	 * bits only the quantization changes.  The code of a B-bit ADC is
	 * clamp(floor(2^(B-8) s)) of the same analog value s (same seeds, same draws), and
	 * floor(s / m) = floor(floor(s) / m) for an integer m, and clamping commutes with it
	 * at the range ends (floor(-128 / m) = -2^(B-1), floor(127 / m) = 2^(B-1) - 1), so
	 * y_B = floor(y_8 / 2^(8 - B)) exactly for every output. */
	enum { B = 70 };
	xb_tile_params p = xb_tile_default_params();
	int8_t *w = malloc(128 * 256);
	uint8_t *x = malloc(B * 128);
	int32_t *y8 = malloc(B * 256 * sizeof *y8), *yb = malloc(B * 256 * sizeof *yb);

	ck_assert(w && x && y8 && yb);
	lcg_state = 4711;
	p.noise.fpn_gain = 0.05;
	p.noise.fpn_offset_lsb = 1.5;
	fill_weights(w, 128 * 256, 63);
	fill_inputs(x, B * 128, 31, 0.85);
	for (int model = XB_MODEL_ORDERED; model <= XB_MODEL_UNORDERED; model++) {
		rig r = make_rig(&p, 1, w);

		run(&r, (xb_model)model, B, x, y8, 99);
		free_rig(&r);
		for (int bits = 1; bits < 8; bits++) {
			xb_tile_params q = p;
			size_t bad = 0;

			xb_adc_set_bits(&q.adc, bits);
			r = make_rig(&q, 1, w);
			run(&r, (xb_model)model, B, x, yb, 99);
			for (size_t i = 0; i < (size_t)B * 256; i++)
				bad += yb[i] != floor_div(y8[i], 1 << (8 - bits));
			ck_assert_msg(bad == 0, "model %d, %d bits: %zu codes differ", model, bits, bad);
			free_rig(&r);
		}
	}
	free(w);
	free(x);
	free(y8);
	free(yb);
}
END_TEST

START_TEST(test_adc_bits_sweep)
{
	/* What a sweep over adc.bits does: the hx preset plus one key.  Every resolution
	 * builds a valid tile whose range is the signed range of its bits; a range set
	 * explicitly (-s) stays pinned and is checked against the bits. */
	xb_devices_register_keys();
	for (int bits = 1; bits <= 16; bits++) {
		xb_config *cfg = xb_config_new();
		xb_tile_params p;
		xb_tile *t;
		xb_err err;
		char v[8];

		ck_assert_ptr_nonnull(cfg);
		ck_assert_int_eq(xb_config_load_preset(cfg, "hx"), XB_OK);
		snprintf(v, sizeof v, "%d", bits);
		ck_assert_int_eq(xb_config_set(cfg, "adc.bits", v, "sweep point"), XB_OK);
		ck_assert_msg(xb_tile_params_from_config(cfg, &p, &err) == XB_OK, "%d bits: %s", bits,
			      err.msg);
		ck_assert_int_eq(p.adc.min, -(1 << (bits - 1)));
		ck_assert_int_eq(p.adc.max, (1 << (bits - 1)) - 1);
		ck_assert_int_eq(p.adc.full_scale_bits, 8);
		t = xb_tile_new(&p, 0, 0, &err);
		ck_assert_msg(t != NULL, "%d bits: %s", bits, err.msg);
		xb_tile_free(t);
		/* Pinned by the user: -128 .. 127 needs 8 bits. */
		ck_assert_int_eq(xb_config_set_arg(cfg, "adc.min=-128"), XB_OK);
		ck_assert_int_eq(xb_config_set_arg(cfg, "adc.max=127"), XB_OK);
		ck_assert_int_eq(xb_tile_params_from_config(cfg, &p, &err),
				 bits >= 8 ? XB_OK : XB_ECONFIG);
		if (bits < 8)
			ck_assert_ptr_nonnull(strstr(err.msg, "adc.min = -128"));
		xb_config_free(cfg);
	}
}
END_TEST

static Suite *tile_suite(void)
{
	Suite *s = suite_create("tile");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_keys);
	tcase_add_test(core, test_defaults_and_presets);
	tcase_add_test(core, test_assoc_no_saturation);
	tcase_add_test(core, test_fast_equals_reference);
	tcase_add_test(core, test_saturation_hand);
	tcase_add_test(core, test_explicit_order);
	tcase_add_test(core, test_leak_closed_form);
	tcase_add_test(core, test_interval_override);
	tcase_add_test(core, test_mock_exact);
	tcase_add_test(core, test_products_exact);
	tcase_add_test(core, test_readout_steps);
	tcase_add_test(core, test_mock_noise_statistics);
	tcase_add_test(core, test_bitserial_msb_lsb);
	tcase_add_test(core, test_pulse);
	tcase_add_test(core, test_smooth_saturation);
	tcase_add_test(core, test_fixed_pattern);
	tcase_add_test(core, test_threads);
	tcase_add_test(core, test_batch_split);
	tcase_add_test(core, test_random_order_differs);
	tcase_add_test(core, test_column_overrides);
	tcase_add_test(core, test_column_tau);
	tcase_add_test(core, test_adc_bits_codes);
	tcase_add_test(core, test_adc_bits_quantization_only);
	tcase_add_test(core, test_adc_bits_sweep);
	tcase_add_test(core, test_devices);
	tcase_add_test(core, test_counters_energy);
	tcase_add_test(core, test_events_schedule);
	tcase_add_test(limits, test_zero_inputs);
	tcase_add_test(limits, test_all_saturating);
	tcase_add_test(limits, test_tiny_tiles);
	tcase_add_test(limits, test_max_tile);
	tcase_add_test(limits, test_range_errors);
	tcase_add_test(limits, test_param_errors);
	tcase_add_test(limits, test_matrix_errors);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
