/* sources.c - the built-in noise types, their registry, the [noise] keys and the PCM closed forms.
 * Each type is a static const table (xb_noise_type) listed by name in the registry.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_noise.h"

#include <math.h>
#include <string.h>

/* ---- parameters and keys ------------------------------------------------------------ */

xb_noise_params xb_noise_default_params(void)
{
	xb_noise_params p = {
		.enable = 1,
		.read_lsb = 2.0,
		.device = XB_DEVICE_GENERIC,
		.drift_time_s = 0.0,
	};

	return p;
}

static const xb_key noise_keys[] = {
	{ "noise.enable", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "false turns every noise source off (read, event, fixed-pattern, device)" },
	{ "noise.read_lsb", XB_KEY_DOUBLE, "LSB", 0, 1e6, NULL, "2",
	  "std of the read noise added at every conversion (reference LSB, adc.full_scale_bits)" },
	{ "noise.event_lsb", XB_KEY_DOUBLE, "LSB", 0, 1e6, NULL, "0",
	  "std of the charge noise of every accumulation event and column (reference LSB)" },
	{ "noise.fpn_gain", XB_KEY_DOUBLE, "", 0, 10, NULL, "0",
	  "relative std of the per-column ADC gain a_c around 1 (fixed pattern)" },
	{ "noise.fpn_offset_lsb", XB_KEY_DOUBLE, "LSB", 0, 1e6, NULL, "0",
	  "std of the per-column ADC offset o_c (fixed pattern, reference LSB)" },
	{ "noise.fpn_synapse", XB_KEY_DOUBLE, "", 0, 10, NULL, "0",
	  "relative std of the per-synapse gain (1 + eta) (fixed pattern)" },
	{ "noise.fpn_saturation_lsb", XB_KEY_DOUBLE, "LSB", 0, 1e6, NULL, "0",
	  "std of the per-column integrator saturation limits lo/hi (fixed pattern, reference LSB)" },
	{ "noise.device", XB_KEY_ENUM, "", 0, 0, "generic|pcm", "generic",
	  "device noise model: generic (constant sizes) or pcm (IBM's PCM closed forms)" },
	{ "noise.programming", XB_KEY_DOUBLE, "", 0, 100, NULL, "0",
	  "programming noise: generic = std as a fraction of gmax; pcm = scale of sigma_prog" },
	{ "noise.drift", XB_KEY_DOUBLE, "", 0, 100, NULL, "0",
	  "conductance drift: generic = mean drift exponent nu; pcm = scale of nu" },
	{ "noise.drift_std", XB_KEY_DOUBLE, "", 0, 10, NULL, "0",
	  "generic device: std of the drift exponent nu across devices" },
	{ "noise.device_read", XB_KEY_DOUBLE, "", 0, 100, NULL, "0",
	  "device read noise at evaluation: generic = relative std; pcm = scale of the 1/f form" },
	{ "noise.drift_time_s", XB_KEY_DOUBLE, "s", 0, 1e12, NULL, "0",
	  "time from programming to evaluation (drift and accumulated 1/f noise)" },
	{ "noise.stuck_min", XB_KEY_DOUBLE, "", 0, 1, NULL, "0",
	  "fraction of devices stuck at zero conductance" },
	{ "noise.stuck_max", XB_KEY_DOUBLE, "", 0, 1, NULL, "0",
	  "fraction of devices stuck at gmax" },
};

void xb_noise_register_keys(void)
{
	xb_config_register(noise_keys, sizeof noise_keys / sizeof *noise_keys);
}

xb_status xb_noise_params_check(const xb_noise_params *p, xb_err *err)
{
	const struct { const char *key; double v; } nonneg[] = {
		{ "noise.read_lsb", p->read_lsb }, { "noise.event_lsb", p->event_lsb },
		{ "noise.fpn_gain", p->fpn_gain }, { "noise.fpn_offset_lsb", p->fpn_offset_lsb },
		{ "noise.fpn_synapse", p->fpn_synapse },
		{ "noise.fpn_saturation_lsb", p->fpn_saturation_lsb },
		{ "noise.programming", p->programming }, { "noise.drift", p->drift },
		{ "noise.drift_std", p->drift_std }, { "noise.device_read", p->device_read },
		{ "noise.drift_time_s", p->drift_time_s }, { "noise.stuck_min", p->stuck_min },
		{ "noise.stuck_max", p->stuck_max },
	};

	for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; i++)
		if (!(nonneg[i].v >= 0) || !isfinite(nonneg[i].v))
			return xb_raise(err, XB_ECONFIG, "%s = %g: expected a finite value >= 0",
					nonneg[i].key, nonneg[i].v);
	if (p->stuck_min > 1 || p->stuck_max > 1 || p->stuck_min + p->stuck_max > 1)
		return xb_raise(err, XB_ECONFIG,
				"noise.stuck_min = %g and noise.stuck_max = %g: expected fractions "
				"in [0, 1] whose sum is at most 1", p->stuck_min, p->stuck_max);
	if (p->device != XB_DEVICE_GENERIC && p->device != XB_DEVICE_PCM)
		return xb_raise(err, XB_ECONFIG, "noise.device = %d: expected generic or pcm",
				(int)p->device);
	return XB_OK;
}

xb_status xb_noise_params_from_config(const xb_config *cfg, xb_noise_params *p, xb_err *err)
{
	xb_noise_register_keys();
	if (!xb_config_key("noise.read_lsb"))
		return xb_raise(err, XB_EINTERNAL, "the [noise] keys are not registered");
	p->enable = xb_config_bool(cfg, "noise.enable");
	p->read_lsb = xb_config_double(cfg, "noise.read_lsb");
	p->event_lsb = xb_config_double(cfg, "noise.event_lsb");
	p->fpn_gain = xb_config_double(cfg, "noise.fpn_gain");
	p->fpn_offset_lsb = xb_config_double(cfg, "noise.fpn_offset_lsb");
	p->fpn_synapse = xb_config_double(cfg, "noise.fpn_synapse");
	p->fpn_saturation_lsb = xb_config_double(cfg, "noise.fpn_saturation_lsb");
	p->device = xb_config_enum(cfg, "noise.device") == 1 ? XB_DEVICE_PCM : XB_DEVICE_GENERIC;
	p->programming = xb_config_double(cfg, "noise.programming");
	p->drift = xb_config_double(cfg, "noise.drift");
	p->drift_std = xb_config_double(cfg, "noise.drift_std");
	p->device_read = xb_config_double(cfg, "noise.device_read");
	p->drift_time_s = xb_config_double(cfg, "noise.drift_time_s");
	p->stuck_min = xb_config_double(cfg, "noise.stuck_min");
	p->stuck_max = xb_config_double(cfg, "noise.stuck_max");
	return xb_noise_params_check(p, err);
}

/* ---- PCM closed forms --------------------------------------------------------------- */

/* Smallest relative conductance used in logarithms and powers (aihwkit clips likewise). */
#define G_REL_MIN 1e-6

static double clip(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

double xb_pcm_prog_sigma_us(double g_us, double gmax_us)
{
	double g = g_us / gmax_us;

	return (0.26348 + 1.9650 * g - 1.1731 * g * g) * gmax_us / 25.0;
}

void xb_pcm_drift_params(double g_rel, double *mu, double *sigma)
{
	double lg = log(fmax(fabs(g_rel), G_REL_MIN));

	*mu = clip(-0.0155 * lg + 0.0244, 0.049, 0.1);
	*sigma = clip(-0.0125 * lg - 0.0059, 0.008, 0.045);
}

double xb_pcm_drift_factor(double nu, double t_s)
{
	return pow((t_s + XB_PCM_T0_S) / XB_PCM_T0_S, -nu);
}

double xb_pcm_read_sigma(double g_rel, double t_s)
{
	double qs = fmin(0.0088 / pow(fmax(fabs(g_rel), G_REL_MIN), 0.65), 0.2);

	return qs * sqrt(log((t_s + XB_PCM_T0_S + XB_PCM_T_READ_S) / (2 * XB_PCM_T_READ_S)));
}

/* ---- the types -------------------------------------------------------------------------- */

/* State shared by the single-magnitude types. */
typedef struct mag_state {
	double mag;               /* the magnitude of the source (its key's value) */
	double mag2;              /* a second magnitude where needed (drift_std, stuck_max) */
	double time_s;            /* evaluation time (device types) */
	xb_device_model device;
} mag_state;

static double mag_magnitude(const void *state)
{
	return ((const mag_state *)state)->mag;
}

static int set_mag(void *state, double mag, double mag2, const xb_noise_params *p)
{
	mag_state *m = state;

	m->mag = mag;
	m->mag2 = mag2;
	m->time_s = p->drift_time_s;
	m->device = p->device;
	return p->enable && (mag > 0 || mag2 > 0);
}

/* Temporal noise: V += sigma N(0, 1) with its purpose's stream. */
static void temporal_add(const void *state, const xb_stream *s, xb_draw purpose,
			 uint64_t sample, uint32_t a, const float *scale, float *v, size_t n)
{
	xb_stream_add_normals(s, purpose, sample, a, 0, (float)((const mag_state *)state)->mag,
			      scale, v, n);
}

static int read_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->read_lsb, 0, p);
}

static void read_temporal(const void *state, const xb_stream *s, uint64_t sample, uint32_t a,
			  const float *scale, float *v, size_t n)
{
	temporal_add(state, s, XB_DRAW_READ, sample, a, scale, v, n);
}

static int event_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->event_lsb, 0, p);
}

static void event_temporal(const void *state, const xb_stream *s, uint64_t sample, uint32_t a,
			   const float *scale, float *v, size_t n)
{
	temporal_add(state, s, XB_DRAW_EVENT, sample, a, scale, v, n);
}

/* Fixed pattern: per-column normals of one purpose, sample 0, a 0. */
static void column_normals(const xb_stream *s, xb_draw purpose, float sigma, float *v, size_t n)
{
	xb_stream_add_normals(s, purpose, 0, 0, 0, sigma, NULL, v, n);
}

static int fpn_gain_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->fpn_gain, 0, p);
}

static void fpn_gain_fixed(const void *state, const xb_stream *s, xb_noise_fixed *fx)
{
	column_normals(s, XB_DRAW_FPN_GAIN, (float)((const mag_state *)state)->mag, fx->col_gain,
		       fx->cols);
}

static int fpn_offset_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->fpn_offset_lsb, 0, p);
}

static void fpn_offset_fixed(const void *state, const xb_stream *s, xb_noise_fixed *fx)
{
	column_normals(s, XB_DRAW_FPN_OFFSET, (float)((const mag_state *)state)->mag,
		       fx->col_offset_lsb, fx->cols);
}

static int fpn_saturation_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->fpn_saturation_lsb, 0, p);
}

static void fpn_saturation_fixed(const void *state, const xb_stream *s, xb_noise_fixed *fx)
{
	float sigma = (float)((const mag_state *)state)->mag;

	column_normals(s, XB_DRAW_FPN_SAT_LO, sigma, fx->col_lo_lsb, fx->cols);
	column_normals(s, XB_DRAW_FPN_SAT_HI, sigma, fx->col_hi_lsb, fx->cols);
}

static int fpn_synapse_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->fpn_synapse, 0, p);
}

static void fpn_synapse_fixed(const void *state, const xb_stream *s, xb_noise_fixed *fx)
{
	float sigma = (float)((const mag_state *)state)->mag;

	for (size_t r = 0; r < fx->rows; r++)
		xb_stream_add_normals(s, XB_DRAW_FPN_SYNAPSE, 0, (uint32_t)r, 0, sigma, NULL,
				      fx->eta + r * fx->cols, fx->cols);
}

/* Device sources work on row pairs of the conductance array: a = 2 r + h. */
static int programming_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->programming, 0, p);
}

static void programming_device(const void *state, const xb_stream *s, xb_noise_devices *d)
{
	const mag_state *m = state;
	float z[1024];

	for (size_t a = 0; a < 2 * d->rows; a++) {
		float *g = d->g + a * d->cols, *gp = d->g_prog + a * d->cols;
		const float *t = d->g_target + a * d->cols;

		for (size_t c0 = 0; c0 < d->cols; c0 += 1024) {
			size_t nc = d->cols - c0 < 1024 ? d->cols - c0 : 1024;

			xb_stream_normals(s, XB_DRAW_PROGRAMMING, d->programming, (uint32_t)a, (uint32_t)c0, z, nc);
			for (size_t c = 0; c < nc; c++) {
				double sigma = m->device == XB_DEVICE_PCM
					? m->mag * xb_pcm_prog_sigma_us(t[c0 + c] * d->gmax_us, d->gmax_us) / d->gmax_us
					: m->mag;
				double v = t[c0 + c] + sigma * z[c];

				g[c0 + c] = gp[c0 + c] = (float)(v > 0 ? v : 0);
			}
		}
	}
}

static int drift_init(void *state, const xb_noise_params *p)
{
	/* Drift acts only after some time; with t = 0 the factor is 1 for any nu. */
	return set_mag(state, p->drift, p->drift_std, p) && p->drift_time_s > 0;
}

static void drift_device(const void *state, const xb_stream *s, xb_noise_devices *d)
{
	const mag_state *m = state;
	float z[1024];

	for (size_t a = 0; a < 2 * d->rows; a++) {
		float *g = d->g + a * d->cols;
		const float *t = d->g_target + a * d->cols;

		for (size_t c0 = 0; c0 < d->cols; c0 += 1024) {
			size_t nc = d->cols - c0 < 1024 ? d->cols - c0 : 1024;

			xb_stream_normals(s, XB_DRAW_DRIFT, d->programming, (uint32_t)a, (uint32_t)c0, z, nc);
			for (size_t c = 0; c < nc; c++) {
				double mu = m->mag, sd = m->mag2, nu;

				if (m->device == XB_DEVICE_PCM) {
					xb_pcm_drift_params(t[c0 + c], &mu, &sd);
					nu = m->mag * fabs(mu + sd * z[c]);
				} else {
					nu = fabs(mu + sd * z[c]);
				}
				g[c0 + c] = (float)(g[c0 + c] * xb_pcm_drift_factor(nu, m->time_s));
			}
		}
	}
}

static int device_read_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->device_read, 0, p);
}

static void device_read_device(const void *state, const xb_stream *s, xb_noise_devices *d)
{
	const mag_state *m = state;
	float z[1024];

	for (size_t a = 0; a < 2 * d->rows; a++) {
		float *g = d->g + a * d->cols;
		const float *gp = d->g_prog + a * d->cols;

		for (size_t c0 = 0; c0 < d->cols; c0 += 1024) {
			size_t nc = d->cols - c0 < 1024 ? d->cols - c0 : 1024;

			xb_stream_normals(s, XB_DRAW_DEVICE_READ, d->programming, (uint32_t)a, (uint32_t)c0, z, nc);
			for (size_t c = 0; c < nc; c++) {
				double gc = g[c0 + c];
				double sigma = m->device == XB_DEVICE_PCM
					? m->mag * xb_pcm_read_sigma(gp[c0 + c], m->time_s) : m->mag;
				double v = gc + fabs(gc) * sigma * z[c];

				g[c0 + c] = (float)(v > 0 ? v : 0);
			}
		}
	}
}

static int stuck_init(void *state, const xb_noise_params *p)
{
	return set_mag(state, p->stuck_min, p->stuck_max, p);
}

static void stuck_device(const void *state, const xb_stream *s, xb_noise_devices *d)
{
	const mag_state *m = state;
	float u[1024];

	/* Faults belong to the chip, not to a programming: sample 0. */
	for (size_t a = 0; a < 2 * d->rows; a++) {
		float *g = d->g + a * d->cols;

		for (size_t c0 = 0; c0 < d->cols; c0 += 1024) {
			size_t nc = d->cols - c0 < 1024 ? d->cols - c0 : 1024;

			xb_stream_uniforms(s, XB_DRAW_STUCK, 0, (uint32_t)a, (uint32_t)c0, u, nc);
			for (size_t c = 0; c < nc; c++) {
				if (u[c] < m->mag)
					g[c0 + c] = 0.0f;
				else if (u[c] > 1.0 - m->mag2)
					g[c0 + c] = 1.0f;
			}
		}
	}
}

#define TYPE(var, nm, k, st, ini, fx, dev, tmp) \
	static const xb_noise_type var##_type = { nm, k, st, sizeof(mag_state), ini, fx, dev, \
						 tmp, mag_magnitude }; \
	const xb_noise_type *const xb_noise_##var = &var##_type

TYPE(fpn_gain, "fpn_gain", "noise.fpn_gain", XB_NOISE_FIXED, fpn_gain_init, fpn_gain_fixed,
     NULL, NULL);
TYPE(fpn_offset, "fpn_offset", "noise.fpn_offset_lsb", XB_NOISE_FIXED, fpn_offset_init,
     fpn_offset_fixed, NULL, NULL);
TYPE(fpn_synapse, "fpn_synapse", "noise.fpn_synapse", XB_NOISE_FIXED, fpn_synapse_init,
     fpn_synapse_fixed, NULL, NULL);
TYPE(fpn_saturation, "fpn_saturation", "noise.fpn_saturation_lsb", XB_NOISE_FIXED,
     fpn_saturation_init, fpn_saturation_fixed, NULL, NULL);
TYPE(programming, "programming", "noise.programming", XB_NOISE_DEVICE, programming_init, NULL,
     programming_device, NULL);
TYPE(drift, "drift", "noise.drift", XB_NOISE_DEVICE, drift_init, NULL, drift_device, NULL);
TYPE(device_read, "device_read", "noise.device_read", XB_NOISE_DEVICE, device_read_init, NULL,
     device_read_device, NULL);
TYPE(stuck, "stuck", "noise.stuck_min", XB_NOISE_DEVICE, stuck_init, NULL, stuck_device, NULL);
TYPE(event, "event", "noise.event_lsb", XB_NOISE_EVENT, event_init, NULL, NULL, event_temporal);
TYPE(read, "read", "noise.read_lsb", XB_NOISE_READ, read_init, NULL, NULL, read_temporal);

/* In the order the hooks apply: stuck-at faults last, so a stuck device keeps its value. */
static const xb_noise_type *const registry[] = {
	&fpn_gain_type, &fpn_offset_type, &fpn_synapse_type, &fpn_saturation_type,
	&programming_type, &drift_type, &device_read_type, &stuck_type,
	&event_type, &read_type, NULL
};

const xb_noise_type *const *xb_noise_types(void)
{
	return registry;
}

const xb_noise_type *xb_noise_type_find(const char *name)
{
	for (size_t i = 0; registry[i]; i++)
		if (name && !strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

size_t xb_noise_state_max(void)
{
	size_t m = 0;

	for (size_t i = 0; registry[i]; i++)
		if (registry[i]->state_size > m)
			m = registry[i]->state_size;
	return m;
}
