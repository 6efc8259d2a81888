/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State changes driven by durable jobs (validation results, SCM outcomes).
 * Each function is one SQLite transaction: the object's new state, the
 * states that follow from it (authorization -> order), the job row and
 * the audit record commit together or not at all.
 */
#pragma once
#include "acme/db.h"
#include "acme/store.h"
#include "acme/problem.h"

/**
 * Retention, in one transaction: drop orders that are invalid since before
 * or expired before it without a certificate, and the authorizations
 * (with their challenges) that expired before it and no order uses; drop
 * audit rows older than audit_before (0 keeps them all).
 * @return orders + authorizations dropped, or -1.
 */
int acme_state_purge(
    struct acme_db *db, long long before, long long audit_before);

/** Validation finished: prob NULL = valid (the authorization then stays
 * valid for valid_for seconds). Updates challenge, authz and the orders
 * waiting on it (ready / invalid). */
int acme_state_chall_done(struct acme_db *db, const struct acme_job *job,
    const struct acme_problem *prob, long long valid_for, long long now);
/**
 * Close a job that has nothing left to do (its challenge or order moved
 * on), with why as its last_error; changes nothing else.
 */
int acme_state_job_close(struct acme_db *db, const struct acme_job *job,
    const char *why, long long now);
/** Record that an enrollment request is about to be sent (crash marker). */
int acme_state_enroll_sending(struct acme_db *db, long long order_id,
    const struct acme_job *job, long long now);
/** SCM accepted (or reconciliation found) the enrollment: store the CA
 * reference and turn the job into a collect job. */
int acme_state_enrolled(struct acme_db *db, const struct acme_job *job,
    const char *ca_ref, int found, long long now);
/** The certificate was collected: store it, order valid, job done. */
int acme_state_issued(struct acme_db *db, const struct acme_job *job,
    const char *chain_pem, long long now);
/** The same with the CA's alternate chain (NULL: none). */
int acme_state_issued_alt(struct acme_db *db, const struct acme_job *job,
    const char *chain_pem, const char *alt_chain_pem, long long now);
/** Permanent failure of an order's CA work: order invalid, job failed. */
int acme_state_order_failed(struct acme_db *db, const struct acme_job *job,
    const char *detail, long long now);
/** Revocation reached the CA (ok=1) or was refused (ok=0, detail). */
int acme_state_revoke_done(struct acme_db *db, const struct acme_job *job,
    int ok, const char *detail, long long now);
