/* report_dir.c - the output directory of `xbarsim report`: temporary directory, summary.md, gnuplot figures.
 * Shared by the trace/sweep report (sim/timed_report.c) and the walk report (workloads/walk_report.c).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "xb_base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef XB_GNUPLOT
#define XB_GNUPLOT ""
#endif

/* Single-quote S for the shell into BUF. */
static void shquote(char *buf, size_t len, const char *s)
{
	size_t n = 0;
	if (len < 3)
		return;
	buf[n++] = '\'';
	for (; *s && n + 5 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else
			buf[n++] = *s;
	}
	buf[n++] = '\'';
	buf[n] = 0;
}

static void rm_tree(const char *dir)
{
	char cmd[4400], q[4300];
	shquote(q, sizeof q, dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", q);
	if (system(cmd) != 0) {
		/* best effort: a leftover temporary directory is harmless */
	}
}

xb_status xb_report_dir_vacant(const char *out_dir, xb_err *err)
{
	struct stat sb;

	if (stat(out_dir, &sb) == 0)
		return xb_raise(err, XB_EIO, "report: %s exists: remove it or choose another output "
				"directory", out_dir);
	return XB_OK;
}

xb_status xb_report_dir_begin(xb_report_dir *R, const char *out_dir, const char *gnuplot,
			      xb_err *err)
{
	memset(R, 0, sizeof *R);
	R->err = err;
	R->gnuplot = gnuplot ? gnuplot : XB_GNUPLOT;
	snprintf(R->tmp, sizeof R->tmp, "%s.tmp.%ld", out_dir, (long)getpid());
	rm_tree(R->tmp);
	if (mkdir(R->tmp, 0777) != 0) {
		R->tmp[0] = 0;
		return xb_raise(err, XB_EIO, "report: cannot create %s.tmp.%ld: %s", out_dir,
				(long)getpid(), strerror(errno));
	}
	/* the terminal: pngcairo where gnuplot has it */
	R->term = "png";
	if (*R->gnuplot) {
		char cmd[4600], q[4300];
		shquote(q, sizeof q, R->gnuplot);
		snprintf(cmd, sizeof cmd, "%s -e 'set terminal pngcairo' >/dev/null 2>&1", q);
		int rc = system(cmd);
		if (rc == 0)
			R->term = "pngcairo";
		snprintf(cmd, sizeof cmd, "%s -e 'set terminal png' >/dev/null 2>&1", q);
		if (rc != 0 && system(cmd) != 0)
			R->gnuplot = "";    /* not runnable, or without a PNG terminal */
	}
	if (!(R->md = xb_report_open(R, "summary.md", "w"))) {
		xb_status st = err ? err->code : XB_EIO;
		xb_report_dir_abort(R);
		return st;
	}
	return XB_OK;
}

void xb_report_no_gnuplot_note(xb_report_dir *R)
{
	if (!*R->gnuplot)
		fprintf(R->md, "gnuplot was not found (or has no PNG terminal): no figures were "
			"drawn; the data files (.dat) and gnuplot scripts (.gp) are here.\n\n");
}

FILE *xb_report_open(xb_report_dir *R, const char *name, const char *mode)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", R->tmp, name);
	FILE *f = fopen(path, mode);
	if (!f)
		xb_raise(R->err, XB_EIO, "report: cannot write %s: %s", path, strerror(errno));
	return f;
}

xb_status xb_report_close(xb_report_dir *R, FILE *f, const char *name)
{
	if (ferror(f) | fclose(f))
		return xb_raise(R->err, XB_EIO, "report: writing %s/%s failed", R->tmp, name);
	return XB_OK;
}

xb_status xb_report_figure(xb_report_dir *R, const char *name, const char *title,
			   const char *script)
{
	char gp[256], cmd[9000], qd[4300], qg[4300];
	snprintf(gp, sizeof gp, "%s.gp", name);
	FILE *f = xb_report_open(R, gp, "w");
	if (!f)
		return R->err ? R->err->code : XB_EIO;
	fprintf(f, "# %s - drawn by `xbarsim report` from %s.dat\n", gp, name);
	fprintf(f, "set terminal %s size 1000,600 noenhanced\nset output '%s.png'\nset title '%s'\n",
		R->term, name, title);
	fputs(script, f);
	xb_status st = xb_report_close(R, f, gp);
	if (st)
		return st;
	int drawn = 0;
	if (*R->gnuplot) {
		shquote(qd, sizeof qd, R->tmp);
		shquote(qg, sizeof qg, R->gnuplot);
		snprintf(cmd, sizeof cmd, "cd %s && %s %s >>gnuplot.log 2>&1", qd, qg, gp);
		if (system(cmd) == 0) {
			drawn = 1;
			R->figures++;
		}
	}
	if (drawn)
		fprintf(R->md, "### %s\n\n![%s](%s.png)\n\nData: [%s.dat](%s.dat), script: "
			"[%s](%s)\n\n", title, title, name, name, name, gp, gp);
	else
		fprintf(R->md, "### %s\n\nData: [%s.dat](%s.dat); draw with `gnuplot %s`.\n\n",
			title, name, name, gp);
	return XB_OK;
}

xb_status xb_report_dir_end(xb_report_dir *R, const char *out_dir, int *figures)
{
	FILE *md = R->md;
	xb_status st;

	R->md = NULL;
	if ((st = xb_report_close(R, md, "summary.md")) != XB_OK) {
		xb_report_dir_abort(R);
		return st;
	}
	if (rename(R->tmp, out_dir) != 0) {
		st = xb_raise(R->err, XB_EIO, "report: cannot move %s to %s: %s", R->tmp, out_dir,
			      strerror(errno));
		xb_report_dir_abort(R);
		return st;
	}
	if (figures)
		*figures = *R->gnuplot ? R->figures : -1;
	return XB_OK;
}

void xb_report_dir_abort(xb_report_dir *R)
{
	if (R->md)
		fclose(R->md);
	R->md = NULL;
	if (R->tmp[0])
		rm_tree(R->tmp);
	R->tmp[0] = 0;
}
