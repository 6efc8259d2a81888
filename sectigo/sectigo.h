/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CA backend on the Sectigo Certificate Manager (SCM) REST API: implements
 * the acme/backend.h CA port (enroll, find, collect, revoke, details,
 * report, renew, replace, domains and DCV) over evcurl.
 */
#pragma once
#include <event2/event.h>
#include "acme/backend.h"
#include "contrib/evcurl.h"

/** One ACME profile of a connector as SCM sees it (borrowed strings). */
struct sectigo_profile {
	const char *name; /* the ACME profile name (logs, test-connection) */
	int cert_type;    /* SCM certType id */
	int term;         /* days */
	long org_id;      /* organization or department */
};

/**
 * Operator settings of one SCM connector (borrowed strings, copied by
 * sectigo_ca_new).
 */
struct sectigo_conf {
	/* connector name (logs) */
	const char *name;
	/* e.g. https://cert-manager.com ; API paths appended as
	 * /api/ssl/v1/... */
	const char *base_url;
	/* "oauth2" or "header" */
	const char *auth;
	/* oauth2 token endpoint */
	const char *token_url;
	/* oauth2 */
	const char *client_id;
	/* oauth2 secret (already read from file/env; never log it) */
	const char *client_secret;
	/* header auth */
	const char *login;
	/* header auth (secret) */
	const char *password;
	/* header auth; not sent with a bearer token (reference §2.4) */
	const char *customer_uri;
	/* CA bundle for TLS to SCM, NULL/"" = system */
	const char *ca_file;
	/* optional */
	const char *external_requester;
	/* organization or department id */
	long org_id;
	/* SSL certificate profile id */
	int cert_type;
	/* default term, days */
	int validity_days;
	/* per HTTP call, default 30 */
	int timeout_seconds;
	/* SCM calls in flight at once, the rest wait in turn; 0 = 8 */
	int max_concurrent;
	/* the connector's ACME profiles (test-connection checks each is
	 * offered with its term); NULL/0: cert_type + validity_days only */
	const struct sectigo_profile *profiles;
	size_t n_profiles;
};

/**
 * New SCM backend on base, using ec for HTTP (both borrowed: they must
 * outlive the backend). Checks the settings: https:// URLs, the credentials
 * of the chosen auth, positive org_id, cert_type and validity_days.
 * @return the backend, or NULL (and logs why) on bad settings or
 *         allocation failure. Free with ca->ops->free(ca), which aborts the
 *         calls in flight without running their callbacks.
 */
struct acme_ca *sectigo_ca_new(const struct sectigo_conf *conf,
    struct event_base *base, struct evcurl *ec);

/**
 * test-connection: runs checks in order and calls line_cb once per check
 * (the api check once per profile) with (name, ok, detail):
 * - "connectivity": TLS + HTTP reachability of base_url;
 * - "authentication": the token endpoint for oauth2, an authenticated GET
 *   for header auth;
 * - "organization": GET /api/organization/v1/{org_id}: exists, certTypes
 *   has SSL, sslCertsApiEnabled;
 * - "api", one line per profile (conf->profiles, or one "default" from
 *   cert_type and validity_days): GET /api/ssl/v1/types?organizationId=
 *   of the profile's organization offers its cert type with its term
 *   among the terms, e.g. `profile "default" (certType 224, 199 days):
 *   offered (InCommon SSL)`.
 * When connectivity or authentication fails, the later checks are reported
 * as failed ("skipped: ... failed") without calling SCM. Then
 * done_cb(arg, failures). Async like the rest: nothing runs from inside this
 * call; freeing the backend stops the test without further callbacks.
 * detail is valid during the callback only.
 * @return 0, or -EINVAL (not an SCM backend, NULL callback) / -ENOMEM, in
 *         which case no callback runs.
 */
typedef void sectigo_line_cb(
    void *arg, const char *check, int ok, const char *detail);
typedef void sectigo_done_cb(void *arg, int failures);
int sectigo_test_connection(struct acme_ca *ca, sectigo_line_cb *line,
    sectigo_done_cb *done, void *arg);

/**
 * A cheap liveness probe: one unauthenticated GET of base_url (the
 * connectivity check of test-connection), counted in the metrics as
 * endpoint "probe". Any HTTP answer is a pass. done_cb(arg, failures)
 * runs once, later, from the loop (failures 0 or 1).
 * @return 0, or -EINVAL / -ENOMEM (no callback runs).
 */
int sectigo_probe(struct acme_ca *ca, sectigo_done_cb *done, void *arg);
