/* xb_sim.h - the assembly layer: key registration, processor assembly and the command.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * sim/ holds the base layer (xb_base.h, used by every module), the discrete-event
 * kernel shim (xb_kernel.h) and this assembly layer, which knows every module: it
 * registers their configuration keys and builds what the command runs.
 */
#ifndef XB_SIM_H
#define XB_SIM_H

#include "xb_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version string of this build ("0.1.0"). */
const char *xb_version(void);

/* Resolve a configuration the way the command does: defaults, then PRESET (or the
 * run.preset named in CONFIG_FILE, or "hx"), then CONFIG_FILE (may be NULL), then the
 * NSETS "section.key=value" overrides in order.  NULL with the message in ERR. */
xb_config *xb_sim_config(const char *config_file, const char *preset,
			 const char *const *sets, size_t nsets, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_SIM_H */
