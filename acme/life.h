/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's certificate lifecycle part: profiles and renewal links of
 * orders, the certificate inventory (keyed by serial), RFC 9773 lookups,
 * the SCM report sync's state. Same rules as acme/store.h: results are
 * FOUND/NONE/ERR or row counts, -1 on a database error; nothing here
 * opens a transaction of its own.
 */
#pragma once
#include "acme/store.h"

/** A certificate as the lifecycle sees it. */
struct acme_life_cert {
	long long id;
	long long order_id;
	long long account_id;
	char crt_id[64];
	char serial[80]; /* lower-case hex, no leading zero byte */
	char connector[128];
	char ca_ref[128];
	char profile[65];
	char aki[96];
	enum acme_cert_status status;
	long long not_before, not_after;
	long long predecessor; /* certificate row, 0 none */
	long long replaced_by; /* certificate row, 0 none */
	char scm_status[32];   /* SCM's word at the last sync, or "" */
	char scm_reason[256];
	char source[16]; /* acme | reissue | scm */
	char *names;     /* name set, or NULL */
	char *chain_pem;
	char *alt_chain_pem; /* or NULL */
};
void acme_life_cert_clear(struct acme_life_cert *c);

/** The lifecycle fields of a new order (inside its transaction). */
int acme_life_order_set(struct acme_db *db, long long order_id,
    const char *profile, const char *replaces, long long predecessor,
    const char *name_set);
/** SCM's word for a processing order ("Requested" ...), NULL clears. */
int acme_life_order_ca_status(
    struct acme_db *db, long long order_id, const char *ca_status);

/** An order that waited for an approval moved on to ca_status (rows
 * changed: 1 when it just left "Requested", else 0; nothing is written
 * for orders that never waited). */
int acme_life_order_approved(
    struct acme_db *db, long long order_id, const char *ca_status);
/** Run a queued job again at next_ms without counting an attempt (a
 * wait for a person, not a failure: the backoff stays where it was). */
int acme_life_job_wait(struct acme_db *db, long long job_id, long long next_ms,
    const char *why, long long now);
/** A certificate by row id. */
enum acme_found acme_life_cert(
    struct acme_db *db, long long id, struct acme_life_cert *out);
/** A certificate by serial (normalised hex) and, when aki is not NULL,
 * issuer key id. */
enum acme_found acme_life_cert_by_serial(struct acme_db *db, const char *serial,
    const char *aki, struct acme_life_cert *out);
/** The newest certificate of an SCM enrollment. */
enum acme_found acme_life_cert_by_ref(struct acme_db *db, const char *connector,
    const char *ca_ref, struct acme_life_cert *out);
/** Whether an order already holds the CA's enrollment ca_ref. */
enum acme_found acme_life_ref_known(
    struct acme_db *db, const char *connector, const char *ca_ref);
/** Whether any certificate was issued under this issuer key id. */
enum acme_found acme_life_aki_known(struct acme_db *db, const char *aki);
/**
 * RFC 9773 §5: the order (oid into buf) that holds cert_id as its
 * replacement: an order with "replaces" that is not invalid and, unless
 * valid or processing, not expired at now. FOUND, NONE or ERR.
 */
enum acme_found acme_life_replacement(struct acme_db *db, long long cert_id,
    long long now, char *oid, size_t len);
/** The certificate a new order of account for name_set renews when the
 * client names none: its newest valid, unexpired, not yet replaced one
 * for exactly that name set. Row id, 0 none, -1. */
long long acme_life_renewal_of(struct acme_db *db, long long account_id,
    const char *name_set, long long now);
/** successor replaces cert_id (first successor wins): rows changed. */
int acme_life_cert_replaced(
    struct acme_db *db, long long cert_id, long long successor);
/** Record SCM's view of a certificate (sync): status, reason. "Revoked"
 * also turns a valid certificate revoked. Rows changed. */
int acme_life_cert_scm(struct acme_db *db, long long cert_id,
    const char *scm_status, const char *reason, long long now);

/** Inventory filter; NULL / 0 fields do not filter. */
struct acme_inv_filter {
	const char *connector;
	const char *account; /* account URL id (kid) */
	const char *name;    /* one of the certificate's names, exactly */
	const char *status;  /* valid | revoked | revoking | expired |
				replaced */
	const char *profile;
	const char *serial;        /* normalised hex */
	long long expiring_before; /* not_after before this (and later
				      than now) */
	long long now;
	int limit; /* 0: all */
};
/** One inventory row (borrowed during the callback). */
struct acme_inv_row {
	const struct acme_life_cert *c;
	const char *status;             /* as filtered: valid, revoked, ... */
	const char *account;            /* kid */
	const char *order;              /* oid */
	const char *predecessor_serial; /* or "" */
	const char *successor_serial;   /* or "" */
};
/** Rows matching f, newest first: count, or -1. */
int acme_life_inventory(struct acme_db *db, const struct acme_inv_filter *f,
    void (*cb)(const struct acme_inv_row *row, void *arg), void *arg);

/** The profiles an account's EAB key allows: FOUND with the JSON array
 * text in buf, NONE when any profile is allowed. */
enum acme_found acme_life_account_profiles(
    struct acme_db *db, long long account_id, char *buf, size_t len);
int acme_life_eab_set_profiles(
    struct acme_db *db, const char *kid, const char *profiles_json);

/** The report sync's progress for a connector (zeroes when never run). */
struct acme_sync_state {
	long long last_run, last_ok, rows;
	char last_error[256];
};
enum acme_found acme_life_sync_get(
    struct acme_db *db, const char *connector, struct acme_sync_state *out);
int acme_life_sync_put(
    struct acme_db *db, const char *connector, const struct acme_sync_state *s);
/** Wake the collect job of the processing order enrolled as ca_ref (SCM
 * changed it): rows changed. */
int acme_life_wake_collect(struct acme_db *db, const char *connector,
    const char *ca_ref, long long now_ms);
