/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/jws: flattened JWS parsing and verification with real
 * keys made here, JWK import/export, RFC 7638 thumbprints, EAB, tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/jws.h"
#include "contrib/b64url.h"

#define URL "https://acme.example/acme/new-acct"
/* RFC 7638 §3.2 canonical prefixes */
#define CANON_RSA "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7"
#define CANON_P256 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""
#define CANON_ED "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\""

/* Keys generated once for the whole group. */
static EVP_PKEY *k_rsa, *k_rsa1024, *k_p256, *k_p384, *k_p521, *k_ed;

struct alg_case {
	EVP_PKEY **key;
	const char *alg;
};

static const struct alg_case alg_cases[] = {
    {&k_rsa, "RS256"},
    {&k_p256, "ES256"},
    {&k_p384, "ES384"},
    {&k_ed, "EdDSA"},
};

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

/* ---- helpers: build JWS the way a client does ---- */

static char *
b64s(const char *s)
{
	return b64url_encode_alloc(s, strlen(s));
}

/* Sign input with key as JWS alg family of the key (r||s for ECDSA). */
static unsigned char *
sign_raw(EVP_PKEY *key, const char *input, size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = NULL;
	unsigned char *sig = NULL, *raw = NULL;
	size_t sig_len = 0;
	int type = EVP_PKEY_get_base_id(key);

	assert_non_null(ctx);
	if (type == EVP_PKEY_RSA)
		md = EVP_sha256();
	else if (type == EVP_PKEY_EC)
		md = EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &sig_len,
	                     (const unsigned char *)input, strlen(input)),
	    1);
	sig = malloc(sig_len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len,
	                     (const unsigned char *)input, strlen(input)),
	    1);
	EVP_MD_CTX_free(ctx);
	if (type == EVP_PKEY_EC) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		int half = (EVP_PKEY_get_bits(key) + 7) / 8;

		assert_non_null(es);
		raw = malloc((size_t)half * 2);
		assert_non_null(raw);
		assert_int_equal(
		    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half), half);
		assert_int_equal(
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half), half);
		ECDSA_SIG_free(es);
		free(sig);
		*out_len = (size_t)half * 2;
		return raw;
	}
	*out_len = sig_len;
	return sig;
}

/* Assemble a flattened JWS body from its three encoded parts, plus an
 * optional raw extra member text such as "\"header\":{}". */
static char *
body3(const char *prot, const char *pay, const char *sig, const char *extra)
{
	size_t n = strlen(prot) + strlen(pay) + strlen(sig) + 128 +
	    (extra != NULL ? strlen(extra) : 0);
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n,
	    "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\""
	    "%s%s}",
	    prot, pay, sig, extra != NULL ? "," : "",
	    extra != NULL ? extra : "");
	return out;
}

/* A JWS body with header hdr (taken: decref'd here) and payload text, signed
 * by key; the signature is mangled by mangle() when given. */
static char *
make_jws_ex(EVP_PKEY *key, json_t *hdr, const char *payload,
    void (*mangle)(unsigned char *, size_t *))
{
	char *hdr_txt, *prot, *pay, *input, *sig_b64, *body;
	unsigned char *sig;
	size_t sig_len, n;

	hdr_txt = json_dumps(hdr, JSON_COMPACT);
	assert_non_null(hdr_txt);
	json_decref(hdr);
	prot = b64s(hdr_txt);
	pay = b64s(payload);
	n = strlen(prot) + strlen(pay) + 2;
	input = malloc(n);
	assert_non_null(input);
	snprintf(input, n, "%s.%s", prot, pay);
	sig = sign_raw(key, input, &sig_len);
	if (mangle != NULL)
		mangle(sig, &sig_len);
	sig_b64 = b64url_encode_alloc(sig, sig_len);
	body = body3(prot, pay, sig_b64, NULL);
	free(hdr_txt);
	free(prot);
	free(pay);
	free(input);
	free(sig);
	free(sig_b64);
	return body;
}

static char *
make_jws(EVP_PKEY *key, json_t *hdr, const char *payload)
{
	return make_jws_ex(key, hdr, payload, NULL);
}

/* Header {"alg","nonce","url","jwk"} for key. */
static json_t *
hdr_jwk(EVP_PKEY *key, const char *alg)
{
	json_t *jwk = acme_jwk_from_pkey(key);

	assert_non_null(jwk);
	return json_pack("{s:s, s:s, s:s, s:o}", "alg", alg, "nonce", "nonce-1",
	    "url", URL, "jwk", jwk);
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

/* Parse must fail with the given problem, leaving jws empty. */
static void
expect_parse_fail(
    const char *body, int status, const char *type, const char *detail_part)
{
	struct acme_problem p;
	struct acme_jws jws;

	memset(&p, 0, sizeof(p));
	memset(&jws, 0x5a, sizeof(jws));
	assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &p), -1);
	assert_null(jws.hdr);
	assert_null(jws.payload);
	assert_null(jws.sig);
	assert_null(jws.signing_input);
	expect_prob(&p, status, type, detail_part);
	acme_jws_free(&jws);
}

/* The algorithms list of badSignatureAlgorithm. */
static void
expect_bad_alg(struct acme_problem *p)
{
	json_t *algs;

	assert_non_null(p->extra);
	algs = json_object_get(p->extra, "algorithms");
	assert_true(json_is_array(algs));
	assert_int_equal(json_array_size(algs), 4);
	assert_string_equal(
	    json_string_value(json_array_get(algs, 0)), "RS256");
	assert_string_equal(
	    json_string_value(json_array_get(algs, 3)), "EdDSA");
	expect_prob(p, 400, "badSignatureAlgorithm", NULL);
}

static void
expect_verify_fail(const char *body, EVP_PKEY *key, const char *type)
{
	struct acme_problem p;
	struct acme_jws jws;

	memset(&p, 0, sizeof(p));
	assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &p), 0);
	assert_int_equal(acme_jws_verify(&jws, key, &p), -1);
	if (strcmp(type, "badSignatureAlgorithm") == 0)
		expect_bad_alg(&p);
	else
		expect_prob(&p, 400, type, "JWS signature is invalid");
	acme_jws_free(&jws);
}

/* ---- good JWS ---- */

static void
test_each_alg_verifies(void **state)
{
	struct acme_problem p;
	struct acme_jws jws;
	EVP_PKEY *key;
	size_t i;
	char *body;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
		const char *payload = "{\"termsOfServiceAgreed\":true}";

		body = make_jws(*alg_cases[i].key,
		    hdr_jwk(*alg_cases[i].key, alg_cases[i].alg), payload);
		assert_int_equal(
		    acme_jws_parse(body, strlen(body), &jws, &p), 0);
		assert_string_equal(jws.alg, alg_cases[i].alg);
		assert_string_equal(jws.url, URL);
		assert_string_equal(jws.nonce, "nonce-1");
		assert_null(jws.kid);
		assert_non_null(jws.jwk);
		assert_int_equal(jws.payload_len, strlen(payload));
		assert_string_equal((char *)jws.payload, payload);
		/* the signing input is the two encoded parts */
		assert_int_equal(
		    strncmp(body + strlen("{\"protected\":\""),
		        jws.signing_input, strcspn(jws.signing_input, ".")),
		    0);
		key = acme_jwk_to_pkey(jws.jwk, &p);
		assert_non_null(key);
		assert_int_equal(EVP_PKEY_eq(key, *alg_cases[i].key), 1);
		assert_int_equal(acme_jws_verify(&jws, key, &p), 0);
		assert_null(p.type);
		EVP_PKEY_free(key);
		acme_jws_free(&jws);
		acme_jws_free(&jws); /* twice is fine */
		free(body);
	}
}

static void
test_kid_and_post_as_get(void **state)
{
	struct acme_problem p;
	struct acme_jws jws;
	json_t *hdr;
	size_t i;
	char *body;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
		hdr = json_pack("{s:s, s:s, s:s, s:s}", "alg", alg_cases[i].alg,
		    "nonce", "n2", "url", "https://acme.example/acme/order/1",
		    "kid", "https://acme.example/acme/acct/7");
		body = make_jws(*alg_cases[i].key, hdr, "");
		assert_int_equal(
		    acme_jws_parse(body, strlen(body), &jws, &p), 0);
		assert_string_equal(
		    jws.kid, "https://acme.example/acme/acct/7");
		assert_null(jws.jwk);
		assert_int_equal(jws.payload_len, 0);
		assert_non_null(jws.payload);
		assert_int_equal(jws.payload[0], '\0');
		assert_int_equal(
		    acme_jws_verify(&jws, *alg_cases[i].key, &p), 0);
		/* another key of the same type does not verify */
		if (i == 1) {
			EVP_PKEY *other =
			    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
			assert_int_equal(acme_jws_verify(&jws, other, &p), -1);
			expect_prob(&p, 400, "malformed", "invalid");
			EVP_PKEY_free(other);
		}
		acme_jws_free(&jws);
		free(body);
	}
}

static void
test_no_nonce_parses(void **state)
{
	struct acme_problem p;
	struct acme_jws jws;
	json_t *hdr;
	char *body;

	(void)state;
	memset(&p, 0, sizeof(p));
	/* nonce absence is the caller's badNonce, not a parse error */
	hdr = json_pack(
	    "{s:s, s:s, s:s}", "alg", "ES256", "url", URL, "kid", "k");
	body = make_jws(k_p256, hdr, "{}");
	assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &p), 0);
	assert_null(jws.nonce);
	acme_jws_free(&jws);
	free(body);
}

/* ---- malformed envelopes ---- */

static void
test_not_a_flat_jws(void **state)
{
	char *body,
	    *prot = b64s("{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":"
	                 "\"k\"}");

	(void)state;
	expect_parse_fail("", 400, "malformed", "not JSON");
	expect_parse_fail("not json", 400, "malformed", "not JSON");
	expect_parse_fail("{\"protected\":", 400, "malformed", "not JSON");
	expect_parse_fail("[]", 400, "malformed", NULL);
	expect_parse_fail(
	    "[\"a\",\"b\",\"c\"]", 400, "malformed", "not a JSON object");
	expect_parse_fail("\"abc\"", 400, "malformed", NULL);
	expect_parse_fail("{}", 400, "malformed", "no \"protected\"");

	/* missing members */
	body = malloc(512);
	assert_non_null(body);
	snprintf(
	    body, 512, "{\"protected\":\"%s\",\"signature\":\"AAAA\"}", prot);
	expect_parse_fail(body, 400, "malformed", "no \"payload\"");
	snprintf(body, 512, "{\"protected\":\"%s\",\"payload\":\"\"}", prot);
	expect_parse_fail(body, 400, "malformed", "no \"signature\"");
	snprintf(body, 512, "{\"payload\":\"\",\"signature\":\"AAAA\"}");
	expect_parse_fail(body, 400, "malformed", "no \"protected\"");
	/* members of the wrong type */
	snprintf(body, 512,
	    "{\"protected\":\"%s\",\"payload\":{},\"signature\":\"AAAA\"}",
	    prot);
	expect_parse_fail(body, 400, "malformed", "not a string");
	snprintf(body, 512,
	    "{\"protected\":1,\"payload\":\"\",\"signature\":\"AAAA\"}");
	expect_parse_fail(body, 400, "malformed", "not a string");
	snprintf(body, 512,
	    "{\"protected\":\"%s\",\"payload\":\"\",\"signature\":null}", prot);
	expect_parse_fail(body, 400, "malformed", "not a string");
	/* duplicate member */
	snprintf(body, 512,
	    "{\"protected\":\"%s\",\"payload\":\"\",\"payload\":\"\","
	    "\"signature\":\"AAAA\"}",
	    prot);
	expect_parse_fail(body, 400, "malformed", "not JSON");
	free(body);

	/* unprotected header and other extra members */
	body = body3(prot, "", "AAAA", "\"header\":{\"kid\":\"x\"}");
	expect_parse_fail(body, 400, "malformed", "unprotected header");
	free(body);
	body = body3(prot, "", "AAAA", "\"signatures\":[]");
	expect_parse_fail(body, 400, "malformed", "signatures");
	free(body);
	body = body3(prot, "", "AAAA", "\"x\":1");
	expect_parse_fail(body, 400, "malformed", "unexpected member");
	free(body);
	free(prot);
}

static void
test_bad_base64url(void **state)
{
	char *prot = b64s("{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":\"k\"}");
	char *padded, *body;
	size_t n = strlen(prot);

	(void)state;
	/* the encoded header has n % 4 != 0: add padding */
	assert_true(n % 4 != 0);
	padded = malloc(n + 4);
	assert_non_null(padded);
	snprintf(padded, n + 4, "%s%.*s", prot, (int)(4 - n % 4), "===");
	body = body3(padded, "", "AAAA", NULL);
	expect_parse_fail(body, 400, "malformed", "protected header");
	free(body);

	body = body3(prot, "e30=", "AAAA", NULL); /* "{}" padded */
	expect_parse_fail(body, 400, "malformed", "payload");
	free(body);
	body = body3(prot, "e3/9", "AAAA", NULL);
	expect_parse_fail(body, 400, "malformed", "payload");
	free(body);
	body = body3(prot, "e3+9", "AAAA", NULL);
	expect_parse_fail(body, 400, "malformed", "payload");
	free(body);
	body = body3(prot, "e30", "AA+A", NULL);
	expect_parse_fail(body, 400, "malformed", "signature");
	free(body);
	body = body3(prot, "e30", "AAA=", NULL);
	expect_parse_fail(body, 400, "malformed", "signature");
	free(body);
	body = body3(prot, "e30", "AB", NULL); /* non-canonical bits */
	expect_parse_fail(body, 400, "malformed", "signature");
	free(body);
	body = body3(prot, "e30", "", NULL);
	expect_parse_fail(body, 400, "malformed", "signature is empty");
	free(body);
	body = body3("", "e30", "AAAA", NULL);
	expect_parse_fail(body, 400, "malformed", "protected header is empty");
	free(body);
	body = body3("eyJhbGciOiJFUzI1NiJ9 ", "e30", "AAAA", NULL);
	expect_parse_fail(body, 400, "malformed", "protected header");
	free(body);
	free(padded);
	free(prot);
}

static void
test_protected_not_object(void **state)
{
	static const char *const hdrs[] = {"[1,2]", "not json", "\"str\"", "42",
	    "{\"alg\":\"ES256\",\"alg\":\"ES256\"}"};
	size_t i;
	char *prot, *body;

	(void)state;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		prot = b64s(hdrs[i]);
		body = body3(prot, "", "AAAA", NULL);
		expect_parse_fail(body, 400, "malformed",
		    "protected header is not a JSON object");
		free(body);
		free(prot);
	}
}

/* A JWS body signed by key with header from fmt (raw JSON text). */
static char *
jws_raw_hdr(EVP_PKEY *key, const char *hdr_text)
{
	json_error_t err;
	json_t *hdr = json_loads(hdr_text, 0, &err);

	assert_non_null(hdr);
	return make_jws(key, hdr, "{}");
}

static void
test_bad_alg(void **state)
{
	struct acme_problem p;
	struct acme_jws jws;
	static const char *const algs[] = {"none", "HS256", "HS512", "RS512",
	    "PS256", "ES512", "XYZ", "", "rs256"};
	size_t i;
	char txt[256], *body;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(txt, sizeof(txt),
		    "{\"alg\":\"%s\",\"url\":\"%s\",\"kid\":\"k\","
		    "\"nonce\":\"n\"}",
		    algs[i], URL);
		body = jws_raw_hdr(k_rsa, txt);
		memset(&jws, 0, sizeof(jws));
		assert_int_equal(
		    acme_jws_parse(body, strlen(body), &jws, &p), -1);
		assert_null(jws.hdr);
		expect_bad_alg(&p);
		free(body);
	}
	body = jws_raw_hdr(k_rsa, "{\"url\":\"u\",\"kid\":\"k\"}");
	expect_parse_fail(body, 400, "malformed", "alg");
	free(body);
	body = jws_raw_hdr(k_rsa, "{\"alg\":256,\"url\":\"u\",\"kid\":\"k\"}");
	expect_parse_fail(body, 400, "malformed", "alg");
	free(body);
}

static void
test_alg_key_mismatch(void **state)
{
	char *body;

	(void)state;
	/* ES256 header, signed and verified with a P-384 key */
	body = make_jws(k_p384, hdr_jwk(k_p384, "ES256"), "{}");
	expect_verify_fail(body, k_p384, "badSignatureAlgorithm");
	free(body);
	/* ES384 with a P-256 key */
	body = make_jws(k_p256, hdr_jwk(k_p256, "ES384"), "{}");
	expect_verify_fail(body, k_p256, "badSignatureAlgorithm");
	free(body);
	/* RS256 with an EC key */
	body = make_jws(k_p256, hdr_jwk(k_p256, "RS256"), "{}");
	expect_verify_fail(body, k_p256, "badSignatureAlgorithm");
	free(body);
	/* ES256 with an RSA key */
	body = make_jws(k_rsa, hdr_jwk(k_rsa, "ES256"), "{}");
	expect_verify_fail(body, k_rsa, "badSignatureAlgorithm");
	free(body);
	/* EdDSA with an RSA key, RS256 with Ed25519 */
	body = make_jws(k_rsa, hdr_jwk(k_rsa, "EdDSA"), "{}");
	expect_verify_fail(body, k_rsa, "badSignatureAlgorithm");
	free(body);
	body = make_jws(k_ed, hdr_jwk(k_ed, "RS256"), "{}");
	expect_verify_fail(body, k_ed, "badSignatureAlgorithm");
	free(body);
	/* a P-521 key fits no accepted algorithm */
	body = make_jws(k_p521,
	    json_pack(
	        "{s:s, s:s, s:s}", "alg", "ES256", "url", URL, "kid", "k"),
	    "{}");
	expect_verify_fail(body, k_p521, "badSignatureAlgorithm");
	free(body);
}

static void
test_header_members(void **state)
{
	char *body, txt[1024], *jwk_txt;
	json_t *jwk = acme_jwk_from_pkey(k_p256);

	(void)state;
	jwk_txt = json_dumps(jwk, JSON_COMPACT);
	assert_non_null(jwk_txt);
	snprintf(txt, sizeof(txt),
	    "{\"alg\":\"ES256\",\"url\":\"u\",\"jwk\":%s,\"kid\":\"k\"}",
	    jwk_txt);
	body = jws_raw_hdr(k_p256, txt);
	expect_parse_fail(body, 400, "malformed", "both");
	free(body);

	body = jws_raw_hdr(k_p256, "{\"alg\":\"ES256\",\"url\":\"u\"}");
	expect_parse_fail(body, 400, "malformed", "neither");
	free(body);
	body = jws_raw_hdr(
	    k_p256, "{\"alg\":\"ES256\",\"url\":\"u\",\"jwk\":\"key\"}");
	expect_parse_fail(body, 400, "malformed", "\"jwk\" is not an object");
	free(body);
	body =
	    jws_raw_hdr(k_p256, "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":7}");
	expect_parse_fail(body, 400, "malformed", "\"kid\" is not a string");
	free(body);
	body = jws_raw_hdr(
	    k_p256, "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":null}");
	expect_parse_fail(body, 400, "malformed", "\"kid\"");
	free(body);
	body = jws_raw_hdr(k_p256, "{\"alg\":\"ES256\",\"kid\":\"k\"}");
	expect_parse_fail(body, 400, "malformed", "\"url\"");
	free(body);
	body =
	    jws_raw_hdr(k_p256, "{\"alg\":\"ES256\",\"url\":1,\"kid\":\"k\"}");
	expect_parse_fail(body, 400, "malformed", "\"url\"");
	free(body);
	body = jws_raw_hdr(
	    k_p256, "{\"alg\":\"ES256\",\"url\":\"\",\"kid\":\"k\"}");
	expect_parse_fail(body, 400, "malformed", "\"url\"");
	free(body);
	body = jws_raw_hdr(k_p256,
	    "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":\"k\",\"nonce\":5}");
	expect_parse_fail(body, 400, "malformed", "nonce");
	free(body);
	body = jws_raw_hdr(k_p256,
	    "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":\"k\","
	    "\"crit\":[\"exp\"],\"exp\":1}");
	expect_parse_fail(body, 400, "malformed", "crit");
	free(body);
	body = jws_raw_hdr(k_p256,
	    "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":\"k\",\"b64\":false}");
	expect_parse_fail(body, 400, "malformed", "b64");
	free(body);
	free(jwk_txt);
	json_decref(jwk);
}

/* ---- bad signatures ---- */

static void
flip_first(unsigned char *sig, size_t *len)
{
	(void)len;
	sig[0] ^= 0x01;
}

static void
flip_last(unsigned char *sig, size_t *len)
{
	sig[*len - 1] ^= 0x80;
}

static void
drop_last(unsigned char *sig, size_t *len)
{
	(void)sig;
	(*len)--;
}

static void
zero_all(unsigned char *sig, size_t *len)
{
	memset(sig, 0, *len);
}

static void
test_bad_signatures(void **state)
{
	void (*mangles[])(unsigned char *, size_t *) = {
	    flip_first, flip_last, drop_last, zero_all};
	size_t i, m;
	char *body;

	(void)state;
	for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
		for (m = 0; m < sizeof(mangles) / sizeof(mangles[0]); m++) {
			body = make_jws_ex(*alg_cases[i].key,
			    hdr_jwk(*alg_cases[i].key, alg_cases[i].alg), "{}",
			    mangles[m]);
			expect_verify_fail(
			    body, *alg_cases[i].key, "malformed");
			free(body);
		}
	}
}

static void
test_wrong_signature_length(void **state)
{
	char *body, *prot, *hdr_txt, *sig;
	unsigned char raw[200];
	json_t *hdr;
	size_t i, lens[] = {63, 65, 96, 128};

	(void)state;
	memset(raw, 0x11, sizeof(raw));
	hdr = hdr_jwk(k_p256, "ES256");
	hdr_txt = json_dumps(hdr, JSON_COMPACT);
	prot = b64s(hdr_txt);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		sig = b64url_encode_alloc(raw, lens[i]);
		body = body3(prot, "e30", sig, NULL);
		expect_verify_fail(body, k_p256, "malformed");
		free(body);
		free(sig);
	}
	/* 64 bytes of garbage: right length, wrong value */
	sig = b64url_encode_alloc(raw, 64);
	body = body3(prot, "e30", sig, NULL);
	expect_verify_fail(body, k_p256, "malformed");
	free(body);
	free(sig);
	/* r = s = 0 */
	memset(raw, 0, sizeof(raw));
	sig = b64url_encode_alloc(raw, 64);
	body = body3(prot, "e30", sig, NULL);
	expect_verify_fail(body, k_p256, "malformed");
	free(body);
	free(sig);
	free(prot);
	free(hdr_txt);
	json_decref(hdr);
}

static void
test_flipped_payload(void **state)
{
	size_t i;
	char *body, *pos;

	(void)state;
	for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
		body = make_jws(*alg_cases[i].key,
		    hdr_jwk(*alg_cases[i].key, alg_cases[i].alg),
		    "{\"contact\":[\"mailto:a@example.org\"]}");
		/* change one character of the encoded payload */
		pos = strstr(body, "\"payload\":\"");
		assert_non_null(pos);
		pos += strlen("\"payload\":\"") + 4;
		*pos = *pos == 'A' ? 'B' : 'A';
		expect_verify_fail(body, *alg_cases[i].key, "malformed");
		free(body);
	}
}

/* ---- JWK import ---- */

static json_t *
jwk_of(EVP_PKEY *key)
{
	json_t *j = acme_jwk_from_pkey(key);

	assert_non_null(j);
	return j;
}

static void
expect_bad_jwk(json_t *jwk, const char *detail_part)
{
	struct acme_problem p;
	EVP_PKEY *key;

	memset(&p, 0, sizeof(p));
	key = acme_jwk_to_pkey(jwk, &p);
	assert_null(key);
	expect_prob(&p, 400, "badPublicKey", detail_part);
}

/* Re-encode member name of jwk after flipping one bit of byte idx. */
static void
flip_member(json_t *jwk, const char *name, size_t idx, unsigned char bit)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	size_t len = 0;
	unsigned char *bin = b64url_decode_alloc(s, strlen(s), &len);
	char *enc;

	assert_non_null(bin);
	assert_true(idx < len);
	bin[idx] ^= bit;
	enc = b64url_encode_alloc(bin, len);
	json_object_set_new(jwk, name, json_string(enc));
	free(enc);
	free(bin);
}

static void
test_jwk_roundtrip(void **state)
{
	EVP_PKEY *keys[] = {k_rsa, k_p256, k_p384, k_ed};
	struct acme_problem p;
	char tp1[44], tp2[44];
	EVP_PKEY *back;
	json_t *jwk;
	size_t i;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		jwk = jwk_of(keys[i]);
		back = acme_jwk_to_pkey(jwk, &p);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(back, keys[i]), 1);
		assert_int_equal(acme_jwk_thumbprint(jwk, tp1), 0);
		assert_int_equal(strlen(tp1), 43);
		json_decref(jwk);
		jwk = jwk_of(back);
		assert_int_equal(acme_jwk_thumbprint(jwk, tp2), 0);
		assert_string_equal(tp1, tp2);
		json_decref(jwk);
		EVP_PKEY_free(back);
	}
	/* different keys, different thumbprints */
	jwk = jwk_of(k_p256);
	assert_int_equal(acme_jwk_thumbprint(jwk, tp1), 0);
	json_decref(jwk);
	jwk = jwk_of(k_p384);
	assert_int_equal(acme_jwk_thumbprint(jwk, tp2), 0);
	json_decref(jwk);
	assert_string_not_equal(tp1, tp2);
	/* a P-521 key is not exported (not supported) */
	assert_null(acme_jwk_from_pkey(k_p521));
	assert_null(acme_jwk_from_pkey(NULL));
}

static void
test_jwk_refused(void **state)
{
	json_t *jwk;
	char *enc;
	unsigned char ff[48];

	(void)state;
	/* RSA 1024 */
	jwk = jwk_of(k_rsa1024);
	expect_bad_jwk(jwk, "1024 bits");
	json_decref(jwk);

	/* RSA modulus with a leading zero octet */
	jwk = jwk_of(k_rsa);
	{
		const char *n = json_string_value(json_object_get(jwk, "n"));
		size_t len = 0;
		unsigned char *bin = b64url_decode_alloc(n, strlen(n), &len);
		unsigned char *pad = malloc(len + 1);

		assert_non_null(bin);
		assert_non_null(pad);
		pad[0] = 0;
		memcpy(pad + 1, bin, len);
		enc = b64url_encode_alloc(pad, len + 1);
		json_object_set_new(jwk, "n", json_string(enc));
		free(enc);
		free(pad);
		free(bin);
	}
	expect_bad_jwk(jwk, "leading zero");
	json_decref(jwk);

	/* RSA without e, even modulus, exponent 1 */
	jwk = jwk_of(k_rsa);
	json_object_del(jwk, "e");
	expect_bad_jwk(jwk, "\"e\"");
	json_object_set_new(jwk, "e", json_string("AQ")); /* 1 */
	expect_bad_jwk(jwk, "exponent");
	/* e = 3 and e = 65539: only 65537 is accepted */
	json_object_set_new(jwk, "e", json_string("Aw"));
	expect_bad_jwk(jwk, "must be 65537");
	json_object_set_new(jwk, "e", json_string("AQAD"));
	expect_bad_jwk(jwk, "must be 65537");
	json_decref(jwk);
	jwk = jwk_of(k_rsa);
	flip_member(jwk, "n", 255, 0x01);
	expect_bad_jwk(jwk, "modulus is even");
	json_decref(jwk);

	/* private members */
	jwk = jwk_of(k_p256);
	json_object_set_new(jwk, "d", json_string("AAAA"));
	expect_bad_jwk(jwk, "\"d\"");
	json_decref(jwk);
	jwk = jwk_of(k_rsa);
	json_object_set_new(jwk, "p", json_string("AAAA"));
	expect_bad_jwk(jwk, "\"p\"");
	json_decref(jwk);
	jwk = json_pack("{s:s, s:s}", "kty", "oct", "k", "c2VjcmV0");
	expect_bad_jwk(jwk, "\"k\"");
	json_decref(jwk);

	/* EC point not on the curve */
	jwk = jwk_of(k_p256);
	flip_member(jwk, "y", 10, 0x04);
	expect_bad_jwk(jwk, "not on curve");
	json_decref(jwk);
	jwk = jwk_of(k_p384);
	flip_member(jwk, "x", 3, 0x10);
	expect_bad_jwk(jwk, "not on curve");
	json_decref(jwk);
	/* coordinate >= p */
	memset(ff, 0xff, sizeof(ff));
	jwk = jwk_of(k_p256);
	enc = b64url_encode_alloc(ff, 32);
	json_object_set_new(jwk, "x", json_string(enc));
	free(enc);
	expect_bad_jwk(jwk, "not on curve");
	json_decref(jwk);
	/* coordinate of the wrong length */
	jwk = jwk_of(k_p256);
	enc = b64url_encode_alloc(ff, 31);
	json_object_set_new(jwk, "y", json_string(enc));
	free(enc);
	expect_bad_jwk(jwk, "32 bytes");
	json_decref(jwk);
	/* P-384 coordinates labelled P-256 */
	jwk = jwk_of(k_p384);
	json_object_set_new(jwk, "crv", json_string("P-256"));
	expect_bad_jwk(jwk, "32 bytes");
	json_decref(jwk);
	/* curves and types we refuse */
	jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-521",
	    "x", "AAAA", "y", "AAAA");
	expect_bad_jwk(jwk, "P-521");
	json_decref(jwk);
	jwk = json_pack(
	    "{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed448", "x", "AAAA");
	expect_bad_jwk(jwk, "Ed448");
	json_decref(jwk);
	jwk = jwk_of(k_ed);
	json_object_set_new(jwk, "x", json_string("AAAA"));
	expect_bad_jwk(jwk, "32 bytes");
	json_decref(jwk);
	jwk = json_pack("{s:s}", "kty", "DSA");
	expect_bad_jwk(jwk, "DSA");
	json_decref(jwk);
	jwk = json_pack("{s:i}", "kty", 1);
	expect_bad_jwk(jwk, "key type");
	json_decref(jwk);
	jwk = json_array();
	expect_bad_jwk(jwk, "not a JSON object");
	json_decref(jwk);
}

static void
test_thumbprint_rfc7638(void **state)
{
	/* RFC 7638 §3.1 */
	static const char *const n =
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu"
	    "1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4H"
	    "c5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqz"
	    "s8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
	    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8a"
	    "wapJzKnqDKgw";
	struct acme_problem p;
	char tp[44], *canon;
	EVP_PKEY *key;
	json_t *jwk;

	(void)state;
	memset(&p, 0, sizeof(p));
	jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", n, "e",
	    "AQAB", "alg", "RS256", "kid", "2011-04-29");
	assert_non_null(jwk);
	assert_int_equal(acme_jwk_thumbprint(jwk, tp), 0);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	canon = acme_jwk_canonical(jwk);
	assert_non_null(canon);
	assert_int_equal(strncmp(canon, CANON_RSA, strlen(CANON_RSA)), 0);
	assert_null(strchr(canon, ' '));
	free(canon);
	/* it is a usable 2048-bit key too */
	key = acme_jwk_to_pkey(jwk, &p);
	assert_non_null(key);
	assert_int_equal(EVP_PKEY_get_bits(key), 2048);
	EVP_PKEY_free(key);
	json_decref(jwk);

	/* key authorization and dns-01 value built on that thumbprint */
	canon =
	    acme_key_authz("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", tp);
	assert_string_equal(canon,
	    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
	    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	acme_dns01_value(canon, tp);
	/* openssl dgst -sha256 -binary | basenc --base64url */
	assert_string_equal(tp, "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8");
	free(canon);
}

static void
test_canonical_ignores_form(void **state)
{
	char *c1, *c2;
	json_error_t err;
	json_t *a, *b;
	char *txt;

	(void)state;
	a = jwk_of(k_p256);
	txt = json_dumps(a, JSON_INDENT(3) | JSON_SORT_KEYS);
	b = json_loads(txt, 0, &err);
	free(txt);
	assert_non_null(b);
	json_object_set_new(b, "use", json_string("sig"));
	json_object_set_new(b, "kid", json_string("whatever"));
	c1 = acme_jwk_canonical(a);
	c2 = acme_jwk_canonical(b);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_string_equal(c1, c2);
	assert_int_equal(strncmp(c1, CANON_P256, strlen(CANON_P256)), 0);
	free(c1);
	free(c2);
	/* a value that would need escaping is not canonicalised */
	json_object_set_new(b, "x", json_string("ab\"c"));
	assert_null(acme_jwk_canonical(b));
	json_object_del(b, "x");
	assert_null(acme_jwk_canonical(b));
	json_decref(a);
	json_decref(b);

	a = jwk_of(k_ed);
	c1 = acme_jwk_canonical(a);
	assert_non_null(c1);
	assert_int_equal(strncmp(c1, CANON_ED, strlen(CANON_ED)), 0);
	free(c1);
	json_decref(a);
	a = json_pack("{s:s}", "kty", "oct");
	assert_null(acme_jwk_canonical(a));
	json_decref(a);
}

/* ---- EAB ---- */

/* An EAB JWS (json) over payload_txt, MAC'd with key using HS<bits>. */
static json_t *
make_eab(int bits, const char *kid, const char *url, const char *extra_hdr,
    const char *payload_txt, const unsigned char *key, size_t key_len)
{
	const EVP_MD *md = bits == 256 ? EVP_sha256()
	    : bits == 384              ? EVP_sha384()
	                               : EVP_sha512();
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char hdr[512], input[4096], *prot, *pay, *sig;
	json_t *eab;

	snprintf(hdr, sizeof(hdr),
	    "{\"alg\":\"HS%d\",\"kid\":\"%s\",\"url\":"
	    "\"%s\"%s}",
	    bits, kid, url, extra_hdr != NULL ? extra_hdr : "");
	prot = b64s(hdr);
	pay = b64s(payload_txt);
	snprintf(input, sizeof(input), "%s.%s", prot, pay);
	assert_non_null(HMAC(md, key, (int)key_len,
	    (const unsigned char *)input, strlen(input), mac, &mac_len));
	sig = b64url_encode_alloc(mac, mac_len);
	eab = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay,
	    "signature", sig);
	assert_non_null(eab);
	free(prot);
	free(pay);
	free(sig);
	return eab;
}

static const unsigned char hkey[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    32};

static void
test_eab_valid(void **state)
{
	int bits[] = {256, 384, 512};
	struct acme_problem p;
	char kid[64], *jwk_txt;
	json_t *outer, *eab;
	size_t i;

	(void)state;
	memset(&p, 0, sizeof(p));
	outer = jwk_of(k_p256);
	jwk_txt = json_dumps(outer, JSON_COMPACT);
	for (i = 0; i < 3; i++) {
		eab = make_eab(
		    bits[i], "kid-1", URL, NULL, jwk_txt, hkey, sizeof(hkey));
		memset(kid, 0, sizeof(kid));
		assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), 0);
		assert_string_equal(kid, "kid-1");
		assert_int_equal(
		    acme_eab_verify(eab, hkey, sizeof(hkey), URL, outer, &p),
		    0);
		assert_null(p.type);
		/* wrong HMAC key */
		assert_int_equal(acme_eab_verify(eab, hkey, sizeof(hkey) - 1,
		                     URL, outer, &p),
		    -1);
		expect_prob(&p, 401, "unauthorized", "signature is invalid");
		json_decref(eab);
	}
	free(jwk_txt);
	json_decref(outer);
}

static void
test_eab_key_as_key(void **state)
{
	struct acme_problem p;
	json_t *outer, *other, *eab;
	char *txt, kid[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	outer = jwk_of(k_rsa);
	/* acme.sh style: spaces, other member order */
	{
		const char *e = json_string_value(json_object_get(outer, "e"));
		const char *n = json_string_value(json_object_get(outer, "n"));
		size_t len = strlen(n) + 64;

		txt = malloc(len);
		assert_non_null(txt);
		snprintf(txt, len,
		    "{\"e\": \"%s\", \"kty\": \"RSA\", \"n\": \"%s\"}", e, n);
	}
	eab = make_eab(256, "acme-sh", URL, NULL, txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), 0);
	assert_int_equal(
	    acme_eab_verify(eab, hkey, sizeof(hkey), URL, outer, &p), 0);
	json_decref(eab);
	free(txt);

	/* the payload names another key */
	other = jwk_of(k_p256);
	txt = json_dumps(other, 0);
	eab = make_eab(256, "k", URL, NULL, txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), 0);
	assert_int_equal(
	    acme_eab_verify(eab, hkey, sizeof(hkey), URL, outer, &p), -1);
	expect_prob(&p, 401, "unauthorized", "not the account key");
	json_decref(eab);
	free(txt);
	json_decref(other);

	/* url mismatch */
	txt = json_dumps(outer, 0);
	eab = make_eab(256, "k", URL "x", NULL, txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), 0);
	assert_int_equal(
	    acme_eab_verify(eab, hkey, sizeof(hkey), URL, outer, &p), -1);
	expect_prob(&p, 401, "unauthorized", "url");
	json_decref(eab);

	/* empty HMAC key */
	eab = make_eab(256, "k", URL, NULL, txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_verify(eab, hkey, 0, URL, outer, &p), -1);
	expect_prob(&p, 401, "unauthorized", NULL);
	json_decref(eab);
	free(txt);
	json_decref(outer);
}

static void
test_eab_malformed(void **state)
{
	struct acme_problem p;
	json_t *outer, *eab;
	char *txt, kid[64], small[4];

	(void)state;
	memset(&p, 0, sizeof(p));
	outer = jwk_of(k_p256);
	txt = json_dumps(outer, JSON_COMPACT);

	/* nonce present */
	eab = make_eab(
	    256, "k", URL, ",\"nonce\":\"abc\"", txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", "nonce");
	assert_int_equal(
	    acme_eab_verify(eab, hkey, sizeof(hkey), URL, outer, &p), -1);
	expect_prob(&p, 400, "malformed", "nonce");
	json_decref(eab);

	/* kid does not fit the caller's buffer */
	eab = make_eab(256, "kid-1", URL, NULL, txt, hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, small, sizeof(small), &p), -1);
	expect_prob(&p, 400, "malformed", "too long");
	/* an unprotected header */
	json_object_set_new(eab, "header", json_object());
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", "unprotected");
	json_decref(eab);

	/* a non-MAC alg */
	{
		char *prot = b64s("{\"alg\":\"RS256\",\"kid\":\"k\",\"url\":"
		                  "\"" URL "\"}");
		char *pay = b64s(txt);

		eab = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload",
		    pay, "signature", "AAAA");
		assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
		expect_prob(&p, 400, "malformed", "HS256");
		json_decref(eab);
		free(prot);
		/* no kid */
		prot = b64s("{\"alg\":\"HS256\",\"url\":\"" URL "\"}");
		eab = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload",
		    pay, "signature", "AAAA");
		assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
		expect_prob(&p, 400, "malformed", "kid");
		json_decref(eab);
		free(prot);
		/* no url */
		prot = b64s("{\"alg\":\"HS256\",\"kid\":\"k\"}");
		eab = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload",
		    pay, "signature", "AAAA");
		assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
		expect_prob(&p, 400, "malformed", "url");
		json_decref(eab);
		free(prot);
		free(pay);
	}

	/* payload not a JWK */
	eab = make_eab(256, "k", URL, NULL, "\"hello\"", hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", "payload");
	json_decref(eab);
	eab = make_eab(
	    256, "k", URL, NULL, "{\"kty\":\"EC\"}", hkey, sizeof(hkey));
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", "payload");
	json_decref(eab);

	/* not an object at all */
	eab = json_string("x");
	assert_int_equal(acme_eab_parse(eab, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", "externalAccountBinding");
	json_decref(eab);
	assert_int_equal(acme_eab_parse(NULL, kid, sizeof(kid), &p), -1);
	expect_prob(&p, 400, "malformed", NULL);

	free(txt);
	json_decref(outer);
}

/* ---- tokens ---- */

static void
test_random_token(void **state)
{
	char *a, *b;

	(void)state;
	a = acme_random_token(32);
	b = acme_random_token(32);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(strlen(a), 43);
	assert_int_equal(strspn(a,
	                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                     "qrstuvwxyz0123456789-_"),
	    43);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	a = acme_random_token(16);
	assert_non_null(a);
	assert_int_equal(strlen(a), 22);
	free(a);
	assert_null(acme_random_token(0));
}

static void
test_free_zeroed(void **state)
{
	struct acme_jws jws;

	(void)state;
	memset(&jws, 0, sizeof(jws));
	acme_jws_free(&jws);
	acme_jws_free(&jws);
	acme_jws_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_alg_verifies),
	    cmocka_unit_test(test_kid_and_post_as_get),
	    cmocka_unit_test(test_no_nonce_parses),
	    cmocka_unit_test(test_not_a_flat_jws),
	    cmocka_unit_test(test_bad_base64url),
	    cmocka_unit_test(test_protected_not_object),
	    cmocka_unit_test(test_bad_alg),
	    cmocka_unit_test(test_alg_key_mismatch),
	    cmocka_unit_test(test_header_members),
	    cmocka_unit_test(test_bad_signatures),
	    cmocka_unit_test(test_wrong_signature_length),
	    cmocka_unit_test(test_flipped_payload),
	    cmocka_unit_test(test_jwk_roundtrip),
	    cmocka_unit_test(test_jwk_refused),
	    cmocka_unit_test(test_thumbprint_rfc7638),
	    cmocka_unit_test(test_canonical_ignores_form),
	    cmocka_unit_test(test_eab_valid),
	    cmocka_unit_test(test_eab_key_as_key),
	    cmocka_unit_test(test_eab_malformed),
	    cmocka_unit_test(test_random_token),
	    cmocka_unit_test(test_free_zeroed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
