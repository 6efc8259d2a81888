/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 authorizations and challenges: reads, deactivation, starting
 * a validation. */
#include "acme/srv_int.h"

/* ---- authorizations and challenges --------------------------------- */

static void
reply_authz(struct call *c, const struct acme_authz *az)
{
	int processing = 0;
	json_t *body = srv_authz_json(c->ctx, az, c->req->now, &processing);

	if (body == NULL) {
		srv_server_error(c);
		return;
	}
	srv_set_json(c->resp, 200, body);
	if (processing)
		c->resp->retry_after = c->ctx->s->retry_after;
}

/* RFC 8555 §7.5.2: the client gives the authorization up. The orders that
 * wait on it can no longer be finalized: they turn invalid with it, in
 * the same transaction. @return 0, or -1 (rolled back). */
static int
deactivate_authz(struct call *c, const struct acme_authz *az)
{
	struct acme_db *db = c->ctx->db;
	long long now = c->req->now;
	int n;

	if (acme_db_begin(db) != 0)
		return -1;
	n = acme_store_authz_deactivate(db, az->id, now);
	if (n < 0 ||
	    (n == 1 &&
	        acme_store_audit(
	            db, now, "authz.deactivated", az->aid, az->id_value) != 1))
		goto err;
	if (acme_db_commit(db) != 0)
		goto err;
	return 0;
err:
	acme_db_rollback(db);
	return -1;
}

void
srv_h_authz(struct call *c, const char *aid)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_authz az;
	json_t *st;

	switch (acme_store_authz_by_aid(ctx->db, aid, &az)) {
	case ACME_ERR:
		srv_server_error(c);
		return;
	case ACME_NONE:
		srv_not_found(c, "authorization");
		return;
	case ACME_FOUND:
		break;
	}
	if (!srv_owns(c, az.account_id))
		return;
	st = c->payload ? json_object_get(c->payload, "status") : NULL;
	/* RFC 8555 §6.3: a read is a POST-as-GET, an update names status */
	if (c->payload != NULL && st == NULL) {
		srv_fail(c, 400, "malformed",
		    "an authorization is read with POST-as-GET (empty "
		    "payload) or updated with {\"status\": \"deactivated\"}");
		return;
	}
	if (st != NULL) {
		if (!json_is_string(st) ||
		    strcmp(json_string_value(st), "deactivated") != 0) {
			srv_fail(c, 400, "malformed",
			    "an authorization's status can only be set to "
			    "\"deactivated\"");
			return;
		}
		if (deactivate_authz(c, &az) != 0 ||
		    acme_store_authz_by_aid(ctx->db, aid, &az) != ACME_FOUND) {
			srv_server_error(c);
			return;
		}
	}
	reply_authz(c, &az);
}

void
srv_h_chall(struct call *c, const char *cid)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_chall ch;
	struct acme_authz az;
	json_t *body;
	char up[600];

	switch (acme_store_chall_by_cid(ctx->db, cid, &ch, &az)) {
	case ACME_ERR:
		srv_server_error(c);
		return;
	case ACME_NONE:
		srv_not_found(c, "challenge");
		return;
	case ACME_FOUND:
		break;
	}
	if (!srv_owns(c, az.account_id))
		goto out;
	/* POST {} asks for validation; POST-as-GET just reads. An expired
	 * authorization (RFC 8555 §7.1.6) can no longer be validated: the
	 * client has done nothing malformed, it is refused the power the
	 * authorization would have granted, hence 403 unauthorized. */
	if (c->payload != NULL && ch.status == ACME_CHALL_PENDING &&
	    az.status == ACME_AUTHZ_PENDING && az.expires < c->req->now) {
		srv_fail(c, 403, "unauthorized",
		    "the authorization expired; create a new order");
		srv_url_of(ctx, up, sizeof(up), "/authz/%s", az.aid);
		srv_add_link(ctx, c->resp, up, "up");
		goto out;
	}
	if (c->payload != NULL && ch.status == ACME_CHALL_PENDING &&
	    az.status == ACME_AUTHZ_PENDING) {
		struct rl_check chk = {&ctx->s->limits.failed_validations, "",
		    "failed validations of this identifier"};
		long long wait;
		int started;

		/* failures are counted by the job runner (acme_rl_take on
		 * the same key); here a client that keeps failing waits */
		acme_failed_validation_key(
		    az.account_id, az.id_value, chk.key, sizeof(chk.key));
		wait = ctx->s->rl == NULL
		    ? 0
		    : acme_rl_peek(ctx->s->rl, chk.key, chk.lim,
		          c->req->now * 1000LL, 1);
		if (wait > 0) {
			mx_ratelimit(MX_RL_FAILED_VALIDATIONS);
			srv_fail(c, 429, "rateLimited",
			    "too many failed validations of %.100s; retry "
			    "after %lld seconds",
			    az.id_value, wait);
			c->resp->retry_after =
			    wait > INT_MAX ? INT_MAX : (int)wait;
			goto out;
		}
		if (acme_db_begin(ctx->db) != 0)
			goto err;
		started =
		    acme_store_chall_start(ctx->db, ch.id, az.id, c->req->now);
		if (started < 0)
			goto err;
		if (started == 1 &&
		    acme_job_add(ctx->db, "validate", ch.id, 0, c->req->now) !=
		        0)
			goto err;
		if (acme_db_commit(ctx->db) != 0)
			goto err;
		if (started == 1) {
			ch.status = ACME_CHALL_PROCESSING;
			c->resp->kick = 1;
		}
	}
	body = srv_chall_json(ctx, &ch);
	if (body == NULL)
		goto err;
	srv_set_json(c->resp, 200, body);
	srv_url_of(ctx, up, sizeof(up), "/authz/%s", az.aid);
	srv_add_link(ctx, c->resp, up, "up");
	if (ch.status == ACME_CHALL_PROCESSING)
		c->resp->retry_after = ctx->s->retry_after;
	goto out;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
out:
	acme_chall_clear(&ch);
}
