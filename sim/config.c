/* config.c - the registry of typed configuration keys and INI configurations.
 * Values are validated when set, so getters never fail on a registered key.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include <ini.h>

/* ---- registry ----------------------------------------------------------------- */

static const xb_key **reg_keys;     /* every registered key, in registration order */
static size_t reg_n, reg_cap;
static const xb_key **reg_sorted;   /* the same, sorted by name (rebuilt on demand) */
static size_t reg_sorted_n;
static const xb_key **reg_tables;   /* tables already registered */
static size_t reg_ntables;

static ptrdiff_t key_index(const char *name)
{
	for (size_t i = 0; i < reg_n; i++)
		if (strcmp(reg_keys[i]->name, name) == 0)
			return (ptrdiff_t)i;
	return -1;
}

static int cmp_key(const void *a, const void *b)
{
	const xb_key *const *ka = a, *const *kb = b;

	return strcmp((*ka)->name, (*kb)->name);
}

xb_status xb_config_register(const xb_key *keys, size_t n)
{
	const xb_key **t;

	for (size_t i = 0; i < reg_ntables; i++)
		if (reg_tables[i] == keys)
			return XB_OK;
	for (size_t i = 0; i < n; i++)
		if (key_index(keys[i].name) >= 0)
			return xb_raise(NULL, XB_EINTERNAL,
					"configuration key '%s' registered twice", keys[i].name);
	if (reg_n + n > reg_cap) {
		size_t cap = reg_cap ? reg_cap : 64;
		const xb_key **nk;

		while (cap < reg_n + n)
			cap *= 2;
		nk = realloc(reg_keys, cap * sizeof *nk);
		if (!nk)
			return xb_raise(NULL, XB_ENOMEM, "out of memory registering keys");
		reg_keys = nk;
		reg_cap = cap;
	}
	t = realloc(reg_tables, (reg_ntables + 1) * sizeof *t);
	if (!t)
		return xb_raise(NULL, XB_ENOMEM, "out of memory registering keys");
	reg_tables = t;
	reg_tables[reg_ntables++] = keys;
	for (size_t i = 0; i < n; i++)
		reg_keys[reg_n++] = &keys[i];
	return XB_OK;
}

const xb_key *xb_config_key(const char *name)
{
	ptrdiff_t i = key_index(name);

	return i < 0 ? NULL : reg_keys[i];
}

static void sort_registry(void)
{
	if (reg_sorted_n == reg_n)
		return;
	free(reg_sorted);
	reg_sorted = malloc((reg_n ? reg_n : 1) * sizeof *reg_sorted);
	if (!reg_sorted) {
		reg_sorted_n = 0;
		return;
	}
	memcpy(reg_sorted, reg_keys, reg_n * sizeof *reg_sorted);
	qsort(reg_sorted, reg_n, sizeof *reg_sorted, cmp_key);
	reg_sorted_n = reg_n;
}

size_t xb_config_nkeys(void)
{
	return reg_n;
}

const xb_key *xb_config_key_at(size_t i)
{
	sort_registry();
	return i < reg_sorted_n ? reg_sorted[i] : NULL;
}

/* Levenshtein distance, bounded to short strings (key names). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[128];

	if (la >= 127 || lb >= 127)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const xb_key *xb_config_nearest(const char *name)
{
	const xb_key *best = NULL;
	size_t best_d = (size_t)-1;
	const char *dot = strchr(name, '.');

	for (size_t i = 0; i < reg_n; i++) {
		size_t d = edit_distance(name, reg_keys[i]->name);
		const char *kdot = strchr(reg_keys[i]->name, '.');

		/* A right key in the wrong section ("adc.tau_us") is a near miss too. */
		if (dot && kdot && strcmp(dot, kdot) == 0 && d > 2)
			d = 2;
		if (d < best_d) {
			best_d = d;
			best = reg_keys[i];
		}
	}
	return best;
}

/* ---- values ------------------------------------------------------------------- */

typedef struct entry {
	char *text;       /* the value as given (normalised for bools) */
	char *origin;     /* "default", "file.ini:3", "-s", "preset hx" */
	long ival;
	double dval;
	int eidx;         /* ENUM index, BOOL value */
	double *list;     /* LIST values */
	size_t nlist;
	int set;
} entry;

struct xb_config {
	size_t n;         /* number of keys known when made */
	entry *e;
	xb_err err;
};

static void entry_clear(entry *e)
{
	free(e->text);
	free(e->origin);
	free(e->list);
	memset(e, 0, sizeof *e);
}

static const char *key_what(const xb_key *k, char *buf, size_t len)
{
	const char *u = k->unit && *k->unit ? k->unit : NULL;

	switch (k->type) {
	case XB_KEY_INT:
		snprintf(buf, len, "an integer in [%.15g, %.15g]%s%s%s", k->min, k->max,
			 u ? " (" : "", u ? u : "", u ? ")" : "");
		break;
	case XB_KEY_DOUBLE:
		snprintf(buf, len, "a number in [%.15g, %.15g]%s%s%s", k->min, k->max,
			 u ? " (" : "", u ? u : "", u ? ")" : "");
		break;
	case XB_KEY_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case XB_KEY_ENUM:
		snprintf(buf, len, "one of %s", k->choices);
		break;
	case XB_KEY_STRING:
		snprintf(buf, len, "text");
		break;
	case XB_KEY_LIST:
		snprintf(buf, len, "a list of numbers in [%.15g, %.15g]%s%s%s", k->min, k->max,
			 u ? " (" : "", u ? u : "", u ? ")" : "");
		break;
	}
	return buf;
}

char *xb_str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return end != s && *xb_str_trim(end) == '\0' && errno != ERANGE && isfinite(*out);
}

static int enum_index(const char *choices, const char *word)
{
	size_t wl = strlen(word);
	int idx = 0;

	for (const char *p = choices; *p; idx++) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == wl && strncmp(p, word, l) == 0)
			return idx;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

/* Parse TEXT for key K into E (fresh); 0 on success, -1 on a bad value. */
static int parse_value(const xb_key *k, const char *text, entry *e)
{
	char *buf = strdup(text), *v;
	int ok = 0;

	if (!buf)
		return -1;
	v = xb_str_trim(buf);
	switch (k->type) {
	case XB_KEY_INT: {
		char *end;
		long l;

		errno = 0;
		l = strtol(v, &end, 0);
		if (end != v && *end == '\0' && errno == 0 && (double)l >= k->min &&
		    (double)l <= k->max) {
			e->ival = l;
			e->dval = (double)l;
			ok = 1;
		}
		break;
	}
	case XB_KEY_DOUBLE:
		if (parse_double(v, &e->dval) && e->dval >= k->min && e->dval <= k->max)
			ok = 1;
		break;
	case XB_KEY_BOOL:
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) {
			e->eidx = 1;
			ok = 1;
		} else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") ||
			   !strcmp(v, "0")) {
			e->eidx = 0;
			ok = 1;
		}
		if (ok) {
			free(buf);
			buf = strdup(e->eidx ? "true" : "false");
			v = buf;
		}
		break;
	case XB_KEY_ENUM:
		e->eidx = enum_index(k->choices, v);
		ok = e->eidx >= 0;
		break;
	case XB_KEY_STRING:
		ok = 1;
		break;
	case XB_KEY_LIST: {
		size_t cap = 8;
		char *save = NULL, *tok, *copy = strdup(v);

		e->list = malloc(cap * sizeof *e->list);
		ok = copy && e->list;
		for (tok = copy ? strtok_r(copy, " \t,", &save) : NULL; ok && tok;
		     tok = strtok_r(NULL, " \t,", &save)) {
			double d;

			if (!parse_double(tok, &d) || d < k->min || d > k->max) {
				ok = 0;
				break;
			}
			if (e->nlist == cap) {
				double *nl = realloc(e->list, 2 * cap * sizeof *nl);

				if (!nl) {
					ok = 0;
					break;
				}
				e->list = nl;
				cap *= 2;
			}
			e->list[e->nlist++] = d;
		}
		free(copy);
		break;
	}
	}
	if (ok && buf) {
		e->text = strdup(v);
		ok = e->text != NULL;
	}
	free(buf);
	if (!ok) {
		free(e->list);
		free(e->text);
		e->list = NULL;
		e->text = NULL;
		e->nlist = 0;
	}
	return ok ? 0 : -1;
}

xb_config *xb_config_new(void)
{
	xb_config *cfg = calloc(1, sizeof *cfg);

	if (!cfg)
		goto fail;
	cfg->n = reg_n;
	cfg->e = calloc(reg_n ? reg_n : 1, sizeof *cfg->e);
	if (!cfg->e)
		goto fail;
	for (size_t i = 0; i < reg_n; i++) {
		if (parse_value(reg_keys[i], reg_keys[i]->def ? reg_keys[i]->def : "", &cfg->e[i])) {
			xb_raise(NULL, XB_EINTERNAL, "default '%s' of key %s is not valid",
				 reg_keys[i]->def ? reg_keys[i]->def : "", reg_keys[i]->name);
			xb_config_free(cfg);
			return NULL;
		}
		cfg->e[i].origin = strdup("default");
		if (!cfg->e[i].origin)
			goto fail;
	}
	return cfg;
fail:
	xb_config_free(cfg);
	xb_raise(NULL, XB_ENOMEM, "out of memory making a configuration");
	return NULL;
}

void xb_config_free(xb_config *cfg)
{
	if (!cfg)
		return;
	if (cfg->e)
		for (size_t i = 0; i < cfg->n; i++)
			entry_clear(&cfg->e[i]);
	free(cfg->e);
	free(cfg);
}

static int entry_copy(entry *d, const entry *s)
{
	*d = *s;
	d->text = s->text ? strdup(s->text) : NULL;
	d->origin = s->origin ? strdup(s->origin) : NULL;
	d->list = NULL;
	if (s->nlist) {
		d->list = malloc(s->nlist * sizeof *d->list);
		if (d->list)
			memcpy(d->list, s->list, s->nlist * sizeof *d->list);
	}
	return (s->text && !d->text) || (s->origin && !d->origin) || (s->nlist && !d->list);
}

xb_config *xb_config_dup(const xb_config *cfg)
{
	xb_config *c = calloc(1, sizeof *c);

	if (!c)
		goto fail;
	c->n = cfg->n;
	c->e = calloc(cfg->n ? cfg->n : 1, sizeof *c->e);
	if (!c->e)
		goto fail;
	for (size_t i = 0; i < cfg->n; i++)
		if (entry_copy(&c->e[i], &cfg->e[i]))
			goto fail;
	return c;
fail:
	xb_config_free(c);
	xb_raise(NULL, XB_ENOMEM, "out of memory copying a configuration");
	return NULL;
}

const char *xb_config_errmsg(const xb_config *cfg)
{
	return cfg ? cfg->err.msg : xb_errmsg(NULL);
}

/* Raise on CFG and copy to the thread-local slot, so callers may read either. */
static xb_status cfg_raise(xb_config *cfg, xb_status code, const char *fmt, ...) XB_PRINTF(3, 4);
static xb_status cfg_raise(xb_config *cfg, xb_status code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xb_vraise(&cfg->err, code, fmt, ap);
	va_end(ap);
	xb_err_copy(NULL, &cfg->err);
	return code;
}

xb_status xb_config_set(xb_config *cfg, const char *key, const char *value, const char *origin)
{
	ptrdiff_t i = key_index(key);
	entry e = { 0 };
	char what[256];

	if (!origin)
		origin = "api";
	if (i < 0 || (size_t)i >= cfg->n) {
		const xb_key *near = xb_config_nearest(key);

		if (near)
			return cfg_raise(cfg, XB_ECONFIG, "%s: unknown key '%s' (did you mean '%s'?)",
					 origin, key, near->name);
		return cfg_raise(cfg, XB_ECONFIG, "%s: unknown key '%s'", origin, key);
	}
	if (parse_value(reg_keys[i], value, &e))
		return cfg_raise(cfg, XB_ECONFIG, "%s: %s = '%s': expected %s", origin, key, value,
				 key_what(reg_keys[i], what, sizeof what));
	e.origin = strdup(origin);
	if (!e.origin) {
		entry_clear(&e);
		return cfg_raise(cfg, XB_ENOMEM, "out of memory setting %s", key);
	}
	e.set = 1;
	entry_clear(&cfg->e[i]);
	cfg->e[i] = e;
	return XB_OK;
}

xb_status xb_config_set_arg(xb_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[256];
	size_t l;

	if (!eq || eq == arg)
		return cfg_raise(cfg, XB_ECONFIG,
				 "-s %s: expected section.key=value (e.g. -s adc.bits=6)", arg);
	l = (size_t)(eq - arg);
	if (l >= sizeof key)
		return cfg_raise(cfg, XB_ECONFIG, "-s %s: key too long", arg);
	memcpy(key, arg, l);
	key[l] = '\0';
	return xb_config_set(cfg, xb_str_trim(key), eq + 1, "-s");
}

typedef struct load_ctx {
	xb_config *cfg;
	const char *path;
	const char *skip;
	FILE *f;
	int line;          /* line of the text inih is handling */
	int next_line;     /* line the next chunk read starts on */
	int too_long;      /* a line exceeded inih's buffer */
	int failed;
} load_ctx;

/* inih's line reader: fgets that counts lines, since the handler of the packaged
 * inih does not receive line numbers. */
static char *load_reader(char *str, int num, void *stream)
{
	load_ctx *c = stream;
	char *r;
	size_t l;

	if (c->failed || c->too_long)
		return NULL;
	r = fgets(str, num, c->f);
	if (!r)
		return NULL;
	c->line = c->next_line;
	l = strlen(str);
	if (l && str[l - 1] == '\n')
		c->next_line++;
	else if (!feof(c->f)) {
		c->too_long = 1;
		return NULL;
	}
	return r;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	load_ctx *c = user;
	char key[256], origin[512];
	int lineno = c->line;

	if (c->failed)
		return 1;
	if (c->skip && *section && enum_index(c->skip, section) >= 0)
		return 1;
	snprintf(origin, sizeof origin, "%s:%d", c->path, lineno);
	if (!*section) {
		cfg_raise(c->cfg, XB_ECONFIG, "%s: key '%s' outside any [section]", origin, name);
		c->failed = 1;
		return 0;
	}
	snprintf(key, sizeof key, "%s.%s", section, name);
	if (xb_config_set(c->cfg, key, value, origin) != XB_OK) {
		c->failed = 1;
		return 0;
	}
	return 1;
}

xb_status xb_config_load(xb_config *cfg, const char *path, const char *skip_sections)
{
	xb_config *tmp;
	load_ctx c = { 0 };
	struct stat st;
	int rc;

	if (stat(path, &st) != 0)
		return cfg_raise(cfg, XB_ENOENT, "%s: configuration file not found", path);
	if (S_ISDIR(st.st_mode))
		return cfg_raise(cfg, XB_EIO, "%s: is a directory, expected an INI file", path);
	tmp = xb_config_dup(cfg);
	if (!tmp)
		return cfg_raise(cfg, XB_ENOMEM, "out of memory loading %s", path);
	c.cfg = tmp;
	c.path = path;
	c.skip = skip_sections;
	c.line = c.next_line = 1;
	c.f = fopen(path, "r");
	if (!c.f) {
		xb_config_free(tmp);
		return cfg_raise(cfg, XB_EIO, "%s: cannot open configuration file", path);
	}
	rc = ini_parse_stream(load_reader, &c, load_handler, &c);
	fclose(c.f);
	if (c.too_long) {
		xb_config_free(tmp);
		return cfg_raise(cfg, XB_ECONFIG, "%s:%d: line too long (at most %d characters)",
				 path, c.next_line, INI_MAX_LINE - 2);
	}
	if (c.failed) {
		xb_err_copy(&cfg->err, &tmp->err);
		xb_err_copy(NULL, &cfg->err);
		xb_config_free(tmp);
		return cfg->err.code;
	}
	if (rc != 0) {
		xb_config_free(tmp);
		return cfg_raise(cfg, XB_ECONFIG,
				 "%s:%d: syntax error: expected '[section]', 'key = value' or a "
				 "comment", path, rc);
	}
	/* Success: take the new values. */
	for (size_t i = 0; i < cfg->n; i++)
		entry_clear(&cfg->e[i]);
	free(cfg->e);
	cfg->e = tmp->e;
	tmp->e = NULL;
	xb_config_free(tmp);
	return XB_OK;
}

/* ---- presets ------------------------------------------------------------------ */

static int preset_dir(int i, char *buf, size_t len)
{
	const char *env = getenv("XBARSIM_PRESETS");

	switch (i) {
	case 0:
		if (!env || !*env)
			return 0;
		snprintf(buf, len, "%s", env);
		return 1;
	case 1:
		snprintf(buf, len, "%s/presets", XB_PKGDATADIR);
		return 1;
	case 2:
		snprintf(buf, len, "%s/devices/presets", XB_SRCDIR);
		return 1;
	}
	return -1;
}

static int valid_preset_name(const char *name)
{
	if (!*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
	return 1;
}

xb_status xb_config_preset_path(const char *name, char *buf, size_t len)
{
	char dir[1024], searched[3200] = "";
	int r;

	if (!valid_preset_name(name))
		return xb_raise(NULL, XB_ENOENT,
				"preset '%s': expected a name of letters, digits, '-' or '_' "
				"(see 'xbarsim presets')", name);
	for (int i = 0; (r = preset_dir(i, dir, sizeof dir)) >= 0; i++) {
		struct stat st;

		if (!r)
			continue;
		snprintf(buf, len, "%s/%s.ini", dir, name);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			return XB_OK;
		if (strlen(searched) + strlen(dir) + 3 < sizeof searched) {
			if (*searched)
				strcat(searched, ", ");
			strcat(searched, dir);
		}
	}
	return xb_raise(NULL, XB_ENOENT, "preset '%s' not found (searched %s; see 'xbarsim presets')",
			name, searched);
}

xb_status xb_config_load_preset(xb_config *cfg, const char *name)
{
	char path[1200];
	xb_status st;

	if (xb_config_preset_path(name, path, sizeof path) != XB_OK) {
		xb_err_copy(&cfg->err, NULL);
		return cfg->err.code;
	}
	st = xb_config_load(cfg, path, NULL);
	if (st == XB_OK) {
		/* Origins say "preset NAME" rather than a path users did not write. */
		size_t pl = strlen(path);

		for (size_t i = 0; i < cfg->n; i++) {
			entry *e = &cfg->e[i];

			if (e->origin && strncmp(e->origin, path, pl) == 0 && e->origin[pl] == ':') {
				char o[160];

				snprintf(o, sizeof o, "preset %s, line %s", name, e->origin + pl + 1);
				free(e->origin);
				e->origin = strdup(o);
			}
		}
	}
	return st;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *xb_config_preset_list(void)
{
	char dir[1024], *names[256], *out;
	size_t n = 0, len = 1;
	int r;

	for (int i = 0; (r = preset_dir(i, dir, sizeof dir)) >= 0; i++) {
		DIR *d = r ? opendir(dir) : NULL;
		struct dirent *de;

		while (d && (de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			int dup = 0;
			char name[80];

			if (l < 5 || l > 68 || strcmp(de->d_name + l - 4, ".ini") != 0)
				continue;
			snprintf(name, sizeof name, "%.*s", (int)(l - 4), de->d_name);
			if (!valid_preset_name(name))
				continue;
			for (size_t j = 0; j < n; j++)
				dup |= !strcmp(names[j], name);
			if (!dup && n < 256 && (names[n] = strdup(name)))
				len += strlen(names[n++]) + 1;
		}
		if (d)
			closedir(d);
	}
	qsort(names, n, sizeof *names, cmp_str);
	out = malloc(len);
	if (out) {
		out[0] = '\0';
		for (size_t j = 0; j < n; j++) {
			strcat(out, names[j]);
			strcat(out, "\n");
		}
	}
	for (size_t j = 0; j < n; j++)
		free(names[j]);
	return out;
}

/* ---- getters ------------------------------------------------------------------ */

static const entry *get(const xb_config *cfg, const char *key, int type)
{
	ptrdiff_t i = key_index(key);

	assert(i >= 0 && (size_t)i < cfg->n && "configuration key not registered");
	assert((type < 0 || reg_keys[i]->type == (xb_key_type)type) && "key type mismatch");
	(void)type;
	return &cfg->e[i];
}

long xb_config_int(const xb_config *cfg, const char *key)
{
	return get(cfg, key, XB_KEY_INT)->ival;
}

double xb_config_double(const xb_config *cfg, const char *key)
{
	return get(cfg, key, XB_KEY_DOUBLE)->dval;
}

int xb_config_bool(const xb_config *cfg, const char *key)
{
	return get(cfg, key, XB_KEY_BOOL)->eidx;
}

const char *xb_config_str(const xb_config *cfg, const char *key)
{
	return get(cfg, key, -1)->text;
}

int xb_config_enum(const xb_config *cfg, const char *key)
{
	return get(cfg, key, XB_KEY_ENUM)->eidx;
}

size_t xb_config_list(const xb_config *cfg, const char *key, const double **values)
{
	const entry *e = get(cfg, key, XB_KEY_LIST);

	*values = e->list;
	return e->nlist;
}

const char *xb_config_origin(const xb_config *cfg, const char *key)
{
	return get(cfg, key, -1)->origin;
}

int xb_config_is_set(const xb_config *cfg, const char *key)
{
	return get(cfg, key, -1)->set;
}

/* ---- output ------------------------------------------------------------------- */

typedef struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) XB_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (!b->s || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *ns;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

char *xb_config_to_ini(const xb_config *cfg, int with_comments)
{
	sbuf b = { 0 };
	char section[128] = "";

	sort_registry();
	sb_printf(&b, "%s", "");
	for (size_t i = 0; i < reg_sorted_n; i++) {
		const xb_key *k = reg_sorted[i];
		const char *dot = strchr(k->name, '.');
		ptrdiff_t idx = key_index(k->name);
		const entry *e;
		size_t sl;

		if (!dot || idx < 0 || (size_t)idx >= cfg->n)
			continue;
		e = &cfg->e[idx];
		sl = (size_t)(dot - k->name);
		if (strlen(section) != sl || strncmp(section, k->name, sl) != 0) {
			snprintf(section, sizeof section, "%.*s", (int)sl, k->name);
			sb_printf(&b, "%s[%s]\n", b.len ? "\n" : "", section);
		}
		if (with_comments) {
			char line[512];

			snprintf(line, sizeof line, "%s = %s", dot + 1, e->text ? e->text : "");
			sb_printf(&b, "%-36s ; %s%s%s\n", line, k->unit && *k->unit ? k->unit : "",
				  k->unit && *k->unit ? ", " : "", e->origin ? e->origin : "default");
		} else {
			sb_printf(&b, "%s = %s\n", dot + 1, e->text ? e->text : "");
		}
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
