/* xb_kernel.h - discrete-event kernel: a C API over SystemC for the timed model.
 * Processes, events, picosecond time, runs, many simulations in one process.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What it models.  A simulation (xb_kernel) holds method processes and events.  A
 * process is a C callback that runs to completion each time it is woken; it is
 * woken by the events it is statically sensitive to (given at creation), or,
 * for one activation, by what it asked for with xb_kernel_next_trigger*() during
 * its previous activation.  An event is notified immediately, after one delta
 * cycle (delay 0), or after a delay in picoseconds.  Time is an integer count of
 * picoseconds (xb_time_ps) that starts at 0 in every simulation.
 *
 * Execution model.  Activity is grouped in batches ("delta cycles"), run in
 * increasing (time, delta) order.  A batch starts by waking processes, then runs
 * the woken processes one after another; processes woken while the batch runs
 * (immediate notification, creation) join the end of the same batch.  When no
 * batch is left at the current time, time advances to the earliest pending
 * notification.  Callbacks run on the stack of the thread that called
 * xb_kernel_run_* (SystemC method processes, no coroutines), and all callbacks of
 * a batch see the same time.  SystemC semantics are kept throughout: an event holds at most
 * one pending notification (a delta notification beats a timed one, an earlier
 * timed one beats a later one, a later or equal one is ignored); an immediate
 * notification cancels the pending one and wakes at once; a running process is
 * not woken again by its own immediate notification; a process is queued at most
 * once per batch; a process waiting on next_trigger ignores its static
 * sensitivity until that trigger fires, then returns to it.
 *
 * Ordering rule (guaranteed, and tested).  Every notification -- notify,
 * next_trigger_after -- gets a sequence number when it is made.  (1) A batch
 * wakes the notifications due to it in sequence order: at the first batch of a
 * time, the timed notifications and timeouts maturing then; at later batches,
 * the delta notifications made during the previous batch (or since the last
 * run).  (2) An event wakes its statically sensitive processes in the order the
 * processes were created, then the processes waiting for it through
 * xb_kernel_next_trigger() in the order they called it.  (3) Processes run in
 * the order they were woken.  So the order of callbacks is a function of the
 * sequence of API calls alone: the same program gives the same order, however
 * the simulation is split into runs and stops, and whatever other simulations
 * the process ran before.  Processes not created with XB_PROCESS_DONT_INITIALIZE
 * are woken when created: from a callback, they join the current batch; between
 * runs, they run at the current time in creation order, ahead of what the next
 * batch wakes.
 *
 * Runs.  xb_kernel_run_until(k, t) processes every batch at times <= t, including
 * all delta cycles at t, and leaves the time at exactly t even when nothing was
 * pending.  xb_kernel_run_idle(k) runs until nothing is pending and leaves the
 * time at the last batch (unchanged if nothing was pending); a model that keeps
 * re-notifying itself (a free-running clock) never becomes idle.
 * xb_kernel_stop(), called from a callback, ends the current run as soon as that
 * callback returns; the rest of its batch runs at the start of the next run, in
 * the same order as without the stop.
 *
 * Mapping onto SystemC.  SystemC allows one simulation context per process
 * (modules cannot be made after sc_start, sc_start fails after sc_stop), and its
 * order among notifications of equal time is not a documented rule (its timed
 * queue is an unstable heap, delta events fire in reverse order, an event wakes
 * its static processes newest first).  So the shim builds nothing static and
 * never calls sc_stop(): at first use it fixes the time resolution at 1 ps,
 * installs a report handler that turns SystemC errors into C++ exceptions (and
 * silences SystemC's printing), spawns one SystemC method process (sc_spawn:
 * spawn_method, dont_initialize, sensitive to one timer sc_event) and completes
 * elaboration with sc_start(SC_ZERO_TIME).  Each simulation keeps its own
 * calendar -- a (time, sequence) heap of timed notifications, a list of delta
 * notifications, a queue of woken processes -- and, while it runs, drives
 * SystemC: the timer is notified at the calendar's next time (SC_ZERO_TIME for
 * the next delta), sc_start() advances SystemC's clock to it, and the method
 * process runs one batch of callbacks per activation; xb_kernel_stop() is
 * sc_pause().  A simulation's time is SystemC's time minus an offset taken when
 * each run starts, so it starts at 0 and is not moved by other simulations.
 * SystemC's clock only moves forward: the total simulated time of all runs of a
 * process is limited to 2^64 - 1 ps (about 213 days); beyond that runs fail with
 * XB_ERANGE.  When no run is in progress the shim leaves nothing pending in
 * SystemC (freeing a simulation cancels the timer and lets SystemC drop its
 * cancelled entries), so simulations do not leak into each other and memory does
 * not grow with their number.  The kernel assumes it is SystemC's only user in
 * the process.
 *
 * Many simulations.  Any number of simulations may be live at once and run one
 * after another (interleaved runs included); runs do not nest: running a
 * simulation from inside a callback is XB_ESTATE.  Events and processes live until
 * their simulation is freed.  Handles: xb_kernel is an opaque pointer; xb_event and
 * xb_process are small values naming (simulation serial, index), so using one after
 * its simulation was freed, or with another simulation, is a clear XB_EINVAL and not
 * undefined behaviour.  A freed xb_kernel handle is recognised (XB_ESTATE) until 256
 * later simulations have been freed; do not rely on it beyond that.
 *
 * Errors.  Functions return an xb_status and leave a message on the simulation
 * (xb_kernel_errmsg), or on the thread-local slot (xb_errmsg(NULL)) when the
 * kernel handle itself is NULL.  SystemC errors become XB_EKERNEL with SystemC's
 * message; nothing aborts or prints.  Not thread-safe: SystemC is one global
 * context, so use the kernel from one thread at a time.
 *
 * Performance.  A notification costs a few operations on the simulation's
 * calendar; SystemC holds a single pending notification (the timer) however many
 * events are pending, so many pending events do not slow SystemC down.
 * bench/bench_kernel compares a ping through this API with a plain SystemC method
 * process (about 0.8 of its rate), and a model with 1,024 pending events with
 * the same model in plain SystemC (about twice its rate).
 */
#ifndef XB_KERNEL_H
#define XB_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "xb_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A simulation.  Opaque; made by xb_kernel_new, released by xb_kernel_free. */
typedef struct xb_kernel xb_kernel;

/* An event of a simulation.  A value: {0, 0} names no event. */
typedef struct xb_event {
	uint32_t sim;    /* serial number of the simulation (1, 2, ...; 0 = none) */
	uint32_t index;  /* index of the event in its simulation */
} xb_event;

/* A process of a simulation.  A value: {0, 0} names no process. */
typedef struct xb_process {
	uint32_t sim;    /* serial number of the simulation (0 = none) */
	uint32_t index;  /* index of the process in its simulation */
} xb_process;

/* A process body: called with the simulation and the process's user data.  It runs
 * to completion; it may notify, cancel, create events and processes, call
 * next_trigger, read the time and stop the run, but not run or free its own
 * simulation. */
typedef void (*xb_kernel_fn)(xb_kernel *k, void *ud);

/* Flags of xb_kernel_process_new. */
#define XB_PROCESS_DONT_INITIALIZE 1u  /* do not wake the process when it is created */

/* ---- simulations ------------------------------------------------------------- */

/* A new simulation at time 0, with no events and no processes.  The first call
 * in a process sets SystemC up (see the design comment).  NULL on error, with the
 * message on ERR (or the thread-local slot when ERR is NULL): XB_ENOMEM, or
 * XB_EKERNEL when SystemC cannot be set up (for instance when something else fixed
 * its time resolution to other than 1 ps). */
xb_kernel *xb_kernel_new(xb_err *err);

/* Release K with all its events and processes; pending notifications are
 * dropped.  NULL is a no-op.  Freeing a simulation from one of its own callbacks
 * is refused (XB_ESTATE recorded on K; K stays valid); freeing it twice is
 * recorded as XB_ESTATE on the handle and otherwise ignored. */
void xb_kernel_free(xb_kernel *k);

/* Message of the last error on K ("" if none); the thread-local message when K is
 * NULL.  Works on a freed handle too. */
const char *xb_kernel_errmsg(const xb_kernel *k);

/* ---- events and processes ---------------------------------------------------- */

/* A new event of K, named NAME (copied; NULL or "" for none; used in messages),
 * stored in *EV.  Allowed inside callbacks.  XB_EINVAL, XB_ESTATE, XB_ENOMEM,
 * XB_ERANGE past 2^31 - 1 events. */
xb_status xb_kernel_event_new(xb_kernel *k, const char *name, xb_event *ev);

/* A new method process of K calling FN(K, UD), statically sensitive to the NSENS
 * events SENS (may be 0: then it runs only when created and through
 * next_trigger), stored in *PROC (PROC may be NULL).  Unless FLAGS has
 * XB_PROCESS_DONT_INITIALIZE it is woken at once: before a run, it runs at the
 * start of the next run; inside a callback, later in the current batch.
 * XB_EINVAL for a NULL FN, a bad event, unknown FLAGS, or
 * XB_PROCESS_DONT_INITIALIZE without sensitivity (the process could never run);
 * XB_ESTATE, XB_ENOMEM, XB_ERANGE past 2^31 - 1 processes. */
xb_status xb_kernel_process_new(xb_kernel *k, const char *name, xb_kernel_fn fn, void *ud,
				const xb_event *sens, size_t nsens, unsigned flags,
				xb_process *proc);

/* ---- notification ------------------------------------------------------------ */

/* Notify EV after DELAY_PS picoseconds; 0 means at the next delta cycle (same
 * time).  SystemC's precedence applies (see the design comment): a notification
 * that is not earlier than the pending one is ignored, and still returns XB_OK.
 * Allowed inside and outside callbacks.  XB_EINVAL for a handle that is not an
 * event of K; XB_ERANGE when now + DELAY_PS overflows. */
xb_status xb_kernel_notify(xb_kernel *k, xb_event ev, xb_time_ps delay_ps);

/* Notify EV immediately: cancel its pending notification and wake its processes
 * now, to run later in the current batch.  Only inside a callback of K
 * (XB_ESTATE otherwise: use xb_kernel_notify(k, ev, 0) between runs). */
xb_status xb_kernel_notify_now(xb_kernel *k, xb_event ev);

/* Cancel the pending notification of EV, if any (XB_OK if none). */
xb_status xb_kernel_cancel(xb_kernel *k, xb_event ev);

/* Dynamic sensitivity, only inside a callback of K (XB_ESTATE otherwise): the
 * running process is next woken by EV (xb_kernel_next_trigger) or after DELAY_PS
 * (xb_kernel_next_trigger_after; 0 = next delta cycle), and not by its static
 * sensitivity; afterwards it returns to its static sensitivity.  Takes effect
 * when the callback returns; the last call in an activation wins. */
xb_status xb_kernel_next_trigger(xb_kernel *k, xb_event ev);
xb_status xb_kernel_next_trigger_after(xb_kernel *k, xb_time_ps delay_ps);

/* ---- time and runs ----------------------------------------------------------- */

/* Current time of K in ps (the time of the running batch inside callbacks).
 * 0 for an invalid handle (with the error recorded). */
xb_time_ps xb_kernel_now(const xb_kernel *k);

/* Number of batches (delta cycles, at all times) K has run. */
uint64_t xb_kernel_delta_count(const xb_kernel *k);

/* Number of callbacks K has run. */
uint64_t xb_kernel_activations(const xb_kernel *k);

/* If anything is pending in K, store in *T_PS the time of its next batch (the
 * current time for queued processes or delta notifications) and return 1;
 * return 0 when K is idle (or the handle invalid).  T_PS may be NULL. */
int xb_kernel_next_time(const xb_kernel *k, xb_time_ps *t_ps);

/* Run K until time T_PS: every batch at times <= T_PS runs, then the time is
 * T_PS (unless a callback stopped the run earlier: then it is the time of that
 * callback).  T_PS before the current time is XB_EINVAL; XB_ESTATE from inside
 * any callback (runs do not nest) or on a freed handle; XB_ERANGE when T_PS
 * exceeds SystemC's time range (see the design comment); XB_EKERNEL for a SystemC
 * error.  A failing run leaves the simulation's time at its last batch. */
xb_status xb_kernel_run_until(xb_kernel *k, xb_time_ps t_ps);

/* Run K until nothing is pending (or a callback stops it).  Errors as above. */
xb_status xb_kernel_run_idle(xb_kernel *k);

/* Run all batches at the next pending time (xb_kernel_run_until of
 * xb_kernel_next_time); a no-op when K is idle. */
xb_status xb_kernel_step(xb_kernel *k);

/* From a callback of K: end the current run once this callback returns.
 * XB_ESTATE outside a run of K. */
xb_status xb_kernel_stop(xb_kernel *k);

/* 1 if K's last run ended through xb_kernel_stop, else 0. */
int xb_kernel_stopped(const xb_kernel *k);

/* Inside a callback of K: store the running process in *PROC and return 1;
 * otherwise return 0 (and store {0, 0} when PROC is not NULL). */
int xb_kernel_self(const xb_kernel *k, xb_process *proc);

/* ---- testing hook ------------------------------------------------------------ */

/* Make a call that SystemC itself rejects (setting the time resolution again)
 * inside the shim's error guard, and return the translated status: XB_EKERNEL
 * with SystemC's message on K.  For tests of the error path; not exported from
 * the shared library. */
XB_HIDDEN xb_status xb_kernel_test_systemc_error(xb_kernel *k);

#ifdef __cplusplus
}
#endif
#endif /* XB_KERNEL_H */
