/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit: the one thread that touches the database.
 *
 * The serving thread (the job runner's loop) owns the only SQLite
 * connection of a running bridge. Worker threads parse HTTP and TLS and
 * hand each request over as a px_item; this thread runs the engine on it,
 * and the job runner's state changes run here too. All of them join one
 * open transaction (acme_db_batch_mode); it commits when the loop has run
 * what was ready - requests that arrive while an fsync is under way join
 * the next batch - so that one commit and one fsync carry many changes.
 *
 * Nothing leaves before it is durable: a reply goes back to its worker
 * only after the batch it ran in is committed and (database_sync "full")
 * synced by the sync thread, and the job runner puts
 * every call to the CA that acts on a state change behind
 * px_commit_after(). A batch that fails to commit is lost as a whole:
 * its requests are answered 500, its jobs run again from the database.
 */
#pragma once
#include <event2/event.h>

#include "acme/acme.h"
#include "proxy/conf.h"

struct px_commit;

/** One request (or one re-check of a parked request) for the engine. */
struct px_item {
	/* in: set by the submitter, left alone until done() */
	int poll;               /* 1: acme_wait_poll on *resp, 0: acme_handle */
	int final;              /* poll: the wait is over */
	struct acme_req req;    /* handle: the request (its strings must live
				  until done) */
	struct acme_resp *resp; /* out: the reply (poll: in and out) */
	/* out */
	int ready;  /* resp holds the reply to send (else: keep waiting) */
	int failed; /* its batch did not commit: resp is a 500 problem */
	/* called on the serving thread once the item's batch is durable;
	 * it must hand the item back to its owner's thread */
	void (*done)(struct px_item *it);
	void *arg;
	struct px_item *next; /* private */
};

/**
 * Open the database in batch mode on base (the serving thread's loop).
 * NULL + err on failure.
 */
struct px_commit *px_commit_new(struct event_base *base,
    const struct px_conf *conf, char *err, size_t errlen);
/** The connection: the serving thread only. */
struct acme_db *px_commit_db(struct px_commit *c);
/** The nonce source shared by the engine and the workers. */
struct acme_nonces *px_commit_nonces(struct px_commit *c);
/** Called (on the serving thread) when a request queued durable jobs. */
void px_commit_set_kick(struct px_commit *c, void (*fn)(void *), void *arg);
/** Queue an item. Any thread. */
void px_commit_submit(struct px_commit *c, struct px_item *it);
/**
 * Run fn(arg, ok) on the serving thread once everything done so far is
 * durable (ok 1), or its batch was lost (ok 0). Serving thread only.
 * @return 0, or -1 (out of memory: fn is not called).
 */
int px_commit_after(
    struct px_commit *c, void (*fn)(void *arg, int ok), void *arg);
/** Commit what is open now (at shutdown); 0 or -1. */
int px_commit_flush(struct px_commit *c);
/** Batches committed, items run and log syncs so far (serving thread). */
void px_commit_stats(struct px_commit *c, long long *batches, long long *items,
    long long *syncs);
/** Free (the loop has stopped; items still queued are dropped). */
void px_commit_free(struct px_commit *c);
