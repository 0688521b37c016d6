/* check_config.c - tests of the configuration registry: typed keys, INI files,
 * overrides, presets and every error message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A table shaped like the real modules' tables (names from DESIGN.md §6). */
static const xb_key test_keys[] = {
	{ "adc.bits", XB_KEY_INT, "bits", 1, 16, NULL, "8", "ADC resolution" },
	{ "adc.gain", XB_KEY_DOUBLE, "LSB", 0, 1e3, NULL, "0.002", "gain per unit x*w" },
	{ "integrator.model", XB_KEY_ENUM, "", 0, 0, "ordered|unordered|ideal", "ordered", "model" },
	{ "integrator.tau_us", XB_KEY_DOUBLE, "us", 1e-6, 1e300, NULL, "60", "leak" },
	{ "noise.enable", XB_KEY_BOOL, "", 0, 0, NULL, "true", "noise on/off" },
	{ "trace.file", XB_KEY_STRING, "", 0, 0, NULL, "", "trace file" },
	{ "sweep.levels", XB_KEY_LIST, "LSB", -10, 10, NULL, "1 2.5", "levels" },
};

static char tmpdir[] = "/tmp/xb_check_config_XXXXXX";

static void setup(void)
{
	ck_assert_int_eq(xb_config_register(test_keys, sizeof test_keys / sizeof *test_keys), XB_OK);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_defaults_and_getters)
{
	xb_config *cfg = xb_config_new();
	const double *l;

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 8);
	ck_assert_double_eq(xb_config_double(cfg, "adc.gain"), 0.002);
	ck_assert_int_eq(xb_config_enum(cfg, "integrator.model"), 0);
	ck_assert_str_eq(xb_config_str(cfg, "integrator.model"), "ordered");
	ck_assert_int_eq(xb_config_bool(cfg, "noise.enable"), 1);
	ck_assert_uint_eq(xb_config_list(cfg, "sweep.levels", &l), 2);
	ck_assert_double_eq(l[1], 2.5);
	ck_assert_str_eq(xb_config_origin(cfg, "adc.bits"), "default");
	ck_assert_int_eq(xb_config_is_set(cfg, "adc.bits"), 0);
	/* Registering the same table again is a no-op. */
	ck_assert_int_eq(xb_config_register(test_keys, 2), XB_OK);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_set_and_load)
{
	xb_config *cfg = xb_config_new(), *dup;
	const char *path = write_file("a.ini",
		"; a comment\n[adc]\nbits = 6\ngain = 2.385e-3 ; inline comment\n"
		"[integrator]\nmodel = unordered\n[noise]\nenable = off\n"
		"[sweep]\nbogus = ignored because sweep is skipped\n");

	ck_assert_int_eq(xb_config_load(cfg, path, "sweep"), XB_OK);
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 6);
	ck_assert_double_eq(xb_config_double(cfg, "adc.gain"), 2.385e-3);
	ck_assert_int_eq(xb_config_enum(cfg, "integrator.model"), 1);
	ck_assert_int_eq(xb_config_bool(cfg, "noise.enable"), 0);
	ck_assert_str_eq(xb_config_str(cfg, "noise.enable"), "false");
	{
		char want[300];

		snprintf(want, sizeof want, "%s:3", path);
		ck_assert_str_eq(xb_config_origin(cfg, "adc.bits"), want);
	}
	ck_assert_int_eq(xb_config_set_arg(cfg, "adc.bits=4"), XB_OK);
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 4);
	ck_assert_str_eq(xb_config_origin(cfg, "adc.bits"), "-s");
	ck_assert_int_eq(xb_config_set(cfg, "sweep.levels", "-1, 0.5 3", "t"), XB_OK);
	dup = xb_config_dup(cfg);
	xb_config_free(cfg);
	{
		const double *l;

		ck_assert_uint_eq(xb_config_list(dup, "sweep.levels", &l), 3);
		ck_assert_double_eq(l[0], -1.0);
		ck_assert_double_eq(l[2], 3.0);
	}
	/* The INI text round-trips: load it into a fresh config and compare. */
	{
		char *ini = xb_config_to_ini(dup, 1);
		const char *p2;
		xb_config *again = xb_config_new();

		ck_assert_ptr_nonnull(strstr(ini, "[adc]\nbits = 4"));
		ck_assert_ptr_nonnull(strstr(ini, "; bits, -s"));
		p2 = write_file("b.ini", ini);
		ck_assert_int_eq(xb_config_load(again, p2, NULL), XB_OK);
		ck_assert_int_eq(xb_config_int(again, "adc.bits"), 4);
		ck_assert_double_eq(xb_config_double(again, "adc.gain"), 2.385e-3);
		free(ini);
		xb_config_free(again);
	}
	xb_config_free(dup);
}
END_TEST

START_TEST(test_unknown_key_names_line_and_nearest)
{
	xb_config *cfg = xb_config_new();
	const char *path = write_file("c.ini", "[adc]\nbits = 6\n\n[adc]\nbit = 5\n");
	char want[400];

	ck_assert_int_eq(xb_config_load(cfg, path, NULL), XB_ECONFIG);
	snprintf(want, sizeof want, "%s:5: unknown key 'adc.bit' (did you mean 'adc.bits'?)", path);
	ck_assert_str_eq(xb_config_errmsg(cfg), want);
	/* A failed load leaves the configuration as it was (line 2 not applied). */
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 8);
	/* The right key in the wrong section is suggested by its section-free name. */
	ck_assert_int_eq(xb_config_set(cfg, "adc.tau_us", "3", "-s"), XB_ECONFIG);
	ck_assert_str_eq(xb_config_errmsg(cfg),
			 "-s: unknown key 'adc.tau_us' (did you mean 'integrator.tau_us'?)");
	ck_assert_str_eq(xb_errmsg(NULL), xb_config_errmsg(cfg));
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_bad_values_name_range)
{
	xb_config *cfg = xb_config_new();

	ck_assert_int_eq(xb_config_set(cfg, "adc.bits", "17", "f.ini:2"), XB_ECONFIG);
	ck_assert_str_eq(xb_config_errmsg(cfg),
			 "f.ini:2: adc.bits = '17': expected an integer in [1, 16] (bits)");
	ck_assert_int_eq(xb_config_set(cfg, "adc.bits", "6.5", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "adc.bits", "", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "adc.gain", "nan", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "adc.gain", "-1", "x"), XB_ECONFIG);
	ck_assert_str_eq(xb_config_errmsg(cfg),
			 "x: adc.gain = '-1': expected a number in [0, 1000] (LSB)");
	ck_assert_int_eq(xb_config_set(cfg, "integrator.model", "sorted", "x"), XB_ECONFIG);
	ck_assert_str_eq(xb_config_errmsg(cfg),
			 "x: integrator.model = 'sorted': expected one of ordered|unordered|ideal");
	ck_assert_int_eq(xb_config_set(cfg, "noise.enable", "maybe", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "sweep.levels", "1 x", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set(cfg, "sweep.levels", "1 11", "x"), XB_ECONFIG);
	ck_assert_int_eq(xb_config_set_arg(cfg, "adc.bits"), XB_ECONFIG);
	ck_assert_str_eq(xb_config_errmsg(cfg),
			 "-s adc.bits: expected section.key=value (e.g. -s adc.bits=6)");
	ck_assert_int_eq(xb_config_set_arg(cfg, "=3"), XB_ECONFIG);
	/* Nothing above changed a value. */
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 8);
	ck_assert_double_eq(xb_config_double(cfg, "adc.gain"), 0.002);
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_file_errors)
{
	xb_config *cfg = xb_config_new();
	char want[400];
	const char *path;

	ck_assert_int_eq(xb_config_load(cfg, "/nonexistent/x.ini", NULL), XB_ENOENT);
	ck_assert_str_eq(xb_config_errmsg(cfg), "/nonexistent/x.ini: configuration file not found");
	ck_assert_int_eq(xb_config_load(cfg, tmpdir, NULL), XB_EIO);
	path = write_file("syntax.ini", "[adc]\nbits = 6\nthis line has no equals sign\n");
	ck_assert_int_eq(xb_config_load(cfg, path, NULL), XB_ECONFIG);
	snprintf(want, sizeof want, "%s:3: syntax error", path);
	ck_assert_ptr_nonnull(strstr(xb_config_errmsg(cfg), want));
	{
		/* inih's line buffer holds 198 characters plus the newline: a longer line
		 * is an error naming it, not a silently split value. */
		char longtext[400] = "[adc]\n; fine\nbits = 6";
		char want2[300];

		memset(longtext + strlen(longtext), ' ', 250);
		longtext[strlen("[adc]\n; fine\nbits = 6") + 250] = '\0';
		strcat(longtext, "\n");
		path = write_file("long.ini", longtext);
		ck_assert_int_eq(xb_config_load(cfg, path, NULL), XB_ECONFIG);
		snprintf(want2, sizeof want2, "%s:3: line too long (at most 198 characters)", path);
		ck_assert_str_eq(xb_config_errmsg(cfg), want2);
	}
	path = write_file("nosection.ini", "bits = 6\n");
	ck_assert_int_eq(xb_config_load(cfg, path, NULL), XB_ECONFIG);
	ck_assert_ptr_nonnull(strstr(xb_config_errmsg(cfg), ":1: key 'bits' outside any [section]"));
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_presets)
{
	xb_config *cfg = xb_config_new();
	char path[1200];
	char *list;

	write_file("mine.ini", "[adc]\nbits = 5\n");
	setenv("XBARSIM_PRESETS", tmpdir, 1);
	ck_assert_int_eq(xb_config_load_preset(cfg, "mine"), XB_OK);
	ck_assert_int_eq(xb_config_int(cfg, "adc.bits"), 5);
	ck_assert_str_eq(xb_config_origin(cfg, "adc.bits"), "preset mine, line 2");
	ck_assert_int_eq(xb_config_preset_path("mine", path, sizeof path), XB_OK);
	list = xb_config_preset_list();
	ck_assert_ptr_nonnull(strstr(list, "mine\n"));
	free(list);
	ck_assert_int_eq(xb_config_load_preset(cfg, "no-such-preset"), XB_ENOENT);
	ck_assert_ptr_nonnull(strstr(xb_config_errmsg(cfg), "preset 'no-such-preset' not found"));
	ck_assert_int_eq(xb_config_load_preset(cfg, "../etc/passwd"), XB_ENOENT);
	unsetenv("XBARSIM_PRESETS");
	xb_config_free(cfg);
}
END_TEST

START_TEST(test_duplicate_registration)
{
	static const xb_key clash[] = {
		{ "adc.bits", XB_KEY_INT, "", 0, 1, NULL, "0", "clash" },
	};
	ck_assert_int_eq(xb_config_register(clash, 1), XB_EINTERNAL);
	ck_assert_str_eq(xb_errmsg(NULL), "configuration key 'adc.bits' registered twice");
	ck_assert_ptr_null(xb_config_key("adc.nope"));
	ck_assert_str_eq(xb_config_nearest("adc.bitz")->name, "adc.bits");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, NULL);
	tcase_add_checked_fixture(limits, setup, NULL);
	tcase_add_test(core, test_defaults_and_getters);
	tcase_add_test(core, test_set_and_load);
	tcase_add_test(core, test_presets);
	tcase_add_test(limits, test_unknown_key_names_line_and_nearest);
	tcase_add_test(limits, test_bad_values_name_range);
	tcase_add_test(limits, test_file_errors);
	tcase_add_test(limits, test_duplicate_registration);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!mkdtemp(tmpdir))
		return EXIT_FAILURE;
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[300];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
