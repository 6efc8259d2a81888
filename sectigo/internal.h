/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure helpers of the SCM backend (no I/O), shared by sectigo.c and the unit
 * tests: response parsing (errors, details, report rows, serials, dates),
 * chain normalisation, tag matching; and one test hook (sectigo_inflight).
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "acme/backend.h"

/** The tag marker written into the SCM "comments" field of an enrollment. */
#define SECTIGO_TAG_PREFIX "acmebridge tag="

/** An SCM error body {"code": n, "description": "..."}. */
struct sectigo_err {
	int has_code;   /* 1 if the body was JSON with an integer "code" */
	int code;       /* SCM code; 0 when absent */
	char desc[256]; /* "description" (or a printable excerpt of a non-JSON
			   body), NUL-terminated, "" when none */
};

/**
 * Parse an SCM error body. Never fails: fields stay zero/empty when the body
 * is not the expected JSON. body may be NULL.
 */
void sectigo_parse_err(const char *body, size_t len, struct sectigo_err *out);

/**
 * Turn an SCM x509R download (leaf first ... root last, LF or CRLF) into the
 * chain we hand to ACME: the leaf and the intermediates, each block ending in
 * "\n", LF only, without a trailing self-signed root.
 * @param out on success a malloc'd NUL-terminated string; caller frees
 * @return 0; -EINVAL when the body holds no certificate or a block does not
 *         parse; -ENOMEM.
 */
int sectigo_chain_normalize(const char *body, size_t len, char **out);

/**
 * Does an SCM comments string carry "acmebridge tag=<tag>" as a whole word
 * (the tag must not be a prefix of a longer tag)?
 * @return 1 or 0 (also for NULL or empty arguments).
 */
int sectigo_comment_has_tag(const char *comments, const char *tag);

/**
 * Map an RFC 5280 CRLReason onto the set SCM accepts for revoke
 * ({0, 1, 3, 4, 5}); anything else becomes 0 (unspecified).
 */
int sectigo_revoke_reason(int rfc5280_reason);

/**
 * Does a collect answer mean "not issued yet"? status is the HTTP status,
 * e is the parsed body, body_len the raw body length.
 * @return 1 or 0.
 */
int sectigo_collect_pending(long status, const struct sectigo_err *e,
    const char *body, size_t body_len);

/**
 * Percent-encode s for a URL query or an
 * application/x-www-form-urlencoded body (RFC 3986 unreserved characters are
 * kept). @return a malloc'd string (caller frees), NULL on allocation
 * failure.
 */
char *sectigo_urlencode(const char *s);

/**
 * Normalise an SCM serial number ("0A:1B:...", colon-less, any case, with
 * or without leading zeros) into out: lower-case hex, no separators, no
 * leading zeros ("0" for zero). NULL or "" gives "".
 * @return 0; -EINVAL when in holds anything but hex digits and ':', ' ' or
 *         '-' separators (out is then ""); -ENOSPC when out is too small.
 */
int sectigo_serial_norm(const char *in, char *out, size_t outsz);

/**
 * An SCM date as unix seconds (UTC, the start of the day when no time is
 * given): "MM/dd/yyyy" (SCM's default), "yyyy-MM-dd", either optionally
 * followed by a time "HH:mm[:ss[.fff]]" after 'T' or ' ', then an optional
 * "Z" or "+hh:mm"/"-hh[:]mm" offset.
 * @return the time, or 0 when s is NULL, empty or not such a date.
 */
long long sectigo_parse_date(const char *s);

/**
 * One certificate as SCM describes it, from a details object
 * (GET /api/ssl/v1/{sslId}) or a report row, into out: every string
 * malloc'd (never NULL), free with sectigo_cert_clear(). Names come from
 * subjectAlternativeNames (an array) or subjAltNames ("; " or ","
 * separated), else commonName, joined with ", ".
 * @return 0; -EINVAL when o is not an object with a positive id/sslId;
 *         -ENOMEM (out is then cleared).
 */
int sectigo_cert_parse(json_t *o, struct acme_ca_cert *out);

/** Free the strings of a sectigo_cert_parse() result (NULL-safe). */
void sectigo_cert_clear(struct acme_ca_cert *c);

/**
 * Test hook: the SCM calls of a backend in flight now and the most there
 * ever were at once (the max_concurrent limit).
 */
void sectigo_inflight(struct acme_ca *ca, int *now, int *peak);
