/* walk_report.c - `xbarsim report` of a walk file: accuracy against noise per site and the midpoints, with gnuplot.
 * Implements xb_walk_report of xb_walk.h (the command dispatches walk files here).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_walk.h"
#include "xb_traces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A level for a .dat file: all 17 digits, "nan" and "inf" spelled so. */
static void put_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(" nan", f);
	else if (isinf(v))
		fputs(v > 0 ? " inf" : " -inf", f);
	else
		fprintf(f, " %.17g", v);
}

/* A string of at most LEN bytes growing with appended words. */
static int append(char *buf, size_t len, const char *word)
{
	size_t n = strlen(buf), k = strlen(word);
	if (n + k + 2 > len)
		return -1;
	if (n)
		buf[n++] = ' ';
	memcpy(buf + n, word, k + 1);
	return 0;
}

xb_status xb_walk_report(const char *h5, const char *out_dir, const char *gnuplot,
			 int *figures, xb_err *err)
{
	xb_report_dir R;
	xb_status st;
	xb_h5r *h = NULL;
	char **names = NULL, *unit = NULL, *noise = NULL, *script = NULL, *words = NULL;
	double *levels = NULL, *acc = NULL, *mid = NULL, *lo = NULL, *hi = NULL;
	double clean = NAN, chance = NAN, target = NAN;
	int64_t dn[XB_H5_MAXRANK], dl[XB_H5_MAXRANK], da[XB_H5_MAXRANK], dm[XB_H5_MAXRANK];

	memset(&R, 0, sizeof R);
	if (figures)
		*figures = -1;
	if (!h5 || !out_dir || !*out_dir)
		return xb_raise(err, XB_EINVAL, "xb_walk_report: NULL file or output directory");
	R.err = err;
	if ((st = xb_report_dir_vacant(out_dir, err)) != XB_OK)
		return st;
	if (!(h = xb_h5r_open(h5, err)))
		return err ? err->code : XB_EIO;
	if (xb_h5r_schema(h, NULL, XB_WALK_SCHEMA, XB_WALK_SCHEMA_VERSION, NULL) != XB_OK) {
		st = xb_raise(err, XB_EFORMAT, "report: %s", xb_h5r_errmsg(h));
		goto done;
	}
#define RD(path, type, rank, ptr, dims)                                                     \
	if ((st = xb_h5r_read(h, path, type, rank, NULL, 0, (void **)(ptr), dims)) != XB_OK) { \
		st = xb_raise(err, st, "report: %s: %s", h5, xb_h5r_errmsg(h));                \
		goto done;                                                                  \
	}
	RD("/sites/name", XB_H5_STRING, 1, &names, dn);
	RD("/sites/midpoint", XB_H5_FLOAT64, 1, &mid, dm);
	RD("/sites/midpoint_lo", XB_H5_FLOAT64, 1, &lo, NULL);
	RD("/sites/midpoint_hi", XB_H5_FLOAT64, 1, &hi, NULL);
	RD("/curves/levels", XB_H5_FLOAT64, 1, &levels, dl);
	RD("/curves/accuracy", XB_H5_FLOAT64, 2, &acc, da);
#undef RD
	{
		double *c = NULL, *ch = NULL;
		if (xb_h5r_read(h, "/sites/clean_accuracy", XB_H5_FLOAT64, 1, NULL, 0, (void **)&c,
				NULL) == XB_OK && dn[0] > 0)
			clean = c[0];
		if (xb_h5r_read(h, "/sites/chance_accuracy", XB_H5_FLOAT64, 1, NULL, 0,
				(void **)&ch, NULL) == XB_OK && dn[0] > 0)
			chance = ch[0];
		free(c);
		free(ch);
	}
	if (xb_h5r_has_attr(h, "/", "target_accuracy"))
		xb_h5r_attr_double(h, "/", "target_accuracy", &target);
	if (xb_h5r_has_attr(h, "/", "level_unit"))
		xb_h5r_attr_str(h, "/", "level_unit", &unit);
	if (xb_h5r_has_attr(h, "/", "noise"))
		xb_h5r_attr_str(h, "/", "noise", &noise);
	int64_t S = dn[0], L = dl[0];
	if (dm[0] != S || da[0] != S || da[1] != L || S < 1 || L < 1) {
		st = xb_raise(err, XB_EFORMAT, "report: %s: /curves/accuracy is %lld x %lld, "
			      "/sites/midpoint %lld: expected %lld sites x %lld levels", h5,
			      (long long)da[0], (long long)da[1], (long long)dm[0], (long long)S,
			      (long long)L);
		goto done;
	}

	if ((st = xb_report_dir_begin(&R, out_dir, gnuplot, err)) != XB_OK)
		goto done;
	const char *u = unit ? unit : "1";
	fprintf(R.md, "# xbarsim report\n\nFile: `%s` (schema %s): walking noise, noise %s, "
		"levels in %s.\n\n", h5, XB_WALK_SCHEMA, noise ? noise : "?", u);
	fprintf(R.md, "Clean accuracy %.4f, chance %.4f, target (midpoint) %.4f.\n\n", clean,
		chance, target);
	fprintf(R.md, "| site | midpoint | lo | hi |\n|---|---|---|---|\n");
	for (int64_t s = 0; s < S; s++)
		fprintf(R.md, "| %s | %.4g | %.4g | %.4g |\n", names[s], mid[s], lo[s], hi[s]);
	fputs("\n", R.md);
	xb_report_no_gnuplot_note(&R);

	/* accuracy.dat: level, then each site's mean accuracy */
	size_t wlen = 64;
	for (int64_t s = 0; s < S; s++)
		wlen += strlen(names[s]) + 1;
	words = calloc(1, wlen);
	script = malloc(wlen + 4096);
	if (!words || !script) {
		st = xb_raise(err, XB_ENOMEM, "report: out of memory");
		goto fail;
	}
	for (int64_t s = 0; s < S; s++)
		append(words, wlen, names[s]);
	FILE *f = xb_report_open(&R, "accuracy.dat", "w");
	if (!f) {
		st = err->code;
		goto fail;
	}
	fprintf(f, "# accuracy against the noise level (%s) per site, from %s\n", u, h5);
	fprintf(f, "# chance %.17g target %.17g clean %.17g\n# level %s\n", chance, target, clean,
		words);
	for (int64_t j = 0; j < L; j++) {
		fprintf(f, "%.17g", levels[j]);
		for (int64_t s = 0; s < S; s++)
			put_num(f, acc[s * L + j]);
		fputc('\n', f);
	}
	if ((st = xb_report_close(&R, f, "accuracy.dat")))
		goto fail;
	snprintf(script, wlen + 4096,
		 "set logscale x\nset xlabel 'noise level (%s)'\nset ylabel 'accuracy'\n"
		 "set yrange [0:1.05]\nset key outside right\nset grid\n"
		 "names = '%s'\nchance = %.17g\ntarget = %.17g\n"
		 "plot for [c=2:%lld] 'accuracy.dat' using 1:c with linespoints title "
		 "word(names, c-1), chance with lines dt 2 lc rgb 'black' title 'chance', "
		 "target with lines dt 3 lc rgb 'gray' title 'target'\n",
		 u, words, chance, target, (long long)S + 1);
	if ((st = xb_report_figure(&R, "accuracy", "Accuracy against noise level per site", script)))
		goto fail;

	/* midpoints.dat: index, site, midpoint, lo, hi */
	if (!(f = xb_report_open(&R, "midpoints.dat", "w"))) {
		st = err->code;
		goto fail;
	}
	fprintf(f, "# midpoint noise level (%s) per site with its interval, from %s\n", u, h5);
	fprintf(f, "# index site midpoint lo hi   (nan: below the lowest level, inf: above the "
		"highest)\n");
	for (int64_t s = 0; s < S; s++) {
		fprintf(f, "%lld %s", (long long)s, names[s]);
		put_num(f, mid[s]);
		put_num(f, lo[s]);
		put_num(f, hi[s]);
		fputc('\n', f);
	}
	if ((st = xb_report_close(&R, f, "midpoints.dat")))
		goto fail;
	snprintf(script, wlen + 4096,
		 "set ylabel 'midpoint noise level (%s)'\nset style fill solid 0.5\n"
		 "set boxwidth 0.7\nset xtics rotate by -45\nset grid ytics\nset yrange [0:*]\n"
		 "plot 'midpoints.dat' using 1:3:xtic(2) with boxes notitle, "
		 "'' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 title 'interval'\n", u);
	if ((st = xb_report_figure(&R, "midpoints", "Midpoint noise level per site", script)))
		goto fail;
	st = xb_report_dir_end(&R, out_dir, figures);
	goto done;
fail:
	xb_report_dir_abort(&R);
done:
	xb_h5r_free(h);
	free(names);
	free(unit);
	free(noise);
	free(levels);
	free(acc);
	free(mid);
	free(lo);
	free(hi);
	free(words);
	free(script);
	return st;
}
