/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 accounts: newAccount, account update and deactivation, the
 * orders list, key rollover. */
#include "acme/srv_int.h"

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
		srv_fail(
		    c, 400, "malformed", "contact must be an array of URLs");
		return -1;
	}
	if (json_array_size(contact) > MAX_CONTACTS) {
		srv_fail(c, 400, "invalidContact", "at most %d contacts",
		    MAX_CONTACTS);
		return -1;
	}
	json_array_foreach(contact, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL) {
			srv_fail(c, 400, "malformed",
			    "contact must be an array of URLs");
			return -1;
		}
		if (strncasecmp(s, "mailto:", 7) != 0) {
			srv_fail(c, 400, "unsupportedContact",
			    "only mailto: contacts are supported");
			return -1;
		}
		if (!mailto_ok(s)) {
			srv_fail(c, 400, "invalidContact",
			    "\"%.100s\" is not a mailto: URL of one e-mail "
			    "address (local@domain, no header fields)",
			    s);
			return -1;
		}
	}
	return 0;
}

static void
reply_account(struct call *c, int status, const struct acme_account *acct)
{
	srv_reply_resource(
	    c, status, srv_account_json(c->ctx, acct), "acct", acct->kid);
}

void
srv_h_new_account(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_account existing = {0};
	struct acme_account_new na;
	struct acme_eab key = {0};
	json_t *eab, *contact;
	int have_key = 0;
	char thumb[44], eab_kid[128] = "";
	char *jwk = NULL, *kid = NULL, *contact_s = NULL, *binding = NULL;
	const char *connector = ctx->s->default_connector;
	unsigned char *hmac = NULL;
	size_t hmac_len = 0;

	if (c->payload == NULL) {
		srv_fail(c, 400, "malformed", "newAccount needs a payload");
		return;
	}
	if (c->dir_connector != NULL) {
		if (srv_connector(ctx, c->dir_connector) == NULL) {
			srv_fail(c, 404, "malformed",
			    "no CA connector named \"%.64s\"",
			    c->dir_connector);
			return;
		}
		connector = c->dir_connector;
	}
	if (acme_jwk_thumbprint(c->jws.jwk, thumb) != 0 ||
	    (jwk = acme_jwk_canonical(c->jws.jwk)) == NULL) {
		srv_fail(
		    c, 400, "badPublicKey", "the account key is not usable");
		return;
	}
	switch (acme_store_account_by_thumb(ctx->db, thumb, &existing)) {
	case ACME_ERR:
		srv_server_error(c);
		goto out;
	case ACME_FOUND:
		/* RFC 8555 §7.3.6: a deactivated account's key is refused */
		if (existing.status != ACME_ACCT_VALID) {
			srv_fail(c, 401, "unauthorized",
			    "the account of this key is %s",
			    acme_acct_status_str(existing.status));
			goto out;
		}
		/* RFC 8555 §7.3.1: same key, same account */
		reply_account(c, 200, &existing);
		goto out;
	case ACME_NONE:
		break;
	}
	if (json_is_true(json_object_get(c->payload, "onlyReturnExisting"))) {
		srv_fail(c, 400, "accountDoesNotExist",
		    "no account exists with this key");
		goto out;
	}
	if (ctx->s->tos != NULL && ctx->s->tos[0] != '\0' &&
	    !json_is_true(
	        json_object_get(c->payload, "termsOfServiceAgreed"))) {
		srv_fail(c, 403, "userActionRequired",
		    "the terms of service at %s must be agreed to "
		    "(termsOfServiceAgreed: true)",
		    ctx->s->tos);
		srv_add_link(ctx, c->resp, ctx->s->tos, "terms-of-service");
		goto out;
	}
	contact = json_object_get(c->payload, "contact");
	if (contact != NULL && check_contact(c, contact) != 0)
		goto out;
	eab = json_object_get(c->payload, "externalAccountBinding");
	if (eab == NULL && ctx->s->require_eab) {
		srv_fail(c, 400, "externalAccountRequired",
		    "this server requires an External Account Binding");
		goto out;
	}
	if (eab != NULL) {
		if (acme_eab_parse(eab, eab_kid, sizeof(eab_kid), &p) != 0) {
			srv_fail_prob(c, &p);
			goto out;
		}
		switch (acme_store_eab_get(ctx->db, eab_kid, &key)) {
		case ACME_ERR:
			srv_server_error(c);
			goto out;
		case ACME_NONE:
			srv_fail(c, 401, "unauthorized",
			    "unknown External Account Binding key \"%.100s\"",
			    eab_kid);
			goto out;
		case ACME_FOUND:
			have_key = 1;
			break;
		}
		hmac = b64url_decode_alloc(
		    key.hmac_key, strlen(key.hmac_key), &hmac_len);
		if (hmac == NULL) {
			srv_server_error(c);
			goto out;
		}
		if (acme_eab_verify(
		        eab, hmac, hmac_len, c->url, c->jws.jwk, &p) != 0) {
			srv_fail_prob(c, &p);
			goto out;
		}
		/* an EAB key belongs to one connector: through another
		 * connector's directory it does not bind */
		if (c->dir_connector != NULL &&
		    strcmp(key.connector, c->dir_connector) != 0) {
			srv_fail(c, 403, "unauthorized",
			    "External Account Binding key \"%.100s\" belongs "
			    "to CA connector \"%s\": use the directory "
			    "%s/acme/%s/directory",
			    eab_kid, key.connector, ctx->s->base_url,
			    key.connector);
			goto out;
		}
		connector = key.connector;
		/* RFC 8555 §7.3.4: the account object reflects the binding */
		binding = json_dumps(eab, JSON_COMPACT);
		if (binding == NULL) {
			srv_server_error(c);
			goto out;
		}
	}
	if (c->req->client_ip != NULL) {
		struct rl_check chk = {&ctx->s->limits.accounts_per_ip, "",
		    "new accounts from this address"};

		snprintf(chk.key, sizeof(chk.key), "accounts/ip/%s",
		    c->req->client_ip);
		if (srv_rate_limited(c, &chk, 1))
			goto out;
	}
	kid = srv_random_id();
	contact_s = contact ? json_dumps(contact, JSON_COMPACT) : strdup("[]");
	if (kid == NULL || contact_s == NULL) {
		srv_server_error(c);
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	if (have_key && key.max_accounts > 0) {
		/* counted inside the write transaction, so concurrent
		 * registrations cannot both take the last place; deactivated
		 * accounts count too */
		long long max = key.max_accounts;
		long long bound = acme_store_eab_bound(ctx->db, eab_kid);

		if (bound < 0)
			goto err;
		if (bound >= max) {
			acme_db_rollback(ctx->db);
			srv_fail(c, 403, "unauthorized",
			    "External Account Binding key \"%.100s\" has "
			    "already bound its limit of %lld account(s)",
			    eab_kid, max);
			goto out;
		}
	}
	na = (struct acme_account_new){
	    .kid = kid,
	    .jwk = jwk,
	    .thumbprint = thumb,
	    .contact = contact_s,
	    .tos_agreed = json_is_true(
	        json_object_get(c->payload, "termsOfServiceAgreed")),
	    .eab_kid = eab_kid[0] ? eab_kid : NULL,
	    .eab_binding = binding,
	    .connector = connector,
	    .created = c->req->now,
	};
	if (acme_store_account_add(ctx->db, &na) <= 0) {
		/* same key registered concurrently by another thread */
		acme_db_rollback(ctx->db);
		if (acme_store_account_by_thumb(ctx->db, thumb, &existing) ==
		    ACME_FOUND)
			reply_account(c, 200, &existing);
		else
			srv_server_error(c);
		goto out;
	}
	acme_store_audit(ctx->db, c->req->now, "account.new", kid,
	    eab_kid[0] ? eab_kid : "");
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	acme_account_clear(&existing);
	if (acme_store_account_auth(ctx->db, kid, &existing) != ACME_FOUND)
		goto err;
	reply_account(c, 201, &existing);
	goto out;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
out:
	if (hmac != NULL) {
		OPENSSL_cleanse(hmac, hmac_len);
		free(hmac);
	}
	free(jwk);
	free(kid);
	free(contact_s);
	free(binding);
	acme_account_clear(&existing);
	OPENSSL_cleanse(&key, sizeof(key));
}

void
srv_h_account(struct call *c, const char *kid)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_account row = {0};
	json_t *contact, *status;
	long long id = c->acct.id;

	if (strcmp(c->acct.kid, kid) != 0) {
		srv_fail(c, 403, "unauthorized",
		    "the account URL is not the signer's account");
		return;
	}
	if (c->payload == NULL) {
		reply_account(c, 200, &c->acct);
		return;
	}
	contact = json_object_get(c->payload, "contact");
	status = json_object_get(c->payload, "status");
	if (contact != NULL && check_contact(c, contact) != 0)
		return;
	if (status != NULL &&
	    (!json_is_string(status) ||
	        strcmp(json_string_value(status), "deactivated") != 0)) {
		srv_fail(c, 400, "malformed",
		    "an account's status can only be set to \"deactivated\"");
		return;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	if (contact != NULL) {
		char *s = json_dumps(contact, JSON_COMPACT);
		int rc = s ? acme_store_account_contact(ctx->db, id, s) : -1;
		free(s);
		if (rc < 0)
			goto err;
	}
	if (status != NULL) {
		/* RFC 8555 §7.3.6: pending authorizations go with it */
		if (acme_store_account_deactivate(ctx->db, id) < 0 ||
		    acme_store_audit(ctx->db, c->req->now,
		        "account.deactivated", kid, "") != 1)
			goto err;
	}
	if (acme_db_commit(ctx->db) != 0)
		goto err;
	if (acme_store_account_by_id(ctx->db, id, &row) != ACME_FOUND)
		goto err;
	reply_account(c, 200, &row);
	acme_account_clear(&row);
	return;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
}

struct orders_page {
	struct acme_ctx *ctx;
	json_t *arr;
	int n;
	long long last; /* id of the page's last order */
	int more;       /* a further page exists */
};

static void
page_add(long long id, const char *oid, void *arg)
{
	struct orders_page *pg = arg;

	if (pg->n++ == ORDERS_PAGE) {
		pg->more = 1;
		return;
	}
	pg->last = id;
	json_array_append_new(pg->arr, srv_url_json(pg->ctx, "/order/%s", oid));
}

void
srv_h_orders_list(struct call *c, const char *kid, const char *query)
{
	struct acme_ctx *ctx = c->ctx;
	struct orders_page pg = {ctx, NULL, 0, 0, 0};
	long long cursor = 0;
	char next[256];

	if (strcmp(c->acct.kid, kid) != 0) {
		srv_fail(c, 403, "unauthorized",
		    "the orders list belongs to another account");
		return;
	}
	if (query != NULL && strncmp(query, "cursor=", 7) == 0)
		cursor = strtoll(query + 7, NULL, 10);
	pg.arr = json_array();
	if (pg.arr == NULL ||
	    acme_store_account_orders(ctx->db, c->acct.id, cursor,
	        ORDERS_PAGE + 1, page_add, &pg) < 0) {
		json_decref(pg.arr);
		srv_server_error(c);
		return;
	}
	if (pg.more) {
		/* a further page exists: RFC 8555 §7.1.2.1 paging */
		snprintf(next, sizeof(next), "/acct/%s/orders?cursor=%lld", kid,
		    pg.last);
		srv_add_link(ctx, c->resp, next, "next");
	}
	srv_set_json(c->resp, 200, json_pack("{s:o}", "orders", pg.arr));
}

void
srv_h_key_change(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_jws inner = {0};
	struct acme_account other = {0};
	json_t *ipl = NULL, *old = NULL;
	EVP_PKEY *newkey = NULL;
	char *body = NULL, *jwk = NULL, *oldc = NULL, *curc = NULL;
	char thumb[44], acct_url[600];

	if (c->payload == NULL) {
		srv_fail(c, 400, "malformed", "keyChange needs a JWS payload");
		return;
	}
	/* RFC 8555 §7.3.5: the payload is a JWS signed by the new key */
	body = json_dumps(c->payload, JSON_COMPACT);
	if (body == NULL ||
	    acme_jws_parse(body, strlen(body), &inner, &p) != 0) {
		if (body == NULL)
			srv_server_error(c);
		else
			srv_fail_prob(c, &p);
		goto out;
	}
	if (inner.jwk == NULL) {
		srv_fail(
		    c, 400, "malformed", "the inner JWS must carry a \"jwk\"");
		goto out;
	}
	if (inner.nonce != NULL) {
		srv_fail(c, 400, "malformed",
		    "the inner JWS must not carry a nonce");
		goto out;
	}
	if (strcmp(inner.url, c->url) != 0) {
		srv_fail(c, 400, "malformed",
		    "inner JWS url differs from the outer one");
		goto out;
	}
	newkey = acme_jwk_to_pkey(inner.jwk, &p);
	if (newkey == NULL) {
		srv_fail_prob(c, &p);
		goto out;
	}
	if (acme_jws_verify(&inner, newkey, &p) != 0) {
		srv_fail_prob(c, &p);
		goto out;
	}
	ipl = json_loadb((const char *)inner.payload, inner.payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	srv_url_of(ctx, acct_url, sizeof(acct_url), "/acct/%s", c->acct.kid);
	if (!json_is_object(ipl) ||
	    !json_is_string(json_object_get(ipl, "account")) ||
	    strcmp(json_string_value(json_object_get(ipl, "account")),
	        acct_url) != 0) {
		srv_fail(c, 400, "malformed",
		    "inner payload \"account\" must be the signer's account "
		    "URL");
		goto out;
	}
	old = json_object_get(ipl, "oldKey");
	oldc = old ? acme_jwk_canonical(old) : NULL;
	curc = strdup(c->acct.jwk);
	if (oldc == NULL || curc == NULL || strcmp(oldc, curc) != 0) {
		srv_fail(c, 400, "malformed",
		    "inner payload \"oldKey\" is not the account's current "
		    "key");
		goto out;
	}
	if (acme_jwk_thumbprint(inner.jwk, thumb) != 0 ||
	    (jwk = acme_jwk_canonical(inner.jwk)) == NULL) {
		srv_fail(c, 400, "badPublicKey", "the new key is not usable");
		goto out;
	}
	switch (acme_store_account_by_thumb(ctx->db, thumb, &other)) {
	case ACME_ERR:
		srv_server_error(c);
		goto out;
	case ACME_NONE:
		break;
	case ACME_FOUND:
		/* "conflict" is no registered ACME error type (RFC 8555
		 * §7.3.5 names only the 409 and the Location) */
		srv_fail(c, 409, "malformed", "the new key is already in use");
		srv_url_of(ctx, c->resp->location, sizeof(c->resp->location),
		    "/acct/%s", other.kid);
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0 ||
	    acme_store_account_key(ctx->db, c->acct.id, jwk, thumb) != 1) {
		acme_db_rollback(ctx->db);
		srv_fail(c, 409, "malformed", "the new key is already in use");
		goto out;
	}
	acme_store_audit(
	    ctx->db, c->req->now, "account.keychange", c->acct.kid, thumb);
	if (acme_db_commit(ctx->db) != 0) {
		srv_server_error(c);
		goto out;
	}
	free(c->acct.jwk);
	c->acct.jwk = jwk;
	jwk = NULL;
	reply_account(c, 200, &c->acct);
out:
	acme_jws_free(&inner);
	EVP_PKEY_free(newkey);
	json_decref(ipl);
	acme_account_clear(&other);
	free(body);
	free(jwk);
	free(oldc);
	free(curc);
}
