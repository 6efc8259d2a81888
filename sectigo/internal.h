/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure helpers of the SCM backend (no I/O), shared by sectigo.c and the unit
 * tests: response parsing, chain normalisation, tag matching.
 */
#pragma once
#include <stddef.h>

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
