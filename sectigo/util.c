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
#include <stdlib.h>
#include <string.h>

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
