/* kws_corpus.c - the synthetic keyword-spotting corpus: clip plan, augmentation, features.
 * espeak-ng speech resampled to 16 kHz, placed, scaled and mixed with noise, then MFCC.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "kws_int.h"

#include <espeak-ng/speak_lib.h>
#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

#define KWS_RATE_HZ 16000
#define KWS_CLIP 16000             /* samples per clip: 1 s */
#define KWS_PINK_WARMUP 4096       /* samples run through the pink filter before use */

const char *const xb_kws_class_names[XB_KWS_CLASSES] = {
	"silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"
};

/* Per-clip draws (counter word 3 of DATA_RNG_CHOICE blocks). */
enum { DRAW_WORD, DRAW_PINK, DRAW_SNR, DRAW_PEAK, DRAW_OFFSET, DRAW_SILENCE };

xb_kws_params xb_kws_default_params(void)
{
	xb_kws_params p;

	memset(&p, 0, sizeof p);
	p.seed = 1;
	p.voices = "en-us en-gb en-gb-scotland en-gb-x-gbclan en-gb-x-rp en-gb-x-gbcwmd "
		   "en-029 en-us-nyc";
	p.variants = "m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt4 whisper croak";
	p.pitches = "30 50 70";
	p.speeds_wpm = "140 190";
	p.test_voices = "en-gb-scotland en-us-nyc";
	p.valid_voices = "en-gb-x-rp";
	p.unknown_words = "bed bird cat dog eight five four happy house marvin nine one seven "
			  "sheila six three tree two wow zero";
	p.snr_min_db = 5.0;
	p.snr_max_db = 30.0;
	p.peak_min_dbfs = -24.0;
	p.peak_max_dbfs = -1.0;
	p.silence_min_dbfs = -50.0;
	p.silence_max_dbfs = -15.0;
	p.pink_fraction = 0.5;
	p.splits = 1u << XB_SPLIT_TRAIN | 1u << XB_SPLIT_VALID | 1u << XB_SPLIT_TEST;
	p.jobs = 2;
	p.keep_sources = 1;
	return p;
}

/* The corpus plan decoded from the parameters. */
typedef struct corpus {
	const xb_kws_params *p;
	char **voices, **variants, **unknown, **pitch_w, **speed_w, **test_w, **valid_w;
	size_t nvoices, nvariants, nunknown, npitches, nspeeds, ntest, nvalid;
	int *pitch, *speed;
	uint8_t *voice_split;         /* split of each voice */
	char **voice_names;           /* "<voice>+<variant>" [nvoices * nvariants] */
	size_t total;                 /* clips of the full corpus */
	double peak_lo, peak_hi;      /* speech peak, linear full scale */
	float *noise;                 /* scratch: noise of one clip */
} corpus;

/* Coordinates of clip I. */
typedef struct clip_id {
	int cls;
	size_t voice, variant, pitch, speed;
} clip_id;

static clip_id clip_decode(const corpus *c, size_t i)
{
	clip_id id;

	id.cls = (int)(i % XB_KWS_CLASSES);
	i /= XB_KWS_CLASSES;
	id.speed = i % c->nspeeds;
	i /= c->nspeeds;
	id.pitch = i % c->npitches;
	i /= c->npitches;
	id.variant = i % c->nvariants;
	id.voice = i / c->nvariants;
	return id;
}

static void corpus_free(corpus *c)
{
	size_t i;

	free(c->voices);
	free(c->variants);
	free(c->unknown);
	free(c->pitch_w);
	free(c->speed_w);
	free(c->test_w);
	free(c->valid_w);
	free(c->pitch);
	free(c->speed);
	free(c->voice_split);
	if (c->voice_names)
		for (i = 0; i < c->nvoices * c->nvariants; i++)
			free(c->voice_names[i]);
	free(c->voice_names);
	free(c->noise);
	memset(c, 0, sizeof *c);
}

/* Parse the integer words W[0..N-1] into *OUT, each in [LO, HI]. */
static xb_status parse_ints(char **w, size_t n, const char *what, int lo, int hi, int **out,
			    xb_err *err)
{
	size_t i;

	*out = malloc((n ? n : 1) * sizeof **out);
	if (!*out)
		return xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
	for (i = 0; i < n; i++) {
		char *end;
		long v = strtol(w[i], &end, 10);

		if (*end || end == w[i] || v < lo || v > hi)
			return xb_raise(err, XB_EINVAL, "keyword corpus: %s '%s': expected an "
					"integer in [%d, %d]", what, w[i], lo, hi);
		(*out)[i] = (int)v;
	}
	return XB_OK;
}

static int in_list(char **w, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(w[i], s))
			return 1;
	return 0;
}

static xb_status corpus_init(corpus *c, const xb_kws_params *p, xb_err *err)
{
	size_t i, v;
	xb_status st;

	memset(c, 0, sizeof *c);
	c->p = p;
	if (!p->voices || !p->variants || !p->pitches || !p->speeds_wpm || !p->unknown_words)
		return xb_raise(err, XB_EINVAL, "keyword corpus: voices, variants, pitches, "
				"speeds_wpm and unknown_words must be set");
	if (!(p->snr_min_db <= p->snr_max_db) || !(p->peak_min_dbfs <= p->peak_max_dbfs) ||
	    !(p->peak_max_dbfs <= 0.0) || !(p->silence_min_dbfs <= p->silence_max_dbfs) ||
	    !(p->silence_max_dbfs <= 0.0) || !(p->pink_fraction >= 0.0 && p->pink_fraction <= 1.0)
	    || !isfinite(p->snr_min_db) || !isfinite(p->snr_max_db) || !isfinite(p->peak_min_dbfs)
	    || !isfinite(p->silence_min_dbfs))
		return xb_raise(err, XB_EINVAL, "keyword corpus: levels: expected snr_min_db <= "
				"snr_max_db, peak_min_dbfs <= peak_max_dbfs <= 0, silence_min_dbfs <= "
				"silence_max_dbfs <= 0 and pink_fraction in [0, 1]");
	if (p->splits == 0 || p->splits > 7)
		return xb_raise(err, XB_EINVAL, "keyword corpus: splits 0x%x: expected a non-empty "
				"set of bits 1 (train), 2 (valid), 4 (test)", p->splits);
	c->voices = data_words(p->voices, &c->nvoices);
	c->variants = data_words(p->variants, &c->nvariants);
	c->unknown = data_words(p->unknown_words, &c->nunknown);
	c->pitch_w = data_words(p->pitches, &c->npitches);
	c->speed_w = data_words(p->speeds_wpm, &c->nspeeds);
	c->test_w = data_words(p->test_voices, &c->ntest);
	c->valid_w = data_words(p->valid_voices, &c->nvalid);
	if (!c->voices || !c->variants || !c->unknown || !c->pitch_w || !c->speed_w ||
	    !c->test_w || !c->valid_w)
		return xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
	if (!c->nvoices || !c->nvariants || !c->npitches || !c->nspeeds || !c->nunknown)
		return xb_raise(err, XB_EINVAL, "keyword corpus: empty list: expected at least "
				"one voice, variant, pitch, speed and unknown word");
	st = parse_ints(c->pitch_w, c->npitches, "pitch", 0, 99, &c->pitch, err);
	if (!st)
		st = parse_ints(c->speed_w, c->nspeeds, "speed", espeakRATE_MINIMUM,
				espeakRATE_MAXIMUM, &c->speed, err);
	if (st)
		return st;
	for (i = 0; i < c->ntest; i++)
		if (!in_list(c->voices, c->nvoices, c->test_w[i]))
			return xb_raise(err, XB_EINVAL, "keyword corpus: test voice '%s' is not "
					"among the voices (%s)", c->test_w[i], p->voices);
	for (i = 0; i < c->nvalid; i++) {
		if (!in_list(c->voices, c->nvoices, c->valid_w[i]))
			return xb_raise(err, XB_EINVAL, "keyword corpus: validation voice '%s' is "
					"not among the voices (%s)", c->valid_w[i], p->voices);
		if (in_list(c->test_w, c->ntest, c->valid_w[i]))
			return xb_raise(err, XB_EINVAL, "keyword corpus: voice '%s' is both a test "
					"and a validation voice", c->valid_w[i]);
	}
	c->voice_split = malloc(c->nvoices);
	c->voice_names = calloc(c->nvoices * c->nvariants, sizeof *c->voice_names);
	if (!c->voice_split || !c->voice_names)
		return xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
	for (v = 0; v < c->nvoices; v++) {
		size_t k;

		for (k = 0; k < v; k++)
			if (!strcmp(c->voices[k], c->voices[v]))
				return xb_raise(err, XB_EINVAL, "keyword corpus: voice '%s' listed "
						"twice", c->voices[v]);
		c->voice_split[v] = in_list(c->test_w, c->ntest, c->voices[v]) ? XB_SPLIT_TEST
				    : in_list(c->valid_w, c->nvalid, c->voices[v]) ? XB_SPLIT_VALID
				    : XB_SPLIT_TRAIN;
		for (k = 0; k < c->nvariants; k++) {
			size_t len = strlen(c->voices[v]) + strlen(c->variants[k]) + 2;
			char *name = malloc(len);

			if (!name)
				return xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
			snprintf(name, len, "%s+%s", c->voices[v], c->variants[k]);
			c->voice_names[v * c->nvariants + k] = name;
		}
	}
	c->total = c->nvoices * c->nvariants * c->npitches * c->nspeeds * XB_KWS_CLASSES;
	c->peak_lo = pow(10.0, p->peak_min_dbfs / 20.0);
	c->peak_hi = pow(10.0, p->peak_max_dbfs / 20.0);
	c->noise = malloc((KWS_CLIP + KWS_PINK_WARMUP) * sizeof *c->noise);
	if (!c->noise)
		return xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
	return XB_OK;
}

/* Word spoken in clip I (NULL for silence). */
static const char *clip_word(const corpus *c, size_t i, int cls)
{
	if (cls == 0)
		return NULL;
	if (cls == 1)
		return c->unknown[data_rng_below(c->p->seed, i, DATA_RNG_CHOICE, DRAW_WORD,
						 c->nunknown)];
	return xb_kws_class_names[cls];
}

static double draw(const corpus *c, size_t i, uint32_t what)
{
	return data_rng_u01(c->p->seed, i, DATA_RNG_CHOICE, what);
}

/* KWS_CLIP noise samples of clip I with unit RMS, white or pink, into c->noise. */
static void make_noise(corpus *c, size_t i)
{
	int pink = draw(c, i, DRAW_PINK) < c->p->pink_fraction;
	float *n = c->noise;
	double ss = 0.0, scale;
	size_t k;

	data_rng_normals(c->p->seed, i, DATA_RNG_NOISE, n, KWS_CLIP + KWS_PINK_WARMUP);
	if (pink) {
		/* 1/f noise by Paul Kellet's three-pole "economy" filter (published for
		 * 44.1 kHz as within 0.5 dB of 1/f above 9.2 Hz; the shape scales with the
		 * sample rate).  The warm-up lets the slowest pole settle. */
		double b0 = 0.0, b1 = 0.0, b2 = 0.0;

		for (k = 0; k < KWS_CLIP + KWS_PINK_WARMUP; k++) {
			double w = n[k];

			b0 = 0.99765 * b0 + w * 0.0990460;
			b1 = 0.96300 * b1 + w * 0.2965164;
			b2 = 0.57000 * b2 + w * 1.0526913;
			n[k] = (float)(b0 + b1 + b2 + w * 0.1848);
		}
	}
	n += KWS_PINK_WARMUP;
	for (k = 0; k < KWS_CLIP; k++)
		ss += (double)n[k] * n[k];
	scale = ss > 0.0 ? 1.0 / sqrt(ss / KWS_CLIP) : 0.0;
	for (k = 0; k < KWS_CLIP; k++)
		c->noise[k] = (float)(n[k] * scale);
}

static int16_t to_s16(double x)
{
	double v = floor(x * 32768.0 + 0.5);

	if (v > 32767.0)
		return 32767;
	if (v < -32768.0)
		return -32768;
	return (int16_t)v;
}

/* Clip I from the speech PCM[0..N-1] (16 kHz, trimmed; NULL for silence) into
 * OUT[KWS_CLIP]; *CUT is set when the speech was longer than the window. */
static xb_status make_clip(corpus *c, size_t i, const float *pcm, size_t n, int16_t *out,
			   int *cut, xb_err *err)
{
	size_t k, len = n, off;
	double peak = 0.0, gain, ps = 0.0, level, snr_db;

	*cut = 0;
	make_noise(c, i);
	if (!pcm) {
		level = c->p->silence_min_dbfs + (c->p->silence_max_dbfs - c->p->silence_min_dbfs) *
			draw(c, i, DRAW_SILENCE);
		gain = pow(10.0, level / 20.0);
		for (k = 0; k < KWS_CLIP; k++)
			out[k] = to_s16(gain * c->noise[k]);
		return XB_OK;
	}
	if (len > KWS_CLIP) {
		len = KWS_CLIP;
		*cut = 1;
	}
	for (k = 0; k < len; k++) {
		double a = fabs(pcm[k]);

		if (a > peak)
			peak = a;
		ps += (double)pcm[k] * pcm[k];
	}
	if (peak == 0.0 || len == 0)
		return xb_raise(err, XB_EIO, "keyword corpus: clip %zu: no sound", i);
	gain = (c->peak_lo * pow(c->peak_hi / c->peak_lo, draw(c, i, DRAW_PEAK))) / peak;
	ps = ps / len * gain * gain;
	snr_db = c->p->snr_min_db + (c->p->snr_max_db - c->p->snr_min_db) * draw(c, i, DRAW_SNR);
	level = sqrt(ps / pow(10.0, snr_db / 10.0));
	off = (size_t)(draw(c, i, DRAW_OFFSET) * (double)(KWS_CLIP - len + 1));
	if (off > KWS_CLIP - len)
		off = KWS_CLIP - len;
	for (k = 0; k < KWS_CLIP; k++) {
		double x = level * c->noise[k];

		if (k >= off && k < off + len)
			x += gain * pcm[k - off];
		out[k] = to_s16(x);
	}
	return XB_OK;
}

xb_status xb_kws_count(const xb_kws_params *p, size_t *total, size_t *selected, xb_err *err)
{
	corpus c;
	xb_status st = corpus_init(&c, p, err);
	size_t i, sel = 0;

	if (!st) {
		for (i = 0; i < c.total; i++)
			sel += (p->splits >> c.voice_split[clip_decode(&c, i).voice]) & 1u;
		if (total)
			*total = c.total;
		if (selected)
			*selected = sel;
	}
	corpus_free(&c);
	return st;
}

/* State of one generation run, shared with the espeak callback. */
typedef struct run {
	corpus *c;
	size_t *rows;          /* clip index of each output row */
	size_t *req_row;       /* output row of each espeak request */
	size_t nrows, done, cut;
	xb_dataset *ds;
	xb_mfcc *mfcc;
	int16_t *audio;        /* [nrows][KWS_CLIP] or NULL */
	int16_t *clip;         /* one clip when AUDIO is NULL */
	xb_err *err;
} run;

static xb_status finish_row(run *r, size_t row, const float *pcm, size_t n)
{
	corpus *c = r->c;
	size_t i = r->rows[row];
	clip_id id = clip_decode(c, i);
	int16_t *clip = r->audio ? r->audio + row * KWS_CLIP : r->clip;
	int cut;
	xb_status st = make_clip(c, i, pcm, n, clip, &cut, r->err);

	if (st)
		return st;
	r->cut += (size_t)cut;
	if (r->ds) {
		xb_mfcc_compute_s16(r->mfcc, clip, KWS_CLIP,
				    r->ds->x + row * r->ds->sample_size);
		r->ds->labels[row] = id.cls;
		r->ds->groups[row] = (int32_t)id.voice;
		r->ds->splits[row] = c->voice_split[id.voice];
		if (c->p->keep_sources) {
			char src[256];
			const char *w = clip_word(c, i, id.cls);

			snprintf(src, sizeof src, "%s/p%d/s%d/%s",
				 c->voice_names[id.voice * c->nvariants + id.variant],
				 c->pitch[id.pitch], c->speed[id.speed], w ? w : "(noise)");
			if (xb_dataset_set_source(r->ds, row, src))
				return xb_err_copy(r->err, &r->ds->err);
		}
	}
	r->done++;
	if (c->p->progress && c->p->progress(c->p->progress_ud, r->done, r->nrows))
		return xb_raise(r->err, XB_ESTATE, "keyword corpus: stopped by the caller after "
				"%zu of %zu clips", r->done, r->nrows);
	return XB_OK;
}

static xb_status spoken(void *ud, size_t req, const float *pcm, size_t n)
{
	run *r = ud;

	return finish_row(r, r->req_row[req], pcm, n);
}

/* Fill the espeak request of clip I. */
static void clip_request(const corpus *c, size_t i, kws_utt *u)
{
	clip_id id = clip_decode(c, i);

	u->voice = c->voice_names[id.voice * c->nvariants + id.variant];
	u->text = clip_word(c, i, id.cls);
	u->pitch = c->pitch[id.pitch];
	u->rate_wpm = c->speed[id.speed];
}

xb_status xb_kws_clip(const xb_kws_params *p, size_t index, int16_t *out, int32_t *label,
		      int32_t *group, uint8_t *split, xb_err *err)
{
	corpus c;
	run r;
	size_t zero = 0;
	xb_status st = corpus_init(&c, p, err);

	if (st)
		goto done;
	if (index >= c.total) {
		st = xb_raise(err, XB_ERANGE, "keyword corpus: clip %zu: expected an index below "
			      "%zu", index, c.total);
		goto done;
	}
	memset(&r, 0, sizeof r);
	r.c = &c;
	r.rows = &index;
	r.req_row = &zero;
	r.nrows = 1;
	r.audio = out;
	r.err = err;
	{
		clip_id id = clip_decode(&c, index);
		kws_utt u;
		xb_kws_params q = *p;

		q.progress = NULL;
		c.p = &q;
		if (id.cls == 0) {
			st = finish_row(&r, 0, NULL, 0);
		} else {
			clip_request(&c, index, &u);
			st = kws_speak(&u, 1, 1, KWS_RATE_HZ, spoken, &r, err);
		}
		c.p = p;
		if (!st) {
			if (label)
				*label = id.cls;
			if (group)
				*group = (int32_t)id.voice;
			if (split)
				*split = c.voice_split[id.voice];
		}
	}
done:
	corpus_free(&c);
	return st;
}

char *xb_kws_params_text(const xb_kws_params *p)
{
	const char *fmt =
		"seed = %llu\nvoices = %s\nvariants = %s\npitches = %s\nspeeds_wpm = %s\n"
		"test_voices = %s\nvalid_voices = %s\nunknown_words = %s\n"
		"snr_db = %.17g %.17g\npeak_dbfs = %.17g %.17g\nsilence_dbfs = %.17g %.17g\n"
		"pink_fraction = %.17g\nsplits =%s%s%s\nespeak_ng = %s\nlibsamplerate = %s\n";
	const char *path = NULL;
	const char *ver = espeak_Info(&path);
	int len;
	char *s;

	len = snprintf(NULL, 0, fmt, (unsigned long long)p->seed, p->voices, p->variants,
		       p->pitches, p->speeds_wpm, p->test_voices ? p->test_voices : "",
		       p->valid_voices ? p->valid_voices : "", p->unknown_words, p->snr_min_db,
		       p->snr_max_db, p->peak_min_dbfs, p->peak_max_dbfs, p->silence_min_dbfs,
		       p->silence_max_dbfs, p->pink_fraction,
		       p->splits & 1u ? " train" : "", p->splits & 2u ? " valid" : "",
		       p->splits & 4u ? " test" : "", ver ? ver : "?", src_get_version());
	if (len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (!s)
		return NULL;
	snprintf(s, (size_t)len + 1, fmt, (unsigned long long)p->seed, p->voices, p->variants,
		 p->pitches, p->speeds_wpm, p->test_voices ? p->test_voices : "",
		 p->valid_voices ? p->valid_voices : "", p->unknown_words, p->snr_min_db,
		 p->snr_max_db, p->peak_min_dbfs, p->peak_max_dbfs, p->silence_min_dbfs,
		 p->silence_max_dbfs, p->pink_fraction,
		 p->splits & 1u ? " train" : "", p->splits & 2u ? " valid" : "",
		 p->splits & 4u ? " test" : "", ver ? ver : "?", src_get_version());
	return s;
}

xb_status xb_kws_generate(const xb_kws_params *p, const xb_mfcc_params *mfcc,
			  xb_dataset **out, int16_t **audio, xb_err *err)
{
	corpus c;
	run r;
	kws_utt *reqs = NULL;
	size_t i, nreq = 0, row;
	xb_status st;
	char *text = NULL, feat[256];

	*out = NULL;
	if (audio)
		*audio = NULL;
	memset(&r, 0, sizeof r);
	st = corpus_init(&c, p, err);
	if (st)
		goto fail;
	r.c = &c;
	r.err = err;
	r.rows = malloc(c.total * sizeof *r.rows);
	r.req_row = malloc(c.total * sizeof *r.req_row);
	reqs = malloc(c.total * sizeof *reqs);
	if (!r.rows || !r.req_row || !reqs)
		goto nomem;
	for (i = 0; i < c.total; i++)
		if ((p->splits >> c.voice_split[clip_decode(&c, i).voice]) & 1u)
			r.rows[r.nrows++] = i;
	r.mfcc = xb_mfcc_new(mfcc, err);
	if (!r.mfcc) {
		st = err ? err->code : XB_EINVAL;
		goto fail;
	}
	r.ds = xb_dataset_new(r.nrows, xb_mfcc_frames(r.mfcc), xb_mfcc_coeffs(r.mfcc), 1,
			      XB_KWS_CLASSES, xb_kws_class_names, err);
	if (!r.ds) {
		st = err ? err->code : XB_ENOMEM;
		goto fail;
	}
	if (xb_dataset_set_group_names(r.ds, (int)c.nvoices, (const char *const *)c.voices))
		goto ds_fail;
	if (audio) {
		r.audio = malloc((r.nrows ? r.nrows : 1) * KWS_CLIP * sizeof *r.audio);
		if (!r.audio)
			goto nomem;
	} else {
		r.clip = malloc(KWS_CLIP * sizeof *r.clip);
		if (!r.clip)
			goto nomem;
	}
	/* Silence clips need no speech: make them first, then speak the rest. */
	for (row = 0; row < r.nrows; row++) {
		i = r.rows[row];
		if (clip_decode(&c, i).cls == 0) {
			st = finish_row(&r, row, NULL, 0);
			if (st)
				goto fail;
		} else {
			clip_request(&c, i, &reqs[nreq]);
			r.req_row[nreq++] = row;
		}
	}
	st = kws_speak(reqs, nreq, p->jobs, KWS_RATE_HZ, spoken, &r, err);
	if (st)
		goto fail;
	text = xb_kws_params_text(p);
	if (!text)
		goto nomem;
	snprintf(feat, sizeof feat, "mfcc: %d frames x %d coefficients (xb_data.h)",
		 xb_mfcc_frames(r.mfcc), xb_mfcc_coeffs(r.mfcc));
	if (xb_dataset_set_attr(r.ds, "source", "xbarsim synthetic keyword corpus (espeak-ng)") ||
	    xb_dataset_set_attr(r.ds, "features", feat) ||
	    xb_dataset_set_attr(r.ds, "generator", text))
		goto ds_fail;
	{
		char cut[32];

		snprintf(cut, sizeof cut, "%zu", r.cut);
		if (xb_dataset_set_attr(r.ds, "clips_cut_to_1s", cut))
			goto ds_fail;
	}
	free(text);
	*out = r.ds;
	if (audio)
		*audio = r.audio;
	xb_mfcc_free(r.mfcc);
	free(r.rows);
	free(r.req_row);
	free(r.clip);
	free(reqs);
	corpus_free(&c);
	return XB_OK;
ds_fail:
	st = xb_err_copy(err, &r.ds->err);
	goto fail;
nomem:
	st = xb_raise(err, XB_ENOMEM, "keyword corpus: out of memory");
fail:
	free(text);
	xb_dataset_free(r.ds);
	xb_mfcc_free(r.mfcc);
	free(r.audio);
	free(r.rows);
	free(r.req_row);
	free(r.clip);
	free(reqs);
	corpus_free(&c);
	return st;
}
