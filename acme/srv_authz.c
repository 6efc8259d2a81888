/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 authorizations and challenges: reads, deactivation, starting
 * a validation. */
#include "acme/srv_int.h"

/* ---- authorizations and challenges --------------------------------- */

static void
reply_authz(struct call *c, const json_t *az)
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

void
srv_h_authz(struct call *c, const char *aid)
{
	struct acme_ctx *ctx = c->ctx;
	json_t *az = acme_db_one(
	           ctx->db, "SELECT * FROM authzs WHERE aid = ?", "s", aid),
	       *st;

	if (az == NULL) {
		srv_not_found(c, "authorization");
		return;
	}
	if (!srv_owns(c, acme_row_int(az, "account_id")))
		goto out;
	st = c->payload ? json_object_get(c->payload, "status") : NULL;
	/* RFC 8555 §6.3: a read is a POST-as-GET, an update names status */
	if (c->payload != NULL && st == NULL) {
		srv_fail(c, 400, "malformed",
		    "an authorization is read with POST-as-GET (empty "
		    "payload) or updated with {\"status\": \"deactivated\"}");
		goto out;
	}
	if (st != NULL) {
		if (!json_is_string(st) ||
		    strcmp(json_string_value(st), "deactivated") != 0) {
			srv_fail(c, 400, "malformed",
			    "an authorization's status can only be set to "
			    "\"deactivated\"");
			goto out;
		}
		if (deactivate_authz(c, az) != 0) {
			srv_server_error(c);
			goto out;
		}
		json_decref(az);
		az = acme_db_one(
		    ctx->db, "SELECT * FROM authzs WHERE aid = ?", "s", aid);
		if (az == NULL) {
			srv_server_error(c);
			return;
		}
	}
	reply_authz(c, az);
out:
	json_decref(az);
}

void
srv_h_chall(struct call *c, const char *cid)
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
		srv_not_found(c, "challenge");
		return;
	}
	if (!srv_owns(c, acme_row_int(ch, "account_id")))
		goto out;
	/* POST {} asks for validation; POST-as-GET just reads. An expired
	 * authorization (RFC 8555 §7.1.6) can no longer be validated: the
	 * client has done nothing malformed, it is refused the power the
	 * authorization would have granted, hence 403 unauthorized. */
	if (c->payload != NULL &&
	    strcmp(acme_row_str(ch, "status"), "pending") == 0 &&
	    strcmp(acme_row_str(ch, "astatus"), "pending") == 0 &&
	    acme_row_int(ch, "aexpires") < c->req->now) {
		srv_fail(c, 403, "unauthorized",
		    "the authorization expired; create a new order");
		srv_url_of(
		    ctx, up, sizeof(up), "/authz/%s", acme_row_str(ch, "aid"));
		srv_add_link(ctx, c->resp, up, "up");
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
			srv_fail(c, 429, "rateLimited",
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
	body = srv_chall_json(ctx, ch);
	if (body == NULL)
		goto err;
	srv_set_json(c->resp, 200, body);
	srv_url_of(ctx, up, sizeof(up), "/authz/%s", acme_row_str(ch, "aid"));
	srv_add_link(ctx, c->resp, up, "up");
	if (strcmp(acme_row_str(ch, "status"), "processing") == 0)
		c->resp->retry_after = ctx->s->retry_after;
	goto out;
err:
	acme_db_rollback(ctx->db);
	srv_server_error(c);
out:
	json_decref(ch);
}
