/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: declarations shared by the simulator's files: configuration,
 * run-time state, the request context handed to every endpoint handler.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>

struct sim_ca;
struct sim_cert;
struct sim_store;

/* largest request body accepted (evhttp answers 413 above it) */
#define SIM_MAX_BODY (1024 * 1024)
/* most path segments a route can have */
#define SIM_MAX_SEGS 12
/* list page size: default and maximum (OAS "maximum: 200") */
#define SIM_PAGE_MAX 200
/* most certificate profiles offered */
#define SIM_MAX_PROFILES 6
/* most SAN entries in one order */
#define SIM_MAX_SANS 250

/** Command-line configuration; strings are owned. */
struct sim_conf {
	char *state_dir;        /* --state-dir */
	char *listen_host;      /* host part of --listen */
	unsigned listen_port;   /* port part of --listen, 0 = any free port */
	char *client_id;        /* --client-id (OAuth2) */
	char *client_secret;    /* --client-secret (OAuth2) */
	char *login;            /* --login (header auth) */
	char *password;         /* --password (header auth) */
	char *customer_uri;     /* --customer-uri (header auth) */
	long org_id;            /* --org-id; its department is org_id + 1 */
	long cert_type;         /* --cert-type: id of the main profile */
	int pending_polls;      /* --pending-polls */
	int pending_seconds;    /* --pending-seconds */
	int token_lifetime;     /* --token-lifetime, seconds */
	int plain_http;         /* --plain-http: no TLS */
	int no_db;              /* --no-db: keep certificates in memory only */
	int require_dcv;        /* --require-dcv */
	char *dns_resolver;     /* --dns-resolver HOST:PORT, or NULL */
	int dcv_validity_days;  /* --dcv-validity-days (198) */
	int dcv_check_attempts; /* --dcv-check-attempts (30) */
	char **domains;         /* --domain NAME[:validated], repeatable */
	size_t n_domains;
	int approval_required;   /* --approval-required */
	double fail_rate;        /* --fail-rate, 0..1 */
	int latency_ms;          /* --latency-ms */
	unsigned long long seed; /* --seed of the fault PRNG */
};

/** A certificate profile offered by GET /ssl/v1/types. */
struct sim_profile {
	long id;                  /* certType */
	const char *name;         /* display name */
	const char *description;  /* description */
	long terms[4];            /* allowed terms in days */
	size_t nterms;            /* entries in terms */
	const char *rsa_sizes[4]; /* allowed RSA sizes, NULL-terminated */
	const char *ec_curves[4]; /* allowed EC curves, NULL-terminated */
	int private_ca;           /* 1: private CA, no public DCV needed */
};

/** An issued OAuth2 access token. */
struct sim_token {
	char *value;                  /* the bearer string (owned) */
	time_t expires;               /* not valid from this time on */
	TAILQ_ENTRY(sim_token) entry; /* link in sim.tokens, oldest first */
};

/** An error to inject, set through POST /sim/control "fail_next". */
struct sim_fail_rule {
	char *path_prefix;                /* matched on the /api/... path */
	char *method;                     /* "POST" etc., or NULL for any */
	int status;                       /* HTTP status to answer */
	long code;                        /* SCM error code in the body */
	char *description;                /* SCM description in the body */
	int count;                        /* requests still to fail */
	TAILQ_ENTRY(sim_fail_rule) entry; /* link in sim.fail_rules */
};

/** A request whose reply is held back on purpose ("hang_enrolls"). */
struct sim_hung {
	struct sim *sim;            /* back pointer for the close callback */
	struct evhttp_request *req; /* the request, owned by evhttp */
	struct evhttp_connection *evcon; /* its connection */
	TAILQ_ENTRY(sim_hung) entry;     /* link in sim.hung */
};

/** Faults the random fault mode ("fail_rate") injects. */
enum sim_fault {
	SIM_FAULT_NONE = 0,
	SIM_FAULT_503,  /* 503, an HTML page or an empty body */
	SIM_FAULT_500,  /* 500 with an SCM error body */
	SIM_FAULT_429,  /* 429 with Retry-After: 1 */
	SIM_FAULT_LOST, /* enroll: stored, then the reply is lost */
	SIM_FAULT_MAX,
};

/** A reply sent later: "latency_ms", or a lost enroll reply. */
struct sim_deferred {
	struct sim *sim;                 /* back pointer */
	struct evhttp_request *req;      /* the request, owned by evhttp */
	struct evhttp_connection *evcon; /* its connection */
	struct evbuffer *out;            /* the reply body (owned) */
	int status;                      /* HTTP status of the reply */
	int drop;                        /* 1: close without any reply */
	struct event *timer;             /* fires when the reply is due */
	TAILQ_ENTRY(sim_deferred) entry; /* link in sim.deferred */
};

/** Request counters reported by GET /sim/stats. */
enum sim_counter {
	SIM_CNT_NONE = 0,
	SIM_CNT_ENROLL,    /* POST enroll reaching the handler */
	SIM_CNT_COLLECT,   /* GET collect */
	SIM_CNT_REVOKE,    /* POST revoke (by id or serial) */
	SIM_CNT_TOKEN,     /* POST to the token endpoint */
	SIM_CNT_RENEW,     /* POST renew and renewById */
	SIM_CNT_REPLACE,   /* POST replace */
	SIM_CNT_DETAILS,   /* GET ssl/v1/{id} */
	SIM_CNT_LIST,      /* GET or HEAD ssl/v1 */
	SIM_CNT_AUTH_FAIL, /* 401 answers on the API */
	SIM_CNT_APPROVE,   /* POST approve */
	SIM_CNT_DECLINE,   /* POST decline */
	SIM_CNT_REPORT,    /* POST report/v1/ssl-certificates */
	SIM_CNT_MAX,
};

/** The whole simulator. */
struct sim {
	struct sim_conf *conf;   /* configuration (borrowed from main) */
	struct event_base *base; /* the event loop */
	struct evhttp *http;     /* the HTTP server */
	SSL_CTX *ssl_ctx;        /* TLS context, NULL with --plain-http */
	unsigned port;           /* port actually bound */
	struct sim_ca *ca;       /* test PKI */
	struct sim_store *store; /* certificate table */
	struct sim_profile profiles[SIM_MAX_PROFILES]; /* offered profiles */
	size_t nprofiles;                              /* entries in profiles */
	int pending_polls;   /* current default for new orders */
	int pending_seconds; /* current default for new orders */
	int token_lifetime;  /* lifetime of new tokens, seconds */
	int hang_enrolls;    /* enroll replies still to hold back */
	int wrong_certs;     /* issuances still to sign with a name too many */
	int auto_approve;    /* 0: new orders wait in Requested for approval */
	unsigned long count[SIM_CNT_MAX]; /* request counters */
	unsigned long enrollments;        /* successful enrollments */
	unsigned long duplicate_csr;    /* enrollments of an already seen CSR */
	TAILQ_HEAD(, sim_token) tokens; /* live tokens, oldest first */
	size_t ntokens;                 /* entries in tokens */
	TAILQ_HEAD(, sim_fail_rule) fail_rules; /* injected errors */
	TAILQ_HEAD(, sim_hung) hung;            /* held-back requests */
	struct event *hung_timer;               /* watches held-back peers */
	struct sim_dcv *dcv;                    /* domains and DCV (dcv.c) */
	double fail_rate; /* probability that an /api request fails */
	int latency_ms;   /* delay of every /api reply */
	uint64_t rng;     /* fault generator state (--seed) */
	unsigned long faults[SIM_FAULT_MAX]; /* injected faults by kind */
	unsigned long lost_502;              /* lost replies sent as 502 */
	TAILQ_HEAD(, sim_deferred) deferred; /* replies waiting to leave */
};

/** One request being handled; lives for the duration of the callback. */
struct sim_req {
	struct sim *sim;             /* the simulator */
	struct evhttp_request *req;  /* the evhttp request */
	enum evhttp_cmd_type method; /* request method */
	char *path;                  /* path without "/private" and query */
	char *seg[SIM_MAX_SEGS];     /* decoded path segments (owned) */
	size_t nseg;                 /* entries in seg */
	struct evkeyvalq query;      /* decoded query parameters */
	char *body;                  /* request body, NUL-terminated (owned) */
	size_t body_len;             /* body length without the NUL */
	const char *principal;       /* login or client id after auth */
	int status;                  /* HTTP status of the reply */
	struct evbuffer *out;        /* reply body */
	int hang;                    /* 1: never send the reply */
	int lost;                    /* 1: drop the reply (fault mode) */
	char note[64];               /* extra text for the log line */
};

/* http.c */

/**
 * Creates the HTTP(S) server, binds it and fills sim->port.
 * @return 0, or -1 (logged)
 */
int sim_http_start(struct sim *sim);

/** Drops held-back requests and frees the server; safe to call twice. */
void sim_http_stop(struct sim *sim);

/** @return "GET", "POST", ... */
const char *sim_method_name(enum evhttp_cmd_type m);

/** Replies with a JSON document; takes ownership of body. */
void sim_reply_json(struct sim_req *r, int status, json_t *body);

/** Replies with an SCM error body {"code":..,"description":..}. */
void sim_reply_error(struct sim_req *r, int status, long code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/** Replies with a status and an empty body. */
void sim_reply_empty(struct sim_req *r, int status);

/** Adds (replacing) a response header. */
void sim_set_header(struct sim_req *r, const char *name, const char *value);

/** @return a request header (borrowed), or NULL */
const char *sim_req_header(const struct sim_req *r, const char *name);

/** @return a query parameter (borrowed), or NULL */
const char *sim_req_query(const struct sim_req *r, const char *name);

/**
 * Parses the request body as JSON (duplicate keys rejected).
 * @return a new reference, or NULL when the body is empty or malformed
 */
json_t *sim_req_json(const struct sim_req *r);

/* auth.c */

/**
 * Checks bearer or header authentication of an API request.
 * @return 0 when allowed (r->principal set), else -1 after a 401 reply
 */
int sim_auth_check(struct sim_req *r);

/**
 * The simulator's own URL for path, as the client addressed it: scheme
 * and the request's Host header (127.0.0.1:port without a usable one).
 */
void sim_self_url(
    const struct sim_req *r, const char *path, char *buf, size_t size);

/** POST .../openid-connect/token (client credentials grant). */
void sim_token_endpoint(struct sim_req *r);

/** Forgets every token (control "expire_tokens"). */
void sim_tokens_clear(struct sim *sim);

/** @return live tokens, after dropping expired ones */
size_t sim_tokens_live(struct sim *sim);

/* api.c: the SCM endpoints */

/** Fills sim->profiles from the configuration. */
void sim_profiles_init(struct sim *sim);

/** @return the profile with this id (borrowed), or NULL */
const struct sim_profile *sim_profile_find(const struct sim *sim, long id);

/** @return 1 for the organization or its department, else 0 */
int sim_org_known(const struct sim *sim, long id);

/** @return the display name of a known organization or department */
const char *sim_org_name(const struct sim *sim, long id);

/**
 * Issues an Applied certificate once its pending conditions hold.
 * @param collect 1 when called by a collect (counts down the poll budget)
 * @return 0, or -1 if signing failed
 */
int sim_cert_advance(struct sim *sim, struct sim_cert *c, int collect);

/**
 * Reads an optional decimal query parameter within [min, max].
 * @return 0 (*out set when present), or -1 after a 400 -1601 reply
 */
int sim_query_long(
    struct sim_req *r, const char *name, long min, long max, long *out);

/**
 * Reads the list paging parameters "size" (default and maximum 200) and
 * "position" (default 0).
 * @return 0, or -1 after a 400 -1601 reply
 */
int sim_query_page(struct sim_req *r, long *size, long *pos);

void sim_api_org_list(struct sim_req *r);
void sim_api_org_get(struct sim_req *r);
void sim_api_types(struct sim_req *r);
void sim_api_custom_fields(struct sim_req *r);
void sim_api_enroll(struct sim_req *r);
void sim_api_collect(struct sim_req *r);
void sim_api_details(struct sim_req *r);
void sim_api_list(struct sim_req *r);
void sim_api_revoke(struct sim_req *r);
void sim_api_revoke_serial(struct sim_req *r);
void sim_api_renew_by_id(struct sim_req *r);
void sim_api_renew(struct sim_req *r);
void sim_api_replace(struct sim_req *r);
void sim_api_approve(struct sim_req *r);
void sim_api_decline(struct sim_req *r);
void sim_api_report(struct sim_req *r);

/** sim_cert_revoke() results beyond 0 */
#define SIM_REVOKE_NOT_ISSUED (-1) /* not issued (or expired): -102 */
#define SIM_REVOKE_ALREADY (-2)    /* already revoked: -159 */
#define SIM_REVOKE_ENOMEM (-3)     /* out of memory or signing failed */

/**
 * Revokes an issued certificate (API or console).
 * @return 0 or a SIM_REVOKE_* code; c is unchanged on failure
 */
int sim_cert_revoke(
    struct sim *sim, struct sim_cert *c, int code, const char *reason);

/**
 * Approves a Requested order: Approved, then Applied and Issued under the
 * pending rule.  who and message may be NULL.
 * @return 0, -1 when c is not Requested, -2 out of memory
 */
int sim_cert_approve(
    struct sim *sim, struct sim_cert *c, const char *who, const char *message);

/**
 * Declines a Requested order (final).
 * @return 0, -1 when c is not Requested, -2 out of memory
 */
int sim_cert_decline(struct sim *sim, struct sim_cert *c, const char *message);

/**
 * The console's replace: reissues an issued certificate at once with the
 * stored CSR (same sslId, new serial), the old one kept in the history.
 * @return 0, -1 when c is not issued, -2 on failure (c unchanged)
 */
int sim_cert_reissue(struct sim *sim, struct sim_cert *c, const char *reason);

/* dcv.c: domains and domain control validation */

int sim_dcv_init(struct sim *sim);
void sim_dcv_free(struct sim *sim);
/** --require-dcv: refuse (and reply) when a name lacks a current DCV.
 * @return 0 when the names may be enrolled, -1 after an error reply */
int sim_dcv_check_names(struct sim_req *r, const json_t *names);
void sim_api_domain_list(struct sim_req *r);
void sim_api_domain_get(struct sim_req *r);
void sim_api_domain_create(struct sim_req *r);
void sim_api_domain_delete(struct sim_req *r);
void sim_api_dcv_status(struct sim_req *r);
void sim_api_dcv_list(struct sim_req *r);
void sim_api_dcv_start(struct sim_req *r);
void sim_api_dcv_submit(struct sim_req *r);
void sim_api_dcv_clear(struct sim_req *r);
void sim_api_dcv_delete(struct sim_req *r);
/**
 * A /sim/control key of dcv.c ("advance_days", "add_domain",
 * "dcv_check_attempts"): checked,
 * and applied when apply is 1.
 * @return 0 ok, -1 bad value (err), 1 not a DCV key
 */
int sim_dcv_control(struct sim *sim, const char *key, json_t *v, int apply,
    char *err, size_t errlen);
/** The "dcv" object of /sim/stats. */
json_t *sim_dcv_stats(struct sim *sim);

/* control.c: test-only endpoints */

void sim_ctl_stats(struct sim_req *r);
void sim_ctl_control(struct sim_req *r);

/**
 * Applies the first matching "fail_next" rule.
 * @return 1 if the request was answered with an injected error, else 0
 */
int sim_fail_inject(struct sim_req *r);

/** Frees all injection rules. */
void sim_fail_rules_clear(struct sim *sim);
