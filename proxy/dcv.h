/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sectigo domain control validation, driven by durable jobs on the job
 * runner's loop:
 * - the enroll gate: before an order is sent to SCM, each of its names is
 *   mapped to its SCM domain; a domain without a current validation (or
 *   one ending within dcv.margin_days) gets a DCV run, and the order
 *   waits for it (or fails with the run's reason);
 * - DCV runs ("dcv" jobs): status, start, publish through the zone's DNS
 *   connector (journaled before and after), propagation to every
 *   authoritative server, submit, poll, clean-up (acme/dcv.h states);
 * - "dnsclean" jobs: records a crash left behind, removed at start-up;
 * - the scheduler: validations that end within the margin are renewed
 *   ahead of need.
 */
#pragma once
#include <event2/event.h>

#include "acme/backend.h"
#include "acme/store.h"
#include "proxy/commit.h"
#include "proxy/conf.h"

struct px_dcv;

/** The CA backend of a connector name, or NULL. */
typedef struct acme_ca *px_dcv_backend_fn(void *arg, const char *connector);

struct px_dcv *px_dcv_new(struct event_base *base, const struct px_conf *conf,
    struct px_commit *commit, px_dcv_backend_fn *backend, void *backend_arg);
/** Cancel everything in flight (no callbacks), free. */
void px_dcv_free(struct px_dcv *e);

/** A job of this module ended (its row is updated); the caller frees
 * its task. */
typedef void px_dcv_done_fn(void *arg);
/** Run a "dcv" or "dnsclean" job. @return 0 (done runs later) or -1 */
int px_dcv_job(struct px_dcv *e, const struct acme_job *job,
    px_dcv_done_fn *done, void *arg);

enum px_gate { PX_GATE_GO, PX_GATE_WAIT, PX_GATE_FAIL, PX_GATE_RETRY };
/** why: for WAIT/FAIL/RETRY, one line (FAIL: the order's problem). */
typedef void px_gate_cb(void *arg, enum px_gate verdict, const char *why);
/**
 * May the order with these names be enrolled through ca now?
 * since: when the order was finalized (runs that failed before do not
 * fail it: a new run is started).
 * @return 0 (cb runs once, later) or -1
 */
int px_dcv_gate(struct px_dcv *e, struct acme_ca *ca, const char *connector,
    char *const *names, size_t n, long long since, px_gate_cb *cb, void *arg);

/** Scheduler and start-up sweep; call on every tick (cheap). */
void px_dcv_tick(struct px_dcv *e);
