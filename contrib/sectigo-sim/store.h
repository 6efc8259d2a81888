/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the certificate table.  Records live in memory and, when a
 * database path is given, are mirrored to SQLite so they survive a restart.
 */
#pragma once

#include <stddef.h>
#include <time.h>

#include <jansson.h>

/** Life-cycle states the simulator uses (SCM spelling via names below). */
enum sim_status {
	SIM_ST_APPLIED = 0, /* sent to the "CA", not issued yet */
	SIM_ST_ISSUED,      /* issued and collectable */
	SIM_ST_REVOKED,     /* revoked; collect answers -110 */
	SIM_ST_REQUESTED,   /* waiting for an administrator's approval */
	SIM_ST_APPROVED,    /* approved, not yet sent to the "CA" */
	SIM_ST_DECLINED,    /* declined by an administrator (final) */
};

/** One SSL certificate order (sslId). */
struct sim_cert {
	long id;                  /* sslId, also "id" in details */
	char renew_id[21];        /* 20 alphanumerics for /renew/{renewId} */
	long org_id;              /* organization or department id */
	long cert_type;           /* profile id */
	long term;                /* validity in days */
	char *common_name;        /* subject CN (owned) */
	json_t *sans;             /* array of SAN strings (owned ref) */
	char *csr_pem;            /* normalised CSR (owned) */
	char csr_sha256[65];      /* hex SHA-256 of the CSR DER */
	char key_alg[8];          /* "RSA" or "EC" */
	int key_size;             /* bits */
	char key_param[16];       /* "2048", "P-256", ... */
	char *comments;           /* as sent, or NULL (owned) */
	char *external_requester; /* as sent, or NULL (owned) */
	char *requester;          /* login or OAuth client id (owned) */
	json_t *custom_fields;    /* array of {name,value} (owned ref) */
	json_t *extra;          /* legacy/ignored fields as sent (owned ref) */
	enum sim_status status; /* current state */
	time_t requested;       /* enroll time */
	time_t approved;        /* approval time, 0 while not approved */
	char *approver;         /* who approved (owned), or NULL */
	char *approve_message;  /* message given on approval (owned) */
	time_t declined;        /* decline time, 0 if not declined */
	char *decline_message;  /* message given on decline (owned) */
	time_t downloaded;      /* first collect of the current certificate */
	int pending_left;       /* collect calls still answered "pending" */
	time_t ready_at;        /* not issued before this time */
	char *cert_pem;         /* issued leaf, or NULL (owned) */
	char *serial;           /* colon hex serial, or NULL (owned) */
	time_t issued;          /* issue time, 0 before */
	time_t expires;         /* notAfter, 0 before issue */
	time_t revoked;         /* revocation time, 0 if not revoked */
	int reason_code;        /* RFC 5280 reason given at revocation */
	char *revoke_reason;    /* free-text reason (owned) */
	time_t replaced;        /* time of the last replace, 0 if none */
	json_t *replaced_serials; /* history: {serialNumber, replaced,
	                           * reason, issued, expires, by} per
	                           * certificate this sslId carried before */
	int renewed;              /* 1 once renewed into a new sslId */
	time_t renewed_date;      /* time of that renewal */
	long renewed_from;        /* sslId this order renews, 0 if none */
};

/** Opaque store. */
struct sim_store;

/** @return "Applied", "Issued", "Revoked", "Requested", ... */
const char *sim_status_name(enum sim_status st);

/**
 * The status SCM would show at time now: the stored one, except that an
 * issued certificate past its expiry reads "Expired".
 */
const char *sim_cert_status(const struct sim_cert *c, time_t now);

/** @return 1 if c is issued and past its expiry at time now */
int sim_cert_expired(const struct sim_cert *c, time_t now);

/**
 * Moves every date of every record delta seconds (negative: into the
 * past), for the "advance_days" clock; saves the records.
 */
void sim_store_shift_dates(struct sim_store *st, time_t delta);

/**
 * Allocates an empty record with empty JSON arrays/objects.
 * @return a record to free with sim_cert_free(), or NULL
 */
struct sim_cert *sim_cert_new(void);

/** Frees a record; NULL is a no-op. */
void sim_cert_free(struct sim_cert *c);

/**
 * Opens the store and loads saved records.
 * @param db_path SQLite file, or NULL for memory only
 * @return a store to free with sim_store_free(), or NULL (logged)
 */
struct sim_store *sim_store_open(const char *db_path);

/** Frees the store and all its records; NULL is a no-op. */
void sim_store_free(struct sim_store *st);

/**
 * Adds a record: assigns c->id (increasing, from 1001) and saves it.
 * Takes ownership of c, also on failure.
 * @return 0, or -1 (logged)
 */
int sim_store_add(struct sim_store *st, struct sim_cert *c);

/**
 * Saves a record after a change (no-op for a memory-only store).
 * @return 0, or -1 (logged; the in-memory record stays changed)
 */
int sim_store_save(struct sim_store *st, const struct sim_cert *c);

/** @return the number of records */
size_t sim_store_count(const struct sim_store *st);

/** @return the i-th record in sslId order (borrowed), or NULL */
struct sim_cert *sim_store_at(const struct sim_store *st, size_t i);

/** @return the record with this sslId (borrowed), or NULL */
struct sim_cert *sim_store_get(const struct sim_store *st, long id);

/** @return the record with this renewId (borrowed), or NULL */
struct sim_cert *sim_store_by_renew_id(
    const struct sim_store *st, const char *renew_id);

/**
 * Finds the record whose current serial matches, ignoring colons, case and
 * leading zeros.
 * @return the record (borrowed), or NULL
 */
struct sim_cert *sim_store_by_serial(
    const struct sim_store *st, const char *serial);

/** @return 1 if any record was made from a CSR with this SHA-256 */
int sim_store_has_csr(const struct sim_store *st, const char *sha256);

/**
 * Normalises a serial for comparison: hex digits only, upper case, no
 * leading zeros.  out must hold strlen(in) + 1 bytes.
 */
void sim_serial_normalize(const char *in, char *out);
