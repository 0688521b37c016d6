/* walk_file.c - the [walk] configuration keys, parameters and the walk file (HDF5, "xbarsim-walk" v1).
 * Implements the configuration and output parts of xb_walk.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_walk.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const xb_key walk_keys[] = {
	{ "walk.noise", XB_KEY_ENUM, "", 0, 0, "additive|multiplicative|combined|device",
	  "additive", "noise type injected at the sites (--noise overrides)" },
	{ "walk.source", XB_KEY_ENUM, "", 0, 0, "read|fpn_gain|fpn_offset|event|fpn_synapse",
	  "read", "device noise: the source walked (its sigma is the level: LSB or relative)" },
	{ "walk.binary_band", XB_KEY_DOUBLE, "", 1e-6, 0.5, NULL, "0.05",
	  "near-binary activations: within this fraction of the range of the min or max" },
	{ "walk.mode", XB_KEY_ENUM, "", 0, 0, "walking|global", "walking",
	  "noise at one site at a time (walking) or at every site at once (global)" },
	{ "walk.levels", XB_KEY_INT, "", 2, 10000, NULL, "16",
	  "number of log-spaced noise levels from walk.level_min to walk.level_max" },
	{ "walk.level_min", XB_KEY_DOUBLE, "", 1e-12, 1e12, NULL, "0.01",
	  "lowest noise level (relative to the site's std when walk.normalise)" },
	{ "walk.level_max", XB_KEY_DOUBLE, "", 1e-12, 1e12, NULL, "10",
	  "highest noise level" },
	{ "walk.repeats", XB_KEY_INT, "", 1, 65535, NULL, "5",
	  "noise seeds per level (the bootstrap interval resamples them)" },
	{ "walk.samples", XB_KEY_INT, "samples", 0, 1e9, NULL, "1000",
	  "samples evaluated, spread evenly over the data set (0 = all)" },
	{ "walk.normalise", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "scale additive noise by the std of the site's clean activations" },
	{ "walk.ratio", XB_KEY_DOUBLE, "", 0, 1, NULL, "0.5",
	  "combined noise: additive share r (s_add = A r, s_mul = A (1 - r))" },
	{ "walk.seed", XB_KEY_INT, "", 0, 9.007199254740992e15, NULL, "1",
	  "seed of the noise and the bootstrap" },
	{ "walk.bootstrap", XB_KEY_INT, "", 0, 1000000, NULL, "1000",
	  "bootstrap resamples of the midpoint interval (0: none)" },
	{ "walk.confidence", XB_KEY_DOUBLE, "", 0.01, 0.999, NULL, "0.95",
	  "confidence of the midpoint interval" },
};

xb_status xb_walk_register_keys(void)
{
	return xb_config_register(walk_keys, sizeof walk_keys / sizeof walk_keys[0]);
}

static const char *const noise_names[] = { "additive", "multiplicative", "combined",
					   "device" };
static const char *const source_names[] = { "read", "fpn_gain", "fpn_offset", "event",
					    "fpn_synapse" };
static const char *const source_keys[] = { "noise.read_lsb", "noise.fpn_gain",
					   "noise.fpn_offset_lsb", "noise.event_lsb",
					   "noise.fpn_synapse" };
#define NNOISE (sizeof noise_names / sizeof noise_names[0])
#define NSOURCE (sizeof source_names / sizeof source_names[0])

int xb_walk_noise_parse(const char *name)
{
	for (size_t i = 0; name && i < NNOISE; i++)
		if (strcmp(name, noise_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *xb_walk_noise_name(xb_walk_noise noise)
{
	return (unsigned)noise < NNOISE ? noise_names[noise] : "?";
}

int xb_walk_source_parse(const char *name)
{
	for (size_t i = 0; name && i < NSOURCE; i++)
		if (strcmp(name, source_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *xb_walk_source_name(xb_walk_source src)
{
	return (unsigned)src < NSOURCE ? source_names[src] : "?";
}

const char *xb_walk_source_key(xb_walk_source src)
{
	return (unsigned)src < NSOURCE ? source_keys[src] : "?";
}

const char *xb_walk_source_unit(xb_walk_source src)
{
	return src == XB_WALK_SRC_FPN_GAIN || src == XB_WALK_SRC_FPN_SYNAPSE ? "relative" : "LSB";
}

xb_walk_params xb_walk_default_params(void)
{
	xb_walk_params p;
	memset(&p, 0, sizeof p);
	p.noise = XB_WALK_ADDITIVE;
	p.mode = XB_WALK_WALKING;
	p.nlevels = 16;
	p.level_min = 0.01;
	p.level_max = 10.0;
	p.repeats = 5;
	p.samples = 1000;
	p.normalise = 1;
	p.ratio = 0.5;
	p.seed = 1;
	p.bootstrap = 1000;
	p.confidence = 0.95;
	p.binary_band = 0.05;
	p.source = XB_WALK_SRC_READ;
	p.rank = 0;
	p.nranks = 1;
	return p;
}

xb_status xb_walk_params_from_config(const xb_config *cfg, xb_walk_params *p, xb_err *err)
{
	*p = xb_walk_default_params();
	p->noise = (xb_walk_noise)xb_config_enum(cfg, "walk.noise");
	p->mode = (xb_walk_mode)xb_config_enum(cfg, "walk.mode");
	p->nlevels = (int)xb_config_int(cfg, "walk.levels");
	p->level_min = xb_config_double(cfg, "walk.level_min");
	p->level_max = xb_config_double(cfg, "walk.level_max");
	p->repeats = (int)xb_config_int(cfg, "walk.repeats");
	p->samples = (size_t)xb_config_int(cfg, "walk.samples");
	p->normalise = xb_config_bool(cfg, "walk.normalise");
	p->ratio = xb_config_double(cfg, "walk.ratio");
	p->seed = (uint64_t)xb_config_int(cfg, "walk.seed");
	p->bootstrap = (int)xb_config_int(cfg, "walk.bootstrap");
	p->confidence = xb_config_double(cfg, "walk.confidence");
	p->source = (xb_walk_source)xb_config_enum(cfg, "walk.source");
	p->binary_band = xb_config_double(cfg, "walk.binary_band");
	if (!(p->level_max > p->level_min))
		return xb_raise(err, XB_ECONFIG, "walk.level_max = %g must exceed walk.level_min = "
				"%g", p->level_max, p->level_min);
	return XB_OK;
}

xb_status xb_walk_save(const xb_walk_result *r, const char *path, const char *config_ini,
		       const char *command_line, xb_err *err)
{
	xb_h5w *w = xb_h5w_create(path, XB_WALK_SCHEMA, XB_WALK_SCHEMA_VERSION, config_ini,
				  command_line, err);
	if (!w)
		return err ? err->code : XB_EIO;
	xb_status st;
	int64_t S = (int64_t)r->nsites, L = r->nlevels, R = r->repeats;
	int64_t d1[1] = { S }, dl[1] = { L }, d2[2] = { S, L }, d3[3] = { S, R, L };
	int64_t A = (int64_t)r->nacts, W = (int64_t)r->nweights;
	int64_t da[1] = { A }, dw[1] = { W };
	double *clean = malloc((size_t)S * sizeof *clean), *chance = malloc((size_t)S * sizeof *chance);
	int32_t *layer = malloc((size_t)S * sizeof *layer);
	int32_t *alayer = malloc(((size_t)A + 1) * sizeof *alayer);
	int32_t *wlayer = malloc(((size_t)W + 1) * sizeof *wlayer);
	double *binary = malloc(((size_t)A + 1) * sizeof *binary);
	if (!clean || !chance || !layer || !alayer || !wlayer || !binary) {
		st = xb_raise(err, XB_ENOMEM, "walk: out of memory writing %s", path);
		goto out;
	}
	for (int64_t s = 0; s < S; s++) {
		clean[s] = r->clean_accuracy;
		chance[s] = r->chance_accuracy;
		layer[s] = r->layer[s];
	}
	for (int64_t a = 0; a < A; a++) {
		alayer[a] = r->act_layer[a];
		binary[a] = r->near_low[a] + r->near_high[a];
	}
	for (int64_t k = 0; k < W; k++)
		wlayer[k] = r->w_layer[k];
	const xb_walk_params *p = &r->params;
	int dev = p->noise == XB_WALK_DEVICE;
	if ((st = xb_h5w_attr_str(w, "/", "noise", xb_walk_noise_name(p->noise))) ||
	    (st = xb_h5w_attr_str(w, "/", "mode", p->mode == XB_WALK_GLOBAL ? "global" :
				  "walking")) ||
	    (st = xb_h5w_attr_int(w, "/", "normalise", p->normalise)) ||
	    (st = xb_h5w_attr_double(w, "/", "ratio", p->ratio)) ||
	    (st = xb_h5w_attr_int(w, "/", "repeats", p->repeats)) ||
	    (st = xb_h5w_attr_int(w, "/", "samples", (int64_t)r->samples)) ||
	    (st = xb_h5w_attr_int(w, "/", "seed", (int64_t)p->seed)) ||
	    (st = xb_h5w_attr_int(w, "/", "bootstrap", p->bootstrap)) ||
	    (st = xb_h5w_attr_double(w, "/", "confidence", p->confidence)) ||
	    (st = xb_h5w_attr_double(w, "/", "target_accuracy", r->target)) ||
	    (st = xb_h5w_attr_str(w, "/", "interval", "percentile bootstrap over repeats")) ||
	    (st = xb_h5w_attr_str(w, "/", "level_unit", r->level_unit ? r->level_unit : "1")) ||
	    (st = xb_h5w_attr_str(w, "/", "source", dev ? xb_walk_source_name(p->source) : "")) ||
	    (st = xb_h5w_attr_str(w, "/", "source_key", dev ? xb_walk_source_key(p->source) :
				  "")) ||
	    (st = xb_h5w_attr_double(w, "/", "binary_band", p->binary_band)) ||
	    (st = xb_h5w_group(w, "/sites", NULL, 0)) ||
	    (st = xb_h5w_write(w, "/sites/name", XB_H5_STRING, 1, d1, r->name, "1")) ||
	    (st = xb_h5w_write(w, "/sites/layer", XB_H5_INT32, 1, d1, layer, "1")) ||
	    (st = xb_h5w_write(w, "/sites/scale", XB_H5_FLOAT64, 1, d1, r->scale,
			       "activation")) ||
	    (st = xb_h5w_write(w, "/sites/midpoint", XB_H5_FLOAT64, 1, d1, r->midpoint,
			       "noise level")) ||
	    (st = xb_h5w_write(w, "/sites/midpoint_lo", XB_H5_FLOAT64, 1, d1, r->midpoint_lo,
			       "noise level")) ||
	    (st = xb_h5w_write(w, "/sites/midpoint_hi", XB_H5_FLOAT64, 1, d1, r->midpoint_hi,
			       "noise level")) ||
	    (st = xb_h5w_write(w, "/sites/clean_accuracy", XB_H5_FLOAT64, 1, d1, clean, "1")) ||
	    (st = xb_h5w_write(w, "/sites/chance_accuracy", XB_H5_FLOAT64, 1, d1, chance, "1")) ||
	    (st = xb_h5w_group(w, "/curves", NULL, 0)) ||
	    (st = xb_h5w_write(w, "/curves/levels", XB_H5_FLOAT64, 1, dl, r->levels,
			       "noise level")) ||
	    (st = xb_h5w_write(w, "/curves/accuracy", XB_H5_FLOAT64, 2, d2, r->acc_mean, "1")) ||
	    (st = xb_h5w_write(w, "/curves/accuracy_repeats", XB_H5_FLOAT64, 3, d3, r->acc,
			       "1")) ||
	    (st = xb_h5w_group(w, "/activations", NULL, 0)) ||
	    (A > 0 && ((st = xb_h5w_write(w, "/activations/name", XB_H5_STRING, 1, da,
					  r->act_name, "1")) ||
		       (st = xb_h5w_write(w, "/activations/layer", XB_H5_INT32, 1, da, alayer,
					  "1")) ||
		       (st = xb_h5w_write(w, "/activations/min", XB_H5_FLOAT64, 1, da,
					  r->act_min, "activation")) ||
		       (st = xb_h5w_write(w, "/activations/max", XB_H5_FLOAT64, 1, da,
					  r->act_max, "activation")) ||
		       (st = xb_h5w_write(w, "/activations/near_low", XB_H5_FLOAT64, 1, da,
					  r->near_low, "1")) ||
		       (st = xb_h5w_write(w, "/activations/near_high", XB_H5_FLOAT64, 1, da,
					  r->near_high, "1")) ||
		       (st = xb_h5w_write(w, "/activations/near_binary", XB_H5_FLOAT64, 1, da,
					  binary, "1")))) ||
	    (st = xb_h5w_group(w, "/weights", NULL, 0)) ||
	    (W > 0 && ((st = xb_h5w_write(w, "/weights/name", XB_H5_STRING, 1, dw, r->w_name,
					  "1")) ||
		       (st = xb_h5w_write(w, "/weights/layer", XB_H5_INT32, 1, dw, wlayer, "1")) ||
		       (st = xb_h5w_write(w, "/weights/count", XB_H5_UINT64, 1, dw, r->w_count,
					  "1")) ||
		       (st = xb_h5w_write(w, "/weights/mean_abs", XB_H5_FLOAT64, 1, dw,
					  r->w_mean_abs, "weight")) ||
		       (st = xb_h5w_write(w, "/weights/max_abs", XB_H5_FLOAT64, 1, dw,
					  r->w_max_abs, "weight")))) ||
	    (st = xb_h5w_commit(w))) {
		st = xb_raise(err, st, "walk: writing %s: %s", path, xb_h5w_errmsg(w));
		goto out;
	}
out:
	xb_h5w_free(w);
	free(clean);
	free(chance);
	free(layer);
	free(alayer);
	free(wlayer);
	free(binary);
	return st;
}
