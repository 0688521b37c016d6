/* timed_run.c - the timed model's hook into `xbarsim run --timed N` (xb_run_timed.batch).
 * Times the first N samples of the run one by one on the processor model.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_device_nn.h"
#include "xb_timed.h"

xb_status xb_timed_run_batch(void *ud, xb_nn_net *net, struct xb_device_nn *dev, uint64_t first,
			     size_t n, const float *x, double *latency_ns, xb_err *err)
{
	xb_timed_hook *h = ud;

	if (!h || !h->t || !net || (n && !x) || !latency_ns)
		return xb_raise(err, XB_EINVAL, "xb_timed_run_batch: NULL argument");
	size_t in = xb_nn_shape_size(xb_nn_net_in_shape(net));
	for (size_t i = 0; i < n && (!h->limit || h->done < h->limit); i++) {
		const xb_timed_result *r;
		if (dev)
			xb_device_nn_set_sample(dev, first + i);
		xb_status st = xb_timed_infer(h->t, x + i * in, NULL, &r);
		if (st)
			return xb_raise(err, st, "timed mode, sample %llu: %s",
					(unsigned long long)(first + i), xb_timed_errmsg(h->t));
		*latency_ns += xb_ps_to_ns(r->latency_ps);
		h->done++;
	}
	return XB_OK;
}
