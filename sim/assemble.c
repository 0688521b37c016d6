/* assemble.c - resolving the configuration of a command from defaults, preset, file
 * and overrides.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_sim.h"

#include <stdlib.h>
#include <string.h>

const char *xb_version(void)
{
	return PACKAGE_VERSION;
}

xb_config *xb_sim_config(const char *config_file, const char *preset,
			 const char *const *sets, size_t nsets, xb_err *err)
{
	xb_config *cfg = NULL, *probe = NULL;
	char name[128];

	xb_register_all_keys();
	cfg = xb_config_new();
	if (!cfg)
		goto fail_tls;
	/* The preset: -p wins; otherwise the run.preset of the file (read once to find
	 * it, then again on top of the preset so that the file's keys win). */
	snprintf(name, sizeof name, "%s", preset && *preset ? preset : "hx");
	if ((!preset || !*preset) && config_file) {
		probe = xb_config_dup(cfg);
		if (!probe)
			goto fail_tls;
		if (xb_config_load(probe, config_file, "sweep") != XB_OK) {
			xb_err_copy(err, NULL);
			goto fail;
		}
		snprintf(name, sizeof name, "%s", xb_config_str(probe, "run.preset"));
		xb_config_free(probe);
		probe = NULL;
	}
	if (xb_config_load_preset(cfg, name) != XB_OK) {
		xb_raise(err, XB_ENOENT, "%s", xb_config_errmsg(cfg));
		goto fail;
	}
	xb_config_set(cfg, "run.preset", name, preset && *preset ? "-p" : "preset");
	if (config_file) {
		xb_status st = xb_config_load(cfg, config_file, "sweep");

		if (st != XB_OK) {
			xb_raise(err, st, "%s", xb_config_errmsg(cfg));
			goto fail;
		}
	}
	for (size_t i = 0; i < nsets; i++)
		if (xb_config_set_arg(cfg, sets[i]) != XB_OK) {
			xb_raise(err, XB_ECONFIG, "%s", xb_config_errmsg(cfg));
			goto fail;
		}
	return cfg;
fail_tls:
	xb_err_copy(err, NULL);
fail:
	xb_config_free(probe);
	xb_config_free(cfg);
	return NULL;
}
