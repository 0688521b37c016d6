# workloads/local.mk - build fragment of the workloads folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later

# Neural networks: layers, networks, training, quantization, the model file.
noinst_LTLIBRARIES += workloads/libxbnn.la
workloads_libxbnn_la_SOURCES = workloads/xb_nn.h workloads/nn_int.h workloads/nn_analog.c \
	workloads/nn_layers.c workloads/nn_net.c workloads/nn_train.c workloads/nn_file.c
XB_NN_LIBS = workloads/libxbnn.la $(XB_TRACES_LIBS) $(XB_BASE_LIBS) $(OPENBLAS_LIBS)
XB_CORE_LIBS += workloads/libxbnn.la
pkginclude_HEADERS += workloads/xb_nn.h
EXTRA_DIST += doc/model-format.md

check_PROGRAMS += tests/check_nn
TESTS += tests/check_nn
tests_check_nn_SOURCES = tests/check_nn.c
tests_check_nn_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_nn_LDADD = $(XB_NN_LIBS) $(CHECK_LIBS)

# Timing of training and inference (make bench).
BENCH_PROGS += bench/bench_nn
bench_bench_nn_SOURCES = workloads/nn_bench.c
bench_bench_nn_LDADD = $(XB_NN_LIBS)
