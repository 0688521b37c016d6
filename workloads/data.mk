# workloads/data.mk - build fragment of the workloads data side, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Data sets: in memory and streamed from HDF5, image/WAV/Speech Commands loaders, MFCC,
# the synthetic keyword-spotting corpus (espeak-ng).  fp-contract=off keeps the
# generated features identical whether or not the CPU has FMA (-march=native).
noinst_LTLIBRARIES += workloads/libxbdata.la
workloads_libxbdata_la_SOURCES = workloads/xb_data.h workloads/data_int.h workloads/kws_int.h \
	workloads/data_set.c workloads/data_images.c workloads/data_h5.c workloads/data_gsc.c \
	workloads/wav.c workloads/mfcc.c workloads/kws_synth.c workloads/kws_corpus.c
workloads_libxbdata_la_CFLAGS = $(AM_CFLAGS) -ffp-contract=off
XB_DATA_LIBS = workloads/libxbdata.la $(XB_TRACES_LIBS) $(ESPEAK_LIBS) $(SAMPLERATE_LIBS) \
	$(FFTW_LIBS) $(ZLIB_LIBS)
XB_CORE_LIBS += workloads/libxbdata.la
pkginclude_HEADERS += workloads/xb_data.h

check_PROGRAMS += tests/check_data tests/check_mfcc tests/check_kws
TESTS += tests/check_data tests/check_mfcc tests/check_kws
tests_check_data_SOURCES = tests/check_data.c
tests_check_data_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_data_LDADD = $(XB_DATA_LIBS) $(CHECK_LIBS)
tests_check_mfcc_SOURCES = tests/check_mfcc.c
tests_check_mfcc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mfcc_LDADD = $(XB_DATA_LIBS) $(CHECK_LIBS)
tests_check_kws_SOURCES = tests/check_kws.c
tests_check_kws_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_kws_LDADD = $(XB_DATA_LIBS) $(CHECK_LIBS)

# The keyword corpus generator (built with the tests): `make kws-data` writes the test
# split's features (kws-test.h5) into the build directory, the same bytes on every run.
check_PROGRAMS += workloads/xbkwsgen
CLEANFILES += kws-test.h5
workloads_xbkwsgen_SOURCES = workloads/kws_gen.c
workloads_xbkwsgen_LDADD = $(XB_DATA_LIBS)
kws-data: workloads/xbkwsgen$(EXEEXT)
	./workloads/xbkwsgen --split test --storage int8 -o kws-test.h5
.PHONY: kws-data
