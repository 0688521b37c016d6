# workloads/data.mk - build fragment of the workloads data side, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
