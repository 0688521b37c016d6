# sim/kernel.mk - build fragment of the SystemC kernel shim, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# The discrete-event kernel: a C API (sim/xb_kernel.h) over SystemC; C++ only inside.
noinst_LTLIBRARIES += sim/libxbkernel.la
sim_libxbkernel_la_SOURCES = sim/xb_kernel.h sim/kernel.cc
XB_KERNEL_LIBS = sim/libxbkernel.la $(XB_BASE_LIBS) $(SYSTEMC_LIBS)
XB_CORE_LIBS += sim/libxbkernel.la
pkginclude_HEADERS += sim/xb_kernel.h

check_PROGRAMS += tests/check_kernel
TESTS += tests/check_kernel
tests_check_kernel_SOURCES = tests/check_kernel.c
tests_check_kernel_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_kernel_LDADD = $(XB_KERNEL_LIBS) $(CHECK_LIBS)
nodist_EXTRA_tests_check_kernel_SOURCES = dummy.cxx

# Ping through the C API against the same ping as a plain SystemC method process.
BENCH_PROGS += bench/bench_kernel
bench_bench_kernel_SOURCES = bench/bench_kernel.c bench/bench_kernel_raw.cc
bench_bench_kernel_LDADD = $(XB_KERNEL_LIBS)
