/* xb_train.h - training of xbarsim's networks from a configuration: float, noise-aware, hardware-aware.
 * The pipeline behind `xbarsim train`: [train] keys, data, the network, training, fine-tuning, model search.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it does.  xb_train_run() reads the [train] keys of a resolved configuration,
 * builds the network (train.arch: a stock name of xb_nn_arch or spec text, or starts
 * from the model file train.init), loads the data (train.data: "kws-synth" synthesises
 * the keyword corpus in process from the train.kws_* keys, split by voice;
 * "fashion-mnist" reads Debian's dataset-fashion-mnist, the last train.val_count
 * training images validating; anything else is a data-set file or the name of a
 * shipped one, whose train/valid/test splits are used), trains it with
 * xb_nn_train (minibatch Adam, cosine learning rate, best validation epoch kept) and
 * then, depending on the mode:
 *   float     nothing more (the network stays in float mode);
 *   noisy     the float training itself runs with Gaussian noise on the outputs of the
 *             analog layers' MVMs (below);
 *   ideal, unordered, ordered
 *             hardware-aware fine-tuning: batch norms are folded, the network is
 *             quantized for the backend's gain (xb_nn_net_quantize, calibrated on the
 *             first train.calib_samples training samples) and trained train.ft_epochs
 *             more epochs at train.ft_lr in quantized mode, the forward pass of every
 *             analog layer going through the tile model of the configuration's preset
 *             with integrator.model set to the mode (the device backend), the backward
 *             pass the straight-through estimator of xb_nn.h.  Without a device backend
 *             in the build, "ideal" uses the float backend's exact quantized MVM.
 * Float epochs (train.epochs) run first unless they are 0 (e.g. with train.init).
 *
 * Noise ("noisy" mode, keys train.noise_at, train.noise_add, train.noise_scale,
 * train.noise_mul, train.noise_layers, train.noise_factors).  With train.noise_at = mvm
 * (the default), after the MVM of each chosen analog layer (train.noise_layers: layer
 * indices of the network as trained, batch norms included; empty = every analog layer)
 * every output y of a backend call becomes
 *   y' = y (1 + f noise_mul n1) + f noise_add A n2,
 *   f = the layer's entry of train.noise_factors (one per entry of train.noise_layers,
 *       which must then be given; empty = 1 for every layer),
 *   A = max |y| over the call (train.noise_scale = max, the default: the call's full
 *       scale, as read noise is relative to the ADC range), or
 *   A = the population standard deviation of all y of the call (samples x positions x
 *       outputs; train.noise_scale = std: the unit of `xbarsim walk`'s normalised
 *       levels; a call of equal outputs gets no additive noise),
 * n1, n2 independent N(0, 1): multiplicative noise relative to each output.  y is the
 * MVM's output before bias and epilogue.  A call is one chunk of samples of a layer.
 * With train.noise_at = output, y is instead the whole output of each layer of
 * train.noise_layers, of any type (after bias and batch norm: the sites of `xbarsim
 * walk`, e.g. the batch norm after a conv, which folds into the conv's output), applied
 * by a tap (xb_nn_net_set_tap) to each forward slice.  Either way the backward pass
 * takes the noise as a constant (straight through: dL/dy = dL/dy', the gradient of the
 * noise-free layer at the noisy point), as the analog MVM's backward does; on the
 * Fashion-MNIST MLPs of doc/walk.md this raised more walking-noise midpoints under
 * multiplicative noise than the exact factor 1 + f noise_mul n1.
 * The normals come from Random123's philox4x32-10 keyed by train.seed and counted by
 * (layer, call number, element), so a run is deterministic for a seed and any thread
 * count.  Validation during training sees the same noise; test_acc_mode is measured
 * with the noise (before the batch norms are folded, at the layers trained with it),
 * test_acc_float without.
 *
 * Determinism.  Everything random is keyed by seeds of the configuration; with
 * train.record_time = false the epoch times in the training record are written as 0,
 * so the same configuration gives the same model file bytes up to the root attribute
 * command_line.
 */
#ifndef XB_TRAIN_H
#define XB_TRAIN_H

#include "xb_base.h"
#include "xb_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Register the [train] keys (call before xb_config_new; idempotent). */
xb_status xb_train_register_keys(void);

/* Training modes: train.against, or --against. */
typedef enum xb_train_mode {
	XB_TRAIN_FLOAT = 0,
	XB_TRAIN_IDEAL = 1,
	XB_TRAIN_UNORDERED = 2,
	XB_TRAIN_ORDERED = 3,
	XB_TRAIN_NOISY = 4
} xb_train_mode;

/* Mode named NAME ("float", "ideal", "unordered", "ordered", "noisy"); -1 if none. */
int xb_train_mode_parse(const char *name);
const char *xb_train_mode_name(xb_train_mode mode);

/* Reporting hooks of a training run (any may be NULL). */
typedef struct xb_train_hooks {
	xb_progress_fn progress;      /* samples done of the phase's epochs * samples */
	void *progress_ud;
	/* Called after each epoch with the phase ("float", "ordered", ...); non-zero stops. */
	int (*on_epoch)(void *ud, const char *phase, const xb_nn_epoch *e);
	void *epoch_ud;
	/* Called when a phase starts (data loaded, training, fine-tuning, testing). */
	void (*on_phase)(void *ud, const char *what);
	void *phase_ud;
} xb_train_hooks;

/* Figures of a training run (NaN where not measured). */
typedef struct xb_train_result {
	size_t train_n, val_n, test_n;   /* samples of each split */
	size_t nparams;                  /* trainable parameters */
	int best_epoch;                  /* epoch kept, 1-based over all phases */
	double val_acc;                  /* validation accuracy of the kept model */
	double test_acc_pre;             /* test accuracy of the float network after the float
	                                    epochs, before any fine-tuning */
	double test_acc_float;           /* test accuracy of the float network (at the end) */
	double test_acc_mode;            /* test accuracy in the mode trained against (quantized
	                                    through its backend; with the noise for noisy) */
	double seconds_float;            /* wall time of the float epochs */
	double seconds_finetune;         /* wall time of the hardware-aware epochs */
} xb_train_result;

/* Run the training described by CFG in mode MODE (-1: train.against).  On success
 * *NET receives the trained network (caller frees) and RES the figures.  Errors name
 * the key or file at fault: unknown architecture, data that does not fit the network,
 * a mode this build cannot run (XB_EUNSUPPORTED).  Message on ERR. */
xb_status xb_train_run(const xb_config *cfg, int mode, const xb_train_hooks *hooks,
		       xb_nn_net **net, xb_train_result *res, xb_err *err);

/* Whether this build has the device backend (hardware-aware modes other than ideal). */
int xb_train_have_device(void);

/* Resolve a model NAME to a file: NAME itself if it is a file, else NAME.h5 in
 * $XBARSIM_DATA/models, $XBARSIM_DATA, the installed models directory and the source tree's
 * workloads/models.  XB_ENOENT names the places searched. */
xb_status xb_train_model_path(const char *name, char *buf, size_t len, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_TRAIN_H */
