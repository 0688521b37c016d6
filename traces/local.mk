# traces/local.mk - build fragment of the traces folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# HDF5 files: crash-safe writer, validating reader, describe (`xbarsim info`).
noinst_LTLIBRARIES += traces/libxbtraces.la
traces_libxbtraces_la_SOURCES = traces/xb_traces.h traces/h5.c traces/describe.c
XB_TRACES_LIBS = traces/libxbtraces.la $(XB_BASE_LIBS) $(HDF5_LIBS)
XB_CORE_LIBS += traces/libxbtraces.la
pkginclude_HEADERS += traces/xb_traces.h

check_PROGRAMS += tests/check_traces
TESTS += tests/check_traces
tests_check_traces_SOURCES = tests/check_traces.c
tests_check_traces_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_traces_LDADD = $(XB_TRACES_LIBS) $(CHECK_LIBS)
