# workloads/walk.mk - build fragment of walking noise (`xbarsim walk`), included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Walking noise: noise sites, sweeps, midpoints, the walk file.
noinst_LTLIBRARIES += workloads/libxbwalk.la
workloads_libxbwalk_la_SOURCES = workloads/xb_walk.h workloads/walk_run.c workloads/walk_file.c \
	workloads/walk_report.c
XB_WALK_LIBS = workloads/libxbwalk.la $(XB_RUN_LIBS)
XB_CORE_LIBS += workloads/libxbwalk.la
pkginclude_HEADERS += workloads/xb_walk.h
EXTRA_DIST += doc/walk.md

# The subcommand (the lead removes the placeholder xb_cli_walk from sim/cli_pending.c).
xbarsim_SOURCES += sim/cli_walk.c

check_PROGRAMS += tests/check_walk
TESTS += tests/check_walk
tests_check_walk_SOURCES = tests/check_walk.c
tests_check_walk_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_walk_LDADD = $(XB_WALK_LIBS) $(CHECK_LIBS)
nodist_EXTRA_tests_check_walk_SOURCES = dummy.cxx

# Serial against `mpirun -np 2` on the built xbarsim (skipped without MPI), as for sweep.
TESTS += tests/walk_mpi.sh
EXTRA_DIST += tests/walk_mpi.sh
