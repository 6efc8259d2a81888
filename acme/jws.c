/* SPDX-License-Identifier: Apache-2.0 */
/* Flattened JWS parsing and verification, JWK import, export and thumbprints,
 * external account binding and key authorizations (RFC 7515, 7517, 7518,
 * 7638, 8555). No I/O. */
#include "acme/jws.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "acme/keypolicy.h"
#include "contrib/b64url.h"
#include "contrib/log.h"

/* RSA modulus bound for reading account keys; the policy itself is
 * acme/keypolicy.c's, shared with CSR keys. */
#define RSA_MAX_BITS ACME_RSA_MAX_BITS
/* A public exponent wider than this is not a key anyone generates. */
#define RSA_MAX_E_BYTES 32

/* The signature algorithms we accept on the outer JWS. */
static const char *const supported_algs[] = {
    "RS256", "ES256", "ES384", "EdDSA"};

/* JWK members that only a private (or symmetric) key carries. */
static const char *const private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k"};

static void
set_bad_alg(struct acme_problem *prob, const char *alg, const char *why)
{
	acme_problem_set(prob, 400, "badSignatureAlgorithm",
	    "JWS algorithm \"%.32s\" %s; supported: RS256, ES256, ES384, EdDSA",
	    alg, why);
	prob->extra =
	    json_pack("{s:[s,s,s,s]}", "algorithms", supported_algs[0],
	        supported_algs[1], supported_algs[2], supported_algs[3]);
}

static int
alg_supported(const char *alg)
{
	size_t i;

	for (i = 0; i < sizeof(supported_algs) / sizeof(supported_algs[0]);
	     i++) {
		if (strcmp(alg, supported_algs[i]) == 0)
			return 1;
	}
	return 0;
}

/* The string value of member key, or NULL if absent or not a string. */
static const char *
get_str(const json_t *obj, const char *key, size_t *len)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return NULL;
	if (len != NULL)
		*len = json_string_length(v);
	return json_string_value(v);
}

/* Non-empty and only base64url characters (so safe to print in JSON). */
static int
is_b64url_text(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* A curve name made of letters, digits and '-' only. */
static int
is_crv_text(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 16)
		return 0;
	for (; *s != '\0'; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

void
acme_jws_free(struct acme_jws *jws)
{
	if (jws == NULL)
		return;
	json_decref(jws->hdr);
	free(jws->payload);
	free(jws->signing_input);
	free(jws->sig);
	memset(jws, 0, sizeof(*jws));
}

/*
 * Decode a flattened JWS object {"protected","payload","signature"} into jws:
 * the header as a JSON object, the payload bytes, the signature bytes and the
 * signing input. Header members are not looked at here. what names the
 * object in problem details.
 */
static int
flat_decode(const json_t *obj, const char *what, struct acme_jws *jws,
    struct acme_problem *prob)
{
	static const char *const members[] = {
	    "protected", "payload", "signature"};
	const char *val[3];
	size_t len[3];
	unsigned char *hdr_raw = NULL;
	size_t hdr_len = 0, i;
	json_error_t jerr;
	int rc = -1;

	memset(jws, 0, sizeof(*jws));
	if (!json_is_object(obj)) {
		acme_problem_set(
		    prob, 400, "malformed", "%s is not a JSON object", what);
		goto out;
	}
	for (i = 0; i < 3; i++) {
		if (json_object_get(obj, members[i]) == NULL) {
			acme_problem_set(prob, 400, "malformed",
			    "%s has no \"%s\" member", what, members[i]);
			goto out;
		}
		val[i] = get_str(obj, members[i], &len[i]);
		if (val[i] == NULL) {
			acme_problem_set(prob, 400, "malformed",
			    "%s member \"%s\" is not a string", what,
			    members[i]);
			goto out;
		}
	}
	if (json_object_size(obj) != 3) {
		/* RFC 8555 §6.2: no unprotected header ("header"), and
		 * only the flattened serialization ("signatures" refused). */
		const char *key = NULL, *unknown = "?";
		json_t *v;

		/* jansson's iteration is not const-correct; read only */
		json_object_foreach((json_t *)obj, key, v) {
			if (strcmp(key, "protected") != 0 &&
			    strcmp(key, "payload") != 0 &&
			    strcmp(key, "signature") != 0) {
				unknown = key;
				break;
			}
		}
		if (strcmp(unknown, "header") == 0)
			acme_problem_set(prob, 400, "malformed",
			    "%s has an unprotected header; RFC 8555 "
			    "§6.2 forbids it",
			    what);
		else
			acme_problem_set(prob, 400, "malformed",
			    "%s has an unexpected member \"%.64s\"", what,
			    unknown);
		goto out;
	}

	/* protected header */
	if (len[0] == 0) {
		acme_problem_set(prob, 400, "malformed",
		    "%s protected header is empty", what);
		goto out;
	}
	hdr_raw = b64url_decode_alloc(val[0], len[0], &hdr_len);
	if (hdr_raw == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "%s protected header is not valid base64url", what);
		goto out;
	}
	jws->hdr = json_loadb(
	    (const char *)hdr_raw, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(jws->hdr)) {
		acme_problem_set(prob, 400, "malformed",
		    "%s protected header is not a JSON object", what);
		goto out;
	}

	/* payload: "" is a POST-as-GET (RFC 8555 §6.3) */
	jws->payload = b64url_decode_alloc(val[1], len[1], &jws->payload_len);
	if (jws->payload == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "%s payload is not valid base64url", what);
		goto out;
	}
	/* b64url_decode_alloc leaves room for the terminator */
	jws->payload[jws->payload_len] = '\0';

	jws->sig = b64url_decode_alloc(val[2], len[2], &jws->sig_len);
	if (jws->sig == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "%s signature is not valid base64url", what);
		goto out;
	}

	jws->signing_input = malloc(len[0] + len[1] + 2);
	if (jws->signing_input == NULL) {
		acme_problem_set(prob, 500, "serverInternal", "out of memory");
		goto out;
	}
	memcpy(jws->signing_input, val[0], len[0]);
	jws->signing_input[len[0]] = '.';
	memcpy(jws->signing_input + len[0] + 1, val[1], len[1]);
	jws->signing_input[len[0] + 1 + len[1]] = '\0';
	rc = 0;
out:
	free(hdr_raw);
	if (rc != 0)
		acme_jws_free(jws);
	return rc;
}

int
acme_jws_parse(const char *body, size_t len, struct acme_jws *jws,
    struct acme_problem *prob)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	int rc = -1;

	memset(jws, 0, sizeof(*jws));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "request body is not JSON: %s", jerr.text);
		goto out;
	}
	if (flat_decode(root, "JWS", jws, prob) != 0)
		goto out;

	v = json_object_get(jws->hdr, "alg");
	if (!json_is_string(v)) {
		acme_problem_set(prob, 400, "malformed",
		    "JWS protected header has no \"alg\" string");
		goto out;
	}
	jws->alg = json_string_value(v);
	if (strcmp(jws->alg, "none") == 0) {
		set_bad_alg(prob, jws->alg, "is not allowed (RFC 8555 §6.2)");
		goto out;
	}
	if (strncmp(jws->alg, "HS", 2) == 0) {
		set_bad_alg(
		    prob, jws->alg, "is a MAC and not allowed (RFC 8555 §6.2)");
		goto out;
	}
	if (!alg_supported(jws->alg)) {
		set_bad_alg(prob, jws->alg, "is not supported");
		goto out;
	}
	/* after "alg": an unsecured JWS ("none") has no signature */
	if (jws->sig_len == 0) {
		acme_problem_set(
		    prob, 400, "malformed", "JWS signature is empty");
		goto out;
	}
	/* RFC 7515 §4.1.11: we understand no extension, so any "crit" must
	 * be refused; RFC 7797 "b64" changes the signing input. */
	if (json_object_get(jws->hdr, "crit") != NULL ||
	    json_object_get(jws->hdr, "b64") != NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "JWS protected header uses \"crit\" or \"b64\", which "
		    "are not supported");
		goto out;
	}

	v = json_object_get(jws->hdr, "url");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		acme_problem_set(prob, 400, "malformed",
		    "JWS protected header has no \"url\" string");
		goto out;
	}
	jws->url = json_string_value(v);

	v = json_object_get(jws->hdr, "nonce");
	if (v != NULL) {
		if (!json_is_string(v)) {
			acme_problem_set(prob, 400, "malformed",
			    "JWS protected header \"nonce\" is not a string");
			goto out;
		}
		jws->nonce = json_string_value(v);
	}

	/* RFC 8555 §6.2: exactly one of "jwk" and "kid" */
	v = json_object_get(jws->hdr, "jwk");
	if (v != NULL && json_object_get(jws->hdr, "kid") != NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "JWS protected header has both \"jwk\" and \"kid\"");
		goto out;
	}
	if (v != NULL) {
		if (!json_is_object(v)) {
			acme_problem_set(prob, 400, "malformed",
			    "JWS protected header \"jwk\" is not an object");
			goto out;
		}
		jws->jwk = v;
	} else {
		v = json_object_get(jws->hdr, "kid");
		if (v == NULL) {
			acme_problem_set(prob, 400, "malformed",
			    "JWS protected header has neither \"jwk\" nor "
			    "\"kid\"");
			goto out;
		}
		if (!json_is_string(v) || json_string_length(v) == 0) {
			acme_problem_set(prob, 400, "malformed",
			    "JWS protected header \"kid\" is not a string");
			goto out;
		}
		jws->kid = json_string_value(v);
	}
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		acme_jws_free(jws);
	return rc;
}

/* Decode a base64url JWK member into a BIGNUM; refuses leading zero octets
 * (RFC 7518 §6.3.1.1) so that the text form of a key is unique. */
static BIGNUM *
jwk_bn(const json_t *jwk, const char *name, size_t max_bytes, size_t *nbytes)
{
	const char *s;
	size_t slen, blen = 0;
	unsigned char *bin = NULL;
	BIGNUM *bn = NULL;

	s = get_str(jwk, name, &slen);
	if (s == NULL || slen == 0 || slen > (max_bytes * 4 + 2) / 3)
		return NULL;
	bin = b64url_decode_alloc(s, slen, &blen);
	if (bin == NULL || blen == 0 || bin[0] == 0)
		goto out;
	bn = BN_bin2bn(bin, (int)blen, NULL);
	if (nbytes != NULL)
		*nbytes = blen;
out:
	free(bin);
	return bn;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	params = OSSL_PARAM_BLD_to_param(bld);
	if (params == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *
rsa_from_jwk(const json_t *jwk, struct acme_problem *prob)
{
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	char why[160];

	n = jwk_bn(jwk, "n", RSA_MAX_BITS / 8, NULL);
	e = jwk_bn(jwk, "e", RSA_MAX_E_BYTES, NULL);
	if (n == NULL || e == NULL) {
		acme_problem_set(prob, 400, "badPublicKey",
		    "RSA JWK needs \"n\" and \"e\" as base64url without "
		    "leading zero octets, at most %d bits",
		    RSA_MAX_BITS);
		goto out;
	}
	if (acme_rsa_key_check(n, e, why, sizeof(why)) != 0) {
		acme_problem_set(
		    prob, 400, "badPublicKey", "account key refused: %s", why);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
		log_crypto_err("jwk: OSSL_PARAM_BLD");
		acme_problem_set(
		    prob, 500, "serverInternal", "cannot import the key");
		goto out;
	}
	pkey = pkey_fromdata("RSA", bld);
	if (pkey == NULL) {
		ERR_clear_error();
		acme_problem_set(
		    prob, 400, "badPublicKey", "RSA key is not valid");
	}
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/* Decode a fixed-size base64url coordinate into out. */
static int
jwk_fixed(const json_t *jwk, const char *name, unsigned char *out, size_t want)
{
	const char *s;
	size_t slen;

	s = get_str(jwk, name, &slen);
	/* RFC 7518 §6.2.1.2: the full coordinate size, no more, no less */
	if (s == NULL || slen != b64url_enc_len(want))
		return -1;
	if (b64url_decode(s, slen, out) != (long)want)
		return -1;
	return 0;
}

static EVP_PKEY *
ec_from_jwk(const json_t *jwk, struct acme_problem *prob)
{
	unsigned char pt[1 + 2 * 48 + 4];
	const char *crv, *group;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *cctx = NULL;
	EVP_PKEY *pkey = NULL;
	size_t flen;

	crv = get_str(jwk, "crv", NULL);
	if (crv != NULL && strcmp(crv, "P-256") == 0) {
		group = "prime256v1";
		flen = 32;
	} else if (crv != NULL && strcmp(crv, "P-384") == 0) {
		group = "secp384r1";
		flen = 48;
	} else {
		acme_problem_set(prob, 400, "badPublicKey",
		    "EC curve \"%.16s\" refused; P-256 and P-384 allowed",
		    crv != NULL ? crv : "(none)");
		goto out;
	}
	pt[0] = 0x04; /* uncompressed point */
	if (jwk_fixed(jwk, "x", pt + 1, flen) != 0 ||
	    jwk_fixed(jwk, "y", pt + 1 + flen, flen) != 0) {
		acme_problem_set(prob, 400, "badPublicKey",
		    "EC JWK needs \"x\" and \"y\" of %zu bytes each", flen);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(
	        bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(
	        bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * flen)) {
		log_crypto_err("jwk: OSSL_PARAM_BLD");
		acme_problem_set(
		    prob, 500, "serverInternal", "cannot import the key");
		goto out;
	}
	pkey = pkey_fromdata("EC", bld);
	if (pkey != NULL) {
		/* on the curve, in range, of the right order */
		cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (cctx == NULL || EVP_PKEY_public_check(cctx) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	if (pkey == NULL) {
		ERR_clear_error();
		acme_problem_set(prob, 400, "badPublicKey",
		    "EC point is not on curve %s", crv);
	}
out:
	EVP_PKEY_CTX_free(cctx);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *
okp_from_jwk(const json_t *jwk, struct acme_problem *prob)
{
	unsigned char x[32];
	const char *crv;
	EVP_PKEY *pkey = NULL;

	crv = get_str(jwk, "crv", NULL);
	if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
		acme_problem_set(prob, 400, "badPublicKey",
		    "OKP curve \"%.16s\" refused; Ed25519 allowed",
		    crv != NULL ? crv : "(none)");
		return NULL;
	}
	if (jwk_fixed(jwk, "x", x, sizeof(x)) != 0) {
		acme_problem_set(prob, 400, "badPublicKey",
		    "Ed25519 JWK needs \"x\" of 32 bytes");
		return NULL;
	}
	pkey =
	    EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x));
	if (pkey == NULL) {
		ERR_clear_error();
		acme_problem_set(
		    prob, 400, "badPublicKey", "Ed25519 key is not valid");
	}
	return pkey;
}

EVP_PKEY *
acme_jwk_to_pkey(const json_t *jwk, struct acme_problem *prob)
{
	const char *kty;
	size_t i;

	if (!json_is_object(jwk)) {
		acme_problem_set(
		    prob, 400, "badPublicKey", "JWK is not a JSON object");
		return NULL;
	}
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]);
	     i++) {
		if (json_object_get(jwk, private_members[i]) != NULL) {
			acme_problem_set(prob, 400, "badPublicKey",
			    "JWK holds private key member \"%s\"; send the "
			    "public key only",
			    private_members[i]);
			return NULL;
		}
	}
	kty = get_str(jwk, "kty", NULL);
	if (kty != NULL && strcmp(kty, "RSA") == 0)
		return rsa_from_jwk(jwk, prob);
	if (kty != NULL && strcmp(kty, "EC") == 0)
		return ec_from_jwk(jwk, prob);
	if (kty != NULL && strcmp(kty, "OKP") == 0)
		return okp_from_jwk(jwk, prob);
	acme_problem_set(prob, 400, "badPublicKey",
	    "JWK key type \"%.16s\" refused; RSA, EC and OKP allowed",
	    kty != NULL ? kty : "(none)");
	return NULL;
}

char *
acme_jwk_canonical(const json_t *jwk)
{
	const char *kty, *a, *b, *c;
	size_t n;
	char *out;

	/* RFC 7638 §3.2: the required members only, in lexicographic
	 * order, no whitespace; our values need no escaping (checked). */
	kty = get_str(jwk, "kty", NULL);
	if (kty == NULL)
		return NULL;
	if (strcmp(kty, "RSA") == 0) {
		a = get_str(jwk, "e", NULL);
		b = get_str(jwk, "n", NULL);
		if (!is_b64url_text(a) || !is_b64url_text(b))
			return NULL;
		n = strlen(a) + strlen(b) + 32;
		out = malloc(n);
		if (out != NULL)
			snprintf(out, n,
			    "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a,
			    b);
		return out;
	}
	if (strcmp(kty, "EC") == 0) {
		a = get_str(jwk, "crv", NULL);
		b = get_str(jwk, "x", NULL);
		c = get_str(jwk, "y", NULL);
		if (!is_crv_text(a) || !is_b64url_text(b) || !is_b64url_text(c))
			return NULL;
		n = strlen(a) + strlen(b) + strlen(c) + 40;
		out = malloc(n);
		if (out != NULL)
			snprintf(out, n,
			    "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\","
			    "\"y\":\"%s\"}",
			    a, b, c);
		return out;
	}
	if (strcmp(kty, "OKP") == 0) {
		a = get_str(jwk, "crv", NULL);
		b = get_str(jwk, "x", NULL);
		if (!is_crv_text(a) || !is_b64url_text(b))
			return NULL;
		n = strlen(a) + strlen(b) + 40;
		out = malloc(n);
		if (out != NULL)
			snprintf(out, n,
			    "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", a,
			    b);
		return out;
	}
	return NULL;
}

int
acme_jwk_thumbprint(const json_t *jwk, char out[44])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *canon;

	canon = acme_jwk_canonical(jwk);
	if (canon == NULL)
		return -1;
	SHA256((const unsigned char *)canon, strlen(canon), md);
	free(canon);
	b64url_encode(md, sizeof(md), out);
	return 0;
}

/* Set member name of obj to base64url of a big-endian number padded to
 * pad bytes (0 = minimal). */
static int
set_bn(json_t *obj, const char *name, const BIGNUM *bn, int pad)
{
	unsigned char *bin = NULL;
	char *txt = NULL;
	int len, rc = -1;

	len = pad > 0 ? pad : BN_num_bytes(bn);
	if (len <= 0)
		len = 1;
	bin = malloc((size_t)len);
	if (bin == NULL || BN_bn2binpad(bn, bin, len) != len)
		goto out;
	txt = b64url_encode_alloc(bin, (size_t)len);
	if (txt == NULL)
		goto out;
	if (json_object_set_new(obj, name, json_string(txt)) != 0)
		goto out;
	rc = 0;
out:
	free(bin);
	free(txt);
	return rc;
}

/* NID of the EC key's group, or NID_undef. */
static int
ec_nid(const EVP_PKEY *key)
{
	char name[64];
	size_t len = 0;

	if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
		return NID_undef;
	return OBJ_txt2nid(name);
}

json_t *
acme_jwk_from_pkey(EVP_PKEY *key)
{
	BIGNUM *a = NULL, *b = NULL;
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	json_t *jwk = NULL;
	char *txt = NULL;
	int ok = 0;

	if (key == NULL)
		return NULL;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a) !=
		        1 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b) != 1)
			goto out;
		jwk = json_pack("{s:s}", "kty", "RSA");
		if (jwk == NULL || set_bn(jwk, "n", a, 0) != 0 ||
		    set_bn(jwk, "e", b, 0) != 0)
			goto out;
		break;
	case EVP_PKEY_EC: {
		int nid = ec_nid(key), flen;
		const char *crv;

		if (nid == NID_X9_62_prime256v1) {
			crv = "P-256";
			flen = 32;
		} else if (nid == NID_secp384r1) {
			crv = "P-384";
			flen = 48;
		} else {
			goto out;
		}
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a) !=
		        1 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b) !=
		        1)
			goto out;
		jwk = json_pack("{s:s, s:s}", "kty", "EC", "crv", crv);
		if (jwk == NULL || set_bn(jwk, "x", a, flen) != 0 ||
		    set_bn(jwk, "y", b, flen) != 0)
			goto out;
		break;
	}
	case EVP_PKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 ||
		    rawlen != sizeof(raw))
			goto out;
		txt = b64url_encode_alloc(raw, rawlen);
		if (txt == NULL)
			goto out;
		jwk = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv",
		    "Ed25519", "x", txt);
		if (jwk == NULL)
			goto out;
		break;
	default:
		goto out;
	}
	ok = 1;
out:
	if (!ok) {
		ERR_clear_error();
		json_decref(jwk);
		jwk = NULL;
	}
	BN_free(a);
	BN_free(b);
	free(txt);
	return jwk;
}

/* The JWS alg a key signs with, or NULL if the key is not one we take. */
static const char *
key_alg(const EVP_PKEY *key, size_t *ec_half)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return "RS256";
	case EVP_PKEY_EC:
		switch (ec_nid(key)) {
		case NID_X9_62_prime256v1:
			*ec_half = 32;
			return "ES256";
		case NID_secp384r1:
			*ec_half = 48;
			return "ES384";
		default:
			return NULL;
		}
	case EVP_PKEY_ED25519:
		return "EdDSA";
	default:
		return NULL;
	}
}

/* RFC 7518 §3.4: a JWS ECDSA signature is r || s, each half bytes; OpenSSL
 * wants DER. Returns an OPENSSL_malloc'd DER signature or NULL. */
static unsigned char *
ecdsa_raw_to_der(const unsigned char *sig, size_t half, size_t *der_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int n;

	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if (es == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es now */
	n = i2d_ECDSA_SIG(es, &der);
	if (n <= 0) {
		der = NULL;
		goto out;
	}
	*der_len = (size_t)n;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return der;
}

int
acme_jws_verify(
    const struct acme_jws *jws, EVP_PKEY *key, struct acme_problem *prob)
{
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	const unsigned char *sig;
	const char *want;
	size_t sig_len, half = 0;
	int rc = -1;

	if (jws == NULL || jws->alg == NULL || jws->signing_input == NULL ||
	    key == NULL) {
		acme_problem_set(prob, 500, "serverInternal",
		    "JWS verification without a parsed JWS or key");
		return -1;
	}
	want = key_alg(key, &half);
	if (want == NULL) {
		set_bad_alg(prob, jws->alg, "does not fit the key type");
		return -1;
	}
	if (strcmp(jws->alg, want) != 0) {
		set_bad_alg(prob, jws->alg, "does not fit the key type");
		return -1;
	}
	sig = jws->sig;
	sig_len = jws->sig_len;
	if (half != 0) {
		if (sig_len != 2 * half)
			goto bad;
		der = ecdsa_raw_to_der(jws->sig, half, &sig_len);
		if (der == NULL)
			goto bad;
		sig = der;
	}
	if (strcmp(want, "ES384") == 0)
		md = EVP_sha384();
	else if (strcmp(want, "EdDSA") != 0)
		md = EVP_sha256();

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1) {
		log_crypto_err("jws: EVP_DigestVerifyInit");
		acme_problem_set(prob, 500, "serverInternal",
		    "cannot verify the JWS signature");
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, sig_len,
	        (const unsigned char *)jws->signing_input,
	        strlen(jws->signing_input)) != 1)
		goto bad;
	rc = 0;
	goto out;
bad:
	ERR_clear_error();
	acme_problem_set(prob, 400, "malformed", "JWS signature is invalid");
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

/*
 * Decode and check an EAB JWS: header alg HS256/384/512, kid, url, no nonce;
 * payload a JWK object. On success fills jws, *md and *payload_jwk (owned).
 */
static int
eab_decode(const json_t *eab, struct acme_jws *jws, const EVP_MD **md,
    json_t **payload_jwk, struct acme_problem *prob)
{
	json_error_t jerr;
	const char *alg;
	json_t *pl = NULL;
	char *canon = NULL;
	int rc = -1;

	if (flat_decode(eab, "externalAccountBinding", jws, prob) != 0)
		return -1;
	alg = get_str(jws->hdr, "alg", NULL);
	if (alg != NULL && strcmp(alg, "HS256") == 0)
		*md = EVP_sha256();
	else if (alg != NULL && strcmp(alg, "HS384") == 0)
		*md = EVP_sha384();
	else if (alg != NULL && strcmp(alg, "HS512") == 0)
		*md = EVP_sha512();
	else {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding \"alg\" must be HS256, HS384 or "
		    "HS512");
		goto out;
	}
	jws->alg = alg;
	jws->kid = get_str(jws->hdr, "kid", NULL);
	if (jws->kid == NULL || *jws->kid == '\0') {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding has no \"kid\" string");
		goto out;
	}
	jws->url = get_str(jws->hdr, "url", NULL);
	if (jws->url == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding has no \"url\" string");
		goto out;
	}
	/* RFC 8555 §7.3.4: "nonce" MUST NOT be present */
	if (json_object_get(jws->hdr, "nonce") != NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding must not carry a \"nonce\"");
		goto out;
	}
	if (json_object_get(jws->hdr, "crit") != NULL ||
	    json_object_get(jws->hdr, "b64") != NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding uses \"crit\" or \"b64\", which "
		    "are not supported");
		goto out;
	}
	pl = json_loadb((const char *)jws->payload, jws->payload_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	canon = json_is_object(pl) ? acme_jwk_canonical(pl) : NULL;
	if (canon == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding payload is not a public JWK");
		goto out;
	}
	*payload_jwk = pl;
	pl = NULL;
	rc = 0;
out:
	free(canon);
	json_decref(pl);
	if (rc != 0)
		acme_jws_free(jws);
	return rc;
}

int
acme_eab_parse(
    const json_t *eab, char *kid_out, size_t kid_len, struct acme_problem *prob)
{
	struct acme_jws jws;
	const EVP_MD *md = NULL;
	json_t *pl = NULL;
	int rc = -1;

	if (eab_decode(eab, &jws, &md, &pl, prob) != 0)
		return -1;
	if (strlen(jws.kid) >= kid_len) {
		acme_problem_set(prob, 400, "malformed",
		    "externalAccountBinding \"kid\" is too long");
		goto out;
	}
	memcpy(kid_out, jws.kid, strlen(jws.kid) + 1);
	rc = 0;
out:
	json_decref(pl);
	acme_jws_free(&jws);
	return rc;
}

int
acme_eab_verify(const json_t *eab, const unsigned char *hmac_key,
    size_t key_len, const char *url, const json_t *outer_jwk,
    struct acme_problem *prob)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	struct acme_jws jws;
	const EVP_MD *md = NULL;
	json_t *pl = NULL;
	char *c_inner = NULL, *c_outer = NULL;
	int rc = -1;

	if (eab_decode(eab, &jws, &md, &pl, prob) != 0)
		return -1;
	if (url == NULL || strcmp(jws.url, url) != 0) {
		acme_problem_set(prob, 401, "unauthorized",
		    "externalAccountBinding \"url\" does not match the "
		    "request url");
		goto out;
	}
	/* compare as keys: clients (acme.sh) format the payload freely */
	c_inner = acme_jwk_canonical(pl);
	c_outer = acme_jwk_canonical(outer_jwk);
	if (c_inner == NULL || c_outer == NULL ||
	    strcmp(c_inner, c_outer) != 0) {
		acme_problem_set(prob, 401, "unauthorized",
		    "externalAccountBinding key is not the account key");
		goto out;
	}
	if (hmac_key == NULL || key_len == 0 ||
	    HMAC(md, hmac_key, (int)key_len,
	        (const unsigned char *)jws.signing_input,
	        strlen(jws.signing_input), mac, &mac_len) == NULL) {
		ERR_clear_error();
		acme_problem_set(prob, 401, "unauthorized",
		    "externalAccountBinding cannot be verified");
		goto out;
	}
	if (jws.sig_len != mac_len ||
	    CRYPTO_memcmp(jws.sig, mac, mac_len) != 0) {
		acme_problem_set(prob, 401, "unauthorized",
		    "externalAccountBinding signature is invalid");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	free(c_inner);
	free(c_outer);
	json_decref(pl);
	acme_jws_free(&jws);
	return rc;
}

char *
acme_key_authz(const char *token, const char *thumbprint)
{
	size_t a = strlen(token), b = strlen(thumbprint);
	char *out = malloc(a + b + 2);

	if (out == NULL)
		return NULL;
	memcpy(out, token, a);
	out[a] = '.';
	memcpy(out + a + 1, thumbprint, b + 1);
	return out;
}

void
acme_dns01_value(const char *key_authz, char out[44])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	/* RFC 8555 §8.4 */
	SHA256((const unsigned char *)key_authz, strlen(key_authz), md);
	b64url_encode(md, sizeof(md), out);
}

char *
acme_random_token(size_t nbytes)
{
	unsigned char *raw;
	char *out = NULL;

	if (nbytes == 0 || nbytes > 1024)
		return NULL;
	raw = malloc(nbytes);
	if (raw == NULL)
		return NULL;
	if (RAND_bytes(raw, (int)nbytes) != 1)
		log_crypto_err("token: RAND_bytes");
	else
		out = b64url_encode_alloc(raw, nbytes);
	OPENSSL_cleanse(raw, nbytes);
	free(raw);
	return out;
}
