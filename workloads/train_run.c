/* train_run.c - the training pipeline of `xbarsim train`: [train] keys, data, phases, model search.
 * Float, noise-aware and hardware-aware training of a network from a resolved configuration.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "train_int.h"
#include "nn_int.h"
#include "xb_data.h"

/* The device backend (workloads/xb_device_nn.h) is wired in train_device.c. */
#define XB_TRAIN_DEVICE 1

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const xb_key train_keys[] = {
	{ "train.arch", XB_KEY_STRING, "", 0, 0, NULL, "kws-cnn",
	  "network: a stock name (kws-cnn, kws-dscnn, lenet5, mlp3, mlp3-bn) or spec text" },
	{ "train.batchnorm", XB_KEY_BOOL, "", 0, 0, NULL, "false",
	  "train with a batch norm before every requant (folded away before saving)" },
	{ "train.init", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "start from this model file instead of a new network (empty = new)" },
	{ "train.data", XB_KEY_STRING, "", 0, 0, NULL, "kws-synth",
	  "kws-synth (synthesised in process), fashion-mnist, or a data-set file/name" },
	{ "train.val_data", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "separate validation data-set file (empty = the data's own validation split)" },
	{ "train.val_count", XB_KEY_INT, "samples", 0, 1e9, NULL, "5000",
	  "validation samples held out from the end of the training data when it has none" },
	{ "train.fmnist_dir", XB_KEY_STRING, "", 0, 0, NULL, "/usr/share/datasets/fashion-mnist",
	  "directory of the Fashion-MNIST IDX files" },
	{ "train.kws_seed", XB_KEY_INT, "", 0, 4294967295.0, NULL, "1",
	  "seed of the synthesised keyword corpus" },
	{ "train.kws_variants", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "espeak-ng voice variants of the corpus (empty = the generator's 16)" },
	{ "train.kws_pitches", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "base pitches 0-99 of the corpus (empty = 30 50 70)" },
	{ "train.kws_speeds", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "speaking rates of the corpus, words per minute (empty = 140 190)" },
	{ "train.kws_jobs", XB_KEY_INT, "processes", 1, 64, NULL, "2",
	  "espeak-ng processes at once while synthesising" },
	{ "train.epochs", XB_KEY_INT, "epochs", 0, 100000, NULL, "20",
	  "float (or noisy) training epochs" },
	{ "train.batch", XB_KEY_INT, "samples", 1, 65536, NULL, "64", "minibatch size" },
	{ "train.lr", XB_KEY_DOUBLE, "", 1e-9, 10, NULL, "0.002",
	  "peak learning rate of the cosine schedule (Adam)" },
	{ "train.lr_min", XB_KEY_DOUBLE, "", 0, 10, NULL, "0", "final learning rate" },
	{ "train.weight_decay", XB_KEY_DOUBLE, "", 0, 1, NULL, "0",
	  "decoupled (AdamW) weight decay" },
	{ "train.seed", XB_KEY_INT, "", 0, 4294967295.0, NULL, "1",
	  "seed of initial weights, shuffles, augmentation and training noise" },
	{ "train.augment", XB_KEY_BOOL, "", 0, 0, NULL, "false",
	  "augment training samples (time shift and time/frequency masks, for KWS)" },
	{ "train.aug_shift", XB_KEY_INT, "frames", 0, 1000, NULL, "5",
	  "augmentation: random time shift up to this many frames" },
	{ "train.aug_time_masks", XB_KEY_INT, "", 0, 100, NULL, "1",
	  "augmentation: number of time masks" },
	{ "train.aug_time_mask_max", XB_KEY_INT, "frames", 0, 1000, NULL, "6",
	  "augmentation: widest time mask" },
	{ "train.aug_freq_masks", XB_KEY_INT, "", 0, 100, NULL, "1",
	  "augmentation: number of frequency masks" },
	{ "train.aug_freq_mask_max", XB_KEY_INT, "coefficients", 0, 1000, NULL, "2",
	  "augmentation: widest frequency mask" },
	{ "train.against", XB_KEY_ENUM, "", 0, 0, "float|ideal|unordered|ordered|noisy", "float",
	  "what to train against (--against overrides)" },
	{ "train.ft_epochs", XB_KEY_INT, "epochs", 0, 100000, NULL, "3",
	  "hardware-aware fine-tuning epochs (ideal, unordered, ordered)" },
	{ "train.ft_lr", XB_KEY_DOUBLE, "", 1e-9, 10, NULL, "0.0002",
	  "peak learning rate of the fine-tuning" },
	{ "train.ft_distill", XB_KEY_DOUBLE, "", 0, 1, NULL, "0",
	  "fine-tuning: weight of the distillation from the float network (0 = plain "
	  "cross-entropy, 1 = the teacher's softened outputs only)" },
	{ "train.ft_temperature", XB_KEY_DOUBLE, "", 0.01, 100, NULL, "2",
	  "fine-tuning: temperature of the distillation's softmax" },
	{ "train.ft_recalibrate", XB_KEY_BOOL, "", 0, 0, NULL, "false",
	  "fine-tuning: recalibrate the device offsets after every epoch and for the kept "
	  "one (with workload.offset_cal), as a chip calibrates the weights it runs" },
	{ "train.calib_samples", XB_KEY_INT, "samples", 1, 1e9, NULL, "1000",
	  "training samples that calibrate the quantization" },
	{ "train.quant_percentile", XB_KEY_DOUBLE, "%", 50, 100, NULL, "99.5",
	  "activation percentile mapped to the top input code" },
	{ "train.weight_clip", XB_KEY_DOUBLE, "std", 0, 100, NULL, "0",
	  "before quantizing, clip each analog layer's weights at this many standard "
	  "deviations (0 = off): larger codes for the bulk of the weights" },
	{ "train.noise_add", XB_KEY_DOUBLE, "", 0, 10, NULL, "0",
	  "noisy: additive noise std, fraction of train.noise_scale" },
	{ "train.noise_scale", XB_KEY_ENUM, "", 0, 0, "max|std", "max",
	  "noisy: unit of noise_add, the call's largest |output| or the std of its outputs" },
	{ "train.noise_mul", XB_KEY_DOUBLE, "", 0, 10, NULL, "0",
	  "noisy: multiplicative noise std, fraction of each noised output" },
	{ "train.noise_at", XB_KEY_ENUM, "", 0, 0, "mvm|output", "mvm",
	  "noisy: noise on the analog layers' MVM outputs, or on the outputs of the layers "
	  "of noise_layers (any type: the sites of xbarsim walk)" },
	{ "train.noise_layers", XB_KEY_LIST, "", -1, 10000, NULL, "",
	  "noisy: indices of the layers that get noise, batch norms counted (empty = every "
	  "analog layer); analog layers only with noise_at = mvm; -1 = the input (output)" },
	{ "train.noise_factors", XB_KEY_LIST, "", 0, 1000, NULL, "",
	  "noisy: one factor of noise_add and noise_mul per entry of noise_layers (empty = 1)" },
	{ "train.record_time", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "write epoch times into the training record (false: zeros, reproducible files)" },
};

xb_status xb_train_register_keys(void)
{
	return xb_config_register(train_keys, sizeof train_keys / sizeof *train_keys);
}

static const char *const mode_names[] = { "float", "ideal", "unordered", "ordered", "noisy" };

int xb_train_mode_parse(const char *name)
{
	for (int i = 0; name && i < 5; i++)
		if (!strcmp(name, mode_names[i]))
			return i;
	return -1;
}

const char *xb_train_mode_name(xb_train_mode mode)
{
	return (unsigned)mode < 5 ? mode_names[mode] : "?";
}

int xb_train_have_device(void)
{
	return XB_TRAIN_DEVICE;
}

xb_status xb_train_model_path(const char *name, char *buf, size_t len, xb_err *err)
{
	return xb_find_data("model", name, "models", buf, len, err);
}

/* ---- data ---------------------------------------------------------------------- */

/* The data of a run: owned data sets and views of their splits. */
typedef struct train_data {
	xb_dataset *all, *train, *val, *test, *valfile;
	xb_nn_data dtrain, dval, dtest;
	int h, w, c, nclasses;
} train_data;

static void data_free(train_data *d)
{
	xb_dataset_free(d->all);
	xb_dataset_free(d->train);
	xb_dataset_free(d->val);
	xb_dataset_free(d->test);
	xb_dataset_free(d->valfile);
	memset(d, 0, sizeof *d);
}

static xb_nn_data view(xb_dataset *ds, size_t first, size_t n)
{
	xb_nn_data v = { 0, NULL, NULL };
	if (!ds || n == 0)
		return v;
	v.n = n;
	v.x = xb_dataset_features(ds) + first * xb_dataset_sample_size(ds);
	v.label = xb_dataset_labels(ds) + first;
	return v;
}

/* Train/valid/test views of the in-memory data set ALL (split into owned copies). */
static xb_status split_all(train_data *d, size_t val_count, xb_err *err)
{
	if (!(d->train = xb_dataset_select(d->all, XB_SPLIT_TRAIN, err)) ||
	    !(d->val = xb_dataset_select(d->all, XB_SPLIT_VALID, err)) ||
	    !(d->test = xb_dataset_select(d->all, XB_SPLIT_TEST, err)))
		return err ? err->code : XB_ENOMEM;
	xb_dataset_free(d->all);
	d->all = NULL;
	size_t nt = xb_dataset_count(d->train), nv = xb_dataset_count(d->val);
	if (nv > 0 || val_count == 0 || nt <= val_count) {
		d->dtrain = view(d->train, 0, nt);
		d->dval = view(d->val, 0, nv);
	} else {
		d->dtrain = view(d->train, 0, nt - val_count);
		d->dval = view(d->train, nt - val_count, val_count);
	}
	d->dtest = view(d->test, 0, xb_dataset_count(d->test));
	return XB_OK;
}

static xb_status load_data(const xb_config *cfg, const xb_train_hooks *hk, train_data *d,
			   xb_err *err)
{
	const char *name = xb_config_str(cfg, "train.data");
	size_t val_count = (size_t)xb_config_int(cfg, "train.val_count");
	char path[4096];
	xb_status st;

	memset(d, 0, sizeof *d);
	if (!strcmp(name, "kws-synth")) {
		xb_kws_params p = xb_kws_default_params();
		const char *v = xb_config_str(cfg, "train.kws_variants");
		const char *pi = xb_config_str(cfg, "train.kws_pitches");
		const char *sp = xb_config_str(cfg, "train.kws_speeds");
		p.seed = (uint64_t)xb_config_int(cfg, "train.kws_seed");
		if (v[0])
			p.variants = v;
		if (pi[0])
			p.pitches = pi;
		if (sp[0])
			p.speeds_wpm = sp;
		p.jobs = (int)xb_config_int(cfg, "train.kws_jobs");
		p.keep_sources = 0;
		p.progress = hk->progress;
		p.progress_ud = hk->progress_ud;
		if (hk->on_phase)
			hk->on_phase(hk->phase_ud, "synthesising the keyword corpus");
		if ((st = xb_kws_generate(&p, NULL, &d->all, NULL, err)) != XB_OK)
			return xb_err_context(err, "train.data = kws-synth");
		if ((st = split_all(d, 0, err)) != XB_OK)
			return st;
	} else if (!strcmp(name, "fashion-mnist")) {
		const char *dir = xb_config_str(cfg, "train.fmnist_dir");
		if (!(d->train = xb_data_load_fashion_mnist(dir, XB_SPLIT_TRAIN, err)) ||
		    !(d->test = xb_data_load_fashion_mnist(dir, XB_SPLIT_TEST, err)))
			return xb_err_context(err, "train.data = fashion-mnist (train.fmnist_dir = %s)",
					      dir);
		size_t nt = xb_dataset_count(d->train);
		if (val_count >= nt)
			return xb_raise(err, XB_ECONFIG, "train.val_count = %zu: expected fewer than "
					"the %zu training images", val_count, nt);
		d->dtrain = view(d->train, 0, nt - val_count);
		d->dval = view(d->train, nt - val_count, val_count);
		d->dtest = view(d->test, 0, xb_dataset_count(d->test));
	} else {
		if ((st = xb_data_path(name, path, sizeof path, err)) != XB_OK)
			return xb_err_context(err, "train.data");
		if (!(d->all = xb_dataset_load(path, XB_SPLIT_ALL, err)))
			return xb_err_context(err, "train.data");
		if ((st = split_all(d, val_count, err)) != XB_OK)
			return st;
	}
	xb_dataset *ref = d->train;
	xb_dataset_shape(ref, &d->h, &d->w, &d->c);
	d->nclasses = xb_dataset_nclasses(ref);
	const char *vname = xb_config_str(cfg, "train.val_data");
	if (vname[0]) {
		if ((st = xb_data_path(vname, path, sizeof path, err)) != XB_OK)
			return xb_err_context(err, "train.val_data");
		if (!(d->valfile = xb_dataset_load(path, XB_SPLIT_ALL, err)))
			return xb_err_context(err, "train.val_data");
		int h, w, c;
		xb_dataset_shape(d->valfile, &h, &w, &c);
		if (h != d->h || w != d->w || c != d->c)
			return xb_raise(err, XB_ECONFIG, "train.val_data = %s: samples are %dx%dx%d, "
					"expected %dx%dx%d like train.data", vname, h, w, c, d->h,
					d->w, d->c);
		d->dval = view(d->valfile, 0, xb_dataset_count(d->valfile));
	}
	if (d->dtrain.n == 0)
		return xb_raise(err, XB_ECONFIG, "train.data = %s: no training samples", name);
	return XB_OK;
}

/* Clip the weights of every analog layer of NET at K standard deviations (about 0). */
static void clip_weights(xb_nn_net *net, double k)
{
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		xb_nn_layer *l = xb_nn_net_layer_mut(net, i);
		if (l->type->exec != XB_NN_ANALOG || l->tsize[0] == 0)
			continue;
		double ss = 0.0;
		for (size_t j = 0; j < l->tsize[0]; j++)
			ss += (double)l->t[0][j] * l->t[0][j];
		float c = (float)(k * sqrt(ss / (double)l->tsize[0]));
		for (size_t j = 0; j < l->tsize[0]; j++)
			l->t[0][j] = l->t[0][j] > c ? c : l->t[0][j] < -c ? -c : l->t[0][j];
		xb_nn_layer_touch(l);
	}
}

/* A float copy of NET (same topology and tensors, float backend, no record): the
 * teacher of the distillation.  NULL on error (message on ERR). */
static xb_nn_net *clone_float(const xb_nn_net *net, xb_err *err)
{
	char *spec = xb_nn_net_spec(net);
	xb_nn_net *c;
	if (!spec) {
		xb_raise(err, XB_ENOMEM, "distillation teacher: out of memory");
		return NULL;
	}
	c = xb_nn_net_from_spec(spec, 0, err);
	free(spec);
	if (!c) {
		xb_err_context(err, "distillation teacher");
		return NULL;
	}
	for (int i = 0; i < xb_nn_net_nlayers(net); i++) {
		const xb_nn_layer *a = xb_nn_net_layer(net, i);
		xb_nn_layer *b = xb_nn_net_layer_mut(c, i);
		for (int t = 0; b && t < a->ntensors && t < b->ntensors; t++)
			if (a->tsize[t] == b->tsize[t])
				memcpy(b->t[t], a->t[t], a->tsize[t] * sizeof(float));
		xb_nn_layer_touch(b);
	}
	return c;
}

/* ---- phases -------------------------------------------------------------------- */

typedef struct epoch_ctx {
	const xb_train_hooks *hk;
	const char *phase;
} epoch_ctx;

static int epoch_cb(void *ud, const xb_nn_epoch *e)
{
	epoch_ctx *ec = ud;
	return ec->hk->on_epoch ? ec->hk->on_epoch(ec->hk->epoch_ud, ec->phase, e) : 0;
}

static void zero_times(xb_nn_net *net)
{
	for (size_t i = 0; i < net->nrec; i++)
		net->rec[i].seconds = 0.0;
}

/* SPEC with "batchnorm" inserted before every requant statement (malloc'd, NULL on
 * ENOMEM). */
static char *spec_with_bn(const char *spec)
{
	size_t len = strlen(spec), cap = 3 * len + 64, o = 0;   /* "requant;" -> 18 chars */
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *p = spec; *p;) {
		const char *e = p + strcspn(p, ";\n");
		const char *w = p;
		while (w < e && (*w == ' ' || *w == '\t'))
			w++;
		if ((size_t)(e - w) >= 7 && !strncmp(w, "requant", 7) &&
		    (e - w == 7 || w[7] == ' ' || w[7] == '\t')) {
			if (o + 12 + len >= cap)
				break;
			memcpy(out + o, "batchnorm\n", 10);
			o += 10;
		}
		memcpy(out + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
		out[o++] = '\n';
		p = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return out;
}

static xb_nn_net *make_net(const xb_config *cfg, const train_data *d, xb_err *err)
{
	const char *init = xb_config_str(cfg, "train.init");
	const char *arch = xb_config_str(cfg, "train.arch");
	xb_nn_net *net;
	char path[4096];

	if (init[0]) {
		if (xb_train_model_path(init, path, sizeof path, err) != XB_OK) {
			xb_err_context(err, "train.init");
			return NULL;
		}
		if (!(net = xb_nn_net_load(path, err))) {
			xb_err_context(err, "train.init");
			return NULL;
		}
	} else {
		const char *spec = xb_nn_arch(arch);
		if (!spec && !strchr(arch, ' ')) {
			xb_raise(err, XB_ECONFIG, "train.arch = %s: unknown architecture; expected "
				 "kws-cnn, kws-dscnn, lenet5, mlp3, mlp3-bn or spec text (\"input HxWxC; ...\")",
				 arch);
			return NULL;
		}
		char *bn = NULL;
		if (xb_config_bool(cfg, "train.batchnorm") &&
		    !(bn = spec_with_bn(spec ? spec : arch))) {
			xb_raise(err, XB_ENOMEM, "train.arch: out of memory");
			return NULL;
		}
		net = xb_nn_net_from_spec(bn ? bn : arch, (uint64_t)xb_config_int(cfg, "train.seed"),
					  err);
		free(bn);
		if (!net) {
			xb_err_context(err, "train.arch");
			return NULL;
		}
	}
	xb_nn_shape in = xb_nn_net_in_shape(net), out = xb_nn_net_out_shape(net);
	if (in.h != d->h || in.w != d->w || in.c != d->c ||
	    (int)xb_nn_shape_size(out) != d->nclasses) {
		xb_raise(err, XB_ECONFIG, "%s = %s: the network takes %dx%dx%d samples into %zu "
			 "classes, but train.data holds %dx%dx%d samples of %d classes",
			 init[0] ? "train.init" : "train.arch", init[0] ? init : arch, in.h, in.w,
			 in.c, xb_nn_shape_size(out), d->h, d->w, d->c, d->nclasses);
		xb_nn_net_free(net);
		return NULL;
	}
	return net;
}

static xb_status train_phase(xb_nn_net *net, const train_data *d, xb_nn_train_params *tp,
			     const xb_train_hooks *hk, const char *phase, double *seconds,
			     xb_err *err)
{
	epoch_ctx ec = { hk, phase };
	double t0 = xb_wall_s();
	tp->on_epoch = epoch_cb;
	tp->epoch_ud = &ec;
	if (hk->on_phase)
		hk->on_phase(hk->phase_ud, phase);
	xb_status st = xb_nn_train(net, &d->dtrain, d->dval.n ? &d->dval : NULL, tp);
	*seconds = xb_wall_s() - t0;
	if (st != XB_OK)
		return xb_raise(err, st, "%s training: %s", phase, xb_nn_net_errmsg(net));
	return XB_OK;
}

xb_status xb_train_run(const xb_config *cfg, int mode, const xb_train_hooks *hooks,
		       xb_nn_net **netp, xb_train_result *res, xb_err *err)
{
	static const xb_train_hooks none;
	const xb_train_hooks *hk = hooks ? hooks : &none;
	train_data d;
	xb_nn_net *net = NULL, *teacher = NULL;
	xb_train_noise nz;
	int *noise_layers = NULL;
	void *dev_state = NULL;
	xb_status st;

	*netp = NULL;
	memset(res, 0, sizeof *res);
	res->val_acc = res->test_acc_pre = res->test_acc_float = res->test_acc_mode = NAN;
	if (mode < 0)
		mode = xb_config_enum(cfg, "train.against");
	if (mode > XB_TRAIN_NOISY)
		return xb_raise(err, XB_EINVAL, "training mode %d: expected 0..4", mode);
	if ((mode == XB_TRAIN_UNORDERED || mode == XB_TRAIN_ORDERED) && !XB_TRAIN_DEVICE)
		return xb_raise(err, XB_EUNSUPPORTED, "--against %s: this build has no device "
				"backend (workloads/xb_device_nn.h); float, noisy and ideal work",
				xb_train_mode_name((xb_train_mode)mode));
	if ((st = load_data(cfg, hk, &d, err)) != XB_OK)
		goto fail;
	if (!(net = make_net(cfg, &d, err))) {
		st = err ? err->code : XB_EINVAL;
		goto fail;
	}
	res->train_n = d.dtrain.n;
	res->val_n = d.dval.n;
	res->test_n = d.dtest.n;
	res->nparams = xb_nn_net_nparams(net);

	xb_nn_train_params tp = xb_nn_train_default_params();
	xb_nn_augment_kws_params ap = {
		(int)xb_config_int(cfg, "train.aug_shift"),
		(int)xb_config_int(cfg, "train.aug_time_masks"),
		(int)xb_config_int(cfg, "train.aug_time_mask_max"),
		(int)xb_config_int(cfg, "train.aug_freq_masks"),
		(int)xb_config_int(cfg, "train.aug_freq_mask_max"),
	};
	tp.epochs = (int)xb_config_int(cfg, "train.epochs");
	tp.batch = (size_t)xb_config_int(cfg, "train.batch");
	tp.lr = xb_config_double(cfg, "train.lr");
	tp.lr_min = xb_config_double(cfg, "train.lr_min");
	tp.weight_decay = xb_config_double(cfg, "train.weight_decay");
	tp.seed = (uint64_t)xb_config_int(cfg, "train.seed");
	if (xb_config_bool(cfg, "train.augment")) {
		tp.augment = xb_nn_augment_kws;
		tp.augment_ud = &ap;
	}
	tp.progress = hk->progress;
	tp.progress_ud = hk->progress_ud;

	/* noise-aware: the noisy backend during the float epochs */
	memset(&nz, 0, sizeof nz);
	if (mode == XB_TRAIN_NOISY) {
		const double *lv;
		size_t nl = xb_config_list(cfg, "train.noise_layers", &lv);
		int at_output = xb_config_enum(cfg, "train.noise_at") == 1;
		int nlay = xb_nn_net_nlayers(net);
		if (!(noise_layers = malloc((nl + (size_t)nlay + 1) * sizeof *noise_layers))) {
			st = xb_raise(err, XB_ENOMEM, "training: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < nl; i++) {
			const xb_nn_layer *l = xb_nn_net_layer(net, (int)lv[i]);
			if (lv[i] != floor(lv[i]) || (at_output && !l && lv[i] != -1) ||
			    (!at_output && (!l || l->type->exec != XB_NN_ANALOG))) {
				st = xb_raise(err, XB_ECONFIG, "train.noise_layers: %g is not the index "
					      "of %s layer of the network (%s%d)", lv[i],
					      at_output ? "a" : "an analog",
					      at_output ? "-1 = the input, 0 .. " : "0 .. ", nlay - 1);
				goto fail;
			}
			noise_layers[i] = (int)lv[i];
		}
		/* the tap needs the list: empty = every analog layer */
		size_t ntap = nl;
		for (int i = 0; at_output && nl == 0 && i < nlay; i++)
			if (xb_nn_net_layer(net, i)->type->exec == XB_NN_ANALOG)
				noise_layers[ntap++] = i;
		nz.seed = tp.seed;
		nz.add = xb_config_double(cfg, "train.noise_add");
		nz.add_std = xb_config_enum(cfg, "train.noise_scale") == 1;
		nz.mul = xb_config_double(cfg, "train.noise_mul");
		nz.layers = noise_layers;
		nz.nlayers = nl;
		const double *fv;
		size_t nf = xb_config_list(cfg, "train.noise_factors", &fv);
		if (nf && nf != nl) {
			st = xb_raise(err, XB_ECONFIG, "train.noise_factors: %zu factors for the %zu "
				      "layers of train.noise_layers (expected one per layer)", nf, nl);
			goto fail;
		}
		nz.factors = nf ? fv : NULL;
		nz.at_output = at_output;
		nz.enabled = 1;
		xb_nn_backend nb = xb_train_noise_backend(&nz);
		xb_nn_net_set_backend(net, &nb);
		if (at_output && xb_nn_net_set_tap(net, noise_layers, ntap, xb_train_noise_tap,
						   &nz) != XB_OK) {
			st = xb_raise(err, XB_ENOMEM, "%s", xb_nn_net_errmsg(net));
			goto fail;
		}
	}
	if (tp.epochs > 0 &&
	    (st = train_phase(net, &d, &tp, hk, mode == XB_TRAIN_NOISY ? "noisy" : "float",
			      &res->seconds_float, err)) != XB_OK)
		goto fail;

	/* hardware-aware fine-tuning */
	if (mode != XB_TRAIN_FLOAT && mode != XB_TRAIN_NOISY) {
		if (d.dtest.n &&
		    (st = xb_nn_evaluate(net, &d.dtest, NULL, &res->test_acc_pre, NULL)) != XB_OK)
			goto eval_fail;
		xb_nn_backend be = xb_nn_backend_float();
		xb_nn_quant_params qp = xb_nn_quant_default_params();
		size_t nc = (size_t)xb_config_int(cfg, "train.calib_samples");
		if ((st = xb_nn_net_fold(net)) != XB_OK) {
			st = xb_raise(err, st, "%s", xb_nn_net_errmsg(net));
			goto fail;
		}
		/* the float network teaches the fine-tuning (train.ft_distill) */
		if (xb_config_double(cfg, "train.ft_distill") > 0 &&
		    xb_config_int(cfg, "train.ft_epochs") > 0) {
			if (!(teacher = clone_float(net, err))) {
				st = err ? err->code : XB_ENOMEM;
				goto fail;
			}
			tp.teacher = teacher;
			tp.distill = xb_config_double(cfg, "train.ft_distill");
			tp.temperature = xb_config_double(cfg, "train.ft_temperature");
		}
#if XB_TRAIN_DEVICE
		if ((st = xb_train_device_backend(cfg, mode, &be, &dev_state, err)) != XB_OK)
			goto fail;
#else
		be.gain = xb_config_double(cfg, "adc.gain");
#endif
		xb_nn_net_set_backend(net, &be);
		if (xb_config_double(cfg, "train.weight_clip") > 0)
			clip_weights(net, xb_config_double(cfg, "train.weight_clip"));
		qp.percentile = xb_config_double(cfg, "train.quant_percentile");
		if (xb_config_key("workload.fill"))
			qp.fill = xb_config_double(cfg, "workload.fill");
		if (nc > d.dtrain.n)
			nc = d.dtrain.n;
		if ((st = xb_nn_net_quantize(net, nc, d.dtrain.x, &qp)) != XB_OK) {
			st = xb_raise(err, st, "quantization: %s", xb_nn_net_errmsg(net));
			goto fail;
		}
		int offset_cal = !xb_config_key("workload.offset_cal") ||
				 xb_config_bool(cfg, "workload.offset_cal");
		if (offset_cal && (st = xb_nn_net_calibrate_offsets(net, nc, d.dtrain.x)) != XB_OK) {
			st = xb_raise(err, st, "%s", xb_nn_net_errmsg(net));
			goto fail;
		}
		if (offset_cal && xb_config_bool(cfg, "train.ft_recalibrate")) {
			tp.recal_n = nc;
			tp.recal_x = d.dtrain.x;
		}
		tp.epochs = (int)xb_config_int(cfg, "train.ft_epochs");
		tp.lr = xb_config_double(cfg, "train.ft_lr");
		tp.lr_min = 0.0;
		if (tp.epochs > 0 &&
		    (st = train_phase(net, &d, &tp, hk, xb_train_mode_name((xb_train_mode)mode),
				      &res->seconds_finetune, err)) != XB_OK)
			goto fail;
		tp.teacher = NULL;
		xb_nn_net_free(teacher);
		teacher = NULL;
	}
	/* noisy: the test figure with the noise where it was trained, before the fold
	 * renumbers the layers; then the noise goes */
	if (mode == XB_TRAIN_NOISY) {
		if (d.dtest.n && (st = xb_nn_evaluate(net, &d.dtest, NULL, &res->test_acc_mode,
						      NULL)) != XB_OK)
			goto eval_fail;
		nz.enabled = 0;
		xb_nn_net_set_tap(net, NULL, 0, NULL, NULL);
		xb_nn_net_set_backend(net, NULL);
	}
	if ((st = xb_nn_net_fold(net)) != XB_OK) {   /* deployment form: no batch norm */
		st = xb_raise(err, st, "%s", xb_nn_net_errmsg(net));
		goto fail;
	}
	if (!xb_config_bool(cfg, "train.record_time"))
		zero_times(net);

	/* figures: validation of the kept model, test in the mode and in float */
	size_t nrec;
	int best;
	const xb_nn_epoch *rec = xb_nn_net_record(net, &nrec, &best);
	res->best_epoch = best;
	if (best > 0 && (size_t)best <= nrec)
		res->val_acc = rec[best - 1].val_acc;
	if (d.dtest.n) {
		if (hk->on_phase)
			hk->on_phase(hk->phase_ud, "testing");
		if (mode != XB_TRAIN_FLOAT && mode != XB_TRAIN_NOISY &&
		    (st = xb_nn_evaluate(net, &d.dtest, NULL, &res->test_acc_mode, NULL)) != XB_OK)
			goto eval_fail;
		int q = xb_nn_net_quantized(net);
		xb_nn_backend keep = *xb_nn_net_backend(net);
		xb_nn_net_set_backend(net, NULL);
		if (q)
			xb_nn_net_set_quantized(net, 0);
		st = xb_nn_evaluate(net, &d.dtest, NULL, &res->test_acc_float, NULL);
		if (q)
			xb_nn_net_set_quantized(net, 1);
		/* the saved model keeps the backend's gain and range, not its state */
		keep.type = &xb_nn_backend_float_type;
		keep.state = NULL;
		xb_nn_net_set_backend(net, mode == XB_TRAIN_NOISY ? NULL : &keep);
		if (st != XB_OK)
			goto eval_fail;
		if (mode == XB_TRAIN_FLOAT)
			res->test_acc_mode = res->test_acc_float;
		if (isnan(res->test_acc_pre))
			res->test_acc_pre = res->test_acc_float;
	} else {
		xb_nn_backend keep = *xb_nn_net_backend(net);
		keep.type = &xb_nn_backend_float_type;
		keep.state = NULL;
		xb_nn_net_set_backend(net, mode == XB_TRAIN_NOISY ? NULL : &keep);
	}
#if XB_TRAIN_DEVICE
	xb_train_device_free(dev_state);
#endif
	free(noise_layers);
	data_free(&d);
	*netp = net;
	return XB_OK;
eval_fail:
	st = xb_raise(err, st, "testing: %s", xb_nn_net_errmsg(net));
fail:
#if XB_TRAIN_DEVICE
	if (net)
		xb_nn_net_set_backend(net, NULL);
	xb_train_device_free(dev_state);
#else
	(void)dev_state;
#endif
	xb_nn_net_free(net);
	xb_nn_net_free(teacher);
	free(noise_layers);
	data_free(&d);
	return st;
}
