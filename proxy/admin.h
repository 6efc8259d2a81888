/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin listener: /metrics (Prometheus), /healthz, /readyz and a
 * read-only status page, on a thread of its own with its own loop and its
 * own read-only database connection, so that a scrape never waits for the
 * serving thread nor makes it wait.
 */
#pragma once
#include <stddef.h>

#include <event2/event.h>

#include "proxy/conf.h"

struct px_admin;

/**
 * Bind conf->admin.listen, open the database read-only and start the
 * admin thread. The serving thread's loop (serving) gets a one-second
 * heartbeat timer that /readyz watches. Call after the database was
 * opened (and migrated) by the serving thread, before its loop runs.
 * @return the listener, or NULL with one line in err (bind failure, TLS
 *         files, database).
 */
struct px_admin *px_admin_start(struct event_base *serving,
    const struct px_conf *conf, char *err, size_t errlen);

/** Stop the thread and free (after the serving loop has stopped).
 * NULL: no-op. */
void px_admin_stop(struct px_admin *a);
