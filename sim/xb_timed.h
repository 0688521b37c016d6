/* xb_timed.h - the timed model: a network's inference as a discrete-event simulation of the processor.
 * Tiles, ADC banks, buses, links and digital units as kernel processes; latency, timeline, energy.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it models (DESIGN.md section 2, issue 5).  A processor of timed.chips chips with
 * chip.tiles tiles each runs one inference of a quantized network (xb_nn.h).  Every
 * hardware component that can be busy is a *server*: a method process of the kernel
 * (xb_kernel.h) with a FIFO queue of ready tasks, serving one task at a time; a task
 * that finishes makes its successors ready and wakes their servers with a delta
 * notification.  The servers are, per tile g: tile<g>.array (row drivers + integrators:
 * reset, baseline read, the accumulation events, the read delay) and tile<g>.adc (the
 * ADC bank and its multiplexer); per chip c: chip<c>.bus (moves input codes to the tiles
 * and ADC outputs back) and chip<c>.digital<u> (timed.digital_units units: partial sums,
 * bias, ReLU, re-quantization, pooling); and one inter-chip link.  Contention at every
 * shared point (a tile's ADC bank, a bus, the link, a digital unit, a tile's input
 * buffer) is a real queue in simulated time.
 *
 * Task durations (clock cycles turned into ps with xb_cycles_to_ps, so no rounding
 * drift).  For the MVM of position p of an analog layer on block b (row block i, column
 * block j of xb_matrix's split) with E events (num_sends included) and P conversions per
 * column (bit planes with adc.convert = bitplane, else 1):
 *   array   = timed.reset_ns + integrator.baseline_delay_us + E wait_cycles / f_event
 *             + integrator.read_delay_ns
 *   adc     = conv(type, bits) ceil(n_out / n_adc) P / f_adc,
 *             conv = bits + 1 (sar: sample + one cycle per bit), 2^bits (ramp), 1 (flash);
 *             n_adc = ceil(cols / adc.columns_per_adc) ADCs per tile, column c on ADC
 *             c mod n_adc, so a block of n_out columns needs ceil(n_out / n_adc) rounds;
 *   in/out  = timed.bus_latency_cycles + ceil(bytes / timed.bus_bytes_per_cycle) at
 *             timed.bus_mhz (1 byte per input code, 1 per output code, 2 beyond int8);
 *   digital = ceil(ops x cycles per op / timed.digital_lanes) at timed.digital_mhz.
 * E and P come from the functional tile (xb_tile_mvm statistics of the same input codes),
 * so the timed model counts exactly what the functional one counts; this is temporal
 * decoupling: an array task computes its events' times from the schedule
 * (xb_tile_event_time) and wakes only at the MVM's start and end.
 * Dependencies: in(p, b) after the layer's inputs exist and, with timed.buffer_vectors
 * = B input buffers per tile, after array(p - B, b) has started consuming its buffer
 * (its events ran: the slot is free; B = 0: unlimited); array(p, b) after in(p, b), and without timed.overlap also after
 * adc(p - 1, b) (with overlap the ADC samples and holds, so the next input streams in
 * while the previous one converts); adc after array; out after adc; the partial-sum task
 * of position p (ni rows of partial outputs added, bias added, clamped: ni x rows adds)
 * after every out(p, .); a digital layer (one task, ops = output elements x kernel area,
 * flatten 0) after the whole previous layer.  Positions of one layer therefore pipeline
 * across a tile's array and ADC and across tiles; layers run one after the other.
 *
 * Mapping policy.  Analog layers in network order take consecutive tiles, one block of
 * the layer's grid per tile (tile g is tile g mod chip.tiles of chip g / chip.tiles).
 * When the blocks of all layers fit (sum ni nj <= chips x tiles), weights are programmed
 * once by xb_timed_new (load_ps, programming energy reported apart) and stay.  If they
 * do not fit, timed.reuse = true wraps around and reprograms each tile when its next
 * block's layer starts, inside every inference (a program task on the tile's array,
 * timed.program_cycles_per_row x signed rows used, after that tile's previous MVMs); with
 * reuse = false it is XB_ECONFIG naming the tiles needed and available.  A layer's
 * digital work runs on the chip of its first tile (digital layers: of the layer before);
 * data moved between chips crosses the link.
 *
 * Energy (pJ) per layer and component: row_drivers = events x energy.event_pj; array =
 * active cells x energy.cell_pj; adc = conversions x energy.conversion_pj x
 * 2^(timed.adc_energy_scale x (adc.bits - timed.adc_ref_bits)), a conversion's energy as
 * a function of its resolution (scale 1: doubling per bit, as a ramp or flash ADC; 0:
 * energy.conversion_pj whatever the bits); digital = ops x timed.digital_op_pj; links = bytes x
 * timed.link_pj_per_byte; programming = cells programmed x timed.program_pj_per_cell;
 * static = timed.static_mw_per_tile x tiles in use x latency (shared by the layers in
 * proportion to the time between their first start and last end).
 *
 * Invariants (tests/check_timed.c).  Outputs are the functional outputs bit for bit: the
 * network's own backend computes every MVM (the timed model wraps it and only records
 * the input codes), so timing never changes a number.  The latency of simple cases is
 * the closed form above.  One simulation serves all inferences: the kernel's time keeps
 * running, each inference starts when the previous one ended, and the kernel's time
 * after N inferences equals the sum of their latencies (nothing lost or left pending).
 * Memory does not grow with the number of inferences (task arrays are reused).
 */
#ifndef XB_TIMED_H
#define XB_TIMED_H

#include "xb_base.h"
#include "xb_devices.h"
#include "xb_nn.h"
#include "xb_traces.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Processor parameters ([timed] section). */
typedef struct xb_timed_params {
	int chips;                   /* chips; tiles per chip come from chip.tiles */
	int reuse;                   /* reprogram tiles when the layers need more than exist */
	int overlap;                 /* stream the next MVM while the previous one converts */
	int buffer_vectors;          /* input buffers per tile (0 = unlimited) */
	double reset_ns;             /* integrator reset pulse before the baseline delay, ns */
	double adc_mhz;              /* ADC clock, MHz (0 = the event clock) */
	double bus_mhz;              /* on-chip bus clock, MHz */
	int bus_bytes_per_cycle;     /* bus width, bytes per cycle */
	int bus_latency_cycles;      /* fixed cycles per transfer */
	double link_mhz;             /* inter-chip link clock, MHz */
	int link_bytes_per_cycle;
	int link_latency_cycles;
	double digital_mhz;          /* digital units' clock, MHz */
	int digital_units;           /* per chip */
	int digital_lanes;           /* operations per cycle per unit */
	int add_cycles;              /* cycles per partial-sum addition */
	int act_cycles;              /* cycles per ReLU / re-quantization / batch-norm element */
	int pool_cycles;             /* cycles per pooled element (per window element) */
	int program_cycles_per_row;  /* weight programming, event-clock cycles per signed row */
	double digital_op_pj;        /* energy per digital operation, pJ */
	double link_pj_per_byte;     /* energy per byte moved (bus or link), pJ */
	double program_pj_per_cell;  /* energy per device programmed, pJ */
	double static_mw_per_tile;   /* static power per tile in use, mW */
	int adc_ref_bits;            /* bits at which energy.conversion_pj holds */
	double adc_energy_scale;     /* conversion energy x 2^(scale (bits - ref)): 0 none, 1 per bit */
} xb_timed_params;

xb_timed_params xb_timed_default_params(void);
/* Register the [timed] keys.  Idempotent (the assembly layer calls it from keys.c). */
void xb_timed_register_keys(void);
/* Fill P from CFG (the [timed] keys must be registered) and check it: XB_ECONFIG naming
 * the key and what is allowed. */
xb_status xb_timed_params_from_config(const xb_config *cfg, xb_timed_params *p, xb_err *err);
xb_status xb_timed_params_check(const xb_timed_params *p, xb_err *err);

/* Energy components. */
typedef enum xb_timed_energy {
	XB_TIMED_E_ROW_DRIVERS = 0, XB_TIMED_E_ARRAY, XB_TIMED_E_ADC, XB_TIMED_E_DIGITAL,
	XB_TIMED_E_LINKS, XB_TIMED_E_PROGRAMMING, XB_TIMED_E_STATIC, XB_TIMED_NENERGY
} xb_timed_energy;
/* "row_drivers", "array", "adc", "digital", "links", "programming", "static". */
const char *xb_timed_energy_name(int component);

/* Kinds of task (timeline entries). */
typedef enum xb_timed_kind {
	XB_TIMED_K_PROGRAM = 0, XB_TIMED_K_INPUT, XB_TIMED_K_MVM, XB_TIMED_K_CONVERT,
	XB_TIMED_K_OUTPUT, XB_TIMED_K_PSUM, XB_TIMED_K_DIGITAL, XB_TIMED_K_LINK, XB_TIMED_NKINDS
} xb_timed_kind;
/* "program", "input", "mvm", "convert", "output", "psum", "digital", "link". */
const char *xb_timed_kind_name(int kind);

/* One busy interval of a component. */
typedef struct xb_timed_interval {
	uint32_t component;          /* index into xb_timed_result.component_names */
	int32_t layer;               /* network layer index */
	int32_t kind;                /* xb_timed_kind */
	int32_t position;            /* MVM position in the layer (-1: whole layer) */
	xb_time_ps start_ps, end_ps; /* from the start of the inference */
} xb_timed_interval;

/* What one inference measured.  Owned by the xb_timed; valid until the next call. */
typedef struct xb_timed_result {
	xb_time_ps latency_ps;       /* first task start to last task end */
	size_t ncomponents;
	const char *const *component_names;  /* [ncomponents] */
	const xb_time_ps *busy_ps;   /* [ncomponents] busy time of each component */
	size_t nlayers;
	const double *energy_pj;     /* [nlayers][XB_TIMED_NENERGY] */
	double energy_total_pj;
	const xb_timed_interval *timeline;   /* [ntimeline] in start order */
	size_t ntimeline;
	uint64_t mvms;               /* tile MVMs (one per position and block) */
	uint64_t events, conversions, active_cells;
	uint64_t kernel_activations; /* callbacks the kernel ran for this inference */
} xb_timed_result;

typedef struct xb_timed xb_timed;

/* A timed processor running NET (quantized, xb_nn_net_quantize; the net's backend
 * computes every number) with tile parameters TP and processor parameters PP.  The net
 * is borrowed: it must outlive the xb_timed and keep its shapes and weights (a change
 * of weights is seen at the next inference).  NULL with the message on ERR: XB_ESTATE
 * for a net not in quantized mode, XB_ECONFIG for bad parameters or a mapping that does
 * not fit, XB_ENOMEM, XB_EKERNEL. */
xb_timed *xb_timed_new_params(const xb_tile_params *tp, const xb_timed_params *pp,
			      xb_nn_net *net, xb_err *err);
/* The same with both parameter sets read from CFG ([tile]... and [timed] keys). */
xb_timed *xb_timed_new(const xb_config *cfg, xb_nn_net *net, xb_err *err);
void xb_timed_free(xb_timed *t);
const char *xb_timed_errmsg(const xb_timed *t);

/* Time of the weight programming done by xb_timed_new (0 with reuse) and its energy. */
xb_time_ps xb_timed_load_ps(const xb_timed *t);
double xb_timed_load_energy_pj(const xb_timed *t);
/* Tiles the mapping uses (layers' blocks, at most chips x tiles). */
size_t xb_timed_tiles_used(const xb_timed *t);

/* Compute the numbers through BE (copied; its state must outlive its use) instead of the
 * network's backend; NULL returns to the network's.  For a run that must not count the
 * timed forwards in its own device backend's statistics: give the timed model a second
 * device backend made with the same parameters (same chip seed, same calibration), which
 * computes the same numbers.  XB_EINVAL for a NULL handle. */
xb_status xb_timed_set_backend(xb_timed *t, const xb_nn_backend *be);

/* Run one inference of sample X[in] (float features, as xb_nn_net_forward takes) and
 * write its outputs to Y[out] (NULL: not wanted); Y equals xb_nn_net_forward(net, 1, X,
 * Y, 0) bit for bit.  *RES (may be NULL) points at the measurements, valid until the
 * next call.  A backend keyed by sample number must be set to the sample by the caller
 * before the call, as for a functional forward of that sample alone.  Errors: those of
 * the forward (message copied), XB_EKERNEL.  The result is also added to the
 * statistics below. */
xb_status xb_timed_infer(xb_timed *t, const float *x, float *y, const xb_timed_result **res);

/* Statistics over the inferences since xb_timed_new or the last reset. */
typedef struct xb_timed_summary {
	uint64_t inferences;
	double latency_ns_mean, latency_ns_p50, latency_ns_p99, latency_ns_min, latency_ns_max;
	double throughput_per_s;     /* inferences per second of simulated time, back to back */
	double energy_pj_mean;       /* per inference, load energy excluded */
} xb_timed_summary;
void xb_timed_summarize(const xb_timed *t, xb_timed_summary *s);
void xb_timed_reset_stats(xb_timed *t);
/* Simulated time of the kernel (sum of all latencies since xb_timed_new). */
xb_time_ps xb_timed_now(const xb_timed *t);

/* Write the timed groups of a trace to W (its root must exist; the groups must not):
 *   /timeline (schema xbarsim-timeline 1): the first inference's busy intervals since
 *     the last reset: component [n] int32, layer [n] int32, kind [n] int32, position [n]
 *     int32, start_ns [n] float64, end_ns [n] float64; attributes components (names,
 *     newline-separated), kinds (likewise);
 *   /timing (schema xbarsim-timing 1): attributes inferences, latency_ns_mean/_p50/_p99,
 *     throughput_per_s, load_ns, load_energy_pj; datasets latency_ns [N] float64,
 *     utilisation [ncomponents] float64 (busy / total time, mean over inferences),
 *     energy_pj [nlayers][XB_TIMED_NENERGY] float64 (mean per inference), attributes
 *     components and energy_components (newline-separated names).
 * XB_ESTATE before any inference; errors of the writer (message on ERR). */
xb_status xb_timed_write_trace(const xb_timed *t, xb_h5w *w, xb_err *err);

/* ---- integration with `xbarsim run` (sim/xb_run.h) ------------------------------------------ */

/* State of the run hook: T times at most LIMIT inferences (run --timed N), counting in
 * DONE.  Zero-initialise, then set t and limit. */
typedef struct xb_timed_hook {
	xb_timed *t;
	uint64_t limit;              /* inferences to time (0 = every sample) */
	uint64_t done;               /* inferences timed so far */
} xb_timed_hook;

/* The xb_run_timed.batch hook (UD = xb_timed_hook *): times samples FIRST .. FIRST+N-1
 * of X one by one (setting the device's sample number first, as the functional forward
 * of that sample saw it) until the hook's limit, and adds their latencies, ns, to
 * *LATENCY_NS.  NET must be the net the xb_timed was made with; DEV may be NULL when the
 * xb_timed has its own backend (xb_timed_set_backend; DEV's sample is then not set: give
 * that backend's sample yourself or use a backend not keyed by sample).  Errors of
 * xb_timed_infer, message on ERR. */
struct xb_device_nn;
xb_status xb_timed_run_batch(void *ud, xb_nn_net *net, struct xb_device_nn *dev, uint64_t first,
			     size_t n, const float *x, double *latency_ns, xb_err *err);

/* ---- the report (`xbarsim report`) ------------------------------------------------------ */

/* Draw the figures of the xbarsim file H5 into the new directory OUT_DIR, by its root
 * schema.  A trace (xbarsim-trace): energy by layer and component (energy.dat from the
 * /layers/<n> energy_*_pj attributes; energy_timed.dat from /timing/energy_pj), a Gantt
 * chart of the components (timeline.dat, if /timeline), integrator trajectories of the
 * traced MVMs (events_<n>_<k>.dat: time_ns then v_lsb per column, if /events) and ADC
 * code histograms (adc_hist_<n>.dat: code, count, saturated 0/1 at adc.min/adc.max of the
 * root config, default -128/127, if /mvm).  A sweep (xbarsim-sweep): one <metric>.dat per
 * metric of /points against the first swept key, one block per value of the second (done
 * points only).  Each .dat has a .gp gnuplot script next to it; with GNUPLOT (path; NULL =
 * the one found by configure, "" = none) they are drawn as .png (pngcairo, else png).
 * summary.md links what was made and says when figures could not be drawn.  Everything is
 * written into a temporary directory renamed to OUT_DIR at the end, so OUT_DIR appears
 * complete or not at all.  *FIGURES (may be NULL) gets the number of PNGs drawn, -1
 * without gnuplot.  Errors (message on ERR naming the file and dataset): XB_ENOENT,
 * XB_EFORMAT (unknown schema, bad dataset), XB_EIO (OUT_DIR exists, writing failed). */
xb_status xb_timed_report(const char *h5, const char *out_dir, const char *gnuplot,
			  int *figures, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_TIMED_H */
