/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The durable job runner: one thread, one event loop, one SQLite
 * connection. It validates challenges and carries orders through the CA
 * backend (enroll, reconcile, collect, revoke), resuming from the jobs
 * table after any restart.
 */
#pragma once
#include <stdatomic.h>

#include <event2/event.h>

#include "proxy/conf.h"

/** Bumped after every state change the runner commits; waiting requests
 * re-read the database only when it moved. */
extern atomic_ulong px_state_gen;

struct px_jobs;

/** New runner on base (the caller runs the loop). NULL + err on failure. */
struct px_jobs *px_jobs_new(struct event_base *base, const struct px_conf *conf,
    char *err, size_t errlen);
/** Wake the runner: new jobs were queued. Safe from any thread. */
void px_jobs_kick(struct px_jobs *j);
/** Cancel work in flight (it resumes from the database next start). */
void px_jobs_free(struct px_jobs *j);
