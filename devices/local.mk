# devices/local.mk - build fragment of the devices folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# The analog tile in functional mode and matrices over tiles.  -fno-math-errno and the
# dynamic vectoriser cost model (that of -O3) let the column loops vectorise.
noinst_LTLIBRARIES += devices/libxbdevices.la
devices_libxbdevices_la_SOURCES = devices/xb_devices.h devices/params.c devices/tile.c \
	devices/matrix.c
devices_libxbdevices_la_CFLAGS = $(AM_CFLAGS) -fno-math-errno -fvect-cost-model=dynamic
XB_DEVICES_LIBS = devices/libxbdevices.la $(XB_NOISE_LIBS) $(DNNL_LIBS) $(OPENBLAS_LIBS)
XB_CORE_LIBS += devices/libxbdevices.la
pkginclude_HEADERS += devices/xb_devices.h
dist_presets_DATA += devices/presets/hx.ini devices/presets/ideal.ini \
	devices/presets/pcm.ini devices/presets/rram.ini

check_PROGRAMS += tests/check_tile
TESTS += tests/check_tile
tests_check_tile_SOURCES = tests/check_tile.c
tests_check_tile_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_tile_LDADD = $(XB_DEVICES_LIBS) $(CHECK_LIBS)

BENCH_PROGS += bench/bench_tile
bench_bench_tile_SOURCES = bench/bench_tile.c
bench_bench_tile_LDADD = $(XB_DEVICES_LIBS)
