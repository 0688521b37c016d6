/* model.c - the forward model of one column in code units, with its exact Jacobian.
 * Event-by-event leak and saturation (hard or smooth) and the censored, quantized read.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "cal_int.h"

#include <math.h>

/* ---- saturation shapes --------------------------------------------------------------- */

static double sat_hard(double z, double lo, double hi, double knee, double *d_z, double *d_lo,
		       double *d_hi, double *d_knee)
{
	(void)knee;
	*d_z = *d_lo = *d_hi = *d_knee = 0;
	if (z > hi) {
		*d_hi = 1;
		return hi;
	}
	if (z < lo) {
		*d_lo = 1;
		return lo;
	}
	*d_z = 1;
	return z;
}

/* The clamp with tanh-rounded corners of devices/xb_devices.h.  The effective width is
 * k = min(knee, hi, -lo); its derivative goes to whichever of the three is smallest. */
static double sat_smooth(double z, double lo, double hi, double knee, double *d_z, double *d_lo,
			 double *d_hi, double *d_knee)
{
	double k = knee > 1e-6 ? knee : 1e-6, dk = 0, t, s2, out;
	int which = 0;   /* 0: knee, 1: hi, 2: -lo */

	*d_z = 1;
	*d_lo = *d_hi = *d_knee = 0;
	if (hi < k) {
		k = hi;
		which = 1;
	}
	if (-lo < k) {
		k = -lo;
		which = 2;
	}
	if (!(k > 1e-9))
		return sat_hard(z, lo, hi, knee, d_z, d_lo, d_hi, d_knee);
	if (z > hi - k) {
		t = tanh((z - hi + k) / k);
		s2 = 1 - t * t;
		out = hi - k + k * t;
		*d_z = s2;
		*d_hi = 1 - s2;
		dk = -1 + t + s2 * (hi - z) / k;
	} else if (z < lo + k) {
		t = tanh((lo + k - z) / k);
		s2 = 1 - t * t;
		out = lo + k - k * t;
		*d_z = s2;
		*d_lo = 1 - s2;
		dk = 1 - t + s2 * (lo - z) / k;
	} else {
		return z;
	}
	if (which == 0)
		*d_knee = knee > 1e-6 ? dk : 0;
	else if (which == 1)
		*d_hi += dk;
	else
		*d_lo -= dk;
	return out;
}

static const xb_cal_sat_type sat_types[2] = {
	{ "hard", sat_hard },
	{ "smooth", sat_smooth },
};

const xb_cal_sat_type *xb_cal_sat_type_get(xb_calibration_sat s)
{
	return &sat_types[s == XB_CAL_SAT_SMOOTH ? 1 : 0];
}

/* ---- the path ----------------------------------------------------------------------------- */

double xb_cal_path(const double *s, size_t ne, int sends, double dt_us, double tr_us,
		   const double *theta, int has_lo, int has_hi, const xb_cal_sat_type *sat,
		   double *dm, xb_cal_path_info *pi)
{
	const double G = theta[XB_CAL_TH_G], o = theta[XB_CAL_TH_O], kap = theta[XB_CAL_TH_K];
	const double lo = has_lo ? theta[XB_CAL_TH_L] - o : -INFINITY;
	const double hi = has_hi ? theta[XB_CAL_TH_H] - o : INFINITY;
	const double dec = exp(-kap * dt_us), dread = exp(-kap * tr_us);
	double u = 0, du[XB_CAL_NTH] = { 0 };
	double peak = 0, trough = 0, eff = 0, q2 = 0;
	int hit_lo = 0, hit_hi = 0, first = 1;

	for (int sd = 0; sd < sends; sd++) {
		for (size_t k = 0; k < ne; k++) {
			double z, sz, slo, shi, sn = 0;

			if (!first) {
				u *= dec;
				if (dm) {
					for (int j = 0; j < XB_CAL_NTH; j++)
						du[j] *= dec;
					du[XB_CAL_TH_K] -= dt_us * u;
				}
				/* Noise and charge of earlier events decay by dec^2 in variance. */
				eff *= dec * dec;
				q2 *= dec * dec;
			}
			first = 0;
			z = u + G * s[k];
			if (z > peak)
				peak = z;
			if (z < trough)
				trough = z;
			if (sat->apply == sat_hard) {
				/* The common case, inline. */
				sz = 1;
				slo = shi = 0;
				if (z > hi) {
					sz = 0;
					shi = 1;
					u = hi;
				} else if (z < lo) {
					sz = 0;
					slo = 1;
					u = lo;
				} else {
					u = z;
				}
			} else {
				u = sat->apply(z, lo, hi, theta[XB_CAL_TH_N], &sz, &slo, &shi, &sn);
			}
			if (dm) {
				du[XB_CAL_TH_G] += s[k];
				if (sz != 1)
					for (int j = 0; j < XB_CAL_NTH; j++)
						du[j] *= sz;
				du[XB_CAL_TH_L] += slo;
				du[XB_CAL_TH_H] += shi;
				du[XB_CAL_TH_O] -= slo + shi;
				du[XB_CAL_TH_N] += sn;
			}
			if (slo > 0.5 && sz == 0) {
				hit_lo++;
				eff = 0;
			} else if (shi > 0.5 && sz == 0) {
				hit_hi++;
				eff = 0;
			} else {
				eff = eff * sz * sz + 1;
			}
			q2 = q2 * sz * sz + s[k] * s[k];
		}
	}
	if (pi) {
		pi->peak = peak;
		pi->trough = trough;
		pi->hit_lo = hit_lo;
		pi->hit_hi = hit_hi;
		pi->eff_events = eff * dread * dread;
		pi->sum_q2 = q2 * dread * dread;
	}
	if (dm) {
		for (int j = 0; j < XB_CAL_NTH; j++)
			dm[j] = du[j] * dread;
		dm[XB_CAL_TH_K] -= tr_us * dread * u;
		dm[XB_CAL_TH_O] += 1;
	}
	return u * dread + o;
}

/* ---- the read: clamp(floor(m + n)) --------------------------------------------------------- */

void xb_cal_moments(double m, double sigma, int amin, int amax, double *mean, double *dmean_dm,
		    double *var)
{
	/* y >= j  <=>  m + n >= j, so P(y >= j) = Phi((m - j) / sigma) for amin < j <= amax, and
	 * E[y] = amin + sum_j P(y >= j), E[y^2] = amin^2 + sum_j (2j - 1) P(y >= j).  Terms
	 * beyond 8 sigma are 0 or 1 (to 1e-15).  Moments are taken about c = a code
	 * near m, to avoid cancellation. */
	const double sg = sigma > XB_CAL_SIGMA_MIN ? sigma : XB_CAL_SIGMA_MIN;
	const double w = 8.0 * sg;
	double c, a, e1, e2, d = 0;
	long jlo, jhi, j1;

	/* Far from the rails with sigma >= 0.75 the floor is fully dithered: the mean is
	 * m - 1/2 and the variance sigma^2 + 1/12 up to periodic terms of relative size
	 * exp(-2 pi^2 sigma^2) / pi < 2e-5. */
	if (sg >= 0.75 && m - w >= amin + 1 && m + w <= amax) {
		if (mean)
			*mean = m - 0.5;
		if (dmean_dm)
			*dmean_dm = 1;
		if (var)
			*var = sg * sg + 1.0 / 12;
		return;
	}
	c = floor(m + 0.5);
	if (c < amin)
		c = amin;
	if (c > amax)
		c = amax;
	a = amin - c;
	e1 = a;
	e2 = a * a;
	jlo = (long)ceil(m - w);
	jhi = (long)floor(m + w);
	if (jlo < amin + 1)
		jlo = amin + 1;
	if (jhi > amax)
		jhi = amax;
	/* j = amin+1 .. j1 have P = 1. */
	j1 = jlo - 1 < amax ? jlo - 1 : amax;
	if (j1 >= amin + 1) {
		double t = j1 - c;

		e1 += t - a;
		e2 += t * t - a * a;
	}
	for (long j = jlo; j <= jhi; j++) {
		double x = (m - (double)j) / sg, p = 0.5 * erfc(-x * M_SQRT1_2), t = j - c;

		e1 += p;
		e2 += (2 * t - 1) * p;
		d += exp(-0.5 * x * x);
	}
	if (mean)
		*mean = e1 + c;
	if (dmean_dm)
		*dmean_dm = d / (sg * sqrt(2 * M_PI));
	if (var) {
		double v = e2 - e1 * e1;

		*var = v > 0 ? v : 0;
	}
}

/* ---- charge sensitivities ------------------------------------------------------------------- */

double xb_cal_path_dq(const double *s, size_t ne, int sends, double dt_us, double tr_us,
		      const double *theta, int has_lo, int has_hi, const xb_cal_sat_type *sat,
		      double *dq)
{
	/* Forward: record the saturation slope of every event; backward: dm/dq_k =
	 * g_k sz_k with g_last = exp(-k t_read) and g_{k-1} = g_k sz_k exp(-k dt). */
	const double G = theta[XB_CAL_TH_G], o = theta[XB_CAL_TH_O], kap = theta[XB_CAL_TH_K];
	const double lo = has_lo ? theta[XB_CAL_TH_L] - o : -INFINITY;
	const double hi = has_hi ? theta[XB_CAL_TH_H] - o : INFINITY;
	const double dec = exp(-kap * dt_us), dread = exp(-kap * tr_us);
	const size_t total = ne * (size_t)sends;
	double u = 0, g = dread;

	for (size_t e = 0; e < total; e++) {
		double sz, slo, shi, sn;

		if (e)
			u *= dec;
		u = sat->apply(u + G * s[e % ne], lo, hi, theta[XB_CAL_TH_N], &sz, &slo, &shi, &sn);
		dq[e] = sz;
	}
	for (size_t e = total; e-- > 0;) {
		double sz = dq[e];

		dq[e] = g * sz;
		g *= sz * dec;
	}
	return u * dread + o;
}

/* ---- membrane samples ----------------------------------------------------------------------- */

void xb_cal_path_samples(const double *s, size_t ne, int sends, double dt_us, const double *theta,
			 int has_lo, int has_hi, const xb_cal_sat_type *sat, const double *t_us,
			 size_t nt, double *val, double *dval)
{
	const double G = theta[XB_CAL_TH_G], o = theta[XB_CAL_TH_O], kap = theta[XB_CAL_TH_K];
	const double lo = has_lo ? theta[XB_CAL_TH_L] - o : -INFINITY;
	const double hi = has_hi ? theta[XB_CAL_TH_H] - o : INFINITY;
	const double dec = exp(-kap * dt_us);
	const size_t total = ne * (size_t)sends;
	double u = 0, du[XB_CAL_NTH] = { 0 };
	size_t j = 0;

	for (size_t e = 0; e <= total; e++) {
		const double te = (double)e * dt_us;

		/* Samples before event e see the state after event e - 1, decaying. */
		for (; j < nt && (e == total || t_us[j] < te); j++) {
			double dtl = e ? t_us[j] - (double)(e - 1) * dt_us : 0, f = e ? exp(-kap * dtl) : 1;

			val[j] = u * f + o;
			if (dval) {
				for (int q = 0; q < XB_CAL_NTH; q++)
					dval[j * XB_CAL_NTH + (size_t)q] = du[q] * f;
				dval[j * XB_CAL_NTH + XB_CAL_TH_K] -= dtl * u * f;
				dval[j * XB_CAL_NTH + XB_CAL_TH_O] += 1;
			}
		}
		if (e == total)
			break;
		{
			double z, sz, slo, shi, sn;

			if (e) {
				u *= dec;
				for (int q = 0; q < XB_CAL_NTH; q++)
					du[q] *= dec;
				du[XB_CAL_TH_K] -= dt_us * u;
			}
			z = u + G * s[e % ne];
			u = sat->apply(z, lo, hi, theta[XB_CAL_TH_N], &sz, &slo, &shi, &sn);
			du[XB_CAL_TH_G] += s[e % ne];
			for (int q = 0; q < XB_CAL_NTH; q++)
				du[q] *= sz;
			du[XB_CAL_TH_L] += slo;
			du[XB_CAL_TH_H] += shi;
			du[XB_CAL_TH_O] -= slo + shi;
			du[XB_CAL_TH_N] += sn;
		}
	}
}
