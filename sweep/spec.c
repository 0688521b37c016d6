/* spec.c - reading a sweep file: settings, axes, fixed overrides, metrics; points and their configurations.
 * Everything the file says is checked here, before any evaluation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "sweep_int.h"

#include <Random123/philox.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Largest sweep file read (bytes) and number of points (rows of every dataset). */
#define SWEEP_MAX_TEXT (16u << 20)
#define SWEEP_MAX_POINTS UINT64_C(10000000)
#define SWEEP_MAX_REPEATS 100000

/* Domains of the Philox counters (word 3), so axis draws and seeds never collide. */
#define DOMAIN_AXIS UINT32_C(0x61786973)   /* "axis" */
#define DOMAIN_SEED UINT32_C(0x73656564)   /* "seed" */

static const char *const settings[] = {
	"base", "preset", "mode", "points", "seed", "repeats", "seeds", "metrics",
};

/* ---- small helpers -------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	size_t l = strlen(s) + 1;
	char *d = malloc(l);

	if (d)
		memcpy(d, s, l);
	return d;
}

static int parse_num(const char *s, double *out)
{
	char *end;

	if (!*s)
		return 0;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0' && errno != ERANGE && isfinite(*out);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno == ERANGE || v > max)
		return 0;
	*out = v;
	return 1;
}

/* Shortest of %.15g / %.17g that reads back as V. */
static void fmt_num(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *row, best;

	row = malloc((lb + 1) * sizeof *row);
	if (!row)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	best = row[lb];
	free(row);
	return best;
}

/* A Philox4x32 block keyed by SEED at counter {point, w2, w3}, as 64 bits. */
static uint64_t philox64(uint64_t seed, uint64_t point, uint32_t w2, uint32_t w3)
{
	philox4x32_ctr_t c = { { (uint32_t)point, (uint32_t)(point >> 32), w2, w3 } };
	philox4x32_key_t k = { { (uint32_t)seed, (uint32_t)(seed >> 32) } };
	philox4x32_ctr_t r = philox4x32(c, k);

	return (uint64_t)r.v[0] | (uint64_t)r.v[1] << 32;
}

/* Uniform in [0, 1) with 53 random bits. */
static double unit_draw(uint64_t seed, uint64_t point, size_t axis)
{
	return (double)(philox64(seed, point, (uint32_t)axis, DOMAIN_AXIS) >> 11) * 0x1p-53;
}

/* ---- reading the file --------------------------------------------------------------- */

typedef struct sline {
	int line;
	char *section;   /* "" outside any section */
	char *name;
	char *value;
} sline;

typedef struct lines {
	sline *v;
	size_t n, cap;
} lines;

static void lines_free(lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].section);
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
}

static xb_status read_text(const char *path, char **text, xb_err *err)
{
	struct stat st;
	FILE *f;
	char *buf;
	size_t got;

	*text = NULL;
	if (stat(path, &st) != 0)
		return xb_raise(err, XB_ENOENT, "%s: sweep file not found", path);
	if (S_ISDIR(st.st_mode))
		return xb_raise(err, XB_EIO, "%s: is a directory, expected a sweep file (INI)", path);
	if ((uint64_t)st.st_size > SWEEP_MAX_TEXT)
		return xb_raise(err, XB_EIO, "%s: sweep file of %lld bytes, at most %u expected",
				path, (long long)st.st_size, SWEEP_MAX_TEXT);
	f = fopen(path, "rb");
	if (!f)
		return xb_raise(err, XB_EIO, "%s: cannot open the sweep file (%s)", path,
				strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f) || got != (size_t)st.st_size) {
		fclose(f);
		free(buf);
		return xb_raise(err, XB_EIO, "%s: read error", path);
	}
	fclose(f);
	buf[got] = '\0';
	if (strlen(buf) != got) {
		free(buf);
		return xb_raise(err, XB_ECONFIG, "%s: contains a NUL byte: not a text (INI) file", path);
	}
	*text = buf;
	return XB_OK;
}

/* Split TEXT into INI assignments with the syntax of inih (as the configuration
 * files): '[section]', 'name = value' or 'name: value', comments from ';' or '#' at
 * the start of a line and from ';' after white space; no line length limit. */
static xb_status parse_lines(const char *path, const char *text, lines *out, xb_err *err)
{
	char *copy = xstrdup(text), *p, *section;
	xb_status st = XB_OK;
	int lineno = 0;

	if (!copy)
		return xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
	section = xstrdup("");
	if (!section) {
		free(copy);
		return xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
	}
	p = copy;
	if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
		p += 3;
	while (p && *p) {
		char *nl = strchr(p, '\n'), *s, *sep;

		lineno++;
		if (nl)
			*nl = '\0';
		s = xb_str_trim(p);
		p = nl ? nl + 1 : NULL;
		if (!*s || *s == ';' || *s == '#')
			continue;
		/* Inline comment: ';' preceded by white space. */
		for (char *c = s + 1; *c; c++)
			if (*c == ';' && isspace((unsigned char)c[-1])) {
				*c = '\0';
				break;
			}
		s = xb_str_trim(s);
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close || close == s + 1 || *xb_str_trim(close + 1)) {
				st = xb_raise(err, XB_ECONFIG, "%s:%d: syntax error: expected '[section]'",
					      path, lineno);
				goto done;
			}
			*close = '\0';
			free(section);
			section = xstrdup(xb_str_trim(s + 1));
			if (!section) {
				st = xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
				goto done;
			}
			continue;
		}
		sep = strpbrk(s, "=:");
		if (!sep || sep == s) {
			st = xb_raise(err, XB_ECONFIG,
				      "%s:%d: syntax error: expected '[section]', 'key = value' or a "
				      "comment", path, lineno);
			goto done;
		}
		*sep = '\0';
		if (out->n == out->cap) {
			size_t cap = out->cap ? 2 * out->cap : 32;
			sline *nv = realloc(out->v, cap * sizeof *nv);

			if (!nv) {
				st = xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
				goto done;
			}
			out->v = nv;
			out->cap = cap;
		}
		out->v[out->n].line = lineno;
		out->v[out->n].section = xstrdup(section);
		out->v[out->n].name = xstrdup(xb_str_trim(s));
		out->v[out->n].value = xstrdup(xb_str_trim(sep + 1));
		out->n++;
		if (!out->v[out->n - 1].section || !out->v[out->n - 1].name ||
		    !out->v[out->n - 1].value) {
			st = xb_raise(err, XB_ENOMEM, "out of memory reading %s", path);
			goto done;
		}
	}
done:
	free(section);
	free(copy);
	return st;
}

/* Split VALUE into words at white space; "double quoted" words may hold spaces.
 * *WORDS is one malloc'd block (array then text). */
static xb_status split_words(const char *value, char ***words, size_t *n, const char *where,
			     xb_err *err)
{
	size_t len = strlen(value), max = len / 2 + 1, k = 0;
	char **w = malloc(max * sizeof *w + len + 1), *out;
	const char *p = value;

	*words = NULL;
	*n = 0;
	if (!w)
		return xb_raise(err, XB_ENOMEM, "out of memory");
	out = (char *)(w + max);
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		w[k++] = out;
		if (*p == '"') {
			p++;
			while (*p && *p != '"')
				*out++ = *p++;
			if (*p != '"') {
				free(w);
				return xb_raise(err, XB_ECONFIG, "%s: unterminated \"quote\"", where);
			}
			p++;
			if (*p && !isspace((unsigned char)*p)) {
				free(w);
				return xb_raise(err, XB_ECONFIG,
						"%s: expected white space after a \"quoted\" value", where);
			}
		} else {
			while (*p && !isspace((unsigned char)*p))
				*out++ = *p++;
		}
		*out++ = '\0';
	}
	*words = w;
	*n = k;
	return XB_OK;
}

/* ---- axes ------------------------------------------------------------------------ */

static void axis_clear(sweep_axis *a)
{
	if (a->word)
		for (size_t i = 0; i < a->n; i++)
			free(a->word[i]);
	free(a->word);
	free(a->num);
	free(a->key);
	free(a->spec);
	memset(a, 0, sizeof *a);
}

/* Check value TEXT of axis A on SCRATCH: the key's own message names FILE:LINE. */
static xb_status check_value(xb_sweep *sw, xb_config *scratch, const sweep_axis *a,
			     const char *text)
{
	char origin[1100];

	snprintf(origin, sizeof origin, "%s:%d", sw->path, a->line);
	if (xb_config_set(scratch, a->key, text, origin) != XB_OK)
		return xb_raise(&sw->err, XB_ECONFIG, "%s", xb_config_errmsg(scratch));
	return XB_OK;
}

static xb_status check_num(xb_sweep *sw, xb_config *scratch, const sweep_axis *a, double v)
{
	char buf[64];

	fmt_num(buf, sizeof buf, v);
	return check_value(sw, scratch, a, buf);
}

/* Parse "a:b[:step]" (LOG: "a:b[:n]" after "log:") into A. */
static xb_status parse_range(xb_sweep *sw, sweep_axis *a, const char *text, int log_range)
{
	char buf[512], *part[4], *save = NULL;
	int np = 0;
	double lo, hi, third = 0;
	const char *what = log_range ? "log:A:B:N (N values from A to B, log-spaced)"
				     : "A:B:STEP (A, A + STEP, ... up to B)";

	snprintf(buf, sizeof buf, "%s", text);
	for (char *t = strtok_r(buf, ":", &save); t && np < 4; t = strtok_r(NULL, ":", &save))
		part[np++] = xb_str_trim(t);
	if (np < 2 || np > 3 || !*text || strlen(text) >= sizeof buf || text[0] == ':' ||
	    text[strlen(text) - 1] == ':' ||
	    strstr(text, "::") || !parse_num(part[0], &lo) || !parse_num(part[1], &hi) ||
	    (np == 3 && !parse_num(part[2], &third)))
		return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: %s = %s%s: expected a range %s",
				sw->path, a->line, a->key, log_range ? "log:" : "", text, what);
	a->kind = log_range ? SWEEP_AXIS_LOG : SWEEP_AXIS_RANGE;
	a->lo = lo;
	a->hi = hi;
	if (hi < lo)
		return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: %s = %s%s: empty range: %.15g > %.15g",
				sw->path, a->line, a->key, log_range ? "log:" : "", text, lo, hi);
	if (log_range && lo <= 0)
		return xb_raise(&sw->err, XB_ECONFIG,
				"%s:%d: %s = log:%s: a log range needs positive bounds, found %.15g",
				sw->path, a->line, a->key, text, lo);
	if (np == 2) {
		if (sw->mode != XB_SWEEP_RANDOM)
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = %s%s: a range without %s is only allowed in "
					"random mode (mode = %s): write %s", sw->path, a->line, a->key,
					log_range ? "log:" : "", text, log_range ? "a count" : "a step",
					xb_sweep_mode_name(sw->mode), what);
		a->continuous = 1;
		if (a->integer && ceil(lo) > floor(hi))
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = %s%s: empty range: no integer between %.15g and %.15g",
					sw->path, a->line, a->key, log_range ? "log:" : "", text, lo, hi);
		return XB_OK;
	}
	if (log_range) {
		if (third < 1 || third != floor(third) || third > 1e7)
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = log:%s: the count must be an integer in [1, 1e7], "
					"found %.15g", sw->path, a->line, a->key, text, third);
		if (third == 1 && lo != hi)
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = log:%s: one value cannot span %.15g to %.15g: "
					"give a count >= 2", sw->path, a->line, a->key, text, lo, hi);
		a->n = (size_t)third;
		a->num = malloc(a->n * sizeof *a->num);
		if (!a->num)
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		for (size_t i = 0; i < a->n; i++)
			a->num[i] = i == 0 ? lo : i == a->n - 1 ? hi
				: exp(log(lo) + (log(hi) - log(lo)) * (double)i / (double)(a->n - 1));
	} else {
		double span;

		if (!(third > 0))
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = %s: the step must be > 0, found %.15g",
					sw->path, a->line, a->key, text, third);
		span = (hi - lo) / third;
		if (span > 1e7)
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s = %s: more than 1e7 values", sw->path, a->line, a->key,
					text);
		/* Inclusive with a tolerance: 0:1:0.1 has 11 values, the last exactly 1. */
		a->n = (size_t)floor(span + 1e-9) + 1;
		a->num = malloc(a->n * sizeof *a->num);
		if (!a->num)
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		for (size_t i = 0; i < a->n; i++)
			a->num[i] = lo + (double)i * third;
		if (fabs(a->num[a->n - 1] - hi) <= 1e-9 * third)
			a->num[a->n - 1] = hi;
	}
	return XB_OK;
}

/* Parse the axis line KEY = VALUE at LINE into a new axis and validate every value. */
static xb_status add_axis(xb_sweep *sw, const char *key, const char *value, int line)
{
	sweep_axis *a;
	xb_config *scratch = NULL;
	char **words = NULL, where[1200];
	size_t nw = 0;
	xb_status st;

	snprintf(where, sizeof where, "%s:%d: %s", sw->path, line, key);
	for (size_t i = 0; i < sw->naxes; i++)
		if (!strcmp(sw->axes[i].key, key))
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: %s is swept twice (first on line %d): one line per key",
					sw->path, line, key, sw->axes[i].line);
	a = realloc(sw->axes, (sw->naxes + 1) * sizeof *a);
	if (!a)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	sw->axes = a;
	a = &sw->axes[sw->naxes++];
	memset(a, 0, sizeof *a);
	a->line = line;
	a->key = xstrdup(key);
	a->spec = xstrdup(value);
	if (!a->key || !a->spec)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	a->k = xb_config_key(key);
	if (!a->k) {
		const xb_key *near = xb_config_nearest(key);

		if (near)
			return xb_raise(&sw->err, XB_ECONFIG,
					"%s:%d: unknown key '%s' (did you mean '%s'?)", sw->path, line,
					key, near->name);
		return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: unknown key '%s'", sw->path, line, key);
	}
	if (a->k->type == XB_KEY_LIST)
		return xb_raise(&sw->err, XB_ECONFIG,
				"%s:%d: %s takes a list of numbers: list keys cannot be swept", sw->path,
				line, key);
	a->numeric = a->k->type == XB_KEY_INT || a->k->type == XB_KEY_DOUBLE;
	a->integer = a->k->type == XB_KEY_INT;
	st = split_words(value, &words, &nw, where, &sw->err);
	if (st != XB_OK)
		return st;
	if (nw == 0) {
		free(words);
		return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: %s: no values to sweep", sw->path, line,
				key);
	}
	scratch = xb_config_dup(sw->base);
	if (!scratch) {
		st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		goto out;
	}
	if (a->numeric && nw == 1 && strchr(words[0], ':')) {
		int lg = !strncmp(words[0], "log:", 4);

		st = parse_range(sw, a, words[0] + (lg ? 4 : 0), lg);
		if (st != XB_OK)
			goto out;
		if (a->continuous) {
			double lo = a->integer ? ceil(a->lo) : a->lo;
			double hi = a->integer ? floor(a->hi) : a->hi;

			st = check_num(sw, scratch, a, lo);
			if (st == XB_OK)
				st = check_num(sw, scratch, a, hi);
			goto out;
		}
		for (size_t i = 0; i < a->n; i++) {
			st = check_num(sw, scratch, a, a->num[i]);
			if (st != XB_OK)
				goto out;
		}
		goto out;
	}
	a->kind = SWEEP_AXIS_LIST;
	a->n = nw;
	if (a->numeric) {
		a->num = malloc(nw * sizeof *a->num);
		if (!a->num) {
			st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nw; i++) {
			if (strchr(words[i], ':')) {
				st = xb_raise(&sw->err, XB_ECONFIG,
					      "%s:%d: %s = %s: a range must be the only value of its line",
					      sw->path, line, key, value);
				goto out;
			}
			if (!parse_num(words[i], &a->num[i])) {
				st = xb_raise(&sw->err, XB_ECONFIG,
					      "%s:%d: %s = %s: '%s' is not a number (expected a list "
					      "of numbers, A:B:STEP or log:A:B:N)", sw->path, line, key,
					      value, words[i]);
				goto out;
			}
			st = check_value(sw, scratch, a, words[i]);
			if (st != XB_OK)
				goto out;
		}
	} else {
		a->word = calloc(nw, sizeof *a->word);
		if (!a->word) {
			st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nw; i++) {
			a->word[i] = xstrdup(words[i]);
			if (!a->word[i]) {
				st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
				goto out;
			}
			st = check_value(sw, scratch, a, words[i]);
			if (st != XB_OK)
				goto out;
		}
	}
out:
	xb_config_free(scratch);
	free(words);
	return st;
}

/* ---- metrics ---------------------------------------------------------------------- */

static xb_status find_metric(xb_sweep *sw, const xb_sweep_options *opt, const char *name,
			     int line, size_t *prov, size_t *index)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	int found = 0;

	for (size_t p = 0; p < opt->nproviders; p++)
		for (size_t m = 0; m < opt->providers[p]->nmetrics; m++) {
			const char *mn = opt->providers[p]->metrics[m].name;
			size_t d;

			if (!strcmp(mn, name)) {
				/* Two providers of one metric: a defect of the registry. */
				if (found)
					return xb_raise(&sw->err, XB_EINTERNAL,
							"metric %s is offered by providers %s and %s",
							name, opt->providers[*prov]->name,
							opt->providers[p]->name);
				found = 1;
				*prov = p;
				*index = m;
				continue;
			}
			d = edit_distance(name, mn);
			if (d < bestd) {
				bestd = d;
				best = mn;
			}
		}
	if (found)
		return XB_OK;
	if (best)
		return xb_raise(&sw->err, XB_ECONFIG,
				"%s:%d: metrics: unknown metric '%s' (did you mean '%s'?)", sw->path,
				line, name, best);
	return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: metrics: unknown metric '%s' (no metric "
			"provider is available)", sw->path, line, name);
}

/* The list of every metric offered, for messages ("a [LSB], b [1]"). */
static void metric_catalogue(const xb_sweep_options *opt, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t p = 0; p < opt->nproviders; p++)
		for (size_t m = 0; m < opt->providers[p]->nmetrics && used < len; m++) {
			int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "",
					 opt->providers[p]->metrics[m].name);

			if (w > 0)
				used += (size_t)w;
		}
}

static xb_status add_metrics(xb_sweep *sw, const xb_sweep_options *opt, const char *value,
			     int line)
{
	char **words = NULL, where[1200];
	size_t nw = 0;
	xb_status st;

	snprintf(where, sizeof where, "%s:%d: metrics", sw->path, line);
	st = split_words(value, &words, &nw, where, &sw->err);
	if (st != XB_OK)
		return st;
	if (nw == 0) {
		char cat[2048];

		free(words);
		metric_catalogue(opt, cat, sizeof cat);
		return xb_raise(&sw->err, XB_ECONFIG, "%s:%d: metrics: no metric named (available: %s)",
				sw->path, line, cat);
	}
	sw->metrics = calloc(nw, sizeof *sw->metrics);
	sw->inst = calloc(opt->nproviders, sizeof *sw->inst);
	if (!sw->metrics || !sw->inst) {
		free(words);
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nw; i++) {
		size_t p = 0, m = 0, ii;

		for (size_t j = 0; j < i; j++)
			if (!strcmp(words[j], words[i])) {
				st = xb_raise(&sw->err, XB_ECONFIG, "%s:%d: metrics: '%s' is named twice",
					      sw->path, line, words[i]);
				goto out;
			}
		st = find_metric(sw, opt, words[i], line, &p, &m);
		if (st != XB_OK)
			goto out;
		for (ii = 0; ii < sw->ninst; ii++)
			if (sw->inst[ii].type == opt->providers[p])
				break;
		if (ii == sw->ninst) {
			sweep_inst *in = &sw->inst[sw->ninst++];
			size_t nm = opt->providers[p]->nmetrics;

			in->type = opt->providers[p];
			in->want = calloc(nm, 1);
			in->offset = calloc(nm, sizeof *in->offset);
			in->width = calloc(nm, sizeof *in->width);
			if (!in->want || !in->offset || !in->width) {
				st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
				goto out;
			}
		}
		sw->inst[ii].want[m] = 1;
		sw->metrics[i].inst = ii;
		sw->metrics[i].index = m;
		sw->nmetrics++;
	}
out:
	free(words);
	return st;
}

/* Instantiate the providers, learn the widths, lay out the value vectors. */
static xb_status init_providers(xb_sweep *sw)
{
	for (size_t i = 0; i < sw->ninst; i++) {
		sweep_inst *in = &sw->inst[i];
		const xb_sweep_provider *t = in->type;

		if (t->state_size) {
			in->state = calloc(1, t->state_size);
			if (!in->state)
				return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		}
		if (t->init) {
			xb_err e = { 0 };

			in->inited = 1;
			if (t->init(in->state, sw->base, &e) != XB_OK) {
				xb_err_copy(&sw->err, &e);
				return xb_err_context(&sw->err, "metric provider %s", t->name);
			}
		}
		in->inited = 1;
		in->nvalues = 0;
		for (size_t m = 0; m < t->nmetrics; m++) {
			size_t w = t->metrics[m].width;

			if (w == 0 && t->width)
				w = t->width(in->state, m);
			if (w == 0 || w > 100000)
				return xb_raise(&sw->err, XB_EINTERNAL,
						"metric provider %s: metric %s has width %zu", t->name,
						t->metrics[m].name, w);
			in->width[m] = w;
			in->offset[m] = in->nvalues;
			in->nvalues += w;
		}
		in->buf = malloc(in->nvalues * sizeof *in->buf);
		if (!in->buf)
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	}
	sw->nvalues = 0;
	for (size_t i = 0; i < sw->nmetrics; i++) {
		sweep_metric *m = &sw->metrics[i];

		m->width = sw->inst[m->inst].width[m->index];
		m->value0 = sw->nvalues;
		sw->nvalues += m->width;
	}
	sw->scratch = malloc((size_t)sw->repeats * (sw->nvalues ? sw->nvalues : 1) *
			     sizeof *sw->scratch);
	if (!sw->scratch)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	return XB_OK;
}

/* ---- the base configuration ---------------------------------------------------------- */

/* Defaults, then the preset (PRESET, else run.preset of the base file, else "hx",
 * the rule of xb_sim_config), then the base file. */
static xb_status make_base(xb_sweep *sw, const char *base_path, int base_line,
			   const char *preset)
{
	char name[256];
	xb_status st;

	sw->base = xb_config_new();
	if (!sw->base)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	snprintf(name, sizeof name, "%s", preset && *preset ? preset : "hx");
	if ((!preset || !*preset) && base_path && xb_config_key("run.preset")) {
		xb_config *probe = xb_config_dup(sw->base);

		if (!probe)
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		st = xb_config_load(probe, base_path, "sweep");
		if (st == XB_OK)
			snprintf(name, sizeof name, "%s", xb_config_str(probe, "run.preset"));
		else
			xb_raise(&sw->err, st, "%s:%d: base: %s", sw->path, base_line,
				 xb_config_errmsg(probe));
		xb_config_free(probe);
		if (st != XB_OK)
			return st;
	}
	st = xb_config_load_preset(sw->base, name);
	if (st != XB_OK)
		return xb_raise(&sw->err, st, "%s", xb_config_errmsg(sw->base));
	if (xb_config_key("run.preset"))
		xb_config_set(sw->base, "run.preset", name, preset && *preset ? "sweep preset" : "preset");
	if (base_path) {
		st = xb_config_load(sw->base, base_path, "sweep");
		if (st != XB_OK)
			return xb_raise(&sw->err, st, "%s:%d: base: %s", sw->path, base_line,
					xb_config_errmsg(sw->base));
	}
	return XB_OK;
}

/* ---- loading ---------------------------------------------------------------------------- */

static xb_status setting_u64(xb_sweep *sw, const sline *l, uint64_t lo, uint64_t hi,
			     uint64_t *out)
{
	if (!parse_u64(l->value, hi, out) || *out < lo)
		return xb_raise(&sw->err, XB_ECONFIG,
				"%s:%d: %s = '%s': expected an integer in [%" PRIu64 ", %" PRIu64 "]",
				sw->path, l->line, l->name, l->value, lo, hi);
	return XB_OK;
}

static xb_status load(xb_sweep *sw, const char *path, const xb_sweep_options *opt)
{
	lines ls = { 0 };
	const sline *set[sizeof settings / sizeof *settings] = { 0 };
	char *base_path = NULL;
	const char *preset;
	uint64_t v;
	xb_status st;

	sw->path = xstrdup(path);
	if (!sw->path)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	st = read_text(path, &sw->text, &sw->err);
	if (st != XB_OK)
		return st;
	st = parse_lines(path, sw->text, &ls, &sw->err);
	if (st != XB_OK)
		goto out;

	/* The settings of [sweep]. */
	for (size_t i = 0; i < ls.n; i++) {
		const sline *l = &ls.v[i];
		size_t s, best = 0, bestd = SIZE_MAX;

		if (!*l->section) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s:%d: key '%s' outside any [section]",
				      path, l->line, l->name);
			goto out;
		}
		if (strcmp(l->section, "sweep") || strchr(l->name, '.'))
			continue;
		for (s = 0; s < sizeof settings / sizeof *settings; s++) {
			size_t d = edit_distance(l->name, settings[s]);

			if (d < bestd) {
				bestd = d;
				best = s;
			}
			if (!strcmp(l->name, settings[s]))
				break;
		}
		if (s == sizeof settings / sizeof *settings) {
			st = xb_raise(&sw->err, XB_ECONFIG,
				      "%s:%d: [sweep] %s: unknown setting (did you mean '%s'? a swept "
				      "key is written section.key)", path, l->line, l->name,
				      settings[best]);
			goto out;
		}
		if (set[s]) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s:%d: [sweep] %s is set twice (first on "
				      "line %d)", path, l->line, l->name, set[s]->line);
			goto out;
		}
		set[s] = l;
	}
	sw->mode = XB_SWEEP_GRID;
	if (set[2]) {
		if (!strcmp(set[2]->value, "grid"))
			sw->mode = XB_SWEEP_GRID;
		else if (!strcmp(set[2]->value, "zip"))
			sw->mode = XB_SWEEP_ZIP;
		else if (!strcmp(set[2]->value, "random"))
			sw->mode = XB_SWEEP_RANDOM;
		else {
			st = xb_raise(&sw->err, XB_ECONFIG,
				      "%s:%d: mode = '%s': expected grid, zip or random", path,
				      set[2]->line, set[2]->value);
			goto out;
		}
	}
	if (set[3] && sw->mode != XB_SWEEP_RANDOM) {
		st = xb_raise(&sw->err, XB_ECONFIG,
			      "%s:%d: points: only random mode takes a number of points (mode = %s)",
			      path, set[3]->line, xb_sweep_mode_name(sw->mode));
		goto out;
	}
	if (sw->mode == XB_SWEEP_RANDOM) {
		if (!set[3]) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s: [sweep] mode = random needs "
				      "points = N", path);
			goto out;
		}
		st = setting_u64(sw, set[3], 1, SWEEP_MAX_POINTS, &sw->npoints);
		if (st != XB_OK)
			goto out;
	}
	sw->seed = 1;
	if (set[4] && (st = setting_u64(sw, set[4], 0, INT64_MAX, &sw->seed)) != XB_OK)
		goto out;
	sw->repeats = 1;
	if (set[5]) {
		st = setting_u64(sw, set[5], 1, SWEEP_MAX_REPEATS, &v);
		if (st != XB_OK)
			goto out;
		sw->repeats = (unsigned)v;
	}
	if (set[6]) {
		if (!strcmp(set[6]->value, "per-point"))
			sw->seeds_common = 0;
		else if (!strcmp(set[6]->value, "common"))
			sw->seeds_common = 1;
		else {
			st = xb_raise(&sw->err, XB_ECONFIG,
				      "%s:%d: seeds = '%s': expected per-point or common", path,
				      set[6]->line, set[6]->value);
			goto out;
		}
	}

	/* The base: defaults, preset, base file, then the sweep file's sections, -s. */
	if (set[0]) {
		const char *slash = strrchr(path, '/');

		if (!*set[0]->value) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s:%d: base: expected a file name",
				      path, set[0]->line);
			goto out;
		}
		if (set[0]->value[0] == '/' || !slash) {
			base_path = xstrdup(set[0]->value);
		} else {
			size_t dl = (size_t)(slash - path) + 1;

			base_path = malloc(dl + strlen(set[0]->value) + 1);
			if (base_path) {
				memcpy(base_path, path, dl);
				strcpy(base_path + dl, set[0]->value);
			}
		}
		if (!base_path) {
			st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
			goto out;
		}
	}
	preset = opt->preset && *opt->preset ? opt->preset : set[1] ? set[1]->value : NULL;
	st = make_base(sw, base_path, set[0] ? set[0]->line : 0, preset);
	if (st != XB_OK)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		const sline *l = &ls.v[i];
		char key[512], origin[1100];

		if (!strcmp(l->section, "sweep"))
			continue;
		snprintf(key, sizeof key, "%s.%s", l->section, l->name);
		snprintf(origin, sizeof origin, "%s:%d", path, l->line);
		if (!strcmp(key, "run.preset")) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s: [run] preset: the sweep file names "
				      "its preset in [sweep] (preset = NAME)", origin);
			goto out;
		}
		if (xb_config_set(sw->base, key, l->value, origin) != XB_OK) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s", xb_config_errmsg(sw->base));
			goto out;
		}
	}
	for (size_t i = 0; i < opt->nsets; i++)
		if (xb_config_set_arg(sw->base, opt->sets[i]) != XB_OK) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s", xb_config_errmsg(sw->base));
			goto out;
		}

	/* Axes, in file order; a key swept and also fixed in a section is a conflict. */
	for (size_t i = 0; i < ls.n; i++) {
		const sline *l = &ls.v[i];

		if (strcmp(l->section, "sweep") || !strchr(l->name, '.'))
			continue;
		for (size_t j = 0; j < ls.n; j++) {
			char key[512];

			if (!strcmp(ls.v[j].section, "sweep"))
				continue;
			snprintf(key, sizeof key, "%s.%s", ls.v[j].section, ls.v[j].name);
			if (!strcmp(key, l->name)) {
				st = xb_raise(&sw->err, XB_ECONFIG,
					      "%s:%d: %s is swept here and fixed on line %d ([%s] %s): "
					      "keep one", path, l->line, l->name, ls.v[j].line,
					      ls.v[j].section, ls.v[j].name);
				goto out;
			}
		}
		st = add_axis(sw, l->name, l->value, l->line);
		if (st != XB_OK)
			goto out;
	}

	/* Points. */
	if (sw->mode == XB_SWEEP_GRID) {
		sw->npoints = 1;
		for (size_t i = 0; i < sw->naxes; i++) {
			if (sw->npoints > SWEEP_MAX_POINTS / sw->axes[i].n) {
				st = xb_raise(&sw->err, XB_ECONFIG,
					      "%s:%d: %s: the grid exceeds %" PRIu64 " points", path,
					      sw->axes[i].line, sw->axes[i].key, SWEEP_MAX_POINTS);
				goto out;
			}
			sw->npoints *= sw->axes[i].n;
		}
	} else if (sw->mode == XB_SWEEP_ZIP) {
		if (sw->naxes == 0) {
			st = xb_raise(&sw->err, XB_ECONFIG, "%s: mode = zip needs at least one swept "
				      "key", path);
			goto out;
		}
		sw->npoints = sw->axes[0].n;
		for (size_t i = 1; i < sw->naxes; i++)
			if (sw->axes[i].n != sw->axes[0].n) {
				st = xb_raise(&sw->err, XB_ECONFIG,
					      "%s:%d: mode = zip needs axes of equal length: %s has %zu "
					      "values (line %d), %s has %zu", path, sw->axes[i].line,
					      sw->axes[0].key, sw->axes[0].n, sw->axes[0].line,
					      sw->axes[i].key, sw->axes[i].n);
				goto out;
			}
	} else if (sw->naxes == 0) {
		st = xb_raise(&sw->err, XB_ECONFIG, "%s: mode = random needs at least one swept key",
			      path);
		goto out;
	}
	sw->stride = calloc(sw->naxes ? sw->naxes : 1, sizeof *sw->stride);
	if (!sw->stride) {
		st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = sw->naxes, s = 1; i-- > 0;) {
		sw->stride[i] = s;
		s *= sw->axes[i].n ? sw->axes[i].n : 1;
	}

	/* Metrics. */
	if (!set[7]) {
		char cat[2048];

		metric_catalogue(opt, cat, sizeof cat);
		st = xb_raise(&sw->err, XB_ECONFIG, "%s: [sweep] needs metrics = NAME... "
			      "(available: %s)", path, cat);
		goto out;
	}
	st = add_metrics(sw, opt, set[7]->value, set[7]->line);
	if (st != XB_OK)
		goto out;
	sw->base_ini = xb_config_to_ini(sw->base, 0);
	if (!sw->base_ini) {
		st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		goto out;
	}
	st = init_providers(sw);
out:
	free(base_path);
	lines_free(&ls);
	return st;
}

xb_sweep *xb_sweep_load(const char *path, const xb_sweep_options *opt, xb_err *err)
{
	static const xb_sweep_options none;
	xb_sweep *sw;

	if (!path) {
		xb_raise(err, XB_EINVAL, "xb_sweep_load: no sweep file given");
		return NULL;
	}
	sw = calloc(1, sizeof *sw);
	if (!sw) {
		xb_raise(err, XB_ENOMEM, "out of memory loading %s", path);
		return NULL;
	}
	if (load(sw, path, opt ? opt : &none) != XB_OK) {
		xb_err_copy(err, &sw->err);
		xb_sweep_free(sw);
		return NULL;
	}
	return sw;
}

void xb_sweep_free(xb_sweep *sw)
{
	if (!sw)
		return;
	for (size_t i = 0; i < sw->ninst; i++) {
		sweep_inst *in = &sw->inst[i];

		if (in->inited && in->type->fini)
			in->type->fini(in->state);
		free(in->state);
		free(in->want);
		free(in->offset);
		free(in->width);
		free(in->buf);
	}
	free(sw->inst);
	for (size_t i = 0; i < sw->naxes; i++)
		axis_clear(&sw->axes[i]);
	free(sw->axes);
	free(sw->stride);
	free(sw->metrics);
	free(sw->scratch);
	xb_config_free(sw->base);
	free(sw->base_ini);
	free(sw->text);
	free(sw->path);
	free(sw);
}

const char *xb_sweep_errmsg(const xb_sweep *sw)
{
	return sw ? sw->err.msg : xb_errmsg(NULL);
}

/* ---- accessors ------------------------------------------------------------------------ */

xb_sweep_mode xb_sweep_get_mode(const xb_sweep *sw) { return sw->mode; }
uint64_t xb_sweep_npoints(const xb_sweep *sw) { return sw->npoints; }
unsigned xb_sweep_repeats(const xb_sweep *sw) { return sw->repeats; }
uint64_t xb_sweep_seed(const xb_sweep *sw) { return sw->seed; }
const xb_config *xb_sweep_base(const xb_sweep *sw) { return sw->base; }
size_t xb_sweep_naxes(const xb_sweep *sw) { return sw->naxes; }
const char *xb_sweep_axis_key(const xb_sweep *sw, size_t axis) { return sw->axes[axis].key; }
int xb_sweep_axis_numeric(const xb_sweep *sw, size_t axis) { return sw->axes[axis].numeric; }
size_t xb_sweep_nmetrics(const xb_sweep *sw) { return sw->nmetrics; }
size_t xb_sweep_nvalues(const xb_sweep *sw) { return sw->nvalues; }

const char *xb_sweep_mode_name(xb_sweep_mode mode)
{
	switch (mode) {
	case XB_SWEEP_GRID: return "grid";
	case XB_SWEEP_ZIP: return "zip";
	case XB_SWEEP_RANDOM: return "random";
	}
	return "?";
}

const char *xb_sweep_metric_name(const xb_sweep *sw, size_t m)
{
	const sweep_metric *mm = &sw->metrics[m];

	return sw->inst[mm->inst].type->metrics[mm->index].name;
}

const char *xb_sweep_metric_unit(const xb_sweep *sw, size_t m)
{
	const sweep_metric *mm = &sw->metrics[m];
	const char *u = sw->inst[mm->inst].type->metrics[mm->index].unit;

	return u && *u ? u : "1";
}

size_t xb_sweep_metric_width(const xb_sweep *sw, size_t m)
{
	return sw->metrics[m].width;
}

const char *xb_sweep_seeds_name(const xb_sweep *sw)
{
	return sw->seeds_common ? "common" : "per-point";
}

/* ---- points ----------------------------------------------------------------------------- */

void xb_sweep_value(const xb_sweep *sw, uint64_t point, size_t axis, double *num,
		    const char **text)
{
	const sweep_axis *a = &sw->axes[axis];
	size_t idx = 0;
	double v = NAN;

	if (sw->mode == XB_SWEEP_GRID)
		idx = (size_t)((point / sw->stride[axis]) % a->n);
	else if (sw->mode == XB_SWEEP_ZIP)
		idx = (size_t)point;
	else {
		double u = unit_draw(sw->seed, point, axis);

		if (!a->continuous) {
			idx = (size_t)(u * (double)a->n);
			if (idx >= a->n)
				idx = a->n - 1;
		} else if (a->kind == SWEEP_AXIS_LOG) {
			v = exp(log(a->lo) + u * (log(a->hi) - log(a->lo)));
			if (a->integer)
				v = fmin(fmax(round(v), ceil(a->lo)), floor(a->hi));
			else
				v = fmin(fmax(v, a->lo), a->hi);
		} else if (a->integer) {
			double lo = ceil(a->lo), n = floor(a->hi) - lo + 1;

			v = fmin(lo + floor(u * n), floor(a->hi));
		} else {
			v = fmin(a->lo + u * (a->hi - a->lo), a->hi);
		}
	}
	if (!a->continuous)
		v = a->numeric ? a->num[idx] : NAN;
	if (num)
		*num = v;
	if (text)
		*text = a->numeric ? NULL : a->word[idx];
}

/* Seed WHICH (0 run.seed, 1 chip.seed) of POINT, REPEAT, mapped into KEY's range. */
static uint64_t derived_seed(const xb_sweep *sw, uint64_t point, unsigned repeat, uint32_t which,
			     const xb_key *key)
{
	uint64_t v = philox64(sw->seed, sw->seeds_common ? 0 : point, repeat, DOMAIN_SEED + which);
	double lo = key->min > 0 ? ceil(key->min) : 0;
	double hi = key->max < 9007199254740991.0 ? floor(key->max) : 9007199254740991.0;

	v &= (UINT64_C(1) << 53) - 1;
	if (hi > lo)
		v = (uint64_t)lo + v % ((uint64_t)(hi - lo) + 1);
	else
		v = (uint64_t)lo;
	return v;
}

xb_config *xb_sweep_point_config(const xb_sweep *sw, uint64_t point, unsigned repeat,
				 xb_err *err)
{
	static const char *const seed_keys[2] = { "run.seed", "chip.seed" };
	xb_config *cfg;
	char origin[1100], buf[64];

	if (point >= sw->npoints || repeat >= sw->repeats) {
		xb_raise(err, XB_EINVAL, "point %" PRIu64 " repeat %u: the sweep has %" PRIu64
			 " points and %u repeats", point, repeat, sw->npoints, sw->repeats);
		return NULL;
	}
	cfg = xb_config_dup(sw->base);
	if (!cfg) {
		xb_raise(err, XB_ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < sw->naxes; i++) {
		const char *text;
		double v;

		xb_sweep_value(sw, point, i, &v, &text);
		if (sw->axes[i].numeric) {
			fmt_num(buf, sizeof buf, v);
			text = buf;
		}
		snprintf(origin, sizeof origin, "%s:%d", sw->path, sw->axes[i].line);
		if (xb_config_set(cfg, sw->axes[i].key, text, origin) != XB_OK) {
			xb_raise(err, XB_ECONFIG, "%s", xb_config_errmsg(cfg));
			xb_config_free(cfg);
			return NULL;
		}
	}
	for (uint32_t s = 0; s < 2; s++) {
		const xb_key *k = xb_config_key(seed_keys[s]);
		int swept = 0;

		for (size_t i = 0; i < sw->naxes; i++)
			swept |= !strcmp(sw->axes[i].key, seed_keys[s]);
		if (!k || swept || k->type != XB_KEY_INT)
			continue;
		snprintf(buf, sizeof buf, "%" PRIu64, derived_seed(sw, point, repeat, s, k));
		if (xb_config_set(cfg, seed_keys[s], buf, "sweep seed") != XB_OK) {
			xb_raise(err, XB_EINTERNAL, "%s", xb_config_errmsg(cfg));
			xb_config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

xb_status xb_sweep_eval_point(xb_sweep *sw, uint64_t point, int *status, double *mean,
			      double *std, char *message)
{
	size_t nv = sw->nvalues;
	double *vals = sw->scratch;
	xb_err e = { 0 };

	*status = XB_SWEEP_DONE;
	for (unsigned r = 0; r < sw->repeats && *status == XB_SWEEP_DONE; r++) {
		xb_config *cfg = xb_sweep_point_config(sw, point, r, &e);

		if (!cfg) {
			if (e.code == XB_ENOMEM)
				return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
			*status = XB_SWEEP_FAILED;
		}
		for (size_t i = 0; i < sw->ninst && *status == XB_SWEEP_DONE; i++) {
			sweep_inst *in = &sw->inst[i];
			xb_sweep_job job = { point, r, in->want, in->offset };

			for (size_t k = 0; k < in->nvalues; k++)
				in->buf[k] = NAN;
			xb_err_clear(&e);
			if (in->type->eval(in->state, cfg, &job, in->buf, &e) != XB_OK) {
				if (!e.msg[0])
					xb_raise(&e, e.code ? e.code : XB_EINTERNAL,
						 "metric provider %s failed without a message",
						 in->type->name);
				*status = XB_SWEEP_FAILED;
			}
		}
		xb_config_free(cfg);
		if (*status != XB_SWEEP_DONE) {
			if (message && sw->repeats > 1)
				snprintf(message, XB_ERRMSG_MAX, "repeat %u: %.1000s", r, e.msg);
			else if (message)
				snprintf(message, XB_ERRMSG_MAX, "%s", e.msg);
			for (size_t k = 0; k < nv; k++)
				mean[k] = std[k] = NAN;
			return XB_OK;
		}
		for (size_t m = 0; m < sw->nmetrics; m++) {
			const sweep_metric *mm = &sw->metrics[m];
			const sweep_inst *in = &sw->inst[mm->inst];

			memcpy(vals + (size_t)r * nv + mm->value0, in->buf + in->offset[mm->index],
			       mm->width * sizeof *vals);
		}
	}
	/* Mean and sample standard deviation, summed in repeat order. */
	for (size_t k = 0; k < nv; k++) {
		double s = 0, q = 0;

		for (unsigned r = 0; r < sw->repeats; r++)
			s += vals[(size_t)r * nv + k];
		mean[k] = s / sw->repeats;
		for (unsigned r = 0; r < sw->repeats; r++) {
			double d = vals[(size_t)r * nv + k] - mean[k];

			q += d * d;
		}
		std[k] = sw->repeats > 1 ? sqrt(q / (sw->repeats - 1)) : NAN;
	}
	if (message)
		message[0] = '\0';
	return XB_OK;
}

/* ---- estimate and listing ------------------------------------------------------------- */

void xb_sweep_estimate(const xb_sweep *sw, double *evaluations, double *cost,
		       const char **unit)
{
	const char *u = NULL;
	double c = 0;

	if (evaluations)
		*evaluations = (double)sw->npoints * sw->repeats;
	for (size_t i = 0; i < sw->ninst; i++) {
		const xb_sweep_provider *t = sw->inst[i].type;

		if (!t->cost || !t->cost_unit || (u && strcmp(u, t->cost_unit)))
			goto unknown;
		u = t->cost_unit;
	}
	if (!u)
		goto unknown;
	for (uint64_t p = 0; p < sw->npoints; p++) {
		xb_config *cfg = xb_sweep_point_config(sw, p, 0, NULL);

		if (!cfg)
			continue;     /* a failing point costs nothing to speak of */
		for (size_t i = 0; i < sw->ninst; i++) {
			double ci = sw->inst[i].type->cost(sw->inst[i].state, cfg);

			if (!(ci >= 0)) {
				xb_config_free(cfg);
				goto unknown;
			}
			c += ci * sw->repeats;
		}
		xb_config_free(cfg);
	}
	if (cost)
		*cost = c;
	if (unit)
		*unit = u;
	return;
unknown:
	if (cost)
		*cost = NAN;
	if (unit)
		*unit = NULL;
}

static int needs_quotes(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return 1;
	return 0;
}

xb_status xb_sweep_list(xb_sweep *sw, FILE *out)
{
	size_t *width = calloc(sw->naxes + 1, sizeof *width);
	double evals, cost;
	const char *unit;
	char buf[128];

	if (!width)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	xb_sweep_estimate(sw, &evals, &cost, &unit);
	fprintf(out, "# sweep %s: mode %s, %" PRIu64 " point%s x %u repeat%s (seeds %s, seed %"
		PRIu64 ")\n", sw->path, xb_sweep_mode_name(sw->mode), sw->npoints,
		sw->npoints == 1 ? "" : "s", sw->repeats, sw->repeats == 1 ? "" : "s",
		xb_sweep_seeds_name(sw), sw->seed);
	fprintf(out, "# metrics:");
	for (size_t m = 0; m < sw->nmetrics; m++) {
		size_t w = xb_sweep_metric_width(sw, m);

		fprintf(out, " %s [%s]", xb_sweep_metric_name(sw, m), xb_sweep_metric_unit(sw, m));
		if (w > 1)
			fprintf(out, "x%zu", w);
	}
	fprintf(out, "\n# work: %.0f evaluation%s", evals, evals == 1 ? "" : "s");
	if (unit)
		fprintf(out, ", about %.3g %s", cost, unit);
	fprintf(out, "\n");
	/* Column widths. */
	width[0] = strlen("point");
	snprintf(buf, sizeof buf, "%" PRIu64, sw->npoints ? sw->npoints - 1 : 0);
	if (strlen(buf) > width[0])
		width[0] = strlen(buf);
	for (size_t a = 0; a < sw->naxes; a++) {
		width[a + 1] = strlen(sw->axes[a].key);
		for (uint64_t p = 0; p < sw->npoints; p++) {
			double v;
			const char *t;
			size_t l;

			xb_sweep_value(sw, p, a, &v, &t);
			if (sw->axes[a].numeric) {
				fmt_num(buf, sizeof buf, v);
				l = strlen(buf);
			} else {
				l = strlen(t) + 2 * needs_quotes(t);
			}
			if (l > width[a + 1])
				width[a + 1] = l;
		}
	}
	fprintf(out, "%*s", (int)width[0], "point");
	for (size_t a = 0; a < sw->naxes; a++)
		fprintf(out, "  %*s", (int)width[a + 1], sw->axes[a].key);
	fputc('\n', out);
	for (uint64_t p = 0; p < sw->npoints; p++) {
		fprintf(out, "%*" PRIu64, (int)width[0], p);
		for (size_t a = 0; a < sw->naxes; a++) {
			double v;
			const char *t;

			xb_sweep_value(sw, p, a, &v, &t);
			if (sw->axes[a].numeric) {
				fmt_num(buf, sizeof buf, v);
				fprintf(out, "  %*s", (int)width[a + 1], buf);
			} else if (needs_quotes(t)) {
				fprintf(out, "  %*s\"%s\"", (int)(width[a + 1] - strlen(t) - 2), "", t);
			} else {
				fprintf(out, "  %*s", (int)width[a + 1], t);
			}
		}
		fputc('\n', out);
	}
	free(width);
	if (fflush(out) != 0 || ferror(out))
		return xb_raise(&sw->err, XB_EIO, "writing the point list failed");
	return XB_OK;
}
