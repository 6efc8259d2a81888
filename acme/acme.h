/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RFC 8555 engine: turns one HTTP request (already read) into one
 * response, using the store. No I/O of its own beyond SQLite; proxy/ owns
 * the sockets and the job runner.
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "acme/db.h"
#include "acme/keycache.h"
#include "acme/nonce.h"
#include "acme/problem.h"
#include "acme/ratelimit.h"

#define ACME_CHALL_HTTP01 0x1
#define ACME_CHALL_DNS01 0x2
#define ACME_CHALL_TLSALPN01 0x4

/** An ACME profile as the directory shows it. */
struct acme_profile_info {
	const char *name;
	const char *description;
};

/** A CA connector as the protocol sees it: its name (the directory
 * /acme/<name>/directory) and its profiles, the default first. */
struct acme_connector_info {
	const char *name;
	const struct acme_profile_info *profiles;
	size_t n_profiles;
};

/** Server settings (borrowed; must outlive every acme_ctx). */
/** Abuse limits of the protocol; a limit with count 0 is off. */
struct acme_rate_limits {
	struct acme_limit accounts_per_ip;    /* new accounts per client IP */
	struct acme_limit orders_per_account; /* new orders per account */
	struct acme_limit orders_per_ip;      /* new orders per client IP */
	struct acme_limit orders_per_domain;  /* per registered domain */
	struct acme_limit failed_validations; /* per account and identifier */
	struct acme_limit certs_per_name_set; /* finalized orders per set */
	long long pending_authzs; /* per account at once, 0 = no limit */
};

struct acme_settings {
	const char *base_url;          /* https://host[:port][/prefix], no
					  trailing slash */
	const char *tos;               /* meta.termsOfService, or NULL */
	const char *website;           /* meta.website, or NULL */
	json_t *caa;                   /* meta.caaIdentities array, or NULL */
	int require_eab;               /* newAccount needs EAB */
	const char *default_connector; /* for accounts without EAB */
	long long authz_reuse;         /* seconds a valid authz is reused */
	long long order_lifetime;      /* seconds */
	int finalize_wait;             /* seconds finalize waits in-request */
	int retry_after;               /* Retry-After for processing */
	unsigned chall_types;          /* ACME_CHALL_* offered */
	size_t max_body;               /* larger JWS bodies are refused */
	struct acme_rate_limits limits;
	struct acme_ratelimiter *rl; /* shared by all threads; NULL = no
					rate limits at all */
	int allow_private_addresses; /* IP identifiers may be private or
					  loopback (acme_addr_allowed) */
	struct acme_keycache *keys;  /* signer keys the front end may check
					 signatures with; NULL = none */
	const struct acme_connector_info *connectors; /* every connector */
	size_t n_connectors;
	int ari_retry_after;      /* RFC 9773 Retry-After, s (0: 6 h) */
	int approval_retry_after; /* Retry-After of an order awaiting an
				     SCM administrator's approval, s */
};

/** One HTTP request as the engine sees it (borrowed). */
struct acme_req {
	const char *method;       /* "GET", "HEAD", "POST" */
	const char *path;         /* path after the base URL's path, with
				     query, e.g. "/acct/x/orders?cursor=2" */
	const char *content_type; /* or NULL */
	const char *body;         /* not NUL-terminated */
	size_t body_len;
	long long now;         /* unix seconds */
	const char *client_ip; /* peer address as text, or NULL */
	/* the front end verified the JWS signature already (acme/keycache.h),
	 * or NULL */
	const struct acme_presig *presig;
};

enum acme_wait { ACME_WAIT_NONE, ACME_WAIT_ORDER, ACME_WAIT_JOB };

/** The response to send; acme_resp_clear() frees what it owns. */
struct acme_resp {
	int status;
	json_t *json;      /* JSON body (owned), or NULL */
	const char *ctype; /* Content-Type of the body */
	char *raw;         /* raw body (owned), e.g. a PEM chain */
	size_t raw_len;
	char location[512]; /* Location header or "" */
	char links[4][600]; /* complete Link header values */
	int nlinks;
	int retry_after;   /* seconds, 0 = none */
	int no_store;      /* Cache-Control: no-store */
	const char *allow; /* Allow header of a 405 (static string) or NULL */
	int kick;          /* durable jobs were queued: wake the runner */
	/* Deferred reply: the proxy waits (without blocking) until
	 * acme_wait_poll() says the reply is ready or wait_until passes. */
	enum acme_wait wait;
	long long wait_id;    /* order or job row id */
	long long wait_until; /* unix ms */
	long long wait_acct;  /* account id the reply is for */
};

struct acme_ctx;

/** Per-thread engine over its own db connection; shares nonces. */
struct acme_ctx *acme_ctx_new(const struct acme_settings *s, struct acme_db *db,
    struct acme_nonces *nonces);
void acme_ctx_free(struct acme_ctx *ctx);

/** Handle one request; always fills resp (a problem on any error). */
void acme_handle(
    struct acme_ctx *ctx, const struct acme_req *req, struct acme_resp *resp);
/**
 * For a deferred response: check whether the awaited state is reached.
 * @param final 1 when the wait time is over (reply with what there is)
 * @return 1 when resp now holds the reply to send, 0 to keep waiting.
 */
int acme_wait_poll(
    struct acme_ctx *ctx, struct acme_resp *resp, long long now, int final);
void acme_resp_clear(struct acme_resp *resp);
/** Fill resp with a problem document (for proxy-level errors). */
void acme_resp_problem(
    struct acme_ctx *ctx, struct acme_resp *resp, struct acme_problem *prob);

/** RFC 3339 UTC time into buf (at least 21 bytes). */
const char *acme_time_str(long long t, char *buf, size_t len);
