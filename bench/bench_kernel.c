/* bench_kernel.c - speed of the discrete-event kernel shim against plain SystemC.
 * Prints kernel.{raw,shim}_events_per_s, kernel.shim_over_raw, and rates with 1,024 pending.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The ping: one method process re-notifies its own event 1 ns later, N times,
 * (a) as a plain SystemC method (bench_kernel_raw.cc) and (b) through the C API.
 * Both run in this process, after the shim has set SystemC up (one context per
 * process: the raw method is spawned dynamically, like the shim's dispatcher);
 * each figure is the best of REPEATS, raw and shim interleaved.  The second pair
 * runs 1,024 processes that each re-notify themselves after 1..1024 ns, so that
 * about 1,024 notifications are always pending.
 */
#include "xb_kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* bench_kernel_raw.cc */
double bench_kernel_raw_ping(uint64_t n);
double bench_kernel_raw_pending(unsigned nproc, uint64_t n);

#define PING_EVENTS 4000000u    /* per repetition: ~0.2 s at 20 M events/s */
#define REPEATS 3
#define PENDING 1024            /* events in flight for the "many pending" figure */
#define PENDING_EVENTS 2000000u

typedef struct ping {
	xb_event ev;
	uint64_t count, n;
} ping;

/* CPU time of this thread: the machine is shared (2 cores, other builds), and
 * time spent descheduled is not the kernel's cost.  bench_kernel_raw.cc times the
 * raw ping the same way. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The shim's ping: the process re-notifies its own event 1 ns later. */
static void ping_fn(xb_kernel *k, void *ud)
{
	ping *p = ud;

	if (++p->count < p->n)
		xb_kernel_notify(k, p->ev, 1000);
}

/* Events per second of the ping through the C API; < 0 on error. */
static double shim_ping(uint64_t n)
{
	xb_kernel *k = xb_kernel_new(NULL);
	ping p = {{0, 0}, 0, n};
	double t0, t1;

	if (!k)
		return -1.0;
	if (xb_kernel_event_new(k, "ping", &p.ev) ||
	    xb_kernel_process_new(k, "ping", ping_fn, &p, &p.ev, 1, XB_PROCESS_DONT_INITIALIZE,
				  NULL) ||
	    xb_kernel_notify(k, p.ev, 1000)) {
		fprintf(stderr, "bench_kernel: %s\n", xb_kernel_errmsg(k));
		xb_kernel_free(k);
		return -1.0;
	}
	t0 = cpu_s();
	if (xb_kernel_run_idle(k) != XB_OK) {
		fprintf(stderr, "bench_kernel: %s\n", xb_kernel_errmsg(k));
		xb_kernel_free(k);
		return -1.0;
	}
	t1 = cpu_s();
	xb_kernel_free(k);
	return p.count == n ? (double)n / (t1 - t0) : -1.0;
}

/* PENDING processes, each re-notifying its own event after a pseudo-random
 * 1..1024 ns, so that about PENDING notifications are always pending. */
typedef struct many {
	xb_event ev[PENDING];
	uint64_t count, n;
	uint32_t lcg;
} many;

static void many_fn(xb_kernel *k, void *ud)
{
	many *m = ud;
	xb_process self;

	xb_kernel_self(k, &self);
	if (++m->count < m->n) {
		m->lcg = m->lcg * 1664525u + 1013904223u;
		xb_kernel_notify(k, m->ev[self.index], 1000u * (1 + (m->lcg >> 22)));
	} else {
		xb_kernel_stop(k);
	}
}

static double shim_many(uint64_t n)
{
	xb_kernel *k = xb_kernel_new(NULL);
	many *m = calloc(1, sizeof *m);
	double t0, t1, rate = -1.0;

	if (!k || !m)
		goto done;
	m->n = n;
	m->lcg = 12345;
	for (unsigned i = 0; i < PENDING; i++)
		if (xb_kernel_event_new(k, NULL, &m->ev[i]) ||
		    xb_kernel_process_new(k, NULL, many_fn, m, &m->ev[i], 1, 0, NULL))
			goto done;
	t0 = cpu_s();
	if (xb_kernel_run_idle(k) != XB_OK)
		goto done;
	t1 = cpu_s();
	rate = (double)m->count / (t1 - t0);
done:
	if (k && rate < 0)
		fprintf(stderr, "bench_kernel: %s\n", xb_kernel_errmsg(k));
	xb_kernel_free(k);
	free(m);
	return rate;
}

int main(void)
{
	double raw = 0, shim = 0, many_raw = 0, many_shim = 0;
	xb_kernel *k = xb_kernel_new(NULL);   /* sets SystemC up before the raw ping */

	if (!k) {
		fprintf(stderr, "bench_kernel: %s\n", xb_errmsg(NULL));
		return 1;
	}
	xb_kernel_free(k);
	/* Best of REPEATS, raw and shim interleaved so that both see the same machine. */
	for (int r = 0; r < REPEATS; r++) {
		double a = bench_kernel_raw_ping(PING_EVENTS);
		double b = shim_ping(PING_EVENTS);
		if (a < 0 || b < 0) {
			fprintf(stderr, "bench_kernel: ping failed\n");
			return 1;
		}
		raw = a > raw ? a : raw;
		shim = b > shim ? b : shim;
	}
	for (int r = 0; r < REPEATS; r++) {
		double a = bench_kernel_raw_pending(PENDING, PENDING_EVENTS);
		double b = shim_many(PENDING_EVENTS);
		if (a < 0 || b < 0) {
			fprintf(stderr, "bench_kernel: pending ping failed\n");
			return 1;
		}
		many_raw = a > many_raw ? a : many_raw;
		many_shim = b > many_shim ? b : many_shim;
	}
	printf("kernel.raw_events_per_s: %.4g events/s\n", raw);
	printf("kernel.shim_events_per_s: %.4g events/s\n", shim);
	printf("kernel.shim_over_raw: %.3f\n", shim / raw);
	printf("kernel.raw_pending%d_events_per_s: %.4g events/s\n", PENDING, many_raw);
	printf("kernel.shim_pending%d_events_per_s: %.4g events/s\n", PENDING, many_shim);
	return 0;
}
