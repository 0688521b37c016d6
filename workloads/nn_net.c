/* nn_net.c - networks: building from specs, forward and backward passes, folding, quantization.
 * A network owns its layers, their tensors and a workspace sized for the largest batch seen.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "nn_int.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Batch of the eval-mode workspace when none was reserved. */
#define NN_EVAL_BATCH 64

/* ---- hyper-parameters and options ------------------------------------------------- */

xb_nn_hyper xb_nn_hyper_default(void)
{
	xb_nn_hyper h;
	memset(&h, 0, sizeof h);
	h.eps = 1e-5;
	h.momentum = 0.1;
	h.shift = XB_NN_SHIFT_AUTO;
	h.bits = 5;
	h.wbits = 6;
	h.xbits = 5;
	return h;
}

enum { OPT_INT, OPT_PAIR, OPT_DOUBLE };

typedef struct nn_opt {
	const char *name;
	int kind;
	size_t off1, off2;
} nn_opt;

static const nn_opt opts[] = {
	{"out", OPT_INT, offsetof(xb_nn_hyper, out), 0},
	{"kernel", OPT_PAIR, offsetof(xb_nn_hyper, kh), offsetof(xb_nn_hyper, kw)},
	{"stride", OPT_PAIR, offsetof(xb_nn_hyper, sh), offsetof(xb_nn_hyper, sw)},
	{"pad", OPT_PAIR, offsetof(xb_nn_hyper, ph), offsetof(xb_nn_hyper, pw)},
	{"eps", OPT_DOUBLE, offsetof(xb_nn_hyper, eps), 0},
	{"momentum", OPT_DOUBLE, offsetof(xb_nn_hyper, momentum), 0},
	{"shift", OPT_INT, offsetof(xb_nn_hyper, shift), 0},
	{"bits", OPT_INT, offsetof(xb_nn_hyper, bits), 0},
	{"wbits", OPT_INT, offsetof(xb_nn_hyper, wbits), 0},
	{"xbits", OPT_INT, offsetof(xb_nn_hyper, xbits), 0},
	{"sends", OPT_INT, offsetof(xb_nn_hyper, sends), 0},
};

/* Does the space-separated LIST contain WORD (of length LEN)? */
static int has_word(const char *list, const char *word, size_t len)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == len && strncmp(p, word, len) == 0)
			return 1;
		p = e;
	}
	return 0;
}

static int parse_int(const char *s, const char *end, int *v)
{
	char buf[32];
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *e;
	errno = 0;
	long x = strtol(buf, &e, 10);
	if (*e || errno || x < INT_MIN || x > INT_MAX)
		return -1;
	*v = (int)x;
	return 0;
}

xb_status nn_parse_options(const xb_nn_layer_type *type, const char *options, xb_nn_hyper *hp,
			   const char *context, xb_err *err)
{
	const char *p = options ? options : "";
	int single = type == &xb_nn_conv1d;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *tok = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		const char *eq = memchr(tok, '=', (size_t)(p - tok));
		int tlen = (int)(p - tok);
		if (!eq || eq == tok || eq + 1 == p)
			return xb_raise(err, XB_ECONFIG, "%s: '%.*s': expected key=value", context,
					tlen, tok);
		size_t klen = (size_t)(eq - tok);
		const nn_opt *o = NULL;
		for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
			if (strlen(opts[i].name) == klen && strncmp(opts[i].name, tok, klen) == 0)
				o = &opts[i];
		if (!o || !has_word(type->options, tok, klen))
			return xb_raise(err, XB_ECONFIG, "%s: unknown option '%.*s'; %s takes: %s",
					context, (int)klen, tok, type->name,
					*type->options ? type->options : "no options");
		const char *v = eq + 1;
		char *base = (char *)hp;
		if (o->kind == OPT_DOUBLE) {
			char buf[64], *e;
			size_t len = (size_t)(p - v);
			double d = NAN;
			if (len < sizeof buf) {
				memcpy(buf, v, len);
				buf[len] = 0;
				d = strtod(buf, &e);
				if (*e)
					d = NAN;
			}
			if (!isfinite(d))
				return xb_raise(err, XB_ECONFIG, "%s: option %s = '%.*s': expected a "
						"number", context, o->name, (int)(p - v), v);
			memcpy(base + o->off1, &d, sizeof d);
		} else if (o->kind == OPT_INT) {
			int x;
			if (parse_int(v, p, &x) != 0)
				return xb_raise(err, XB_ECONFIG, "%s: option %s = '%.*s': expected an "
						"integer", context, o->name, (int)(p - v), v);
			memcpy(base + o->off1, &x, sizeof x);
		} else {
			const char *xpos = memchr(v, 'x', (size_t)(p - v));
			int a, b;
			if (single && xpos)
				return xb_raise(err, XB_ECONFIG, "%s: option %s = '%.*s': conv1d takes "
						"one size (it convolves along h)", context, o->name,
						(int)(p - v), v);
			if (xpos ? (parse_int(v, xpos, &a) || parse_int(xpos + 1, p, &b))
				 : parse_int(v, p, &a))
				return xb_raise(err, XB_ECONFIG, "%s: option %s = '%.*s': expected N "
						"or NxM", context, o->name, (int)(p - v), v);
			if (!xpos)
				b = single ? (o->off1 == offsetof(xb_nn_hyper, ph) ? 0 : 1) : a;
			int minv = o->off1 == offsetof(xb_nn_hyper, ph) ? 0 : 1;
			if (a < minv || b < minv)
				return xb_raise(err, XB_ECONFIG, "%s: option %s = '%.*s': expected "
						"sizes >= %d", context, o->name, (int)(p - v), v, minv);
			memcpy(base + o->off1, &a, sizeof a);
			memcpy(base + o->off2, &b, sizeof b);
		}
	}
	return XB_OK;
}

void nn_format_options(const xb_nn_layer *l, char *buf, size_t len)
{
	size_t used = 0;
	const char *p = l->type->options;
	const char *base = (const char *)&l->hp;
	buf[0] = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
			const nn_opt *o = &opts[i];
			if (strlen(o->name) != (size_t)(e - p) || strncmp(o->name, p, (size_t)(e - p)))
				continue;
			int a, b;
			double d;
			int w = 0;
			const char *sep = used ? " " : "";
			if (o->kind == OPT_DOUBLE) {
				char num[32];
				memcpy(&d, base + o->off1, sizeof d);
				/* the shortest text that reads back as the same double */
				for (int prec = 6; prec <= 17; prec++) {
					snprintf(num, sizeof num, "%.*g", prec, d);
					if (strtod(num, NULL) == d)
						break;
				}
				w = snprintf(buf + used, len - used, "%s%s=%s", sep, o->name, num);
			} else if (o->kind == OPT_INT) {
				memcpy(&a, base + o->off1, sizeof a);
				w = snprintf(buf + used, len - used, "%s%s=%d", sep, o->name, a);
			} else {
				memcpy(&a, base + o->off1, sizeof a);
				memcpy(&b, base + o->off2, sizeof b);
				if (l->type == &xb_nn_conv1d)
					w = snprintf(buf + used, len - used, "%s%s=%d", sep, o->name, a);
				else
					w = snprintf(buf + used, len - used, "%s%s=%dx%d", sep, o->name,
						     a, b);
			}
			if (w > 0 && used + (size_t)w < len)
				used += (size_t)w;
		}
		p = e;
	}
}

/* ---- layers --------------------------------------------------------------------- */

xb_nn_layer *nn_layer_new(const xb_nn_layer_type *type, const xb_nn_hyper *hp, xb_nn_shape in,
			  int index, xb_err *err)
{
	xb_nn_layer *l = calloc(1, sizeof *l);
	if (!l) {
		xb_raise(err, XB_ENOMEM, "layer %d (%s): out of memory", index, type->name);
		return NULL;
	}
	l->type = type;
	l->index = index;
	l->hp = *hp;
	l->in = in;
	l->ntensors = type->nparams + type->nstates;
	l->requant_src = -1;
	l->q.x_from = -1;
	if (xb_nn_shape_size(in) == 0) {
		xb_raise(err, XB_ECONFIG, "layer %d (%s): empty input shape %dx%dx%d", index,
			 type->name, in.h, in.w, in.c);
		goto fail;
	}
	if (type->setup(l, err) != XB_OK)
		goto fail;
	if (xb_nn_shape_size(l->out) == 0) {
		xb_raise(err, XB_ECONFIG, "layer %d (%s): empty output shape", index, type->name);
		goto fail;
	}
	for (int t = 0; t < l->ntensors; t++) {
		l->t[t] = calloc(l->tsize[t] ? l->tsize[t] : 1, sizeof(float));
		if (!l->t[t])
			goto nomem;
	}
	if (type->exec == XB_NN_ANALOG) {
		l->q.wq = calloc(l->rows * l->cols, 1);
		l->q.bias_lsb = calloc(l->rows, sizeof(float));
		l->q.offset_lsb = calloc(l->rows, sizeof(float));
		if (!l->q.wq || !l->q.bias_lsb || !l->q.offset_lsb)
			goto nomem;
		l->q.x_scale = 1.0f;
		l->q.w_scale = 1.0f;
		l->q.lsb_scale = 1.0f;
	}
	return l;
nomem:
	xb_raise(err, XB_ENOMEM, "layer %d (%s): out of memory for its tensors", index, type->name);
fail:
	nn_layer_free(l);
	return NULL;
}

void nn_layer_free(xb_nn_layer *l)
{
	if (!l)
		return;
	for (int t = 0; t < XB_NN_MAX_TENSORS; t++)
		free(l->t[t]);
	free(l->q.wq);
	free(l->q.bias_lsb);
	free(l->q.offset_lsb);
	free(l->q.wq_split);
	free(l->q.cal_sum);
	free(l);
}

void xb_nn_layer_touch(xb_nn_layer *l)
{
	l->version++;
}

/* ---- networks -------------------------------------------------------------------- */

xb_nn_net *xb_nn_net_new(xb_nn_shape in, xb_err *err)
{
	if (xb_nn_shape_size(in) == 0) {
		xb_raise(err, XB_EINVAL, "network input shape %dx%dx%d: expected positive sizes",
			 in.h, in.w, in.c);
		return NULL;
	}
	xb_nn_net *net = calloc(1, sizeof *net);
	if (!net) {
		xb_raise(err, XB_ENOMEM, "network: out of memory");
		return NULL;
	}
	net->in = in;
	net->backend = xb_nn_backend_float();
	return net;
}

void nn_net_drop_workspace(xb_nn_net *net)
{
	if (net->act)
		for (int i = 0; i <= net->nlayers; i++)
			free(net->act[i]);
	if (net->cache)
		for (int i = 0; i < net->nlayers; i++)
			free(net->cache[i]);
	if (net->grad)
		for (int i = 0; i < net->nlayers * XB_NN_MAX_TENSORS; i++)
			free(net->grad[i]);
	if (net->tap_y)
		for (int i = 0; i <= net->nlayers; i++) {
			free(net->tap_y[i]);
			free(net->tap_d[i]);
		}
	free(net->tap_y);
	free(net->tap_d);
	net->tap_y = net->tap_d = NULL;
	free(net->act);
	free(net->cache);
	free(net->grad);
	free(net->scratch);
	free(net->dbuf[0]);
	free(net->dbuf[1]);
	net->act = NULL;
	net->cache = NULL;
	net->grad = NULL;
	net->scratch = NULL;
	net->dbuf[0] = net->dbuf[1] = NULL;
	net->ws_batch = 0;
	net->fwd_n = 0;
}

void xb_nn_net_free(xb_nn_net *net)
{
	if (!net)
		return;
	nn_net_drop_workspace(net);
	for (int i = 0; i < net->nlayers; i++)
		nn_layer_free(net->layers[i]);
	free(net->layers);
	free(net->tap_layers);
	free(net->rec);
	free(net);
}

const char *xb_nn_net_errmsg(const xb_nn_net *net)
{
	return net ? net->err.msg : xb_errmsg(NULL);
}

xb_status nn_net_push(xb_nn_net *net, xb_nn_layer *l)
{
	if (net->nlayers == net->cap) {
		int cap = net->cap ? 2 * net->cap : 8;
		xb_nn_layer **p = realloc(net->layers, (size_t)cap * sizeof *p);
		if (!p)
			return xb_raise(&net->err, XB_ENOMEM, "network: out of memory");
		net->layers = p;
		net->cap = cap;
	}
	nn_net_drop_workspace(net);
	xb_nn_net_set_tap(net, NULL, 0, NULL, NULL);
	l->index = net->nlayers;
	net->layers[net->nlayers++] = l;
	net->quantized = 0;
	net->calibrated = 0;
	return XB_OK;
}

xb_status xb_nn_net_add_hyper(xb_nn_net *net, const xb_nn_layer_type *type,
			      const xb_nn_hyper *hp)
{
	if (!type || !hp)
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_add_hyper: NULL type or "
				"hyper-parameters");
	xb_nn_layer *l = nn_layer_new(type, hp, xb_nn_net_out_shape(net), net->nlayers,
				      &net->err);
	if (!l)
		return net->err.code;
	xb_status st = nn_net_push(net, l);
	if (st != XB_OK)
		nn_layer_free(l);
	return st;
}

static void list_types(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (const xb_nn_layer_type *const *t = xb_nn_layer_types(NULL); *t; t++) {
		int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", (*t)->name);
		if (w > 0 && used + (size_t)w < len)
			used += (size_t)w;
	}
}

xb_status xb_nn_net_add(xb_nn_net *net, const char *type_name, const char *options)
{
	const xb_nn_layer_type *type = xb_nn_layer_type_find(type_name);
	if (!type) {
		char known[256];
		list_types(known, sizeof known);
		return xb_raise(&net->err, XB_ECONFIG, "layer %d: unknown layer type '%s' "
				"(known: %s)", net->nlayers, type_name ? type_name : "(null)", known);
	}
	char ctx[96];
	snprintf(ctx, sizeof ctx, "layer %d (%s)", net->nlayers, type->name);
	xb_nn_hyper hp = xb_nn_hyper_default();
	xb_status st = nn_parse_options(type, options, &hp, ctx, &net->err);
	if (st != XB_OK)
		return st;
	return xb_nn_net_add_hyper(net, type, &hp);
}

int xb_nn_net_nlayers(const xb_nn_net *net)
{
	return net->nlayers;
}

const xb_nn_layer *xb_nn_net_layer(const xb_nn_net *net, int i)
{
	return i >= 0 && i < net->nlayers ? net->layers[i] : NULL;
}

xb_nn_layer *xb_nn_net_layer_mut(xb_nn_net *net, int i)
{
	return i >= 0 && i < net->nlayers ? net->layers[i] : NULL;
}

xb_nn_shape xb_nn_net_in_shape(const xb_nn_net *net)
{
	return net->in;
}

xb_nn_shape xb_nn_net_out_shape(const xb_nn_net *net)
{
	return net->nlayers ? net->layers[net->nlayers - 1]->out : net->in;
}

size_t xb_nn_net_nparams(const xb_nn_net *net)
{
	size_t n = 0;
	for (int i = 0; i < net->nlayers; i++)
		for (int t = 0; t < net->layers[i]->type->nparams; t++)
			n += net->layers[i]->tsize[t];
	return n;
}

/* Whether layer I's output is tapped. */
static int tapped(const xb_nn_net *net, int i)
{
	for (size_t k = 0; k < net->ntap; k++)
		if (net->tap_layers[k] == i)
			return 1;
	return 0;
}

/* The input of layer I (I = nlayers: the network output) in the last forward. */
static float *layer_in(const xb_nn_net *net, int i)
{
	return i > 0 && net->tap_y && net->tap_y[i] ? net->tap_y[i] : net->act[i];
}

xb_status xb_nn_net_set_tap(xb_nn_net *net, const int *layers, size_t nlayers,
			    xb_nn_tap_fn fn, void *ud)
{
	int *copy = NULL;
	if (fn && nlayers) {
		for (size_t k = 0; k < nlayers; k++)
			if (layers[k] < -1 || layers[k] >= net->nlayers)
				return xb_raise(&net->err, XB_EINVAL, "tap: layer %d is not a layer "
						"of the network (0 .. %d, or -1 for the input)",
						layers[k], net->nlayers - 1);
		if (!(copy = malloc(nlayers * sizeof *copy)))
			return xb_raise(&net->err, XB_ENOMEM, "network: out of memory");
		memcpy(copy, layers, nlayers * sizeof *copy);
	}
	nn_net_drop_workspace(net);
	free(net->tap_layers);
	net->tap_layers = copy;
	net->ntap = copy ? nlayers : 0;
	net->tap_fn = copy ? fn : NULL;
	net->tap_ud = copy ? ud : NULL;
	return XB_OK;
}

void xb_nn_net_set_backend(xb_nn_net *net, const xb_nn_backend *backend)
{
	net->backend = backend ? *backend : xb_nn_backend_float();
}

const xb_nn_backend *xb_nn_net_backend(const xb_nn_net *net)
{
	return &net->backend;
}

void xb_nn_net_init_weights(xb_nn_net *net, uint64_t seed)
{
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		if (l->type->init)
			l->type->init(l, seed);
		l->version++;
	}
}

/* ---- spec text --------------------------------------------------------------------- */

static const struct {
	const char *name, *spec;
} archs[] = {
	/* "Hello Edge" (Zhang et al. 2017) CNN-S size class: 69k parameters.  requant is a
	 * ReLU in float mode and the converting ReLU once quantized. */
	{"kws-cnn",
	 "input 49x10x1\n"
	 "conv2d out=28 kernel=10x4\n"
	 "requant\n"
	 "conv2d out=30 kernel=10x4 stride=2x1\n"
	 "requant\n"
	 "flatten\n"
	 "dense out=16\n"
	 "dense out=128\n"
	 "requant\n"
	 "dense out=12\n"},
	/* "Hello Edge" DS-CNN-S fitted to 128-row tiles: every analog layer takes at most
	 * 64 inputs (one row block: one conversion, one read noise per output); the
	 * depthwise 3x3 convolutions run digitally, the global average pool averages
	 * the pointwise layers' read noise over 125 positions. */
	{"kws-dscnn",
	 "input 49x10x1\n"
	 "conv2d out=64 kernel=10x4 stride=2x2 pad=5x1\n"
	 "requant\n"
	 "dwconv2d kernel=3 pad=1\nrequant\nconv2d out=64 kernel=1\nrequant\n"
	 "dwconv2d kernel=3 pad=1\nrequant\nconv2d out=64 kernel=1\nrequant\n"
	 "dwconv2d kernel=3 pad=1\nrequant\nconv2d out=64 kernel=1\nrequant\n"
	 "dwconv2d kernel=3 pad=1\nrequant\nconv2d out=64 kernel=1\nrequant\n"
	 "avgpool kernel=25x5\n"
	 "flatten\n"
	 "dense out=12\n"},
	/* LeNet-5 with ReLU and max pooling, 28x28 input padded to 32x32 by the first conv */
	{"lenet5",
	 "input 28x28x1\n"
	 "conv2d out=6 kernel=5 pad=2\n"
	 "requant\n"
	 "maxpool kernel=2\n"
	 "conv2d out=16 kernel=5\n"
	 "requant\n"
	 "maxpool kernel=2\n"
	 "flatten\n"
	 "dense out=120\n"
	 "requant\n"
	 "dense out=84\n"
	 "requant\n"
	 "dense out=10\n"},
	{"mlp3",
	 "input 28x28x1\n"
	 "flatten\n"
	 "dense out=64\nrequant\n"
	 "dense out=64\nrequant\n"
	 "dense out=64\nrequant\n"
	 "dense out=10\n"},
	{"mlp3-bn",
	 "input 28x28x1\n"
	 "flatten\n"
	 "dense out=64\nbatchnorm\nrequant\n"
	 "dense out=64\nbatchnorm\nrequant\n"
	 "dense out=64\nbatchnorm\nrequant\n"
	 "dense out=10\n"},
};

const char *xb_nn_arch(const char *name)
{
	for (size_t i = 0; name && i < sizeof archs / sizeof archs[0]; i++)
		if (strcmp(archs[i].name, name) == 0)
			return archs[i].spec;
	return NULL;
}

static int parse_shape(const char *s, xb_nn_shape *sh)
{
	int v[3];
	for (int i = 0; i < 3; i++) {
		const char *e = s;
		while (*e && *e != 'x')
			e++;
		if (parse_int(s, e, &v[i]) || v[i] < 1 || (i < 2 ? *e != 'x' : *e != 0))
			return -1;
		s = e + (i < 2);
	}
	*sh = (xb_nn_shape){v[0], v[1], v[2]};
	return 0;
}

xb_nn_net *xb_nn_net_from_spec(const char *spec, uint64_t seed, xb_err *err)
{
	xb_nn_net *net = NULL;
	char *text = NULL;
	if (!spec) {
		xb_raise(err, XB_EINVAL, "network spec: NULL");
		return NULL;
	}
	/* the name of a stock network stands for its spec */
	while (isspace((unsigned char)*spec))
		spec++;
	size_t len = strlen(spec);
	while (len && isspace((unsigned char)spec[len - 1]))
		len--;
	for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
		if (strlen(archs[i].name) == len && strncmp(archs[i].name, spec, len) == 0)
			spec = archs[i].spec;
	text = strdup(spec);
	if (!text) {
		xb_raise(err, XB_ENOMEM, "network spec: out of memory");
		return NULL;
	}
	/* comments run to the end of the line */
	for (char *p = text; *p; p++)
		if (*p == '#')
			while (*p && *p != '\n')
				*p++ = ' ';
	int stmt = 0;
	char *save = NULL;
	for (char *s = strtok_r(text, ";\n", &save); s; s = strtok_r(NULL, ";\n", &save)) {
		while (isspace((unsigned char)*s))
			s++;
		char *end = s + strlen(s);
		while (end > s && isspace((unsigned char)end[-1]))
			*--end = 0;
		if (!*s)
			continue;
		stmt++;
		char *word = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		if (*s)
			*s++ = 0;
		while (isspace((unsigned char)*s))
			s++;
		if (!net) {
			xb_nn_shape in;
			if (strcmp(word, "input") != 0) {
				xb_raise(err, XB_ECONFIG, "network spec, statement 1: '%s': expected "
					 "'input HxWxC' first", word);
				goto fail;
			}
			if (parse_shape(s, &in) != 0) {
				xb_raise(err, XB_ECONFIG, "network spec, statement 1: input '%s': "
					 "expected HxWxC with positive sizes (e.g. 49x10x1)", s);
				goto fail;
			}
			net = xb_nn_net_new(in, err);
			if (!net)
				goto fail;
			continue;
		}
		if (xb_nn_net_add(net, word, s) != XB_OK) {
			xb_err_copy(err, &net->err);
			xb_err_context(err, "network spec, statement %d", stmt);
			goto fail;
		}
	}
	if (!net) {
		xb_raise(err, XB_ECONFIG, "network spec: empty (expected 'input HxWxC' and layers)");
		goto fail;
	}
	if (net->nlayers == 0) {
		xb_raise(err, XB_ECONFIG, "network spec: no layers after 'input'");
		goto fail;
	}
	free(text);
	xb_nn_net_init_weights(net, seed);
	return net;
fail:
	free(text);
	xb_nn_net_free(net);
	return NULL;
}

char *xb_nn_net_spec(const xb_nn_net *net)
{
	size_t cap = 64 + (size_t)net->nlayers * 256, used = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	used += (size_t)snprintf(s, cap, "input %dx%dx%d\n", net->in.h, net->in.w, net->in.c);
	for (int i = 0; i < net->nlayers; i++) {
		char opt[200];
		nn_format_options(net->layers[i], opt, sizeof opt);
		int w = snprintf(s + used, cap - used, "%s%s%s\n", net->layers[i]->type->name,
				 *opt ? " " : "", opt);
		if (w > 0 && used + (size_t)w < cap)
			used += (size_t)w;
	}
	return s;
}

/* ---- workspace, forward, backward -------------------------------------------------- */

int nn_max_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

/* OpenBLAS built with its own thread pool (pthreads) must not run threads of its own
 * inside the layers' OpenMP threads (each calls sgemm on one chunk): the two pools
 * would spin against each other.  For the length of a pass, set it to one thread when
 * OpenMP has more; the OpenMP build of OpenBLAS needs nothing (it runs single-threaded
 * inside parallel regions).  Returns the count to restore, 0 for none. */
static int blas_enter(void)
{
	if (openblas_get_parallel() != OPENBLAS_THREAD || nn_max_threads() < 2)
		return 0;
	int saved = openblas_get_num_threads();
	if (saved < 2)
		return 0;
	openblas_set_num_threads(1);
	return saved;
}

static void blas_leave(int saved)
{
	if (saved > 0)
		openblas_set_num_threads(saved);
}

xb_status xb_nn_net_reserve(xb_nn_net *net, size_t max_batch)
{
	int threads = nn_max_threads();
	if (max_batch == 0)
		max_batch = 1;
	if (net->ws_batch >= max_batch && net->ws_threads >= threads)
		return XB_OK;
	if (net->ws_batch > max_batch)
		max_batch = net->ws_batch;
	nn_net_drop_workspace(net);
	int nl = net->nlayers;
	size_t scratch = 16, dmax = xb_nn_shape_size(net->in);
	net->act = calloc((size_t)nl + 1, sizeof *net->act);
	net->cache = calloc((size_t)nl + 1, sizeof *net->cache);
	net->grad = calloc((size_t)nl * XB_NN_MAX_TENSORS + 1, sizeof *net->grad);
	if (!net->act || !net->cache || !net->grad)
		goto nomem;
	net->act[0] = malloc(max_batch * xb_nn_shape_size(net->in) * sizeof(float));
	if (!net->act[0])
		goto nomem;
	for (int i = 0; i < nl; i++) {
		xb_nn_layer *l = net->layers[i];
		size_t osz = xb_nn_shape_size(l->out);
		net->act[i + 1] = malloc(max_batch * osz * sizeof(float));
		if (!net->act[i + 1])
			goto nomem;
		if (osz > dmax)
			dmax = osz;
		if (l->type->cache_bytes) {
			size_t cb = l->type->cache_bytes(l, max_batch);
			if (cb && !(net->cache[i] = malloc(cb)))
				goto nomem;
		}
		if (l->type->scratch_floats) {
			size_t sf = l->type->scratch_floats(l, max_batch, threads);
			if (sf > scratch)
				scratch = sf;
		}
		for (int t = 0; t < l->type->nparams; t++)
			if (!(net->grad[i * XB_NN_MAX_TENSORS + t] = calloc(l->tsize[t], sizeof(float))))
				goto nomem;
	}
	if (net->ntap) {
		net->tap_y = calloc((size_t)nl + 1, sizeof *net->tap_y);
		net->tap_d = calloc((size_t)nl + 1, sizeof *net->tap_d);
		if (!net->tap_y || !net->tap_d)
			goto nomem;
		/* the input is changed in place (nothing before it needs it clean) */
		if (tapped(net, -1) &&
		    !(net->tap_d[0] = malloc(max_batch * xb_nn_shape_size(net->in) * sizeof(float))))
			goto nomem;
		for (int i = 0; i < nl; i++) {
			size_t m = max_batch * xb_nn_shape_size(net->layers[i]->out) * sizeof(float);
			if (tapped(net, i) &&
			    (!(net->tap_y[i + 1] = malloc(m)) || !(net->tap_d[i + 1] = malloc(m))))
				goto nomem;
		}
	}
	net->scratch = malloc(scratch * sizeof(float));
	net->dbuf[0] = malloc(max_batch * dmax * sizeof(float));
	net->dbuf[1] = malloc(max_batch * dmax * sizeof(float));
	if (!net->scratch || !net->dbuf[0] || !net->dbuf[1])
		goto nomem;
	net->ws_batch = max_batch;
	net->ws_threads = threads;
	return XB_OK;
nomem:
	nn_net_drop_workspace(net);
	return xb_raise(&net->err, XB_ENOMEM, "network: out of memory for a workspace of %zu "
			"samples", max_batch);
}

/* Layers 0 .. STOP-1 forward on N samples X (into net->act), through the tap if TAP
 * (then layer_in() gives each layer's input; without, net->act[i] is layer i's input,
 * as the quantization and offset calibration passes read it). */
static xb_status forward_slice(xb_nn_net *net, size_t n, const float *x, int training, int stop,
			       int tap)
{
	const float *in = net->act[0];
	size_t isz = xb_nn_shape_size(net->in);
	memcpy(net->act[0], x, n * isz * sizeof(float));
	if (tap && net->tap_d && net->tap_d[0]) {
		xb_status st = net->tap_fn(net->tap_ud, -1, n, isz, net->act[0], net->tap_d[0],
					   &net->err);
		if (st != XB_OK)
			return st;
	}
	for (int i = 0; i < stop; i++) {
		xb_nn_layer *l = net->layers[i];
		xb_nn_run run = {training, net->quantized, &net->backend, net->scratch,
				 net->ws_threads, net->cache[i], &net->err};
		xb_status st = l->type->forward(l, &run, n, in, net->act[i + 1]);
		if (st != XB_OK)
			return st;
		in = net->act[i + 1];
		if (tap && net->tap_y && net->tap_y[i + 1]) {
			size_t m = xb_nn_shape_size(l->out);
			memcpy(net->tap_y[i + 1], in, n * m * sizeof(float));
			if ((st = net->tap_fn(net->tap_ud, i, n, m, net->tap_y[i + 1],
					      net->tap_d[i + 1], &net->err)) != XB_OK)
				return st;
			in = net->tap_y[i + 1];
		}
	}
	return XB_OK;
}

xb_status xb_nn_net_forward(xb_nn_net *net, size_t n, const float *x, float *y, int training)
{
	if (net->nlayers == 0)
		return xb_raise(&net->err, XB_ESTATE, "network has no layers");
	if ((!x || !y) && n)
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_forward: NULL input or output");
	net->fwd_n = 0;
	if (net->quantized)
		nn_quant_refresh(net);
	size_t want = training ? n : (n < NN_EVAL_BATCH ? n : NN_EVAL_BATCH);
	if (net->ws_batch < want || net->ws_batch == 0 || net->ws_threads < nn_max_threads()) {
		xb_status st = xb_nn_net_reserve(net, want);
		if (st != XB_OK)
			return st;
	}
	size_t isz = xb_nn_shape_size(net->in), osz = xb_nn_shape_size(xb_nn_net_out_shape(net));
	size_t b = net->ws_batch;
	xb_status st = XB_OK;
	int blas = blas_enter();
	for (size_t s0 = 0; s0 < n && st == XB_OK; s0 += b) {
		size_t cnt = n - s0 < b ? n - s0 : b;
		st = forward_slice(net, cnt, x + s0 * isz, training, net->nlayers, 1);
		if (st != XB_OK)
			break;
		memcpy(y + s0 * osz, layer_in(net, net->nlayers), cnt * osz * sizeof(float));
		if (cnt == n) {
			net->fwd_n = n;
			net->fwd_training = training;
		}
	}
	blas_leave(blas);
	return st;
}

xb_status xb_nn_net_backward(xb_nn_net *net, size_t n, const float *dy, float *dx)
{
	if (net->fwd_n == 0 || net->fwd_n != n)
		return xb_raise(&net->err, XB_ESTATE, "xb_nn_net_backward: no forward pass of %zu "
				"samples to go back through (last kept: %zu)", n, net->fwd_n);
	const float *cur = dy;
	xb_status st = XB_OK;
	int blas = blas_enter();
	for (int i = net->nlayers - 1; i >= 0 && st == XB_OK; i--) {
		xb_nn_layer *l = net->layers[i];
		float *out = i > 0 ? net->dbuf[i % 2] : dx;
		xb_nn_run run = {net->fwd_training, net->quantized, &net->backend, net->scratch,
				 net->ws_threads, net->cache[i], &net->err};
		if (net->tap_d && net->tap_d[i + 1]) {
			/* through the tap: dL/dy = dL/dy' dy'/dy (into the other buffer) */
			float *g = net->dbuf[(i + 1) % 2];
			const float *d = net->tap_d[i + 1];
			size_t m = n * xb_nn_shape_size(l->out);
			for (size_t k = 0; k < m; k++)
				g[k] = cur[k] * d[k];
			cur = g;
		}
		st = l->type->backward(l, &run, n, layer_in(net, i), net->act[i + 1], cur, out,
				       net->grad + i * XB_NN_MAX_TENSORS);
		cur = out;
	}
	if (st == XB_OK && dx && net->tap_d && net->tap_d[0]) {   /* the input's tap */
		size_t m = n * xb_nn_shape_size(net->in);
		for (size_t k = 0; k < m; k++)
			dx[k] *= net->tap_d[0][k];
	}
	blas_leave(blas);
	return st;
}

const float *xb_nn_net_grad(const xb_nn_net *net, int i, int t)
{
	if (!net->grad || i < 0 || i >= net->nlayers || t < 0 || t >= net->layers[i]->type->nparams)
		return NULL;
	return net->grad[i * XB_NN_MAX_TENSORS + t];
}

/* ---- folding ------------------------------------------------------------------------ */

xb_status xb_nn_net_fold(xb_nn_net *net)
{
	/* check every fold first, so that a failure leaves the network unchanged */
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		if (!l->type->fold)
			continue;
		xb_nn_layer *prev = i > 0 ? net->layers[i - 1] : NULL;
		if (!prev || !(prev->type->exec == XB_NN_ANALOG || prev->type == &xb_nn_dwconv2d) ||
		    prev->out.c != l->in.c || prev->type->nparams != 2)
			return xb_raise(&net->err, XB_EUNSUPPORTED, "layer %d (%s): cannot fold: "
					"expected a dense, conv or depthwise layer right before it, "
					"found %s", i, l->type->name,
					prev ? prev->type->name : "the network input");
	}
	int j = 0;
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		if (l->type->fold && j > 0) {
			xb_status st = l->type->fold(l, net->layers[j - 1], &net->err);
			if (st != XB_OK)
				return st;  /* not reached: checked above */
			nn_layer_free(l);
			continue;
		}
		l->index = j;
		net->layers[j++] = l;
	}
	if (j != net->nlayers) {
		nn_net_drop_workspace(net);
		xb_nn_net_set_tap(net, NULL, 0, NULL, NULL);
		net->nlayers = j;
		net->quantized = 0;
		net->calibrated = 0;
	}
	return XB_OK;
}

/* ---- quantization ------------------------------------------------------------------- */

xb_nn_quant_params xb_nn_quant_default_params(void)
{
	xb_nn_quant_params p = {99.5, 1, 1.0, 1};
	return p;
}

int nn_layer_sends(const xb_nn_layer *l, const xb_nn_backend *be)
{
	return l->hp.sends > 0 ? l->hp.sends : be && be->sends > 0 ? be->sends : 1;
}

double nn_layer_gain(const xb_nn_layer *l, const xb_nn_backend *be)
{
	return be->gain * nn_layer_sends(l, be);
}

static int scale_transparent(const xb_nn_layer *l)
{
	return l->type == &xb_nn_maxpool || l->type == &xb_nn_avgpool ||
	       l->type == &xb_nn_flatten || l->type == &xb_nn_relu;
}

void nn_quant_link(xb_nn_net *net)
{
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		int j = i - 1;
		while (j >= 0 && scale_transparent(net->layers[j]))
			j--;
		const xb_nn_layer *src = j >= 0 ? net->layers[j] : NULL;
		if (l->type->exec == XB_NN_ANALOG)
			l->q.x_from = src && src->type == &xb_nn_requant ? j : -1;
		else if (l->type == &xb_nn_requant)
			l->requant_src = src && src->type->exec == XB_NN_ANALOG ? j : -1;
	}
}

static float max_abs(const float *w, size_t n)
{
	float m = 0.0f;
	for (size_t i = 0; i < n; i++)
		if (fabsf(w[i]) > m)
			m = fabsf(w[i]);
	return m;
}

/* Weight scale and codes, digital offsets and k of analog layer L given its s_x, z and
 * the gain G of one send. */
static void quant_layer(xb_nn_layer *l, const xb_nn_backend *be)
{
	double gain = nn_layer_gain(l, be);
	xb_nn_quant *q = &l->q;
	float qw = (float)((1 << l->hp.wbits) - 1);
	float m = max_abs(l->t[0], l->tsize[0]);
	q->w_scale = m > 0.0f ? m / qw : 1.0f;
	xb_nn_quantize_weights(l->t[0], l->tsize[0], l->hp.wbits, q->w_scale, q->wq);
	q->wq_version = l->version;
	double sws = (double)q->w_scale * q->x_scale;
	double k = sws / gain;
	q->lsb_scale = (float)k;
	for (size_t r = 0; r < l->rows; r++) {
		int64_t rs = 0;
		for (size_t c = 0; c < l->cols; c++)
			rs += q->wq[r * l->cols + c];
		q->bias_lsb[r] = (float)rint(((double)l->t[1][r] - sws * q->x_zero * (double)rs) / k +
					     (double)q->offset_lsb[r]);
	}
}

void nn_quant_refresh(xb_nn_net *net)
{
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		if (l->type->exec == XB_NN_ANALOG) {
			if (l->q.x_from >= 0) {
				l->q.x_scale = (float)nn_requant_scale(net->layers[l->q.x_from]);
				l->q.x_zero = 0;
			}
			quant_layer(l, &net->backend);
		} else if (l->type == &xb_nn_requant && l->requant_src >= 0) {
			l->requant_in_scale = net->layers[l->requant_src]->q.lsb_scale;
		}
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Values at the lower and upper PCT percentiles of V[N] (sorted in place). */
static void percentiles(float *v, size_t n, double pct, double *lo, double *hi)
{
	if (n == 0) {
		*lo = *hi = 0.0;
		return;
	}
	qsort(v, n, sizeof *v, cmp_float);
	double f = pct / 100.0;
	size_t ih = (size_t)ceil(f * (double)(n - 1)), il = (size_t)floor((1.0 - f) * (double)(n - 1));
	*lo = v[il];
	*hi = v[ih];
}

/* Does the backend bound the linear output range (so that sends can be chosen)? */
static int has_linear_limit(const xb_nn_backend *be)
{
	return be->lsb_linear > 0.0 && isfinite(be->lsb_linear);
}

/* The sends of analog layer L (quantized for one send) from its float outputs Y[N],
 * kept only when a fill is asked and the backend has a linear limit: the raw output
 * of one send in LSB is y / k - d (d the row's digital offset); its PERCENTILE of |.|
 * should reach at most fill * lsb_linear (xb_nn.h). */
static int choose_sends(const xb_nn_backend *be, const xb_nn_layer *l,
			const xb_nn_quant_params *qp, float *y, size_t n)
{
	int most = be->max_sends >= 1 ? be->max_sends : 1, s;
	double k = l->q.lsb_scale, lo, hi, top;

	if (n == 0 || !(k > 0.0))
		return 0;
	for (size_t i = 0; i < n; i++)
		y[i] = fabsf((float)(y[i] / k) - l->q.bias_lsb[i % l->rows]);
	percentiles(y, n, qp->percentile, &lo, &hi);
	top = qp->fill * be->lsb_linear;
	if (most > XB_NN_MAX_SENDS)
		most = XB_NN_MAX_SENDS;
	s = hi > 0.0 ? (int)floor(top / hi) : most;
	return s < 1 ? 1 : s > most ? most : s;
}

xb_status xb_nn_net_quantize(xb_nn_net *net, size_t n, const float *x,
			     const xb_nn_quant_params *qp)
{
	xb_nn_quant_params dflt = xb_nn_quant_default_params();
	int nl = net->nlayers;
	float **vals = NULL, **outs = NULL;
	size_t *nv = NULL, *nout = NULL;
	xb_status st = XB_OK;
	if (!qp)
		qp = &dflt;
	if (nl < 1)
		return xb_raise(&net->err, XB_ESTATE, "xb_nn_net_quantize: the network has no layers");
	if (n == 0 || !x)
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_quantize: no calibration samples");
	if (!(qp->percentile > 50.0 && qp->percentile <= 100.0))
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_quantize: percentile %g: "
				"expected 50 < p <= 100", qp->percentile);
	if (!(qp->fill >= 0.0 && qp->fill <= 1.0))
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_quantize: fill %g: expected "
				"0 .. 1 (a fraction of the linear output range)", qp->fill);
	if (!(net->backend.gain > 0.0) || !isfinite(net->backend.gain))
		return xb_raise(&net->err, XB_EINVAL, "xb_nn_net_quantize: backend %s gain %g: "
				"expected > 0", net->backend.type->name, net->backend.gain);
	for (int i = 0; i < nl; i++)
		if (net->layers[i]->type == &xb_nn_batchnorm)
			return xb_raise(&net->err, XB_EUNSUPPORTED, "layer %d (batchnorm): fold "
					"batch norms before quantizing (xb_nn_net_fold)", i);
	nn_quant_link(net);
	for (int i = 0; i < nl; i++) {
		xb_nn_layer *l = net->layers[i];
		if (l->type->exec == XB_NN_ANALOG) {
			memset(l->q.offset_lsb, 0, l->rows * sizeof *l->q.offset_lsb);
			l->q.x_split = 0;
		}
	}
	for (int i = 0; i < nl; i++) {
		xb_nn_layer *l = net->layers[i];
		if (l->type->exec == XB_NN_ANALOG && l->q.x_from >= 0 &&
		    net->layers[l->q.x_from]->hp.bits != l->hp.xbits)
			return xb_raise(&net->err, XB_ECONFIG, "layer %d (requant): bits = %d but "
					"layer %d (%s) takes xbits = %d: make them equal",
					l->q.x_from, net->layers[l->q.x_from]->hp.bits, i,
					l->type->name, l->hp.xbits);
	}

	/* float pass over the calibration data, keeping the inputs of the layers whose
	 * ranges set a scale */
	vals = calloc((size_t)(unsigned)nl, sizeof *vals);
	nv = calloc((size_t)(unsigned)nl, sizeof *nv);
	outs = calloc((size_t)(unsigned)nl, sizeof *outs);
	nout = calloc((size_t)(unsigned)nl, sizeof *nout);
	if (!vals || !nv || !outs || !nout)
		goto nomem;
	for (int i = 0; i < nl; i++) {
		xb_nn_layer *l = net->layers[i];
		int probe = (l->type->exec == XB_NN_ANALOG && l->q.x_from < 0 &&
			     (i > 0 || qp->quantize_inputs)) ||
			    (l->type == &xb_nn_requant && l->hp.shift == XB_NN_SHIFT_AUTO) ||
			    (l->type == &xb_nn_requant && l->requant_src < 0);
		if (probe && !(vals[i] = malloc(n * xb_nn_shape_size(l->in) * sizeof(float))))
			goto nomem;
		if (l->type->exec == XB_NN_ANALOG && l->hp.sends == 0 && qp->fill > 0.0 &&
		    has_linear_limit(&net->backend) &&
		    !(outs[i] = malloc(n * xb_nn_shape_size(l->out) * sizeof(float))))
			goto nomem;
	}
	net->quantized = 0;
	if ((st = xb_nn_net_reserve(net, n < NN_EVAL_BATCH ? n : NN_EVAL_BATCH)) != XB_OK)
		goto done;
	size_t isz = xb_nn_shape_size(net->in), b = net->ws_batch;
	for (size_t s0 = 0; s0 < n; s0 += b) {
		size_t cnt = n - s0 < b ? n - s0 : b;
		int blas = blas_enter();
		st = forward_slice(net, cnt, x + s0 * isz, 0, net->nlayers, 0);
		blas_leave(blas);
		if (st != XB_OK)
			goto done;
		for (int i = 0; i < nl; i++) {
			if (vals[i]) {
				size_t m = cnt * xb_nn_shape_size(net->layers[i]->in);
				memcpy(vals[i] + nv[i], net->act[i], m * sizeof(float));
				nv[i] += m;
			}
			if (outs[i]) {
				size_t m = cnt * xb_nn_shape_size(net->layers[i]->out);
				memcpy(outs[i] + nout[i], net->act[i + 1], m * sizeof(float));
				nout[i] += m;
			}
		}
	}
	net->fwd_n = 0;

	/* scales in layer order: each k depends on the shifts before it */
	for (int i = 0; i < nl; i++) {
		xb_nn_layer *l = net->layers[i];
		double lo = 0, hi = 0;
		if (vals[i])
			percentiles(vals[i], nv[i], qp->percentile, &lo, &hi);
		if (l->type->exec == XB_NN_ANALOG) {
			double qx = (double)((1 << l->hp.xbits) - 1);
			if (l->q.x_from >= 0) {
				l->q.x_scale = (float)nn_requant_scale(net->layers[l->q.x_from]);
				l->q.x_zero = 0;
			} else if (!vals[i]) {
				/* inputs are codes already */
				l->q.x_scale = 1.0f;
				l->q.x_zero = 0;
			} else if (qp->split_signed && lo < 0) {
				/* signed inputs as row pairs: z = 0, codes in [-Qx, Qx] */
				double m = fmax(-lo, hi);
				l->q.x_scale = (float)(m > 0 ? m / qx : 1.0);
				l->q.x_zero = 0;
				l->q.x_split = 1;
			} else {
				lo = lo < 0 ? lo : 0;
				hi = hi > 0 ? hi : 0;
				if (hi - lo <= 0)
					hi = lo + 1.0;
				double s = (hi - lo) / qx;
				double z = rint(-lo / s);
				l->q.x_scale = (float)s;
				l->q.x_zero = (int)(z < 0 ? 0 : z > qx ? qx : z);
			}
			if (l->hp.sends == 0 && outs[i]) {
				l->hp.sends = 1;
				quant_layer(l, &net->backend);
				l->hp.sends = choose_sends(&net->backend, l, qp, outs[i], nout[i]);
			}
			quant_layer(l, &net->backend);
		} else if (l->type == &xb_nn_requant) {
			double qx = (double)((1 << l->hp.bits) - 1);
			if (hi <= 0)
				hi = 1.0;
			if (l->requant_src >= 0) {
				double k = net->layers[l->requant_src]->q.lsb_scale;
				l->requant_in_scale = (float)k;
				if (l->hp.shift == XB_NN_SHIFT_AUTO) {
					double sh = rint(log2(hi / (qx * k)));
					l->hp.shift = (int)(sh < 0 ? 0 : sh > 30 ? 30 : sh);
				}
			} else {
				if (l->hp.shift == XB_NN_SHIFT_AUTO)
					l->hp.shift = 0;
				l->requant_in_scale = (float)(hi / qx / ldexp(1.0, l->hp.shift));
			}
		}
	}
	net->calibrated = 1;
	net->quantized = 1;
	nn_quant_refresh(net);
	goto done;
nomem:
	st = xb_raise(&net->err, XB_ENOMEM, "xb_nn_net_quantize: out of memory for %zu "
		      "calibration samples", n);
done:
	for (int i = 0; i < nl; i++) {
		if (vals)
			free(vals[i]);
		if (outs)
			free(outs[i]);
	}
	free(vals);
	free(nv);
	free(outs);
	free(nout);
	return st;
}

xb_status xb_nn_net_calibrate_offsets(xb_nn_net *net, size_t n, const float *x)
{
	size_t isz = xb_nn_shape_size(net->in);
	xb_status st = XB_OK;

	if (!net->quantized)
		return xb_raise(&net->err, XB_ESTATE, "offset calibration: the network is not in "
				"quantized mode (xb_nn_net_quantize first)");
	if (n == 0 || !x)
		return xb_raise(&net->err, XB_EINVAL, "offset calibration: no samples");
	if (!net->backend.type || net->backend.type == &xb_nn_backend_float_type ||
	    !net->backend.type->mvm_codes)
		return XB_OK;
	nn_quant_refresh(net);
	if ((st = xb_nn_net_reserve(net, n < NN_EVAL_BATCH ? n : NN_EVAL_BATCH)) != XB_OK)
		return st;
	/* layer by layer: the layers up to I run, with the corrections before I in place */
	for (int i = 0; i < net->nlayers && st == XB_OK; i++) {
		xb_nn_layer *l = net->layers[i];
		xb_nn_quant *q = &l->q;
		if (l->type->exec != XB_NN_ANALOG)
			continue;
		if (!(q->cal_sum = calloc(2 * l->rows, sizeof *q->cal_sum))) {
			st = xb_raise(&net->err, XB_ENOMEM, "offset calibration: out of memory");
			break;
		}
		for (size_t s0 = 0; s0 < n && st == XB_OK; s0 += net->ws_batch) {
			size_t cnt = n - s0 < net->ws_batch ? n - s0 : net->ws_batch;
			int blas = blas_enter();
			st = forward_slice(net, cnt, x + s0 * isz, 0, i + 1, 0);
			blas_leave(blas);
		}
		if (st == XB_OK)
			for (size_t r = 0; r < l->rows; r++)
				if (q->cal_sum[l->rows + r] > 0)
					q->offset_lsb[r] = (float)(-q->cal_sum[r] /
								   q->cal_sum[l->rows + r]);
		free(q->cal_sum);
		q->cal_sum = NULL;
		quant_layer(l, &net->backend);   /* d with the correction */
	}
	net->fwd_n = 0;
	return st;
}

xb_status xb_nn_net_set_quantized(xb_nn_net *net, int quantized)
{
	if (quantized && !net->calibrated)
		return xb_raise(&net->err, XB_ESTATE, "network not calibrated for quantized mode "
				"(run xb_nn_net_quantize first)");
	net->quantized = quantized != 0;
	net->fwd_n = 0;
	return XB_OK;
}

int xb_nn_net_quantized(const xb_nn_net *net)
{
	return net->quantized;
}
