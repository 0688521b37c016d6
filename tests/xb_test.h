/* xb_test.h - helpers shared by the Check suites: a fresh temporary directory per test.
 * Header-only (static functions), included by the tests/check_*.c that need it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_TEST_H
#define XB_TEST_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Make a fresh directory $TMPDIR/PREFIX.XXXXXX (TMPDIR defaults to /tmp) into BUF. */
static inline void xb_test_mkdtemp(char *buf, size_t len, const char *prefix)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, len, "%s/%s.XXXXXX", base && base[0] ? base : "/tmp", prefix);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* Remove DIR and everything below it (links are removed, not followed). */
static inline void xb_test_rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[1024];
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			xb_test_rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

#endif /* XB_TEST_H */
