/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stub resolver: ldns builds and parses the packets, libevent carries them
 * over UDP (EDNS0 4096, one retry) and TCP (after TC=1). Nothing blocks.
 */
#include "dns/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <ldns/ldns.h>
#include <openssl/rand.h>

#include "contrib/log.h"

#define CNAME_MAX 8    /* CNAME hops per query, in and across answers */
#define VALS_MAX 256   /* values returned per lookup */
#define EDNS_SIZE 4096 /* advertised UDP payload size */
#define MSG_MAX 65535  /* largest DNS message (TCP length prefix) */
#define DEFAULT_TIMEOUT_MS 2000

struct lookup;

/* One question in flight; follows CNAMEs by asking again. */
struct query {
	struct lookup *lk;       /* owner */
	ldns_rr_type qtype;      /* LDNS_RR_TYPE_TXT, _A or _AAAA */
	ldns_rdf *qname;         /* name asked now (owned) */
	int hops;                /* CNAMEs followed so far */
	uint16_t id;             /* message id of the current question */
	uint8_t *wire;           /* current query, 2-byte length prefix
				     first (for TCP), malloc'd */
	size_t wirelen;          /* bytes after the prefix */
	int tries;               /* UDP sends of the current question */
	evutil_socket_t fd;      /* connected UDP socket, or -1 */
	struct event *ev_read;   /* readability of fd */
	struct bufferevent *bev; /* TCP connection, or NULL */
	struct event *timer;     /* per-attempt timeout */
	int done;                /* finished: rc and vals are final */
	int rc;                  /* 0 or negative errno */
	char **vals;             /* results (owned strings) */
	size_t *lens;            /* their lengths (TXT data may hold NULs) */
	size_t n;                /* entries in vals and lens */
	int rcode;               /* RCODE of the last answer, -1 if none */
	int aa;                  /* AA bit of the last answer */
};

/* One dns_lookup_* call: one query (TXT) or two (A and AAAA). */
struct lookup {
	struct dns_resolver *r; /* owner */
	struct lookup *next;    /* resolver's list */
	dns_result_cb *cb;      /* user callback */
	void *arg;              /* its argument */
	struct query q[2];      /* the questions */
	int nq;                 /* used entries of q */
	int pending;            /* questions not yet done */
	unsigned flags;         /* DNS_Q_* */
	dns_answer_cb *acb;     /* dns_query's callback, or NULL */
};

struct dns_resolver {
	struct event_base *base;      /* borrowed loop */
	struct sockaddr_storage addr; /* server */
	int addrlen;                  /* its length */
	int timeout_ms;               /* per attempt */
	struct lookup *lookups;       /* in flight */
	uint8_t rbuf[MSG_MAX + 1];    /* UDP receive buffer */
};

static void query_send_udp(struct query *q);
static void query_finish(struct query *q, int rc);

static void
vals_free(char **vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
}

/* Close the transport of the current attempt; keeps the result. */
static void
query_close(struct query *q)
{
	if (q->ev_read != NULL) {
		event_free(q->ev_read);
		q->ev_read = NULL;
	}
	if (q->fd >= 0) {
		evutil_closesocket(q->fd);
		q->fd = -1;
	}
	if (q->bev != NULL) {
		bufferevent_free(q->bev);
		q->bev = NULL;
	}
	if (q->timer != NULL)
		evtimer_del(q->timer);
}

static void
query_clear(struct query *q)
{
	query_close(q);
	if (q->timer != NULL) {
		event_free(q->timer);
		q->timer = NULL;
	}
	if (q->qname != NULL) {
		ldns_rdf_deep_free(q->qname);
		q->qname = NULL;
	}
	free(q->wire);
	q->wire = NULL;
	vals_free(q->vals, q->n);
	q->vals = NULL;
	free(q->lens);
	q->lens = NULL;
	q->n = 0;
}

static void
lookup_unlink(struct lookup *lk)
{
	struct lookup **pp;

	for (pp = &lk->r->lookups; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == lk) {
			*pp = lk->next;
			break;
		}
	}
}

static void
lookup_free(struct lookup *lk)
{
	for (int i = 0; i < lk->nq; i++)
		query_clear(&lk->q[i]);
	free(lk);
}

/*
 * All questions answered: merge, detach everything from the resolver, then
 * call back (the callback may free the resolver, so nothing of it is used
 * afterwards).
 */
static void
lookup_complete(struct lookup *lk)
{
	dns_result_cb *cb = lk->cb;
	void *arg = lk->arg;
	char **vals = NULL;
	size_t *lens = NULL;
	size_t n = 0, total = 0;
	int rc = 0, err = 0;

	for (int i = 0; i < lk->nq; i++) {
		if (lk->q[i].rc < 0) {
			if (err == 0)
				err = lk->q[i].rc;
		} else {
			total += lk->q[i].n;
		}
	}
	/* a failed AAAA must not hide good A records, and vice versa */
	if (err != 0 && total == 0)
		rc = err;
	if (rc == 0 && total > 0) {
		vals = calloc(total, sizeof(*vals));
		lens = calloc(total, sizeof(*lens));
		if (vals == NULL || lens == NULL) {
			rc = -ENOMEM;
		} else {
			for (int i = 0; i < lk->nq; i++) {
				struct query *q = &lk->q[i];

				if (q->rc < 0 || q->n == 0)
					continue;
				memcpy(vals + n, q->vals, q->n * sizeof(*vals));
				memcpy(lens + n, q->lens, q->n * sizeof(*lens));
				n += q->n;
				free(q->vals);
				q->vals = NULL;
				free(q->lens);
				q->lens = NULL;
				q->n = 0;
			}
		}
	}
	lookup_unlink(lk);
	if (lk->acb != NULL) {
		struct dns_answer a = {rc, lk->q[0].rcode, lk->q[0].aa,
		    (const char *const *)vals, lens, rc == 0 ? n : 0};
		dns_answer_cb *acb = lk->acb;

		lookup_free(lk);
		acb(arg, &a);
		vals_free(vals, n);
		free(lens);
		return;
	}
	lookup_free(lk);
	cb(arg, rc, (const char *const *)vals, lens, rc == 0 ? n : 0);
	vals_free(vals, n);
	free(lens);
}

static void
query_finish(struct query *q, int rc)
{
	struct lookup *lk = q->lk;

	query_close(q);
	q->done = 1;
	q->rc = rc;
	if (rc < 0) {
		vals_free(q->vals, q->n);
		q->vals = NULL;
		free(q->lens);
		q->lens = NULL;
		q->n = 0;
	}
	if (--lk->pending == 0)
		lookup_complete(lk);
}

/* Encode the question for q->qname/q->qtype with a fresh id. */
static int
query_build(struct query *q)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *name = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	unsigned char rnd[2];
	int rc = -1;

	name = ldns_rdf_clone(q->qname);
	if (name == NULL)
		goto out;
	pkt = ldns_pkt_query_new(name, q->qtype, LDNS_RR_CLASS_IN,
	    (q->lk->flags & DNS_Q_NORECURSE) ? 0 : LDNS_RD);
	if (pkt == NULL) {
		ldns_rdf_deep_free(name);
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_crypto_err("dns: RAND_bytes");
		goto out;
	}
	q->id = (uint16_t)(rnd[0] << 8 | rnd[1]);
	ldns_pkt_set_id(pkt, q->id);
	ldns_pkt_set_edns_udp_size(pkt, EDNS_SIZE);
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK || len > MSG_MAX)
		goto out;
	free(q->wire);
	q->wire = malloc(len + 2);
	if (q->wire == NULL)
		goto out;
	q->wire[0] = (uint8_t)(len >> 8);
	q->wire[1] = (uint8_t)len;
	memcpy(q->wire + 2, wire, len);
	q->wirelen = len;
	rc = 0;
out:
	free(wire);
	ldns_pkt_free(pkt);
	return rc;
}

/* Same (case-insensitive) domain name? */
static int
dname_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME &&
	    ldns_rdf_get_type(b) == LDNS_RDF_TYPE_DNAME &&
	    ldns_dname_compare(a, b) == 0;
}

/* The record's data as a NUL-terminated string of *outlen bytes (TXT data
 * may contain NULs of its own: compare by *outlen, never by strlen). */
static char *
rr_text(const ldns_rr *rr, ldns_rr_type type, size_t *outlen)
{
	char buf[INET6_ADDRSTRLEN];
	const ldns_rdf *f;
	size_t len = 0, off = 0;
	char *s;

	if (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA) {
		size_t want = type == LDNS_RR_TYPE_A ? 4 : 16;

		f = ldns_rr_rdf(rr, 0);
		if (ldns_rr_rd_count(rr) != 1 || f == NULL ||
		    ldns_rdf_size(f) != want)
			return NULL;
		if (inet_ntop(type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6,
		        ldns_rdf_data(f), buf, sizeof(buf)) == NULL)
			return NULL;
		*outlen = strlen(buf);
		return strdup(buf);
	}
	if (type == LDNS_RR_TYPE_CNAME || type == LDNS_RR_TYPE_NS ||
	    type == LDNS_RR_TYPE_SOA) {
		char *t;

		f = ldns_rr_rdf(rr, type == LDNS_RR_TYPE_SOA ? 2 : 0);
		if (f == NULL)
			return NULL;
		if (type == LDNS_RR_TYPE_SOA) {
			/* the serial, as decimal text */
			if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_INT32)
				return NULL;
			snprintf(buf, sizeof(buf), "%u",
			    (unsigned)ldns_rdf2native_int32(f));
			*outlen = strlen(buf);
			return strdup(buf);
		}
		if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_DNAME ||
		    (t = ldns_rdf2str(f)) == NULL)
			return NULL;
		/* lower case, no final dot */
		len = strlen(t);
		if (len > 1 && t[len - 1] == '.')
			t[--len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (t[i] >= 'A' && t[i] <= 'Z')
				t[i] = (char)(t[i] - 'A' + 'a');
		*outlen = len;
		return t;
	}
	/* TXT: character-strings, each a length byte and its bytes */
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		if (f == NULL || ldns_rdf_size(f) < 1 ||
		    ldns_rdf_size(f) != 1u + ldns_rdf_data(f)[0])
			return NULL;
		len += ldns_rdf_size(f) - 1;
	}
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		memcpy(s + off, ldns_rdf_data(f) + 1, ldns_rdf_size(f) - 1);
		off += ldns_rdf_size(f) - 1;
	}
	s[len] = '\0';
	*outlen = len;
	return s;
}

/* Records of q->qtype owned by name, appended to q->vals. */
static int
collect(struct query *q, const ldns_rr_list *ans, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		char **nv;
		size_t *nl, len = 0;
		char *s;

		if (ldns_rr_get_type(rr) != q->qtype ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    !dname_eq(ldns_rr_owner(rr), name))
			continue;
		if (q->n >= VALS_MAX)
			break;
		s = rr_text(rr, q->qtype, &len);
		if (s == NULL)
			return -EIO;
		nv = realloc(q->vals, (q->n + 1) * sizeof(*nv));
		if (nv != NULL)
			q->vals = nv;
		nl = nv != NULL ? realloc(q->lens, (q->n + 1) * sizeof(*nl))
		                : NULL;
		if (nl == NULL) {
			free(s);
			return -ENOMEM;
		}
		q->lens = nl;
		q->vals[q->n] = s;
		q->lens[q->n++] = len;
	}
	return 0;
}

static const ldns_rr *
find_cname(const ldns_rr_list *ans, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_rd_count(rr) == 1 &&
		    dname_eq(ldns_rr_owner(rr), name))
			return rr;
	}
	return NULL;
}

/* Start the UDP attempt for the current question. */
static int
query_start(struct query *q)
{
	query_close(q);
	q->tries = 0;
	if (query_build(q) < 0)
		return -1;
	query_send_udp(q);
	return 0;
}

/*
 * Follow the answer section from q->qname through CNAMEs. Returns 1 when q
 * is finished (rc in *rc), 0 when a new question went out.
 */
static int
process_answer(struct query *q, const ldns_pkt *pkt, int *rc)
{
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	ldns_rdf *cur = q->qname;
	const ldns_rr *cn;
	ldns_rdf *next;

	for (;;) {
		*rc = collect(q, ans, cur);
		if (*rc < 0 || q->n > 0 || (q->lk->flags & DNS_Q_NORECURSE))
			return 1;
		cn = find_cname(ans, cur);
		if (cn == NULL)
			break;
		if (++q->hops > CNAME_MAX) {
			log_debug("dns: more than %d CNAMEs", CNAME_MAX);
			*rc = -EIO;
			return 1;
		}
		cur = ldns_rr_rdf(cn, 0);
		if (ldns_rdf_get_type(cur) != LDNS_RDF_TYPE_DNAME) {
			*rc = -EIO;
			return 1;
		}
	}
	/* NODATA, or the NOERROR answer stopped at a CNAME: ask for its
	 * target ourselves */
	*rc = 0;
	if (cur == q->qname || ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR)
		return 1;
	next = ldns_rdf_clone(cur);
	if (next == NULL) {
		*rc = -ENOMEM;
		return 1;
	}
	ldns_rdf_deep_free(q->qname);
	q->qname = next;
	if (query_start(q) < 0) {
		*rc = -EIO;
		return 1;
	}
	return 0;
}

static void on_tcp_read(struct bufferevent *bev, void *arg);
static void on_tcp_event(struct bufferevent *bev, short what, void *arg);

static void
query_send_tcp(struct query *q)
{
	struct dns_resolver *r = q->lk->r;
	struct timeval tv = {
	    r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};

	query_close(q);
	q->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (q->bev == NULL) {
		query_finish(q, -ENOMEM);
		return;
	}
	bufferevent_setcb(q->bev, on_tcp_read, NULL, on_tcp_event, q);
	bufferevent_setwatermark(q->bev, EV_READ, 2, 0);
	if (bufferevent_write(q->bev, q->wire, q->wirelen + 2) < 0 ||
	    bufferevent_enable(q->bev, EV_READ | EV_WRITE) < 0) {
		query_finish(q, -ENOMEM);
		return;
	}
	evtimer_add(q->timer, &tv);
	if (bufferevent_socket_connect(
	        q->bev, (struct sockaddr *)&r->addr, r->addrlen) < 0) {
		int e = EVUTIL_SOCKET_ERROR();

		query_finish(q, e == ECONNREFUSED ? -ECONNREFUSED : -EIO);
	}
}

/*
 * A message from the server. tcp: whether it came over TCP (there a
 * mismatch is fatal; over UDP it is dropped as stale or spoofed).
 */
static void
on_message(struct query *q, const uint8_t *msg, size_t len, int tcp)
{
	ldns_pkt *pkt = NULL;
	const ldns_rr *qrr;
	int rc = -EIO;

	if (len < LDNS_HEADER_SIZE)
		goto out;
	if (LDNS_ID_WIRE(msg) != q->id || !LDNS_QR_WIRE(msg)) {
		if (!tcp)
			return;
		goto out;
	}
	if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
		goto out;
	qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (ldns_pkt_qdcount(pkt) != 1 || qrr == NULL ||
	    ldns_rr_get_type(qrr) != q->qtype ||
	    !dname_eq(ldns_rr_owner(qrr), q->qname)) {
		if (!tcp) {
			ldns_pkt_free(pkt);
			return;
		}
		goto out;
	}
	if (ldns_pkt_tc(pkt)) {
		ldns_pkt_free(pkt);
		if (tcp)
			goto out;
		query_send_tcp(q);
		return;
	}
	q->rcode = ldns_pkt_get_rcode(pkt);
	q->aa = ldns_pkt_aa(pkt);
	switch (ldns_pkt_get_rcode(pkt)) {
	case LDNS_RCODE_NOERROR:
		if (!process_answer(q, pkt, &rc)) {
			ldns_pkt_free(pkt);
			return; /* next question of the chain sent */
		}
		break;
	case LDNS_RCODE_NXDOMAIN:
		rc = 0;
		break;
	default:
		rc = -EIO; /* SERVFAIL, REFUSED, FORMERR, ... */
		break;
	}
out:
	ldns_pkt_free(pkt);
	query_finish(q, rc);
}

static void
on_udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct query *q = arg;
	uint8_t *buf = q->lk->r->rbuf;
	ssize_t got;

	(void)what;
	got = recv(fd, buf, MSG_MAX + 1, 0);
	if (got < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
			return;
		query_finish(q, e == ECONNREFUSED ? -ECONNREFUSED : -EIO);
		return;
	}
	on_message(q, buf, (size_t)got, 0);
}

static void
on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct query *q = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *msg;
	size_t len;

	if (evbuffer_copyout(in, hdr, 2) != 2)
		return;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (evbuffer_get_length(in) < len + 2) {
		bufferevent_setwatermark(bev, EV_READ, len + 2, 0);
		return;
	}
	msg = evbuffer_pullup(in, (ev_ssize_t)(len + 2));
	if (msg == NULL) {
		query_finish(q, -ENOMEM);
		return;
	}
	on_message(q, msg + 2, len, 1);
}

static void
on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct query *q = arg;
	int e = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_ERROR) && e == ECONNREFUSED)
		query_finish(q, -ECONNREFUSED);
	else
		query_finish(q, -EIO); /* EOF before a whole message */
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct query *q = arg;

	(void)fd;
	(void)what;
	if (q->bev == NULL && q->tries < 2) {
		query_send_udp(q);
		return;
	}
	query_finish(q, -ETIMEDOUT);
}

/*
 * (Re)send the current question over UDP, opening the socket when needed.
 * @return 0 or a negative errno (q untouched otherwise)
 */
static int
udp_send(struct query *q)
{
	struct dns_resolver *r = q->lk->r;
	struct timeval tv = {
	    r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};

	if (q->fd < 0) {
		q->fd = socket(r->addr.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (q->fd < 0)
			return -errno;
		/* connected: the kernel drops datagrams from anyone else
		 * and reports ICMP port unreachable as ECONNREFUSED */
		if (connect(q->fd, (struct sockaddr *)&r->addr,
		        (socklen_t)r->addrlen) < 0)
			return -errno;
		q->ev_read = event_new(
		    r->base, q->fd, EV_READ | EV_PERSIST, on_udp_read, q);
		if (q->ev_read == NULL || event_add(q->ev_read, NULL) < 0)
			return -ENOMEM;
	}
	q->tries++;
	if (send(q->fd, q->wire + 2, q->wirelen, 0) < 0 && errno != EAGAIN &&
	    errno != EWOULDBLOCK)
		return -errno;
	if (evtimer_add(q->timer, &tv) < 0)
		return -ENOMEM;
	return 0;
}

static void
query_send_udp(struct query *q)
{
	int rc = udp_send(q);

	if (rc < 0) {
		log_debug("dns: udp query: %s", strerror(-rc));
		query_finish(q, rc == -ECONNREFUSED ? -ECONNREFUSED : -EIO);
	}
}

struct dns_resolver *
dns_resolver_new(struct event_base *base, const char *server, int timeout_ms)
{
	struct dns_resolver *r = NULL;
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);

	if (base == NULL || server == NULL)
		return NULL;
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(server, (struct sockaddr *)&ss, &len) <
	    0) {
		log_err("dns: bad resolver address: %s", server);
		return NULL;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		if (sin->sin_port == 0)
			sin->sin_port = htons(53);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (sin6->sin6_port == 0)
			sin6->sin6_port = htons(53);
	} else {
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->base = base;
	memcpy(&r->addr, &ss, sizeof(ss));
	r->addrlen = len;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	return r;
}

void
dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return;
	while (r->lookups != NULL) {
		struct lookup *lk = r->lookups;

		r->lookups = lk->next;
		lookup_free(lk);
	}
	free(r);
}

void
dns_lookup_cancel(struct dns_resolver *r, void *arg)
{
	struct lookup **pp = &r->lookups;

	while (*pp != NULL) {
		struct lookup *lk = *pp;

		if (lk->arg == arg) {
			*pp = lk->next;
			lookup_free(lk);
		} else {
			pp = &lk->next;
		}
	}
}

static int
lookup_start(struct dns_resolver *r, const char *name,
    const ldns_rr_type *types, int ntypes, dns_result_cb *cb,
    dns_answer_cb *acb, unsigned flags, void *arg)
{
	struct lookup *lk = NULL;
	ldns_rdf *dname = NULL;
	int rc = -1;

	if (r == NULL || name == NULL || (cb == NULL && acb == NULL))
		return -1;
	if (ldns_str2rdf_dname(&dname, name) != LDNS_STATUS_OK) {
		log_debug("dns: bad name: %s", name);
		return -1;
	}
	lk = calloc(1, sizeof(*lk));
	if (lk == NULL)
		goto out;
	lk->r = r;
	lk->cb = cb;
	lk->acb = acb;
	lk->flags = flags;
	lk->arg = arg;
	for (int i = 0; i < ntypes; i++) {
		struct query *q = &lk->q[i];

		q->lk = lk;
		q->fd = -1;
		q->rcode = -1;
		q->qtype = types[i];
		lk->nq++;
		q->qname = ldns_rdf_clone(dname);
		q->timer = evtimer_new(r->base, on_timeout, q);
		if (q->qname == NULL || q->timer == NULL)
			goto out;
	}
	lk->pending = lk->nq;
	/* no reply can arrive before we return to the loop, so the callback
	 * cannot run inside this call */
	for (int i = 0; i < lk->nq; i++) {
		if (query_build(&lk->q[i]) < 0 || udp_send(&lk->q[i]) < 0)
			goto out;
	}
	lk->next = r->lookups;
	r->lookups = lk;
	rc = 0;
out:
	ldns_rdf_deep_free(dname);
	if (rc < 0 && lk != NULL)
		lookup_free(lk);
	return rc;
}

int
dns_lookup_txt(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_TXT};

	return lookup_start(r, name, types, 1, cb, NULL, 0, arg);
}

int
dns_lookup_addr(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};

	return lookup_start(r, name, types, 2, cb, NULL, 0, arg);
}

int
dns_lookup_cname(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_CNAME};

	return lookup_start(r, name, types, 1, cb, NULL, 0, arg);
}

int
dns_query(struct dns_resolver *r, const char *name, int type, unsigned flags,
    dns_answer_cb *cb, void *arg)
{
	ldns_rr_type t = (ldns_rr_type)type;

	if (t != LDNS_RR_TYPE_TXT && t != LDNS_RR_TYPE_CNAME &&
	    t != LDNS_RR_TYPE_NS && t != LDNS_RR_TYPE_SOA &&
	    t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
		return -1;
	return lookup_start(r, name, &t, 1, NULL, cb, flags, arg);
}
