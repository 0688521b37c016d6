/* bench_kernel_raw.cc - the reference for bench_kernel: the ping as a plain SystemC method process.
 * A method re-notifies its own event 1 ns later, N times, with no shim in between.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cstdint>
#include <ctime>
#include <vector>

using namespace sc_core;

extern "C" double bench_kernel_raw_ping(uint64_t n);
extern "C" double bench_kernel_raw_pending(unsigned nproc, uint64_t n);

namespace {

struct Ping {
	sc_event ev;
	uint64_t count = 0, n = 0;
	void fire()
	{
		if (++count < n)
			ev.notify(1, SC_NS);
	}
};

/* NPROC processes re-notifying their own events after pseudo-random delays. */
struct Many {
	std::vector<sc_event *> ev;
	uint64_t count = 0, n = 0;
	uint32_t lcg = 12345;
};

struct Node {
	Many *m;
	unsigned i;
	void fire()
	{
		if (++m->count < m->n) {
			m->lcg = m->lcg * 1664525u + 1013904223u;
			m->ev[i]->notify(sc_time::from_value(1000u * (1 + (m->lcg >> 22))));
		} else {
			sc_pause();
		}
	}
};

double cpu_s()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

} /* namespace */

/* Events per second of the raw ping, or a negative value if SystemC failed.  SystemC
 * must already be set up by the shim (1 ps resolution, elaboration done: one
 * simulation context per process), so the method is spawned dynamically, like the
 * shim's own dispatcher, and killed afterwards.  The shim leaves nothing pending in
 * SystemC between its runs, so sc_start() ends when the ping ends. */
extern "C" double bench_kernel_raw_ping(uint64_t n)
{
	try {
		Ping p;
		p.n = n;
		sc_spawn_options opt;
		opt.spawn_method();
		opt.dont_initialize();
		opt.set_sensitivity(&p.ev);
		sc_process_handle h = sc_spawn(sc_bind(&Ping::fire, &p),
					       sc_gen_unique_name("bench_raw_ping"), &opt);
		p.ev.notify(1, SC_NS);
		double t0 = cpu_s();
		sc_start();
		double t1 = cpu_s();
		h.kill();
		if (p.count != n)
			return -1.0;
		return (double)n / (t1 - t0);
	} catch (...) {
		return -1.0;
	}
}

/* Events per second with about NPROC notifications always pending (the same model
 * as bench_kernel's shim_many), or a negative value if SystemC failed. */
extern "C" double bench_kernel_raw_pending(unsigned nproc, uint64_t n)
{
	Many m;
	std::vector<Node> nodes(nproc);
	std::vector<sc_process_handle> h;
	double rate = -1.0;

	try {
		m.n = n;
		for (unsigned i = 0; i < nproc; i++)
			m.ev.push_back(new sc_event);
		for (unsigned i = 0; i < nproc; i++) {
			nodes[i] = Node{&m, i};
			sc_spawn_options opt;
			opt.spawn_method();
			opt.set_sensitivity(m.ev[i]);
			h.push_back(sc_spawn(sc_bind(&Node::fire, &nodes[i]),
					     sc_gen_unique_name("bench_raw_node"), &opt));
		}
		double t0 = cpu_s();
		sc_start();
		double t1 = cpu_s();
		if (m.count == n)
			rate = (double)n / (t1 - t0);
	} catch (...) {
		rate = -1.0;
	}
	try {
		for (sc_process_handle &p : h)
			p.kill();
	} catch (...) {
		rate = -1.0;
	}
	for (sc_event *e : m.ev)
		delete e;
	return rate;
}
