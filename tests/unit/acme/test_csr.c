/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/csr: finalize CSR checks with CSRs made here by
 * OpenSSL, name matching against orders, and certificate facts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/csr.h"
#include "contrib/b64url.h"

static EVP_PKEY *k_rsa, *k_rsa1024, *k_p256, *k_p384, *k_p521, *k_ed;

static int
group_setup(void **state)
{
	(void)state;
	k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k_rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	k_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	k_p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k_rsa == NULL || k_rsa1024 == NULL || k_p256 == NULL ||
	    k_p384 == NULL || k_p521 == NULL || k_ed == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_rsa1024);
	EVP_PKEY_free(k_p256);
	EVP_PKEY_free(k_p384);
	EVP_PKEY_free(k_p521);
	EVP_PKEY_free(k_ed);
	return 0;
}

static void
expect_prob(struct acme_problem *p, int status, const char *type,
    const char *detail_part)
{
	assert_non_null(p->type);
	assert_string_equal(p->type, type);
	assert_int_equal(p->status, status);
	if (detail_part != NULL && strstr(p->detail, detail_part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", p->detail, detail_part);
	acme_problem_clear(p);
}

/* DER of a CSR with public key pub, signed by signer with md (NULL for
 * Ed25519), subject CN cn (or none), SAN in OpenSSL config syntax (or
 * none). Returns the DER (OPENSSL_malloc'd) and its length. */
static unsigned char *
csr_der(EVP_PKEY *pub, EVP_PKEY *signer, const EVP_MD *md, const char *cn,
    const char *san, int *len)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;

	assert_non_null(req);
	assert_int_equal(X509_REQ_set_version(req, 0), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, pub), 1);
	if (cn != NULL) {
		X509_NAME *name = X509_REQ_get_subject_name(req);

		assert_int_equal(
		    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		        (const unsigned char *)cn, -1, -1, 0),
		    1);
	}
	if (san != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *ext =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);

		assert_non_null(exts);
		assert_non_null(ext);
		sk_X509_EXTENSION_push(exts, ext);
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, signer, md) > 0);
	*len = i2d_X509_REQ(req, &der);
	assert_true(*len > 0);
	X509_REQ_free(req);
	return der;
}

static char *
csr_b64(EVP_PKEY *key, const char *cn, const char *san)
{
	const EVP_MD *md =
	    EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	unsigned char *der;
	char *b64;
	int len;

	der = csr_der(key, key, md, cn, san, &len);
	b64 = b64url_encode_alloc(der, (size_t)len);
	assert_non_null(b64);
	OPENSSL_free(der);
	return b64;
}

static void
expect_csr_fail(const char *b64, const char *detail_part)
{
	struct acme_problem p;
	struct acme_csr csr;

	memset(&p, 0, sizeof(p));
	memset(&csr, 0x5a, sizeof(csr));
	assert_int_equal(acme_csr_parse(b64, &csr, &p), -1);
	assert_null(csr.names);
	assert_null(csr.pem);
	assert_null(csr.cn);
	expect_prob(&p, 400, "badCSR", detail_part);
}

static void
spki_of(EVP_PKEY *key, char out[44])
{
	unsigned char md[32], *der = NULL;
	int len = i2d_PUBKEY(key, &der);

	assert_true(len > 0);
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	b64url_encode(md, sizeof(md), out);
}

static struct acme_ident
ident(const char *type, const char *value)
{
	struct acme_problem p;
	struct acme_ident id;

	memset(&p, 0, sizeof(p));
	assert_int_equal(acme_ident_check(type, value, &id, &p), 0);
	return id;
}

/* ---- parsing ---- */

static void
test_good_rsa(void **state)
{
	struct acme_problem p;
	struct acme_csr csr;
	char spki[44], *b64;

	(void)state;
	memset(&p, 0, sizeof(p));
	b64 = csr_b64(k_rsa, "A.Example.com",
	    "DNS:a.example.com,DNS:B.EXAMPLE.COM,DNS:a.example.com");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_null(p.type);
	assert_int_equal(csr.n_names, 2);
	assert_string_equal(csr.names[0].type, "dns");
	assert_string_equal(csr.names[0].value, "a.example.com");
	assert_string_equal(csr.names[1].value, "b.example.com");
	assert_string_equal(csr.cn, "a.example.com");
	assert_string_equal(csr.key_desc, "RSA 2048");
	assert_non_null(csr.pem);
	assert_int_equal(
	    strncmp(csr.pem, "-----BEGIN CERTIFICATE REQUEST-----", 35), 0);
	spki_of(k_rsa, spki);
	assert_string_equal(csr.spki_sha256, spki);
	acme_csr_free(&csr);
	acme_csr_free(&csr);
	free(b64);
}

static void
test_good_ec(void **state)
{
	struct acme_problem p;
	struct acme_csr csr;
	char spki[44], *b64;

	(void)state;
	memset(&p, 0, sizeof(p));
	b64 = csr_b64(k_p256, NULL, "DNS:*.example.com,DNS:example.com");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_string_equal(csr.key_desc, "EC P-256");
	assert_null(csr.cn);
	assert_int_equal(csr.n_names, 2);
	assert_string_equal(csr.names[0].value, "*.example.com");
	assert_int_equal(csr.names[0].wildcard, 1);
	spki_of(k_p256, spki);
	assert_string_equal(csr.spki_sha256, spki);
	acme_csr_free(&csr);
	free(b64);

	b64 = csr_b64(k_p384, "example.net", NULL);
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_string_equal(csr.key_desc, "EC P-384");
	/* CN only: it is the one name */
	assert_int_equal(csr.n_names, 1);
	assert_string_equal(csr.names[0].value, "example.net");
	acme_csr_free(&csr);
	free(b64);
}

static void
test_ip_san(void **state)
{
	struct acme_problem p;
	struct acme_csr csr;
	struct acme_ident ids[2];
	char *b64;

	(void)state;
	memset(&p, 0, sizeof(p));
	b64 = csr_b64(k_p256, NULL, "IP:2001:DB8:0:0:0:0:0:1,IP:192.0.2.9");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_int_equal(csr.n_names, 2);
	assert_string_equal(csr.names[0].type, "ip");
	assert_string_equal(csr.names[0].value, "2001:db8::1");
	assert_string_equal(csr.names[1].value, "192.0.2.9");
	ids[0] = ident("ip", "192.0.2.9");
	ids[1] = ident("ip", "2001:db8::1");
	assert_int_equal(acme_csr_match(&csr, ids, 2, &p), 0);
	/* a dns identifier with the same text is not the same name */
	ids[1] = ident("dns", "example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 2, &p), -1);
	expect_prob(&p, 400, "badCSR", "2001:db8::1");
	acme_csr_free(&csr);
	free(b64);

	/* an IP address CN */
	b64 = csr_b64(k_p256, "192.0.2.9", "IP:192.0.2.9");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_string_equal(csr.cn, "192.0.2.9");
	assert_int_equal(csr.n_names, 1);
	acme_csr_free(&csr);
	free(b64);
}

static void
test_bad_signature(void **state)
{
	unsigned char *der;
	char *b64;
	int len;

	(void)state;
	/* public key of one key, signed by another */
	der =
	    csr_der(k_p256, k_rsa, EVP_sha256(), NULL, "DNS:example.com", &len);
	b64 = b64url_encode_alloc(der, (size_t)len);
	expect_csr_fail(b64, "signature is invalid");
	free(b64);
	OPENSSL_free(der);

	/* a flipped bit in the signature (the last bytes of the DER) */
	der =
	    csr_der(k_rsa, k_rsa, EVP_sha256(), NULL, "DNS:example.com", &len);
	der[len - 1] ^= 0x01;
	b64 = b64url_encode_alloc(der, (size_t)len);
	expect_csr_fail(b64, "signature is invalid");
	free(b64);
	/* and in the signed names */
	der[len - 1] ^= 0x01;
	{
		unsigned char *hit = NULL;
		int i;

		for (i = 0; i + 11 <= len; i++) {
			if (memcmp(der + i, "example.com", 11) == 0) {
				hit = der + i;
				break;
			}
		}
		assert_non_null(hit);
		hit[0] = 'f';
	}
	b64 = b64url_encode_alloc(der, (size_t)len);
	expect_csr_fail(b64, "signature is invalid");
	free(b64);
	OPENSSL_free(der);

	/* SHA-1 */
	der = csr_der(k_rsa, k_rsa, EVP_sha1(), NULL, "DNS:example.com", &len);
	b64 = b64url_encode_alloc(der, (size_t)len);
	expect_csr_fail(b64, "SHA-1");
	free(b64);
	OPENSSL_free(der);
}

static void
test_key_policy(void **state)
{
	char *b64;

	(void)state;
	b64 = csr_b64(k_rsa1024, NULL, "DNS:example.com");
	expect_csr_fail(b64, "RSA 1024");
	free(b64);
	b64 = csr_b64(k_p521, NULL, "DNS:example.com");
	expect_csr_fail(b64, "secp521r1");
	free(b64);
	b64 = csr_b64(k_ed, NULL, "DNS:example.com");
	expect_csr_fail(b64, "ED25519");
	free(b64);
}

static void
test_bad_encoding(void **state)
{
	unsigned char *der, *longer;
	char *b64, *padded;
	size_t n;
	int len;

	(void)state;
	expect_csr_fail("", "empty");
	expect_csr_fail(NULL, "empty");
	expect_csr_fail("!!!!", "base64url");
	expect_csr_fail("AAAA", "PKCS#10");

	der = csr_der(
	    k_p256, k_p256, EVP_sha256(), NULL, "DNS:example.com", &len);
	/* standard base64 padding */
	b64 = b64url_encode_alloc(der, (size_t)len);
	n = strlen(b64);
	padded = malloc(n + 4);
	assert_non_null(padded);
	snprintf(padded, n + 4, "%s%s", b64,
	    n % 4 == 2 ? "==" : (n % 4 == 3 ? "=" : "A="));
	expect_csr_fail(padded, "base64url");
	free(padded);
	free(b64);
	/* trailing bytes after the DER */
	longer = malloc((size_t)len + 2);
	assert_non_null(longer);
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	longer[len + 1] = 0;
	b64 = b64url_encode_alloc(longer, (size_t)len + 2);
	expect_csr_fail(b64, "PKCS#10");
	free(b64);
	/* truncated */
	b64 = b64url_encode_alloc(der, (size_t)len - 3);
	expect_csr_fail(b64, NULL);
	free(b64);
	free(longer);
	OPENSSL_free(der);
}

static void
test_bad_names(void **state)
{
	char *b64;

	(void)state;
	b64 = csr_b64(k_p256, NULL, NULL);
	expect_csr_fail(b64, "names nothing");
	free(b64);
	b64 = csr_b64(k_p256, NULL, "DNS:example.com,email:a@example.com");
	expect_csr_fail(b64, "other than dNSName");
	free(b64);
	b64 = csr_b64(k_p256, NULL, "URI:https://example.com/");
	expect_csr_fail(b64, "other than dNSName");
	free(b64);
	b64 = csr_b64(k_p256, NULL, "DNS:bad_name.example.com");
	expect_csr_fail(b64, "bad_name.example.com");
	free(b64);
	b64 = csr_b64(k_p256, NULL, "DNS:example.com.");
	expect_csr_fail(b64, "trailing dot");
	free(b64);
	b64 = csr_b64(k_p256, "not a name!", "DNS:example.com");
	expect_csr_fail(b64, "CN");
	free(b64);
}

/* ---- matching ---- */

static void
test_match(void **state)
{
	struct acme_ident ids[3];
	struct acme_problem p;
	struct acme_csr csr;
	char *b64;

	(void)state;
	memset(&p, 0, sizeof(p));
	b64 = csr_b64(
	    k_rsa, "www.example.com", "DNS:www.example.com,DNS:example.com");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	/* same set, other order and case */
	ids[0] = ident("dns", "EXAMPLE.com");
	ids[1] = ident("dns", "www.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 2, &p), 0);
	assert_null(p.type);
	/* the order lacks one of the CSR's names */
	assert_int_equal(acme_csr_match(&csr, ids, 1, &p), -1);
	expect_prob(&p, 400, "badCSR", "not in the order: www.example.com");
	/* the order has a name the CSR lacks */
	ids[2] = ident("dns", "mail.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 3, &p), -1);
	expect_prob(
	    &p, 400, "badCSR", "missing from the CSR: mail.example.com");
	/* both at once */
	ids[0] = ident("dns", "other.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 3, &p), -1);
	assert_non_null(strstr(p.detail, "not in the order: example.com"));
	expect_prob(&p, 400, "badCSR",
	    "missing from the CSR: other.example.com, mail.example.com");
	acme_csr_free(&csr);
	free(b64);

	/* wildcard names match wildcard identifiers only */
	b64 = csr_b64(k_p256, NULL, "DNS:*.example.com");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	ids[0] = ident("dns", "*.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 1, &p), 0);
	ids[0] = ident("dns", "example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 1, &p), -1);
	expect_prob(&p, 400, "badCSR", "*.example.com");
	acme_csr_free(&csr);
	free(b64);
}

static void
test_cn_not_in_sans(void **state)
{
	struct acme_ident ids[2];
	struct acme_problem p;
	struct acme_csr csr;
	char *b64;

	(void)state;
	memset(&p, 0, sizeof(p));
	b64 = csr_b64(k_p256, "cn-only.example.com", "DNS:san.example.com");
	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	assert_string_equal(csr.cn, "cn-only.example.com");
	assert_int_equal(csr.n_names, 2);
	assert_string_equal(csr.names[1].value, "cn-only.example.com");
	/* the order does not hold the CN: refused, naming it */
	ids[0] = ident("dns", "san.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 1, &p), -1);
	expect_prob(&p, 400, "badCSR", "cn-only.example.com");
	/* RFC 8555 §7.4: a name may appear in the CN only */
	ids[1] = ident("dns", "cn-only.example.com");
	assert_int_equal(acme_csr_match(&csr, ids, 2, &p), 0);
	acme_csr_free(&csr);
	free(b64);
}

/* ---- certificates ---- */

struct pki {
	EVP_PKEY *ca_key;
	X509 *ca;
	X509 *leaf;
};

static X509 *
make_cert(EVP_PKEY *pub, EVP_PKEY *signer, X509 *issuer, const char *cn,
    const char *serial_hex, long long nb, long long na)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	BIGNUM *bn = NULL;
	X509_EXTENSION *ext;
	X509_NAME *name;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_true(BN_hex2bn(&bn, serial_hex) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	assert_int_equal(
	    X509_set_issuer_name(
	        x, issuer != NULL ? X509_get_subject_name(issuer) : name),
	    1);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext =
	    X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (issuer != NULL) {
		ext = X509V3_EXT_conf_nid(
		    NULL, &ctx, NID_authority_key_identifier, "keyid:always");
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
	return x;
}

static char *
pem_of(X509 *a, X509 *b)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_X509(bio, a), 1);
	if (b != NULL)
		assert_int_equal(PEM_write_bio_X509(bio, b), 1);
	len = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)len + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(bio);
	return out;
}

static void
test_cert_info(void **state)
{
	struct acme_cert_info ci;
	struct acme_problem p;
	unsigned char *der = NULL;
	char spki[44], aki[96];
	const ASN1_OCTET_STRING *ski;
	X509 *ca, *leaf;
	char *pem;
	int len;

	(void)state;
	memset(&p, 0, sizeof(p));
	ca = make_cert(
	    k_p384, k_p384, NULL, "Test CA", "01", 1600000000LL, 1900000000LL);
	/* high bit set: DER carries a leading zero octet */
	leaf = make_cert(k_p256, k_p384, ca, "leaf.example.com",
	    "8F0102030405060708090A0B0C0D0E0F10111213", 1700000000LL,
	    1700000000LL + 90 * 86400);
	len = i2d_X509(leaf, &der);
	assert_true(len > 0);

	assert_int_equal(acme_cert_info_der(der, (size_t)len, &ci, &p), 0);
	assert_string_equal(
	    ci.serial_hex, "8f0102030405060708090a0b0c0d0e0f10111213");
	spki_of(k_p256, spki);
	assert_string_equal(ci.spki_sha256, spki);
	ski = X509_get0_subject_key_id(ca);
	assert_non_null(ski);
	b64url_encode(
	    ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), aki);
	assert_string_equal(ci.aki_b64url, aki);
	assert_int_equal(strlen(aki), 27); /* SHA-1 key id, 20 bytes */
	assert_int_equal(ci.not_before, 1700000000LL);
	assert_int_equal(ci.not_after, 1700000000LL + 90 * 86400);

	/* the PEM chain: first certificate counts */
	pem = pem_of(leaf, ca);
	memset(&ci, 0, sizeof(ci));
	assert_int_equal(acme_cert_info_pem(pem, &ci, &p), 0);
	assert_string_equal(
	    ci.serial_hex, "8f0102030405060708090a0b0c0d0e0f10111213");
	assert_string_equal(ci.aki_b64url, aki);

	/* key match: DER only; PEM text is not a certificate here (a PEM
	 * reader would skip junk, so it could read another certificate than
	 * the DER walker did) */
	assert_int_equal(acme_cert_key_matches(der, (size_t)len, k_p256), 1);
	assert_int_equal(acme_cert_key_matches(der, (size_t)len, k_p384), 0);
	assert_int_equal(
	    acme_cert_key_matches((unsigned char *)pem, strlen(pem), k_p256),
	    0);
	assert_int_equal(
	    acme_cert_key_matches((unsigned char *)pem, strlen(pem), k_rsa), 0);
	assert_int_equal(
	    acme_cert_key_matches(der, (size_t)len - 1, k_p256), 0);
	assert_int_equal(acme_cert_key_matches(NULL, 0, k_p256), 0);
	free(pem);

	/* the CA: no AKI, small serial */
	pem = pem_of(ca, NULL);
	assert_int_equal(acme_cert_info_pem(pem, &ci, &p), 0);
	assert_string_equal(ci.serial_hex, "01");
	assert_string_equal(ci.aki_b64url, "");
	free(pem);

	/* broken input */
	assert_int_equal(acme_cert_info_der(der, (size_t)len - 1, &ci, &p), -1);
	expect_prob(&p, 400, "malformed", NULL);
	der[len - 1] ^= 0xff; /* signature byte: still parses */
	assert_int_equal(acme_cert_info_der(der, (size_t)len, &ci, &p), 0);
	assert_int_equal(
	    acme_cert_info_der((const unsigned char *)"\x30\x00", 2, &ci, &p),
	    -1);
	expect_prob(&p, 400, "malformed", NULL);
	assert_int_equal(acme_cert_info_pem("-----BEGIN CERTIFICATE-----\n"
	                                    "AAAA\n-----END CERTIFICATE-----\n",
	                     &ci, &p),
	    -1);
	expect_prob(&p, 400, "malformed", NULL);
	assert_int_equal(acme_cert_info_pem("", &ci, &p), -1);
	expect_prob(&p, 400, "malformed", NULL);

	OPENSSL_free(der);
	X509_free(leaf);
	X509_free(ca);
}

/* A leaf for key pub with subjectAltName san (config syntax), as PEM. */
static char *
leaf_pem_san(EVP_PKEY *pub, const char *san)
{
	X509 *x = make_cert(
	    pub, k_p384, NULL, "leaf", "0a", 1700000000LL, 1800000000LL);
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	char *pem;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k_p384, EVP_sha256()) > 0);
	pem = pem_of(x, NULL);
	X509_free(x);
	return pem;
}

static char *
csr_pem_of(EVP_PKEY *key, const char *cn, const char *san)
{
	unsigned char *der;
	const unsigned char *p;
	X509_REQ *req;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;
	int len;

	der = csr_der(key, key, EVP_sha256(), cn, san, &len);
	p = der;
	req = d2i_X509_REQ(NULL, &p, len);
	assert_non_null(req);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	assert_non_null(out);
	BIO_free(bio);
	X509_REQ_free(req);
	OPENSSL_free(der);
	return out;
}

/* What SCM sent back is checked against the order without OpenSSL's key
 * import: same key, exactly the order's names (in any case and order). */
static void
test_cert_matches_order(void **state)
{
	const char *ids = "[{\"type\":\"dns\",\"value\":\"a.example\"},"
	                  "{\"type\":\"ip\",\"value\":\"192.0.2.1\"}]";
	char *csr =
	    csr_pem_of(k_p256, "a.example", "DNS:a.example,IP:192.0.2.1");
	char *good = leaf_pem_san(k_p256, "IP:192.0.2.1,DNS:A.Example");
	char *other_key = leaf_pem_san(k_p384, "DNS:a.example,IP:192.0.2.1");
	char *fewer = leaf_pem_san(k_p256, "DNS:a.example");
	char *more =
	    leaf_pem_san(k_p256, "DNS:a.example,IP:192.0.2.1,DNS:b.example");
	char why[300], *cn;

	(void)state;
	assert_int_equal(
	    acme_cert_matches_order(good, csr, ids, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(
	    acme_cert_matches_order(other_key, csr, ids, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "public key"));
	assert_int_equal(
	    acme_cert_matches_order(fewer, csr, ids, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "lacks the order's ip:192.0.2.1"));
	assert_int_equal(
	    acme_cert_matches_order(more, csr, ids, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "dns:b.example"));
	/* not a certificate, not a CSR */
	assert_int_equal(
	    acme_cert_matches_order(csr, csr, ids, why, sizeof(why)), -1);
	assert_int_equal(
	    acme_cert_matches_order(good, good, ids, why, sizeof(why)), -1);
	assert_int_equal(
	    acme_cert_matches_order("junk", csr, ids, why, sizeof(why)), -1);

	cn = acme_csr_pem_cn(csr);
	assert_non_null(cn);
	assert_string_equal(cn, "a.example");
	free(cn);
	free(csr);
	csr = csr_pem_of(k_p256, NULL, "DNS:a.example");
	assert_null(acme_csr_pem_cn(csr));
	assert_null(acme_csr_pem_cn(good));
	assert_null(acme_csr_pem_cn(NULL));
	free(csr);
	free(good);
	free(other_key);
	free(fewer);
	free(more);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_rsa),
	    cmocka_unit_test(test_good_ec),
	    cmocka_unit_test(test_ip_san),
	    cmocka_unit_test(test_bad_signature),
	    cmocka_unit_test(test_key_policy),
	    cmocka_unit_test(test_bad_encoding),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_cn_not_in_sans),
	    cmocka_unit_test(test_cert_info),
	    cmocka_unit_test(test_cert_matches_order),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
