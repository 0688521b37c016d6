/* metrics.c - the registry of the metric providers `xbarsim sweep` offers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_metrics.h"

static const xb_sweep_provider *const providers[] = {
	&xb_metrics_run,
	&xb_metrics_tile,
};

const xb_sweep_provider *const *xb_metrics_providers(size_t *n)
{
	*n = sizeof providers / sizeof *providers;
	return providers;
}
