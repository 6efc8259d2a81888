/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACME challenge validation (RFC 8555 §8.3 http-01, §8.4 dns-01, RFC 8737
 * tls-alpn-01, RFC 8738 IP identifiers), asynchronous on a libevent loop.
 */
#pragma once
#include <event2/event.h>
#include "acme/problem.h"
#include "contrib/evcurl.h"

/** Validator settings; copied by px_validator_new(). */
struct px_validate_conf {
	int http01_port;    /* 80 in production; tests use a loopback port */
	int tlsalpn01_port; /* 443 in production */
	const char *dns_resolver;    /* "ip:port" */
	int timeout_seconds;         /* whole validation */
	int allow_private_addresses; /* 1: private and loopback addresses may
					be contacted (tests, internal PKIs);
					0: only global unicast */
};

struct px_validator;

/**
 * New validator.
 * @param base event loop (borrowed; must outlive the validator)
 * @param ec libcurl driver for http-01 (borrowed; must outlive it)
 * @param conf settings (copied)
 * @return validator, caller frees with px_validator_free(), or NULL on a bad
 *         resolver address or allocation failure
 */
struct px_validator *px_validator_new(struct event_base *base,
    struct evcurl *ec, const struct px_validate_conf *conf);
/** Cancel every validation (no callbacks run) and free. NULL: no-op. */
void px_validator_free(struct px_validator *v); /* cancels; no callbacks */

/** One challenge to check (borrowed during the call). */
struct px_validation {
	const char *chall_type; /* "http-01", "dns-01", "tls-alpn-01" */
	const char *id_type;    /* "dns" or "ip" */
	const char *id_value;   /* name without "*." or IP text */
	const char *token;
	const char *key_authz; /* token.thumbprint */
};

/**
 * prob is NULL on success, else the RFC 8555 problem (type connection / dns
 * / incorrectResponse / unauthorized / tls, with a detail naming what was
 * seen, e.g. "expected TXT ... at _acme-challenge.x, found [...]"), borrowed
 * for the call. The callback may free the validator.
 */
typedef void px_validate_cb(void *arg, const struct acme_problem *prob);

/**
 * Start; callback exactly once, never inside the call.
 * @param val the challenge (copied)
 * @return 0 (cb will run), or -1 on an unknown challenge or identifier type,
 *         an unparsable IP, a missing field or allocation failure (cb will
 *         not run)
 */
int px_validate(struct px_validator *v, const struct px_validation *val,
    px_validate_cb *cb, void *arg);
