/* run.c - running a sweep: the resumable output file, and the work shared over MPI ranks or done serially.
 * Rank 0 writes; every rank evaluates.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "sweep_int.h"
#include "xb_traces.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef XB_HAVE_MPI
#include <mpi.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#define TAG_RESULT 7301

/* What rank 0 keeps while writing. */
typedef struct out_file {
	xb_h5w *w;
	char **mean_path;      /* [nmetrics] "/points/<metric>" */
	char **std_path;       /* [nmetrics] "/points/<metric>_std" (repeats > 1) */
	int8_t *status;        /* [npoints] as in the file */
} out_file;

/* One result on the wire: header, mean[nvalues], std[nvalues], message bytes. */
typedef struct result_hdr {
	uint64_t point;
	int32_t status;
	uint32_t msglen;
} result_hdr;

static void out_free(out_file *f, size_t nmetrics)
{
	xb_h5w_free(f->w);
	for (size_t m = 0; f->mean_path && m < nmetrics; m++)
		free(f->mean_path[m]);
	for (size_t m = 0; f->std_path && m < nmetrics; m++)
		free(f->std_path[m]);
	free(f->mean_path);
	free(f->std_path);
	free(f->status);
	memset(f, 0, sizeof *f);
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb);
		memcpy(s + la + lb, c, lc + 1);
	}
	return s;
}

static xb_status out_paths(xb_sweep *sw, out_file *f)
{
	f->mean_path = calloc(sw->nmetrics + 1, sizeof *f->mean_path);
	f->std_path = calloc(sw->nmetrics + 1, sizeof *f->std_path);
	f->status = calloc(sw->npoints, 1);
	if (!f->mean_path || !f->std_path || !f->status)
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	for (size_t m = 0; m < sw->nmetrics; m++) {
		f->mean_path[m] = join("/points/", xb_sweep_metric_name(sw, m), "");
		f->std_path[m] = join("/points/", xb_sweep_metric_name(sw, m), "_std");
		if (!f->mean_path[m] || !f->std_path[m])
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	}
	return XB_OK;
}

/* Copy the writer's error to the sweep and return it. */
static xb_status wfail(xb_sweep *sw, const out_file *f)
{
	xb_raise(&sw->err, XB_EIO, "%s", xb_h5w_errmsg(f->w));
	return XB_EIO;
}

/* Create OUTPUT with every dataset sized to the points, all pending, and publish it. */
static xb_status out_create(xb_sweep *sw, const xb_sweep_run_opts *o, out_file *f)
{
	uint64_t n = sw->npoints;
	int64_t dims[1] = { (int64_t)n };
	xb_err e = { 0 };
	xb_h5w *w;
	xb_status st = XB_OK;

	f->w = w = xb_h5w_create(o->output, XB_SWEEP_SCHEMA, XB_SWEEP_SCHEMA_VERSION, sw->base_ini,
				 o->command_line, &e);
	if (!w) {
		xb_err_copy(&sw->err, &e);
		return e.code;
	}
	if (xb_h5w_attr_str(w, "/", "sweep_file", sw->text) ||
	    xb_h5w_attr_str(w, "/", "sweep_path", sw->path) ||
	    xb_h5w_attr_str(w, "/", "mode", xb_sweep_mode_name(sw->mode)) ||
	    xb_h5w_attr_int(w, "/", "npoints", (int64_t)n) ||
	    xb_h5w_attr_int(w, "/", "repeats", sw->repeats) ||
	    xb_h5w_attr_int(w, "/", "seed", (int64_t)sw->seed) ||
	    xb_h5w_attr_str(w, "/", "seeds", xb_sweep_seeds_name(sw)) ||
	    xb_h5w_group(w, "/points", NULL, 0) ||
	    xb_h5w_attr_int(w, "/points", "npoints", (int64_t)n))
		return wfail(sw, f);
	for (size_t a = 0; a < sw->naxes; a++) {
		const sweep_axis *ax = &sw->axes[a];
		char *path = join("/points/", ax->key, "");
		void *data = ax->numeric ? malloc(n * sizeof(double)) : malloc(n * sizeof(char *));

		if (!path || !data) {
			free(path);
			free(data);
			return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
		}
		for (uint64_t p = 0; p < n; p++) {
			if (ax->numeric)
				xb_sweep_value(sw, p, a, (double *)data + p, NULL);
			else
				xb_sweep_value(sw, p, a, NULL, (const char **)data + p);
		}
		st = xb_h5w_write(w, path, ax->numeric ? XB_H5_FLOAT64 : XB_H5_STRING, 1, dims, data,
				  ax->k->unit && *ax->k->unit ? ax->k->unit : "1");
		if (st == XB_OK)
			st = xb_h5w_attr_str(w, path, "values", ax->spec);
		free(path);
		free(data);
		if (st != XB_OK)
			return wfail(sw, f);
	}
	for (size_t m = 0; m < sw->nmetrics; m++) {
		int64_t row[1] = { (int64_t)xb_sweep_metric_width(sw, m) };
		int rank = row[0] > 1;
		const sweep_metric *mm = &sw->metrics[m];
		const xb_sweep_provider *t = sw->inst[mm->inst].type;
		const char *help = t->metrics[mm->index].help;

		if (xb_h5w_extendible(w, f->mean_path[m], XB_H5_FLOAT64, rank, row,
				      xb_sweep_metric_unit(sw, m)) ||
		    xb_h5w_resize(w, f->mean_path[m], (int64_t)n) ||
		    xb_h5w_attr_str(w, f->mean_path[m], "provider", t->name) ||
		    xb_h5w_attr_str(w, f->mean_path[m], "help", help ? help : ""))
			return wfail(sw, f);
		if (sw->repeats > 1 &&
		    (xb_h5w_extendible(w, f->std_path[m], XB_H5_FLOAT64, rank, row,
				       xb_sweep_metric_unit(sw, m)) ||
		     xb_h5w_resize(w, f->std_path[m], (int64_t)n) ||
		     xb_h5w_attr_str(w, f->std_path[m], "help",
				     "sample standard deviation over the repeats")))
			return wfail(sw, f);
	}
	if (xb_h5w_extendible(w, "/points/status", XB_H5_INT8, 0, NULL, "1") ||
	    xb_h5w_resize(w, "/points/status", (int64_t)n) ||
	    xb_h5w_attr_str(w, "/points/status", "help", "0 pending, 1 done, 2 failed") ||
	    xb_h5w_extendible(w, "/points/message", XB_H5_STRING, 0, NULL, "1") ||
	    xb_h5w_resize(w, "/points/message", (int64_t)n) ||
	    xb_h5w_attr_str(w, "/points/message", "help", "why the point failed") ||
	    xb_h5w_publish(w))
		return wfail(sw, f);
	return XB_OK;
}

/* The first line where the stored text A and the current text B differ, for messages. */
static void first_difference(const char *a, const char *b, char *buf, size_t len)
{
	int line = 1;
	const char *la = a, *lb = b;

	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
		a++;
		b++;
	}
	snprintf(buf, len, "line %d was '%.*s', now '%.*s'", line,
		 (int)strcspn(la, "\n") > 200 ? 200 : (int)strcspn(la, "\n"), la,
		 (int)strcspn(lb, "\n") > 200 ? 200 : (int)strcspn(lb, "\n"), lb);
}

/* Reopen OUTPUT for --resume after checking that it was made from this sweep. */
static xb_status out_resume(xb_sweep *sw, const xb_sweep_run_opts *o, out_file *f)
{
	int64_t dims[1] = { (int64_t)sw->npoints };
	xb_err e = { 0 };
	xb_h5r *r = xb_h5r_open(o->output, &e);
	char *text = NULL, diff[600];
	void *status = NULL;
	xb_status st;

	if (!r) {
		xb_raise(&sw->err, e.code, "%s (remove it to start the sweep again)", e.msg);
		return e.code;
	}
	st = xb_h5r_schema(r, NULL, XB_SWEEP_SCHEMA, XB_SWEEP_SCHEMA_VERSION, NULL);
	if (st == XB_OK)
		st = xb_h5r_attr_str(r, "/", "sweep_file", &text);
	if (st != XB_OK) {
		xb_raise(&sw->err, XB_EFORMAT, "%s: cannot resume: not a sweep file (%s)", o->output,
			 xb_h5r_errmsg(r));
		goto out;
	}
	if (strcmp(text, sw->text)) {
		first_difference(text, sw->text, diff, sizeof diff);
		st = xb_raise(&sw->err, XB_EFORMAT,
			      "%s: cannot resume: it was made from another sweep description than "
			      "%s (its %s); use another output file or remove it", o->output, sw->path,
			      diff);
		goto out;
	}
	free(text);
	text = NULL;
	st = xb_h5r_attr_str(r, "/", "config", &text);
	if (st != XB_OK) {
		xb_raise(&sw->err, XB_EFORMAT, "%s: cannot resume: %s", o->output, xb_h5r_errmsg(r));
		goto out;
	}
	if (strcmp(text, sw->base_ini)) {
		first_difference(text, sw->base_ini, diff, sizeof diff);
		st = xb_raise(&sw->err, XB_EFORMAT,
			      "%s: cannot resume: the resolved base configuration changed since it "
			      "was started (base file, preset or -s; in the configuration, %s)", o->output, diff);
		goto out;
	}
	st = xb_h5r_read(r, "/points/status", XB_H5_INT8, 1, dims, 0, &status, NULL);
	if (st != XB_OK) {
		xb_raise(&sw->err, XB_EFORMAT, "%s: cannot resume: %s", o->output, xb_h5r_errmsg(r));
		goto out;
	}
	memcpy(f->status, status, sw->npoints);
	xb_h5r_free(r);
	r = NULL;
	f->w = xb_h5w_open_append(o->output, &e);
	if (!f->w) {
		xb_err_copy(&sw->err, &e);
		st = e.code;
	}
out:
	free(status);
	free(text);
	xb_h5r_free(r);
	return st;
}

static xb_status out_open(xb_sweep *sw, const xb_sweep_run_opts *o, out_file *f)
{
	struct stat sb;
	xb_status st = out_paths(sw, f);

	if (st != XB_OK)
		return st;
	if (stat(o->output, &sb) == 0) {
		if (!o->resume)
			return xb_raise(&sw->err, XB_EIO,
					"%s exists: use --resume to continue that sweep, or remove it "
					"to start again", o->output);
		return out_resume(sw, o, f);
	}
	if (errno != ENOENT)
		return xb_raise(&sw->err, XB_EIO, "%s: %s", o->output, strerror(errno));
	return out_create(sw, o, f);
}

/* Write one point's row; status last, so that a crash leaves it pending. */
static xb_status out_write(xb_sweep *sw, out_file *f, uint64_t point, int status,
			   const double *mean, const double *std, const char *msg)
{
	int8_t s = (int8_t)status;

	for (size_t m = 0; m < sw->nmetrics; m++) {
		size_t v0 = sw->metrics[m].value0;

		if (xb_h5w_write_rows(f->w, f->mean_path[m], (int64_t)point, mean + v0, 1))
			return wfail(sw, f);
		if (sw->repeats > 1 &&
		    xb_h5w_write_rows(f->w, f->std_path[m], (int64_t)point, std + v0, 1))
			return wfail(sw, f);
	}
	if (msg && *msg && xb_h5w_write_rows(f->w, "/points/message", (int64_t)point, &msg, 1))
		return wfail(sw, f);
	if (xb_h5w_write_rows(f->w, "/points/status", (int64_t)point, &s, 1))
		return wfail(sw, f);
	f->status[point] = s;
	return XB_OK;
}

/* ---- the order of the work ---------------------------------------------------------- */

typedef struct todo_item {
	uint64_t point;
	double cost;
} todo_item;

static int cmp_cost(const void *pa, const void *pb)
{
	const todo_item *a = pa, *b = pb;

	if (a->cost != b->cost)
		return a->cost < b->cost ? 1 : -1;
	return a->point < b->point ? -1 : a->point > b->point;
}

/* The pending points, the most costly first when every provider estimates costs
 * (the greedy longest-first rule keeps the ranks' last points short), else in order. */
static xb_status make_todo(xb_sweep *sw, const int8_t *status, uint64_t **todo, uint64_t *ntodo)
{
	todo_item *items;
	uint64_t n = 0;
	int costed = 1;

	for (size_t i = 0; i < sw->ninst; i++)
		costed &= sw->inst[i].type->cost != NULL;
	costed &= sw->ninst > 0;
	items = malloc((sw->npoints ? sw->npoints : 1) * sizeof *items);
	*todo = malloc((sw->npoints ? sw->npoints : 1) * sizeof **todo);
	if (!items || !*todo) {
		free(items);
		free(*todo);
		*todo = NULL;
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	}
	for (uint64_t p = 0; p < sw->npoints; p++) {
		if (status[p] != XB_SWEEP_PENDING)
			continue;
		items[n].point = p;
		items[n].cost = 0;
		if (costed) {
			xb_config *cfg = xb_sweep_point_config(sw, p, 0, NULL);

			for (size_t i = 0; cfg && i < sw->ninst; i++) {
				double c = sw->inst[i].type->cost(sw->inst[i].state, cfg);

				items[n].cost += c >= 0 ? c : 0;
			}
			xb_config_free(cfg);
		}
		n++;
	}
	if (costed)
		qsort(items, n, sizeof *items, cmp_cost);
	for (uint64_t i = 0; i < n; i++)
		(*todo)[i] = items[i].point;
	free(items);
	*ntodo = n;
	return XB_OK;
}

/* ---- running ------------------------------------------------------------------------------ */

typedef struct run_state {
	xb_sweep *sw;
	const xb_sweep_run_opts *o;
	out_file f;
	uint64_t *todo, ntodo;
	uint64_t done;          /* results written by this run */
	int stop;               /* the progress callback asked to stop */
	xb_status wst;          /* first write error (rank 0) */
	double *mean, *std;
	char msg[XB_ERRMSG_MAX];
} run_state;

/* Rank 0: record one result and report progress. */
static void take_result(run_state *rs, uint64_t point, int status, const double *mean,
			const double *std, const char *msg)
{
	if (rs->wst == XB_OK)
		rs->wst = out_write(rs->sw, &rs->f, point, status, mean, std, msg);
	rs->done++;
}

static void report(run_state *rs)
{
	if (rs->o->progress && rs->o->progress(rs->o->progress_ud, rs->done, rs->ntodo))
		rs->stop = 1;
}

static xb_status run_serial(run_state *rs)
{
	xb_sweep *sw = rs->sw;

	for (uint64_t k = 0; k < rs->ntodo && !rs->stop && rs->wst == XB_OK; k++) {
		int status;
		xb_status st = xb_sweep_eval_point(sw, rs->todo[k], &status, rs->mean, rs->std,
						   rs->msg);

		if (st != XB_OK)
			return st;
		take_result(rs, rs->todo[k], status, rs->mean, rs->std, rs->msg);
		if (rs->wst == XB_OK && xb_h5w_flush(rs->f.w))
			rs->wst = wfail(sw, &rs->f);
		report(rs);
	}
	return XB_OK;
}

#ifdef XB_HAVE_MPI
static int mpi_inited_here;

static size_t packed_size(const xb_sweep *sw)
{
	return sizeof(result_hdr) + 2 * sw->nvalues * sizeof(double) + XB_ERRMSG_MAX;
}

static void unpack(const xb_sweep *sw, const unsigned char *buf, result_hdr *h, double *mean,
		   double *std, char *msg)
{
	size_t nv = sw->nvalues * sizeof(double);

	memcpy(h, buf, sizeof *h);
	memcpy(mean, buf + sizeof *h, nv);
	memcpy(std, buf + sizeof *h + nv, nv);
	if (h->msglen >= XB_ERRMSG_MAX)
		h->msglen = XB_ERRMSG_MAX - 1;
	memcpy(msg, buf + sizeof *h + 2 * nv, h->msglen);
	msg[h->msglen] = '\0';
}

/* Rank 0: receive the results that have arrived (all of them up to TARGET results in
 * total when BLOCK). */
static void drain(run_state *rs, unsigned char *buf, int block, uint64_t target)
{
	for (;;) {
		MPI_Status ms;
		int flag = 0, count;
		result_hdr h;

		if (block && rs->done >= target)
			return;
		if (block) {
			MPI_Probe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &ms);
			flag = 1;
		} else {
			MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &ms);
		}
		if (!flag)
			return;
		MPI_Get_count(&ms, MPI_BYTE, &count);
		MPI_Recv(buf, count, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
			 MPI_STATUS_IGNORE);
		unpack(rs->sw, buf, &h, rs->mean, rs->std, rs->msg);
		take_result(rs, h.point, h.status, rs->mean, rs->std, rs->msg);
		/* Waiting for the last points: nothing else to do, flush each at once. */
		if (block && rs->wst == XB_OK && xb_h5w_flush(rs->f.w))
			rs->wst = wfail(rs->sw, &rs->f);
		report(rs);
	}
}

/* One thread team per core of the node, shared among the node's ranks, unless the
 * user said (OMP_NUM_THREADS). */
static void share_cores(void)
{
#ifdef _OPENMP
	MPI_Comm node;
	int local = 1;

	if (getenv("OMP_NUM_THREADS"))
		return;
	if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
	    MPI_SUCCESS) {
		MPI_Comm_size(node, &local);
		MPI_Comm_free(&node);
	}
	if (local > 1) {
		int t = omp_get_num_procs() / local;

		omp_set_num_threads(t > 0 ? t : 1);
	}
#endif
}

/* Every rank: take points from the counter at rank 0 until none is left. */
static xb_status run_mpi(run_state *rs, int rank)
{
	xb_sweep *sw = rs->sw;
	size_t psize = packed_size(sw);
	unsigned char *sbuf = malloc(psize), *rbuf = malloc(psize);
	uint64_t *counter = NULL, handed = rs->ntodo;
	MPI_Request req = MPI_REQUEST_NULL;
	MPI_Win win;
	xb_status st = XB_OK;
	int ok = sbuf && rbuf;

	/* Allocation failures must be known to everyone before the collective calls. */
	if (!xb_sweep_mpi_all(ok)) {
		free(sbuf);
		free(rbuf);
		return xb_raise(&sw->err, XB_ENOMEM, "out of memory (on some rank)");
	}
	MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(uint64_t) : 0, sizeof(uint64_t),
			 MPI_INFO_NULL, MPI_COMM_WORLD, &counter, &win);
	if (rank == 0) {
		MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
		*counter = 0;
		MPI_Win_unlock(0, win);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	for (;;) {
		const uint64_t one = 1;
		uint64_t k;
		int status;

		if (rank == 0 && (rs->stop || rs->wst != XB_OK)) {
			/* Stop handing out points: the counter jumps past the end. */
			uint64_t end = rs->ntodo, old;

			MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
			MPI_Fetch_and_op(&end, &old, MPI_UINT64_T, 0, 0, MPI_REPLACE, win);
			MPI_Win_unlock(0, win);
			handed = old < rs->ntodo ? old : rs->ntodo;
			break;
		}
		MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
		MPI_Fetch_and_op(&one, &k, MPI_UINT64_T, 0, 0, MPI_SUM, win);
		MPI_Win_unlock(0, win);
		if (k >= rs->ntodo)
			break;
		st = xb_sweep_eval_point(sw, rs->todo[k], &status, rs->mean, rs->std, rs->msg);
		if (st != XB_OK)
			MPI_Abort(MPI_COMM_WORLD, 1);   /* out of memory mid-sweep: resume later */
		if (rank == 0) {
			take_result(rs, rs->todo[k], status, rs->mean, rs->std, rs->msg);
			report(rs);
			drain(rs, rbuf, 0, 0);
			if (rs->wst == XB_OK && xb_h5w_flush(rs->f.w))
				rs->wst = wfail(sw, &rs->f);
		} else {
			result_hdr h = { rs->todo[k], status, (uint32_t)strlen(rs->msg) };
			size_t nv = sw->nvalues * sizeof(double);

			MPI_Wait(&req, MPI_STATUS_IGNORE);
			memcpy(sbuf, &h, sizeof h);
			memcpy(sbuf + sizeof h, rs->mean, nv);
			memcpy(sbuf + sizeof h + nv, rs->std, nv);
			memcpy(sbuf + sizeof h + 2 * nv, rs->msg, h.msglen);
			MPI_Isend(sbuf, (int)(sizeof h + 2 * nv + h.msglen), MPI_BYTE, 0, TAG_RESULT,
				  MPI_COMM_WORLD, &req);
		}
	}
	if (rank == 0) {
		drain(rs, rbuf, 1, handed);
		if (rs->wst == XB_OK && xb_h5w_flush(rs->f.w))
			rs->wst = wfail(sw, &rs->f);
	} else {
		MPI_Wait(&req, MPI_STATUS_IGNORE);
	}
	MPI_Win_free(&win);
	free(sbuf);
	free(rbuf);
	return XB_OK;
}
#endif

xb_status xb_sweep_run(xb_sweep *sw, const xb_sweep_run_opts *o, xb_sweep_summary *summary)
{
	run_state rs = { 0 };
	xb_sweep_summary sum = { 0 };
	int rank = xb_sweep_mpi_rank(), nranks = xb_sweep_mpi_size();
	xb_status st = XB_OK;
	double t0;

	rs.sw = sw;
	rs.o = o;
	sum.points = sw->npoints;
	sum.rank = rank;
	sum.nranks = nranks;
	if (!o || !o->output || !*o->output) {
		st = xb_raise(&sw->err, XB_EINVAL, "xb_sweep_run: no output file given");
		goto out;
	}
	rs.mean = malloc((sw->nvalues + 1) * sizeof *rs.mean);
	rs.std = malloc((sw->nvalues + 1) * sizeof *rs.std);
	if (!rs.mean || !rs.std)
		st = xb_raise(&sw->err, XB_ENOMEM, "out of memory");
	/* Rank 0 opens the file and decides what is left to do. */
	if (rank == 0 && st == XB_OK) {
		st = out_open(sw, o, &rs.f);
		if (st == XB_OK)
			st = make_todo(sw, rs.f.status, &rs.todo, &rs.ntodo);
		sum.done_before = sw->npoints - rs.ntodo;
	}
#ifdef XB_HAVE_MPI
	if (nranks > 1) {
		int code = (int)st;
		uint64_t n = rs.ntodo;

		MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
		MPI_Bcast(sw->err.msg, XB_ERRMSG_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
		if (!xb_sweep_mpi_all(rs.mean && rs.std) && code == XB_OK)
			code = xb_raise(&sw->err, XB_ENOMEM, "out of memory (on some rank)");
		if (code != XB_OK) {
			st = (xb_status)code;
			sw->err.code = st;
			goto out;
		}
		MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
		if (rank != 0) {
			rs.ntodo = n;
			rs.todo = malloc((n ? n : 1) * sizeof *rs.todo);
		}
		if (!xb_sweep_mpi_all(rs.todo != NULL)) {
			st = xb_raise(&sw->err, XB_ENOMEM, "out of memory (on some rank)");
			goto out;
		}
		MPI_Bcast(rs.todo, (int)n, MPI_UINT64_T, 0, MPI_COMM_WORLD);
		share_cores();
	}
#endif
	if (st != XB_OK)
		goto out;
	t0 = xb_wall_s();
	if (rank == 0)
		report(&rs);
#ifdef XB_HAVE_MPI
	if (nranks > 1)
		st = run_mpi(&rs, rank);
	else
#endif
		st = run_serial(&rs);
	sum.wall_s = xb_wall_s() - t0;
	if (st == XB_OK && rank == 0) {
		st = rs.wst;
		if (st == XB_OK && xb_h5w_commit(rs.f.w) != XB_OK)
			st = wfail(sw, &rs.f);
		for (uint64_t p = 0; p < sw->npoints; p++) {
			sum.failed += rs.f.status[p] == XB_SWEEP_FAILED;
			sum.pending += rs.f.status[p] == XB_SWEEP_PENDING;
		}
		sum.computed = rs.done;
	}
#ifdef XB_HAVE_MPI
	if (nranks > 1) {
		uint64_t v[6] = { sum.done_before, sum.computed, sum.failed, sum.pending,
				  (uint64_t)st, 0 };
		double wall = sum.wall_s;

		MPI_Bcast(v, 6, MPI_UINT64_T, 0, MPI_COMM_WORLD);
		MPI_Bcast(&wall, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
		MPI_Bcast(sw->err.msg, XB_ERRMSG_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
		sum.done_before = v[0];
		sum.computed = v[1];
		sum.failed = v[2];
		sum.pending = v[3];
		st = (xb_status)v[4];
		sw->err.code = st;
		sum.wall_s = wall;
	}
#endif
out:
	if (summary)
		*summary = sum;
	out_free(&rs.f, sw->nmetrics);
	free(rs.todo);
	free(rs.mean);
	free(rs.std);
	return st;
}

/* ---- MPI ----------------------------------------------------------------------------- */

int xb_sweep_have_mpi(void)
{
#ifdef XB_HAVE_MPI
	return 1;
#else
	return 0;
#endif
}

xb_status xb_sweep_mpi_init(int *argc, char ***argv)
{
#ifdef XB_HAVE_MPI
	int inited = 0, provided;

	MPI_Initialized(&inited);
	if (!inited) {
		if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
			return xb_raise(NULL, XB_EUNSUPPORTED, "MPI_Init_thread failed");
		mpi_inited_here = 1;
	}
#else
	(void)argc;
	(void)argv;
#endif
	return XB_OK;
}

void xb_sweep_mpi_finalize(void)
{
#ifdef XB_HAVE_MPI
	int fin = 0;

	MPI_Finalized(&fin);
	if (mpi_inited_here && !fin)
		MPI_Finalize();
	mpi_inited_here = 0;
#endif
}

int xb_sweep_mpi_rank(void)
{
#ifdef XB_HAVE_MPI
	int inited = 0, fin = 0, rank = 0;

	MPI_Initialized(&inited);
	MPI_Finalized(&fin);
	if (inited && !fin)
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	return rank;
#else
	return 0;
#endif
}

int xb_sweep_mpi_size(void)
{
#ifdef XB_HAVE_MPI
	int inited = 0, fin = 0, size = 1;

	MPI_Initialized(&inited);
	MPI_Finalized(&fin);
	if (inited && !fin)
		MPI_Comm_size(MPI_COMM_WORLD, &size);
	return size;
#else
	return 1;
#endif
}

int xb_sweep_mpi_all(int ok)
{
#ifdef XB_HAVE_MPI
	int in = ok != 0, all = in;

	if (xb_sweep_mpi_size() > 1)
		MPI_Allreduce(&in, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	return all;
#else
	return ok != 0;
#endif
}
