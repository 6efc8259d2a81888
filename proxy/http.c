/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS front-end. Each worker owns an event_base and an evhttp accepting
 * on its own SO_REUSEPORT socket; it reads requests and writes replies,
 * and never touches the database: every request goes to the serving
 * thread (proxy/commit.h), which runs the engine in its batch and hands
 * the reply back once the batch is durable. Replies that wait for the job
 * runner (finalize, revoke) stay parked on a timer and are re-checked
 * there when the state moves. The loop never blocks.
 */
#include "proxy/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"
#include "acme/jws.h"
#include "contrib/log.h"
#include "contrib/metrics.h"

/* evhttp's own body cap. acme/ refuses bodies over acme.max_body (64 KiB)
 * with a problem document and a nonce, so evhttp must let them through:
 * libevent 2.1 has no server-side hook between the headers and the body,
 * so the body is read up to this cap first. Over the cap, evhttp answers
 * its own 413 after reading and discarding the declared body (lingering
 * close), so that the client can still read the answer. */
#define MAX_BODY (1024 * 1024)

#define TLS12_CIPHERS                                                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct worker {
	struct px_http *h;
	pthread_t th;
	int started;
	struct event_base *base;
	struct evhttp *http;
	evutil_socket_t fd;
	struct parked *parked; /* requests not answered yet */
	atomic_int n_parked;   /* how many: read by the job thread */
	struct event *wake;    /* activated by the job thread on change */
	/* requests back from the serving thread, durable */
	pthread_mutex_t done_mu;
	int done_mu_init;
	struct parked *done;
	struct event *done_ev;
};

/* Open connections per client address, shared by every worker: one
 * table under a mutex, taken once when a connection is admitted and once
 * when it is freed (never around I/O). A per-worker share of the limit
 * would refuse a client whose connections SO_REUSEPORT happens to hash
 * onto one worker. */
#define IP_BUCKETS 1024
struct ipcount {
	struct ipcount *next;
	int n;
	char ip[INET6_ADDRSTRLEN];
};

struct px_http {
	const struct px_conf *conf;
	struct px_commit *commit;
	/* new connections' context: swapped by a reload (px_http_tls_swap);
	 * a worker may hold the old pointer just before SSL_new takes its
	 * reference, so a replaced context is kept in old_ssl until stop */
	SSL_CTX *_Atomic ssl;
	SSL_CTX **old_ssl;
	size_t n_old_ssl;
	struct acme_nonces *nonces;
	char base_path[256]; /* path part of base_url, "" or "/prefix" */
	struct worker *workers;
	int n_workers;
	atomic_int n_conns; /* open connections, all workers */
	pthread_mutex_t ip_mu;
	int ip_mu_init;
	struct ipcount *ips[IP_BUCKETS];
};

/* One accepted connection. It hangs off its SSL object (ex_data) and is
 * released with it, whoever frees the bufferevent: evhttp on close or
 * error, or evhttp_free at shutdown. */
struct conn {
	struct worker *w;
	struct bufferevent *bev; /* the TLS bufferevent evhttp reads */
	struct event *timer;     /* admission, then the request deadline */
	int over;                /* accepted over frontend.max_connections */
	int admitted;
	int counted_ip; /* holds a slot in h->ips */
	char ip[INET6_ADDRSTRLEN];
};

static int conn_idx = -1; /* SSL ex_data index of struct conn */

/* A request not answered yet: with the serving thread (busy), or waiting
 * for the job runner (timer armed). */
struct parked {
	struct worker *w;
	struct evhttp_request *req; /* NULL once the client went away */
	struct acme_resp resp;
	struct px_item item; /* with the serving thread while busy */
	int busy;
	int waiting;               /* the reply is deferred: timer armed */
	int again;                 /* a wakeup came while busy: check again */
	int expired;               /* the deadline passed while busy */
	char *strings;             /* the request's path, type, body, address */
	struct acme_presig presig; /* the signature checked here, if any */
	struct event *timer;       /* the wait's deadline */
	struct parked *next;       /* the worker's list of parked requests */
	struct parked **prevp;
	struct parked *dnext; /* the worker's list of returned items */
	enum mx_ep ep;        /* metrics: the endpoint of the path */
	struct timespec t0;   /* metrics: when the request arrived */
};

static unsigned
ip_hash(const char *ip)
{
	unsigned hv = 2166136261u;

	for (; *ip != '\0'; ip++)
		hv = (hv ^ (unsigned char)*ip) * 16777619u;
	return hv % IP_BUCKETS;
}

/* Take a connection slot for ip: 0, or -1 when it has all its slots (or
 * out of memory). */
static int
ip_take(struct px_http *h, const char *ip)
{
	struct ipcount **pp = &h->ips[ip_hash(ip)], *e;
	int rc = -1;

	pthread_mutex_lock(&h->ip_mu);
	for (e = *pp; e != NULL && strcmp(e->ip, ip) != 0; e = e->next)
		;
	if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->next = *pp;
		*pp = e;
	}
	if (e != NULL && e->n < h->conf->frontend.max_conns_per_ip) {
		e->n++;
		rc = 0;
	}
	pthread_mutex_unlock(&h->ip_mu);
	return rc;
}

static void
ip_put(struct px_http *h, const char *ip)
{
	struct ipcount **pp = &h->ips[ip_hash(ip)], *e;

	pthread_mutex_lock(&h->ip_mu);
	for (; (e = *pp) != NULL; pp = &e->next) {
		if (strcmp(e->ip, ip) != 0)
			continue;
		if (--e->n <= 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&h->ip_mu);
}

/* The connection a request came on, or NULL once the client went away. */
static struct conn *
conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
	    evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

/* Arm the deadline of c's next request: seconds from now. */
static void
conn_deadline(struct conn *c, int seconds)
{
	struct timeval tv = {seconds, 0};

	if (c != NULL && c->admitted)
		event_add(c->timer, &tv);
}

static void
send_resp(struct worker *w, struct evhttp_request *req, struct acme_resp *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	char nonce[ACME_NONCE_LEN + 1], ra[16];
	const struct px_conf *conf = w->h->conf;

	/* the next request on this connection: idle wait plus reading it */
	conn_deadline(conn_of(req),
	    conf->frontend.idle_timeout + conf->frontend.request_timeout);
	/* RFC 8555 §6.5: a fresh nonce on every response, errors too */
	acme_nonce_issue(w->h->nonces, nonce);
	evhttp_add_header(out, "Replay-Nonce", nonce);
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (r->allow != NULL)
		evhttp_add_header(out, "Allow", r->allow);
	if (r->location[0] != '\0')
		evhttp_add_header(out, "Location", r->location);
	for (int i = 0; i < r->nlinks; i++)
		evhttp_add_header(out, "Link", r->links[i]);
	if (r->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		evhttp_add_header(out, "Retry-After", ra);
	}
	if (buf != NULL && r->json != NULL) {
		char *s = json_dumps(r->json, JSON_INDENT(2));
		if (s != NULL) {
			evbuffer_add(buf, s, strlen(s));
			evbuffer_add(buf, "\n", 1);
			free(s);
		}
		evhttp_add_header(out, "Content-Type", r->ctype);
	} else if (buf != NULL && r->raw != NULL) {
		evbuffer_add(buf, r->raw, r->raw_len);
		evhttp_add_header(out, "Content-Type", r->ctype);
	}
	evhttp_send_reply(req, r->status ? r->status : 500, NULL, buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

static void
parked_free(struct parked *p)
{
	if (p->prevp != NULL) {
		*p->prevp = p->next;
		if (p->next != NULL)
			p->next->prevp = p->prevp;
		atomic_fetch_sub(&p->w->n_parked, 1);
	}
	if (p->req != NULL) {
		struct evhttp_connection *c =
		    evhttp_request_get_connection(p->req);
		if (c != NULL)
			evhttp_connection_set_closecb(c, NULL, NULL);
	}
	event_free(p->timer);
	acme_resp_clear(&p->resp);
	acme_presig_clear(&p->presig);
	free(p->strings);
	free(p);
}

static void
parked_closed(struct evhttp_connection *c, void *arg)
{
	struct parked *p = arg;

	(void)c;
	/* On EOF or timeout evhttp has detached the unanswered request (its
	 * connection is NULL) and leaves it to us: free it. At evhttp_free it
	 * is still attached and evhttp frees it after this callback. */
	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	p->req = NULL;
	/* while the serving thread holds the item, it is freed on return */
	if (!p->busy)
		parked_free(p);
}

/* Hand p to the serving thread: the request itself, or a re-check of
 * its deferred reply (final: the wait is over). */
static void
submit(struct parked *p, int poll, int final)
{
	p->busy = 1;
	p->item.poll = poll;
	p->item.final = final;
	px_commit_submit(p->w->h->commit, &p->item);
}

/* Serving thread: p's batch is durable; give it back to its worker. */
static void
item_done(struct px_item *it)
{
	struct parked *p = it->arg;
	struct worker *w = p->w;

	pthread_mutex_lock(&w->done_mu);
	p->dnext = w->done;
	w->done = p;
	pthread_mutex_unlock(&w->done_mu);
	event_active(w->done_ev, EV_READ, 0);
}

/* The deferred reply's deadline. */
static void
parked_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct parked *p = arg;

	(void)fd;
	(void)what;
	if (p->busy)
		p->expired = 1;
	else
		submit(p, 1, 1);
}

/* p came back from the serving thread. */
static void
returned(struct parked *p)
{
	p->busy = 0;
	if (p->req == NULL) {
		parked_free(p);
		return;
	}
	if (p->item.ready) {
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		mx_http(p->ep, p->resp.status ? p->resp.status : 500,
		    (double)(t1.tv_sec - p->t0.tv_sec) +
		        (double)(t1.tv_nsec - p->t0.tv_nsec) / 1e9);
		send_resp(p->w, p->req, &p->resp);
		parked_free(p);
		return;
	}
	if (!p->waiting) {
		/* resp->wait_until is the request's own time (now, unix s)
		 * plus the wait: only the difference is used, as a libevent
		 * timer (monotonic clock), so that a step of the wall clock
		 * neither stretches nor cuts the wait */
		long long left = p->resp.wait_until - p->item.req.now * 1000;
		struct timeval tv;

		if (left < 0)
			left = 0;
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		p->waiting = 1;
		event_add(p->timer, &tv);
		/* a change committed while the request ran sent no wakeup
		 * that could reach it: look once more */
		p->again = 1;
	}
	if (p->expired)
		submit(p, 1, 1);
	else if (p->again) {
		p->again = 0;
		submit(p, 1, 0);
	}
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct parked *list, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->done_mu);
	list = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->done_mu);
	for (; list != NULL; list = next) {
		next = list->dnext;
		returned(list);
	}
}

/* The job runner committed a state change: re-check what waits here
 * (a primary-key read per request on the serving thread; no polling in
 * between). */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	for (struct parked *p = w->parked; p != NULL; p = p->next) {
		if (!p->waiting)
			continue;
		if (p->busy)
			p->again = 1;
		else
			submit(p, 1, 0);
	}
}

void
px_http_notify(void *arg)
{
	struct px_http *h = arg;

	for (int i = 0; i < h->n_workers; i++)
		if (atomic_load(&h->workers[i].n_parked) > 0)
			event_active(h->workers[i].wake, EV_READ, 0);
}

/* Check the JWS signature here when the signer's key is known, so that
 * the serving thread does not spend its time on ECDSA (acme/keycache.h). */
static void
presign(struct worker *w, struct parked *p)
{
	struct acme_keycache *kc = w->h->conf->acme.keys;
	struct acme_problem prob = {0};
	struct acme_jws jws;

	if (kc == NULL || strcmp(p->item.req.method, "POST") != 0)
		return;
	if (acme_jws_parse(
	        p->item.req.body, p->item.req.body_len, &jws, &prob) != 0) {
		acme_problem_clear(&prob);
		return; /* the engine answers with the problem */
	}
	if (acme_keycache_preverify(kc, &jws, &p->presig))
		p->item.req.presig = &p->presig;
	acme_jws_free(&jws);
}

/* Copy what the serving thread reads of req (evhttp may free the request
 * while it runs: the client can go away) and send it there. */
static int
dispatch(struct worker *w, struct evhttp_request *req, const char *method,
    const char *path, const char *ctype, const char *body, size_t body_len,
    const char *ip)
{
	struct parked *p = calloc(1, sizeof(*p));
	size_t lp = strlen(path) + 1, lc = ctype ? strlen(ctype) + 1 : 0,
	       li = ip ? strlen(ip) + 1 : 0;
	char *s;

	if (p == NULL)
		return -1;
	p->strings = malloc(lp + lc + li + body_len + 1);
	p->timer = event_new(w->base, -1, 0, parked_deadline, p);
	if (p->strings == NULL || p->timer == NULL) {
		if (p->timer != NULL)
			event_free(p->timer);
		free(p->strings);
		free(p);
		return -1;
	}
	s = p->strings;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->ep = mx_ep_of_path(path);
	p->item.req.method = method;
	p->item.req.path = memcpy(s, path, lp);
	s += lp;
	if (ctype != NULL) {
		p->item.req.content_type = memcpy(s, ctype, lc);
		s += lc;
	}
	if (ip != NULL) {
		p->item.req.client_ip = memcpy(s, ip, li);
		s += li;
	}
	memcpy(s, body, body_len);
	s[body_len] = '\0';
	p->item.req.body = s;
	p->item.req.body_len = body_len;
	presign(w, p);
	p->item.req.now = time(NULL);
	p->item.resp = &p->resp;
	p->item.done = item_done;
	p->item.arg = p;
	p->w = w;
	p->req = req;
	/* count first: a notify from now on wakes this worker */
	atomic_fetch_add(&w->n_parked, 1);
	p->next = w->parked;
	if (p->next != NULL)
		p->next->prevp = &p->next;
	p->prevp = &w->parked;
	w->parked = p;
	evhttp_connection_set_closecb(
	    evhttp_request_get_connection(req), parked_closed, p);
	submit(p, 0, 0);
	return 0;
}

static const char *
method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

/* The client's address as text (rate limits are counted per address). */
static const char *
peer_ip(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port;

	if (evcon == NULL)
		return NULL;
	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		return NULL;
	snprintf(buf, len, "%s", addr);
	return buf;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *uri = evhttp_request_get_uri(req);
	size_t bl = strlen(w->h->base_path), len = evbuffer_get_length(in);
	const char *path;
	char ipbuf[64];

	/* the request is in: its deadline is over */
	{
		struct conn *c = conn_of(req);
		if (c != NULL && c->admitted)
			event_del(c->timer);
	}
	if (strncmp(uri, w->h->base_path, bl) == 0 &&
	    (uri[bl] == '/' || uri[bl] == '\0'))
		path = uri[bl] ? uri + bl : "/";
	else
		path = "/-not-found";
	if (dispatch(w, req, method_name(evhttp_request_get_command(req)), path,
	        evhttp_find_header(
	            evhttp_request_get_input_headers(req), "Content-Type"),
	        len ? (const char *)evbuffer_pullup(in, -1) : "", len,
	        peer_ip(req, ipbuf, sizeof(ipbuf))) != 0) {
		mx_http(mx_ep_of_path(path), 503, 0);
		evhttp_send_error(req, 503, "out of memory");
	}
}

/* End c's connection now: evhttp sees an error and frees it. */
static void
conn_close(struct conn *c)
{
	bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR, 0);
}

/* The first run (right after the accept, when evhttp has set the socket)
 * admits the connection or closes it; later runs are a request's
 * deadline: handshake and headers and body, however slowly they come. */
static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct px_conf *conf = c->w->h->conf;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *why = "the request deadline passed";

	(void)fd;
	(void)what;
	if (c->admitted)
		goto close;
	why = "frontend.max_connections reached";
	if (c->over)
		goto close;
	why = "frontend.max_connections_per_ip reached";
	fd = bufferevent_getfd(c->bev);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		goto close;
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    c->ip, sizeof(c->ip));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    c->ip, sizeof(c->ip));
	if (ip_take(c->w->h, c->ip) != 0)
		goto close;
	c->counted_ip = 1;
	c->admitted = 1;
	conn_deadline(c, conf->frontend.request_timeout);
	return;
close:
	log_debug("connection from %s closed: %s", c->ip[0] ? c->ip : "?", why);
	conn_close(c);
}

/* ex_data free: the SSL object goes, and with it the connection. */
static void
conn_release(
    void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return;
	if (c->counted_ip)
		ip_put(c->w->h, c->ip);
	atomic_fetch_sub(&c->w->h->n_conns, 1);
	event_free(c->timer);
	free(c);
}

static enum bufferevent_filter_result
drop_all(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	(void)dst;
	(void)limit;
	(void)mode;
	(void)ctx;
	evbuffer_drain(src, evbuffer_get_length(src));
	return BEV_OK;
}

/* When the TLS side cannot be set up (out of memory): a bufferevent that
 * passes nothing to evhttp, which closes it at the idle timeout.
 * Returning NULL would make evhttp talk plain HTTP on the socket. */
static struct bufferevent *
doomed_bev(struct event_base *base)
{
	struct bufferevent *sock =
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct bufferevent *bev = sock
	    ? bufferevent_filter_new(
	          sock, drop_all, NULL, BEV_OPT_CLOSE_ON_FREE, NULL, NULL)
	    : NULL;

	if (bev == NULL && sock != NULL)
		bufferevent_free(sock);
	return bev;
}

static struct bufferevent *
on_conn(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct conn *c = calloc(1, sizeof(*c));
	SSL *ssl = SSL_new(w->h->ssl);
	static const struct timeval at_once = {0, 0};

	if (c == NULL || ssl == NULL)
		goto fail;
	c->w = w;
	c->timer = event_new(base, -1, 0, conn_timer, c);
	if (c->timer == NULL)
		goto fail;
	c->bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;
	/* from here the bufferevent owns ssl, and ssl owns c */
	SSL_set_ex_data(ssl, conn_idx, c);
	c->over = atomic_fetch_add(&w->h->n_conns, 1) >=
	    w->h->conf->frontend.max_conns;
	event_add(c->timer, &at_once);
	return c->bev;
fail:
	if (c != NULL && c->timer != NULL)
		event_free(c->timer);
	free(c);
	SSL_free(ssl);
	return doomed_bev(base);
}

/* host:port into ss; the address length, or 0 if host is no IP. */
static socklen_t
make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1
		    ? sizeof(*s6)
		    : 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? sizeof(*s4) : 0;
}

static evutil_socket_t
listen_socket(const char *host, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_addr(host, port, &ss);
	evutil_socket_t fd;
	int one = 1;

	if (sl == 0) {
		snprintf(err, errlen,
		    "config: listen: \"%s\" is not an IP address", host);
		return -1;
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    /* inherited by accepted sockets on Linux: without it, a reply
	     * written in two TLS records waits for the client's delayed ACK
	     * (40 ms per request) */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 512) != 0) {
		snprintf(err, errlen, "listen: %s:%d: %s", host, port,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* 1 (with err set) when another socket already holds host:port. */
static int
port_taken(const char *host, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_addr(host, port, &ss);
	int fd, one = 1, rc = 0;

	if (sl == 0 || port == 0)
		return 0; /* listen_socket() reports a bad address */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 && errno == EADDRINUSE) {
		snprintf(err, errlen, "listen: %s:%d: %s", host, port,
		    strerror(errno));
		rc = 1;
	}
	close(fd);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static SSL_CTX *
tls_ctx(const struct px_conf *conf, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		goto fail;
	/* TLS 1.2 and 1.3 only; TLS 1.2 with forward secrecy and AEAD only
	 * (TLS 1.3 suites all are); the server's order of preference; no
	 * compression (CRIME), no renegotiation */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	        SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		snprintf(err, errlen, "tls: cannot set the cipher suites (%s)",
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->tls_cert) != 1) {
		snprintf(err, errlen,
		    "config: tls.cert_file: cannot load %s (%s)",
		    conf->tls_cert, ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->tls_key, SSL_FILETYPE_PEM) !=
	        1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen,
		    "config: tls.key_file: cannot load %s or it does not match "
		    "tls.cert_file (%s)",
		    conf->tls_key, ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

struct px_http *
px_http_start(const struct px_conf *conf, struct px_commit *commit, char *err,
    size_t errlen)
{
	struct px_http *h = calloc(1, sizeof(*h));
	const char *p;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->conf = conf;
	h->commit = commit;
	if (pthread_mutex_init(&h->ip_mu, NULL) != 0) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->ip_mu_init = 1;
	if (conn_idx < 0)
		conn_idx =
		    SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_release);
	/* path part of base_url: everything after scheme://host[:port] */
	p = strchr(conf->acme.base_url + 8, '/');
	snprintf(h->base_path, sizeof(h->base_path), "%s", p ? p : "");
	h->ssl = tls_ctx(conf, err, errlen);
	h->nonces = px_commit_nonces(commit);
	h->workers = calloc((size_t)conf->workers, sizeof(*h->workers));
	if (h->ssl == NULL || h->nonces == NULL || h->workers == NULL) {
		if (h->ssl != NULL)
			snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* SO_REUSEPORT would let a second acmebridge (same user) share the
	 * port silently: probe with a plain socket first */
	if (port_taken(conf->listen_host, conf->listen_port, err, errlen))
		goto fail;
	for (int i = 0; i < conf->workers; i++) {
		struct worker *w = &h->workers[i];

		h->n_workers = i + 1;
		w->h = h;
		w->fd = -1;
		w->fd = listen_socket(
		    conf->listen_host, conf->listen_port, err, errlen);
		if (w->fd < 0)
			goto fail;
		{
			/* coalesce the add/del of a request's events into one
			 * epoll_ctl per fd and loop turn */
			struct event_config *cfg = event_config_new();

			if (cfg != NULL)
				event_config_set_flag(
				    cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
			w->base = cfg ? event_base_new_with_config(cfg) : NULL;
			event_config_free(cfg);
		}
		w->http = w->base ? evhttp_new(w->base) : NULL;
		w->wake =
		    w->base ? event_new(w->base, -1, 0, on_wake, w) : NULL;
		w->done_ev =
		    w->base ? event_new(w->base, -1, 0, on_done, w) : NULL;
		if (w->http == NULL || w->wake == NULL || w->done_ev == NULL ||
		    pthread_mutex_init(&w->done_mu, NULL) != 0)
			goto fail;
		w->done_mu_init = 1;
		/* every method reaches acme_handle, so a 405 is a problem
		 * document with a nonce like any other error */
		evhttp_set_allowed_methods(w->http,
		    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
		        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		        EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
		evhttp_set_max_body_size(w->http, MAX_BODY);
		evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
		evhttp_set_max_headers_size(w->http, 16 * 1024);
		evhttp_set_timeout(w->http, conf->frontend.idle_timeout);
		evhttp_set_bevcb(w->http, on_conn, w);
		evhttp_set_gencb(w->http, on_request, w);
		if (evhttp_accept_socket(w->http, w->fd) != 0) {
			snprintf(err, errlen, "listen: cannot accept on %s:%d",
			    conf->listen_host, conf->listen_port);
			goto fail;
		}
		w->fd = -1; /* evhttp owns it now */
	}
	for (int i = 0; i < h->n_workers; i++) {
		if (pthread_create(&h->workers[i].th, NULL, worker_main,
		        &h->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker threads");
			goto fail;
		}
		h->workers[i].started = 1;
	}
	return h;
fail:
	px_http_stop(h);
	return NULL;
}

void
px_http_stop(struct px_http *h)
{
	if (h == NULL)
		return;
	for (int i = 0; i < h->n_workers; i++)
		if (h->workers[i].started)
			event_base_loopexit(h->workers[i].base, NULL);
	for (int i = 0; i < h->n_workers; i++) {
		struct worker *w = &h->workers[i];
		if (w->started)
			pthread_join(w->th, NULL);
		/* requests still parked at shutdown: the loop is gone, so no
		 * reply can go out; the client sees the connection close and
		 * polls its order again after the restart */
		while (w->parked != NULL) {
			struct parked *p = w->parked;
			parked_free(p);
		}
		if (w->wake != NULL)
			event_free(w->wake);
		if (w->done_ev != NULL)
			event_free(w->done_ev);
		if (w->done_mu_init)
			pthread_mutex_destroy(&w->done_mu);
		if (w->http != NULL)
			evhttp_free(w->http);
		if (w->base != NULL)
			event_base_free(w->base);
		if (w->fd >= 0)
			close(w->fd);
	}
	free(h->workers);
	for (int i = 0; i < IP_BUCKETS; i++)
		while (h->ips[i] != NULL) {
			struct ipcount *e = h->ips[i];
			h->ips[i] = e->next;
			free(e);
		}
	if (h->ip_mu_init)
		pthread_mutex_destroy(&h->ip_mu);
	SSL_CTX_free(h->ssl);
	for (size_t i = 0; i < h->n_old_ssl; i++)
		SSL_CTX_free(h->old_ssl[i]);
	free(h->old_ssl);
	free(h);
}

SSL_CTX *
px_http_tls_load(const struct px_conf *conf, char *err, size_t errlen)
{
	return tls_ctx(conf, err, errlen);
}

int
px_http_tls_swap(struct px_http *h, SSL_CTX *ctx)
{
	SSL_CTX **o = realloc(h->old_ssl, (h->n_old_ssl + 1) * sizeof(*o));

	if (o == NULL) {
		SSL_CTX_free(ctx);
		return -1;
	}
	h->old_ssl = o;
	/* connections already open keep theirs (SSL holds a reference) */
	h->old_ssl[h->n_old_ssl++] = atomic_exchange(&h->ssl, ctx);
	return 0;
}

int
px_tls_self_signed(const struct px_conf *conf, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509V3_CTX v3;
	X509_EXTENSION *ext = NULL;
	FILE *f = NULL;
	char host[256], san[600];
	const char *hs, *he;
	int rc = -1, fd;

	if (stat(conf->tls_cert, &st) == 0 && stat(conf->tls_key, &st) == 0)
		return 0;
	hs = conf->acme.base_url + 8;
	he = hs + strcspn(hs, ":/");
	if (*hs == '[') {
		hs++;
		he = strchr(hs, ']');
		if (he == NULL)
			he = hs;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(he - hs), hs);
	{
		unsigned char buf[16];
		int is_ip = inet_pton(AF_INET, host, buf) == 1 ||
		    inet_pton(AF_INET6, host, buf) == 1;
		snprintf(san, sizeof(san),
		    "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		    strcmp(host, "localhost") == 0 ||
		            strcmp(host, "127.0.0.1") == 0
		        ? ""
		        : (is_ip ? ",IP:" : ",DNS:"),
		    strcmp(host, "localhost") == 0 ||
		            strcmp(host, "127.0.0.1") == 0
		        ? ""
		        : host);
	}
	key = EVP_EC_gen("P-256");
	x = X509_new();
	if (key == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	/* a server leaf: clients trust it directly, it signs nothing */
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_key_usage, "critical,digitalSignature");
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth");
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto out;
	/* private from the first byte; a new file only, never through a
	 * symlink (it runs as the service user) */
	fd = open(conf->tls_key,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL ||
	    !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
	    fflush(f) != 0) {
		snprintf(err, errlen,
		    "config: tls.key_file: cannot create %s (%s)",
		    conf->tls_key,
		    errno == EEXIST ? "it exists, tls.cert_file does not"
		                    : strerror(errno));
		if (f == NULL && fd >= 0)
			close(fd);
		goto out;
	}
	fclose(f);
	fd = open(conf->tls_cert,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL && fd >= 0)
		close(fd);
	if (f == NULL || !PEM_write_X509(f, x)) {
		snprintf(err, errlen, "config: tls.cert_file: cannot write %s",
		    conf->tls_cert);
		goto out;
	}
	log_notice("created a self-signed TLS certificate %s for %s",
	    conf->tls_cert, host);
	rc = 0;
out:
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen,
		    "tls: cannot create a self-signed "
		    "certificate");
	if (f != NULL)
		fclose(f);
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
