/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the flattened JWS parser, the JWK import of its key
 * and signature verification (against its own jwk and a fixed key). */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "acme/jws.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *fixed;
	struct acme_jws jws = {0};
	struct acme_problem p = {0};

	if (fixed == NULL)
		fixed = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (acme_jws_parse((const char *)data, size, &jws, &p) == 0) {
		if (jws.jwk != NULL) {
			EVP_PKEY *k = acme_jwk_to_pkey(jws.jwk, &p);
			char thumb[44];

			acme_problem_clear(&p);
			if (k != NULL) {
				(void)acme_jws_verify(&jws, k, &p);
				acme_problem_clear(&p);
				EVP_PKEY_free(k);
			}
			(void)acme_jwk_thumbprint(jws.jwk, thumb);
			free(acme_jwk_canonical(jws.jwk));
		}
		(void)acme_jws_verify(&jws, fixed, &p);
	}
	acme_problem_clear(&p);
	acme_jws_free(&jws);
	return 0;
}
