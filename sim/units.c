/* units.c - integer simulation time and unit conversions.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <math.h>
#include <time.h>

static xb_time_ps round_ps(double ps)
{
	if (!(ps > 0))
		return 0;
	if (ps >= 1.8e19)
		return XB_TIME_MAX;
	return (xb_time_ps)llround(ps);
}

xb_time_ps xb_cycle_ps(double clock_mhz)
{
	return clock_mhz > 0 ? round_ps(1e6 / clock_mhz) : 0;
}

xb_time_ps xb_cycles_to_ps(uint64_t cycles, double clock_mhz)
{
	return cycles * xb_cycle_ps(clock_mhz);
}

xb_time_ps xb_ns_to_ps(double time_ns)
{
	return round_ps(time_ns * 1e3);
}

xb_time_ps xb_us_to_ps(double time_us)
{
	return round_ps(time_us * 1e6);
}

double xb_ps_to_ns(xb_time_ps t)
{
	return (double)t * 1e-3;
}

double xb_ps_to_us(xb_time_ps t)
{
	return (double)t * 1e-6;
}

double xb_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
