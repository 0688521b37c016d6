/* bench_run.c - timing and memory of `xbarsim run` on the shipped keyword-spotting workload.
 * Prints kws.testset_s (whole test set on hx, ordered, functional) and kws.peak_rss_mb (default run).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage: bench_run [KEY=VALUE]...   (extra overrides, e.g. workload.model=FILE, for both
 * figures).  kws.peak_rss_mb runs the built program $XB_BUILDDIR/xbarsim (default: the
 * build directory it was compiled in) as a child and reads getrusage(RUSAGE_CHILDREN).
 */
#include "xb_run.h"
#include "xb_sim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	xb_err err = { 0 };
	xb_run_result *r = NULL;
	const char *sets[64];
	size_t nsets = 0;
	char msg[XB_ERRMSG_MAX];

	/* idle OpenMP threads must not spin on a shared machine (see sim/cli_run.c); the
	 * policy is read before main(), so start again with it set */
	if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
		execv("/proc/self/exe", argv);
	for (int i = 1; i < argc && nsets < 60; i++)
		sets[nsets++] = argv[i];
	xb_register_all_keys();
	xb_config *cfg = xb_sim_config(NULL, "hx", sets, nsets, &err);
	if (!cfg) {
		printf("kws.testset_s: n/a (%s)\n", err.msg);
		printf("kws.peak_rss_mb: n/a (%s)\n", err.msg);
		return 0;
	}
	/* functional, ordered (the hx preset), whole set */
	double t0 = xb_wall_s();
	if (xb_run(cfg, NULL, &r, &err) != XB_OK) {
		snprintf(msg, sizeof msg, "%s", err.msg);
		printf("kws.testset_s: n/a (%s)\n", msg);
		printf("kws.peak_rss_mb: n/a (%s)\n", msg);
		xb_config_free(cfg);
		return 0;
	}
	double t = xb_wall_s() - t0;
	printf("kws.testset_s: %.3f s\n", t);
	printf("kws.testset_samples: %zu\n", r->samples);
	printf("kws.accuracy_ideal: %.4f\n", r->accuracy_ideal);
	printf("kws.accuracy_device: %.4f\n", r->accuracy_device);
	xb_run_result_free(r);
	xb_config_free(cfg);
	fflush(stdout);

	/* peak RSS of the default run, as a child process */
	const char *bd = getenv("XB_BUILDDIR");
	char prog[4096];
	snprintf(prog, sizeof prog, "%s/xbarsim", bd && *bd ? bd : XB_BUILDDIR);
	if (access(prog, X_OK) != 0) {
		printf("kws.peak_rss_mb: n/a (no program %s)\n", prog);
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char *av[130];
		int n = 0;
		av[n++] = prog;
		av[n++] = (char *)"run";
		av[n++] = (char *)"--progress";
		av[n++] = (char *)"none";
		for (size_t i = 0; i < nsets; i++) {
			av[n++] = (char *)"-s";
			av[n++] = argv[1 + i];
		}
		av[n] = NULL;
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(prog, av);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		printf("kws.peak_rss_mb: n/a (fork failed)\n");
		return 0;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("kws.peak_rss_mb: n/a (%s run exited with status %d)\n", prog,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 0;
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("kws.peak_rss_mb: %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
	return 0;
}
