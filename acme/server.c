/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core of the RFC 8555 server: the context, responses, resource
 * representations, the directory, request authentication (JWS, nonces,
 * account lookup), rate-limit checks, deferred replies and routing. The
 * handlers live by resource in srv_account.c, srv_order.c, srv_authz.c
 * and srv_cert.c (acme/srv_int.h).
 */
#include "acme/srv_int.h"

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
account_key(struct acme_ctx *ctx, const struct acme_account *acct,
    struct acme_problem *p)
{
	long long id = acct->id;
	const char *jwk_s = acct->jwk ? acct->jwk : "";
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

void
srv_add_link(struct acme_ctx *ctx, struct acme_resp *resp, const char *path,
    const char *rel)
{
	if (resp->nlinks >= 4)
		return;
	if (snprintf(resp->links[resp->nlinks], sizeof(resp->links[0]),
	        "<%s%s>;rel=\"%s\"", path[0] == '/' ? ctx->s->base_url : "",
	        path, rel) < (int)sizeof(resp->links[0]))
		resp->nlinks++;
}

void
srv_set_json(struct acme_resp *resp, int status, json_t *body)
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
	srv_add_link(ctx, resp, "/directory", "index");
	acme_problem_clear(prob);
}

void
srv_fail(struct call *c, int status, const char *type, const char *fmt, ...)
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

void
srv_fail_prob(struct call *c, struct acme_problem *p)
{
	acme_resp_problem(c->ctx, c->resp, p);
}

void
srv_server_error(struct call *c)
{
	srv_fail(c, 500, "serverInternal",
	    "the server could not complete the request; try again later");
}

/* base_url + the formatted path into buf; a URL that does not fit leaves
 * buf empty rather than cut (proxy/conf.c bounds base_url, so this is a
 * last line of defence). */
void
srv_url_of(struct acme_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
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

json_t *
srv_url_json(struct acme_ctx *ctx, const char *fmt, ...)
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

char *
srv_random_id(void)
{
	return acme_random_token(16);
}

/* ---- resource representations ----------------------------------- */

json_t *
srv_account_json(struct acme_ctx *ctx, const struct acme_account *acct)
{
	json_t *contact =
	    acct->contact ? json_loads(acct->contact, 0, NULL) : NULL;
	json_t *o;

	if (contact == NULL)
		contact = json_array();
	o = json_pack("{s:s, s:o, s:b, s:o}", "status",
	    acme_acct_status_str(acct->status), "contact", contact,
	    "termsOfServiceAgreed", acct->tos_agreed, "orders",
	    srv_url_json(ctx, "/acct/%s/orders", acct->kid));
	/* RFC 8555 §7.3.4: the binding the account was created with */
	if (o != NULL && acct->eab_binding != NULL &&
	    acct->eab_binding[0] != '\0' &&
	    json_object_set_new(o, "externalAccountBinding",
	        json_loads(acct->eab_binding, 0, NULL)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *
srv_chall_json(struct acme_ctx *ctx, const struct acme_chall *ch)
{
	char tbuf[32];
	json_t *o;

	/* "type" first: some clients stop at the first nested object */
	o = json_pack("{s:s, s:o, s:s, s:s}", "type", ch->type, "url",
	    srv_url_json(ctx, "/chall/%s", ch->cid), "status",
	    acme_chall_status_str(ch->status), "token", ch->token);
	if (o == NULL)
		return NULL;
	if (ch->validated > 0)
		json_object_set_new(o, "validated",
		    json_string(
		        acme_time_str(ch->validated, tbuf, sizeof(tbuf))));
	if (ch->error != NULL) {
		json_t *e = json_loads(ch->error, 0, NULL);
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
enum acme_authz_status
srv_authz_live(const struct acme_authz *az, long long now)
{
	if (az->expires >= now)
		return az->status;
	return az->status == ACME_AUTHZ_PENDING ||
	        az->status == ACME_AUTHZ_VALID
	    ? ACME_AUTHZ_EXPIRED
	    : az->status;
}

struct challs_out {
	struct acme_ctx *ctx;
	const struct acme_authz *az;
	json_t *arr;
	int processing;
};

static void
chall_add(const struct acme_chall *ch, void *arg)
{
	struct challs_out *co = arg;

	/* RFC 8555 §7.1.4: a valid authorization lists the challenge that
	 * validated it; the others are left out so that clients reading
	 * every "status" at once (acme.sh) see no pending */
	if (co->az->status == ACME_AUTHZ_VALID &&
	    ch->status != ACME_CHALL_VALID)
		return;
	if (ch->status == ACME_CHALL_PROCESSING)
		co->processing = 1;
	json_array_append_new(co->arr, srv_chall_json(co->ctx, ch));
}

json_t *
srv_authz_json(struct acme_ctx *ctx, const struct acme_authz *az, long long now,
    int *processing)
{
	struct challs_out co = {ctx, az, json_array(), 0};
	char tbuf[32];
	json_t *o;

	if (co.arr == NULL ||
	    acme_store_authz_challs(ctx->db, az->id, chall_add, &co) < 0) {
		json_decref(co.arr);
		return NULL;
	}
	*processing = co.processing;
	o = json_pack("{s:{s:s, s:s}, s:s, s:s, s:o}", "identifier", "type",
	    az->id_type, "value", az->id_value, "status",
	    acme_authz_status_str(srv_authz_live(az, now)), "expires",
	    acme_time_str(az->expires, tbuf, sizeof(tbuf)), "challenges",
	    co.arr);
	if (o != NULL && az->wildcard)
		json_object_set_new(o, "wildcard", json_true());
	return o;
}

struct aids_out {
	struct acme_ctx *ctx;
	json_t *arr;
};

static void
aid_add(const char *aid, void *arg)
{
	struct aids_out *ao = arg;

	json_array_append_new(ao->arr, srv_url_json(ao->ctx, "/authz/%s", aid));
}

static json_t *
order_json(struct acme_ctx *ctx, const struct acme_order *ord)
{
	struct aids_out ao = {ctx, json_array()};
	json_t *o, *ids;
	char tbuf[32];

	ids = json_loads(ord->identifiers, 0, NULL);
	if (ids == NULL || ao.arr == NULL ||
	    acme_store_order_aids(ctx->db, ord->id, aid_add, &ao) < 0) {
		json_decref(ids);
		json_decref(ao.arr);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "status",
	    acme_order_status_str(ord->status), "expires",
	    acme_time_str(ord->expires, tbuf, sizeof(tbuf)), "identifiers", ids,
	    "authorizations", ao.arr, "finalize",
	    srv_url_json(ctx, "/order/%s/finalize", ord->oid));
	if (o == NULL)
		return NULL;
	if (ord->crt_id[0] != '\0')
		json_object_set_new(o, "certificate",
		    srv_url_json(ctx, "/cert/%s", ord->crt_id));
	if (ord->profile[0] != '\0')
		json_object_set_new(o, "profile", json_string(ord->profile));
	if (ord->replaces[0] != '\0')
		json_object_set_new(o, "replaces", json_string(ord->replaces));
	if (ord->error != NULL) {
		json_t *e = json_loads(ord->error, 0, NULL);
		if (e != NULL)
			json_object_set_new(o, "error", e);
	}
	return o;
}

/*
 * An order (by oid, or by id when oid is NULL) with its status at `now`
 * (RFC 8555 §7.1.6: a pending or ready order past its expiry, or waiting
 * on an authorization that expired, is invalid). Nothing is written: the
 * order reads "invalid" without an error, as Boulder and Pebble show it.
 */
enum acme_found
srv_load_order(struct acme_ctx *ctx, const char *oid, long long id,
    long long now, struct acme_order *out)
{
	enum acme_found f = oid != NULL
	    ? acme_store_order_by_oid(ctx->db, oid, out)
	    : acme_store_order(ctx->db, id, out);
	int open;

	if (f != ACME_FOUND)
		return f;
	open = out->status == ACME_ORDER_PENDING ||
	    out->status == ACME_ORDER_READY;
	if (open && out->expires < now)
		out->status = ACME_ORDER_INVALID;
	else if (open && acme_store_order_lapsed(ctx->db, out->id, now) > 0)
		out->status = ACME_ORDER_INVALID;
	return ACME_FOUND;
}

/* Every resource object answers with its own URL as Location (RFC 8555
 * §7.3, §7.4); body NULL (it could not be built) is a 500. */
int
srv_reply_resource(
    struct call *c, int status, json_t *body, const char *kind, const char *id)
{
	if (body == NULL) {
		srv_server_error(c);
		return -1;
	}
	srv_set_json(c->resp, status, body);
	srv_url_of(c->ctx, c->resp->location, sizeof(c->resp->location),
	    "/%s/%s", kind, id);
	return 0;
}

void
srv_reply_order(struct call *c, int status, const struct acme_order *ord)
{
	if (srv_reply_resource(
	        c, status, order_json(c->ctx, ord), "order", ord->oid) == 0 &&
	    ord->status == ACME_ORDER_PROCESSING)
		c->resp->retry_after =
		    strcmp(ord->ca_status, "Requested") == 0 &&
		        c->ctx->s->approval_retry_after > 0
		    ? c->ctx->s->approval_retry_after
		    : c->ctx->s->retry_after;
}

/* ---- directory and nonces ----------------------------------------- */

/* The directory of a connector (NULL: the default one's, at /directory).
 * Only newAccount differs between connectors: an account belongs to the
 * connector whose directory created it, and everything else follows the
 * account. */
static void
h_directory(struct acme_ctx *ctx, struct acme_resp *resp,
    const struct acme_connector_info *ci)
{
	json_t *d, *meta, *profiles;

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
	if (ci == NULL)
		ci = srv_connector(ctx, ctx->s->default_connector);
	if (ci != NULL && ci->n_profiles > 0 &&
	    (profiles = json_object()) != NULL) {
		for (size_t i = 0; i < ci->n_profiles; i++)
			json_object_set_new(profiles, ci->profiles[i].name,
			    json_string(ci->profiles[i].description));
		json_object_set_new(meta, "profiles", profiles);
	}
	d = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "newNonce",
	    srv_url_json(ctx, "%s", "/new-nonce"), "newAccount",
	    ci != NULL && strcmp(ci->name, ctx->s->default_connector) != 0
	        ? srv_url_json(ctx, "/acme/%s/new-account", ci->name)
	        : srv_url_json(ctx, "%s", "/new-account"),
	    "newOrder", srv_url_json(ctx, "%s", "/new-order"), "revokeCert",
	    srv_url_json(ctx, "%s", "/revoke-cert"), "keyChange",
	    srv_url_json(ctx, "%s", "/key-change"), "renewalInfo",
	    srv_url_json(ctx, "%s", "/renewal-info"), "meta", meta);
	srv_set_json(resp, 200, d);
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

/* The account a JWS "kid" (account URL) names. */
static enum acme_found
account_by_kid_url(
    struct acme_ctx *ctx, const char *kid, struct acme_account *out)
{
	char prefix[600];
	size_t n;

	srv_url_of(ctx, prefix, sizeof(prefix), "/acct/");
	n = strlen(prefix);
	if (strncmp(kid, prefix, n) != 0)
		return ACME_NONE;
	return acme_store_account_auth(ctx->db, kid + n, out);
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
		srv_fail(c, 415, "malformed",
		    "Content-Type must be application/jose+json");
		return -1;
	}
	if (req->body_len > ctx->s->max_body) {
		srv_fail(c, 413, "malformed",
		    "request body larger than %zu bytes", ctx->s->max_body);
		return -1;
	}
	if (acme_jws_parse(req->body, req->body_len, &c->jws, &p) != 0) {
		srv_fail_prob(c, &p);
		return -1;
	}
	/* the JWS "url" names the resource without the query string */
	q = strchr(req->path, '?');
	snprintf(qless, sizeof(qless), "%.*s",
	    (int)(q ? (size_t)(q - req->path) : strlen(req->path)), req->path);
	srv_url_of(ctx, c->url, sizeof(c->url), "%s", qless);
	/* RFC 8555 §6.4: the url is the full request URL; a client following
	 * a Link with a query (orders paging) signs it with the query */
	if (strcmp(c->jws.url, c->url) != 0 &&
	    (q == NULL || strncmp(c->jws.url, c->url, strlen(c->url)) != 0 ||
	        strcmp(c->jws.url + strlen(c->url), q) != 0)) {
		srv_fail(c, 401, "unauthorized",
		    "JWS url \"%.200s\" does not match the request URL "
		    "\"%.200s\"",
		    c->jws.url, c->url);
		return -1;
	}
	if (c->jws.jwk != NULL) {
		if (mode == 0) {
			srv_fail(c, 400, "malformed",
			    "this resource needs a \"kid\" (account URL), "
			    "not a \"jwk\"");
			return -1;
		}
		c->key = acme_jwk_to_pkey(c->jws.jwk, &p);
		if (c->key == NULL) {
			srv_fail_prob(c, &p);
			return -1;
		}
	} else {
		if (mode == 1) {
			srv_fail(c, 400, "malformed",
			    "newAccount must be signed with a \"jwk\"");
			return -1;
		}
		switch (account_by_kid_url(ctx, c->jws.kid, &c->acct)) {
		case ACME_ERR:
			srv_server_error(c);
			return -1;
		case ACME_NONE:
			srv_fail(c, 400, "accountDoesNotExist",
			    "no account with kid \"%.200s\"", c->jws.kid);
			return -1;
		case ACME_FOUND:
			c->has_acct = 1;
			break;
		}
		c->key = account_key(ctx, &c->acct, &p);
		if (c->key == NULL) {
			acme_problem_clear(&p);
			srv_server_error(c);
			return -1;
		}
		/* the front end checked the signature already if it knew the
		 * key: only when that key is still the account's */
		presigned = req->presig != NULL &&
		    strcmp(req->presig->jwk, c->acct.jwk) == 0;
		acme_keycache_put(
		    ctx->s->keys, c->jws.kid, c->acct.jwk, c->key);
	}
	if (!presigned && acme_jws_verify(&c->jws, c->key, &p) != 0) {
		srv_fail_prob(c, &p);
		return -1;
	}
	/* the signature holds; only now spend the nonce (RFC 8555 §6.5) */
	if (c->jws.nonce == NULL ||
	    acme_nonce_consume(ctx->nonces, c->jws.nonce) != 0) {
		srv_fail(c, 400, "badNonce",
		    "JWS has an invalid anti-replay nonce: \"%.64s\"",
		    c->jws.nonce ? c->jws.nonce : "");
		return -1;
	}
	if (c->has_acct && c->acct.status != ACME_ACCT_VALID) {
		srv_fail(c, 401, "unauthorized", "account is %s",
		    acme_acct_status_str(c->acct.status));
		return -1;
	}
	if (c->jws.payload_len > 0) {
		json_error_t je;
		c->payload = json_loadb((const char *)c->jws.payload,
		    c->jws.payload_len, JSON_REJECT_DUPLICATES, &je);
		if (c->payload == NULL || !json_is_object(c->payload)) {
			srv_fail(c, 400, "malformed",
			    "JWS payload is not a JSON object: %s",
			    c->payload ? "not an object" : je.text);
			return -1;
		}
	}
	return 0;
}

int
srv_owns(struct call *c, long long account_id)
{
	if (account_id == c->acct.id)
		return 1;
	srv_fail(
	    c, 403, "unauthorized", "the resource belongs to another account");
	return 0;
}

void
srv_not_found(struct call *c, const char *what)
{
	srv_fail(c, 404, "malformed", "no such %s", what);
}

/* ---- rate limits ---------------------------------------------------- */

/* The metrics label of a limit, from its key's prefix (see the callers). */
static enum mx_rl
rl_metric(const char *key)
{
	if (strncmp(key, "accounts/", 9) == 0)
		return MX_RL_ACCOUNTS_PER_IP;
	if (strncmp(key, "orders/acct/", 12) == 0)
		return MX_RL_ORDERS_PER_ACCOUNT;
	if (strncmp(key, "orders/ip/", 10) == 0)
		return MX_RL_ORDERS_PER_IP;
	return MX_RL_ORDERS_PER_DOMAIN;
}

/* Pass every check or none: when one is over its limit nothing is taken
 * and the client gets rateLimited with the longest wait as Retry-After.
 * @return 1 when the request was refused. */
int
srv_rate_limited(struct call *c, struct rl_check *chk, size_t n)
{
	struct acme_ratelimiter *rl = c->ctx->s->rl;
	long long now_ms = c->req->now * 1000LL, wait, worst = 0;
	const char *what = NULL, *worst_key = "";

	if (rl == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		wait = acme_rl_peek(rl, chk[i].key, chk[i].lim, now_ms, 1);
		if (wait > worst) {
			worst = wait;
			what = chk[i].what;
			worst_key = chk[i].key;
		}
	}
	if (worst == 0) {
		for (size_t i = 0; i < n; i++)
			acme_rl_take(rl, chk[i].key, chk[i].lim, now_ms, 1);
		return 0;
	}
	mx_ratelimit(rl_metric(worst_key));
	srv_fail(c, 429, "rateLimited", "too many %s; retry after %lld seconds",
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
int
srv_name_set_key(const json_t *ids, char *key, size_t len)
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

/* ---- deferred replies --------------------------------------------- */

int
acme_wait_poll(
    struct acme_ctx *ctx, struct acme_resp *resp, long long now, int final)
{
	if (resp->wait == ACME_WAIT_ORDER) {
		struct acme_order ord;
		struct call c = {.ctx = ctx, .resp = resp};
		int done;

		if (srv_load_order(ctx, NULL, resp->wait_id, now, &ord) !=
		    ACME_FOUND) {
			if (!final)
				return 0;
			srv_server_error(&c);
			return 1;
		}
		done = ord.status != ACME_ORDER_PROCESSING;
		if (done || final) {
			resp->wait = ACME_WAIT_NONE;
			srv_reply_order(&c, 200, &ord);
		}
		acme_order_clear(&ord);
		return done || final;
	}
	if (resp->wait == ACME_WAIT_JOB) {
		struct acme_job_state js;
		enum acme_found f =
		    acme_store_job_state(ctx->db, resp->wait_id, &js);
		struct call c = {.ctx = ctx, .resp = resp};

		/* a read error is never "done": keep waiting, and at the
		 * deadline say that nothing is confirmed (the 503 below) */
		if (f == ACME_NONE)
			js.state = ACME_JOB_DONE;
		else if (f == ACME_ERR)
			js.state = ACME_JOB_QUEUED;
		if (js.state == ACME_JOB_QUEUED && !final)
			return 0;
		resp->wait = ACME_WAIT_NONE;
		if (js.state == ACME_JOB_FAILED) {
			srv_fail(&c, 500, "serverInternal",
			    "the CA refused the revocation: %.300s",
			    js.last_error);
		} else if (js.state == ACME_JOB_QUEUED) {
			/* SCM has not confirmed yet (unreachable, or slow):
			 * no 200 before it has. The job keeps trying; the
			 * same request again waits for its outcome. */
			srv_fail(&c, 503, "serverInternal",
			    "the CA has not confirmed the revocation yet; it"
			    " keeps being sent: repeat this request to learn"
			    " the outcome");
			resp->retry_after = ctx->s->retry_after;
		} else {
			resp->status = 200;
		}
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
	RES_CERT_ALT,
	RES_CONN_DIRECTORY,
	RES_CONN_NEW_ACCOUNT,
	RES_RENEWAL_INFO,
	RES_RENEWAL_EXPLAINED,
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
    {"/cert/", 1, "/alt", M_POST, 0, 1, RES_CERT_ALT},
    {"/acme/", 1, "/directory", M_GET, 0, 0, RES_CONN_DIRECTORY},
    {"/acme/", 1, "/new-account", M_POST, 1, 0, RES_CONN_NEW_ACCOUNT},
    /* RFC 9773 §4.1: an unauthenticated GET */
    {"/renewal-info/", 1, NULL, M_GET, 0, 0, RES_RENEWAL_INFO},
    {"/renewal-explained/", 1, NULL, M_GET, 0, 0, RES_RENEWAL_EXPLAINED},
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
	case RES_CONN_DIRECTORY:
	case RES_RENEWAL_INFO:
	case RES_RENEWAL_EXPLAINED:
		break; /* GET only */
	case RES_CONN_NEW_ACCOUNT:
		c->dir_connector = id;
		srv_h_new_account(c);
		break;
	case RES_NEW_NONCE:
		/* the reply's Replay-Nonce is the point */
		c->resp->status = 200;
		c->resp->no_store = 1;
		break;
	case RES_NEW_ACCOUNT:
		srv_h_new_account(c);
		break;
	case RES_REVOKE:
		srv_h_revoke(c);
		break;
	case RES_NEW_ORDER:
		srv_h_new_order(c);
		break;
	case RES_KEY_CHANGE:
		srv_h_key_change(c);
		break;
	case RES_ORDERS:
		srv_h_orders_list(c, id, query);
		break;
	case RES_ACCOUNT:
		srv_h_account(c, id);
		break;
	case RES_FINALIZE:
		srv_h_finalize(c, id);
		break;
	case RES_ORDER:
		srv_h_order(c, id);
		break;
	case RES_AUTHZ:
		srv_h_authz(c, id);
		break;
	case RES_CHALL:
		srv_h_chall(c, id);
		break;
	case RES_CERT:
		srv_h_cert(c, id, 0);
		break;
	case RES_CERT_ALT:
		srv_h_cert(c, id, 1);
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
		srv_fail(&c, 404, "malformed", "no such resource");
		return;
	}
	if ((r->methods & method) == 0) {
		srv_fail(&c, 405, "malformed", "method %s not allowed here",
		    req->method);
		/* RFC 9110 §15.5.6: a 405 lists the allowed methods */
		resp->allow = allow_header(r->methods);
		return;
	}
	if (method == M_GET) {
		if (r->res == RES_DIRECTORY) {
			h_directory(ctx, resp, NULL);
			return;
		}
		if (r->res == RES_CONN_DIRECTORY) {
			const struct acme_connector_info *ci =
			    srv_connector(ctx, id);
			if (ci == NULL)
				srv_fail(&c, 404, "malformed",
				    "no CA connector named \"%.64s\"", id);
			else
				h_directory(ctx, resp, ci);
			return;
		}
		if (r->res == RES_RENEWAL_INFO) {
			srv_h_renewal_info(&c, id);
			return;
		}
		if (r->res == RES_RENEWAL_EXPLAINED) {
			srv_h_renewal_explained(&c, id);
			return;
		}
		/* newNonce, RFC 8555 §7.2: HEAD 200, GET 204 */
		resp->status = strcmp(req->method, "HEAD") == 0 ? 200 : 204;
		resp->no_store = 1;
		srv_add_link(ctx, resp, "/directory", "index");
		return;
	}

	srv_add_link(ctx, resp, "/directory", "index");
	if (authenticate(&c, r->auth) == 0) {
		/* RFC 8555 §6.3: a POST-as-GET carries the empty payload "" */
		if (r->get_only && c.jws.payload_len > 0)
			srv_fail(&c, 400, "malformed",
			    "this resource is read with POST-as-GET: the "
			    "payload must be empty");
		else
			dispatch(&c, r, id, query);
	}
	acme_jws_free(&c.jws);
	json_decref(c.payload);
	acme_account_clear(&c.acct);
	EVP_PKEY_free(c.key);
}
