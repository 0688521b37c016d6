/* check_kws.c - tests of the synthetic keyword-spotting corpus of workloads/.
 * Determinism (same seed, same bytes, in any order), layout, levels, and the error paths.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_data.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLIP 16000

/* A small corpus: 2 voices x 1 variant x 1 pitch x 1 speed x 12 classes = 24 clips,
 * en-gb held out for test: clips 12..23. */
static xb_kws_params small_params(void)
{
	xb_kws_params p = xb_kws_default_params();

	p.voices = "en-us en-gb";
	p.variants = "f2";
	p.pitches = "50";
	p.speeds_wpm = "160";
	p.test_voices = "en-gb";
	p.valid_voices = "";
	p.seed = 2385;
	return p;
}

static double rms_dbfs(const int16_t *x, size_t n)
{
	double s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (x[i] / 32768.0) * (x[i] / 32768.0);
	return 10.0 * log10(s / n);
}

START_TEST(test_counts_and_defaults)
{
	xb_kws_params p = xb_kws_default_params();
	size_t total, sel;
	xb_err err;

	/* 8 voices x 16 variants x 3 pitches x 2 speeds x 12 classes = 9216 clips; the test
	 * voices are 2 of 8: 2304. */
	ck_assert_int_eq(xb_kws_count(&p, &total, &sel, &err), XB_OK);
	ck_assert_uint_eq(total, 9216);
	ck_assert_uint_eq(sel, 9216);
	p.splits = 1u << XB_SPLIT_TEST;
	ck_assert_int_eq(xb_kws_count(&p, &total, &sel, &err), XB_OK);
	ck_assert_uint_eq(sel, 2304);
	p.splits = 1u << XB_SPLIT_VALID;
	ck_assert_int_eq(xb_kws_count(&p, &total, &sel, &err), XB_OK);
	ck_assert_uint_eq(sel, 1152);
	ck_assert_str_eq(xb_kws_class_names[0], "silence");
	ck_assert_str_eq(xb_kws_class_names[11], "go");
	{
		char *text = xb_kws_params_text(&p);

		ck_assert_ptr_nonnull(strstr(text, "test_voices = en-gb-scotland en-us-nyc\n"));
		ck_assert_ptr_nonnull(strstr(text, "splits = valid\n"));
		free(text);
	}
}
END_TEST

/* Same seed -> same bytes; the clip does not depend on what else was made or in which
 * order; another seed changes it. */
START_TEST(test_determinism)
{
	/* Static buffers: nothing of the test's own on the heap while children fork. */
	static int16_t a[CLIP], b[CLIP];
	xb_kws_params p = small_params();
	int16_t *audio = NULL;
	xb_dataset *ds = NULL;
	int32_t label, group;
	uint8_t split;
	xb_err err;

	/* Clip 14 = voice 1 (en-gb), class 14 % 12 = 2 ("yes"), test split. */
	ck_assert_int_eq(xb_kws_clip(&p, 14, a, &label, &group, &split, &err), XB_OK);
	ck_assert_int_eq(label, 2);
	ck_assert_int_eq(group, 1);
	ck_assert_int_eq(split, XB_SPLIT_TEST);
	ck_assert_int_eq(xb_kws_clip(&p, 3, b, NULL, NULL, NULL, &err), XB_OK);   /* other state */
	ck_assert_int_eq(xb_kws_clip(&p, 14, b, NULL, NULL, NULL, &err), XB_OK);
	ck_assert_mem_eq(a, b, CLIP * sizeof *a);
	/* Inside a generated test split (12 clips, two processes at once): row 2. */
	p.splits = 1u << XB_SPLIT_TEST;
	p.jobs = 2;
	ck_assert_int_eq(xb_kws_generate(&p, NULL, &ds, &audio, &err), XB_OK);
	ck_assert_uint_eq(xb_dataset_count(ds), 12);
	ck_assert_mem_eq(audio + 2 * CLIP, a, CLIP * sizeof *a);
	xb_dataset_free(ds);
	free(audio);
	/* Another seed: other noise, placement and level. */
	p.seed = 2386;
	ck_assert_int_eq(xb_kws_clip(&p, 14, b, NULL, NULL, NULL, &err), XB_OK);
	ck_assert(memcmp(a, b, CLIP * sizeof *a) != 0);
}
END_TEST

static int calls;

static int count_progress(void *ud, uint64_t done, uint64_t total)
{
	(void)ud;
	calls++;
	ck_assert_uint_le(done, total);
	return 0;
}

START_TEST(test_generate_layout)
{
	xb_kws_params p = small_params();
	xb_dataset *ds;
	int16_t *audio;
	xb_mfcc *m;
	float f[490];
	xb_err err;
	size_t i;
	int h, w, c;

	p.progress = count_progress;
	calls = 0;
	ck_assert_int_eq(xb_kws_generate(&p, NULL, &ds, &audio, &err), XB_OK);
	ck_assert_int_eq(calls, 24);
	ck_assert_uint_eq(xb_dataset_count(ds), 24);
	xb_dataset_shape(ds, &h, &w, &c);
	ck_assert_int_eq(h * 100 + w * 10 + c, 49 * 100 + 10 * 10 + 1);
	ck_assert_int_eq(xb_dataset_nclasses(ds), 12);
	ck_assert_str_eq(xb_dataset_group_name(ds, 1), "en-gb");
	m = xb_mfcc_new(NULL, &err);
	for (i = 0; i < 24; i++) {
		const int16_t *x = audio + i * CLIP;

		/* Clip order: class = i % 12, voice = i / 12. */
		ck_assert_int_eq(xb_dataset_labels(ds)[i], (int)(i % 12));
		ck_assert_int_eq(xb_dataset_groups(ds)[i], (int)(i / 12));
		ck_assert_int_eq(xb_dataset_splits(ds)[i], i < 12 ? XB_SPLIT_TRAIN : XB_SPLIT_TEST);
		/* Features are the MFCC of the clip. */
		xb_mfcc_compute_s16(m, x, CLIP, f);
		ck_assert_mem_eq(xb_dataset_features(ds) + i * 490, f, sizeof f);
		if (i % 12 == 0) {
			/* Silence: noise only at an RMS level drawn in [-50, -15] dBFS (the s16
			 * rounding moves it by far less than 0.1 dB). */
			double l = rms_dbfs(x, CLIP);

			ck_assert_double_ge(l, -50.1);
			ck_assert_double_le(l, -14.9);
			ck_assert_str_eq(strrchr(xb_dataset_source(ds, i), '/'), "/(noise)");
		} else {
			/* Speech: the peak was set in [-24, -1] dBFS; noise at >= 5 dB SNR below
			 * the speech power cannot lift the clip's peak above full scale. */
			int peak = 0;
			size_t k;

			for (k = 0; k < CLIP; k++)
				peak = abs(x[k]) > peak ? abs(x[k]) : peak;
			ck_assert_int_gt(peak, (int)(32768 * pow(10.0, -24.0 / 20.0) * 0.5));
			ck_assert_int_lt(peak, 32767);
		}
	}
	ck_assert_str_eq(xb_dataset_source(ds, 14), "en-gb+f2/p50/s160/yes");
	ck_assert_ptr_nonnull(strstr(xb_dataset_attr(ds, "generator"), "seed = 2385\n"));
	ck_assert_ptr_nonnull(xb_dataset_attr(ds, "features"));
	xb_mfcc_free(m);
	xb_dataset_free(ds);
	free(audio);
}
END_TEST

static int stop_at_3(void *ud, uint64_t done, uint64_t total)
{
	(void)ud;
	(void)total;
	return done >= 3;
}

START_TEST(test_errors)
{
	xb_kws_params p;
	xb_dataset *ds = NULL;
	int16_t clip[CLIP];
	xb_err err;

	p = small_params();
	p.voices = "en-us xx-nowhere";
	p.test_voices = "";
	ck_assert_int_eq(xb_kws_generate(&p, NULL, &ds, NULL, &err), XB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "voice 'xx-nowhere+f2' not found"));
	ck_assert_ptr_null(ds);
	p = small_params();
	p.variants = "f2 nosuchvariant";
	ck_assert_int_eq(xb_kws_clip(&p, 13, clip, NULL, NULL, NULL, &err), XB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "en-us+nosuchvariant"));
	p = small_params();
	p.pitches = "50 120";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "pitch '120': expected an integer in [0, 99]"));
	p = small_params();
	p.speeds_wpm = "fast";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	p.test_voices = "en-029";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "test voice 'en-029' is not among the voices"));
	p = small_params();
	p.valid_voices = "en-gb";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "both a test and a validation voice"));
	p = small_params();
	p.voices = "en-us en-us";
	p.test_voices = "";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "listed twice"));
	p = small_params();
	p.variants = " ";
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	p.splits = 0;
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	p.snr_min_db = 40.0;
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	p.peak_max_dbfs = 3.0;
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	p.voices = NULL;
	ck_assert_int_eq(xb_kws_count(&p, NULL, NULL, &err), XB_EINVAL);
	p = small_params();
	ck_assert_int_eq(xb_kws_clip(&p, 24, clip, NULL, NULL, NULL, &err), XB_ERANGE);
	/* A progress callback stops the work. */
	p.progress = stop_at_3;
	ck_assert_int_eq(xb_kws_generate(&p, NULL, &ds, NULL, &err), XB_ESTATE);
	ck_assert_ptr_nonnull(strstr(err.msg, "stopped by the caller after 3 of 24 clips"));
	ck_assert_ptr_null(ds);
	/* Bad MFCC parameters. */
	{
		xb_mfcc_params mp = xb_mfcc_default_params();

		mp.coeffs = 0;
		p = small_params();
		ck_assert_int_eq(xb_kws_generate(&p, &mp, &ds, NULL, &err), XB_EINVAL);
	}
}
END_TEST

static Suite *kws_suite(void)
{
	Suite *s = suite_create("kws");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_counts_and_defaults);
	tcase_add_test(core, test_determinism);
	tcase_add_test(core, test_generate_layout);
	tcase_add_test(limits, test_errors);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(kws_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
