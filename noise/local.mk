# noise/local.mk - build fragment of the noise folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Noise sources and counter-based random streams.  -fno-math-errno lets the
# Box-Muller loops vectorise (sqrtf need not set errno; arguments are never negative);
# the dynamic cost model (that of -O3) vectorises the column loops.
noinst_LTLIBRARIES += noise/libxbnoise.la
noise_libxbnoise_la_SOURCES = noise/xb_noise.h noise/stream.c noise/sources.c
noise_libxbnoise_la_CFLAGS = $(AM_CFLAGS) -fno-math-errno -fvect-cost-model=dynamic
XB_NOISE_LIBS = noise/libxbnoise.la $(XB_BASE_LIBS)
XB_CORE_LIBS += noise/libxbnoise.la
pkginclude_HEADERS += noise/xb_noise.h

check_PROGRAMS += tests/check_noise
TESTS += tests/check_noise
tests_check_noise_SOURCES = tests/check_noise.c
tests_check_noise_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_noise_LDADD = $(XB_NOISE_LIBS) $(CHECK_LIBS)
