# sim/local.mk - build fragment of the sim folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Base layer: errors, units, configuration registry, progress (used by every module).
noinst_LTLIBRARIES += sim/libxbbase.la
sim_libxbbase_la_SOURCES = sim/xb_base.h sim/error.c sim/units.c sim/config.c sim/progress.c \
	sim/paths.c sim/report_dir.c
XB_BASE_LIBS = sim/libxbbase.la $(INIH_LIBS) $(GSL_LIBS) $(OPENBLAS_LIBS) -lm
XB_CORE_LIBS += sim/libxbbase.la
pkginclude_HEADERS += sim/xb_base.h

# The command.
xbarsim_SOURCES += sim/cli.c sim/xb_cli.h sim/cli_info.c sim/cli_calib.c sim/cli_sweep.c

check_PROGRAMS += tests/check_base tests/check_config
TESTS += tests/check_base tests/check_config
tests_check_base_SOURCES = tests/check_base.c
tests_check_base_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_base_LDADD = $(XB_BASE_LIBS) $(CHECK_LIBS)
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_config_LDADD = $(XB_BASE_LIBS) $(CHECK_LIBS)

# Assembly layer: key registration, configuration resolution, processor assembly.
noinst_LTLIBRARIES += sim/libxbsim.la
sim_libxbsim_la_SOURCES = sim/xb_sim.h sim/keys.c sim/assemble.c
XB_CORE_LIBS += sim/libxbsim.la
pkginclude_HEADERS += sim/xb_sim.h

# The metric providers `xbarsim sweep` offers (sim/xb_metrics.h): the tile and the
# network (run) providers and their registry.
noinst_LTLIBRARIES += sim/libxbmetrics.la
sim_libxbmetrics_la_SOURCES = sim/xb_metrics.h sim/metrics.c sim/metrics_tile.c sim/metrics_run.c
XB_METRICS_LIBS = sim/libxbmetrics.la $(XB_SWEEP_LIBS) $(XB_RUN_LIBS)
XB_CORE_LIBS += sim/libxbmetrics.la
