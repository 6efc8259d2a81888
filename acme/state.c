/* SPDX-License-Identifier: Apache-2.0 */
/* State changes driven by durable jobs, one transaction each. */
#include "acme/state.h"

#include "acme/life.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/csr.h"
#include "contrib/b64url.h"
#include "contrib/log.h"

#include <openssl/rand.h>

/* The job queue itself (add, due, retry, purge) and every statement are
 * in acme/store.c; here each state change is composed into one
 * transaction. */

int
acme_state_purge(struct acme_db *db, long long before, long long audit_before)
{
	int n;

	if (acme_db_begin(db) != 0)
		return -1;
	n = acme_store_purge(db, before, audit_before);
	if (n < 0 || acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		return -1;
	}
	return n;
}

static char *
problem_text(const struct acme_problem *p)
{
	json_t *doc = acme_problem_json(p);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return s;
}

/* The orders waiting on an authorization that failed turn invalid, with
 * a problem naming the identifier and the validation's error (all in the
 * caller's transaction: finding 25). */
static int
fail_orders(struct acme_db *db, const struct acme_chall_state *ch,
    const struct acme_problem *prob, long long now)
{
	struct acme_problem op = {0};
	char *oerr;
	int rc;

	acme_problem_set(&op, 403, "unauthorized",
	    "authorization for %s failed", ch->id_value);
	acme_problem_add_sub(&op, prob->type ? prob->type : "unauthorized",
	    prob->detail, ch->id_type, ch->id_value);
	oerr = problem_text(&op);
	acme_problem_clear(&op);
	rc = oerr != NULL
	    ? acme_store_orders_invalidate(db, ch->authz_id, oerr, now)
	    : -1;
	free(oerr);
	return rc < 0 ? -1 : 0;
}

int
acme_state_chall_done(struct acme_db *db, const struct acme_job *job,
    const struct acme_problem *prob, long long valid_for, long long now)
{
	struct acme_chall_state ch;
	enum acme_found found;
	char *err = NULL;
	int rc = -1;

	if (acme_db_begin(db) != 0)
		return -1;
	found = acme_store_chall_state(db, job->ref, &ch);
	if (found == ACME_ERR)
		goto out; /* a read error settles nothing: the job is retried */
	if (found == ACME_NONE)
		goto done_job; /* vanished: nothing to do */
	if (ch.status != ACME_CHALL_PROCESSING ||
	    ch.authz_status != ACME_AUTHZ_PENDING)
		goto done_job;
	if (ch.authz_expires <= now) {
		/* RFC 8555 §7.1.6: an expired authorization is not validated
		 * late (nor given a fresh lifetime); its challenge ends
		 * invalid and readers see the authorization expired */
		if (acme_store_chall_invalid(db, job->ref,
		        "{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
		        "\"detail\":\"the authorization expired before the"
		        " validation ended\",\"status\":403}") < 0 ||
		    acme_store_audit(
		        db, now, "challenge.expired", ch.id_value, "") < 0)
			goto out;
		goto done_job;
	}
	if (prob == NULL) {
		/* RFC 8555 §7.1.6: challenge valid -> authz valid -> every
		 * order whose authorizations are now all valid turns ready,
		 * all in this one transaction (certbot 2.1 does not retry
		 * orderNotReady; acme.sh reads all statuses at once). */
		if (acme_store_chall_valid(db, job->ref, now) < 0 ||
		    acme_store_authz_valid(db, ch.authz_id, now + valid_for) <
		        0 ||
		    acme_store_orders_ready(db, ch.authz_id, now) < 0 ||
		    acme_store_audit(
		        db, now, "challenge.valid", ch.id_value, "") < 0)
			goto out;
	} else {
		err = problem_text(prob);
		if (err == NULL ||
		    acme_store_chall_invalid(db, job->ref, err) < 0 ||
		    acme_store_authz_invalid(db, ch.authz_id) < 0 ||
		    fail_orders(db, &ch, prob, now) != 0 ||
		    acme_store_audit(db, now, "challenge.invalid", ch.id_value,
		        prob->detail) < 0)
			goto out;
	}
done_job:
	if (acme_store_job_finish(db, job->id, 0, NULL, now) < 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	free(err);
	return rc;
}

int
acme_state_job_close(struct acme_db *db, const struct acme_job *job,
    const char *why, long long now)
{
	if (acme_db_begin(db) != 0)
		return -1;
	if (acme_store_job_finish(db, job->id, 0, why, now) < 0) {
		acme_db_rollback(db);
		return -1;
	}
	return acme_db_commit(db);
}

int
acme_state_enroll_sending(struct acme_db *db, long long order_id,
    const struct acme_job *job, long long now)
{
	if (acme_db_begin(db) != 0)
		return -1;
	if (acme_store_order_sending(db, order_id, now) < 0 ||
	    acme_store_job_attempted(db, job->id, now) < 0 ||
	    acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		return -1;
	}
	return 0;
}

int
acme_state_enrolled(struct acme_db *db, const struct acme_job *job,
    const char *ca_ref, int found, long long now)
{
	char ref[64];

	if (acme_db_begin(db) != 0)
		return -1;
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	if (acme_store_order_enrolled(db, job->ref, ca_ref, now) < 0 ||
	    acme_store_job_to_collect(db, job->id, now) < 0 ||
	    acme_store_audit(db, now,
	        found ? "scm.enroll.reconciled" : "scm.enroll", ref,
	        ca_ref) < 0 ||
	    acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		return -1;
	}
	return 0;
}

int
acme_state_issued(struct acme_db *db, const struct acme_job *job,
    const char *chain_pem, long long now)
{
	return acme_state_issued_alt(db, job, chain_pem, NULL, now);
}

int
acme_state_issued_alt(struct acme_db *db, const struct acme_job *job,
    const char *chain_pem, const char *alt_chain_pem, long long now)
{
	struct acme_problem prob = {0};
	struct acme_cert_info info;
	struct acme_order order;
	enum acme_found found;
	unsigned char rnd[16];
	char crt_id[32], ref[64], why[256];
	long long cert_id;
	int rc = -1;

	memset(&order, 0, sizeof(order));
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
	found = acme_store_order(db, job->ref, &order);
	if (found == ACME_ERR)
		goto out; /* never "gone" on a read error: collect again */
	if (found == ACME_NONE || order.status != ACME_ORDER_PROCESSING) {
		rc = acme_store_job_finish(db, job->id, 0, NULL, now) < 0 ? -1
		                                                          : 0;
		goto commit;
	}
	/* what SCM returned must be this order's certificate: the CSR's
	 * key and exactly its names (a wrong sslId from reconciliation, or
	 * names SCM added, must never reach the client) */
	if (acme_cert_matches_order(chain_pem, order.csr_pem, order.identifiers,
	        why, sizeof(why)) != 0) {
		acme_db_rollback(db);
		log_err(
		    "order=%lld ca_ref=%s: the CA returned a certificate that"
		    " does not match the order: %s",
		    job->ref, order.ca_ref, why);
		rc = acme_state_order_failed(db, job,
		    "the CA returned a certificate that does not match the"
		    " order",
		    now);
		acme_store_audit(
		    db, now, "certificate.mismatch", order.oid, why);
		acme_order_clear(&order);
		return rc;
	}
	{
		struct acme_cert_new c = {
		    .crt_id = crt_id,
		    .order_id = job->ref,
		    .account_id = order.account_id,
		    .serial_hex = info.serial_hex,
		    .spki_sha256 = info.spki_sha256,
		    .chain_pem = chain_pem,
		    .not_before = info.not_before,
		    .not_after = info.not_after,
		    .connector = order.connector,
		    .ca_ref = order.ca_ref,
		    .created = now,
		    .profile = order.profile[0] ? order.profile : NULL,
		    .names = order.name_set,
		    .aki = info.aki_b64url[0] ? info.aki_b64url : NULL,
		    .predecessor = order.predecessor,
		    .alt_chain_pem = alt_chain_pem,
		};

		cert_id = acme_store_cert_add(db, &c);
	}
	/* RFC 9773 §5: the predecessor counts as replaced from the
	 * successor's issuance on */
	if (cert_id >= 0 && order.predecessor != 0 &&
	    acme_life_cert_replaced(db, order.predecessor, cert_id) < 0)
		goto out;
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	if (cert_id < 0 ||
	    acme_store_order_issued(db, job->ref, cert_id, now) < 0 ||
	    acme_store_audit(
	        db, now, "certificate.issued", ref, info.serial_hex) < 0)
		goto out;
	rc = acme_store_job_finish(db, job->id, 0, NULL, now) < 0 ? -1 : 0;
commit:
	if (rc == 0)
		rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	acme_order_clear(&order);
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
	if (err == NULL || acme_db_begin(db) != 0) {
		free(err);
		return -1;
	}
	snprintf(ref, sizeof(ref), "order=%lld", job->ref);
	if (acme_store_order_fail(db, job->ref, err, now) < 0 ||
	    acme_store_audit(db, now, "order.failed", ref, detail) < 0 ||
	    acme_store_job_finish(db, job->id, 1, detail, now) < 0)
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
	if (!ok)
		/* the CA refused for good: the certificate is still good
		 * there, so it must not look revoked here either - said out
		 * loud (the audit row below and this line), never silently */
		log_err("certificate=%lld: SCM refused the revocation, the"
		        " certificate stays valid: %s",
		    job->ref, detail != NULL ? detail : "");
	if (acme_store_cert_revoked(db, job->ref, ok) < 0 ||
	    acme_store_audit(db, now, ok ? "scm.revoke" : "scm.revoke.refused",
	        ref, detail) < 0 ||
	    acme_store_job_finish(db, job->id, !ok, detail, now) < 0)
		goto out;
	rc = acme_db_commit(db);
out:
	if (rc != 0)
		acme_db_rollback(db);
	return rc;
}
