/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 certificates and revocation. */
#include "acme/srv_int.h"

#include "acme/life.h"

/* ---- certificates and revocation ------------------------------------ */

void
srv_h_cert(struct call *c, const char *crt_id, int alt)
{
	struct acme_cert crt;
	struct acme_life_cert lc;
	const char *pem;
	char path[160];

	memset(&lc, 0, sizeof(lc));
	switch (acme_store_cert_by_crt_id(c->ctx->db, crt_id, &crt)) {
	case ACME_ERR:
		srv_server_error(c);
		return;
	case ACME_NONE:
		srv_not_found(c, "certificate");
		return;
	case ACME_FOUND:
		break;
	}
	if (!srv_owns(c, crt.account_id))
		goto out;
	/* RFC 8555 §7.4.2: the CA's other chain for the same leaf, as
	 * rel="alternate" */
	if (acme_life_cert(c->ctx->db, crt.id, &lc) == ACME_ERR) {
		srv_server_error(c);
		goto out;
	}
	if (alt && lc.alt_chain_pem == NULL) {
		srv_not_found(c, "alternate chain");
		goto out;
	}
	pem = alt ? lc.alt_chain_pem : crt.chain_pem;
	snprintf(path, sizeof(path), alt ? "/cert/%s" : "/cert/%s/alt", crt_id);
	if (alt || lc.alt_chain_pem != NULL)
		srv_add_link(c->ctx, c->resp, path, "alternate");
	c->resp->raw = strdup(pem);
	if (c->resp->raw == NULL) {
		srv_server_error(c);
	} else {
		c->resp->raw_len = strlen(pem);
		c->resp->status = 200;
		c->resp->ctype = "application/pem-certificate-chain";
	}
out:
	acme_life_cert_clear(&lc);
	acme_cert_clear(&crt);
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
		enum acme_found f;

		if (type == NULL || value == NULL) {
			ok = 0;
			break;
		}
		if (strncmp(value, "*.", 2) == 0)
			value += 2;
		/* a database error denies, as a missing authorization */
		f = acme_store_authz_held(
		    c->ctx->db, c->acct.id, type, value, c->req->now);
		if (f != ACME_FOUND) {
			ok = 0;
			break;
		}
	}
	json_decref(ids);
	return ok;
}

void
srv_h_revoke(struct call *c)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_cert_info info;
	struct acme_cert crt = {0};
	enum acme_found found;
	json_t *cj, *rj;
	unsigned char *der = NULL, *leaf = NULL;
	size_t der_len = 0, leaf_len = 0;
	long long reason = 0, job_id;
	int changed;

	cj = c->payload ? json_object_get(c->payload, "certificate") : NULL;
	if (!json_is_string(cj)) {
		srv_fail(
		    c, 400, "malformed", "revokeCert needs a \"certificate\"");
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
			srv_fail(c, 400, "badRevocationReason",
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
			srv_fail(c, 400, "malformed",
			    "certificate is not base64url DER");
		else
			srv_fail_prob(c, &p);
		goto out;
	}
	found = acme_store_cert_by_key(
	    ctx->db, info.serial_hex, info.spki_sha256, &crt);
	if (found == ACME_ERR)
		goto err;
	/* the lookup only finds a candidate: the submitted bytes must be
	 * exactly the certificate we issued, so that every later check
	 * (and the key check below) reads the same certificate */
	if (found == ACME_NONE ||
	    acme_cert_leaf_der(crt.chain_pem, &leaf, &leaf_len) != 0 ||
	    leaf_len != der_len || CRYPTO_memcmp(leaf, der, der_len) != 0) {
		srv_fail(
		    c, 404, "malformed", "no such certificate was issued here");
		goto out;
	}
	if (c->has_acct) {
		if (crt.account_id != c->acct.id &&
		    !holds_authzs(c, crt.identifiers ? crt.identifiers : "")) {
			srv_fail(c, 403, "unauthorized",
			    "the certificate belongs to another account, and "
			    "this"
			    " account holds no valid authorization for all of"
			    " its names");
			goto out;
		}
	} else if (!acme_cert_key_matches(leaf, leaf_len, c->key)) {
		srv_fail(c, 403, "unauthorized",
		    "the JWS key is not the certificate's key");
		goto out;
	}
	if (crt.status == ACME_CERT_REVOKED) {
		srv_fail(
		    c, 400, "alreadyRevoked", "the certificate is revoked");
		goto out;
	}
	if (acme_db_begin(ctx->db) != 0)
		goto err;
	/* 'revoking' until SCM confirms: the answer is 200 only then */
	changed = acme_store_cert_revoking(ctx->db, crt.id, (int)reason);
	if (changed < 0)
		goto err;
	if (changed == 0) {
		/* already on its way to SCM (an earlier request, or one
		 * racing this one): wait for that revocation's outcome */
		found = acme_store_job_queued_for(
		    ctx->db, "revoke", crt.id, &job_id);
		acme_db_rollback(ctx->db);
		if (found == ACME_ERR)
			goto err;
		if (found == ACME_NONE) {
			srv_fail(c, 400, "alreadyRevoked",
			    "the certificate is revoked");
			goto out;
		}
	} else {
		job_id = acme_store_job_add_id(
		    ctx->db, "revoke", crt.id, reason, c->req->now);
		if (job_id < 0 ||
		    acme_store_audit(ctx->db, c->req->now, "certificate.revoke",
		        crt.crt_id, info.serial_hex) != 1)
			goto err;
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
	srv_server_error(c);
out:
	free(der);
	free(leaf);
	acme_cert_clear(&crt);
}
