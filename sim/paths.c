/* paths.c - finding the shipped data files (models, data sets) by name.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

xb_status xb_find_data(const char *what, const char *name, const char *subdir, char *buf,
		       size_t len, xb_err *err)
{
	const char *env = getenv("XBARSIM_DATA");
	char dirs[4][1024], tried[XB_ERRMSG_MAX / 2] = "";
	size_t nd = 0;

	if (!name || !name[0] || !buf || len == 0)
		return xb_raise(err, XB_EINVAL, "%s: expected a file or a shipped name", what);
	if (is_file(name)) {
		if ((size_t)snprintf(buf, len, "%s", name) >= len)
			return xb_raise(err, XB_EINVAL, "%s %s: path too long", what, name);
		return XB_OK;
	}
	if (env && env[0]) {
		snprintf(dirs[nd++], sizeof dirs[0], "%s/%s", env, subdir);
		snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
	}
	snprintf(dirs[nd++], sizeof dirs[0], "%s/%s", XB_PKGDATADIR, subdir);
	snprintf(dirs[nd++], sizeof dirs[0], "%s/workloads/%s", XB_SRCDIR, subdir);
	for (size_t i = 0; i < nd; i++) {
		size_t used = strlen(tried);

		if ((size_t)snprintf(buf, len, "%s/%s.h5", dirs[i], name) < len && is_file(buf))
			return XB_OK;
		snprintf(tried + used, sizeof tried - used, "%s%.200s", used ? ", " : "", dirs[i]);
	}
	buf[0] = '\0';
	return xb_raise(err, XB_ENOENT, "%s '%s': no such file, nor %s.h5 in %s", what, name, name,
			tried);
}
