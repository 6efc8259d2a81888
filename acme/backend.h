/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CA port: what acme/ needs from a certificate authority backend
 * (sectigo/ implements it on the SCM REST API). Plain data in, plain data
 * out, asynchronous: if a call returns 0, its callback runs exactly once,
 * later, from the backend's event loop, never from inside the call; if it
 * returns an error, the callback never runs.
 */
#pragma once
#include <stddef.h>

#define ACME_CA_OPS_V1 1

/** What a CA call came to. */
enum acme_ca_status {
	ACME_CA_OK,       /* done: see the result fields for the call */
	ACME_CA_PENDING,  /* accepted, not finished yet: poll again later */
	ACME_CA_NOTFOUND, /* find: no enrollment carries the tag; collect:
			     SCM does not know the sslId (yet) */
	ACME_CA_RETRY,    /* transient failure (network, 5xx, auth): retry */
	ACME_CA_FAILED,   /* permanent failure: the order must fail */
};

/** One enrollment to make (borrowed for the duration of the call). */
struct acme_ca_enroll {
	const char *tag;          /* unique per order; stored with the SCM
				     enrollment so a lost reply can be found
				     again (find) */
	const char *csr_pem;      /* PEM CSR */
	const char *const *names; /* SAN values (DNS names or IP addresses)
				     in the order sent */
	size_t n_names;
	const char *cn;    /* the commonName the CA files the enrollment under:
			   the CSR's CN as written, or NULL when the CSR has
			   none (then the CA takes names[0]); find searches
			   by it */
	int validity_days; /* 0 = connector default */
	int cert_type;     /* CA certificate profile (SCM certType id),
			      0 = connector default */
	long org_id;       /* organization or department, 0 = connector
			      default */
	/* find: whether the caller already holds the CA's enrollment ca_ref
	 * for another order (then it is not the one sought and needs no
	 * lookup); NULL: nothing is known */
	int (*known)(void *known_arg, const char *ca_ref);
	void *known_arg;
};

/** What the CA holds about one certificate (details, report rows). */
struct acme_ca_cert {
	const char *ca_ref; /* SCM sslId */
	const char *status; /* the CA's word: "Requested", "Approved",
			       "Applied", "Issued", "Revoked", "Expired",
			       "Replaced", "Declined", "Rejected", "Invalid" */
	const char *serial; /* lower-case hex, no separators, no leading
			       zeros; "" when not issued */
	const char *names;  /* SANs, ", "-separated, or "" */
	long long requested, approved, issued, expires, revoked, replaced,
	    declined;       /* unix s, 0 = not (yet) */
	const char *reason; /* declined/rejected/revoked: the CA's words
			       (comments, reason), or "" */
};

/** An SSL report query (SCM POST /api/report/v1/ssl-certificates). */
struct acme_ca_report_query {
	int status;         /* 0 any, 1 requested, 2 issued, 3 revoked,
			       4 expired */
	int date_attr;      /* 0 none, 2 revocation, 3 expiration,
			       4 request, 5 issuance */
	long long from, to; /* unix s; the CA counts whole UTC days */
};

/** Domain control validation detail of a result. */
struct acme_ca_dcv {
	const char *domain;       /* domain_find: the CA's domain covering
	                             the name (high level, DCV is done on it) */
	int validated;            /* the CA holds a current validation */
	long long expires;        /* when it ends (unix s), 0 unknown */
	const char *status;       /* the CA's words, e.g. "NOT_VALIDATED" */
	const char *order_status; /* the DCV order's, e.g. "SUBMITTED" */
	int rejected;             /* the CA gave up on this DCV order */
	const char *host;         /* dcv_start: the record to publish (name,
	                             no final dot) */
	const char *point;        /* its value (TXT data or CNAME target) */
};

/** Outcome of a CA call; valid only during the callback. */
struct acme_ca_result {
	enum acme_ca_status status;
	const char *ca_ref;    /* submit/find: the CA's id (SCM sslId) */
	const char *chain_pem; /* collect: PEM chain, leaf first */
	const char *error;     /* RETRY/FAILED: what went wrong, in words an
				  operator can act on (never secrets) */
	long http_status;      /* last HTTP status from the CA, 0 if none */
	int ca_code;           /* CA error code (SCM "code"), 0 if none */
	int retry_after;       /* PENDING/RETRY: suggested seconds, 0 = none */
	const struct acme_ca_dcv *dcv; /* DCV calls: OK (and NOTFOUND) */
	/* collect PENDING: why, in the CA's words ("Requested" = waiting for
	 * an administrator's approval, "Applied" = with the CA); collect
	 * FAILED: the status that ended it ("Declined", "Rejected",
	 * "Revoked"...), with error carrying the CA's reason. NULL unknown. */
	const char *ca_status;
	/* collect OK: another chain for the same leaf, PEM, leaf first
	 * (served as rel="alternate"), or NULL */
	const char *alt_chain_pem;
	/* details (one row) and report (any number): OK */
	const struct acme_ca_cert *certs;
	size_t n_certs;
};

struct acme_ca;
typedef void acme_ca_cb(void *arg, const struct acme_ca_result *res);

struct acme_ca_ops {
	unsigned version; /* ACME_CA_OPS_V1; new hooks only at the end */
	const char *name; /* backend type, e.g. "sectigo" */
	/** Enroll; OK with ca_ref. */
	int (*submit)(struct acme_ca *, const struct acme_ca_enroll *,
	    acme_ca_cb *, void *);
	/** Find an earlier enrollment by tag (after a crash lost the reply):
	 * OK with ca_ref, or NOTFOUND. */
	int (*find)(struct acme_ca *, const struct acme_ca_enroll *,
	    acme_ca_cb *, void *);
	/** Collect: OK with chain_pem, or PENDING. */
	int (*collect)(
	    struct acme_ca *, const char *ca_ref, acme_ca_cb *, void *);
	/** Revoke with an RFC 5280 reason code: OK. */
	int (*revoke)(struct acme_ca *, const char *ca_ref, int reason,
	    acme_ca_cb *, void *);
	/** Abort every call in flight (no callbacks) and free. */
	void (*free)(struct acme_ca *);
	/* ---- domain control validation (NULL: the CA has none) ---- */
	/** The CA's domain that covers name (name itself or a parent):
	 * OK with dcv (domain, validated, expires), or NOTFOUND. */
	int (*domain_find)(
	    struct acme_ca *, const char *name, acme_ca_cb *, void *);
	/** Register domain with the CA, delegated to our organization. */
	int (*domain_create)(
	    struct acme_ca *, const char *domain, acme_ca_cb *, void *);
	/** The domain's DCV status: OK with dcv. */
	int (*dcv_status)(
	    struct acme_ca *, const char *domain, acme_ca_cb *, void *);
	/** Begin a DCV by "txt" or "cname": OK with dcv->host/point, the
	 * record to publish. (For TXT this already asks the CA to look.) */
	int (*dcv_start)(struct acme_ca *, const char *domain,
	    const char *method, acme_ca_cb *, void *);
	/** Ask the CA to check the published record (CNAME). */
	int (*dcv_submit)(struct acme_ca *, const char *domain,
	    const char *method, acme_ca_cb *, void *);
	/* ---- lifecycle (NULL: the CA has none) ---- */
	/** One enrollment as the CA holds it: OK with certs[0], or
	 * NOTFOUND. */
	int (*details)(
	    struct acme_ca *, const char *ca_ref, acme_ca_cb *, void *);
	/** Certificates of our organization matching q: OK with certs
	 * (every page read). */
	int (*report)(struct acme_ca *, const struct acme_ca_report_query *q,
	    acme_ca_cb *, void *);
	/** Renew an enrollment with the CA's stored parameters and, when
	 * csr_pem is not NULL, a new CSR (SCM renewById): OK with ca_ref, the
	 * new enrollment to collect. */
	int (*renew)(struct acme_ca *, const char *ca_ref, const char *csr_pem,
	    acme_ca_cb *, void *);
	/** Replace (reissue) the certificate of an enrollment with a new CSR
	 * and names (SCM replace; the sslId stays): OK, then collect ca_ref
	 * until the new serial appears. reason: 1..512 characters. */
	int (*replace)(struct acme_ca *, const char *ca_ref,
	    const struct acme_ca_enroll *e, const char *reason, acme_ca_cb *,
	    void *);
};

/** Base of every backend: its first member. */
struct acme_ca {
	const struct acme_ca_ops *ops;
};
