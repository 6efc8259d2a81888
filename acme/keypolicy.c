/* SPDX-License-Identifier: Apache-2.0 */
/* RSA key policy shared by account keys and CSR keys. */
#include "acme/keypolicy.h"

#include <stdio.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

/* Fermat's method finds p and q within this many steps when they share
 * their top half or so of bits; sound generators never produce such keys
 * (Boulder's goodkey uses the same count). */
#define FERMAT_ROUNDS 100
/* Trial division by the odd primes below this bound. */
#define SMALL_PRIME_BOUND 1000

/* floor(sqrt(a)) by Newton's method; a >= 0. */
static int
bn_isqrt(BIGNUM *r, const BIGNUM *a, BN_CTX *ctx)
{
	BIGNUM *x, *y;
	int ok = 0;

	BN_CTX_start(ctx);
	x = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	if (y == NULL)
		goto out;
	if (BN_is_zero(a)) {
		BN_zero(r);
		ok = 1;
		goto out;
	}
	/* start above the root: 2^ceil(bits/2) */
	if (!BN_set_word(x, 0) || !BN_set_bit(x, (BN_num_bits(a) + 1) / 2))
		goto out;
	for (;;) {
		/* y = (x + a / x) / 2 */
		if (!BN_div(y, NULL, a, x, ctx) || !BN_add(y, y, x) ||
		    !BN_rshift1(y, y))
			goto out;
		if (BN_cmp(y, x) >= 0)
			break;
		if (!BN_copy(x, y))
			goto out;
	}
	ok = BN_copy(r, x) != NULL;
out:
	BN_CTX_end(ctx);
	return ok;
}

/* 1 when n = p*q with p, q close enough for FERMAT_ROUNDS steps, 0 when
 * not, -1 on error. */
static int
fermat_weak(const BIGNUM *n, BN_CTX *ctx)
{
	BIGNUM *a, *b2, *b, *t;
	int rc = -1;

	BN_CTX_start(ctx);
	a = BN_CTX_get(ctx);
	b2 = BN_CTX_get(ctx);
	b = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	if (t == NULL || !bn_isqrt(a, n, ctx))
		goto out;
	/* a = ceil(sqrt(n)) */
	if (!BN_sqr(t, a, ctx))
		goto out;
	if (BN_cmp(t, n) < 0 && !BN_add_word(a, 1))
		goto out;
	for (int i = 0; i < FERMAT_ROUNDS; i++) {
		/* is a^2 - n a perfect square? */
		if (!BN_sqr(t, a, ctx) || !BN_sub(b2, t, n) ||
		    !bn_isqrt(b, b2, ctx) || !BN_sqr(t, b, ctx))
			goto out;
		if (BN_cmp(t, b2) == 0) {
			rc = 1;
			goto out;
		}
		if (!BN_add_word(a, 1))
			goto out;
	}
	rc = 0;
out:
	BN_CTX_end(ctx);
	return rc;
}

static int
is_small_prime(unsigned p)
{
	for (unsigned d = 3; d * d <= p; d += 2)
		if (p % d == 0)
			return 0;
	return 1;
}

int
acme_rsa_key_check(const BIGNUM *n, const BIGNUM *e, char *why, size_t len)
{
	BN_CTX *ctx = NULL;
	int bits = BN_num_bits(n), weak, rc = -1;

	if (bits < ACME_RSA_MIN_BITS || bits > ACME_RSA_MAX_BITS) {
		snprintf(why, len,
		    "an RSA modulus of %d bits is refused; %d to %d bits are "
		    "allowed",
		    bits, ACME_RSA_MIN_BITS, ACME_RSA_MAX_BITS);
		return -1;
	}
	if (!BN_is_word(e, 65537)) {
		snprintf(why, len, "the RSA public exponent must be 65537");
		return -1;
	}
	if (!BN_is_odd(n)) {
		snprintf(why, len, "the RSA modulus is even");
		return -1;
	}
	for (unsigned p = 3; p < SMALL_PRIME_BOUND; p += 2) {
		BN_ULONG r;

		if (!is_small_prime(p))
			continue;
		r = BN_mod_word(n, p);
		if (r == (BN_ULONG)-1)
			goto err;
		if (r == 0) {
			snprintf(why, len,
			    "the RSA modulus has the small factor %u", p);
			return -1;
		}
	}
	ctx = BN_CTX_new();
	if (ctx == NULL)
		goto err;
	weak = fermat_weak(n, ctx);
	if (weak < 0)
		goto err;
	if (weak) {
		snprintf(why, len,
		    "the RSA modulus is the product of two primes so close "
		    "that it factors at once (Fermat)");
		goto out;
	}
	rc = 0;
	goto out;
err:
	ERR_clear_error();
	snprintf(why, len, "the RSA key could not be checked");
out:
	BN_CTX_free(ctx);
	return rc;
}

int
acme_pkey_rsa_check(EVP_PKEY *key, char *why, size_t len)
{
	BIGNUM *n = NULL, *e = NULL;
	int rc;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return 0;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
		ERR_clear_error();
		snprintf(why, len, "the RSA key parameters cannot be read");
		rc = -1;
	} else {
		rc = acme_rsa_key_check(n, e, why, len);
	}
	BN_free(n);
	BN_free(e);
	return rc;
}
