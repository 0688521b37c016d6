/* timed_report.c - `xbarsim report`: data files, gnuplot figures and a summary of a trace or sweep.
 * Everything goes to a temporary directory renamed into place at the end (xb_report_dir).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "xb_timed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rep {
	xb_report_dir d;          /* the output directory (xb_base.h) */
	xb_h5r *r;
	const char *h5;
} rep;

static xb_status h5fail(rep *R, const char *what)
{
	return xb_raise(R->d.err, XB_EFORMAT, "report: %s: %s: %s", R->h5, what, xb_h5r_errmsg(R->r));
}

/* Compare group names numerically ("2" before "10"). */
static int cmp_num(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long u = strtol(x, NULL, 10), v = strtol(y, NULL, 10);
	return u < v ? -1 : u > v ? 1 : strcmp(x, y);
}

/* ---- traces ------------------------------------------------------------------------------ */

static const char *const energy_pref[] = { "energy_event_pj", "energy_cell_pj",
					   "energy_conversion_pj" };

static int energy_rank(const char *n)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(n, energy_pref[i]))
			return i;
	return 3;
}

static int cmp_energy(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int u = energy_rank(x), v = energy_rank(y);
	return u != v ? u - v : strcmp(x, y);
}

static xb_status trace_summary(rep *R)
{
	char **names = NULL;
	size_t n = 0;
	fprintf(R->d.md, "## Summary\n\n");
	if (!xb_h5r_exists(R->r, "/summary"))
		fprintf(R->d.md, "(no /summary group)\n\n");
	else if (xb_h5r_attr_list(R->r, "/summary", &names, &n))
		return h5fail(R, "/summary");
	fprintf(R->d.md, "| quantity | value |\n|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		xb_h5_info info;
		if (xb_h5r_attr_info(R->r, "/summary", names[i], &info) || info.nelems != 1)
			continue;
		if (info.type == XB_H5_STRING) {
			char *v = NULL;
			if (!xb_h5r_attr_str(R->r, "/summary", names[i], &v))
				fprintf(R->d.md, "| %s | %s |\n", names[i], v);
			free(v);
		} else if (info.type != XB_H5_NOTYPE) {
			double v;
			if (!xb_h5r_attr_double(R->r, "/summary", names[i], &v))
				fprintf(R->d.md, "| %s | %.6g |\n", names[i], v);
		}
	}
	fprintf(R->d.md, "\n");
	free(names);
	if (xb_h5r_exists(R->r, "/timing")) {
		static const char *const tk[] = { "inferences", "latency_ns_mean", "latency_ns_p50",
						  "latency_ns_p99", "throughput_per_s",
						  "energy_pj_per_inference", "load_ns" };
		fprintf(R->d.md, "## Timed mode\n\n| quantity | value |\n|---|---|\n");
		for (size_t i = 0; i < sizeof tk / sizeof *tk; i++) {
			double v;
			if (xb_h5r_has_attr(R->r, "/timing", tk[i]) &&
			    !xb_h5r_attr_double(R->r, "/timing", tk[i], &v))
				fprintf(R->d.md, "| %s | %.6g |\n", tk[i], v);
		}
		fprintf(R->d.md, "\n");
	}
	return XB_OK;
}

static xb_status trace_energy(rep *R)
{
	char **layers = NULL, **attrs = NULL, **comp = NULL;
	size_t nl = 0, na = 0, nc = 0;
	xb_status st = XB_OK;
	FILE *f = NULL;

	if (!xb_h5r_exists(R->r, "/layers"))
		return XB_OK;
	if (xb_h5r_list(R->r, "/layers", &layers, &nl))
		return h5fail(R, "/layers");
	if (!nl)
		goto out;
	qsort(layers, nl, sizeof *layers, cmp_num);
	char g[300];
	snprintf(g, sizeof g, "/layers/%s", layers[0]);
	if (xb_h5r_attr_list(R->r, g, &attrs, &na)) {
		st = h5fail(R, g);
		goto out;
	}
	comp = calloc(na + 1, sizeof *comp);
	if (!comp) {
		st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
		goto out;
	}
	for (size_t i = 0; i < na; i++) {
		size_t m = strlen(attrs[i]);
		if (!strncmp(attrs[i], "energy_", 7) && m > 10 && !strcmp(attrs[i] + m - 3, "_pj"))
			comp[nc++] = attrs[i];
	}
	if (!nc)
		goto out;
	qsort(comp, nc, sizeof *comp, cmp_energy);
	f = xb_report_open(&R->d, "energy.dat", "w");
	if (!f) {
		st = R->d.err->code;
		goto out;
	}
	fprintf(f, "# energy per inference by layer and component, pJ, from %s /layers/<n>\n# layer", R->h5);
	for (size_t c = 0; c < nc; c++)
		fprintf(f, " %.*s", (int)(strlen(comp[c]) - 10), comp[c] + 7);
	fprintf(f, "\n");
	for (size_t l = 0; l < nl; l++) {
		snprintf(g, sizeof g, "/layers/%s", layers[l]);
		fprintf(f, "%s", layers[l]);
		for (size_t c = 0; c < nc; c++) {
			double v = NAN;
			if (xb_h5r_has_attr(R->r, g, comp[c]) && xb_h5r_attr_double(R->r, g, comp[c], &v)) {
				fclose(f);
				f = NULL;
				st = h5fail(R, g);
				goto out;
			}
			fprintf(f, " %.9g", v);
		}
		fprintf(f, "\n");
	}
	st = xb_report_close(&R->d, f, "energy.dat");
	f = NULL;
	if (st)
		goto out;
	{
		char script[2048];
		/* titles from a word list: the .dat header is a comment */
		snprintf(script, sizeof script,
			 "set style data histograms\nset style histogram rowstacked\n"
			 "set style fill solid 0.8 border -1\nset key outside right\n"
			 "set xlabel 'layer'\nset ylabel 'energy per inference (pJ)'\n"
			 "names = '");
		for (size_t c = 0; c < nc; c++)
			snprintf(script + strlen(script), sizeof script - strlen(script), "%s%.*s",
				 c ? " " : "", (int)(strlen(comp[c]) - 10), comp[c] + 7);
		snprintf(script + strlen(script), sizeof script - strlen(script),
			 "'\nplot for [c=2:%zu] 'energy.dat' using c:xtic(1) title word(names, c-1)\n",
			 nc + 1);
		st = xb_report_figure(&R->d, "energy", "Energy by layer and component (functional counts)", script);
	}
out:
	free(layers);
	free(attrs);
	free(comp);
	return st;
}

static xb_status trace_timed_energy(rep *R)
{
	double *e = NULL;
	int64_t d[8];
	char *names = NULL;
	if (!xb_h5r_exists(R->r, "/timing/energy_pj"))
		return XB_OK;
	if (xb_h5r_read(R->r, "/timing/energy_pj", XB_H5_FLOAT64, 2, NULL, 0, (void **)&e, d))
		return h5fail(R, "/timing/energy_pj");
	xb_h5r_attr_str(R->r, "/timing", "energy_components", &names);
	FILE *f = xb_report_open(&R->d, "energy_timed.dat", "w");
	if (!f) {
		free(e);
		free(names);
		return R->d.err->code;
	}
	fprintf(f, "# timed mode: energy per inference by layer and component, pJ (/timing/energy_pj)\n# layer");
	for (char *p = names; p && *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(f, " %s\n", names ? names : "");
	for (int64_t l = 0; l < d[0]; l++) {
		fprintf(f, "%lld", (long long)l);
		for (int64_t c = 0; c < d[1]; c++)
			fprintf(f, " %.9g", e[l * d[1] + c]);
		fprintf(f, "\n");
	}
	xb_status st = xb_report_close(&R->d, f, "energy_timed.dat");
	char script[1024];
	snprintf(script, sizeof script,
		 "set style data histograms\nset style histogram rowstacked\n"
		 "set style fill solid 0.8 border -1\nset key outside right\n"
		 "set xlabel 'layer'\nset ylabel 'energy per inference (pJ)'\nnames = '%s'\n"
		 "plot for [c=2:%lld] 'energy_timed.dat' using c:xtic(1) title word(names, c-1)\n",
		 names ? names : "", (long long)d[1] + 1);
	if (!st)
		st = xb_report_figure(&R->d, "energy_timed", "Energy by layer and component (timed mode)", script);
	free(e);
	free(names);
	return st;
}

static xb_status trace_timeline(rep *R)
{
	int32_t *comp = NULL, *kind = NULL;
	double *t0 = NULL, *t1 = NULL;
	char *cn = NULL, *kn = NULL;
	char **cnames = NULL, **knames = NULL;
	size_t ncn = 0, nkn = 0;
	int64_t d[8], n;
	xb_status st = XB_OK;

	if (!xb_h5r_exists(R->r, "/timeline"))
		return XB_OK;
	if (xb_h5r_read(R->r, "/timeline/component", XB_H5_INT32, 1, NULL, 0, (void **)&comp, d)) {
		st = h5fail(R, "/timeline/component");
		goto out;
	}
	n = d[0];
	int64_t want[1] = { n };
	if (xb_h5r_read(R->r, "/timeline/kind", XB_H5_INT32, 1, want, 0, (void **)&kind, NULL)) {
		st = h5fail(R, "/timeline/kind");
		goto out;
	}
	if (xb_h5r_read(R->r, "/timeline/start_ns", XB_H5_FLOAT64, 1, want, 0, (void **)&t0, NULL)) {
		st = h5fail(R, "/timeline/start_ns");
		goto out;
	}
	if (xb_h5r_read(R->r, "/timeline/end_ns", XB_H5_FLOAT64, 1, want, 0, (void **)&t1, NULL)) {
		st = h5fail(R, "/timeline/end_ns");
		goto out;
	}
	if (xb_h5r_attr_str(R->r, "/timeline", "components", &cn) ||
	    xb_h5r_attr_str(R->r, "/timeline", "kinds", &kn)) {
		st = h5fail(R, "/timeline attributes components, kinds");
		goto out;
	}
	/* split the newline-separated names in place */
	for (int pass = 0; pass < 2; pass++) {
		char *s = pass ? kn : cn;
		size_t cnt = 1;
		for (char *p = s; *p; p++)
			cnt += *p == '\n';
		char **v = calloc(cnt, sizeof *v);
		if (!v) {
			st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
			goto out;
		}
		size_t k = 0;
		v[k++] = s;
		for (char *p = s; *p; p++)
			if (*p == '\n') {
				*p = 0;
				v[k++] = p + 1;
			}
		if (pass) {
			knames = v;
			nkn = k;
		} else {
			cnames = v;
			ncn = k;
		}
	}
	FILE *f = xb_report_open(&R->d, "timeline.dat", "w");
	if (!f) {
		st = R->d.err->code;
		goto out;
	}
	fprintf(f, "# busy intervals of the first timed inference (/timeline)\n"
		"# component start_ns end_ns name kind kind_index\n");
	for (int64_t i = 0; i < n; i++) {
		const char *nm = comp[i] >= 0 && (size_t)comp[i] < ncn ? cnames[comp[i]] : "?";
		const char *kd = kind[i] >= 0 && (size_t)kind[i] < nkn ? knames[kind[i]] : "?";
		fprintf(f, "%d %.10g %.10g %s %s %d\n", comp[i], t0[i], t1[i], nm, kd, kind[i]);
	}
	if ((st = xb_report_close(&R->d, f, "timeline.dat")))
		goto out;
	{
		size_t len = 512 + ncn * 64;
		char *script = malloc(len);
		if (!script) {
			st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
			goto out;
		}
		snprintf(script, len, "set xlabel 'time (ns)'\nunset key\nset yrange [-1:%zu]\n"
			 "set ytics (", ncn);
		for (size_t c = 0; c < ncn; c++)
			snprintf(script + strlen(script), len - strlen(script), "%s'%s' %zu",
				 c ? ", " : "", cnames[c], c);
		snprintf(script + strlen(script), len - strlen(script),
			 ")\nplot 'timeline.dat' using 2:1:($3-$2):(0):($6+1) with vectors nohead lw 10 lc variable\n");
		st = xb_report_figure(&R->d, "timeline", "Timeline (Gantt) of the components", script);
		free(script);
	}
out:
	free(comp);
	free(kind);
	free(t0);
	free(t1);
	free(cn);
	free(kn);
	free(cnames);
	free(knames);
	return st;
}

/* adc.min / adc.max from the root config text (INI), defaults -128 / 127 (hx). */
static void adc_range(rep *R, double *lo, double *hi)
{
	char *cfg = NULL;
	*lo = -128;
	*hi = 127;
	if (!xb_h5r_has_attr(R->r, "/", "config") || xb_h5r_attr_str(R->r, "/", "config", &cfg))
		return;
	int in_adc = 0;
	for (char *line = strtok(cfg, "\n"); line; line = strtok(NULL, "\n")) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '[') {
			in_adc = !strncmp(line, "[adc]", 5);
			continue;
		}
		if (!in_adc)
			continue;
		double v;
		if (sscanf(line, "min = %lf", &v) == 1)
			*lo = v;
		else if (sscanf(line, "max = %lf", &v) == 1)
			*hi = v;
	}
	free(cfg);
}

static xb_status trace_mvm(rep *R)
{
	char **names = NULL;
	size_t n = 0;
	xb_status st = XB_OK;
	double lo, hi;

	if (!xb_h5r_exists(R->r, "/mvm"))
		return XB_OK;
	if (xb_h5r_list(R->r, "/mvm", &names, &n))
		return h5fail(R, "/mvm");
	qsort(names, n, sizeof *names, cmp_num);
	adc_range(R, &lo, &hi);
	for (size_t i = 0; i < n && !st; i++) {
		char path[300], dat[128], title[160];
		float *y = NULL;
		int64_t d[8];
		snprintf(path, sizeof path, "/mvm/%s/device", names[i]);
		if (!xb_h5r_exists(R->r, path))
			continue;
		if (xb_h5r_read(R->r, path, XB_H5_FLOAT32, 2, NULL, 0, (void **)&y, d)) {
			st = h5fail(R, path);
			break;
		}
		long span = (long)(hi - lo) + 1;
		if (span < 1 || span > (1L << 24)) {
			free(y);
			st = xb_raise(R->d.err, XB_EFORMAT, "report: %s: adc range [%g, %g] unusable", R->h5, lo, hi);
			break;
		}
		uint64_t *cnt = calloc((size_t)span, sizeof *cnt);
		uint64_t outside = 0;
		if (!cnt) {
			free(y);
			st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
			break;
		}
		for (int64_t k = 0; k < d[0] * d[1]; k++) {
			double v = floor(y[k]);
			if (v < lo || v > hi)
				outside++;
			else
				cnt[(long)(v - lo)]++;
		}
		snprintf(dat, sizeof dat, "adc_hist_%s.dat", names[i]);
		FILE *f = xb_report_open(&R->d, dat, "w");
		if (!f) {
			free(cnt);
			free(y);
			st = R->d.err->code;
			break;
		}
		fprintf(f, "# ADC codes of the traced MVMs of layer %s (%s), range [%g, %g]\n"
			"# code count saturated\n", names[i], path, lo, hi);
		for (long c = 0; c < span; c++)
			if (cnt[c])
				fprintf(f, "%ld %llu %d\n", (long)lo + c, (unsigned long long)cnt[c],
					c == 0 || c == span - 1);
		if (outside)
			fprintf(f, "# %llu codes outside the range\n", (unsigned long long)outside);
		st = xb_report_close(&R->d, f, dat);
		free(cnt);
		free(y);
		if (st)
			break;
		char script[1024], fig[64];
		snprintf(fig, sizeof fig, "adc_hist_%s", names[i]);
		snprintf(script, sizeof script,
			 "set xlabel 'ADC code'\nset ylabel 'count'\nset style fill solid 0.7\n"
			 "set xrange [%g:%g]\nset arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc 'red'\n"
			 "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc 'red'\n"
			 "plot '%s' using 1:($3 > 0.5 ? 0 : $2) with boxes title 'codes', "
			 "'' using 1:($3 > 0.5 ? $2 : 0) with boxes lc 'red' title 'saturated'\n",
			 lo - 1, hi + 1, lo, lo, hi, hi, dat);
		snprintf(title, sizeof title, "ADC codes of layer %s (saturation in red)", names[i]);
		st = xb_report_figure(&R->d, fig, title, script);
	}
	free(names);
	return st;
}

static xb_status trace_events(rep *R)
{
	char **layers = NULL;
	size_t nl = 0;
	xb_status st = XB_OK;

	if (!xb_h5r_exists(R->r, "/events"))
		return XB_OK;
	if (xb_h5r_list(R->r, "/events", &layers, &nl))
		return h5fail(R, "/events");
	qsort(layers, nl, sizeof *layers, cmp_num);
	for (size_t l = 0; l < nl && !st; l++) {
		char g[300];
		char **mv = NULL;
		size_t nm = 0;
		snprintf(g, sizeof g, "/events/%s", layers[l]);
		if (xb_h5r_list(R->r, g, &mv, &nm)) {
			st = h5fail(R, g);
			break;
		}
		qsort(mv, nm, sizeof *mv, cmp_num);
		for (size_t m = 0; m < nm && !st; m++) {
			char pt[400], pv[400], dat[160], fig[128], title[400];
			double *tn = NULL;
			float *v = NULL;
			int64_t d[8], dv[8];
			snprintf(pt, sizeof pt, "%s/%s/time_ns", g, mv[m]);
			snprintf(pv, sizeof pv, "%s/%s/v_lsb", g, mv[m]);
			if (xb_h5r_read(R->r, pt, XB_H5_FLOAT64, 1, NULL, 0, (void **)&tn, d)) {
				st = h5fail(R, pt);
				break;
			}
			int64_t want[2] = { d[0], -1 };
			if (xb_h5r_read(R->r, pv, XB_H5_FLOAT32, 2, want, 0, (void **)&v, dv)) {
				free(tn);
				st = h5fail(R, pv);
				break;
			}
			snprintf(fig, sizeof fig, "events_%s_%s", layers[l], mv[m]);
			snprintf(dat, sizeof dat, "%s.dat", fig);
			FILE *f = xb_report_open(&R->d, dat, "w");
			if (!f) {
				free(tn);
				free(v);
				st = R->d.err->code;
				break;
			}
			fprintf(f, "# integrator state after every event (%s, %s)\n# time_ns v_lsb[0..%lld]\n",
				pt, pv, (long long)dv[1] - 1);
			for (int64_t e = 0; e < d[0]; e++) {
				fprintf(f, "%.10g", tn[e]);
				for (int64_t c = 0; c < dv[1]; c++)
					fprintf(f, " %.9g", (double)v[e * dv[1] + c]);
				fprintf(f, "\n");
			}
			free(tn);
			free(v);
			if ((st = xb_report_close(&R->d, f, dat)))
				break;
			char script[1024];
			long ncol = dv[1] < 16 ? (long)dv[1] : 16;
			snprintf(script, sizeof script,
				 "set xlabel 'time after reset (ns)'\nset ylabel 'integrator (LSB)'\n"
				 "unset key\nplot for [c=2:%ld] '%s' using 1:c with steps\n", ncol + 1, dat);
			snprintf(title, sizeof title, "Integrator trajectories, layer %s, MVM %s (first %ld columns)",
				 layers[l], mv[m], ncol);
			st = xb_report_figure(&R->d, fig, title, script);
		}
		free(mv);
	}
	free(layers);
	return st;
}

/* ---- sweeps ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static xb_status sweep_report(rep *R)
{
	char **names = NULL;
	size_t n = 0;
	xb_status st = XB_OK;
	int8_t *status = NULL;
	double *key[2] = { NULL, NULL }, *m = NULL, *vals = NULL;
	const char *kname[2] = { NULL, NULL };
	int nkeys = 0, extra = 0;
	int64_t d[8], np = 0;

	if (xb_h5r_list(R->r, "/points", &names, &n))
		return h5fail(R, "/points");
	if (!xb_h5r_exists(R->r, "/points/status") ||
	    xb_h5r_read(R->r, "/points/status", XB_H5_INT8, 1, NULL, 0, (void **)&status, d)) {
		st = h5fail(R, "/points/status");
		goto out;
	}
	np = d[0];
	size_t done = 0, failed = 0;
	for (int64_t i = 0; i < np; i++) {
		done += status[i] == 1;
		failed += status[i] == 2;
	}
	fprintf(R->d.md, "## Sweep\n\n%lld points: %zu done, %zu failed, %zu pending.\n\n",
		(long long)np, done, failed, (size_t)np - done - failed);
	/* swept keys: section.key datasets with numbers */
	for (size_t i = 0; i < n; i++) {
		xb_h5_info info;
		char p[300];
		snprintf(p, sizeof p, "/points/%s", names[i]);
		if (!strchr(names[i], '.') || xb_h5r_info(R->r, p, &info) || info.kind != XB_H5_DATASET)
			continue;
		if (info.type == XB_H5_STRING || info.rank != 1 || info.dims[0] != np) {
			fprintf(R->d.md, "Swept key %s is not numeric: not used as an axis.\n\n", names[i]);
			continue;
		}
		if (nkeys == 2) {
			extra++;
			continue;
		}
		int64_t want[1] = { np };
		if (xb_h5r_read(R->r, p, XB_H5_FLOAT64, 1, want, 0, (void **)&key[nkeys], NULL)) {
			st = h5fail(R, p);
			goto out;
		}
		kname[nkeys++] = names[i];
	}
	if (!nkeys) {
		fprintf(R->d.md, "No numeric swept key: nothing to draw.\n\n");
		goto out;
	}
	if (extra)
		fprintf(R->d.md, "%d further swept key(s) not drawn: figures use %s%s%s.\n\n", extra,
			kname[0], nkeys > 1 ? " and " : "", nkeys > 1 ? kname[1] : "");
	/* distinct values of the secondary key */
	size_t nv = 0;
	vals = malloc(((size_t)np + 1) * sizeof *vals);
	if (!vals) {
		st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
		goto out;
	}
	if (nkeys > 1) {
		memcpy(vals, key[1], (size_t)np * sizeof *vals);
		qsort(vals, (size_t)np, sizeof *vals, cmp_double);
		for (int64_t i = 0; i < np; i++)
			if (!nv || vals[nv - 1] != vals[i])
				vals[nv++] = vals[i];
	} else
		vals[nv++] = 0;
	/* order of the points along the first key */
	for (size_t i = 0; i < n && !st; i++) {
		xb_h5_info info;
		char p[300], dat[300];
		const char *mn = names[i];
		size_t ml = strlen(mn);
		if (strchr(mn, '.') || !strcmp(mn, "status") || !strcmp(mn, "message") ||
		    (ml > 4 && !strcmp(mn + ml - 4, "_std")))
			continue;
		snprintf(p, sizeof p, "/points/%s", mn);
		if (xb_h5r_info(R->r, p, &info) || info.kind != XB_H5_DATASET ||
		    info.type == XB_H5_STRING || info.rank != 1 || info.dims[0] != np)
			continue;
		int64_t want[1] = { np };
		if (xb_h5r_read(R->r, p, XB_H5_FLOAT64, 1, want, 0, (void **)&m, NULL)) {
			st = h5fail(R, p);
			break;
		}
		snprintf(dat, sizeof dat, "%s.dat", mn);
		FILE *f = xb_report_open(&R->d, dat, "w");
		if (!f) {
			st = R->d.err->code;
			break;
		}
		fprintf(f, "# %s against %s%s%s (done points of %s)\n", mn, kname[0],
			nkeys > 1 ? ", one block per " : "", nkeys > 1 ? kname[1] : "", R->h5);
		for (size_t b = 0; b < nv; b++) {
			if (nkeys > 1)
				fprintf(f, "# %s = %.9g\n", kname[1], vals[b]);
			/* points of this block sorted by the first key (insertion order on ties) */
			int64_t cnt = 0;
			int64_t *idx = malloc(((size_t)np + 1) * sizeof *idx);
			if (!idx) {
				fclose(f);
				st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
				break;
			}
			for (int64_t k = 0; k < np; k++)
				if (status[k] == 1 && isfinite(m[k]) && (nkeys < 2 || key[1][k] == vals[b]))
					idx[cnt++] = k;
			for (int64_t a = 1; a < cnt; a++)
				for (int64_t c = a; c > 0 && key[0][idx[c - 1]] > key[0][idx[c]]; c--) {
					int64_t tmp = idx[c];
					idx[c] = idx[c - 1];
					idx[c - 1] = tmp;
				}
			for (int64_t k = 0; k < cnt; k++)
				fprintf(f, "%.9g %.9g\n", key[0][idx[k]], m[idx[k]]);
			fprintf(f, "\n\n");
			free(idx);
		}
		free(m);
		m = NULL;
		if (st)
			break;
		if ((st = xb_report_close(&R->d, f, dat)))
			break;
		char *unit = NULL;
		xb_h5r_attr_str(R->r, p, "unit", &unit);
		size_t len = 1024 + nv * 64;
		char *script = malloc(len);
		if (!script) {
			free(unit);
			st = xb_raise(R->d.err, XB_ENOMEM, "report: out of memory");
			break;
		}
		snprintf(script, len, "set xlabel '%s' noenhanced\nset ylabel '%s (%s)' noenhanced\n"
			 "set key outside right noenhanced\nplot ", kname[0], mn, unit ? unit : "");
		for (size_t b = 0; b < nv; b++) {
			if (nkeys > 1)
				snprintf(script + strlen(script), len - strlen(script),
					 "%s'%s' index %zu with linespoints title '%s = %.6g'",
					 b ? ", " : "", dat, b, kname[1], vals[b]);
			else
				snprintf(script + strlen(script), len - strlen(script),
					 "'%s' index 0 with linespoints title '%s'", dat, mn);
		}
		snprintf(script + strlen(script), len - strlen(script), "\n");
		char fig[300];
		snprintf(fig, sizeof fig, "%s", mn);
		st = xb_report_figure(&R->d, fig, mn, script);
		free(script);
		free(unit);
	}
out:
	free(names);
	free(status);
	free(key[0]);
	free(key[1]);
	free(m);
	free(vals);
	return st;
}

/* ---- the command's library part ---------------------------------------------------------- */

xb_status xb_timed_report(const char *h5, const char *out_dir, const char *gnuplot,
			  int *figures, xb_err *err)
{
	rep R;
	xb_status st;
	char *schema = NULL;

	memset(&R, 0, sizeof R);
	if (figures)
		*figures = -1;
	if (!h5 || !out_dir || !*out_dir)
		return xb_raise(err, XB_EINVAL, "xb_timed_report: NULL file or output directory");
	R.d.err = err;
	R.h5 = h5;
	R.r = xb_h5r_open(h5, err);
	if (!R.r)
		return err ? err->code : XB_EIO;
	if ((st = xb_report_dir_vacant(out_dir, err)) != XB_OK)
		goto done;
	if (!xb_h5r_has_attr(R.r, "/", "schema") || xb_h5r_attr_str(R.r, "/", "schema", &schema)) {
		st = xb_raise(err, XB_EFORMAT, "report: %s: no root schema attribute (not an xbarsim "
			      "file)", h5);
		goto done;
	}
	int trace = !strcmp(schema, "xbarsim-trace"), sweep = !strcmp(schema, "xbarsim-sweep");
	if (!trace && !sweep) {
		st = xb_raise(err, XB_EFORMAT, "report: %s: schema %s: expected xbarsim-trace or "
			      "xbarsim-sweep", h5, schema);
		goto done;
	}
	if (sweep && !xb_h5r_exists(R.r, "/points")) {
		st = xb_raise(err, XB_EFORMAT, "report: %s: sweep file without /points", h5);
		goto done;
	}
	if ((st = xb_report_dir_begin(&R.d, out_dir, gnuplot, err)) != XB_OK)
		goto done;
	fprintf(R.d.md, "# xbarsim report\n\nFile: `%s` (schema %s).\n\n", h5, schema);
	xb_report_no_gnuplot_note(&R.d);
	if (trace) {
		if ((st = trace_summary(&R)) || (st = trace_energy(&R)) || (st = trace_timed_energy(&R)) ||
		    (st = trace_timeline(&R)) || (st = trace_events(&R)) || (st = trace_mvm(&R)))
			goto fail;
	} else if ((st = sweep_report(&R)))
		goto fail;
	st = xb_report_dir_end(&R.d, out_dir, figures);
	goto done;
fail:
	xb_report_dir_abort(&R.d);
done:
	free(schema);
	xb_h5r_free(R.r);
	return st;
}
