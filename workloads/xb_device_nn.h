/* xb_device_nn.h - the device MVM backend of the neural networks: analog layers on crossbar tiles.
 * Plugs the tile model (devices/xb_devices.h) into xb_nn's backend table for inference and training.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * ---- xb_device_nn (workloads/nn_device.c) -----------------------------------------
 *
 * What it does.  In quantized mode an analog layer of R outputs and K inputs asks for
 * y_lsb = device(Wq, xq) for a batch of input-code vectors.  The backend maps the
 * layer onto an xb_matrix of K signed rows (the layer's inputs) x R columns (its
 * outputs): rows beyond a tile's signed capacity and columns beyond its width split
 * over further tiles exactly as xb_matrix does (row blocks added digitally with
 * saturation), and only the R columns the layer uses are computed.  The weights
 * programmed are Wq transposed; they are programmed again only when the layer's
 * version changes.  Tiles are given to layers in the order the layers are first used
 * (a forward pass meets them in network order): layer A's matrix takes tiles
 * tile_base = 0 .. nA-1 of chip 0, the next analog layer the following ones, so every
 * layer has its own fixed pattern.  With `calibration.file` set, every tile gets
 * xb_calibration_apply(cal, tile, global_tile % tiles_per_chip, tiles_per_chip).
 * A layer's tiles take the layer's sends (xb_nn_mvm.sends) as input.num_sends; a
 * change of sends rebuilds its matrix on the same tiles.  The output returned is the
 * digital sum of the row blocks' codes plus half a code per row block (per bit plane
 * with bit-plane conversion): a code c stands for [c, c + 1), so this is the
 * midpoint reconstruction; sums at the limits of the digital range are returned as
 * they are (saturated).
 * Float mode falls back to the float backend (sgemm): the float network is the
 * reference, not a device.
 *
 * Noise keys.  Every MVM is keyed by its global vector number v = s P + p, where s is
 * the global sample number and p < P the output position (P = OH x OW for a
 * convolution, 1 for a dense layer).  s counts from the value given to
 * xb_device_nn_set_sample() before a forward pass (0 initially) and continues from one
 * forward to the next, in the order the samples are given.  The network calls the
 * backend per layer in sample order, so results do not depend on the batch size,
 * the network's chunking or the number of threads.  For training, call
 * xb_device_nn_set_sample() with a number unique to each batch (e.g. step x batch).
 *
 * Statistics.  Per analog layer: MVMs, events, conversions, devices driven, ADC
 * saturations (conversions clipped to adc.min/max, summed over the tiles), cycles
 * (summed over MVMs and tiles) and energy by component from the tile's energy
 * parameters: events x event_pj, active cells x cell_pj, conversions x conversion_pj
 * (their sum is xb_tile_energy_pj).
 *
 * Capture (traces).  xb_device_nn_capture(d, S, E) records, for every analog layer,
 * the first MVM (position 0) of each of the global samples 0 .. S-1: its input codes,
 * the ideal output g Wq xq, the device output and, when E > 0, up to E events of the
 * tile of row block 0 / column block 0 (time, row, integrator state of its columns)
 * by re-running that MVM alone on that tile with the same noise key.
 */
#ifndef XB_DEVICE_NN_H
#define XB_DEVICE_NN_H

#include "xb_base.h"
#include "xb_devices.h"
#include "xb_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xb_device_nn xb_device_nn;

/* Statistics of one analog layer (sums since the last reset). */
typedef struct xb_device_nn_stats {
	int layer;                  /* network layer index, -1 for a slot never used */
	size_t inputs, outputs;     /* matrix shape: signed rows x columns */
	size_t tiles;               /* tiles of its matrix */
	uint32_t tile_base;         /* its first tile */
	xb_tile_counters c;         /* mvms, events, conversions, cells, saturations, cycles */
	double energy_event_pj;     /* row drivers */
	double energy_cell_pj;      /* devices driven */
	double energy_conversion_pj;/* ADC conversions */
	double energy_pj;           /* their sum */
} xb_device_nn_stats;

/* One captured MVM (see the design comment). */
typedef struct xb_device_nn_mvm {
	int layer;
	uint64_t sample;            /* global sample number */
	size_t n_in, n_out;         /* layer inputs and outputs */
	uint8_t *x;                 /* [n_in] input codes */
	float *y_ideal;             /* [n_out] g Wq xq, LSB */
	float *y_device;            /* [n_out] device output, LSB */
	size_t ev_cols;             /* columns of tile (0, 0) recorded */
	size_t events;              /* events recorded (<= capacity) */
	size_t events_total;        /* events of that tile's MVM */
	xb_time_ps *ev_time_ps;     /* [events] after the MVM's start */
	int32_t *ev_row;            /* [events] signed row (-1 - b: bit plane b; -1: pulse) */
	float *ev_v_lsb;            /* [events][ev_cols] integrator state after the event */
	xb_time_ps read_ps;         /* time of the conversion */
} xb_device_nn_mvm;

/* A device backend for tiles with parameters P (copied).  CALIBRATION_FILE (NULL or
 * "" = none) is loaded here once.  NULL with the message on ERR (the parameters'
 * XB_ECONFIG, the calibration file's errors). */
xb_device_nn *xb_device_nn_new(const xb_tile_params *p, const char *calibration_file,
			       xb_err *err);
void xb_device_nn_free(xb_device_nn *d);
const char *xb_device_nn_errmsg(const xb_device_nn *d);
/* The backend to give xb_nn_net_set_backend(): gain adc.gain per send (in codes of
 * adc.bits), sends input.num_sends, output range of the tiles' digital sums
 * (xb_tile_output_range), linear range the smaller of that and the integrator's limits
 * (the ADC's range for the ideal model, which has none).  D must outlive its use. */
xb_nn_backend xb_device_nn_backend(xb_device_nn *d);
extern const xb_nn_backend_type xb_device_nn_type;
/* Global number of the first sample of the next forward pass. */
void xb_device_nn_set_sample(xb_device_nn *d, uint64_t first_sample);
/* Zero every layer's statistics. */
void xb_device_nn_reset_stats(xb_device_nn *d);
/* Number of layer slots (max analog layer index + 1) and the statistics of network
 * layer I (NULL if I was never run on the device). */
int xb_device_nn_nslots(const xb_device_nn *d);
const xb_device_nn_stats *xb_device_nn_stats_of(const xb_device_nn *d, int i);
/* Record the first MVM of samples 0 .. SAMPLES-1 of every layer, with up to
 * EVENT_CAPACITY events each (0: none). */
void xb_device_nn_capture(xb_device_nn *d, size_t samples, size_t event_capacity);
/* The captured MVMs in the order they were made: *N of them (owned by D). */
const xb_device_nn_mvm *xb_device_nn_captured(const xb_device_nn *d, size_t *n);
/* The tile parameters in use. */
const xb_tile_params *xb_device_nn_params(const xb_device_nn *d);

#ifdef __cplusplus
}
#endif
#endif /* XB_DEVICE_NN_H */
