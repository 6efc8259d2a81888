/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CA port on the Sectigo Certificate Manager REST API
 * (SCM's public REST API documentation): enroll, find by tag, collect,
 * revoke, details, report, renew, replace, domains and DCV, and a connection
 * test, all as asynchronous HTTPS calls through evcurl.
 */
#include "sectigo/sectigo.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "contrib/clock.h"
#include "contrib/log.h"
#include "contrib/metrics.h"
#include "sectigo/internal.h"

#ifndef ACMEBRIDGE_VERSION
#define ACMEBRIDGE_VERSION "0"
#endif

#define RESP_MAX (1024 * 1024) /* response body cap */
#define FIND_PAGE 200          /* SCM's maximum page size (OAS) */
/* a GET that met a 5xx, a 429 or a dropped connection is sent again at
 * once this many times before the caller hears of it (and backs off) */
#define GET_RETRIES 2
#define FIND_MAX_CANDIDATES 10000 /* details read: the newest by sslId */
#define FIND_MAX_LISTED 200000    /* list entries read for one search */
#define MAX_CONCURRENT 8          /* SCM calls in flight, by default */
#define REPORT_PAGE 500           /* rows asked for per page, when paged */
#define REPORT_MAX 200000         /* rows read for one report at most */
#define TOKEN_DEFAULT_LIFETIME 300
#define TOKEN_EARLY 30 /* refresh this many seconds before expiry */

enum op_kind {
	OP_SUBMIT,
	OP_FIND,
	OP_COLLECT,
	OP_REVOKE,
	OP_TEST,
	OP_DCV,
	OP_DETAILS,
	OP_REPORT,
	OP_RENEW,
	OP_REPLACE,
};

/* The log event of each kind of call (the order of enum op_kind). */
static const char *const op_event[] = {"scm.enroll", "scm.find", "scm.collect",
    "scm.revoke", "scm.test", "scm.dcv", "scm.details", "scm.report",
    "scm.renew", "scm.replace"};

/* Connection test steps, in order. */
enum test_step { T_CONNECTIVITY, T_AUTH, T_ORG, T_API, T_NSTEPS };
static const char *const test_names[T_NSTEPS] = {
    "connectivity", "authentication", "organization", "api"};

struct sca;
struct op;
typedef void op_handler(struct op *op, CURLcode cc, long status);

/* One call of the port (or one connection test): a sequence of HTTP
 * requests, one at a time. */
struct op {
	struct sca *ca;        /* owner */
	enum op_kind kind;     /* which call */
	acme_ca_cb *cb;        /* port callback (not OP_TEST) */
	sectigo_line_cb *line; /* OP_TEST: per check */
	sectigo_done_cb *done; /* OP_TEST: at the end */
	void *arg;             /* callback argument */
	struct op *next;       /* ca->ops list */
	int waiting;           /* queued until a token fetch ends */
	unsigned wait_fetch;   /* the fetch it waits for */
	int in_flight;         /* easy is in evcurl */
	struct event *kick;    /* starts the transfer from the loop */
	int has_slot;          /* holds one of ca->max_inflight slots */
	int queued;            /* in ca's queue, waiting for a slot */
	struct op *qnext;      /* next in that queue */
	int dead;              /* aborted by free; memory released later */
	int probe;             /* OP_TEST: the connectivity check only */
	long long t0;          /* metrics: monotonic ms the request left */

	/* the current HTTP request */
	const char *method;      /* "GET" or "POST" (static) */
	char *path;              /* "/api/..." with query; malloc'd */
	char *body;              /* JSON body or NULL; malloc'd */
	int noauth;              /* send no credentials (connectivity probe) */
	int retried;             /* the 401 retry with a fresh token is used */
	int get_retries;         /* transient failures of this GET resent */
	unsigned token_gen;      /* generation of the bearer token sent */
	CURL *easy;              /* handle, reused across requests */
	struct curl_slist *hdrs; /* request headers (may hold secrets) */
	struct evcurl_buf resp;  /* response body */
	char errbuf[CURL_ERROR_SIZE]; /* curl's error text */
	long total_count;             /* X-Total-Count, -1 when absent */
	int retry_after;              /* Retry-After seconds, 0 when absent */
	struct sectigo_err err;       /* parsed error body (status >= 300) */
	op_handler *handle;           /* what to do with the response */

	/* call data */
	char ref[24];                       /* sslId (decimal) */
	char *tag;                          /* find: the tag */
	char *cn;                           /* find: names[0] */
	long position;                      /* find: list offset */
	int (*known)(void *, const char *); /* find: the caller's ids */
	void *known_arg;
	int tries;           /* find: failed lookups of the current candidate */
	long *cands;         /* find: candidate sslIds */
	size_t n_cands;      /* find: entries in cands */
	size_t cap_cands;    /* find: allocated entries */
	size_t next_cand;    /* find: next detail lookup */
	enum test_step step; /* test: current check */
	int failures;        /* test: failed checks so far */
	size_t prof;         /* test: the profile the api check is at */
	int dcv_v1;          /* dcv status: fell back to the v1 path */
	/* collect, while the details are asked: what collect answered */
	long first_status;               /* its HTTP status */
	int first_code;                  /* its SCM code */
	int first_retry;                 /* its Retry-After */
	int first_pending;               /* it said "not yet" */
	enum acme_ca_status first_class; /* otherwise, its class */
	char first_msg[512];             /* and its error text */
	/* report */
	char *query;               /* the request body, sent with each page */
	struct acme_ca_cert *rows; /* rows read so far (malloc'd strings) */
	size_t n_rows;             /* entries in rows */
	size_t cap_rows;           /* allocated entries */
	size_t skipped;            /* rows without an id */
};

/* One ACME profile as SCM sees it, the connector's defaults filled in. */
struct sca_profile {
	char *name;    /* ACME profile name */
	int cert_type; /* SCM certType */
	int term;      /* days */
	long org_id;   /* organization or department */
};

/* The backend: struct acme_ca first. */
struct sca {
	struct acme_ca base;    /* must be first */
	char *name;             /* connector name */
	char *base_url;         /* without trailing '/' */
	int oauth;              /* 1 = bearer token, 0 = header auth */
	char *token_url;        /* oauth2 */
	const char *token_path; /* path part of token_url, for logs */
	char *client_id;        /* oauth2 */
	char *client_secret;    /* oauth2 (secret) */
	char *login;            /* header auth */
	char *password;         /* header auth (secret) */
	char *customer_uri;     /* header auth */
	char *ca_file;          /* NULL = system store */
	X509_STORE *store;      /* the trust store, loaded once, or NULL */
	char *ext_req;          /* externalRequester or NULL */
	long org_id;            /* organization / department */
	int cert_type;          /* SSL profile id */
	int validity_days;      /* default term */
	long timeout;           /* seconds per HTTP call */
	struct event_base *evb; /* loop */
	struct evcurl *ec;      /* HTTP driver (borrowed) */
	struct op *ops;         /* every live op */
	int max_inflight;       /* SCM calls in flight at most */
	int inflight;           /* slots taken */
	int inflight_peak;      /* the most ever taken at once (tests) */
	struct op *q_head;      /* ops waiting for a slot, oldest first */
	struct op *q_tail;      /* the newest of them */
	int closing;            /* ca_destroy runs: hand out no slots */

	char *token;                 /* bearer token (secret) or NULL */
	long long token_expiry;      /* monotonic ms after which it is stale */
	unsigned token_gen;          /* bumped for each new token */
	CURL *tok_easy;              /* token fetch in progress, or NULL */
	int tok_in_evcurl;           /* tok_easy is in evcurl */
	struct event *tok_kick;      /* starts the token fetch from the loop */
	unsigned fetch_id;           /* bumped for each fetch started */
	struct curl_slist *tok_hdrs; /* token request headers */
	char *tok_form;              /* token request body (secret) */
	struct evcurl_buf tok_resp;  /* token response */
	char tok_errbuf[CURL_ERROR_SIZE]; /* curl's error text */

	struct sca_profile *profiles; /* never empty once built */
	size_t n_profiles;            /* entries in profiles */

	int mx_id;        /* metrics slot (contrib/metrics.h), -1 none */
	long long tok_t0; /* metrics: monotonic ms the token fetch left */

	int depth; /* user callbacks running on the stack */
	int freed; /* free was called while depth > 0 */
};

static const struct acme_ca_ops sectigo_ops;

static int op_send(struct op *op);
static void test_next(struct op *op);
static void test_report(struct op *op, int ok, const char *detail);
static void test_token_result(struct op *op, int ok, const char *detail);

static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Header lists can carry passwords and bearer tokens: wipe them. */
static void
free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		if (p->data != NULL)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static int
add_header(struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *n;
	char *line = NULL;
	int len;

	len = asprintf(&line, "%s: %s", name, value);
	if (len < 0)
		return -ENOMEM;
	n = curl_slist_append(*list, line);
	OPENSSL_cleanse(line, (size_t)len);
	free(line);
	if (n == NULL)
		return -ENOMEM;
	*list = n;
	return 0;
}

/* Length of path without its query string (for messages). */
static int
path_len(const char *path)
{
	return (int)strcspn(path, "?");
}

/* ---- the concurrency limit ----------------------------------------------
 *
 * At most max_inflight HTTP requests of one backend are in flight; a
 * request that finds them all taken waits in a FIFO queue and starts when
 * one ends. A slot is held from the kick to the transfer's end, never while
 * waiting for a token: the token fetch takes no slot, so it cannot wait
 * behind the calls that wait for it.
 */

static void
slot_grant(struct op *op)
{
	struct sca *ca = op->ca;

	op->has_slot = 1;
	if (++ca->inflight > ca->inflight_peak)
		ca->inflight_peak = ca->inflight;
	event_active(op->kick, EV_TIMEOUT, 1);
}

/* Start op's transfer now or when a slot frees (op->kick is set). */
static void
slot_take(struct op *op)
{
	struct sca *ca = op->ca;

	if (op->has_slot) {
		event_active(op->kick, EV_TIMEOUT, 1);
		return;
	}
	if (ca->inflight < ca->max_inflight && ca->q_head == NULL) {
		slot_grant(op);
		return;
	}
	op->queued = 1;
	op->qnext = NULL;
	if (ca->q_tail != NULL)
		ca->q_tail->qnext = op;
	else
		ca->q_head = op;
	ca->q_tail = op;
}

static void
slot_unqueue(struct op *op)
{
	struct sca *ca = op->ca;
	struct op **pp, *prev = NULL;

	if (!op->queued)
		return;
	for (pp = &ca->q_head; *pp != NULL; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp == op) {
			*pp = op->qnext;
			if (ca->q_tail == op)
				ca->q_tail = prev;
			break;
		}
	}
	op->queued = 0;
	op->qnext = NULL;
}

/* op's transfer is over: its slot goes to the oldest waiting op. */
static void
slot_put(struct op *op)
{
	struct sca *ca = op->ca;

	if (!op->has_slot)
		return;
	op->has_slot = 0;
	ca->inflight--;
	if (ca->closing || ca->freed)
		return;
	while (ca->inflight < ca->max_inflight && ca->q_head != NULL) {
		struct op *next = ca->q_head;

		ca->q_head = next->qnext;
		if (ca->q_head == NULL)
			ca->q_tail = NULL;
		next->queued = 0;
		next->qnext = NULL;
		slot_grant(next);
	}
}

void
sectigo_inflight(struct acme_ca *base, int *now, int *peak)
{
	struct sca *ca = (struct sca *)base;

	*now = ca->inflight;
	*peak = ca->inflight_peak;
}

/* ---- lifetime: user callbacks may free the backend ---------------------- */

static void
op_release(struct op *op)
{
	slot_unqueue(op);
	slot_put(op);
	if (op->kick != NULL)
		event_free(op->kick);
	if (op->in_flight)
		evcurl_cancel(op->ca->ec, op->easy);
	if (op->easy != NULL)
		curl_easy_cleanup(op->easy);
	free_headers(op->hdrs);
	evcurl_buf_reset(&op->resp);
	free(op->path);
	free(op->body);
	free(op->tag);
	free(op->cn);
	free(op->cands);
	free(op->query);
	for (size_t i = 0; i < op->n_rows; i++)
		sectigo_cert_clear(&op->rows[i]);
	free(op->rows);
	free(op);
}

/* Stop a token fetch in progress (no callback). */
static void
token_abort(struct sca *ca)
{
	if (ca->tok_kick != NULL)
		event_del(ca->tok_kick);
	if (ca->tok_in_evcurl)
		evcurl_cancel(ca->ec, ca->tok_easy);
	ca->tok_in_evcurl = 0;
	if (ca->tok_easy != NULL)
		curl_easy_cleanup(ca->tok_easy);
	ca->tok_easy = NULL;
}

static void
ca_destroy(struct sca *ca)
{
	ca->closing = 1;
	while (ca->ops != NULL) {
		struct op *op = ca->ops;

		ca->ops = op->next;
		op_release(op);
	}
	token_abort(ca);
	if (ca->tok_kick != NULL)
		event_free(ca->tok_kick);
	free_headers(ca->tok_hdrs);
	free_secret(ca->tok_form);
	if (ca->tok_resp.data != NULL)
		OPENSSL_cleanse(ca->tok_resp.data, ca->tok_resp.len);
	evcurl_buf_reset(&ca->tok_resp);
	free_secret(ca->token);
	free(ca->name);
	free(ca->base_url);
	free(ca->token_url);
	free(ca->client_id);
	free_secret(ca->client_secret);
	free(ca->login);
	free_secret(ca->password);
	free(ca->customer_uri);
	free(ca->ca_file);
	X509_STORE_free(ca->store);
	free(ca->ext_req);
	for (size_t i = 0; i < ca->n_profiles; i++)
		free(ca->profiles[i].name);
	free(ca->profiles);
	free(ca);
}

static void
ca_enter(struct sca *ca)
{
	ca->depth++;
}

/* After a user callback: 1 if the backend was freed (the caller must not
 * touch ca or any of its ops again), else 0. */
static int
ca_leave(struct sca *ca)
{
	ca->depth--;
	if (!ca->freed)
		return 0;
	if (ca->depth == 0)
		ca_destroy(ca);
	return 1;
}

static void
ca_free(struct acme_ca *base)
{
	struct sca *ca = (struct sca *)base;

	if (ca == NULL)
		return;
	if (ca->depth == 0) {
		ca_destroy(ca);
		return;
	}
	/* Called from one of our callbacks: stop every transfer now (no
	 * callback will run), release the memory when the stack unwinds. */
	for (struct op *op = ca->ops; op != NULL; op = op->next) {
		if (op->kick != NULL)
			event_del(op->kick);
		if (op->in_flight)
			evcurl_cancel(ca->ec, op->easy);
		op->in_flight = 0;
		op->waiting = 0;
		op->queued = 0;
		op->qnext = NULL;
		op->dead = 1;
	}
	ca->q_head = ca->q_tail = NULL;
	token_abort(ca);
	ca->freed = 1;
}

static void
op_unlink(struct op *op)
{
	struct op **pp;

	for (pp = &op->ca->ops; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	op->next = NULL;
}

/*
 * Deliver the result of a port call and free op.
 * @return 1 if the callback freed the backend, else 0.
 */
static int
op_finish(struct op *op, struct acme_ca_result *res)
{
	struct sca *ca = op->ca;
	int gone;

	op_unlink(op);
	/* its slot (if any) goes on now: the callback may free ca */
	slot_unqueue(op);
	slot_put(op);
	ca_enter(ca);
	op->cb(op->arg, res);
	gone = ca_leave(ca);
	/* op is off the list (and not in flight): ours to free even if ca
	 * is gone */
	op_release(op);
	return gone;
}

static int
op_result(struct op *op, enum acme_ca_status st, const char *error, long status,
    int code)
{
	struct acme_ca_result res = {0};

	res.status = st;
	res.error = error;
	res.http_status = status;
	res.ca_code = code;
	res.retry_after = op->retry_after;
	return op_finish(op, &res);
}

/* ---- HTTP --------------------------------------------------------------- */

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct op *op = arg;
	size_t len = size * n;
	char line[128];
	const char *v;

	if (len >= sizeof(line))
		return len;
	memcpy(line, buf, len);
	line[len] = '\0';
	v = strchr(line, ':');
	if (v == NULL)
		return len;
	v++;
	if (strncasecmp(line, "X-Total-Count:", 14) == 0) {
		char *end;
		long t = strtol(v, &end, 10);

		if (end != v && t >= 0)
			op->total_count = t;
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		/* delta-seconds only; an HTTP-date is ignored */
		char *end;
		long t = strtol(v, &end, 10);

		if (end != v && t >= 0)
			op->retry_after = t > 86400 ? 86400 : (int)t;
	}
	return len;
}

static void on_op_done(CURL *easy, CURLcode cc, void *arg);
static void on_op_kick(evutil_socket_t fd, short what, void *arg);

/* Header auth (reference §2.1): the three headers on every call. */
static int
auth_headers(struct op *op)
{
	struct sca *ca = op->ca;
	int rc;

	rc = add_header(&op->hdrs, "login", ca->login);
	if (rc == 0)
		rc = add_header(&op->hdrs, "password", ca->password);
	if (rc == 0)
		rc = add_header(&op->hdrs, "customerUri", ca->customer_uri);
	return rc;
}

/* Bearer only: the reference (§2.4) finds customerUri is not declared for
 * bearer calls, and PCM leaves it out. */
static int
bearer_header(struct op *op)
{
	struct sca *ca = op->ca;
	struct curl_slist *n;
	char *line = NULL;
	int len;

	op->token_gen = ca->token_gen;
	len = asprintf(&line, "Authorization: Bearer %s", ca->token);
	if (len < 0)
		return -ENOMEM;
	n = curl_slist_append(op->hdrs, line);
	OPENSSL_cleanse(line, (size_t)len);
	free(line);
	if (n == NULL)
		return -ENOMEM;
	op->hdrs = n;
	return 0;
}

/*
 * The trust store, loaded once per connector. libcurl 7.88 with OpenSSL
 * makes an SSL_CTX for each new connection and reads CURLOPT_CAINFO into
 * it every time, and an enrollment always goes on a new connection
 * (op_start_http): with the system bundle (no ca_file; ~140 roots) that
 * was about 40 ms of the serving thread's CPU per enrollment, with a
 * one-certificate ca_file 0.6 ms (SSL_CTX_new + load, measured on this
 * machine; with the store handed over: 0.24 ms).
 */
static CURLcode
ca_store_cb(CURL *e, void *sslctx, void *arg)
{
	struct sca *ca = arg;

	(void)e;
	SSL_CTX_set1_cert_store(sslctx, ca->store);
	return CURLE_OK;
}

/* ca_file, else the CA bundle and directory libcurl would use by default.
 * When that cannot be loaded the store stays NULL and libcurl reads the
 * file per connection as before, naming it in its error. */
static void
ca_store_load(struct sca *ca)
{
	X509_STORE *st = X509_STORE_new();
	const char *file = ca->ca_file, *dir = NULL;
	CURL *e = NULL;
	int ok = 0;

	if (st == NULL)
		return;
	if (file == NULL) {
		e = curl_easy_init();
		if (e != NULL) {
			curl_easy_getinfo(e, CURLINFO_CAINFO, &file);
			curl_easy_getinfo(e, CURLINFO_CAPATH, &dir);
		}
	}
	if (file != NULL)
		ok = X509_STORE_load_file(st, file) == 1;
	if (dir != NULL)
		ok = X509_STORE_load_path(st, dir) == 1 || ok;
	ERR_clear_error();
	if (e != NULL)
		curl_easy_cleanup(e);
	if (!ok) {
		X509_STORE_free(st);
		return;
	}
	ca->store = st;
}

static void
common_opts(struct sca *ca, CURL *e, char *errbuf)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, ca->timeout);
	curl_easy_setopt(
	    e, CURLOPT_CONNECTTIMEOUT, ca->timeout < 10 ? ca->timeout : 10L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca->store != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ca_store_cb);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, ca);
	} else if (ca->ca_file != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, ca->ca_file);
	}
	curl_easy_setopt(
	    e, CURLOPT_USERAGENT, "acmebridge/" ACMEBRIDGE_VERSION);
	errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
}

/* Start op's current request now (credentials at hand). */
static int
op_start_http(struct op *op)
{
	struct sca *ca = op->ca;
	char *url = NULL;
	int rc = -ENOMEM;

	if (op->easy == NULL)
		op->easy = curl_easy_init();
	else
		curl_easy_reset(op->easy);
	if (op->easy == NULL)
		goto out;
	free_headers(op->hdrs);
	op->hdrs = NULL;
	evcurl_buf_reset(&op->resp);
	op->resp.max = RESP_MAX;
	op->total_count = -1;
	op->retry_after = 0;
	memset(&op->err, 0, sizeof(op->err));
	if (asprintf(&url, "%s%s", ca->base_url, op->path) < 0) {
		url = NULL;
		goto out;
	}
	if (add_header(&op->hdrs, "Accept", "application/json") < 0)
		goto out;
	if (op->body != NULL) {
		struct curl_slist *n;

		if (add_header(&op->hdrs, "Content-Type",
		        "application/json;charset=UTF-8") < 0)
			goto out;
		/* no "Expect: 100-continue" (curl adds it to larger bodies):
		 * it costs a round trip or a one-second wait */
		n = curl_slist_append(op->hdrs, "Expect:");
		if (n == NULL)
			goto out;
		op->hdrs = n;
	}
	if (!op->noauth) {
		if (ca->oauth)
			rc = bearer_header(op);
		else
			rc = auth_headers(op);
		if (rc < 0)
			goto out;
		rc = -ENOMEM;
	}
	common_opts(ca, op->easy, op->errbuf);
	curl_easy_setopt(op->easy, CURLOPT_URL, url);
	curl_easy_setopt(op->easy, CURLOPT_HTTPHEADER, op->hdrs);
	curl_easy_setopt(op->easy, CURLOPT_WRITEFUNCTION, evcurl_buf_write);
	curl_easy_setopt(op->easy, CURLOPT_WRITEDATA, &op->resp);
	curl_easy_setopt(op->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(op->easy, CURLOPT_HEADERDATA, op);
	if (strcmp(op->method, "POST") == 0) {
		const char *b = op->body != NULL ? op->body : "";

		curl_easy_setopt(op->easy, CURLOPT_POSTFIELDS, b);
		curl_easy_setopt(
		    op->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(b));
	}
	/*
	 * libcurl sends a request again, silently, when a reused keep-alive
	 * connection closes before any answer: for an enrollment SCM may
	 * already have stored, that makes a second certificate (seen with
	 * the simulator's lost replies). Requests that create an
	 * enrollment go on a connection of their own, which curl never
	 * retries; a lost reply then reaches the job runner, whose search
	 * by tag finds the enrollment instead.
	 */
	{
		long own = (op->kind == OP_SUBMIT || op->kind == OP_RENEW ||
		               op->kind == OP_REPLACE) &&
		    strcmp(op->method, "POST") == 0;

		curl_easy_setopt(op->easy, CURLOPT_FRESH_CONNECT, own);
		curl_easy_setopt(op->easy, CURLOPT_FORBID_REUSE, own);
	}
	/* The transfer starts from the loop, not here: this may run inside
	 * an evcurl completion callback, and evcurl_add from there can leave
	 * the new transfer without its kick-off timer. */
	if (op->kick == NULL)
		op->kick = evtimer_new(ca->evb, on_op_kick, op);
	if (op->kick == NULL)
		goto out;
	slot_take(op);
	rc = 0;
out:
	free(url);
	return rc;
}

/* " code -16 Unknown user" (or less) for messages. */
static void
code_text(const struct sectigo_err *e, char *buf, size_t sz)
{
	if (e->has_code)
		snprintf(buf, sz, " code %d%s%s", e->code,
		    e->desc[0] != '\0' ? " " : "", e->desc);
	else
		snprintf(
		    buf, sz, "%s%s", e->desc[0] != '\0' ? " " : "", e->desc);
}

/* Error text for a failed call, and the status it maps to. */
static enum acme_ca_status
classify(struct op *op, CURLcode cc, long status, char *msg, size_t msgsz)
{
	struct sca *ca = op->ca;
	int pl = path_len(op->path);
	const struct sectigo_err *e = &op->err;
	char ct[300];

	if (cc == CURLE_WRITE_ERROR) {
		snprintf(msg, msgsz,
		    "SCM %s %.*s: response larger than %d bytes (or out of "
		    "memory)",
		    op->method, pl, op->path, RESP_MAX);
		return ACME_CA_RETRY;
	}
	if (cc != CURLE_OK) {
		/* connection, TLS, timeout: the next attempt may work */
		snprintf(msg, msgsz, "SCM %s %.*s failed: %s", op->method, pl,
		    op->path,
		    op->errbuf[0] != '\0' ? op->errbuf
		                          : curl_easy_strerror(cc));
		return ACME_CA_RETRY;
	}
	code_text(e, ct, sizeof(ct));
	if (status == 401) {
		/* after the retry with a fresh token, or header auth: wrong
		 * credentials get fixed by the operator, not by failing the
		 * order */
		snprintf(msg, msgsz,
		    "SCM authentication failed (401%s): check %s", ct,
		    ca->oauth ? "client_id/client_secret"
		              : "login/password/customerUri");
		return ACME_CA_RETRY;
	}
	if (status == 429) {
		snprintf(msg, msgsz, "SCM %.*s rate limited (429%s)", pl,
		    op->path, ct);
		return ACME_CA_RETRY;
	}
	if (status >= 500) {
		snprintf(msg, msgsz, "SCM %.*s server error (%ld%s)", pl,
		    op->path, status, ct);
		return ACME_CA_RETRY;
	}
	/* 408 Request Timeout, 409 Conflict (a concurrent change) and 425
	 * Too Early say "not now", not "never"; proxies in front of SCM
	 * send them too. The job runner's deadline bounds the retries. */
	if (status == 408 || status == 409 || status == 425) {
		snprintf(msg, msgsz, "SCM %.*s answered %ld%s: retrying", pl,
		    op->path, status, ct);
		return ACME_CA_RETRY;
	}
	if (status >= 400) {
		if (e->has_code)
			snprintf(msg, msgsz, "SCM %.*s refused: %d %s", pl,
			    op->path, e->code, e->desc);
		else
			snprintf(msg, msgsz, "SCM %.*s refused: HTTP %ld%s", pl,
			    op->path, status, ct);
		return ACME_CA_FAILED;
	}
	/* 1xx/3xx (redirects are not followed: credentials stay put) or a
	 * 2xx the caller could not use */
	snprintf(msg, msgsz, "SCM %.*s: unexpected answer HTTP %ld", pl,
	    op->path, status);
	return ACME_CA_RETRY;
}

/* Finish a port call with the classified failure. @return 1 if freed. */
static int
op_fail(struct op *op, CURLcode cc, long status)
{
	char msg[512];
	enum acme_ca_status st = classify(op, cc, status, msg, sizeof(msg));

	return op_result(op, st, msg, status, op->err.code);
}

static int
op_fail_internal(struct op *op, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "SCM connector %s: %s", op->ca->name, what);
	return op_result(op, ACME_CA_RETRY, msg, 0, 0);
}

static void
on_op_kick(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;

	(void)fd;
	(void)what;
	op->t0 = clock_mono_ms();
	if (evcurl_add(op->ca->ec, op->easy, on_op_done, op) == 0) {
		op->in_flight = 1;
		return;
	}
	log_err("scm connector=%s: cannot start HTTP transfer", op->ca->name);
	slot_put(op);
	if (op->kind == OP_TEST)
		test_report(op, 0, "cannot start HTTP transfer");
	else
		op_fail_internal(op, "cannot start HTTP transfer");
}

/* The metrics endpoint of an op's requests. */
static enum mx_scm
op_metric(const struct op *op)
{
	static const enum mx_scm m[] = {[OP_SUBMIT] = MX_SCM_ENROLL,
	    [OP_FIND] = MX_SCM_FIND,
	    [OP_COLLECT] = MX_SCM_COLLECT,
	    [OP_REVOKE] = MX_SCM_REVOKE,
	    [OP_TEST] = MX_SCM_TEST,
	    [OP_DCV] = MX_SCM_DCV,
	    [OP_DETAILS] = MX_SCM_DETAILS,
	    [OP_REPORT] = MX_SCM_REPORT,
	    [OP_RENEW] = MX_SCM_RENEW,
	    [OP_REPLACE] = MX_SCM_REPLACE};

	/* the probe and test-connection's connectivity check: any answer
	 * passes */
	if (op->kind == OP_TEST && (op->probe || op->noauth))
		return MX_SCM_PROBE;
	return m[op->kind];
}

/* Count one finished HTTP request to SCM (contrib/metrics.h), and keep a
 * line about a failure for the status page: method, path without the
 * query, and the status or curl's error (no secrets in either). */
static void
mx_note(struct sca *ca, enum mx_scm ep, CURLcode cc, long status, long long t0,
    const char *curl_err, const char *method, const char *path)
{
	enum mx_outcome o;
	char line[256];

	if (ca->mx_id < 0)
		return;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		o = MX_TIMEOUT;
	else if (cc != CURLE_OK)
		o = MX_ERROR;
	else if (status >= 200 && status < 300)
		o = MX_OK;
	else if (status >= 400 && status < 500)
		o = MX_HTTP_4XX;
	else if (status >= 500)
		o = MX_HTTP_5XX;
	else
		o = MX_HTTP_OTHER;
	mx_scm_call(ca->mx_id, ep, o, (double)(clock_mono_ms() - t0) / 1000.0);
	if (o == MX_OK || (ep == MX_SCM_PROBE && o <= MX_HTTP_OTHER))
		return;
	if (cc != CURLE_OK)
		snprintf(line, sizeof(line), "%s %.*s: %s", method,
		    path_len(path), path,
		    curl_err != NULL ? curl_err : curl_easy_strerror(cc));
	else
		snprintf(line, sizeof(line), "%s %.*s: HTTP %ld", method,
		    path_len(path), path, status);
	mx_scm_error(ca->mx_id, line);
}

static void
on_op_done(CURL *easy, CURLcode cc, void *arg)
{
	struct op *op = arg;
	struct sca *ca = op->ca;
	long status = 0;
	curl_off_t us = 0;

	op->in_flight = 0;
	slot_put(op);
	if (cc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	/* the headers may carry credentials: gone as soon as they are sent */
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	free_headers(op->hdrs);
	op->hdrs = NULL;
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
	if (cc != CURLE_OK) {
		const char *why =
		    op->errbuf[0] != '\0' ? op->errbuf : curl_easy_strerror(cc);
		log_event(LOG_LVL_WARN, op_event[op->kind],
		    (struct log_kv[]){LOG_S("connector", ca->name),
		        LOG_I("duration_ms", us / 1000),
		        LOG_S("outcome", "network"), LOG_S("error", why),
		        LOG_END},
		    "scm connector=%s %s %s -> error: %s", ca->name, op->method,
		    op->path, why);
	} else {
		if (status >= 300)
			sectigo_parse_err(
			    op->resp.data, op->resp.len, &op->err);
		/* the path and SCM's words, never a header (credentials) */
		log_event(status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO,
		    op_event[op->kind],
		    (struct log_kv[]){LOG_S("connector", ca->name),
		        LOG_I("duration_ms", us / 1000),
		        LOG_S("outcome", status < 300 ? "ok" : "error"),
		        LOG_I("status", status), LOG_I("code", op->err.code),
		        LOG_S("error",
		            status >= 300 && op->err.desc[0] != '\0'
		                ? op->err.desc
		                : NULL),
		        LOG_END},
		    "scm connector=%s %s %s -> %ld code=%d", ca->name,
		    op->method, op->path, status, op->err.code);
	}
	mx_note(ca, op_metric(op), cc, status, op->t0,
	    op->errbuf[0] != '\0' ? op->errbuf : NULL, op->method, op->path);
	if (cc == CURLE_OK && status == 401 && ca->oauth && !op->noauth &&
	    !op->retried) {
		/* the token may have been revoked or expired early: fetch a
		 * fresh one and try this call once more */
		op->retried = 1;
		if (ca->token != NULL && op->token_gen == ca->token_gen) {
			free_secret(ca->token);
			ca->token = NULL;
		}
		if (op_send(op) == 0)
			return;
	}
	/* reads are idempotent: one flaky answer (a 503 page, a 429, a
	 * connection closed without a reply) should not cost the caller a
	 * backoff round, nor fail a search whose lookups grow with the
	 * certificates filed under one name */
	if (op->kind != OP_TEST && strcmp(op->method, "GET") == 0 &&
	    op->get_retries < GET_RETRIES &&
	    ((cc == CURLE_OK && (status >= 500 || status == 429)) ||
	        cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR ||
	        cc == CURLE_SEND_ERROR || cc == CURLE_COULDNT_CONNECT)) {
		op->get_retries++;
		if (op_send(op) == 0)
			return;
	}
	op->handle(op, cc, status);
}

/* ---- OAuth2 token ------------------------------------------------------- */

static int
token_valid(const struct sca *ca)
{
	return ca->token != NULL && clock_mono_ms() < ca->token_expiry;
}

static void on_token_done(CURL *easy, CURLcode cc, void *arg);
static void token_settle(struct sca *ca, int ok, const char *msg, long status);

static void
on_tok_kick(evutil_socket_t fd, short what, void *arg)
{
	struct sca *ca = arg;

	(void)fd;
	(void)what;
	ca->tok_t0 = clock_mono_ms();
	if (evcurl_add(ca->ec, ca->tok_easy, on_token_done, ca) == 0) {
		ca->tok_in_evcurl = 1;
		return;
	}
	log_err("scm connector=%s: cannot start HTTP transfer", ca->name);
	token_settle(ca, 0, "cannot start HTTP transfer", 0);
}

static int
token_fetch(struct sca *ca)
{
	char *id = NULL, *secret = NULL;
	int rc = -ENOMEM, len;

	ca->tok_easy = curl_easy_init();
	if (ca->tok_easy == NULL)
		goto out;
	id = sectigo_urlencode(ca->client_id);
	secret = sectigo_urlencode(ca->client_secret);
	if (id == NULL || secret == NULL)
		goto out;
	free_secret(ca->tok_form);
	len = asprintf(&ca->tok_form,
	    "grant_type=client_credentials&client_id=%s&client_secret=%s", id,
	    secret);
	if (len < 0) {
		ca->tok_form = NULL;
		goto out;
	}
	free_headers(ca->tok_hdrs);
	ca->tok_hdrs = NULL;
	if (add_header(&ca->tok_hdrs, "Accept", "application/json") < 0 ||
	    add_header(&ca->tok_hdrs, "Content-Type",
	        "application/x-www-form-urlencoded") < 0)
		goto out;
	evcurl_buf_reset(&ca->tok_resp);
	ca->tok_resp.max = RESP_MAX;
	common_opts(ca, ca->tok_easy, ca->tok_errbuf);
	curl_easy_setopt(ca->tok_easy, CURLOPT_URL, ca->token_url);
	curl_easy_setopt(ca->tok_easy, CURLOPT_HTTPHEADER, ca->tok_hdrs);
	/* not COPYPOSTFIELDS: our copy of the secret is wiped after use */
	curl_easy_setopt(ca->tok_easy, CURLOPT_POSTFIELDS, ca->tok_form);
	curl_easy_setopt(ca->tok_easy, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(ca->tok_easy, CURLOPT_WRITEFUNCTION, evcurl_buf_write);
	curl_easy_setopt(ca->tok_easy, CURLOPT_WRITEDATA, &ca->tok_resp);
	/* started from the loop, as op_start_http explains */
	event_active(ca->tok_kick, EV_TIMEOUT, 1);
	ca->fetch_id++;
	rc = 0;
out:
	free_secret(id);
	free_secret(secret);
	if (rc < 0 && ca->tok_easy != NULL) {
		curl_easy_cleanup(ca->tok_easy);
		ca->tok_easy = NULL;
	}
	return rc;
}

/* Parse the token answer; 0 with the token stored, or -1 with msg set. */
static int
token_take(struct sca *ca, CURLcode cc, long status, char *msg, size_t msgsz)
{
	json_t *root = NULL, *v;
	long long life = TOKEN_DEFAULT_LIFETIME;
	const char *tok;
	int rc = -1;

	if (cc != CURLE_OK) {
		snprintf(msg, msgsz, "SCM token endpoint %s failed: %s",
		    ca->token_path,
		    ca->tok_errbuf[0] != '\0' ? ca->tok_errbuf
		                              : curl_easy_strerror(cc));
		goto out;
	}
	if (status < 200 || status >= 300) {
		struct sectigo_err e;

		sectigo_parse_err(ca->tok_resp.data, ca->tok_resp.len, &e);
		/* an endpoint that echoes the form back must not put the
		 * secret into a log line */
		if (ca->client_secret != NULL && ca->client_secret[0] != '\0' &&
		    strstr(e.desc, ca->client_secret) != NULL)
			snprintf(e.desc, sizeof(e.desc), "(reply withheld)");
		/* Keycloak answers a bad client with 401 invalid_client and
		 * some errors with 400 (reference §2.4, inferred) */
		if (status == 400 || status == 401 || status == 403)
			snprintf(msg, msgsz,
			    "SCM authentication failed (%ld%s%s): check "
			    "client_id/client_secret",
			    status, e.desc[0] != '\0' ? " " : "", e.desc);
		else
			snprintf(msg, msgsz,
			    "SCM token endpoint %s answered %ld%s%s",
			    ca->token_path, status,
			    e.desc[0] != '\0' ? " " : "", e.desc);
		goto out;
	}
	root = json_loadb(ca->tok_resp.data != NULL ? ca->tok_resp.data : "",
	    ca->tok_resp.len, 0, NULL);
	v = json_object_get(root, "access_token");
	tok = json_string_value(v);
	if (tok == NULL || *tok == '\0' || strpbrk(tok, "\r\n") != NULL) {
		snprintf(msg, msgsz,
		    "SCM token endpoint %s answered without a usable "
		    "access_token",
		    ca->token_path);
		goto out;
	}
	v = json_object_get(root, "expires_in");
	if (json_is_integer(v))
		life = json_integer_value(v);
	else if (json_is_real(v))
		life = (long long)json_real_value(v);
	if (life < 0)
		life = 0;
	if (life > 86400)
		life = 86400;
	free_secret(ca->token);
	ca->token = strdup(tok);
	if (ca->token == NULL) {
		snprintf(msg, msgsz, "out of memory");
		goto out;
	}
	ca->token_gen++;
	/* refresh TOKEN_EARLY seconds before expiry; a token shorter-lived
	 * than that serves the calls waiting for it and no more */
	ca->token_expiry = clock_mono_ms() +
	    (life > TOKEN_EARLY ? (life - TOKEN_EARLY) * 1000 : 0);
	rc = 0;
out:
	if (root != NULL) {
		/* the JSON copy holds the token too */
		v = json_object_get(root, "access_token");
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v),
			    json_string_length(v));
	}
	json_decref(root);
	return rc;
}

static void
on_token_done(CURL *easy, CURLcode cc, void *arg)
{
	struct sca *ca = arg;
	char msg[512] = "";
	long status = 0;
	curl_off_t us = 0;
	int ok;

	ca->tok_in_evcurl = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
	/* the request body holds the client secret and the reply the
	 * token: neither is logged, only the outcome */
	if (cc != CURLE_OK)
		log_event(LOG_LVL_WARN, "scm.token",
		    (struct log_kv[]){LOG_S("connector", ca->name),
		        LOG_I("duration_ms", us / 1000),
		        LOG_S("outcome", "network"), LOG_END},
		    "scm connector=%s POST %s -> error: %s", ca->name,
		    ca->token_path,
		    ca->tok_errbuf[0] != '\0' ? ca->tok_errbuf
		                              : curl_easy_strerror(cc));
	else
		log_event(LOG_LVL_INFO, "scm.token",
		    (struct log_kv[]){LOG_S("connector", ca->name),
		        LOG_I("duration_ms", us / 1000),
		        LOG_S("outcome", status < 300 ? "ok" : "error"),
		        LOG_I("status", status), LOG_END},
		    "scm connector=%s POST %s -> %ld", ca->name, ca->token_path,
		    status);
	mx_note(ca, MX_SCM_TOKEN, cc, status, ca->tok_t0,
	    ca->tok_errbuf[0] != '\0' ? ca->tok_errbuf : NULL, "POST",
	    ca->token_path);
	ok = token_take(ca, cc, status, msg, sizeof(msg)) == 0;
	if (!ok)
		log_warn("scm connector=%s: %s", ca->name, msg);
	token_settle(ca, ok, msg, status);
}

/* The token fetch is over: resume the calls that waited for it. */
static void
token_settle(struct sca *ca, int ok, const char *msg, long status)
{
	unsigned fid = ca->fetch_id;

	curl_easy_cleanup(ca->tok_easy);
	ca->tok_easy = NULL;
	free_secret(ca->tok_form);
	ca->tok_form = NULL;
	if (ca->tok_resp.data != NULL)
		OPENSSL_cleanse(ca->tok_resp.data, ca->tok_resp.len);
	evcurl_buf_reset(&ca->tok_resp);

	/* Resume the calls that waited for this fetch, one at a time: any
	 * callback may free the backend or start new calls (which wait for
	 * a newer fetch and are left alone here). */
	ca_enter(ca);
	for (;;) {
		struct op *op = NULL;

		/* the oldest first (ca->ops has the newest at its head), so
		 * the calls reach the concurrency queue in the order made */
		for (struct op *o = ca->ops; o != NULL; o = o->next)
			if (o->waiting && o->wait_fetch == fid && !o->dead)
				op = o;
		if (op == NULL)
			break;
		op->waiting = 0;
		if (op->kind == OP_TEST) {
			if (op->step == T_AUTH)
				test_token_result(op, ok, msg);
			else if (!ok)
				test_report(op, 0, msg);
			else if (op_start_http(op) < 0)
				test_report(
				    op, 0, "cannot start HTTP transfer");
		} else if (!ok) {
			op_result(op, ACME_CA_RETRY, msg, status, 0);
		} else if (op_start_http(op) < 0) {
			op_fail_internal(op, "cannot start HTTP transfer");
		}
		if (ca->freed)
			break;
	}
	ca_leave(ca);
}

/* Send op's current request, fetching a token first when needed.
 * @return 0 (sent or queued) or a negative error (nothing happened). */
static int
op_send(struct op *op)
{
	struct sca *ca = op->ca;

	if (!ca->oauth || op->noauth || token_valid(ca))
		return op_start_http(op);
	if (ca->tok_easy == NULL) {
		int rc = token_fetch(ca);

		if (rc < 0)
			return rc;
	}
	op->waiting = 1;
	op->wait_fetch = ca->fetch_id;
	return 0;
}

static struct op *
op_new(struct sca *ca, enum op_kind kind, acme_ca_cb *cb, void *arg)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->ca = ca;
	op->kind = kind;
	op->cb = cb;
	op->arg = arg;
	op->total_count = -1;
	return op;
}

/* Set the next request of op. path is formatted; body is taken. */
static int op_request(struct op *op, const char *method, char *body,
    op_handler *h, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
op_request(struct op *op, const char *method, char *body, op_handler *h,
    const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	free(op->body);
	op->body = body;
	if (n < 0)
		return -ENOMEM;
	free(op->path);
	op->path = p;
	op->method = method;
	op->handle = h;
	op->retried = 0;
	op->get_retries = 0;
	return 0;
}

/* Register op and send its first request; on failure op is freed and the
 * callback never runs. */
static int
op_launch(struct op *op)
{
	struct sca *ca = op->ca;
	int rc;

	op->next = ca->ops;
	ca->ops = op;
	rc = op_send(op);
	if (rc < 0) {
		op_unlink(op);
		op_release(op);
	}
	return rc;
}

/* Continue op with a new request from inside the loop; on failure the
 * call ends with RETRY. */
static void
op_continue(struct op *op)
{
	if (op_send(op) < 0)
		op_fail_internal(op, "cannot start HTTP transfer");
}

static int
parse_ref(const char *ref, long *out)
{
	char *end;
	long v;

	if (ref == NULL || *ref < '0' || *ref > '9' || strlen(ref) > 10)
		return -EINVAL;
	errno = 0;
	v = strtol(ref, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > INT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static json_t *
resp_json(struct op *op)
{
	if (op->resp.data == NULL)
		return NULL;
	return json_loadb(op->resp.data, op->resp.len, 0, NULL);
}

/* An sslId from a JSON object (int, or a decimal string to be lenient). */
static long
json_ssl_id(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	long id;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		return i > 0 && i <= INT32_MAX ? (long)i : -1;
	}
	if (json_is_string(v) && parse_ref(json_string_value(v), &id) == 0)
		return id;
	return -1;
}

/* ---- submit ------------------------------------------------------------- */

static void
submit_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	json_t *root;
	long id;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	id = json_ssl_id(root, "sslId");
	json_decref(root);
	if (id <= 0) {
		/* SCM took the request but we cannot tell the id: RETRY, and
		 * the caller's find (by tag) recovers the enrollment */
		op_result(op, ACME_CA_RETRY,
		    "SCM /api/ssl/v1/enroll answered without an sslId", status,
		    0);
		return;
	}
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	res.status = ACME_CA_OK;
	res.ca_ref = op->ref;
	res.http_status = status;
	op_finish(op, &res);
}

/* The tag goes into SCM's comments (at most 1024 characters) and is found
 * again as a whole word: no spaces, ',' or ';', and a sane length. */
static int
tag_ok(const char *tag)
{
	size_t n;

	if (tag == NULL)
		return 0;
	n = strlen(tag);
	if (n == 0 || n > 200)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];

		if (c <= ' ' || c == 0x7f || c == ',' || c == ';')
			return 0;
	}
	return 1;
}

static int
check_enroll(const struct acme_ca_enroll *en)
{
	if (en == NULL || !tag_ok(en->tag) || en->csr_pem == NULL ||
	    en->csr_pem[0] == '\0' || en->names == NULL || en->n_names == 0 ||
	    en->validity_days < 0 || en->cert_type < 0 || en->org_id < 0 ||
	    en->org_id > INT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < en->n_names; i++)
		if (en->names[i] == NULL || en->names[i][0] == '\0' ||
		    strchr(en->names[i], ',') != NULL)
			return -EINVAL;
	return 0;
}

static char *
join_names(const struct acme_ca_enroll *en)
{
	size_t len = 1, off = 0;
	char *s;

	for (size_t i = 0; i < en->n_names; i++)
		len += strlen(en->names[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < en->n_names; i++) {
		size_t n = strlen(en->names[i]);

		if (i > 0)
			s[off++] = ',';
		memcpy(s + off, en->names[i], n);
		off += n;
	}
	s[off] = '\0';
	return s;
}

static int
sectigo_submit(struct acme_ca *base, const struct acme_ca_enroll *en,
    acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op = NULL;
	json_t *req = NULL;
	char *sans = NULL, *comment = NULL, *body = NULL;
	int rc;

	if (cb == NULL || check_enroll(en) < 0)
		return -EINVAL;
	rc = -ENOMEM;
	sans = join_names(en);
	if (sans == NULL ||
	    asprintf(&comment, "%s%s", SECTIGO_TAG_PREFIX, en->tag) < 0) {
		comment = NULL;
		goto out;
	}
	/* SCM wants subjAltNames as one comma-separated string; an array
	 * gives -1002 (reference §5.3). The order's profile (cert type, term,
	 * organization) wins over the connector's defaults. */
	req = json_pack("{s:I, s:s, s:s, s:i, s:i, s:s}", "orgId",
	    (json_int_t)(en->org_id > 0 ? en->org_id : ca->org_id), "csr",
	    en->csr_pem, "subjAltNames", sans, "certType",
	    en->cert_type > 0 ? en->cert_type : ca->cert_type, "term",
	    en->validity_days > 0 ? en->validity_days : ca->validity_days,
	    "comments", comment);
	if (req == NULL) {
		/* almost always a CSR or name that is not UTF-8 */
		rc = -EINVAL;
		goto out;
	}
	if (ca->ext_req != NULL &&
	    json_object_set_new(
	        req, "externalRequester", json_string(ca->ext_req)) < 0)
		goto out;
	body = json_dumps(req, JSON_COMPACT);
	if (body == NULL)
		goto out;
	op = op_new(ca, OP_SUBMIT, cb, arg);
	if (op == NULL)
		goto out;
	rc = op_request(op, "POST", body, submit_done, "/api/ssl/v1/enroll");
	body = NULL;
	if (rc < 0)
		goto out;
	rc = op_launch(op);
	op = NULL;
out:
	if (op != NULL)
		op_release(op);
	free(body);
	json_decref(req);
	free(sans);
	free(comment);
	return rc;
}

/* ---- find --------------------------------------------------------------- */

/*
 * The crash-recovery path: find the enrollment whose comments carry our tag.
 * The SSL list (GET /api/ssl/v1?commonName=...) returns only sslId,
 * commonName, subjectAlternativeNames and serialNumber per entry (reference
 * §5.7), never the comments, so each candidate needs a detail lookup
 * (GET /api/ssl/v1/{sslId}). Candidates are tried newest first, taking a
 * larger sslId as newer (ids are handed out in increasing order), since the
 * lost enrollment is almost always the latest one for the name.
 */
static void find_list_done(struct op *op, CURLcode cc, long status);
static void find_detail_done(struct op *op, CURLcode cc, long status);

static int
cmp_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
find_list_page(struct op *op)
{
	char *cn = sectigo_urlencode(op->cn);
	int rc;

	if (cn == NULL)
		return -ENOMEM;
	rc = op_request(op, "GET", NULL, find_list_done,
	    "/api/ssl/v1?commonName=%s&size=%d&position=%ld", cn, FIND_PAGE,
	    op->position);
	free(cn);
	return rc;
}

static void
find_next_detail(struct op *op)
{
	struct acme_ca_result res = {0};
	char id[24];

	/* enrollments the caller holds for other orders are not ours */
	while (op->known != NULL && op->next_cand < op->n_cands) {
		snprintf(id, sizeof(id), "%ld", op->cands[op->next_cand]);
		if (!op->known(op->known_arg, id))
			break;
		op->next_cand++;
	}
	if (op->next_cand >= op->n_cands) {
		res.status = ACME_CA_NOTFOUND;
		res.http_status = 200;
		op_finish(op, &res);
		return;
	}
	if (op_request(op, "GET", NULL, find_detail_done, "/api/ssl/v1/%ld",
	        op->cands[op->next_cand++]) < 0) {
		op_fail_internal(op, "out of memory");
		return;
	}
	op_continue(op);
}

static void
find_list_done(struct op *op, CURLcode cc, long status)
{
	json_t *root = NULL, *item;
	size_t i, page;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	if (!json_is_array(root)) {
		json_decref(root);
		op_fail(op, cc, 0);
		return;
	}
	page = json_array_size(root);
	json_array_foreach(root, i, item) {
		long id = json_ssl_id(item, "sslId");

		if (id <= 0)
			id = json_ssl_id(item, "id");
		if (id <= 0)
			continue;
		if (op->n_cands >= FIND_MAX_CANDIDATES) {
			/* keep the newest (largest sslId) whatever order SCM
			 * lists them in: ours is the most recent one */
			size_t min = 0;

			for (size_t k = 1; k < op->n_cands; k++)
				if (op->cands[k] < op->cands[min])
					min = k;
			if (id > op->cands[min])
				op->cands[min] = id;
			continue;
		}
		if (op->n_cands == op->cap_cands) {
			size_t cap = op->cap_cands ? op->cap_cands * 2 : 64;
			long *c = realloc(op->cands, cap * sizeof(*c));

			if (c == NULL) {
				json_decref(root);
				op_fail_internal(op, "out of memory");
				return;
			}
			op->cands = c;
			op->cap_cands = cap;
		}
		op->cands[op->n_cands++] = id;
	}
	json_decref(root);
	op->position += (long)page;
	/* X-Total-Count says how many there are; without it, a short page
	 * is the last one */
	if (page > 0 && op->position < FIND_MAX_LISTED &&
	    (op->total_count >= 0 ? op->position < op->total_count
	                          : page >= FIND_PAGE)) {
		if (find_list_page(op) < 0) {
			op_fail_internal(op, "out of memory");
			return;
		}
		op_continue(op);
		return;
	}
	if (op->n_cands >= FIND_MAX_CANDIDATES)
		log_warn("scm connector=%s: find cn=%s: more than %d "
		         "certificates, looking at the newest %d only",
		    op->ca->name, op->cn, FIND_MAX_CANDIDATES,
		    FIND_MAX_CANDIDATES);
	if (op->n_cands > 1)
		qsort(op->cands, op->n_cands, sizeof(*op->cands), cmp_desc);
	find_next_detail(op);
}

static void
find_detail_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	json_t *root;
	long id = op->cands[op->next_cand - 1];
	int hit;

	if (cc == CURLE_OK &&
	    (status == 404 ||
	        (status >= 400 && status < 500 &&
	            (op->err.code == -5101 || op->err.code == -124)))) {
		/* gone between the list and the lookup: not ours to find */
		find_next_detail(op);
		return;
	}
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	hit = sectigo_comment_has_tag(
	    json_string_value(json_object_get(root, "comments")), op->tag);
	json_decref(root);
	if (!hit) {
		/* skip duplicates left by the list */
		while (op->next_cand < op->n_cands &&
		    op->cands[op->next_cand] == id)
			op->next_cand++;
		find_next_detail(op);
		return;
	}
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	res.status = ACME_CA_OK;
	res.ca_ref = op->ref;
	res.http_status = status;
	op_finish(op, &res);
}

static int
sectigo_find(struct acme_ca *base, const struct acme_ca_enroll *en,
    acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	int rc = -ENOMEM;

	if (cb == NULL || en == NULL || !tag_ok(en->tag) || en->names == NULL ||
	    en->n_names == 0 || en->names[0] == NULL || en->names[0][0] == '\0')
		return -EINVAL;
	op = op_new(ca, OP_FIND, cb, arg);
	if (op == NULL)
		return -ENOMEM;
	op->tag = strdup(en->tag);
	op->known = en->known;
	op->known_arg = en->known_arg;
	/* SCM files an enrollment under the CSR's CN (or the first SAN
	 * sent when the CSR has none): search where it really is */
	op->cn =
	    strdup(en->cn != NULL && en->cn[0] != '\0' ? en->cn : en->names[0]);
	if (op->tag == NULL || op->cn == NULL || find_list_page(op) < 0)
		goto fail;
	return op_launch(op);
fail:
	op_release(op);
	return rc;
}

/* ---- details and collect ------------------------------------------------ */

/* Does the answer say SCM does not know the sslId? */
static int
unknown_ref(const struct op *op, long status)
{
	return status == 404 ||
	    (status >= 400 && status < 500 &&
	        (op->err.code == -5101 || op->err.code == -124));
}

/* The details answer as one certificate. @return 0 or a negative error
 * (the body is not a details object). */
static int
details_parse(struct op *op, struct acme_ca_cert *cert)
{
	json_t *root = resp_json(op);
	int rc = sectigo_cert_parse(root, cert);

	json_decref(root);
	return rc;
}

static void
details_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	struct acme_ca_cert cert;
	char msg[512];
	int rc;

	if (cc == CURLE_OK && unknown_ref(op, status)) {
		snprintf(msg, sizeof(msg),
		    "SCM has no certificate %s (%ld code %d %s)", op->ref,
		    status, op->err.code, op->err.desc);
		op_result(op, ACME_CA_NOTFOUND, msg, status, op->err.code);
		return;
	}
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	rc = details_parse(op, &cert);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "SCM details of %s: %s", op->ref,
		    rc == -ENOMEM ? "out of memory"
		                  : "the answer is not a certificate object");
		op_result(op, ACME_CA_RETRY, msg, status, 0);
		return;
	}
	res.status = ACME_CA_OK;
	res.ca_ref = op->ref;
	res.http_status = status;
	res.certs = &cert;
	res.n_certs = 1;
	op_finish(op, &res);
	sectigo_cert_clear(&cert);
}

static int
sectigo_details(
    struct acme_ca *base, const char *ca_ref, acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	long id;

	if (cb == NULL || parse_ref(ca_ref, &id) < 0)
		return -EINVAL;
	op = op_new(ca, OP_DETAILS, cb, arg);
	if (op == NULL)
		return -ENOMEM;
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	if (op_request(op, "GET", NULL, details_done, "/api/ssl/v1/%ld", id) <
	    0) {
		op_release(op);
		return -ENOMEM;
	}
	return op_launch(op);
}

/*
 * collect: GET /api/ssl/v1/collect/{sslId}?format=x509R. When SCM says "not
 * yet" (or refuses the download for a reason it does not spell out), one
 * details call tells why: the status goes to ca_status ("Requested" =
 * waiting for an administrator, "Approved"/"Applied" = with the CA), and a
 * status that can never lead to a certificate (Declined, Rejected, Invalid,
 * Revoked) ends the order with the CA's reason. Never more than one details
 * call per collect; if it fails, the collect answer stands as it was.
 * [INF] alt_chain_pem stays NULL: SCM hands out one chain per certificate
 * (x509R); no format documents a second path for the same leaf.
 */
static int
status_final(const char *st)
{
	return strcasecmp(st, "Declined") == 0 ||
	    strcasecmp(st, "Rejected") == 0 || strcasecmp(st, "Invalid") == 0 ||
	    strcasecmp(st, "Revoked") == 0;
}

static void
collect_details_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	struct acme_ca_cert cert = {0};
	char msg[768];
	int have;

	have = cc == CURLE_OK && status >= 200 && status < 300 &&
	    details_parse(op, &cert) == 0 && cert.status[0] != '\0';
	res.http_status = op->first_status;
	res.ca_code = op->first_code;
	res.retry_after = op->first_retry;
	if (have && status_final(cert.status)) {
		const char *what = strcasecmp(cert.status, "Declined") == 0
		    ? "declined the request"
		    : strcasecmp(cert.status, "Rejected") == 0
		    ? "rejected the request"
		    : strcasecmp(cert.status, "Invalid") == 0
		    ? "marked the request invalid"
		    : "revoked the certificate";

		snprintf(msg, sizeof(msg), "SCM %s %s%s%s", what, op->ref,
		    cert.reason[0] != '\0' ? ": " : "",
		    cert.reason[0] != '\0' ? cert.reason
		                           : " (no reason given)");
		res.status = ACME_CA_FAILED;
		res.error = msg;
		res.ca_status = cert.status;
		res.retry_after = 0;
		op_finish(op, &res);
		sectigo_cert_clear(&cert);
		return;
	}
	if (!have)
		log_info("scm connector=%s collect %s: no status from the "
		         "details (%ld)",
		    op->ca->name, op->ref, status);
	if (op->first_pending) {
		res.status = ACME_CA_PENDING;
		res.ca_status = have ? cert.status : NULL;
	} else {
		/* a refusal the details did not explain: as collect said */
		res.status = op->first_class;
		res.error = op->first_msg;
		res.ca_status = have ? cert.status : NULL;
		res.retry_after = op->first_retry;
	}
	op_finish(op, &res);
	sectigo_cert_clear(&cert);
}

/* Ask the details why collect got no certificate; the collect answer is
 * kept in op->first_* for the result. */
static void
collect_ask_details(struct op *op, long status, int pending)
{
	op->first_status = status;
	op->first_code = op->err.code;
	op->first_retry = op->retry_after;
	op->first_pending = pending;
	if (!pending)
		op->first_class = classify(
		    op, CURLE_OK, status, op->first_msg, sizeof(op->first_msg));
	if (op_request(op, "GET", NULL, collect_details_done, "/api/ssl/v1/%s",
	        op->ref) < 0) {
		if (pending)
			op_result(
			    op, ACME_CA_PENDING, NULL, status, op->first_code);
		else
			op_result(op, op->first_class, op->first_msg, status,
			    op->first_code);
		return;
	}
	op_continue(op);
}

static void
collect_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	const struct sectigo_err *e = &op->err;
	char msg[512];
	char *chain = NULL;
	int rc;

	if (cc != CURLE_OK) {
		op_fail(op, cc, status);
		return;
	}
	if (sectigo_collect_pending(status, e, op->resp.data, op->resp.len)) {
		/* "being processed" (code 0 or -1400): the request is with
		 * the CA, so past any approval [INF]; only the other pending
		 * answers (-183 not collectable, -109, an empty body) ask the
		 * details why: an extra call per poll of every order costs
		 * both sides a request */
		if (status >= 400 && (e->code == 0 || e->code == -1400)) {
			res.status = ACME_CA_PENDING;
			res.ca_status = "Applied";
			res.http_status = status;
			res.ca_code = e->code;
			res.retry_after = op->retry_after;
			op_finish(op, &res);
			return;
		}
		collect_ask_details(op, status, 1);
		return;
	}
	if (status >= 200 && status < 300) {
		rc = sectigo_chain_normalize(
		    op->resp.data, op->resp.len, &chain);
		if (rc < 0) {
			/* a garbled download is more likely a transport or
			 * middlebox fault than a property of the certificate:
			 * retry rather than fail the order */
			snprintf(msg, sizeof(msg), "SCM collect %s: %s",
			    op->ref,
			    rc == -ENOMEM ? "out of memory"
			                  : "no parsable certificate in the "
			                    "answer");
			op_result(op, ACME_CA_RETRY, msg, status, 0);
			return;
		}
		res.status = ACME_CA_OK;
		res.ca_ref = op->ref;
		res.chain_pem = chain;
		res.http_status = status;
		res.ca_status = "Issued";
		op_finish(op, &res);
		free(chain);
		return;
	}
	if (status >= 400 && status < 500 && e->code == -110) {
		snprintf(msg, sizeof(msg),
		    "SCM certificate %s was revoked and cannot be collected "
		    "(%ld code %d %s)",
		    op->ref, status, e->code, e->desc);
		res.status = ACME_CA_FAILED;
		res.error = msg;
		res.http_status = status;
		res.ca_code = e->code;
		res.ca_status = "Revoked";
		op_finish(op, &res);
		return;
	}
	if (unknown_ref(op, status)) {
		/* right after an enrollment SCM (or a cache in front of it)
		 * may not know the sslId yet: NOTFOUND, which the job runner
		 * retries for a bounded time before it fails the order */
		snprintf(msg, sizeof(msg),
		    "SCM has no certificate %s (%ld code %d %s)", op->ref,
		    status, e->code, e->desc);
		op_result(op, ACME_CA_NOTFOUND, msg, status, e->code);
		return;
	}
	if (status >= 400 && status < 500 && status != 401 && status != 408 &&
	    status != 409 && status != 425 && status != 429) {
		/* [INF] SCM may refuse the download of a declined or rejected
		 * request with an error of its own (-183, -1113...): the
		 * details tell which */
		collect_ask_details(op, status, 0);
		return;
	}
	op_fail(op, cc, status);
}

static int
sectigo_collect(
    struct acme_ca *base, const char *ca_ref, acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	long id;

	if (cb == NULL || parse_ref(ca_ref, &id) < 0)
		return -EINVAL;
	op = op_new(ca, OP_COLLECT, cb, arg);
	if (op == NULL)
		return -ENOMEM;
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	/* x509R: PEM, leaf first ... root last (reference §5.5) */
	if (op_request(op, "GET", NULL, collect_done,
	        "/api/ssl/v1/collect/%ld?format=x509R", id) < 0) {
		op_release(op);
		return -ENOMEM;
	}
	return op_launch(op);
}

/* ---- revoke ------------------------------------------------------------- */

static void
revoke_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};

	if (cc == CURLE_OK &&
	    ((status >= 200 && status < 300) ||
	        (status >= 400 && status < 500 && op->err.code == -159))) {
		/* -159 "Your certificate already revoked": the goal holds */
		res.status = ACME_CA_OK;
		res.ca_ref = op->ref;
		res.http_status = status;
		res.ca_code = op->err.code;
		op_finish(op, &res);
		return;
	}
	op_fail(op, cc, status);
}

static int
sectigo_revoke(struct acme_ca *base, const char *ca_ref, int reason,
    acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	json_t *req = NULL;
	char *body = NULL, text[64];
	long id;
	int rc = -ENOMEM;

	if (cb == NULL || parse_ref(ca_ref, &id) < 0 || reason < 0 ||
	    reason > 10)
		return -EINVAL;
	/* the reason text keeps the code the client asked for, the
	 * reasonCode is what SCM accepts (see sectigo_revoke_reason) */
	snprintf(text, sizeof(text), "ACME revokeCert (reason %d)", reason);
	req = json_pack("{s:i, s:s}", "reasonCode",
	    sectigo_revoke_reason(reason), "reason", text);
	if (req == NULL)
		return -ENOMEM;
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return -ENOMEM;
	op = op_new(ca, OP_REVOKE, cb, arg);
	if (op == NULL) {
		free(body);
		return -ENOMEM;
	}
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	if (op_request(op, "POST", body, revoke_done, "/api/ssl/v1/revoke/%ld",
	        id) < 0) {
		op_release(op);
		return rc;
	}
	return op_launch(op);
}

/* ---- report ------------------------------------------------------------- */

/*
 * POST /api/report/v1/ssl-certificates (lifecycle notes §0): our
 * organizations' certificates by status and by a date attribute within
 * whole UTC days, serials in hex. The answer is {"reports": [rows]}
 * (public clients read that member); a bare array is taken as well.
 * [UNK] whether the report pages: no client pages it and no position/size
 * is documented, so one request is normally all; [INF] should an answer
 * carry X-Total-Count above the rows read, the rest is asked for with
 * ?position=&size= as the SSL list pages (§3), until a page comes back
 * empty or REPORT_MAX rows are read.
 */
static void report_done(struct op *op, CURLcode cc, long status);

static int
report_page(struct op *op)
{
	char *body = strdup(op->query);
	size_t seen = op->n_rows + op->skipped;

	if (body == NULL)
		return -ENOMEM;
	if (seen == 0)
		return op_request(op, "POST", body, report_done,
		    "/api/report/v1/ssl-certificates");
	return op_request(op, "POST", body, report_done,
	    "/api/report/v1/ssl-certificates?position=%zu&size=%d", seen,
	    REPORT_PAGE);
}

static int
report_add(struct op *op, json_t *row)
{
	struct acme_ca_cert cert;
	int rc = sectigo_cert_parse(row, &cert);

	if (rc == -EINVAL) {
		op->skipped++;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (op->n_rows == op->cap_rows) {
		size_t cap = op->cap_rows ? op->cap_rows * 2 : 64;
		struct acme_ca_cert *r = realloc(op->rows, cap * sizeof(*r));

		if (r == NULL) {
			sectigo_cert_clear(&cert);
			return -ENOMEM;
		}
		op->rows = r;
		op->cap_rows = cap;
	}
	op->rows[op->n_rows++] = cert;
	return 0;
}

static void
report_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	json_t *root, *rows, *row;
	size_t i, page, seen;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	rows = json_is_array(root) ? root : json_object_get(root, "reports");
	if (!json_is_array(rows)) {
		json_decref(root);
		op_result(op, ACME_CA_RETRY,
		    "SCM /api/report/v1/ssl-certificates: the answer holds no "
		    "reports",
		    status, 0);
		return;
	}
	page = json_array_size(rows);
	json_array_foreach(rows, i, row) {
		if (report_add(op, row) < 0) {
			json_decref(root);
			op_fail_internal(op, "out of memory");
			return;
		}
	}
	json_decref(root);
	seen = op->n_rows + op->skipped;
	if (page > 0 && op->total_count >= 0 &&
	    seen < (size_t)op->total_count && seen < REPORT_MAX) {
		if (report_page(op) < 0) {
			op_fail_internal(op, "out of memory");
			return;
		}
		op_continue(op);
		return;
	}
	if (op->skipped > 0)
		log_warn("scm connector=%s: report: %zu rows without an id "
		         "left out",
		    op->ca->name, op->skipped);
	res.status = ACME_CA_OK;
	res.http_status = status;
	res.certs = op->rows;
	res.n_certs = op->n_rows;
	op_finish(op, &res);
}

/* A unix time as the UTC day "YYYY-MM-DD". */
static int
utc_day(long long t, char *buf, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%d", &tm) == 0)
		return -EINVAL;
	return 0;
}

/* The organizations the connector enrolls for: its own and its
 * profiles', each once. */
static json_t *
report_orgs(const struct sca *ca)
{
	json_t *a = json_array();

	if (a == NULL ||
	    json_array_append_new(a, json_integer(ca->org_id)) < 0) {
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < ca->n_profiles; i++) {
		long org = ca->profiles[i].org_id;
		size_t k;

		for (k = 0; k < i; k++)
			if (ca->profiles[k].org_id == org)
				break;
		if (k < i || org == ca->org_id)
			continue;
		if (json_array_append_new(a, json_integer(org)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int
sectigo_report(struct acme_ca *base, const struct acme_ca_report_query *q,
    acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	json_t *req = NULL, *orgs;
	char from[16], to[16];
	int rc = -ENOMEM;

	if (cb == NULL || q == NULL || q->status < 0 || q->status > 4 ||
	    q->date_attr < 0 || q->date_attr == 1 || q->date_attr > 5)
		return -EINVAL;
	if (q->date_attr != 0 &&
	    (q->from < 0 || q->to < q->from ||
	        utc_day(q->from, from, sizeof(from)) < 0 ||
	        utc_day(q->to, to, sizeof(to)) < 0))
		return -EINVAL;
	orgs = report_orgs(ca);
	if (orgs == NULL)
		return -ENOMEM;
	/* "o" hands orgs over, also when json_pack fails */
	req = json_pack("{s:o, s:i, s:s}", "organizationIds", orgs,
	    "certificateStatus", q->status, "serialNumberFormat",
	    "HEXWithLeadingZeros");
	if (req == NULL)
		return -ENOMEM;
	/* [INF] without a date attribute there is no range to send */
	if (q->date_attr != 0 &&
	    (json_object_set_new(req, "certificateDateAttribute",
	         json_integer(q->date_attr)) < 0 ||
	        json_object_set_new(req, "from", json_string(from)) < 0 ||
	        json_object_set_new(req, "to", json_string(to)) < 0))
		goto out;
	op = op_new(ca, OP_REPORT, cb, arg);
	if (op == NULL)
		goto out;
	op->query = json_dumps(req, JSON_COMPACT);
	if (op->query == NULL || report_page(op) < 0) {
		op_release(op);
		goto out;
	}
	rc = op_launch(op);
out:
	json_decref(req);
	return rc;
}

/* ---- renew and replace -------------------------------------------------- */

/* A JSON body, compact; NULL when o is NULL or on allocation failure. o is
 * taken. */
static char *
dump_take(json_t *o)
{
	char *b = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return b;
}

static void
renew_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	char msg[512], ref[24];
	json_t *root;
	long id;

	if (cc == CURLE_OK && unknown_ref(op, status)) {
		snprintf(msg, sizeof(msg),
		    "SCM has no certificate %s to %s (%ld code %d %s)", op->ref,
		    op->kind == OP_RENEW ? "renew" : "replace", status,
		    op->err.code, op->err.desc);
		op_result(op, ACME_CA_NOTFOUND, msg, status, op->err.code);
		return;
	}
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	if (op->kind == OP_REPLACE) {
		/* 204: the same sslId gets the new certificate in time */
		res.status = ACME_CA_OK;
		res.ca_ref = op->ref;
		res.http_status = status;
		op_finish(op, &res);
		return;
	}
	root = resp_json(op);
	id = json_ssl_id(root, "sslId");
	json_decref(root);
	if (id <= 0) {
		/* [INF] SCM made a renewal we cannot name, and nothing finds
		 * it again by tag: renewing once more would only add another
		 * one, so the call fails and the operator looks in SCM */
		snprintf(msg, sizeof(msg),
		    "SCM renewed %s but answered without the new sslId: look "
		    "for the renewal in SCM",
		    op->ref);
		op_result(op, ACME_CA_FAILED, msg, status, 0);
		return;
	}
	snprintf(ref, sizeof(ref), "%ld", id);
	res.status = ACME_CA_OK;
	res.ca_ref = ref;
	res.http_status = status;
	op_finish(op, &res);
}

static int
sectigo_renew(struct acme_ca *base, const char *ca_ref, const char *csr_pem,
    acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	char *body;
	long id;

	if (cb == NULL || parse_ref(ca_ref, &id) < 0 ||
	    (csr_pem != NULL && csr_pem[0] == '\0'))
		return -EINVAL;
	/* renewById wants a JSON object: "" gives -1002 (reference §5.12);
	 * {} renews with the stored CSR */
	body = dump_take(csr_pem != NULL ? json_pack("{s:s}", "csr", csr_pem)
	                                 : json_object());
	if (body == NULL)
		return csr_pem != NULL ? -EINVAL : -ENOMEM;
	op = op_new(ca, OP_RENEW, cb, arg);
	if (op == NULL) {
		free(body);
		return -ENOMEM;
	}
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	if (op_request(op, "POST", body, renew_done,
	        "/api/ssl/v1/renewById/%ld", id) < 0) {
		op_release(op);
		return -ENOMEM;
	}
	return op_launch(op);
}

/* Characters (not bytes) of a UTF-8 string. */
static size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
sectigo_replace(struct acme_ca *base, const char *ca_ref,
    const struct acme_ca_enroll *en, const char *reason, acme_ca_cb *cb,
    void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	json_t *req, *sans;
	const char *cn;
	char *body;
	size_t rlen;
	long id;

	if (cb == NULL || parse_ref(ca_ref, &id) < 0 || en == NULL ||
	    en->csr_pem == NULL || en->csr_pem[0] == '\0' ||
	    en->names == NULL || en->n_names == 0 || reason == NULL)
		return -EINVAL;
	/* SCM: reason 1..512 characters (reference §5.13) */
	rlen = utf8_len(reason);
	if (rlen < 1 || rlen > 512)
		return -EINVAL;
	for (size_t i = 0; i < en->n_names; i++)
		if (en->names[i] == NULL || en->names[i][0] == '\0')
			return -EINVAL;
	req = json_pack("{s:s, s:s, s:[]}", "csr", en->csr_pem, "reason",
	    reason, "subjectAlternativeNames");
	if (req == NULL)
		return -EINVAL; /* not UTF-8 */
	/* unlike enroll, replace takes the names as an array */
	sans = json_object_get(req, "subjectAlternativeNames");
	for (size_t i = 0; i < en->n_names; i++) {
		if (json_array_append_new(sans, json_string(en->names[i])) <
		    0) {
			json_decref(req);
			return -EINVAL;
		}
	}
	/* commonName is 1..64 characters: longer, SCM takes the CSR's */
	cn = en->cn != NULL && en->cn[0] != '\0' ? en->cn : en->names[0];
	if (utf8_len(cn) <= 64 &&
	    json_object_set_new(req, "commonName", json_string(cn)) < 0) {
		json_decref(req);
		return -EINVAL;
	}
	body = dump_take(req);
	if (body == NULL)
		return -ENOMEM;
	op = op_new(ca, OP_REPLACE, cb, arg);
	if (op == NULL) {
		free(body);
		return -ENOMEM;
	}
	snprintf(op->ref, sizeof(op->ref), "%ld", id);
	if (op_request(op, "POST", body, renew_done, "/api/ssl/v1/replace/%ld",
	        id) < 0) {
		op_release(op);
		return -ENOMEM;
	}
	return op_launch(op);
}

/* ---- connection test ---------------------------------------------------- */

/* Report one check. @return 1 if the callback freed the backend. */
static int
test_line(struct op *op, int ok, const char *detail)
{
	struct sca *ca = op->ca;

	if (!ok)
		op->failures++;
	/* the caller prints or logs the line: details at debug level */
	log_debug("scm connector=%s test %s: %s: %s", ca->name,
	    test_names[op->step], ok ? "ok" : "FAILED", detail);
	ca_enter(ca);
	op->line(op->arg, test_names[op->step], ok, detail);
	return ca_leave(ca);
}

static void
test_finish(struct op *op)
{
	struct sca *ca = op->ca;

	op_unlink(op);
	slot_unqueue(op);
	slot_put(op);
	ca_enter(ca);
	op->done(op->arg, op->failures);
	ca_leave(ca);
	op_release(op);
}

/* Report the current check and go on to the next one. */
static void
test_report(struct op *op, int ok, const char *detail)
{
	if (test_line(op, ok, detail))
		return;
	if (op->probe) {
		test_finish(op);
		return;
	}
	if (!ok && op->step <= T_AUTH) {
		/* without a connection or credentials the rest cannot
		 * work: say so rather than waiting for more timeouts */
		enum test_step failed = op->step;

		while (++op->step < T_NSTEPS) {
			char why[96];

			snprintf(why, sizeof(why), "skipped: %s failed",
			    test_names[failed]);
			if (test_line(op, 0, why))
				return;
		}
		test_finish(op);
		return;
	}
	op->step++;
	test_next(op);
}

static void
test_token_result(struct op *op, int ok, const char *detail)
{
	char msg[256];

	if (ok) {
		snprintf(msg, sizeof(msg),
		    "token endpoint %s issued a token for client_id %s",
		    op->ca->token_path, op->ca->client_id);
		test_report(op, 1, msg);
		return;
	}
	test_report(op, 0, detail);
}

static void
test_conn_done(struct op *op, CURLcode cc, long status)
{
	char msg[512];

	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", op->ca->base_url,
		    op->errbuf[0] != '\0' ? op->errbuf
		                          : curl_easy_strerror(cc));
		test_report(op, 0, msg);
		return;
	}
	/* any HTTP answer proves DNS, TCP and a verified TLS session */
	snprintf(msg, sizeof(msg), "%s answered HTTP %ld over verified TLS",
	    op->ca->base_url, status);
	test_report(op, 1, msg);
}

static void
test_auth_done(struct op *op, CURLcode cc, long status)
{
	char msg[512];

	if (cc == CURLE_OK && status >= 200 && status < 300) {
		snprintf(msg, sizeof(msg),
		    "login %s accepted for customerUri %s", op->ca->login,
		    op->ca->customer_uri);
		test_report(op, 1, msg);
		return;
	}
	classify(op, cc, status, msg, sizeof(msg));
	test_report(op, 0, msg);
}

static int
json_array_has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

static void
test_org_done(struct op *op, CURLcode cc, long status)
{
	struct sca *ca = op->ca;
	json_t *root, *types, *api;
	const char *name;
	char msg[512];
	int ok = 1;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		classify(op, cc, status, msg, sizeof(msg));
		test_report(op, 0, msg);
		return;
	}
	root = resp_json(op);
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(msg, sizeof(msg),
		    "organization %ld: answer is not a JSON object",
		    ca->org_id);
		test_report(op, 0, msg);
		return;
	}
	name = json_string_value(json_object_get(root, "name"));
	types = json_object_get(root, "certTypes");
	api = json_object_get(root, "sslCertsApiEnabled");
	/* A field the answer leaves out is not held against the
	 * organization (older SCM versions may omit it); an explicit "no"
	 * is. */
	if (json_is_array(types) && !json_array_has_string(types, "SSL")) {
		snprintf(msg, sizeof(msg),
		    "organization %ld (%s) does not allow SSL certificates "
		    "(certTypes lacks SSL)",
		    ca->org_id, name != NULL ? name : "?");
		ok = 0;
	} else if (json_is_false(api)) {
		snprintf(msg, sizeof(msg),
		    "organization %ld (%s) has the SSL Web API disabled "
		    "(sslCertsApiEnabled false): enable it in SCM",
		    ca->org_id, name != NULL ? name : "?");
		ok = 0;
	} else {
		snprintf(msg, sizeof(msg),
		    "organization %ld (%s) allows SSL certificates through "
		    "the API",
		    ca->org_id, name != NULL ? name : "?");
	}
	json_decref(root);
	test_report(op, ok, msg);
}

/* Append n to a ", "-separated list in buf (silently cut when full). */
static void
list_add(char *buf, size_t sz, size_t *off, long long n)
{
	int k;

	if (*off + 24 >= sz)
		return;
	k = snprintf(buf + *off, sz - *off, "%s%lld", *off ? ", " : "", n);
	if (k > 0)
		*off += (size_t)k;
}

/* The api check, one line per profile: its cert type is offered to its
 * organization, and its term is one of the type's terms. */
static void
test_api_done(struct op *op, CURLcode cc, long status)
{
	struct sca *ca = op->ca;
	const struct sca_profile *p = &ca->profiles[op->prof];
	json_t *root = NULL, *item, *found = NULL, *terms, *t;
	char head[256], msg[800], why[512], list[200] = "";
	size_t i, off = 0;
	int ok = 0;

	if (p->org_id != ca->org_id)
		snprintf(head, sizeof(head),
		    "profile \"%s\" (certType %d, %d days, organization %ld)",
		    p->name, p->cert_type, p->term, p->org_id);
	else
		snprintf(head, sizeof(head),
		    "profile \"%s\" (certType %d, %d days)", p->name,
		    p->cert_type, p->term);
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		classify(op, cc, status, why, sizeof(why));
		goto out;
	}
	root = resp_json(op);
	json_array_foreach(root, i, item) {
		json_t *id = json_object_get(item, "id");

		if (!json_is_integer(id))
			continue;
		if (json_integer_value(id) == p->cert_type)
			found = item;
		list_add(list, sizeof(list), &off, json_integer_value(id));
	}
	if (found == NULL) {
		snprintf(why, sizeof(why),
		    "certType %d is not offered to organization %ld "
		    "(offered: %s)",
		    p->cert_type, p->org_id, off ? list : "none");
		goto out;
	}
	terms = json_object_get(found, "terms");
	off = 0;
	list[0] = '\0';
	json_array_foreach(terms, i, t) {
		if (!json_is_integer(t))
			continue;
		if (json_integer_value(t) == p->term)
			ok = 1;
		list_add(list, sizeof(list), &off, json_integer_value(t));
	}
	if (ok) {
		const char *name =
		    json_string_value(json_object_get(found, "name"));

		snprintf(why, sizeof(why), "offered%s%s%s",
		    name != NULL ? " (" : "", name != NULL ? name : "",
		    name != NULL ? ")" : "");
	} else {
		snprintf(why, sizeof(why),
		    "certType %d does not offer a term of %d days (terms: "
		    "%s)",
		    p->cert_type, p->term, off ? list : "none");
	}
out:
	json_decref(root);
	snprintf(msg, sizeof(msg), "%s: %s", head, why);
	if (op->prof + 1 >= ca->n_profiles) {
		test_report(op, ok, msg);
		return;
	}
	/* more profiles: same check, next line */
	if (test_line(op, ok, msg))
		return;
	op->prof++;
	test_next(op);
}

static void
test_next(struct op *op)
{
	struct sca *ca = op->ca;
	int rc = 0;

	switch (op->step) {
	case T_CONNECTIVITY:
		op->noauth = 1;
		rc = op_request(op, "GET", NULL, test_conn_done, "/");
		break;
	case T_AUTH:
		op->noauth = 0;
		if (ca->oauth) {
			/* prove the credentials now, not a cached token */
			if (ca->tok_easy == NULL) {
				free_secret(ca->token);
				ca->token = NULL;
				rc = token_fetch(ca);
				if (rc < 0)
					break;
			}
			op->waiting = 1;
			op->wait_fetch = ca->fetch_id;
			return;
		}
		rc = op_request(
		    op, "GET", NULL, test_auth_done, "/api/organization/v1");
		break;
	case T_ORG:
		rc = op_request(op, "GET", NULL, test_org_done,
		    "/api/organization/v1/%ld", ca->org_id);
		break;
	case T_API:
		rc = op_request(op, "GET", NULL, test_api_done,
		    "/api/ssl/v1/types?organizationId=%ld",
		    ca->profiles[op->prof].org_id);
		break;
	default:
		test_finish(op);
		return;
	}
	if (rc == 0)
		rc = op_send(op);
	if (rc < 0)
		test_report(op, 0, "cannot start HTTP transfer");
}

/* The connectivity check's first request (test-connection and the admin
 * listener's probe share it): an unauthenticated GET of the base URL. */
static int
test_start(struct acme_ca *base, sectigo_line_cb *line, sectigo_done_cb *done,
    void *arg, int probe)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;
	int rc;

	if (ca == NULL || base->ops != &sectigo_ops || line == NULL ||
	    done == NULL)
		return -EINVAL;
	op = op_new(ca, OP_TEST, NULL, arg);
	if (op == NULL)
		return -ENOMEM;
	op->line = line;
	op->done = done;
	op->probe = probe;
	op->step = T_CONNECTIVITY;
	op->noauth = 1;
	rc = op_request(op, "GET", NULL, test_conn_done, "/");
	if (rc < 0) {
		op_release(op);
		return rc;
	}
	return op_launch(op);
}

int
sectigo_test_connection(struct acme_ca *base, sectigo_line_cb *line,
    sectigo_done_cb *done, void *arg)
{
	return test_start(base, line, done, arg, 0);
}

static void
probe_line(void *arg, const char *check, int ok, const char *detail)
{
	(void)arg;
	(void)check;
	(void)ok;
	(void)detail;
}

int
sectigo_probe(struct acme_ca *base, sectigo_done_cb *done, void *arg)
{
	return test_start(base, probe_line, done, arg, 1);
}

/* ---- construction ------------------------------------------------------- */

/*
 * The port (acme/backend.h). Every call returns 0 and later runs its
 * callback exactly once from the loop, or returns -EINVAL (missing tag,
 * CSR or names, a name holding ',', a ca_ref that is not a decimal sslId, a
 * reason outside RFC 5280's 0..10, a replace reason outside 1..512
 * characters, a bad report query) or -ENOMEM and never calls back.
 * Errors: RETRY for transport failures, timeouts, 5xx, 429 and 401 (after
 * one retry with a fresh token); NOTFOUND when SCM does not know the sslId
 * (404, -5101, -124) for collect, details, renew and replace; FAILED for
 * other 4xx; http_status and ca_code carry SCM's answer. Every call's HTTP
 * requests share the backend's max_concurrent slots.
 */
/* ---- domains and domain control validation ------------------------------
 *
 * Paths: the domain API is /api/domain/v1; DCV status is read on v2 (more
 * fields) with a fall back to v1 on 404; start and submit use v1, the
 * paths SCM documents for them. Dates are "yyyy-MM-dd": a validation is
 * taken to end at the start of its expiration day (UTC), the cautious
 * reading.
 */

static long long
scm_date(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strlen(s) < 10 ||
	    sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/* A JSON body {"domain": d} for the DCV calls. */
static char *
dcv_body(const char *domain)
{
	json_t *o = json_pack("{s:s}", "domain", domain);
	char *b = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return b;
}

static int
dcv_domain_ok(const char *d)
{
	size_t n = d ? strlen(d) : 0;

	if (n < 3 || n > 253)
		return 0;
	for (; *d; d++)
		if (!(isalnum((unsigned char)*d) || *d == '-' || *d == '.' ||
		        *d == '_'))
			return 0;
	return 1;
}

static void
dcv_finish_status(struct op *op, json_t *root)
{
	struct acme_ca_result res = {0};
	struct acme_ca_dcv d = {0};
	const char *st = json_string_value(json_object_get(root, "status"));
	const char *os =
	    json_string_value(json_object_get(root, "orderStatus"));

	d.domain = op->cn;
	d.status = st;
	d.order_status = os;
	d.validated = st != NULL && strcmp(st, "VALIDATED") == 0;
	d.rejected = os != NULL && strcmp(os, "REJECTED") == 0;
	d.expires = scm_date(
	    json_string_value(json_object_get(root, "expirationDate")));
	d.host = json_string_value(json_object_get(root, "host"));
	d.point = json_string_value(json_object_get(root, "point"));
	res.status = ACME_CA_OK;
	res.http_status = 200;
	res.dcv = &d;
	op_finish(op, &res);
}

static void
dcv_status_done(struct op *op, CURLcode cc, long status)
{
	json_t *root;

	if (cc == CURLE_OK && status == 404 && !op->dcv_v1 &&
	    !op->err.has_code) {
		/* no v2 on this SCM: the v1 path has the same shape */
		op->dcv_v1 = 1;
		if (op_request(op, "POST", dcv_body(op->cn), dcv_status_done,
		        "/api/dcv/v1/validation/status") < 0) {
			op_fail_internal(op, "out of memory");
			return;
		}
		op_continue(op);
		return;
	}
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	if (!json_is_object(root)) {
		json_decref(root);
		op_fail(op, cc, 0);
		return;
	}
	dcv_finish_status(op, root);
	json_decref(root);
}

/* Start an op about one domain; body may be NULL. */
static int
dcv_launch(struct sca *ca, const char *domain, acme_ca_cb *cb, void *arg,
    op_handler *h, char *body, const char *path)
{
	struct op *op;

	if (cb == NULL || !dcv_domain_ok(domain)) {
		free(body);
		return -EINVAL;
	}
	op = op_new(ca, OP_DCV, cb, arg);
	if (op == NULL || (op->cn = strdup(domain)) == NULL) {
		free(body);
		if (op != NULL)
			op_release(op);
		return -ENOMEM;
	}
	if (op_request(op, "POST", body, h, "%s", path) < 0) {
		op_release(op);
		return -ENOMEM;
	}
	if (body == NULL)
		op->method = "GET";
	return op_launch(op);
}

static int
sectigo_dcv_status(
    struct acme_ca *base, const char *domain, acme_ca_cb *cb, void *arg)
{
	return dcv_launch((struct sca *)base, domain, cb, arg, dcv_status_done,
	    dcv_body(domain), "/api/dcv/v2/validation/status");
}

static void
dcv_start_done(struct op *op, CURLcode cc, long status)
{
	json_t *root;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	if (!json_is_object(root) ||
	    !json_is_string(json_object_get(root, "host")) ||
	    !json_is_string(json_object_get(root, "point"))) {
		json_decref(root);
		op_result(op, ACME_CA_FAILED,
		    "SCM started the DCV but sent no host/point to publish",
		    status, 0);
		return;
	}
	dcv_finish_status(op, root);
	json_decref(root);
}

static int
sectigo_dcv_start(struct acme_ca *base, const char *domain, const char *method,
    acme_ca_cb *cb, void *arg)
{
	/* TXT has no start: its submit hands out the value (and SCM starts
	 * looking for it) */
	if (method != NULL && strcmp(method, "txt") == 0)
		return dcv_launch((struct sca *)base, domain, cb, arg,
		    dcv_start_done, dcv_body(domain),
		    "/api/dcv/v1/validation/submit/domain/txt");
	if (method == NULL || strcmp(method, "cname") != 0)
		return -EINVAL;
	return dcv_launch((struct sca *)base, domain, cb, arg, dcv_start_done,
	    dcv_body(domain), "/api/dcv/v1/validation/start/domain/cname");
}

static void
dcv_submit_done(struct op *op, CURLcode cc, long status)
{
	json_t *root;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	if (!json_is_object(root))
		root = json_object();
	dcv_finish_status(op, root);
	json_decref(root);
}

static int
sectigo_dcv_submit(struct acme_ca *base, const char *domain, const char *method,
    acme_ca_cb *cb, void *arg)
{
	char path[80];

	if (method == NULL ||
	    (strcmp(method, "txt") != 0 && strcmp(method, "cname") != 0))
		return -EINVAL;
	snprintf(path, sizeof(path), "/api/dcv/v1/validation/submit/domain/%s",
	    method);
	return dcv_launch((struct sca *)base, domain, cb, arg, dcv_submit_done,
	    dcv_body(domain), path);
}

static void
domain_create_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	struct acme_ca_dcv d = {0};

	/* -700: somebody created it meanwhile; the goal holds */
	if (cc == CURLE_OK &&
	    ((status >= 200 && status < 300) ||
	        (status == 400 && op->err.code == -700))) {
		d.domain = op->cn;
		res.status = ACME_CA_OK;
		res.http_status = status;
		res.dcv = &d;
		op_finish(op, &res);
		return;
	}
	op_fail(op, cc, status);
}

static int
sectigo_domain_create(
    struct acme_ca *base, const char *domain, acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	json_t *o;
	char *body;

	o = json_pack("{s:s, s:s, s:b, s:[{s:I, s:[s], s:[s,s,s]}]}", "name",
	    domain, "description", "added by acmebridge for ACME orders",
	    "active", 1, "delegations", "orgId", (json_int_t)ca->org_id,
	    "certTypes", "SSL", "domainCertificateRequestPrivileges", "DOMAIN",
	    "SUBDOMAIN", "WILDCARD_1ST_LEVEL");
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (body == NULL)
		return -ENOMEM;
	return dcv_launch(
	    ca, domain, cb, arg, domain_create_done, body, "/api/domain/v1");
}

static void domain_list_done(struct op *op, CURLcode cc, long status);

/* Ask for the next candidate: op->tag holds the name being looked up,
 * op->cn the suffix tried now. */
static int
domain_try(struct op *op)
{
	char *q = sectigo_urlencode(op->cn);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	rc = op_request(op, "GET", NULL, domain_list_done,
	    "/api/domain/v1?name=%s&size=10", q);
	free(q);
	return rc;
}

static void
domain_detail_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	struct acme_ca_dcv d = {0};
	json_t *root;
	const char *vs;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	if (!json_is_object(root)) {
		json_decref(root);
		op_fail(op, cc, 0);
		return;
	}
	vs = json_string_value(json_object_get(root, "validationStatus"));
	d.domain = op->cn;
	d.status = vs;
	d.validated = vs != NULL && strcasecmp(vs, "VALIDATED") == 0;
	d.expires =
	    scm_date(json_string_value(json_object_get(root, "dcvExpiration")));
	res.status = ACME_CA_OK;
	res.http_status = status;
	res.dcv = &d;
	op_finish(op, &res);
	json_decref(root);
}

static void
domain_list_done(struct op *op, CURLcode cc, long status)
{
	struct acme_ca_result res = {0};
	json_t *root, *item;
	const char *dot;
	long id = -1;
	size_t i;

	if (cc != CURLE_OK || status < 200 || status >= 300) {
		op_fail(op, cc, status);
		return;
	}
	root = resp_json(op);
	json_array_foreach(root, i, item) {
		const char *n =
		    json_string_value(json_object_get(item, "name"));
		if (n != NULL && strcasecmp(n, op->cn) == 0)
			id = json_ssl_id(item, "id");
	}
	json_decref(root);
	if (id > 0) {
		if (op_request(op, "GET", NULL, domain_detail_done,
		        "/api/domain/v1/%ld", id) < 0) {
			op_fail_internal(op, "out of memory");
			return;
		}
		op_continue(op);
		return;
	}
	/* not held: try the parent, down to a name of two labels */
	dot = strchr(op->cn, '.');
	if (dot == NULL || strchr(dot + 1, '.') == NULL) {
		res.status = ACME_CA_NOTFOUND;
		res.http_status = status;
		op_finish(op, &res);
		return;
	}
	memmove(op->cn, dot + 1, strlen(dot + 1) + 1);
	if (domain_try(op) < 0) {
		op_fail_internal(op, "out of memory");
		return;
	}
	op_continue(op);
}

static int
sectigo_domain_find(
    struct acme_ca *base, const char *name, acme_ca_cb *cb, void *arg)
{
	struct sca *ca = (struct sca *)base;
	struct op *op;

	if (name != NULL && strncmp(name, "*.", 2) == 0)
		name += 2;
	if (cb == NULL || !dcv_domain_ok(name))
		return -EINVAL;
	op = op_new(ca, OP_DCV, cb, arg);
	if (op == NULL)
		return -ENOMEM;
	op->cn = strdup(name);
	if (op->cn == NULL || domain_try(op) < 0) {
		op_release(op);
		return -ENOMEM;
	}
	return op_launch(op);
}

static const struct acme_ca_ops sectigo_ops = {
    .version = ACME_CA_OPS_V1,
    .name = "sectigo",
    .submit = sectigo_submit,
    .find = sectigo_find,
    .collect = sectigo_collect,
    .revoke = sectigo_revoke,
    .free = ca_free,
    .domain_find = sectigo_domain_find,
    .domain_create = sectigo_domain_create,
    .dcv_status = sectigo_dcv_status,
    .dcv_start = sectigo_dcv_start,
    .dcv_submit = sectigo_dcv_submit,
    .details = sectigo_details,
    .report = sectigo_report,
    .renew = sectigo_renew,
    .replace = sectigo_replace,
};

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Header values must not smuggle in more headers. */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
dup_opt(char **dst, const char *src)
{
	if (empty(src))
		return 0;
	*dst = strdup(src);
	return *dst == NULL ? -1 : 0;
}

/* The settings check; logs the first fault. @return 0 or -1. */
static int
conf_check(const struct sectigo_conf *c, const char *name)
{
	const char *why = NULL;

	if (empty(c->base_url) || strncasecmp(c->base_url, "https://", 8) != 0)
		why = "base_url must be an https:// URL";
	else if (empty(c->auth) ||
	    (strcmp(c->auth, "oauth2") != 0 && strcmp(c->auth, "header") != 0))
		why = "auth must be \"oauth2\" or \"header\"";
	else if (strcmp(c->auth, "oauth2") == 0 &&
	    (empty(c->token_url) ||
	        strncasecmp(c->token_url, "https://", 8) != 0))
		why = "oauth2 needs token_url, an https:// URL";
	else if (strcmp(c->auth, "oauth2") == 0 &&
	    (empty(c->client_id) || empty(c->client_secret)))
		why = "oauth2 needs client_id and client_secret";
	else if (strcmp(c->auth, "header") == 0 &&
	    (empty(c->login) || empty(c->password) || empty(c->customer_uri)))
		why = "header auth needs login, password and customer_uri";
	else if (strcmp(c->auth, "header") == 0 &&
	    (!header_safe(c->login) || !header_safe(c->password) ||
	        !header_safe(c->customer_uri)))
		why = "login, password and customer_uri must not hold control "
		      "characters";
	else if (c->org_id <= 0 || c->org_id > INT32_MAX)
		why = "org_id must be a positive number";
	else if (c->cert_type <= 0)
		why = "cert_type must be a positive number";
	else if (c->validity_days <= 0)
		why = "validity_days must be a positive number of days";
	else if (c->timeout_seconds < 0)
		why = "timeout_seconds must not be negative";
	else if (c->max_concurrent < 0)
		why = "max_concurrent must not be negative";
	for (size_t i = 0;
	     why == NULL && c->profiles != NULL && i < c->n_profiles; i++)
		if (c->profiles[i].cert_type < 0 || c->profiles[i].term < 0 ||
		    c->profiles[i].org_id < 0 ||
		    c->profiles[i].org_id > INT32_MAX)
			why = "profile cert_type, term and org_id must not be "
			      "negative";
	if (why == NULL)
		return 0;
	log_err("scm connector=%s: %s", name, why);
	return -1;
}

/* The connector's profiles, defaults filled in; without any, one named
 * "default" from cert_type and validity_days. @return 0 or -ENOMEM. */
static int
profiles_copy(struct sca *ca, const struct sectigo_conf *c)
{
	size_t n = c->n_profiles > 0 && c->profiles != NULL ? c->n_profiles : 1;

	ca->profiles = calloc(n, sizeof(*ca->profiles));
	if (ca->profiles == NULL)
		return -ENOMEM;
	ca->n_profiles = n;
	for (size_t i = 0; i < n; i++) {
		const struct sectigo_profile *p =
		    c->n_profiles > 0 && c->profiles != NULL ? &c->profiles[i]
		                                             : NULL;
		struct sca_profile *d = &ca->profiles[i];

		d->name =
		    strdup(p != NULL && !empty(p->name) ? p->name : "default");
		if (d->name == NULL)
			return -ENOMEM;
		d->cert_type = p != NULL && p->cert_type > 0 ? p->cert_type
		                                             : ca->cert_type;
		d->term =
		    p != NULL && p->term > 0 ? p->term : ca->validity_days;
		d->org_id = p != NULL && p->org_id > 0 ? p->org_id : ca->org_id;
	}
	return 0;
}

struct acme_ca *
sectigo_ca_new(
    const struct sectigo_conf *conf, struct event_base *base, struct evcurl *ec)
{
	const char *name;
	struct sca *ca;
	size_t n;

	if (conf == NULL || base == NULL || ec == NULL) {
		log_err("sectigo_ca_new: missing settings, event base or "
		        "evcurl");
		return NULL;
	}
	name = empty(conf->name) ? "sectigo" : conf->name;
	if (conf_check(conf, name) < 0)
		return NULL;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		goto oom;
	ca->base.ops = &sectigo_ops;
	ca->mx_id = mx_scm_id(name);
	ca->evb = base;
	ca->ec = ec;
	ca->oauth = strcmp(conf->auth, "oauth2") == 0;
	ca->org_id = conf->org_id;
	ca->cert_type = conf->cert_type;
	ca->validity_days = conf->validity_days;
	ca->timeout = conf->timeout_seconds > 0 ? conf->timeout_seconds : 30;
	ca->max_inflight =
	    conf->max_concurrent > 0 ? conf->max_concurrent : MAX_CONCURRENT;
	ca->tok_kick = evtimer_new(base, on_tok_kick, ca);
	if (ca->tok_kick == NULL)
		goto oom;
	if (dup_opt(&ca->name, name) < 0 ||
	    dup_opt(&ca->base_url, conf->base_url) < 0 ||
	    dup_opt(&ca->ca_file, conf->ca_file) < 0 ||
	    dup_opt(&ca->ext_req, conf->external_requester) < 0)
		goto oom;
	if (profiles_copy(ca, conf) < 0)
		goto oom;
	ca_store_load(ca);
	n = strlen(ca->base_url);
	while (n > 8 && ca->base_url[n - 1] == '/')
		ca->base_url[--n] = '\0';
	if (ca->oauth) {
		const char *p;

		if (dup_opt(&ca->token_url, conf->token_url) < 0 ||
		    dup_opt(&ca->client_id, conf->client_id) < 0 ||
		    dup_opt(&ca->client_secret, conf->client_secret) < 0)
			goto oom;
		p = strchr(ca->token_url + 8, '/');
		ca->token_path = p != NULL ? p : "/";
	} else {
		if (dup_opt(&ca->login, conf->login) < 0 ||
		    dup_opt(&ca->password, conf->password) < 0 ||
		    dup_opt(&ca->customer_uri, conf->customer_uri) < 0)
			goto oom;
	}
	return &ca->base;
oom:
	log_err("scm connector=%s: out of memory", name);
	if (ca != NULL)
		ca_destroy(ca);
	return NULL;
}
