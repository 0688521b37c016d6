/* keys.c - the configuration keys of the command layer and the registration of every
 * module's key tables.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_sim.h"
#include "xb_devices.h"
#include "xb_noise.h"
#include "xb_timed.h"
#include "xb_walk.h"
#include "xb_train.h"

static const xb_key run_keys[] = {
	{ "run.preset", XB_KEY_STRING, "", 0, 0, NULL, "hx",
	  "preset loaded under this file's keys (a name from 'xbarsim presets')" },
	{ "run.seed", XB_KEY_INT, "", 0, 9007199254740991.0, NULL, "1",
	  "seed of the run's random streams (per-sample noise, shuffles)" },
	{ "run.samples", XB_KEY_INT, "samples", 0, 1e12, NULL, "0",
	  "number of test samples to evaluate (0 = all)" },
	{ "run.threads", XB_KEY_INT, "threads", 0, 1024, NULL, "0",
	  "worker threads (0 = OpenMP's default); results do not depend on it" },
	{ "trace.file", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "trace file written by 'xbarsim run' (empty = none unless -o is given)" },
	{ "trace.level", XB_KEY_ENUM, "", 0, 0, "summary|layer|mvm|event", "layer",
	  "how much the trace holds: summary, per layer, selected MVMs, their events" },
	{ "workload.model", XB_KEY_STRING, "", 0, 0, NULL, "kws",
	  "model file (HDF5) or the name of a shipped model (kws, lenet5, mlp)" },
	{ "workload.data", XB_KEY_STRING, "", 0, 0, NULL, "kws-test",
	  "data set file (HDF5), the name of a shipped data set, or fashion-mnist (Debian's "
	  "test images)" },
	{ "workload.fill", XB_KEY_DOUBLE, "", 0, 1, NULL, "1",
	  "analog layers with sends=0: sends so that their large outputs reach this fraction "
	  "of the linear range (0 = input.num_sends)" },
	{ "workload.offset_cal", XB_KEY_BOOL, "", 0, 0, NULL, "true",
	  "measure each analog output's mean offset from ideal on the calibration samples "
	  "and remove it digitally (a chip's bring-up calibration)" },
	{ "calibration.file", XB_KEY_STRING, "", 0, 0, NULL, "",
	  "calibration file (HDF5) replacing the fixed-pattern draws (empty = none)" },
};

void xb_register_all_keys(void)
{
	xb_noise_register_keys();
	xb_devices_register_keys();
	xb_timed_register_keys();
	xb_walk_register_keys();
	xb_train_register_keys();
	xb_config_register(run_keys, sizeof run_keys / sizeof *run_keys);
}
