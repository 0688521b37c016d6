/* bench_sweep.c - speed-up of `xbarsim sweep` on 2 MPI ranks over 1, on a 16-point sweep of the tile model.
 * Runs the built xbarsim under mpirun; prints "n/a" with the reason when that cannot be done.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void na(const char *why)
{
	printf("sweep.speedup_2_ranks: n/a (%s)\n", why);
}

#ifdef XB_HAVE_MPI
/* 16 points of unequal cost (32 to 128 signed rows), one thread per rank: the
 * speed-up measures the distribution of points over ranks, not OpenMP.  Ranks are
 * not bound to cores (--bind-to none): on a machine shared with other work a rank
 * bound to a busy core could not move. */
static const char sweep_text[] =
	"; bench_sweep: 16 points of unequal cost\n"
	"[sweep]\n"
	"metrics = mvm_rmse_lsb mvm_saturation_rate\n"
	"tile.rows = 64 128 192 256\n"
	"noise.read_lsb = 0:3:1\n"
	"[run]\n"
	"samples = 131072\n";

/* Run CMD, return the evaluation time it reports ("computed in X s") or -1, and its
 * wall time in *WALL_S. */
static double run_sweep(const char *cmd, double *wall_s)
{
	char line[2048];
	double t = -1, t0 = xb_wall_s();
	FILE *p = popen(cmd, "r");

	if (!p)
		return -1;
	while (fgets(line, sizeof line, p)) {
		const char *s = strstr(line, " computed in ");

		if (s)
			t = strtod(s + strlen(" computed in "), NULL);
	}
	if (pclose(p) != 0)
		return -1;
	*wall_s = xb_wall_s() - t0;
	return t;
}

static int same_files(const char *a, const char *b)
{
	char cmd[8192];

	snprintf(cmd, sizeof cmd,
		 "h5dump -m %%.17g -g /points '%s' | tail -n +2 > '%s.txt' && "
		 "h5dump -m %%.17g -g /points '%s' | tail -n +2 > '%s.txt' && "
		 "cmp -s '%s.txt' '%s.txt'", a, a, b, b, a, b);
	return system(cmd) == 0;
}

int main(void)
{
	const char *bdir = getenv("XB_BUILDDIR") ? getenv("XB_BUILDDIR") : XB_BUILDDIR;
	char prog[1024], dir[] = "/tmp/xb_bench_sweep_XXXXXX", ini[1100], cmd[8192];
	char out1[1100], out2[1100];
	double t1, t2, w1, w2;
	FILE *f;
	int same;

	if (getenv("XB_XBARSIM"))
		snprintf(prog, sizeof prog, "%s", getenv("XB_XBARSIM"));
	else
		snprintf(prog, sizeof prog, "%s/xbarsim", bdir);
	snprintf(cmd, sizeof cmd, "'%s' sweep --help 2>/dev/null | grep -q -- --resume", prog);
	if (access(prog, X_OK) != 0 || system(cmd) != 0) {
		na("no xbarsim with the sweep command in XB_BUILDDIR");
		return 0;
	}
	if (system("command -v mpirun >/dev/null 2>&1") != 0) {
		na("mpirun not found");
		return 0;
	}
	if (!mkdtemp(dir)) {
		na("cannot make a temporary directory");
		return 0;
	}
	snprintf(ini, sizeof ini, "%s/bench.ini", dir);
	snprintf(out1, sizeof out1, "%s/r1.h5", dir);
	snprintf(out2, sizeof out2, "%s/r2.h5", dir);
	f = fopen(ini, "w");
	if (!f || fputs(sweep_text, f) < 0 || fclose(f) != 0) {
		na("cannot write the sweep file");
		return 0;
	}
	snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe "
		 "--bind-to none -x OMP_NUM_THREADS -np 1 '%s' sweep '%s' -o '%s' --progress=none 2>&1",
		 prog, ini, out1);
	t1 = run_sweep(cmd, &w1);
	snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe "
		 "--bind-to none -x OMP_NUM_THREADS -np 2 '%s' sweep '%s' -o '%s' --progress=none 2>&1",
		 prog, ini, out2);
	t2 = run_sweep(cmd, &w2);
	same = t1 > 0 && t2 > 0 && same_files(out1, out2);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_sweep: could not remove %s\n", dir);
	if (t1 <= 0 || t2 <= 0) {
		na("a sweep under mpirun failed");
		return 1;
	}
	/* The evaluation phase (what the ranks share); the wall times add MPI start-up. */
	printf("sweep.speedup_2_ranks: %.2f\n", t1 / t2);
	printf("sweep.points_per_s_1_rank: %.2f points/s\n", 16 / t1);
	printf("sweep.wall_1_rank_s: %.2f s\n", w1);
	printf("sweep.wall_2_ranks_s: %.2f s\n", w2);
	printf("sweep.speedup_2_ranks_wall: %.2f\n", w1 / w2);
	printf("sweep.tables_identical: %s\n", same ? "yes" : "NO");
	return same ? 0 : 1;
}
#else
int main(void)
{
	na("built without MPI: configure --with-mpi");
	return 0;
}
#endif
