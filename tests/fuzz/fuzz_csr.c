/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the CSR parser and key policy (input = CSR DER; the
 * target base64url-encodes it as finalize receives it) and the match of
 * its names against a fixed identifier set. */
#include <string.h>

#include "acme/csr.h"
#include "acme/ident.h"
#include "contrib/b64url.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acme_csr csr = {0};
	struct acme_problem p = {0};
	struct acme_ident ids[2] = {
	    {"dns", "a.example.test", 0}, {"ip", "192.0.2.1", 0}};
	char *b64;

	if (size > 70000)
		return 0;
	b64 = malloc(b64url_enc_len(size) + 1);
	if (b64 == NULL)
		return 0;
	b64[b64url_encode(data, size, b64)] = '\0';
	if (acme_csr_parse(b64, &csr, &p) == 0) {
		(void)acme_csr_match(&csr, ids, 2, &p);
		acme_problem_clear(&p);
		acme_csr_free(&csr);
	}
	acme_problem_clear(&p);
	free(b64);
	return 0;
}
