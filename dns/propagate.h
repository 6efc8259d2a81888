/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Propagation check: after a connector published a record, ask every
 * address of every authoritative server of the zone directly (RD=0, UDP,
 * TCP on truncation) until each answers authoritatively with the value,
 * or the deadline passes. Runs on an event loop; nothing blocks.
 *
 * The record's name is never asked of a recursive resolver (a negative
 * answer cached there before publication would outlive it), except in
 * recursive_only mode, which the operator chooses where the authoritative
 * servers cannot be reached.
 */
#pragma once
#include <event2/event.h>

#include "dns/connector.h"

struct dns_prop_req {
	const char *zone;  /* apex, no final dot */
	const char *name;  /* the record's owner */
	enum dns_rr type;  /* TXT or CNAME */
	const char *value; /* TXT data / CNAME target, no final dot */
	/* where to ask: check_servers ("ip[:port]") when set; else the NS
	 * set of the zone, found through resolver (NS and A/AAAA only, never
	 * the record's name), each address on ns_port */
	char *const *check_servers;
	size_t n_check_servers;
	const char *resolver; /* "ip[:port]", the validation resolver */
	int ns_port;          /* 53 unless a lab says otherwise */
	int recursive_only;   /* ask resolver (RD=1) only */
	int fixed_wait;       /* > 0: just wait this long, check nothing */
	int timeout_s;        /* give up after (default 120) */
	int interval_s;       /* first pause between rounds (2), backs off
	                         to 10 s */
};

/**
 * @param ok 1 when every server had the value, 0 on timeout or when no
 *        server could be found
 * @param report one line per server ("127.0.0.1:53 ok serial 7", "...:
 *        no such value (serial 6)", "...: timeout"), for the log and the
 *        failure message
 */
typedef void dns_prop_cb(void *arg, int ok, const char *report);

struct dns_prop;

/** Start; the callback runs once, later, never inside the call. NULL on
 * a bad request (no callback then). */
struct dns_prop *dns_prop_start(struct event_base *base,
    const struct dns_prop_req *req, dns_prop_cb *cb, void *arg);
/** Stop a check in flight; its callback will not run. NULL: no-op. */
void dns_prop_cancel(struct dns_prop *p);
