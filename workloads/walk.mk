# workloads/walk.mk - build fragment of walking noise (`xbarsim walk`), included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
