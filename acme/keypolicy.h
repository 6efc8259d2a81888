/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One RSA key policy for account keys (JWK) and certificate keys (CSR):
 * modulus 2048..8192 bits, public exponent 65537, and the cheap checks
 * that catch keys no sound generator makes (a small prime factor, or two
 * primes so close that Fermat's method splits the modulus).
 */
#pragma once
#include <stddef.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#define ACME_RSA_MIN_BITS 2048
#define ACME_RSA_MAX_BITS 8192

/**
 * Check an RSA public key given as modulus and exponent.
 * @return 0 when acceptable, otherwise -1 with the reason (a sentence
 *         fragment such as "the public exponent must be 65537") in why.
 */
int acme_rsa_key_check(const BIGNUM *n, const BIGNUM *e, char *why, size_t len);

/** The same for an RSA EVP_PKEY (other key types: 0). */
int acme_pkey_rsa_check(EVP_PKEY *key, char *why, size_t len);
