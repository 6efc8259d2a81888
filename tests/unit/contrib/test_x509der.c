/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for contrib/x509der: every field of certificates made here with
 * OpenSSL equals what OpenSSL reports, and malformed, truncated and randomly
 * mutated DER is refused without a read outside the buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "contrib/x509der.h"

/* 2023-11-14T22:13:20Z and friends, checked with date(1) */
#define T_2023 1700000000LL
#define T_1950 (-631152000LL)
#define T_2049_END 2524607999LL  /* 2049-12-31T23:59:59Z, last UTCTime */
#define T_2050 2524608000LL      /* first GeneralizedTime */
#define T_2024_LEAP 1709208000LL /* 2024-02-29T12:00:00Z */
#define T_2060 2840140800LL
#define T_2060_MID 2855824496LL /* 2060-06-30T12:34:56Z */

#define MUTATIONS 20000
/* OpenSSL's decode of a mutated certificate costs 50 times the walk (more
 * under ASan): compare with it on every eighth mutation only */
#define OSSL_EVERY 8

/* The copy parse_copy() parsed last, kept so that the fields stay readable
 * until the next call (freed by the group teardown). */
static unsigned char *held;

struct ext_spec {
	int nid;
	const char *value; /* X509V3 config syntax */
};

/* What a certificate made by make_cert() looks like. */
struct spec {
	const char *name;
	long version; /* X509_VERSION_1 or X509_VERSION_3 */
	unsigned char serial[20];
	size_t serial_len; /* magnitude bytes */
	int key_rsa;       /* subject key: RSA 2048, else EC P-256 */
	int issuer;        /* index into the fixture's certs, -1: self */
	long long not_before, not_after;
	int nb_type, na_type; /* expected V_ASN1_UTCTIME/GENERALIZEDTIME */
	int has_aki_kid;      /* keyIdentifier expected */
	const struct ext_spec *exts; /* nid 0 ends, NULL: none */
};

static const struct ext_spec root_ec_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};

static const struct ext_spec leaf_rsa_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_alt_name, "DNS:www.example.test,DNS:example.test"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};

static const struct ext_spec root_rsa_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_subject_key_identifier, "hash"},
    {0, NULL},
};

/* an AuthorityKeyIdentifier with issuer name and serial but no keyid */
static const struct ext_spec aki_nokid_exts[] = {
    {NID_subject_alt_name, "DNS:nokid.example.test"},
    {NID_authority_key_identifier, "issuer:always"},
    {0, NULL},
};

enum { C_ROOT_EC, C_LEAF_RSA, C_ROOT_RSA, C_V1, C_AKI_NOKID, NCERTS };

static const struct spec specs[NCERTS] = {
    [C_ROOT_EC] = {"root-ec", X509_VERSION_3, {0x01}, 1, 0, -1, T_2023, T_2060,
        V_ASN1_UTCTIME, V_ASN1_GENERALIZEDTIME, 1, root_ec_exts},
    [C_LEAF_RSA] = {"leaf-rsa", X509_VERSION_3,
        {0x9c, 0x3f, 0x12, 0x00, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
            0x0f, 0xf0, 0x5a, 0xa5},
        16, 1, C_ROOT_EC, T_2023, T_2049_END, V_ASN1_UTCTIME, V_ASN1_UTCTIME, 1,
        leaf_rsa_exts},
    [C_ROOT_RSA] = {"root-rsa", X509_VERSION_3, {0xff}, 1, 1, -1, T_2023,
        T_2060, V_ASN1_UTCTIME, V_ASN1_GENERALIZEDTIME, 0, root_rsa_exts},
    [C_V1] = {"v1", X509_VERSION_1, {0x01}, 1, 0, C_ROOT_RSA, T_1950, T_2050,
        V_ASN1_UTCTIME, V_ASN1_GENERALIZEDTIME, 0, NULL},
    [C_AKI_NOKID] = {"aki-nokid", X509_VERSION_3, {0x80, 0x00, 0x01}, 3, 0,
        C_ROOT_RSA, T_2024_LEAP, T_2060_MID, V_ASN1_UTCTIME,
        V_ASN1_GENERALIZEDTIME, 0, aki_nokid_exts},
};

struct cert {
	X509 *x;
	EVP_PKEY *key; /* borrowed from the fixture */
	unsigned char *der;
	size_t len;
};

struct fixture {
	EVP_PKEY *ec, *rsa;
	struct cert c[NCERTS];
};

static X509 *
make_cert(const struct spec *s, EVP_PKEY *key, const struct cert *issuer)
{
	X509 *x = NULL, *ret = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	X509V3_CTX ctx;

	x = X509_new();
	name = X509_NAME_new();
	bn = BN_bin2bn(s->serial, (int)s->serial_len, NULL);
	if (x == NULL || name == NULL || bn == NULL)
		goto out;
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (serial == NULL || X509_set_version(x, s->version) != 1 ||
	    X509_set_serialNumber(x, serial) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	        (const unsigned char *)"acmebridge tests", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	        (const unsigned char *)s->name, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(
	        x, issuer != NULL ? X509_get_subject_name(issuer->x) : name) !=
	        1 ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before) ==
	        NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after) ==
	        NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer->x : x, x, NULL, NULL, 0);
	for (const struct ext_spec *e = s->exts; e != NULL && e->nid != 0;
	     e++) {
		X509_EXTENSION *ext;
		int ok;

		ext = X509V3_EXT_conf_nid(NULL, &ctx, e->nid, e->value);
		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
		X509_EXTENSION_free(ext);
		if (!ok)
			goto out;
	}
	if (X509_sign(x, issuer != NULL ? issuer->key : key, EVP_sha256()) <= 0)
		goto out;
	ret = x;
	x = NULL;
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return ret;
}

static int
group_setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	*state = f;
	f->ec = EVP_EC_gen("P-256");
	f->rsa = EVP_RSA_gen(2048);
	if (f->ec == NULL || f->rsa == NULL)
		return -1;
	/* specs[] lists issuers before the certificates they sign */
	for (int i = 0; i < NCERTS; i++) {
		const struct spec *s = &specs[i];
		struct cert *c = &f->c[i];
		unsigned char *der = NULL;
		int n;

		c->key = s->key_rsa ? f->rsa : f->ec;
		c->x = make_cert(
		    s, c->key, s->issuer >= 0 ? &f->c[s->issuer] : NULL);
		if (c->x == NULL)
			return -1;
		n = i2d_X509(c->x, &der);
		if (n <= 0)
			return -1;
		c->der = der;
		c->len = (size_t)n;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	for (int i = 0; i < NCERTS; i++) {
		X509_free(f->c[i].x);
		OPENSSL_free(f->c[i].der);
	}
	EVP_PKEY_free(f->ec);
	EVP_PKEY_free(f->rsa);
	free(f);
	free(held);
	held = NULL;
	return 0;
}

/* p[0..n) lies inside buf[0..len); compared as integers, since relational
 * operators on pointers into different objects are undefined. */
static void
assert_inside(
    const unsigned char *p, size_t n, const unsigned char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;

	assert_non_null(p);
	assert_true(a >= b);
	assert_true(a - b <= len);
	assert_true(n <= len - (a - b));
}

/* Every pointer a successful parse returns lies inside the input. */
static void
assert_fields_inside(
    const struct x509der *x, const unsigned char *buf, size_t len)
{
	assert_inside(x->serial, x->serial_len, buf, len);
	assert_inside(x->issuer, x->issuer_len, buf, len);
	assert_inside(x->subject, x->subject_len, buf, len);
	assert_inside(x->spki, x->spki_len, buf, len);
	if (x->aki != NULL)
		assert_inside(x->aki, x->aki_len, buf, len);
	else
		assert_int_equal(x->aki_len, 0);
}

static void
assert_bytes(
    const unsigned char *p, size_t n, const unsigned char *ref, int ref_len)
{
	assert_true(ref_len > 0);
	assert_int_equal(n, (size_t)ref_len);
	assert_memory_equal(p, ref, n);
}

static long long
ossl_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (long long)timegm(&tm);
}

/* The walker's fields for der equal OpenSSL's for the same bytes. */
static void
assert_matches_openssl(
    const unsigned char *der, size_t len, const struct x509der *w)
{
	const unsigned char *p = der;
	const ASN1_INTEGER *sn;
	const ASN1_OCTET_STRING *kid;
	unsigned char *enc = NULL;
	X509 *x;
	int n;

	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	assert_ptr_equal(p, der + len);

	/* serial: the INTEGER's contents octets, then the magnitude */
	sn = X509_get0_serialNumber(x);
	n = i2d_ASN1_INTEGER(sn, &enc);
	assert_true(n > 2 && enc[0] == 0x02 && enc[1] < 0x80);
	assert_bytes(w->serial, w->serial_len, enc + 2, enc[1]);
	OPENSSL_free(enc);
	enc = NULL;
	if (w->serial_len > 1 && w->serial[0] == 0x00)
		assert_bytes(w->serial + 1, w->serial_len - 1,
		    ASN1_STRING_get0_data(sn), ASN1_STRING_length(sn));
	else
		assert_bytes(w->serial, w->serial_len,
		    ASN1_STRING_get0_data(sn), ASN1_STRING_length(sn));

	n = i2d_X509_NAME(X509_get_issuer_name(x), &enc);
	assert_bytes(w->issuer, w->issuer_len, enc, n);
	OPENSSL_free(enc);
	enc = NULL;
	n = i2d_X509_NAME(X509_get_subject_name(x), &enc);
	assert_bytes(w->subject, w->subject_len, enc, n);
	OPENSSL_free(enc);
	enc = NULL;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &enc);
	assert_bytes(w->spki, w->spki_len, enc, n);
	OPENSSL_free(enc);
	enc = NULL;

	assert_true(w->not_before == ossl_time(X509_get0_notBefore(x)));
	assert_true(w->not_after == ossl_time(X509_get0_notAfter(x)));

	kid = X509_get0_authority_key_id(x);
	if (kid == NULL) {
		assert_null(w->aki);
		assert_int_equal(w->aki_len, 0);
	} else {
		assert_non_null(w->aki);
		assert_bytes(w->aki, w->aki_len, ASN1_STRING_get0_data(kid),
		    ASN1_STRING_length(kid));
	}
	X509_free(x);
}

/* Offset of the TBSCertificate's first element (the [0] version, if any) */
static size_t
first_tbs_octet(const unsigned char *der)
{
	size_t off = 0;

	for (int i = 0; i < 2; i++)
		off +=
		    2 + ((der[off + 1] & 0x80) != 0 ? der[off + 1] & 0x7f : 0);
	return off;
}

/* Each generated certificate: fields equal OpenSSL's and what was made. */
static void
test_openssl_certs(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < NCERTS; i++) {
		const struct spec *s = &specs[i];
		const struct cert *c = &f->c[i];
		struct x509der w;
		size_t lead;

		print_message("cert %s (%zu bytes)\n", s->name, c->len);
		/* the cases cover what they claim to */
		assert_int_equal(X509_get_version(c->x), s->version);
		assert_int_equal(
		    ASN1_STRING_type(X509_get0_notBefore(c->x)), s->nb_type);
		assert_int_equal(
		    ASN1_STRING_type(X509_get0_notAfter(c->x)), s->na_type);
		assert_int_equal(c->der[first_tbs_octet(c->der)] == 0xa0,
		    s->version == X509_VERSION_3);

		memset(&w, 0xa5, sizeof(w));
		assert_int_equal(x509der_parse(c->der, c->len, &w), 0);
		assert_fields_inside(&w, c->der, c->len);
		assert_matches_openssl(c->der, c->len, &w);

		/* and what the spec asked for */
		lead = (s->serial[0] & 0x80) != 0 ? 1 : 0;
		assert_int_equal(w.serial_len, s->serial_len + lead);
		if (lead)
			assert_int_equal(w.serial[0], 0x00);
		assert_memory_equal(w.serial + lead, s->serial, s->serial_len);
		assert_true(w.not_before == s->not_before);
		assert_true(w.not_after == s->not_after);
		assert_int_equal(w.aki != NULL, s->has_aki_kid);
		if (s->issuer < 0) {
			assert_int_equal(w.issuer_len, w.subject_len);
			assert_memory_equal(w.issuer, w.subject, w.issuer_len);
		} else {
			struct x509der iw;
			const struct cert *ic = &f->c[s->issuer];

			assert_false(w.issuer_len == w.subject_len &&
			    memcmp(w.issuer, w.subject, w.issuer_len) == 0);
			assert_int_equal(
			    x509der_parse(ic->der, ic->len, &iw), 0);
			assert_int_equal(w.issuer_len, iw.subject_len);
			assert_memory_equal(w.issuer, iw.subject, w.issuer_len);
		}
	}
}

/* A self-signed root's AKI equals its own SKI; the leaf's equals its
 * issuer's SKI (the fact the bridge matches chains on). */
static void
test_aki_is_issuer_ski(void **state)
{
	struct fixture *f = *state;
	const ASN1_OCTET_STRING *ski;
	struct x509der w;

	ski = X509_get0_subject_key_id(f->c[C_ROOT_EC].x);
	assert_non_null(ski);
	assert_int_equal(ASN1_STRING_length(ski), 20);
	assert_int_equal(
	    x509der_parse(f->c[C_ROOT_EC].der, f->c[C_ROOT_EC].len, &w), 0);
	assert_bytes(w.aki, w.aki_len, ASN1_STRING_get0_data(ski),
	    ASN1_STRING_length(ski));
	assert_int_equal(
	    x509der_parse(f->c[C_LEAF_RSA].der, f->c[C_LEAF_RSA].len, &w), 0);
	assert_bytes(w.aki, w.aki_len, ASN1_STRING_get0_data(ski),
	    ASN1_STRING_length(ski));
	/* the v1 certificate has no extensions at all */
	assert_int_equal(x509der_parse(f->c[C_V1].der, f->c[C_V1].len, &w), 0);
	assert_null(w.aki);
	assert_int_equal(X509_get_ext_count(f->c[C_V1].x), 0);
}

/* Parse a heap copy of exactly len bytes, so ASan sees any over-read. */
static int
parse_copy(const unsigned char *der, size_t len, struct x509der *w)
{
	int rc;

	free(held);
	held = malloc(len > 0 ? len : 1);
	assert_non_null(held);
	memcpy(held, der, len);
	rc = x509der_parse(held, len, w);
	if (rc == 0)
		assert_fields_inside(w, held, len);
	return rc;
}

static void
test_null_and_empty(void **state)
{
	struct fixture *f = *state;
	struct x509der w;

	assert_int_equal(x509der_parse(NULL, 0, &w), -1);
	assert_int_equal(x509der_parse(f->c[C_ROOT_EC].der, 0, &w), -1);
	assert_int_equal(x509der_parse(NULL, f->c[C_ROOT_EC].len, &w), -1);
}

static void
test_truncated(void **state)
{
	struct fixture *f = *state;
	struct x509der w;

	for (int i = 0; i < NCERTS; i++) {
		const struct cert *c = &f->c[i];

		for (size_t n = 1; n < c->len; n++)
			assert_int_equal(parse_copy(c->der, n, &w), -1);
		assert_int_equal(parse_copy(c->der, c->len, &w), 0);
	}
}

/* A DER byte buffer for building certificates by hand. */
struct dbuf {
	unsigned char d[4096];
	size_t n;
};

static void
put(struct dbuf *b, const void *p, size_t n)
{
	assert_true(n <= sizeof(b->d) - b->n);
	if (n > 0)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void
put_tlv(struct dbuf *b, unsigned char tag, const void *p, size_t n)
{
	unsigned char h[4];
	size_t hn = 0;

	h[hn++] = tag;
	if (n < 0x80) {
		h[hn++] = (unsigned char)n;
	} else if (n < 0x100) {
		h[hn++] = 0x81;
		h[hn++] = (unsigned char)n;
	} else {
		assert_true(n < 0x10000);
		h[hn++] = 0x82;
		h[hn++] = (unsigned char)(n >> 8);
		h[hn++] = (unsigned char)n;
	}
	put(b, h, hn);
	put(b, p, n);
}

static void
put_i2d_name(struct dbuf *b, const X509_NAME *name)
{
	unsigned char *enc = NULL;
	int n = i2d_X509_NAME(name, &enc);

	assert_true(n > 0);
	put(b, enc, (size_t)n);
	OPENSSL_free(enc);
}

static void
put_i2d_pubkey(struct dbuf *b, const X509_PUBKEY *pk)
{
	unsigned char *enc = NULL;
	int n = i2d_X509_PUBKEY(pk, &enc);

	assert_true(n > 0);
	put(b, enc, (size_t)n);
	OPENSSL_free(enc);
}

/* A certificate in parts, each part whole TLVs (or empty). */
struct synth {
	struct dbuf version, serial, sigalg, issuer, validity, subject, spki;
	struct dbuf tail;   /* after the key: [1], [2], [3] */
	struct dbuf outer;  /* after the TBSCertificate */
	int tbs_tag;        /* 0x30 */
	int tbs_indefinite; /* encode the TBSCertificate with 0x80 */
};

static const unsigned char ecdsa_sha256[] = {
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char oid_aki[] = {0x55, 0x1d, 0x23};
static const unsigned char oid_bc[] = {0x55, 0x1d, 0x13};
static const unsigned char kid20[20] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
    0x22, 0x23};

static void
set_validity(struct dbuf *v, unsigned char t1, const char *s1, unsigned char t2,
    const char *s2)
{
	struct dbuf in = {.n = 0};

	put_tlv(&in, t1, s1, strlen(s1));
	put_tlv(&in, t2, s2, strlen(s2));
	v->n = 0;
	put_tlv(v, 0x30, in.d, in.n);
}

/* Extension { extnID, critical?, extnValue OCTET STRING { val } } */
static void
put_ext(struct dbuf *exts, const unsigned char *oid, size_t oid_len,
    int critical, const struct dbuf *val)
{
	struct dbuf e = {.n = 0};

	put_tlv(&e, 0x06, oid, oid_len);
	if (critical)
		put(&e, "\x01\x01\xff", 3);
	put_tlv(&e, 0x04, val->d, val->n);
	put_tlv(exts, 0x30, e.d, e.n);
}

/* tail = [3] { SEQUENCE { exts } } */
static void
set_exts(struct dbuf *tail, const struct dbuf *exts)
{
	struct dbuf seq = {.n = 0};

	put_tlv(&seq, 0x30, exts->d, exts->n);
	tail->n = 0;
	put_tlv(tail, 0xa3, seq.d, seq.n);
}

/* AuthorityKeyIdentifier with keyIdentifier kid20 */
static void
aki_value(struct dbuf *v)
{
	struct dbuf in = {.n = 0};

	put_tlv(&in, 0x80, kid20, sizeof(kid20));
	v->n = 0;
	put_tlv(v, 0x30, in.d, in.n);
}

/* A v3 certificate with the leaf's names and key, serial 0x2a, validity
 * 2023..2060, one AKI extension, and a dummy ECDSA signature. */
static void
synth_default(const struct fixture *f, struct synth *s)
{
	const X509 *x = f->c[C_LEAF_RSA].x;
	struct dbuf exts = {.n = 0}, v = {.n = 0};

	memset(s, 0, sizeof(*s));
	put(&s->version, "\xa0\x03\x02\x01\x02", 5);
	put(&s->serial, "\x02\x01\x2a", 3);
	put(&s->sigalg, ecdsa_sha256, sizeof(ecdsa_sha256));
	put_i2d_name(&s->issuer, X509_get_issuer_name(x));
	set_validity(
	    &s->validity, 0x17, "231114221320Z", 0x18, "20600101000000Z");
	put_i2d_name(&s->subject, X509_get_subject_name(x));
	put_i2d_pubkey(&s->spki, X509_get_X509_PUBKEY(x));
	aki_value(&v);
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &v);
	set_exts(&s->tail, &exts);
	put(&s->outer, ecdsa_sha256, sizeof(ecdsa_sha256));
	put_tlv(&s->outer, 0x03, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
	s->tbs_tag = 0x30;
}

static void
synth_der(const struct synth *s, struct dbuf *out)
{
	struct dbuf tbs = {.n = 0}, cert = {.n = 0};

	put(&tbs, s->version.d, s->version.n);
	put(&tbs, s->serial.d, s->serial.n);
	put(&tbs, s->sigalg.d, s->sigalg.n);
	put(&tbs, s->issuer.d, s->issuer.n);
	put(&tbs, s->validity.d, s->validity.n);
	put(&tbs, s->subject.d, s->subject.n);
	put(&tbs, s->spki.d, s->spki.n);
	put(&tbs, s->tail.d, s->tail.n);
	if (s->tbs_indefinite) {
		put(&cert, "\x30\x80", 2);
		put(&cert, tbs.d, tbs.n);
		put(&cert, "\x00\x00", 2);
	} else {
		put_tlv(&cert, (unsigned char)s->tbs_tag, tbs.d, tbs.n);
	}
	put(&cert, s->outer.d, s->outer.n);
	out->n = 0;
	put_tlv(out, 0x30, cert.d, cert.n);
}

static int
synth_parse(const struct synth *s, struct x509der *w)
{
	struct dbuf der;

	synth_der(s, &der);
	return parse_copy(der.d, der.n, w);
}

/* OpenSSL's decoder accepts the hand-built certificate or not. */
static int
synth_openssl_ok(const struct synth *s)
{
	struct dbuf der;
	const unsigned char *p;
	X509 *x;
	int ok;

	synth_der(s, &der);
	p = der.d;
	x = d2i_X509(NULL, &p, (long)der.n);
	ok = x != NULL && p == der.d + der.n;
	X509_free(x);
	return ok;
}

/* The control for all hand-built cases: valid as built, for both. */
static void
test_synth_valid(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;
	struct dbuf der;

	synth_default(f, &s);
	assert_true(synth_openssl_ok(&s));
	synth_der(&s, &der);
	assert_int_equal(parse_copy(der.d, der.n, &w), 0);
	assert_matches_openssl(held, der.n, &w);
	assert_int_equal(w.serial_len, 1);
	assert_int_equal(w.serial[0], 0x2a);
	assert_true(w.not_before == T_2023);
	assert_true(w.not_after == T_2060);
	assert_bytes(w.aki, w.aki_len, kid20, sizeof(kid20));

	/* a v1 form: no [0] version, no extensions */
	s.version.n = 0;
	s.tail.n = 0;
	assert_true(synth_openssl_ok(&s));
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_null(w.aki);
	assert_int_equal(w.serial[0], 0x2a);
}

static void
test_trailing_garbage(void **state)
{
	struct fixture *f = *state;
	const struct cert *c = &f->c[C_LEAF_RSA];
	static const unsigned char tails[][2] = {{0x00}, {0x30, 0x00}};
	struct x509der w;
	unsigned char *b;

	b = malloc(2 * c->len);
	assert_non_null(b);
	for (size_t i = 0; i < 2; i++) {
		memcpy(b, c->der, c->len);
		memcpy(b + c->len, tails[i], i + 1);
		assert_int_equal(parse_copy(b, c->len + i + 1, &w), -1);
	}
	/* two certificates back to back are not one */
	memcpy(b, c->der, c->len);
	memcpy(b + c->len, c->der, c->len);
	assert_int_equal(parse_copy(b, 2 * c->len, &w), -1);
	free(b);
}

/* Re-encode the outer SEQUENCE's header of a generated certificate. */
static size_t
reheader(const struct cert *c, const unsigned char *hdr, size_t hn,
    const unsigned char *trailer, size_t tn, unsigned char *out)
{
	size_t off;

	/* every generated certificate is longer than 255 bytes */
	assert_int_equal(c->der[0], 0x30);
	assert_int_equal(c->der[1], 0x82);
	off = 4;
	memcpy(out, hdr, hn);
	memcpy(out + hn, c->der + off, c->len - off);
	if (tn > 0)
		memcpy(out + hn + c->len - off, trailer, tn);
	return hn + c->len - off + tn;
}

static void
test_bad_lengths(void **state)
{
	struct fixture *f = *state;
	const struct cert *c = &f->c[C_ROOT_EC];
	size_t body = c->len - 4, n;
	unsigned char *b;
	struct x509der w;
	unsigned char hdr[12];

	b = malloc(c->len + 16);
	assert_non_null(b);

	/* indefinite length, with its end-of-contents octets */
	n = reheader(c, (const unsigned char *)"\x30\x80", 2,
	    (const unsigned char *)"\x00\x00", 2, b);
	assert_int_equal(parse_copy(b, n, &w), -1);

	/* length-of-length 5, 8 and 127 octets */
	for (size_t lol = 5; lol <= 8; lol += 3) {
		memset(hdr, 0, sizeof(hdr));
		hdr[0] = 0x30;
		hdr[1] = (unsigned char)(0x80 | lol);
		hdr[lol] = (unsigned char)(body >> 8);
		hdr[lol + 1] = (unsigned char)body;
		n = reheader(c, hdr, lol + 2, NULL, 0, b);
		assert_int_equal(parse_copy(b, n, &w), -1);
	}
	n = reheader(c, (const unsigned char *)"\x30\xff", 2, NULL, 0, b);
	assert_int_equal(parse_copy(b, n, &w), -1);

	/* a length far beyond the buffer */
	n = reheader(c, (const unsigned char *)"\x30\x84\xff\xff\xff\xff", 6,
	    NULL, 0, b);
	assert_int_equal(parse_copy(b, n, &w), -1);
	free(b);
}

static void
test_inner_bad_lengths(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;

	/* an indefinite-length TBSCertificate */
	synth_default(f, &s);
	s.tbs_indefinite = 1;
	assert_int_equal(synth_parse(&s, &w), -1);

	/* a serial claiming more octets than its parent holds */
	synth_default(f, &s);
	s.serial.n = 0;
	put(&s.serial, "\x02\x7f\x01", 3);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* a length-of-length of 5 inside the TBSCertificate */
	synth_default(f, &s);
	s.serial.n = 0;
	put(&s.serial, "\x02\x85\x00\x00\x00\x00\x01\x2a", 8);
	assert_int_equal(synth_parse(&s, &w), -1);
}

/* Add one to the length in a TLV's header (short or long form). */
static void
bump_len(struct dbuf *tlv)
{
	unsigned char *l = tlv->d + 1;
	size_t n = 1;

	if (*l >= 0x80) {
		n = *l & 0x7f;
		l++;
	}
	assert_true(n >= 1 && n <= 2 && tlv->n > 1 + n);
	/* the tests only bump lengths whose last octet does not carry */
	assert_true(l[n - 1] != 0xff && !(n == 1 && l[0] == 0x7f));
	l[n - 1]++;
}

/*
 * An element one octet longer than its parent, where the parent ends the
 * buffer: a bounds check off by one would let the walk step past the end
 * (with the key's TLV reaching outside the buffer in the second case).
 */
static void
test_one_octet_too_long(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;
	struct dbuf tbs, der;

	for (int spki_too = 0; spki_too <= 1; spki_too++) {
		synth_default(f, &s);
		s.tail.n = 0;
		if (spki_too)
			bump_len(&s.spki);
		tbs.n = 0;
		put(&tbs, s.version.d, s.version.n);
		put(&tbs, s.serial.d, s.serial.n);
		put(&tbs, s.sigalg.d, s.sigalg.n);
		put(&tbs, s.issuer.d, s.issuer.n);
		put(&tbs, s.validity.d, s.validity.n);
		put(&tbs, s.subject.d, s.subject.n);
		put(&tbs, s.spki.d, s.spki.n);
		der.n = 0;
		put_tlv(&der, 0x30, tbs.d, tbs.n);
		bump_len(&der);
		s.outer = der; /* the whole TBSCertificate, and nothing after */
		der.n = 0;
		put_tlv(&der, 0x30, s.outer.d, s.outer.n);
		assert_int_equal(parse_copy(der.d, der.n, &w), -1);
	}
}

static void
test_wrong_tags(void **state)
{
	struct fixture *f = *state;
	const struct cert *c = &f->c[C_ROOT_EC];
	static const unsigned char tags[] = {
	    0x31, 0x10, 0x00, 0x02, 0x04, 0xa0, 0x3f, 0x1f, 0xff};
	unsigned char *b;
	struct x509der w;
	struct synth s;

	b = malloc(c->len);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(tags); i++) {
		memcpy(b, c->der, c->len);
		b[0] = tags[i];
		assert_int_equal(parse_copy(b, c->len, &w), -1);
	}
	free(b);

	/* TBSCertificate not a SEQUENCE */
	synth_default(f, &s);
	s.tbs_tag = 0x31;
	assert_int_equal(synth_parse(&s, &w), -1);
	/* serial not an INTEGER, or an empty one */
	synth_default(f, &s);
	s.serial.d[0] = 0x04;
	assert_int_equal(synth_parse(&s, &w), -1);
	synth_default(f, &s);
	s.serial.n = 0;
	put(&s.serial, "\x02\x00", 2);
	assert_int_equal(synth_parse(&s, &w), -1);
	/* no serial at all */
	synth_default(f, &s);
	s.serial.n = 0;
	assert_int_equal(synth_parse(&s, &w), -1);
	/* issuer, validity, subject, key not SEQUENCEs */
	synth_default(f, &s);
	s.issuer.d[0] = 0x31;
	assert_int_equal(synth_parse(&s, &w), -1);
	synth_default(f, &s);
	s.validity.d[0] = 0x31;
	assert_int_equal(synth_parse(&s, &w), -1);
	synth_default(f, &s);
	s.subject.d[0] = 0x31;
	assert_int_equal(synth_parse(&s, &w), -1);
	synth_default(f, &s);
	s.spki.d[0] = 0x04;
	assert_int_equal(synth_parse(&s, &w), -1);
	/* the TBSCertificate ends before the key */
	synth_default(f, &s);
	s.spki.n = 0;
	s.tail.n = 0;
	assert_int_equal(synth_parse(&s, &w), -1);
}

/* Validity forms RFC 5280 §4.1.2.5 allows, at the century boundaries. */
static void
test_times_valid(void **state)
{
	struct fixture *f = *state;
	static const struct {
		unsigned char tag;
		const char *s;
		long long t;
	} v[] = {
	    {0x17, "500101000000Z", T_1950},
	    {0x17, "491231235959Z", T_2049_END},
	    {0x17, "700101000000Z", 0},
	    {0x17, "240229120000Z", T_2024_LEAP},
	    {0x18, "20500101000000Z", T_2050},
	    {0x18, "20600630123456Z", T_2060_MID},
	};
	struct synth s;
	struct x509der w;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		synth_default(f, &s);
		set_validity(&s.validity, v[i].tag, v[i].s, v[i].tag, v[i].s);
		assert_true(synth_openssl_ok(&s));
		assert_int_equal(synth_parse(&s, &w), 0);
		assert_true(w.not_before == v[i].t);
		assert_true(w.not_after == v[i].t);
	}
}

static const struct {
	unsigned char tag;
	const char *s;
} bad_times[] = {
    {0x17, "2311A4221320Z"},             /* letter */
    {0x17, "23111422132OZ"},             /* letter O for zero */
    {0x17, " 31114221320Z"},             /* space */
    {0x17, "-31114221320Z"},             /* sign */
    {0x17, "231314221320Z"},             /* month 13 */
    {0x17, "230014221320Z"},             /* month 0 */
    {0x17, "231100221320Z"},             /* day 0 */
    {0x17, "231132221320Z"},             /* day 32 */
    {0x17, "231114241320Z"},             /* hour 24 */
    {0x17, "231114226020Z"},             /* minute 60 */
    {0x17, "231114221361Z"},             /* second 61 */
    {0x17, "231114221320"},              /* no Z */
    {0x17, "2311142213200"},             /* no Z, right length */
    {0x17, "231114221320z"},             /* lower-case z */
    {0x17, "2311142213Z"},               /* no seconds */
    {0x17, "231114221320+0100"},         /* offset */
    {0x17, "20231114221320Z"},           /* GeneralizedTime form in a UTCTime */
    {0x17, ""}, {0x18, "231114221320Z"}, /* UTCTime form in a GeneralizedTime */
    {0x18, "20601301000000Z"},           /* month 13 */
    {0x18, "2060010100000Z"},            /* short */
    {0x18, "20600101000000"},            /* no Z */
    {0x18, "206001010000000"},           /* no Z, right length */
    {0x18, "20600101000000.5Z"},         /* fraction */
    {0x18, "2O600101000000Z"},           /* letter in the year */
    {0x04, "231114221320Z"},             /* OCTET STRING */
    {0x13, "231114221320Z"},             /* PrintableString */
};

static void
test_times_bad(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;

	for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		print_message(
		    "time %02x \"%s\"\n", bad_times[i].tag, bad_times[i].s);
		synth_default(f, &s);
		set_validity(&s.validity, bad_times[i].tag, bad_times[i].s,
		    0x18, "20600101000000Z");
		assert_int_equal(synth_parse(&s, &w), -1);
		set_validity(&s.validity, 0x17, "231114221320Z",
		    bad_times[i].tag, bad_times[i].s);
		assert_int_equal(synth_parse(&s, &w), -1);
	}
	/* a Validity with one time, or none */
	synth_default(f, &s);
	s.validity.n = 0;
	put(&s.validity,
	    "\x30\x0f\x17\x0d"
	    "231114221320Z",
	    17);
	assert_int_equal(synth_parse(&s, &w), -1);
	synth_default(f, &s);
	s.validity.n = 0;
	put(&s.validity, "\x30\x00", 2);
	assert_int_equal(synth_parse(&s, &w), -1);
}

/*
 * Dates that do not exist. OpenSSL refuses them (ASN1_TIME_check and
 * ASN1_TIME_to_tm fail); a walker that passes them to timegm() instead
 * silently moves them into the next month or minute.
 */
static void
test_times_nonexistent(void **state)
{
	struct fixture *f = *state;
	static const char *v[] = {
	    "230230000000Z", /* 30 February */
	    "230229000000Z", /* 29 February, not a leap year */
	    "230431000000Z", /* 31 April */
	    "231231235960Z", /* second 60 */
	};
	struct synth s;
	struct x509der w;
	int accepted = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ASN1_UTCTIME *t = ASN1_UTCTIME_new();
		int ossl;

		/* set the octets as they are: ASN1_UTCTIME_set_string()
		 * would check them itself */
		assert_non_null(t);
		assert_int_equal(
		    ASN1_STRING_set(t, v[i], (int)strlen(v[i])), 1);
		ossl = ASN1_TIME_check(t);
		ASN1_UTCTIME_free(t);
		assert_int_equal(ossl, 0);

		synth_default(f, &s);
		set_validity(&s.validity, 0x17, v[i], 0x18, "20600101000000Z");
		if (synth_parse(&s, &w) != -1) {
			print_message("time \"%s\" accepted as %lld\n", v[i],
			    w.not_before);
			accepted++;
		}
	}
	assert_int_equal(accepted, 0);
}

static void
test_extensions_bad(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;
	struct dbuf e, exts;

	/* basicConstraints, critical, value not in an OCTET STRING */
	synth_default(f, &s);
	e.n = 0;
	put(&e, "\x06\x03\x55\x1d\x13\x01\x01\xff\x30\x03\x01\x01\xff", 13);
	exts.n = 0;
	put_tlv(&exts, 0x30, e.d, e.n);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);
	assert_false(synth_openssl_ok(&s));

	/* the same, not critical */
	e.n = 0;
	put(&e, "\x06\x03\x55\x1d\x13\x30\x03\x01\x01\xff", 10);
	exts.n = 0;
	put_tlv(&exts, 0x30, e.d, e.n);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* only the OID; the OID and the critical flag */
	exts.n = 0;
	put(&exts, "\x30\x05\x06\x03\x55\x1d\x13", 7);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);
	exts.n = 0;
	put(&exts, "\x30\x08\x06\x03\x55\x1d\x13\x01\x01\xff", 10);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* the extnID not an OBJECT IDENTIFIER */
	exts.n = 0;
	put(&exts, "\x30\x07\x04\x03\x55\x1d\x13\x04\x00", 9);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* an Extension that is a SET */
	exts.n = 0;
	put(&exts, "\x31\x07\x06\x03\x55\x1d\x13\x04\x00", 9);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* [3] holding an OCTET STRING, or two SEQUENCEs */
	s.tail.n = 0;
	put(&s.tail, "\xa3\x02\x04\x00", 4);
	assert_int_equal(synth_parse(&s, &w), -1);
	s.tail.n = 0;
	put(&s.tail, "\xa3\x04\x30\x00\x30\x00", 6);
	assert_int_equal(synth_parse(&s, &w), -1);
	/* [3] empty */
	s.tail.n = 0;
	put(&s.tail, "\xa3\x00", 2);
	assert_int_equal(synth_parse(&s, &w), -1);

	/* an AKI whose value is not a SEQUENCE */
	e.n = 0;
	put_tlv(&e, 0x04, kid20, sizeof(kid20));
	exts.n = 0;
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &e);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);
	/* an AKI with an empty value */
	e.n = 0;
	exts.n = 0;
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &e);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), -1);
}

static void
test_extensions_valid(void **state)
{
	struct fixture *f = *state;
	struct synth s;
	struct x509der w;
	struct dbuf v, exts;

	/* a critical AKI after a critical basicConstraints */
	synth_default(f, &s);
	v.n = 0;
	put(&v, "\x30\x03\x01\x01\xff", 5);
	exts.n = 0;
	put_ext(&exts, oid_bc, sizeof(oid_bc), 1, &v);
	aki_value(&v);
	put_ext(&exts, oid_aki, sizeof(oid_aki), 1, &v);
	set_exts(&s.tail, &exts);
	assert_true(synth_openssl_ok(&s));
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_bytes(w.aki, w.aki_len, kid20, sizeof(kid20));

	/* an AKI without a keyIdentifier: issuer and serial only */
	v.n = 0;
	put(&v, "\x30\x03\x82\x01\x07", 5);
	exts.n = 0;
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &v);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_null(w.aki);
	assert_int_equal(w.aki_len, 0);
	/* an empty AKI SEQUENCE */
	v.n = 0;
	put(&v, "\x30\x00", 2);
	exts.n = 0;
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &v);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_null(w.aki);

	/* a keyIdentifier of one octet */
	v.n = 0;
	put(&v, "\x30\x03\x80\x01\x5a", 5);
	exts.n = 0;
	put_ext(&exts, oid_aki, sizeof(oid_aki), 0, &v);
	set_exts(&s.tail, &exts);
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_int_equal(w.aki_len, 1);
	assert_int_equal(w.aki[0], 0x5a);

	/* issuerUniqueID and subjectUniqueID before the extensions */
	synth_default(f, &s);
	exts = s.tail;
	s.tail.n = 0;
	put(&s.tail, "\x81\x02\x00\x01\x82\x02\x00\x02", 8);
	put(&s.tail, exts.d, exts.n);
	assert_true(synth_openssl_ok(&s));
	assert_int_equal(synth_parse(&s, &w), 0);
	assert_bytes(w.aki, w.aki_len, kid20, sizeof(kid20));
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue } (RFC 5280 §4.1): without the last two, or with more
 * after them, the bytes are not a certificate, and OpenSSL says so.
 */
static void
test_outer_structure(void **state)
{
	struct fixture *f = *state;
	static const char *what[] = {"no signatureAlgorithm, no signature",
	    "no signatureValue", "a NULL after the signatureValue"};
	struct synth s;
	struct x509der w;
	int accepted = 0;

	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		synth_default(f, &s);
		if (i == 0) {
			s.outer.n = 0;
		} else if (i == 1) {
			s.outer.n = 0;
			put(&s.outer, ecdsa_sha256, sizeof(ecdsa_sha256));
		} else {
			put(&s.outer, "\x05\x00", 2);
		}
		assert_false(synth_openssl_ok(&s));
		if (synth_parse(&s, &w) != -1) {
			print_message("accepted: %s\n", what[i]);
			accepted++;
		}
	}
	assert_int_equal(accepted, 0);
}

/* xorshift64*: a fixed sequence of positions and values (the keys, and so
 * the certificates, are new on each run) */
static uint64_t
rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 0x2545f4914f6cdd1dULL;
}

/* OpenSSL re-encodes the key from its parts, so where the bytes are not
 * DER (a mutated NULL parameter as an empty constructed string, say) its
 * encoding and the certificate's differ by design: compare only when the
 * walker's bytes re-encode to themselves. */
static int
canonical_spki(const struct x509der *w)
{
	const unsigned char *p = w->spki;
	unsigned char *enc = NULL;
	X509_PUBKEY *pk;
	int n = -1, same;

	pk = d2i_X509_PUBKEY(NULL, &p, (long)w->spki_len);
	if (pk != NULL)
		n = i2d_X509_PUBKEY(pk, &enc);
	same = n >= 0 && (size_t)n == w->spki_len &&
	    memcmp(enc, w->spki, w->spki_len) == 0;
	OPENSSL_free(enc);
	X509_PUBKEY_free(pk);
	return same;
}

static int
same_aki(const struct x509der *w, const ASN1_OCTET_STRING *kid)
{
	if (kid == NULL)
		return w->aki == NULL;
	return w->aki != NULL &&
	    w->aki_len == (size_t)ASN1_STRING_length(kid) &&
	    memcmp(w->aki, ASN1_STRING_get0_data(kid), w->aki_len) == 0;
}

/* Both decoders took the bytes: the byte fields agree. Times are compared
 * only where OpenSSL can read them (test_times_nonexistent covers the
 * rest); the AKI only when OpenSSL found every extension well-formed. */
static int
differs_from_openssl(const unsigned char *der, size_t len,
    const struct x509der *w, unsigned long *compared)
{
	const unsigned char *p = der;
	unsigned char *enc = NULL;
	const ASN1_INTEGER *sn;
	int n, diff = 0;
	struct tm tm;
	X509 *x;

	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL)
		return 0;
	(*compared)++;
	sn = X509_get0_serialNumber(x);
	n = i2d_ASN1_INTEGER(sn, &enc);
	if (n < 2 || enc[1] >= 0x80 || w->serial_len != enc[1] ||
	    memcmp(w->serial, enc + 2, w->serial_len) != 0)
		diff |= 1;
	OPENSSL_free(enc);
	enc = NULL;
	n = i2d_X509_NAME(X509_get_issuer_name(x), &enc);
	if (n < 0 || w->issuer_len != (size_t)n ||
	    memcmp(w->issuer, enc, w->issuer_len) != 0)
		diff |= 2;
	OPENSSL_free(enc);
	enc = NULL;
	n = i2d_X509_NAME(X509_get_subject_name(x), &enc);
	if (n < 0 || w->subject_len != (size_t)n ||
	    memcmp(w->subject, enc, w->subject_len) != 0)
		diff |= 4;
	OPENSSL_free(enc);
	enc = NULL;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &enc);
	if (canonical_spki(w) &&
	    (n < 0 || w->spki_len != (size_t)n ||
	        memcmp(w->spki, enc, w->spki_len) != 0))
		diff |= 8;
	OPENSSL_free(enc);
	enc = NULL;
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1 &&
	    (long long)timegm(&tm) != w->not_before)
		diff |= 16;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 &&
	    (long long)timegm(&tm) != w->not_after)
		diff |= 32;
	if ((X509_get_extension_flags(x) & EXFLAG_INVALID) == 0 &&
	    !same_aki(w, X509_get0_authority_key_id(x)))
		diff |= 64;
	X509_free(x);
	return diff;
}

/*
 * Random single-octet changes of each generated certificate, parsed from
 * an exact-size heap copy: each answer is -1, or 0 with every field inside
 * the buffer (and, for a sample that OpenSSL also decodes, equal to its).
 */
static void
test_mutations(void **state)
{
	struct fixture *f = *state;
	uint64_t st = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < NCERTS; i++) {
		const struct cert *c = &f->c[i];
		unsigned long ok = 0, bad = 0, diffs = 0, cmp = 0;
		unsigned char *b;

		b = malloc(c->len);
		assert_non_null(b);
		memcpy(b, c->der, c->len);
		for (int k = 0; k < MUTATIONS; k++) {
			size_t pos = (size_t)(rnd(&st) % c->len);
			unsigned char old = b[pos];
			struct x509der w;
			int rc, d;

			b[pos] ^= (unsigned char)(1 + rnd(&st) % 255);
			rc = x509der_parse(b, c->len, &w);
			if (rc == 0) {
				assert_fields_inside(&w, b, c->len);
				d = k % OSSL_EVERY != 0
				    ? 0
				    : differs_from_openssl(b, c->len, &w, &cmp);
				if (d != 0) {
					print_message("%s: octet %zu %02x->%02x"
					              " differs (%d)\n",
					    specs[i].name, pos, old, b[pos], d);
					diffs++;
				}
				ok++;
			} else {
				assert_int_equal(rc, -1);
				bad++;
			}
			b[pos] = old;
		}
		print_message("%s: %d mutations, %lu parsed (%lu of them "
		              "compared with OpenSSL), %lu refused\n",
		    specs[i].name, MUTATIONS, ok, cmp, bad);
		assert_memory_equal(b, c->der, c->len);
		free(b);
		/* the loop exercised both outcomes */
		assert_true(ok > 0);
		assert_true(bad > 0);
		assert_true(cmp > 0);
		assert_int_equal(diffs, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openssl_certs),
	    cmocka_unit_test(test_aki_is_issuer_ski),
	    cmocka_unit_test(test_null_and_empty),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_synth_valid),
	    cmocka_unit_test(test_trailing_garbage),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_inner_bad_lengths),
	    cmocka_unit_test(test_one_octet_too_long),
	    cmocka_unit_test(test_wrong_tags),
	    cmocka_unit_test(test_times_valid),
	    cmocka_unit_test(test_times_bad),
	    cmocka_unit_test(test_times_nonexistent),
	    cmocka_unit_test(test_extensions_bad),
	    cmocka_unit_test(test_extensions_valid),
	    cmocka_unit_test(test_outer_structure),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
