/* cli_train.c - `xbarsim train`: train a network from a configuration and write the model file.
 * Float, noise-aware (--against noisy) and hardware-aware (--against ideal|unordered|ordered).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_cli.h"
#include "xb_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char train_help[] =
"Usage: xbarsim train -c FILE.ini -o model.h5 [--against MODE] [-p PRESET] [-s KEY=VALUE]...\n"
"Trains the network of the [train] keys (train.arch, train.data, train.epochs, ...)\n"
"with minibatch Adam and a cosine learning rate, validating after every epoch and\n"
"keeping the best epoch, and writes the model file (HDF5, with its training record).\n"
"\n"
"  --against=MODE   float (default), noisy (Gaussian noise after the analog layers'\n"
"                   MVMs, or with train.noise_at = output on the outputs of any\n"
"                   layers, -1 the input: train.noise_add in units of\n"
"                   train.noise_scale (max|std), train.noise_mul, train.noise_layers,\n"
"                   train.noise_factors), or\n"
"                   ideal, unordered, ordered: after the float epochs, fine-tune for\n"
"                   train.ft_epochs with each analog layer's forward pass through the\n"
"                   tile model of the preset with that accumulator model\n"
"                   (straight-through backward; train.ft_distill: the float network\n"
"                   teaches it)\n"
"  -c, -p, -s, -o, --progress   as for every command (xbarsim --help)\n"
"\n"
"Per-epoch lines (loss, accuracy, validation, learning rate, time) go to stderr, the\n"
"final figures (test accuracy, float and in the trained mode) to stdout.\n"
"Documentation: doc/training.md.\n";

typedef struct train_ui {
	xb_progress bar;
	int quiet;
} train_ui;

static int on_epoch(void *ud, const char *phase, const xb_nn_epoch *e)
{
	train_ui *ui = ud;
	if (ui->bar.active)
		xb_progress_done(&ui->bar);
	ui->bar.active = 0;
	ui->bar.last_percent = -1;
	fprintf(stderr, "%-9s epoch %3d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  "
		"lr %.2e  %.1f s\n", phase, e->epoch, e->train_loss, e->train_acc, e->val_loss,
		e->val_acc, e->lr, e->seconds);
	return 0;
}

static void on_phase(void *ud, const char *what)
{
	train_ui *ui = ud;
	if (ui->bar.active)
		xb_progress_done(&ui->bar);
	ui->bar.active = 0;
	fprintf(stderr, "train: %s\n", what);
	xb_progress_init(&ui->bar, stderr, ui->bar.style, "train", "samples");
}

int xb_cli_train(int argc, char **argv)
{
	xb_cli_opts o;
	xb_config *cfg = NULL;
	xb_nn_net *net = NULL;
	xb_train_result res;
	xb_err err;
	char *ini = NULL, *cmdline = NULL;
	int mode = -1, rc = xb_cli_parse(&o, "train", train_help, argc, argv);

	if (rc)
		return rc < 0 ? 0 : rc;
	xb_err_clear(&err);
	if (o.nargs) {
		fprintf(stderr, "xbarsim train: unexpected argument '%s'\nTry 'xbarsim train "
			"--help'.\n", o.args[0]);
		rc = 2;
		goto out;
	}
	if (!o.output) {
		fprintf(stderr, "xbarsim train: no output file: give -o model.h5\nTry 'xbarsim "
			"train --help'.\n");
		rc = 2;
		goto out;
	}
	if (o.against && (mode = xb_train_mode_parse(o.against)) < 0) {
		fprintf(stderr, "xbarsim train: --against %s: expected float, ideal, unordered, "
			"ordered or noisy\nTry 'xbarsim train --help'.\n", o.against);
		rc = 2;
		goto out;
	}
	xb_train_register_keys();   /* idempotent; sim/keys.c registers them too */
	if (!(cfg = xb_cli_config(&o, "train"))) {
		rc = 1;
		goto out;
	}

	train_ui ui;
	memset(&ui, 0, sizeof ui);
	xb_progress_init(&ui.bar, stderr, o.progress, "train", "samples");
	xb_train_hooks hk = { xb_progress_update, &ui.bar, on_epoch, &ui, on_phase, &ui };
	if (xb_train_run(cfg, mode, &hk, &net, &res, &err) != XB_OK) {
		if (ui.bar.active)
			xb_progress_done(&ui.bar);
		rc = xb_cli_fail("train", err.msg);
		goto out;
	}
	if (ui.bar.active)
		xb_progress_done(&ui.bar);
	ini = xb_config_to_ini(cfg, 0);
	cmdline = xb_cli_command_line(argc, argv);
	if (xb_nn_net_save(net, o.output, ini, cmdline, &err) != XB_OK) {
		rc = xb_cli_fail("train", err.msg);
		goto out;
	}
	printf("model:            %s (%zu parameters)\n", o.output, res.nparams);
	printf("mode:             %s\n", xb_train_mode_name((xb_train_mode)(mode >= 0 ? mode :
				xb_config_enum(cfg, "train.against"))));
	printf("samples:          %zu train, %zu validation, %zu test\n", res.train_n, res.val_n,
	       res.test_n);
	printf("best epoch:       %d (validation accuracy %.4f)\n", res.best_epoch, res.val_acc);
	if (!isnan(res.test_acc_pre))
		printf("test accuracy:    %.4f float before fine-tuning\n", res.test_acc_pre);
	if (!isnan(res.test_acc_float))
		printf("test accuracy:    %.4f float, %.4f %s\n", res.test_acc_float,
		       res.test_acc_mode, xb_train_mode_name((xb_train_mode)(mode >= 0 ? mode :
				xb_config_enum(cfg, "train.against"))));
	printf("training time:    %.1f s float, %.1f s fine-tuning\n", res.seconds_float,
	       res.seconds_finetune);
	rc = 0;
out:
	free(ini);
	free(cmdline);
	xb_nn_net_free(net);
	xb_config_free(cfg);
	xb_cli_opts_free(&o);
	return rc;
}
