/* SPDX-License-Identifier: Apache-2.0 */
/* ACME identifiers (RFC 8555 §7.1.3, §7.4; RFC 8738 IP identifiers):
 * checking and normalising the "dns" and "ip" types. */
#pragma once
#include <stddef.h>
#include <jansson.h>
#include "acme/problem.h"

/** A normalised ACME identifier. */
struct acme_ident {
	char type[8];    /* "dns" or "ip" */
	char value[256]; /* dns: lower-case, no trailing dot, wildcard kept as
			    "*.x"; ip: canonical text (IPv4 dotted quad, IPv6
			    RFC 5952) */
	int wildcard;    /* 1 if value starts with "*." */
};

/**
 * Check and normalise one identifier object {"type":..,"value":..}. Unknown
 * type: 400 unsupportedIdentifier. Bad DNS name (empty label, label > 63,
 * name > 253, chars outside [a-z0-9-] (after lower-casing), leading/trailing
 * hyphen, all-numeric TLD, trailing dot, wildcard not as the whole leftmost
 * label "*.", wildcard of a bare TLD; IDN A-labels ok) or bad IP (RFC 8738:
 * must parse with inet_pton; wildcard never for ip): 400 rejectedIdentifier
 * with a detail naming the value.
 * @return 0 or -1; out is written only on success.
 */
int acme_ident_parse(
    const json_t *obj, struct acme_ident *out, struct acme_problem *prob);
/**
 * The same checks on a bare value of type "dns" or "ip" (value NUL-terminated,
 * from a CSR for instance).
 * @return 0 or -1; out is written only on success.
 */
int acme_ident_check(const char *type, const char *value,
    struct acme_ident *out, struct acme_problem *prob);
/**
 * Parse a newOrder "identifiers" array: 1..100 entries, each
 * acme_ident_parse'd, duplicates removed (after normalisation). Several bad
 * ones: one problem with subproblems per identifier (acme_problem_add_sub).
 * @param out set to a malloc'd array the caller frees (on success only)
 * @return 0 or -1.
 */
int acme_idents_parse(const json_t *arr, struct acme_ident **out, size_t *n,
    struct acme_problem *prob);
/** The name to validate for an identifier: strips "*." for wildcards.
 * Borrowed from id. */
const char *acme_ident_base(const struct acme_ident *id);
