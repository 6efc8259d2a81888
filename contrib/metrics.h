/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process's metrics registry: lock-free counters and histograms with
 * fixed label sets, written from any thread (workers, the serving thread,
 * DNS worker threads), rendered in the Prometheus text format (0.0.4) by
 * the admin listener. Label values are bounded by construction: enums
 * here, and connector names from the configuration (at most
 * MX_CONN_MAX of each kind; more are not counted).
 */
#pragma once
#include <stdio.h>

/** ACME endpoints (the label "endpoint" of acmebridge_http_*). */
enum mx_ep {
	MX_EP_DIRECTORY,
	MX_EP_NEWNONCE,
	MX_EP_NEWACCOUNT,
	MX_EP_NEWORDER,
	MX_EP_ORDER,
	MX_EP_AUTHZ,
	MX_EP_CHALLENGE,
	MX_EP_FINALIZE,
	MX_EP_CERTIFICATE,
	MX_EP_REVOKECERT,
	MX_EP_KEYCHANGE,
	MX_EP_RENEWALINFO,
	MX_EP_ACCOUNT,
	MX_EP_OTHER,
	MX_EP_N
};

/** SCM calls (the label "endpoint" of acmebridge_scm_*). */
enum mx_scm {
	MX_SCM_ENROLL,
	MX_SCM_FIND,
	MX_SCM_COLLECT,
	MX_SCM_REVOKE,
	MX_SCM_TEST,
	MX_SCM_DCV,
	MX_SCM_DETAILS,
	MX_SCM_REPORT,
	MX_SCM_RENEW,
	MX_SCM_REPLACE,
	MX_SCM_TOKEN,
	MX_SCM_PROBE,
	MX_SCM_N
};

/** Outcome of one SCM HTTP request. */
enum mx_outcome {
	MX_OK,         /* 2xx */
	MX_HTTP_4XX,   /* 4xx */
	MX_HTTP_5XX,   /* 5xx */
	MX_HTTP_OTHER, /* 1xx, 3xx */
	MX_TIMEOUT,    /* no answer in time */
	MX_ERROR,      /* connection, TLS, ... */
	MX_OUTCOME_N
};

/** DNS connector operations and their outcomes (dns/connector.h). */
enum mx_dns_op {
	MX_DNS_PRESENT,
	MX_DNS_CLEANUP,
	MX_DNS_LIST,
	MX_DNS_CHECK,
	MX_DNS_OP_N
};
enum mx_dns_rc { MX_DNS_OK, MX_DNS_TEMP, MX_DNS_PERM, MX_DNS_RC_N };

/** The rate limits (acmebridge_ratelimit_refusals_total{limit}). */
enum mx_rl {
	MX_RL_ACCOUNTS_PER_IP,
	MX_RL_ORDERS_PER_ACCOUNT,
	MX_RL_ORDERS_PER_IP,
	MX_RL_ORDERS_PER_DOMAIN,
	MX_RL_FAILED_VALIDATIONS,
	MX_RL_CERTS_PER_NAME_SET,
	MX_RL_PENDING_AUTHZS,
	MX_RL_N
};

#define MX_CONN_MAX 32 /* SCM (and DNS) connectors counted at most */

/** Write s as a Prometheus label value (backslash, quote and newline
 * escaped). */
void mx_label_value(FILE *f, const char *s);
/** The endpoint of a request path below base_url ("/new-order", ...). */
enum mx_ep mx_ep_of_path(const char *path);
/** Count one answered ACME request (any thread). */
void mx_http(enum mx_ep ep, int status, double seconds);

/**
 * The slot of an SCM connector by name, registered on first use; -1 when
 * MX_CONN_MAX are registered already (then nothing is counted for it).
 */
int mx_scm_id(const char *name);
/** Count one SCM HTTP request; an HTTP answer (any status) marks the
 * connector reached, a 2xx marks it successful. id -1: no-op. */
void mx_scm_call(int id, enum mx_scm ep, enum mx_outcome o, double seconds);
/** Remember the last failure of a connector for the status page (a short
 * line without secrets). id -1: no-op. */
void mx_scm_error(int id, const char *msg);

/** The slot of a DNS connector by name (as mx_scm_id). */
int mx_dns_id(const char *name);
void mx_dns_call(int id, enum mx_dns_op op, enum mx_dns_rc rc, const char *msg);

/** A DCV run ended valid (1) or failed (0). */
void mx_dcv_run(int valid);

/** One refusal by a rate limit. */
void mx_ratelimit(enum mx_rl lim);

/** A group-commit batch was committed (ok 1) or lost (0). */
void mx_commit_batch(int ok);
/** A log sync of the sync thread. */
void mx_commit_sync(void);
/** The serving thread's loop is alive at unix time now. */
void mx_heartbeat(long long now);

/** Health of an SCM connector (readyz, status page). */
struct mx_conn_health {
	char name[64];
	long long last_reached; /* unix s of the last HTTP answer, 0 never */
	long long last_success; /* unix s of the last 2xx, 0 never */
	unsigned long long ok, failed; /* requests so far */
	char last_error[256];          /* "" when none */
	long long last_error_at;       /* unix s */
};
/** Connectors registered so far (at most max); fills out. */
size_t mx_scm_health(struct mx_conn_health *out, size_t max);
size_t mx_dns_health(struct mx_conn_health *out, size_t max);
/** The serving thread's last heartbeat (unix s, 0 none) and whether its
 * last batch failed to commit. */
void mx_serving_state(long long *heartbeat, int *last_batch_failed);

/** Write every family of the registry to f (text format 0.0.4). */
void mx_render(FILE *f);
