/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure helpers of the SCM backend: error bodies, the certificate chain we
 * hand on, the tag we find enrollments by, revoke reasons, URL encoding.
 */
#include "sectigo/internal.h"

#include "contrib/x509der.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "contrib/log.h"

/* Copy a printable excerpt of s (at most len bytes) into dst. */
static void
excerpt(char *dst, size_t dstsz, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 1 < dstsz && n < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

void
sectigo_parse_err(const char *body, size_t len, struct sectigo_err *out)
{
	json_t *root = NULL, *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len == 0)
		return;
	for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
		;
	if (i == len)
		return;
	root = json_loadb(body, len, 0, NULL);
	if (root == NULL || !json_is_object(root)) {
		excerpt(out->desc, sizeof(out->desc), body + i, len - i);
		goto out;
	}
	v = json_object_get(root, "code");
	if (json_is_integer(v)) {
		json_int_t c = json_integer_value(v);

		if (c >= -1000000 && c <= 1000000) {
			out->has_code = 1;
			out->code = (int)c;
		}
	}
	/* SCM uses "description"; the OAuth2 token endpoint answers with
	 * "error" and "error_description" (RFC 6749 §5.2) */
	v = json_object_get(root, "description");
	if (!json_is_string(v))
		v = json_object_get(root, "error_description");
	if (!json_is_string(v))
		v = json_object_get(root, "error");
	if (json_is_string(v))
		excerpt(out->desc, sizeof(out->desc), json_string_value(v),
		    json_string_length(v));
out:
	json_decref(root);
}

/* A trailing root is a certificate that issued itself (names match and its
 * own key verifies its signature). */
int
sectigo_chain_normalize(const char *body, size_t len, char **out)
{
	struct {
		unsigned char *der;
		long len;
		struct x509der x;
	} certs[16];
	BIO *in = NULL, *mem = NULL;
	char *lf = NULL, *res = NULL;
	size_t i, n = 0;
	int rc = -ENOMEM, count = 0;
	BUF_MEM *bm;

	memset(certs, 0, sizeof(certs));
	/* SCM may answer with CRLF line ends (see the reference, §5.5):
	 * re-armouring each certificate below gives LF-only, 64-column PEM,
	 * and walking each block's DER checks the download is what it
	 * claims, without OpenSSL's costly full X509 decode */
	lf = malloc(len + 1);
	if (lf == NULL)
		goto out;
	for (i = 0; i < len; i++) {
		if (body[i] == '\r') {
			if (i + 1 < len && body[i + 1] == '\n')
				continue;
			lf[n++] = '\n';
		} else {
			lf[n++] = body[i];
		}
	}
	lf[n] = '\0';
	if (n > INT32_MAX) {
		rc = -EINVAL;
		goto out;
	}
	in = BIO_new_mem_buf(lf, (int)n);
	mem = BIO_new(BIO_s_mem());
	if (in == NULL || mem == NULL)
		goto out;
	ERR_clear_error();
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;
		unsigned long e;

		if (PEM_read_bio(in, &name, &header, &der, &dlen) == 1) {
			int ok = strcmp(name, PEM_STRING_X509) == 0 &&
			    count < (int)(sizeof(certs) / sizeof(certs[0])) &&
			    dlen > 0 &&
			    x509der_parse(der, (size_t)dlen, &certs[count].x) ==
			        0;
			OPENSSL_free(name);
			OPENSSL_free(header);
			if (!ok) {
				OPENSSL_free(der);
				log_err("sectigo: certificate block does not "
				        "parse");
				rc = -EINVAL;
				goto out;
			}
			certs[count].der = der;
			certs[count].len = dlen;
			count++;
			continue;
		}
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
			/* the normal end: no further block */
			ERR_clear_error();
			break;
		}
		log_crypto_err("sectigo: certificate block does not parse");
		rc = -EINVAL;
		goto out;
	}
	if (count == 0) {
		rc = -EINVAL;
		goto out;
	}
	/* x509R ends with the root; ACME clients want leaf + intermediates
	 * (RFC 8555 §7.4.2: the chain a TLS server would send). A root is
	 * recognised as self-issued (issuer and subject the same bytes);
	 * its signature is not checked, since nothing here trusts it */
	if (count > 1) {
		const struct x509der *r = &certs[count - 1].x;
		if (r->issuer_len == r->subject_len &&
		    memcmp(r->issuer, r->subject, r->issuer_len) == 0)
			count--;
	}
	for (int k = 0; k < count; k++) {
		if (PEM_write_bio(mem, PEM_STRING_X509, "", certs[k].der,
		        certs[k].len) <= 0) {
			log_crypto_err("sectigo: PEM_write_bio");
			goto out;
		}
	}
	BIO_get_mem_ptr(mem, &bm);
	res = malloc(bm->length + 1);
	if (res == NULL)
		goto out;
	memcpy(res, bm->data, bm->length);
	res[bm->length] = '\0';
	*out = res;
	rc = 0;
out:
	for (size_t k = 0; k < sizeof(certs) / sizeof(certs[0]); k++)
		OPENSSL_free(certs[k].der);
	BIO_free(in);
	BIO_free(mem);
	free(lf);
	return rc;
}

int
sectigo_comment_has_tag(const char *comments, const char *tag)
{
	size_t plen = strlen(SECTIGO_TAG_PREFIX), tlen;
	const char *p;

	if (comments == NULL || tag == NULL || *tag == '\0')
		return 0;
	tlen = strlen(tag);
	for (p = strstr(comments, SECTIGO_TAG_PREFIX); p != NULL;
	     p = strstr(p + 1, SECTIGO_TAG_PREFIX)) {
		const char *t = p + plen;
		unsigned char next;

		if (strncmp(t, tag, tlen) != 0)
			continue;
		/* "tag=ab" must not match a comment carrying "tag=abc" */
		next = (unsigned char)t[tlen];
		if (next == '\0' || isspace(next) || next == ',' || next == ';')
			return 1;
	}
	return 0;
}

int
sectigo_revoke_reason(int r)
{
	/* SCM accepts only 0, 1, 3, 4 and 5 ("Allowed ranges 0,1 and 3-5",
	 * reference §5.11). RFC 5280 also has 2 cACompromise, 6
	 * certificateHold, 8 removeFromCRL, 9 privilegeWithdrawn and 10
	 * aACompromise: none of them is a subscriber's reason to give through
	 * ACME, and SCM would refuse the whole revocation, so they go out as
	 * 0 unspecified; the text reason still carries the original code. */
	switch (r) {
	case 0:
	case 1:
	case 3:
	case 4:
	case 5:
		return r;
	default:
		return 0;
	}
}

int
sectigo_collect_pending(
    long status, const struct sectigo_err *e, const char *body, size_t body_len)
{
	if (status >= 200 && status < 300) {
		/* an empty 200 means "not ready" (reference §5.5, SGI/KF) */
		for (size_t i = 0; i < body_len; i++)
			if (!isspace((unsigned char)body[i]))
				return 0;
		return 1;
	}
	if (status < 400 || !e->has_code)
		return 0;
	/* observed: 400 {"code":0,"description":"Being processed by
	 * Sectigo"}. Documented: -1400, -183 and -109; the HTTP status that
	 * comes with them is unknown (reference §11.3), so they count as
	 * pending with any error status. */
	switch (e->code) {
	case 0:
		return status == 400;
	case -1400:
	case -183:
	case -109:
		return 1;
	default:
		return 0;
	}
}

char *
sectigo_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(n * 3 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		/* RFC 3986 unreserved, spelled out: isalnum() follows the
		 * locale */
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

int
sectigo_serial_norm(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	int lead = 1;

	if (outsz == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (in == NULL || *in == '\0')
		return 0;
	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == ':' || c == ' ' || c == '-')
			continue;
		if (!isxdigit(c)) {
			out[0] = '\0';
			return -EINVAL;
		}
		if (lead && c == '0')
			continue;
		lead = 0;
		if (n + 1 >= outsz) {
			out[0] = '\0';
			return -ENOSPC;
		}
		out[n++] = (char)tolower(c);
	}
	if (n == 0 && lead) {
		/* only zeros (and separators) */
		if (outsz < 2)
			return -ENOSPC;
		out[n++] = '0';
	}
	out[n] = '\0';
	return 0;
}

/* Read min..max decimal digits at *p into *v. @return 0 or -1. */
static int
digits(const char **p, int min, int max, int *v)
{
	int n = 0, x = 0;

	while (n < max && **p >= '0' && **p <= '9') {
		x = x * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n < min)
		return -1;
	*v = x;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

long long
sectigo_parse_date(const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	struct tm tm;
	const char *p = s, *start;

	if (p == NULL)
		return 0;
	while (*p == ' ')
		p++;
	start = p;
	if (digits(&p, 1, 4, &y) < 0)
		return 0;
	if (*p == '/') {
		/* MM/dd/yyyy: what was read is the month */
		mo = y;
		p++;
		if (digits(&p, 1, 2, &d) < 0 || *p++ != '/' ||
		    digits(&p, 4, 4, &y) < 0)
			return 0;
	} else if (*p == '-' && p - start == 4) {
		p++;
		if (digits(&p, 1, 2, &mo) < 0 || *p++ != '-' ||
		    digits(&p, 1, 2, &d) < 0)
			return 0;
	} else {
		return 0;
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo))
		return 0;
	if ((*p == 'T' || *p == 't' || *p == ' ') && p[1] >= '0' &&
	    p[1] <= '9') {
		p++;
		if (digits(&p, 2, 2, &h) < 0 || *p++ != ':' ||
		    digits(&p, 2, 2, &mi) < 0)
			return 0;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, 2, &sec) < 0)
				return 0;
			if (*p == '.' || *p == ',') {
				p++;
				if (*p < '0' || *p > '9')
					return 0;
				while (*p >= '0' && *p <= '9')
					p++;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return 0;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, 2, &oh) < 0)
				return 0;
			if (*p == ':')
				p++;
			if (*p >= '0' && *p <= '9' && digits(&p, 2, 2, &om) < 0)
				return 0;
			if (oh > 23 || om > 59)
				return 0;
		}
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* local time = UTC + offset, so UTC = local - offset */
	return (long long)timegm(&tm) - (long long)sign * (oh * 3600 + om * 60);
}

/* A growable string for the joined names. */
struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Add one name (trimmed; empty ones skipped) to the ", " list. */
static void
sb_name(struct sbuf *b, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return;
	if (b->len > 0)
		sb_add(b, ", ", 2);
	sb_add(b, s, n);
}

/* The report's subjAltNames are "; "-separated; accept ',' as well. */
static void
sb_split(struct sbuf *b, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, ";,");

		sb_name(b, s, n);
		s += n;
		if (*s != '\0')
			s++;
	}
}

static char *
names_of(json_t *o)
{
	struct sbuf b = {0};
	json_t *v = json_object_get(o, "subjectAlternativeNames"), *it;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, it) {
			if (json_is_string(it))
				sb_name(&b, json_string_value(it),
				    json_string_length(it));
		}
	} else if (json_is_string(v)) {
		sb_split(&b, json_string_value(v));
	}
	v = json_object_get(o, "subjAltNames");
	if (b.len == 0 && json_is_string(v))
		sb_split(&b, json_string_value(v));
	v = json_object_get(o, "commonName");
	if (b.len == 0 && json_is_string(v))
		sb_name(&b, json_string_value(v), json_string_length(v));
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s != NULL ? b.s : strdup("");
}

/*
 * The report's certificateStatus codes (reference §5.16), for a row that
 * carries a number where the details carry a word. [INF] The deprecated
 * codes map to their successors: 7 Awaiting Approval is Requested now, 10
 * Downloaded is Issued; 5 "Enrolled - Pending Download" is with the CA
 * (Applied); 6 "Not Enrolled" and anything else stay unknown ("").
 */
static const char *
status_word(json_t *v)
{
	static const char *const words[] = {"", "Requested", "Issued",
	    "Revoked", "Expired", "Applied", "", "Requested", "Approved",
	    "Applied", "Issued"};
	json_int_t c;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_integer(v))
		return "";
	c = json_integer_value(v);
	if (c < 0 || c >= (json_int_t)(sizeof(words) / sizeof(words[0])))
		return "";
	return words[c];
}

/* SCM's reasonCode (a number, or a numeric string per the OAS) as the
 * RFC 5280 word; NULL when absent or unknown. */
static const char *
revoke_word(json_t *v)
{
	static const char *const words[] = {"unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise"};
	long c;

	if (json_is_integer(v))
		c = (long)json_integer_value(v);
	else if (json_is_string(v) && json_string_value(v)[0] >= '0' &&
	    json_string_value(v)[0] <= '9')
		c = strtol(json_string_value(v), NULL, 10);
	else
		return NULL;
	if (c < 0 || c >= (long)(sizeof(words) / sizeof(words[0])))
		return NULL;
	return words[c];
}

/* comments without our "acmebridge tag=..." word: what people wrote. */
static char *
comments_text(const char *c)
{
	struct sbuf b = {0};
	size_t plen = strlen(SECTIGO_TAG_PREFIX);

	while (c != NULL && *c != '\0') {
		const char *t = strstr(c, SECTIGO_TAG_PREFIX);
		size_t n = t != NULL ? (size_t)(t - c) : strlen(c);

		sb_name(&b, c, n);
		if (t == NULL)
			break;
		c = t + plen;
		c += strcspn(c, " \t\r\n,;");
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s != NULL ? b.s : strdup("");
}

static int
is_status(const char *s, const char *w)
{
	return s != NULL && strcasecmp(s, w) == 0;
}

/*
 * The CA's words for why an enrollment ended. Revoked: the reasonCode as
 * its RFC 5280 word, with SCM's "reason" text when there is one.
 * Declined, Rejected, Invalid: [UNK] the details document no field for the
 * administrator's decline message; [INF] take "declineMessage" (what the
 * simulator shows), "reason" or "message" when present, else the comments
 * (SCM's UI keeps free text there) without our tag. Other statuses: "".
 */
static char *
reason_of(json_t *o, const char *status)
{
	const char *text = json_string_value(json_object_get(o, "reason"));
	char *s = NULL;

	if (is_status(status, "Revoked")) {
		const char *w = revoke_word(json_object_get(o, "reasonCode"));

		if (w != NULL && text != NULL && *text != '\0') {
			if (asprintf(&s, "%s: %s", w, text) < 0)
				s = NULL;
			return s;
		}
		return strdup(w != NULL ? w : text != NULL ? text : "");
	}
	if (!is_status(status, "Declined") && !is_status(status, "Rejected") &&
	    !is_status(status, "Invalid"))
		return strdup("");
	if (text == NULL || *text == '\0')
		text = json_string_value(json_object_get(o, "message"));
	if (json_is_string(json_object_get(o, "declineMessage")) &&
	    json_string_length(json_object_get(o, "declineMessage")) > 0)
		text = json_string_value(json_object_get(o, "declineMessage"));
	if (text != NULL && *text != '\0')
		return strdup(text);
	return comments_text(json_string_value(json_object_get(o, "comments")));
}

static long long
date_of(json_t *o, const char *key)
{
	return sectigo_parse_date(json_string_value(json_object_get(o, key)));
}

void
sectigo_cert_clear(struct acme_ca_cert *c)
{
	if (c == NULL)
		return;
	free((char *)c->ca_ref);
	free((char *)c->status);
	free((char *)c->serial);
	free((char *)c->names);
	free((char *)c->reason);
	memset(c, 0, sizeof(*c));
}

int
sectigo_cert_parse(json_t *o, struct acme_ca_cert *out)
{
	char ref[24], serial[130];
	const char *st;
	json_t *v;
	long long id = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o))
		return -EINVAL;
	v = json_object_get(o, "id");
	if (v == NULL)
		v = json_object_get(o, "sslId");
	if (json_is_integer(v))
		id = (long long)json_integer_value(v);
	else if (json_is_string(v))
		id = strtoll(json_string_value(v), NULL, 10);
	if (id <= 0 || id > INT32_MAX)
		return -EINVAL;
	snprintf(ref, sizeof(ref), "%lld", id);
	/* a serial that is not hex (or absurdly long) reads as "not
	 * issued": "" rather than a value nobody can match */
	if (sectigo_serial_norm(
	        json_string_value(json_object_get(o, "serialNumber")), serial,
	        sizeof(serial)) < 0)
		serial[0] = '\0';
	st = status_word(json_object_get(o, "status"));
	out->ca_ref = strdup(ref);
	out->status = strdup(st);
	out->serial = strdup(serial);
	out->names = names_of(o);
	out->reason = reason_of(o, st);
	if (out->ca_ref == NULL || out->status == NULL || out->serial == NULL ||
	    out->names == NULL || out->reason == NULL) {
		sectigo_cert_clear(out);
		return -ENOMEM;
	}
	out->requested = date_of(o, "requested");
	out->approved = date_of(o, "approved");
	out->issued = date_of(o, "issued");
	out->expires = date_of(o, "expires");
	out->revoked = date_of(o, "revoked");
	out->replaced = date_of(o, "replaced");
	out->declined = date_of(o, "declined");
	return 0;
}
