# workloads/train.mk - build fragment of training and the shipped models, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# The subcommand (the lead removes the placeholder xb_cli_train from sim/cli_pending.c).
xbarsim_SOURCES += sim/cli_train.c

# Training pipeline: [train] keys, data, float / noisy / hardware-aware phases.
noinst_LTLIBRARIES += workloads/libxbtrain.la
workloads_libxbtrain_la_SOURCES = workloads/xb_train.h workloads/train_int.h \
	workloads/train_run.c workloads/train_noise.c workloads/train_device.c
XB_CORE_LIBS += workloads/libxbtrain.la
pkginclude_HEADERS += workloads/xb_train.h
EXTRA_DIST += doc/training.md

check_PROGRAMS += tests/check_train
TESTS += tests/check_train
tests_check_train_SOURCES = tests/check_train.c
tests_check_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_train_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_check_train_SOURCES = dummy.cxx

# Time of the hardware-aware training of the shipped KWS model (make bench: kws.train_s).
BENCH_PROGS += bench/bench_train
bench_bench_train_SOURCES = bench/bench_train.c
bench_bench_train_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_bench_train_SOURCES = dummy.cxx

# Shipped files: the trained models and the KWS test-set features, installed to
# $(pkgdatadir)/models and $(pkgdatadir)/data (searched by xb_train_model_path and
# xb_data_path after $XBARSIM_DATA, before the source tree).
TRAIN_CONFIGS = workloads/configs/kws.ini workloads/configs/lenet5.ini workloads/configs/mlp.ini \
	workloads/configs/mlp_nobn.ini
EXTRA_DIST += $(TRAIN_CONFIGS)
modelsdir = $(pkgdatadir)/models
dist_models_DATA = workloads/models/kws.h5 workloads/models/lenet5.h5 workloads/models/mlp.h5
shippeddatadir = $(pkgdatadir)/data
dist_shippeddata_DATA = workloads/data/kws-test.h5

# Maintainer targets: regenerate the shipped files in the source tree from the
# committed configurations (doc/training.md).  Same bytes on every run on the same
# machine and library versions (the training record carries no times).
XB_TRAIN_ENV = OMP_WAIT_POLICY=passive SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
models: xbarsim$(EXEEXT)
	$(XB_TRAIN_ENV) ./xbarsim train -c $(srcdir)/workloads/configs/kws.ini \
	  -o $(srcdir)/workloads/models/kws.h5 --progress=none
	$(XB_TRAIN_ENV) ./xbarsim train -c $(srcdir)/workloads/configs/lenet5.ini \
	  -o $(srcdir)/workloads/models/lenet5.h5 --progress=none
	$(XB_TRAIN_ENV) ./xbarsim train -c $(srcdir)/workloads/configs/mlp.ini \
	  -o $(srcdir)/workloads/models/mlp.h5 --progress=none
shipped-data: kws-data
	cp kws-test.h5 $(srcdir)/workloads/data/kws-test.h5
.PHONY: models shipped-data
