/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the certificate DER parsers that read client input
 * (revokeCert): the DER walker, the certificate facts built on it and the
 * DER-only key check. */
#include <openssl/evp.h>

#include "acme/csr.h"
#include "contrib/x509der.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	struct x509der x;
	struct acme_cert_info info;
	struct acme_problem p = {0};

	if (key == NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	(void)x509der_parse(data, size, &x);
	(void)acme_cert_info_der(data, size, &info, &p);
	acme_problem_clear(&p);
	(void)acme_cert_key_matches(data, size, key);
	return 0;
}
