/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the store (acme/store.c, acme/store_dcv.c): cursor helpers the
 * two statement tables share. Not for use outside them. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/store.h"

/* Copy a text column into a fixed array (cut to fit). */
#define COPY(dst, cur, col)                                                    \
	snprintf((dst), sizeof(dst), "%s", acme_cur_text((cur), (col)))

/* A heap copy of a column, NULL for SQL NULL; *oom set on failure. */
static inline char *
dup_col(const struct acme_cur *cur, int col, int *oom)
{
	char *s;

	if (acme_cur_is_null(cur, col))
		return NULL;
	s = strdup(acme_cur_text(cur, col));
	if (s == NULL)
		*oom = 1;
	return s;
}

/* Step the one-row lookup on cur: FOUND (leave it for the caller to
 * read, then acme_cur_done), NONE or ERR (cursor finished). */
static inline enum acme_found
one_row(struct acme_cur *cur)
{
	int rc;

	if (cur == NULL)
		return ACME_ERR;
	rc = acme_cur_next(cur);
	if (rc == 1)
		return ACME_FOUND;
	acme_cur_done(cur);
	return rc == 0 ? ACME_NONE : ACME_ERR;
}

/* Run a change on its cursor: rows changed, or -1. */
static inline int
run(struct acme_cur *c)
{
	int rc;

	if (c == NULL)
		return -1;
	rc = acme_cur_next(c);
	if (rc < 0) {
		acme_cur_done(c);
		return -1;
	}
	return acme_cur_done(c);
}
