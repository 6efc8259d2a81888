/* SPDX-License-Identifier: Apache-2.0 */
/* Finalize CSR checks (RFC 8555 §7.4): signature, key policy, names; and the
 * facts about an issued certificate that revocation and ARI need. */
#include "acme/csr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/keypolicy.h"
#include "contrib/b64url.h"
#include "contrib/log.h"
#include "contrib/x509der.h"

#define CSR_MAX_B64 (64 * 1024)
#define CSR_MAX_NAMES 100

void
acme_csr_free(struct acme_csr *csr)
{
	if (csr == NULL)
		return;
	free(csr->names);
	free(csr->cn);
	free(csr->pem);
	EVP_PKEY_free(csr->key);
	memset(csr, 0, sizeof(*csr));
}

/* Key policy; writes a description such as "RSA 2048" into desc. */
static int
key_policy(EVP_PKEY *key, char *desc, size_t len, struct acme_problem *prob)
{
	char group[64], why[160];
	size_t glen = 0;
	int bits, nid;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(key);
		snprintf(desc, len, "RSA %d", bits);
		if (acme_pkey_rsa_check(key, why, sizeof(why)) != 0) {
			acme_problem_set(prob, 400, "badCSR",
			    "CSR key RSA %d refused: %s", bits, why);
			return -1;
		}
		return 0;
	case EVP_PKEY_EC:
		nid = NID_undef;
		if (EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) ==
		    1)
			nid = OBJ_txt2nid(group);
		if (nid == NID_X9_62_prime256v1) {
			snprintf(desc, len, "EC P-256");
			return 0;
		}
		if (nid == NID_secp384r1) {
			snprintf(desc, len, "EC P-384");
			return 0;
		}
		ERR_clear_error();
		acme_problem_set(prob, 400, "badCSR",
		    "CSR key EC %s refused: EC needs P-256 or P-384",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown curve)");
		return -1;
	default:
		acme_problem_set(prob, 400, "badCSR",
		    "CSR key type %s refused: use RSA (2048 to 8192 bits) or "
		    "EC P-256/P-384",
		    OBJ_nid2sn(EVP_PKEY_get_base_id(key)) != NULL
		        ? OBJ_nid2sn(EVP_PKEY_get_base_id(key))
		        : "(unknown)");
		return -1;
	}
}

/* Append id to csr->names unless already there. */
static void
add_name(struct acme_csr *csr, const struct acme_ident *id)
{
	size_t i;

	for (i = 0; i < csr->n_names; i++) {
		if (strcmp(csr->names[i].type, id->type) == 0 &&
		    strcmp(csr->names[i].value, id->value) == 0)
			return;
	}
	csr->names[csr->n_names++] = *id;
}

static int
collect_sans(
    X509_REQ *req, struct acme_csr *csr, size_t *cap, struct acme_problem *prob)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	struct acme_problem sub;
	int crit = -1, i, n, rc = -1;

	memset(&sub, 0, sizeof(sub));
	exts = X509_REQ_get_extensions(req);
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) {
		if (crit == -1) {
			/* no subjectAltName: the CN alone may name it */
			*cap = 1;
			csr->names = calloc(1, sizeof(*csr->names));
			rc = csr->names != NULL ? 0 : -1;
			if (rc != 0)
				acme_problem_set(prob, 500, "serverInternal",
				    "out of memory");
			goto out;
		}
		acme_problem_set(prob, 400, "badCSR",
		    "CSR subjectAltName extension is %s",
		    crit == -2 ? "repeated" : "not valid");
		goto out;
	}
	n = sk_GENERAL_NAME_num(gens);
	if (n > CSR_MAX_NAMES) {
		acme_problem_set(prob, 400, "badCSR",
		    "CSR has %d names; at most %d allowed", n, CSR_MAX_NAMES);
		goto out;
	}
	*cap = (size_t)n + 1; /* room for the CN */
	csr->names = calloc(*cap, sizeof(*csr->names));
	if (csr->names == NULL) {
		acme_problem_set(prob, 500, "serverInternal", "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		struct acme_ident id;
		char txt[256];
		const unsigned char *d;
		int len;

		if (gn->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(gn->d.dNSName);
			len = ASN1_STRING_length(gn->d.dNSName);
			if (len <= 0 || (size_t)len >= sizeof(txt) ||
			    memchr(d, '\0', (size_t)len) != NULL) {
				acme_problem_set(prob, 400, "badCSR",
				    "CSR has a dNSName that is empty, too long "
				    "or holds a NUL");
				goto out;
			}
			memcpy(txt, d, (size_t)len);
			txt[len] = '\0';
			if (acme_ident_check("dns", txt, &id, &sub) != 0) {
				acme_problem_set(
				    prob, 400, "badCSR", "CSR: %s", sub.detail);
				goto out;
			}
		} else if (gn->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(gn->d.iPAddress);
			len = ASN1_STRING_length(gn->d.iPAddress);
			if ((len != 4 && len != 16) ||
			    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, txt,
			        sizeof(txt)) == NULL ||
			    acme_ident_check("ip", txt, &id, &sub) != 0) {
				acme_problem_set(prob, 400, "badCSR",
				    "CSR has an iPAddress of %d bytes; 4 or "
				    "16 expected",
				    len);
				goto out;
			}
		} else {
			/* e-mail, URI, otherName...: not ACME identifiers */
			acme_problem_set(prob, 400, "badCSR",
			    "CSR subjectAltName holds a name of a type other "
			    "than dNSName and iPAddress");
			goto out;
		}
		add_name(csr, &id);
	}
	rc = 0;
out:
	acme_problem_clear(&sub);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

static int
collect_cn(X509_REQ *req, struct acme_csr *csr, struct acme_problem *prob)
{
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	const X509_NAME_ENTRY *ent;
	unsigned char *utf8 = NULL;
	unsigned char probe[16];
	struct acme_problem sub;
	struct acme_ident id;
	int idx, len, rc = -1;

	memset(&sub, 0, sizeof(sub));
	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (idx < 0)
		return 0;
	if (X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0) {
		acme_problem_set(
		    prob, 400, "badCSR", "CSR subject has more than one CN");
		goto out;
	}
	ent = X509_NAME_get_entry(subj, idx);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent));
	if (len <= 0 || memchr(utf8, '\0', (size_t)len) != NULL) {
		ERR_clear_error();
		acme_problem_set(prob, 400, "badCSR",
		    "CSR subject CN is not a valid string");
		goto out;
	}
	/* a CN is a DNS name or the text of an IP address */
	if (inet_pton(AF_INET, (char *)utf8, probe) == 1 ||
	    inet_pton(AF_INET6, (char *)utf8, probe) == 1)
		rc = acme_ident_check("ip", (char *)utf8, &id, &sub);
	else
		rc = acme_ident_check("dns", (char *)utf8, &id, &sub);
	if (rc != 0) {
		acme_problem_set(
		    prob, 400, "badCSR", "CSR subject CN: %s", sub.detail);
		goto out;
	}
	csr->cn = strdup(id.value);
	if (csr->cn == NULL) {
		acme_problem_set(prob, 500, "serverInternal", "out of memory");
		rc = -1;
		goto out;
	}
	add_name(csr, &id);
	rc = 0;
out:
	acme_problem_clear(&sub);
	OPENSSL_free(utf8);
	return rc;
}

/* PEM armour of the DER exactly as received (no re-encoding). */
static char *
req_pem(const unsigned char *der, size_t len)
{
	BIO *bio = NULL;
	char *data, *out = NULL;
	long n;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || len > LONG_MAX ||
	    PEM_write_bio(bio, PEM_STRING_X509_REQ, "", der, (long)len) <= 0)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	out = malloc((size_t)n + 1);
	if (out == NULL)
		goto out;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
out:
	if (out == NULL)
		log_crypto_err("csr: PEM_write_bio");
	BIO_free(bio);
	return out;
}

/* base64url SHA-256 of the request's SubjectPublicKeyInfo, from its
 * parsed form: i2d_PUBKEY would go through OpenSSL 3's encoders. */
static int
req_spki_hash(X509_REQ *req, char out[44])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned char *der = NULL;
	int len;

	len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &der);
	if (len <= 0) {
		log_crypto_err("spki: i2d_X509_PUBKEY");
		return -1;
	}
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	b64url_encode(md, sizeof(md), out);
	return 0;
}

/* Is the signature's digest one we refuse (MD5, SHA-1)? */
static int
weak_sig(const X509_REQ *req)
{
	int md_nid = NID_undef, pk_nid = NID_undef;

	if (OBJ_find_sigid_algs(
	        X509_REQ_get_signature_nid(req), &md_nid, &pk_nid) != 1)
		return 0;
	return md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_md4;
}

int
acme_csr_parse(
    const char *b64url_der, struct acme_csr *csr, struct acme_problem *prob)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	EVP_PKEY *key;
	size_t der_len = 0, b64_len, cap = 0;
	int rc = -1;

	memset(csr, 0, sizeof(*csr));
	b64_len = b64url_der != NULL ? strlen(b64url_der) : 0;
	if (b64_len == 0 || b64_len > CSR_MAX_B64) {
		acme_problem_set(
		    prob, 400, "badCSR", "\"csr\" is empty or too large");
		goto out;
	}
	der = b64url_decode_alloc(b64url_der, b64_len, &der_len);
	if (der == NULL) {
		acme_problem_set(prob, 400, "badCSR",
		    "\"csr\" is not base64url without padding");
		goto out;
	}
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)der_len);
	if (req == NULL || p != der + der_len) {
		ERR_clear_error();
		acme_problem_set(prob, 400, "badCSR",
		    "\"csr\" is not a DER PKCS#10 request");
		goto out;
	}
	key = X509_REQ_get0_pubkey(req);
	if (key == NULL) {
		ERR_clear_error();
		acme_problem_set(
		    prob, 400, "badCSR", "CSR public key cannot be read");
		goto out;
	}
	if (X509_REQ_verify(req, key) != 1) {
		ERR_clear_error();
		acme_problem_set(
		    prob, 400, "badCSR", "CSR signature is invalid");
		goto out;
	}
	if (weak_sig(req)) {
		acme_problem_set(prob, 400, "badCSR",
		    "CSR is signed with MD5 or SHA-1; use SHA-256 or better");
		goto out;
	}
	if (key_policy(key, csr->key_desc, sizeof(csr->key_desc), prob) != 0)
		goto out;
	if (collect_sans(req, csr, &cap, prob) != 0 ||
	    collect_cn(req, csr, prob) != 0)
		goto out;
	if (csr->n_names == 0) {
		acme_problem_set(prob, 400, "badCSR",
		    "CSR names nothing (no subjectAltName and no CN)");
		goto out;
	}
	csr->pem = req_pem(der, der_len);
	if (csr->pem == NULL || req_spki_hash(req, csr->spki_sha256) != 0) {
		acme_problem_set(
		    prob, 500, "serverInternal", "cannot encode the CSR");
		goto out;
	}
	if (EVP_PKEY_up_ref(key) != 1)
		goto out;
	csr->key = key;
	rc = 0;
out:
	(void)cap;
	X509_REQ_free(req);
	free(der);
	if (rc != 0)
		acme_csr_free(csr);
	return rc;
}

/* Append ", name" (or "name") to buf, truncating with "..." when full. */
static void
list_add(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);
	int n;

	if (used + 4 >= len)
		return;
	n = snprintf(
	    buf + used, len - used, "%s%s", used > 0 ? ", " : "", name);
	if (n < 0 || (size_t)n >= len - used)
		snprintf(buf + len - 4, 4, "...");
}

static int
has_ident(const struct acme_ident *set, size_t n, const struct acme_ident *id)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(set[i].type, id->type) == 0 &&
		    strcasecmp(set[i].value, id->value) == 0)
			return 1;
	}
	return 0;
}

int
acme_csr_match(const struct acme_csr *csr, const struct acme_ident *ids,
    size_t n, struct acme_problem *prob)
{
	char extra[200] = "", missing[200] = "";
	size_t i;

	/* csr->names already holds the CN, so "CN among the identifiers"
	 * is part of "no extra names" */
	for (i = 0; i < csr->n_names; i++) {
		if (!has_ident(ids, n, &csr->names[i]))
			list_add(extra, sizeof(extra), csr->names[i].value);
	}
	for (i = 0; i < n; i++) {
		if (!has_ident(csr->names, csr->n_names, &ids[i]))
			list_add(missing, sizeof(missing), ids[i].value);
	}
	if (extra[0] == '\0' && missing[0] == '\0')
		return 0;
	acme_problem_set(prob, 400, "badCSR",
	    "CSR names differ from the order's identifiers;%s%s%s%s",
	    extra[0] != '\0' ? " not in the order: " : "", extra,
	    missing[0] != '\0' ? (extra[0] != '\0' ? "; missing from the CSR: "
	                                           : " missing from the CSR: ")
	                       : "",
	    missing);
	return -1;
}

/* A certificate from DER bytes (all of them) or the first PEM block. */
static X509 *
load_cert(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	X509 *x;

	/* DER only, and all of it: client input must never reach a second
	 * parser (a PEM reader skips what it does not understand, so the
	 * same bytes could name two different certificates) */
	if (buf == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != buf + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

/*
 * Certificate facts from the DER walker: the bridge stores one per issued
 * certificate and reads one per revokeCert, and OpenSSL's X509 decode
 * (which imports the public key) costs several times an ECDSA verify.
 */
static int
der_info(const unsigned char *der, size_t len, struct acme_cert_info *out,
    struct acme_problem *prob)
{
	struct acme_cert_info ci;
	struct x509der x;
	unsigned char md[SHA256_DIGEST_LENGTH];
	const unsigned char *d;
	size_t n;

	memset(&ci, 0, sizeof(ci));
	if (x509der_parse(der, len, &x) != 0) {
		acme_problem_set(
		    prob, 400, "malformed", "certificate is not valid DER");
		return -1;
	}
	/* the magnitude without leading zero octets, like OpenSSL prints */
	d = x.serial;
	n = x.serial_len;
	while (n > 1 && d[0] == 0) {
		d++;
		n--;
	}
	if (n * 2 >= sizeof(ci.serial_hex)) {
		acme_problem_set(prob, 400, "malformed",
		    "certificate serial number is too long");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(ci.serial_hex + 2 * i, 3, "%02x", d[i]);
	SHA256(x.spki, x.spki_len, md);
	b64url_encode(md, sizeof(md), ci.spki_sha256);
	if (x.aki != NULL) {
		if (b64url_enc_len(x.aki_len) >= sizeof(ci.aki_b64url)) {
			acme_problem_set(prob, 400, "malformed",
			    "certificate authority key identifier is too long");
			return -1;
		}
		b64url_encode(x.aki, x.aki_len, ci.aki_b64url);
	}
	ci.not_before = x.not_before;
	ci.not_after = x.not_after;
	*out = ci;
	return 0;
}

int
acme_cert_info_der(const unsigned char *der, size_t len,
    struct acme_cert_info *out, struct acme_problem *prob)
{
	return der_info(der, len, out, prob);
}

int
acme_cert_info_pem(
    const char *pem, struct acme_cert_info *out, struct acme_problem *prob)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	BIO *bio = NULL;
	int rc = -1;

	if (pem != NULL)
		bio = BIO_new_mem_buf(pem, -1);
	/* PEM_read_bio only un-armours: no X509 decode */
	if (bio == NULL || PEM_read_bio(bio, &name, &header, &der, &len) != 1 ||
	    strcmp(name, PEM_STRING_X509) != 0 || len <= 0) {
		ERR_clear_error();
		acme_problem_set(
		    prob, 400, "malformed", "certificate is not valid PEM");
		goto out;
	}
	rc = der_info(der, (size_t)len, out, prob);
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return rc;
}

int
acme_cert_leaf_der(const char *pem, unsigned char **der, size_t *len)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	BIO *bio = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	int rc = -1;

	*der = NULL;
	*len = 0;
	if (bio != NULL &&
	    PEM_read_bio(bio, &name, &header, &data, &dlen) == 1 &&
	    strcmp(name, PEM_STRING_X509) == 0 && dlen > 0) {
		*der = malloc((size_t)dlen);
		if (*der != NULL) {
			memcpy(*der, data, (size_t)dlen);
			*len = (size_t)dlen;
			rc = 0;
		}
	}
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

int
acme_cert_key_matches(const unsigned char *der, size_t len, EVP_PKEY *key)
{
	X509 *x;
	int rc = 0;

	if (key == NULL)
		return 0;
	x = load_cert(der, len);
	if (x != NULL && X509_get0_pubkey(x) != NULL &&
	    EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1)
		rc = 1;
	ERR_clear_error();
	X509_free(x);
	return rc;
}

/* The name of one SAN entry as the order writes identifiers: "dns:x" in
 * lower case or "ip:" + canonical text; NULL for other kinds. */
static char *
san_key(const GENERAL_NAME *gn)
{
	char buf[300], ip[INET6_ADDRSTRLEN];
	const unsigned char *d;
	int len;

	if (gn->type == GEN_DNS) {
		d = ASN1_STRING_get0_data(gn->d.dNSName);
		len = ASN1_STRING_length(gn->d.dNSName);
		if (len <= 0 || len > 255 || memchr(d, 0, (size_t)len) != NULL)
			return NULL;
		snprintf(buf, sizeof(buf), "dns:%.*s", len, (const char *)d);
		for (char *p = buf; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		return strdup(buf);
	}
	if (gn->type == GEN_IPADD) {
		d = ASN1_STRING_get0_data(gn->d.iPAddress);
		len = ASN1_STRING_length(gn->d.iPAddress);
		if ((len != 4 && len != 16) ||
		    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip,
		        sizeof(ip)) == NULL)
			return NULL;
		snprintf(buf, sizeof(buf), "ip:%s", ip);
		return strdup(buf);
	}
	return NULL;
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first PEM block of pem as DER (caller frees), without OpenSSL's
 * object decoders: parsing a certificate or request through them imports
 * its public key, which in OpenSSL 3 costs more than everything else this
 * check does. */
static unsigned char *
pem_der(const char *pem, size_t *len)
{
	BIO *bio = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long n = 0;

	if (bio == NULL || PEM_read_bio(bio, &name, &header, &data, &n) != 1)
		n = 0;
	BIO_free(bio);
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (n <= 0) {
		OPENSSL_free(data);
		return NULL;
	}
	*len = (size_t)n;
	return data;
}

/* The leaf's key is the CSR's: the same SubjectPublicKeyInfo bytes, or
 * (a CA may re-encode) the same key once decoded. */
static int
same_key(const struct x509der *leaf, const unsigned char *spki, size_t spki_len)
{
	const unsigned char *a = leaf->spki, *b = spki;
	EVP_PKEY *ka, *kb;
	int eq;

	if (leaf->spki_len == spki_len && memcmp(a, b, spki_len) == 0)
		return 1;
	ka = d2i_PUBKEY(NULL, &a, (long)leaf->spki_len);
	kb = d2i_PUBKEY(NULL, &b, (long)spki_len);
	eq = ka != NULL && kb != NULL && EVP_PKEY_eq(ka, kb) == 1;
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	return eq;
}

int
acme_cert_matches_order(const char *chain_pem, const char *csr_pem,
    const char *identifiers_json, char *why, size_t len)
{
	unsigned char *leaf_der = NULL, *csr_der = NULL;
	size_t leaf_len = 0, csr_len = 0, subj_len, spki_len;
	const unsigned char *subj, *spki, *sp;
	struct x509der leaf;
	GENERAL_NAMES *sans = NULL;
	json_t *ids = json_loads(identifiers_json, 0, NULL), *id;
	char **want = NULL, **got = NULL;
	size_t nwant = json_array_size(ids), ngot = 0, i;
	int rc = -1;

	snprintf(why, len, "the certificate could not be read");
	leaf_der = pem_der(chain_pem, &leaf_len);
	csr_der = pem_der(csr_pem, &csr_len);
	if (leaf_der == NULL || csr_der == NULL || ids == NULL || nwant == 0 ||
	    x509der_parse(leaf_der, leaf_len, &leaf) != 0 ||
	    x509der_csr(csr_der, csr_len, &subj, &subj_len, &spki, &spki_len) !=
	        0)
		goto out;
	if (!same_key(&leaf, spki, spki_len)) {
		snprintf(why, len,
		    "the certificate's public key is not the CSR's key");
		goto out;
	}
	sp = leaf.san;
	if (leaf.san != NULL) {
		sans = d2i_GENERAL_NAMES(NULL, &sp, (long)leaf.san_len);
		if (sans == NULL || sp != leaf.san + leaf.san_len)
			goto out;
	}
	want = calloc(nwant, sizeof(*want));
	got = calloc((size_t)sk_GENERAL_NAME_num(sans) + 1, sizeof(*got));
	if (want == NULL || got == NULL)
		goto out;
	json_array_foreach(ids, i, id) {
		const char *t = json_string_value(json_object_get(id, "type"));
		const char *v = json_string_value(json_object_get(id, "value"));
		char buf[300];

		if (t == NULL || v == NULL)
			goto out;
		snprintf(buf, sizeof(buf), "%s:%s", t, v);
		for (char *p = buf; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((want[i] = strdup(buf)) == NULL)
			goto out;
	}
	for (int k = 0; k < sk_GENERAL_NAME_num(sans); k++) {
		char *key = san_key(sk_GENERAL_NAME_value(sans, k));

		if (key == NULL) {
			snprintf(why, len,
			    "the certificate carries a subjectAltName that is"
			    " neither a DNS name nor an IP address");
			goto out;
		}
		got[ngot++] = key;
	}
	qsort(want, nwant, sizeof(*want), cmp_cstr);
	qsort(got, ngot, sizeof(*got), cmp_cstr);
	/* duplicates in the certificate count once */
	for (i = 1; ngot > 0 && i < ngot;) {
		if (strcmp(got[i], got[i - 1]) == 0) {
			free(got[i]);
			memmove(&got[i], &got[i + 1],
			    (ngot - i - 1) * sizeof(*got));
			ngot--;
		} else {
			i++;
		}
	}
	/* walk both sorted lists: the first name only one side has */
	{
		size_t a = 0, b = 0;

		while (a < nwant || b < ngot) {
			int d = a == nwant ? 1
			    : b == ngot    ? -1
			                   : strcmp(want[a], got[b]);

			if (d == 0) {
				a++;
				b++;
				continue;
			}
			if (d > 0)
				snprintf(why, len,
				    "the certificate names %.200s, which the"
				    " order does not",
				    got[b]);
			else
				snprintf(why, len,
				    "the certificate lacks the order's"
				    " %.200s",
				    want[a]);
			goto out;
		}
	}
	rc = 0;
	why[0] = '\0';
out:
	ERR_clear_error();
	for (i = 0; want != NULL && i < nwant; i++)
		free(want[i]);
	for (i = 0; got != NULL && i < ngot; i++)
		free(got[i]);
	free(want);
	free(got);
	GENERAL_NAMES_free(sans);
	OPENSSL_free(leaf_der);
	OPENSSL_free(csr_der);
	json_decref(ids);
	return rc;
}

char *
acme_csr_pem_cn(const char *pem)
{
	size_t len = 0, subj_len, spki_len;
	unsigned char *der = pem_der(pem, &len);
	const unsigned char *subj, *spki, *p;
	X509_NAME *name = NULL;
	char buf[256], *cn = NULL;
	int n;

	/* the subject alone: no key import (see pem_der) */
	if (der != NULL &&
	    x509der_csr(der, len, &subj, &subj_len, &spki, &spki_len) == 0) {
		p = subj;
		name = d2i_X509_NAME(NULL, &p, (long)subj_len);
	}
	if (name != NULL) {
		n = X509_NAME_get_text_by_NID(
		    name, NID_commonName, buf, sizeof(buf));
		if (n > 0 && (size_t)n < sizeof(buf))
			cn = strdup(buf);
	}
	ERR_clear_error();
	X509_NAME_free(name);
	OPENSSL_free(der);
	return cn;
}
