/* SPDX-License-Identifier: Apache-2.0 */
/* Propagation check on the event loop (see dns/propagate.h). */
#include "dns/propagate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "contrib/clock.h"
#include "contrib/log.h"
#include "dns/resolve.h"

#define SRV_MAX 16    /* server addresses checked */
#define NS_MAX 8      /* NS names resolved */
#define QUERY_MS 2000 /* per attempt */
#define INTERVAL_MAX_MS 10000

struct prop_srv;
struct qctx {
	struct prop_srv *s;
	int soa; /* 1: the SOA serial question */
};

struct prop_srv {
	struct dns_prop *p;
	char addr[80];
	struct dns_resolver *r;
	int ok;           /* answered with the value */
	char detail[160]; /* the last answer, in words */
	char serial[16];  /* SOA serial seen, "" if none */
	struct qctx qv, qs;
};

struct dns_prop {
	struct event_base *base;
	struct dns_prop_req req; /* strings below are owned copies */
	char *zone, *name, *value;
	dns_prop_cb *cb;
	void *arg;
	struct dns_resolver *rres; /* NS discovery / recursive_only */
	struct prop_srv srv[SRV_MAX];
	size_t nsrv;
	int pending;
	long long deadline_ms;
	int interval_ms;
	int rounds;
	struct event *timer;
	int discovering;
};

static const char *
rcode_name(int rc)
{
	static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
	    "NOTAUTH", "NOTZONE"};
	return rc >= 0 && rc <= 10 ? n[rc] : "RCODE?";
}

static void
prop_free(struct dns_prop *p)
{
	for (size_t i = 0; i < p->nsrv; i++)
		dns_resolver_free(p->srv[i].r);
	dns_resolver_free(p->rres);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p->zone);
	free(p->name);
	free(p->value);
	free(p);
}

void
dns_prop_cancel(struct dns_prop *p)
{
	if (p != NULL)
		prop_free(p);
}

static void
finish(struct dns_prop *p, int ok, const char *why)
{
	char report[2048];
	size_t off = 0;
	dns_prop_cb *cb = p->cb;
	void *arg = p->arg;

	report[0] = '\0';
	if (why != NULL)
		off += (size_t)snprintf(report, sizeof(report), "%s", why);
	for (size_t i = 0; i < p->nsrv && off < sizeof(report); i++) {
		const struct prop_srv *s = &p->srv[i];
		off += (size_t)snprintf(report + off, sizeof(report) - off,
		    "%s%s: %s%s%s%s", off ? "; " : "", s->addr,
		    s->ok ? "has the value" : s->detail,
		    s->serial[0] ? " (SOA serial " : "", s->serial,
		    s->serial[0] ? ")" : "");
	}
	prop_free(p);
	cb(arg, ok, report);
}

static void start_round(struct dns_prop *p);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_prop *p = arg;

	(void)fd;
	(void)what;
	if (p->req.fixed_wait > 0) {
		char why[128];
		snprintf(why, sizeof(why),
		    "fixed wait of %d s (fixed_wait_seconds), nothing checked",
		    p->req.fixed_wait);
		finish(p, 1, why);
		return;
	}
	start_round(p);
}

static void
round_done(struct dns_prop *p)
{
	size_t ok = 0;
	struct timeval tv;

	for (size_t i = 0; i < p->nsrv; i++)
		ok += p->srv[i].ok;
	if (ok == p->nsrv) {
		finish(p, 1, NULL);
		return;
	}
	if (clock_mono_ms() + p->interval_ms > p->deadline_ms) {
		char why[160];
		snprintf(why, sizeof(why),
		    "%zu of %zu servers without the record after %d s "
		    "(propagation_timeout_seconds): ",
		    p->nsrv - ok, p->nsrv, p->req.timeout_s);
		finish(p, 0, why);
		return;
	}
	tv.tv_sec = p->interval_ms / 1000;
	tv.tv_usec = (p->interval_ms % 1000) * 1000;
	p->interval_ms = p->interval_ms * 3 / 2;
	if (p->interval_ms > INTERVAL_MAX_MS)
		p->interval_ms = INTERVAL_MAX_MS;
	evtimer_add(p->timer, &tv);
}

static int
value_matches(const struct dns_prop *p, const char *v, size_t len)
{
	if (p->req.type == DNS_RR_CNAME)
		return strcasecmp(v, p->value) == 0;
	return len == strlen(p->value) && memcmp(v, p->value, len) == 0;
}

static void
on_answer(void *arg, const struct dns_answer *a)
{
	struct qctx *q = arg;
	struct prop_srv *s = q->s;
	struct dns_prop *p = s->p;

	if (q->soa) {
		if (a->rc == 0 && a->n > 0)
			snprintf(
			    s->serial, sizeof(s->serial), "%s", a->vals[0]);
	} else if (a->rc < 0 && a->rcode < 0) {
		snprintf(s->detail, sizeof(s->detail), "%s",
		    a->rc == -ETIMEDOUT          ? "no answer (timeout)"
		        : a->rc == -ECONNREFUSED ? "connection refused"
		                                 : "no usable answer");
	} else if (a->rcode != 0) {
		snprintf(s->detail, sizeof(s->detail), "answers %s",
		    rcode_name(a->rcode));
	} else if (!a->aa && !p->req.recursive_only) {
		snprintf(s->detail, sizeof(s->detail),
		    "answers without authority (AA=0): not a server of the "
		    "zone");
	} else {
		for (size_t i = 0; i < a->n; i++)
			if (value_matches(p, a->vals[i], a->lens[i]))
				s->ok = 1;
		if (!s->ok)
			snprintf(s->detail, sizeof(s->detail),
			    "%zu %s value%s, not ours yet", a->n,
			    dns_rr_str(p->req.type), a->n == 1 ? "" : "s");
	}
	if (--p->pending == 0)
		round_done(p);
}

static void
start_round(struct dns_prop *p)
{
	unsigned fl = p->req.recursive_only ? 0 : DNS_Q_NORECURSE;

	p->rounds++;
	p->pending = 1; /* held until every question is out */
	for (size_t i = 0; i < p->nsrv; i++) {
		struct prop_srv *s = &p->srv[i];

		if (s->ok)
			continue;
		p->pending += 2;
		if (dns_query(s->r, p->name, (int)p->req.type, fl, on_answer,
		        &s->qv) != 0) {
			p->pending--;
			snprintf(s->detail, sizeof(s->detail),
			    "query could not be sent");
		}
		if (dns_query(
		        s->r, p->zone, 6 /* SOA */, fl, on_answer, &s->qs) != 0)
			p->pending--;
	}
	if (--p->pending == 0)
		round_done(p);
}

static int
add_server(struct dns_prop *p, const char *addr)
{
	struct prop_srv *s;

	for (size_t i = 0; i < p->nsrv; i++)
		if (strcmp(p->srv[i].addr, addr) == 0)
			return 0;
	if (p->nsrv >= SRV_MAX)
		return 0;
	s = &p->srv[p->nsrv];
	memset(s, 0, sizeof(*s));
	s->p = p;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	snprintf(s->detail, sizeof(s->detail), "not asked yet");
	s->qv.s = s;
	s->qs.s = s;
	s->qs.soa = 1;
	s->r = dns_resolver_new(p->base, addr, QUERY_MS);
	if (s->r == NULL) {
		log_warn("dns: propagation check: bad server address %s", addr);
		return -1;
	}
	p->nsrv++;
	return 0;
}

static void
discovery_step_done(struct dns_prop *p)
{
	if (--p->pending > 0)
		return;
	p->discovering = 0;
	if (p->nsrv == 0) {
		char why[400];
		snprintf(why, sizeof(why),
		    "no address found for the name servers of %s through %s "
		    "(set check_servers, or recursive_only)",
		    p->zone, p->req.resolver ? p->req.resolver : "(none)");
		finish(p, 0, why);
		return;
	}
	start_round(p);
}

static void
on_ns_addr(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	struct dns_prop *p = arg;

	(void)lens;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char a[80];
		if (strchr(vals[i], ':') != NULL)
			snprintf(
			    a, sizeof(a), "[%s]:%d", vals[i], p->req.ns_port);
		else
			snprintf(
			    a, sizeof(a), "%s:%d", vals[i], p->req.ns_port);
		add_server(p, a);
	}
	discovery_step_done(p);
}

static void
on_ns(void *arg, const struct dns_answer *a)
{
	struct dns_prop *p = arg;

	p->pending = 1;
	for (size_t i = 0; a->rc == 0 && i < a->n && i < NS_MAX; i++)
		if (dns_lookup_addr(p->rres, a->vals[i], on_ns_addr, p) == 0)
			p->pending++;
	discovery_step_done(p);
}

struct dns_prop *
dns_prop_start(struct event_base *base, const struct dns_prop_req *req,
    dns_prop_cb *cb, void *arg)
{
	struct dns_prop *p = calloc(1, sizeof(*p));
	struct timeval tv = {0, 0};

	if (p == NULL)
		return NULL;
	p->base = base;
	p->req = *req;
	p->cb = cb;
	p->arg = arg;
	p->zone = strdup(req->zone);
	p->name = strdup(req->name);
	p->value = strdup(req->value);
	p->timer = evtimer_new(base, on_timer, p);
	if (p->zone == NULL || p->name == NULL || p->value == NULL ||
	    p->timer == NULL)
		goto fail;
	if (p->req.timeout_s <= 0)
		p->req.timeout_s = 120;
	if (p->req.interval_s <= 0)
		p->req.interval_s = 2;
	if (p->req.ns_port <= 0)
		p->req.ns_port = 53;
	p->deadline_ms = clock_mono_ms() + (long long)p->req.timeout_s * 1000;
	p->interval_ms = p->req.interval_s * 1000;
	if (req->fixed_wait > 0) {
		tv.tv_sec = req->fixed_wait;
		evtimer_add(p->timer, &tv);
		return p;
	}
	if (req->n_check_servers > 0) {
		for (size_t i = 0; i < req->n_check_servers; i++)
			if (add_server(p, req->check_servers[i]) != 0)
				goto fail;
	} else if (req->recursive_only) {
		if (req->resolver == NULL || add_server(p, req->resolver) != 0)
			goto fail;
	} else {
		if (req->resolver == NULL)
			goto fail;
		p->rres = dns_resolver_new(base, req->resolver, QUERY_MS);
		if (p->rres == NULL ||
		    dns_query(p->rres, p->zone, 2 /* NS */, 0, on_ns, p) != 0)
			goto fail;
		p->discovering = 1;
		return p;
	}
	/* first round from the loop: the callback never runs inside */
	evtimer_add(p->timer, &tv);
	return p;
fail:
	prop_free(p);
	return NULL;
}
