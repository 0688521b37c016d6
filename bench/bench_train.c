/* bench_train.c - timing of hardware-aware training of the shipped keyword-spotting model (make bench).
 * Prints kws.train_s: the ordered fine-tuning phase of workloads/configs/kws.ini, timed on one epoch.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it measures.  The hardware-aware phase of `xbarsim train -c workloads/configs/kws.ini
 * --against ordered` (train.ft_epochs epochs against the hx preset's ordered accumulator)
 * starting from the shipped model workloads/models/kws.h5 (train.init, no float epochs).
 * To keep `make bench` short it runs one fine-tuning epoch and prints kws.train_s = that
 * epoch's time x train.ft_epochs (the phase's epochs cost the same), plus the set-up
 * time (corpus synthesis, quantization).  It prints "n/a" with the reason when the
 * shipped model or the device backend is missing.
 */
#include <config.h>

#include "xb_sim.h"
#include "xb_train.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	const char *src = getenv("XB_SRCDIR") ? getenv("XB_SRCDIR") : XB_SRCDIR;
	char ini[4096], model[4096];
	xb_err err;
	xb_nn_net *net = NULL;
	xb_train_result res;

	xb_register_all_keys();
	xb_train_register_keys();
	snprintf(ini, sizeof ini, "%s/workloads/configs/kws.ini", src);
	if (!xb_train_have_device()) {
		printf("kws.train_s: n/a (no device backend in this build)\n");
		return 0;
	}
	if (xb_train_model_path("kws", model, sizeof model, &err) != XB_OK) {
		printf("kws.train_s: n/a (%s)\n", err.msg);
		return 0;
	}
	xb_config *cfg = xb_sim_config(ini, NULL, NULL, 0, &err);
	if (!cfg) {
		printf("kws.train_s: n/a (%s)\n", err.msg);
		return 0;
	}
	long ft = xb_config_int(cfg, "train.ft_epochs");
	if (xb_config_set(cfg, "train.init", model, "bench") != XB_OK ||
	    xb_config_set(cfg, "train.epochs", "0", "bench") != XB_OK ||
	    xb_config_set(cfg, "train.ft_epochs", "1", "bench") != XB_OK) {
		printf("kws.train_s: n/a (%s)\n", xb_config_errmsg(cfg));
		xb_config_free(cfg);
		return 0;
	}
	double t0 = xb_wall_s();
	if (xb_train_run(cfg, XB_TRAIN_ORDERED, NULL, &net, &res, &err) != XB_OK) {
		printf("kws.train_s: n/a (%s)\n", err.msg);
		xb_config_free(cfg);
		return 1;
	}
	double total = xb_wall_s() - t0;
	printf("kws.train_epoch_s: %.1f s\n", res.seconds_finetune);
	printf("kws.train_s: %.1f s\n", res.seconds_finetune * (double)ft);
	printf("kws.train_setup_s: %.1f s\n", total - res.seconds_finetune);
	printf("kws.train_test_acc_ordered: %.4f\n", res.test_acc_mode);
	xb_nn_net_free(net);
	xb_config_free(cfg);
	return 0;
}
