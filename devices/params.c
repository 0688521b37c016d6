/* params.c - parameters of the tile's parts: defaults (the hx preset), configuration keys, checks.
 * The key tables here are the user interface of DESIGN.md section 6: names stay stable.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_devices.h"

#include <math.h>
#include <string.h>

/* ---- defaults: BrainScaleS-2 (hx), from its public software stack ---------------------- */

xb_array_params xb_array_default_params(void)
{
	xb_array_params p = {
		.rows = 256, .cols = 256, .weight_bits = 6, .mapping = XB_MAPPING_ROWPAIR,
		.gmax_us = 25.0,
	};

	return p;
}

xb_encoder_params xb_encoder_default_params(void)
{
	xb_encoder_params p = {
		.bits = 5, .encoding = XB_ENC_EVENT, .order = XB_ORDER_DESCENDING, .wait_cycles = 5,
		.num_sends = 1, .bit_order = XB_BITS_MSB_FIRST, .event_mhz = 125.0,
	};

	return p;
}

xb_integrator_params xb_integrator_default_params(void)
{
	xb_integrator_params p = {
		.model = XB_MODEL_ORDERED, .tau_us = 60.0, .saturation = XB_SAT_HARD,
		.lo_lsb = -80.0, .hi_lsb = 80.0, .knee_lsb = 10.0, .read_delay_ns = 40.0,
		.baseline_delay_us = 5.0,
	};

	return p;
}

xb_adc_params xb_adc_default_params(void)
{
	xb_adc_params p = {
		.bits = 8, .min = -128, .max = 127, .gain = 0.002, .offset_lsb = 0.0,
		.type = XB_ADC_RAMP, .columns_per_adc = 1, .convert = XB_CONVERT_MVM,
		.full_scale_bits = 8,
	};

	return p;
}

void xb_adc_set_bits(xb_adc_params *p, int bits)
{
	p->bits = bits;
	if (bits >= 1 && bits <= 16) {
		p->min = -(1 << (bits - 1));
		p->max = (1 << (bits - 1)) - 1;
	}
}

uint64_t xb_adc_conversion_cycles(const xb_adc_params *p)
{
	switch (p->type) {
	case XB_ADC_SAR: return (uint64_t)p->bits + 1;
	case XB_ADC_RAMP: return UINT64_C(1) << p->bits;
	default: return 1;
	}
}

double xb_adc_code_scale(const xb_adc_params *p)
{
	return ldexp(1.0, p->bits - p->full_scale_bits);
}

xb_energy_params xb_energy_default_params(void)
{
	xb_energy_params p = { .event_pj = 1.0, .cell_pj = 0.01, .conversion_pj = 2.0 };

	return p;
}

xb_tile_params xb_tile_default_params(void)
{
	xb_tile_params p = {
		.array = xb_array_default_params(),
		.input = xb_encoder_default_params(),
		.integrator = xb_integrator_default_params(),
		.adc = xb_adc_default_params(),
		.energy = xb_energy_default_params(),
		.noise = xb_noise_default_params(),
		.chip_seed = 1,
		.tiles_per_chip = 2,
	};

	return p;
}

/* ---- keys (defaults as text must equal the functions above) ----------------------------- */

#define ORDERS "descending|ascending|random|positive-first|negative-first|magnitude"

static const xb_key device_keys[] = {
	{ "tile.rows", XB_KEY_INT, "rows", 1, XB_TILE_MAX_ROWS, NULL, "256",
	  "physical rows of a tile (rowpair mapping: two per signed row)" },
	{ "tile.cols", XB_KEY_INT, "columns", 1, XB_TILE_MAX_COLS, NULL, "256",
	  "columns of a tile (one integrator and ADC channel each)" },
	{ "input.bits", XB_KEY_INT, "bit", 1, 8, NULL, "5",
	  "input code width bx: codes 0 .. 2^bx - 1" },
	{ "input.encoding", XB_KEY_ENUM, "", 0, 0, "event|pulse|bitserial", "event",
	  "event: one event per non-zero row; pulse: all rows in one event; bitserial: one per bit plane" },
	{ "input.order", XB_KEY_ENUM, "", 0, 0, ORDERS, "descending",
	  "row order of the events of an MVM (event encoding)" },
	{ "input.wait_cycles", XB_KEY_INT, "cycles", 1, 1e6, NULL, "5",
	  "event clock cycles between two events" },
	{ "input.num_sends", XB_KEY_INT, "", 1, 64, NULL, "1",
	  "repeats of the event sequence of an MVM" },
	{ "input.bit_order", XB_KEY_ENUM, "", 0, 0, "lsb|msb", "msb",
	  "bitserial: least or most significant bit plane first" },
	{ "array.weight_bits", XB_KEY_INT, "bit", 1, 7, NULL, "6",
	  "weight magnitude bits bw: signed weights -(2^bw - 1) .. 2^bw - 1" },
	{ "array.mapping", XB_KEY_ENUM, "", 0, 0, "rowpair|differential", "rowpair",
	  "signed weights as excitatory/inhibitory row pairs or as differential device pairs" },
	{ "array.gmax_us", XB_KEY_DOUBLE, "uS", 1e-6, 1e6, NULL, "25",
	  "device conductance of the largest weight (device noise models)" },
	{ "integrator.model", XB_KEY_ENUM, "", 0, 0, "ordered|unordered|ideal", "ordered",
	  "ordered: event by event with leak and saturation; unordered: one saturation of the sum; ideal" },
	{ "integrator.tau_us", XB_KEY_DOUBLE, "us", 0, 1e12, NULL, "60",
	  "leak time constant of the integrator (0 = no leak)" },
	{ "integrator.saturation", XB_KEY_ENUM, "", 0, 0, "hard|smooth", "hard",
	  "hard clamp to lo/hi, or a clamp with tanh-rounded corners (knee_lsb)" },
	{ "integrator.lo_lsb", XB_KEY_DOUBLE, "LSB", -1e9, 0, NULL, "-80",
	  "lower saturation limit of the integrator, relative to the baseline (reference LSB)" },
	{ "integrator.hi_lsb", XB_KEY_DOUBLE, "LSB", 0, 1e9, NULL, "80",
	  "upper saturation limit of the integrator, relative to the baseline (reference LSB)" },
	{ "integrator.knee_lsb", XB_KEY_DOUBLE, "LSB", 1e-6, 1e9, NULL, "10",
	  "smooth saturation: width of the tanh knee below each limit (reference LSB)" },
	{ "integrator.read_delay_ns", XB_KEY_DOUBLE, "ns", 0, 1e9, NULL, "40",
	  "time from the last event to the conversion (the integrator still leaks)" },
	{ "integrator.baseline_delay_us", XB_KEY_DOUBLE, "us", 0, 1e9, NULL, "5",
	  "time from reset to the baseline read, which starts the event sequence" },
	{ "adc.bits", XB_KEY_INT, "bit", 1, 16, NULL, "8",
	  "ADC resolution over a fixed full scale: one code = 2^(full_scale_bits - bits) reference "
	  "LSB; adc.min/max follow it unless set" },
	{ "adc.full_scale_bits", XB_KEY_INT, "bit", 1, 16, NULL, "8",
	  "reference resolution: the unit of adc.gain and of every *_lsb key is the LSB of an ADC "
	  "of this many bits over the same full scale (changing adc.bits changes only quantization)" },
	{ "adc.min", XB_KEY_INT, "LSB", -65536, 65536, NULL, "-128",
	  "smallest output code, in codes of adc.bits (relative to the baseline); "
	  "unset: -2^(adc.bits - 1)" },
	{ "adc.max", XB_KEY_INT, "LSB", -65536, 65536, NULL, "127",
	  "largest output code, in codes of adc.bits (relative to the baseline); "
	  "unset: 2^(adc.bits - 1) - 1" },
	{ "adc.gain", XB_KEY_DOUBLE, "LSB", 1e-12, 1e6, NULL, "0.002",
	  "global gain g: reference LSB (adc.full_scale_bits) per unit of input x weight" },
	{ "adc.offset_lsb", XB_KEY_DOUBLE, "LSB", -1e6, 1e6, NULL, "0",
	  "global offset added before rounding (reference LSB)" },
	{ "adc.type", XB_KEY_ENUM, "", 0, 0, "sar|ramp|flash", "ramp",
	  "conversion time: sar bits cycles, ramp 2^bits cycles, flash 1 cycle" },
	{ "adc.columns_per_adc", XB_KEY_INT, "columns", 1, XB_TILE_MAX_COLS, NULL, "1",
	  "columns multiplexed onto one ADC (converted one after another)" },
	{ "adc.convert", XB_KEY_ENUM, "", 0, 0, "mvm|bitplane", "mvm",
	  "one conversion per MVM (analog shift-add) or per bit plane (digital shift-add)" },
	{ "energy.event_pj", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "1",
	  "energy of one event in the row drivers" },
	{ "energy.cell_pj", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "0.01",
	  "energy of one device driven by an event" },
	{ "energy.conversion_pj", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "2",
	  "energy of one ADC conversion" },
	{ "chip.seed", XB_KEY_INT, "", 0, 9007199254740991.0, NULL, "1",
	  "seed of the chip: its fixed pattern, faults and temporal noise streams" },
	{ "chip.tiles", XB_KEY_INT, "tiles", 1, 65536, NULL, "2",
	  "tiles per chip" },
	{ "clock.event_mhz", XB_KEY_DOUBLE, "MHz", 1e-6, 1e6, NULL, "125",
	  "event clock of the row drivers" },
};

void xb_devices_register_keys(void)
{
	xb_noise_register_keys();
	xb_config_register(device_keys, sizeof device_keys / sizeof *device_keys);
}

const char *xb_model_name(xb_model m)
{
	static const char *const names[] = { "ordered", "unordered", "ideal" };

	return (unsigned)m < 3 ? names[m] : "?";
}

const char *xb_order_name(xb_order o)
{
	static const char *const names[] = { "descending", "ascending", "random", "positive-first",
					     "negative-first", "magnitude" };

	return (unsigned)o < 6 ? names[o] : "?";
}

int xb_tile_params_signed_rows(const xb_tile_params *p)
{
	return p->array.mapping == XB_MAPPING_ROWPAIR ? p->array.rows / 2 : p->array.rows;
}

void xb_tile_output_range(const xb_tile_params *p, int32_t *lo, int32_t *hi)
{
	int32_t scale = 1;

	if (p->input.encoding == XB_ENC_BITSERIAL && p->adc.convert == XB_CONVERT_BITPLANE)
		scale = (1 << p->input.bits) - 1;
	*lo = p->adc.min * scale;
	*hi = p->adc.max * scale;
}

xb_status xb_tile_params_check(const xb_tile_params *p, xb_err *err)
{
	const xb_array_params *a = &p->array;
	const xb_encoder_params *in = &p->input;
	const xb_integrator_params *ig = &p->integrator;
	const xb_adc_params *adc = &p->adc;

	if (a->rows < 1 || a->rows > XB_TILE_MAX_ROWS)
		return xb_raise(err, XB_ECONFIG, "tile.rows = %d: expected 1 .. %d", a->rows,
				XB_TILE_MAX_ROWS);
	if (a->cols < 1 || a->cols > XB_TILE_MAX_COLS)
		return xb_raise(err, XB_ECONFIG, "tile.cols = %d: expected 1 .. %d", a->cols,
				XB_TILE_MAX_COLS);
	if (a->mapping == XB_MAPPING_ROWPAIR && a->rows % 2)
		return xb_raise(err, XB_ECONFIG,
				"tile.rows = %d: array.mapping = rowpair needs an even number of rows "
				"(two physical rows per signed row)", a->rows);
	if (a->weight_bits < 1 || a->weight_bits > 7)
		return xb_raise(err, XB_ECONFIG, "array.weight_bits = %d: expected 1 .. 7 (int8 weights)",
				a->weight_bits);
	if (!(a->gmax_us > 0))
		return xb_raise(err, XB_ECONFIG, "array.gmax_us = %g: expected > 0", a->gmax_us);
	if (in->bits < 1 || in->bits > 8)
		return xb_raise(err, XB_ECONFIG, "input.bits = %d: expected 1 .. 8 (uint8 codes)",
				in->bits);
	if (in->wait_cycles < 1)
		return xb_raise(err, XB_ECONFIG, "input.wait_cycles = %d: expected >= 1",
				in->wait_cycles);
	if (in->num_sends < 1 || in->num_sends > 64)
		return xb_raise(err, XB_ECONFIG, "input.num_sends = %d: expected 1 .. 64",
				in->num_sends);
	if (!(in->event_mhz > 0))
		return xb_raise(err, XB_ECONFIG, "clock.event_mhz = %g: expected > 0", in->event_mhz);
	if (!(ig->tau_us >= 0))
		return xb_raise(err, XB_ECONFIG, "integrator.tau_us = %g: expected >= 0 (0 = no leak)",
				ig->tau_us);
	if (!(ig->lo_lsb < 0) || !(ig->hi_lsb > 0))
		return xb_raise(err, XB_ECONFIG,
				"integrator.lo_lsb = %g, integrator.hi_lsb = %g: expected lo < 0 < hi "
				"(limits relative to the baseline)", ig->lo_lsb, ig->hi_lsb);
	if (!(ig->knee_lsb > 0))
		return xb_raise(err, XB_ECONFIG, "integrator.knee_lsb = %g: expected > 0", ig->knee_lsb);
	if (!(ig->read_delay_ns >= 0) || !(ig->baseline_delay_us >= 0))
		return xb_raise(err, XB_ECONFIG,
				"integrator.read_delay_ns = %g, integrator.baseline_delay_us = %g: "
				"expected >= 0", ig->read_delay_ns, ig->baseline_delay_us);
	if (adc->bits < 1 || adc->bits > 16)
		return xb_raise(err, XB_ECONFIG, "adc.bits = %d: expected 1 .. 16", adc->bits);
	if (adc->full_scale_bits < 1 || adc->full_scale_bits > 16)
		return xb_raise(err, XB_ECONFIG, "adc.full_scale_bits = %d: expected 1 .. 16",
				adc->full_scale_bits);
	if (adc->min >= adc->max || (double)adc->max - adc->min + 1 > ldexp(1.0, adc->bits))
		return xb_raise(err, XB_ECONFIG,
				"adc.min = %d, adc.max = %d: expected min < max and at most 2^adc.bits = "
				"%d codes (leave adc.min and adc.max unset to follow adc.bits)",
				adc->min, adc->max, 1 << adc->bits);
	if (!(adc->gain > 0))
		return xb_raise(err, XB_ECONFIG, "adc.gain = %g: expected > 0", adc->gain);
	if (adc->columns_per_adc < 1 || adc->columns_per_adc > a->cols)
		return xb_raise(err, XB_ECONFIG, "adc.columns_per_adc = %d: expected 1 .. tile.cols = %d",
				adc->columns_per_adc, a->cols);
	if (adc->convert == XB_CONVERT_BITPLANE && in->encoding != XB_ENC_BITSERIAL)
		return xb_raise(err, XB_ECONFIG,
				"adc.convert = bitplane needs input.encoding = bitserial (got %s)",
				in->encoding == XB_ENC_EVENT ? "event" : "pulse");
	if (!(p->energy.event_pj >= 0) || !(p->energy.cell_pj >= 0) || !(p->energy.conversion_pj >= 0))
		return xb_raise(err, XB_ECONFIG, "energy.*_pj: expected values >= 0");
	return xb_noise_params_check(&p->noise, err);
}

xb_status xb_tile_params_from_config(const xb_config *cfg, xb_tile_params *p, xb_err *err)
{
	xb_tile_params q = xb_tile_default_params();
	xb_status st;

	xb_devices_register_keys();
	if (!xb_config_key("tile.rows"))
		return xb_raise(err, XB_EINTERNAL, "the device keys are not registered");
	q.array.rows = (int)xb_config_int(cfg, "tile.rows");
	q.array.cols = (int)xb_config_int(cfg, "tile.cols");
	q.array.weight_bits = (int)xb_config_int(cfg, "array.weight_bits");
	q.array.mapping = (xb_mapping)xb_config_enum(cfg, "array.mapping");
	q.array.gmax_us = xb_config_double(cfg, "array.gmax_us");
	q.input.bits = (int)xb_config_int(cfg, "input.bits");
	q.input.encoding = (xb_encoding)xb_config_enum(cfg, "input.encoding");
	q.input.order = (xb_order)xb_config_enum(cfg, "input.order");
	q.input.wait_cycles = (int)xb_config_int(cfg, "input.wait_cycles");
	q.input.num_sends = (int)xb_config_int(cfg, "input.num_sends");
	q.input.bit_order = xb_config_enum(cfg, "input.bit_order") == 1 ? XB_BITS_MSB_FIRST
									 : XB_BITS_LSB_FIRST;
	q.input.event_mhz = xb_config_double(cfg, "clock.event_mhz");
	q.integrator.model = (xb_model)xb_config_enum(cfg, "integrator.model");
	q.integrator.tau_us = xb_config_double(cfg, "integrator.tau_us");
	q.integrator.saturation = (xb_saturation)xb_config_enum(cfg, "integrator.saturation");
	q.integrator.lo_lsb = xb_config_double(cfg, "integrator.lo_lsb");
	q.integrator.hi_lsb = xb_config_double(cfg, "integrator.hi_lsb");
	q.integrator.knee_lsb = xb_config_double(cfg, "integrator.knee_lsb");
	q.integrator.read_delay_ns = xb_config_double(cfg, "integrator.read_delay_ns");
	q.integrator.baseline_delay_us = xb_config_double(cfg, "integrator.baseline_delay_us");
	/* adc.min/max follow adc.bits (its signed range) unless set explicitly. */
	xb_adc_set_bits(&q.adc, (int)xb_config_int(cfg, "adc.bits"));
	q.adc.full_scale_bits = (int)xb_config_int(cfg, "adc.full_scale_bits");
	if (xb_config_is_set(cfg, "adc.min"))
		q.adc.min = (int)xb_config_int(cfg, "adc.min");
	if (xb_config_is_set(cfg, "adc.max"))
		q.adc.max = (int)xb_config_int(cfg, "adc.max");
	q.adc.gain = xb_config_double(cfg, "adc.gain");
	q.adc.offset_lsb = xb_config_double(cfg, "adc.offset_lsb");
	q.adc.type = (xb_adc_type)xb_config_enum(cfg, "adc.type");
	q.adc.columns_per_adc = (int)xb_config_int(cfg, "adc.columns_per_adc");
	q.adc.convert = (xb_convert)xb_config_enum(cfg, "adc.convert");
	q.energy.event_pj = xb_config_double(cfg, "energy.event_pj");
	q.energy.cell_pj = xb_config_double(cfg, "energy.cell_pj");
	q.energy.conversion_pj = xb_config_double(cfg, "energy.conversion_pj");
	q.chip_seed = (uint64_t)xb_config_int(cfg, "chip.seed");
	q.tiles_per_chip = (int)xb_config_int(cfg, "chip.tiles");
	st = xb_noise_params_from_config(cfg, &q.noise, err);
	if (st != XB_OK)
		return st;
	st = xb_tile_params_check(&q, err);
	if (st != XB_OK)
		return st;
	*p = q;
	return XB_OK;
}
