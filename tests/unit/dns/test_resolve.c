/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns/resolve.c against a DNS responder built with ldns that runs on the
 * same event_base over real loopback UDP and TCP sockets.
 */
#include "dns/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <ldns/ldns.h>

/* The test zone. Names under o.test. are answered one CNAME at a time
 * (the client has to ask again); elsewhere chains come in one answer. */
static const char *const zone[] = {
    "txt.test. 300 IN TXT \"abc\" \"def\"",
    "txt.test. 300 IN TXT \"xyz\"",
    "nul.test. 300 IN TXT \"abc\\000junk\" \"!\"",
    "a.test. 300 IN A 192.0.2.1",
    "a.test. 300 IN AAAA 2001:db8::1",
    "v4only.test. 300 IN A 192.0.2.2",
    "nodata.test. 300 IN A 192.0.2.3",
    "c1.test. 300 IN CNAME c2.test.",
    "c2.test. 300 IN CNAME a.test.",
    "ctxt.test. 300 IN CNAME txt.test.",
    "cnx.test. 300 IN CNAME nx.test.",
    "loop.test. 300 IN CNAME loop2.test.",
    "loop2.test. 300 IN CNAME loop.test.",
    "only.o.test. 300 IN CNAME txt.test.",
    "l0.o.test. 300 IN CNAME l1.o.test.",
    "l1.o.test. 300 IN CNAME l2.o.test.",
    "l2.o.test. 300 IN CNAME l3.o.test.",
    "l3.o.test. 300 IN CNAME l4.o.test.",
    "l4.o.test. 300 IN CNAME l5.o.test.",
    "l5.o.test. 300 IN CNAME l6.o.test.",
    "l6.o.test. 300 IN CNAME l7.o.test.",
    "l7.o.test. 300 IN CNAME l8.o.test.",
    "l8.o.test. 300 IN CNAME l9.o.test.",
    "l9.o.test. 300 IN CNAME l10.o.test.",
    "l10.o.test. 300 IN TXT \"end\"",
    "f0.test. 300 IN CNAME f1.test.",
    "f1.test. 300 IN CNAME f2.test.",
    "f2.test. 300 IN CNAME f3.test.",
    "f3.test. 300 IN CNAME f4.test.",
    "f4.test. 300 IN CNAME f5.test.",
    "f5.test. 300 IN CNAME f6.test.",
    "f6.test. 300 IN CNAME f7.test.",
    "f7.test. 300 IN CNAME f8.test.",
    "f8.test. 300 IN CNAME f9.test.",
    "f9.test. 300 IN TXT \"end\"",
    "slow.test. 300 IN TXT \"late\"",
    "wrongid.test. 300 IN TXT \"right\"",
    NULL,
};

/* In-process DNS server: UDP and TCP on the same loopback port. */
struct responder {
	struct event_base *base;
	ldns_rr_list *rrs;            /* the zone */
	evutil_socket_t ufd;          /* UDP socket */
	struct event *uev;            /* its read event */
	struct evconnlistener *lis;   /* TCP, or NULL when disabled */
	struct bufferevent *conns[8]; /* open TCP connections */
	int port;                     /* shared port */
	int udp_queries;              /* UDP queries seen */
	int tcp_queries;              /* TCP queries seen */
	int tcp_accepts;              /* TCP connections accepted */
	int slow_dropped;             /* slow.test queries dropped so far */
	int last_rd;                  /* RD flag of the last query */
	int last_edns;                /* EDNS UDP size of the last query */
};

struct state {
	struct event_base *base;
	struct responder rs;
	char server[64];
};

/* One collected callback. */
struct result {
	int calls;
	int rc;
	size_t n;
	char vals[32][512];
	size_t lens[32];
	int in_call;                  /* set while dns_lookup_* runs */
	int called_inside;            /* callback ran inside the call */
	struct dns_resolver **free_r; /* resolver to free from the callback */
};

static void
on_result(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	struct result *res = arg;

	if (res->in_call)
		res->called_inside = 1;
	res->calls++;
	res->rc = rc;
	res->n = n;
	for (size_t i = 0; i < n && i < 32; i++) {
		size_t len = lens[i] < sizeof(res->vals[i]) - 1
		    ? lens[i]
		    : sizeof(res->vals[i]) - 1;

		/* the values are NUL-terminated, also past embedded NULs */
		assert_int_equal(vals[i][lens[i]], '\0');
		memcpy(res->vals[i], vals[i], len);
		res->vals[i][len] = '\0';
		res->lens[i] = lens[i];
	}
	if (res->free_r != NULL) {
		dns_resolver_free(*res->free_r);
		*res->free_r = NULL;
	}
}

static int
name_is(const ldns_rdf *name, const char *text)
{
	ldns_rdf *d = NULL;
	int eq;

	if (ldns_str2rdf_dname(&d, text) != LDNS_STATUS_OK)
		return 0;
	eq = ldns_dname_compare(name, d) == 0;
	ldns_rdf_deep_free(d);
	return eq;
}

static int
name_under(const ldns_rdf *name, const char *text)
{
	ldns_rdf *d = NULL;
	int sub;

	if (ldns_str2rdf_dname(&d, text) != LDNS_STATUS_OK)
		return 0;
	sub = ldns_dname_is_subdomain(name, d);
	ldns_rdf_deep_free(d);
	return sub;
}

static void
push_clone(ldns_pkt *p, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);

	assert_non_null(c);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c));
}

/* "big.test.": 20 TXT records of 200 bytes (larger than the UDP reply
 * the responder is willing to send). */
static void
push_big(ldns_pkt *p, const ldns_rdf *owner, int count)
{
	char text[256];

	for (int i = 0; i < count; i++) {
		char line[512];
		ldns_rr *rr = NULL;
		char *o = ldns_rdf2str(owner);

		memset(text, 'a' + i % 26, 200);
		text[200] = '\0';
		snprintf(line, sizeof(line), "%s 300 IN TXT \"%s\"", o, text);
		free(o);
		assert_int_equal(ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL),
		    LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	}
}

/* The answer for q; *skip set when the responder stays silent. */
static ldns_pkt *
answer(struct responder *rs, const ldns_pkt *q, int tcp, int *skip)
{
	const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_pkt *p = ldns_pkt_new();
	const ldns_rdf *cur;
	ldns_rr_type type;
	int hops = 0, found = 0;

	*skip = 0;
	assert_non_null(p);
	assert_non_null(qrr);
	ldns_pkt_set_id(p, ldns_pkt_id(q));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, ldns_pkt_rd(q));
	ldns_pkt_set_ra(p, true);
	assert_true(
	    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr)));
	cur = ldns_rr_owner(qrr);
	type = ldns_rr_get_type(qrr);
	if (name_is(cur, "servfail.test.")) {
		ldns_pkt_set_rcode(p, LDNS_RCODE_SERVFAIL);
		return p;
	}
	if (name_is(cur, "refused.test.")) {
		ldns_pkt_set_rcode(p, LDNS_RCODE_REFUSED);
		return p;
	}
	if (name_is(cur, "slow.test.") && !tcp && rs->slow_dropped < 1) {
		rs->slow_dropped++;
		*skip = 1;
		return p;
	}
	if (name_is(cur, "big.test.") || name_is(cur, "bighang.test.")) {
		if (!tcp) {
			ldns_pkt_set_tc(p, true);
		} else if (name_is(cur, "bighang.test.")) {
			*skip = 1;
		} else {
			push_big(p, cur, 20);
		}
		return p;
	}
	if (name_is(cur, "edns.test.")) {
		/* about 2000 bytes: fits the advertised 4096 */
		push_big(p, cur, 9);
		return p;
	}
	for (;;) {
		const ldns_rr *cname = NULL;
		int any = 0;

		for (size_t i = 0; i < ldns_rr_list_rr_count(rs->rrs); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(rs->rrs, i);

			if (ldns_dname_compare(ldns_rr_owner(rr), cur) != 0)
				continue;
			any = 1;
			if (ldns_rr_get_type(rr) == type) {
				push_clone(p, rr);
				found = 1;
			} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME) {
				cname = rr;
			}
		}
		if (!any) {
			ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
			break;
		}
		if (found || cname == NULL)
			break;
		push_clone(p, cname);
		if (name_under(cur, "o.test.") || ++hops > 20)
			break;
		cur = ldns_rr_rdf(cname, 0);
	}
	return p;
}

static void
udp_reply(struct responder *rs, const struct sockaddr_storage *from,
    socklen_t fromlen, const ldns_pkt *p)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	assert_true(sendto(rs->ufd, wire, len, 0, (const struct sockaddr *)from,
	                fromlen) == (ssize_t)len);
	free(wire);
}

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct responder *rs = arg;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t buf[4096];
	ldns_pkt *q = NULL, *p;
	ssize_t got;
	int skip;

	(void)what;
	got = recvfrom(
	    fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (got <= 0)
		return;
	rs->udp_queries++;
	assert_int_equal(ldns_wire2pkt(&q, buf, (size_t)got), LDNS_STATUS_OK);
	rs->last_rd = ldns_pkt_rd(q);
	rs->last_edns = ldns_pkt_edns(q) ? ldns_pkt_edns_udp_size(q) : 0;
	p = answer(rs, q, 0, &skip);
	if (name_is(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0)),
	        "garbage.test.")) {
		/* right id and QR, then a question that does not parse */
		uint8_t bad[16] = {buf[0], buf[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0,
		    0, 0, 0x3f, 'x', 'y', 'z'};

		sendto(
		    fd, bad, sizeof(bad), 0, (struct sockaddr *)&from, fromlen);
		skip = 1;
	}
	if (name_is(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0)),
	        "wrongid.test.")) {
		/* a stale or spoofed reply first: must be ignored */
		ldns_pkt_set_id(p, (uint16_t)(ldns_pkt_id(q) + 1));
		udp_reply(rs, &from, fromlen, p);
		ldns_pkt_set_id(p, ldns_pkt_id(q));
	}
	if (!skip)
		udp_reply(rs, &from, fromlen, p);
	ldns_pkt_free(p);
	ldns_pkt_free(q);
}

static void
drop_conn(struct responder *rs, struct bufferevent *bev)
{
	for (size_t i = 0; i < 8; i++)
		if (rs->conns[i] == bev)
			rs->conns[i] = NULL;
	bufferevent_free(bev);
}

static void
on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct responder *rs = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *msg, *wire = NULL;
	ldns_pkt *q = NULL, *p;
	size_t len, wlen = 0;
	int skip;

	if (evbuffer_copyout(in, hdr, 2) != 2)
		return;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (evbuffer_get_length(in) < len + 2)
		return;
	msg = evbuffer_pullup(in, (ev_ssize_t)(len + 2));
	assert_int_equal(ldns_wire2pkt(&q, msg + 2, len), LDNS_STATUS_OK);
	evbuffer_drain(in, len + 2);
	rs->tcp_queries++;
	p = answer(rs, q, 1, &skip);
	if (!skip) {
		assert_int_equal(
		    ldns_pkt2wire(&wire, p, &wlen), LDNS_STATUS_OK);
		hdr[0] = (uint8_t)(wlen >> 8);
		hdr[1] = (uint8_t)wlen;
		bufferevent_write(bev, hdr, 2);
		bufferevent_write(bev, wire, wlen);
		free(wire);
	}
	ldns_pkt_free(p);
	ldns_pkt_free(q);
}

static void
on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	drop_conn(arg, bev);
}

static void
on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct responder *rs = arg;
	struct bufferevent *bev;

	(void)lis;
	(void)sa;
	(void)salen;
	rs->tcp_accepts++;
	bev = bufferevent_socket_new(rs->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	for (size_t i = 0; i < 8; i++) {
		if (rs->conns[i] == NULL) {
			rs->conns[i] = bev;
			break;
		}
	}
	bufferevent_setcb(bev, on_tcp_read, NULL, on_tcp_event, rs);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Bind UDP (and TCP when tcp) on one free port of addr (v4 or v6). */
static int
responder_start(
    struct responder *rs, struct event_base *base, int family, int tcp)
{
	memset(rs, 0, sizeof(*rs));
	rs->base = base;
	rs->ufd = -1;
	rs->rrs = ldns_rr_list_new();
	assert_non_null(rs->rrs);
	for (size_t i = 0; zone[i] != NULL; i++) {
		ldns_rr *rr = NULL;

		assert_int_equal(
		    ldns_rr_new_frm_str(&rr, zone[i], 0, NULL, NULL),
		    LDNS_STATUS_OK);
		assert_true(ldns_rr_list_push_rr(rs->rrs, rr));
	}
	for (int attempt = 0; attempt < 20; attempt++) {
		struct sockaddr_storage ss;
		socklen_t len;

		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = in6addr_loopback;
			len = sizeof(*sin6);
		}
		rs->ufd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (rs->ufd < 0)
			return -1;
		if (bind(rs->ufd, (struct sockaddr *)&ss, len) < 0 ||
		    getsockname(rs->ufd, (struct sockaddr *)&ss, &len) < 0) {
			close(rs->ufd);
			rs->ufd = -1;
			return -1;
		}
		rs->port = ntohs(family == AF_INET
		        ? ((struct sockaddr_in *)&ss)->sin_port
		        : ((struct sockaddr_in6 *)&ss)->sin6_port);
		if (!tcp)
			break;
		rs->lis = evconnlistener_new_bind(base, on_accept, rs,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
		    (struct sockaddr *)&ss, (int)len);
		if (rs->lis != NULL)
			break;
		close(rs->ufd); /* TCP port taken: try another */
		rs->ufd = -1;
	}
	assert_true(rs->ufd >= 0);
	rs->uev = event_new(base, rs->ufd, EV_READ | EV_PERSIST, on_udp, rs);
	assert_non_null(rs->uev);
	event_add(rs->uev, NULL);
	return 0;
}

static void
responder_stop(struct responder *rs)
{
	for (size_t i = 0; i < 8; i++)
		if (rs->conns[i] != NULL)
			bufferevent_free(rs->conns[i]);
	if (rs->lis != NULL)
		evconnlistener_free(rs->lis);
	if (rs->uev != NULL)
		event_free(rs->uev);
	if (rs->ufd >= 0)
		close(rs->ufd);
	ldns_rr_list_deep_free(rs->rrs);
	memset(rs, 0, sizeof(*rs));
}

static int
setup(void **ctx)
{
	struct state *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	st->base = event_base_new();
	assert_non_null(st->base);
	assert_int_equal(responder_start(&st->rs, st->base, AF_INET, 1), 0);
	snprintf(st->server, sizeof(st->server), "127.0.0.1:%d", st->rs.port);
	*ctx = st;
	return 0;
}

static int
teardown(void **ctx)
{
	struct state *st = *ctx;

	responder_stop(&st->rs);
	event_base_free(st->base);
	free(st);
	return 0;
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until every result has been called (or 5 s pass). */
static void
run_until(struct event_base *base, struct result *const *res, size_t n)
{
	struct timeval step = {0, 10000};
	int rounds = 0;

	for (;;) {
		size_t done = 0;

		for (size_t i = 0; i < n; i++)
			done += res[i]->calls > 0;
		if (done == n || rounds++ > 500)
			break;
		event_base_once(base, -1, EV_TIMEOUT, on_guard, base, &step);
		event_base_dispatch(base);
	}
}

/* Run the loop for ms milliseconds. */
static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* kind: 0 addresses, 1 TXT, 2 CNAME */
static void
lookup(struct state *st, struct dns_resolver *r, int kind, const char *name,
    struct result *res)
{
	struct result *list[1] = {res};

	memset(res, 0, sizeof(*res));
	res->in_call = 1;
	if (kind == 2)
		assert_int_equal(dns_lookup_cname(r, name, on_result, res), 0);
	else if (kind == 1)
		assert_int_equal(dns_lookup_txt(r, name, on_result, res), 0);
	else
		assert_int_equal(dns_lookup_addr(r, name, on_result, res), 0);
	res->in_call = 0;
	run_until(st->base, list, 1);
	assert_int_equal(res->calls, 1);
	assert_false(res->called_inside);
}

static struct dns_resolver *
resolver(struct state *st, int timeout_ms)
{
	struct dns_resolver *r;

	r = dns_resolver_new(st->base, st->server, timeout_ms);
	assert_non_null(r);
	return r;
}

static void
test_bad_address(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r;

	assert_null(dns_resolver_new(st->base, "not an address", 1000));
	assert_null(dns_resolver_new(st->base, "127.0.0.1:99999", 1000));
	assert_null(dns_resolver_new(st->base, "[::1", 1000));
	assert_null(dns_resolver_new(st->base, NULL, 1000));
	r = dns_resolver_new(st->base, "[::1]:5353", 1000);
	assert_non_null(r);
	dns_resolver_free(r);
	r = dns_resolver_new(st->base, "192.0.2.53", 1000); /* port 53 */
	assert_non_null(r);
	dns_resolver_free(r);
	dns_resolver_free(NULL);
}

static void
test_txt(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;

	lookup(st, r, 1, "txt.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.vals[0], "abcdef");
	assert_string_equal(res.vals[1], "xyz");
	assert_int_equal(st->rs.last_rd, 1);
	assert_int_equal(st->rs.last_edns, 4096);
	assert_int_equal(st->rs.udp_queries, 1);
	assert_int_equal(st->rs.tcp_queries, 0);

	/* TXT data is bytes: a NUL inside is data, and the length says so */
	lookup(st, r, 1, "nul.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.lens[0], 9);
	assert_memory_equal(res.vals[0], "abc\0junk!", 9);

	/* names compare case-insensitively; a trailing dot is fine */
	lookup(st, r, 1, "TXT.Test.", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	dns_resolver_free(r);
}

static void
test_addr(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;

	lookup(st, r, 0, "a.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.vals[0], "192.0.2.1");
	assert_string_equal(res.vals[1], "2001:db8::1");
	assert_int_equal(st->rs.udp_queries, 2); /* A and AAAA */

	lookup(st, r, 0, "v4only.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.vals[0], "192.0.2.2");
	assert_int_equal(res.lens[0], strlen("192.0.2.2"));
	dns_resolver_free(r);
}

static void
test_cname(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;

	/* chain in one answer */
	lookup(st, r, 0, "c1.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.vals[0], "192.0.2.1");
	assert_string_equal(res.vals[1], "2001:db8::1");

	lookup(st, r, 1, "ctxt.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.vals[0], "abcdef");

	/* server returns only the CNAME: the client asks for the target */
	st->rs.udp_queries = 0;
	lookup(st, r, 1, "only.o.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.vals[1], "xyz");
	assert_int_equal(st->rs.udp_queries, 2);

	/* 8 CNAMEs are allowed, 9 are not: asked one by one ... */
	lookup(st, r, 1, "l2.o.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.vals[0], "end");
	lookup(st, r, 1, "l1.o.test", &res);
	assert_int_equal(res.rc, -EIO);
	assert_int_equal(res.n, 0);

	/* ... and in one answer */
	lookup(st, r, 1, "f1.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.vals[0], "end");
	lookup(st, r, 1, "f0.test", &res);
	assert_int_equal(res.rc, -EIO);

	lookup(st, r, 1, "loop.test", &res);
	assert_int_equal(res.rc, -EIO);

	/* CNAME to a name that does not exist */
	lookup(st, r, 1, "cnx.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
	dns_resolver_free(r);
}

/* dns_lookup_cname of name answers with want alone, or nothing (NULL) */
static void
cname_is(struct state *st, struct dns_resolver *r, const char *name,
    const char *want)
{
	struct result res;

	lookup(st, r, 2, name, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, want != NULL ? 1 : 0);
	if (want != NULL) {
		assert_string_equal(res.vals[0], want);
		assert_int_equal(res.lens[0], strlen(want));
	}
}

/* dns_lookup_cname: the record at the name, one hop, never followed */
static void
test_cname_record(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);

	cname_is(st, r, "C1.Test.", "c2.test"); /* not a.test */
	/* answered one CNAME at a time: still the first hop only */
	st->rs.udp_queries = 0;
	cname_is(st, r, "l0.o.test", "l1.o.test");
	assert_int_equal(st->rs.udp_queries, 1);
	/* a name without a CNAME (NODATA) and one that does not exist */
	cname_is(st, r, "txt.test", NULL);
	cname_is(st, r, "nx.test", NULL);
	/* a loop is no concern: nothing is followed */
	cname_is(st, r, "loop.test", "loop2.test");
	dns_resolver_free(r);
}

static void
test_negative(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;

	lookup(st, r, 1, "nx.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
	lookup(st, r, 1, "nodata.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
	lookup(st, r, 0, "nx.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
	lookup(st, r, 1, "servfail.test", &res);
	assert_int_equal(res.rc, -EIO);
	lookup(st, r, 1, "refused.test", &res);
	assert_int_equal(res.rc, -EIO);
	lookup(st, r, 0, "servfail.test", &res);
	assert_int_equal(res.rc, -EIO);
	lookup(st, r, 1, "garbage.test", &res);
	assert_int_equal(res.rc, -EIO);
	/* a reply with the wrong id is ignored, the right one accepted */
	lookup(st, r, 1, "wrongid.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.vals[0], "right");
	dns_resolver_free(r);
}

static void
test_tcp_fallback(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;

	lookup(st, r, 1, "big.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 20);
	assert_int_equal(strlen(res.vals[19]), 200);
	assert_int_equal(res.vals[19][0], 'a' + 19);
	assert_int_equal(st->rs.udp_queries, 1);
	assert_int_equal(st->rs.tcp_queries, 1);

	/* large, but within EDNS0 4096: stays on UDP */
	lookup(st, r, 1, "edns.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 9);
	assert_int_equal(st->rs.tcp_queries, 1);

	/* TCP server that never answers: per-attempt timeout */
	lookup(st, r, 1, "bighang.test", &res);
	assert_int_equal(res.rc, -ETIMEDOUT);
	dns_resolver_free(r);
}

static void
test_tcp_refused(void **ctx)
{
	struct state *st = *ctx;
	struct responder udponly;
	struct dns_resolver *r;
	struct result res;
	char server[64];

	assert_int_equal(responder_start(&udponly, st->base, AF_INET, 0), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", udponly.port);
	r = dns_resolver_new(st->base, server, 1000);
	assert_non_null(r);
	lookup(st, r, 1, "big.test", &res);
	assert_int_equal(res.rc, -ECONNREFUSED);
	assert_int_equal(udponly.udp_queries, 1);
	dns_resolver_free(r);
	responder_stop(&udponly);
}

static void
test_retry(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 150);
	struct result res;

	lookup(st, r, 1, "slow.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.vals[0], "late");
	assert_int_equal(st->rs.udp_queries, 2);
	dns_resolver_free(r);
}

static void
test_timeout(void **ctx)
{
	struct state *st = *ctx;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct dns_resolver *r;
	struct result res;
	char server[64], buf[512];
	int fd, got = 0;

	/* bound but never read: no ICMP, so only the timer ends it */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sin.sin_port));
	r = dns_resolver_new(st->base, server, 100);
	assert_non_null(r);
	lookup(st, r, 1, "txt.test", &res);
	assert_int_equal(res.rc, -ETIMEDOUT);
	assert_int_equal(res.n, 0);
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		got++;
	assert_int_equal(got, 2); /* first try and one retry */

	lookup(st, r, 0, "a.test", &res);
	assert_int_equal(res.rc, -ETIMEDOUT);
	dns_resolver_free(r);
	close(fd);
}

static void
test_refused(void **ctx)
{
	struct state *st = *ctx;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct dns_resolver *r;
	struct result res;
	char server[64];
	int fd;

	/* a port that was free a moment ago: ICMP port unreachable */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sin.sin_port));
	r = dns_resolver_new(st->base, server, 2000);
	assert_non_null(r);
	lookup(st, r, 1, "txt.test", &res);
	assert_int_equal(res.rc, -ECONNREFUSED);
	dns_resolver_free(r);
}

static void
test_ipv6_server(void **ctx)
{
	struct state *st = *ctx;
	struct responder rs6;
	struct dns_resolver *r;
	struct result res;
	char server[64];

	if (responder_start(&rs6, st->base, AF_INET6, 1) < 0) {
		responder_stop(&rs6);
		skip();
	}
	snprintf(server, sizeof(server), "[::1]:%d", rs6.port);
	r = dns_resolver_new(st->base, server, 1000);
	assert_non_null(r);
	lookup(st, r, 1, "txt.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	lookup(st, r, 1, "big.test", &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 20);
	assert_int_equal(rs6.tcp_queries, 1);
	dns_resolver_free(r);
	responder_stop(&rs6);
}

static void
test_bad_name(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result res;
	char name[80];

	memset(&res, 0, sizeof(res));
	memset(name, 'x', 70); /* label longer than 63 */
	strcpy(name + 70, ".test");
	assert_int_equal(dns_lookup_txt(r, name, on_result, &res), -1);
	assert_int_equal(dns_lookup_addr(r, name, on_result, &res), -1);
	assert_int_equal(dns_lookup_txt(r, NULL, on_result, &res), -1);
	run_for(st->base, 50);
	assert_int_equal(res.calls, 0);
	dns_resolver_free(r);
}

static void
test_cancel(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result a, b, c;
	struct result *list[1] = {&c};

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	/* cancel by arg: only that lookup goes */
	assert_int_equal(dns_lookup_txt(r, "txt.test", on_result, &a), 0);
	assert_int_equal(dns_lookup_addr(r, "a.test", on_result, &a), 0);
	assert_int_equal(dns_lookup_txt(r, "txt.test", on_result, &c), 0);
	dns_lookup_cancel(r, &a);
	dns_lookup_cancel(r, &b); /* nothing pending: no-op */
	run_until(st->base, list, 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.rc, 0);
	run_for(st->base, 50);
	assert_int_equal(a.calls, 0);

	/* free with UDP (first query dropped) and TCP lookups in flight */
	assert_int_equal(dns_lookup_txt(r, "slow.test", on_result, &a), 0);
	assert_int_equal(dns_lookup_txt(r, "bighang.test", on_result, &b), 0);
	for (int i = 0; i < 200 && st->rs.tcp_accepts == 0; i++)
		run_for(st->base, 10);
	assert_int_equal(st->rs.tcp_accepts, 1);
	dns_resolver_free(r);
	run_for(st->base, 50);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
}

static void
test_free_in_callback(void **ctx)
{
	struct state *st = *ctx;
	struct dns_resolver *r = resolver(st, 1000);
	struct result a, b;
	struct result *list[1] = {&a};

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.free_r = &r;
	assert_int_equal(dns_lookup_txt(r, "txt.test", on_result, &a), 0);
	/* still waiting for the TCP answer that never comes */
	assert_int_equal(dns_lookup_addr(r, "bighang.test", on_result, &b), 0);
	run_until(st->base, list, 1);
	assert_int_equal(a.calls, 1);
	assert_null(r);
	run_for(st->base, 50);
	assert_int_equal(b.calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bad_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_txt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_addr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cname, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cname_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_negative, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_free_in_callback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
