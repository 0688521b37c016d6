/* xb_cli.h - internal interface between the command's main() and its subcommands.
 * Each subcommand is a function taking its own argc/argv (argv[0] = its name).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_CLI_H
#define XB_CLI_H

#include "xb_base.h"

/* Options shared by the subcommands (each takes the subset its help lists). */
typedef struct xb_cli_opts {
	const char *config;       /* -c FILE.ini */
	const char *preset;       /* -p NAME */
	const char **sets;        /* -s KEY=VALUE, in order (malloc'd array) */
	size_t nsets;
	const char *output;       /* -o FILE */
	xb_progress_style progress;
	int show;                 /* config --show */
	long timed;               /* run --timed N (-1 = not given) */
	int dry_run, resume;      /* sweep */
	const char *plots;        /* calibrate --plots DIR */
	const char *against;      /* train --against */
	const char *stimuli;      /* measure --stimuli FILE */
	const char *noise;        /* walk --noise */
	char **args;              /* positional arguments */
	int nargs;
} xb_cli_opts;

/* Parse ARGV into O.  Returns 0 to go on, -1 when --help was printed (exit 0), or an
 * exit code (2) after printing a usage error. */
int xb_cli_parse(xb_cli_opts *o, const char *cmd, const char *help, int argc, char **argv);
void xb_cli_opts_free(xb_cli_opts *o);
/* The resolved configuration of O, or NULL after printing the error. */
xb_config *xb_cli_config(const xb_cli_opts *o, const char *cmd);
/* "xbarsim ARGV[0] ..." (ARGV as a command's function receives it, ARGV[0] the command's
 * name) for the command_line attribute of output files, words shell-quoted where
 * needed (xb_h5_join_argv).  malloc'd; NULL on ENOMEM. */
char *xb_cli_command_line(int argc, char **argv);
/* Print "xbarsim CMD: MSG" on stderr; returns 1 (the failure exit code). */
int xb_cli_fail(const char *cmd, const char *msg);

int xb_cli_run(int argc, char **argv);
int xb_cli_measure(int argc, char **argv);
int xb_cli_calibrate(int argc, char **argv);
int xb_cli_train(int argc, char **argv);
int xb_cli_sweep(int argc, char **argv);
int xb_cli_walk(int argc, char **argv);
int xb_cli_report(int argc, char **argv);
int xb_cli_info(int argc, char **argv);

#endif /* XB_CLI_H */
