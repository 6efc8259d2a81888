/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8555 resources: directory, nonces, accounts, orders, authorizations,
 * challenges, finalize, certificates, revocation and key rollover.
 */
#include "acme/acme.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "acme/csr.h"
#include "acme/ident.h"
#include "acme/jws.h"
#include "acme/ratelimit.h"
#include "acme/state.h"
#include "contrib/b64url.h"
#include "contrib/log.h"

#define ORDERS_PAGE 50
#define KEY_CACHE 256

struct acme_ctx {
	const struct acme_settings *s;
	struct acme_db *db;
	struct acme_nonces *nonces;
	/* Account keys already imported: OpenSSL 3 key import goes through
	 * its decoder machinery and costs more than the ECDSA verify. The
	 * stored JWK text is compared on every hit, so a key change is seen
	 * at once. */
	struct {
		long long acct_id;
		char *jwk;
		EVP_PKEY *key;
	} keys[KEY_CACHE];
};

/* One authenticated request being handled. */
struct call {
	struct acme_ctx *ctx;
	const struct acme_req *req;
	struct acme_resp *resp;
	struct acme_jws jws;
	json_t *payload; /* parsed payload object, NULL for POST-as-GET */
	json_t *account; /* signer's account row (kid requests) */
	EVP_PKEY *key;   /* signer's key */
	char url[1024];  /* the request URL */
};

struct acme_ctx *
acme_ctx_new(const struct acme_settings *s, struct acme_db *db,
    struct acme_nonces *nonces)
{
	struct acme_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->s = s;
	ctx->db = db;
	ctx->nonces = nonces;
	return ctx;
}

void
acme_ctx_free(struct acme_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (int i = 0; i < KEY_CACHE; i++) {
		free(ctx->keys[i].jwk);
		EVP_PKEY_free(ctx->keys[i].key);
	}
	free(ctx);
}

/* The account's public key, from the cache or imported; caller frees. */
static EVP_PKEY *
account_key(struct acme_ctx *ctx, const json_t *acct, struct acme_problem *p)
{
	long long id = acme_row_int(acct, "id");
	const char *jwk_s = acme_row_str(acct, "jwk");
	int slot = (int)(id % KEY_CACHE);
	json_t *jwk;
	EVP_PKEY *key;
	char *copy;

	if (ctx->keys[slot].key != NULL && ctx->keys[slot].acct_id == id &&
	    strcmp(ctx->keys[slot].jwk, jwk_s) == 0) {
		EVP_PKEY_up_ref(ctx->keys[slot].key);
		return ctx->keys[slot].key;
	}
	jwk = json_loads(jwk_s, 0, NULL);
	key = jwk ? acme_jwk_to_pkey(jwk, p) : NULL;
	json_decref(jwk);
	copy = key ? strdup(jwk_s) : NULL;
	if (copy != NULL && EVP_PKEY_up_ref(key) == 1) {
		free(ctx->keys[slot].jwk);
		EVP_PKEY_free(ctx->keys[slot].key);
		ctx->keys[slot].acct_id = id;
		ctx->keys[slot].jwk = copy;
		ctx->keys[slot].key = key;
	} else {
		free(copy);
	}
	return key;
}

void
acme_resp_clear(struct acme_resp *resp)
{
	json_decref(resp->json);
	free(resp->raw);
	memset(resp, 0, sizeof(*resp));
}

const char *
acme_time_str(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- responses ---------------------------------------------------- */

static void
add_link(struct acme_ctx *ctx, struct acme_resp *resp, const char *path,
    const char *rel)
{
	if (resp->nlinks >= 4)
		return;
	if (snprintf(resp->links[resp->nlinks], sizeof(resp->links[0]),
	        "<%s%s>;rel=\"%s\"", path[0] == '/' ? ctx->s->base_url : "",
	        path, rel) < (int)sizeof(resp->links[0]))
		resp->nlinks++;
}

static void
set_json(struct acme_resp *resp, int status, json_t *body)
{
	json_decref(resp->json);
	resp->status = status;
	resp->json = body;
	resp->ctype = "application/json";
}

void
acme_resp_problem(
    struct acme_ctx *ctx, struct acme_resp *resp, struct acme_problem *prob)
{
	json_decref(resp->json);
	free(resp->raw);
	resp->raw = NULL;
	resp->raw_len = 0;
	resp->json = acme_problem_json(prob);
	resp->status = prob->status ? prob->status : 500;
	resp->ctype = "application/problem+json";
	resp->location[0] = '\0';
	resp->nlinks = 0;
	resp->wait = ACME_WAIT_NONE;
	add_link(ctx, resp, "/directory", "index");
	acme_problem_clear(prob);
}

static void fail(struct call *c, int status, const char *type, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct call *c, int status, const char *type, const char *fmt, ...)
{
	struct acme_problem p = {0};
	va_list ap;

	p.type = type;
	p.status = status;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
	va_end(ap);
	acme_resp_problem(c->ctx, c->resp, &p);
}

static void
fail_prob(struct call *c, struct acme_problem *p)
{
	acme_resp_problem(c->ctx, c->resp, p);
}

static void
server_error(struct call *c)
{
	fail(c, 500, "serverInternal",
	    "the server could not complete the request; try again later");
}

static void url_of(struct acme_ctx *ctx, char *buf, size_t len, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* base_url + the formatted path into buf; a URL that does not fit leaves
 * buf empty rather than cut (proxy/conf.c bounds base_url, so this is a
 * last line of defence). */
static void
url_of(struct acme_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s", ctx->s->base_url), m;

	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		buf[0] = '\0';
}

static json_t *url_json(struct acme_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *
url_json(struct acme_ctx *ctx, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "%s", ctx->s->base_url);

	va_start(ap, fmt);
	if (n > 0 && n < (int)sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	return json_string(buf);
}

static char *
random_id(void)
{
	return acme_random_token(16);
}

/* ---- resource representations ----------------------------------- */

static json_t *
account_json(struct acme_ctx *ctx, const json_t *acct)
{
	json_t *contact = json_loads(acme_row_str(acct, "contact"), 0, NULL);
	json_t *o;

	if (contact == NULL)
		contact = json_array();
	o = json_pack("{s:s, s:o, s:b, s:o}", "status",
	    acme_row_str(acct, "status"), "contact", contact,
	    "termsOfServiceAgreed", (int)acme_row_int(acct, "tos_agreed"),
	    "orders",
	    url_json(ctx, "/acct/%s/orders", acme_row_str(acct, "kid")));
	/* RFC 8555 §7.3.4: the binding the account was created with */
	if (o != NULL && acme_row_str(acct, "eab_binding")[0] != '\0' &&
	    json_object_set_new(o, "externalAccountBinding",
	        json_loads(acme_row_str(acct, "eab_binding"), 0, NULL)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *
chall_json(struct acme_ctx *ctx, const json_t *ch)
{
	char tbuf[32];
	json_t *o;

	/* "type" first: some clients stop at the first nested object */
	o = json_pack("{s:s, s:o, s:s, s:s}", "type", acme_row_str(ch, "type"),
	    "url", url_json(ctx, "/chall/%s", acme_row_str(ch, "cid")),
	    "status", acme_row_str(ch, "status"), "token",
	    acme_row_str(ch, "token"));
	if (o == NULL)
		return NULL;
	if (acme_row_int(ch, "validated") > 0)
		json_object_set_new(o, "validated",
		    json_string(acme_time_str(
		        acme_row_int(ch, "validated"), tbuf, sizeof(tbuf))));
	if (json_is_string(json_object_get(ch, "error"))) {
		json_t *e = json_loads(acme_row_str(ch, "error"), 0, NULL);
		if (e != NULL)
			json_object_set_new(o, "error", e);
	}
	return o;
}

/*
 * RFC 8555 §7.1.6: the status an order or authorization has at `now`. One
 * that passed its "expires" before reaching a final state is "expired"
 * (authorization) or "invalid" (order). Computed on every read instead of
 * written, so reads never change the store, and the two kinds expire by
 * the same rule: expires < now.
 */
static const char *
live_status(const json_t *row, int is_order, long long now)
{
	const char *st = acme_row_str(row, "status");

	if (acme_row_int(row, "expires") >= now)
		return st;
	if (is_order)
		return strcmp(st, "pending") == 0 || strcmp(st, "ready") == 0
		    ? "invalid"
		    : st;
	return strcmp(st, "pending") == 0 || strcmp(st, "valid") == 0
	    ? "expired"
	    : st;
}

static json_t *
authz_json(
    struct acme_ctx *ctx, const json_t *az, long long now, int *processing)
{
	json_t *o, *chs, *arr, *ch;
	char tbuf[32];
	size_t i;
	const char *st = acme_row_str(az, "status");

	chs = acme_db_all(ctx->db,
	    "SELECT * FROM challenges WHERE authz_id = ? ORDER BY id", "i",
	    acme_row_int(az, "id"));
	arr = json_array();
	if (chs == NULL || arr == NULL) {
		json_decref(chs);
		json_decref(arr);
		return NULL;
	}
	*processing = 0;
	json_array_foreach(chs, i, ch) {
		const char *cs = acme_row_str(ch, "status");
		/* RFC 8555 §7.1.4: a valid authorization lists the challenge
		 * that validated it; the others are left out so that clients
		 * reading every "status" at once (acme.sh) see no pending */
		if (strcmp(st, "valid") == 0 && strcmp(cs, "valid") != 0)
			continue;
		if (strcmp(cs, "processing") == 0)
			*processing = 1;
		json_array_append_new(arr, chall_json(ctx, ch));
	}
	json_decref(chs);
	o = json_pack("{s:{s:s, s:s}, s:s, s:s, s:o}", "identifier", "type",
	    acme_row_str(az, "id_type"), "value", acme_row_str(az, "id_value"),
	    "status", live_status(az, 0, now), "expires",
	    acme_time_str(acme_row_int(az, "expires"), tbuf, sizeof(tbuf)),
	    "challenges", arr);
	if (o != NULL && acme_row_int(az, "wildcard"))
		json_object_set_new(o, "wildcard", json_true());
	return o;
}

static json_t *
order_json(struct acme_ctx *ctx, const json_t *ord)
{
	json_t *o, *ids, *azs, *arr, *az;
	char tbuf[32];
	size_t i;

	ids = json_loads(acme_row_str(ord, "identifiers"), 0, NULL);
	azs = acme_db_all(ctx->db,
	    "SELECT a.aid FROM order_authzs oa JOIN authzs a ON a.id ="
	    " oa.authz_id WHERE oa.order_id = ? ORDER BY a.id",
	    "i", acme_row_int(ord, "id"));
	arr = json_array();
	if (ids == NULL || azs == NULL || arr == NULL) {
		json_decref(ids);
		json_decref(azs);
		json_decref(arr);
		return NULL;
	}
	json_array_foreach(azs, i, az)
		json_array_append_new(
		    arr, url_json(ctx, "/authz/%s", acme_row_str(az, "aid")));
	json_decref(azs);
	o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "status",
	    acme_row_str(ord, "status"), "expires",
	    acme_time_str(acme_row_int(ord, "expires"), tbuf, sizeof(tbuf)),
	    "identifiers", ids, "authorizations", arr, "finalize",
	    url_json(ctx, "/order/%s/finalize", acme_row_str(ord, "oid")));
	if (o == NULL)
		return NULL;
	if (json_is_string(json_object_get(ord, "crt_id")))
		json_object_set_new(o, "certificate",
		    url_json(ctx, "/cert/%s", acme_row_str(ord, "crt_id")));
	if (json_is_string(json_object_get(ord, "error"))) {
		json_t *e = json_loads(acme_row_str(ord, "error"), 0, NULL);
		if (e != NULL)
			json_object_set_new(o, "error", e);
	}
	return o;
}

static const char order_sql[] =
    "SELECT o.*, c.crt_id FROM orders o LEFT JOIN certificates c ON c.id ="
    " o.cert_id WHERE o.oid = ?";
static const char order_by_id_sql[] =
    "SELECT o.*, c.crt_id FROM orders o LEFT JOIN certificates c ON c.id ="
    " o.cert_id WHERE o.id = ?";

/* Does an authorization of the order lapse by `now`? -1 on a DB error. */
static int
authz_lapsed(struct acme_ctx *ctx, long long order_id, long long now)
{
	json_t *r = acme_db_one(ctx->db,
	    "SELECT count(*) AS n FROM order_authzs oa JOIN authzs a ON a.id"
	    " = oa.authz_id WHERE oa.order_id = ? AND a.status IN ('pending',"
	    " 'valid') AND a.expires < ?",
	    "ii", order_id, now);
	int n = r != NULL ? acme_row_int(r, "n") > 0 : -1;

	json_decref(r);
	return n;
}

/* An order with its status at `now` (live_status; an order waiting on an
 * authorization that expired is invalid too). Nothing is written: the
 * order reads "invalid" without an error, as Boulder and Pebble show it. */
static json_t *
load_order(struct acme_ctx *ctx, const char *sql, const char *fmt,
    const char *sid, long long id, long long now)
{
	json_t *o = fmt[0] == 's' ? acme_db_one(ctx->db, sql, "s", sid)
	                          : acme_db_one(ctx->db, sql, "i", id);
	const char *st;

	if (o == NULL)
		return NULL;
	st = live_status(o, 1, now);
	if ((strcmp(st, "pending") == 0 || strcmp(st, "ready") == 0) &&
	    authz_lapsed(ctx, acme_row_int(o, "id"), now) == 1)
		st = "invalid";
	json_object_set_new(o, "status", json_string(st));
	return o;
}

static void
reply_order(struct call *c, int status, const json_t *ord)
{
	json_t *body = order_json(c->ctx, ord);

	if (body == NULL) {
		server_error(c);
		return;
	}
	set_json(c->resp, status, body);
	url_of(c->ctx, c->resp->location, sizeof(c->resp->location),
	    "/order/%s", acme_row_str(ord, "oid"));
	if (strcmp(acme_row_str(ord, "status"), "processing") == 0)
		c->resp->retry_after = c->ctx->s->retry_after;
}

/* ---- directory and nonces ----------------------------------------- */

static void
h_directory(struct acme_ctx *ctx, struct acme_resp *resp)
{
	json_t *d, *meta;

	meta =
	    json_pack("{s:b}", "externalAccountRequired", ctx->s->require_eab);
	if (ctx->s->tos != NULL && ctx->s->tos[0] != '\0')
		json_object_set_new(
		    meta, "termsOfService", json_string(ctx->s->tos));
	if (ctx->s->website != NULL && ctx->s->website[0] != '\0')
		json_object_set_new(
		    meta, "website", json_string(ctx->s->website));
	if (ctx->s->caa != NULL)
		json_object_set(meta, "caaIdentities", ctx->s->caa);
	d = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "newNonce",
	    url_json(ctx, "%s", "/new-nonce"), "newAccount",
	    url_json(ctx, "%s", "/new-account"), "newOrder",
	    url_json(ctx, "%s", "/new-order"), "revokeCert",
	    url_json(ctx, "%s", "/revoke-cert"), "keyChange",
	    url_json(ctx, "%s", "/key-change"), "meta", meta);
	set_json(resp, 200, d);
}

/* ---- request authentication (RFC 8555 §6.2, §6.3) ---------------- */

static int
content_type_ok(const char *ct)
{
	const char *want = "application/jose+json";
	size_t n = strlen(want);

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	/* a "; charset=..." suffix is fine; media types are case-blind */
	return strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static json_t *
account_by_kid_url(struct acme_ctx *ctx, const char *kid)
{
	char prefix[600];
	size_t n;

	url_of(ctx, prefix, sizeof(prefix), "/acct/");
	n = strlen(prefix);
	if (strncmp(kid, prefix, n) != 0)
		return NULL;
	return acme_db_one(
	    ctx->db, "SELECT * FROM accounts WHERE kid = ?", "s", kid + n);
}

/*
 * Parse, authenticate and check one POST. mode: 0 = kid only, 1 = jwk
 * only (newAccount), 2 = either (revokeCert). Fills c and returns 0, or
 * answers with a problem and returns -1.
 */
static int
authenticate(struct call *c, int mode)
{
	struct acme_ctx *ctx = c->ctx;
	const struct acme_req *req = c->req;
	struct acme_problem p = {0};
	char qless[1024];
	const char *q;
	int presigned = 0;

	if (!content_type_ok(req->content_type)) {
		fail(c, 415, "malformed",
		    "Content-Type must be application/jose+json");
		return -1;
	}
	if (req->body_len > ctx->s->max_body) {
		fail(c, 413, "malformed", "request body larger than %zu bytes",
		    ctx->s->max_body);
		return -1;
	}
	if (acme_jws_parse(req->body, req->body_len, &c->jws, &p) != 0) {
		fail_prob(c, &p);
		return -1;
	}
	/* the JWS "url" names the resource without the query string */
	q = strchr(req->path, '?');
	snprintf(qless, sizeof(qless), "%.*s",
	    (int)(q ? (size_t)(q - req->path) : strlen(req->path)), req->path);
	url_of(ctx, c->url, sizeof(c->url), "%s", qless);
	/* RFC 8555 §6.4: the url is the full request URL; a client following
	 * a Link with a query (orders paging) signs it with the query */
	if (strcmp(c->jws.url, c->url) != 0 &&
	    (q == NULL || strncmp(c->jws.url, c->url, strlen(c->url)) != 0 ||
	        strcmp(c->jws.url + strlen(c->url), q) != 0)) {
		fail(c, 401, "unauthorized",
		    "JWS url \"%.200s\" does not match the request URL "
		    "\"%.200s\"",
		    c->jws.url, c->url);
		return -1;
	}
	if (c->jws.jwk != NULL) {
		if (mode == 0) {
			fail(c, 400, "malformed",
			    "this resource needs a \"kid\" (account URL), "
			    "not a \"jwk\"");
			return -1;
		}
		c->key = acme_jwk_to_pkey(c->jws.jwk, &p);
		if (c->key == NULL) {
			fail_prob(c, &p);
			return -1;
		}
	} else {
		if (mode == 1) {
			fail(c, 400, "malformed",
			    "newAccount must be signed with a \"jwk\"");
			return -1;
		}
		c->account = account_by_kid_url(ctx, c->jws.kid);
		if (c->account == NULL) {
			fail(c, 400, "accountDoesNotExist",
			    "no account with kid \"%.200s\"", c->jws.kid);
			return -1;
		}
		c->key = account_key(ctx, c->account, &p);
		if (c->key == NULL) {
			acme_problem_clear(&p);
			server_error(c);
			return -1;
		}
		/* the front end checked the signature already if it knew the
		 * key: only when that key is still the account's */
		presigned = req->presig != NULL &&
		    strcmp(req->presig->jwk, acme_row_str(c->account, "jwk")) ==
		        0;
		acme_keycache_put(ctx->s->keys, c->jws.kid,
		    acme_row_str(c->account, "jwk"), c->key);
	}
	if (!presigned && acme_jws_verify(&c->jws, c->key, &p) != 0) {
		fail_prob(c, &p);
		return -1;
	}
	/* the signature holds; only now spend the nonce (RFC 8555 §6.5) */
	if (c->jws.nonce == NULL ||
	    acme_nonce_consume(ctx->nonces, c->jws.nonce) != 0) {
		fail(c, 400, "badNonce",
		    "JWS has an invalid anti-replay nonce: \"%.64s\"",
		    c->jws.nonce ? c->jws.nonce : "");
		return -1;
	}
	if (c->account != NULL &&
	    strcmp(acme_row_str(c->account, "status"), "valid") != 0) {
		fail(c, 401, "unauthorized", "account is %s",
		    acme_row_str(c->account, "status"));
		return -1;
	}
	if (c->jws.payload_len > 0) {
		json_error_t je;
		c->payload = json_loadb((const char *)c->jws.payload,
		    c->jws.payload_len, JSON_REJECT_DUPLICATES, &je);
		if (c->payload == NULL || !json_is_object(c->payload)) {
			fail(c, 400, "malformed",
			    "JWS payload is not a JSON object: %s",
			    c->payload ? "not an object" : je.text);
			return -1;
		}
	}
	return 0;
}

static int
owns(struct call *c, const json_t *row)
{
	if (acme_row_int(row, "account_id") == acme_row_int(c->account, "id"))
		return 1;
	fail(c, 403, "unauthorized", "the resource belongs to another account");
	return 0;
}

static void
not_found(struct call *c, const char *what)
{
	fail(c, 404, "malformed", "no such %s", what);
}

/* ---- rate limits ---------------------------------------------------- */

/* One limit a request must pass. */
struct rl_check {
	const struct acme_limit *lim;
	char key[300];
	const char *what;
};

/* Pass every check or none: when one is over its limit nothing is taken
 * and the client gets rateLimited with the longest wait as Retry-After.
 * @return 1 when the request was refused. */
static int
rate_limited(struct call *c, struct rl_check *chk, size_t n)
{
	struct acme_ratelimiter *rl = c->ctx->s->rl;
	long long now_ms = c->req->now * 1000LL, wait, worst = 0;
	const char *what = NULL;

	if (rl == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		wait = acme_rl_peek(rl, chk[i].key, chk[i].lim, now_ms, 1);
		if (wait > worst) {
			worst = wait;
			what = chk[i].what;
		}
	}
	if (worst == 0) {
		for (size_t i = 0; i < n; i++)
			acme_rl_take(rl, chk[i].key, chk[i].lim, now_ms, 1);
		return 0;
	}
	fail(c, 429, "rateLimited", "too many %s; retry after %lld seconds",
	    what, worst);
	c->resp->retry_after = worst > INT_MAX ? INT_MAX : (int)worst;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "certs/set/<sha256 of the sorted identifiers>": one key per name set,
 * whatever the order in which a client lists the names. */
static int
name_set_key(const json_t *ids, char *key, size_t len)
{
	size_t n = json_array_size(ids), i;
	const char **v = calloc(n ? n : 1, sizeof(*v));
	unsigned char md[32];
	EVP_MD_CTX *mdc = EVP_MD_CTX_new();
	int rc = -1;

	if (v == NULL || mdc == NULL ||
	    EVP_DigestInit_ex(mdc, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < n; i++) {
		v[i] = json_string_value(
		    json_object_get(json_array_get(ids, i), "value"));
		if (v[i] == NULL)
			goto out;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(mdc, v[i], strlen(v[i]) + 1) != 1)
			goto out;
	if (EVP_DigestFinal_ex(mdc, md, NULL) != 1 || len < 11 + 65)
		goto out;
	memcpy(key, "certs/set/", 10);
	for (i = 0; i < sizeof(md); i++)
		snprintf(key + 10 + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(mdc);
	free(v);
	return rc;
}

/* ---- accounts ----------------------------------------------------- */

#define MAX_CONTACTS 10

/* A DNS host name: dot-separated labels of letters, digits and inner
 * hyphens, at least two of them, the last not all digits. */
static int
hostname_ok(const char *h, size_t len)
{
	size_t label = 0, labels = 1, digits = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = h[i];

		if (ch == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			digits = 0;
			labels++;
			continue;
		}
		if (ch == '-' ? label == 0
		              : !((ch >= 'a' && ch <= 'z') ||
		                    (ch >= 'A' && ch <= 'Z') ||
		                    (ch >= '0' && ch <= '9')))
			return 0;
		if (ch >= '0' && ch <= '9')
			digits++;
		if (++label > 63)
			return 0;
	}
	return labels >= 2 && label > 0 && h[len - 1] != '-' && digits < label;
}

/* RFC 6068 mailto: with exactly one RFC 5321 address local@domain and no
 * header fields: the local part is dot-atoms (RFC 5322 atext without "%",
 * which a URI would have to escape), the domain a host name. */
static int
mailto_ok(const char *s)
{
	static const char atext[] = "!#$&'*+-/=^_`{|}~";
	const char *addr = s + 7, *at = strchr(addr, '@');
	size_t local = at != NULL ? (size_t)(at - addr) : 0;

	if (at == NULL || local == 0 || local > 64 || strlen(addr) > 254)
		return 0;
	if (addr[0] == '.' || addr[local - 1] == '.')
		return 0;
	for (size_t i = 0; i < local; i++) {
		unsigned char ch = (unsigned char)addr[i];

		if (ch == '.' && addr[i + 1] == '.')
			return 0;
		if (!(ch == '.' || (ch >= 'a' && ch <= 'z') ||
		        (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		        strchr(atext, ch) != NULL))
			return 0;
	}
	return hostname_ok(at + 1, strlen(at + 1));
}

static int
check_contact(struct call *c, const json_t *contact)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(contact)) {
		fail(c, 400, "malformed", "contact must be an array of URLs");
		return -1;
	}
	if (json_array_size(contact) > MAX_CONTACTS) {
		fail(c, 400, "invalidContact", "at most %d contacts",
		    MAX_CONTACTS);
		return -1;
	}
	json_array_foreach(contact, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL) {
			fail(c, 400, "malformed",
			    "contact must be an array of URLs");
			return -1;
		}
		if (strncasecmp(s, "mailto:", 7) != 0) {
			fail(c, 400, "unsupportedContact",
			    "only mailto: contacts are supported");
			return -1;
		}
		if (!mailto_ok(s)) {
			fail(c, 400, "invalidContact",
			    "\"%.100s\" is not a mailto: URL of one e-mail "
			    "address (local@domain, no header fields)",
			    s);
			return -1;
		}
	}
	return 0;
}

static void
reply_account(struct call *c, int status, const json_t *acct)
{
	json_t *body = account_json(c->ctx, acct);

	if (body == NULL) {
		server_error(c);
		return;
	}
	set_json(c->resp, status, body);
	url_of(c->ctx, c->resp->location, sizeof(c->resp->location), "/acct/%s",
	    acme_row_str(acct, "kid"));
}

static void
h_new_account(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	json_t *existing = NULL, *eab, *contact, *row = NULL, *eabrow = NULL;
	char thumb[44], eab_kid[128] = "";
	char *jwk = NULL, *kid = NULL, *contact_s = NULL, *binding = NULL;
	const char *connector = ctx->s->default_connector;
	unsigned char *hmac = NULL;
	size_t hmac_len = 0;

	if (c->payload == NULL) {
		fail(c, 400, "malformed", "newAccount needs a payload");
		return;
	}
	if (acme_jwk_thumbprint(c->jws.jwk, thumb) != 0 ||
	    (jwk = acme_jwk_canonical(c->jws.jwk)) == NULL) {
		fail(c, 400, "badPublicKey", "the account key is not usable");
		return;
	}
	existing = acme_db_one(
	    ctx->db, "SELECT * FROM accounts WHERE thumbprint = ?", "s", thumb);
	if (existing != NULL) {
		/* RFC 8555 §7.3.6: a deactivated account's key is refused */
		if (strcmp(acme_row_str(existing, "status"), "valid") != 0) {
			fail(c, 401, "unauthorized",
			    "the account of this key is %s",
			    acme_row_str(existing, "status"));
			goto out;
		}
		/* RFC 8555 §7.3.1: same key, same account */
		reply_account(c, 200, existing);
		goto out;
	}
	if (json_is_true(json_object_get(c->payload, "onlyReturnExisting"))) {
		fail(c, 400, "accountDoesNotExist",
		    "no account exists with this key");
		goto out;
	}
	if (ctx->s->tos != NULL && ctx->s->tos[0] != '\0' &&
	    !json_is_true(
	        json_object_get(c->payload, "termsOfServiceAgreed"))) {
		fail(c, 403, "userActionRequired",
		    "the terms of service at %s must be agreed to "
		    "(termsOfServiceAgreed: true)",
		    ctx->s->tos);
		add_link(ctx, c->resp, ctx->s->tos, "terms-of-service");
		goto out;
	}
	contact = json_object_get(c->payload, "contact");
	if (contact != NULL && check_contact(c, contact) != 0)
		goto out;
	eab = json_object_get(c->payload, "externalAccountBinding");
	if (eab == NULL && ctx->s->require_eab) {
		fail(c, 400, "externalAccountRequired",
		    "this server requires an External Account Binding");
		goto out;
	}
	if (eab != NULL) {
		if (acme_eab_parse(eab, eab_kid, sizeof(eab_kid), &p) != 0) {
			fail_prob(c, &p);
			goto out;
		}
		eabrow = acme_db_one(ctx->db,
		    "SELECT * FROM eab_keys WHERE kid = ?", "s", eab_kid);
		if (eabrow == NULL) {
			fail(c, 401, "unauthorized",
			    "unknown External Account Binding key \"%.100s\"",
			    eab_kid);
			goto out;
		}
		hmac = b64url_decode_alloc(acme_row_str(eabrow, "hmac_key"),
		    strlen(acme_row_str(eabrow, "hmac_key")), &hmac_len);
		if (hmac == NULL) {
			server_error(c);
			goto out;
		}
		if (acme_eab_verify(
		        eab, hmac, hmac_len, c->url, c->jws.jwk, &p) != 0) {
			fail_prob(c, &p);
			goto out;
		}
		connector = acme_row_str(eabrow, "connector");
		/* RFC 8555 §7.3.4: the account object reflects the binding */
		binding = json_dumps(eab, JSON_COMPACT);
		if (binding == NULL) {
			server_error(c);
			goto out;
		}
	}
	if (c->req->client_ip != NULL) {
		struct rl_check chk = {&ctx->s->limits.accounts_per_ip, "",
		    "new accounts from this address"};

		snprintf(chk.key, sizeof(chk.key), "accounts/ip/%s",
		    c->req->client_ip);
		if (rate_limited(c, &chk, 1))
			goto out;
	}
	kid = random_id();
	contact_s = contact ? json_dumps(contact, JSON_COMPACT) : strdup("[]");
	if (kid == NULL || contact_s == NULL) {
		server_error(c);
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	if (eabrow != NULL &&
	    !json_is_null(json_object_get(eabrow, "max_accounts"))) {
		/* counted inside the write transaction, so concurrent
		 * registrations cannot both take the last place; deactivated
		 * accounts count too */
		long long max = acme_row_int(eabrow, "max_accounts");
		json_t *n = acme_db_one(ctx->db,
		    "SELECT count(*) AS n FROM accounts WHERE eab_kid = ?", "s",
		    eab_kid);

		if (n == NULL)
			goto err;
		if (acme_row_int(n, "n") >= max) {
			json_decref(n);
			acme_db_rollback(ctx->db);
			fail(c, 403, "unauthorized",
			    "External Account Binding key \"%.100s\" has "
			    "already bound its limit of %lld account(s)",
			    eab_kid, max);
			goto out;
		}
		json_decref(n);
	}
	if (acme_db_exec(ctx->db,
	        "INSERT INTO accounts(kid, jwk, thumbprint, status, contact,"
	        " tos_agreed, eab_kid, eab_binding, connector, created)"
	        " VALUES (?, ?, ?, 'valid', ?, ?, ?, ?, ?, ?)",
	        "ssssisssi", kid, jwk, thumb, contact_s,
	        (long long)json_is_true(
	            json_object_get(c->payload, "termsOfServiceAgreed")),
	        eab_kid[0] ? eab_kid : NULL, binding, connector,
	        (long long)c->req->now) != 1) {
		/* same key registered concurrently by another thread */
		acme_db_rollback(ctx->db);
		existing = acme_db_one(ctx->db,
		    "SELECT * FROM accounts WHERE thumbprint = ?", "s", thumb);
		if (existing != NULL)
			reply_account(c, 200, existing);
		else
			server_error(c);
		goto out;
	}
	acme_db_audit(ctx->db, c->req->now, "account.new", kid,
	    eab_kid[0] ? eab_kid : "");
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	row = acme_db_one(
	    ctx->db, "SELECT * FROM accounts WHERE kid = ?", "s", kid);
	if (row == NULL)
		goto err;
	reply_account(c, 201, row);
	goto out;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
out:
	if (hmac != NULL) {
		OPENSSL_cleanse(hmac, hmac_len);
		free(hmac);
	}
	free(jwk);
	free(kid);
	free(contact_s);
	free(binding);
	json_decref(existing);
	json_decref(eabrow);
	json_decref(row);
}

static void
h_account(struct call *c, const char *kid)
{
	struct acme_ctx *ctx = c->ctx;
	json_t *contact, *status, *row = NULL;
	long long id = acme_row_int(c->account, "id");

	if (strcmp(acme_row_str(c->account, "kid"), kid) != 0) {
		fail(c, 403, "unauthorized",
		    "the account URL is not the signer's account");
		return;
	}
	if (c->payload == NULL) {
		reply_account(c, 200, c->account);
		return;
	}
	contact = json_object_get(c->payload, "contact");
	status = json_object_get(c->payload, "status");
	if (contact != NULL && check_contact(c, contact) != 0)
		return;
	if (status != NULL &&
	    (!json_is_string(status) ||
	        strcmp(json_string_value(status), "deactivated") != 0)) {
		fail(c, 400, "malformed",
		    "an account's status can only be set to \"deactivated\"");
		return;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	if (contact != NULL) {
		char *s = json_dumps(contact, JSON_COMPACT);
		int rc = s ? acme_db_exec(ctx->db,
		                 "UPDATE accounts SET contact = ? WHERE id = ?",
		                 "si", s, id)
		           : -1;
		free(s);
		if (rc < 0)
			goto err;
	}
	if (status != NULL) {
		/* RFC 8555 §7.3.6: pending authorizations go with it */
		if (acme_db_exec(ctx->db,
		        "UPDATE accounts SET status = 'deactivated' WHERE id = "
		        "?",
		        "i", id) < 0 ||
		    acme_db_exec(ctx->db,
		        "UPDATE authzs SET status = 'deactivated' WHERE"
		        " account_id = ? AND status IN ('pending', 'valid')",
		        "i", id) < 0)
			goto err;
		acme_db_audit(
		    ctx->db, c->req->now, "account.deactivated", kid, "");
	}
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	row = acme_db_one(
	    ctx->db, "SELECT * FROM accounts WHERE id = ?", "i", id);
	if (row == NULL)
		goto err;
	reply_account(c, 200, row);
	json_decref(row);
	return;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
}

static void
h_orders_list(struct call *c, const char *kid, const char *query)
{
	struct acme_ctx *ctx = c->ctx;
	json_t *rows, *row, *arr;
	long long cursor = 0;
	size_t i;
	char next[256];

	if (strcmp(acme_row_str(c->account, "kid"), kid) != 0) {
		fail(c, 403, "unauthorized",
		    "the orders list belongs to another account");
		return;
	}
	if (query != NULL && strncmp(query, "cursor=", 7) == 0)
		cursor = strtoll(query + 7, NULL, 10);
	rows = acme_db_all(ctx->db,
	    "SELECT id, oid FROM orders WHERE account_id = ? AND id > ?"
	    " ORDER BY id LIMIT ?",
	    "iii", acme_row_int(c->account, "id"), cursor,
	    (long long)ORDERS_PAGE + 1);
	arr = json_array();
	if (rows == NULL || arr == NULL) {
		json_decref(rows);
		json_decref(arr);
		server_error(c);
		return;
	}
	json_array_foreach(rows, i, row) {
		if (i == ORDERS_PAGE) {
			/* a further page exists: RFC 8555 §7.1.2.1 paging */
			snprintf(next, sizeof(next),
			    "/acct/%s/orders?cursor=%lld", kid,
			    acme_row_int(json_array_get(rows, i - 1), "id"));
			add_link(ctx, c->resp, next, "next");
			break;
		}
		json_array_append_new(
		    arr, url_json(ctx, "/order/%s", acme_row_str(row, "oid")));
	}
	json_decref(rows);
	set_json(c->resp, 200, json_pack("{s:o}", "orders", arr));
}

static void
h_key_change(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_jws inner = {0};
	json_t *ipl = NULL, *old = NULL, *other = NULL;
	EVP_PKEY *newkey = NULL;
	char *body = NULL, *jwk = NULL, *oldc = NULL, *curc = NULL;
	char thumb[44], acct_url[600];

	if (c->payload == NULL) {
		fail(c, 400, "malformed", "keyChange needs a JWS payload");
		return;
	}
	/* RFC 8555 §7.3.5: the payload is a JWS signed by the new key */
	body = json_dumps(c->payload, JSON_COMPACT);
	if (body == NULL ||
	    acme_jws_parse(body, strlen(body), &inner, &p) != 0) {
		if (body == NULL)
			server_error(c);
		else
			fail_prob(c, &p);
		goto out;
	}
	if (inner.jwk == NULL) {
		fail(c, 400, "malformed", "the inner JWS must carry a \"jwk\"");
		goto out;
	}
	if (inner.nonce != NULL) {
		fail(c, 400, "malformed",
		    "the inner JWS must not carry a nonce");
		goto out;
	}
	if (strcmp(inner.url, c->url) != 0) {
		fail(c, 400, "malformed",
		    "inner JWS url differs from the outer one");
		goto out;
	}
	newkey = acme_jwk_to_pkey(inner.jwk, &p);
	if (newkey == NULL) {
		fail_prob(c, &p);
		goto out;
	}
	if (acme_jws_verify(&inner, newkey, &p) != 0) {
		fail_prob(c, &p);
		goto out;
	}
	ipl = json_loadb((const char *)inner.payload, inner.payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	url_of(ctx, acct_url, sizeof(acct_url), "/acct/%s",
	    acme_row_str(c->account, "kid"));
	if (!json_is_object(ipl) ||
	    !json_is_string(json_object_get(ipl, "account")) ||
	    strcmp(json_string_value(json_object_get(ipl, "account")),
	        acct_url) != 0) {
		fail(c, 400, "malformed",
		    "inner payload \"account\" must be the signer's account "
		    "URL");
		goto out;
	}
	old = json_object_get(ipl, "oldKey");
	oldc = old ? acme_jwk_canonical(old) : NULL;
	curc = strdup(acme_row_str(c->account, "jwk"));
	if (oldc == NULL || curc == NULL || strcmp(oldc, curc) != 0) {
		fail(c, 400, "malformed",
		    "inner payload \"oldKey\" is not the account's current "
		    "key");
		goto out;
	}
	if (acme_jwk_thumbprint(inner.jwk, thumb) != 0 ||
	    (jwk = acme_jwk_canonical(inner.jwk)) == NULL) {
		fail(c, 400, "badPublicKey", "the new key is not usable");
		goto out;
	}
	other = acme_db_one(ctx->db,
	    "SELECT kid FROM accounts WHERE thumbprint = ?", "s", thumb);
	if (other != NULL) {
		/* "conflict" is no registered ACME error type (RFC 8555
		 * §7.3.5 names only the 409 and the Location) */
		fail(c, 409, "malformed", "the new key is already in use");
		url_of(ctx, c->resp->location, sizeof(c->resp->location),
		    "/acct/%s", acme_row_str(other, "kid"));
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0 ||
	    acme_db_exec(ctx->db,
	        "UPDATE accounts SET jwk = ?, thumbprint = ? WHERE id = ?",
	        "ssi", jwk, thumb, acme_row_int(c->account, "id")) != 1) {
		acme_db_rollback(ctx->db);
		fail(c, 409, "malformed", "the new key is already in use");
		goto out;
	}
	acme_db_audit(ctx->db, c->req->now, "account.keychange",
	    acme_row_str(c->account, "kid"), thumb);
	if (acme_db_commit(ctx->db) != 0) {
		server_error(c);
		goto out;
	}
	json_object_set_new(c->account, "jwk", json_string(jwk));
	reply_account(c, 200, c->account);
out:
	acme_jws_free(&inner);
	EVP_PKEY_free(newkey);
	json_decref(ipl);
	json_decref(other);
	free(body);
	free(jwk);
	free(oldc);
	free(curc);
}

/* ---- orders ------------------------------------------------------- */

static unsigned
challenges_for(struct acme_ctx *ctx, const struct acme_ident *id)
{
	unsigned t = ctx->s->chall_types;

	if (id->wildcard)
		return t & ACME_CHALL_DNS01; /* RFC 8555 §8.4 only */
	if (strcmp(id->type, "ip") == 0)
		return t & ~(unsigned)ACME_CHALL_DNS01; /* RFC 8738 §7 */
	return t;
}

/* A reused authorization must outlive the order's likely use of it by a
 * margin: an hour, or half the reuse window when that is shorter. */
static long long
reuse_margin(long long reuse)
{
	return reuse / 2 < 3600 ? reuse / 2 : 3600;
}

/* Whether id matches a pre-authorization pattern: "name" exactly, or
 * "*.zone" for every name under zone (a wildcard identifier included). */
static int
preauth_match(const json_t *pats, const struct acme_ident *id)
{
	const char *v = id->value;
	size_t i;
	json_t *p;

	json_array_foreach(pats, i, p) {
		const char *pat = json_string_value(p);
		size_t pl, vl = strlen(v);

		if (pat == NULL)
			continue;
		if (strcasecmp(pat, v) == 0)
			return 1;
		if (strcmp(id->type, "dns") != 0 || strncmp(pat, "*.", 2) != 0)
			continue;
		pl = strlen(pat + 1); /* ".zone" */
		if (vl > pl && strcasecmp(v + vl - pl, pat + 1) == 0)
			return 1;
	}
	return 0;
}

static int
add_authz(struct call *c, long long order_id, const struct acme_ident *id,
    long long expires, int preauth, int *all_valid)
{
	struct acme_ctx *ctx = c->ctx;
	static const struct {
		unsigned bit;
		const char *name;
	} types[] = {{ACME_CHALL_HTTP01, "http-01"},
	    {ACME_CHALL_DNS01, "dns-01"},
	    {ACME_CHALL_TLSALPN01, "tls-alpn-01"}};
	long long acct = acme_row_int(c->account, "id"), authz_id;
	const char *base = acme_ident_base(id);
	unsigned want = challenges_for(ctx, id);
	json_t *reuse = NULL;
	char *aid = NULL;
	int rc = -1;

	if (ctx->s->authz_reuse > 0 && !preauth)
		reuse = acme_db_one(ctx->db,
		    "SELECT id FROM authzs WHERE account_id = ? AND id_type = ?"
		    " AND id_value = ? AND wildcard = ? AND status = 'valid'"
		    " AND expires > ? ORDER BY expires DESC LIMIT 1",
		    "issii", acct, id->type, base, (long long)id->wildcard,
		    c->req->now + reuse_margin(ctx->s->authz_reuse));
	if (reuse != NULL) {
		authz_id = acme_row_int(reuse, "id");
		json_decref(reuse);
	} else {
		/* pre-authorized by the account's EAB key: valid from the
		 * start, as are its challenges (nothing to do for the client;
		 * SCM's own domain validation still applies at enrollment) */
		const char *st = preauth ? "valid" : "pending";

		if (!preauth)
			*all_valid = 0;
		aid = random_id();
		if (aid == NULL ||
		    acme_db_exec(ctx->db,
		        "INSERT INTO authzs(aid, account_id, id_type, id_value,"
		        " wildcard, status, expires, created) VALUES (?, ?, ?,"
		        " ?, ?, ?, ?, ?)",
		        "sissisii", aid, acct, id->type, base,
		        (long long)id->wildcard, st, expires, c->req->now) != 1)
			goto out;
		authz_id = acme_db_last_id(ctx->db);
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			char *cid, *token;
			int r;

			if (!(want & types[i].bit))
				continue;
			cid = random_id();
			token = acme_random_token(32);
			r = (cid && token)
			    ? acme_db_exec(ctx->db,
			          "INSERT INTO challenges(cid, authz_id, type,"
			          " token, status, validated) VALUES (?, ?, ?,"
			          " ?, ?, NULLIF(?, 0))",
			          "sisssi", cid, authz_id, types[i].name, token,
			          st, preauth ? c->req->now : 0LL)
			    : -1;
			free(cid);
			free(token);
			if (r != 1)
				goto out;
		}
	}
	if (acme_db_exec(ctx->db,
	        "INSERT OR IGNORE INTO order_authzs(order_id, authz_id) VALUES"
	        " (?, ?)",
	        "ii", order_id, authz_id) < 0)
		goto out;
	rc = 0;
out:
	free(aid);
	return rc;
}

/* The rate limits of newOrder: orders per account, per client address
 * and per registered domain, pending authorizations per account, and the
 * certificates of this exact name set (only looked at here; finalize
 * takes from it). @return 1 when the request was refused. */
static int
order_limited(
    struct call *c, const struct acme_ident *ids, size_t n, const json_t *idarr)
{
	const struct acme_rate_limits *lim = &c->ctx->s->limits;
	struct rl_check *chk;
	size_t k = 0;
	long long wait;
	int rc = 1;

	if (c->ctx->s->rl == NULL)
		return 0;
	if (lim->pending_authzs > 0) {
		json_t *row = acme_db_one(c->ctx->db,
		    "SELECT COUNT(*) AS n FROM authzs WHERE account_id = ? AND"
		    " status = 'pending' AND expires > ?",
		    "ii", acme_row_int(c->account, "id"), c->req->now);

		if (row == NULL) {
			server_error(c);
			return 1;
		}
		if (acme_row_int(row, "n") + (long long)n >
		    lim->pending_authzs) {
			json_decref(row);
			fail(c, 429, "rateLimited",
			    "too many pending authorizations (at most %lld);"
			    " finish or deactivate some first",
			    lim->pending_authzs);
			c->resp->retry_after = 3600;
			return 1;
		}
		json_decref(row);
	}
	chk = calloc(n + 3, sizeof(*chk));
	if (chk == NULL) {
		server_error(c);
		return 1;
	}
	chk[k].lim = &lim->orders_per_account;
	chk[k].what = "new orders for this account";
	snprintf(chk[k++].key, sizeof(chk->key), "orders/acct/%lld",
	    acme_row_int(c->account, "id"));
	if (c->req->client_ip != NULL) {
		chk[k].lim = &lim->orders_per_ip;
		chk[k].what = "new orders from this address";
		snprintf(chk[k++].key, sizeof(chk->key), "orders/ip/%s",
		    c->req->client_ip);
	}
	for (size_t i = 0; i < n; i++) {
		char rd[256];
		size_t j;

		if (strcmp(ids[i].type, "dns") != 0)
			continue;
		acme_registered_domain(ids[i].value, rd, sizeof(rd));
		chk[k].lim = &lim->orders_per_domain;
		chk[k].what = "new orders for this registered domain";
		snprintf(chk[k].key, sizeof(chk->key), "orders/domain/%s", rd);
		for (j = 0; j < k; j++)
			if (strcmp(chk[j].key, chk[k].key) == 0)
				break;
		if (j == k)
			k++;
	}
	if (rate_limited(c, chk, k))
		goto out;
	if (name_set_key(idarr, chk[0].key, sizeof(chk[0].key)) != 0) {
		server_error(c);
		goto out;
	}
	wait = acme_rl_peek(c->ctx->s->rl, chk[0].key, &lim->certs_per_name_set,
	    c->req->now * 1000LL, 1);
	if (wait > 0) {
		fail(c, 429, "rateLimited",
		    "too many certificates for exactly this set of names;"
		    " retry after %lld seconds",
		    wait);
		c->resp->retry_after = wait > INT_MAX ? INT_MAX : (int)wait;
		goto out;
	}
	rc = 0;
out:
	free(chk);
	return rc;
}

static void
h_new_order(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_ident *ids = NULL;
	size_t n = 0;
	json_t *idarr = NULL, *ord = NULL;
	char *oid = NULL, *ids_s = NULL;
	long long order_id, expires = c->req->now + ctx->s->order_lifetime;
	json_t *pats = NULL; /* pre-authorized name patterns, or NULL */
	char pre[1024];
	int all_valid = 1;

	if (c->payload == NULL) {
		fail(c, 400, "malformed", "newOrder needs a payload");
		return;
	}
	if (json_object_get(c->payload, "notBefore") != NULL ||
	    json_object_get(c->payload, "notAfter") != NULL) {
		fail(c, 400, "malformed",
		    "notBefore/notAfter are not supported: the validity comes "
		    "from the CA connector's configured term");
		return;
	}
	if (acme_idents_parse(json_object_get(c->payload, "identifiers"),
	        ctx->s->allow_private_addresses, &ids, &n, &p) != 0) {
		fail_prob(c, &p);
		return;
	}
	switch (acme_store_account_preauth(
	    ctx->db, acme_row_int(c->account, "id"), pre, sizeof(pre))) {
	case ACME_ERR:
		goto err;
	case ACME_FOUND:
		pats = json_loads(pre, 0, NULL);
		if (!json_is_array(pats))
			goto err;
		break;
	case ACME_NONE:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		if (pats != NULL && !preauth_match(pats, &ids[i])) {
			acme_problem_add_sub(&p, "rejectedIdentifier",
			    "not among the names this account's external "
			    "account binding key may order",
			    ids[i].type, ids[i].value);
			continue;
		}
		if (challenges_for(ctx, &ids[i]) == 0)
			acme_problem_add_sub(&p, "rejectedIdentifier",
			    "no enabled challenge type can validate this "
			    "identifier",
			    ids[i].type, ids[i].value);
	}
	if (p.subproblems != NULL) {
		p.type = "rejectedIdentifier";
		p.status = 400;
		snprintf(p.detail, sizeof(p.detail),
		    "some identifiers cannot be validated here");
		fail_prob(c, &p);
		goto out;
	}
	idarr = json_array();
	for (size_t i = 0; idarr != NULL && i < n; i++)
		json_array_append_new(idarr,
		    json_pack("{s:s, s:s}", "type", ids[i].type, "value",
		        ids[i].value));
	ids_s = idarr ? json_dumps(idarr, JSON_COMPACT) : NULL;
	if (ids_s == NULL)
		goto err;
	if (order_limited(c, ids, n, idarr))
		goto out;
	oid = random_id();
	if (ids_s == NULL || oid == NULL)
		goto err;
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	if (acme_db_exec(ctx->db,
	        "INSERT INTO orders(oid, account_id, status, expires,"
	        " identifiers, connector, created, updated) VALUES (?, ?,"
	        " 'pending', ?, ?, ?, ?, ?)",
	        "siissii", oid, acme_row_int(c->account, "id"), expires, ids_s,
	        acme_row_str(c->account, "connector"), c->req->now,
	        c->req->now) != 1)
		goto err;
	order_id = acme_db_last_id(ctx->db);
	for (size_t i = 0; i < n; i++)
		if (add_authz(c, order_id, &ids[i], expires, pats != NULL,
		        &all_valid) != 0)
			goto err;
	if (all_valid &&
	    acme_db_exec(ctx->db,
	        "UPDATE orders SET status = 'ready' WHERE id = ?", "i",
	        order_id) < 0)
		goto err;
	acme_db_audit(ctx->db, c->req->now, "order.new", oid, ids_s);
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	ord = load_order(ctx, order_sql, "s", oid, 0, c->req->now);
	if (ord == NULL)
		goto err;
	reply_order(c, 201, ord);
	goto out;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
out:
	free(ids);
	free(oid);
	free(ids_s);
	json_decref(idarr);
	json_decref(ord);
	json_decref(pats);
}

static void
h_order(struct call *c, const char *oid)
{
	json_t *ord = load_order(c->ctx, order_sql, "s", oid, 0, c->req->now);

	if (ord == NULL) {
		not_found(c, "order");
		return;
	}
	if (owns(c, ord))
		reply_order(c, 200, ord);
	json_decref(ord);
}

/* RFC 8555 §11.1: the account key is never certified. */
static int
csr_is_account_key(const struct acme_csr *csr, EVP_PKEY *key)
{
	return csr->key != NULL && key != NULL &&
	    EVP_PKEY_eq(csr->key, key) == 1;
}

/* A certificate of this name set is on its way: count it against the
 * weekly limit that newOrder looked at. */
static void
name_set_taken(struct call *c, const json_t *ord)
{
	json_t *ids;
	char key[300];

	if (c->ctx->s->rl == NULL)
		return;
	ids = json_loads(acme_row_str(ord, "identifiers"), 0, NULL);
	if (ids != NULL && name_set_key(ids, key, sizeof(key)) == 0)
		acme_rl_take(c->ctx->s->rl, key,
		    &c->ctx->s->limits.certs_per_name_set, c->req->now * 1000LL,
		    1);
	json_decref(ids);
}

static void
h_finalize(struct call *c, const char *oid)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_csr csr = {0};
	struct acme_ident *ids = NULL;
	json_t *ord = NULL, *idj = NULL, *lapsed = NULL, *v, *csrj;
	const char *st;
	size_t n = 0, i;

	ord = load_order(ctx, order_sql, "s", oid, 0, c->req->now);
	if (ord == NULL) {
		not_found(c, "order");
		return;
	}
	if (!owns(c, ord))
		goto out;
	st = acme_row_str(ord, "status");
	/* RFC 8555 §7.4: only a ready order may be finalized; a client
	 * retrying while its first finalize is processing is told so (it
	 * polls the order), and nothing is enrolled twice */
	if (strcmp(st, "ready") != 0) {
		fail(c, 403, "orderNotReady", "the order is %s, not ready", st);
		goto out;
	}
	csrj = c->payload ? json_object_get(c->payload, "csr") : NULL;
	if (!json_is_string(csrj)) {
		fail(c, 400, "malformed", "finalize needs a \"csr\" string");
		goto out;
	}
	if (acme_csr_parse(json_string_value(csrj), &csr, &p) != 0) {
		fail_prob(c, &p);
		goto out;
	}
	idj = json_loads(acme_row_str(ord, "identifiers"), 0, NULL);
	ids = calloc(json_array_size(idj) + 1, sizeof(*ids));
	if (idj == NULL || ids == NULL) {
		server_error(c);
		goto out;
	}
	json_array_foreach(idj, i, v) {
		snprintf(ids[n].type, sizeof(ids[n].type), "%s",
		    json_string_value(json_object_get(v, "type")));
		snprintf(ids[n].value, sizeof(ids[n].value), "%s",
		    json_string_value(json_object_get(v, "value")));
		ids[n].wildcard = strncmp(ids[n].value, "*.", 2) == 0;
		n++;
	}
	if (acme_csr_match(&csr, ids, n, &p) != 0) {
		fail_prob(c, &p);
		goto out;
	}
	if (csr_is_account_key(&csr, c->key)) {
		fail(c, 400, "badCSR",
		    "the CSR's public key is the account key");
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	/* every authorization must still hold: none deactivated, revoked
	 * or expired since the order became ready */
	lapsed = acme_db_one(ctx->db,
	    "SELECT count(*) AS n FROM order_authzs oa JOIN authzs a ON a.id"
	    " = oa.authz_id WHERE oa.order_id = ? AND (a.status != 'valid' OR"
	    " a.expires < ?)",
	    "ii", acme_row_int(ord, "id"), c->req->now);
	if (lapsed == NULL)
		goto err;
	if (acme_row_int(lapsed, "n") > 0) {
		if (acme_db_exec(ctx->db,
		        "UPDATE orders SET status = 'invalid', updated = ?"
		        " WHERE id = ? AND status = 'ready'",
		        "ii", c->req->now, acme_row_int(ord, "id")) < 0)
			goto err;
		acme_db_audit(ctx->db, c->req->now, "order.invalid", oid,
		    "authorization no longer valid");
		if (acme_db_commit(ctx->db) != 0)
			goto err;
		fail(c, 403, "orderNotReady",
		    "an authorization of the order is no longer valid "
		    "(deactivated or expired); create a new order");
		goto out;
	}
	/* the status guard makes two racing finalize calls enroll once */
	if (acme_db_exec(ctx->db,
	        "UPDATE orders SET status = 'processing', csr_pem = ?,"
	        " updated = ? WHERE id = ? AND status = 'ready' AND"
	        " expires >= ?",
	        "siii", csr.pem, c->req->now, acme_row_int(ord, "id"),
	        c->req->now) != 1) {
		acme_db_rollback(ctx->db);
		json_decref(ord);
		ord = load_order(ctx, order_sql, "s", oid, 0, c->req->now);
		if (ord == NULL)
			goto err;
		if (strcmp(acme_row_str(ord, "status"), "processing") == 0)
			reply_order(c, 200, ord);
		else
			fail(c, 403, "orderNotReady", "the order is %s",
			    acme_row_str(ord, "status"));
		goto out;
	}
	if (acme_job_add(ctx->db, "enroll", acme_row_int(ord, "id"), 0,
	        c->req->now) != 0)
		goto err;
	acme_db_audit(
	    ctx->db, c->req->now, "order.finalize", oid, csr.key_desc);
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	name_set_taken(c, ord);
	json_object_set_new(ord, "status", json_string("processing"));
	reply_order(c, 200, ord);
	c->resp->kick = 1;
	if (ctx->s->finalize_wait > 0) {
		c->resp->wait = ACME_WAIT_ORDER;
		c->resp->wait_id = acme_row_int(ord, "id");
		c->resp->wait_acct = acme_row_int(c->account, "id");
		c->resp->wait_until =
		    c->req->now * 1000 + ctx->s->finalize_wait * 1000LL;
	}
	goto out;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
out:
	acme_csr_free(&csr);
	free(ids);
	json_decref(idj);
	json_decref(lapsed);
	json_decref(ord);
}

/* ---- authorizations and challenges --------------------------------- */

static void
reply_authz(struct call *c, const json_t *az)
{
	int processing = 0;
	json_t *body = authz_json(c->ctx, az, c->req->now, &processing);

	if (body == NULL) {
		server_error(c);
		return;
	}
	set_json(c->resp, 200, body);
	if (processing)
		c->resp->retry_after = c->ctx->s->retry_after;
}

/* RFC 8555 §7.5.2: the client gives the authorization up. The orders that
 * wait on it can no longer be finalized: they turn invalid with it, in
 * the same transaction. @return 0, or -1 (rolled back). */
static int
deactivate_authz(struct call *c, const json_t *az)
{
	struct acme_db *db = c->ctx->db;
	long long id = acme_row_int(az, "id"), now = c->req->now;
	int n;

	if (acme_db_begin(db) != 0)
		return -1;
	/* an expired authorization stays expired */
	n = acme_db_exec(db,
	    "UPDATE authzs SET status = 'deactivated' WHERE id = ? AND status"
	    " IN ('pending', 'valid') AND expires >= ?",
	    "ii", id, now);
	if (n < 0)
		goto err;
	if (n == 1) {
		if (acme_db_exec(db,
		        "UPDATE orders SET status = 'invalid', updated = ?"
		        " WHERE status IN ('pending', 'ready') AND id IN"
		        " (SELECT order_id FROM order_authzs WHERE"
		        " authz_id = ?)",
		        "ii", now, id) < 0)
			goto err;
		acme_db_audit(db, now, "authz.deactivated",
		    acme_row_str(az, "aid"), acme_row_str(az, "id_value"));
	}
	if (acme_db_commit(db) != 0)
		goto err;
	return 0;
err:
	acme_db_rollback(db);
	return -1;
}

static void
h_authz(struct call *c, const char *aid)
{
	struct acme_ctx *ctx = c->ctx;
	json_t *az = acme_db_one(
	           ctx->db, "SELECT * FROM authzs WHERE aid = ?", "s", aid),
	       *st;

	if (az == NULL) {
		not_found(c, "authorization");
		return;
	}
	if (!owns(c, az))
		goto out;
	st = c->payload ? json_object_get(c->payload, "status") : NULL;
	/* RFC 8555 §6.3: a read is a POST-as-GET, an update names status */
	if (c->payload != NULL && st == NULL) {
		fail(c, 400, "malformed",
		    "an authorization is read with POST-as-GET (empty "
		    "payload) or updated with {\"status\": \"deactivated\"}");
		goto out;
	}
	if (st != NULL) {
		if (!json_is_string(st) ||
		    strcmp(json_string_value(st), "deactivated") != 0) {
			fail(c, 400, "malformed",
			    "an authorization's status can only be set to "
			    "\"deactivated\"");
			goto out;
		}
		if (deactivate_authz(c, az) != 0) {
			server_error(c);
			goto out;
		}
		json_decref(az);
		az = acme_db_one(
		    ctx->db, "SELECT * FROM authzs WHERE aid = ?", "s", aid);
		if (az == NULL) {
			server_error(c);
			return;
		}
	}
	reply_authz(c, az);
out:
	json_decref(az);
}

static void
h_chall(struct call *c, const char *cid)
{
	struct acme_ctx *ctx = c->ctx;
	json_t *ch, *body;
	char up[600];

	ch = acme_db_one(ctx->db,
	    "SELECT c.*, a.aid, a.account_id, a.id_value, a.status AS astatus,"
	    " a.expires AS aexpires FROM"
	    " challenges c JOIN authzs a ON a.id = c.authz_id WHERE c.cid = ?",
	    "s", cid);
	if (ch == NULL) {
		not_found(c, "challenge");
		return;
	}
	if (!owns(c, ch))
		goto out;
	/* POST {} asks for validation; POST-as-GET just reads. An expired
	 * authorization (RFC 8555 §7.1.6) can no longer be validated: the
	 * client has done nothing malformed, it is refused the power the
	 * authorization would have granted, hence 403 unauthorized. */
	if (c->payload != NULL &&
	    strcmp(acme_row_str(ch, "status"), "pending") == 0 &&
	    strcmp(acme_row_str(ch, "astatus"), "pending") == 0 &&
	    acme_row_int(ch, "aexpires") < c->req->now) {
		fail(c, 403, "unauthorized",
		    "the authorization expired; create a new order");
		url_of(
		    ctx, up, sizeof(up), "/authz/%s", acme_row_str(ch, "aid"));
		add_link(ctx, c->resp, up, "up");
		goto out;
	}
	if (c->payload != NULL &&
	    strcmp(acme_row_str(ch, "status"), "pending") == 0 &&
	    strcmp(acme_row_str(ch, "astatus"), "pending") == 0) {
		struct rl_check chk = {&ctx->s->limits.failed_validations, "",
		    "failed validations of this identifier"};
		long long wait;
		int started;

		/* failures are counted by the job runner (acme_rl_take on
		 * the same key); here a client that keeps failing waits */
		acme_failed_validation_key(acme_row_int(ch, "account_id"),
		    acme_row_str(ch, "id_value"), chk.key, sizeof(chk.key));
		wait = ctx->s->rl == NULL
		    ? 0
		    : acme_rl_peek(ctx->s->rl, chk.key, chk.lim,
		          c->req->now * 1000LL, 1);
		if (wait > 0) {
			fail(c, 429, "rateLimited",
			    "too many failed validations of %.100s; retry "
			    "after %lld seconds",
			    acme_row_str(ch, "id_value"), wait);
			c->resp->retry_after =
			    wait > INT_MAX ? INT_MAX : (int)wait;
			goto out;
		}
		if (acme_db_begin(ctx->db) != 0)
			goto err;
		/* one challenge of an authorization at a time */
		started = acme_db_exec(ctx->db,
		    "UPDATE challenges SET status = 'processing' WHERE id = ?"
		    " AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM"
		    " challenges WHERE authz_id = ? AND status = 'processing')"
		    " AND EXISTS (SELECT 1 FROM authzs WHERE id = ? AND status"
		    " = 'pending' AND expires >= ?)",
		    "iiii", acme_row_int(ch, "id"),
		    acme_row_int(ch, "authz_id"), acme_row_int(ch, "authz_id"),
		    c->req->now);
		if (started < 0)
			goto err;
		if (started == 1 &&
		    acme_job_add(ctx->db, "validate", acme_row_int(ch, "id"), 0,
		        c->req->now) != 0)
			goto err;
		if (acme_db_commit(ctx->db) != 0)
			goto err;
		if (started == 1) {
			json_object_set_new(
			    ch, "status", json_string("processing"));
			c->resp->kick = 1;
		}
	}
	body = chall_json(ctx, ch);
	if (body == NULL)
		goto err;
	set_json(c->resp, 200, body);
	url_of(ctx, up, sizeof(up), "/authz/%s", acme_row_str(ch, "aid"));
	add_link(ctx, c->resp, up, "up");
	if (strcmp(acme_row_str(ch, "status"), "processing") == 0)
		c->resp->retry_after = ctx->s->retry_after;
	goto out;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
out:
	json_decref(ch);
}

/* ---- certificates and revocation ------------------------------------ */

static void
h_cert(struct call *c, const char *crt_id)
{
	json_t *crt = acme_db_one(c->ctx->db,
	    "SELECT account_id, chain_pem FROM certificates WHERE crt_id = ?",
	    "s", crt_id);
	const char *pem;

	if (crt == NULL) {
		not_found(c, "certificate");
		return;
	}
	if (owns(c, crt)) {
		pem = acme_row_str(crt, "chain_pem");
		c->resp->raw = strdup(pem);
		if (c->resp->raw == NULL) {
			server_error(c);
		} else {
			c->resp->raw_len = strlen(pem);
			c->resp->status = 200;
			c->resp->ctype = "application/pem-certificate-chain";
		}
	}
	json_decref(crt);
}

/* RFC 8555 §7.6: an account that holds valid, unexpired authorizations
 * for every identifier of the certificate may revoke it. ids is the
 * order's identifier array (JSON text); the issued certificate carries
 * exactly these names. A wildcard name needs an authorization of its
 * base name. @return 1 when every identifier is covered. */
static int
holds_authzs(struct call *c, const char *ids_json)
{
	json_t *ids = json_loads(ids_json, 0, NULL), *id;
	size_t i;
	int ok = json_array_size(ids) > 0;

	json_array_foreach(ids, i, id) {
		const char *type =
		    json_string_value(json_object_get(id, "type"));
		const char *value =
		    json_string_value(json_object_get(id, "value"));
		json_t *row;

		if (type == NULL || value == NULL) {
			ok = 0;
			break;
		}
		if (strncmp(value, "*.", 2) == 0)
			value += 2;
		row = acme_db_one(c->ctx->db,
		    "SELECT 1 AS x FROM authzs WHERE account_id = ? AND"
		    " id_type = ? AND id_value = ? AND status = 'valid' AND"
		    " expires > ? LIMIT 1",
		    "issi", acme_row_int(c->account, "id"), type, value,
		    c->req->now);
		json_decref(row);
		if (row == NULL) {
			ok = 0;
			break;
		}
	}
	json_decref(ids);
	return ok;
}

static void
h_revoke(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_cert_info info;
	json_t *crt = NULL, *cj, *rj;
	unsigned char *der = NULL, *leaf = NULL;
	size_t der_len = 0, leaf_len = 0;
	long long reason = 0, job_id;
	int changed;

	cj = c->payload ? json_object_get(c->payload, "certificate") : NULL;
	if (!json_is_string(cj)) {
		fail(c, 400, "malformed", "revokeCert needs a \"certificate\"");
		return;
	}
	rj = json_object_get(c->payload, "reason");
	if (rj != NULL) {
		reason = json_integer_value(rj);
		/* the RFC 5280 codes SCM can carry: unspecified,
		 * keyCompromise, affiliationChanged, superseded,
		 * cessationOfOperation; anything else is refused rather than
		 * sent as another reason */
		if (!json_is_integer(rj) ||
		    (reason != 0 && reason != 1 && reason != 3 && reason != 4 &&
		        reason != 5)) {
			fail(c, 400, "badRevocationReason",
			    "revocation reason must be one of 0 (unspecified),"
			    " 1 (keyCompromise), 3 (affiliationChanged), 4"
			    " (superseded), 5 (cessationOfOperation)");
			return;
		}
	}
	der = b64url_decode_alloc(
	    json_string_value(cj), strlen(json_string_value(cj)), &der_len);
	if (der == NULL || acme_cert_info_der(der, der_len, &info, &p) != 0) {
		if (der == NULL)
			fail(c, 400, "malformed",
			    "certificate is not base64url DER");
		else
			fail_prob(c, &p);
		goto out;
	}
	crt = acme_db_one(ctx->db,
	    "SELECT c.id, c.account_id, c.status, c.crt_id, c.chain_pem,"
	    " o.identifiers FROM certificates c JOIN orders o ON o.id ="
	    " c.order_id WHERE c.serial = ? AND c.spki = ?",
	    "ss", info.serial_hex, info.spki_sha256);
	/* the lookup only finds a candidate: the submitted bytes must be
	 * exactly the certificate we issued, so that every later check
	 * (and the key check below) reads the same certificate */
	if (crt == NULL ||
	    acme_cert_leaf_der(
	        acme_row_str(crt, "chain_pem"), &leaf, &leaf_len) != 0 ||
	    leaf_len != der_len || CRYPTO_memcmp(leaf, der, der_len) != 0) {
		fail(
		    c, 404, "malformed", "no such certificate was issued here");
		goto out;
	}
	if (c->account != NULL) {
		if (acme_row_int(crt, "account_id") !=
		        acme_row_int(c->account, "id") &&
		    !holds_authzs(c, acme_row_str(crt, "identifiers"))) {
			fail(c, 403, "unauthorized",
			    "the certificate belongs to another account, and "
			    "this"
			    " account holds no valid authorization for all of"
			    " its names");
			goto out;
		}
	} else if (!acme_cert_key_matches(leaf, leaf_len, c->key)) {
		fail(c, 403, "unauthorized",
		    "the JWS key is not the certificate's key");
		goto out;
	}
	if (strcmp(acme_row_str(crt, "status"), "revoked") == 0) {
		fail(c, 400, "alreadyRevoked", "the certificate is revoked");
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	/* 'revoking' until SCM confirms: the answer is 200 only then */
	changed = acme_db_exec(ctx->db,
	    "UPDATE certificates SET status = 'revoking', revoke_reason = ?"
	    " WHERE id = ? AND status = 'valid'",
	    "ii", reason, acme_row_int(crt, "id"));
	if (changed < 0)
		goto err;
	if (changed == 0) {
		/* already on its way to SCM (an earlier request, or one
		 * racing this one): wait for that revocation's outcome */
		json_t *job = NULL;
		int found = acme_db_get(ctx->db, &job,
		    "SELECT id FROM jobs WHERE kind = 'revoke' AND ref = ? AND"
		    " state = 'queued' ORDER BY id DESC LIMIT 1",
		    "i", acme_row_int(crt, "id"));

		acme_db_rollback(ctx->db);
		if (found < 0)
			goto err;
		if (found == 0) {
			fail(c, 400, "alreadyRevoked",
			    "the certificate is revoked");
			goto out;
		}
		job_id = acme_row_int(job, "id");
		json_decref(job);
	} else {
		if (acme_job_add(ctx->db, "revoke", acme_row_int(crt, "id"),
		        reason, c->req->now) != 0)
			goto err;
		job_id = acme_db_last_id(ctx->db); /* before the audit */
		acme_db_audit(ctx->db, c->req->now, "certificate.revoke",
		    acme_row_str(crt, "crt_id"), info.serial_hex);
		if (acme_db_commit(ctx->db) != 0)
			goto err;
	}
	c->resp->status = 200;
	c->resp->kick = 1;
	c->resp->wait = ACME_WAIT_JOB;
	c->resp->wait_id = job_id;
	c->resp->wait_until = c->req->now * 1000 +
	    (ctx->s->finalize_wait > 0 ? ctx->s->finalize_wait : 15) * 1000LL;
	goto out;
err:
	acme_db_rollback(ctx->db);
	server_error(c);
out:
	free(der);
	free(leaf);
	json_decref(crt);
}

/* ---- deferred replies --------------------------------------------- */

int
acme_wait_poll(
    struct acme_ctx *ctx, struct acme_resp *resp, long long now, int final)
{
	if (resp->wait == ACME_WAIT_ORDER) {
		json_t *ord = load_order(
		    ctx, order_by_id_sql, "i", NULL, resp->wait_id, now);
		struct call c = {.ctx = ctx, .resp = resp};
		int done;

		if (ord == NULL) {
			if (!final)
				return 0;
			c.resp = resp;
			server_error(&c);
			return 1;
		}
		done = strcmp(acme_row_str(ord, "status"), "processing") != 0;
		if (done || final) {
			resp->wait = ACME_WAIT_NONE;
			reply_order(&c, 200, ord);
		}
		json_decref(ord);
		return done || final;
	}
	if (resp->wait == ACME_WAIT_JOB) {
		json_t *job = NULL;
		int found = acme_db_get(ctx->db, &job,
		    "SELECT state, last_error FROM jobs WHERE id = ?", "i",
		    resp->wait_id);
		/* a read error is never "done": keep waiting, and at the
		 * deadline say that nothing is confirmed (the 503 below) */
		const char *st = found > 0 ? acme_row_str(job, "state")
		    : found == 0           ? "done"
		                           : "queued";
		struct call c = {.ctx = ctx, .resp = resp};

		if (strcmp(st, "queued") == 0 && !final) {
			json_decref(job);
			return 0;
		}
		resp->wait = ACME_WAIT_NONE;
		if (strcmp(st, "failed") == 0) {
			fail(&c, 500, "serverInternal",
			    "the CA refused the revocation: %.300s",
			    acme_row_str(job, "last_error"));
		} else if (strcmp(st, "queued") == 0) {
			/* SCM has not confirmed yet (unreachable, or slow):
			 * no 200 before it has. The job keeps trying; the
			 * same request again waits for its outcome. */
			fail(&c, 503, "serverInternal",
			    "the CA has not confirmed the revocation yet; it"
			    " keeps being sent: repeat this request to learn"
			    " the outcome");
			resp->retry_after = ctx->s->retry_after;
		} else {
			resp->status = 200;
		}
		json_decref(job);
		return 1;
	}
	return 1;
}

/* ---- routing ------------------------------------------------------ */

/* "/prefix/<id>[/suffix]" -> id copied into buf when path matches. */
static int
route(const char *path, const char *prefix, const char *suffix, char *buf,
    size_t len)
{
	size_t pl = strlen(prefix), il;
	const char *id = path + pl, *end;

	if (strncmp(path, prefix, pl) != 0)
		return 0;
	end = strchr(id, '/');
	il = end ? (size_t)(end - id) : strlen(id);
	if (il == 0 || il >= len)
		return 0;
	if (suffix == NULL ? end != NULL
	                   : (end == NULL || strcmp(end, suffix) != 0))
		return 0;
	memcpy(buf, id, il);
	buf[il] = '\0';
	return 1;
}

/* One resource of the URL space: the only list of them, read both to
 * dispatch a request and to answer a wrong method (405 with Allow). */
enum res {
	RES_DIRECTORY,
	RES_NEW_NONCE,
	RES_NEW_ACCOUNT,
	RES_REVOKE,
	RES_NEW_ORDER,
	RES_KEY_CHANGE,
	RES_ORDERS,
	RES_ACCOUNT,
	RES_FINALIZE,
	RES_ORDER,
	RES_AUTHZ,
	RES_CHALL,
	RES_CERT,
};

#define M_GET 1  /* GET and HEAD */
#define M_POST 2 /* a JWS-signed POST */

static const struct resource {
	const char *prefix; /* the whole path, or "/x/" before an id */
	int has_id;         /* "<prefix><id>[suffix]" */
	const char *suffix; /* after the id, or NULL */
	int methods;        /* M_GET | M_POST */
	int auth;           /* authenticate() mode for a POST */
	int get_only;       /* POST-as-GET only: the payload must be "" */
	enum res res;
} resources[] = {
    {"/directory", 0, NULL, M_GET, 0, 0, RES_DIRECTORY},
    {"/", 0, NULL, M_GET, 0, 0, RES_DIRECTORY},
    /* RFC 8555 §7.2 allows POST-as-GET here too, as Boulder does */
    {"/new-nonce", 0, NULL, M_GET | M_POST, 0, 1, RES_NEW_NONCE},
    {"/new-account", 0, NULL, M_POST, 1, 0, RES_NEW_ACCOUNT},
    {"/revoke-cert", 0, NULL, M_POST, 2, 0, RES_REVOKE},
    {"/new-order", 0, NULL, M_POST, 0, 0, RES_NEW_ORDER},
    {"/key-change", 0, NULL, M_POST, 0, 0, RES_KEY_CHANGE},
    {"/acct/", 1, "/orders", M_POST, 0, 1, RES_ORDERS},
    {"/acct/", 1, NULL, M_POST, 0, 0, RES_ACCOUNT},
    {"/order/", 1, "/finalize", M_POST, 0, 0, RES_FINALIZE},
    {"/order/", 1, NULL, M_POST, 0, 1, RES_ORDER},
    {"/authz/", 1, NULL, M_POST, 0, 0, RES_AUTHZ},
    {"/chall/", 1, NULL, M_POST, 0, 0, RES_CHALL},
    {"/cert/", 1, NULL, M_POST, 0, 1, RES_CERT},
};

/* The resource at path (id copied into id), or NULL. */
static const struct resource *
find_resource(const char *path, char *id, size_t len)
{
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
		const struct resource *r = &resources[i];

		if (r->has_id ? route(path, r->prefix, r->suffix, id, len)
		              : strcmp(path, r->prefix) == 0)
			return r;
	}
	return NULL;
}

static int
method_bit(const char *method)
{
	if (strcmp(method, "POST") == 0)
		return M_POST;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return M_GET;
	return 0;
}

static const char *
allow_header(int methods)
{
	if (methods == M_POST)
		return "POST";
	return methods == M_GET ? "GET, HEAD" : "GET, HEAD, POST";
}

static void
dispatch(
    struct call *c, const struct resource *r, const char *id, const char *query)
{
	switch (r->res) {
	case RES_DIRECTORY:
		break; /* GET only */
	case RES_NEW_NONCE:
		/* the reply's Replay-Nonce is the point */
		c->resp->status = 200;
		c->resp->no_store = 1;
		break;
	case RES_NEW_ACCOUNT:
		h_new_account(c);
		break;
	case RES_REVOKE:
		h_revoke(c);
		break;
	case RES_NEW_ORDER:
		h_new_order(c);
		break;
	case RES_KEY_CHANGE:
		h_key_change(c);
		break;
	case RES_ORDERS:
		h_orders_list(c, id, query);
		break;
	case RES_ACCOUNT:
		h_account(c, id);
		break;
	case RES_FINALIZE:
		h_finalize(c, id);
		break;
	case RES_ORDER:
		h_order(c, id);
		break;
	case RES_AUTHZ:
		h_authz(c, id);
		break;
	case RES_CHALL:
		h_chall(c, id);
		break;
	case RES_CERT:
		h_cert(c, id);
		break;
	}
}

void
acme_handle(
    struct acme_ctx *ctx, const struct acme_req *req, struct acme_resp *resp)
{
	struct call c = {.ctx = ctx, .req = req, .resp = resp};
	const struct resource *r;
	char path[512], id[128];
	const char *query = NULL, *q;
	int method = method_bit(req->method);

	memset(resp, 0, sizeof(*resp));
	q = strchr(req->path, '?');
	snprintf(path, sizeof(path), "%.*s",
	    (int)(q ? (size_t)(q - req->path) : strlen(req->path)), req->path);
	if (q != NULL)
		query = q + 1;

	r = find_resource(path, id, sizeof(id));
	if (r == NULL) {
		fail(&c, 404, "malformed", "no such resource");
		return;
	}
	if ((r->methods & method) == 0) {
		fail(&c, 405, "malformed", "method %s not allowed here",
		    req->method);
		/* RFC 9110 §15.5.6: a 405 lists the allowed methods */
		resp->allow = allow_header(r->methods);
		return;
	}
	if (method == M_GET) {
		if (r->res == RES_DIRECTORY) {
			h_directory(ctx, resp);
			return;
		}
		/* newNonce, RFC 8555 §7.2: HEAD 200, GET 204 */
		resp->status = strcmp(req->method, "HEAD") == 0 ? 200 : 204;
		resp->no_store = 1;
		add_link(ctx, resp, "/directory", "index");
		return;
	}

	add_link(ctx, resp, "/directory", "index");
	if (authenticate(&c, r->auth) == 0) {
		/* RFC 8555 §6.3: a POST-as-GET carries the empty payload "" */
		if (r->get_only && c.jws.payload_len > 0)
			fail(&c, 400, "malformed",
			    "this resource is read with POST-as-GET: the "
			    "payload must be empty");
		else
			dispatch(&c, r, id, query);
	}
	acme_jws_free(&c.jws);
	json_decref(c.payload);
	json_decref(c.account);
	EVP_PKEY_free(c.key);
}
