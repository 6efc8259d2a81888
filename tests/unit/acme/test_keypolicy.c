/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/keypolicy: the RSA rules shared by account keys and
 * CSR keys (size, exponent 65537, small factors, Fermat-close primes),
 * and that the CSR path applies them. */
#include "tests/unit/acme/acmetest_util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <openssl/x509.h>

#include "acme/csr.h"
#include "acme/keypolicy.h"
#include "contrib/b64url.h"

static BIGNUM *
bn_word(unsigned long w)
{
	BIGNUM *b = BN_new();

	assert_non_null(b);
	assert_int_equal(BN_set_word(b, w), 1);
	return b;
}

/* n and e of a freshly generated key with exponent e_word */
static EVP_PKEY *
rsa_keygen(unsigned long e_word, int bits)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *e = bn_word(e_word);

	assert_non_null(pc);
	assert_int_equal(EVP_PKEY_keygen_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(pc, bits), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(pc, e), 1);
	assert_int_equal(EVP_PKEY_keygen(pc, &key), 1);
	EVP_PKEY_CTX_free(pc);
	BN_free(e);
	return key;
}

static void
test_sound_key_passes(void **state)
{
	EVP_PKEY *k = rsa_keygen(65537, 2048);
	char why[160] = "";

	(void)state;
	assert_int_equal(acme_pkey_rsa_check(k, why, sizeof(why)), 0);
	EVP_PKEY_free(k);
	/* EC keys are not this policy's business */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_int_equal(acme_pkey_rsa_check(k, why, sizeof(why)), 0);
	EVP_PKEY_free(k);
}

static void
test_exponent(void **state)
{
	EVP_PKEY *k = rsa_keygen(3, 2048);
	char why[160] = "";

	(void)state;
	assert_int_equal(acme_pkey_rsa_check(k, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "65537"));
	EVP_PKEY_free(k);
}

static void
test_size(void **state)
{
	EVP_PKEY *k = rsa_keygen(65537, 1024);
	char why[160] = "";

	(void)state;
	assert_int_equal(acme_pkey_rsa_check(k, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "1024 bits"));
	EVP_PKEY_free(k);
}

static void
test_small_factor(void **state)
{
	BIGNUM *n = BN_new(), *three = bn_word(3), *e = bn_word(65537);
	BN_CTX *ctx = BN_CTX_new();
	char why[160] = "";

	(void)state;
	/* a 2048-bit odd number with the factor 3: 3 * (2^2046 + 1) */
	assert_int_equal(BN_set_word(n, 0), 1);
	assert_int_equal(BN_set_bit(n, 2046), 1);
	assert_int_equal(BN_add_word(n, 1), 1);
	assert_int_equal(BN_mul(n, n, three, ctx), 1);
	assert_int_equal(BN_num_bits(n), 2048);
	assert_int_equal(acme_rsa_key_check(n, e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "small factor 3"));
	BN_free(n);
	BN_free(three);
	BN_free(e);
	BN_CTX_free(ctx);
}

static void
test_fermat(void **state)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *p = BN_new(), *q = BN_new(), *n = BN_new(), *e = bn_word(65537);
	char why[160] = "";

	(void)state;
	/* q is the next prime after p: such a modulus splits in one step */
	assert_int_equal(BN_generate_prime_ex(p, 1024, 0, NULL, NULL, NULL), 1);
	assert_non_null(BN_copy(q, p));
	do
		assert_int_equal(BN_add_word(q, 2), 1);
	while (BN_check_prime(q, ctx, NULL) != 1);
	assert_int_equal(BN_mul(n, p, q, ctx), 1);
	assert_int_equal(acme_rsa_key_check(n, e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "Fermat"));
	/* the same primes far apart are fine: p * q' with q' random */
	assert_int_equal(BN_generate_prime_ex(q, 1024, 0, NULL, NULL, NULL), 1);
	assert_int_equal(BN_mul(n, p, q, ctx), 1);
	if (BN_num_bits(n) >= 2047) {
		int rc = acme_rsa_key_check(n, e, why, sizeof(why));

		/* 2047-bit products are refused for their size only */
		assert_true(rc == 0 || strstr(why, "bits") != NULL);
	}
	BN_free(p);
	BN_free(q);
	BN_free(n);
	BN_free(e);
	BN_CTX_free(ctx);
}

/* The CSR path applies the same policy: a CSR whose RSA key has e = 3 is
 * badCSR naming the exponent. */
static void
test_csr_exponent(void **state)
{
	EVP_PKEY *k = rsa_keygen(3, 2048);
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	struct acme_csr csr = {0};
	struct acme_problem prob = {0};
	unsigned char *der = NULL;
	char *b64;
	int len;

	(void)state;
	assert_int_equal(
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	        (const unsigned char *)"e3.example.test", -1, -1, 0),
	    1);
	assert_int_equal(X509_REQ_set_subject_name(req, nm), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	b64 = b64url_encode_alloc(der, (size_t)len);
	assert_non_null(b64);
	assert_int_equal(acme_csr_parse(b64, &csr, &prob), -1);
	assert_string_equal(prob.type, "badCSR");
	assert_non_null(strstr(prob.detail, "65537"));
	acme_problem_clear(&prob);
	free(b64);
	OPENSSL_free(der);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sound_key_passes),
	    cmocka_unit_test(test_exponent),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_small_factor),
	    cmocka_unit_test(test_fermat),
	    cmocka_unit_test(test_csr_exponent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
