/* kernel.cc - the discrete-event kernel shim: xb_kernel.h's C API implemented over SystemC.
 * Each simulation keeps a (time, sequence) calendar; one SystemC method process runs its batches.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include "xb_kernel.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

using namespace sc_core;

/* libsystemc.so defines main() and calls sc_main(); every xbarsim program has its
 * own main(), which takes precedence, so this one is never called. */
extern "C" int sc_main(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 0;
}

#if defined(__GNUC__)
#define HOT inline __attribute__((always_inline))
#define COLD __attribute__((noinline, cold))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define HOT inline
#define COLD
#define LIKELY(x) (x)
#endif

namespace {

/* Pending-notification states of an event, or of a process's timeout. */
enum : uint8_t { PEND_NONE, PEND_DELTA, PEND_TIMED };
/* What a process waits for instead of its static sensitivity. */
enum : uint8_t { DYN_NONE, DYN_EVENT, DYN_TIMEOUT };
/* What a running process asked for with next_trigger. */
enum : uint8_t { REQ_NONE, REQ_EVENT, REQ_DELAY };

const uint32_t REF_PROC = 0x80000000u;   /* calendar reference to a process timeout */
const uint32_t NO_PROC = 0xffffffffu;
const uint32_t MAX_OBJECTS = 0x7fffffffu; /* events or processes per simulation */
const uint64_t NOT_ARMED = UINT64_MAX;
const uint32_t KERNEL_MAGIC = 0x78626b6eu; /* "xbkn": a live simulation */
const uint32_t KERNEL_FREED = 0x78626b66u; /* "xbkf": a freed one, slot kept */
const size_t FREED_SLOTS_KEPT = 256;      /* freed handles recognised this long */
const unsigned STALE_SETTLE = 64;         /* cancelled SystemC entries before a clean-up */

struct Event {
	uint64_t pend_t = 0;        /* local time of the pending timed notification, ps */
	uint64_t pend_seq = 0;      /* sequence number of the pending notification */
	uint8_t pend = PEND_NONE;
	std::vector<uint32_t> stat; /* statically sensitive processes, creation order */
	std::vector<uint32_t> dyn;  /* processes waiting through next_trigger, call order */
};

struct Process {
	xb_kernel_fn fn = nullptr;
	void *ud = nullptr;
	uint8_t queued = 0;         /* in the run queue of the current batch */
	uint8_t dyn = DYN_NONE;     /* dynamic sensitivity in force */
	uint8_t tmo = PEND_NONE;    /* pending timeout (DYN_TIMEOUT) */
	uint8_t req = REQ_NONE;     /* next_trigger request of the running activation */
	uint32_t req_event = 0;     /* requested event (REQ_EVENT) */
	uint64_t req_t = 0;         /* local time of a requested timeout (REQ_DELAY), ps */
	uint64_t tmo_seq = 0;       /* sequence number of the pending timeout */
	uint64_t req_seq = 0;       /* sequence number of the requested timeout */
};

/* A calendar entry: a timed notification of an event or a process timeout. */
struct Timed {
	uint64_t t;     /* local time, ps */
	uint64_t seq;   /* sequence number: ties at equal time break in notify order */
	uint64_t ref;   /* event index, or REF_PROC | process index */
};

/* Make room for one more element, growing geometrically. */
template <typename T> void room(std::vector<T> &v)
{
	if (v.size() == v.capacity())
		v.reserve(v.capacity() < 16 ? 16 : 2 * v.capacity());
}

HOT bool earlier(const Timed &a, const Timed &b)
{
	return a.t != b.t ? a.t < b.t : a.seq < b.seq;
}

struct Delta {
	uint64_t seq;
	uint64_t ref;   /* as in Timed */
};

/* Storage of the calendar heap: a plain array, so that the common notify path
 * neither calls into std::vector nor can throw (growing is the slow path). */
struct Heap {
	Timed *a = nullptr;
	size_t n = 0, cap = 0;

	Heap() = default;
	Heap(const Heap &) = delete;
	Heap &operator=(const Heap &) = delete;
	Heap(Heap &&o) noexcept { swap(o); }
	Heap &operator=(Heap &&o) noexcept
	{
		swap(o);
		return *this;
	}
	~Heap() { free(a); }
	void swap(Heap &o) noexcept
	{
		std::swap(a, o.a);
		std::swap(n, o.n);
		std::swap(cap, o.cap);
	}
	/* Room for one more entry; false when out of memory. */
	bool room()
	{
		if (n < cap)
			return true;
		size_t c = cap ? 2 * cap : 64;
		Timed *p = static_cast<Timed *>(realloc(a, c * sizeof *p));
		if (!p)
			return false;
		a = p;
		cap = c;
		return true;
	}
};

/* Everything a simulation owns; freed as a whole by xb_kernel_free. */
struct Body {
	std::vector<Event> ev;      /* may grow inside callbacks: hold indices, not references */
	std::vector<Process> pr;
	std::vector<std::string> ev_name, pr_name;  /* for messages; kept apart from the hot data */
	Heap heap;                  /* calendar, a binary min-heap on (t, seq); cancelled
				     * entries are dropped lazily */
	size_t heap_dead = 0;       /* cancelled entries still in the heap */
	std::vector<Delta> delta;   /* delta notifications for the next batch */
	std::vector<Delta> delta_cur;
	size_t delta_live = 0;      /* entries of delta that are still pending */
	std::vector<uint32_t> rq;   /* run queue of the current batch */
	size_t rq_head = 0;
	uint64_t seq = 0;
};

} /* namespace */

struct xb_kernel {
	uint32_t magic;             /* KERNEL_MAGIC, or KERNEL_FREED once freed */
	uint32_t serial;            /* 1, 2, ...: names the simulation in handles */
	uint32_t nev;               /* body.ev.size(), for the fast handle check */
	uint64_t now;               /* local time, ps */
	uint64_t base;              /* SystemC time minus local time during a run (mod 2^64) */
	uint64_t deltas;            /* batches run */
	uint64_t activations;       /* callbacks run */
	uint32_t cur;               /* running process, NO_PROC outside callbacks */
	bool batch_open;            /* a batch was interrupted by a stop */
	bool stop_req;
	bool stopped;
	xb_status fail;             /* error raised inside the dispatcher during a run */
	Body body;                  /* emptied when freed */
	xb_err err;
};

namespace {

/* Process-wide state of the shim (SystemC is one global context). */
struct Global {
	bool ready = false;
	bool broken = false;        /* SystemC could not be set up */
	char broken_msg[XB_ERRMSG_MAX] = "";
	sc_event *timer = nullptr;  /* wakes the dispatcher */
	sc_process_handle *disp = nullptr;
	xb_kernel *running = nullptr;
	uint64_t armed = NOT_ARMED; /* SystemC time the timer is pending for */
	uint64_t delay_cached = 0;  /* sc_time::from_value is a library call: */
	sc_time delay_time;         /* keep the last delay converted */
	unsigned stale = 0;         /* cancelled timer notifications left in SystemC */
	uint32_t serial = 0;
	/* Freed kernel slots, oldest first; reused once more than FREED_SLOTS_KEPT.
	 * Plain arrays so that they stay reachable at exit. */
	xb_kernel **freed = nullptr;
	size_t nfreed = 0, freed_cap = 0, freed_head = 0;
};

Global g;

/* ---- errors ------------------------------------------------------------------ */

/* SystemC errors and fatals become exceptions caught at the C boundary; infos and
 * warnings are dropped (nothing is printed). */
void report_handler(const sc_report &rep, const sc_actions &)
{
	if (rep.get_severity() >= SC_ERROR)
		throw rep;
}

/* Translate the exception being handled into a status on ERR; WHAT names the call. */
xb_status translate(xb_err *err, const char *what)
{
	try {
		throw;
	} catch (const sc_report &rep) {
		/* the first line of "Error: (E514) set time resolution failed: ...\nIn file:" */
		const char *text = rep.what();
		return xb_raise(err, XB_EKERNEL, "%s: SystemC reported: %.*s", what,
				(int)strcspn(text, "\n"), text);
	} catch (const std::bad_alloc &) {
		return xb_raise(err, XB_ENOMEM, "%s: out of memory", what);
	} catch (const std::exception &e) {
		return xb_raise(err, XB_EKERNEL, "%s: C++ exception: %s", what, e.what());
	} catch (...) {
		return xb_raise(err, XB_EINTERNAL, "%s: unknown C++ exception", what);
	}
}

/* ---- handles ----------------------------------------------------------------- */

/* Check K for a function that needs a live simulation.  Records the error. */
bool live(xb_kernel *k, const char *what)
{
	if (!k) {
		xb_raise(nullptr, XB_EINVAL, "%s: the simulation handle is NULL", what);
		return false;
	}
	if (k->magic != KERNEL_MAGIC && k->magic != KERNEL_FREED) {
		xb_raise(nullptr, XB_EINVAL, "%s: %p is not a simulation handle", what, (void *)k);
		return false;
	}
	if (k->magic == KERNEL_FREED) {
		xb_raise(&k->err, XB_ESTATE, "%s: simulation #%u was freed (xb_kernel_free); "
			 "make a new one with xb_kernel_new", what, k->serial);
		return false;
	}
	return true;
}

/* Const getters record errors on the handle through this. */
xb_kernel *unconst(const xb_kernel *k)
{
	return const_cast<xb_kernel *>(k);
}

/* Check that the handle (SIM, INDEX) of a KIND of object belongs to K, which has
 * COUNT of them.  Records the error. */
bool owns(xb_kernel *k, uint32_t sim, uint32_t index, size_t count, const char *kind,
	  const char *what)
{
	if (sim == k->serial && index < count)
		return true;
	if (sim == 0)
		xb_raise(&k->err, XB_EINVAL, "%s: the %s handle is empty ({0, 0}: never made, "
			 "or its xb_kernel_%s_new failed)", what, kind, kind);
	else if (sim != k->serial)
		xb_raise(&k->err, XB_EINVAL, "%s: %s #%u belongs to simulation #%u%s, not to "
			 "simulation #%u", what, kind, index, sim,
			 sim < k->serial ? " (made earlier: freed, or another live one)" : "",
			 k->serial);
	else
		xb_raise(&k->err, XB_EINVAL, "%s: simulation #%u has %zu %ss; %s #%u does not "
			 "exist", what, k->serial, count, kind, kind, index);
	return false;
}

bool own_event(xb_kernel *k, xb_event ev, const char *what)
{
	return owns(k, ev.sim, ev.index, k->body.ev.size(), "event", what);
}

/* The common case of live() && own_event(), without a call. */
inline bool fast_event(const xb_kernel *k, xb_event ev)
{
	return k && k->magic == KERNEL_MAGIC && ev.sim == k->serial && ev.index < k->nev;
}

/* The error of a call that failed fast_event(). */
xb_status bad_event(xb_kernel *k, xb_event ev, const char *what)
{
	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	own_event(k, ev, what);
	return XB_EINVAL;
}

/* "event 'name' (#3)" or "event #3", for messages (no allocation: error paths
 * must not throw). */
struct Label {
	char s[160];
	const char *c_str() const { return s; }
};

Label label(const char *kind, const std::string &name, uint32_t i)
{
	Label l;

	if (name.empty())
		snprintf(l.s, sizeof l.s, "%s #%u", kind, i);
	else
		snprintf(l.s, sizeof l.s, "%s '%s' (#%u)", kind, name.c_str(), i);
	return l;
}

Label event_label(const xb_kernel *k, uint32_t i)
{
	return label("event", k->body.ev_name[i], i);
}

Label process_label(const xb_kernel *k, uint32_t i)
{
	return label("process", k->body.pr_name[i], i);
}

/* ---- calendar ---------------------------------------------------------------- */

HOT bool timed_valid(const Body &b, const Timed &x)
{
	if (x.ref & REF_PROC) {
		const Process &p = b.pr[x.ref & ~REF_PROC];
		return p.tmo == PEND_TIMED && p.tmo_seq == x.seq;
	}
	const Event &e = b.ev[x.ref];
	return e.pend == PEND_TIMED && e.pend_seq == x.seq;
}

bool delta_valid(const Body &b, const Delta &x)
{
	if (x.ref & REF_PROC) {
		const Process &p = b.pr[x.ref & ~REF_PROC];
		return p.tmo == PEND_DELTA && p.tmo_seq == x.seq;
	}
	const Event &e = b.ev[x.ref];
	return e.pend == PEND_DELTA && e.pend_seq == x.seq;
}

/* Drop cancelled delta notifications, keeping the order of the others (for models
 * that notify and cancel many times between two batches). */
void delta_compact(Body &b)
{
	size_t n = 0;

	for (const Delta &x : b.delta)
		if (delta_valid(b, x))
			b.delta[n++] = x;
	b.delta.resize(n);
}

/* Add an entry; the caller made room (Heap::room). */
HOT void heap_push(Body &b, uint64_t t, uint64_t seq, uint32_t ref)
{
	Timed *h = b.heap.a;
	size_t i = b.heap.n++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (h[up].t < t || (h[up].t == t && h[up].seq < seq))
			break;
		h[i] = h[up];
		i = up;
	}
	h[i].t = t;
	h[i].seq = seq;
	h[i].ref = ref;
}

void heap_sift_down(Heap &hp, size_t i)
{
	Timed *h = hp.a;
	size_t n = hp.n;
	Timed x = h[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && earlier(h[c + 1], h[c]))
			c++;
		if (!earlier(h[c], x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

HOT void heap_pop(Body &b)
{
	Heap &h = b.heap;

	if (--h.n > 0) {
		h.a[0] = h.a[h.n];
		heap_sift_down(h, 0);
	}
}

/* Drop every cancelled entry and restore the heap order. */
void heap_rebuild(Body &b)
{
	size_t n = 0;

	for (size_t i = 0; i < b.heap.n; i++)
		if (timed_valid(b, b.heap.a[i]))
			b.heap.a[n++] = b.heap.a[i];
	b.heap.n = n;
	for (size_t i = n / 2; i-- > 0;)
		heap_sift_down(b.heap, i);
	b.heap_dead = 0;
}

/* Rebuild when cancelled entries are the majority: the heap stays within twice the
 * number of pending notifications (plus 64). */
HOT void heap_bound(Body &b)
{
	if (b.heap_dead > 64 && b.heap_dead * 2 > b.heap.n)
		heap_rebuild(b);
}

/* Drop cancelled entries from the top, so that front() is a pending notification. */
HOT void heap_clean(Body &b)
{
	if (LIKELY(b.heap_dead == 0))
		return;
	heap_bound(b);
	while (b.heap.n && !timed_valid(b, b.heap.a[0])) {
		heap_pop(b);
		b.heap_dead--;
	}
}

/* Something is due at the current time: queued processes, an interrupted batch,
 * delta notifications, or timed ones maturing now. */
bool work_now(xb_kernel *k)
{
	Body &b = k->body;

	if (b.rq_head < b.rq.size() || k->batch_open || b.delta_live)
		return true;
	heap_clean(b);
	return b.heap.n && b.heap.a[0].t <= k->now;
}

/* Local time of the next batch; false when idle. */
HOT bool next_work(xb_kernel *k, uint64_t *t)
{
	Body &b = k->body;

	if (b.rq_head < b.rq.size() || k->batch_open || b.delta_live) {
		*t = k->now;
		return true;
	}
	heap_clean(b);
	if (!b.heap.n)
		return false;
	*t = b.heap.a[0].t;
	return true;
}

HOT void enqueue(Body &b, Process &p, uint32_t pi)
{
	b.rq.push_back(pi);
	p.queued = 1;
}

/* The notification of event I matured (or was immediate): wake its processes. */
HOT void trigger(xb_kernel *k, uint32_t i)
{
	Body &b = k->body;
	Event &e = b.ev[i];

	e.pend = PEND_NONE;
	for (uint32_t pi : e.stat) {
		Process &p = b.pr[pi];
		if (p.dyn == DYN_NONE && !p.queued && pi != k->cur)
			enqueue(b, p, pi);
	}
	if (!e.dyn.empty()) {
		for (uint32_t pi : e.dyn) {
			Process &p = b.pr[pi];
			p.dyn = DYN_NONE;
			if (!p.queued)
				enqueue(b, p, pi);
		}
		e.dyn.clear();
	}
}

HOT void fire(xb_kernel *k, uint32_t ref)
{
	if (ref & REF_PROC) {
		uint32_t pi = ref & ~REF_PROC;
		Process &p = k->body.pr[pi];
		p.tmo = PEND_NONE;
		p.dyn = DYN_NONE;
		if (!p.queued)
			enqueue(k->body, p, pi);
	} else {
		trigger(k, ref);
	}
}

/* Notification phase of a new batch: wake what is due, in sequence order. */
HOT void begin_batch(xb_kernel *k)
{
	Body &b = k->body;

	k->deltas++;
	if (!b.delta.empty()) {
		b.delta_cur.swap(b.delta);
		b.delta_live = 0;
		for (const Delta &x : b.delta_cur)
			if (delta_valid(b, x))
				fire(k, x.ref);
		b.delta_cur.clear();
	}
	while (b.heap.n && b.heap.a[0].t <= k->now) {
		uint64_t ref = b.heap.a[0].ref;
		bool valid = timed_valid(b, b.heap.a[0]);
		heap_pop(b);
		if (valid)
			fire(k, static_cast<uint32_t>(ref));
		else
			b.heap_dead--;
	}
}

/* ---- SystemC side ------------------------------------------------------------ */

/* Point the SystemC timer at K's next batch, at local time WANT.  Called between
 * runs and by the dispatcher.  XB_ERANGE when the batch lies beyond SystemC's time
 * range. */
HOT xb_status arm_at(xb_kernel *k, uint64_t want)
{
	uint64_t now_abs = k->base + k->now;
	uint64_t d = want - k->now;
	if (d > UINT64_MAX - now_abs)
		return xb_raise(&k->err, XB_ERANGE, "simulation #%u: its next batch at %"
				PRI_xb_time " ps lies beyond SystemC's time range (2^64-1 ps "
				"in all, of which %" PRIu64 " ps were simulated in this process "
				"already)", k->serial, want, now_abs);
	uint64_t want_abs = now_abs + d;
	if (g.armed == want_abs)
		return XB_OK;
	if (g.armed != NOT_ARMED) {
		g.timer->cancel();
		g.stale++;
	}
	if (d != g.delay_cached) {
		g.delay_time = sc_time::from_value(d);
		g.delay_cached = d;
	}
	g.timer->notify(g.delay_time);
	g.armed = want_abs;
	return XB_OK;
}

/* Cancel the timer's pending notification (SystemC keeps a cancelled entry in
 * its queue until settle() or its time comes). */
void disarm()
{
	if (g.armed != NOT_ARMED) {
		g.timer->cancel();
		g.armed = NOT_ARMED;
		g.stale++;
	}
}


/* Apply what the process that just returned asked for with next_trigger. */
void apply_request(xb_kernel *k, uint32_t pi)
{
	Body &b = k->body;
	Process &p = b.pr[pi];
	uint8_t req = p.req;

	p.req = REQ_NONE;
	/* Allocate first, then change state: out of memory leaves the process on its
	 * static sensitivity (and the run fails). */
	if (req == REQ_EVENT) {
		b.ev[p.req_event].dyn.push_back(pi);
		p.dyn = DYN_EVENT;
	} else if (req == REQ_DELAY && p.req_t == k->now) {
		b.delta.push_back(Delta{p.req_seq, REF_PROC | pi});
		b.delta_live++;
		p.dyn = DYN_TIMEOUT;
		p.tmo = PEND_DELTA;
		p.tmo_seq = p.req_seq;
	} else if (req == REQ_DELAY) {
		if (!b.heap.room())
			throw std::bad_alloc();   /* caught by dispatch() */
		heap_push(b, p.req_t, p.req_seq, REF_PROC | pi);
		p.dyn = DYN_TIMEOUT;
		p.tmo = PEND_TIMED;
		p.tmo_seq = p.req_seq;
	}
}

/* The SystemC method process: one activation runs one batch of the running
 * simulation.  Never lets an exception reach SystemC (that would leave SystemC in
 * its error state for the rest of the process). */
void dispatch()
{
	xb_kernel *k = g.running;
	/* The timer fires at the time it was armed for: no need to ask SystemC. */
	uint64_t now_abs = g.armed != NOT_ARMED ? g.armed : sc_time_stamp().value();

	g.armed = NOT_ARMED;        /* the timer fired */
	if (!k)
		return;
	Body &b = k->body;
	try {
		k->now = now_abs - k->base;
		if (!k->batch_open) {
			begin_batch(k);
			k->batch_open = true;
		}
		while (b.rq_head < b.rq.size()) {
			uint32_t pi = b.rq[b.rq_head++];
			Process *p = &b.pr[pi];
			p->queued = 0;
			k->cur = pi;
			k->activations++;
			p->fn(k, p->ud);
			k->cur = NO_PROC;
			p = &b.pr[pi];      /* the callback may have grown b.pr */
			if (p->req != REQ_NONE)
				apply_request(k, pi);
			if (k->stop_req) {
				k->stop_req = false;
				k->stopped = true;
				sc_pause();
				return;     /* the rest of the batch runs at the next run */
			}
		}
		b.rq.clear();
		b.rq_head = 0;
		k->batch_open = false;
		/* The next batch: the next delta, or the earliest timed notification. */
		uint64_t want = k->now;
		if (!b.delta_live) {
			heap_clean(b);
			if (!b.heap.n)
				return;     /* idle; the timer fired, nothing is armed */
			want = b.heap.a[0].t;
		}
		xb_status st = arm_at(k, want);
		if (st != XB_OK) {
			k->fail = st;
			sc_pause();
		}
	} catch (...) {
		uint32_t pi = k->cur;
		k->cur = NO_PROC;
		k->fail = translate(&k->err, "xb_kernel dispatcher");
		if (pi != NO_PROC)
			xb_err_context(&k->err, "callback of %s", process_label(k, pi).c_str());
		sc_pause();
	}
}

/* Leave nothing pending in SystemC: cancel the timer and let SystemC drop the
 * cancelled entries of its timed queue (it does so when it looks for the next
 * time and finds nothing live; the clock does not move).  Only between runs. */
void settle()
{
	if (g.running || !g.ready)
		return;
	disarm();
	if (g.stale) {
		sc_start(sc_time::from_value(1), SC_EXIT_ON_STARVATION);
		g.stale = 0;
	}
}

/* Set SystemC up once per process. */
xb_status global_init(xb_err *err)
{
	if (g.ready)
		return XB_OK;
	if (g.broken)
		return xb_raise(err, XB_EKERNEL, "%s", g.broken_msg);
	if (!getenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE"))
		setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
	try {
		sc_report_handler::set_handler(report_handler);
		sc_report_handler::set_actions(SC_INFO, SC_DO_NOTHING);
		sc_report_handler::set_actions(SC_WARNING, SC_DO_NOTHING);
		sc_report_handler::set_actions(SC_ERROR, SC_THROW);
		sc_report_handler::set_actions(SC_FATAL, SC_THROW);
		try {
			sc_set_time_resolution(1, SC_PS);
		} catch (const sc_report &) {
			/* Fixed already (by an earlier, failed set-up or by other code):
			 * fine if it is 1 ps. */
			if (sc_time(1, SC_PS).value() != 1)
				throw;
		}
		if (!g.timer)
			g.timer = new sc_event("xbarsim_kernel_timer");
		if (!g.disp) {
			sc_spawn_options opt;
			opt.spawn_method();
			opt.dont_initialize();
			opt.set_sensitivity(g.timer);
			g.disp = new sc_process_handle(
				sc_spawn(&dispatch, "xbarsim_kernel_dispatcher", &opt));
		}
		if (sc_get_status() == SC_ELABORATION)
			sc_start(SC_ZERO_TIME);
	} catch (...) {
		xb_err tmp;
		translate(&tmp, "setting up SystemC for the xbarsim kernel");
		g.broken = true;
		snprintf(g.broken_msg, sizeof g.broken_msg, "%s", tmp.msg);
		return xb_raise(err, XB_EKERNEL, "%s", g.broken_msg);
	}
	g.ready = true;
	return XB_OK;
}

/* A kernel slot: a recycled freed one when enough are kept, else a new one. */
xb_kernel *slot_get()
{
	if (g.nfreed > FREED_SLOTS_KEPT) {
		xb_kernel *k = g.freed[g.freed_head];
		g.freed_head = (g.freed_head + 1) % g.freed_cap;
		g.nfreed--;
		return k;
	}
	return new (std::nothrow) xb_kernel;
}

bool slot_put(xb_kernel *k)
{
	if (g.nfreed == g.freed_cap) {
		size_t cap = g.freed_cap ? 2 * g.freed_cap : 2 * FREED_SLOTS_KEPT;
		xb_kernel **a = static_cast<xb_kernel **>(malloc(cap * sizeof *a));
		if (!a)
			return false;
		for (size_t i = 0; i < g.nfreed; i++)
			a[i] = g.freed[(g.freed_head + i) % g.freed_cap];
		free(g.freed);
		g.freed = a;
		g.freed_cap = cap;
		g.freed_head = 0;
	}
	g.freed[(g.freed_head + g.nfreed) % g.freed_cap] = k;
	g.nfreed++;
	return true;
}

/* Shared part of the run functions. */
xb_status run(xb_kernel *k, bool idle, uint64_t target, const char *what)
{
	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (g.running == k)
		return xb_raise(&k->err, XB_ESTATE, "%s: called from a callback of simulation "
				"#%u itself; runs do not nest (use xb_kernel_stop to end the "
				"run)", what, k->serial);
	if (g.running)
		return xb_raise(&k->err, XB_ESTATE, "%s: simulation #%u is running (this call "
				"comes from one of its callbacks); runs do not nest", what,
				g.running->serial);
	if (!idle && target < k->now)
		return xb_raise(&k->err, XB_EINVAL, "%s: target time %" PRI_xb_time " ps "
				"precedes the current time %" PRI_xb_time " ps of simulation "
				"#%u", what, target, k->now, k->serial);

	k->stopped = false;
	k->stop_req = false;
	k->fail = XB_OK;
	xb_status st = XB_OK;
	uint64_t want;
	bool have;
	try {
		have = next_work(k, &want);
	} catch (...) {
		return translate(&k->err, what);
	}
	if (!have || (!idle && want > target)) {
		/* Nothing to do before the target: SystemC's clock need not move. */
		if (!idle)
			k->now = target;
		return XB_OK;
	}

	try {
		uint64_t now_abs = sc_time_stamp().value();
		if (!idle && target - k->now > UINT64_MAX - now_abs)
			return xb_raise(&k->err, XB_ERANGE, "%s: target time %" PRI_xb_time
					" ps lies beyond SystemC's time range (2^64-1 ps in "
					"all, of which %" PRIu64 " ps were simulated in this "
					"process already)", what, target, now_abs);
		k->base = now_abs - k->now;
		st = arm_at(k, want);
		if (st != XB_OK)
			return xb_err_context(&k->err, "%s", what);
		g.running = k;
		if (idle) {
			sc_start(sc_max_time() - sc_time_stamp(), SC_EXIT_ON_STARVATION);
		} else {
			if (target > k->now)
				sc_start(sc_time::from_value(target - k->now), SC_RUN_TO_TIME);
			if (!k->stopped && !k->fail) {
				k->now = sc_time_stamp().value() - k->base;
				/* SystemC holds the batches at the target back
				 * for the next sc_start: run them, one delta cycle
				 * per call. */
				while (!k->stopped && !k->fail && work_now(k)) {
					arm_at(k, k->now);   /* cannot fail: now is in range */
					sc_start(SC_ZERO_TIME);
				}
			}
			if (!k->stopped && !k->fail)
				k->now = target;
		}
		g.running = nullptr;
	} catch (...) {
		g.running = nullptr;
		k->cur = NO_PROC;
		st = translate(&k->err, what);
	}
	if (st == XB_OK && k->fail != XB_OK) {
		/* raised inside the dispatcher: say which call it ended */
		st = k->fail;
		xb_err_context(&k->err, "%s", what);
	}
	if (g.stale >= STALE_SETTLE) {
		try {
			settle();
		} catch (...) {
			if (st == XB_OK)
				st = translate(&k->err, what);
		}
	}
	return st;
}

} /* namespace */

/* ---- simulations ------------------------------------------------------------- */

extern "C" xb_kernel *xb_kernel_new(xb_err *err)
{
	if (global_init(err) != XB_OK)
		return nullptr;
	xb_kernel *k = slot_get();
	if (!k) {
		xb_raise(err, XB_ENOMEM, "xb_kernel_new: out of memory");
		return nullptr;
	}
	if (++g.serial == 0)    /* after 2^32 - 1 simulations; 0 means "none" */
		g.serial = 1;
	k->magic = KERNEL_MAGIC;
	k->serial = g.serial;
	k->nev = 0;
	k->now = 0;
	k->base = 0;
	k->deltas = 0;
	k->activations = 0;
	k->cur = NO_PROC;
	k->batch_open = false;
	k->stop_req = false;
	k->stopped = false;
	k->fail = XB_OK;
	xb_err_clear(&k->err);
	return k;
}

extern "C" void xb_kernel_free(xb_kernel *k)
{
	if (!k)
		return;
	if (!live(k, "xb_kernel_free"))
		return;
	if (g.running == k) {
		xb_raise(&k->err, XB_ESTATE, "xb_kernel_free: simulation #%u cannot be freed from "
			 "one of its own callbacks; free it after its run returns", k->serial);
		return;
	}
	k->body = Body();   /* releases its memory; the slot is kept to recognise the handle */
	k->magic = KERNEL_FREED;
	k->nev = 0;
	k->cur = NO_PROC;
	if (!slot_put(k))
		delete k;   /* out of memory for the ring: forget the handle */
	try {
		settle();
	} catch (...) {
		translate(nullptr, "xb_kernel_free");
	}
}

extern "C" const char *xb_kernel_errmsg(const xb_kernel *k)
{
	if (!k || (k->magic != KERNEL_MAGIC && k->magic != KERNEL_FREED))
		return xb_errmsg(nullptr);
	return k->err.msg;
}

/* ---- events and processes ---------------------------------------------------- */

extern "C" xb_status xb_kernel_event_new(xb_kernel *k, const char *name, xb_event *ev)
{
	const char *what = "xb_kernel_event_new";

	if (ev)
		*ev = xb_event{0, 0};
	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (!ev)
		return xb_raise(&k->err, XB_EINVAL, "%s: the output pointer EV is NULL", what);
	Body &b = k->body;
	if (b.ev.size() >= MAX_OBJECTS)
		return xb_raise(&k->err, XB_ERANGE, "%s: simulation #%u already has %zu events, "
				"the most it can hold", what, k->serial, b.ev.size());
	try {
		std::string nm(name ? name : "");
		room(b.ev);
		room(b.ev_name);
		b.ev_name.push_back(std::move(nm));
		b.ev.emplace_back();
	} catch (...) {
		return translate(&k->err, what);
	}
	k->nev = static_cast<uint32_t>(b.ev.size());
	*ev = xb_event{k->serial, k->nev - 1};
	return XB_OK;
}

extern "C" xb_status xb_kernel_process_new(xb_kernel *k, const char *name, xb_kernel_fn fn,
					   void *ud, const xb_event *sens, size_t nsens,
					   unsigned flags, xb_process *proc)
{
	const char *what = "xb_kernel_process_new";
	const char *nm = name ? name : "";

	if (proc)
		*proc = xb_process{0, 0};
	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (!fn)
		return xb_raise(&k->err, XB_EINVAL, "%s: process '%s': the callback FN is NULL",
				what, nm);
	if (nsens && !sens)
		return xb_raise(&k->err, XB_EINVAL, "%s: process '%s': NSENS is %zu but SENS "
				"is NULL", what, nm, nsens);
	if (flags & ~XB_PROCESS_DONT_INITIALIZE)
		return xb_raise(&k->err, XB_EINVAL, "%s: process '%s': unknown flags 0x%x "
				"(expected 0 or XB_PROCESS_DONT_INITIALIZE)", what, nm, flags);
	if ((flags & XB_PROCESS_DONT_INITIALIZE) && nsens == 0)
		return xb_raise(&k->err, XB_EINVAL, "%s: process '%s' has "
				"XB_PROCESS_DONT_INITIALIZE and no static sensitivity: it could "
				"never run", what, nm);
	Body &b = k->body;
	for (size_t i = 0; i < nsens; i++)
		if (!own_event(k, sens[i], what))
			return xb_err_context(&k->err, "process '%s', sensitivity %zu", nm, i);
	if (b.pr.size() >= MAX_OBJECTS)
		return xb_raise(&k->err, XB_ERANGE, "%s: simulation #%u already has %zu processes, "
				"the most it can hold", what, k->serial, b.pr.size());
	uint32_t pi = static_cast<uint32_t>(b.pr.size());
	bool init = !(flags & XB_PROCESS_DONT_INITIALIZE);
	try {
		/* Allocate everything first, then commit with operations that cannot throw. */
		std::string nm_s(nm);
		room(b.pr);
		room(b.pr_name);
		for (size_t i = 0; i < nsens; i++)
			room(b.ev[sens[i].index].stat);
		if (init)
			room(b.rq);
		b.pr_name.push_back(std::move(nm_s));
		b.pr.emplace_back();
		Process &p = b.pr.back();
		p.fn = fn;
		p.ud = ud;
		for (size_t i = 0; i < nsens; i++) {
			std::vector<uint32_t> &st = b.ev[sens[i].index].stat;
			/* an event listed twice counts once */
			if (st.empty() || st.back() != pi)
				st.push_back(pi);
		}
		if (init)
			enqueue(b, p, pi);
	} catch (...) {
		return translate(&k->err, what);
	}
	if (proc)
		*proc = xb_process{k->serial, pi};
	return XB_OK;
}

/* ---- notification ------------------------------------------------------------ */

/* xb_kernel_notify beyond its common case: delta notifications, replacing a
 * pending one, growing the calendar, errors. */
static COLD xb_status notify_slow(xb_kernel *k, xb_event ev, xb_time_ps delay_ps)
{
	const char *what = "xb_kernel_notify";

	if (!fast_event(k, ev))
		return bad_event(k, ev, what);
	Body &b = k->body;
	Event &e = b.ev[ev.index];
	if (e.pend == PEND_DELTA)
		return XB_OK;       /* a delta notification is pending: it is earlier */
	try {
		if (delay_ps == 0) {
			if (b.delta.size() >= 64 && b.delta.size() > 2 * b.delta_live)
				delta_compact(b);
			b.delta.push_back(Delta{b.seq + 1, ev.index});
			bool was_timed = e.pend == PEND_TIMED;
			e.pend = PEND_DELTA;
			e.pend_seq = ++b.seq;
			b.delta_live++;
			if (was_timed) {
				b.heap_dead++;
				heap_bound(b);
			}
			return XB_OK;
		}
		if (delay_ps > UINT64_MAX - k->now)
			return xb_raise(&k->err, XB_ERANGE, "%s: %s: delay %" PRI_xb_time
					" ps from time %" PRI_xb_time " ps overflows the 64-bit "
					"picosecond clock", what, event_label(k, ev.index).c_str(),
					delay_ps, k->now);
		uint64_t t = k->now + delay_ps;
		if (e.pend == PEND_TIMED && e.pend_t <= t)
			return XB_OK;   /* the pending one is not later: keep it */
		if (e.pend == PEND_TIMED)
			heap_bound(b);
		if (!b.heap.room())
			throw std::bad_alloc();
		heap_push(b, t, b.seq + 1, ev.index);
		if (e.pend == PEND_TIMED)
			b.heap_dead++;
		e.pend = PEND_TIMED;
		e.pend_t = t;
		e.pend_seq = ++b.seq;
	} catch (...) {
		return translate(&k->err, what);
	}
	return XB_OK;
}

extern "C" xb_status xb_kernel_notify(xb_kernel *k, xb_event ev, xb_time_ps delay_ps)
{
	/* The common case, kept small: a valid event with nothing pending, a delay
	 * that fits, and room in the calendar (so that nothing can throw). */
	if (LIKELY(fast_event(k, ev))) {
		Body &b = k->body;
		Event &e = b.ev[ev.index];
		if (LIKELY(e.pend == PEND_NONE && delay_ps != 0 &&
			   delay_ps <= UINT64_MAX - k->now &&
			   b.heap.n < b.heap.cap)) {
			uint64_t t = k->now + delay_ps;
			uint64_t seq = ++b.seq;
			heap_push(b, t, seq, ev.index);
			e.pend = PEND_TIMED;
			e.pend_t = t;
			e.pend_seq = seq;
			return XB_OK;
		}
	}
	return notify_slow(k, ev, delay_ps);
}

/* Cancel E's pending notification, keeping the calendar's counts right. */
static void cancel_event(Body &b, Event &e)
{
	uint8_t was = e.pend;

	e.pend = PEND_NONE;
	if (was == PEND_DELTA) {
		b.delta_live--;
	} else if (was == PEND_TIMED) {
		b.heap_dead++;
		heap_bound(b);
	}
}

extern "C" xb_status xb_kernel_notify_now(xb_kernel *k, xb_event ev)
{
	const char *what = "xb_kernel_notify_now";

	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (!own_event(k, ev, what))
		return XB_EINVAL;
	if (g.running != k || k->cur == NO_PROC)
		return xb_raise(&k->err, XB_ESTATE, "%s: %s: an immediate notification is only "
				"allowed inside a callback of simulation #%u; between runs use "
				"xb_kernel_notify(k, ev, 0) (next delta cycle)", what,
				event_label(k, ev.index).c_str(), k->serial);
	try {
		cancel_event(k->body, k->body.ev[ev.index]);
		trigger(k, ev.index);
	} catch (...) {
		return translate(&k->err, what);
	}
	return XB_OK;
}

extern "C" xb_status xb_kernel_cancel(xb_kernel *k, xb_event ev)
{
	const char *what = "xb_kernel_cancel";

	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (!own_event(k, ev, what))
		return XB_EINVAL;
	cancel_event(k->body, k->body.ev[ev.index]);
	return XB_OK;
}

/* The running process of K, or NO_PROC with XB_ESTATE recorded. */
static uint32_t running_process(xb_kernel *k, const char *what)
{
	if (g.running != k || k->cur == NO_PROC) {
		xb_raise(&k->err, XB_ESTATE, "%s: dynamic sensitivity applies to the running "
			 "process, so it is only allowed inside a callback of simulation #%u", what,
			 k->serial);
		return NO_PROC;
	}
	return k->cur;
}

extern "C" xb_status xb_kernel_next_trigger(xb_kernel *k, xb_event ev)
{
	const char *what = "xb_kernel_next_trigger";

	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	if (!own_event(k, ev, what))
		return XB_EINVAL;
	uint32_t pi = running_process(k, what);
	if (pi == NO_PROC)
		return XB_ESTATE;
	Process &p = k->body.pr[pi];
	p.req = REQ_EVENT;
	p.req_event = ev.index;
	return XB_OK;
}

extern "C" xb_status xb_kernel_next_trigger_after(xb_kernel *k, xb_time_ps delay_ps)
{
	const char *what = "xb_kernel_next_trigger_after";

	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	uint32_t pi = running_process(k, what);
	if (pi == NO_PROC)
		return XB_ESTATE;
	if (delay_ps > UINT64_MAX - k->now)
		return xb_raise(&k->err, XB_ERANGE, "%s: %s: delay %" PRI_xb_time " ps from time %"
				PRI_xb_time " ps overflows the 64-bit picosecond clock", what,
				process_label(k, pi).c_str(), delay_ps, k->now);
	Process &p = k->body.pr[pi];
	p.req = REQ_DELAY;
	p.req_t = k->now + delay_ps;
	p.req_seq = ++k->body.seq;
	return XB_OK;
}

/* ---- time and runs ----------------------------------------------------------- */

extern "C" xb_time_ps xb_kernel_now(const xb_kernel *k)
{
	if (!live(unconst(k), "xb_kernel_now"))
		return 0;
	return k->now;
}

extern "C" uint64_t xb_kernel_delta_count(const xb_kernel *k)
{
	if (!live(unconst(k), "xb_kernel_delta_count"))
		return 0;
	return k->deltas;
}

extern "C" uint64_t xb_kernel_activations(const xb_kernel *k)
{
	if (!live(unconst(k), "xb_kernel_activations"))
		return 0;
	return k->activations;
}

extern "C" int xb_kernel_next_time(const xb_kernel *k, xb_time_ps *t_ps)
{
	uint64_t t = 0;
	bool have = false;

	if (live(unconst(k), "xb_kernel_next_time")) {
		try {
			have = next_work(unconst(k), &t);
		} catch (...) {
			/* heap_clean only shrinks the heap: nothing can throw */
		}
	}
	if (t_ps)
		*t_ps = have ? t : 0;
	return have ? 1 : 0;
}

extern "C" xb_status xb_kernel_run_until(xb_kernel *k, xb_time_ps t_ps)
{
	return run(k, false, t_ps, "xb_kernel_run_until");
}

extern "C" xb_status xb_kernel_run_idle(xb_kernel *k)
{
	return run(k, true, 0, "xb_kernel_run_idle");
}

extern "C" xb_status xb_kernel_step(xb_kernel *k)
{
	xb_time_ps t;

	if (!live(k, "xb_kernel_step"))
		return k ? k->err.code : XB_EINVAL;
	if (!xb_kernel_next_time(k, &t))
		return XB_OK;
	return run(k, false, t, "xb_kernel_step");
}

extern "C" xb_status xb_kernel_stop(xb_kernel *k)
{
	if (!live(k, "xb_kernel_stop"))
		return k ? k->err.code : XB_EINVAL;
	if (g.running != k || k->cur == NO_PROC)
		return xb_raise(&k->err, XB_ESTATE, "xb_kernel_stop: simulation #%u is not "
				"running a callback; call it from a callback to end the current "
				"run", k->serial);
	k->stop_req = true;
	return XB_OK;
}

extern "C" int xb_kernel_stopped(const xb_kernel *k)
{
	if (!live(unconst(k), "xb_kernel_stopped"))
		return 0;
	return k->stopped ? 1 : 0;
}

extern "C" int xb_kernel_self(const xb_kernel *k, xb_process *proc)
{
	bool in = k && k->magic == KERNEL_MAGIC && g.running == k && k->cur != NO_PROC;

	if (proc)
		*proc = in ? xb_process{k->serial, k->cur} : xb_process{0, 0};
	return in ? 1 : 0;
}

/* ---- testing hook ------------------------------------------------------------ */

extern "C" xb_status xb_kernel_test_systemc_error(xb_kernel *k)
{
	const char *what = "xb_kernel_test_systemc_error";

	if (!live(k, what))
		return k ? k->err.code : XB_EINVAL;
	try {
		sc_set_time_resolution(1, SC_PS);   /* rejected: resolution fixed already */
	} catch (...) {
		return translate(&k->err, what);
	}
	return xb_raise(&k->err, XB_EINTERNAL, "%s: SystemC accepted a second time resolution",
			what);
}
