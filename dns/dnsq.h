/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connector calls off the event loop: a few worker threads run the
 * blocking dns_connector_present/cleanup calls; each result comes back on
 * the loop that asked (libevent must be set up for threads).
 */
#pragma once
#include <event2/event.h>

#include "dns/connector.h"

struct dnsq;

enum dnsq_op { DNSQ_PRESENT, DNSQ_CLEANUP };

/** The outcome, on the loop; o is valid during the callback only. */
typedef void dnsq_cb(void *arg, const struct dns_outcome *o);

/** @param threads worker threads (1..16) */
struct dnsq *dnsq_new(struct event_base *base, int threads);
/**
 * Queue one call; r and handle are copied.
 * @return 0 (cb will run once, later, on base's loop), or -1
 */
int dnsq_call(struct dnsq *q, enum dnsq_op op, struct dns_connector *c,
    const struct dns_record *r, const char *handle, dnsq_cb *cb, void *arg);
/** Wait for the calls running now (each bounded by its connector's
 * timeout), drop every pending result without callback, free. */
void dnsq_free(struct dnsq *q);
