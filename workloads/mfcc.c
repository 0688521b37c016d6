/* mfcc.c - mel-frequency cepstral coefficients of 1 s clips (FFTW single precision).
 * Hann window, power spectrum, HTK-mel triangular filters, log with a floor, orthonormal DCT-II.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is not thread-safe: every plan is made and destroyed under this lock. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

struct xb_mfcc {
	xb_mfcc_params p;
	int frames;
	int nbins;                /* fft / 2 + 1 */
	double *window;           /* [window_samples] */
	double *edges_hz;         /* [mel_bands + 2] */
	/* Filter m covers bins lo[m] .. lo[m] + len[m] - 1 with weights at wt + off[m]. */
	int *lo, *len, *off;
	double *wt;
	double *dct;              /* [coeffs][mel_bands] */
	float *in;                /* FFT input [fft] (fftwf_malloc) */
	fftwf_complex *spec;      /* FFT output [nbins] */
	fftwf_plan plan;
	double *logmel;           /* [frames][mel_bands] scratch */
};

xb_mfcc_params xb_mfcc_default_params(void)
{
	xb_mfcc_params p;

	p.rate_hz = 16000;
	p.clip_samples = 16000;
	p.window_samples = 480;
	p.hop_samples = 320;
	p.fft_size = 512;
	p.mel_bands = 40;
	p.f_lo_hz = 20.0;
	p.f_hi_hz = 7600.0;
	p.coeffs = 10;
	p.log_floor = 1e-6;
	return p;
}

static double hz_to_mel(double f)
{
	return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m)
{
	return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

static xb_status check_params(const xb_mfcc_params *p, xb_err *err)
{
	const char *bad = NULL;

	if (p->rate_hz <= 0)
		bad = "rate_hz must be positive";
	else if (p->window_samples <= 0 || p->hop_samples <= 0)
		bad = "window_samples and hop_samples must be positive";
	else if (p->clip_samples < p->window_samples)
		bad = "clip_samples must be at least window_samples";
	else if (p->fft_size < p->window_samples || p->fft_size > (1 << 20))
		bad = "fft_size must lie in [window_samples, 2^20]";
	else if (p->mel_bands < 1 || p->mel_bands > 1024)
		bad = "mel_bands must lie in 1..1024";
	else if (p->coeffs < 1 || p->coeffs > p->mel_bands)
		bad = "coeffs must lie in 1..mel_bands";
	else if (!(p->f_lo_hz >= 0.0) || !(p->f_hi_hz > p->f_lo_hz) ||
		 !(p->f_hi_hz <= p->rate_hz / 2.0))
		bad = "the filter range needs 0 <= f_lo_hz < f_hi_hz <= rate_hz / 2";
	else if (!(p->log_floor > 0.0) || !isfinite(p->log_floor))
		bad = "log_floor must be positive";
	if (bad)
		return xb_raise(err, XB_EINVAL, "MFCC parameters: %s", bad);
	return XB_OK;
}

void xb_mfcc_free(xb_mfcc *m)
{
	if (!m)
		return;
	if (m->plan) {
		pthread_mutex_lock(&plan_lock);
		fftwf_destroy_plan(m->plan);
		pthread_mutex_unlock(&plan_lock);
	}
	fftwf_free(m->in);
	fftwf_free(m->spec);
	free(m->window);
	free(m->edges_hz);
	free(m->lo);
	free(m->len);
	free(m->off);
	free(m->wt);
	free(m->dct);
	free(m->logmel);
	free(m);
}

xb_mfcc *xb_mfcc_new(const xb_mfcc_params *params, xb_err *err)
{
	const double pi = 3.14159265358979323846;
	xb_mfcc_params def = xb_mfcc_default_params();
	const xb_mfcc_params *p = params ? params : &def;
	xb_mfcc *m;
	double mel_lo, mel_hi, bin_hz;
	int i, b, k, j, nw = 0;

	if (check_params(p, err))
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		goto nomem;
	m->p = *p;
	m->frames = 1 + (p->clip_samples - p->window_samples) / p->hop_samples;
	m->nbins = p->fft_size / 2 + 1;
	m->window = malloc((size_t)p->window_samples * sizeof *m->window);
	m->edges_hz = malloc((size_t)(p->mel_bands + 2) * sizeof *m->edges_hz);
	m->lo = calloc((size_t)p->mel_bands, sizeof *m->lo);
	m->len = calloc((size_t)p->mel_bands, sizeof *m->len);
	m->off = calloc((size_t)p->mel_bands, sizeof *m->off);
	m->wt = malloc((size_t)p->mel_bands * (size_t)m->nbins * sizeof *m->wt);
	m->dct = malloc((size_t)p->coeffs * (size_t)p->mel_bands * sizeof *m->dct);
	m->logmel = malloc((size_t)m->frames * (size_t)p->mel_bands * sizeof *m->logmel);
	m->in = fftwf_malloc((size_t)p->fft_size * sizeof *m->in);
	m->spec = fftwf_malloc((size_t)m->nbins * sizeof *m->spec);
	if (!m->window || !m->edges_hz || !m->lo || !m->len || !m->off || !m->wt || !m->dct ||
	    !m->logmel || !m->in || !m->spec)
		goto nomem;

	/* Periodic Hann window. */
	for (i = 0; i < p->window_samples; i++)
		m->window[i] = 0.5 - 0.5 * cos(2.0 * pi * i / p->window_samples);

	/* Filter edges equally spaced in mel; triangles evaluated in Hz at bin centres. */
	mel_lo = hz_to_mel(p->f_lo_hz);
	mel_hi = hz_to_mel(p->f_hi_hz);
	for (b = 0; b < p->mel_bands + 2; b++)
		m->edges_hz[b] = mel_to_hz(mel_lo + (mel_hi - mel_lo) * b / (p->mel_bands + 1));
	bin_hz = (double)p->rate_hz / p->fft_size;
	for (b = 0; b < p->mel_bands; b++) {
		double left = m->edges_hz[b], centre = m->edges_hz[b + 1], right = m->edges_hz[b + 2];

		m->lo[b] = -1;
		m->off[b] = nw;
		for (k = 0; k < m->nbins; k++) {
			double f = k * bin_hz, wgt = 0.0;

			if (f > left && f < centre)
				wgt = (f - left) / (centre - left);
			else if (f >= centre && f < right)
				wgt = (right - f) / (right - centre);
			if (wgt <= 0.0)
				continue;
			if (m->lo[b] < 0)
				m->lo[b] = k;
			/* Bins inside one triangle are contiguous. */
			m->wt[nw++] = wgt;
			m->len[b] = k - m->lo[b] + 1;
		}
		if (m->lo[b] < 0)
			m->lo[b] = 0;   /* a filter narrower than a bin: no weight, floor only */
	}

	/* Orthonormal DCT-II. */
	for (j = 0; j < p->coeffs; j++)
		for (b = 0; b < p->mel_bands; b++)
			m->dct[j * p->mel_bands + b] =
				sqrt((j ? 2.0 : 1.0) / p->mel_bands) *
				cos(pi * j * (2 * b + 1) / (2.0 * p->mel_bands));

	pthread_mutex_lock(&plan_lock);
	m->plan = fftwf_plan_dft_r2c_1d(p->fft_size, m->in, m->spec, FFTW_ESTIMATE);
	pthread_mutex_unlock(&plan_lock);
	if (!m->plan) {
		xb_mfcc_free(m);
		xb_raise(err, XB_EINTERNAL, "MFCC: FFTW could not plan a %d-point transform",
			 p->fft_size);
		return NULL;
	}
	return m;
nomem:
	xb_mfcc_free(m);
	xb_raise(err, XB_ENOMEM, "MFCC: out of memory");
	return NULL;
}

int xb_mfcc_frames(const xb_mfcc *m)
{
	return m->frames;
}

int xb_mfcc_coeffs(const xb_mfcc *m)
{
	return m->p.coeffs;
}

const xb_mfcc_params *xb_mfcc_params_of(const xb_mfcc *m)
{
	return &m->p;
}

double xb_mfcc_band_hz(const xb_mfcc *m, int band)
{
	if (band < 0 || band >= m->p.mel_bands)
		return NAN;
	return m->edges_hz[band + 1];
}

/* Sample I of the clip, zero beyond its end or beyond clip_samples. */
static inline double sample_f(const float *pcm, size_t n, size_t i)
{
	return i < n ? (double)pcm[i] : 0.0;
}

static inline double sample_s16(const int16_t *pcm, size_t n, size_t i)
{
	return i < n ? pcm[i] / 32768.0 : 0.0;
}

/* Log-mel energies of every frame into m->logmel. */
static void logmel(xb_mfcc *m, const float *pf, const int16_t *ps, size_t n)
{
	const xb_mfcc_params *p = &m->p;
	double *dst = m->logmel;
	int t, i, b, k;

	if (n > (size_t)p->clip_samples)
		n = (size_t)p->clip_samples;
	for (t = 0; t < m->frames; t++) {
		size_t start = (size_t)t * (size_t)p->hop_samples;

		for (i = 0; i < p->window_samples; i++) {
			double s = pf ? sample_f(pf, n, start + (size_t)i)
				      : sample_s16(ps, n, start + (size_t)i);

			m->in[i] = (float)(s * m->window[i]);
		}
		for (; i < p->fft_size; i++)
			m->in[i] = 0.0f;
		fftwf_execute(m->plan);
		for (b = 0; b < p->mel_bands; b++) {
			const double *wt = m->wt + m->off[b];
			double e = 0.0;

			for (k = 0; k < m->len[b]; k++) {
				const float *c = m->spec[m->lo[b] + k];
				double re = c[0], im = c[1];

				e += wt[k] * (re * re + im * im);
			}
			dst[t * p->mel_bands + b] = log(e > p->log_floor ? e : p->log_floor);
		}
	}
}

static void dct_all(xb_mfcc *m, float *out)
{
	const xb_mfcc_params *p = &m->p;
	int t, j, b;

	for (t = 0; t < m->frames; t++) {
		const double *l = m->logmel + t * p->mel_bands;

		for (j = 0; j < p->coeffs; j++) {
			const double *d = m->dct + j * p->mel_bands;
			double s = 0.0;

			for (b = 0; b < p->mel_bands; b++)
				s += d[b] * l[b];
			out[t * p->coeffs + j] = (float)s;
		}
	}
}

void xb_mfcc_compute(xb_mfcc *m, const float *pcm, size_t n, float *out)
{
	logmel(m, pcm, NULL, n);
	dct_all(m, out);
}

void xb_mfcc_compute_s16(xb_mfcc *m, const int16_t *pcm, size_t n, float *out)
{
	logmel(m, NULL, pcm, n);
	dct_all(m, out);
}

void xb_mfcc_logmel(xb_mfcc *m, const float *pcm, size_t n, float *out)
{
	size_t i, total = (size_t)m->frames * (size_t)m->p.mel_bands;

	logmel(m, pcm, NULL, n);
	for (i = 0; i < total; i++)
		out[i] = (float)m->logmel[i];
}
