# sim/timed.mk - build fragment of the timed model and `xbarsim report`, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# The timed model: a network's inference on the kernel shim (sim/xb_timed.h).
noinst_LTLIBRARIES += sim/libxbtimed.la
sim_libxbtimed_la_SOURCES = sim/xb_timed.h sim/timed_int.h sim/timed.c sim/timed_trace.c \
	sim/timed_report.c sim/timed_run.c
XB_TIMED_LIBS = sim/libxbtimed.la $(XB_RUN_LIBS) $(XB_NN_LIBS) $(XB_DEVICES_LIBS) \
	$(XB_KERNEL_LIBS) $(XB_TRACES_LIBS)
XB_CORE_LIBS += sim/libxbtimed.la
pkginclude_HEADERS += sim/xb_timed.h

# The report command (trace and sweep files -> gnuplot figures, .dat files, summary.md).
xbarsim_SOURCES += sim/cli_report.c

check_PROGRAMS += tests/check_timed
TESTS += tests/check_timed
tests_check_timed_SOURCES = tests/check_timed.c
tests_check_timed_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_timed_LDADD = $(XB_TIMED_LIBS) $(CHECK_LIBS)
nodist_EXTRA_tests_check_timed_SOURCES = dummy.cxx

# Time of a timed inference over a functional one.
BENCH_PROGS += bench/bench_timed
bench_bench_timed_SOURCES = bench/bench_timed.c
bench_bench_timed_LDADD = $(XB_TIMED_LIBS)
nodist_EXTRA_bench_bench_timed_SOURCES = dummy.cxx

EXTRA_DIST += doc/timed.md
