/* SPDX-License-Identifier: Apache-2.0 */
/* Permission checks for files that hold secrets, and reading them. */
#include "contrib/secfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

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

/* Read a secret from key_file or key_env: one of them, not empty. The
 * file must be private to its owner (secfile_check). */
int
secfile_read(const json_t *c, const char *what, const char *prefix, char **out,
    char *err, size_t errlen)
{
	char kf[64], ke[64], buf[4096], setting[128];
	const char *file, *env;
	size_t n;
	FILE *f;

	snprintf(kf, sizeof(kf), "%s_file", what);
	snprintf(ke, sizeof(ke), "%s_env", what);
	file = json_string_value(json_object_get(c, kf));
	env = json_string_value(json_object_get(c, ke));
	if (file != NULL && env != NULL) {
		snprintf(err, errlen, "config: %s%s / %s: set only one", prefix,
		    kf, ke);
		return -1;
	}
	if (file != NULL) {
		f = fopen(file, "r");
		if (f == NULL) {
			snprintf(err, errlen,
			    "config: %s%s: cannot read %s: %s", prefix, kf,
			    file, strerror(errno));
			return -1;
		}
		snprintf(setting, sizeof(setting), "config: %s%s:", prefix, kf);
		if (secfile_check(setting, file, fileno(f), err, errlen) != 0) {
			fclose(f);
			return -1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 &&
		    (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
		        buf[n - 1] == ' '))
			buf[--n] = '\0';
	} else if (env != NULL) {
		const char *v = getenv(env);
		if (v == NULL) {
			snprintf(err, errlen,
			    "config: %s%s: environment variable %s is not set",
			    prefix, ke, env);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		n = strlen(buf);
	} else {
		snprintf(err, errlen, "config: %s%s: required (or %s)", prefix,
		    kf, ke);
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "config: %s%s: the secret is empty",
		    prefix, file ? kf : ke);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	*out = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (*out == NULL) {
		snprintf(err, errlen, "config: out of memory");
		return -1;
	}
	return 0;
}
