/* check_sweep.c - tests of the sweep module: parsing, grid/zip/random expansion, seeds, every sweep-file error, failed points, the output table and resuming after a crash.
 * Uses a synthetic metric provider defined here, and the tile provider of sim/xb_metrics.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_sweep.h"
#include "xb_metrics.h"
#include "xb_devices.h"
#include "xb_traces.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Keys of the synthetic provider, and the run keys the sweep derives seeds for (the
 * command registers the latter in sim/keys.c, not linked here). */
static const xb_key test_keys[] = {
	{ "run.seed", XB_KEY_INT, "", 0, 9007199254740991.0, NULL, "1", "seed" },
	{ "run.samples", XB_KEY_INT, "samples", 0, 1e12, NULL, "0", "samples" },
	{ "run.preset", XB_KEY_STRING, "", 0, 0, NULL, "hx", "preset" },
	{ "test.x", XB_KEY_DOUBLE, "V", -10, 10, NULL, "1", "a real" },
	{ "test.y", XB_KEY_DOUBLE, "us", 1e-3, 1e6, NULL, "60", "a positive real" },
	{ "test.n", XB_KEY_INT, "", 0, 100, NULL, "3", "an integer" },
	{ "test.mode", XB_KEY_ENUM, "", 0, 0, "fast|slow|broken", "fast", "an enum" },
	{ "test.name", XB_KEY_STRING, "", 0, 0, NULL, "", "a string" },
	{ "test.levels", XB_KEY_LIST, "", 0, 10, NULL, "1 2", "a list" },
};

/* ---- the synthetic provider ------------------------------------------------------- */

static unsigned long evals;          /* evaluations made (all providers) */
static unsigned long kill_after;     /* raise SIGKILL at this evaluation (0: never) */
static int fail_init;                /* make synth's init fail */

typedef struct synth_state {
	size_t vec_width;
} synth_state;

static const xb_sweep_metric synth_metrics[] = {
	{ "synth_value", "V", 1, "x * n, + 100 when slow" },
	{ "synth_noise", "", 1, "(run.seed mod 1000) / 1000" },
	{ "synth_vec", "1", 0, "[x, n, point]" },
};

static xb_status synth_init(void *state, const xb_config *base, xb_err *err)
{
	synth_state *s = state;

	if (fail_init)
		return xb_raise(err, XB_ENOENT, "synthetic data set not found");
	s->vec_width = 3 + 0 * (size_t)xb_config_int(base, "test.n");
	return XB_OK;
}

static size_t synth_width(const void *state, size_t m)
{
	const synth_state *s = state;

	return m == 2 ? s->vec_width : 1;
}

static xb_status synth_eval(void *state, const xb_config *cfg, const xb_sweep_job *job,
			    double *out, xb_err *err)
{
	double x = xb_config_double(cfg, "test.x");
	long n = xb_config_int(cfg, "test.n");
	int mode = xb_config_enum(cfg, "test.mode");

	(void)state;
	evals++;
	if (kill_after && evals == kill_after)
		raise(SIGKILL);
	if (mode == 2)
		return xb_raise(err, XB_ECONFIG, "test.mode = broken: refused by the synthetic provider");
	if (x < 0 && n == 0)
		return xb_raise(err, XB_ECONFIG, "test.x < 0 with test.n = 0: refused");
	if (job->want[0])
		out[job->offset[0]] = x * (double)n + (mode == 1 ? 100 : 0);
	if (job->want[1])
		out[job->offset[1]] = (double)(xb_config_int(cfg, "run.seed") % 1000) / 1000.0;
	if (job->want[2]) {
		out[job->offset[2]] = x;
		out[job->offset[2] + 1] = (double)n;
		out[job->offset[2] + 2] = (double)job->point;
	}
	return XB_OK;
}

static double synth_cost(const void *state, const xb_config *cfg)
{
	(void)state;
	return (double)xb_config_int(cfg, "test.n");
}

static const xb_sweep_provider synth = {
	.name = "synth", .help = "synthetic metrics of the test keys",
	.metrics = synth_metrics, .nmetrics = 3, .state_size = sizeof(synth_state),
	.init = synth_init, .width = synth_width, .eval = synth_eval, .cost = synth_cost,
	.cost_unit = "units",
};

static const xb_sweep_metric other_metrics[] = {
	{ "other_count", "1", 1, "evaluations so far" },
};

static xb_status other_eval(void *state, const xb_config *cfg, const xb_sweep_job *job,
			    double *out, xb_err *err)
{
	(void)state;
	(void)cfg;
	(void)err;
	evals++;
	out[job->offset[0]] = 2.385;
	return XB_OK;
}

static const xb_sweep_provider other = {
	.name = "other", .help = "a second provider without cost estimate",
	.metrics = other_metrics, .nmetrics = 1, .eval = other_eval,
};

/* A provider offering a metric that synth offers too (a registry defect). */
static const xb_sweep_provider clash = {
	.name = "clash", .help = "offers synth_value again",
	.metrics = synth_metrics, .nmetrics = 1, .eval = other_eval,
};

static const xb_sweep_provider *const providers[] = { &synth, &other, &xb_metrics_tile };
static const xb_sweep_options options = { providers, 3, NULL, NULL, 0 };

/* ---- fixtures ------------------------------------------------------------------------- */

static char tmpdir[] = "/tmp/xb_check_sweep_XXXXXX";

static const char *tmp_path(const char *name)
{
	static char path[64][512];     /* enough for every path one test keeps */
	static int k;

	k = (k + 1) % 64;
	snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
	return path[k];
}

static const char *write_file(const char *name, const char *text)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(xb_config_register(test_keys, sizeof test_keys / sizeof *test_keys), XB_OK);
	xb_devices_register_keys();
	/* The presets of the tests. */
	write_file("hx.ini", "[test]\nname = from-hx\n");
	write_file("other.ini", "[test]\nname = from-other\ny = 7\n");
	setenv("XBARSIM_PRESETS", tmpdir, 1);
	evals = 0;
	kill_after = 0;
	fail_init = 0;
}

static void teardown(void)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX");
}

static xb_sweep *load_text(const char *text)
{
	xb_err err = { 0 };
	xb_sweep *sw = xb_sweep_load(write_file("s.ini", text), &options, &err);

	ck_assert_msg(sw != NULL, "load failed: %s", err.msg);
	return sw;
}

/* Load TEXT expecting failure CODE with a message containing every NEEDLE given. */
static void expect_error(const char *text, xb_status code, const char *n1, const char *n2,
			 const char *n3)
{
	xb_err err = { 0 };
	xb_sweep *sw = xb_sweep_load(write_file("s.ini", text), &options, &err);

	ck_assert_msg(sw == NULL, "expected an error for:\n%s", text);
	ck_assert_msg(err.code == code, "code %d (%s) for:\n%s", err.code, err.msg, text);
	if (n1)
		ck_assert_msg(strstr(err.msg, n1), "'%s' not in '%s'", n1, err.msg);
	if (n2)
		ck_assert_msg(strstr(err.msg, n2), "'%s' not in '%s'", n2, err.msg);
	if (n3)
		ck_assert_msg(strstr(err.msg, n3), "'%s' not in '%s'", n3, err.msg);
	/* Nothing was evaluated. */
	ck_assert_uint_eq(evals, 0);
}

static double value(const xb_sweep *sw, uint64_t p, size_t a)
{
	double v;

	xb_sweep_value(sw, p, a, &v, NULL);
	return v;
}

static const char *word(const xb_sweep *sw, uint64_t p, size_t a)
{
	const char *t;

	xb_sweep_value(sw, p, a, NULL, &t);
	return t;
}

static xb_status run_to(xb_sweep *sw, const char *out, int resume, xb_sweep_summary *sum)
{
	xb_sweep_run_opts o = { out, resume, "check_sweep", NULL, NULL };

	return xb_sweep_run(sw, &o, sum);
}

/* Every dataset of /points in two files holds the same values (NaN == NaN). */
static void assert_same_table(const char *a, const char *b)
{
	xb_h5r *ra = xb_h5r_open(a, NULL), *rb = xb_h5r_open(b, NULL);
	char **na, **nb;
	size_t ka, kb;

	ck_assert_ptr_nonnull(ra);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(xb_h5r_list(ra, "/points", &na, &ka), XB_OK);
	ck_assert_int_eq(xb_h5r_list(rb, "/points", &nb, &kb), XB_OK);
	ck_assert_uint_eq(ka, kb);
	for (size_t i = 0; i < ka; i++) {
		char path[300];
		xb_h5_info ia, ib;
		void *da, *db;
		int64_t dims[XB_H5_MAXRANK];

		ck_assert_str_eq(na[i], nb[i]);
		snprintf(path, sizeof path, "/points/%s", na[i]);
		ck_assert_int_eq(xb_h5r_info(ra, path, &ia), XB_OK);
		ck_assert_int_eq(xb_h5r_info(rb, path, &ib), XB_OK);
		ck_assert_int_eq(ia.type, ib.type);
		ck_assert_int_eq(ia.rank, ib.rank);
		ck_assert_int_eq(ia.nelems, ib.nelems);
		ck_assert_int_eq(xb_h5r_read(ra, path, ia.type, -1, NULL, 0, &da, dims), XB_OK);
		ck_assert_int_eq(xb_h5r_read(rb, path, ib.type, -1, NULL, 0, &db, dims), XB_OK);
		if (ia.type == XB_H5_STRING) {
			for (int64_t k = 0; k < ia.nelems; k++)
				ck_assert_str_eq(((char **)da)[k], ((char **)db)[k]);
		} else {
			ck_assert_msg(memcmp(da, db, (size_t)ia.nelems * xb_h5_type_size(ia.type)) == 0,
				      "%s differs", path);
		}
		free(da);
		free(db);
	}
	free(na);
	free(nb);
	xb_h5r_free(ra);
	xb_h5r_free(rb);
}

static int8_t *read_status(const char *path, size_t n)
{
	xb_h5r *r = xb_h5r_open(path, NULL);
	int64_t dims[1] = { (int64_t)n };
	void *st = NULL;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(xb_h5r_read(r, "/points/status", XB_H5_INT8, 1, dims, 0, &st, NULL), XB_OK);
	xb_h5r_free(r);
	return st;
}

/* ---- core --------------------------------------------------------------------------- */

START_TEST(test_grid_order)
{
	xb_sweep *sw = load_text("; a grid of 3 x 2 x 3 points\n"
				 "[sweep]\n"
				 "metrics = synth_value\n"
				 "test.n = 1 2 3\n"
				 "test.mode = fast slow   ; inline comment\n"
				 "test.x: 0:1:0.5\n");

	ck_assert_int_eq(xb_sweep_get_mode(sw), XB_SWEEP_GRID);
	/* 3 x 2 x 3 = 18, first axis slowest. */
	ck_assert_uint_eq(xb_sweep_npoints(sw), 18);
	ck_assert_uint_eq(xb_sweep_naxes(sw), 3);
	ck_assert_str_eq(xb_sweep_axis_key(sw, 1), "test.mode");
	ck_assert_int_eq(xb_sweep_axis_numeric(sw, 0), 1);
	ck_assert_int_eq(xb_sweep_axis_numeric(sw, 1), 0);
	/* Point 7 = n index 7 / 6 = 1 (n = 2), mode (7 / 3) % 2 = 0 (fast), x index 1 (0.5). */
	ck_assert_double_eq(value(sw, 7, 0), 2);
	ck_assert_str_eq(word(sw, 7, 1), "fast");
	ck_assert_double_eq(value(sw, 7, 2), 0.5);
	/* Point 17: the last of everything. */
	ck_assert_double_eq(value(sw, 17, 0), 3);
	ck_assert_str_eq(word(sw, 17, 1), "slow");
	ck_assert_double_eq(value(sw, 17, 2), 1);
	ck_assert_str_eq(word(sw, 3, 1), "slow");
	ck_assert_double_eq(value(sw, 3, 2), 0);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_ranges_zip_log)
{
	xb_sweep *sw = load_text("[sweep]\nmode = zip\nmetrics = synth_value\n"
				 "test.y = log:1:100:3\n"
				 "test.n = 4 5 6\n"
				 "test.name = \"a b\" c \"\"\n");
	double v;

	ck_assert_uint_eq(xb_sweep_npoints(sw), 3);
	/* Endpoints exact; the middle is 10 = sqrt(1 * 100) up to rounding of exp/log. */
	ck_assert_double_eq(value(sw, 0, 0), 1);
	ck_assert_double_eq_tol(value(sw, 1, 0), 10, 1e-12);
	ck_assert_double_eq(value(sw, 2, 0), 100);
	ck_assert_double_eq(value(sw, 2, 1), 6);
	ck_assert_str_eq(word(sw, 0, 2), "a b");
	ck_assert_str_eq(word(sw, 2, 2), "");
	xb_sweep_free(sw);

	/* 0:1:0.1 has 11 values, the last exactly 1 (1 - 10 * 0.1 is not 0 in binary);
	 * 0:0.3:0.1 has 4, the last 0.3 and not 0.30000000000000004. */
	sw = load_text("[sweep]\nmetrics = synth_value\ntest.x = 0:1:0.1\ntest.y = 0.1:0.3:0.1\n");
	ck_assert_uint_eq(xb_sweep_npoints(sw), 11 * 3);
	ck_assert_double_eq(value(sw, 10 * 3, 0), 1.0);
	ck_assert_double_eq(value(sw, 2, 1), 0.3);
	v = value(sw, 3 * 3, 0);
	ck_assert_double_eq(v, 3 * 0.1);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_random)
{
	const char *fmt = "[sweep]\nmode = random\npoints = %d\nseed = %d\nmetrics = synth_value\n"
			  "test.x = -2:2\ntest.n = 0:10\ntest.y = log:1:1000\n"
			  "test.mode = fast slow\ntest.name = a b c d\n";
	char text[512];
	xb_sweep *a, *b, *c;
	int seen_n[11] = { 0 }, slow = 0, below10 = 0;

	snprintf(text, sizeof text, fmt, 200, 7);
	a = load_text(text);
	ck_assert_uint_eq(xb_sweep_npoints(a), 200);
	for (uint64_t p = 0; p < 200; p++) {
		double x = value(a, p, 0), n = value(a, p, 1), y = value(a, p, 2);

		ck_assert(x >= -2 && x <= 2);
		ck_assert(n >= 0 && n <= 10 && n == floor(n));
		ck_assert(y >= 1 && y <= 1000);
		seen_n[(int)n]++;
		slow += !strcmp(word(a, p, 3), "slow");
		below10 += y < 10;
	}
	/* Every integer of 0:10 drawn (each has probability 1/11 per point); about half
	 * slow; log-uniform: a third of the draws below 10 (log 10 / log 1000). */
	for (int i = 0; i <= 10; i++)
		ck_assert_int_gt(seen_n[i], 0);
	ck_assert(slow > 70 && slow < 130);
	ck_assert(below10 > 40 && below10 < 95);
	/* Point i does not depend on the number of points; another seed moves it. */
	snprintf(text, sizeof text, fmt, 10, 7);
	b = load_text(text);
	snprintf(text, sizeof text, fmt, 10, 8);
	c = load_text(text);
	for (uint64_t p = 0; p < 10; p++)
		for (size_t ax = 0; ax < 3; ax++)
			ck_assert(value(a, p, ax) == value(b, p, ax));
	ck_assert(value(a, 0, 0) != value(c, 0, 0));
	xb_sweep_free(a);
	xb_sweep_free(b);
	xb_sweep_free(c);

	/* A range with a step picks among its values. */
	a = load_text("[sweep]\nmode = random\npoints = 40\nmetrics = synth_value\n"
		      "test.x = 0:1:0.25\n");
	for (uint64_t p = 0; p < 40; p++)
		ck_assert(fmod(value(a, p, 0) * 4, 1) == 0);
	xb_sweep_free(a);
}
END_TEST

START_TEST(test_configs_and_seeds)
{
	xb_config *c00, *c01, *c10, *c10b;
	xb_err err = { 0 };
	xb_sweep *sw;

	write_file("base.ini", "[run]\npreset = other\n[test]\nx = 1.5\nmode = slow\n");
	sw = load_text("[sweep]\nbase = base.ini\nrepeats = 3\nseed = 11\n"
		       "metrics = synth_value\ntest.n = 1 2\n"
		       "[test]\nx = 2.385\n");
	c00 = xb_sweep_point_config(sw, 0, 0, &err);
	c01 = xb_sweep_point_config(sw, 0, 1, &err);
	c10 = xb_sweep_point_config(sw, 1, 0, &err);
	c10b = xb_sweep_point_config(sw, 1, 0, &err);
	ck_assert_ptr_nonnull(c00);
	/* Layers: preset other (from the base's run.preset) < base < sweep sections < axis. */
	ck_assert_str_eq(xb_config_str(c00, "test.name"), "from-other");
	ck_assert_double_eq(xb_config_double(c00, "test.y"), 7);
	ck_assert_str_eq(xb_config_str(c00, "test.mode"), "slow");
	ck_assert_double_eq(xb_config_double(c00, "test.x"), 2.385);
	ck_assert_int_eq(xb_config_int(c00, "test.n"), 1);
	ck_assert_int_eq(xb_config_int(c10, "test.n"), 2);
	ck_assert_ptr_nonnull(strstr(xb_config_origin(c10, "test.n"), "s.ini:6"));
	/* Seeds: per point and repeat, reproducible, in the keys' ranges. */
	ck_assert_int_ne(xb_config_int(c00, "run.seed"), xb_config_int(c01, "run.seed"));
	ck_assert_int_ne(xb_config_int(c00, "run.seed"), xb_config_int(c10, "run.seed"));
	ck_assert_int_ne(xb_config_int(c00, "chip.seed"), xb_config_int(c00, "run.seed"));
	ck_assert_int_eq(xb_config_int(c10, "run.seed"), xb_config_int(c10b, "run.seed"));
	ck_assert_int_eq(xb_config_int(c10, "chip.seed"), xb_config_int(c10b, "chip.seed"));
	ck_assert_str_eq(xb_config_origin(c10, "chip.seed"), "sweep seed");
	ck_assert_ptr_null(xb_sweep_point_config(sw, 2, 0, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	xb_config_free(c00);
	xb_config_free(c01);
	xb_config_free(c10);
	xb_config_free(c10b);
	xb_sweep_free(sw);

	/* seeds = common: every point sees the seeds of point 0; a swept seed is kept. */
	sw = load_text("[sweep]\nseeds = common\nrepeats = 2\nmetrics = synth_value\n"
		       "test.n = 1 2\nchip.seed = 5 6\n");
	c00 = xb_sweep_point_config(sw, 0, 0, &err);
	c01 = xb_sweep_point_config(sw, 0, 1, &err);
	c10 = xb_sweep_point_config(sw, 2, 0, &err);
	ck_assert_int_eq(xb_config_int(c00, "run.seed"), xb_config_int(c10, "run.seed"));
	ck_assert_int_ne(xb_config_int(c00, "run.seed"), xb_config_int(c01, "run.seed"));
	ck_assert_int_eq(xb_config_int(c00, "chip.seed"), 5);
	ck_assert_int_eq(xb_config_int(c01, "chip.seed"), 5);
	ck_assert_int_eq(xb_config_int(c10, "chip.seed"), 5);
	ck_assert_str_eq(xb_config_str(c00, "test.name"), "from-hx");
	ck_assert_str_eq(xb_sweep_seeds_name(sw), "common");
	xb_config_free(c00);
	xb_config_free(c01);
	xb_config_free(c10);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_eval_and_failed_points)
{
	xb_sweep *sw = load_text("[sweep]\nrepeats = 2\nmetrics = synth_vec synth_value "
				 "synth_noise other_count\n"
				 "test.x = -1 2.5\ntest.n = 0 4\ntest.mode = fast broken\n");
	double mean[6], std[6];
	char msg[XB_ERRMSG_MAX];
	int status;

	/* synth_vec is 3 wide: 3 + 1 + 1 + 1 values. */
	ck_assert_uint_eq(xb_sweep_nvalues(sw), 6);
	ck_assert_uint_eq(xb_sweep_metric_width(sw, 0), 3);
	ck_assert_str_eq(xb_sweep_metric_unit(sw, 2), "1");
	/* Point 6 = (x 2.5, n 4, fast): value 2.5 * 4 = 10 in both repeats, std 0. */
	ck_assert_int_eq(xb_sweep_eval_point(sw, 6, &status, mean, std, msg), XB_OK);
	ck_assert_int_eq(status, XB_SWEEP_DONE);
	ck_assert_str_eq(msg, "");
	ck_assert_double_eq(mean[0], 2.5);
	ck_assert_double_eq(mean[1], 4);
	ck_assert_double_eq(mean[2], 6);
	ck_assert_double_eq(mean[3], 10);
	ck_assert_double_eq(std[3], 0);
	ck_assert_double_eq(mean[5], 2.385);
	/* The noise metric: two different seeds -> a mean in [0, 1) and a std > 0. */
	ck_assert(mean[4] >= 0 && mean[4] < 1 && std[4] > 0);
	ck_assert_uint_eq(evals, 4);
	/* Point 1 = (x -1, n 0, broken): refused by the provider, in repeat 0. */
	ck_assert_int_eq(xb_sweep_eval_point(sw, 1, &status, mean, std, msg), XB_OK);
	ck_assert_int_eq(status, XB_SWEEP_FAILED);
	ck_assert_ptr_nonnull(strstr(msg, "repeat 0: test.mode = broken"));
	ck_assert(isnan(mean[0]) && isnan(std[3]));
	/* Point 0 = (x -1, n 0, fast): a combination refused. */
	ck_assert_int_eq(xb_sweep_eval_point(sw, 0, &status, mean, std, msg), XB_OK);
	ck_assert_int_eq(status, XB_SWEEP_FAILED);
	ck_assert_ptr_nonnull(strstr(msg, "test.n = 0"));
	xb_sweep_free(sw);
}
END_TEST

static const char table_sweep[] =
	"[sweep]\nrepeats = 2\nmetrics = synth_value synth_vec synth_noise\n"
	"test.x = -1 2.5 3\ntest.n = 0 4\ntest.mode = fast slow broken\n"
	"[test]\nname = fixed\n";

START_TEST(test_run_table)
{
	xb_sweep *sw = load_text(table_sweep);
	const char *out = tmp_path("t.h5");
	xb_sweep_summary sum;
	xb_h5r *r;
	double *v;
	char **msg, *text;
	int8_t *st;
	int64_t dims[2];
	void *data;

	ck_assert_int_eq(run_to(sw, out, 0, &sum), XB_OK);
	/* 3 x 2 x 3 = 18 points; failed: the 6 broken ones and (x -1, n 0) in fast and slow. */
	ck_assert_uint_eq(sum.points, 18);
	ck_assert_uint_eq(sum.computed, 18);
	ck_assert_uint_eq(sum.failed, 8);
	ck_assert_uint_eq(sum.pending, 0);
	ck_assert_uint_eq(sum.done_before, 0);
	r = xb_h5r_open(out, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(xb_h5r_schema(r, NULL, XB_SWEEP_SCHEMA, 1, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_schema(r, "/points", XB_SWEEP_SCHEMA, 1, NULL), XB_OK);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/", "sweep_file", &text), XB_OK);
	ck_assert_str_eq(text, table_sweep);
	free(text);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/", "config", &text), XB_OK);
	ck_assert_ptr_nonnull(strstr(text, "name = fixed"));
	free(text);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/points/synth_value", "unit", &text), XB_OK);
	ck_assert_str_eq(text, "V");
	free(text);
	ck_assert_int_eq(xb_h5r_attr_str(r, "/points/test.x", "unit", &text), XB_OK);
	ck_assert_str_eq(text, "V");
	free(text);
	/* Axis values in row order: x is the slowest axis (6 rows each). */
	ck_assert_int_eq(xb_h5r_read(r, "/points/test.x", XB_H5_FLOAT64, 1, NULL, 0, &data, dims),
			 XB_OK);
	v = data;
	ck_assert_int_eq(dims[0], 18);
	ck_assert_double_eq(v[5], -1);
	ck_assert_double_eq(v[6], 2.5);
	free(data);
	ck_assert_int_eq(xb_h5r_read(r, "/points/test.mode", XB_H5_STRING, 1, NULL, 0, &data, NULL),
			 XB_OK);
	ck_assert_str_eq(((char **)data)[4], "slow");
	free(data);
	/* Row 10 = (x 2.5, n 4, slow): 2.5 * 4 + 100. */
	ck_assert_int_eq(xb_h5r_read(r, "/points/synth_value", XB_H5_FLOAT64, 1, NULL, 0, &data,
				     NULL), XB_OK);
	v = data;
	ck_assert_double_eq(v[10], 110);
	ck_assert(isnan(v[2]));
	free(data);
	ck_assert_int_eq(xb_h5r_read(r, "/points/synth_vec", XB_H5_FLOAT64, 2, NULL, 0, &data,
				     dims), XB_OK);
	ck_assert_int_eq(dims[1], 3);
	ck_assert_double_eq(((double *)data)[10 * 3 + 2], 10);
	free(data);
	ck_assert_int_eq(xb_h5r_exists(r, "/points/synth_noise_std"), 1);
	ck_assert_int_eq(xb_h5r_read(r, "/points/message", XB_H5_STRING, 1, NULL, 0, &data, NULL),
			 XB_OK);
	msg = data;
	ck_assert_str_eq(msg[10], "");
	ck_assert_ptr_nonnull(strstr(msg[2], "broken"));
	free(data);
	xb_h5r_free(r);
	st = read_status(out, 18);
	ck_assert_int_eq(st[0], XB_SWEEP_FAILED);
	ck_assert_int_eq(st[10], XB_SWEEP_DONE);
	ck_assert_int_eq(st[17], XB_SWEEP_FAILED);
	free(st);

	/* An existing output is not overwritten without --resume; with it, nothing is left. */
	ck_assert_int_eq(run_to(sw, out, 0, &sum), XB_EIO);
	ck_assert_ptr_nonnull(strstr(xb_sweep_errmsg(sw), "--resume"));
	evals = 0;
	ck_assert_int_eq(run_to(sw, out, 1, &sum), XB_OK);
	ck_assert_uint_eq(evals, 0);
	ck_assert_uint_eq(sum.done_before, 18);
	ck_assert_uint_eq(sum.computed, 0);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_resume_after_kill)
{
	xb_sweep *sw = load_text(table_sweep);
	const char *part = tmp_path("part.h5"), *full = tmp_path("full.h5");
	xb_sweep_summary sum;
	int8_t *st;
	int wst, done = 0;
	pid_t pid;

	/* The uninterrupted run. */
	ck_assert_int_eq(run_to(sw, full, 0, &sum), XB_OK);
	/* A run killed by SIGKILL in its 13th evaluation: points are evaluated in
	 * decreasing cost (test.n), two evaluations each, and a point that fails
	 * in repeat 0 takes one, so some points are written and some are not. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		evals = 0;
		kill_after = 13;
		run_to(sw, part, 0, &sum);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
	ck_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
	st = read_status(part, 18);
	for (int i = 0; i < 18; i++)
		done += st[i] != XB_SWEEP_PENDING;
	free(st);
	ck_assert_int_gt(done, 0);
	ck_assert_int_lt(done, 18);
	/* Resume: only the missing points are evaluated, and the table equals the full one. */
	evals = 0;
	ck_assert_int_eq(run_to(sw, part, 1, &sum), XB_OK);
	ck_assert_uint_eq(sum.done_before, (uint64_t)done);
	ck_assert_uint_eq(sum.computed, 18 - (uint64_t)done);
	ck_assert_uint_le(evals, 2 * (18 - (unsigned long)done));
	assert_same_table(part, full);
	xb_sweep_free(sw);
}
END_TEST

static int stop_after_3(void *ud, uint64_t done, uint64_t total)
{
	(void)ud;
	(void)total;
	return done >= 3;
}

START_TEST(test_stop_and_resume_serial)
{
	xb_sweep *sw = load_text("[sweep]\nmetrics = synth_value other_count\n"
				 "test.x = 0:2:0.5\ntest.n = 1 2\n");
	const char *out = tmp_path("stop.h5"), *full = tmp_path("stopfull.h5");
	xb_sweep_run_opts o = { out, 0, NULL, stop_after_3, NULL };
	xb_sweep_summary sum;

	ck_assert_int_eq(xb_sweep_run(sw, &o, &sum), XB_OK);
	/* 5 x 2 = 10 points; the callback stops the run after 3. */
	ck_assert_uint_eq(sum.computed, 3);
	ck_assert_uint_eq(sum.pending, 7);
	evals = 0;
	ck_assert_int_eq(run_to(sw, out, 1, &sum), XB_OK);
	ck_assert_uint_eq(sum.computed, 7);
	/* 7 points x 2 providers. */
	ck_assert_uint_eq(evals, 14);
	ck_assert_int_eq(run_to(sw, full, 1, &sum), XB_OK);   /* --resume on no file starts it */
	ck_assert_uint_eq(sum.computed, 10);
	assert_same_table(out, full);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_list)
{
	xb_sweep *sw = load_text("[sweep]\nrepeats = 2\nmetrics = synth_value synth_vec\n"
				 "test.n = 1 10\ntest.name = plain \"with space\"\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	double ev, cost;
	const char *unit;

	ck_assert_int_eq(xb_sweep_list(sw, f), XB_OK);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "mode grid, 4 points x 2 repeats"));
	ck_assert_ptr_nonnull(strstr(buf, "synth_vec [1]x3"));
	/* Cost: test.n over the points (1 + 1 + 10 + 10) x 2 repeats = 44 units. */
	ck_assert_ptr_nonnull(strstr(buf, "8 evaluations, about 44 units"));
	ck_assert_ptr_nonnull(strstr(buf, "point  test.n     test.name\n"));
	ck_assert_ptr_nonnull(strstr(buf, "    3      10  \"with space\"\n"));
	free(buf);
	xb_sweep_estimate(sw, &ev, &cost, &unit);
	ck_assert_double_eq(ev, 8);
	ck_assert_double_eq(cost, 44);
	ck_assert_str_eq(unit, "units");
	xb_sweep_free(sw);
	/* A provider without an estimate: no cost. */
	sw = load_text("[sweep]\nmetrics = other_count\ntest.n = 1 10\n");
	xb_sweep_estimate(sw, &ev, &cost, &unit);
	ck_assert(isnan(cost));
	ck_assert_ptr_null(unit);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_tile_provider)
{
	xb_sweep *sw = load_text("[sweep]\nmetrics = mvm_rmse_lsb mvm_bias_lsb mvm_saturation_rate "
				 "mvm_events_per_mvm mvm_energy_pj mvm_latency_ns\n"
				 "adc.bits = 4 8\nnoise.read_lsb = 0 2\n"
				 "[tile]\nrows = 32\ncols = 16\n[run]\nsamples = 64\n"
				 "[adc]\nmin = -128\n");
	double m00[6], m01[6], m11[6], again[6], sd[6];
	char msg[XB_ERRMSG_MAX];
	int status;

	/* adc.bits = 4 cannot hold the codes from the pinned adc.min = -128: the point
	 * fails, naming the key. */
	ck_assert_int_eq(xb_sweep_eval_point(sw, 0, &status, m00, sd, msg), XB_OK);
	ck_assert_int_eq(status, XB_SWEEP_FAILED);
	ck_assert_ptr_nonnull(strstr(msg, "adc.bits"));
	ck_assert_int_eq(xb_sweep_eval_point(sw, 2, &status, m01, sd, msg), XB_OK);
	ck_assert_msg(status == XB_SWEEP_DONE, "%s", msg);
	ck_assert_int_eq(xb_sweep_eval_point(sw, 3, &status, m11, sd, msg), XB_OK);
	ck_assert_int_eq(status, XB_SWEEP_DONE);
	/* Without read noise the error is the floor's quantisation, below 1 LSB in RMS
	 * (hx: no fixed-pattern noise, 16 signed rows far from saturation); read noise
	 * of 2 LSB adds about 2 LSB in quadrature. */
	ck_assert(m01[0] > 0.2 && m01[0] < 1.0);
	ck_assert(m11[0] > 1.5 && m11[0] < 3.0);
	ck_assert(m01[1] < 0);             /* floor rounds down: negative bias */
	ck_assert_double_eq(m01[2], 0);    /* nothing clipped */
	/* 16 signed rows, each input 0 with probability 1/32: about 15.5 events. */
	ck_assert(m01[3] > 14 && m01[3] <= 16);
	ck_assert(m01[4] > 0 && m01[5] > 0);
	/* Deterministic: the same point gives the same bits. */
	ck_assert_int_eq(xb_sweep_eval_point(sw, 3, &status, again, sd, msg), XB_OK);
	ck_assert(memcmp(again, m11, sizeof again) == 0);
	xb_sweep_free(sw);
}
END_TEST

/* ---- limits: every error of a sweep file, before any work ----------------------------- */

START_TEST(test_errors_keys_and_values)
{
	expect_error("[sweep]\nmetrics = synth_value\ntest.nn = 1 2\n", XB_ECONFIG, "s.ini:3",
		     "'test.nn'", "did you mean 'test.n'");
	expect_error("[sweep]\nmetrics = synth_value\ntest.n = 1 2 500\n", XB_ECONFIG, "s.ini:3",
		     "test.n = '500'", "[0, 100]");
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 1 abc\n", XB_ECONFIG, "s.ini:3",
		     "'abc' is not a number", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.n = 0:4:0.5\n", XB_ECONFIG, "s.ini:3",
		     "test.n = '0.5'", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 4:1:1\n", XB_ECONFIG, "s.ini:3",
		     "test.x", "empty range");
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 0:1:0\n", XB_ECONFIG, "s.ini:3",
		     "step must be > 0", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 0:1:2:3\n", XB_ECONFIG, "s.ini:3",
		     "expected a range", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = :1:2\n", XB_ECONFIG, "s.ini:3",
		     "expected a range", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 1 0:1:0.5\n", XB_ECONFIG, "s.ini:3",
		     "only value", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.y = log:0:10:3\n", XB_ECONFIG,
		     "s.ini:3", "positive", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.y = log:1:10:2.5\n", XB_ECONFIG,
		     "s.ini:3", "count", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.y = log:1:1e7:2\n", XB_ECONFIG,
		     "s.ini:3", "test.y = '10000000'", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.x = 0:1\n", XB_ECONFIG, "s.ini:3",
		     "only allowed in random mode", NULL);
	expect_error("[sweep]\nmode = random\npoints = 3\nmetrics = synth_value\ntest.n = 0.2:0.8\n",
		     XB_ECONFIG, "s.ini:5", "no integer", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.mode = fast sloow\n", XB_ECONFIG,
		     "s.ini:3", "test.mode = 'sloow'", "fast|slow|broken");
	expect_error("[sweep]\nmetrics = synth_value\ntest.levels = 1 2\n", XB_ECONFIG, "s.ini:3",
		     "list keys cannot be swept", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.name = \"a b\n", XB_ECONFIG, "s.ini:3",
		     "unterminated", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.name =\n", XB_ECONFIG, "s.ini:3",
		     "no values", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.n = 1\ntest.x = 1\ntest.n = 2\n",
		     XB_ECONFIG, "s.ini:5", "swept twice (first on line 3)", NULL);
	expect_error("[sweep]\nmetrics = synth_value\ntest.n = 1 2\n[test]\nn = 4\n", XB_ECONFIG,
		     "s.ini:3", "fixed on line 5", NULL);
	expect_error("[sweep]\nmode = zip\nmetrics = synth_value\ntest.n = 1 2 3\ntest.x = 1 2\n",
		     XB_ECONFIG, "test.n has 3 values", "test.x has 2", "s.ini:5");
}
END_TEST

START_TEST(test_errors_settings)
{
	expect_error("[sweep]\nmdoe = grid\n", XB_ECONFIG, "s.ini:2", "unknown setting",
		     "did you mean 'mode'");
	expect_error("[sweep]\nmode = spiral\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2",
		     "grid, zip or random", NULL);
	expect_error("[sweep]\nmode = grid\nmode = zip\n", XB_ECONFIG, "s.ini:3", "set twice", NULL);
	expect_error("[sweep]\npoints = 3\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2",
		     "only random mode", NULL);
	expect_error("[sweep]\nmode = random\nmetrics = synth_value\ntest.n = 1 2\n", XB_ECONFIG,
		     "needs points", NULL, NULL);
	expect_error("[sweep]\nmode = random\npoints = 0\nmetrics = synth_value\ntest.n = 1\n",
		     XB_ECONFIG, "s.ini:3", "[1, 10000000]", NULL);
	expect_error("[sweep]\nmode = random\npoints = 5\nmetrics = synth_value\n", XB_ECONFIG,
		     "at least one swept key", NULL, NULL);
	expect_error("[sweep]\nrepeats = 0\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2",
		     "repeats", NULL);
	expect_error("[sweep]\nseed = -1\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2", "seed",
		     NULL);
	expect_error("[sweep]\nseeds = shared\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2",
		     "per-point or common", NULL);
	expect_error("[sweep]\ntest.n = 1 2\n", XB_ECONFIG, "needs metrics",
		     "available: synth_value", "mvm_rmse_lsb");
	expect_error("[sweep]\nmetrics = synth_valeu\n", XB_ECONFIG, "s.ini:2",
		     "unknown metric 'synth_valeu'", "did you mean 'synth_value'");
	expect_error("[sweep]\nmetrics = synth_value synth_value\n", XB_ECONFIG, "s.ini:2",
		     "named twice", NULL);
	expect_error("[sweep]\nmetrics =\n", XB_ECONFIG, "s.ini:2", "no metric named", NULL);
	expect_error("metrics = synth_value\n[sweep]\n", XB_ECONFIG, "s.ini:1",
		     "outside any [section]", NULL);
	expect_error("[sweep]\nmetrics synth_value\n", XB_ECONFIG, "s.ini:2", "syntax error", NULL);
	expect_error("[sweep\n", XB_ECONFIG, "s.ini:1", "syntax error", NULL);
	expect_error("[sweep]\nmetrics = synth_value\n[test]\nn = 999\n", XB_ECONFIG, "s.ini:4",
		     "test.n", NULL);
	expect_error("[sweep]\nmetrics = synth_value\n[tset]\nn = 1\n", XB_ECONFIG, "s.ini:4",
		     "tset.n", NULL);
	expect_error("[sweep]\nmetrics = synth_value\n[run]\npreset = other\n", XB_ECONFIG,
		     "s.ini:4", "preset = NAME", NULL);
	expect_error("[sweep]\nbase = nothere.ini\nmetrics = synth_value\n", XB_ENOENT, "s.ini:2",
		     "nothere.ini", NULL);
	expect_error("[sweep]\nbase =\nmetrics = synth_value\n", XB_ECONFIG, "s.ini:2", "file name",
		     NULL);
	expect_error("[sweep]\npreset = nosuch\nmetrics = synth_value\n", XB_ENOENT, "nosuch", NULL,
		     NULL);
	write_file("badbase.ini", "[test]\nn = -4\n");
	expect_error("[sweep]\nbase = badbase.ini\nmetrics = synth_value\n", XB_ECONFIG,
		     "s.ini:2: base", "badbase.ini:2", "test.n");
}
END_TEST

START_TEST(test_errors_files_and_providers)
{
	xb_err err = { 0 };
	const char *s_ok = "[sweep]\nmetrics = synth_value\ntest.n = 1 2\n";
	xb_sweep_options o = options;
	const char *bad_sets[] = { "test.n=1000" }, *good_sets[] = { "test.x=0.5" };
	xb_sweep *sw;
	xb_sweep_summary sum;

	ck_assert_ptr_null(xb_sweep_load(tmp_path("none.ini"), &options, &err));
	ck_assert_int_eq(err.code, XB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "none.ini: sweep file not found"));
	ck_assert_ptr_null(xb_sweep_load(tmpdir, &options, &err));
	ck_assert_int_eq(err.code, XB_EIO);
	ck_assert_ptr_null(xb_sweep_load(NULL, &options, &err));
	ck_assert_int_eq(err.code, XB_EINVAL);
	/* No providers at all. */
	ck_assert_ptr_null(xb_sweep_load(write_file("s.ini", s_ok), NULL, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "no metric provider"));
	/* Two providers of one metric. */
	{
		static const xb_sweep_provider *const two[] = { &synth, &clash };
		xb_sweep_options ot = { two, 2, NULL, NULL, 0 };

		ck_assert_ptr_null(xb_sweep_load(write_file("s.ini", s_ok), &ot, &err));
		ck_assert_int_eq(err.code, XB_EINTERNAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "providers synth and clash"));
	}
	/* A provider whose init fails. */
	fail_init = 1;
	expect_error(s_ok, XB_ENOENT, "metric provider synth", "data set not found", NULL);
	fail_init = 0;
	/* Overrides: a bad -s; -p replaces the file's preset. */
	o.sets = bad_sets;
	o.nsets = 1;
	ck_assert_ptr_null(xb_sweep_load(write_file("s.ini", s_ok), &o, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "test.n"));
	o.sets = good_sets;
	o.preset = "other";
	sw = xb_sweep_load(write_file("s.ini", s_ok), &o, &err);
	ck_assert_ptr_nonnull(sw);
	ck_assert_double_eq(xb_config_double(xb_sweep_base(sw), "test.x"), 0.5);
	ck_assert_str_eq(xb_config_str(xb_sweep_base(sw), "test.name"), "from-other");
	/* Running: no output, a missing directory. */
	ck_assert_int_eq(run_to(sw, NULL, 0, &sum), XB_EINVAL);
	ck_assert_int_ne(run_to(sw, tmp_path("no/dir/x.h5"), 0, &sum), XB_OK);
	ck_assert_ptr_nonnull(strstr(xb_sweep_errmsg(sw), "no/dir"));
	ck_assert_uint_eq(evals, 0);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_resume_mismatch)
{
	const char *out = tmp_path("m.h5");
	xb_sweep *sw;
	xb_sweep_summary sum;
	xb_h5w *w;

	write_file("base.ini", "[test]\nx = 1.5\n");
	sw = load_text("[sweep]\nbase = base.ini\nmetrics = synth_value\ntest.n = 1 2\n");
	ck_assert_int_eq(run_to(sw, out, 0, &sum), XB_OK);
	xb_sweep_free(sw);
	/* Another sweep text. */
	sw = load_text("[sweep]\nbase = base.ini\nmetrics = synth_value\ntest.n = 1 3\n");
	evals = 0;
	ck_assert_int_eq(run_to(sw, out, 1, &sum), XB_EFORMAT);
	ck_assert_ptr_nonnull(strstr(xb_sweep_errmsg(sw), "another sweep description"));
	ck_assert_ptr_nonnull(strstr(xb_sweep_errmsg(sw), "line 4"));
	xb_sweep_free(sw);
	/* The same text, another base. */
	write_file("base.ini", "[test]\nx = 1.75\n");
	sw = load_text("[sweep]\nbase = base.ini\nmetrics = synth_value\ntest.n = 1 2\n");
	ck_assert_int_eq(run_to(sw, out, 1, &sum), XB_EFORMAT);
	ck_assert_msg(strstr(xb_sweep_errmsg(sw), "base configuration changed"), "%s", xb_sweep_errmsg(sw));
	/* Not a sweep file, not HDF5. */
	w = xb_h5w_create(tmp_path("trace.h5"), "xbarsim-trace", 1, "", NULL, NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(xb_h5w_commit(w), XB_OK);
	xb_h5w_free(w);
	ck_assert_int_eq(run_to(sw, tmp_path("trace.h5"), 1, &sum), XB_EFORMAT);
	ck_assert_ptr_nonnull(strstr(xb_sweep_errmsg(sw), "not a sweep file"));
	write_file("junk.h5", "not hdf5\n");
	ck_assert_int_eq(run_to(sw, tmp_path("junk.h5"), 1, &sum), XB_EFORMAT);
	ck_assert_uint_eq(evals, 0);
	xb_sweep_free(sw);
}
END_TEST

START_TEST(test_mpi_serial)
{
	/* Without mpirun there is one rank, whatever the build. */
	ck_assert_int_eq(xb_sweep_mpi_rank(), 0);
	ck_assert_int_eq(xb_sweep_mpi_size(), 1);
	ck_assert_int_eq(xb_sweep_mpi_all(1), 1);
	ck_assert_int_eq(xb_sweep_mpi_all(0), 0);
	ck_assert_str_eq(xb_sweep_mode_name((xb_sweep_mode)7), "?");
}
END_TEST

static Suite *sweep_suite(void)
{
	Suite *s = suite_create("sweep");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, test_grid_order);
	tcase_add_test(core, test_ranges_zip_log);
	tcase_add_test(core, test_random);
	tcase_add_test(core, test_configs_and_seeds);
	tcase_add_test(core, test_eval_and_failed_points);
	tcase_add_test(core, test_run_table);
	tcase_add_test(core, test_resume_after_kill);
	tcase_add_test(core, test_stop_and_resume_serial);
	tcase_add_test(core, test_list);
	tcase_add_test(core, test_tile_provider);
	tcase_add_test(limits, test_errors_keys_and_values);
	tcase_add_test(limits, test_errors_settings);
	tcase_add_test(limits, test_errors_files_and_providers);
	tcase_add_test(limits, test_resume_mismatch);
	tcase_add_test(limits, test_mpi_serial);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sweep_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
