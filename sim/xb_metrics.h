/* xb_metrics.h - the metric providers `xbarsim sweep` offers, and their registry.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A provider (xb_sweep_provider, sweep/xb_sweep.h) turns the configuration of one
 * design point into metric values.  This header lists the command's providers; a new
 * one is a static const table in its own file, added to xb_metrics_providers().
 *
 * tile (metrics_tile.c): one tile of the configured device runs a batch of random
 * MVMs in functional mode (xb_tile_mvm), and the same batch on the ideal model:
 *     mvm_rmse_lsb         sqrt(mean over MVMs and columns of (y - y_ideal)^2), LSB
 *     mvm_bias_lsb         mean of (y - y_ideal), LSB
 *     mvm_saturation_rate  ADC conversions clipped to adc.min/adc.max, fraction
 *     mvm_events_per_mvm   accumulation events per MVM (num_sends included)
 *     mvm_energy_pj        energy per MVM of the counted operations, pJ
 *     mvm_latency_ns       duration of one MVM (cycles / event clock), ns
 * The batch has run.samples MVMs (0: 256).  Weights are uniform over the whole signed
 * range [-(2^bw - 1), 2^bw - 1] of every signed row and column, inputs uniform over
 * [0, 2^bx - 1]; both are drawn from the stream (run.seed, XB_DRAW_USER), and the
 * batch's sample numbers (keying the temporal noise) start at a hash of run.seed, so
 * the repeats of a sweep point see other weights, inputs, noise and (through
 * chip.seed) another fixed pattern.  Cost estimate: MVMs x signed rows x columns x
 * num_sends, in synapse-events.
 */
#ifndef XB_METRICS_H
#define XB_METRICS_H

#include "xb_base.h"
#include "xb_sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tile provider (see above). */
extern const xb_sweep_provider xb_metrics_tile;
/* The network provider of `xbarsim run` (sim/metrics_run.c): accuracy_ideal,
 * accuracy_device, energy_pj_per_inference, adc_saturation_rate, ... */
extern const xb_sweep_provider xb_metrics_run;

/* The providers of the command, in a static array of *N entries. */
const xb_sweep_provider *const *xb_metrics_providers(size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* XB_METRICS_H */
