/* xb_run.h - `xbarsim run` as a library: evaluate a model on a data set, float network vs device.
 * Streams the data set, collects accuracy and per-layer statistics, writes the trace.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What a run does.  From a resolved configuration: the tile parameters of the device
 * (xb_tile_params_from_config), the model workload.model (a file, or the name of a
 * shipped model: xb_run_model_path) and the data set workload.data (xb_data_path),
 * opened for streaming so that memory does not grow with its length.  The first
 * run.samples samples (0 = all) are read in batches; each batch goes through the
 * float network (quantization off, float backend: accuracy_ideal) and through the
 * quantized network whose analog layers run on the device backend (xb_device_nn,
 * accuracy_device).  A model file without quantization is quantized first from the
 * first min(512, samples) samples (xb_nn_net_quantize, default parameters).  The
 * prediction is the first largest logit.  Noise is keyed by the global sample number
 * (run.seed does not enter: the chip's streams come from chip.seed), so results do
 * not depend on run.threads or the batch size.
 *
 * The trace (trace.file, or the options' trace_file; schema "xbarsim-trace" version 1,
 * doc/formats.md) is written through the crash-safe writer: it appears complete when
 * the run succeeds and not at all otherwise.  trace.level chooses its content:
 *   summary  /summary (attributes samples, accuracy_ideal, accuracy_device,
 *            energy_pj_per_inference, events_per_inference, conversions_per_inference,
 *            adc_saturation_rate, [latency_ns_per_inference in timed mode]; datasets
 *            class_names, class_count, class_accuracy_ideal, class_accuracy_device)
 *   layer    + /layers/<n> for every analog layer n (attributes: counts, saturation
 *            rate, cycles, energy by component) and /samples (index, label,
 *            prediction, prediction_ideal, logits, logits_ideal), appended per batch
 *   mvm      + /mvm/<n> (first MVM of the first trace_mvm_samples samples: sample,
 *            inputs, ideal, device)
 *   event    + /events/<n>/<k> (those MVMs on tile (0, 0) of layer n event by event:
 *            time_ns, row, v_lsb)
 *
 * Timed mode (another module) plugs in through xb_run_timed: called once per batch
 * after the device forward, it returns the summed latency of the batch's inferences;
 * the run then reports latency_ns_per_inference.
 */
#ifndef XB_RUN_H
#define XB_RUN_H

#include "xb_base.h"
#include "xb_device_nn.h"
#include "xb_nn.h"
#include "xb_traces.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XB_RUN_SCHEMA "xbarsim-trace"
#define XB_RUN_SCHEMA_VERSION 1

/* trace.level */
typedef enum xb_run_level {
	XB_RUN_LEVEL_SUMMARY = 0,
	XB_RUN_LEVEL_LAYER = 1,
	XB_RUN_LEVEL_MVM = 2,
	XB_RUN_LEVEL_EVENT = 3
} xb_run_level;

/* The timed-mode hook.  START (may be NULL) is called once with the loaded, quantized
 * network before the first batch; BATCH after the device forward of samples FIRST ..
 * FIRST+N-1 (inputs X) adds the latency, ns, of the inferences it timed to *LATENCY_NS;
 * LATENCY_NS_MEAN (may be NULL) gives the mean latency per timed inference (otherwise
 * the summed latency is divided by the samples); WRITE (may be NULL) adds the timed
 * groups (/timeline, /timing) to the trace before it is committed. */
typedef struct xb_run_timed {
	xb_status (*start)(void *ud, const xb_config *cfg, xb_nn_net *net, xb_err *err);
	xb_status (*batch)(void *ud, xb_nn_net *net, xb_device_nn *dev, uint64_t first,
			   size_t n, const float *x, double *latency_ns, xb_err *err);
	double (*latency_ns_mean)(void *ud);
	xb_status (*write)(void *ud, xb_h5w *w, xb_err *err);
	void *ud;
} xb_run_timed;

typedef struct xb_run_options {
	size_t batch;              /* samples per streamed batch (256) */
	size_t trace_mvm_samples;  /* samples whose first MVM per layer /mvm holds (4) */
	size_t trace_events;       /* events kept per MVM in /events (4096) */
	const char *trace_file;    /* trace path overriding trace.file (NULL: the key) */
	const char *command_line;  /* root attribute command_line (NULL: "") */
	xb_progress_fn progress;   /* samples done of total (NULL: none) */
	void *progress_ud;
	xb_run_timed timed;        /* timed-mode hook (batch NULL: functional only) */
} xb_run_options;

xb_run_options xb_run_default_options(void);

/* One analog layer's totals. */
typedef struct xb_run_layer {
	int index;                 /* network layer index */
	const char *type;          /* its type name (static) */
	xb_device_nn_stats dev;    /* counters and energy */
	double adc_saturation_rate;/* sat_adc / conversions (0 without conversions) */
} xb_run_layer;

typedef struct xb_run_result {
	char *model_path, *data_path, *trace_path;   /* trace_path NULL: none written */
	size_t samples;            /* samples evaluated */
	int nclasses;
	char **class_names;        /* [nclasses] */
	size_t *class_count;       /* [nclasses] samples per label */
	size_t *class_correct_ideal, *class_correct_device;
	double accuracy_ideal, accuracy_device;      /* fractions in [0, 1] */
	int nlayers;               /* analog layers run on the device */
	xb_run_layer *layers;
	xb_tile_counters total;    /* sums over the layers */
	double energy_pj;          /* sum over the layers */
	double energy_pj_per_inference, events_per_inference, conversions_per_inference;
	double adc_saturation_rate;/* clipped conversions / conversions */
	double latency_ns_per_inference;   /* NaN unless timed */
	double seconds;            /* wall time of the evaluation */
} xb_run_result;

/* Run as described above with configuration CFG (keys registered, resolved) and
 * options OPT (NULL: defaults).  *OUT receives the result (free with
 * xb_run_result_free).  Errors name the file, key or layer at fault: XB_ENOENT for a
 * missing model or data set (naming the places searched), XB_EFORMAT for a data set
 * whose sample shape or class count does not fit the model, the backend's errors;
 * no trace file is left behind on error.  *OUT is NULL on error. */
xb_status xb_run(const xb_config *cfg, const xb_run_options *opt, xb_run_result **out,
		 xb_err *err);
void xb_run_result_free(xb_run_result *r);

/* Resolve a model NAME to a file: NAME itself if it is an existing file, else NAME.h5
 * in $XBARSIM_DATA, $XBARSIM_DATA/models, the installed models directory
 * (pkgdatadir/models) and the source tree's workloads/models.  XB_ENOENT names the
 * places searched. */
xb_status xb_run_model_path(const char *name, char *buf, size_t len, xb_err *err);

/* ---- sweeps (sim/metrics_run.c) -------------------------------------------------- */


#ifdef __cplusplus
}
#endif
#endif /* XB_RUN_H */
