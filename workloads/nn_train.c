/* nn_train.c - float (and quantized, through the STE) training of xbarsim's networks.
 * Adam with a cosine learning rate, softmax cross-entropy, seeded shuffling and augmentation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "nn_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Samples per slice in evaluation. */
#define NN_EVAL_SLICE 256

xb_nn_train_params xb_nn_train_default_params(void)
{
	xb_nn_train_params p;
	memset(&p, 0, sizeof p);
	p.epochs = 10;
	p.batch = 64;
	p.lr = 1e-3;
	p.lr_min = 0.0;
	p.beta1 = 0.9;
	p.beta2 = 0.999;
	p.adam_eps = 1e-8;
	p.weight_decay = 0.0;
	p.seed = 1;
	p.keep_best = 1;
	p.temperature = 1.0;
	return p;
}

double xb_nn_softmax_xent(const float *logits, const int32_t *label, size_t n, int k,
			  float *dlogits, size_t *correct)
{
	double loss = 0.0;
	size_t right = 0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * (size_t)k;
		int arg = 0;
		for (int j = 1; j < k; j++)
			if (z[j] > z[arg])
				arg = j;
		double zmax = z[arg], sum = 0.0;
		for (int j = 0; j < k; j++)
			sum += exp((double)z[j] - zmax);
		loss += log(sum) - ((double)z[label[i]] - zmax);
		right += arg == label[i];
		if (dlogits)
			for (int j = 0; j < k; j++) {
				double p = exp((double)z[j] - zmax) / sum;
				dlogits[i * (size_t)k + j] = (float)((p - (j == label[i])) / (double)n);
			}
	}
	if (correct)
		*correct = right;
	return n ? loss / (double)n : 0.0;
}

/* Log of the normaliser of softmax(Z[K] / T) relative to its largest term: the
 * softmax is exp((z_j - *ZMAX) / T - returned value). */
static double log_norm_t(const float *z, int k, double t, double *zmax)
{
	double m = z[0], sum = 0.0;
	for (int j = 1; j < k; j++)
		if (z[j] > m)
			m = z[j];
	for (int j = 0; j < k; j++)
		sum += exp(((double)z[j] - m) / t);
	*zmax = m;
	return log(sum);
}

double xb_nn_softmax_distill(const float *logits, const float *teacher, const int32_t *label,
			     size_t n, int k, double alpha, double temperature, float *dlogits,
			     size_t *correct)
{
	double loss = xb_nn_softmax_xent(logits, label, n, k, dlogits, correct) * (1.0 - alpha);
	double kl = 0.0, t = temperature;
	if (alpha == 0.0)
		return loss;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * (size_t)k, *tz = teacher + i * (size_t)k;
		double zm, tm, zl = log_norm_t(z, k, t, &zm), tl = log_norm_t(tz, k, t, &tm);
		for (int j = 0; j < k; j++) {
			double lps = ((double)z[j] - zm) / t - zl, lpt = ((double)tz[j] - tm) / t - tl;
			double pt = exp(lpt);
			kl += pt * (lpt - lps);
			if (dlogits) {
				float *d = dlogits + i * (size_t)k + j;
				*d = (float)((1.0 - alpha) * (double)*d +
					     alpha * t * (exp(lps) - pt) / (double)n);
			}
		}
	}
	return loss + alpha * t * t * kl / (double)n;
}

static xb_status check_labels(xb_nn_net *net, const xb_nn_data *d, int k, const char *what)
{
	if (d->n && (!d->x || !d->label))
		return xb_raise(&net->err, XB_EINVAL, "%s set: NULL samples or labels", what);
	for (size_t i = 0; i < d->n; i++)
		if (d->label[i] < 0 || d->label[i] >= k)
			return xb_raise(&net->err, XB_ERANGE, "%s sample %zu: label %d outside [0, %d) "
					"(the network has %d outputs)", what, i, (int)d->label[i],
					k, k);
	return XB_OK;
}

xb_status xb_nn_evaluate(xb_nn_net *net, const xb_nn_data *data, double *loss,
			 double *accuracy, int32_t *pred)
{
	int k = (int)xb_nn_shape_size(xb_nn_net_out_shape(net));
	size_t isz = xb_nn_shape_size(net->in), right = 0;
	double sum = 0.0;
	xb_status st = check_labels(net, data, k, "evaluation");
	if (st != XB_OK)
		return st;
	size_t slice = data->n < NN_EVAL_SLICE ? data->n : NN_EVAL_SLICE;
	float *logits = malloc((slice ? slice : 1) * (size_t)k * sizeof(float));
	if (!logits)
		return xb_raise(&net->err, XB_ENOMEM, "evaluation: out of memory");
	for (size_t s0 = 0; s0 < data->n; s0 += slice) {
		size_t cnt = data->n - s0 < slice ? data->n - s0 : slice, c = 0;
		st = xb_nn_net_forward(net, cnt, data->x + s0 * isz, logits, 0);
		if (st != XB_OK)
			break;
		sum += xb_nn_softmax_xent(logits, data->label + s0, cnt, k, NULL, &c) * (double)cnt;
		right += c;
		if (pred)
			for (size_t i = 0; i < cnt; i++) {
				const float *z = logits + i * (size_t)k;
				int arg = 0;
				for (int j = 1; j < k; j++)
					if (z[j] > z[arg])
						arg = j;
				pred[s0 + i] = arg;
			}
	}
	free(logits);
	if (st != XB_OK)
		return st;
	if (loss)
		*loss = data->n ? sum / (double)data->n : NAN;
	if (accuracy)
		*accuracy = data->n ? (double)right / (double)data->n : NAN;
	return XB_OK;
}

void xb_nn_augment_kws(void *ud, float *x, xb_nn_shape s, uint64_t seed, uint64_t epoch,
		       uint64_t sample)
{
	const xb_nn_augment_kws_params *p = ud;
	int t = s.h, f = s.w * s.c;
	uint32_t r[4];
	uint32_t draw = 0;
	if (!p || t < 1 || f < 1)
		return;
#define DRAW() nn_philox(seed, (uint32_t)sample, (uint32_t)epoch, \
			 draw++ | (uint32_t)(sample >> 32) << 16, NN_RNG_AUGMENT, r)
	if (p->time_shift_max > 0) {
		DRAW();
		int sh = (int)nn_below(r[0], r[1], (uint64_t)(2 * p->time_shift_max + 1)) -
			 p->time_shift_max;
		if (sh > 0) {
			memmove(x + (size_t)sh * f, x, (size_t)(t > sh ? t - sh : 0) * f * sizeof(float));
			memset(x, 0, (size_t)(sh < t ? sh : t) * f * sizeof(float));
		} else if (sh < 0) {
			int a = -sh;
			memmove(x, x + (size_t)a * f, (size_t)(t > a ? t - a : 0) * f * sizeof(float));
			int keep = t > a ? t - a : 0;
			memset(x + (size_t)keep * f, 0, (size_t)(t - keep) * f * sizeof(float));
		}
	}
	for (int m = 0; m < p->time_masks && p->time_mask_max > 0; m++) {
		DRAW();
		int w = (int)nn_below(r[0], r[1], (uint64_t)(p->time_mask_max < t ? p->time_mask_max : t) + 1);
		int start = (int)nn_below(r[2], r[3], (uint64_t)(t - w + 1));
		memset(x + (size_t)start * f, 0, (size_t)w * f * sizeof(float));
	}
	for (int m = 0; m < p->freq_masks && p->freq_mask_max > 0; m++) {
		DRAW();
		int w = (int)nn_below(r[0], r[1], (uint64_t)(p->freq_mask_max < f ? p->freq_mask_max : f) + 1);
		int start = (int)nn_below(r[2], r[3], (uint64_t)(f - w + 1));
		for (int i = 0; i < t; i++)
			memset(x + (size_t)i * f + start, 0, (size_t)w * sizeof(float));
	}
#undef DRAW
}

static xb_status record_epoch(xb_nn_net *net, const xb_nn_epoch *e)
{
	if (net->nrec == net->rec_cap) {
		size_t cap = net->rec_cap ? 2 * net->rec_cap : 16;
		xb_nn_epoch *p = realloc(net->rec, cap * sizeof *p);
		if (!p)
			return xb_raise(&net->err, XB_ENOMEM, "training record: out of memory");
		net->rec = p;
		net->rec_cap = cap;
	}
	net->rec[net->nrec++] = *e;
	return XB_OK;
}

const xb_nn_epoch *xb_nn_net_record(const xb_nn_net *net, size_t *n, int *best)
{
	if (n)
		*n = net->nrec;
	if (best)
		*best = net->best_epoch;
	return net->rec;
}

/* Copy every tensor of NET to or from BUF (TO_BUF selects the direction). */
static void copy_tensors(xb_nn_net *net, float *buf, int to_buf)
{
	size_t off = 0;
	for (int i = 0; i < net->nlayers; i++) {
		xb_nn_layer *l = net->layers[i];
		for (int t = 0; t < l->ntensors; t++) {
			if (to_buf)
				memcpy(buf + off, l->t[t], l->tsize[t] * sizeof(float));
			else
				memcpy(l->t[t], buf + off, l->tsize[t] * sizeof(float));
			off += l->tsize[t];
		}
		if (!to_buf)
			l->version++;
	}
}

static size_t all_tensor_floats(const xb_nn_net *net)
{
	size_t n = 0;
	for (int i = 0; i < net->nlayers; i++)
		for (int t = 0; t < net->layers[i]->ntensors; t++)
			n += net->layers[i]->tsize[t];
	return n;
}

xb_status xb_nn_train(xb_nn_net *net, const xb_nn_data *train, const xb_nn_data *val,
		      const xb_nn_train_params *p)
{
	xb_nn_train_params dflt = xb_nn_train_default_params();
	if (!p)
		p = &dflt;
	if (!train || train->n == 0)
		return xb_raise(&net->err, XB_EINVAL, "training: no training samples");
	if (p->batch == 0 || p->epochs < 0)
		return xb_raise(&net->err, XB_EINVAL, "training: batch %zu, epochs %d: expected a "
				"batch >= 1 and epochs >= 0", p->batch, p->epochs);
	if (!(p->lr > 0) || !(p->lr_min >= 0) || !(p->beta1 >= 0 && p->beta1 < 1) ||
	    !(p->beta2 >= 0 && p->beta2 < 1) || !(p->adam_eps > 0) || !(p->weight_decay >= 0))
		return xb_raise(&net->err, XB_EINVAL, "training: lr %g, lr_min %g, beta1 %g, beta2 "
				"%g, eps %g, weight_decay %g: expected lr > 0, lr_min >= 0, betas in "
				"[0, 1), eps > 0, decay >= 0", p->lr, p->lr_min, p->beta1, p->beta2,
				p->adam_eps, p->weight_decay);
	if (net->nlayers == 0)
		return xb_raise(&net->err, XB_ESTATE, "training: the network has no layers");
	xb_nn_shape os = xb_nn_net_out_shape(net);
	int k = (int)xb_nn_shape_size(os);
	if (p->teacher && (!(p->distill >= 0 && p->distill <= 1) || !(p->temperature > 0)))
		return xb_raise(&net->err, XB_EINVAL, "training: distillation weight %g, "
				"temperature %g: expected a weight in [0, 1] and a temperature > 0",
				p->distill, p->temperature);
	if (p->teacher && (p->teacher == net || p->teacher->nlayers == 0 ||
			   xb_nn_shape_size(p->teacher->in) != xb_nn_shape_size(net->in) ||
			   (int)xb_nn_shape_size(xb_nn_net_out_shape(p->teacher)) != k))
		return xb_raise(&net->err, XB_EINVAL, "training: the teacher network must be "
				"another network with the student's %zu inputs and %d outputs",
				xb_nn_shape_size(net->in), k);
	const xb_nn_net *teacher = p->teacher && p->distill > 0 ? p->teacher : NULL;
	int recal = net->quantized && p->recal_n > 0 && p->recal_x;
	xb_status st = check_labels(net, train, k, "training");
	if (st == XB_OK && val)
		st = check_labels(net, val, k, "validation");
	if (st != XB_OK)
		return st;

	size_t n = train->n, isz = xb_nn_shape_size(net->in);
	size_t batch = p->batch < n ? p->batch : n;
	size_t nbatches = (n + batch - 1) / batch;
	size_t nparams = xb_nn_net_nparams(net), nall = all_tensor_floats(net);
	int have_val = val && val->n > 0;
	uint64_t *perm = malloc(n * sizeof *perm);
	float *xb = malloc(batch * isz * sizeof(float));
	int32_t *yb = malloc(batch * sizeof *yb);
	float *logits = malloc(batch * (size_t)k * sizeof(float));
	float *dlog = malloc(batch * (size_t)k * sizeof(float));
	float *tlog = teacher ? malloc(batch * (size_t)k * sizeof(float)) : NULL;
	float *adam = calloc(2 * nparams + 1, sizeof(float));
	float *best = p->keep_best && have_val ? malloc(nall * sizeof(float)) : NULL;
	if (!perm || !xb || !yb || !logits || !dlog || !adam || (p->keep_best && have_val && !best) ||
	    (teacher && !tlog)) {
		st = xb_raise(&net->err, XB_ENOMEM, "training: out of memory");
		goto done;
	}
	if ((st = xb_nn_net_reserve(net, batch)) != XB_OK)
		goto done;

	double best_acc = -1.0;
	uint64_t step = 0, total = (uint64_t)p->epochs * nbatches;
	int stop = 0;
	net->best_epoch = 0;
	int epoch0 = (int)net->nrec;
	for (int e = 1; e <= p->epochs && !stop; e++) {
		double t0 = xb_wall_s(), loss_sum = 0.0, lr = p->lr;
		size_t right = 0;
		/* Fisher-Yates from the counter-based stream (seed, index, epoch) */
		for (size_t i = 0; i < n; i++)
			perm[i] = i;
		for (size_t i = n - 1; i > 0; i--) {
			uint32_t r[4];
			nn_philox(p->seed, (uint32_t)i, (uint32_t)e, (uint32_t)(i >> 32),
				  NN_RNG_SHUFFLE, r);
			uint64_t j = nn_below(r[0], r[1], i + 1), tmp = perm[i];
			perm[i] = perm[j];
			perm[j] = tmp;
		}
		for (size_t b0 = 0; b0 < n && !stop; b0 += batch) {
			size_t cnt = n - b0 < batch ? n - b0 : batch, c = 0;
			for (size_t i = 0; i < cnt; i++) {
				uint64_t s = perm[b0 + i];
				memcpy(xb + i * isz, train->x + s * isz, isz * sizeof(float));
				yb[i] = train->label[s];
				if (p->augment)
					p->augment(p->augment_ud, xb + i * isz, net->in, p->seed,
						   (uint64_t)e, s);
			}
			if (teacher && (st = xb_nn_net_forward(p->teacher, cnt, xb, tlog, 0)) != XB_OK) {
				st = xb_raise(&net->err, st, "training: the teacher network: %s",
					      xb_nn_net_errmsg(p->teacher));
				goto done;
			}
			if ((st = xb_nn_net_forward(net, cnt, xb, logits, 1)) != XB_OK)
				goto done;
			double loss = teacher ? xb_nn_softmax_distill(logits, tlog, yb, cnt, k,
								      p->distill, p->temperature,
								      dlog, &c)
					      : xb_nn_softmax_xent(logits, yb, cnt, k, dlog, &c);
			if (!isfinite(loss)) {
				st = xb_raise(&net->err, XB_ENUMERIC, "training: epoch %d, batch %zu: "
					      "loss is %g (lower the learning rate %g)", e,
					      b0 / batch + 1, loss, p->lr);
				goto done;
			}
			loss_sum += loss * (double)cnt;
			right += c;
			if ((st = xb_nn_net_backward(net, cnt, dlog, NULL)) != XB_OK)
				goto done;

			/* Adam step with a cosine learning rate */
			lr = p->lr_min + 0.5 * (p->lr - p->lr_min) *
					 (1.0 + cos(M_PI * (double)step / (double)(total ? total : 1)));
			step++;
			double bc1 = 1.0 - pow(p->beta1, (double)step);
			double bc2 = 1.0 - pow(p->beta2, (double)step);
			float b1 = (float)p->beta1, b2 = (float)p->beta2;
			float a = (float)(lr / bc1), sb2 = (float)(1.0 / sqrt(bc2));
			float eps = (float)p->adam_eps, wd = (float)(lr * p->weight_decay);
			/* one parallel region for all tensors (element-wise: any split gives the
			 * same result) */
#pragma omp parallel
			{
				size_t off = 0;
				for (int i = 0; i < net->nlayers; i++) {
					xb_nn_layer *l = net->layers[i];
					for (int t = 0; t < l->type->nparams; t++) {
						float *w = l->t[t], *m = adam + off, *v = adam + nparams + off;
						const float *g = net->grad[i * XB_NN_MAX_TENSORS + t];
						size_t sz = l->tsize[t];
#pragma omp for schedule(static) nowait
						for (long j = 0; j < (long)sz; j++) {
							m[j] = b1 * m[j] + (1.0f - b1) * g[j];
							v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
							w[j] -= a * m[j] / (sqrtf(v[j]) * sb2 + eps) + wd * w[j];
						}
						off += sz;
					}
				}
			}
			for (int i = 0; i < net->nlayers; i++)
				if (net->layers[i]->type->nparams)
					net->layers[i]->version++;
			if (p->progress &&
			    p->progress(p->progress_ud, (uint64_t)(e - 1) * n + b0 + cnt,
					(uint64_t)p->epochs * n))
				stop = 1;
		}
		xb_nn_epoch rec = {epoch0 + e, loss_sum / (double)n, (double)right / (double)n,
				   NAN, NAN, lr, 0.0};
		if (recal && (st = xb_nn_net_calibrate_offsets(net, p->recal_n, p->recal_x)) != XB_OK)
			goto done;
		if (have_val && (st = xb_nn_evaluate(net, val, &rec.val_loss, &rec.val_acc, NULL)) != XB_OK)
			goto done;
		rec.seconds = xb_wall_s() - t0;
		if ((st = record_epoch(net, &rec)) != XB_OK)
			goto done;
		if (!have_val || rec.val_acc > best_acc) {
			best_acc = have_val ? rec.val_acc : best_acc;
			net->best_epoch = epoch0 + e;
			if (best)
				copy_tensors(net, best, 1);
		}
		if (p->on_epoch && p->on_epoch(p->epoch_ud, &rec))
			stop = 1;
	}
	if (best && net->best_epoch > 0) {
		copy_tensors(net, best, 0);
		if (recal && (st = xb_nn_net_calibrate_offsets(net, p->recal_n, p->recal_x)) != XB_OK)
			goto done;
	}
	net->fwd_n = 0;
done:
	free(perm);
	free(xb);
	free(yb);
	free(logits);
	free(dlog);
	free(tlog);
	free(adam);
	free(best);
	return st;
}
