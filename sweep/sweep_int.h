/* sweep_int.h - internals shared by the files of the sweep module (not installed).
 * The parsed sweep (spec.c) and what the runner (run.c) needs of it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_SWEEP_INT_H
#define XB_SWEEP_INT_H

#include "xb_sweep.h"

typedef enum sweep_axis_kind {
	SWEEP_AXIS_LIST,     /* explicit values */
	SWEEP_AXIS_RANGE,    /* a:b:step (values) or a:b (continuous, random mode) */
	SWEEP_AXIS_LOG       /* log:a:b:n (values) or log:a:b (continuous, random mode) */
} sweep_axis_kind;

typedef struct sweep_axis {
	char *key;             /* "adc.bits" */
	const xb_key *k;       /* its registry entry */
	int line;              /* line in the sweep file */
	char *spec;            /* the text after '=' */
	sweep_axis_kind kind;
	int numeric;           /* numbers (INT, DOUBLE keys) vs words */
	int integer;           /* an INT key */
	int continuous;        /* random mode draws from [lo, hi] (no step or count) */
	double lo, hi;         /* range endpoints */
	size_t n;              /* values (0 for a continuous axis) */
	double *num;           /* [n] numeric values */
	char **word;           /* [n] words */
} sweep_axis;

/* An instantiated provider. */
typedef struct sweep_inst {
	const xb_sweep_provider *type;
	void *state;
	int inited;
	unsigned char *want;   /* [type->nmetrics] */
	size_t *offset;        /* [type->nmetrics]: start of each metric in buf */
	size_t *width;         /* [type->nmetrics] */
	size_t nvalues;        /* sum of the widths */
	double *buf;           /* [nvalues] */
} sweep_inst;

/* A metric asked for. */
typedef struct sweep_metric {
	size_t inst;           /* its provider instance */
	size_t index;          /* in the provider's table */
	size_t width;
	size_t value0;         /* first value in the sweep's value vector */
} sweep_metric;

struct xb_sweep {
	xb_err err;
	char *path;            /* the sweep file as given */
	char *text;            /* its content */
	xb_config *base;       /* resolved base: defaults, preset, base, sections, -s */
	char *base_ini;        /* xb_config_to_ini(base, 0) */
	xb_sweep_mode mode;
	uint64_t npoints;
	uint64_t seed;
	unsigned repeats;
	int seeds_common;
	size_t naxes;
	sweep_axis *axes;
	uint64_t *stride;      /* [naxes] grid strides */
	size_t nmetrics;
	sweep_metric *metrics;
	size_t nvalues;
	size_t ninst;
	sweep_inst *inst;
	double *scratch;       /* [repeats * nvalues] */
};

#endif /* XB_SWEEP_INT_H */
