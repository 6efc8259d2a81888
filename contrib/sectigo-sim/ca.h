/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the test PKI (root, issuing intermediate, the simulator's own
 * TLS certificate) and the X.509 work: CSR checks, leaf signing, PKCS#7.
 */
#pragma once

#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>

/** Opaque: the keys and certificates of the simulated CA. */
struct sim_ca;

/** sim_csr_parse() results beyond 0 */
#define SIM_CSR_EDECODE (-1) /* not PEM or base64 DER of a CSR */
#define SIM_CSR_ESIG (-2)    /* the CSR's self-signature does not verify */
#define SIM_CSR_ENOMEM (-3)  /* out of memory or other libcrypto failure */

/** What the simulator keeps of a parsed CSR. */
struct sim_csr {
	char *pem;          /* the CSR re-encoded as PEM (owned) */
	char sha256[65];    /* lower-case hex SHA-256 of the CSR's DER */
	char *cn;           /* subject commonName, UTF-8, or NULL (owned) */
	char key_alg[8];    /* "RSA", "EC", or "" for anything else */
	int key_bits;       /* key size in bits */
	char key_param[16]; /* "2048" for RSA, "P-256" etc. for EC */
};

/** A freshly signed leaf certificate. */
struct sim_leaf {
	char *pem;         /* the leaf as PEM (owned) */
	char serial[64];   /* colon-separated upper-case hex */
	time_t not_before; /* validity start */
	time_t not_after;  /* validity end */
};

/**
 * Loads the CA from dir, or creates it there on first start: root.key,
 * root.pem, intermediate.key, intermediate.pem, chain.pem (intermediate
 * then root), server.key and server.pem (the TLS certificate of the
 * simulator, signed by the root).
 * @return a CA the caller frees with sim_ca_free(), or NULL (logged)
 */
struct sim_ca *sim_ca_load_or_create(const char *dir);

/** Frees the CA; NULL is a no-op. */
void sim_ca_free(struct sim_ca *ca);

/**
 * Builds a TLS 1.2+ server context with the simulator's certificate.
 * @return a context the caller frees with SSL_CTX_free(), or NULL (logged)
 */
SSL_CTX *sim_ca_server_ctx(const struct sim_ca *ca);

/** @return the root certificate as PEM (borrowed) */
const char *sim_ca_root_pem(const struct sim_ca *ca);

/** @return the intermediate certificate as PEM (borrowed) */
const char *sim_ca_inter_pem(const struct sim_ca *ca);

/** @return the issuer DN of leaves, e.g. "CN=...,O=..." (borrowed) */
const char *sim_ca_issuer_dn(const struct sim_ca *ca);

/**
 * Parses a CSR given as PEM or as bare base64 DER and checks its signature.
 * @param out filled on success; release with sim_csr_clear()
 * @return 0, SIM_CSR_EDECODE, SIM_CSR_ESIG or SIM_CSR_ENOMEM
 */
int sim_csr_parse(const char *text, struct sim_csr *out);

/** Frees what a struct sim_csr owns and zeroes it. */
void sim_csr_clear(struct sim_csr *csr);

/**
 * Signs a server certificate for the public key of csr_pem with the
 * intermediate.
 * @param cn subject commonName, or NULL for an empty subject
 * @param sans JSON array of names; IP literals become iPAddress entries
 * @param days validity in days: notBefore is 00:00:00 UTC today,
 *     notAfter notBefore + days - 1 s
 * @param out filled on success; free out->pem with free()
 * @return 0, or -1 (logged)
 */
int sim_ca_issue(const struct sim_ca *ca, const char *csr_pem, const char *cn,
    const json_t *sans, long days, struct sim_leaf *out);

/**
 * Wraps leaf, intermediate and root in a certs-only PKCS#7 SignedData.
 * @param der 1 for DER, 0 for PEM ("-----BEGIN PKCS7-----")
 * @param out malloc'd result the caller frees; *outlen its length
 * @return 0, or -1 (logged)
 */
int sim_ca_pkcs7(const struct sim_ca *ca, const char *leaf_pem, int der,
    unsigned char **out, size_t *outlen);

/**
 * Computes lower-case hex SHA-1 and SHA-256 fingerprints of a PEM
 * certificate into sha1[41] and sha256[65].
 * @return 0, or -1
 */
int sim_ca_fingerprints(const char *pem, char *sha1, char *sha256);
