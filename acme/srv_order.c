/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 orders: newOrder (identifiers, authorizations, rate limits),
 * order reads, finalize. */
#include "acme/srv_int.h"

#include "acme/life.h"

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
	long long acct = c->acct.id, authz_id;
	const char *base = acme_ident_base(id);
	unsigned want = challenges_for(ctx, id);
	enum acme_found reuse = ACME_NONE;
	char *aid = NULL;
	int rc = -1;

	if (ctx->s->authz_reuse > 0 && !preauth)
		reuse = acme_store_authz_reusable(ctx->db, acct, id->type, base,
		    id->wildcard,
		    c->req->now + reuse_margin(ctx->s->authz_reuse), &authz_id);
	if (reuse == ACME_ERR)
		goto out;
	if (reuse == ACME_NONE) {
		/* pre-authorized by the account's EAB key: valid from the
		 * start, as are its challenges (nothing to do for the client;
		 * SCM's own domain validation still applies at enrollment) */
		if (!preauth)
			*all_valid = 0;
		aid = srv_random_id();
		authz_id = aid == NULL
		    ? -1
		    : acme_store_authz_add(ctx->db, aid, acct, id->type, base,
		          id->wildcard, expires, c->req->now);
		if (authz_id < 0 ||
		    (preauth &&
		        acme_store_authz_valid(ctx->db, authz_id, expires) !=
		            1))
			goto out;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			char *cid, *token;
			long long r;

			if (!(want & types[i].bit))
				continue;
			cid = srv_random_id();
			token = acme_random_token(32);
			r = (cid && token) ? acme_store_chall_add(ctx->db, cid,
			                         authz_id, types[i].name, token)
			                   : -1;
			if (r > 0 && preauth)
				r = acme_store_chall_valid(
				        ctx->db, r, c->req->now) == 1
				    ? r
				    : -1;
			free(cid);
			free(token);
			if (r < 0)
				goto out;
		}
	}
	if (acme_store_order_authz_link(ctx->db, order_id, authz_id) < 0)
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
		long long pending = acme_store_pending_authzs(
		    c->ctx->db, c->acct.id, c->req->now);

		if (pending < 0) {
			srv_server_error(c);
			return 1;
		}
		if (pending + (long long)n > lim->pending_authzs) {
			mx_ratelimit(MX_RL_PENDING_AUTHZS);
			srv_fail(c, 429, "rateLimited",
			    "too many pending authorizations (at most %lld);"
			    " finish or deactivate some first",
			    lim->pending_authzs);
			c->resp->retry_after = 3600;
			return 1;
		}
	}
	chk = calloc(n + 3, sizeof(*chk));
	if (chk == NULL) {
		srv_server_error(c);
		return 1;
	}
	chk[k].lim = &lim->orders_per_account;
	chk[k].what = "new orders for this account";
	snprintf(
	    chk[k++].key, sizeof(chk->key), "orders/acct/%lld", c->acct.id);
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
	if (srv_rate_limited(c, chk, k))
		goto out;
	if (srv_name_set_key(idarr, chk[0].key, sizeof(chk[0].key)) != 0) {
		srv_server_error(c);
		goto out;
	}
	wait = acme_rl_peek(c->ctx->s->rl, chk[0].key, &lim->certs_per_name_set,
	    c->req->now * 1000LL, 1);
	if (wait > 0) {
		mx_ratelimit(MX_RL_CERTS_PER_NAME_SET);
		srv_fail(c, 429, "rateLimited",
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

void
srv_h_new_order(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_ident *ids = NULL;
	size_t n = 0;
	struct acme_order ord = {0};
	json_t *idarr = NULL;
	char *oid = NULL, *ids_s = NULL;
	long long order_id, expires = c->req->now + ctx->s->order_lifetime;
	json_t *pats = NULL; /* pre-authorized name patterns, or NULL */
	char pre[1024], profile[65];
	char *name_set = NULL;
	long long pred = 0;
	int all_valid = 1;

	if (c->payload == NULL) {
		srv_fail(c, 400, "malformed", "newOrder needs a payload");
		return;
	}
	if (json_object_get(c->payload, "notBefore") != NULL ||
	    json_object_get(c->payload, "notAfter") != NULL) {
		srv_fail(c, 400, "malformed",
		    "notBefore/notAfter are not supported: the validity comes "
		    "from the CA connector's configured term");
		return;
	}
	if (acme_idents_parse(json_object_get(c->payload, "identifiers"),
	        ctx->s->allow_private_addresses, &ids, &n, &p) != 0) {
		srv_fail_prob(c, &p);
		return;
	}
	switch (
	    acme_store_account_preauth(ctx->db, c->acct.id, pre, sizeof(pre))) {
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
		srv_fail_prob(c, &p);
		goto out;
	}
	if (srv_order_profile(c, profile, sizeof(profile)) != 0)
		goto out;
	name_set = srv_name_set(ids, n);
	if (name_set == NULL)
		goto err;
	if (srv_order_predecessor(c, ids, n, name_set, &pred) != 0)
		goto out;
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
	oid = srv_random_id();
	if (ids_s == NULL || oid == NULL)
		goto err;
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	order_id = acme_store_order_add(ctx->db, oid, c->acct.id, expires,
	    ids_s, c->acct.connector, c->req->now);
	if (order_id < 0 ||
	    acme_life_order_set(ctx->db, order_id, profile,
	        json_string_value(json_object_get(c->payload, "replaces")),
	        pred, name_set) != 1)
		goto err;
	for (size_t i = 0; i < n; i++)
		if (add_authz(c, order_id, &ids[i], expires, pats != NULL,
		        &all_valid) != 0)
			goto err;
	if ((all_valid && acme_store_order_set_ready(ctx->db, order_id) < 0) ||
	    acme_store_audit(ctx->db, c->req->now, "order.new", oid, ids_s) !=
	        1)
		goto err;
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	if (srv_load_order(ctx, oid, 0, c->req->now, &ord) != ACME_FOUND)
		goto err;
	srv_reply_order(c, 201, &ord);
	goto out;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
out:
	free(ids);
	free(oid);
	free(ids_s);
	free(name_set);
	json_decref(idarr);
	acme_order_clear(&ord);
	json_decref(pats);
}

/* The order oid as the signer may see it: 1 with ord filled, or 0 after
 * the reply (500, 404, or 403 for another account's). */
static int
owned_order(struct call *c, const char *oid, struct acme_order *ord)
{
	switch (srv_load_order(c->ctx, oid, 0, c->req->now, ord)) {
	case ACME_ERR:
		srv_server_error(c);
		return 0;
	case ACME_NONE:
		srv_not_found(c, "order");
		return 0;
	case ACME_FOUND:
		break;
	}
	if (srv_owns(c, ord->account_id))
		return 1;
	acme_order_clear(ord);
	return 0;
}

void
srv_h_order(struct call *c, const char *oid)
{
	struct acme_order ord;

	if (!owned_order(c, oid, &ord))
		return;
	srv_reply_order(c, 200, &ord);
	acme_order_clear(&ord);
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
name_set_taken(struct call *c, const struct acme_order *ord)
{
	json_t *ids;
	char key[300];

	if (c->ctx->s->rl == NULL)
		return;
	ids = json_loads(ord->identifiers, 0, NULL);
	if (ids != NULL && srv_name_set_key(ids, key, sizeof(key)) == 0)
		acme_rl_take(c->ctx->s->rl, key,
		    &c->ctx->s->limits.certs_per_name_set, c->req->now * 1000LL,
		    1);
	json_decref(ids);
}

void
srv_h_finalize(struct call *c, const char *oid)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_csr csr = {0};
	struct acme_ident *ids = NULL;
	struct acme_order ord = {0};
	json_t *idj = NULL, *v, *csrj;
	long long unfit;
	size_t n = 0, i;

	if (!owned_order(c, oid, &ord))
		return;
	/* RFC 8555 §7.4: only a ready order may be finalized; a client
	 * retrying while its first finalize is processing is told so (it
	 * polls the order), and nothing is enrolled twice */
	if (ord.status != ACME_ORDER_READY) {
		srv_fail(c, 403, "orderNotReady", "the order is %s, not ready",
		    acme_order_status_str(ord.status));
		goto out;
	}
	/* draft-ietf-acme-profiles §4: a profile no longer offered fails
	 * here too */
	if (ord.profile[0] != '\0' &&
	    srv_profile(srv_connector(ctx, ord.connector), ord.profile) ==
	        NULL) {
		srv_fail(c, 400, "invalidProfile",
		    "profile \"%s\" is no longer offered; place a new order",
		    ord.profile);
		goto out;
	}
	csrj = c->payload ? json_object_get(c->payload, "csr") : NULL;
	if (!json_is_string(csrj)) {
		srv_fail(
		    c, 400, "malformed", "finalize needs a \"csr\" string");
		goto out;
	}
	if (acme_csr_parse(json_string_value(csrj), &csr, &p) != 0) {
		srv_fail_prob(c, &p);
		goto out;
	}
	idj = json_loads(ord.identifiers, 0, NULL);
	ids = calloc(json_array_size(idj) + 1, sizeof(*ids));
	if (idj == NULL || ids == NULL) {
		srv_server_error(c);
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
		srv_fail_prob(c, &p);
		goto out;
	}
	if (csr_is_account_key(&csr, c->key)) {
		srv_fail(c, 400, "badCSR",
		    "the CSR's public key is the account key");
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	/* every authorization must still hold: none deactivated, revoked
	 * or expired since the order became ready */
	unfit = acme_store_order_unfit(ctx->db, ord.id, c->req->now);
	if (unfit < 0)
		goto err;
	if (unfit > 0) {
		if (acme_store_order_invalidate_ready(
		        ctx->db, ord.id, c->req->now) < 0 ||
		    acme_store_audit(ctx->db, c->req->now, "order.invalid", oid,
		        "authorization no longer valid") != 1)
			goto err;
		if (acme_db_commit(ctx->db) != 0)
			goto err;
		srv_fail(c, 403, "orderNotReady",
		    "an authorization of the order is no longer valid "
		    "(deactivated or expired); create a new order");
		goto out;
	}
	/* the status guard makes two racing finalize calls enroll once */
	if (acme_store_order_finalize(ctx->db, ord.id, csr.pem, c->req->now) !=
	    1) {
		acme_db_rollback(ctx->db);
		acme_order_clear(&ord);
		if (srv_load_order(ctx, oid, 0, c->req->now, &ord) !=
		    ACME_FOUND)
			goto err;
		if (ord.status == ACME_ORDER_PROCESSING)
			srv_reply_order(c, 200, &ord);
		else
			srv_fail(c, 403, "orderNotReady", "the order is %s",
			    acme_order_status_str(ord.status));
		goto out;
	}
	if (acme_job_add(ctx->db, "enroll", ord.id, 0, c->req->now) != 0 ||
	    acme_store_audit(
	        ctx->db, c->req->now, "order.finalize", oid, csr.key_desc) != 1)
		goto err;
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	name_set_taken(c, &ord);
	ord.status = ACME_ORDER_PROCESSING;
	srv_reply_order(c, 200, &ord);
	c->resp->kick = 1;
	if (ctx->s->finalize_wait > 0) {
		c->resp->wait = ACME_WAIT_ORDER;
		c->resp->wait_id = ord.id;
		c->resp->wait_acct = c->acct.id;
		c->resp->wait_until =
		    c->req->now * 1000 + ctx->s->finalize_wait * 1000LL;
	}
	goto out;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
out:
	acme_csr_free(&csr);
	free(ids);
	json_decref(idj);
	acme_order_clear(&ord);
}
