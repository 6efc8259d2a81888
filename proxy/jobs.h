/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The durable job runner: on the serving thread, over the group-commit
 * connection (proxy/commit.h). It validates challenges and carries orders through the CA
 * backend (enroll, reconcile, collect, revoke), resuming from the jobs
 * table after any restart.
 */
#pragma once
#include <event2/event.h>

#include "proxy/commit.h"
#include "proxy/conf.h"

struct px_jobs;

/** Called from the job thread after every state change it commits. */
typedef void px_jobs_notify_fn(void *arg);

/** New runner on base (the caller runs the loop). NULL + err on failure. */
struct px_jobs *px_jobs_new(struct event_base *base, const struct px_conf *conf,
    struct px_commit *commit, char *err, size_t errlen);
/** Register the state-change callback (NULL to remove). Call before
 * requests can be parked; the callback must be safe from another thread. */
void px_jobs_set_notify(struct px_jobs *j, px_jobs_notify_fn *fn, void *arg);
/** Wake the runner: new jobs were queued. Safe from any thread. */
void px_jobs_kick(struct px_jobs *j);
/** The same as a void callback (px_commit_set_kick). */
void px_jobs_kick_cb(void *j);
/**
 * Take the settings of a reloaded configuration (serving thread, between
 * two turns of the loop): a backend for each new or changed connector (the
 * old one is kept until px_jobs_free: calls in flight finish on it), the
 * connectors that are gone stay usable by what they started, room for
 * more job slots. Nothing changes when it fails.
 * @param nc the new configuration; its connectors must live until
 *   px_jobs_free (the caller retires, never frees, a configuration)
 * @return 0, or -1 + err
 */
int px_jobs_reconfigure(
    struct px_jobs *j, const struct px_conf *nc, char *err, size_t errlen);
/** Cancel work in flight (it resumes from the database next start). */
void px_jobs_free(struct px_jobs *j);
