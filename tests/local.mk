# tests/local.mk - build fragment of the tests folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
# (The Check suites are listed by their modules' local.mk; this file holds the
# command-line tests, which run the built xbarsim program.)

TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
TESTS += tests/cli.sh
EXTRA_DIST += tests/cli.sh
EXTRA_DIST += tests/xb_test.h tests/xb_test_nn.h
