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
 * label "*.", wildcard of a bare TLD, an "xn--" label that is not a valid
 * IDNA2008 A-label) or bad IP (RFC 8738: must parse with inet_pton; wildcard
 * never for ip): 400 rejectedIdentifier with a detail naming the value.
 * No address policy here (see acme_idents_parse).
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
 * acme_ident_parse'd, duplicates removed (after normalisation), IP
 * identifiers held to acme_addr_allowed() (400 rejectedIdentifier). Several
 * bad ones: one problem with subproblems per identifier
 * (acme_problem_add_sub).
 * @param allow_private 1 to accept private and loopback IP identifiers
 *        (validation.allow_private_addresses)
 * @param out set to a malloc'd array the caller frees (on success only)
 * @return 0 or -1.
 */
int acme_idents_parse(const json_t *arr, int allow_private,
    struct acme_ident **out, size_t *n, struct acme_problem *prob);
/** The name to validate for an identifier: strips "*." for wildcards.
 * Borrowed from id. */
const char *acme_ident_base(const struct acme_ident *id);

/*
 * Address policy (IANA IPv4 and IPv6 special-purpose address registries):
 * which addresses the validators may connect to, and which IP identifiers
 * may be ordered. One function, used by newOrder and by every address the
 * validators are about to contact.
 */

/** What an address is, as far as contacting it goes. */
enum acme_addr_class {
	ACME_ADDR_GLOBAL,   /* globally routable unicast */
	ACME_ADDR_INTERNAL, /* loopback, private (RFC 1918, ULA), shared
			       (RFC 6598), documentation, benchmarking and
			       other special-purpose unicast */
	ACME_ADDR_NEVER,    /* unspecified, link-local (where cloud metadata
			       services live), multicast, broadcast,
			       reserved (240/4) */
};

/**
 * Classify an address. IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96)
 * and 6to4 (2002::/16) addresses are judged by the IPv4 address they embed.
 * @param family AF_INET (addr has 4 bytes) or AF_INET6 (16 bytes)
 * @return the class; ACME_ADDR_NEVER for an unknown family
 */
enum acme_addr_class acme_addr_classify(int family, const unsigned char *addr);
/**
 * May the validator contact addr? Global unicast always; internal ones only
 * when allow_private is set; the ACME_ADDR_NEVER class never.
 * @return 1 or 0
 */
int acme_addr_allowed(int family, const unsigned char *addr, int allow_private);
/** acme_addr_allowed() of an address in text form; 0 when text is not an
 * IPv4 or IPv6 address. */
int acme_addr_text_allowed(const char *text, int allow_private);
