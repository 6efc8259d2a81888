/* SPDX-License-Identifier: Apache-2.0 */
/* What admin.c and status.c share (the admin thread only). */
#pragma once
#include <stdio.h>

#include "acme/db.h"
#include "proxy/admin.h"

/** The admin thread's read-only connection. */
struct acme_db *px_admin_db(struct px_admin *a);
/** The readiness checks, one line each ("ok ..." / "fail ..."), into f.
 * @return 1 when all passed. */
int px_admin_ready(const struct px_admin *a, FILE *f);
/**
 * Render the status page (HTML with inline SVG; every string from the
 * database or SCM escaped).
 * @param out malloc'd page (caller frees), len its length
 * @return 0, or -1 (out of memory).
 */
int px_status_page(struct px_admin *a, char **out, size_t *len);
