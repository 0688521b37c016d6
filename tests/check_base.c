/* check_base.c - tests of the base layer: status codes, error slots, time and units,
 * progress reporting.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_raise_on_handle_and_tls)
{
	xb_err e = { 0 };

	xb_err_clear(NULL);
	ck_assert_int_eq(xb_raise(&e, XB_ECONFIG, "key %s at line %d", "adc.bits", 12), XB_ECONFIG);
	ck_assert_str_eq(e.msg, "key adc.bits at line 12");
	/* The thread-local slot is untouched by a raise on a handle. */
	ck_assert_str_eq(xb_errmsg(NULL), "");
	ck_assert_int_eq(xb_raise(NULL, XB_EIO, "disk %d", 3), XB_EIO);
	ck_assert_str_eq(xb_errmsg(NULL), "disk 3");
	ck_assert_int_eq(xb_err_context(&e, "file %s", "a.ini"), XB_ECONFIG);
	ck_assert_str_eq(xb_errmsg(&e), "file a.ini: key adc.bits at line 12");
	xb_err_copy(NULL, &e);
	ck_assert_str_eq(xb_errmsg(NULL), "file a.ini: key adc.bits at line 12");
	xb_err_clear(&e);
	ck_assert_int_eq(e.code, XB_OK);
	ck_assert_str_eq(e.msg, "");
}
END_TEST

START_TEST(test_strerror_all_codes)
{
	/* Every code has its own description (none falls through to the default). */
	for (int c = XB_OK; c <= XB_EINTERNAL; c++) {
		ck_assert_str_ne(xb_strerror((xb_status)c), "unknown status");
		for (int d = XB_OK; d < c; d++)
			ck_assert_str_ne(xb_strerror((xb_status)c), xb_strerror((xb_status)d));
	}
	ck_assert_str_eq(xb_strerror((xb_status)99), "unknown status");
}
END_TEST

START_TEST(test_time_units)
{
	/* 125 MHz -> 8 ns = 8000 ps exactly; 5 cycles -> 40 ns. */
	ck_assert_uint_eq(xb_cycle_ps(125.0), 8000);
	ck_assert_uint_eq(xb_cycles_to_ps(5, 125.0), 40000);
	/* 300 MHz -> 3333.33 ps, rounded to 3333; sums of cycles stay multiples of it. */
	ck_assert_uint_eq(xb_cycle_ps(300.0), 3333);
	ck_assert_uint_eq(xb_cycles_to_ps(3000, 300.0), 3333 * 3000);
	ck_assert_uint_eq(xb_us_to_ps(60.0), 60000000);
	ck_assert_uint_eq(xb_ns_to_ps(2.3854), 2385);  /* 2385.4 ps rounds down */
	ck_assert_uint_eq(xb_ns_to_ps(-1.0), 0);
	ck_assert_uint_eq(xb_cycle_ps(0.0), 0);
	ck_assert_double_eq_tol(xb_ps_to_us(xb_us_to_ps(5.0)), 5.0, 1e-12);
	ck_assert_double_eq_tol(xb_ps_to_ns(40000), 40.0, 1e-12);
	/* Huge times saturate instead of wrapping. */
	ck_assert_uint_eq(xb_ns_to_ps(1e30), XB_TIME_MAX);
}
END_TEST

START_TEST(test_progress_plain)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	xb_progress p;

	ck_assert_ptr_nonnull(f);
	xb_progress_init(&p, f, XB_PROGRESS_PLAIN, "run", "samples");
	/* 250 updates of 1000 units: one line per percent step reached, 0..100 -> 26
	 * distinct percents (0, 4, 8, ..., 100) since each update adds 4%. */
	for (uint64_t d = 0; d <= 1000; d += 40)
		xb_progress_update(&p, d, 1000);
	xb_progress_done(&p);
	fclose(f);
	{
		int lines = 0;

		for (char *c = buf; *c; c++)
			lines += *c == '\n';
		ck_assert_int_eq(lines, 26);
	}
	ck_assert_ptr_nonnull(strstr(buf, "run: 100% 1000/1000 samples"));
	free(buf);
}
END_TEST

START_TEST(test_progress_bar_and_none)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	xb_progress p;

	xb_progress_init(&p, f, XB_PROGRESS_BAR, "train", "epochs");
	xb_progress_update(&p, 3, 10);
	xb_progress_update(&p, 10, 10);
	xb_progress_done(&p);
	fflush(f);
	ck_assert_ptr_nonnull(strstr(buf, "ETA"));
	ck_assert_ptr_nonnull(strstr(buf, "100% 10/10"));
	ck_assert_int_eq(buf[len - 1], '\n');
	fclose(f);
	free(buf);
	/* A non-terminal stream in auto mode prints nothing. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	xb_progress_init(&p, f, XB_PROGRESS_AUTO, "x", "y");
	xb_progress_update(&p, 5, 10);
	xb_progress_done(&p);
	fclose(f);
	ck_assert_uint_eq(len, 0);
	free(buf);
	ck_assert_int_eq(xb_progress_parse("plain"), XB_PROGRESS_PLAIN);
	ck_assert_int_eq(xb_progress_parse("bogus"), -1);
}
END_TEST

static Suite *base_suite(void)
{
	Suite *s = suite_create("base");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_raise_on_handle_and_tls);
	tcase_add_test(core, test_time_units);
	tcase_add_test(core, test_progress_plain);
	tcase_add_test(limits, test_strerror_all_codes);
	tcase_add_test(limits, test_progress_bar_and_none);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(base_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
