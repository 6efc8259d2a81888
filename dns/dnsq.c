/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads for blocking connector calls (see dns/dnsq.h). */
#include "dns/dnsq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 16

struct call {
	enum dnsq_op op;
	struct dns_connector *c;
	char *zone, *name, *value, *handle;
	struct dns_record r;
	struct dns_outcome o;
	dnsq_cb *cb;
	void *arg;
	struct call *next;
};

struct dnsq {
	struct event_base *base;
	struct event *done_ev;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct call *todo, **todo_tail;
	struct call *done;
	pthread_t th[THREADS_MAX];
	int nth;
	int stopping;
};

static void
call_free(struct call *k)
{
	free(k->zone);
	free(k->name);
	free(k->value);
	free(k->handle);
	free(k);
}

static void *
worker(void *arg)
{
	struct dnsq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct call *k;

		while (q->todo == NULL && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stopping)
			break;
		k = q->todo;
		q->todo = k->next;
		if (q->todo == NULL)
			q->todo_tail = &q->todo;
		pthread_mutex_unlock(&q->mu);
		if (k->op == DNSQ_PRESENT)
			dns_connector_present(k->c, &k->r, &k->o);
		else
			dns_connector_cleanup(k->c, &k->r, k->handle, &k->o);
		pthread_mutex_lock(&q->mu);
		k->next = q->done;
		q->done = k;
		if (!q->stopping)
			event_active(q->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* On the loop: hand the finished calls to their callbacks. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = arg;
	struct call *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&q->mu);
	list = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->mu);
	while (list != NULL) {
		struct call *k = list;

		list = k->next;
		if (k->cb != NULL)
			k->cb(k->arg, &k->o);
		call_free(k);
	}
}

struct dnsq *
dnsq_new(struct event_base *base, int threads)
{
	struct dnsq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	if (threads < 1)
		threads = 1;
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	q->base = base;
	q->todo_tail = &q->todo;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->done_ev = event_new(base, -1, 0, on_done, q);
	if (q->done_ev == NULL) {
		dnsq_free(q);
		return NULL;
	}
	pthread_mutex_lock(&q->mu);
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&q->th[i], NULL, worker, q) != 0)
			break;
		q->nth++;
	}
	pthread_mutex_unlock(&q->mu);
	if (q->nth == 0) {
		dnsq_free(q);
		return NULL;
	}
	return q;
}

int
dnsq_call(struct dnsq *q, enum dnsq_op op, struct dns_connector *c,
    const struct dns_record *r, const char *handle, dnsq_cb *cb, void *arg)
{
	struct call *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return -1;
	k->op = op;
	k->c = c;
	k->zone = strdup(r->zone);
	k->name = strdup(r->name);
	k->value = strdup(r->value);
	k->handle = strdup(handle ? handle : "");
	if (k->zone == NULL || k->name == NULL || k->value == NULL ||
	    k->handle == NULL) {
		call_free(k);
		return -1;
	}
	k->r = *r;
	k->r.zone = k->zone;
	k->r.name = k->name;
	k->r.value = k->value;
	k->cb = cb;
	k->arg = arg;
	pthread_mutex_lock(&q->mu);
	*q->todo_tail = k;
	q->todo_tail = &k->next;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
dnsq_free(struct dnsq *q)
{
	struct call *k;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nth; i++)
		pthread_join(q->th[i], NULL);
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	while ((k = q->todo) != NULL) {
		q->todo = k->next;
		call_free(k);
	}
	while ((k = q->done) != NULL) {
		q->done = k->next;
		call_free(k);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
