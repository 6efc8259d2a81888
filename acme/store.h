/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed store: C structs and enum statuses over the database, and the
 * one table of SQL statements they run (acme/store.c).
 *
 * Contract (what any implementation, SQLite today or PostgreSQL later,
 * must honour):
 * - A lookup answers ACME_FOUND (the struct is filled), ACME_NONE (no such
 *   row; the struct is zeroed) or ACME_ERR (the database failed; logged).
 *   ACME_ERR is never "not found": callers retry or answer 500.
 * - A change returns the rows it changed (>= 0) or -1. Changes run inside
 *   the caller's transaction when there is one (acme_db_begin); the store
 *   never commits on its own.
 * - Statuses cross this interface as enums; the database keeps the
 *   RFC 8555 words, so that old databases open unchanged.
 * - Strings of bounded size are arrays in the structs; unbounded ones
 *   (JWK, CSR, identifiers) are heap copies freed by the struct's clear
 *   function. Nothing returned borrows from the database.
 * - Not thread-safe: one connection, one thread (proxy/commit.h).
 *
 * - Nothing outside the store runs SQL: the protocol handlers
 *   (acme/server.c, srv_*.c), the job state changes (acme/state.c), the
 *   CLI and the DCV engine call these operations; transactions are
 *   theirs (acme_db_begin/commit/rollback).
 * - Statements are numbered: acme/store.c's table from slot 0,
 *   acme/store_dcv.c's (the DCV tables, acme/dcv.h) from slot 128.
 */
#pragma once
#include "acme/db.h"

enum acme_found { ACME_ERR = -1, ACME_NONE = 0, ACME_FOUND = 1 };

enum acme_acct_status {
	ACME_ACCT_VALID,
	ACME_ACCT_DEACTIVATED,
	ACME_ACCT_REVOKED,
	ACME_ACCT_UNKNOWN
};
enum acme_order_status {
	ACME_ORDER_PENDING,
	ACME_ORDER_READY,
	ACME_ORDER_PROCESSING,
	ACME_ORDER_VALID,
	ACME_ORDER_INVALID,
	ACME_ORDER_UNKNOWN
};
enum acme_chall_status {
	ACME_CHALL_PENDING,
	ACME_CHALL_PROCESSING,
	ACME_CHALL_VALID,
	ACME_CHALL_INVALID,
	ACME_CHALL_UNKNOWN
};
/* orders.enroll_state: whether an enrollment may have reached the CA */
enum acme_enroll_state {
	ACME_ENROLL_NONE = 0,     /* never sent */
	ACME_ENROLL_SENDING = 1,  /* sent or about to be: search first */
	ACME_ENROLL_ENROLLED = 2, /* the CA's id is stored */
};

enum acme_authz_status {
	ACME_AUTHZ_PENDING,
	ACME_AUTHZ_VALID,
	ACME_AUTHZ_INVALID,
	ACME_AUTHZ_DEACTIVATED,
	ACME_AUTHZ_EXPIRED,
	ACME_AUTHZ_REVOKED,
	ACME_AUTHZ_UNKNOWN
};

const char *acme_acct_status_str(enum acme_acct_status s);
enum acme_acct_status acme_acct_status_of(const char *s);
const char *acme_order_status_str(enum acme_order_status s);
enum acme_order_status acme_order_status_of(const char *s);
const char *acme_authz_status_str(enum acme_authz_status s);
enum acme_authz_status acme_authz_status_of(const char *s);
const char *acme_chall_status_str(enum acme_chall_status s);
enum acme_chall_status acme_chall_status_of(const char *s);

/** An order as the CA jobs need it. */
struct acme_order {
	long long id;
	long long account_id;
	char oid[64];
	enum acme_order_status status;
	enum acme_enroll_state enroll_state;
	char connector[128];
	char ca_ref[128];  /* "" until enrolled */
	char *csr_pem;     /* NULL before finalize */
	char *identifiers; /* JSON array text */
	long long expires;
	char *error;           /* problem document (JSON text) or NULL */
	char crt_id[64];       /* "" until issued */
	char profile[65];      /* ACME profile, "" for orders from before */
	char replaces[256];    /* the client's "replaces" certID, or "" */
	long long predecessor; /* certificate row this order renews, 0 */
	char ca_status[32];    /* SCM's word while processing, or "" */
	char *name_set;        /* sorted values, ", "-joined, or NULL */
};
void acme_order_clear(struct acme_order *o);
enum acme_found acme_store_order(
    struct acme_db *db, long long id, struct acme_order *out);

/** What validating one challenge needs: the challenge, its identifier and
 * the account key its key authorization is made with. */
struct acme_chall_target {
	long long account_id;
	enum acme_chall_status status;
	char type[16]; /* http-01 | dns-01 | tls-alpn-01 */
	char token[128];
	char id_type[8]; /* dns | ip */
	char id_value[256];
	char *jwk; /* the account's JWK text */
};
void acme_chall_target_clear(struct acme_chall_target *t);
enum acme_found acme_store_chall_target(
    struct acme_db *db, long long chall_id, struct acme_chall_target *out);

/** A certificate as revocation needs it. */
struct acme_cert_ref {
	char ca_ref[128];
	char connector[128];
};
enum acme_found acme_store_cert_ref(
    struct acme_db *db, long long cert_id, struct acme_cert_ref *out);

/** An issued certificate as the protocol handlers need it. */
enum acme_cert_status {
	ACME_CERT_VALID,
	ACME_CERT_REVOKING,
	ACME_CERT_REVOKED
};
struct acme_cert {
	long long id;
	long long account_id;
	enum acme_cert_status status;
	char crt_id[64];
	char *chain_pem;   /* PEM chain, leaf first */
	char *identifiers; /* by_key: the order's identifiers (JSON text) */
};
void acme_cert_clear(struct acme_cert *c);
/** By its URL id (identifiers not filled). */
enum acme_found acme_store_cert_by_crt_id(
    struct acme_db *db, const char *crt_id, struct acme_cert *out);
/** By serial (hex) and SPKI SHA-256 (hex): the revokeCert lookup. */
enum acme_found acme_store_cert_by_key(struct acme_db *db,
    const char *serial_hex, const char *spki_sha256, struct acme_cert *out);
/** valid -> revoking with the reason. @return 1, 0 (not valid) or -1 */
int acme_store_cert_revoking(struct acme_db *db, long long cert_id, int reason);
/** Queue a job; @return its id, or -1. */
long long acme_store_job_add_id(struct acme_db *db, const char *kind,
    long long ref, long long arg, long long now);
/** The newest queued job of kind for ref. */
enum acme_found acme_store_job_queued_for(
    struct acme_db *db, const char *kind, long long ref, long long *job_id);
enum acme_job_state_kind { ACME_JOB_QUEUED, ACME_JOB_DONE, ACME_JOB_FAILED };
struct acme_job_state {
	enum acme_job_state_kind state;
	char last_error[512];
};
enum acme_found acme_store_job_state(
    struct acme_db *db, long long job_id, struct acme_job_state *out);
/** Does the account hold a valid, unexpired authorization of the
 * identifier? */
enum acme_found acme_store_authz_held(struct acme_db *db, long long account_id,
    const char *id_type, const char *id_value, long long now);

/** The order with this URL id. */
enum acme_found acme_store_order_by_oid(
    struct acme_db *db, const char *oid, struct acme_order *out);
/** fn for the id (aid) of each authorization of the order, by id.
 * @return authorizations or -1 */
int acme_store_order_aids(struct acme_db *db, long long order_id,
    void (*fn)(const char *aid, void *arg), void *arg);
/** Authorizations of the order pending or valid past their expiry, or
 * -1. */
long long acme_store_order_lapsed(
    struct acme_db *db, long long order_id, long long now);
/** Authorizations of the order no longer valid and unexpired, or -1. */
long long acme_store_order_unfit(
    struct acme_db *db, long long order_id, long long now);
/** Pending, unexpired authorizations of an account, or -1. */
long long acme_store_pending_authzs(
    struct acme_db *db, long long account_id, long long now);
/** ready -> invalid. @return 1, 0 or -1 */
int acme_store_order_invalidate_ready(
    struct acme_db *db, long long order_id, long long now);
/** A new order whose authorizations are all valid: ready. */
int acme_store_order_set_ready(struct acme_db *db, long long order_id);
/** The account's valid authorization of the identifier that lasts past
 * min_expires (the newest), for reuse. */
enum acme_found acme_store_authz_reusable(struct acme_db *db,
    long long account_id, const char *id_type, const char *id_value,
    int wildcard, long long min_expires, long long *authz_id);

/** An authorization. */
struct acme_authz {
	long long id;
	char aid[64];
	long long account_id;
	char id_type[8]; /* dns | ip */
	char id_value[256];
	int wildcard;
	enum acme_authz_status status; /* as stored (see acme_authz_live) */
	long long expires;
	long long created;
};
/** A challenge; error is the problem document (JSON text) or NULL. */
struct acme_chall {
	long long id;
	char cid[64];
	long long authz_id;
	char type[16];
	char token[128];
	enum acme_chall_status status;
	long long validated; /* 0: not validated */
	char *error;
};
void acme_chall_clear(struct acme_chall *ch);
enum acme_found acme_store_authz_by_aid(
    struct acme_db *db, const char *aid, struct acme_authz *out);
/** fn for every challenge of the authorization, oldest first.
 * @return challenges or -1 */
int acme_store_authz_challs(struct acme_db *db, long long authz_id,
    void (*fn)(const struct acme_chall *ch, void *arg), void *arg);
/** A challenge and its authorization. */
enum acme_found acme_store_chall_by_cid(struct acme_db *db, const char *cid,
    struct acme_chall *ch, struct acme_authz *az);
/** RFC 8555 §7.5.2: a pending or valid, unexpired authorization is
 * deactivated, and the pending/ready orders waiting on it turn invalid.
 * @return 1, 0 (nothing to deactivate) or -1 */
int acme_store_authz_deactivate(
    struct acme_db *db, long long authz_id, long long now);
/** pending -> processing, when no other challenge of the authorization
 * is processing and the authorization is pending and unexpired.
 * @return 1, 0 or -1 */
int acme_store_chall_start(
    struct acme_db *db, long long chall_id, long long authz_id, long long now);

/* ---- administration (the CLI) ---------------------------------------- */

struct acme_eab_info {
	char kid[128];
	char connector[128];
	char note[256];
	long long created;
	long long max_accounts; /* 0: any number */
	long long accounts;     /* accounts bound so far */
	char preauth[1024];     /* JSON array of name patterns, "" none */
};
/** Store a new EAB key and audit it; 1 or -1. */
int acme_store_eab_add(struct acme_db *db, const char *kid,
    const char *hmac_b64url, const char *connector, const char *note,
    long long max_accounts, long long now);
/** Call fn for every EAB key, oldest first; 0 or -1. */
int acme_store_eab_each(struct acme_db *db,
    void (*fn)(const struct acme_eab_info *e, void *arg), void *arg);
/**
 * Names the accounts of an EAB key may order without challenges (JSON
 * array of patterns: "host.example.com" or "*.example.com" for every
 * name under it); NULL removes the policy. @return 1, 0 (no such key), -1
 */
int acme_store_eab_set_preauth(
    struct acme_db *db, const char *kid, const char *patterns_json);
/** The pre-authorization patterns of an account's EAB key (JSON text). */
enum acme_found acme_store_account_preauth(
    struct acme_db *db, long long account_id, char *out, size_t len);
/** Delete an EAB key; rows deleted (0 or 1) or -1. */
int acme_store_eab_remove(struct acme_db *db, const char *kid);

struct acme_account {
	long long id;
	char kid[128];
	enum acme_acct_status status;
	long long created;
	int tos_agreed;
	char eab_kid[128]; /* "" without EAB */
	char connector[128];
	char thumbprint[64];
	long long orders;  /* how many it made */
	char *contact;     /* JSON array text */
	char *jwk;         /* JWK text */
	char *eab_binding; /* the JWS it was bound with, or NULL */
};
void acme_account_clear(struct acme_account *a);
enum acme_found acme_store_account(
    struct acme_db *db, const char *kid, struct acme_account *out);
/** The same for the request path: orders not counted. */
enum acme_found acme_store_account_auth(
    struct acme_db *db, const char *kid, struct acme_account *out);
enum acme_found acme_store_account_by_id(
    struct acme_db *db, long long id, struct acme_account *out);
/** The account of a key (RFC 7638 thumbprint). */
enum acme_found acme_store_account_by_thumb(
    struct acme_db *db, const char *thumb, struct acme_account *out);
/** Replace the contact list (JSON array text). @return rows or -1 */
int acme_store_account_contact(
    struct acme_db *db, long long id, const char *contact_json);
/** Deactivate one account and its pending and valid authorizations
 * (RFC 8555 §7.3.6). @return accounts changed (0 or 1) or -1 */
int acme_store_account_deactivate(struct acme_db *db, long long id);
/** Roll the account key over. @return 1, 0 or -1 (also when the key is
 * another account's: thumbprints are unique) */
int acme_store_account_key(
    struct acme_db *db, long long id, const char *jwk, const char *thumb);
/** Orders of an account after id `after`, by id, at most limit: fn per
 * order. @return orders or -1 */
int acme_store_account_orders(struct acme_db *db, long long account_id,
    long long after, int limit,
    void (*fn)(long long id, const char *oid, void *arg), void *arg);

/** An EAB key as newAccount needs it. */
struct acme_eab {
	char kid[128];
	char hmac_key[128]; /* base64url */
	char connector[128];
	long long max_accounts; /* 0: any number */
};
enum acme_found acme_store_eab_get(
    struct acme_db *db, const char *kid, struct acme_eab *out);
/** Accounts bound by an EAB key (deactivated ones too), or -1. */
long long acme_store_eab_bound(struct acme_db *db, const char *kid);
/** Call fn for every account, oldest first (orders and jwk not filled);
 * 0 or -1. */
int acme_store_account_each(struct acme_db *db,
    void (*fn)(const struct acme_account *a, void *arg), void *arg);
/**
 * Deactivate the valid accounts whose kid (by_eab 0) or EAB kid (by_eab
 * 1) is ref, with their pending and valid authorizations (RFC 8555
 * §7.3.6), one audit row each with detail why; inside the caller's
 * transaction. @return accounts deactivated, or -1.
 */
int acme_store_accounts_deactivate(struct acme_db *db, int by_eab,
    const char *ref, const char *why, long long now);

/* ---- the job queue --------------------------------------------------- */

/** A due job (row of the jobs table). */
struct acme_job {
	long long id;
	char kind[16]; /* validate | enroll | collect | revoke */
	long long ref; /* challenge / order / certificate id */
	long long arg; /* revoke: reason code */
	int attempts;
	long long created; /* unix seconds the job was queued (0: unknown) */
};

/** Queue a job inside the caller's transaction. */
int acme_job_add(struct acme_db *db, const char *kind, long long ref,
    long long arg, long long now);
/** Job pools: validation and CA work have separate capacity, so that a
 * flood of slow challenges cannot hold up enrollment or revocation. */
enum acme_job_pool { ACME_POOL_VALIDATE, ACME_POOL_CA };
/** Up to max due jobs (next_run <= now_ms), oldest first. */
int acme_jobs_due(
    struct acme_db *db, long long now_ms, struct acme_job *out, int max);
/** The same for the jobs of one pool. */
int acme_jobs_due_pool(struct acme_db *db, long long now_ms,
    enum acme_job_pool pool, struct acme_job *out, int max);
/** Reschedule a job after a transient failure. */
int acme_job_retry(struct acme_db *db, long long job_id, long long next_ms,
    const char *error, long long now);

/** Delete finished (done/failed) job rows last updated before `before`;
 * queued jobs are never touched. @return rows deleted, or -1. */
int acme_jobs_purge(struct acme_db *db, long long before);

/* ---- job state changes ----------------------------------------------- *
 * Single statements that acme/state.c composes into one transaction
 * each; every one returns rows changed or -1. */

int acme_store_audit(struct acme_db *db, long long now, const char *event,
    const char *ref, const char *detail);
/** The job is over: done (failed 0) or failed, with its last error. */
int acme_store_job_finish(struct acme_db *db, long long job_id, int failed,
    const char *error, long long now);
int acme_store_job_attempted(
    struct acme_db *db, long long job_id, long long now);
/** An enroll job becomes a collect job, due now, attempts reset. */
int acme_store_job_to_collect(
    struct acme_db *db, long long job_id, long long now);

/** A challenge and its authorization, as a validation result needs. */
struct acme_chall_state {
	long long id;
	enum acme_chall_status status;
	long long authz_id;
	enum acme_authz_status authz_status;
	long long authz_expires;
	char id_type[8];
	char id_value[256];
};
enum acme_found acme_store_chall_state(
    struct acme_db *db, long long chall_id, struct acme_chall_state *out);
int acme_store_chall_valid(
    struct acme_db *db, long long chall_id, long long now);
int acme_store_chall_invalid(
    struct acme_db *db, long long chall_id, const char *error_json);
int acme_store_authz_valid(
    struct acme_db *db, long long authz_id, long long expires);
int acme_store_authz_invalid(struct acme_db *db, long long authz_id);
/** Pending orders of authz_id whose authorizations are now all valid
 * turn ready. */
int acme_store_orders_ready(
    struct acme_db *db, long long authz_id, long long now);
/** The pending and ready orders that use authz_id turn invalid with
 * error_json. */
int acme_store_orders_invalidate(struct acme_db *db, long long authz_id,
    const char *error_json, long long now);
/** The enrollment may reach the CA from now on (crash marker). */
int acme_store_order_sending(
    struct acme_db *db, long long order_id, long long now);
int acme_store_order_enrolled(
    struct acme_db *db, long long order_id, const char *ca_ref, long long now);
/** A processing order turns invalid with error_json. */
int acme_store_order_fail(struct acme_db *db, long long order_id,
    const char *error_json, long long now);

/** A certificate to store. */
struct acme_cert_new {
	const char *crt_id;
	long long order_id;
	long long account_id;
	const char *serial_hex;
	const char *spki_sha256;
	const char *chain_pem;
	long long not_before;
	long long not_after;
	const char *connector;
	const char *ca_ref;
	long long created;
	const char *profile;       /* or NULL */
	const char *names;         /* name set, or NULL */
	const char *aki;           /* issuer key id, base64url, or NULL */
	long long predecessor;     /* certificate renewed, 0 none */
	const char *alt_chain_pem; /* or NULL */
	const char *source;        /* NULL: "acme" */
};
/** @return the certificate's row id, or -1. */
long long acme_store_cert_add(
    struct acme_db *db, const struct acme_cert_new *c);
int acme_store_order_issued(
    struct acme_db *db, long long order_id, long long cert_id, long long now);
/** revoked 1: the CA revoked it; 0: back to valid (the CA refused). */
int acme_store_cert_revoked(struct acme_db *db, long long cert_id, int revoked);
/**
 * Retention: drop orders invalid since before or expired before it
 * without a certificate, and authorizations (with their challenges)
 * expired before it that no order uses; audit rows older than
 * audit_before (0: keep). Inside the caller's transaction.
 * @return orders + authorizations dropped, or -1.
 */
int acme_store_purge(
    struct acme_db *db, long long before, long long audit_before);

/* ---- new objects ------------------------------------------------------ *
 * Rows as the protocol creates them (pending; the state changes above
 * move them on). Each returns the new row's id (rows changed for the
 * link and finalize), or -1. */

struct acme_account_new {
	const char *kid;
	const char *jwk;        /* canonical JWK text */
	const char *thumbprint; /* RFC 7638 */
	const char *contact;    /* JSON array text, NULL: [] */
	int tos_agreed;
	const char *eab_kid;     /* or NULL */
	const char *eab_binding; /* the client's EAB JWS, or NULL */
	const char *connector;
	long long created;
};
long long acme_store_account_add(
    struct acme_db *db, const struct acme_account_new *a);
long long acme_store_order_add(struct acme_db *db, const char *oid,
    long long account_id, long long expires, const char *identifiers,
    const char *connector, long long now);
long long acme_store_authz_add(struct acme_db *db, const char *aid,
    long long account_id, const char *id_type, const char *id_value,
    int wildcard, long long expires, long long now);
int acme_store_order_authz_link(
    struct acme_db *db, long long order_id, long long authz_id);
long long acme_store_chall_add(struct acme_db *db, const char *cid,
    long long authz_id, const char *type, const char *token);
/** A ready, unexpired order turns processing with its CSR: 1, or 0 when
 * it was not ready (a racing finalize), or -1. */
int acme_store_order_finalize(
    struct acme_db *db, long long order_id, const char *csr_pem, long long now);
/** Scratch databases only (the benchmark seeder): every queued job
 * done. */
int acme_store_jobs_finish_all(struct acme_db *db, long long now);
/** Scratch databases only (the benchmark seeder): no syncs at all. */
int acme_store_unsynced(struct acme_db *db);
