/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: small helpers shared by the simulator's files.
 */
#include "contrib/sectigo-sim/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

char *
sim_path(const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	char *p;

	p = malloc(dlen + nlen + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, name, nlen + 1);
	return p;
}

int
sim_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	char *tmp = NULL;
	int fd = -1, rc = -1;
	size_t plen = strlen(path);

	tmp = malloc(plen + 32);
	if (tmp == NULL) {
		fprintf(stderr, "sectigo-sim: write %s: out of memory\n", path);
		goto out;
	}
	snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1) {
		fprintf(
		    stderr, "sectigo-sim: open %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "sectigo-sim: write %s: %s\n", tmp,
			    strerror(errno));
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		fprintf(stderr, "sectigo-sim: close %s: %s\n", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "sectigo-sim: rename %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc != 0 && tmp != NULL)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
sim_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
sim_random_alnum(char *buf, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t i = 0, j = sizeof(rnd);

	while (i < n) {
		if (j == sizeof(rnd)) {
			if (RAND_bytes(rnd, sizeof(rnd)) != 1)
				return -1;
			j = 0;
		}
		/* 248 = 4 * 62: rejecting the rest keeps the choice uniform */
		if (rnd[j] < 248)
			buf[i++] = set[rnd[j] % 62];
		j++;
	}
	buf[n] = '\0';
	return 0;
}

void
sim_format_date(time_t t, char buf[11])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 11, "%m/%d/%Y", &tm) == 0)
		snprintf(buf, 11, "01/01/1970");
}

int
sim_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	/* strtol alone accepts leading blanks and a plus sign; SCM ids don't */
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t
sim_rng_next(uint64_t *state)
{
	uint64_t z;

	/* splitmix64 (Steele, Lea, Flood 2014): fine for picking faults */
	*state += 0x9e3779b97f4a7c15ULL;
	z = *state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
sim_rng_unit(uint64_t *state)
{
	/* the top 53 bits fill a double's mantissa exactly */
	return (double)(sim_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}
