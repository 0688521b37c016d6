/* train_device.c - the device backend of hardware-aware training: the tile model of the configuration.
 * Wraps workloads/xb_device_nn.h with integrator.model set to the training mode.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "train_int.h"
#include "xb_device_nn.h"

xb_status xb_train_device_backend(const xb_config *cfg, int mode, xb_nn_backend *be,
				  void **state, xb_err *err)
{
	xb_tile_params p;
	xb_device_nn *d;
	xb_status st;

	*state = NULL;
	if ((st = xb_tile_params_from_config(cfg, &p, err)) != XB_OK)
		return xb_err_context(err, "hardware-aware training");
	p.integrator.model = mode == XB_TRAIN_ORDERED ? XB_MODEL_ORDERED :
			     mode == XB_TRAIN_UNORDERED ? XB_MODEL_UNORDERED : XB_MODEL_IDEAL;
	if (!(d = xb_device_nn_new(&p, xb_config_str(cfg, "calibration.file"), err)))
		return xb_err_context(err, "hardware-aware training (--against %s)",
				      xb_train_mode_name((xb_train_mode)mode));
	*be = xb_device_nn_backend(d);
	*state = d;
	return XB_OK;
}

void xb_train_device_free(void *state)
{
	xb_device_nn_free(state);
}
