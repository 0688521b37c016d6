# sweep/local.mk - build fragment of the sweep folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Design-space sweeps: the sweep file, points, the resumable output, serial or MPI.
noinst_LTLIBRARIES += sweep/libxbsweep.la
sweep_libxbsweep_la_SOURCES = sweep/xb_sweep.h sweep/sweep_int.h sweep/spec.c sweep/run.c
XB_SWEEP_LIBS = sweep/libxbsweep.la $(XB_TRACES_LIBS) $(MPI_LIBS)
XB_CORE_LIBS += sweep/libxbsweep.la
pkginclude_HEADERS += sweep/xb_sweep.h

check_PROGRAMS += tests/check_sweep
TESTS += tests/check_sweep
tests_check_sweep_SOURCES = tests/check_sweep.c
tests_check_sweep_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sweep_LDADD = $(XB_METRICS_LIBS) $(CHECK_LIBS)

# Serial against MPI and kill-and-resume, on the built xbarsim (skipped without MPI).
TESTS += tests/sweep_mpi.sh
EXTRA_DIST += tests/sweep_mpi.sh tests/mpi_common.sh doc/sweep.md

BENCH_PROGS += bench/bench_sweep
bench_bench_sweep_SOURCES = bench/bench_sweep.c
bench_bench_sweep_LDADD = $(XB_BASE_LIBS)
