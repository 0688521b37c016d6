# sim/run.mk - build fragment of `xbarsim run` (device backend, run, trace), included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
