/* describe.c - what an xbarsim HDF5 file holds (`xbarsim info`), and the command-line string.
 * Built on the public reader calls of xb_traces.h only.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_traces.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Longest attribute text shown, and most array values shown. */
#define TEXT_MAX 72
#define VALUES_MAX 8
/* Deeper than this is a cycle of hard links, not a real file. */
#define DEPTH_MAX 64

/* Natural order: runs of digits compare by value, so "2" sorts before "10". */
static int natcmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *ea, *eb;
			size_t la, lb;
			int c;

			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			for (ea = a; isdigit((unsigned char)*ea); ea++)
				;
			for (eb = b; isdigit((unsigned char)*eb); eb++)
				;
			la = (size_t)(ea - a);
			lb = (size_t)(eb - b);
			if (la != lb)
				return la < lb ? -1 : 1;
			c = memcmp(a, b, la);
			if (c)
				return c;
			a = ea;
			b = eb;
		} else {
			if (*a != *b)
				return (unsigned char)*a - (unsigned char)*b;
			a++;
			b++;
		}
	}
	return (unsigned char)*a - (unsigned char)*b;
}

static int natcmp_p(const void *x, const void *y)
{
	return natcmp(*(char *const *)x, *(char *const *)y);
}

/* "[10,256]" with "*" marking an unlimited (extendible) dimension's maximum. */
static void print_shape(FILE *out, const xb_h5_info *info)
{
	if (info->rank == 0) {
		fputs(info->nelems ? "scalar" : "empty", out);
		return;
	}
	fputc('[', out);
	for (int i = 0; i < info->rank; i++)
		fprintf(out, "%s%" PRId64 "%s", i ? "," : "", info->dims[i],
			info->maxdims[i] < 0 ? "/*" : "");
	fputc(']', out);
}

/* A value shown by its type and shape only: "<compound [3]>". */
static void print_opaque(FILE *out, const xb_h5_info *info)
{
	fprintf(out, "<%s ", info->type_name);
	print_shape(out, info);
	fputc('>', out);
}

/* A string value: first line, at most TEXT_MAX characters, then how much was left out. */
static void print_text(FILE *out, const char *s)
{
	size_t len = strlen(s), first = strcspn(s, "\n"), lines = 1;

	for (const char *p = s; *p; p++)
		if (*p == '\n' && p[1])
			lines++;
	fputc('"', out);
	for (size_t i = 0; i < first && i < TEXT_MAX; i++)
		fputc(isprint((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80 ? s[i] : '?', out);
	fputc('"', out);
	if (lines > 1)
		fprintf(out, " ... (%zu lines, %zu bytes)", lines, len);
	else if (first > TEXT_MAX)
		fprintf(out, " ... (%zu bytes)", len);
}

static void print_attr(FILE *out, xb_h5r *r, const char *obj, const char *name)
{
	xb_h5_info info;
	size_t n = 0;

	fprintf(out, "    @%s = ", name);
	if (xb_h5r_attr_info(r, obj, name, &info)) {
		fprintf(out, "<unreadable: %s>\n", xb_h5r_errmsg(r));
		return;
	}
	if (info.nelems == 0) {
		print_opaque(out, &info);
	} else if (info.type == XB_H5_STRING) {
		char *s = NULL;
		if (!xb_h5r_attr_str(r, obj, name, &s))
			print_text(out, s);
		else
			print_opaque(out, &info);
		free(s);
	} else if (info.type >= XB_H5_INT8 && info.type <= XB_H5_UINT64) {
		int64_t *v = NULL;
		if (xb_h5r_attr_ints(r, obj, name, &v, &n)) {
			print_opaque(out, &info);
		} else if (info.rank == 0) {
			fprintf(out, "%" PRId64, v[0]);
		} else {
			fputc('[', out);
			for (size_t i = 0; i < n && i < VALUES_MAX; i++)
				fprintf(out, "%s%" PRId64, i ? ", " : "", v[i]);
			fprintf(out, "%s]", n > VALUES_MAX ? ", ..." : "");
			if (n > VALUES_MAX)
				fprintf(out, " (%zu values)", n);
		}
		free(v);
	} else if (info.type == XB_H5_FLOAT32 || info.type == XB_H5_FLOAT64) {
		double *v = NULL;
		if (xb_h5r_attr_doubles(r, obj, name, &v, &n)) {
			print_opaque(out, &info);
		} else if (info.rank == 0) {
			fprintf(out, "%.10g", v[0]);
		} else {
			fputc('[', out);
			for (size_t i = 0; i < n && i < VALUES_MAX; i++)
				fprintf(out, "%s%.10g", i ? ", " : "", v[i]);
			fprintf(out, "%s]", n > VALUES_MAX ? ", ..." : "");
			if (n > VALUES_MAX)
				fprintf(out, " (%zu values)", n);
		}
		free(v);
	} else {
		print_opaque(out, &info);
	}
	fputc('\n', out);
}

/* Attributes of OBJ in natural order, leaving out SKIP (NULL: none). */
static void print_attrs(FILE *out, xb_h5r *r, const char *obj, const char *skip)
{
	char **names = NULL;
	size_t n = 0;

	if (xb_h5r_attr_list(r, obj, &names, &n)) {
		fprintf(out, "    <attributes unreadable: %s>\n", xb_h5r_errmsg(r));
		return;
	}
	qsort(names, n, sizeof *names, natcmp_p);
	for (size_t i = 0; i < n; i++)
		if (!skip || strcmp(names[i], skip))
			print_attr(out, r, obj, names[i]);
	free(names);
}

static void print_size(FILE *out, int64_t bytes)
{
	if (bytes < 10 * 1024)
		fprintf(out, "%" PRId64 " B", bytes);
	else if (bytes < 10 * 1024 * 1024)
		fprintf(out, "%.1f KiB", bytes / 1024.0);
	else
		fprintf(out, "%.1f MiB", bytes / (1024.0 * 1024.0));
}

static void print_dataset(FILE *out, xb_h5r *r, const char *path, const xb_h5_info *info)
{
	char *unit = NULL;

	fprintf(out, "%-28s dataset %s ", path, info->type_name);
	print_shape(out, info);
	if (xb_h5r_has_attr(r, path, "unit") && !xb_h5r_attr_str(r, path, "unit", &unit))
		fprintf(out, ", unit \"%s\"", unit);
	else
		fputs(", NO UNIT", out);
	free(unit);
	if (info->chunked) {
		fputs(", chunks [", out);
		for (int i = 0; i < info->rank; i++)
			fprintf(out, "%s%" PRId64, i ? "," : "", info->chunk[i]);
		fputc(']', out);
	}
	if (info->shuffle)
		fputs(" shuffle", out);
	if (info->deflate >= 0)
		fprintf(out, " deflate %d", info->deflate);
	fputs(", ", out);
	print_size(out, info->storage_bytes);
	fputs(" stored\n", out);
	print_attrs(out, r, path, "unit");
}

/* Groups already listed, by object id: a group reached again through another hard
 * link (or a cycle of links) is named, not listed twice. */
struct seen {
	uint64_t *id;
	size_t n, cap;
};

/* 1 if ID was seen before; otherwise remember it and return 0. */
static int seen_before(struct seen *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return 1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		uint64_t *v = realloc(s->id, cap * sizeof *v);
		if (!v)
			return 1;   /* out of memory: stop descending rather than risk looping */
		s->id = v;
		s->cap = cap;
	}
	s->id[s->n++] = id;
	return 0;
}

static void describe_group(FILE *out, xb_h5r *r, const char *path, int depth, struct seen *seen)
{
	char **names = NULL;
	size_t n = 0;

	if (depth > DEPTH_MAX) {
		fprintf(out, "%-28s (nested too deep: a cycle of links?)\n", path);
		return;
	}
	if (xb_h5r_list(r, path, &names, &n)) {
		fprintf(out, "    <members unreadable: %s>\n", xb_h5r_errmsg(r));
		return;
	}
	qsort(names, n, sizeof *names, natcmp_p);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(path) + strlen(names[i]) + 2;
		char *child = malloc(len);
		xb_h5_info info;

		if (!child)
			break;
		snprintf(child, len, "%s%s%s", path, strcmp(path, "/") ? "/" : "", names[i]);
		if (xb_h5r_info(r, child, &info)) {
			fprintf(out, "%-28s (unresolvable link)\n", child);
		} else if (info.kind == XB_H5_GROUP && info.links > 1 && seen_before(seen, info.object_id)) {
			fprintf(out, "%-28s group, another link to a group listed above\n", child);
		} else if (info.kind == XB_H5_GROUP) {
			fprintf(out, "%-28s group\n", child);
			print_attrs(out, r, child, NULL);
			describe_group(out, r, child, depth + 1, seen);
		} else if (info.kind == XB_H5_DATASET) {
			print_dataset(out, r, child, &info);
		} else {
			fprintf(out, "%-28s (named datatype or other object)\n", child);
		}
		free(child);
	}
	free(names);
}

xb_status xb_h5_describe(const char *path, FILE *out, xb_err *err)
{
	xb_h5r *r;
	xb_err oe;
	xb_h5_info root;
	struct seen seen = { NULL, 0, 0 };
	char *schema = NULL, *version = NULL;
	int64_t sv = 0;

	if (!out)
		return xb_raise(err, XB_EINVAL, "xb_h5_describe: no output stream");
	r = xb_h5r_open(path, &oe);
	if (!r)
		return xb_err_copy(err, &oe);
	fprintf(out, "%s: ", path);
	if (xb_h5r_has_attr(r, "/", "schema") && !xb_h5r_attr_str(r, "/", "schema", &schema)) {
		fprintf(out, "%s", schema);
		if (xb_h5r_has_attr(r, "/", "schema_version") &&
		    !xb_h5r_attr_int(r, "/", "schema_version", &sv))
			fprintf(out, " version %" PRId64, sv);
	} else {
		fputs("HDF5 file without an xbarsim schema", out);
	}
	if (xb_h5r_has_attr(r, "/", "xbarsim_version") &&
	    !xb_h5r_attr_str(r, "/", "xbarsim_version", &version))
		fprintf(out, ", written by xbarsim %s", version);
	fputc('\n', out);
	free(schema);
	free(version);
	fprintf(out, "%-28s group\n", "/");
	print_attrs(out, r, "/", NULL);
	if (!xb_h5r_info(r, "/", &root) && root.links > 1)
		seen_before(&seen, root.object_id);
	describe_group(out, r, "/", 0, &seen);
	free(seen.id);
	xb_h5r_free(r);
	if (fflush(out) != 0 || ferror(out))
		return xb_raise(err, XB_EIO, "describing %s: writing the description failed", path);
	return XB_OK;
}

/* A word needs quotes unless made only of these. */
static int plain_char(char c)
{
	return isalnum((unsigned char)c) || strchr("_@%+=:,./-", c);
}

char *xb_h5_join_argv(int argc, char *const *argv)
{
	size_t len = 1;
	char *s, *at;

	for (int i = 0; i < argc; i++)
		len += 4 * strlen(argv[i] ? argv[i] : "") + 3;
	s = malloc(len);
	if (!s)
		return NULL;
	at = s;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i] ? argv[i] : "";
		int plain = a[0] != '\0';

		for (const char *p = a; *p && plain; p++)
			plain = plain_char(*p);
		if (i)
			*at++ = ' ';
		if (plain) {
			strcpy(at, a);
			at += strlen(a);
			continue;
		}
		*at++ = '\'';
		for (const char *p = a; *p; p++) {
			if (*p == '\'') {
				memcpy(at, "'\\''", 4);
				at += 4;
			} else {
				*at++ = *p;
			}
		}
		*at++ = '\'';
	}
	*at = '\0';
	return s;
}
