/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal DER walker for X.509 certificates (RFC 5280 §4.1). */
#include "contrib/x509der.h"

#include <string.h>
#include <time.h>

/* One TLV: tag, contents, and the whole encoding. */
struct tlv {
	unsigned char tag;
	const unsigned char *val;
	size_t len;
	const unsigned char *start;
	size_t total;
};

/* Read the TLV at *p (before end); advance *p past it. 0 or -1. */
static int
next(const unsigned char **p, const unsigned char *end, struct tlv *t)
{
	const unsigned char *q = *p;
	size_t len = 0;

	if (end - q < 2)
		return -1;
	t->start = q;
	t->tag = *q++;
	if ((t->tag & 0x1f) == 0x1f)
		return -1; /* high tag numbers never occur in certificates */
	if (*q < 0x80) {
		len = *q++;
	} else {
		int n = *q++ & 0x7f;
		if (n == 0 || n > 4 || end - q < n)
			return -1; /* indefinite or absurd lengths */
		while (n-- > 0)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	t->val = q;
	t->len = len;
	t->total = (size_t)(q - t->start) + len;
	*p = q + len;
	return 0;
}

static int
digits(const unsigned char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280
 * §4.1.2.5 requires exactly these forms). */
static int
parse_time(const struct tlv *t, long long *out)
{
	const unsigned char *s = t->val;
	struct tm tm;
	int year;

	memset(&tm, 0, sizeof(tm));
	if (t->tag == 0x17 && t->len == 13) {
		year = digits(s, 2);
		if (year < 0)
			return -1;
		year += year < 50 ? 2000 : 1900;
		s += 2;
	} else if (t->tag == 0x18 && t->len == 15) {
		year = digits(s, 4);
		s += 4;
	} else {
		return -1;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = digits(s, 2) - 1;
	tm.tm_mday = digits(s + 2, 2);
	tm.tm_hour = digits(s + 4, 2);
	tm.tm_min = digits(s + 6, 2);
	tm.tm_sec = digits(s + 8, 2);
	if (year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
	    tm.tm_sec > 60 || s[10] != 'Z')
		return -1;
	{
		/* timegm() would roll 30 February over into March */
		static const int mdays[] = {
		    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int leap =
		    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
		int max = mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap);
		if (tm.tm_mday > max || tm.tm_sec > 59)
			return -1;
	}
	*out = (long long)timegm(&tm);
	return 0;
}

/* extensions: SEQUENCE OF SEQUENCE { OID, [BOOLEAN], OCTET STRING } */
static int
find_aki(const struct tlv *exts, struct x509der *out)
{
	static const unsigned char aki_oid[] = {0x55, 0x1d, 0x23};
	static const unsigned char san_oid[] = {0x55, 0x1d, 0x11};
	const unsigned char *p = exts->val, *end = p + exts->len;
	struct tlv seq, ext, oid, v;

	if (next(&p, end, &seq) != 0 || seq.tag != 0x30 || p != end)
		return -1;
	p = seq.val;
	end = seq.val + seq.len;
	while (p < end) {
		const unsigned char *q;

		if (next(&p, end, &ext) != 0 || ext.tag != 0x30)
			return -1;
		q = ext.val;
		if (next(&q, ext.val + ext.len, &oid) != 0 || oid.tag != 0x06 ||
		    next(&q, ext.val + ext.len, &v) != 0)
			return -1;
		if (v.tag == 0x01 && next(&q, ext.val + ext.len, &v) != 0)
			return -1;
		if (v.tag != 0x04)
			return -1;
		if (oid.len == sizeof(san_oid) &&
		    memcmp(oid.val, san_oid, sizeof(san_oid)) == 0) {
			if (out->san != NULL)
				return -1; /* twice: RFC 5280 forbids it */
			out->san = v.val;
			out->san_len = v.len;
		}
		if (oid.len == sizeof(aki_oid) &&
		    memcmp(oid.val, aki_oid, sizeof(aki_oid)) == 0) {
			/* AuthorityKeyIdentifier ::= SEQUENCE {
			 *   keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL,
			 *   ... } */
			const unsigned char *a = v.val;
			struct tlv akis, kid;

			if (next(&a, v.val + v.len, &akis) != 0 ||
			    akis.tag != 0x30)
				return -1;
			a = akis.val;
			if (a < akis.val + akis.len &&
			    next(&a, akis.val + akis.len, &kid) == 0 &&
			    kid.tag == 0x80) {
				out->aki = kid.val;
				out->aki_len = kid.len;
			}
		}
	}
	return 0;
}

int
x509der_parse(const unsigned char *der, size_t len, struct x509der *out)
{
	const unsigned char *p, *end, *q, *tend, *cend;
	struct tlv cert, tbs, t, validity, nb, na;

	memset(out, 0, sizeof(*out));
	if (der == NULL)
		return -1;
	p = der;
	end = der + len;
	if (next(&p, end, &cert) != 0 || cert.tag != 0x30 || p != end)
		return -1;
	/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
	 * signatureValue BIT STRING } and nothing more */
	p = cert.val;
	cend = cert.val + cert.len;
	if (next(&p, cend, &tbs) != 0 || tbs.tag != 0x30 ||
	    next(&p, cend, &t) != 0 || t.tag != 0x30 ||
	    next(&p, cend, &t) != 0 || t.tag != 0x03 || p != cend)
		return -1;
	q = tbs.val;
	tend = tbs.val + tbs.len;
	if (next(&q, tend, &t) != 0)
		return -1;
	if (t.tag == 0xa0 && next(&q, tend, &t) != 0) /* [0] version */
		return -1;
	if (t.tag != 0x02 || t.len == 0)
		return -1;
	out->serial = t.val;
	out->serial_len = t.len;
	if (next(&q, tend, &t) != 0 || t.tag != 0x30) /* signature alg */
		return -1;
	if (next(&q, tend, &t) != 0 || t.tag != 0x30)
		return -1;
	out->issuer = t.start;
	out->issuer_len = t.total;
	if (next(&q, tend, &validity) != 0 || validity.tag != 0x30)
		return -1;
	p = validity.val;
	if (next(&p, validity.val + validity.len, &nb) != 0 ||
	    next(&p, validity.val + validity.len, &na) != 0 ||
	    parse_time(&nb, &out->not_before) != 0 ||
	    parse_time(&na, &out->not_after) != 0)
		return -1;
	if (next(&q, tend, &t) != 0 || t.tag != 0x30)
		return -1;
	out->subject = t.start;
	out->subject_len = t.total;
	if (next(&q, tend, &t) != 0 || t.tag != 0x30)
		return -1;
	out->spki = t.start;
	out->spki_len = t.total;
	while (q < tend) {
		if (next(&q, tend, &t) != 0)
			return -1;
		if (t.tag == 0xa3 && find_aki(&t, out) != 0)
			return -1;
	}
	return 0;
}

int
x509der_csr(const unsigned char *der, size_t len, const unsigned char **subject,
    size_t *subject_len, const unsigned char **spki, size_t *spki_len)
{
	const unsigned char *p, *end, *q, *iend;
	struct tlv req, info, t;

	if (der == NULL)
		return -1;
	p = der;
	end = der + len;
	/* CertificationRequest ::= SEQUENCE { certificationRequestInfo,
	 * signatureAlgorithm, signature }; the info is SEQUENCE { version,
	 * subject Name, subjectPKInfo, [0] attributes } */
	if (next(&p, end, &req) != 0 || req.tag != 0x30 || p != end)
		return -1;
	p = req.val;
	if (next(&p, req.val + req.len, &info) != 0 || info.tag != 0x30)
		return -1;
	q = info.val;
	iend = info.val + info.len;
	if (next(&q, iend, &t) != 0 || t.tag != 0x02)
		return -1;
	if (next(&q, iend, &t) != 0 || t.tag != 0x30)
		return -1;
	*subject = t.start;
	*subject_len = t.total;
	if (next(&q, iend, &t) != 0 || t.tag != 0x30)
		return -1;
	*spki = t.start;
	*spki_len = t.total;
	return 0;
}
