/* SPDX-License-Identifier: Apache-2.0 */
/* CSR checks for finalize (RFC 8555 §7.4) and certificate facts for
 * revocation (§7.6) and renewal information (RFC 9773). */
#pragma once
#include <stddef.h>
#include <openssl/evp.h>
#include "acme/ident.h"
#include "acme/problem.h"

/** A checked CSR (RFC 8555 §7.4 finalize). */
struct acme_csr {
	struct acme_ident *names; /* SAN dNSName / iPAddress values normalised
				     as acme_ident, in CSR order,
				     de-duplicated, then the CN if no SAN
				     holds it (RFC 8555 §7.4 lets a name
				     appear in the CN only); malloc'd */
	size_t n_names;           /* entries in names */
	char *cn;                 /* subject CN if present (normalised), else
				     NULL; malloc'd */
	char *pem;                /* "-----BEGIN CERTIFICATE REQUEST-----" PEM
				     text; malloc'd */
	EVP_PKEY *key;            /* the request's public key; owned */
	char key_desc[32];        /* "RSA 2048", "EC P-256", "EC P-384" */
	char spki_sha256[44];     /* base64url SHA-256 of the
				     SubjectPublicKeyInfo DER */
};

/**
 * Decode the finalize "csr" member (base64url DER, no padding), verify its
 * self-signature, apply key policy (RSA >= 2048 bits and <= 8192, EC P-256
 * or P-384 only; else 400 badCSR naming the key), collect names from the
 * subjectAltName extension and the CN. Errors: 400 badCSR.
 * Release csr with acme_csr_free() (on success only; on error it is empty).
 * @return 0 or -1.
 */
int acme_csr_parse(
    const char *b64url_der, struct acme_csr *csr, struct acme_problem *prob);
/**
 * The CSR's name set must equal the order's identifiers exactly (as sets,
 * case-insensitive, CN must be among them); else 400 badCSR listing the
 * extra and the missing names. CN absent is fine.
 * @return 0 or -1.
 */
int acme_csr_match(const struct acme_csr *csr, const struct acme_ident *ids,
    size_t n, struct acme_problem *prob);
/** Free the members and zero csr; safe on a zeroed struct and twice. */
void acme_csr_free(struct acme_csr *csr);

/** Facts about a certificate (revokeCert payload, ARI). */
struct acme_cert_info {
	char serial_hex[80];  /* lower-case hex, no leading zero byte, no
				 colons */
	char spki_sha256[44]; /* as in acme_csr */
	char aki_b64url[96];  /* keyIdentifier of the AuthorityKeyIdentifier
				 ext, base64url; "" if absent (RFC 9773 certID
				 part) */
	long long not_after;  /* unix time */
	long long not_before; /* unix time */
};

/** Parse DER certificate bytes. @return 0 or -1 (400 malformed). */
int acme_cert_info_der(const unsigned char *der, size_t len,
    struct acme_cert_info *out, struct acme_problem *prob);
/** Same from the first certificate of a PEM chain. @return 0 or -1. */
int acme_cert_info_pem(
    const char *pem, struct acme_cert_info *out, struct acme_problem *prob);
/**
 * The first certificate of a PEM chain the bridge stored (trusted data),
 * as DER in a new buffer (caller frees).
 * @return 0 or -1.
 */
int acme_cert_leaf_der(const char *pem, unsigned char **der, size_t *len);
/**
 * Does the public key of the DER certificate in der/len (all of it, DER
 * only: no PEM) equal key?
 * @return 1 yes, 0 no (also on unparsable input).
 */
int acme_cert_key_matches(const unsigned char *der, size_t len, EVP_PKEY *key);

/**
 * Does the leaf of a chain SCM returned belong to this order: the CSR's
 * public key, and exactly the order's identifiers as subjectAltNames
 * (DNS case-insensitive, IP addresses canonical)?
 * @return 0 yes, -1 no with the reason in why.
 */
int acme_cert_matches_order(const char *chain_pem, const char *csr_pem,
    const char *identifiers_json, char *why, size_t len);

/** The CN of a stored PEM CSR as written (new string), or NULL if none. */
char *acme_csr_pem_cn(const char *pem);
