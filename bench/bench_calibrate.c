/* bench_calibrate.c - how long calibrating one hx tile takes: the default protocol's
 * measurement file of 256 columns read and fitted.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_calibration.h"
#include "xb_devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	xb_tile_params tp = xb_tile_default_params();
	xb_calibration_design d;
	xb_calibration_meas *stim = NULL, *m = NULL, *back = NULL;
	xb_calibration *cal = NULL;
	xb_err err = { 0 };
	char path[256];
	const char *tmp = getenv("TMPDIR");
	double t0, t_measure, t_fit = 0;
	int rc = 1;

	/* An hx chip (256 columns) with fixed-pattern spreads to recover. */
	tp.noise.fpn_gain = 0.05;
	tp.noise.fpn_offset_lsb = 3;
	tp.noise.fpn_saturation_lsb = 4;
	d = xb_calibration_design_from_tile(&tp, 0);
	snprintf(path, sizeof path, "%s/xb_bench_calibrate.%ld.h5", tmp && *tmp ? tmp : "/tmp",
		 (long)getpid());
	stim = xb_calibration_protocol(&d, &err);
	if (!stim)
		goto fail;
	t0 = xb_wall_s();
	if (xb_calibration_measure(&tp, stim, 0, NULL, &m, NULL, NULL, &err) != XB_OK)
		goto fail;
	t_measure = xb_wall_s() - t0;
	if (xb_calibration_meas_write(m, path, NULL, "bench_calibrate", &err) != XB_OK)
		goto fail;
	/* Best of three: read the file and fit every column. */
	for (int rep = 0; rep < 3; rep++) {
		double t;

		t0 = xb_wall_s();
		if (xb_calibration_meas_read(path, &back, &err) != XB_OK ||
		    xb_calibration_fit(back, NULL, &cal, &err) != XB_OK)
			goto fail;
		t = xb_wall_s() - t0;
		if (rep == 0 || t < t_fit)
			t_fit = t;
		if (rep < 2) {
			xb_calibration_free(cal);
			xb_calibration_meas_free(back);
			cal = NULL;
			back = NULL;
		}
	}
	printf("calibrate.columns256_s: %.3f s\n", t_fit);
	printf("calibrate.measure256_s: %.3f s\n", t_measure);
	printf("calibrate.good_fraction: %.3f\n", cal->good_fraction);
	rc = 0;
fail:
	if (rc)
		fprintf(stderr, "bench_calibrate: %s\n", err.msg);
	unlink(path);
	xb_calibration_free(cal);
	xb_calibration_meas_free(back);
	xb_calibration_meas_free(m);
	xb_calibration_meas_free(stim);
	return rc;
}
