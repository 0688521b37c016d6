/* progress.c - progress reporting for long work: a bar with rate and ETA on a
 * terminal, one line per percent step in plain mode, nothing otherwise.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <string.h>
#include <unistd.h>

void xb_progress_init(xb_progress *p, FILE *out, xb_progress_style style,
		      const char *label, const char *unit)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	p->label = label ? label : "";
	p->unit = unit ? unit : "";
	p->last_percent = -1;
	if (style == XB_PROGRESS_AUTO)
		style = out && isatty(fileno(out)) ? XB_PROGRESS_BAR : XB_PROGRESS_NONE;
	p->style = style;
	p->t_start_s = xb_wall_s();
}

static void fmt_eta(char *buf, size_t len, double s)
{
	if (!(s >= 0) || s > 360000)
		snprintf(buf, len, "--:--");
	else if (s >= 3600)
		snprintf(buf, len, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
	else
		snprintf(buf, len, "%02d:%02d", (int)s / 60, (int)s % 60);
}

int xb_progress_update(void *ud, uint64_t done, uint64_t total)
{
	xb_progress *p = ud;
	double now, el, rate, frac;
	int pct;

	if (!p || !p->out || p->style == XB_PROGRESS_NONE || total == 0)
		return 0;
	now = xb_wall_s();
	el = now - p->t_start_s;
	frac = done >= total ? 1.0 : (double)done / (double)total;
	pct = (int)(frac * 100.0);
	rate = el > 0 ? (double)done / el : 0;
	if (p->style == XB_PROGRESS_PLAIN) {
		if (pct != p->last_percent) {
			p->last_percent = pct;
			fprintf(p->out, "%s: %3d%% %" PRIu64 "/%" PRIu64 " %s, %.1f %s/s\n", p->label,
				pct, done, total, p->unit, rate, p->unit);
			fflush(p->out);
		}
		return 0;
	}
	/* Bar: redraw at most 10 times a second, and at the end. */
	if (done < total && now - p->t_last_s < 0.1 && p->active)
		return 0;
	{
		char bar[41], eta[32];
		int fill = (int)(frac * 40.0);

		memset(bar, '=', (size_t)fill);
		memset(bar + fill, ' ', (size_t)(40 - fill));
		bar[40] = '\0';
		fmt_eta(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : -1);
		fprintf(p->out, "\r%s [%s] %3d%% %" PRIu64 "/%" PRIu64 " %.1f %s/s ETA %s ",
			p->label, bar, pct, done, total, rate, p->unit, eta);
		fflush(p->out);
		p->t_last_s = now;
		p->active = 1;
	}
	return 0;
}

void xb_progress_done(xb_progress *p)
{
	if (p && p->active && p->out) {
		fputc('\n', p->out);
		fflush(p->out);
	}
	if (p)
		p->active = 0;
}

int xb_progress_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return XB_PROGRESS_AUTO;
	if (!strcmp(s, "bar"))
		return XB_PROGRESS_BAR;
	if (!strcmp(s, "plain"))
		return XB_PROGRESS_PLAIN;
	if (!strcmp(s, "none"))
		return XB_PROGRESS_NONE;
	return -1;
}
