/* metrics_run.c - the `run` metric provider of sweeps: a model on a data set, float vs device.
 * Each point runs xb_run() (no trace) and reports accuracy, energy and saturation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Metrics (sweep metric names):
 *     accuracy_ideal            float network, fraction right
 *     accuracy_device           device network, fraction right
 *     energy_pj_per_inference   energy of the analog layers per sample, pJ
 *     events_per_inference      accumulation events per sample
 *     adc_saturation_rate       conversions clipped to adc.min/max, fraction
 *     class_accuracy_device     per-class accuracy of the device network (one value per
 *                               class of the base configuration's data set; NaN for a
 *                               class without samples)
 * The model and data set are workload.model and workload.data of each point (so they
 * may be swept); run.samples limits the samples (0 = all).  Cost: samples, in
 * inferences (the data set's count when run.samples = 0).
 */
#include "xb_data.h"
#include "xb_run.h"
#include "xb_metrics.h"
#include "xb_sweep.h"

#include <math.h>
#include <string.h>

enum { M_ACC_IDEAL, M_ACC_DEVICE, M_ENERGY, M_EVENTS, M_SAT, M_CLASS, M_COUNT };

static const xb_sweep_metric run_metrics[M_COUNT] = {
	{ "accuracy_ideal", "1", 1, "accuracy of the float network (fraction right)" },
	{ "accuracy_device", "1", 1, "accuracy of the network on the device (fraction right)" },
	{ "energy_pj_per_inference", "pJ", 1, "energy of the analog layers per inference" },
	{ "events_per_inference", "1", 1, "accumulation events per inference" },
	{ "adc_saturation_rate", "1", 1, "fraction of ADC conversions clipped" },
	{ "class_accuracy_device", "1", 0, "per-class accuracy on the device (one per class)" },
};

typedef struct run_state {
	int nclasses;        /* of the base data set (width of class_accuracy_device) */
	size_t count;        /* samples in the base data set */
} run_state;

static xb_status run_init(void *state, const xb_config *base, xb_err *err)
{
	run_state *s = state;
	char path[4096];
	xb_dataset *ds;

	s->nclasses = 1;
	if (!base)
		return XB_OK;
	if (!(ds = xb_data_open_named(xb_config_str(base, "workload.data"), XB_SPLIT_ALL, path,
				      sizeof path, err)))
		return xb_err_context(err, "metric provider run");
	s->nclasses = xb_dataset_nclasses(ds);
	s->count = xb_dataset_count(ds);
	xb_dataset_free(ds);
	return XB_OK;
}

static size_t run_width(const void *state, size_t m)
{
	const run_state *s = state;
	return m == M_CLASS ? (size_t)s->nclasses : 1;
}

static xb_status run_eval(void *state, const xb_config *cfg, const xb_sweep_job *job,
			  double *out, xb_err *err)
{
	const run_state *s = state;
	xb_run_options o = xb_run_default_options();
	xb_run_result *r = NULL;
	xb_status st;

	o.trace_file = "";   /* no trace for sweep points */
	if ((st = xb_run(cfg, &o, &r, err)) != XB_OK)
		return st;
	if (job->want[M_ACC_IDEAL])
		out[job->offset[M_ACC_IDEAL]] = r->accuracy_ideal;
	if (job->want[M_ACC_DEVICE])
		out[job->offset[M_ACC_DEVICE]] = r->accuracy_device;
	if (job->want[M_ENERGY])
		out[job->offset[M_ENERGY]] = r->energy_pj_per_inference;
	if (job->want[M_EVENTS])
		out[job->offset[M_EVENTS]] = r->events_per_inference;
	if (job->want[M_SAT])
		out[job->offset[M_SAT]] = r->adc_saturation_rate;
	if (job->want[M_CLASS])
		for (int k = 0; k < s->nclasses; k++)
			out[job->offset[M_CLASS] + (size_t)k] =
				k < r->nclasses && r->class_count[k] ?
				(double)r->class_correct_device[k] / (double)r->class_count[k] : NAN;
	xb_run_result_free(r);
	return XB_OK;
}

static double run_cost(const void *state, const xb_config *cfg)
{
	const run_state *s = state;
	long n = xb_config_int(cfg, "run.samples");
	if (n > 0 && (s->count == 0 || (size_t)n < s->count))
		return (double)n;
	return s->count ? (double)s->count : NAN;
}

const xb_sweep_provider xb_metrics_run = {
	"run",
	"a model on a data set: float network vs device (xbarsim run)",
	run_metrics,
	M_COUNT,
	sizeof(run_state),
	run_init,
	NULL,
	run_width,
	run_eval,
	run_cost,
	"inferences",
};
