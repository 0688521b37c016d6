/* fit.c - fitting the per-column model to a measurement: initial values, likelihood-ratio
 * tests for the saturation limits, Levenberg-Marquardt, noise, outliers, shape choice.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"
#include "cal_int.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { TH_G = XB_CAL_TH_G, TH_O = XB_CAL_TH_O, TH_L = XB_CAL_TH_L, TH_H = XB_CAL_TH_H,
       TH_K = XB_CAL_TH_K, TH_N = XB_CAL_TH_N, NTH = XB_CAL_NTH };

/* Likelihood-ratio threshold for a saturation limit: the fit with the limit must lower
 * chi^2 by this many (robust) residual variances - a 5 sigma effect. */
#define LR_THRESHOLD 25.0

/* Per-column problem flags (collected into the calibration's warnings). */
enum {
	CF_UNID_LO = 1u << 0, CF_UNID_HI = 1u << 1, CF_UNID_TAU = 1u << 2,
	CF_UNID_NOISE = 1u << 3, CF_FAILED = 1u << 4, CF_NOCONV = 1u << 5,
	CF_UNID_GAIN = 1u << 6
};

/* ---- what all columns share ------------------------------------------------------------ */

typedef struct fit_ctx {
	const xb_calibration_meas *m;
	xb_calibration_params p;
	size_t N, K, C;
	size_t nev;            /* events of all stimuli (one send each) */
	size_t *off, *ne;      /* [N] first event and count of each stimulus */
	int32_t *ev_row;       /* [nev] row of each event */
	double *ev_x;          /* [nev] its input */
	double *dt_us;         /* [N] event spacing */
	double tr_us;          /* read delay */
	int sends;
	int amin, amax;
	double rate0;          /* starting leak rate 1/tau */
	size_t T;              /* membrane samples per stimulus (0: none) */
	double *t_us;          /* [T] their times after event 0 */
} fit_ctx;

/* One fit of one column with one saturation shape. */
typedef struct col_fit {
	int ok;                  /* fitted at all */
	int sat;                 /* xb_calibration_sat */
	int has_lo, has_hi;      /* limits identified (in the model) */
	double th[NTH], se[NTH];
	double sigma_r, sigma_r_se, sigma_e, sigma_e_se;
	double sigma_w;          /* read noise of the weight model (with sigma_e if finite) */
	double chi2, chi2_dof;
	size_t n, p;             /* stimuli used, free parameters */
	size_t nrows;            /* residual rows (stimuli and membrane samples) */
	int converged;
	int tau_ident;
	double resid_rms;        /* RMS of single codes about the model mean, interior */
	double eta_excess;       /* chi^2 - (n - p): noise beyond the repeats' spread */
	double eta_F;            /* ||W^1/2 (I - H) D||^2: what a unit per-synapse variance
				  * adds to chi^2 (D = dE[y]/d eta, H the hat matrix) */
	double nz[6];            /* noise sums over the inner stimuli: count, sum eff, sum eff^2,
				  * sum s^2, sum eff s^2, sum s^4 (eff: events since the last
				  * clamp, decayed) */
	double peak_code, trough_code; /* highest / lowest pre-ADC level reached */
	unsigned flags;
	int ndropped;
} col_fit;

/* The scratch space of one thread, reused column after column. */
typedef struct col_work {
	const fit_ctx *x;
	size_t c;
	double *s;             /* [nev] charge per unit gain (x w) of each event */
	double *ybar, *s2, *kn;/* [N] mean, variance and count of the kept repeats */
	double *sig;           /* [N] noise std of each stimulus */
	double *sw;            /* [N] sqrt of the weight */
	double *mpre;          /* [N] model pre-ADC value */
	double *tmp;           /* [N + K] */
	unsigned char *use;    /* [N] stimulus used in the fit */
	unsigned char *inner;  /* [N] all kept repeats strictly inside the rails */
	size_t *idx, nidx;     /* used stimuli */
	size_t nrows;          /* residual rows: the used stimuli, then their membrane samples */
	double *mem;           /* [N * T] membrane samples of this column */
	double *mval, *mdval;  /* [T], [T * NTH] model samples of one stimulus */
	double sigma_m;        /* noise of the membrane samples (their residual RMS) */
	int rep_dropped;
	double sigma0;
	/* the model being fitted */
	const xb_cal_sat_type *sat;
	int has_lo, has_hi;
	int map[NTH], nfree;   /* gsl index -> theta index */
	double th[NTH];        /* fixed parameters */
	double *noise_out;     /* [3 N] eff, s^2, repeats of the inner stimuli (eff -1: not
				* used), written by fit_noise when not NULL (the final fits) */
	double *jac;           /* [N * NTH] cached Jacobian at jac_x */
	int gls;               /* residuals whitened by the Cholesky factor chol */
	double *chol;          /* [N * N] lower Cholesky factor of the residual covariance
				* over the used stimuli (generalized least squares) */
	double *raw;           /* [N] raw residuals before whitening */
	double *dmat;          /* [N * R] dE[y_n]/d eta_r of the used stimuli */
	double *dq;            /* [R * sends] charge sensitivities of one stimulus */
	double jac_x[NTH];
	int jac_ok;
} col_work;

/* ---- small helpers -------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of V[0..N-1] (reorders V). */
static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double path_of(const col_work *w, size_t n, const double *th, int has_lo, int has_hi,
		      const xb_cal_sat_type *sat, double *dm, xb_cal_path_info *pi)
{
	const fit_ctx *x = w->x;

	return xb_cal_path(w->s + x->off[n], x->ne[n], x->sends, x->dt_us[n], x->tr_us, th,
			   has_lo, has_hi, sat, dm, pi);
}

/* ---- preparing one column ----------------------------------------------------------------- */

/* Charges, repeat statistics (dropping single repeats far from their stimulus' median),
 * a first noise estimate. */
static void prepare_column(col_work *w, size_t c, double k_out)
{
	const fit_ctx *x = w->x;
	const xb_calibration_meas *m = x->m;
	const size_t N = x->N, K = x->K, C = x->C;
	double *dev = NULL, srob;
	size_t nd = 0;

	w->c = c;
	w->rep_dropped = 0;
	for (size_t i = 0; i < N * x->T; i++)
		w->mem[i] = m->membrane[i * C + c];
	for (size_t e = 0; e < x->nev; e++)
		w->s[e] = x->ev_x[e] * m->weights[(size_t)x->ev_row[e] * C + c];
	/* Robust pooled scale of the repeats about their stimulus' median. */
	dev = malloc(N * K * sizeof *dev);
	for (size_t n = 0; n < N; n++) {
		int rail = 0;
		double *v = w->tmp;

		for (size_t k = 0; k < K; k++) {
			int y = m->codes[(n * K + k) * C + c];

			v[k] = y;
			rail |= y <= x->amin || y >= x->amax;
		}
		w->ybar[n] = median(v, K);   /* temporarily: the median */
		if (!rail && dev)
			for (size_t k = 0; k < K; k++)
				dev[nd++] = fabs(m->codes[(n * K + k) * C + c] - w->ybar[n]);
	}
	srob = dev && nd ? 1.4826 * median(dev, nd) : 1.0;
	free(dev);
	if (!(srob >= 1.0))
		srob = 1.0;
	for (size_t n = 0; n < N; n++) {
		double med = w->ybar[n], sum = 0, sum2 = 0, cnt = 0;
		int inner = 1;

		for (size_t k = 0; k < K; k++) {
			int y = m->codes[(n * K + k) * C + c];

			if (k_out > 0 && fabs(y - med) > k_out * srob + 1) {
				w->rep_dropped++;
				continue;
			}
			sum += y;
			cnt += 1;
			inner &= y > x->amin && y < x->amax;
		}
		w->kn[n] = cnt;
		w->ybar[n] = cnt > 0 ? sum / cnt : med;
		for (size_t k = 0; k < K; k++) {
			int y = m->codes[(n * K + k) * C + c];

			if (k_out > 0 && fabs(y - med) > k_out * srob + 1)
				continue;
			sum2 += (y - w->ybar[n]) * (y - w->ybar[n]);
		}
		w->s2[n] = cnt > 1 ? sum2 / (cnt - 1) : NAN;
		w->inner[n] = inner && cnt > 0;
		w->use[n] = cnt > 0;
	}
	/* First noise estimate: pooled variance of the inner stimuli, less the floor's 1/12
	 * (Sheppard's correction). */
	{
		double num = 0, den = 0;

		for (size_t n = 0; n < N; n++)
			if (w->inner[n] && w->kn[n] > 1) {
				num += (w->kn[n] - 1) * w->s2[n];
				den += w->kn[n] - 1;
			}
		w->sigma0 = den > 0 ? sqrt(fmax(num / den - 1.0 / 12, 0.01)) : NAN;
	}
}

/* Robust straight line code = a + b * S through the inner stimuli (S = ideal sum of
 * charges): the starting gain and offset.  Returns 0 when the data cannot give one. */
static int initial_line(col_work *w, double *gain, double *offset)
{
	const fit_ctx *x = w->x;
	const size_t N = x->N;
	const double sg = isnan(w->sigma0) ? 1.0 : w->sigma0;
	double *S = w->mpre, *r = w->tmp, a = 0, b = 0, scale = 0;
	unsigned char *keep = malloc(N);
	size_t nin = 0;
	int ok = 0;

	if (!keep)
		return 0;
	for (size_t n = 0; n < N; n++) {
		double sum = 0;

		for (size_t k = 0; k < x->ne[n]; k++)
			sum += w->s[x->off[n] + k];
		S[n] = sum * x->sends;
	}
	/* Start from the inner stimuli with the smaller half of |S|, well inside the rails. */
	{
		double *abs_s = malloc(N * sizeof *abs_s), lim;

		if (!abs_s) {
			free(keep);
			return 0;
		}
		for (size_t n = 0; n < N; n++)
			if (w->inner[n] && w->ybar[n] > x->amin + 3 * sg && w->ybar[n] < x->amax - 3 * sg)
				abs_s[nin++] = fabs(S[n]);
		lim = median(abs_s, nin);
		free(abs_s);
		for (size_t n = 0; n < N; n++)
			keep[n] = w->inner[n] && w->ybar[n] > x->amin + 3 * sg &&
				  w->ybar[n] < x->amax - 3 * sg && fabs(S[n]) <= lim;
	}
	for (int it = 0; it < 12; it++) {
		double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0, det;
		size_t nk = 0, nr = 0, changed = 0;

		for (size_t n = 0; n < N; n++)
			if (keep[n]) {
				s0 += 1;
				s1 += S[n];
				s2 += S[n] * S[n];
				t0 += w->ybar[n];
				t1 += S[n] * w->ybar[n];
				nk++;
			}
		det = s0 * s2 - s1 * s1;
		if (nk < 2 || !(det > 1e-12 * s2 * s0)) {
			ok = 0;
			break;
		}
		b = (s0 * t1 - s1 * t0) / det;
		a = (t0 - b * s1) / s0;
		ok = 1;
		for (size_t n = 0; n < N; n++)
			if (keep[n])
				r[nr++] = fabs(w->ybar[n] - a - b * S[n]);
		scale = 1.4826 * median(r, nr);
		if (scale < sg / sqrt((double)x->K))
			scale = sg / sqrt((double)x->K);
		for (size_t n = 0; n < N; n++) {
			int k = w->inner[n] && fabs(w->ybar[n] - a - b * S[n]) <= 4 * scale + 0.5;

			changed += k != keep[n];
			keep[n] = (unsigned char)k;
		}
		if (!changed)
			break;
	}
	free(keep);
	*gain = b;
	*offset = a + 0.5;   /* the floor lowers the mean code by 1/2 */
	return ok && isfinite(a) && isfinite(b) && b != 0;
}

/* ---- chi^2 of a model (for the grid and the shape choice) ---------------------------------- */

/* Sum over the used stimuli of w_n (ybar - E[y])^2, with w_n = kn / (sigma^2 + 1/12) when
 * UNIFORM, else the current weights; the residuals go to R (may be NULL). */
static double model_chi2(col_work *w, const double *th, int has_lo, int has_hi,
			 const xb_cal_sat_type *sat, int uniform, double *r)
{
	const fit_ctx *x = w->x;
	double chi2 = 0;

	for (size_t i = 0; i < w->nidx; i++) {
		size_t n = w->idx[i];
		double mp = path_of(w, n, th, has_lo, has_hi, sat, NULL, NULL), mu, f;

		xb_cal_moments(mp, w->sig[n], x->amin, x->amax, &mu, NULL, NULL);
		f = (w->ybar[n] - mu) * (uniform ? sqrt(w->kn[n] / (w->sig[n] * w->sig[n] + 1.0 / 12))
					 : w->sw[n]);
		if (r)
			r[i] = f;
		chi2 += f * f;
	}
	return chi2;
}

/* Robust residual variance of a set of standardized residuals (>= 1). */
static double robust_var(double *r, size_t n)
{
	double *a = malloc(n * sizeof *a), v;

	if (!a || !n) {
		free(a);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = r[i] * r[i];
	v = median(a, n) / 0.4549;   /* median of chi^2_1 */
	free(a);
	return v > 1 ? v : 1;
}

/* Uniformly weighted squared residual of stimulus N under the hard model. */
static double stim_chi2(col_work *w, size_t n, const double *th, int has_lo, int has_hi)
{
	const fit_ctx *x = w->x;
	double mp = path_of(w, n, th, has_lo, has_hi, xb_cal_sat_type_get(XB_CAL_SAT_HARD), NULL,
			    NULL), mu, f;

	xb_cal_moments(mp, w->sig[n], x->amin, x->amax, &mu, NULL, NULL);
	f = (w->ybar[n] - mu) * sqrt(w->kn[n] / (w->sig[n] * w->sig[n] + 1.0 / 12));
	return f * f;
}

/* chi^2 with the limit at V: the chi^2 without it, corrected for the stimuli whose path
 * goes beyond V (the others are unchanged by a hard clamp they never reach). */
static double limit_chi2(col_work *w, double *th, int limit, double v, int has_lo, int has_hi,
			 const double *ext, const double *chi0, double chi_none)
{
	const int is_hi = limit == TH_H;
	double chi = chi_none;

	th[limit] = v;
	for (size_t i = 0; i < w->nidx; i++)
		if (is_hi ? ext[i] > v - th[TH_O] : ext[i] < v - th[TH_O])
			chi += stim_chi2(w, w->idx[i], th, has_lo, has_hi) - chi0[i];
	return chi;
}

/* Grid search of one limit (LIMIT = TH_L or TH_H) of the hard model, the other limit as
 * given.  Returns 1 and the best value in TH[LIMIT] if the limit improves chi^2
 * significantly (likelihood-ratio test), 0 otherwise. */
static int grid_limit(col_work *w, double *th, int limit, int has_other)
{
	const int is_hi = limit == TH_H;
	const double sg = isnan(w->sigma0) ? 1.0 : w->sigma0;
	const int lo0 = is_hi ? has_other : 0, hi0 = is_hi ? 0 : has_other;
	const int has_lo = is_hi ? has_other : 1, has_hi = is_hi ? 1 : has_other;
	const int ngrid = 32;
	double far = 0, lo_v, hi_v, best = INFINITY, best_v = NAN, chi_none = 0, step;
	double *ext = malloc(2 * w->nidx * sizeof *ext), *chi0 = ext + w->nidx;
	int found = 0;

	if (!ext)
		return 0;
	/* How far each path goes without this limit, and its chi^2 then. */
	for (size_t i = 0; i < w->nidx; i++) {
		xb_cal_path_info pi;

		path_of(w, w->idx[i], th, lo0, hi0, xb_cal_sat_type_get(XB_CAL_SAT_HARD), NULL, &pi);
		ext[i] = is_hi ? pi.peak : pi.trough;
		if (is_hi ? ext[i] > far : ext[i] < far)
			far = ext[i];
		chi0[i] = stim_chi2(w, w->idx[i], th, lo0, hi0);
		chi_none += chi0[i];
	}
	/* Candidate limits between just beyond the offset and the farthest level reached. */
	if (is_hi) {
		lo_v = th[TH_O] + fmax(2 * sg, 1);
		hi_v = th[TH_O] + far;
	} else {
		lo_v = th[TH_O] + far;
		hi_v = th[TH_O] - fmax(2 * sg, 1);
	}
	if (!(hi_v > lo_v + 0.5))
		goto done;
	step = (hi_v - lo_v) / (ngrid - 1);
	for (int g = 0; g < ngrid; g++) {
		double v = lo_v + g * step;
		double chi = limit_chi2(w, th, limit, v, has_lo, has_hi, ext, chi0, chi_none);

		if (chi < best) {
			best = chi;
			best_v = v;
		}
	}
	/* Golden-section refinement around the best grid point. */
	{
		const double gr = 0.6180339887498949;
		double a = best_v - step, b = best_v + step, c1, c2, f1, f2;

		c1 = b - gr * (b - a);
		c2 = a + gr * (b - a);
		f1 = limit_chi2(w, th, limit, c1, has_lo, has_hi, ext, chi0, chi_none);
		f2 = limit_chi2(w, th, limit, c2, has_lo, has_hi, ext, chi0, chi_none);
		for (int it = 0; it < 12; it++) {
			if (f1 < f2) {
				b = c2;
				c2 = c1;
				f2 = f1;
				c1 = b - gr * (b - a);
				f1 = limit_chi2(w, th, limit, c1, has_lo, has_hi, ext, chi0, chi_none);
			} else {
				a = c1;
				c1 = c2;
				f1 = f2;
				c2 = a + gr * (b - a);
				f2 = limit_chi2(w, th, limit, c2, has_lo, has_hi, ext, chi0, chi_none);
			}
		}
		if (fmin(f1, f2) < best) {
			best = fmin(f1, f2);
			best_v = f1 < f2 ? c1 : c2;
		}
	}
	th[limit] = best_v;
	{
		/* The robust residual variance at the best limit scales the test. */
		double *r = malloc(w->nidx * sizeof *r);

		if (r) {
			model_chi2(w, th, has_lo, has_hi, xb_cal_sat_type_get(XB_CAL_SAT_HARD), 1, r);
			found = chi_none - best > LR_THRESHOLD * robust_var(r, w->nidx);
			free(r);
		}
	}
done:
	free(ext);
	return found;
}

/* ---- Levenberg-Marquardt ------------------------------------------------------------------- */

static void unpack(const col_work *w, const gsl_vector *v, double *th)
{
	memcpy(th, w->th, sizeof w->th);
	for (int i = 0; i < w->nfree; i++)
		th[w->map[i]] = gsl_vector_get(v, (size_t)i);
}

/* Residuals f_i = sqrt(w_n) (ybar_n - E[y_n]) and their Jacobian (cached). */
static int eval_fj(const gsl_vector *v, col_work *w, gsl_vector *f)
{
	const fit_ctx *x = w->x;
	double th[NTH];

	unpack(w, v, th);
	for (size_t i = 0; i < w->nidx; i++) {
		size_t n = w->idx[i];
		double dm[NTH], mp, mu, dmu, sw = w->gls ? 1.0 : w->sw[n];

		mp = path_of(w, n, th, w->has_lo, w->has_hi, w->sat, dm, NULL);
		xb_cal_moments(mp, w->sig[n], x->amin, x->amax, &mu, &dmu, NULL);
		w->raw[i] = (w->ybar[n] - mu) * sw;
		for (int j = 0; j < w->nfree; j++)
			w->jac[i * NTH + (size_t)j] = -sw * dmu * dm[w->map[j]];
	}
	if (w->gls) {
		/* Whiten: solve L f = r and L J = J_raw (forward substitution). */
		const size_t nn = w->nidx;

		for (size_t i = 0; i < nn; i++) {
			const double *L = w->chol + i * nn, d = L[i];
			double acc = w->raw[i], aj[NTH];

			for (int j = 0; j < w->nfree; j++)
				aj[j] = w->jac[i * NTH + (size_t)j];
			for (size_t k = 0; k < i; k++) {
				acc -= L[k] * w->raw[k];
				for (int j = 0; j < w->nfree; j++)
					aj[j] -= L[k] * w->jac[k * NTH + (size_t)j];
			}
			w->raw[i] = acc / d;
			for (int j = 0; j < w->nfree; j++)
				w->jac[i * NTH + (size_t)j] = aj[j] / d;
		}
	}
	/* Membrane samples: (recorded - model) / sigma_m. */
	for (size_t i = 0; x->T && i < w->nidx; i++) {
		size_t n = w->idx[i], row = w->nidx + i * x->T;

		xb_cal_path_samples(w->s + x->off[n], x->ne[n], x->sends, x->dt_us[n], th, w->has_lo,
				    w->has_hi, w->sat, x->t_us, x->T, w->mval, w->mdval);
		for (size_t t = 0; t < x->T; t++, row++) {
			w->raw[row] = (w->mem[n * x->T + t] - w->mval[t]) / w->sigma_m;
			for (int j = 0; j < w->nfree; j++)
				w->jac[row * NTH + (size_t)j] = -w->mdval[t * NTH + (size_t)w->map[j]] /
								w->sigma_m;
		}
	}
	if (f)
		for (size_t i = 0; i < w->nrows; i++)
			gsl_vector_set(f, i, w->raw[i]);
	for (int j = 0; j < w->nfree; j++)
		w->jac_x[j] = gsl_vector_get(v, (size_t)j);
	w->jac_ok = 1;
	return GSL_SUCCESS;
}

static int cb_f(const gsl_vector *v, void *ud, gsl_vector *f)
{
	return eval_fj(v, ud, f);
}

static int cb_df(const gsl_vector *v, void *ud, gsl_matrix *J)
{
	col_work *w = ud;
	int same = w->jac_ok;

	for (int j = 0; j < w->nfree && same; j++)
		same = w->jac_x[j] == gsl_vector_get(v, (size_t)j);
	if (!same)
		eval_fj(v, w, NULL);
	for (size_t i = 0; i < w->nrows; i++)
		for (int j = 0; j < w->nfree; j++)
			gsl_matrix_set(J, i, (size_t)j, w->jac[i * NTH + (size_t)j]);
	return GSL_SUCCESS;
}

/* Set the free parameters: G, o, the limits in the model, k, and the knee of a smooth
 * saturation with a limit. */
static void set_free(col_work *w)
{
	w->nfree = 0;
	w->map[w->nfree++] = TH_G;
	w->map[w->nfree++] = TH_O;
	if (w->has_lo)
		w->map[w->nfree++] = TH_L;
	if (w->has_hi)
		w->map[w->nfree++] = TH_H;
	w->map[w->nfree++] = TH_K;
	if (w->sat != xb_cal_sat_type_get(XB_CAL_SAT_HARD) && (w->has_lo || w->has_hi))
		w->map[w->nfree++] = TH_N;
}

/* Weights from the exact variance of each stimulus' mean under TH. */
static void set_weights(col_work *w, const double *th, double sigma_r)
{
	const fit_ctx *x = w->x;
	const double vfloor = 0.1 * (sigma_r * sigma_r + 1.0 / 12);

	for (size_t i = 0; i < w->nidx; i++) {
		size_t n = w->idx[i];
		double mp = path_of(w, n, th, w->has_lo, w->has_hi, w->sat, NULL, NULL), var;

		xb_cal_moments(mp, w->sig[n], x->amin, x->amax, NULL, NULL, &var);
		w->sw[n] = sqrt(w->kn[n] / fmax(var, vfloor));
	}
}

/* Fit the free parameters of the current model from TH (in/out).  *CHI2 gets the final
 * chi^2, SE (may be NULL) the standard errors scaled by max(1, chi^2/dof) (0 for a
 * parameter the data do not determine), *CONV whether the driver converged.  Returns 0
 * if the fit could not be run. */
static int lm_fit(col_work *w, const fit_ctx *x, double *th, double *chi2, double *se,
		  int *conv, double *cov_out)
{
	gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
	gsl_multifit_nlinear_workspace *ws;
	gsl_multifit_nlinear_fdf fdf;
	gsl_vector *x0;
	gsl_matrix *cov = NULL;
	int info = 0, status;
	const size_t n = w->nrows, p = (size_t)w->nfree;

	if (n <= p)
		return 0;
	par.trs = gsl_multifit_nlinear_trs_lm;
	ws = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, n, p);
	x0 = gsl_vector_alloc(p);
	if (!ws || !x0) {
		if (ws)
			gsl_multifit_nlinear_free(ws);
		if (x0)
			gsl_vector_free(x0);
		return 0;
	}
	memcpy(w->th, th, sizeof w->th);
	for (size_t j = 0; j < p; j++)
		gsl_vector_set(x0, j, th[w->map[j]]);
	fdf.f = cb_f;
	fdf.df = cb_df;
	fdf.fvv = NULL;
	fdf.n = n;
	fdf.p = p;
	fdf.params = w;
	w->jac_ok = 0;
	gsl_multifit_nlinear_init(x0, &fdf, ws);
	status = gsl_multifit_nlinear_driver((size_t)x->p.max_iter, 1e-9, 1e-9, 0.0, NULL, NULL,
					     &info, ws);
	/* No progress possible from the start means the start is the minimum already. */
	*conv = status == GSL_SUCCESS || (status == GSL_EMAXITER && info == GSL_ENOPROG);
	unpack(w, gsl_multifit_nlinear_position(ws), th);
	{
		double nrm = gsl_blas_dnrm2(gsl_multifit_nlinear_residual(ws));

		*chi2 = nrm * nrm;
	}
	if (se) {
		gsl_matrix *J = gsl_multifit_nlinear_jac(ws);
		double scale = n > p ? *chi2 / (double)(n - p) : 1;

		if (scale < 1)
			scale = 1;
		cov = gsl_matrix_alloc(p, p);
		for (int j = 0; j < NTH; j++)
			se[j] = NAN;
		if (cov && gsl_multifit_nlinear_covar(J, 1e-10, cov) == GSL_SUCCESS) {
			for (size_t j = 0; j < p; j++)
				se[w->map[j]] = sqrt(gsl_matrix_get(cov, j, j) * scale);
			if (cov_out)
				for (size_t j = 0; j < p; j++)
					for (size_t k = 0; k < p; k++)
						cov_out[j * NTH + k] = gsl_matrix_get(cov, j, k);
		}
		if (cov)
			gsl_matrix_free(cov);
	}
	gsl_vector_free(x0);
	gsl_multifit_nlinear_free(ws);
	for (int j = 0; j < NTH; j++)
		if (!isfinite(th[j]) && !((j == TH_L && !w->has_lo) || (j == TH_H && !w->has_hi)))
			return 0;
	return 1;
}

/* ---- noise ----------------------------------------------------------------------------------- */

/* Read noise (and per-event noise when it shows) from the spread of the repeats of the
 * stimuli whose model mean lies well inside the rails.  Matches the pooled variance to
 * the exact variance of the quantized read.  Sets F->sigma_r (NaN if no stimulus has two
 * repeats inside the rails), its standard error, F->sigma_e. */
static void fit_noise(col_work *w, const double *th, col_fit *f)
{
	const fit_ctx *x = w->x;
	double num = 0, den = 0, sum_v = 0, sum_v2 = 0, nn = 0;
	double se0 = 0, se1 = 0, se2 = 0, sv = 0, sev = 0;
	double *eff = w->mpre, *mpre = w->tmp, sgl = isnan(w->sigma0) ? 1.0 : w->sigma0;
	size_t cnt = 0;

	for (size_t n = 0; n < x->N; n++) {
		xb_cal_path_info pi;
		double mp;

		eff[n] = -1;
		if (!w->use[n] || w->kn[n] < 2 || !isfinite(w->s2[n]))
			continue;
		mp = path_of(w, n, th, f->has_lo, f->has_hi, w->sat, NULL, &pi);
		if (mp < x->amin + 1 + 4 * sgl || mp > x->amax - 4 * sgl || !w->inner[n])
			continue;
		eff[n] = pi.eff_events;
		mpre[n] = mp;
		num += (w->kn[n] - 1) * w->s2[n];
		den += w->kn[n] - 1;
		sum_v += w->s2[n];
		sum_v2 += w->s2[n] * w->s2[n];
		nn += 1;
		se0 += 1;
		se1 += eff[n];
		se2 += eff[n] * eff[n];
		sv += w->s2[n];
		sev += eff[n] * w->s2[n];
		cnt++;
	}
	f->sigma_e = NAN;
	f->sigma_e_se = NAN;
	if (w->noise_out)
		for (size_t n = 0; n < x->N; n++) {
			w->noise_out[n] = eff[n];
			w->noise_out[x->N + n] = eff[n] >= 0 ? w->s2[n] : 0;
			w->noise_out[2 * x->N + n] = eff[n] >= 0 ? w->kn[n] : 0;
		}
	/* Sums for the per-event noise, pooled over the columns by the driver. */
	f->nz[0] = se0;
	f->nz[1] = se1;
	f->nz[2] = se2;
	f->nz[3] = sv;
	f->nz[4] = sev;
	f->nz[5] = sum_v2;
	if (!(den > 0) || cnt < 2) {
		f->sigma_r = NAN;
		f->sigma_r_se = NAN;
		f->sigma_w = NAN;
		return;
	}
	/* A per-event noise for the weights of this column's fit: the repeats' variance
	 * growing with the events since the last clamp (ordinary least squares, used when
	 * the slope exceeds 2 standard errors; what is reported is pooled over the columns
	 * by the driver). */
	{
		double det = se0 * se2 - se1 * se1;

		f->sigma_w = NAN;
		if (cnt > 4 && det > 1e-9 * se0 * se2) {
			double b = (se0 * sev - se1 * sv) / det, a = (sv - b * se1) / se0, rss = 0, seb;

			for (size_t n = 0; n < x->N; n++)
				if (eff[n] >= 0) {
					double r = w->s2[n] - a - b * eff[n];

					rss += r * r;
				}
			seb = sqrt(rss / (double)(cnt - 2) * se0 / det);
			if (b > 2 * seb) {
				f->sigma_e = sqrt(b);
				f->sigma_e_se = seb / (2 * sqrt(b));
				f->sigma_w = sqrt(fmax(a - 1.0 / 12, 0.01));
			}
		}
	}
	{
		/* Solve mean_n Var(m_n, sigma) = pooled variance for sigma by bisection. */
		double target = num / den, lo = 0.0, hi = sqrt(target) + 2;
		double var_s2 = nn > 1 ? (sum_v2 - sum_v * sum_v / nn) / (nn - 1) : 0;

		for (int it = 0; it < 50; it++) {
			double mid = 0.5 * (lo + hi), acc = 0, wsum = 0;

			for (size_t n = 0; n < x->N; n++) {
				double v;

				if (eff[n] < 0)
					continue;
				xb_cal_moments(mpre[n], fmax(mid, 1e-3), x->amin, x->amax, NULL, NULL, &v);
				acc += (w->kn[n] - 1) * v;
				wsum += w->kn[n] - 1;
			}
			if (acc / wsum < target)
				lo = mid;
			else
				hi = mid;
			if (mid < XB_CAL_SIGMA_MIN && hi - lo < 1e-4)
				break;
		}
		f->sigma_r = 0.5 * (lo + hi);
		/* Standard error from the spread of the per-stimulus variances. */
		f->sigma_r_se = sqrt(var_s2 / nn) / (2 * fmax(f->sigma_r, 0.05));
		if (isnan(f->sigma_w))
			f->sigma_w = f->sigma_r;
	}
}

/* ---- fitting one column with one shape ----------------------------------------------------- */

static void set_sigmas(col_work *w, double sigma_r, double sigma_e, const double *th,
		       int has_lo, int has_hi)
{
	for (size_t n = 0; n < w->x->N; n++) {
		double v = sigma_r * sigma_r;

		if (isfinite(sigma_e)) {
			xb_cal_path_info pi;

			path_of(w, n, th, has_lo, has_hi, w->sat, NULL, &pi);
			v += sigma_e * sigma_e * pi.eff_events;
		}
		w->sig[n] = sqrt(v);
	}
}

static void collect_used(col_work *w)
{
	w->nidx = 0;
	for (size_t n = 0; n < w->x->N; n++)
		if (w->use[n])
			w->idx[w->nidx++] = n;
	w->nrows = w->nidx * (1 + w->x->T);
}

/* Drop stimuli whose standardized residual exceeds k robust sigmas; returns how many. */
static int drop_outliers(col_work *w, const double *th, double k)
{
	double *r = malloc(w->nidx * sizeof *r), *a, s;
	int dropped = 0;

	if (!r || k <= 0) {
		free(r);
		return 0;
	}
	model_chi2(w, th, w->has_lo, w->has_hi, w->sat, 0, r);
	a = malloc(w->nidx * sizeof *a);
	if (!a) {
		free(r);
		return 0;
	}
	for (size_t i = 0; i < w->nidx; i++)
		a[i] = fabs(r[i]);
	s = 1.4826 * median(a, w->nidx);
	free(a);
	if (s < 1)
		s = 1;
	for (size_t i = 0; i < w->nidx; i++)
		if (fabs(r[i]) > k * s) {
			w->use[w->idx[i]] = 0;
			dropped++;
		}
	free(r);
	if (dropped)
		collect_used(w);
	return dropped;
}

/* The noise of the membrane samples: the RMS of their residuals at TH (the fit absorbs
 * a negligible share of their many degrees of freedom). */
static void membrane_sigma(col_work *w, const double *th)
{
	const fit_ctx *x = w->x;
	double ss = 0, cnt = 0;

	for (size_t i = 0; i < w->nidx; i++) {
		size_t n = w->idx[i];

		xb_cal_path_samples(w->s + x->off[n], x->ne[n], x->sends, x->dt_us[n], th, w->has_lo,
				    w->has_hi, w->sat, x->t_us, x->T, w->mval, NULL);
		for (size_t t = 0; t < x->T; t++) {
			double r = w->mem[n * x->T + t] - w->mval[t];

			ss += r * r;
			cnt += 1;
		}
	}
	w->sigma_m = cnt > 0 && ss > 0 ? sqrt(ss / cnt) : 1.0;
}

/* ---- per-synapse deviations ------------------------------------------------------------------ */

/* D[i][r] = dE[y_n]/d eta_r for the used stimuli i (n = idx[i]): how the expected code
 * moves with a relative gain deviation of the synapse of row r (all its events). */
static void build_dmat(col_work *w, const double *th, int has_lo, int has_hi)
{
	const fit_ctx *x = w->x;
	const size_t R = x->m->rows;

	for (size_t i = 0; i < w->nidx; i++) {
		const size_t n = w->idx[i], ne = x->ne[n];
		const double *sv = w->s + x->off[n];
		const int32_t *rows = x->ev_row + x->off[n];
		double *D = w->dmat + i * R, mp, dmu;

		memset(D, 0, R * sizeof *D);
		if (!ne)
			continue;
		mp = xb_cal_path_dq(sv, ne, x->sends, x->dt_us[n], x->tr_us, th, has_lo, has_hi,
				    w->sat, w->dq);
		xb_cal_moments(mp, w->sig[n], x->amin, x->amax, NULL, &dmu, NULL);
		for (size_t e = 0; e < ne * (size_t)x->sends; e++)
			D[rows[e % ne]] += dmu * w->dq[e] * th[TH_G] * sv[e % ne];
	}
}

/* The moments that estimate the per-synapse variance over all columns: F->eta_excess =
 * chi^2 - (n - p) and F->eta_F = ||W^1/2 (I - H) D||_F^2 = ||D_w||^2 - tr(M^T A^-1 M) with
 * D_w = W^1/2 D, M = J_w^T D_w, A^-1 = COV (the unscaled covariance of the fit at TH), so
 * that E[chi^2] = (n - p) + sigma_eta^2 eta_F. */
static void eta_moments(col_work *w, const double *th, const double *cov, col_fit *f)
{
	const size_t R = w->x->m->rows, p = (size_t)w->nfree;
	double *M = calloc(2 * NTH * R, sizeof *M), *AM = M ? M + NTH * R : NULL, norm = 0, tr = 0;
	gsl_vector *v = gsl_vector_alloc(p);

	f->eta_excess = f->chi2 - (double)(f->nrows - f->p);
	f->eta_F = 0;
	if (!M || !v) {
		free(M);
		if (v)
			gsl_vector_free(v);
		return;
	}
	build_dmat(w, th, w->has_lo, w->has_hi);
	for (size_t j = 0; j < p; j++)
		gsl_vector_set(v, j, th[w->map[j]]);
	memcpy(w->th, th, sizeof w->th);
	eval_fj(v, w, NULL);
	for (size_t i = 0; i < w->nidx; i++) {
		const double sw = w->sw[w->idx[i]], *D = w->dmat + i * R;

		for (size_t r = 0; r < R; r++) {
			double d = sw * D[r];

			if (d == 0)
				continue;
			norm += d * d;
			for (size_t j = 0; j < p; j++)
				M[j * R + r] += w->jac[i * NTH + j] * d;
		}
	}
	for (size_t j = 0; j < p; j++)
		for (size_t k = 0; k < p; k++)
			for (size_t r = 0; r < R; r++)
				AM[j * R + r] += cov[j * NTH + k] * M[k * R + r];
	for (size_t j = 0; j < p; j++)
		for (size_t r = 0; r < R; r++)
			tr += M[j * R + r] * AM[j * R + r];
	f->eta_F = fmax(norm - tr, 0);
	free(M);
	gsl_vector_free(v);
}

/* Refit with generalized least squares once the per-synapse variance S_ETA2 is known: the
 * mean codes of stimuli sharing rows are correlated, cov = diag(Var / k) + s_eta2 D D^T;
 * the residuals are whitened by its Cholesky factor.  Starts from F's solution with the
 * stimuli, limits and noise of the first fit; updates F's parameters and errors. */
static void refit_gls(col_work *w, col_fit *f, double s_eta2)
{
	const fit_ctx *x = w->x;
	const size_t nn = w->nidx, R = x->m->rows;
	double th[NTH], se[NTH], chi2;
	int conv;
	gsl_matrix_view L = gsl_matrix_view_array(w->chol, nn, nn);

	memcpy(th, f->th, sizeof th);
	build_dmat(w, th, f->has_lo, f->has_hi);
	for (size_t i = 0; i < nn; i++)
		for (size_t k = 0; k <= i; k++) {
			const double *a = w->dmat + i * R, *b = w->dmat + k * R;
			double acc = 0;

			for (size_t r = 0; r < R; r++)
				acc += a[r] * b[r];
			acc *= s_eta2;
			if (i == k)
				acc += 1 / (w->sw[w->idx[i]] * w->sw[w->idx[i]]);
			w->chol[i * nn + k] = w->chol[k * nn + i] = acc;
		}
	if (gsl_linalg_cholesky_decomp1(&L.matrix) != GSL_SUCCESS)
		return;
	w->gls = 1;
	if (lm_fit(w, x, th, &chi2, se, &conv, NULL)) {
		memcpy(f->th, th, sizeof th);
		memcpy(f->se, se, sizeof se);
		f->chi2 = chi2;
		f->chi2_dof = chi2 / (double)(w->nrows - (size_t)w->nfree);
		f->converged = conv;
		f->tau_ident = isfinite(se[TH_K]) && se[TH_K] > 0 && th[TH_K] > 2 * se[TH_K];
	}
	w->gls = 0;
}

/* The full fit of one shape from the initial TH0 with limits HAS_LO/HAS_HI (from the grid).
 * USE on entry marks the stimuli available; on exit those kept. */
static void fit_shape(col_work *w, int sat, const double *th0, int has_lo, int has_hi,
		      col_fit *f)
{
	const fit_ctx *x = w->x;
	double th[NTH], chi2 = 0, se[NTH], cov[NTH * NTH];
	int conv = 0;

	memset(f, 0, sizeof *f);
	f->sat = sat;
	memcpy(th, th0, sizeof th);
	w->sat = xb_cal_sat_type_get((xb_calibration_sat)sat);
	w->has_lo = has_lo;
	w->has_hi = has_hi;
	f->sigma_r = isnan(w->sigma0) ? 1.0 : w->sigma0;
	f->sigma_e = NAN;
	f->has_lo = has_lo;
	f->has_hi = has_hi;
	w->sigma_m = f->sigma_r;
	collect_used(w);
	set_free(w);
	/* Noise and weights from the starting values, a fit; outliers dropped and a refit if
	 * any were; the limits tested; noise and weights again from the fit, and the final
	 * fit (from the optimum: a few iterations) with the standard errors. */
	fit_noise(w, th, f);
	if (isnan(f->sigma_r))
		f->sigma_r = f->sigma_w = isnan(w->sigma0) ? 1.0 : w->sigma0;
	set_sigmas(w, f->sigma_w, f->sigma_e, th, has_lo, has_hi);
	set_weights(w, th, f->sigma_r);
	if (!lm_fit(w, x, th, &chi2, NULL, &conv, NULL))
		goto failed;
	if (x->T)
		membrane_sigma(w, th);
	if (x->p.outlier_k > 0) {
		int d = drop_outliers(w, th, x->p.outlier_k);

		f->ndropped += d;
		if (d && !lm_fit(w, x, th, &chi2, NULL, &conv, NULL))
			goto failed;
	}
	/* Likelihood-ratio test of each limit kept.  Without the limit at the same
	 * parameters first: if chi^2 hardly rises, no refit can make the limit matter; if it
	 * rises enormously, no refit of gain, offset and leak can hide it; in between, refit
	 * without the limit and compare. */
	for (int lim = 0; lim < 2; lim++) {
		int *has = lim ? &w->has_hi : &w->has_lo;
		double th1[NTH], chi1, s2, thr, *r;
		int conv1, keep;

		if (!*has)
			continue;
		r = malloc(w->nidx * sizeof *r);
		chi2 = model_chi2(w, th, w->has_lo, w->has_hi, w->sat, 0, r);
		s2 = r ? robust_var(r, w->nidx) : 1;
		free(r);
		thr = LR_THRESHOLD * fmax(s2, chi2 / (double)(w->nidx - (size_t)w->nfree));
		*has = 0;
		chi1 = model_chi2(w, th, w->has_lo, w->has_hi, w->sat, 0, NULL);
		keep = chi1 - chi2 > thr;
		if (keep && chi1 - chi2 < 100 * thr) {
			memcpy(th1, th, sizeof th);
			set_free(w);
			if (lm_fit(w, x, th1, &chi1, NULL, &conv1, NULL))
				keep = chi1 - chi2 > thr;
		}
		*has = keep;
		set_free(w);
		if (!keep) {
			/* Refit without the limit. */
			if (!lm_fit(w, x, th, &chi2, NULL, &conv, NULL))
				goto failed;
		}
	}
	/* Final fit with standard errors. */
	f->has_lo = w->has_lo;
	f->has_hi = w->has_hi;
	fit_noise(w, th, f);
	if (isnan(f->sigma_r))
		f->sigma_r = f->sigma_w = isnan(w->sigma0) ? 1.0 : w->sigma0;
	set_sigmas(w, f->sigma_w, f->sigma_e, th, f->has_lo, f->has_hi);
	set_weights(w, th, f->sigma_r);
	if (!lm_fit(w, x, th, &chi2, se, &conv, cov))
		goto failed;
	f->has_lo = w->has_lo;
	f->has_hi = w->has_hi;
	fit_noise(w, th, f);
	memcpy(f->th, th, sizeof th);
	memcpy(f->se, se, sizeof se);
	f->chi2 = chi2;
	f->n = w->nidx;
	f->p = (size_t)w->nfree;
	f->nrows = w->nrows;
	f->chi2_dof = chi2 / (double)(w->nrows - (size_t)w->nfree);
	f->converged = conv;
	f->ok = 1;
	/* tau is identified when the leak rate is resolved from zero. */
	f->tau_ident = isfinite(se[TH_K]) && se[TH_K] > 0 && th[TH_K] > 2 * se[TH_K];
	/* Diagnostics: single-code residual RMS over the inner stimuli, the farthest levels
	 * reached. */
	{
		const xb_calibration_meas *m = x->m;
		double ss = 0, cnt = 0;

		f->peak_code = -INFINITY;
		f->trough_code = INFINITY;
		for (size_t n = 0; n < x->N; n++) {
			xb_cal_path_info pi;
			double mp, mu;

			mp = path_of(w, n, th, f->has_lo, f->has_hi, w->sat, NULL, &pi);
			if (pi.peak + th[TH_O] > f->peak_code)
				f->peak_code = pi.peak + th[TH_O];
			if (pi.trough + th[TH_O] < f->trough_code)
				f->trough_code = pi.trough + th[TH_O];
			if (!w->use[n] || !w->inner[n])
				continue;
			xb_cal_moments(mp, w->sig[n], x->amin, x->amax, &mu, NULL, NULL);
			if (mp < x->amin + 4 * w->sig[n] || mp > x->amax - 4 * w->sig[n])
				continue;
			for (size_t k = 0; k < x->K; k++) {
				double y = m->codes[(n * x->K + k) * x->C + w->c];

				ss += (y - mu) * (y - mu);
				cnt += 1;
			}
		}
		f->resid_rms = cnt > 0 ? sqrt(ss / cnt) : NAN;
	}
	eta_moments(w, th, cov, f);
	return;
failed:
	f->ok = 0;
}

/* ---- one column ------------------------------------------------------------------------------ */

typedef struct col_plan {
	int ok;
	double th0[NTH];
	int has_lo, has_hi;
	unsigned char *use0;   /* [N] stimuli usable (before outliers) */
} col_plan;

/* Everything before the shape-specific fits. */
static int plan_column(col_work *w, size_t c, col_plan *pl)
{
	const fit_ctx *x = w->x;
	double g0, o0;

	prepare_column(w, c, x->p.outlier_k);
	for (size_t n = 0; n < x->N; n++)
		w->sig[n] = isnan(w->sigma0) ? 1.0 : w->sigma0;
	collect_used(w);
	memcpy(pl->use0, w->use, x->N);
	pl->ok = 0;
	if (w->nidx < 6 || !initial_line(w, &g0, &o0))
		return 0;
	pl->th0[TH_G] = g0;
	pl->th0[TH_O] = o0;
	pl->th0[TH_L] = -INFINITY;
	pl->th0[TH_H] = INFINITY;
	pl->th0[TH_K] = x->rate0;
	pl->th0[TH_N] = 0;
	pl->has_hi = grid_limit(w, pl->th0, TH_H, 0);
	if (!pl->has_hi)
		pl->th0[TH_H] = INFINITY;
	pl->has_lo = grid_limit(w, pl->th0, TH_L, pl->has_hi);
	if (!pl->has_lo)
		pl->th0[TH_L] = -INFINITY;
	if (pl->has_lo) {
		/* The upper limit again, now with the lower one in place. */
		double keep = pl->th0[TH_H];

		pl->has_hi = grid_limit(w, pl->th0, TH_H, 1);
		if (!pl->has_hi)
			pl->th0[TH_H] = INFINITY;
		else if (!isfinite(pl->th0[TH_H]))
			pl->th0[TH_H] = keep;
	}
	pl->ok = 1;
	return 1;
}

static void run_shape(col_work *w, const col_plan *pl, int sat, col_fit *f)
{
	const fit_ctx *x = w->x;
	double th0[NTH];
	int has_lo = pl->has_lo, has_hi = pl->has_hi;

	memcpy(w->use, pl->use0, x->N);
	memcpy(th0, pl->th0, sizeof th0);
	if (sat == XB_CAL_SAT_SMOOTH) {
		/* A smooth saturation bends the curve well before its limits: start with both
		 * limits in the model (beyond the extreme mean codes when the hard grid found
		 * none) and let the likelihood-ratio test remove what the data do not need. */
		double ymin = INFINITY, ymax = -INFINITY;

		for (size_t n = 0; n < x->N; n++)
			if (w->use[n]) {
				ymin = fmin(ymin, w->ybar[n]);
				ymax = fmax(ymax, w->ybar[n]);
			}
		if (!has_hi) {
			th0[TH_H] = fmax(ymax, th0[TH_O] + 1) + 0.25 * (ymax - th0[TH_O]) + 2;
			has_hi = 1;
		}
		if (!has_lo) {
			th0[TH_L] = fmin(ymin, th0[TH_O] - 1) - 0.25 * (th0[TH_O] - ymin) - 2;
			has_lo = 1;
		}
		th0[TH_N] = x->p.knee_lsb_init;
	}
	fit_shape(w, sat, th0, has_lo, has_hi, f);
	f->ndropped += w->rep_dropped;
}

/* Uniformly weighted chi^2 of fit F over the stimuli in USE (for the shape choice). */
static double shape_rss(col_work *w, const col_fit *f, const unsigned char *use, size_t *n)
{
	memcpy(w->use, use, w->x->N);
	collect_used(w);
	*n = w->nidx;
	for (size_t i = 0; i < w->x->N; i++)
		w->sig[i] = isfinite(f->sigma_r) ? f->sigma_r : 1.0;
	return model_chi2(w, f->th, f->has_lo, f->has_hi,
			  xb_cal_sat_type_get((xb_calibration_sat)f->sat), 1, NULL);
}

/* ---- the driver ------------------------------------------------------------------------------- */

xb_calibration_params xb_calibration_fit_defaults(void)
{
	xb_calibration_params p;

	memset(&p, 0, sizeof p);
	p.saturation = XB_CAL_SAT_AUTO;
	p.select_cols = 16;
	p.outlier_k = 5.0;
	p.max_iter = 200;
	p.order = XB_ORDER_DESCENDING;
	p.read_delay_ns = 0.0;
	p.tau_us_init = 60.0;
	p.knee_lsb_init = 10.0;
	p.threads = 0;
	return p;
}

static void ctx_free(fit_ctx *x)
{
	free(x->off);
	free(x->ne);
	free(x->ev_row);
	free(x->ev_x);
	free(x->dt_us);
	free(x->t_us);
}

static xb_status ctx_init(fit_ctx *x, const xb_calibration_meas *m, const xb_calibration_params *p,
			  xb_err *err)
{
	int32_t *rows = NULL;

	memset(x, 0, sizeof *x);
	x->m = m;
	x->p = *p;
	x->N = m->nstim;
	x->K = m->nrep;
	x->C = m->cols;
	x->sends = m->num_sends;
	x->amin = m->adc_min;
	x->amax = m->adc_max;
	x->tr_us = (isnan(m->read_delay_ns) ? p->read_delay_ns : m->read_delay_ns) / 1000.0;
	x->rate0 = p->tau_us_init > 0 ? 1.0 / p->tau_us_init : 0.0;
	x->off = malloc(x->N * sizeof *x->off);
	x->ne = malloc(x->N * sizeof *x->ne);
	x->dt_us = malloc(x->N * sizeof *x->dt_us);
	x->ev_row = malloc(x->N * m->rows * sizeof *x->ev_row);
	x->ev_x = malloc(x->N * m->rows * sizeof *x->ev_x);
	rows = malloc(m->rows * sizeof *rows);
	if (!x->off || !x->ne || !x->dt_us || !x->ev_row || !x->ev_x || !rows) {
		free(rows);
		ctx_free(x);
		return xb_raise(err, XB_ENOMEM, "calibration: out of memory");
	}
	for (size_t n = 0; n < x->N; n++) {
		size_t ne = xb_calibration_meas_events(m, n, p->order, rows);

		x->off[n] = x->nev;
		x->ne[n] = ne;
		for (size_t k = 0; k < ne; k++) {
			x->ev_row[x->nev + k] = rows[k];
			x->ev_x[x->nev + k] = m->inputs[n * m->rows + (size_t)rows[k]];
		}
		x->nev += ne;
		x->dt_us[n] = (m->interval_ns ? m->interval_ns[n] : m->event_interval_ns) / 1000.0;
	}
	free(rows);
	if (m->membrane && m->ntime) {
		x->T = m->ntime;
		x->t_us = malloc(x->T * sizeof *x->t_us);
		if (!x->t_us) {
			ctx_free(x);
			return xb_raise(err, XB_ENOMEM, "calibration: out of memory");
		}
		for (size_t t = 0; t < x->T; t++)
			x->t_us[t] = m->time_ns[t] / 1000.0;
	}
	return XB_OK;
}

static void work_free(col_work *w)
{
	if (!w)
		return;
	free(w->s);
	free(w->ybar);
	free(w->s2);
	free(w->kn);
	free(w->sig);
	free(w->sw);
	free(w->mpre);
	free(w->tmp);
	free(w->use);
	free(w->inner);
	free(w->idx);
	free(w->jac);
	free(w->chol);
	free(w->mem);
	free(w->mval);
	free(w->mdval);
	free(w->raw);
	free(w->dmat);
	free(w->dq);
	free(w);
}

static col_work *work_new(const fit_ctx *x)
{
	col_work *w = calloc(1, sizeof *w);
	const size_t N = x->N;

	if (!w)
		return NULL;
	w->x = x;
	w->s = malloc((x->nev + 1) * sizeof *w->s);
	w->ybar = malloc(N * sizeof *w->ybar);
	w->s2 = malloc(N * sizeof *w->s2);
	w->kn = malloc(N * sizeof *w->kn);
	w->sig = malloc(N * sizeof *w->sig);
	w->sw = malloc(N * sizeof *w->sw);
	w->mpre = malloc(N * sizeof *w->mpre);
	w->tmp = malloc((N + x->K) * sizeof *w->tmp);
	w->use = malloc(N);
	w->inner = malloc(N);
	w->idx = malloc(N * sizeof *w->idx);
	w->jac = malloc(N * (1 + x->T) * NTH * sizeof *w->jac);
	w->mem = malloc((N * x->T + 1) * sizeof *w->mem);
	w->mval = malloc((x->T + 1) * sizeof *w->mval);
	w->mdval = malloc((x->T + 1) * NTH * sizeof *w->mdval);
	w->chol = malloc(N * N * sizeof *w->chol);
	w->raw = malloc(N * (1 + x->T) * sizeof *w->raw);
	w->dmat = malloc(N * x->m->rows * sizeof *w->dmat);
	w->dq = malloc(x->m->rows * (size_t)x->sends * sizeof *w->dq);
	if (!w->s || !w->ybar || !w->s2 || !w->kn || !w->sig || !w->sw || !w->mpre || !w->tmp ||
	    !w->use || !w->inner || !w->idx || !w->jac || !w->chol || !w->raw || !w->dmat ||
	    !w->dq || !w->mem || !w->mval || !w->mdval) {
		work_free(w);
		return NULL;
	}
	return w;
}

/* Store fit F of column C into CAL. */
static void store_column(xb_calibration *cal, size_t c, const col_fit *f, unsigned *flags)
{
	unsigned fl = 0;

	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		cal->value[p][c] = NAN;
		cal->stderr_[p][c] = NAN;
	}
	cal->status[c] = 0;
	cal->npoints[c] = f->ok ? (int32_t)f->n : 0;
	cal->ndropped[c] = f->ndropped;
	if (!f->ok) {
		cal->status[c] = XB_CAL_COL_FAILED;
		*flags = CF_FAILED;
		return;
	}
	cal->value[XB_CAL_GAIN][c] = f->th[TH_G];
	cal->stderr_[XB_CAL_GAIN][c] = f->se[TH_G];
	cal->value[XB_CAL_OFFSET][c] = f->th[TH_O];
	cal->stderr_[XB_CAL_OFFSET][c] = f->se[TH_O];
	if (!(isfinite(f->se[TH_G]) && f->se[TH_G] > 0 && isfinite(f->se[TH_O]) && f->se[TH_O] > 0))
		fl |= CF_UNID_GAIN;
	if (f->has_lo && isfinite(f->se[TH_L]) && f->se[TH_L] > 0) {
		cal->value[XB_CAL_SAT_LO][c] = f->th[TH_L];
		cal->stderr_[XB_CAL_SAT_LO][c] = f->se[TH_L];
	} else {
		fl |= CF_UNID_LO;
	}
	if (f->has_hi && isfinite(f->se[TH_H]) && f->se[TH_H] > 0) {
		cal->value[XB_CAL_SAT_HI][c] = f->th[TH_H];
		cal->stderr_[XB_CAL_SAT_HI][c] = f->se[TH_H];
	} else {
		fl |= CF_UNID_HI;
	}
	if (f->tau_ident) {
		double k = f->th[TH_K];

		cal->value[XB_CAL_TAU][c] = 1.0 / k;
		cal->stderr_[XB_CAL_TAU][c] = f->se[TH_K] / (k * k);
	} else {
		fl |= CF_UNID_TAU;
	}
	if (isfinite(f->sigma_r)) {
		cal->value[XB_CAL_READ_NOISE][c] = f->sigma_r;
		cal->stderr_[XB_CAL_READ_NOISE][c] = f->sigma_r_se;
	} else {
		fl |= CF_UNID_NOISE;
	}
	if (f->sat == XB_CAL_SAT_SMOOTH && (f->has_lo || f->has_hi) && isfinite(f->se[TH_N]) &&
	    f->se[TH_N] > 0) {
		cal->knee_lsb[c] = f->th[TH_N];
		cal->knee_lsb_stderr[c] = f->se[TH_N];
	}
	if (!f->converged)
		fl |= CF_NOCONV;
	cal->chi2_dof[c] = f->chi2_dof;
	cal->residual_rms_lsb[c] = f->resid_rms;
	cal->status[c] = (f->converged ? XB_CAL_COL_CONVERGED : 0u) |
			 (f->converged && !(fl & CF_UNID_GAIN) && f->chi2_dof < 4 ?
			  XB_CAL_COL_GOOD : 0u);
	*flags = fl;
}

/* Append "TEXT\n" to the growing string *BUF. */
static void add_warning(char **buf, size_t *len, const char *text)
{
	size_t n = strlen(text);
	char *nb = realloc(*buf, *len + n + 2);

	if (!nb)
		return;
	memcpy(nb + *len, text, n);
	nb[*len + n] = '\n';
	nb[*len + n + 1] = 0;
	*len += n + 1;
	*buf = nb;
}

/* "in 3 of 32 columns (0, 5, 7)" with at most 8 column numbers. */
static void column_list(char *out, size_t len, const unsigned *flags, size_t C, unsigned bit)
{
	size_t cnt = 0, pos;

	for (size_t c = 0; c < C; c++)
		cnt += (flags[c] & bit) != 0;
	pos = (size_t)snprintf(out, len, "in %zu of %zu columns (", cnt, C);
	cnt = 0;
	for (size_t c = 0; c < C && pos < len; c++)
		if (flags[c] & bit) {
			if (cnt == 8) {
				pos += (size_t)snprintf(out + pos, len - pos, ", ...");
				break;
			}
			pos += (size_t)snprintf(out + pos, len - pos, "%s%zu", cnt ? ", " : "", c);
			cnt++;
		}
	if (pos < len)
		snprintf(out + pos, len - pos, ")");
}

static void compose_warnings(xb_calibration *cal, const unsigned *flags, const col_fit *fits,
			     size_t C)
{
	static const struct { unsigned bit; const char *what; } kinds[] = {
		{ CF_FAILED, "column not fitted: too few usable stimuli or no spread of the "
			     "input x weight sums (all parameters NaN)" },
		{ CF_UNID_GAIN, "gain/offset_lsb not determined (singular fit)" },
		{ CF_UNID_LO, "sat_lo_lsb unidentified (NaN): no stimulus reached the lower "
			      "saturation visibly" },
		{ CF_UNID_HI, "sat_hi_lsb unidentified (NaN): no stimulus reached the upper "
			      "saturation visibly" },
		{ CF_UNID_TAU, "tau_us unidentified (NaN): the leak is not resolved from zero "
			       "(vary /order or /interval_ns, or add /membrane)" },
		{ CF_UNID_NOISE, "read_noise_lsb unidentified (NaN): no stimulus with two "
				 "repeats inside the ADC range" },
		{ CF_NOCONV, "the fit did not converge within the iteration limit" },
	};
	size_t len = 0;
	char *buf = NULL;

	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		char cols[256], line[768];
		size_t any = 0;

		for (size_t c = 0; c < C; c++)
			any += (flags[c] & kinds[i].bit) != 0;
		if (!any)
			continue;
		column_list(cols, sizeof cols, flags, C, kinds[i].bit);
		snprintf(line, sizeof line, "%s %s", kinds[i].what, cols);
		if (kinds[i].bit == CF_UNID_HI || kinds[i].bit == CF_UNID_LO) {
			double ext = kinds[i].bit == CF_UNID_HI ? -INFINITY : INFINITY;

			for (size_t c = 0; c < C; c++)
				if ((flags[c] & kinds[i].bit) && fits[c].ok)
					ext = kinds[i].bit == CF_UNID_HI ? fmax(ext, fits[c].peak_code)
									 : fmin(ext, fits[c].trough_code);
			if (isfinite(ext)) {
				size_t l = strlen(line);

				snprintf(line + l, sizeof line - l, "; the model's %s pre-ADC level "
					 "reached was %.1f LSB", kinds[i].bit == CF_UNID_HI ?
					 "highest" : "lowest", ext);
			}
		}
		add_warning(&buf, &len, line);
	}
	if (buf) {
		free(cal->warnings);
		cal->warnings = buf;
	}
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

xb_status xb_calibration_fit(const xb_calibration_meas *m, const xb_calibration_params *pp,
			     xb_calibration **out, xb_err *err)
{
	xb_calibration_params p = pp ? *pp : xb_calibration_fit_defaults();
	xb_calibration *cal = NULL;
	fit_ctx x;
	col_fit *fits = NULL;
	unsigned *flags = NULL;
	size_t *sel = NULL, nsel = 0;
	double *noise = NULL, s_eta2 = NAN;
	unsigned char *usemask = NULL;
	xb_status st;
	int chosen, stop = 0, nth = 1;
	uint64_t done = 0;
	char crit[512] = "";

	*out = NULL;
	xb_gsl_quiet();
	if ((st = xb_calibration_meas_check(m, err)))
		return st;
	if (p.saturation < XB_CAL_SAT_AUTO || p.saturation > XB_CAL_SAT_SMOOTH || p.max_iter < 1 ||
	    !(p.outlier_k >= 0) || !(p.read_delay_ns >= 0) || !(p.tau_us_init > 0) || p.threads < 0)
		return xb_raise(err, XB_EINVAL, "calibration: bad fit options (saturation %d, "
				"max_iter %d, outlier_k %g, read_delay_ns %g, tau_us_init %g)",
				p.saturation, p.max_iter, p.outlier_k, p.read_delay_ns, p.tau_us_init);
	if (!m->order && p.order == XB_ORDER_RANDOM)
		return xb_raise(err, XB_EINVAL, "measurement: no dataset /order and a random event "
				"order (input.order = random): the order of the events is unknown");
	if (m->nstim < 6)
		return xb_raise(err, XB_EFORMAT, "measurement: dataset /codes holds %zu stimuli, "
				"fewer than the 6 parameters fitted per column", m->nstim);
	if ((st = ctx_init(&x, m, &p, err)))
		return st;
	cal = xb_calibration_new(m->cols, err);
	fits = calloc(m->cols, sizeof *fits);
	flags = calloc(m->cols, sizeof *flags);
	noise = malloc(3 * x.N * m->cols * sizeof *noise);
	usemask = malloc(x.N * m->cols);
	sel = malloc(m->cols * sizeof *sel);
	if (!cal || !fits || !flags || !sel || !noise || !usemask) {
		st = xb_raise(err, XB_ENOMEM, "calibration: out of memory");
		goto fail;
	}
	/* The columns that choose the saturation shape: evenly spaced. */
	nsel = p.select_cols && p.select_cols < m->cols ? p.select_cols : m->cols;
	for (size_t i = 0; i < nsel; i++)
		sel[i] = i * m->cols / nsel;
	qsort(sel, nsel, sizeof *sel, cmp_size);
	chosen = p.saturation == XB_CAL_SAT_AUTO ? XB_CAL_SAT_HARD : p.saturation;
#ifdef _OPENMP
	/* run.threads for these regions only; the default otherwise. */
	nth = p.threads > 0 ? p.threads : omp_get_max_threads();
#endif
	(void)nth;

	if (p.saturation == XB_CAL_SAT_AUTO) {
		/* AIC of each shape on the selection columns, over the stimuli either kept. */
		double *aic_h = calloc(nsel, sizeof *aic_h), *aic_s = calloc(nsel, sizeof *aic_s);
		double aic[2] = { 0, 0 };
		int prefer[2] = { 0, 0 }, nboth = 0;

		if (!aic_h || !aic_s) {
			free(aic_h);
			free(aic_s);
			st = xb_raise(err, XB_ENOMEM, "calibration: out of memory");
			goto fail;
		}
#pragma omp parallel num_threads(nth)
		{
			col_work *w = work_new(&x);
			col_plan pl;
			unsigned char *both = malloc(x.N);

			pl.use0 = malloc(x.N);
#pragma omp for schedule(dynamic, 1)
			for (size_t i = 0; i < nsel; i++) {
				col_fit fh, fs;
				size_t nh, ns;
				double rh, rs;

				aic_h[i] = aic_s[i] = NAN;
				if (w && pl.use0 && both && plan_column(w, sel[i], &pl)) {
					run_shape(w, &pl, XB_CAL_SAT_HARD, &fh);
					memcpy(both, w->use, x.N);
					run_shape(w, &pl, XB_CAL_SAT_SMOOTH, &fs);
					for (size_t n = 0; n < x.N; n++)
						both[n] |= w->use[n];
					if (fh.ok && fs.ok) {
						rh = shape_rss(w, &fh, both, &nh);
						rs = shape_rss(w, &fs, both, &ns);
						aic_h[i] = (double)nh * log(rh / (double)nh) + 2.0 * (double)fh.p;
						aic_s[i] = (double)ns * log(rs / (double)ns) + 2.0 * (double)fs.p;
					}
				}
#pragma omp critical(xb_cal_progress)
				{
					done++;
					if (p.progress && !stop)
						stop = p.progress(p.progress_ud, done,
								  m->cols + nsel) != 0;
				}
			}
			free(both);
			free(pl.use0);
			work_free(w);
		}
		for (size_t i = 0; i < nsel; i++) {
			if (!isfinite(aic_h[i]) || !isfinite(aic_s[i]))
				continue;
			aic[0] += aic_h[i];
			aic[1] += aic_s[i];
			prefer[aic_s[i] < aic_h[i]]++;
			nboth++;
		}
		free(aic_h);
		free(aic_s);
		if (nboth && aic[1] < aic[0] - 2.0)
			chosen = XB_CAL_SAT_SMOOTH;
		snprintf(crit, sizeof crit, "AIC = n ln(RSS/n) + 2p summed over %d columns: hard "
			 "%.1f, smooth %.1f (delta %.1f); %d columns prefer hard, %d smooth; %s",
			 nboth, aic[0], aic[1], aic[1] - aic[0], prefer[0], prefer[1],
			 !nboth ? "no column could be fitted with both: hard assumed" :
			 fabs(aic[1] - aic[0]) <= 2.0 ? "indistinguishable (|delta| <= 2): hard "
			 "assumed" : chosen == XB_CAL_SAT_SMOOTH ? "smooth chosen" : "hard chosen");
	} else {
		snprintf(crit, sizeof crit, "fixed by the caller (%s)",
			 xb_calibration_sat_name((xb_calibration_sat)chosen));
	}

	/* All columns with the chosen shape. */
#pragma omp parallel num_threads(nth)
	{
		col_work *w = work_new(&x);
		col_plan pl;

		pl.use0 = malloc(x.N);
#pragma omp for schedule(dynamic, 1)
		for (size_t c = 0; c < m->cols; c++) {
			if (stop)
				continue;
			if (w)
				w->noise_out = noise + 3 * x.N * c;
			if (!w || !pl.use0 || !plan_column(w, c, &pl)) {
				memset(&fits[c], 0, sizeof fits[c]);
				for (size_t n = 0; n < x.N; n++)
					noise[3 * x.N * c + n] = -1;
			} else {
				run_shape(w, &pl, chosen, &fits[c]);
				memcpy(usemask + x.N * c, w->use, x.N);
			}
#pragma omp critical(xb_cal_progress)
			{
				done++;
				if (p.progress && !stop)
					stop = p.progress(p.progress_ud, done,
							  m->cols + (p.saturation == XB_CAL_SAT_AUTO ?
								     nsel : 0)) != 0;
			}
		}
		free(pl.use0);
		work_free(w);
	}
	if (stop) {
		st = xb_raise(err, XB_ESTATE, "calibration: stopped before the end (%llu of %zu "
			      "columns fitted)", (unsigned long long)done, m->cols);
		goto fail;
	}

	/* Per-synapse gain deviations: chi^2 beyond the repeats' noise, pooled over the
	 * columns, sigma_eta^2 = sum (chi^2 - dof) / sum eta_F (a moment estimator); when the
	 * summed excess exceeds 3 standard errors (the larger of sqrt(2 sum dof), its value
	 * without deviations, and sqrt(C) times the spread of the columns' excesses), every
	 * column is refitted by generalized least squares with the correlation it causes
	 * between stimuli that share rows (honest standard errors, better estimates). */
	{
		double ex = 0, fs = 0, dof = 0, ex2 = 0, nc = 0, se;

		for (size_t c = 0; c < m->cols; c++)
			if (fits[c].ok && fits[c].eta_F > 0) {
				ex += fits[c].eta_excess;
				ex2 += fits[c].eta_excess * fits[c].eta_excess;
				fs += fits[c].eta_F;
				dof += (double)(fits[c].nrows - fits[c].p);
				nc += 1;
			}
		se = sqrt(2 * dof);
		if (nc > 1)
			se = fmax(se, sqrt(nc * fmax(ex2 - ex * ex / nc, 0) / (nc - 1)));
		if (fs > 0 && ex > 3 * se) {
			s_eta2 = ex / fs;
#pragma omp parallel num_threads(nth)
			{
				col_work *w = work_new(&x);

#pragma omp for schedule(dynamic, 1)
				for (size_t c = 0; c < m->cols; c++) {
					col_fit *f = &fits[c];

					if (!w || !f->ok)
						continue;
					prepare_column(w, c, x.p.outlier_k);
					memcpy(w->use, usemask + x.N * c, x.N);
					collect_used(w);
					w->sat = xb_cal_sat_type_get((xb_calibration_sat)f->sat);
					w->has_lo = f->has_lo;
					w->has_hi = f->has_hi;
					set_free(w);
					set_sigmas(w, f->sigma_w, f->sigma_e, f->th, f->has_lo, f->has_hi);
					set_weights(w, f->th, f->sigma_r);
					refit_gls(w, f, s_eta2);
				}
				work_free(w);
			}
		}
	}

	/* Results and summary statistics. */
	cal->saturation = (xb_calibration_sat)chosen;
	free(cal->saturation_criterion);
	cal->saturation_criterion = strdup(crit);
	{
		double *v = malloc(m->cols * sizeof *v), ss = 0, cnt = 0, en = 0, ed = 0;
		size_t nv = 0, ngood = 0;

		for (size_t c = 0; c < m->cols; c++) {
			store_column(cal, c, &fits[c], &flags[c]);
			ngood += (cal->status[c] & XB_CAL_COL_GOOD) != 0;
			if (fits[c].ok && isfinite(fits[c].resid_rms)) {
				ss += fits[c].resid_rms * fits[c].resid_rms;
				cnt += 1;
			}
		}
		/* Per-event noise: the variance of the repeats growing with the number of events
		 * since the last clamp, with a slope b common to all columns and an intercept
		 * a_c per column (fixed-effects regression over the inner stimuli, weighted by
		 * 1 / Var(s^2) = (k - 1) / (2 (a_c + b eff)^2), reweighted thrice).  Identified
		 * above 4 standard errors; then each column's read noise is its intercept. */
		{
			const size_t N = x.N;
			double b = 0, seb = INFINITY, *a = calloc(m->cols, sizeof *a);

			for (int it = 0; a && it < 4; it++) {
				double sxx = 0, sxy = 0;

				for (size_t c = 0; c < m->cols; c++) {
					const double *ef = noise + 3 * N * c, *s2 = ef + N, *kk = s2 + N;
					double sw = 0, swx = 0, swy = 0, swxx = 0, swxy = 0;

					if (!fits[c].ok)
						continue;
					for (size_t n = 0; n < N; n++) {
						double vn, wt;

						if (ef[n] < 0 || kk[n] < 2)
							continue;
						vn = it ? a[c] + b * ef[n] : 1;
						wt = (kk[n] - 1) / (2 * fmax(vn * vn, 1e-6));
						sw += wt;
						swx += wt * ef[n];
						swy += wt * s2[n];
						swxx += wt * ef[n] * ef[n];
						swxy += wt * ef[n] * s2[n];
					}
					if (sw <= 0)
						continue;
					sxx += swxx - swx * swx / sw;
					sxy += swxy - swx * swy / sw;
					a[c] = (swy - (it ? b : 0) * swx) / sw;
					fits[c].nz[0] = sw;
					fits[c].nz[1] = swx;
					fits[c].nz[3] = swy;
				}
				if (!(sxx > 0))
					break;
				b = sxy / sxx;
				seb = sqrt(1 / sxx);
				for (size_t c = 0; c < m->cols; c++)
					if (fits[c].ok && fits[c].nz[0] > 0)
						a[c] = (fits[c].nz[3] - b * fits[c].nz[1]) / fits[c].nz[0];
			}
			if (a && b > 4 * seb) {
				en = b;
				ed = 1;
				for (size_t c = 0; c < m->cols; c++) {
					const double *z = fits[c].nz;
					double vr, sea;

					if (!fits[c].ok || !(z[0] > 0))
						continue;
					vr = a[c] - 1.0 / 12;
					sea = sqrt(1 / z[0] + (z[1] / z[0]) * (z[1] / z[0]) * seb * seb);
					cal->value[XB_CAL_READ_NOISE][c] = sqrt(fmax(vr, 1e-6));
					cal->stderr_[XB_CAL_READ_NOISE][c] = sea / (2 * sqrt(fmax(vr, 1e-6)));
					cal->event_noise_lsb[c] = sqrt(b);
				}
			}
			free(a);
		}
		cal->good_fraction = (double)ngood / (double)m->cols;
		cal->residual_rms_lsb_all = cnt > 0 ? sqrt(ss / cnt) : NAN;
		if (v) {
			nv = 0;
			for (size_t c = 0; c < m->cols; c++)
				if (isfinite(cal->value[XB_CAL_READ_NOISE][c]))
					v[nv++] = cal->value[XB_CAL_READ_NOISE][c];
			cal->read_noise_lsb_median = median(v, nv);
			nv = 0;
			for (size_t c = 0; c < m->cols; c++)
				if (isfinite(cal->value[XB_CAL_GAIN][c]))
					v[nv++] = cal->value[XB_CAL_GAIN][c];
			cal->gain_global = median(v, nv);
			/* Spread between columns net of the estimation error. */
			if (nv > 2) {
				double mean = 0, var = 0, se2 = 0;
				size_t k = 0;

				for (size_t c = 0; c < m->cols; c++)
					if (isfinite(cal->value[XB_CAL_GAIN][c])) {
						mean += cal->value[XB_CAL_GAIN][c];
						se2 += cal->stderr_[XB_CAL_GAIN][c] *
						       cal->stderr_[XB_CAL_GAIN][c];
						k++;
					}
				mean /= (double)k;
				se2 /= (double)k;
				for (size_t c = 0; c < m->cols; c++)
					if (isfinite(cal->value[XB_CAL_GAIN][c]))
						var += (cal->value[XB_CAL_GAIN][c] - mean) *
						       (cal->value[XB_CAL_GAIN][c] - mean);
				var /= (double)(k - 1);
				cal->gain_fpn = var > 2 * se2 ? sqrt(var - se2) / fabs(mean) : NAN;
			}
		}
		cal->synapse_fpn = isnan(s_eta2) ? NAN : sqrt(s_eta2);
		cal->event_noise_lsb_all = ed > 0 ? sqrt(en) : NAN;
		free(v);
	}
	compose_warnings(cal, flags, fits, m->cols);
	ctx_free(&x);
	free(noise);
	free(usemask);
	free(fits);
	free(flags);
	free(sel);
	*out = cal;
	return XB_OK;
fail:
	ctx_free(&x);
	free(noise);
	free(usemask);
	free(fits);
	free(flags);
	free(sel);
	xb_calibration_free(cal);
	return st;
}

/* ---- prediction (plots) ------------------------------------------------------------------ */

xb_status xb_calibration_predict(const xb_calibration *cal, const xb_calibration_meas *m,
				 const xb_calibration_params *pp, size_t col, size_t n,
				 double *mean, double *pre, double *unordered)
{
	xb_calibration_params p = pp ? *pp : xb_calibration_fit_defaults();
	double th[NTH], *s, sum = 0, mp, tr;
	int32_t *rows;
	size_t ne;
	int has_lo, has_hi;
	const xb_cal_sat_type *sat;

	if (!cal || !m || col >= m->cols || col >= cal->cols || n >= m->nstim)
		return xb_raise(NULL, XB_EINVAL, "calibration: predict: column %zu or stimulus %zu "
				"out of range", col, n);
	th[TH_G] = cal->value[XB_CAL_GAIN][col];
	th[TH_O] = cal->value[XB_CAL_OFFSET][col];
	th[TH_L] = cal->value[XB_CAL_SAT_LO][col];
	th[TH_H] = cal->value[XB_CAL_SAT_HI][col];
	th[TH_K] = isfinite(cal->value[XB_CAL_TAU][col]) ? 1.0 / cal->value[XB_CAL_TAU][col] : 0;
	th[TH_N] = isfinite(cal->knee_lsb[col]) ? cal->knee_lsb[col] : p.knee_lsb_init;
	has_lo = isfinite(th[TH_L]);
	has_hi = isfinite(th[TH_H]);
	if (!isfinite(th[TH_G]) || !isfinite(th[TH_O]))
		return xb_raise(NULL, XB_ENUMERIC, "calibration: predict: column %zu has no gain or "
				"offset", col);
	rows = malloc(m->rows * sizeof *rows);
	s = malloc((m->rows + 1) * sizeof *s);
	if (!rows || !s) {
		free(rows);
		free(s);
		return xb_raise(NULL, XB_ENOMEM, "calibration: out of memory");
	}
	ne = xb_calibration_meas_events(m, n, p.order, rows);
	for (size_t k = 0; k < ne; k++) {
		s[k] = (double)m->inputs[n * m->rows + (size_t)rows[k]] *
		       m->weights[(size_t)rows[k] * m->cols + col];
		sum += s[k];
	}
	sat = xb_cal_sat_type_get(cal->saturation);
	tr = (isnan(m->read_delay_ns) ? p.read_delay_ns : m->read_delay_ns) / 1000.0;
	mp = xb_cal_path(s, ne, m->num_sends,
			 (m->interval_ns ? m->interval_ns[n] : m->event_interval_ns) / 1000.0, tr, th,
			 has_lo, has_hi, sat, NULL, NULL);
	{
		double sig = cal->value[XB_CAL_READ_NOISE][col];

		if (!isfinite(sig))
			sig = 1;
		if (pre)
			*pre = mp;
		if (mean)
			xb_cal_moments(mp, sig, m->adc_min, m->adc_max, mean, NULL, NULL);
		if (unordered) {
			/* One saturation of the whole sum, no leak. */
			double th0[NTH], one = sum * m->num_sends;

			memcpy(th0, th, sizeof th);
			th0[TH_K] = 0;
			mp = xb_cal_path(&one, 1, 1, 0, 0, th0, has_lo, has_hi, sat, NULL, NULL);
			xb_cal_moments(mp, sig, m->adc_min, m->adc_max, unordered, NULL, NULL);
		}
	}
	free(rows);
	free(s);
	return XB_OK;
}
