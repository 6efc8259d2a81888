/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CA backend on the Sectigo Certificate Manager (SCM) REST API: implements
 * the acme/backend.h CA port (enroll, find, collect, revoke) over evcurl.
 */
#pragma once
#include <event2/event.h>
#include "acme/backend.h"
#include "contrib/evcurl.h"

/** Operator settings of one SCM connector (borrowed strings, copied by sectigo_ca_new). */
struct sectigo_conf {
	const char *name;          /* connector name (logs) */
	const char *base_url;      /* e.g. https://cert-manager.com ; API paths appended as /api/ssl/v1/... */
	const char *auth;          /* "oauth2" or "header" */
	const char *token_url;     /* oauth2 token endpoint */
	const char *client_id;     /* oauth2 */
	const char *client_secret; /* oauth2 secret (already read from file/env; never log it) */
	const char *login;         /* header auth */
	const char *password;      /* header auth (secret) */
	const char *customer_uri;  /* header auth; also sent with oauth2? see reference: do not send with bearer */
	const char *ca_file;       /* CA bundle for TLS to SCM, NULL/"" = system */
	const char *external_requester; /* optional */
	long org_id;
	int cert_type;
	int validity_days;
	int timeout_seconds;       /* per HTTP call, default 30 */
};

/** New SCM backend on base, using ec for HTTP. Returns NULL (and logs why) on bad settings. Free with ca->ops->free(ca). */
struct acme_ca *sectigo_ca_new(const struct sectigo_conf *conf, struct event_base *base, struct evcurl *ec);

/** test-connection: runs checks in order and calls line_cb once per check with (name, ok, detail): "connectivity" (TLS + HTTP reachability of base_url), "authentication" (token endpoint for oauth2 / an authenticated GET for header auth), "organization" (GET /api/organization/v1/{org_id}: exists, certTypes has SSL, sslCertsApiEnabled), "api" (GET /api/ssl/v1/types?organizationId=: cert_type offered with validity_days among its terms). Then done_cb(arg, failures). Async like the rest. */
typedef void sectigo_line_cb(void *arg, const char *check, int ok, const char *detail);
typedef void sectigo_done_cb(void *arg, int failures);
int sectigo_test_connection(struct acme_ca *ca, sectigo_line_cb *line, sectigo_done_cb *done, void *arg);
