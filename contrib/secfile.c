/* SPDX-License-Identifier: Apache-2.0 */
/* Permission checks for files that hold secrets. */
#include "contrib/secfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The worst of the bits that must not be set, in words. */
static const char *
exposure(mode_t m)
{
	if (m & S_IROTH)
		return "readable by others";
	if (m & S_IWOTH)
		return "writable by others";
	if (m & S_IRGRP)
		return "readable by its group";
	if (m & S_IWGRP)
		return "writable by its group";
	return "open to its group or others";
}

int
secfile_check(
    const char *what, const char *path, int fd, char *err, size_t errlen)
{
	struct stat st;
	int rc = fd >= 0 ? fstat(fd, &st) : stat(path, &st);

	if (rc != 0) {
		if (fd < 0 && errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s %s: cannot stat: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if ((st.st_mode & 077) == 0)
		return 0;
	/* chmod 600 keeps what the owner needs (read and write) and is what
	 * the bridge itself creates */
	snprintf(err, errlen, "%s %s is %s (mode %04o): chmod 600 %s", what,
	    path, exposure(st.st_mode), (unsigned)(st.st_mode & 07777), path);
	return -1;
}
