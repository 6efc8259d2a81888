/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit: one connection, one open transaction per batch, and a
 * second thread that makes committed batches durable.
 *
 * With database_sync "full" the connection runs with synchronous=NORMAL:
 * COMMIT writes the batch's frames to the write-ahead log without an
 * fsync, and the sync thread then fdatasync()s the log and only after
 * that releases the batch's replies and CA calls. The serving thread goes
 * on with the next batch meanwhile, and one fdatasync covers every batch
 * committed before it started. Durability is the same as SQLite's FULL
 * (which syncs the log in COMMIT): a batch whose sync did not complete
 * was never acknowledged to anyone; SQLite's recovery drops a log tail
 * whose frames did not all reach the disk; checkpoints sync the log and
 * the database file themselves in NORMAL mode before the log is reused.
 * With "normal", replies are released right after COMMIT (durable across
 * a crash of the process, not of the machine).
 */
#include "proxy/commit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme/db.h"
#include "acme/nonce.h"
#include "contrib/log.h"
#include "contrib/metrics.h"

struct after {
	void (*fn)(void *arg, int ok);
	void *arg;
	int ok;
	struct after *next;
};

/* One committed batch on its way to the disk. */
struct batch {
	struct px_item *items;
	struct after *after;
	int wrote; /* it changed rows: the log needs a sync */
	struct batch *next;
};

struct px_commit {
	struct event_base *base;
	struct acme_db *db;
	struct acme_ctx *ctx;
	struct acme_nonces *nonces;
	int sync_full;
	char wal_path[1100];
	int wal_fd;
	struct event *inq_ev;    /* items arrived */
	struct event *commit_ev; /* a batch is open: commit it */
	struct event *after_ev;  /* durable: run the CA calls waiting */
	pthread_mutex_t mu;      /* guards inq, syncq, ready, stop */
	pthread_cond_t cond;     /* syncq has work (or stop) */
	int sync_init;
	pthread_t sync_th;
	int sync_started;
	int stop;
	int sync_busy;                       /* the sync thread holds a list */
	struct px_item *inq, **inq_tail;     /* submitted, not run */
	struct px_item *batch, **batch_tail; /* run, awaiting the commit */
	struct after *after, **after_tail;   /* awaiting the commit */
	struct batch *syncq, **syncq_tail;   /* committed, awaiting fsync */
	struct after *ready, **ready_tail;   /* durable, to run here */
	void (*kick)(void *);
	void *kick_arg;
	long long n_batches, n_items, n_syncs;
	long long changes; /* acme_db_total_changes at the last commit */
	int n_open;        /* units in the open batch */
};

/* The first statement after a commit opened a transaction: commit it
 * when the loop has run what is ready now. */
static void
batch_opened(void *arg)
{
	struct px_commit *c = arg;

	event_active(c->commit_ev, EV_WRITE, 0);
}

static void
run_item(struct px_commit *c, struct px_item *it)
{
	if (it->poll) {
		it->ready =
		    acme_wait_poll(c->ctx, it->resp, time(NULL), it->final);
	} else {
		acme_handle(c->ctx, &it->req, it->resp);
		it->ready = it->resp->wait == ACME_WAIT_NONE;
		if (it->resp->kick && c->kick != NULL)
			c->kick(c->kick_arg);
	}
	it->failed = 0;
	it->next = NULL;
	*c->batch_tail = it;
	c->batch_tail = &it->next;
	c->n_open++;
}

/* Run every queued item (they join the open batch). */
static void
drain(struct px_commit *c)
{
	struct px_item *list, *next;

	pthread_mutex_lock(&c->mu);
	list = c->inq;
	c->inq = NULL;
	c->inq_tail = &c->inq;
	pthread_mutex_unlock(&c->mu);
	for (; list != NULL; list = next) {
		next = list->next;
		run_item(c, list);
	}
}

/* Hand items back (any thread: done() only queues them to their worker).
 * failed: their batch is lost, the replies become 500 problems. */
static void
release_items(struct px_commit *c, struct px_item *it, int failed)
{
	struct px_item *next;

	for (; it != NULL; it = next) {
		next = it->next;
		if (failed) {
			struct acme_problem p = {0};

			acme_problem_set(&p, 500, "serverInternal",
			    "the change could not be stored; try again");
			/* add_link only reads settings: safe off the
			 * serving thread */
			acme_resp_problem(c->ctx, it->resp, &p);
			it->failed = 1;
			it->ready = 1;
		}
		it->done(it);
	}
}

/* Queue CA calls to run on the serving thread. Any thread. */
static void
release_after(struct px_commit *c, struct after *a, int ok)
{
	struct after *next;
	int any = a != NULL;

	pthread_mutex_lock(&c->mu);
	for (; a != NULL; a = next) {
		next = a->next;
		a->ok = ok;
		a->next = NULL;
		*c->ready_tail = a;
		c->ready_tail = &a->next;
	}
	pthread_mutex_unlock(&c->mu);
	if (any)
		event_active(c->after_ev, EV_READ, 0);
}

static void
on_after(evutil_socket_t fd, short what, void *arg)
{
	struct px_commit *c = arg;
	struct after *a, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->mu);
	a = c->ready;
	c->ready = NULL;
	c->ready_tail = &c->ready;
	pthread_mutex_unlock(&c->mu);
	for (; a != NULL; a = next) {
		next = a->next;
		a->fn(a->arg, a->ok);
		free(a);
	}
}

static int
wal_sync(struct px_commit *c)
{
	if (c->wal_fd < 0) {
		c->wal_fd = open(c->wal_path, O_RDONLY | O_CLOEXEC);
		if (c->wal_fd < 0) {
			log_err("database: cannot open %s to sync it: %s",
			    c->wal_path, strerror(errno));
			return -1;
		}
	}
	if (fdatasync(c->wal_fd) != 0) {
		log_err(
		    "database: fdatasync %s: %s", c->wal_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The sync thread: one fdatasync for everything committed so far. */
static void *
sync_main(void *arg)
{
	struct px_commit *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct batch *list, *next;
		int rc;

		while (c->syncq == NULL && !c->stop)
			pthread_cond_wait(&c->cond, &c->mu);
		if (c->syncq == NULL)
			break;
		list = c->syncq;
		c->syncq = NULL;
		c->syncq_tail = &c->syncq;
		c->sync_busy = 1;
		pthread_mutex_unlock(&c->mu);
		/* the committed frames are in the log already: a failed
		 * sync cannot take them back, but nobody is told they are
		 * durable (requests get 500, CA calls wait for the job to
		 * run again from the database). Batches that only read
		 * need no sync of their own: what they read was synced
		 * with the batches ahead of them in this queue. */
		rc = 0;
		for (struct batch *b = list; b != NULL; b = b->next)
			if (b->wrote) {
				rc = wal_sync(c);
				pthread_mutex_lock(&c->mu);
				c->n_syncs++;
				pthread_mutex_unlock(&c->mu);
				mx_commit_sync();
				if (rc != 0)
					mx_commit_batch(0);
				break;
			}
		for (; list != NULL; list = next) {
			next = list->next;
			release_items(c, list->items, rc != 0);
			release_after(c, list->after, rc == 0);
			free(list);
		}
		pthread_mutex_lock(&c->mu);
		c->sync_busy = 0;
		pthread_cond_broadcast(&c->cond);
		/* what the serving thread kept open meanwhile commits now */
		if (c->syncq == NULL)
			event_active(c->commit_ev, EV_WRITE, 0);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Commit the batch, then release what waited for it (after its sync). */
static int
commit_now(struct px_commit *c)
{
	struct px_item *items = c->batch;
	struct after *after = c->after;
	struct batch *b;
	int rc;
	long long changes;
	int wrote;

	if (items == NULL && after == NULL && !acme_db_batch_open(c->db))
		return 0; /* nothing to commit, nobody waiting */
	rc = acme_db_batch_commit(c->db);
	mx_commit_batch(rc == 0);
	changes = acme_db_total_changes(c->db);
	wrote = changes != c->changes;
	c->n_open = 0;

	c->changes = changes;

	c->batch = NULL;
	c->batch_tail = &c->batch;
	c->after = NULL;
	c->after_tail = &c->after;
	c->n_batches++;
	for (struct px_item *it = items; it != NULL; it = it->next)
		c->n_items++;
	if (rc != 0 || !c->sync_full || (b = calloc(1, sizeof(*b))) == NULL) {
		if (rc == 0 && c->sync_full && wal_sync(c) != 0)
			rc = -1; /* out of memory above: sync here */
		release_items(c, items, rc != 0);
		release_after(c, after, rc == 0);
		return rc;
	}
	b->items = items;
	b->after = after;
	b->wrote = wrote;
	pthread_mutex_lock(&c->mu);
	*c->syncq_tail = b;
	c->syncq_tail = &b->next;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/*
 * While the log is being synced, keep the batch open: nothing committed now
 * could be released before the next sync anyway, and one commit of
 * everything that came in meanwhile writes each changed page once instead
 * of once per unit. The sync thread wakes the commit when it is done. A
 * batch of MAX_BATCH units commits regardless (bounded memory and replay).
 */
#define MAX_BATCH 512

static int
defer(struct px_commit *c)
{
	int busy;

	if (!c->sync_full || c->n_open >= MAX_BATCH)
		return 0;
	pthread_mutex_lock(&c->mu);
	busy = c->sync_busy || c->syncq != NULL;
	pthread_mutex_unlock(&c->mu);
	return busy;
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct px_commit *c = arg;

	(void)fd;
	(void)what;
	/* what came in meanwhile joins this batch */
	drain(c);
	if (!defer(c))
		commit_now(c);
}

static void
on_inq(evutil_socket_t fd, short what, void *arg)
{
	struct px_commit *c = arg;

	(void)fd;
	(void)what;
	drain(c);
	/* items that read or wrote nothing opened no batch; they still go
	 * through the sync queue, behind what they may have seen */
	if (!acme_db_batch_open(c->db) && !defer(c))
		commit_now(c);
}

void
px_commit_submit(struct px_commit *c, struct px_item *it)
{
	int first;

	it->next = NULL;
	pthread_mutex_lock(&c->mu);
	first = c->inq == NULL;
	*c->inq_tail = it;
	c->inq_tail = &it->next;
	pthread_mutex_unlock(&c->mu);
	if (first)
		event_active(c->inq_ev, EV_READ, 0);
}

int
px_commit_after(struct px_commit *c, void (*fn)(void *arg, int ok), void *arg)
{
	struct after *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -1;
	a->fn = fn;
	a->arg = arg;
	*c->after_tail = a;
	c->after_tail = &a->next;
	/* with no batch open it rides on an empty one: released after the
	 * batches committed before it are durable, never from inside the
	 * caller */
	event_active(c->commit_ev, EV_WRITE, 0);
	return 0;
}

int
px_commit_flush(struct px_commit *c)
{
	int rc;

	drain(c);
	rc = commit_now(c);
	pthread_mutex_lock(&c->mu);
	while (c->syncq != NULL || c->sync_busy)
		pthread_cond_wait(&c->cond, &c->mu);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

struct acme_db *
px_commit_db(struct px_commit *c)
{
	return c->db;
}

struct acme_nonces *
px_commit_nonces(struct px_commit *c)
{
	return c->nonces;
}

void
px_commit_set_kick(struct px_commit *c, void (*fn)(void *), void *arg)
{
	c->kick = fn;
	c->kick_arg = arg;
}

void
px_commit_stats(
    struct px_commit *c, long long *batches, long long *items, long long *syncs)
{
	*batches = c->n_batches;
	*items = c->n_items;
	pthread_mutex_lock(&c->mu);
	*syncs = c->n_syncs;
	pthread_mutex_unlock(&c->mu);
}

struct px_commit *
px_commit_new(struct event_base *base, const struct px_conf *conf, char *err,
    size_t errlen)
{
	struct px_commit *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->wal_fd = -1;
	c->inq_tail = &c->inq;
	c->batch_tail = &c->batch;
	c->after_tail = &c->after;
	c->syncq_tail = &c->syncq;
	c->ready_tail = &c->ready;
	c->sync_full = conf->db_sync_full;
	snprintf(c->wal_path, sizeof(c->wal_path), "%s-wal", conf->database);
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pthread_cond_init(&c->cond, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->sync_init = 1;
	/* NORMAL: the log is synced here, off the serving thread */
	c->db = acme_db_open(conf->database, 0, err, errlen);
	if (c->db == NULL)
		goto fail;
	acme_db_batch_mode(c->db, batch_opened, c);
	c->nonces = acme_nonces_new();
	c->ctx = c->nonces ? acme_ctx_new(&conf->acme, c->db, c->nonces) : NULL;
	c->inq_ev = event_new(base, -1, 0, on_inq, c);
	c->commit_ev = event_new(base, -1, 0, on_commit, c);
	c->after_ev = event_new(base, -1, 0, on_after, c);
	if (c->ctx == NULL || c->inq_ev == NULL || c->commit_ev == NULL ||
	    c->after_ev == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (c->sync_full) {
		if (pthread_create(&c->sync_th, NULL, sync_main, c) != 0) {
			snprintf(err, errlen, "cannot start the sync thread");
			goto fail;
		}
		c->sync_started = 1;
	}
	return c;
fail:
	px_commit_free(c);
	return NULL;
}

void
px_commit_free(struct px_commit *c)
{
	struct after *a, *an;

	if (c == NULL)
		return;
	if (c->sync_started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->sync_th, NULL);
	}
	if (c->n_batches > 0)
		log_notice("group commit: %lld requests in %lld batches, %lld"
		           " log syncs",
		    c->n_items, c->n_batches, c->n_syncs);

	if (c->db != NULL && acme_db_batch_open(c->db) &&
	    acme_db_batch_commit(c->db) == 0 && c->sync_full)
		wal_sync(c);
	/* CA calls still waiting are dropped: their jobs run again from
	 * the database after the restart */
	for (a = c->after; a != NULL; a = an) {
		an = a->next;
		free(a);
	}
	for (a = c->ready; a != NULL; a = an) {
		an = a->next;
		free(a);
	}
	if (c->inq_ev != NULL)
		event_free(c->inq_ev);
	if (c->commit_ev != NULL)
		event_free(c->commit_ev);
	if (c->after_ev != NULL)
		event_free(c->after_ev);
	acme_ctx_free(c->ctx);
	acme_nonces_free(c->nonces);
	acme_db_close(c->db);
	if (c->wal_fd >= 0)
		close(c->wal_fd);
	if (c->sync_init) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->mu);
	}
	free(c);
}
