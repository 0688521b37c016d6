# sim/run.mk - build fragment of `xbarsim run` (device backend, run, trace), included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# The device MVM backend of the networks and the run library (evaluate, statistics, trace).
noinst_LTLIBRARIES += sim/libxbrun.la
sim_libxbrun_la_SOURCES = workloads/xb_device_nn.h workloads/nn_device.c sim/xb_run.h sim/run.c
XB_RUN_LIBS = sim/libxbrun.la $(XB_NN_LIBS) $(XB_DATA_LIBS) $(XB_CALIBRATION_LIBS) $(XB_DEVICES_LIBS)
XB_CORE_LIBS += sim/libxbrun.la
pkginclude_HEADERS += workloads/xb_device_nn.h sim/xb_run.h
EXTRA_DIST += doc/formats.md

# The subcommand (the lead removes the placeholder xb_cli_run from sim/cli_pending.c).
xbarsim_SOURCES += sim/cli_run.c

check_PROGRAMS += tests/check_run
TESTS += tests/check_run
tests_check_run_SOURCES = tests/check_run.c
tests_check_run_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_run_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_check_run_SOURCES = dummy.cxx

# Whole shipped KWS test set on hx and the default run's peak memory (make bench).
BENCH_PROGS += bench/bench_run
bench_bench_run_SOURCES = bench/bench_run.c
bench_bench_run_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_bench_run_SOURCES = dummy.cxx
