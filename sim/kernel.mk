# sim/kernel.mk - build fragment of the SystemC kernel shim, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
