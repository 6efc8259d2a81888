/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal DER walker over an X.509 certificate: finds the fields the
 * bridge stores (serial, names, validity, key, authority key id) without
 * OpenSSL's full decode, which in OpenSSL 3 costs millions of
 * instructions per certificate because it imports the public key.
 */
#pragma once
#include <stddef.h>

/** Fields of one certificate; pointers borrow from the DER buffer. */
struct x509der {
	const unsigned char *serial; /* INTEGER contents (may start 0x00) */
	size_t serial_len;
	const unsigned char *issuer; /* issuer Name, whole TLV */
	size_t issuer_len;
	const unsigned char *subject; /* subject Name, whole TLV */
	size_t subject_len;
	const unsigned char *spki; /* SubjectPublicKeyInfo, whole TLV */
	size_t spki_len;
	const unsigned char *aki; /* AuthorityKeyIdentifier keyIdentifier
					 bytes, NULL when absent */
	size_t aki_len;
	const unsigned char *san; /* subjectAltName extnValue contents (a
				     GeneralNames SEQUENCE), NULL if absent */
	size_t san_len;
	long long not_before; /* unix time */
	long long not_after;
};

/**
 * Walk a DER certificate (exactly len bytes, nothing after it).
 * @return 0, or -1 when the structure is not a well-formed certificate.
 */
int x509der_parse(const unsigned char *der, size_t len, struct x509der *out);

/**
 * Walk a DER PKCS#10 request (exactly len bytes): its subject Name and
 * SubjectPublicKeyInfo, whole TLVs borrowed from der. No signature check.
 * @return 0 or -1.
 */
int x509der_csr(const unsigned char *der, size_t len,
    const unsigned char **subject, size_t *subject_len,
    const unsigned char **spki, size_t *spki_len);
