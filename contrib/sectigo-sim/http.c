/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the HTTP(S) front: evhttp over OpenSSL bufferevents, path
 * routing (every /api path also under /private/api), authentication and
 * error injection hooks, the reply helpers and the request log.
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/ca.h"
#include "contrib/sectigo-sim/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>

/* route flags */
#define R_AUTH 0x1   /* SCM authentication required */
#define R_INJECT 0x2 /* "fail_next" rules apply */

#define M_GET EVHTTP_REQ_GET
#define M_POST EVHTTP_REQ_POST
#define M_HEAD EVHTTP_REQ_HEAD
#define M_DELETE EVHTTP_REQ_DELETE

/** One endpoint. */
struct route {
	/*
	 * Path segments after the normalisation of /private/api to /api:
	 * a literal, alternatives "a|b", "*" for any one segment or "#" for
	 * a decimal id.
	 */
	const char *pattern;
	unsigned methods;              /* EVHTTP_REQ_* mask */
	int flags;                     /* R_* */
	enum sim_counter counter;      /* counted after authentication */
	void (*fn)(struct sim_req *r); /* the handler; replies exactly once */
};

/* first match wins; ssl v2 has the same shapes as v1 (reference §1) */
static const struct route routes[] = {
    {"auth/realms/apiclients/protocol/openid-connect/token", M_POST, R_INJECT,
        SIM_CNT_TOKEN, sim_token_endpoint},
    {"sim/stats", M_GET, 0, SIM_CNT_NONE, sim_ctl_stats},
    {"sim/control", M_GET | M_POST, 0, SIM_CNT_NONE, sim_ctl_control},
    {"api/organization/v1", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_org_list},
    {"api/organization/v1/*", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_org_get},
    {"api/ssl/v1|v2/types", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_types},
    {"api/ssl/v1|v2/customFields", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_custom_fields},
    {"api/ssl/v1|v2/enroll", M_POST, R_AUTH | R_INJECT, SIM_CNT_ENROLL,
        sim_api_enroll},
    {"api/ssl/v1|v2/collect/#", M_GET, R_AUTH | R_INJECT, SIM_CNT_COLLECT,
        sim_api_collect},
    {"api/ssl/v1|v2/collect/#/*", M_GET, R_AUTH | R_INJECT, SIM_CNT_COLLECT,
        sim_api_collect},
    {"api/ssl/v1|v2/revoke/serial/*", M_POST, R_AUTH | R_INJECT, SIM_CNT_REVOKE,
        sim_api_revoke_serial},
    {"api/ssl/v1|v2/revoke/#", M_POST, R_AUTH | R_INJECT, SIM_CNT_REVOKE,
        sim_api_revoke},
    {"api/ssl/v1|v2/renewById/#", M_POST, R_AUTH | R_INJECT, SIM_CNT_RENEW,
        sim_api_renew_by_id},
    {"api/ssl/v1|v2/renew/*", M_POST, R_AUTH | R_INJECT, SIM_CNT_RENEW,
        sim_api_renew},
    {"api/ssl/v1|v2/replace/#", M_POST, R_AUTH | R_INJECT, SIM_CNT_REPLACE,
        sim_api_replace},
    {"api/ssl/v1|v2/approve/#", M_POST, R_AUTH | R_INJECT, SIM_CNT_APPROVE,
        sim_api_approve},
    {"api/ssl/v1|v2/decline/#", M_POST, R_AUTH | R_INJECT, SIM_CNT_DECLINE,
        sim_api_decline},
    {"api/ssl/v1|v2/#", M_GET, R_AUTH | R_INJECT, SIM_CNT_DETAILS,
        sim_api_details},
    {"api/domain/v1", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_domain_list},
    {"api/domain/v1", M_POST, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_domain_create},
    {"api/domain/v1/#", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_domain_get},
    {"api/domain/v1/#", M_DELETE, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_domain_delete},
    {"api/dcv/v1|v2/validation", M_GET, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_dcv_list},
    {"api/dcv/v1|v2/validation/status", M_POST, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_dcv_status},
    {"api/dcv/v1|v2/validation/start/domain/*", M_POST, R_AUTH | R_INJECT,
        SIM_CNT_NONE, sim_api_dcv_start},
    {"api/dcv/v1|v2/validation/submit/domain/*", M_POST, R_AUTH | R_INJECT,
        SIM_CNT_NONE, sim_api_dcv_submit},
    {"api/dcv/v1|v2/validation/clear", M_POST, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_dcv_clear},
    {"api/dcv/v1|v2/validation/delete", M_POST, R_AUTH | R_INJECT, SIM_CNT_NONE,
        sim_api_dcv_delete},
    {"api/ssl/v1|v2", M_GET | M_HEAD, R_AUTH | R_INJECT, SIM_CNT_LIST,
        sim_api_list},
    {"api/report/v1/ssl-certificates", M_POST, R_AUTH | R_INJECT,
        SIM_CNT_REPORT, sim_api_report},
};

const char *
sim_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Unknown";
}

void
sim_set_header(struct sim_req *r, const char *name, const char *value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	evhttp_remove_header(h, name);
	evhttp_add_header(h, name, value);
}

const char *
sim_req_header(const struct sim_req *r, const char *name)
{
	return evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), name);
}

const char *
sim_req_query(const struct sim_req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

json_t *
sim_req_json(const struct sim_req *r)
{
	json_error_t err;

	if (r->body == NULL || r->body_len == 0)
		return NULL;
	/*
	 * No JSON_REJECT_DUPLICATES: SCM runs on Jackson, whose default lets
	 * the last duplicate win, as jansson does without the flag.
	 */
	return json_loadb(r->body, r->body_len, 0, &err);
}

static void
reset_body(struct sim_req *r)
{
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
}

void
sim_reply_json(struct sim_req *r, int status, json_t *body)
{
	char *s = NULL;

	reset_body(r);
	if (body != NULL)
		s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (s == NULL || evbuffer_add(r->out, s, strlen(s)) != 0) {
		free(s);
		reset_body(r);
		r->status = 500;
		sim_set_header(
		    r, "Content-Type", "application/json;charset=UTF-8");
		evbuffer_add_printf(r->out,
		    "{\"code\":-2,\"description\":\"Internal error. Please "
		    "contact Support for details.\"}");
		return;
	}
	free(s);
	r->status = status;
	sim_set_header(r, "Content-Type", "application/json;charset=UTF-8");
}

void
sim_reply_error(struct sim_req *r, int status, long code, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	sim_reply_json(r, status,
	    json_pack("{s:i, s:s}", "code", (int)code, "description", desc));
	snprintf(r->note, sizeof(r->note), "code=%ld", code);
}

void
sim_reply_empty(struct sim_req *r, int status)
{
	reset_body(r);
	r->status = status;
}

/* Matches one pattern segment (see struct route) against a path segment. */
static int
seg_match(const char *pat, size_t plen, const char *seg)
{
	const char *p = pat, *end = pat + plen, *bar;
	size_t i, n = strlen(seg);

	if (plen == 1 && *pat == '*')
		return 1;
	if (plen == 1 && *pat == '#') {
		/* sslId is an int32: at most 10 digits, range checked later */
		if (n == 0 || n > 10)
			return 0;
		for (i = 0; i < n; i++)
			if (seg[i] < '0' || seg[i] > '9')
				return 0;
		return 1;
	}
	while (p < end) {
		bar = memchr(p, '|', (size_t)(end - p));
		if (bar == NULL)
			bar = end;
		if ((size_t)(bar - p) == n && memcmp(p, seg, n) == 0)
			return 1;
		p = bar + 1;
	}
	return 0;
}

static int
route_match(const struct route *rt, const struct sim_req *r)
{
	const char *p = rt->pattern, *slash;
	size_t i = 0, len;

	while (*p != '\0') {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (i >= r->nseg || !seg_match(p, len, r->seg[i]))
			return 0;
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == r->nseg;
}

/*
 * Strips "/private" from /private/api/... (the client-certificate URL form
 * of SCM; the simulator authenticates it like /api) and splits the path
 * into percent-decoded segments, ignoring empty ones.
 * @return 0, 1 for a path no route can match, -1 when out of memory
 */
static int
split_path(struct sim_req *r, const char *raw)
{
	const char *p = raw, *end;
	char *seg, *dec;
	size_t len, declen;

	if (strncmp(raw, "/private/api/", 13) == 0 ||
	    strcmp(raw, "/private/api") == 0)
		p = raw + 8;
	r->path = strdup(p);
	if (r->path == NULL)
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, '/');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (r->nseg == SIM_MAX_SEGS)
			return 1;
		seg = strndup(p, len);
		if (seg == NULL)
			return -1;
		dec = evhttp_uridecode(seg, 0, &declen);
		free(seg);
		if (dec == NULL)
			return -1;
		r->seg[r->nseg++] = dec;
		if (strlen(dec) != declen)
			return 1; /* %00 in a path segment */
		p += len;
	}
	return 0;
}

static int
read_body(struct sim_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);

	r->body = malloc(len + 1);
	if (r->body == NULL)
		return -1;
	if (len > 0 && evbuffer_copyout(in, r->body, len) != (ev_ssize_t)len)
		return -1;
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}

static void
reply_allow(struct sim_req *r, unsigned methods)
{
	static const enum evhttp_cmd_type all[] = {EVHTTP_REQ_GET,
	    EVHTTP_REQ_HEAD, EVHTTP_REQ_POST, EVHTTP_REQ_PUT,
	    EVHTTP_REQ_DELETE};
	char allow[64] = "";
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if ((methods & all[i]) == 0)
			continue;
		if (allow[0] != '\0')
			strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
		strncat(allow, sim_method_name(all[i]),
		    sizeof(allow) - strlen(allow) - 1);
	}
	sim_set_header(r, "Allow", allow);
	/* [UNK] SCM's 405 body; an SCM-shaped error keeps clients simple */
	sim_reply_json(r, 405,
	    json_pack("{s:i, s:s, s:s}", "code", -1, "description",
	        "Unknown error.", "details", "Method Not Allowed"));
}

/* how often held-back connections are checked for a vanished peer */
#define HUNG_CHECK_MS 200

static void
hung_closed(struct evhttp_connection *evcon, void *arg)
{
	struct sim_hung *h = arg;

	(void)evcon;
	TAILQ_REMOVE(&h->sim->hung, h, entry);
	/*
	 * When the peer goes away, evhttp detaches a request that still
	 * waits for its reply from the connection before freeing the
	 * connection (evhttp_connection_incoming_fail), so nobody frees
	 * that request but us.  If it is still attached, the connection
	 * frees it right after this callback.
	 */
	if (evhttp_request_get_connection(h->req) == NULL)
		evhttp_request_free(h->req);
	fprintf(stderr,
	    "sectigo-sim: held-back request dropped: client "
	    "disconnected\n");
	free(h);
}

/* 1 while the peer of a held-back request still has its side open */
static int
peer_alive(struct sim_hung *h)
{
	struct bufferevent *bev;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	evutil_socket_t fd;

	bev = evhttp_connection_get_bufferevent(h->evcon);
	fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	if (fd < 0)
		return 0;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return 0;
	/*
	 * Looking at the TCP state rather than reading: with TLS the peer's
	 * close_notify sits unread in front of the FIN, and evhttp must not
	 * get data in the state it is in.
	 */
	return ti.tcpi_state == TCP_ESTABLISHED;
}

/*
 * libevent 2.1 stops reading once a request is complete, so it never sees
 * the EOF of a client that gave up on a held-back reply.  This timer looks
 * for such peers and frees their connection; hung_closed() then runs.
 */
static void
hung_check(evutil_socket_t fd, short events, void *arg)
{
	struct sim *sim = arg;
	struct sim_hung *h, *next;

	(void)fd;
	(void)events;
	for (h = TAILQ_FIRST(&sim->hung); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (!peer_alive(h))
			evhttp_connection_free(h->evcon);
	}
	if (TAILQ_EMPTY(&sim->hung))
		event_del(sim->hung_timer);
}

/* Keeps the request open without a reply (control "hang_enrolls"). */
static int
hold(struct sim_req *r)
{
	struct timeval tv = {0, HUNG_CHECK_MS * 1000};
	struct sim_hung *h;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -1;
	h->sim = r->sim;
	h->req = r->req;
	h->evcon = evhttp_request_get_connection(r->req);
	if (h->evcon == NULL) {
		free(h);
		return -1;
	}
	if (!event_pending(r->sim->hung_timer, EV_TIMEOUT, NULL) &&
	    event_add(r->sim->hung_timer, &tv) != 0) {
		free(h);
		return -1;
	}
	evhttp_connection_set_closecb(h->evcon, hung_closed, h);
	TAILQ_INSERT_TAIL(&r->sim->hung, h, entry);
	return 0;
}

/* ---- fault mode: random failures and latency ("fail_rate") ---- */

/*
 * Picks the fault for one /api request, or none.  Each request fails
 * independently with probability fail_rate; the kind is uniform among the
 * three that need no handler, plus the lost reply for enroll.
 */
static enum sim_fault
fault_pick(struct sim *sim, int is_enroll)
{
	uint64_t n;

	if (sim->fail_rate <= 0.0 || sim_rng_unit(&sim->rng) >= sim->fail_rate)
		return SIM_FAULT_NONE;
	n = sim_rng_next(&sim->rng) % (is_enroll ? 4 : 3);
	return (enum sim_fault)(SIM_FAULT_503 + n);
}

/*
 * Answers an injected fault that stops the request before the handler
 * (nothing is processed).  The bodies are what a client meets in the wild:
 * [INF] a load balancer's 503 page or an empty 503, SCM's own 500 body,
 * and [UNK] a 429 (SCM documents no rate limit) with Retry-After: 1 and an
 * SCM-shaped body.
 */
static void
fault_reply(struct sim_req *r, enum sim_fault f)
{
	switch (f) {
	case SIM_FAULT_503:
		sim_reply_empty(r, 503);
		if (sim_rng_next(&r->sim->rng) & 1) {
			sim_set_header(r, "Content-Type", "text/html");
			evbuffer_add_printf(r->out,
			    "<html><head><title>503 Service Temporarily "
			    "Unavailable</title></head><body><center><h1>503 "
			    "Service Temporarily Unavailable</h1></center>"
			    "</body></html>\n");
		}
		break;
	case SIM_FAULT_500:
		sim_reply_error(r, 500, -2,
		    "Internal error. Please contact Support for details.");
		break;
	case SIM_FAULT_429:
		sim_reply_json(r, 429,
		    json_pack("{s:i, s:s, s:s}", "code", -1, "description",
		        "Unknown error.", "details", "Too Many Requests"));
		sim_set_header(r, "Retry-After", "1");
		break;
	default:
		break;
	}
	snprintf(
	    r->note, sizeof(r->note), "fault=%d status=%d", (int)f, r->status);
}

static void
deferred_free(struct sim_deferred *d)
{
	TAILQ_REMOVE(&d->sim->deferred, d, entry);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->out != NULL)
		evbuffer_free(d->out);
	free(d);
}

/* The peer's connection goes away first: evhttp frees the request. */
static void
deferred_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	deferred_free(arg);
}

static void
deferred_fire(evutil_socket_t fd, short events, void *arg)
{
	struct sim_deferred *d = arg;
	struct evhttp_connection *evcon = d->evcon;

	(void)fd;
	(void)events;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (d->drop) {
		/* the connection closes without a reply; it frees req */
		deferred_free(d);
		evhttp_connection_free(evcon);
		return;
	}
	evhttp_send_reply(d->req, d->status, reason_phrase(d->status), d->out);
	deferred_free(d);
}

/*
 * Sends the reply of r after delay_ms on a timer (the loop never
 * blocks), or closes the connection then when drop is set.  Takes r->out.
 * @return 0, or -1 (the caller sends at once)
 */
static int
defer_reply(struct sim_req *r, int delay_ms, int drop)
{
	struct timeval tv;
	struct sim_deferred *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -1;
	d->sim = r->sim;
	d->req = r->req;
	d->evcon = evhttp_request_get_connection(r->req);
	d->status = r->status;
	d->drop = drop;
	d->timer = evtimer_new(r->sim->base, deferred_fire, d);
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	if (d->evcon == NULL || d->timer == NULL ||
	    evtimer_add(d->timer, &tv) != 0) {
		if (d->timer != NULL)
			event_free(d->timer);
		free(d);
		return -1;
	}
	d->out = r->out;
	r->out = NULL;
	TAILQ_INSERT_TAIL(&r->sim->deferred, d, entry);
	evhttp_connection_set_closecb(d->evcon, deferred_closed, d);
	return 0;
}

static void
log_request(const struct sim_req *r, const char *raw_path)
{
	char when[32];
	struct tm tm;
	time_t now = time(NULL);

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%H:%M:%S", &tm) == 0)
		when[0] = '\0';
	/* the path only: no query string, no headers, so no secrets */
	if (r->hang)
		fprintf(stderr, "%s sectigo-sim: %s %s held (no reply)%s%s\n",
		    when, sim_method_name(r->method), raw_path,
		    r->note[0] != '\0' ? " " : "", r->note);
	else
		fprintf(stderr, "%s sectigo-sim: %s %s %d%s%s\n", when,
		    sim_method_name(r->method), raw_path, r->status,
		    r->note[0] != '\0' ? " " : "", r->note);
}

static void
handle_request(struct evhttp_request *req, void *arg)
{
	struct sim *sim = arg;
	struct sim_req r;
	const struct evhttp_uri *uri;
	const struct route *rt = NULL;
	const char *raw = NULL, *query = NULL;
	unsigned path_methods = 0;
	enum sim_fault fault = SIM_FAULT_NONE;
	size_t i;
	int rc, delay = 0;

	memset(&r, 0, sizeof(r));
	TAILQ_INIT(&r.query);
	r.sim = sim;
	r.req = req;
	r.method = evhttp_request_get_command(req);
	r.status = 500;
	r.out = evbuffer_new();
	if (r.out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	uri = evhttp_request_get_evhttp_uri(req);
	if (uri != NULL) {
		raw = evhttp_uri_get_path(uri);
		query = evhttp_uri_get_query(uri);
	}
	if (raw == NULL || *raw == '\0')
		raw = "/";

	rc = split_path(&r, raw);
	if (rc < 0 || read_body(&r) != 0) {
		sim_reply_error(&r, 500, -2,
		    "Internal error. Please contact Support for details.");
		goto send;
	}
	if (query != NULL && evhttp_parse_query_str(query, &r.query) != 0) {
		sim_reply_error(
		    &r, 400, -1601, "Field 'query' has invalid value.");
		goto send;
	}
	for (i = 0; rc == 0 && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(&routes[i], &r))
			continue;
		path_methods |= routes[i].methods;
		if ((routes[i].methods & r.method) != 0) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		if (path_methods != 0)
			reply_allow(&r, path_methods);
		else
			/* [UNK] SCM's body for unknown paths */
			sim_reply_json(&r, 404,
			    json_pack("{s:i, s:s, s:s}", "code", -1,
			        "description", "Unknown error.", "details",
			        "Not Found"));
		goto send;
	}
	/* "latency_ms": every /api reply, errors included, leaves late */
	if ((rt->flags & R_AUTH) != 0)
		delay = sim->latency_ms;
	if ((rt->flags & R_AUTH) != 0 && sim_auth_check(&r) != 0) {
		sim->count[SIM_CNT_AUTH_FAIL]++;
		goto send;
	}
	if (rt->counter != SIM_CNT_NONE)
		sim->count[rt->counter]++;
	if ((rt->flags & R_INJECT) != 0 && sim_fail_inject(&r))
		goto send;
	/* the random fault mode covers the SCM API (/api), never /sim */
	fault = (rt->flags & R_AUTH) != 0
	    ? fault_pick(sim, rt->fn == sim_api_enroll)
	    : SIM_FAULT_NONE;
	if (fault != SIM_FAULT_NONE)
		sim->faults[fault]++;
	if (fault != SIM_FAULT_NONE && fault != SIM_FAULT_LOST) {
		fault_reply(&r, fault);
		goto send;
	}
	rt->fn(&r);
	if (fault == SIM_FAULT_LOST && !r.hang) {
		/*
		 * The enrollment is stored (or refused) as usual; only its
		 * reply is lost: the connection closes without an answer, or
		 * a gateway answers 502.  A client finds the order again
		 * through the list and the comments it sent (crash recovery).
		 */
		r.lost = 1;
		if (sim_rng_next(&sim->rng) & 1) {
			sim->lost_502++;
			sim_reply_empty(&r, 502);
			sim_set_header(&r, "Content-Type", "text/html");
			evbuffer_add_printf(r.out,
			    "<html><body><h1>502 Bad Gateway</h1></body>"
			    "</html>\n");
			r.lost = 0;
		}
		snprintf(r.note, sizeof(r.note), "fault=lost-reply%s",
		    r.lost ? " (closed)" : " (502)");
	}
send:
	if (r.hang && hold(&r) != 0)
		r.hang = 0;
	/* raw belongs to req, which the reply may free: log first */
	log_request(&r, raw);
	if (!r.hang &&
	    ((delay == 0 && !r.lost) || defer_reply(&r, delay, r.lost) != 0)) {
		if (r.lost)
			/* [INF] out of memory for the timer: answer 502 */
			r.status = 502;
		evhttp_send_reply(
		    req, r.status, reason_phrase(r.status), r.out);
	}
	evhttp_clear_headers(&r.query);
	for (i = 0; i < r.nseg; i++)
		free(r.seg[i]);
	free(r.path);
	free(r.body);
	if (r.out != NULL)
		evbuffer_free(r.out);
}

static struct bufferevent *
make_tls_bev(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = arg;
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* clients often close without close_notify; that is not an error */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int
sim_http_start(struct sim *sim)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd;

	sim->http = evhttp_new(sim->base);
	if (sim->http == NULL) {
		fprintf(stderr, "sectigo-sim: evhttp_new failed\n");
		return -1;
	}
	/* let every method through so that the router can answer 405 */
	evhttp_set_allowed_methods(sim->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(sim->http, SIM_MAX_BODY);
	evhttp_set_max_headers_size(sim->http, 64 * 1024);
	evhttp_set_timeout(sim->http, 120);
	evhttp_set_default_content_type(sim->http, NULL);
	evhttp_set_gencb(sim->http, handle_request, sim);
	sim->hung_timer = event_new(sim->base, -1, EV_PERSIST, hung_check, sim);
	if (sim->hung_timer == NULL) {
		fprintf(stderr, "sectigo-sim: event_new failed\n");
		return -1;
	}
	if (!sim->conf->plain_http) {
		sim->ssl_ctx = sim_ca_server_ctx(sim->ca);
		if (sim->ssl_ctx == NULL)
			return -1;
		evhttp_set_bevcb(sim->http, make_tls_bev, sim->ssl_ctx);
	}
	bound = evhttp_bind_socket_with_handle(sim->http,
	    sim->conf->listen_host, (ev_uint16_t)sim->conf->listen_port);
	if (bound == NULL) {
		fprintf(stderr, "sectigo-sim: cannot listen on %s:%u\n",
		    sim->conf->listen_host, sim->conf->listen_port);
		return -1;
	}
	fd = evhttp_bound_socket_get_fd(bound);
	{
		/* accepted sockets inherit it: no 40 ms delayed-ACK stall when
		 * a reply goes out in more than one TLS record */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		perror("sectigo-sim: getsockname");
		return -1;
	}
	if (ss.ss_family == AF_INET)
		sim->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		sim->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return -1;
	return 0;
}

void
sim_http_stop(struct sim *sim)
{
	struct sim_hung *h;

	/*
	 * Held-back requests are still attached to their connections, which
	 * evhttp_free() frees with them; only our bookkeeping goes here.
	 */
	while ((h = TAILQ_FIRST(&sim->hung)) != NULL) {
		TAILQ_REMOVE(&sim->hung, h, entry);
		evhttp_connection_set_closecb(h->evcon, NULL, NULL);
		free(h);
	}
	/* the same for replies still waiting on their timer */
	while (!TAILQ_EMPTY(&sim->deferred)) {
		struct sim_deferred *d = TAILQ_FIRST(&sim->deferred);

		evhttp_connection_set_closecb(d->evcon, NULL, NULL);
		deferred_free(d);
	}
	if (sim->hung_timer != NULL) {
		event_free(sim->hung_timer);
		sim->hung_timer = NULL;
	}
	if (sim->http != NULL) {
		evhttp_free(sim->http);
		sim->http = NULL;
	}
	SSL_CTX_free(sim->ssl_ctx);
	sim->ssl_ctx = NULL;
}
