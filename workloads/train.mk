# workloads/train.mk - build fragment of training and the shipped models, included by Makefile.am.
# SPDX-License-Identifier: GPL-3.0-or-later
