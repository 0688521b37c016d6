/* check_calibration.c - tests of the calibration module: the read model, the event path, fits
 * on synthetic chips and on the tile model, files, and every error path provoked on purpose.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"
#include "cal_int.h"
#include "xb_devices.h"
#include "xb_traces.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scratch directory -------------------------------------------------------------------- */

static char tmpdir[512];

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/xbcal.XXXXXX", base && base[0] ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[1024];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

static char *in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

/* ---- a synthetic chip: the test's own closed-form forward model --------------------------- */

/* splitmix64 and Box-Muller: the test's own random numbers, fixed seeds. */
static uint64_t rng_state;

static double rng_uniform(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_normal(void)
{
	return sqrt(-2 * log(rng_uniform())) * cos(2 * M_PI * rng_uniform());
}

/* True column parameters, in codes (DESIGN.md section 1 in code units). */
typedef struct chip_col {
	double gain, offset, sat_lo, sat_hi, tau_us, sigma;
} chip_col;

/* A chip like hx with fixed-pattern spreads: a_c = 1 + 5% N, o_c = 3 N LSB, limits
 * +-80 + 4 N LSB, tau 60 us (1 + 10% N), read noise 2 LSB (1 + 5% N). */
static void make_chip(chip_col *ch, size_t cols, uint64_t seed)
{
	rng_state = seed;
	for (size_t c = 0; c < cols; c++) {
		double a = 1 + 0.05 * rng_normal(), lo = -80 + 4 * rng_normal();
		double hi = 80 + 4 * rng_normal();

		ch[c].offset = 3 * rng_normal();
		ch[c].gain = 0.002 * a;
		ch[c].sat_lo = a * lo + ch[c].offset;
		ch[c].sat_hi = a * hi + ch[c].offset;
		ch[c].tau_us = 60 * (1 + 0.1 * rng_normal());
		ch[c].sigma = 2 * (1 + 0.05 * rng_normal());
	}
}

/* Codes of M for chip CH: for each stimulus and column the integrator u (codes above the
 * offset) takes every event of M->order in turn, decaying by exp(-dt/tau) between events
 * and exp(-t_read/tau) before the read, saturating at each event (hard clamp, or the
 * clamp with tanh corners of width KNEE codes when KNEE > 0); y = clamp(floor(u + o +
 * sigma N(0,1))).  Each event brings gain x w (1 + eta_rc), eta_rc ~ N(0, ETA_SD^2) drawn
 * once per synapse.  Written independently of calibration/model.c. */
static void simulate_eta(xb_calibration_meas *m, const chip_col *ch, double knee, double eta_sd,
			 uint64_t seed)
{
	const size_t R = m->rows, C = m->cols, K = m->nrep;
	const double tr = isnan(m->read_delay_ns) ? 0 : m->read_delay_ns / 1000;
	double *eta = malloc(R * C * sizeof *eta);

	ck_assert_ptr_nonnull(eta);
	rng_state = seed ^ 0x5eed;
	for (size_t i = 0; i < R * C; i++)
		eta[i] = eta_sd * rng_normal();
	rng_state = seed;
	for (size_t n = 0; n < m->nstim; n++)
		for (size_t c = 0; c < C; c++) {
			const chip_col *q = &ch[c];
			double dt = (m->interval_ns ? m->interval_ns[n] : m->event_interval_ns) / 1000;
			double lo = q->sat_lo - q->offset, hi = q->sat_hi - q->offset, u = 0;
			int first = 1;
			size_t ev = 0, j = 0;

			for (int s = 0; s < m->num_sends; s++)
				for (size_t k = 0; k < R && m->order[n * R + k] >= 0; k++) {
					size_t r = (size_t)m->order[n * R + k];
					double kk = fmin(knee, fmin(hi, -lo));

					if (!m->inputs[n * R + r])
						continue;
					/* Membrane samples before this event (at ev dt): the state
					 * after the previous one, decayed, plus 1 LSB of noise. */
					for (; m->membrane && j < m->ntime &&
					       m->time_ns[j] / 1000 < (double)ev * dt; j++)
						m->membrane[(n * m->ntime + j) * C + c] = (float)(q->offset +
							u * exp(-(m->time_ns[j] / 1000 - (double)(ev - 1) * dt) /
								q->tau_us) + rng_normal());
					ev++;
					if (!first)
						u *= exp(-dt / q->tau_us);
					first = 0;
					u += q->gain * m->inputs[n * R + r] * m->weights[r * C + c] *
					     (1 + eta[r * C + c]);
					if (knee <= 0) {
						u = u > hi ? hi : u < lo ? lo : u;
					} else if (u > hi - kk) {
						u = hi - kk + kk * tanh((u - hi + kk) / kk);
					} else if (u < lo + kk) {
						u = lo + kk - kk * tanh((lo + kk - u) / kk);
					}
				}
			for (; m->membrane && j < m->ntime; j++)
				m->membrane[(n * m->ntime + j) * C + c] = (float)(q->offset + (ev ? u *
					exp(-(m->time_ns[j] / 1000 - (double)(ev - 1) * dt) / q->tau_us) : 0) +
					rng_normal());
			u *= exp(-tr / q->tau_us);
			for (size_t k = 0; k < K; k++) {
				double y = floor(u + q->offset + q->sigma * rng_normal());

				y = y < m->adc_min ? m->adc_min : y > m->adc_max ? m->adc_max : y;
				m->codes[(n * K + k) * C + c] = (int16_t)y;
			}
		}
	free(eta);
}

static void simulate(xb_calibration_meas *m, const chip_col *ch, double knee, uint64_t seed)
{
	simulate_eta(m, ch, knee, 0, seed);
}

/* The default protocol on 128 signed rows x COLS, 8 repeats, read delay 40 ns (hx). */
static xb_calibration_meas *protocol(size_t cols)
{
	xb_calibration_design d = xb_calibration_design_default();
	xb_calibration_meas *m;
	xb_err err = { 0 };

	d.cols = cols;
	m = xb_calibration_protocol(&d, &err);
	ck_assert_msg(m != NULL, "%s", err.msg);
	m->read_delay_ns = 40;
	return m;
}

/* Acceptance tolerances (the issue's): gain 2 %, offset 0.5 LSB, saturation 2 LSB,
 * tau 10 %, read noise 10 %; and "honest" standard errors: the truth within 2 SE for
 * at least MIN_IN2 of the columns (about 95 % expected; 80 % leaves room for the
 * binomial spread over 32 columns, sd 3.9 %, at 3.8 sd). */
static void check_against(const xb_calibration *cal, const double *const truth[XB_CAL_NPARAM],
			  size_t cols, double min_in2, const char *what)
{
	static const double tol[XB_CAL_NPARAM] = { 0.02, 0.5, 2.0, 2.0, 0.10, 0.10 };
	static const int rel[XB_CAL_NPARAM] = { 1, 0, 0, 0, 1, 1 };

	for (int p = 0; p < XB_CAL_NPARAM; p++) {
		size_t in2 = 0;

		for (size_t c = 0; c < cols; c++) {
			double v = cal->value[p][c], t = truth[p][c], se = cal->stderr_[p][c];
			double e = rel[p] ? (v - t) / t : v - t;

			ck_assert_msg(isfinite(v) && isfinite(se) && se > 0, "%s: %s column %zu: value %g "
				      "+- %g", what, xb_calibration_param_name((xb_calibration_param)p),
				      c, v, se);
			ck_assert_msg(fabs(e) <= tol[p], "%s: %s column %zu: %g vs true %g (error %g, "
				      "tolerance %g)", what,
				      xb_calibration_param_name((xb_calibration_param)p), c, v, t, e,
				      tol[p]);
			in2 += fabs(v - t) <= 2 * se;
		}
		ck_assert_msg((double)in2 >= min_in2 * (double)cols, "%s: %s: truth within 2 SE "
			      "in %zu of %zu columns", what,
			      xb_calibration_param_name((xb_calibration_param)p), in2, cols);
	}
}

static void chip_truth(const chip_col *ch, size_t cols, double *const truth[XB_CAL_NPARAM])
{
	for (size_t c = 0; c < cols; c++) {
		truth[XB_CAL_GAIN][c] = ch[c].gain;
		truth[XB_CAL_OFFSET][c] = ch[c].offset;
		truth[XB_CAL_SAT_LO][c] = ch[c].sat_lo;
		truth[XB_CAL_SAT_HI][c] = ch[c].sat_hi;
		truth[XB_CAL_TAU][c] = ch[c].tau_us;
		truth[XB_CAL_READ_NOISE][c] = ch[c].sigma;
	}
}

static xb_calibration *fit_ok(const xb_calibration_meas *m, const xb_calibration_params *p)
{
	xb_calibration *cal = NULL;
	xb_err err = { 0 };

	ck_assert_msg(xb_calibration_fit(m, p, &cal, &err) == XB_OK, "%s", err.msg);
	ck_assert_ptr_nonnull(cal);
	return cal;
}

/* ---- core ------------------------------------------------------------------------------------ */

START_TEST(test_moments)
{
	double mean, d, var;

	/* Far from the rails with sigma = 2 the floor is dithered: E[floor(m + n)] = m - 1/2
	 * and Var = sigma^2 + 1/12 (Sheppard), to 1e-8. */
	xb_cal_moments(10.3, 2.0, -128, 127, &mean, &d, &var);
	ck_assert_double_eq_tol(mean, 9.8, 1e-8);
	ck_assert_double_eq_tol(d, 1.0, 1e-8);
	ck_assert_double_eq_tol(var, 4.0 + 1.0 / 12, 1e-6);
	/* At the rail: compare with the sum over codes of P(code) code, P from erfc. */
	for (int i = 0; i < 5; i++) {
		static const double ms[5] = { 127.3, 125.0, -127.8, 140.0, 0.61 };
		static const double sg[5] = { 2.0, 1.5, 2.5, 1.0, 0.3 };
		double e1 = 0, e2 = 0;

		for (int y = -128; y <= 127; y++) {
			/* P(y) = P(y <= m + n < y + 1), the rails take the tails. */
			double up = y == 127 ? 1.0 : 0.5 * erfc(-(y + 1 - ms[i]) / (sg[i] * M_SQRT2));
			double dn = y == -128 ? 0.0 : 0.5 * erfc(-(y - ms[i]) / (sg[i] * M_SQRT2));

			e1 += (up - dn) * y;
			e2 += (up - dn) * y * y;
		}
		xb_cal_moments(ms[i], sg[i], -128, 127, &mean, NULL, &var);
		ck_assert_double_eq_tol(mean, e1, 1e-9);
		ck_assert_double_eq_tol(var, e2 - e1 * e1, 1e-7);
	}
	/* The derivative by m, against a central difference (h = 1e-5). */
	for (double m = 120.0; m < 130.0; m += 0.7) {
		double mp, mm;

		xb_cal_moments(m, 1.7, -128, 127, NULL, &d, NULL);
		xb_cal_moments(m + 1e-5, 1.7, -128, 127, &mp, NULL, NULL);
		xb_cal_moments(m - 1e-5, 1.7, -128, 127, &mm, NULL, NULL);
		ck_assert_double_eq_tol(d, (mp - mm) / 2e-5, 1e-6);
	}
}
END_TEST

START_TEST(test_path)
{
	const xb_cal_sat_type *hard = xb_cal_sat_type_get(XB_CAL_SAT_HARD);
	const xb_cal_sat_type *smooth = xb_cal_sat_type_get(XB_CAL_SAT_SMOOTH);
	double th[XB_CAL_NTH] = { 0.5, 1.0, -40.0, 60.0, 0.1, 8.0 }, dm[XB_CAL_NTH];
	double s[3] = { 100, 100, -30 }, m;
	xb_cal_path_info pi;

	/* Two events of G s = 50, dt = 2 us, rate 0.1/us: u = 50, then 50 e^-0.2 + 50 =
	 * 90.94 > hi = H - o = 59: clamped to 59; m = 59 + o = 60; no read delay. */
	m = xb_cal_path(s, 2, 1, 2.0, 0.0, th, 1, 1, hard, dm, &pi);
	ck_assert_double_eq_tol(m, 60.0, 1e-12);
	ck_assert_int_eq(pi.hit_hi, 1);
	/* dm/dH = 1 (clamped at H - o, plus o); dm/do = -1 + 1 = 0; dm/dG = 0. */
	ck_assert_double_eq_tol(dm[XB_CAL_TH_H], 1.0, 1e-12);
	ck_assert_double_eq_tol(dm[XB_CAL_TH_O], 0.0, 1e-12);
	ck_assert_double_eq_tol(dm[XB_CAL_TH_G], 0.0, 1e-12);
	/* A third event of G s = -15 after 2 us more and a read delay of 1 us:
	 * m = (59 e^-0.2 - 15) e^-0.1 + 1 = (48.3051 - 15) 0.904837 + 1 = 31.1357. */
	m = xb_cal_path(s, 3, 1, 2.0, 1.0, th, 1, 1, hard, NULL, NULL);
	ck_assert_double_eq_tol(m, (59 * exp(-0.2) - 15) * exp(-0.1) + 1, 1e-12);
	/* The Jacobian of both shapes against central differences, sends = 2, at a point
	 * in the smooth knee. */
	for (int sh = 0; sh < 2; sh++)
		for (int j = 0; j < XB_CAL_NTH; j++) {
			double tp[XB_CAL_NTH], tm[XB_CAL_NTH], h = 1e-6 * fmax(1, fabs(th[j]));
			double s2[3] = { 40, 45, -20 };

			if (sh == 0 && j == XB_CAL_TH_N)
				continue;
			memcpy(tp, th, sizeof th);
			memcpy(tm, th, sizeof th);
			tp[j] += h;
			tm[j] -= h;
			xb_cal_path(s2, 3, 2, 1.5, 0.3, th, 1, 1, sh ? smooth : hard, dm, NULL);
			ck_assert_msg(fabs(dm[j] - (xb_cal_path(s2, 3, 2, 1.5, 0.3, tp, 1, 1, sh ? smooth :
				      hard, NULL, NULL) - xb_cal_path(s2, 3, 2, 1.5, 0.3, tm, 1, 1,
				      sh ? smooth : hard, NULL, NULL)) / (2 * h)) < 1e-5,
				      "shape %d, parameter %d: %g", sh, j, dm[j]);
		}
}
END_TEST

/* The round trip on a synthetic chip of 32 columns (hard clamp): the default protocol's
 * stimuli, codes from the test's own forward model, the fit. */
START_TEST(test_roundtrip_synthetic)
{
	const size_t C = 32;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[32];
	double buf[XB_CAL_NPARAM][32], *truth[XB_CAL_NPARAM];
	xb_calibration *cal;

	for (int p = 0; p < XB_CAL_NPARAM; p++)
		truth[p] = buf[p];
	make_chip(ch, C, 5);
	chip_truth(ch, C, truth);
	simulate(m, ch, 0, 11);
	cal = fit_ok(m, NULL);
	ck_assert_int_eq(cal->saturation, XB_CAL_SAT_HARD);
	check_against(cal, (const double *const *)truth, C, 0.80, "synthetic hard");
	/* Fit quality: single-code residual RMS ~ sqrt(2^2 + 1/12) = 2.02 LSB. */
	ck_assert_double_eq_tol(cal->residual_rms_lsb_all, 2.02, 0.1);
	ck_assert_double_eq_tol(cal->good_fraction, 1.0, 1e-12);
	ck_assert_str_eq(cal->warnings, "");
	/* No per-synapse deviations, no per-event noise: neither is resolved. */
	ck_assert(isnan(cal->synapse_fpn));
	ck_assert(isnan(cal->event_noise_lsb_all));
	/* The global gain: the median of 0.002 (1 + 5% N) over 32 columns, within 2%. */
	ck_assert_double_eq_tol(cal->gain_global, 0.002, 0.00004);
	/* Deterministic whatever the threads: 1 and 2 threads give the same bits. */
	{
		xb_calibration_params p1 = xb_calibration_fit_defaults(), p2 = p1;
		xb_calibration *c1, *c2;

		p1.threads = 1;
		p2.threads = 2;
		c1 = fit_ok(m, &p1);
		c2 = fit_ok(m, &p2);
		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			ck_assert_int_eq(memcmp(c1->value[p], c2->value[p], C * sizeof(double)), 0);
			ck_assert_int_eq(memcmp(c1->stderr_[p], c2->stderr_[p], C * sizeof(double)), 0);
			ck_assert_int_eq(memcmp(c1->value[p], cal->value[p], C * sizeof(double)), 0);
		}
		xb_calibration_free(c1);
		xb_calibration_free(c2);
	}
	/* Predictions: the model mean of stimulus 0 (empty: the offset) is o - 1/2. */
	{
		double mean, pre, un;

		ck_assert_int_eq(xb_calibration_predict(cal, m, NULL, 3, 0, &mean, &pre, &un), XB_OK);
		ck_assert_double_eq_tol(pre, cal->value[XB_CAL_OFFSET][3], 1e-12);
		ck_assert_double_eq_tol(mean, cal->value[XB_CAL_OFFSET][3] - 0.5, 1e-6);
		ck_assert_double_eq_tol(un, mean, 1e-12);
	}
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* Smooth saturation (knee 10 codes): the shape is chosen by AIC, the limits found. */
START_TEST(test_roundtrip_smooth)
{
	const size_t C = 16;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[16];
	double buf[XB_CAL_NPARAM][16], *truth[XB_CAL_NPARAM];
	xb_calibration *cal;

	for (int p = 0; p < XB_CAL_NPARAM; p++)
		truth[p] = buf[p];
	make_chip(ch, C, 6);
	chip_truth(ch, C, truth);
	simulate(m, ch, 10.0, 12);
	cal = fit_ok(m, NULL);
	ck_assert_int_eq(cal->saturation, XB_CAL_SAT_SMOOTH);
	ck_assert_ptr_nonnull(strstr(cal->saturation_criterion, "smooth chosen"));
	check_against(cal, (const double *const *)truth, C, 0.75, "synthetic smooth");
	/* The knee: 10 codes, within 2 LSB. */
	for (size_t c = 0; c < C; c++)
		ck_assert_double_eq_tol(cal->knee_lsb[c], 10.0, 2.0);
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* Per-synapse gain deviations of 5 %: their spread is estimated from the excess of chi^2
 * over the repeats' noise, and the refit by generalized least squares keeps the standard
 * errors honest although stimuli sharing rows are correlated. */
START_TEST(test_synapse_spread)
{
	const size_t C = 32;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[32];
	double buf[XB_CAL_NPARAM][32], *truth[XB_CAL_NPARAM];
	xb_calibration *cal;

	for (int p = 0; p < XB_CAL_NPARAM; p++)
		truth[p] = buf[p];
	make_chip(ch, C, 17);
	chip_truth(ch, C, truth);
	simulate_eta(m, ch, 0, 0.05, 18);
	cal = fit_ok(m, NULL);
	/* The spread: 5 %, estimated from 32 columns to about +-0.5 % (found 4.9 %). */
	ck_assert_double_eq_tol(cal->synapse_fpn, 0.05, 0.01);
	/* The column gain a_c g is seen through the synapses' mean deviation (about
	 * 5 % / sqrt(100 rows) = 0.5 %): still within 2 %, and within 2 SE. */
	check_against(cal, (const double *const *)truth, C, 0.80, "synapse spread");
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* Membrane traces: with every stimulus at one spacing and no silent rows the codes say
 * little about the leak; samples of the integrator over 150 us pin tau down. */
START_TEST(test_membrane)
{
	const size_t C = 4;
	xb_calibration_meas *m = protocol(C), *mm;
	chip_col ch[4];
	xb_calibration *without, *with;
	char path[600];
	xb_err err = { 0 };

	make_chip(ch, C, 19);
	/* One spacing for all; drop the leak probes' silent rows (inputs on rows 0 .. 15). */
	for (size_t n = 0; n < m->nstim; n++) {
		m->interval_ns[n] = 40;
		for (size_t r = 0; r < 16; r++)
			m->inputs[n * m->rows + r] = 0;
	}
	simulate(m, ch, 0, 20);
	without = fit_ok(m, NULL);
	/* 16 samples 10 us apart from 0 to 150 us, 1 LSB of noise each. */
	m->ntime = 16;
	m->time_ns = malloc(16 * sizeof *m->time_ns);
	m->membrane = malloc(m->nstim * 16 * C * sizeof *m->membrane);
	for (size_t t = 0; t < 16; t++)
		m->time_ns[t] = 10000.0 * (double)t;
	simulate(m, ch, 0, 20);
	/* Through the file: /membrane and /time_ns are written and read back. */
	ck_assert_int_eq(xb_calibration_meas_write(m, in_dir(path, sizeof path, "mem.h5"), NULL,
						   NULL, &err), XB_OK);
	ck_assert_msg(xb_calibration_meas_read(path, &mm, &err) == XB_OK, "%s", err.msg);
	ck_assert_uint_eq(mm->ntime, 16);
	with = fit_ok(mm, NULL);
	for (size_t c = 0; c < C; c++) {
		double se0 = without->stderr_[XB_CAL_TAU][c], se1 = with->stderr_[XB_CAL_TAU][c];

		/* tau within 10 %, and at least 3 times better determined than from the codes
		 * alone (when those determine it at all). */
		ck_assert_double_eq_tol(with->value[XB_CAL_TAU][c], ch[c].tau_us, 0.1 * ch[c].tau_us);
		ck_assert_msg(isnan(se0) || se1 < se0 / 3, "column %zu: tau +- %g with the membrane, "
			      "+- %g without", c, se1, se0);
		ck_assert_double_eq_tol(with->value[XB_CAL_GAIN][c], ch[c].gain, 0.02 * ch[c].gain);
	}
	xb_calibration_free(without);
	xb_calibration_free(with);
	xb_calibration_meas_free(mm);
	xb_calibration_meas_free(m);
}
END_TEST

/* The tile model of the devices module (hx with fixed-pattern spreads), measured by the
 * campaign, written, read back and fitted: the acceptance round trip on 32 columns. */
START_TEST(test_roundtrip_tile)
{
	static const char *const sets[] = { "noise.fpn_gain=0.05", "noise.fpn_offset_lsb=3",
		"noise.fpn_saturation_lsb=4", "tile.cols=32" };
	xb_config *cfg;
	xb_tile_params tp;
	xb_calibration_design d;
	xb_calibration_meas *stim, *m, *m2;
	xb_calibration *cal, *cal2;
	xb_tile *tile;
	xb_err err = { 0 };
	char mpath[600], cpath[600];
	double got[XB_CAL_NPARAM][32];

	xb_devices_register_keys();
	cfg = xb_config_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_msg(xb_config_load_preset(cfg, "hx") == XB_OK, "%s", xb_config_errmsg(cfg));
	for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
		ck_assert_int_eq(xb_config_set_arg(cfg, sets[i]), XB_OK);
	ck_assert_msg(xb_tile_params_from_config(cfg, &tp, &err) == XB_OK, "%s", err.msg);
	d = xb_calibration_design_from_tile(&tp, 0);
	/* hx: 256 physical rows as pairs = 128 signed rows; 40 ns = 5 cycles at 125 MHz. */
	ck_assert_uint_eq(d.rows, 128);
	ck_assert_uint_eq(d.cols, 32);
	ck_assert_double_eq_tol(d.event_interval_ns, 40.0, 1e-12);
	stim = xb_calibration_protocol(&d, &err);
	ck_assert_ptr_nonnull(stim);
	ck_assert_msg(xb_calibration_measure(&tp, stim, 0, NULL, &m, NULL, NULL, &err) == XB_OK,
		      "%s", err.msg);
	ck_assert_ptr_nonnull(m->truth[XB_CAL_GAIN]);
	ck_assert_double_eq_tol(m->read_delay_ns, 40.0, 1e-12);
	ck_assert_msg(xb_calibration_meas_write(m, in_dir(mpath, sizeof mpath, "m.h5"), "x = 1",
						"test", &err) == XB_OK, "%s", err.msg);
	ck_assert_msg(xb_calibration_meas_read(mpath, &m2, &err) == XB_OK, "%s", err.msg);
	/* The file keeps everything. */
	ck_assert_uint_eq(m2->nstim, m->nstim);
	ck_assert_uint_eq(m2->nrep, 8);
	ck_assert_int_eq(memcmp(m2->codes, m->codes, m->nstim * m->nrep * m->cols * 2), 0);
	ck_assert_int_eq(memcmp(m2->order, m->order, m->nstim * m->rows * 4), 0);
	cal = fit_ok(m2, NULL);
	check_against(cal, (const double *const *)m2->truth, 32, 0.80, "tile hx");
	/* The calibration file round trip. */
	ck_assert_msg(xb_calibration_write(cal, in_dir(cpath, sizeof cpath, "c.h5"), "x = 1",
					   "test", &err) == XB_OK, "%s", err.msg);
	ck_assert_msg(xb_calibration_load(cpath, &cal2, &err) == XB_OK, "%s", err.msg);
	ck_assert_uint_eq(cal2->cols, 32);
	ck_assert_int_eq(cal2->saturation, cal->saturation);
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		ck_assert_int_eq(memcmp(cal2->value[p], cal->value[p], 32 * sizeof(double)), 0);
	/* Applied to a fresh tile of the same chip, the tile reports the calibrated values. */
	tile = xb_tile_new(&tp, 0, 0, &err);
	ck_assert_ptr_nonnull(tile);
	ck_assert_msg(xb_calibration_apply(cal2, tile, 0, 2, &err) == XB_OK, "%s", err.msg);
	xb_tile_get_columns(tile, got[0], got[1], got[2], got[3], got[4], got[5]);
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		for (size_t c = 0; c < 32; c++)
			ck_assert_double_eq_tol(got[p][c], cal2->value[p][c],
						1e-5 * fmax(1, fabs(cal2->value[p][c])));
	xb_tile_free(tile);
	xb_calibration_free(cal2);
	xb_calibration_free(cal);
	xb_calibration_meas_free(m2);
	xb_calibration_meas_free(m);
	xb_calibration_meas_free(stim);
	xb_config_free(cfg);
}
END_TEST

/* Event orders of files without /order follow the tile's schedules. */
START_TEST(test_events)
{
	xb_calibration_meas *m = xb_calibration_meas_new(4, 2, 1, 1, NULL);
	int32_t rows[4];
	size_t ne;
	/* Rows: weights summed over the columns 3, -5, 0, 4; inputs 2, 1, 0, 3. */
	static const int8_t w[8] = { 1, 2, -2, -3, 0, 0, 4, 0 };
	static const uint8_t x[4] = { 2, 1, 0, 3 };

	ck_assert_ptr_nonnull(m);
	memcpy(m->weights, w, sizeof w);
	memcpy(m->inputs, x, sizeof x);
	/* descending: 3, 1, 0 (row 2 has input 0: no event). */
	ne = xb_calibration_meas_events(m, 0, XB_ORDER_DESCENDING, rows);
	ck_assert_uint_eq(ne, 3);
	ck_assert_int_eq(rows[0], 3);
	ck_assert_int_eq(rows[2], 0);
	ne = xb_calibration_meas_events(m, 0, XB_ORDER_ASCENDING, rows);
	ck_assert_int_eq(rows[0], 0);
	/* positive-first: rows summing > 0 (3, 0) first in descending index, then 1. */
	ne = xb_calibration_meas_events(m, 0, XB_ORDER_POSITIVE_FIRST, rows);
	ck_assert_uint_eq(ne, 3);
	ck_assert_int_eq(rows[0], 3);
	ck_assert_int_eq(rows[1], 0);
	ck_assert_int_eq(rows[2], 1);
	/* negative-first: row 1 (sum -5) first. */
	xb_calibration_meas_events(m, 0, XB_ORDER_NEGATIVE_FIRST, rows);
	ck_assert_int_eq(rows[0], 1);
	/* magnitude: x sum|w|: row 0 2*3 = 6, row 1 1*5 = 5, row 3 3*4 = 12: 3, 0, 1. */
	xb_calibration_meas_events(m, 0, XB_ORDER_MAGNITUDE, rows);
	ck_assert_int_eq(rows[0], 3);
	ck_assert_int_eq(rows[1], 0);
	ck_assert_int_eq(rows[2], 1);
	/* An explicit order: listed rows with input 0 send no event. */
	m->order = malloc(4 * sizeof *m->order);
	m->order[0] = 2;
	m->order[1] = 1;
	m->order[2] = -1;
	m->order[3] = -1;
	ne = xb_calibration_meas_events(m, 0, XB_ORDER_DESCENDING, rows);
	ck_assert_uint_eq(ne, 1);
	ck_assert_int_eq(rows[0], 1);
	xb_calibration_meas_free(m);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------------- */

/* Censoring: a column sitting high (offset +60) has its positive stimuli on the upper rail,
 * treated as censored: the parameters still come out; a column with every code on the
 * rail cannot be fitted and is NaN with a warning. */
START_TEST(test_censoring)
{
	const size_t C = 4;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[4];
	xb_calibration *cal;
	size_t on_rail = 0;

	make_chip(ch, C, 7);
	/* Column 1 shifted up by 60 codes: saturation code ~140 lies above the rail 127. */
	ch[1].offset += 60;
	ch[1].sat_lo += 60;
	ch[1].sat_hi += 60;
	/* Column 2 far beyond the rail: every code is 127. */
	ch[2].offset += 400;
	ch[2].sat_lo += 400;
	ch[2].sat_hi += 400;
	simulate(m, ch, 0, 13);
	for (size_t n = 0; n < m->nstim; n++)
		on_rail += m->codes[(n * m->nrep) * C + 1] == 127;
	/* The first repeat sits on the rail in 32 of the 185 stimuli (counted for seed 13);
	 * at least 20 whatever the noise. */
	ck_assert_msg(on_rail >= 20, "column 1 has %zu stimuli on the rail", on_rail);
	cal = fit_ok(m, NULL);
	/* Column 1: gain within 2%, offset within 0.5 LSB (the acceptance tolerances). */
	ck_assert_double_eq_tol(cal->value[XB_CAL_GAIN][1], ch[1].gain, 0.02 * ch[1].gain);
	ck_assert_double_eq_tol(cal->value[XB_CAL_OFFSET][1], ch[1].offset, 0.5);
	ck_assert_double_eq_tol(cal->value[XB_CAL_SAT_LO][1], ch[1].sat_lo, 2.0);
	/* The upper limit (code ~140, above the rail) shows through the ordering probes:
	 * positive rows first saturate the integrator, the negative rows then bring it back
	 * into the ADC range (found 140.5 +- 0.4 for true 140.3). */
	ck_assert_double_eq_tol(cal->value[XB_CAL_SAT_HI][1], ch[1].sat_hi, 2.0);
	/* Column 2: nothing to fit. */
	for (int p = 0; p < XB_CAL_NPARAM; p++)
		ck_assert(isnan(cal->value[p][2]) && isnan(cal->stderr_[p][2]));
	ck_assert_uint_eq(cal->status[2], XB_CAL_COL_FAILED);
	ck_assert_ptr_nonnull(strstr(cal->warnings, "column not fitted"));
	ck_assert_ptr_nonnull(strstr(cal->warnings, "(2)"));
	/* The others are fine. */
	ck_assert_double_eq_tol(cal->value[XB_CAL_GAIN][0], ch[0].gain, 0.02 * ch[0].gain);
	ck_assert_double_eq_tol(cal->value[XB_CAL_GAIN][3], ch[3].gain, 0.02 * ch[3].gain);
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* No stimulus reaches saturation (limits of +-500 codes inside a 12-bit ADC range): the
 * limits are unidentified (NaN) with a warning; no leak at all (tau 1e9 us): tau
 * unidentified too. */
START_TEST(test_unidentified)
{
	const size_t C = 4;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[4];
	xb_calibration *cal;
	char path[600];
	xb_calibration *back;
	xb_err err = { 0 };

	make_chip(ch, C, 8);
	m->adc_bits = 12;
	m->adc_min = -2048;
	m->adc_max = 2047;
	for (size_t c = 0; c < C; c++) {
		ch[c].sat_lo = -500;
		ch[c].sat_hi = 500;
	}
	ch[3].tau_us = 1e9;
	simulate(m, ch, 0, 14);
	cal = fit_ok(m, NULL);
	for (size_t c = 0; c < C; c++) {
		ck_assert(isnan(cal->value[XB_CAL_SAT_LO][c]) && isnan(cal->stderr_[XB_CAL_SAT_LO][c]));
		ck_assert(isnan(cal->value[XB_CAL_SAT_HI][c]));
		ck_assert_double_eq_tol(cal->value[XB_CAL_GAIN][c], ch[c].gain, 0.02 * ch[c].gain);
	}
	ck_assert_ptr_nonnull(strstr(cal->warnings, "sat_hi_lsb unidentified (NaN)"));
	ck_assert_ptr_nonnull(strstr(cal->warnings, "sat_lo_lsb unidentified (NaN)"));
	ck_assert(isnan(cal->value[XB_CAL_TAU][3]));
	ck_assert_double_eq_tol(cal->value[XB_CAL_TAU][0], ch[0].tau_us, 0.1 * ch[0].tau_us);
	ck_assert_ptr_nonnull(strstr(cal->warnings, "tau_us unidentified (NaN)"));
	/* The file says so too, and loads. */
	ck_assert_int_eq(xb_calibration_write(cal, in_dir(path, sizeof path, "u.h5"), NULL, NULL,
					      &err), XB_OK);
	ck_assert_msg(xb_calibration_load(path, &back, &err) == XB_OK, "%s", err.msg);
	ck_assert(isnan(back->value[XB_CAL_SAT_HI][0]));
	xb_calibration_free(back);
	{
		xb_h5r *r = xb_h5r_open(path, NULL);
		char *s = NULL;

		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(xb_h5r_attr_str(r, "/", "unidentified", &s), XB_OK);
		ck_assert_ptr_nonnull(strstr(s, "sat_hi_lsb: all columns"));
		ck_assert_ptr_nonnull(strstr(s, "tau_us: columns 3"));
		free(s);
		xb_h5r_free(r);
	}
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* Glitches: single codes 40 LSB off are dropped and counted; the fit is unharmed. */
START_TEST(test_outliers)
{
	const size_t C = 4;
	xb_calibration_meas *m = protocol(C);
	chip_col ch[4];
	double buf[XB_CAL_NPARAM][4], *truth[XB_CAL_NPARAM];
	xb_calibration *cal;

	for (int p = 0; p < XB_CAL_NPARAM; p++)
		truth[p] = buf[p];
	make_chip(ch, C, 9);
	chip_truth(ch, C, truth);
	simulate(m, ch, 0, 15);
	for (size_t i = 0; i < 12; i++) {
		size_t n = 10 + 13 * i, k = i % m->nrep;
		int16_t *y = &m->codes[(n * m->nrep + k) * C + 1];

		*y = (int16_t)(*y > 0 ? *y - 40 : *y + 40);
	}
	cal = fit_ok(m, NULL);
	ck_assert_int_ge(cal->ndropped[1], 12);
	check_against(cal, (const double *const *)truth, C, 0.5, "outliers");
	xb_calibration_free(cal);
	xb_calibration_meas_free(m);
}
END_TEST

/* Malformed measurement files: one defect each, every one named in the message. */
enum { D_NONE, D_NO_CODES, D_NO_WEIGHTS, D_INPUTS_SHAPE, D_WEIGHTS_FLOAT, D_INTERVAL_NAN,
       D_CODES_RANGE, D_NO_ATTR, D_SCHEMA, D_ORDER_REPEAT, D_MEMBRANE_ALONE, D_INPUT_RANGE,
       D_CODES_RANK, D_ORDER_MISSING_ROW, D_WEIGHT_RANGE, D_TIME_NAN, D_NDEFECTS };

static void write_defect(const char *path, const xb_calibration_meas *m, int defect)
{
	xb_h5w *w = xb_h5w_create(path, defect == D_SCHEMA ? "xbarsim-trace" : "xbarsim-measurement",
				  1, NULL, NULL, NULL);
	int64_t d[3];
	const size_t R = m->rows, C = m->cols, N = m->nstim, K = m->nrep;

	ck_assert_ptr_nonnull(w);
	xb_h5w_attr_int(w, "/", "input_bits", m->input_bits);
	xb_h5w_attr_int(w, "/", "weight_bits", m->weight_bits);
	xb_h5w_attr_int(w, "/", "adc_bits", m->adc_bits);
	if (defect != D_NO_ATTR)
		xb_h5w_attr_int(w, "/", "adc_min", m->adc_min);
	xb_h5w_attr_int(w, "/", "adc_max", m->adc_max);
	xb_h5w_attr_double(w, "/", "event_interval_ns", m->event_interval_ns);
	xb_h5w_attr_int(w, "/", "num_sends", m->num_sends);
	d[0] = (int64_t)R;
	d[1] = (int64_t)C;
	if (defect == D_WEIGHTS_FLOAT) {
		double *wf = malloc(R * C * sizeof *wf);

		for (size_t i = 0; i < R * C; i++)
			wf[i] = m->weights[i];
		ck_assert_int_eq(xb_h5w_write(w, "/weights", XB_H5_FLOAT64, 2, d, wf, "1"), XB_OK);
		free(wf);
	} else if (defect != D_NO_WEIGHTS) {
		int8_t *wc = malloc(R * C);

		memcpy(wc, m->weights, R * C);
		if (defect == D_WEIGHT_RANGE)
			wc[5] = 64;
		ck_assert_int_eq(xb_h5w_write(w, "/weights", XB_H5_INT8, 2, d, wc, "1"), XB_OK);
		free(wc);
	}
	{
		uint8_t *in = calloc(N * (R + 1), 1);

		for (size_t n = 0; n < N; n++)
			memcpy(in + n * (defect == D_INPUTS_SHAPE ? R + 1 : R), m->inputs + n * R, R);
		if (defect == D_INPUT_RANGE)
			in[3] = 32;
		d[0] = (int64_t)N;
		d[1] = (int64_t)(defect == D_INPUTS_SHAPE ? R + 1 : R);
		ck_assert_int_eq(xb_h5w_write(w, "/inputs", XB_H5_UINT8, 2, d, in, "1"), XB_OK);
		free(in);
	}
	{
		int32_t *o = malloc(N * R * sizeof *o);

		memcpy(o, m->order, N * R * sizeof *o);
		if (defect == D_ORDER_REPEAT)
			o[4 * R + 1] = o[4 * R];   /* stimulus 4, the weight sweep's first */
		if (defect == D_ORDER_MISSING_ROW) {
			/* Stimulus 4 (the first of the weight sweep) loses its first event. */
			memmove(o + 4 * R, o + 4 * R + 1, (R - 1) * sizeof *o);
			o[4 * R + R - 1] = -1;
		}
		d[0] = (int64_t)N;
		d[1] = (int64_t)R;
		ck_assert_int_eq(xb_h5w_write(w, "/order", XB_H5_INT32, 2, d, o, "1"), XB_OK);
		free(o);
	}
	{
		double *iv = malloc(N * sizeof *iv);

		memcpy(iv, m->interval_ns, N * sizeof *iv);
		if (defect == D_INTERVAL_NAN)
			iv[2] = NAN;
		d[0] = (int64_t)N;
		ck_assert_int_eq(xb_h5w_write(w, "/interval_ns", XB_H5_FLOAT64, 1, d, iv, "ns"), XB_OK);
		free(iv);
	}
	if (defect != D_NO_CODES) {
		int16_t *y = malloc(N * K * C * sizeof *y);

		memcpy(y, m->codes, N * K * C * sizeof *y);
		if (defect == D_CODES_RANGE)
			y[7] = 300;
		d[0] = (int64_t)N;
		d[1] = (int64_t)K;
		d[2] = (int64_t)C;
		ck_assert_int_eq(xb_h5w_write(w, "/codes", XB_H5_INT16, defect == D_CODES_RANK ? 2 : 3,
					      defect == D_CODES_RANK ? d + 1 : d, y, "LSB"), XB_OK);
		free(y);
	}
	if (defect == D_MEMBRANE_ALONE || defect == D_TIME_NAN) {
		float *mb = calloc(N * 2 * C, sizeof *mb);
		double t[2] = { 0, defect == D_TIME_NAN ? NAN : 100 };

		d[0] = (int64_t)N;
		d[1] = 2;
		d[2] = (int64_t)C;
		ck_assert_int_eq(xb_h5w_write(w, "/membrane", XB_H5_FLOAT32, 3, d, mb, "LSB"), XB_OK);
		if (defect == D_TIME_NAN)
			ck_assert_int_eq(xb_h5w_write(w, "/time_ns", XB_H5_FLOAT64, 1, d + 1, t, "ns"),
					 XB_OK);
		free(mb);
	}
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
}

START_TEST(test_malformed_measurement)
{
	static const struct {
		xb_status code;
		const char *needle;
	} want[D_NDEFECTS] = {
		[D_NONE] = { XB_OK, "" },
		[D_NO_CODES] = { XB_EFORMAT, "dataset /codes is missing" },
		[D_NO_WEIGHTS] = { XB_EFORMAT, "dataset /weights is missing" },
		[D_INPUTS_SHAPE] = { XB_EFORMAT, "/inputs" },
		[D_WEIGHTS_FLOAT] = { XB_EFORMAT, "/weights" },
		[D_INTERVAL_NAN] = { XB_ENUMERIC, "/interval_ns" },
		[D_CODES_RANGE] = { XB_ERANGE, "dataset /codes: value 300" },
		[D_NO_ATTR] = { XB_EFORMAT, "adc_min" },
		[D_SCHEMA] = { XB_EFORMAT, "xbarsim-measurement" },
		[D_ORDER_REPEAT] = { XB_ERANGE, "dataset /order" },
		[D_MEMBRANE_ALONE] = { XB_EFORMAT, "/time_ns is missing" },
		[D_INPUT_RANGE] = { XB_ERANGE, "dataset /inputs: value 32" },
		[D_CODES_RANK] = { XB_EFORMAT, "/codes" },
		[D_ORDER_MISSING_ROW] = { XB_ERANGE, "no event for it" },
		[D_WEIGHT_RANGE] = { XB_ERANGE, "dataset /weights: value 64" },
		[D_TIME_NAN] = { XB_ENUMERIC, "/time_ns" },
	};
	xb_calibration_meas *m = protocol(4), *back;
	chip_col ch[4];
	char path[600];
	xb_err err;

	make_chip(ch, 4, 10);
	simulate(m, ch, 0, 16);
	for (int dft = 0; dft < D_NDEFECTS; dft++) {
		char name[32];
		xb_status st;

		snprintf(name, sizeof name, "bad%d.h5", dft);
		write_defect(in_dir(path, sizeof path, name), m, dft);
		memset(&err, 0, sizeof err);
		back = NULL;
		st = xb_calibration_meas_read(path, &back, &err);
		ck_assert_msg(st == want[dft].code, "defect %d: status %d (%s)", dft, st, err.msg);
		if (st != XB_OK) {
			ck_assert_ptr_null(back);
			ck_assert_msg(strstr(err.msg, want[dft].needle) && strstr(err.msg, name),
				      "defect %d: message '%s' lacks '%s' or the file name", dft, err.msg,
				      want[dft].needle);
		}
		xb_calibration_meas_free(back);
	}
	/* The stimuli reader does without /codes. */
	ck_assert_int_eq(xb_calibration_stimuli_read(in_dir(path, sizeof path, "bad1.h5"), &back,
						     &err), XB_OK);
	ck_assert_ptr_null(back->codes);
	ck_assert_uint_eq(back->nrep, 0);
	xb_calibration_meas_free(back);
	/* A missing file. */
	ck_assert_int_eq(xb_calibration_meas_read(in_dir(path, sizeof path, "none.h5"), &back, &err),
			 XB_ENOENT);
	/* Fewer stimuli than parameters. */
	{
		xb_calibration_meas *few = xb_calibration_meas_new(16, 2, 4, 3, NULL);
		xb_calibration *cal = NULL;

		ck_assert_int_eq(xb_calibration_fit(few, NULL, &cal, &err), XB_EFORMAT);
		ck_assert_ptr_nonnull(strstr(err.msg, "/codes holds 4 stimuli"));
		ck_assert_ptr_null(cal);
		xb_calibration_meas_free(few);
	}
	xb_calibration_meas_free(m);
}
END_TEST

/* Malformed calibration files and application errors. */
START_TEST(test_malformed_calibration)
{
	xb_calibration *cal = xb_calibration_new(3, NULL), *back = NULL;
	char path[600];
	xb_err err = { 0 };
	static const struct {
		int param, col, stderr_nan;
		double value;
		xb_status code;
		const char *needle;
	} bad[] = {
		{ XB_CAL_GAIN, 1, 0, INFINITY, XB_ENUMERIC, "dataset /gain" },
		{ XB_CAL_TAU, 0, 0, -3.0, XB_ERANGE, "dataset /tau_us: a time constant <= 0" },
		{ XB_CAL_OFFSET, 2, 1, 1.5, XB_ERANGE, "dataset /offset_lsb_stderr" },
		{ XB_CAL_SAT_LO, 0, 0, 90.0, XB_ERANGE, "/sat_lo_lsb, /sat_hi_lsb" },
		{ XB_CAL_READ_NOISE, 1, 0, -1.0, XB_ERANGE, "/read_noise_lsb: a negative noise" },
		{ XB_CAL_GAIN, 0, 0, 0.0, XB_ERANGE, "a zero gain" },
	};

	ck_assert_ptr_nonnull(cal);
	for (size_t c = 0; c < 3; c++) {
		const double v[XB_CAL_NPARAM] = { 0.002, 1.0, -80, 80, 60, 2 };

		for (int p = 0; p < XB_CAL_NPARAM; p++) {
			cal->value[p][c] = v[p];
			cal->stderr_[p][c] = 0.01;
		}
	}
	/* A good file loads; NaN value with NaN stderr is "unidentified" and fine. */
	cal->value[XB_CAL_TAU][1] = cal->stderr_[XB_CAL_TAU][1] = NAN;
	ck_assert_int_eq(xb_calibration_write(cal, in_dir(path, sizeof path, "good.h5"), NULL, NULL,
					      &err), XB_OK);
	ck_assert_msg(xb_calibration_load(path, &back, &err) == XB_OK, "%s", err.msg);
	ck_assert(isnan(back->value[XB_CAL_TAU][1]));
	xb_calibration_free(back);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		double keep = cal->value[bad[i].param][bad[i].col];
		double keep_se = cal->stderr_[bad[i].param][bad[i].col];
		char name[32];

		cal->value[bad[i].param][bad[i].col] = bad[i].value;
		if (bad[i].stderr_nan)
			cal->stderr_[bad[i].param][bad[i].col] = NAN;
		snprintf(name, sizeof name, "bad%zu.h5", i);
		ck_assert_int_eq(xb_calibration_write(cal, in_dir(path, sizeof path, name), NULL, NULL,
						      &err), XB_OK);
		back = NULL;
		ck_assert_int_eq(xb_calibration_load(path, &back, &err), bad[i].code);
		ck_assert_msg(strstr(err.msg, bad[i].needle) != NULL, "case %zu: '%s'", i, err.msg);
		ck_assert_ptr_null(back);
		cal->value[bad[i].param][bad[i].col] = keep;
		cal->stderr_[bad[i].param][bad[i].col] = keep_se;
	}
	/* A dataset missing, another schema. */
	{
		xb_h5w *w = xb_h5w_create(in_dir(path, sizeof path, "partial.h5"), "xbarsim-calibration",
					  1, NULL, NULL, NULL);
		int64_t d = 3;

		xb_h5w_attr_str(w, "/", "model", "x");
		xb_h5w_write(w, "/gain", XB_H5_FLOAT64, 1, &d, cal->value[0], "LSB/(x*w)");
		xb_h5w_commit(w);
		xb_h5w_free(w);
		ck_assert_int_eq(xb_calibration_load(path, &back, &err), XB_EFORMAT);
		ck_assert_ptr_nonnull(strstr(err.msg, "dataset /gain_stderr is missing"));
		w = xb_h5w_create(in_dir(path, sizeof path, "trace.h5"), "xbarsim-trace", 1, NULL, NULL,
				  NULL);
		xb_h5w_commit(w);
		xb_h5w_free(w);
		ck_assert_int_eq(xb_calibration_load(path, &back, &err), XB_EFORMAT);
		ck_assert_ptr_nonnull(strstr(err.msg, "xbarsim-calibration"));
	}
	/* Applying 3 columns to a tile of 256 (2 tiles: 512). */
	{
		xb_tile_params tp = xb_tile_default_params();
		xb_tile *tile = xb_tile_new(&tp, 0, 0, &err);

		ck_assert_ptr_nonnull(tile);
		ck_assert_int_eq(xb_calibration_apply(cal, tile, 0, 2, &err), XB_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "has 3 columns"));
		xb_tile_free(tile);
	}
	xb_calibration_free(cal);
}
END_TEST

/* Bad arguments of the fit, the protocol and the campaign. */
START_TEST(test_bad_arguments)
{
	xb_calibration_meas *m = protocol(2);
	xb_calibration_params p = xb_calibration_fit_defaults();
	xb_calibration *cal = NULL;
	xb_calibration_design d = xb_calibration_design_default();
	xb_tile_params tp = xb_tile_default_params();
	xb_calibration_meas *out = NULL;
	xb_err err = { 0 };

	p.max_iter = 0;
	ck_assert_int_eq(xb_calibration_fit(m, &p, &cal, &err), XB_EINVAL);
	p = xb_calibration_fit_defaults();
	p.order = XB_ORDER_RANDOM;
	free(m->order);
	m->order = NULL;
	ck_assert_int_eq(xb_calibration_fit(m, &p, &cal, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "/order"));
	d.rows = 8;
	ck_assert_ptr_null(xb_calibration_protocol(&d, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	ck_assert_ptr_null(xb_calibration_meas_new(0, 1, 1, 1, &err));
	tp.input.encoding = XB_ENC_BITSERIAL;
	ck_assert_int_eq(xb_calibration_measure(&tp, m, 1, NULL, &out, NULL, NULL, &err),
			 XB_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err.msg, "input.encoding = bitserial"));
	tp = xb_tile_default_params();
	tp.integrator.model = XB_MODEL_IDEAL;
	ck_assert_int_eq(xb_calibration_measure(&tp, m, 1, NULL, &out, NULL, NULL, &err),
			 XB_EUNSUPPORTED);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(xb_calibration_sat_parse("smooth"), XB_CAL_SAT_SMOOTH);
	ck_assert_int_eq(xb_calibration_sat_parse("round"), -2);
	xb_calibration_meas_free(m);
}
END_TEST

static Suite *calibration_suite(void)
{
	Suite *s = suite_create("calibration");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, test_moments);
	tcase_add_test(core, test_path);
	tcase_add_test(core, test_events);
	tcase_add_test(core, test_roundtrip_synthetic);
	tcase_add_test(core, test_roundtrip_smooth);
	tcase_add_test(core, test_synapse_spread);
	tcase_add_test(core, test_membrane);
	tcase_add_test(core, test_roundtrip_tile);
	tcase_add_test(limits, test_censoring);
	tcase_add_test(limits, test_unidentified);
	tcase_add_test(limits, test_outliers);
	tcase_add_test(limits, test_malformed_measurement);
	tcase_add_test(limits, test_malformed_calibration);
	tcase_add_test(limits, test_bad_arguments);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(calibration_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
