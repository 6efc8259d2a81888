/* SPDX-License-Identifier: Apache-2.0 */
/* serve: the test-connection checks of every SCM connector, once at start. */
#pragma once
#include <event2/event.h>

#include "proxy/conf.h"

struct px_startcheck;

/**
 * Start the checks of `acmebridge test-connection` for every connector on
 * base, each on a backend of its own. Nothing blocks: the checks run as the
 * loop turns, each line is logged (info when it passed, warning when it
 * failed), and a failure is never fatal. conf must outlive the checks.
 * @return the checks in progress (free with px_startcheck_free()), or NULL
 *         when they could not start (logged; serve goes on without them).
 */
struct px_startcheck *px_startcheck_start(
    struct event_base *base, const struct px_conf *conf);

/** Stop what is still running (no more log lines) and free. NULL: no-op. */
void px_startcheck_free(struct px_startcheck *sc);
