/* cli_run.c - `xbarsim run`: evaluate a model on a data set, float network vs device, and print a table.
 * Option handling and printing only; the work is xb_run() (sim/run.c).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_cli.h"
#include "xb_run.h"
#include "xb_timed.h"
#include "xb_traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char run_help[] =
	"Usage: xbarsim run [-c FILE.ini] [-p PRESET] [-s key=value]... [-o trace.h5]\n"
	"                   [--per-class] [--progress auto|bar|plain|none] [--timed N]\n"
	"Evaluate a model (workload.model) on a data set (workload.data) with the float\n"
	"network and with its analog layers on the chosen device, and print the accuracy of\n"
	"each, events, conversions, ADC saturation rate and energy per inference.\n"
	"With no arguments: the shipped keyword-spotting model on the hx preset over the\n"
	"shipped test set; -s workload.model=lenet5 -s workload.data=fashion-mnist runs the\n"
	"shipped LeNet-5 on Debian's Fashion-MNIST test images.\n"
	"  -c FILE.ini     configuration file\n"
	"  -p PRESET       device preset (default hx; see 'xbarsim presets')\n"
	"  -s KEY=VALUE    override one key (run.samples=500, trace.level=mvm, ...)\n"
	"  -o FILE.h5      write the trace (default: trace.file; none if empty)\n"
	"  --per-class     also print the accuracy of every class\n"
	"  --progress S    progress bar style (default auto: a bar on a terminal)\n"
	"  --timed N       also simulate the first N inferences in timed mode (SystemC):\n"
	"                  latency per inference (mean, p50, p99), throughput, utilisation\n"
	"                  and energy by component; the trace gets /timeline and /timing.\n"
	"                  Accuracy still comes from every sample, functionally; the\n"
	"                  timed outputs equal the functional ones bit for bit.\n";

/* ---- timed mode: the xb_run_timed hook ------------------------------------------ */

/* The timed model gets its own device backend, built from the same parameters (so the
 * same fixed pattern and noise streams: outputs equal the functional ones bit for bit),
 * so that the run's per-layer statistics count every sample once. */
typedef struct timed_ctx {
	uint64_t limit;          /* --timed N */
	xb_device_nn *dev;       /* the timed model's backend */
	xb_timed_hook hook;
	xb_timed_summary sum;
} timed_ctx;

static xb_status timed_start(void *ud, const xb_config *cfg, xb_nn_net *net, xb_err *err)
{
	timed_ctx *c = ud;
	xb_tile_params tp;
	xb_nn_backend be;
	xb_status st;

	if ((st = xb_tile_params_from_config(cfg, &tp, err)) != XB_OK)
		return st;
	if (!(c->dev = xb_device_nn_new(&tp, xb_config_str(cfg, "calibration.file"), err)))
		return err ? err->code : XB_ECONFIG;
	if (!(c->hook.t = xb_timed_new(cfg, net, err)))
		return err ? err->code : XB_ECONFIG;
	be = xb_device_nn_backend(c->dev);
	if (xb_timed_set_backend(c->hook.t, &be) != XB_OK)
		return xb_raise(err, XB_EINTERNAL, "timed mode: %s", xb_timed_errmsg(c->hook.t));
	c->hook.limit = c->limit;
	return XB_OK;
}

static xb_status timed_batch(void *ud, xb_nn_net *net, xb_device_nn *dev, uint64_t first,
			     size_t n, const float *x, double *latency_ns, xb_err *err)
{
	timed_ctx *c = ud;

	(void)dev;   /* the timed model's own backend takes the sample numbers */
	return xb_timed_run_batch(&c->hook, net, c->dev, first, n, x, latency_ns, err);
}

static double timed_latency(void *ud)
{
	timed_ctx *c = ud;

	xb_timed_summarize(c->hook.t, &c->sum);
	return c->sum.latency_ns_mean;
}

static xb_status timed_write(void *ud, xb_h5w *w, xb_err *err)
{
	timed_ctx *c = ud;

	return c->hook.done ? xb_timed_write_trace(c->hook.t, w, err) : XB_OK;
}

static void print_table(const xb_run_result *r, int per_class, const char *preset)
{
	printf("model    %s\n", r->model_path);
	printf("data     %s (%zu samples)\n", r->data_path, r->samples);
	printf("device   %s\n\n", preset);
	printf("accuracy\n");
	printf("  %-32s %13.2f%%\n", "float network (ideal)", 100.0 * r->accuracy_ideal);
	printf("  %-32s %13.2f%%\n", "device", 100.0 * r->accuracy_device);
	printf("per inference (device)\n");
	printf("  %-32s %14.1f\n", "events", r->events_per_inference);
	printf("  %-32s %14.1f\n", "conversions", r->conversions_per_inference);
	printf("  %-32s %13.3f%%\n", "ADC saturation rate", 100.0 * r->adc_saturation_rate);
	printf("  %-32s %14.1f\n", "energy, pJ", r->energy_pj_per_inference);
	if (!isnan(r->latency_ns_per_inference))
		printf("  %-32s %14.1f\n", "latency, ns (timed, mean)", r->latency_ns_per_inference);
	printf("\n%-6s %-10s %8s %8s %12s %12s %10s %12s\n", "layer", "type", "inputs", "outputs",
	       "events/inf", "conv/inf", "ADC sat", "energy pJ/inf");
	for (int i = 0; i < r->nlayers; i++) {
		const xb_run_layer *L = &r->layers[i];
		double n = r->samples ? (double)r->samples : 1.0;
		printf("%-6d %-10s %8zu %8zu %12.1f %12.1f %9.3f%% %12.1f\n", L->index, L->type,
		       L->dev.inputs, L->dev.outputs, (double)L->dev.c.events / n,
		       (double)L->dev.c.conversions / n, 100.0 * L->adc_saturation_rate,
		       L->dev.energy_pj / n);
	}
	if (per_class) {
		printf("\n%-16s %8s %10s %10s\n", "class", "samples", "ideal", "device");
		for (int k = 0; k < r->nclasses; k++) {
			size_t c = r->class_count[k];
			if (!c) {
				printf("%-16s %8zu %10s %10s\n", r->class_names[k], c, "-", "-");
				continue;
			}
			printf("%-16s %8zu %9.2f%% %9.2f%%\n", r->class_names[k], c,
			       100.0 * (double)r->class_correct_ideal[k] / (double)c,
			       100.0 * (double)r->class_correct_device[k] / (double)c);
		}
	}
	printf("\n%zu samples in %.2f s\n", r->samples, r->seconds);
	if (r->trace_path)
		printf("trace -> %s\n", r->trace_path);
}


int xb_cli_run(int argc, char **argv)
{
	xb_cli_opts o;
	xb_config *cfg = NULL;
	xb_run_result *res = NULL;
	xb_run_options ro = xb_run_default_options();
	xb_progress prog;
	xb_err err = { 0 };
	char **av = malloc(((size_t)argc + 1) * sizeof *av);
	char *cmdline = NULL;
	int ac = 0, per_class = 0, rc;
	timed_ctx tc = { 0 };

	if (!av)
		return xb_cli_fail("run", "out of memory");
	for (int i = 0; i < argc; i++) {
		if (i > 0 && !strcmp(argv[i], "--per-class"))
			per_class = 1;
		else
			av[ac++] = argv[i];
	}
	av[ac] = NULL;
	rc = xb_cli_parse(&o, "run", run_help, ac, av);
	if (rc) {
		free(av);
		return rc < 0 ? 0 : rc;
	}
	rc = 1;
	if (o.nargs) {
		fprintf(stderr, "xbarsim run: unexpected argument '%s'\nTry 'xbarsim run --help'.\n",
			o.args[0]);
		rc = 2;
		goto done;
	}
	if (o.timed > 0) {
		tc.limit = (uint64_t)o.timed;
		ro.timed.start = timed_start;
		ro.timed.batch = timed_batch;
		ro.timed.latency_ns_mean = timed_latency;
		ro.timed.write = timed_write;
		ro.timed.ud = &tc;
	}
	if (!(cfg = xb_cli_config(&o, "run")))
		goto done;
	/* "xbarsim run ..." whichever way main() passed the words (without a command,
	 * ARGV[0] is the program itself) */
	cmdline = !strcmp(argv[0], "run") ? xb_cli_command_line(argc, argv) :
					    xb_h5_join_argv(argc, argv);
	ro.command_line = cmdline;
	ro.trace_file = o.output;
	xb_progress_init(&prog, stderr, o.progress, "run", "samples");
	ro.progress = xb_progress_update;
	ro.progress_ud = &prog;
	if (xb_run(cfg, &ro, &res, &err) != XB_OK) {
		xb_progress_done(&prog);
		xb_cli_fail("run", err.msg);
		goto done;
	}
	xb_progress_done(&prog);
	print_table(res, per_class, o.preset ? o.preset : xb_config_str(cfg, "run.preset"));
	if (tc.hook.done) {
		printf("\ntimed mode (%llu inferences, simulated)\n", (unsigned long long)tc.sum.inferences);
		printf("  %-32s %14.1f\n", "latency mean, ns", tc.sum.latency_ns_mean);
		printf("  %-32s %14.1f\n", "latency p50, ns", tc.sum.latency_ns_p50);
		printf("  %-32s %14.1f\n", "latency p99, ns", tc.sum.latency_ns_p99);
		printf("  %-32s %14.1f\n", "throughput, inferences/s", tc.sum.throughput_per_s);
		printf("  %-32s %14.1f\n", "energy (timed), pJ", tc.sum.energy_pj_mean);
	}
	rc = 0;
done:
	xb_timed_free(tc.hook.t);
	xb_device_nn_free(tc.dev);
	xb_run_result_free(res);
	xb_config_free(cfg);
	free(cmdline);
	xb_cli_opts_free(&o);
	free(av);
	return rc;
}
