/* check_kernel.c - Check tests of the discrete-event kernel shim (sim/xb_kernel.h).
 * Ordering at equal times, exact picosecond time, sensitivity, runs, many simulations, errors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_kernel.h"

#include <check.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* ---- a log of callbacks -------------------------------------------------------- */

#define LOG_MAX 256

typedef struct rec {
	int id;              /* which actor ran */
	xb_time_ps t;        /* at what time */
	uint64_t delta;      /* in which batch (xb_kernel_delta_count) */
} rec;

typedef struct logbuf {
	rec r[LOG_MAX];
	int n;
} logbuf;

typedef struct actor actor;
typedef void (*act_fn)(xb_kernel *k, actor *a);

/* A process's user data: it logs each activation, then runs ACT (if any). */
struct actor {
	logbuf *log;
	int id;
	int runs;            /* activations so far */
	act_fn act;
	xb_event ev[8];      /* events the action uses */
	xb_time_ps delay;
	int limit;
	xb_kernel *other;    /* a second simulation, for the error tests */
	xb_status st[8];     /* statuses the action observed */
};

static void actor_fn(xb_kernel *k, void *ud)
{
	actor *a = ud;
	logbuf *L = a->log;

	if (L && L->n < LOG_MAX) {
		L->r[L->n].id = a->id;
		L->r[L->n].t = xb_kernel_now(k);
		L->r[L->n].delta = xb_kernel_delta_count(k);
		L->n++;
	}
	a->runs++;
	if (a->act)
		a->act(k, a);
}

static xb_kernel *new_kernel(void)
{
	xb_kernel *k = xb_kernel_new(NULL);

	ck_assert_msg(k != NULL, "xb_kernel_new: %s", xb_errmsg(NULL));
	return k;
}

static xb_event new_event(xb_kernel *k, const char *name)
{
	xb_event e;

	ck_assert_int_eq(xb_kernel_event_new(k, name, &e), XB_OK);
	return e;
}

/* A process running actor_fn(A), sensitive to SENS (may be NULL). */
static xb_process new_actor(xb_kernel *k, actor *a, const xb_event *sens, unsigned flags)
{
	xb_process p;
	xb_status st = xb_kernel_process_new(k, NULL, actor_fn, a, sens, sens ? 1 : 0, flags, &p);

	ck_assert_msg(st == XB_OK, "process_new: %s", xb_kernel_errmsg(k));
	return p;
}

static void check_ids(const logbuf *L, const int *ids, int n)
{
	ck_assert_int_eq(L->n, n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(L->r[i].id == ids[i], "log[%d]: actor %d ran, expected %d", i,
			      L->r[i].id, ids[i]);
}

/* ---- core: ordering ---------------------------------------------------------- */

/* Driver of test_equal_time_order: at t=0 it notifies e[2] for t=100 and asks to run
 * again at t=40, where it notifies e[0] for t=100 (delay 60). */
static void order_driver(xb_kernel *k, actor *a)
{
	if (a->runs == 1) {
		ck_assert_int_eq(xb_kernel_notify(k, a->ev[2], 100), XB_OK);
		ck_assert_int_eq(xb_kernel_next_trigger_after(k, 40), XB_OK);
	} else {
		ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], 60), XB_OK);
	}
}

START_TEST(test_equal_time_order)
{
	logbuf L = {0};
	actor drv = {0}, a[5];
	xb_event e[5];
	xb_kernel *k = new_kernel();

	for (int i = 0; i < 5; i++) {
		e[i] = new_event(k, "e");
		a[i] = (actor){.log = &L, .id = i};
		new_actor(k, &a[i], &e[i], XB_PROCESS_DONT_INITIALIZE);
	}
	drv = (actor){.log = NULL, .id = 99, .act = order_driver};
	memcpy(drv.ev, e, sizeof e);
	new_actor(k, &drv, NULL, 0);
	/* Notifications for t=100, in this order: e3, e1 (first for t=200, then moved
	 * earlier to 100, which gives it a new sequence number after e3's), e4, then
	 * from callbacks e2 (t=0) and e0 (t=40).  e1's first notification for 200 is
	 * later than nothing, so it is taken; its second (100) replaces it. */
	ck_assert_int_eq(xb_kernel_notify(k, e[3], 100), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, e[1], 200), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, e[4], 100), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, e[1], 100), XB_OK);
	/* A later or equal notification of a pending event is ignored: it keeps its
	 * place. */
	ck_assert_int_eq(xb_kernel_notify(k, e[3], 150), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, e[4], 100), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);

	const int want[] = {3, 4, 1, 2, 0};   /* sequence order, as derived above */
	check_ids(&L, want, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(L.r[i].t, 100);
		ck_assert_uint_eq(L.r[i].delta, L.r[0].delta);   /* one batch */
	}
	ck_assert_uint_eq(xb_kernel_now(k), 100);   /* nothing after t=100 (e3@150 was dropped) */
	xb_kernel_free(k);
}
END_TEST

/* Delta notifications in the order e2, e0, e1; immediate ones e4, e3. */
static void delta_driver(xb_kernel *k, actor *a)
{
	ck_assert_int_eq(xb_kernel_notify(k, a->ev[2], 0), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], 0), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, a->ev[1], 0), XB_OK);
	ck_assert_int_eq(xb_kernel_notify_now(k, a->ev[4]), XB_OK);
	ck_assert_int_eq(xb_kernel_notify_now(k, a->ev[3]), XB_OK);
	/* Its own event, immediately: a running process is not woken by that. */
	ck_assert_int_eq(xb_kernel_notify_now(k, a->ev[5]), XB_OK);
}

START_TEST(test_delta_and_immediate_order)
{
	logbuf L = {0};
	actor drv, a[5];
	xb_event e[6];
	xb_kernel *k = new_kernel();

	for (int i = 0; i < 6; i++)
		e[i] = new_event(k, NULL);
	for (int i = 0; i < 5; i++) {
		a[i] = (actor){.log = &L, .id = i};
		new_actor(k, &a[i], &e[i], XB_PROCESS_DONT_INITIALIZE);
	}
	drv = (actor){.log = &L, .id = 9, .act = delta_driver};
	memcpy(drv.ev, e, sizeof e);
	new_actor(k, &drv, &e[5], XB_PROCESS_DONT_INITIALIZE);
	ck_assert_int_eq(xb_kernel_notify(k, e[5], 10), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);

	/* Driver first (t=10), then the immediate ones in call order in the same batch,
	 * then the delta ones in notify order in the next batch; the driver once. */
	const int want[] = {9, 4, 3, 2, 0, 1};
	check_ids(&L, want, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(L.r[i].t, 10);
	ck_assert_uint_eq(L.r[1].delta, L.r[0].delta);
	ck_assert_uint_eq(L.r[2].delta, L.r[0].delta);
	ck_assert_uint_eq(L.r[3].delta, L.r[0].delta + 1);
	ck_assert_uint_eq(L.r[5].delta, L.r[0].delta + 1);
	ck_assert_int_eq(drv.runs, 1);
	xb_kernel_free(k);
}
END_TEST

/* W1 waits 10 ps, then for e; W2 waits for e at once: W2 calls next_trigger first. */
static void fanout_waiter(xb_kernel *k, actor *a)
{
	if (a->runs == 1 && a->delay)
		ck_assert_int_eq(xb_kernel_next_trigger_after(k, a->delay), XB_OK);
	else if (a->runs == (a->delay ? 2 : 1))
		ck_assert_int_eq(xb_kernel_next_trigger(k, a->ev[0]), XB_OK);
}

START_TEST(test_fanout_order)
{
	logbuf L = {0};
	actor s[3], w1, w2;
	xb_kernel *k = new_kernel();
	xb_event e = new_event(k, "shared");

	for (int i = 0; i < 3; i++) {
		s[i] = (actor){.log = NULL, .id = i};
		new_actor(k, &s[i], &e, XB_PROCESS_DONT_INITIALIZE);
	}
	w1 = (actor){.log = NULL, .id = 11, .act = fanout_waiter, .delay = 10, .ev = {e}};
	w2 = (actor){.log = NULL, .id = 12, .act = fanout_waiter, .ev = {e}};
	new_actor(k, &w1, NULL, 0);
	new_actor(k, &w2, NULL, 0);
	ck_assert_int_eq(xb_kernel_run_until(k, 15), XB_OK);
	/* Both waiters now wait for e: W2 since t=0, W1 since t=10. */
	for (int i = 0; i < 3; i++)
		s[i].log = &L;
	w1.log = w2.log = &L;
	ck_assert_int_eq(xb_kernel_notify(k, e, 5), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	/* Static processes in creation order, then waiters in the order they started
	 * waiting. */
	const int want[] = {0, 1, 2, 12, 11};
	check_ids(&L, want, 5);
	ck_assert_uint_eq(L.r[4].t, 20);
	xb_kernel_free(k);
}
END_TEST

/* Order is a function of the API calls alone: a run split by stops gives the same
 * log as an uninterrupted one. */
static void stopper(xb_kernel *k, actor *a)
{
	if (a->limit && a->runs == 1)
		ck_assert_int_eq(xb_kernel_stop(k), XB_OK);
	if (a->runs < 3)
		ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], a->delay), XB_OK);
}

static void run_stop_scenario(logbuf *L, int with_stops, int *nstops)
{
	actor a[6];
	xb_event e[6];
	xb_kernel *k = new_kernel();

	for (int i = 0; i < 6; i++)
		e[i] = new_event(k, NULL);
	for (int i = 0; i < 6; i++) {
		/* Delays 0 (delta), 7 and 14 ps: ties at 14, 21, 28 ... between actors. */
		a[i] = (actor){.log = L, .id = i, .act = stopper,
			       .delay = (xb_time_ps)(7 * (i % 3)),
			       .limit = with_stops && (i == 1 || i == 4), .ev = {e[(i + 1) % 6]}};
		new_actor(k, &a[i], &e[i], 0);
	}
	*nstops = 0;
	for (;;) {
		ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
		if (!xb_kernel_stopped(k))
			break;
		(*nstops)++;
	}
	xb_kernel_free(k);
}

START_TEST(test_stop_keeps_order)
{
	logbuf plain = {0}, stopped = {0};
	int n0, n1;

	run_stop_scenario(&plain, 0, &n0);
	run_stop_scenario(&stopped, 1, &n1);
	ck_assert_int_eq(n0, 0);
	ck_assert_int_eq(n1, 2);   /* actors 1 and 4 each stop once */
	/* 6 initial activations, and each actor is woken again by its predecessor */
	ck_assert_int_gt(plain.n, 12);
	ck_assert_int_eq(plain.n, stopped.n);
	for (int i = 0; i < plain.n; i++) {   /* same callbacks, times and batches */
		ck_assert_int_eq(plain.r[i].id, stopped.r[i].id);
		ck_assert_uint_eq(plain.r[i].t, stopped.r[i].t);
		ck_assert_uint_eq(plain.r[i].delta, stopped.r[i].delta);
	}
}
END_TEST

/* ---- core: notification rules, time, sensitivity ------------------------------ */

static void now_canceller(xb_kernel *k, actor *a)
{
	ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], 100), XB_OK);
	ck_assert_int_eq(xb_kernel_notify_now(k, a->ev[0]), XB_OK);
}

START_TEST(test_precedence)
{
	logbuf L = {0};
	actor a = {.log = &L, .id = 1}, drv = {.id = 2, .act = now_canceller};
	xb_kernel *k = new_kernel();
	xb_event e = new_event(k, "e");

	new_actor(k, &a, &e, XB_PROCESS_DONT_INITIALIZE);
	/* Earlier wins: 100 then 50 -> 50 only. */
	xb_kernel_notify(k, e, 100);
	xb_kernel_notify(k, e, 50);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 1);
	ck_assert_uint_eq(L.r[0].t, 50);
	/* Later is ignored: +30 then +80 -> t=80 only. */
	xb_kernel_notify(k, e, 30);
	xb_kernel_notify(k, e, 80);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 2);
	ck_assert_uint_eq(L.r[1].t, 80);
	/* Delta beats timed, either order: one activation at t=80. */
	xb_kernel_notify(k, e, 100);
	xb_kernel_notify(k, e, 0);
	xb_kernel_notify(k, e, 5);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 3);
	ck_assert_uint_eq(L.r[2].t, 80);
	ck_assert_uint_eq(xb_kernel_now(k), 80);
	/* Cancel: nothing runs, and an idle run leaves the time alone. */
	xb_kernel_notify(k, e, 30);
	ck_assert_int_eq(xb_kernel_cancel(k, e), XB_OK);
	ck_assert_int_eq(xb_kernel_cancel(k, e), XB_OK);   /* nothing pending: fine */
	xb_kernel_notify(k, e, 0);
	ck_assert_int_eq(xb_kernel_cancel(k, e), XB_OK);
	ck_assert_int_eq(xb_kernel_next_time(k, NULL), 0);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 3);
	ck_assert_uint_eq(xb_kernel_now(k), 80);
	/* Immediate cancels the pending one: one activation at t=80, none at 180. */
	drv.ev[0] = e;
	new_actor(k, &drv, NULL, 0);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 4);
	ck_assert_uint_eq(L.r[3].t, 80);
	ck_assert_uint_eq(xb_kernel_now(k), 80);
	xb_kernel_free(k);
}
END_TEST

typedef struct stepper {
	xb_event ev;
	xb_time_ps delay;
	uint64_t count, limit;
	int use_next_trigger;
} stepper;

static void step_fn(xb_kernel *k, void *ud)
{
	stepper *s = ud;

	if (++s->count >= s->limit)
		return;
	if (s->use_next_trigger)
		xb_kernel_next_trigger_after(k, s->delay);
	else
		xb_kernel_notify(k, s->ev, s->delay);
}

START_TEST(test_exact_picoseconds)
{
	xb_kernel *k = new_kernel();
	stepper s = {.delay = 8000, .limit = 1000000};

	/* 1,000,000 activations 8000 ps apart (one 125 MHz cycle), the first at
	 * 8000 ps: the last is at exactly 1e6 * 8000 = 8,000,000,000 ps. */
	s.ev = new_event(k, "tick");
	ck_assert_int_eq(xb_kernel_process_new(k, "tick", step_fn, &s, &s.ev, 1,
					       XB_PROCESS_DONT_INITIALIZE, NULL), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, s.ev, 8000), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_uint_eq(s.count, 1000000);
	ck_assert_uint_eq(xb_kernel_now(k), UINT64_C(8000000000));
	ck_assert_uint_eq(xb_kernel_activations(k), 1000000);
	xb_kernel_free(k);

	/* Through next_trigger_after, 7 ps steps, first activation at t=0 (initial):
	 * 1001 activations end at 1000 * 7 = 7000 ps. */
	k = new_kernel();
	stepper u = {.delay = 7, .limit = 1001, .use_next_trigger = 1};
	ck_assert_int_eq(xb_kernel_process_new(k, "u", step_fn, &u, NULL, 0, 0, NULL), XB_OK);
	ck_assert_int_eq(xb_kernel_run_until(k, 6999), XB_OK);
	ck_assert_uint_eq(u.count, 1000);   /* t = 0, 7, ..., 6993: 1000 activations */
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_uint_eq(u.count, 1001);
	ck_assert_uint_eq(xb_kernel_now(k), 7000);
	xb_kernel_free(k);
}
END_TEST

/* The script of test_dynamic_sensitivity, by activation. */
static void dyn_script(xb_kernel *k, actor *a)
{
	switch (a->runs) {
	case 1:     /* t=0 (initial): wait for e2, not the static e1 */
		ck_assert_int_eq(xb_kernel_next_trigger(k, a->ev[1]), XB_OK);
		break;
	case 2:     /* t=20 (e2): back to static */
		break;
	case 3:     /* t=30 (e1): last call wins: wake at 30 + 7 */
		ck_assert_int_eq(xb_kernel_next_trigger_after(k, 5), XB_OK);
		ck_assert_int_eq(xb_kernel_next_trigger_after(k, 7), XB_OK);
		ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], 1), XB_OK);   /* ignored at 31 */
		break;
	case 4:     /* t=37: next delta cycle */
		ck_assert_int_eq(xb_kernel_next_trigger_after(k, 0), XB_OK);
		break;
	default:
		break;
	}
}

START_TEST(test_dynamic_sensitivity)
{
	logbuf L = {0};
	actor a = {.log = &L, .id = 1, .act = dyn_script};
	xb_kernel *k = new_kernel();

	a.ev[0] = new_event(k, "e1");
	a.ev[1] = new_event(k, "e2");
	new_actor(k, &a, &a.ev[0], 0);
	xb_kernel_notify(k, a.ev[0], 10);   /* ignored: the process waits for e2 */
	xb_kernel_notify(k, a.ev[1], 20);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 20);
	xb_kernel_notify(k, a.ev[0], 10);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(L.n, 5);
	const xb_time_ps t[] = {0, 20, 30, 37, 37};
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(L.r[i].t, t[i]);
	ck_assert_uint_eq(L.r[4].delta, L.r[3].delta + 1);
	ck_assert_uint_eq(xb_kernel_now(k), 37);
	xb_kernel_free(k);
}
END_TEST

/* The actor notifies its own event for the next delta at its first two activations. */
static void chain_delta(xb_kernel *k, actor *a)
{
	if (a->runs <= 2)
		ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], 0), XB_OK);
}

START_TEST(test_run_until)
{
	logbuf L = {0};
	actor a = {.log = &L, .id = 1, .act = chain_delta}, b = {.log = &L, .id = 2};
	xb_kernel *k = new_kernel();
	xb_time_ps t;

	/* Idle: the time still ends at the target. */
	ck_assert_int_eq(xb_kernel_run_until(k, 1000), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 1000);
	ck_assert_int_eq(xb_kernel_run_until(k, 1000), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 1000);

	a.ev[0] = new_event(k, "a");
	b.ev[0] = new_event(k, "b");
	new_actor(k, &a, &a.ev[0], XB_PROCESS_DONT_INITIALIZE);
	new_actor(k, &b, &b.ev[0], XB_PROCESS_DONT_INITIALIZE);
	xb_kernel_notify(k, a.ev[0], 500);    /* t = 1500 */
	xb_kernel_notify(k, b.ev[0], 1500);   /* t = 2500 */
	ck_assert_int_eq(xb_kernel_next_time(k, &t), 1);
	ck_assert_uint_eq(t, 1500);
	ck_assert_int_eq(xb_kernel_run_until(k, 1499), XB_OK);
	ck_assert_int_eq(L.n, 0);
	ck_assert_uint_eq(xb_kernel_now(k), 1499);
	/* step: every batch at 1500, the two delta cycles a chains included. */
	ck_assert_int_eq(xb_kernel_step(k), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 1500);
	ck_assert_int_eq(L.n, 3);
	ck_assert_uint_eq(L.r[2].t, 1500);
	ck_assert_uint_eq(L.r[2].delta, L.r[0].delta + 2);
	/* A delta notification between runs is pending at the current time... */
	ck_assert_int_eq(xb_kernel_notify(k, a.ev[0], 0), XB_OK);
	ck_assert_int_eq(xb_kernel_next_time(k, &t), 1);
	ck_assert_uint_eq(t, 1500);
	/* ...and run_until(now) runs it. */
	ck_assert_int_eq(xb_kernel_run_until(k, 1500), XB_OK);
	ck_assert_int_eq(L.n, 4);
	ck_assert_uint_eq(L.r[3].delta, L.r[2].delta + 1);
	/* Events at exactly the target run. */
	ck_assert_int_eq(xb_kernel_run_until(k, 2500), XB_OK);
	ck_assert_int_eq(L.n, 5);
	ck_assert_int_eq(L.r[4].id, 2);
	ck_assert_uint_eq(L.r[4].t, 2500);
	ck_assert_uint_eq(xb_kernel_now(k), 2500);
	ck_assert_int_eq(xb_kernel_step(k), XB_OK);   /* idle: no-op */
	ck_assert_uint_eq(xb_kernel_now(k), 2500);
	ck_assert_int_eq(xb_kernel_stopped(k), 0);
	xb_kernel_free(k);
}
END_TEST

static void stop_at_second(xb_kernel *k, actor *a)
{
	if (a->runs == 2)
		ck_assert_int_eq(xb_kernel_stop(k), XB_OK);
	if (a->runs < 4)
		xb_kernel_notify(k, a->ev[0], 50);
}

START_TEST(test_run_idle_and_stop)
{
	logbuf L = {0};
	actor a = {.log = &L, .id = 1, .act = stop_at_second};
	xb_kernel *k = new_kernel();

	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);   /* nothing at all */
	ck_assert_uint_eq(xb_kernel_now(k), 0);
	a.ev[0] = new_event(k, "a");
	new_actor(k, &a, &a.ev[0], 0);   /* runs at 0, 50, 100, 150 */
	ck_assert_int_eq(xb_kernel_run_until(k, 120), XB_OK);
	ck_assert_int_eq(xb_kernel_stopped(k), 1);   /* stopped at t=50 */
	ck_assert_uint_eq(xb_kernel_now(k), 50);
	ck_assert_int_eq(xb_kernel_run_until(k, 120), XB_OK);
	ck_assert_int_eq(xb_kernel_stopped(k), 0);
	ck_assert_uint_eq(xb_kernel_now(k), 120);
	ck_assert_int_eq(L.n, 3);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 150);   /* the last batch */
	ck_assert_int_eq(L.n, 4);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_uint_eq(xb_kernel_now(k), 150);
	xb_kernel_free(k);
}
END_TEST

/* Creates a process (initialised) from a callback; it runs in the same batch. */
static void spawner(xb_kernel *k, actor *a)
{
	xb_process p, self;

	if (a->runs > 1)
		return;
	ck_assert_int_eq(xb_kernel_self(k, &self), 1);
	ck_assert_uint_eq(self.index, 2);   /* third process made in test_initialize */
	ck_assert_int_eq(xb_kernel_process_new(k, "child", actor_fn, &a[1], NULL, 0, 0, &p),
			 XB_OK);
	ck_assert_uint_eq(p.index, 3);
}

START_TEST(test_initialize)
{
	logbuf L = {0};
	actor a = {.log = &L, .id = 1}, b = {.log = &L, .id = 2}, c[2];
	xb_kernel *k = new_kernel();
	xb_event e = new_event(k, "e");
	xb_process self;

	c[0] = (actor){.log = &L, .id = 3, .act = spawner};
	c[1] = (actor){.log = &L, .id = 4};
	new_actor(k, &a, NULL, 0);
	new_actor(k, &b, &e, XB_PROCESS_DONT_INITIALIZE);
	new_actor(k, &c[0], &e, 0);
	ck_assert_int_eq(xb_kernel_self(k, &self), 0);
	ck_assert_uint_eq(self.sim, 0);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	/* a and c in creation order, b not at all, the child after its creator in the
	 * same batch. */
	const int want[] = {1, 3, 4};
	check_ids(&L, want, 3);
	ck_assert_uint_eq(L.r[2].delta, L.r[0].delta);

	/* Made between runs, with b's event due at 80: it runs at the current time (50)
	 * first. */
	actor late = {.log = &L, .id = 5};
	xb_time_ps t;
	ck_assert_int_eq(xb_kernel_run_until(k, 50), XB_OK);
	ck_assert_int_eq(xb_kernel_notify(k, e, 30), XB_OK);
	new_actor(k, &late, NULL, 0);
	ck_assert_int_eq(xb_kernel_next_time(k, &t), 1);
	ck_assert_uint_eq(t, 50);
	ck_assert_int_eq(xb_kernel_step(k), XB_OK);
	ck_assert_int_eq(L.n, 4);
	ck_assert_int_eq(L.r[3].id, 5);
	ck_assert_uint_eq(L.r[3].t, 50);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);   /* e at 80 wakes b and c[0] */
	ck_assert_int_eq(L.n, 6);
	ck_assert_int_eq(L.r[4].id, 2);   /* b and c[0] in creation order */
	ck_assert_int_eq(L.r[5].id, 3);
	ck_assert_uint_eq(L.r[5].t, 80);
	xb_kernel_free(k);
}
END_TEST

/* Runs the ping of test_two_simulations in K for N rounds of DELAY ps. */
static void pingpong(xb_kernel *k, actor *a)
{
	if (a->runs < a->limit)
		xb_kernel_notify(k, a->ev[0], a->delay);
}

START_TEST(test_two_simulations)
{
	logbuf L1 = {0}, L2 = {0};
	actor a1 = {.log = &L1, .id = 1, .act = pingpong, .delay = 30, .limit = 10};
	actor a2 = {.log = &L2, .id = 2, .act = pingpong, .delay = 70, .limit = 10};
	xb_kernel *k1 = new_kernel();
	xb_kernel *k2 = new_kernel();   /* both live at once */

	a1.ev[0] = new_event(k1, NULL);
	a2.ev[0] = new_event(k2, NULL);
	new_actor(k1, &a1, &a1.ev[0], 0);
	new_actor(k2, &a2, &a2.ev[0], 0);
	/* Interleaved runs; each simulation keeps its own clock. */
	ck_assert_int_eq(xb_kernel_run_until(k1, 100), XB_OK);
	ck_assert_int_eq(xb_kernel_run_until(k2, 100), XB_OK);
	ck_assert_int_eq(xb_kernel_run_until(k1, 200), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k2), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k1), XB_OK);
	/* 10 activations each at 0, d, ..., 9d. */
	ck_assert_int_eq(L1.n, 10);
	ck_assert_int_eq(L2.n, 10);
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_eq(L1.r[i].t, 30 * (xb_time_ps)i);
		ck_assert_uint_eq(L2.r[i].t, 70 * (xb_time_ps)i);
	}
	ck_assert_uint_eq(xb_kernel_now(k1), 270);
	ck_assert_uint_eq(xb_kernel_now(k2), 630);
	xb_kernel_free(k1);
	xb_kernel_free(k2);
}
END_TEST

/* A free-running clock: it re-notifies itself every DELAY ps, forever. */
static void clock_fn(xb_kernel *k, actor *a)
{
	ck_assert_int_eq(xb_kernel_notify(k, a->ev[0], a->delay), XB_OK);
}

START_TEST(test_interleaved_clocks)
{
	actor c1 = {.id = 1, .act = clock_fn, .delay = 10};
	actor c2 = {.id = 2, .act = clock_fn, .delay = 7};
	xb_kernel *k1 = new_kernel(), *k2 = new_kernel();

	c1.ev[0] = new_event(k1, "clk");
	c2.ev[0] = new_event(k2, "clk");
	new_actor(k1, &c1, &c1.ev[0], 0);
	new_actor(k2, &c2, &c2.ev[0], 0);
	/* 100 rounds of alternating runs: each leaves its clock's next tick armed in
	 * SystemC, which the other simulation's run replaces. */
	for (xb_time_ps t = 5; t < 1000; t += 10) {
		ck_assert_int_eq(xb_kernel_run_until(k1, t), XB_OK);
		ck_assert_int_eq(xb_kernel_run_until(k2, t), XB_OK);
	}
	/* Ticks at 0, 10, ..., 990 (100) and 0, 7, ..., 994 (143); both at 995. */
	ck_assert_int_eq(c1.runs, 100);
	ck_assert_int_eq(c2.runs, 143);
	ck_assert_uint_eq(xb_kernel_now(k1), 995);
	ck_assert_uint_eq(xb_kernel_now(k2), 995);
	xb_kernel_free(k1);
	xb_kernel_free(k2);
}
END_TEST

/* ---- limits ------------------------------------------------------------------ */

/* One small simulation: three processes in a ring 0 -> 1 -> 2 -> 0; node i sends 20
 * times, each after 8 * (i + 1) ps. */
typedef struct ring {
	xb_event e[3];
	int sends[3];
} ring;

typedef struct ring_node {
	ring *r;
	int i;
} ring_node;

static void ring_fn(xb_kernel *k, void *ud)
{
	ring_node *n = ud;
	ring *r = n->r;

	if (r->sends[n->i] < 20) {
		r->sends[n->i]++;
		xb_time_ps d = 8 * (xb_time_ps)(n->i + 1);
		ck_assert_int_eq(xb_kernel_notify(k, r->e[(n->i + 1) % 3], d), XB_OK);
	}
}

static void one_ring(xb_time_ps *t_end, uint64_t *activations)
{
	xb_kernel *k = new_kernel();
	ring r = {0};
	ring_node n[3];

	for (int i = 0; i < 3; i++)
		r.e[i] = new_event(k, "ring");
	for (int i = 0; i < 3; i++) {
		n[i] = (ring_node){&r, i};
		unsigned flags = i == 0 ? 0 : XB_PROCESS_DONT_INITIALIZE;
		ck_assert_int_eq(xb_kernel_process_new(k, "node", ring_fn, &n[i], &r.e[i], 1,
						       flags, NULL), XB_OK);
	}
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	*t_end = xb_kernel_now(k);
	*activations = xb_kernel_activations(k);
	xb_kernel_free(k);
}

START_TEST(test_many_simulations)
{
	xb_time_ps t0, t;
	uint64_t n0, n;
	struct mallinfo2 m0, m1;

	/* Actor i sends 20 times, each after 8 * (i + 1) ps, around the ring 0->1->2->0:
	 * 60 sends + the initial activation = 61 activations, and one round (8+16+24 =
	 * 48 ps) per 3 sends: the last of the 61 is at 20 * 48 = 960 ps. */
	one_ring(&t0, &n0);
	ck_assert_uint_eq(n0, 61);
	ck_assert_uint_eq(t0, 960);
	for (int i = 0; i < 300; i++)    /* fills the ring of freed handles */
		one_ring(&t, &n);
	m0 = mallinfo2();
	for (int i = 0; i < 1000; i++) {
		one_ring(&t, &n);
		ck_assert_uint_eq(t, t0);
		ck_assert_uint_eq(n, n0);
	}
	m1 = mallinfo2();
	/* Memory does not grow with the number of simulations (mallinfo2 reads 0 under
	 * sanitizers and valgrind, where the leak checkers do this job). */
	ck_assert_msg(m1.uordblks <= m0.uordblks + 16384, "heap grew from %zu to %zu bytes",
		      m0.uordblks, m1.uordblks);
}
END_TEST

START_TEST(test_cancel_churn)
{
	logbuf L = {0};
	actor a[5];
	xb_event e[5];
	xb_kernel *k = new_kernel();

	for (int i = 0; i < 5; i++) {
		e[i] = new_event(k, NULL);
		a[i] = (actor){.log = &L, .id = i};
		new_actor(k, &a[i], &e[i], XB_PROCESS_DONT_INITIALIZE);
	}
	xb_kernel_notify(k, e[4], 0);   /* survives all that follows */
	/* 20,000 notifications replaced or cancelled, timed and delta: the calendar
	 * drops them (rebuilding itself) and keeps the order of the survivors. */
	for (int i = 0; i < 5000; i++) {
		for (int j = 0; j < 4; j++) {
			/* each replaces the last (earlier wins); a delta beats them */
			xb_kernel_notify(k, e[j], 100000 - (xb_time_ps)i);
			if (i % 3 == 0) {
				xb_kernel_notify(k, e[j], 0);
				xb_kernel_cancel(k, e[j]);
			}
		}
	}
	for (int j = 0; j < 4; j++)
		xb_kernel_cancel(k, e[j]);
	ck_assert_int_eq(xb_kernel_cancel(k, e[4]), XB_OK);
	ck_assert_int_eq(xb_kernel_next_time(k, NULL), 0);
	xb_kernel_notify(k, e[4], 0);
	xb_kernel_notify(k, e[3], 500);
	xb_kernel_notify(k, e[1], 500);
	xb_kernel_notify(k, e[0], 0);
	xb_kernel_notify(k, e[2], 500);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	/* e4 and e0 at the first batch (t=0), then notify order at t=500. */
	const int want[] = {4, 0, 3, 1, 2};
	check_ids(&L, want, 5);
	ck_assert_uint_eq(L.r[1].t, 0);
	ck_assert_uint_eq(L.r[2].t, 500);
	ck_assert_uint_eq(L.r[4].t, 500);
	xb_kernel_free(k);
}
END_TEST

/* At its first activation (t=5) it notifies its event for 2^64-1 ps: beyond SystemC's
 * range, which the run finds when it arms SystemC for the next batch. */
static void far_notifier(xb_kernel *k, actor *a)
{
	if (a->runs == 1)
		a->st[0] = xb_kernel_notify(k, a->ev[0], UINT64_MAX - 5);
}

/* Misuse from inside a callback (at t=3); the statuses are checked after the run. */
static void misuse_inside(xb_kernel *k, actor *a)
{
	a->st[0] = xb_kernel_run_until(k, 100);          /* nested run, same simulation */
	a->st[1] = xb_kernel_run_idle(a->other);         /* nested run, another one */
	a->st[7] = strstr(xb_kernel_errmsg(a->other), "runs do not nest") ? XB_ESTATE : XB_OK;
	xb_kernel_free(k);                               /* own simulation: refused */
	a->st[2] = strstr(xb_kernel_errmsg(k), "own callbacks") ? XB_ESTATE : XB_OK;
	a->st[3] = xb_kernel_notify_now(a->other, a->ev[1]);    /* not the other's callback */
	a->st[4] = xb_kernel_next_trigger_after(k, UINT64_MAX); /* 3 + 2^64-1 overflows */
	a->st[5] = xb_kernel_notify(a->other, a->ev[1], 5);    /* fine: a plain notify */
	a->st[6] = xb_kernel_stop(a->other);                    /* the other is not running */
}

START_TEST(test_errors)
{
	xb_kernel *k = new_kernel(), *k2 = new_kernel();
	xb_event e = new_event(k, "e"), e2 = new_event(k2, "e2"), none = {0, 0};
	actor a = {.id = 1, .act = misuse_inside, .other = k2, .ev = {e, e2}};
	xb_process p;

	/* NULL handles. */
	ck_assert_int_eq(xb_kernel_run_idle(NULL), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(NULL), "NULL"));
	ck_assert_int_eq(xb_kernel_notify(NULL, e, 1), XB_EINVAL);
	none.sim = 7;
	ck_assert_int_eq(xb_kernel_event_new(NULL, "x", &none), XB_EINVAL);
	ck_assert_uint_eq(none.sim, 0);   /* output cleared on error */
	ck_assert_int_eq(xb_kernel_event_new(k, "x", NULL), XB_EINVAL);
	ck_assert_uint_eq(xb_kernel_now(NULL), 0);
	xb_kernel_free(NULL);   /* no-op */

	/* Bad event handles. */
	ck_assert_int_eq(xb_kernel_notify(k, none, 1), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "empty"));
	ck_assert_int_eq(xb_kernel_notify(k, e2, 1), XB_EINVAL);   /* another live one's */
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "belongs to simulation"));
	ck_assert_int_eq(xb_kernel_cancel(k, (xb_event){e.sim, 5}), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "does not exist"));
	ck_assert_int_eq(xb_kernel_next_trigger(k, none), XB_EINVAL);

	/* Calls that need a callback, made outside one. */
	ck_assert_int_eq(xb_kernel_next_trigger(k, e), XB_ESTATE);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "inside a callback"));
	ck_assert_int_eq(xb_kernel_next_trigger_after(k, 5), XB_ESTATE);
	ck_assert_int_eq(xb_kernel_notify_now(k, e), XB_ESTATE);
	ck_assert_int_eq(xb_kernel_stop(k), XB_ESTATE);

	/* Bad processes. */
	ck_assert_int_eq(xb_kernel_process_new(k, "f", NULL, NULL, &e, 1, 0, &p), XB_EINVAL);
	ck_assert_uint_eq(p.sim, 0);
	ck_assert_int_eq(xb_kernel_process_new(k, "lost", actor_fn, &a, NULL, 0,
					       XB_PROCESS_DONT_INITIALIZE, NULL), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "could never run"));
	ck_assert_int_eq(xb_kernel_process_new(k, "n", actor_fn, &a, NULL, 2, 0, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_kernel_process_new(k, "x", actor_fn, &a, &e, 1, 8, NULL), XB_EINVAL);
	ck_assert_int_eq(xb_kernel_process_new(k, "y", actor_fn, &a, &e2, 1, 0, NULL), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "process 'y', sensitivity 0"));

	/* Misuse inside a callback. */
	new_actor(k, &a, &e, XB_PROCESS_DONT_INITIALIZE);
	ck_assert_int_eq(xb_kernel_notify(k, e, 3), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_OK);
	ck_assert_int_eq(a.runs, 1);
	ck_assert_int_eq(a.st[0], XB_ESTATE);
	ck_assert_int_eq(a.st[1], XB_ESTATE);
	ck_assert_int_eq(a.st[7], XB_ESTATE);   /* its message said so */
	ck_assert_int_eq(a.st[2], XB_ESTATE);
	ck_assert_int_eq(a.st[3], XB_ESTATE);
	ck_assert_int_eq(a.st[4], XB_ERANGE);
	ck_assert_int_eq(a.st[5], XB_OK);
	ck_assert_int_eq(a.st[6], XB_ESTATE);
	ck_assert_uint_eq(xb_kernel_now(k), 3);
	ck_assert_int_eq(xb_kernel_next_time(k2, NULL), 1);   /* e2, notified from k's callback */

	/* Time going backwards, overflowing the 64-bit clock. */
	ck_assert_int_eq(xb_kernel_run_until(k, 40), XB_OK);
	ck_assert_int_eq(xb_kernel_run_until(k, 39), XB_EINVAL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "precedes"));
	ck_assert_int_eq(xb_kernel_notify(k, e, UINT64_MAX - 39), XB_ERANGE);   /* 40 + d wraps */
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "overflows"));

	/* Beyond SystemC's clock: a new simulation starts at local 0, but SystemC's clock
	 * has advanced in this process (at least the 3 ps run above), so t = 2^64-1 ps
	 * fits the local clock and not SystemC's. */
	xb_kernel *k4 = new_kernel();
	xb_event e4 = new_event(k4, "far");
	ck_assert_int_eq(xb_kernel_notify(k4, e4, UINT64_MAX), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k4), XB_ERANGE);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k4), "SystemC's time range"));
	ck_assert_int_eq(xb_kernel_run_until(k4, UINT64_MAX), XB_ERANGE);
	ck_assert_int_eq(xb_kernel_cancel(k4, e4), XB_OK);
	ck_assert_int_eq(xb_kernel_run_until(k4, UINT64_MAX), XB_OK);   /* idle: SystemC not used */
	ck_assert_uint_eq(xb_kernel_now(k4), UINT64_MAX);
	xb_kernel_free(k4);
	/* The same found during a run: the run fails at the last batch, and the
	 * simulation stays usable. */
	k4 = new_kernel();
	actor far = {.id = 4, .act = far_notifier, .ev = {new_event(k4, "far")}};
	new_actor(k4, &far, &far.ev[0], XB_PROCESS_DONT_INITIALIZE);
	ck_assert_int_eq(xb_kernel_notify(k4, far.ev[0], 5), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k4), XB_ERANGE);
	ck_assert_int_eq(far.st[0], XB_OK);   /* 5 + (2^64-1 - 5) fits the local clock */
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k4), "xb_kernel_run_idle: simulation #"));
	ck_assert_uint_eq(xb_kernel_now(k4), 5);
	ck_assert_int_eq(xb_kernel_cancel(k4, far.ev[0]), XB_OK);
	ck_assert_int_eq(xb_kernel_run_idle(k4), XB_OK);
	ck_assert_int_eq(far.runs, 1);
	xb_kernel_free(k4);

	/* A SystemC error becomes XB_EKERNEL with SystemC's message, and no abort. */
	ck_assert_int_eq(xb_kernel_test_systemc_error(k), XB_EKERNEL);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "SystemC reported"));
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "time resolution"));

	/* Freed simulations: the handle, and its events used with a new simulation. */
	xb_kernel_free(k);
	ck_assert_int_eq(xb_kernel_run_idle(k), XB_ESTATE);
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "was freed"));
	ck_assert_int_eq(xb_kernel_notify(k, e, 1), XB_ESTATE);
	ck_assert_int_eq(xb_kernel_run_until(k, 1), XB_ESTATE);
	ck_assert_uint_eq(xb_kernel_now(k), 0);
	xb_kernel_free(k);   /* twice: recorded, harmless */
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k), "was freed"));
	xb_kernel *k3 = new_kernel();
	ck_assert_int_eq(xb_kernel_notify(k3, e, 1), XB_EINVAL);   /* event of a freed one */
	ck_assert_ptr_nonnull(strstr(xb_kernel_errmsg(k3), "freed"));
	ck_assert_int_eq(xb_kernel_run_idle(k2), XB_OK);   /* k2 unaffected by all this */
	ck_assert_uint_eq(xb_kernel_now(k2), 5);
	xb_kernel_free(k2);
	xb_kernel_free(k3);
}
END_TEST

static Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_test(core, test_equal_time_order);
	tcase_add_test(core, test_delta_and_immediate_order);
	tcase_add_test(core, test_fanout_order);
	tcase_add_test(core, test_stop_keeps_order);
	tcase_add_test(core, test_precedence);
	tcase_add_test(core, test_exact_picoseconds);
	tcase_add_test(core, test_dynamic_sensitivity);
	tcase_add_test(core, test_run_until);
	tcase_add_test(core, test_run_idle_and_stop);
	tcase_add_test(core, test_initialize);
	tcase_add_test(core, test_two_simulations);
	tcase_add_test(core, test_interleaved_clocks);
	tcase_add_test(limits, test_many_simulations);
	tcase_add_test(limits, test_cancel_churn);
	tcase_add_test(limits, test_errors);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(kernel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
