/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 §6.7 problem documents (RFC 7807) as data. */
#pragma once
#include <jansson.h>

/** A problem to send to a client; acme/ fills it, proxy/ sends it. */
struct acme_problem {
	const char *type;    /* short ACME error name, e.g. "badNonce"
				(static string); NULL = no problem */
	int status;          /* HTTP status code */
	char detail[512];    /* human-readable detail */
	json_t *subproblems; /* owned array of problem objects, or NULL */
	json_t *extra;       /* owned object merged into the document
				(e.g. "algorithms"), or NULL */
};

/** Fill p (clearing what it held). */
void acme_problem_set(struct acme_problem *p, int status, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/** Add a subproblem for one identifier (type "dns"/"ip", value). */
void acme_problem_add_sub(struct acme_problem *p, const char *type,
    const char *detail, const char *id_type, const char *id_value);
/** New JSON problem document; caller decrefs. */
json_t *acme_problem_json(const struct acme_problem *p);
/** Free owned members and reset. */
void acme_problem_clear(struct acme_problem *p);
/** Drop the bytes of s that do not form whole UTF-8 characters (in place),
 * so that a detail cut by a printf precision stays valid JSON text. */
void acme_utf8_trim(char *s);
/** "urn:ietf:params:acme:error:" + short name into buf. */
const char *acme_problem_urn(const char *type, char *buf, size_t len);
