/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's part for Sectigo domain control validation: DCV runs, the
 * journal of DNS records the bridge published, and the cache of SCM's
 * domains. Same contract as acme/store.h (three-way lookups, changes in
 * the caller's transaction, nothing borrowed from the database).
 *
 * A DCV run moves through
 *   start -> publish -> propagate -> [submit ->] poll -> cleanup -> valid
 * and may end in failed from any step (cleanup first when a record was
 * published). One run per (SCM domain, CA connector) is live at a time
 * (a unique index); orders needing that domain wait for it.
 */
#pragma once
#include "acme/db.h"
#include "acme/store.h"

enum acme_dcv_state {
	ACME_DCV_START,     /* ask SCM: status, then start/submit */
	ACME_DCV_PUBLISH,   /* the record goes to the DNS connector */
	ACME_DCV_PROPAGATE, /* waiting for every authoritative server */
	ACME_DCV_SUBMIT,    /* CNAME: tell SCM to look */
	ACME_DCV_POLL,      /* SCM checks; we read its status */
	ACME_DCV_CLEANUP,   /* remove the record, then the outcome */
	ACME_DCV_VALID,
	ACME_DCV_FAILED,
	ACME_DCV_UNKNOWN
};
const char *acme_dcv_state_str(enum acme_dcv_state s);
enum acme_dcv_state acme_dcv_state_of(const char *s);

/** One DCV run. */
struct acme_dcv {
	long long id;
	char domain[256];    /* the SCM domain (registered, high level) */
	char connector[128]; /* CA connector */
	char method[8];      /* "txt" | "cname" */
	enum acme_dcv_state state;
	int outcome_ok;      /* CLEANUP: 1 ends valid, 0 failed */
	char host[300];      /* record name from SCM, no final dot */
	char point[300];     /* record value from SCM */
	long long expires;   /* VALID: unix time the validation ends */
	char reason[512];    /* FAILED: SCM's or the DNS side's words */
	char started_by[16]; /* "order" | "schedule" | "cli" */
	long long created, updated, deadline; /* unix s */
};

/**
 * A new run in state start, and its job ("dcv", ref = run id).
 * @return the run id, 0 when a live run for (domain, connector) exists
 *         (nothing added), -1 on error
 */
long long acme_dcv_add(struct acme_db *db, const char *domain,
    const char *connector, const char *method, const char *started_by,
    long long now);
enum acme_found acme_dcv_get(
    struct acme_db *db, long long id, struct acme_dcv *out);
/** The newest run of (domain, connector). */
enum acme_found acme_dcv_latest(struct acme_db *db, const char *domain,
    const char *connector, struct acme_dcv *out);
/**
 * Move run id to state; host/point/reason NULL keep theirs; expires and
 * deadline < 0 keep theirs; outcome_ok < 0 keeps it.
 * @return rows changed (1) or -1
 */
int acme_dcv_set(struct acme_db *db, long long id, enum acme_dcv_state state,
    int outcome_ok, const char *host, const char *point, long long expires,
    long long deadline, const char *reason, long long now);
/** Every run, newest first (at most limit). @return runs or -1 */
int acme_dcv_each(struct acme_db *db, int limit,
    void (*cb)(const struct acme_dcv *d, void *arg), void *arg);

/* ---- the journal of published records ---- */

enum acme_rec_state {
	ACME_REC_PRESENTING, /* asked the connector to add it */
	ACME_REC_PRESENT,    /* the connector said it is there */
	ACME_REC_REMOVING,   /* asked the connector to remove it */
	ACME_REC_GONE,       /* removed */
	ACME_REC_KEPT,       /* left in place on purpose (CNAME DCV) */
	ACME_REC_UNKNOWN
};
const char *acme_rec_state_str(enum acme_rec_state s);

struct acme_dnsrec {
	long long id;
	long long dcv_id;
	char connector[128]; /* DNS connector */
	char zone[256];
	char name[300];
	char type[8]; /* "TXT" | "CNAME" */
	char value[300];
	char handle[160];
	enum acme_rec_state state;
	char last_error[512];
	long long created, updated;
};

/** Journal a record before the connector is called (state presenting).
 * @return its id or -1 */
long long acme_dnsrec_add(struct acme_db *db, long long dcv_id,
    const char *connector, const char *zone, const char *name, const char *type,
    const char *value, long long now);
/** handle/error NULL keep theirs. */
int acme_dnsrec_set(struct acme_db *db, long long id, enum acme_rec_state state,
    const char *handle, const char *error, long long now);
/** The live record (presenting/present/removing) of a run. */
enum acme_found acme_dnsrec_of_dcv(
    struct acme_db *db, long long dcv_id, struct acme_dnsrec *out);
/**
 * Records, newest first: live_only 1 gives those not gone or kept.
 * @return records or -1
 */
int acme_dnsrec_each(struct acme_db *db, int live_only, int limit,
    void (*cb)(const struct acme_dnsrec *r, int orphan, void *arg), void *arg);
/**
 * Live records whose run is over (or gone): what a crash left behind.
 * Queues a "dnsclean" job (ref = record id) for each that has none.
 * @return jobs queued or -1
 */
int acme_dnsrec_sweep(struct acme_db *db, long long now);
enum acme_found acme_dnsrec_get(
    struct acme_db *db, long long id, struct acme_dnsrec *out);

/* ---- SCM's domains, as last read ---- */

struct acme_scm_domain {
	char connector[128];
	char name[256];    /* the SCM domain */
	int validated;     /* SCM says VALIDATED */
	long long expires; /* unix s, 0 unknown */
	long long checked; /* when SCM was last asked */
};

int acme_scmdom_put(struct acme_db *db, const struct acme_scm_domain *d);
/** The cached SCM domain that covers name: the longest suffix of name
 * (on a label boundary) among the cached domains of connector. */
enum acme_found acme_scmdom_covering(struct acme_db *db, const char *connector,
    const char *name, struct acme_scm_domain *out);
/**
 * Validated domains whose validation ends before `before` and that have
 * no live run: the scheduler's work.
 * @return domains passed to cb, or -1
 */
int acme_scmdom_expiring(struct acme_db *db, long long before, int limit,
    void (*cb)(const struct acme_scm_domain *d, void *arg), void *arg);
int acme_scmdom_each(struct acme_db *db,
    void (*cb)(const struct acme_scm_domain *d, void *arg), void *arg);

/** Make every queued enroll job due now (a DCV run ended: the orders
 * waiting on it go on). @return jobs woken or -1 */
int acme_jobs_wake_enroll(struct acme_db *db, long long now_ms);
