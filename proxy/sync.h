/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Order status synchronization with SCM: reads the SSL report for the
 * days since the last complete pass (revocations, issuances, requests)
 * and brings what SCM did on its own into the store: revocations and
 * expiries reach the inventory, the ACME certificate and the RFC 9773
 * window; a certificate SCM reissued (a replacement made in its console,
 * or `acmebridge reissue`) is collected into the inventory as the
 * successor; orders waiting for an approval or refused by an
 * administrator have their collect job woken.
 */
#pragma once
#include <event2/event.h>

#include "acme/backend.h"
#include "acme/db.h"
#include "acme/life.h"

/** Outcome of a pass: rows read, rows that changed something, error
 * (NULL when the pass completed). */
struct px_sync_result {
	int rows;
	int changed;
	const char *error;
};
typedef void px_sync_done_fn(void *arg, const struct px_sync_result *r);

struct px_sync;
/**
 * Start one pass for connector over ca (its report, collect hooks) on
 * db. done runs exactly once, later, from base (ca's event loop), and
 * the pass is freed after it. Progress is stored in sync_state (a
 * failed pass starts again from the last complete one).
 * @return the pass, or NULL (the CA has no report call, no memory; done
 * never runs)
 */
struct px_sync *px_sync_start(struct event_base *base, struct acme_db *db,
    struct acme_ca *ca, const char *connector, px_sync_done_fn *done,
    void *arg);
/** Free a pass whose CA calls were aborted (the backend freed): done
 * never runs. */
void px_sync_abandon(struct px_sync *p);

/**
 * Store chain_pem (SCM's new certificate for pred's enrollment) as pred's
 * successor, in one transaction: a new inventory row (source "scm" or
 * "reissue", names: names or pred's), pred marked replaced. A chain whose
 * serial is already stored is not added again.
 * @return the new row id, 0 when it was stored before, -1 on error (why
 * in err).
 */
long long px_sync_add_successor(struct acme_db *db,
    const struct acme_life_cert *pred, const char *chain_pem,
    const char *source, const char *names, char *err, size_t errlen);
