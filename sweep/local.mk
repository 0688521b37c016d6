# sweep/local.mk - build fragment of the sweep folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
