/* timed.c - the timed model: processor mapping, task graph of one inference, servers on the kernel.
 * Numbers come from the network's own backend; this file only adds time and energy.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "timed_int.h"
#include "xb_kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* ---- parameters and keys --------------------------------------------------------------- */

static const xb_key timed_keys[] = {
	{ "timed.chips", XB_KEY_INT, "chips", 1, 4096, NULL, "1",
	  "chips of the processor (tiles per chip: chip.tiles)" },
	{ "timed.reuse", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "reprogram tiles in every inference when the layers need more tiles than exist" },
	{ "timed.overlap", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "stream the next MVM into a tile while the previous one converts (sample and hold)" },
	{ "timed.buffer_vectors", XB_KEY_INT, "vectors", 0, 1e6, NULL, "2",
	  "input buffers per tile, in input vectors (0 = unlimited)" },
	{ "timed.reset_ns", XB_KEY_DOUBLE, "ns", 0, 1e9, NULL, "0",
	  "integrator reset pulse before the baseline delay starts" },
	{ "timed.adc_mhz", XB_KEY_DOUBLE, "MHz", 0, 1e6, NULL, "0",
	  "ADC clock (0 = the event clock, clock.event_mhz)" },
	{ "timed.bus_mhz", XB_KEY_DOUBLE, "MHz", 1e-6, 1e6, NULL, "250",
	  "on-chip bus clock (input codes to tiles, outputs back)" },
	{ "timed.bus_bytes_per_cycle", XB_KEY_INT, "bytes", 1, 1e6, NULL, "16",
	  "on-chip bus width" },
	{ "timed.bus_latency_cycles", XB_KEY_INT, "cycles", 0, 1e6, NULL, "2",
	  "fixed bus cycles per transfer" },
	{ "timed.link_mhz", XB_KEY_DOUBLE, "MHz", 1e-6, 1e6, NULL, "125",
	  "inter-chip link clock" },
	{ "timed.link_bytes_per_cycle", XB_KEY_INT, "bytes", 1, 1e6, NULL, "4",
	  "inter-chip link width" },
	{ "timed.link_latency_cycles", XB_KEY_INT, "cycles", 0, 1e6, NULL, "20",
	  "fixed link cycles per transfer" },
	{ "timed.digital_mhz", XB_KEY_DOUBLE, "MHz", 1e-6, 1e6, NULL, "250",
	  "clock of the digital units (partial sums, ReLU, re-quantization, pooling)" },
	{ "timed.digital_units", XB_KEY_INT, "units", 1, 4096, NULL, "1",
	  "digital units per chip" },
	{ "timed.digital_lanes", XB_KEY_INT, "ops/cycle", 1, 1e6, NULL, "8",
	  "operations per cycle of one digital unit (SIMD lanes)" },
	{ "timed.add_cycles", XB_KEY_INT, "cycles", 0, 1e6, NULL, "1",
	  "cycles per partial-sum addition (and per depthwise MAC)" },
	{ "timed.act_cycles", XB_KEY_INT, "cycles", 0, 1e6, NULL, "1",
	  "cycles per ReLU, re-quantization or batch-norm element" },
	{ "timed.pool_cycles", XB_KEY_INT, "cycles", 0, 1e6, NULL, "1",
	  "cycles per pooling window element" },
	{ "timed.program_cycles_per_row", XB_KEY_INT, "cycles", 0, 1e9, NULL, "256",
	  "weight programming time per signed row, event-clock cycles" },
	{ "timed.digital_op_pj", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "0.5",
	  "energy per digital operation" },
	{ "timed.link_pj_per_byte", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "2",
	  "energy per byte moved over a bus or link" },
	{ "timed.program_pj_per_cell", XB_KEY_DOUBLE, "pJ", 0, 1e9, NULL, "10",
	  "energy per device programmed" },
	{ "timed.static_mw_per_tile", XB_KEY_DOUBLE, "mW", 0, 1e9, NULL, "1",
	  "static power of a tile in use" },
	{ "timed.adc_ref_bits", XB_KEY_INT, "bits", 1, 24, NULL, "8",
	  "resolution at which energy.conversion_pj holds" },
	{ "timed.adc_energy_scale", XB_KEY_DOUBLE, "", 0, 4, NULL, "1",
	  "conversion energy x 2^(scale (adc.bits - adc_ref_bits)): 1 doubles per bit, 0 none" },
};

void xb_timed_register_keys(void)
{
	xb_config_register(timed_keys, sizeof timed_keys / sizeof *timed_keys);
}

xb_timed_params xb_timed_default_params(void)
{
	xb_timed_params p = {
		.chips = 1, .reuse = 1, .overlap = 1, .buffer_vectors = 2, .reset_ns = 0,
		.adc_mhz = 0, .bus_mhz = 250, .bus_bytes_per_cycle = 16, .bus_latency_cycles = 2,
		.link_mhz = 125, .link_bytes_per_cycle = 4, .link_latency_cycles = 20,
		.digital_mhz = 250, .digital_units = 1, .digital_lanes = 8, .add_cycles = 1,
		.act_cycles = 1, .pool_cycles = 1, .program_cycles_per_row = 256,
		.digital_op_pj = 0.5, .link_pj_per_byte = 2, .program_pj_per_cell = 10,
		.static_mw_per_tile = 1, .adc_ref_bits = 8, .adc_energy_scale = 1,
	};
	return p;
}

xb_status xb_timed_params_check(const xb_timed_params *p, xb_err *err)
{
	if (!p)
		return xb_raise(err, XB_EINVAL, "xb_timed_params_check: NULL parameters");
	if (p->chips < 1)
		return xb_raise(err, XB_ECONFIG, "timed.chips = %d: expected at least 1 chip", p->chips);
	if (p->digital_units < 1 || p->digital_lanes < 1)
		return xb_raise(err, XB_ECONFIG, "timed.digital_units = %d, timed.digital_lanes = %d: "
				"expected at least 1 of each", p->digital_units, p->digital_lanes);
	if (p->bus_bytes_per_cycle < 1 || p->link_bytes_per_cycle < 1)
		return xb_raise(err, XB_ECONFIG, "timed.bus_bytes_per_cycle = %d, "
				"timed.link_bytes_per_cycle = %d: expected at least 1 byte per cycle",
				p->bus_bytes_per_cycle, p->link_bytes_per_cycle);
	if (!(p->bus_mhz > 0) || !(p->link_mhz > 0) || !(p->digital_mhz > 0) || !(p->adc_mhz >= 0))
		return xb_raise(err, XB_ECONFIG, "timed.bus_mhz = %g, timed.link_mhz = %g, "
				"timed.digital_mhz = %g, timed.adc_mhz = %g: expected clocks > 0 "
				"(adc_mhz may be 0: the event clock)", p->bus_mhz, p->link_mhz,
				p->digital_mhz, p->adc_mhz);
	if (p->buffer_vectors < 0 || p->bus_latency_cycles < 0 || p->link_latency_cycles < 0 ||
	    p->add_cycles < 0 || p->act_cycles < 0 || p->pool_cycles < 0 ||
	    p->program_cycles_per_row < 0 || !(p->reset_ns >= 0))
		return xb_raise(err, XB_ECONFIG, "timed.*_cycles, timed.buffer_vectors, "
				"timed.reset_ns: expected values >= 0");
	if (!(p->digital_op_pj >= 0) || !(p->link_pj_per_byte >= 0) || !(p->program_pj_per_cell >= 0) ||
	    !(p->static_mw_per_tile >= 0) || !(p->adc_energy_scale >= 0) || p->adc_ref_bits < 1)
		return xb_raise(err, XB_ECONFIG, "timed.*_pj, timed.static_mw_per_tile, "
				"timed.adc_energy_scale: expected values >= 0, timed.adc_ref_bits >= 1");
	return XB_OK;
}

xb_status xb_timed_params_from_config(const xb_config *cfg, xb_timed_params *p, xb_err *err)
{
	xb_timed_params q;

	if (!cfg || !p)
		return xb_raise(err, XB_EINVAL, "xb_timed_params_from_config: NULL argument");
	if (!xb_config_key("timed.chips"))
		return xb_raise(err, XB_ESTATE, "xb_timed_params_from_config: the [timed] keys are "
				"not registered (call xb_timed_register_keys)");
	q.chips = (int)xb_config_int(cfg, "timed.chips");
	q.reuse = xb_config_bool(cfg, "timed.reuse");
	q.overlap = xb_config_bool(cfg, "timed.overlap");
	q.buffer_vectors = (int)xb_config_int(cfg, "timed.buffer_vectors");
	q.reset_ns = xb_config_double(cfg, "timed.reset_ns");
	q.adc_mhz = xb_config_double(cfg, "timed.adc_mhz");
	q.bus_mhz = xb_config_double(cfg, "timed.bus_mhz");
	q.bus_bytes_per_cycle = (int)xb_config_int(cfg, "timed.bus_bytes_per_cycle");
	q.bus_latency_cycles = (int)xb_config_int(cfg, "timed.bus_latency_cycles");
	q.link_mhz = xb_config_double(cfg, "timed.link_mhz");
	q.link_bytes_per_cycle = (int)xb_config_int(cfg, "timed.link_bytes_per_cycle");
	q.link_latency_cycles = (int)xb_config_int(cfg, "timed.link_latency_cycles");
	q.digital_mhz = xb_config_double(cfg, "timed.digital_mhz");
	q.digital_units = (int)xb_config_int(cfg, "timed.digital_units");
	q.digital_lanes = (int)xb_config_int(cfg, "timed.digital_lanes");
	q.add_cycles = (int)xb_config_int(cfg, "timed.add_cycles");
	q.act_cycles = (int)xb_config_int(cfg, "timed.act_cycles");
	q.pool_cycles = (int)xb_config_int(cfg, "timed.pool_cycles");
	q.program_cycles_per_row = (int)xb_config_int(cfg, "timed.program_cycles_per_row");
	q.digital_op_pj = xb_config_double(cfg, "timed.digital_op_pj");
	q.link_pj_per_byte = xb_config_double(cfg, "timed.link_pj_per_byte");
	q.program_pj_per_cell = xb_config_double(cfg, "timed.program_pj_per_cell");
	q.static_mw_per_tile = xb_config_double(cfg, "timed.static_mw_per_tile");
	q.adc_ref_bits = (int)xb_config_int(cfg, "timed.adc_ref_bits");
	q.adc_energy_scale = xb_config_double(cfg, "timed.adc_energy_scale");
	if (xb_timed_params_check(&q, err))
		return err ? err->code : XB_ECONFIG;
	*p = q;
	return XB_OK;
}

static const char *const energy_names[XB_TIMED_NENERGY] = {
	"row_drivers", "array", "adc", "digital", "links", "programming", "static"
};
static const char *const kind_names[XB_TIMED_NKINDS] = {
	"program", "input", "mvm", "convert", "output", "psum", "digital", "link"
};

const char *xb_timed_energy_name(int c)
{
	return c >= 0 && c < XB_TIMED_NENERGY ? energy_names[c] : "?";
}

const char *xb_timed_kind_name(int k)
{
	return k >= 0 && k < XB_TIMED_NKINDS ? kind_names[k] : "?";
}

/* ---- the processor ----------------------------------------------------------------- */

typedef struct task {
	uint32_t server;          /* NONE: a barrier, done as soon as its dependencies are */
	int32_t layer, kind, position;
	xb_time_ps dur_ps;
	uint32_t deps_left;
	uint32_t succ0, nsucc;    /* successors in t->succ */
	uint32_t next;            /* server queue link */
	xb_time_ps start_ps, end_ps;
	int done;
} task;

typedef struct server {
	struct xb_timed *t;
	char name[40];
	xb_event wake, done;
	uint32_t head, tail, cur;
	xb_time_ps cur_end;
	xb_time_ps busy_ps;
} server;

/* Per analog layer: mapping and the input codes recorded during the forward. */
typedef struct alayer {
	int index;                /* network layer */
	size_t rows, cols;        /* outputs, inputs of the matrix */
	size_t ni, nj;            /* grid */
	uint32_t *tile;           /* [ni nj] tile of block (i, j) */
	int reprogram;            /* reuse: program the blocks at the layer start */
	uint8_t *xq;              /* [npos][cols] recorded codes */
	size_t npos, cap;
	int out_bytes;            /* bytes per output code */
	int sends;                /* the layer's sends (input.num_sends of its tiles) */
} alayer;

struct xb_timed {
	xb_err err;
	xb_tile_params tp;
	xb_timed_params pp;
	xb_nn_net *net;
	xb_nn_backend inner;      /* the backend computing the numbers while an inference runs */
	xb_nn_backend own;        /* xb_timed_set_backend's backend ... */
	int has_own;              /* ... if set */
	int nlayers;
	alayer *al;               /* [nlayers]: al[l].index < 0 for digital layers */
	int *home;                /* [nlayers] chip holding each layer's output */
	size_t ntiles, tiles_total, rs, cols;
	size_t nservers;
	server *srv;
	const char **srv_names;
	char *names;              /* storage of the names */
	uint32_t srv_link;        /* index of the inter-chip link server */
	xb_kernel *k;
	xb_tile *scratch;         /* counts events/conversions of the recorded codes */
	xb_tile_work *work;
	xb_tile *scratch_s[XB_NN_MAX_SENDS + 1];     /* ... of layers with other sends */
	xb_tile_work *work_s[XB_NN_MAX_SENDS + 1];
	xb_mvm_stats *stats;
	int32_t *yscratch;
	size_t stats_cap, y_cap;
	float *yout;
	size_t yout_cap;
	/* the task graph of one inference */
	task *tasks;
	size_t ntasks, tasks_cap;
	uint32_t *efrom, *eto;
	size_t nedges, edges_cap;
	uint32_t *succ;
	size_t succ_cap;
	uint32_t *roots;
	size_t roots_cap;
	xb_status cb_status;
	/* results */
	xb_time_ps *busy;
	double *energy;           /* [nlayers][NENERGY] of the last inference */
	xb_timed_interval *tl;
	size_t ntl, tl_cap;
	xb_timed_result res;
	xb_time_ps load_ps;
	double load_pj;
	/* statistics */
	xb_time_ps *lat;
	size_t nlat, lat_cap;
	double *energy_sum;
	double *busy_sum;         /* ps summed */
	xb_timed_interval *tl0;   /* first inference's timeline since reset */
	size_t ntl0;
	xb_time_ps total_ps;
};

static xb_status grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return XB_OK;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return XB_ENOMEM;
	*p = q;
	*cap = n;
	return XB_OK;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return b ? (a + b - 1) / b : 0;
}

/* ---- servers on the kernel ----------------------------------------------------------- */

static void task_finish(xb_timed *t, uint32_t id, xb_time_ps now);

static void task_ready(xb_timed *t, uint32_t id, xb_time_ps now)
{
	task *tk = &t->tasks[id];

	if (tk->server == NONE) {
		tk->start_ps = now;
		task_finish(t, id, now);
		return;
	}
	server *s = &t->srv[tk->server];
	tk->next = NONE;
	if (s->tail == NONE)
		s->head = id;
	else
		t->tasks[s->tail].next = id;
	s->tail = id;
	xb_status st = xb_kernel_notify(t->k, s->wake, 0);
	if (st && !t->cb_status)
		t->cb_status = st;
}

static void task_finish(xb_timed *t, uint32_t id, xb_time_ps now)
{
	task *tk = &t->tasks[id];

	tk->end_ps = now;
	tk->done = 1;
	for (uint32_t e = 0; e < tk->nsucc; e++) {
		uint32_t s = t->succ[tk->succ0 + e];
		if (--t->tasks[s].deps_left == 0)
			task_ready(t, s, now);
	}
}

/* A component: finish the task in service when its time is up, then start the next. */
static void server_fn(xb_kernel *k, void *ud)
{
	server *s = ud;
	xb_timed *t = s->t;
	xb_time_ps now = xb_kernel_now(k);

	if (s->cur != NONE && now >= s->cur_end) {
		uint32_t id = s->cur;
		s->cur = NONE;
		task_finish(t, id, now);
	}
	if (s->cur == NONE && s->head != NONE) {
		uint32_t id = s->head;
		task *tk = &t->tasks[id];
		s->head = tk->next;
		if (s->head == NONE)
			s->tail = NONE;
		tk->start_ps = now;
		s->cur = id;
		s->cur_end = now + tk->dur_ps;
		s->busy_ps += tk->dur_ps;
		xb_status st = xb_kernel_notify(k, s->done, tk->dur_ps);
		if (st && !t->cb_status) {
			t->cb_status = st;
			xb_kernel_stop(k);
		}
	}
}

/* ---- the wrapping backend ------------------------------------------------------------- */

static xb_status wrap_codes(void *state, const xb_nn_mvm *op, size_t n, const uint8_t *xq,
			    float *y_lsb, xb_err *err)
{
	xb_timed *t = state;
	const xb_nn_backend_type *in = t->inner.type;
	xb_status st;

	if (in && in->mvm_codes)
		st = in->mvm_codes(t->inner.state, op, n, xq, y_lsb, err);
	else
		st = xb_nn_backend_float_type.mvm_codes(NULL, op, n, xq, y_lsb, err);
	if (st)
		return st;
	int li = op->layer->index;
	if (li < 0 || li >= t->nlayers || t->al[li].index != li || op->cols != t->al[li].cols)
		return xb_raise(err, XB_EINTERNAL, "timed: MVM of layer %d does not match the "
				"mapping", li);
	alayer *a = &t->al[li];
	void *p = a->xq;
	a->sends = op->sends;
	if (grow(&p, &a->cap, (a->npos + n) * a->cols, 1))
		return xb_raise(err, XB_ENOMEM, "timed: out of memory recording layer %d", li);
	a->xq = p;
	memcpy(a->xq + a->npos * a->cols, xq, n * a->cols);
	a->npos += n;
	return XB_OK;
}

static xb_status wrap_float(void *state, const xb_nn_mvm *op, size_t n, const float *x,
			    float *y, xb_err *err)
{
	(void)state; (void)op; (void)n; (void)x; (void)y;
	return xb_raise(err, XB_ESTATE, "timed: the network ran in float mode (timed mode needs "
			"a quantized network)");
}

static const xb_nn_backend_type wrap_type = { "timed", wrap_float, wrap_codes };

/* ---- construction -------------------------------------------------------------------- */

const char *xb_timed_errmsg(const xb_timed *t)
{
	return t ? t->err.msg : xb_errmsg(NULL);
}

void xb_timed_free(xb_timed *t)
{
	if (!t)
		return;
	if (t->al)
		for (int l = 0; l < t->nlayers; l++) {
			free(t->al[l].tile);
			free(t->al[l].xq);
		}
	free(t->al);
	free(t->home);
	xb_kernel_free(t->k);
	free(t->srv);
	free(t->names);
	free(t->srv_names);
	xb_tile_work_free(t->work);
	xb_tile_free(t->scratch);
	for (int s = 0; s <= XB_NN_MAX_SENDS; s++) {
		xb_tile_work_free(t->work_s[s]);
		xb_tile_free(t->scratch_s[s]);
	}
	free(t->stats);
	free(t->yscratch);
	free(t->yout);
	free(t->tasks);
	free(t->efrom);
	free(t->eto);
	free(t->succ);
	free(t->roots);
	free(t->busy);
	free(t->energy);
	free(t->tl);
	free(t->lat);
	free(t->energy_sum);
	free(t->busy_sum);
	free(t->tl0);
	free(t);
}

static xb_time_ps program_ps(const xb_timed *t, size_t rows)
{
	return xb_cycles_to_ps((uint64_t)t->pp.program_cycles_per_row * rows, t->tp.input.event_mhz);
}

xb_timed *xb_timed_new_params(const xb_tile_params *tp, const xb_timed_params *pp,
			      xb_nn_net *net, xb_err *err)
{
	xb_timed *t = NULL;

	if (!tp || !pp || !net) {
		xb_raise(err, XB_EINVAL, "xb_timed_new: NULL argument");
		return NULL;
	}
	if (xb_tile_params_check(tp, err) || xb_timed_params_check(pp, err))
		return NULL;
	if (!xb_nn_net_quantized(net)) {
		xb_raise(err, XB_ESTATE, "xb_timed_new: the network is not in quantized mode "
			 "(quantize it first: timed mode runs the device's integer pipeline)");
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t)
		goto nomem;
	t->tp = *tp;
	t->pp = *pp;
	t->net = net;
	t->nlayers = xb_nn_net_nlayers(net);
	t->rs = (size_t)xb_tile_params_signed_rows(tp);
	t->cols = (size_t)tp->array.cols;
	t->tiles_total = (size_t)pp->chips * (size_t)tp->tiles_per_chip;
	t->al = calloc((size_t)t->nlayers + 1, sizeof *t->al);
	t->home = calloc((size_t)t->nlayers + 1, sizeof *t->home);
	t->energy = calloc((size_t)t->nlayers * XB_TIMED_NENERGY + 1, sizeof *t->energy);
	t->energy_sum = calloc((size_t)t->nlayers * XB_TIMED_NENERGY + 1, sizeof *t->energy_sum);
	if (!t->al || !t->home || !t->energy || !t->energy_sum)
		goto nomem;

	/* mapping: analog layers take consecutive tiles, one block per tile */
	size_t blocks = 0, used = 0;
	int32_t lo, hi;
	xb_tile_output_range(tp, &lo, &hi);
	for (int l = 0; l < t->nlayers; l++) {
		const xb_nn_layer *ly = xb_nn_net_layer(net, l);
		alayer *a = &t->al[l];
		a->index = -1;
		if (ly->type->exec != XB_NN_ANALOG)
			continue;
		a->index = l;
		a->rows = ly->rows;
		a->cols = ly->q.x_split ? 2 * ly->cols : ly->cols;   /* row pairs: xb_nn.h */
		a->ni = ceil_div(a->cols, t->rs);
		a->nj = ceil_div(a->rows, t->cols);
		a->out_bytes = lo < -128 || hi > 127 ? 2 : 1;
		a->tile = malloc(a->ni * a->nj * sizeof *a->tile);
		if (!a->tile)
			goto nomem;
		for (size_t b = 0; b < a->ni * a->nj; b++, blocks++) {
			if (blocks >= t->tiles_total && !pp->reuse) {
				size_t need = blocks;
				for (int m = l; m < t->nlayers; m++) {
					const xb_nn_layer *lm = xb_nn_net_layer(net, m);
					if (lm->type->exec == XB_NN_ANALOG)
						need += ceil_div(lm->cols, t->rs) * ceil_div(lm->rows, t->cols);
				}
				need -= b;
				xb_raise(err, XB_ECONFIG, "timed: the network needs %zu tiles (layer %d "
					 "alone %zu) but the processor has %zu (timed.chips = %d x "
					 "chip.tiles = %d) and timed.reuse = false: allow reuse or add "
					 "chips", need, l, a->ni * a->nj, t->tiles_total, pp->chips,
					 tp->tiles_per_chip);
				goto fail;
			}
			a->tile[b] = (uint32_t)(blocks % t->tiles_total);
		}
	}
	int reuse_active = blocks > t->tiles_total;
	used = blocks < t->tiles_total ? blocks : t->tiles_total;
	t->ntiles = used;
	int prev_home = 0;
	for (int l = 0; l < t->nlayers; l++) {
		alayer *a = &t->al[l];
		if (a->index >= 0) {
			a->reprogram = reuse_active;
			prev_home = (int)(a->tile[0] / (uint32_t)tp->tiles_per_chip);
		}
		t->home[l] = prev_home;
	}
	/* static weights: programmed once, tiles in parallel */
	if (!reuse_active)
		for (int l = 0; l < t->nlayers; l++) {
			alayer *a = &t->al[l];
			if (a->index < 0)
				continue;
			for (size_t i = 0; i < a->ni; i++)
				for (size_t j = 0; j < a->nj; j++) {
					size_t r = i + 1 < a->ni ? t->rs : a->cols - i * t->rs;
					size_t c = j + 1 < a->nj ? t->cols : a->rows - j * t->cols;
					xb_time_ps ps = program_ps(t, r);
					if (ps > t->load_ps)
						t->load_ps = ps;
					t->load_pj += 2.0 * (double)r * (double)c * pp->program_pj_per_cell;
				}
		}

	/* servers: tile array + adc, per chip a bus and the digital units, one link */
	size_t per_chip = 1 + (size_t)pp->digital_units;
	t->nservers = 2 * used + (size_t)pp->chips * per_chip + 1;
	t->srv = calloc(t->nservers, sizeof *t->srv);
	t->srv_names = calloc(t->nservers, sizeof *t->srv_names);
	t->busy = calloc(t->nservers, sizeof *t->busy);
	t->busy_sum = calloc(t->nservers, sizeof *t->busy_sum);
	char *names = t->names = calloc(t->nservers, sizeof t->srv->name);
	if (!t->srv || !t->srv_names || !t->busy || !t->busy_sum || !names)
		goto nomem;
	for (size_t g = 0; g < used; g++) {
		snprintf(t->srv[2 * g].name, sizeof t->srv->name, "tile%zu.array", g);
		snprintf(t->srv[2 * g + 1].name, sizeof t->srv->name, "tile%zu.adc", g);
	}
	for (int c = 0; c < pp->chips; c++) {
		server *s = &t->srv[2 * used + (size_t)c * per_chip];
		snprintf(s[0].name, sizeof s->name, "chip%d.bus", c);
		for (int u = 0; u < pp->digital_units; u++)
			snprintf(s[1 + u].name, sizeof s->name, "chip%d.digital%d", c, u);
	}
	t->srv_link = (uint32_t)(t->nservers - 1);
	snprintf(t->srv[t->srv_link].name, sizeof t->srv->name, "link");
	for (size_t s = 0; s < t->nservers; s++) {
		memcpy(names + s * sizeof t->srv->name, t->srv[s].name, sizeof t->srv->name);
		t->srv_names[s] = names + s * sizeof t->srv->name;
	}

	t->k = xb_kernel_new(err);
	if (!t->k)
		goto fail;
	for (size_t s = 0; s < t->nservers; s++) {
		server *sv = &t->srv[s];
		xb_event ev[2];
		sv->t = t;
		sv->head = sv->tail = sv->cur = NONE;
		if (xb_kernel_event_new(t->k, "wake", &sv->wake) ||
		    xb_kernel_event_new(t->k, "done", &sv->done))
			goto kerr;
		ev[0] = sv->wake;
		ev[1] = sv->done;
		if (xb_kernel_process_new(t->k, sv->name, server_fn, sv, ev, 2,
					  XB_PROCESS_DONT_INITIALIZE, NULL))
			goto kerr;
	}

	/* the counting tile: geometry of the processor's tiles, weights 0 (counts do not
	 * depend on weights) */
	t->scratch = xb_tile_new(tp, 0, 0, err);
	if (!t->scratch)
		goto fail;
	{
		int8_t *zero = calloc(t->rs * t->cols, 1);
		if (!zero)
			goto nomem;
		xb_status st = xb_tile_program(t->scratch, zero, t->cols, t->rs, t->cols);
		free(zero);
		if (st) {
			xb_err_copy(err, NULL);
			xb_raise(err, st, "timed: %s", xb_tile_errmsg(t->scratch));
			goto fail;
		}
	}
	t->work = xb_tile_work_new(t->scratch, err);
	if (!t->work)
		goto fail;
	return t;
kerr:
	xb_raise(err, XB_EKERNEL, "timed: %s", xb_kernel_errmsg(t->k));
	goto fail;
nomem:
	xb_raise(err, XB_ENOMEM, "xb_timed_new: out of memory");
fail:
	xb_timed_free(t);
	return NULL;
}

xb_timed *xb_timed_new(const xb_config *cfg, xb_nn_net *net, xb_err *err)
{
	xb_tile_params tp;
	xb_timed_params pp;

	if (!cfg) {
		xb_raise(err, XB_EINVAL, "xb_timed_new: NULL configuration");
		return NULL;
	}
	if (xb_tile_params_from_config(cfg, &tp, err) || xb_timed_params_from_config(cfg, &pp, err))
		return NULL;
	return xb_timed_new_params(&tp, &pp, net, err);
}

xb_status xb_timed_set_backend(xb_timed *t, const xb_nn_backend *be)
{
	if (!t)
		return xb_raise(NULL, XB_EINVAL, "xb_timed_set_backend: NULL handle");
	if (be && (!be->type || !(be->gain > 0)))
		return xb_raise(&t->err, XB_EINVAL, "xb_timed_set_backend: a backend needs a type "
				"and a gain > 0");
	t->has_own = be != NULL;
	if (be)
		t->own = *be;
	return XB_OK;
}

xb_time_ps xb_timed_load_ps(const xb_timed *t)
{
	return t ? t->load_ps : 0;
}

double xb_timed_load_energy_pj(const xb_timed *t)
{
	return t ? t->load_pj : 0;
}

size_t xb_timed_tiles_used(const xb_timed *t)
{
	return t ? t->ntiles : 0;
}

xb_time_ps xb_timed_now(const xb_timed *t)
{
	return t ? t->total_ps : 0;
}

/* ---- the task graph ------------------------------------------------------------------- */

static uint32_t add_task(xb_timed *t, uint32_t srv, int layer, int kind, int pos,
			 xb_time_ps dur)
{
	void *p = t->tasks;
	if (grow(&p, &t->tasks_cap, t->ntasks + 1, sizeof *t->tasks))
		return NONE;
	t->tasks = p;
	task *tk = &t->tasks[t->ntasks];
	memset(tk, 0, sizeof *tk);
	tk->server = srv;
	tk->layer = layer;
	tk->kind = kind;
	tk->position = pos;
	tk->dur_ps = dur;
	tk->next = NONE;
	return (uint32_t)t->ntasks++;
}

static int add_edge(xb_timed *t, uint32_t from, uint32_t to)
{
	if (from == NONE || to == NONE)
		return 0;
	size_t c1 = t->edges_cap, c2 = t->edges_cap;
	void *a = t->efrom, *b = t->eto;
	if (grow(&a, &c1, t->nedges + 1, sizeof *t->efrom))
		return -1;
	t->efrom = a;
	if (grow(&b, &c2, t->nedges + 1, sizeof *t->eto))
		return -1;
	t->eto = b;
	t->edges_cap = c1;
	t->efrom[t->nedges] = from;
	t->eto[t->nedges] = to;
	t->nedges++;
	return 0;
}

static xb_time_ps xfer_ps(const xb_timed *t, int link, uint64_t bytes)
{
	const xb_timed_params *p = &t->pp;
	if (link)
		return xb_cycles_to_ps((uint64_t)p->link_latency_cycles +
				       ceil_div(bytes, (uint64_t)p->link_bytes_per_cycle), p->link_mhz);
	return xb_cycles_to_ps((uint64_t)p->bus_latency_cycles +
			       ceil_div(bytes, (uint64_t)p->bus_bytes_per_cycle), p->bus_mhz);
}

static xb_time_ps digital_ps(const xb_timed *t, uint64_t cycles_total)
{
	return xb_cycles_to_ps(ceil_div(cycles_total, (uint64_t)t->pp.digital_lanes), t->pp.digital_mhz);
}

static uint64_t conv_cycles(const xb_tile_params *p)
{
	return xb_adc_conversion_cycles(&p->adc);
}

static uint32_t bus_of(const xb_timed *t, int chip)
{
	return (uint32_t)(2 * t->ntiles + (size_t)chip * (1 + (size_t)t->pp.digital_units));
}

static uint32_t digital_of(const xb_timed *t, int chip, size_t pos)
{
	return bus_of(t, chip) + 1 + (uint32_t)(pos % (size_t)t->pp.digital_units);
}

#define CHECK_ID(x) do { if ((x) == NONE) goto nomem; } while (0)
#define EDGE(a, b) do { if (add_edge(t, (a), (b))) goto nomem; } while (0)

/* The counting tile and its workspace for layers of SENDS sends (made on first use). */
static xb_status counting_tile(xb_timed *t, int sends, xb_tile **tile, xb_tile_work **work)
{
	if (sends < 1 || sends == t->tp.input.num_sends || sends > XB_NN_MAX_SENDS) {
		*tile = t->scratch;
		*work = t->work;
		return XB_OK;
	}
	if (!t->scratch_s[sends]) {
		xb_tile_params p = t->tp;
		int8_t *zero = calloc(t->rs * t->cols, 1);
		xb_status st;

		if (!zero)
			return xb_raise(&t->err, XB_ENOMEM, "timed: out of memory");
		p.input.num_sends = sends;
		t->scratch_s[sends] = xb_tile_new(&p, 0, 0, &t->err);
		st = t->scratch_s[sends] ? xb_tile_program(t->scratch_s[sends], zero, t->cols,
							   t->rs, t->cols) : t->err.code;
		free(zero);
		if (st == XB_OK && !(t->work_s[sends] = xb_tile_work_new(t->scratch_s[sends],
									 &t->err)))
			st = t->err.code ? t->err.code : XB_ENOMEM;
		if (st != XB_OK)
			return xb_raise(&t->err, st, "timed: counting tile of %d sends", sends);
	}
	*tile = t->scratch_s[sends];
	*work = t->work_s[sends];
	return XB_OK;
}

/* Counts of the recorded MVMs of analog layer A, block (i, j): fills t->stats[0..npos). */
static xb_status count_block(xb_timed *t, alayer *a, size_t i, size_t nrow, size_t ncol)
{
	xb_tile_batch b;
	void *p = t->stats, *q = t->yscratch;
	xb_tile *tile = NULL;
	xb_tile_work *work = NULL;

	if (counting_tile(t, a->sends, &tile, &work) != XB_OK)
		return t->err.code;

	if (grow(&p, &t->stats_cap, a->npos, sizeof *t->stats))
		return xb_raise(&t->err, XB_ENOMEM, "timed: out of memory");
	t->stats = p;
	if (grow(&q, &t->y_cap, a->npos * t->cols, sizeof *t->yscratch))
		return xb_raise(&t->err, XB_ENOMEM, "timed: out of memory");
	t->yscratch = q;
	xb_tile_batch_init(&b, tile, a->npos, a->xq + i * t->rs, t->yscratch);
	if (b.model == XB_MODEL_IDEAL)
		b.model = XB_MODEL_UNORDERED;  /* the ideal model counts nothing; counts agree */
	b.ldx = a->cols;
	b.n_in = nrow;
	b.ldy = t->cols;
	b.n_out = ncol;
	b.stats = t->stats;
	xb_status st = xb_tile_mvm(tile, &b, work);
	if (st)
		return xb_raise(&t->err, st, "timed: layer %d, row block %zu: %s", a->index, i,
				xb_tile_errmsg(tile));
	return XB_OK;
}

static xb_status build_graph(xb_timed *t)
{
	const xb_tile_params *tp = &t->tp;
	const xb_timed_params *pp = &t->pp;
	double f_ev = tp->input.event_mhz, f_adc = pp->adc_mhz > 0 ? pp->adc_mhz : f_ev;
	xb_time_ps cyc_ev = xb_cycle_ps(f_ev);
	xb_time_ps fixed_ps = xb_ns_to_ps(pp->reset_ns) + xb_us_to_ps(tp->integrator.baseline_delay_us) +
			      xb_ns_to_ps(tp->integrator.read_delay_ns);
	size_t n_adc = ceil_div(t->cols, (uint64_t)tp->adc.columns_per_adc);
	double conv_pj = tp->energy.conversion_pj *
			 pow(2.0, pp->adc_energy_scale * (tp->adc.bits - pp->adc_ref_bits));
	uint32_t prev_barrier = NONE;
	int data_home = 0;            /* chip holding the current layer's input */
	uint32_t *last_on_tile = NULL;

	t->ntasks = 0;
	t->nedges = 0;
	memset(t->energy, 0, (size_t)t->nlayers * XB_TIMED_NENERGY * sizeof *t->energy);
	memset(&t->res, 0, sizeof t->res);
	last_on_tile = malloc((t->ntiles + 1) * sizeof *last_on_tile);
	if (!last_on_tile)
		goto nomem;
	for (size_t g = 0; g < t->ntiles; g++)
		last_on_tile[g] = NONE;

	for (int l = 0; l < t->nlayers; l++) {
		const xb_nn_layer *ly = xb_nn_net_layer(t->net, l);
		alayer *a = &t->al[l];
		double *en = &t->energy[(size_t)l * XB_TIMED_NENERGY];
		uint32_t barrier = add_task(t, NONE, l, XB_TIMED_K_DIGITAL, -1, 0);
		CHECK_ID(barrier);

		if (a->index < 0) {
			/* a digital layer: one task on the home chip's first digital unit */
			size_t out = xb_nn_shape_size(ly->out);
			const char *nm = ly->type->name;
			uint64_t cyc;
			double ops;
			if (!strcmp(nm, "flatten")) {
				ops = 0;
				cyc = 0;
			} else if (!strcmp(nm, "maxpool") || !strcmp(nm, "avgpool")) {
				ops = (double)out * ly->hp.kh * ly->hp.kw;
				cyc = (uint64_t)ops * (uint64_t)pp->pool_cycles;
			} else if (!strcmp(nm, "dwconv2d")) {
				ops = (double)out * ly->hp.kh * ly->hp.kw;
				cyc = (uint64_t)ops * (uint64_t)pp->add_cycles;
			} else {
				ops = (double)out * (!strcmp(nm, "batchnorm") ? 2 : 1);
				cyc = (uint64_t)ops * (uint64_t)pp->act_cycles;
			}
			uint32_t d = add_task(t, digital_of(t, t->home[l], 0), l, XB_TIMED_K_DIGITAL, -1,
					      digital_ps(t, cyc));
			CHECK_ID(d);
			EDGE(prev_barrier, d);
			EDGE(d, barrier);
			en[XB_TIMED_E_DIGITAL] += ops * pp->digital_op_pj;
			prev_barrier = barrier;
			data_home = t->home[l];
			continue;
		}

		/* an analog layer */
		size_t nb = a->ni * a->nj, np = a->npos;
		int home = t->home[l];
		uint32_t *arr = malloc((nb * np + 1) * sizeof *arr);   /* array task of (b, p) */
		uint32_t *cnv = malloc((nb * np + 1) * sizeof *cnv);   /* conversion of (b, p) */
		uint32_t *fin = malloc((nb * np + 1) * sizeof *fin);   /* last transfer of (b, p) */
		if (!arr || !cnv || !fin) {
			free(arr); free(cnv); free(fin);
			goto nomem;
		}
		xb_status st = XB_OK;
		for (size_t b = 0; b < nb && !st; b++) {
			size_t i = b / a->nj, j = b % a->nj;
			size_t nrow = i + 1 < a->ni ? t->rs : a->cols - i * t->rs;
			size_t ncol = j + 1 < a->nj ? t->cols : a->rows - j * t->cols;
			uint32_t g = a->tile[b];
			int chip = (int)(g / (uint32_t)tp->tiles_per_chip);
			uint32_t prog = NONE;
			if (a->reprogram) {
				/* reuse: load this block once the tile's previous MVMs converted */
				prog = add_task(t, 2 * g, l, XB_TIMED_K_PROGRAM, -1, program_ps(t, nrow));
				if (prog == NONE || add_edge(t, last_on_tile[g], prog)) {
					st = XB_ENOMEM;
					break;
				}
				en[XB_TIMED_E_PROGRAMMING] += 2.0 * (double)nrow * (double)ncol *
							      pp->program_pj_per_cell;
			}
			if (np)
				st = count_block(t, a, i, nrow, ncol);
			for (size_t p = 0; !st && p < np; p++) {
				const xb_mvm_stats *ms = &t->stats[p];
				uint32_t planes = ncol ? ms->conversions / (uint32_t)ncol : 1;
				uint64_t in_bytes = nrow, out_bytes = ncol * (uint64_t)a->out_bytes;
				uint32_t lk = NONE, in, ar, ad, ou, lk2 = NONE, first;
				if (chip != data_home) {
					lk = add_task(t, t->srv_link, l, XB_TIMED_K_LINK, (int)p,
						      xfer_ps(t, 1, in_bytes));
					en[XB_TIMED_E_LINKS] += (double)in_bytes * pp->link_pj_per_byte;
				}
				in = add_task(t, bus_of(t, chip), l, XB_TIMED_K_INPUT, (int)p,
					      xfer_ps(t, 0, in_bytes));
				ar = add_task(t, 2 * g, l, XB_TIMED_K_MVM, (int)p,
					      fixed_ps + (xb_time_ps)ms->events *
					      (xb_time_ps)tp->input.wait_cycles * cyc_ev);
				ad = add_task(t, 2 * g + 1, l, XB_TIMED_K_CONVERT, (int)p,
					      xb_cycles_to_ps(conv_cycles(tp) * ceil_div(ncol, n_adc) *
							      planes, f_adc));
				ou = add_task(t, bus_of(t, chip), l, XB_TIMED_K_OUTPUT, (int)p,
					      xfer_ps(t, 0, out_bytes));
				if (chip != home) {
					lk2 = add_task(t, t->srv_link, l, XB_TIMED_K_LINK, (int)p,
						       xfer_ps(t, 1, out_bytes));
					en[XB_TIMED_E_LINKS] += (double)out_bytes * pp->link_pj_per_byte;
				}
				if ((chip != data_home && lk == NONE) || in == NONE || ar == NONE ||
				    ad == NONE || ou == NONE || (chip != home && lk2 == NONE)) {
					st = XB_ENOMEM;
					break;
				}
				first = lk != NONE ? lk : in;
				arr[b * np + p] = ar;
				cnv[b * np + p] = ad;
				fin[b * np + p] = lk2 != NONE ? lk2 : ou;
				if (add_edge(t, prev_barrier, first) || add_edge(t, lk, in) ||
				    add_edge(t, in, ar) || add_edge(t, prog, ar) ||
				    add_edge(t, ar, ad) || add_edge(t, ad, ou) || add_edge(t, ou, lk2))
					st = XB_ENOMEM;
				/* input buffer: slot of MVM p - B is free once that MVM's events ran */
				if (!st && pp->buffer_vectors > 0 && p >= (size_t)pp->buffer_vectors &&
				    add_edge(t, arr[b * np + p - (size_t)pp->buffer_vectors], first))
					st = XB_ENOMEM;
				/* no sample-and-hold: the integrator is busy until its conversion ends */
				if (!st && !pp->overlap &&
				    add_edge(t, p > 0 ? cnv[b * np + p - 1] : last_on_tile[g], ar))
					st = XB_ENOMEM;
				en[XB_TIMED_E_ROW_DRIVERS] += (double)ms->events * tp->energy.event_pj;
				en[XB_TIMED_E_ARRAY] += (double)ms->active_cells * tp->energy.cell_pj;
				en[XB_TIMED_E_ADC] += (double)ms->conversions * conv_pj;
				en[XB_TIMED_E_LINKS] += (double)(in_bytes + out_bytes) * pp->link_pj_per_byte;
				t->res.mvms++;
				t->res.events += ms->events;
				t->res.conversions += ms->conversions;
				t->res.active_cells += ms->active_cells;
			}
			if (!st && np)
				last_on_tile[g] = cnv[b * np + np - 1];
		}
		/* partial sums (ni x rows additions with the bias) of position p after every
		 * block's outputs of p */
		for (size_t p = 0; !st && p < np; p++) {
			uint64_t ops = (uint64_t)a->ni * a->rows;
			uint32_t ps = add_task(t, digital_of(t, home, p), l, XB_TIMED_K_PSUM, (int)p,
					       digital_ps(t, ops * (uint64_t)pp->add_cycles));
			if (ps == NONE) {
				st = XB_ENOMEM;
				break;
			}
			en[XB_TIMED_E_DIGITAL] += (double)ops * pp->digital_op_pj;
			for (size_t b = 0; b < nb && !st; b++)
				if (add_edge(t, fin[b * np + p], ps))
					st = XB_ENOMEM;
			if (!st && add_edge(t, ps, barrier))
				st = XB_ENOMEM;
		}
		if (!st && np == 0)
			st = add_edge(t, prev_barrier, barrier) ? XB_ENOMEM : XB_OK;
		free(arr); free(cnv); free(fin);
		if (st == XB_ENOMEM)
			goto nomem;
		if (st) {
			free(last_on_tile);
			return st;
		}
		prev_barrier = barrier;
		data_home = home;
	}
	free(last_on_tile);

	/* successor lists (CSR) and dependency counts */
	{
		void *p = t->succ;
		if (grow(&p, &t->succ_cap, t->nedges + 1, sizeof *t->succ))
			return xb_raise(&t->err, XB_ENOMEM, "timed: out of memory");
		t->succ = p;
		for (size_t e = 0; e < t->nedges; e++) {
			t->tasks[t->efrom[e]].nsucc++;
			t->tasks[t->eto[e]].deps_left++;
		}
		uint32_t acc = 0;
		for (size_t i = 0; i < t->ntasks; i++) {
			t->tasks[i].succ0 = acc;
			acc += t->tasks[i].nsucc;
			t->tasks[i].nsucc = 0;
		}
		for (size_t e = 0; e < t->nedges; e++) {
			task *f = &t->tasks[t->efrom[e]];
			t->succ[f->succ0 + f->nsucc++] = t->eto[e];
		}
	}
	return XB_OK;
nomem:
	free(last_on_tile);
	return xb_raise(&t->err, XB_ENOMEM, "timed: out of memory building the task graph");
}

/* ---- one inference ---------------------------------------------------------------------- */

static int cmp_interval(const void *a, const void *b)
{
	const xb_timed_interval *x = a, *y = b;
	if (x->start_ps != y->start_ps)
		return x->start_ps < y->start_ps ? -1 : 1;
	if (x->component != y->component)
		return x->component < y->component ? -1 : 1;
	return x->end_ps < y->end_ps ? -1 : x->end_ps > y->end_ps;
}

xb_status xb_timed_infer(xb_timed *t, const float *x, float *y, const xb_timed_result **res)
{
	xb_status st;

	if (res)
		*res = NULL;
	if (!t)
		return xb_raise(NULL, XB_EINVAL, "xb_timed_infer: NULL handle");
	if (!x)
		return xb_raise(&t->err, XB_EINVAL, "xb_timed_infer: NULL input");
	if (t->nlayers != xb_nn_net_nlayers(t->net))
		return xb_raise(&t->err, XB_ESTATE, "xb_timed_infer: the network changed its layers "
				"since xb_timed_new (%d, now %d)", t->nlayers, xb_nn_net_nlayers(t->net));
	if (!xb_nn_net_quantized(t->net))
		return xb_raise(&t->err, XB_ESTATE, "xb_timed_infer: the network is not in quantized mode");
	for (int l = 0; l < t->nlayers; l++)
		t->al[l].npos = 0;

	/* numbers: the functional forward through the net's own backend, recorded */
	size_t nout = xb_nn_shape_size(xb_nn_net_out_shape(t->net));
	if (!y) {
		void *p = t->yout;
		if (grow(&p, &t->yout_cap, nout + 1, sizeof *t->yout))
			return xb_raise(&t->err, XB_ENOMEM, "xb_timed_infer: out of memory");
		t->yout = p;
		y = t->yout;
	}
	const xb_nn_backend *netbe = xb_nn_net_backend(t->net);
	xb_nn_backend saved = *netbe;
	t->inner = t->has_own ? t->own : saved;
	xb_nn_backend wrap = saved;     /* gain and range as the net sees them */
	wrap.type = &wrap_type;
	wrap.state = t;
	xb_nn_net_set_backend(t->net, &wrap);
	st = xb_nn_net_forward(t->net, 1, x, y, 0);
	xb_nn_net_set_backend(t->net, &saved);
	if (st)
		return xb_raise(&t->err, st, "xb_timed_infer: %s", xb_nn_net_errmsg(t->net));

	/* time: the task graph on the kernel */
	st = build_graph(t);
	if (st)
		return st;
	xb_time_ps t0 = xb_kernel_now(t->k);
	uint64_t act0 = xb_kernel_activations(t->k);
	for (size_t s = 0; s < t->nservers; s++) {
		t->srv[s].head = t->srv[s].tail = t->srv[s].cur = NONE;
		t->srv[s].busy_ps = 0;
	}
	t->cb_status = XB_OK;
	/* the roots (the first layer's barrier) start at t0; collect them before any
	 * completes, since a finishing barrier zeroes its successors' counts */
	size_t nroots = 0;
	void *rp = t->roots;
	if (grow(&rp, &t->roots_cap, t->ntasks + 1, sizeof *t->roots))
		return xb_raise(&t->err, XB_ENOMEM, "xb_timed_infer: out of memory");
	t->roots = rp;
	for (size_t i = 0; i < t->ntasks; i++)
		if (t->tasks[i].deps_left == 0)
			t->roots[nroots++] = (uint32_t)i;
	for (size_t i = 0; i < nroots; i++)
		task_ready(t, t->roots[i], t0);
	st = t->cb_status ? t->cb_status : xb_kernel_run_idle(t->k);
	if (!st && t->cb_status)
		st = t->cb_status;
	if (st)
		return xb_raise(&t->err, st, "xb_timed_infer: kernel: %s", xb_kernel_errmsg(t->k));
	size_t ndone = 0;
	for (size_t i = 0; i < t->ntasks; i++)
		ndone += t->tasks[i].done != 0;
	if (ndone != t->ntasks)
		return xb_raise(&t->err, XB_EINTERNAL, "xb_timed_infer: %zu of %zu tasks never ran "
				"(a cycle in the task graph)", t->ntasks - ndone, t->ntasks);
	xb_time_ps t1 = xb_kernel_now(t->k);
	xb_time_ps lat = t1 - t0;

	/* timeline, busy time, static energy per layer span */
	void *p = t->tl;
	if (grow(&p, &t->tl_cap, t->ntasks + 1, sizeof *t->tl))
		return xb_raise(&t->err, XB_ENOMEM, "xb_timed_infer: out of memory");
	t->tl = p;
	t->ntl = 0;
	double span_sum = 0;
	for (int l = 0; l < t->nlayers; l++) {
		xb_time_ps lo = XB_TIME_MAX, hi = 0;
		for (size_t i = 0; i < t->ntasks; i++)
			if (t->tasks[i].layer == l) {
				if (t->tasks[i].start_ps < lo)
					lo = t->tasks[i].start_ps;
				if (t->tasks[i].end_ps > hi)
					hi = t->tasks[i].end_ps;
			}
		if (lo == XB_TIME_MAX)
			lo = hi;
		/* the span for now; scaled below */
		t->energy[(size_t)l * XB_TIMED_NENERGY + XB_TIMED_E_STATIC] = (double)(hi - lo);
		span_sum += (double)(hi - lo);
	}
	/* static power x tiles x latency (mW x ps = 1e-3 pJ), shared by the layers in
	 * proportion to their spans (spans overlap where a tile is programmed ahead) */
	for (int l = 0; l < t->nlayers; l++) {
		double *e = &t->energy[(size_t)l * XB_TIMED_NENERGY + XB_TIMED_E_STATIC];
		*e = span_sum > 0 ? t->pp.static_mw_per_tile * (double)t->ntiles * (double)lat *
				    1e-3 * (*e / span_sum) : 0;
	}
	for (size_t i = 0; i < t->ntasks; i++) {
		const task *tk = &t->tasks[i];
		if (tk->server == NONE)
			continue;
		xb_timed_interval *iv = &t->tl[t->ntl++];
		iv->component = tk->server;
		iv->layer = tk->layer;
		iv->kind = tk->kind;
		iv->position = tk->position;
		iv->start_ps = tk->start_ps - t0;
		iv->end_ps = tk->end_ps - t0;
	}
	qsort(t->tl, t->ntl, sizeof *t->tl, cmp_interval);
	double etot = 0;
	for (size_t i = 0; i < (size_t)t->nlayers * XB_TIMED_NENERGY; i++) {
		etot += t->energy[i];
		t->energy_sum[i] += t->energy[i];
	}
	for (size_t s = 0; s < t->nservers; s++) {
		t->busy[s] = t->srv[s].busy_ps;
		t->busy_sum[s] += (double)t->busy[s];
	}
	p = t->lat;
	if (grow(&p, &t->lat_cap, t->nlat + 1, sizeof *t->lat))
		return xb_raise(&t->err, XB_ENOMEM, "xb_timed_infer: out of memory");
	t->lat = p;
	t->lat[t->nlat++] = lat;
	t->total_ps += lat;
	if (!t->tl0) {
		t->tl0 = malloc((t->ntl + 1) * sizeof *t->tl0);
		if (!t->tl0)
			return xb_raise(&t->err, XB_ENOMEM, "xb_timed_infer: out of memory");
		memcpy(t->tl0, t->tl, t->ntl * sizeof *t->tl0);
		t->ntl0 = t->ntl;
	}
	xb_timed_result *r = &t->res;
	r->latency_ps = lat;
	r->ncomponents = t->nservers;
	r->component_names = t->srv_names;
	r->busy_ps = t->busy;
	r->nlayers = (size_t)t->nlayers;
	r->energy_pj = t->energy;
	r->energy_total_pj = etot;
	r->timeline = t->tl;
	r->ntimeline = t->ntl;
	r->kernel_activations = xb_kernel_activations(t->k) - act0;
	if (res)
		*res = r;
	return XB_OK;
}

/* ---- statistics ------------------------------------------------------------------------- */

static int cmp_time(const void *a, const void *b)
{
	xb_time_ps x = *(const xb_time_ps *)a, y = *(const xb_time_ps *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile Q (0..100) of the N sorted values V. */
static double percentile_ns(const xb_time_ps *v, size_t n, double q)
{
	size_t r = (size_t)ceil(q / 100.0 * (double)n);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return xb_ps_to_ns(v[r - 1]);
}

void xb_timed_summarize(const xb_timed *t, xb_timed_summary *s)
{
	if (!s)
		return;
	memset(s, 0, sizeof *s);
	if (!t || !t->nlat)
		return;
	xb_time_ps *v = malloc(t->nlat * sizeof *v);
	double sum = 0, esum = 0;
	for (size_t i = 0; i < t->nlat; i++)
		sum += (double)t->lat[i];
	for (size_t i = 0; i < (size_t)t->nlayers * XB_TIMED_NENERGY; i++)
		esum += t->energy_sum[i];
	s->inferences = t->nlat;
	s->latency_ns_mean = sum / (double)t->nlat * 1e-3;
	s->throughput_per_s = sum > 0 ? (double)t->nlat / (sum * 1e-12) : 0;
	s->energy_pj_mean = esum / (double)t->nlat;
	if (v) {
		memcpy(v, t->lat, t->nlat * sizeof *v);
		qsort(v, t->nlat, sizeof *v, cmp_time);
		s->latency_ns_p50 = percentile_ns(v, t->nlat, 50);
		s->latency_ns_p99 = percentile_ns(v, t->nlat, 99);
		s->latency_ns_min = xb_ps_to_ns(v[0]);
		s->latency_ns_max = xb_ps_to_ns(v[t->nlat - 1]);
		free(v);
	}
}

void xb_timed_reset_stats(xb_timed *t)
{
	if (!t)
		return;
	t->nlat = 0;
	memset(t->energy_sum, 0, (size_t)t->nlayers * XB_TIMED_NENERGY * sizeof *t->energy_sum);
	memset(t->busy_sum, 0, t->nservers * sizeof *t->busy_sum);
	free(t->tl0);
	t->tl0 = NULL;
	t->ntl0 = 0;
}

/* ---- the view the trace writer reads (timed_int.h) ---------------------------------------- */

void xb_timed_stats_view(const xb_timed *t, xb_timed_view *v)
{
	memset(v, 0, sizeof *v);
	v->nlat = t->nlat;
	v->lat = t->lat;
	v->ncomponents = t->nservers;
	v->names = t->srv_names;
	v->busy_sum_ps = t->busy_sum;
	v->nlayers = (size_t)t->nlayers;
	v->energy_sum = t->energy_sum;
	v->tl = t->tl0;
	v->ntl = t->ntl0;
	v->load_ps = t->load_ps;
	v->load_pj = t->load_pj;
}
