# sim/timed.mk - build fragment of the timed model and `xbarsim report`, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
