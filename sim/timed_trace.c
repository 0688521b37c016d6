/* timed_trace.c - the timed groups of a trace: /timeline and /timing.
 * One call for `xbarsim run --timed N` to add what the timed model measured.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "timed_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* NAMES joined by newlines (malloc'd). */
static char *join(const char *const *names, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *s = malloc(len), *q = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t m = strlen(names[i]);
		memcpy(q, names[i], m);
		q += m;
		if (i + 1 < n)
			*q++ = '\n';
	}
	*q = 0;
	return s;
}

static xb_status werr(xb_h5w *w, xb_err *err, xb_status st, const char *what)
{
	return xb_raise(err, st, "timed trace: writing %s: %s", what, xb_h5w_errmsg(w));
}

xb_status xb_timed_write_trace(const xb_timed *t, xb_h5w *w, xb_err *err)
{
	xb_timed_view v;
	xb_timed_summary s;
	xb_status st = XB_OK;
	char *comps = NULL, *kinds = NULL, *enames = NULL;
	int32_t *i32 = NULL;
	double *f64 = NULL;

	if (!t || !w)
		return xb_raise(err, XB_EINVAL, "xb_timed_write_trace: NULL argument");
	xb_timed_stats_view(t, &v);
	if (!v.nlat)
		return xb_raise(err, XB_ESTATE, "xb_timed_write_trace: no timed inference ran since "
				"the last reset");
	xb_timed_summarize(t, &s);
	const char *knames[XB_TIMED_NKINDS], *en[XB_TIMED_NENERGY];
	for (int k = 0; k < XB_TIMED_NKINDS; k++)
		knames[k] = xb_timed_kind_name(k);
	for (int k = 0; k < XB_TIMED_NENERGY; k++)
		en[k] = xb_timed_energy_name(k);
	comps = join(v.names, v.ncomponents);
	kinds = join(knames, XB_TIMED_NKINDS);
	enames = join(en, XB_TIMED_NENERGY);
	size_t nmax = v.ntl > v.nlat ? v.ntl : v.nlat;
	if (nmax < v.ncomponents)
		nmax = v.ncomponents;
	if (nmax < v.nlayers * XB_TIMED_NENERGY)
		nmax = v.nlayers * XB_TIMED_NENERGY;
	i32 = malloc((nmax + 1) * sizeof *i32);
	f64 = malloc((nmax + 1) * sizeof *f64);
	if (!comps || !kinds || !enames || !i32 || !f64) {
		st = xb_raise(err, XB_ENOMEM, "xb_timed_write_trace: out of memory");
		goto out;
	}

	/* /timeline: busy intervals of the first inference */
	int64_t n = (int64_t)v.ntl;
	if ((st = xb_h5w_group(w, "/timeline", "xbarsim-timeline", 1)) ||
	    (st = xb_h5w_attr_str(w, "/timeline", "components", comps)) ||
	    (st = xb_h5w_attr_str(w, "/timeline", "kinds", kinds)) ||
	    (st = xb_h5w_attr_int(w, "/timeline", "inference", 0))) {
		st = werr(w, err, st, "/timeline");
		goto out;
	}
	static const char *const ints[] = { "/timeline/component", "/timeline/layer",
					    "/timeline/kind", "/timeline/position" };
	for (int d = 0; d < 4; d++) {
		for (size_t i = 0; i < v.ntl; i++)
			i32[i] = d == 0 ? (int32_t)v.tl[i].component : d == 1 ? v.tl[i].layer
				: d == 2 ? v.tl[i].kind : v.tl[i].position;
		if ((st = xb_h5w_write(w, ints[d], XB_H5_INT32, 1, &n, i32, "1"))) {
			st = werr(w, err, st, ints[d]);
			goto out;
		}
	}
	for (int d = 0; d < 2; d++) {
		const char *path = d ? "/timeline/end_ns" : "/timeline/start_ns";
		for (size_t i = 0; i < v.ntl; i++)
			f64[i] = xb_ps_to_ns(d ? v.tl[i].end_ps : v.tl[i].start_ps);
		if ((st = xb_h5w_write(w, path, XB_H5_FLOAT64, 1, &n, f64, "ns"))) {
			st = werr(w, err, st, path);
			goto out;
		}
	}

	/* /timing: latency statistics, utilisation, energy */
	double total_ps = 0;
	for (size_t i = 0; i < v.nlat; i++)
		total_ps += (double)v.lat[i];
	if ((st = xb_h5w_group(w, "/timing", "xbarsim-timing", 1)) ||
	    (st = xb_h5w_attr_int(w, "/timing", "inferences", (int64_t)v.nlat)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "latency_ns_mean", s.latency_ns_mean)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "latency_ns_p50", s.latency_ns_p50)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "latency_ns_p99", s.latency_ns_p99)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "throughput_per_s", s.throughput_per_s)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "energy_pj_per_inference", s.energy_pj_mean)) ||
	    (st = xb_h5w_attr_double(w, "/timing", "load_ns", xb_ps_to_ns(v.load_ps))) ||
	    (st = xb_h5w_attr_double(w, "/timing", "load_energy_pj", v.load_pj)) ||
	    (st = xb_h5w_attr_str(w, "/timing", "components", comps)) ||
	    (st = xb_h5w_attr_str(w, "/timing", "energy_components", enames))) {
		st = werr(w, err, st, "/timing");
		goto out;
	}
	n = (int64_t)v.nlat;
	for (size_t i = 0; i < v.nlat; i++)
		f64[i] = xb_ps_to_ns(v.lat[i]);
	if ((st = xb_h5w_write(w, "/timing/latency_ns", XB_H5_FLOAT64, 1, &n, f64, "ns"))) {
		st = werr(w, err, st, "/timing/latency_ns");
		goto out;
	}
	n = (int64_t)v.ncomponents;
	for (size_t i = 0; i < v.ncomponents; i++)
		f64[i] = total_ps > 0 ? v.busy_sum_ps[i] / total_ps : 0;
	if ((st = xb_h5w_write(w, "/timing/utilisation", XB_H5_FLOAT64, 1, &n, f64, "1"))) {
		st = werr(w, err, st, "/timing/utilisation");
		goto out;
	}
	int64_t dims[2] = { (int64_t)v.nlayers, XB_TIMED_NENERGY };
	for (size_t i = 0; i < v.nlayers * XB_TIMED_NENERGY; i++)
		f64[i] = v.energy_sum[i] / (double)v.nlat;
	if ((st = xb_h5w_write(w, "/timing/energy_pj", XB_H5_FLOAT64, 2, dims, f64, "pJ")))
		st = werr(w, err, st, "/timing/energy_pj");
out:
	free(comps);
	free(kinds);
	free(enames);
	free(i32);
	free(f64);
	return st;
}
