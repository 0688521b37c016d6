/* cli.c - the xbarsim command: option parsing, dispatch to the subcommands, messages.
 * The only place in xbarsim that prints to the user or exits.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_sim.h"
#include "xb_cli.h"
#include "xb_traces.h"

#include <getopt.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes: 0 success, 1 the work failed (bad input, I/O), 2 usage error. */

static const char main_help[] =
"Usage: xbarsim COMMAND [OPTION]...\n"
"Cycle-level simulator of analog matrix-vector processors (crossbars, in-memory\n"
"compute, analog neuromorphic chips): ordered charge accumulation on a leaky,\n"
"saturating integrator, noise and ADC saturation, event by event.\n"
"\n"
"Commands:\n"
"  run        run a network on the simulated device, report accuracy, latency, energy\n"
"  measure    simulate a chip measurement campaign and write a measurement file\n"
"  calibrate  fit device models to a measurement file\n"
"  train      train a network (float, noise-aware or hardware-aware)\n"
"  sweep      sweep configuration keys over design points (MPI-aware, resumable)\n"
"  walk       layer-wise noise robustness (midpoint noise levels)\n"
"  report     figures and a summary from a trace, sweep or walk file\n"
"  info       print what an xbarsim HDF5 file holds\n"
"  presets    list the device presets\n"
"  config     show the resolved configuration (config --show)\n"
"\n"
"Options common to the commands that take a configuration:\n"
"  -c, --config=FILE.ini   configuration file (INI); its keys override the preset\n"
"  -p, --preset=NAME       device preset (hx, ideal, pcm, rram; default hx)\n"
"  -s, --set=KEY=VALUE     override one key, e.g. -s adc.bits=6 (repeatable)\n"
"  -o, --output=FILE       output file (HDF5); written under a temporary name and\n"
"                          renamed into place only when complete\n"
"      --progress=STYLE    auto (a bar on a terminal), bar, plain, none\n"
"  -h, --help              show help (xbarsim COMMAND --help for one command)\n"
"  -V, --version           show the version\n"
"\n"
"xbarsim run [-c FILE.ini] [-p PRESET] [-s KEY=VALUE]... [-o trace.h5] [--timed N]\n"
"  With no arguments, runs the shipped keyword-spotting model on the hx preset over\n"
"  the shipped test set and prints accuracy (ideal vs device), latency and energy.\n"
"xbarsim config --show [-c FILE.ini] [-p PRESET] [-s KEY=VALUE]...\n"
"  Prints every configuration key with its value, unit and where it came from.\n"
"xbarsim info FILE.h5\n"
"  Prints the schema, attributes, groups and datasets (shape, type, unit) of a file.\n"
"xbarsim presets\n"
"  Lists the presets found and where they are searched.\n"
"\n"
"Configuration keys are 'section.key' (INI: [section] key = value); an unknown key,\n"
"a bad value or a missing file is an error naming the file, line and key.\n"
"Exit status: 0 on success, 1 when the work fails (bad input, I/O), 2 on a usage\n"
"error.\n";

static void usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "xbarsim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'xbarsim %s--help'.\n", cmd ? "COMMAND " : "");
}

char *xb_cli_command_line(int argc, char **argv)
{
	static char name[] = "xbarsim";
	char **full = malloc(((size_t)argc + 1) * sizeof *full);
	char *s;

	if (!full)
		return NULL;
	full[0] = name;
	memcpy(full + 1, argv, (size_t)argc * sizeof *full);
	s = xb_h5_join_argv(argc + 1, full);
	free(full);
	return s;
}

int xb_cli_fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "xbarsim %s: %s\n", cmd, msg && *msg ? msg : "failed");
	return 1;
}

/* ---- common options ------------------------------------------------------------ */

enum { OPT_PROGRESS = 256, OPT_SHOW, OPT_TIMED, OPT_DRY_RUN, OPT_RESUME, OPT_PLOTS,
       OPT_AGAINST, OPT_STIMULI, OPT_NOISE };

void xb_cli_opts_free(xb_cli_opts *o)
{
	free(o->sets);
	memset(o, 0, sizeof *o);
}

int xb_cli_parse(xb_cli_opts *o, const char *cmd, const char *help, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "preset", required_argument, NULL, 'p' },
		{ "set", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "show", no_argument, NULL, OPT_SHOW },
		{ "timed", required_argument, NULL, OPT_TIMED },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "plots", required_argument, NULL, OPT_PLOTS },
		{ "against", required_argument, NULL, OPT_AGAINST },
		{ "stimuli", required_argument, NULL, OPT_STIMULI },
		{ "noise", required_argument, NULL, OPT_NOISE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	o->progress = XB_PROGRESS_AUTO;
	o->timed = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:p:s:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'p': o->preset = optarg; break;
		case 'o': o->output = optarg; break;
		case 's': {
			const char **ns = realloc(o->sets, (o->nsets + 1) * sizeof *ns);

			if (!ns) {
				fprintf(stderr, "xbarsim %s: out of memory\n", cmd);
				return 1;
			}
			o->sets = ns;
			o->sets[o->nsets++] = optarg;
			break;
		}
		case OPT_PROGRESS:
			o->progress = xb_progress_parse(optarg);
			if ((int)o->progress < 0) {
				usage_error(cmd, "--progress=%s: expected auto, bar, plain or none", optarg);
				return 2;
			}
			break;
		case OPT_SHOW: o->show = 1; break;
		case OPT_TIMED: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (end == optarg || *end || n < 0) {
				usage_error(cmd, "--timed %s: expected a number of inferences >= 0", optarg);
				return 2;
			}
			o->timed = n;
			break;
		}
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_RESUME: o->resume = 1; break;
		case OPT_PLOTS: o->plots = optarg; break;
		case OPT_AGAINST: o->against = optarg; break;
		case OPT_STIMULI: o->stimuli = optarg; break;
		case OPT_NOISE: o->noise = optarg; break;
		case 'h':
			fputs(help, stdout);
			return -1;
		case ':':
			usage_error(cmd, "option '%s' needs an argument", argv[optind - 1]);
			return 2;
		default:
			usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
			return 2;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

xb_config *xb_cli_config(const xb_cli_opts *o, const char *cmd)
{
	xb_err err = { 0 };
	xb_config *cfg = xb_sim_config(o->config, o->preset, o->sets, o->nsets, &err);

	if (!cfg)
		xb_cli_fail(cmd, err.msg);
	return cfg;
}

/* ---- small commands -------------------------------------------------------------- */

static const char presets_help[] =
"Usage: xbarsim presets\n"
"Lists the device presets.  Presets are INI files NAME.ini searched in\n"
"$XBARSIM_PRESETS, the installed data directory, then the source tree.\n";

static int cmd_presets(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "presets", presets_help, argc, argv);
	char *list, path[1200];

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs) {
		xb_cli_opts_free(&o);
		usage_error("presets", "unexpected argument '%s'", o.args[0]);
		return 2;
	}
	xb_cli_opts_free(&o);
	list = xb_config_preset_list();
	if (!list || !*list) {
		free(list);
		xb_config_preset_path("hx", path, sizeof path);
		return xb_cli_fail("presets", xb_errmsg(NULL));
	}
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];

		snprintf(name, sizeof name, "%s", line);
		if (xb_config_preset_path(name, path, sizeof path) == XB_OK)
			printf("%-8s %s\n", name, path);
	}
	free(list);
	return 0;
}

static const char config_help[] =
"Usage: xbarsim config --show [-c FILE.ini] [-p PRESET] [-s KEY=VALUE]...\n"
"Prints the resolved configuration as INI: every key with its value, then its unit\n"
"and where the value came from (default, preset, file:line, -s).\n"
"  -c, --config=FILE.ini   configuration file\n"
"  -p, --preset=NAME       preset (default: run.preset of the file, else hx)\n"
"  -s, --set=KEY=VALUE     override a key (repeatable)\n"
"      --show              print the configuration (the default action)\n";

static int cmd_config(int argc, char **argv)
{
	xb_cli_opts o;
	int rc = xb_cli_parse(&o, "config", config_help, argc, argv);
	xb_config *cfg;
	char *text;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.nargs) {
		usage_error("config", "unexpected argument '%s'", o.args[0]);
		xb_cli_opts_free(&o);
		return 2;
	}
	cfg = xb_cli_config(&o, "config");
	xb_cli_opts_free(&o);
	if (!cfg)
		return 1;
	text = xb_config_to_ini(cfg, 1);
	xb_config_free(cfg);
	if (!text)
		return xb_cli_fail("config", "out of memory");
	fputs(text, stdout);
	free(text);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------- */

typedef struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
} command;

static const command commands[] = {
	{ "run", xb_cli_run },
	{ "measure", xb_cli_measure },
	{ "calibrate", xb_cli_calibrate },
	{ "train", xb_cli_train },
	{ "sweep", xb_cli_sweep },
	{ "walk", xb_cli_walk },
	{ "report", xb_cli_report },
	{ "info", xb_cli_info },
	{ "presets", cmd_presets },
	{ "config", cmd_config },
};

/* OpenMP's default wait policy lets idle threads spin at every barrier; on a machine
 * shared with other busy processes the many short parallel regions of a run then take
 * several times longer (measured: 600 KWS samples 4.4 s instead of 0.5 s on 2 busy
 * cores).  libgomp reads OMP_WAIT_POLICY once, before main(): so when the user has not
 * chosen one, the command starts itself again with OMP_WAIT_POLICY=passive (results do
 * not depend on it).  Returns only if that is not needed or the exec fails. */
static void prefer_passive_wait(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
		return;
	fflush(NULL);
	execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
	const char *name;

	prefer_passive_wait(argv);

	setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
	xb_gsl_quiet();
	if (argc < 2) {
		/* No arguments: the main job on the shipped defaults. */
		return xb_cli_run(argc, argv);
	}
	name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
		fputs(main_help, stdout);
		return 0;
	}
	if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
		printf("xbarsim %s\n", PACKAGE_VERSION);
		printf("Copyright (C) 2026 the xbarsim authors.\n"
		       "License GPL-3.0-or-later <https://gnu.org/licenses/gpl.html>.\n"
		       "This is free software: you are free to change and redistribute it.\n"
		       "There is NO WARRANTY, to the extent permitted by law.\n");
		return 0;
	}
	if (name[0] == '-')
		return xb_cli_run(argc, argv);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	usage_error(NULL, "unknown command '%s'", name);
	return 2;
}
