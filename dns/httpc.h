/* SPDX-License-Identifier: Apache-2.0 */
/* One blocking HTTP request for the DNS connectors that speak to a
 * provider's API (libcurl easy; they run on dnsq worker threads). */
#pragma once
#include <stddef.h>

#include "dns/connector.h"

struct dns_http {
	const char *method; /* "GET", "POST", "PATCH", "DELETE", "HEAD" */
	const char *url;
	const char *body;           /* NULL: none */
	const char *const *headers; /* "Name: value", NULL-terminated */
	const char *userpwd; /* "user:password" for basic auth, or NULL */
	const char *ca_file; /* NULL: the system store */
	int timeout_s;
	/* clock_mono_ms() by which the whole operation must end, 0: none.
	 * A connector making several requests for one call sets it once so
	 * that the call, not each request, is bounded by its timeout. */
	long long deadline_ms;
};

struct dns_http_resp {
	long status; /* 0 when no answer came */
	char *body;  /* NUL-terminated, malloc'd (free it) */
	size_t len;
	int retry_after; /* seconds from Retry-After, 0 if none */
	char error[256]; /* transport error, "" if none */
};

/** The deadline_ms of a call starting now and bounded by timeout_s. */
long long dns_http_deadline(int timeout_s);
/** @return 0 when an answer came (any status), -1 otherwise (error set) */
int dns_http_do(const struct dns_http *req, struct dns_http_resp *resp);
void dns_http_resp_free(struct dns_http_resp *resp);
/**
 * The usual outcome of an answer: 2xx OK; 429 TEMP with retry_after;
 * 5xx or no answer TEMP; 401/403 PERM "credentials refused"; other 4xx
 * PERM with the status and up to 200 printable bytes of the body.
 * @param what "present _pki-validation.example.com" (for the message)
 * @return the rc it set
 */
enum dns_rc dns_http_outcome(const char *conn, const char *what,
    const struct dns_http_resp *resp, struct dns_outcome *o);
/**
 * Whether url is https, or http to 127.0.0.1/localhost/[::1] (the host
 * exactly: "http://127.0.0.1.example" or "http://localhost@host" is
 * refused). Cleartext carries the API key, so only loopback may have it.
 */
int dns_http_url_ok(const char *url);
/**
 * A request header carrying a secret: name_colon (e.g. "X-API-Key: ")
 * followed by the secret of setting what (secfile_read: <what>_file or
 * <what>_env), refused if it holds a line break.
 * @param out malloc'd header (the caller cleanses and frees it)
 * @return 0, or -1 with one line in err naming the setting
 */
int dns_http_secret_header(const json_t *conf, const char *what,
    const char *prefix, const char *name_colon, char **out, char *err,
    size_t errlen);
