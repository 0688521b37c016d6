# calibration/local.mk - build fragment of the calibration folder, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
