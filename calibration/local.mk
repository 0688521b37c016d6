# calibration/local.mk - build fragment of the calibration folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Fitting the per-column device model to measurements (GSL nonlinear least squares),
# measurement and calibration files, the default measurement protocol.
noinst_LTLIBRARIES += calibration/libxbcalibration.la
calibration_libxbcalibration_la_SOURCES = calibration/xb_calibration.h calibration/cal_int.h \
	calibration/meas.c calibration/model.c calibration/fit.c calibration/calfile.c \
	calibration/protocol.c calibration/campaign.c
XB_CALIBRATION_LIBS = calibration/libxbcalibration.la $(XB_DEVICES_LIBS) $(XB_TRACES_LIBS) \
	$(GSL_LIBS)
XB_CORE_LIBS += calibration/libxbcalibration.la
pkginclude_HEADERS += calibration/xb_calibration.h
EXTRA_DIST += doc/calibration.md

check_PROGRAMS += tests/check_calibration
TESTS += tests/check_calibration
tests_check_calibration_SOURCES = tests/check_calibration.c
tests_check_calibration_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_calibration_LDADD = $(XB_CALIBRATION_LIBS) $(CHECK_LIBS)

BENCH_PROGS += bench/bench_calibrate
bench_bench_calibrate_SOURCES = bench/bench_calibrate.c
bench_bench_calibrate_LDADD = $(XB_CALIBRATION_LIBS)
