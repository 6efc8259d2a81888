/* SPDX-License-Identifier: Apache-2.0 */
/* Group commit: one connection, one open transaction per batch. */
#include "proxy/commit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/db.h"
#include "acme/nonce.h"
#include "contrib/log.h"

struct after {
	void (*fn)(void *arg, int ok);
	void *arg;
	struct after *next;
};

struct px_commit {
	struct event_base *base;
	struct acme_db *db;
	struct acme_ctx *ctx;
	struct acme_nonces *nonces;
	struct event *inq_ev;    /* items arrived */
	struct event *commit_ev; /* a batch is open: commit it */
	pthread_mutex_t mu;      /* guards inq */
	int mu_init;
	struct px_item *inq, **inq_tail;     /* submitted, not run */
	struct px_item *batch, **batch_tail; /* run, awaiting the commit */
	struct after *after, **after_tail;   /* awaiting the commit */
	void (*kick)(void *);
	void *kick_arg;
	long long n_batches, n_items;
};

/* The first statement after a commit opened a transaction: commit it once
 * the loop has run what is ready now. */
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

/* Commit the batch, then release what waited for it. */
static int
commit_now(struct px_commit *c)
{
	struct px_item *it, *next;
	struct after *a, *an;
	int rc = acme_db_batch_commit(c->db);

	it = c->batch;
	a = c->after;
	c->batch = NULL;
	c->batch_tail = &c->batch;
	c->after = NULL;
	c->after_tail = &c->after;
	c->n_batches++;
	for (; it != NULL; it = next) {
		next = it->next;
		c->n_items++;
		if (rc != 0) {
			struct acme_problem p = {0};

			acme_problem_set(&p, 500, "serverInternal",
			    "the change could not be stored; try again");
			acme_resp_problem(c->ctx, it->resp, &p);
			it->failed = 1;
			it->ready = 1;
		}
		it->done(it);
	}
	for (; a != NULL; a = an) {
		an = a->next;
		a->fn(a->arg, rc == 0);
		free(a);
	}
	return rc;
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct px_commit *c = arg;

	(void)fd;
	(void)what;
	/* what came in meanwhile joins this batch */
	drain(c);
	commit_now(c);
}

static void
on_inq(evutil_socket_t fd, short what, void *arg)
{
	struct px_commit *c = arg;

	(void)fd;
	(void)what;
	drain(c);
	/* items that read or wrote nothing opened no batch: their replies
	 * show nothing uncommitted, release them at once */
	if (!acme_db_batch_open(c->db))
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
	/* with no batch open everything is durable already: the commit
	 * event just runs the callback (not from inside the caller) */
	event_active(c->commit_ev, EV_WRITE, 0);
	return 0;
}

int
px_commit_flush(struct px_commit *c)
{
	drain(c);
	return commit_now(c);
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
px_commit_stats(const struct px_commit *c, long long *batches, long long *items)
{
	*batches = c->n_batches;
	*items = c->n_items;
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
	c->inq_tail = &c->inq;
	c->batch_tail = &c->batch;
	c->after_tail = &c->after;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->mu_init = 1;
	c->db = acme_db_open(conf->database, conf->db_sync_full, err, errlen);
	if (c->db == NULL)
		goto fail;
	acme_db_batch_mode(c->db, batch_opened, c);
	c->nonces = acme_nonces_new();
	c->ctx = c->nonces ? acme_ctx_new(&conf->acme, c->db, c->nonces) : NULL;
	c->inq_ev = event_new(base, -1, 0, on_inq, c);
	c->commit_ev = event_new(base, -1, 0, on_commit, c);
	if (c->ctx == NULL || c->inq_ev == NULL || c->commit_ev == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* the commit runs after everything else that is ready in this turn
	 * of the loop (the base has 3 priorities, 1 the default; 2 runs
	 * last) */
	if (event_priority_set(c->commit_ev, 2) != 0) {
		snprintf(err, errlen, "event loop without priorities");
		goto fail;
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
	if (c->db != NULL && acme_db_batch_open(c->db))
		acme_db_batch_commit(c->db);
	for (a = c->after; a != NULL; a = an) {
		an = a->next;
		free(a);
	}
	if (c->inq_ev != NULL)
		event_free(c->inq_ev);
	if (c->commit_ev != NULL)
		event_free(c->commit_ev);
	acme_ctx_free(c->ctx);
	acme_nonces_free(c->nonces);
	acme_db_close(c->db);
	if (c->mu_init)
		pthread_mutex_destroy(&c->mu);
	free(c);
}
