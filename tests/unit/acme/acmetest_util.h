/* SPDX-License-Identifier: Apache-2.0 */
/* Header-only helpers for the acme/ unit tests: keys, ES256 JWS bodies, CSRs
 * and self-signed certificates made with OpenSSL, as an ACME client would. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/jws.h"
#include "contrib/b64url.h"

/* A new EC P-256 key; the caller EVP_PKEY_free()s it. */
static inline EVP_PKEY *
at_key_p256(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

/* base64url of a NUL-terminated string; caller frees. */
static inline char *
at_b64s(const char *s)
{
	char *out = b64url_encode_alloc(s, strlen(s));

	assert_non_null(out);
	return out;
}

/* ES256 signature (raw r||s, RFC 7518 §3.4) of input, base64url; caller
 * frees. */
static inline char *
at_sign_es256(EVP_PKEY *key, const char *input)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80], raw[64];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es;
	char *out;

	assert_non_null(md);
	assert_int_equal(
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &der_len,
	                     (const unsigned char *)input, strlen(input)),
	    1);
	EVP_MD_CTX_free(md);
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(es);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
	ECDSA_SIG_free(es);
	out = b64url_encode_alloc(raw, sizeof(raw));
	assert_non_null(out);
	return out;
}

/* "<a>.<b>" in a new string; caller frees. */
static inline char *
at_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n, "%s.%s", a, b);
	return out;
}

/* Flattened JWS JSON text from its three encoded parts; caller frees. */
static inline char *
at_flat(const char *prot, const char *pay, const char *sig)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload",
	    pay, "signature", sig);
	char *out;

	assert_non_null(o);
	out = json_dumps(o, JSON_COMPACT);
	assert_non_null(out);
	json_decref(o);
	return out;
}

/*
 * A flattened JWS signed with ES256 by key. Protected header: alg, url,
 * nonce (left out when NULL), and kid when kid is not NULL, else the key's
 * jwk. payload NULL = "" (POST-as-GET). Caller frees.
 */
static inline char *
at_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload)
{
	json_t *hdr = json_pack("{s:s, s:s}", "alg", "ES256", "url", url);
	char *hdr_s, *prot, *pay, *input, *sig, *body;

	assert_non_null(hdr);
	if (nonce != NULL)
		json_object_set_new(hdr, "nonce", json_string(nonce));
	if (kid != NULL) {
		json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		json_t *jwk = acme_jwk_from_pkey(key);
		assert_non_null(jwk);
		json_object_set_new(hdr, "jwk", jwk);
	}
	hdr_s = json_dumps(hdr, JSON_COMPACT);
	assert_non_null(hdr_s);
	json_decref(hdr);
	prot = at_b64s(hdr_s);
	pay = at_b64s(payload != NULL ? payload : "");
	input = at_join(prot, pay);
	sig = at_sign_es256(key, input);
	body = at_flat(prot, pay, sig);
	free(hdr_s);
	free(prot);
	free(pay);
	free(input);
	free(sig);
	return body;
}

/*
 * External Account Binding JWS (RFC 8555 §7.3.4) as a JSON object: HS256
 * over the account key's JWK with the MAC key mac/mac_len. Caller decrefs.
 */
static inline json_t *
at_eab(EVP_PKEY *acct_key, const char *eab_kid, const char *url,
    const unsigned char *mac, size_t mac_len)
{
	json_t *hdr = json_pack(
	    "{s:s, s:s, s:s}", "alg", "HS256", "kid", eab_kid, "url", url);
	json_t *jwk = acme_jwk_from_pkey(acct_key), *o;
	char *hdr_s, *jwk_s, *prot, *pay, *input, *sig;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	assert_non_null(hdr);
	assert_non_null(jwk);
	hdr_s = json_dumps(hdr, JSON_COMPACT);
	jwk_s = json_dumps(jwk, JSON_COMPACT);
	assert_non_null(hdr_s);
	assert_non_null(jwk_s);
	prot = at_b64s(hdr_s);
	pay = at_b64s(jwk_s);
	input = at_join(prot, pay);
	assert_non_null(HMAC(EVP_sha256(), mac, (int)mac_len,
	    (const unsigned char *)input, strlen(input), md, &md_len));
	sig = b64url_encode_alloc(md, md_len);
	assert_non_null(sig);
	o = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay,
	    "signature", sig);
	assert_non_null(o);
	json_decref(hdr);
	json_decref(jwk);
	free(hdr_s);
	free(jwk_s);
	free(prot);
	free(pay);
	free(input);
	free(sig);
	return o;
}

/* subjectAltName extension value "DNS:a,DNS:b" for names; caller frees. */
static inline char *
at_san_value(const char *const *names, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 5;
	s = calloc(1, len);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, "DNS:");
		strcat(s, names[i]);
	}
	return s;
}

/* A SHA-256 signed CSR for names (SAN) with CN cn (NULL: none), as the
 * base64url DER a finalize request carries; caller frees. */
static inline char *
at_csr_b64(EVP_PKEY *key, const char *const *names, size_t n, const char *cn)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subj = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	char *san = at_san_value(names, n), *out;
	int der_len;

	assert_non_null(req);
	assert_non_null(subj);
	assert_non_null(exts);
	if (cn != NULL)
		assert_int_equal(
		    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
		        (const unsigned char *)cn, -1, -1, 0),
		    1);
	assert_int_equal(X509_REQ_set_subject_name(req, subj), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_true(sk_X509_EXTENSION_push(exts, ext) > 0);
	assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	der_len = i2d_X509_REQ(req, &der);
	assert_true(der_len > 0);
	out = b64url_encode_alloc(der, (size_t)der_len);
	assert_non_null(out);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	free(san);
	return out;
}

/* A self-signed certificate over key for names, serial serial, valid from
 * nb to na (unix seconds), in PEM; caller frees. */
static inline char *
at_cert_pem(EVP_PKEY *key, const char *const *names, size_t n, long serial,
    long long nb, long long na)
{
	X509 *x = X509_new();
	X509_NAME *nm;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	BIO *bio = BIO_new(BIO_s_mem());
	char *san = at_san_value(names, n), *data, *out;
	long len;

	assert_non_null(x);
	assert_non_null(bio);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
	nm = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	                     (const unsigned char *)names[0], -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, nm), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	/* key identifiers, as CA-issued certificates carry (RFC 9773 needs
	 * the authority key identifier) */
	ext =
	    X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_authority_key_identifier, "keyid:always");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	len = BIO_get_mem_data(bio, &data);
	assert_true(len > 0);
	out = calloc(1, (size_t)len + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)len);
	BIO_free(bio);
	X509_free(x);
	free(san);
	return out;
}

/* base64url DER of the first certificate in pem (revokeCert); caller
 * frees. */
static inline char *
at_cert_der_b64(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	unsigned char *der = NULL;
	int len;
	char *out;

	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	out = b64url_encode_alloc(der, (size_t)len);
	assert_non_null(out);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return out;
}
