/* cal_int.h - internals shared by the files of the calibration module (not installed).
 * The forward model in code units and the moments of the censored, quantized read.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model of one column in code units (see xb_calibration.h): the parameter vector
 * theta = (G, o, L, H, k, n) holds the gain, the offset, the saturation codes, the leak
 * rate k = 1/tau (1/us) and the knee width n of the smooth saturation (codes).  The integrator u = a v starts at 0; event k of a stimulus adds
 * G s_k (s_k = x w of its row) and saturates to S(., L - o, H - o); between events it
 * decays by exp(-k dt), after the last one by exp(-k t_read); the pre-ADC value is
 * m = u + o.  An absent limit (not identified) is +-infinity.
 */
#ifndef XB_CAL_INT_H
#define XB_CAL_INT_H

#include "xb_base.h"
#include "xb_calibration.h"

#include <stddef.h>

/* Indices into theta; the knee width (code units) is used by the smooth shape only. */
enum { XB_CAL_TH_G = 0, XB_CAL_TH_O, XB_CAL_TH_L, XB_CAL_TH_H, XB_CAL_TH_K, XB_CAL_TH_N,
       XB_CAL_NTH };

/* A saturation shape: S(z; lo, hi, knee) of the integrator in code units (u domain) and
 * its partial derivatives.  lo < 0 < hi expected; -INFINITY / INFINITY for absent
 * limits.  hard: the clamp.  smooth: the devices module's clamp with tanh-rounded
 * corners, S = z on [lo + k, hi - k], hi - k + k tanh((z - hi + k) / k) above,
 * lo + k - k tanh((lo + k - z) / k) below, k = min(knee, hi, -lo). */
typedef struct xb_cal_sat_type {
	const char *name;
	double (*apply)(double z, double lo, double hi, double knee, double *d_z, double *d_lo,
			double *d_hi, double *d_knee);
} xb_cal_sat_type;

XB_HIDDEN const xb_cal_sat_type *xb_cal_sat_type_get(xb_calibration_sat s);

/* What a path went through. */
typedef struct xb_cal_path_info {
	double peak, trough;  /* highest / lowest value before saturation, u domain */
	int hit_lo, hit_hi;   /* events at which the hard clamp acted */
	double eff_events;    /* sum over the events after the last clamp of their decay^2
			       * to the read: the per-event noise variance multiplier */
	double sum_q2;        /* sum over all events of (s_k * decay to the read)^2 */
} xb_cal_path_info;

/* The pre-ADC value m of the event sequence S[0..NE-1] sent SENDS times at spacing DT_US
 * and read TR_US after the last event, under THETA; DM (XB_CAL_NTH entries, may be NULL)
 * receives dm/dtheta, PI (may be NULL) the path's statistics. */
XB_HIDDEN double xb_cal_path(const double *s, size_t ne, int sends, double dt_us, double tr_us,
			     const double *theta, int has_lo, int has_hi,
			     const xb_cal_sat_type *sat, double *dm, xb_cal_path_info *pi);

/* The same path; DQ[e] (NE * SENDS entries, event e = send * NE + k) receives dm/dq_e,
 * the sensitivity of m to the charge of each event (for per-synapse deviations). */
XB_HIDDEN double xb_cal_path_dq(const double *s, size_t ne, int sends, double dt_us,
				double tr_us, const double *theta, int has_lo, int has_hi,
				const xb_cal_sat_type *sat, double *dq);

/* The integrator in codes, u + o, at the NT sample times T_US (after event 0 at t = 0,
 * event e at e DT_US, all sends; non-decreasing), as a membrane recording sees it: the
 * state after the last event at or before t, decayed since.  VAL[j] and, if DVAL is not
 * NULL, DVAL[j * XB_CAL_NTH + q] = dVAL[j]/dtheta_q. */
XB_HIDDEN void xb_cal_path_samples(const double *s, size_t ne, int sends, double dt_us,
				   const double *theta, int has_lo, int has_hi,
				   const xb_cal_sat_type *sat, const double *t_us, size_t nt,
				   double *val, double *dval);

/* Moments of y = clamp(floor(m + n), AMIN, AMAX), n ~ N(0, SIGMA^2): the mean, its
 * derivative by m, and the variance (any output may be NULL). */
XB_HIDDEN void xb_cal_moments(double m, double sigma, int amin, int amax, double *mean,
			      double *dmean_dm, double *var);

/* Smallest sigma used in the expected code (the floor alone has std 0.29 LSB). */
#define XB_CAL_SIGMA_MIN 0.3

#endif /* XB_CAL_INT_H */
