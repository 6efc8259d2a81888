/* SPDX-License-Identifier: Apache-2.0 */
/* JWS, JWK and EAB handling for ACME requests (RFC 7515, 7517, 7638, 8555
 * §6.2, §7.3.4, §8.1): pure functions over OpenSSL and jansson, no I/O. */
#pragma once
#include <stddef.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "acme/problem.h"

/** A parsed flattened JWS (RFC 7515 §7.2.2) as RFC 8555 §6.2 requires. */
struct acme_jws {
	json_t *hdr;            /* decoded protected header (owned) */
	const char *alg;        /* borrowed from hdr */
	const char *nonce;      /* borrowed from hdr; NULL if absent */
	const char *url;        /* borrowed from hdr */
	const char *kid;        /* borrowed; NULL if jwk is used */
	json_t *jwk;            /* borrowed; NULL if kid is used */
	unsigned char *payload; /* decoded payload, NUL-terminated (owned) */
	size_t payload_len;     /* 0 = POST-as-GET (empty payload "") */
	char *signing_input;    /* "<protected>.<payload>" ASCII (owned) */
	unsigned char *sig;     /* decoded signature (owned) */
	size_t sig_len;         /* length of sig in bytes */
};

/**
 * Parse body (not NUL-terminated) into jws. Checks: valid JSON object with
 * exactly "protected","payload","signature" strings (unknown top-level
 * members like "header" refused: RFC 8555 §6.2 forbids unprotected headers),
 * each strict base64url; protected header is a JSON object with "alg"
 * (string, not "none", not a MAC "HS*": badSignatureAlgorithm), "url"
 * (string), exactly one of "jwk" (object) / "kid" (string) (both or neither:
 * malformed), "nonce" if present a string, "crit"/"b64" refused. Payload
 * decoded (may be empty). On error fills prob (400 malformed unless said
 * otherwise) and returns -1; jws is then empty.
 * The caller releases a parsed jws with acme_jws_free().
 */
int acme_jws_parse(const char *body, size_t len, struct acme_jws *jws,
    struct acme_problem *prob);
/** Free the members; safe on a zeroed or parsed struct, and twice. */
void acme_jws_free(struct acme_jws *jws);

/**
 * Public key from a JWK: RSA (n,e; modulus >= 2048 and <= 8192 bits), EC
 * P-256 / P-384 (x,y on the curve, right lengths), OKP Ed25519. Private
 * members ("d" etc.) refused. Else 400 badPublicKey.
 * @return a new key the caller EVP_PKEY_free()s, or NULL with prob filled.
 */
EVP_PKEY *acme_jwk_to_pkey(const json_t *jwk, struct acme_problem *prob);
/**
 * RFC 7638 thumbprint, base64url SHA-256 of the canonical JSON of the
 * required members: out gets 43 chars + NUL.
 * @return 0, or -1 on a bad key.
 */
int acme_jwk_thumbprint(const json_t *jwk, char out[44]);
/**
 * Canonical JSON text of the key's required members (same as thumbprint
 * input). Used to store keys and compare them as keys, not bytes.
 * @return a malloc'd string the caller frees; NULL on bad key or OOM.
 */
char *acme_jwk_canonical(const json_t *jwk);
/** JWK (public) of a key, as a new json object; caller decrefs. NULL on
 * an unsupported key or OOM. */
json_t *acme_jwk_from_pkey(EVP_PKEY *key);
/**
 * Verify jws->sig over signing_input with key. alg must fit the key: RS256
 * (RSA), ES256 (P-256, raw r||s 64 bytes), ES384 (P-384, 96 bytes), EdDSA
 * (Ed25519). Mismatch or other alg: 400 badSignatureAlgorithm with
 * prob->extra = {"algorithms":["RS256","ES256","ES384","EdDSA"]}. Bad
 * signature: 400 malformed "JWS signature is invalid".
 * @return 0 or -1.
 */
int acme_jws_verify(
    const struct acme_jws *jws, EVP_PKEY *key, struct acme_problem *prob);

/**
 * External Account Binding (RFC 8555 §7.3.4). eab = the
 * "externalAccountBinding" member of the newAccount payload (a flattened
 * JWS). Parse: alg HS256/HS384/HS512, "kid" string, "url" string, no nonce,
 * payload = a JWK. Writes kid into kid_out (<= kid_len incl NUL).
 * @return 0 or -1 (400 malformed).
 */
int acme_eab_parse(const json_t *eab, char *kid_out, size_t kid_len,
    struct acme_problem *prob);
/**
 * Verify a parsed-OK eab against the HMAC key (raw bytes), the outer request
 * url and outer jwk: url must equal, payload JWK must equal outer jwk AS A
 * KEY (canonical forms compared), HMAC must verify (constant-time compare).
 * @return 0, or -1 with 401 unauthorized / 400 malformed.
 */
int acme_eab_verify(const json_t *eab, const unsigned char *hmac_key,
    size_t key_len, const char *url, const json_t *outer_jwk,
    struct acme_problem *prob);

/** Key authorization "token.thumbprint" (RFC 8555 §8.1) into a malloc'd
 * string the caller frees; NULL on OOM. */
char *acme_key_authz(const char *token, const char *thumbprint);
/** dns-01 TXT value: base64url(SHA-256(key_authz)), 43 chars + NUL. */
void acme_dns01_value(const char *key_authz, char out[44]);
/** base64url random token of nbytes random bytes (RAND_bytes); malloc'd,
 * caller frees; NULL on failure. */
char *acme_random_token(size_t nbytes);
