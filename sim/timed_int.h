/* timed_int.h - internals shared by the files of the timed model (not installed).
 * A read-only view of the statistics an xb_timed accumulated, for the trace writer.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_TIMED_INT_H
#define XB_TIMED_INT_H

#include "xb_timed.h"

typedef struct xb_timed_view {
	size_t nlat;
	const xb_time_ps *lat;          /* [nlat] latencies */
	size_t ncomponents;
	const char *const *names;       /* [ncomponents] */
	const double *busy_sum_ps;      /* [ncomponents] busy time summed over inferences */
	size_t nlayers;
	const double *energy_sum;       /* [nlayers][XB_TIMED_NENERGY] summed over inferences */
	const xb_timed_interval *tl;    /* first inference's timeline */
	size_t ntl;
	xb_time_ps load_ps;
	double load_pj;
} xb_timed_view;

XB_HIDDEN void xb_timed_stats_view(const xb_timed *t, xb_timed_view *v);

#endif /* XB_TIMED_INT_H */
