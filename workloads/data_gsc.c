/* data_gsc.c - the Google Speech Commands v0.02 directory layout as a 12-class MFCC data set.
 * Word folders of 16 kHz mono WAV files, the validation and testing lists, background noise.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GSC_RATE_HZ 16000
#define GSC_CLIP 16000
#define GSC_NOISE_DIR "_background_noise_"

xb_gsc_params xb_gsc_default_params(void)
{
	xb_gsc_params p;

	memset(&p, 0, sizeof p);
	p.seed = 1;
	p.unknown_fraction = 0.1;
	p.silence_fraction = 0.1;
	return p;
}

/* One clip of the corpus. */
typedef struct gsc_entry {
	char *rel;          /* "word/file.wav" */
	int cls;            /* class index (1 = unknown) */
	int split;
	int speaker;        /* index into the sorted speaker names */
	int keep;           /* selected for the output */
	uint64_t order;     /* random key for choosing unknown clips */
} gsc_entry;

typedef struct gsc {
	const char *dir;
	gsc_entry *e;
	size_t n, cap;
	char **valid, **test;         /* sorted list entries */
	size_t nvalid, ntest;
	char **speakers;
	size_t nspeakers;
	xb_wav *noise;                /* background noise clips */
	char **noise_names;
	size_t nnoise;
	xb_err *err;
} gsc;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry_order(const void *a, const void *b)
{
	const gsc_entry *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static int cmp_entry_rel(const void *a, const void *b)
{
	return strcmp(((const gsc_entry *)a)->rel, ((const gsc_entry *)b)->rel);
}

static void free_list(char **s, size_t n)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static void gsc_free(gsc *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->e[i].rel);
	free(g->e);
	free_list(g->valid, g->nvalid);
	free_list(g->test, g->ntest);
	free_list(g->speakers, g->nspeakers);
	for (i = 0; i < g->nnoise; i++)
		xb_wav_reset(&g->noise[i]);
	free(g->noise);
	free_list(g->noise_names, g->nnoise);
}

/* Sorted names of the entries of directory PATH: subdirectories if DIRS, else files
 * ending in ".wav".  Hidden names are skipped. */
static xb_status list_dir(const char *path, int dirs, char ***out, size_t *n, xb_err *err)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t cap = 0, count = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return xb_raise(err, errno == ENOENT ? XB_ENOENT : XB_EIO, "%s: cannot open the "
				"directory: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		char full[4096];
		struct stat st;
		size_t len = strlen(de->d_name);
		int is_dir;

		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof full, "%s/%s", path, de->d_name);
		if (stat(full, &st) != 0)
			continue;
		is_dir = S_ISDIR(st.st_mode);
		if (dirs ? !is_dir : (is_dir || len < 4 || strcmp(de->d_name + len - 4, ".wav")))
			continue;
		if (count == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *nn);

			if (!nn)
				goto nomem;
			names = nn;
		}
		if (!(names[count] = strdup(de->d_name)))
			goto nomem;
		count++;
	}
	closedir(d);
	if (count)
		qsort(names, count, sizeof *names, cmp_str);
	*out = names;
	*n = count;
	return XB_OK;
nomem:
	closedir(d);
	free_list(names, count);
	return xb_raise(err, XB_ENOMEM, "%s: out of memory listing the directory", path);
}

/* Read list file NAME of DIR (one relative path per line) sorted into *OUT. */
static xb_status read_list(const char *dir, const char *name, char ***out, size_t *n,
			   xb_err *err)
{
	char path[4096];
	unsigned char *buf;
	size_t len, i, count = 0, start = 0;
	char **lines;
	xb_status st;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	st = data_slurp(path, &buf, &len, err);
	if (st) {
		if (st == XB_ENOENT)
			xb_raise(err, XB_ENOENT, "%s: missing: a Speech Commands directory holds "
				 "validation_list.txt and testing_list.txt next to the word folders",
				 path);
		return st;
	}
	for (i = 0; i < len; i++)
		count += buf[i] == '\n';
	lines = calloc(count + 1, sizeof *lines);
	if (!lines) {
		free(buf);
		return xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
	}
	count = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		{
			size_t end = i;

			while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == ' '))
				end--;
			if (end > start) {
				lines[count] = strndup((const char *)buf + start, end - start);
				if (!lines[count]) {
					free_list(lines, count);
					free(buf);
					return xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
				}
				count++;
			}
		}
		start = i + 1;
	}
	free(buf);
	qsort(lines, count, sizeof *lines, cmp_str);
	*out = lines;
	*n = count;
	return XB_OK;
}

static int in_sorted(char **list, size_t n, const char *s)
{
	return n && bsearch(&s, list, n, sizeof *list, cmp_str) != NULL;
}

/* Class of word folder NAME: 2.. for keywords, 1 for any other word. */
static int word_class(const char *name)
{
	int k;

	for (k = 2; k < XB_KWS_CLASSES; k++)
		if (!strcmp(name, xb_kws_class_names[k]))
			return k;
	return 1;
}

/* The speaker of file NAME: the part before "_nohash_" (or before ".wav"). */
static size_t speaker_len(const char *name)
{
	const char *p = strstr(name, "_nohash_");

	return p ? (size_t)(p - name) : strlen(name) - 4;
}

static xb_status scan(gsc *g, xb_err *err)
{
	char **words = NULL, **files = NULL, **spk = NULL;
	size_t nwords, nfiles, w, f, i, nspk = 0;
	xb_status st;

	st = list_dir(g->dir, 1, &words, &nwords, err);
	if (st)
		return st;
	for (w = 0; w < nwords && !st; w++) {
		char sub[4096];

		if (words[w][0] == '_')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", g->dir, words[w]);
		st = list_dir(sub, 0, &files, &nfiles, err);
		for (f = 0; !st && f < nfiles; f++) {
			gsc_entry *e;
			size_t len = strlen(words[w]) + strlen(files[f]) + 2;

			if (g->n == g->cap) {
				gsc_entry *ne = realloc(g->e, (g->cap = g->cap ? 2 * g->cap : 1024) *
							sizeof *ne);

				if (!ne) {
					st = xb_raise(err, XB_ENOMEM, "%s: out of memory", g->dir);
					break;
				}
				g->e = ne;
			}
			e = &g->e[g->n];
			memset(e, 0, sizeof *e);
			e->rel = malloc(len);
			if (!e->rel) {
				st = xb_raise(err, XB_ENOMEM, "%s: out of memory", g->dir);
				break;
			}
			g->n++;
			snprintf(e->rel, len, "%s/%s", words[w], files[f]);
			e->cls = word_class(words[w]);
			e->split = in_sorted(g->test, g->ntest, e->rel) ? XB_SPLIT_TEST
				   : in_sorted(g->valid, g->nvalid, e->rel) ? XB_SPLIT_VALID
				   : XB_SPLIT_TRAIN;
		}
		free_list(files, nfiles);
		files = NULL;
	}
	free_list(words, nwords);
	if (st)
		return st;
	/* Path order (bsearch below relies on it). */
	if (g->n)
		qsort(g->e, g->n, sizeof *g->e, cmp_entry_rel);
	/* Speakers: sorted unique names. */
	spk = malloc((g->n ? g->n : 1) * sizeof *spk);
	if (!spk)
		return xb_raise(err, XB_ENOMEM, "%s: out of memory", g->dir);
	for (i = 0; i < g->n; i++) {
		const char *name = strchr(g->e[i].rel, '/') + 1;

		spk[i] = strndup(name, speaker_len(name));
		if (!spk[i]) {
			free_list(spk, i);
			return xb_raise(err, XB_ENOMEM, "%s: out of memory", g->dir);
		}
	}
	qsort(spk, g->n, sizeof *spk, cmp_str);
	for (i = 0; i < g->n; i++) {
		if (nspk && !strcmp(spk[nspk - 1], spk[i])) {
			free(spk[i]);
			continue;
		}
		spk[nspk++] = spk[i];
	}
	g->speakers = spk;
	g->nspeakers = nspk;
	for (i = 0; i < g->n; i++) {
		const char *name = strchr(g->e[i].rel, '/') + 1;
		char *key = strndup(name, speaker_len(name)), **hit;

		if (!key)
			return xb_raise(err, XB_ENOMEM, "%s: out of memory", g->dir);
		hit = bsearch(&key, spk, nspk, sizeof *spk, cmp_str);
		g->e[i].speaker = (int)(hit - spk);
		free(key);
	}
	return XB_OK;
}

static xb_status read_noise(gsc *g, xb_err *err)
{
	char nd[4096];
	size_t i;
	xb_status st;

	snprintf(nd, sizeof nd, "%s/%s", g->dir, GSC_NOISE_DIR);
	st = list_dir(nd, 0, &g->noise_names, &g->nnoise, err);
	if (st == XB_ENOENT) {
		xb_err_clear(err);
		return XB_OK;     /* no background noise: silence is zeros */
	}
	if (st)
		return st;
	g->noise = calloc(g->nnoise ? g->nnoise : 1, sizeof *g->noise);
	if (!g->noise)
		return xb_raise(err, XB_ENOMEM, "%s: out of memory", nd);
	for (i = 0; i < g->nnoise; i++) {
		char path[8192];

		snprintf(path, sizeof path, "%s/%s", nd, g->noise_names[i]);
		st = xb_wav_read(path, &g->noise[i], err);
		if (st)
			return st;
		if (g->noise[i].rate_hz != GSC_RATE_HZ || g->noise[i].channels != 1)
			return xb_raise(err, XB_EFORMAT, "%s: %d Hz, %d channels: expected 16000 Hz "
					"mono", path, g->noise[i].rate_hz, g->noise[i].channels);
		if (g->noise[i].frames < GSC_CLIP)
			return xb_raise(err, XB_EFORMAT, "%s: %zu samples: expected at least 1 s of "
					"noise", path, g->noise[i].frames);
	}
	return XB_OK;
}

xb_dataset *xb_data_load_gsc(const char *dir, int split, const xb_gsc_params *params,
			     const xb_mfcc_params *mfcc, xb_err *err)
{
	xb_gsc_params def = xb_gsc_default_params();
	const xb_gsc_params *p = params ? params : &def;
	gsc g;
	xb_mfcc *m = NULL;
	xb_dataset *ds = NULL;
	size_t nsil[3] = { 0, 0, 0 }, total = 0, row = 0, done = 0, i;
	int s, j;
	int16_t *clip = NULL;
	xb_status st;

	memset(&g, 0, sizeof g);
	g.dir = dir;
	if (!dir || split < XB_SPLIT_ALL || split > XB_SPLIT_TEST ||
	    !(p->silence_fraction >= 0.0) || isnan(p->unknown_fraction)) {
		xb_raise(err, XB_EINVAL, "Speech Commands loader: expected a directory, a split "
			 "and silence_fraction >= 0");
		return NULL;
	}
	st = read_list(dir, "validation_list.txt", &g.valid, &g.nvalid, err);
	if (!st)
		st = read_list(dir, "testing_list.txt", &g.test, &g.ntest, err);
	if (!st)
		st = scan(&g, err);
	if (!st)
		st = read_noise(&g, err);
	if (st)
		goto fail;
	/* Choose unknown clips per split: the unknown_fraction * keywords with the
	 * smallest random keys, kept in path order. */
	for (s = XB_SPLIT_TRAIN; s <= XB_SPLIT_TEST; s++) {
		size_t nkw = 0, nunk = 0, want, k;
		gsc_entry **unk;

		if (split != XB_SPLIT_ALL && split != s)
			continue;
		for (i = 0; i < g.n; i++)
			if (g.e[i].split == s) {
				if (g.e[i].cls >= 2) {
					g.e[i].keep = 1;
					nkw++;
				} else {
					nunk++;
				}
			}
		want = p->unknown_fraction < 0 ? nunk : (size_t)ceil(p->unknown_fraction * nkw);
		if (want > nunk)
			want = nunk;
		unk = malloc((nunk ? nunk : 1) * sizeof *unk);
		if (!unk) {
			xb_raise(err, XB_ENOMEM, "%s: out of memory", dir);
			goto fail;
		}
		k = 0;
		for (i = 0; i < g.n; i++)
			if (g.e[i].split == s && g.e[i].cls == 1) {
				g.e[i].order = data_rng_below(p->seed, i, DATA_RNG_GSC_PICK, 0,
							      UINT64_MAX);
				unk[k++] = &g.e[i];
			}
		{
			/* Sort copies by key, mark the first WANT. */
			gsc_entry *tmp = malloc((nunk ? nunk : 1) * sizeof *tmp);

			if (!tmp) {
				free(unk);
				xb_raise(err, XB_ENOMEM, "%s: out of memory", dir);
				goto fail;
			}
			for (k = 0; k < nunk; k++)
				tmp[k] = *unk[k];
			qsort(tmp, nunk, sizeof *tmp, cmp_entry_order);
			for (k = 0; k < want; k++) {
				gsc_entry *hit = bsearch(&tmp[k], g.e, g.n, sizeof *g.e, cmp_entry_rel);

				if (hit)
					hit->keep = 1;
			}
			free(tmp);
		}
		free(unk);
		nsil[s] = (size_t)ceil(p->silence_fraction * nkw);
		total += nsil[s];
	}
	for (i = 0; i < g.n; i++)
		total += (size_t)g.e[i].keep;
	m = xb_mfcc_new(mfcc, err);
	if (!m)
		goto fail;
	if (xb_mfcc_params_of(m)->rate_hz != GSC_RATE_HZ) {
		xb_raise(err, XB_EINVAL, "Speech Commands loader: MFCC rate %d Hz: the corpus is "
			 "16000 Hz", xb_mfcc_params_of(m)->rate_hz);
		goto fail;
	}
	ds = xb_dataset_new(total, xb_mfcc_frames(m), xb_mfcc_coeffs(m), 1, XB_KWS_CLASSES,
			    xb_kws_class_names, err);
	clip = malloc(GSC_CLIP * sizeof *clip);
	if (!ds || !clip) {
		if (ds)
			xb_raise(err, XB_ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	if (xb_dataset_set_group_names(ds, (int)g.nspeakers, (const char *const *)g.speakers))
		goto ds_fail;
	for (s = XB_SPLIT_TRAIN; s <= XB_SPLIT_TEST; s++) {
		if (split != XB_SPLIT_ALL && split != s)
			continue;
		for (i = 0; i < g.n; i++) {
			char path[4096];
			xb_wav wav;

			if (!g.e[i].keep || g.e[i].split != s)
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, g.e[i].rel);
			if (xb_wav_read(path, &wav, err))
				goto fail;
			if (wav.rate_hz != GSC_RATE_HZ || wav.channels != 1) {
				xb_raise(err, XB_EFORMAT, "%s: %d Hz, %d channels: expected 16000 Hz "
					 "mono", path, wav.rate_hz, wav.channels);
				xb_wav_reset(&wav);
				goto fail;
			}
			xb_mfcc_compute_s16(m, wav.samples, wav.frames, ds->x + row * ds->sample_size);
			xb_wav_reset(&wav);
			ds->labels[row] = g.e[i].cls;
			ds->groups[row] = g.e[i].speaker;
			ds->splits[row] = (uint8_t)s;
			if (xb_dataset_set_source(ds, row, g.e[i].rel))
				goto ds_fail;
			row++;
			if (p->progress && p->progress(p->progress_ud, ++done, total)) {
				xb_raise(err, XB_ESTATE, "%s: stopped by the caller", dir);
				goto fail;
			}
		}
		for (j = 0; j < (int)nsil[s]; j++) {
			uint64_t item = (uint64_t)s << 32 | (uint32_t)j;
			char src[512];

			memset(clip, 0, GSC_CLIP * sizeof *clip);
			if (g.nnoise) {
				size_t f = data_rng_below(p->seed, item, DATA_RNG_GSC_SILENCE, 0, g.nnoise);
				size_t off = data_rng_below(p->seed, item, DATA_RNG_GSC_SILENCE, 1,
							    g.noise[f].frames - GSC_CLIP + 1);
				double gain = data_rng_u01(p->seed, item, DATA_RNG_GSC_SILENCE, 2);
				size_t k;

				for (k = 0; k < GSC_CLIP; k++)
					clip[k] = (int16_t)lrint(gain * g.noise[f].samples[off + k]);
				snprintf(src, sizeof src, "%s/%s@%zu*%.4f", GSC_NOISE_DIR,
					 g.noise_names[f], off, gain);
			} else {
				snprintf(src, sizeof src, "(zeros)");
			}
			xb_mfcc_compute_s16(m, clip, GSC_CLIP, ds->x + row * ds->sample_size);
			ds->labels[row] = 0;
			ds->groups[row] = -1;
			ds->splits[row] = (uint8_t)s;
			if (xb_dataset_set_source(ds, row, src))
				goto ds_fail;
			row++;
			if (p->progress && p->progress(p->progress_ud, ++done, total)) {
				xb_raise(err, XB_ESTATE, "%s: stopped by the caller", dir);
				goto fail;
			}
		}
	}
	xb_dataset_set_attr(ds, "source", "Google Speech Commands (directory layout)");
	{
		char feat[128];

		snprintf(feat, sizeof feat, "mfcc: %d frames x %d coefficients (xb_data.h)",
			 xb_mfcc_frames(m), xb_mfcc_coeffs(m));
		xb_dataset_set_attr(ds, "features", feat);
	}
	free(clip);
	xb_mfcc_free(m);
	gsc_free(&g);
	return ds;
ds_fail:
	xb_err_copy(err, &ds->err);
fail:
	free(clip);
	xb_mfcc_free(m);
	xb_dataset_free(ds);
	gsc_free(&g);
	return NULL;
}
