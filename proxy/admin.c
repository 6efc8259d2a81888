/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin listener (proxy/admin.h): its thread, the HTTP(S) front, the
 * bearer token, /healthz, /readyz, /metrics with the database gauges, and
 * the SCM probe that keeps an idle connector's "last reached" fresh.
 * The status page is proxy/status.c.
 */
#include "proxy/admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "acme/db.h"
#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "contrib/metrics.h"
#include "proxy/admin_int.h"
#include "sectigo/sectigo.h"

#define GAUGE_CACHE_S 10 /* database gauges are computed this often */
#define HEARTBEAT_MAX 10 /* s: an older heartbeat means a stuck loop */

/* One SCM connector's probe, on the admin loop. */
struct probe {
	struct px_admin *a;
	const struct px_connector *pc; /* in conf */
	struct acme_ca *ca;            /* its own backend */
	int busy;                      /* a probe is out */
	long long last;                /* unix s the last probe left */
};

struct px_admin {
	const struct px_conf *conf;
	struct event_base *base;      /* the admin thread's loop */
	struct evhttp *http;          /* on base */
	SSL_CTX *ssl;                 /* admin.tls_*, or NULL: plain HTTP */
	struct acme_db *db;           /* read-only, the admin thread's only */
	struct evcurl *ec;            /* HTTP for the probes */
	struct probe *probes;         /* one per SCM connector */
	size_t n_probes;              /* entries in probes */
	struct event *probe_tick;     /* on base */
	struct event *heartbeat;      /* on the serving loop */
	pthread_t th;                 /* the admin thread */
	int started;                  /* th runs */
	unsigned char token_hash[32]; /* SHA-256 of the token */
	int has_token;                /* admin.token_file is set */
	char *gauges;                 /* the last database gauges (text) */
	long long gauges_at;          /* unix s they were computed */
};

static long long
now_s(void)
{
	return (long long)time(NULL);
}

/* ---- serving-thread heartbeat ---------------------------------------- */

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	mx_heartbeat(now_s());
}

/* ---- readiness -------------------------------------------------------- */

int
px_admin_ready(const struct px_admin *a, FILE *f)
{
	long long hb, now = now_s();
	struct mx_conn_health h[MX_CONN_MAX];
	size_t n = mx_scm_health(h, MX_CONN_MAX);
	int failed, bad = 0;

	mx_serving_state(&hb, &failed);
	if (hb == 0 || now - hb > HEARTBEAT_MAX) {
		fprintf(f,
		    "fail database: the serving thread's heartbeat is %lld s "
		    "old (limit %d s)\n",
		    hb == 0 ? -1 : now - hb, HEARTBEAT_MAX);
		bad++;
	} else if (failed) {
		fprintf(f, "fail database: the last batch failed to commit\n");
		bad++;
	} else {
		fprintf(f,
		    "ok database: serving thread alive, last commit "
		    "succeeded\n");
	}
	/* the connectors of the start (a->probes): a SIGHUP reload swaps
	 * conf->connectors on the serving thread, so this thread never reads
	 * that array; the retired one stays allocated (proxy/reload.c) */
	for (size_t i = 0; i < a->n_probes; i++) {
		const char *name = a->probes[i].pc->name;
		long long r = 0;

		for (size_t j = 0; j < n; j++)
			if (strcmp(h[j].name, name) == 0)
				r = h[j].last_reached;
		if (r == 0) {
			fprintf(f, "fail scm connector=%s: not reached yet\n",
			    name);
			bad++;
		} else if (now - r > a->conf->admin.scm_ready_seconds) {
			fprintf(f,
			    "fail scm connector=%s: last reached %lld s ago "
			    "(scm_ready_seconds %d)\n",
			    name, now - r, a->conf->admin.scm_ready_seconds);
			bad++;
		} else {
			fprintf(f, "ok scm connector=%s: reached %lld s ago\n",
			    name, now - r);
		}
	}
	return bad == 0;
}

/* ---- SCM probe --------------------------------------------------------- */

static void
probe_done(void *arg, int failures)
{
	struct probe *p = arg;

	p->busy = 0;
	if (failures > 0)
		log_debug(
		    "admin: probe of scm connector=%s failed", p->pc->name);
}

/* Each second: a connector that has not answered for scm_probe_seconds
 * (no traffic, or SCM down) and was not probed for as long gets one
 * unauthenticated GET, on this thread's loop. */
static void
on_probe_tick(evutil_socket_t fd, short what, void *arg)
{
	struct px_admin *a = arg;
	struct mx_conn_health h[MX_CONN_MAX];
	size_t n = mx_scm_health(h, MX_CONN_MAX);
	long long now = now_s();
	int every = a->conf->admin.scm_probe_seconds;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < a->n_probes; i++) {
		struct probe *p = &a->probes[i];
		long long r = 0;

		if (p->ca == NULL || p->busy)
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcmp(h[j].name, p->pc->name) == 0)
				r = h[j].last_reached;
		if (now - r < every || now - p->last < every)
			continue;
		p->last = now;
		if (sectigo_probe(p->ca, probe_done, p) == 0)
			p->busy = 1;
	}
}

/* ---- database gauges -------------------------------------------------- */

/* One gauge line per row of sql: label from column "k", value "n". Known
 * label values are always written (0 when absent), so that a series does
 * not vanish when its count drops to zero. */
static int
grouped(struct px_admin *a, FILE *f, const char *family, const char *label,
    const char *sql, const char *const *known)
{
	json_t *rows = acme_db_all(a->db, sql, "");
	size_t i;
	json_t *r;

	if (rows == NULL)
		return -1;
	for (; known != NULL && *known != NULL; known++) {
		int seen = 0;

		json_array_foreach(rows, i, r) {
			const char *k =
			    json_string_value(json_object_get(r, "k"));
			if (k != NULL && strcmp(k, *known) == 0)
				seen = 1;
		}
		if (!seen)
			fprintf(f, "%s{%s=\"%s\"} 0\n", family, label, *known);
	}
	json_array_foreach(rows, i, r) {
		const char *k = json_string_value(json_object_get(r, "k"));

		fprintf(f, "%s{%s=\"", family, label);
		mx_label_value(f, k != NULL ? k : "");
		fprintf(f, "\"} %lld\n",
		    (long long)json_integer_value(json_object_get(r, "n")));
	}
	json_decref(rows);
	return 0;
}

static void
family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* Every database gauge, into a string (caller frees), or NULL. */
static char *
db_gauges(struct px_admin *a)
{
	static const char *const orders[] = {
	    "pending", "ready", "processing", "valid", "invalid", NULL};
	static const char *const authzs[] = {"pending", "valid", "invalid",
	    "deactivated", "expired", "revoked", NULL};
	static const char *const challs[] = {
	    "pending", "processing", "valid", "invalid", NULL};
	long long now = now_s();
	struct timespec t0, t1;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *rows = NULL, *r;
	size_t i;
	int rc = 0;

	if (f == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	family(f, "acmebridge_orders", "Orders stored, by state.");
	rc |= grouped(a, f, "acmebridge_orders", "state",
	    "SELECT status AS k, count(*) AS n FROM orders GROUP BY status",
	    orders);
	family(
	    f, "acmebridge_authorizations", "Authorizations stored, by state.");
	rc |= grouped(a, f, "acmebridge_authorizations", "state",
	    "SELECT status AS k, count(*) AS n FROM authzs GROUP BY status",
	    authzs);
	family(f, "acmebridge_challenges", "Challenges stored, by state.");
	rc |= grouped(a, f, "acmebridge_challenges", "state",
	    "SELECT status AS k, count(*) AS n FROM challenges GROUP BY "
	    "status",
	    challs);
	family(f, "acmebridge_dcv_runs",
	    "Sectigo domain control validation runs stored, by state.");
	rc |= grouped(a, f, "acmebridge_dcv_runs", "state",
	    "SELECT state AS k, count(*) AS n FROM dcv GROUP BY state", NULL);

	family(f, "acmebridge_jobs_queued", "Durable jobs waiting, by kind.");
	rows = acme_db_all(a->db,
	    "SELECT kind, count(*) AS n, min(created) AS oldest FROM jobs "
	    "WHERE state = 'queued' GROUP BY kind",
	    "");
	if (rows == NULL)
		rc = -1;
	json_array_foreach(rows, i, r) {
		fputs("acmebridge_jobs_queued{kind=\"", f);
		mx_label_value(
		    f, json_string_value(json_object_get(r, "kind")));
		fprintf(f, "\"} %lld\n",
		    (long long)json_integer_value(json_object_get(r, "n")));
	}
	family(f, "acmebridge_jobs_oldest_age_seconds",
	    "Age of the oldest waiting job, by kind.");
	json_array_foreach(rows, i, r) {
		long long age =
		    now - json_integer_value(json_object_get(r, "oldest"));
		fputs("acmebridge_jobs_oldest_age_seconds{kind=\"", f);
		mx_label_value(
		    f, json_string_value(json_object_get(r, "kind")));
		fprintf(f, "\"} %lld\n", age > 0 ? age : 0);
	}
	json_decref(rows);

	family(f, "acmebridge_certificates_expiring",
	    "Valid certificates whose notAfter is within the window.");
	r = acme_db_one(a->db,
	    "SELECT coalesce(sum(not_after <= ?), 0) AS d7, count(*) AS d30 "
	    "FROM certificates WHERE not_after > ? AND not_after <= ? AND "
	    "status = 'valid'",
	    "iii", now + 7 * 86400, now, now + 30 * 86400);
	if (r == NULL)
		rc = -1;
	fprintf(f,
	    "acmebridge_certificates_expiring{within=\"7d\"} %lld\n"
	    "acmebridge_certificates_expiring{within=\"30d\"} %lld\n",
	    (long long)json_integer_value(json_object_get(r, "d7")),
	    (long long)json_integer_value(json_object_get(r, "d30")));
	json_decref(r);

	family(f, "acmebridge_scm_domains",
	    "SCM domains as last read, by connector and validation.");
	rows = acme_db_all(a->db,
	    "SELECT connector, coalesce(sum(validated = 1 AND expires > ?), "
	    "0) AS ok, count(*) AS n FROM scm_domains GROUP BY connector",
	    "i", now);
	if (rows == NULL)
		rc = -1;
	json_array_foreach(rows, i, r) {
		const char *c =
		    json_string_value(json_object_get(r, "connector"));
		long long ok = json_integer_value(json_object_get(r, "ok"));
		long long n = json_integer_value(json_object_get(r, "n"));

		fputs("acmebridge_scm_domains{connector=\"", f);
		mx_label_value(f, c);
		fprintf(f, "\",validated=\"yes\"} %lld\n", ok);
		fputs("acmebridge_scm_domains{connector=\"", f);
		mx_label_value(f, c);
		fprintf(f, "\",validated=\"no\"} %lld\n", n - ok);
	}
	json_decref(rows);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	family(f, "acmebridge_db_gauges_ok",
	    "1 when every database gauge query succeeded.");
	fprintf(f, "acmebridge_db_gauges_ok %d\n", rc == 0);
	family(f, "acmebridge_db_gauges_duration_seconds",
	    "Time the database gauge queries took (cached for 10 s).");
	fprintf(f, "acmebridge_db_gauges_duration_seconds %.6f\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
	        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

struct acme_db *
px_admin_db(struct px_admin *a)
{
	return a->db;
}

/* ---- HTTP ------------------------------------------------------------- */

static void
reply(struct evhttp_request *req, int code, const char *ctype, const char *body,
    size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(out, "Content-Type", ctype);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	if (buf != NULL && body != NULL)
		evbuffer_add(buf, body, len);
	evhttp_send_reply(req, code, NULL, buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

/* Authorization: Bearer <token>, compared in constant time (as hashes,
 * so that the length does not leak either). */
static int
authorized(struct px_admin *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	unsigned char d[32];
	unsigned int dl = 0;

	if (!a->has_token)
		return 1;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	if (EVP_Digest(h, strlen(h), d, &dl, EVP_sha256(), NULL) != 1 ||
	    dl != sizeof(d))
		return 0;
	return CRYPTO_memcmp(d, a->token_hash, sizeof(d)) == 0;
}

static void
unauthorized(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "Bearer realm=\"acmebridge admin\"");
	reply(req, 401, "text/plain; charset=utf-8", "unauthorized\n", 13);
}

static void
serve_metrics(struct px_admin *a, struct evhttp_request *req)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL) {
		reply(req, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	mx_render(f);
	if (a->gauges == NULL || now_s() - a->gauges_at >= GAUGE_CACHE_S) {
		char *g = db_gauges(a);

		if (g != NULL) {
			free(a->gauges);
			a->gauges = g;
			a->gauges_at = now_s();
		}
	}
	if (a->gauges != NULL)
		fputs(a->gauges, f);
	if (fclose(f) != 0) {
		free(text);
		reply(req, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

static void
serve_ready(struct px_admin *a, struct evhttp_request *req)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ok;

	if (f == NULL) {
		reply(req, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	ok = px_admin_ready(a, f);
	if (fclose(f) != 0) {
		free(text);
		reply(req, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	reply(req, ok ? 200 : 503, "text/plain; charset=utf-8", text, len);
	free(text);
}

static void
serve_status(struct px_admin *a, struct evhttp_request *req)
{
	char *html = NULL;
	size_t len = 0;

	if (px_status_page(a, &html, &len) != 0) {
		reply(req, 500, "text/plain", "status page failed\n", 19);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "X-Frame-Options", "DENY");
	reply(req, 200, "text/html; charset=utf-8", html, len);
	free(html);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct px_admin *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t n = strcspn(uri, "?");

#define IS(p) (n == strlen(p) && strncmp(uri, p, n) == 0)
	if (IS("/healthz")) {
		reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
	} else if (IS("/readyz")) {
		serve_ready(a, req);
	} else if (IS("/metrics")) {
		if (!authorized(a, req))
			unauthorized(req);
		else
			serve_metrics(a, req);
	} else if (IS("/") || IS("/status")) {
		if (!a->conf->admin.public_status && !authorized(a, req))
			unauthorized(req);
		else
			serve_status(a, req);
	} else {
		reply(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
	}
#undef IS
}

/* Input filter of a connection that could not get TLS: nothing reaches
 * evhttp, which closes the connection at its timeout. */
static enum bufferevent_filter_result
swallow(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	(void)dst;
	(void)limit;
	(void)mode;
	(void)arg;
	evbuffer_drain(src, evbuffer_get_length(src));
	return BEV_OK;
}

static struct bufferevent *
on_conn(struct event_base *base, void *arg)
{
	struct px_admin *a = arg;
	SSL *ssl = SSL_new(a->ssl);
	struct bufferevent *bev = NULL, *sock;

	if (ssl != NULL)
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		return bev;
	SSL_free(ssl);
	/* NULL would make evhttp speak plain HTTP on the TLS port */
	sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bev = sock != NULL ? bufferevent_filter_new(sock, swallow, NULL,
	                         BEV_OPT_CLOSE_ON_FREE, NULL, NULL)
	                   : NULL;
	if (bev == NULL && sock != NULL)
		bufferevent_free(sock);
	return bev;
}

static SSL_CTX *
admin_tls(const struct px_conf *conf, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	        SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->admin.tls_cert) !=
	    1) {
		snprintf(err, errlen,
		    "config: admin.tls_cert_file: cannot load %s (%s)",
		    conf->admin.tls_cert,
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(
	        ctx, conf->admin.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen,
		    "config: admin.tls_key_file: cannot load %s or it does not "
		    "match admin.tls_cert_file (%s)",
		    conf->admin.tls_key,
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static void *
admin_main(void *arg)
{
	struct px_admin *a = arg;

	event_base_dispatch(a->base);
	return NULL;
}

struct px_admin *
px_admin_start(struct event_base *serving, const struct px_conf *conf,
    char *err, size_t errlen)
{
	struct px_admin *a = calloc(1, sizeof(*a));
	struct timeval sec = {1, 0};
	unsigned int dl = 0;

	if (a == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		return NULL;
	}
	a->conf = conf;
	/* every configured connector has its series from the start */
	for (size_t i = 0; i < conf->n_connectors; i++)
		mx_scm_id(conf->connectors[i].name);
	for (size_t i = 0; i < dns_registry_count(conf->dns); i++)
		mx_dns_id(dns_registry_at(conf->dns, i)->name);
	if (conf->admin.token != NULL) {
		if (EVP_Digest(conf->admin.token, strlen(conf->admin.token),
		        a->token_hash, &dl, EVP_sha256(), NULL) != 1) {
			snprintf(err, errlen, "admin: cannot hash the token");
			goto fail;
		}
		a->has_token = 1;
	}
	if (conf->admin.tls_cert != NULL) {
		a->ssl = admin_tls(conf, err, errlen);
		if (a->ssl == NULL)
			goto fail;
	}
	/* short lock waits: only this thread's requests wait on them */
	a->db = acme_db_open_ro(conf->database, 200, err, errlen);
	if (a->db == NULL)
		goto fail;
	a->base = event_base_new();
	a->http = a->base != NULL ? evhttp_new(a->base) : NULL;
	a->ec = a->base != NULL ? evcurl_new(a->base) : NULL;
	a->probes = calloc(conf->n_connectors + 1, sizeof(*a->probes));
	a->probe_tick = a->base != NULL
	    ? event_new(a->base, -1, EV_PERSIST, on_probe_tick, a)
	    : NULL;
	a->heartbeat = event_new(serving, -1, EV_PERSIST, on_heartbeat, a);
	if (a->http == NULL || a->ec == NULL || a->probes == NULL ||
	    a->probe_tick == NULL || a->heartbeat == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		goto fail;
	}
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(a->http, 1024);
	evhttp_set_max_headers_size(a->http, 8 * 1024);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_gencb(a->http, on_request, a);
	if (a->ssl != NULL)
		evhttp_set_bevcb(a->http, on_conn, a);
	if (evhttp_bind_socket(a->http, conf->admin.host,
	        (ev_uint16_t)conf->admin.port) != 0) {
		snprintf(err, errlen,
		    "config: admin.listen: cannot listen on "
		    "%s:%d: %s",
		    conf->admin.host, conf->admin.port, strerror(errno));
		goto fail;
	}
	a->n_probes = conf->n_connectors;
	for (size_t i = 0; i < conf->n_connectors; i++) {
		struct probe *p = &a->probes[i];
		struct sectigo_conf sc;

		p->a = a;
		p->pc = &conf->connectors[i];
		px_connector_sectigo(p->pc, 10, &sc);
		sc.max_concurrent = 1;
		p->ca = sectigo_ca_new(&sc, a->base, a->ec);
		if (p->ca == NULL)
			log_warn("admin: scm connector=%s: no probe (its "
			         "backend did not start)",
			    p->pc->name);
	}
	mx_heartbeat(now_s());
	event_add(a->heartbeat, &sec);
	event_add(a->probe_tick, &sec);
	/* the first probe at once: readiness needs one SCM answer */
	event_active(a->probe_tick, EV_TIMEOUT, 0);
	if (pthread_create(&a->th, NULL, admin_main, a) != 0) {
		snprintf(err, errlen, "admin: cannot start its thread");
		goto fail;
	}
	a->started = 1;
	log_notice("admin listener on %s://%s:%d (metrics, healthz, readyz, "
	           "status page%s)",
	    a->ssl != NULL ? "https" : "http", conf->admin.host,
	    conf->admin.port, a->has_token ? "; token required" : "");
	return a;
fail:
	px_admin_stop(a);
	return NULL;
}

void
px_admin_stop(struct px_admin *a)
{
	if (a == NULL)
		return;
	if (a->started) {
		event_base_loopexit(a->base, NULL);
		pthread_join(a->th, NULL);
	}
	for (size_t i = 0; a->probes != NULL && i < a->n_probes; i++)
		if (a->probes[i].ca != NULL)
			a->probes[i].ca->ops->free(a->probes[i].ca);
	free(a->probes);
	if (a->heartbeat != NULL)
		event_free(a->heartbeat);
	if (a->probe_tick != NULL)
		event_free(a->probe_tick);
	if (a->http != NULL)
		evhttp_free(a->http);
	evcurl_free(a->ec);
	if (a->base != NULL)
		event_base_free(a->base);
	acme_db_close(a->db);
	SSL_CTX_free(a->ssl);
	free(a->gauges);
	OPENSSL_cleanse(a->token_hash, sizeof(a->token_hash));
	free(a);
}
