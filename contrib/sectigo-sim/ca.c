/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the test PKI and its X.509 work.  All keys are EC P-256 and
 * every signature is ECDSA with SHA-256; leaf keys come from the CSRs.
 */
#include "contrib/sectigo-sim/ca.h"
#include "contrib/sectigo-sim/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define ROOT_CN "acmebridge Sim Root CA"
#define INTER_CN "acmebridge Sim Issuing CA"
#define CA_ORG "acmebridge"

struct sim_ca {
	EVP_PKEY *root_key;  /* root signing key */
	X509 *root;          /* self-signed root */
	EVP_PKEY *inter_key; /* key that signs the leaves */
	X509 *inter;         /* issuing intermediate, signed by the root */
	EVP_PKEY *tls_key;   /* key of the simulator's TLS certificate */
	X509 *tls;           /* TLS certificate of the simulator */
	char *root_pem;      /* root as PEM */
	char *inter_pem;     /* intermediate as PEM */
	char *issuer_dn;     /* intermediate subject in RFC 2253 form */
};

enum cert_kind {
	KIND_ROOT,  /* self-signed trust anchor */
	KIND_INTER, /* issuing CA, pathlen 0 */
	KIND_TLS,   /* the simulator's server certificate */
};

static void
log_crypto(const char *what)
{
	unsigned long e;
	char buf[256];
	int any = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "sectigo-sim: %s: %s\n", what, buf);
		any = 1;
	}
	if (!any)
		fprintf(stderr, "sectigo-sim: %s: failed\n", what);
}

/* Copies the contents of a memory BIO into a new NUL-terminated string. */
static char *
bio_to_string(BIO *bio, size_t *lenp)
{
	char *data = NULL, *s;
	long n;

	n = BIO_get_mem_data(bio, &data);
	if (n < 0 || data == NULL)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return s;
}

static char *
cert_to_pem(X509 *x)
{
	BIO *bio;
	char *s = NULL;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, x) == 1)
		s = bio_to_string(bio, NULL);
	BIO_free(bio);
	return s;
}

static X509 *
pem_to_cert(const char *pem)
{
	BIO *bio;
	X509 *x;

	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

static void
hex_lower(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/*
 * Gives x a random positive 16-byte serial.  The top bit is cleared so the
 * DER INTEGER needs no sign byte, and the first byte is never zero so the
 * serial always has exactly 16 bytes (CA/B BR 7.1 asks for 64+ random bits).
 */
static int
set_random_serial(X509 *x, char *colon_hex, size_t hexsz)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	size_t i;
	int rc = -1;

	if (RAND_bytes(b, sizeof(b)) != 1)
		goto out;
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 0x01;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn == NULL)
		goto out;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (ai == NULL || X509_set_serialNumber(x, ai) != 1)
		goto out;
	if (colon_hex != NULL) {
		if (hexsz < sizeof(b) * 3)
			goto out;
		for (i = 0; i < sizeof(b); i++)
			snprintf(colon_hex + 3 * i, hexsz - 3 * i, "%02X%s",
			    b[i], i + 1 < sizeof(b) ? ":" : "");
	}
	rc = 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

/* Adds one extension written in openssl.cnf syntax; issuer may be x. */
static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int
name_add(X509_NAME *name, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
	           (const unsigned char *)value, -1, -1, 0) == 1
	    ? 0
	    : -1;
}

/* Creates a CA or TLS certificate of the simulator's own PKI. */
static X509 *
make_cert(enum cert_kind kind, EVP_PKEY *key, const char *cn, X509 *issuer,
    EVP_PKEY *issuer_key, long days)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	X509 *iss;
	int ok = 0;

	x = X509_new();
	name = X509_NAME_new();
	if (x == NULL || name == NULL)
		goto out;
	if (kind != KIND_TLS && name_add(name, "O", CA_ORG) != 0)
		goto out;
	if (name_add(name, "CN", cn) != 0)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_random_serial(x, NULL, 0) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ==
	        NULL ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x,
	        issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	iss = issuer != NULL ? issuer : x;
	switch (kind) {
	case KIND_ROOT:
		if (add_ext(
		        x, iss, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(x, iss, NID_key_usage,
		        "critical,keyCertSign,cRLSign") ||
		    add_ext(x, iss, NID_subject_key_identifier, "hash"))
			goto out;
		break;
	case KIND_INTER:
		if (add_ext(x, iss, NID_basic_constraints,
		        "critical,CA:TRUE,pathlen:0") ||
		    add_ext(x, iss, NID_key_usage,
		        "critical,digitalSignature,keyCertSign,cRLSign") ||
		    add_ext(x, iss, NID_subject_key_identifier, "hash") ||
		    add_ext(
		        x, iss, NID_authority_key_identifier, "keyid:always"))
			goto out;
		break;
	case KIND_TLS:
		if (add_ext(
		        x, iss, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(
		        x, iss, NID_key_usage, "critical,digitalSignature") ||
		    add_ext(x, iss, NID_ext_key_usage, "serverAuth") ||
		    add_ext(x, iss, NID_subject_key_identifier, "hash") ||
		    add_ext(
		        x, iss, NID_authority_key_identifier, "keyid:always") ||
		    add_ext(x, iss, NID_subject_alt_name,
		        "DNS:localhost,IP:127.0.0.1,IP:::1"))
			goto out;
		break;
	}
	if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <=
	    0)
		goto out;
	ok = 1;
out:
	X509_NAME_free(name);
	if (!ok) {
		log_crypto("create certificate");
		X509_free(x);
		x = NULL;
	}
	return x;
}

static int
save_pem(const char *dir, const char *file, X509 *cert, EVP_PKEY *key)
{
	BIO *bio = NULL;
	char *data = NULL, *path = NULL;
	size_t len = 0;
	int rc = -1;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		goto out;
	if (cert != NULL && PEM_write_bio_X509(bio, cert) != 1)
		goto out;
	if (key != NULL &&
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	data = bio_to_string(bio, &len);
	path = sim_path(dir, file);
	if (data == NULL || path == NULL)
		goto out;
	rc = sim_write_file(path, data, len, key != NULL ? 0600 : 0644);
out:
	if (rc != 0)
		fprintf(stderr, "sectigo-sim: cannot save %s/%s\n", dir, file);
	if (data != NULL)
		OPENSSL_cleanse(data, len);
	free(data);
	free(path);
	BIO_free(bio);
	return rc;
}

static X509 *
load_cert(const char *dir, const char *file)
{
	char *path;
	BIO *bio = NULL;
	X509 *x = NULL;

	path = sim_path(dir, file);
	if (path == NULL)
		return NULL;
	bio = BIO_new_file(path, "r");
	if (bio != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL)
		log_crypto(path);
	BIO_free(bio);
	free(path);
	return x;
}

static EVP_PKEY *
load_key(const char *dir, const char *file)
{
	char *path;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;

	path = sim_path(dir, file);
	if (path == NULL)
		return NULL;
	bio = BIO_new_file(path, "r");
	if (bio != NULL)
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (k == NULL)
		log_crypto(path);
	BIO_free(bio);
	free(path);
	return k;
}

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k;

	k = EVP_EC_gen("P-256");
	if (k == NULL)
		log_crypto("generate key");
	return k;
}

static int
create_tls(struct sim_ca *ca, const char *dir)
{
	EVP_PKEY_free(ca->tls_key);
	X509_free(ca->tls);
	ca->tls = NULL;
	ca->tls_key = new_key();
	if (ca->tls_key == NULL)
		return -1;
	ca->tls = make_cert(
	    KIND_TLS, ca->tls_key, "localhost", ca->root, ca->root_key, 825);
	if (ca->tls == NULL)
		return -1;
	if (save_pem(dir, "server.key", NULL, ca->tls_key) != 0 ||
	    save_pem(dir, "server.pem", ca->tls, NULL) != 0)
		return -1;
	return 0;
}

static int
create_all(struct sim_ca *ca, const char *dir)
{
	ca->root_key = new_key();
	ca->inter_key = new_key();
	if (ca->root_key == NULL || ca->inter_key == NULL)
		return -1;
	ca->root =
	    make_cert(KIND_ROOT, ca->root_key, ROOT_CN, NULL, NULL, 3650);
	if (ca->root == NULL)
		return -1;
	ca->inter = make_cert(
	    KIND_INTER, ca->inter_key, INTER_CN, ca->root, ca->root_key, 3650);
	if (ca->inter == NULL)
		return -1;
	/* keys first: a crash in between leaves no certificate without key */
	if (save_pem(dir, "root.key", NULL, ca->root_key) != 0 ||
	    save_pem(dir, "intermediate.key", NULL, ca->inter_key) != 0 ||
	    save_pem(dir, "intermediate.pem", ca->inter, NULL) != 0 ||
	    save_pem(dir, "root.pem", ca->root, NULL) != 0)
		return -1;
	return create_tls(ca, dir);
}

static int
load_all(struct sim_ca *ca, const char *dir)
{
	ca->root_key = load_key(dir, "root.key");
	ca->root = load_cert(dir, "root.pem");
	ca->inter_key = load_key(dir, "intermediate.key");
	ca->inter = load_cert(dir, "intermediate.pem");
	ca->tls_key = load_key(dir, "server.key");
	ca->tls = load_cert(dir, "server.pem");
	if (ca->root_key == NULL || ca->root == NULL || ca->inter_key == NULL ||
	    ca->inter == NULL || ca->tls_key == NULL || ca->tls == NULL)
		return -1;
	if (X509_check_private_key(ca->root, ca->root_key) != 1 ||
	    X509_check_private_key(ca->inter, ca->inter_key) != 1 ||
	    X509_check_private_key(ca->tls, ca->tls_key) != 1) {
		log_crypto("state dir: key does not match certificate");
		return -1;
	}
	/* a long-lived state dir may outlive the TLS certificate */
	if (X509_cmp_current_time(X509_get0_notAfter(ca->tls)) <= 0) {
		fprintf(stderr, "sectigo-sim: renewing expired server.pem\n");
		return create_tls(ca, dir);
	}
	return 0;
}

struct sim_ca *
sim_ca_load_or_create(const char *dir)
{
	static const char *const files[] = {"root.key", "root.pem",
	    "intermediate.key", "intermediate.pem", "server.key", "server.pem"};
	struct sim_ca *ca = NULL;
	BIO *bio = NULL;
	char *path = NULL, *chain = NULL;
	size_t i, have = 0, len;
	int ok = 0;

	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		goto out;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path = sim_path(dir, files[i]);
		if (path == NULL)
			goto out;
		have += (size_t)sim_file_exists(path);
		free(path);
		path = NULL;
	}
	if (have == sizeof(files) / sizeof(files[0])) {
		if (load_all(ca, dir) != 0)
			goto out;
	} else {
		/*
		 * A partial set (e.g. an interrupted first start) is replaced
		 * as a whole: nothing can have trusted a root without its key.
		 */
		fprintf(stderr, "sectigo-sim: creating test CA in %s\n", dir);
		if (create_all(ca, dir) != 0)
			goto out;
	}
	ca->root_pem = cert_to_pem(ca->root);
	ca->inter_pem = cert_to_pem(ca->inter);
	bio = BIO_new(BIO_s_mem());
	if (ca->root_pem == NULL || ca->inter_pem == NULL || bio == NULL)
		goto out;
	if (X509_NAME_print_ex(
	        bio, X509_get_subject_name(ca->inter), 0, XN_FLAG_RFC2253) < 0)
		goto out;
	ca->issuer_dn = bio_to_string(bio, NULL);
	if (ca->issuer_dn == NULL)
		goto out;
	len = strlen(ca->inter_pem) + strlen(ca->root_pem);
	chain = malloc(len + 1);
	path = sim_path(dir, "chain.pem");
	if (chain == NULL || path == NULL)
		goto out;
	snprintf(chain, len + 1, "%s%s", ca->inter_pem, ca->root_pem);
	if (sim_write_file(path, chain, len, 0644) != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		fprintf(
		    stderr, "sectigo-sim: cannot set up the CA in %s\n", dir);
		sim_ca_free(ca);
		ca = NULL;
	}
	free(chain);
	free(path);
	BIO_free(bio);
	return ca;
}

void
sim_ca_free(struct sim_ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->root_key);
	X509_free(ca->root);
	EVP_PKEY_free(ca->inter_key);
	X509_free(ca->inter);
	EVP_PKEY_free(ca->tls_key);
	X509_free(ca->tls);
	free(ca->root_pem);
	free(ca->inter_pem);
	free(ca->issuer_dn);
	free(ca);
}

SSL_CTX *
sim_ca_server_ctx(const struct sim_ca *ca)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, ca->tls) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, ca->tls_key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return ctx;
fail:
	log_crypto("tls context");
	SSL_CTX_free(ctx);
	return NULL;
}

const char *
sim_ca_root_pem(const struct sim_ca *ca)
{
	return ca->root_pem;
}

const char *
sim_ca_inter_pem(const struct sim_ca *ca)
{
	return ca->inter_pem;
}

const char *
sim_ca_issuer_dn(const struct sim_ca *ca)
{
	return ca->issuer_dn;
}

/* Decodes bare base64 DER (whitespace allowed) into a CSR. */
static X509_REQ *
req_from_base64(const char *text)
{
	size_t n = strlen(text), i, k = 0, pad = 0;
	unsigned char *clean = NULL, *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	int dlen;

	clean = malloc(n + 1);
	if (clean == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (isspace(c))
			continue;
		if (!(isalnum(c) || c == '+' || c == '/' || c == '='))
			goto out;
		clean[k++] = c;
	}
	if (k == 0 || k % 4 != 0)
		goto out;
	while (pad < 2 && clean[k - 1 - pad] == '=')
		pad++;
	der = malloc(k / 4 * 3);
	if (der == NULL)
		goto out;
	dlen = EVP_DecodeBlock(der, clean, (int)k);
	if (dlen < 0 || (size_t)dlen < pad)
		goto out;
	dlen -= (int)pad;
	p = der;
	req = d2i_X509_REQ(NULL, &p, dlen);
	if (req != NULL && p != der + dlen) {
		/* trailing bytes after the CSR: not a clean encoding */
		X509_REQ_free(req);
		req = NULL;
	}
out:
	free(clean);
	free(der);
	return req;
}

static void
describe_key(EVP_PKEY *pkey, struct sim_csr *csr)
{
	char group[64];
	const char *curve;
	size_t n;

	csr->key_bits = EVP_PKEY_get_bits(pkey);
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		snprintf(csr->key_alg, sizeof(csr->key_alg), "RSA");
		snprintf(csr->key_param, sizeof(csr->key_param), "%d",
		    csr->key_bits);
		break;
	case EVP_PKEY_EC:
		snprintf(csr->key_alg, sizeof(csr->key_alg), "EC");
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) !=
		    1)
			group[0] = '\0';
		curve = group;
		if (strcmp(group, "prime256v1") == 0)
			curve = "P-256";
		else if (strcmp(group, "secp384r1") == 0)
			curve = "P-384";
		else if (strcmp(group, "secp521r1") == 0)
			curve = "P-521";
		/* a curve name too long to keep is unsupported anyway */
		n = strlen(curve);
		if (n >= sizeof(csr->key_param))
			n = 0;
		memcpy(csr->key_param, curve, n);
		csr->key_param[n] = '\0';
		break;
	default:
		/* RSA-PSS, EdDSA, DSA...: reported as unsupported later */
		csr->key_alg[0] = '\0';
		csr->key_param[0] = '\0';
		break;
	}
}

int
sim_csr_parse(const char *text, struct sim_csr *out)
{
	struct sim_csr csr;
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	EVP_PKEY *pkey;
	unsigned char *der = NULL, *utf8 = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509_NAME *subj;
	int dlen, idx, ulen, rc = SIM_CSR_ENOMEM;

	memset(&csr, 0, sizeof(csr));
	if (strstr(text, "-----BEGIN") != NULL) {
		bio = BIO_new_mem_buf(text, -1);
		if (bio == NULL)
			goto out;
		/* also takes the older "NEW CERTIFICATE REQUEST" label */
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
		bio = NULL;
	} else {
		req = req_from_base64(text);
	}
	if (req == NULL) {
		rc = SIM_CSR_EDECODE;
		goto out;
	}
	pkey = X509_REQ_get0_pubkey(req);
	if (pkey == NULL) {
		rc = SIM_CSR_EDECODE;
		goto out;
	}
	if (X509_REQ_verify(req, pkey) != 1) {
		rc = SIM_CSR_ESIG;
		goto out;
	}
	describe_key(pkey, &csr);

	dlen = i2d_X509_REQ(req, &der);
	if (dlen <= 0 ||
	    EVP_Digest(der, (size_t)dlen, md, &mdlen, EVP_sha256(), NULL) != 1)
		goto out;
	hex_lower(md, mdlen, csr.sha256);

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1)
		goto out;
	csr.pem = bio_to_string(bio, NULL);
	if (csr.pem == NULL)
		goto out;

	subj = X509_REQ_get_subject_name(req);
	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (idx >= 0) {
		ulen = ASN1_STRING_to_UTF8(&utf8,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
		if (ulen < 0)
			goto out;
		if (strlen((char *)utf8) != (size_t)ulen) {
			/* an embedded NUL would cut the name short later */
			rc = SIM_CSR_EDECODE;
			goto out;
		}
		if (ulen > 0) {
			csr.cn = strdup((char *)utf8);
			if (csr.cn == NULL)
				goto out;
		}
	}
	*out = csr;
	memset(&csr, 0, sizeof(csr));
	rc = 0;
out:
	ERR_clear_error();
	sim_csr_clear(&csr);
	OPENSSL_free(utf8);
	OPENSSL_free(der);
	BIO_free(bio);
	X509_REQ_free(req);
	return rc;
}

void
sim_csr_clear(struct sim_csr *csr)
{
	free(csr->pem);
	free(csr->cn);
	memset(csr, 0, sizeof(*csr));
}

static GENERAL_NAMES *
build_sans(const json_t *sans)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn = NULL;
	ASN1_OCTET_STRING *ip;
	ASN1_IA5STRING *ia5;
	const char *s;
	size_t i;

	gens = sk_GENERAL_NAME_new_null();
	if (gens == NULL)
		return NULL;
	for (i = 0; i < json_array_size(sans); i++) {
		s = json_string_value(json_array_get(sans, i));
		if (s == NULL)
			goto fail;
		gn = GENERAL_NAME_new();
		if (gn == NULL)
			goto fail;
		ip = a2i_IPADDRESS(s);
		if (ip != NULL) {
			GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		} else {
			ERR_clear_error();
			ia5 = ASN1_IA5STRING_new();
			if (ia5 == NULL || ASN1_STRING_set(ia5, s, -1) != 1) {
				ASN1_IA5STRING_free(ia5);
				goto fail;
			}
			GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		}
		if (sk_GENERAL_NAME_push(gens, gn) <= 0)
			goto fail;
		gn = NULL;
	}
	return gens;
fail:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return NULL;
}

/* Step into (or over) one DER element: its contents start at *p on
 * return (into) or *p moves past it (over). -1 on a malformed header. */
static int
der_step(const unsigned char **p, long *left, int want_tag, int into,
    const unsigned char **start, long *total)
{
	const unsigned char *q = *p;
	long len;
	int tag, xclass, r;

	r = ASN1_get_object(&q, &len, &tag, &xclass, *left);
	/* 0x80: bad header; 1: indefinite length (not DER) */
	if ((r & 0x80) || (r & 1) || tag != want_tag)
		return -1;
	if (start != NULL) {
		*start = *p;
		*total = (long)(q - *p) + len;
	}
	if (into) {
		*left -= (long)(q - *p);
		*p = q;
	} else {
		*left -= (long)(q - *p) + len;
		*p = q + len;
	}
	return 0;
}

/*
 * Give x the CSR's public key without decoding it: OpenSSL 3 imports a
 * key through its provider decoders on every parse and X509_set_pubkey
 * encodes and decodes it once more, which made that most of the
 * simulator's CPU per certificate. The SubjectPublicKeyInfo bytes are
 * copied as they are (the signature on the CSR was checked at enroll).
 * Sets *is_rsa. 0 or -1.
 */
static int
set_pubkey_from_csr(X509 *x, const char *csr_pem, int *is_rsa)
{
	BIO *bio = BIO_new_mem_buf(csr_pem, -1);
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p, *spki;
	long n = 0, left, spki_len;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *bits = NULL;
	ASN1_OBJECT *obj = NULL;
	const ASN1_OBJECT *aobj;
	const void *pval;
	int ptype, rc = -1;
	void *pcopy = NULL;
	unsigned char *key = NULL;

	if (bio == NULL || PEM_read_bio(bio, &label, &header, &der, &n) != 1)
		goto out;
	p = der;
	left = n;
	/* CertificationRequest { info { version, subject, spki, ... } } */
	if (der_step(&p, &left, V_ASN1_SEQUENCE, 1, NULL, NULL) != 0 ||
	    der_step(&p, &left, V_ASN1_SEQUENCE, 1, NULL, NULL) != 0 ||
	    der_step(&p, &left, V_ASN1_INTEGER, 0, NULL, NULL) != 0 ||
	    der_step(&p, &left, V_ASN1_SEQUENCE, 0, NULL, NULL) != 0 ||
	    der_step(&p, &left, V_ASN1_SEQUENCE, 1, &spki, &spki_len) != 0)
		goto out;
	left = spki_len - (long)(p - spki);
	alg = d2i_X509_ALGOR(NULL, &p, left);
	if (alg == NULL)
		goto out;
	left = spki_len - (long)(p - spki);
	bits = d2i_ASN1_BIT_STRING(NULL, &p, left);
	if (bits == NULL || p != spki + spki_len)
		goto out;
	X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
	obj = OBJ_dup(aobj);
	if (ptype == V_ASN1_OBJECT)
		pcopy = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		pcopy = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL)
		ptype = V_ASN1_UNDEF; /* absent parameters (Ed25519) */
	key = OPENSSL_memdup(
	    ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits));
	if (obj == NULL || key == NULL ||
	    ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) &&
	        pcopy == NULL))
		goto out;
	*is_rsa = OBJ_obj2nid(obj) == NID_rsaEncryption;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), obj, ptype, pcopy,
	        key, ASN1_STRING_length(bits)) != 1)
		goto out;
	obj = NULL; /* owned by x now */
	pcopy = NULL;
	key = NULL;
	rc = 0;
out:
	ASN1_OBJECT_free(obj);
	if (pcopy != NULL)
		ptype == V_ASN1_OBJECT ? ASN1_OBJECT_free(pcopy)
		                       : ASN1_STRING_free(pcopy);
	OPENSSL_free(key);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	OPENSSL_free(der);
	OPENSSL_free(label);
	OPENSSL_free(header);
	BIO_free(bio);
	return rc;
}

int
sim_ca_issue(const struct sim_ca *ca, const char *csr_pem, const char *cn,
    const json_t *sans, long days, struct sim_leaf *out)
{
	struct sim_leaf leaf;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	GENERAL_NAMES *gens = NULL;
	time_t now = time(NULL), start;
	const char *ku;
	int rc = -1, is_rsa = 0;

	memset(&leaf, 0, sizeof(leaf));
	x = X509_new();
	name = X509_NAME_new();
	if (x == NULL || name == NULL ||
	    set_pubkey_from_csr(x, csr_pem, &is_rsa) != 0)
		goto out;
	/* RFC 5280 ub-common-name is 64; a longer name lives in the SAN only */
	if (cn != NULL && *cn != '\0' && strlen(cn) <= 64 &&
	    name_add(name, "CN", cn) != 0)
		goto out;
	/*
	 * [INF] as on Sectigo's public certificates: notBefore is 00:00:00
	 * UTC of the issue day and notAfter 23:59:59 UTC of the last day, so
	 * notAfter = notBefore + term days - 1 s and the validity period,
	 * counted inclusively as the CA/B Forum BR do, is exactly the term.
	 */
	start = now - now % 86400;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_random_serial(x, leaf.serial, sizeof(leaf.serial)) != 0 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &start) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, -1, &start) ==
	        NULL ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->inter)) != 1)
		goto out;
	/* RFC 5280 4.2.1.3: keyEncipherment only makes sense for RSA */
	ku = is_rsa ? "critical,digitalSignature,keyEncipherment"
	            : "critical,digitalSignature";
	if (add_ext(x, ca->inter, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, ca->inter, NID_key_usage, ku) ||
	    add_ext(x, ca->inter, NID_ext_key_usage, "serverAuth") ||
	    add_ext(x, ca->inter, NID_subject_key_identifier, "hash") ||
	    add_ext(x, ca->inter, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (json_array_size(sans) > 0) {
		gens = build_sans(sans);
		/* RFC 5280 4.2.1.6: critical when the subject is empty */
		if (gens == NULL ||
		    X509_add1_ext_i2d(x, NID_subject_alt_name, gens,
		        X509_NAME_entry_count(name) == 0 ? 1 : 0,
		        X509V3_ADD_DEFAULT) != 1)
			goto out;
	}
	if (X509_sign(x, ca->inter_key, EVP_sha256()) <= 0)
		goto out;
	leaf.pem = cert_to_pem(x);
	if (leaf.pem == NULL)
		goto out;
	leaf.not_before = start;
	leaf.not_after = start + (time_t)days * 86400 - 1;
	*out = leaf;
	rc = 0;
out:
	if (rc != 0)
		log_crypto("issue certificate");
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	X509_free(x);
	return rc;
}

int
sim_ca_pkcs7(const struct sim_ca *ca, const char *leaf_pem, int der,
    unsigned char **out, size_t *outlen)
{
	PKCS7 *p7 = NULL;
	X509 *leaf = NULL;
	BIO *bio = NULL;
	char *s = NULL;
	size_t len = 0;
	int rc = -1;

	leaf = pem_to_cert(leaf_pem);
	p7 = PKCS7_new();
	bio = BIO_new(BIO_s_mem());
	if (leaf == NULL || p7 == NULL || bio == NULL)
		goto out;
	/* a "certs-only" SignedData (RFC 2315 9.1 with no signers) */
	if (PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1 ||
	    PKCS7_add_certificate(p7, leaf) != 1 ||
	    PKCS7_add_certificate(p7, ca->inter) != 1 ||
	    PKCS7_add_certificate(p7, ca->root) != 1)
		goto out;
	if (der ? i2d_PKCS7_bio(bio, p7) != 1
	        : PEM_write_bio_PKCS7(bio, p7) != 1)
		goto out;
	s = bio_to_string(bio, &len);
	if (s == NULL)
		goto out;
	*out = (unsigned char *)s;
	*outlen = len;
	rc = 0;
out:
	if (rc != 0)
		log_crypto("pkcs7");
	BIO_free(bio);
	PKCS7_free(p7);
	X509_free(leaf);
	return rc;
}

int
sim_ca_fingerprints(const char *pem, char *sha1, char *sha256)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;
	X509 *x;
	int rc = -1;

	x = pem_to_cert(pem);
	if (x == NULL)
		goto out;
	if (X509_digest(x, EVP_sha1(), md, &n) != 1)
		goto out;
	hex_lower(md, n, sha1);
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		goto out;
	hex_lower(md, n, sha256);
	rc = 0;
out:
	ERR_clear_error();
	X509_free(x);
	return rc;
}
