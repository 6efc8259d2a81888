/* SPDX-License-Identifier: Apache-2.0 */
/* State changes driven by durable jobs, one transaction each. */
#include "acme/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/csr.h"
#include "contrib/b64url.h"
#include "contrib/log.h"

#include <openssl/rand.h>

/* The job queue itself (add, due, retry, purge) is in acme/store.c. */

/* Orders that will never be used again: invalid (last changed before
 * the cut-off) or pending/ready and expired before it, with no
 * certificate. */
#define DEAD_ORDERS                                                            \
	"SELECT id FROM orders WHERE ((status = 'invalid' AND updated < ?1)"   \
	" OR (status IN ('pending', 'ready') AND expires < ?1)) AND NOT"       \
	" EXISTS (SELECT 1 FROM certificates WHERE order_id = orders.id)"
/* Authorizations expired before the cut-off that no order uses. */
#define DEAD_AUTHZS                                                            \
	"SELECT id FROM authzs WHERE expires < ?1 AND NOT EXISTS (SELECT 1"    \
	" FROM order_authzs WHERE authz_id = authzs.id)"

int
acme_state_purge(struct acme_db *db, long long before, long long audit_before)
{
	int n, total = 0;

	if (acme_db_begin(db) != 0)
		return -1;
	if (acme_db_exec(db,
	        "DELETE FROM order_authzs WHERE order_id IN (" DEAD_ORDERS ")",
	        "i", before) < 0 ||
	    (n = acme_db_exec(db,
	         "DELETE FROM orders WHERE id IN (" DEAD_ORDERS ")", "i",
	         before)) < 0)
		goto fail;
	total += n;
	if (acme_db_exec(db,
	        "DELETE FROM challenges WHERE authz_id IN (" DEAD_AUTHZS ")",
	        "i", before) < 0 ||
	    (n = acme_db_exec(db,
	         "DELETE FROM authzs WHERE id IN (" DEAD_AUTHZS ")", "i",
	         before)) < 0)
		goto fail;
	total += n;
	if (audit_before > 0 &&
	    (n = acme_db_exec(
	         db, "DELETE FROM audit WHERE ts < ?", "i", audit_before)) < 0)
		goto fail;
	if (acme_db_commit(db) != 0)
		return -1;
	return total;
fail:
	acme_db_rollback(db);
	return -1;
}

static int
job_finish(struct acme_db *db, long long job_id, const char *state,
    const char *error, long long now)
{
	return acme_db_exec(db,
	           "UPDATE jobs SET state = ?, last_error = ?, updated = ?"
	           " WHERE id = ?",
	           "ssii", state, error, now, job_id) < 0
	    ? -1
	    : 0;
}

static char *
problem_text(const struct acme_problem *p)
{
	json_t *doc = acme_problem_json(p);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return s;
}

int
acme_state_chall_done(struct acme_db *db, const struct acme_job *job,
    const struct acme_problem *prob, long long valid_for, long long now)
{
	json_t *ch = NULL, *orders = NULL, *o;
	char *err = NULL;
	long long authz_id;
	size_t i;
	int rc = -1, found;

	if (acme_db_begin(db) != 0)
		return -1;
	found = acme_db_get(db, &ch,
	    "SELECT c.id, c.status, c.authz_id, a.status AS astatus,"
	    " a.expires AS aexpires, a.id_value, a.id_type FROM challenges c"
	    " JOIN authzs a ON a.id = c.authz_id WHERE c.id = ?",
	    "i", job->ref);
	if (found < 0)
		goto out; /* a read error settles nothing: the job is retried */
	if (found == 0)
		goto done_job; /* vanished: nothing to do */
	authz_id = acme_row_int(ch, "authz_id");
	if (strcmp(acme_row_str(ch, "status"), "processing") != 0 ||
	    strcmp(acme_row_str(ch, "astatus"), "pending") != 0)
		goto done_job;
	if (acme_row_int(ch, "aexpires") <= now) {
		/* RFC 8555 §7.1.6: an expired authorization is not validated
		 * late (nor given a fresh lifetime); its challenge ends
		 * invalid and readers see the authorization expired */
		if (acme_db_exec(db,
		        "UPDATE challenges SET status = 'invalid', error = ?"
		        " WHERE id = ?",
		        "si",
		        "{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
		        "\"detail\":\"the authorization expired before the"
		        " validation ended\",\"status\":403}",
		        job->ref) < 0)
			goto out;
		acme_db_audit(db, now, "challenge.expired",
		    acme_row_str(ch, "id_value"), "");
		goto done_job;
	}
	if (prob == NULL) {
		/* RFC 8555 §7.1.6: challenge valid -> authz valid -> every
		 * order whose authorizations are now all valid turns ready,
		 * all in this one transaction (certbot 2.1 does not retry
		 * orderNotReady; acme.sh reads all statuses at once). */
		if (acme_db_exec(db,
		        "UPDATE challenges SET status = 'valid', validated = ?"
		        " WHERE id = ?",
		        "ii", now, job->ref) < 0 ||
		    acme_db_exec(db,
		        "UPDATE authzs SET status = 'valid', expires = ?"
		        " WHERE id = ?",
		        "ii", now + valid_for, authz_id) < 0)
			goto out;
		if (acme_db_exec(db,
		        "UPDATE orders SET status = 'ready', updated = ?"
		        " WHERE status = 'pending' AND id IN (SELECT order_id"
		        " FROM order_authzs WHERE authz_id = ?) AND NOT EXISTS"
		        " (SELECT 1 FROM order_authzs oa JOIN authzs a ON"
		        " a.id = oa.authz_id WHERE oa.order_id = orders.id"
		        " AND a.status != 'valid')",
		        "ii", now, authz_id) < 0)
			goto out;
		acme_db_audit(db, now, "challenge.valid",
		    acme_row_str(ch, "id_value"), "");
	} else {
		err = problem_text(prob);
		if (acme_db_exec(db,
		        "UPDATE challenges SET status = 'invalid', error = ?"
		        " WHERE id = ?",
		        "si", err, job->ref) < 0 ||
		    acme_db_exec(db,
		        "UPDATE authzs SET status = 'invalid' WHERE id = ?",
		        "i", authz_id) < 0)
			goto out;
		orders = acme_db_all(db,
		    "SELECT order_id FROM order_authzs WHERE authz_id = ?", "i",
		    authz_id);
		if (orders == NULL)
			goto out;
		json_array_foreach(orders, i, o) {
			struct acme_problem op = {0};
			char *oerr;

			acme_problem_set(&op, 403, "unauthorized",
			    "authorization for %s failed",
			    acme_row_str(ch, "id_value"));
			acme_problem_add_sub(&op,
			    prob->type ? prob->type : "unauthorized",
			    prob->detail, acme_row_str(ch, "id_type"),
			    acme_row_str(ch, "id_value"));
			oerr = problem_text(&op);
			acme_problem_clear(&op);
			if (oerr == NULL ||
			    acme_db_exec(db,
			        "UPDATE orders SET status = 'invalid', error = "
			        "?,"
			        " updated = ? WHERE id = ? AND status IN"
			        " ('pending', 'ready')",
			        "sii", oerr, now,
			        acme_row_int(o, "order_id")) < 0) {
				free(oerr);
				goto out; /* all or nothing (finding 25) */
			}
			free(oerr);
		}
		acme_db_audit(db, now, "challenge.invalid",
		    acme_row_str(ch, "id_value"), prob->detail);
	}
done_job:
	if (job_finish(db, job->id, "done", NULL, now) != 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	free(err);
	json_decref(ch);
	json_decref(orders);
	return rc;
}

int
acme_state_job_close(struct acme_db *db, const struct acme_job *job,
    const char *why, long long now)
{
	if (acme_db_begin(db) != 0)
		return -1;
	if (job_finish(db, job->id, "done", why, now) != 0) {
		acme_db_rollback(db);
		return -1;
	}
	return acme_db_commit(db);
}

int
acme_state_enroll_sending(struct acme_db *db, long long order_id,
    const struct acme_job *job, long long now)
{
	int rc = -1;

	if (acme_db_begin(db) != 0)
		return -1;
	if (acme_db_exec(db,
	        "UPDATE orders SET enroll_state = 1, updated = ? WHERE id = ?",
	        "ii", now, order_id) < 0 ||
	    acme_db_exec(db,
	        "UPDATE jobs SET attempts = attempts + 1, updated = ?"
	        " WHERE id = ?",
	        "ii", now, job->id) < 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	return rc;
}

int
acme_state_enrolled(struct acme_db *db, const struct acme_job *job,
    const char *ca_ref, int found, long long now)
{
	char ref[64];
	int rc = -1;

	if (acme_db_begin(db) != 0)
		return -1;
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	if (acme_db_exec(db,
	        "UPDATE orders SET ca_ref = ?, enroll_state = 2, updated = ?"
	        " WHERE id = ?",
	        "sii", ca_ref, now, job->ref) < 0 ||
	    acme_db_exec(db,
	        "UPDATE jobs SET kind = 'collect', attempts = 0,"
	        " next_run = ?, last_error = NULL, updated = ? WHERE id = ?",
	        "iii", now * 1000, now, job->id) < 0)
		goto out;
	acme_db_audit(db, now, found ? "scm.enroll.reconciled" : "scm.enroll",
	    ref, ca_ref);
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	return rc;
}

int
acme_state_issued(struct acme_db *db, const struct acme_job *job,
    const char *chain_pem, long long now)
{
	struct acme_problem prob = {0};
	struct acme_cert_info info;
	json_t *order = NULL;
	unsigned char rnd[16];
	char crt_id[32], ref[64], why[256];
	int rc = -1, found;

	if (acme_cert_info_pem(chain_pem, &info, &prob) != 0) {
		log_err("order=%lld: collected chain does not parse: %s",
		    job->ref, prob.detail);
		acme_problem_clear(&prob);
		return acme_state_order_failed(db, job,
		    "the CA returned a certificate that does not parse", now);
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	b64url_encode(rnd, sizeof(rnd), crt_id);
	if (acme_db_begin(db) != 0)
		return -1;
	found = acme_db_get(db, &order,
	    "SELECT id, oid, account_id, connector, ca_ref, status, csr_pem,"
	    " identifiers FROM orders WHERE id = ?",
	    "i", job->ref);
	if (found < 0)
		goto out; /* never "gone" on a read error: collect again */
	if (found == 0 ||
	    strcmp(acme_row_str(order, "status"), "processing") != 0) {
		rc = job_finish(db, job->id, "done", NULL, now);
		goto commit;
	}
	/* what SCM returned must be this order's certificate: the CSR's
	 * key and exactly its names (a wrong sslId from reconciliation, or
	 * names SCM added, must never reach the client) */
	if (acme_cert_matches_order(chain_pem, acme_row_str(order, "csr_pem"),
	        acme_row_str(order, "identifiers"), why, sizeof(why)) != 0) {
		acme_db_rollback(db);
		log_err(
		    "order=%lld ca_ref=%s: the CA returned a certificate that"
		    " does not match the order: %s",
		    job->ref, acme_row_str(order, "ca_ref"), why);
		rc = acme_state_order_failed(db, job,
		    "the CA returned a certificate that does not match the"
		    " order",
		    now);
		acme_db_audit(db, now, "certificate.mismatch",
		    acme_row_str(order, "oid"), why);
		json_decref(order);
		return rc;
	}
	if (acme_db_exec(db,
	        "INSERT INTO certificates(crt_id, order_id, account_id, serial,"
	        " spki, chain_pem, not_before, not_after, connector, ca_ref,"
	        " status, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
	        " 'valid', ?)",
	        "siisssiissi", crt_id, job->ref,
	        acme_row_int(order, "account_id"), info.serial_hex,
	        info.spki_sha256, chain_pem, info.not_before, info.not_after,
	        acme_row_str(order, "connector"), acme_row_str(order, "ca_ref"),
	        now) != 1)
		goto out;
	if (acme_db_exec(db,
	        "UPDATE orders SET status = 'valid', cert_id = ?, updated = ?"
	        " WHERE id = ?",
	        "iii", acme_db_last_id(db), now, job->ref) < 0)
		goto out;
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	acme_db_audit(db, now, "certificate.issued", ref, info.serial_hex);
	rc = job_finish(db, job->id, "done", NULL, now);
commit:
	if (rc == 0)
		rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	json_decref(order);
	return rc;
}

int
acme_state_order_failed(struct acme_db *db, const struct acme_job *job,
    const char *detail, long long now)
{
	struct acme_problem p = {0};
	char *err;
	char ref[64];
	int rc = -1;

	acme_problem_set(&p, 500, "serverInternal", "%s", detail);
	err = problem_text(&p);
	acme_problem_clear(&p);
	if (acme_db_begin(db) != 0) {
		free(err);
		return -1;
	}
	if (acme_db_exec(db,
	        "UPDATE orders SET status = 'invalid', error = ?, updated = ?"
	        " WHERE id = ? AND status = 'processing'",
	        "sii", err, now, job->ref) < 0)
		goto out;
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	acme_db_audit(db, now, "order.failed", ref, detail);
	if (job_finish(db, job->id, "failed", detail, now) != 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	free(err);
	return rc;
}

int
acme_state_revoke_done(struct acme_db *db, const struct acme_job *job, int ok,
    const char *detail, long long now)
{
	char ref[64];
	int rc = -1;

	if (acme_db_begin(db) != 0)
		return -1;
	snprintf(ref, sizeof(ref), "certificate=%lld", job->ref);
	if (ok) {
		if (acme_db_exec(db,
		        "UPDATE certificates SET status = 'revoked' WHERE id = "
		        "?",
		        "i", job->ref) < 0)
			goto out;
	} else {
		/* the CA refused for good: the certificate is still good
		 * there, so it must not look revoked here either - said out
		 * loud (the audit row below and this line), never silently */
		log_err("certificate=%lld: SCM refused the revocation, the"
		        " certificate stays valid: %s",
		    job->ref, detail != NULL ? detail : "");
		if (acme_db_exec(db,
		        "UPDATE certificates SET status = 'valid',"
		        " revoke_reason = NULL WHERE id = ?",
		        "i", job->ref) < 0)
			goto out;
	}
	acme_db_audit(
	    db, now, ok ? "scm.revoke" : "scm.revoke.refused", ref, detail);
	if (job_finish(db, job->id, ok ? "done" : "failed", detail, now) != 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	return rc;
}
